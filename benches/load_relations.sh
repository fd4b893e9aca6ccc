#!/usr/bin/env bash
# Latency of the relations API over HTTP (issue 13 target: neighbourhood of depth 2, p99 < 20 ms once the graph is
# built and cached). Builds the small demo city in a temp dir, imports the relations fixture deliveries
# (tests/fixtures/relations/: pseudonymised BSNs and licence plates), adds an analyst with the `relations` grant,
# starts the server on a free port and asks `/api/relations/neighbours?node=SUBJECT&depth=2` REQUESTS times, one
# request at a time (a keep-alive connection), after a first request (`/components`) that builds the graph
# (reported separately) and picks the node: the example node of the largest component. Client and server share the machine's cores.
#
# Usage: benches/load_relations.sh [REQUESTS=2000]; BIN=target/debug/brandpunt to measure a debug build.
# DB=path: measure on that database instead of the small demo (e.g. a copy of a national database given personal
# columns by benches/relations_national.py; the user `relbench` is added to it once); MIN_SIZE=N: the first
# request is `/components?min_size=N` (default 1; a national graph has more than the 20,000 components one answer
# may list); NODE=id: the node to ask about (default: the example of the largest component).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load/common.sh
REQUESTS=${1:-${REQUESTS:-2000}}
BIN=${BIN:-target/release/brandpunt}
[ -x "$BIN" ] || cargo build --release
TMP=$(mktemp -d)
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
if [ -n "${DB:-}" ]; then
  USER_NAME=relbench
  "$BIN" --db "$DB" user list 2>/dev/null | grep -qw "$USER_NAME" \
    || "$BIN" --db "$DB" user add "$USER_NAME" --tenant default --role analyst --categories '*' --relations >/dev/null
else
  DB=$TMP/db
  USER_NAME=bench
  "$BIN" --db "$DB" demo --small --dir "$TMP/demo" >/dev/null
  F=tests/fixtures/relations
  for s in politie handhaving; do
    "$BIN" --db "$DB" import incidents "$F/$s.csv" --source "$s" --mapping "$F/mapping.toml" \
      --pseudonym-key-file "$F/key.hex" --report "$TMP/$s.report.csv" >/dev/null
  done
  "$BIN" --db "$DB" user add "$USER_NAME" --tenant default --role analyst --categories '*' --relations >/dev/null
fi
TOKEN=$("$BIN" --db "$DB" token create --user "$USER_NAME" 2>/dev/null)
"$BIN" --db "$DB" serve --addr 127.0.0.1:0 >"$TMP/server.out" 2>/dev/null &
SERVER_PID=$!
wait_for_server "$TMP/server.out"
echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg); $BIN; $REQUESTS requests"
python3 - "$BASE" "$TOKEN" "$REQUESTS" "${MIN_SIZE:-1}" "${NODE:-}" <<'EOF'
import http.client, json, sys, time, urllib.parse
base, token, n, min_size, node = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
host = urllib.parse.urlparse(base).netloc
conn = http.client.HTTPConnection(host)
head = {"Authorization": f"Bearer {token}"}
def get(path):
    t = time.perf_counter()
    conn.request("GET", path, headers=head)
    r = conn.getresponse()
    body = r.read()
    return r.status, body, (time.perf_counter() - t) * 1e3
# The first request builds the graph (the cold one); the node is the example of the largest component.
status, body, cold = get(f"/api/relations/components?min_size={min_size}")
assert status == 200, body
comps = json.loads(body)["components"]
graph_nodes = sum(c["size"] for c in comps)
example = node or max(comps, key=lambda c: (c["size"], -c["index"]))["example"]
path = f"/api/relations/neighbours?node={example}&depth=2"
status, body, _ = get(path)
assert status == 200, body
nodes = len(json.loads(body)["elements"]["nodes"])
times = []
for _ in range(n):
    status, body, ms = get(path)
    assert status == 200, body
    times.append(ms)
times.sort()
q = lambda p: times[min(len(times) - 1, int(p * len(times)))]
print(f"{graph_nodes} nodes in the {len(comps)} components of >= {min_size} nodes: first request (build + components) {cold:.1f} ms; "
      f"depth-2 neighbourhood of {nodes} nodes ({example}): warm p50 {q(0.5):.2f} ms, "
      f"p99 {q(0.99):.2f} ms, max {times[-1]:.2f} ms")
EOF
