//! Honest evaluation of forecast methods on rolling origins (a backtest).
//!
//! For every origin `at` (fold) each method forecasts from the incidents before `at` only; the incidents of
//! `[at, at + horizon days)` are the test set. At each coverage (share of the grid's cells, default 1, 3, 5 and
//! 10 %) the fold's hit rate, PAI, PEI and RRI are computed by
//! [`crate::analysis::evaluation::coverage_metrics`] with **fractional ties** (cells tied with
//! the threshold share the remaining places: the expected hits of a random choice among them). RRI compares with
//! the incidents of the `rri_days` before `at`. A method that cannot be fitted at an origin (the self-exciting
//! model with fewer than two incidents before it) forecasts a flat surface there: every cell tied, scored as a
//! random choice of cells.
//!
//! Per method and coverage the averages over the folds are reported with a one-sided paired sign-flip test of
//! the per-fold hit rates against the baseline (`naive`) ([`paired_sign_flip_p`]); a method is called better
//! than the baseline only when `p < 0.05`, otherwise "niet beter dan tellen" (no better than counting).
//!
//! ```
//! use brandpunt::analysis::forecast::rolling::{rolling_evaluation, RollingParams};
//! use brandpunt::analysis::forecast::{GridSpec, Method, Window};
//! use brandpunt::analysis::kde::Extent;
//! use brandpunt::analysis::Event;
//! use brandpunt::cancel::Cancel;
//! use chrono::{Duration, NaiveDate};
//!
//! let t0 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! // A fixed hot cell with an incident every day, and background incidents moving across the grid.
//! let mut events = Vec::new();
//! for d in 0..120 {
//!     let t = Some(t0 + Duration::days(d));
//!     events.push(Event { x_m: 5.0, y_m: 5.0, begin: t, end: t, weight: 1.0 });
//!     let x = 15.0 + 10.0 * (d % 9) as f64;
//!     events.push(Event { x_m: x, y_m: 55.0, begin: t, end: t, weight: 1.0 });
//! }
//! let grid = GridSpec::covering(
//!     Extent { minx_m: 0.0, miny_m: 0.0, maxx_m: 100.0, maxy_m: 100.0 },
//!     10.0,
//! )
//! .unwrap();
//! let origins: Vec<_> = (0..6).map(|k| t0.date().and_hms_opt(0, 0, 0).unwrap() + Duration::days(70 + 7 * k)).collect();
//! let methods = vec![
//!     ("naive".to_string(), Method::Naive { window: Window::Days(28) }),
//!     ("prospective".to_string(), Method::Prospective { space_cells: 8, time_weeks: 8 }),
//! ];
//! let params = RollingParams { origins, horizon_days: 7, coverages_pct: vec![1.0, 10.0], rri_days: 28 };
//! let r = rolling_evaluation(&events, &grid, &methods, &params, &Cancel::never()).unwrap();
//! assert_eq!(r.folds.len(), 6 * 2 * 2);
//! // 1 % of 100 cells is the hot cell for both methods: half of the test incidents.
//! assert!(r.summaries.iter().filter(|s| s.coverage_pct == 1.0).all(|s| s.mean_hit_rate == Some(0.5)));
//! ```

