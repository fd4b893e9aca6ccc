//! Tests of homogeneity of a groups x classes table of counts, as the profile breakdowns use them.
//!
//! - [`chi_square_homogeneity`]: Pearson's chi-square test that every group has the same distribution over the
//!   classes, `X2 = sum (O - E)^2 / E` with `E = row total x column total / N`, `df = (R - 1)(C - 1)` over the
//!   rows and columns with a positive total (an all-zero row or column carries no information and is dropped).
//!   No continuity (Yates) correction, so for a 2 x 2 table it equals `scipy.stats.chi2_contingency(t,
//!   correction=False)`.
//! - [`risk_homogeneity`]: the test that the relative rate of the classes is the same in every group, allowing
//!   the groups to have a different mix of classes in the base population: counts `O[g][c]` (e.g. affected
//!   addresses) against exposures `n[g][c]` (e.g. all addresses) under the log-linear model
//!   `E[O[g][c]] = n[g][c] * a[g] * t[c]` (no group x class interaction), fitted by iterative proportional
//!   fitting from `n` to the row and column totals of `O` (the maximum-likelihood fit of the Poisson model).
//!   Pearson's `X2` over the cells with a positive exposure, `df` = those cells - (R + C - 1), rows and columns
//!   with a zero count total dropped (they fit exactly). With equal exposures in every group (a breakdown by year
//!   over the same addresses) this is the chi-square test of independence of [`chi_square_homogeneity`].
//!
//! Small expected counts: the chi-square approximation is used when no expected count is below 1 and at most 20 %
//! are below 5 (Cochran's rule). Otherwise the p-value is a Monte Carlo p-value `(1 + #{X2_sim >= X2}) / (B + 1)`
//! from `B` = [`SIMULATIONS`] tables simulated under the null hypothesis with a fixed seed (so the answer is
//! reproducible): for [`chi_square_homogeneity`] tables with the observed row and column totals (a random
//! permutation of the class labels over the counted units, as R's `chisq.test(simulate.p.value = TRUE)`); for
//! [`risk_homogeneity`] a parametric bootstrap that draws every group's total over its classes from the fitted
//! model and refits. `method` says which was used.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Number of simulated tables of a Monte Carlo p-value.
pub const SIMULATIONS: u32 = 1999;

/// Seed of the simulations (fixed: the same table gives the same p-value).
const SEED: u64 = 0x686f_6d6f_6765_6e65;

/// The result of a homogeneity test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Homogeneity {
    /// Pearson's chi-square statistic.
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: u64,
    /// p-value (from the chi-square distribution, or Monte Carlo: see `method`).
    pub p_value: f64,
    /// `chi2` (asymptotic) or `monte_carlo` (small expected counts).
    pub method: &'static str,
    /// Number of simulated tables when `method` is `monte_carlo`.
    pub simulations: Option<u32>,
    /// Groups (rows) and classes (columns) used (with a positive total).
    pub groups: u64,
    pub classes: u64,
    /// Cells tested, and how many of them have an expected count below 5.
    pub cells: u64,
    pub small_expected_cells: u64,
    /// The smallest expected count.
    pub min_expected: f64,
}

/// Whether Cochran's rule allows the chi-square approximation.
fn cochran_ok(expected: &[f64]) -> (bool, u64, f64) {
    let small = expected.iter().filter(|e| **e < 5.0).count() as u64;
    let min = expected.iter().copied().fold(f64::INFINITY, f64::min);
    let ok = min >= 1.0 && (small as f64) <= 0.2 * expected.len() as f64;
    (ok, small, min)
}

fn chi2_sf(statistic: f64, df: u64) -> f64 {
    match ChiSquared::new(df as f64) {
        Ok(d) => d.sf(statistic).clamp(0.0, 1.0),
        Err(_) => f64::NAN,
    }
}

/// Rows and columns of `table` with a positive total.
fn kept(table: &[Vec<u64>]) -> (Vec<usize>, Vec<usize>) {
    let cols = table.iter().map(Vec::len).max().unwrap_or(0);
    let rows: Vec<usize> = (0..table.len())
        .filter(|&g| table[g].iter().sum::<u64>() > 0)
        .collect();
    let columns: Vec<usize> = (0..cols)
        .filter(|&c| {
            table
                .iter()
                .map(|r| r.get(c).copied().unwrap_or(0))
                .sum::<u64>()
                > 0
        })
        .collect();
    (rows, columns)
}

