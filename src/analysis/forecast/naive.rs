//! Naive forecast: the number of incidents per cell in the window before `at` (open_cp's
//! `naive.CountingGridKernel` for [`Window::All`]). Cost: one pass over the incidents plus the grid.
//!
//! ```
//! use brandpunt::analysis::forecast::{naive::naive, GridSpec, Window};
//! use brandpunt::analysis::kde::Extent;
//! use brandpunt::analysis::Event;
//! use brandpunt::cancel::Cancel;
//! use chrono::NaiveDate;
//!
//! let day = |d: u32| NaiveDate::from_ymd_opt(2024, 3, d).unwrap().and_hms_opt(8, 0, 0);
//! let ev = |x_m: f64, d: u32| Event { x_m, y_m: 5.0, begin: day(d), end: day(d), weight: 1.0 };
//! let grid = GridSpec::covering(
//!     Extent { minx_m: 0.0, miny_m: 0.0, maxx_m: 20.0, maxy_m: 10.0 },
//!     10.0,
//! )
//! .unwrap();
//! let at = NaiveDate::from_ymd_opt(2024, 3, 10).unwrap().and_hms_opt(0, 0, 0).unwrap();
//! let events = [ev(1.0, 1), ev(2.0, 8), ev(15.0, 9), ev(15.0, 10)];
//! let last7 = naive(&events, &grid, at, Window::Days(7), &Cancel::never()).unwrap();
//! assert_eq!(last7.grid.values, vec![1.0, 1.0]);
//! ```

use chrono::NaiveDateTime;

use super::{event_time, Forecast, ForecastError, ForecastGrid, GridSpec, Window, CANCEL_EVERY};
use crate::analysis::Event;
use crate::cancel::Cancel;

/// Incidents per cell with `t` in `window` before `at`; `events_used` counts those inside the grid.
pub fn naive(
    events: &[Event],
    grid: &GridSpec,
    at: NaiveDateTime,
    window: Window,
    cancel: &Cancel,
) -> Result<Forecast, ForecastError> {
    let mut out = ForecastGrid::zeros(*grid);
    let mut used = 0;
    for chunk in events.chunks(CANCEL_EVERY) {
        cancel.check()?;
        for e in chunk {
            if !event_time(e).is_some_and(|t| window.holds(t, at)) {
                continue;
            }
            if let Some(k) = grid.cell_of(e.x_m, e.y_m) {
                out.values[k] += 1.0;
                used += 1;
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
    use chrono::NaiveDate;

    #[test]
    fn counts_only_the_window_and_the_grid() {
        let t = |d: u32, h: u32| {
            NaiveDate::from_ymd_opt(2024, 1, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
        };
        let ev = |x_m: f64, y_m: f64, d: u32, h: u32| Event {
            x_m,
            y_m,
            begin: t(d, h),
            end: t(d, h),
            weight: 7.0,
        };
        let grid = GridSpec::covering(
            Extent {
                minx_m: 0.0,
                miny_m: 0.0,
                maxx_m: 100.0,
                maxy_m: 100.0,
            },
            50.0,
        )
        .unwrap();
        let at = t(29, 0).unwrap();
        let events = vec![
            ev(0.0, 0.0, 1, 0),     // all only
            ev(50.0, 0.0, 1, 0),    // all only, cell 1 (left edge belongs to the cell)
            ev(10.0, 60.0, 28, 23), // row 1, col 0
            ev(10.0, 60.0, 29, 0),  // at `at`: not used
            ev(100.0, 10.0, 28, 0), // outside (east edge)
            Event {
                begin: None,
                end: None,
                ..ev(10.0, 10.0, 2, 0)
            },
        ];
        let all = naive(&events, &grid, at, Window::All, &Cancel::never()).unwrap();
        assert_eq!(all.grid.values, vec![1.0, 1.0, 1.0, 0.0]);
        assert_eq!(all.events_used, 3);
        let week = naive(&events, &grid, at, Window::Days(7), &Cancel::never()).unwrap();
        assert_eq!(week.grid.values, vec![0.0, 0.0, 1.0, 0.0]);
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert!(matches!(
            naive(&events, &grid, at, Window::All, &cancel),
            Err(ForecastError::Cancelled(_))
        ));
    }
}
