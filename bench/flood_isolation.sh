#!/usr/bin/env bash
# bench/flood_isolation.sh [--server PATH] [--fake PATH] [--flood 64] [--latency-ms 50] [--samples 400]
# One team floods the server (FLOOD clients of syncs and interactive Rollout calls) while another team
# measures tools/list and sync_tour_data, alone and then under the flood, in one run on 127.0.0.1, with
# [rollout] max_concurrent_per_host = 4 and small per-team caps. Prints a markdown row: team B's tools/list
# p50/p99 quiet and flooded with the p99 ratio (target <= 2), its sync p50 ratio, and what team A's caps let in.
# The server runs on CPU 0, the fake Rollout and the Node clients on CPU 1 (taskset).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../scripts/lib/server_start.sh"
SERVER=""; FAKE=""; FLOOD=64; LATENCY=50; SAMPLES=400
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2;; --fake) FAKE=$2; shift 2;; --flood) FLOOD=$2; shift 2;;
    --latency-ms) LATENCY=$2; shift 2;; --samples) SAMPLES=$2; shift 2;;
    *) echo "flood_isolation.sh: unknown argument $1" >&2; exit 2;;
  esac
done
[[ -n $SERVER ]] || SERVER=$here/../build/server/rollout-mcp
[[ -n $FAKE ]] || FAKE=$here/../build/tests/fakes/fake-rollout
[[ -x $SERVER && -x $FAKE ]] || { echo "flood_isolation.sh: build rollout-mcp and fake-rollout first (or --server/--fake)" >&2; exit 1; }
pick_node || { echo "flood_isolation.sh: no node >= 18" >&2; exit 1; }
dir=$(mktemp -d); spid=""; fpid=""
trap 'for p in $spid $fpid; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
SECRET="flood-$(od -An -N12 -tx1 /dev/urandom | tr -dc '0-9a-f')"
taskset -c 1 "$FAKE" --bind 127.0.0.1 --port 0 --port-file "$dir/fake.port" --latency-ms "$LATENCY" --client-secret "$SECRET" --quiet \
  > "$dir/fake.log" 2>&1 &
fpid=$!
await_listening "$fpid" "$dir/fake.port" /_fake/health 20 || { echo "fake-rollout $LISTEN_PROBLEM" >&2; exit 1; }
FAKE_URL="http://127.0.0.1:$LISTEN_PORT"
cat > "$dir/config.toml" <<TOML
[server]
port = 0
[storage]
data_dir = "$dir/data"
[auth]
mode = "api_key"
[rollout]
allowed_base_urls = ["$FAKE_URL"]
max_concurrent_per_host = 4
max_queued_per_host = 64
[sync]
max_queued_per_team = 500
TOML
teams=""
for t in a b; do
  key=$("$SERVER" tenant create "flood-$t" -c "$dir/config.toml" 2>/dev/null | sed -n 's/^API key (shown once, store it now): *//p' | tr -d '[:space:]')
  tenant=$("$SERVER" tenant list -c "$dir/config.toml" 2>/dev/null | awk -F'\t' -v n="flood-$t" '$1 == n { print $2 }')
  teams+="${teams:+,}$key:$tenant"
done
taskset -c 0 "$SERVER" serve -c "$dir/config.toml" --port-file "$dir/server.port" > "$dir/server.log" 2>&1 &
spid=$!
await_listening "$spid" "$dir/server.port" /healthz 20 || { echo "rollout-mcp $LISTEN_PROBLEM" >&2; tail "$dir/server.log" >&2; exit 1; }
row=$(taskset -c 1 "${NODE[@]}" "$here/flood_isolation.mjs" --url "http://127.0.0.1:$LISTEN_PORT/mcp" --fake "$FAKE_URL" --secret "$SECRET" \
  --teams "$teams" --flood "$FLOOD" --samples "$SAMPLES")
echo "$row"
node -e '
const r = JSON.parse(process.argv[1]); const f = x => x.toFixed(2);
console.log("| flood clients | B tools/list p50 quiet / flooded ms | B tools/list p99 quiet / flooded ms | p99 ratio | B sync p50 ratio | A accepted / refused (syncs) | A interactive ok / refused |");
console.log("|---:|---|---|---:|---:|---|---|");
console.log(`| ${r.flood} | ${f(r.quiet.listP50)} / ${f(r.flooded.listP50)} | ${f(r.quiet.listP99)} / ${f(r.flooded.listP99)} | ${f(r.listP99Ratio)} | ${f(r.syncP50Ratio)} | ${r.teamA.accepted} / ${r.teamA.refused} | ${r.teamA.interactive} / ${r.teamA.interactiveRefused} |`);
' "$row"
