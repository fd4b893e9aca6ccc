//! The quartic kernel density at the cell centres of a lattice anchored at the RD origin (cell `(i, j)` has its
//! centre at `((i + 0.5) c, (j + 0.5) c)`), computed from the incidents binned into the lattice's own cells
//! ([`QuarticLattice`]).
//!
//! Within its radius `r` the quartic kernel `3 / (pi r^2) (1 - d^2 / r^2)^2` is a polynomial of degree 4 in the
//! incident's coordinates, so the kernels of all the incidents of a group of bins that lies wholly within `r` of a
//! cell centre sum to a fixed combination of nine sums over the group (its count and moments up to degree 4, in
//! coordinates relative to the group's centre and scaled by `r`). A bin wholly beyond `r` adds nothing, and only
//! the bins that the kernel's circle crosses are summed incident by incident. Which bins are which depends only
//! on the offset between the cell and the bin, so it is one stencil for the whole lattice. In each row of the
//! stencil the bins wholly inside the circle are one run `-L..=L`, summed as a few runs of `2^k` bins whose sums
//! come from those of their two halves (moments moved to the run's centre): a run of `2^k` bins starting at any
//! column is one term. A cell then costs about `2 r / c` rows of a few terms each and the incidents of the
//! ~`2 pi r / c` bins on the circle, instead of every incident within `r` (or the `pi (r / c)^2` bins inside
//! it); the values equal the direct sum to rounding (tests: 1e-12 relative).
//!
//! Every cell's value is summed in the same order (the inside runs level by level, each level in stencil order,
//! then the crossed bins in stencil order, each bin's incidents in bin order) from run sums that depend only on
//! the bins they cover, whatever window it is computed in, so a cell has the same bits in every window.
//!
//! ```
//! use brandpunt::analysis::kde::{Extent, Kernel};
//! use brandpunt::analysis::kde_lattice::QuarticLattice;
//! use brandpunt::cancel::Cancel;
//!
//! let points = [(155_010.0, 463_020.0), (155_300.0, 463_100.0), (156_000.0, 462_500.0)];
//! let lattice = QuarticLattice::new(points.iter().copied(), 50.0, 800.0).unwrap();
//! let extent = Extent { minx_m: 154_000.0, miny_m: 462_000.0, maxx_m: 157_000.0, maxy_m: 464_000.0 };
//! let raster = lattice.raster::<f64>(extent, &Cancel::never()).unwrap();
//! assert_eq!((raster.width, raster.height), (60, 40));
//! // The cell centred at (155 025, 463 025): the sum of the three kernels (per km2).
//! let direct: f64 = points
//!     .iter()
//!     .map(|&(x, y)| Kernel::Quartic.value_per_m2((x - 155_025.0_f64).hypot(y - 463_025.0), 800.0) * 1e6)
//!     .sum();
//! let (col, row) = (20, 19);
//! assert!((raster.values[row * raster.width + col] - direct).abs() < 1e-12 * direct);
//! ```

use super::grid::window_runs;
use super::kde::{avx2_available, Extent, KdeFloat, Kernel, Raster};
use crate::cancel::{Cancel, Cancelled};
use crate::heap_size::HeapSize;
use geo_types::Rect;
use rayon::prelude::*;

