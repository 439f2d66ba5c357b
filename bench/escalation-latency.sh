#!/usr/bin/env bash
# Escalation-to-offer latency with many agents connected: starts a Release server on a
# temporary database, connects the agents over WebSocket and measures from the POST of an
# escalating turn to the offer's arrival. Usage: bench/escalation-latency.sh [agents] [rounds]
# (`make bench` measures the same under turn load; see bench/README.md.)
set -euo pipefail
cd "$(dirname "$0")/.."
agents="${1:-100}"
rounds="${2:-300}"
command -v node >/dev/null || { echo "node is missing: apt-get install nodejs npm" >&2; exit 1; }
node_dir="build/bench-node"
mkdir -p "$node_dir"
cp bench/node/package.json bench/node/package-lock.json bench/node/*.mjs "$node_dir/"
(cd "$node_dir" && npm ci --no-audit --no-fund --silent)
source bench/start-server.sh
node "$node_dir/latency.mjs" "$base" \
  dev-admin-key-change-me dev-bot-key-change-me "$agents" "$rounds"
