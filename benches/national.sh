#!/usr/bin/env bash
# National-scale benchmark (issue 12): generates national data in the real CBS schema with
# `brandpunt demo --national --no-import` (15,120 buurten, 2,520 wijken, 420 gemeenten; police deliveries with RD
# coordinates) and measures, on this machine:
# - the import of the delivery (`brandpunt import incidents`, wall and max RSS from /usr/bin/time -v), and of the
#   CBS file;
# - `serve`: time until /readyz answers 200, RSS then;
# - per layer (KDE PNG, Gi* PNG `/tiles/hotspots/...png`, emerging MVT, incident-cell MVT) and zoom (ZOOMS,
#   default 8 12 16) over dense areas (the 3 x 3 tiles around the HOTSPOTS buurten with the most incidents):
#   one probe request first (status, time; a failure such as HTTP 400/503 or a timeout is reported with the
#   server's message, and that layer/zoom is not load-tested), then wrk cold (every round through the tiles
#   uses a filter period never asked before, benches/load/tiles.lua MODE=cold) and warm (the same tiles after
#   a priming round): p50, p99, requests/s, non-2xx responses and timeouts as wrk reports them; and "cold tile,
#   known filter": tiles never asked before (FRESH_RADIUS around the FRESH_HOTSPOTS densest buurten), each asked
#   exactly once over CONNECTIONS connections (python client, every latency counted, until the list or DURATION
#   ends), with a filter whose per-filter aggregates one priming request computed: the tile cache misses, the
#   filter's aggregates do not (the cost of panning or zooming the map). The z12 requests/s of that run is the
#   "cold z12 KDE tiles/s" figure; the "cold" column (new filter every round) is the stricter cost of changing
#   the filter;
# - a 1-row delivery (a copy of the generator's probe with a fresh registration number) imported with the CLI
#   while the server runs: seconds from the end of the import until the area statistics of its buurt count it
#   and until the z12 incident-cell tile over that buurt changes;
# - the server's RSS (VmRSS and peak VmHWM) at the end.
# REGIONAL=1: 25 tenants (regio01..regio25, blocks of gemeenten) of 80,000 incidents each (INCIDENTS=2000000),
# one analyst token per tenant; warms tiles of every other tenant, imports the 1-row delivery of regio01, and
# reports /metrics `brandpunt_tenant_reloads_total` and the cache hit/miss counters before and after, and
# whether the others' tiles were still cache hits afterwards (tile misses must not grow).
#
# Usage: benches/national.sh
# env: INCIDENTS (5000000; regional 2000000) YEARS=5 REGIONAL=0 TENANTS (1; regional 25) DURATION=10s
#      CONNECTIONS=8 THREADS=2 ZOOMS="8 12 16" HOTSPOTS=4 FRESH_HOTSPOTS=40 FRESH_RADIUS=2 PROBE_TIMEOUT=120
#      WRK_TIMEOUT=5s READY_TIMEOUT=900
#      LAYERS="kde.png hotspots.png emerging.mvt incidents.mvt" (the tile layers measured)
#      BIN=path (default: cargo build --release) DATA=dir (keep the generated data and database there and reuse
#      them on the next run; default a temp dir that is removed) NICENESS=10 (everything runs under nice)
# Needs wrk (Debian package `wrk`), python3, curl and /usr/bin/time (Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
REGIONAL=${REGIONAL:-0}
if [ "$REGIONAL" = 1 ]; then
  TENANTS=${TENANTS:-25}
  INCIDENTS=${INCIDENTS:-2000000}
else
  TENANTS=${TENANTS:-1}
  INCIDENTS=${INCIDENTS:-5000000}
