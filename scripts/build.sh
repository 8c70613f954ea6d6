#!/usr/bin/env bash
# build.sh [DIR] [cmake options...]: configures (once) and builds the project into DIR (default build/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build}
shift || true
if [[ ! -f $dir/build.ninja ]] || (( $# > 0 )); then
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
fi
cmake --build "$dir" -j "$(nproc)"
