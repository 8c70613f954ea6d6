#!/usr/bin/env bash
# Team isolation, API keys and key handling, end to end against the real binary over 127.0.0.1:
# 401 without/with a bad key (identical answers), sessions bound to the team that created them,
# revocation by another process effective on the next request, no key in the logs or the database,
# and start-up refusals (group-readable key file, wrong master key) that name the key source.
set -uo pipefail
bin=${1:?usage: team_isolation.sh /path/to/rollout-mcp}
work=$(mktemp -d); server_pid=""
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT; [[ -n ${KEEP:-} ]] && trap - EXIT
failures=0; passes=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then passes=$((passes + 1)); echo "ok   $name"; else failures=$((failures + 1)); echo "FAIL $name"; fi
}
cat > "$work/config.toml" <<TOML
[server]
port = 0
[storage]
data_dir = "$work/data"
[auth]
mode = "api_key"
TOML
start_server() {
  rm -f "$work/port"
  "$bin" serve -c "$work/config.toml" --port-file "$work/port" 2>> "$work/server.log" &
  server_pid=$!
  for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.05; done
  port=$(cat "$work/port" 2>/dev/null); url="http://127.0.0.1:$port/mcp"
}
stop_server() { kill "$server_pid" 2>/dev/null; wait "$server_pid"; local rc=$?; server_pid=""; return $rc; }
init_body='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
list_body='{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
post() {  # post KEY SESSION BODY -> writes $work/h and $work/b, prints the status
  local key=$1 sid=$2 body=$3 args=(-s -o "$work/b" -D "$work/h" -w '%{http_code}' -X POST "$url"
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
  [[ -n $key ]] && args+=(-H "Authorization: Bearer $key")
  [[ -n $sid ]] && args+=(-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25')
  curl "${args[@]}" --data "$body"
}
session_id() { tr -d '\r' < "$work/h" | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}'; }

ka=$("$bin" tenant create team-a -c "$work/config.toml" 2>>"$work/cli.log" | awk '/API key/{print $NF}')
kb=$("$bin" tenant create team-b -c "$work/config.toml" 2>>"$work/cli.log" | awk '/API key/{print $NF}')
check "tenant create prints a key per team" test -n "$ka" -a -n "$kb" -a "$ka" != "$kb"
check "keys are recognizable (rmcp_ prefix)" test "${ka:0:5}" = rmcp_
start_server
check "server started" test -n "$port"

check "no Authorization -> 401" test "$(post "" "" "$init_body")" = 401
cp "$work/b" "$work/b_none"
check "401 carries WWW-Authenticate" grep -qi '^WWW-Authenticate: Bearer' "$work/h"
check "unknown key -> 401" test "$(post "rmcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "" "$init_body")" = 401
check "unknown key body is identical to missing key body" cmp -s "$work/b" "$work/b_none"
tampered="${ka:0:${#ka}-1}x"; [[ $tampered == "$ka" ]] && tampered="${ka:0:${#ka}-1}y"
check "tampered key (same prefix) -> 401" test "$(post "$tampered" "" "$init_body")" = 401
check "tampered key body is identical" cmp -s "$work/b" "$work/b_none"

check "team A initializes" test "$(post "$ka" "" "$init_body")" = 200
sa=$(session_id)
check "team B initializes" test "$(post "$kb" "" "$init_body")" = 200
sb=$(session_id)
check "team A uses its session" test "$(post "$ka" "$sa" "$list_body")" = 200
check "team B cannot use team A's session (404)" test "$(post "$kb" "$sa" "$list_body")" = 404
check "team A cannot use team B's session (404)" test "$(post "$ka" "$sb" "$list_body")" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$url" -H "Authorization: Bearer $kb" -H "Mcp-Session-Id: $sa")
check "team B cannot end team A's session (404)" test "$code" = 404
check "team A's session survives" test "$(post "$ka" "$sa" "$list_body")" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' -N --max-time 1 "$url" -H 'Accept: text/event-stream' \
  -H "Authorization: Bearer $kb" -H "Mcp-Session-Id: $sa")
check "team B cannot open team A's GET stream (404)" test "$code" = 404

prefix=${ka:5:8}
"$bin" key revoke "rmcp_$prefix" -c "$work/config.toml" >> "$work/cli.log" 2>&1
check "revoked key fails on the very next request" test "$(post "$ka" "$sa" "$list_body")" = 401
check "other team unaffected by the revocation" test "$(post "$kb" "$sb" "$list_body")" = 200
ka2=$("$bin" key issue team-a -c "$work/config.toml" 2>>"$work/cli.log" | awk '{print $NF}')
check "a newly issued key works at once" test "$(post "$ka2" "" "$init_body")" = 200

check "graceful stop exits 0" stop_server
for k in "$ka" "$kb" "$ka2"; do
  check "key absent from server log" bash -c "! grep -qF -- '$k' '$work/server.log'"
  check "key absent from CLI stderr" bash -c "! grep -qF -- '$k' '$work/cli.log'"
  check "key absent from the database files" bash -c "! cat '$work'/data/rollout-mcp.db* | grep -qaF -- '$k'"
done
check "database file is mode 0600" test "$(stat -c %a "$work/data/rollout-mcp.db")" = 600
check "generated master key is mode 0600" test "$(stat -c %a "$work/data/master.key")" = 600

chmod 640 "$work/data/master.key"
out=$("$bin" serve -c "$work/config.toml" 2>&1 >/dev/null); rc=$?
check "group-readable master key refused at start-up" test $rc -ne 0
check "refusal names the key file" grep -qF "$work/data/master.key" <<<"$out"
chmod 600 "$work/data/master.key"
head -c 32 /dev/urandom | base64 > "$work/other.key"; chmod 600 "$work/other.key"
out=$(ROLLOUT_MCP_STORAGE_MASTER_KEY_FILE="$work/other.key" "$bin" serve -c "$work/config.toml" 2>&1 >/dev/null); rc=$?
check "wrong master key refused at start-up" test $rc -ne 0
check "refusal names the key source" grep -qF "$work/other.key" <<<"$out"
sed -i 's/^\[server\]$/[server]\nbind = "0.0.0.0"\nbehind_tls_proxy = true/' "$work/config.toml"
out=$("$bin" serve -c "$work/config.toml" 2>&1 >/dev/null); rc=$?
check "non-loopback bind without a configured master key refused" test $rc -ne 0

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
