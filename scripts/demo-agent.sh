#!/usr/bin/env bash
# Creates a demo agent on a running development server (make run) with the development admin
# key and prints the agent console link that signs it in. Usage:
#   scripts/demo-agent.sh [NAME] [SERVER]      e.g. scripts/demo-agent.sh Anna http://127.0.0.1:8080
# The admin key can be changed with HANDOVER_ADMIN_KEY; it must have the admin scope.
set -euo pipefail

name="${1:-Demo agent}"
server="${2:-http://127.0.0.1:8080}"
key="${HANDOVER_ADMIN_KEY:-dev-admin-key-change-me}"
command -v curl >/dev/null || { echo "error: curl is needed (apt-get install curl)" >&2; exit 1; }

body=$(printf '{"name":"%s","display_name":"%s","skills":["deescalation","orders","retention","sales"],"languages":["de","en"],"capacity":3}' \
  "$(printf %s "$name" | tr -cd 'A-Za-z0-9 ._-')" "$(printf %s "$name" | tr -cd 'A-Za-z0-9 ._-')")
answer=$(curl -sS -w '\n%{http_code}' -X POST "$server/v1/admin/agents" \
  -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$body") || {
  echo "error: no answer from $server; is the server running (make run)?" >&2; exit 1; }
status="${answer##*$'\n'}"
json="${answer%$'\n'*}"
if [[ "$status" != "201" ]]; then
  echo "error: creating the agent failed with HTTP $status: $json" >&2
  exit 1
fi
token=$(printf %s "$json" | sed -n 's/.*"token":"\(hat_[^"]*\)".*/\1/p')
[[ -n "$token" ]] || { echo "error: no token in the answer: $json" >&2; exit 1; }

echo "Agent '$name' created. Its token (shown once): $token"
echo "Open the agent console, signed in:"
echo "  $server/console/#token=$token"
echo "and the demo chat widget as a customer:"
echo "  $server/widget/"
