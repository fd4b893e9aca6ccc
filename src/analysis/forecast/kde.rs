//! Retrospective quartic forecast (open_cp's `retrohotspot.RetroHotSpotGrid` with its `Quartic` weight):
//! `risk = sum over incidents e in the window of (1 - D_e / h^2)^2 [D_e <= h^2]`, `D_e` the squared distance
//! from the **cell centre** to `e` and `h` the bandwidth in metres.
//!
//! This is open_cp's un-normalised form: the density of [`crate::analysis::kde`] (quartic, per km2, volume 1)
//! times `pi h^2 / 3 / 1e6`. The ranking of the cells is the same; the un-normalised values are what the oracle
//! compares. The kernel sum is the parallel KDE core ([`crate::analysis::kde::kde_raster`] in `f64`), so the cost
//! is the window's incidents times the `(2h / c)^2` cells of a kernel disc plus the grid.
//!
//! ```
//! use brandpunt::analysis::forecast::{kde::retro_quartic, GridSpec, Window};
//! use brandpunt::analysis::kde::Extent;
//! use brandpunt::analysis::Event;
//! use brandpunt::cancel::Cancel;
//! use chrono::NaiveDate;
//!
//! let t = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(8, 0, 0);
//! // One incident at the centre of cell 0 and one 100 m east of it (at the centre of cell 2).
//! let events = [
//!     Event { x_m: 25.0, y_m: 25.0, begin: t, end: t, weight: 1.0 },
//!     Event { x_m: 125.0, y_m: 25.0, begin: t, end: t, weight: 1.0 },
//! ];
//! let grid = GridSpec::covering(
//!     Extent { minx_m: 0.0, miny_m: 0.0, maxx_m: 150.0, maxy_m: 50.0 },
//!     50.0,
//! )
//! .unwrap();
//! let at = NaiveDate::from_ymd_opt(2024, 3, 2).unwrap().and_hms_opt(0, 0, 0).unwrap();
//! let f = retro_quartic(&events, &grid, at, Window::All, 200.0, &Cancel::never()).unwrap();
//! // Cell 0: 1 + (1 - 100^2/200^2)^2 = 1.5625.
//! assert!((f.grid.values[0] - 1.5625).abs() < 1e-12);
//! ```

use chrono::NaiveDateTime;
use std::f64::consts::PI;

use super::{event_time, Forecast, ForecastError, ForecastGrid, GridSpec, Window};
use crate::analysis::kde::{kde_raster, Kde, KdeParams, Kernel};
use crate::analysis::Event;
use crate::cancel::Cancel;

/// Un-normalised quartic kernel sum (bandwidth `bandwidth_m`) of the incidents in `window` before `at`, at the
/// cell centres. `events_used` counts the incidents in the window (also those outside the grid: their kernel
/// can reach into it).
pub fn retro_quartic(
    events: &[Event],
    grid: &GridSpec,
    at: NaiveDateTime,
    window: Window,
    bandwidth_m: f64,
    cancel: &Cancel,
) -> Result<Forecast, ForecastError> {
    if !(bandwidth_m.is_finite() && bandwidth_m > 0.0) {
        return Err(ForecastError::InvalidParameter {
            parameter: "--bandwidth",
            reason: format!("must be finite and > 0 m, got {bandwidth_m}"),
        });
    }
    cancel.check()?;
    let used: Vec<Event> = events
        .iter()
        .filter(|e| event_time(e).is_some_and(|t| window.holds(t, at)))
        .filter(|e| e.x_m.is_finite() && e.y_m.is_finite())
        .map(|e| Event {
            weight: 1.0,
            ..e.clone()
        })
        .collect();
    cancel.check()?;
    let params = KdeParams {
        kernel: Kernel::Quartic,
        bandwidth_m: Some(bandwidth_m),
        extent_m: Some(grid.extent()),
        ..KdeParams::new(grid.cell_m)
    };
    let kde: Kde<f64> =
        kde_raster(&used, &params).map_err(|e| ForecastError::InvalidParameter {
            parameter: "--bandwidth",
            reason: e.to_string(),
        })?;
    cancel.check()?;
    // Density per km2 -> un-normalised kernel sum.
    let scale = PI * bandwidth_m * bandwidth_m / 3.0 / 1e6;
    let r = &kde.raster;
    debug_assert_eq!((r.width, r.height), (grid.ncols, grid.nrows));
    let mut out = ForecastGrid::zeros(*grid);
    for row in 0..grid.nrows {
        let src = &r.values[(grid.nrows - 1 - row) * r.width..(grid.nrows - row) * r.width];
        for (d, s) in out.values[row * grid.ncols..(row + 1) * grid.ncols]
            .iter_mut()
            .zip(src)
        {
            *d = s * scale;
        }
    }
    Ok(Forecast {
        grid: out,
        events_used: used.len(),
        sepp: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::kde::Extent;
    use chrono::NaiveDate;

    #[test]
    fn matches_the_direct_sum_and_uses_only_the_window() {
        let t = |d: u32| {
            NaiveDate::from_ymd_opt(2024, 1, d)
                .unwrap()
                .and_hms_opt(0, 0, 0)
        };
        let pts = [
            (13.0, 7.0, 1),
            (180.0, 90.0, 5),
            (333.0, 250.0, 9),
            (-90.0, 20.0, 9),
        ];
        let events: Vec<Event> = pts
            .iter()
            .map(|&(x_m, y_m, d)| Event {
                x_m,
                y_m,
                begin: t(d),
                end: t(d),
                weight: 3.0,
            })
            .chain(std::iter::once(Event {
                x_m: 100.0,
                y_m: 100.0,
                begin: t(20),
                end: t(20),
                weight: 1.0,
            }))
            .collect();
        // An extent that is not a multiple of the cell: the grid reaches past its north-east corner.
        let grid = GridSpec::covering(
            Extent {
                minx_m: 0.0,
                miny_m: 0.0,
                maxx_m: 390.0,
                maxy_m: 260.0,
            },
            40.0,
        )
        .unwrap();
        assert_eq!((grid.ncols, grid.nrows), (10, 7));
        let at = t(10).unwrap();
        let h = 150.0;
        let f = retro_quartic(&events, &grid, at, Window::All, h, &Cancel::never()).unwrap();
        assert_eq!(f.events_used, 4);
        for k in 0..grid.len() {
            let (cx, cy) = grid.centre_m(k);
            let expected: f64 = pts
                .iter()
                .map(|&(x, y, _)| {
                    let d2 = (cx - x).powi(2) + (cy - y).powi(2);
                    if d2 <= h * h {
                        (1.0 - d2 / (h * h)).powi(2)
                    } else {
                        0.0
                    }
                })
                .sum();
            assert!((f.grid.values[k] - expected).abs() < 1e-12, "cell {k}");
        }
        let recent =
            retro_quartic(&events, &grid, at, Window::Days(3), h, &Cancel::never()).unwrap();
        assert_eq!(recent.events_used, 2);
        assert!(retro_quartic(&events, &grid, at, Window::All, 0.0, &Cancel::never()).is_err());
    }
}
