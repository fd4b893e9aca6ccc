//! The KDE density surface of a filter's located incidents ([`kde_surface`]), its contour polygons
//! ([`kde_contours`]: level `i` of `levels` is the region with density >= `i / (levels + 1)` times the maximum)
//! and the `kde` vector tile layer of those contours ([`kde_tile`]: `level`, `density_per_km2`).
//!
//! Maps read the surface window by window through a [`KdeField`] ([`kde_field`]): the filter's incidents
//! (binned into the lattice by [`QuarticLattice`], or for a kernel wider than [`LATTICE_MAX_RADIUS_CELLS`] cells
//! in a [`PointIndex`]), the bandwidth and the surface's maximum, from which [`KdeField::raster`] computes the cells of
//! any window (a tile, a WMS bounding box) from the incidents within the kernel radius of it only. The cells lie
//! on one lattice for the whole country (centres at `(k + 0.5) cell_m` in RD), so a window's values are the
//! whole surface's values at those cells; the maximum (the colour scale and the contour levels) is computed once
//! per field, exactly, by branch and bound over blocks of the lattice: only the blocks whose upper bound (from
//! incident counts) beats the largest value found are computed ([`kde_tile_local`] draws the `kde` layer of one
//! tile from the field).
//!
//! ```
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
//! use brandpunt::surfaces::kde::{kde_contours, kde_surface};
//!
//! let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! let incidents = (0..30).map(|k| IncidentRecord {
//!     id: k, source: "politie".into(), begin: at, end: at, category_code: None,
//!     x_m: Some(155_000.0 + 20.0 * (k % 5) as f64), y_m: Some(463_000.0 + 20.0 * (k / 5) as f64), buurtcode: None,
//! }).collect();
//! let data = TenantData { code: "demo".into(), name: "Demo".into(), areas: vec![], incidents };
//! let s = Snapshot::build(1, data).unwrap();
//! let surface = kde_surface(&s, &Filter::all(&s), 50.0, Some(300.0)).unwrap().unwrap();
//! assert!(surface.max_per_km2 > 0.0);
//! let contours = kde_contours(&surface, 3).unwrap();
//! assert_eq!(contours.len(), 3);
//! assert!(contours[0].density_per_km2 < contours[2].density_per_km2);
//! ```

use super::{encode_layer, located_events, rd_to_mercator, reaches_tile, SurfaceError};
use crate::analysis::grid::window_runs;
use crate::analysis::kde::{
    density_at_points, kde_raster, map_surface, Extent, Kde, KdeError, KdeFloat, KdeParams, Kernel,
    Raster, DEFAULT_GAUSSIAN_TAIL,
};
use crate::analysis::kde_lattice::{LatticeError, QuarticLattice};
use crate::analysis::Event;
use crate::cancel::Cancel;
use crate::dataset::{Filter, Snapshot};
use crate::heap_size::HeapSize;
use crate::point_index::PointIndex;
use crate::render::contour::density_contours;
use crate::tiles::{TileFeature, TileGeometry, TileId, Value};
use geo::BoundingRect;
use geo_types::{MultiPolygon, Rect};
use rayon::prelude::*;
use std::collections::BinaryHeap;

/// Largest number of KDE raster cells.
pub const MAX_KDE_CELLS: f64 = 16_000_000.0;

/// A KDE surface.
pub struct KdeSurface {
    pub kde: Kde<f32>,
    /// Largest density (per km2), > 0.
    pub max_per_km2: f64,
}

/// One KDE contour level.
pub struct Contour {
    /// 1 = lowest.
    pub level: usize,
    pub density_per_km2: f64,
    pub polygon_rd: MultiPolygon<f64>,
    pub polygon_m: MultiPolygon<f64>,
}

impl HeapSize for KdeSurface {
    fn heap_bytes(&self) -> usize {
        self.kde.heap_bytes()
    }
}

impl HeapSize for Contour {
    fn heap_bytes(&self) -> usize {
        self.polygon_rd.heap_bytes() + self.polygon_m.heap_bytes()
    }
}

/// The default-rule KDE bandwidth (ArcGIS) of the filter's located incidents; `None` when there are none.
/// Reads the incidents' coordinates twice instead of copying them (see
/// [`crate::analysis::kde::default_bandwidth_unit_m`]): a few bytes per incident.
pub fn default_bandwidth_m(snapshot: &Snapshot, filter: &Filter) -> Option<f64> {
    let located = snapshot.located_incidents(filter);
    crate::analysis::kde::default_bandwidth_unit_m(|| {
        snapshot
            .incidents
            .at_ascending(&located)
            .map(|(_, i)| (i.x_m, i.y_m))
    })
    .ok()
}

/// Cells per bandwidth of the automatic KDE cell size ([`auto_cell_m`]): at least this many.
pub const CELLS_PER_BANDWIDTH: f64 = 16.0;

/// The automatic KDE cell size is a multiple of this (m), so the lattices of similar bandwidths coincide.
pub const AUTO_CELL_STEP_M: f64 = 25.0;

/// Smallest automatic KDE cell size (m): the default cell of a narrow bandwidth.
pub const AUTO_CELL_MIN_M: f64 = 50.0;

/// Largest automatic KDE cell size (m), the largest cell the API accepts.
pub const AUTO_CELL_MAX_M: f64 = 1000.0;