fi
YEARS=${YEARS:-5}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}
ZOOMS=${ZOOMS:-8 12 16}
LAYERS=${LAYERS:-kde.png hotspots.png emerging.mvt incidents.mvt}
HOTSPOTS=${HOTSPOTS:-4}
FRESH_HOTSPOTS=${FRESH_HOTSPOTS:-40}
FRESH_RADIUS=${FRESH_RADIUS:-2}
PROBE_TIMEOUT=${PROBE_TIMEOUT:-120}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
READY_TIMEOUT=${READY_TIMEOUT:-900}
NICE="nice -n ${NICENESS:-10}"
PY="python3 benches/load/national.py"
for tool in wrk python3 curl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool missing (apt-get install wrk python3 curl time)" >&2; exit 1; }
done
if [ -z "${BIN:-}" ]; then
  $NICE cargo build --release --bin brandpunt
  BIN=target/release/brandpunt
fi
if [ -n "${DATA:-}" ]; then
  W=$DATA
  mkdir -p "$W"
else
  W=$(mktemp -d)
fi
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  [ -z "${DATA:-}" ] && rm -rf "$W"
  return 0
}
trap cleanup EXIT
DB=$W/db
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
  read -r WALL RSS < <($PY wall "$W/time.txt")
  say "$label: wall ${WALL} s, max RSS ${RSS} MiB"
}
rss_of() { awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {printf "RSS %d MiB (peak %d MiB)", r/1024, h/1024}' "/proc/$1/status"; }

say "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "== data: $INCIDENTS incidents over $YEARS years, $TENANTS tenant(s); work dir $W"
if [ -f "$W/files.txt" ] && [ -f "$DB" ]; then
  say "reusing the data and database in $W"
else
  rm -f "$DB" "$DB"-*
  timed "generate (demo --national --no-import)" "$BIN" --db "$DB" demo --national --incidents "$INCIDENTS" \
    --years "$YEARS" --tenants "$TENANTS" --dir "$W/data" --no-import
  cp "$W/cmd.out" "$W/files.txt.tmp"
  CBS=$(awk -F'\t' '$1 == "cbs" {print $2}' "$W/files.txt.tmp")
  timed "import cbs" "$BIN" --db "$DB" import cbs "$CBS"
  total_wall=0
  max_rss=0
  while IFS=$'\t' read -r kind code rows gemeenten file; do
    [ "$kind" = tenant ] || continue
    if [ "$code" != default ]; then
      "$BIN" --db "$DB" tenant add "$code" "Regio $code" --gemeenten "$gemeenten" >/dev/null
    fi
    timed "import incidents $code ($rows rows)" "$BIN" --db "$DB" import incidents "$file" --source politie \
      --tenant "$code" --report "$W/report_$code.csv"
    grep -E 'ingelezen|registraties|afgewezen|niet gelokaliseerd' "$W/cmd.out" | head -n 3 || true
    total_wall=$(awk -v a="$total_wall" -v b="$WALL" 'BEGIN {print a + b}')
    [ "$RSS" -gt "$max_rss" ] && max_rss=$RSS
  done <"$W/files.txt.tmp"
  [ "$TENANTS" -gt 1 ] && say "import incidents, all $TENANTS tenants: wall ${total_wall} s, max RSS ${max_rss} MiB"
  mv "$W/files.txt.tmp" "$W/files.txt"
fi
FIRST_TENANT=$(awk -F'\t' '$1 == "tenant" {print $2; exit}' "$W/files.txt")
mapfile -t TENANT_CODES < <(awk -F'\t' '$1 == "tenant" {print $2}' "$W/files.txt")
read -r PROBE_BUURT PROBE_FILE < <(awk -F'\t' '$1 == "probe" {print $2, $3}' "$W/files.txt")
# One analyst token per tenant (analysts get the surfaces without the viewer limits and the incident layer).
declare -A TOKENS
for code in "${TENANT_CODES[@]}"; do
  user="bench_${code}_$$"
  "$BIN" --db "$DB" user add "$user" --tenant "$code" --role analyst --categories '*' >/dev/null
  TOKENS[$code]=$("$BIN" --db "$DB" token create --user "$user" 2>/dev/null | tail -n 1)
done
TOKEN=${TOKENS[$FIRST_TENANT]}

say "== serve"
START=$(date +%s.%N)
$NICE "$BIN" --db "$DB" serve --addr 127.0.0.1:0 >"$W/server.out" 2>"$W/server.err" &
SERVER_PID=$!
BASE=
for _ in $(seq $((READY_TIMEOUT * 10))); do
  [ -z "$BASE" ] && BASE=$(sed -n 's/^listening on //p' "$W/server.out" 2>/dev/null)
  if [ -n "$BASE" ] && curl -sf -o /dev/null "$BASE/readyz"; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { say "the server exited: $(tail -n 5 "$W/server.err")"; exit 1; }
  sleep 0.1
done
curl -sf -o /dev/null "$BASE/readyz" || { say "serve: NOT READY after ${READY_TIMEOUT} s"; exit 1; }
READY=$(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
say "serve ready (/readyz 200) after ${READY} s; $(rss_of "$SERVER_PID")"

META=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/meta")
LAST=$(echo "$META" | sed -n 's/.*"last":"\([0-9-]*\)".*/\1/p')
FROM=$(date -u -d "$LAST - 364 days" +%Y-%m-%d)

# probe URL: one request; prints "status seconds", the body of a failure goes to $W/probe.body.
probe() {
  curl -s -o "$W/probe.body" -w '%{http_code} %{time_total}\n' --max-time "$PROBE_TIMEOUT" \
    -H "Authorization: Bearer $2" -H 'Accept-Encoding: gzip' "$BASE$1" || true
}
# wrk_run MODE URLS TOKEN: prints "p50 p99 req/s non2xx timeouts done" (done = requests completed; wrk leaves out
# requests still running when the run ends, so with few completed requests the percentiles are of the fast ones).
wrk_run() {
  URLS=$2 MODE=$1 TOKEN=$3 $NICE wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$WRK_TIMEOUT" \
    --latency -s benches/load/tiles.lua "$BASE" >"$W/wrk.out" 2>&1 || true
  awk '
    /^ +50%/ {p50 = $2} /^ +99%/ {p99 = $2} /^Requests\/sec/ {rps = $2}
    /requests in/ {done = $1}
    /Non-2xx or 3xx responses/ {bad = $NF} /Socket errors/ {for (i = 1; i <= NF; i++) if ($i == "timeout") to = $(i + 1)}
    END {
      if (done + 0 == 0) {p50 = "-"; p99 = "-"}
      printf "%s %s %s %d %d %d\n", p50 == "" ? "-" : p50, p99 == "" ? "-" : p99, rps == "" ? 0 : rps, bad, to, done
    }' "$W/wrk.out"
}

# probe_delivery TENANT: imports a copy of the generator's 1-row probe delivery (fresh registration number) with
# the CLI while the server runs and reports the seconds from the end of the import until the probe's buurt
# statistics count it and until the z12 incident-cell tile over that buurt changes (limit 120 s).
probe_delivery() {
  read -r BEFORE_COUNT BEFORE_HASH < <($PY state "$BASE" "$TOKEN" "$PROBE_BUURT")
  sed "s/P0000001/P$(date +%s | tail -c 8)/" "$PROBE_FILE" >"$W/probe_$$.csv"
  timed "import 1-row delivery ($1)" "$BIN" --db "$DB" import incidents "$W/probe_$$.csv" --source politie \
    --tenant "$1" --report "$W/probe_report.csv"
  read -r STATS_S TILE_S NOW < <($PY watch "$BASE" "$TOKEN" "$PROBE_BUURT" "$BEFORE_COUNT" "$BEFORE_HASH" 120)
  if [ "$STATS_S" = - ]; then
    say "1-row delivery NOT visible in the statistics of $PROBE_BUURT after 120 s (count still $BEFORE_COUNT)"
  else
    say "1-row delivery visible in the statistics of $PROBE_BUURT after ${STATS_S} s (count $BEFORE_COUNT -> $NOW)"
  fi
  if [ "$TILE_S" = - ]; then
    say "1-row delivery NOT visible in the z12 incident-cell tile after 120 s"
  else
    say "1-row delivery visible in the z12 incident-cell tile after ${TILE_S} s"
  fi
}

if [ "$REGIONAL" != 1 ]; then
  say "== tiles over dense areas (top $HOTSPOTS buurten by count; 3 x 3 tiles around each); $CONNECTIONS connections, $THREADS wrk threads, $DURATION per run"
  # shellcheck disable=SC2086
  $PY dense "$BASE" "$TOKEN" "$HOTSPOTS" $ZOOMS >"$W/tiles.txt"
  # shellcheck disable=SC2086
  $PY around "$BASE" "$TOKEN" "$FRESH_HOTSPOTS" "$FRESH_RADIUS" $ZOOMS >"$W/fresh_tiles.txt"
  FRESH_FROM=$(date -u -d "$LAST - 729 days" +%Y-%m-%d)
  printf '%-10s %-4s %-6s %-28s %-40s %-40s %s\n' layer zoom tiles "first request (status, s)" "cold p50 / p99, req/s, done, failures" "warm p50 / p99, req/s, done, failures" "cold tile, known filter: p50 / p99, req/s, done of distinct tiles, failures"
  for layer in $LAYERS; do
    name=${layer%.*}
    ext=${layer#*.}
    for z in $ZOOMS; do
      awk -v z="$z" -v n="$name" -v e="$ext" '$1 == z {printf "/tiles/%s/%s/%s/%s.%s?source=politie\n", n, $1, $2, $3, e}' \
        "$W/tiles.txt" >"$W/cold.txt"
      n_tiles=$(wc -l <"$W/cold.txt")
      first=$(head -n 1 "$W/cold.txt")
      read -r status secs < <(probe "$first&from=2020-01-01&to=$LAST" "$TOKEN")
      probe_txt="$status, $secs"
      if [ "$status" != 200 ] && [ "$status" != 204 ]; then
        msg=$(head -c 200 "$W/probe.body" | tr -d '\n')
        [ "$status" = 000 ] && msg="no answer within ${PROBE_TIMEOUT} s"
        printf '%-10s z%-3s %-6s %-28s FAILS: HTTP %s %s\n' "$name" "$z" "$n_tiles" "$probe_txt" "$status" "$msg"
        continue
      fi
      read -r c50 c99 crps cbad cto cdone < <(wrk_run cold "$W/cold.txt" "$TOKEN")
      sed "s/\$/\&from=$FROM\&to=$LAST/" "$W/cold.txt" >"$W/warm.txt"
      while read -r p; do curl -s -o /dev/null --max-time "$PROBE_TIMEOUT" -H "Authorization: Bearer $TOKEN" "$BASE$p" || true; done <"$W/warm.txt"
      read -r w50 w99 wrps wbad wto wdone < <(wrk_run warm "$W/warm.txt" "$TOKEN")
      # Cold tiles with a known filter: prime the filter with the first tile, then every other tile once.
      awk -v z="$z" -v n="$name" -v e="$ext" -v f="$FRESH_FROM" -v l="$LAST" \
        '$1 == z {printf "/tiles/%s/%s/%s/%s.%s?source=politie&from=%s&to=%s\n", n, $1, $2, $3, e, f, l}' \
        "$W/fresh_tiles.txt" >"$W/fresh.txt"
      probe "$(head -n 1 "$W/fresh.txt")" "$TOKEN" >/dev/null
      sed -i 1d "$W/fresh.txt"
      read -r f50 f99 frps fdone n_fresh fbad < <($PY fresh "$BASE" "$TOKEN" "$W/fresh.txt" "$CONNECTIONS" \
        "${DURATION%s}")
      printf '%-10s z%-3s %-6s %-28s %-40s %-40s %s\n' "$name" "$z" "$n_tiles" "$probe_txt" \
        "$c50 / $c99, $crps/s, $cdone done, $cbad non-2xx, $cto t/o" "$w50 / $w99, $wrps/s, $wdone done, $wbad non-2xx, $wto t/o" \
        "${f50}ms / ${f99}ms, $frps/s, $fdone of $n_fresh, $fbad non-2xx"
    done
  done
  say "server after the tile runs: $(rss_of "$SERVER_PID")"
  say "== a 1-row delivery while serving (buurt $PROBE_BUURT)"
  probe_delivery "$FIRST_TENANT"
else
  say "== regional: warm tiles of the other tenants, then a 1-row delivery for $FIRST_TENANT"
  : >"$W/others.txt"
  for code in "${TENANT_CODES[@]:1}"; do
    read -r z x y < <($PY centre "$BASE" "${TOKENS[$code]}" 12)
    for p in "/tiles/buurten/$z/$x/$y.mvt?source=politie" "/tiles/kde/$z/$x/$y.png?source=politie" \
      "/tiles/incidents/$z/$x/$y.mvt?source=politie"; do
      echo "$code $p" >>"$W/others.txt"
    done
  done
  # Two rounds: the first fills the caches, the second must hit.
  for round in fill check; do
    codes=()
    while read -r code p; do
      codes+=("$(curl -s -o /dev/null -w '%{http_code}' --max-time "$PROBE_TIMEOUT" \
        -H "Authorization: Bearer ${TOKENS[$code]}" "$BASE$p" || true)")
    done <"$W/others.txt"
    say "others' tiles ($round): $(printf '%s\n' "${codes[@]}" | sort | uniq -c | awk '{printf "%s x HTTP %s; ", $1, $2}')"
  done
  curl -sf "$BASE/metrics" >"$W/metrics_before.txt"
  probe_delivery "$FIRST_TENANT"
  curl -sf "$BASE/metrics" >"$W/metrics_mid.txt"
  START_OTHERS=$(date +%s.%N)
  codes=()
  while read -r code p; do
    codes+=("$(curl -s -o /dev/null -w '%{http_code}' --max-time "$PROBE_TIMEOUT" \
      -H "Authorization: Bearer ${TOKENS[$code]}" "$BASE$p" || true)")
  done <"$W/others.txt"
  OTHERS_S=$(awk -v a="$START_OTHERS" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  curl -sf "$BASE/metrics" >"$W/metrics_after.txt"
  say "others' tiles after the delivery: $(wc -l <"$W/others.txt") requests in ${OTHERS_S} s; $(printf '%s\n' "${codes[@]}" | sort | uniq -c | awk '{printf "%s x HTTP %s; ", $1, $2}')"
  for m in brandpunt_tenant_reloads_total brandpunt_data_reloads_total brandpunt_tile_cache_hits_total \
    brandpunt_tile_cache_misses_total; do
    say "$m: before $($PY metric "$W/metrics_before.txt" "$m") -> after the delivery $($PY metric "$W/metrics_mid.txt" "$m") -> after the others' tiles $($PY metric "$W/metrics_after.txt" "$m")"
  done
  for kind in png_tile vector_tile; do
    for m in brandpunt_cache_hits_total brandpunt_cache_misses_total; do
      say "$m{cache=\"$kind\"}: $($PY metric "$W/metrics_before.txt" "$m" "\"$kind\"") -> $($PY metric "$W/metrics_mid.txt" "$m" "\"$kind\"") -> $($PY metric "$W/metrics_after.txt" "$m" "\"$kind\"")"
    done
  done
  MISSES=$(($($PY metric "$W/metrics_after.txt" brandpunt_cache_misses_total) - $($PY metric "$W/metrics_mid.txt" brandpunt_cache_misses_total)))
  say "cache misses (all kinds) while re-requesting the others' $(wc -l <"$W/others.txt") tiles after the delivery: $MISSES (0 = they stayed warm)"
fi
say "server at the end: $(rss_of "$SERVER_PID")"
curl -sf "$BASE/metrics" | grep -E '^brandpunt_(cache_budget_bytes|incidents|tenant_reloads_total|data_reloads_total)' || true
