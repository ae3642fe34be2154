#!/bin/sh
# Runs each libFuzzer target of the fuzz build for FUZZ_SECONDS (default 60), one after the other,
# niced. Each starts from a scratch copy of its committed seed corpus under build/fuzz/fuzz-run/
# (new inputs go there, so tests/fuzz/corpus stays small); crash inputs are written beside it.
# Exits non-zero if any target found a crash, naming the input to turn into a regression test
# (docs/reliability.md, "Fuzzing"). Usage: tests/fuzz/run_fuzz.sh [TARGET...]  (default: all)
set -u

BUILD=${FUZZ_BUILD_DIR:-build/fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
SRC=$(dirname "$0")
RUN="$BUILD/fuzz-run"
TARGETS=${*:-"fuzz_bundle_bytes fuzz_bundle_armor fuzz_bundle_payload fuzz_http_router fuzz_csr
  fuzz_public_key fuzz_bearer fuzz_config fuzz_stored_values fuzz_authorization fuzz_device_state fuzz_central_request"}

failed=""
for t in $TARGETS; do
  bin="$BUILD/tests/fuzz/$t"
  [ -x "$bin" ] || { echo "run_fuzz: $bin is not built" >&2; exit 2; }
  mkdir -p "$RUN/$t/corpus"
  cp -n "$SRC/corpus/$t/"* "$RUN/$t/corpus/" 2>/dev/null || true
  echo "run_fuzz: $t for ${SECONDS_EACH}s"
  start=$(date +%s)
  # The outer timeout is a backstop in case the fuzzer itself hangs past -max_total_time.
  timeout -k 10 $((SECONDS_EACH + 120)) nice -n 10 "$bin" -max_total_time="$SECONDS_EACH" \
    -timeout=25 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$RUN/$t/" "$RUN/$t/corpus" >"$RUN/$t/log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$RUN/$t/log" | tail -n 1)
  echo "run_fuzz: $t: exit $rc, $((end - start)) s, ${execs:-?} runs, corpus $(ls "$RUN/$t/corpus" | wc -l) inputs"
  if [ "$rc" -ne 0 ]; then
    failed="$failed $t"
    grep -m 5 -E 'ERROR|runtime error|fuzz property|Test unit written' "$RUN/$t/log" >&2
  fi
done

if [ -n "$failed" ]; then
  echo "run_fuzz: crashes in:$failed (logs and crash-* inputs under $RUN/<target>/)" >&2
  exit 1
fi
echo "run_fuzz: no crashes"
