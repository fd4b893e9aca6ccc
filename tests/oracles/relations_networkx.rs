//! brandpunt::relations against networkx: connected components, shortest path lengths of every pair, all
//! shortest paths of some pairs, degree and betweenness (normalised and raw) to 1e-9, on (a) the graph of the
//! fixture deliveries tests/fixtures/relations/ (imported through the real importer into a SQLite store, read back
//! with the stored pseudonyms and built by `Graph::build`) and (b) public networks networkx ships (karate club,
//! Les Miserables, Florentine families, and a disjoint union with an isolated node).
//!
//! Expected values: tests/oracle/expected/relations_networkx.json, written by tests/oracle/relations_networkx.py.

use brandpunt::access::CategoryScope;
use brandpunt::cancel::Cancel;
use brandpunt::import::incidents::{import_incident_file, IncidentImportOptions, Locator};
use brandpunt::import::mapping::Mapping;
use brandpunt::pseudonym::{IdentifierKind, PseudonymKey};
use brandpunt::relations::{centrality, queries, Adjacency, Graph, NodeKind};
use brandpunt::store::{AddressKind, AddressRecord, IncidentFilter, SqliteStore, Store};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn expected() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracle/expected/relations_networkx.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/relations")
        .join(name)
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Compare everything of `want` with `adj`, whose node `k` is the oracle's node `k`.
fn check(adj: &Adjacency, want: &Value, what: &str) {
    let cancel = Cancel::never();
    let n = want["nodes"].as_array().unwrap().len();
    assert_eq!(adj.node_count(), n, "{what}: nodes");
    // Components: the same partition, in the same order (size, then smallest node).
    let comps = queries::components(adj, &cancel).unwrap();
    let want_comps: Vec<Vec<u32>> = want["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(u32s)
        .collect();
    assert_eq!(comps, want_comps, "{what}: components");
    // Every pair's shortest path length; pairs networkx does not list are not connected.
    let mut lengths = std::collections::HashMap::new();
    for row in want["path_lengths"].as_array().unwrap() {
        let r = u32s(row);
        lengths.insert((r[0], r[1]), r[2]);
    }
    for s in 0..n as u32 {
        for t in s + 1..n as u32 {
            let got = queries::path_length(adj, s, t, &cancel).unwrap();
            assert_eq!(got, lengths.get(&(s, t)).copied(), "{what}: length {s}-{t}");
        }
    }
    for p in want["all_shortest_paths"].as_array().unwrap() {
        let (from, to) = (
            p["from"].as_u64().unwrap() as u32,
            p["to"].as_u64().unwrap() as u32,
        );
        let want_paths: Vec<Vec<u32>> = p["paths"].as_array().unwrap().iter().map(u32s).collect();
        let got = queries::shortest_paths(adj, from, to, 10_000, &cancel).unwrap();
        assert_eq!(got, want_paths, "{what}: paths {from}-{to}");
    }
    let degree: Vec<u32> = centrality::degrees(adj)
        .into_iter()
        .map(|d| d as u32)
        .collect();
    assert_eq!(degree, u32s(&want["degree"]), "{what}: degree");
    let b = centrality::betweenness(adj, 10_000, &cancel).unwrap();
    for (got, want, name) in [
        (&b.normalized, floats(&want["betweenness"]), "betweenness"),
        (&b.raw, floats(&want["betweenness_raw"]), "betweenness_raw"),
    ] {
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-9,
                "{what}: {name} of node {k}: {g} vs {w}"
            );
        }
    }
}

#[test]
fn public_networks_match_networkx() {
    let all = expected();
    for name in ["karate", "les_miserables", "florentine", "union"] {
        let want = &all["graphs"][name];
        let edges: Vec<(u32, u32)> = want["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let e = u32s(e);
                (e[0], e[1])
            })
            .collect();
        let n = want["nodes"].as_array().unwrap().len();
        let adj = Adjacency::from_edges(n, &edges, &Cancel::never()).unwrap();
        check(&adj, want, name);
    }
}

