#!/usr/bin/env bash
# test.sh: installs every dependency, builds, and runs the whole test suite: first the optimized build
# (unit, loopback integration, Node.js end-to-end and the MCP conformance suite), then the unit and
# integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer (clang-14), then a short run
# of every libFuzzer target from that same build (bounded to 5 minutes). Prints ctest's summaries.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Each stage prints how long it took (CI has a time budget: README, "Tests").
stage_start=$SECONDS
stage() {
  [[ -n ${stage_name:-} ]] && echo "--- ${stage_name}: $((SECONDS - stage_start)) s"
  stage_name=$1 stage_start=$SECONDS
  echo "=== $1 ==="
}
stage "install dependencies"
"$root/scripts/install-deps.sh" || exit 1
status=0

stage "build (RelWithDebInfo)"
# The server and the fakes at -O2 with line tables only (-g1: a quarter less compile time than -g, and a
# backtrace still names file:line), the test code at -O1 -g1 (tests/CMakeLists.txt).
"$root/scripts/build.sh" "$root/build" -DROLLOUT_MCP_WERROR=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  "-DROLLOUT_MCP_TEST_CODE_OPTIONS=-O1;-g1" || exit 1

# A throwaway PostgreSQL cluster for the storage, sync and tool suites' second run (label `postgresql`), on a
# loopback port, stopped however this script ends.
stage "start PostgreSQL (throwaway cluster)"
pg_dir=$(mktemp -d /tmp/rollout-mcp-pg.XXXXXX)
trap '"$root/scripts/pg_cluster.sh" stop "$pg_dir"' EXIT
pg_port=$((20000 + RANDOM % 20000))   # a collision makes pg_cluster.sh fail with PostgreSQL's log
ROLLOUT_MCP_TEST_PG_URL=$("$root/scripts/pg_cluster.sh" start "$pg_dir" "$pg_port") || exit 1
export ROLLOUT_MCP_TEST_PG_URL

stage "tests (RelWithDebInfo; SQLite, and PostgreSQL for the storage, sync and tool suites)"
ctest --test-dir "$root/build" --output-on-failure --timeout 600 -j 2 || status=1

# One clang-14 build serves the sanitizer tests and the fuzz targets (compiling Beast/Asio once, not twice).
stage "build (clang-14, AddressSanitizer + UndefinedBehaviorSanitizer, with the libFuzzer targets)"
# The code under test at -O1 (the sanitizers' usual level), the test code at -O0 (its coroutine-heavy files
# compile in less than half the time, and run as fast as the sanitizers let them anyway); -g1 (line tables, no
# variable info): reports keep file:line, and the Boost-heavy objects compile much faster.
CC=clang-14 CXX=clang++-14 "$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  "-DROLLOUT_MCP_TEST_CODE_OPTIONS=-O0;-g1" \
  -DROLLOUT_MCP_SANITIZE=ON -DROLLOUT_MCP_FUZZ=ON -DROLLOUT_MCP_BENCH=OFF -DROLLOUT_MCP_WERROR=ON || exit 1
stage "tests (ASan + UBSan: unit and integration)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The PostgreSQL runs repeat the same code paths; under the sanitizers the SQLite runs cover them.
ctest --test-dir "$root/build-asan" --output-on-failure --timeout 600 -j 2 -LE "node|postgresql" || status=1

stage "fuzz smoke (every target ${FUZZ_SECONDS:=4} s, ASan + UBSan)"
unset ASAN_OPTIONS UBSAN_OPTIONS   # fuzz.sh sets its own (a finding must not abort before libFuzzer reports it)
FUZZ_BUILD_DIR="$root/build-asan" timeout 300 "$root/scripts/fuzz.sh" all "$FUZZ_SECONDS" ||
  { echo "fuzz smoke: FAILED (see build-asan/logs)"; status=1; }

stage "done"
echo "--- total: ${SECONDS} s"
exit $status
