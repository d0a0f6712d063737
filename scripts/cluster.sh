#!/usr/bin/env bash
# cluster.sh: THE run command. Builds Switchboard and runs a two-host demo
# cluster on this machine in the foreground:
#   redis-server   on 127.0.0.1:6379 if free, otherwise the first free port from 6380
#   host A         runtime dir ./run/a: swb-bridge + swb-edge on :6001 and :6002
#   host B         runtime dir ./run/b: swb-bridge + swb-edge on :6003
# Logs go to ./run/*.log. Ctrl-C stops exactly the processes started here.
# Environment: SWB_DEMO_APP=ID:KEY:SECRET (default demo:demo-key:demo-secret),
#              SWB_EDGE_PORTS="6001 6002 6003", SWB_LISTEN_HOST (default 127.0.0.1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"

APP=${SWB_DEMO_APP:-demo:demo-key:demo-secret}
IFS=: read -r APP_ID APP_KEY APP_SECRET <<<"$APP"
read -r -a PORTS <<<"${SWB_EDGE_PORTS:-6001 6002 6003}"
LISTEN_HOST=${SWB_LISTEN_HOST:-127.0.0.1}
BIN=$root/build/bin
RUN=$root/run

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "${PORTS[@]}"; do
  if in_use "$p"; then echo "cluster.sh: port $p is in use (set SWB_EDGE_PORTS)" >&2; exit 1; fi
done
REDIS_PORT=6379
while in_use "$REDIS_PORT"; do REDIS_PORT=$((REDIS_PORT == 6379 ? 6380 : REDIS_PORT + 1)); done
REDIS_URL=redis://127.0.0.1:$REDIS_PORT

mkdir -p "$RUN/a" "$RUN/b" "$RUN/redis"
chmod 700 "$RUN/a" "$RUN/b"
echo '*' >"$RUN/.gitignore"   # runtime state and logs never belong in git

pids=()   # everything started here, in start order
names=()
start() { # name logfile cmd...
  local name=$1 log=$2; shift 2
  "$@" >>"$log" 2>&1 &
  pids+=($!); names+=("$name")
}

stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM
  echo
  echo "stopping ${#pids[@]} processes..."
  # reverse start order: edges, then bridges, then redis
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for ((t = 0; t < 50; t++)); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped."
}
trap 'stop_all; exit 130' INT TERM
trap 'stop_all' EXIT

wait_until() { # what timeout_s cmd...
  local what=$1 tmo=$2; shift 2
  for ((t = 0; t < tmo * 10; t++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "cluster.sh: $what did not come up within ${tmo}s; see $RUN/*.log" >&2
  exit 1
}
http_ok() { # port path: true if the answer is 200
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$2" >&3
  local line=""; IFS= read -r -t 2 line <&3; exec 3<&-
  [[ $line == *" 200 "* ]]
}

start redis "$RUN/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$RUN/redis"
wait_until "redis-server" 10 redis-cli -p "$REDIS_PORT" ping

for h in a b; do
  start "bridge-$h" "$RUN/bridge-$h.log" "$BIN/swb-bridge" --runtime-dir "$RUN/$h" --redis "$REDIS_URL" --host-id "$h"
done
for h in a b; do wait_until "bridge $h" 10 "$BIN/swbctl" --runtime-dir "$RUN/$h" status; done

edge_hosts=(a a b)
for i in 0 1 2; do
  h=${edge_hosts[i]}; p=${PORTS[i]}
  start "edge-$h-$p" "$RUN/edge-$h-$p.log" "$BIN/swb-edge" --runtime-dir "$RUN/$h" \
    --listen "$LISTEN_HOST:$p" --app "$APP_ID:$APP_KEY:$APP_SECRET"
done
for p in "${PORTS[@]}"; do wait_until "edge :$p" 10 http_ok "$p" /readyz; done

cat <<MSG

Switchboard is running (Ctrl-C stops it):
  redis-server  $REDIS_URL
  host A        $RUN/a   swb-bridge + swb-edge :${PORTS[0]} :${PORTS[1]}
  host B        $RUN/b   swb-bridge + swb-edge :${PORTS[2]}
  logs          $RUN/*.log

Demo app:  id $APP_ID   key $APP_KEY   secret $APP_SECRET
  WebSocket  ws://$LISTEN_HOST:${PORTS[2]}/app/$APP_KEY?protocol=7   (any edge)
  pusher-js  new Pusher('$APP_KEY', {cluster: '', wsHost: '$LISTEN_HOST', wsPort: ${PORTS[2]},
                        forceTLS: false, enabledTransports: ['ws']})

Publish through host A, deliver on every host (no curl needed):
  node scripts/publish.js --port ${PORTS[0]} --app $APP_ID:$APP_KEY:$APP_SECRET --channel my-channel --event my-event --data '{"hello":"world"}'
Look inside:
  build/bin/swbctl --runtime-dir $RUN/a status
  build/bin/swbctl --runtime-dir $RUN/b --json status

MSG

# Stay in the foreground until Ctrl-C or until one of the processes dies.
set +e
wait -n "${pids[@]}"
rc=$?
for i in "${!pids[@]}"; do
  if ! kill -0 "${pids[i]}" 2>/dev/null; then echo "cluster.sh: ${names[i]} exited (status $rc); see $RUN/" >&2; fi
done
exit 1
