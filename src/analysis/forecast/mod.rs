//! Grid forecasts: the risk of every cell of a square RD grid for the days from a forecast instant `at`,
//! computed only from the incidents strictly before `at` (the "when and where next" question).
//!
//! Four methods, one per file, each matching the open_cp library (QuantCrimAtLeeds/PredictCode) on the
//! committed oracle set (`tests/fixtures/forecast_open_cp/`):
//! - [`naive`]: incidents per cell in the last `N` days (or all before `at`);
//! - [`kde`]: retrospective quartic kernel sum at the cell centres (open_cp's un-normalised form);
//! - [`prospective`]: the prospective hot spot of Bowers, Johnson & Pease (2004): whole weeks, Chebyshev cell
//!   distance, weight `1 / ((1 + d)(1 + w))`, both cut-offs strict;
//! - [`sepp`]: the grid self-exciting point process of Mohler (2015), fitted by EM.
//!
//! # Grid
//! A [`GridSpec`] covers an extent `minx, miny, maxx, maxy` with `ceil((maxx - minx) / c)` columns and
//! `ceil((maxy - miny) / c)` rows anchored at the **lower-left** corner (open_cp's grid; the last column and row
//! may reach past `maxx`, `maxy`). The cell of a point is `col = floor((x - minx) / c)`,
//! `row = floor((y - miny) / c)` (half-open cells: lower and left edges belong to the cell), its centre
//! `(minx + (col + 0.5) c, miny + (row + 0.5) c)`. Values are stored row-major with the **southernmost row
//! first** (`values[row * ncols + col]`, open_cp's `intensity_matrix` order); [`GridSpec::to_raster`] gives the
//! north-up [`Raster`] for GeoTIFF output.
//!
//! # Time
//! The time of an incident is the start of its window (`begin`, else `end`), as in `analyse evaluate`; incidents
//! without a time are not used. Only incidents with time `< at` are used (an incident exactly at `at` belongs to
//! the forecast period). Each incident counts once (weights are ignored).
//!
//! ```
//! use brandpunt::analysis::forecast::{forecast, GridSpec, Method, Window};
//! use brandpunt::analysis::kde::Extent;
//! use brandpunt::analysis::Event;
//! use brandpunt::cancel::Cancel;
//! use chrono::NaiveDate;
//!
//! let t = |d: u32| NaiveDate::from_ymd_opt(2024, 1, d).unwrap().and_hms_opt(12, 0, 0);
//! let ev = |x_m: f64, y_m: f64, d: u32| Event { x_m, y_m, begin: t(d), end: t(d), weight: 1.0 };
//! let events = vec![ev(10.0, 10.0, 1), ev(12.0, 14.0, 2), ev(130.0, 60.0, 3), ev(10.0, 10.0, 20)];
//! let grid = GridSpec::covering(
//!     Extent { minx_m: 0.0, miny_m: 0.0, maxx_m: 150.0, maxy_m: 100.0 },
//!     50.0,
//! )
//! .unwrap();
//! let at = NaiveDate::from_ymd_opt(2024, 1, 10).unwrap().and_hms_opt(0, 0, 0).unwrap();
//! let f = forecast(&events, &grid, at, &Method::Naive { window: Window::All }, &Cancel::never()).unwrap();
//! // The incident of 20 January lies after `at` and is not used.
//! assert_eq!(f.grid.values, vec![2.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
//! assert_eq!(f.events_used, 3);
//! ```

pub mod kde;
pub mod naive;
pub mod prospective;
pub mod rolling;
pub mod sepp;

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

use super::kde::{Extent, Raster};
use super::Event;
use crate::cancel::{Cancel, Cancelled};

/// Largest number of cells of a forecast grid (a national 50 m grid has ~30 M cells over its bounding box).
pub const MAX_CELLS: usize = 200_000_000;

