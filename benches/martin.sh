#!/usr/bin/env bash
# brandpunt against martin (issue 16, item 3): the demo city's z14 buurten tiles with a category + period filter
# and exact counts, served by brandpunt (an analyst's API token, `Authorization: Bearer`) and by martin 1.14 (from
# crates.io, no authentication: it has none) from a PostGIS function source that returns the same tiles' counts.
# Both run in one run, alternating A B A B, with wrk on loopback (client and servers share the machine's cores).
#
# Steps:
# 1. builds martin if needed (`cargo install martin@1.14.0 --locked --no-default-features --features postgres`,
#    into target/martin; `--locked` because the newest dependencies need a newer rustc), and brandpunt (release);
# 2. creates the full demo city (SQLite), copies it into a throwaway PostgreSQL/PostGIS cluster with
#    `brandpunt store copy`, and derives two plain tables for martin from the copied store: the tenant's buurten in
#    EPSG:3857 (GiST index) and its incidents (buurt, category, begin day; B-tree index). The function
#    `public.buurten(z, x, y, query_params json)` returns the tile's buurten with `code`, `name`, `count`,
#    `inhabitants`, `rate` and `prev_count` for the request's `category` (a group or comma-separated codes) and
#    `from`/`to` (begin day, inclusive; the previous period is the equally long one just before), exactly as
#    brandpunt's `/tiles/buurten` layer;
# 3. checks that both give the same (code, count, prev_count) in every tile of the run (GDAL's MVT driver decodes
#    both) before anything is timed;
# 4. wrk: warm (the same filtered tiles over and over after one priming round: both answer from their tile cache)
#    and unique (a new period on every request, never one an earlier run asked: brandpunt computes counts and
#    tile, martin asks PostGIS), each ROUNDS times, brandpunt then martin.
#
# Usage: benches/martin.sh    env: DURATION=20s CONNECTIONS=64 THREADS=2 ROUNDS=2 ZOOM=14 FILTER=category=inbraak
#        BIN=path (default: cargo build --release) MARTIN=path (default: target/martin/bin/martin, built if missing)
#        PG_BIN=dir (default: newest /usr/lib/postgresql/*/bin) KEEP=1 keeps the work dir.
# Needs wrk, gdal-bin (ogr2ogr), postgresql-15 + postgresql-15-postgis-3. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load/common.sh
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
ZOOM=${ZOOM:-14}
FILTER=${FILTER:-category=inbraak}
for tool in wrk ogr2ogr curl; do
  command -v "$tool" >/dev/null || { echo "$tool missing (apt-get install wrk gdal-bin curl)" >&2; exit 1; }
done
. benches/load/postgres.sh
pg_find_bin
if [ -z "${MARTIN:-}" ]; then
  MARTIN=target/martin/bin/martin
  [ -x "$MARTIN" ] || cargo install martin@1.14.0 --locked --no-default-features --features postgres \
    --root target/martin
fi
MARTIN=$(realpath "$MARTIN")
if [ -z "${BIN:-}" ]; then
  cargo build --release --bin brandpunt
  BIN=target/release/brandpunt
fi
BIN=$(realpath "$BIN")

W=$(mktemp -d /tmp/brandpunt-martin.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  pg_stop
  [ "${KEEP:-0}" = 1 ] || rm -rf "$W"
  return 0
}
trap cleanup EXIT

# A free TCP port on loopback (martin connects over TCP).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'); brandpunt $BIN (checkout $(git rev-parse --short HEAD 2>/dev/null || echo '?')); $("$MARTIN" --version); $("$PG_BIN/postgres" --version)"

# 1. The demo city and an analyst's token (exact counts, every category).
"$BIN" --db "$W/demo.db" demo --dir "$W/demo" >/dev/null
"$BIN" --db "$W/demo.db" user add bench_martin --tenant default --role analyst --categories '*' >/dev/null
TOKEN=$("$BIN" --db "$W/demo.db" token create --user bench_martin 2>/dev/null | tail -n 1)

