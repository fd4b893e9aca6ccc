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

/// Series shorter than this count their pairs directly (no sort needed for S).
const PAIRS_BELOW: usize = 16;

/// Mann-Kendall test of the series `x` (in time order). NaN values are not allowed in meaningful input;
/// they compare as ties with nothing and contribute 0 to S.
///
/// Costs O(n log n): S and the tie groups come from one merge sort of a copy that counts the pairs out of order
/// (`S = pairs - tied pairs - 2 * pairs out of order`, exact in integers); a series with NaN, or a short one,
/// counts its pairs one by one.
pub fn mann_kendall(x: &[f64]) -> MannKendall {
    let n = x.len();
    let (s, sorted) = if n < PAIRS_BELOW || x.iter().any(|v| v.is_nan()) {
        let mut sorted: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        (s_by_pairs(x), sorted)
    } else {
        let mut sorted = x.to_vec();
        let descending = sort_counting_descents(&mut sorted);
        let tied: i64 = tie_groups(&sorted).map(|t| t * (t - 1) / 2).sum();
        let pairs = (n * (n - 1) / 2) as i64;
        (pairs - tied - 2 * descending, sorted)
    };
    let tie_term: f64 = tie_groups(&sorted)
        .map(|t| {
            let t = t as f64;
            t * (t - 1.0) * (2.0 * t + 5.0)
        })
        .sum();
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

/// `S = sum_{k<j} sgn(x_j - x_k)` pair by pair (NaN adds 0).
fn s_by_pairs(x: &[f64]) -> i64 {
    let mut s: i64 = 0;
    for k in 0..x.len() {
        let xk = x[k];
        // Branch-free sign sum (vectorises); NaN compares false both ways and adds 0.
        s += x[k + 1..]
            .iter()
            .map(|&xj| i64::from(xj > xk) - i64::from(xj < xk))
            .sum::<i64>();
    }
    s
}

/// Sorts `x` (no NaN) ascending by a bottom-up merge sort and returns the number of pairs `k < j` with
/// `x_k > x_j` in the original order (equal values are not counted: the merge takes the left one first).
fn sort_counting_descents(x: &mut [f64]) -> i64 {
    let n = x.len();
    let mut scratch = vec![0.0; n];
    // Each pass merges runs of `width` from `from` into `to`, then the two swap.
    let (mut from, mut to): (&mut [f64], &mut [f64]) = (x, &mut scratch);
    let mut passes = 0;
    let mut descents: i64 = 0;
    let mut width = 1;
    while width < n {
        for lo in (0..n).step_by(2 * width) {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j, mut k) = (lo, mid, lo);
            while i < mid && j < hi {
                if from[i] <= from[j] {
                    to[k] = from[i];
                    i += 1;
                } else {
                    to[k] = from[j];
                    j += 1;
                    descents += (mid - i) as i64;
                }
                k += 1;
            }
            to[k..k + mid - i].copy_from_slice(&from[i..mid]);
            let k = k + mid - i;
            to[k..k + hi - j].copy_from_slice(&from[j..hi]);
        }
        std::mem::swap(&mut from, &mut to);
        passes += 1;
        width *= 2;
    }
    if passes % 2 == 1 {
        // The sorted values are in the scratch buffer (`from`); `to` is `x`.
        to.copy_from_slice(from);
    }
    descents
}

/// The sizes of the runs of equal values of a sorted series.
fn tie_groups(sorted: &[f64]) -> impl Iterator<Item = i64> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= sorted.len() {
            return None;
        }
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as i64;
        i = j;
        Some(t)
    })
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
    fn the_merge_sort_counts_s_as_the_pairs_do() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in [16usize, 17, 31, 64, 104, 260, 261] {
            for round in 0..40 {
                // Few distinct values (many ties, both zeros) or continuous values.
                let x: Vec<f64> = (0..n)
                    .map(|_| match round % 3 {
                        0 => [-1.5, -0.0, 0.0, 0.0, 2.0, 3.25][rng.gen_range(0..6)],
                        1 => rng.gen_range(-3.0..3.0),
                        _ => f64::from(rng.gen_range(0..4)) + 0.001 * rng.gen_range(0.0..1.0),
                    })
                    .collect();
                let mut sorted = x.clone();
                let descents = sort_counting_descents(&mut sorted);
                let tied: i64 = tie_groups(&sorted).map(|t| t * (t - 1) / 2).sum();
                let s = (n * (n - 1) / 2) as i64 - tied - 2 * descents;
                assert_eq!(s, s_by_pairs(&x), "n {n} round {round}");
                assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
                assert_eq!(mann_kendall(&x).s, s as f64);
            }
        }
        // NaN: counted pair by pair, ties with nothing.
        let mut x: Vec<f64> = (0..20).map(f64::from).collect();
        x[4] = f64::NAN;
        assert_eq!(mann_kendall(&x).s, s_by_pairs(&x) as f64);
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
