//! Hotspot evaluation on a train/test split: hit rate, PAI, PEI and RRI.
//!
//! A hotspot method (KDE top x %, Gi* hot cells, emerging hot spots, a naive "last period" baseline) is fitted on
//! a training period and predicts a set of hot cells (grid cells or areas). Its predictive quality is measured on
//! the incidents of a later test period, assigned to the same cells:
//! - hit rate `n / N`: `n` test incidents in the predicted cells, `N` test incidents in all cells;
//! - Predictive Accuracy Index (Chainey, Tompson & Uhlig 2008): `PAI = (n / N) / (a / A)`, with `a` the total
//!   area of the predicted cells and `A` the study area: how many times more incidents per m2 the hotspots
//!   capture than the study area on average (1 = no better than random);
//! - Prediction Efficiency Index: `PEI = PAI / PAI*`, where `PAI*` is the best PAI any set of cells with the same
//!   total area `a` could have reached on the test period: the cells ranked by test incidents per m2, taken
//!   until their area reaches `a`. With equal cell areas this is exactly the top-k cells by test count
//!   (k = number of predicted cells). With unequal areas the last cell is taken fractionally (the linear
//!   relaxation of the knapsack), so `PAI*` is an upper bound of the best whole-cell PAI and PEI is
//!   conservative; PEI is in `[0, 1]`;
//! - Recapture Rate Index (Levine 2008): `RRI = PAI_test / PAI_train` for the same predicted cells: close to 1
//!   when the hotspots stay as concentrated in the test period as in the training period.
//!
//! Edge cases: with `N = 0` (no test incidents) hit rate, PAI, PEI and RRI are `None`; with `a = 0` (no
//! predicted cells) the hit rate is 0 (when `N > 0`) but PAI and PEI are `None` (0/0); RRI is `None` when
//! either PAI is `None` or the training PAI is 0. Duplicate predicted ids count once. Counts are `f64` so that
//! weighted incidents can be evaluated; they must be finite and >= 0. Incidents outside every cell must not be
//! passed (they are not part of `N`).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use serde::Serialize;

/// Errors for invalid evaluation inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvaluationError {
    /// Areas must be finite and > 0.
    #[error("{what} must be finite and > 0 m2, got {value}")]
    InvalidArea {
        /// Which area.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// A predicted cell, or a cell with test incidents, has no area in the per-cell area table.
    #[error("a cell has no area in the cell area table")]
    MissingCellArea,
    /// Counts must be finite and >= 0.
    #[error("incident counts must be finite and >= 0, got {0}")]
    InvalidCount(f64),
    /// The predicted cells cover more than the study area.
    #[error("hotspot area {hotspot_m2} m2 exceeds the study area {study_m2} m2")]
    HotspotLargerThanStudyArea {
        /// Total predicted area.
        hotspot_m2: f64,
        /// Study area.
        study_m2: f64,
    },
    /// The fraction for a top-x % selection must be in (0, 1].
    #[error("area fraction must be in (0, 1], got {0}")]
    InvalidFraction(f64),
}

/// Areas of the cells, in m2.
#[derive(Debug)]
pub enum CellAreas<'a, K> {
    /// Every cell has the same area (a regular grid).
    Uniform(f64),
    /// Area per cell (e.g. buurten).
    PerCell(&'a HashMap<K, f64>),
}

// Manual impls: the enum only holds a reference, so it is Copy whatever `K` is.
impl<K> Clone for CellAreas<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for CellAreas<'_, K> {}

impl<K: Eq + Hash> CellAreas<'_, K> {
    fn area_m2(&self, id: &K) -> Result<f64, EvaluationError> {
        let a = match self {
            CellAreas::Uniform(a) => *a,
            CellAreas::PerCell(m) => *m.get(id).ok_or(EvaluationError::MissingCellArea)?,
        };
        if a.is_finite() && a > 0.0 {
            Ok(a)
        } else {
            Err(EvaluationError::InvalidArea {
                what: "cell area",
                value: a,
            })
        }
    }
}

