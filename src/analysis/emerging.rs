//! Emerging hot spot analysis (ESRI "Emerging Hot Spot Analysis", with the exact rules of `methods.md`).
//!
//! # Method
//! 1. **Space-time cube.** Bins = locations x time steps, stored location-major (`[i * n_steps + t]`), so
//!    memory is proportional to the cube and never locations x locations. Build it from events on an aligned
//!    RD grid ([`grid_cube_from_events`]) or from a prepared count matrix ([`SpaceTimeCube::from_counts`],
//!    e.g. per buurt or H3 cell). Time steps ([`TimeSteps`]) are whole days, ISO weeks (Monday-Sunday) or
//!    calendar months, aligned to the **end** of the period: the final step is the last *complete* unit that
//!    ends on or before the period end, so only the oldest step may be partial (it starts before the period
//!    start). A partial final step would create spurious "new cold spots".
//! 2. **Locations analysed.** Only locations with at least one incident in the whole cube take part
//!    (their empty steps count 0). Locations without incidents are dropped from the cube and from the
//!    neighbourhoods of the others.
//! 3. **Gi\* per bin.** The neighbourhood of bin (i, t) is `i` and its spatial neighbours at steps
//!    `t, t-1, ..., t-k` (k = time window, default 1, at most 75 % of the steps; only backwards, so early
//!    steps have a shorter window). The statistic is the Gi* formula of [`super::gistar`] over that
//!    neighbourhood (spatial weight `w_ij` at every lag, self weight 1). The **global window** (the
//!    population giving n, mean and SD) is the entire cube by default. Option [`GlobalWindow::PerStep`]
//!    uses the bins of the steps `t-k..=t` covered by the bin's own time window (for k = 0 exactly one time
//!    slice), so the neighbourhood always lies inside its population. A population without variation gives
//!    `z = 0`, `p = 1` for its bins.
//! 4. **Significance.** Two-sided normal p per bin; a bin is significant when its p passes the
//!    Benjamini-Hochberg cut-off at alpha = 0.10 over all bins of the cube (options: alpha, FDR off, then
//!    `p < alpha`). Hot = significant and z > 0, cold = significant and z < 0.
//! 5. **Trend.** Mann-Kendall ([`super::mann_kendall`]) on each location's series of Gi* z-scores,
//!    significant at p < 0.05.
//! 6. **Categories** ([`classify`]), with H / C the hot / cold bins of a location and n steps, deciding on
//!    the side of the final bin first:
//!    - final bin hot: `|H| >= 0.9 n` -> intensifying (significant upward trend), diminishing (significant
//!      downward trend) or persistent (no significant trend); else `|H| = 1` -> new; else the final run of
//!      consecutive hot bins has length >= 2 and there is no hot bin before it -> consecutive; else some
//!      earlier bin is cold -> oscillating; else sporadic.
//!    - final bin cold: the mirror image (intensifying cold = significant *downward* trend).
//!    - final bin not significant: `|H| >= 0.9 n` -> historical hot; `|C| >= 0.9 n` -> historical cold;
//!      else no pattern.
//!
//! The work per bin is O(neighbours + 1) (spatial lag per step, then a sliding sum over the time window);
//! locations are processed in parallel with rayon.

use crate::cancel::Cancel;
use rustc_hash::FxHashMap;

use chrono::{Datelike, Duration, NaiveDate};
use rayon::prelude::*;
use thiserror::Error;

use super::gistar::{gi_star_terms, has_variation};
use super::mann_kendall::{mann_kendall, two_sided_normal_p};
use super::weights::{regular_grid, GridNeighbourhood, SpatialWeights, WeightsError};
use super::Event;
use crate::calendar::{month_index, month_start, Step};

/// Errors from building a cube or running the analysis.
#[derive(Debug, Error, PartialEq)]
pub enum EmergingError {
    /// The period end lies before the period start, or no complete step fits in the period.
    #[error("the period {start}..={end} contains no complete time step")]
    EmptyPeriod { start: NaiveDate, end: NaiveDate },
    /// The count matrix has the wrong length.
    #[error("count matrix has {got} values, expected {locations} locations x {steps} steps")]
    CountShape {
        got: usize,
        locations: usize,
        steps: usize,
    },
    /// A count is negative or not finite.
    #[error("count at location {location}, step {step} is not a finite non-negative number")]
    InvalidCount { location: usize, step: usize },
    /// The weights cover a different number of locations than the cube.
    #[error("the cube has {cube} locations but the weights have {weights}")]
    WeightsMismatch { cube: usize, weights: usize },
    /// The time window exceeds 75 % of the number of steps.
    #[error("time window of {k} steps is too large: at most {max} of {steps} steps (75 %)")]
    TimeWindowTooLarge { k: usize, max: usize, steps: usize },
    /// No location has any incident.
    #[error("no location has any incident in the period")]
    NoIncidents,
    /// An alpha level outside (0, 1).
    #[error("{name} must lie in (0, 1), got {value}")]
    InvalidAlpha { name: &'static str, value: f64 },
    /// The grid cell size is not a finite positive number.
    #[error("cell size must be a finite positive number of metres, got {0}")]
    InvalidCellSize(f64),
    /// Building spatial weights failed.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The computation was cancelled.
    #[error(transparent)]
    Cancelled(#[from] crate::cancel::Cancelled),
}

/// The time steps of a cube: step `t` covers the dates `starts[t] ..= ends[t]`, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSteps {
    /// Step length.
    pub step: Step,
    /// First date with data (events before it are outside the cube; the oldest step may be partial).
    pub period_start: NaiveDate,
    /// First day of each step.
    pub starts: Vec<NaiveDate>,
    /// Last day (inclusive) of each step.
    pub ends: Vec<NaiveDate>,
}

impl TimeSteps {
    /// Steps covering `period_start ..= period_end` (inclusive dates), aligned to the end: the final step is
    /// the last complete unit ending on or before `period_end`; the first step is the unit containing
    /// `period_start` (partial when `period_start` is not the first day of its unit).
    pub fn new(
        step: Step,
        period_start: NaiveDate,
        period_end: NaiveDate,
    ) -> Result<Self, EmergingError> {
        let empty = || EmergingError::EmptyPeriod {
            start: period_start,
            end: period_end,
        };
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        match step {
            Step::Day | Step::Week => {
                let len = if step == Step::Day { 1 } else { 7 };
                // Last complete unit: for weeks the last Sunday on or before the end.
                let back = if step == Step::Day {
                    0
                } else {
                    period_end.weekday().num_days_from_sunday()
                };
                let mut end = period_end - Duration::days(back as i64);
                loop {
                    let start = end - Duration::days(len - 1);
                    if end < period_start {
                        break;
                    }
                    starts.push(start);
                    ends.push(end);
                    end = start - Duration::days(1);
                }
            }
            Step::Month => {
                let next_day = period_end.succ_opt().ok_or_else(empty)?;
                // The last complete month: the month before the one containing period_end + 1 day.
                let mut m = month_index(next_day) - 1;
                loop {
                    let (Some(start), Some(next)) = (month_start(m), month_start(m + 1)) else {
                        return Err(empty());
                    };
                    let end = next - Duration::days(1);
                    if end < period_start {
                        break;
                    }
                    starts.push(start);
                    ends.push(end);
                    m -= 1;
                }
            }
        }
        if starts.is_empty() {
            return Err(empty());
        }
        starts.reverse();
        ends.reverse();
        Ok(Self {
            step,
            period_start,
            starts,
            ends,
        })
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True when there are no steps (never for a value built by [`TimeSteps::new`]).
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The step containing `date`, or `None` outside `period_start ..= ends.last()`.
    pub fn step_of(&self, date: NaiveDate) -> Option<usize> {
        let (first, last) = (*self.starts.first()?, *self.ends.last()?);
        if date < self.period_start || date > last {
            return None;
        }
        let t = match self.step {
            Step::Day => (date - first).num_days(),
            Step::Week => (date - first).num_days() / 7,
            Step::Month => month_index(date) - month_index(first),
        };
        usize::try_from(t).ok().filter(|&t| t < self.len())
    }
}

/// A space-time cube of counts (or weighted counts), location-major.
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceTimeCube {
    n_locations: usize,
    n_steps: usize,
    counts: Vec<f64>,
}

impl SpaceTimeCube {
    /// A cube from a location-major matrix: `counts[i * n_steps + t]` = count of location `i` in step `t`.
    pub fn from_counts(
        n_locations: usize,
        n_steps: usize,
        counts: Vec<f64>,
    ) -> Result<Self, EmergingError> {
        if n_locations.checked_mul(n_steps) != Some(counts.len()) {
            return Err(EmergingError::CountShape {
                got: counts.len(),
                locations: n_locations,
                steps: n_steps,
            });
        }
        if let Some(k) = counts.iter().position(|c| !(c.is_finite() && *c >= 0.0)) {
            return Err(EmergingError::InvalidCount {
                location: k / n_steps,
                step: k % n_steps,
            });
        }
        Ok(Self {
            n_locations,
            n_steps,
            counts,
        })
    }

