#!/usr/bin/env bash
# Replicas on PostgreSQL (issue 15 targets): "after a commit every replica serves the new data within 2 s (p99)
# for a tenant with 1 M incidents" and "two replicas on one database serve >= 1.8x the tile throughput of one".
#
# - A throwaway PostgreSQL/PostGIS cluster in the work dir (unix socket only; as root it runs as the system user
#   `postgres`), a database owned by a non-superuser role.
# - Data: `brandpunt demo --national --incidents INCIDENTS --no-import` (or DATA=dir of an earlier
#   benches/national.sh run: its files.txt is reused), imported into PostgreSQL with the CLI (timed).
# - Two `serve` replicas (A, B) on the database. Latency: DELIVERIES one-row deliveries (new registrations, a copy
#   of the probe row) imported by the CLI one after another; for each, the seconds from the import command's exit
#   (its transaction has committed by then) until /api/meta on BOTH replicas shows the new count, polled every
#   10 ms; also the CLI's own duration (its start to exit). p50/p99/max reported.
# - Throughput: wrk with the warm tile mix (benches/load/tiles.lua: the 3 x 3 tiles around the HOTSPOTS busiest
#   buurten at z12 and z14, buurten MVT), first against A alone (CONNECTIONS), then against A and B at once (two
#   wrk runs with CONNECTIONS/2 each); the sum of both against the single run. Client and servers share this
#   machine's cores: on a 2-core machine two replicas cannot reach 2x; the figures say what this machine gives.
#
# Usage: [BIN=path] [DATA=dir] [QUIET=wrapper] benches/replicas.sh
#   env: INCIDENTS=1000000 DELIVERIES=20 DURATION=20s CONNECTIONS=64 THREADS=2 HOTSPOTS=4 NICENESS=10
#   QUIET: a command that runs each timed part (the latency loop, each wrk run) as `$QUIET CMD...`, e.g.
#   /tmp/quiet/frozen.sh on a shared machine (other compilers stopped during the measurements only).
set -euo pipefail
cd "$(dirname "$0")/.."
INCIDENTS=${INCIDENTS:-1000000}
DELIVERIES=${DELIVERIES:-20}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
HOTSPOTS=${HOTSPOTS:-4}
NICE="nice -n ${NICENESS:-10}"
QUIET=${QUIET:-}
PY="python3 benches/load/national.py"
for tool in wrk python3 curl; do
  command -v "$tool" >/dev/null || { echo "$tool missing (apt-get install wrk python3 curl)" >&2; exit 1; }
done
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL missing: apt-get install postgresql-15 postgresql-15-postgis-3" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  $NICE cargo build --release --bin brandpunt
  BIN=target/release/brandpunt
fi
W=$(mktemp -d)
chmod 755 "$W"
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
cleanup() {
  for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  [ -d "$W/pg" ] && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$W/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$W"
  return 0
}
trap cleanup EXIT
say() { echo "$*"; }
say "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"

