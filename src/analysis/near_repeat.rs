//! The near-repeat (Knox) test: do events close in space also happen close in time more often than chance?
//!
//! Every unordered pair of the `n` events (`P = n(n-1)/2` pairs) falls in one cell of a table of distance bands
//! (rows) by time bands (columns):
//! - **rows**: the same location (distance exactly 0) first, then the half-open bands between the given upper
//!   bounds `b1 < b2 < ... < bK` (metres): `(0, b1)`, `[b1, b2)`, ..., and last `[bK, inf)`;
//! - **columns**: the time distance `|day_i - day_j|` in whole days, in the half-open bands `[0, t1)`,
//!   `[t1, t2)`, ..., `[tK, inf)` of the given upper bounds (days);
//! - **distance**: Euclidean or Manhattan (`|dx| + |dy|`) in the coordinates' metres.
//!
//! `observed` is the number of pairs in a cell. The null hypothesis keeps the locations and permutes the days
//! over the events (Monte Carlo, `iterations` seeded permutations): `expected` is the mean of the simulated
//! counts, `ratio = observed / expected`, `p = (#{simulations >= observed} + 1) / (iterations + 1)` (one-sided,
//! more pairs than chance). `expected_analytic = N_s * N_t / P` (row total times column total over the pairs) is
//! the exact mean of the permutation distribution, and `ratio_analytic = observed / expected_analytic`. A ratio
//! whose denominator is 0 is `None`.
//!
//! A permutation changes no row total and no column total (the multiset of pairwise day differences is the
//! same), so only the pairs closer than the largest finite distance band are re-binned per permutation: they
//! are found once with a bucket grid, and the last row of a simulation is its column totals minus the rows
//! above. Permutations run in parallel; each has its own ChaCha8 stream of `seed`, so the table is the same for
//! a seed whatever the number of threads.
//!
//! `nrc_compatible` reproduces Ratcliffe's Near Repeat Calculator 1.3 cell by cell: its band rules are the ones
//! above, but it computes distances in single precision (coordinates, differences and distance in `f32`), which
//! moves a few pairs on band boundaries. Its labels differ from its intervals ("1 to 100" is `(0, 100)`, "0 to 7"
//! days is `[0, 7)`); the labels here state the true intervals.
//!
//! ```
//! use brandpunt::analysis::near_repeat::{knox, KnoxParams, Metric, NearRepeatEvent};
//! use brandpunt::cancel::Cancel;
//!
//! // Two burglaries next door on consecutive days, one far away much later.
//! let events = [
//!     NearRepeatEvent { x_m: 0.0, y_m: 0.0, day: 0 },
//!     NearRepeatEvent { x_m: 30.0, y_m: 40.0, day: 1 },
//!     NearRepeatEvent { x_m: 5000.0, y_m: 0.0, day: 60 },
//! ];
//! let params = KnoxParams {
//!     distance_bands_m: vec![100.0, 200.0],
//!     time_bands_days: vec![7, 14],
//!     metric: Metric::Euclidean,
//!     iterations: 99,
//!     seed: 1,
//!     nrc_compatible: false,
//! };
//! let table = knox(&events, &params, &Cancel::never()).unwrap();
//! assert_eq!(table.pairs, 3);
//! let cell = table.cell(1, 0); // (0,100) m and [0,7) days
//! assert_eq!((cell.distance_band.as_str(), cell.time_band.as_str()), ("(0,100)", "[0,7)"));
//! assert_eq!(cell.observed, 1);
//! // Row total 1, column total 1, 3 pairs.
//! assert!((cell.expected_analytic - 1.0 / 3.0).abs() < 1e-15);
//! ```

use crate::cancel::{Cancel, Cancelled};
use chrono::NaiveDate;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

/// Fewest permutations accepted (p can reach 0.05).
pub const MIN_ITERATIONS: u32 = 19;
/// Most permutations accepted.
pub const MAX_ITERATIONS: u32 = 9_999;
/// Most finite distance bands (and most time bands).
pub const MAX_BANDS: usize = 50;
/// Largest time band bound in days (a century).
pub const MAX_TIME_BAND_DAYS: u32 = 36_525;
/// Most pairs closer than the largest finite distance band (8 bytes each are kept for the permutations).
pub const MAX_CLOSE_PAIRS: usize = 50_000_000;

/// Close pairs re-binned between two cancellation checks (a few ms of work).
const PAIRS_PER_CHECK: usize = 1 << 20;
/// Events searched for close pairs between two cancellation checks.
const EVENTS_PER_CHECK: usize = 2_048;

