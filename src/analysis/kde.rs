//! Kernel density estimation (KDE) of incidents on a raster, in incidents per km2.
//!
//! # Method (methods.md "Kernel density", binding)
//! Every incident at `p` with weight `w` spreads `w` over the plane with a radially symmetric kernel `K(d)`
//! whose volume is 1 (so the volume under the whole surface equals the summed weight). The density at a location
//! `s` is `f(s) = sum_p w_p K(|s - p|)` per m2; we report it per km2 (`* 1e6`, the ArcGIS convention), always
//! evaluated at **cell centres**. With bandwidth (search radius) `r` and `u = d / r`:
//!
//! | kernel | `K(d)` per m2 for `d < r` (else 0) |
//! |---|---|
//! | quartic (default, biweight; ArcGIS, QGIS) | `3/(pi r^2) (1 - u^2)^2` |
//! | epanechnikov | `2/(pi r^2) (1 - u^2)` |
//! | triweight | `4/(pi r^2) (1 - u^2)^3` |
//! | uniform | `1/(pi r^2)` |
//! | triangular | `3/(pi r^2) (1 - u)` |
//! | gaussian (`sigma = r`) | `1/(2 pi r^2) exp(-d^2 / (2 r^2))`, any `d` |
//!
//! The Gaussian is truncated at the radius `R` where the neglected mass is `tail` (default `1e-4`) of the total:
//! for a 2-D Gaussian the mass outside `R` is `exp(-R^2 / (2 r^2))`, so `R = r sqrt(-2 ln tail)` (4.29 r for
//! `1e-4`); at that radius the kernel value is also exactly `tail` times its peak. `tail = 0` means no
//! truncation (every incident contributes to every cell; slow, used by the scikit-learn oracle test).
//!
//! Default bandwidth (ArcGIS "spatial Silverman" rule) when none is given:
//! `r = 0.9 * min(SD, sqrt(1/ln 2) * Dm) * n^-0.2`, with the (weighted) mean centre, the standard distance
//! `SD = sqrt(sum w dx^2 / sum w + sum w dy^2 / sum w)`, `Dm` the (weighted) median distance to the mean centre
//! and `n` the summed weight (the number of incidents for unit weights), see [`default_bandwidth_m`].
//!
//! # Raster geometry
//! The raster has `width x height` square cells of `cell_m` metres; cell `(i, j)` (column `i` from the west,
//! row `j` from the north) has its centre at `(minx + (i + 0.5) c, maxy - (j + 0.5) c)` and values are stored
//! row-major, top row first (GDAL / GeoTIFF order). A given extent `minx, miny, maxx, maxy` is covered by
//! `ceil((maxx - minx) / c) x ceil((maxy - miny) / c)` cells anchored at `(minx, maxy)`. Without an extent the
//! data's bounding box grown by the search radius of the kernel is used (for the truncated Gaussian: grown by
//! the bandwidth), snapped outwards to multiples of the cell size so rasters of different selections align.
//!
//! # Implementation
//! Points are sorted west to east (cache locality) and the rows are split into bands; each point is bucketed
//! (counting sort, no per-band allocations) into every band its support disc touches, and the bands are
//! computed in parallel with rayon, each task writing only its own rows (no atomics, no merging). Per point,
//! the scaled squared x-distances of its column window (the disc's bounding box, widened to a multiple of 16
//! cells) are computed once; every row of the disc then adds `w * K(dx^2 + dy^2)` over that window in a
//! branch-free loop the compiler vectorises (cells of the window outside the disc get exactly 0). On x86-64
//! CPUs with AVX2 the band loop runs in an AVX2 build of the same code (runtime detection; same IEEE
//! operations, bit-identical results). Accumulation precision is the caller's choice: `f32` (fast,
//! ~1e-6 relative, what GeoTIFF stores) or `f64` (exact to rounding, used by the oracle tests); see
//! [`KdeFloat`]. Sums per cell are taken in west-to-east point order, so results are deterministic.
//!
//! [`density_at_points`] evaluates the same sum in `f64` at arbitrary locations (e.g. patrol planning).

use std::collections::HashMap;
use std::f64::consts::PI;
use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};
use std::str::FromStr;

use rayon::prelude::*;

use super::Event;

/// Default neglected Gaussian mass (relative to the total, equal to the kernel value at the cut-off relative
/// to its peak).
pub const DEFAULT_GAUSSIAN_TAIL: f64 = 1e-4;

/// Largest raster accepted (cells); larger requests are an error rather than an allocation failure.
pub const MAX_CELLS: usize = 400_000_000;

/// Errors of kernel density estimation.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KdeError {
    /// Cell size not a positive finite number of metres.
    #[error("cell size must be a positive number of metres, got {0}")]
    InvalidCellSize(f64),
    /// Bandwidth not a positive finite number of metres.
    #[error("bandwidth must be a positive number of metres, got {0}")]
    InvalidBandwidth(f64),
    /// Gaussian tail mass outside `[0, 1)`.
    #[error("gaussian tail mass must be in [0, 1), got {0}")]
    InvalidGaussianTail(f64),
    /// Extent not finite or with `max <= min`.
    #[error("invalid extent ({minx_m}, {miny_m}, {maxx_m}, {maxy_m}): need finite values with max > min")]
    InvalidExtent {
        /// West edge (m).
        minx_m: f64,
        /// South edge (m).
        miny_m: f64,
        /// East edge (m).
        maxx_m: f64,
        /// North edge (m).
        maxy_m: f64,
    },
    /// An event has a negative weight.
    #[error("event {index} has a negative weight {weight}")]
    NegativeWeight {
        /// Index of the event in the input.
        index: usize,
        /// Its weight.
        weight: f64,
    },
    /// No usable events where some are needed (default bandwidth or default extent).
    #[error("no events with finite coordinates and positive weight")]
    NoEvents,
    /// The default bandwidth is zero (all events at one location).
    #[error("default bandwidth is zero (all events at the same location); give a bandwidth")]
    DegenerateBandwidth,
    /// The raster would have too many cells.
    #[error("raster of {width} x {height} cells is too large (max {MAX_CELLS} cells)")]
    TooManyCells {
        /// Columns requested.
        width: u64,
        /// Rows requested.
        height: u64,
    },
    /// More events than the raster loop can index (2^32 - 1).
    #[error("too many events for one raster ({0}); split the input")]
    TooManyEvents(usize),
    /// Unknown kernel name.
    #[error("unknown kernel {0:?}; expected quartic, gaussian, epanechnikov, triweight, uniform or triangular")]
    UnknownKernel(String),
    /// A map surface would have more cells than its caller allows ([`map_surface`]).
    #[error("about {cells:.0} raster cells, more than {max_cells:.0}")]
    SurfaceTooLarge {
        /// Estimated cells.
        cells: f64,
        /// The caller's limit.
        max_cells: f64,
    },
}

