//! `brandpunt analyse` end to end through the binary, on real inputs:
//! - Gi* / local Moran on the libpysal columbus polygons and on the geodanet crime points counted on a grid,
//!   against the committed esda values (tests/oracle/expected/gistar_esda.json, tests/oracle/gistar_esda.py);
//! - KDE on a small points CSV against the closed-form quartic kernel sum (methods.md), as CSV and GeoTIFF;
//! - coordinates: lat/lon input and GeoJSON output against the RD New definition point (Amersfoort,
//!   RD (155000, 463000) = 52.15517440 N, 5.38720621 E);
//! - emerging hot spots and time profiles on the demo city against its ground truth (planted patterns) and the
//!   independent NumPy check (tests/oracle/demo_emerging_check.py -> expected/demo_emerging_default.json).

use crate::common::demo::{default_demo, demo, Demo};
use brandpunt::area_level::AreaLevel;
use brandpunt::store::Store;
use gdal::vector::LayerAccess;
use gdal::Dataset;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pysal/");

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run brandpunt")
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

fn esda() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracle/expected/gistar_esda.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// CSV rows as column -> text maps.
fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn col(rows: &[HashMap<String, String>], name: &str) -> Vec<f64> {
    rows.iter().map(|r| r[name].parse().unwrap()).collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w}");
    }
}

#[test]
fn gistar_and_moran_on_columbus_polygons_equal_esda() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let shp = format!("{FIXTURES}columbus.shp");
    let e = esda();
    let c = &e["columbus"];
    for rule in ["queen", "rook"] {
        let out = dir.path().join(format!("gistar_{rule}.csv"));
        ok(
            &db,
            &[
                "analyse",
                "gistar",
                "--input",
                &shp,
                "--value",
                "CRIME",
                "--weights",
                rule,
                "--output",
                out.to_str().unwrap(),
            ],
        );
        let rows = read_csv(&out);
        let want = &c[format!("gistar_{rule}")];
        assert_close(&col(&rows, "value"), &floats(&c["crime"]), 1e-12, "value");
        assert_close(&col(&rows, "z"), &floats(&want["z"]), 1e-9, "z");
        assert_close(&col(&rows, "p"), &floats(&want["p"]), 1e-9, "p");
        // The ids are the feature numbers; the bins follow the raw thresholds on esda's p after BH (checked
        // here only for sign consistency with z: bin != 0 needs p <= 0.10).
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r["id"], i.to_string());
            let bin: i64 = r["bin"].parse().unwrap();
            let (z, p): (f64, f64) = (r["z"].parse().unwrap(), r["p"].parse().unwrap());
            assert!(bin == 0 || (bin.signum() == z.signum() as i64 && p <= 0.10));
        }
    }
    let out = dir.path().join("moran.csv");
    ok(
        &db,
        &[
            "analyse",
            "moran",
            "--input",
            &shp,
            "--value",
            "CRIME",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    let want = &c["moran_queen"];
    assert_close(&col(&rows, "i"), &floats(&want["I"]), 1e-9, "moran I");
    assert_close(&col(&rows, "z"), &floats(&want["z"]), 1e-9, "moran z");
    let q: Vec<u64> = rows
        .iter()
        .map(|r| match r["quadrant"].as_str() {
            "HH" => 1,
            "LH" => 2,
            "LL" => 3,
            "HL" => 4,
            other => panic!("quadrant {other}"),
        })
        .collect();
    let want_q: Vec<u64> = want["q"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(q, want_q);
}

#[test]
fn gistar_geopackage_has_the_polygons_in_rd_and_the_csv_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let shp = format!("{FIXTURES}columbus.shp");
    let gpkg = dir.path().join("gistar.gpkg");
    ok(
        &db,
        &[
            "analyse",
            "gistar",
            "--input",
            &shp,
            "--value",
            "CRIME",
            "--output",
            gpkg.to_str().unwrap(),
        ],
    );
    let want = floats(&esda()["columbus"]["gistar_queen"]["z"]);
    let src = Dataset::open(&shp).unwrap();
    let mut src_layer = src.layer(0).unwrap();
    let src_geoms: Vec<geo_types::Geometry<f64>> = src_layer
        .features()
        .map(|f| f.geometry().unwrap().to_geo().unwrap())
        .collect();
    let ds = Dataset::open(&gpkg).unwrap();
    let mut layer = ds.layer_by_name("gistar").unwrap();
    let srs = layer.spatial_ref().unwrap();
    assert_eq!(srs.auth_code().unwrap(), 28992);
    let z_idx = layer.defn().field_index("z").unwrap();
    let mut n = 0;
    for (i, f) in layer.features().enumerate() {
        let z = f.field_as_double(z_idx).unwrap().unwrap();
        assert!(
            (z - want[i]).abs() < 1e-9,
            "feature {i}: z {z} vs {}",
            want[i]
        );
        // Same shape as the input polygon (area and vertex set), as a MultiPolygon.
        let g = f.geometry().unwrap().to_geo().unwrap();
        use geo::Area;
        assert!((g.unsigned_area() - src_geoms[i].unsigned_area()).abs() < 1e-12);
        n += 1;
    }
    assert_eq!(n, 49);
}

#[test]
fn gistar_flatgeobuf_reads_back_in_gdal_like_the_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let shp = format!("{FIXTURES}columbus.shp");
    let mut layers = Vec::new();
    for name in ["gistar.gpkg", "gistar.fgb"] {
        let out = dir.path().join(name);
        ok(
            &db,
            &[
                "analyse",
                "gistar",
                "--input",
                &shp,
                "--value",
                "CRIME",
                "--output",
                out.to_str().unwrap(),
            ],
        );
        let ds = Dataset::open(&out).unwrap();
        let mut layer = ds.layer(0).unwrap();
        assert_eq!(layer.spatial_ref().unwrap().auth_code().unwrap(), 28992);
        let z_idx = layer.defn().field_index("z").unwrap();
        let rows: Vec<(Option<f64>, String)> = layer
            .features()
            .map(|f| {
                (
                    f.field_as_double(z_idx).unwrap(),
                    f.geometry().unwrap().wkt().unwrap(),
                )
            })
            .collect();
        layers.push((ds.driver().short_name(), rows));
    }
    assert_eq!(layers[1].0, "FlatGeobuf");
    assert_eq!(layers[0].1.len(), 49);
    // FlatGeobuf's spatial index reorders features: compare as sets of (z, geometry).
    let sorted = |rows: &[(Option<f64>, String)]| {
        let mut v: Vec<String> = rows.iter().map(|(z, g)| format!("{z:?} {g}")).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&layers[0].1), sorted(&layers[1].1));
}

