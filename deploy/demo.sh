#!/usr/bin/env bash
# `make demo`: a central, a satellite enrolled to it, one offline sync round trip and a few
# hundred simulated devices, all under ./var/demo and on 127.0.0.1 only. Both servers keep
# running afterwards (PIDs in var/demo/*.pid); `make demo-stop` (this script with "stop") ends
# them. Running it again stops the previous demo and starts from scratch.
#
#   deploy/demo.sh [start|stop]
#
# Environment: OUTPOST (the binary; default build/release/cli/outpost), DEMO_DIR (default
# var/demo), DEMO_DEVICES (default 300), DEMO_PARALLEL (default 8), DEMO_SATELLITE_PORT (default
# 9443) and DEMO_CENTRAL_PORT (default 9444); a busy port is replaced by the next free one.
set -euo pipefail

cd "$(dirname "$0")/.."
OUTPOST=${OUTPOST:-build/release/cli/outpost}
DEMO_DIR=${DEMO_DIR:-var/demo}
DEVICES=${DEMO_DEVICES:-300}
PARALLEL=${DEMO_PARALLEL:-8}
SAT_PORT=${DEMO_SATELLITE_PORT:-9443}
CENTRAL_PORT=${DEMO_CENTRAL_PORT:-9444}

CENTRAL="$DEMO_DIR/central"
SAT="$DEMO_DIR/satellite"
SYNC="$DEMO_DIR/sync"
T=regid.2026-01.com.example

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

# Stops the servers of a previous demo: only the PIDs it wrote, and only if they are outpost.
stop() {
  local f pid
  for f in "$DEMO_DIR"/satellite.pid "$DEMO_DIR"/central.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
       grep -q outpost "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      echo "demo: stopped $(basename "$f" .pid) (pid $pid)"
    fi
    rm -f "$f"
  done
}

# The first port from $1 up that nothing on 127.0.0.1 listens on.
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# Waits until the log $1 says the server is serving, or fails naming the log.
wait_serving() {
  for _ in $(seq 100); do
    grep -q "is serving" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$1" >&2
  die "the server did not start; see $1"
}

if [ "${1:-start}" = "stop" ]; then
  stop
  exit 0
fi
[ -x "$OUTPOST" ] || die "$OUTPOST is missing; build it first (make demo does)"

stop
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR" "$SYNC"
SAT_PORT=$(free_port "$SAT_PORT")
CENTRAL_PORT=$(free_port "$CENTRAL_PORT")
[ "$SAT_PORT" != "$CENTRAL_PORT" ] || CENTRAL_PORT=$(free_port $((CENTRAL_PORT + 1)))
SAT_URL="https://127.0.0.1:$SAT_PORT"
CENTRAL_URL="https://127.0.0.1:$CENTRAL_PORT"

say "Central (vendor side) in $CENTRAL"
"$OUTPOST" central init --data-dir "$CENTRAL" --listen "127.0.0.1:$CENTRAL_PORT"
"$OUTPOST" central account create acme --name "Acme Corp" --data-dir "$CENTRAL"
"$OUTPOST" central va create acme lab --data-dir "$CENTRAL" >/dev/null
"$OUTPOST" central va create acme branch-east --data-dir "$CENTRAL" >/dev/null
echo "Created virtual accounts lab and branch-east"
end_soon=$(date -u -d '+20 days' +%Y-%m-%d)
end_year=$(date -u -d '+1 year' +%Y-%m-%d)
add() { "$OUTPOST" central license add acme "$@" --data-dir "$CENTRAL" >/dev/null; }
add default --tag "$T.fw.base" --count 250 --enforced
add default --tag "$T.fw.adv" --count 60 --end "$end_year"
add default --tag "$T.fw.crypto" --count 20 --enforced --export-controlled
add default --tag "$T.vpn.users" --count 100 --end "$end_soon"
add lab --tag "$T.fw.base" --count 40
add lab --tag "$T.sim.seat" --count 25 --floating
add branch-east --tag "$T.fw.base" --count 50 --enforced
"$OUTPOST" central license list acme --data-dir "$CENTRAL"

