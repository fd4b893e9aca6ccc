//! The relations network over HTTP (`/api/relations/...`) against the real server: the `relations` grant (403
//! without it, never for viewers), category grants applied before the graph is built, the 400s naming their
//! parameter, the audit trail (action `relations`) and the exports. The data: a copy of the small demo city with
//! the relations fixture deliveries (tests/fixtures/relations/, pseudonymised BSNs and licence plates) imported
//! through the binary. Oracles: the CLI's `brandpunt relations` on the same database (the core with every
//! category, or with the category filter that equals the grant), the store's audit log and networkx.

use crate::common::demo::{bin, cli_ok, demo_copy};
use crate::common::server::{self as srv, get_as};
use brandpunt::pseudonym::PseudonymKey;
use brandpunt::store::{PrivacyStore, SqliteStore};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/relations")
        .join(name)
}

/// A user token made through the CLI (`user add ... [--relations]`, `token create`).
fn user(db: &Path, name: &str, role: &str, categories: &str, relations: bool) -> String {
    let mut args = vec![
        "user",
        "add",
        name,
        "--tenant",
        "default",
        "--role",
        role,
        "--categories",
        categories,
    ];
    if relations {
        args.push("--relations");
    }
    cli_ok(db, &args);
    cli_ok(db, &["token", "create", "--user", name])
        .trim()
        .to_string()
}

