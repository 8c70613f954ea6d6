#!/usr/bin/env bash
# serve_lock.sh BINARY: one serving process per SQLite database. A second `serve` on the same database fails
# at once naming the first one's PID and changes nothing (the database files stay byte for byte the same);
# the admin commands keep working beside the live server; after the first stops, a new one starts.
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/server_start.sh"
dir=$(mktemp -d)
first=""
cleanup() { [[ -n $first ]] && kill "$first" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [[ -f $dir/first.log ]] && sed 's/^/  first: /' "$dir/first.log" | tail -20; exit 1; }

cat >"$dir/config.toml" <<TOML
[server]
port = 0
[storage]
data_dir = "$dir/data"
[auth]
mode = "api_key"
TOML

"$bin" serve -c "$dir/config.toml" --port-file "$dir/port1" >"$dir/first.log" 2>&1 &
first=$!
await_listening "$first" "$dir/port1" /healthz 20 || fail "first serve: $LISTEN_PROBLEM"
[[ -f $dir/data/rollout-mcp.db.lock ]] || fail "no lock file beside the database"
[[ $(tr -dc 0-9 <"$dir/data/rollout-mcp.db.lock") == "$first" ]] || fail "the lock file does not hold PID $first"

"$bin" tenant create acme -c "$dir/config.toml" >"$dir/create.out" 2>&1 || fail "tenant create beside the server: $(cat "$dir/create.out")"
sleep 0.3   # let the first server's own writes settle before the snapshot
snapshot() { for f in "$dir"/data/rollout-mcp.db "$dir"/data/rollout-mcp.db-wal; do [[ -f $f ]] && sha256sum "$f"; done; }
before=$(snapshot)

start=$SECONDS
"$bin" serve -c "$dir/config.toml" --port-file "$dir/port2" >"$dir/second.log" 2>&1
rc=$?
((rc != 0)) || fail "a second serve on the same database started (exit 0)"
((SECONDS - start <= 5)) || fail "the second serve did not fail at once"
grep -q "PID $first" "$dir/second.log" || fail "the refusal does not name PID $first: $(cat "$dir/second.log")"
[[ ! -s $dir/port2 ]] || fail "the second serve wrote a port file"
after=$(snapshot)
[[ $before == "$after" ]] || fail "the second serve changed the database files"
kill -0 "$first" 2>/dev/null || fail "the first server died"

"$bin" outbox list -c "$dir/config.toml" >"$dir/list.out" 2>&1 || fail "outbox list beside the server: $(cat "$dir/list.out")"
"$bin" tenant list -c "$dir/config.toml" | grep -q acme || fail "tenant list beside the server does not show acme"
"$bin" keys status -c "$dir/config.toml" >/dev/null 2>&1 || fail "keys status beside the server"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LISTEN_PORT/readyz")
[[ $code == 200 ]] || fail "the first server is not ready after the refused start (/readyz $code)"

kill -TERM "$first"; wait "$first"; first=""
"$bin" serve -c "$dir/config.toml" --port-file "$dir/port3" >"$dir/third.log" 2>&1 &
first=$!
await_listening "$first" "$dir/port3" /healthz 20 || fail "a serve after the first stopped: $LISTEN_PROBLEM"
echo "serve_lock: 1 passed, 0 failed"
