#!/usr/bin/env bash
# Load test of the buurten vector tiles (issue 4 target: >= 5,000 tiles/s on 2 cores, p99 < 25 ms at 64
# concurrent connections, cold and warm cache reported separately) and of the KDE PNG tiles (p99 < 50 ms warm).
#
# Builds the full demo city in a temp dir, starts the release server on a free port, lists the z14 tiles that cover
# the city, and runs wrk (Debian package `wrk`) twice: warm (the same filtered tiles again and again, after one
# priming round), cold (every round through the tiles uses a filter period never asked before: every request
# misses the tile cache, counts per filter are computed once per round) and unique (a new filter period on every
# request: tile and count caches both miss). Client and server share the machine's cores.
#
# Usage: benches/load_tiles.sh [DURATION=20s] [CONNECTIONS=64] [THREADS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load/common.sh
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ZOOM=${ZOOM:-14}
FILTER=${FILTER:-category=inbraak}
BIN=target/release/brandpunt
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release
TMP=$(mktemp -d)
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
"$BIN" --db "$TMP/db" demo --dir "$TMP/demo" >/dev/null
"$BIN" --db "$TMP/db" serve --addr 127.0.0.1:0 --public-tenant default >"$TMP/server.out" 2>/dev/null &
SERVER_PID=$!
wait_for_server "$TMP/server.out"
META=$(curl -sf "$BASE/api/meta")
# Tile range of the city's bbox at $ZOOM (XYZ, y down), and the period's last day for the warm filter.
read -r X0 X1 Y0 Y1 < <(tile_range "$META" "$ZOOM")
LAST=$(last_day "$META")
URLS="$TMP/urls.txt"
: >"$URLS"
for x in $(seq "$X0" "$X1"); do for y in $(seq "$Y0" "$Y1"); do
  echo "/tiles/buurten/$ZOOM/$x/$y.mvt?$FILTER" >>"$URLS"
done; done
N=$(wc -l <"$URLS")
echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d); server $BASE; $N tiles at z$ZOOM; $CONNECTIONS connections, $THREADS wrk threads, $DURATION"
# Warm: one priming round, then the same URLs (with the period filter of the last year).
sed -i "s/\$/\&from=$(date -u -d "$LAST - 364 days" +%Y-%m-%d)\&to=$LAST/" "$URLS"
while read -r p; do curl -sf -o /dev/null -H 'Accept-Encoding: gzip' "$BASE$p" || true; done <"$URLS"
echo "== warm cache"
URLS="$URLS" MODE=warm wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/load/tiles.lua "$BASE"
# Cold: the base URLs without a period; the script adds a unique period per request.
sed -i 's/&from=.*//' "$URLS"
echo "== cold tile cache (a new filter period for every round through the tiles)"
URLS="$URLS" MODE=cold wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/load/tiles.lua "$BASE"
echo "== unique filter on every request (tile and count caches both miss)"
URLS="$URLS" MODE=unique wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/load/tiles.lua "$BASE"
# KDE raster tiles (PNG), warm: the same tiles after one priming round (issue 4: p99 < 50 ms warm).
sed "s#/tiles/buurten/\(.*\)\.mvt?#/tiles/kde/\1.png?#; s/\$/\&from=$(date -u -d "$LAST - 364 days" +%Y-%m-%d)\&to=$LAST/" "$URLS" >"$TMP/kde.txt"
while read -r p; do curl -sf -o /dev/null "$BASE$p" || true; done <"$TMP/kde.txt"
echo "== KDE PNG tiles, warm cache"
URLS="$TMP/kde.txt" MODE=warm wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/load/tiles.lua "$BASE"
echo "== server metrics"
curl -sf "$BASE/metrics" | grep -E '^brandpunt_(tile_cache|data_generation|incidents)'
