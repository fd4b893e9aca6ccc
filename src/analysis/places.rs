//! Places of the binned analyses (Gi*, Local Moran's I, emerging hot spots, method evaluation): square RD grid
//! cells, H3 cells or areas, with their output ids, representative points (RD metres), polygons, surface areas
//! and spatial weights, and the incidents assigned to them. The one home of these rules for the command line
//! (`brandpunt analyse`) and the server.
//!
//! Which places exist ([`Coverage`]):
//! - grid (`grid:CELL_M`): the occupied cells (sorted by row, then column), or every cell of the bounding box of
//!   the occupied cells (row-major; empty cells are places with count 0, so hot spots are measured against the
//!   quiet surroundings too), at most [`MAX_PLACES`];
//! - H3 (`h3:RES`): the occupied cells (sorted by index), or every cell reachable from an occupied cell through
//!   cells whose centre lies in the RD bounding box of the incidents (occupied cells first, then the filled ones
//!   in breadth-first order), at most [`MAX_PLACES`];
//! - areas: the caller's list (every area of a level, empty ones included), [`Places::areas`].
//!
//! Weights ([`Places::weights`]): by default ([`Places::default_weights`]) queen contiguity for grid cells and
//! areas and the 1-ring for H3 cells; emerging hot spots on a grid use the cells within 1.5 cell sizes (the 8
//! surrounding cells, [`emerging_grid_neighbourhood`]).
//!
//! H3 works on WGS84: the caller passes the conversions as closures (as [`super::grid::bin_h3`] does), so this
//! module never calls PROJ itself.
//!
//! ```
//! use brandpunt::analysis::places::{grid_places, Coverage};
//! use brandpunt::analysis::Event;
//!
//! let at = |x_m, y_m| Event { x_m, y_m, begin: None, end: None, weight: 1.0 };
//! let events = [at(50.0, 50.0), at(60.0, 40.0), at(250.0, 150.0)];
//! let binned = grid_places(&events, 100, Coverage::BoundingBox).unwrap();
//! // The bounding box of cells (0, 0) and (2, 1): 3 x 2 cells, row-major.
//! assert_eq!(binned.places.ids, ["c100_0_0", "c100_1_0", "c100_2_0", "c100_0_1", "c100_1_1", "c100_2_1"]);
//! assert_eq!(binned.counts(), [2.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
//! let w = binned.places.default_weights().unwrap();
//! assert_eq!(w.cardinality(0), 3); // queen neighbours of a corner cell
//! ```

use std::collections::{HashMap, HashSet, VecDeque};

use geo::{Area, Centroid};
use geo_types::{Geometry, MultiPolygon};
use h3o::CellIndex;

use super::grid::{bin_grid, bin_h3, h3_cell_centre_m, h3_cell_polygon_m, BinId, GridError};
use super::weights::{
    contiguity, distance_band, h3_k_ring, k_nearest, regular_grid, Contiguity, GridNeighbourhood,
    SpatialWeights, WeightsError,
};
use super::Event;

/// Largest number of places (grid or H3 cells) of a bounding box analysed.
pub const MAX_PLACES: usize = 4_000_000;

/// Vertex snapping tolerance (metres) of the default contiguity between areas.
pub const DEFAULT_SNAP_M: f64 = 1e-6;

/// Why places or their weights could not be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlacesError {
    /// The bounding box of the incidents holds more than [`MAX_PLACES`] grid cells.
    #[error("{cells} grid cells in the bounding box of the incidents, more than {MAX_PLACES}")]
    TooManyGridCells { cells: u128 },
    /// The bounding-box fill reached more than [`MAX_PLACES`] H3 cells.
    #[error("more than {MAX_PLACES} H3 cells in the bounding box of the incidents")]
    TooManyH3Cells,
    /// A bounding box of no incidents.
    #[error("no incidents with coordinates")]
    NoLocatedIncidents,
    /// The caller's WGS84 -> RD conversion failed for a vertex of this cell.
    #[error("H3 cell {0} cannot be converted to RD")]
    H3Conversion(CellIndex),
    /// k-nearest-neighbour weights need more places than k.
    #[error("{k} nearest neighbours need more than {k} places; there are {places}")]
    TooFewPlacesForKnn { k: usize, places: usize },
    /// Queen or rook contiguity asked of points.
    #[error("queen and rook weights apply to polygons and cells, not to points")]
    ContiguityOfPoints,
    #[error(transparent)]
    Grid(#[from] GridError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// Which grid / H3 cells are places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Only cells with at least one incident.
    Occupied,
    /// Every cell of the incidents' bounding box (see the module docs).
    BoundingBox,
}

