//! Tests of the demo city generator: the written files are opened with GDAL / SQLite / csv and
//! checked against the published schemas (data-formats.md), closed-form geometry (the gemeente
//! rectangles), and internal consistency between files and the ground truth.

use brandpunt::demo::{generate, write_fixtures, DemoConfig, DemoFiles};
use gdal::vector::{Geometry, LayerAccess};
use gdal::Dataset;
use geo::{Area, BooleanOps, BoundingRect, Contains, Intersects, Validation};
use serde_json::Value;
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn small_city() -> &'static (PathBuf, DemoFiles) {
    static CITY: OnceLock<(PathBuf, DemoFiles)> = OnceLock::new();
    CITY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo_city_small");
        let _ = std::fs::remove_dir_all(&dir);
        let files = generate(&dir, &DemoConfig::small()).unwrap();
        (dir, files)
    })
}

fn truth() -> Value {
    let (_, f) = small_city();
    serde_json::from_slice(&std::fs::read(&f.ground_truth_json).unwrap()).unwrap()
}

/// (column name, declared SQLite type) of a GeoPackage table, in order.
fn columns(db: &rusqlite::Connection, table: &str) -> Vec<(String, String)> {
    let mut st = db
        .prepare(&format!("PRAGMA table_info(\"{table}\")"))
        .unwrap();
    st.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn gpkg_tables(db: &rusqlite::Connection) -> BTreeMap<String, (String, String, i64)> {
    let mut st = db
        .prepare(
            "SELECT table_name, column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn open_sqlite(p: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn is_code(s: &str, prefix: &str, digits: usize, alnum: usize) -> bool {
    s.len() == prefix.len() + digits + alnum
        && s.starts_with(prefix)
        && s[prefix.len()..prefix.len() + digits]
            .bytes()
            .all(|b| b.is_ascii_digit())
        && s[prefix.len() + digits..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

fn to_geo(g: &Geometry) -> geo::MultiPolygon<f64> {
    match geo::Geometry::try_from(g).unwrap() {
        geo::Geometry::MultiPolygon(mp) => mp,
        geo::Geometry::Polygon(p) => geo::MultiPolygon::new(vec![p]),
        other => panic!("unexpected geometry {other:?}"),
    }
}

struct AreaRow {
    code: String,
    parent: String,
    gm: String,
    water: String,
    geom: geo::MultiPolygon<f64>,
    inwoners: i64,
}

fn read_areas(path: &Path, layer: &str, code: &str, parent: &str) -> Vec<AreaRow> {
    let ds = Dataset::open(path).unwrap();
    let mut l = ds.layer_by_name(layer).unwrap();
    let mut out = Vec::new();
    for f in l.features() {
        let get = |n: &str| {
            f.field_as_string(f.field_index(n).unwrap())
                .unwrap()
                .unwrap_or_default()
        };
        out.push(AreaRow {
            code: get(code),
            parent: get(parent),
            gm: get("gemeentecode"),
            water: get("water"),
            geom: to_geo(f.geometry().unwrap()),
            inwoners: f
                .field_as_integer64(f.field_index("aantal_inwoners").unwrap())
                .unwrap()
                .unwrap(),
        });
    }
    out
}

#[test]
fn cbs_geopackage_has_the_published_schema() {
    let (_, f) = small_city();
    let db = open_sqlite(&f.cbs_gpkg);
    let t = gpkg_tables(&db);
    assert_eq!(
        t.keys().cloned().collect::<Vec<_>>(),
        ["buurten", "gemeenten", "wijken"]
    );
    for (col, ty, srs) in t.values() {
        assert_eq!(
            (col.as_str(), ty.as_str(), *srs),
            ("geom", "MULTIPOLYGON", 28992)
        );
    }
    let stats = [
        "water",
        "meest_voorkomende_postcode",
        "omgevingsadressendichtheid",
        "aantal_inwoners",
        "mannen",
        "vrouwen",
        "percentage_personen_0_tot_15_jaar",
        "percentage_personen_65_jaar_en_ouder",
        "aantal_huishoudens",
        "oppervlakte_totaal_in_ha",
        "oppervlakte_land_in_ha",
        "oppervlakte_water_in_ha",
        "jrstatcode",
        "jaar",
    ];
    for (layer, ids) in [
        (
            "buurten",
            vec![
                "buurtcode",
                "buurtnaam",
                "wijkcode",
                "gemeentecode",
                "gemeentenaam",
            ],
        ),
        (
            "wijken",
            vec!["wijkcode", "wijknaam", "gemeentecode", "gemeentenaam"],
        ),
        ("gemeenten", vec!["gemeentecode", "gemeentenaam"]),
    ] {
        let cols = columns(&db, layer);
        let names: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
        let mut expected = vec!["fid", "geom"];
        expected.extend(ids);
        expected.extend(stats);
        assert_eq!(names, expected, "{layer}");
        assert_eq!(cols[0].1, "INTEGER");
        assert!(cols
            .iter()
            .find(|c| c.0 == "jaar")
            .unwrap()
            .1
            .contains("INT"));
    }
    // Codes, counts, special cases.
    let buurten = read_areas(&f.cbs_gpkg, "buurten", "buurtcode", "wijkcode");
    let wijken = read_areas(&f.cbs_gpkg, "wijken", "wijkcode", "gemeentecode");
    let gm1999: Vec<_> = buurten.iter().filter(|b| b.gm == "GM1999").collect();
    assert!(
        (50..=70).contains(&gm1999.len()),
        "{} buurten",
        gm1999.len()
    );
    assert!((8..=12).contains(&wijken.iter().filter(|w| w.gm == "GM1999").count()));
    assert!(buurten.iter().filter(|b| b.gm == "GM1998").count() >= 3);
    for b in &buurten {
        assert!(is_code(&b.code, "BU", 4, 4), "{}", b.code);
        assert!(is_code(&b.parent, "WK", 4, 2), "{}", b.parent);
        assert!(is_code(&b.gm, "GM", 4, 0), "{}", b.gm);
        assert_eq!(
            &b.code[2..8],
            &b.parent[2..8],
            "buurt {} in wijk {}",
            b.code,
            b.parent
        );
    }
    assert!(buurten.iter().any(|b| b.code == "BU1999AE01"));
    assert!(wijken
        .iter()
        .any(|w| w.parent == "GM1999" && w.code == "WK1999AE"));
    assert_eq!(buurten.iter().filter(|b| b.water == "JA").count(), 1);
    // Sentinels for suppressed values exist, and real values too.
    let sentinels: i64 = db
        .query_row(
            "SELECT count(*) FROM buurten WHERE mannen = -99997 OR aantal_huishoudens = -99997",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(sentinels > 0);
    assert!(buurten.iter().any(|b| b.inwoners > 100));
}

#[test]
fn cbs_polygons_are_valid_and_tile_the_gemeenten() {
    let (_, f) = small_city();
    let buurten = read_areas(&f.cbs_gpkg, "buurten", "buurtcode", "wijkcode");
    let wijken = read_areas(&f.cbs_gpkg, "wijken", "wijkcode", "gemeentecode");
    let gemeenten = read_areas(&f.cbs_gpkg, "gemeenten", "gemeentecode", "gemeentenaam");
    for a in buurten.iter().chain(&wijken).chain(&gemeenten) {
        assert!(
            a.geom.is_valid(),
            "{} invalid: {:?}",
            a.code,
            a.geom.validation_errors()
        );
    }
    // Closed form: the outer boundary of the two gemeenten together is unjittered: a rectangle of
    // 8 x 8 km (GM1999) plus one of 3 x 4 km (GM1998); their shared border is jittered.
    let total: f64 = gemeenten.iter().map(|g| g.geom.unsigned_area()).sum();
    assert!((total - 76_000_000.0).abs() < 1.0, "total area {total}");
    let nominal = BTreeMap::from([("GM1999", 64_000_000.0), ("GM1998", 12_000_000.0)]);
    for g in &gemeenten {
        let want = g.geom.unsigned_area();
        assert!(
            (want / nominal[g.code.as_str()] - 1.0).abs() < 0.01,
            "{} area {want}",
            g.code
        );
        let sum_b: f64 = buurten
            .iter()
            .filter(|b| b.gm == g.code)
            .map(|b| b.geom.unsigned_area())
            .sum();
        let sum_w: f64 = wijken
            .iter()
            .filter(|w| w.gm == g.code)
            .map(|w| w.geom.unsigned_area())
            .sum();
        assert!(
            (sum_b - want).abs() < 1.0,
            "{} buurten sum {sum_b} vs {want}",
            g.code
        );
        assert!(
            (sum_w - want).abs() < 1.0,
            "{} wijken sum {sum_w} vs {want}",
            g.code
        );
    }
    // The gemeenten do not overlap.
    assert!(
        gemeenten[0]
            .geom
            .intersection(&gemeenten[1].geom)
            .unsigned_area()
            < 1.0
    );
    // No two buurten overlap (pairwise intersection area < 1 m2).
    for (i, a) in buurten.iter().enumerate() {
        for b in &buurten[i + 1..] {
            let (ra, rb) = (
                a.geom.bounding_rect().unwrap(),
                b.geom.bounding_rect().unwrap(),
            );
            if !ra.intersects(&rb) {
                continue;
            }
            let overlap = a.geom.intersection(&b.geom).unsigned_area();
            assert!(
                overlap < 1.0,
                "{} and {} overlap by {overlap} m2",
                a.code,
                b.code
            );
        }
        // Each buurt lies in its wijk.
        let w = wijken.iter().find(|w| w.code == a.parent).unwrap();
        let inside = a.geom.intersection(&w.geom).unsigned_area();
        assert!(
            (inside - a.geom.unsigned_area()).abs() < 1.0,
            "{} outside {}",
            a.code,
            w.code
        );
    }
    // The enclave: a buurt exactly filling the hole of another buurt.
    let gt = truth();
    let enclave = gt["special_cases"]["enclave_buurt"].as_str().unwrap();
    let host = gt["special_cases"]["enclave_host_buurt"].as_str().unwrap();
    let e = buurten.iter().find(|b| b.code == enclave).unwrap();
    let h = buurten.iter().find(|b| b.code == host).unwrap();
    assert_eq!(h.geom.0.len(), 1);
    assert_eq!(h.geom.0[0].interiors().len(), 1);
    let hole = geo::Polygon::new(h.geom.0[0].interiors()[0].clone(), vec![]);
    assert!((hole.unsigned_area() - e.geom.unsigned_area()).abs() < 1.0);
    let hull = geo::Polygon::new(h.geom.0[0].exterior().clone(), vec![]);
    let c = geo::Centroid::centroid(&e.geom).unwrap();
    assert!(hull.contains(&c) && !h.geom.contains(&c));
}

#[test]
fn legacy_shapefile_uses_upper_case_columns_and_old_sentinel() {
    let (_, f) = small_city();
    let ds = Dataset::open(&f.cbs_legacy_shp).unwrap();
    let mut l = ds.layer(0).unwrap();
    let names: Vec<String> = l.defn().fields().map(|fd| fd.name()).collect();
    for n in [
        "BU_CODE", "BU_NAAM", "WK_CODE", "GM_CODE", "GM_NAAM", "WATER", "AANT_INW",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing in {names:?}");
    }
    assert!(l.spatial_ref().unwrap().auth_code().unwrap() == 28992);
    let inw: Vec<i64> = l
        .features()
        .map(|f| {
            f.field_as_integer64(f.field_index("AANT_INW").unwrap())
                .unwrap()
                .unwrap()
        })
        .collect();
    assert!(inw.contains(&-99_999_999));
    assert!(inw.len() >= 50);
}

#[test]
fn bag_geopackage_has_the_five_pdok_tables() {
    let (_, f) = small_city();
    let db = open_sqlite(&f.bag_gpkg);
    let t = gpkg_tables(&db);
    let expected = [
        ("ligplaats", "POLYGON"),
        ("pand", "POLYGON"),
        ("standplaats", "POLYGON"),
        ("verblijfsobject", "POINT"),
        ("woonplaats", "MULTIPOLYGON"),
    ];
    assert_eq!(t.len(), 5);
    for (table, ty) in expected {
        assert_eq!(
            t[table],
            ("geom".to_string(), ty.to_string(), 28992),
            "{table}"
        );
    }
    let names =
        |table: &str| -> Vec<String> { columns(&db, table).into_iter().map(|c| c.0).collect() };
    let vbo = "feature_id geom rdf_seealso identificatie oppervlakte status gebruiksdoel openbare_ruimte_naam \
               openbare_ruimte_naam_kort huisnummer huisletter toevoeging postcode woonplaats_naam bouwjaar \
               pand_identificatie pandstatus nummeraanduiding_hoofdadres_identificatie \
               openbare_ruimte_identificatie woonplaats_identificatie bronhouder_identificatie";
    assert_eq!(
        names("verblijfsobject"),
        vbo.split_whitespace().collect::<Vec<_>>()
    );
    let pand =
        "feature_id geom rdf_seealso identificatie bouwjaar status gebruiksdoel oppervlakte_min \
                oppervlakte_max aantal_verblijfsobjecten";
    assert_eq!(names("pand"), pand.split_whitespace().collect::<Vec<_>>());
    assert_eq!(
        names("woonplaats"),
        [
            "feature_id",
            "geom",
            "rdf_seealso",
            "identificatie",
            "status",
            "woonplaats",
            "bronhouder_identificatie"
        ]
    );
    for table in ["ligplaats", "standplaats"] {
        let n = names(table);
        for c in [
            "identificatie",
            "openbare_ruimte_naam",
            "huisnummer",
            "postcode",
            "woonplaats_naam",
        ] {
            assert!(n.iter().any(|x| x == c), "{table}.{c}");
        }
        assert!(!n.iter().any(|x| x == "bouwjaar" || x == "oppervlakte"));
        let count: i64 = db
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert!(count >= 10, "{table}: {count}");
    }
    let types: BTreeMap<String, String> = columns(&db, "verblijfsobject").into_iter().collect();
    for c in ["oppervlakte", "huisnummer", "bouwjaar"] {
        assert!(types[c].contains("INT"), "{c}: {}", types[c]);
    }
    assert_eq!(types["identificatie"], "TEXT");
    let q = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let n = q("SELECT count(*) FROM verblijfsobject");
    assert!((2_000..=3_200).contains(&n), "{n} verblijfsobjecten");
    assert_eq!(q("SELECT count(*) FROM verblijfsobject WHERE length(identificatie) <> 16 OR length(pand_identificatie) <> 16 OR length(nummeraanduiding_hoofdadres_identificatie) <> 16 OR identificatie GLOB '*[^0-9]*'"), 0);
    assert_eq!(q("SELECT count(*) FROM verblijfsobject WHERE postcode NOT GLOB '[1-9][0-9][0-9][0-9][A-Z][A-Z]'"), 0);
    assert!(q("SELECT count(*) FROM verblijfsobject WHERE gebruiksdoel LIKE '%,%'") > 0);
    assert!(q("SELECT count(*) FROM verblijfsobject WHERE huisletter IS NOT NULL") > 0);
    assert!(q("SELECT count(*) FROM verblijfsobject WHERE toevoeging IS NOT NULL") >= 100);
    assert!(
        q("SELECT count(*) FROM verblijfsobject WHERE bronhouder_identificatie = '1999'") > n / 2
    );
    assert!(
        q("SELECT count(*) FROM verblijfsobject WHERE length(openbare_ruimte_naam_kort) > 24") == 0
    );
    assert_eq!(
        q("SELECT count(*) FROM verblijfsobject WHERE openbare_ruimte_naam = 'Burgemeester van Veenlaan' AND openbare_ruimte_naam_kort = 'Burg v Veenln'"),
        q("SELECT count(*) FROM verblijfsobject WHERE openbare_ruimte_naam = 'Burgemeester van Veenlaan'")
    );
    assert!(q("SELECT count(*) FROM verblijfsobject WHERE openbare_ruimte_naam IN ('Ĳsselstraat', 'Pastoor Ruéstraat', 'Plein 1944')") > 0);
    // Kerkstraat in both woonplaatsen of GM1999: ambiguous without postcode/plaats.
    assert_eq!(q("SELECT count(DISTINCT woonplaats_naam) FROM verblijfsobject WHERE openbare_ruimte_naam = 'Kerkstraat' AND bronhouder_identificatie = '1999'"), 2);
    // A tower with 100+ units in one pand.
    assert!(q("SELECT max(aantal_verblijfsobjecten) FROM pand") >= 100);
    assert_eq!(
        q("SELECT count(*) FROM pand p WHERE aantal_verblijfsobjecten <> (SELECT count(*) FROM verblijfsobject v WHERE v.pand_identificatie = p.identificatie)"),
        0
    );
    // Addresses lie inside their pand and inside the two gemeenten.
    let ds = Dataset::open(&f.bag_gpkg).unwrap();
    let mut panden = BTreeMap::new();
    for p in ds.layer_by_name("pand").unwrap().features() {
        let id = p
            .field_as_string(p.field_index("identificatie").unwrap())
            .unwrap()
            .unwrap();
        panden.insert(id, to_geo(p.geometry().unwrap()));
    }
    let cbs = read_areas(&f.cbs_gpkg, "gemeenten", "gemeentecode", "gemeentenaam");
    for v in ds.layer_by_name("verblijfsobject").unwrap().features() {
        let pt = match geo::Geometry::try_from(v.geometry().unwrap()).unwrap() {
            geo::Geometry::Point(p) => p,
            other => panic!("{other:?}"),
        };
        let pid = v
            .field_as_string(v.field_index("pand_identificatie").unwrap())
            .unwrap()
            .unwrap();
        assert!(panden[&pid].contains(&pt), "vbo outside its pand {pid}");
        assert!(cbs.iter().any(|g| g.geom.contains(&pt)));
    }
}

fn read_delivery_rows(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    let text = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8(rest.to_vec()).unwrap()
    } else {
        encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned()
    };
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn police_deliveries_are_weekly_in_mixed_formats() {
    let (_, f) = small_city();
    let cfg = DemoConfig::small();
    assert_eq!(f.police_deliveries.len(), cfg.weeks as usize);
    let names: Vec<String> = f
        .police_deliveries
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.last().unwrap(), "politie_week_2024-39.csv");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, names, "chronological");
    let header = [
        "Registratienummer",
        "Pleegdatum begin",
        "Pleegtijd begin",
        "Pleegdatum eind",
        "Pleegtijd eind",
        "Maatschappelijke klasse",
        "Straat",
        "Huisnummer",
        "Huisletter",
        "Toevoeging",
        "Postcode",
        "Plaats",
        "X",
        "Y",
        "Buurtcode",
        "BSN verdachte",
        "Kenteken",
    ];
    let gt = truth();
    let weeks = gt["deliveries"]["weeks"].as_array().unwrap();
    let (mut n1252, mut nbom, mut nxlsx) = (0, 0, 0);
    let mut regs_by_file: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (p, w) in f.police_deliveries.iter().zip(weeks) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(w["file"], name.as_str());
        let rows: Vec<Vec<String>> = if name.ends_with(".xlsx") {
            nxlsx += 1;
            let ds = Dataset::open(p).unwrap();
            let mut l = ds.layer(0).unwrap();
            let fields: Vec<String> = l.defn().fields().map(|fd| fd.name()).collect();
            assert_eq!(fields, header);
            let mut rows = vec![fields];
            for feat in l.features() {
                rows.push(
                    (0..header.len())
                        .map(|i| feat.field_as_string(i).unwrap().unwrap_or_default())
                        .collect(),
                );
            }
            rows
        } else {
            let bytes = std::fs::read(p).unwrap();
            if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
                nbom += 1;
                assert!(!bytes.windows(2).any(|x| x == b"\r\n"));
            } else {
                n1252 += 1;
                assert!(
                    bytes.windows(2).any(|x| x == b"\r\n"),
                    "Excel exports end lines with CRLF"
                );
            }
            read_delivery_rows(p)
        };
        assert_eq!(rows[0], header, "{name}");
        assert_eq!(
            rows.len() - 1,
            w["rows"].as_u64().unwrap() as usize,
            "{name}"
        );
        regs_by_file.insert(name, rows[1..].iter().map(|r| r[0].clone()).collect());
    }
    assert!(
        n1252 >= 1 && nbom >= 1 && nxlsx >= 1,
        "{n1252} {nbom} {nxlsx}"
    );
    // Every bad row is in its file; every re-delivery appears in both files.
    for b in gt["deliveries"]["bad_rows"].as_array().unwrap() {
        let regs = &regs_by_file[b["file"].as_str().unwrap()];
        let reg = b["registratienummer"].as_str().unwrap();
        assert!(regs.iter().any(|r| r == reg), "bad row {reg} missing");
    }
    let mut corrected = 0;
    for r in gt["deliveries"]["redeliveries"].as_array().unwrap() {
        let reg = r["registratienummer"].as_str().unwrap();
        assert!(regs_by_file[r["first_file"].as_str().unwrap()]
            .iter()
            .any(|x| x == reg));
        assert!(regs_by_file[r["again_file"].as_str().unwrap()]
            .iter()
            .any(|x| x == reg));
        corrected += usize::from(r["kind"] == "corrected");
    }
    assert!(corrected >= 1);
    // Every true police incident is delivered in the file the truth names.
    let truth_csv = std::fs::read_to_string(&f.truth_incidents_csv).unwrap();
    let mut n = 0;
    for line in truth_csv
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("politie;"))
    {
        let cols: Vec<&str> = line.split(';').collect();
        assert!(
            regs_by_file[cols[10]].iter().any(|r| r == cols[1]),
            "{} not in {}",
            cols[1],
            cols[10]
        );
        n += 1;
    }
    assert_eq!(n as u64, gt["counts"]["police_incidents"].as_u64().unwrap());
    // Decimal commas in X/Y of the Windows-1252 weeks; dd-mm-jjjj dates.
    let p = f.police_deliveries.iter().find(|p| {
        let b = std::fs::read(p).unwrap();
        p.extension().unwrap() == "csv" && !b.starts_with(&[0xEF, 0xBB, 0xBF])
    });
    let rows = read_delivery_rows(p.unwrap());
    assert!(rows[1..].iter().any(|r| r[12].contains(',')));
    assert!(rows[1..]
        .iter()
        .filter(|r| !r[0].is_empty())
        .all(|r| r[1].len() == 10 && &r[1][2..3] == "-"));
}