/// Kernel shape; see the module documentation for the formulas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Kernel {
    /// `3/(pi r^2)(1-u^2)^2` (biweight); the crime-mapping default.
    #[default]
    Quartic,
    /// `1/(2 pi r^2) exp(-d^2/(2 r^2))`, sigma = bandwidth, truncated (see [`KdeParams::gaussian_tail`]).
    Gaussian,
    /// `2/(pi r^2)(1-u^2)`.
    Epanechnikov,
    /// `4/(pi r^2)(1-u^2)^3`.
    Triweight,
    /// `1/(pi r^2)` (scikit-learn "tophat").
    Uniform,
    /// `3/(pi r^2)(1-u)` (cone).
    Triangular,
}

impl Kernel {
    /// All kernels.
    pub const ALL: [Kernel; 6] = [
        Kernel::Quartic,
        Kernel::Gaussian,
        Kernel::Epanechnikov,
        Kernel::Triweight,
        Kernel::Uniform,
        Kernel::Triangular,
    ];

    /// Lower-case name as accepted by `from_str`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Quartic => "quartic",
            Kernel::Gaussian => "gaussian",
            Kernel::Epanechnikov => "epanechnikov",
            Kernel::Triweight => "triweight",
            Kernel::Uniform => "uniform",
            Kernel::Triangular => "triangular",
        }
    }

    /// Kernel value `K(d)` per m2 at distance `d_m` for bandwidth `bandwidth_m` (untruncated Gaussian).
    /// Zero for `d_m >= bandwidth_m` for all kernels but the Gaussian.
    pub fn value_per_m2(self, d_m: f64, bandwidth_m: f64) -> f64 {
        let r2 = bandwidth_m * bandwidth_m;
        let u2 = d_m * d_m / r2;
        if self != Kernel::Gaussian && u2 >= 1.0 {
            return 0.0;
        }
        match self {
            Kernel::Quartic => 3.0 / (PI * r2) * (1.0 - u2) * (1.0 - u2),
            Kernel::Epanechnikov => 2.0 / (PI * r2) * (1.0 - u2),
            Kernel::Triweight => 4.0 / (PI * r2) * (1.0 - u2).powi(3),
            Kernel::Uniform => 1.0 / (PI * r2),
            Kernel::Triangular => 3.0 / (PI * r2) * (1.0 - u2.sqrt()),
            Kernel::Gaussian => 1.0 / (2.0 * PI * r2) * (-0.5 * u2).exp(),
        }
    }

    /// Radius beyond which the kernel is zero: the bandwidth, or for the Gaussian `r sqrt(-2 ln tail)`
    /// (infinite for `tail = 0`).
    pub fn support_radius_m(self, bandwidth_m: f64, gaussian_tail: f64) -> f64 {
        match self {
            Kernel::Gaussian if gaussian_tail > 0.0 => {
                bandwidth_m * (-2.0 * gaussian_tail.ln()).sqrt()
            }
            Kernel::Gaussian => f64::INFINITY,
            _ => bandwidth_m,
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kernel {
    type Err = KdeError;

    /// Case-insensitive; also accepts `biweight` (quartic), `tophat` (uniform), `normal` (gaussian).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "quartic" | "biweight" => Ok(Kernel::Quartic),
            "gaussian" | "normal" => Ok(Kernel::Gaussian),
            "epanechnikov" => Ok(Kernel::Epanechnikov),
            "triweight" => Ok(Kernel::Triweight),
            "uniform" | "tophat" => Ok(Kernel::Uniform),
            "triangular" | "cone" => Ok(Kernel::Triangular),
            _ => Err(KdeError::UnknownKernel(s.to_string())),
        }
    }
}

/// A rectangle in RD metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extent {
    /// West edge (m).
    pub minx_m: f64,
    /// South edge (m).
    pub miny_m: f64,
    /// East edge (m).
    pub maxx_m: f64,
    /// North edge (m).
    pub maxy_m: f64,
}

impl Extent {
    fn validate(&self) -> Result<(), KdeError> {
        let ok = [self.minx_m, self.miny_m, self.maxx_m, self.maxy_m]
            .iter()
            .all(|v| v.is_finite())
            && self.maxx_m > self.minx_m
            && self.maxy_m > self.miny_m;
        if ok {
            Ok(())
        } else {
            Err(KdeError::InvalidExtent {
                minx_m: self.minx_m,
                miny_m: self.miny_m,
                maxx_m: self.maxx_m,
                maxy_m: self.maxy_m,
            })
        }
    }
}

/// Parameters of [`kde_raster`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KdeParams {
    /// Kernel shape (default quartic).
    pub kernel: Kernel,
    /// Bandwidth (search radius; Gaussian sigma) in metres; `None` = the ArcGIS default rule.
    pub bandwidth_m: Option<f64>,
    /// Cell size in metres.
    pub cell_m: f64,
    /// Raster extent; `None` = data extent grown by the search radius, snapped to the cell size.
    pub extent_m: Option<Extent>,
    /// Neglected Gaussian mass (default [`DEFAULT_GAUSSIAN_TAIL`]; 0 = no truncation). Ignored by other kernels.
    pub gaussian_tail: f64,
}

impl KdeParams {
    /// Quartic kernel, default bandwidth, default extent, given cell size.
    pub fn new(cell_m: f64) -> Self {
        KdeParams {
            kernel: Kernel::Quartic,
            bandwidth_m: None,
            cell_m,
            extent_m: None,
            gaussian_tail: DEFAULT_GAUSSIAN_TAIL,
        }
    }
}

/// A north-up raster in RD metres: `width x height` cells of `cell_m`, row-major, top (north) row first.
/// Cell `(i, j)` covers `[minx + i c, minx + (i+1) c) x (maxy - (j+1) c, maxy - j c]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Raster<T = f32> {
    /// West edge (m).
    pub minx_m: f64,
    /// North edge (m).
    pub maxy_m: f64,
    /// Cell size (m).
    pub cell_m: f64,
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// Cell values, `values[j * width + i]`; for KDE densities per km2.
    pub values: Vec<T>,
}

impl<T: Copy + Into<f64>> Raster<T> {
    /// East edge (m).
    pub fn maxx_m(&self) -> f64 {
        self.minx_m + self.width as f64 * self.cell_m
    }

    /// South edge (m).
    pub fn miny_m(&self) -> f64 {
        self.maxy_m - self.height as f64 * self.cell_m
    }

