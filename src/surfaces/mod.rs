//! The map surfaces of a dataset and filter: the KDE density surface and its contours ([`kde`]), Gi* on bins
//! ([`gistar`]) and emerging hot spots on a grid ([`emerging`]), each with its cell polygons ready for the maps
//! (RD metres, Web Mercator metres and Web Mercator bounding boxes, [`MappedPlaces`]) and its Mapbox Vector Tile
//! layer ([`kde::kde_tile`], [`gistar::gistar_tile`], [`emerging::emerging_tile`]).
//!
//! Contract: plain inputs (a [`Snapshot`], a [`Filter`], the method's parameters in RD metres), plain values out.
//! Nothing here caches, knows HTTP or knows callers: the server caches the values under typed keys, limits the
//! parameters per caller and applies the publishing policy to counts (passed into the tile builders as a
//! function). When the filter leaves too little to analyse (no located incidents, fewer than three places, all
//! counts equal) a surface is `Ok(None)`, not an error; a parameter that asks too much (too many cells, too long a
//! time window) is a [`SurfaceError`] that names the parameter ([`SurfaceError::parameter`]) with a Dutch message.
//!
//! ```
//! use brandpunt::analysis::grid::BinSpec;
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
//! use brandpunt::surfaces::{gistar::gistar_cells, located_events};
//!
//! let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! // A cluster of 20 incidents in one 100 m cell and 12 spread over the cells around it.
//! let points = (0..20).map(|_| (155_050.0, 463_050.0))
//!     .chain((0..12).map(|k| (154_850.0 + 100.0 * f64::from(k % 4), 462_850.0 + 100.0 * f64::from(k / 4))));
//! let incidents = points.enumerate().map(|(k, (x, y))| IncidentRecord {
//!     id: k as i64, source: "politie".into(), begin: at, end: at, category_code: Some("1.1.1".into()),
//!     x_m: Some(x), y_m: Some(y), buurtcode: None,
//! }).collect();
//! let data = TenantData { code: "demo".into(), name: "Demo".into(), areas: vec![], incidents };
//! let s = Snapshot::build(1, data).unwrap();
//! let all = Filter::all(&s);
//! assert_eq!(located_events(&s, &all).len(), 32);
//! let no_areas = |_| std::sync::Arc::new(Vec::new());
//! let never = brandpunt::cancel::Cancel::never();
//! let gi = gistar_cells(&s, &all, BinSpec::Grid { cell_m: 100 }, no_areas, &never).unwrap().unwrap();
//! assert_eq!(gi.counts.iter().sum::<f64>(), 32.0);
//! // The cluster's cell also holds one of the spread incidents.
//! let cluster = gi.counts.iter().position(|&c| c == 21.0).unwrap();
//! assert!(gi.result.z[cluster] > 0.0);
//! ```

pub mod cell_overview;
pub mod emerging;
pub mod gistar;
pub mod kde;
pub mod layers;

use crate::analysis::emerging::EmergingError;
use crate::analysis::gistar::GiStarError;
use crate::analysis::kde::KdeError;
use crate::analysis::places::{GridIndex, Layout, Places, PlacesError};
use crate::analysis::Event;
use crate::coords::CoordError;
use crate::dataset::{Filter, Snapshot};
use crate::heap_size::HeapSize;
use crate::tiles::{encode_tile, LayerData, TileError, TileFeature, TileId};
use geo::BoundingRect;
use geo_types::{LineString, MultiPolygon, Polygon, Rect};
use rayon::prelude::*;

