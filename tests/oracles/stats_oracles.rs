//! The statistics modules against committed oracle values (scipy / statsmodels scripts in `tests/oracle/`).

use brandpunt::analysis::compare::rate_ratio;

fn read_rows(name: &str) -> Vec<csv::StringRecord> {
    let path = format!(
        "{}/tests/oracle/expected/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    rdr.records().map(|r| r.unwrap()).collect()
}

fn f(r: &csv::StringRecord, i: usize) -> f64 {
    r[i].parse().unwrap()
}

fn u(r: &csv::StringRecord, i: usize) -> u64 {
    r[i].parse().unwrap()
}

fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol || (got - want).abs() < 1e-15,
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn rate_ratio_matches_scipy_binomtest() {
    let rows = read_rows("compare_rate_ratio.csv");
    assert!(rows.len() >= 10);
    for r in &rows {
        let (a, ea, b, eb, conf) = (u(r, 0), f(r, 1), u(r, 2), f(r, 3), f(r, 4));
        let got = rate_ratio(a, ea, b, eb, conf).unwrap();
        let what = format!("{a}/{ea} vs {b}/{eb} @{conf}");
        assert_close(got.p_value, f(r, 5), 1e-7, &format!("p {what}"));
        assert_close(got.ci_lower, f(r, 6), 1e-7, &format!("lower {what}"));
        match got.ci_upper {
            Some(hi) => assert_close(hi, f(r, 7), 1e-7, &format!("upper {what}")),
            None => assert!(r[7].is_empty(), "upper {what} should be bounded"),
        }
    }
}

#[test]
fn relative_risk_matches_statsmodels_table2x2() {
    use brandpunt::analysis::profile::relative_risk_katz;
    let rows = read_rows("profile_riskratio.csv");
    assert!(rows.len() >= 6);
    for r in &rows {
        let (a, n1, c, n0, conf) = (u(r, 0), u(r, 1), u(r, 2), u(r, 3), f(r, 4));
        let got = relative_risk_katz(a, n1, c, n0, conf).unwrap().unwrap();
        let what = format!("{a}/{n1} vs {c}/{n0} @{conf}");
        assert_close(got.rr, f(r, 5), 1e-9, &format!("rr {what}"));
        assert_close(got.ci_lower, f(r, 6), 1e-7, &format!("lower {what}"));
        assert_close(got.ci_upper, f(r, 7), 1e-7, &format!("upper {what}"));
    }
}

#[test]
fn poisson_tails_match_scipy() {
    use brandpunt::analysis::striking::poisson_tails;
    let rows = read_rows("striking_poisson_tails.csv");
    assert!(rows.len() >= 10);
    for r in &rows {
        let (obs, mu) = (u(r, 0), f(r, 1));
        let (ge, le) = poisson_tails(obs, mu);
        assert_close(ge, f(r, 2), 1e-9, &format!("P(X >= {obs} | {mu})"));
        assert_close(le, f(r, 3), 1e-9, &format!("P(X <= {obs} | {mu})"));
    }
}

fn check_striking_scenario(file: &str, cfg: brandpunt::analysis::striking::StrikingConfig) {
    use brandpunt::analysis::striking::{striking_areas, AreaSeries, Baseline};
    let rows = read_rows(file);
    assert!(rows.len() >= 20);
    let series: Vec<AreaSeries> = rows
        .iter()
        .map(|r| AreaSeries {
            area_id: r[0].to_string(),
            category: None,
            counts: r[1].split(',').map(|c| c.parse().unwrap()).collect(),
        })
        .collect();
    let report = striking_areas(&series, &cfg).unwrap();
    assert_eq!(report.areas.len(), rows.len());
    let mut n_sig = 0;
    for r in &rows {
        let a = report.areas.iter().find(|a| a.area_id == r[0]).unwrap();
        let id = &r[0];
        assert_eq!(a.observed, u(r, 2), "{id}");
        assert_close(a.expected, f(r, 3), 1e-12, &format!("expected {id}"));
        let kind = match a.baseline {
            Baseline::Seasonal => "seasonal",
            Baseline::PreviousPeriods => "previous_periods",
        };
        assert_eq!(kind, &r[4], "{id}");
        assert_eq!(a.baseline_periods, r[5].parse::<usize>().unwrap(), "{id}");
        assert_close(a.p_increase, f(r, 6), 1e-9, &format!("p_increase {id}"));
        assert_close(a.p_decrease, f(r, 7), 1e-9, &format!("p_decrease {id}"));
        assert_eq!(a.significant_increase, &r[8] == "1", "{id}");
        assert_eq!(a.significant_decrease, &r[9] == "1", "{id}");
        n_sig += usize::from(a.direction.is_some());
    }
    // The scenario has both striking increases and decreases, and the significant ones come first.
    assert!(n_sig >= 4);
    assert!(report.areas[..n_sig].iter().all(|a| a.direction.is_some()));
}

#[test]
fn striking_mean12_scenario_matches_scipy_statsmodels() {
    use brandpunt::analysis::striking::StrikingConfig;
    let cfg = StrikingConfig {
        min_expected: 0.0,
        ..StrikingConfig::default()
    };
    check_striking_scenario("striking_scenario_mean12.csv", cfg);
}

#[test]
fn striking_seasonal_scenario_matches_scipy_statsmodels() {
    use brandpunt::analysis::striking::{Baseline, StrikingConfig};
    let cfg = StrikingConfig {
        baseline: Baseline::Seasonal,
        min_expected: 0.0,
        ..StrikingConfig::default()
    };
    check_striking_scenario("striking_scenario_seasonal.csv", cfg);
}

#[test]
fn aoristic_profile_and_series_match_python_datetime_oracle() {
    use brandpunt::analysis::aoristic::{time_profile, time_series, AoristicConfig};
    use brandpunt::analysis::Event;
    use brandpunt::calendar::Step;
    use chrono::{NaiveDate, NaiveDateTime};

    let parse = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
    let events: Vec<Event> = read_rows("stats_aoristic_events.csv")
        .iter()
        .map(|r| Event {
            x_m: 155_000.0,
            y_m: 463_000.0,
            begin: Some(parse(&r[0])),
            end: (!r[1].is_empty()).then(|| parse(&r[1])),
            weight: 1.0,
        })
        .collect();
    let path = format!(
        "{}/tests/oracle/expected/stats_aoristic_expected.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let list = |k: &str| -> Vec<f64> {
        want[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let cfg = AoristicConfig {
        max_window_hours: want["max_window_hours"].as_f64().unwrap(),
    };
    let p = time_profile(&events, &cfg).unwrap();
    assert_eq!(
        p.counts.used_incidents as u64,
        want["used_incidents"].as_u64().unwrap()
    );
    assert_eq!(
        p.counts.excluded_long_windows as u64,
        want["excluded_long_windows"].as_u64().unwrap()
    );
    assert_eq!(
        p.counts.excluded_missing_time as u64,
        want["excluded_missing_time"].as_u64().unwrap()
    );
    for (i, (g, w)) in p.hour_of_week.iter().zip(list("hour_of_week")).enumerate() {
        assert!(
            (g - w).abs() < 1e-9,
            "hour-of-week slot {i}: got {g}, want {w}"
        );
    }
    for (i, (g, w)) in p.day_of_week.iter().zip(list("day_of_week")).enumerate() {
        assert!((g - w).abs() < 1e-9, "day {i}: got {g}, want {w}");
    }
    let from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    let s = time_series(&events, from, to, Step::Month, &cfg).unwrap();
    assert_eq!(s.buckets.len(), 12);
    for (i, (b, w)) in s.buckets.iter().zip(list("monthly_2025")).enumerate() {
        assert!(
            (b.weight - w).abs() < 1e-9,
            "month {}: got {}, want {w}",
            i + 1,
            b.weight
        );
    }
    let out = want["weight_outside_2025"].as_f64().unwrap();
    assert!((s.weight_outside_period - out).abs() < 1e-9);
}

fn table(s: &str) -> Vec<Vec<u64>> {
    s.split('|')
        .map(|row| row.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn profile_homogeneity_tests_match_scipy() {
    use brandpunt::analysis::homogeneity::{chi_square_homogeneity, risk_homogeneity};
    let rows = read_rows("profile_homogeneity.csv");
    assert!(rows.len() >= 8);
    for r in &rows {
        let observed = table(&r[1]);
        let got = match &r[0] {
            "chi2" => chi_square_homogeneity(&observed).unwrap(),
            _ => risk_homogeneity(&observed, &table(&r[2])).unwrap(),
        };
        let what = format!("{} {}", &r[0], &r[1]);
        assert_eq!(got.method, "chi2", "{what}");
        assert_eq!(got.df, u(r, 5), "df {what}");
        // The risk oracle fits by BFGS, so its digits beyond 1e-7 are its own.
        let rel = if &r[0] == "chi2" { 1e-10 } else { 1e-6 };
        assert_close(got.statistic, f(r, 3), rel, &format!("statistic {what}"));
        assert_close(got.p_value, f(r, 4), rel, &format!("p {what}"));
    }
}
