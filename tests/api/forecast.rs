//! `GET /api/forecast` against the real server on the small demo city: the cells equal the command line's
//! `brandpunt analyse forecast` CSV for the same parameters and grid, `top=x` answers the top x % of the cells
//! with the ties at the threshold, the study area restricts the grid, refusals name the parameter, and callers
//! without address-level rights get the hot spot surfaces' limits. The expected values are recomputed from the
//! command line's output, never copied from the server's.

use chrono::NaiveDate;
use serde_json::Value;
use std::sync::OnceLock;

use crate::common::demo::{cli_ok, demo};
use crate::common::server::{RoleServer, Who};

fn server() -> &'static RoleServer {
    static S: OnceLock<RoleServer> = OnceLock::new();
    S.get_or_init(|| RoleServer::start("forecast", ""))
}

fn get(path: &str) -> Value {
    let r = server().get(Who::Analyst, path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// The codes of the demo's areas of `level`.
fn area_codes(level: &str) -> Vec<String> {
    let v = get(&format!("/api/areas?level={level}"));
    let list = v
        .as_array()
        .cloned()
        .or_else(|| v["areas"].as_array().cloned())
        .unwrap_or_default();
    list.iter()
        .filter_map(|a| a["code"].as_str().map(str::to_string))
        .collect()
}

/// `x`, `y`, `risk` rows of a forecast CSV (an empty risk is NaN).
fn rows(csv: &str) -> Vec<[f64; 3]> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("x,y,risk"), "{csv:.200}");
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Vec<f64> = l
                .split(',')
                .map(|p| {
                    if p.is_empty() {
                        f64::NAN
                    } else {
                        p.parse().unwrap()
                    }
                })
                .collect();
            [v[0], v[1], v[2]]
        })
        .collect()
}

/// The command line's CSV for `args` on the demo database.
fn cli_csv(args: &[&str]) -> Vec<[f64; 3]> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.csv");
    let mut all = vec!["analyse", "forecast"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", out.to_str().unwrap()]);
    cli_ok(&demo().db, &all);
    rows(&std::fs::read_to_string(&out).unwrap())
}

/// The demo gemeente with the most wijken and its wijken.
fn gemeente_and_wijken() -> (String, Vec<String>) {
    let wijken = area_codes("wijk");
    area_codes("gemeente")
        .into_iter()
        .map(|g| {
            let prefix = format!("WK{}", &g[2..]);
            let mine: Vec<String> = wijken
                .iter()
                .filter(|w| w.starts_with(&prefix))
                .cloned()
                .collect();
            (g, mine)
        })
        .max_by_key(|(_, w)| w.len())
        .unwrap()
}

