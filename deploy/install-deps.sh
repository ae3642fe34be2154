#!/bin/sh
# Installs the Debian 12 packages Outpost needs to build, test and run, skipping those already
# present. Idempotent: a second run installs nothing. Needs root (or sudo) only when something
# is missing.
set -eu

PACKAGES="
  build-essential
  cmake
  ninja-build
  pkg-config
  libboost1.81-dev
  libboost-json1.81-dev
  libsqlite3-dev
  libssl-dev
  openssl
  libprotobuf-dev
  protobuf-compiler
  libgtest-dev
  libgmock-dev
  libcli11-dev
  libspdlog-dev
  libtomlplusplus-dev
  libmimalloc-dev
  python3
  python3-pytest
  python3-hypothesis
  rsyslog
  rsyslog-openssl
  time
  clang-16
  libclang-rt-16-dev
  dpkg-dev
  file
  groff-base
  debootstrap
  systemd
  strace
  systemd-container
  chromium
  nodejs
"
# The console's browser tests (tests/console) run playwright-core from npm. Debian's npm
# conflicts with a Node.js that bundles its own npm (e.g. NodeSource's), so it is only asked
# for when no npm exists.
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

# npm ci in tests/console from the committed lockfile, when its node_modules is missing or older
# than the lockfile.
console_test_modules() {
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/console"
  [ -f "$dir/package-lock.json" ] || return 0
  if [ ! -d "$dir/node_modules/playwright-core" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in tests/console"
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
}

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  console_test_modules
  exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "install-deps: these packages are missing and this is not root:$missing" >&2
    echo "install-deps: run 'sudo deploy/install-deps.sh' or install them with apt-get" >&2
    exit 1
  fi
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $missing
console_test_modules