/// Evaluation metrics of one set of predicted hot cells (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HotspotMetrics {
    /// Number of distinct predicted cells.
    pub hotspot_cells: usize,
    /// Total area `a` of the predicted cells in m2.
    pub hotspot_area_m2: f64,
    /// Study area `A` in m2.
    pub study_area_m2: f64,
    /// `a / A`.
    pub area_share: f64,
    /// Test incidents in the predicted cells (`n`).
    pub test_hits: f64,
    /// All test incidents (`N`).
    pub test_total: f64,
    /// `n / N`.
    pub hit_rate: Option<f64>,
    /// `(n / N) / (a / A)`.
    pub pai: Option<f64>,
    /// Best PAI reachable with total area `a` on the test period.
    pub best_pai: Option<f64>,
    /// `PAI / best PAI`.
    pub pei: Option<f64>,
    /// Training incidents in the predicted cells, when training counts were given.
    pub train_hits: Option<f64>,
    /// All training incidents, when given.
    pub train_total: Option<f64>,
    /// PAI on the training period.
    pub train_pai: Option<f64>,
    /// `PAI_test / PAI_train`.
    pub rri: Option<f64>,
}

fn check_counts<K>(counts: &HashMap<K, f64>) -> Result<f64, EvaluationError> {
    let mut total = 0.0;
    for &c in counts.values() {
        if !c.is_finite() || c < 0.0 {
            return Err(EvaluationError::InvalidCount(c));
        }
        total += c;
    }
    Ok(total)
}

fn pai(hits: f64, total: f64, area_share: f64) -> Option<f64> {
    (total > 0.0 && area_share > 0.0).then(|| (hits / total) / area_share)
}

/// Test incidents the best cells of total area `budget_m2` capture (cells by count per m2, last one fractional).
fn best_hits<K: Eq + Hash>(
    test_counts: &HashMap<K, f64>,
    cell_areas: &CellAreas<'_, K>,
    budget_m2: f64,
) -> Result<f64, EvaluationError> {
    let mut cells: Vec<(f64, f64)> = Vec::new(); // (count, area)
    for (id, &c) in test_counts {
        if c > 0.0 {
            cells.push((c, cell_areas.area_m2(id)?));
        }
    }
    cells.sort_by(|x, y| (y.0 / y.1).total_cmp(&(x.0 / x.1)));
    let mut left = budget_m2;
    let mut hits = 0.0;
    for (count, area) in cells {
        if left <= 0.0 {
            break;
        }
        let take = area.min(left);
        hits += count * take / area;
        left -= take;
    }
    Ok(hits)
}

/// Evaluates predicted hot cells against test-period (and optionally training-period) counts per cell.
/// `test_counts` and `train_counts` map cell id to incidents (cells absent from a map have 0).
pub fn evaluate<K: Eq + Hash>(
    predicted: &[K],
    cell_areas: CellAreas<'_, K>,
    study_area_m2: f64,
    test_counts: &HashMap<K, f64>,
    train_counts: Option<&HashMap<K, f64>>,
) -> Result<HotspotMetrics, EvaluationError> {
    if !(study_area_m2.is_finite() && study_area_m2 > 0.0) {
        return Err(EvaluationError::InvalidArea {
            what: "study area",
            value: study_area_m2,
        });
    }
    let cells: HashSet<&K> = predicted.iter().collect();
    let mut hotspot_area_m2 = 0.0;
    for id in &cells {
        hotspot_area_m2 += cell_areas.area_m2(id)?;
    }
    // Allow for rounding when the cells tile the whole study area.
    if hotspot_area_m2 > study_area_m2 * (1.0 + 1e-9) {
        return Err(EvaluationError::HotspotLargerThanStudyArea {
            hotspot_m2: hotspot_area_m2,
            study_m2: study_area_m2,
        });
    }
    let area_share = hotspot_area_m2 / study_area_m2;
    let test_total = check_counts(test_counts)?;
    let hits_in = |counts: &HashMap<K, f64>| -> f64 {
        cells.iter().filter_map(|id| counts.get(*id)).sum::<f64>()
    };
    let test_hits = hits_in(test_counts);
    let hit_rate = (test_total > 0.0).then(|| test_hits / test_total);
    let test_pai = pai(test_hits, test_total, area_share);
    let best_pai = if test_pai.is_some() {
        pai(
            best_hits(test_counts, &cell_areas, hotspot_area_m2)?,
            test_total,
            area_share,
        )
    } else {
        None
    };
    let pei = match (test_pai, best_pai) {
        (Some(p), Some(b)) if b > 0.0 => Some(p / b),
        _ => None,
    };
    let (train_hits, train_total, train_pai) = match train_counts {
        Some(tc) => {
            let total = check_counts(tc)?;
            let hits = hits_in(tc);
            (Some(hits), Some(total), pai(hits, total, area_share))
        }
        None => (None, None, None),
    };
    let rri = match (test_pai, train_pai) {
        (Some(t), Some(tr)) if tr > 0.0 => Some(t / tr),
        _ => None,
    };
    Ok(HotspotMetrics {
        hotspot_cells: cells.len(),
        hotspot_area_m2,
        study_area_m2,
        area_share,
        test_hits,
        test_total,
        hit_rate,
        pai: test_pai,
        best_pai,
        pei,
        train_hits,
        train_total,
        train_pai,
        rri,
    })
}

