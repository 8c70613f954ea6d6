#!/usr/bin/env bash
# bench/sync_throughput.sh: sync throughput against the fake Rollout with added latency (issue 4 "Proof").
#
#   bench/sync_throughput.sh [--server PATH/rollout-mcp] [--fake PATH/fake-rollout] [--rows "SET:TEAMS:C[:pgN] ..."]
#                            [--dur 10] [--warmup 2] [--latency-ms 50] [--raised-cap 512] [--out DIR]
#                            [--baseline-server PATH/rollout-mcp] [--passes 1] [--public-url URL]
#
# Every row runs on a fresh fake-rollout (--latency-ms, --quiet) and a fresh rollout-mcp (api_key auth, temp
# data_dir, [sync] wait_ms 120000 so that every call answers at its tour's first attempt): TEAMS teams from
# `rollout-mcp tenant create`, then sync_throughput.mjs configures Rollout and a fresh (empty) highlevel
# connection per team and runs C closed-loop clients (client i in team i mod TEAMS) of sync_tour_data (a new
# tour with a new buyer each time, wait: true): warm-up --warmup s and until every client had an answer,
# then --dur measured seconds. Cap sets:
#   default  [sync] max_in_flight 64, per_team_in_flight 8, per_crm_in_flight 4, [rollout] max_concurrent_per_host 16
#   raised   all four = --raised-cap (512), so that only the latency and C bound the throughput
# Default rows: "default:1:1 default:1:16 default:1:256 default:32:256 raised:32:1 raised:32:16 raised:32:256
# raised:1:256" (about 3 minutes). A row ending in `:pgN` runs N `serve` instances on one PostgreSQL instead of
# one on SQLite (README "Several instances on PostgreSQL"): a throwaway cluster (scripts/pg_cluster.sh, as
# `postgres`, loopback) started once for the run, a fresh schema per row, one master key; client i talks to
# instance i mod N, and the caps are per instance except per_team_in_flight / per_crm_in_flight (global). The
# multi-instance comparison is `--rows "default:32:256:pg1 default:32:256:pg3 raised:32:256:pg1 raised:32:256:pg3"`.
# Two servers in one run: --baseline-server PATH runs every row for --server ("candidate") and for PATH
# ("baseline"), --passes N times alternating (candidate, baseline, candidate, ...), each run with its own
# fresh fake (the same --fake binary for both), data dir and teams. A config key the baseline does not know
# (its check-config says "unknown key", e.g. [rollout] allowed_base_urls before it existed) is left out of the
# baseline's config, and the run says so on stderr. --passes N without a baseline repeats each row N times.
# Prints one markdown table: tours/s, p50/p99, Rollout calls per tour, the limit slots / (calls per tour x
# latency) and the share of it reached, CPU, and how busy the storage thread was. With several passes or a
# baseline every figure is the median over the passes, one line per row and server, then per row the ratios
# candidate / baseline (CPU ms per tour of each process, tours/s) and each pass's tours/s and server CPU ms/tour.
# --public-url URL sets [server] public_url (a loopback URL: nothing is delivered in the quiet run), so each
# configured connection is subscribed to Rollout's webhooks instead of being polled for CRM changes; without it
# every connection is polled (hook_upkeep.hpp: up to 4 Rollout reads per second per team). A server that does
# not know the key (before issue 20) runs without it.
# Results (JSON lines, with per-thread detail) and logs stay in --out (default: a new temp dir). Everything
# on 127.0.0.1. Needs node (>= 18), curl, and /proc (Linux) for the CPU and thread figures.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../scripts/lib/server_start.sh"
SERVER=${ROLLOUT_MCP_BIN:-}; FAKE=${FAKE_ROLLOUT_BIN:-}; DUR=10; WARMUP=2; LATENCY=50; RAISED=512; OUT=""
BASELINE=""; PASSES=1; PUBLIC_URL=""
ROWS="default:1:1 default:1:16 default:1:256 default:32:256 raised:32:1 raised:32:16 raised:32:256 raised:1:256"
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2;; --fake) FAKE=$2; shift 2;; --rows) ROWS=$2; shift 2;;
    --dur) DUR=$2; shift 2;; --warmup) WARMUP=$2; shift 2;; --latency-ms) LATENCY=$2; shift 2;;
    --raised-cap) RAISED=$2; shift 2;; --out) OUT=$2; shift 2;;
    --baseline-server) BASELINE=$2; shift 2;; --passes) PASSES=$2; shift 2;;
    --public-url) PUBLIC_URL=$2; shift 2;;
    -h|--help) sed -n '2,36p' "$0"; exit 0;;
    *) echo "sync_throughput.sh: unknown argument $1" >&2; exit 2;;
  esac
