#!/usr/bin/env bash
# nng_hop.sh: the cost of one edge<->bridge hop (docs/benchmarks.md, "The
# NNG floor of one hop"). Runs build/bin/swb-nng-hop for nng pair1 (edge ->
# bridge), nng push0 (bridge -> edge) and a plain unix socket, alternating,
# REPEAT times each, and prints one line per run (uptime first: the machine
# is shared, so the load goes next to every number):
#
#   tests/bench/nng_hop.sh                  # 1,000 msgs/s, 10,000 msgs, 3 rounds
#   RATE=10000 COUNT=50000 tests/bench/nng_hop.sh
#
# Env: RATE (1000), COUNT (10000), SIZE (200), REPEAT (3), SWB_BIN_DIR (build/bin),
#      OUT_DIR (a temp dir; every run's --json is written there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN=${SWB_BIN_DIR:-build/bin}/swb-nng-hop
[ -x "$BIN" ] || { echo "nng_hop.sh: $BIN not built (cmake --build build)" >&2; exit 1; }
OUT_DIR=${OUT_DIR:-$(mktemp -d -t swb-nng-hop.XXXXXX)}
mkdir -p "$OUT_DIR"
RATE=${RATE:-1000}; COUNT=${COUNT:-10000}; SIZE=${SIZE:-200}; REPEAT=${REPEAT:-3}
echo "== $(uptime)"
for r in $(seq 1 "$REPEAT"); do
  for t in unix pair1 push0; do
    "$BIN" --transport "$t" --rate "$RATE" --count "$COUNT" --size "$SIZE" --json >"$OUT_DIR/$t-$r.json"
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")), l = r.latency_us;
      console.log(`${r.transport.padEnd(6)} p50 ${l.p50.toFixed(0).padStart(5)}  p99 ${l.p99.toFixed(0).padStart(6)}  ` +
        `p99.9 ${l.p999.toFixed(0).padStart(6)} us   receiver ${r.receiver.cpu_us_per_msg.toFixed(1).padStart(6)} us ` +
        `${r.receiver.ctx_switches_per_msg.toFixed(2)} cs/msg   sender ${r.sender.cpu_us_per_msg.toFixed(1).padStart(6)} us ` +
        `${r.sender.ctx_switches_per_msg.toFixed(2)} cs/msg   received ${r.received}/${r.count}`);' "$OUT_DIR/$t-$r.json"
  done
done
echo "== $(uptime)"
echo "JSON: $OUT_DIR"