    /// Number of locations.
    pub fn n_locations(&self) -> usize {
        self.n_locations
    }

    /// Number of time steps.
    pub fn n_steps(&self) -> usize {
        self.n_steps
    }

    /// The count series of location `i` (oldest step first). Panics if `i >= n_locations()`.
    pub fn series(&self, i: usize) -> &[f64] {
        &self.counts[i * self.n_steps..(i + 1) * self.n_steps]
    }

    /// All counts, location-major.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }
}

/// Why an event did not make it into a grid cube.
#[derive(Clone, Copy)]
enum Skip {
    NoTime,
    Outside,
    Invalid,
}

/// A cube on an aligned square RD grid, built by [`grid_cube_from_events`].
#[derive(Clone, Debug, PartialEq)]
pub struct GridCube {
    /// Cell size in metres.
    pub cell_size_m: f64,
    /// Cell `(col, row)` of each location: the cell covers `[col * size, (col + 1) * size)` in x, same in y.
    pub cells: Vec<(i64, i64)>,
    /// The time steps.
    pub steps: TimeSteps,
    /// The counts (sum of event weights), one location per occupied cell.
    pub cube: SpaceTimeCube,
    /// Events without any time (`begin` and `end` both missing).
    pub skipped_without_time: usize,
    /// Events outside the period of the steps.
    pub skipped_outside_period: usize,
    /// Events with a non-finite coordinate or weight.
    pub skipped_invalid: usize,
}

impl GridCube {
    /// Spatial weights between the cube's cells (fast grid path), e.g. a distance band on cell centres.
    pub fn weights(&self, rule: GridNeighbourhood) -> Result<SpatialWeights, EmergingError> {
        Ok(regular_grid(&self.cells, self.cell_size_m, rule)?)
    }
}

/// Bin events into a cube on a grid of `cell_size_m` aligned to multiples of the cell size (like CBS
/// vierkantstatistiek). The time of an event is its `begin` (or `end` when `begin` is missing). Only
/// occupied cells become locations, ordered by (row, col). Skipped events are counted, never an error.
pub fn grid_cube_from_events(
    events: &[Event],
    cell_size_m: f64,
    steps: &TimeSteps,
) -> Result<GridCube, EmergingError> {
    if !(cell_size_m.is_finite() && cell_size_m > 0.0) {
        return Err(EmergingError::InvalidCellSize(cell_size_m));
    }
    // Classify and bin every event in parallel: Ok((col, row, step, weight)) or the reason it is skipped.
    let binned: Vec<Result<(i64, i64, u32, f64), Skip>> = events
        .par_iter()
        .with_min_len(4096)
        .map(|e| {
            let time = e.begin.or(e.end).ok_or(Skip::NoTime)?;
            if !(e.x_m.is_finite() && e.y_m.is_finite() && e.weight.is_finite()) || e.weight < 0.0 {
                return Err(Skip::Invalid);
            }
            let t = steps.step_of(time.date()).ok_or(Skip::Outside)?;
            let col = (e.x_m / cell_size_m).floor();
            let row = (e.y_m / cell_size_m).floor();
            if col.abs() > 1e15 || row.abs() > 1e15 {
                return Err(Skip::Invalid);
            }
            Ok((col as i64, row as i64, t as u32, e.weight))
        })
        .collect();
    let (mut no_time, mut outside, mut invalid) = (0usize, 0usize, 0usize);
    let (mut c0, mut c1, mut r0, mut r1) = (i64::MAX, i64::MIN, i64::MAX, i64::MIN);
    for b in &binned {
        match b {
            Ok((c, r, _, _)) => {
                c0 = c0.min(*c);
                c1 = c1.max(*c);
                r0 = r0.min(*r);
                r1 = r1.max(*r);
            }
            Err(Skip::NoTime) => no_time += 1,
            Err(Skip::Outside) => outside += 1,
            Err(Skip::Invalid) => invalid += 1,
        }
    }
    let n_steps = steps.len();
    let valid = binned.iter().filter_map(|b| b.as_ref().ok());
    let (cells, counts) = if c0 > c1 {
        (Vec::new(), Vec::new())
    } else {
        let width = (c1 as i128 - c0 as i128 + 1) as u128;
        let area = width.saturating_mul((r1 as i128 - r0 as i128 + 1) as u128);
        if area <= (4 * binned.len() as u128).max(1 << 22) {
            // Dense table over the bounding box; scanning it row-major gives the (row, col) order.
            let w = width as i64;
            let slot = |c: i64, r: i64| ((r - r0) * w + (c - c0)) as usize;
            let mut table = vec![u32::MAX; area as usize];
            for &(c, r, _, _) in valid.clone() {
                table[slot(c, r)] = 0;
            }
            let mut cells = Vec::new();
            for (k, v) in table.iter_mut().enumerate() {
                if *v == 0 {
                    *v = cells.len() as u32;
                    let k = k as i64;
                    cells.push((c0 + k % w, r0 + k / w));
                }
            }
            let mut counts = vec![0.0; cells.len() * n_steps];
            for &(c, r, t, weight) in valid {
                counts[table[slot(c, r)] as usize * n_steps + t as usize] += weight;
            }
            (cells, counts)
        } else {
            let mut cells: Vec<(i64, i64)> = valid.clone().map(|&(c, r, _, _)| (c, r)).collect();
            cells.par_sort_unstable_by_key(|&(c, r)| (r, c));
            cells.dedup();
            let index: FxHashMap<(i64, i64), usize> = cells
                .iter()
                .enumerate()
                .map(|(k, &cell)| (cell, k))
                .collect();
            let mut counts = vec![0.0; cells.len() * n_steps];
            for &(c, r, t, weight) in valid {
                if let Some(&i) = index.get(&(c, r)) {
                    counts[i * n_steps + t as usize] += weight;
                }
            }
            (cells, counts)
        }
    };
    let cube = SpaceTimeCube {
        n_locations: cells.len(),
        n_steps,
        counts,
    };
    Ok(GridCube {
        cell_size_m,
        cells,
        steps: steps.clone(),
        cube,
        skipped_without_time: no_time,
        skipped_outside_period: outside,
        skipped_invalid: invalid,
    })
}

/// Which bins form the population (n, mean, SD) of each bin's Gi*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalWindow {
    /// All bins of the cube (default, as ESRI).
    EntireCube,
    /// The bins of the steps `t-k ..= t` of the bin's own time window (one slice for k = 0).
    PerStep,
}

/// Bins (or Mann-Kendall pair comparisons) computed between two cancellation checks: a few ms of work.
const BINS_PER_CHECK: usize = 1 << 18;

/// Options for [`emerging_hot_spots`].
#[derive(Clone, Debug, PartialEq)]
pub struct EmergingOptions {
    /// Time window k in steps (default 1); at most 75 % of the steps.
    pub time_window: usize,
    /// Population of the Gi* statistic (default the entire cube).
    pub global_window: GlobalWindow,
    /// Benjamini-Hochberg FDR over all bins (default true).
    pub fdr: bool,
    /// Significance level for hot/cold bins (default 0.10).
    pub alpha: f64,
    /// Significance level for the Mann-Kendall trend (default 0.05).
    pub trend_alpha: f64,
}

impl Default for EmergingOptions {
    fn default() -> Self {
        Self {
            time_window: 1,
            global_window: GlobalWindow::EntireCube,
            fdr: true,
            alpha: 0.10,
            trend_alpha: 0.05,
        }
    }
}

/// Emerging hot spot category of a location. Ordered by prominence on a map (the order of declaration): the hot
/// spot patterns, then the cold spot patterns (each from new to historical), then no pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EmergingCategory {
    NewHotSpot,
    ConsecutiveHotSpot,
    IntensifyingHotSpot,
    PersistentHotSpot,
    DiminishingHotSpot,
    SporadicHotSpot,
    OscillatingHotSpot,
    HistoricalHotSpot,
    NewColdSpot,
    ConsecutiveColdSpot,
    IntensifyingColdSpot,
    PersistentColdSpot,
    DiminishingColdSpot,
    SporadicColdSpot,
    OscillatingColdSpot,
    HistoricalColdSpot,
    NoPattern,
}

