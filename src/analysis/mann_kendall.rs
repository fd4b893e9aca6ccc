//! Mann-Kendall trend test (the "original" test, as in `pymannkendall.original_test`).
//!
//! For a series `x_1..x_n` in time order:
//! - `S = sum_{k<j} sgn(x_j - x_k)`
//! - `Var(S) = [n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)] / 18`, where `t_g` is the size of the g-th group of
//!   tied values (tie correction).
//! - `z = (S - sgn(S)) / sqrt(Var(S))` (continuity correction; `z = 0` when `S = 0`).
//! - `p` two-sided from the standard normal distribution.
//!
//! Emerging hot spot analysis runs this on each location's series of Gi* z-scores. A series without any
//! variation (or shorter than 2) has `Var(S) = 0`: it is reported as `z = 0`, `p = 1` (no trend), never NaN.

use libm::erfc;

/// Result of a Mann-Kendall test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannKendall {
    /// Kendall's S statistic.
    pub s: f64,
    /// Variance of S with tie correction.
    pub var_s: f64,
    /// Normal score with continuity correction.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Two-sided p-value of a standard normal score: `P(|Z| >= |z|)`, computed without cancellation.
pub fn two_sided_normal_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// Mann-Kendall test of the series `x` (in time order). NaN values are not allowed in meaningful input;
/// they compare as ties with nothing and contribute 0 to S.
pub fn mann_kendall(x: &[f64]) -> MannKendall {
    let n = x.len();
    let mut s: i64 = 0;
    for k in 0..n {
        let xk = x[k];
        // Branch-free sign sum (vectorises); NaN compares false both ways and adds 0.
        s += x[k + 1..]
            .iter()
            .map(|&xj| i64::from(xj > xk) - i64::from(xj < xk))
            .sum::<i64>();
    }
    // Tie groups: sort a copy and count runs of equal values.
    let mut sorted: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as f64;
        tie_term += t * (t - 1.0) * (2.0 * t + 5.0);
        i = j;
    }
    let nf = n as f64;
    let var_s = ((nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_term) / 18.0).max(0.0);
    let s = s as f64;
    let z = if var_s > 0.0 && s != 0.0 {
        (s - s.signum()) / var_s.sqrt()
    } else {
        0.0
    };
    MannKendall {
        s,
        var_s,
        z,
        p: two_sided_normal_p(z),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_example_without_ties() {
        // x = [1, 3, 2, 5, 4]: pairs (k<j) signs: 1->3 +,1->2 +,1->5 +,1->4 +, 3->2 -,3->5 +,3->4 +,
        // 2->5 +, 2->4 +, 5->4 -  => S = 8 - 2 = 6. Var = 5*4*15/18 = 300/18 = 16.666..
        // z = (6 - 1)/sqrt(16.666..) = 1.224744871391589.
        let r = mann_kendall(&[1.0, 3.0, 2.0, 5.0, 4.0]);
        assert_eq!(r.s, 6.0);
        assert!((r.var_s - 300.0 / 18.0).abs() < 1e-12);
        assert!((r.z - 5.0 / (300.0f64 / 18.0).sqrt()).abs() < 1e-12);
        // p = 2 * (1 - Phi(1.2247448713915890)) = 0.22067136191984693 (closed form via erfc).
        assert!((r.p - 0.220_671_361_919_846_9).abs() < 1e-12, "{}", r.p);
    }

    #[test]
    fn hand_example_with_ties() {
        // x = [2, 2, 3, 1, 3]: pairs: 2,2 0; 2,3 +; 2,1 -; 2,3 +; 2,3 +; 2,1 -; 2,3 +; 3,1 -; 3,3 0; 1,3 +
        // S = 5 - 3 = 2. Ties: {2,2} t=2 -> 2*1*9 = 18; {3,3} t=2 -> 18. Var = (5*4*15 - 36)/18 = 264/18.
        let r = mann_kendall(&[2.0, 2.0, 3.0, 1.0, 3.0]);
        assert_eq!(r.s, 2.0);
        assert!((r.var_s - 264.0 / 18.0).abs() < 1e-12);
        assert!((r.z - 1.0 / (264.0f64 / 18.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn constant_and_short_series_have_no_trend() {
        for x in [&[][..], &[1.0][..], &[0.0, 0.0, 0.0, 0.0][..]] {
            let r = mann_kendall(x);
            assert_eq!(r.z, 0.0);
            assert_eq!(r.p, 1.0);
        }
        let down = mann_kendall(&[5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
        assert_eq!(down.s, -15.0);
        assert!(down.z < 0.0 && down.p < 0.05);
    }
}
