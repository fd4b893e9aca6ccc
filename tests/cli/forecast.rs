//! `brandpunt analyse forecast` and `analyse evaluate --folds` end to end on the open_cp oracle set
//! (`tests/fixtures/forecast_open_cp/`, see its README): the CSV layout (cell centres, south row first), the
//! GeoTIFF orientation, errors naming the parameter, and the rolling evaluation's hit counts against open_cp's
//! `hit_counts` on the oracle's own split (one fold at 2024-02-14 with a 7-day horizon).

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/forecast_open_cp"
);
const EXTENT: &str = "230000,460000,235000,465000";

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run brandpunt")
}

fn ok(db: &Path, args: &[&str]) -> Output {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "brandpunt {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
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

fn grid_file(name: &str) -> Vec<f64> {
    std::fs::read_to_string(format!("{DIR}/{name}"))
        .unwrap()
        .lines()
        .flat_map(|l| {
            l.split(',')
                .map(|v| v.trim().parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn forecast(db: &Path, method: &str, output: &Path, extra: &[&str]) -> Output {
    let events = format!("{DIR}/events.csv");
    let out = output.to_str().unwrap();
    let mut args = vec![
        "analyse",
        "forecast",
        "--input",
        &events,
        "--method",
        method,
        "--cell",
        "50",
        "--extent",
        EXTENT,
        "--at",
        "2024-02-14",
        "--output",
        out,
    ];
    args.extend_from_slice(extra);
    ok(db, &args)
}

#[test]
fn forecast_csv_and_geotiff_equal_open_cp_grids() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let naive = tmp.path().join("naive.csv");
    forecast(&db, "naive", &naive, &["--days", "all"]);
    let rows = read_csv(&naive);
    assert_eq!(rows.len(), 10_000);
    let want = grid_file("naive_counts.csv");
    for (k, r) in rows.iter().enumerate() {
        let (row, col) = (k / 100, k % 100);
        assert_eq!(
            r["x"].parse::<f64>().unwrap(),
            230_025.0 + 50.0 * col as f64
        );
        assert_eq!(
            r["y"].parse::<f64>().unwrap(),
            460_025.0 + 50.0 * row as f64
        );
        assert_eq!(r["risk"].parse::<f64>().unwrap(), want[k], "cell {k}");
    }
    let pro = tmp.path().join("prospective.csv");
    forecast(&db, "prospective", &pro, &[]);
    let want = grid_file("prospective_intensity.csv");
    let max = want.iter().cloned().fold(0.0, f64::max);
    for (k, r) in read_csv(&pro).iter().enumerate() {
        assert!((r["risk"].parse::<f64>().unwrap() - want[k]).abs() <= 1e-12 * max);
    }
    // GeoTIFF (Float32): north-up, so its first row is the oracle's last (northernmost) row.
    let tif = tmp.path().join("prospective.tif");
    forecast(&db, "prospective", &tif, &[]);
    let ds = gdal::Dataset::open(&tif).unwrap();
    let gt = ds.geo_transform().unwrap();
    assert_eq!(
        (gt[0], gt[3], gt[1], gt[5]),
        (230_000.0, 465_000.0, 50.0, -50.0)
    );
    let band = ds.rasterband(1).unwrap();
    let buf = band
        .read_as::<f64>((0, 0), (100, 1), (100, 1), None)
        .unwrap();
    for (col, v) in buf.data().iter().enumerate() {
        assert!(
            (v - want[99 * 100 + col]).abs() <= 1e-6 * max,
            "column {col}"
        );
    }
    // SEPP writes its fit beside the output.
    let sepp = tmp.path().join("sepp.geojson");
    forecast(&db, "sepp", &sepp, &[]);
    let fit: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("sepp.geojson.sepp.json")).unwrap(),
    )
    .unwrap();
    let theta = fit["fit"]["theta"].as_f64().unwrap();
    assert!((theta - 0.05226896842447727).abs() < 1e-9 * theta);
    let gj: Value = serde_json::from_str(&std::fs::read_to_string(&sepp).unwrap()).unwrap();
    // Only cells with risk > 0: the 1,098 cells with training incidents.
    assert_eq!(gj["features"].as_array().unwrap().len(), 1098);
}

#[test]
fn forecast_errors_name_the_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let events = format!("{DIR}/events.csv");
    let out = tmp.path().join("x.csv");
    let out = out.to_str().unwrap();
    for (extra, needle) in [
        (vec!["--method", "foo"], "--method"),
        (vec!["--method", "naive", "--days", "0"], "--days"),
        (vec!["--method", "kde", "--bandwidth=-5"], "--bandwidth"),
        (
            vec!["--method", "prospective", "--space-cells", "0"],
            "--space-cells",
        ),
        (
            vec!["--method", "sepp", "--iterations", "0"],
            "--iterations",
        ),
        (vec!["--method", "naive", "--cell", "0"], "--cell"),
        (vec!["--method", "naive", "--horizon", "0"], "--horizon"),
    ] {
        let mut args = vec![
            "analyse",
            "forecast",
            "--input",
            &events,
            "--at",
            "2024-02-14",
            "--output",
            out,
        ];
        args.extend(extra.iter().copied());
        let o = run(&db, &args);
        assert!(!o.status.success(), "{extra:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
}

#[test]
fn rolling_evaluation_hits_equal_open_cp_on_its_split() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let events = format!("{DIR}/events.csv");
    let out = tmp.path().join("evaluate.csv");
    let o = ok(
        &db,
        &[
            "analyse",
            "evaluate",
            "--input",
            &events,
            "--folds",
            "1",
            "--horizon",
            "7",
            "--until",
            "2024-02-20",
            "--bins",
            "grid:50",
            "--extent",
            EXTENT,
            "--days",
            "all",
            "--coverages",
            "1,5,10",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("fractionele treffers"));
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/expected.json")).unwrap())
            .unwrap();
    let rows = read_csv(&out);
    // 4 methods x 3 coverages for the fold, then as many averages.
    assert_eq!(rows.len(), 24);
    for r in rows.iter().filter(|r| r["fold"] == "1") {
        assert_eq!(r["origin"], "2024-02-14");
        assert_eq!(r["test_events"], "126");
        let key = match r["method"].as_str() {
            "naive" => "naive_counts",
            "kde" => "retro_quartic",
            m => m,
        };
        let cov = r["coverage_pct"].as_str();
        let o = &expected["hit_rates"]["results"][key][cov];
        let hits: f64 = r["hits"].parse().unwrap();
        if o["robust"].as_bool().unwrap() {
            assert_eq!(hits, o["hits_open_cp"].as_f64().unwrap(), "{key} {cov}");
        } else {
            let random = o["tolerant_ties"]["hits_expected_random_tiebreak"]
                .as_f64()
                .unwrap();
            assert!(
                (hits - random).abs() < 1e-9,
                "{key} {cov}: {hits} vs {random}"
            );
        }
    }
    for r in rows.iter().filter(|r| r["fold"] == "gemiddeld") {
        let verdict = r["verdict"].as_str();
        if r["method"] == "naive" {
            assert_eq!(verdict, "");
        } else {
            // One fold can never give p < 0.05 (the smallest p is 1/2).
            assert_eq!(verdict, "niet beter dan tellen");
        }
    }
}
