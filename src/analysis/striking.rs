//! Striking ("opvallend") areas for the monthly (or weekly) analysis.
//!
//! For every area (optionally per category) the count of the last period is compared with what the area's own
//! history leads one to expect:
//! - expected value: the mean of the previous `window` periods (default 12 months; fewer when the history is
//!   shorter), or with [`Baseline::Seasonal`] the mean of the same period in earlier seasons (same month in
//!   previous years: every `season_length`-th period back) when at least `min_seasons` (default 2) of them are
//!   available; otherwise the previous-periods mean is used and reported as such;
//! - the expected value is floored at `min_expected` (default 0.5, "one incident every two periods"): an area
//!   with an empty history would otherwise give a degenerate test in which a single incident has p = 0. Set it
//!   to 0 to disable; with expected 0 the test is degenerate (`P(X >= k) = 0` for `k > 0`);
//! - exact one-sided Poisson tests: `p_increase = P(X >= observed | expected)` and
//!   `p_decrease = P(X <= observed | expected)`;
//! - multiple testing: Benjamini-Hochberg ([`crate::analysis::fdr`]) at level `alpha`, separately for the
//!   increase p-values and for the decrease p-values, over all series passed in one call (all areas, or all
//!   area x category pairs: call once per category to make each category its own family);
//! - `ratio = observed / expected`.
//!
//! Results are sorted by significance: significant series first, then by the smaller of the two p-values, then
//! by how far the ratio is from 1 (on the log scale), then by area id and category.
//! A series with no history (only the last period) cannot be assessed and is listed in
//! [`StrikingReport::skipped`].
//!
//! # The monthly report
//! [`monthly_report`] counts incidents per month and assesses one month against its history:
//! - the history is the 12 months before the month, fewer when the data begin later: months before the month of
//!   the first incident in the data are left out ([`history_start`]), so a young database does not count months
//!   without deliveries as zeros. Incidents count in the month in which their window begins;
//! - every area of the caller's list is assessed (default configuration: mean of the history, expected value
//!   floored at 0.5, exact one-sided Poisson tests, Benjamini-Hochberg at 0.05 over all areas);
//! - every category with at least one incident in the period is assessed the same way, as one family, counted
//!   over all incidents (also those without an area);
//! - the series counts all incidents per month over history and month.

use std::cmp::Ordering;

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;
use statrs::distribution::{DiscreteCDF, Poisson};

use super::fdr::fdr_significant;
use crate::calendar::{Buckets, Step};

/// Errors for invalid parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrikingError {
    /// `alpha` must lie in (0, 1).
    #[error("alpha must be in (0, 1), got {0}")]
    InvalidAlpha(f64),
    /// Window and season length must be >= 1, min_seasons >= 1.
    #[error("invalid baseline parameter: {0}")]
    InvalidBaseline(String),
    /// `min_expected` must be finite and >= 0.
    #[error("min_expected must be finite and >= 0, got {0}")]
    InvalidMinExpected(f64),
    /// The month lies at the end of the calendar (its last day cannot be represented).
    #[error("month {0} is out of range")]
    MonthOutOfRange(NaiveDate),
}

/// How the expected value is derived from the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Mean of the previous `window` periods.
    PreviousPeriods,
    /// Mean of the same period in earlier seasons, when at least `min_seasons` are available.
    Seasonal,
}

/// Parameters of the striking-area analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrikingConfig {
    /// Baseline method (default previous periods).
    pub baseline: Baseline,
    /// Number of previous periods averaged (default 12).
    pub window: usize,
    /// Periods per season (12 for months, 52 for weeks).
    pub season_length: usize,
    /// Minimum number of earlier seasons for the seasonal baseline (default 2).
    pub min_seasons: usize,
    /// FDR level (default 0.05).
    pub alpha: f64,
    /// Floor of the expected value (default 0.5).
    pub min_expected: f64,
}

impl Default for StrikingConfig {
    fn default() -> Self {
        Self {
            baseline: Baseline::PreviousPeriods,
            window: 12,
            season_length: 12,
            min_seasons: 2,
            alpha: 0.05,
            min_expected: 0.5,
        }
    }
}

