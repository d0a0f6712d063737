#!/usr/bin/env bash
# test.sh: THE test command. Installs what is missing (deps.sh), the Node test
# packages (npm ci, skipped when tests/node_modules is up to date), builds
# into build/, then runs every test through ctest. Extra arguments go to
# ctest (e.g. scripts/test.sh -R integration). ctest's summary is the last
# thing printed; the exit status is ctest's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/deps.sh

stamp=tests/node_modules/.package-lock.json   # written by npm ci
if [ ! -f "$stamp" ] || [ tests/package-lock.json -nt "$stamp" ] || [ tests/package.json -nt "$stamp" ]; then
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

cmake -S . -B build
cmake --build build -j"$(nproc)"
exec ctest --test-dir build --output-on-failure "$@"
