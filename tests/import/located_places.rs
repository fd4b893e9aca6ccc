//! Incidents whose location is not one address, and addresses that disagree with their own coordinates,
//! through the real `brandpunt import incidents` command on the demo city's BAG and CBS fixtures and a small
//! real CSV (`tests/fixtures/deliveries/locations_demo.csv`). The expected points are computed here from the
//! stored BAG addresses by brute force, independently of the geocoder.

use brandpunt::import::incidents::buurt_index;
use brandpunt::store::{IncidentFilter, SqliteStore, Store, StoredIncident};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("BRANDPUNT_PSEUDONYM_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A database with the demo city's buurten and BAG.
fn demo_bag(dir: &Path) -> PathBuf {
    let db = dir.join("b.db");
    let cbs = fixtures().join("cbs/wijkenbuurten_2024_v1.gpkg");
    ok(&db, &["import", "cbs", cbs.to_str().unwrap()]);
    let bag = fixtures().join("bag/bag-light.gpkg");
    ok(&db, &["import", "bag", bag.to_str().unwrap()]);
    db
}

/// An address of the demo BAG: (bag_id, huisnummer, huisletter, point).
type DemoAddress = (String, u32, Option<String>, (f64, f64));

/// Every Demostad address of `street`.
fn addresses(store: &SqliteStore, street: &str) -> Vec<DemoAddress> {
    let mut out = Vec::new();
    store
        .for_each_address(&mut |a| {
            if a.street == street && a.woonplaats == "Demostad" {
                out.push((
                    a.bag_id.clone(),
                    a.huisnummer,
                    a.huisletter.clone(),
                    (a.x_m, a.y_m),
                ));
            }
            Ok(())
        })
        .unwrap();
    assert!(!out.is_empty(), "{street} is in the demo BAG");
    out
}

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

fn stored(db: &Path) -> HashMap<String, StoredIncident> {
    SqliteStore::open(db)
        .unwrap()
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|i| (i.registration.clone(), i))
        .collect()
}

fn point(i: &StoredIncident) -> (f64, f64) {
    (i.x_m.unwrap(), i.y_m.unwrap())
}

fn assert_near(a: (f64, f64), b: (f64, f64), what: &str) {
    assert!(dist(a, b) < 1e-6, "{what}: {a:?} != {b:?}");
}

/// The report line of a registration: (reason, outcome).
fn report_line(report: &str, reg: &str) -> Option<(String, String)> {
    report.lines().find_map(|l| {
        let f: Vec<&str> = l.split(';').collect();
        (f.get(1) == Some(&reg)).then(|| (f[3].to_string(), f[4].to_string()))
    })
}

