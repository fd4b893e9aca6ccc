#!/usr/bin/env python3
"""Helpers of benches/national.sh (standard library only). Not run on its own.

  national.py dense BASE TOKEN K ZOOMS...   tile paths ("z x y", one per line) of the 3 x 3 tiles around the
                                            centres of the K buurten with the most incidents, per zoom
  national.py around BASE TOKEN K R ZOOMS...
                                           the same with the (2R + 1) x (2R + 1) tiles around each centre, each
                                           tile once (the distinct tiles of the "cold tile, known filter" runs)
  national.py centre BASE TOKEN ZOOM       "z x y" of the tile at the centre of the caller's tenant (/api/meta)
  national.py tile LON LAT ZOOM            "z x y" of the tile containing a WGS84 point
  national.py fresh BASE TOKEN FILE CONNECTIONS LIMIT_S
                                           requests every path of FILE exactly once over CONNECTIONS keep-alive
                                           connections (until the list or LIMIT_S ends); prints "p50_ms p99_ms
                                           req_per_s done total failures" (latency of each request, exact); with
                                           FRESH_LOG=PATH also every request's "start_ms latency_ms path"
  national.py count BASE TOKEN CODE        the incident count of an area (/api/areas/CODE/stats), or "error ..."
  national.py state BASE TOKEN CODE        "count hash": the area's count and a hash of the z12 incident-cell tile
                                           at the centre of the area
  national.py watch BASE TOKEN CODE COUNT HASH LIMIT_S
                                           polls both every 0.1 s until both changed or LIMIT_S passed; prints
                                           "statistics_s tile_s count" (seconds since the start, "-" if unchanged)
  national.py metric FILE NAME [LABEL]     the value of a Prometheus series in a /metrics dump (0 if absent)
  national.py wall FILE                    wall seconds and max RSS (MiB) from a `/usr/bin/time -v` report
"""
import csv
import hashlib
import io
import json
import math
import os
import sys
import time
import urllib.error
import urllib.request


def get(base, token, path, timeout=600):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode("utf-8")


def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0 * n)
    return x, y


def dense(base, token, k, zooms, r=1):
    areas = {a["code"]: a["bbox"] for a in json.loads(get(base, token, "/api/areas?level=buurt"))}
    counts = []
    for row in csv.DictReader(io.StringIO(get(base, token, "/api/stats.csv?level=buurt"))):
        try:
            counts.append((int(row["count"]), row["code"]))
        except (KeyError, ValueError):
            continue
    counts.sort(reverse=True)
    for z in zooms:
        seen = set()
        for _, code in counts[:k]:
            b = areas.get(code)
            if not b:
                continue
            x, y = tile((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, z)
            # The centre tile first (the benchmark probes the first tile of every list).
            steps = [0] + [d for i in range(1, r + 1) for d in (-i, i)]
            for dx in steps:
                for dy in steps:
                    t = (z, x + dx, y + dy)
                    if t not in seen:
                        seen.add(t)
                        print(*t)


def area_tile_path(base, token, code):
    b = json.loads(get(base, token, "/api/areas/%s" % code, timeout=60))
    bbox = b.get("bbox") or b.get("properties", {}).get("bbox")
    if not bbox:
        # A GeoJSON feature: the bbox of its coordinates.
        pts = []

        def walk(c):
            if isinstance(c, list) and c and isinstance(c[0], (int, float)):
                pts.append(c)
            elif isinstance(c, list):
                for x in c:
                    walk(x)

        walk(b["geometry"]["coordinates"])
        bbox = [min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts)]
    x, y = tile((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0, 12)
    return "/tiles/incidents/12/%d/%d.mvt" % (x, y)


def state(base, token, code, tile_path):
    try:
        count = json.loads(get(base, token, "/api/areas/%s/stats" % code, timeout=30)).get("count")
    except (urllib.error.URLError, TimeoutError, ValueError):
        count = "error"
    try:
        body = get_bytes(base, token, tile_path)
        digest = hashlib.sha256(body).hexdigest()[:16]
    except (urllib.error.URLError, TimeoutError):
        digest = "error"
    return str(count), digest


def get_bytes(base, token, path, timeout=30):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def fresh(base, token, file, connections, limit_s):
    import http.client
    import threading
    import urllib.parse

    with open(file) as f:
        paths = [line.strip() for line in f if line.strip()]
    host = urllib.parse.urlparse(base).netloc
    lock = threading.Lock()
    times, failures = [], [0]
    todo = iter(paths)
    log = []
    t0 = time.perf_counter()
    start = time.monotonic()

    def worker():
        conn = http.client.HTTPConnection(host, timeout=600)
        head = {"Authorization": "Bearer " + token, "Accept-Encoding": "gzip"}
        while time.monotonic() - start < limit_s:
            with lock:
                path = next(todo, None)
            if path is None:
                return
            t = time.perf_counter()
            conn.request("GET", path, headers=head)
            r = conn.getresponse()
            r.read()
            ms = (time.perf_counter() - t) * 1e3
            with lock:
                times.append(ms)
                log.append((t - t0, ms, path))
                if r.status not in (200, 204):
                    failures[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    if os.environ.get("FRESH_LOG"):
        with open(os.environ["FRESH_LOG"], "w") as f:
            for at, ms, path in sorted(log):
                f.write("%.1f %.1f %s\n" % (at * 1e3, ms, path))
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * len(times)))] if times else float("nan")
    print("%.1f %.1f %.1f %d %d %d" % (q(0.5), q(0.99), len(times) / wall, len(times), len(paths), failures[0]))


