#!/usr/bin/env bash
# run.sh: installs what the server needs, builds it and runs it on the embedded default
# (config.example.toml: 127.0.0.1:8080, SQLite under ./data, a generated development key, no API keys).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --no-npm
"$root/scripts/build.sh" "$root/build"
cd "$root"
exec "$root/build/server/rollout-mcp" serve --config "$root/config.example.toml" "$@"