/// The KDE cell size (m) used when the caller gives none: a [`CELLS_PER_BANDWIDTH`]th of the bandwidth rounded
/// down to a multiple of [`AUTO_CELL_STEP_M`], at least [`AUTO_CELL_MIN_M`] and at most [`AUTO_CELL_MAX_M`]. A
/// density smoothed over the bandwidth changes little within a 16th of it (maps draw the lattice with bilinear
/// interpolation), and cells of the bandwidth's order keep the cost of a surface bounded: an incident touches
/// about `pi * 16^2` cells however wide the bandwidth (the default rule gives kilometres for a region or the
/// country, where 50 m cells would make every incident touch tens of thousands). ArcGIS's default cell (the
/// extent's shorter side / 250) is coarser still at that scale.
///
/// ```
/// use brandpunt::surfaces::kde::auto_cell_m;
/// assert_eq!(auto_cell_m(300.0), 50.0);
/// assert_eq!(auto_cell_m(1_000.0), 50.0);
/// assert_eq!(auto_cell_m(3_000.0), 175.0);
/// assert_eq!(auto_cell_m(5_300.0), 325.0);
/// assert_eq!(auto_cell_m(40_000.0), 1_000.0);
/// ```
pub fn auto_cell_m(bandwidth_m: f64) -> f64 {
    let cell = (bandwidth_m / CELLS_PER_BANDWIDTH / AUTO_CELL_STEP_M).floor() * AUTO_CELL_STEP_M;
    if cell.is_nan() {
        return AUTO_CELL_MIN_M;
    }
    cell.clamp(AUTO_CELL_MIN_M, AUTO_CELL_MAX_M)
}

/// The KDE surface of the filter's located incidents with cells of `cell_m` and the bandwidth `bandwidth_m`
/// (`None` = the default rule); `None` when there is nothing to estimate, [`SurfaceError::KdeTooManyCells`] for
/// more than [`MAX_KDE_CELLS`] cells.
pub fn kde_surface(
    snapshot: &Snapshot,
    filter: &Filter,
    cell_m: f64,
    bandwidth_m: Option<f64>,
) -> Result<Option<KdeSurface>, SurfaceError> {
    let events = located_events(snapshot, filter);
    match map_surface(&events, cell_m, bandwidth_m, MAX_KDE_CELLS) {
        Ok(surface) => Ok(surface.map(|m| KdeSurface {
            kde: m.kde,
            max_per_km2: m.max_per_km2,
        })),
        Err(KdeError::SurfaceTooLarge { cells, .. }) => {
            Err(SurfaceError::KdeTooManyCells { cells })
        }
        Err(e) => Err(e.into()),
    }
}

/// The `levels` contour polygons of `surface`, lowest first, in RD and Web Mercator metres.
pub fn kde_contours(surface: &KdeSurface, levels: usize) -> Result<Vec<Contour>, SurfaceError> {
    let mut out = Vec::with_capacity(levels);
    for c in density_contours(&surface.kde.raster, surface.max_per_km2, levels) {
        out.push(Contour {
            level: c.level,
            density_per_km2: c.density_per_km2,
            polygon_m: rd_to_mercator(&c.polygon_rd)?,
            polygon_rd: c.polygon_rd,
        });
    }
    Ok(out)
}

/// The bounding box of the finite points of `points`; `None` when there are none.
pub fn finite_bounds(points: &[(f64, f64)]) -> Option<Rect<f64>> {
    let mut finite = points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let &(x, y) = finite.next()?;
    let (mut minx, mut miny, mut maxx, mut maxy) = (x, y, x, y);
    for &(x, y) in finite {
        (minx, miny, maxx, maxy) = (minx.min(x), miny.min(y), maxx.max(x), maxy.max(y));
    }
    Some(Rect::new((minx, miny), (maxx, maxy)))
}

/// The quartic KDE surface of a filter's incidents, ready to be computed window by window (see the module docs).
pub struct KdeField {
    /// The filter's located incidents.
    points: FieldIncidents,
    /// Cell size (m): cell centres at `(k + 0.5) cell_m`.
    pub cell_m: f64,
    /// The bandwidth used (given, or the default rule over all the filter's incidents), m.
    pub bandwidth_m: f64,
    /// The largest density of the whole surface (per km2), > 0.
    pub max_per_km2: f64,
}

/// A field's incidents, held once: binned into the lattice when the kernel spans at most
/// [`LATTICE_MAX_RADIUS_CELLS`] cells (every window's cells then come from the bins, see
/// [`crate::analysis::kde_lattice`]), else in a point index (buckets of at least the kernel radius) and summed
/// incident by incident.
enum FieldIncidents {
    Binned(QuarticLattice),
    Indexed(PointIndex),
}

