#!/usr/bin/env bash
# pg_cluster.sh: a throwaway PostgreSQL 15 cluster for the tests, owned by the `postgres` user, in a temporary
# folder, listening on 127.0.0.1 only (and a Unix socket inside that folder).
#
#   scripts/pg_cluster.sh start DIR PORT   creates and starts it; prints the libpq URL of its `rollout` database
#   scripts/pg_cluster.sh stop DIR         stops it (immediate shutdown) and removes DIR
#
# Durability settings are off (fsync, synchronous_commit): the cluster lives for one test run, and the tests
# that kill processes kill servers, never PostgreSQL. Authentication is `trust` on the loopback address and
# the socket folder (mode 0700): only this machine's root and postgres users can reach it.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
cmd=${1:?usage: pg_cluster.sh start DIR PORT | stop DIR}
dir=${2:?cluster folder}

as_postgres() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
  start)
    port=${3:?port}
    [[ -x $bin/initdb ]] || { echo "pg_cluster.sh: PostgreSQL 15 is not installed ($bin)" >&2; exit 1; }
    mkdir -p "$dir"
    [[ $(id -u) == 0 ]] && chown postgres:postgres "$dir"
    chmod 0700 "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off \
       -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB" >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    as_postgres "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt \
      -c "CREATE ROLE rollout LOGIN CREATEDB" -c "CREATE DATABASE rollout OWNER rollout" >/dev/null
    echo "postgresql://rollout@127.0.0.1:$port/rollout"
    ;;
  stop)
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: pg_cluster.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
