//! Forecast grids and hit rates against open_cp 0.2.0 (QuantCrimAtLeeds/PredictCode) on the synthetic oracle
//! set in `tests/fixtures/forecast_open_cp/` (copied from `shared/oracles/forecast/`; its README defines every
//! grid, the CSV layout and open_cp's tie rule). Tolerances: counts exact; intensities within 1e-12 x the grid
//! maximum; SEPP theta and omega within 1e-12 relative, mu within 1e-12 x max mu; hit counts equal open_cp's
//! where the oracle marks them robust (no ties within 1e-9), otherwise within its bounds and equal to its
//! expected hits under a random choice among the tied cells (our fractional-hit rule).

use brandpunt::analysis::evaluation::coverage_metrics;
use brandpunt::analysis::forecast::{forecast, GridSpec, Method, Window};
use brandpunt::analysis::kde::Extent;
use brandpunt::analysis::Event;
use brandpunt::cancel::Cancel;
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::Value;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/forecast_open_cp"
);

fn expected() -> Value {
    let text = std::fs::read_to_string(format!("{DIR}/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn events() -> Vec<Event> {
    let mut r = csv::Reader::from_path(format!("{DIR}/events.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let day = NaiveDate::parse_from_str(&rec[2], "%Y-%m-%d").unwrap();
            let time = NaiveTime::parse_from_str(&rec[3], "%H:%M").unwrap();
            let t = Some(day.and_time(time));
            Event {
                x_m: rec[0].parse().unwrap(),
                y_m: rec[1].parse().unwrap(),
                begin: t,
                end: t,
                weight: 1.0,
            }
        })
        .collect()
}

/// A grid file: line k = row k (south first), value j = col j; flattened row-major.
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

fn cutoff() -> NaiveDateTime {
    NaiveDateTime::parse_from_str("2024-02-14T00:00", "%Y-%m-%dT%H:%M").unwrap()
}

fn grid(cell_m: f64) -> GridSpec {
    GridSpec::covering(
        Extent {
            minx_m: 230_000.0,
            miny_m: 460_000.0,
            maxx_m: 235_000.0,
            maxy_m: 465_000.0,
        },
        cell_m,
    )
    .unwrap()
}

fn run(method: Method, cell_m: f64) -> brandpunt::analysis::forecast::Forecast {
    forecast(
        &events(),
        &grid(cell_m),
        cutoff(),
        &method,
        &Cancel::never(),
    )
    .unwrap()
}

fn assert_close_to_max(ours: &[f64], theirs: &[f64], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: cell count");
    let max = theirs.iter().cloned().fold(0.0, f64::max);
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1e-12 * max,
        "{what}: max abs diff {worst}, grid max {max}"
    );
}

/// The test events' cells (cutoff <= t < cutoff + 7 days).
fn test_cells(g: &GridSpec) -> Vec<Option<usize>> {
    let (from, to) = (cutoff(), cutoff() + Duration::days(7));
    events()
        .iter()
        .filter(|e| e.begin.is_some_and(|t| t >= from && t < to))
        .map(|e| g.cell_of(e.x_m, e.y_m))
        .collect()
}

fn check_hits(values: &[f64], g: &GridSpec, key: &str) {
    let exp = expected();
    let cells = test_cells(g);
    assert_eq!(cells.len(), 126);
    for cov in ["1", "5", "10"] {
        let o = &exp["hit_rates"]["results"][key][cov];
        let m = coverage_metrics(values, &cells, None, cov.parse().unwrap()).unwrap();
        assert_eq!(
            m.selection.n_selected as u64,
            o["n_selected"].as_u64().unwrap(),
            "{key} {cov} %"
        );
        let tt = &o["tolerant_ties"];
        assert_eq!(
            m.selection.n_above as u64,
            tt["n_above"].as_u64().unwrap(),
            "{key} {cov} %"
        );
        assert_eq!(
            m.selection.n_tied as u64,
            tt["n_tied"].as_u64().unwrap(),
            "{key} {cov} %"
        );
        let (lo, hi) = (
            tt["hits_min"].as_f64().unwrap(),
            tt["hits_max"].as_f64().unwrap(),
        );
        assert!(
            m.hits >= lo - 1e-9 && m.hits <= hi + 1e-9,
            "{key} {cov} %: {} not in [{lo}, {hi}]",
            m.hits
        );
        let random = tt["hits_expected_random_tiebreak"].as_f64().unwrap();
        assert!(
            (m.hits - random).abs() < 1e-9,
            "{key} {cov} %: {} vs {random}",
            m.hits
        );
        if o["robust"].as_bool().unwrap() {
            assert_eq!(m.hits, o["hits_open_cp"].as_f64().unwrap(), "{key} {cov} %");
            let pai = o["pai_open_cp"].as_f64().unwrap();
            // open_cp's PAI: hit rate / (n / N), as ours.
            assert!((m.pai.unwrap() - pai).abs() < 1e-9 * pai, "{key} {cov} %");
        }
        // PEI denominator: open_cp's maximum hit rate x test events.
        let grid_key = if g.cell_m == 50.0 {
            "grid_50m"
        } else {
            "grid_150m"
        };
        let best = exp["hit_rates"]["maximum_hit_rate"]["values"][grid_key][cov]
            .as_f64()
            .unwrap()
            * 126.0;
        assert!(
            (m.best_hits - best).abs() < 1e-9,
            "{key} {cov} %: best {}",
            m.best_hits
        );
    }
}

#[test]
fn naive_counts_equal_open_cp() {
    let f = run(
        Method::Naive {
            window: Window::All,
        },
        50.0,
    );
    assert_eq!(f.grid.values, grid_file("naive_counts.csv"));
    assert_eq!(f.events_used, 1662);
    check_hits(&f.grid.values, &f.grid.spec, "naive_counts");
}

#[test]
fn prospective_equals_open_cp() {
    let f = run(
        Method::Prospective {
            space_cells: 8,
            time_weeks: 8,
        },
        50.0,
    );
    assert_close_to_max(
        &f.grid.values,
        &grid_file("prospective_intensity.csv"),
        "prospective",
    );
    check_hits(&f.grid.values, &f.grid.spec, "prospective");
}

#[test]
fn retrospective_quartic_equals_open_cp() {
    let m = Method::Kde {
        window: Window::All,
        bandwidth_m: 200.0,
    };
    let f = run(m, 50.0);
    assert_close_to_max(
        &f.grid.values,
        &grid_file("retro_quartic_intensity.csv"),
        "quartic 50 m",
    );
    check_hits(&f.grid.values, &f.grid.spec, "retro_quartic");
    let f = run(m, 150.0);
    assert_eq!((f.grid.spec.ncols, f.grid.spec.nrows), (34, 34));
    assert_close_to_max(
        &f.grid.values,
        &grid_file("retro_quartic_intensity_150m.csv"),
        "quartic 150 m",
    );
    check_hits(&f.grid.values, &f.grid.spec, "retro_quartic_150m");
}

fn check_sepp(corrected: bool, key: &str, prefix: &str) {
    let exp = &expected()["predictors"][key];
    let f = run(
        Method::Sepp {
            window: Window::All,
            iterations: 20,
            corrected,
        },
        50.0,
    );
    let fit = f.sepp.as_ref().unwrap();
    assert_eq!(fit.events, 1662);
    assert_eq!(fit.t_minutes, 143_957.0);
    let theta = exp["theta"].as_f64().unwrap();
    let omega = exp["omega_per_minute"].as_f64().unwrap();
    assert!(
        (fit.theta - theta).abs() <= 1e-12 * theta,
        "{key}: theta {} vs {theta}",
        fit.theta
    );
    assert!(
        (fit.omega_per_minute - omega).abs() <= 1e-12 * omega,
        "{key}: omega {} vs {omega}",
        fit.omega_per_minute
    );
    assert_close_to_max(
        &fit.mu_per_minute,
        &grid_file(&format!("{prefix}_mu.csv")),
        key,
    );
    assert_close_to_max(
        &f.grid.values,
        &grid_file(&format!("{prefix}_intensity.csv")),
        key,
    );
    check_hits(&f.grid.values, &f.grid.spec, key);
}

#[test]
fn sepp_equals_open_cp() {
    check_sepp(false, "sepp", "sepp");
}

#[test]
fn sepp_corrected_equals_open_cp() {
    check_sepp(true, "sepp_corrected", "sepp_corrected");
}
