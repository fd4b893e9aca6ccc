//! Comparing areas and periods: counts, rates, shares, change between periods, and intervention evaluation.
//!
//! # Rates and shares
//! Per area: the count, the rate per 1,000 inhabitants (CBS `aantal_inwoners`) and per 1,000 addresses (BAG).
//! A denominator that is missing, zero, negative or not finite gives `None` (never a division by zero); callers
//! pass CBS sentinels (<= -99990) through as missing. Category shares are `category count / area count`
//! (`None` for every category when the area has no incidents).
//!
//! # Change between two periods: the rate ratio
//! With counts `a` (period A, usually "now") and `b` (period B, "before") and exposures `E_a`, `E_b` (period
//! lengths in days, or person-days when the population changed), the rate ratio is
//! `RR = (a / E_a) / (b / E_b)`.
//! Its exact inference conditions on the total `n = a + b`: under Poisson counts, `a | n ~ Binomial(n, pi)` with
//! `pi = RR E_a / (RR E_a + E_b)`, so `RR = pi / (1 - pi) * E_b / E_a`.
//! - Confidence interval: the Clopper-Pearson interval for `pi`
//!   (`Beta(alpha/2; a, n - a + 1)`, `Beta(1 - alpha/2; a + 1, n - a)`, 0 when `a = 0`, 1 when `a = n`),
//!   transformed to the RR scale. The upper limit is unbounded (`None`) when `b = 0`.
//! - Two-sided p-value for `H0: RR = 1`, i.e. `pi0 = E_a / (E_a + E_b)`: the exact binomial test with the
//!   "minimum likelihood" rule (the default of `scipy.stats.binomtest`): the sum of `P(X = k)` over every `k`
//!   with `P(X = k) <= P(X = a) * (1 + 1e-7)`; `p = 1` when `a = n * pi0` exactly. With `n = 0` the ratio is
//!   undefined, the interval is `[0, unbounded)` and `p = 1`.
//!
//! # Intervention evaluation: the Weighted Displacement Quotient (Bowers & Johnson 2003)
//! Counts before (`_b`) and after (`_a`) an intervention in the target area `R`, a buffer `D` around it, and a
//! control area `C` (similar, far enough away not to be affected):
//! - success measure `S = R_a/C_a - R_b/C_b`: `S < 0` means the target improved relative to the control;
//! - buffer displacement measure `B = D_a/C_a - D_b/C_b` (`> 0`: the buffer got worse relative to control);
//! - `WDQ = B / S`, only defined when `S < 0` (the intervention "worked"); interpretation:
//!   `WDQ > 0` diffusion of benefits, `WDQ = 0` no displacement or diffusion, `-1 < WDQ < 0` displacement
//!   smaller than the benefit (net benefit), `WDQ <= -1` displacement equal to or larger than the benefit;
//!   `S > 0` means no success (the WDQ is not interpreted) and `S = 0` is undefined (division by zero).
//! - gross effect `R_b - R_a` (positive: fewer incidents after);
//! - net effect: the gross effect corrected for the control trend, `R_b * (C_a / C_b) - R_a`: the incidents the
//!   target would have had after the intervention had it followed the control area, minus what it had
//!   (positive: a reduction beyond the general trend).
//!
//! # Counting over periods and in a buffer ring
//! An incident counts in a period (inclusive days) when its window begins on one of the period's days
//! ([`begins_in`]); the exposure of a period is its number of days ([`period_days`]). [`PeriodCounts`] counts
//! one area in the period and the comparison period at once, with zero-filled series per [`Step`]. The buffer
//! `D` of the WDQ is a [`BufferRing`]: the points within `buffer_m` metres (Euclidean distance in RD) of the
//! target's geometry but not inside it ([`ring_counts`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use geo::{BoundingRect, Contains, Distance, Euclidean};
use geo_types::{MultiPolygon, Point, Rect};
use serde::Serialize;
use statrs::distribution::{Beta, Binomial, ContinuousCDF, Discrete, DiscreteCDF};

use crate::calendar::{Buckets, Step};

/// Errors for invalid inputs to the comparisons.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// Exposures must be finite and > 0.
    #[error("exposure must be finite and > 0, got {0}")]
    InvalidExposure(f64),
    /// Confidence levels must lie strictly between 0 and 1.
    #[error("confidence level must be in (0, 1), got {0}")]
    InvalidConfidence(f64),
    /// The WDQ needs incidents in the control area in both periods.
    #[error(
        "control area counts must be > 0 before and after (got before {before}, after {after})"
    )]
    EmptyControl {
        /// Control count before.
        before: u64,
        /// Control count after.
        after: u64,
    },
    /// A statistical distribution could not be built (should not happen for valid inputs).
    #[error("distribution error: {0}")]
    Distribution(String),
}

