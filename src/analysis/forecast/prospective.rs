//! Prospective hot spot (Bowers, Johnson & Pease 2004) as open_cp's `prohotspot.ProspectiveHotSpot` with its
//! defaults (`ClassicWeight`, `DistanceDiagonalsSame`, time unit one week):
//!
//! `risk(cell) = sum over incidents e before at of [w_e < W] [d_e < S] / ((1 + d_e)(1 + w_e))`, where
//! - `w_e = floor((at - t_e) / 7 days)`, the age in **whole weeks** (exactly 7 days is 1; exactly `W` weeks
//!   gets weight 0);
//! - `d_e = max(|col - col_e|, |row - row_e|)`, the Chebyshev (l-infinity) distance between cell indices, with
//!   `(col_e, row_e)` the cell of `e` (also outside the grid: an incident just outside still raises the cells
//!   near the edge);
//! - `S` = `space_cells` (default 8) and `W` = `time_weeks` (default 8); both cut-offs are strict.
//!
//! The weight is not normalised. Cost: one pass over the incidents (summing `1 / (1 + w_e)` per source cell),
//! then a sparse sum over the source cells' `(2S - 1)^2` neighbourhoods (never cells x incidents).
//!
//! ```
//! use brandpunt::analysis::forecast::{prospective::prospective, GridSpec};
//! use brandpunt::analysis::kde::Extent;
//! use brandpunt::analysis::Event;
//! use brandpunt::cancel::Cancel;
//! use chrono::{Duration, NaiveDate};
//!
//! let at = NaiveDate::from_ymd_opt(2024, 2, 14).unwrap().and_hms_opt(0, 0, 0).unwrap();
//! // 10 days old: 1 whole week.
//! let t = Some(at - Duration::days(10));
//! let events = [Event { x_m: 5.0, y_m: 5.0, begin: t, end: t, weight: 1.0 }];
//! let grid = GridSpec::covering(
//!     Extent { minx_m: 0.0, miny_m: 0.0, maxx_m: 30.0, maxy_m: 10.0 },
//!     10.0,
//! )
//! .unwrap();
//! let f = prospective(&events, &grid, at, 8, 8, &Cancel::never()).unwrap();
//! assert_eq!(f.grid.values, vec![1.0 / 2.0, 1.0 / 4.0, 1.0 / 6.0]);
//! ```

use chrono::NaiveDateTime;

use super::{event_time, Forecast, ForecastError, ForecastGrid, GridSpec, CANCEL_EVERY};
use crate::analysis::Event;
use crate::cancel::Cancel;