use chrono::{Days, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

use super::{event_time, forecast, ForecastError, GridSpec, Method, Window};
use crate::analysis::evaluation::{coverage_metrics, paired_sign_flip_p, CoverageMetrics};
use crate::analysis::Event;
use crate::cancel::Cancel;

/// Significance level of the comparison with the baseline.
pub const ALPHA: f64 = 0.05;

/// The verdict when a method does not beat the baseline significantly.
pub const NOT_BETTER: &str = "niet beter dan tellen";
/// The verdict when it does.
pub const BETTER: &str = "beter dan tellen";

/// Most folds a backtest may ask for.
pub const MAX_FOLDS: u32 = 520;
/// Longest test window in days.
pub const MAX_HORIZON_DAYS: u32 = 366;

/// The tie rule, in Dutch as it is printed with the output.
pub const TIE_RULE: &str = "gelijke waarden op de drempel tellen als fractionele treffers: de gelijke cellen delen de resterende plaatsen";

/// A backtest as the command line (`analyse evaluate --folds`) and the API (`/api/forecast/evaluate`) ask for
/// it: `folds` origins `horizon_days` apart, the last test window ending with the day `until`.
#[derive(Clone, Debug, PartialEq)]
pub struct Backtest {
    /// Number of folds, `1..=MAX_FOLDS`.
    pub folds: u32,
    /// Days of each test window, `1..=MAX_HORIZON_DAYS`.
    pub horizon_days: u32,
    /// Last day of the last test window.
    pub until: NaiveDate,
    /// The methods, the first is the baseline.
    pub methods: Vec<(String, Method)>,
    /// Coverages in percent of the cells.
    pub coverages_pct: Vec<f64>,
    /// Days before each origin whose incidents give the RRI's training PAI ([`rri_days`]).
    pub rri_days: u32,
}

/// The RRI's training period for a `days` window: its days, 28 when the window is `all` or not given.
pub fn rri_days(days: Option<Window>) -> u32 {
    match days {
        Some(Window::Days(n)) => n,
        _ => 28,
    }
}

/// The origins of `folds` folds of `horizon_days` days whose last test window ends with the day `until`:
/// `until + 1 - k horizon` at 00:00 for `k = folds, ..., 1` (oldest first). Errors name `--folds` or
/// `--horizon`.
///
/// ```
/// use brandpunt::analysis::forecast::rolling::origins;
/// use chrono::NaiveDate;
///
/// let until = NaiveDate::from_ymd_opt(2024, 3, 31).unwrap();
/// let o = origins(until, 2, 7).unwrap();
/// assert_eq!(o[0].date(), NaiveDate::from_ymd_opt(2024, 3, 18).unwrap());
/// assert_eq!(o[1].date(), NaiveDate::from_ymd_opt(2024, 3, 25).unwrap());
/// assert!(origins(until, 0, 7).is_err());
/// ```
pub fn origins(
    until: NaiveDate,
    folds: u32,
    horizon_days: u32,
) -> Result<Vec<NaiveDateTime>, ForecastError> {
    if !(1..=MAX_FOLDS).contains(&folds) {
        return Err(ForecastError::InvalidParameter {
            parameter: "--folds",
            reason: format!("{folds}: kies 1 tot en met {MAX_FOLDS}"),
        });
    }
    if !(1..=MAX_HORIZON_DAYS).contains(&horizon_days) {
        return Err(ForecastError::InvalidParameter {
            parameter: "--horizon",
            reason: format!("{horizon_days}: kies 1 tot en met {MAX_HORIZON_DAYS} dagen"),
        });
    }
    let too_far = || ForecastError::InvalidParameter {
        parameter: "--folds",
        reason: "--folds x --horizon reikt te ver terug".into(),
    };
    let end = until.checked_add_days(Days::new(1)).ok_or_else(too_far)?;
    (1..=folds)
        .rev()
        .map(|k| {
            end.checked_sub_days(Days::new(u64::from(k) * u64::from(horizon_days)))
                .map(|d| d.and_time(NaiveTime::MIN))
                .ok_or_else(too_far)
        })
        .collect()
}

/// The backtest of `spec` on `grid` ([`origins`], then [`rolling_evaluation`]): the one entry point of
/// `analyse evaluate --folds` and `GET /api/forecast/evaluate`.
///
/// ```
/// use brandpunt::analysis::forecast::rolling::{backtest, Backtest};
/// use brandpunt::analysis::forecast::{GridSpec, Method, Window};
/// use brandpunt::analysis::kde::Extent;
/// use brandpunt::analysis::Event;
/// use brandpunt::cancel::Cancel;
/// use chrono::{Duration, NaiveDate};
///
/// let t0 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
/// let events: Vec<Event> = (0..60)
///     .map(|d| {
///         let t = Some(t0 + Duration::days(d));
///         Event { x_m: 5.0 + 10.0 * (d % 3) as f64, y_m: 5.0, begin: t, end: t, weight: 1.0 }
///     })
///     .collect();
/// let grid = GridSpec::covering(Extent { minx_m: 0.0, miny_m: 0.0, maxx_m: 100.0, maxy_m: 100.0 }, 10.0).unwrap();
/// let spec = Backtest {
///     folds: 4,
///     horizon_days: 7,
///     until: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
///     methods: vec![("naive".into(), Method::Naive { window: Window::Days(28) })],
///     coverages_pct: vec![3.0],
///     rri_days: 28,
/// };
/// let r = backtest(&events, &grid, &spec, &Cancel::never()).unwrap();
/// // Three cells take every incident: 3 % of 100 cells catches them all.
/// assert_eq!(r.summaries[0].mean_hit_rate, Some(1.0));
/// assert_eq!(r.origins.len(), 4);
/// ```
pub fn backtest(
    events: &[Event],
    grid: &GridSpec,
    spec: &Backtest,
    cancel: &Cancel,
) -> Result<RollingEvaluation, ForecastError> {
    let params = RollingParams {
        origins: origins(spec.until, spec.folds, spec.horizon_days)?,
        horizon_days: spec.horizon_days,
        coverages_pct: spec.coverages_pct.clone(),
        rri_days: spec.rri_days,
    };
    rolling_evaluation(events, grid, &spec.methods, &params, cancel)
}

/// The folds and scores.
#[derive(Clone, Debug, PartialEq)]
pub struct RollingParams {
    /// Forecast instants, one per fold.
    pub origins: Vec<NaiveDateTime>,
    /// Days after each origin that form its test set.
    pub horizon_days: u32,
    /// Coverages in percent of the cells.
    pub coverages_pct: Vec<f64>,
    /// Days before each origin whose incidents give the RRI's training PAI.
    pub rri_days: u32,
}

/// One method at one coverage in one fold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FoldScore {
    /// The fold's origin.
    pub origin: NaiveDateTime,
    /// Method name.
    pub method: String,
    /// Coverage in percent.
    pub coverage_pct: f64,
    /// The metrics.
    pub metrics: CoverageMetrics,
}