/// Counts and denominators of one area in one period.
#[derive(Clone, Debug, PartialEq)]
pub struct AreaCounts {
    /// Area code, e.g. `BU03630000`.
    pub area_id: String,
    /// Incidents per category code (the area's count is their sum).
    pub category_counts: BTreeMap<String, u64>,
    /// Number of inhabitants (CBS `aantal_inwoners`), when known.
    pub inhabitants: Option<f64>,
    /// Number of addresses (BAG), when known.
    pub addresses: Option<f64>,
}

/// Count, rates and shares of one area in one period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AreaSummary {
    /// Area code.
    pub area_id: String,
    /// Number of incidents.
    pub count: u64,
    /// Incidents per 1,000 inhabitants; `None` when the number of inhabitants is unknown or not positive.
    pub per_1000_inhabitants: Option<f64>,
    /// Incidents per 1,000 addresses; `None` when the number of addresses is unknown or not positive.
    pub per_1000_addresses: Option<f64>,
    /// Share of this area in the total of all summarised areas; `None` when that total is 0.
    pub share_of_total: Option<f64>,
    /// Per category: count and share of the area's count.
    pub categories: BTreeMap<String, CategoryShare>,
}

/// Count and share of one category within an area.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CategoryShare {
    /// Incidents of the category.
    pub count: u64,
    /// `count / area count`; `None` when the area has no incidents.
    pub share: Option<f64>,
}

fn per_1000(count: u64, denominator: Option<f64>) -> Option<f64> {
    denominator
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| count as f64 * 1000.0 / d)
}

fn share(part: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| part as f64 / total as f64)
}

/// Summaries of a set of areas in one period (share of total over the given areas).
pub fn summarise_areas(areas: &[AreaCounts]) -> Vec<AreaSummary> {
    let counts: Vec<u64> = areas
        .iter()
        .map(|a| a.category_counts.values().sum())
        .collect();
    let total: u64 = counts.iter().sum();
    areas
        .iter()
        .zip(&counts)
        .map(|(a, &count)| AreaSummary {
            area_id: a.area_id.clone(),
            count,
            per_1000_inhabitants: per_1000(count, a.inhabitants),
            per_1000_addresses: per_1000(count, a.addresses),
            share_of_total: share(count, total),
            categories: a
                .category_counts
                .iter()
                .map(|(cat, &c)| {
                    (
                        cat.clone(),
                        CategoryShare {
                            count: c,
                            share: share(c, count),
                        },
                    )
                })
                .collect(),
        })
        .collect()
}

/// A rate ratio between two periods with its exact conditional inference (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateRatio {
    /// Count in period A.
    pub count_a: u64,
    /// Exposure of period A.
    pub exposure_a: f64,
    /// Count in period B.
    pub count_b: u64,
    /// Exposure of period B.
    pub exposure_b: f64,
    /// `(count_a / exposure_a) / (count_b / exposure_b)`; `None` when `count_b = 0` (infinite, or undefined
    /// when both counts are 0).
    pub ratio: Option<f64>,
    /// Lower confidence limit (0 when `count_a = 0`).
    pub ci_lower: f64,
    /// Upper confidence limit; `None` when unbounded (`count_b = 0`).
    pub ci_upper: Option<f64>,
    /// Confidence level of the interval, e.g. 0.95.
    pub confidence: f64,
    /// Exact two-sided p-value for a ratio of 1 (minimum-likelihood rule).
    pub p_value: f64,
}

fn check_exposure(e: f64) -> Result<(), CompareError> {
    if e.is_finite() && e > 0.0 {
        Ok(())
    } else {
        Err(CompareError::InvalidExposure(e))
    }
}

fn dist_err(e: impl std::fmt::Display) -> CompareError {
    CompareError::Distribution(e.to_string())
}

/// Clopper-Pearson ("exact") confidence interval for a binomial proportion `k / n` (`n > 0`, `k <= n`).
pub fn clopper_pearson(k: u64, n: u64, confidence: f64) -> Result<(f64, f64), CompareError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(CompareError::InvalidConfidence(confidence));
    }
    let alpha = 1.0 - confidence;
    let (kf, nf) = (k as f64, n as f64);
    let lower = if k == 0 {
        0.0
    } else {
        Beta::new(kf, nf - kf + 1.0)
            .map_err(dist_err)?
            .inverse_cdf(alpha / 2.0)
    };
    let upper = if k >= n {
        1.0
    } else {
        Beta::new(kf + 1.0, nf - kf)
            .map_err(dist_err)?
            .inverse_cdf(1.0 - alpha / 2.0)
    };
    Ok((lower, upper))
}

