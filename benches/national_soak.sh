#!/usr/bin/env bash
# National soak (issue 12): SECONDS (default 600) of mixed load on a national-scale tenant, then checks the
# targets "0 errors other than documented 429/503, RSS flat (< 10 % growth after the first minute)" and "no
# request grows RSS past the cache budget + 1 GB".
#
# - Data: a directory made by benches/national.sh (DATA=dir: `db` and `files.txt`), e.g. 1 M or 5 M incidents.
#   The script adds an analyst with a token and starts `serve` on it with `[limits] cache_bytes = CACHE_BYTES`
#   (default 128 MiB; the other limits at their defaults: the heavy-analysis queue follows the number of cores).
#   A small budget makes the caches full within the first minute, so that "RSS flat after the first minute"
#   tests for leaks rather than for caches still filling up to a budget of gigabytes (the server's default is a
#   quarter of RAM: CACHE_BYTES=0 keeps that default).
# - The mix (benches/load/soak.lua, every request with the analyst's token): over the 3 x 3 tiles around the
#   HOTSPOTS busiest buurten at z8, z12 and z16, the KDE and Gi* PNG tiles, the emerging, incident-cell and
#   buurten MVT tiles, each with FILTERS different filters (periods ending at the data's last day, one of them
#   burglaries only), so the caches fill, evict and refill; statistics (area stats and time series of those
#   buurten, the gemeente CSV export, /api/meta); and heavy analyses (`/api/hotspots` Gi* on 200 m cells and
#   KDE within the busiest buurten's gemeenten, emerging hot spots within their wijken, `/api/patrol` within the
#   gemeenten); and a group whose period ends on another day in every round through the mix (z12 KDE, Gi* and
#   emerging tiles and a Gi* analysis), so that new filters' work goes on all the time. One request of every
#   shape is sent before the clock starts (to refuse a mix with a wrong path: 2xx, 304, 429 and 503 pass); the
#   rest of the mix starts cold.
# - Samples the server's RSS and the bytes of all caches every 10 s; reads /metrics before and after: the statuses by route (only 2xx, 304,
#   429 and 503 are allowed: 503 is the heavy queue being full or a request past its timeout, both documented),
#   the cache bytes and budget, cancellations.
# - Exit 1 on any other status or socket error, RSS growth > 10 % from 60 s to the end, or a peak RSS more than
#   the cache budget + 1 GiB above the RSS of the server when it was ready (its data).
#
# Usage: DATA=dir [BIN=path] benches/national_soak.sh [SECONDS=600]
#   env: LIMITS (more [limits] lines, e.g. "concurrent_builds = 2") CACHE_BYTES=134217728 CONNECTIONS=16 THREADS=2 HOTSPOTS=4 FILTERS=4 TIMEOUT=70s (wrk's timeout: longer than the server's
#   default request timeout of 60 s, so a request past it is the server's 503, not a socket timeout) NICENESS=10
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${1:-600}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
HOTSPOTS=${HOTSPOTS:-4}
FILTERS=${FILTERS:-4}
CACHE_BYTES=${CACHE_BYTES:-134217728}
TIMEOUT=${TIMEOUT:-70s}
NICE="nice -n ${NICENESS:-10}"
PY="python3 benches/load/national.py"
: "${DATA:?DATA=dir of a benches/national.sh run (db and files.txt)}"
for tool in wrk python3 curl; do
  command -v "$tool" >/dev/null || { echo "$tool missing (apt-get install wrk python3 curl)" >&2; exit 1; }
done
if [ -z "${BIN:-}" ]; then
  $NICE cargo build --release --bin brandpunt
  BIN=target/release/brandpunt