impl FieldIncidents {
    fn bounds(&self) -> Option<Rect<f64>> {
        match self {
            FieldIncidents::Binned(l) => l.bounds(),
            FieldIncidents::Indexed(p) => p.bounds(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (f64, f64)> + '_> {
        match self {
            FieldIncidents::Binned(l) => Box::new(l.points()),
            FieldIncidents::Indexed(p) => Box::new(p.iter()),
        }
    }

    fn within(&self, window: Rect<f64>) -> Box<dyn Iterator<Item = (f64, f64)> + '_> {
        match self {
            FieldIncidents::Binned(l) => Box::new(l.within(window)),
            FieldIncidents::Indexed(p) => Box::new(p.within(window)),
        }
    }
}

/// The widest kernel (in cells) whose windows are computed from the binned incidents: a cell costs a few run
/// sums in each of its `2 R + 1` stencil rows and the incidents of the `~2 pi R` bins on the circle there, which
/// beats summing the incidents within the radius while `R` is small (the automatic cell gives `R` of 16-24).
pub const LATTICE_MAX_RADIUS_CELLS: f64 = 32.0;

impl HeapSize for KdeField {
    fn heap_bytes(&self) -> usize {
        match &self.points {
            FieldIncidents::Binned(l) => l.heap_bytes(),
            FieldIncidents::Indexed(p) => p.heap_bytes(),
        }
    }
}

/// The [`KdeField`] of the filter's located incidents with cells of `cell_m` and the bandwidth `bandwidth_m`
/// (`None` = the default rule); `None` when there is nothing to estimate (as [`kde_surface`]). Costs the
/// filter's incidents (the bandwidth rule and the index in O(n log n) at most) and the search for the maximum
/// (see [`KdeField::new`]), whatever the extent of the incidents; [`SurfaceError::Cancelled`] once `cancel` is.
pub fn kde_field(
    snapshot: &Snapshot,
    filter: &Filter,
    cell_m: f64,
    bandwidth_m: Option<f64>,
    cancel: &Cancel,
) -> Result<Option<KdeField>, SurfaceError> {
    let events = located_events(snapshot, filter);
    cancel.check()?;
    KdeField::new(&events, cell_m, bandwidth_m, cancel)
}

/// Cell centres a sparse [`KdeField::sample`] computes between two cancellation checks.
const CENTRES_PER_CHECK: usize = 16_384;

impl KdeField {
    /// The field of `events` (see [`kde_field`]). The maximum is the largest value of every cell of the
    /// lattice, found by branch and bound (blocks whose upper bound cannot beat the largest value found are never
    /// computed): it costs the incidents near the densest places, not the occupied lattice.
    pub fn new(
        events: &[Event],
        cell_m: f64,
        bandwidth_m: Option<f64>,
        cancel: &Cancel,
    ) -> Result<Option<KdeField>, SurfaceError> {
        if !(cell_m.is_finite() && cell_m > 0.0) {
            return Err(KdeError::InvalidCellSize(cell_m).into());
        }
        if events.is_empty() {
            return Ok(None);
        }
        let bandwidth_m = match bandwidth_m {
            Some(b) => b,
            None => match crate::analysis::kde::default_bandwidth_m(events) {
                Ok(b) => b,
                Err(KdeError::NoEvents | KdeError::DegenerateBandwidth) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        if !(bandwidth_m.is_finite() && bandwidth_m > 0.0) {
            return Err(KdeError::InvalidBandwidth(bandwidth_m).into());
        }
        cancel.check()?;
        let support_m = Kernel::Quartic.support_radius_m(bandwidth_m, DEFAULT_GAUSSIAN_TAIL);
        let located = events.iter().map(|e| (e.x_m, e.y_m));
        let points = if support_m / cell_m <= LATTICE_MAX_RADIUS_CELLS {
            FieldIncidents::Binned(QuarticLattice::new(located, cell_m, support_m)?)
        } else {
            FieldIncidents::Indexed(PointIndex::new(
                located,
                support_m.max(4.0 * cell_m).max(250.0),
            ))
        };
        let mut field = KdeField {
            points,
            cell_m,
            bandwidth_m,
            max_per_km2: 0.0,
        };
        cancel.check()?;
        field.max_per_km2 = field.largest_density(cancel)?;
        Ok((field.max_per_km2 > 0.0).then_some(field))
    }

    /// The kernel radius (m): a cell's value depends on the incidents within it only.
    pub fn support_m(&self) -> f64 {
        Kernel::Quartic.support_radius_m(self.bandwidth_m, DEFAULT_GAUSSIAN_TAIL)
    }

    /// The cells of the lattice covering `window` (RD metres; cut to the kernel radius around the incidents) and
    /// one more cell around it, so that bilinear sampling anywhere in the window has its four cell centres;
    /// densities per km2 from the incidents within the kernel radius of those cells. [`SurfaceError::KdeTooManyCells`] when that is more than [`MAX_KDE_CELLS`].
    /// [`SurfaceError::Cancelled`] once `cancel` is.
    pub fn raster<T: KdeFloat>(
        &self,
        window: Rect<f64>,
        cancel: &Cancel,
    ) -> Result<Raster<T>, SurfaceError> {
        let c = self.cell_m;
        // Beyond the kernel radius of the incidents the surface is 0: a window reaching further is cut there.
        let window = match self.points.bounds() {
            Some(b) => {
                let s = self.support_m() + c;
                let (x0, y0) = (
                    window.min().x.max(b.min().x - s),
                    window.min().y.max(b.min().y - s),
                );
                let (x1, y1) = (
                    window.max().x.min(b.max().x + s),
                    window.max().y.min(b.max().y + s),
                );
                if x0 <= x1 && y0 <= y1 {
                    Rect::new((x0, y0), (x1, y1))
                } else {
                    // Nothing of the surface in the window: one empty cell.
                    Rect::new(window.min(), window.min())
                }
            }
            None => window,
        };
        let extent = Extent {
            minx_m: ((window.min().x / c).floor() - 1.0) * c,
            miny_m: ((window.min().y / c).floor() - 1.0) * c,
            maxx_m: ((window.max().x / c).ceil() + 1.0) * c,
            maxy_m: ((window.max().y / c).ceil() + 1.0) * c,
        };
        let cells = ((extent.maxx_m - extent.minx_m) / c) * ((extent.maxy_m - extent.miny_m) / c);
        if cells.is_nan() || cells > MAX_KDE_CELLS {
            return Err(SurfaceError::KdeTooManyCells { cells });
        }
        self.raster_of_extent(extent, cancel)
    }

    /// The surface at each of `points_rd` (RD metres): bilinear between the four nearest cell centres, as
    /// [`crate::render::bilinear`] on the whole surface; NaN for a non-finite point. Costs the incidents within the
    /// kernel radius of the points' bounding box and at most four cells per point, however large that box is.
    /// A cancelled `cancel` is [`SurfaceError::Cancelled`].
    pub fn sample(
        &self,
        points_rd: &[(f64, f64)],
        cancel: &Cancel,
    ) -> Result<Vec<f64>, SurfaceError> {
        cancel.check()?;
        let Some(window) = finite_bounds(points_rd) else {
            return Ok(vec![f64::NAN; points_rd.len()]);
        };
        let c = self.cell_m;
        let cells = (window.width() / c + 3.0) * (window.height() / c + 3.0);
        if cells <= 4.0 * points_rd.len() as f64 {
            let raster = self.raster::<f64>(window, cancel)?;
            return Ok(points_rd
                .iter()
                .map(|&(x, y)| crate::render::bilinear(&raster, x, y))
                .collect());
        }
        // Fewer points than cells: the four cells around each point only. Lattice cell (i, j) has its centre at
        // ((i + 0.5) c, (j + 0.5) c).
        let corner = |x: f64, y: f64| {
            let (fx, fy) = (x / c - 0.5, y / c - 0.5);
            let (i0, j0) = (fx.floor(), fy.floor());
            (i0 as i64, j0 as i64, fx - i0, fy - j0)
        };
        let mut slot: std::collections::HashMap<(i64, i64), usize> = Default::default();
        let mut centres = Vec::new();
        for &(x, y) in points_rd
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
        {
            let (i0, j0, _, _) = corner(x, y);
            for (i, j) in [(i0, j0), (i0 + 1, j0), (i0, j0 + 1), (i0 + 1, j0 + 1)] {
                slot.entry((i, j)).or_insert_with(|| {
                    centres.push(((i as f64 + 0.5) * c, (j as f64 + 0.5) * c));
                    centres.len() - 1
                });
            }
        }
        let s = self.support_m();
        let reach = Rect::new(
            (window.min().x - c - s, window.min().y - c - s),
            (window.max().x + c + s, window.max().y + c + s),
        );
        let events = self.events_within(reach);
        // In pieces, with a cancellation check between them (each value is computed on its own, so the pieces
        // give the same values as one call).
        let mut values = Vec::with_capacity(centres.len());
        for piece in centres.chunks(CENTRES_PER_CHECK) {
            cancel.check()?;
            values.extend(density_at_points(
                &events,
                Kernel::Quartic,
                self.bandwidth_m,
                DEFAULT_GAUSSIAN_TAIL,
                piece,
            )?);
        }
        let at = |i: i64, j: i64| slot.get(&(i, j)).map_or(0.0, |&k| values[k]);
        Ok(points_rd
            .iter()
            .map(|&(x, y)| {
                if !(x.is_finite() && y.is_finite()) {
                    return f64::NAN;
                }
                let (i0, j0, tx, ty) = corner(x, y);
                let south = at(i0, j0) * (1.0 - tx) + at(i0 + 1, j0) * tx;
                let north = at(i0, j0 + 1) * (1.0 - tx) + at(i0 + 1, j0 + 1) * tx;
                south * (1.0 - ty) + north * ty
            })
            .collect())
    }

    /// The incidents inside `window` as unit events, west to east (then south to north): a fixed order, so that
    /// every computation of the same cells sums in the same order and gives the same bits.
    fn events_within(&self, window: Rect<f64>) -> Vec<Event> {
        let mut points: Vec<(f64, f64)> = self.points.within(window).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        points
            .into_iter()
            .map(|(x_m, y_m)| Event {
                x_m,
                y_m,
                begin: None,
                end: None,
                weight: 1.0,
            })
            .collect()
    }

    fn raster_of_extent<T: KdeFloat>(
        &self,
        extent: Extent,
        cancel: &Cancel,
    ) -> Result<Raster<T>, SurfaceError> {
        if let FieldIncidents::Binned(lattice) = &self.points {
            return lattice.raster(extent, cancel).map_err(|e| match e {
                LatticeError::Cancelled(c) => SurfaceError::Cancelled(c),
                e => e.into(),
            });
        }
        cancel.check()?;
        let s = self.support_m();
        let reach = Rect::new(
            (extent.minx_m - s, extent.miny_m - s),
            (extent.maxx_m + s, extent.maxy_m + s),
        );
        let events = self.events_within(reach);
        let params = KdeParams {
            bandwidth_m: Some(self.bandwidth_m),
            extent_m: Some(extent),
            ..KdeParams::new(self.cell_m)
        };
        Ok(kde_raster::<T>(&events, &params)?.raster)
    }

    /// The largest cell value of the whole surface, exactly, by branch and bound: square blocks of the lattice
    /// (from blocks at least twice the kernel radius wide down to [`LEAF_CELLS`] cells) get an upper bound from
    /// the incident counts in squares of half their side ([`CountLevel`]): every incident counts with the kernel
    /// at its square's shortest distance to the block's cell centres. Blocks are taken in descending bound
    /// order; a block is split while its bound beats the largest value found so far, a leaf block is computed
    /// exactly (as any window), and the search ends when no bound beats it: every cell not computed is at most
    /// its block's bound, so the result is the maximum over every cell of the lattice.
    fn largest_density(&self, cancel: &Cancel) -> Result<f64, SurfaceError> {
        let c = self.cell_m;
        let r = self.support_m();
        // Level k: blocks of LEAF_CELLS << k cells, counts in squares of half their side.
        let mut top = 0;
        while ((LEAF_CELLS << top) as f64) * c < 2.0 * r && top < MAX_LEVEL {
            top += 1;
        }
        let mut levels = vec![CountLevel::of_points(
            self.points.iter(),
            LEAF_CELLS as f64 * c / 2.0,
        )];
        for _ in 0..top {
            cancel.check()?;
            let coarser = levels[levels.len() - 1].coarser();
            levels.push(coarser);
        }
        let bound = |k: usize, bi: i64, bj: i64| -> f64 {
            let cells = LEAF_CELLS << k;
            let (cx0, cy0) = (
                ((bi * cells) as f64 + 0.5) * c,
                ((bj * cells) as f64 + 0.5) * c,
            );
            let (cx1, cy1) = (
                (((bi + 1) * cells) as f64 - 0.5) * c,
                (((bj + 1) * cells) as f64 - 0.5) * c,
            );
            let mut sum = 0.0;
            levels[k].for_each_within(cx0 - r, cy0 - r, cx1 + r, cy1 + r, |(x0, y0, x1, y1), n| {
                let dx = (cx0 - x1).max(x0 - cx1).max(0.0);
                let dy = (cy0 - y1).max(y0 - cy1).max(0.0);
                sum += f64::from(n) * Kernel::Quartic.value_per_m2(dx.hypot(dy), self.bandwidth_m);
            });
            // Per km2, with room for rounding: the cells' sums round differently from this one.
            let peak = Kernel::Quartic.value_per_m2(0.0, self.bandwidth_m);
            (sum * (1.0 + 1e-9) + 1e-9 * peak) * 1e6
        };
        // The top blocks within the kernel radius of an incident.
        let top_m = (LEAF_CELLS << top) as f64 * c;
        let mut starts = Vec::new();
        for &(j, i, _) in &levels[top].buckets {
            let g = levels[top].side_m;
            let (x0, y0) = (i as f64 * g - r, j as f64 * g - r);
            let (x1, y1) = ((i + 1) as f64 * g + r, (j + 1) as f64 * g + r);
            for bj in (y0 / top_m).floor() as i64..=(y1 / top_m).floor() as i64 {
                for bi in (x0 / top_m).floor() as i64..=(x1 / top_m).floor() as i64 {
                    starts.push((bi, bj));
                }
            }
        }
        starts.sort_unstable();
        starts.dedup();
        let mut queue: BinaryHeap<Block> = starts
            .into_iter()
            .map(|(bi, bj)| Block {
                bound: bound(top, bi, bj),
                level: top,
                bi,
                bj,
            })
            .collect();
        let mut best = 0.0_f64;
        let batch = rayon::current_num_threads().max(1);
        while let Some(block) = queue.pop() {
            cancel.check()?;
            if block.bound <= best {
                break;
            }
            if block.level > 0 {
                let k = block.level - 1;
                for (bi, bj) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (bi, bj) = (2 * block.bi + bi, 2 * block.bj + bj);
                    let b = bound(k, bi, bj);
                    if b > best {
                        queue.push(Block {
                            bound: b,
                            level: k,
                            bi,
                            bj,
                        });
                    }
                }
                continue;
            }
            // Leaves are computed a few at a time, in parallel.
            let mut leaves = vec![block];
            while leaves.len() < batch {
                match queue.peek() {
                    Some(next) if next.level == 0 && next.bound > best => {
                        leaves.extend(queue.pop());
                    }
                    _ => break,
                }
            }
            let maxima = leaves
                .par_iter()
                .map(|leaf| {
                    let m = LEAF_CELLS as f64 * c;
                    let extent = Extent {
                        minx_m: leaf.bi as f64 * m,
                        miny_m: leaf.bj as f64 * m,
                        maxx_m: (leaf.bi + 1) as f64 * m,
                        maxy_m: (leaf.bj + 1) as f64 * m,
                    };
                    let raster = self.raster_of_extent::<f64>(extent, cancel)?;
                    Ok(raster.max().map_or(0.0, |m| m.0))
                })
                .collect::<Result<Vec<f64>, SurfaceError>>()?;
            best = maxima.into_iter().fold(best, f64::max);
        }
        Ok(best)
    }
}

/// Lattice cells per side of the blocks whose cells [`KdeField`] computes exactly when searching the maximum.
const LEAF_CELLS: i64 = 8;

/// Most levels of blocks above the leaves (blocks of `LEAF_CELLS << MAX_LEVEL` cells at most).
const MAX_LEVEL: usize = 40;

/// A block of the lattice in the search for the maximum: cells `[bi s, (bi + 1) s) x [bj s, (bj + 1) s)` with
/// `s = LEAF_CELLS << level`, and an upper bound of its cells' values. Ordered by bound (then position).
#[derive(Clone, Copy, Debug)]
struct Block {
    bound: f64,
    level: usize,
    bi: i64,
    bj: i64,
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Block {}

impl PartialOrd for Block {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Block {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bound
            .total_cmp(&other.bound)
            .then_with(|| (self.level, self.bi, self.bj).cmp(&(other.level, other.bi, other.bj)))
    }
}

/// The number of incidents in each occupied square `[i s, (i + 1) s) x [j s, (j + 1) s)` of side `s = side_m`.
struct CountLevel {
    side_m: f64,
    /// `(j, i, count)`, sorted by row then column.
    buckets: Vec<(i64, i64, u32)>,
}

impl CountLevel {
    /// The counts of `points` in squares of `side_m`.
    fn of_points(points: impl Iterator<Item = (f64, f64)>, side_m: f64) -> CountLevel {
        let mut keys: Vec<(i64, i64)> = points
            .map(|(x, y)| ((y / side_m).floor() as i64, (x / side_m).floor() as i64))
            .collect();
        keys.par_sort_unstable();
        CountLevel {
            side_m,
            buckets: Self::runs(keys.into_iter().map(|(j, i)| (j, i, 1))),
        }
    }

