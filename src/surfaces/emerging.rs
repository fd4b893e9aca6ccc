//! Emerging hot spots of a filter's incidents on grid cells ([`emerging_cells`]): a space-time cube of
//! `cell_m` cells and `step` steps over the filter's period (the snapshot's data period where the filter leaves
//! it open), neighbours within 1.5 cell sizes ([`crate::analysis::places::emerging_grid_neighbourhood`], as
//! `brandpunt analyse emerging`); and the `emerging` vector tile layer ([`emerging_tile`]: `id`, `category`,
//! `label`, `trend_z`, `trend_p`; at zooms where a cell is smaller than a pixel the layer is the cells' overview
//! ([`super::cell_overview`]): runs of pixels with the most prominent `category` and `label` of the cells under
//! them and the number of those `cells`, hot spot patterns first, then cold spot patterns, then no pattern).
//!
//! The maps read the layer cell by cell through an [`EmergingGrid`] ([`emerging_grid`]): what is global by
//! definition (the Gi* population of every time step over the analysed cells, the Benjamini-Hochberg cut-off
//! over all bins of the cube) is computed once per filter from the occupied cells, without a cube over the
//! extent. The grid keeps the occupied cells' sparse count series (a few bytes per (cell, step) with an
//! incident), so a tile ([`emerging_grid_tile`]) computes the Gi* series, trend and category of its own cells
//! from the counts of its cells and one cell around it, without reading or filtering incidents again. The
//! values and tile bytes equal [`emerging_cells`] and [`emerging_tile`]. Only analysed (occupied) cells are
//! drawn, at every zoom.
//!
//! ```
//! use brandpunt::calendar::Step;
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
//! use brandpunt::surfaces::emerging::emerging_cells;
//!
//! let day = |d| chrono::NaiveDate::from_yo_opt(2024, d).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! // One incident a day in each of four cells of 100 m.
//! let incidents = (0..120).map(|k: u32| IncidentRecord {
//!     id: k.into(), source: "politie".into(), begin: day(1 + k / 4), end: day(1 + k / 4),
//!     category_code: None, x_m: Some(155_050.0 + 100.0 * f64::from(k % 2)),
//!     y_m: Some(463_050.0 + 100.0 * f64::from(k % 4 / 2)), buurtcode: None,
//! }).collect();
//! let data = TenantData { code: "d".into(), name: "D".into(), areas: vec![], incidents };
//! let s = Snapshot::build(1, data).unwrap();
//! let never = brandpunt::cancel::Cancel::never();
//! let em = emerging_cells(&s, &Filter::all(&s), 100, Step::Week, 1, &never).unwrap().unwrap();
//! assert_eq!(em.places.ids.len(), 4);
//! assert_eq!(em.result.n_steps, em.steps.len());
//! ```

use super::cell_overview::{is_overview, overview_runs};
use super::{encode_layer, located_events, reaches_tile, MappedPlaces, SurfaceError};
use crate::analysis::emerging::{
    check_alphas, check_time_window, emerging_hot_spots, gi_star_bin, grid_cube_from_events,
    location_category, location_trend, step_populations, EmergingCategory, EmergingError,
    EmergingOptions, EmergingResult, LocationTrend, Significance, StepTermsCache, TimeSteps,
};
use crate::analysis::grid::window_runs;
use crate::analysis::mann_kendall::two_sided_normal_p;
use crate::analysis::places::{emerging_grid_neighbourhood, Places};
use crate::analysis::weights::{regular_grid, SpatialWeights};
use crate::calendar::Step;
use crate::cancel::Cancel;
use crate::dataset::{feature_id, Filter, Snapshot};
use crate::heap_size::HeapSize;
use crate::tiles::{TileFeature, TileGeometry, TileId, Value};
use chrono::NaiveDate;
use geo_types::Rect;
use rayon::prelude::*;

/// Emerging hot spots on grid cells (only the occupied cells, in the cube's order).
pub struct EmergingCells {
    pub cell_m: u32,
    /// The cells `(col, row)`, in the order of `places`.
    pub cells: Vec<(i64, i64)>,
    pub places: MappedPlaces,
    pub result: EmergingResult,
    pub steps: TimeSteps,
}

impl HeapSize for EmergingCells {
    fn heap_bytes(&self) -> usize {
        self.cells.capacity() * std::mem::size_of::<(i64, i64)>()
            + self.places.heap_bytes()
            + self.result.heap_bytes()
            + self.steps.heap_bytes()
    }
}

