//! Local Moran's I (Anselin's LISA) with row-standardised weights, as `esda.Moran_Local`.
//!
//! With `z_i = (x_i - xbar) / S` (S = population standard deviation) and row-standardised weights `W`:
//! ```text
//! I_i = (n - 1) z_i (W z)_i / sum_k z_k^2
//! ```
//! Analytic inference under total randomisation (Sokal et al. 1998, eqs. A3/A4, as esda `EI`/`VI`):
//! `E[I_i] = -w_i / (n - 1)`, `Var[I_i] = w_i2 (n - b2)/(n-1) + (w_i^2 - w_i2)(2 b2 - n)/((n-1)(n-2)) - E[I_i]^2`
//! with `w_i = sum_j w_ij`, `w_i2 = sum_j w_ij^2`, `m2 = sum z^2 / n`, `b2 = (sum z^4 / n) / m2^2`.
//! The conditional-randomisation moments (eqs. A7/A8, esda `EIc`/`VIc`) are reported as well.
//! `p` is two-sided from the normal distribution on the total-randomisation z.
//!
//! Quadrants (esda codes): 1 = HH (z > 0, lag > 0), 2 = LH, 3 = LL, 4 = HL; a zero value or lag counts as low.
//!
//! Optional permutations: conditional randomisation, seeded per location, pseudo p as esda ("directed").
//! Islands (no neighbours) get `I = 0`; their analytic z is 0 and p 1.

use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use thiserror::Error;

use super::gistar::{has_variation, mean_and_population_sd};
use super::mann_kendall::two_sided_normal_p;
use super::weights::SpatialWeights;

/// Errors from [`local_moran`].
#[derive(Debug, Error, PartialEq)]
pub enum MoranError {
    /// Values and weights describe a different number of locations.
    #[error("{values} values but the weights have {weights} locations")]
    LengthMismatch { values: usize, weights: usize },
    /// Local Moran needs at least 4 locations (the variance divides by n - 2).
    #[error("local Moran's I needs at least 4 locations, got {0}")]
    TooFewLocations(usize),
    /// A value is NaN or infinite.
    #[error("value at location {0} is not finite")]
    NonFiniteValue(usize),
    /// All values are equal.
    #[error("all values are equal; local Moran's I is undefined without variation")]
    ConstantValues,
    /// Zero permutations requested.
    #[error("the number of permutations must be at least 1")]
    NoPermutations,
}

/// LISA quadrant of a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quadrant {
    /// High value among high neighbours (esda 1).
    HighHigh = 1,
    /// Low value among high neighbours (esda 2).
    LowHigh = 2,
    /// Low value among low neighbours (esda 3).
    LowLow = 3,
    /// High value among low neighbours (esda 4).
    HighLow = 4,
}

/// Local Moran results, one entry per location.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalMoranResult {
    /// Local Moran's I.
    pub i: Vec<f64>,
    /// Analytic z under total randomisation.
    pub z: Vec<f64>,
    /// Two-sided normal p of `z`.
    pub p: Vec<f64>,
    /// Analytic z under conditional randomisation.
    pub z_conditional: Vec<f64>,
    /// Quadrant of each location.
    pub quadrant: Vec<Quadrant>,
    /// Permutation pseudo p when permutations were requested.
    pub pseudo_p: Option<Vec<f64>>,
}

