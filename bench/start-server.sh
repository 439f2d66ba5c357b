# Sourced by the bench scripts: builds the server, starts it on a free loopback port with a
# temporary database, and sets $work, $pid and $base. The server is stopped on exit.
make build >/dev/null
work="$(mktemp -d)"
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
build/handover-server --config config/server.yaml --listen 127.0.0.1:0 --db "$work/h.db" \
  --port-file "$work/port" --log-level warn &
pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")"
