#!/usr/bin/env bash
# deps.sh: installs what Switchboard needs to build, run and test on Debian 12,
# as root or through sudo. Does nothing (and never calls apt) when everything
# is already there, so it is cheap to run before every build.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config      # compiler and build
  libwebsockets-dev libwebsockets-evlib-uv  # client WebSockets + HTTP API (libuv event lib)
  libhiredis-dev                        # async Redis client (bridge)
  libnng-dev                            # edge <-> bridge IPC
  libprotobuf-c-dev protobuf-c-compiler # edge <-> bridge / Redis envelope encoding
  libcjson-dev                          # Pusher JSON
  libuv1-dev                            # the event loop of both daemons
  uthash-dev                            # hash tables
  libssl-dev                            # HMAC-SHA256 / MD5 for Pusher auth; TLS on the edge
  openssl                               # tests: the TLS test makes its certificates with the openssl CLI
  libcurl4-openssl-dev                  # edge: webhook HTTP POSTs
  libinih-dev                           # the daemons' config file (INI)
  libcmocka-dev                         # unit tests
  clang-14 libclang-rt-14-dev           # fuzz targets: clang + libFuzzer (libclang_rt.fuzzer)
  valgrind                              # the valgrind.* test pass
  redis-server redis-tools              # the bus, and the integration tests
  chromium                              # compat test: pusher-js in a headless browser (large; only when missing)
  gnuplot-nox                           # tests/bench/plot.sh: the latency plot of docs/benchmarks.md
  liburing-dev                          # edge/uring.c (delivery writes) and swb-send-floor
)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: dpkg-query not found; this script supports Debian 12 (install the packages listed in it by hand)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
    missing+=("$p")
  fi
done
# Node.js for the integration / compatibility tests (any install of node will do).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "deps.sh: missing packages (${missing[*]}) and not root, and sudo is not installed" >&2
    exit 1
  fi
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