/// Local Moran's I of `values` with `weights` (row-standardised here; pass binary or any weights).
/// `permutations = Some((count, seed))` adds conditional permutation pseudo p-values.
pub fn local_moran(
    values: &[f64],
    weights: &SpatialWeights,
    permutations: Option<(usize, u64)>,
) -> Result<LocalMoranResult, MoranError> {
    let n = values.len();
    if n != weights.n() {
        return Err(MoranError::LengthMismatch {
            values: n,
            weights: weights.n(),
        });
    }
    if n < 4 {
        return Err(MoranError::TooFewLocations(n));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(MoranError::NonFiniteValue(i));
    }
    if matches!(permutations, Some((0, _))) {
        return Err(MoranError::NoPermutations);
    }
    let (mean, sd) = mean_and_population_sd(values);
    if !has_variation(mean, sd) {
        return Err(MoranError::ConstantValues);
    }
    let w = weights.row_standardised();
    let z: Vec<f64> = values.iter().map(|v| (v - mean) / sd).collect();
    let nf = n as f64;
    let den: f64 = z.iter().map(|v| v * v).sum();
    let m2 = den / nf;
    let b2 = (z.iter().map(|v| v.powi(4)).sum::<f64>() / nf) / (m2 * m2);
    let (n1, n2) = (nf - 1.0, nf - 2.0);
    let lag_of = |i: usize| -> f64 {
        w.neighbours(i)
            .iter()
            .zip(w.weights(i))
            .map(|(&j, &wij)| wij * z[j as usize])
            .sum()
    };
    let mut out_i = Vec::with_capacity(n);
    let mut out_z = Vec::with_capacity(n);
    let mut out_zc = Vec::with_capacity(n);
    let mut quadrant = Vec::with_capacity(n);
    #[allow(clippy::needless_range_loop)] // i indexes z, the weights and the outputs alike
    for i in 0..n {
        let lag = lag_of(i);
        let ii = n1 * z[i] * lag / den;
        let wi: f64 = w.weights(i).iter().sum();
        let wi2: f64 = w.weights(i).iter().map(|v| v * v).sum();
        let ei = -wi / n1;
        let vi = wi2 * (nf - b2) / n1 + (wi * wi - wi2) * (2.0 * b2 - nf) / (n1 * n2) - ei * ei;
        let eic = -(z[i] * z[i] * wi) / (n1 * m2);
        let vic = (z[i] / m2).powi(2) * (nf / n2) * (wi2 - wi * wi / n1) * (m2 - z[i] * z[i] / n1);
        out_i.push(ii);
        out_z.push(if vi > 0.0 { (ii - ei) / vi.sqrt() } else { 0.0 });
        out_zc.push(if vic > 0.0 {
            (ii - eic) / vic.sqrt()
        } else {
            0.0
        });
        quadrant.push(match (z[i] > 0.0, lag > 0.0) {
            (true, true) => Quadrant::HighHigh,
            (false, true) => Quadrant::LowHigh,
            (false, false) => Quadrant::LowLow,
            (true, false) => Quadrant::HighLow,
        });
    }
    let p = out_z.iter().map(|&v| two_sided_normal_p(v)).collect();
    let pseudo_p = permutations.map(|(count, seed)| {
        (0..n)
            .into_par_iter()
            .map(|i| {
                let ws = w.weights(i);
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(i as u64);
                let observed = out_i[i];
                let mut larger = 0usize;
                for _ in 0..count {
                    let draw = sample(&mut rng, n - 1, ws.len());
                    let lag: f64 = draw
                        .iter()
                        .zip(ws)
                        .map(|(d, &wij)| wij * z[if d >= i { d + 1 } else { d }])
                        .sum();
                    if n1 * z[i] * lag / den >= observed {
                        larger += 1;
                    }
                }
                let larger = larger.min(count - larger);
                (larger as f64 + 1.0) / (count as f64 + 1.0)
            })
            .collect()
    });
    Ok(LocalMoranResult {
        i: out_i,
        z: out_z,
        p,
        z_conditional: out_zc,
        quadrant,
        pseudo_p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_chain() {
        // Chain 0-1-2-3 with x = [1, 2, 3, 10]. mean 4, population var = (9+4+1+36)/4 = 12.5.
        let x = [1.0, 2.0, 3.0, 10.0];
        let w = SpatialWeights::from_neighbour_lists(&[vec![1], vec![0, 2], vec![1, 3], vec![2]])
            .unwrap();
        let r = local_moran(&x, &w, None).unwrap();
        let sd = 12.5f64.sqrt();
        let z: Vec<f64> = x.iter().map(|v| (v - 4.0) / sd).collect();
        // sum z^2 = n = 4. I_0 = 3 * z0 * z1 / 4, I_1 = 3 * z1 * (z0 + z2)/2 / 4.
        assert!((r.i[0] - 3.0 * z[0] * z[1] / 4.0).abs() < 1e-12);
        assert!((r.i[1] - 3.0 * z[1] * (z[0] + z[2]) / 2.0 / 4.0).abs() < 1e-12);
        assert_eq!(r.quadrant[0], Quadrant::LowLow);
        assert_eq!(r.quadrant[2], Quadrant::LowHigh);
        assert_eq!(r.quadrant[3], Quadrant::HighLow);
        assert!(r.z.iter().chain(&r.z_conditional).all(|v| v.is_finite()));
    }

    #[test]
    fn errors() {
        let w =
            SpatialWeights::from_neighbour_lists(&[vec![1], vec![0], vec![3], vec![2]]).unwrap();
        assert_eq!(
            local_moran(&[1.0; 4], &w, None),
            Err(MoranError::ConstantValues)
        );
        assert_eq!(
            local_moran(&[1.0, 2.0, 3.0, 4.0], &w, Some((0, 1))),
            Err(MoranError::NoPermutations)
        );
        let r = local_moran(&[1.0, 2.0, 3.0, 4.0], &w, Some((99, 1))).unwrap();
        assert_eq!(r.pseudo_p.unwrap().len(), 4);
    }
}
