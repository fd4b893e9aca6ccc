#!/usr/bin/env bash
# Soak test of `brandpunt serve` (issue 5): SECONDS (default 600) of mixed tile and API load on loopback with
# wrk (Debian package `wrk`, `make load` installs it), then checks that no request failed and that the server's
# memory stayed flat.
#
# - Builds the release binary, generates the SMALL demo city (`demo --small`: the full city takes minutes to
#   generate and the soak measures stability, not data size) in a temp dir, adds an analyst with a token, and
#   starts the server with a config file (public tenant `default`, the rate limiter on with a limit no client
#   reaches, so its code path is exercised).
# - The wrk script (benches/load/soak.lua) cycles through a request mix: buurten MVT tiles at z14 over the city
#   and KDE PNG tiles (the tile load of issue 4), plus API requests: area statistics, time series, a compare POST
#   and the CSV export; a third of all requests carries the analyst's bearer token, the rest are anonymous.
# - Samples the server's RSS (/proc/PID/status VmRSS) every 10 s.
# - Fails (exit 1) on any response that is not 2xx/3xx, any socket error, or RSS growth > 10% from the sample
#   at 60 s to the end.
#
# Usage: benches/soak.sh [SECONDS=600]   (env: CONNECTIONS=64 THREADS=2 ZOOM=14 BIN=prebuilt/brandpunt
#        TOKEN_EVERY=3: every n-th request line carries the token; 0 = all anonymous)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load/common.sh
SECONDS_TOTAL=${1:-600}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ZOOM=${ZOOM:-14}
TOKEN_EVERY=${TOKEN_EVERY:-3}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk (make load)" >&2; exit 1; }
# BIN=path uses an already built binary (e.g. a copy, so rebuilding the worktree meanwhile does not matter).
if [ -z "${BIN:-}" ]; then
  cargo build --release --bin brandpunt
  BIN=target/release/brandpunt
fi
TMP=$(mktemp -d)
cleanup() {
  [ -n "${SAMPLER_PID:-}" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
"$BIN" --db "$TMP/db" demo --small --dir "$TMP/demo" >/dev/null
"$BIN" --db "$TMP/db" user add soak --tenant default --role analyst --categories '*' >/dev/null
TOKEN=$("$BIN" --db "$TMP/db" token create --user soak 2>/dev/null | tail -n 1)
cat >"$TMP/brandpunt.toml" <<TOML
[server]
addr = "127.0.0.1:0"
public_tenant = "default"
[limits]
requests_per_minute = 100000000
TOML
"$BIN" --db "$TMP/db" serve --config "$TMP/brandpunt.toml" >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
wait_for_server "$TMP/server.out"
META=$(curl -sf "$BASE/api/meta")
read -r X0 X1 Y0 Y1 < <(tile_range "$META" "$ZOOM")
LAST=$(last_day "$META")
FROM=$(date -u -d "$LAST - 364 days" +%Y-%m-%d)
CODES=($(curl -sf "$BASE/api/areas?level=buurt" | grep -o '"code":"BU[0-9]*"' | head -n 4 | sed 's/"code":"\(.*\)"/\1/'))
[ "${#CODES[@]}" -ge 2 ] || { echo "no buurten in the demo" >&2; exit 1; }
REQ="$TMP/requests.txt"
: >"$REQ"
n=0
for x in $(seq "$X0" "$X1"); do for y in $(seq "$Y0" "$Y1"); do
  # Every TOKEN_EVERY-th request with the token.
  a=-; [ "$TOKEN_EVERY" -gt 0 ] && [ $((n % TOKEN_EVERY)) -eq 0 ] && a=T; n=$((n + 1))
  echo "$a GET /tiles/buurten/$ZOOM/$x/$y.mvt?category=inbraak&from=$FROM&to=$LAST" >>"$REQ"
  a=-; [ "$TOKEN_EVERY" -gt 0 ] && [ $((n % TOKEN_EVERY)) -eq 0 ] && a=T; n=$((n + 1))
  echo "$a GET /tiles/kde/$ZOOM/$x/$y.png?from=$FROM&to=$LAST" >>"$REQ"
done; done
TILES=$(wc -l <"$REQ")
API_AUTH=T; [ "$TOKEN_EVERY" -gt 0 ] || API_AUTH=-
for c in "${CODES[@]}"; do
  echo "- GET /api/areas/$c/stats?from=$FROM&to=$LAST" >>"$REQ"
  echo "$API_AUTH GET /api/areas/$c/timeseries?category=inbraak" >>"$REQ"
done
echo "$API_AUTH POST /api/compare" >>"$REQ"
echo "- GET /api/stats.csv?level=buurt&category=inbraak" >>"$REQ"
echo "$API_AUTH GET /api/stats.csv?level=wijk" >>"$REQ"
printf '{"areas": ["%s", "%s"], "category": "inbraak", "from": "%s", "to": "%s"}' \
  "${CODES[0]}" "${CODES[1]}" "$FROM" "$LAST" >"$TMP/compare.json"
TOTAL=$(wc -l <"$REQ")
# Every request once, to be sure the mix is valid before the clock starts.
while read -r a m p; do
  args=(-s -o /dev/null -w '%{http_code}')
  [ "$a" = T ] && args+=(-H "Authorization: Bearer $TOKEN")
  [ "$m" = POST ] && args+=(-X POST -H 'Content-Type: application/json' --data-binary "@$TMP/compare.json")
  code=$(curl "${args[@]}" "$BASE$p")
  case "$code" in 2??|304) ;; *) echo "priming: $m $p -> $code" >&2; exit 1 ;; esac
