# A throwaway PostgreSQL/PostGIS cluster for the benchmark scripts (benches/pg_import.sh, benches/martin.sh), set
# up as tests/common/postgres.rs does: initdb (as the system user `postgres` via runuser when run as root; initdb
# refuses root), trust authentication, a role `brandpunt` (no superuser) owning a database `brandpunt` with
# PostGIS. Source it, do not run it. Needs postgresql-15 + postgresql-15-postgis-3 (Debian 12).

# pg_find_bin: sets PG_BIN (unless set) to the newest /usr/lib/postgresql/*/bin; fails with how to install it.
pg_find_bin() {
  if [ -z "${PG_BIN:-}" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  [ -x "${PG_BIN:-}/initdb" ] || {
    echo "no PostgreSQL server binaries: apt-get install postgresql-15 postgresql-15-postgis-3" >&2
    return 1
  }
}

# pg_as CMD...: runs CMD as the cluster's owner (`postgres` when this script runs as root).
pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DIR SERVER_OPTIONS: a new cluster in DIR/data (socket and log in DIR) started with SERVER_OPTIONS
# (postgres `-c` settings, `-p PORT`), the role and database `brandpunt` with PostGIS; sets PG_DIR.
pg_start() {
  PG_DIR=$1
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
  pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o "-k $PG_DIR $2" start >/dev/null
  pg_sql postgres postgres -c "CREATE ROLE brandpunt LOGIN NOSUPERUSER"
  pg_sql postgres postgres -c "CREATE DATABASE brandpunt OWNER brandpunt"
  pg_sql postgres brandpunt -c "CREATE EXTENSION postgis"
}

# pg_warm_wal N: makes N WAL segments (16 MB each) and lets a checkpoint keep them for reuse, as a cluster that
# has run a while holds them: a new cluster instead creates and zero-fills each segment inside the statement
# that first needs it (~1.5 s over the 0.6 GB of WAL of a 1 M-row delivery on the test machine).
pg_warm_wal() {
  local i
  pg_sql postgres postgres -c "CREATE TABLE brandpunt_warm_wal (x int)"
  for i in $(seq 1 "$1"); do
    pg_sql postgres postgres -c "INSERT INTO brandpunt_warm_wal VALUES ($i)" -c "SELECT pg_switch_wal()" >/dev/null
  done
  pg_sql postgres postgres -c "DROP TABLE brandpunt_warm_wal" -c "CHECKPOINT"
}

# pg_sql ROLE DATABASE PSQL_ARGS...: psql over the cluster's socket, quiet, unaligned, stopping at the first error.
pg_sql() {
  "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -U "$1" -d "$2" "${@:3}"
}

# pg_stop: stops the cluster of pg_start at once (nothing to keep).
pg_stop() {
  [ -n "${PG_DIR:-}" ] && pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  return 0
}
