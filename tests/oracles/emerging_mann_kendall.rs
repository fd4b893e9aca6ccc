//! Mann-Kendall trend test against pymannkendall.original_test (tests/oracle/emerging_mann_kendall.py,
//! expected values committed in tests/oracle/expected/emerging_mann_kendall.json).

use brandpunt::analysis::mann_kendall::mann_kendall;
use serde_json::Value;

#[test]
fn matches_pymannkendall_original_test() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracle/expected/emerging_mann_kendall.json"
    );
    let e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = e["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for (k, c) in cases.iter().enumerate() {
        let x: Vec<f64> = c["x"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let r = mann_kendall(&x);
        let want = |key: &str| c[key].as_f64().unwrap();
        assert_eq!(r.s, want("s"), "case {k} S");
        assert!(
            (r.var_s - want("var_s")).abs() <= 1e-9 * want("var_s").max(1.0),
            "case {k} Var(S)"
        );
        assert!(
            (r.z - want("z")).abs() <= 1e-12,
            "case {k} z: {} vs {}",
            r.z,
            want("z")
        );
        assert!(
            (r.p - want("p")).abs() <= 1e-12,
            "case {k} p: {} vs {}",
            r.p,
            want("p")
        );
    }
}
