#!/usr/bin/env bash
# inspector_cli.sh URL: smoke test with the MCP Inspector CLI (@modelcontextprotocol/inspector-cli,
# pinned in tests/package.json): tools/list must list `echo`, tools/call echo text=<nonce> must echo it.
set -uo pipefail
URL=${1:?usage: inspector_cli.sh URL}
tests=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$tests/node_modules/@modelcontextprotocol/inspector-cli/build
[[ -f $build/index.js ]] || { echo "SKIP: inspector-cli missing (cd tests && npm ci)"; exit 77; }
# inspector-cli 1.0.3 locates its package.json relative to the working directory: run it from build/.
cd "$build" || exit 1
fail=0
out=$(timeout 30 "$tests/node22.sh" index.js "$URL" --transport http --method tools/list 2>&1); rc=$?
if ((rc == 0)) && grep -q '"name": "echo"' <<< "$out"; then echo "ok - inspector-cli tools/list lists echo"
else echo "FAIL - inspector-cli tools/list (exit $rc): $(head -c 600 <<< "$out")"; fail=1; fi
nonce="inspector-$$-$RANDOM"
out=$(timeout 30 "$tests/node22.sh" index.js "$URL" --transport http --method tools/call --tool-name echo --tool-arg "text=$nonce" 2>&1); rc=$?
if ((rc == 0)) && grep -q "\"text\": \"$nonce\"" <<< "$out" && ! grep -q '"isError": true' <<< "$out"; then echo "ok - inspector-cli tools/call echo"
else echo "FAIL - inspector-cli tools/call echo (exit $rc): $(head -c 600 <<< "$out")"; fail=1; fi
echo "$((2 - fail)) passed, $fail failed"
exit $fail