/// Exact two-sided binomial test p-value of `k` successes in `n` trials against `p0`, with the
/// minimum-likelihood rule of `scipy.stats.binomtest` (see the module docs). `p0` must be in (0, 1).
pub fn binomial_test_two_sided(k: u64, n: u64, p0: f64) -> Result<f64, CompareError> {
    if n == 0 {
        return Ok(1.0);
    }
    let dist = Binomial::new(p0, n).map_err(dist_err)?;
    let expected = p0 * n as f64;
    let kf = k as f64;
    if kf == expected {
        return Ok(1.0);
    }
    let threshold = dist.pmf(k) * (1.0 + 1e-7);
    let p = if kf < expected {
        // The pmf is non-increasing on [ceil(n p0), n]: find the first j there with pmf(j) <= threshold.
        let (mut lo, mut hi) = (expected.ceil() as u64, n + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if dist.pmf(mid) <= threshold {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let upper = if lo > n { 0.0 } else { dist.sf(lo - 1) };
        dist.cdf(k) + upper
    } else {
        // The pmf is non-decreasing on [0, floor(n p0)]: find the last j there with pmf(j) <= threshold.
        let (mut lo, mut hi) = (0u64, expected.floor() as u64 + 1);
        // Invariant: pmf(j) <= threshold for j < lo; pmf(j) > threshold for j >= hi (within the range).
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if dist.pmf(mid) <= threshold {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let lower = if lo == 0 { 0.0 } else { dist.cdf(lo - 1) };
        let upper = if k == 0 { 1.0 } else { dist.sf(k - 1) };
        lower + upper
    };
    Ok(p.min(1.0))
}

/// Rate ratio `(count_a / exposure_a) / (count_b / exposure_b)` with exact conditional confidence interval and
/// two-sided p-value (see the module docs).
pub fn rate_ratio(
    count_a: u64,
    exposure_a: f64,
    count_b: u64,
    exposure_b: f64,
    confidence: f64,
) -> Result<RateRatio, CompareError> {
    check_exposure(exposure_a)?;
    check_exposure(exposure_b)?;
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(CompareError::InvalidConfidence(confidence));
    }
    let n = count_a + count_b;
    let scale = exposure_b / exposure_a;
    let ratio = (count_b > 0).then(|| count_a as f64 / count_b as f64 * scale);
    let (ci_lower, ci_upper) = if n == 0 {
        (0.0, None)
    } else {
        let (pl, pu) = clopper_pearson(count_a, n, confidence)?;
        let to_rr = |p: f64| p / (1.0 - p) * scale;
        (to_rr(pl), (count_b > 0).then(|| to_rr(pu)))
    };
    let p0 = exposure_a / (exposure_a + exposure_b);
    let p_value = binomial_test_two_sided(count_a, n, p0)?;
    Ok(RateRatio {
        count_a,
        exposure_a,
        count_b,
        exposure_b,
        ratio,
        ci_lower,
        ci_upper,
        confidence,
        p_value,
    })
}

/// One area in two periods: counts and the exposures of the periods (e.g. days).
#[derive(Clone, Debug, PartialEq)]
pub struct AreaPeriods {
    /// The current period (A).
    pub current: AreaCounts,
    /// Exposure of the current period (e.g. its length in days).
    pub exposure_current: f64,
    /// The earlier period (B), same area.
    pub previous: AreaCounts,
    /// Exposure of the earlier period.
    pub exposure_previous: f64,
}

/// One area side by side over two periods.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AreaComparison {
    /// Area code.
    pub area_id: String,
    /// Current period.
    pub current: AreaSummary,
    /// Earlier period.
    pub previous: AreaSummary,
    /// Change of the rate from the earlier to the current period.
    pub change: RateRatio,
}

/// Compares every area between two periods (shares of total within each period over the given areas).
pub fn compare_areas(
    areas: &[AreaPeriods],
    confidence: f64,
) -> Result<Vec<AreaComparison>, CompareError> {
    let current: Vec<AreaCounts> = areas.iter().map(|a| a.current.clone()).collect();
    let previous: Vec<AreaCounts> = areas.iter().map(|a| a.previous.clone()).collect();
    let cur = summarise_areas(&current);
    let prev = summarise_areas(&previous);
    areas
        .iter()
        .zip(cur)
        .zip(prev)
        .map(|((a, c), p)| {
            let change = rate_ratio(
                c.count,
                a.exposure_current,
                p.count,
                a.exposure_previous,
                confidence,
            )?;
            Ok(AreaComparison {
                area_id: c.area_id.clone(),
                current: c,
                previous: p,
                change,
            })
        })
        .collect()
}

/// What to rank areas by (always the current period; highest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Number of incidents.
    Count,
    /// Incidents per 1,000 inhabitants.
    RatePer1000Inhabitants,
    /// Incidents per 1,000 addresses.
    RatePer1000Addresses,
    /// Rate ratio current / previous (an infinite ratio, `count_previous = 0 < count_current`, ranks first).
    Change,
}