    /// The raster's extent.
    pub fn extent(&self) -> Extent {
        Extent {
            minx_m: self.minx_m,
            miny_m: self.miny_m(),
            maxx_m: self.maxx_m(),
            maxy_m: self.maxy_m,
        }
    }

    /// Centre of cell `(i, j)` in RD metres: `(minx + (i + 0.5) c, maxy - (j + 0.5) c)`.
    pub fn cell_centre_m(&self, i: usize, j: usize) -> (f64, f64) {
        (
            self.minx_m + (i as f64 + 0.5) * self.cell_m,
            self.maxy_m - (j as f64 + 0.5) * self.cell_m,
        )
    }

    /// X coordinates of the column centres, west to east (for contouring).
    pub fn column_centres_x_m(&self) -> Vec<f64> {
        (0..self.width)
            .map(|i| self.cell_centre_m(i, 0).0)
            .collect()
    }

    /// Y coordinates of the row centres, north to south (for contouring; same order as the rows).
    pub fn row_centres_y_m(&self) -> Vec<f64> {
        (0..self.height)
            .map(|j| self.cell_centre_m(0, j).1)
            .collect()
    }

    /// Cell `(i, j)` containing RD point `(x_m, y_m)`, or `None` outside the raster.
    pub fn cell_of(&self, x_m: f64, y_m: f64) -> Option<(usize, usize)> {
        let fi = ((x_m - self.minx_m) / self.cell_m).floor();
        let fj = ((self.maxy_m - y_m) / self.cell_m).floor();
        if !(fi >= 0.0 && fj >= 0.0 && fi < self.width as f64 && fj < self.height as f64) {
            return None;
        }
        Some((fi as usize, fj as usize))
    }

    /// Value of cell `(i, j)`, or `None` outside the raster.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        if i < self.width && j < self.height {
            self.values.get(j * self.width + i).copied()
        } else {
            None
        }
    }

    /// Value of the cell containing RD point `(x_m, y_m)` (the value at the nearest cell centre), or `None`
    /// outside the raster.
    pub fn value_at(&self, x_m: f64, y_m: f64) -> Option<T> {
        let (i, j) = self.cell_of(x_m, y_m)?;
        self.get(i, j)
    }

    /// Row `j` (west to east), or `None` outside the raster.
    pub fn row(&self, j: usize) -> Option<&[T]> {
        if j < self.height {
            self.values.get(j * self.width..(j + 1) * self.width)
        } else {
            None
        }
    }

    /// Largest value and its cell `(value, i, j)` (first in row-major order on ties; NaN ignored), or `None`
    /// for an empty raster.
    pub fn max(&self) -> Option<(f64, usize, usize)> {
        let mut best: Option<(f64, usize)> = None;
        for (k, v) in self.values.iter().enumerate() {
            let v: f64 = (*v).into();
            if v.is_nan() {
                continue;
            }
            if best.is_none_or(|(b, _)| v > b) {
                best = Some((v, k));
            }
        }
        best.map(|(v, k)| (v, k % self.width, k / self.width))
    }

    /// Sum of the values times the cell area in km2: for a KDE raster in per km2 the (approximate) number of
    /// incidents (summed weight) whose mass falls inside the raster.
    pub fn integral(&self) -> f64 {
        let area_km2 = self.cell_m * self.cell_m / 1e6;
        self.values.iter().map(|v| (*v).into()).sum::<f64>() * area_km2
    }

    /// Threshold for the "top `fraction`" cells: the value of the `k`-th largest cell, `k = ceil(fraction * N)`,
    /// where `N` counts all cells (`include_zeros`) or only cells with a value > 0. The cells with
    /// `value >= threshold` are the hot spot (ties can add cells). `None` when `fraction` is not in `(0, 1]`
    /// or there are no cells to count. NaN cells are never counted.
    pub fn top_fraction_threshold(&self, fraction: f64, include_zeros: bool) -> Option<f64> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return None;
        }
        let mut vals: Vec<f64> = self
            .values
            .iter()
            .map(|v| (*v).into())
            .filter(|v: &f64| !v.is_nan() && (include_zeros || *v > 0.0))
            .collect();
        if vals.is_empty() {
            return None;
        }
        let k = ((fraction * vals.len() as f64).ceil() as usize).clamp(1, vals.len());
        let idx = vals.len() - k;
        let (_, kth, _) = vals.select_nth_unstable_by(idx, f64::total_cmp);
        Some(*kth)
    }

    /// Values converted to `f64` (row-major, top row first).
    pub fn values_f64(&self) -> Vec<f64> {
        self.values.iter().map(|v| (*v).into()).collect()
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Accumulation precision of [`kde_raster`]: `f32` or `f64`.
pub trait KdeFloat:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + AddAssign
    + Into<f64>
    + fmt::Debug
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Conversion from `f64` (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// `exp`.
    fn exp(self) -> Self;
    /// `sqrt`.
    fn sqrt(self) -> Self;
}

impl KdeFloat for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f32::exp(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
}

impl KdeFloat for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
}

/// The result of [`kde_raster`].
#[derive(Clone, Debug, PartialEq)]
pub struct Kde<T = f32> {
    /// Density per km2 at the cell centres.
    pub raster: Raster<T>,
    /// The bandwidth used (given or default rule), metres.
    pub bandwidth_m: f64,
    /// The kernel used.
    pub kernel: Kernel,
    /// Number of events skipped because of non-finite coordinates or weight.
    pub skipped: usize,
}

/// A usable point: finite coordinates, finite non-negative weight.
#[derive(Clone, Copy, Debug)]
struct Pt {
    x: f64,
    y: f64,
    w: f64,
}

/// Finite events as points; negative weights are an error, non-finite ones are skipped (counted).
fn usable_points(events: &[Event]) -> Result<(Vec<Pt>, usize), KdeError> {
    let mut pts = Vec::with_capacity(events.len());
    let mut skipped = 0;
    for (index, e) in events.iter().enumerate() {
        if !(e.x_m.is_finite() && e.y_m.is_finite() && e.weight.is_finite()) {
            skipped += 1;
            continue;
        }
        if e.weight < 0.0 {
            return Err(KdeError::NegativeWeight {
                index,
                weight: e.weight,
            });
        }
        pts.push(Pt {
            x: e.x_m,
            y: e.y_m,
            w: e.weight,
        });
    }
    Ok((pts, skipped))
}