say "Enrolling a satellite"
"$OUTPOST" central satellite enroll acme --name "plant 4" -o "$DEMO_DIR/enrollment.bundle" \
  --data-dir "$CENTRAL"
"$OUTPOST" init --data-dir "$SAT" --enroll "$DEMO_DIR/enrollment.bundle" \
  --listen "127.0.0.1:$SAT_PORT" | tee "$DEMO_DIR/satellite-init.txt"
chmod 600 "$DEMO_DIR/satellite-init.txt"  # holds the first admin's password

say "Starting central serve ($CENTRAL_URL) and the satellite ($SAT_URL)"
setsid nohup "$OUTPOST" central serve --data-dir "$CENTRAL" >"$DEMO_DIR/central.log" 2>&1 \
  </dev/null &
echo $! >"$DEMO_DIR/central.pid"
setsid nohup "$OUTPOST" serve --data-dir "$SAT" >"$DEMO_DIR/satellite.log" 2>&1 </dev/null &
echo $! >"$DEMO_DIR/satellite.pid"
wait_serving "$DEMO_DIR/central.log"
wait_serving "$DEMO_DIR/satellite.log"
echo "central pid $(cat "$DEMO_DIR/central.pid"), satellite pid $(cat "$DEMO_DIR/satellite.pid")"

say "Offline sync round trip: export -> central sync process -> import"
"$OUTPOST" sync export -o "$SYNC/request-1.bin" --data-dir "$SAT"
"$OUTPOST" central sync process "$SYNC/request-1.bin" -o "$SYNC/response-1.bin" \
  --data-dir "$CENTRAL"
"$OUTPOST" sync import "$SYNC/response-1.bin" --data-dir "$SAT"

say "Registration tokens"
token() { "$OUTPOST" --json token create --data-dir "$SAT" --description "make demo" "$@" |
  sed -n 's/^ *"token": "\(.*\)".*$/\1/p'; }
TOKEN_DEFAULT=$(token --va default)
TOKEN_EXPORT=$(token --va default --export-controlled)
TOKEN_LAB=$(token --va lab)
TOKEN_BRANCH=$(token --va branch-east --max-uses 1000)
[ -n "$TOKEN_DEFAULT" ] && [ -n "$TOKEN_EXPORT" ] && [ -n "$TOKEN_LAB" ] && [ -n "$TOKEN_BRANCH" ] ||
  die "could not create the tokens"
printf '%s\n' "$TOKEN_DEFAULT" >"$DEMO_DIR/token-default.txt"
chmod 600 "$DEMO_DIR/token-default.txt"
"$OUTPOST" token list --data-dir "$SAT"

say "Registering and authorizing $DEVICES simulated devices ($PARALLEL at a time)"
# One device: register with a token, then authorize a mix of tags that depends on its number
# (some tags run out or are not entitled, on purpose: the compliance table shows it).
device() {
  local i=$1 n token tags=() pid va
  n=$(printf '%04d' "$i")
  case $((i % 10)) in
    0 | 1 | 2 | 3) token=$TOKEN_DEFAULT va=default pid=C9300-48P
      tags=(--tag "$T.fw.base" --tag "$T.fw.adv")
      [ $((i % 4)) = 0 ] && tags+=(--tag "$T.vpn.users:2") ;;
    4 | 5) token=$TOKEN_EXPORT va=default pid=ISR4451-X
      tags=(--tag "$T.fw.base:2" --tag "$T.fw.crypto") ;;
    6) token=$TOKEN_DEFAULT va=default pid=C9200-24T
      tags=(--tag "$T.fw.crypto") ;;  # denied: its token does not allow export-controlled
    7 | 8) token=$TOKEN_LAB va=lab pid=SIM-NODE
      tags=(--tag "$T.fw.base" --tag "$T.sim.seat") ;;
    9) token=$TOKEN_BRANCH va=branch-east pid=C8300-1N1S
      tags=(--tag "$T.fw.base" --tag "$T.fw.legacy") ;;  # fw.legacy: not entitled
  esac
  local state="$DEMO_DIR/devices/$n"
  if ! "$OUTPOST" device register --server "$SAT_URL" --ca "$SAT/ca.pem" --token "$token" \
      --pid "$pid" --serial "DEMO$n" --hostname "$va-$n" --state-dir "$state" \
      >"$state.log" 2>&1; then
    echo "device $n: registration failed (see $state.log)" >&2
    return 0
  fi
  "$OUTPOST" device authorize --state-dir "$state" "${tags[@]}" >>"$state.log" 2>&1 || true
  echo "$n"
}
export -f device
export OUTPOST DEMO_DIR SAT SAT_URL T TOKEN_DEFAULT TOKEN_EXPORT TOKEN_LAB TOKEN_BRANCH
mkdir -p "$DEMO_DIR/devices"
start=$(date +%s)
done_count=$(seq 1 "$DEVICES" | xargs -P "$PARALLEL" -I{} bash -c 'device {}' | wc -l)
echo "$done_count of $DEVICES devices registered and authorized in $(($(date +%s) - start)) s" \
  "(state and output in $DEMO_DIR/devices/)"

