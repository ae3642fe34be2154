#!/bin/sh
# Installs what `make bench` needs beyond deploy/install-deps.sh: nginx (the baseline the
# satellite is compared with; only started by the benchmark, on 127.0.0.1, never as a service),
# python3 (the benchmark script) and perf (profiles). Idempotent; needs root only when something
# is missing. The system nginx service is not enabled or started by this script.
set -eu

PACKAGES="
  nginx-light
  python3
  linux-perf
"

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing="$missing $p"
done
# A python3 outside dpkg (pyenv, a venv) is as good as the package.
case "$missing" in *python3*) command -v python3 >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ python3//') ;; esac
# perf may come from another kernel's package or a local build.
case "$missing" in *linux-perf*) command -v perf >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ linux-perf//') ;; esac

if [ -z "$missing" ]; then
  echo "install-bench-deps: all packages present"
  exit 0
fi

echo "install-bench-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "install-bench-deps: these packages are missing and this is not root:$missing" >&2
    exit 1
  fi
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# RUNLEVEL=1: invoke-rc.d then does not start the nginx service the package brings (the benchmark
# runs its own nginx on a free loopback port).
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO env RUNLEVEL=1 apt-get install -y -q --no-install-recommends $missing
