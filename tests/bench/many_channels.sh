#!/usr/bin/env bash
# many_channels.sh: every connection on its OWN channel, targeted
# publishes (each publish goes to one channel, round-robin over all of
# them), subscribers over TWO hosts.
#
#   tests/bench/many_channels.sh                         # 1,000 connections, 200,500,1000 publishes/s
#   CONNECTIONS=50000 RATE_STEPS=500,1000,2000,5000 tests/bench/many_channels.sh
#   SMOKE=1 tests/bench/many_channels.sh                 # CI: 50 connections, one 2 s step at 100/s
#
# Runs
#   swb-bench --pattern each --connections N --target <all edges of a and b>
#             --publish-target <first edge of a> --rate-steps STEPS ...
# Each publish has exactly one subscriber, so deliveries/s = publishes/s and
# every delivery is a separate Redis channel and bridge->edge message, so
# this scenario stresses per-message costs (Redis PUBLISH, bridge routing,
# edge encode) rather than fan-out; the HTTP publish path saturates first
# on a 2-core box, and the report says so ("publisher fell behind").
# Env: CONNECTIONS, RATE_STEPS, DURATION, WARMUP, DRAIN, STOP_P99_MS,
#      EDGES_PER_HOST (default: enough for CONNECTIONS/2 per host), HTTP_CONNS, plus lib.sh's.
SCENARIO=many_channels
source "$(dirname "$0")/lib.sh"

if [ "$SMOKE" = 1 ]; then
  CONNECTIONS=${CONNECTIONS:-50}; RATE_STEPS=${RATE_STEPS:-100}; DURATION=${DURATION:-2}; WARMUP=${WARMUP:-0}
  DRAIN=${DRAIN:-3}; STOP_P99_MS=${STOP_P99_MS:-0}
fi
CONNECTIONS=${CONNECTIONS:-1000}
RATE_STEPS=${RATE_STEPS:-200,500,1000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
DRAIN=${DRAIN:-3}
STOP_P99_MS=${STOP_P99_MS:-0}
EDGES_PER_HOST=${EDGES_PER_HOST:-$(edges_for $(((CONNECTIONS + 1) / 2)))}
HTTP_CONNS=${HTTP_CONNS:-64}

start_redis
start_host a
start_host b
start_edges a "$EDGES_PER_HOST"
start_edges b "$EDGES_PER_HOST"
# shellcheck disable=SC2046
run_bench --pattern each --connections "$CONNECTIONS" $(targets_of a b) --publish-target "$(first_edge_of a)" \
  --rate-steps "$RATE_STEPS" --duration "$DURATION" --warmup "$WARMUP" --drain "$DRAIN" \
  --stop-p99-ms "$STOP_P99_MS" --http-conns "$HTTP_CONNS" --connect-rate "${CONNECT_RATE:-5000}" \
  --pids-from-runtime-dir "$WORK/run/a" --pids-from-runtime-dir "$WORK/run/b" --pid "$REDIS_PID"
