#!/usr/bin/env bash
# reanna_sequence.sh SERVER FAKE: starts the fake Rollout and rollout-mcp (api_key, the fake's origin listed)
# on loopback and runs reanna_sequence.mjs with the official SDK client. 77 (skip) without tests/node_modules.
set -uo pipefail
server=$1 fake=$2
here=$(cd "$(dirname "$0")" && pwd)
tests_dir=$(cd "$here/.." && pwd)
[[ -e $tests_dir/node_modules/@modelcontextprotocol/sdk/package.json ]] || { echo "SKIP: no MCP SDK under tests/node_modules"; exit 77; }
source "$here/../../scripts/lib/server_start.sh"
dir=$(mktemp -d); spid=""; fpid=""
trap 'for p in $spid $fpid; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
"$fake" --bind 127.0.0.1 --port 0 --port-file "$dir/fake.port" --client-secret "reanna-$$" --quiet > "$dir/fake.log" 2>&1 &
fpid=$!
await_listening "$fpid" "$dir/fake.port" /_fake/health 20 || { echo "FAIL: fake-rollout $LISTEN_PROBLEM"; exit 1; }
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
TOML
out=$("$server" tenant create reanna -c "$dir/config.toml" 2>/dev/null)
key=$(sed -n 's/^API key (shown once, store it now): *//p' <<<"$out" | tr -d '[:space:]')
tenant=$("$server" tenant list -c "$dir/config.toml" 2>/dev/null | awk -F'\t' '$1 == "reanna" { print $2 }')
"$server" serve -c "$dir/config.toml" --port-file "$dir/server.port" > "$dir/server.log" 2>&1 &
spid=$!
await_listening "$spid" "$dir/server.port" /healthz 20 || { echo "FAIL: rollout-mcp $LISTEN_PROBLEM"; tail "$dir/server.log"; exit 1; }
"$tests_dir/node22.sh" "$here/reanna_sequence.mjs" --url "http://127.0.0.1:$LISTEN_PORT/mcp" --fake "$FAKE_URL" \
  --key "$key" --tenant "$tenant"
rc=$?
((rc == 0)) || tail -n 30 "$dir/server.log"
exit $rc
