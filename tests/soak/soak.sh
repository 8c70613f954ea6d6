#!/usr/bin/env bash
# soak.sh --server RMCP_BIN [--seconds N] [--workers N] [-- SOAK_MJS_OPTIONS...]
# The soak test of issue 8 ("Proof"): many clients mixing valid calls, broken ones and dropped connections
# against one `rollout-mcp serve` for --seconds (default 120); RSS must stay flat, no file descriptor may
# leak, no valid call may fail, nothing may get a 5xx, and the server must shut down cleanly afterwards.
#  1. writes a config into a temporary directory (loopback, port 0, auth none, test fixtures, small limits
#     and timeouts so that sessions expire and half-open connections are reaped during the run), starts the
#     server with --port-file and waits (<= 20 s) for GET /healthz = 200;
#  2. runs soak.mjs (the load driver and the judge; see its header for the mix and the criteria) with the
#     server's pid, so it samples /proc/PID (VmRSS, fd count) and /healthz every 5 s;
#  3. stops the server with SIGTERM: it must exit 0 within 10 s;
#  4. the server's log (level warning) must hold no error or warning line besides the start-up ones.
# Exit: 0 all criteria hold; 1 a failure; 2 bad usage; 77 (CTest skip) when no Node >= 18 is found.
# Environment: SOAK_KEEP=1 keeps the temporary directory (config, server.log, report.json).
# SOAK_INJECT=valid|fd|rss|dead breaks one criterion on purpose (self-test: the run must then FAIL):
#   valid/fd/rss as described in soak.mjs; dead kills the server with SIGKILL halfway through the run.
# Longer runs: soak.sh --server build/server/rollout-mcp --seconds 3600 (see README.md here).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../scripts/lib/server_start.sh"
SERVER=""; SECS=120; WORKERS=40; MJS_ARGS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2;;
    --seconds) SECS=$2; shift 2;;
    --workers) WORKERS=$2; shift 2;;
    --) shift; MJS_ARGS=("$@"); break;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2;;
  esac
done
[[ $SECS =~ ^[0-9]+$ ]] && ((SECS >= 10)) || { echo "soak.sh: --seconds N (N >= 10)" >&2; exit 2; }
[[ $WORKERS =~ ^[0-9]+$ ]] && ((WORKERS >= 1)) || { echo "soak.sh: --workers N (N >= 1)" >&2; exit 2; }
[[ -n $SERVER && -x $SERVER ]] || { echo "soak.sh: server binary '$SERVER' not found or not executable (--server)" >&2; exit 1; }
SERVER=$(readlink -f "$SERVER")

pick_node || { echo "SKIP: no Node >= 18 on PATH or under tests/node_modules"; exit 77; }

# Limits of the run (also passed to soak.mjs, which builds its hostile requests from them).
MAX_BODY=65536
MAX_HEADER=8192
REQUEST_TIMEOUT_MS=2000

