#!/usr/bin/env bash
# multi_instance.sh --server RMCP_BIN --fake FAKE_BIN [--tours N] [--instances N] [--concurrency N]
#                   [--kill-ms MIN-MAX] [--timeout SECS]
# Several `rollout-mcp serve` processes on one PostgreSQL database (README.md here): clients spread over them,
# 10 teams, --tours sync calls (default 2000) against the fake Rollout with faults, random SIGKILLs of instances
# (each restarted at once); then nothing may be lost or duplicated and every job must have succeeded once.
#  1. a schema of its own in the database at ROLLOUT_MCP_TEST_PG_URL (CREATE SCHEMA with psql; the server's URL
#     gets ?options=-csearch_path%3D<schema>), dropped at the end; a 32-byte master key file (mode 0600) that
#     every instance and admin command shares;
#  2. fake-rollout on a free loopback port (a little latency, so kills land mid-attempt); a config: loopback,
#     port 0, auth api_key, [storage] backend postgresql, short lease (a killed instance's running jobs are
#     taken back after 4 s) and fast retries;
#  3. 10 teams with `rollout-mcp tenant create` (into PostgreSQL), ids from `tenant list`;
#  4. multi_instance.mjs does the rest (instances, team set-up over MCP, faults, load, kills, drain, check).
# Everything listens on and talks to 127.0.0.1 only.
# Exit: 0 all good; 1 failure; 2 bad usage; 77 (CTest skip) when ROLLOUT_MCP_TEST_PG_URL is unset, psql is
# missing, or no Node >= 18 is found.
# MULTI_INSTANCE_KEEP=1 keeps the temporary directory (config, instance logs, report.json) and the schema.
# MULTI_INSTANCE_TOURS=N overrides --tours (e.g. a shorter local run). MULTI_INSTANCE_INJECT=duplicate|lost plants
# a duplicate appointment in the fake / a never-sent "accepted" tour before the check (a self-test: must FAIL).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../scripts/lib/server_start.sh"
SERVER=""; FAKE=""; TOURS=2000; INSTANCES=3; CONCURRENCY=16; KILL_MS=2000-5000; TOTAL=235; TEAMS=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2;;
    --fake) FAKE=$2; shift 2;;
    --tours) TOURS=$2; shift 2;;
    --instances) INSTANCES=$2; shift 2;;
    --concurrency) CONCURRENCY=$2; shift 2;;
    --kill-ms) KILL_MS=$2; shift 2;;
    --timeout) TOTAL=$2; shift 2;;
    *) echo "multi_instance.sh: unknown option $1" >&2; exit 2;;
  esac
done
TOURS=${MULTI_INSTANCE_TOURS:-$TOURS}
[[ $TOURS =~ ^[0-9]+$ ]] && ((TOURS >= 1)) || { echo "multi_instance.sh: --tours N (N >= 1)" >&2; exit 2; }
[[ $INSTANCES =~ ^[0-9]+$ ]] && ((INSTANCES >= 2)) || { echo "multi_instance.sh: --instances N (N >= 2)" >&2; exit 2; }
[[ $KILL_MS =~ ^[0-9]+-[0-9]+$ ]] || { echo "multi_instance.sh: --kill-ms MIN-MAX (ms)" >&2; exit 2; }
for b in "$SERVER" "$FAKE"; do
  [[ -n $b && -x $b ]] || { echo "multi_instance.sh: binary '$b' not found or not executable (--server, --fake)" >&2; exit 1; }
done
SERVER=$(readlink -f "$SERVER"); FAKE=$(readlink -f "$FAKE")
[[ -n ${ROLLOUT_MCP_TEST_PG_URL:-} ]] || { echo "SKIP: ROLLOUT_MCP_TEST_PG_URL is not set (scripts/test.sh starts a PostgreSQL cluster and sets it)"; exit 77; }
command -v psql >/dev/null || { echo "SKIP: psql is not installed"; exit 77; }
pick_node || { echo "SKIP: no Node >= 18 on PATH or under tests/node_modules"; exit 77; }

