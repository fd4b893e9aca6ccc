#!/usr/bin/env bash
# PostgreSQL bulk import (issue 15): a national 1 M-row police delivery imported end to end with the CLI
# (`brandpunt --db postgres://... import incidents`: reading, geocoding, COPY BINARY into the staging table and
# the merge, one transaction) into a throwaway PostgreSQL cluster that this script starts and removes, and the
# same delivery into SQLite in the same run (the peer). Reports wall and max RSS (/usr/bin/time -v) of each
# import, and the stored row counts of both stores.
#
# The cluster is set up as tests/common/postgres.rs does: initdb (as the system user `postgres` via runuser when
# run as root; initdb refuses root), unix socket only, a role `brandpunt` (no superuser) owning a database with
# PostGIS. Unlike the tests, fsync stays on (a durable cluster, as in production) unless PG_FSYNC=off. The
# cluster gets `max_wal_size=4GB` (README, "PostgreSQL": the bulk-load setting of PostgreSQL's "Populating a
# Database"), and before the timed steps its WAL segments are made as a cluster that has run a while holds them
# (PG_WARM=1, see `pg_warm_wal`): a brand-new cluster creates and zero-fills every 16 MB segment inside the
# import that first needs it; PG_WARM=0 measures that.
#
# After the imports, `brandpunt store copy` of the SQLite store into a new database of the same cluster is timed
# too (COPY_STORE=0 skips it).
#
# Usage: benches/pg_import.sh
# env: INCIDENTS=1000000 YEARS=5; CBS=file DELIVERY=file (reuse an existing national CBS GeoPackage and delivery,
#      e.g. from `brandpunt demo --national --no-import`; default: generate them into the work dir);
#      BIN=path (default: cargo build --release); PG_BIN=dir with initdb/pg_ctl/psql (default: newest under
#      /usr/lib/postgresql); PG_FSYNC=on; PG_OPTS="-c shared_buffers=2GB" (more server settings; default: the
#      defaults, shared_buffers 128MB); NICENESS=10 (every step runs under nice); KEEP=1 keeps the work dir;
#      PG_WARM=1; COPY_STORE=1.
# Needs postgresql-15 + postgresql-15-postgis-3 (Debian 12) and /usr/bin/time (package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
INCIDENTS=${INCIDENTS:-1000000}
YEARS=${YEARS:-5}
PG_FSYNC=${PG_FSYNC:-on}
NICE="nice -n ${NICENESS:-10}"
command -v /usr/bin/time >/dev/null || { echo "/usr/bin/time missing (apt-get install time)" >&2; exit 1; }
. benches/load/postgres.sh
pg_find_bin
if [ -z "${BIN:-}" ]; then
  $NICE cargo build --release --bin brandpunt
  BIN=target/release/brandpunt
fi
BIN=$(realpath "$BIN")
W=$(mktemp -d /tmp/brandpunt-pgbench.XXXXXX)
chmod 755 "$W"
cleanup() {
  pg_stop
  [ "${KEEP:-0}" = 1 ] || rm -rf "$W"
  return 0
}
trap cleanup EXIT
say() { echo "$*"; }
# timed LABEL CMD...: runs CMD under /usr/bin/time -v; prints wall seconds and max RSS; fails loudly.
timed() {
  local label=$1
  shift
  if ! /usr/bin/time -v -o "$W/time.txt" $NICE "$@" >"$W/cmd.out" 2>&1; then
    say "$label: FAILED"
    tail -n 20 "$W/cmd.out"
    return 1
  fi
  WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$W/time.txt")
  RSS=$(awk -F': ' '/Maximum resident set size/ {printf "%d", $2 / 1024}' "$W/time.txt")
  say "$label: wall ${WALL} s, max RSS ${RSS} MiB"
}

say "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "== PostgreSQL: $("$PG_BIN/postgres" --version), fsync=$PG_FSYNC ${PG_OPTS:-}; work dir $W"

pg_start "$W/pg" "-c listen_addresses='' -c fsync=$PG_FSYNC -c max_wal_size=4GB ${PG_OPTS:-}"
PG_SOCKET=$(printf %s "$W/pg" | sed 's/%/%25/g; s|/|%2F|g')
PG_URL="postgresql://brandpunt@$PG_SOCKET/brandpunt"
if [ "${PG_WARM:-1}" = 1 ]; then
  pg_warm_wal 64
  say "== WAL: 64 segments made and recycled before the timed steps (PG_WARM=1)"
fi
SQLITE=$W/brandpunt.db

if [ -z "${CBS:-}" ] || [ -z "${DELIVERY:-}" ]; then
  timed "generate (demo --national --no-import, $INCIDENTS incidents)" "$BIN" --db "$W/gen.db" demo --national \
    --incidents "$INCIDENTS" --years "$YEARS" --dir "$W/data" --no-import
  CBS=$(awk -F'\t' '$1 == "cbs" {print $2}' "$W/cmd.out")
  DELIVERY=$(awk -F'\t' '$1 == "tenant" {print $5; exit}' "$W/cmd.out")
fi
say "== delivery: $DELIVERY ($(($(wc -l <"$DELIVERY") - 1)) rows), CBS: $CBS"

for store in sqlite postgres; do
  if [ $store = sqlite ]; then DB=$SQLITE; else DB=$PG_URL; fi
  timed "$store: import cbs" "$BIN" --db "$DB" import cbs "$CBS"
  timed "$store: import incidents (end to end)" "$BIN" --db "$DB" import incidents "$DELIVERY" --source politie
  grep -E 'ingelezen|registraties|afgewezen|niet gelokaliseerd' "$W/cmd.out" | head -n 3 || true
done
S1=$("$BIN" --db "$SQLITE" stats | md5sum | cut -c1-12)
S2=$("$BIN" --db "$PG_URL" stats | md5sum | cut -c1-12)
say "== stats (md5 of the output): sqlite $S1, postgres $S2 ($([ "$S1" = "$S2" ] && echo equal || echo DIFFERENT))"
say "== postgres incident rows: $(pg_sql postgres brandpunt -c 'SELECT count(*) FROM incident'), database size $(pg_sql postgres brandpunt -c "SELECT pg_size_pretty(pg_database_size('brandpunt'))")"
if [ "${COPY_STORE:-1}" = 1 ]; then
  pg_sql postgres postgres -c "CREATE DATABASE brandpunt_copy OWNER brandpunt"
  pg_sql postgres brandpunt_copy -c "CREATE EXTENSION postgis"
  timed "store copy sqlite -> postgres (a new database)" "$BIN" store copy --from "$SQLITE" \
    --to "postgresql://brandpunt@$PG_SOCKET/brandpunt_copy"
  say "== copied incident rows: $(pg_sql postgres brandpunt_copy -c 'SELECT count(*) FROM incident')"
fi