/// The ArcGIS default search radius `0.9 * min(SD, sqrt(1/ln 2) * Dm) * n^-0.2` in metres (see the module docs;
/// weighted by `Event::weight`, `n` = summed weight). Events with non-finite coordinates or weight and events with
/// zero weight are ignored. Errors: [`KdeError::NoEvents`], [`KdeError::NegativeWeight`],
/// [`KdeError::DegenerateBandwidth`] when all events coincide.
pub fn default_bandwidth_m(events: &[Event]) -> Result<f64, KdeError> {
    let (pts, _) = usable_points(events)?;
    bandwidth_from_points(&pts)
}

fn bandwidth_from_points(pts: &[Pt]) -> Result<f64, KdeError> {
    let pts: Vec<Pt> = pts.iter().copied().filter(|p| p.w > 0.0).collect();
    let n: f64 = pts.iter().map(|p| p.w).sum();
    if pts.is_empty() || n <= 0.0 {
        return Err(KdeError::NoEvents);
    }
    let mx = pts.iter().map(|p| p.w * p.x).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.w * p.y).sum::<f64>() / n;
    let sxx = pts.iter().map(|p| p.w * (p.x - mx).powi(2)).sum::<f64>() / n;
    let syy = pts.iter().map(|p| p.w * (p.y - my).powi(2)).sum::<f64>() / n;
    let sd = (sxx + syy).sqrt();
    let dm = if pts.iter().all(|p| p.w == 1.0) {
        // Unit weights: the ordinary median by selection, O(n); the same value as the weighted median below.
        let mut dist: Vec<f64> = pts.par_iter().map(|p| (p.x - mx).hypot(p.y - my)).collect();
        unit_median(&mut dist)
    } else {
        let mut dist: Vec<(f64, f64)> = pts
            .iter()
            .map(|p| ((p.x - mx).hypot(p.y - my), p.w))
            .collect();
        dist.sort_by(|a, b| a.0.total_cmp(&b.0));
        weighted_median(&dist, n)
    };
    default_rule(sd, dm, n)
}

/// `0.9 * min(sd, sqrt(1/ln 2) * dm) * n^-0.2`, or [`KdeError::DegenerateBandwidth`] when that is not positive.
fn default_rule(sd: f64, dm: f64, n: f64) -> Result<f64, KdeError> {
    let r = 0.9 * sd.min((1.0 / std::f64::consts::LN_2).sqrt() * dm) * n.powf(-0.2);
    if r > 0.0 && r.is_finite() {
        Ok(r)
    } else {
        Err(KdeError::DegenerateBandwidth)
    }
}

/// [`default_bandwidth_m`] of unit-weight points, bit for bit, read from `points` (called once per pass)
/// instead of held as events: it keeps one distance per point (8 bytes), not a copy of the events, so the
/// bandwidth of millions of incidents costs tens of MB. Points with a non-finite coordinate are ignored.
///
/// ```
/// use brandpunt::analysis::kde::{default_bandwidth_m, default_bandwidth_unit_m};
/// use brandpunt::analysis::Event;
///
/// let xy = [(155_000.0, 463_000.0), (155_400.0, 463_100.0), (156_000.0, 462_700.0), (f64::NAN, 1.0)];
/// let events: Vec<Event> =
///     xy.iter().map(|&(x_m, y_m)| Event { x_m, y_m, begin: None, end: None, weight: 1.0 }).collect();
/// let from_points = default_bandwidth_unit_m(|| xy.iter().copied()).unwrap();
/// assert_eq!(from_points.to_bits(), default_bandwidth_m(&events).unwrap().to_bits());
/// ```
pub fn default_bandwidth_unit_m<I: Iterator<Item = (f64, f64)>>(
    points: impl Fn() -> I,
) -> Result<f64, KdeError> {
    let finite = || points().filter(|(x, y)| x.is_finite() && y.is_finite());
    // The sums of `bandwidth_from_points` with every weight 1, in the same order.
    let n: f64 = finite().map(|_| 1.0).sum();
    if n <= 0.0 {
        return Err(KdeError::NoEvents);
    }
    let mx = finite().map(|(x, _)| x).sum::<f64>() / n;
    let my = finite().map(|(_, y)| y).sum::<f64>() / n;
    let sxx = finite().map(|(x, _)| (x - mx).powi(2)).sum::<f64>() / n;
    let syy = finite().map(|(_, y)| (y - my).powi(2)).sum::<f64>() / n;
    let sd = (sxx + syy).sqrt();
    let mut dist: Vec<f64> = finite().map(|(x, y)| (x - mx).hypot(y - my)).collect();
    default_rule(sd, unit_median(&mut dist), n)
}

/// The median of `values` (not empty; reordered): the middle value, or the mean of the two middle values for an
/// even count, as [`weighted_median`] of the sorted values with unit weights, found by selection in O(n).
fn unit_median(values: &mut [f64]) -> f64 {
    let (m, odd) = (values.len() / 2, values.len() % 2 == 1);
    let (below, &mut mid, _) = values.select_nth_unstable_by(m, f64::total_cmp);
    if odd {
        return mid;
    }
    let lower = below.iter().copied().max_by(f64::total_cmp).unwrap_or(mid);
    0.5 * (lower + mid)
}

/// Weighted median of sorted `(value, weight)` pairs with total weight `total`: the first value whose cumulative
/// weight exceeds half; when the cumulative weight hits exactly half, the mean of that value and the next.
/// For unit weights this is the ordinary median.
fn weighted_median(sorted: &[(f64, f64)], total: f64) -> f64 {
    let half = total / 2.0;
    let mut cum = 0.0;
    for (k, &(v, w)) in sorted.iter().enumerate() {
        cum += w;
        if cum > half {
            return v;
        }
        if cum == half {
            return match sorted.get(k + 1) {
                Some(&(next, _)) => 0.5 * (v + next),
                None => v,
            };
        }
    }
    sorted.last().map_or(0.0, |&(v, _)| v)
}

/// Kernel evaluation on `s = d^2 * scale`, monomorphised per kernel so the inner loop vectorises.
trait Eval<T: KdeFloat>: Copy + Send + Sync {
    /// `K / K_amplitude` at scaled squared distance `s` (0 outside the support).
    fn eval(self, s: T) -> T;
}

#[derive(Clone, Copy)]
struct PolyEval<const P: u8>;