fn pearson_independence(t: &[Vec<f64>]) -> (f64, Vec<f64>) {
    let row: Vec<f64> = t.iter().map(|r| r.iter().sum()).collect();
    let cols = t.first().map_or(0, Vec::len);
    let col: Vec<f64> = (0..cols).map(|c| t.iter().map(|r| r[c]).sum()).collect();
    let n: f64 = row.iter().sum();
    let mut x2 = 0.0;
    let mut expected = Vec::with_capacity(t.len() * cols);
    for (g, r) in t.iter().enumerate() {
        for (c, &o) in r.iter().enumerate() {
            let e = row[g] * col[c] / n;
            expected.push(e);
            if e > 0.0 {
                x2 += (o - e) * (o - e) / e;
            }
        }
    }
    (x2, expected)
}

/// The test of an observed `statistic` with `df` degrees of freedom and its `expected` cells, as [`Homogeneity`]
/// reports it: the chi-square distribution when Cochran's rule holds ([`cochran_ok`]), else the Monte Carlo
/// p-value `(1 + simulations at least as large) / (SIMULATIONS + 1)` over [`SIMULATIONS`] tables drawn by the
/// simulator `simulator` makes (only then), which returns a table's statistic, from one RNG seeded with [`SEED`].
fn tested<S: FnMut(&mut ChaCha8Rng) -> f64>(
    statistic: f64,
    df: u64,
    expected: &[f64],
    groups: usize,
    classes: usize,
    simulator: impl FnOnce() -> S,
) -> Homogeneity {
    let (ok, small, min_expected) = cochran_ok(expected);
    let (p_value, method, simulations) = if ok {
        (chi2_sf(statistic, df), "chi2", None)
    } else {
        let mut simulate = simulator();
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let at_least = (0..SIMULATIONS)
            .filter(|_| simulate(&mut rng) >= statistic * (1.0 - 1e-12))
            .count() as u32;
        (
            f64::from(at_least + 1) / f64::from(SIMULATIONS + 1),
            "monte_carlo",
            Some(SIMULATIONS),
        )
    };
    Homogeneity {
        statistic,
        df,
        p_value,
        method,
        simulations,
        groups: groups as u64,
        classes: classes as u64,
        cells: expected.len() as u64,
        small_expected_cells: small,
        min_expected,
    }
}

/// Pearson's chi-square test of homogeneity of the rows of `table` (groups x classes of counts); see the module
/// docs. `None` when fewer than two rows or two columns have a positive total (nothing to compare).
///
/// ```
/// use brandpunt::analysis::homogeneity::chi_square_homogeneity;
/// // scipy.stats.chi2_contingency([[10, 20], [30, 40]], correction=False): 0.7936507936507936, df 1, p 0.3729984.
/// let h = chi_square_homogeneity(&[vec![10, 20], vec![30, 40]]).unwrap();
/// assert!((h.statistic - 0.7936507936507936).abs() < 1e-12);
/// assert_eq!((h.df, h.method), (1, "chi2"));
/// assert!((h.p_value - 0.372_998_483_613_486_86).abs() < 1e-9);
/// ```
pub fn chi_square_homogeneity(table: &[Vec<u64>]) -> Option<Homogeneity> {
    let (rows, cols) = kept(table);
    if rows.len() < 2 || cols.len() < 2 {
        return None;
    }
    let t: Vec<Vec<f64>> = rows
        .iter()
        .map(|&g| {
            cols.iter()
                .map(|&c| table[g].get(c).copied().unwrap_or(0) as f64)
                .collect()
        })
        .collect();
    let (statistic, expected) = pearson_independence(&t);
    let df = ((rows.len() - 1) * (cols.len() - 1)) as u64;
    Some(tested(
        statistic,
        df,
        &expected,
        rows.len(),
        cols.len(),
        || {
            // Permute the class labels of the units over the rows: tables with the observed margins.
            let row_totals: Vec<usize> = t.iter().map(|r| r.iter().sum::<f64>() as usize).collect();
            let mut labels: Vec<usize> = Vec::new();
            for (c, _) in cols.iter().enumerate() {
                let total: f64 = t.iter().map(|r| r[c]).sum();
                labels.extend(std::iter::repeat_n(c, total as usize));
            }
            let mut sim = vec![vec![0.0; cols.len()]; rows.len()];
            move |rng: &mut ChaCha8Rng| {
                labels.shuffle(rng);
                let mut k = 0;
                for (g, &n) in row_totals.iter().enumerate() {
                    sim[g].iter_mut().for_each(|x| *x = 0.0);
                    for &c in &labels[k..k + n] {
                        sim[g][c] += 1.0;
                    }
                    k += n;
                }
                pearson_independence(&sim).0
            }
        },
    ))
}

