//! Getis-Ord Gi* on the bins of a filter's incidents ([`gistar_cells`]): a grid covering the bounding box of the
//! incidents (empty cells count 0), the occupied H3 cells, or all areas of a level (counted by buurtcode);
//! weights: queen for grid cells and areas, the 1-ring for H3 ([`crate::analysis::places`], as
//! `brandpunt analyse gistar`); FDR on. The `hotspots` vector tile layer of the result ([`gistar_tile`]: `id`,
//! the published `count`, `z`, `p`, `bin`).
//!
//! On square grids the maps read Gi* cell by cell through a [`GiStarGrid`] ([`gistar_grid`]): the statistics
//! that are global by definition (the number of cells of the grid over the bounding box of the incidents, their
//! mean and standard deviation, the Benjamini-Hochberg cut-offs over all cells) come from the occupied cells and
//! their neighbours only, the empty rest counted in classes of equal neighbourhood size; a cell's `z`, `p` and
//! `bin` then need its 3 x 3 neighbourhood only ([`GiStarGrid::cell`]), and a tile the cells under it
//! ([`gistar_grid_tile`]). The values equal [`gistar_cells`] on the same grid.
//!
//! ```
//! use brandpunt::analysis::grid::BinSpec;
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
//! use brandpunt::surfaces::gistar::gistar_cells;
//!
//! let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! let incident = |k: i64, x: f64, y: f64| IncidentRecord {
//!     id: k, source: "politie".into(), begin: at, end: at, category_code: None,
//!     x_m: Some(x), y_m: Some(y), buurtcode: None,
//! };
//! // All incidents at one point: too few places to compare.
//! let data = TenantData { code: "d".into(), name: "D".into(), areas: vec![],
//!     incidents: (0..5).map(|k| incident(k, 155_000.0, 463_000.0)).collect() };
//! let s = Snapshot::build(1, data).unwrap();
//! let grid = BinSpec::Grid { cell_m: 100 };
//! let never = brandpunt::cancel::Cancel::never();
//! assert!(gistar_cells(&s, &Filter::all(&s), grid, |_| Default::default(), &never).unwrap().is_none());
//! ```

use super::{encode_layer, located_events, reaches_tile, MappedPlaces, SurfaceError};
use crate::analysis::gistar::{
    gi_star, gi_star_z, has_variation, GiStarError, GiStarOptions, GiStarResult,
};
use crate::analysis::grid::BinSpec;
use crate::analysis::mann_kendall::two_sided_normal_p;
use crate::analysis::places::{grid_places, h3_places, Coverage, Places, PlacesError};
use crate::analysis::weights::SpatialWeights;
use crate::area_level::AreaLevel;
use crate::cancel::{Cancel, Cancelled};
use crate::dataset::{feature_id, Filter, Snapshot};
use crate::heap_size::HeapSize;
use crate::tiles::{TileFeature, TileGeometry, TileId, Value};
use geo_types::{MultiPolygon, Rect};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Gi* on bins.
pub struct GiStarCells {
    pub bins: BinSpec,
    pub places: MappedPlaces,
    /// Incidents per place (unpublished: the caller applies the publishing policy).
    pub counts: Vec<f64>,
    pub result: GiStarResult,
}

impl HeapSize for GiStarCells {
    fn heap_bytes(&self) -> usize {
        self.places.heap_bytes() + self.counts.heap_bytes() + self.result.heap_bytes()
    }
}