/// Selects the highest-scoring cells until their total area reaches `area_fraction` of the study area (the
/// cell that crosses the threshold is included): "KDE top 5 %", or the naive baseline "cells with the most
/// incidents last period". Cells with a score <= 0 or NaN are never selected; ties are broken by cell id so the
/// selection is deterministic.
pub fn top_cells_by_score<K: Eq + Hash + Ord + Clone>(
    scores: &HashMap<K, f64>,
    cell_areas: CellAreas<'_, K>,
    study_area_m2: f64,
    area_fraction: f64,
) -> Result<Vec<K>, EvaluationError> {
    if !(area_fraction > 0.0 && area_fraction <= 1.0) {
        return Err(EvaluationError::InvalidFraction(area_fraction));
    }
    let budget = area_fraction * study_area_m2;
    let mut ranked: Vec<(&K, f64)> = scores
        .iter()
        .filter(|(_, s)| **s > 0.0)
        .map(|(k, s)| (k, *s))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut out = Vec::new();
    let mut used = 0.0;
    for (id, _) in ranked {
        if used >= budget {
            break;
        }
        used += cell_areas.area_m2(id)?;
        out.push(id.clone());
    }
    Ok(out)
}

/// The metrics of one method.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MethodMetrics {
    /// Method name, e.g. `kde_top5`, `gistar_hot_99`, `emerging`, `last_period`.
    pub method: String,
    /// Its metrics.
    pub metrics: HotspotMetrics,
}

/// Several methods evaluated on the same split, in input order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MethodComparison {
    /// One entry per method.
    pub methods: Vec<MethodMetrics>,
    /// The method with the highest PAI (first in input order on ties); `None` when no PAI is defined.
    pub best_by_pai: Option<String>,
}

/// Evaluates each `(method name, predicted cells)` on the same cells, study area and counts.
pub fn compare_methods<K: Eq + Hash>(
    methods: &[(String, Vec<K>)],
    cell_areas: CellAreas<'_, K>,
    study_area_m2: f64,
    test_counts: &HashMap<K, f64>,
    train_counts: Option<&HashMap<K, f64>>,
) -> Result<MethodComparison, EvaluationError> {
    let mut out = Vec::with_capacity(methods.len());
    for (name, predicted) in methods {
        out.push(MethodMetrics {
            method: name.clone(),
            metrics: evaluate(
                predicted,
                cell_areas,
                study_area_m2,
                test_counts,
                train_counts,
            )?,
        });
    }
    let mut best: Option<(&str, f64)> = None;
    for m in &out {
        if let Some(p) = m.metrics.pai {
            if best.is_none_or(|(_, b)| p > b) {
                best = Some((m.method.as_str(), p));
            }
        }
    }
    Ok(MethodComparison {
        best_by_pai: best.map(|(n, _)| n.to_string()),
        methods: out,
    })
}

/// Relative tolerance within which a grid value counts as tied with the coverage threshold (open_cp oracle's
/// `tolerant_ties`): sums that differ only by rounding must not decide which tied cell is "selected".
pub const TIE_RELATIVE: f64 = 1e-9;

