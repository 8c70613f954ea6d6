#!/usr/bin/env bash
# install-deps.sh: installs every Debian and npm package the build, the tests and the benchmarks need.
# Idempotent; run as root on Debian 12. `--no-npm` skips the Node.js test dependencies.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
want_npm=1
[[ ${1:-} == --no-npm ]] && want_npm=0

packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates procps
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libsodium-dev libpq-dev postgresql-15 libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev libcli11-dev libvalijson-dev libhowardhinnant-date-dev tzdata
  wrk
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js: the machine's own (any nodejs package ships npm, e.g. NodeSource's), else Debian's nodejs + npm.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  # The tests start a throwaway PostgreSQL cluster of their own (scripts/pg_cluster.sh): installing the server
  # must not create and start the system-wide "main" cluster.
  mkdir -p /etc/postgresql-common/createcluster.d
  [[ -e /etc/postgresql-common/createcluster.d/rollout-mcp.conf ]] ||
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/rollout-mcp.conf
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# promtool (the reference parser for GET /metrics in the tests) from Debian's prometheus package, unpacked
# only: installing the package would also start a Prometheus server on port 9090.
if ! command -v promtool >/dev/null; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null && dpkg-deb -x prometheus_*.deb x &&
     install -m 0755 x/usr/bin/promtool /usr/local/bin/promtool) || echo "install-deps.sh: promtool not installed (metrics format tests will be skipped)" >&2
  rm -rf "$tmp"
fi

if ((want_npm)); then
  # Pinned in tests/package-lock.json: the MCP SDK client, the conformance suite, the Inspector CLI
  # and node@22 (the conformance CLI and the Inspector need Node >= 22; Debian 12 ships 20).
  cd "$here/tests"
  if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