/// One event: a location in metres of a projected coordinate system and a day number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NearRepeatEvent {
    /// x in metres.
    pub x_m: f64,
    /// y in metres.
    pub y_m: f64,
    /// Day number (any origin; only differences count).
    pub day: i64,
}

impl NearRepeatEvent {
    /// An event on a calendar date (days counted from 1970-01-01).
    pub fn on(x_m: f64, y_m: f64, date: NaiveDate) -> NearRepeatEvent {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
        NearRepeatEvent {
            x_m,
            y_m,
            day: (date - epoch).num_days(),
        }
    }
}

/// How the distance of two events is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Straight-line distance.
    Euclidean,
    /// `|dx| + |dy|` (street-grid distance).
    Manhattan,
}

impl Metric {
    /// `euclidean` or `manhattan` (also `euclidisch`); `None` otherwise.
    pub fn parse(s: &str) -> Option<Metric> {
        match s.trim().to_ascii_lowercase().as_str() {
            "euclidean" | "euclidisch" | "euclidian" => Some(Metric::Euclidean),
            "manhattan" => Some(Metric::Manhattan),
            _ => None,
        }
    }

    /// The name as parsed.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Euclidean => "euclidean",
            Metric::Manhattan => "manhattan",
        }
    }
}

/// The settings of a Knox test.
#[derive(Clone, Debug, PartialEq)]
pub struct KnoxParams {
    /// Upper bounds of the finite distance bands in metres, strictly increasing and > 0.
    pub distance_bands_m: Vec<f64>,
    /// Upper bounds of the finite time bands in whole days, strictly increasing and > 0.
    pub time_bands_days: Vec<u32>,
    /// Distance measure.
    pub metric: Metric,
    /// Permutations, [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`].
    pub iterations: u32,
    /// Seed of the permutations.
    pub seed: u64,
    /// Single-precision distances as the Near Repeat Calculator (see the module docs).
    pub nrc_compatible: bool,
}

/// Invalid settings or input; [`NearRepeatError::parameter`] names the parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NearRepeatError {
    /// The distance bands are empty, not finite, not positive or not strictly increasing.
    #[error("afstandsbanden: {0}")]
    DistanceBands(String),
    /// The time bands are empty, not positive or not strictly increasing.
    #[error("tijdsbanden: {0}")]
    TimeBands(String),
    /// Fewer than two events: no pairs.
    #[error("minstens 2 gebeurtenissen nodig, er zijn er {0}")]
    TooFewEvents(usize),
    /// A coordinate is NaN or infinite.
    #[error("gebeurtenis {0} heeft een ongeldige coördinaat")]
    BadCoordinate(usize),
    /// Iterations outside [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`].
    #[error("aantal simulaties {0}: kies {MIN_ITERATIONS} t/m {MAX_ITERATIONS}")]
    Iterations(u32),
    /// More close pairs than [`MAX_CLOSE_PAIRS`].
    #[error(
        "{pairs} paren liggen binnen de grootste afstandsband; het maximum is {MAX_CLOSE_PAIRS}: kies kleinere afstandsbanden of minder gebeurtenissen"
    )]
    TooManyClosePairs {
        /// Close pairs found when the search stopped.
        pairs: usize,
    },
    /// The computation was cancelled.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl NearRepeatError {
    /// The parameter at fault (`distance_bands`, `time_bands`, `iterations`, `events`), `None` when cancelled.
    pub fn parameter(&self) -> Option<&'static str> {
        match self {
            NearRepeatError::DistanceBands(_) | NearRepeatError::TooManyClosePairs { .. } => {
                Some("distance_bands")
            }
            NearRepeatError::TimeBands(_) => Some("time_bands"),
            NearRepeatError::TooFewEvents(_) | NearRepeatError::BadCoordinate(_) => Some("events"),
            NearRepeatError::Iterations(_) => Some("iterations"),
            NearRepeatError::Cancelled(_) => None,
        }
    }
}

/// One cell of the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KnoxCell {
    /// `0` (same location), `(0,b1)`, `[b1,b2)`, ..., `[bK,inf)`.
    pub distance_band: String,
    /// `[0,t1)`, `[t1,t2)`, ..., `[tK,inf)` days.
    pub time_band: String,
    /// Pairs in the cell.
    pub observed: u64,
    /// Mean of the simulated counts.
    pub expected: f64,
    /// `observed / expected`; `None` when `expected` is 0.
    pub ratio: Option<f64>,
    /// `(#{simulations >= observed} + 1) / (iterations + 1)`.
    pub p: f64,
    /// Row total times column total over the pairs: the exact permutation mean.
    pub expected_analytic: f64,
    /// `observed / expected_analytic`; `None` when it is 0.
    pub ratio_analytic: Option<f64>,
}

