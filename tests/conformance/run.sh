#!/usr/bin/env bash
# run.sh URL [extra args]: the official MCP conformance suite (server mode) against URL.
#
#   1. @modelcontextprotocol/conformance 0.1.16: `server --suite all` (the 30 active scenarios plus
#      the pending json-schema-2020-12 and server-sse-polling) with
#      `--expected-failures baseline.yml` (the 16 scenarios that do not apply to a tools-only server).
#      Extra args go to this run only (e.g. `--scenario ping`, `-o DIR`, `--verbose`).
#   2. 0.2.0-alpha.12 (npm alias conformance-alpha), `--scenario server-session-lifecycle`
#      (DELETE then 404), which 0.1.16 does not have.
#   3. 0.2.0-alpha.12 `--requirements 2025-11-25` with the same baseline: every message the server
#      sends is validated against the 2025-11-25 JSON Schema (wire-schema-valid checks).
#   4. 0.2.0-alpha.12 `--requirements 2026-07-28`: the sessionless revision (37 scored scenarios plus the 10
#      tasks-* extension scenarios and the 3 pending ones), baseline baseline-2026-07-28.yml.
#
# Environment: CONFORMANCE_ALPHA=0 skips 2 and 3; CONFORMANCE_ALPHA=lifecycle runs only 2.
#   CONFORMANCE_TIMEOUT (seconds, default 600) bounds each run.
# Both CLIs need Node >= 22: they run with tests/node22.sh (the pinned npm `node` package).
# Exit: 0 iff every run passed (baseline respected, no stale entries); 77 (CTest skip) when
# tests/node_modules is missing; 1 otherwise. Use a 127.0.0.1/localhost URL (dns-rebinding needs it).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tests=$(dirname "$here")
URL=${1:?usage: run.sh URL [extra conformance args]}
shift
CLI=$tests/node_modules/@modelcontextprotocol/conformance/dist/index.js
ALPHA=$tests/node_modules/conformance-alpha/dist/index.js
if [[ ! -f $CLI ]]; then
  echo "SKIP: $CLI missing (run: cd tests && npm ci)" >&2
  exit 77
fi
NODE=("$tests/node22.sh")
TMO=${CONFORMANCE_TIMEOUT:-600}
MODE=${CONFORMANCE_ALPHA:-1}
results=()
status=0

run() {  # run LABEL CLI ARGS...
  local label=$1; shift
  echo
  echo "===== conformance: $label ====="
  echo "+ conformance $*"
  timeout --kill-after=10 "$TMO" "${NODE[@]}" "$@"
  local rc=$?
  if ((rc == 124 || rc == 137)); then echo "conformance: $label timed out after ${TMO}s"; fi
  if ((rc == 0)); then results+=("PASS  $label"); else results+=("FAIL  $label (exit $rc)"); status=1; fi
}

run "0.1.16 --suite all (baseline: conformance/baseline.yml)" \
  "$CLI" server --url "$URL" --suite all --expected-failures "$here/baseline.yml" "$@"

if [[ $MODE != 0 ]]; then
  if [[ -f $ALPHA ]]; then
    run "0.2.0-alpha.12 server-session-lifecycle" "$ALPHA" server --url "$URL" --scenario server-session-lifecycle
    if [[ $MODE != lifecycle ]]; then
      run "0.2.0-alpha.12 --requirements 2025-11-25 (wire-schema checks; baseline)" \
        "$ALPHA" server --url "$URL" --requirements 2025-11-25 --expected-failures "$here/baseline.yml"
      run "0.2.0-alpha.12 --requirements 2026-07-28 (sessionless, Tasks; baseline-2026-07-28.yml)" \
        "$ALPHA" server --url "$URL" --requirements 2026-07-28 --expected-failures "$here/baseline-2026-07-28.yml"
    fi
  else
    results+=("FAIL  0.2.0-alpha.12: $ALPHA missing (npm ci in tests/)")
    status=1
  fi
fi

echo
echo "===== conformance summary ($URL) ====="
printf '%s\n' "${results[@]}"
exit $status
