//! `brandpunt analyse near-repeat` and `analyse repeats` end to end through the binary:
//! - the Near Repeat Calculator's Chicago data (header-less `x,y,date`, tests/fixtures/near_repeat/, GPL-3, see
//!   NOTICE.md there) with `--nrc-compatible`: the CSV's observed table equals the NRC's, the JSON has the same
//!   cells; the same file with a header gives the same table;
//! - bad settings and bad files are errors naming the flag, or the file, line and column;
//! - repeat victims on the small demo city: the histogram and the time-to-next bins add up.

use crate::common::demo::{cli_ok as ok, demo};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/near_repeat/");

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run brandpunt")
}

fn failure(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(!out.status.success(), "brandpunt {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}expected.json")).unwrap())
        .unwrap()
}

#[test]
fn nrc_compatible_tables_equal_the_calculator_on_the_chicago_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let expected = expected();
    for case in expected["cases"].as_array().unwrap() {
        let data = case["data"].as_str().unwrap();
        let s = &case["nrc_settings"];
        let (bw, tw) = (
            s["spatial_bandwidth"].as_u64().unwrap(),
            s["temporal_bandwidth_days"].as_u64().unwrap(),
        );
        let dist = format!("{},{},{}", bw, 2 * bw, 3 * bw);
        let time = format!("{},{},{}", tw, 2 * tw, 3 * tw);
        let input = format!("{FIXTURES}{data}");
        let out_csv = dir.path().join(format!("{data}.out.csv"));
        let out_json = dir.path().join(format!("{data}.out.json"));
        for out in [&out_csv, &out_json] {
            ok(
                &db,
                &[
                    "analyse",
                    "near-repeat",
                    "--input",
                    &input,
                    "--input-crs",
                    "EPSG:26971",
                    "--distance-bands",
                    &dist,
                    "--time-bands",
                    &time,
                    "--metric",
                    "manhattan",
                    "--iterations",
                    "99",
                    "--seed",
                    "1",
                    "--nrc-compatible",
                    "--output",
                    out.to_str().unwrap(),
                ],
            );
        }
        let rows = read_csv(&out_csv);
        let nrc = case["nrc_observed"].as_array().unwrap();
        let columns = nrc[0].as_array().unwrap().len();
        assert_eq!(rows.len(), nrc.len() * columns, "{data}");
        assert_eq!(
            rows[0]
                .keys()
                .map(String::as_str)
                .collect::<std::collections::BTreeSet<_>>(),
            [
                "distance_band",
                "time_band",
                "observed",
                "expected",
                "ratio",
                "p",
                "expected_analytic",
                "ratio_analytic"
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(rows[0]["distance_band"], "0");
        assert_eq!(rows[columns]["distance_band"], format!("(0,{bw})"));
        assert_eq!(
            rows[rows.len() - 1]["distance_band"],
            format!("[{},inf)", 3 * bw)
        );
        for (r, row) in nrc.iter().enumerate() {
            for (t, cell) in row.as_array().unwrap().iter().enumerate() {
                let got: u64 = rows[r * columns + t]["observed"].parse().unwrap();
                assert_eq!(got, cell.as_f64().unwrap_or(0.0) as u64, "{data} ({r},{t})");
            }
        }
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(&out_json).unwrap()).unwrap();
        assert_eq!(json["pairs"], case["pairs"]);
        assert_eq!(json["iterations"], 99);
        let cells = json["cells"].as_array().unwrap();
        for (k, row) in rows.iter().enumerate() {
            assert_eq!(cells[k]["observed"].to_string(), row["observed"]);
            assert_eq!(
                cells[k]["p"].as_f64().unwrap(),
                row["p"].parse::<f64>().unwrap()
            );
        }
    }
}