/// The Knox table: rows by distance band (same location first), within a row by time band.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KnoxTable {
    /// Events analysed.
    pub events: usize,
    /// All unordered pairs, `n(n-1)/2`.
    pub pairs: u64,
    /// Pairs closer than the largest finite distance band (re-binned per permutation).
    pub close_pairs: u64,
    /// Permutations run.
    pub iterations: u32,
    /// Their seed.
    pub seed: u64,
    /// Distance measure.
    pub metric: Metric,
    /// Single-precision distances as the Near Repeat Calculator.
    pub nrc_compatible: bool,
    /// Distance band labels, in row order.
    pub distance_bands: Vec<String>,
    /// Time band labels, in column order.
    pub time_bands: Vec<String>,
    /// Pairs per distance band (row totals).
    pub row_totals: Vec<u64>,
    /// Pairs per time band (column totals).
    pub column_totals: Vec<u64>,
    /// The cells, row-major.
    pub cells: Vec<KnoxCell>,
}

impl KnoxTable {
    /// The cell of distance band `row` (0 = same location) and time band `column`.
    pub fn cell(&self, row: usize, column: usize) -> &KnoxCell {
        &self.cells[row * self.time_bands.len() + column]
    }
}

/// The Monte Carlo p-value of an observed count among simulated counts: `(#{sim >= observed} + 1) / (sims + 1)`.
pub fn monte_carlo_p(observed: u64, simulated: &[u64]) -> f64 {
    let at_least = simulated.iter().filter(|&&s| s >= observed).count();
    p_from_counts(at_least as u64, simulated.len() as u64)
}

/// `observed / mean(simulated)`; `None` when the mean is 0 or there are no simulations.
pub fn simulation_ratio(observed: u64, simulated: &[u64]) -> Option<f64> {
    let sum: u64 = simulated.iter().sum();
    ratio(observed as f64, sum as f64 / simulated.len() as f64)
}

fn p_from_counts(at_least: u64, iterations: u64) -> f64 {
    (at_least + 1) as f64 / (iterations + 1) as f64
}

fn ratio(observed: f64, expected: f64) -> Option<f64> {
    (expected > 0.0 && expected.is_finite()).then(|| observed / expected)
}

/// Labels of the distance rows: `0`, `(0,b1)`, `[b1,b2)`, ..., `[bK,inf)`.
pub fn distance_labels(bounds_m: &[f64]) -> Vec<String> {
    let mut labels = vec!["0".to_string()];
    let mut lower = 0.0;
    for (k, &b) in bounds_m.iter().enumerate() {
        labels.push(if k == 0 {
            format!("(0,{b})")
        } else {
            format!("[{lower},{b})")
        });
        lower = b;
    }
    labels.push(format!("[{lower},inf)"));
    labels
}

/// Labels of the time columns: `[0,t1)`, `[t1,t2)`, ..., `[tK,inf)`.
pub fn time_labels(bounds_days: &[u32]) -> Vec<String> {
    let mut labels = Vec::with_capacity(bounds_days.len() + 1);
    let mut lower = 0;
    for &b in bounds_days {
        labels.push(format!("[{lower},{b})"));
        lower = b;
    }
    labels.push(format!("[{lower},inf)"));
    labels
}