/// Counts per period of one area (and optionally one category), oldest first; the last element is the period
/// under test.
#[derive(Clone, Debug, PartialEq)]
pub struct AreaSeries {
    /// Area code.
    pub area_id: String,
    /// Category code or group, when the analysis is per category.
    pub category: Option<String>,
    /// Counts per period, oldest first, ending with the period under test.
    pub counts: Vec<u64>,
}

/// Direction of a significant change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Significantly more than expected.
    Increase,
    /// Significantly fewer than expected.
    Decrease,
}

/// The assessment of one series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrikingArea {
    /// Area code.
    pub area_id: String,
    /// Category, when given.
    pub category: Option<String>,
    /// Count in the period under test.
    pub observed: u64,
    /// Baseline mean before the `min_expected` floor.
    pub history_mean: f64,
    /// Expected count used in the test (`max(history_mean, min_expected)`).
    pub expected: f64,
    /// The baseline actually used (seasonal falls back to previous periods).
    pub baseline: Baseline,
    /// Number of historical periods averaged.
    pub baseline_periods: usize,
    /// `observed / expected`; `None` when expected is 0.
    pub ratio: Option<f64>,
    /// `P(X >= observed | expected)`.
    pub p_increase: f64,
    /// `P(X <= observed | expected)`.
    pub p_decrease: f64,
    /// Significant increase after BH at `alpha`.
    pub significant_increase: bool,
    /// Significant decrease after BH at `alpha`.
    pub significant_decrease: bool,
    /// The significant direction, if any.
    pub direction: Option<Direction>,
}

/// The result of one striking-area analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrikingReport {
    /// Parameters used.
    pub config: StrikingConfig,
    /// Assessed series, most significant first.
    pub areas: Vec<StrikingArea>,
    /// Area ids (with category) without any history, not assessed.
    pub skipped: Vec<(String, Option<String>)>,
}

/// `P(X >= k)` and `P(X <= k)` for `X ~ Poisson(mu)` (`mu >= 0`; `mu = 0` is the point mass at 0).
pub fn poisson_tails(k: u64, mu: f64) -> (f64, f64) {
    if mu <= 0.0 {
        return (if k == 0 { 1.0 } else { 0.0 }, 1.0);
    }
    match Poisson::new(mu) {
        Ok(d) => {
            let at_least = if k == 0 { 1.0 } else { d.sf(k - 1) };
            (at_least, d.cdf(k))
        }
        // Only non-finite mu can get here; treat as no evidence.
        Err(_) => (1.0, 1.0),
    }
}

fn mean(values: &[u64]) -> f64 {
    values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64
}

/// Baseline mean, kind and number of periods for a history (oldest first, non-empty).
fn baseline(history: &[u64], cfg: &StrikingConfig) -> (f64, Baseline, usize) {
    if cfg.baseline == Baseline::Seasonal {
        let same: Vec<u64> = (1..)
            .map_while(|k: usize| {
                k.checked_mul(cfg.season_length)
                    .and_then(|back| history.len().checked_sub(back))
                    .map(|i| history[i])
            })
            .collect();
        if same.len() >= cfg.min_seasons {
            return (mean(&same), Baseline::Seasonal, same.len());
        }
    }
    let prev = &history[history.len().saturating_sub(cfg.window)..];
    (mean(prev), Baseline::PreviousPeriods, prev.len())
}

/// The baseline of the period that follows `history` (counts per period, oldest first) as the analysis computes
/// it: the mean ([`StrikingConfig::baseline`]; seasonal falls back to the previous `window` periods when fewer
/// than `min_seasons` earlier seasons exist), the kind used and the number of periods averaged. `None` for an
/// empty history. This is `history_mean` of a [`StrikingArea`], before the `min_expected` floor.
///
/// ```
/// use brandpunt::analysis::striking::{baseline_after, Baseline, StrikingConfig};
///
/// let seasonal = StrikingConfig { baseline: Baseline::Seasonal, ..StrikingConfig::default() };
/// // Two years of months: the month after them is compared with the same month of the two years.
/// let mut history = vec![1u64; 24];
/// history[0] = 7;
/// history[12] = 9;
/// assert_eq!(baseline_after(&history, &seasonal), Some((8.0, Baseline::Seasonal, 2)));
/// assert_eq!(baseline_after(&history[..13], &seasonal).map(|b| b.1), Some(Baseline::PreviousPeriods));
/// assert_eq!(baseline_after(&[], &seasonal), None);
/// ```
pub fn baseline_after(history: &[u64], cfg: &StrikingConfig) -> Option<(f64, Baseline, usize)> {
    (!history.is_empty()).then(|| baseline(history, cfg))
}