impl EmergingCategory {
    /// The output name, e.g. `new_hot_spot`, `no_pattern`.
    pub fn as_str(self) -> &'static str {
        use EmergingCategory::*;
        match self {
            NewHotSpot => "new_hot_spot",
            ConsecutiveHotSpot => "consecutive_hot_spot",
            IntensifyingHotSpot => "intensifying_hot_spot",
            PersistentHotSpot => "persistent_hot_spot",
            DiminishingHotSpot => "diminishing_hot_spot",
            SporadicHotSpot => "sporadic_hot_spot",
            OscillatingHotSpot => "oscillating_hot_spot",
            HistoricalHotSpot => "historical_hot_spot",
            NewColdSpot => "new_cold_spot",
            ConsecutiveColdSpot => "consecutive_cold_spot",
            IntensifyingColdSpot => "intensifying_cold_spot",
            PersistentColdSpot => "persistent_cold_spot",
            DiminishingColdSpot => "diminishing_cold_spot",
            SporadicColdSpot => "sporadic_cold_spot",
            OscillatingColdSpot => "oscillating_cold_spot",
            HistoricalColdSpot => "historical_cold_spot",
            NoPattern => "no_pattern",
        }
    }

    /// Dutch label, as the maps and the web app show it (`Nieuwe hotspot`, `Geen patroon`).
    ///
    /// ```
    /// use brandpunt::analysis::emerging::EmergingCategory;
    ///
    /// assert_eq!(EmergingCategory::IntensifyingHotSpot.dutch_label(), "Toenemende hotspot");
    /// assert_eq!(EmergingCategory::NoPattern.dutch_label(), "Geen patroon");
    /// ```
    pub fn dutch_label(self) -> &'static str {
        use EmergingCategory::*;
        match self {
            NewHotSpot => "Nieuwe hotspot",
            ConsecutiveHotSpot => "Opeenvolgende hotspot",
            IntensifyingHotSpot => "Toenemende hotspot",
            PersistentHotSpot => "Aanhoudende hotspot",
            DiminishingHotSpot => "Afnemende hotspot",
            SporadicHotSpot => "Sporadische hotspot",
            OscillatingHotSpot => "Wisselende hotspot",
            HistoricalHotSpot => "Historische hotspot",
            NewColdSpot => "Nieuwe coldspot",
            ConsecutiveColdSpot => "Opeenvolgende coldspot",
            IntensifyingColdSpot => "Toenemende coldspot",
            PersistentColdSpot => "Aanhoudende coldspot",
            DiminishingColdSpot => "Afnemende coldspot",
            SporadicColdSpot => "Sporadische coldspot",
            OscillatingColdSpot => "Wisselende coldspot",
            HistoricalColdSpot => "Historische coldspot",
            NoPattern => "Geen patroon",
        }
    }
}

/// The category of one location from its hot and cold bins (oldest first, equal length, a bin is never
/// both) and the Mann-Kendall trend of its z series. See the module docs for the rules.
pub fn classify(
    hot: &[bool],
    cold: &[bool],
    trend_z: f64,
    trend_p: f64,
    trend_alpha: f64,
) -> EmergingCategory {
    let mut bins = BinSides::default();
    for (&h, &c) in hot.iter().zip(cold) {
        bins.push(h, c);
    }
    bins.category(trend_z, trend_p, trend_alpha)
}

/// What the category rules read of a location's hot and cold bins, gathered bin by bin (oldest first): the
/// number of bins, of hot and of cold bins, and the side and length of the run of bins at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BinSides {
    n: usize,
    n_hot: usize,
    n_cold: usize,
    /// Side of the final bin (1 hot, -1 cold, 0 neither) and the number of final bins on that side.
    last: i8,
    run: usize,
}

impl BinSides {
    /// The next bin: hot, cold or (both false) neither.
    pub fn push(&mut self, hot: bool, cold: bool) {
        self.n += 1;
        self.n_hot += usize::from(hot);
        self.n_cold += usize::from(cold);
        let side = i8::from(hot) - i8::from(cold);
        self.run = if side == self.last { self.run + 1 } else { 1 };
        self.last = side;
    }