/// Checks the settings and the number of events.
pub fn validate(params: &KnoxParams, events: usize) -> Result<(), NearRepeatError> {
    let d = &params.distance_bands_m;
    if d.is_empty() {
        return Err(NearRepeatError::DistanceBands(
            "geef minstens één grens in meters".into(),
        ));
    }
    if d.len() > MAX_BANDS {
        return Err(NearRepeatError::DistanceBands(format!(
            "{} banden, hoogstens {MAX_BANDS}",
            d.len()
        )));
    }
    if let Some(b) = d.iter().find(|b| !(b.is_finite() && **b > 0.0)) {
        return Err(NearRepeatError::DistanceBands(format!(
            "grens {b} is geen positief getal"
        )));
    }
    if let Some(w) = d.windows(2).find(|w| w[1] <= w[0]) {
        return Err(NearRepeatError::DistanceBands(format!(
            "grenzen moeten strikt oplopen ({} na {})",
            w[1], w[0]
        )));
    }
    let t = &params.time_bands_days;
    if t.is_empty() {
        return Err(NearRepeatError::TimeBands(
            "geef minstens één grens in dagen".into(),
        ));
    }
    if t.len() > MAX_BANDS {
        return Err(NearRepeatError::TimeBands(format!(
            "{} banden, hoogstens {MAX_BANDS}",
            t.len()
        )));
    }
    if let Some(b) = t.iter().find(|b| **b == 0 || **b > MAX_TIME_BAND_DAYS) {
        return Err(NearRepeatError::TimeBands(format!(
            "grens {b} dagen: kies 1 t/m {MAX_TIME_BAND_DAYS}"
        )));
    }
    if let Some(w) = t.windows(2).find(|w| w[1] <= w[0]) {
        return Err(NearRepeatError::TimeBands(format!(
            "grenzen moeten strikt oplopen ({} na {})",
            w[1], w[0]
        )));
    }
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&params.iterations) {
        return Err(NearRepeatError::Iterations(params.iterations));
    }
    if events < 2 {
        return Err(NearRepeatError::TooFewEvents(events));
    }
    Ok(())
}

/// The distance row of a pair: 0 for the same location, `1 + #{bounds <= d}` otherwise.
struct DistanceBinner {
    bounds: Vec<f64>,
    bounds32: Vec<f32>,
    metric: Metric,
    nrc: bool,
}

impl DistanceBinner {
    /// Row of events `a` and `b`; the last row (`bounds.len() + 1`) is "far".
    #[inline]
    fn row(&self, a: &NearRepeatEvent, b: &NearRepeatEvent) -> usize {
        if self.nrc {
            let (dx, dy) = (
                (a.x_m as f32 - b.x_m as f32).abs(),
                (a.y_m as f32 - b.y_m as f32).abs(),
            );
            let d = match self.metric {
                Metric::Euclidean => (dx * dx + dy * dy).sqrt(),
                Metric::Manhattan => dx + dy,
            };
            if d == 0.0 {
                0
            } else {
                1 + self.bounds32.partition_point(|&u| u <= d)
            }
        } else {
            let (dx, dy) = ((a.x_m - b.x_m).abs(), (a.y_m - b.y_m).abs());
            let d = match self.metric {
                Metric::Euclidean => dx.hypot(dy),
                Metric::Manhattan => dx + dy,
            };
            if d == 0.0 {
                0
            } else {
                1 + self.bounds.partition_point(|&u| u <= d)
            }
        }
    }
}

/// The pairs closer than the largest finite band, grouped by row: `first[k]..first[k+1]` are the pairs of row k.
struct ClosePairs {
    a: Vec<u32>,
    b: Vec<u32>,
    /// Start of each close row's pairs, and the end.
    first: Vec<usize>,
}

fn close_pairs(
    events: &[NearRepeatEvent],
    binner: &DistanceBinner,
    cancel: &Cancel,
) -> Result<ClosePairs, NearRepeatError> {
    let far_row = binner.bounds.len() + 1;
    let max_m = binner.bounds.last().copied().unwrap_or(0.0);
    // A little wider than the largest band, so that single-precision rounding cannot hide a pair.
    let cell_m = max_m * 1.001 + 1.0;
    let key = |e: &NearRepeatEvent| {
        (
            (e.x_m / cell_m).floor() as i64,
            (e.y_m / cell_m).floor() as i64,
        )
    };
    let mut buckets: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        buckets.entry(key(e)).or_default().push(i as u32);
    }
    let found = std::sync::atomic::AtomicUsize::new(0);
    let chunks: Vec<Vec<(u32, u32, u8)>> = (0..events.len())
        .collect::<Vec<_>>()
        .par_chunks(EVENTS_PER_CHECK)
        .map(|chunk| -> Result<Vec<(u32, u32, u8)>, NearRepeatError> {
            cancel.check()?;
            let mut out = Vec::new();
            for &i in chunk {
                let e = &events[i];
                let (cx, cy) = key(e);
                for nx in cx - 1..=cx + 1 {
                    for ny in cy - 1..=cy + 1 {
                        let Some(bucket) = buckets.get(&(nx, ny)) else {
                            continue;
                        };
                        for &j in bucket {
                            if (j as usize) <= i {
                                continue;
                            }
                            let row = binner.row(e, &events[j as usize]);
                            if row < far_row {
                                out.push((i as u32, j, row as u8));
                            }
                        }
                    }
                }
            }
            let total =
                found.fetch_add(out.len(), std::sync::atomic::Ordering::Relaxed) + out.len();
            if total > MAX_CLOSE_PAIRS {
                return Err(NearRepeatError::TooManyClosePairs { pairs: total });
            }
            Ok(out)
        })
        .collect::<Result<_, _>>()?;
    let mut per_row = vec![0usize; far_row];
    for &(_, _, r) in chunks.iter().flatten() {
        per_row[r as usize] += 1;
    }
    let mut first = Vec::with_capacity(far_row + 1);
    let mut at = 0;
    for n in &per_row {
        first.push(at);
        at += n;
    }
    first.push(at);
    let mut next = first.clone();
    let (mut a, mut b) = (vec![0u32; at], vec![0u32; at]);
    for &(i, j, r) in chunks.iter().flatten() {
        let k = &mut next[r as usize];
        a[*k] = i;
        b[*k] = j;
        *k += 1;
    }
    Ok(ClosePairs { a, b, first })
}

