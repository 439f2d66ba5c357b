#!/usr/bin/env bash
# Quick measurement of durable POST /turns with wrk on loopback: starts a Release server on
# a temporary database, creates 1,000 conversations, then runs wrk with 50 keep-alive
# connections. Usage: bench/turns-quick.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
conns="${2:-50}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
source bench/start-server.sh

create_conversations 1000 > "$work/ids"
cp bench/texts/sample_turns.txt "$work/texts"

IDS_FILE="$work/ids" TEXTS_FILE="$work/texts" \
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/wrk/post_turns.lua "$base"
