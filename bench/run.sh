#!/usr/bin/env bash
# bench/run.sh: rollout-mcp against the TypeScript-SDK reference server, same machine, same load.
#
#   bench/run.sh [--passes 1] [--dur 5s] [--conns "1 16 64"] [--reqs "ping tools_list echo"]
#                [--sessions 1000] [--server PATH/rollout-mcp] [--server-config FILE]
#                [--ref-only | --ours-only] [--no-mem] [--tls] [--out DIR]
#
# Each pass starts the reference (perf/server-sdk.mjs --mode stateful --json 0, SDK 1.32.2 on
# express, pinned in bench/package-lock.json) and then rollout-mcp (`serve` with
# [mcp] test_fixtures = true, tool `echo`), each with taskset on CPU 0, and drives it with
# perf/bench.sh (wrk + perf/mcp.lua, wrk on CPU 1, one session, MCP-Protocol-Version 2025-06-18).
# Then perf/session-mem.sh opens --sessions idle sessions on a fresh instance of each.
# Prints one markdown table (median over passes): req/s, p50, p99 for both and the ratios, and
# KiB of RSS per idle session. CSVs and wrk logs stay in --out (default: a new temp dir).
# --tls adds rollout-mcp serving HTTPS (a throw-away CA from tests' fake-rollout --write-test-tls) with
# ping and echo at 64 kept-alive connections, printed as a ratio to the same server over plain HTTP.
# Three passes of 10 s are the figures to publish (`--passes 3 --dur 10s`); the default is a quick
# look. All traffic goes to 127.0.0.1. Needs wrk, curl, taskset, bc, python3, node (>= 18).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../scripts/lib/server_start.sh"
perf=$here/perf
PASSES=1; DUR=5s; CONNS="1 16 64"; REQS="ping tools_list echo"; SESSIONS=1000
SERVER=${ROLLOUT_MCP_BIN:-}; SERVER_CONFIG=""; DO_REF=1; DO_OURS=1; DO_MEM=1; DO_TLS=0; OUT=""
WARMUP=${WARMUP:-2s}
while [[ $# -gt 0 ]]; do
  case $1 in
    --passes) PASSES=$2; shift 2;; --dur) DUR=$2; shift 2;; --conns) CONNS=$2; shift 2;;
    --reqs) REQS=$2; shift 2;; --sessions) SESSIONS=$2; shift 2;; --server) SERVER=$2; shift 2;;
    --server-config) SERVER_CONFIG=$2; shift 2;; --ref-only) DO_OURS=0; shift;;
    --ours-only) DO_REF=0; shift;; --no-mem) DO_MEM=0; shift;; --out) OUT=$2; shift 2;;
    --tls) DO_TLS=1; shift;;
    -h|--help) sed -n '2,20p' "$0"; exit 0;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2;;
  esac
done