/// Iterative proportional fitting of `start` (exposures) to the row and column totals of `observed`.
fn ipf(observed: &[Vec<f64>], start: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut mu: Vec<Vec<f64>> = start.to_vec();
    let cols = observed.first().map_or(0, Vec::len);
    let row_t: Vec<f64> = observed.iter().map(|r| r.iter().sum()).collect();
    let col_t: Vec<f64> = (0..cols)
        .map(|c| observed.iter().map(|r| r[c]).sum())
        .collect();
    // Converges geometrically for these tables; the cap bounds the cost of a sparse one (each simulated table of a
    // Monte Carlo p-value is refitted).
    for _ in 0..1_000 {
        for (g, r) in mu.iter_mut().enumerate() {
            let s: f64 = r.iter().sum();
            if s > 0.0 {
                r.iter_mut().for_each(|x| *x *= row_t[g] / s);
            }
        }
        let mut worst: f64 = 0.0;
        for c in 0..cols {
            let s: f64 = mu.iter().map(|r| r[c]).sum();
            if s > 0.0 {
                let f = col_t[c] / s;
                worst = worst.max((f - 1.0).abs());
                mu.iter_mut().for_each(|r| r[c] *= f);
            }
        }
        if worst < 1e-11 {
            break;
        }
    }
    mu
}

fn pearson_fitted(observed: &[Vec<f64>], exposure: &[Vec<f64>]) -> (f64, Vec<f64>) {
    let mu = ipf(observed, exposure);
    let mut x2 = 0.0;
    let mut expected = Vec::new();
    for (g, r) in observed.iter().enumerate() {
        for (c, &o) in r.iter().enumerate() {
            if exposure[g][c] > 0.0 {
                let e = mu[g][c];
                expected.push(e);
                if e > 0.0 {
                    x2 += (o - e) * (o - e) / e;
                }
            }
        }
    }
    (x2, expected)
}