fn rank_value(c: &AreaComparison, by: RankBy) -> Option<f64> {
    match by {
        RankBy::Count => Some(c.current.count as f64),
        RankBy::RatePer1000Inhabitants => c.current.per_1000_inhabitants,
        RankBy::RatePer1000Addresses => c.current.per_1000_addresses,
        RankBy::Change => match c.change.ratio {
            Some(r) => Some(r),
            None if c.change.count_a > 0 => Some(f64::INFINITY),
            None => None,
        },
    }
}

/// A ranked area: 1-based rank (ties share the lowest rank) and the value ranked on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankedArea {
    /// 1 = highest value; `None` when the value is missing (those come last).
    pub rank: Option<usize>,
    /// Area code.
    pub area_id: String,
    /// The value ranked on; `None` when missing. An infinite change is serialised as `null` by JSON
    /// encoders, so `infinite` says so explicitly.
    pub value: Option<f64>,
    /// True when the value is an infinite rate ratio (no incidents in the previous period).
    pub infinite: bool,
}

/// Ranks areas by `by`, highest first; areas without a value come last without a rank; ties are ordered by
/// area code and share the same ("competition") rank.
pub fn rank_areas(comparisons: &[AreaComparison], by: RankBy) -> Vec<RankedArea> {
    let mut rows: Vec<(Option<f64>, &str)> = comparisons
        .iter()
        .map(|c| (rank_value(c, by), c.area_id.as_str()))
        .collect();
    rows.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.1.cmp(b.1)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.1.cmp(b.1),
    });
    let mut out: Vec<RankedArea> = Vec::with_capacity(rows.len());
    for (i, (value, id)) in rows.iter().enumerate() {
        let rank = value.map(|v| match out.last() {
            Some(prev) if prev.value == Some(v) || (prev.infinite && v.is_infinite()) => {
                prev.rank.unwrap_or(i + 1)
            }
            _ => i + 1,
        });
        out.push(RankedArea {
            rank,
            area_id: (*id).to_string(),
            value: value.filter(|v| v.is_finite()),
            infinite: value.is_some_and(f64::is_infinite),
        });
    }
    out
}

/// The comparisons of the chosen areas, in the order of `area_ids` (unknown codes are skipped).
pub fn side_by_side(comparisons: &[AreaComparison], area_ids: &[&str]) -> Vec<AreaComparison> {
    area_ids
        .iter()
        .filter_map(|id| comparisons.iter().find(|c| c.area_id == *id).cloned())
        .collect()
}

/// Incident counts for a WDQ evaluation: target `R`, buffer `D`, control `C`, before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WdqCounts {
    /// Target area before.
    pub target_before: u64,
    /// Target area after.
    pub target_after: u64,
    /// Buffer zone before.
    pub buffer_before: u64,
    /// Buffer zone after.
    pub buffer_after: u64,
    /// Control area before (must be > 0).
    pub control_before: u64,
    /// Control area after (must be > 0).
    pub control_after: u64,
}

/// How to read a WDQ (Bowers & Johnson 2003).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WdqInterpretation {
    /// `S < 0`, `WDQ > 0`: the buffer improved too.
    DiffusionOfBenefits,
    /// `S < 0`, `WDQ = 0`: the buffer followed the control trend.
    NoDisplacementOrDiffusion,
    /// `S < 0`, `-1 < WDQ < 0`: some displacement, smaller than the benefit.
    DisplacementWithNetBenefit,
    /// `S < 0`, `WDQ <= -1`: displacement at least as large as the benefit.
    DisplacementExceedsBenefit,
    /// `S > 0`: the target did not improve relative to the control.
    NoSuccess,
    /// `S = 0`: the quotient is undefined.
    Undefined,
}

/// Result of a WDQ evaluation (see the module docs for every formula).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WdqResult {
    /// The input counts.
    pub counts: WdqCounts,
    /// Success measure `S = R_a/C_a - R_b/C_b` (negative: the target improved relative to control).
    pub success_measure: f64,
    /// Buffer displacement measure `D_a/C_a - D_b/C_b`.
    pub buffer_measure: f64,
    /// `buffer_measure / success_measure`; `None` when `success_measure = 0`.
    pub wdq: Option<f64>,
    /// Reading of the WDQ.
    pub interpretation: WdqInterpretation,
    /// `R_b - R_a`.
    pub gross_effect: f64,
    /// `R_b * (C_a / C_b) - R_a`.
    pub net_effect: f64,
}