/// The cells a forecast grid selects at a coverage (fixed share of the cells), with fractional ties.
///
/// `n = floor(N coverage / 100)` cells are selected, `N` = every cell of the grid. With `v` the `n`-th largest
/// value, cells above `v (1 + TIE_RELATIVE)` (in absolute terms) are selected whole; the `n_tied` cells within
/// `TIE_RELATIVE |v|` of `v` share the `n - n_above` remaining places, each counted with weight
/// `(n - n_above) / n_tied` (**fractional hits**: the expected hits of a random choice among the tied cells,
/// independent of cell order). Without ties this is exactly the top-`n` cells (open_cp's `hit_counts`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageSelection {
    /// Coverage in percent of the cells.
    pub coverage_pct: f64,
    /// All cells `N`.
    pub n_cells: usize,
    /// Selected cells `n`.
    pub n_selected: usize,
    /// The `n`-th largest value (`+inf` when `n = 0`).
    pub threshold: f64,
    /// Cells selected whole.
    pub n_above: usize,
    /// Cells tied with the threshold.
    pub n_tied: usize,
    /// Weight of each tied cell, `(n - n_above) / n_tied`.
    pub tied_share: f64,
    tie_low: f64,
    tie_high: f64,
}

impl CoverageSelection {
    /// The selected share (0, `tied_share` or 1) of a cell with value `v`.
    pub fn share(&self, v: f64) -> f64 {
        if self.n_selected == 0 || v < self.tie_low {
            0.0
        } else if v > self.tie_high {
            1.0
        } else {
            self.tied_share
        }
    }
}

/// The selection of [`CoverageSelection`] on `scores` (one value per cell; all must be finite).
pub fn select_coverage(
    scores: &[f64],
    coverage_pct: f64,
) -> Result<CoverageSelection, EvaluationError> {
    if !(coverage_pct > 0.0 && coverage_pct <= 100.0) {
        return Err(EvaluationError::InvalidFraction(coverage_pct / 100.0));
    }
    if let Some(&bad) = scores.iter().find(|v| !v.is_finite()) {
        return Err(EvaluationError::InvalidCount(bad));
    }
    let n_cells = scores.len();
    // floor(N p / 100), robust against 2.9999999 from the division.
    let n = ((n_cells as f64 * coverage_pct / 100.0) * (1.0 + 1e-12)).floor() as usize;
    let n = n.min(n_cells);
    if n == 0 {
        return Ok(CoverageSelection {
            coverage_pct,
            n_cells,
            n_selected: 0,
            threshold: f64::INFINITY,
            n_above: 0,
            n_tied: 0,
            tied_share: 0.0,
            tie_low: f64::INFINITY,
            tie_high: f64::INFINITY,
        });
    }
    let mut sorted = scores.to_vec();
    let idx = n_cells - n;
    let (_, kth, _) = sorted.select_nth_unstable_by(idx, f64::total_cmp);
    let v = *kth;
    let tol = TIE_RELATIVE * v.abs();
    let (tie_low, tie_high) = (v - tol, v + tol);
    let n_above = scores.iter().filter(|&&x| x > tie_high).count();
    let n_tied = scores
        .iter()
        .filter(|&&x| x >= tie_low && x <= tie_high)
        .count();
    Ok(CoverageSelection {
        coverage_pct,
        n_cells,
        n_selected: n,
        threshold: v,
        n_above,
        n_tied,
        tied_share: (n - n_above) as f64 / n_tied as f64,
        tie_low,
        tie_high,
    })
}

/// Hit rate, PAI, PEI and RRI of a forecast grid at one coverage (fractional ties, see [`CoverageSelection`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageMetrics {
    /// The selection.
    pub selection: CoverageSelection,
    /// Test incidents in the selected cells (fractional with ties).
    pub hits: f64,
    /// All test incidents (also those outside the grid).
    pub test_total: usize,
    /// `hits / test_total`.
    pub hit_rate: Option<f64>,
    /// `hit_rate / (n / N)`.
    pub pai: Option<f64>,
    /// Most test incidents any `n` cells hold (the PEI denominator; open_cp's `maximum_hit_rate` x total).
    pub best_hits: f64,
    /// `hits / best_hits` (= PAI / best PAI).
    pub pei: Option<f64>,
    /// Training incidents in the selected cells, when given.
    pub train_hits: Option<f64>,
    /// PAI of the training incidents in the selected cells.
    pub train_pai: Option<f64>,
    /// `PAI / train PAI`.
    pub rri: Option<f64>,
}