tmp=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
mkdir -p "$tmp/data"
spid=""; kpid=""
cleanup() {
  if [[ -n $kpid ]] && kill -0 "$kpid" 2>/dev/null; then kill "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null; fi
  if [[ -n $spid ]] && kill -0 "$spid" 2>/dev/null; then kill -KILL "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; fi
  if [[ ${SOAK_KEEP:-0} == 1 ]]; then echo "soak.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "soak.sh: interrupted"; exit 130' INT TERM
log_tail() { echo "---- server log (last ${1:-40} lines of $tmp/server.log) ----"; tail -n "${1:-40}" "$tmp/server.log"; echo "----"; }

cat > "$tmp/config.toml" <<EOF
[server]
bind = "127.0.0.1"
port = 0
max_body_bytes = $MAX_BODY
max_header_bytes = $MAX_HEADER
# Half-open and idle keep-alive connections are reaped after this; a stalled SSE reader after write_timeout.
request_timeout_ms = $REQUEST_TIMEOUT_MS
write_timeout_ms = 2000
max_connections = 2000
shutdown_grace_ms = 5000

[mcp]
test_fixtures = true
# Abandoned sessions expire during the run (steady state well within the warm-up).
session_idle_timeout_s = 20
# Far above what the run keeps alive (a few hundred to ~2000 sessions), so no initialize meets a 503.
max_sessions = 10000
max_sessions_per_team = 10000
# Dropped GET streams are noticed at the next keepalive write.
sse_keepalive_ms = 5000
# 40 clients of one team at full speed: this run is about leaks and 5xx, not per-team pacing (tested in
# tests/server/team_rate_limit_test.cpp and bench/flood_isolation.sh), which would turn most calls into waits.
requests_per_second_per_team = 0

[storage]
data_dir = "$tmp/data"

[auth]
mode = "none"

[log]
level = "warning"
EOF

start=$SECONDS
( cd "$tmp" && exec "$SERVER" serve --config "$tmp/config.toml" --port-file "$tmp/port" ) > "$tmp/server.log" 2>&1 &
spid=$!
if ! await_listening "$spid" "$tmp/port" /healthz 20; then
  echo "soak.sh: FAIL server $LISTEN_PROBLEM"; log_tail; exit 1
fi
port=$LISTEN_PORT
echo "soak.sh: $SERVER serving http://127.0.0.1:$port/mcp (pid $spid); $SECS s, $WORKERS workers${SOAK_INJECT:+, SOAK_INJECT=$SOAK_INJECT}"

inject=${SOAK_INJECT:-}
if [[ $inject == dead ]]; then
  ( sleep $((SECS / 2)); echo "soak.sh: SOAK_INJECT=dead: SIGKILL to the server"; kill -KILL "$spid" ) &
  kpid=$!
  inject=""
fi

# The driver's own bound: the load, 30 s to drain, the settle wait, start-up slack.
timeout --kill-after=5 $((SECS + 120)) "${NODE[@]}" "$here/soak.mjs" --base "http://127.0.0.1:$port" --pid "$spid" \
  --seconds "$SECS" --workers "$WORKERS" --max-body-bytes "$MAX_BODY" --max-header-bytes "$MAX_HEADER" \
  --request-timeout-ms "$REQUEST_TIMEOUT_MS" --report "$tmp/report.json" ${inject:+--inject "$inject"} "${MJS_ARGS[@]}"
crc=$?
((crc == 124)) && echo "soak.sh: FAIL the load driver did not finish within $((SECS + 120)) s"
failed=0
((crc != 0)) && failed=1

# Graceful stop: SIGTERM, then the server must exit 0 within 10 s.
if kill -0 "$spid" 2>/dev/null; then
  kill -TERM "$spid"
  for ((i = 0; i < 100; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$spid" 2>/dev/null; then
    echo "soak.sh: FAIL server still running 10 s after SIGTERM; killing it"
    kill -KILL "$spid"; wait "$spid" 2>/dev/null; spid=""; failed=1
  else
    wait "$spid"; rc=$?; spid=""
    if ((rc != 0)); then echo "soak.sh: FAIL server exited with status $rc after SIGTERM"; failed=1
    else echo "soak.sh: server exited 0 after SIGTERM (a watchdog exit would be an unexpected warning below)"; fi
  fi
else
  wait "$spid"; rc=$?; spid=""
  echo "soak.sh: FAIL server died during the run (status $rc)"; failed=1
fi

# The log: JSON lines at level warning and above; only the two start-up warnings are expected (plus the
# plain-text development-key notice).
unexpected=$(grep '"level":"\(warning\|error\|critical\)"' "$tmp/server.log" \
  | grep -v -e 'auth.mode = \\"none\\"' -e 'test fixture tools are registered' || true)
if [[ -n $unexpected ]]; then
  n=$(printf '%s\n' "$unexpected" | wc -l)
  echo "soak.sh: FAIL $n unexpected warning/error line(s) in the server log; by message:"
  printf '%s\n' "$unexpected" | sed -E 's/^\{"time":"[^"]*",//' | cut -c1-300 | sort | uniq -c | sort -rn | head -20
  failed=1
fi

echo "soak.sh: run time $((SECONDS - start)) s"
if ((failed)); then log_tail 20; echo "soak.sh: FAIL"; exit 1; fi
echo "soak.sh: PASS"
exit 0