#[test]
fn a_header_gives_the_same_table_as_the_header_less_form() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let with_header = dir.path().join("arson_header.csv");
    let text = std::fs::read_to_string(format!("{FIXTURES}chicago_arson.csv")).unwrap();
    std::fs::write(&with_header, format!("x,y,datum\n{text}")).unwrap();
    let mut tables = Vec::new();
    for input in [
        format!("{FIXTURES}chicago_arson.csv"),
        with_header.display().to_string(),
    ] {
        let out = dir.path().join(format!("{}.csv", tables.len()));
        ok(
            &db,
            &[
                "analyse",
                "near-repeat",
                "--input",
                &input,
                "--input-crs",
                "EPSG:26971",
                "--iterations",
                "19",
                "--output",
                out.to_str().unwrap(),
            ],
        );
        tables.push(std::fs::read_to_string(out).unwrap());
    }
    assert_eq!(tables[0], tables[1]);
}

#[test]
fn bad_settings_and_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let input = format!("{FIXTURES}chicago_arson.csv");
    let out = dir.path().join("o.csv");
    let out = out.to_str().unwrap();
    let base = ["analyse", "near-repeat", "--input", &input, "--output", out];
    for (extra, flag) in [
        (["--distance-bands", "200,100"], "--distance-bands"),
        (["--distance-bands", "0,100"], "--distance-bands"),
        (["--time-bands", "7,7"], "--time-bands"),
        (["--iterations", "18"], "--iterations"),
        (["--iterations", "10000"], "--iterations"),
        (["--metric", "chebyshev"], "--metric"),
        (["--input-crs", "EPSG:4258"], "--input-crs"),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra).collect();
        let e = failure(&db, &args);
        assert!(e.contains(flag), "{extra:?}: {e}");
    }
    // A bad number and a bad date name the file, the line and the column.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "1.0,2.0,2016-01-01\n3.0,abc,2016-01-02\n").unwrap();
    let e = failure(
        &db,
        &[
            "analyse",
            "near-repeat",
            "--input",
            bad.to_str().unwrap(),
            "--output",
            out,
        ],
    );
    assert!(
        e.contains("bad.csv") && e.contains("regel 2") && e.contains("kolom 2"),
        "{e}"
    );
    std::fs::write(&bad, "1.0,2.0,2016-01-01\n3.0,4.0,gisteren\n").unwrap();
    let e = failure(
        &db,
        &[
            "analyse",
            "near-repeat",
            "--input",
            bad.to_str().unwrap(),
            "--output",
            out,
        ],
    );
    assert!(e.contains("regel 2") && e.contains("kolom 3"), "{e}");
    // One event: no pairs.
    std::fs::write(&bad, "1.0,2.0,2016-01-01\n").unwrap();
    let e = failure(
        &db,
        &[
            "analyse",
            "near-repeat",
            "--input",
            bad.to_str().unwrap(),
            "--output",
            out,
        ],
    );
    assert!(e.contains("minstens 2"), "{e}");
}

#[test]
fn repeat_victims_of_the_demo_burglaries_add_up() {
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("repeats.json");
    let csv = dir.path().join("repeats.csv");
    for out in [&json, &csv] {
        ok(
            &d.db,
            &[
                "analyse",
                "repeats",
                "--category",
                "inbraak",
                "--output",
                out.to_str().unwrap(),
            ],
        );
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let n = |k: &str| v[k].as_u64().unwrap();
    assert!(n("incidents") > 0);
    assert_eq!(n("repeats"), n("incidents") - n("addresses"));
    let hist = v["histogram"].as_array().unwrap();
    let addresses: u64 = hist.iter().map(|b| b["addresses"].as_u64().unwrap()).sum();
    let incidents: u64 = hist.iter().map(|b| b["incidents"].as_u64().unwrap()).sum();
    assert_eq!((addresses, incidents), (n("addresses"), n("incidents")));
    let gaps: u64 = v["time_to_next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(gaps, n("repeats"));
    let percent: f64 = hist.iter().map(|b| b["percent"].as_f64().unwrap()).sum();
    assert!((percent - 100.0).abs() < 1e-9);
    let rows = read_csv(&csv);
    assert_eq!(rows.len() as u64, n("addresses"));
    let listed: u64 = rows
        .iter()
        .map(|r| r["incidents"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(listed, n("incidents"));
}