fi
DB=$DATA/db
W=$(mktemp -d)
cleanup() {
  [ -n "${SAMPLER_PID:-}" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$W"
  return 0
}
trap cleanup EXIT
TENANT=$(awk -F'\t' '$1 == "tenant" {print $2; exit}' "$DATA/files.txt")
user="bench_soak_$$"
"$BIN" --db "$DB" user add "$user" --tenant "$TENANT" --role analyst --categories '*' >/dev/null
TOKEN=$("$BIN" --db "$DB" token create --user "$user" 2>/dev/null | tail -n 1)
printf '[limits]\n' >"$W/config.toml"
if [ "$CACHE_BYTES" != 0 ]; then
  printf 'cache_bytes = %s\n' "$CACHE_BYTES" >>"$W/config.toml"
fi
# More [limits] lines, e.g. LIMITS="concurrent_builds = 2".
[ -n "${LIMITS:-}" ] && printf '%s\n' "$LIMITS" >>"$W/config.toml"
START=$(date +%s.%N)
$NICE "$BIN" --db "$DB" serve --addr 127.0.0.1:0 --config "$W/config.toml" >"$W/server.out" 2>"$W/server.err" &
SERVER_PID=$!
BASE=
for _ in $(seq 9000); do
  [ -z "$BASE" ] && BASE=$(sed -n 's/^listening on //p' "$W/server.out" 2>/dev/null)
  if [ -n "$BASE" ] && curl -sf -o /dev/null "$BASE/readyz"; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited: $(tail -n 5 "$W/server.err")"; exit 1; }
  sleep 0.1
done
READY=$(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
READY_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
get() { curl -sf -H "Authorization: Bearer $TOKEN" "$BASE$1"; }
META=$(get /api/meta)
LAST=$(echo "$META" | sed -n 's/.*"last":"\([0-9-]*\)".*/\1/p')

# The request mix.
$PY dense "$BASE" "$TOKEN" "$HOTSPOTS" 8 12 16 >"$W/tiles.txt"
# The busiest buurten (as `dense` picks them) and their wijken and gemeenten.
get "/api/stats.csv?level=buurt" | python3 -c '
import csv, sys
rows = []
for r in csv.DictReader(sys.stdin):
    try:
        rows.append((int(r["count"]), r["code"]))
    except (KeyError, ValueError):
        pass
rows.sort(reverse=True)
for _, code in rows[:int(sys.argv[1])]:
    print(code)' "$HOTSPOTS" >"$W/buurten.txt"
REQ=$W/requests.txt
: >"$REQ"
for f in $(seq 1 "$FILTERS"); do
  from=$(date -u -d "$LAST - $((f * 365 - 1)) days" +%Y-%m-%d)
  filter="from=$from&to=$LAST"
  [ "$f" = 2 ] && filter="$filter&category=inbraak"
  while read -r z x y; do
    for layer in kde.png hotspots.png emerging.mvt incidents.mvt buurten.mvt; do
      echo "T GET /tiles/${layer%.*}/$z/$x/$y.${layer#*.}?$filter" >>"$REQ"
    done
  done <"$W/tiles.txt"
  while read -r b; do
    wijk="WK${b:2:6}"
    gemeente="GM${b:2:4}"
    echo "T GET /api/areas/$b/stats?$filter" >>"$REQ"
    echo "T GET /api/areas/$b/timeseries?$filter" >>"$REQ"
    echo "T GET /api/hotspots?method=gistar&bins=grid:200&area=$gemeente&$filter" >>"$REQ"
    echo "T GET /api/hotspots?method=kde&area=$gemeente&$filter" >>"$REQ"
    echo "T GET /api/hotspots?method=emerging&bins=grid:200&area=$wijk&$filter" >>"$REQ"
    echo "T GET /api/patrol?area=$gemeente&day=fri&from_hour=20&to_hour=24&$filter" >>"$REQ"
  done <"$W/buurten.txt"
  echo "T GET /api/stats.csv?level=gemeente&$filter" >>"$REQ"
done
# A new filter every round through the mix: the z12 surface tiles and a Gi* analysis over the first busiest
# buurt's gemeente with a period ending at a different day each round (`@ROTATE@`, benches/load/soak.lua), so
# per-filter work (the KDE field, the Gi* and emerging grids) goes on during the whole run.
ROT_FROM=$(date -u -d "$LAST - 729 days" +%Y-%m-%d)
while read -r z x y; do
  [ "$z" = 12 ] || continue
  for layer in kde.png hotspots.png emerging.mvt; do
    echo "T GET /tiles/${layer%.*}/$z/$x/$y.${layer#*.}?from=$ROT_FROM&to=@ROTATE@" >>"$REQ"
  done
done <"$W/tiles.txt"
read -r b <"$W/buurten.txt"
echo "T GET /api/hotspots?method=gistar&bins=grid:200&area=GM${b:2:4}&from=$ROT_FROM&to=@ROTATE@" >>"$REQ"
ROTATE=$(for k in $(seq 0 364); do date -u -d "$LAST - $k days" +%Y-%m-%d; done | paste -sd,)
echo "T GET /api/meta" >>"$REQ"
TOTAL=$(wc -l <"$REQ")
# Shuffled with a fixed seed, so the heavy analyses are spread over the run.
python3 -c '
import random, sys
lines = open(sys.argv[1]).read().splitlines()
random.Random(20240929).shuffle(lines)
open(sys.argv[1], "w").write("\n".join(lines) + "\n")' "$REQ"
# One line of every shape (the path with its numbers and dates left out) before the clock starts: the paths must be
# valid (no 400/404). The rest of the mix starts cold.
awk '{ k = $3; gsub(/[0-9]+/, "N", k) } !seen[k]++' "$REQ" >"$W/prime.txt"
echo "== checking $(wc -l <"$W/prime.txt") request shapes"
while read -r _ _ p; do
  p=${p//@ROTATE@/$LAST}
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 -H "Authorization: Bearer $TOKEN" "$BASE$p" || true)
  case "$code" in 2??|304|429|503) ;; *) echo "checking: $p -> $code" >&2; exit 1 ;; esac
