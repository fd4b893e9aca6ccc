#!/usr/bin/env bash
# Cancellation at national scale (issue 12: "a request past its timeout stops using CPU within 1 s").
#
# Serves a database made by benches/national.sh (DATA=dir, required) with `[limits] request_timeout_seconds`
# = TIMEOUT (default 2) and asks, ROUNDS times each, for work that takes longer than that: the first KDE PNG tile
# of a filter nobody asked for before (the per-filter KDE field, seconds at 1 M incidents) and an emerging hot
# spot analysis over the whole country (`/api/hotspots?method=emerging&bins=grid:500`).
#   - timeout: the server answers 503 after TIMEOUT s; measured is how long after that answer a computation
#     still runs (`brandpunt_computations_running` in /metrics, polled every 50 ms, falls to 0);
#   - client gone: curl gives up after GONE s (default 1) without the server timing out; measured the same way
#     from the moment the client closed the connection.
# Prints each round and `brandpunt_cancelled_total` before and after.
#
# Usage: DATA=/tmp/nat_1m benches/cancel.sh
# env: BIN=path (default target/release/brandpunt) TIMEOUT=2 GONE=1 ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATA:?DATA=dir of a benches/national.sh run (it holds db and files.txt)}"
BIN=${BIN:-target/release/brandpunt}
TIMEOUT=${TIMEOUT:-2}
GONE=${GONE:-1}
ROUNDS=${ROUNDS:-3}
DB=$DATA/db
W=$(mktemp -d)
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$W"
  return 0
}
trap cleanup EXIT
TENANT=$(awk -F'\t' '$1 == "tenant" {print $2; exit}' "$DATA/files.txt")
user="bench_cancel_$$"
"$BIN" --db "$DB" user add "$user" --tenant "$TENANT" --role analyst --categories '*' >/dev/null
TOKEN=$("$BIN" --db "$DB" token create --user "$user" 2>/dev/null | tail -n 1)
printf '[limits]\nrequest_timeout_seconds = %s\n' "$TIMEOUT" >"$W/config.toml"
"$BIN" --db "$DB" serve --addr 127.0.0.1:0 --config "$W/config.toml" >"$W/server.out" 2>"$W/server.err" &
SERVER_PID=$!
BASE=
for _ in $(seq 9000); do
  [ -z "$BASE" ] && BASE=$(sed -n 's/^listening on //p' "$W/server.out" 2>/dev/null)
  if [ -n "$BASE" ] && curl -sf -o /dev/null "$BASE/readyz"; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited: $(tail -n 5 "$W/server.err")"; exit 1; }
  sleep 0.1
done
echo "== machine: $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); data $DATA"
cancelled() { curl -sf "$BASE/metrics" | awk '$1 == "brandpunt_cancelled_total" {print $2}'; }
# running_for: seconds (to 0.05 s) until no computation runs on the server's blocking pool
# (`brandpunt_computations_running` = 0 in /metrics; limit 60 s).
running_for() {
  local start
  start=$(date +%s.%N)
  for _ in $(seq 1200); do
    if [ "$(curl -sf "$BASE/metrics" | awk '$1 == "brandpunt_computations_running" {print $2}')" = 0 ]; then
      awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f\n", b - a}'
      return
    fi
    sleep 0.05
  done
  echo ">60"
}
LAST=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/meta" | sed -n 's/.*"last":"\([0-9-]*\)".*/\1/p')
read -r Z X Y < <(python3 benches/load/national.py centre "$BASE" "$TOKEN" 8)
echo "cancelled before: $(cancelled)"
printf '%-8s %-10s %-34s %-22s %-22s\n' round case request answer "still computing for"
for r in $(seq "$ROUNDS"); do
  # A new filter each round: a period ending on a different day, so nothing is cached.
  for case in timeout gone; do
    from=$(date -u -d "$LAST - $((1500 + 2 * r + ${#case})) days" +%Y-%m-%d)
    for what in kde emerging; do
      if [ "$what" = kde ]; then
        path="/tiles/kde/$Z/$X/$Y.png?from=$from&to=$LAST&source=politie"
      else
        path="/api/hotspots?method=emerging&bins=grid:500&from=$from&to=$LAST"
      fi
      running_for >/dev/null
      if [ "$case" = timeout ]; then
        answer=$(curl -s -o /dev/null -w '%{http_code} after %{time_total} s' --max-time 120 \
          -H "Authorization: Bearer $TOKEN" "$BASE$path" || true)
      else
        answer=$(curl -s -o /dev/null -w 'gave up after %{time_total} s' --max-time "$GONE" \
          -H "Authorization: Bearer $TOKEN" "$BASE$path" || true)
      fi
      printf '%-8s %-10s %-34s %-22s %-22s\n' "$r" "$case" "$what (${path%%\?*})" "$answer" "$(running_for) s"
    done
  done
done
echo "cancelled after: $(cancelled)"
