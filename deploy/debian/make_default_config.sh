#!/bin/sh
# Writes the packaged /etc/outpost/outpost.toml from the built binary: `outpost init` renders
# every key it knows with its comment and default, so the file cannot miss a key this version
# has. Only the header below and `listen` (every address, unprivileged port 8443) are the
# package's own. Usage: make_default_config.sh OUTPOST_BINARY OUTPUT_FILE
set -eu
binary=$1
output=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$binary" init --data-dir "$scratch/sat" --listen 0.0.0.0:8443 >/dev/null
{
  cat <<'HEADER'
# /etc/outpost/outpost.toml: the configuration of the packaged satellite. outpost.service runs
#   outpost serve --data-dir /var/lib/outpost --config /etc/outpost/outpost.toml
# and `outpost init --config /etc/outpost/outpost.toml` copies it into the data directory.
# Relative paths below are inside /var/lib/outpost. After a change: systemctl reload outpost.
# Every key: docs/configuration.md. Port 443 without capabilities: docs/operations.md
# ("Binding port 443"); the service itself never gets CAP_NET_BIND_SERVICE.
#
HEADER
  cat "$scratch/sat/outpost.toml"
} >"$output.tmp"
grep -q '^listen = "0.0.0.0:8443"$' "$output.tmp" || {
  echo "make_default_config: the rendered file has no listen = \"0.0.0.0:8443\"" >&2
  exit 1
}
mv "$output.tmp" "$output"