#[test]
fn handhaving_csv_matches_its_mapping() {
    let (_, f) = small_city();
    let mapping: toml::Value =
        toml::from_str(&std::fs::read_to_string(&f.handhaving_mapping).unwrap()).unwrap();
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(&f.handhaving)
        .unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    for table in ["columns", "extra"] {
        for (_, v) in mapping[table].as_table().unwrap() {
            assert!(
                headers.iter().any(|h| h == v.as_str().unwrap()),
                "{v} not a header"
            );
        }
    }
    let soorten: BTreeSet<String> = r.records().map(|x| x.unwrap()[3].to_string()).collect();
    assert!(soorten.contains("HH04 Hennepkwekerij"));
    assert!(soorten.iter().all(|s| s.starts_with("HH0")));
}

#[test]
fn open_data_counts_are_published_form_and_consistent() {
    let (_, f) = small_city();
    let doc: Value = serde_json::from_slice(&std::fs::read(&f.counts_json).unwrap()).unwrap();
    let rows = doc["value"].as_array().unwrap();
    let mut by_key: BTreeMap<(String, String, String), Option<u64>> = BTreeMap::new();
    let mut nulls = 0;
    for r in rows {
        let cat = r["SoortMisdrijf"].as_str().unwrap();
        let reg = r["WijkenEnBuurten"].as_str().unwrap();
        let per = r["Perioden"].as_str().unwrap();
        assert!(cat.ends_with(' '));
        assert_eq!(reg.len(), 10);
        assert!(per.len() == 8 && &per[4..6] == "MM");
        nulls += usize::from(r["GeregistreerdeMisdrijven_1"].is_null());
        by_key.insert(
            (cat.trim().into(), reg.trim().into(), per.into()),
            r["GeregistreerdeMisdrijven_1"].as_u64(),
        );
    }
    assert!(nulls > 0);
    assert!(rows.iter().any(|r| r["WijkenEnBuurten"] == "GM1999    "));
    assert!(rows.iter().any(|r| r["WijkenEnBuurten"] == "WK1999AE  "));
    assert!(rows.iter().any(|r| r["WijkenEnBuurten"] == "BU1999AE01"));
    // CSV: same rows.
    let mut rd = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(&f.counts_csv)
        .unwrap();
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "ID",
            "SoortMisdrijf",
            "WijkenEnBuurten",
            "Perioden",
            "GeregistreerdeMisdrijven_1"
        ]
    );
    let csv_rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(csv_rows.len(), rows.len());
    for rec in &csv_rows {
        let v = by_key[&(
            rec[1].trim().to_string(),
            rec[2].trim().to_string(),
            rec[3].to_string(),
        )];
        assert_eq!(v.map_or(".".to_string(), |x| x.to_string()), &rec[4]);
    }
    // Consistency with the truth: gemeente total 0.0.0 = police incidents with a buurt.
    let truth_csv = std::fs::read_to_string(&f.truth_incidents_csv).unwrap();
    let mut per_month: BTreeMap<String, u64> = BTreeMap::new();
    for line in truth_csv
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("politie;"))
    {
        let c: Vec<&str> = line.split(';').collect();
        if c[7].is_empty() || c[9] == "unknown_address" {
            continue;
        }
        *per_month
            .entry(format!("{}MM{}", &c[3][..4], &c[3][5..7]))
            .or_insert(0) += 1;
    }
    for (per, n) in &per_month {
        assert_eq!(
            by_key[&("0.0.0".to_string(), "GM1999".to_string(), per.clone())],
            Some(*n),
            "{per}"
        );
    }
    // Sum over buurten = gemeente for a non-withheld category.
    let sum_bu: u64 = by_key
        .iter()
        .filter(|((c, r, _), _)| c == "1.2.3" && r.starts_with("BU"))
        .map(|(_, v)| v.unwrap())
        .sum();
    let sum_gm: u64 = by_key
        .iter()
        .filter(|((c, r, _), _)| c == "1.2.3" && r == "GM1999")
        .map(|(_, v)| v.unwrap())
        .sum();
    assert_eq!(sum_bu, sum_gm);
}