    fn mostly(&self, count: usize) -> bool {
        10 * count >= 9 * self.n
    }

    /// Whether [`BinSides::category`] reads the trend: only a location whose final bin is hot (cold) and that
    /// was hot (cold) in at least 90 % of the bins is intensifying, diminishing or persistent by its trend;
    /// every other category follows from the bins alone.
    pub fn needs_trend(&self) -> bool {
        (self.last == 1 && self.mostly(self.n_hot)) || (self.last == -1 && self.mostly(self.n_cold))
    }

    /// The category (see the module docs) with the Mann-Kendall trend `trend_z`, `trend_p`.
    pub fn category(&self, trend_z: f64, trend_p: f64, trend_alpha: f64) -> EmergingCategory {
        use EmergingCategory::*;
        if self.n == 0 {
            return NoPattern;
        }
        let trend_up = trend_p < trend_alpha && trend_z > 0.0;
        let trend_down = trend_p < trend_alpha && trend_z < 0.0;
        // Shared rule for the side of the final bin: (same, other, strengthening, weakening).
        let side = |n_same: usize,
                    n_other: usize,
                    strengthening: bool,
                    weakening: bool,
                    cats: [EmergingCategory; 7]| {
            let [intensifying, diminishing, persistent, new, consecutive, oscillating, sporadic] =
                cats;
            if self.mostly(n_same) {
                if strengthening {
                    intensifying
                } else if weakening {
                    diminishing
                } else {
                    persistent
                }
            } else if n_same == 1 {
                new
            } else if self.run >= 2 && self.run == n_same {
                consecutive
            } else if n_other > 0 {
                oscillating
            } else {
                sporadic
            }
        };
        match self.last {
            1 => side(
                self.n_hot,
                self.n_cold,
                trend_up,
                trend_down,
                [
                    IntensifyingHotSpot,
                    DiminishingHotSpot,
                    PersistentHotSpot,
                    NewHotSpot,
                    ConsecutiveHotSpot,
                    OscillatingHotSpot,
                    SporadicHotSpot,
                ],
            ),
            -1 => side(
                self.n_cold,
                self.n_hot,
                trend_down,
                trend_up,
                [
                    IntensifyingColdSpot,
                    DiminishingColdSpot,
                    PersistentColdSpot,
                    NewColdSpot,
                    ConsecutiveColdSpot,
                    OscillatingColdSpot,
                    SporadicColdSpot,
                ],
            ),
            _ if self.mostly(self.n_hot) => HistoricalHotSpot,
            _ if self.mostly(self.n_cold) => HistoricalColdSpot,
            _ => NoPattern,
        }
    }
}

/// Result for one analysed location.
#[derive(Clone, Debug, PartialEq)]
pub struct LocationTrend {
    /// Index of the location in the input cube.
    pub location: usize,
    /// Emerging hot spot category.
    pub category: EmergingCategory,
    /// Mann-Kendall z of the location's Gi* z series.
    pub trend_z: f64,
    /// Two-sided Mann-Kendall p.
    pub trend_p: f64,
    /// Number of hot bins.
    pub hot_steps: usize,
    /// Number of cold bins.
    pub cold_steps: usize,
    /// Gi* z of the final step.
    pub final_z: f64,
}

/// Result of [`emerging_hot_spots`].
#[derive(Clone, Debug, PartialEq)]
pub struct EmergingResult {
    /// Number of time steps.
    pub n_steps: usize,
    /// One entry per analysed location (locations with at least one incident), in input order.
    pub locations: Vec<LocationTrend>,
    /// Gi* z per bin: `bin_z[a * n_steps + t]` for the a-th analysed location.
    pub bin_z: Vec<f64>,
    /// Two-sided p per bin, same layout.
    pub bin_p: Vec<f64>,
    /// The BH cut-off used (None when FDR is off or nothing is significant).
    pub fdr_cutoff: Option<f64>,
}

/// Benjamini-Hochberg cut-off identical to [`super::fdr::benjamini_hochberg_cutoff`], but it only sorts
/// the p-values `<= alpha` (the cut-off can never exceed alpha), which matters for millions of bins.
fn bh_cutoff_small(p: &[f64], alpha: f64) -> Option<f64> {
    let n = p.iter().filter(|v| !v.is_nan()).count();
    let mut small: Vec<f64> = p.par_iter().copied().filter(|&v| v <= alpha).collect();
    small.par_sort_unstable_by(f64::total_cmp);
    bh_cutoff_sorted(&small, n, alpha)
}

/// The Benjamini-Hochberg cut-off from the p-values `<= alpha`, sorted ascending, of `n` non-NaN p-values.
fn bh_cutoff_sorted(small: &[f64], n: usize, alpha: f64) -> Option<f64> {
    small
        .iter()
        .enumerate()
        .rev()
        .find(|(k, &v)| v <= (*k as f64 + 1.0) * alpha / n as f64)
        .map(|(_, &v)| v)
}

/// The alpha levels of `options` must lie in (0, 1).
pub(crate) fn check_alphas(options: &EmergingOptions) -> Result<(), EmergingError> {
    for (name, value) in [
        ("alpha", options.alpha),
        ("trend_alpha", options.trend_alpha),
    ] {
        if !(value > 0.0 && value < 1.0) {
            return Err(EmergingError::InvalidAlpha { name, value });
        }
    }
    Ok(())
}

/// The time window of `options` must be at most 75 % of `n_steps`.
pub(crate) fn check_time_window(
    options: &EmergingOptions,
    n_steps: usize,
) -> Result<(), EmergingError> {
    let k = options.time_window;
    let max_k = 3 * n_steps / 4;
    if k > max_k {
        return Err(EmergingError::TimeWindowTooLarge {
            k,
            max: max_k,
            steps: n_steps,
        });
    }
    Ok(())
}

/// The Gi* population `(n, mean, sd)` of each step's bins over `n_locations` analysed locations whose count
/// rows (`n_steps` values each, in location order) `rows` hands to its visitor, twice (sums, then squared
/// deviations from the cube mean). The summation order is the location order, so the same rows give the same
/// bits whichever way they are stored.
pub(crate) fn step_populations(
    n_locations: usize,
    n_steps: usize,
    options: &EmergingOptions,
    rows: impl Fn(&mut dyn FnMut(&[f64])),
) -> Vec<(f64, f64, f64)> {
    let k = options.time_window;
    let mut step_sum = vec![0.0; n_steps];
    rows(&mut |row: &[f64]| {
        for (s, v) in step_sum.iter_mut().zip(row) {
            *s += v;
        }
    });
    let mut step_sq = vec![0.0; n_steps];
    let cube_mean = step_sum.iter().sum::<f64>() / (n_locations * n_steps) as f64;
    // Squared deviations from the cube mean (stable: deviations, not raw squares).
    rows(&mut |row: &[f64]| {
        for (s, v) in step_sq.iter_mut().zip(row) {
            *s += (v - cube_mean).powi(2);
        }
    });
    (0..n_steps)
        .map(|t| {
            let steps = match options.global_window {
                GlobalWindow::EntireCube => 0..n_steps,
                GlobalWindow::PerStep => t.saturating_sub(k)..t + 1,
            };
            let n = (n_locations * steps.len()) as f64;
            let sum: f64 = step_sum[steps.clone()].iter().sum();
            let dev2: f64 = step_sq[steps].iter().sum();
            let mean = sum / n;
            // sum (x - m)^2 = sum (x - c)^2 - n (m - c)^2 for the cube mean c.
            let var = ((dev2 - n * (mean - cube_mean).powi(2)) / n).max(0.0);
            (n, mean, var.sqrt())
        })
        .collect()
}

