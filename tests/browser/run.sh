#!/usr/bin/env bash
# Runs the browser tests for ctest. `run.sh deps WORK` installs playwright-core (pinned in
# package-lock.json) with npm ci into WORK; `run.sh SCENARIO WORK SERVER` runs one scenario of
# e2e.mjs against the server binary SERVER. Missing tools fail with what to install.
set -euo pipefail

src="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$src/../.." && pwd)"
what="$1"
work="$2"
chromium="${E2E_CHROMIUM:-/usr/bin/chromium}"

missing() {
  echo "error: $1 is missing. It is listed in scripts/packages.txt; scripts/install-deps.sh" \
       "(run by make test) installs it: apt-get install $2" >&2
  exit 1
}
command -v node >/dev/null || missing "node" nodejs
command -v npm >/dev/null || missing "npm" npm
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
  echo "error: playwright-core needs Node.js 20 or newer; this is $(node --version)" >&2
  exit 1
fi
[[ -x "$chromium" ]] || missing "chromium ($chromium)" chromium

if [[ "$what" == deps ]]; then
  mkdir -p "$work"
  if ! cmp -s "$src/package-lock.json" "$work/node_modules/.installed-lock.json"; then
    cp "$src/package.json" "$src/package-lock.json" "$work/"
    # playwright-core has no install scripts; --ignore-scripts makes sure nothing is fetched
    # but the pinned package itself (no browser download).
    (cd "$work" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit \
       --no-fund --loglevel=error)
    cp "$src/package-lock.json" "$work/node_modules/.installed-lock.json"
  fi
  exit 0
fi

[[ -d "$work/node_modules/playwright-core" ]] || {
  echo "error: playwright-core is not installed in $work (the browser_deps test does it)" >&2
  exit 1
}
# Node resolves packages from the script's directory, so the tests run from the work dir.
mkdir -p "$work/lib"
cp "$src/e2e.mjs" "$work/"
cp "$src"/lib/*.mjs "$work/lib/"
export E2E_REPO="$repo" E2E_SERVER="$3"
export E2E_SCREENSHOT_DIR="${E2E_SCREENSHOT_DIR:-$work/screenshots}"
exec node "$work/e2e.mjs" "$what"