def main():
    cmd = sys.argv[1]
    if cmd == "dense":
        dense(sys.argv[2], sys.argv[3], int(sys.argv[4]), [int(z) for z in sys.argv[5:]])
    elif cmd == "around":
        dense(sys.argv[2], sys.argv[3], int(sys.argv[4]), [int(z) for z in sys.argv[6:]], int(sys.argv[5]))
    elif cmd == "fresh":
        fresh(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
    elif cmd == "centre":
        meta = json.loads(get(sys.argv[2], sys.argv[3], "/api/meta"))
        z = int(sys.argv[4])
        print(z, *tile(meta["center"][0], meta["center"][1], z))
    elif cmd == "tile":
        z = int(sys.argv[4])
        print(z, *tile(float(sys.argv[2]), float(sys.argv[3]), z))
    elif cmd == "count":
        try:
            s = json.loads(get(sys.argv[2], sys.argv[3], "/api/areas/%s/stats" % sys.argv[4], timeout=30))
            print(s.get("count"))
        except (urllib.error.URLError, TimeoutError, ValueError) as e:
            print("error", e)
    elif cmd == "state":
        base, token, code = sys.argv[2:5]
        print(*state(base, token, code, area_tile_path(base, token, code)))
    elif cmd == "watch":
        base, token, code, count0, hash0, limit = sys.argv[2:8]
        path = area_tile_path(base, token, code)
        start = time.monotonic()
        stats_s = tile_s = "-"
        count = count0
        while time.monotonic() - start < float(limit):
            c, h = state(base, token, code, path)
            now = "%.1f" % (time.monotonic() - start)
            if stats_s == "-" and c not in (count0, "error"):
                stats_s, count = now, c
            if tile_s == "-" and h not in (hash0, "error"):
                tile_s = now
            if stats_s != "-" and tile_s != "-":
                break
            time.sleep(0.1)
        print(stats_s, tile_s, count)
    elif cmd == "metric":
        name = sys.argv[3]
        label = sys.argv[4] if len(sys.argv) > 4 else None
        total = 0.0
        with open(sys.argv[2]) as f:
            for line in f:
                if line.startswith("#") or not line.startswith(name):
                    continue
                series, _, value = line.rpartition(" ")
                base = series.split("{")[0]
                if base != name or (label and label not in series):
                    continue
                total += float(value)
        print(int(total) if total.is_integer() else total)
    elif cmd == "wall":
        wall, rss = "?", 0
        with open(sys.argv[2]) as f:
            for line in f:
                line = line.strip()
                if line.startswith("Elapsed (wall clock)"):
                    parts = line.rsplit(" ", 1)[1].split(":")
                    wall = sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))
                elif line.startswith("Maximum resident set size"):
                    rss = int(line.rsplit(" ", 1)[1]) // 1024
        print("%.1f" % wall if wall != "?" else wall, rss)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
