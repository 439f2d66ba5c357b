#!/usr/bin/env bash
# Escalation-to-offer latency with many agents connected: starts a Release server on a
# temporary database, connects the agents over WebSocket and measures from the POST of an
# escalating turn to the offer's arrival. Usage: bench/escalation-latency.sh [agents] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
agents="${1:-100}"
rounds="${2:-300}"
command -v node >/dev/null || { echo "node is missing: apt-get install nodejs npm" >&2; exit 1; }
(cd bench/escalation && npm ci --no-audit --no-fund --silent)
source bench/start-server.sh
node bench/escalation/latency.mjs "$base" \
  dev-admin-key-change-me dev-bot-key-change-me "$agents" "$rounds"