/// Emerging hot spots for the filter on `cell_m` cells with `step` steps and a Gi* time window of
/// `time_window` steps; `None` when there is nothing to analyse (no period, fewer than three occupied cells, no
/// incidents in the cube). A window too long for the period is [`SurfaceError::TimeWindowTooLarge`]; `cancel` is
/// checked between the steps of the computation.
pub fn emerging_cells(
    snapshot: &Snapshot,
    filter: &Filter,
    cell_m: u32,
    step: Step,
    time_window: usize,
    cancel: &Cancel,
) -> Result<Option<EmergingCells>, SurfaceError> {
    let Some(steps) = cube_steps(snapshot, filter, step) else {
        return Ok(None);
    };
    let events = located_events(snapshot, filter);
    cancel.check()?;
    let c = f64::from(cell_m);
    let cube = grid_cube_from_events(&events, c, &steps)?;
    if cube.cells.len() < 3 {
        return Ok(None);
    }
    cancel.check()?;
    let weights = cube.weights(emerging_grid_neighbourhood(c))?;
    cancel.check()?;
    let options = EmergingOptions {
        time_window,
        ..EmergingOptions::default()
    };
    let result = match emerging_hot_spots(&cube.cube, &weights, &options, cancel) {
        Ok(r) => r,
        Err(EmergingError::TimeWindowTooLarge { k, max, steps }) => {
            return Err(SurfaceError::TimeWindowTooLarge { k, max, steps })
        }
        Err(EmergingError::NoIncidents) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    cancel.check()?;
    Ok(Some(EmergingCells {
        cell_m,
        cells: cube.cells.clone(),
        places: MappedPlaces::new(Places::grid(cell_m, cube.cells.clone()), |_, _| None)?,
        result,
        steps,
    }))
}

/// The time steps of the cube of `filter`: over its period, the snapshot's data period where it leaves it open;
/// `None` without a period or without a complete step.
fn cube_steps(snapshot: &Snapshot, filter: &Filter, step: Step) -> Option<TimeSteps> {
    let (Some(start), Some(end)) = (
        filter.from.or(snapshot.first_day),
        filter.to.or(snapshot.last_day),
    ) else {
        return None;
    };
    TimeSteps::new(step, start, end).ok()
}

/// The `emerging` layer of `tile`: the analysed cells reaching into it (id = [`feature_id`] of the cell id;
/// `id`, `category`, `label` (Dutch), `trend_z`, `trend_p`), or where a cell is smaller than a pixel
/// ([`is_overview`]) the overview of the cells whose centre lies in it (`category`, `label`, `cells`); `None` when
/// empty.
pub fn emerging_tile(em: &EmergingCells, tile: TileId) -> Result<Option<Vec<u8>>, SurfaceError> {
    if is_overview(tile, em.cell_m) {
        let cells = em
            .result
            .locations
            .iter()
            .map(|l| (em.cells[l.location], l.category));
        return emerging_overview(tile, em.cell_m, cells);
    }
    emerging_layer(tile, &em.places, &em.result.locations)
}

/// The `emerging` layer of an overview tile ([`super::cell_overview`]) from the cells and their categories (the
/// categories' order is their prominence): `category`, `label`, `cells`; `None` when empty.
fn emerging_overview(
    tile: TileId,
    cell_m: u32,
    cells: impl Iterator<Item = ((i64, i64), EmergingCategory)>,
) -> Result<Option<Vec<u8>>, SurfaceError> {
    let runs = overview_runs(tile, cell_m, cells)?;
    let features = runs
        .iter()
        .enumerate()
        .map(|(k, run)| TileFeature {
            id: k as u64 + 1,
            geometry: TileGeometry::Polygons(&run.polygon),
            properties: vec![
                ("category", Value::from(run.class.as_str())),
                ("label", Value::from(run.class.dutch_label())),
                ("cells", Value::Int(i64::from(run.cells))),
            ],
        })
        .collect();
    encode_layer(tile, "emerging", features)
}

/// The `emerging` layer of `tile` from `trends` of the cells of `places` (`location` indexes `places`).
fn emerging_layer(
    tile: TileId,
    places: &MappedPlaces,
    trends: &[LocationTrend],
) -> Result<Option<Vec<u8>>, SurfaceError> {
    let features = trends
        .iter()
        .filter(|l| reaches_tile(tile, &places.bbox_m[l.location]))
        .map(|l| TileFeature {
            id: feature_id(&places.ids[l.location]),
            geometry: TileGeometry::Polygons(&places.polygons_m[l.location]),
            properties: vec![
                ("id", Value::from(places.ids[l.location].as_str())),
                ("category", Value::from(l.category.as_str())),
                ("label", Value::from(l.category.dutch_label())),
                ("trend_z", Value::Double(l.trend_z)),
                ("trend_p", Value::Double(l.trend_p)),
            ],
        })
        .collect();
    encode_layer(tile, "emerging", features)
}

/// Occupied cells of a grid cube with their sparse count series: cell `i` (`(col, row)`, ordered by (row, col),
/// as [`grid_cube_from_events`] orders its locations) has the counts `entries[offsets[i]..offsets[i + 1]]`
/// (`(step, count)`, ascending steps, counts > 0). Memory follows the incidents, not the cube: 24 bytes per
/// occupied cell and 8 per occupied (cell, step).
struct SparseCells {
    cells: Vec<(i64, i64)>,
    offsets: Vec<usize>,
    entries: Vec<(u32, u32)>,
}

impl HeapSize for SparseCells {
    fn heap_bytes(&self) -> usize {
        self.cells.capacity() * std::mem::size_of::<(i64, i64)>()
            + self.offsets.capacity() * std::mem::size_of::<usize>()
            + self.entries.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

impl SparseCells {
    /// Bins unit-weight points `(x_m, y_m, day)` as [`grid_cube_from_events`] does: cell `floor(x / c)`,
    /// `floor(y / c)`, the step of the day; points outside the period or not finite are left out.
    fn bin(
        points: impl ParallelIterator<Item = (f64, f64, NaiveDate)>,
        cell_m: f64,
        steps: &TimeSteps,
    ) -> SparseCells {
        let mut keys: Vec<(i64, i64, u32)> = points
            .filter_map(|(x, y, day)| {
                if !(x.is_finite() && y.is_finite()) {
                    return None;
                }
                let t = steps.step_of(day)?;
                let (col, row) = ((x / cell_m).floor(), (y / cell_m).floor());
                if col.abs() > 1e15 || row.abs() > 1e15 {
                    return None;
                }
                Some((row as i64, col as i64, t as u32))
            })
            .collect();
        keys.par_sort_unstable();
        let mut cells: Vec<(i64, i64)> = Vec::new();
        let mut offsets = vec![0];
        let mut entries: Vec<(u32, u32)> = Vec::new();
        for (k, &(row, col, t)) in keys.iter().enumerate() {
            let new_cell = k == 0 || (keys[k - 1].0, keys[k - 1].1) != (row, col);
            if new_cell {
                if k > 0 {
                    offsets.push(entries.len());
                }
                cells.push((col, row));
            }
            match entries.last_mut() {
                Some((last_t, n)) if !new_cell && *last_t == t => *n += 1,
                _ => entries.push((t, 1)),
            }
        }
        if !cells.is_empty() {
            offsets.push(entries.len());
        }
        SparseCells {
            cells,
            offsets,
            entries,
        }
    }

    fn series(&self, i: usize) -> &[(u32, u32)] {
        &self.entries[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The dense count row of cell `i` into `row` (`n_steps` values).
    fn row_into(&self, i: usize, row: &mut [f64]) {
        row.fill(0.0);
        for &(t, v) in self.series(i) {
            row[t as usize] = f64::from(v);
        }
    }

    /// The spatial lag of cell `i` per step (its counts plus the counts of the cells `neighbours`, all of
    /// weight one) into `lag`; returns the sum of the weights (and of their squares), the self weight included.
    /// The counts are whole numbers, so the sums are exact in any order: the whole cube's bits.
    fn lag_into(&self, i: usize, neighbours: &[usize], lag: &mut [f64]) -> f64 {
        self.row_into(i, lag);
        for &j in neighbours {
            // Adding the zero bins would add +0.0: the same bits.
            for &(t, v) in self.series(j) {
                lag[t as usize] += f64::from(v);
            }
        }
        1.0 + neighbours.len() as f64
    }
}

/// Emerging hot spots on a grid of `cell_m`, cell by cell (see [`emerging_grid`]): the statistics that are global
/// by definition, computed once from the occupied cells: the Gi* population (n, mean, SD) of every time step
/// over the analysed cells (the cells with an incident in the period) and the Benjamini-Hochberg cut-off over
/// the p-values of all bins of the cube. It keeps the occupied cells' sparse count series; a cell's Gi* series,
/// Mann-Kendall trend and category then need the counts of its neighbourhood only
/// ([`EmergingGrid::trends_within`], [`emerging_grid_tile`]).
pub struct EmergingGrid {
    pub cell_m: u32,
    pub steps: TimeSteps,
    /// Number of analysed (occupied) cells.
    pub n_cells: usize,
    options: EmergingOptions,
    /// (n, mean, sd) of each step's population.
    populations: Vec<(f64, f64, f64)>,
    significance: Significance,
    /// Every bin with `|z|` at most this is not significant ([`Significance::quiet_z`]).
    quiet_z: f64,
    /// Every bin with `|z|` at least this is significant ([`Significance::loud_z`]).
    loud_z: f64,
    /// The filter's counts per occupied cell and step.
    sparse: SparseCells,
}

impl HeapSize for EmergingGrid {
    fn heap_bytes(&self) -> usize {
        self.steps.heap_bytes()
            + self.populations.capacity() * std::mem::size_of::<(f64, f64, f64)>()
            + self.sparse.heap_bytes()
    }
}

/// A grid cell `(col, row)` with its trend and category.
pub type CellTrend = CellValue<LocationTrend>;

/// A grid cell `(col, row)` with a value computed for it.
pub type CellValue<T> = ((i64, i64), T);

/// Locations per unit of parallel work (and per cancellation check).
const CHUNK_CELLS: usize = 256;

/// The [`EmergingGrid`] of the filter's located incidents on `cell_m` cells with `step` steps and a Gi* time
/// window of `time_window` steps; `None` and errors exactly when [`emerging_cells`] gives them. Costs the
/// filter's incidents and the occupied cells' bins once (the Gi* of every bin for the FDR cut-off, in parallel,
/// streamed), and holds per-step statistics and the occupied cells' sparse counts: no cube over the extent.
/// Checks `cancel` every few milliseconds of work.
///
/// ```
/// use brandpunt::calendar::Step;
/// use brandpunt::cancel::Cancel;
/// use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
/// use brandpunt::surfaces::emerging::{emerging_cells, emerging_grid};
///
/// let day = |d| chrono::NaiveDate::from_yo_opt(2024, d).unwrap().and_hms_opt(12, 0, 0).unwrap();
/// // A busy cell getting busier among quiet ones.
/// let incidents = (0..400).map(|k: u32| IncidentRecord {
///     id: k.into(), source: "politie".into(), begin: day(1 + (k * k) % 300), end: day(1 + (k * k) % 300),
///     category_code: None, x_m: Some(155_050.0 + 100.0 * f64::from(k % 5 % 3)),
///     y_m: Some(463_050.0 + 100.0 * f64::from(k % 7 % 3)), buurtcode: None,
/// }).collect();
/// let data = TenantData { code: "d".into(), name: "D".into(), areas: vec![], incidents };
/// let s = Snapshot::build(1, data).unwrap();
/// let all = Filter::all(&s);
/// let grid = emerging_grid(&s, &all, 100, Step::Week, 1, &Cancel::never()).unwrap().unwrap();
/// let whole = emerging_cells(&s, &all, 100, Step::Week, 1, &Cancel::never()).unwrap().unwrap();
/// let window = geo_types::Rect::new((154_000.0, 462_000.0), (156_000.0, 464_000.0));
/// let cells = grid.trends_within(window, &Cancel::never()).unwrap();
/// assert_eq!(cells.len(), whole.result.locations.len());
/// for ((cell, t), w) in cells.iter().zip(&whole.result.locations) {
///     assert_eq!(whole.places.ids[w.location], grid.cell_id(*cell));
///     assert_eq!((t.category, t.trend_z, t.trend_p), (w.category, w.trend_z, w.trend_p));
/// }
/// ```
pub fn emerging_grid(
    snapshot: &Snapshot,
    filter: &Filter,
    cell_m: u32,
    step: Step,
    time_window: usize,
    cancel: &Cancel,
) -> Result<Option<EmergingGrid>, SurfaceError> {
    let Some(steps) = cube_steps(snapshot, filter, step) else {
        return Ok(None);
    };
    if cell_m == 0 {
        return Err(EmergingError::InvalidCellSize(0.0).into());
    }
    let c = f64::from(cell_m);
    let located = snapshot.located_incidents(filter);
    cancel.check().map_err(EmergingError::from)?;
    let mut sparse = SparseCells::bin(
        located.par_iter().map(|&k| {
            let i = &snapshot.incidents[k as usize];
            (i.x_m, i.y_m, i.begin().date())
        }),
        c,
        &steps,
    );
    drop(located);
    sparse.cells.shrink_to_fit();
    sparse.offsets.shrink_to_fit();
    sparse.entries.shrink_to_fit();
    let n_cells = sparse.cells.len();
    if n_cells < 3 {
        return Ok(None);
    }
    let options = EmergingOptions {
        time_window,
        ..EmergingOptions::default()
    };
    check_alphas(&options)?;
    let n_steps = steps.len();
    match check_time_window(&options, n_steps) {
        Ok(()) => {}
        Err(EmergingError::TimeWindowTooLarge { k, max, steps }) => {
            return Err(SurfaceError::TimeWindowTooLarge { k, max, steps })
        }
        Err(e) => return Err(e.into()),
    }
    cancel.check().map_err(EmergingError::from)?;
    let populations = step_populations(n_cells, n_steps, &options, |visit| {
        let mut row = vec![0.0; n_steps];
        for i in 0..n_cells {
            if i % 4096 == 0 && cancel.is_cancelled() {
                return;
            }
            sparse.row_into(i, &mut row);
            visit(&row);
        }
    });
    cancel.check().map_err(EmergingError::from)?;
    let weights = regular_grid(&sparse.cells, c, emerging_grid_neighbourhood(c))
        .map_err(EmergingError::from)?;
    let cutoff = if options.fdr {
        fdr_cutoff(&sparse, &weights, &populations, &options, cancel)?
    } else {
        None
    };
    let significance = Significance {
        fdr: options.fdr,
        alpha: options.alpha,
        cutoff,
    };
    Ok(Some(EmergingGrid {
        cell_m,
        steps,
        n_cells,
        quiet_z: significance.quiet_z(),
        loud_z: significance.loud_z(),
        significance,
        options,
        populations,
        sparse,
    }))
}

/// What the Benjamini-Hochberg cut-off needs from a part of the cube's bins: the p-values `<= alpha` of the bins
/// with incidents in their window, the number of those bins with a p-value, and per neighbourhood size and step
/// the number of those bins (the others of that size and step share one p-value).
struct FdrPart {
    small: Vec<f64>,
    n: usize,
    busy: Vec<u32>,
}

/// The Benjamini-Hochberg cut-off over the p-values of all bins of the cube of `sparse`, equal to the cut-off over
/// the dense cube, at a cost that follows the bins with an incident in their neighbourhood and time window. A
/// bin without one has the lag sum 0, so its z (and p) depends on its step and neighbourhood size only: those
/// bins are counted per (size, step), not computed one by one. The grid's weights are 1 and the counts whole
/// numbers, so the lag and window sums are exact whatever the order of summation.
fn fdr_cutoff(
    sparse: &SparseCells,
    weights: &SpatialWeights,
    populations: &[(f64, f64, f64)],
    options: &EmergingOptions,
    cancel: &Cancel,
) -> Result<Option<f64>, SurfaceError> {
    let n_cells = sparse.cells.len();
    let n_steps = populations.len();
    let (k, alpha) = (options.time_window, options.alpha);
    let sizes = (0..n_cells)
        .map(|i| weights.neighbours(i).len())
        .max()
        .unwrap_or(0)
        + 1;
    let mut cells_per_size = vec![0usize; sizes];
    for i in 0..n_cells {
        cells_per_size[weights.neighbours(i).len()] += 1;
    }
    let empty = || FdrPart {
        small: Vec::new(),
        n: 0,
        busy: vec![0; sizes * n_steps],
    };
    let part = (0..n_cells.div_ceil(CHUNK_CELLS))
        .into_par_iter()
        .try_fold(empty, |mut acc, chunk| {
            cancel.check()?;
            let mut lag: Vec<(u32, f64)> = Vec::new();
            for i in chunk * CHUNK_CELLS..((chunk + 1) * CHUNK_CELLS).min(n_cells) {
                // The cell's sparse lag: its counts and its neighbours', by step.
                lag.clear();
                lag.extend(sparse.series(i).iter().map(|&(t, v)| (t, f64::from(v))));
                let (mut sw, mut sw2) = (1.0, 1.0);
                for (&j, &wij) in weights.neighbours(i).iter().zip(weights.weights(i)) {
                    lag.extend(
                        sparse
                            .series(j as usize)
                            .iter()
                            .map(|&(t, v)| (t, wij * f64::from(v))),
                    );
                    sw += wij;
                    sw2 += wij * wij;
                }
                lag.sort_unstable_by_key(|e| e.0);
                let size = weights.neighbours(i).len();
                // The steps whose window t-k..=t holds a lag entry, with the window sum.
                let (mut first, mut next, mut window) = (0usize, 0usize, 0.0);
                let mut t = lag.first().map_or(n_steps, |e| e.0 as usize);
                while t < n_steps {
                    while next < lag.len() && lag[next].0 as usize <= t {
                        window += lag[next].1;
                        next += 1;
                    }
                    while first < next && (lag[first].0 as usize) + k < t {
                        window -= lag[first].1;
                        first += 1;
                    }
                    if first == next {
                        // Nothing in this window: jump to the next entry.
                        match lag.get(next) {
                            Some(e) => {
                                t = e.0 as usize;
                                continue;
                            }
                            None => break,
                        }
                    }
                    let z = gi_star_bin(window, sw, sw2, t, k, populations);
                    let p = two_sided_normal_p(z);
                    acc.busy[size * n_steps + t] += 1;
                    if !p.is_nan() {
                        acc.n += 1;
                        if p <= alpha {
                            acc.small.push(p);
                        }
                    }
                    t += 1;
                }
            }
            Ok(acc)
        })
        .try_reduce(empty, |mut a, b| {
            a.small.extend(b.small);
            a.n += b.n;
            for (x, y) in a.busy.iter_mut().zip(&b.busy) {
                *x += y;
            }
            Ok(a)
        })
        .map_err(|e: crate::cancel::Cancelled| EmergingError::from(e))?;
    // (p, number of bins with it).
    let mut groups: Vec<(f64, f64)> = part.small.iter().map(|&p| (p, 1.0)).collect();
    let mut n = part.n as f64;
    for (size, &cells) in cells_per_size.iter().enumerate() {
        if cells == 0 {
            continue;
        }
        let w = (size + 1) as f64;
        for t in 0..n_steps {
            let quiet = cells - part.busy[size * n_steps + t] as usize;
            let p = two_sided_normal_p(gi_star_bin(0.0, w, w, t, k, populations));
            if quiet == 0 || p.is_nan() {
                continue;
            }
            n += quiet as f64;
            if p <= alpha {
                groups.push((p, quiet as f64));
            }
        }
    }
    groups.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    // The largest p whose highest rank r satisfies p <= r alpha / n (as over the sorted bins one by one).
    let mut rank = 0.0;
    let mut cut = None;
    for &(p, m) in &groups {
        rank += m;
        if p <= rank * alpha / n {
            cut = Some(p);
        }
    }
    Ok(cut)
}

impl EmergingGrid {
    /// The output id of a cell: `c{cell}_{col}_{row}`.
    pub fn cell_id(&self, (col, row): (i64, i64)) -> String {
        format!("c{}_{col}_{row}", self.cell_m)
    }

    /// The Benjamini-Hochberg cut-off over all bins (`None` when no bin is significant).
    pub fn fdr_cutoff(&self) -> Option<f64> {
        self.significance.cutoff
    }

    /// The analysed cells within `window_rd` (RD metres; the cells holding a point of it) with their trend and
    /// category, ordered by (row, col); `location` is the index in the returned list. Equal to
    /// [`emerging_cells`] for those cells. Reads the counts of the occupied cells within the window and one cell
    /// around it, so the cost follows the occupied cells near the window. Checks `cancel` every few
    /// milliseconds of work.
    pub fn trends_within(
        &self,
        window_rd: Rect<f64>,
        cancel: &Cancel,
    ) -> Result<Vec<CellTrend>, SurfaceError> {
        let (alpha, quiet_z) = (self.options.trend_alpha, self.quiet_z);
        self.each_within(window_rd, cancel, |location, z, p| {
            // Only the significance of a bin's p counts: a quiet bin's p (1) is refused as its own would be.
            p.clear();
            p.extend(z.iter().map(|&zt| {
                if zt.abs() <= quiet_z {
                    1.0
                } else {
                    two_sided_normal_p(zt)
                }
            }));
            location_trend(location, z, p, &self.significance, alpha)
        })
    }

    /// The analysed cells within `window_rd` with their category, as [`EmergingGrid::trends_within`] gives it,
    /// ordered by (row, col). Cheaper: no p-value of a bin that cannot be significant, and the Mann-Kendall
    /// trend of a cell only when its category depends on it
    /// ([`crate::analysis::emerging::BinSides::needs_trend`]).
    pub fn categories_within(
        &self,
        window_rd: Rect<f64>,
        cancel: &Cancel,
    ) -> Result<Vec<CellValue<EmergingCategory>>, SurfaceError> {
        let (alpha, bounds) = (self.options.trend_alpha, (self.quiet_z, self.loud_z));
        self.each_within(window_rd, cancel, |_, z, _| {
            location_category(z, &self.significance, bounds, alpha)
        })
    }

    /// `per_cell(location, z, scratch)` of every analysed cell within `window_rd` (see
    /// [`EmergingGrid::trends_within`]) from its Gi* z series, in (row, col) order; `location` is the index in
    /// the returned list and `scratch` a buffer of the calling thread. The rows of the window are computed in
    /// parallel; a cell's neighbours (the occupied cells among the 8 around it, as
    /// [`emerging_grid_neighbourhood`] defines them) are found by walking the occupied cells of its row and the
    /// rows beside it, which are sorted by column.
    fn each_within<T: Send>(
        &self,
        window_rd: Rect<f64>,
        cancel: &Cancel,
        per_cell: impl Fn(usize, &[f64], &mut Vec<f64>) -> T + Sync,
    ) -> Result<Vec<CellValue<T>>, SurfaceError> {
        let c = f64::from(self.cell_m);
        // Clamped so that a window far outside RD cannot overflow the margin below.
        let cell = |v: f64| ((v / c).floor()).clamp(-1e15, 1e15) as i64;
        let (col0, col1) = (cell(window_rd.min().x), cell(window_rd.max().x));
        let (row0, row1) = (cell(window_rd.min().y), cell(window_rd.max().y));
        let cells = &self.sparse.cells;
        // The occupied cells of the window and one cell around it (the neighbours), row by row.
        let key = |&(col, row): &(i64, i64)| (row, col);
        let rows: Vec<(i64, std::ops::Range<usize>)> =
            window_runs(cells, key, (col0 - 1, col1 + 1), (row0 - 1, row1 + 1))
                .map(|run| (cells[run.start].1, run))
                .collect();
        cancel.check().map_err(EmergingError::from)?;
        // The rows of the window with their cells in it: (index in `rows`, cells, first location).
        let mut targets: Vec<(usize, std::ops::Range<usize>, usize)> = Vec::new();
        let mut n_targets = 0;
        for (k, (row, run)) in rows.iter().enumerate() {
            if !(row0..=row1).contains(row) {
                continue;
            }
            let in_run = &cells[run.clone()];
            let from = run.start + in_run.partition_point(|&(col, _)| col < col0);
            let to = run.start + in_run.partition_point(|&(col, _)| col <= col1);
            if from < to {
                targets.push((k, from..to, n_targets));
                n_targets += to - from;
            }
        }
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let n_steps = self.steps.len();
        let k = self.options.time_window;
        let per_cell = &per_cell;
        let rows = &rows;
        let done: Vec<Vec<CellValue<T>>> = targets
            .par_iter()
            .map_init(
                || {
                    (
                        vec![0.0; n_steps],
                        vec![0.0; n_steps],
                        Vec::new(),
                        StepTermsCache::new(k, &self.populations),
                        Vec::new(),
                    )
                },
                |(lag, z, scratch, terms, neighbours), (at, run, first)| {
                    cancel.check()?;
                    let row = rows[*at].0;
                    // The runs of the rows row - 1, row and row + 1, each with a cursor.
                    let mut near: Vec<(std::ops::Range<usize>, usize)> = rows
                        [at.saturating_sub(1)..(at + 2).min(rows.len())]
                        .iter()
                        .filter(|(r, _)| (r - row).abs() <= 1)
                        .map(|(_, run)| (run.clone(), run.start))
                        .collect();
                    let mut out = Vec::with_capacity(run.len());
                    for (a, i) in run.clone().enumerate() {
                        let col = cells[i].0;
                        neighbours.clear();
                        for (range, cursor) in near.iter_mut() {
                            while *cursor < range.end && cells[*cursor].0 < col - 1 {
                                *cursor += 1;
                            }
                            let mut j = *cursor;
                            while j < range.end && cells[j].0 <= col + 1 {
                                if j != i {
                                    neighbours.push(j);
                                }
                                j += 1;
                            }
                        }
                        let sw = self.sparse.lag_into(i, neighbours, lag);
                        terms.get(sw, sw).series(lag, z);
                        out.push((cells[i], per_cell(first + a, z, scratch)));
                    }
                    Ok(out)
                },
            )
            .collect::<Result<_, crate::cancel::Cancelled>>()
            .map_err(EmergingError::from)?;
        Ok(done.into_iter().flatten().collect())
    }
}

/// The `emerging` layer of `tile` from an [`EmergingGrid`]: the analysed cells reaching into the tile and its
/// buffer (`window_rd`, see [`super::tile_window_rd`]), with the properties of [`emerging_tile`] and the same
/// bytes (the overview where [`emerging_tile`] draws one); `None` when empty. Only analysed (occupied) cells are
/// drawn at every zoom, so a tile costs the occupied cells under it and its margin: at low zooms the tile
/// covering a region analyses that region's occupied cells (the server caches the tile).
pub fn emerging_grid_tile(
    grid: &EmergingGrid,
    tile: TileId,
    window_rd: Rect<f64>,
    cancel: &Cancel,
) -> Result<Option<Vec<u8>>, SurfaceError> {
    if is_overview(tile, grid.cell_m) {
        let cells = grid.categories_within(window_rd, cancel)?;
        if cells.is_empty() {
            return Ok(None);
        }
        return emerging_overview(tile, grid.cell_m, cells.into_iter());
    }
    let trends = grid.trends_within(window_rd, cancel)?;
    if trends.is_empty() {
        return Ok(None);
    }
    let (cells, trends): (Vec<(i64, i64)>, Vec<LocationTrend>) = trends.into_iter().unzip();
    let places = MappedPlaces::new(Places::grid(grid.cell_m, cells), |_, _| None)?;
    emerging_layer(tile, &places, &trends)
}

/// The GeoJSON features (WGS84) of the classified locations: `id`, the pattern (`category` and its Dutch
/// `label`), the Mann-Kendall trend (`trend_z`, `trend_p`), hot and cold steps and the last step's z; produced
/// one by one, so a large answer can be written as it is made.
pub fn emerging_features(
    em: &EmergingCells,
) -> impl Iterator<Item = Result<serde_json::Value, SurfaceError>> + '_ {
    em.result.locations.iter().map(|l| {
        let id = &em.places.ids[l.location];
        super::geojson_feature(
            serde_json::json!(id),
            &em.places.polygons_rd[l.location],
            serde_json::json!({
                "id": id,
                "category": l.category.as_str(),
                "label": l.category.dutch_label(),
                "trend_z": super::json_number(l.trend_z),
                "trend_p": super::json_number(l.trend_p),
                "hot_steps": l.hot_steps,
                "cold_steps": l.cold_steps,
                "final_z": super::json_number(l.final_z),
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn cells_are_the_occupied_grid_cells_over_the_period() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let em = emerging_cells(&s, &all, 100, Step::Week, 1, &Cancel::never())
            .unwrap()
            .unwrap();
        // The cluster's cell plus the 20 spread cells.
        assert_eq!(em.places.ids.len(), 21);
        assert_eq!(em.result.locations.len(), 21);
        assert_eq!(em.result.n_steps, em.steps.len());
        assert!(em.heap_bytes() > 0);
        let months = emerging_cells(&s, &all, 100, Step::Month, 1, &Cancel::never())
            .unwrap()
            .unwrap();
        assert!(months.result.n_steps < em.result.n_steps);
    }

    #[test]
    fn too_long_a_window_is_a_parameter_error_and_nothing_is_none() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let e = emerging_cells(&s, &all, 100, Step::Month, 50, &Cancel::never())
            .err()
            .unwrap();
        assert!(
            matches!(e, SurfaceError::TimeWindowTooLarge { k: 50, .. }),
            "{e}"
        );
        assert_eq!(e.parameter(), Some("time_window"));
        let none = Filter::new(&s, vec!["9.9.9".into()], vec![], None, None);
        assert!(
            emerging_cells(&s, &none, 100, Step::Week, 1, &Cancel::never())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn features_name_the_pattern_of_every_location() {
        let s = fixture::town();
        let em = emerging_cells(&s, &Filter::all(&s), 100, Step::Week, 1, &Cancel::never())
            .unwrap()
            .unwrap();
        let features: Vec<_> = emerging_features(&em).collect::<Result<_, _>>().unwrap();
        assert_eq!(features.len(), em.result.locations.len());
        for (f, l) in features.iter().zip(&em.result.locations) {
            assert_eq!(f["id"], em.places.ids[l.location].as_str());
            assert_eq!(f["properties"]["category"], l.category.as_str());
            assert_eq!(f["properties"]["label"], l.category.dutch_label());
            assert_eq!(f["geometry"]["type"], "MultiPolygon");
        }
    }

    #[test]
    fn tile_holds_the_cells_over_it() {
        let s = fixture::town();
        let em = emerging_cells(&s, &Filter::all(&s), 100, Step::Week, 1, &Cancel::never())
            .unwrap()
            .unwrap();
        assert!(emerging_tile(&em, fixture::tile_over(725.0, 725.0, 15))
            .unwrap()
            .is_some());
        assert!(emerging_tile(&em, TileId::new(15, 0, 0).unwrap())
            .unwrap()
            .is_none());
    }

    /// 6000 incidents over 2 years on a 3 x 3 km area near the fixture town: a background spread by a fixed
    /// pseudo-random sequence, a cluster that grows over time and one that fades, so that there are hot and cold
    /// bins and trends of both signs.
    fn synthetic() -> Snapshot {
        use crate::dataset::{IncidentRecord, TenantData};
        let (x0, y0) = (fixture::X0, fixture::Y0);
        let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let incidents = (0..6000i64)
            .map(|id| {
                let day = (next() * 730.0) as i64;
                let (x, y) = match id % 3 {
                    // Growing: more likely late in the period.
                    0 if next() < day as f64 / 730.0 => {
                        (900.0 + 300.0 * next(), 900.0 + 300.0 * next())
                    }
                    // Fading.
                    1 if next() > day as f64 / 730.0 => {
                        (2000.0 + 250.0 * next(), 400.0 + 250.0 * next())
                    }
                    _ => (3000.0 * next(), 3000.0 * next()),
                };
                let at = (start + chrono::Duration::days(day))
                    .and_hms_opt(10, 0, 0)
                    .unwrap();
                IncidentRecord {
                    id,
                    source: "politie".into(),
                    begin: at,
                    end: at,
                    category_code: Some("1.1.1".into()),
                    x_m: Some(x0 + x),
                    y_m: Some(y0 + y),
                    buurtcode: None,
                }
            })
            .collect();
        let data = TenantData {
            code: "s".into(),
            name: "S".into(),
            areas: vec![],
            incidents,
        };
        Snapshot::build(1, data).unwrap()
    }

    fn same(a: f64, b: f64) -> bool {
        a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
    }

    /// Every cell of the whole cube equals the cell read window by window from the grid (trend, category, hot
    /// and cold steps), and the windows of a partition together hold every analysed cell once.
    fn assert_grid_equals_whole(
        s: &Snapshot,
        filter: &Filter,
        cell_m: u32,
        step: Step,
        k: usize,
    ) -> usize {
        let whole = emerging_cells(s, filter, cell_m, step, k, &Cancel::never())
            .unwrap()
            .unwrap();
        let grid = emerging_grid(s, filter, cell_m, step, k, &Cancel::never())
            .unwrap()
            .unwrap();
        assert_eq!(grid.n_cells, whole.result.locations.len());
        assert_eq!(grid.fdr_cutoff(), whole.result.fdr_cutoff);
        let by_id: std::collections::HashMap<&str, &LocationTrend> = whole
            .result
            .locations
            .iter()
            .map(|l| (whole.places.ids[l.location].as_str(), l))
            .collect();
        let c = f64::from(cell_m);
        let mut seen = 0;
        // Windows of 7 x 5 cells over the area and around it; their cells partition the plane.
        let (wx, wy) = (7.0 * c, 5.0 * c);
        let (gx, gy) = (
            (fixture::X0 / wx).floor() - 1.0,
            (fixture::Y0 / wy).floor() - 1.0,
        );
        for i in 0..((4000.0 / wx).ceil() as i64 + 2) {
            for j in 0..((4000.0 / wy).ceil() as i64 + 2) {
                let (x, y) = ((gx + i as f64) * wx, (gy + j as f64) * wy);
                // Up to the last cell's interior: the next window starts at the next cell.
                let window = Rect::new((x, y), (x + wx - 0.5 * c, y + wy - 0.5 * c));
                let trends = grid.trends_within(window, &Cancel::never()).unwrap();
                // The categories alone are the trends' categories, cell by cell.
                let categories = grid.categories_within(window, &Cancel::never()).unwrap();
                assert_eq!(
                    categories,
                    trends
                        .iter()
                        .map(|(cell, t)| (*cell, t.category))
                        .collect::<Vec<_>>()
                );
                for (cell, t) in trends {
                    let w = by_id[grid.cell_id(cell).as_str()];
                    let at = format!("{cell_m} {step:?} k={k} {cell:?}");
                    assert_eq!(t.category, w.category, "{at}");
                    assert!(
                        same(t.trend_z, w.trend_z),
                        "{at}: {} vs {}",
                        t.trend_z,
                        w.trend_z
                    );
                    assert!(same(t.trend_p, w.trend_p), "{at}");
                    assert!(same(t.final_z, w.final_z), "{at}");
                    assert_eq!(
                        (t.hot_steps, t.cold_steps),
                        (w.hot_steps, w.cold_steps),
                        "{at}"
                    );
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, whole.result.locations.len(), "{cell_m} {step:?}");
        whole
            .result
            .locations
            .iter()
            .filter(|l| l.hot_steps + l.cold_steps > 0)
            .count()
    }

    #[test]
    fn the_grid_equals_the_whole_cube_cell_by_cell() {
        let s = synthetic();
        let all = Filter::all(&s);
        let mut with_pattern = 0;
        for (cell_m, step, k) in [
            (100, Step::Week, 1),
            (250, Step::Week, 2),
            (250, Step::Month, 1),
            (500, Step::Month, 0),
        ] {
            with_pattern += assert_grid_equals_whole(&s, &all, cell_m, step, k);
        }
        assert!(
            with_pattern > 10,
            "{with_pattern} cells with hot or cold bins"
        );
        let town = fixture::town();
        assert_grid_equals_whole(&town, &Filter::all(&town), 100, Step::Week, 1);
        // A filter on the period.
        let early = Filter::new(
            &s,
            vec![],
            vec![],
            None,
            chrono::NaiveDate::from_ymd_opt(2024, 3, 31),
        );
        assert_grid_equals_whole(&s, &early, 250, Step::Week, 1);
    }

    #[test]
    fn grid_tiles_are_the_whole_cubes_tiles() {
        let s = synthetic();
        let all = Filter::all(&s);
        let whole = emerging_cells(&s, &all, 100, Step::Week, 1, &Cancel::never())
            .unwrap()
            .unwrap();
        let grid = emerging_grid(&s, &all, 100, Step::Week, 1, &Cancel::never())
            .unwrap()
            .unwrap();
        let mut drawn = 0;
        for z in [5u8, 8, 9, 12, 14, 15, 16] {
            let a = fixture::tile_over(0.0, 3000.0, z);
            let b = fixture::tile_over(3000.0, 0.0, z);
            for x in a.x..=b.x {
                for y in a.y..=b.y {
                    let tile = TileId::new(u32::from(z), x, y).unwrap();
                    let window = crate::surfaces::tile_window_rd(tile).unwrap();
                    let local = emerging_grid_tile(&grid, tile, window, &Cancel::never()).unwrap();
                    assert_eq!(local, emerging_tile(&whole, tile).unwrap(), "{tile:?}");
                    drawn += usize::from(local.is_some());
                }
            }
        }
        assert!(drawn > 10, "{drawn} tiles");
    }

    #[test]
    fn the_grid_is_none_and_refuses_as_the_whole_cube_and_stops_when_cancelled() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let never = Cancel::never();
        let e = emerging_grid(&s, &all, 100, Step::Month, 50, &never)
            .err()
            .unwrap();
        assert!(
            matches!(e, SurfaceError::TimeWindowTooLarge { k: 50, .. }),
            "{e}"
        );
        let none = Filter::new(&s, vec!["9.9.9".into()], vec![], None, None);
        assert!(emerging_grid(&s, &none, 100, Step::Week, 1, &never)
            .unwrap()
            .is_none());
        assert!(emerging_grid(&s, &all, 0, Step::Week, 1, &never).is_err());
        let (cancel, guard) = Cancel::new();
        drop(guard);
        let e = emerging_grid(&s, &all, 100, Step::Week, 1, &cancel)
            .err()
            .unwrap();
        assert!(
            matches!(e, SurfaceError::Emerging(EmergingError::Cancelled(_))),
            "{e}"
        );
        let grid = emerging_grid(&s, &all, 100, Step::Week, 1, &never)
            .unwrap()
            .unwrap();
        assert!(grid.heap_bytes() > 0);
        let window = Rect::new(
            (fixture::X0, fixture::Y0),
            (fixture::X0 + 1500.0, fixture::Y0 + 1500.0),
        );
        assert!(grid.trends_within(window, &cancel).is_err());
        // Far away: no cells.
        let far = Rect::new((0.0, 0.0), (1000.0, 1000.0));
        assert!(grid.trends_within(far, &never).unwrap().is_empty());
    }
}
