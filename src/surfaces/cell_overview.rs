//! The overview of a grid layer at zooms where its cells are smaller than a pixel ([`is_overview`]): the tile as
//! [`OVERVIEW_PIXELS`] x [`OVERVIEW_PIXELS`] pixels, each pixel taking the most prominent class (the least in
//! the class's order) of the cells whose centre lies in it, drawn as runs of equal pixels along each row
//! ([`overview_runs`]).
//!
//! A 100 m cell is a quarter of a pixel at zoom 8: drawing every cell there means a tile of a few megabytes
//! whose squares the map cannot show apart. The overview's size is bounded by its pixels, whatever the number
//! of cells, and it draws the same pixels a map would colour with the most prominent cell under each.
//!
//! Cell centres are placed by bilinear interpolation in a lattice of [`LATTICE_POINTS`] x [`LATTICE_POINTS`] RD
//! positions over the tile, each converted with PROJ: within a few metres of the exact position at zoom 8
//! (a pixel there is ~600 m) and the same for every caller of the same tile.
//!
//! ```
//! use brandpunt::coords::Transformer;
//! use brandpunt::surfaces::cell_overview::{is_overview, overview_runs};
//! use brandpunt::tiles::TileId;
//!
//! // Tiles over Utrecht (RD 136 km, 456 km) and 40 cells of 100 m there, one of them of the most prominent class.
//! let (x, y) = Transformer::new().unwrap().rd_to_web_mercator(136_000.0, 456_000.0).unwrap();
//! let tile = TileId::containing(8, x, y);
//! assert!(is_overview(tile, 100));
//! assert!(!is_overview(TileId::containing(14, x, y), 100));
//! let cells = (0..40).map(|k| ((1360 + k % 20, 4560 + k / 20), if k == 3 { 0 } else { 1 }));
//! let runs = overview_runs(tile, 100, cells).unwrap();
//! // Class 0 wins the pixel of its cell.
//! assert!(runs.iter().any(|r| r.class == 0 && r.cells == 1));
//! assert!(runs.iter().map(|r| r.cells).sum::<u32>() <= 40);
//! ```

use super::SurfaceError;
use crate::tiles::TileId;
use geo_types::{LineString, MultiPolygon, Polygon};

/// Pixels along each side of an overview tile.
pub const OVERVIEW_PIXELS: usize = 256;

/// RD positions converted with PROJ along each side of a tile's interpolation lattice.
pub const LATTICE_POINTS: usize = 17;

/// The RD New area of use (EPSG:28992), metres: the lattice stays inside it.
const RD_BOUNDS_M: ((f64, f64), (f64, f64)) = ((-7_000.0, 289_000.0), (300_000.0, 629_000.0));

