#!/usr/bin/env bash
# rollout_e2e.sh --server RMCP_BIN --fake FAKE_BIN [--tls] [--inbound-tls] [--timeout SECS]
# (--inbound-tls: rollout-mcp itself serves HTTPS with a throw-away CA from `FAKE_BIN --write-test-tls`, the
#  SDK client reaches https://localhost:PORT/mcp trusting that CA through NODE_EXTRA_CA_CERTS, and SIGHUP
#  reloads the certificate: a mismatched pair is refused, a new pair is served)
# End-to-end test of the Rollout tools (issue 6 "Proof", issue 3 team isolation):
#  1. starts fake-rollout on free loopback port(s) with a random client secret (--tls: also its TLS
#     listener, with a throw-away CA written to CA.pem, plus a second TLS fake whose CA is not trusted),
#  2. writes a config (auth api_key, port 0, temp data_dir; [rollout] allowed_base_urls = the fakes' origins;
#     --tls: [rollout] extra_ca_file = CA.pem),
#  3. creates two teams with `rollout-mcp tenant create` and reads their tenant ids from `tenant list`,
#  4. starts `rollout-mcp serve`, waits for /healthz,
#  5. runs rollout_e2e.mjs (Node 22 from tests/node_modules) with the URLs, keys, tenant ids and secret,
#  5b. checks GET /metrics (expected families; `promtool check metrics` when installed),
#  6. stops both with SIGTERM (the server must exit 0 within 10 s) and greps the server's log for every
#     secret used (client secrets, API keys, the Rollout tokens the server sent): none may appear.
# Exit: 0 all good; 1 failure; 77 (CTest skip) when tests/node_modules lacks the MCP SDK.
# ROLLOUT_E2E_KEEP=1 keeps the temporary directory (config, data, logs). ROLLOUT_E2E_SERVER_WRAPPER runs the
# server under a tool (e.g. "valgrind --error-exitcode=99 --soname-synonyms=somalloc=*jemalloc*": the server runs on
# jemalloc; start-up and shutdown bounds grow to 120 s / 60 s).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tests_dir=$(cd "$here/.." && pwd)
. "$here/../../scripts/lib/server_start.sh"
SERVER=""; FAKE=""; TLS=0; INBOUND_TLS=0; CMD_TIMEOUT=150
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2;;
    --fake) FAKE=$2; shift 2;;
    --tls) TLS=1; shift;;
    --inbound-tls) INBOUND_TLS=1; shift;;
    --timeout) CMD_TIMEOUT=$2; shift 2;;
    *) echo "rollout_e2e.sh: unknown option $1" >&2; exit 2;;
  esac
done
if [[ ! -e $tests_dir/node_modules/@modelcontextprotocol/sdk/package.json ]]; then
  echo "SKIP: $tests_dir/node_modules/@modelcontextprotocol/sdk is missing (run: cd tests && npm ci)"; exit 77
fi
for b in "$SERVER" "$FAKE"; do
  [[ -n $b && -x $b ]] || { echo "rollout_e2e.sh: binary '$b' not found or not executable (--server, --fake)" >&2; exit 1; }
