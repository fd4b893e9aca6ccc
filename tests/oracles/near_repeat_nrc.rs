//! The Knox test against Ratcliffe's Near Repeat Calculator (NRC) 1.3 on two public Chicago data sets.
//!
//! Data and expected values: tests/fixtures/near_repeat/ (GPL-3, see NOTICE.md there; copied from
//! shared/oracles/near-repeat/): the NRC's observed, ratio and p tables, its per-iteration simulated counts, and
//! the exact permutation expectation. With `nrc_compatible` the observed table equals the NRC's in every cell;
//! the p and ratio arithmetic applied to the NRC's own simulated counts reproduces its printed values; our
//! Monte Carlo p (999 permutations, seed 1) lies within three standard errors of the NRC's; `expected_analytic`
//! equals the committed values (to a few ulps).

use brandpunt::analysis::near_repeat::{
    knox, monte_carlo_p, simulation_ratio, KnoxParams, KnoxTable, Metric, NearRepeatEvent,
};
use brandpunt::cancel::Cancel;
use chrono::NaiveDate;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/near_repeat/");

fn expected() -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn events(file: &str) -> Vec<NearRepeatEvent> {
    std::fs::read_to_string(format!("{FIXTURES}{file}"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.trim().split(',').collect();
            NearRepeatEvent::on(
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                NaiveDate::parse_from_str(f[2], "%Y-%m-%d").unwrap(),
            )
        })
        .collect()
}

/// The NRC's settings as our parameters: K bands of equal width.
fn params(case: &Value, iterations: u32) -> KnoxParams {
    let s = &case["nrc_settings"];
    let bw = s["spatial_bandwidth"].as_f64().unwrap();
    let tw = s["temporal_bandwidth_days"].as_u64().unwrap() as u32;
    let metric = Metric::parse(s["distance"].as_str().unwrap()).unwrap();
    KnoxParams {
        distance_bands_m: (1..=s["spatial_bands"].as_u64().unwrap())
            .map(|k| k as f64 * bw)
            .collect(),
        time_bands_days: (1..=s["temporal_bands"].as_u64().unwrap() as u32)
            .map(|k| k * tw)
            .collect(),
        metric,
        iterations,
        seed: 1,
        nrc_compatible: true,
    }
}

fn cases() -> Vec<(Value, KnoxTable)> {
    expected()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let events = events(case["data"].as_str().unwrap());
            assert_eq!(events.len() as u64, case["n_events"].as_u64().unwrap());
            let table = knox(&events, &params(case, 999), &Cancel::never()).unwrap();
            (case.clone(), table)
        })
        .collect()
}

fn grid(v: &Value) -> Vec<Vec<Value>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().clone())
        .collect()
}