/// Weighted Displacement Quotient with success measure, gross and net effect (Bowers & Johnson 2003).
pub fn weighted_displacement_quotient(counts: WdqCounts) -> Result<WdqResult, CompareError> {
    let WdqCounts {
        target_before: rb,
        target_after: ra,
        buffer_before: db,
        buffer_after: da,
        control_before: cb,
        control_after: ca,
    } = counts;
    if cb == 0 || ca == 0 {
        return Err(CompareError::EmptyControl {
            before: cb,
            after: ca,
        });
    }
    let (rb, ra, db, da, cb, ca) = (
        rb as f64, ra as f64, db as f64, da as f64, cb as f64, ca as f64,
    );
    let success = ra / ca - rb / cb;
    let buffer = da / ca - db / cb;
    let wdq = (success != 0.0).then(|| buffer / success);
    let interpretation = match wdq {
        None => WdqInterpretation::Undefined,
        Some(_) if success > 0.0 => WdqInterpretation::NoSuccess,
        Some(w) if w > 0.0 => WdqInterpretation::DiffusionOfBenefits,
        Some(w) if w < 0.0 && w > -1.0 => WdqInterpretation::DisplacementWithNetBenefit,
        Some(w) if w <= -1.0 => WdqInterpretation::DisplacementExceedsBenefit,
        // w == 0 (the counts are finite, so w is never NaN).
        Some(_) => WdqInterpretation::NoDisplacementOrDiffusion,
    };
    Ok(WdqResult {
        counts,
        success_measure: success,
        buffer_measure: buffer,
        wdq,
        interpretation,
        gross_effect: rb - ra,
        net_effect: rb * (ca / cb) - ra,
    })
}

/// An inclusive period of days: `(first, last)`.
pub type Period = (NaiveDate, NaiveDate);

/// Number of days of `period` (`last - first + 1`): the exposure of a rate ratio.
///
/// ```
/// use brandpunt::analysis::compare::{begins_in, period_days};
/// use chrono::NaiveDate;
///
/// let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
/// let september = (d(9, 1), d(9, 30));
/// assert_eq!(period_days(september), 30.0);
/// assert!(begins_in(d(9, 30).and_hms_opt(23, 59, 0).unwrap(), september));
/// assert!(!begins_in(d(10, 1).and_hms_opt(0, 0, 0).unwrap(), september));
/// ```
pub fn period_days(period: Period) -> f64 {
    ((period.1 - period.0).num_days() + 1) as f64
}

/// Does a window beginning at `begin` count in `period` (the day it begins lies in the period)?
pub fn begins_in(begin: NaiveDateTime, period: Period) -> bool {
    let day = begin.date();
    day >= period.0 && day <= period.1
}

/// Counts and zero-filled series of one area in a period and in the comparison period.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodCounts {
    /// Incidents in the period.
    pub count: u64,
    /// Incidents in the comparison period.
    pub vs_count: u64,
    /// Per step over the period.
    pub series: Buckets,
    /// Per step over the comparison period.
    pub vs_series: Buckets,
}

impl PeriodCounts {
    /// Count the windows beginning at `begins` in `period` and `vs_period` (one pass; the periods may overlap).
    ///
    /// ```
    /// use brandpunt::analysis::compare::PeriodCounts;
    /// use brandpunt::calendar::Step;
    /// use chrono::NaiveDate;
    ///
    /// let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
    /// let begins = [d(9, 2), d(9, 3), d(8, 20)].map(|d| d.and_hms_opt(12, 0, 0).unwrap());
    /// let c = PeriodCounts::count(begins, Step::Week, (d(9, 1), d(9, 30)), (d(8, 1), d(8, 31)));
    /// assert_eq!((c.count, c.vs_count), (2, 1));
    /// assert_eq!(c.series.counts[..2], [0, 2]);
    /// ```
    pub fn count(
        begins: impl IntoIterator<Item = NaiveDateTime>,
        step: Step,
        period: Period,
        vs_period: Period,
    ) -> PeriodCounts {
        let mut r = PeriodCounts {
            count: 0,
            vs_count: 0,
            series: Buckets::new(step, period.0, period.1),
            vs_series: Buckets::new(step, vs_period.0, vs_period.1),
        };
        for begin in begins {
            if begins_in(begin, period) {
                r.count += 1;
                r.series.add(begin.date());
            }
            if begins_in(begin, vs_period) {
                r.vs_count += 1;
                r.vs_series.add(begin.date());
            }
        }
        r
    }
}

/// The buffer of an intervention's target: the points within `buffer_m` metres (Euclidean distance in RD) of the
/// target's geometry but not inside it.
#[derive(Clone, Debug)]
pub struct BufferRing<'a> {
    target: &'a MultiPolygon<f64>,
    buffer_m: f64,
    /// The target's bounding box grown by `buffer_m` (`None` for an empty target).
    bbox: Option<Rect<f64>>,
}

impl<'a> BufferRing<'a> {
    /// The ring of `buffer_m` metres around `target` (RD metres).
    pub fn new(target: &'a MultiPolygon<f64>, buffer_m: f64) -> Self {
        let bbox = target.bounding_rect().map(|b| {
            Rect::new(
                (b.min().x - buffer_m, b.min().y - buffer_m),
                (b.max().x + buffer_m, b.max().y + buffer_m),
            )
        });
        BufferRing {
            target,
            buffer_m,
            bbox,
        }
    }