done
SERVER=$(readlink -f "$SERVER"); FAKE=$(readlink -f "$FAKE")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rollout_e2e.XXXXXX")
mkdir -p "$tmp/data"
spid=""; fpid=""; f2pid=""
stop_pid() {  # stop_pid PID: SIGKILL if still alive (cleanup path only)
  if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; fi
}
cleanup() {
  stop_pid "$spid"; stop_pid "$fpid"; stop_pid "$f2pid"
  if [[ ${ROLLOUT_E2E_KEEP:-0} == 1 ]]; then echo "rollout_e2e.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "rollout_e2e.sh: interrupted"; exit 130' INT TERM
log_tail() { echo "---- $1 (last 40 lines) ----"; tail -n 40 "$1"; echo "----"; }
die() {
  echo "rollout_e2e.sh: FAIL $*"
  local f; for f in "$tmp/server.log" "$tmp/fake.log" "$tmp/untrusted-fake.log"; do [[ -f $f ]] && log_tail "$f"; done
  exit 1
}

# A random client secret (HS512 key) for this run.
SECRET="e2e-$(od -An -N24 -tx1 /dev/urandom | tr -dc '0-9a-f')"

# 1. The fake Rollout. start_fake NAME ARGS...: starts it, waits for its port file and /_fake/health
# (20 s), sets FAKE_PID, FAKE_PORT, FAKE_TLS_PORT.
start_fake() {
  local name=$1; shift
  "$FAKE" --bind 127.0.0.1 --port 0 --port-file "$tmp/$name.port" "$@" > "$tmp/$name.log" 2>&1 &
  FAKE_PID=$!; FAKE_PORT=""; FAKE_TLS_PORT=""
  # The port file is written once (renamed into place) after every listener is up.
  await_listening "$FAKE_PID" "$tmp/$name.port" /_fake/health 20 || { echo "$name $LISTEN_PROBLEM"; return 1; }
  read -r FAKE_PORT FAKE_TLS_PORT < "$tmp/$name.port"
}
fake_args=(--client-secret "$SECRET")
((TLS)) && fake_args+=(--tls-port 0 --ca-out "$tmp/ca.pem")
start_fake fake "${fake_args[@]}"; frc=$?; fpid=$FAKE_PID
((frc == 0)) || die "fake-rollout did not start"
fport=$FAKE_PORT; tport=$FAKE_TLS_PORT
((TLS)) && { [[ -n $tport && -s $tmp/ca.pem ]] || die "fake-rollout gave no TLS port or CA file"; }
FAKE_URL="http://127.0.0.1:$fport"
if ((TLS)); then BASE_URL="https://localhost:$tport"; else BASE_URL=$FAKE_URL; fi
echo "rollout_e2e.sh: fake Rollout at $FAKE_URL (teams use $BASE_URL), pid $fpid"
UNTRUSTED_URL=""
if ((TLS)); then
  # A second fake with its own throw-away CA, which the server is not told to trust.
  start_fake untrusted-fake --client-secret "$SECRET" --tls-port 0; frc=$?; f2pid=$FAKE_PID
  ((frc == 0)) || die "the second (untrusted) fake-rollout did not start"
  [[ -n $FAKE_TLS_PORT ]] || die "the second fake-rollout gave no TLS port"
  UNTRUSTED_URL="https://localhost:$FAKE_TLS_PORT"
  echo "rollout_e2e.sh: untrusted TLS fake at $UNTRUSTED_URL, pid $f2pid"
fi

# 2. The server's config. Teams may give only the listed origins as baseUrl: the one they use, and the
# untrusted TLS fake (so its check fails on the certificate, not on the list).
ALLOWED="\"$BASE_URL\""
((TLS)) && ALLOWED+=", \"$UNTRUSTED_URL\""
if ((INBOUND_TLS)); then
  mkdir -p "$tmp/inbound"
  "$FAKE" --write-test-tls "$tmp/inbound" || die "fake-rollout --write-test-tls failed"
fi
cat > "$tmp/config.toml" <<EOF
[server]
bind = "127.0.0.1"
port = 0
$( ((INBOUND_TLS)) && printf 'tls_cert_file = "%s"\ntls_key_file = "%s"\n' "$tmp/inbound/cert.pem" "$tmp/inbound/key.pem")

[storage]
data_dir = "$tmp/data"

[auth]
mode = "api_key"

[rollout]
request_timeout_ms = 10000
extra_ca_file = "$( ((TLS)) && echo "$tmp/ca.pem")"
allowed_base_urls = [$ALLOWED]

[sync]
wait_ms = 4000            # short waits and fast retries keep the outbox checks quick
backoff_base_ms = 200
backoff_max_ms = 1500

[log]
level = "debug"
EOF

# 3. Two teams.
create_team() {  # create_team NAME -> prints the API key
  local out key
  out=$("$SERVER" tenant create "$1" -c "$tmp/config.toml" 2>>"$tmp/admin.log") || { echo "tenant create $1 failed: $(cat "$tmp/admin.log")" >&2; return 1; }
  key=$(sed -n 's/^API key (shown once, store it now): *//p' <<<"$out" | tr -d '[:space:]')
  [[ $key == rmcp_* ]] || { echo "tenant create $1 printed no API key" >&2; return 1; }
  printf '%s' "$key"
}
tenant_id() {  # tenant_id NAME -> the id from `tenant list` (name<TAB>tenant_id<TAB>keys=N)
  "$SERVER" tenant list -c "$tmp/config.toml" 2>>"$tmp/admin.log" | awk -F'\t' -v n="$1" '$1 == n { print $2 }'
}
KEY_A=$(create_team e2e-team-a) || die "could not create team A"
KEY_B=$(create_team e2e-team-b) || die "could not create team B"
TENANT_A=$(tenant_id e2e-team-a); TENANT_B=$(tenant_id e2e-team-b)
[[ -n $TENANT_A && -n $TENANT_B && $TENANT_A != "$TENANT_B" ]] || die "tenant ids from 'tenant list': '$TENANT_A' '$TENANT_B'"
echo "rollout_e2e.sh: teams $TENANT_A and $TENANT_B"

# 4. The server.
# ROLLOUT_E2E_SERVER_WRAPPER (e.g. "valgrind --error-exitcode=99") runs the server under a tool.
read -r -a wrapper <<<"${ROLLOUT_E2E_SERVER_WRAPPER:-}"
( cd "$tmp" && exec "${wrapper[@]}" "$SERVER" serve -c "$tmp/config.toml" --port-file "$tmp/server.port" ) > "$tmp/server.out" 2> "$tmp/server.log" &
spid=$!
start_secs=20; ((${#wrapper[@]})) && start_secs=120
mcp_base=http://127.0.0.1; curl_tls=()
if ((INBOUND_TLS)); then
  mcp_base=https://localhost; curl_tls=(--cacert "$tmp/inbound/ca.pem")
  export NODE_EXTRA_CA_CERTS="$tmp/inbound/ca.pem"
fi
await_listening "$spid" "$tmp/server.port" /healthz "$start_secs" "$mcp_base" "${curl_tls[@]}" || die "server $LISTEN_PROBLEM"
port=$LISTEN_PORT
MCP_URL="$mcp_base:$port/mcp"
echo "rollout_e2e.sh: rollout-mcp at $MCP_URL, pid $spid"

# 5. The checks.
node_args=(--url "$MCP_URL" --fake "$FAKE_URL" --base-url "$BASE_URL" --key-a "$KEY_A" --key-b "$KEY_B"
           --tenant-a "$TENANT_A" --tenant-b "$TENANT_B" --secret "$SECRET" --secrets-out "$tmp/tokens.txt"
           --timeout-ms $(((CMD_TIMEOUT - 5) * 1000)))
((TLS)) && node_args+=(--expect-tls --untrusted-base-url "$UNTRUSTED_URL")
timeout --kill-after=5 "$CMD_TIMEOUT" "$tests_dir/node22.sh" "$here/rollout_e2e.mjs" "${node_args[@]}"
crc=$?
((crc == 124)) && echo "rollout_e2e.sh: FAIL node script timed out after ${CMD_TIMEOUT}s"
((crc == 77)) && { echo "SKIP: no Node 22 under tests/node_modules"; exit 77; }
# Plain run: the official client 2.x in legacy, auto and pinned 2026-07-28 mode, syncs as MCP tasks (issue 18).
if ((!TLS && !INBOUND_TLS && crc == 0)); then
  timeout --kill-after=5 60 "$tests_dir/node22.sh" "$here/sdk_v2_eras_e2e.mjs" --url "$MCP_URL" --bearer "$KEY_A" \
    --other-bearer "$KEY_B"
  crc=$?
fi
# --inbound-tls: the official client 2.x too, over https, syncing with team A's settings.
if ((INBOUND_TLS && crc == 0)); then
  timeout --kill-after=5 60 "$tests_dir/node22.sh" "$here/sdk_v2_client_e2e.mjs" --url "$MCP_URL" --bearer "$KEY_A" --sync
  crc=$?
fi

# 5b. /metrics after the whole run (tool calls, Rollout calls by CRM, outbox attempts and depth). promtool's
# parser (Debian's prometheus package; scripts/install-deps.sh unpacks it) is the reference for the format.
mrc=0
if curl -s -m 5 "${curl_tls[@]}" "$mcp_base:$port/metrics" > "$tmp/metrics.txt"; then
  for m in 'rollout_mcp_tool_calls_total{tool="sync_tour_data"' 'rollout_mcp_rollout_requests_total{host="crm",crm="highlevel"' \
           'rollout_mcp_rollout_request_duration_seconds_bucket{host="crm",crm="lofty"' \
           'rollout_mcp_sync_attempts_total{crm="lofty",outcome="retry"}' 'rollout_mcp_sync_attempts_total{crm="lofty",outcome="failed"}' \
           'rollout_mcp_outbox_jobs{status="succeeded"}' 'rollout_mcp_sync_jobs_in_flight'; do
    grep -qF -- "$m" "$tmp/metrics.txt" || { echo "rollout_e2e.sh: FAIL /metrics has no $m"; mrc=1; }
  done
  if command -v promtool >/dev/null; then
    if promtool check metrics < "$tmp/metrics.txt" > "$tmp/promtool.out" 2>&1; then
      echo "ok - promtool check metrics accepts /metrics ($(grep -vc '^#' "$tmp/metrics.txt") samples)"
    else echo "rollout_e2e.sh: FAIL promtool check metrics:"; head -20 "$tmp/promtool.out"; mrc=1; fi
  else
    echo "# promtool is not installed: the /metrics format check is skipped (scripts/install-deps.sh installs it)"
  fi
else
  echo "rollout_e2e.sh: FAIL GET /metrics did not answer"; mrc=1
fi

# 5c. --inbound-tls: SIGHUP reloads the certificate on the running binary. A pair that does not match is
# refused and the old one keeps serving; a good new pair is served to new connections.
hrc=0
if ((INBOUND_TLS)); then
  mkdir -p "$tmp/inbound2"
  "$FAKE" --write-test-tls "$tmp/inbound2" || die "fake-rollout --write-test-tls failed"
  health() { curl -s -o /dev/null -m 3 -w '%{http_code}' --cacert "$1" "https://localhost:$port/healthz"; }
  cp "$tmp/inbound2/key.pem" "$tmp/inbound/key.pem"   # the new key beside the old certificate: no match
  kill -HUP "$spid"
  for ((i = 0; i < 50; i++)); do grep -q "new TLS certificate or key is refused" "$tmp/server.log" && break; sleep 0.1; done
  if grep -q "new TLS certificate or key is refused" "$tmp/server.log" && [[ $(health "$tmp/inbound/ca.pem") == 200 ]]; then
    echo "ok - SIGHUP with a mismatched pair: refused in the log, the old certificate still serves"
  else echo "rollout_e2e.sh: FAIL SIGHUP with a mismatched pair was not refused, or the old certificate stopped serving"; hrc=1; fi
  cp "$tmp/inbound2/cert.pem" "$tmp/inbound/cert.pem"
  kill -HUP "$spid"
  for ((i = 0; i < 50; i++)); do grep -q "TLS certificate reloaded" "$tmp/server.log" && break; sleep 0.1; done
  if [[ $(health "$tmp/inbound2/ca.pem") == 200 && $(health "$tmp/inbound/ca.pem") != 200 ]]; then
    echo "ok - SIGHUP with a new pair: new connections get it, the old CA no longer verifies"
  else echo "rollout_e2e.sh: FAIL after SIGHUP the new certificate is not served"; hrc=1; fi
fi

# 6. Stop both; the server must exit 0 after SIGTERM.
src=0
if kill -0 "$spid" 2>/dev/null; then
  kill -TERM "$spid"
  stop_ticks=100; ((${#wrapper[@]})) && stop_ticks=600
  for ((i = 0; i < stop_ticks; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$spid" 2>/dev/null; then
    echo "rollout_e2e.sh: FAIL server still running $((stop_ticks / 10)) s after SIGTERM"; kill -KILL "$spid"; wait "$spid" 2>/dev/null; src=1
  else
    wait "$spid"; rc=$?
    if ((rc != 0)); then echo "rollout_e2e.sh: FAIL server exited with status $rc after SIGTERM"; src=1
    elif grep -q "shutdown did not finish" "$tmp/server.log"; then
      echo "rollout_e2e.sh: FAIL the shutdown left work running (the watchdog ended the process)"; src=1
    else echo "ok - server exited 0 after SIGTERM, every coroutine ended"; fi
  fi
else
  wait "$spid"; rc=$?; echo "rollout_e2e.sh: FAIL server died while the checks ran (status $rc)"; src=1
fi
spid=""
for p in "$fpid" "$f2pid"; do
  if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$p"; wait "$p" 2>/dev/null
  fi
done
fpid=""; f2pid=""

# No secret in the server's logs (stderr, and stdout for good measure).
lrc=0
secrets=("client secret:$SECRET" "team A API key:$KEY_A" "team B API key:$KEY_B")
rev_secret=""; for ((i = ${#SECRET} - 1; i >= 0; i--)); do rev_secret+=${SECRET:i:1}; done
secrets+=("wrong client secret:wrong-$rev_secret")  # what rollout_e2e.mjs sends as the wrong secret
n=0
if [[ -s $tmp/tokens.txt ]]; then
  while read -r kind tok; do [[ -n $tok ]] && { n=$((n + 1)); secrets+=("Rollout $kind #$n:$tok"); }; done < "$tmp/tokens.txt"
fi
((n > 0)) || { echo "rollout_e2e.sh: FAIL no Rollout tokens were collected from the fake (cannot check logs for them)"; lrc=1; }
leaks=()
for entry in "${secrets[@]}"; do
  what=${entry%%:*}; value=${entry#*:}
  [[ -n $value ]] || continue
  if grep -qF -- "$value" "$tmp/server.log" "$tmp/server.out"; then leaks+=("$what"); fi
done
if ((${#leaks[@]})); then echo "rollout_e2e.sh: FAIL secrets in the server's log: ${leaks[*]}"; lrc=1
else echo "ok - the server's log ($(wc -l < "$tmp/server.log") lines) contains none of ${#secrets[@]} secrets"; fi

((crc != 0 || src != 0 || lrc != 0 || mrc != 0 || hrc != 0)) && log_tail "$tmp/server.log"
((crc != 0)) && exit "$crc"
((src != 0 || lrc != 0 || mrc != 0 || hrc != 0)) && exit 1
exit 0