done
for tool in node curl; do
  command -v "$tool" > /dev/null || { echo "sync_throughput.sh: $tool is missing" >&2; exit 1; }
done
find_bin() {  # find_bin NAME SUBDIR...: the first executable build*/SUBDIR/NAME
  local name=$1 c d; shift
  for d in "$@"; do
    for c in "$here/../build/$d/$name" "$here"/../build*/"$d/$name"; do
      [[ -x $c ]] && { echo "$c"; return 0; }
    done
  done
  return 1
}
[[ -n $SERVER ]] || SERVER=$(find_bin rollout-mcp server .) || true
[[ -n $FAKE ]] || FAKE=$(find_bin fake-rollout tests/fakes tests .) || true
[[ -n $SERVER && -x $SERVER ]] || { echo "sync_throughput.sh: rollout-mcp not found (build it or pass --server PATH)" >&2; exit 1; }
[[ -n $FAKE && -x $FAKE ]] || { echo "sync_throughput.sh: fake-rollout not found (build it or pass --fake PATH)" >&2; exit 1; }
SERVER=$(readlink -f "$SERVER"); FAKE=$(readlink -f "$FAKE")
if [[ -n $BASELINE ]]; then
  [[ -x $BASELINE ]] || { echo "sync_throughput.sh: --baseline-server $BASELINE is not an executable" >&2; exit 1; }
  BASELINE=$(readlink -f "$BASELINE")
fi
[[ $PASSES =~ ^[1-9][0-9]?$ ]] || { echo "sync_throughput.sh: --passes must be 1-99" >&2; exit 2; }

for row in $ROWS; do
  [[ $row =~ ^(default|raised):[0-9]+:[0-9]+(:pg[1-9])?$ ]] ||
    { echo "sync_throughput.sh: bad row '$row' (SET:TEAMS:C[:pgN], SET default|raised, N 1-9)" >&2; exit 2; }
done
[[ -n $OUT ]] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/rollout-mcp-sync-bench.XXXXXX")
mkdir -p "$OUT"
: > "$OUT/results.jsonl"
work=$(mktemp -d "${TMPDIR:-/tmp}/rollout-mcp-sync-bench-run.XXXXXX")
spids=(); fpid=""; dpid=""; pg_dir=""; PG_URL=""
stop_pid() {  # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL
  local p=$1
  [[ -n $p ]] || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
}
stop_all() {
  local p
  stop_pid "$dpid"; dpid=""
  for p in "${spids[@]}"; do stop_pid "$p"; done
  spids=(); stop_pid "$fpid"; fpid=""
}
trap 'stop_all; [[ -z $pg_dir ]] || "$here/../scripts/pg_cluster.sh" stop "$pg_dir"; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

SECRET="bench-$(od -An -N16 -tx1 /dev/urandom | tr -dc '0-9a-f')"
export CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# await_up PID PORT_FILE PATH LOG WHAT: sets LISTEN_PORT once WHAT listens and PATH answers 200 (20 s).
await_up() {
  await_listening "$1" "$2" "$3" 20 && return 0
  echo "sync_throughput.sh: $5 $LISTEN_PROBLEM" >&2; tail "$4" >&2; exit 1
}