/// One method at one coverage over all folds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MethodSummary {
    /// Method name.
    pub method: String,
    /// Coverage in percent.
    pub coverage_pct: f64,
    /// Folds with test incidents.
    pub folds: usize,
    /// Mean hit rate over those folds.
    pub mean_hit_rate: Option<f64>,
    /// Mean PAI.
    pub mean_pai: Option<f64>,
    /// Mean PEI.
    pub mean_pei: Option<f64>,
    /// Mean RRI (folds where it is defined).
    pub mean_rri: Option<f64>,
    /// Folds where both this method and the baseline have a hit rate (the pairs of the test).
    pub pairs: usize,
    /// The test statistic: the mean over the pairs of (this method's hit rate - the baseline's); `None` for
    /// the baseline itself or without pairs.
    pub mean_difference: Option<f64>,
    /// One-sided paired sign-flip p of "hit rate higher than the baseline's" (`None` for the baseline itself).
    pub p_vs_baseline: Option<f64>,
    /// [`BETTER`], [`NOT_BETTER`], or `None` for the baseline.
    pub verdict: Option<&'static str>,
}

/// The backtest: every fold's scores and the summaries (methods in input order, coverages in input order).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RollingEvaluation {
    /// Baseline method name (the first method).
    pub baseline: String,
    /// The folds' origins, oldest first.
    pub origins: Vec<NaiveDateTime>,
    /// Per fold, method and coverage.
    pub folds: Vec<FoldScore>,
    /// Per method and coverage.
    pub summaries: Vec<MethodSummary>,
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for x in v {
        s += x;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

/// Runs the backtest. The **first** method is the baseline (normally `naive`).
pub fn rolling_evaluation(
    events: &[Event],
    grid: &GridSpec,
    methods: &[(String, Method)],
    params: &RollingParams,
    cancel: &Cancel,
) -> Result<RollingEvaluation, ForecastError> {
    let Some((baseline, _)) = methods.first() else {
        return Err(ForecastError::InvalidParameter {
            parameter: "--methods",
            reason: "no methods".into(),
        });
    };
    if params.origins.is_empty() {
        return Err(ForecastError::InvalidParameter {
            parameter: "--folds",
            reason: "no folds".into(),
        });
    }
    if params.horizon_days == 0 {
        return Err(ForecastError::InvalidParameter {
            parameter: "--horizon",
            reason: "must be >= 1 day".into(),
        });
    }
    for &c in &params.coverages_pct {
        if !(c > 0.0 && c <= 100.0) {
            return Err(ForecastError::InvalidParameter {
                parameter: "--coverages",
                reason: format!("{c} is not in (0, 100]"),
            });
        }
    }
    let mut folds = Vec::new();
    for &at in &params.origins {
        let end = at + Duration::days(i64::from(params.horizon_days));
        let rri_from = at - Duration::days(i64::from(params.rri_days));
        let (mut test, mut train) = (Vec::new(), Vec::new());
        for e in events {
            let Some(t) = event_time(e) else { continue };
            if t >= at && t < end {
                test.push(grid.cell_of(e.x_m, e.y_m));
            } else if t >= rri_from && t < at {
                train.push(grid.cell_of(e.x_m, e.y_m));
            }
        }
        for (name, method) in methods {
            cancel.check()?;
            // A method that cannot be fitted yet at this origin (the self-exciting model before two incidents)
            // forecasts a flat surface: every cell tied, so it scores as a random choice of cells.
            let values = match forecast(events, grid, at, method, cancel) {
                Ok(f) => f.grid.values,
                Err(ForecastError::TooFewEvents(_)) => vec![0.0; grid.len()],
                Err(e) => return Err(e),
            };
            for &c in &params.coverages_pct {
                let metrics = coverage_metrics(&values, &test, Some(&train), c).map_err(|e| {
                    ForecastError::InvalidParameter {
                        parameter: "--coverages",
                        reason: e.to_string(),
                    }
                })?;
                folds.push(FoldScore {
                    origin: at,
                    method: name.clone(),
                    coverage_pct: c,
                    metrics,
                });
            }
        }
    }
    let mut summaries = Vec::new();
    for (name, _) in methods {
        for &c in &params.coverages_pct {
            let rows: Vec<&FoldScore> = folds
                .iter()
                .filter(|f| &f.method == name && f.coverage_pct == c)
                .collect();
            let base: Vec<&FoldScore> = folds
                .iter()
                .filter(|f| &f.method == baseline && f.coverage_pct == c)
                .collect();
            let scored = || rows.iter().filter(|f| f.metrics.hit_rate.is_some());
            // Paired per fold (same origins, same order); folds without test incidents drop out.
            let (mine, theirs): (Vec<f64>, Vec<f64>) = rows
                .iter()
                .zip(&base)
                .filter_map(|(a, b)| Some((a.metrics.hit_rate?, b.metrics.hit_rate?)))
                .unzip();
            let p = (name != baseline).then(|| paired_sign_flip_p(&mine, &theirs));
            let mean_difference = (name != baseline)
                .then(|| mean(mine.iter().zip(&theirs).map(|(a, b)| a - b)))
                .flatten();
            summaries.push(MethodSummary {
                method: name.clone(),
                coverage_pct: c,
                folds: scored().count(),
                pairs: mine.len(),
                mean_difference,
                mean_hit_rate: mean(scored().filter_map(|f| f.metrics.hit_rate)),
                mean_pai: mean(scored().filter_map(|f| f.metrics.pai)),
                mean_pei: mean(scored().filter_map(|f| f.metrics.pei)),
                mean_rri: mean(scored().filter_map(|f| f.metrics.rri)),
                p_vs_baseline: p,
                verdict: p.map(|p| if p < ALPHA { BETTER } else { NOT_BETTER }),
            });
        }
    }
    Ok(RollingEvaluation {
        baseline: baseline.clone(),
        origins: params.origins.clone(),
        folds,
        summaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::forecast::Window;
    use crate::analysis::kde::Extent;
    use chrono::NaiveDate;

    #[test]
    fn a_method_that_sees_the_pattern_beats_counting() {
        // The hot cell jumps to a new place every 4 weeks. In the 2nd and 3rd week after a jump, counting the
        // last 28 days still ranks the old place first (or ties), the prospective method (last two weeks, the
        // last one counted double) already ranks the new one first.
        let t0 = NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let mut events = Vec::new();
        for d in 0..200i64 {
            let t = Some(t0 + Duration::days(d) + Duration::hours(10));
            let col = ((d / 28) * 5) % 20;
            for _ in 0..3 {
                events.push(Event {
                    x_m: 5.0 + 10.0 * col as f64,
                    y_m: 5.0,
                    begin: t,
                    end: t,
                    weight: 1.0,
                });
            }
            // Background.
            events.push(Event {
                x_m: 5.0 + 10.0 * ((d * 7) % 20) as f64,
                y_m: 105.0 + 10.0 * ((d * 3) % 9) as f64,
                begin: t,
                end: t,
                weight: 1.0,
            });
        }
        let grid = GridSpec::covering(
            Extent {
                minx_m: 0.0,
                miny_m: 0.0,
                maxx_m: 200.0,
                maxy_m: 200.0,
            },
            10.0,
        )
        .unwrap();
        let origins: Vec<NaiveDateTime> =
            (0..12).map(|k| t0 + Duration::days(84 + 7 * k)).collect();
        let methods = vec![
            (
                "naive".to_string(),
                Method::Naive {
                    window: Window::Days(28),
                },
            ),
            (
                "prospective".to_string(),
                Method::Prospective {
                    space_cells: 1,
                    time_weeks: 2,
                },
            ),
        ];
        let params = RollingParams {
            origins,
            horizon_days: 7,
            coverages_pct: vec![0.25, 1.0],
            rri_days: 28,
        };
        let r = rolling_evaluation(&events, &grid, &methods, &params, &Cancel::never()).unwrap();
        assert_eq!(r.baseline, "naive");
        let s = r
            .summaries
            .iter()
            .find(|s| s.method == "prospective" && s.coverage_pct == 0.25)
            .unwrap();
        assert_eq!(s.folds, 12);
        assert!(s.p_vs_baseline.unwrap() < ALPHA, "{s:?}");
        assert_eq!(s.verdict, Some(BETTER));
        let base = r.summaries.iter().find(|s| s.method == "naive").unwrap();
        assert_eq!((base.p_vs_baseline, base.verdict), (None, None));
        // The baseline against itself would never be better: same method twice.
        let twice = vec![methods[0].clone(), ("naive2".to_string(), methods[0].1)];
        let r = rolling_evaluation(&events, &grid, &twice, &params, &Cancel::never()).unwrap();
        assert!(r
            .summaries
            .iter()
            .filter(|s| s.method == "naive2")
            .all(|s| s.verdict == Some(NOT_BETTER) && s.p_vs_baseline == Some(1.0)));
        assert!(rolling_evaluation(&events, &grid, &[], &params, &Cancel::never()).is_err());
        // The mean paired difference is the test's statistic.
        let s = r.summaries.iter().find(|s| s.method == "naive2").unwrap();
        assert_eq!((s.pairs, s.mean_difference), (12, Some(0.0)));
    }

    #[test]
    fn a_method_without_enough_history_scores_as_a_random_choice() {
        let t0 = NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        // One incident a day in cell 0 from day 10 on; the first origin (day 5) has no history.
        let events: Vec<Event> = (10..40i64)
            .map(|d| {
                let t = Some(t0 + Duration::days(d));
                Event {
                    x_m: 5.0,
                    y_m: 5.0,
                    begin: t,
                    end: t,
                    weight: 1.0,
                }
            })
            .collect();
        let grid = GridSpec::covering(
            Extent {
                minx_m: 0.0,
                miny_m: 0.0,
                maxx_m: 100.0,
                maxy_m: 100.0,
            },
            10.0,
        )
        .unwrap();
        let methods = vec![(
            "sepp".to_string(),
            Method::Sepp {
                window: Window::All,
                iterations: 5,
                corrected: false,
            },
        )];
        let params = RollingParams {
            origins: vec![t0 + Duration::days(5)],
            horizon_days: 14,
            coverages_pct: vec![10.0],
            rri_days: 28,
        };
        let r = rolling_evaluation(&events, &grid, &methods, &params, &Cancel::never()).unwrap();
        // 10 of 100 cells, all tied: a tenth of the test incidents.
        let hit = r.folds[0].metrics.hit_rate.unwrap();
        assert!((hit - 0.1).abs() < 1e-12, "{hit}");
    }
}