# 2. PostgreSQL with the same data.
# martin connects over TCP; psql (pg_sql) finds the socket of that port through PGPORT.
PG_PORT=$(free_port)
export PGPORT=$PG_PORT
pg_start "$W/pg" "-c listen_addresses=127.0.0.1 -p $PG_PORT -c fsync=off -c shared_buffers=512MB"
PG_URL="postgresql://brandpunt@127.0.0.1:$PG_PORT/brandpunt"
"$BIN" store copy --from "$W/demo.db" --to "$PG_URL" >/dev/null
# The categories of the filter, expanded by brandpunt itself (a group name or codes).
CATEGORY=$(printf '%s' "$FILTER" | sed -n 's/.*category=\([^&]*\).*/\1/p')
# martin's tables and function (as the superuser: row-level security does not apply to it).
pg_sql postgres brandpunt <<'SQL'
CREATE TABLE martin_buurt AS
  SELECT a.code, a.name, a.inhabitants, ST_Transform(a.geom, 3857)::geometry(MultiPolygon, 3857) AS geom
  FROM area a
  WHERE a.level = 'buurt' AND a.boundary_set_id = (SELECT max(id) FROM boundary_set);
CREATE INDEX martin_buurt_geom ON martin_buurt USING gist (geom);
CREATE TABLE martin_incident AS
  SELECT i.buurtcode, i.category_code, (i.begin_min / 1440)::integer AS begin_day
  FROM incident i JOIN tenant t ON t.id = i.tenant_id
  WHERE t.code = 'default' AND i.buurtcode IS NOT NULL;
CREATE INDEX martin_incident_buurt ON martin_incident (buurtcode, begin_day);
CREATE TABLE martin_category_group (name text, code text);
INSERT INTO martin_category_group VALUES
  ('inbraak', '1.1.1'), ('inbraak', '1.1.2');
ANALYZE;
-- martin passes the request's query string as `query_params`; `category` is a group name or comma-separated
-- codes, `from`/`to` are inclusive begin days (ISO dates).
CREATE FUNCTION public.buurten(z integer, x integer, y integer, query_params json) RETURNS bytea AS $$
  WITH f AS (
    SELECT (query_params->>'from')::date - date '1970-01-01' AS d0,
           (query_params->>'to')::date - date '1970-01-01' AS d1,
           coalesce((SELECT array_agg(g.code) FROM martin_category_group g
                     WHERE g.name = query_params->>'category'),
                    string_to_array(query_params->>'category', ',')) AS codes
  ),
  tile AS (
    SELECT b.code, b.name, b.inhabitants,
           (SELECT count(*) FROM martin_incident i, f
             WHERE i.buurtcode = b.code AND i.begin_day BETWEEN f.d0 AND f.d1
               AND i.category_code = ANY (f.codes)) AS count,
           (SELECT count(*) FROM martin_incident i, f
             WHERE i.buurtcode = b.code AND i.begin_day BETWEEN 2 * f.d0 - f.d1 - 1 AND f.d0 - 1
               AND i.category_code = ANY (f.codes)) AS prev_count,
           ST_AsMVTGeom(b.geom, ST_TileEnvelope(z, x, y), 4096, 64, true) AS geom
    FROM martin_buurt b
    WHERE b.geom && ST_TileEnvelope(z, x, y, margin => 64.0 / 4096)
  )
  SELECT ST_AsMVT(t, 'buurten', 4096, 'geom')
  FROM (SELECT code, name, count, inhabitants,
               CASE WHEN inhabitants > 0 THEN count * 1000.0 / inhabitants END AS rate,
               prev_count, geom
        FROM tile WHERE geom IS NOT NULL) t;
$$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
SQL
# The group table above must hold what brandpunt calls the group: compare with brandpunt's own expansion.
if [ "$CATEGORY" = inbraak ]; then
  grep -q '("inbraak", "Inbraak", &\["1.1.1", "1.1.2"\])' src/category.rs || {
    echo "the category group 'inbraak' changed in src/category.rs: update martin_category_group" >&2
    exit 1
  }
fi

# 3. Both servers.
"$BIN" --db "$W/demo.db" serve --addr 127.0.0.1:0 >"$W/brandpunt.out" 2>"$W/brandpunt.err" &
PIDS+=($!)
wait_for_server "$W/brandpunt.out"
BRANDPUNT=$BASE
MARTIN_PORT=$(free_port)
cat >"$W/martin.yaml" <<EOF
listen_addresses: '127.0.0.1:$MARTIN_PORT'
worker_processes: $(nproc)
cache_size_mb: 512
postgres:
  connection_string: 'postgresql://postgres@127.0.0.1:$PG_PORT/brandpunt'
  pool_size: 20
  auto_publish: false
  functions:
    buurten:
      schema: public
      function: buurten
      minzoom: 0
      maxzoom: 22
