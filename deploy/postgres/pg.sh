#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, from Debian's postgresql package.
#
#   pg.sh start <data-dir> [port]   initdb once (trust auth, database "dossier"), start, wait until ready
#   pg.sh stop  <data-dir>          fast shutdown (idempotent)
#   pg.sh kill  <data-dir>          SIGKILL the postmaster (fault tests)
#   pg.sh url   <data-dir> [port]   print the SQLAlchemy URL
#
# PG_EXTRA_OPTIONS (e.g. "-c log_checkpoints=on") is added to the server's options at start.
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user that the
# Debian package creates. The cluster is for tests and local runs only: trust auth, fsync off.
set -euo pipefail

pg_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$dir" ]; then
        echo "pg.sh: PostgreSQL server binaries not found; run scripts/setup.sh (installs Debian's postgresql)" >&2
        exit 1
    fi
    echo "$dir"
}

as_owner() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
data=${2:-}
port=${3:-5432}
[ -n "$cmd" ] && [ -n "$data" ] || { echo "usage: pg.sh start|stop|kill|url <data-dir> [port]" >&2; exit 2; }
bin=$(pg_bindir)

case "$cmd" in
start)
    mkdir -p "$data"
    if [ "$(id -u)" = "0" ]; then chown postgres: "$data"; fi
    if [ ! -f "$data/pgdata/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$data/pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$data/initdb.log" 2>&1 \
            || { cat "$data/initdb.log" >&2; exit 1; }
    fi
    if as_owner "$bin/pg_ctl" -D "$data/pgdata" status >/dev/null 2>&1; then
        echo "postgres already running in $data"
    else
        as_owner "$bin/pg_ctl" -D "$data/pgdata" -l "$data/postgres.log" -w -t 60 start \
            -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 ${PG_EXTRA_OPTIONS:-}" \
            >/dev/null || { tail -n 30 "$data/postgres.log" >&2; exit 1; }
    fi
    # The database the services use; creating it twice is harmless.
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'dossier'" | grep -q 1 \
        || as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres dossier
    echo "postgres listening on 127.0.0.1:$port (database dossier)"
    ;;
stop)
    if [ -f "$data/pgdata/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$data/pgdata" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    ;;
kill)
    if [ -f "$data/pgdata/postmaster.pid" ]; then
        kill -9 "$(head -n 1 "$data/pgdata/postmaster.pid")" 2>/dev/null || true
    fi
    ;;
url)
    echo "postgresql+asyncpg://postgres@127.0.0.1:$port/dossier"
    ;;
*)
    echo "pg.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