/// The geodanet crime points as a CSV with `x`,`y` (their own projected coordinates; the analysis only needs
/// metric coordinates).
fn crimes_csv(dir: &Path) -> PathBuf {
    let ds = Dataset::open(format!("{FIXTURES}crimes.shp")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let path = dir.join("crimes.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(["x", "y"]).unwrap();
    for f in layer.features() {
        let geo_types::Geometry::Point(p) = f.geometry().unwrap().to_geo().unwrap() else {
            panic!("not a point")
        };
        w.write_record([p.x().to_string(), p.y().to_string()])
            .unwrap();
    }
    w.flush().unwrap();
    path
}

#[test]
fn gistar_on_points_counted_on_a_grid_equals_esda() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let input = crimes_csv(dir.path());
    let e = esda();
    let g = &e["geodanet_grid"];
    let cells: Vec<(i64, i64)> = g["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v[0].as_i64().unwrap(), v[1].as_i64().unwrap()))
        .collect();
    for band in [600, 850] {
        let out = dir.path().join(format!("grid_{band}.csv"));
        ok(
            &db,
            &[
                "analyse",
                "gistar",
                "--input",
                input.to_str().unwrap(),
                "--bins",
                "grid:400",
                "--weights",
                &format!("distance:{band}"),
                "--output",
                out.to_str().unwrap(),
            ],
        );
        let rows = read_csv(&out);
        let ids: Vec<String> = rows.iter().map(|r| r["id"].clone()).collect();
        let want_ids: Vec<String> = cells.iter().map(|(c, r)| format!("c400_{c}_{r}")).collect();
        assert_eq!(ids, want_ids, "all cells of the bounding box, row-major");
        assert_close(&col(&rows, "value"), &floats(&g["counts"]), 0.0, "counts");
        let want = &g[format!("band_{band}")]["gistar"];
        assert_close(&col(&rows, "z"), &floats(&want["z"]), 1e-9, "z");
        assert_close(&col(&rows, "p"), &floats(&want["p"]), 1e-9, "p");
    }
}

/// Closed-form quartic density per km2 at `(x, y)` of unit points, bandwidth `r` metres.
fn quartic_per_km2(points: &[(f64, f64)], x: f64, y: f64, r: f64) -> f64 {
    points
        .iter()
        .map(|&(px, py)| {
            let u2 = ((x - px).powi(2) + (y - py).powi(2)) / (r * r);
            if u2 < 1.0 {
                3.0 / (PI * r * r) * (1.0 - u2).powi(2) * 1e6
            } else {
                0.0
            }
        })
        .sum()
}

const KDE_POINTS: [(f64, f64); 5] = [
    (155_020.0, 463_010.0),
    (155_130.0, 463_080.0),
    (154_900.0, 462_950.0),
    (155_020.0, 463_010.0),
    (155_310.0, 462_720.5),
];

#[test]
fn kde_csv_and_geotiff_equal_the_closed_form_kernel_sum() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let input = dir.path().join("points.csv");
    let mut text = String::from("id;x;y;datum\n");
    for (i, (x, y)) in KDE_POINTS.iter().enumerate() {
        // Semicolons and decimal commas, as Dutch spreadsheets write them.
        text.push_str(&format!(
            "{i};{};{};2024-03-0{}\n",
            x.to_string().replace('.', ","),
            y.to_string().replace('.', ","),
            i + 1
        ));
    }
    std::fs::write(&input, text).unwrap();
    let common = [
        "analyse",
        "kde",
        "--input",
        input.to_str().unwrap(),
        "--kernel",
        "quartic",
        "--bandwidth",
        "300",
        "--cell",
        "50",
        "--extent",
        "154600,462600,155500,463300",
    ];
    let out_csv = dir.path().join("kde.csv");
    let mut args = common.to_vec();
    args.extend(["--output", out_csv.to_str().unwrap()]);
    ok(&db, &args);
    let rows = read_csv(&out_csv);
    assert_eq!(rows.len(), 18 * 14);
    let mut positive = 0;
    for r in &rows {
        let (x, y, d): (f64, f64, f64) = (
            r["x"].parse().unwrap(),
            r["y"].parse().unwrap(),
            r["density"].parse().unwrap(),
        );
        // Cell centres on the half-cell lattice of the extent.
        assert_eq!((x - 154_625.0) % 50.0, 0.0);
        assert_eq!((y - 462_625.0) % 50.0, 0.0);
        let want = quartic_per_km2(&KDE_POINTS, x, y, 300.0);
        assert!(
            (d - want).abs() <= 1e-9 * want.max(1.0),
            "({x}, {y}): {d} vs {want}"
        );
        positive += usize::from(d > 0.0);
    }
    assert!(positive > 50);

    let out_tif = dir.path().join("kde.tif");
    let mut args = common.to_vec();
    args.extend(["--output", out_tif.to_str().unwrap()]);
    ok(&db, &args);
    let ds = Dataset::open(&out_tif).unwrap();
    assert_eq!(
        ds.geo_transform().unwrap(),
        [154_600.0, 50.0, 0.0, 463_300.0, 0.0, -50.0]
    );
    assert_eq!(ds.spatial_ref().unwrap().auth_code().unwrap(), 28992);
    assert_eq!(ds.raster_size(), (18, 14));
    let band = ds.rasterband(1).unwrap();
    let buf = band
        .read_as::<f32>((0, 0), (18, 14), (18, 14), None)
        .unwrap();
    let data = buf.data();
    for j in 0..14 {
        for i in 0..18 {
            let (x, y) = (
                154_600.0 + (i as f64 + 0.5) * 50.0,
                463_300.0 - (j as f64 + 0.5) * 50.0,
            );
            let want = quartic_per_km2(&KDE_POINTS, x, y, 300.0);
            let got = f64::from(data[j * 18 + i]);
            assert!(
                (got - want).abs() <= 1e-5 * want.max(1.0),
                "pixel ({i},{j})"
            );
        }
    }
}

/// RD New's definition point: Amersfoort, RD (155000, 463000) = 52.15517440 N, 5.38720621 E.
const AMERSFOORT_LAT: f64 = 52.155_174_40;
const AMERSFOORT_LON: f64 = 5.387_206_21;

#[test]
fn latlon_input_is_converted_to_rd() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let input = dir.path().join("latlon.csv");
    std::fs::write(
        &input,
        format!("lat,lon\n{AMERSFOORT_LAT},{AMERSFOORT_LON}\n"),
    )
    .unwrap();
    let out = dir.path().join("kde.csv");
    ok(
        &db,
        &[
            "analyse",
            "kde",
            "--input",
            input.to_str().unwrap(),
            "--bandwidth",
            "100",
            "--cell",
            "10",
            "--extent",
            "154900,462900,155100,463100",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    // The densities fit a point within 0.5 m of (155000, 463000): every cell matches the closed form for
    // that point to the accuracy a 0.5 m shift allows (|dK/dd| <= 12/(pi r^3) * 1e6 per metre).
    let rows = read_csv(&out);
    let slope = 12.0 / (PI * 100f64.powi(3)) * 1e6 * 0.5;
    for r in &rows {
        let (x, y, d): (f64, f64, f64) = (
            r["x"].parse().unwrap(),
            r["y"].parse().unwrap(),
            r["density"].parse().unwrap(),
        );
        let want = quartic_per_km2(&[(155_000.0, 463_000.0)], x, y, 100.0);
        assert!((d - want).abs() <= slope, "({x}, {y}): {d} vs {want}");
    }
}

#[test]
fn geojson_output_is_wgs84() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let input = dir.path().join("points.csv");
    // Points in the four 100 m cells around the RD origin and a few further away.
    std::fs::write(
        &input,
        "x,y\n155050,463050\n154950,463050\n154950,462950\n155050,462950\n155050,463050\n155350,463350\n154650,462650\n",
    )
    .unwrap();
    let out = dir.path().join("g.geojson");
    ok(
        &db,
        &[
            "analyse",
            "gistar",
            "--input",
            input.to_str().unwrap(),
            "--bins",
            "grid:100",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let features = j["features"].as_array().unwrap();
    assert_eq!(features.len(), 8 * 8);
    let cell = features
        .iter()
        .find(|f| f["properties"]["id"] == "c100_1550_4630")
        .expect("cell with lower-left corner at the origin");
    assert_eq!(cell["properties"]["value"].as_f64(), Some(2.0));
    let ring = cell["geometry"]["coordinates"][0].as_array().unwrap();
    // One vertex is the definition point, in lon/lat order.
    let best = ring
        .iter()
        .map(|c| {
            let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            (lon - AMERSFOORT_LON)
                .abs()
                .max((lat - AMERSFOORT_LAT).abs())
        })
        .fold(f64::INFINITY, f64::min);
    assert!(best < 5e-6, "closest vertex {best} degrees from Amersfoort");
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let input = dir.path().join("bad.csv");
    std::fs::write(&input, "a,b\n1,2\n").unwrap();
    let out = run(
        &db,
        &[
            "analyse",
            "kde",
            "--input",
            input.to_str().unwrap(),
            "--output",
            dir.path().join("k.tif").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv"), "{err}");
    let out = run(
        &db,
        &[
            "analyse",
            "gistar",
            "--input",
            &format!("{FIXTURES}columbus.shp"),
            "--value",
            "CRIME",
            "--output",
            dir.path().join("x.docx").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("x.docx"));
}

fn ground_truth(files: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(files.join("ground_truth.json")).unwrap())
        .unwrap()
}

/// Category per pattern cell (lower-left corner) from an `analyse emerging` CSV.
fn emerging_classes(path: &Path) -> HashMap<(i64, i64), String> {
    read_csv(path)
        .into_iter()
        .map(|r| {
            let x: f64 = r["x"].parse().unwrap();
            let y: f64 = r["y"].parse().unwrap();
            (
                ((x - 50.0) as i64, (y - 50.0) as i64),
                r["category"].clone(),
            )
        })
        .collect()
}

fn pattern_classes(
    gt: &Value,
    classes: &HashMap<(i64, i64), String>,
) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for p in gt["patterns"].as_array().unwrap() {
        let Some(cells) = p["cells_100m"].as_array() else {
            continue;
        };
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for c in cells {
            let key = (c[0].as_i64().unwrap(), c[1].as_i64().unwrap());
            let class = classes.get(&key).cloned().unwrap_or("absent".into());
            *counts.entry(class).or_default() += 1;
        }
        out.insert(p["name"].as_str().unwrap().to_string(), counts);
    }
    out
}

#[test]
fn emerging_on_the_default_demo_matches_the_independent_check() {
    let d = default_demo();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/oracle/expected/demo_emerging_default.json"
        ))
        .unwrap(),
    )
    .unwrap();
    // The expected file was computed from this exact generator output.
    use sha2::Digest;
    let truth = std::fs::read(d.files.join("truth_incidents.csv")).unwrap();
    let sha = format!("{:x}", sha2::Sha256::digest(&truth));
    assert_eq!(
        sha,
        expected["truth_incidents_sha256"].as_str().unwrap(),
        "demo changed: rerun tests/oracle/demo_emerging_check.py"
    );
    let out = d.files.join("emerging.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "emerging",
            "--bins",
            "grid:100",
            "--step",
            "week",
            "--distance",
            "150",
            "--time-window",
            "1",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let got = pattern_classes(&ground_truth(&d.files), &emerging_classes(&out));
    for (name, want) in expected["patterns"].as_object().unwrap() {
        let want: BTreeMap<String, u64> = want["cells"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(got[name], want, "pattern {name}");
        for class in want.keys() {
            assert!(
                expected["patterns"][name]["expected"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e == class.as_str()),
                "{name}: {class}"
            );
        }
    }
}

#[test]
fn seasonal_burglary_in_the_monthly_time_series() {
    let d = default_demo();
    let out = d.files.join("burglary_months.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "time",
            "--by",
            "month",
            "--category",
            "1.1.1",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    // Planted: 10 burglaries a week October-February, 4 otherwise (ratio 2.5).
    let (mut winter, mut winter_days, mut summer, mut summer_days) = (0.0, 0.0, 0.0, 0.0);
    for r in read_csv(&out) {
        let month: u32 = r["start"][5..7].parse().unwrap();
        let w: f64 = r["weight"].parse().unwrap();
        let days: f64 = r["days_in_period"].parse().unwrap();
        if matches!(month, 10 | 11 | 12 | 1 | 2) {
            winter += w;
            winter_days += days;
        } else if (4..=9).contains(&month) {
            summer += w;
            summer_days += days;
        }
    }
    let ratio = (winter / winter_days) / (summer / summer_days);
    assert!((1.9..3.2).contains(&ratio), "winter/summer rate {ratio}");
}

#[test]
fn nightlife_violence_is_on_weekend_nights_and_new_hot_spot_on_demo() {
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("centre_hours.json");
    ok(
        &d.db,
        &[
            "analyse",
            "time",
            "--by",
            "hour-of-week",
            "--area",
            "BU19990004",
            "--category",
            "1.4.3,1.4.4,1.4.5,2.1.1,3.6.4",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let slots: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let slots = slots.as_array().unwrap();
    assert_eq!(slots.len(), 168);
    let total: f64 = slots.iter().map(|s| s["weight"].as_f64().unwrap()).sum();
    // Planted: Thursday-Saturday 22:00-04:00 (18 of 168 hours, 11 %), "mostly".
    let night: f64 = slots
        .iter()
        .filter(|s| {
            let slot = s["slot"].as_u64().unwrap();
            let (day, hour) = (slot / 24, slot % 24);
            (matches!(day, 3..=5) && hour >= 22) || (matches!(day, 4..=6) && hour < 4)
        })
        .map(|s| s["weight"].as_f64().unwrap())
        .sum();
    assert!(total > 20.0);
    assert!(night / total > 0.5, "night share {}", night / total);

    // Emerging on the 10 weeks: the tower block's cells (planted from week 3) are new or consecutive hot spots.
    let out = tmp.path().join("emerging.gpkg");
    ok(
        &d.db,
        &[
            "analyse",
            "emerging",
            "--bins",
            "grid:100",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let ds = Dataset::open(&out).unwrap();
    let mut layer = ds.layer_by_name("emerging").unwrap();
    let cat = layer.defn().field_index("category").unwrap();
    let mut classes = HashMap::new();
    for f in layer.features() {
        use geo::BoundingRect;
        let g = f.geometry().unwrap().to_geo().unwrap();
        let r = g.bounding_rect().unwrap();
        assert!((r.width() - 100.0).abs() < 1e-9 && (r.height() - 100.0).abs() < 1e-9);
        classes.insert(
            (r.min().x as i64, r.min().y as i64),
            f.field_as_string(cat).unwrap().unwrap(),
        );
    }
    let got = pattern_classes(&ground_truth(&d.files), &classes);
    let towers = &got["new_torenflats"];
    let hot: u64 = towers
        .iter()
        .filter(|(k, _)| k.as_str() == "new_hot_spot" || k.as_str() == "consecutive_hot_spot")
        .map(|(_, v)| v)
        .sum();
    assert!(hot >= 3, "{towers:?}");
}

/// `aantal_inwoners` of an area from the CBS GeoPackage the demo wrote (read independently of the store).
fn cbs_inhabitants(files: &Path, layer: &str, key: &str, code: &str) -> f64 {
    let ds = Dataset::open(files.join("wijkenbuurten_2024_v1.gpkg")).unwrap();
    let mut l = ds.layer_by_name(layer).unwrap();
    let k = l.defn().field_index(key).unwrap();
    let v = l.defn().field_index("aantal_inwoners").unwrap();
    let value = l
        .features()
        .find(|f| f.field_as_string(k).unwrap().as_deref() == Some(code))
        .map(|f| f.field_as_double(v).unwrap().unwrap());
    value.unwrap()
}

#[test]
fn compare_rates_and_change_on_the_default_demo() {
    let d = default_demo();
    let out = d.files.join("compare.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "compare",
            "--areas",
            "BU19990000,WK1999AE",
            "--from",
            "2024-07-01",
            "--to",
            "2024-09-29",
            "--vs-from",
            "2023-07-01",
            "--vs-to",
            "2023-09-30",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 2);
    let (days, days_vs) = (91.0, 92.0);
    for (r, layer, key) in [
        (&rows[0], "buurten", "buurtcode"),
        (&rows[1], "wijken", "wijkcode"),
    ] {
        let f = |c: &str| -> f64 { r[c].parse().unwrap() };
        let inh = cbs_inhabitants(&d.files, layer, key, &r["area"]);
        assert_eq!(f("inhabitants"), inh);
        assert!((f("per_1000_inhabitants") - f("count") / inh * 1000.0).abs() < 1e-9);
        assert!((f("per_1000_addresses") - f("count") / f("addresses") * 1000.0).abs() < 1e-9);
        let rr = (f("count") / days) / (f("count_vs") / days_vs);
        assert!((f("rate_ratio") - rr).abs() < 1e-12);
        assert!(f("ci_lower") < rr && rr < f("ci_upper"));
    }
    // Planted: bike theft at the station falls from 12 to 3 a week; the tower block's trouble is new.
    let f = |r: &HashMap<String, String>, c: &str| -> f64 { r[c].parse().unwrap() };
    assert!(f(&rows[0], "rate_ratio") < 1.0 && f(&rows[0], "p") < 0.01);
    assert!(f(&rows[1], "rate_ratio") > 1.0 && f(&rows[1], "p") < 0.01);
}

#[test]
fn cannabis_profile_counts_the_planted_farm_addresses() {
    let d = default_demo();
    let out = d.files.join("profile.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "profile",
            "--category",
            "3.1.1",
            "--area",
            "GM1999",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    // Oracle: the farm addresses of the ground truth (pattern (e) and the low-WOZ farms of (g)), their bouwjaar
    // read from bag-light.gpkg, classed as the profile documents (<1945, 1945-1969, 1970-1989, 1990-2009, >=2010).
    let gt = ground_truth(&d.files);
    let farms: Vec<String> = gt["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cannabis_farms")
        .unwrap()["farm_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .chain(gt["woz"]["planted"]["farm_addresses"].as_array().unwrap())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let ds = Dataset::open(d.files.join("bag-light.gpkg")).unwrap();
    let mut vbo = ds.layer_by_name("verblijfsobject").unwrap();
    let id = vbo.defn().field_index("identificatie").unwrap();
    let bj = vbo.defn().field_index("bouwjaar").unwrap();
    let bouwjaar: HashMap<String, i64> = vbo
        .features()
        .filter_map(|f| {
            Some((
                f.field_as_string(id).ok()??,
                f.field_as_integer64(bj).ok()??,
            ))
        })
        .collect();
    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    for a in &farms {
        let class = match bouwjaar[a] {
            ..=1944 => "<1945",
            1945..=1969 => "1945-1969",
            1970..=1989 => "1970-1989",
            1990..=2009 => "1990-2009",
            _ => ">=2010",
        };
        *want.entry(class).or_default() += 1;
    }
    let got: BTreeMap<&str, u64> = rows
        .iter()
        .filter(|r| r["dimension"] == "bouwjaar" && r["incidents"] != "0")
        .map(|r| (r["class"].as_str(), r["incidents"].parse().unwrap()))
        .collect();
    assert_eq!(got, want);
    // The planted risk class (1960-1975, 70-100 m2 dwellings) and the business units stand out.
    let row = |dim: &str, class: &str| {
        rows.iter()
            .find(|r| r["dimension"] == dim && r["class"] == class)
            .unwrap()
    };
    for (dim, class) in [
        ("oppervlakte", "75-99"),
        ("gebruiksdoel", "industriefunctie"),
    ] {
        let lower: f64 = row(dim, class)["rr_ci_lower"].parse().unwrap();
        assert!(lower > 1.0, "{dim} {class}: RR lower bound {lower}");
    }
}

/// Located incidents of `buurt` in `from..=to` per `brandpunt stats` (a separate code path: SQL aggregation).
fn stats_count(d: &Demo, buurt: &str, from: &str, to: &str) -> u64 {
    let out = ok(
        &d.db,
        &["stats", "--by", "buurt", "--from", from, "--to", to],
    );
    out.lines()
        .skip(1)
        .filter(|l| l.starts_with(&format!("{buurt},")))
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn striking_month_finds_the_new_trouble_at_the_towers() {
    let d = default_demo();
    let out = d.files.join("striking.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "striking",
            "--month",
            "2024-09",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 62, "every buurt of the boundary set");
    // Planted: new trouble at the tower block in the last 7 weeks -> the most striking buurt, an increase.
    assert_eq!(rows[0]["area"], "BU1999AE01");
    assert_eq!(rows[0]["direction"], "increase");
    for buurt in ["BU1999AE01", "BU19990000"] {
        let r = rows.iter().find(|r| r["area"] == buurt).unwrap();
        let observed = stats_count(d, buurt, "2024-09-01", "2024-09-30");
        assert_eq!(r["observed"], observed.to_string(), "{buurt}");
        let mut history = 0;
        for m in 0..12 {
            let (y, mo) = if m < 4 { (2023, 9 + m) } else { (2024, m - 3) };
            let first = chrono::NaiveDate::from_ymd_opt(y, mo, 1).unwrap();
            let last = first
                .checked_add_months(chrono::Months::new(1))
                .unwrap()
                .pred_opt()
                .unwrap();
            history += stats_count(d, buurt, &first.to_string(), &last.to_string());
        }
        let expected = (history as f64 / 12.0).max(0.5);
        let got: f64 = r["expected"].parse().unwrap();
        assert!(
            (got - expected).abs() < 1e-12,
            "{buurt}: {got} vs {expected}"
        );
        // Exact Poisson upper tail P(X >= observed), summed term by term (no cancellation).
        let pmf = |k: u64| {
            let ln = -expected + k as f64 * expected.ln()
                - (1..=k).map(|i| (i as f64).ln()).sum::<f64>();
            ln.exp()
        };
        let upper: f64 = (observed..observed + 400).map(pmf).sum();
        let p: f64 = r["p_increase"].parse().unwrap();
        assert!((p - upper).abs() <= 1e-9 * upper, "{buurt}: {p} vs {upper}");
    }
}

#[test]
fn evaluate_methods_on_a_train_test_split_of_the_default_demo() {
    let d = default_demo();
    let out = d.files.join("evaluate.json");
    ok(
        &d.db,
        &[
            "analyse",
            "evaluate",
            "--bins",
            "grid:100",
            "--train-from",
            "2023-10-02",
            "--train-to",
            "2024-06-30",
            "--test-from",
            "2024-07-01",
            "--test-to",
            "2024-09-29",
            "--top",
            "5",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "kde_top5",
            "gistar_hot95",
            "emerging_hot",
            "last_period_top5"
        ]
    );
    let f = |r: &Value, k: &str| r[k].as_f64().unwrap();
    let total = f(&rows[0], "test_total");
    for r in rows {
        // The definitions (Chainey et al. 2008; Levine 2008) tie the columns together.
        assert_eq!(f(r, "test_total"), total);
        assert!((f(r, "hit_rate") - f(r, "test_hits") / total).abs() < 1e-12);
        assert!((f(r, "pai") - f(r, "hit_rate") / f(r, "area_share")).abs() < 1e-9);
        assert!((f(r, "rri") - f(r, "pai") / f(r, "train_pai")).abs() < 1e-9);
        assert!((0.0..=1.0).contains(&f(r, "pei")));
        // The demo has planted, lasting hot spots: every method beats random selection clearly.
        assert!(f(r, "pai") > 2.0, "{r}");
    }
    // Top 5 %: the selection stops at the first cell that reaches 5 % of the study area.
    let kde = &rows[0];
    let cell_share = f(kde, "area_share") / f(kde, "hotspot_cells");
    assert!(f(kde, "area_share") >= 0.05 - 1e-12);
    assert!(f(kde, "area_share") < 0.05 + cell_share);
}

#[test]
fn gistar_per_buurt_counts_equal_stats_and_h3_counts_every_incident() {
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gistar_buurt.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "gistar",
            "--bins",
            "buurt",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    // Every buurt of the boundary set, empty ones included, with the count `brandpunt stats` gives.
    assert_eq!(rows.len(), 62);
    let stats = ok(&d.db, &["stats", "--by", "buurt"]);
    let mut want: HashMap<String, f64> = HashMap::new();
    for l in stats.lines().skip(1) {
        let parts: Vec<&str> = l.split(',').collect();
        *want.entry(parts[0].to_string()).or_default() += parts[2].parse::<f64>().unwrap();
    }
    for r in &rows {
        let v: f64 = r["value"].parse().unwrap();
        assert_eq!(v, want.get(&r["id"]).copied().unwrap_or(0.0), "{}", r["id"]);
    }

    let out = tmp.path().join("gistar_h3.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "gistar",
            "--bins",
            "h3:9",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    let located = brandpunt::store::SqliteStore::open(&d.db)
        .unwrap()
        .incidents(&brandpunt::store::IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap()
        .iter()
        .filter(|i| i.x_m.is_some())
        .count();
    let total: f64 = col(&rows, "value").iter().sum();
    assert_eq!(total, located as f64);
    assert!(rows
        .iter()
        .all(|r| r["id"].len() == 15 && r["id"].starts_with("89")));
}

#[test]
fn wdq_of_the_station_against_a_control_wijk() {
    let d = default_demo();
    let out = d.files.join("wdq.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "compare",
            "--areas",
            "BU19990000",
            "--from",
            "2024-07-01",
            "--to",
            "2024-09-29",
            "--vs-from",
            "2023-07-01",
            "--vs-to",
            "2023-09-30",
            "--intervention-target",
            "BU19990000",
            "--buffer-m",
            "250",
            "--control",
            "WK199903",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 1);
    let f = |c: &str| -> f64 { rows[0][c].parse().unwrap() };
    // Target and control counts are the per-buurt counts of `brandpunt stats` in both periods.
    let wijk = |from: &str, to: &str| -> u64 {
        let out = ok(
            &d.db,
            &["stats", "--by", "wijk", "--from", from, "--to", to],
        );
        out.lines()
            .filter(|l| l.starts_with("WK199903,"))
            .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(
        f("target_before") as u64,
        stats_count(d, "BU19990000", "2023-07-01", "2023-09-30")
    );
    assert_eq!(
        f("target_after") as u64,
        stats_count(d, "BU19990000", "2024-07-01", "2024-09-29")
    );
    assert_eq!(f("control_before") as u64, wijk("2023-07-01", "2023-09-30"));
    assert_eq!(f("control_after") as u64, wijk("2024-07-01", "2024-09-29"));
    // Bowers & Johnson (2003).
    let s = f("target_after") / f("control_after") - f("target_before") / f("control_before");
    let b = f("buffer_after") / f("control_after") - f("buffer_before") / f("control_before");
    assert!((f("success_measure") - s).abs() < 1e-12);
    assert!((f("buffer_measure") - b).abs() < 1e-12);
    assert!((f("wdq") - b / s).abs() < 1e-12);
    assert_eq!(f("gross_effect"), f("target_before") - f("target_after"));
    // Planted: bike theft at the station falls from 12 to 3 a week -> the target improved.
    assert!(s < 0.0);
}

/// Columbus polygons and CRIME values as the CLI reads them (no CRS: RD New as is).
fn columbus() -> (Vec<geo_types::MultiPolygon<f64>>, Vec<f64>) {
    let ds = Dataset::open(format!("{FIXTURES}columbus.shp")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let idx = layer.defn().field_index("CRIME").unwrap();
    let mut polys = Vec::new();
    let mut values = Vec::new();
    for f in layer.features() {
        values.push(f.field_as_double(idx).unwrap().unwrap());
        polys.push(match f.geometry().unwrap().to_geo().unwrap() {
            geo_types::Geometry::Polygon(p) => geo_types::MultiPolygon(vec![p]),
            geo_types::Geometry::MultiPolygon(mp) => mp,
            other => panic!("not a polygon: {other:?}"),
        });
    }
    (polys, values)
}

#[test]
fn permutations_give_the_library_pseudo_p_for_the_seed() {
    use brandpunt::analysis::gistar::{gi_star, GiStarOptions};
    use brandpunt::analysis::moran::local_moran;
    use brandpunt::analysis::weights::{contiguity, Contiguity};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let shp = format!("{FIXTURES}columbus.shp");
    let (polys, values) = columbus();
    let w = contiguity(&polys, Contiguity::Queen, 1e-6).unwrap();
    let esda_z = floats(&esda()["columbus"]["gistar_queen"]["z"]);
    // (CLI seed argument, seed the library gets): the default seed is 12345.
    for (seed_args, seed) in [(vec!["--seed", "7"], 7u64), (vec![], 12345u64)] {
        let out = dir.path().join(format!("gistar_perm_{seed}.csv"));
        let mut args = vec![
            "analyse",
            "gistar",
            "--input",
            &shp,
            "--value",
            "CRIME",
            "--permutations",
            "99",
        ];
        args.extend(seed_args.iter().copied());
        args.extend(["--output", out.to_str().unwrap()]);
        ok(&db, &args);
        let rows = read_csv(&out);
        let want = gi_star(
            &values,
            &w,
            &GiStarOptions {
                permutations: Some((99, seed)),
                ..GiStarOptions::default()
            },
        )
        .unwrap();
        assert_close(
            &col(&rows, "p_sim"),
            want.pseudo_p.as_ref().unwrap(),
            0.0,
            "gistar p_sim",
        );
        // The analytic z stays esda's; a pseudo p is (k + 1) / 100 with k <= 49 (folded, "directed").
        assert_close(&col(&rows, "z"), &esda_z, 1e-9, "z with permutations");
        for p in col(&rows, "p_sim") {
            let k = p * 100.0 - 1.0;
            assert!(
                (k - k.round()).abs() < 1e-9 && (0.0..=49.0).contains(&k.round()),
                "{p}"
            );
        }
    }
    let out = dir.path().join("moran_perm.csv");
    ok(
        &db,
        &[
            "analyse",
            "moran",
            "--input",
            &shp,
            "--value",
            "CRIME",
            "--permutations",
            "199",
            "--seed",
            "42",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    let want = local_moran(&values, &w, Some((199, 42))).unwrap();
    assert_close(
        &col(&rows, "p_sim"),
        want.pseudo_p.as_ref().unwrap(),
        0.0,
        "moran p_sim",
    );
    // Without --permutations there is no p_sim column.
    let out = dir.path().join("moran_plain.csv");
    ok(
        &db,
        &[
            "analyse",
            "moran",
            "--input",
            &shp,
            "--value",
            "CRIME",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(!read_csv(&out)[0].contains_key("p_sim"));
}

/// Located store incidents of the demo: (RD point, begin day, buurtcode).
type DemoIncident = (Option<(f64, f64)>, chrono::NaiveDate, Option<String>);

fn demo_incidents(db: &Path) -> Vec<DemoIncident> {
    brandpunt::store::SqliteStore::open(db)
        .unwrap()
        .incidents(&brandpunt::store::IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|i| (i.x_m.zip(i.y_m), i.begin.date(), i.buurtcode.clone()))
        .collect()
}

/// Emerging hot spots of the library on a (location, day) list, weekly steps over first..last day.
fn library_emerging(
    n_locations: usize,
    hits: &[(usize, chrono::NaiveDate)],
    weights: &brandpunt::analysis::weights::SpatialWeights,
) -> brandpunt::analysis::emerging::EmergingResult {
    use brandpunt::analysis::emerging::*;
    let first = hits.iter().map(|h| h.1).min().unwrap();
    let last = hits.iter().map(|h| h.1).max().unwrap();
    let steps = TimeSteps::new(brandpunt::calendar::Step::Week, first, last).unwrap();
    let n = steps.len();
    let mut counts = vec![0.0; n_locations * n];
    for &(loc, day) in hits {
        if let Some(t) = steps.step_of(day) {
            counts[loc * n + t] += 1.0;
        }
    }
    let cube = SpaceTimeCube::from_counts(n_locations, n, counts).unwrap();
    emerging_hot_spots(
        &cube,
        weights,
        &EmergingOptions::default(),
        &brandpunt::cancel::Cancel::never(),
    )
    .unwrap()
}

fn assert_emerging_rows(
    rows: &[HashMap<String, String>],
    want: &brandpunt::analysis::emerging::EmergingResult,
    ids: &[String],
    what: &str,
) {
    assert_eq!(rows.len(), want.locations.len(), "{what}: locations");
    for (r, l) in rows.iter().zip(&want.locations) {
        assert_eq!(r["id"], ids[l.location], "{what}");
        assert_eq!(r["category"], l.category.as_str(), "{what} {}", r["id"]);
        let f = |k: &str| r[k].parse::<f64>().unwrap();
        assert!(
            (f("trend_z") - l.trend_z).abs() < 1e-12,
            "{what} {}",
            r["id"]
        );
        assert!(
            (f("final_z") - l.final_z).abs() < 1e-12,
            "{what} {}",
            r["id"]
        );
        assert_eq!(f("hot_steps") as usize, l.hot_steps);
        assert_eq!(f("cold_steps") as usize, l.cold_steps);
    }
}

#[test]
fn emerging_on_h3_cells_equals_the_library_on_h3o_cells_of_the_points() {
    use brandpunt::analysis::weights::{distance_band, h3_k_ring};
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let t = brandpunt::coords::Transformer::new().unwrap();
    // Every located incident in h3o's resolution-9 cell of its WGS84 position.
    let mut cells: BTreeMap<h3o::CellIndex, usize> = BTreeMap::new();
    let mut located = Vec::new();
    for (p, day, _) in demo_incidents(&d.db) {
        let Some((x, y)) = p else { continue };
        let (lon, lat) = t.rd_to_wgs84(x, y).unwrap();
        let cell = h3o::LatLng::new(lat, lon)
            .unwrap()
            .to_cell(h3o::Resolution::Nine);
        cells.insert(cell, 0);
        located.push((cell, day));
    }
    for (k, v) in cells.values_mut().enumerate() {
        *v = k;
    }
    let list: Vec<h3o::CellIndex> = cells.keys().copied().collect();
    let ids: Vec<String> = list.iter().map(|c| c.to_string()).collect();
    let hits: Vec<(usize, chrono::NaiveDate)> =
        located.iter().map(|(c, day)| (cells[c], *day)).collect();

    let out = tmp.path().join("emerging_h3.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "emerging",
            "--bins",
            "h3:9",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    assert!(!rows[0].contains_key("x"), "H3 rows carry the id, not x,y");
    let want = library_emerging(list.len(), &hits, &h3_k_ring(&list, 1).unwrap());
    assert_emerging_rows(&rows, &want, &ids, "h3 1-ring");
    // Every cell has an incident, so every cell is a location.
    assert_eq!(rows.len(), list.len());

    // --distance: neighbours by the distance between the cell centres (converted to RD).
    let centres: Vec<(f64, f64)> = list
        .iter()
        .map(|c| {
            let ll = h3o::LatLng::from(*c);
            t.wgs84_to_rd(ll.lng(), ll.lat()).unwrap()
        })
        .collect();
    let out = tmp.path().join("emerging_h3_400.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "emerging",
            "--bins",
            "h3:9",
            "--distance",
            "400",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let want = library_emerging(list.len(), &hits, &distance_band(&centres, 400.0).unwrap());
    assert_emerging_rows(&read_csv(&out), &want, &ids, "h3 400 m");

    // GeoPackage: one hexagon per row, around its cell centre.
    let gpkg = tmp.path().join("emerging_h3.gpkg");
    ok(
        &d.db,
        &[
            "analyse",
            "emerging",
            "--bins",
            "h3:9",
            "--output",
            gpkg.to_str().unwrap(),
        ],
    );
    let ds = Dataset::open(&gpkg).unwrap();
    let mut layer = ds.layer_by_name("emerging").unwrap();
    assert_eq!(layer.spatial_ref().unwrap().auth_code().unwrap(), 28992);
    let id_idx = layer.defn().field_index("id").unwrap();
    let mut n = 0;
    for f in layer.features() {
        let id = f.field_as_string(id_idx).unwrap().unwrap();
        let k = ids.iter().position(|i| *i == id).unwrap();
        let g = f.geometry().unwrap().to_geo().unwrap();
        use geo::{Area, Centroid};
        let c = g.centroid().unwrap();
        // Resolution 9: ~0.105 km2, centre within a few metres of the H3 centre.
        assert!((c.x() - centres[k].0).abs() < 5.0 && (c.y() - centres[k].1).abs() < 5.0);
        assert!(
            (g.unsigned_area() - 105_000.0).abs() < 15_000.0,
            "{}",
            g.unsigned_area()
        );
        n += 1;
    }
    assert_eq!(n, rows.len());
}

#[test]
fn emerging_per_wijk_equals_the_library_with_contiguity_of_the_cbs_wijken() {
    use brandpunt::analysis::weights::{contiguity, distance_band, Contiguity};
    use brandpunt::store::SqliteStore;
    use geo::Centroid;
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&d.db).unwrap();
    let wijken = store.areas(AreaLevel::Wijk, None).unwrap();
    let buurt_wijk: HashMap<String, String> = store
        .areas(AreaLevel::Buurt, None)
        .unwrap()
        .into_iter()
        .map(|b| (b.code, b.wijkcode.unwrap()))
        .collect();
    let index: HashMap<&str, usize> = wijken
        .iter()
        .enumerate()
        .map(|(i, w)| (w.code.as_str(), i))
        .collect();
    // Every incident with a buurtcode counts in its buurt's wijk (also those without a point).
    let hits: Vec<(usize, chrono::NaiveDate)> = demo_incidents(&d.db)
        .into_iter()
        .filter_map(|(_, day, b)| Some((index[buurt_wijk[&b?].as_str()], day)))
        .collect();
    let ids: Vec<String> = wijken.iter().map(|w| w.code.clone()).collect();
    let polys: Vec<_> = wijken.iter().map(|w| w.geometry.clone()).collect();

    let out = tmp.path().join("emerging_wijk.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "emerging",
            "--bins",
            "wijk",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let w = contiguity(&polys, Contiguity::Queen, 1e-6).unwrap();
    assert_emerging_rows(
        &read_csv(&out),
        &library_emerging(ids.len(), &hits, &w),
        &ids,
        "wijk queen",
    );
    let centroids: Vec<(f64, f64)> = polys
        .iter()
        .map(|p| {
            let c = p.centroid().unwrap();
            (c.x(), c.y())
        })
        .collect();
    let out = tmp.path().join("emerging_wijk_1500.geojson");
    ok(
        &d.db,
        &[
            "analyse",
            "emerging",
            "--bins",
            "wijk",
            "--distance",
            "1500",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let want = library_emerging(
        ids.len(),
        &hits,
        &distance_band(&centroids, 1500.0).unwrap(),
    );
    let gj: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let features = gj["features"].as_array().unwrap();
    assert_eq!(features.len(), want.locations.len());
    for (f, l) in features.iter().zip(&want.locations) {
        assert_eq!(f["properties"]["id"], ids[l.location].as_str());
        assert_eq!(f["properties"]["category"], l.category.as_str());
        assert!((f["properties"]["trend_z"].as_f64().unwrap() - l.trend_z).abs() < 1e-9);
        // The wijk polygon, in WGS84 degrees (the demo city lies in the east of the country).
        let ty = f["geometry"]["type"].as_str().unwrap();
        assert!(ty == "Polygon" || ty == "MultiPolygon", "{ty}");
        let mut c = &f["geometry"]["coordinates"];
        while c[0].is_array() {
            c = &c[0];
        }
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!(
            (3.2..7.3).contains(&lon) && (50.7..53.7).contains(&lat),
            "{lon} {lat}"
        );
    }
}

/// Counts per area code from `brandpunt stats --by LEVEL [ARGS]` (summed over categories).
fn stats_by(d: &Demo, level: &str, extra: &[&str]) -> HashMap<String, f64> {
    let mut args = vec!["stats", "--by", level];
    args.extend(extra);
    let stats = ok(&d.db, &args);
    let mut want: HashMap<String, f64> = HashMap::new();
    for l in stats.lines().skip(1) {
        let parts: Vec<&str> = l.split(',').collect();
        *want.entry(parts[0].to_string()).or_default() += parts[2].parse::<f64>().unwrap();
    }
    want
}

#[test]
fn gistar_and_moran_per_wijk_count_like_stats_and_equal_the_library() {
    use brandpunt::analysis::gistar::{gi_star, GiStarOptions};
    use brandpunt::analysis::weights::{contiguity, Contiguity};
    use brandpunt::store::SqliteStore;
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gistar_wijk.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "gistar",
            "--bins",
            "wijk",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    let wijken = SqliteStore::open(&d.db)
        .unwrap()
        .areas(AreaLevel::Wijk, None)
        .unwrap();
    // Every wijk of the boundary set, empty ones included, with the count `brandpunt stats` gives.
    assert_eq!(rows.len(), wijken.len());
    let want = stats_by(d, "wijk", &[]);
    let values: Vec<f64> = wijken
        .iter()
        .map(|w| want.get(&w.code).copied().unwrap_or(0.0))
        .collect();
    for (r, w) in rows.iter().zip(&wijken) {
        assert_eq!(r["id"], w.code);
    }
    assert_close(&col(&rows, "value"), &values, 0.0, "wijk counts");
    let polys: Vec<_> = wijken.iter().map(|w| w.geometry.clone()).collect();
    let w = contiguity(&polys, Contiguity::Queen, 1e-6).unwrap();
    let gi = gi_star(&values, &w, &GiStarOptions::default()).unwrap();
    assert_close(&col(&rows, "z"), &gi.z, 1e-12, "wijk Gi* z");

    // --area restricts the wijken to a gemeente; gemeente bins list every gemeente.
    let out = tmp.path().join("moran_wijk.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "moran",
            "--bins",
            "wijk",
            "--weights",
            "knn:3",
            "--area",
            "GM1999",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let rows = read_csv(&out);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["id"].starts_with("WK1999")));
    assert!(rows.len() < wijken.len());
}

#[test]
fn evaluate_on_h3_cells_and_buurten_scores_the_test_incidents() {
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let incidents = demo_incidents(&d.db);
    let (test_from, test_to) = (
        chrono::NaiveDate::from_ymd_opt(2024, 9, 2).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2024, 9, 29).unwrap(),
    );
    let in_test = |day: &chrono::NaiveDate| *day >= test_from && *day <= test_to;
    for (bins, want_total) in [
        (
            "h3:9",
            incidents
                .iter()
                .filter(|i| i.0.is_some() && in_test(&i.1))
                .count(),
        ),
        (
            "buurt",
            incidents
                .iter()
                .filter(|i| i.2.is_some() && in_test(&i.1))
                .count(),
        ),
    ] {
        let out = tmp.path().join(format!("evaluate_{}.json", &bins[..2]));
        ok(
            &d.db,
            &[
                "analyse",
                "evaluate",
                "--bins",
                bins,
                "--train-from",
                "2024-07-22",
                "--train-to",
                "2024-09-01",
                "--test-from",
                "2024-09-02",
                "--test-to",
                "2024-09-29",
                "--output",
                out.to_str().unwrap(),
            ],
        );
        let rows: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 4, "{bins}");
        let f = |r: &Value, k: &str| r[k].as_f64().unwrap();
        for r in rows {
            assert_eq!(f(r, "test_total"), want_total as f64, "{bins}");
            if f(r, "hotspot_cells") > 0.0 && f(r, "test_hits") > 0.0 {
                assert!((f(r, "hit_rate") - f(r, "test_hits") / want_total as f64).abs() < 1e-12);
                assert!((f(r, "pai") - f(r, "hit_rate") / f(r, "area_share")).abs() < 1e-9);
            }
        }
        if bins == "buurt" {
            // The naive baseline by hand: buurten by their count of the last 28 days of training (`stats`),
            // most first (ties in boundary-set order), until 5 % of the summed buurt areas is reached.
            use brandpunt::store::SqliteStore;
            use geo::Area;
            let buurten = SqliteStore::open(&d.db)
                .unwrap()
                .areas(AreaLevel::Buurt, None)
                .unwrap();
            let last = stats_by(d, "buurt", &["--from", "2024-08-05", "--to", "2024-09-01"]);
            let test = stats_by(d, "buurt", &["--from", "2024-09-02", "--to", "2024-09-29"]);
            let area: Vec<f64> = buurten.iter().map(|b| b.geometry.unsigned_area()).collect();
            let study: f64 = area.iter().sum();
            let mut ranked: Vec<(usize, f64)> = buurten
                .iter()
                .enumerate()
                .map(|(k, b)| (k, last.get(&b.code).copied().unwrap_or(0.0)))
                .filter(|(_, n)| *n > 0.0)
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let (mut used, mut hits, mut n) = (0.0, 0.0, 0.0);
            for (k, _) in ranked {
                if used >= 0.05 * study {
                    break;
                }
                used += area[k];
                hits += test.get(&buurten[k].code).copied().unwrap_or(0.0);
                n += 1.0;
            }
            let base = &rows[3];
            assert_eq!(base["method"], "last_period_top5");
            assert_eq!(f(base, "hotspot_cells"), n);
            assert!((f(base, "area_share") - used / study).abs() < 1e-12);
            assert_eq!(f(base, "test_hits"), hits);
        }
        // Top 5 % by area: at least 5 % of the study area (the crossing cell included), one cell more at most.
        let kde = &rows[0];
        assert!(f(kde, "area_share") >= 0.05 - 1e-12, "{bins}: {kde}");
        // Planted hot spots: the KDE selection beats random selection clearly.
        assert!(f(kde, "pai") > 2.0, "{bins}: {kde}");
    }
}

/// Points around the RD New definition point, 40 m from the centres of 100 m cells.
fn rd_points() -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for k in 0..120u32 {
        let (col, row) = (k % 7, (k * k) % 9);
        let n = 1 + (k % 3);
        for m in 0..n {
            let dx = [-40.0, 40.0, 0.0][m as usize];
            pts.push((
                155_000.0 + f64::from(col) * 100.0 + 50.0 + dx,
                463_000.0 + f64::from(row) * 100.0 + 50.0,
            ));
        }
    }
    pts
}

fn write_xy(path: &Path, header: [&str; 2], pts: &[(f64, f64)]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(header).unwrap();
    for (a, b) in pts {
        w.write_record([format!("{a:.10}"), format!("{b:.10}")])
            .unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn input_crs_converts_wgs84_and_web_mercator_files_to_rd() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let t = brandpunt::coords::Transformer::new().unwrap();
    let pts = rd_points();
    let wgs: Vec<(f64, f64)> = pts
        .iter()
        .map(|&(x, y)| t.rd_to_wgs84(x, y).unwrap())
        .collect();
    let merc: Vec<(f64, f64)> = pts
        .iter()
        .map(|&(x, y)| t.rd_to_web_mercator(x, y).unwrap())
        .collect();
    let rd_csv = dir.path().join("rd.csv");
    write_xy(&rd_csv, ["x", "y"], &pts);
    let lonlat_xy = dir.path().join("lonlat_as_xy.csv");
    write_xy(&lonlat_xy, ["x", "y"], &wgs);
    let merc_csv = dir.path().join("merc.csv");
    write_xy(&merc_csv, ["x", "y"], &merc);
    // A shapefile without .prj holding lon/lat points.
    let shp = dir.path().join("lonlat.shp");
    {
        let drv = gdal::DriverManager::get_driver_by_name("ESRI Shapefile").unwrap();
        let mut ds = drv.create_vector_only(&shp).unwrap();
        let layer = ds
            .create_layer(gdal::vector::LayerOptions {
                name: "lonlat",
                ty: gdal::vector::OGRwkbGeometryType::wkbPoint,
                ..Default::default()
            })
            .unwrap();
        for (lon, lat) in &wgs {
            let g =
                gdal::vector::Geometry::from_wkt(&format!("POINT ({lon:.10} {lat:.10})")).unwrap();
            let mut f = gdal::vector::Feature::new(layer.defn()).unwrap();
            f.set_geometry(g).unwrap();
            f.create(&layer).unwrap();
        }
    }
    let run_gistar = |input: &Path, crs: Option<&str>, name: &str| {
        let out = dir.path().join(name);
        let mut args = vec![
            "analyse",
            "gistar",
            "--input",
            input.to_str().unwrap(),
            "--bins",
            "grid:100",
            "--output",
            out.to_str().unwrap(),
        ];
        if let Some(c) = crs {
            args.extend(["--input-crs", c]);
        }
        ok(&db, &args);
        read_csv(&out)
    };
    let base = run_gistar(&rd_csv, None, "rd.csv.out.csv");
    // Closed form: the counts per cell of the points as laid out.
    let mut want: HashMap<String, f64> = HashMap::new();
    for (x, y) in &pts {
        let key = format!("c100_{}_{}", (x / 100.0).floor(), (y / 100.0).floor());
        *want.entry(key).or_default() += 1.0;
    }
    for r in &base {
        let v: f64 = r["value"].parse().unwrap();
        assert_eq!(v, want.get(&r["id"]).copied().unwrap_or(0.0), "{}", r["id"]);
    }
    for (input, crs, name) in [
        (&lonlat_xy, Some("EPSG:4326"), "a.csv"),
        (&merc_csv, Some("epsg:3857"), "b.csv"),
        (&rd_csv, Some("28992"), "c.csv"),
        (&shp, Some("EPSG:4326"), "d.csv"),
    ] {
        let rows = run_gistar(input, crs, name);
        assert_eq!(rows.len(), base.len(), "{name}");
        for (a, b) in rows.iter().zip(&base) {
            assert_eq!(a["id"], b["id"], "{name}");
            assert_eq!(a["value"], b["value"], "{name}");
            let (za, zb): (f64, f64) = (a["z"].parse().unwrap(), b["z"].parse().unwrap());
            assert!((za - zb).abs() < 1e-12, "{name}");
        }
    }
    // Degrees in x,y without --input-crs: a clear error that names the flag.
    let out = run(
        &db,
        &[
            "analyse",
            "gistar",
            "--input",
            lonlat_xy.to_str().unwrap(),
            "--output",
            dir.path().join("e.csv").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--input-crs EPSG:4326") && err.contains("lonlat_as_xy.csv"),
        "{err}"
    );
}

/// Runs a command that must fail with a Dutch message containing every one of `needles`, and no panic.
fn fails_with(db: &Path, args: &[&str], needles: &[&str]) {
    let out = run(db, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: '{n}' not in: {err}");
    }
}

#[test]
fn bad_combinations_are_clear_errors_naming_the_flag() {
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.csv");
    let o = out.to_str().unwrap();
    let shp = format!("{FIXTURES}columbus.shp");
    let empty_db = dir.path().join("empty.db");
    let csv = dir.path().join("p.csv");
    write_xy(&csv, ["x", "y"], &rd_points());
    let c = csv.to_str().unwrap();
    let mut cases: Vec<(&Path, Vec<&str>, Vec<&str>)> = vec![
        (
            &d.db,
            vec!["analyse", "gistar", "--seed", "3", "--output", o],
            vec!["--seed", "--permutations"],
        ),
        (
            &d.db,
            vec!["analyse", "moran", "--permutations", "0", "--output", o],
            vec!["--permutations"],
        ),
        (
            &d.db,
            vec!["analyse", "emerging", "--bins", "h3:12", "--output", o],
            vec!["--bins", "h3:12"],
        ),
        (
            &d.db,
            vec![
                "analyse",
                "evaluate",
                "--bins",
                "straat",
                "--train-from",
                "2024-07-22",
                "--train-to",
                "2024-09-01",
                "--test-from",
                "2024-09-02",
                "--test-to",
                "2024-09-29",
            ],
            vec!["--bins", "straat"],
        ),
        (
            &d.db,
            vec![
                "analyse",
                "emerging",
                "--bins",
                "wijk",
                "--distance=-5",
                "--output",
                o,
            ],
            vec!["--distance"],
        ),
        (
            &empty_db,
            vec![
                "analyse", "gistar", "--input", c, "--bins", "wijk", "--output", o,
            ],
            vec!["--bins wijk", "CBS"],
        ),
        (
            &d.db,
            vec![
                "analyse", "gistar", "--bins", "wijk", "--area", "GM0363", "--output", o,
            ],
            vec!["--area GM0363"],
        ),
        (
            &empty_db,
            vec![
                "analyse", "gistar", "--input", &shp, "--value", "CRIME", "--bins", "h3:9",
                "--output", o,
            ],
            vec!["--bins", "--value"],
        ),
        (
            &empty_db,
            vec!["analyse", "gistar", "--input", &shp, "--output", o],
            vec!["--value"],
        ),
        (
            &d.db,
            vec![
                "analyse",
                "gistar",
                "--input-crs",
                "EPSG:4326",
                "--output",
                o,
            ],
            vec!["--input-crs", "--input"],
        ),
        (
            &empty_db,
            vec![
                "analyse",
                "kde",
                "--input",
                c,
                "--input-crs",
                "EPSG:2154",
                "--output",
                o,
            ],
            vec!["--input-crs EPSG:2154", "CSV"],
        ),
        (
            &empty_db,
            vec![
                "analyse",
                "kde",
                "--input",
                c,
                "--input-crs",
                "lambert",
                "--output",
                o,
            ],
            vec!["--input-crs 'lambert'"],
        ),
        (
            &empty_db,
            vec![
                "analyse",
                "gistar",
                "--input",
                c,
                "--weights",
                "knn:0",
                "--output",
                o,
            ],
            vec!["--weights"],
        ),
        (
            &d.db,
            vec!["analyse", "gistar", "--bins", "gemeente", "--output", o],
            vec!["Gi*"],
        ),
    ];
    cases.push((
        &d.db,
        vec![
            "analyse",
            "emerging",
            "--bins",
            "h3:9",
            "--time-window",
            "9",
            "--output",
            o,
        ],
        vec!["--time-window 9", "10 stappen"],
    ));
    cases.push((
        &d.db,
        vec![
            "analyse",
            "emerging",
            "--bins",
            "buurt",
            "--area",
            "BU19980000",
            "--output",
            o,
        ],
        vec!["geen incidenten"],
    ));
    for (db, args, needles) in cases {
        fails_with(db, &args, &needles);
    }
}

#[test]
fn file_points_per_buurt_and_wijk_follow_the_generators_buurtcodes() {
    use brandpunt::analysis::weights::{contiguity, Contiguity};
    use brandpunt::store::SqliteStore;
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    // The planted incidents with a point, with the buurt the generator put each one in.
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(d.files.join("truth_incidents.csv"))
        .unwrap();
    let input = tmp.path().join("points_with_time.csv");
    let mut w = csv::Writer::from_path(&input).unwrap();
    w.write_record(["x", "y", "begin", "eind"]).unwrap();
    let mut truth: Vec<(String, chrono::NaiveDate)> = Vec::new();
    for rec in r.deserialize::<HashMap<String, String>>() {
        let rec = rec.unwrap();
        if rec["x_m"].is_empty() {
            continue;
        }
        w.write_record([&rec["x_m"], &rec["y_m"], &rec["begin"], &rec["eind"]])
            .unwrap();
        let day = chrono::NaiveDate::parse_from_str(&rec["begin"][..10], "%Y-%m-%d").unwrap();
        truth.push((rec["buurtcode"].clone(), day));
    }
    w.flush().unwrap();
    let store = SqliteStore::open(&d.db).unwrap();
    let buurten = store.areas(AreaLevel::Buurt, None).unwrap();
    let index: HashMap<&str, usize> = buurten
        .iter()
        .enumerate()
        .map(|(i, b)| (b.code.as_str(), i))
        .collect();
    let hits: Vec<(usize, chrono::NaiveDate)> = truth
        .iter()
        .map(|(b, day)| (index[b.as_str()], *day))
        .collect();
    let ids: Vec<String> = buurten.iter().map(|b| b.code.clone()).collect();
    let polys: Vec<_> = buurten.iter().map(|b| b.geometry.clone()).collect();
    let out = tmp.path().join("emerging_file_buurt.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "emerging",
            "--input",
            input.to_str().unwrap(),
            "--bins",
            "buurt",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let wq = contiguity(&polys, Contiguity::Queen, 1e-6).unwrap();
    assert_emerging_rows(
        &read_csv(&out),
        &library_emerging(ids.len(), &hits, &wq),
        &ids,
        "file points per buurt",
    );

    // Gi* per wijk of the same points: the counts of the generator's buurten summed per wijk.
    let out = tmp.path().join("gistar_file_wijk.csv");
    ok(
        &d.db,
        &[
            "analyse",
            "gistar",
            "--input",
            input.to_str().unwrap(),
            "--bins",
            "wijk",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let mut want: HashMap<String, f64> = HashMap::new();
    for (b, _) in &truth {
        let wijk = buurten[index[b.as_str()]].wijkcode.clone().unwrap();
        *want.entry(wijk).or_default() += 1.0;
    }
    let rows = read_csv(&out);
    assert_eq!(
        rows.len(),
        store.areas(AreaLevel::Wijk, None).unwrap().len()
    );
    for r in &rows {
        let v: f64 = r["value"].parse().unwrap();
        assert_eq!(v, want.get(&r["id"]).copied().unwrap_or(0.0), "{}", r["id"]);
    }
}

/// `--bbox` and `--area custom:ID` restrict an analysis to the incidents located in the box or the drawn area.
#[test]
fn analyses_take_a_box_or_a_drawn_area_as_study_area() {
    use geo::{BoundingRect, Intersects};
    // Own database: this test draws an area.
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("study.db");
    std::fs::copy(&d.db, &db).unwrap();
    let mut store = brandpunt::store::SqliteStore::open(&db).unwrap();
    let filter = brandpunt::store::IncidentFilter {
        tenant: "default".into(),
        categories: vec![],
        sources: vec![],
        from: None,
        to: None,
    };
    let located: Vec<(f64, f64)> = store
        .incidents(&filter)
        .unwrap()
        .into_iter()
        .filter_map(|i| i.x_m.zip(i.y_m))
        .collect();
    // Gi* on 100 m cells: the cells' values add up to the incidents analysed.
    let total_weight = |args: &[&str]| -> f64 {
        let out = dir.path().join("t.csv");
        let mut all: Vec<String> = ["analyse", "gistar", "--bins", "grid:100", "--output"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        all.push(out.to_str().unwrap().to_string());
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        ok(&db, &all);
        col(&read_csv(&out), "value").iter().sum()
    };
    let everything = total_weight(&[]);
    assert!((everything - located.len() as f64).abs() < 1e-6);
    assert!((total_weight(&["--bbox", "3.2,50.7,7.3,53.6"]) - everything).abs() < 1e-6);

    // A box of about 1.4 x 2.2 km around the middle incident: the incidents whose RD point lies in it.
    let mut xs: Vec<f64> = located.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = located.iter().map(|p| p.1).collect();
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    let t = brandpunt::coords::Transformer::new().unwrap();
    let (lon, lat) = t.rd_to_wgs84(xs[xs.len() / 2], ys[ys.len() / 2]).unwrap();
    let bbox = format!(
        "{},{},{},{}",
        lon - 0.01,
        lat - 0.01,
        lon + 0.01,
        lat + 0.01
    );
    let bbox = bbox.as_str();
    let rect = brandpunt::coords::bbox_wgs84_to_rd(bbox).unwrap();
    let inside = located
        .iter()
        .filter(|&&(x, y)| {
            (rect.min().x..=rect.max().x).contains(&x) && (rect.min().y..=rect.max().y).contains(&y)
        })
        .count();
    let boxed = total_weight(&["--bbox", bbox]);
    assert!(inside > 0 && inside < located.len(), "{inside}");
    assert!((boxed - inside as f64).abs() < 1e-6, "{boxed} vs {inside}");

    // A drawn area: the polygon of the buurt holding the first located incident, drawn as a custom area.
    let first = geo_types::Point::new(located[0].0, located[0].1);
    let buurt = store
        .areas(AreaLevel::Buurt, None)
        .unwrap()
        .into_iter()
        .find(|b| b.geometry.intersects(&first))
        .unwrap();
    let id = store
        .insert_custom_area("default", "Getekend", &buurt.geometry)
        .unwrap();
    drop(store);
    let in_drawn = located
        .iter()
        .filter(|&&(x, y)| buurt.geometry.intersects(&geo_types::Point::new(x, y)))
        .count();
    assert!(buurt.geometry.bounding_rect().is_some());
    let drawn = total_weight(&["--area", &format!("custom:{id}")]);
    assert!(
        (drawn - in_drawn as f64).abs() < 1e-6,
        "{drawn} vs {in_drawn}"
    );

    // Without --area or --bbox the study area is the tenant's gemeenten: an incident outside every buurt is left
    // out, while a box that holds it takes it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let changed = conn
        .execute(
            "UPDATE incident SET buurtcode = NULL \
             WHERE id = (SELECT min(id) FROM incident WHERE x IS NOT NULL)",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let outside_left_out = total_weight(&[]);
    assert!(
        (outside_left_out - (everything - 1.0)).abs() < 1e-6,
        "{outside_left_out} vs {everything}"
    );
    assert!((total_weight(&["--bbox", "3.2,50.7,7.3,53.6"]) - everything).abs() < 1e-6);

    // Clear errors naming the flag.
    let out = dir.path().join("e.csv");
    let o = out.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--bbox", "13,52,14,53"], &["--bbox", "binnen Nederland"]),
        (&["--bbox", "6.9,52.2,6.85,52.23"], &["--bbox"]),
        (&["--area", "custom:99999"], &["--area", "99999"]),
        (&["--area", "custom:x"], &["--area"]),
        (
            &["--area", "GM1999", "--bbox", "6.0,52.0,6.1,52.1"],
            &["--bbox"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["analyse", "gistar", "--bins", "grid:100", "--output", o];
        args.extend_from_slice(extra);
        fails_with(&db, &args, needles);
    }
}

/// The planted low-WOZ cannabis farms (`ground_truth.json` → `woz.planted`) on the default city (the small one has
/// too few other 3.1.1 incidents to contrast them with): the relative risk of the lowest WOZ class is not the
/// same across buurten, it lies above 1 in the two planted buurten, and those have the most farms in that class.
/// Burglary shows no such difference in relative risk (its incidents still fall in different classes per buurt,
/// because the buurten differ in their houses: the distribution test rejects, the risk test does not).
#[test]
fn woz_profile_by_buurt_on_the_command_line_finds_the_planted_farms() {
    let d = default_demo();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("woz.json");
    let args = |out: &Path| -> Vec<String> {
        [
            "analyse",
            "profile",
            "--category",
            "3.1.1",
            "--area",
            "GM1999",
            "--dimension",
            "woz",
            "--by",
            "buurt",
            "--output",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = args(&json);
    ok(&d.db, &a.iter().map(String::as_str).collect::<Vec<_>>());
    let v: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["by"], "buurt");
    assert!(
        v["risk_test"]["p_value"].as_f64().unwrap() < 0.05,
        "{}",
        v["risk_test"]
    );
    let gt = ground_truth(&d.files);
    let mut by_low: Vec<(u64, String)> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| {
            let r = g["rows"]
                .as_array()?
                .iter()
                .find(|r| r["class"] == "<150.000")?;
            Some((r["incidents"].as_u64()?, g["group"].as_str()?.to_string()))
        })
        .collect();
    by_low.sort_by(|a, b| b.cmp(a));
    let mut top: Vec<&str> = by_low[..2].iter().map(|(_, g)| g.as_str()).collect();
    top.sort();
    let mut planted: Vec<&str> = gt["woz"]["planted"]["buurtcodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    planted.sort();
    assert_eq!(top, planted, "{by_low:?}");
    for b in gt["woz"]["planted"]["buurtcodes"].as_array().unwrap() {
        let g = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"] == *b)
            .unwrap();
        let low = g["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["class"] == "<150.000")
            .unwrap();
        assert!(
            low["relative_risk"]["ci_lower"].as_f64().unwrap() > 1.0,
            "{b}: {low}"
        );
    }
    // CSV: the whole area (empty group) and every buurt, the same numbers.
    let csv = dir.path().join("woz.csv");
    let a = args(&csv);
    ok(&d.db, &a.iter().map(String::as_str).collect::<Vec<_>>());
    let rows = read_csv(&csv);
    let overall: u64 = rows
        .iter()
        .filter(|r| r["group"].is_empty())
        .map(|r| r["incidents"].parse::<u64>().unwrap())
        .sum();
    let in_groups: u64 = rows
        .iter()
        .filter(|r| !r["group"].is_empty())
        .map(|r| r["incidents"].parse::<u64>().unwrap())
        .sum();
    assert!(
        overall > 0 && overall == in_groups,
        "{overall} vs {in_groups}"
    );
    assert!(rows.iter().all(|r| r["dimension"] == "woz"));
    // Burglary: no difference in relative risk across buurten.
    let burglary = dir.path().join("inbraak.json");
    ok(
        &d.db,
        &[
            "analyse",
            "profile",
            "--category",
            "inbraak",
            "--area",
            "GM1999",
            "--dimension",
            "woz",
            "--by",
            "buurt",
            "--output",
            burglary.to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&burglary).unwrap()).unwrap();
    let risk = v["risk_test"]["p_value"].as_f64().unwrap();
    assert!(risk > 0.05, "burglary risk test p {risk}");
    assert!(v["distribution_test"]["p_value"].as_f64().unwrap() < 0.05);
    fails_with(
        &d.db,
        &["analyse", "profile", "--category", "3.1.1", "--by", "buurt"],
        &["--by", "--dimension"],
    );
    fails_with(
        &d.db,
        &[
            "analyse",
            "profile",
            "--category",
            "3.1.1",
            "--dimension",
            "energielabel",
        ],
        &["energielabel", "woz_waarde"],
    );
}

/// The rows of the first worksheet of an `.xlsx` file as GDAL's XLSX driver reads them (first row as header,
/// every cell as its own text): the header and the rows.
fn read_xlsx(path: &Path) -> (String, Vec<String>, Vec<Vec<String>>) {
    // GDAL 3.6 takes these as (thread-local) configuration options, read when a sheet is loaded.
    gdal::config::set_thread_local_config_option("OGR_XLSX_HEADERS", "FORCE").unwrap();
    gdal::config::set_thread_local_config_option("OGR_XLSX_FIELD_TYPES", "STRING").unwrap();
    let ds = Dataset::open(path).unwrap();
    let (name, header, rows) = {
        let mut layer = ds.layer(0).unwrap();
        let header: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
        let rows = layer
            .features()
            .map(|f| {
                (0..header.len())
                    .map(|i| f.field_as_string(i).unwrap().unwrap_or_default())
                    .collect()
            })
            .collect();
        (layer.name(), header, rows)
    };
    drop(ds);
    for k in ["OGR_XLSX_HEADERS", "OGR_XLSX_FIELD_TYPES"] {
        gdal::config::clear_thread_local_config_option(k).unwrap();
    }
    (name, header, rows)
}

#[test]
fn xlsx_output_holds_the_csv_cells() {
    let d = default_demo();
    let tmp = tempfile::tempdir().unwrap();
    let mut cells = BTreeMap::new();
    for ext in ["csv", "xlsx"] {
        let out = tmp.path().join(format!("maanden.{ext}"));
        ok(
            &d.db,
            &[
                "analyse",
                "time",
                "--by",
                "month",
                "--category",
                "inbraak",
                "--output",
                out.to_str().unwrap(),
            ],
        );
        cells.insert(ext, out);
    }
    let text = std::fs::read_to_string(&cells["csv"]).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    let records: Vec<Vec<String>> = rd
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert!(records.len() > 6, "{} months", records.len());
    let bytes = std::fs::read(&cells["xlsx"]).unwrap();
    assert_eq!(&bytes[..2], b"PK");
    let (sheet, xlsx_header, rows) = read_xlsx(&cells["xlsx"]);
    assert_eq!(sheet, "Resultaat");
    assert_eq!(xlsx_header, header);
    assert_eq!(rows, records, "every cell as in the CSV");
    // An unknown extension names the choices, .xlsx among them.
    let r = run(
        &d.db,
        &["analyse", "time", "--by", "month", "--output", "x.ods"],
    );
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains(".xlsx"));
}
