#!/usr/bin/env bash
# idle.sh: idle connections on ONE host: memory per connection.
#
#   tests/bench/idle.sh                          # 1,000 connections, hold 10 s
#   CONNECTIONS=100000 HOLD=30 tests/bench/idle.sh   # full scale (machine otherwise quiet)
#   SMOKE=1 tests/bench/idle.sh                  # CI: 50 connections, hold 1 s
#
# Starts redis-server, one bridge, and ceil(CONNECTIONS / CONNS_PER_EDGE)
# edges (CONNS_PER_EDGE default 18,000: an edge process is also held to the
# 20,000-fd hard limit), all on free ports; then
#   swb-bench --mode idle --connections N --target <every edge> --hold HOLD
#             --pids-from-runtime-dir <host>
# which opens N connections round-robin over the edges (workers forked as
# needed, source addresses spread over 127.0.0.x), subscribes each to its
# own channel (PATTERN, default each), holds them and reports the bridge's
# and edges' RSS before/after (per connection), peak RSS, and the kernel's
# TCP memory (whole machine: both ends of every loopback connection).
# Env: CONNECTIONS, HOLD, PATTERN (one|each|mod), CHANNELS (for mod),
#      CONNECT_RATE (default 5000), CONNS_PER_EDGE, plus lib.sh's.
SCENARIO=idle
source "$(dirname "$0")/lib.sh"

if [ "$SMOKE" = 1 ]; then
  CONNECTIONS=${CONNECTIONS:-50}; HOLD=${HOLD:-1}
fi
CONNECTIONS=${CONNECTIONS:-1000}
HOLD=${HOLD:-10}
PATTERN=${PATTERN:-each}
CHANNELS=${CHANNELS:-1}
CONNECT_RATE=${CONNECT_RATE:-5000}

start_redis
start_host a
start_edges a "$(edges_for "$CONNECTIONS")"
sleep 1 # let the fresh processes settle before the baseline RSS is read
# shellcheck disable=SC2046
run_bench --mode idle --connections "$CONNECTIONS" $(targets_of a) --pattern "$PATTERN" --channels "$CHANNELS" \
  --connect-rate "$CONNECT_RATE" --hold "$HOLD" --pids-from-runtime-dir "$WORK/run/a"
rc=$?

# What the bridge sent its edges during the ramp and hold (issue #4: a
# webhook event goes to an edge only if one has a webhook for the app).
if "$BIN_DIR/swbctl" --runtime-dir "$WORK/run/a" --json status >"$OUT_DIR/idle-bridge-status.json" 2>/dev/null; then
  log "bridge counters: $(grep -o '"\(webhooks[a-z_]*\|delivered\|edge_send_drops\|occ_sets\)":[0-9]*' \
    "$OUT_DIR/idle-bridge-status.json" | tr '\n' ' ')"
fi
grep -h "not reading" "$WORK"/bridge-a.log | tail -3 >&2 || true
exit $rc