#[test]
fn knox_matches_the_near_repeat_calculator() {
    for (case, table) in cases() {
        let name = case["data"].as_str().unwrap();
        assert_eq!(table.pairs, case["pairs"].as_u64().unwrap(), "{name}");
        let rows = grid(&case["nrc_observed"]);
        let columns = rows[0].len();
        assert_eq!(table.distance_bands.len(), rows.len());
        assert_eq!(table.time_bands.len(), columns);
        // The labels state the NRC's true intervals.
        let true_rows: Vec<String> = case["true_row_intervals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().replace("d == 0", "0"))
            .collect();
        assert_eq!(table.distance_bands, true_rows, "{name}");
        let true_cols: Vec<&str> = case["true_col_intervals_days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(table.time_bands, true_cols, "{name}");

        let analytic = grid(&case["expected_analytic"]);
        let ratio_analytic = grid(&case["ratio_analytic"]);
        let nrc_p = grid(&case["nrc_pvalue"]);
        let nrc_iterations = case["nrc_settings"]["iterations_requested"]
            .as_f64()
            .unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (t, nrc) in row.iter().enumerate() {
                let cell = table.cell(r, t);
                let at = format!("{name} cell ({r},{t}) {cell:?}");
                // Observed: exactly the NRC's (its blank cells are 0).
                assert_eq!(cell.observed, nrc.as_f64().unwrap_or(0.0) as u64, "{at}");
                // The exact permutation expectation, to the last bits (ours is the correctly rounded quotient
                // of the exact integers N_s * N_t and P; the committed values differ from it by at most an ulp).
                let ea = analytic[r][t].as_f64().unwrap();
                assert!(
                    (cell.expected_analytic - ea).abs() <= 4.0 * f64::EPSILON * ea.abs(),
                    "{at}: {ea}"
                );
                let ra = ratio_analytic[r][t].as_f64().unwrap();
                assert!(
                    (cell.ratio_analytic.unwrap() - ra).abs() <= 1e-12 * ra.max(1.0),
                    "{at}"
                );
                // Our p within three standard errors of the NRC's: each p estimates the same tail probability
                // with (iterations + 1) draws, so the variance of the difference is p(1-p)(1/N_nrc + 1/N_ours)
                // (with the pooled estimate of p; the 2p(1-p)/999 when both ran 999).
                let theirs = nrc_p[r][t].as_f64().unwrap();
                let pooled = (theirs + cell.p) / 2.0;
                let tolerance = 3.0
                    * (pooled * (1.0 - pooled) * (1.0 / (nrc_iterations + 1.0) + 1.0 / 1000.0))
                        .sqrt();
                assert!(
                    (cell.p - theirs).abs() <= tolerance + 1e-12,
                    "{at}: p {} vs NRC {theirs} (tolerance {tolerance})",
                    cell.p
                );
                // The Monte Carlo mean is within five standard errors of the exact mean (the variance of a
                // cell count under the permutation is close to its mean for the sparse cells and far smaller
                // for the dense last row).
                let se = (cell.expected_analytic.max(1.0) / 999.0).sqrt();
                assert!(
                    (cell.expected - cell.expected_analytic).abs() <= 5.0 * se,
                    "{at}"
                );
            }
        }
    }
}

#[test]
fn the_p_and_ratio_arithmetic_reproduces_the_calculator_from_its_own_simulations() {
    for case in expected()["cases"].as_array().unwrap() {
        let name = case["data"].as_str().unwrap();
        let observed = grid(&case["observed_recomputed"]);
        let simulated = case["nrc_simulated_counts"].as_array().unwrap();
        let nrc_p = grid(&case["nrc_pvalue"]);
        let nrc_ratio = grid(&case["nrc_ratio_obs_over_mean"]);
        for (r, row) in observed.iter().enumerate() {
            for (t, obs) in row.iter().enumerate() {
                let obs = obs.as_u64().unwrap();
                let sims: Vec<u64> = simulated[r][t]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                let at = format!("{name} cell ({r},{t})");
                assert_eq!(
                    monte_carlo_p(obs, &sims),
                    nrc_p[r][t].as_f64().unwrap(),
                    "{at}"
                );
                // The NRC prints ratios to 3 decimals and a blank where the count or the mean is 0.
                match (nrc_ratio[r][t].as_f64(), simulation_ratio(obs, &sims)) {
                    (Some(theirs), Some(ours)) => {
                        assert_eq!((ours * 1000.0).round() / 1000.0, theirs, "{at}")
                    }
                    (None, ours) => assert!(obs == 0 || ours.is_none(), "{at}"),
                    (Some(theirs), None) => panic!("{at}: NRC ratio {theirs}, ours none"),
                }
            }
        }
    }
}

#[test]
fn single_precision_matters_on_the_band_edges() {
    // The README's example: in double precision two arson boundary pairs change cell.
    let case = expected()["cases"][1].clone();
    assert_eq!(case["data"], "chicago_arson.csv");
    let events = events("chicago_arson.csv");
    let mut p = params(&case, 19);
    p.nrc_compatible = false;
    let f64_table = knox(&events, &p, &Cancel::never()).unwrap();
    assert_eq!(
        (f64_table.cell(2, 3).observed, f64_table.cell(3, 3).observed),
        (141, 233)
    );
}