fn validate(cfg: &StrikingConfig) -> Result<(), StrikingError> {
    if !(cfg.alpha > 0.0 && cfg.alpha < 1.0) {
        return Err(StrikingError::InvalidAlpha(cfg.alpha));
    }
    if cfg.window == 0 || cfg.season_length == 0 || cfg.min_seasons == 0 {
        return Err(StrikingError::InvalidBaseline(format!(
            "window {}, season_length {}, min_seasons {} must all be >= 1",
            cfg.window, cfg.season_length, cfg.min_seasons
        )));
    }
    if !cfg.min_expected.is_finite() || cfg.min_expected < 0.0 {
        return Err(StrikingError::InvalidMinExpected(cfg.min_expected));
    }
    Ok(())
}

fn significance_order(a: &StrikingArea, b: &StrikingArea) -> Ordering {
    let sig = |x: &StrikingArea| x.direction.is_none();
    let p = |x: &StrikingArea| x.p_increase.min(x.p_decrease);
    let dist = |x: &StrikingArea| match x.ratio {
        Some(r) if r > 0.0 => r.ln().abs(),
        _ => f64::INFINITY,
    };
    sig(a)
        .cmp(&sig(b))
        .then(p(a).total_cmp(&p(b)))
        .then(dist(b).total_cmp(&dist(a)))
        .then_with(|| a.area_id.cmp(&b.area_id))
        .then_with(|| a.category.cmp(&b.category))
}

/// Assesses every series (see the module docs) and returns them most significant first.
pub fn striking_areas(
    series: &[AreaSeries],
    cfg: &StrikingConfig,
) -> Result<StrikingReport, StrikingError> {
    validate(cfg)?;
    let mut areas = Vec::with_capacity(series.len());
    let mut skipped = Vec::new();
    for s in series {
        let Some((&observed, history)) = s.counts.split_last() else {
            skipped.push((s.area_id.clone(), s.category.clone()));
            continue;
        };
        if history.is_empty() {
            skipped.push((s.area_id.clone(), s.category.clone()));
            continue;
        }
        let (history_mean, kind, periods) = baseline(history, cfg);
        let expected = history_mean.max(cfg.min_expected);
        let (p_increase, p_decrease) = poisson_tails(observed, expected);
        areas.push(StrikingArea {
            area_id: s.area_id.clone(),
            category: s.category.clone(),
            observed,
            history_mean,
            expected,
            baseline: kind,
            baseline_periods: periods,
            ratio: (expected > 0.0).then(|| observed as f64 / expected),
            p_increase,
            p_decrease,
            significant_increase: false,
            significant_decrease: false,
            direction: None,
        });
    }
    let up: Vec<f64> = areas.iter().map(|a| a.p_increase).collect();
    let down: Vec<f64> = areas.iter().map(|a| a.p_decrease).collect();
    let sig_up = fdr_significant(&up, cfg.alpha);
    let sig_down = fdr_significant(&down, cfg.alpha);
    for ((a, u), d) in areas.iter_mut().zip(sig_up).zip(sig_down) {
        a.significant_increase = u;
        a.significant_decrease = d;
        // Both can only hold together for alpha close to 1; report the stronger side.
        a.direction = match (u, d) {
            (true, true) if a.p_decrease < a.p_increase => Some(Direction::Decrease),
            (true, _) => Some(Direction::Increase),
            (false, true) => Some(Direction::Decrease),
            (false, false) => None,
        };
    }
    areas.sort_by(significance_order);
    Ok(StrikingReport {
        config: cfg.clone(),
        areas,
        skipped,
    })
}