/// Errors of [`QuarticLattice`].
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LatticeError {
    /// The cell size is not a positive finite number.
    #[error("cell size {0} m is not a positive number")]
    InvalidCellSize(f64),
    /// The radius is not a positive finite number.
    #[error("kernel radius {0} m is not a positive number")]
    InvalidRadius(f64),
    /// The radius spans more cells than the stencil allows.
    #[error("kernel radius {radius_m} m is more than {MAX_REACH_CELLS} cells of {cell_m} m")]
    RadiusTooWide { radius_m: f64, cell_m: f64 },
    /// An extent whose edges are not on the lattice, or empty.
    #[error("extent {0:?} does not lie on the lattice")]
    OffLattice(Extent),
    /// The computation was cancelled.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// Largest kernel radius in cells (the stencil has `(2 R + 1)^2` offsets).
pub const MAX_REACH_CELLS: f64 = 256.0;

/// Number of sums per bin: `n, Sx, Sy, Sxx, Sxy, Syy, Tx, Ty, Q` over the bin's incidents with
/// `q = (p - centre) / r`: `Sx = sum qx`, `Sxx = sum qx^2`, `Sxy = sum qx qy`, `Tx = sum qx |q|^2`,
/// `Ty = sum qy |q|^2`, `Q = sum |q|^4`.
const SUMS: usize = 9;

/// The filter's incidents binned into lattice cells, with each bin's sums, ready to give the quartic density at
/// any cell centre (see the module docs).
pub struct QuarticLattice {
    cell_m: f64,
    radius_m: f64,
    /// Occupied bins `(j, i)`, sorted.
    keys: Vec<(i64, i64)>,
    /// Bin `k`'s incidents are `xs[starts[k]..starts[k + 1]]` (and `ys`).
    starts: Vec<usize>,
    xs: Vec<f64>,
    ys: Vec<f64>,
    /// Bin `k`'s sums.
    sums: Vec<[f64; SUMS]>,
    /// The bounding box of the points (`None` when there are none).
    bounds: Option<Rect<f64>>,
    stencil: Stencil,
}

/// Which bins lie wholly within the radius of a cell centre, as runs of `2^level` bins with the weights of their
/// nine sums, and which bin offsets `(di, dj)` (bin minus cell, in cells) the circle crosses.
struct Stencil {
    /// Largest `|di|`, `|dj|` of any offset.
    reach: usize,
    /// Per run level `k`: the largest `|dj|` of the runs of level `k` or longer (the rows their sums are needed
    /// in).
    level_reach: Vec<i64>,
    /// The runs covering each stencil row's inside bins `-L..=L`, by level, then south to north and west to east.
    inside: Vec<Run>,
    /// Per stencil row `dj` with crossed bins, south to north: their `di`, west to east.
    crossed: Vec<(i64, Vec<i64>)>,
}

/// Bins `start..start + 2^level` (offsets from the cell, in cells) of stencil row `dj`, and the weights of the
/// run's nine sums (moments about the run's centre).
struct Run {
    dj: i64,
    start: i64,
    level: usize,
    weights: [f64; SUMS],
}

/// The weights of the nine sums of a group of incidents for a cell centre at `(dx, dy)` radii from the group's
/// centre: `sum (1 - |q - d|^2)^2` over the group is the dot product of these with its sums.
fn weights(dx: f64, dy: f64) -> [f64; SUMS] {
    let a = 1.0 - (dx * dx + dy * dy);
    [
        a * a,
        4.0 * a * dx,
        4.0 * a * dy,
        4.0 * dx * dx - 2.0 * a,
        8.0 * dx * dy,
        4.0 * dy * dy - 2.0 * a,
        -4.0 * dx,
        -4.0 * dy,
        1.0,
    ]
}

impl Stencil {
    fn new(cell_m: f64, radius_m: f64) -> Stencil {
        let u = cell_m / radius_m;
        // Bins touching the disc have |di| <= r / c + 0.5.
        let reach = (radius_m / cell_m + 0.5).ceil() as i64;
        // A little room for the rounding of the binning (a point may sit a hair outside its bin).
        let slack = 1e-9;
        // Farthest and nearest point of the bin at offset (di, dj) from the cell centre, in radii.
        let far = |di: i64, dj: i64| u * (di.abs() as f64 + 0.5).hypot(dj.abs() as f64 + 0.5);
        let near = |di: i64, dj: i64| {
            u * (di.abs() as f64 - 0.5)
                .max(0.0)
                .hypot((dj.abs() as f64 - 0.5).max(0.0))
        };
        let (mut inside, mut crossed) = (Vec::new(), Vec::new());
        for dj in -reach..=reach {
            // The farthest point grows with |di|: the inside bins of the row are -half..=half.
            let half = (0..=reach)
                .take_while(|&di| far(di, dj) <= 1.0 - slack)
                .last();
            if let Some(half) = half {
                let (mut start, len) = (-half, 2 * half + 1);
                for level in (0..=len.ilog2() as usize).rev() {
                    if len & (1 << level) == 0 {
                        continue;
                    }
                    // The run's centre lies at start + 2^level / 2 - 1/2 cells from the cell centre.
                    let centre = start as f64 + (1u64 << level) as f64 / 2.0 - 0.5;
                    inside.push(Run {
                        dj,
                        start,
                        level,
                        weights: weights(-centre * u, -(dj as f64) * u),
                    });
                    start += 1 << level;
                }
            }
            let row: Vec<i64> = (-reach..=reach)
                .filter(|&di| {
                    let inside_row = half.is_some_and(|h| di.abs() <= h);
                    !inside_row && near(di, dj) < 1.0 + slack
                })
                .collect();
            if !row.is_empty() {
                crossed.push((dj, row));
            }
        }
        // By level (stable: each level's runs stay in stencil order).
        inside.sort_by_key(|run: &Run| run.level);
        let top = inside.iter().map(|run| run.level).max().unwrap_or(0);
        let level_reach = (0..=top)
            .map(|level| {
                inside
                    .iter()
                    .filter(|run| run.level >= level)
                    .map(|run| run.dj.abs())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        Stencil {
            reach: reach as usize,
            level_reach,
            inside,
            crossed,
        }
    }
}

/// One incident's terms of the nine sums, at `q = (qx, qy)` radii from its group's centre.
fn terms(qx: f64, qy: f64) -> [f64; SUMS] {
    let q2 = qx * qx + qy * qy;
    [
        1.0,
        qx,
        qy,
        qx * qx,
        qx * qy,
        qy * qy,
        qx * q2,
        qy * q2,
        q2 * q2,
    ]
}

/// The sums of a group moved from its centre to a point `delta` radii west of it (`q -> q + delta` along x).
#[inline(always)]
fn moved(s: &[f64; SUMS], delta: f64) -> [f64; SUMS] {
    let [n, sx, sy, sxx, sxy, syy, tx, ty, q] = *s;
    let d2 = delta * delta;
    [
        n,
        sx + delta * n,
        sy,
        sxx + 2.0 * delta * sx + d2 * n,
        sxy + delta * sy,
        syy,
        tx + delta * (3.0 * sxx + syy) + 3.0 * d2 * sx + d2 * delta * n,
        ty + 2.0 * delta * sxy + d2 * sy,
        q + 4.0 * delta * tx + d2 * (6.0 * sxx + 2.0 * syy) + 4.0 * d2 * delta * sx + d2 * d2 * n,
    ]
}

impl HeapSize for QuarticLattice {
    fn heap_bytes(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<(i64, i64)>()
            + self.starts.capacity() * std::mem::size_of::<usize>()
            + (self.xs.capacity() + self.ys.capacity()) * std::mem::size_of::<f64>()
            + self.sums.capacity() * std::mem::size_of::<[f64; SUMS]>()
            + self.stencil.inside.capacity() * std::mem::size_of::<Run>()
            + self.stencil.level_reach.capacity() * std::mem::size_of::<i64>()
            + self
                .stencil
                .crossed
                .iter()
                .map(|(_, row)| std::mem::size_of::<(i64, Vec<i64>)>() + row.capacity() * 8)
                .sum::<usize>()
    }
}

impl QuarticLattice {
    /// The finite points of `points` (RD metres, unit weight) binned into cells of `cell_m`, for the quartic
    /// kernel of radius `radius_m`. Costs O(n log n) in the points.
    pub fn new(
        points: impl Iterator<Item = (f64, f64)>,
        cell_m: f64,
        radius_m: f64,
    ) -> Result<QuarticLattice, LatticeError> {
        if !(cell_m.is_finite() && cell_m > 0.0) {
            return Err(LatticeError::InvalidCellSize(cell_m));
        }
        if !(radius_m.is_finite() && radius_m > 0.0) {
            return Err(LatticeError::InvalidRadius(radius_m));
        }
        if radius_m / cell_m > MAX_REACH_CELLS {
            return Err(LatticeError::RadiusTooWide { radius_m, cell_m });
        }
        let mut keyed: Vec<((i64, i64), (f64, f64))> = points
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| {
                (
                    ((y / cell_m).floor() as i64, (x / cell_m).floor() as i64),
                    (x, y),
                )
            })
            .collect();
        // Stable: the incidents of a bin keep their input order.
        keyed.par_sort_by_key(|(k, _)| *k);
        let mut keys: Vec<(i64, i64)> = Vec::new();
        let mut starts = Vec::new();
        let mut sums: Vec<[f64; SUMS]> = Vec::new();
        let (mut xs, mut ys) = (
            Vec::with_capacity(keyed.len()),
            Vec::with_capacity(keyed.len()),
        );
        for (n, &(key, (x, y))) in keyed.iter().enumerate() {
            if keys.last() != Some(&key) {
                keys.push(key);
                starts.push(n);
                sums.push([0.0; SUMS]);
            }
            let (j, i) = key;
            let qx = (x - (i as f64 + 0.5) * cell_m) / radius_m;
            let qy = (y - (j as f64 + 0.5) * cell_m) / radius_m;
            if let Some(s) = sums.last_mut() {
                for (acc, v) in s.iter_mut().zip(terms(qx, qy)) {
                    *acc += v;
                }
            }
            xs.push(x);
            ys.push(y);
        }
        starts.push(xs.len());
        let bounds = match (
            xs.iter().copied().reduce(f64::min),
            xs.iter().copied().reduce(f64::max),
            ys.iter().copied().reduce(f64::min),
            ys.iter().copied().reduce(f64::max),
        ) {
            (Some(x0), Some(x1), Some(y0), Some(y1)) => Some(Rect::new((x0, y0), (x1, y1))),
            _ => None,
        };
        Ok(QuarticLattice {
            cell_m,
            radius_m,
            keys,
            starts,
            xs,
            ys,
            sums,
            bounds,
            stencil: Stencil::new(cell_m, radius_m),
        })
    }

    /// Number of binned (finite) points.
    pub fn len(&self) -> usize {
        self.xs.len()
    }

    /// Whether no point was binned.
    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// The binned points, bin by bin.
    pub fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.xs.iter().copied().zip(self.ys.iter().copied())
    }

    /// The bounding box of the binned points; `None` when there are none.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        self.bounds
    }

    /// The binned points inside `window` (edges included), bin by bin; costs the occupied bins of the window
    /// (found with a few binary searches per row) and their points.
    pub fn within(&self, window: Rect<f64>) -> impl Iterator<Item = (f64, f64)> + '_ {
        let c = self.cell_m;
        let span = |lo: f64, hi: f64| ((lo / c).floor() as i64, (hi / c).floor() as i64);
        let cols = span(window.min().x, window.max().x);
        let rows = span(window.min().y, window.max().y);
        window_runs(&self.keys, |&k| k, cols, rows)
            .flatten()
            .flat_map(move |k| {
                let range = self.starts[k]..self.starts[k + 1];
                self.xs[range.clone()]
                    .iter()
                    .copied()
                    .zip(self.ys[range].iter().copied())
            })
            .filter(move |&(x, y)| {
                (window.min().x..=window.max().x).contains(&x)
                    && (window.min().y..=window.max().y).contains(&y)
            })
    }

    /// The densities (per km2) at the centres of the cells of `extent`, whose edges must lie on the lattice
    /// (multiples of the cell size, to a millionth of a cell). Rows north to south as [`Raster`].
    /// [`LatticeError::Cancelled`] once `cancel` is (checked before each row of cells).
    pub fn raster<T: KdeFloat>(
        &self,
        extent: Extent,
        cancel: &Cancel,
    ) -> Result<Raster<T>, LatticeError> {
        let c = self.cell_m;
        let on = |v: f64| -> Option<i64> {
            let k = (v / c).round();
            ((v / c - k).abs() < 1e-6 && k.abs() < 1e15).then_some(k as i64)
        };
        let (Some(i0), Some(j0), Some(i1), Some(j1)) = (
            on(extent.minx_m),
            on(extent.miny_m),
            on(extent.maxx_m),
            on(extent.maxy_m),
        ) else {
            return Err(LatticeError::OffLattice(extent));
        };
        if i1 < i0 || j1 < j0 {
            return Err(LatticeError::OffLattice(extent));
        }
        let (width, height) = ((i1 - i0) as usize, (j1 - j0) as usize);
        let values = self.cells(i0, j0, width, height, cancel)?;
        Ok(Raster {
            minx_m: i0 as f64 * c,
            maxy_m: j1 as f64 * c,
            cell_m: c,
            width,
            height,
            values: values.into_iter().map(T::from_f64).collect(),
        })
    }

    /// The densities (per km2) of cells `i0..i0 + width` x `j0..j0 + height`, row-major from the northern row
    /// (`j0 + height - 1`).
    fn cells(
        &self,
        i0: i64,
        j0: i64,
        width: usize,
        height: usize,
        cancel: &Cancel,
    ) -> Result<Vec<f64>, Cancelled> {
        let mut out = vec![0.0; width * height];
        if width == 0 || height == 0 || self.keys.is_empty() {
            return Ok(out);
        }
        let block = Block::of(self, i0, j0, width, height);
        let amp_per_km2 = Kernel::Quartic.value_per_m2(0.0, self.radius_m) * 1e6;
        // Bands of rows, each with the sums of the block rows it reads. A task computes a run of bands one after
        // another in one set of buffers (a few MB): two tasks per thread balance the load without allocating
        // them per band.
        let bands = height.div_ceil(BAND_ROWS);
        let per_task = bands.div_ceil(2 * rayon::current_num_threads().max(1));
        let use_avx2 = avx2_available();
        out.par_chunks_mut(width * BAND_ROWS * per_task)
            .enumerate()
            .try_for_each(|(task, values)| {
                let mut sums = BandSums::default();
                for (b, values) in values.chunks_mut(width * BAND_ROWS).enumerate() {
                    // Output rows run north to south: the band's southern target row (0 = the block's southern
                    // one).
                    let south = height - (task * per_task + b) * BAND_ROWS - values.len() / width;
                    #[cfg(target_arch = "x86_64")]
                    if use_avx2 {
                        // SAFETY: `avx2_available()` checked at run time that the CPU supports AVX2.
                        unsafe { self.band_avx2(&block, &mut sums, south, values, cancel) }?;
                    } else {
                        self.band(&block, &mut sums, south, values, cancel)?;
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    self.band(&block, &mut sums, south, values, cancel)?;
                    for v in values.iter_mut() {
                        *v *= amp_per_km2;
                    }
                }
                Ok(())
            })?;
        Ok(out)
    }

    /// [`QuarticLattice::band`] compiled with AVX2 enabled. The arithmetic is the same IEEE operations in the same
    /// order (no FMA contraction), so results are bit-identical to the SSE2 build.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn band_avx2(
        &self,
        block: &Block,
        sums: &mut BandSums,
        south: usize,
        values: &mut [f64],
        cancel: &Cancel,
    ) -> Result<(), Cancelled> {
        self.band(block, sums, south, values, cancel)
    }

    /// The unscaled sums of the target rows `south..` of `block` (0 = the block's southern target row) into
    /// `values` (rows north to south, as wide as the targets): per cell the inside runs level by level (each
    /// level in stencil order), then the crossed bins.
    #[inline(always)]
    fn band(
        &self,
        block: &Block,
        sums: &mut BandSums,
        south: usize,
        values: &mut [f64],
        cancel: &Cancel,
    ) -> Result<(), Cancelled> {
        let width = block.width - 2 * block.reach;
        let rows = values.len() / width;
        let r = self.stencil.reach as i64;
        sums.start(self, block, south, rows);
        for runs in self.stencil.inside.chunk_by(|a, b| a.level == b.level) {
            cancel.check()?;
            while sums.level < runs[0].level {
                // The rows the runs of the next level and longer read.
                let reach = self.stencil.level_reach[sums.level + 1];
                let first_row = (south as i64 + r - reach) as usize;
                sums.next_level(
                    block.width,
                    self.cell_m / self.radius_m,
                    first_row,
                    rows + 2 * reach as usize,
                );
            }
            let plane = sums.rows * block.width;
            for (k, values) in values.chunks_mut(width).enumerate() {
                let t = south + rows - 1 - k;
                for run in runs {
                    let row = (t as i64 + r + run.dj) as usize - sums.first_row;
                    let base = row * block.width + (r + run.start) as usize;
                    // The nine sums of the runs starting under the row's cells, one slice each.
                    let at: [&[f64]; SUMS] = std::array::from_fn(|m| {
                        let from = m * plane + base;
                        &sums.current[from..from + width]
                    });
                    for (col, v) in values.iter_mut().enumerate() {
                        let mut s = 0.0;
                        for (wm, sum) in run.weights.iter().zip(&at) {
                            s += wm * sum[col];
                        }
                        *v += s;
                    }
                }
            }
        }
        for (k, values) in values.chunks_mut(width).enumerate() {
            cancel.check()?;
            self.crossed(block, south + rows - 1 - k, values);
        }
        Ok(())
    }

    /// Adds the crossed bins' incidents to target row `t` of `block`, occupied bin by occupied bin: per cell in
    /// stencil order (dj, then di).
    #[inline(always)]
    fn crossed(&self, block: &Block, t: usize, values: &mut [f64]) {
        let r = self.stencil.reach as i64;
        let c = self.cell_m;
        let inv_r2 = 1.0 / (self.radius_m * self.radius_m);
        let ty = (block.j0 + t as i64) as f64 * c + 0.5 * c;
        let width = values.len() as i64;
        for (dj, dis) in &self.stencil.crossed {
            let row = (t as i64 + r + dj) as usize;
            for &(bc, k) in &block.occupied[block.row_starts[row]..block.row_starts[row + 1]] {
                let (from, to) = (self.starts[k], self.starts[k + 1]);
                let (xs, ys) = (&self.xs[from..to], &self.ys[from..to]);
                for &di in dis {
                    // The cell that sees this bin at offset di.
                    let col = i64::from(bc) - r - di;
                    if !(0..width).contains(&col) {
                        continue;
                    }
                    let tx = (block.i0 + col) as f64 * c + 0.5 * c;
                    values[col as usize] += kernel_sum(xs, ys, tx, ty, inv_r2);
                }
            }
        }
    }
}

