#!/usr/bin/env bash
# with_server.sh [options] -- COMMAND [ARGS...]
# Starts `SERVER serve --config <generated TOML> --port-file <file>` on a free loopback port,
# waits (at most 20 s) for `GET /healthz` to answer 200, runs COMMAND with every `{URL}` in its
# arguments replaced by the MCP endpoint URL (also exported as MCP_URL; MCP_BASE_URL and
# MCP_SERVER_PID too), then stops the server with SIGTERM and checks that it exits 0 within 10 s.
# Exit status: COMMAND's status if non-zero, else 1 if the server failed to start or to shut down
# cleanly, else 0. 77 (CTest's skip code) when a --require path is missing.
#
# Options:
#   --server BIN        server binary (default: $ROLLOUT_MCP_BIN)
#   --require PATH      skip (exit 77) unless PATH exists (e.g. tests/node_modules/...)
#   --toml-extra FILE   append FILE to the generated config (new sections only: TOML forbids
#                       repeating [server], [mcp], [storage], [auth])
#   --path PATH         MCP endpoint path (default /mcp)
#   --timeout SECS      bound on COMMAND (default 300); on expiry it is killed and counts as failed
#   --tls FAKE_BIN      serve HTTPS: FAKE_BIN --write-test-tls makes a CA and a localhost certificate; the
#                       URL becomes https://localhost:PORT/... and NODE_EXTRA_CA_CERTS trusts the CA
# Environment: WITH_SERVER_KEEP=1 keeps the temporary directory (config, data dir, server.log).
# ROLLOUT_MCP_* variables reach the server: a COMMAND that runs a fake Rollout passes its exact origin as
# ROLLOUT_MCP_ROLLOUT_ALLOWED_BASE_URLS (none of today's COMMANDs configures a Rollout baseUrl).
# The generated config: [server] bind = "127.0.0.1", port = 0; [mcp] test_fixtures = true;
# [storage] data_dir = <temp dir>/data; [auth] mode = "none".
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/server_start.sh"
SERVER=${ROLLOUT_MCP_BIN:-}; REQUIRE=(); EXTRA=""; MCP_PATH=/mcp; CMD_TIMEOUT=300; TLS_FROM=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2;;
    --require) REQUIRE+=("$2"); shift 2;;
    --toml-extra) EXTRA=$2; shift 2;;
    --path) MCP_PATH=$2; shift 2;;
    --timeout) CMD_TIMEOUT=$2; shift 2;;
    --tls) TLS_FROM=$2; shift 2;;
    --) shift; break;;
    *) echo "with_server.sh: unknown option $1" >&2; exit 2;;
  esac
done
[[ $# -gt 0 ]] || { echo "usage: with_server.sh [--server BIN] [--require PATH] -- COMMAND [ARGS...]" >&2; exit 2; }
for r in "${REQUIRE[@]}"; do
  if [[ ! -e $r ]]; then echo "SKIP: $r is missing (run: cd tests && npm ci)"; exit 77; fi
done
[[ -n $SERVER && -x $SERVER ]] || { echo "with_server.sh: server binary '$SERVER' not found or not executable" >&2; exit 1; }
SERVER=$(readlink -f "$SERVER")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/with_server.XXXXXX")
mkdir -p "$tmp/data"
TLS_LINES=""
if [[ -n $TLS_FROM ]]; then
  mkdir -p "$tmp/tls"
  "$TLS_FROM" --write-test-tls "$tmp/tls" || { echo "with_server.sh: $TLS_FROM --write-test-tls failed" >&2; exit 1; }
  TLS_LINES="tls_cert_file = \"$tmp/tls/cert.pem\"
tls_key_file = \"$tmp/tls/key.pem\""
fi
cat > "$tmp/config.toml" <<EOF
[server]
bind = "127.0.0.1"
port = 0
$TLS_LINES

[mcp]
test_fixtures = true

[storage]
data_dir = "$tmp/data"

[auth]
mode = "none"
EOF
[[ -n $EXTRA ]] && { echo; cat "$EXTRA"; } >> "$tmp/config.toml"

spid=""
server_log_tail() { echo "---- server log (last 40 lines of $tmp/server.log) ----"; tail -n 40 "$tmp/server.log"; echo "----"; }
cleanup() {
  if [[ -n $spid ]] && kill -0 "$spid" 2>/dev/null; then kill -KILL "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; fi
  if [[ ${WITH_SERVER_KEEP:-0} == 1 ]]; then echo "with_server.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "with_server.sh: interrupted"; exit 130' INT TERM

( cd "$tmp" && exec "$SERVER" serve --config "$tmp/config.toml" --port-file "$tmp/port" ) > "$tmp/server.log" 2>&1 &
spid=$!

base=http://127.0.0.1; curl_tls=()
if [[ -n $TLS_FROM ]]; then
  base=https://localhost; curl_tls=(--cacert "$tmp/tls/ca.pem")
  export NODE_EXTRA_CA_CERTS="$tmp/tls/ca.pem"
fi
if ! await_listening "$spid" "$tmp/port" /healthz 20 "$base" "${curl_tls[@]}"; then
  echo "with_server.sh: server $LISTEN_PROBLEM"; server_log_tail; exit 1
fi
port=$LISTEN_PORT
export MCP_BASE_URL="$base:$port" MCP_URL="$base:$port$MCP_PATH" MCP_SERVER_PID=$spid
echo "with_server.sh: $SERVER serving $MCP_URL (pid $spid)"

args=()
for a in "$@"; do args+=("${a//\{URL\}/$MCP_URL}"); done
timeout --kill-after=5 "$CMD_TIMEOUT" "${args[@]}"
crc=$?
((crc == 124)) && echo "with_server.sh: command timed out after ${CMD_TIMEOUT}s"

# Graceful stop: SIGTERM, then the server must exit 0 within 10 s with its io_context run dry (no watchdog).
src=0
if kill -0 "$spid" 2>/dev/null; then
  kill -TERM "$spid"
  for ((i = 0; i < 100; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$spid" 2>/dev/null; then
    echo "with_server.sh: FAIL server still running 10 s after SIGTERM; killing it"
    kill -KILL "$spid"; wait "$spid" 2>/dev/null; spid=""; src=1
  else
    wait "$spid"; rc=$?; spid=""
    if ((rc != 0)); then echo "with_server.sh: FAIL server exited with status $rc after SIGTERM"; src=1
    elif grep -q "shutdown did not finish" "$tmp/server.log"; then
      echo "with_server.sh: FAIL the shutdown left work running (the watchdog ended the process)"; src=1
    else echo "with_server.sh: server exited 0 after SIGTERM, every coroutine ended"; fi
  fi
else
  wait "$spid"; rc=$?; spid=""
  echo "with_server.sh: FAIL server died while the command ran (status $rc)"; src=1
fi
if ((crc != 0 || src != 0)); then server_log_tail; fi
((crc != 0)) && exit $crc
exit $src
