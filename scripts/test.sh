#!/usr/bin/env bash
# test.sh: THE test command. Installs what is missing (deps.sh), the Node test
# packages (npm ci, skipped when tests/node_modules is up to date), builds
# into build/, then runs every test through ctest. Extra arguments go to
# ctest (e.g. scripts/test.sh -R integration). ctest's summary is the last
# thing printed; the exit status is ctest's.
#
# Unless SWB_TEST_SANITIZERS=0, it first builds two more trees and registers
# their passes as ctest tests of build/ (tests/extra_passes.cmake):
#   build-asan/  gcc, ASan + UBSan: asan.<kind>.<name> = every unit and
#                integration/compat test again against these binaries;
#   build-fuzz/  clang-14, libFuzzer + ASan + UBSan: fuzz.<target> runs each
#                tests/fuzz target for SWB_FUZZ_SECONDS (default 12);
#   and valgrind.<name>: a few integration files with the daemons of
#   build/ under valgrind.
# With SWB_TEST_SANITIZERS=0 those tests are not registered (quick local run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/deps.sh

stamp=tests/node_modules/.package-lock.json   # written by npm ci
if [ ! -f "$stamp" ] || [ tests/package-lock.json -nt "$stamp" ] || [ tests/package.json -nt "$stamp" ]; then
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

jobs=$(nproc)
passes=(-DSWB_ASAN_DIR= -DSWB_FUZZ_DIR= -DSWB_VALGRIND=OFF)
if [ "${SWB_TEST_SANITIZERS:-1}" != 0 ]; then
  cmake -S . -B build-asan -DSWB_SANITIZE=ON
  cmake --build build-asan -j"$jobs"
  CC=clang-14 cmake -S . -B build-fuzz -DSWB_FUZZ=ON -DSWB_TESTS=OFF
  cmake --build build-fuzz -j"$jobs" --target swb_fuzz
  passes=(-DSWB_ASAN_DIR="$PWD/build-asan" -DSWB_FUZZ_DIR="$PWD/build-fuzz" -DSWB_VALGRIND=ON
          -DSWB_FUZZ_SECONDS="${SWB_FUZZ_SECONDS:-12}")
fi
cmake -S . -B build "${passes[@]}"
cmake --build build -j"$jobs"
exec ctest --test-dir build --output-on-failure "$@"