/// A spatial weights rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightsRule {
    /// Sharing a boundary point (cells: the 8 surrounding cells; H3: the 1-ring).
    Queen,
    /// Sharing a boundary line (cells: the 4 edge neighbours; H3: the 1-ring).
    Rook,
    /// The K nearest (K >= 1) by centre.
    Knn(usize),
    /// Centres within this many metres.
    Distance(f64),
}

/// The kind of places and their geometry keys.
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// Square cells `(col, row)` of `cell_m` metres.
    Grid { cell_m: u32, cells: Vec<(i64, i64)> },
    /// H3 cells.
    H3 { cells: Vec<CellIndex> },
    /// Areas with their RD polygons.
    Areas { polygons: Vec<MultiPolygon<f64>> },
}

/// The places of an analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Places {
    /// Output id: `c{cell}_{col}_{row}`, the H3 index or the area code.
    pub ids: Vec<String>,
    /// Representative point in RD metres (cell centre; area centroid).
    pub centres_m: Vec<(f64, f64)>,
    pub layout: Layout,
}

/// The weights of queen/rook/knn/distance between polygons: contiguity (vertex snapping `snap_m`), or knn and
/// distance bands between their centroids.
pub fn polygon_weights(
    polygons: &[MultiPolygon<f64>],
    rule: WeightsRule,
    snap_m: f64,
) -> Result<SpatialWeights, PlacesError> {
    Ok(match rule {
        WeightsRule::Queen => contiguity(polygons, Contiguity::Queen, snap_m)?,
        WeightsRule::Rook => contiguity(polygons, Contiguity::Rook, snap_m)?,
        _ => point_weights(&centroids(polygons), rule)?,
    })
}

/// Knn or distance-band weights between points; [`PlacesError::ContiguityOfPoints`] for queen and rook.
///
/// ```
/// use brandpunt::analysis::places::{point_weights, PlacesError, WeightsRule};
///
/// let pts = [(0.0, 0.0), (10.0, 0.0), (100.0, 0.0)];
/// assert_eq!(point_weights(&pts, WeightsRule::Distance(20.0)).unwrap().cardinality(2), 0);
/// assert!(matches!(point_weights(&pts, WeightsRule::Knn(3)), Err(PlacesError::TooFewPlacesForKnn { .. })));
/// ```
pub fn point_weights(
    points: &[(f64, f64)],
    rule: WeightsRule,
) -> Result<SpatialWeights, PlacesError> {
    Ok(match rule {
        WeightsRule::Knn(k) => {
            if k >= points.len() {
                return Err(PlacesError::TooFewPlacesForKnn {
                    k,
                    places: points.len(),
                });
            }
            k_nearest(points, k)?
        }
        WeightsRule::Distance(m) => distance_band(points, m)?,
        WeightsRule::Queen | WeightsRule::Rook => return Err(PlacesError::ContiguityOfPoints),
    })
}

fn centroids(polygons: &[MultiPolygon<f64>]) -> Vec<(f64, f64)> {
    polygons
        .iter()
        .map(|p| {
            p.centroid()
                .map_or((f64::NAN, f64::NAN), |c| (c.x(), c.y()))
        })
        .collect()
}

/// The neighbourhood of emerging hot spots on a grid of `cell_m` metres: cells whose centres lie within 1.5 cell
/// sizes (the 8 surrounding cells).
pub fn emerging_grid_neighbourhood(cell_m: f64) -> GridNeighbourhood {
    GridNeighbourhood::DistanceBand {
        threshold_m: 1.5 * cell_m,
    }
}

impl Places {
    /// Square grid places of `cell_m` metres, in the given order.
    pub fn grid(cell_m: u32, cells: Vec<(i64, i64)>) -> Places {
        let c = f64::from(cell_m);
        Places {
            ids: cells
                .iter()
                .map(|&(col, row)| BinId::Grid { cell_m, row, col }.name())
                .collect(),
            centres_m: cells
                .iter()
                .map(|&(col, row)| ((col as f64 + 0.5) * c, (row as f64 + 0.5) * c))
                .collect(),
            layout: Layout::Grid { cell_m, cells },
        }
    }

