//! Getis-Ord Gi* hot spot statistic (ESRI "Hot Spot Analysis"), exactly as `methods.md` defines it.
//!
//! For location `i` with binary (or general) weights `w_ij` and the self-weight `w_ii = 1` added here:
//! ```text
//! Gi* = (sum_j w_ij x_j - xbar sum_j w_ij) / (S sqrt((n sum_j w_ij^2 - (sum_j w_ij)^2) / (n - 1)))
//! ```
//! where `j` runs over `i` and its neighbours, `xbar` is the mean of all `n` values and `S` the population
//! standard deviation (divide by `n`). Gi* is itself a z-score; `p` is two-sided from the standard normal.
//! This equals PySAL `esda.G_Local(y, w, transform='B', star=True).Zs`.
//!
//! Significance bins (ESRI `Gi_Bin`): +-3 at 99 %, +-2 at 95 %, +-1 at 90 % confidence, 0 otherwise, sign of z.
//! With FDR on (ESRI "Apply False Discovery Rate correction"), each confidence level uses its own
//! Benjamini-Hochberg cut-off over all features: level 99 % needs `p <= BH cut-off at 0.01`, 95 % at 0.05,
//! 90 % at 0.10. With FDR off the raw thresholds `p < 0.01 / 0.05 / 0.10` apply.
//! `fdr_significant` is always the BH decision at the caller's `alpha`.
//!
//! Optional permutation inference: conditional randomisation (value of `i` fixed, its neighbours' values
//! drawn without replacement from the other `n - 1` values), seeded per location so results do not depend on
//! thread scheduling; pseudo p = `(min(#{G*_perm >= G*_obs}, P - #{...}) + 1) / (P + 1)` (esda "directed").
//!
//! Degenerate cases: fewer than 3 values or constant values (S = 0) are errors ([`GiStarError`]); a location
//! whose neighbourhood is all locations has a 0/0 statistic and gets `z = 0`, `p = 1`.

use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use thiserror::Error;

use super::fdr::{benjamini_hochberg_cutoff, fdr_significant};
use super::mann_kendall::two_sided_normal_p;
use super::weights::SpatialWeights;

/// Errors from [`gi_star`].
#[derive(Debug, Error, PartialEq)]
pub enum GiStarError {
    /// Values and weights describe a different number of locations.
    #[error("{values} values but the weights have {weights} locations")]
    LengthMismatch { values: usize, weights: usize },
    /// Gi* needs at least 3 locations.
    #[error("Gi* needs at least 3 locations, got {0}")]
    TooFewLocations(usize),
    /// A value is NaN or infinite.
    #[error("value at location {0} is not finite")]
    NonFiniteValue(usize),
    /// All values are equal (standard deviation 0): there is no hot or cold spot to find.
    #[error("all values are equal; Gi* is undefined without variation")]
    ConstantValues,
    /// Alpha outside (0, 1).
    #[error("alpha must lie in (0, 1), got {0}")]
    InvalidAlpha(f64),
    /// Zero permutations requested.
    #[error("the number of permutations must be at least 1")]
    NoPermutations,
}

/// Options for [`gi_star`].
#[derive(Clone, Debug, PartialEq)]
pub struct GiStarOptions {
    /// Apply Benjamini-Hochberg FDR to the bins (default true).
    pub fdr: bool,
    /// AreaLevel for `fdr_significant` (default 0.05).
    pub alpha: f64,
    /// Conditional permutation inference: `(count, seed)`, e.g. `(999, 12345)`. Default none.
    pub permutations: Option<(usize, u64)>,
}

impl Default for GiStarOptions {
    fn default() -> Self {
        Self {
            fdr: true,
            alpha: 0.05,
            permutations: None,
        }
    }
}

/// Gi* results, one entry per location.
#[derive(Clone, Debug, PartialEq)]
pub struct GiStarResult {
    /// Gi* z-scores.
    pub z: Vec<f64>,
    /// Two-sided normal p-values.
    pub p: Vec<f64>,
    /// Significance bin -3..=3 (see the module docs).
    pub bin: Vec<i8>,
    /// Benjamini-Hochberg decision at `alpha` over all locations.
    pub fdr_significant: Vec<bool>,
    /// Permutation pseudo p-values when permutations were requested.
    pub pseudo_p: Option<Vec<f64>>,
}

/// Mean and population standard deviation.
pub(crate) fn mean_and_population_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// False when the values are constant: a standard deviation of 0, or one that is only rounding noise
/// (below 1e-12 of the mean, e.g. the SD computed for many copies of 0.1).
pub(crate) fn has_variation(mean: f64, sd: f64) -> bool {
    sd > 0.0 && sd > 1e-12 * mean.abs()
}

