//! `brandpunt analyse near-repeat` and `analyse repeats` end to end through the binary:
//! - the Near Repeat Calculator's Chicago data (header-less `x,y,date`, tests/fixtures/near_repeat/, GPL-3, see
//!   NOTICE.md there) with `--nrc-compatible`: the CSV's observed table equals the NRC's, the JSON has the same
//!   cells; the same file with a header gives the same table;
//! - bad settings and bad files are errors naming the flag, or the file, line and column;
//! - repeat victims on the small demo city: the histogram and the time-to-next bins add up.

use crate::common::demo::{cli_ok as ok, default_demo, demo, Demo};
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

/// The Knox table of the demo's `inbraak` incidents with the bands of the ground truth, as JSON.
fn demo_knox(d: &Demo) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("knox.json");
    ok(
        &d.db,
        &[
            "analyse",
            "near-repeat",
            "--category",
            "inbraak",
            "--distance-bands",
            "100,200,300,400",
            "--time-bands",
            "7,14,21,28",
            "--iterations",
            "999",
            "--seed",
            "1",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let table: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(d.files.join("ground_truth.json")).unwrap())
            .unwrap();
    (table, truth["near_repeat"].clone())
}

fn cell<'a>(table: &'a Value, distance: &str, time: &str) -> &'a Value {
    table["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["distance_band"] == distance && c["time_band"] == time)
        .unwrap_or_else(|| panic!("no cell {distance} x {time}"))
}

/// The planted near repeats raise the `elevated` cells (all of the truth's `expected_elevated_cells`) and not the
/// `[400,inf)` row.
///
/// Bound on the ratio, from the planted counts: of a distance band's R pairs (its row total), F_row are planted
/// follow-up pairs, F_c of them in the time band, and the time shuffle puts a pair in the time band with
/// probability s = column total / pairs (the exact permutation mean is R s). If the unplanted pairs fall in the
/// band at the shuffled rate, the cell holds (R - F_row) s + F_c pairs, a ratio of 1 + (F_c - F_row s) / (R s).
/// With follow-ups 1-6 days later with probability 0.75 (`p_follow_up_within_7_days`) and s about 2 x 7 / T
/// (0.19 for the small city's 70 days, 0.02 for the default city's two years) that excess is large; the test
/// asserts the ratio exceeds 1 + half of it (chains add more pairs: follow-ups of follow-ups), that `observed`
/// holds at least the planted pairs, and the Knox test's own verdict p <= 0.01 at 999 iterations. The small city
/// has ~10 follow-ups, only a quarter of them in `[7,14)` where s is as large as in `[0,7)`: it is checked in
/// `[0,7)` only.
fn planted_near_repeats_are_found(d: &Demo, elevated: &[(&str, &str)]) {
    let (table, truth) = demo_knox(d);
    let want: Vec<(String, String)> = truth["expected_elevated_cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_str().unwrap().into(), c[1].as_str().unwrap().into()))
        .collect();
    let index = |key: &str, label: &str| {
        table[key]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| l == label)
            .unwrap()
    };
    let total = |key: &str, i: usize| table[key][i].as_f64().unwrap();
    let pairs = table["pairs"].as_f64().unwrap();
    let planted_in = |prefix: &str| -> f64 {
        truth["follow_ups_by_cell"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.as_f64().unwrap())
            .sum()
    };
    for &(distance, time) in elevated {
        assert!(
            want.contains(&(distance.into(), time.into())),
            "{distance} x {time} is a planted cell"
        );
        let c = cell(&table, distance, time);
        let observed = c["observed"].as_f64().unwrap();
        let f_c = planted_in(&format!("{distance} x {time}"));
        let f_row = planted_in(&format!("{distance} x "));
        let r = total("row_totals", index("distance_bands", distance));
        let s = total("column_totals", index("time_bands", time)) / pairs;
        assert!(f_c >= 1.0, "{distance} x {time}: nothing planted");
        assert!(
            observed >= f_c,
            "{distance} x {time}: {observed} pairs < {f_c} planted"
        );
        let excess = (f_c - f_row * s) / (r * s);
        let ratio = c["ratio"].as_f64().unwrap();
        let p = c["p"].as_f64().unwrap();
        assert!(
            ratio > 1.0 + excess / 2.0,
            "{distance} x {time}: ratio {ratio}, planted excess {excess}"
        );
        assert!(p <= 0.01, "{distance} x {time}: p {p}");
    }
    let far = truth["expected_not_elevated_distance_band"]
        .as_str()
        .unwrap();
    assert_eq!(far, "[400,inf)");
    for time in ["[0,7)", "[7,14)", "[14,21)", "[21,28)", "[28,inf)"] {
        let c = cell(&table, far, time);
        let ratio = c["ratio"].as_f64().unwrap();
        assert!(ratio < 1.1, "{far} x {time}: ratio {ratio}");
        // The planted time bands: no near-repeat signal far away.
        if time == "[0,7)" || time == "[7,14)" {
            let p = c["p"].as_f64().unwrap();
            assert!(p > 0.05, "{far} x {time}: p {p}");
        }
    }
}