#[test]
fn intersections_streets_near_and_conflicts_are_placed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_bag(dir.path());
    let csv = dir.path().join("levering.csv");
    std::fs::copy(fixtures().join("deliveries/locations_demo.csv"), &csv).unwrap();
    let out = ok(
        &db,
        &[
            "import",
            "incidents",
            csv.to_str().unwrap(),
            "--source",
            "politie",
        ],
    );
    assert!(
        out.contains("1 op een kruising, 1 op een straat, 1 nabij een adres"),
        "{out}"
    );
    assert!(
        out.contains("1 op coördinaten") && out.contains("1 conflict"),
        "{out}"
    );
    let report = std::fs::read_to_string(dir.path().join("levering.rapport.csv")).unwrap();

    let store = SqliteStore::open(&db).unwrap();
    let burgwal = addresses(&store, "Burgwal");
    let plein = addresses(&store, "Plein 1944");
    let areas = buurt_index(&store).unwrap();
    let by_reg = stored(&db);
    for i in by_reg.values() {
        if let (Some(x), Some(y)) = (i.x_m, i.y_m) {
            assert_eq!(
                i.buurtcode,
                areas.locate(x, y).map(|a| a.buurtcode.clone()),
                "{}: the buurt follows the point",
                i.registration
            );
        }
    }

    // PL-1: the midpoint of the closest pair of Burgwal and Plein 1944 addresses; no BAG object.
    let (_, a, b) = burgwal
        .iter()
        .flat_map(|a| plein.iter().map(move |b| (dist(a.3, b.3), a.3, b.3)))
        .min_by(|p, q| p.0.total_cmp(&q.0))
        .unwrap();
    let pl1 = &by_reg["PL-1"];
    assert_eq!(
        (pl1.located_by.as_str(), pl1.bag_id.as_deref()),
        ("address", None)
    );
    assert_near(point(pl1), ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0), "PL-1");
    let (reason, outcome) = report_line(&report, "PL-1").unwrap();
    assert_eq!(outcome, "intersection");
    assert!(
        reason.contains("kruising") && reason.contains("onzekerheid"),
        "{reason}"
    );

    // PL-2: near Burgwal 3 (the object without letter); no BAG object.
    let nr3 = burgwal.iter().find(|a| a.1 == 3 && a.2.is_none()).unwrap();
    let pl2 = &by_reg["PL-2"];
    assert_eq!(
        (pl2.located_by.as_str(), pl2.bag_id.as_deref()),
        ("address", None)
    );
    assert_near(point(pl2), nr3.3, "PL-2");
    assert_eq!(report_line(&report, "PL-2").unwrap().1, "near");

    // PL-3: the Burgwal address nearest the centroid of all Burgwal addresses.
    let n = burgwal.len() as f64;
    let c = burgwal
        .iter()
        .fold((0.0, 0.0), |s, a| (s.0 + a.3 .0 / n, s.1 + a.3 .1 / n));
    let mid = burgwal
        .iter()
        .min_by(|p, q| dist(p.3, c).total_cmp(&dist(q.3, c)))
        .unwrap();
    let pl3 = &by_reg["PL-3"];
    assert_eq!(
        (pl3.located_by.as_str(), pl3.bag_id.as_deref()),
        ("address", None)
    );
    assert_near(point(pl3), mid.3, "PL-3");
    let (reason, outcome) = report_line(&report, "PL-3").unwrap();
    assert_eq!(outcome, "street");
    let extent = burgwal.iter().map(|a| dist(a.3, mid.3)).fold(0.0, f64::max);
    assert!(
        reason.contains(&format!("onzekerheid {extent:.0} m")),
        "{reason}"
    );

    // PL-4: an address with a remark is that address, with its BAG object, and not reported.
    let pl4 = &by_reg["PL-4"];
    assert_eq!(pl4.bag_id.as_deref(), Some(nr3.0.as_str()));
    assert!(report_line(&report, "PL-4").is_none());

    // PL-5: unknown address, placed at its own coordinates and reported.
    let pl5 = &by_reg["PL-5"];
    assert_eq!(pl5.located_by, "coordinates");
    assert_near(point(pl5), (233_200.0, 474_300.0), "PL-5");
    let (reason, outcome) = report_line(&report, "PL-5").unwrap();
    assert_eq!(outcome, "op coördinaten");
    assert!(
        reason.starts_with("adres niet gevonden in de BAG: 'Nergensstraat 1, Demostad'"),
        "{reason}"
    );

    // PL-6: Burgwal 2 far from its coordinates: a conflict with the distance; the address wins.
    let nr2 = burgwal.iter().find(|a| a.1 == 2 && a.2.is_none()).unwrap();
    let d = dist(nr2.3, (233_900.0, 474_900.0));
    assert!(d > 250.0);
    let pl6 = &by_reg["PL-6"];
    assert_eq!(pl6.bag_id.as_deref(), Some(nr2.0.as_str()));
    assert_near(point(pl6), nr2.3, "PL-6");
    let (reason, outcome) = report_line(&report, "PL-6").unwrap();
    assert_eq!(outcome, "conflict");
    assert!(
        reason.contains(&format!("ligt {d:.0} m van de eigen coördinaten"))
            && reason.ends_with("adres gebruikt"),
        "{reason}"
    );

    // PL-7: Burgwal 1 within 250 m of its coordinates: the address, no report line.
    let nr1 = burgwal.iter().find(|a| a.1 == 1 && a.2.is_none()).unwrap();
    assert!(dist(nr1.3, (233_115.0, 474_220.0)) <= 250.0);
    assert_eq!(by_reg["PL-7"].bag_id.as_deref(), Some(nr1.0.as_str()));
    assert!(report_line(&report, "PL-7").is_none());

    // PL-8: an intersection with its own coordinates: the coordinates are more precise.
    let pl8 = &by_reg["PL-8"];
    assert_eq!(pl8.located_by, "coordinates");
    assert_near(point(pl8), (233_200.5, 474_250.0), "PL-8");

    // Every row was accepted.
    assert!(report.lines().all(|l| !l.ends_with(";rejected")));

    // The store keeps the same report as the file: every line with its outcome.
    let delivery = store.deliveries("default").unwrap()[0].id;
    let stored: Vec<(String, String)> = store
        .report_rows(delivery)
        .unwrap()
        .into_iter()
        .map(|r| (r.registration.unwrap_or_default(), r.outcome))
        .collect();
    let in_file: Vec<(String, String)> = report
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(';').collect();
            (f[1].to_string(), f[f.len() - 1].to_string())
        })
        .collect();
    assert_eq!(stored, in_file);
    for outcome in [
        "intersection",
        "street",
        "near",
        "op coördinaten",
        "conflict",
    ] {
        assert!(
            stored.iter().any(|(_, o)| o == outcome),
            "{outcome} not stored: {stored:?}"
        );
    }
}

#[test]
fn prefer_coordinates_in_the_mapping_switches_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_bag(dir.path());
    let csv = dir.path().join("levering.csv");
    std::fs::copy(fixtures().join("deliveries/locations_demo.csv"), &csv).unwrap();
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, "[options]\nprefer = \"coordinates\"\n").unwrap();
    ok(
        &db,
        &[
            "import",
            "incidents",
            csv.to_str().unwrap(),
            "--source",
            "politie",
            "--mapping",
            mapping.to_str().unwrap(),
        ],
    );
    let report = std::fs::read_to_string(dir.path().join("levering.rapport.csv")).unwrap();
    let by_reg = stored(&db);
    let pl6 = &by_reg["PL-6"];
    assert_eq!(
        (pl6.located_by.as_str(), pl6.bag_id.as_deref()),
        ("coordinates", None)
    );
    assert_near(point(pl6), (233_900.0, 474_900.0), "PL-6");
    let (reason, outcome) = report_line(&report, "PL-6").unwrap();
    assert_eq!(outcome, "conflict");
    assert!(reason.ends_with("coördinaten gebruikt"), "{reason}");
    // Rows without a conflict are placed as without the option.
    assert!(by_reg["PL-7"].bag_id.is_some());
    assert_eq!(by_reg["PL-1"].located_by, "address");
}