/// First day of the history of a monthly report: 12 months before `month`, but not before the month of
/// `first_day` (the first incident in the data) and never after `month`.
///
/// ```
/// use brandpunt::analysis::striking::history_start;
/// use chrono::NaiveDate;
///
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// assert_eq!(history_start(d(2024, 9, 1), Some(d(2020, 3, 5))), d(2023, 9, 1));
/// assert_eq!(history_start(d(2024, 9, 1), Some(d(2024, 7, 22))), d(2024, 7, 1));
/// ```
pub fn history_start(month: NaiveDate, first_day: Option<NaiveDate>) -> NaiveDate {
    let nominal = month.checked_sub_months(Months::new(12)).unwrap_or(month);
    let data_start = first_day.and_then(|d| d.with_day(1)).unwrap_or(month);
    nominal.max(data_start).min(month)
}

/// The month under test and its history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MonthlyPeriod {
    /// First day of the month under test.
    pub month: NaiveDate,
    /// Last day of the month under test.
    pub month_end: NaiveDate,
    /// First day of the history ([`history_start`]).
    pub history_from: NaiveDate,
}

impl MonthlyPeriod {
    /// The period of the month starting at `month` (its first day), with the data's first day `first_day`.
    pub fn new(month: NaiveDate, first_day: Option<NaiveDate>) -> Result<Self, StrikingError> {
        let month_end = month
            .checked_add_months(Months::new(1))
            .and_then(|d| d.pred_opt())
            .ok_or(StrikingError::MonthOutOfRange(month))?;
        Ok(MonthlyPeriod {
            month,
            month_end,
            history_from: history_start(month, first_day),
        })
    }

    /// Month buckets of history and month, oldest first (the last one is the month under test).
    pub fn months(&self) -> Buckets {
        Buckets::new(Step::Month, self.history_from, self.month_end)
    }
}

/// One incident as the monthly report counts it: the day its window begins, and its area and category as
/// indices into the caller's lists (`None`: it has none, or one not in the list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonthlyIncident {
    pub day: NaiveDate,
    pub area: Option<usize>,
    pub category: Option<usize>,
}

/// A computed monthly report (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct MonthlyReport {
    pub month: NaiveDate,
    pub month_end: NaiveDate,
    pub history_from: NaiveDate,
    /// Month starts of history and month, oldest first (the last one is the month under test).
    pub months: Vec<NaiveDate>,
    /// All incidents per month, aligned with `months`.
    pub series: Vec<u64>,
    /// Assessment per area, most significant first.
    pub areas: Vec<StrikingArea>,
    pub areas_skipped: usize,
    /// Assessment per category with incidents in the period (`area_id` and `category` are the category code).
    pub categories: Vec<StrikingArea>,
    pub categories_skipped: usize,
    pub config: StrikingConfig,
}