/// The Gi* z-score from its parts: `lag = sum_j w_ij x_j` (incl. self), `sw = sum_j w_ij`,
/// `sw2 = sum_j w_ij^2`, over a population of `n` values with `mean` and population `sd > 0`.
/// Returns 0 when the variance term vanishes (neighbourhood = everything).
#[inline]
pub(crate) fn gi_star_z(lag: f64, sw: f64, sw2: f64, n: f64, mean: f64, sd: f64) -> f64 {
    match gi_star_terms(sw, sw2, n, mean, sd) {
        Some((expected, scale)) => (lag - expected) / scale,
        None => 0.0,
    }
}

/// The parts of [`gi_star_z`] that do not depend on the lag: `z = (lag - expected) / scale`; `None` when the
/// variance term vanishes (z is 0).
#[inline]
pub(crate) fn gi_star_terms(sw: f64, sw2: f64, n: f64, mean: f64, sd: f64) -> Option<(f64, f64)> {
    let var_term = (n * sw2 - sw * sw) / (n - 1.0);
    if var_term <= 0.0 {
        return None;
    }
    Some((mean * sw, sd * var_term.sqrt()))
}

/// Significance bins with or without FDR (see the module docs).
pub fn significance_bins(z: &[f64], p: &[f64], fdr: bool) -> Vec<i8> {
    let levels = [(0.01, 3i8), (0.05, 2i8), (0.10, 1i8)];
    let cut: Vec<(Option<f64>, i8)> = levels
        .iter()
        .map(|&(a, b)| {
            if fdr {
                (benjamini_hochberg_cutoff(p, a), b)
            } else {
                (Some(a), b)
            }
        })
        .collect();
    z.iter()
        .zip(p)
        .map(|(&zi, &pi)| {
            let level = cut
                .iter()
                .find(|(c, _)| match c {
                    Some(c) if fdr => pi <= *c,
                    Some(c) => pi < *c,
                    None => false,
                })
                .map_or(0, |&(_, b)| b);
            if zi > 0.0 {
                level
            } else if zi < 0.0 {
                -level
            } else {
                0
            }
        })
        .collect()
}

