#!/usr/bin/env bash
# Escalation-to-offer latency with many agents connected: starts a Release server on a
# temporary database, connects the agents over WebSocket and measures from the POST of an
# escalating turn to the offer's arrival. Usage: bench/escalation-latency.sh [agents] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
agents="${1:-100}"
rounds="${2:-300}"
command -v node >/dev/null || { echo "node is missing: apt-get install nodejs npm" >&2; exit 1; }
make build >/dev/null
(cd bench/escalation && npm ci --no-audit --no-fund --silent)

work="$(mktemp -d)"
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
build/handover-server --config config/server.yaml --listen 127.0.0.1:0 --db "$work/h.db" \
  --port-file "$work/port" --log-level warn &
pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
node bench/escalation/latency.mjs "http://127.0.0.1:$(cat "$work/port")" \
  dev-admin-key-change-me dev-bot-key-change-me "$agents" "$rounds"
