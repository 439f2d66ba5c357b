#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/packages.txt that are missing.
# Does nothing when everything is present; explains itself when it cannot install.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
list="${1:-$here/packages.txt}"

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done < "$list"

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ ! -f /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
  echo "error: missing packages: ${missing[*]}" >&2
  echo "This script installs them with apt-get on Debian 12; install them by hand elsewhere." >&2
  exit 1
fi
if [[ "$(id -u)" -ne 0 ]]; then
  echo "error: missing packages: ${missing[*]}" >&2
  echo "Run as root (or: sudo apt-get install ${missing[*]})." >&2
  exit 1
fi

echo "Installing missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# --no-install-recommends keeps the prometheus package to promtool and the server binary
# without pulling exporters; services it ships are not started by this project.
apt-get install -y -q --no-install-recommends "${missing[@]}"
