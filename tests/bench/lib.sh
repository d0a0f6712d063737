# lib.sh: what the scenario scripts share (sourced, not run). Each scenario
# gets its own temp dir, its own redis-server on a free port, bridges (one
# per "host" = runtime dir) and edges on free ports. Every pid started here
# is recorded and, on exit, only those pids are stopped (SIGTERM, a bounded
# wait, then SIGKILL): never pkill/killall. Every wait is bounded.
#
# Environment understood by every scenario:
#   SWB_BIN_DIR   where swb-edge, swb-bridge, swbctl, swb-bench are (default: <repo>/build/bin)
#   OUT_DIR       where <scenario>.json goes (default: the scenario's temp dir, printed at the end)
#   KEEP=1        keep the temp dir (logs, runtime dirs) after the run
#   SMOKE=1       tiny sizes for CI (see each script)
#   BENCH_ARGS    extra swb-bench flags, appended last (e.g. "--payload 512")
#   REUSEPORT     1 (default): a host's edges share one port (--reuseport); 0: a port per edge

set -u
BENCH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_LIB_DIR/../.." && pwd)
BIN_DIR=${SWB_BIN_DIR:-$REPO_ROOT/build/bin}
SMOKE=${SMOKE:-0}
KEEP=${KEEP:-0}
APP=${BENCH_APP:-bench:bench-key:bench-secret}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/swb-bench-${SCENARIO:-run}.XXXXXX")
OUT_DIR=${OUT_DIR:-$WORK}
mkdir -p "$OUT_DIR"
STARTED_PIDS=()
REDIS_PID=""
REDIS_PORT=""
declare -A EDGE_PORTS=() # host -> "port port ..."