/// The parts of the Gi* z of each step that depend on the step and the weight sums only, for the locations
/// whose weights sum to `sw` (squares: `sw2`): bin `t` with the window sum `w` has `z = (w - a_t) / d_t`, the
/// same operations in the same order as [`gi_star_bin`], so the same bits. A bin whose z is 0 by definition
/// (no variation in its step, no variance term) has `a_t = 0`, `d_t = inf`: a window sum is a finite sum of
/// non-negative counts, so `w / inf` is `+0`, as [`gi_star_bin`] gives.
pub(crate) struct StepTerms {
    sw: f64,
    sw2: f64,
    k: usize,
    terms: Vec<(f64, f64)>,
}

impl StepTerms {
    pub fn new(sw: f64, sw2: f64, k: usize, populations: &[(f64, f64, f64)]) -> StepTerms {
        let terms = (0..populations.len())
            .map(|t| step_terms(sw, sw2, t, k, populations).unwrap_or((0.0, f64::INFINITY)))
            .collect();
        StepTerms { sw, sw2, k, terms }
    }

    /// The z series of a location with these weight sums from its spatial lag per step (one value per step).
    pub fn series(&self, lag: &[f64], z: &mut [f64]) {
        let k = self.k;
        let mut window = 0.0;
        for (t, (zt, &(a, d))) in z.iter_mut().zip(&self.terms).enumerate() {
            window += lag[t];
            if t > k {
                window -= lag[t - k - 1];
            }
            *zt = (window - a) / d;
        }
    }
}

/// The [`StepTerms`] of the weight sums met so far (a location's sums are one of a few on a grid), for one
/// thread's share of the locations.
pub(crate) struct StepTermsCache<'a> {
    k: usize,
    populations: &'a [(f64, f64, f64)],
    known: Vec<StepTerms>,
}

impl<'a> StepTermsCache<'a> {
    /// Tables kept at most; beyond that (weights of many different sums) the oldest is dropped.
    const MOST: usize = 32;

    pub fn new(k: usize, populations: &'a [(f64, f64, f64)]) -> StepTermsCache<'a> {
        StepTermsCache {
            k,
            populations,
            known: Vec::new(),
        }
    }

    /// The terms for the weight sums `sw`, `sw2` (compared bit for bit).
    pub fn get(&mut self, sw: f64, sw2: f64) -> &StepTerms {
        let same =
            |t: &StepTerms| t.sw.to_bits() == sw.to_bits() && t.sw2.to_bits() == sw2.to_bits();
        match self.known.iter().position(same) {
            Some(i) => &self.known[i],
            None => {
                if self.known.len() == Self::MOST {
                    self.known.remove(0);
                }
                self.known
                    .push(StepTerms::new(sw, sw2, self.k, self.populations));
                &self.known[self.known.len() - 1]
            }
        }
    }
}

/// The Gi* z of the bin at step `t` whose time window (steps `t-k..=t`) has the lag sum `window`.
pub(crate) fn gi_star_bin(
    window: f64,
    sw: f64,
    sw2: f64,
    t: usize,
    k: usize,
    populations: &[(f64, f64, f64)],
) -> f64 {
    step_terms(sw, sw2, t, k, populations)
        .map_or(0.0, |(expected, scale)| (window - expected) / scale)
}

/// The parts of [`gi_star_bin`] at step `t` that do not depend on the window sum ([`gi_star_terms`] of the
/// window's weight sums); `None` where the z is 0 (no variation in the step, no variance term).
fn step_terms(
    sw: f64,
    sw2: f64,
    t: usize,
    k: usize,
    populations: &[(f64, f64, f64)],
) -> Option<(f64, f64)> {
    let m = (t.min(k) + 1) as f64;
    let (n, mean, sd) = populations[t];
    if has_variation(mean, sd) {
        gi_star_terms(sw * m, sw2 * m, n, mean, sd)
    } else {
        None
    }
}

/// Which bins are significant: with FDR those whose p is at most the Benjamini-Hochberg cut-off over all bins
/// (none without a cut-off), else those with `p < alpha`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Significance {
    pub fdr: bool,
    pub alpha: f64,
    pub cutoff: Option<f64>,
}

impl Significance {
    pub fn is_significant(&self, p: f64) -> bool {
        if self.fdr {
            self.cutoff.is_some_and(|c| p <= c)
        } else {
            p < self.alpha
        }
    }

    /// The p-value a bin must not exceed to be significant (`None` without a cut-off: nothing is).
    fn p_threshold(&self) -> Option<f64> {
        match (self.fdr, self.cutoff) {
            (true, None) => None,
            (true, Some(c)) => Some(c),
            (false, _) => Some(self.alpha),
        }
    }