impl<T: KdeFloat, const P: u8> Eval<T> for PolyEval<P> {
    #[inline(always)]
    fn eval(self, s: T) -> T {
        let t = T::ONE - s;
        let t = if t > T::ZERO { t } else { T::ZERO };
        match P {
            0 => {
                if t > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            1 => t,
            2 => t * t,
            _ => t * t * t,
        }
    }
}

#[derive(Clone, Copy)]
struct TriangularEval;

impl<T: KdeFloat> Eval<T> for TriangularEval {
    #[inline(always)]
    fn eval(self, s: T) -> T {
        let t = T::ONE - s.sqrt();
        if s < T::ONE && t > T::ZERO {
            t
        } else {
            T::ZERO
        }
    }
}

#[derive(Clone, Copy)]
struct GaussEval<T> {
    /// `s` at the truncation radius (`+inf` when untruncated).
    s_max: T,
}

impl<T: KdeFloat> Eval<T> for GaussEval<T> {
    #[inline(always)]
    fn eval(self, s: T) -> T {
        if s < self.s_max {
            (T::ZERO - s).exp()
        } else {
            T::ZERO
        }
    }
}

/// Resolved geometry and kernel constants shared by the raster and point evaluators.
#[derive(Clone, Copy, Debug)]
struct Setup {
    kernel: Kernel,
    /// Radius beyond which the kernel is zero (may be infinite).
    support_m: f64,
    /// `s = d^2 * scale`.
    scale: f64,
    /// Amplitude per km2 for unit weight.
    amp_per_km2: f64,
    gaussian_tail: f64,
}

impl Setup {
    fn new(kernel: Kernel, bandwidth_m: f64, gaussian_tail: f64) -> Result<Self, KdeError> {
        if !(bandwidth_m.is_finite() && bandwidth_m > 0.0) {
            return Err(KdeError::InvalidBandwidth(bandwidth_m));
        }
        if !(0.0..1.0).contains(&gaussian_tail) {
            return Err(KdeError::InvalidGaussianTail(gaussian_tail));
        }
        let r2 = bandwidth_m * bandwidth_m;
        let (scale, amp) = match kernel {
            Kernel::Quartic => (1.0 / r2, 3.0 / (PI * r2)),
            Kernel::Epanechnikov => (1.0 / r2, 2.0 / (PI * r2)),
            Kernel::Triweight => (1.0 / r2, 4.0 / (PI * r2)),
            Kernel::Uniform => (1.0 / r2, 1.0 / (PI * r2)),
            Kernel::Triangular => (1.0 / r2, 3.0 / (PI * r2)),
            Kernel::Gaussian => (0.5 / r2, 1.0 / (2.0 * PI * r2)),
        };
        Ok(Setup {
            kernel,
            support_m: kernel.support_radius_m(bandwidth_m, gaussian_tail),
            scale,
            amp_per_km2: amp * 1e6,
            gaussian_tail,
        })
    }

    /// `s_max` for the Gaussian: `-ln(tail)` (`+inf` without truncation).
    fn gauss_s_max(&self) -> f64 {
        if self.gaussian_tail > 0.0 {
            -self.gaussian_tail.ln()
        } else {
            f64::INFINITY
        }
    }

