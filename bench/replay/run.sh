#!/bin/sh
# Offline replay speed: handover-replay over the SGD dialogues, repeated to about 190,000
# turns, pinned to one core when taskset exists. Prints the tool's own turns/s figure (turns
# evaluated per second of CPU time, JSON parsing included) for three runs.
#   bench/replay/run.sh [build dir] [data dir]
set -eu
BUILD=${1:-build}
DATA=${2:-../shared/data}
SGD="$DATA/sgd-dialogues/sgd_dev.jsonl"
[ -x "$BUILD/handover-replay" ] || { echo "build first: cmake --build $BUILD --target handover-replay"; exit 1; }
[ -f "$SGD" ] || { echo "no $SGD (see docs/replay.md, 'Real input')"; exit 1; }
PIN=""
command -v taskset >/dev/null 2>&1 && PIN="taskset -c 0"
CORPUS=$(mktemp /tmp/replay-bench-XXXXXX.jsonl)
trap 'rm -f "$CORPUS"' EXIT
for _ in 1 2 3 4 5; do cat "$SGD"; done > "$CORPUS"
for run in 1 2 3; do
  $PIN "$BUILD/handover-replay" "$CORPUS" --language en --label-act NOTIFY_FAILURE --list 0 \
    --no-progress | sed -n 1,2p | tr '\n' ' '
  echo
done
