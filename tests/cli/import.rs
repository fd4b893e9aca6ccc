//! The reference-data importers through the `brandpunt` binary on the committed fixtures (real published
//! schemas): CBS GeoPackage and the pre-2021 shapefile, BAG, open data as CSV and JSON, and refusals.

use brandpunt::area_level::AreaLevel;
use brandpunt::store::{SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .arg("--db")
        .arg(db)
        .args(args)
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

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn cbs_geopackage_and_legacy_shapefile() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let gpkg = fixtures().join("cbs/wijkenbuurten_2024_v1.gpkg");
    let out = ok(&db, &["import", "cbs", path(&gpkg)]);
    assert!(out.starts_with("CBS 2024:"), "{out}");
    let shp = fixtures().join("cbs/buurt_2020_v1.shp");
    let out = ok(&db, &["import", "cbs", path(&shp)]);
    assert!(out.starts_with("CBS 2020:"), "{out}");

    let store = SqliteStore::open(&db).unwrap();
    let new = store.areas(AreaLevel::Buurt, Some(2024)).unwrap();
    let old = store.areas(AreaLevel::Buurt, Some(2020)).unwrap();
    assert_eq!(
        new.iter().map(|a| &a.code).collect::<Vec<_>>(),
        old.iter().map(|a| &a.code).collect::<Vec<_>>(),
        "the shapefile holds the same buurten under upper-case column names"
    );
    assert!(
        new.iter().any(|a| a.code == "BU1999AE01"),
        "alphanumeric code kept"
    );
    assert_eq!(new.iter().filter(|a| a.is_water()).count(), 1);
    // Sentinels are missing values, never negative counts.
    assert!(new
        .iter()
        .chain(&old)
        .all(|a| a.inhabitants.is_none_or(|n| n >= 0)));
    assert!(new.iter().all(|a| a.stats.values().all(|v| *v > -99990.0)));
    assert!(
        old.iter().any(|a| a.inhabitants.is_none()),
        "the legacy fixture carries -99999999 sentinels"
    );
    // The newest year stays the default.
    assert_eq!(
        store.areas(AreaLevel::Buurt, None).unwrap().len(),
        new.len()
    );

    // Importing the same year again replaces it (still one set per year).
    ok(&db, &["import", "cbs", path(&gpkg)]);
    assert_eq!(
        SqliteStore::open(&db)
            .unwrap()
            .boundary_sets()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn bag_import_assigns_buurten_and_filters_gemeenten() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    ok(
        &db,
        &[
            "import",
            "cbs",
            path(&fixtures().join("cbs/wijkenbuurten_2024_v1.gpkg")),
        ],
    );
    let bag = fixtures().join("bag/bag-light.gpkg");
    let out = ok(&db, &["import", "bag", path(&bag), "--gemeente", "GM1998"]);
    let store = SqliteStore::open(&db).unwrap();
    let mut bronhouders = std::collections::BTreeSet::new();
    let mut without_buurt = 0;
    store
        .for_each_address(&mut |a| {
            bronhouders.insert(a.bronhouder.clone());
            if a.buurtcode.is_none() {
                without_buurt += 1;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(
        bronhouders.into_iter().collect::<Vec<_>>(),
        vec![Some("1998".to_string())],
        "{out}"
    );
    let n1998 = store.address_count().unwrap();
    ok(&db, &["import", "bag", path(&bag)]);
    let store = SqliteStore::open(&db).unwrap();
    assert!(store.address_count().unwrap() > n1998 * 2);
    let mut without = 0;
    store
        .for_each_address(&mut |a| {
            if a.buurtcode.is_none() {
                without += 1;
            }
            assert_eq!(a.bag_id.len(), 16);
            Ok(())
        })
        .unwrap();
    assert_eq!(without + without_buurt, 0, "every address lies in a buurt");
}

#[test]
fn open_data_csv_and_json_agree() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    ok(
        &a,
        &[
            "import",
            "counts",
            path(&fixtures().join("counts/47022NED.json")),
        ],
    );
    ok(
        &b,
        &[
            "import",
            "counts",
            path(&fixtures().join("counts/47022NED.csv")),
        ],
    );
    let ca = SqliteStore::open(&a).unwrap().police_counts(None).unwrap();
    let cb = SqliteStore::open(&b).unwrap().police_counts(None).unwrap();
    assert!(!ca.is_empty());
    assert_eq!(ca, cb);
    let again = ok(
        &a,
        &[
            "import",
            "counts",
            path(&fixtures().join("counts/47022NED.json")),
        ],
    );
    assert!(again.contains("al eerder ingelezen"), "{again}");
}

#[test]
fn wrong_files_are_refused_with_their_name_and_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let bag = fixtures().join("bag/bag-light.gpkg");
    let out = run(&db, &["import", "cbs", path(&bag)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bag-light.gpkg") && err.contains("buurtcode"),
        "{err}"
    );

    let cbs = fixtures().join("cbs/wijkenbuurten_2024_v1.gpkg");
    let out = run(&db, &["import", "bag", path(&cbs)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wijkenbuurten_2024_v1.gpkg") && err.contains("verblijfsobject"),
        "{err}"
    );

    let ind = fixtures().join("indicators/indicatoren_buurt.csv");
    let out = run(&db, &["import", "counts", path(&ind)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WijkenEnBuurten"));
    let out = run(&db, &["stats", "--by", "straat"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn address_attributes_are_versioned_reported_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    ok(
        &db,
        &[
            "import",
            "cbs",
            path(&fixtures().join("cbs/wijkenbuurten_2024_v1.gpkg")),
        ],
    );
    ok(
        &db,
        &[
            "import",
            "bag",
            path(&fixtures().join("bag/bag-light.gpkg")),
        ],
    );
    let mut ids = Vec::new();
    SqliteStore::open(&db)
        .unwrap()
        .for_each_address(&mut |a| {
            if a.bag_id.starts_with("199901") && ids.len() < 3 {
                ids.push(a.bag_id.clone());
            }
            Ok(())
        })
        .unwrap();
    let csv = dir.path().join("woz.csv");
    std::fs::write(
        &csv,
        format!(
            "verblijfsobject_id;straat;woz_waarde;peiljaar\n{};Kerkstraat;245.000;2023\n{};Kerkstraat;veel;2023\n\
             1999019999999999;Nergensstraat;100000;2023\n{};Kerkstraat;€ 310.000;2023\n",
            ids[0], ids[1], ids[2]
        ),
    )
    .unwrap();
    let report = dir.path().join("rapport.csv");
    let out = ok(
        &db,
        &[
            "import",
            "address-attributes",
            path(&csv),
            "--source",
            "woz",
            "--report",
            path(&report),
        ],
    );
    assert!(out.contains("versie 1"), "{out}");
    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "regel;verblijfsobject;kolom;reden;uitkomst");
    assert!(
        lines[1].starts_with(&format!("3;{};woz_waarde;geen bedrag", ids[1])),
        "{text}"
    );
    assert!(
        lines[2].starts_with("4;1999019999999999;;verblijfsobject niet in de BAG"),
        "{text}"
    );
    let store = SqliteStore::open(&db).unwrap();
    let woz = store.address_attributes("default", "woz_waarde").unwrap();
    assert_eq!(woz.get(&ids[0]), Some(&245_000.0));
    assert_eq!(woz.get(&ids[2]), Some(&310_000.0));
    assert_eq!(woz.len(), 3, "the id not in the BAG is kept");
    // The same file again changes nothing; a changed file is version 2.
    let again = ok(
        &db,
        &[
            "import",
            "address-attributes",
            path(&csv),
            "--source",
            "woz",
        ],
    );
    assert!(again.contains("al eerder ingelezen"), "{again}");
    std::fs::write(
        &csv,
        format!("verblijfsobject_id;woz_waarde\n{};250000\n", ids[0]),
    )
    .unwrap();
    let out = ok(
        &db,
        &[
            "import",
            "address-attributes",
            path(&csv),
            "--source",
            "woz",
        ],
    );
    assert!(out.contains("versie 2"), "{out}");
    let store = SqliteStore::open(&db).unwrap();
    let woz = store.address_attributes("default", "woz_waarde").unwrap();
    assert_eq!(woz.len(), 1);
    assert_eq!(woz.get(&ids[0]), Some(&250_000.0));
    assert_eq!(store.address_attribute_sets("default").unwrap().len(), 2);
    // A file without an id column is refused, naming the file and the columns found.
    std::fs::write(&csv, "postcode;woz_waarde\n7461AB;1\n").unwrap();
    let out = run(
        &db,
        &[
            "import",
            "address-attributes",
            path(&csv),
            "--source",
            "woz",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("woz.csv") && err.contains("postcode"), "{err}");
}