    /// Density per km2 contributed by a unit point at squared distance `d2` (f64, exact).
    fn unit_density(&self, d2: f64) -> f64 {
        let s = d2 * self.scale;
        let shape = match self.kernel {
            Kernel::Quartic => Eval::<f64>::eval(PolyEval::<2>, s),
            Kernel::Epanechnikov => Eval::<f64>::eval(PolyEval::<1>, s),
            Kernel::Triweight => Eval::<f64>::eval(PolyEval::<3>, s),
            Kernel::Uniform => Eval::<f64>::eval(PolyEval::<0>, s),
            Kernel::Triangular => Eval::<f64>::eval(TriangularEval, s),
            Kernel::Gaussian => GaussEval {
                s_max: self.gauss_s_max(),
            }
            .eval(s),
        };
        self.amp_per_km2 * shape
    }
}

/// Kernel density raster of `events` in incidents (summed weight) per km2 at the cell centres.
///
/// `T` is the accumulation and output precision (`f32` or `f64`). Events with non-finite coordinates or
/// weight are skipped and counted in [`Kde::skipped`]; a negative weight is an error. Without a bandwidth the
/// default rule is used (needs at least two distinct locations); without an extent at least one event is needed.
pub fn kde_raster<T: KdeFloat>(events: &[Event], params: &KdeParams) -> Result<Kde<T>, KdeError> {
    if !(params.cell_m.is_finite() && params.cell_m > 0.0) {
        return Err(KdeError::InvalidCellSize(params.cell_m));
    }
    let (mut pts, skipped) = usable_points(events)?;
    if pts.len() > u32::MAX as usize {
        return Err(KdeError::TooManyEvents(pts.len()));
    }
    // West-to-east order: consecutive points of a band then touch neighbouring columns (cache locality).
    // The sum per cell is then taken in this order; ties keep input order, so results are deterministic.
    pts.par_sort_by(|a, b| a.x.total_cmp(&b.x));
    let bandwidth_m = match params.bandwidth_m {
        Some(b) => b,
        None => bandwidth_from_points(&pts)?,
    };
    let setup = Setup::new(params.kernel, bandwidth_m, params.gaussian_tail)?;
    let c = params.cell_m;
    let extent = match params.extent_m {
        Some(e) => {
            e.validate()?;
            e
        }
        None => {
            if pts.is_empty() {
                return Err(KdeError::NoEvents);
            }
            let grow = if setup.support_m.is_finite() {
                setup.support_m
            } else {
                bandwidth_m
            };
            let (mut minx, mut miny) = (f64::INFINITY, f64::INFINITY);
            let (mut maxx, mut maxy) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
            for p in &pts {
                minx = minx.min(p.x);
                maxx = maxx.max(p.x);
                miny = miny.min(p.y);
                maxy = maxy.max(p.y);
            }
            let e = Extent {
                minx_m: ((minx - grow) / c).floor() * c,
                miny_m: ((miny - grow) / c).floor() * c,
                maxx_m: ((maxx + grow) / c).ceil() * c,
                maxy_m: ((maxy + grow) / c).ceil() * c,
            };
            e.validate()?;
            e
        }
    };
    let fw = ((extent.maxx_m - extent.minx_m) / c).ceil();
    let fh = ((extent.maxy_m - extent.miny_m) / c).ceil();
    // `fits` is false for NaN too.
    let fits = fw * fh <= MAX_CELLS as f64;
    if !fits {
        return Err(KdeError::TooManyCells {
            width: fw as u64,
            height: fh as u64,
        });
    }
    let (width, height) = (fw as usize, fh as usize);
    let mut raster = Raster {
        minx_m: extent.minx_m,
        maxy_m: extent.maxy_m,
        cell_m: c,
        width,
        height,
        values: vec![T::ZERO; width * height],
    };
    match setup.kernel {
        Kernel::Quartic => accumulate(&mut raster, &pts, &setup, PolyEval::<2>),
        Kernel::Epanechnikov => accumulate(&mut raster, &pts, &setup, PolyEval::<1>),
        Kernel::Triweight => accumulate(&mut raster, &pts, &setup, PolyEval::<3>),
        Kernel::Uniform => accumulate(&mut raster, &pts, &setup, PolyEval::<0>),
        Kernel::Triangular => accumulate(&mut raster, &pts, &setup, TriangularEval),
        Kernel::Gaussian => {
            let s_max = setup.gauss_s_max();
            // Without truncation `s_max` is infinite; comparing against +inf keeps every cell.
            let ev = GaussEval {
                s_max: T::from_f64(s_max),
            };
            accumulate(&mut raster, &pts, &setup, ev)
        }
    }
    Ok(Kde {
        raster,
        bandwidth_m,
        kernel: setup.kernel,
        skipped,
    })
}

/// Inclusive row range `[j0, j1]` of cell centres within `support` of `y` (with one row of slack; the kernel
/// evaluation itself is exact), or `None` when it misses the raster.
fn row_range(y: f64, support: f64, maxy: f64, c: f64, height: usize) -> Option<(usize, usize)> {
    // Row centre y_j = maxy - (j + 0.5) c  =>  j = (maxy - y_j) / c - 0.5.
    let lo = ((maxy - (y + support)) / c - 0.5).floor() - 1.0;
    let hi = ((maxy - (y - support)) / c - 0.5).ceil() + 1.0;
    let last = height as f64 - 1.0;
    if hi < 0.0 || lo > last || height == 0 {
        return None;
    }
    Some((lo.max(0.0) as usize, hi.min(last) as usize))
}

fn accumulate<T: KdeFloat, E: Eval<T>>(raster: &mut Raster<T>, pts: &[Pt], setup: &Setup, eval: E) {
    let (width, height) = (raster.width, raster.height);
    if width == 0 || height == 0 || pts.is_empty() {
        return;
    }
    let (minx, maxy, c) = (raster.minx_m, raster.maxy_m, raster.cell_m);
    let support = setup.support_m;

    // Bands of rows, each computed by one task.
    let threads = rayon::current_num_threads().max(1);
    let band_rows = (height / (16 * threads)).clamp(8, 256).min(height);
    let n_bands = height.div_ceil(band_rows);

    // Bucket points (by index) into every band their support touches: counting sort, no per-band Vecs.
    let ranges: Vec<Option<(usize, usize)>> = pts
        .par_iter()
        .map(|p| {
            row_range(p.y, support, maxy, c, height).map(|(a, b)| (a / band_rows, b / band_rows))
        })
        .collect();
    let mut starts = vec![0usize; n_bands + 1];
    for (b0, b1) in ranges.iter().flatten() {
        for b in *b0..=*b1 {
            starts[b + 1] += 1;
        }
    }
    for b in 0..n_bands {
        starts[b + 1] += starts[b];
    }
    let mut fill = starts.clone();
    let mut members = vec![0u32; starts[n_bands]];
    for (k, r) in ranges.iter().enumerate() {
        if let Some((b0, b1)) = r {
            for b in *b0..=*b1 {
                members[fill[b]] = k as u32;
                fill[b] += 1;
            }
        }
    }

    let geom = BandGeometry {
        width,
        height,
        band_rows,
        minx,
        maxy,
        c,
        support,
        scale: setup.scale,
        amp_per_km2: setup.amp_per_km2,
    };
    let use_avx2 = avx2_available();
    raster
        .values
        .par_chunks_mut(band_rows * width)
        .enumerate()
        .for_each(|(band, chunk)| {
            let members = &members[starts[band]..starts[band + 1]];
            #[cfg(target_arch = "x86_64")]
            if use_avx2 {
                // SAFETY: `avx2_available()` checked at run time that the CPU supports AVX2.
                unsafe { band_avx2(&geom, band, chunk, members, pts, eval) };
                return;
            }
            let _ = use_avx2;
            band_body(&geom, band, chunk, members, pts, eval);
        });
}

/// Raster geometry and kernel constants needed by a band.
struct BandGeometry {
    width: usize,
    height: usize,
    band_rows: usize,
    minx: f64,
    maxy: f64,
    c: f64,
    support: f64,
    scale: f64,
    amp_per_km2: f64,
}

/// Whether the AVX2 build of the band loop can run on this CPU (8 f32 / 4 f64 lanes instead of SSE2's 4 / 2).
pub(crate) fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`band_body`] compiled with AVX2 enabled. The arithmetic is the same IEEE operations in the same order
/// (no FMA contraction), so results are bit-identical to the SSE2 build.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn band_avx2<T: KdeFloat, E: Eval<T>>(
    g: &BandGeometry,
    band: usize,
    chunk: &mut [T],
    members: &[u32],
    pts: &[Pt],
    eval: E,
) {
    band_body(g, band, chunk, members, pts, eval)
}

/// Adds the kernels of the band's `members` to the band's rows `chunk` (row-major, `g.width` per row).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn band_body<T: KdeFloat, E: Eval<T>>(
    g: &BandGeometry,
    band: usize,
    chunk: &mut [T],
    members: &[u32],
    pts: &[Pt],
    eval: E,
) {
    let (width, minx, maxy, c) = (g.width, g.minx, g.maxy, g.c);
    let support2 = g.support * g.support;
    let inv_c = 1.0 / c;
    let last_col = (width - 1) as f64;
    let j_start = band * g.band_rows;
    let rows_here = chunk.len() / width;
    if rows_here == 0 {
        return;
    }
    // Scaled squared x-distances of the point's column window, shared by all its rows.
    let mut dxs: Vec<T> = Vec::new();
    for &k in members {
        let Some(p) = pts.get(k as usize) else {
            continue;
        };
        let Some((j0, j1)) = row_range(p.y, g.support, maxy, c, g.height) else {
            continue;
        };
        let j0 = j0.max(j_start);
        let j1 = j1.min(j_start + rows_here - 1);
        if j0 > j1 {
            continue;
        }
        // Column window: the disc's bounding box (+1 column of slack each side), widened to a multiple of
        // LANES columns when the raster is wide enough, so the inner loop has no scalar remainder. Cells of
        // the window outside the disc get exactly 0 from the kernel evaluation.
        let lo = ((p.x - g.support - minx) * inv_c - 0.5).floor() - 1.0;
        let hi = ((p.x + g.support - minx) * inv_c - 0.5).ceil() + 1.0;
        if hi < 0.0 || lo > last_col {
            continue;
        }
        let mut i0 = lo.max(0.0) as usize;
        let i1 = hi.min(last_col) as usize;
        let mut len = i1 - i0 + 1;
        let padded = len.div_ceil(LANES) * LANES;
        if padded <= width {
            i0 = i0.min(width - padded);
            len = padded;
        }
        dxs.clear();
        dxs.extend((0..len).map(|m| {
            let dx = minx + ((i0 + m) as f64 + 0.5) * c - p.x;
            T::from_f64(dx * dx * g.scale)
        }));
        let amp = T::from_f64(g.amp_per_km2 * p.w);
        for j in j0..=j1 {
            let dy = maxy - (j as f64 + 0.5) * c - p.y;
            let dy2 = dy * dy;
            if dy2 >= support2 {
                continue;
            }
            let dy2s = T::from_f64(dy2 * g.scale);
            let row_start = (j - j_start) * width + i0;
            let Some(row) = chunk.get_mut(row_start..row_start + len) else {
                continue;
            };
            for (cell, &d) in row.iter_mut().zip(&dxs) {
                *cell += amp * eval.eval(d + dy2s);
            }
        }
    }
}

