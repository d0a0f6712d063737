#!/usr/bin/env bash
# smoke.sh: ctest's bench.smoke. Runs every scenario with SMOKE=1 (50
# connections, ~2 s each) and checks each JSON report: the stable keys are
# there, setup subscribed every connection, and for the publishing
# scenarios deliveries == expected > 0 with 0 lost, 0 duplicates, 0 HTTP
# errors. No timing assertions: latency and CPU are only reported.
#   SWB_BIN_DIR=build/bin tests/bench/smoke.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/swb-bench-smoke.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
export SMOKE=1 OUT_DIR=$OUT BENCH_TIMEOUT=60
fail=0
for s in idle broadcast many_channels cross_host; do
  echo "==== $s"
  if ! bash "$HERE/$s.sh"; then
    echo "FAIL: $s.sh exited non-zero"
    fail=1
    continue
  fi
  if ! node "$HERE/check_report.js" "$OUT/$s.json" "$s"; then
    fail=1
  fi
done
[ $fail = 0 ] && echo "bench.smoke: all scenarios passed"
exit $fail