done <"$REQ"
echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ); server $BASE; small demo city;" \
  "$TOTAL requests in the mix ($TILES tiles at z$ZOOM, $((TOTAL - TILES)) API); $CONNECTIONS connections," \
  "$THREADS wrk threads, ${SECONDS_TOTAL}s"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"; }
( start=$(date +%s); while kill -0 "$SERVER_PID" 2>/dev/null; do
    echo "$(( $(date +%s) - start )) $(rss)"; sleep 10; done ) >"$TMP/rss.txt" &
SAMPLER_PID=$!
REQUESTS="$REQ" TOKEN="$TOKEN" BODY="$TMP/compare.json" \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_TOTAL}s" --timeout 10s --latency -s benches/load/soak.lua "$BASE" \
  | tee "$TMP/wrk.txt"
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=
echo "== RSS (s kB)"
cat "$TMP/rss.txt"
echo "== server metrics"
curl -sf "$BASE/metrics" | grep -E '^brandpunt_http_requests_total' | grep -v 'status="2' | grep -v 'status="304"' || true
curl -sf "$BASE/metrics" | grep -E '^brandpunt_(tile_cache_entries|data_generation)'
START_KB=$(awk 'NR == 1 { print $2 }' "$TMP/rss.txt")
AT60_KB=$(awk '$1 >= 60 { print $2; exit }' "$TMP/rss.txt")
END_KB=$(awk 'END { print $2 }' "$TMP/rss.txt")
[ -n "$AT60_KB" ] || AT60_KB=$START_KB
BAD=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$TMP/wrk.txt")
SOCKET=$(sed -n 's/.*Socket errors: *\(.*\)/\1/p' "$TMP/wrk.txt")
GROWTH=$(awk -v a="$AT60_KB" -v b="$END_KB" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
echo "== summary: RSS start ${START_KB} kB, at 60 s ${AT60_KB} kB, end ${END_KB} kB (growth ${GROWTH}% since 60 s);" \
  "non-2xx/3xx: ${BAD:-0}; socket errors: ${SOCKET:-none}"
fail=0
[ "${BAD:-0}" -eq 0 ] || { echo "FAIL: ${BAD} responses were not 2xx/3xx" >&2; fail=1; }
[ -z "$SOCKET" ] || { echo "FAIL: socket errors: $SOCKET" >&2; fail=1; }
awk -v g="$GROWTH" 'BEGIN { exit !(g > 10) }' && { echo "FAIL: RSS grew ${GROWTH}% (> 10%)" >&2; fail=1; }
if grep -q "ERROR\|panicked" "$TMP/server.err"; then echo "FAIL: errors in the server log:" >&2; grep "ERROR\|panicked" "$TMP/server.err" | head >&2; fail=1; fi
[ "$fail" -eq 0 ] && echo "soak: OK"
exit "$fail"