/// Whether `tile` draws cells of `cell_m` metres as an overview: a cell is narrower than a pixel of the tile at
/// its centre (Web Mercator enlarges RD metres by 1 / cos(latitude)).
pub fn is_overview(tile: TileId, cell_m: u32) -> bool {
    let (x0, y0, x1, y1) = tile.bounds_m();
    let (_, lat) = crate::coords::web_mercator_to_wgs84((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let cell_m_on_map = f64::from(cell_m) / lat.to_radians().cos();
    cell_m_on_map < tile.size_m() / OVERVIEW_PIXELS as f64
}

/// A run of pixels of one class along a row of an overview.
#[derive(Clone, Debug, PartialEq)]
pub struct Run<T> {
    /// The class of the pixels.
    pub class: T,
    /// The cells of that class whose centres lie in the run.
    pub cells: u32,
    /// The run's rectangle in Web Mercator metres.
    pub polygon: MultiPolygon<f64>,
}

/// The overview runs of `tile` from grid cells `(col, row)` of `cell_m` metres with their class (the lesser
/// class is the more prominent): row by row from the top, left to right. Cells whose centre lies outside the
/// tile are left out. Costs the cells plus the pixels, and [`LATTICE_POINTS`]² conversions with PROJ.
pub fn overview_runs<T: Copy + Ord>(
    tile: TileId,
    cell_m: u32,
    cells: impl Iterator<Item = ((i64, i64), T)>,
) -> Result<Vec<Run<T>>, SurfaceError> {
    let n = OVERVIEW_PIXELS;
    let (tx0, ty0, tx1, ty1) = tile.bounds_m();
    let pixel_m = (tx1 - tx0) / n as f64;
    let Some(positions) = TilePositions::new(tile)? else {
        return Ok(Vec::new());
    };
    let c = f64::from(cell_m);
    // (class, cells of that class) per pixel, row-major from the top row.
    let mut pixels: Vec<Option<(T, u32)>> = vec![None; n * n];
    for ((col, row), class) in cells {
        let (x, y) = positions.mercator((col as f64 + 0.5) * c, (row as f64 + 0.5) * c);
        let (px, py) = ((x - tx0) / pixel_m, (ty1 - y) / pixel_m);
        if !(px >= 0.0 && py >= 0.0 && px < n as f64 && py < n as f64) {
            continue;
        }
        match &mut pixels[py as usize * n + px as usize] {
            Some((held, count)) if *held == class => *count += 1,
            Some((held, _)) if *held < class => {}
            pixel => *pixel = Some((class, 1)),
        }
    }
    let mut runs = Vec::new();
    for (py, line) in pixels.chunks_exact(n).enumerate() {
        let mut px = 0;
        while px < n {
            let class = line[px].map(|(class, _)| class);
            let start = px;
            let mut count = 0;
            while px < n && line[px].map(|(class, _)| class) == class {
                count += line[px].map_or(0, |(_, cells)| cells);
                px += 1;
            }
            let Some(class) = class else {
                continue;
            };
            let (x0, x1) = (tx0 + start as f64 * pixel_m, tx0 + px as f64 * pixel_m);
            let (y1, y0) = (ty1 - py as f64 * pixel_m, ty1 - (py + 1) as f64 * pixel_m);
            // The last pixel ends exactly on the tile's edge.
            let (x1, y0) = (
                if px == n { tx1 } else { x1 },
                if py + 1 == n { ty0 } else { y0 },
            );
            let ring = LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]);
            runs.push(Run {
                class,
                cells: count,
                polygon: MultiPolygon(vec![Polygon::new(ring, vec![])]),
            });
        }
    }
    Ok(runs)
}

/// RD -> Web Mercator over one tile by bilinear interpolation in a lattice of PROJ-converted RD positions
/// covering the tile (within the RD area of use).
struct TilePositions {
    origin: (f64, f64),
    step: (f64, f64),
    /// Web Mercator positions, row-major from the lattice's south-west corner.
    lattice: Vec<(f64, f64)>,
}

impl TilePositions {
    /// `None` when the tile lies outside the RD area of use.
    fn new(tile: TileId) -> Result<Option<TilePositions>, SurfaceError> {
        let window = super::tile_window_rd(tile)?;
        let ((bx0, by0), (bx1, by1)) = RD_BOUNDS_M;
        let (x0, y0) = (window.min().x.max(bx0), window.min().y.max(by0));
        let (x1, y1) = (window.max().x.min(bx1), window.max().y.min(by1));
        if !(x0 < x1 && y0 < y1) {
            return Ok(None);
        }
        let m = LATTICE_POINTS - 1;
        let step = ((x1 - x0) / m as f64, (y1 - y0) / m as f64);
        let mut lattice: Vec<(f64, f64)> = (0..LATTICE_POINTS * LATTICE_POINTS)
            .map(|k| {
                let (i, j) = (k % LATTICE_POINTS, k / LATTICE_POINTS);
                (x0 + i as f64 * step.0, y0 + j as f64 * step.1)
            })
            .collect();
        crate::coords::with_thread_transformer(|t| t.rd_to_web_mercator_in_place(&mut lattice))??;
        Ok(Some(TilePositions {
            origin: (x0, y0),
            step,
            lattice,
        }))
    }

