#!/usr/bin/env bash
# changes_e2e.sh --server RMCP_BIN --fake FAKE_BIN [--timeout SECS]
# CRM changes flowing back through real processes (issue 20 "Proof"; README "Changes from the CRM"):
#  1. starts fake-rollout on a free loopback port with a random client secret,
#  2. picks free ports for rollout-mcp and for the test's Events receiver, so the config can name them:
#     [server] public_url = http://127.0.0.1:<server port>, [rollout] allowed_base_urls = the fake's origin,
#     [events] allowed_callback_origins = the receiver's origin,
#  3. creates two teams (`rollout-mcp tenant create`), starts `rollout-mcp serve`, waits for /healthz,
#  4. runs changes_e2e.mjs (official client 2.x, Node 22 from tests/node_modules), which asks through
#     CONTROL_DIR/request for the server to be SIGKILLed ("kill") and started again on the same data and port
#     ("start"); this script answers in CONTROL_DIR/done,
#  5. stops the server with SIGTERM (exit 0 within 10 s), and greps its log for every secret (client secret,
#     API keys, the Events whsec_ secrets, the webhook routes): none may appear.
# Exit: 0 all good; 1 failure; 77 (CTest skip) when tests/node_modules lacks the official client.
# CHANGES_E2E_KEEP=1 keeps the temporary directory (config, data, logs).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tests_dir=$(cd "$here/.." && pwd)
. "$here/../../scripts/lib/server_start.sh"
SERVER=""; FAKE=""; CMD_TIMEOUT=100
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2;;
    --fake) FAKE=$2; shift 2;;
    --timeout) CMD_TIMEOUT=$2; shift 2;;
    *) echo "changes_e2e.sh: unknown option $1" >&2; exit 2;;
  esac
done
if [[ ! -e $tests_dir/node_modules/@modelcontextprotocol/client/package.json ]]; then
  echo "SKIP: $tests_dir/node_modules/@modelcontextprotocol/client is missing (run: cd tests && npm ci)"; exit 77
fi
for b in "$SERVER" "$FAKE"; do
  [[ -n $b && -x $b ]] || { echo "changes_e2e.sh: binary '$b' not found or not executable (--server, --fake)" >&2; exit 1; }