/// The metrics of `scores` at `coverage_pct` for the test incidents' cells (`None`: outside the grid, still in
/// the total) and optionally the training incidents' cells (for RRI).
pub fn coverage_metrics(
    scores: &[f64],
    test_cells: &[Option<usize>],
    train_cells: Option<&[Option<usize>]>,
    coverage_pct: f64,
) -> Result<CoverageMetrics, EvaluationError> {
    let sel = select_coverage(scores, coverage_pct)?;
    let hits_of = |cells: &[Option<usize>]| -> f64 {
        cells
            .iter()
            .flatten()
            .filter_map(|&k| scores.get(k))
            .map(|&v| sel.share(v))
            .sum()
    };
    let area_share = sel.n_selected as f64 / sel.n_cells.max(1) as f64;
    let hits = hits_of(test_cells);
    let test_total = test_cells.len();
    let hit_rate = (test_total > 0).then(|| hits / test_total as f64);
    let pai = hit_rate
        .filter(|_| area_share > 0.0)
        .map(|h| h / area_share);
    let mut per_cell: HashMap<usize, f64> = HashMap::new();
    for &k in test_cells.iter().flatten() {
        *per_cell.entry(k).or_insert(0.0) += 1.0;
    }
    let mut counts: Vec<f64> = per_cell.into_values().collect();
    counts.sort_by(|a, b| b.total_cmp(a));
    let best_hits: f64 = counts.iter().take(sel.n_selected).sum();
    let pei = (best_hits > 0.0 && sel.n_selected > 0).then(|| hits / best_hits);
    let (train_hits, train_pai) = match train_cells {
        Some(tc) => {
            let h = hits_of(tc);
            let p = (!tc.is_empty() && area_share > 0.0).then(|| h / tc.len() as f64 / area_share);
            (Some(h), p)
        }
        None => (None, None),
    };
    let rri = match (pai, train_pai) {
        (Some(p), Some(t)) if t > 0.0 => Some(p / t),
        _ => None,
    };
    Ok(CoverageMetrics {
        selection: sel,
        hits,
        test_total,
        hit_rate,
        pai,
        best_hits,
        pei,
        train_hits,
        train_pai,
        rri,
    })
}