#[test]
fn indicators_are_long_form_with_decimal_commas() {
    let (_, f) = small_city();
    let text = std::fs::read_to_string(&f.indicators_csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("buurtcode;indicator;waarde"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(';').collect()).collect();
    assert!(rows
        .iter()
        .all(|r| r.len() == 3 && is_code(r[0], "BU", 4, 4)));
    assert!(rows
        .iter()
        .any(|r| r[1] == "leegstand_pct" && r[2].contains(',')));
    assert!(rows.iter().any(|r| r[1] == "meldingen_openbare_ruimte"));
}

fn dist(a: (f64, f64), b: &Value) -> f64 {
    (a.0 - b[0].as_f64().unwrap()).hypot(a.1 - b[1].as_f64().unwrap())
}

#[test]
fn ground_truth_is_internally_consistent() {
    let (_, f) = small_city();
    let gt = truth();
    let truth_csv = std::fs::read_to_string(&f.truth_incidents_csv).unwrap();
    let mut by_pattern: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for line in truth_csv.lines().skip(1) {
        let c: Vec<String> = line.split(';').map(str::to_string).collect();
        by_pattern.entry(c[9].clone()).or_default().push(c);
    }
    let pats = gt["patterns"].as_array().unwrap();
    let pat = |name: &str| pats.iter().find(|p| p["name"] == name).unwrap();
    for name in ["persistent_centre", "new_torenflats", "diminishing_station"] {
        let p = pat(name);
        let centre = &p["centre_rd_m"];
        let sd = p["spread_sd_m"].as_f64().unwrap();
        let rows: Vec<_> = by_pattern[name]
            .iter()
            .filter(|c| c[0] == "politie")
            .collect();
        let weekly: u64 = p["incidents_per_week"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert!(weekly as usize <= rows.len() && !rows.is_empty());
        // Locations cluster around the centre (mean distance of a 2-D normal is sd*sqrt(pi/2)).
        let mean_d: f64 = rows
            .iter()
            .map(|c| dist((c[5].parse().unwrap(), c[6].parse().unwrap()), centre))
            .sum::<f64>()
            / rows.len() as f64;
        assert!(mean_d < 2.0 * sd, "{name}: mean distance {mean_d}");
        // The centre's 100 m cell is among the listed cells.
        let cx = (centre[0].as_f64().unwrap() / 100.0).floor() as i64 * 100;
        let cy = (centre[1].as_f64().unwrap() / 100.0).floor() as i64 * 100;
        assert!(
            p["cells_100m"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c[0] == cx && c[1] == cy),
            "{name}"
        );
    }
    let new = pat("new_torenflats");
    let first = new["first_week_index"].as_u64().unwrap() as usize;
    let weekly: Vec<u64> = new["incidents_per_week"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(weekly[..first].iter().all(|&n| n == 0));
    assert!(weekly[first..].iter().sum::<u64>() >= 15);
    assert!(new["buurtcodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b == "BU1999AE01"));
    // Cannabis: recompute the relative risk from the written BAG (risk class vs all GM1999 addresses).
    let p = pat("cannabis_farms");
    let farms: BTreeSet<String> = p["farm_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let db = open_sqlite(&f.bag_gpkg);
    let mut st = db
        .prepare("SELECT identificatie, gebruiksdoel, bouwjaar, oppervlakte FROM verblijfsobject WHERE bronhouder_identificatie = '1999'")
        .unwrap();
    let (mut all, mut all_in, mut farm_in, mut farm_n) = (0.0, 0.0, 0.0, 0.0);
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .unwrap();
    for r in rows {
        let (id, doel, jaar, opp) = r.unwrap();
        let in_class =
            doel == "woonfunctie" && (1960..=1975).contains(&jaar) && (70..=100).contains(&opp);
        all += 1.0;
        all_in += f64::from(u8::from(in_class));
        if farms.contains(&id) {
            farm_n += 1.0;
            farm_in += f64::from(u8::from(in_class));
        }
    }
    assert_eq!(
        farm_n as usize,
        farms.len(),
        "all farms are GM1999 verblijfsobjecten"
    );
    // Houseboats and caravan pitches are addresses too (never in the risk class).
    for table in ["ligplaats", "standplaats"] {
        let sql = format!("SELECT count(*) FROM {table} WHERE bronhouder_identificatie = '1999'");
        all += db.query_row(&sql, [], |r| r.get::<_, i64>(0)).unwrap() as f64;
    }
    let rr = (farm_in / farm_n) / (all_in / all);
    assert!(rr >= 4.0, "relative risk {rr}");
    assert!(
        (rr - p["relative_risk_risk_class"].as_f64().unwrap()).abs() < 1e-9,
        "{rr} {} {farm_in} {farm_n} {all_in} {all}",
        p
    );
    // Ambiguous registrations are Kerkstraat rows without postcode and plaats.
    let amb: BTreeSet<&str> = gt["ambiguous_registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!amb.is_empty());
    for d in &f.police_deliveries {
        if d.extension().unwrap() != "csv" {
            continue;
        }
        for r in read_delivery_rows(d) {
            if amb.contains(r[0].as_str()) {
                assert_eq!(
                    (r[6].as_str(), r[10].as_str(), r[11].as_str()),
                    ("Kerkstraat", "", "")
                );
            }
        }
    }
}

#[test]
fn default_city_patterns_over_two_years() {
    // The default demo city, as `make demo` writes it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo_city_default");
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = DemoConfig::default();
    let files = generate(&dir, &cfg).unwrap();
    assert_eq!(files.police_deliveries.len(), 104);
    assert_eq!(
        files.police_deliveries[0].file_name().unwrap(),
        "politie_week_2022-40.csv"
    );
    // Oracle: tests/oracle/demo_emerging_check.py (independent NumPy emerging hot spot analysis)
    // ran on exactly this output; its classification of the planted cells must match the truth.
    let oracle: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/oracle/expected/demo_emerging_default.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let digest = sha2::Sha256::digest(std::fs::read(&files.truth_incidents_csv).unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        oracle["truth_incidents_sha256"].as_str().unwrap(),
        hex,
        "generator output changed: rerun tests/oracle/demo_emerging_check.py (see its docstring)"
    );
    for (name, p) in oracle["patterns"].as_object().unwrap() {
        let expected: Vec<&str> = p["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let cells = p["cells"].as_object().unwrap();
        let total: u64 = cells.values().map(|v| v.as_u64().unwrap()).sum();
        let good: u64 = cells
            .iter()
            .filter(|(k, _)| expected.contains(&k.as_str()))
            .map(|(_, v)| v.as_u64().unwrap())
            .sum();
        assert!(
            good >= 3 && 2 * good > total,
            "{name}: {cells:?} vs {expected:?}"
        );
    }
    let gt: Value =
        serde_json::from_slice(&std::fs::read(&files.ground_truth_json).unwrap()).unwrap();
    let pats = gt["patterns"].as_array().unwrap();
    let seasonal = pats
        .iter()
        .find(|p| p["name"] == "seasonal_burglary")
        .unwrap();
    let (mut peak, mut off, mut np, mut no) = (0.0, 0.0, 0.0, 0.0);
    for (month, n) in seasonal["incidents_per_month"].as_object().unwrap() {
        let m: u32 = month[5..].parse().unwrap();
        if [10, 11, 12, 1, 2].contains(&m) {
            peak += n.as_f64().unwrap();
            np += 1.0;
        } else {
            off += n.as_f64().unwrap();
            no += 1.0;
        }
    }
    assert!(
        peak / np > 1.8 * (off / no),
        "peak {} off {}",
        peak / np,
        off / no
    );
    let dim = pats
        .iter()
        .find(|p| p["name"] == "diminishing_station")
        .unwrap();
    let w: Vec<f64> = dim["incidents_per_week"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let first: f64 = w[..26].iter().sum::<f64>() / 26.0;
    let last: f64 = w[78..].iter().sum::<f64>() / 26.0;
    assert!(
        first > 2.0 * last && last >= 2.0,
        "first {first} last {last}"
    );
    let pers = pats
        .iter()
        .find(|p| p["name"] == "persistent_centre")
        .unwrap();
    let w: Vec<u64> = pers["incidents_per_week"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(w.iter().filter(|&&n| n > 0).count() >= 100);
    let _ = std::fs::remove_dir_all(&dir);
}

fn text_outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        if ["csv", "json", "toml"].contains(&ext.as_str()) {
            out.insert(
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            );
        }
    }
    out
}

#[test]
fn same_seed_gives_identical_outputs() {
    let (dir, _) = small_city();
    let other = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo_city_small_again");
    let _ = std::fs::remove_dir_all(&other);
    generate(&other, &DemoConfig::small()).unwrap();
    let (a, b) = (text_outputs(dir), text_outputs(&other));
    assert!(a.len() >= 10);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs between runs");
    }
    // A different seed gives a different city.
    let third = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo_city_small_seed");
    let _ = std::fs::remove_dir_all(&third);
    generate(
        &third,
        &DemoConfig {
            seed: 7,
            ..DemoConfig::small()
        },
    )
    .unwrap();
    assert_ne!(
        text_outputs(&third)["truth_incidents.csv"],
        a["truth_incidents.csv"]
    );
    let _ = std::fs::remove_dir_all(&other);
    let _ = std::fs::remove_dir_all(&third);
}

/// Layer name -> (field names, sorted rows of all attribute values and geometry WKT).
fn dataset_contents(p: &Path) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let ds = Dataset::open(p).unwrap();
    let mut out = BTreeMap::new();
    for mut l in ds.layers() {
        let fields: Vec<String> = l
            .defn()
            .fields()
            .map(|fd| format!("{}:{}", fd.name(), fd.field_type()))
            .collect();
        let mut rows: Vec<String> = l
            .features()
            .map(|f| {
                let mut s: Vec<String> = (0..fields.len())
                    .map(|i| f.field_as_string(i).unwrap().unwrap_or_default())
                    .collect();
                s.push(f.geometry().map(|g| g.wkt().unwrap()).unwrap_or_default());
                s.join("|")
            })
            .collect();
        rows.sort();
        out.insert(l.name(), (fields, rows));
    }
    out
}

#[test]
fn committed_fixtures_match_the_generator() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fresh = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo_fixtures_fresh");
    let _ = std::fs::remove_dir_all(&fresh);
    let written = write_fixtures(&fresh).unwrap();
    assert_eq!(written.len(), 6);
    for p in written {
        let rel = p.strip_prefix(&fresh).unwrap();
        let committed = fixtures.join(rel);
        assert!(
            committed.exists(),
            "{} missing: regenerate with brandpunt::demo::write_fixtures",
            committed.display()
        );
        match p.extension().unwrap().to_str().unwrap() {
            "gpkg" | "shp" => assert_eq!(
                dataset_contents(&p),
                dataset_contents(&committed),
                "{}",
                rel.display()
            ),
            _ => assert!(
                std::fs::read(&p).unwrap() == std::fs::read(&committed).unwrap(),
                "{} differs",
                rel.display()
            ),
        }
    }
    let _ = std::fs::remove_dir_all(&fresh);
}
