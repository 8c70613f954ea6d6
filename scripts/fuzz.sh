#!/usr/bin/env bash
# fuzz.sh TARGET SECONDS [libFuzzer args...]: builds the libFuzzer targets (clang-14, ASan + UBSan) into
# build-fuzz/ when needed and runs TARGET for SECONDS on its corpus and dictionary.
# fuzz.sh all SECONDS [libFuzzer args...]: every target in turn, SECONDS each (CI: `fuzz.sh all 20`).
# fuzz.sh list: the target names.
#
# Corpus: tests/fuzz/corpus/TARGET (seeds, read only) plus build-fuzz/corpus/TARGET (what runs add).
# Crashes, leaks, timeouts and OOMs: build-fuzz/crashes/TARGET/ (reproduce: build-fuzz/tests/fuzz/fuzz_TARGET
# FILE). Logs: build-fuzz/logs/TARGET.log. Exit status: 0 when no target found anything, 1 otherwise.
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build parallelism, default nproc),
# FUZZ_WORKERS (parallel fuzzing processes per target, default 1; >1 uses -fork).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
workers=${FUZZ_WORKERS:-1}
targets=(http_request jsonrpc sse_event_id tool_arguments config_toml rollout_responses outbound_request sealed_blob)

usage() {
  echo "usage: fuzz.sh TARGET|all SECONDS [libFuzzer args...] | fuzz.sh list" >&2
  echo "targets: ${targets[*]}" >&2
  exit 2
}

# Dictionary parts (tests/fuzz/dict/*.dict) and input size cap per target.
dict_parts() {
  case $1 in
    http_request) echo "http json mcp" ;;
    jsonrpc) echo "json mcp" ;;
    tool_arguments) echo "json mcp rollout" ;;
    config_toml) echo "toml" ;;
    rollout_responses) echo "json rollout" ;;
    outbound_request) echo "http" ;;
    *) echo "" ;;
  esac
}
max_len() {
  case $1 in
    http_request) echo 20000 ;;   # past max_header_bytes (16 KiB)
    jsonrpc | tool_arguments | config_toml) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

[[ ${1:-} == list ]] && { printf '%s\n' "${targets[@]}"; exit 0; }
[[ $# -ge 2 ]] || usage
target=$1
seconds=$2
shift 2
[[ $seconds =~ ^[0-9]+$ ]] || usage
if [[ $target != all ]] && [[ ! " ${targets[*]} " == *" $target "* ]]; then usage; fi

build_fuzzers() {
  mkdir -p "$build"
  # Several fuzz.sh runs may share the build directory: one build at a time.
  exec 9>"$build/.fuzz-build.lock"
  flock 9
  if [[ ! -f $build/build.ninja ]]; then
    command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang++-14 missing (scripts/install-deps.sh)" >&2; exit 1; }
    CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DROLLOUT_MCP_FUZZ=ON -DROLLOUT_MCP_SANITIZE=ON -DROLLOUT_MCP_TESTS=OFF -DROLLOUT_MCP_BENCH=OFF >/dev/null
  fi
  if [[ $1 == all ]]; then cmake --build "$build" --target fuzz_all -j "$jobs"
  else cmake --build "$build" --target "fuzz_$1" -j "$jobs"; fi
  flock -u 9
}

run_one() {
  local t=$1
  shift
  local bin=$build/tests/fuzz/fuzz_$t
  local work=$build/corpus/$t crashes=$build/crashes/$t log=$build/logs/$t.log
  mkdir -p "$work" "$crashes" "$build/logs"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")"
              -artifact_prefix="$crashes/" -print_final_stats=1)
  local parts dict=$build/dict/$t.dict
  parts=$(dict_parts "$t")
  if [[ -n $parts ]]; then
    mkdir -p "$build/dict"
    : >"$dict"
    for p in $parts; do cat "$root/tests/fuzz/dict/$p.dict" >>"$dict"; done
    args+=(-dict="$dict")
  fi
  ((workers > 1)) && args+=(-fork="$workers" -ignore_crashes=0)
  echo "=== fuzz $t: ${seconds}s (log: $log)"
  touch "$crashes/.run-start"
  local rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" "${args[@]}" "$@" "$work" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  # One summary line: executions, coverage, corpus, speed.
  local done_line execs
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$' || true)
  echo "    execs=${execs:-?} ${done_line#*  }"
  if ((rc != 0)); then
    echo "    FAILED (exit $rc): $(grep -E 'ERROR: |SUMMARY: |fuzz property violated|runtime error' "$log" | head -3 | tr '\n' ' ')"
    echo "    artifacts: $(find "$crashes" -type f -newer "$crashes/.run-start" ! -name .run-start | head -3 | tr '\n' ' ')"
    return 1
  fi
}

build_fuzzers "$target"
status=0
if [[ $target == all ]]; then
  for t in "${targets[@]}"; do run_one "$t" "$@" || status=1; done
else
  run_one "$target" "$@" || status=1
fi
exit $status