/// Largest `space_cells`.
pub const MAX_SPACE_CELLS: u32 = 200;
/// Largest `time_weeks` (10 years).
pub const MAX_TIME_WEEKS: u32 = 520;

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// The prospective hot spot risk at `at` (see the module docs). `events_used` counts the incidents with a
/// non-zero weight somewhere in the grid's neighbourhood.
pub fn prospective(
    events: &[Event],
    grid: &GridSpec,
    at: NaiveDateTime,
    space_cells: u32,
    time_weeks: u32,
    cancel: &Cancel,
) -> Result<Forecast, ForecastError> {
    if !(1..=MAX_SPACE_CELLS).contains(&space_cells) {
        return Err(ForecastError::InvalidParameter {
            parameter: "--space-cells",
            reason: format!("must be 1..={MAX_SPACE_CELLS}, got {space_cells}"),
        });
    }
    if !(1..=MAX_TIME_WEEKS).contains(&time_weeks) {
        return Err(ForecastError::InvalidParameter {
            parameter: "--time-weeks",
            reason: format!("must be 1..={MAX_TIME_WEEKS}, got {time_weeks}"),
        });
    }
    // Source grid: the grid grown by the largest distance that still has weight.
    let m = (space_cells - 1) as usize;
    let (sw, sh) = (grid.ncols + 2 * m, grid.nrows + 2 * m);
    let mut source = vec![0.0f64; sw * sh];
    let mut used = 0;
    for chunk in events.chunks(CANCEL_EVERY) {
        cancel.check()?;
        for e in chunk {
            let Some(t) = event_time(e) else { continue };
            if t >= at {
                continue;
            }
            let weeks = (at - t).num_milliseconds() / WEEK_MS;
            if weeks >= i64::from(time_weeks) {
                continue;
            }
            let Some((col, row)) = grid.col_row(e.x_m, e.y_m) else {
                continue;
            };
            let (sc, sr) = (col + m as i64, row + m as i64);
            if sc < 0 || sr < 0 || sc >= sw as i64 || sr >= sh as i64 {
                continue;
            }
            source[sr as usize * sw + sc as usize] += 1.0 / (1.0 + weeks as f64);
            used += 1;
        }
    }
    let inv: Vec<f64> = (0..=m).map(|d| 1.0 / (1.0 + d as f64)).collect();
    let mut out = ForecastGrid::zeros(*grid);
    let (nc, nr) = (grid.ncols as i64, grid.nrows as i64);
    let mut seen = 0usize;
    for (k, &s) in source.iter().enumerate() {
        if s == 0.0 {
            continue;
        }
        seen += 1;
        if seen % 1024 == 0 {
            cancel.check()?;
        }
        // Source cell in grid indices.
        let (sc, sr) = ((k % sw) as i64 - m as i64, (k / sw) as i64 - m as i64);
        let m = m as i64;
        let (c0, c1) = ((sc - m).max(0), (sc + m).min(nc - 1));
        let (r0, r1) = ((sr - m).max(0), (sr + m).min(nr - 1));
        for r in r0..=r1 {
            let dr = (r - sr).abs();
            let line = &mut out.values[(r * nc) as usize..((r + 1) * nc) as usize];
            for c in c0..=c1 {
                let d = (c - sc).abs().max(dr) as usize;
                line[c as usize] += s * inv[d];
            }
        }
    }
    Ok(Forecast {
        grid: out,
        events_used: used,
        sepp: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::kde::Extent;
    use chrono::{Duration, NaiveDate};

    /// Direct cells x incidents sum, the definition.
    fn direct(events: &[Event], grid: &GridSpec, at: NaiveDateTime, s: i64, w: i64) -> Vec<f64> {
        (0..grid.len())
            .map(|k| {
                let (col, row) = ((k % grid.ncols) as i64, (k / grid.ncols) as i64);
                events
                    .iter()
                    .filter_map(|e| {
                        let t = event_time(e)?;
                        if t >= at {
                            return None;
                        }
                        let weeks = (at - t).num_seconds().div_euclid(7 * 86_400);
                        let (ec, er) = grid.col_row(e.x_m, e.y_m)?;
                        let d = (col - ec).abs().max((row - er).abs());
                        (weeks < w && d < s)
                            .then(|| 1.0 / ((1.0 + d as f64) * (1.0 + weeks as f64)))
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn sparse_sum_equals_the_definition() {
        let at = NaiveDate::from_ymd_opt(2024, 2, 14)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let mut events = Vec::new();
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..300 {
            let t = at - Duration::minutes((next() * 70.0 * 1440.0) as i64);
            events.push(Event {
                x_m: -100.0 + next() * 800.0,
                y_m: -100.0 + next() * 600.0,
                begin: Some(t),
                end: Some(t),
                weight: 1.0,
            });
        }
        // Edge ages: exactly 1 week, exactly 3 weeks (weight 0 for W = 3), 1 minute under, at `at`.
        for (age, x) in [
            (Duration::weeks(1), 55.0),
            (Duration::weeks(3), 155.0),
            (Duration::weeks(3) - Duration::minutes(1), 255.0),
            (Duration::zero(), 355.0),
        ] {
            let t = Some(at - age);
            events.push(Event {
                x_m: x,
                y_m: 55.0,
                begin: t,
                end: t,
                weight: 1.0,
            });
        }
        let grid = GridSpec::covering(
            Extent {
                minx_m: 0.0,
                miny_m: 0.0,
                maxx_m: 600.0,
                maxy_m: 400.0,
            },
            25.0,
        )
        .unwrap();
        for (s, w) in [(8, 8), (3, 3), (1, 1)] {
            let f = prospective(&events, &grid, at, s, w, &Cancel::never()).unwrap();
            let want = direct(&events, &grid, at, s as i64, w as i64);
            for (a, b) in f.grid.values.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0));
            }
        }
        assert!(prospective(&events, &grid, at, 0, 8, &Cancel::never()).is_err());
        assert!(prospective(&events, &grid, at, 8, 0, &Cancel::never()).is_err());
    }
}
