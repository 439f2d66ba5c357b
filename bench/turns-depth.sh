#!/usr/bin/env bash
# Durable POST /turns as the database grows. Starts a Release server on a temporary database,
# creates 1,000 conversations, then runs wrk (50 keep-alive connections, 10 s) several times
# in a row against the same server, so each run meets a deeper database. For each run it
# prints the requests per second, the server's CPU per turn (all its threads, from
# /proc/<pid>/stat), the bytes it wrote per turn (/proc/<pid>/io: WAL, checkpoints, the
# answers), the CPU per turn of the network thread, the store's writer and its checkpoint
# thread, and the checkpoints run during the run (from /metrics).
# Usage: bench/turns-depth.sh [runs] [texts file, one per line]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
texts="${2:-bench/texts/sample_turns.txt}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[[ -s "$texts" ]] || { echo "no texts in $texts" >&2; exit 1; }
texts="$(realpath "$texts")"
source bench/start-server.sh

create_conversations 1000 > "$work/ids"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# CPU ticks of the thread named $1 (the network thread carries the process's name).
thread_ticks() {
  local task
  for task in /proc/"$pid"/task/*; do
    [[ "$(cat "$task/comm")" == "$1" ]] && awk '{print $14 + $15}' "$task/stat" && return
  done
  echo 0
}
main_name="$(cat "/proc/$pid/comm")"
written() { awk '$1 == "wchar:" {print $2}' "/proc/$pid/io"; }
metric() { curl -s "$base/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
ticks_per_second="$(getconf CLK_TCK)"
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a - b }'; }

per_turn() { echo $(( ($2 - $1) * 1000000 / ticks_per_second / requests )); }
printf '%-4s %10s %12s %15s %8s %8s %8s %12s %19s\n' run 'req/s' 'µs CPU/turn' 'bytes out/turn' \
  network writer ckpt checkpoints 'writer checkpoints'
for run in $(seq "$runs"); do
  cpu_before="$(cpu_ticks)" out_before="$(written)"
  net_before="$(thread_ticks "$main_name")" writer_before="$(thread_ticks store-writer)"
  ckpt_cpu_before="$(thread_ticks store-ckpt)"
  ckpt_before="$(metric handover_store_checkpoints_total)"
  wckpt_before="$(metric handover_store_writer_checkpoints_total)"
  summary="$(IDS_FILE="$work/ids" TEXTS_FILE="$texts" \
    wrk -t2 -c50 -d10s -s bench/wrk/post_turns.lua "$base" | grep '^{')"
  cpu_after="$(cpu_ticks)" out_after="$(written)"
  net_after="$(thread_ticks "$main_name")" writer_after="$(thread_ticks store-writer)"
  ckpt_cpu_after="$(thread_ticks store-ckpt)"
  ckpt_after="$(metric handover_store_checkpoints_total)"
  wckpt_after="$(metric handover_store_writer_checkpoints_total)"
  requests="$(grep -o '"requests":[0-9]*' <<< "$summary" | cut -d: -f2)"
  rps="$(grep -o '"rps":[0-9.]*' <<< "$summary" | cut -d: -f2)"
  (( requests > 0 )) || { echo "run $run: no requests answered" >&2; exit 1; }
  printf '%-4s %10s %12d %15d %8d %8d %8d %12s %19s\n' "$run" "$rps" \
    "$(per_turn "$cpu_before" "$cpu_after")" $(( (out_after - out_before) / requests )) \
    "$(per_turn "$net_before" "$net_after")" "$(per_turn "$writer_before" "$writer_after")" \
    "$(per_turn "$ckpt_cpu_before" "$ckpt_cpu_after")" \
    "$(minus "$ckpt_after" "$ckpt_before")" "$(minus "$wckpt_after" "$wckpt_before")"
done