/// Pairs per time band over all `n(n-1)/2` pairs (a permutation does not change them).
fn column_totals(days: &[i64], bounds: &[u32], pairs: u64) -> Vec<u64> {
    let mut sorted = days.to_vec();
    sorted.sort_unstable();
    // Pairs with a day difference below each bound, by a sliding window over the sorted days.
    let below: Vec<u64> = bounds
        .iter()
        .map(|&bound| {
            let mut count = 0u64;
            let mut lo = 0;
            for (hi, &day) in sorted.iter().enumerate() {
                while day - sorted[lo] >= i64::from(bound) {
                    lo += 1;
                }
                count += (hi - lo) as u64;
            }
            count
        })
        .collect();
    let mut totals = Vec::with_capacity(bounds.len() + 1);
    let mut previous = 0;
    for b in below {
        totals.push(b - previous);
        previous = b;
    }
    totals.push(pairs - previous);
    totals
}

/// Counts the close pairs per (row, column) with the days `days` into `counts` (close rows only, row-major).
fn count_close(
    pairs: &ClosePairs,
    days: &[i64],
    column_of: &[u8],
    columns: usize,
    counts: &mut [u64],
    cancel: &Cancel,
) -> Result<(), Cancelled> {
    counts.iter_mut().for_each(|c| *c = 0);
    let last = column_of.len() - 1;
    for row in 0..pairs.first.len() - 1 {
        let cells = &mut counts[row * columns..(row + 1) * columns];
        let range = pairs.first[row]..pairs.first[row + 1];
        for (a, b) in pairs.a[range.clone()]
            .chunks(PAIRS_PER_CHECK)
            .zip(pairs.b[range].chunks(PAIRS_PER_CHECK))
        {
            cancel.check()?;
            for (&i, &j) in a.iter().zip(b) {
                let diff = (days[i as usize] - days[j as usize]).unsigned_abs() as usize;
                cells[column_of[diff.min(last)] as usize] += 1;
            }
        }
    }
    Ok(())
}

/// The running Monte Carlo sums of every cell.
struct Tally {
    at_least: Vec<u64>,
    sum: Vec<u64>,
}

impl Tally {
    fn new(cells: usize) -> Tally {
        Tally {
            at_least: vec![0; cells],
            sum: vec![0; cells],
        }
    }

    fn add(&mut self, simulated: &[u64], observed: &[u64]) {
        for ((k, &s), &o) in simulated.iter().enumerate().zip(observed) {
            self.sum[k] += s;
            self.at_least[k] += u64::from(s >= o);
        }
    }

    fn merge(mut self, other: Tally) -> Tally {
        for (a, b) in self.at_least.iter_mut().zip(other.at_least) {
            *a += b;
        }
        for (a, b) in self.sum.iter_mut().zip(other.sum) {
            *a += b;
        }
        self
    }
}

/// Completes a table of close-row counts with the far row (column totals minus the close rows).
fn with_far_row(close: &[u64], column_totals: &[u64], full: &mut [u64]) {
    let columns = column_totals.len();
    full[..close.len()].copy_from_slice(close);
    for (t, total) in column_totals.iter().enumerate() {
        let near: u64 = close.iter().skip(t).step_by(columns).sum();
        full[close.len() + t] = total - near;
    }
}