EOF
"$MARTIN" --config "$W/martin.yaml" >"$W/martin.out" 2>&1 &
PIDS+=($!)
MARTIN_BASE=http://127.0.0.1:$MARTIN_PORT
for _ in $(seq 300); do curl -sf "$MARTIN_BASE/health" >/dev/null && break; sleep 0.1; done
curl -sf "$MARTIN_BASE/health" >/dev/null || { echo "martin did not start:" >&2; tail "$W/martin.out" >&2; exit 1; }

META=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BRANDPUNT/api/meta")
read -r X0 X1 Y0 Y1 < <(tile_range "$META" "$ZOOM")
LAST=$(last_day "$META")
PERIOD="from=$(date -u -d "$LAST - 364 days" +%Y-%m-%d)&to=$LAST"
: >"$W/brandpunt.txt"
: >"$W/martin.txt"
for x in $(seq "$X0" "$X1"); do for y in $(seq "$Y0" "$Y1"); do
  echo "/tiles/buurten/$ZOOM/$x/$y.mvt?$FILTER" >>"$W/brandpunt.txt"
  echo "/buurten/$ZOOM/$x/$y?$FILTER" >>"$W/martin.txt"
done; done
N=$(wc -l <"$W/brandpunt.txt")

# 4. Same counts: every tile of the run, decoded by GDAL, (code, count, prev_count) sorted.
decode() {
  if [ -s "$1" ]; then
    ogr2ogr -q -f CSV /vsistdout/ "MVT:$1" -sql "SELECT code, count, prev_count FROM buurten" 2>/dev/null \
      | tail -n +2 | tr -d '"' | sort
  fi
}
paste -d' ' "$W/brandpunt.txt" "$W/martin.txt" | while read -r b m; do
  curl -sf -o "$W/b.mvt" -H "Authorization: Bearer $TOKEN" "$BRANDPUNT$b&$PERIOD"
  curl -sf -o "$W/m.mvt" "$MARTIN_BASE$m&$PERIOD"
  decode "$W/b.mvt" >"$W/b.csv"
  decode "$W/m.mvt" >"$W/m.csv"
  if ! cmp -s "$W/b.csv" "$W/m.csv"; then
    echo "tile $b: brandpunt and martin differ (code,count,prev_count):" >&2
    diff "$W/b.csv" "$W/m.csv" | head -n 20 >&2
    exit 1
  fi
  cat "$W/b.csv" >>"$W/features.csv"
done
echo "== $N tiles at z$ZOOM, $(sort -u "$W/features.csv" | wc -l) distinct buurten with (code, count, prev_count) equal in both; $FILTER&$PERIOD"

echo "== wrk: $CONNECTIONS connections, $THREADS threads, $DURATION per run, $ROUNDS rounds of brandpunt then martin"
sed -i "s/\$/\&${PERIOD//&/\\&}/" "$W/brandpunt.txt" "$W/martin.txt"
# Prime both tile caches.
while read -r p; do curl -sf -o /dev/null -H 'Accept-Encoding: gzip' -H "Authorization: Bearer $TOKEN" "$BRANDPUNT$p"; done <"$W/brandpunt.txt"
while read -r p; do curl -sf -o /dev/null -H 'Accept-Encoding: gzip' "$MARTIN_BASE$p"; done <"$W/martin.txt"
run() { # run NAME BASE URLS MODE OFFSET [TOKEN]
  local out
  out=$(URLS="$3" MODE="$4" OFFSET="$5" TOKEN="${6:-}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s benches/load/tiles.lua "$2")
  printf '%-9s %-6s %10s req/s  p50 %8s  p99 %8s  non-2xx %s\n' "$1" "$4" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1 == "50%" {print $2}')" \
    "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
    "$(echo "$out" | awk '/Non-2xx/ {print $NF}' | grep . || echo 0)"
}
for r in $(seq "$ROUNDS"); do
  run brandpunt "$BRANDPUNT" "$W/brandpunt.txt" warm 0 "$TOKEN"
  run martin "$MARTIN_BASE" "$W/martin.txt" warm 0
done
# Unique: a new period on every request (the lua script appends it; strip the fixed one). Each run starts
# elsewhere in the script's sequence of periods (OFFSET), so no run repeats a period an earlier run asked.
sed -i 's/&from=.*//' "$W/brandpunt.txt" "$W/martin.txt"
for r in $(seq "$ROUNDS"); do
  run brandpunt "$BRANDPUNT" "$W/brandpunt.txt" unique $((r * 200000)) "$TOKEN"
  run martin "$MARTIN_BASE" "$W/martin.txt" unique $((r * 200000))
done
