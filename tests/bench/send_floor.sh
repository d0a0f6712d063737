#!/usr/bin/env bash
# send_floor.sh: the kernel floor of one delivery (docs/benchmarks.md, "The
# kernel floor of one delivery"). Runs build/bin/swb-send-floor, which
# sends one small frame to each of N loopback TCP connections per round
# (read by a child process) and reports CPU per send for send(),
# non-blocking send() as lws does it (TCP_NODELAY on/off), MSG_ZEROCOPY and
# io_uring (all N sends in one io_uring_enter):
#
#   tests/bench/send_floor.sh                 # the three sets below, N=500, each variant 3x (medians)
#   SMOKE=1 tests/bench/send_floor.sh         # 20 connections, 3 rounds, 1 run: does the tool work
#
# The sets (each prints `uptime` first; the machine is shared, so the
# load average goes into the table next to every number):
#   paced:      swb-send-floor --connections N --rate 10 --rounds 100      (10 broadcasts/s)
#   b2b:        swb-send-floor --connections N --rate 0  --rounds 1000     (back to back)
#   coalesce:   swb-send-floor --connections N --rate 0  --rounds 1000 --frame F
#               --variant send-nb-nodelay --variant uring, F = 480, 1200, 4800
#               (4, 10, 40 frames of 120 bytes in one send: the cost per byte vs per send)
# Env: CONNECTIONS (500), REPEAT (3), PACED_ROUNDS (100), B2B_ROUNDS (1000),
#      FRAMES ("480 1200 4800"), SWB_BIN_DIR (build/bin), OUT_DIR (a temp dir;
#      every set's --json output is written there as <set>.json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BIN=${SWB_BIN_DIR:-build/bin}/swb-send-floor
[ -x "$BIN" ] || { echo "send_floor.sh: $BIN not built (cmake --build build)" >&2; exit 1; }
OUT_DIR=${OUT_DIR:-$(mktemp -d -t swb-send-floor.XXXXXX)}
mkdir -p "$OUT_DIR"
N=${CONNECTIONS:-500}
REPEAT=${REPEAT:-3}

one() { # one SET ARGS...: the table, then the same numbers as JSON in OUT_DIR/SET.json
  local set=$1; shift
  echo "== $set: $(uptime)"
  "$BIN" --connections "$N" --repeat "$REPEAT" "$@" --json >"$OUT_DIR/$set.json"
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const v of r.variants)
      console.log(v.available
        ? `${v.name.padEnd(16)} snd ${v.sender_us_per_send.toFixed(2).padStart(6)} us/send  rcv ${v.receiver_us_per_send.toFixed(2).padStart(6)} us/send  ` +
          `segs/send ${v.tcp_segs_per_send.toFixed(3)}  ${v.rounds_per_s.toFixed(1).padStart(8)} rounds/s  load1 ${v.load1.toFixed(2)}  ` +
          `runs ${v.runs.map((x) => x.sender_us_per_send.toFixed(2)).join("/")}` +
          (v.fallbacks ? `  fallbacks ${v.fallbacks}` : "") + (v.uring_late_completions ? `  late ${v.uring_late_completions}` : "") +
          (v.zerocopy_completions ? `  zerocopy ${v.zerocopy_completions} (copied ${v.zerocopy_copied})` : "")
        : `${v.name.padEnd(16)} ${v.error}`);' "$OUT_DIR/$set.json"
}

if [ "${SMOKE:-0}" = 1 ]; then
  N=20 REPEAT=1
  one smoke --rounds 3 --warmup 1
  echo "send_floor.sh: JSON in $OUT_DIR"
  exit 0
fi

one paced --rate 10 --rounds "${PACED_ROUNDS:-100}"
one b2b --rate 0 --rounds "${B2B_ROUNDS:-1000}"
for f in ${FRAMES:-480 1200 4800}; do
  one "coalesce-$f" --rate 0 --rounds "${B2B_ROUNDS:-1000}" --frame "$f" --variant send-nb-nodelay --variant uring
done
echo "send_floor.sh: JSON in $OUT_DIR"