/// Errors of the surfaces. The first three are the caller's parameters asking too much (Dutch messages, see
/// [`SurfaceError::parameter`]); the rest are failures of the methods or of coordinate transformation.
#[derive(Debug, thiserror::Error)]
pub enum SurfaceError {
    /// The KDE raster would have more than [`kde::MAX_KDE_CELLS`] cells (parameter `cell`).
    #[error("ongeveer {cells:.0} rastercellen; kies een grotere cel")]
    KdeTooManyCells { cells: f64 },
    /// The grid over the bounding box of the incidents would have too many cells (parameter `bins`).
    #[error("{cells} rastercellen in het gebied van de incidenten; kies een grotere cel")]
    TooManyGridCells { cells: u128 },
    /// The emerging hot spot time window is too long for the period (parameter `time_window`).
    #[error("{k}: hoogstens {max} bij {steps} stappen; kies een kleinere time_window of een langere periode")]
    TimeWindowTooLarge { k: usize, max: usize, steps: usize },
    #[error("places: {0}")]
    Places(#[from] PlacesError),
    #[error("KDE: {0}")]
    Kde(#[from] KdeError),
    #[error("KDE: {0}")]
    KdeLattice(#[from] crate::analysis::kde_lattice::LatticeError),
    #[error("Gi*: {0}")]
    GiStar(#[from] GiStarError),
    #[error("emerging hot spots: {0}")]
    Emerging(#[from] EmergingError),
    #[error("coordinate transformation: {0}")]
    Coords(#[from] CoordError),
    #[error("vector tile: {0}")]
    Tile(#[from] TileError),
    /// The computation was cancelled ([`crate::cancel::Cancel`]).
    #[error(transparent)]
    Cancelled(#[from] crate::cancel::Cancelled),
}

impl SurfaceError {
    /// Whether the computation was cancelled (here or in the analysis it called).
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            SurfaceError::Cancelled(_) | SurfaceError::Emerging(EmergingError::Cancelled(_))
        )
    }

    /// The request parameter a parameter error is about (`cell`, `bins`, `time_window`); `None` for failures.
    pub fn parameter(&self) -> Option<&'static str> {
        match self {
            SurfaceError::KdeTooManyCells { .. } => Some("cell"),
            SurfaceError::TooManyGridCells { .. } => Some("bins"),
            SurfaceError::TimeWindowTooLarge { .. } => Some("time_window"),
            _ => None,
        }
    }
}

/// The located incidents of the filter as unit-weight events (RD metres, begin/end of their window).
pub fn located_events(snapshot: &Snapshot, filter: &Filter) -> Vec<Event> {
    snapshot
        .located_incidents(filter)
        .into_iter()
        .map(|k| snapshot.incidents[k as usize].event())
        .collect()
}

/// Places ([`Places`]) as the maps draw them.
pub struct MappedPlaces {
    /// Output id: `c{cell}_{col}_{row}`, the H3 index or the CBS code.
    pub ids: Vec<String>,
    /// RD metres.
    pub polygons_rd: Vec<MultiPolygon<f64>>,
    /// Web Mercator metres.
    pub polygons_m: Vec<MultiPolygon<f64>>,
    /// Web Mercator bounding boxes.
    pub bbox_m: Vec<Option<Rect<f64>>>,
    /// Dense lookup for square grid cells.
    pub grid: Option<GridIndex>,
}

impl MappedPlaces {
    /// The map geometry of `places` (H3 vertices converted with `wgs84_to_rd`). The Web Mercator polygons are
    /// converted in parallel; a grid's cells share their corners, so each corner is converted once (the same
    /// positions as [`rd_to_mercator`] of each cell's polygon).
    pub fn new(
        places: Places,
        wgs84_to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
    ) -> Result<MappedPlaces, SurfaceError> {
        let grid = places.grid_index();
        let grid_polygons_m = match &places.layout {
            Layout::Grid { cell_m, cells } => Some(grid_cells_to_mercator(*cell_m, cells)?),
            _ => None,
        };
        let (ids, polygons_rd) = places.into_polygons(wgs84_to_rd)?;
        let polygons_m = match grid_polygons_m {
            Some(polygons) => polygons,
            None => polygons_rd
                .par_iter()
                .with_min_len(256)
                .map(rd_to_mercator)
                .collect::<Result<Vec<_>, _>>()?,
        };
        let bbox_m = polygons_m.iter().map(|p| p.bounding_rect()).collect();
        Ok(MappedPlaces {
            ids,
            polygons_rd,
            polygons_m,
            bbox_m,
            grid,
        })
    }
}

impl HeapSize for GridIndex {
    fn heap_bytes(&self) -> usize {
        self.slot.heap_bytes()
    }
}

impl HeapSize for MappedPlaces {
    fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes()
            + self.polygons_rd.heap_bytes()
            + self.polygons_m.heap_bytes()
            + self.bbox_m.heap_bytes()
            + self.grid.heap_bytes()
    }
}

/// Corners converted per unit of parallel work.
const CORNERS_PER_TASK: usize = 4096;

/// The Web Mercator polygons of the square grid cells `(col, row)` of `cell_m` metres, in order: each cell's
/// ring as [`crate::analysis::grid::BinId::grid_polygon_m`] draws it, with every distinct corner converted once
/// (in parallel). The corners are whole multiples of the cell size, so a corner shared by four cells has the
/// same RD position in each and the same converted position as [`rd_to_mercator`] gives it.
fn grid_cells_to_mercator(
    cell_m: u32,
    cells: &[(i64, i64)],
) -> Result<Vec<MultiPolygon<f64>>, SurfaceError> {
    const RING: [(i64, i64); 4] = [(0, 0), (1, 0), (1, 1), (0, 1)];
    // Every (corner, slot) with slot = 4 * cell + corner of the ring, sorted by corner: equal corners are a run.
    let mut slots: Vec<((i64, i64), usize)> = cells
        .iter()
        .enumerate()
        .flat_map(|(i, &(col, row))| {
            RING.iter()
                .enumerate()
                .map(move |(k, &(dc, dr))| ((col + dc, row + dr), 4 * i + k))
        })
        .collect();
    slots.par_sort_unstable();
    let c = f64::from(cell_m);
    let mut converted: Vec<(f64, f64)> = Vec::new();
    let mut corner_of_slot = vec![0usize; slots.len()];
    for (k, &(corner, slot)) in slots.iter().enumerate() {
        if k == 0 || slots[k - 1].0 != corner {
            converted.push((corner.0 as f64 * c, corner.1 as f64 * c));
        }
        corner_of_slot[slot] = converted.len() - 1;
    }
    drop(slots);
    converted
        .par_chunks_mut(CORNERS_PER_TASK)
        .try_for_each(|part| {
            crate::coords::with_thread_transformer(|t| t.rd_to_web_mercator_in_place(part))?
        })?;
    Ok(corner_of_slot
        .par_chunks(4)
        .with_min_len(1024)
        .map(|ring| {
            let at = |k: usize| {
                let (x, y) = converted[ring[k]];
                geo_types::Coord { x, y }
            };
            let closed = vec![at(0), at(1), at(2), at(3), at(0)];
            MultiPolygon(vec![Polygon::new(LineString(closed), vec![])])
        })
        .collect())
}

/// RD -> Web Mercator, vertex by vertex.
pub fn rd_to_mercator(mp: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, SurfaceError> {
    Ok(crate::coords::with_thread_transformer(|t| {
        t.multipolygon_rd_to_web_mercator(mp)
    })??)
}

/// A number of a GeoJSON property: `null` when not finite (JSON has no NaN or infinity).
pub fn json_number(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// One GeoJSON feature (WGS84) of a surface cell or contour: `id`, the RD geometry converted, `properties`.
fn geojson_feature(
    id: serde_json::Value,
    geometry_rd: &MultiPolygon<f64>,
    properties: serde_json::Value,
) -> Result<serde_json::Value, SurfaceError> {
    Ok(serde_json::json!({
        "type": "Feature",
        "id": id,
        "geometry": crate::export::geojson::multipolygon(&rd_to_wgs84(geometry_rd)?),
        "properties": properties,
    }))
}

/// RD -> WGS84 (lon, lat), vertex by vertex.
pub fn rd_to_wgs84(mp: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, SurfaceError> {
    Ok(crate::coords::with_thread_transformer(|t| {
        t.multipolygon_rd_to_wgs84(mp)
    })??)
}

/// The RD bounding box of `tile` with its clip buffer ([`crate::tiles::BUFFER`]): the box of its corners and
/// edge midpoints, grown by 1 % of its size for the curvature of the edges in RD; below zoom 6 a box around the
/// whole country and far beyond.
pub fn tile_window_rd(tile: TileId) -> Result<Rect<f64>, SurfaceError> {
    if tile.z < 6 {
        // Tiles of hundreds of kilometres and more hold the whole country.
        return Ok(Rect::new((-1e7, -1e7), (1e7, 1e7)));
    }
    let b = tile.buffered_bounds_m(crate::tiles::BUFFER);
    let (x0, y0, x1, y1) = (b.min().x, b.min().y, b.max().x, b.max().y);
    let (xm, ym) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let mut pts = [
        (x0, y0),
        (xm, y0),
        (x1, y0),
        (x0, ym),
        (x1, ym),
        (x0, y1),
        (xm, y1),
        (x1, y1),
    ];
    crate::coords::with_thread_transformer(|t| t.web_mercator_to_rd_in_place(&mut pts))??;
    let (mut minx, mut miny, mut maxx, mut maxy) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y) in pts {
        (minx, miny, maxx, maxy) = (minx.min(x), miny.min(y), maxx.max(x), maxy.max(y));
    }
    let grow = 0.01 * (maxx - minx).max(maxy - miny);
    Ok(Rect::new(
        (minx - grow, miny - grow),
        (maxx + grow, maxy + grow),
    ))
}

/// Whether a Web Mercator bounding box reaches into `tile` with its clip buffer.
fn reaches_tile(tile: TileId, b: &Option<Rect<f64>>) -> bool {
    let bbox = tile.buffered_bounds_m(crate::tiles::BUFFER);
    b.is_some_and(|b| {
        b.min().x <= bbox.max().x
            && b.max().x >= bbox.min().x
            && b.min().y <= bbox.max().y
            && b.max().y >= bbox.min().y
    })
}

/// One layer of features as a tile (`None` = empty).
fn encode_layer(
    tile: TileId,
    layer: &str,
    features: Vec<TileFeature<'_>>,
) -> Result<Option<Vec<u8>>, SurfaceError> {
    let data = LayerData {
        name: layer.to_string(),
        features,
    };
    Ok(encode_tile(tile, &[data])?)
}

#[cfg(test)]
pub(crate) mod fixture {
    use crate::area_level::AreaLevel;
    use crate::dataset::{IncidentRecord, Snapshot, TenantArea, TenantData};
    use chrono::NaiveDate;
    use geo_types::Rect;

    /// RD origin of the fixture (in Utrecht).
    pub const X0: f64 = 135_000.0;
    pub const Y0: f64 = 455_000.0;

    /// The tile of zoom `z` holding the fixture's point `(x, y)` (metres from its origin).
    pub fn tile_over(x: f64, y: f64, z: u8) -> crate::tiles::TileId {
        let (mx, my) = crate::coords::Transformer::new()
            .unwrap()
            .rd_to_web_mercator(X0 + x, Y0 + y)
            .unwrap();
        crate::tiles::TileId::containing(z, mx, my)
    }

    /// A gemeente of 3 x 3 buurten of 500 m; 40 incidents clustered near (725, 725) in the centre buurt and 20
    /// spread one per 100 m cell over the south-west buurt (days 1, 3, ..., 39 of 2024); the cluster on the
    /// days 21..=60.
    pub fn town() -> Snapshot {
        let mut areas = vec![TenantArea::new(
            AreaLevel::Gemeente,
            "GM9999",
            "Proefstad",
            Rect::new((X0, Y0), (X0 + 1500.0, Y0 + 1500.0))
                .to_polygon()
                .into(),
        )];
        for row in 0..3 {
            for col in 0..3 {
                let (x, y) = (X0 + 500.0 * f64::from(col), Y0 + 500.0 * f64::from(row));
                areas.push(TenantArea {
                    gemeentecode: Some("GM9999".into()),
                    ..TenantArea::new(
                        AreaLevel::Buurt,
                        &format!("BU9999000{}", row * 3 + col),
                        "buurt",
                        Rect::new((x, y), (x + 500.0, y + 500.0))
                            .to_polygon()
                            .into(),
                    )
                });
            }
        }
        let day = |d: u32| {
            NaiveDate::from_yo_opt(2024, d)
                .and_then(|d| d.and_hms_opt(12, 0, 0))
                .unwrap()
        };
        let mut incidents = Vec::new();
        let mut add = |x: f64, y: f64, d: u32| {
            let code = if x < 500.0 && y < 500.0 {
                "BU99990000"
            } else {
                "BU99990004"
            };
            incidents.push(IncidentRecord {
                id: incidents.len() as i64,
                source: "politie".into(),
                begin: day(d),
                end: day(d),
                category_code: Some("1.1.1".into()),
                x_m: Some(X0 + x),
                y_m: Some(Y0 + y),
                buurtcode: Some(code.into()),
            });
        };
        for k in 0..40u32 {
            add(
                700.0 + f64::from(k % 5) * 10.0,
                700.0 + f64::from(k / 5) * 5.0,
                21 + k,
            );
        }
        for k in 0..20u32 {
            add(
                50.0 + 100.0 * f64::from(k % 5),
                50.0 + 100.0 * f64::from(k / 5),
                1 + 2 * k,
            );
        }
        let data = TenantData {
            code: "demo".into(),
            name: "Demo".into(),
            areas,
            incidents,
        };
        Snapshot::build(1, data).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::places::Coverage;

    #[test]
    fn located_events_are_the_filters_located_incidents() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let events = located_events(&s, &all);
        assert_eq!(events.len(), 60);
        assert!(events.iter().all(|e| e.weight == 1.0 && e.begin == e.end));
        let early = Filter::new(
            &s,
            vec![],
            vec![],
            None,
            chrono::NaiveDate::from_yo_opt(2024, 20),
        );
        // Only the spread incidents of days 1, 3, ..., 19 begin by day 20.
        assert_eq!(located_events(&s, &early).len(), 10);
    }

    #[test]
    fn mapped_places_carry_rd_and_mercator_geometry() {
        let s = fixture::town();
        let events = located_events(&s, &Filter::all(&s));
        let binned =
            crate::analysis::places::grid_places(&events, 500, Coverage::BoundingBox).unwrap();
        let n = binned.places.len();
        let mapped = MappedPlaces::new(binned.places, |_, _| None).unwrap();
        assert_eq!(mapped.ids.len(), n);
        assert_eq!(mapped.polygons_m.len(), n);
        assert!(mapped.grid.is_some());
        // Utrecht lies near 5.1 E: Web Mercator x about 570 km.
        let b = mapped.bbox_m[0].unwrap();
        assert!((560_000.0..590_000.0).contains(&b.min().x), "{b:?}");
        assert!(mapped.heap_bytes() > 0);
        let wgs = rd_to_wgs84(&mapped.polygons_rd[0]).unwrap();
        let p = wgs.0[0].exterior().0[0];
        assert!(
            (5.0..5.3).contains(&p.x) && (52.0..52.2).contains(&p.y),
            "{p:?}"
        );
    }

    #[test]
    fn grid_cells_share_corners_and_convert_as_their_own_polygons() {
        // Adjacent, diagonal and lone cells (more than one unit of parallel work), some at negative positions.
        let mut cells: Vec<(i64, i64)> = (0..3000)
            .map(|k: i64| (1550 + k % 61 - (k % 7) * 3, 4630 + k / 61 - (k % 5)))
            .chain([(-3, -2), (1_200, 6_100), (1_201, 6_101)])
            .collect();
        cells.sort_unstable_by_key(|&(col, row)| (row, col));
        cells.dedup();
        let n = cells.len();
        let mapped = MappedPlaces::new(Places::grid(100, cells), |_, _| None).unwrap();
        assert_eq!(mapped.polygons_m.len(), n);
        for (rd, m) in mapped.polygons_rd.iter().zip(&mapped.polygons_m) {
            // Bit for bit what converting the cell's own polygon gives.
            assert_eq!(&rd_to_mercator(rd).unwrap(), m);
        }
    }

    #[test]
    fn parameter_errors_name_their_parameter() {
        assert_eq!(
            SurfaceError::KdeTooManyCells { cells: 2e7 }.parameter(),
            Some("cell")
        );
        assert_eq!(
            SurfaceError::TooManyGridCells { cells: 10 }.parameter(),
            Some("bins")
        );
        let e = SurfaceError::TimeWindowTooLarge {
            k: 9,
            max: 2,
            steps: 5,
        };
        assert_eq!(e.parameter(), Some("time_window"));
        assert_eq!(
            e.to_string(),
            "9: hoogstens 2 bij 5 stappen; kies een kleinere time_window of een langere periode"
        );
        assert_eq!(
            SurfaceError::Places(PlacesError::NoLocatedIncidents).parameter(),
            None
        );
    }
}