    /// Is RD point `(x_m, y_m)` inside the ring's bounding box (a quick test before [`BufferRing::contains`])?
    pub fn may_contain(&self, x_m: f64, y_m: f64) -> bool {
        self.bbox.is_some_and(|b| {
            x_m >= b.min().x && x_m <= b.max().x && y_m >= b.min().y && y_m <= b.max().y
        })
    }

    /// Is RD point `(x_m, y_m)` in the ring (outside the target, within `buffer_m` of it)?
    pub fn contains(&self, x_m: f64, y_m: f64) -> bool {
        if !self.may_contain(x_m, y_m) {
            return false;
        }
        let p = Point::new(x_m, y_m);
        !self.target.contains(&p) && Euclidean.distance(self.target, &p) <= self.buffer_m
    }
}

/// `(before, after)`: the `incidents` (RD point and the moment their window begins) in `ring` whose window begins
/// in `before` and in `after`.
///
/// ```
/// use brandpunt::analysis::compare::{ring_counts, BufferRing};
/// use chrono::NaiveDate;
/// use geo_types::{polygon, MultiPolygon};
///
/// let target = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)]]);
/// let ring = BufferRing::new(&target, 50.0);
/// let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
/// let at = |m, day| d(m, day).and_hms_opt(12, 0, 0).unwrap();
/// let incidents = [
///     (120.0, 50.0, at(8, 10)), // in the ring, before
///     (140.0, 50.0, at(9, 10)), // in the ring, after
///     (50.0, 50.0, at(9, 10)),  // inside the target
///     (170.0, 50.0, at(9, 10)), // too far
/// ];
/// assert_eq!(ring_counts(&ring, incidents, (d(8, 1), d(8, 31)), (d(9, 1), d(9, 30))), (1, 1));
/// ```
pub fn ring_counts(
    ring: &BufferRing<'_>,
    incidents: impl IntoIterator<Item = (f64, f64, NaiveDateTime)>,
    before: Period,
    after: Period,
) -> (u64, u64) {
    let (mut b, mut a) = (0, 0);
    for (x, y, begin) in incidents {
        if !ring.contains(x, y) {
            continue;
        }
        if begins_in(begin, before) {
            b += 1;
        }
        if begins_in(begin, after) {
            a += 1;
        }
    }
    (b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(id: &str, cats: &[(&str, u64)], inh: Option<f64>, adr: Option<f64>) -> AreaCounts {
        AreaCounts {
            area_id: id.into(),
            category_counts: cats.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            inhabitants: inh,
            addresses: adr,
        }
    }

    #[test]
    fn rates_and_shares() {
        let s = summarise_areas(&[
            area(
                "BU1",
                &[("1.1.1", 6), ("1.4.5", 2)],
                Some(2000.0),
                Some(800.0),
            ),
            area("BU2", &[("1.1.1", 0)], Some(-99997.0), None),
            area("BU3", &[("1.1.1", 2)], Some(0.0), Some(f64::NAN)),
        ]);
        assert_eq!(s[0].count, 8);
        assert_eq!(s[0].per_1000_inhabitants, Some(4.0));
        assert_eq!(s[0].per_1000_addresses, Some(10.0));
        assert_eq!(s[0].share_of_total, Some(0.8));
        assert_eq!(s[0].categories["1.1.1"].share, Some(0.75));
        assert_eq!(s[1].per_1000_inhabitants, None);
        assert_eq!(s[1].per_1000_addresses, None);
        assert_eq!(s[1].categories["1.1.1"].share, None);
        assert_eq!(s[2].per_1000_inhabitants, None);
        assert_eq!(s[2].per_1000_addresses, None);
        let empty = summarise_areas(&[area("BU9", &[], None, None)]);
        assert_eq!(empty[0].share_of_total, None);
    }

    #[test]
    fn rate_ratio_closed_forms() {
        // Equal rates: ratio 1, p = 1 (a = n * pi0 exactly).
        let r = rate_ratio(10, 30.0, 20, 60.0, 0.95).unwrap();
        assert!((r.ratio.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(r.p_value, 1.0);
        assert!(r.ci_lower < 1.0 && r.ci_upper.unwrap() > 1.0);
        // a = 0, b = 3, equal exposures: two-sided p = P(X=0) + P(X=3) = 2 / 8; upper pi = 1 - 0.025^(1/3).
        let r = rate_ratio(0, 1.0, 3, 1.0, 0.95).unwrap();
        assert_eq!(r.ratio, Some(0.0));
        assert!((r.p_value - 0.25).abs() < 1e-12);
        let pu: f64 = 1.0 - 0.025f64.powf(1.0 / 3.0);
        assert!((r.ci_upper.unwrap() - pu / (1.0 - pu)).abs() < 1e-9);
        assert_eq!(r.ci_lower, 0.0);
        // b = 0: infinite ratio, unbounded upper limit; lower pi = 0.025^(1/3).
        let r = rate_ratio(3, 1.0, 0, 1.0, 0.95).unwrap();
        assert_eq!(r.ratio, None);
        assert_eq!(r.ci_upper, None);
        let pl: f64 = 0.025f64.powf(1.0 / 3.0);
        assert!((r.ci_lower - pl / (1.0 - pl)).abs() < 1e-9);
        // No incidents at all.
        let r = rate_ratio(0, 1.0, 0, 1.0, 0.95).unwrap();
        assert_eq!(
            (r.ratio, r.ci_lower, r.ci_upper, r.p_value),
            (None, 0.0, None, 1.0)
        );
        assert!(rate_ratio(1, 0.0, 1, 1.0, 0.95).is_err());
        assert!(rate_ratio(1, 1.0, 1, f64::INFINITY, 0.95).is_err());
        assert!(rate_ratio(1, 1.0, 1, 1.0, 1.0).is_err());
    }

    #[test]
    fn binomial_test_symmetric_closed_form() {
        // n = 10, p = 0.5: two-sided p of k = 2 is 2 * P(X <= 2) = 2 * 56 / 1024.
        let p = binomial_test_two_sided(2, 10, 0.5).unwrap();
        assert!((p - 112.0 / 1024.0).abs() < 1e-12);
        let p = binomial_test_two_sided(8, 10, 0.5).unwrap();
        assert!((p - 112.0 / 1024.0).abs() < 1e-12);
        assert_eq!(binomial_test_two_sided(0, 0, 0.3).unwrap(), 1.0);
    }

    fn periods(id: &str, now: u64, before: u64, inh: Option<f64>) -> AreaPeriods {
        AreaPeriods {
            current: area(id, &[("x", now)], inh, None),
            exposure_current: 30.0,
            previous: area(id, &[("x", before)], inh, None),
            exposure_previous: 30.0,
        }
    }

    #[test]
    fn ranking_and_side_by_side() {
        let c = compare_areas(
            &[
                periods("A", 10, 5, Some(1000.0)),
                periods("B", 20, 20, None),
                periods("C", 10, 0, Some(500.0)),
                periods("D", 0, 0, Some(100.0)),
            ],
            0.95,
        )
        .unwrap();
        let by_count = rank_areas(&c, RankBy::Count);
        let ids: Vec<&str> = by_count.iter().map(|r| r.area_id.as_str()).collect();
        assert_eq!(ids, ["B", "A", "C", "D"]);
        let ranks: Vec<Option<usize>> = by_count.iter().map(|r| r.rank).collect();
        assert_eq!(ranks, [Some(1), Some(2), Some(2), Some(4)]);
        let by_rate = rank_areas(&c, RankBy::RatePer1000Inhabitants);
        let ids: Vec<&str> = by_rate.iter().map(|r| r.area_id.as_str()).collect();
        assert_eq!(ids, ["C", "A", "D", "B"]);
        assert_eq!(by_rate[3].rank, None);
        let by_change = rank_areas(&c, RankBy::Change);
        assert_eq!(by_change[0].area_id, "C");
        assert!(by_change[0].infinite && by_change[0].value.is_none());
        assert_eq!(by_change[1].area_id, "A");
        assert_eq!(by_change[1].value, Some(2.0));
        assert_eq!(by_change[3].area_id, "D");
        assert_eq!(by_change[3].rank, None);
        let sbs = side_by_side(&c, &["C", "nope", "A"]);
        assert_eq!(sbs.len(), 2);
        assert_eq!(sbs[0].area_id, "C");
        assert!(serde_json::to_string(&c).is_ok());
    }

    fn wdq(rb: u64, ra: u64, db: u64, da: u64, cb: u64, ca: u64) -> WdqResult {
        weighted_displacement_quotient(WdqCounts {
            target_before: rb,
            target_after: ra,
            buffer_before: db,
            buffer_after: da,
            control_before: cb,
            control_after: ca,
        })
        .unwrap()
    }

    #[test]
    fn wdq_worked_examples() {
        // Hand computed: S = 60/480 - 100/500 = -3/40; B = 70/480 - 80/500 = -17/1200; WDQ = 17/90.
        let r = wdq(100, 60, 80, 70, 500, 480);
        assert!((r.success_measure + 3.0 / 40.0).abs() < 1e-12);
        assert!((r.buffer_measure + 17.0 / 1200.0).abs() < 1e-12);
        assert!((r.wdq.unwrap() - 17.0 / 90.0).abs() < 1e-12);
        assert_eq!(r.interpretation, WdqInterpretation::DiffusionOfBenefits);
        assert_eq!(r.gross_effect, 40.0);
        assert!((r.net_effect - 36.0).abs() < 1e-12); // 100 * 480/500 - 60
                                                      // Buffer up to 100: B = 29/600, WDQ = -29/45.
        let r = wdq(100, 60, 80, 100, 500, 480);
        assert!((r.wdq.unwrap() + 29.0 / 45.0).abs() < 1e-12);
        assert_eq!(
            r.interpretation,
            WdqInterpretation::DisplacementWithNetBenefit
        );
        // Buffer up to 130: B = 133/1200, WDQ = -133/90.
        let r = wdq(100, 60, 80, 130, 500, 480);
        assert!((r.wdq.unwrap() + 133.0 / 90.0).abs() < 1e-12);
        assert_eq!(
            r.interpretation,
            WdqInterpretation::DisplacementExceedsBenefit
        );
        // Target worse relative to control.
        let r = wdq(100, 110, 80, 70, 500, 480);
        assert_eq!(r.interpretation, WdqInterpretation::NoSuccess);
        assert!(r.success_measure > 0.0);
        // Target follows the control exactly: 96/480 = 100/500.
        let r = wdq(100, 96, 80, 70, 500, 480);
        assert_eq!(r.wdq, None);
        assert_eq!(r.interpretation, WdqInterpretation::Undefined);
        // Buffer follows the control exactly.
        let r = wdq(100, 60, 80, 80, 500, 500);
        assert_eq!(
            r.interpretation,
            WdqInterpretation::NoDisplacementOrDiffusion
        );
        assert!(weighted_displacement_quotient(WdqCounts {
            target_before: 1,
            target_after: 1,
            buffer_before: 1,
            buffer_after: 1,
            control_before: 0,
            control_after: 1,
        })
        .is_err());
    }

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, m, d).unwrap()
    }

    #[test]
    fn periods_count_by_the_day_the_window_begins() {
        let p = (day(9, 2), day(9, 8));
        assert_eq!(period_days(p), 7.0);
        assert_eq!(period_days((day(2, 29), day(2, 29))), 1.0);
        let at = |d: NaiveDate, h, m| d.and_hms_opt(h, m, 0).unwrap();
        assert!(!begins_in(at(day(9, 1), 23, 59), p));
        assert!(begins_in(at(day(9, 2), 0, 0), p));
        assert!(begins_in(at(day(9, 8), 23, 59), p));
        assert!(!begins_in(at(day(9, 9), 0, 0), p));
        let open_end = (day(9, 2), NaiveDate::MAX);
        assert!(begins_in(at(day(12, 31), 0, 0), open_end));
    }

    #[test]
    fn period_counts_fill_both_series_in_one_pass() {
        let at = |m, d| day(m, d).and_hms_opt(8, 0, 0).unwrap();
        // Overlapping periods: an incident in both counts in both.
        let c = PeriodCounts::count(
            [at(9, 3), at(9, 10), at(8, 30), at(7, 1)],
            Step::Month,
            (day(9, 1), day(9, 30)),
            (day(8, 15), day(9, 5)),
        );
        assert_eq!((c.count, c.vs_count), (2, 2));
        assert_eq!(c.series.counts, vec![2]);
        assert_eq!(c.vs_series.counts, vec![1, 1]);
    }

    #[test]
    fn the_ring_excludes_the_target_and_what_lies_beyond_the_buffer() {
        use geo_types::polygon;
        let target = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)
        ]]);
        let ring = BufferRing::new(&target, 50.0);
        assert!(ring.contains(150.0, 50.0), "on the buffer's edge");
        assert!(!ring.contains(150.1, 50.0));
        assert!(!ring.contains(50.0, 50.0), "inside the target");
        // The corner: inside the grown bounding box, but farther than 50 m from the square.
        assert!(ring.may_contain(140.0, 140.0) && !ring.contains(140.0, 140.0));
        assert!(ring.contains(130.0, 130.0));
        let empty = MultiPolygon::<f64>(vec![]);
        let none = BufferRing::new(&empty, 50.0);
        assert!(!none.may_contain(0.0, 0.0) && !none.contains(0.0, 0.0));
        let at = |m, d| day(m, d).and_hms_opt(8, 0, 0).unwrap();
        let before = (day(8, 1), day(8, 31));
        let after = (day(9, 1), day(9, 30));
        let incidents = [
            (120.0, 50.0, at(8, 1)),
            (120.0, 60.0, at(9, 30)),
            (120.0, 70.0, at(10, 1)),
            (50.0, 50.0, at(9, 1)),
        ];
        assert_eq!(ring_counts(&ring, incidents, before, after), (1, 1));
        assert_eq!(ring_counts(&none, incidents, before, after), (0, 0));
    }
}
