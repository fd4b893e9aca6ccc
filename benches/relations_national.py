#!/usr/bin/env python3
"""Give the incidents of a national database personal columns, for measuring the relations API at national scale
(issue 13; benches/load_relations.sh with DB=...). Works on a COPY: pass the copy's path, never an original.

The national demo generator writes deliveries without personal columns or addresses. This adds, to every current
incident of the first incidents delivery of TENANT, 0-3 pseudonyms and (for 90 %) a BAG verblijfsobject id drawn
like benches/relations.rs: subjects from a pool of 0.8 x the incidents (about half of them occur), roles
"BSN verdachte" and "BSN aangever" (person) and "Kenteken" (vehicle), 300 k addresses per million incidents.
Pseudonyms are 64 hex characters (SHA-256 of the subject number: synthetic, not made with a pseudonym key); the
delivery gets its typed personal columns in delivery_personal with key id 0123456789abcdef. Deterministic (seed 13).

Usage: benches/relations_national.py DB [TENANT=default]
"""
import hashlib
import json
import random
import sqlite3
import sys

db, tenant = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "default")
con = sqlite3.connect(db)
(tenant_id,) = con.execute("SELECT id FROM tenant WHERE code = ?", (tenant,)).fetchone()
(delivery,) = con.execute(
    "SELECT min(id) FROM delivery WHERE tenant_id = ? AND kind = 'incidents'", (tenant_id,)
).fetchone()
ids = [r[0] for r in con.execute("SELECT id FROM incident WHERE delivery_id = ? ORDER BY id", (delivery,))]
n = len(ids)
pool, addresses = int(n * 0.8), max(1, n * 3 // 10)
roles = [("BSN verdachte", "person"), ("BSN aangever", "person"), ("Kenteken", "vehicle")]
rng = random.Random(13)
rows = []
for i in ids:
    k = rng.choice((0, 0, 0, 1, 1, 1, 1, 2, 2, 3))
    extra = {}
    for r in range(k):
        s = rng.randrange(pool)
        extra[roles[r][0]] = hashlib.sha256(str(s).encode()).hexdigest()
    bag = f"{363_010_000_000_000 + rng.randrange(addresses):016d}" if rng.random() < 0.9 else None
    rows.append((json.dumps(extra, sort_keys=True), bag, i))
with con:
    con.executemany(
        "INSERT OR REPLACE INTO delivery_personal (delivery_id, role, kind, key_id) VALUES (?, ?, ?, ?)",
        [(delivery, role, kind, "0123456789abcdef") for role, kind in roles],
    )
    con.executemany("UPDATE incident SET extra_json = ?, bag_id = ? WHERE id = ?", rows)
print(f"{n} incidents of delivery {delivery} ({tenant}): pseudonyms and BAG ids added")
