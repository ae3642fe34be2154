#!/bin/sh
# ctest console_browser: runs console.test.mjs with Node and Debian's Chromium, after checking
# that what it needs is installed (deploy/install-deps.sh installs all of it).
#   run_console_test.sh OUTPOST_BINARY SCREENSHOT_DIR
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
chromium="${CHROMIUM:-/usr/lib/chromium/chromium}"
command -v node >/dev/null 2>&1 ||
  { echo "console_browser: node is missing; run deploy/install-deps.sh (installs nodejs)" >&2; exit 1; }
[ -x "$chromium" ] ||
  { echo "console_browser: $chromium is missing; run deploy/install-deps.sh (installs chromium)" >&2; exit 1; }
[ -d "$here/node_modules/playwright-core" ] ||
  { echo "console_browser: playwright-core is missing; run deploy/install-deps.sh (npm ci in tests/console)" >&2; exit 1; }
OUTPOST_BIN="$1" SCREENSHOT_DIR="$2" CHROMIUM="$chromium" exec node "$here/console.test.mjs"