    /// Areas with their codes and RD polygons (centres: the centroids).
    pub fn areas(ids: Vec<String>, polygons: Vec<MultiPolygon<f64>>) -> Places {
        Places {
            ids,
            centres_m: centroids(&polygons),
            layout: Layout::Areas { polygons },
        }
    }

    /// Number of places.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no places.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Place polygons in RD metres: grid squares and H3 hexagons (vertices converted with `wgs84_to_rd`) as
    /// polygons, areas as their multipolygons.
    pub fn geometries(
        &self,
        wgs84_to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
    ) -> Result<Vec<Geometry<f64>>, PlacesError> {
        Ok(match &self.layout {
            Layout::Grid { cell_m, cells } => cells
                .iter()
                .filter_map(|&(col, row)| {
                    BinId::Grid {
                        cell_m: *cell_m,
                        row,
                        col,
                    }
                    .grid_polygon_m()
                })
                .map(Geometry::from)
                .collect(),
            Layout::H3 { cells } => cells
                .iter()
                .map(|&c| {
                    h3_cell_polygon_m(c, &wgs84_to_rd)
                        .map(Geometry::from)
                        .ok_or(PlacesError::H3Conversion(c))
                })
                .collect::<Result<_, _>>()?,
            Layout::Areas { polygons } => polygons.iter().cloned().map(Geometry::from).collect(),
        })
    }