/// `sum (1 - d^2 / r^2)_+^2` over the points `(xs, ys)` at distance `d` from `(tx, ty)`, in four lanes.
#[inline(always)]
fn kernel_sum(xs: &[f64], ys: &[f64], tx: f64, ty: f64, inv_r2: f64) -> f64 {
    let k = |x: f64, y: f64| {
        let (dx, dy) = (tx - x, ty - y);
        let u = (1.0 - (dx * dx + dy * dy) * inv_r2).max(0.0);
        u * u
    };
    // One to three points (most bins of a sparse region): the sums the lanes below give, without the loops.
    match (xs, ys) {
        ([x], [y]) => return k(*x, *y),
        ([x0, x1], [y0, y1]) => return k(*x0, *y0) + k(*x1, *y1),
        ([x0, x1, x2], [y0, y1, y2]) => return (k(*x0, *y0) + k(*x1, *y1)) + k(*x2, *y2),
        _ => {}
    }
    let mut acc = [0.0f64; 4];
    let mut chunks = xs.chunks_exact(4).zip(ys.chunks_exact(4));
    for (x4, y4) in &mut chunks {
        for k in 0..4 {
            let (dx, dy) = (tx - x4[k], ty - y4[k]);
            let u = (1.0 - (dx * dx + dy * dy) * inv_r2).max(0.0);
            acc[k] += u * u;
        }
    }
    let rest = xs.len() - xs.len() % 4;
    for (k, (x, y)) in xs[rest..].iter().zip(&ys[rest..]).enumerate() {
        let (dx, dy) = (tx - x, ty - y);
        let u = (1.0 - (dx * dx + dy * dy) * inv_r2).max(0.0);
        acc[k] += u * u;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Target rows computed together: the sums their rows read ([`BandSums`]) are built once for the band.
const BAND_ROWS: usize = 32;

/// The sums of the block rows a band of target rows reads, one run length at a time: the bins' sums (level 0),
/// then the sums of every run of `2^k` bins starting at each column of those rows, about the run's centre (the
/// sums of its western half moved east plus those of its eastern half moved west, so a run's sums depend only on
/// the bins it covers).
#[derive(Default)]
struct BandSums {
    /// Block row of the first row held.
    first_row: usize,
    rows: usize,
    /// The run level held: runs of `2^level` bins.
    level: usize,
    /// Their sums at `current[m * rows * width + row * width + col]` (row 0 = `first_row`); runs reaching past the
    /// block's eastern edge are 0 (the stencil never reads them).
    current: Vec<f64>,
    /// The previous level's buffer, reused.
    spare: Vec<f64>,
}

impl BandSums {
    /// The bins' sums (level 0) of the block rows read by target rows `south..south + rows` (`2 reach` more
    /// rows), in the buffers already held.
    #[inline(always)]
    fn start(&mut self, lattice: &QuarticLattice, block: &Block, south: usize, rows: usize) {
        let rows = (rows + 2 * block.reach).min(block.height - south);
        let w = block.width;
        let plane = rows * w;
        (self.first_row, self.rows, self.level) = (south, rows, 0);
        self.current.clear();
        self.current.resize(SUMS * plane, 0.0);
        for row in 0..rows {
            let (from, to) = (
                block.row_starts[south + row],
                block.row_starts[south + row + 1],
            );
            for &(col, k) in &block.occupied[from..to] {
                let b = row * w + col as usize;
                for (m, v) in lattice.sums[k].iter().enumerate() {
                    self.current[m * plane + b] = *v;
                }
            }
        }
    }

    /// Moves on to runs twice as long (`u`: the cell size in radii), for the block rows
    /// `first_row..first_row + rows` only (some of those held).
    #[inline(always)]
    fn next_level(&mut self, w: usize, u: f64, first_row: usize, rows: usize) {
        debug_assert!(
            first_row >= self.first_row && first_row + rows <= self.first_row + self.rows
        );
        let (from_plane, plane) = (self.rows * w, rows * w);
        let skipped = first_row - self.first_row;
        let half = 1usize << self.level;
        // The halves' centres lie half / 2 cells either side of the run's centre.
        let delta = half as f64 / 2.0 * u;
        std::mem::swap(&mut self.current, &mut self.spare);
        self.current.clear();
        self.current.resize(SUMS * plane, 0.0);
        (self.first_row, self.rows) = (first_row, rows);
        let (from, sums) = (&self.spare, &mut self.current);
        for row in 0..rows {
            let at = |m: usize, col: usize| from[m * from_plane + (skipped + row) * w + col];
            for col in 0..w.saturating_sub(2 * half - 1) {
                let west: [f64; SUMS] = std::array::from_fn(|m| at(m, col));
                let east: [f64; SUMS] = std::array::from_fn(|m| at(m, col + half));
                let (west, east) = (moved(&west, -delta), moved(&east, delta));
                for m in 0..SUMS {
                    sums[m * plane + row * w + col] = west[m] + east[m];
                }
            }
        }
        self.level += 1;
    }
}

/// The bins a window of target cells reaches: the target cells and the stencil's reach around them, with the
/// occupied bins row by row.
struct Block {
    /// Lattice column and row of the first target cell.
    i0: i64,
    j0: i64,
    width: usize,
    height: usize,
    /// The stencil's reach: the block is the target cells and this many bins around them.
    reach: usize,
    /// The occupied bins, row by row (row `k`'s are `occupied[row_starts[k]..row_starts[k + 1]]`), west to east:
    /// block column and index in the lattice's bins.
    occupied: Vec<(u32, usize)>,
    row_starts: Vec<usize>,
}

impl Block {
    fn of(lattice: &QuarticLattice, i0: i64, j0: i64, width: usize, height: usize) -> Block {
        let r = lattice.stencil.reach;
        let (bw, bh) = (width + 2 * r, height + 2 * r);
        let (bi0, bj0) = (i0 - r as i64, j0 - r as i64);
        let mut occupied = Vec::new();
        let mut row_starts = Vec::with_capacity(bh + 1);
        let (cols, rows) = ((bi0, bi0 + bw as i64 - 1), (bj0, bj0 + bh as i64 - 1));
        for run in window_runs(&lattice.keys, |&k| k, cols, rows) {
            for k in run {
                let (kj, ki) = lattice.keys[k];
                let row = (kj - bj0) as usize;
                while row_starts.len() <= row {
                    row_starts.push(occupied.len());
                }
                occupied.push(((ki - bi0) as u32, k));
            }
        }
        row_starts.resize(bh + 1, occupied.len());
        Block {
            i0,
            j0,
            width: bw,
            height: bh,
            reach: r,
            occupied,
            row_starts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct sum at the centre of cell (i, j), per km2.
    fn direct(points: &[(f64, f64)], c: f64, r: f64, i: i64, j: i64) -> f64 {
        let (x, y) = ((i as f64 + 0.5) * c, (j as f64 + 0.5) * c);
        points
            .iter()
            .map(|&(px, py)| Kernel::Quartic.value_per_m2((px - x).hypot(py - y), r) * 1e6)
            .sum()
    }

    /// Clustered and scattered points, seeded.
    fn points(n: usize, seed: u64) -> Vec<(f64, f64)> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|k| {
                if k % 3 == 0 {
                    (
                        rng.gen_range(150_000.0..154_000.0),
                        rng.gen_range(460_000.0..463_000.0),
                    )
                } else {
                    (
                        rng.gen_range(151_500.0..151_800.0),
                        rng.gen_range(461_200.0..461_400.0),
                    )
                }
            })
            .collect()
    }

    #[test]
    fn every_cell_is_the_direct_sum() {
        let pts = points(3_000, 7);
        // Cells on the lattice, incidents on bin edges and corners too.
        let mut pts = pts;
        pts.extend([
            (151_500.0, 461_200.0),
            (151_550.0, 461_250.0),
            (151_525.0, 461_200.0),
        ]);
        for (c, r) in [
            (50.0, 300.0),
            (50.0, 810.0),
            (100.0, 260.0),
            (25.0, 1_000.0),
            (325.0, 5_300.0),
        ] {
            let lattice = QuarticLattice::new(pts.iter().copied(), c, r).unwrap();
            let (i0, j0) = ((148_000.0 / c) as i64, (458_000.0 / c) as i64);
            let (w, h) = ((8_000.0 / c) as usize, (7_000.0 / c) as usize);
            let extent = Extent {
                minx_m: i0 as f64 * c,
                miny_m: j0 as f64 * c,
                maxx_m: (i0 + w as i64) as f64 * c,
                maxy_m: (j0 + h as i64) as f64 * c,
            };
            let raster = lattice.raster::<f64>(extent, &Cancel::never()).unwrap();
            assert_eq!((raster.width, raster.height), (w, h));
            let max = raster.values.iter().copied().fold(0.0, f64::max);
            assert!(max > 0.0);
            for row in 0..h {
                for col in 0..w {
                    let (i, j) = (i0 + col as i64, j0 + (h - 1 - row) as i64);
                    let (v, want) = (raster.values[row * w + col], direct(&pts, c, r, i, j));
                    assert!(
                        (v - want).abs() <= 1e-12 * want.abs() + 1e-14 * max,
                        "c {c} r {r} cell ({i}, {j}): {v} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_stencil_runs_cover_each_inside_bin_once_and_no_other() {
        for (c, r) in [
            (50.0, 300.0),
            (50.0, 810.0),
            (325.0, 5_300.0),
            (10.0, 2_560.0),
        ] {
            let st = Stencil::new(c, r);
            let u = c / r;
            let reach = st.reach as i64;
            let mut covered = std::collections::HashMap::new();
            for run in &st.inside {
                for di in run.start..run.start + (1 << run.level) {
                    *covered.entry((di, run.dj)).or_insert(0) += 1;
                }
            }
            for dj in -reach..=reach {
                for di in -reach..=reach {
                    let far = u * (di.abs() as f64 + 0.5).hypot(dj.abs() as f64 + 0.5);
                    let near = u
                        * (di.abs() as f64 - 0.5)
                            .max(0.0)
                            .hypot((dj.abs() as f64 - 0.5).max(0.0));
                    let inside = far <= 1.0 - 1e-9;
                    assert_eq!(covered.get(&(di, dj)).copied(), inside.then_some(1));
                    let crossed = !inside && near < 1.0 + 1e-9;
                    let listed = st
                        .crossed
                        .iter()
                        .any(|(j, row)| *j == dj && row.contains(&di));
                    assert_eq!(listed, crossed, "c {c} r {r} ({di}, {dj})");
                }
            }
            // A row of 2 L + 1 inside bins takes one run per bit of 2 L + 1.
            let rows = st
                .inside
                .iter()
                .map(|run| run.dj)
                .collect::<std::collections::BTreeSet<_>>();
            let top_level = st.inside.iter().map(|run| run.level).max().unwrap_or(0);
            assert!(st.inside.len() <= rows.len() * (top_level + 1));
            // The runs come level by level.
            assert!(st.inside.windows(2).all(|w| w[0].level <= w[1].level));
        }
    }

    #[test]
    fn moved_sums_are_the_sums_about_the_new_centre() {
        let pts = [(0.3, -0.2), (-0.45, 0.1), (0.05, 0.49), (0.2, 0.2)];
        let sums = |delta: f64| -> [f64; SUMS] {
            let mut s = [0.0; SUMS];
            for &(x, y) in &pts {
                for (acc, v) in s.iter_mut().zip(terms(x + delta, y)) {
                    *acc += v;
                }
            }
            s
        };
        for delta in [-0.75, -0.03, 0.5, 1.0] {
            let (got, want) = (moved(&sums(0.0), delta), sums(delta));
            for m in 0..SUMS {
                assert!(
                    (got[m] - want[m]).abs() < 1e-12,
                    "delta {delta} sum {m}: {} vs {}",
                    got[m],
                    want[m]
                );
            }
        }
    }

    #[test]
    fn a_cell_has_the_same_bits_in_every_window() {
        let pts = points(2_000, 11);
        let (c, r) = (50.0, 700.0);
        let lattice = QuarticLattice::new(pts.iter().copied(), c, r).unwrap();
        let never = Cancel::never();
        let whole = lattice
            .raster::<f64>(
                Extent {
                    minx_m: 149_000.0,
                    miny_m: 459_000.0,
                    maxx_m: 155_000.0,
                    maxy_m: 464_000.0,
                },
                &never,
            )
            .unwrap();
        for (x0, y0, x1, y1) in [
            (151_000.0, 460_500.0, 152_000.0, 461_800.0),
            (151_450.0, 461_150.0, 151_600.0, 461_300.0),
            (149_000.0, 459_000.0, 149_050.0, 459_050.0),
        ] {
            let part = lattice
                .raster::<f64>(
                    Extent {
                        minx_m: x0,
                        miny_m: y0,
                        maxx_m: x1,
                        maxy_m: y1,
                    },
                    &never,
                )
                .unwrap();
            for row in 0..part.height {
                for col in 0..part.width {
                    let (x, y) = (x0 + (col as f64 + 0.5) * c, y1 - (row as f64 + 0.5) * c);
                    let wc = ((x - whole.minx_m) / c) as usize;
                    let wr = ((whole.maxy_m - y) / c) as usize;
                    assert_eq!(
                        part.values[row * part.width + col].to_bits(),
                        whole.values[wr * whole.width + wc].to_bits()
                    );
                }
            }
        }
    }

    #[test]
    fn within_and_bounds_are_those_of_the_points() {
        let pts = points(1_500, 5);
        let lattice = QuarticLattice::new(pts.iter().copied(), 50.0, 300.0).unwrap();
        let window = Rect::new((151_000.0, 460_500.0), (151_600.0, 461_250.0));
        let mut got: Vec<(f64, f64)> = lattice.within(window).collect();
        let mut want: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|&(x, y)| {
                (151_000.0..=151_600.0).contains(&x) && (460_500.0..=461_250.0).contains(&y)
            })
            .collect();
        let order = |a: &(f64, f64), b: &(f64, f64)| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1));
        got.sort_by(order);
        want.sort_by(order);
        assert!(!want.is_empty());
        assert_eq!(got, want);
        let b = lattice.bounds().unwrap();
        assert_eq!(
            b.min().x,
            pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min)
        );
        assert_eq!(
            b.max().y,
            pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max)
        );
        let empty = QuarticLattice::new(std::iter::empty(), 50.0, 300.0).unwrap();
        assert!(empty.bounds().is_none() && empty.within(window).next().is_none());
    }

    #[test]
    fn bad_parameters_and_windows_are_errors() {
        let pts = [(1.0, 1.0)];
        assert_eq!(
            QuarticLattice::new(pts.iter().copied(), 0.0, 10.0).err(),
            Some(LatticeError::InvalidCellSize(0.0))
        );
        assert_eq!(
            QuarticLattice::new(pts.iter().copied(), 10.0, f64::NAN)
                .err()
                .map(|e| e.to_string()),
            Some("kernel radius NaN m is not a positive number".into())
        );
        assert!(matches!(
            QuarticLattice::new(pts.iter().copied(), 1.0, 1_000.0),
            Err(LatticeError::RadiusTooWide { .. })
        ));
        let lattice = QuarticLattice::new(pts.iter().copied(), 10.0, 30.0).unwrap();
        let from_x = |minx_m| Extent {
            minx_m,
            miny_m: 0.0,
            maxx_m: 20.0,
            maxy_m: 20.0,
        };
        assert!(matches!(
            lattice.raster::<f32>(from_x(5.0), &Cancel::never()),
            Err(LatticeError::OffLattice(_))
        ));
        // A cancelled computation stops.
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert!(matches!(
            lattice.raster::<f32>(from_x(0.0), &cancel),
            Err(LatticeError::Cancelled(_))
        ));
        // Non-finite points are left out.
        let l = QuarticLattice::new([(f64::NAN, 1.0), (2.0, 3.0)].into_iter(), 10.0, 30.0).unwrap();
        assert_eq!(l.len(), 1);
    }
}