#[test]
fn forecast_cells_equal_the_command_line_and_top_counts_ties() {
    let gemeente = gemeente_and_wijken().0;
    let last = get("/api/meta")["period"]["last"]
        .as_str()
        .unwrap()
        .to_string();
    let last = NaiveDate::parse_from_str(&last, "%Y-%m-%d").unwrap();
    for (method, extra) in [
        ("naive", "&days=28"),
        ("naive", "&days=all&category=inbraak"),
        ("kde", "&bandwidth=250&days=all"),
        ("prospective", "&space_cells=4&time_weeks=6"),
        ("sepp", "&iterations=5"),
    ] {
        let q = format!("method={method}&cell=125&area={gemeente}{extra}");
        let head = get(&format!("/api/forecast?{q}"));
        // `at` defaults to the day after the tenant's last incident day.
        let at = head["at"].as_str().unwrap().to_string();
        assert_eq!(at, last.succ_opt().unwrap().to_string(), "{method}");
        let e: Vec<f64> = head["extent_rd"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let extent = format!("{},{},{},{}", e[0], e[1], e[2], e[3]);
        let api = rows(
            &server()
                .get(Who::Analyst, &format!("/api/forecast?{q}&format=csv"))
                .text(),
        );
        let mut args = vec![
            "--method", method, "--cell", "125", "--area", &gemeente, "--extent", &extent, "--at",
            &at,
        ];
        let extra_args: Vec<String> = extra
            .split('&')
            .filter(|p| !p.is_empty())
            .flat_map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                [format!("--{}", k.replace('_', "-")), v.to_string()]
            })
            .collect();
        args.extend(extra_args.iter().map(String::as_str));
        let cli = cli_csv(&args);
        assert_eq!(api.len(), cli.len(), "{method}: cells");
        assert_eq!(
            api.len() as u64,
            head["cells"].as_u64().unwrap(),
            "{method}"
        );
        assert_eq!(
            api, cli,
            "{method}: the API's cells equal the command line's"
        );
        let total: f64 = cli.iter().map(|r| r[2]).sum();
        assert!(
            total > 0.0,
            "{method}: the demo has incidents to forecast from"
        );
        let positive = cli.iter().filter(|r| r[2] > 0.0).count();
        assert_eq!(
            head["features"].as_array().unwrap().len(),
            positive,
            "{method}"
        );

        // top=x: every cell at or above the risk of the cell at ceil(cells x / 100), ties included.
        for top in [1.0, 5.0, 10.0] {
            let mut sorted: Vec<f64> = cli.iter().map(|r| r[2]).filter(|v| *v > 0.0).collect();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let k = ((cli.len() as f64 * top / 100.0).ceil() as usize).clamp(1, sorted.len());
            let threshold = sorted[k - 1];
            let want = sorted.iter().filter(|v| **v >= threshold).count();
            let fc = get(&format!("/api/forecast?{q}&top={top}"));
            assert_eq!(
                fc["top_cells"].as_u64().unwrap() as usize,
                want,
                "{method} top {top}"
            );
            let features = fc["features"].as_array().unwrap();
            assert_eq!(features.len(), want, "{method} top {top}");
            // serde_json's default float parsing may miss the last bit: the exact risk is the CSV's.
            let close = |a: f64, b: f64| (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs());
            assert!(close(fc["threshold"].as_f64().unwrap(), threshold));
            let mut previous = f64::INFINITY;
            for (i, f) in features.iter().enumerate() {
                let p = &f["properties"];
                let (x, y) = (p["x_m"].as_f64().unwrap(), p["y_m"].as_f64().unwrap());
                let risk = cli
                    .iter()
                    .find(|r| r[0] == x && r[1] == y)
                    .map(|r| r[2])
                    .unwrap_or_else(|| panic!("{method}: cell {x},{y} is no cell of the grid"));
                assert!(close(p["risk"].as_f64().unwrap(), risk), "{method} #{i}");
                assert!(
                    risk >= threshold && risk <= previous,
                    "{method}: ordered by risk"
                );
                let higher = sorted.iter().filter(|v| **v > risk).count();
                assert_eq!(
                    p["rank"].as_u64().unwrap() as usize,
                    higher + 1,
                    "{method} #{i}"
                );
                let share = p["share"].as_f64().unwrap();
                assert!((share - risk / total).abs() <= 1e-12 * share.max(1.0));
                assert_eq!(f["geometry"]["type"], "Polygon");
                previous = risk;
            }
            // The CSV with top has the same cells.
            let top_csv = rows(
                &server()
                    .get(
                        Who::Analyst,
                        &format!("/api/forecast?{q}&top={top}&format=csv"),
                    )
                    .text(),
            );
            assert_eq!(top_csv.len(), want);
        }
    }
}

#[test]
fn the_study_area_restricts_the_grid() {
    let (gemeente, wijken) = gemeente_and_wijken();
    assert!(wijken.len() > 1, "{gemeente}: {wijken:?}");
    let wijk = wijken[0].clone();
    let whole = get(&format!(
        "/api/forecast?method=naive&days=all&area={gemeente}"
    ));
    let part = get(&format!("/api/forecast?method=naive&days=all&area={wijk}"));
    let cells = |v: &Value| v["cells"].as_u64().unwrap();
    assert!(
        cells(&part) < cells(&whole),
        "{} < {}",
        cells(&part),
        cells(&whole)
    );
    let e = |v: &Value, i: usize| v["extent_rd"][i].as_f64().unwrap();
    assert!(e(&part, 0) >= e(&whole, 0) && e(&part, 2) <= e(&whole, 2));
    assert!(e(&part, 1) >= e(&whole, 1) && e(&part, 3) <= e(&whole, 3));
    // Every answered cell lies in the grid of the study area, and fewer incidents were used.
    for f in part["features"].as_array().unwrap() {
        let (x, y) = (
            f["properties"]["x_m"].as_f64().unwrap(),
            f["properties"]["y_m"].as_f64().unwrap(),
        );
        assert!(x > e(&part, 0) && x < e(&part, 2) && y > e(&part, 1) && y < e(&part, 3));
    }
    assert!(part["events_used"].as_u64() < whole["events_used"].as_u64());
}