/// The test that the relative rate of the classes is the same in every group, given the exposures (see the
/// module docs). `observed` and `exposure` are groups x classes; a cell with a count but no exposure is left out.
/// `None` when the model leaves no degree of freedom.
pub fn risk_homogeneity(observed: &[Vec<u64>], exposure: &[Vec<u64>]) -> Option<Homogeneity> {
    let (rows, cols) = kept(observed);
    if rows.len() < 2 || cols.len() < 2 {
        return None;
    }
    let pick = |t: &[Vec<u64>], g: usize, c: usize| t[g].get(c).copied().unwrap_or(0) as f64;
    let n: Vec<Vec<f64>> = rows
        .iter()
        .map(|&g| cols.iter().map(|&c| pick(exposure, g, c)).collect())
        .collect();
    // Counts outside any exposure cannot be modelled: left out.
    let o: Vec<Vec<f64>> = rows
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            cols.iter()
                .enumerate()
                .map(|(j, &c)| {
                    if n[i][j] > 0.0 {
                        pick(observed, g, c)
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let cells = n.iter().flatten().filter(|x| **x > 0.0).count();
    let free = rows.len() + cols.len() - 1;
    if cells <= free {
        return None;
    }
    let df = (cells - free) as u64;
    let (statistic, expected) = pearson_fitted(&o, &n);
    Some(tested(
        statistic,
        df,
        &expected,
        rows.len(),
        cols.len(),
        || {
            // Each group's count drawn over the classes with the fitted probabilities: the row's total and the
            // cumulative fitted values, made once for every simulation.
            let rows_cumulative: Vec<(u64, Vec<f64>)> = ipf(&o, &n)
                .iter()
                .zip(&o)
                .map(|(r, observed)| {
                    let cumulative: Vec<f64> = r
                        .iter()
                        .scan(0.0, |s, x| {
                            *s += x;
                            Some(*s)
                        })
                        .collect();
                    (observed.iter().sum::<f64>() as u64, cumulative)
                })
                .collect();
            let mut sim = vec![vec![0.0; cols.len()]; rows.len()];
            move |rng: &mut ChaCha8Rng| {
                for (g, (total, cumulative)) in rows_cumulative.iter().enumerate() {
                    let sum = cumulative.last().copied().unwrap_or(0.0);
                    sim[g].iter_mut().for_each(|x| *x = 0.0);
                    if sum <= 0.0 {
                        continue;
                    }
                    for _ in 0..*total {
                        let u = rng.gen::<f64>() * sum;
                        let c = cumulative
                            .partition_point(|x| *x <= u)
                            .min(cumulative.len() - 1);
                        sim[g][c] += 1.0;
                    }
                }
                pearson_fitted(&sim, &n).0
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values from scipy 1.10.1 (`/usr/bin/python3`):
    /// `chi2_contingency(t, correction=False)` -> (statistic, p, dof).
    #[test]
    fn pearson_matches_scipy_on_known_tables() {
        let cases: [(Vec<Vec<u64>>, f64, f64, u64); 2] = [
            (
                vec![
                    vec![12, 30, 45, 8],
                    vec![20, 25, 30, 15],
                    vec![9, 40, 38, 12],
                ],
                13.267_430_197_289_013,
                0.038_980_328_344_225_525,
                6,
            ),
            (
                vec![vec![50, 30], vec![20, 60]],
                22.857_142_857_142_858,
                1.744_996_250_873_808_7e-6,
                1,
            ),
        ];
        for (t, x2, p, df) in cases {
            let h = chi_square_homogeneity(&t).unwrap();
            assert!((h.statistic - x2).abs() < 1e-9, "{} vs {x2}", h.statistic);
            assert!(
                (h.p_value - p).abs() < 1e-9 * p.max(1e-3),
                "{} vs {p}",
                h.p_value
            );
            assert_eq!((h.df, h.method), (df, "chi2"));
        }
    }

    #[test]
    fn empty_rows_and_columns_are_dropped_and_one_group_is_no_test() {
        let h = chi_square_homogeneity(&[vec![10, 0, 20], vec![0, 0, 0], vec![30, 0, 40]]).unwrap();
        assert_eq!((h.groups, h.classes, h.df), (2, 2, 1));
        assert!((h.statistic - 0.793_650_793_650_793_6).abs() < 1e-12);
        assert!(chi_square_homogeneity(&[vec![1, 2, 3]]).is_none());
        assert!(chi_square_homogeneity(&[vec![1, 0], vec![2, 0]]).is_none());
    }

    #[test]
    fn small_expected_counts_use_a_reproducible_monte_carlo_p_value() {
        // A clear difference with tiny counts: the exact (Fisher) two-sided p of [[6, 0], [0, 6]] is 0.00216.
        let h = chi_square_homogeneity(&[vec![6, 0], vec![0, 6]]).unwrap();
        assert_eq!(h.method, "monte_carlo");
        assert_eq!(h.simulations, Some(SIMULATIONS));
        assert!(h.p_value < 0.01, "{}", h.p_value);
        assert_eq!(
            h.p_value,
            chi_square_homogeneity(&[vec![6, 0], vec![0, 6]])
                .unwrap()
                .p_value
        );
        // No difference: p is large.
        let h = chi_square_homogeneity(&[vec![3, 3], vec![3, 3]]).unwrap();
        assert_eq!(h.method, "monte_carlo");
        assert!(h.p_value > 0.5, "{}", h.p_value);
    }

    #[test]
    fn risk_test_allows_different_class_mixes() {
        // Group 2 has ten times the class-0 addresses of group 1, but the same rates per class (2 % vs 1 %): no
        // interaction, so X2 = 0 while the plain distribution test sees a difference.
        let observed = vec![vec![20, 100], vec![200, 100]];
        let exposure = vec![vec![1_000, 10_000], vec![10_000, 10_000]];
        let r = risk_homogeneity(&observed, &exposure).unwrap();
        assert!(r.statistic < 1e-9, "{}", r.statistic);
        assert_eq!(r.df, 1);
        assert!(r.p_value > 0.99);
        assert!(chi_square_homogeneity(&observed).unwrap().p_value < 1e-6);
        // Equal exposures: the same as the independence test.
        let observed = vec![vec![12, 30, 45], vec![20, 25, 30]];
        let exposure = vec![vec![500, 500, 500], vec![500, 500, 500]];
        let r = risk_homogeneity(&observed, &exposure).unwrap();
        let c = chi_square_homogeneity(&observed).unwrap();
        assert!((r.statistic - c.statistic).abs() < 1e-9);
        assert_eq!(r.df, c.df);
        // A different rate ratio in group 2: class 0 at 10 % there against 1 % in group 1, class 1 at 1 % in both.
        let observed = vec![vec![10, 100], vec![100, 100]];
        let exposure = vec![vec![1_000, 10_000], vec![1_000, 10_000]];
        let r = risk_homogeneity(&observed, &exposure).unwrap();
        assert!(r.p_value < 1e-6, "{}", r.p_value);
        assert_eq!(r.method, "chi2");
    }
}