    /// The Web Mercator position of RD `(x, y)` (extrapolated from the edge cell of the lattice outside it).
    fn mercator(&self, x: f64, y: f64) -> (f64, f64) {
        let m = LATTICE_POINTS - 1;
        let cell = |v: f64, o: f64, s: f64| {
            let u = (v - o) / s;
            let i = u.floor().clamp(0.0, (m - 1) as f64);
            (i as usize, u - i)
        };
        let (i, fx) = cell(x, self.origin.0, self.step.0);
        let (j, fy) = cell(y, self.origin.1, self.step.1);
        let at = |i: usize, j: usize| self.lattice[j * LATTICE_POINTS + i];
        let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i, j + 1), at(i + 1, j + 1));
        let lerp = |p: f64, q: f64, f: f64| p + (q - p) * f;
        (
            lerp(lerp(a.0, b.0, fx), lerp(c.0, d.0, fx), fy),
            lerp(lerp(a.1, b.1, fx), lerp(c.1, d.1, fx), fy),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tile at zoom `z` containing RD `(x, y)`.
    fn tile_at(z: u8, x: f64, y: f64) -> TileId {
        let (mx, my) = crate::coords::Transformer::new()
            .unwrap()
            .rd_to_web_mercator(x, y)
            .unwrap();
        TileId::containing(z, mx, my)
    }

    #[test]
    fn interpolated_positions_are_within_metres_of_proj() {
        for (z, x, y) in [
            (8u8, 136_000.0, 456_000.0),
            (6, 200_000.0, 500_000.0),
            (10, 30_000.0, 390_000.0),
        ] {
            let tile = tile_at(z, x, y);
            let positions = TilePositions::new(tile).unwrap().unwrap();
            // Over the lattice (the tile within the RD area of use).
            let m = (LATTICE_POINTS - 1) as f64;
            let (x0, y0) = positions.origin;
            let (w, h) = (m * positions.step.0, m * positions.step.1);
            let (tx0, _, tx1, _) = tile.bounds_m();
            let pixel_m = (tx1 - tx0) / OVERVIEW_PIXELS as f64;
            for k in 0..50 {
                let f = f64::from(k) / 49.0;
                let p = (x0 + f * w, y0 + (1.0 - f) * 0.7 * h);
                let mut exact = [p];
                crate::coords::with_thread_transformer(|t| {
                    t.rd_to_web_mercator_in_place(&mut exact)
                })
                .unwrap()
                .unwrap();
                let got = positions.mercator(p.0, p.1);
                let err = (got.0 - exact[0].0).hypot(got.1 - exact[0].1);
                // A hundredth of a pixel.
                assert!(err < pixel_m / 100.0, "z{z} {p:?}: {err} m");
            }
        }
    }

    #[test]
    fn a_pixel_takes_the_least_class_and_counts_its_cells() {
        let tile = tile_at(8, 136_200.0, 456_200.0);
        // 4 x 4 cells of 100 m: one pixel (~600 m at z8) or a few.
        let cells: Vec<((i64, i64), u8)> = (0..16)
            .map(|k| ((1360 + k % 4, 4560 + k / 4), if k == 5 { 2 } else { 7 }))
            .collect();
        let runs = overview_runs(tile, 100, cells.iter().copied()).unwrap();
        assert!(!runs.is_empty() && runs.len() <= 4, "{runs:?}");
        assert!(runs.iter().any(|r| r.class == 2 && r.cells == 1));
        // Every cell is under a run; the class-7 cells sharing the class-2 pixel are not counted there.
        let total: u32 = runs.iter().map(|r| r.cells).sum();
        assert!((1..=16).contains(&total));
        // Outside the tile: nothing.
        let far = tile_at(8, 250_000.0, 600_000.0);
        assert!(overview_runs(far, 100, cells.iter().copied())
            .unwrap()
            .is_empty());
        // Runs lie on whole pixels of the tile.
        let (x0, _, x1, _) = tile.bounds_m();
        let pixel_m = (x1 - x0) / OVERVIEW_PIXELS as f64;
        for r in &runs {
            let p = r.polygon.0[0].exterior().0[0];
            let k = (p.x - x0) / pixel_m;
            assert!((k - k.round()).abs() < 1e-6, "{k}");
        }
    }

    #[test]
    fn a_tile_outside_the_rd_area_has_no_positions() {
        // Zoom 10 over the Atlantic.
        let tile = TileId::new(10, 300, 300).unwrap();
        assert!(TilePositions::new(tile).unwrap().is_none());
        assert!(overview_runs(tile, 100, [((0, 0), 0u8)].into_iter())
            .unwrap()
            .is_empty());
    }
}
