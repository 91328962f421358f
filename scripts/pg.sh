#!/usr/bin/env bash
# Local PostgreSQL for development, tests and benchmarks: scripts/pg.sh start|stop|status
#
# - Run as root. The server itself runs as the `postgres` OS user (PostgreSQL refuses root).
# - Data lives in <repo>/.data/pg (git-ignored). If the postgres user cannot traverse the repo
#   path, the data goes to /tmp/noetl-pg-<port> instead (the script says so).
# - `start` reuses an existing cluster; NOETL_PG_RESET=1 wipes it first.
# - Listens on 127.0.0.1:${NOETL_PG_PORT:-55432} only; the unix socket is in /tmp.
# - Auth: scram-sha-256 over TCP, trust on the local socket.
#
# Roles and database (all idempotent):
#   postgres/postgres        superuser. Tests use it to create and drop per-fixture databases,
#                            so noetl_server does NOT get CREATEDB.
#   noetl_server/noetl_server owner of database `noetl`; runs the schema migrations and therefore
#                            owns schemas noetl, orleans and noetl_schema.
#   noetl_gateway/noetl_gateway discovery-only: the migrator grants it read access to the Orleans
#                            gateway list and nothing on schema noetl.
# Schema migrations are NOT run here: the silo runs NoEtl.Schema's SchemaMigrator at start-up.
set -euo pipefail

PORT=${NOETL_PG_PORT:-55432}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SOCKDIR=/tmp

die() { echo "pg.sh: $*" >&2; exit 1; }
as_pg() { su postgres -s /bin/sh -c "$1"; }

[ "$(id -u)" -eq 0 ] || die "run as root (the server is started as the postgres OS user)"

# $1 = install: install the packages when missing; otherwise a missing server means "not running".
ensure_binaries() {
  if ! ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "${1:-}" != install ]; then echo "pg.sh: not installed, not running"; exit 3; fi
    echo "pg.sh: PostgreSQL not installed, installing from Debian packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
}

# The data directory must sit below directories the postgres user can traverse.
resolve_datadir() {
  if as_pg "test -x '$REPO'" 2>/dev/null; then
    mkdir -p "$REPO/.data"
    chmod 755 "$REPO/.data"
    DATA="$REPO/.data/pg"
  else
    DATA="/tmp/noetl-pg-$PORT"
    echo "pg.sh: $REPO is not traversable by the postgres user; using $DATA instead"
  fi
}

is_running() {
  [ -f "$DATA/PG_VERSION" ] && as_pg "'$PGBIN/pg_ctl' -D '$DATA' status" >/dev/null 2>&1
}

psql_super() {
  "$PGBIN/psql" -X -q -h "$SOCKDIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}

init_cluster() {
  install -d -o postgres -g postgres -m 700 "$DATA"
  local pwfile
  pwfile=$(mktemp)
  echo postgres >"$pwfile"
  chown postgres "$pwfile"
  as_pg "'$PGBIN/initdb' -D '$DATA' -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 --pwfile='$pwfile'" >/dev/null
  rm -f "$pwfile"
  # Our settings live in their own file so that every start can rewrite them (e.g. a new port).
  echo "include_if_exists = 'noetl.conf'" >>"$DATA/postgresql.conf"
}

write_settings() {
  # synchronous_commit and fsync stay on: benchmark numbers must include commit durability.
  cat >"$DATA/noetl.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKDIR'
max_connections = 300
shared_buffers = 256MB
synchronous_commit = on
fsync = on
password_encryption = 'scram-sha-256'
EOF
  chown postgres:postgres "$DATA/noetl.conf"
}

setup_roles_and_db() {
  psql_super <<'SQL'
ALTER ROLE postgres PASSWORD 'postgres';
SELECT 'CREATE ROLE noetl_server' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'noetl_server') \gexec
SELECT 'CREATE ROLE noetl_gateway' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'noetl_gateway') \gexec
ALTER ROLE noetl_server LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD 'noetl_server';
ALTER ROLE noetl_gateway LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD 'noetl_gateway';
SELECT 'CREATE DATABASE noetl OWNER noetl_server TEMPLATE template0 ENCODING ''UTF8''' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'noetl') \gexec
ALTER DATABASE noetl OWNER TO noetl_server;
-- A tenant database for the examples' postgres steps: workers reach it through a credential alias, never noetl.*.
SELECT 'CREATE ROLE noetl_demo' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'noetl_demo') \gexec
ALTER ROLE noetl_demo LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD 'noetl_demo';
SELECT 'CREATE DATABASE noetl_demo OWNER noetl_demo TEMPLATE template0 ENCODING ''UTF8''' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'noetl_demo') \gexec
SQL
}

print_connection_strings() {
  cat <<EOF
PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT, data in $DATA
  admin   (tests create/drop databases): Host=127.0.0.1;Port=$PORT;Username=postgres;Password=postgres;Database=postgres
  server  (silo: migrations, noetl.*, Orleans providers): Host=127.0.0.1;Port=$PORT;Username=noetl_server;Password=noetl_server;Database=noetl;Search Path=orleans
  gateway (Orleans client gateway discovery only):        Host=127.0.0.1;Port=$PORT;Username=noetl_gateway;Password=noetl_gateway;Database=noetl;Search Path=orleans
  demo    (tenant database of examples/postgres_step):   Host=127.0.0.1;Port=$PORT;Username=noetl_demo;Password=noetl_demo;Database=noetl_demo
EOF
}

cmd_start() {
  ensure_binaries install
  resolve_datadir
  if [ "${NOETL_PG_RESET:-0}" = "1" ]; then
    if is_running; then as_pg "'$PGBIN/pg_ctl' -D '$DATA' -m fast -w stop" >/dev/null; fi
    echo "pg.sh: NOETL_PG_RESET=1, wiping $DATA"
    rm -rf "$DATA"
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    echo "pg.sh: initdb in $DATA"
    init_cluster
  fi
  if is_running; then
    echo "pg.sh: already running"
  else
    write_settings
    if ! as_pg "'$PGBIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -t 60 start" >/dev/null; then
      tail -n 20 "$DATA/server.log" >&2 || true
      die "server did not start (is port $PORT taken?)"
    fi
  fi
  setup_roles_and_db
  print_connection_strings
}

cmd_stop() {
  ensure_binaries
  resolve_datadir
  if is_running; then
    as_pg "'$PGBIN/pg_ctl' -D '$DATA' -m fast -w stop" >/dev/null
    echo "pg.sh: stopped"
  else
    echo "pg.sh: not running"
  fi
}

cmd_status() {
  ensure_binaries
  resolve_datadir
  if is_running; then
    echo "pg.sh: running on 127.0.0.1:$PORT, data in $DATA"
  elif [ -f "$DATA/PG_VERSION" ]; then
    echo "pg.sh: stopped (cluster exists in $DATA)"
    exit 3
  else
    echo "pg.sh: stopped (no cluster in $DATA)"
    exit 3
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
