#!/usr/bin/env bash
# test.sh: installs every dependency, builds, and runs the whole test suite: first the optimized build
# (unit, loopback integration, Node.js end-to-end and the MCP conformance suite), then the unit and
# integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then a short run of every
# libFuzzer target (clang-14, ASan + UBSan; bounded to 5 minutes with its build). Prints ctest's summaries.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" || exit 1
status=0

echo "=== build (RelWithDebInfo) ==="
"$root/scripts/build.sh" "$root/build" || exit 1
echo "=== tests (RelWithDebInfo) ==="
ctest --test-dir "$root/build" --output-on-failure --timeout 600 -j 2 || status=1

echo "=== build (AddressSanitizer + UndefinedBehaviorSanitizer) ==="
"$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
  -DROLLOUT_MCP_SANITIZE=ON -DROLLOUT_MCP_BENCH=OFF || exit 1
echo "=== tests (ASan + UBSan: unit and integration) ==="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$root/build-asan" --output-on-failure --timeout 600 -j 2 -LE node || status=1

echo "=== fuzz smoke (every target ${FUZZ_SECONDS:=12} s, ASan + UBSan) ==="
timeout 330 "$root/scripts/fuzz.sh" all "$FUZZ_SECONDS" || { echo "fuzz smoke: FAILED (see build-fuzz/logs)"; status=1; }

exit $status