/// Column windows are padded to a multiple of this many cells (two AVX registers of f32; measured best of
/// 8 / 16 / 32 on the 1 M point benchmark).
const LANES: usize = 16;

/// Kernel density in incidents per km2 at arbitrary RD points `(x_m, y_m)` (same kernel and truncation as
/// [`kde_raster`], evaluated in `f64`). Used e.g. to score patrol locations. Events with non-finite
/// coordinates or weight are ignored; a negative weight is an error. Query points with non-finite coordinates
/// get NaN.
pub fn density_at_points(
    events: &[Event],
    kernel: Kernel,
    bandwidth_m: f64,
    gaussian_tail: f64,
    points_m: &[(f64, f64)],
) -> Result<Vec<f64>, KdeError> {
    let setup = Setup::new(kernel, bandwidth_m, gaussian_tail)?;
    let (pts, _) = usable_points(events)?;
    let support = setup.support_m;
    let density_from = |x: f64, y: f64, cand: &mut dyn Iterator<Item = &Pt>| -> f64 {
        let mut acc = 0.0;
        for p in cand {
            let d2 = (x - p.x).powi(2) + (y - p.y).powi(2);
            acc += p.w * setup.unit_density(d2);
        }
        acc
    };
    if !support.is_finite() {
        return Ok(points_m
            .par_iter()
            .map(|&(x, y)| {
                if x.is_finite() && y.is_finite() {
                    density_from(x, y, &mut pts.iter())
                } else {
                    f64::NAN
                }
            })
            .collect());
    }
    // Uniform bucket grid with bucket size = support: a query needs the 3 x 3 buckets around its own.
    let key = |x: f64, y: f64| ((x / support).floor() as i64, (y / support).floor() as i64);
    let mut buckets: HashMap<(i64, i64), Vec<Pt>> = HashMap::new();
    for p in &pts {
        buckets.entry(key(p.x, p.y)).or_default().push(*p);
    }
    Ok(points_m
        .par_iter()
        .map(|&(x, y)| {
            if !(x.is_finite() && y.is_finite()) {
                return f64::NAN;
            }
            let (bx, by) = key(x, y);
            let mut acc = 0.0;
            for dx in -1..=1 {
                for dy in -1..=1 {
                    if let Some(b) = buckets.get(&(bx + dx, by + dy)) {
                        acc += density_from(x, y, &mut b.iter());
                    }
                }
            }
            acc
        })
        .collect())
}

/// A density surface for maps: the `f32` raster of the default extent and its largest density (> 0).
#[derive(Clone, Debug, PartialEq)]
pub struct MapSurface {
    pub kde: Kde<f32>,
    /// Largest density (per km2).
    pub max_per_km2: f64,
}