done
SERVER=$(readlink -f "$SERVER"); FAKE=$(readlink -f "$FAKE")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/changes_e2e.XXXXXX")
mkdir -p "$tmp/data" "$tmp/control"
spid=""; fpid=""; npid=""
stop_pid() {  # stop_pid PID: SIGKILL if still alive (cleanup path only)
  if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; fi
}
cleanup() {
  stop_pid "$npid"; stop_pid "$spid"; stop_pid "$fpid"
  if [[ ${CHANGES_E2E_KEEP:-0} == 1 ]]; then echo "changes_e2e.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "changes_e2e.sh: interrupted"; exit 130' INT TERM
die() {
  echo "changes_e2e.sh: FAIL $*"
  local f; for f in "$tmp/server.log" "$tmp/fake.log"; do
    [[ -f $f ]] && { echo "---- $f (last 40 lines) ----"; tail -n 40 "$f"; echo "----"; }
  done
  exit 1
}
SECRET="changes-$(od -An -N24 -tx1 /dev/urandom | tr -dc '0-9a-f')"

# 1. The fake Rollout.
"$FAKE" --bind 127.0.0.1 --port 0 --port-file "$tmp/fake.port" --client-secret "$SECRET" > "$tmp/fake.log" 2>&1 &
fpid=$!
await_listening "$fpid" "$tmp/fake.port" /_fake/health 20 || die "fake-rollout $LISTEN_PROBLEM"
FAKE_URL="http://127.0.0.1:$LISTEN_PORT"

# 2. Two free loopback ports (bound and released by Node; nothing else binds them meanwhile on a test machine).
ports=$("$tests_dir/node22.sh" -e '
  const net = require("node:net");
  const one = () => new Promise(r => { const s = net.createServer().listen(0, "127.0.0.1", () => r(s)); });
  Promise.all([one(), one()]).then(ss => { console.log(ss.map(s => s.address().port).join(" ")); ss.forEach(s => s.close()); });')
prc=$?
((prc == 77)) && { echo "SKIP: no Node 22 under tests/node_modules"; exit 77; }
read -r PORT RECEIVER_PORT <<<"$ports"
[[ ${PORT:-} =~ ^[0-9]+$ && ${RECEIVER_PORT:-} =~ ^[0-9]+$ ]] || die "no free ports from Node: '$ports'"
PUBLIC_URL="http://127.0.0.1:$PORT"
cat > "$tmp/config.toml" <<EOF
[server]
bind = "127.0.0.1"
port = $PORT
public_url = "$PUBLIC_URL"

[storage]
data_dir = "$tmp/data"

[auth]
mode = "api_key"

[rollout]
# Long enough that the CRM read check 9 holds is still in flight when the server is killed (a timed-out read is
# given back, and the restart would then have nothing to take up).
request_timeout_ms = 30000
allowed_base_urls = ["$FAKE_URL"]

[sync]
wait_ms = 4000

[events]
allowed_callback_origins = ["http://127.0.0.1:$RECEIVER_PORT"]
poll_ms = 200             # a quick scan and retries keep the webhook checks short
backoff_base_ms = 200
backoff_max_ms = 1000

[log]
level = "debug"
EOF

# 3. Two teams, then the server.
# `tenant create` prints the API key once; `tenant list` prints name<TAB>tenant_id<TAB>keys=N.
# (The same steps as rollout_e2e.sh's create_team/tenant_id; sharing them belongs in scripts/lib.)
declare -A KEY TENANT
for team in A B; do
  out=$("$SERVER" tenant create "changes-team-$team" -c "$tmp/config.toml" 2>>"$tmp/admin.log") ||
    die "tenant create $team: $(cat "$tmp/admin.log")"
  KEY[$team]=$(sed -n 's/^API key (shown once, store it now): *//p' <<<"$out" | tr -d '[:space:]')
  [[ ${KEY[$team]} == rmcp_* ]] || die "tenant create $team printed no API key"
done
while IFS=$'\t' read -r name id _; do [[ $name == changes-team-? ]] && TENANT[${name: -1}]=$id; done \
  < <("$SERVER" tenant list -c "$tmp/config.toml" 2>>"$tmp/admin.log")
[[ -n ${TENANT[A]:-} && -n ${TENANT[B]:-} && ${TENANT[A]} != "${TENANT[B]}" ]] || die "tenant ids from 'tenant list': ${TENANT[*]}"

start_server() {  # (again) on the same config, data and port; appends to the logs
  rm -f "$tmp/server.port"
  ( cd "$tmp" && exec "$SERVER" serve -c "$tmp/config.toml" --port-file "$tmp/server.port" ) >> "$tmp/server.out" 2>> "$tmp/server.log" &
  spid=$!
  await_listening "$spid" "$tmp/server.port" /healthz 20
}
start_server || die "server $LISTEN_PROBLEM"
echo "changes_e2e.sh: fake Rollout at $FAKE_URL, rollout-mcp at $PUBLIC_URL (pid $spid), receiver port $RECEIVER_PORT"

# 4. The checks, in the background; the loop answers their kill/start requests meanwhile.
timeout --kill-after=5 "$CMD_TIMEOUT" "$tests_dir/node22.sh" "$here/changes_e2e.mjs" --url "$PUBLIC_URL/mcp" \
  --public-url "$PUBLIC_URL" --fake "$FAKE_URL" --secret "$SECRET" --key-a "${KEY[A]}" --tenant-a "${TENANT[A]}" \
  --key-b "${KEY[B]}" --tenant-b "${TENANT[B]}" --receiver-port "$RECEIVER_PORT" --control-dir "$tmp/control" \
  --secrets-out "$tmp/secrets.txt" --timeout-ms $(((CMD_TIMEOUT - 5) * 1000)) &
npid=$!
answer() { echo "$1" > "$tmp/control/done.tmp" && mv "$tmp/control/done.tmp" "$tmp/control/done"; }
while kill -0 "$npid" 2>/dev/null; do
  if [[ -e $tmp/control/request ]]; then
    request=$(cat "$tmp/control/request"); rm -f "$tmp/control/request"
    case $request in
      kill)
        kill -KILL "$spid"; { wait "$spid"; } 2>/dev/null; rc=$?   # (bash's "Killed" notice silenced)
        answer "ok SIGKILLed pid $spid (status $rc)";;
      start)
        if start_server; then answer "ok restarted as pid $spid"; else answer "fail server $LISTEN_PROBLEM"; fi;;
      *) answer "fail unknown request '$request'";;
    esac
  fi
  sleep 0.02
