#!/usr/bin/env bash
# `GET /api/forecast` over HTTP on a national database (issue 14: a national-scale forecast < 5 s): starts
# `brandpunt serve` on DB, makes an analyst token, and times, per method, ROUNDS requests of the top TOP % of the
# 125 m cells of the tenant's whole study area as GeoJSON (with the streets of the first cells) and one as CSV
# (every cell), one request at a time (curl: total seconds, bytes). The first request of a method also pays for
# nothing else: the snapshot is loaded before /readyz answers and forecasts are not cached.
#
# Usage: DB=/path/to/national/db benches/forecast_api.sh   (DB: a database made by benches/national.sh with
#        DATA=dir, i.e. DIR/db)
# env: TENANT=default BIN (default target/release/brandpunt) METHODS="naive kde prospective sepp" TOP=1 ROUNDS=3 NICENESS=10
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load/common.sh
: "${DB:?DB=path of a national database (benches/national.sh DATA=dir keeps one in dir/db)}"
BIN=${BIN:-target/release/brandpunt}
METHODS=${METHODS:-naive kde prospective sepp}
TOP=${TOP:-1}
ROUNDS=${ROUNDS:-3}
NICE="nice -n ${NICENESS:-10}"
W=$(mktemp -d)
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$W"
  return 0
}
trap cleanup EXIT
TENANT=${TENANT:-default}
user="forecast_bench_$$"
"$BIN" --db "$DB" user add "$user" --tenant "$TENANT" --role analyst --categories '*' >/dev/null
TOKEN=$("$BIN" --db "$DB" token create --user "$user" 2>/dev/null | tail -n 1)
echo "== machine: $(nproc) cores, $(uname -m), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); tenant $TENANT"
START=$(date +%s.%N)
$NICE "$BIN" --db "$DB" serve --addr 127.0.0.1:0 >"$W/server.out" 2>"$W/server.err" &
SERVER_PID=$!
wait_for_server "$W/server.out"
echo "serve ready after $(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
ask() {
  curl -s -o "$W/body" -w '%{http_code} %{time_total} %{size_download}\n' --max-time 600 \
    -H "Authorization: Bearer $TOKEN" "$BASE$1"
}
for method in $METHODS; do
  for round in $(seq "$ROUNDS"); do
    read -r code secs bytes < <(ask "/api/forecast?method=$method&cell=125&top=$TOP")
    named=$(python3 -c 'import json,sys; f=json.load(open(sys.argv[1])); p=[x["properties"] for x in f.get("features",[])]; print(len(p), sum(1 for q in p if "street" in q))' "$W/body" 2>/dev/null || echo "- -")
    echo "$method top $TOP % GeoJSON round $round: HTTP $code, $secs s, $bytes bytes, cells/with street: $named"
  done
  read -r code secs bytes < <(ask "/api/forecast?method=$method&cell=125&format=csv")
  echo "$method every cell CSV: HTTP $code, $secs s, $bytes bytes"
done
