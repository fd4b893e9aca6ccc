//! Correlation of two variables across areas (an indicator against a count or a rate): Pearson's product-moment
//! coefficient and Spearman's rank coefficient (Pearson's of the ranks, ties given their average rank), with
//! the number of pairs.
//!
//! Both are `None` with fewer than 3 pairs or when either variable is constant (the coefficient is undefined).
//! Pairs with a non-finite value are left out, so `n` is the number of pairs used.
//!
//! ```
//! use brandpunt::analysis::correlation::correlate;
//!
//! let c = correlate(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.5), (4.0, 100.0)]);
//! assert_eq!(c.n, 4);
//! assert!((c.spearman.unwrap() - 1.0).abs() < 1e-12); // monotone
//! assert!(c.pearson.unwrap() < 0.9); // but not linear
//! assert_eq!(correlate(&[(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]).pearson, None);
//! ```

use serde::Serialize;

/// Pearson's and Spearman's coefficient over `n` pairs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Correlation {
    /// Pairs used (both values finite).
    pub n: usize,
    pub pearson: Option<f64>,
    pub spearman: Option<f64>,
}

/// Pearson's r of `xs` and `ys` (same length); `None` below 3 pairs or for a constant variable.
fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len();
    if n < 3 || ys.len() != n {
        return None;
    }
    let mx = xs.iter().sum::<f64>() / n as f64;
    let my = ys.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let (dx, dy) = (x - mx, y - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Ranks 1..=n of `v`, ties sharing their average rank.
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) hold equal values: ranks i+1..=j+1, average (i + j) / 2 + 1.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// The correlation of the pairs `(x, y)` (see the module docs).
pub fn correlate(pairs: &[(f64, f64)]) -> Correlation {
    let (xs, ys): (Vec<f64>, Vec<f64>) = pairs
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .copied()
        .unzip();
    Correlation {
        n: xs.len(),
        pearson: pearson(&xs, &ys),
        spearman: pearson(&average_ranks(&xs), &average_ranks(&ys)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_average_rank() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 5.0]),
            [2.5, 4.0, 2.5, 1.0]
        );
    }

    #[test]
    fn pearson_of_a_known_sample() {
        // x = 1..5, y = 2, 4, 5, 4, 5: r = 6 / sqrt(10 * 6) = 0.7746 (hand computation).
        let c = correlate(&[(1.0, 2.0), (2.0, 4.0), (3.0, 5.0), (4.0, 4.0), (5.0, 5.0)]);
        assert!((c.pearson.unwrap() - 6.0 / 60f64.sqrt()).abs() < 1e-12);
        // Ranks of y: 1, 2.5, 4.5, 2.5, 4.5; Spearman = Pearson of (1..5) and those.
        let ry = [1.0, 2.5, 4.5, 2.5, 4.5];
        let my = ry.iter().sum::<f64>() / 5.0;
        let sxy: f64 = (1..=5)
            .zip(ry)
            .map(|(x, y)| (x as f64 - 3.0) * (y - my))
            .sum();
        let syy: f64 = ry.iter().map(|y| (y - my) * (y - my)).sum();
        assert!((c.spearman.unwrap() - sxy / (10.0 * syy).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn non_finite_pairs_are_left_out_and_small_samples_undefined() {
        let c = correlate(&[(1.0, f64::NAN), (2.0, 1.0), (3.0, 2.0)]);
        assert_eq!((c.n, c.pearson), (2, None));
        let c = correlate(&[(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]);
        assert!((c.pearson.unwrap() + 1.0).abs() < 1e-12);
    }
}