/// Node ids and edge count of a Cytoscape.js answer.
fn elements(v: &Value) -> (BTreeSet<String>, usize) {
    let nodes = v["elements"]["nodes"]
        .as_array()
        .expect("elements.nodes")
        .iter()
        .map(|n| n["data"]["id"].as_str().unwrap().to_string())
        .collect();
    (nodes, v["elements"]["edges"].as_array().unwrap().len())
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
fn relations_need_the_grant_follow_category_grants_and_are_audited() {
    let (dir, db) = demo_copy();
    for source in ["politie", "handhaving"] {
        let report = dir.path().join(format!("{source}.report.csv"));
        cli_ok(
            &db,
            &[
                "import",
                "incidents",
                fixture(&format!("{source}.csv")).to_str().unwrap(),
                "--source",
                source,
                "--mapping",
                fixture("mapping.toml").to_str().unwrap(),
                "--pseudonym-key-file",
                fixture("key.hex").to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
            ],
        );
    }
    let ann = user(&db, "ann", "analyst", "*", true);
    let ina = user(&db, "ina", "analyst", "inbraak", true);
    let noa = user(&db, "noa", "admin", "*", false);
    let vic = user(&db, "vic", "viewer", "", false);
    // A viewer never gets the grant: refused naming the role, at `user add` and at `user grant`.
    for args in [
        &[
            "user",
            "add",
            "vera",
            "--tenant",
            "default",
            "--role",
            "viewer",
            "--relations",
        ][..],
        &["user", "grant", "vic", "--relations"][..],
    ] {
        let out = bin().arg("--db").arg(&db).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("viewer") && err.contains("relations"), "{err}");
    }
    assert!(!cli_ok(&db, &["user", "list"]).contains("vera"));
    let list = cli_ok(&db, &["user", "list"]);
    for (name, granted) in [("ann", "ja"), ("ina", "ja"), ("noa", "nee"), ("vic", "nee")] {
        assert!(
            list.lines().any(
                |l| l.starts_with(&format!("{name}\t")) && l.ends_with(&format!("\t{granted}"))
            ),
            "{list}"
        );
    }
    let server = srv::start(&db, &[]);
    let get = |token: Option<&str>, path: &str| get_as(&server.base, token, path);

    // The fixture's subject in 5 registrations (person 111111110: PL-001, PL-002, PL-003, PL-009, HH-01; its
    // pseudonym under the fixture key), found through the API and checked against the CLI. (The demo city has its
    // own planted person in 5 registrations.)
    let key = PseudonymKey::parse(&std::fs::read_to_string(fixture("key.hex")).unwrap()).unwrap();
    let person = format!("subject:{}", key.pseudonymise("111111110").unwrap());
    let r = get(
        Some(&ann),
        "/api/relations/repeats?min_sources=9&min_registrations=5",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let repeats = r.json();
    let subjects = repeats["subjects"].as_array().unwrap();
    let found: Vec<&Value> = subjects.iter().filter(|s| s["id"] == person).collect();
    assert_eq!(found.len(), 1, "{repeats}");
    assert_eq!(found[0]["registrations"], 5, "{repeats}");
    let cli_repeats = cli_ok(
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
    assert!(cli_repeats.contains(&person), "{cli_repeats}");

    // Without the grant: 403 for an admin without it, a viewer and a request without credentials: 401.
    let endpoints = [
        format!("/api/relations/neighbours?node={person}"),
        format!("/api/relations/paths?start={person}&target=incident:HH-01"),
        format!("/api/relations/network?node={person}&node=incident:HH-01"),
        "/api/relations/components".to_string(),
        "/api/relations/repeats".to_string(),
        format!("/api/relations/centrality?node={person}"),
        "/api/relations/export.graphml".to_string(),
        "/api/relations/export.json?node=persoon:1".to_string(),
    ];
    for path in &endpoints {
        assert_eq!(
            get(Some(&noa), path).status,
            403,
            "admin without grant {path}"
        );
        assert_eq!(get(Some(&vic), path).status, 403, "viewer {path}");
        assert_eq!(get(None, path).status, 401, "anonymous {path}");
    }
    // `user grant` gives it (the server re-reads users), `user revoke` takes it again.
    cli_ok(&db, &["user", "grant", "noa", "--relations"]);
    let neighbours = format!("/api/relations/neighbours?node={person}&depth=1");
    let mut status = 0;
    for _ in 0..100 {
        status = get(Some(&noa), &neighbours).status;
        if status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status, 200, "granted");
    cli_ok(&db, &["user", "revoke", "noa", "--relations"]);
    for _ in 0..100 {
        status = get(Some(&noa), &neighbours).status;
        if status == 403 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status, 403, "revoked");

    // All categories: the same neighbourhood as the CLI's.
    let cli = |args: &[&str]| -> Value {
        let mut all = vec!["relations"];
        all.extend_from_slice(args);
        serde_json::from_str(&cli_ok(&db, &all)).unwrap()
    };
    let r = get(Some(&ann), &neighbours);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control"),
        Some("private, no-store"),
        "no shared caching"
    );
    let api = elements(&r.json());
    let expected = elements(&cli(&["neighbours", "--node", &person, "--depth", "1"]));
    assert_eq!(api, expected);
    assert!(api.0.contains("incident:HH-01"));
    let two = get(
        Some(&ann),
        &format!("/api/relations/neighbours?node={person}&depth=2"),
    );
    assert_eq!(
        elements(&two.json()),
        elements(&cli(&["neighbours", "--node", &person, "--depth", "2"]))
    );

    // Analyst granted only `inbraak`: the graph holds only inbraak registrations (the CLI with the same category
    // filter), no handhaving registration and nothing linked only through one.
    let r = get(Some(&ina), &neighbours);
    assert_eq!(r.status, 200, "{}", r.text());
    let narrowed = elements(&r.json());
    assert_eq!(
        narrowed,
        elements(&cli(&[
            "neighbours",
            "--node",
            &person,
            "--depth",
            "1",
            "--category",
            "inbraak"
        ]))
    );
    assert!(narrowed.0.len() < api.0.len());
    assert!(!narrowed.0.iter().any(|id| id.starts_with("incident:HH-")));
    let whole = get(Some(&ina), "/api/relations/export.json");
    assert_eq!(whole.status, 200, "{}", whole.text());
    let whole_ids = elements(&whole.json()).0;
    for hidden in ["incident:HH-01", "incident:HH-02", "incident:PL-004"] {
        assert!(!whole_ids.contains(hidden), "{hidden} visible to ina");
    }
    assert_eq!(
        get(
            Some(&ina),
            &format!("/api/relations/paths?start={person}&target=incident:HH-01")
        )
        .status,
        404
    );
    // Asking only for an ungranted category is 403.
    assert_eq!(
        get(Some(&ina), &format!("{neighbours}&category=2.5.1")).status,
        403
    );
    let paths = get(
        Some(&ann),
        "/api/relations/paths?start=incident:PL-001&target=incident:HH-01",
    )
    .json();
    assert_eq!(paths["length"], 2);
    assert_eq!(paths["paths"][0][1], person.as_str());
    let net = get(
        Some(&ann),
        "/api/relations/network?nodes=incident:PL-004,incident:HH-02",
    );
    assert_eq!(net.status, 200);
    assert!(elements(&net.json()).0.contains("incident:HH-02"));
    let central = get(
        Some(&ann),
        &format!("/api/relations/centrality?node={person}&depth=2"),
    )
    .json();
    let ids: Vec<&str> = central["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ordered by id, not by score");
    assert_eq!(
        ids.len(),
        elements(&two.json()).0.len(),
        "one row per node of the depth-2 neighbourhood"
    );
    let comps = get(Some(&ann), "/api/relations/components?min_size=2").json();
    assert!(comps["components"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["size"].as_u64().unwrap() >= 2));

    // Bad input: 400 naming the parameter.
    for (path, parameter) in [
        (
            "/api/relations/neighbours?node=persoon:1".to_string(),
            "node",
        ),
        ("/api/relations/neighbours".to_string(), "node"),
        (
            format!("/api/relations/neighbours?node={person}&depth=4"),
            "depth",
        ),
        (
            format!("/api/relations/neighbours?node={person}&depth=x"),
            "depth",
        ),
        (
            format!("/api/relations/neighbours?node={person}&depth=2&max_nodes=2"),
            "max_nodes",
        ),
        (
            "/api/relations/paths?start=incident:PL-001&target=adres:1".to_string(),
            "target",
        ),
        (
            "/api/relations/network?node=subject:abc".to_string(),
            "node",
        ),
        (
            format!("/api/relations/neighbours?node={person}&category=geen"),
            "category",
        ),
        (
            format!("/api/relations/neighbours?node={person}&from=gisteren"),
            "from",
        ),
        (
            format!("/api/relations/neighbours?node={person}&area=GM1999"),
            "area",
        ),
        (
            "/api/relations/export.gexf?max_nodes=1".to_string(),
            "max_nodes",
        ),
    ] {
        let r = get(Some(&ann), &path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert_eq!(r.json()["parameter"], parameter, "{path}");
    }
    assert_eq!(
        get(
            Some(&ann),
            "/api/relations/neighbours?node=incident:GEEN-NR"
        )
        .status,
        404
    );

    // Exports: GraphML and GEXF read by networkx with the counts of the JSON of the same request.
    let query = format!("node={person}&depth=2");
    let json = get(Some(&ann), &format!("/api/relations/export.json?{query}"));
    assert_eq!(json.status, 200);
    let (nodes, edges) = elements(&json.json());
    for (ext, reader) in [("graphml", "read_graphml"), ("gexf", "read_gexf")] {
        let r = get(Some(&ann), &format!("/api/relations/export.{ext}?{query}"));
        assert_eq!(r.status, 200, "{ext}");
        let file = dir.path().join(format!("net.{ext}"));
        std::fs::write(&file, &r.body).unwrap();
        assert_eq!(
            networkx_counts(reader, &file),
            (nodes.len(), edges),
            "{ext}"
        );
        for raw in ["111111110", "AB-123-C", "AB123C"] {
            assert!(!r.text().contains(raw), "{ext} holds {raw}");
        }
    }
    let csv = get(Some(&ann), &format!("/api/relations/export.csv?{query}"));
    assert_eq!(csv.text().lines().count(), edges + 1);

    // The graph cache is visible in /metrics.
    let metrics = get(None, "/metrics").text();
    assert!(metrics.contains("relations_graph"), "{metrics}");

    // Every answered query and export is in the audit trail with action `relations`; refusals are not.
    let store = SqliteStore::open(&db).unwrap();
    let records: Vec<_> = store
        .audit_records(None, None)
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "relations")
        .collect();
    let by = |actor: &str| records.iter().filter(|r| r.actor == actor).count();
    // ann: repeats, neighbours x2, paths, network, centrality, components, export.json, graphml, gexf, csv.
    assert_eq!(by("ann"), 11, "{records:#?}");
    // ina: neighbours, export.json (the 404 and 403 are not answers).
    assert_eq!(by("ina"), 2, "{records:#?}");
    // noa: the queries answered while granted.
    assert!(by("noa") >= 1);
    assert_eq!(by("vic"), 0);
    assert!(records
        .iter()
        .any(|r| r.endpoint == "GET /api/relations/export.graphml"
            && r.filter.contains(&format!("node={person}"))));
    let granted = records
        .iter()
        .find(|r| r.actor == "ina")
        .expect("ina's record");
    assert!(granted.filter.contains("categories="), "{}", granted.filter);
    assert!(
        !granted.filter.contains("categories=*"),
        "{}",
        granted.filter
    );
}