done
wait "$npid"; crc=$?; npid=""
((crc == 124)) && echo "changes_e2e.sh: FAIL node script timed out after ${CMD_TIMEOUT}s"
((crc == 77)) && { echo "SKIP: no Node 22 under tests/node_modules"; exit 77; }

# 5. SIGTERM: the server must exit 0 within 10 s.
src=0
if kill -0 "$spid" 2>/dev/null; then
  kill -TERM "$spid"
  for ((i = 0; i < 100; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$spid" 2>/dev/null; then
    echo "changes_e2e.sh: FAIL server still running 10 s after SIGTERM"; src=1
  else
    wait "$spid"; rc=$?
    if ((rc != 0)); then echo "changes_e2e.sh: FAIL server exited with status $rc after SIGTERM"; src=1
    else echo "ok - server exited 0 after SIGTERM"; fi
  fi
else
  wait "$spid"; rc=$?; echo "changes_e2e.sh: FAIL server died while the checks ran (status $rc)"; src=1
fi
spid=""

# No secret in the server's logs (every start appended to them).
lrc=0
secrets=("client secret:$SECRET" "team A API key:${KEY[A]}" "team B API key:${KEY[B]}")
n=0
if [[ -s $tmp/secrets.txt ]]; then
  while read -r s; do [[ -n $s ]] && { n=$((n + 1)); secrets+=("webhook secret or route #$n:$s"); }; done < "$tmp/secrets.txt"
fi
((n >= 4 || crc != 0)) || { echo "changes_e2e.sh: FAIL the checks named $n webhook secrets/routes, expected 4"; lrc=1; }
leaks=()
for entry in "${secrets[@]}"; do
  what=${entry%%:*}; value=${entry#*:}
  if grep -qF -- "$value" "$tmp/server.log" "$tmp/server.out"; then leaks+=("$what"); fi
done
if ((${#leaks[@]})); then echo "changes_e2e.sh: FAIL secrets in the server's log: ${leaks[*]}"; lrc=1
else echo "ok - the server's log ($(wc -l < "$tmp/server.log") lines) contains none of ${#secrets[@]} secrets"; fi

# Check 9's change came from the restart taking the killed process's claim up at once (not from a retry after a
# CRM timeout, nor from the lease running out).
if grep -q "took up webhook deliveries interrupted by the previous stop" "$tmp/server.log" "$tmp/server.out"; then
  echo "ok - the restarted server took up the delivery the killed one had claimed"
else echo "changes_e2e.sh: FAIL the restart did not take up the interrupted delivery"; lrc=1; fi

((crc != 0 || src != 0 || lrc != 0)) && { echo "---- server.log (last 40 lines) ----"; tail -n 40 "$tmp/server.log"; }
((crc != 0)) && exit 1
((src != 0 || lrc != 0)) && exit 1
exit 0