start=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/multi_instance.XXXXXX")
mkdir -p "$tmp/data"
: > "$tmp/pids"
fpid=""; npid=""
SCHEMA="mi_$(od -An -N6 -tx1 /dev/urandom | tr -dc '0-9a-f')"
schema_made=0
cleanup() {
  if [[ -n $npid ]] && kill -0 "$npid" 2>/dev/null; then kill -TERM "$npid" 2>/dev/null; wait "$npid" 2>/dev/null; fi
  # Instances the Node script started (it kills them on exit; this catches a Node that was killed itself).
  local p; while read -r p; do [[ -n $p ]] && kill -KILL "$p" 2>/dev/null; done < "$tmp/pids"
  if [[ -n $fpid ]] && kill -0 "$fpid" 2>/dev/null; then kill -KILL "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null; fi
  if [[ ${MULTI_INSTANCE_KEEP:-0} == 1 ]]; then
    echo "multi_instance.sh: kept $tmp and schema $SCHEMA"
  else
    ((schema_made)) && psql "$ROLLOUT_MCP_TEST_PG_URL" -qX -v ON_ERROR_STOP=1 -c "DROP SCHEMA $SCHEMA CASCADE" >/dev/null 2>&1
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'echo "multi_instance.sh: interrupted"; exit 130' INT TERM
die() {
  echo "multi_instance.sh: FAIL $*"
  [[ -f $tmp/admin.log ]] && tail -n 20 "$tmp/admin.log"
  exit 1
}

# 1. Schema and master key.
psql "$ROLLOUT_MCP_TEST_PG_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $SCHEMA" > "$tmp/psql.log" 2>&1 ||
  die "CREATE SCHEMA $SCHEMA on ROLLOUT_MCP_TEST_PG_URL failed: $(cat "$tmp/psql.log")"
schema_made=1
sep='?'; [[ $ROLLOUT_MCP_TEST_PG_URL == *\?* ]] && sep='&'
export ROLLOUT_MCP_STORAGE_POSTGRESQL_URL="${ROLLOUT_MCP_TEST_PG_URL}${sep}options=-csearch_path%3D${SCHEMA}"
( umask 077 && head -c 32 /dev/urandom > "$tmp/master.key" )
unset ROLLOUT_MCP_MASTER_KEY ROLLOUT_MCP_MASTER_KEY_FILE

# 2. The fake Rollout and the config.
SECRET="mi-$(od -An -N24 -tx1 /dev/urandom | tr -dc '0-9a-f')"
"$FAKE" --bind 127.0.0.1 --port 0 --port-file "$tmp/fake.port" --client-secret "$SECRET" --latency-ms 5 --quiet \
  > "$tmp/fake.log" 2>&1 &
fpid=$!
await_listening "$fpid" "$tmp/fake.port" /_fake/health 20 || die "fake-rollout $LISTEN_PROBLEM"
FAKE_URL="http://127.0.0.1:$LISTEN_PORT"
cat > "$tmp/config.toml" <<EOF
[server]
bind = "127.0.0.1"
port = 0
shutdown_grace_ms = 5000

[mcp]
requests_per_second_per_team = 0   # this test is about delivery, not per-team pacing

[storage]
backend = "postgresql"             # the URL: ROLLOUT_MCP_STORAGE_POSTGRESQL_URL (this run's schema)
data_dir = "$tmp/data"
master_key_file = "$tmp/master.key"

[auth]
mode = "api_key"

[rollout]
request_timeout_ms = 2000          # bounds a timeout_after_write fault
allowed_base_urls = ["$FAKE_URL"]
requests_per_second_per_team = 300   # the Rollout rate gate on (leases in the database across the instances), above what the test needs

[sync]
wait_ms = 1000
backoff_base_ms = 100
backoff_max_ms = 1000
max_attempts = 50
lease_ms = 4000                    # a killed instance's running jobs go back to the queue after this
poll_ms = 200

[log]
level = "info"
EOF
CONFIG=$tmp/config.toml

# 3. Teams.
echo "[" > "$tmp/teams.json"
for ((t = 1; t <= TEAMS; t++)); do
  out=$("$SERVER" tenant create "mi-team-$t" -c "$CONFIG" 2>>"$tmp/admin.log") || die "tenant create mi-team-$t failed"
  key=$(sed -n 's/^API key (shown once, store it now): *//p' <<<"$out" | tr -d '[:space:]')
  [[ $key == rmcp_* ]] || die "tenant create mi-team-$t printed no API key"
  keys[t]=$key
done
"$SERVER" tenant list -c "$CONFIG" > "$tmp/tenants.tsv" 2>>"$tmp/admin.log" || die "tenant list failed"
for ((t = 1; t <= TEAMS; t++)); do
  id=$(awk -F'\t' -v n="mi-team-$t" '$1 == n { print $2 }' "$tmp/tenants.tsv")
  [[ -n $id ]] || die "no tenant id for mi-team-$t in 'tenant list'"
  printf '%s{"name": "mi-team-%d", "key": "%s", "tenant": "%s"}\n' "$( ((t > 1)) && echo ,)" "$t" "${keys[t]}" "$id" >> "$tmp/teams.json"
done
echo "]" >> "$tmp/teams.json"
echo "multi_instance.sh: schema $SCHEMA, fake Rollout at $FAKE_URL, $TEAMS teams, $TOURS tours over $INSTANCES instances ($((SECONDS - start)) s)"

# 4. The run.
left=$((TOTAL - (SECONDS - start) - 10))
((left > 30)) || die "no time left for the run"
timeout --kill-after=5 "$left" "${NODE[@]}" "$here/multi_instance.mjs" --server "$SERVER" --config "$CONFIG" --dir "$tmp" \
  --fake "$FAKE_URL" --teams "$tmp/teams.json" --secret "$SECRET" --tours "$TOURS" --instances "$INSTANCES" \
  --concurrency "$CONCURRENCY" --kill-ms "$KILL_MS" --bound-ms $(((left - 5) * 1000)) &
npid=$!
wait "$npid"; rc=$?; npid=""
if ((rc != 0)); then
  ((rc == 124)) && echo "multi_instance.sh: the run did not end within ${left} s"
  for f in "$tmp"/instance-*.log; do
    [[ -f $f ]] || continue
    echo "---- $(basename "$f"): error lines (last 15) ----"; grep '"level":"error"' "$f" | tail -n 15
    echo "---- $(basename "$f") (last 15 lines) ----"; tail -n 15 "$f"
  done
  echo "multi_instance.sh: FAIL after $((SECONDS - start)) s"
  exit 1
fi
nerr=$(cat "$tmp"/instance-*.log | grep -c '"level":"error"' || true)
echo "multi_instance.sh: $nerr error line(s) in the instances' logs; $((SECONDS - start)) s in all"
echo "multi_instance.sh: PASS"
exit 0