/// Gi* on `bins` for the filter; `None` when there is nothing to analyse (no located incidents, fewer than three
/// places, all counts equal). Area bins read the counts of their level from `area_counts` (indexed like
/// [`Snapshot::areas`], as [`Snapshot::counts`] gives them; the server passes its cached table). A grid with too
/// many cells is [`SurfaceError::TooManyGridCells`]; a cancelled `cancel` is [`SurfaceError::Cancelled`].
pub fn gistar_cells(
    snapshot: &Snapshot,
    filter: &Filter,
    bins: BinSpec,
    area_counts: impl FnOnce(AreaLevel) -> Arc<Vec<u32>>,
    cancel: &Cancel,
) -> Result<Option<GiStarCells>, SurfaceError> {
    cancel.check()?;
    let (places, counts, weights) = match bins {
        BinSpec::Grid { cell_m } => {
            let events = located_events(snapshot, filter);
            let binned = match grid_places(&events, cell_m, Coverage::BoundingBox) {
                Ok(b) => b,
                Err(PlacesError::NoLocatedIncidents) => return Ok(None),
                Err(PlacesError::TooManyGridCells { cells }) => {
                    return Err(SurfaceError::TooManyGridCells { cells })
                }
                Err(e) => return Err(e.into()),
            };
            let weights = binned.places.default_weights()?;
            let counts = binned.counts();
            (
                MappedPlaces::new(binned.places, |_, _| None)?,
                counts,
                weights,
            )
        }
        BinSpec::H3 { resolution } => {
            let events = located_events(snapshot, filter);
            let t = crate::coords::Transformer::new()?;
            let to_rd = |lon, lat| t.wgs84_to_rd(lon, lat).ok();
            let binned = h3_places(
                &events,
                resolution,
                Coverage::Occupied,
                |x, y| t.rd_to_wgs84(x, y).ok(),
                to_rd,
            )?;
            if binned.places.len() < 3 {
                return Ok(None);
            }
            let weights = binned.places.default_weights()?;
            let counts = binned.counts();
            (MappedPlaces::new(binned.places, to_rd)?, counts, weights)
        }
        BinSpec::Area(level) => {
            let idx = snapshot.level_areas(level);
            if idx.len() < 3 {
                return Ok(None);
            }
            let all = area_counts(level);
            let counts: Vec<f64> = idx.iter().map(|&i| f64::from(all[i as usize])).collect();
            let places = Places::areas(
                idx.iter().map(|&i| snapshot.area(i).code.clone()).collect(),
                idx.iter()
                    .map(|&i| snapshot.area(i).geometry_rd.clone())
                    .collect(),
            );
            let weights = places.default_weights()?;
            (MappedPlaces::new(places, |_, _| None)?, counts, weights)
        }
    };
    cancel.check()?;
    let Some(result) = gi_or_none(&counts, &weights)? else {
        return Ok(None);
    };
    cancel.check()?;
    Ok(Some(GiStarCells {
        bins,
        places,
        counts,
        result,
    }))
}