say "outpost licenses"
"$OUTPOST" licenses --data-dir "$SAT"
say "outpost devices --limit 10"
"$OUTPOST" devices --limit 10 --data-dir "$SAT"
say "outpost sync status"
"$OUTPOST" sync status --data-dir "$SAT"

PAK=$("$OUTPOST" --json central pak create acme lab --tag "$T.fw.base" --count 10 \
  --data-dir "$CENTRAL" | sed -n 's/^ *"key": "\(.*\)".*$/\1/p')

say "What to try next"
cat <<EOF
Both servers keep running: satellite $SAT_URL (pid $(cat "$DEMO_DIR/satellite.pid")),
central $CENTRAL_URL (pid $(cat "$DEMO_DIR/central.pid")). Stop them with: make demo-stop
The satellite's first admin (user, password, API key) is in $DEMO_DIR/satellite-init.txt.
The web console: $SAT_URL/console/ (log in as admin with that password; the browser must trust
$SAT/ca.pem, or accept the warning once; docs/console.md).

  # the admin CLI reads URL, API key and CA from the data directory
  $OUTPOST licenses --data-dir $SAT --va lab
  $OUTPOST devices --data-dir $SAT --va branch-east
  $OUTPOST audit verify --data-dir $SAT
  curl --cacert $SAT/ca.pem $SAT_URL/metrics

  # one more device, by hand
  $OUTPOST device register --server $SAT_URL --ca $SAT/ca.pem \\
      --token \$(cat $DEMO_DIR/token-default.txt) --pid C9300-48P --serial MINE0001 \\
      --state-dir $DEMO_DIR/mine
  $OUTPOST device authorize --state-dir $DEMO_DIR/mine --tag $T.fw.base:3
  $OUTPOST device status --state-dir $DEMO_DIR/mine

  # sync online against the running central (the URL came with the enrollment bundle)
  $OUTPOST sync now --data-dir $SAT
  $OUTPOST central usage acme --data-dir $CENTRAL

  # convert a traditional license key (created just now at central) with an offline round trip
  $OUTPOST convert $PAK --va lab --data-dir $SAT
  $OUTPOST sync export -o $SYNC/convert-request.bin --data-dir $SAT
  $OUTPOST central sync process $SYNC/convert-request.bin -o $SYNC/convert-response.bin --data-dir $CENTRAL
  $OUTPOST sync import $SYNC/convert-response.bin --data-dir $SAT
  $OUTPOST conversions --data-dir $SAT

  # a new entitlement at central reaches the satellite with the next sync
  $OUTPOST central license add acme branch-east --tag $T.fw.adv --count 5 --data-dir $CENTRAL
  $OUTPOST sync now --data-dir $SAT && $OUTPOST licenses --data-dir $SAT --va branch-east

Walkthrough of enrollment, offline and online sync: docs/sync.md
EOF
