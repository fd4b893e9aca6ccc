#!/usr/bin/env bash
# Latency of the relations API over HTTP (issue 13 target: neighbourhood of depth 2, p99 < 20 ms once the graph is
# built and cached). Builds the small demo city in a temp dir, imports the relations fixture deliveries
# (tests/fixtures/relations/: pseudonymised BSNs and licence plates), adds an analyst with the `relations` grant,
# starts the server on a free port and asks `/api/relations/neighbours?node=SUBJECT&depth=2` REQUESTS times, one
# request at a time (a keep-alive connection), after a first request (`/components`) that builds the graph
# (reported separately) and picks the node: the example node of the largest component. Client and server share the machine's cores.
#
# Usage: benches/load_relations.sh [REQUESTS=2000]; BIN=target/debug/brandpunt to measure a debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/load/common.sh
REQUESTS=${1:-${REQUESTS:-2000}}
BIN=${BIN:-target/release/brandpunt}
[ -x "$BIN" ] || cargo build --release
TMP=$(mktemp -d)
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
"$BIN" --db "$TMP/db" demo --small --dir "$TMP/demo" >/dev/null
F=tests/fixtures/relations
for s in politie handhaving; do
  "$BIN" --db "$TMP/db" import incidents "$F/$s.csv" --source "$s" --mapping "$F/mapping.toml" \
    --pseudonym-key-file "$F/key.hex" --report "$TMP/$s.report.csv" >/dev/null
done
"$BIN" --db "$TMP/db" user add bench --tenant default --role analyst --categories '*' --relations >/dev/null
TOKEN=$("$BIN" --db "$TMP/db" token create --user bench 2>/dev/null)
"$BIN" --db "$TMP/db" serve --addr 127.0.0.1:0 >"$TMP/server.out" 2>/dev/null &
SERVER_PID=$!
wait_for_server "$TMP/server.out"
echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg); $BIN; $REQUESTS requests"
python3 - "$BASE" "$TOKEN" "$REQUESTS" <<'EOF'
import http.client, json, sys, time, urllib.parse
base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
status, body, cold = get("/api/relations/components")
assert status == 200, body
comps = json.loads(body)["components"]
graph_nodes = sum(c["size"] for c in comps)
example = max(comps, key=lambda c: (c["size"], -c["index"]))["example"]
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
print(f"graph of {graph_nodes} nodes in {len(comps)} components: first request (build + components) {cold:.1f} ms; "
      f"depth-2 neighbourhood of {nodes} nodes ({example}): warm p50 {q(0.5):.2f} ms, "
      f"p99 {q(0.99):.2f} ms, max {times[-1]:.2f} ms")
EOF
