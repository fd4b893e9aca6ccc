//! `brandpunt relations` end to end: the fixture deliveries of tests/fixtures/relations/ imported through the
//! binary with their mapping and key, then every query and export; the GraphML and GEXF files are read back by
//! networkx (`read_graphml`, `read_gexf`) with the same node and edge counts; a bad node id is refused naming the
//! option.

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