for tool in wrk curl taskset bc python3 node; do
  command -v "$tool" > /dev/null || { echo "run.sh: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
if ((DO_OURS)); then
  if [[ -z $SERVER ]]; then
    for c in "$here/../build/server/rollout-mcp" "$here"/../build*/server/rollout-mcp "$here/../build/rollout-mcp"; do
      [[ -x $c ]] && { SERVER=$c; break; }
    done
  fi
  [[ -n $SERVER && -x $SERVER ]] || { echo "run.sh: rollout-mcp binary not found (build it, or pass --server PATH, or --ref-only)" >&2; exit 1; }
  SERVER=$(readlink -f "$SERVER")
fi
if ((DO_REF)) && [[ ! -d $here/node_modules/@modelcontextprotocol/sdk ]]; then
  echo "run.sh: installing the reference server's pinned dependencies (npm ci in bench/)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

[[ -n $OUT ]] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/rollout-mcp-bench.XXXXXX")
mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/rollout-mcp-bench-run.XXXXXX")
spid=""
stop_server() {
  [[ -n $spid ]] || return 0
  if kill -0 "$spid" 2>/dev/null; then
    kill -TERM "$spid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$spid" 2>/dev/null && { echo "run.sh: pid $spid ignored SIGTERM for 10 s, killing" >&2; kill -KILL "$spid" 2>/dev/null || true; }
  fi
  wait "$spid" 2>/dev/null || true
  spid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

URL=""
start_ref() {
  local port; port=$(free_port)
  (cd "$perf" && exec taskset -c 0 node server-sdk.mjs --mode stateful --json 0 --port "$port") > "$OUT/ref-server.log" 2>&1 &
  spid=$!
  for ((i = 0; i < 200; i++)); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/__stats" && break
    kill -0 "$spid" 2>/dev/null || { echo "run.sh: reference server died:"; tail "$OUT/ref-server.log"; exit 1; }
    sleep 0.1
  done
  URL="http://127.0.0.1:$port/mcp"
  sleep 1
}
start_ours() {   # start_ours [tls]
  local cfg=$SERVER_CONFIG tls=${1:-} tls_lines="" base=http://127.0.0.1 curl_tls=()
  if [[ -n $tls ]]; then
    mkdir -p "$work/tls"
    "$FAKE" --write-test-tls "$work/tls"
    tls_lines=$(printf 'tls_cert_file = "%s"\ntls_key_file = "%s"\n' "$work/tls/cert.pem" "$work/tls/key.pem")
    base=https://localhost; curl_tls=(--cacert "$work/tls/ca.pem")
  fi
  if [[ -z $cfg || -n $tls ]]; then
    cfg=$work/bench${tls:+-tls}.toml
    mkdir -p "$work/data"
    printf '[server]\nbind = "127.0.0.1"\nport = 0\n%s\n\n[mcp]\ntest_fixtures = true\n# throughput against a reference without pacing\nrequests_per_second_per_team = 0\n\n[storage]\ndata_dir = "%s"\n\n[auth]\nmode = "none"\n' "$tls_lines" "$work/data" > "$cfg"
  fi
  rm -f "$work/port"
  (cd "$work" && exec taskset -c 0 "$SERVER" serve --config "$cfg" --port-file "$work/port") > "$OUT/rollout-mcp${tls:+-tls}.log" 2>&1 &
  spid=$!
  await_listening "$spid" "$work/port" /healthz 20 "$base" "${curl_tls[@]}" || { echo "run.sh: rollout-mcp $LISTEN_PROBLEM"; tail "$OUT/rollout-mcp.log"; exit 1; }
  URL="$base:$LISTEN_PORT/mcp"
  if [[ -n $tls ]]; then export MCP_CACERT="$work/tls/ca.pem"; else unset MCP_CACERT; fi
  sleep 1
}

targets=()
((DO_REF)) && targets+=(ts-sdk)
((DO_OURS)) && targets+=(rollout-mcp)
FAKE=""
if ((DO_TLS)); then
  for c in "$(dirname "$SERVER")/../tests/fakes/fake-rollout" "$here"/../build*/tests/fakes/fake-rollout; do
    [[ -x $c ]] && { FAKE=$c; break; }
  done
  [[ -n $FAKE ]] || { echo "run.sh: --tls needs the tests' fake-rollout binary (build the tests)" >&2; exit 1; }
  targets+=(rollout-mcp-tls)
fi
echo "# bench: passes=$PASSES dur=$DUR conns='$CONNS' reqs='$REQS' out=$OUT" >&2
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ((p = 1; p <= PASSES; p++)); do
  for t in "${targets[@]}"; do
    reqs=$REQS; conns=$CONNS
    case $t in
      ts-sdk) start_ref;;
      rollout-mcp) start_ours;;
      rollout-mcp-tls) start_ours tls; reqs="ping echo"; conns=64;;
    esac
    echo "# pass $p/$PASSES: $t at $URL (pid $spid)" >&2
    "$perf/bench.sh" --url "$URL" --pid "$spid" --session auto --reqs "$reqs" --conns "$conns" \
      --dur "$DUR" --warmup "$WARMUP" --tag "$t" --out "$OUT/pass$p.csv" >&2
    stop_server
  done
done

unset MCP_CACERT
: > "$OUT/session-mem.txt"
if ((DO_MEM)); then
  for t in ts-sdk rollout-mcp; do
    [[ " ${targets[*]} " == *" $t "* ]] || continue
    if [[ $t == ts-sdk ]]; then start_ref; else start_ours; fi
    echo "# session memory: $t, $SESSIONS idle sessions" >&2
    line=$("$perf/session-mem.sh" "$URL" "$spid" "$SESSIONS")
    echo "$t $line" | tee -a "$OUT/session-mem.txt" >&2
    stop_server
  done
fi

python3 "$here/compare.py" --mem "$OUT/session-mem.txt" "$OUT"/pass*.csv
echo
echo "Load average before the run: $load_start (anything else running on the 2 cores skews both sides)."
echo "(raw CSVs, wrk logs and server logs: $OUT)"