/// The quartic KDE surface of `events` for maps at `cell_m` (bandwidth `bandwidth_m`, else the default rule) over
/// the default extent, refused ([`KdeError::SurfaceTooLarge`]) when the events' bounding box padded by twice the
/// bandwidth (2 km without one) would hold more than `max_cells` cells. `None` when there is nothing to
/// estimate: no events, all at one location without a bandwidth, or no density anywhere.
///
/// ```
/// use brandpunt::analysis::kde::{map_surface, KdeError};
/// use brandpunt::analysis::Event;
///
/// let at = |x_m, y_m| Event { x_m, y_m, begin: None, end: None, weight: 1.0 };
/// let events = [at(1000.0, 1000.0), at(1100.0, 1050.0)];
/// let s = map_surface(&events, 50.0, Some(200.0), 1e6).unwrap().unwrap();
/// assert!(s.max_per_km2 > 0.0 && s.kde.bandwidth_m == 200.0);
/// assert!(map_surface(&[], 50.0, None, 1e6).unwrap().is_none());
/// assert!(matches!(map_surface(&events, 1.0, None, 1e6), Err(KdeError::SurfaceTooLarge { .. })));
/// ```
pub fn map_surface(
    events: &[Event],
    cell_m: f64,
    bandwidth_m: Option<f64>,
    max_cells: f64,
) -> Result<Option<MapSurface>, KdeError> {
    if events.is_empty() {
        return Ok(None);
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for e in events {
        (x0, y0, x1, y1) = (x0.min(e.x_m), y0.min(e.y_m), x1.max(e.x_m), y1.max(e.y_m));
    }
    let pad = 2.0 * bandwidth_m.unwrap_or(2000.0);
    let cells = ((x1 - x0 + pad) / cell_m) * ((y1 - y0 + pad) / cell_m);
    if cells > max_cells {
        return Err(KdeError::SurfaceTooLarge { cells, max_cells });
    }
    let params = KdeParams {
        bandwidth_m,
        ..KdeParams::new(cell_m)
    };
    match kde_raster::<f32>(events, &params) {
        Ok(kde) => {
            let max = kde.raster.max().map(|m| m.0).unwrap_or(0.0);
            Ok((max > 0.0).then_some(MapSurface {
                kde,
                max_per_km2: max,
            }))
        }
        Err(KdeError::NoEvents | KdeError::DegenerateBandwidth) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(x: f64, y: f64) -> Event {
        Event {
            x_m: x,
            y_m: y,
            begin: None,
            end: None,
            weight: 1.0,
        }
    }

    #[test]
    fn kernel_names_round_trip() {
        for k in Kernel::ALL {
            assert_eq!(k.name().parse::<Kernel>().unwrap(), k);
        }
        assert_eq!("TopHat".parse::<Kernel>().unwrap(), Kernel::Uniform);
        assert!(matches!(
            "box".parse::<Kernel>(),
            Err(KdeError::UnknownKernel(_))
        ));
    }

    #[test]
    fn single_point_centre_value_is_k0() {
        // A point exactly at a cell centre: the value there is K(0) * 1e6 per km2.
        let r = 100.0;
        let k0 = [
            (Kernel::Quartic, 3.0 / (PI * r * r)),
            (Kernel::Epanechnikov, 2.0 / (PI * r * r)),
            (Kernel::Triweight, 4.0 / (PI * r * r)),
            (Kernel::Uniform, 1.0 / (PI * r * r)),
            (Kernel::Triangular, 3.0 / (PI * r * r)),
            (Kernel::Gaussian, 1.0 / (2.0 * PI * r * r)),
        ];
        for (kernel, k0) in k0 {
            let params = KdeParams {
                kernel,
                bandwidth_m: Some(r),
                cell_m: 10.0,
                extent_m: Some(Extent {
                    minx_m: 0.0,
                    miny_m: 0.0,
                    maxx_m: 1000.0,
                    maxy_m: 1000.0,
                }),
                gaussian_tail: DEFAULT_GAUSSIAN_TAIL,
            };
            let kde = kde_raster::<f64>(&[ev(505.0, 505.0)], &params).unwrap();
            let v = kde.raster.value_at(505.0, 505.0).unwrap();
            assert!(
                (v - k0 * 1e6).abs() < 1e-12 * k0 * 1e6,
                "{kernel}: {v} vs {}",
                k0 * 1e6
            );
            let (max, i, j) = kde.raster.max().unwrap();
            assert_eq!(max, v);
            if kernel != Kernel::Uniform {
                // Cell (50, 49) has centre (505, 505); the uniform kernel is flat, so the first maximum differs.
                assert_eq!((i, j), (50, 49));
            }
        }
    }

    #[test]
    fn weighted_median_is_ordinary_median_for_unit_weights() {
        let odd = [(1.0, 1.0), (2.0, 1.0), (7.0, 1.0)];
        assert_eq!(weighted_median(&odd, 3.0), 2.0);
        let even = [(1.0, 1.0), (2.0, 1.0), (4.0, 1.0), (7.0, 1.0)];
        assert_eq!(weighted_median(&even, 4.0), 3.0);
    }

    #[test]
    fn unit_median_by_selection_is_the_weighted_median_of_the_sorted_values() {
        let mut g = 12_345u64;
        for n in [1usize, 2, 3, 4, 7, 10, 101, 1_000] {
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    g = g.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    // Few distinct values: ties at the middle too.
                    ((g >> 40) % 17) as f64 * 0.37
                })
                .collect();
            let mut sorted: Vec<(f64, f64)> = values.iter().map(|&v| (v, 1.0)).collect();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let want = weighted_median(&sorted, n as f64);
            let mut scratch = values.clone();
            assert_eq!(unit_median(&mut scratch).to_bits(), want.to_bits(), "{n}");
        }
    }

    #[test]
    fn errors_on_bad_parameters() {
        let e = [ev(0.0, 0.0), ev(10.0, 0.0)];
        assert_eq!(
            kde_raster::<f32>(&e, &KdeParams::new(0.0)).unwrap_err(),
            KdeError::InvalidCellSize(0.0)
        );
        let mut p = KdeParams::new(10.0);
        p.bandwidth_m = Some(-1.0);
        assert_eq!(
            kde_raster::<f32>(&e, &p).unwrap_err(),
            KdeError::InvalidBandwidth(-1.0)
        );
        assert_eq!(
            kde_raster::<f32>(&[ev(1.0, 1.0), ev(1.0, 1.0)], &KdeParams::new(10.0)).unwrap_err(),
            KdeError::DegenerateBandwidth
        );
        assert_eq!(
            kde_raster::<f32>(&[], &KdeParams::new(10.0)).unwrap_err(),
            KdeError::NoEvents
        );
        let mut neg = ev(0.0, 0.0);
        neg.weight = -1.0;
        assert!(matches!(
            kde_raster::<f32>(&[neg], &KdeParams::new(10.0)),
            Err(KdeError::NegativeWeight { index: 0, .. })
        ));
        p.bandwidth_m = Some(100.0);
        p.cell_m = 0.001;
        assert!(matches!(
            kde_raster::<f32>(&e, &p),
            Err(KdeError::TooManyCells { .. })
        ));
    }

    #[test]
    fn top_fraction_threshold_counts_cells() {
        let r = Raster {
            minx_m: 0.0,
            maxy_m: 10.0,
            cell_m: 1.0,
            width: 5,
            height: 2,
            values: vec![0.0f64, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 0.0],
        };
        // 10 cells, top 20 % = 2 cells -> threshold 7.
        assert_eq!(r.top_fraction_threshold(0.2, true), Some(7.0));
        // 8 non-zero cells, top 25 % = 2 cells -> 7; top 10 % -> ceil(0.8) = 1 cell -> 8.
        assert_eq!(r.top_fraction_threshold(0.25, false), Some(7.0));
        assert_eq!(r.top_fraction_threshold(0.1, false), Some(8.0));
        assert_eq!(r.top_fraction_threshold(0.0, false), None);
        assert_eq!(r.cell_of(4.5, 8.5), Some((4, 1)));
        assert_eq!(r.cell_of(5.0, 8.5), None);
        assert_eq!(r.row(1).unwrap(), &[5.0, 6.0, 7.0, 8.0, 0.0]);
        assert_eq!(r.miny_m(), 8.0);
    }

    #[test]
    fn map_surfaces_are_bounded_and_empty_without_events() {
        let at = |x_m, y_m| Event {
            x_m,
            y_m,
            begin: None,
            end: None,
            weight: 1.0,
        };
        // One location without a bandwidth: the default rule degenerates, nothing to show.
        assert_eq!(
            map_surface(&[at(0.0, 0.0), at(0.0, 0.0)], 50.0, None, 1e9),
            Ok(None)
        );
        let events = [at(0.0, 0.0), at(1000.0, 0.0)];
        // (1000 + 4000) x 4000 m at 100 m: 50 x 40 = 2000 cells.
        assert!(map_surface(&events, 100.0, None, 2000.0).unwrap().is_some());
        assert_eq!(
            map_surface(&events, 100.0, None, 1999.0),
            Err(KdeError::SurfaceTooLarge {
                cells: 2000.0,
                max_cells: 1999.0
            })
        );
        let s = map_surface(&events, 100.0, Some(300.0), 1e9)
            .unwrap()
            .unwrap();
        let max = s.kde.raster.max().unwrap().0;
        assert_eq!(s.max_per_km2, max);
    }
}