# The cluster: socket in $W/sock, defaults otherwise (fsync on).
mkdir -p "$W/sock" "$W/pg"
[ ${#AS[@]} -gt 0 ] && chown postgres: "$W/sock" "$W/pg"
"${AS[@]}" "$PG_BIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$W/pg" -o "-k $W/sock -c listen_addresses='' -c max_connections=200" \
  -l "$W/sock/pg.log" -w start >/dev/null
psql_su() { "$PG_BIN/psql" -X -q -h "$W/sock" -U postgres "$@"; }
psql_su -d postgres -c "CREATE ROLE brandpunt LOGIN NOSUPERUSER" -c "CREATE DATABASE brandpunt OWNER brandpunt"
psql_su -d brandpunt -c "CREATE EXTENSION postgis"
DB="postgresql://brandpunt@$(echo "$W/sock" | sed 's#/#%2F#g')/brandpunt"

# Data.
if [ -n "${DATA:-}" ] && [ -f "$DATA/files.txt" ]; then
  FILES=$DATA/files.txt
  say "== data: reusing $FILES"
else
  $NICE "$BIN" --db "$W/unused.db" demo --national --incidents "$INCIDENTS" --dir "$W/data" --no-import >"$W/files.txt"
  FILES=$W/files.txt
fi
CBS=$(awk -F'\t' '$1 == "cbs" {print $2}' "$FILES")
read -r TENANT ROWS _ CSV < <(awk -F'\t' '$1 == "tenant" {print $2, $3, $4, $5; exit}' "$FILES")
PROBE=$(awk -F'\t' '$1 == "probe" {print $3}' "$FILES")
[ "$TENANT" = default ] || { echo "one tenant (default) expected in $FILES" >&2; exit 1; }
t0=$(date +%s.%N)
$NICE "$BIN" --db "$DB" import cbs "$CBS" >/dev/null
t1=$(date +%s.%N)
$NICE "$BIN" --db "$DB" import incidents "$CSV" --source politie >"$W/import.out"
t2=$(date +%s.%N)
say "== import into PostgreSQL: cbs $(echo "$t1 - $t0" | bc) s; $ROWS incidents $(echo "$t2 - $t1" | bc) s"
"$BIN" --db "$DB" user add bench --tenant default --role analyst --categories '*' >/dev/null
TOKEN=$("$BIN" --db "$DB" token create --user bench 2>/dev/null | tail -n 1)

# Two replicas.
start_replica() {
  $NICE "$BIN" --db "$DB" serve --addr 127.0.0.1:0 >"$W/$1.out" 2>"$W/$1.err" &
  echo $! >"$W/$1.pid"
  for _ in $(seq 6000); do grep -q "listening on" "$W/$1.out" 2>/dev/null && break; sleep 0.1; done
  local base
  base=$(sed -n 's/^listening on //p' "$W/$1.out")
  [ -n "$base" ] || { echo "replica $1 did not start (see $W/$1.err)" >&2; exit 1; }
  until curl -sf "$base/readyz" >/dev/null; do sleep 0.1; done
  echo "$base"
}
ts=$(date +%s.%N)
A=$(start_replica a)
B=$(start_replica b)
say "== two replicas ready in $(echo "$(date +%s.%N) - $ts" | bc) s: $A $B"

# Commit-to-visible latency on both replicas.
$QUIET python3 - "$BIN" "$DB" "$PROBE" "$W" "$DELIVERIES" "$TOKEN" "$A" "$B" <<'PYEOF'
import json, subprocess, sys, time, urllib.request
bin_, db, probe, work, n, token, *bases = sys.argv[1:]
n = int(n)
lines = open(probe, encoding="utf-8").read().splitlines()
header, row = lines[0], lines[1]
sep = ";" if header.count(";") >= header.count(",") else ","
def served(base):
    req = urllib.request.Request(base + "/api/meta", headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["incidents"]
count = served(bases[0])
assert served(bases[1]) == count, "the replicas disagree before the deliveries"
visible, cli = [], []
for i in range(n):
    fields = row.split(sep)
    fields[0] = "REPLICA-%d-%06d" % (int(time.time()), i)
    path = "%s/one_%d.csv" % (work, i)
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "\n" + sep.join(fields) + "\n")
    started = time.monotonic()
    subprocess.run([bin_, "--db", db, "import", "incidents", path, "--source", "politie"],
                   check=True, stdout=subprocess.DEVNULL)
    committed = time.monotonic()
    count += 1
    pending = set(bases)
    while pending:
        for b in list(pending):
            if served(b) == count:
                pending.discard(b)
        if pending:
            if time.monotonic() - committed > 60:
                sys.exit("delivery %d not visible on %s after 60 s" % (i, pending))
            time.sleep(0.01)
    visible.append(time.monotonic() - committed)
    cli.append(committed - started)
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]
print("== %d one-row deliveries: commit (CLI exit) -> visible on both replicas: p50 %.3f s, p99 %.3f s, max %.3f s"
      % (n, pct(visible, 50), pct(visible, 99), max(visible)))
print("   the CLI import itself (start -> exit): p50 %.3f s, max %.3f s" % (pct(cli, 50), max(cli)))
PYEOF

# Tile throughput: one replica, then two.
URLS=$W/urls.txt
$PY dense "$A" "$TOKEN" "$HOTSPOTS" 12 14 | while read -r z x y; do echo "/tiles/buurten/$z/$x/$y.mvt"; done >"$URLS"
for b in "$A" "$B"; do while read -r p; do curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$b$p" || true; done <"$URLS"; done
rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }
say "== tiles: $(wc -l <"$URLS") buurten MVT tiles (z12, z14), warm; $CONNECTIONS connections, $THREADS wrk threads, $DURATION"
export URLS MODE=warm TOKEN
# CPU seconds (user + system) a replica process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$(cat "$W/$1.pid")/stat"; }
A0=$(cpu a)
$QUIET wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/load/tiles.lua "$A" >"$W/one.txt"
A1=$(cpu a)
B1=$(cpu b)
HALF=$((CONNECTIONS / 2))
# Both replicas at once: two wrk runs in one (quiet) command.
$QUIET bash -c 'wrk -t"$1" -c"$2" -d"$3" --latency -s benches/load/tiles.lua "$4" >"$6" & a=$!
  wrk -t"$1" -c"$2" -d"$3" --latency -s benches/load/tiles.lua "$5" >"$7"; wait "$a"' \
  _ "$THREADS" "$HALF" "$DURATION" "$A" "$B" "$W/two_a.txt" "$W/two_b.txt"
A2=$(cpu a)
B2=$(cpu b)
ONE=$(rps "$W/one.txt")
TWO_A=$(rps "$W/two_a.txt")
TWO_B=$(rps "$W/two_b.txt")
say "one replica: $ONE req/s (p99 $(awk '/ 99%/ {print $2}' "$W/one.txt"))"
say "two replicas: $TWO_A + $TWO_B = $(echo "$TWO_A + $TWO_B" | bc) req/s (p99 $(awk '/ 99%/ {print $2}' "$W/two_a.txt") / $(awk '/ 99%/ {print $2}' "$W/two_b.txt")); ratio $(echo "scale=2; ($TWO_A + $TWO_B) / $ONE" | bc)"
# Requests per CPU second of the replicas: equal for one and two replicas means the second replica costs no extra
# work per request (no database queries, no coordination on the tile path), so throughput grows with the cores
# given to the replicas; a 2-core machine shared with wrk cannot show that as requests per second.
requests() { awk '/requests in/ {print $1}' "$1"; }
say "CPU of the replicas: one replica $(echo "$A1 - $A0" | bc) s for $(requests "$W/one.txt") requests ($(echo "scale=0; $(requests "$W/one.txt") / ($A1 - $A0)" | bc) per CPU s); two replicas $(echo "$A2 - $A1 + $B2 - $B1" | bc) s for $(($(requests "$W/two_a.txt") + $(requests "$W/two_b.txt"))) requests ($(echo "scale=0; ($(requests "$W/two_a.txt") + $(requests "$W/two_b.txt")) / ($A2 - $A1 + $B2 - $B1)" | bc) per CPU s)"
grep -h "Non-2xx\|Socket errors" "$W"/one.txt "$W"/two_*.txt || true
for b in "$A" "$B"; do
  say "$b: $(curl -sf "$b/metrics" | grep -E '^brandpunt_(change_notifications_total|change_feed_connects_total|tenant_incremental_reloads_total) ' | tr '\n' ' ')"
done