log() { echo "[${SCENARIO:-bench} $(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }

for b in swb-edge swb-bridge swbctl swb-bench; do
  [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b not found (build first: cmake -S . -B build && cmake --build build, or set SWB_BIN_DIR)"
done
command -v redis-server >/dev/null || die "redis-server not found"

# edges hold up to ~19,000 client sockets each; raise our soft limit to the hard one
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if command -v ss >/dev/null; then
  port_in_use() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }
else # no iproute2: try to connect
  port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
fi

# A free port below the ephemeral range (so the bench's own connections never take it).
free_port() {
  local p i
  for i in $(seq 1 500); do
    p=$((20000 + RANDOM % 12000))
    if ! port_in_use "$p" && [[ " ${USED_PORTS:-} " != *" $p "* ]]; then
      USED_PORTS="${USED_PORTS:-} $p"
      echo "$p"
      return 0
    fi
  done
  return 1
}

stop_pid() { # SIGTERM, up to 5 s, then SIGKILL; only ever pids we started
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not exit within 5 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED_PIDS[i]}"; done
  STARTED_PIDS=()
  if [ "$KEEP" = 1 ] || [ "${BENCH_FAILED:-0}" = 1 ]; then
    log "logs and runtime dirs kept in $WORK"
  else
    rm -rf "$WORK/run" "$WORK"/*.log "$WORK/dump.rdb" 2>/dev/null
    [ "$OUT_DIR" = "$WORK" ] || rm -rf "$WORK"
  fi
}
trap bench_cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

start_redis() {
  REDIS_PORT=$(free_port) || die "no free port for redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis.log" --daemonize no --maxclients 1000 &
  REDIS_PID=$!
  STARTED_PIDS+=("$REDIS_PID")
  local i
  for i in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited (see $WORK/redis.log)"
    sleep 0.05
  done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG || die "redis-server did not answer"
  log "redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT"
}

# start_host NAME: a runtime dir and its bridge
start_host() {
  local name=$1 dir="$WORK/run/$1"
  mkdir -p "$dir"
  "$BIN_DIR/swb-bridge" --runtime-dir "$dir" --redis "redis://127.0.0.1:$REDIS_PORT" --host-id "bench-$name-$$" \
    --redis-prefix "swbbench$$" --log-level warn >"$WORK/bridge-$name.log" 2>&1 &
  STARTED_PIDS+=("$!")
  local i
  for i in $(seq 1 100); do [ -S "$dir/control.ipc" ] && break; sleep 0.05; done
  [ -S "$dir/control.ipc" ] || die "bridge $name did not start (see $WORK/bridge-$name.log)"
  EDGE_PORTS[$name]=""
  log "host $name: bridge pid $! in $dir"
}

http_status() { # http_status PORT PATH -> the status code, or nothing
  local line
  { exec 9<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&9
  read -r -t 2 line <&9 || true
  exec 9<&- 9>&-
  echo "$line" | awk '{print $2}'
}

# start_edges HOST COUNT: COUNT edges of HOST, waiting until each is ready.
# REUSEPORT=1 (default): all of them on ONE free port with --reuseport (the
# kernel spreads connections over them); REUSEPORT=0: one free port each.
start_edges() {
  local host=$1 count=$2 k port i
  if [ "${REUSEPORT:-1}" = 1 ]; then
    start_edges_shared "$host" "$count"
    return
  fi
  for ((k = 0; k < count; k++)); do
    port=$(free_port) || die "no free port for an edge"
    "$BIN_DIR/swb-edge" --runtime-dir "$WORK/run/$host" --listen "127.0.0.1:$port" --app "$APP" \
      --log-level warn >"$WORK/edge-$host-$port.log" 2>&1 &
    STARTED_PIDS+=("$!")
    EDGE_PORTS[$host]="${EDGE_PORTS[$host]} $port"
  done
  for port in ${EDGE_PORTS[$host]}; do
    for i in $(seq 1 200); do
      [ "$(http_status "$port" /readyz)" = 200 ] && break
      sleep 0.05
    done
    [ "$(http_status "$port" /readyz)" = 200 ] || die "edge on :$port (host $host) not ready (see $WORK/edge-$host-$port.log)"
  done
  log "host $host: edges on${EDGE_PORTS[$host]}"
}

# edges of HOST that said Hello to its bridge
edges_up() {
  "$BIN_DIR/swbctl" --runtime-dir "$WORK/run/$1" --json status 2>/dev/null | grep -o '"edge_id"' | wc -l
}

start_edges_shared() {
  local host=$1 count=$2 k port i
  port=$(free_port) || die "no free port for the edges"
  for ((k = 0; k < count; k++)); do
    "$BIN_DIR/swb-edge" --runtime-dir "$WORK/run/$host" --listen "127.0.0.1:$port" --reuseport --app "$APP" \
      --log-level warn >"$WORK/edge-$host-$port-$k.log" 2>&1 &
    STARTED_PIDS+=("$!")
  done
  EDGE_PORTS[$host]=" $port"
  for i in $(seq 1 200); do
    [ "$(edges_up "$host")" -ge "$count" ] && [ "$(http_status "$port" /readyz)" = 200 ] && break
    sleep 0.05
  done
  [ "$(edges_up "$host")" -ge "$count" ] || die "host $host: only $(edges_up "$host") of $count edges up (see $WORK/edge-$host-$port-*.log)"
  log "host $host: $count edge(s) sharing :$port (SO_REUSEPORT)"
}

# --target flags for the edges of the given hosts
targets_of() {
  local h p
  for h in "$@"; do for p in ${EDGE_PORTS[$h]}; do printf -- '--target 127.0.0.1:%s ' "$p"; done; done
}
first_edge_of() { local p; for p in ${EDGE_PORTS[$1]}; do echo "127.0.0.1:$p"; return; done; }

# edges needed for n connections on one host (each edge process: <= 18,000 sockets)
edges_for() { local n=$1 per=${CONNS_PER_EDGE:-18000}; echo $(((n + per - 1) / per > 0 ? (n + per - 1) / per : 1)); }

# run_bench ARGS...: swb-bench with the human report on stdout and the JSON in $OUT_DIR/$SCENARIO.json
run_bench() {
  local out="$OUT_DIR/$SCENARIO.json" rc
  log "swb-bench $*"
  # shellcheck disable=SC2086
  timeout "${BENCH_TIMEOUT:-3600}" "$BIN_DIR/swb-bench" "$@" --json-out "$out" ${BENCH_ARGS:-}
  rc=$?
  [ $rc = 0 ] || BENCH_FAILED=1
  log "swb-bench exit $rc; JSON report: $out"
  return $rc
}