#[test]
fn refusals_name_the_parameter_before_any_work() {
    for (query, parameter) in [
        ("method=magic", "method"),
        ("cell=10", "cell"),
        ("at=gisteren", "at"),
        ("horizon=0", "horizon"),
        ("top=0", "top"),
        ("top=250", "top"),
        ("method=naive&days=0", "days"),
        ("method=kde&bandwidth=-5", "bandwidth"),
        ("space_cells=0", "space_cells"),
        ("method=sepp&iterations=0", "iterations"),
        ("format=xml", "format"),
        ("area=GM9999", "area"),
        ("category=geen-categorie", "category"),
        // 25 m cells over the whole country: too many cells.
        ("cell=25&bbox=3.4,50.8,7.2,53.5", "cell"),
    ] {
        let r = server().get(Who::Analyst, &format!("/api/forecast?{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        let v = r.json();
        assert_eq!(v["parameter"], parameter, "{query}");
        if parameter == "cell" && query.contains("bbox") {
            // The smallest cell size that fits is named.
            let msg = v["error"].as_str().unwrap();
            let smallest: f64 = msg
                .split("kies cell=")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{msg}"));
            let r = server().get(
                Who::Analyst,
                &format!("/api/forecast?method=naive&cell={smallest}&bbox=3.4,50.8,7.2,53.5&top=1"),
            );
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
}

#[test]
fn viewers_get_the_surface_limits_and_protected_counts() {
    let q = "/api/forecast?method=naive&days=all&cell=25&category=inbraak";
    let analyst = get(q);
    assert_eq!(analyst["cell_m"].as_f64(), Some(25.0));
    for who in [Who::Viewer, Who::Anonymous] {
        let r = server().get(who, q);
        assert_eq!(r.status, 200, "{who:?}: {}", r.text());
        let v = r.json();
        assert_eq!(
            v["cell_m"].as_f64(),
            Some(brandpunt::access::VIEWER_MIN_CELL_M),
            "{who:?}"
        );
        assert!(!v["features"].as_array().unwrap().is_empty(), "{who:?}");
        // Naive risks are counts: small ones are withheld, the rest exact.
        let k = server().get(who, "/api/meta").json()["min_count"]
            .as_f64()
            .unwrap();
        for f in v["features"].as_array().unwrap() {
            let p = &f["properties"];
            if p["suppressed"] == true {
                assert!(p["risk"].is_null() && p["share"].is_null());
                assert!(p["count_label"].as_str().unwrap().contains('<'));
            } else {
                assert!(p["risk"].as_f64().unwrap() >= k, "{who:?}: {p}");
            }
        }
        // Kde bandwidths are raised to the viewers' minimum: the cells differ from the analyst's.
        let kde = "/api/forecast?method=kde&bandwidth=50&cell=100&format=csv";
        let mine = server().get(who, kde).text();
        let analysts = server().get(Who::Analyst, kde).text();
        let wide = server()
            .get(
                Who::Analyst,
                &kde.replace(
                    "bandwidth=50",
                    &format!("bandwidth={}", brandpunt::access::VIEWER_MIN_BANDWIDTH_M),
                ),
            )
            .text();
        assert_ne!(mine, analysts, "{who:?}");
        assert_eq!(mine, wide, "{who:?}");
    }
    // The analyst sees the exact counts.
    for f in analyst["features"].as_array().unwrap() {
        assert_eq!(f["properties"]["suppressed"], false);
    }
}

#[test]
fn openapi_documents_the_forecast() {
    let doc = get("/api/openapi.json");
    let op = &doc["paths"]["/api/forecast"]["get"];
    let names: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for p in [
        "method",
        "cell",
        "at",
        "horizon",
        "top",
        "format",
        "days",
        "bandwidth",
    ] {
        assert!(names.contains(&p), "{p}");
    }
    let op = &doc["paths"]["/api/forecast/evaluate"]["get"];
    let names: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for p in [
        "folds",
        "horizon",
        "until",
        "methods",
        "coverages",
        "cell",
        "days",
        "format",
    ] {
        assert!(names.contains(&p), "evaluate: {p}");
    }
}

/// The rows of an evaluation CSV by column name.
fn table(csv: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

/// Equal up to serde_json's last-bit float parsing.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

#[test]
fn evaluation_equals_the_command_line() {
    let gemeente = gemeente_and_wijken().0;
    let q = format!(
        "/api/forecast/evaluate?folds=12&horizon=7&methods=naive,kde,prospective,sepp&coverages=1,3,5,10&cell=125&iterations=5&area={gemeente}"
    );
    let v = get(&q);
    // `until` defaults to the tenant's last incident day, never the machine's date.
    let last = get("/api/meta")["period"]["last"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["until"].as_str(), Some(last.as_str()));
    assert_eq!(v["origins"].as_array().unwrap().len(), 12);
    let e: Vec<f64> = v["extent_rd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let extent = format!("{},{},{},{}", e[0], e[1], e[2], e[3]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.csv");
    cli_ok(
        &demo().db,
        &[
            "analyse",
            "evaluate",
            "--folds",
            "12",
            "--horizon",
            "7",
            "--until",
            &last,
            "--methods",
            "naive,kde,prospective,sepp",
            "--coverages",
            "1,3,5,10",
            "--bins",
            "grid:125",
            "--iterations",
            "5",
            "--area",
            &gemeente,
            "--extent",
            &extent,
            "--output",
            out.to_str().unwrap(),
        ],
    );
    let cli_text = std::fs::read_to_string(&out).unwrap();
    // The CSV answer is the command line's table.
    let api_csv = server()
        .get(Who::Analyst, &format!("{q}&format=csv"))
        .text();
    assert_eq!(api_csv, cli_text);
    let cli = table(&cli_text);
    let num = |r: &std::collections::HashMap<String, String>, k: &str| -> Option<f64> {
        r.get(k)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
    };
    let json_num = |x: &Value| x.as_f64();
    let same = |a: Option<f64>, b: Option<f64>, what: &str| match (a, b) {
        (Some(a), Some(b)) => assert!(close(a, b), "{what}: {a} != {b}"),
        (a, b) => assert_eq!(a, b, "{what}"),
    };
    let methods = v["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 4);
    let mut verdicts = 0;
    for m in methods {
        let name = m["method"].as_str().unwrap();
        for c in m["coverages"].as_array().unwrap() {
            let cov = c["coverage_pct"].as_f64().unwrap();
            let mine = |r: &&std::collections::HashMap<String, String>| {
                r["method"] == name && num(r, "coverage_pct") == Some(cov)
            };
            let folds: Vec<_> = cli
                .iter()
                .filter(mine)
                .filter(|r| r["fold"] != "gemiddeld")
                .collect();
            let api_folds = c["folds"].as_array().unwrap();
            assert_eq!(api_folds.len(), folds.len(), "{name} {cov}");
            for (a, r) in api_folds.iter().zip(&folds) {
                assert_eq!(a["origin"].as_str(), Some(r["origin"].as_str()));
                for k in ["hits", "hit_rate", "pai", "pei", "rri"] {
                    same(json_num(&a[k]), num(r, k), &format!("{name} {cov} {k}"));
                }
                assert_eq!(a["test_events"].as_f64(), num(r, "test_events"));
                assert_eq!(a["cells"].as_f64(), num(r, "cells"));
            }
            let mean = cli
                .iter()
                .filter(mine)
                .find(|r| r["fold"] == "gemiddeld")
                .unwrap();
            for k in ["hit_rate", "pai", "pei", "rri"] {
                same(
                    json_num(&c["mean"][k]),
                    num(mean, k),
                    &format!("{name} {cov} mean {k}"),
                );
            }
            let verdict = c["verdict"].as_str().unwrap();
            if name == "naive" {
                assert_eq!(verdict, "referentie");
                assert!(c["test"].is_null());
                assert_eq!(mean["verdict"], "");
            } else {
                let p = c["test"]["p"].as_f64().unwrap();
                same(Some(p), num(mean, "p_vs_naive"), "p");
                assert_eq!(verdict, mean["verdict"]);
                // The rule: better only when p < 0.05.
                let want = if p < 0.05 {
                    "beter dan tellen"
                } else {
                    "niet beter dan tellen"
                };
                assert_eq!(verdict, want, "{name} {cov}");
                // The statistic is the mean paired difference of the hit rates.
                let base = methods[0]["coverages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|b| b["coverage_pct"].as_f64() == Some(cov))
                    .unwrap();
                let diffs: Vec<f64> = api_folds
                    .iter()
                    .zip(base["folds"].as_array().unwrap())
                    .filter_map(|(a, b)| Some(a["hit_rate"].as_f64()? - b["hit_rate"].as_f64()?))
                    .collect();
                assert_eq!(c["test"]["pairs"].as_u64(), Some(diffs.len() as u64));
                let stat = diffs.iter().sum::<f64>() / diffs.len() as f64;
                assert!((c["test"]["statistic"].as_f64().unwrap() - stat).abs() < 1e-12);
                verdicts += 1;
            }
        }
    }
    assert_eq!(verdicts, 12);
}

#[test]
fn evaluation_refusals_name_the_parameter() {
    for (query, parameter) in [
        ("folds=0", "folds"),
        ("folds=105", "folds"),
        ("horizon=0", "horizon"),
        ("until=gisteren", "until"),
        ("methods=naive,magic", "methods"),
        ("coverages=0", "coverages"),
        ("coverages=1,101", "coverages"),
        ("cell=10", "cell"),
        ("format=xml", "format"),
        ("method=naive&days=0", "days"),
        ("area=GM9999", "area"),
        ("category=geen-categorie", "category"),
        // Too many cells for one grid, then too much work over the folds.
        ("cell=25&bbox=3.4,50.8,7.2,53.5", "cell"),
        ("cell=125&bbox=3.4,50.8,7.2,53.5", "folds"),
    ] {
        let r = server().get(Who::Analyst, &format!("/api/forecast/evaluate?{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert_eq!(r.json()["parameter"], parameter, "{query}");
    }
}

#[test]
fn evaluation_for_viewers_has_the_surface_limits_and_no_counts() {
    let q = "/api/forecast/evaluate?folds=6&methods=naive,prospective&coverages=5&cell=25&category=inbraak";
    let analyst = get(q);
    assert_eq!(analyst["cell_m"].as_f64(), Some(25.0));
    assert_eq!(analyst["protected"], false);
    for who in [Who::Viewer, Who::Anonymous] {
        let r = server().get(who, q);
        assert_eq!(r.status, 200, "{who:?}: {}", r.text());
        let v = r.json();
        assert_eq!(v["protected"], true);
        assert_eq!(
            v["cell_m"].as_f64(),
            Some(brandpunt::access::VIEWER_MIN_CELL_M),
            "{who:?}"
        );
        let k = server().get(who, "/api/meta").json()["min_count"]
            .as_u64()
            .unwrap();
        let wide = get(&q.replace(
            "cell=25",
            &format!("cell={}", brandpunt::access::VIEWER_MIN_CELL_M),
        ));
        for (m, a) in v["methods"]
            .as_array()
            .unwrap()
            .iter()
            .zip(wide["methods"].as_array().unwrap())
        {
            let (fm, fa) = (&m["coverages"][0], &a["coverages"][0]);
            // The aggregates equal the analyst's on the same grid.
            assert_eq!(fm["mean"], fa["mean"]);
            assert_eq!(fm["verdict"], fa["verdict"]);
            for (f, g) in fm["folds"]
                .as_array()
                .unwrap()
                .iter()
                .zip(fa["folds"].as_array().unwrap())
            {
                assert!(f["test_events"].is_null() && f["hits"].is_null(), "{f}");
                let small = g["test_events"].as_u64().unwrap() < k
                    && g["test_events"].as_u64().unwrap() > 0;
                assert_eq!(f["suppressed"], small, "{f} {g}");
                if small {
                    assert!(f["hit_rate"].is_null() && f["pai"].is_null());
                } else {
                    assert_eq!(f["hit_rate"], g["hit_rate"]);
                }
            }
        }
        let csv = server().get(who, &format!("{q}&format=csv")).text();
        for r in table(&csv).iter().filter(|r| r["fold"] != "gemiddeld") {
            assert!(r["test_events"].is_empty() && r["hits"].is_empty(), "{r:?}");
        }
    }
}

/// The streets of the top cells, recomputed in SQL from the demo database: for the first 500 cells in rank order,
/// the most common BAG street (ties alphabetical) among the address-located ones of the cell's latest 64
/// incidents before `at` (by begin, then id); every cell ranked lower says why it has none.
/// Returns the number of cells with a street and of cells with more incidents than the sample.
fn check_forecast_streets(query: &str) -> (usize, usize) {
    const NAMED: usize = 500;
    const SAMPLE: usize = 64;
    let fc = get(&format!("/api/forecast?{query}"));
    let features = fc["features"].as_array().unwrap();
    let at = fc["at"].as_str().unwrap().to_string();
    let cell_m = fc["cell_m"].as_f64().unwrap();
    let (minx, miny, ncols) = (
        fc["grid"]["minx_m"].as_f64().unwrap(),
        fc["grid"]["miny_m"].as_f64().unwrap(),
        fc["grid"]["ncols"].as_u64().unwrap() as i64,
    );
    let cell_of = |x: f64, y: f64| {
        let (c, r) = (
            ((x - minx) / cell_m).floor() as i64,
            ((y - miny) / cell_m).floor() as i64,
        );
        (c >= 0 && c < ncols && r >= 0).then_some(r * ncols + c)
    };
    // Per cell: (begin to the minute, id, street of an address-located incident).
    let conn = rusqlite::Connection::open(&demo().db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT i.begin_min, i.id, i.x, i.y, \
             CASE WHEN i.located_by = 'address' THEN a.street END \
             FROM incident i JOIN tenant t ON t.id = i.tenant_id \
             LEFT JOIN address a ON a.bag_id = i.bag_id \
             WHERE t.code = 'default' AND i.x IS NOT NULL AND i.begin_min < ?1",
        )
        .unwrap();
    // `at` 00:00 in minutes since 1970 (the store's `begin_min`).
    let at_min = NaiveDate::parse_from_str(&at, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
        / 60;
    let mut per: std::collections::HashMap<i64, Vec<(i64, i64, Option<String>)>> =
        Default::default();
    for row in stmt
        .query_map([at_min], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, f64>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .unwrap()
    {
        let (begin, id, x, y, street) = row.unwrap();
        if let Some(k) = cell_of(x, y) {
            per.entry(k).or_default().push((begin, id, street));
        }
    }
    let (mut named, mut sampled) = (0, 0);
    for (position, f) in features.iter().enumerate() {
        let p = &f["properties"];
        let k = cell_of(p["x_m"].as_f64().unwrap(), p["y_m"].as_f64().unwrap()).unwrap();
        if position >= NAMED {
            assert!(p.get("street").is_none(), "#{position}: {p}");
            assert_eq!(
                p["street_note"],
                "geen straatnaam: alleen de 500 cellen met het hoogste risico krijgen er een"
            );
            continue;
        }
        let mut found = per.get(&k).cloned().unwrap_or_default();
        found.sort_by_key(|x| std::cmp::Reverse((x.0, x.1)));
        if found.len() > SAMPLE {
            sampled += 1;
        }
        found.truncate(SAMPLE);
        let mut tally: std::collections::BTreeMap<String, u64> = Default::default();
        for s in found.iter().filter_map(|(_, _, s)| s.clone()) {
            *tally.entry(s).or_default() += 1;
        }
        let max = tally.values().copied().max();
        let want = tally
            .iter()
            .find(|(_, &n)| Some(n) == max)
            .map(|(s, _)| s.clone());
        assert_eq!(
            p["street"].as_str().map(str::to_string),
            want,
            "#{position} cell {k}: {p}"
        );
        if want.is_some() {
            named += 1;
        } else if found.is_empty() {
            assert_eq!(p["street_note"], "geen eerdere incidenten in deze cel");
        } else {
            assert_eq!(p["street_note"], "geen adres bij de incidenten in deze cel");
        }
    }
    (named, sampled)
}

#[test]
fn forecast_streets_come_from_the_latest_incidents_of_the_first_cells() {
    // A kde surface covers every cell within its bandwidth of an incident: more than 500 cells.
    let q = "method=kde&days=all&bandwidth=200&cell=50&top=100";
    let cells = get(&format!("/api/forecast?{q}"))["features"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        cells > 500,
        "{q}: {cells} cells, too few to check the limit"
    );
    let (named, _) = check_forecast_streets(q);
    assert!(
        named >= 20,
        "{q}: only {named} of the first cells got a street"
    );
    // Cells of 500 m hold more incidents than the sample.
    let q = "method=naive&days=all&cell=500&top=100";
    let (named, sampled) = check_forecast_streets(q);
    assert!(
        named > 0 && sampled > 0,
        "{q}: {named} named, {sampled} sampled"
    );
}