/// `analyse repeats` lists every planted repeat address with all its burglaries, and the 2/3/4+ bins of the
/// histogram equal the ground truth's (every true `inbraak` incident with a delivered address, grouped by
/// address). Rows the import cannot match to an address (a few misspelt streets in the default city, all at
/// single-incident addresses) can only lower the `1` bin.
fn planted_repeat_addresses_are_found(d: &Demo) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("repeats.json");
    ok(
        &d.db,
        &[
            "analyse",
            "repeats",
            "--category",
            "inbraak",
            "--output",
            json.to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let per_address: HashMap<String, u64> = v["per_address"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap().to_string(),
                a["incidents"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut truth_per_address: HashMap<String, u64> = HashMap::new();
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(d.files.join("truth_incidents.csv"))
        .unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (bron, cat, addr) = (col("bron"), col("categorie"), col("adres_identificatie"));
    for rec in r.records() {
        let rec = rec.unwrap();
        let code = &rec[cat][..5.min(rec[cat].len())];
        if &rec[bron] == "politie" && (code == "1.1.1" || code == "1.1.2") && !rec[addr].is_empty()
        {
            *truth_per_address.entry(rec[addr].to_string()).or_insert(0) += 1;
        }
    }
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(d.files.join("ground_truth.json")).unwrap())
            .unwrap();
    let planted = truth["near_repeat"]["repeat_addresses"].as_array().unwrap();
    assert_eq!(planted.len(), 4);
    for a in planted {
        let id = a["address"].as_str().unwrap();
        let visits = a["registrations"].as_array().unwrap().len() as u64;
        assert!((2..=4).contains(&visits), "{id}: {visits}");
        assert!(truth_per_address[id] >= visits);
        assert_eq!(per_address.get(id), Some(&truth_per_address[id]), "{id}");
    }
    let mut truth_hist = [0u64; 4];
    for &n in truth_per_address.values() {
        truth_hist[(n.min(4) - 1) as usize] += 1;
    }
    let hist: Vec<u64> = v["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["addresses"].as_u64().unwrap())
        .collect();
    assert_eq!(hist[1..], truth_hist[1..], "2/3/4+ bins");
    assert!(hist[0] <= truth_hist[0]);
    // The planted addresses alone fill the 3 and 4+ bins at least once each.
    assert!(hist[2] >= 1 && hist[3] >= 1, "{hist:?}");
}

#[test]
fn the_small_demo_citys_planted_near_repeats_are_found() {
    planted_near_repeats_are_found(demo(), &[("(0,100)", "[0,7)"), ("[100,200)", "[0,7)")]);
    planted_repeat_addresses_are_found(demo());
}

#[test]
fn the_default_demo_citys_planted_near_repeats_are_found() {
    planted_near_repeats_are_found(
        default_demo(),
        &[
            ("(0,100)", "[0,7)"),
            ("[100,200)", "[0,7)"),
            ("(0,100)", "[7,14)"),
            ("[100,200)", "[7,14)"),
        ],
    );
    planted_repeat_addresses_are_found(default_demo());
}
