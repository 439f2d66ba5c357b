#!/usr/bin/env bash
# Quick measurement of durable POST /turns with wrk on loopback: starts a Release server on
# a temporary database, creates 1,000 conversations, then runs wrk with 50 keep-alive
# connections. Usage: bench/turns-quick.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
conns="${2:-50}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
make build >/dev/null

work="$(mktemp -d)"
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
build/handover-server --config config/server.yaml --listen 127.0.0.1:0 --db "$work/h.db" \
  --port-file "$work/port" --log-level warn &
pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port="$(cat "$work/port")"
base="http://127.0.0.1:$port"

for _ in $(seq 1000); do
  curl -s -X POST "$base/v1/conversations" -H 'Authorization: Bearer dev-bot-key-change-me' \
    -H 'Content-Type: application/json' -d '{"language":"en"}' \
    | grep -o '"id":"c_[^"]*"' | cut -d'"' -f4
done > "$work/ids"
cp bench/texts/sample_turns.txt "$work/texts"

IDS_FILE="$work/ids" TEXTS_FILE="$work/texts" \
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/wrk/post_turns.lua "$base"