    /// `(lo, hi)` with `p(lo) > threshold >= p(hi)` and `hi - lo` at the rounding of `f64`, by bisection on
    /// [`two_sided_normal_p`] over `0..=40`; `None` when even `p(40)` is above the threshold.
    fn z_bracket(threshold: f64) -> Option<(f64, f64)> {
        let (mut lo, mut hi) = (0.0f64, 40.0f64);
        if two_sided_normal_p(hi) > threshold {
            return None;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if two_sided_normal_p(mid) > threshold {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some((lo, hi))
    }

    /// A z-score magnitude below which no bin is significant: every `|z| <= quiet_z()` has a two-sided p that
    /// [`Significance::is_significant`] refuses, so its p need not be computed. Found by bisection on
    /// [`two_sided_normal_p`] and moved a millionth towards zero, far beyond the rounding of the p-value.
    pub fn quiet_z(&self) -> f64 {
        let Some(threshold) = self.p_threshold() else {
            return f64::INFINITY;
        };
        if threshold.is_nan() || threshold <= 0.0 {
            return f64::INFINITY;
        }
        if threshold >= 1.0 {
            // Every p may be significant.
            return f64::NEG_INFINITY;
        }
        match Self::z_bracket(threshold) {
            Some((lo, _)) => lo * (1.0 - 1e-6),
            None => 40.0,
        }
    }

    /// A z-score magnitude above which every bin is significant: every `|z| >= loud_z()` has a two-sided p
    /// that [`Significance::is_significant`] accepts, so its p need not be computed (infinite when no bound is
    /// known: no cut-off, or every p accepted or refused alike). Found by bisection on [`two_sided_normal_p`]
    /// and moved a millionth away from zero, far beyond the rounding of the p-value.
    pub fn loud_z(&self) -> f64 {
        match self.p_threshold() {
            Some(threshold) if threshold > 0.0 && threshold < 1.0 => {
                Self::z_bracket(threshold).map_or(f64::INFINITY, |(_, hi)| hi * (1.0 + 1e-6))
            }
            _ => f64::INFINITY,
        }
    }
}

/// The trend and category of the analysed location `location` from its Gi* z and p series.
pub(crate) fn location_trend(
    location: usize,
    z: &[f64],
    p: &[f64],
    significance: &Significance,
    trend_alpha: f64,
) -> LocationTrend {
    let hot: Vec<bool> = z
        .iter()
        .zip(p)
        .map(|(&z, &p)| z > 0.0 && significance.is_significant(p))
        .collect();
    let cold: Vec<bool> = z
        .iter()
        .zip(p)
        .map(|(&z, &p)| z < 0.0 && significance.is_significant(p))
        .collect();
    let mk = mann_kendall(z);
    LocationTrend {
        location,
        category: classify(&hot, &cold, mk.z, mk.p, trend_alpha),
        trend_z: mk.z,
        trend_p: mk.p,
        hot_steps: hot.iter().filter(|&&h| h).count(),
        cold_steps: cold.iter().filter(|&&c| c).count(),
        final_z: z[z.len() - 1],
    }
}

/// The category of a location from its Gi* z series, as [`location_trend`] gives it with the p-values of the
/// bins: a bin with `|z| <= quiet_z` ([`Significance::quiet_z`]) is not significant and one with
/// `|z| >= loud_z` ([`Significance::loud_z`]) is, without computing its p;
/// and the Mann-Kendall trend is computed only when the category depends on it ([`BinSides::needs_trend`]).
pub(crate) fn location_category(
    z: &[f64],
    significance: &Significance,
    (quiet_z, loud_z): (f64, f64),
    trend_alpha: f64,
) -> EmergingCategory {
    if !z.iter().any(|zt| zt.abs() > quiet_z) {
        // No bin is significant: neither hot nor cold anywhere.
        return EmergingCategory::NoPattern;
    }
    let mut bins = BinSides::default();
    for &zt in z {
        let a = zt.abs();
        let significant =
            a >= loud_z || (a > quiet_z && significance.is_significant(two_sided_normal_p(zt)));
        bins.push(zt > 0.0 && significant, zt < 0.0 && significant);
    }
    let (trend_z, trend_p) = if bins.needs_trend() {
        let mk = mann_kendall(z);
        (mk.z, mk.p)
    } else {
        // Not read for these bins.
        (0.0, 1.0)
    };
    bins.category(trend_z, trend_p, trend_alpha)
}

/// Run emerging hot spot analysis on `cube` with spatial `weights` between its locations (no
/// self-weights; see the module docs for the method). `cancel` is checked between the steps and, in the long
/// steps, before each location ([`EmergingError::Cancelled`]).
pub fn emerging_hot_spots(
    cube: &SpaceTimeCube,
    weights: &SpatialWeights,
    options: &EmergingOptions,
    cancel: &Cancel,
) -> Result<EmergingResult, EmergingError> {
    check_alphas(options)?;
    if weights.n() != cube.n_locations {
        return Err(EmergingError::WeightsMismatch {
            cube: cube.n_locations,
            weights: weights.n(),
        });
    }
    let n_steps = cube.n_steps;
    let k = options.time_window;
    check_time_window(options, n_steps)?;
    // Only locations with at least one incident.
    let keep: Vec<usize> = (0..cube.n_locations)
        .filter(|&i| cube.series(i).iter().any(|&c| c > 0.0))
        .collect();
    if keep.is_empty() {
        return Err(EmergingError::NoIncidents);
    }
    let all_kept = keep.len() == cube.n_locations;
    let sub_w;
    let w = if all_kept {
        weights
    } else {
        sub_w = weights.subset(&keep)?;
        &sub_w
    };
    let sub_counts: Vec<f64>;
    let x: &[f64] = if all_kept {
        &cube.counts
    } else {
        sub_counts = keep
            .iter()
            .flat_map(|&i| cube.series(i).iter().copied())
            .collect();
        &sub_counts
    };
    let n_loc = keep.len();

    cancel.check()?;
    // Population statistics: per step sums, then either the whole cube or per time window.
    let populations = step_populations(n_loc, n_steps, options, |visit| {
        for row in x.chunks_exact(n_steps) {
            visit(row);
        }
    });

    let mut bin_z = vec![0.0; n_loc * n_steps];
    bin_z
        .par_chunks_mut(n_steps)
        .enumerate()
        .with_min_len(64)
        .for_each_init(
            || StepTermsCache::new(k, &populations),
            |terms, (i, z_row)| {
                if cancel.is_cancelled() {
                    return;
                }
                // Spatial lag per step (incl. self), then the backward sliding window sum.
                let mut lag: Vec<f64> = x[i * n_steps..(i + 1) * n_steps].to_vec();
                let (mut sw, mut sw2) = (1.0, 1.0);
                for (&j, &wij) in w.neighbours(i).iter().zip(w.weights(i)) {
                    let row = &x[j as usize * n_steps..(j as usize + 1) * n_steps];
                    for (l, v) in lag.iter_mut().zip(row) {
                        *l += wij * v;
                    }
                    sw += wij;
                    sw2 += wij * wij;
                }
                terms.get(sw, sw2).series(&lag, z_row);
            },
        );
    cancel.check()?;
    let mut bin_p: Vec<f64> = Vec::with_capacity(bin_z.len());
    for piece in bin_z.chunks(BINS_PER_CHECK) {
        cancel.check()?;
        bin_p.par_extend(piece.par_iter().map(|&z| two_sided_normal_p(z)));
    }
    cancel.check()?;
    let cutoff = if options.fdr {
        bh_cutoff_small(&bin_p, options.alpha)
    } else {
        None
    };
    let significance = Significance {
        fdr: options.fdr,
        alpha: options.alpha,
        cutoff,
    };

    // The Mann-Kendall trends cost O(steps^2) per location: checked every piece of locations.
    let per_check = (BINS_PER_CHECK / (n_steps * n_steps).max(1)).max(1);
    let mut locations: Vec<LocationTrend> = Vec::with_capacity(n_loc);
    for start in (0..n_loc).step_by(per_check) {
        cancel.check()?;
        locations.par_extend(
            (start..(start + per_check).min(n_loc))
                .into_par_iter()
                .map(|a| {
                    let z = &bin_z[a * n_steps..(a + 1) * n_steps];
                    let p = &bin_p[a * n_steps..(a + 1) * n_steps];
                    location_trend(keep[a], z, p, &significance, options.trend_alpha)
                }),
        );
    }
    cancel.check()?;
    Ok(EmergingResult {
        n_steps,
        locations,
        bin_z,
        bin_p,
        fdr_cutoff: cutoff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fdr::benjamini_hochberg_cutoff;
    use EmergingCategory::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn bools(s: &str, c: char) -> Vec<bool> {
        s.chars().map(|x| x == c).collect()
    }

    /// `pattern`: 'H' hot, 'C' cold, '.' neither.
    fn cat(pattern: &str, trend_z: f64, trend_p: f64) -> EmergingCategory {
        classify(
            &bools(pattern, 'H'),
            &bools(pattern, 'C'),
            trend_z,
            trend_p,
            0.05,
        )
    }

    #[test]
    fn quiet_z_leaves_out_only_bins_that_are_not_significant() {
        for (fdr, alpha, cutoff) in [
            (true, 0.05, Some(0.0123)),
            (true, 0.05, Some(1e-9)),
            (true, 0.05, None),
            (false, 0.05, None),
            (false, 0.01, Some(0.5)),
        ] {
            let sig = Significance { fdr, alpha, cutoff };
            let q = sig.quiet_z();
            if fdr && cutoff.is_none() {
                assert_eq!(q, f64::INFINITY);
                continue;
            }
            assert!(q > 0.5 && q.is_finite(), "{q}");
            // Near the boundary and everywhere below it: never significant.
            for k in 0..=2000 {
                let z = q * f64::from(k) / 2000.0;
                assert!(!sig.is_significant(two_sided_normal_p(z)), "{z}");
                assert!(!sig.is_significant(two_sided_normal_p(-z)), "{z}");
            }
            // Just above it the bins become significant (the bound is tight).
            assert!(
                sig.is_significant(two_sided_normal_p(q * (1.0 + 1e-5))),
                "{q}"
            );
            // From the loud bound up every bin is significant, and it is tight too.
            let l = sig.loud_z();
            assert!(l > q && l < q * (1.0 + 1e-5), "{q} {l}");
            for k in 0..=2000 {
                let z = l * (1.0 + f64::from(k) / 100.0);
                assert!(sig.is_significant(two_sided_normal_p(z)), "{z}");
                assert!(sig.is_significant(two_sided_normal_p(-z)), "{z}");
            }
        }
    }

    #[test]
    fn category_rules() {
        assert_eq!(cat("HHHHHHHHHH", 3.0, 0.001), IntensifyingHotSpot);
        assert_eq!(cat(".HHHHHHHHH", -3.0, 0.001), DiminishingHotSpot);
        assert_eq!(cat("HHHHHHHHHH", 1.0, 0.3), PersistentHotSpot);
        assert_eq!(cat(".........H", 3.0, 0.001), NewHotSpot);
        assert_eq!(cat("C........H", 0.0, 1.0), NewHotSpot);
        assert_eq!(cat(".......HHH", 0.0, 1.0), ConsecutiveHotSpot);
        assert_eq!(cat("CC.....HHH", 0.0, 1.0), ConsecutiveHotSpot);
        assert_eq!(cat("..C..H..HH", 0.0, 1.0), OscillatingHotSpot);
        assert_eq!(cat("..H..H..HH", 0.0, 1.0), SporadicHotSpot);
        assert_eq!(cat("HHHHHHHHH.", 0.0, 1.0), HistoricalHotSpot);
        assert_eq!(cat("CCCCCCCCCC", -3.0, 0.001), IntensifyingColdSpot);
        assert_eq!(cat("CCCCCCCCCC", 3.0, 0.001), DiminishingColdSpot);
        assert_eq!(cat("CCCCCCCCCC", -1.0, 0.2), PersistentColdSpot);
        assert_eq!(cat("H........C", 0.0, 1.0), NewColdSpot);
        assert_eq!(cat("........CC", 0.0, 1.0), ConsecutiveColdSpot);
        assert_eq!(cat("H.C......C", 0.0, 1.0), OscillatingColdSpot);
        assert_eq!(cat("C.C......C", 0.0, 1.0), SporadicColdSpot);
        assert_eq!(cat("CCCCCCCCC.", 0.0, 1.0), HistoricalColdSpot);
        assert_eq!(cat("HHHHHHHH..", 0.0, 1.0), NoPattern);
        assert_eq!(cat("", 0.0, 1.0), NoPattern);
        // 90 % is inclusive; below it the other rules apply.
        assert_eq!(cat("CHHHHHHHHH", 0.0, 1.0), PersistentHotSpot);
        assert_eq!(cat("CCHHHHHHHH", 0.0, 1.0), ConsecutiveHotSpot);
        // A one-step cube whose only bin is hot is persistent (|H| = n >= 0.9 n comes first).
        assert_eq!(cat("H", 0.0, 1.0), PersistentHotSpot);
    }

    #[test]
    fn step_terms_give_gi_star_bin_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let n_steps = 60;
        // Populations with and without variation, and a vanishing variance term (n = 2: n sw2 < sw^2).
        let mut populations: Vec<(f64, f64, f64)> = (0..n_steps)
            .map(|_| (5_000.0, rng.gen_range(0.0..2.0), rng.gen_range(0.0..1.5)))
            .collect();
        populations[3] = (5_000.0, 1.0, 0.0);
        populations[7] = (2.0, 0.5, 0.5);
        for k in [0, 1, 3] {
            let mut cache = StepTermsCache::new(k, &populations);
            for size in 0..=8 {
                let sw = 1.0 + size as f64;
                let lag: Vec<f64> = (0..n_steps)
                    .map(|_| f64::from(rng.gen_range(0u32..4) * rng.gen_range(0u32..2)))
                    .collect();
                let mut z = vec![0.0; n_steps];
                cache.get(sw, sw).series(&lag, &mut z);
                for t in 0..n_steps {
                    let window: f64 = lag[t.saturating_sub(k)..=t].iter().sum();
                    let want = gi_star_bin(window, sw, sw, t, k, &populations);
                    assert_eq!(z[t].to_bits(), want.to_bits(), "k {k} size {size} t {t}");
                }
            }
            assert_eq!(cache.known.len(), 9);
        }
    }

    #[test]
    fn only_the_patterns_needing_the_trend_read_it() {
        let trends = [(3.0, 0.001), (-3.0, 0.001), (1.0, 0.3), (0.0, 1.0)];
        // Every pattern of 'H', 'C' and '.' up to 7 bins, and 10-bin patterns around the 90 % rule.
        let mut patterns: Vec<String> = vec![String::new()];
        for n in 1..=7u32 {
            for code in 0..3usize.pow(n) {
                patterns.push(
                    (0..n)
                        .map(|d| ['H', 'C', '.'][code / 3usize.pow(d) % 3])
                        .collect(),
                );
            }
        }
        patterns.extend(
            [
                "HHHHHHHHHH",
                "CHHHHHHHHH",
                "CCHHHHHHHH",
                "CCCCCCCCCC",
                ".CCCCCCCCC",
            ]
            .map(String::from),
        );
        let mut read = 0;
        for pattern in &patterns {
            let cats: Vec<EmergingCategory> =
                trends.iter().map(|&(z, p)| cat(pattern, z, p)).collect();
            let mut bins = BinSides::default();
            for (h, c) in bools(pattern, 'H').into_iter().zip(bools(pattern, 'C')) {
                bins.push(h, c);
            }
            if bins.needs_trend() {
                read += 1;
            } else {
                assert!(cats.iter().all(|&c| c == cats[0]), "{pattern}: {cats:?}");
            }
        }
        assert!(read > 10);
        // The category without the trend where it is not needed is the full computation's.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let sig = Significance {
            fdr: false,
            alpha: 0.05,
            cutoff: None,
        };
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3_000 {
            let n = rng.gen_range(1..40);
            let drift = rng.gen_range(-0.2..0.2);
            let base = rng.gen_range(-4.0..4.0);
            let z: Vec<f64> = (0..n)
                .map(|t| base + drift * t as f64 + rng.gen_range(-1.5..1.5))
                .collect();
            let p: Vec<f64> = z.iter().map(|&z| two_sided_normal_p(z)).collect();
            let want = location_trend(0, &z, &p, &sig, 0.05).category;
            assert_eq!(
                location_category(&z, &sig, (sig.quiet_z(), sig.loud_z()), 0.05),
                want
            );
            seen.insert(want);
        }
        assert!(seen.len() >= 10, "{seen:?}");
    }

    #[test]
    fn weekly_steps_end_on_the_last_complete_iso_week() {
        // 2026-11-22 is a Sunday; 2026-11-25 a Wednesday.
        let s = TimeSteps::new(Step::Week, d(2026, 10, 28), d(2026, 11, 25)).unwrap();
        assert_eq!(*s.ends.last().unwrap(), d(2026, 11, 22));
        assert_eq!(s.starts[0], d(2026, 10, 26)); // Monday of the partial oldest week
        assert_eq!(s.len(), 4);
        assert!(s.starts.iter().all(|x| x.weekday() == chrono::Weekday::Mon));
        assert_eq!(s.step_of(d(2026, 10, 27)), None); // before the period start
        assert_eq!(s.step_of(d(2026, 10, 28)), Some(0));
        assert_eq!(s.step_of(d(2026, 11, 22)), Some(3));
        assert_eq!(s.step_of(d(2026, 11, 23)), None); // the incomplete week is left out
        let m = TimeSteps::new(Step::Month, d(2025, 12, 15), d(2026, 3, 30)).unwrap();
        assert_eq!(m.starts, vec![d(2025, 12, 1), d(2026, 1, 1), d(2026, 2, 1)]);
        assert_eq!(m.ends[2], d(2026, 2, 28));
        assert_eq!(m.step_of(d(2026, 2, 28)), Some(2));
        let m2 = TimeSteps::new(Step::Month, d(2026, 1, 1), d(2026, 3, 31)).unwrap();
        assert_eq!(m2.len(), 3);
        let days = TimeSteps::new(Step::Day, d(2026, 1, 1), d(2026, 1, 10)).unwrap();
        assert_eq!(days.len(), 10);
        assert_eq!(days.step_of(d(2026, 1, 5)), Some(4));
        assert!(TimeSteps::new(Step::Month, d(2026, 3, 2), d(2026, 3, 30)).is_err());
    }

    #[test]
    fn fast_bh_equals_shared_bh() {
        let p: Vec<f64> = (0..500)
            .map(|i| {
                ((i * 7919) % 1000) as f64 / 1000.0 * 0.2 + if i % 3 == 0 { 0.0 } else { 0.0001 }
            })
            .collect();
        for alpha in [0.01, 0.05, 0.1, 0.3] {
            assert_eq!(
                bh_cutoff_small(&p, alpha),
                benjamini_hochberg_cutoff(&p, alpha)
            );
        }
    }

    #[test]
    fn dense_and_hashed_cell_index_agree() {
        let steps = TimeSteps::new(Step::Day, d(2026, 1, 1), d(2026, 1, 5)).unwrap();
        let at = |x: f64, y: f64, day: u32| {
            let t = d(2026, 1, day).and_hms_opt(12, 0, 0);
            Event {
                x_m: x,
                y_m: y,
                begin: t,
                end: None,
                weight: 1.5,
            }
        };
        let near: Vec<Event> = (0..40)
            .map(|k| {
                at(
                    1000.0 + (k % 7) as f64 * 130.0,
                    2000.0 - (k % 5) as f64 * 90.0,
                    1 + k % 5,
                )
            })
            .collect();
        let dense = grid_cube_from_events(&near, 100.0, &steps).unwrap();
        let mut far = near.clone();
        far.push(at(9.0e12, 9.0e12, 3));
        let hashed = grid_cube_from_events(&far, 100.0, &steps).unwrap();
        assert_eq!(hashed.cells.len(), dense.cells.len() + 1);
        assert_eq!(&hashed.cells[..dense.cells.len()], dense.cells.as_slice());
        let mut sorted = dense.cells.clone();
        sorted.sort_by_key(|&(c, r)| (r, c));
        assert_eq!(sorted, dense.cells);
        for i in 0..dense.cells.len() {
            assert_eq!(hashed.cube.series(i), dense.cube.series(i));
        }
        let total: f64 = dense.cube.counts().iter().sum();
        assert_eq!(total, 40.0 * 1.5);
    }

    #[test]
    fn errors() {
        let cube =
            SpaceTimeCube::from_counts(2, 4, vec![1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0]).unwrap();
        let w = SpatialWeights::from_neighbour_lists(&[vec![1], vec![0]]).unwrap();
        let too_big = EmergingOptions {
            time_window: 4,
            ..Default::default()
        };
        assert_eq!(
            emerging_hot_spots(&cube, &w, &too_big, &Cancel::never()),
            Err(EmergingError::TimeWindowTooLarge {
                k: 4,
                max: 3,
                steps: 4
            })
        );
        assert!(emerging_hot_spots(
            &cube,
            &w,
            &EmergingOptions {
                time_window: 3,
                ..Default::default()
            },
            &Cancel::never()
        )
        .is_ok());
        assert!(SpaceTimeCube::from_counts(2, 3, vec![0.0; 5]).is_err());
        assert!(SpaceTimeCube::from_counts(1, 2, vec![0.0, -1.0]).is_err());
        let empty = SpaceTimeCube::from_counts(2, 4, vec![0.0; 8]).unwrap();
        assert_eq!(
            emerging_hot_spots(&empty, &w, &EmergingOptions::default(), &Cancel::never()),
            Err(EmergingError::NoIncidents)
        );
    }

    #[test]
    fn every_category_has_its_own_dutch_label() {
        use EmergingCategory::*;
        let all = [
            NewHotSpot,
            ConsecutiveHotSpot,
            IntensifyingHotSpot,
            PersistentHotSpot,
            DiminishingHotSpot,
            SporadicHotSpot,
            OscillatingHotSpot,
            HistoricalHotSpot,
            NewColdSpot,
            ConsecutiveColdSpot,
            IntensifyingColdSpot,
            PersistentColdSpot,
            DiminishingColdSpot,
            SporadicColdSpot,
            OscillatingColdSpot,
            HistoricalColdSpot,
            NoPattern,
        ];
        let labels: std::collections::HashSet<&str> = all.iter().map(|c| c.dutch_label()).collect();
        assert_eq!(labels.len(), all.len());
        for c in all {
            let hot = c.as_str().ends_with("hot_spot");
            assert_eq!(c.dutch_label().ends_with("hotspot"), hot, "{c:?}");
        }
    }
}
