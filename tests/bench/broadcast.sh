#!/usr/bin/env bash
# broadcast.sh: ONE channel, N subscribers spread over TWO hosts, stepped
# publish rate (the socket.io anchor's fan-out test, anchors/socketio).
#
#   tests/bench/broadcast.sh                      # 1,000 subscribers, rates 1..100/s, 10 s per step
#   SUBSCRIBERS=5000 RATE_STEPS=1,2,5,10,20 tests/bench/broadcast.sh
#   SMOKE=1 tests/bench/broadcast.sh              # CI: 50 subscribers, one 2 s step at 20/s
#
# Starts redis-server, hosts a and b (EDGES_PER_HOST edges each, default: one per 18,000 subscribers of that host),
# and runs
#   swb-bench --pattern one --connections N --target <all edges of a and b>
#             --publish-target <first edge of a> --rate-steps STEPS
#             --duration DURATION --stop-p99-ms STOP_P99_MS
#             --pids-from-runtime-dir a --pids-from-runtime-dir b --pid <redis>
# Subscribers alternate between the edges of both hosts, so half of every
# broadcast crosses Redis to host b. Per step it reports expected vs
# received deliveries (lost, duplicates), deliveries/s, latency
# p50/p90/p99/p99.9/max, and the CPU of bridges + edges + redis as % of a core
# and µs per delivery (compare with the anchor's "server+redis µs/deliv").
# Stepping stops at the first step whose p99 exceeds STOP_P99_MS or that
# lost deliveries (STOP_P99_MS=0: run every step).
# Env: SUBSCRIBERS, RATE_STEPS, DURATION, WARMUP, DRAIN, STOP_P99_MS,
#      EDGES_PER_HOST (default: enough for SUBSCRIBERS/2 per host), PAYLOAD, HTTP_CONNS, plus lib.sh's.
SCENARIO=broadcast
source "$(dirname "$0")/lib.sh"

if [ "$SMOKE" = 1 ]; then
  SUBSCRIBERS=${SUBSCRIBERS:-50}; RATE_STEPS=${RATE_STEPS:-20}; DURATION=${DURATION:-2}; WARMUP=${WARMUP:-0}
  DRAIN=${DRAIN:-3}; STOP_P99_MS=${STOP_P99_MS:-0}
fi
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE_STEPS=${RATE_STEPS:-1,2,5,10,20,50,100}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
DRAIN=${DRAIN:-3}
STOP_P99_MS=${STOP_P99_MS:-50}
EDGES_PER_HOST=${EDGES_PER_HOST:-$(edges_for $(((SUBSCRIBERS + 1) / 2)))}
PAYLOAD=${PAYLOAD:-0}
HTTP_CONNS=${HTTP_CONNS:-32}

start_redis
start_host a
start_host b
start_edges a "$EDGES_PER_HOST"
start_edges b "$EDGES_PER_HOST"
# shellcheck disable=SC2046
run_bench --pattern one --connections "$SUBSCRIBERS" $(targets_of a b) --publish-target "$(first_edge_of a)" \
  --rate-steps "$RATE_STEPS" --duration "$DURATION" --warmup "$WARMUP" --drain "$DRAIN" \
  --stop-p99-ms "$STOP_P99_MS" --payload "$PAYLOAD" --http-conns "$HTTP_CONNS" \
  --pids-from-runtime-dir "$WORK/run/a" --pids-from-runtime-dir "$WORK/run/b" --pid "$REDIS_PID"
