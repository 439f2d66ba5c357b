# Sourced by the bench scripts: builds the server, starts it on a free loopback port with a
# temporary database, and sets $work, $pid and $base. The server is stopped on exit.
# create_conversations N prints the ids of N new English conversations, one per line.
make build >/dev/null
work="$(mktemp -d)"
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
build/handover-server --config config/server.yaml --listen 127.0.0.1:0 --db "$work/h.db" \
  --port-file "$work/port" --log-level warn &
pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")"

create_conversations() {
  local _
  for _ in $(seq "$1"); do
    curl -s -X POST "$base/v1/conversations" -H 'Authorization: Bearer dev-bot-key-change-me' \
      -H 'Content-Type: application/json' -d '{"language":"en"}' \
      | grep -o '"id":"c_[^"]*"' | cut -d'"' -f4
  done
}