/// A one-sided paired sign-flip (permutation) test that the mean of `a - b` is > 0.
///
/// Chosen over the paired t-test because per-fold hit rates are bounded, skewed and few (12 folds): the
/// permutation test needs no normality and is exact. Under the null (no difference) each paired difference is
/// equally likely positive or negative; `p` is the share of the `2^n` sign assignments whose sum is at least the
/// observed sum (zero differences do not change the sum). Exact enumeration up to 20 non-zero differences,
/// beyond that the normal approximation of the sign-flip distribution (mean 0, variance `sum d^2`).
/// Returns 1 without data. With `n` non-zero differences the smallest possible `p` is `2^-n`, so at least 5
/// folds are needed to reach `p < 0.05`.
pub fn paired_sign_flip_p(a: &[f64], b: &[f64]) -> f64 {
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x - y)
        .filter(|d| d.is_finite() && *d != 0.0)
        .collect();
    if d.is_empty() {
        return 1.0;
    }
    let observed: f64 = d.iter().sum();
    // Sums within rounding of the observed count as "at least".
    let tol = 1e-12 * d.iter().map(|x| x.abs()).sum::<f64>();
    if d.len() <= 20 {
        let n = d.len();
        let mut at_least = 0u64;
        for mask in 0u64..(1 << n) {
            let s: f64 = d
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    if mask >> i & 1 == 1 {
                        -x.abs()
                    } else {
                        x.abs()
                    }
                })
                .sum();
            if s >= observed - tol {
                at_least += 1;
            }
        }
        at_least as f64 / (1u64 << n) as f64
    } else {
        let sd = d.iter().map(|x| x * x).sum::<f64>().sqrt();
        0.5 * libm::erfc(observed / sd / std::f64::consts::SQRT_2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(u32, f64)]) -> HashMap<u32, f64> {
        pairs.iter().copied().collect()
    }

    const CELL: f64 = 10_000.0; // 100 m x 100 m
    const STUDY: f64 = 1_000_000.0; // 100 cells

    #[test]
    fn coverage_with_fractional_ties() {
        // 10 cells; 30 % = 3 cells; values 5, 4, 4, 4, 1, ... : one above, three tied for two places.
        let scores = [
            5.0,
            4.0,
            4.0,
            4.0 * (1.0 + 1e-12),
            1.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ];
        let sel = select_coverage(&scores, 30.0).unwrap();
        assert_eq!((sel.n_selected, sel.n_above, sel.n_tied), (3, 1, 3));
        assert!((sel.tied_share - 2.0 / 3.0).abs() < 1e-15);
        // Test incidents: 2 in cell 0, 3 in cell 1, 1 in cell 4, 1 outside the grid.
        let test = [Some(0), Some(0), Some(1), Some(1), Some(1), Some(4), None];
        let train = [Some(0), Some(5)];
        let m = coverage_metrics(&scores, &test, Some(&train), 30.0).unwrap();
        assert!((m.hits - 4.0).abs() < 1e-12);
        assert_eq!(m.test_total, 7);
        assert!((m.pai.unwrap() - (4.0 / 7.0) / 0.3).abs() < 1e-12);
        // Best 3 cells: 3 + 2 + 1.
        assert_eq!(m.best_hits, 6.0);
        assert!((m.pei.unwrap() - 4.0 / 6.0).abs() < 1e-12);
        assert!((m.rri.unwrap() - m.pai.unwrap() / ((1.0 / 2.0) / 0.3)).abs() < 1e-12);
        // Without ties: the top cells exactly; 5 % of 10 cells selects none.
        let m = coverage_metrics(&[3.0, 2.0, 1.0, 0.0], &[Some(1)], None, 50.0).unwrap();
        assert_eq!(m.hits, 1.0);
        let m = coverage_metrics(&scores, &test, None, 5.0).unwrap();
        assert_eq!((m.hits, m.pai, m.pei), (0.0, None, None));
        assert!(select_coverage(&scores, 0.0).is_err());
        assert!(select_coverage(&[f64::NAN], 10.0).is_err());
    }

    #[test]
    fn sign_flip_test() {
        // All 6 differences positive and distinct: only the observed assignment reaches the sum.
        let a = [0.5, 0.6, 0.7, 0.4, 0.55, 0.65];
        let b = [0.4, 0.45, 0.5, 0.35, 0.5, 0.61];
        assert!((paired_sign_flip_p(&a, &b) - 1.0 / 64.0).abs() < 1e-15);
        // Reversed: every assignment is at least as large.
        assert_eq!(paired_sign_flip_p(&b, &a), 1.0);
        assert_eq!(paired_sign_flip_p(&a, &a), 1.0);
        // Two equal differences of opposite sign: sums -2, 0, 0, 2 -> 3 of 4 are >= 0.
        assert_eq!(paired_sign_flip_p(&[1.0, 0.0], &[0.0, 1.0]), 0.75);
        // Normal approximation beyond 20 differences: 30 differences of +1 give z = sqrt(30).
        let ones = vec![1.0; 30];
        let zeros = vec![0.0; 30];
        let p = paired_sign_flip_p(&ones, &zeros);
        assert!(p > 0.0 && p < 1e-7);
    }

    #[test]
    fn uniform_grid_closed_form() {
        // N = 40: cell 0 has 10, cells 1 and 2 have 5, cells 10..30 have 1 each (20).
        let mut test = counts(&[(0, 10.0), (1, 5.0), (2, 5.0), (3, 0.0)]);
        for c in 10..30 {
            test.insert(c, 1.0);
        }
        let train = counts(&[(0, 6.0), (3, 2.0), (50, 12.0)]);
        let m = evaluate(
            &[0, 3, 3],
            CellAreas::Uniform(CELL),
            STUDY,
            &test,
            Some(&train),
        )
        .unwrap();
        assert_eq!(m.hotspot_cells, 2);
        assert_eq!(m.area_share, 0.02);
        assert_eq!(m.test_hits, 10.0);
        assert_eq!(m.hit_rate, Some(0.25));
        assert!((m.pai.unwrap() - 12.5).abs() < 1e-12);
        // Best two cells: 10 + 5 = 15 -> (15/40)/0.02 = 18.75.
        assert!((m.best_pai.unwrap() - 18.75).abs() < 1e-12);
        assert!((m.pei.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // Training: 8 of 20 in the hotspots -> PAI 20; RRI = 12.5 / 20.
        assert!((m.train_pai.unwrap() - 20.0).abs() < 1e-12);
        assert!((m.rri.unwrap() - 0.625).abs() < 1e-12);
    }

    #[test]
    fn unequal_areas_take_the_last_cell_fractionally() {
        let areas: HashMap<&str, f64> = [("A", 100.0), ("B", 200.0), ("C", 50.0), ("D", 650.0)]
            .into_iter()
            .collect();
        let test: HashMap<&str, f64> = [("A", 10.0), ("B", 10.0), ("C", 1.0)].into_iter().collect();
        let m = evaluate(&["B"], CellAreas::PerCell(&areas), 1000.0, &test, None).unwrap();
        // a/A = 0.2; n/N = 10/21; best: all of A (10) + half of B (5) = 15.
        assert!((m.pai.unwrap() - (10.0 / 21.0) / 0.2).abs() < 1e-12);
        assert!((m.best_pai.unwrap() - (15.0 / 21.0) / 0.2).abs() < 1e-12);
        assert!((m.pei.unwrap() - 10.0 / 15.0).abs() < 1e-12);
        assert_eq!(m.rri, None);
        assert_eq!(
            evaluate(&["Z"], CellAreas::PerCell(&areas), 1000.0, &test, None),
            Err(EvaluationError::MissingCellArea)
        );
    }

    #[test]
    fn edge_cases() {
        let empty: HashMap<u32, f64> = HashMap::new();
        // N = 0.
        let m = evaluate(&[1], CellAreas::Uniform(CELL), STUDY, &empty, Some(&empty)).unwrap();
        assert_eq!((m.hit_rate, m.pai, m.pei, m.rri), (None, None, None, None));
        // a = 0.
        let test = counts(&[(1, 3.0)]);
        let m = evaluate(&[], CellAreas::Uniform(CELL), STUDY, &test, None).unwrap();
        assert_eq!(m.hit_rate, Some(0.0));
        assert_eq!((m.pai, m.pei), (None, None));
        // Perfect prediction: PEI = 1; whole study area: PAI = 1.
        let m = evaluate(&[1], CellAreas::Uniform(CELL), STUDY, &test, None).unwrap();
        assert_eq!(m.pei, Some(1.0));
        let all: Vec<u32> = (0..100).collect();
        let m = evaluate(&all, CellAreas::Uniform(CELL), STUDY, &test, None).unwrap();
        assert!((m.pai.unwrap() - 1.0).abs() < 1e-12);
        assert!(evaluate(&all, CellAreas::Uniform(CELL), STUDY / 2.0, &test, None).is_err());
        assert!(evaluate(&[1], CellAreas::Uniform(CELL), 0.0, &test, None).is_err());
        assert!(evaluate(&[1], CellAreas::Uniform(-1.0), STUDY, &test, None).is_err());
        let bad = counts(&[(1, -1.0)]);
        assert!(evaluate(&[1], CellAreas::Uniform(CELL), STUDY, &bad, None).is_err());
    }

    #[test]
    fn top_cells_and_method_comparison() {
        let scores = counts(&[(5, 9.0), (6, 9.0), (7, 4.0), (8, 0.0), (9, 1.0)]);
        // 2 % of 100 cells = 2 cells; the tie between 5 and 6 is broken by id.
        let top = top_cells_by_score(&scores, CellAreas::Uniform(CELL), STUDY, 0.02).unwrap();
        assert_eq!(top, vec![5, 6]);
        // 2.5 %: the third cell crosses the threshold and is included.
        let top = top_cells_by_score(&scores, CellAreas::Uniform(CELL), STUDY, 0.025).unwrap();
        assert_eq!(top, vec![5, 6, 7]);
        // Zero scores are never selected.
        let top = top_cells_by_score(&scores, CellAreas::Uniform(CELL), STUDY, 1.0).unwrap();
        assert_eq!(top, vec![5, 6, 7, 9]);
        assert!(top_cells_by_score(&scores, CellAreas::Uniform(CELL), STUDY, 0.0).is_err());

        let test = counts(&[(5, 4.0), (7, 4.0), (9, 2.0)]);
        let cmp = compare_methods(
            &[
                ("kde_top2".to_string(), vec![5, 6]),
                ("last_period".to_string(), vec![5, 7]),
                ("none".to_string(), vec![]),
            ],
            CellAreas::Uniform(CELL),
            STUDY,
            &test,
            None,
        )
        .unwrap();
        assert_eq!(cmp.methods.len(), 3);
        assert!((cmp.methods[0].metrics.pai.unwrap() - 20.0).abs() < 1e-12);
        assert!((cmp.methods[1].metrics.pai.unwrap() - 40.0).abs() < 1e-12);
        assert_eq!(cmp.best_by_pai.as_deref(), Some("last_period"));
        assert!(serde_json::to_string(&cmp).is_ok());
    }
}