fn gi_or_none(values: &[f64], w: &SpatialWeights) -> Result<Option<GiStarResult>, SurfaceError> {
    match gi_star(values, w, &GiStarOptions::default()) {
        Ok(r) => Ok(Some(r)),
        Err(GiStarError::TooFewLocations(_) | GiStarError::ConstantValues) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The `hotspots` layer of `tile`: the cells reaching into it (id = [`feature_id`] of the cell id; `id`, the
/// count as `published(id, count)` gives it (`(count, label)`, `None` = withheld, see
/// [`crate::publish::mvt_count`]), `z`, `p`, `bin`); `None` when empty.
pub fn gistar_tile(
    gi: &GiStarCells,
    tile: TileId,
    published: impl Fn(&str, f64) -> (Option<f64>, Option<String>),
) -> Result<Option<Vec<u8>>, SurfaceError> {
    let features = (0..gi.places.ids.len())
        .filter(|&k| reaches_tile(tile, &gi.places.bbox_m[k]))
        .map(|k| {
            let id = gi.places.ids[k].as_str();
            let mut properties = vec![("id", Value::from(id))];
            let (count, label) = published(id, gi.counts[k]);
            properties.extend(crate::publish::mvt_count(count.map(Value::Double), label));
            properties.extend([
                ("z", Value::Double(gi.result.z[k])),
                ("p", Value::Double(gi.result.p[k])),
                ("bin", Value::Int(i64::from(gi.result.bin[k]))),
            ]);
            TileFeature {
                id: feature_id(id),
                geometry: TileGeometry::Polygons(&gi.places.polygons_m[k]),
                properties,
            }
        })
        .collect();
    encode_layer(tile, "hotspots", features)
}

/// Gi* of one grid cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GiCell {
    /// Incidents in the cell (unpublished).
    pub count: f64,
    pub z: f64,
    pub p: f64,
    /// Significance bin -3..=3 with FDR.
    pub bin: i8,
}

/// Gi* on a square grid over the bounding box of a filter's incidents, cell by cell (see the module docs).
pub struct GiStarGrid {
    pub cell_m: u32,
    /// First and last column and row of the grid (cell `(col, row)` covers `[col c, (col + 1) c) x [row c,
    /// (row + 1) c)` in RD metres).
    pub cols: (i64, i64),
    pub rows: (i64, i64),
    /// Incidents per occupied cell.
    counts: FxHashMap<(i64, i64), f64>,
    /// Number of cells, mean and population standard deviation of the counts over all cells.
    n: f64,
    mean: f64,
    sd: f64,
    /// Benjamini-Hochberg cut-offs over all cells at 0.01, 0.05 and 0.10 (bins 3, 2, 1).
    cutoffs: [Option<f64>; 3],
}

impl HeapSize for GiStarGrid {
    fn heap_bytes(&self) -> usize {
        self.counts.capacity() * (std::mem::size_of::<((i64, i64), f64)>() + 8)
    }
}

/// The [`GiStarGrid`] of the filter's located incidents on a grid of `cell_m`; `None` when there is nothing to
/// analyse (as [`gistar_cells`]). Costs the filter's incidents and the occupied cells, not the grid's extent,
/// which therefore has no size limit. A cancelled `cancel` is [`SurfaceError::Cancelled`].
pub fn gistar_grid(
    snapshot: &Snapshot,
    filter: &Filter,
    cell_m: u32,
    cancel: &Cancel,
) -> Result<Option<GiStarGrid>, SurfaceError> {
    cancel.check()?;
    GiStarGrid::new(&located_events(snapshot, filter), cell_m, cancel)
}

/// Events counted between two cancellation checks.
const EVENTS_PER_CHECK: usize = 1 << 16;

impl GiStarGrid {
    /// The grid of `events` (see [`gistar_grid`]).
    pub fn new(
        events: &[crate::analysis::Event],
        cell_m: u32,
        cancel: &Cancel,
    ) -> Result<Option<GiStarGrid>, SurfaceError> {
        if cell_m == 0 {
            return Err(
                PlacesError::Grid(crate::analysis::grid::GridError::InvalidCellSize(cell_m)).into(),
            );
        }
        let c = f64::from(cell_m);
        let mut counts: FxHashMap<(i64, i64), f64> = FxHashMap::default();
        for chunk in events.chunks(EVENTS_PER_CHECK) {
            cancel.check()?;
            for e in chunk
                .iter()
                .filter(|e| e.x_m.is_finite() && e.y_m.is_finite())
            {
                let key = ((e.x_m / c).floor() as i64, (e.y_m / c).floor() as i64);
                *counts.entry(key).or_default() += 1.0;
            }
        }
        let (Some(c0), Some(c1), Some(r0), Some(r1)) = (
            counts.keys().map(|k| k.0).min(),
            counts.keys().map(|k| k.0).max(),
            counts.keys().map(|k| k.1).min(),
            counts.keys().map(|k| k.1).max(),
        ) else {
            return Ok(None);
        };
        // No limit on the grid's size: only the occupied cells and their neighbours are ever held.
        let n = (c1 - c0 + 1) as f64 * (r1 - r0 + 1) as f64;
        if n < 3.0 {
            return Ok(None);
        }
        let mean = counts.values().sum::<f64>() / n;
        let empty = n - counts.len() as f64;
        // Summed in a fixed order, so that every computation of the same grid gives the same bits.
        let mut occupied: Vec<f64> = counts.values().copied().collect();
        occupied.sort_by(f64::total_cmp);
        let var =
            (occupied.iter().map(|v| (v - mean).powi(2)).sum::<f64>() + empty * mean * mean) / n;
        let sd = var.sqrt();
        if !has_variation(mean, sd) {
            return Ok(None);
        }
        let mut grid = GiStarGrid {
            cell_m,
            cols: (c0, c1),
            rows: (r0, r1),
            counts,
            n,
            mean,
            sd,
            cutoffs: [None; 3],
        };
        grid.cutoffs = grid.fdr_cutoffs(cancel)?;
        Ok(Some(grid))
    }

    /// Number of cells of the grid.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// Whether the grid has no cells (never: a grid has at least 3).
    pub fn is_empty(&self) -> bool {
        self.n == 0.0
    }

    /// The cell holding RD point `(x_m, y_m)`; `None` outside the grid.
    pub fn cell_at(&self, x_m: f64, y_m: f64) -> Option<(i64, i64)> {
        if !(x_m.is_finite() && y_m.is_finite()) {
            return None;
        }
        let c = f64::from(self.cell_m);
        let key = ((x_m / c).floor() as i64, (y_m / c).floor() as i64);
        self.contains(key).then_some(key)
    }

    fn contains(&self, (col, row): (i64, i64)) -> bool {
        (self.cols.0..=self.cols.1).contains(&col) && (self.rows.0..=self.rows.1).contains(&row)
    }

    /// The cells within `window` (RD metres), row by row.
    pub fn cells_within(&self, window: Rect<f64>) -> impl Iterator<Item = (i64, i64)> + '_ {
        let c = f64::from(self.cell_m);
        let col0 = ((window.min().x / c).floor() as i64).max(self.cols.0);
        let col1 = ((window.max().x / c).floor() as i64).min(self.cols.1);
        let row0 = ((window.min().y / c).floor() as i64).max(self.rows.0);
        let row1 = ((window.max().y / c).floor() as i64).min(self.rows.1);
        (row0..=row1).flat_map(move |row| (col0..=col1).map(move |col| (col, row)))
    }

    /// The output id of a cell: `c{cell}_{col}_{row}`.
    pub fn cell_id(&self, (col, row): (i64, i64)) -> String {
        format!("c{}_{col}_{row}", self.cell_m)
    }

    /// The cell's square in RD metres.
    pub fn cell_polygon_rd(&self, (col, row): (i64, i64)) -> MultiPolygon<f64> {
        let c = f64::from(self.cell_m);
        let (x, y) = (col as f64 * c, row as f64 * c);
        Rect::new((x, y), (x + c, y + c)).to_polygon().into()
    }

    /// Neighbourhood sum (the cell and its queen neighbours inside the grid) and its number of cells.
    fn neighbourhood(&self, (col, row): (i64, i64)) -> (f64, f64) {
        let (mut lag, mut sw) = (0.0, 0.0);
        for r in row - 1..=row + 1 {
            for c in col - 1..=col + 1 {
                if self.contains((c, r)) {
                    sw += 1.0;
                    lag += self.counts.get(&(c, r)).copied().unwrap_or(0.0);
                }
            }
        }
        (lag, sw)
    }

    fn z_p(&self, lag: f64, sw: f64) -> (f64, f64) {
        let z = gi_star_z(lag, sw, sw, self.n, self.mean, self.sd);
        (z, two_sided_normal_p(z))
    }

    /// Gi* of the cell `(col, row)`; `None` outside the grid.
    pub fn cell(&self, key: (i64, i64)) -> Option<GiCell> {
        if !self.contains(key) {
            return None;
        }
        let (lag, sw) = self.neighbourhood(key);
        let (z, p) = self.z_p(lag, sw);
        let level = [3i8, 2, 1]
            .iter()
            .zip(self.cutoffs)
            .find(|(_, cut)| cut.is_some_and(|c| p <= c))
            .map_or(0, |(b, _)| *b);
        let bin = if z > 0.0 {
            level
        } else if z < 0.0 {
            -level
        } else {
            0
        };
        Some(GiCell {
            count: self.counts.get(&key).copied().unwrap_or(0.0),
            z,
            p,
            bin,
        })
    }

    /// The Benjamini-Hochberg cut-offs over the p-values of all cells: the cells near an incident one by one,
    /// the others (no incident in their neighbourhood) by the number of cells in it, which fixes their p-value.
    fn fdr_cutoffs(&self, cancel: &Cancel) -> Result<[Option<f64>; 3], Cancelled> {
        // Cells with an incident in their neighbourhood.
        let mut near: Vec<(i64, i64)> = self
            .counts
            .keys()
            .flat_map(|&(c, r)| {
                (r - 1..=r + 1).flat_map(move |rr| (c - 1..=c + 1).map(move |cc| (cc, rr)))
            })
            .filter(|&k| self.contains(k))
            .collect();
        cancel.check()?;
        near.sort_unstable();
        near.dedup();
        cancel.check()?;
        // (p, number of cells with it).
        let mut groups: Vec<(f64, f64)> = Vec::with_capacity(near.len() + 9);
        let mut near_per_size: FxHashMap<u8, f64> = FxHashMap::default();
        for (i, &k) in near.iter().enumerate() {
            if i % EVENTS_PER_CHECK == 0 {
                cancel.check()?;
            }
            let (lag, sw) = self.neighbourhood(k);
            *near_per_size.entry(sw as u8).or_default() += 1.0;
            groups.push((self.z_p(lag, sw).1, 1.0));
        }
        // Cells per neighbourhood size: the product of the columns' and the rows' clipped span counts.
        let spans = |first: i64, last: i64| -> Vec<(f64, f64)> {
            let len = (last - first + 1) as f64;
            match last - first {
                0 => vec![(1.0, 1.0)],
                _ => vec![(2.0, 2.0), (3.0, len - 2.0)],
            }
        };
        let mut per_size: FxHashMap<u8, f64> = FxHashMap::default();
        for (wc, nc) in spans(self.cols.0, self.cols.1) {
            for (wr, nr) in spans(self.rows.0, self.rows.1) {
                *per_size.entry((wc * wr) as u8).or_default() += nc * nr;
            }
        }
        for (sw, cells) in per_size {
            let quiet = cells - near_per_size.get(&sw).copied().unwrap_or(0.0);
            if quiet > 0.0 {
                groups.push((self.z_p(0.0, f64::from(sw)).1, quiet));
            }
        }
        groups.retain(|(p, _)| !p.is_nan());
        groups.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = groups.iter().map(|g| g.1).sum();
        Ok([0.01, 0.05, 0.10].map(|alpha| {
            // The largest p whose highest rank k satisfies p <= k alpha / n.
            let mut rank = 0.0;
            let mut cut = None;
            for &(p, m) in &groups {
                rank += m;
                if p <= rank * alpha / total {
                    cut = Some(p);
                }
            }
            cut
        }))
    }
}

/// Most grid cells a `hotspots` tile draws one by one; a tile over more cells (a low zoom) draws the cells with
/// incidents only.
pub const MAX_TILE_CELLS: f64 = 65_536.0;

/// The `hotspots` layer of `tile` from a [`GiStarGrid`]: the grid cells under the tile and its buffer
/// (`window_rd`, see [`super::tile_window_rd`]) with the properties of [`gistar_tile`] (only the cells with
/// incidents when that is more than [`MAX_TILE_CELLS`] cells); `None` when empty.
pub fn gistar_grid_tile(
    grid: &GiStarGrid,
    tile: TileId,
    window_rd: Rect<f64>,
    published: impl Fn(&str, f64) -> (Option<f64>, Option<String>),
) -> Result<Option<Vec<u8>>, SurfaceError> {
    let c = f64::from(grid.cell_m);
    let sparse = (window_rd.width() / c) * (window_rd.height() / c) > MAX_TILE_CELLS;
    let mut cells = Vec::new();
    for key in grid.cells_within(window_rd) {
        if sparse && !grid.counts.contains_key(&key) {
            continue;
        }
        let Some(cell) = grid.cell(key) else {
            continue;
        };
        let polygon_m = super::rd_to_mercator(&grid.cell_polygon_rd(key))?;
        cells.push((grid.cell_id(key), cell, polygon_m));
    }
    let features = cells
        .iter()
        .map(|(id, cell, polygon_m)| {
            let mut properties = vec![("id", Value::from(id.as_str()))];
            let (count, label) = published(id, cell.count);
            properties.extend(crate::publish::mvt_count(count.map(Value::Double), label));
            properties.extend([
                ("z", Value::Double(cell.z)),
                ("p", Value::Double(cell.p)),
                ("bin", Value::Int(i64::from(cell.bin))),
            ]);
            TileFeature {
                id: feature_id(id),
                geometry: TileGeometry::Polygons(polygon_m),
                properties,
            }
        })
        .collect();
    encode_layer(tile, "hotspots", features)
}

/// The GeoJSON features (WGS84) of the Gi* cells: `id`, the published `count` of each cell as `published`
/// gives it (`None` = withheld, with its label), `z`, `p` and the confidence `bin`; produced one by one, so a
/// large answer can be written as it is made.
pub fn gistar_features<'a>(
    gi: &'a GiStarCells,
    published: impl Fn(&str, f64) -> (Option<f64>, Option<String>) + 'a,
) -> impl Iterator<Item = Result<serde_json::Value, SurfaceError>> + 'a {
    (0..gi.places.ids.len()).map(move |k| {
        let id = &gi.places.ids[k];
        let (count, label) = published(id, gi.counts[k]);
        super::geojson_feature(
            serde_json::json!(id),
            &gi.places.polygons_rd[k],
            serde_json::json!({
                "id": id,
                "count": count,
                "count_label": label,
                "suppressed": count.is_none(),
                "z": super::json_number(gi.result.z[k]),
                "p": super::json_number(gi.result.p[k]),
                "bin": gi.result.bin[k],
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn never() -> Cancel {
        Cancel::never()
    }

    #[test]
    fn a_cancelled_computation_stops_with_cancelled() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let (cancel, guard) = Cancel::new();
        drop(guard);
        let grid = gistar_grid(&s, &all, 100, &cancel);
        assert!(
            matches!(grid, Err(SurfaceError::Cancelled(_))),
            "{:?}",
            grid.err()
        );
        let bins = BinSpec::Grid { cell_m: 100 };
        let cells = gistar_cells(&s, &all, bins, counts_of(&s, &all), &cancel);
        assert!(
            matches!(cells, Err(SurfaceError::Cancelled(_))),
            "{:?}",
            cells.err()
        );
        // The same computations finish with a live token.
        assert!(gistar_grid(&s, &all, 100, &never()).unwrap().is_some());
    }

    #[test]
    fn a_grid_over_the_whole_country_holds_its_occupied_cells_only() {
        let at = |x_m, y_m| crate::analysis::Event {
            x_m,
            y_m,
            begin: None,
            end: None,
            weight: 1.0,
        };
        // 40 incidents in one 50 m cell, 200 spread out, one 250 km away: a grid of 12 M cells.
        let mut events: Vec<_> = (0..40)
            .map(|k| at(100_010.0 + f64::from(k), 400_010.0))
            .collect();
        events.extend((0..200).map(|k| {
            at(
                90_000.0 + 97.0 * f64::from(k),
                395_000.0 + 53.0 * f64::from(k),
            )
        }));
        events.push(at(250_000.0, 600_000.0));
        let grid = GiStarGrid::new(&events, 50, &never()).unwrap().unwrap();
        assert!(grid.len() > 12_000_000, "{}", grid.len());
        assert!(grid.heap_bytes() < 100_000);
        let hot = grid
            .cell(grid.cell_at(100_020.0, 400_020.0).unwrap())
            .unwrap();
        assert_eq!(hot.count, 40.0);
        assert!(hot.z > 10.0 && hot.bin == 3, "{hot:?}");
        let quiet = grid
            .cell(grid.cell_at(200_000.0, 500_000.0).unwrap())
            .unwrap();
        assert_eq!((quiet.count, quiet.bin), (0.0, 0));
    }

    #[test]
    fn the_sparse_grid_equals_gistar_on_the_whole_grid() {
        let s = fixture::town();
        let mut significant = 0;
        for cell_m in [25, 50, 100, 300] {
            let all = Filter::all(&s);
            let whole = gistar_cells(
                &s,
                &all,
                BinSpec::Grid { cell_m },
                counts_of(&s, &all),
                &never(),
            )
            .unwrap()
            .unwrap();
            let grid = gistar_grid(&s, &all, cell_m, &never()).unwrap().unwrap();
            assert_eq!(grid.len(), whole.places.ids.len());
            let g = whole.places.grid.as_ref().unwrap();
            for k in 0..whole.places.ids.len() {
                let centre = geo::Centroid::centroid(&whole.places.polygons_rd[k]).unwrap();
                let key = grid.cell_at(centre.x(), centre.y()).unwrap();
                assert_eq!(g.place_at(centre.x(), centre.y()), Some(k));
                assert_eq!(grid.cell_id(key), whole.places.ids[k]);
                let cell = grid.cell(key).unwrap();
                let close =
                    |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300);
                assert_eq!(cell.count, whole.counts[k]);
                assert!(
                    close(cell.z, whole.result.z[k]),
                    "{cell_m} {key:?}: {} vs {}",
                    cell.z,
                    whole.result.z[k]
                );
                assert!(close(cell.p, whole.result.p[k]), "{cell_m} {key:?}");
                assert_eq!(cell.bin, whole.result.bin[k], "{cell_m} {key:?}");
                significant += usize::from(cell.bin != 0);
            }
        }
        assert!(significant > 0, "some cells are hot spots");
        let far = gistar_grid(&s, &Filter::all(&s), 100, &never())
            .unwrap()
            .unwrap();
        assert_eq!(far.cell((0, 0)), None);
    }

    fn counts_of<'a>(s: &'a Snapshot, f: &Filter) -> impl FnOnce(AreaLevel) -> Arc<Vec<u32>> + 'a {
        let f = f.clone();
        move |level| Arc::new(s.counts(level, &f))
    }

    #[test]
    fn features_carry_the_published_counts_and_wgs84_cells() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let gi = gistar_cells(
            &s,
            &all,
            BinSpec::Grid { cell_m: 100 },
            counts_of(&s, &all),
            &never(),
        )
        .unwrap()
        .unwrap();
        let withheld = |_: &str, c: f64| {
            if c < 5.0 {
                (None, Some("< 5".to_string()))
            } else {
                (Some(c), None)
            }
        };
        let features: Vec<_> = gistar_features(&gi, withheld)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(features.len(), 64);
        for (k, f) in features.iter().enumerate() {
            let p = &f["properties"];
            assert_eq!(p["id"], gi.places.ids[k].as_str());
            assert_eq!(p["suppressed"], gi.counts[k] < 5.0);
            if gi.counts[k] < 5.0 {
                assert!(p["count"].is_null() && p["count_label"] == "< 5");
            } else {
                assert_eq!(p["count"], gi.counts[k]);
            }
            let lon = f["geometry"]["coordinates"][0][0][0][0].as_f64().unwrap();
            assert!((3.0..8.0).contains(&lon), "WGS84 longitude {lon}");
        }
    }

    #[test]
    fn grid_bins_find_the_cluster() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let gi = gistar_cells(
            &s,
            &all,
            BinSpec::Grid { cell_m: 100 },
            counts_of(&s, &all),
            &never(),
        )
        .unwrap()
        .unwrap();
        // The bounding box 0..800 m in both directions: 8 x 8 cells, every incident counted once.
        assert_eq!(gi.counts.len(), 64);
        assert_eq!(gi.counts.iter().sum::<f64>(), 60.0);
        assert!(gi.places.grid.is_some());
        let hottest = (0..64)
            .max_by(|&a, &b| gi.result.z[a].total_cmp(&gi.result.z[b]))
            .unwrap();
        assert_eq!(gi.counts[hottest], 40.0);
        // A hot spot (bin 1..=3: 90, 95, 99 % confidence after FDR).
        assert!(gi.result.bin[hottest] > 0);
        assert!(gi.heap_bytes() > 0);
    }

    #[test]
    fn area_bins_use_the_given_counts_and_h3_bins_the_occupied_cells() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let by_area = BinSpec::Area(AreaLevel::Buurt);
        let gi = gistar_cells(&s, &all, by_area, counts_of(&s, &all), &never())
            .unwrap()
            .unwrap();
        assert_eq!(gi.places.ids.len(), 9);
        assert_eq!(gi.counts.iter().sum::<f64>(), 60.0);
        let centre = gi
            .places
            .ids
            .iter()
            .position(|c| c == "BU99990004")
            .unwrap();
        assert_eq!(gi.counts[centre], 40.0);
        // Fewer than three gemeenten: nothing to analyse (and the counts are not asked for).
        let by_gemeente = BinSpec::Area(AreaLevel::Gemeente);
        assert!(gistar_cells(
            &s,
            &all,
            by_gemeente,
            |_| unreachable!("no counts needed"),
            &never()
        )
        .unwrap()
        .is_none());
        let h3 = gistar_cells(
            &s,
            &all,
            BinSpec::H3 { resolution: 10 },
            counts_of(&s, &all),
            &never(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(h3.counts.iter().sum::<f64>(), 60.0);
        assert!(h3.counts.iter().all(|&c| c > 0.0));
    }

    #[test]
    fn too_many_grid_cells_is_a_parameter_error_and_no_incidents_is_none() {
        let s = fixture::town();
        let none = Filter::new(&s, vec!["9.9.9".into()], vec![], None, None);
        let grid = BinSpec::Grid { cell_m: 100 };
        assert!(
            gistar_cells(&s, &none, grid, counts_of(&s, &none), &never())
                .unwrap()
                .is_none()
        );
        // Two incidents 100 km apart at 10 m cells: 10,000 x 10,000 cells.
        let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap();
        let incident = |id, x, y| crate::dataset::IncidentRecord {
            id,
            source: "politie".into(),
            begin: at,
            end: at,
            category_code: None,
            x_m: Some(x),
            y_m: Some(y),
            buurtcode: None,
        };
        let wide = Snapshot::build(
            1,
            crate::dataset::TenantData {
                code: "d".into(),
                name: "D".into(),
                areas: vec![],
                incidents: vec![
                    incident(1, 100_000.0, 400_000.0),
                    incident(2, 200_000.0, 500_000.0),
                ],
            },
        )
        .unwrap();
        let wide_all = Filter::all(&wide);
        let e = gistar_cells(
            &wide,
            &wide_all,
            BinSpec::Grid { cell_m: 10 },
            |_| unreachable!(),
            &never(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, SurfaceError::TooManyGridCells { .. }), "{e}");
        assert_eq!(e.parameter(), Some("bins"));
        assert!(e
            .to_string()
            .ends_with("rastercellen in het gebied van de incidenten; kies een grotere cel"));
    }

    #[test]
    fn tile_carries_the_published_counts() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let gi = gistar_cells(
            &s,
            &all,
            BinSpec::Grid { cell_m: 100 },
            counts_of(&s, &all),
            &never(),
        )
        .unwrap()
        .unwrap();
        let over = fixture::tile_over(725.0, 725.0, 15);
        let asked = std::cell::Cell::new(0);
        let raw = gistar_tile(&gi, over, |_, c| {
            asked.set(asked.get() + 1);
            (Some(c), None)
        })
        .unwrap();
        assert!(raw.is_some());
        assert!(asked.get() > 0);
        let far = TileId::new(15, 0, 0).unwrap();
        assert!(gistar_tile(&gi, far, |_, c| (Some(c), None))
            .unwrap()
            .is_none());
    }
}