/// The Knox test of `events` (see the module docs). Checks `cancel` between bounded pieces of work.
pub fn knox(
    events: &[NearRepeatEvent],
    params: &KnoxParams,
    cancel: &Cancel,
) -> Result<KnoxTable, NearRepeatError> {
    validate(params, events.len())?;
    if let Some(i) = events
        .iter()
        .position(|e| !(e.x_m.is_finite() && e.y_m.is_finite()))
    {
        return Err(NearRepeatError::BadCoordinate(i));
    }
    let binner = DistanceBinner {
        bounds: params.distance_bands_m.clone(),
        bounds32: params.distance_bands_m.iter().map(|&b| b as f32).collect(),
        metric: params.metric,
        nrc: params.nrc_compatible,
    };
    let n = events.len() as u64;
    let pairs = n * (n - 1) / 2;
    let rows = params.distance_bands_m.len() + 2;
    let columns = params.time_bands_days.len() + 1;
    let close_cells = (rows - 1) * columns;

    let close = close_pairs(events, &binner, cancel)?;
    cancel.check()?;
    let days: Vec<i64> = events.iter().map(|e| e.day).collect();
    let col_totals = column_totals(&days, &params.time_bands_days, pairs);
    // Column of every day difference up to the last bound (the last entry is the open band).
    let last_bound = *params.time_bands_days.last().unwrap_or(&1) as usize;
    let column_of: Vec<u8> = (0..=last_bound)
        .map(|d| {
            params
                .time_bands_days
                .partition_point(|&b| (b as usize) <= d) as u8
        })
        .collect();

    let mut close_observed = vec![0u64; close_cells];
    count_close(
        &close,
        &days,
        &column_of,
        columns,
        &mut close_observed,
        cancel,
    )?;
    let mut observed = vec![0u64; rows * columns];
    with_far_row(&close_observed, &col_totals, &mut observed);

    let tally = (0..params.iterations)
        .into_par_iter()
        .try_fold(
            || {
                (
                    Tally::new(rows * columns),
                    days.clone(),
                    vec![0u64; close_cells],
                    vec![0u64; rows * columns],
                )
            },
            |(mut tally, mut shuffled, mut sim_close, mut sim), iteration| {
                let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
                rng.set_stream(u64::from(iteration));
                shuffled.copy_from_slice(&days);
                shuffled.shuffle(&mut rng);
                count_close(
                    &close,
                    &shuffled,
                    &column_of,
                    columns,
                    &mut sim_close,
                    cancel,
                )?;
                with_far_row(&sim_close, &col_totals, &mut sim);
                tally.add(&sim, &observed);
                Ok::<_, Cancelled>((tally, shuffled, sim_close, sim))
            },
        )
        .map(|r| r.map(|(tally, ..)| tally))
        .try_reduce(|| Tally::new(rows * columns), |a, b| Ok(a.merge(b)))?;

    let mut row_totals: Vec<u64> = (0..rows - 1)
        .map(|r| (close.first[r + 1] - close.first[r]) as u64)
        .collect();
    row_totals.push(pairs - row_totals.iter().sum::<u64>());

    let distance_bands = distance_labels(&params.distance_bands_m);
    let time_bands = time_labels(&params.time_bands_days);
    let iterations = u64::from(params.iterations);
    let mut cells = Vec::with_capacity(rows * columns);
    for (r, row_label) in distance_bands.iter().enumerate() {
        for (t, time_label) in time_bands.iter().enumerate() {
            let k = r * columns + t;
            let expected = tally.sum[k] as f64 / iterations as f64;
            // Exact integer product (both factors are at most the pairs), one rounding in the division.
            let expected_analytic =
                (u128::from(row_totals[r]) * u128::from(col_totals[t])) as f64 / pairs as f64;
            cells.push(KnoxCell {
                distance_band: row_label.clone(),
                time_band: time_label.clone(),
                observed: observed[k],
                expected,
                ratio: ratio(observed[k] as f64, expected),
                p: p_from_counts(tally.at_least[k], iterations),
                expected_analytic,
                ratio_analytic: ratio(observed[k] as f64, expected_analytic),
            });
        }
    }
    Ok(KnoxTable {
        events: events.len(),
        pairs,
        close_pairs: close.a.len() as u64,
        iterations: params.iterations,
        seed: params.seed,
        metric: params.metric,
        nrc_compatible: params.nrc_compatible,
        distance_bands,
        time_bands,
        row_totals,
        column_totals: col_totals,
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(d: &[f64], t: &[u32], iterations: u32) -> KnoxParams {
        KnoxParams {
            distance_bands_m: d.to_vec(),
            time_bands_days: t.to_vec(),
            metric: Metric::Euclidean,
            iterations,
            seed: 7,
            nrc_compatible: false,
        }
    }

    fn ev(x: f64, y: f64, day: i64) -> NearRepeatEvent {
        NearRepeatEvent {
            x_m: x,
            y_m: y,
            day,
        }
    }

    /// Every pair counted by brute force with the same band rules.
    fn brute_force(events: &[NearRepeatEvent], p: &KnoxParams) -> Vec<u64> {
        let columns = p.time_bands_days.len() + 1;
        let mut table = vec![0; (p.distance_bands_m.len() + 2) * columns];
        for i in 0..events.len() {
            for j in i + 1..events.len() {
                let (dx, dy) = (events[i].x_m - events[j].x_m, events[i].y_m - events[j].y_m);
                let d = match p.metric {
                    Metric::Euclidean => dx.hypot(dy),
                    Metric::Manhattan => dx.abs() + dy.abs(),
                };
                let row = if d == 0.0 {
                    0
                } else {
                    1 + p.distance_bands_m.iter().filter(|&&b| b <= d).count()
                };
                let dt = (events[i].day - events[j].day).unsigned_abs();
                let col = p
                    .time_bands_days
                    .iter()
                    .filter(|&&b| u64::from(b) <= dt)
                    .count();
                table[row * columns + col] += 1;
            }
        }
        table
    }

    fn scattered(n: usize, seed: u64) -> Vec<NearRepeatEvent> {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                // Some events on a 50 m lattice so that equal locations and exact band edges occur.
                let (x, y) = if rng.gen_bool(0.3) {
                    (
                        f64::from(rng.gen_range(0..20)) * 50.0,
                        f64::from(rng.gen_range(0..20)) * 50.0,
                    )
                } else {
                    (rng.gen_range(0.0..1000.0), rng.gen_range(0.0..1000.0))
                };
                ev(x, y, rng.gen_range(0..120))
            })
            .collect()
    }

    #[test]
    fn observed_equals_brute_force_for_both_metrics() {
        let events = scattered(400, 3);
        for metric in [Metric::Euclidean, Metric::Manhattan] {
            let mut p = params(&[50.0, 100.0, 150.0, 200.0], &[7, 14, 21, 28], 19);
            p.metric = metric;
            let table = knox(&events, &p, &Cancel::never()).unwrap();
            let observed: Vec<u64> = table.cells.iter().map(|c| c.observed).collect();
            assert_eq!(observed, brute_force(&events, &p), "{metric:?}");
            assert_eq!(table.pairs, 400 * 399 / 2);
            assert_eq!(table.row_totals.iter().sum::<u64>(), table.pairs);
            assert_eq!(table.column_totals.iter().sum::<u64>(), table.pairs);
            assert_eq!(observed.iter().sum::<u64>(), table.pairs);
        }
    }

    #[test]
    fn labels_state_the_half_open_intervals() {
        assert_eq!(
            distance_labels(&[100.0, 200.0, 300.0]),
            ["0", "(0,100)", "[100,200)", "[200,300)", "[300,inf)"]
        );
        assert_eq!(distance_labels(&[12.5]), ["0", "(0,12.5)", "[12.5,inf)"]);
        assert_eq!(time_labels(&[7, 14]), ["[0,7)", "[7,14)", "[14,inf)"]);
    }

    #[test]
    fn band_edges_are_half_open() {
        // Pairs: 0 m and 7 days; 100 m and 6 days; 100 m and 1 day; 99.5 m and 7 days.
        let events = [ev(0.0, 0.0, 0), ev(0.0, 0.0, 7), ev(100.0, 0.0, 6)];
        let p = params(&[100.0, 200.0], &[7], 19);
        let t = knox(&events, &p, &Cancel::never()).unwrap();
        assert_eq!(t.cell(0, 1).observed, 1); // same location, 7 days: [7,inf)
        assert_eq!(t.cell(2, 0).observed, 2); // 100 m, 6 and 1 days: [100,200) x [0,7)
        assert_eq!(t.cell(2, 0).distance_band, "[100,200)");
        let t = knox(&[ev(0.0, 0.0, 0), ev(99.5, 0.0, 7)], &p, &Cancel::never()).unwrap();
        assert_eq!(t.cell(1, 1).observed, 1); // (0,100) x [7,inf)
    }

    #[test]
    fn the_same_seed_gives_the_same_table_and_the_mean_approaches_the_exact_expectation() {
        let events = scattered(300, 11);
        let p = params(&[100.0, 200.0], &[7, 14], 999);
        let a = knox(&events, &p, &Cancel::never()).unwrap();
        let b = knox(&events, &p, &Cancel::never()).unwrap();
        assert_eq!(a, b);
        let other = knox(
            &events,
            &KnoxParams {
                seed: 8,
                ..p.clone()
            },
            &Cancel::never(),
        )
        .unwrap();
        assert_ne!(a.cells, other.cells);
        for c in &a.cells {
            // The Monte Carlo mean of 999 permutations is within 5 standard errors of the exact mean; the
            // variance of a cell count is at most its mean times a small factor for these sparse cells.
            let se = (c.expected_analytic.max(1.0) * 3.0 / 999.0).sqrt();
            assert!(
                (c.expected - c.expected_analytic).abs() <= 5.0 * se,
                "{c:?}"
            );
            assert!(c.p > 0.0 && c.p <= 1.0);
        }
    }

    #[test]
    fn a_planted_near_repeat_cluster_is_significant() {
        use rand::Rng;
        // A year of 300 events spread over 10 x 10 km, then 20 pairs: a second event 20 m away two days later.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut events: Vec<NearRepeatEvent> = (0..300)
            .map(|_| {
                ev(
                    rng.gen_range(0.0..10_000.0),
                    rng.gen_range(0.0..10_000.0),
                    rng.gen_range(0..365),
                )
            })
            .collect();
        for k in 0..20 {
            let e = events[k];
            events.push(ev(e.x_m + 20.0, e.y_m, e.day + 2));
        }
        let p = params(&[50.0, 100.0], &[7, 14], 199);
        let t = knox(&events, &p, &Cancel::never()).unwrap();
        let near = t.cell(1, 0);
        assert!(near.ratio.unwrap() > 2.0, "{near:?}");
        assert!(near.p <= 0.01, "{near:?}");
        assert!(near.ratio_analytic.unwrap() > 2.0);
    }

    #[test]
    fn the_monte_carlo_arithmetic() {
        assert_eq!(monte_carlo_p(5, &[1, 5, 7, 2]), 3.0 / 5.0);
        assert_eq!(monte_carlo_p(9, &[1, 5, 7, 2]), 1.0 / 5.0);
        assert_eq!(simulation_ratio(6, &[1, 5]), Some(2.0));
        assert_eq!(simulation_ratio(6, &[0, 0]), None);
    }

    #[test]
    fn bad_settings_name_the_parameter() {
        let events = scattered(10, 1);
        let cases = [
            (params(&[], &[7], 99), "distance_bands"),
            (params(&[100.0, 100.0], &[7], 99), "distance_bands"),
            (params(&[-1.0], &[7], 99), "distance_bands"),
            (params(&[f64::NAN], &[7], 99), "distance_bands"),
            (params(&[100.0], &[14, 7], 99), "time_bands"),
            (params(&[100.0], &[0, 7], 99), "time_bands"),
            (params(&[100.0], &[], 99), "time_bands"),
            (params(&[100.0], &[7], 18), "iterations"),
            (params(&[100.0], &[7], 10_000), "iterations"),
        ];
        for (p, name) in cases {
            let e = knox(&events, &p, &Cancel::never()).unwrap_err();
            assert_eq!(e.parameter(), Some(name), "{p:?}: {e}");
        }
        let e = knox(&events[..1], &params(&[100.0], &[7], 99), &Cancel::never()).unwrap_err();
        assert_eq!(e, NearRepeatError::TooFewEvents(1));
        assert_eq!(e.parameter(), Some("events"));
    }

    #[test]
    fn a_cancelled_token_stops_the_test() {
        let (cancel, guard) = Cancel::new();
        drop(guard);
        let e = knox(&scattered(50, 2), &params(&[100.0], &[7], 99), &cancel).unwrap_err();
        assert_eq!(e, NearRepeatError::Cancelled(Cancelled));
    }

    #[test]
    fn nrc_mode_computes_distances_in_single_precision() {
        // 0.01 m apart at 500 km: equal in f32 (same location), distinct in f64.
        let events = [ev(500_000.0, 0.0, 0), ev(500_000.01, 0.0, 0)];
        let mut p = params(&[100.0], &[7], 19);
        assert_eq!(
            knox(&events, &p, &Cancel::never())
                .unwrap()
                .cell(1, 0)
                .observed,
            1
        );
        p.nrc_compatible = true;
        assert_eq!(
            knox(&events, &p, &Cancel::never())
                .unwrap()
                .cell(0, 0)
                .observed,
            1
        );
    }
}