/// Count `incidents` per month of `period` and assess the month (see the module docs): the areas are the
/// caller's `areas` (codes; every one is assessed), the categories its `categories` (codes; those with at least
/// one incident are assessed). Incidents outside the period are ignored.
///
/// ```
/// use brandpunt::analysis::striking::{monthly_report, MonthlyIncident, MonthlyPeriod};
/// use chrono::NaiveDate;
///
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// let period = MonthlyPeriod::new(d(2024, 9, 1), Some(d(2024, 1, 10))).unwrap();
/// // One incident a month in BU01, twenty in September.
/// let mut incidents: Vec<MonthlyIncident> = (1..=8)
///     .map(|m| MonthlyIncident { day: d(2024, m, 15), area: Some(0), category: Some(0) })
///     .collect();
/// incidents.extend((1..=20).map(|day| MonthlyIncident { day: d(2024, 9, day), area: Some(0), category: None }));
/// let r = monthly_report(&period, &["BU01", "BU02"], &["1.1.1"], incidents).unwrap();
/// assert_eq!(r.months.len(), 9);
/// assert_eq!(r.series, vec![1, 1, 1, 1, 1, 1, 1, 1, 20]);
/// assert_eq!(r.areas[0].area_id, "BU01");
/// assert!(r.areas[0].significant_increase);
/// assert_eq!(r.categories.len(), 1);
/// ```
pub fn monthly_report<A: AsRef<str>, C: AsRef<str>>(
    period: &MonthlyPeriod,
    areas: &[A],
    categories: &[C],
    incidents: impl IntoIterator<Item = MonthlyIncident>,
) -> Result<MonthlyReport, StrikingError> {
    let buckets = period.months();
    let n = buckets.starts.len();
    let mut series = vec![0u64; n];
    let mut per_area = vec![vec![0u64; n]; areas.len()];
    let mut per_category = vec![vec![0u64; n]; categories.len()];
    for inc in incidents {
        let Some(t) = buckets.index_of(inc.day) else {
            continue;
        };
        series[t] += 1;
        if let Some(a) = inc.area.and_then(|a| per_area.get_mut(a)) {
            a[t] += 1;
        }
        if let Some(c) = inc.category.and_then(|c| per_category.get_mut(c)) {
            c[t] += 1;
        }
    }
    let config = StrikingConfig::default();
    let area_series: Vec<AreaSeries> = areas
        .iter()
        .zip(per_area)
        .map(|(code, counts)| AreaSeries {
            area_id: code.as_ref().to_string(),
            category: None,
            counts,
        })
        .collect();
    let area_report = striking_areas(&area_series, &config)?;
    let category_series: Vec<AreaSeries> = categories
        .iter()
        .zip(per_category)
        .filter(|(_, c)| c.iter().any(|&v| v > 0))
        .map(|(code, counts)| AreaSeries {
            area_id: code.as_ref().to_string(),
            category: Some(code.as_ref().to_string()),
            counts,
        })
        .collect();
    let category_report = striking_areas(&category_series, &config)?;
    Ok(MonthlyReport {
        month: period.month,
        month_end: period.month_end,
        history_from: period.history_from,
        months: buckets.starts,
        series,
        areas: area_report.areas,
        areas_skipped: area_report.skipped.len(),
        categories: category_report.areas,
        categories_skipped: category_report.skipped.len(),
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(id: &str, counts: &[u64]) -> AreaSeries {
        AreaSeries {
            area_id: id.into(),
            category: None,
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn poisson_tails_closed_form() {
        // mu = 2: P(X <= 1) = 3 e^-2, P(X >= 2) = 1 - 3 e^-2.
        let (ge, le) = poisson_tails(2, 2.0);
        assert!((ge - (1.0 - 3.0 * (-2.0f64).exp())).abs() < 1e-12);
        assert!((le - 5.0 * (-2.0f64).exp()).abs() < 1e-12);
        assert_eq!(poisson_tails(0, 3.0).0, 1.0);
        assert!((poisson_tails(0, 3.0).1 - (-3.0f64).exp()).abs() < 1e-14);
        assert_eq!(poisson_tails(0, 0.0), (1.0, 1.0));
        assert_eq!(poisson_tails(2, 0.0), (0.0, 1.0));
    }

    #[test]
    fn baselines() {
        let cfg = StrikingConfig::default();
        // 14 periods of history: the window takes the last 12.
        let mut h = vec![100, 100];
        h.extend([2u64; 12]);
        assert_eq!(baseline(&h, &cfg), (2.0, Baseline::PreviousPeriods, 12));
        // Short history: all of it.
        assert_eq!(
            baseline(&[1, 2, 3], &cfg),
            (2.0, Baseline::PreviousPeriods, 3)
        );
        // Seasonal: 25 periods of history; same month one and two years back are indices 13 and 1.
        let seasonal = StrikingConfig {
            baseline: Baseline::Seasonal,
            ..cfg.clone()
        };
        let mut h = vec![0u64; 25];
        h[13] = 10;
        h[1] = 20;
        assert_eq!(baseline(&h, &seasonal), (15.0, Baseline::Seasonal, 2));
        // Only one earlier season: falls back.
        let h = vec![1u64; 20];
        assert_eq!(baseline(&h, &seasonal).1, Baseline::PreviousPeriods);
    }

    #[test]
    fn report_flags_sorts_and_skips() {
        let mut quiet = vec![4u64; 12];
        quiet.push(4);
        let mut jump = vec![4u64; 12];
        jump.push(20);
        let mut drop = vec![30u64; 12];
        drop.push(2); // P(X <= 2 | 30) ~ 4e-11 is below P(X >= 20 | 4) ~ 8e-9
        let r = striking_areas(
            &[
                series("Q", &quiet),
                series("J", &jump),
                series("D", &drop),
                series("N", &[7]),
                series("E", &[]),
                series("Z", &[0, 0, 0, 1]),
            ],
            &StrikingConfig::default(),
        )
        .unwrap();
        assert_eq!(r.skipped.len(), 2);
        let ids: Vec<&str> = r.areas.iter().map(|a| a.area_id.as_str()).collect();
        assert_eq!(ids[..2], ["D", "J"]);
        let j = &r.areas[1];
        assert_eq!(j.direction, Some(Direction::Increase));
        assert_eq!(j.ratio, Some(5.0));
        let d = &r.areas[0];
        assert_eq!(d.direction, Some(Direction::Decrease));
        // Empty history floored at 0.5: one incident is not striking.
        let z = r.areas.iter().find(|a| a.area_id == "Z").unwrap();
        assert_eq!((z.history_mean, z.expected), (0.0, 0.5));
        assert!((z.p_increase - (1.0 - (-0.5f64).exp())).abs() < 1e-12);
        assert_eq!(z.direction, None);
        assert!(serde_json::to_string(&r).is_ok());
        let bad = StrikingConfig {
            alpha: 0.0,
            ..StrikingConfig::default()
        };
        assert!(striking_areas(&[], &bad).is_err());
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn history_is_twelve_months_or_since_the_data_begin() {
        assert_eq!(history_start(d(2024, 9, 1), None), d(2024, 9, 1));
        assert_eq!(
            history_start(d(2024, 9, 1), Some(d(2020, 3, 5))),
            d(2023, 9, 1)
        );
        assert_eq!(
            history_start(d(2024, 9, 1), Some(d(2024, 7, 22))),
            d(2024, 7, 1)
        );
        assert_eq!(
            history_start(d(2024, 9, 1), Some(d(2025, 1, 1))),
            d(2024, 9, 1)
        );
    }

    #[test]
    fn monthly_reports_count_months_areas_and_categories() {
        let period = MonthlyPeriod::new(d(2024, 2, 1), Some(d(2023, 1, 1))).unwrap();
        assert_eq!(
            (period.month_end, period.history_from),
            (d(2024, 2, 29), d(2023, 2, 1))
        );
        let inc = |day, area, category| MonthlyIncident {
            day,
            area,
            category,
        };
        let incidents = vec![
            inc(d(2023, 2, 1), Some(1), Some(0)),
            inc(d(2024, 2, 29), Some(0), Some(2)),
            inc(d(2024, 2, 3), None, Some(2)),
            // Outside the period, an unknown area and category: ignored or counted only in the series.
            inc(d(2023, 1, 31), Some(0), Some(0)),
            inc(d(2024, 3, 1), Some(0), Some(0)),
            inc(d(2023, 6, 1), Some(7), Some(9)),
        ];
        let r = monthly_report(&period, &["A", "B", "C"], &["x", "y", "z"], incidents).unwrap();
        assert_eq!(r.months.len(), 13);
        assert_eq!(r.months[0], d(2023, 2, 1));
        assert_eq!(r.months[12], d(2024, 2, 1));
        let mut want = vec![0; 13];
        want[0] = 1;
        want[4] = 1;
        want[12] = 2;
        assert_eq!(r.series, want);
        assert_eq!(r.areas.len(), 3);
        let observed = |code: &str| r.areas.iter().find(|a| a.area_id == code).unwrap().observed;
        assert_eq!((observed("A"), observed("B"), observed("C")), (1, 0, 0));
        let cats: Vec<(&str, u64)> = r
            .categories
            .iter()
            .map(|c| (c.area_id.as_str(), c.observed))
            .collect();
        assert_eq!(cats.len(), 2, "y has no incidents: {cats:?}");
        assert!(cats.contains(&("z", 2)) && cats.contains(&("x", 0)));
        assert_eq!(
            r.categories[0].category.as_deref(),
            Some(r.categories[0].area_id.as_str())
        );
        assert_eq!(r.config, StrikingConfig::default());
    }

    #[test]
    fn the_last_month_of_the_calendar_is_out_of_range() {
        assert!(matches!(
            MonthlyPeriod::new(NaiveDate::MAX.with_day(1).unwrap(), None),
            Err(StrikingError::MonthOutOfRange(_))
        ));
    }
}