/// Errors of the forecasts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    /// The cell size must be finite and > 0.
    #[error("cell size must be finite and > 0 m, got {0}")]
    InvalidCellSize(f64),
    /// The extent must be finite with max > min.
    #[error(
        "invalid extent {minx_m},{miny_m},{maxx_m},{maxy_m}: needs finite values with max > min"
    )]
    InvalidExtent {
        /// West edge.
        minx_m: f64,
        /// South edge.
        miny_m: f64,
        /// East edge.
        maxx_m: f64,
        /// North edge.
        maxy_m: f64,
    },
    /// Too many cells.
    #[error("{cells} cells exceed the limit of {max}; choose a larger cell or a smaller extent")]
    TooManyCells {
        /// Cells asked for.
        cells: f64,
        /// The limit.
        max: usize,
    },
    /// A method parameter is out of range.
    #[error("{parameter}: {reason}")]
    InvalidParameter {
        /// The parameter's name (as the command line spells it).
        parameter: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The self-exciting model needs incidents at two or more distinct times inside the grid.
    #[error("the self-exciting model needs at least two incidents at different times inside the grid before the forecast instant, got {0}")]
    TooFewEvents(usize),
    /// The computation was cancelled.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// A square grid anchored at the lower-left corner of an extent (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GridSpec {
    /// West edge (m).
    pub minx_m: f64,
    /// South edge (m).
    pub miny_m: f64,
    /// Cell size (m).
    pub cell_m: f64,
    /// Number of columns.
    pub ncols: usize,
    /// Number of rows.
    pub nrows: usize,
}

impl GridSpec {
    /// The grid of `ceil(width / c) x ceil(height / c)` cells covering `extent` from its lower-left corner.
    pub fn covering(extent: Extent, cell_m: f64) -> Result<GridSpec, ForecastError> {
        if !(cell_m.is_finite() && cell_m > 0.0) {
            return Err(ForecastError::InvalidCellSize(cell_m));
        }
        let Extent {
            minx_m,
            miny_m,
            maxx_m,
            maxy_m,
        } = extent;
        let finite = [minx_m, miny_m, maxx_m, maxy_m]
            .iter()
            .all(|v| v.is_finite());
        if !(finite && maxx_m > minx_m && maxy_m > miny_m) {
            return Err(ForecastError::InvalidExtent {
                minx_m,
                miny_m,
                maxx_m,
                maxy_m,
            });
        }
        let fw = ((maxx_m - minx_m) / cell_m).ceil();
        let fh = ((maxy_m - miny_m) / cell_m).ceil();
        let cells = fw * fh;
        // `fits` is false for NaN too.
        let fits = cells <= MAX_CELLS as f64;
        if !fits {
            return Err(ForecastError::TooManyCells {
                cells,
                max: MAX_CELLS,
            });
        }
        Ok(GridSpec {
            minx_m,
            miny_m,
            cell_m,
            ncols: fw as usize,
            nrows: fh as usize,
        })
    }

    /// The grid over `extent` snapped outwards to multiples of `cell_m`: west/south edge `floor(min / c) c`,
    /// east/north edge `floor(max / c) c + c` (a point on the east or north edge still gets a cell).
    ///
    /// ```
    /// use brandpunt::analysis::forecast::GridSpec;
    /// use brandpunt::analysis::kde::Extent;
    ///
    /// let e = Extent { minx_m: 1_010.0, miny_m: 2_060.0, maxx_m: 1_500.0, maxy_m: 2_990.0 };
    /// let g = GridSpec::snapped_around(e, 125.0).unwrap();
    /// assert_eq!((g.minx_m, g.miny_m, g.ncols, g.nrows), (1_000.0, 2_000.0, 5, 8));
    /// ```
    pub fn snapped_around(extent: Extent, cell_m: f64) -> Result<GridSpec, ForecastError> {
        if !(cell_m.is_finite() && cell_m > 0.0) {
            return Err(ForecastError::InvalidCellSize(cell_m));
        }
        let down = |v: f64| (v / cell_m).floor() * cell_m;
        GridSpec::covering(
            Extent {
                minx_m: down(extent.minx_m),
                miny_m: down(extent.miny_m),
                maxx_m: down(extent.maxx_m) + cell_m,
                maxy_m: down(extent.maxy_m) + cell_m,
            },
            cell_m,
        )
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.ncols * self.nrows
    }