    /// The counts in squares of twice the side.
    fn coarser(&self) -> CountLevel {
        let mut keyed: Vec<(i64, i64, u32)> = self
            .buckets
            .iter()
            .map(|&(j, i, n)| (j.div_euclid(2), i.div_euclid(2), n))
            .collect();
        keyed.sort_unstable_by_key(|&(j, i, _)| (j, i));
        CountLevel {
            side_m: 2.0 * self.side_m,
            buckets: Self::runs(keyed.into_iter()),
        }
    }

    /// Sorted `(j, i, n)` with equal squares summed.
    fn runs(sorted: impl Iterator<Item = (i64, i64, u32)>) -> Vec<(i64, i64, u32)> {
        let mut out: Vec<(i64, i64, u32)> = Vec::new();
        for (j, i, n) in sorted {
            match out.last_mut() {
                Some((lj, li, ln)) if (*lj, *li) == (j, i) => *ln = ln.saturating_add(n),
                _ => out.push((j, i, n)),
            }
        }
        out
    }

    /// Calls `f((x0, y0, x1, y1), count)` for every occupied square overlapping `[x0, x1] x [y0, y1]`.
    fn for_each_within(
        &self,
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        mut f: impl FnMut((f64, f64, f64, f64), u32),
    ) {
        let s = self.side_m;
        let (i0, i1) = ((x0 / s).floor() as i64, (x1 / s).floor() as i64);
        let (j0, j1) = ((y0 / s).floor() as i64, (y1 / s).floor() as i64);
        let key = |&(bj, bi, _): &(i64, i64, u32)| (bj, bi);
        for run in window_runs(&self.buckets, key, (i0, i1), (j0, j1)) {
            for &(bj, bi, n) in &self.buckets[run] {
                let (x, y) = (bi as f64 * s, bj as f64 * s);
                f((x, y, x + s, y + s), n);
            }
        }
    }
}

/// The `kde` layer of `tile` computed from `field` over the tile and its clip buffer only: the contour polygons
/// of `levels` levels (level `i` is the region with density >= `i / (levels + 1)` times the field's maximum; id =
/// level; `level`, `density_per_km2`); `None` when empty. `window_rd` is the RD bounding box of the tile with its
/// buffer (see [`crate::tiles::TileId::buffered_bounds_m`]).
pub fn kde_tile_local(
    field: &KdeField,
    levels: usize,
    tile: TileId,
    window_rd: Rect<f64>,
    cancel: &Cancel,
) -> Result<Option<Vec<u8>>, SurfaceError> {
    // Two more cells around the window: the contours' artificial edges along the raster's border stay outside
    // the clipped tile.
    let c = field.cell_m;
    let grown = Rect::new(
        (window_rd.min().x - 2.0 * c, window_rd.min().y - 2.0 * c),
        (window_rd.max().x + 2.0 * c, window_rd.max().y + 2.0 * c),
    );
    let raster = field.raster::<f32>(grown, cancel)?;
    let mut contours = Vec::with_capacity(levels);
    for c in density_contours(&raster, field.max_per_km2, levels) {
        if c.polygon_rd.0.is_empty() {
            continue;
        }
        contours.push(Contour {
            level: c.level,
            density_per_km2: c.density_per_km2,
            polygon_m: rd_to_mercator(&c.polygon_rd)?,
            polygon_rd: c.polygon_rd,
        });
    }
    kde_tile(&contours, tile)
}

/// The `kde` layer of `tile`: the contours reaching into it (id = level; `level`, `density_per_km2`); `None`
/// when empty.
pub fn kde_tile(contours: &[Contour], tile: TileId) -> Result<Option<Vec<u8>>, SurfaceError> {
    let features = contours
        .iter()
        .filter(|c| reaches_tile(tile, &c.polygon_m.bounding_rect()))
        .map(|c| TileFeature {
            id: c.level as u64,
            geometry: TileGeometry::Polygons(&c.polygon_m),
            properties: vec![
                ("level", Value::Int(c.level as i64)),
                ("density_per_km2", Value::Double(c.density_per_km2)),
            ],
        })
        .collect();
    encode_layer(tile, "kde", features)
}

/// The GeoJSON features (WGS84) of the non-empty contours: `id` and `level` the contour level,
/// `density_per_km2` its lower density bound.
pub fn contour_features(contours: &[Contour]) -> Result<Vec<serde_json::Value>, SurfaceError> {
    contours
        .iter()
        .filter(|c| !c.polygon_rd.0.is_empty())
        .map(|c| {
            super::geojson_feature(
                serde_json::json!(c.level),
                &c.polygon_rd,
                serde_json::json!({"level": c.level, "density_per_km2": c.density_per_km2}),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// `a` and `b` equal to 1e-9 relative (values below 1e-12 of the maximum count as zero).
    fn same(a: f64, b: f64, max: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12 * max
    }

    #[test]
    fn every_window_of_the_field_is_the_whole_surface_there() {
        let s = fixture::town();
        let events = located_events(&s, &Filter::all(&s));
        // The last: a kernel of 80 cells, wider than LATTICE_MAX_RADIUS_CELLS, summed incident by incident.
        for (cell_m, bandwidth_m) in [
            (25.0, Some(200.0)),
            (33.3, Some(150.0)),
            (10.0, None),
            (5.0, Some(400.0)),
        ] {
            let field = KdeField::new(&events, cell_m, bandwidth_m, &Cancel::never())
                .unwrap()
                .unwrap();
            let params = KdeParams {
                bandwidth_m: Some(field.bandwidth_m),
                ..KdeParams::new(cell_m)
            };
            let whole = kde_raster::<f64>(&events, &params).unwrap().raster;
            let max = whole.max().unwrap().0;
            assert!(
                same(field.max_per_km2, max, max),
                "{cell_m}: {} vs {max}",
                field.max_per_km2
            );
            let (x0, y0) = (fixture::X0, fixture::Y0);
            for (a, b, c, d) in [
                (600.0, 600.0, 900.0, 800.0),
                (-500.0, -500.0, 2_000.0, 2_000.0),
                (534.5, -77.0, 1_000.0, 300.0),
                (5_000.0, 5_000.0, 5_100.0, 5_100.0),
            ] {
                let window = Rect::new((x0 + a, y0 + b), (x0 + c, y0 + d));
                let local = field.raster::<f64>(window, &Cancel::never()).unwrap();
                let mut compared = 0;
                for j in 0..local.height {
                    for i in 0..local.width {
                        let (x, y) = local.cell_centre_m(i, j);
                        let v = local.get(i, j).unwrap();
                        let w = whole.value_at(x, y).unwrap_or(0.0);
                        assert!(same(v, w, max), "{cell_m} at ({x}, {y}): {v} vs {w}");
                        compared += usize::from(w > 0.0);
                    }
                }
                assert!(
                    compared > 0 || a > 4_000.0,
                    "the window {a},{b} holds density"
                );
            }
        }
    }

    #[test]
    fn the_maximum_by_branch_and_bound_is_the_largest_cell_of_the_whole_surface() {
        // Clusters of different sizes and spreads over 30 x 30 km, some nearly equal in height, plus background.
        let mut g = 7_u64;
        let mut next = || {
            g = g
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (g >> 11) as f64 / 9_007_199_254_740_992.0
        };
        let centres: Vec<(f64, f64, f64)> = (0..12)
            .map(|_| {
                (
                    100_000.0 + 30_000.0 * next(),
                    400_000.0 + 30_000.0 * next(),
                    50.0 + 800.0 * next(),
                )
            })
            .collect();
        let events: Vec<Event> = (0..6_000)
            .map(|k| {
                let (x_m, y_m) = if k % 3 == 0 {
                    (100_000.0 + 30_000.0 * next(), 400_000.0 + 30_000.0 * next())
                } else {
                    let (x, y, spread) = centres[k % centres.len()];
                    (x + spread * (next() - 0.5), y + spread * (next() - 0.5))
                };
                Event {
                    x_m,
                    y_m,
                    begin: None,
                    end: None,
                    weight: 1.0,
                }
            })
            .collect();
        for (cell_m, bandwidth_m) in [
            (50.0, Some(400.0)),
            (100.0, None),
            (20.0, Some(150.0)),
            (500.0, Some(300.0)),
        ] {
            let field = KdeField::new(&events, cell_m, bandwidth_m, &Cancel::never())
                .unwrap()
                .unwrap();
            let params = KdeParams {
                bandwidth_m: Some(field.bandwidth_m),
                ..KdeParams::new(cell_m)
            };
            let max = kde_raster::<f64>(&events, &params)
                .unwrap()
                .raster
                .max()
                .unwrap()
                .0;
            assert!(
                same(field.max_per_km2, max, max),
                "{cell_m}: {} vs {max}",
                field.max_per_km2
            );
        }
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert!(matches!(
            KdeField::new(&events, 50.0, Some(400.0), &cancel),
            Err(SurfaceError::Cancelled(_))
        ));
    }

    #[test]
    fn samples_are_bilinear_on_the_whole_surface_dense_or_sparse() {
        let s = fixture::town();
        let events = located_events(&s, &Filter::all(&s));
        let field = KdeField::new(&events, 25.0, Some(200.0), &Cancel::never())
            .unwrap()
            .unwrap();
        let params = KdeParams {
            bandwidth_m: Some(200.0),
            ..KdeParams::new(25.0)
        };
        let whole = kde_raster::<f64>(&events, &params).unwrap().raster;
        let max = field.max_per_km2;
        let (x0, y0) = (fixture::X0, fixture::Y0);
        // A dense patch (more points than cells) and a sparse scatter over 3 km (fewer points than cells).
        let dense: Vec<(f64, f64)> = (0..400)
            .map(|k| {
                (
                    x0 + 600.0 + 3.1 * f64::from(k % 20),
                    y0 + 650.0 + 2.7 * f64::from(k / 20),
                )
            })
            .collect();
        let sparse: Vec<(f64, f64)> = (0..50)
            .map(|k| {
                (
                    x0 - 700.0 + 61.3 * f64::from(k),
                    y0 + 2_300.0 - 57.9 * f64::from(k),
                )
            })
            .chain([(f64::NAN, y0)])
            .collect();
        for points in [dense, sparse] {
            let got = field.sample(&points, &Cancel::never()).unwrap();
            for (&(x, y), v) in points.iter().zip(got) {
                let want = crate::render::bilinear(&whole, x, y);
                if x.is_nan() {
                    assert!(v.is_nan());
                } else {
                    assert!(same(v, want, max), "({x}, {y}): {v} vs {want}");
                }
            }
        }
    }

    #[test]
    fn the_tile_layer_of_the_field_draws_the_contours_near_the_tile() {
        let s = fixture::town();
        let events = located_events(&s, &Filter::all(&s));
        let field = KdeField::new(&events, 25.0, Some(200.0), &Cancel::never())
            .unwrap()
            .unwrap();
        let tile = fixture::tile_over(725.0, 725.0, 15);
        let window = super::super::tile_window_rd(tile).unwrap();
        let bytes = kde_tile_local(&field, 5, tile, window, &Cancel::never())
            .unwrap()
            .unwrap();
        assert!(
            bytes.windows(3).any(|w| w == b"kde"),
            "the layer is named kde"
        );
        let far = fixture::tile_over(30_000.0, 30_000.0, 15);
        let window = super::super::tile_window_rd(far).unwrap();
        assert!(kde_tile_local(&field, 5, far, window, &Cancel::never())
            .unwrap()
            .is_none());
        // A window is cut to the incidents' reach: a huge one over the town is small...
        assert!(field
            .raster::<f32>(Rect::new((0.0, 0.0), (1e6, 1e6)), &Cancel::never())
            .is_ok());
        // ... but one over incidents 300 km apart is refused, while the field itself costs two blocks.
        let at = |x_m, y_m| Event {
            x_m,
            y_m,
            begin: None,
            end: None,
            weight: 1.0,
        };
        let apart = [
            at(10_000.0, 300_000.0),
            at(290_000.0, 600_000.0),
            at(290_050.0, 600_000.0),
        ];
        let wide = KdeField::new(&apart, 10.0, Some(100.0), &Cancel::never())
            .unwrap()
            .unwrap();
        assert!(matches!(
            wide.raster::<f32>(Rect::new((0.0, 0.0), (1e6, 1e6)), &Cancel::never()),
            Err(SurfaceError::KdeTooManyCells { .. })
        ));
    }

    #[test]
    fn contour_features_are_the_non_empty_levels() {
        let s = fixture::town();
        let surface = kde_surface(&s, &Filter::all(&s), 25.0, Some(200.0))
            .unwrap()
            .unwrap();
        let mut contours = kde_contours(&surface, 5).unwrap();
        contours[0].polygon_rd = geo_types::MultiPolygon(vec![]);
        let features = contour_features(&contours).unwrap();
        assert_eq!(
            features.iter().map(|f| f["id"].clone()).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
        assert_eq!(
            features[3]["properties"]["density_per_km2"],
            contours[4].density_per_km2
        );
    }

    #[test]
    fn surface_peaks_at_the_cluster_and_contours_nest() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let surface = kde_surface(&s, &all, 25.0, Some(200.0)).unwrap().unwrap();
        assert_eq!(surface.kde.bandwidth_m, 200.0);
        assert!(surface.max_per_km2 > 0.0);
        let contours = kde_contours(&surface, 5).unwrap();
        assert_eq!(
            contours.iter().map(|c| c.level).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        // The highest level surrounds the cluster near (725, 725).
        let top = &contours[4];
        let b = top.polygon_rd.bounding_rect().unwrap();
        let (cx, cy) = (fixture::X0 + 725.0, fixture::Y0 + 725.0);
        assert!(b.min().x < cx && cx < b.max().x && b.min().y < cy && cy < b.max().y);
        assert!(contours
            .windows(2)
            .all(|w| w[0].density_per_km2 < w[1].density_per_km2));
    }

    #[test]
    fn default_bandwidth_follows_the_rule_and_is_none_without_incidents() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let rule = crate::analysis::kde::default_bandwidth_m(&located_events(&s, &all)).unwrap();
        assert_eq!(default_bandwidth_m(&s, &all), Some(rule));
        let none = Filter::new(&s, vec!["9.9.9".into()], vec![], None, None);
        assert_eq!(default_bandwidth_m(&s, &none), None);
        assert!(kde_surface(&s, &none, 50.0, None).unwrap().is_none());
    }

    #[test]
    fn too_fine_a_surface_is_a_parameter_error() {
        let s = fixture::town();
        let e = kde_surface(&s, &Filter::all(&s), 0.1, Some(20_000.0))
            .err()
            .unwrap();
        assert!(matches!(e, SurfaceError::KdeTooManyCells { .. }), "{e}");
        assert_eq!(e.parameter(), Some("cell"));
    }

    #[test]
    fn tile_holds_the_contours_over_it_only() {
        let s = fixture::town();
        let surface = kde_surface(&s, &Filter::all(&s), 25.0, Some(200.0))
            .unwrap()
            .unwrap();
        let contours = kde_contours(&surface, 3).unwrap();
        let over = fixture::tile_over(725.0, 725.0, 14);
        assert!(kde_tile(&contours, over).unwrap().is_some());
        let far = TileId::new(14, 0, 0).unwrap();
        assert!(kde_tile(&contours, far).unwrap().is_none());
    }
}