# drop_unknown_keys BIN CONFIG: removes from CONFIG each key that BIN's check-config calls unknown (a baseline
# older than the key), saying so on stderr once per binary and key; any other complaint is fatal.
declare -A DROPPED=()
drop_unknown_keys() {
  local bin=$1 config=$2 err key last=""
  while ! err=$("$bin" check-config -c "$config" 2>&1 > /dev/null); do
    key=$(grep -oE '[a-z_]+\.[a-z_]+: unknown key' <<<"$err" | head -1 | sed 's/: unknown key$//' || true)
    [[ -n $key && $key != "$last" ]] || { echo "sync_throughput.sh: $bin check-config: $err" >&2; exit 1; }
    last=$key
    # `name = ...` inside [section] only.
    awk -v s="[${key%%.*}]" -v k="${key#*.}" '/^\[/ { in_s = ($0 == s) } !(in_s && $0 ~ "^" k "[ \t]*=")' \
      "$config" > "$config.tmp" && mv "$config.tmp" "$config"
    [[ ${DROPPED[$bin]:-} == *" $key "* ]] ||
      { DROPPED[$bin]+=" $key "; echo "# $bin does not know $key: left out of its config" >&2; }
  done
}

# run_row SERVER_BIN SERVER_TAG PASS SET C TEAMS MAX_IN_FLIGHT PER_TEAM PER_CRM PER_HOST INSTANCES (0: one on
# SQLite, N: N on PostgreSQL). SERVER_TAG: "candidate" or "baseline" with --baseline-server, else empty.
run_row() {
  local SERVER=$1 stag=$2 pass=$3; shift 3
  local set=$1 conc=$2 teams=$3 mif=$4 pt=$5 pc=$6 ph=$7 inst=$8 tag="$1-t$3-c$2-pg$8${stag:+-$stag}-p$pass"
  local dir=$work/$tag; mkdir -p "$dir/data"
  "$FAKE" --bind 127.0.0.1 --port 0 --port-file "$dir/fake.port" --latency-ms "$LATENCY" --client-secret "$SECRET" --quiet \
    > "$OUT/$tag.fake.log" 2>&1 &
  fpid=$!
  await_up "$fpid" "$dir/fake.port" /_fake/health "$OUT/$tag.fake.log" fake-rollout
  local fport=$LISTEN_PORT
  local storage_lines="" n=$((inst > 0 ? inst : 1)) i
  if ((inst > 0)); then
    # A fresh schema per row in the run's cluster; every instance the same master key.
    psql_admin -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public AUTHORIZATION rollout"
    ( umask 077 && head -c 32 /dev/urandom > "$dir/master.key" )
    storage_lines="backend = \"postgresql\"
postgresql_url = \"$PG_URL\"
master_key_file = \"$dir/master.key\""
  fi
  cat > "$dir/config.toml" <<EOF
[server]
bind = "127.0.0.1"
port = 0
shutdown_grace_ms = 1000
${PUBLIC_URL:+public_url = \"$PUBLIC_URL\"}

[mcp]
# Measures the sync path against its caps, not per-team request pacing.
requests_per_second_per_team = 0

[storage]
data_dir = "$dir/data"
$storage_lines

[auth]
mode = "api_key"

[rollout]
request_timeout_ms = 60000
allowed_base_urls = ["http://127.0.0.1:$fport"]
max_concurrent_per_host = $ph
requests_per_second_per_team = 0     # about delivery and its caps; the Rollout rate gate: tests/sync/rollout_rate_gate_test.cpp

[sync]
wait_ms = 120000
max_in_flight = $mif
per_team_in_flight = $pt
per_crm_in_flight = $pc
lease_ms = 600000
EOF
  drop_unknown_keys "$SERVER" "$dir/config.toml"
  local t key tenant teamargs="" out keys=()
  for ((t = 0; t < teams; t++)); do
    out=$("$SERVER" tenant create "bench-$t" -c "$dir/config.toml" 2>>"$OUT/$tag.admin.log")
    key=$(sed -n 's/^API key (shown once, store it now): *//p' <<<"$out" | tr -d '[:space:]')
    [[ $key == rmcp_* ]] || { echo "sync_throughput.sh: tenant create printed no API key" >&2; exit 1; }
    keys+=("$key")
  done
  "$SERVER" tenant list -c "$dir/config.toml" > "$dir/tenants.txt" 2>>"$OUT/$tag.admin.log"
  for ((t = 0; t < teams; t++)); do
    tenant=$(awk -F'\t' -v n="bench-$t" '$1 == n { print $2 }' "$dir/tenants.txt")
    [[ -n $tenant ]] || { echo "sync_throughput.sh: no tenant id for bench-$t" >&2; exit 1; }
    teamargs+="${teamargs:+,}${keys[t]}:$tenant"
  done
  local urls="" pids=""
  for ((i = 0; i < n; i++)); do
    (cd "$dir" && exec "$SERVER" serve -c "$dir/config.toml" --port-file "$dir/server$i.port") \
      > "$OUT/$tag.server$i.out" 2> "$OUT/$tag.server$i.log" &
    spids+=($!)
    await_up "$!" "$dir/server$i.port" /healthz "$OUT/$tag.server$i.log" "rollout-mcp $i"
    urls+="${urls:+,}http://127.0.0.1:$LISTEN_PORT/mcp"
    pids+="${pids:++}$!"
  done
  local dbpid=""
  ((inst == 0)) || dbpid=",db:$(head -1 "$pg_dir/data/postmaster.pid")"
  local caps="{\"max_in_flight\":$mif,\"per_team_in_flight\":$pt,\"per_crm_in_flight\":$pc,\"max_concurrent_per_host\":$ph,\"instances\":$inst}"
  # In the background (and waited for) so that a signal reaches the traps at once; stop_all ends it.
  node "$here/sync_throughput.mjs" row --url "$urls" --fake "http://127.0.0.1:$fport" \
    --secret "$SECRET" --teams "$teamargs" --conc "$conc" --caps "$caps" --label "$set" --dur "$DUR" \
    --warmup "$WARMUP" --latency-ms "$LATENCY" --pids "server:$pids,fake:$fpid$dbpid" --out "$OUT/results.jsonl" \
    --server-tag "$stag" --server-bin "$SERVER" --pass "$pass" &
  dpid=$!
  local drc=0
  wait "$dpid" || drc=$?
  dpid=""
  ((drc == 0)) || { echo "sync_throughput.sh: the driver failed ($set, C=$conc${stag:+, $stag}); server logs: $OUT/$tag.server*.log" >&2; exit 1; }
  stop_all
  rm -rf "$dir"
}

echo "# sync throughput: rows='$ROWS' dur=${DUR}s latency=${LATENCY}ms out=$OUT" >&2
echo "# server $SERVER, fake $FAKE${BASELINE:+, baseline $BASELINE}, passes $PASSES" >&2
if [[ $ROWS == *:pg* ]]; then
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/rollout-mcp-sync-bench-pg.XXXXXX")   # outside $work: postgres must reach it
  PG_URL=$("$here/../scripts/pg_cluster.sh" start "$pg_dir" $((20000 + RANDOM % 20000))) || exit 1
fi
psql_admin() { /usr/lib/postgresql/15/bin/psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 "$@" > /dev/null; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# Per row: pass 1 of the candidate, pass 1 of the baseline, pass 2 of the candidate, ... back to back, so that
# both meet the same load on the machine.
servers=("$SERVER"); stags=("${BASELINE:+candidate}")
[[ -z $BASELINE ]] || { servers+=("$BASELINE"); stags+=(baseline); }
for row in $ROWS; do
  IFS=: read -r set teams c pg <<<"$row"
  inst=${pg#pg}; inst=${inst:-0}
  for ((p = 1; p <= PASSES; p++)); do
    for s in "${!servers[@]}"; do
      case $set in
        default) run_row "${servers[s]}" "${stags[s]}" "$p" default "$c" "$teams" 64 8 4 16 "$inst";;
        raised) run_row "${servers[s]}" "${stags[s]}" "$p" raised "$c" "$teams" "$RAISED" "$RAISED" "$RAISED" "$RAISED" "$inst";;
      esac
    done
  done
done
node "$here/sync_throughput.mjs" table "$OUT/results.jsonl"
echo
echo "Load average before the run: $load_start; $(nproc) CPUs shared by the server, the fake and the driver."
echo "(results.jsonl and the logs: $OUT)"