    /// Whether the grid has no cells (never for a grid made by [`GridSpec::covering`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Column and row of a point, also outside the grid (`None` for non-finite or absurdly far coordinates).
    pub fn col_row(&self, x_m: f64, y_m: f64) -> Option<(i64, i64)> {
        let col = ((x_m - self.minx_m) / self.cell_m).floor();
        let row = ((y_m - self.miny_m) / self.cell_m).floor();
        (col.abs() < 1e15 && row.abs() < 1e15).then_some((col as i64, row as i64))
    }

    /// Flat index `row * ncols + col` of the cell holding a point, `None` outside the grid.
    pub fn cell_of(&self, x_m: f64, y_m: f64) -> Option<usize> {
        let (col, row) = self.col_row(x_m, y_m)?;
        (col >= 0 && row >= 0 && (col as usize) < self.ncols && (row as usize) < self.nrows)
            .then(|| row as usize * self.ncols + col as usize)
    }

    /// Centre of the cell with flat index `k`.
    pub fn centre_m(&self, k: usize) -> (f64, f64) {
        let (row, col) = (k / self.ncols, k % self.ncols);
        (
            self.minx_m + (col as f64 + 0.5) * self.cell_m,
            self.miny_m + (row as f64 + 0.5) * self.cell_m,
        )
    }

    /// The extent the cells cover (up to `minx + ncols c`, `miny + nrows c`).
    pub fn extent(&self) -> Extent {
        Extent {
            minx_m: self.minx_m,
            miny_m: self.miny_m,
            maxx_m: self.minx_m + self.ncols as f64 * self.cell_m,
            maxy_m: self.miny_m + self.nrows as f64 * self.cell_m,
        }
    }

    /// The values (south row first) as a north-up raster (top row first), e.g. for GeoTIFF.
    pub fn to_raster(&self, values: &[f64]) -> Raster<f64> {
        let mut out = Vec::with_capacity(values.len());
        for row in (0..self.nrows).rev() {
            out.extend_from_slice(&values[row * self.ncols..(row + 1) * self.ncols]);
        }
        Raster {
            minx_m: self.minx_m,
            maxy_m: self.extent().maxy_m,
            cell_m: self.cell_m,
            width: self.ncols,
            height: self.nrows,
            values: out,
        }
    }
}

/// Risk per cell (see the module docs for the layout).
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastGrid {
    /// The grid.
    pub spec: GridSpec,
    /// One value per cell, `values[row * ncols + col]`, southernmost row first.
    pub values: Vec<f64>,
}

impl ForecastGrid {
    /// A grid of zeros.
    pub fn zeros(spec: GridSpec) -> ForecastGrid {
        ForecastGrid {
            spec,
            values: vec![0.0; spec.len()],
        }
    }
}

/// Which past incidents a method uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Window {
    /// Those of the last `n` days: `at - n days <= t < at`.
    Days(u32),
    /// Every incident before `at`.
    All,
}

impl Window {
    /// Whether an incident at `t` falls in the window before `at`.
    pub fn holds(self, t: NaiveDateTime, at: NaiveDateTime) -> bool {
        t < at
            && match self {
                Window::All => true,
                Window::Days(n) => t >= at - Duration::days(i64::from(n)),
            }
    }
}

/// A forecast method with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Method {
    /// Incidents per cell in the window ([`naive`]).
    Naive {
        /// The window.
        window: Window,
    },
    /// Un-normalised quartic kernel sum at the cell centres ([`kde`]).
    Kde {
        /// The window.
        window: Window,
        /// Kernel radius in metres.
        bandwidth_m: f64,
    },
    /// Bowers-Johnson-Pease prospective hot spot ([`prospective`]).
    Prospective {
        /// Space cut-off in cells (Chebyshev distance `< space_cells`).
        space_cells: u32,
        /// Time cut-off in whole weeks (`< time_weeks`).
        time_weeks: u32,
    },
    /// Grid self-exciting point process ([`sepp`]).
    Sepp {
        /// The training window.
        window: Window,
        /// EM iterations.
        iterations: u32,
        /// Lewis-Mohler edge correction.
        corrected: bool,
    },
}

