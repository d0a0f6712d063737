#!/usr/bin/env bash
# smoke.sh: ctest's bench.smoke. Runs every scenario with SMOKE=1 (50
# connections, ~2 s each) and checks each JSON report: the stable keys are
# there, setup subscribed every connection, and for the publishing
# scenarios deliveries == expected > 0 with 0 lost, 0 duplicates, 0 HTTP
# errors. No timing assertions: latency and CPU are only reported.
# Then swb-bench's WebSocket client against fake_edge.js: fragmented
# messages split over many TCP writes, ping frames, 16- and 64-bit lengths
# (must pass cleanly), and a frame announcing 2^62 bytes (must be refused as
# a protocol error, without harm).
#   SWB_BIN_DIR=build/bin tests/bench/smoke.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/swb-bench-smoke.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
export SMOKE=1 OUT_DIR=$OUT BENCH_TIMEOUT=60
fail=0
for s in idle broadcast many_channels cross_host; do
  echo "==== $s"
  # broadcast: two edges per host sharing one port (--reuseport)
  edges=""; [ "$s" = broadcast ] && edges=2
  if ! EDGES_PER_HOST=${edges:-${EDGES_PER_HOST:-}} bash "$HERE/$s.sh"; then
    echo "FAIL: $s.sh exited non-zero"
    fail=1
    continue
  fi
  if ! node "$HERE/check_report.js" "$OUT/$s.json" "$s"; then
    fail=1
  fi
done
BIN_DIR=${SWB_BIN_DIR:-$HERE/../../build/bin}
for mode in frames hostile; do
  echo "==== swb-bench client vs fake_edge.js $mode"
  node "$HERE/fake_edge.js" "$mode" >"$OUT/fake-$mode.port" &
  fake_pid=$!
  for i in $(seq 1 50); do [ -s "$OUT/fake-$mode.port" ] && break; sleep 0.1; done
  port=$(cat "$OUT/fake-$mode.port")
  timeout 30 "$BIN_DIR/swb-bench" --mode idle --target "127.0.0.1:$port" --connections 3 --hold 1 \
    --json-out "$OUT/fake-$mode.json" >/dev/null
  rc=$?
  kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null
  if [ $rc != 0 ] || ! node -e '
    const [file, mode] = process.argv.slice(1);
    const r = JSON.parse(require("fs").readFileSync(file, "utf8")), t = r.totals;
    const want = mode === "frames"
      ? { disconnects: 0, protocol_errors: 0, ws_pings: 3, pusher_pings: 3, other_events: 6 }
      : { disconnects: 3, protocol_errors: 3 };
    const bad = Object.entries(want).filter(([k, v]) => t[k] !== v).map(([k, v]) => `${k}=${t[k]} (want ${v})`);
    if (r.setup.subscribed !== 3) bad.push(`subscribed=${r.setup.subscribed}`);
    if (bad.length) { console.log(`FAIL: fake_edge ${mode}: ${bad.join(", ")}`); process.exit(1); }
    console.log(`ok: fake_edge ${mode}: ${JSON.stringify(want)}`);' "$OUT/fake-$mode.json" "$mode"; then
    fail=1
  fi
done
for t in pair1 push0 unix; do # swb-nng-hop: every message arrives, the report names it
  echo "==== swb-nng-hop --transport $t"
  if ! timeout 30 "$BIN_DIR/swb-nng-hop" --transport "$t" --rate 2000 --count 300 --warmup 20 --json >"$OUT/hop-$t.json" ||
    ! node -e '
    const [file, t] = process.argv.slice(1);
    const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
    const bad = [];
    if (r.transport !== t) bad.push(`transport=${r.transport}`);
    if (r.received !== 300 || r.out_of_order !== 0) bad.push(`received=${r.received} out_of_order=${r.out_of_order}`);
    if (!(r.latency_us.p50 > 0 && r.latency_us.p50 <= r.latency_us.p99 && r.latency_us.p99 <= r.latency_us.max)) bad.push("percentiles");
    if (!(r.receiver.cpu_us_per_msg > 0)) bad.push("receiver cpu");
    if (bad.length) { console.log(`FAIL: swb-nng-hop ${t}: ${bad.join(", ")}`); process.exit(1); }
    console.log(`ok: swb-nng-hop ${t}: 300 of 300`);' "$OUT/hop-$t.json" "$t"; then
    fail=1
  fi
done
[ $fail = 0 ] && echo "bench.smoke: all scenarios passed"
exit $fail
