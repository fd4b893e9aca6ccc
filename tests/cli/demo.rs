//! End to end through the `brandpunt` binary on the small demo city: generate it in the real formats, import it
//! with the ordinary importers (once per test binary: [`crate::common::demo::demo`]), and check the result
//! against the generator's ground truth (every true incident with its buurt and BAG object), plus idempotent
//! re-import and refusal of a wrong file.

use crate::common::demo::{bin, demo};
use brandpunt::store::{IncidentFilter, SqliteStore, Store};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::Output;

fn run(db: &Path, args: &[&str]) -> Output {
    let out = bin()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run brandpunt");
    out
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "brandpunt {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn truth(files: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(files.join("truth_incidents.csv"))
        .unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn ground_truth(files: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(files.join("ground_truth.json")).unwrap())
        .unwrap()
}

fn registrations(v: &serde_json::Value, key: &str) -> HashSet<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn stats_per_buurt_equal_the_ground_truth() {
    let d = demo();
    let gt = ground_truth(&d.files);
    let unlocatable: HashSet<String> = registrations(&gt, "ambiguous_registrations")
        .union(&registrations(&gt, "unknown_address_registrations"))
        .cloned()
        .collect();
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    for t in truth(&d.files).iter().filter(|t| t["bron"] == "politie") {
        if unlocatable.contains(&t["registratienummer"]) || t["buurtcode"].is_empty() {
            continue;
        }
        let code = t["categorie"]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        *expected.entry((t["buurtcode"].clone(), code)).or_default() += 1;
    }
    assert!(
        expected.values().sum::<i64>() > 100,
        "the demo should hold enough located incidents"
    );
    let json = ok(
        &d.db,
        &[
            "stats", "--by", "buurt", "--source", "politie", "--format", "json",
        ],
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let got: BTreeMap<(String, String), i64> = rows
        .iter()
        .map(|r| {
            (
                (
                    r["buurtcode"].as_str().unwrap().to_string(),
                    r["category"].as_str().unwrap().to_string(),
                ),
                r["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);

    // The same incidents summed per gemeente, and a category filter by group name.
    let csv_out = ok(
        &d.db,
        &[
            "stats",
            "--by",
            "gemeente",
            "--source",
            "politie",
            "--category",
            "inbraak",
        ],
    );
    let mut lines = csv_out.lines();
    assert_eq!(lines.next(), Some("gemeentecode,category,count"));
    let burglary: i64 = expected
        .iter()
        .filter(|((_, c), _)| c == "1.1.1" || c == "1.1.2")
        .map(|(_, n)| n)
        .sum();
    let got_burglary: i64 = lines
        .map(|l| l.rsplit(',').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(got_burglary, burglary);
}

#[test]
fn geocoded_incidents_sit_on_their_true_bag_object_and_nothing_is_guessed() {
    let d = demo();
    let gt = ground_truth(&d.files);
    let store = SqliteStore::open(&d.db).unwrap();
    let stored = store
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            sources: vec!["politie".into()],
            ..Default::default()
        })
        .unwrap();
    let by_reg: HashMap<&str, _> = stored
        .iter()
        .map(|i| (i.registration.as_str(), i))
        .collect();
    let mut checked = 0;
    for t in truth(&d.files)
        .iter()
        .filter(|t| t["bron"] == "politie" && !t["adres_identificatie"].is_empty())
    {
        let Some(i) = by_reg.get(t["registratienummer"].as_str()) else {
            panic!("registration {} was not stored", t["registratienummer"]);
        };
        if i.located_by == "address" {
            if let Some(bag) = &i.bag_id {
                assert_eq!(
                    bag, &t["adres_identificatie"],
                    "wrong BAG object for {}",
                    t["registratienummer"]
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} address-geocoded incidents checked"
    );
    for reg in registrations(&gt, "ambiguous_registrations") {
        let i = by_reg[reg.as_str()];
        assert_eq!(
            (i.located_by.as_str(), i.bag_id.as_deref()),
            ("none", None),
            "{reg} must not be guessed"
        );
    }
}

#[test]
fn reports_list_rejected_ambiguous_and_unknown_rows() {
    let d = demo();
    let gt = ground_truth(&d.files);
    let mut report = String::new();
    for entry in std::fs::read_dir(d.files.join("rapporten")).unwrap() {
        report.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    for reg in registrations(&gt, "ambiguous_registrations") {
        assert!(
            report
                .lines()
                .any(|l| l.contains(&reg) && l.ends_with(";ambiguous")),
            "{reg} not reported as ambiguous"
        );
    }
    for reg in registrations(&gt, "unknown_address_registrations") {
        assert!(
            report
                .lines()
                .any(|l| l.contains(&reg) && l.ends_with(";not_located")),
            "{reg} not reported"
        );
    }
    let bad = gt["deliveries"]["bad_rows"].as_array().unwrap();
    let rejected = report.lines().filter(|l| l.ends_with(";rejected")).count();
    assert!(
        rejected >= bad.len(),
        "{rejected} rejected rows reported, {} planted",
        bad.len()
    );
    for b in bad {
        let reg = b["registratienummer"].as_str().unwrap();
        if !reg.is_empty() {
            assert!(
                report
                    .lines()
                    .any(|l| l.contains(reg) && l.ends_with(";rejected")),
                "{reg} not rejected"
            );
        }
    }
}

#[test]
fn redeliveries_keep_versions() {
    let d = demo();
    let gt = ground_truth(&d.files);
    let store = SqliteStore::open(&d.db).unwrap();
    for r in gt["deliveries"]["redeliveries"].as_array().unwrap() {
        let reg = r["registratienummer"].as_str().unwrap();
        let versions = store.incident_versions("default", "politie", reg).unwrap();
        match r["kind"].as_str().unwrap() {
            "identical" => assert_eq!(versions, 1, "{reg}"),
            "corrected" => assert_eq!(versions, 2, "{reg}"),
            other => panic!("unknown kind {other}"),
        }
    }
}

#[test]
fn open_data_and_indicators_are_stored_as_published() {
    let d = demo();
    let store = SqliteStore::open(&d.db).unwrap();
    let counts = store.police_counts(None).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.files.join("47022NED.json")).unwrap())
            .unwrap();
    let published = json["value"].as_array().unwrap();
    assert_eq!(counts.len(), published.len());
    let nulls = published
        .iter()
        .filter(|r| r["GeregistreerdeMisdrijven_1"].is_null())
        .count();
    assert_eq!(counts.iter().filter(|c| c.value.is_none()).count(), nulls);
    assert!(counts
        .iter()
        .all(|c| c.region == c.region.trim() && c.category == c.category.trim()));
    assert!(!store.indicators("default").unwrap().is_empty());
}

#[test]
fn reimporting_a_delivery_changes_nothing_and_a_wrong_file_is_refused() {
    // Own database: this test writes.
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    std::fs::copy(&d.db, &db).unwrap();
    let first = std::fs::read_dir(&d.files)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("politie_week")
                && p.extension().unwrap() == "csv"
        })
        .min()
        .unwrap();
    let before = ok(&db, &["stats", "--by", "buurt"]);
    let report = dir.path().join("r.csv");
    let out = ok(
        &db,
        &[
            "import",
            "incidents",
            first.to_str().unwrap(),
            "--source",
            "politie",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(out.contains("al eerder ingelezen"), "{out}");
    assert_eq!(ok(&db, &["stats", "--by", "buurt"]), before);

    let wrong = d.files.join("indicatoren_buurt.csv");
    let out = run(
        &db,
        &[
            "import",
            "incidents",
            wrong.to_str().unwrap(),
            "--source",
            "politie",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("indicatoren_buurt.csv") && err.contains("registratienummer"),
        "{err}"
    );
    assert_eq!(ok(&db, &["stats", "--by", "buurt"]), before);
}

#[test]
fn geocode_command_adds_columns_and_flags_ambiguity() {
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("adressen.csv");
    std::fs::write(
        &input,
        "id;straat;huisnummer;postcode;plaats\n1;Burg v Veenln;100-1;;Demostad\n2;Kerkstraat;1;;\n3;Nergensstraat;1;;Demostad\n",
    )
    .unwrap();
    let output = dir.path().join("uit.csv");
    ok(
        &d.db,
        &[
            "geocode",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&output).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("id;straat;huisnummer;postcode;plaats;bag_id;x;y;buurtcode;wijkcode;gemeentecode;match;score")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(';').collect()).collect();
    assert_eq!(
        rows[0][5].len(),
        16,
        "the tower unit resolves to one BAG object: {:?}",
        rows[0]
    );
    assert!(rows[0][8].starts_with("BU1999"), "{:?}", rows[0]);
    assert_eq!(rows[1][11], "ambiguous", "{:?}", rows[1]);
    assert_eq!(rows[1][5], "");
    assert_eq!(rows[2][11], "none");
}

/// `demo --national` with several tenants: every tenant exists with its block of gemeenten, got its own delivery
/// and every one of its incidents lies in its own gemeenten.
#[test]
fn national_demo_imports_one_delivery_per_tenant_block() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let dir = tmp.path().join("national");
    ok(
        &db,
        &[
            "demo",
            "--national",
            "--incidents",
            "300",
            "--years",
            "1",
            "--tenants",
            "3",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    let tenants = ok(&db, &["tenant", "list"]);
    let mut all = HashSet::new();
    for code in ["regio01", "regio02", "regio03"] {
        let line = tenants
            .lines()
            .find(|l| l.starts_with(code))
            .unwrap_or_else(|| panic!("{code} missing in {tenants}"));
        let gemeenten: HashSet<String> = line
            .split('\t')
            .nth(2)
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        assert_eq!(gemeenten.len(), 140, "{line}");
        assert!(all.is_disjoint(&gemeenten));
        all.extend(gemeenten.iter().cloned());
        let stats = ok(&db, &["stats", "--by", "gemeente", "--tenant", code]);
        let mut total = 0u64;
        for row in stats.lines().skip(1) {
            let cols: Vec<&str> = row.rsplitn(2, ',').collect();
            let gemeente = row.split(',').next().unwrap();
            assert!(gemeenten.contains(gemeente), "{code}: {row}");
            total += cols[0].parse::<u64>().unwrap();
        }
        assert_eq!(total, 100, "{code}: {stats}");
    }
    assert_eq!(all.len(), 420);
}

/// The examples of locations that are not one address, on the small demo city (whose BAG has
/// `Plein 1944` beside `Burgwal`, but no `Boterlaan`). Expected points are computed here from the stored BAG.
#[test]
fn geocode_command_places_intersections_streets_and_near_locations() {
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("plaatsen.csv");
    std::fs::write(
        &input,
        "id;adres\n1;hoek Burgwal/Plein 1944 Demostad\n2;Burgwal thv 3 Demostad\n3;Burgwal Demostad\n\
         4;Burgwal 3 bij de bushalte Demostad\n5;hoek Burgwal/Boterlaan Demostad\n",
    )
    .unwrap();
    let output = dir.path().join("uit.csv");
    let out = ok(
        &d.db,
        &[
            "geocode",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    );
    assert!(
        out.contains("intersection: 1") && out.contains("near: 1"),
        "{out}"
    );
    let text = std::fs::read_to_string(&output).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(';').map(str::to_string).collect())
        .collect();
    // id;adres;bag_id;x;y;buurtcode;wijkcode;gemeentecode;match;score
    let xy = |r: &[String]| -> (f64, f64) { (r[3].parse().unwrap(), r[4].parse().unwrap()) };
    let store = SqliteStore::open(&d.db).unwrap();
    let mut burgwal = Vec::new();
    let mut plein = Vec::new();
    store
        .for_each_address(&mut |a| {
            if a.woonplaats == "Demostad" && a.street == "Burgwal" {
                burgwal.push((
                    a.bag_id.clone(),
                    a.huisnummer,
                    a.huisletter.clone(),
                    (a.x_m, a.y_m),
                ));
            }
            if a.woonplaats == "Demostad" && a.street == "Plein 1944" {
                plein.push((a.x_m, a.y_m));
            }
            Ok(())
        })
        .unwrap();
    let dist = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).hypot(a.1 - b.1);
    let close = |a: (f64, f64), b: (f64, f64)| dist(a, b) < 0.001;

    let (_, a, b) = burgwal
        .iter()
        .flat_map(|a| plein.iter().map(move |&b| (dist(a.3, b), a.3, b)))
        .min_by(|p, q| p.0.total_cmp(&q.0))
        .unwrap();
    assert_eq!(rows[0][8], "intersection", "{:?}", rows[0]);
    assert_eq!(rows[0][2], "", "no BAG object for an intersection");
    assert!(
        close(xy(&rows[0]), ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0)),
        "{:?}",
        rows[0]
    );
    assert!(rows[0][5].starts_with("BU1999"), "{:?}", rows[0]);

    let nr3 = burgwal.iter().find(|a| a.1 == 3 && a.2.is_none()).unwrap();
    assert_eq!(rows[1][8], "near", "{:?}", rows[1]);
    assert_eq!(rows[1][2], "");
    assert!(close(xy(&rows[1]), nr3.3), "{:?}", rows[1]);

    let n = burgwal.len() as f64;
    let c = burgwal
        .iter()
        .fold((0.0, 0.0), |s, a| (s.0 + a.3 .0 / n, s.1 + a.3 .1 / n));
    let mid = burgwal
        .iter()
        .min_by(|p, q| dist(p.3, c).total_cmp(&dist(q.3, c)))
        .unwrap();
    assert_eq!(rows[2][8], "street", "{:?}", rows[2]);
    assert_eq!(rows[2][2], "");
    assert!(close(xy(&rows[2]), mid.3), "{:?}", rows[2]);

    assert_eq!(rows[3][8], "normalized", "{:?}", rows[3]);
    assert_eq!(rows[3][2], nr3.0);

    // Boterlaan is no street of the small demo city: nothing is guessed.
    assert_eq!(rows[4][8], "none", "{:?}", rows[4]);
    assert_eq!(rows[4][3], "");
}
