#!/usr/bin/env bash
# The benchmark suite behind `make bench` (bench/README.md says what each part measures):
# turn intake against nginx, the store against plain SQLite, the trigger engine against
# vader-sentiment, escalation push and fan-out against Node ws, and memory. Prints one table of
# goals and writes bench/results/latest.json.
#
# Usage: bench/run.sh [--smoke] [--out FILE] [--no-install] [--no-build]
#   --smoke       a few seconds of each part, to check the harness (asserts no speed)
#   --out FILE    where the results go (default bench/results/latest.json)
#   --no-install  do not install missing Debian or npm packages
#   --no-build    use the programs already in $BUILD_DIR
#   --only LIST   run only these parts, comma-separated: intake,store,triggers,escalation,memory
# Environment: BUILD_DIR (default build-bench), BENCH_DATA (default ../shared/data).
#
# Everything runs on 127.0.0.1 against servers this script starts on temporary files, and
# every load is bounded in time and count. A part whose tools are missing is recorded as
# skipped, with the reason, instead of failing the run.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

mode=full
out="bench/results/latest.json"
install=1
build=1
only="intake,store,triggers,escalation,memory"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) mode=smoke ;;
    --out) out="$2"; shift ;;
    --no-install) install=0 ;;
    --no-build) build=0 ;;
    --only) only="$2"; shift ;;
    *) echo "usage: bench/run.sh [--smoke] [--out FILE] [--no-install] [--no-build] [--only LIST]" >&2
       exit 2 ;;
  esac
  shift