done <"$W/prime.txt"
curl -sf "$BASE/metrics" >"$W/metrics.before"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); data $DATA"
echo "== serve ready after ${READY} s; $TOTAL requests in the mix ($(wc -l <"$W/tiles.txt") tiles x 5 layers x $FILTERS filters, the rest statistics and heavy analyses); $CONNECTIONS connections, $THREADS wrk threads, ${SECONDS_TOTAL} s"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"; }
cache_kb() { curl -sf --max-time 5 "$BASE/metrics" >"$W/metrics.now" && echo $(( $($PY metric "$W/metrics.now" brandpunt_cache_bytes) / 1024 )) || echo -; }
( start=$(date +%s); while kill -0 "$SERVER_PID" 2>/dev/null; do
    echo "$(( $(date +%s) - start )) $(rss) $(cache_kb)"; sleep 10; done ) >"$W/rss.txt" &
SAMPLER_PID=$!
REQUESTS="$REQ" TOKEN="$TOKEN" ROTATE="$ROTATE" $NICE wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_TOTAL}s" --timeout "$TIMEOUT" \
  --latency -s benches/load/soak.lua "$BASE" | tee "$W/wrk.txt"
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=
curl -sf "$BASE/metrics" >"$W/metrics.after"
PEAK_KB=$(awk '/^VmHWM/ { print $2 }' "/proc/$SERVER_PID/status")
echo "== RSS and bytes of all caches (s, RSS kB, caches kB)"
cat "$W/rss.txt"
echo "== statuses during the run (route status count), from /metrics"
python3 - "$W/metrics.before" "$W/metrics.after" >"$W/statuses.txt" <<'PY'
import re, sys
def read(path):
    out = {}
    for line in open(path):
        m = re.match(r'brandpunt_http_requests_total\{route="([^"]*)",status="(\d+)"\} (\S+)', line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
for key in sorted(b):
    n = int(b[key] - a.get(key, 0))
    if n:
        print(key[0], key[1], n)
PY
cat "$W/statuses.txt"
for name in brandpunt_cache_budget_bytes brandpunt_cancelled_total brandpunt_heavy_refused_total; do
  echo "$name: $($PY metric "$W/metrics.before" "$name") -> $($PY metric "$W/metrics.after" "$name")"
done
echo "brandpunt_cache_bytes (all caches) at the end: $($PY metric "$W/metrics.after" brandpunt_cache_bytes)"
BUDGET_KB=$(( $($PY metric "$W/metrics.after" brandpunt_cache_budget_bytes) / 1024 ))
AT60_KB=$(awk '$1 >= 60 { print $2; exit }' "$W/rss.txt")
END_KB=$(awk 'END { print $2 }' "$W/rss.txt")
[ -n "$AT60_KB" ] || AT60_KB=$(awk 'NR == 1 { print $2 }' "$W/rss.txt")
GROWTH=$(awk -v a="$AT60_KB" -v b="$END_KB" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
CACHE60=$(awk '$1 >= 60 { print $3; exit }' "$W/rss.txt")
CACHE_END=$(awk 'END { print $3 }' "$W/rss.txt")
# The RSS besides the caches' bytes: what a leak would grow.
BESIDES=$(awk -v a="$AT60_KB" -v ca="${CACHE60:-0}" -v b="$END_KB" -v cb="${CACHE_END:-0}" \
  'BEGIN { printf "%.1f", ((b - cb) - (a - ca)) * 100 / (a - ca) }')
OTHER=$(awk '$2 !~ /^(2..|304|429|503)$/ { n += $3 } END { print n + 0 }' "$W/statuses.txt")
LIMITED=$(awk '$2 ~ /^(429|503)$/ { n += $3 } END { print n + 0 }' "$W/statuses.txt")
SOCKET=$(sed -n 's/.*Socket errors: *\(.*\)/\1/p' "$W/wrk.txt")
echo "== summary: RSS at 60 s ${AT60_KB} kB, end ${END_KB} kB (growth ${GROWTH}% since 60 s), peak ${PEAK_KB} kB (ready: ${READY_KB} kB);" \
  "caches at 60 s ${CACHE60:-?} kB, end ${CACHE_END:-?} kB (RSS besides the caches: ${BESIDES}% since 60 s); cache budget ${BUDGET_KB} kB; 429/503: ${LIMITED}; other non-2xx/304: ${OTHER}; socket errors: ${SOCKET:-none}"
fail=0
[ "$OTHER" -eq 0 ] || { echo "FAIL: $OTHER responses other than 2xx/304/429/503" >&2; fail=1; }
[ -z "$SOCKET" ] || { echo "FAIL: socket errors: $SOCKET" >&2; fail=1; }
awk -v g="$GROWTH" 'BEGIN { exit !(g > 10) }' && { echo "FAIL: RSS grew ${GROWTH}% (> 10%)" >&2; fail=1; }
[ $((PEAK_KB - READY_KB)) -le $((BUDGET_KB + 1048576)) ] ||
  { echo "FAIL: peak RSS ${PEAK_KB} kB is more than the cache budget + 1 GiB above the RSS when ready (${READY_KB} kB)" >&2; fail=1; }
if grep -q "panicked" "$W/server.err"; then echo "FAIL: panics in the server log:" >&2; grep "panicked" "$W/server.err" | head >&2; fail=1; fi
[ "$fail" -eq 0 ] && echo "national soak: OK"
exit "$fail"