/// The fixture deliveries through the importer and the store, then the graph.
pub fn fixture_graph() -> (Graph, String) {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let text = std::fs::read_to_string(fixture("addresses.csv")).unwrap();
    let mut sink = store.address_sink(&[]).unwrap();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        sink.push(&AddressRecord {
            bag_id: f[0].into(),
            kind: AddressKind::Verblijfsobject,
            street: f[1].into(),
            street_short: None,
            huisnummer: f[2].parse().unwrap(),
            huisletter: None,
            toevoeging: None,
            postcode: Some(f[3].into()),
            woonplaats: f[4].into(),
            bronhouder: None,
            status: None,
            gebruiksdoel: None,
            oppervlakte_m2: None,
            bouwjaar: None,
            pand_id: None,
            pand_status: None,
            x_m: f[5].parse().unwrap(),
            y_m: f[6].parse().unwrap(),
            buurtcode: None,
        })
        .unwrap();
    }
    sink.finish().unwrap();
    let locator = Locator::from_store(&store).unwrap();
    let key = PseudonymKey::parse(&std::fs::read_to_string(fixture("key.hex")).unwrap()).unwrap();
    let mut mapping = Mapping::from_toml_file(&fixture("mapping.toml")).unwrap();
    mapping.pseudonym_key = Some(key.clone());
    let reports = tempfile::tempdir().unwrap();
    for source in ["politie", "handhaving"] {
        let options = IncidentImportOptions {
            tenant: "default".into(),
            source: source.into(),
            mapping: Some(mapping.clone()),
            report_path: Some(reports.path().join(format!("{source}.report.csv"))),
        };
        let summary = import_incident_file(
            &mut store,
            &locator,
            &fixture(&format!("{source}.csv")),
            &options,
        )
        .unwrap();
        assert_eq!(summary.rejected, 0, "{source}: {:?}", summary.report);
    }
    let mut incidents = Vec::new();
    store
        .for_each_linked_incident(
            &IncidentFilter {
                tenant: "default".into(),
                ..Default::default()
            },
            &mut |i| {
                incidents.push(i);
                Ok(())
            },
        )
        .unwrap();
    let g = Graph::build(&incidents, &CategoryScope::All, &Cancel::never()).unwrap();
    (g, key.key_id())
}

#[test]
fn the_fixture_deliveries_graph_matches_networkx() {
    let (g, key_id) = fixture_graph();
    let want = &expected()["graphs"]["fixture"];
    let ids: Vec<String> = want["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    // The same nodes; then renumber ours to the oracle's order.
    let ours: BTreeSet<String> = (0..g.node_count() as u32).map(|v| g.node_id(v)).collect();
    assert_eq!(ours, ids.iter().cloned().collect::<BTreeSet<_>>());
    let to_oracle: Vec<u32> = (0..g.node_count() as u32)
        .map(|v| ids.iter().position(|id| *id == g.node_id(v)).unwrap() as u32)
        .collect();
    let edges: Vec<(u32, u32)> = (0..g.base_edge_count() as u32)
        .map(|e| {
            let edge = g.edge(e);
            (to_oracle[edge.a as usize], to_oracle[edge.b as usize])
        })
        .collect();
    let mut sorted: Vec<Vec<u32>> = edges
        .iter()
        .map(|&(a, b)| vec![a.min(b), a.max(b)])
        .collect();
    sorted.sort();
    let want_edges: Vec<Vec<u32>> = want["edges"].as_array().unwrap().iter().map(u32s).collect();
    assert_eq!(sorted, want_edges, "fixture: edges");
    let adj = Adjacency::from_edges(ids.len(), &edges, &Cancel::never()).unwrap();
    check(&adj, want, "fixture");
    // Every subject carries its column's kind and the key's id.
    let mut kinds = BTreeSet::new();
    for v in 0..g.node_count() as u32 {
        if let NodeKind::Subject(k) = g.node(v).kind {
            kinds.insert(k);
            assert_eq!(g.key_id(v), Some(key_id.as_str()));
        }
    }
    assert_eq!(
        kinds,
        [IdentifierKind::Person, IdentifierKind::Vehicle]
            .into_iter()
            .collect()
    );
}