done
build_dir="${BUILD_DIR:-build-bench}"
data="${BENCH_DATA:-../shared/data}"
[[ "$build_dir" = /* ]] || build_dir="$root/$build_dir"
[[ "$out" = /* ]] || out="$root/$out"

if [[ "$mode" == full ]]; then
  runs=3 secs=10 conversations=1000 paced_rate=1000 store_turns=200000 engine_secs=3
  escalations=300 escalation_load_rate=500 fanout_rounds=10 fanout_events=500
  memory_conversations=100000 memory_agents=10000
else
  runs=1 secs=1 conversations=50 paced_rate=200 store_turns=2000 engine_secs=0.3
  escalations=5 escalation_load_rate=50 fanout_rounds=1 fanout_events=20
  memory_conversations=300 memory_agents=20
fi
readonly admin_key=dev-admin-key-change-me bot_key=dev-bot-key-change-me
tools="$build_dir/bench/tools"

work="$(mktemp -d)"
raw="$work/raw"
mkdir -p "$raw"
started_pids=()
cleanup() {
  kill_started
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---- Packages and build ------------------------------------------------------------------

install_packages() {
  scripts/install-deps.sh
  # nodejs from another source may bring its own npm; then Debian's npm is not wanted.
  local list="$work/packages.txt"
  grep -v '^#' bench/packages.txt | while read -r pkg; do
    [[ -z "$pkg" ]] && continue
    [[ "$pkg" == npm ]] && have npm && continue
    echo "$pkg"
  done > "$list"
  scripts/install-deps.sh "$list"
}

build_programs() {
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHANDOVER_BUILD_TESTS=OFF \
    >/dev/null
  cmake --build "$build_dir" -j "${JOBS:-2}" --target handover-server http_load engine_rate \
    ws_fanout_server store_rate plain_sqlite bench_report bench_texts sync_latency
}

# npm packages go into the build directory, pinned by the committed package-lock.json.
node_dir="$build_dir/bench-node"
prepare_node() {
  have node && have npm || return 1
  mkdir -p "$node_dir"
  cp bench/node/package.json bench/node/package-lock.json bench/node/*.mjs "$node_dir/"
  if [[ ! -d "$node_dir/node_modules/ws" || ! -d "$node_dir/node_modules/vader-sentiment" ]]; then
    [[ $install -eq 1 ]] || return 1
    (cd "$node_dir" && npm ci --no-audit --no-fund --silent) || return 1
  fi
}

# ---- Processes ---------------------------------------------------------------------------

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU time the host gave to others while this machine's virtual CPUs wanted it, all CPUs.
steal_ticks() { awk '$1 == "cpu" {print $9 + 0}' /proc/stat; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

wait_for_file() {
  for _ in $(seq 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2
  return 1
}

# Starts handover-server on a free loopback port and a fresh database; sets srv_pid and
# srv_base. Extra arguments are environment assignments (e.g. HANDOVER_HTTP_MAX_CONNECTIONS=).
start_server() {
  local dir="$work/server-$RANDOM"
  mkdir -p "$dir"
  env HANDOVER_LOG_ACCESS_LOG=false "$@" "$build_dir/handover-server" \
    --config config/server.yaml --listen 127.0.0.1:0 --db "$dir/h.db" \
    --port-file "$dir/port" --log-level warn 2>>"$work/server.log" &
  srv_pid=$!
  started_pids+=("$srv_pid")
  wait_for_file "$dir/port"
  srv_base="http://127.0.0.1:$(cat "$dir/port")"
}

stop_process() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# nginx with one worker and no access log, answering every request with a fixed 201 and a
# body of about 300 bytes, shaped like a turn's answer without its trigger evaluation (the
# server's answers, with it, are 1.2 to 2 KB). Sets ngx_pid, ngx_worker and ngx_base.
start_nginx() {
  local dir="$work/nginx" port body
  mkdir -p "$dir/logs" "$dir/tmp"
  port="$(free_port)"
  body="{\"turn\":{\"seq\":1,\"role\":\"user\",\"text\":\"$(head -c 180 /dev/zero | tr '\0' x)\"},"
  body+="\"state\":\"bot\",\"evaluation\":{\"decision\":\"none\",\"fired\":[]}}"
  cat > "$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp;
  fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp;
  scgi_temp_path $dir/tmp;
  server {
    listen 127.0.0.1:$port;
    default_type application/json;
    location / { return 201 '$body'; }
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>>"$work/nginx.log" &
  ngx_pid=$!
  started_pids+=("$ngx_pid")
  ngx_base="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    ngx_worker="$(pgrep -P "$ngx_pid" | head -1 || true)"
    [[ -n "$ngx_worker" ]] && curl -s -o /dev/null "$ngx_base/" && return 0
    sleep 0.05
  done
  echo "nginx did not start (see $work/nginx.log)" >&2
  return 1
}

# A port nobody listens on right now, from the kernel's ephemeral range.
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return 0; }
  done
  return 1
}

# ---- 1. Turn intake ----------------------------------------------------------------------

# wrk against BASE with CONNECTIONS, while counting the CPU of PIDS; writes FILE.
wrk_run() {
  local base="$1" connections="$2" file="$3"; shift 3
  local before=0 after=0 p load steal
  steal="$(steal_ticks)"
  for p in "$@"; do before=$((before + $(cpu_ticks "$p"))); done
  load="$(IDS_FILE="$work/ids" TEXTS_FILE="$work/texts" \
    wrk -t2 -c"$connections" -d"${secs}s" --timeout 10s -s bench/wrk/post_turns.lua "$base" |
    grep '^{')"
  for p in "$@"; do after=$((after + $(cpu_ticks "$p"))); done
  printf '{"load":%s,"cpu_ticks":%d,"steal_ticks":%d,"clk_tck":%d}\n' "$load" \
    $((after - before)) $(($(steal_ticks) - steal)) "$(getconf CLK_TCK)" > "$file"
}

paced_run() {
  local base="$1" file="$2"; shift 2
  local before=0 after=0 p load steal
  steal="$(steal_ticks)"
  for p in "$@"; do before=$((before + $(cpu_ticks "$p"))); done
  load="$("$tools/http_load" --url "$base" --mode turns --ids "$work/ids" --texts "$work/texts" \
    --connections 50 --rate "$paced_rate" --duration "$secs" || true)"
  for p in "$@"; do after=$((after + $(cpu_ticks "$p"))); done
  printf '{"load":%s,"cpu_ticks":%d,"steal_ticks":%d,"clk_tck":%d}\n' "$load" \
    $((after - before)) $(($(steal_ticks) - steal)) "$(getconf CLK_TCK)" > "$file"
}

# Runs server and nginx alternately, swapping who goes first every run.
alternate() {
  local name="$1" runner="$2"; shift 2
  local i
  for i in $(seq "$runs"); do alternate_once "$i" "$name" "$runner" "$@"; done
}

# Run `i` of one A/B pair: the server first in odd runs, nginx first in even ones.
alternate_once() {
  local i="$1" name="$2" runner="$3"; shift 3
  if ((i % 2 == 1)); then
    "$runner" "$srv_base" "$@" "$raw/${name}_server_$i.json" "$srv_pid"
    "$runner" "$ngx_base" "$@" "$raw/${name}_nginx_$i.json" "$ngx_pid" "$ngx_worker"
  else
    "$runner" "$ngx_base" "$@" "$raw/${name}_nginx_$i.json" "$ngx_pid" "$ngx_worker"
    "$runner" "$srv_base" "$@" "$raw/${name}_server_$i.json" "$srv_pid"
  fi
}

wrk_50() { wrk_run "$1" 50 "${@:2}"; }
wrk_200() { wrk_run "$1" 200 "${@:2}"; }

# On channel "api", which no built-in bot serves in the shipped config: a bot that posts over
# REST is the product's main use, and each request is then one turn. On "web" the demo FAQ
# bot would answer every turn with a second one.
create_conversations() {
  "$tools/http_load" --url "$srv_base" --mode conversations --channel api --count "$1" \
    --connections 16 --duration 300 --out-ids "$2" > "$work/create.json"
}

section_intake() {
  have wrk || { echo "wrk is not installed"; return 3; }
  have nginx || { echo "nginx is not installed"; return 3; }
  start_server
  start_nginx
  create_conversations "$conversations" "$work/ids"
  printf '{"conversations":%d,"texts":%d,"seconds_per_run":%d,"runs":%d,"paced_rate":%d}\n' \
    "$(wc -l < "$work/ids")" "$(wc -l < "$work/texts")" "$secs" "$runs" "$paced_rate" \
    > "$raw/intake_setup.json"
  log "turn intake: warm-up"
  local saved_secs=$secs
  secs=$(( secs > 2 ? 2 : 1 ))
  wrk_run "$srv_base" 50 "$work/warmup.json" "$srv_pid"
  wrk_run "$ngx_base" 50 "$work/warmup.json" "$ngx_pid"
  secs=$saved_secs
  # The 50- and 200-connection runs take turns, so both meet the database at the same depths:
  # the server's cost per turn grows with its file, and 200-connection runs held back until
  # all 50-connection runs were done would measure that growth, not more connections.
  local i
  for i in $(seq "$runs"); do
    log "turn intake: run $i of $runs at 50 and at 200 connections, ${secs}s each"
    alternate_once "$i" intake_c50 wrk_50
    alternate_once "$i" intake_c200 wrk_200
  done
  # The disk's own sync latency at the paced rate, on the database's file system: no durable
  # answer comes sooner, so the report prints it beside the paced goals.
  log "turn intake: the disk's fdatasync latency at $paced_rate/s"
  "$tools/sync_latency" "$work" "$secs" "$paced_rate" 8192 > "$raw/disk_sync.json" || true
  log "turn intake: paced at $paced_rate/s"
  alternate paced paced_run
  stop_process "$srv_pid"
  stop_process "$ngx_pid"
}

# ---- 2. Store ----------------------------------------------------------------------------

section_store() {
  local i
  for i in $(seq "$runs"); do
    log "store: run $i of $runs ($store_turns turns each)"
    "$tools/store_rate" "$work/store-$i.db" "$work/texts" "$store_turns" 1000 512 \
      > "$raw/store_server_$i.json"
    "$tools/plain_sqlite" "$work/plain-$i.db" "$work/texts" "$store_turns" 1000 512 \
      > "$raw/store_plain_$i.json"
    rm -f "$work/store-$i.db"* "$work/plain-$i.db"*
  done
}

# ---- 3. Trigger engine -------------------------------------------------------------------

section_triggers() {
  [[ $node_ready -eq 1 ]] || { echo "node, npm or the npm packages are missing"; return 3; }
  local pin=() i
  have taskset && pin=(taskset -c 1)
  for i in $(seq "$runs"); do
    log "trigger engine: run $i of $runs"
    "${pin[@]}" "$tools/engine_rate" config/triggers.yaml "$work/texts" "$engine_secs" \
      > "$raw/engine_$i.json"
    "${pin[@]}" node "$node_dir/vader_rate.mjs" "$work/texts" "$engine_secs" > "$raw/vader_$i.json"
  done
}

# ---- 4. Escalation push and fan-out ------------------------------------------------------

section_escalation() {
  [[ $node_ready -eq 1 ]] || { echo "node, npm or the npm packages are missing"; return 3; }
  start_server
  create_conversations "$conversations" "$work/esc-ids"
  "$tools/http_load" --url "$srv_base" --mode turns --ids "$work/esc-ids" --texts "$work/texts" \
    --connections 20 --rate "$escalation_load_rate" --duration 300 \
    > "$raw/escalation_load.json" &
  local load_pid=$!
  started_pids+=("$load_pid")
  # A p99 of one run of 300 is its third-worst offer: the median of several runs is steadier.
  local i
  for i in $(seq "$runs"); do
    log "escalation: run $i of $runs, 100 agents, $escalations escalations," \
      "turn load at $escalation_load_rate/s"
    node "$node_dir/latency.mjs" "$srv_base" "$admin_key" "$bot_key" 100 "$escalations" \
      > "$raw/escalation_$i.json"
  done
  stop_process "$load_pid"
  stop_process "$srv_pid"

  local port_file
  for i in $(seq "$runs"); do
    log "fan-out: run $i of $runs, 100 clients, $fanout_rounds x $fanout_events events of 1 KB"
    port_file="$work/fanout-$i-server.port"
    "$tools/ws_fanout_server" "$port_file" 2>>"$work/server.log" &
    local fan_pid=$!
    started_pids+=("$fan_pid")
    wait_for_file "$port_file"
    node "$node_dir/fanout.mjs" run "ws://127.0.0.1:$(cat "$port_file")/ws" 100 \
      "$fanout_rounds" "$fanout_events" 1024 > "$raw/fanout_server_$i.json"
    stop_process "$fan_pid"

    port_file="$work/fanout-$i-node.port"
    node "$node_dir/fanout.mjs" serve "$port_file" &
    fan_pid=$!
    started_pids+=("$fan_pid")
    wait_for_file "$port_file"
    node "$node_dir/fanout.mjs" run "ws://127.0.0.1:$(cat "$port_file")/ws" 100 \
      "$fanout_rounds" "$fanout_events" 1024 > "$raw/fanout_node_$i.json"
    stop_process "$fan_pid"
  done
}

# ---- 5. Memory ---------------------------------------------------------------------------

section_memory() {
  [[ $node_ready -eq 1 ]] || { echo "node, npm or the npm packages are missing"; return 3; }
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  start_server HANDOVER_HTTP_MAX_CONNECTIONS=$((memory_agents * 2 + 1000))
  # Warm-up, so allocator arenas and SQLite caches are in the baseline.
  create_conversations 1000 "$work/mem-warm"
  "$tools/http_load" --url "$srv_base" --mode turns --ids "$work/mem-warm" --texts "$work/texts" \
    --connections 16 --each-once --duration 300 > /dev/null
  local before after
  before="$(rss_kb "$srv_pid")"
  log "memory: $memory_conversations conversations with a turn each"
  create_conversations "$memory_conversations" "$work/mem-ids"
  "$tools/http_load" --url "$srv_base" --mode turns --ids "$work/mem-ids" --texts "$work/texts" \
    --connections 16 --each-once --duration 300 > "$work/mem-turns.json"
  after="$(rss_kb "$srv_pid")"
  printf '{"count":%d,"rss_before_kb":%d,"rss_after_kb":%d}\n' "$(wc -l < "$work/mem-ids")" \
    "$before" "$after" > "$raw/memory_conversations.json"
  stop_process "$srv_pid"

  log "memory: $memory_agents idle agent connections"
  start_server HANDOVER_HTTP_MAX_CONNECTIONS=$((memory_agents * 2 + 1000))
  node "$node_dir/agents_idle.mjs" "$srv_base" "$admin_key" "$memory_agents" "$srv_pid" \
    > "$raw/memory_agents.json"
  stop_process "$srv_pid"
}

# ---- Driver ------------------------------------------------------------------------------

kill_started() {
  for p in "${started_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${started_pids[@]}"; do wait "$p" 2>/dev/null || true; done
}

# Runs one section in a subshell (so that `set -e` holds inside it and whatever it started is
# stopped when it ends). A failure or a missing tool is recorded as <name>.skipped with the
# reason instead of stopping the other sections.
run_section() {
  local name="$1" rc=0 reason
  (
    started_pids=()
    trap kill_started EXIT
    "section_$name"
  ) > "$work/$name.out" &
  wait $! || rc=$?
  if [[ $rc -ne 0 ]]; then
    reason="$(head -c 300 "$work/$name.out" | tr '\n' ' ')"
    [[ $rc -eq 3 && -n "$reason" ]] || reason="failed with exit code $rc (messages above) $reason"
    echo "$reason" > "$raw/$name.skipped"
    log "$name: skipped: $reason"
  fi
}

[[ $install -eq 1 ]] && install_packages
[[ $build -eq 1 ]] && build_programs
node_ready=0
prepare_node && node_ready=1

if ! "$tools/bench_texts" "$data" "$work/texts" 1500 500 > "$work/texts.json" 2>/dev/null; then
  log "no data in $data (set BENCH_DATA); using bench/texts/sample_turns.txt"
  cp bench/texts/sample_turns.txt "$work/texts"
fi
printf '{"cores":%d,"load_average":"%s","kernel":"%s","mode":"%s","texts":%d}\n' "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(uname -r)" "$mode" "$(wc -l < "$work/texts")" \
  > "$raw/machine.json"

log "bench mode=$mode build=$build_dir"
for section in intake store triggers escalation memory; do
  if [[ ",$only," == *",$section,"* ]]; then
    run_section "$section"
  else
    echo "not run (--only $only)" > "$raw/$section.skipped"
  fi
done

mkdir -p "$(dirname "$out")"
"$tools/bench_report" "$raw" "$out" "$mode"
echo "results: ${out#"$root/"}"