/// Getis-Ord Gi* for `values` (one per location) with spatial `weights` (no self-weights; `w_ii = 1` is
/// added here).
pub fn gi_star(
    values: &[f64],
    weights: &SpatialWeights,
    options: &GiStarOptions,
) -> Result<GiStarResult, GiStarError> {
    let n = values.len();
    if n != weights.n() {
        return Err(GiStarError::LengthMismatch {
            values: n,
            weights: weights.n(),
        });
    }
    if n < 3 {
        return Err(GiStarError::TooFewLocations(n));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(GiStarError::NonFiniteValue(i));
    }
    if !(options.alpha > 0.0 && options.alpha < 1.0) {
        return Err(GiStarError::InvalidAlpha(options.alpha));
    }
    if matches!(options.permutations, Some((0, _))) {
        return Err(GiStarError::NoPermutations);
    }
    let (mean, sd) = mean_and_population_sd(values);
    if !has_variation(mean, sd) {
        return Err(GiStarError::ConstantValues);
    }
    let nf = n as f64;
    let lag_parts = |i: usize| {
        let (mut lag, mut sw, mut sw2) = (values[i], 1.0, 1.0);
        for (&j, &w) in weights.neighbours(i).iter().zip(weights.weights(i)) {
            lag += w * values[j as usize];
            sw += w;
            sw2 += w * w;
        }
        (lag, sw, sw2)
    };
    let z: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let (lag, sw, sw2) = lag_parts(i);
            gi_star_z(lag, sw, sw2, nf, mean, sd)
        })
        .collect();
    let p: Vec<f64> = z.iter().map(|&zi| two_sided_normal_p(zi)).collect();
    let bin = significance_bins(&z, &p, options.fdr);
    let fdr_sig = fdr_significant(&p, options.alpha);
    let pseudo_p = options.permutations.map(|(count, seed)| {
        (0..n)
            .into_par_iter()
            .map(|i| {
                let (observed, _, _) = lag_parts(i);
                let nbrs = weights.neighbours(i);
                let ws = weights.weights(i);
                let k = nbrs.len();
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(i as u64);
                let mut larger = 0usize;
                for _ in 0..count {
                    let draw = sample(&mut rng, n - 1, k);
                    let mut lag = values[i];
                    for (d, &w) in draw.iter().zip(ws) {
                        // Indices 0..n-1 over "all but i".
                        let j = if d >= i { d + 1 } else { d };
                        lag += w * values[j];
                    }
                    if lag >= observed {
                        larger += 1;
                    }
                }
                let larger = larger.min(count - larger);
                (larger as f64 + 1.0) / (count as f64 + 1.0)
            })
            .collect()
    });
    Ok(GiStarResult {
        z,
        p,
        bin,
        fdr_significant: fdr_sig,
        pseudo_p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward O(n^2) Gi* from the formula with a dense weight matrix including w_ii = 1.
    fn dense_gi_star(x: &[f64], w: &[Vec<f64>]) -> Vec<f64> {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let s = (x.iter().map(|v| v * v).sum::<f64>() / n - mean * mean).sqrt();
        (0..x.len())
            .map(|i| {
                let sw: f64 = w[i].iter().sum();
                let sw2: f64 = w[i].iter().map(|v| v * v).sum();
                let lag: f64 = w[i].iter().zip(x).map(|(a, b)| a * b).sum();
                (lag - mean * sw) / (s * ((n * sw2 - sw * sw) / (n - 1.0)).sqrt())
            })
            .collect()
    }

    #[test]
    fn matches_dense_formula_on_a_chain() {
        let x = [1.0, 4.0, 2.0, 8.0, 9.0, 7.0, 0.0, 3.0, 5.0, 6.0];
        let lists: Vec<Vec<usize>> = (0..10)
            .map(|i: usize| {
                [i.wrapping_sub(1), i + 1]
                    .into_iter()
                    .filter(|&j| j < 10)
                    .collect()
            })
            .collect();
        let w = SpatialWeights::from_neighbour_lists(&lists).unwrap();
        let dense: Vec<Vec<f64>> = (0..10)
            .map(|i| {
                (0..10)
                    .map(|j| {
                        if i == j || lists[i].contains(&j) {
                            1.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let r = gi_star(&x, &w, &GiStarOptions::default()).unwrap();
        for (a, b) in r.z.iter().zip(dense_gi_star(&x, &dense)) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert!(r.p.iter().all(|&p| (0.0..=1.0).contains(&p)));
    }

    #[test]
    fn rounding_noise_is_not_variation() {
        let (mean, sd) = mean_and_population_sd(&vec![0.1; 1000]);
        assert!(!has_variation(mean, sd), "sd {sd}");
        let (mean, sd) = mean_and_population_sd(&[1.0, 1.0, 1.0 + 1e-9]);
        assert!(has_variation(mean, sd));
    }

    #[test]
    fn errors_and_degenerate_cases() {
        let w = SpatialWeights::from_neighbour_lists(&[vec![1], vec![0, 2], vec![1]]).unwrap();
        let o = GiStarOptions::default();
        assert_eq!(
            gi_star(&[2.0, 2.0, 2.0], &w, &o),
            Err(GiStarError::ConstantValues)
        );
        assert_eq!(
            gi_star(&[2.0, f64::NAN, 2.0], &w, &o),
            Err(GiStarError::NonFiniteValue(1))
        );
        assert!(matches!(
            gi_star(&[1.0, 2.0], &w, &o),
            Err(GiStarError::LengthMismatch { .. })
        ));
        // Location 1 sees everything: 0/0 -> z = 0, p = 1.
        let r = gi_star(&[1.0, 5.0, 3.0], &w, &o).unwrap();
        assert_eq!(r.z[1], 0.0);
        assert_eq!(r.p[1], 1.0);
        assert!(r.z.iter().all(|z| z.is_finite()));
    }

    #[test]
    fn bins_follow_thresholds_with_and_without_fdr() {
        let z = [3.0, -2.2, 1.7, 0.5, -0.1];
        let p: Vec<f64> = z.iter().map(|&v| two_sided_normal_p(v)).collect();
        // p = 0.0027, 0.0278, 0.0891, 0.617, 0.920
        assert_eq!(significance_bins(&z, &p, false), vec![3, -2, 1, 0, 0]);
        // BH n=5: at 0.01 thresholds k*0.002: 0.0027 > 0.002 -> none at 99 %.
        // at 0.05: thresholds 0.01,0.02,0.03,..: p(2)=0.0278 <= 0.02? no; p(1)=0.0027<=0.01 yes -> cut 0.0027.
        // at 0.10: thresholds 0.02,0.04,0.06: p(3)=0.0891 > 0.06; p(2)=0.0278<=0.04 -> cut 0.0278.
        assert_eq!(significance_bins(&z, &p, true), vec![2, -1, 0, 0, 0]);
    }

    #[test]
    fn permutations_are_seeded_and_detect_a_cluster() {
        let mut cells = Vec::new();
        for r in 0..12 {
            for c in 0..12 {
                cells.push((c, r));
            }
        }
        let w = crate::analysis::weights::regular_grid(
            &cells,
            100.0,
            crate::analysis::weights::GridNeighbourhood::Queen,
        )
        .unwrap();
        let x: Vec<f64> = cells
            .iter()
            .map(|&(c, r)| {
                if c < 3 && r < 3 {
                    20.0
                } else {
                    ((c * 7 + r * 3) % 5) as f64
                }
            })
            .collect();
        let o = GiStarOptions {
            permutations: Some((199, 7)),
            ..Default::default()
        };
        let a = gi_star(&x, &w, &o).unwrap();
        let b = gi_star(&x, &w, &o).unwrap();
        assert_eq!(a.pseudo_p, b.pseudo_p);
        let pp = a.pseudo_p.unwrap();
        // The centre of the planted cluster (1,1) = index 13 is extreme: minimum pseudo p 1/200.
        assert_eq!(pp[13], 1.0 / 200.0);
        assert_eq!(a.bin[13], 3);
        assert!(pp.iter().all(|&p| p > 0.0 && p <= 0.5 + 1e-12));
    }
}
