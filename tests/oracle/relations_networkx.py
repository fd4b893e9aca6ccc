"""Oracle for brandpunt::relations (components, shortest paths, degree, betweenness) with networkx.

1. A graph derived from the fixture deliveries tests/fixtures/relations/{politie,handhaving}.csv built here
   independently: every row is an incident node `incident:<registratienummer>`; a row whose street + number is in
   tests/fixtures/relations/addresses.csv links to `address:<bag_id>`; every non-empty personal column (mapping.toml)
   links to `subject:<pseudonym>`, the pseudonym being hex(HMAC-SHA256(key, normalised value)) with the key of
   key.hex and the normalisation of src/pseudonym.rs (trim, drop whitespace, '-' and '.', upper-case).
2. Real public networks that networkx ships: Zachary's karate club, Les Miserables (unweighted), the Florentine
   families, and their disjoint union (for components).

For each: the node list, the edge list (as node indices: the input of the Rust test), connected components (as
sorted index lists), shortest path lengths of every pair, all shortest paths of a few pairs, degree, and
betweenness (normalized=True and normalized=False).

Run: python3 tests/oracle/relations_networkx.py  (writes tests/oracle/expected/relations_networkx.json)
Needs networkx 3.x.
"""
import csv
import hashlib
import hmac
import json
import os
import tomllib

import networkx as nx

here = os.path.dirname(os.path.abspath(__file__))
fixture = os.path.join(here, "..", "fixtures", "relations")


def normalise(v):
    return "".join(c for c in v.strip() if not c.isspace() and c not in "-.").upper()


def fixture_graph():
    key = bytes.fromhex(open(os.path.join(fixture, "key.hex")).read().strip())
    with open(os.path.join(fixture, "mapping.toml"), "rb") as f:
        personal = tomllib.load(f)["personal"]["columns"]
    with open(os.path.join(fixture, "addresses.csv")) as f:
        bag = {(r["street"], r["huisnummer"]): r["bag_id"] for r in csv.DictReader(f)}
    g = nx.Graph()
    for name in ["politie.csv", "handhaving.csv"]:
        with open(os.path.join(fixture, name), encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter=";"):
                inc = "incident:" + row["Registratienummer"]
                g.add_node(inc)
                b = bag.get((row["Straat"], row["Huisnummer"]))
                if b:
                    g.add_edge(inc, "address:" + b)
                for col in personal:
                    n = normalise(row[col])
                    if n:
                        p = hmac.new(key, n.encode(), hashlib.sha256).hexdigest()
                        g.add_edge(inc, "subject:" + p)
    return g


def describe(g, pairs):
    nodes = sorted(g.nodes(), key=str)
    index = {v: i for i, v in enumerate(nodes)}
    edges = sorted([sorted([index[a], index[b]]) for a, b in g.edges()])
    comps = sorted([sorted(index[v] for v in c) for c in nx.connected_components(g)], key=lambda c: (-len(c), c[0]))
    lengths = []
    for s, d in nx.all_pairs_shortest_path_length(g):
        for t, l in d.items():
            if index[s] < index[t]:
                lengths.append([index[s], index[t], l])
    lengths.sort()
    paths = []
    for s, t in pairs:
        ps = sorted([[index[v] for v in p] for p in nx.all_shortest_paths(g, s, t)])
        paths.append({"from": index[s], "to": index[t], "paths": ps})
    bc = nx.betweenness_centrality(g, normalized=True)
    bc_raw = nx.betweenness_centrality(g, normalized=False)
    return {
        "nodes": [str(v) for v in nodes],
        "edges": edges,
        "components": comps,
        "path_lengths": lengths,
        "all_shortest_paths": paths,
        "degree": [g.degree(v) for v in nodes],
        "betweenness": [bc[v] for v in nodes],
        "betweenness_raw": [bc_raw[v] for v in nodes],
    }


def most_distant_pairs(g, k):
    """k pairs with the longest shortest path (ties by node order), for the path lists."""
    nodes = sorted(g.nodes(), key=str)
    best = []
    for s, d in nx.all_pairs_shortest_path_length(g):
        for t, l in d.items():
            if str(s) < str(t):
                best.append((-l, str(s), str(t), s, t))
    best.sort()
    return [(s, t) for _, _, _, s, t in best[:k]]


graphs = {}
fx = fixture_graph()
graphs["fixture"] = describe(fx, most_distant_pairs(fx, 5))
karate = nx.karate_club_graph()
graphs["karate"] = describe(nx.Graph(karate.edges()), [(0, 33), (16, 26), (11, 25)])
les = nx.Graph(nx.les_miserables_graph().edges())
graphs["les_miserables"] = describe(les, most_distant_pairs(les, 3))
flo = nx.Graph(nx.florentine_families_graph().edges())
graphs["florentine"] = describe(flo, [("Acciaiuoli", "Strozzi"), ("Pazzi", "Lamberteschi")])
union = nx.disjoint_union(nx.Graph(karate.edges()), flo)
union.add_node("isolated")
graphs["union"] = describe(nx.relabel_nodes(union, {v: f"n{v}" if v != "isolated" else v for v in union}), [])

out = {"networkx": nx.__version__, "graphs": graphs}
with open(os.path.join(here, "expected", "relations_networkx.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print({k: (len(v["nodes"]), len(v["edges"]), len(v["components"])) for k, v in graphs.items()})
