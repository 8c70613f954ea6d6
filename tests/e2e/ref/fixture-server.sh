#!/usr/bin/env bash
# Stand-in for the rollout-mcp binary (same `serve --config FILE --port-file PATH` CLI), built on the
# TypeScript SDK: lets with_server.sh and the Node tests be checked without the C++ server.
#   tests/e2e/with_server.sh --server tests/e2e/ref/fixture-server.sh -- ...
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../../node22.sh" "$here/fixture-server.mjs" "$@"