    /// The ids and RD multipolygons of the places (cells: one polygon each), consuming the places (area polygons
    /// are moved, not copied).
    ///
    /// ```
    /// use brandpunt::analysis::places::Places;
    ///
    /// let (ids, polygons) = Places::grid(100, vec![(1, 2)]).into_polygons(|_, _| None).unwrap();
    /// assert_eq!(ids, ["c100_1_2"]);
    /// assert_eq!(polygons[0].0[0].exterior().0[0].x, 100.0);
    /// ```
    pub fn into_polygons(
        self,
        wgs84_to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
    ) -> Result<(Vec<String>, Vec<MultiPolygon<f64>>), PlacesError> {
        let polygons = match self.layout {
            Layout::Areas { polygons } => polygons,
            Layout::Grid { cell_m, cells } => cells
                .iter()
                .map(|&(col, row)| {
                    MultiPolygon(
                        BinId::Grid { cell_m, row, col }
                            .grid_polygon_m()
                            .into_iter()
                            .collect(),
                    )
                })
                .collect(),
            Layout::H3 { cells } => cells
                .iter()
                .map(|&c| {
                    h3_cell_polygon_m(c, &wgs84_to_rd)
                        .map(|p| MultiPolygon(vec![p]))
                        .ok_or(PlacesError::H3Conversion(c))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok((self.ids, polygons))
    }

    /// Surface area of each place in m2 (grid: cell size squared; H3 and areas: of the RD polygon).
    pub fn areas_m2(
        &self,
        wgs84_to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
    ) -> Result<Vec<f64>, PlacesError> {
        Ok(match &self.layout {
            Layout::Grid { cell_m, cells } => vec![f64::from(*cell_m).powi(2); cells.len()],
            _ => self
                .geometries(wgs84_to_rd)?
                .iter()
                .map(|g| g.unsigned_area())
                .collect(),
        })
    }

    /// Spatial weights between the places. Grid: queen/rook/distance by the fast grid rule, knn on the centres;
    /// H3: queen/rook = the 1-ring, knn/distance on the cell centres; areas: queen/rook contiguity (vertex
    /// snapping `snap_m`), knn/distance on the centroids.
    pub fn weights(&self, rule: WeightsRule, snap_m: f64) -> Result<SpatialWeights, PlacesError> {
        Ok(match (&self.layout, rule) {
            (Layout::Grid { cell_m, cells }, WeightsRule::Queen) => {
                regular_grid(cells, f64::from(*cell_m), GridNeighbourhood::Queen)?
            }
            (Layout::Grid { cell_m, cells }, WeightsRule::Rook) => {
                regular_grid(cells, f64::from(*cell_m), GridNeighbourhood::Rook)?
            }
            (Layout::Grid { cell_m, cells }, WeightsRule::Distance(m)) => regular_grid(
                cells,
                f64::from(*cell_m),
                GridNeighbourhood::DistanceBand { threshold_m: m },
            )?,
            (Layout::H3 { cells }, WeightsRule::Queen | WeightsRule::Rook) => h3_k_ring(cells, 1)?,
            (Layout::Areas { polygons }, _) => polygon_weights(polygons, rule, snap_m)?,
            _ => point_weights(&self.centres_m, rule)?,
        })
    }

    /// The weights of the hot spot analyses: queen for grid cells and areas ([`DEFAULT_SNAP_M`]), the 1-ring for
    /// H3 cells.
    pub fn default_weights(&self) -> Result<SpatialWeights, PlacesError> {
        self.weights(WeightsRule::Queen, DEFAULT_SNAP_M)
    }

    /// The dense cell -> place lookup of grid places (`None` for H3 and areas, or a bounding box of more than
    /// 4 x [`MAX_PLACES`] cells).
    pub fn grid_index(&self) -> Option<GridIndex> {
        match &self.layout {
            Layout::Grid { cell_m, cells } => GridIndex::new(f64::from(*cell_m), cells),
            _ => None,
        }
    }
}

/// Grid cell -> place lookup over the bounding box of the cells.
#[derive(Clone, Debug, PartialEq)]
pub struct GridIndex {
    pub cell_m: f64,
    pub col0: i64,
    pub row0: i64,
    pub ncols: i64,
    pub nrows: i64,
    /// Place of cell `(col0 + c, row0 + r)` at `r * ncols + c`, `u32::MAX` when none.
    pub slot: Vec<u32>,
}

impl GridIndex {
    /// The lookup of `cells` (place `k` is `cells[k]`) of `cell_m` metres; `None` for no cells or a bounding box
    /// of more than 4 x [`MAX_PLACES`] cells.
    ///
    /// ```
    /// use brandpunt::analysis::places::GridIndex;
    ///
    /// let g = GridIndex::new(100.0, &[(3, 4), (5, 4)]).unwrap();
    /// assert_eq!(g.place_at(550.0, 499.0), Some(1));
    /// assert_eq!(g.place_at(450.0, 450.0), None);
    /// ```
    pub fn new(cell_m: f64, cells: &[(i64, i64)]) -> Option<GridIndex> {
        let col0 = cells.iter().map(|c| c.0).min()?;
        let col1 = cells.iter().map(|c| c.0).max()?;
        let row0 = cells.iter().map(|c| c.1).min()?;
        let row1 = cells.iter().map(|c| c.1).max()?;
        let (ncols, nrows) = (col1 - col0 + 1, row1 - row0 + 1);
        if (ncols as u128) * (nrows as u128) > 4 * MAX_PLACES as u128 {
            return None;
        }
        let mut slot = vec![u32::MAX; (ncols * nrows) as usize];
        for (k, &(c, r)) in cells.iter().enumerate() {
            slot[((r - row0) * ncols + (c - col0)) as usize] = k as u32;
        }
        Some(GridIndex {
            cell_m,
            col0,
            row0,
            ncols,
            nrows,
            slot,
        })
    }

    /// The place whose cell contains RD point `(x_m, y_m)`.
    pub fn place_at(&self, x_m: f64, y_m: f64) -> Option<usize> {
        if !(x_m.is_finite() && y_m.is_finite()) {
            return None;
        }
        let c = (x_m / self.cell_m).floor() as i64 - self.col0;
        let r = (y_m / self.cell_m).floor() as i64 - self.row0;
        if c < 0 || r < 0 || c >= self.ncols || r >= self.nrows {
            return None;
        }
        let s = self.slot[(r * self.ncols + c) as usize];
        (s != u32::MAX).then_some(s as usize)
    }
}

/// Places and the events assigned to them.
#[derive(Clone, Debug, PartialEq)]
pub struct Binned {
    pub places: Places,
    /// For every input event (same order), its place, or `None` when it fell in none.
    pub event_place: Vec<Option<usize>>,
    /// Events in no place (non-finite coordinates, failed conversion).
    pub unassigned: usize,
}

impl Binned {
    /// Number of events per place.
    pub fn counts(&self) -> Vec<f64> {
        let mut v = vec![0.0; self.places.len()];
        for &p in self.event_place.iter().flatten() {
            v[p] += 1.0;
        }
        v
    }
}

/// Every cell of the bounding box of `occupied` cells, row by row (bottom row first), each row by column;
/// `None` without cells, [`PlacesError::TooManyGridCells`] for more than `max_cells`.
///
/// ```
/// use brandpunt::analysis::places::bounding_box_cells;
///
/// let cells = bounding_box_cells([(2, 7), (3, 8)].into_iter(), 100).unwrap().unwrap();
/// assert_eq!(cells, [(2, 7), (3, 7), (2, 8), (3, 8)]);
/// assert!(bounding_box_cells([(0, 0), (99, 99)].into_iter(), 100).is_err());
/// ```
pub fn bounding_box_cells(
    occupied: impl Iterator<Item = (i64, i64)> + Clone,
    max_cells: usize,
) -> Result<Option<Vec<(i64, i64)>>, PlacesError> {
    let (Some(c0), Some(c1), Some(r0), Some(r1)) = (
        occupied.clone().map(|k| k.0).min(),
        occupied.clone().map(|k| k.0).max(),
        occupied.clone().map(|k| k.1).min(),
        occupied.map(|k| k.1).max(),
    ) else {
        return Ok(None);
    };
    let n_cells = ((c1 - c0 + 1) as u128) * ((r1 - r0 + 1) as u128);
    if n_cells > max_cells as u128 {
        return Err(PlacesError::TooManyGridCells { cells: n_cells });
    }
    let mut cells = Vec::with_capacity(n_cells as usize);
    for row in r0..=r1 {
        for col in c0..=c1 {
            cells.push((col, row));
        }
    }
    Ok(Some(cells))
}

/// Square grid places of `cell_m` metres for `events` (see the module docs for `coverage`). A bounding box of no
/// located events is [`PlacesError::NoLocatedIncidents`].
pub fn grid_places(
    events: &[Event],
    cell_m: u32,
    coverage: Coverage,
) -> Result<Binned, PlacesError> {
    let bins = bin_grid(events, cell_m)?;
    let occupied: Vec<(i64, i64)> = bins
        .ids
        .iter()
        .filter_map(|id| match id {
            BinId::Grid { row, col, .. } => Some((*col, *row)),
            _ => None,
        })
        .collect();
    let cells = match coverage {
        Coverage::Occupied => occupied.clone(),
        Coverage::BoundingBox => bounding_box_cells(occupied.iter().copied(), MAX_PLACES)?
            .ok_or(PlacesError::NoLocatedIncidents)?,
    };
    let index: HashMap<(i64, i64), usize> =
        cells.iter().enumerate().map(|(i, &k)| (k, i)).collect();
    let event_place: Vec<Option<usize>> = bins
        .event_bin
        .iter()
        .map(|b| b.and_then(|b| index.get(&occupied[b]).copied()))
        .collect();
    let unassigned = event_place.iter().filter(|p| p.is_none()).count();
    Ok(Binned {
        places: Places::grid(cell_m, cells),
        event_place,
        unassigned,
    })
}

/// H3 places at `resolution` (7..=11) for `events` (see the module docs for `coverage`), with the caller's RD ->
/// WGS84 and WGS84 -> RD conversions.
///
/// ```
/// use brandpunt::analysis::places::{h3_places, Coverage, Layout};
/// use brandpunt::analysis::Event;
///
/// // A stand-in conversion for the example: 1 degree = 100 km around (5, 52).
/// let to_wgs = |x: f64, y: f64| Some((5.0 + x / 100_000.0, 52.0 + y / 100_000.0));
/// let to_rd = |lon: f64, lat: f64| Some(((lon - 5.0) * 100_000.0, (lat - 52.0) * 100_000.0));
/// let at = |x_m, y_m| Event { x_m, y_m, begin: None, end: None, weight: 1.0 };
/// let events = [at(0.0, 0.0), at(5.0, 5.0), at(f64::NAN, 0.0)];
/// let b = h3_places(&events, 9, Coverage::Occupied, to_wgs, to_rd).unwrap();
/// assert_eq!((b.places.len(), b.unassigned), (1, 1));
/// assert!(matches!(b.places.layout, Layout::H3 { .. }));
/// assert_eq!(b.counts(), [2.0]);
/// ```
pub fn h3_places(
    events: &[Event],
    resolution: u8,
    coverage: Coverage,
    rd_to_wgs84: impl Fn(f64, f64) -> Option<(f64, f64)>,
    wgs84_to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
) -> Result<Binned, PlacesError> {
    let bins = bin_h3(events, resolution, rd_to_wgs84, &wgs84_to_rd)?;
    let mut cells: Vec<CellIndex> = bins
        .ids
        .iter()
        .filter_map(|id| match id {
            BinId::H3(c) => Some(*c),
            _ => None,
        })
        .collect();
    let mut centres_m = bins.centres_m.clone();
    if coverage == Coverage::BoundingBox {
        let pts = events
            .iter()
            .map(|e| (e.x_m, e.y_m))
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in pts {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let inside = |(x, y): (f64, f64)| x >= x0 && x <= x1 && y >= y0 && y <= y1;
        let mut seen: HashSet<CellIndex> = cells.iter().copied().collect();
        let mut queue: VecDeque<CellIndex> = cells.iter().copied().collect();
        while let Some(c) = queue.pop_front() {
            for n in c.grid_disk::<Vec<CellIndex>>(1) {
                if !seen.insert(n) {
                    continue;
                }
                let Some(centre) = h3_cell_centre_m(n, &wgs84_to_rd) else {
                    continue;
                };
                if inside(centre) {
                    if cells.len() >= MAX_PLACES {
                        return Err(PlacesError::TooManyH3Cells);
                    }
                    cells.push(n);
                    centres_m.push(centre);
                    queue.push_back(n);
                }
            }
        }
    }
    Ok(Binned {
        places: Places {
            ids: cells.iter().map(|c| c.to_string()).collect(),
            centres_m,
            layout: Layout::H3 { cells },
        },
        event_place: bins.event_bin,
        unassigned: bins.unassigned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    fn at(x_m: f64, y_m: f64) -> Event {
        Event {
            x_m,
            y_m,
            begin: None,
            end: None,
            weight: 1.0,
        }
    }

    // A linear stand-in for RD <-> WGS84 around (5, 52): 1 degree = 100 km.
    fn to_wgs(x: f64, y: f64) -> Option<(f64, f64)> {
        Some((5.0 + x / 100_000.0, 52.0 + y / 100_000.0))
    }
    fn to_rd(lon: f64, lat: f64) -> Option<(f64, f64)> {
        Some(((lon - 5.0) * 100_000.0, (lat - 52.0) * 100_000.0))
    }

    #[test]
    fn grid_places_are_occupied_cells_or_the_bounding_box() {
        let events = [at(50.0, 50.0), at(250.0, 150.0), at(f64::NAN, 0.0)];
        let occupied = grid_places(&events, 100, Coverage::Occupied).unwrap();
        assert_eq!(occupied.places.ids, ["c100_0_0", "c100_2_1"]);
        assert_eq!(occupied.places.centres_m, [(50.0, 50.0), (250.0, 150.0)]);
        assert_eq!(occupied.event_place, [Some(0), Some(1), None]);
        assert_eq!(occupied.unassigned, 1);
        let bbox = grid_places(&events, 100, Coverage::BoundingBox).unwrap();
        assert_eq!(bbox.places.len(), 6);
        assert_eq!(bbox.event_place, [Some(0), Some(5), None]);
        assert_eq!(bbox.counts(), [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(
            grid_places(&[at(f64::NAN, 0.0)], 100, Coverage::BoundingBox),
            Err(PlacesError::NoLocatedIncidents)
        );
        assert!(grid_places(&[], 100, Coverage::Occupied)
            .unwrap()
            .places
            .is_empty());
        let far = [at(0.0, 0.0), at(300_000.0, 300_000.0)];
        assert_eq!(
            grid_places(&far, 100, Coverage::BoundingBox),
            Err(PlacesError::TooManyGridCells { cells: 3001 * 3001 })
        );
    }

    #[test]
    fn grid_geometry_areas_and_weights() {
        let places = Places::grid(100, vec![(0, 0), (1, 0), (0, 1), (5, 5)]);
        assert_eq!(places.areas_m2(to_rd).unwrap(), [10_000.0; 4]);
        let g = places.geometries(to_rd).unwrap();
        assert!(matches!(g[3], Geometry::Polygon(_)));
        let queen = places.default_weights().unwrap();
        assert_eq!(queen.to_neighbour_lists()[0], [1, 2]);
        assert_eq!(queen.cardinality(3), 0);
        let rook = places.weights(WeightsRule::Rook, 0.0).unwrap();
        assert_eq!(rook.to_neighbour_lists()[1], [0]);
        let knn = places.weights(WeightsRule::Knn(1), 0.0).unwrap();
        assert_eq!(knn.cardinality(3), 1);
        let band = places.weights(WeightsRule::Distance(150.0), 0.0).unwrap();
        assert_eq!(band.to_neighbour_lists()[1], [0, 2]);
        let index = places.grid_index().unwrap();
        assert_eq!(index.place_at(550.0, 550.0), Some(3));
        assert_eq!(index.place_at(150.0, 150.0), None);
        let (ids, polys) = places.into_polygons(to_rd).unwrap();
        assert_eq!(ids[3], "c100_5_5");
        assert_eq!(polys[3].0.len(), 1);
    }

    #[test]
    fn h3_bounding_box_fills_between_occupied_cells() {
        let events = [at(0.0, 0.0), at(3_000.0, 3_000.0)];
        let occupied = h3_places(&events, 9, Coverage::Occupied, to_wgs, to_rd).unwrap();
        assert_eq!(occupied.places.len(), 2);
        let filled = h3_places(&events, 9, Coverage::BoundingBox, to_wgs, to_rd).unwrap();
        assert!(filled.places.len() > 10, "{}", filled.places.len());
        // The occupied cells come first, and the events keep their places.
        assert_eq!(filled.places.ids[..2], occupied.places.ids[..]);
        assert_eq!(filled.event_place, occupied.event_place);
        let n = filled.places.len();
        let w = filled.places.default_weights().unwrap();
        assert_eq!(w.n(), n);
        let areas = filled.places.areas_m2(to_rd).unwrap();
        assert!(
            areas.iter().all(|&a| a > 50_000.0 && a < 200_000.0),
            "{areas:?}"
        );
        assert_eq!(filled.places.grid_index(), None);
        let failing = filled.places.geometries(|_, _| None);
        assert!(matches!(failing, Err(PlacesError::H3Conversion(_))));
    }

    #[test]
    fn areas_are_weighted_by_contiguity_or_by_their_centroids() {
        let square = |x0: f64| {
            MultiPolygon(vec![polygon![
                (x: x0, y: 0.0), (x: x0 + 10.0, y: 0.0), (x: x0 + 10.0, y: 10.0), (x: x0, y: 10.0)
            ]])
        };
        let places = Places::areas(
            vec!["A".into(), "B".into(), "C".into()],
            vec![square(0.0), square(10.0), square(30.0)],
        );
        assert_eq!(places.centres_m[1], (15.0, 5.0));
        let queen = places.default_weights().unwrap();
        assert_eq!(queen.to_neighbour_lists(), [vec![1], vec![0], vec![]]);
        let knn = places.weights(WeightsRule::Knn(1), 0.0).unwrap();
        assert_eq!(knn.to_neighbour_lists()[2], [1]);
        assert_eq!(places.areas_m2(to_rd).unwrap(), [100.0; 3]);
        assert!(matches!(
            places.weights(WeightsRule::Knn(3), 0.0),
            Err(PlacesError::TooFewPlacesForKnn { k: 3, places: 3 })
        ));
        assert_eq!(
            point_weights(&places.centres_m, WeightsRule::Queen),
            Err(PlacesError::ContiguityOfPoints)
        );
        let (ids, polygons) = places.into_polygons(to_rd).unwrap();
        assert_eq!((ids.len(), polygons[2].clone()), (3, square(30.0)));
    }

    #[test]
    fn emerging_neighbours_are_the_eight_surrounding_cells() {
        let cells: Vec<(i64, i64)> = (0..3).flat_map(|r| (0..3).map(move |c| (c, r))).collect();
        let w = regular_grid(&cells, 100.0, emerging_grid_neighbourhood(100.0)).unwrap();
        assert_eq!(w.cardinality(4), 8);
    }
}
