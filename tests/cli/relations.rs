//! `brandpunt relations` end to end: the fixture deliveries of tests/fixtures/relations/ imported through the
//! binary with their mapping and key, then every query and export; the GraphML and GEXF files are read back by
//! networkx (`read_graphml`, `read_gexf`) with the same node and edge counts; a bad node id is refused naming the
//! option. On the small and the default demo city, the three planted relation patterns of the ground truth are
//! found.

use crate::common::demo::{default_demo, demo, Demo};
use brandpunt::pseudonym::PseudonymKey;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/relations")
        .join(name)
}

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("BRANDPUNT_PSEUDONYM_KEY")
        .output()
        .unwrap()
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// networkx's node and edge counts of a GraphML or GEXF file.
fn networkx_counts(reader: &str, file: &Path) -> (usize, usize) {
    let script = format!(
        "import sys, networkx as nx\ng = nx.{reader}(sys.argv[1])\nprint(g.number_of_nodes(), g.number_of_edges())"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{reader}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<usize> = text
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    (v[0], v[1])
}

#[test]
fn relations_queries_and_exports_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let mapping = fixture("mapping.toml");
    let key = fixture("key.hex");
    for source in ["politie", "handhaving"] {
        let report = dir.path().join(format!("{source}.report.csv"));
        ok(
            &db,
            &[
                "import",
                "incidents",
                fixture(&format!("{source}.csv")).to_str().unwrap(),
                "--source",
                source,
                "--mapping",
                mapping.to_str().unwrap(),
                "--pseudonym-key-file",
                key.to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
            ],
        );
    }
    // No BAG imported: no address nodes; 13 incidents and 11 distinct subjects (8 BSNs, 3 plates).
    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["relations", "export", "--format", "cytoscape"])).unwrap();
    let nodes = json["elements"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 13 + 11);
    assert!(nodes.iter().all(|n| n["data"]["kind"].is_string()));
    let edges = json["elements"]["edges"].as_array().unwrap().len();
    for (format, reader) in [("graphml", "read_graphml"), ("gexf", "read_gexf")] {
        let file = dir.path().join(format!("net.{format}"));
        ok(
            &db,
            &[
                "relations",
                "export",
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(
            networkx_counts(reader, &file),
            (nodes.len(), edges),
            "{format}"
        );
        let text = std::fs::read_to_string(&file).unwrap();
        // Only pseudonyms: no raw BSN or licence plate.
        for raw in ["111111110", "AB-123-C", "AB123C", "888888880"] {
            assert!(!text.contains(raw), "{format} holds {raw}");
        }
    }
    let csv = ok(&db, &["relations", "export", "--format", "csv"]);
    assert_eq!(csv.lines().count(), edges + 1);

    // In both sources: person 444444440 and plate XY-99-Z (PL-004, HH-02), and person 111111110 (PL-001, PL-002,
    // PL-003, PL-009 and HH-01), the only one in 5 registrations.
    let repeats = ok(
        &db,
        &[
            "relations",
            "repeats",
            "--min-sources",
            "2",
            "--min-registrations",
            "99",
        ],
    );
    assert_eq!(repeats.lines().count(), 4, "{repeats}");
    let five = ok(
        &db,
        &[
            "relations",
            "repeats",
            "--min-sources",
            "9",
            "--min-registrations",
            "5",
        ],
    );
    let rows: Vec<&str> = five.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{five}");
    assert!(
        rows[0].contains(",person,5,politie;handhaving,2024-01-03,2024-03-08"),
        "{five}"
    );
    let person = rows[0].split(',').next().unwrap().to_string();
    let around = ok(
        &db,
        &["relations", "neighbours", "--node", &person, "--depth", "1"],
    );
    let around: serde_json::Value = serde_json::from_str(&around).unwrap();
    assert_eq!(around["elements"]["nodes"].as_array().unwrap().len(), 6);
    let paths = ok(
        &db,
        &[
            "relations",
            "paths",
            "--start",
            "incident:PL-001",
            "--target",
            "incident:HH-01",
        ],
    );
    let paths: serde_json::Value = serde_json::from_str(&paths).unwrap();
    assert_eq!(paths["length"], 2);
    assert_eq!(paths["paths"].as_array().unwrap().len(), 1);
    assert_eq!(paths["paths"][0][1], person.as_str());
    let net = ok(
        &db,
        &[
            "relations",
            "network",
            "--node",
            "incident:PL-004,incident:HH-02",
            "--format",
            "csv",
        ],
    );
    assert!(net.lines().count() > 2, "{net}");
    let comps = ok(&db, &["relations", "components"]);
    assert!(comps.starts_with("component,size,kinds,example"), "{comps}");
    let central = ok(
        &db,
        &["relations", "centrality", "--node", &person, "--depth", "2"],
    );
    assert!(
        central.lines().skip(1).any(|l| l.starts_with(&person)),
        "{central}"
    );

    // Bad input names the option.
    for (args, name) in [
        (
            vec!["relations", "neighbours", "--node", "persoon:1"],
            "--node",
        ),
        (
            vec![
                "relations",
                "neighbours",
                "--node",
                "incident:PL-001",
                "--depth",
                "4",
            ],
            "depth",
        ),
        (
            vec![
                "relations",
                "paths",
                "--start",
                "incident:PL-001",
                "--target",
                "incident:GEEN",
            ],
            "--target",
        ),
    ] {
        let out = run(&db, &args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{args:?}: {err}");
    }
}

/// The node ids of a Cytoscape answer, by kind.
fn nodes_by_kind(cytoscape: &str) -> BTreeMap<String, BTreeSet<String>> {
    let v: serde_json::Value = serde_json::from_str(cytoscape).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for n in v["elements"]["nodes"].as_array().unwrap() {
        out.entry(n["data"]["kind"].as_str().unwrap().to_string())
            .or_default()
            .insert(n["data"]["id"].as_str().unwrap().to_string());
    }
    out
}

/// The three relation patterns planted in a demo city, found with the relations queries from the pseudonyms of
/// the ground truth's raw values under the demo's key.
fn planted_patterns_are_found(d: &Demo) {
    let gt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.files.join("ground_truth.json")).unwrap())
            .unwrap();
    let rel = &gt["relations"];
    let key_text =
        std::fs::read_to_string(d.files.join(rel["pseudonym_key_file"].as_str().unwrap())).unwrap();
    let key = PseudonymKey::parse(&key_text).unwrap();
    let node = |value: &serde_json::Value| {
        format!(
            "subject:{}",
            key.pseudonymise(value.as_str().unwrap()).unwrap()
        )
    };
    let ids = |prefix: &str, values: &serde_json::Value| -> BTreeSet<String> {
        values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("{prefix}:{}", v.as_str().unwrap()))
            .collect()
    };
    let pattern = |name: &str| {
        rel["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("pattern {name} in the ground truth"))
            .clone()
    };
    let neighbours = |id: &str, depth: &str| {
        nodes_by_kind(&ok(
            &d.db,
            &["relations", "neighbours", "--node", id, "--depth", depth],
        ))
    };

    // (1) The person across sources: the only subject in two sources; its registrations and their addresses.
    let p1 = pattern("person_across_sources");
    let person = node(&p1["subjects"][0]["value"]);
    let repeats = ok(
        &d.db,
        &[
            "relations",
            "repeats",
            "--min-sources",
            "2",
            "--min-registrations",
            "1000000",
        ],
    );
    let cross: Vec<&str> = repeats
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(cross, vec![person.as_str()], "{repeats}");
    let around = neighbours(&person, "2");
    assert_eq!(around["incident"], ids("incident", &p1["registrations"]));
    assert_eq!(around["address"], ids("address", &p1["addresses"]));
    assert!(around["address"].len() >= 3, "{around:?}");

    // (2) The vehicle in the burglary series: its registrations, and through them the three persons.
    let p2 = pattern("vehicle_burglary_series");
    let subjects = p2["subjects"].as_array().unwrap();
    assert_eq!(subjects[0]["kind"], "vehicle");
    let vehicle = node(&subjects[0]["value"]);
    let around = neighbours(&vehicle, "1");
    assert_eq!(around["incident"], ids("incident", &p2["registrations"]));
    let around = neighbours(&vehicle, "2");
    let persons: BTreeSet<String> = subjects[1..].iter().map(|s| node(&s["value"])).collect();
    assert_eq!(persons.len(), 3);
    assert_eq!(around["person"], persons);
    let burglaries = ok(
        &d.db,
        &[
            "relations",
            "neighbours",
            "--node",
            &vehicle,
            "--depth",
            "1",
            "--category",
            "1.1.1",
        ],
    );
    assert_eq!(
        nodes_by_kind(&burglaries)["incident"],
        ids("incident", &p2["registrations"])
    );

    // (3) The address hub: every planted person at it, and more persons than at any other address.
    let p3 = pattern("address_hub");
    let hub = format!("address:{}", p3["addresses"][0].as_str().unwrap());
    let planted: BTreeSet<String> = p3["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| node(&s["value"]))
        .collect();
    assert!(planted.len() >= 4, "{planted:?}");
    let around = neighbours(&hub, "2");
    assert!(around["person"].is_superset(&planted), "{around:?}");
    let links = ok(&d.db, &["relations", "export", "--format", "csv"]);
    let mut persons_at: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut r = csv::Reader::from_reader(links.as_bytes());
    for row in r.records() {
        let row = row.unwrap();
        let (from, from_kind, to, to_kind, link) = (&row[0], &row[1], &row[3], &row[4], &row[6]);
        if link == "co_occurs" && from_kind == "person" && to_kind == "address" {
            persons_at
                .entry(to.to_string())
                .or_default()
                .insert(from.to_string());
        } else if link == "co_occurs" && from_kind == "address" && to_kind == "person" {
            persons_at
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
    }
    // Only pseudonyms are stored: no planted raw value is anywhere in the database file.
    let stored = std::fs::read(&d.db).unwrap();
    for p in rel["patterns"].as_array().unwrap() {
        for s in p["subjects"].as_array().unwrap() {
            let raw = s["value"].as_str().unwrap();
            for form in [raw.to_string(), raw.replace('-', "")] {
                assert!(
                    !stored.windows(form.len()).any(|w| w == form.as_bytes()),
                    "{form} stored raw"
                );
            }
        }
    }
    let at_hub = persons_at[&hub].len();
    assert_eq!(persons_at[&hub], around["person"]);
    for (address, persons) in &persons_at {
        assert!(
            address == &hub || persons.len() < at_hub,
            "{address} has {} persons, the hub {at_hub}",
            persons.len()
        );
    }
}

#[test]
fn the_small_demo_citys_planted_relations_are_found() {
    planted_patterns_are_found(demo());
    // Both demo users may open the relations view.
    let users = ok(&demo().db, &["user", "list"]);
    for name in ["analist", "beheerder"] {
        assert!(
            users
                .lines()
                .any(|l| l.starts_with(&format!("{name}\t")) && l.ends_with("\tja")),
            "{users}"
        );
    }
}

#[test]
fn the_default_demo_citys_planted_relations_are_found() {
    planted_patterns_are_found(default_demo());
}