impl Method {
    /// Short name: `naive`, `kde`, `prospective`, `sepp` (`sepp_corrected`).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Naive { .. } => "naive",
            Method::Kde { .. } => "kde",
            Method::Prospective { .. } => "prospective",
            Method::Sepp {
                corrected: false, ..
            } => "sepp",
            Method::Sepp {
                corrected: true, ..
            } => "sepp_corrected",
        }
    }
}

/// A forecast: the grid, how many incidents it used, and for SEPP the fitted model.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    /// Risk per cell.
    pub grid: ForecastGrid,
    /// Incidents the method used (in its window; for SEPP inside the grid).
    pub events_used: usize,
    /// The fitted self-exciting model (method `sepp` only).
    pub sepp: Option<sepp::SeppFit>,
}

/// The time of an incident: the start of its window, else its end.
pub fn event_time(e: &Event) -> Option<NaiveDateTime> {
    e.begin.or(e.end)
}

/// The forecast of `method` on `grid` at `at` from the incidents strictly before `at`.
pub fn forecast(
    events: &[Event],
    grid: &GridSpec,
    at: NaiveDateTime,
    method: &Method,
    cancel: &Cancel,
) -> Result<Forecast, ForecastError> {
    match *method {
        Method::Naive { window } => naive::naive(events, grid, at, window, cancel),
        Method::Kde {
            window,
            bandwidth_m,
        } => kde::retro_quartic(events, grid, at, window, bandwidth_m, cancel),
        Method::Prospective {
            space_cells,
            time_weeks,
        } => prospective::prospective(events, grid, at, space_cells, time_weeks, cancel),
        Method::Sepp {
            window,
            iterations,
            corrected,
        } => sepp::sepp(events, grid, at, window, iterations, corrected, cancel),
    }
}

/// Every how many items a core loop checks its cancel token.
pub(crate) const CANCEL_EVERY: usize = 1 << 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_anchored_at_the_lower_left_corner() {
        let g = GridSpec::covering(
            Extent {
                minx_m: 230_000.0,
                miny_m: 460_000.0,
                maxx_m: 235_000.0,
                maxy_m: 465_000.0,
            },
            150.0,
        )
        .unwrap();
        assert_eq!((g.ncols, g.nrows), (34, 34));
        assert_eq!(g.extent().maxx_m, 235_100.0);
        assert_eq!(g.centre_m(0), (230_075.0, 460_075.0));
        assert_eq!(g.cell_of(230_000.0, 460_000.0), Some(0));
        assert_eq!(g.cell_of(230_150.0, 460_000.0), Some(1));
        assert_eq!(g.cell_of(230_000.0, 460_150.0), Some(34));
        assert_eq!(g.cell_of(229_999.9, 460_000.0), None);
        assert_eq!(g.cell_of(235_100.0, 460_000.0), None);
        let r = g.to_raster(&(0..g.len()).map(|k| k as f64).collect::<Vec<_>>());
        // North-up: the raster's first row is the grid's last row.
        assert_eq!(r.values[0], (33 * 34) as f64);
        assert_eq!(r.value_at(230_010.0, 460_010.0), Some(0.0));
    }

    #[test]
    fn bad_grids_are_errors() {
        let e = Extent {
            minx_m: 0.0,
            miny_m: 0.0,
            maxx_m: 100.0,
            maxy_m: 100.0,
        };
        assert!(matches!(
            GridSpec::covering(e, 0.0),
            Err(ForecastError::InvalidCellSize(_))
        ));
        assert!(matches!(
            GridSpec::covering(Extent { maxx_m: -1.0, ..e }, 10.0),
            Err(ForecastError::InvalidExtent { .. })
        ));
        assert!(matches!(
            GridSpec::covering(e, 1e-4),
            Err(ForecastError::TooManyCells { .. })
        ));
    }

    #[test]
    fn window_is_strictly_before_at() {
        let at = chrono::NaiveDate::from_ymd_opt(2024, 2, 14)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert!(!Window::All.holds(at, at));
        assert!(Window::All.holds(at - Duration::minutes(1), at));
        assert!(Window::Days(7).holds(at - Duration::days(7), at));
        assert!(!Window::Days(7).holds(at - Duration::days(7) - Duration::seconds(1), at));
    }
}
