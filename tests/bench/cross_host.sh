#!/usr/bin/env bash
# cross_host.sh: publish on host A, every subscriber on host B, a moderate
# steady rate: the latency of the Redis hop alone (publish -> edge A ->
# bridge A -> Redis -> bridge B -> edge B -> client).
#
#   tests/bench/cross_host.sh                    # 1,000 subscribers on one channel, 10 publishes/s, 20 s
#   SUBSCRIBERS=1000 RATE=20 DURATION=30 tests/bench/cross_host.sh
#   SMOKE=1 tests/bench/cross_host.sh            # CI: 50 subscribers, 2 s at 20/s
#
# Runs
#   swb-bench --pattern PATTERN --channels CHANNELS --connections N
#             --target <edges of b> --publish-target <edge of a> --rate RATE --duration DURATION
#             --pids-from-runtime-dir a --pids-from-runtime-dir b --pid <redis>
# and reports latency p50/p90/p99/p99.9/max, losses/duplicates, and CPU of
# both hosts + redis. The anchor's comparable number: 1,000 subscribers at
# 10 broadcasts/s, "via Redis" p50 23.5 ms / p99 51.4 ms.
# Env: SUBSCRIBERS, RATE, DURATION, WARMUP, DRAIN, PATTERN (default one),
#      CHANNELS (for mod), EDGES_B (default: one per 18,000 subscribers), plus lib.sh's.
SCENARIO=cross_host
source "$(dirname "$0")/lib.sh"

if [ "$SMOKE" = 1 ]; then
  SUBSCRIBERS=${SUBSCRIBERS:-50}; RATE=${RATE:-20}; DURATION=${DURATION:-2}; WARMUP=${WARMUP:-0}; DRAIN=${DRAIN:-3}
fi
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-10}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
DRAIN=${DRAIN:-3}
PATTERN=${PATTERN:-one}
CHANNELS=${CHANNELS:-1}
EDGES_B=${EDGES_B:-$(edges_for "$SUBSCRIBERS")}

start_redis
start_host a
start_host b
start_edges a 1
start_edges b "$EDGES_B"
# shellcheck disable=SC2046
run_bench --pattern "$PATTERN" --channels "$CHANNELS" --connections "$SUBSCRIBERS" $(targets_of b) \
  --publish-target "$(first_edge_of a)" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --drain "$DRAIN" \
  --pids-from-runtime-dir "$WORK/run/a" --pids-from-runtime-dir "$WORK/run/b" --pid "$REDIS_PID"
