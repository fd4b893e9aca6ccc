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
