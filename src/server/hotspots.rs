//! Hot spot analyses served on demand: the KDE surface, Gi* on bins and emerging hot spots on a grid, each
//! computed once per (snapshot generation, filter, parameters) and cached ([`super::caches`]);
//! `GET /api/hotspots` (GeoJSON) and the vector tile layers `hotspots` (Gi* cells: `id`, `count`, `z`, `p`, `bin`), `emerging` (cells:
//! `id`, `category`, `label`, `trend_z`, `trend_p`) and `kde` (contour polygons: `level`, `density_per_km2`).
//!
//! Parameters (besides the common filters; invalid values are 400 naming the parameter):
//! - `method=kde|gistar|emerging` (`/api/hotspots` only, default `gistar`);
//! - KDE: `cell` (m, 10..=1000, default 50), `bandwidth` (m, default the ArcGIS rule), `levels` (contours,
//!   1..=20, default 5; level `i` is the region with density >= `i / (levels + 1)` times the maximum);
//! - Gi*: `bins=grid:M|h3:R|buurt|wijk|gemeente` (default `grid:100`). A grid covers every cell of the bounding
//!   box of the incidents (empty cells count 0), H3 the occupied cells, areas all areas of the level (counted by
//!   buurtcode); weights: queen for grid cells and areas, the 1-ring for H3 ([`crate::analysis::places`], as
//!   `brandpunt analyse gistar`); FDR on;
//! - emerging: `bins=grid:M` (default `grid:100`), `step=week|month` (default week), `time_window` (default 1);
//!   neighbours within 1.5 cell sizes ([`crate::analysis::places::emerging_grid_neighbourhood`], as
//!   `brandpunt analyse emerging`).
//!
//! Callers without address-level rights (viewers, anonymous callers; [`Principal::unrestricted_surfaces`])
//! get coarser surfaces, so a surface never pins down a single address: grid cells and KDE cells below
//! [`crate::access::VIEWER_MIN_CELL_M`] are raised to it, H3 resolutions above
//! [`crate::access::VIEWER_MAX_H3_RESOLUTION`] lowered to it, the KDE bandwidth (given, or from the default
//! rule) raised to at least [`crate::access::VIEWER_MIN_BANDWIDTH_M`] ([`limit_bins`], [`KdeSettings::limited`],
//! [`EmergingSettings::limited`]); tiles deeper than [`crate::access::VIEWER_MAX_SURFACE_ZOOM`] are 403
//! ([`check_surface_zoom`]). `/api/hotspots` reports the values used (`bandwidth_m`, `cell_m`, `bins`).
//!
//! When the filter leaves too little to analyse (no incidents, all counts equal) the result is empty (an empty
//! FeatureCollection, an empty tile), not an error.

use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::access::{
    Principal, VIEWER_MAX_H3_RESOLUTION, VIEWER_MAX_SURFACE_ZOOM, VIEWER_MIN_BANDWIDTH_M,
    VIEWER_MIN_CELL_M,
};
use crate::analysis::emerging::{
    emerging_hot_spots, grid_cube_from_events, EmergingError, EmergingOptions, EmergingResult,
    TimeSteps,
};
use crate::analysis::gistar::{gi_star, GiStarError, GiStarOptions, GiStarResult};
use crate::analysis::grid::{AreaLevel, BinSpec};
use crate::analysis::kde::{map_surface, Kde, KdeError};
use crate::analysis::places::{
    emerging_grid_neighbourhood, grid_places, h3_places, Coverage, GridIndex, Places, PlacesError,
};
use crate::analysis::Event;
use crate::cache::{CacheEntry, F64Key};
use crate::calendar::Step;
use crate::dataset::FilterKey;
use crate::dataset::{feature_id, Level, Snapshot};
use crate::export::geojson;
use crate::heap_size::HeapSize;
use crate::render::contour::density_contours;
use crate::tiles::{encode_tile, LayerData, TileFeature, TileGeometry, TileId, Value};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use geo::BoundingRect;
use geo_types::{MultiPolygon, Rect};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest number of KDE raster cells.
pub const MAX_KDE_CELLS: f64 = 16_000_000.0;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/hotspots", get(api_hotspots))
}

fn param_f64(params: &HashMap<String, String>, name: &str) -> Result<Option<f64>, ApiError> {
    match params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| ApiError::param(name, format!("'{v}' is geen getal"))),
    }
}

/// KDE parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct KdeSettings {
    pub cell_m: f64,
    /// `None` = the ArcGIS default rule.
    pub bandwidth_m: Option<f64>,
    /// Number of contour levels.
    pub levels: usize,
}

impl KdeSettings {
    /// From `cell`, `bandwidth`, `levels`.
    pub fn parse(params: &HashMap<String, String>) -> Result<KdeSettings, ApiError> {
        let cell_m = param_f64(params, "cell")?.unwrap_or(50.0);
        if !(10.0..=1000.0).contains(&cell_m) {
            return Err(ApiError::param(
                "cell",
                format!("celgrootte {cell_m} m: kies 10 t/m 1000 meter"),
            ));
        }
        let bandwidth_m = param_f64(params, "bandwidth")?;
        if let Some(b) = bandwidth_m {
            if !(b > 0.0 && b <= 20_000.0) {
                return Err(ApiError::param(
                    "bandwidth",
                    format!("bandbreedte {b} m: kies meer dan 0 en hoogstens 20000 meter"),
                ));
            }
        }
        let levels = match params
            .get("levels")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            None => 5,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=20).contains(n))
                .ok_or_else(|| {
                    ApiError::param(
                        "levels",
                        format!("'{v}': kies een aantal niveaus van 1 t/m 20"),
                    )
                })?,
        };
        Ok(KdeSettings {
            cell_m,
            bandwidth_m,
            levels,
        })
    }

    /// The parameters that determine the surface, as a cache key.
    pub fn cache_key(&self) -> KdeKey {
        KdeKey {
            cell_m: self.cell_m.into(),
            bandwidth_m: self.bandwidth_m.map(F64Key::from),
        }
    }

    /// These settings within the limits of `principal` (see the module docs): unchanged for analysts and
    /// admins; otherwise the cell at least [`VIEWER_MIN_CELL_M`] and the bandwidth (the given one, else the
    /// default rule's for this filter) at least [`VIEWER_MIN_BANDWIDTH_M`].
    pub fn limited(
        mut self,
        principal: &Principal,
        state: &AppState,
        snapshot: &Snapshot,
        filter: &Filter,
    ) -> KdeSettings {
        if principal.unrestricted_surfaces() {
            return self;
        }
        self.cell_m = self.cell_m.max(VIEWER_MIN_CELL_M);
        let bandwidth = self
            .bandwidth_m
            .or_else(|| default_bandwidth(state, snapshot, filter));
        self.bandwidth_m = Some(bandwidth.unwrap_or(0.0).max(VIEWER_MIN_BANDWIDTH_M));
        self
    }
}

/// The default-rule KDE bandwidth of the filter's located incidents (cached per generation and filter);
/// `None` when there are none.
fn default_bandwidth(state: &AppState, snapshot: &Snapshot, filter: &Filter) -> Option<f64> {
    let key = KdeBandwidthKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
    };
    if let Some(b) = state.caches.get(&key) {
        return b;
    }
    let b = crate::analysis::kde::default_bandwidth_m(&located_events(snapshot, filter)).ok();
    state.caches.insert(key, b);
    b
}

/// `bins` within the limits of `principal`: unchanged for analysts and admins; otherwise grid cells at least
/// [`VIEWER_MIN_CELL_M`] and H3 resolutions at most [`VIEWER_MAX_H3_RESOLUTION`].
pub fn limit_bins(bins: BinSpec, principal: &Principal) -> BinSpec {
    if principal.unrestricted_surfaces() {
        return bins;
    }
    match bins {
        BinSpec::Grid { cell_m } => BinSpec::Grid {
            cell_m: cell_m.max(VIEWER_MIN_CELL_M as u32),
        },
        BinSpec::H3 { resolution } => BinSpec::H3 {
            resolution: resolution.min(VIEWER_MAX_H3_RESOLUTION),
        },
        other => other,
    }
}

/// 403 when `principal` may not see surfaces at tile zoom `z` ([`VIEWER_MAX_SURFACE_ZOOM`]).
pub fn check_surface_zoom(principal: &Principal, z: u8) -> Result<(), ApiError> {
    if principal.unrestricted_surfaces() || z <= VIEWER_MAX_SURFACE_ZOOM {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "dichtheid en hotspots zijn zonder analistenrechten beschikbaar tot zoomniveau {VIEWER_MAX_SURFACE_ZOOM}"
        )))
    }
}

/// Parses `bins` (default `grid:100`).
pub fn parse_bins(params: &HashMap<String, String>) -> Result<BinSpec, ApiError> {
    let raw = params
        .get("bins")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .unwrap_or("grid:100");
    raw.parse::<BinSpec>().map_err(|_| {
        ApiError::param(
            "bins",
            format!("'{raw}': kies grid:METERS, h3:RESOLUTIE (7 t/m 11), buurt, wijk of gemeente"),
        )
    })
}

/// Emerging hot spot parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct EmergingSettings {
    pub cell_m: u32,
    pub step: Step,
    pub time_window: usize,
}

impl EmergingSettings {
    /// From `bins` (grid only), `step`, `time_window`.
    pub fn parse(params: &HashMap<String, String>) -> Result<EmergingSettings, ApiError> {
        let BinSpec::Grid { cell_m } = parse_bins(params)? else {
            return Err(ApiError::param(
                "bins",
                "opkomende hotspots zijn er alleen op een raster (grid:METERS)",
            ));
        };
        let step = match params.get("step").map(|v| v.trim().to_ascii_lowercase()) {
            None => Step::Week,
            Some(s) if s.is_empty() || s == "week" => Step::Week,
            Some(s) if s == "month" || s == "maand" => Step::Month,
            Some(s) => {
                return Err(ApiError::param(
                    "step",
                    format!("'{s}': kies week of month"),
                ))
            }
        };
        let time_window = match params
            .get("time_window")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            None => 1,
            Some(v) => v.parse::<usize>().map_err(|_| {
                ApiError::param("time_window", format!("'{v}' is geen aantal stappen"))
            })?,
        };
        Ok(EmergingSettings {
            cell_m,
            step,
            time_window,
        })
    }

    /// These settings within the limits of `principal`: grid cells at least [`VIEWER_MIN_CELL_M`] for callers
    /// without address-level rights.
    pub fn limited(mut self, principal: &Principal) -> EmergingSettings {
        if !principal.unrestricted_surfaces() {
            self.cell_m = self.cell_m.max(VIEWER_MIN_CELL_M as u32);
        }
        self
    }
}

/// A cached KDE surface.
pub struct KdeSurface {
    pub kde: Kde<f32>,
    /// Largest density (per km2), > 0.
    pub max_per_km2: f64,
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
    /// The map geometry of `places` (H3 vertices converted with `wgs84_to_rd`).
    fn new(
        places: Places,
        wgs84_to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
    ) -> Result<MappedPlaces, ApiError> {
        let grid = places.grid_index();
        let (ids, polygons_rd) = places
            .into_polygons(wgs84_to_rd)
            .map_err(ApiError::internal)?;
        let polygons_m = polygons_rd
            .iter()
            .map(rd_to_mercator)
            .collect::<Result<Vec<_>, _>>()?;
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

/// Gi* on bins.
pub struct GiStarCells {
    pub bins: BinSpec,
    pub places: MappedPlaces,
    pub counts: Vec<f64>,
    pub result: GiStarResult,
}

/// Emerging hot spots on grid cells (only the occupied cells, in the cube's order).
pub struct EmergingCells {
    pub places: MappedPlaces,
    pub result: EmergingResult,
    pub steps: TimeSteps,
}

/// One KDE contour level.
pub struct Contour {
    /// 1 = lowest.
    pub level: usize,
    pub density_per_km2: f64,
    pub polygon_rd: MultiPolygon<f64>,
    pub polygon_m: MultiPolygon<f64>,
}

/// The KDE parameters that determine a surface, as a cache key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdeKey {
    pub cell_m: F64Key,
    /// `None` = the default rule.
    pub bandwidth_m: Option<F64Key>,
}

/// Cache keys of the analyses of this module: per snapshot generation, filter and parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdeBandwidthKey {
    pub generation: u64,
    pub filter: FilterKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdeSurfaceKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub kde: KdeKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdeContoursKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub kde: KdeKey,
    pub levels: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GiStarKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub bins: BinSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmergingKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub cell_m: u32,
    pub step: Step,
    pub time_window: usize,
}

/// The key types: their filter is all they own on the heap; their kind and value.
macro_rules! analysis_keys {
    ($($key:ty => $value:ty, $kind:literal;)*) => {
        $(
            impl HeapSize for $key {
                fn heap_bytes(&self) -> usize {
                    self.filter.heap_bytes()
                }
            }

            impl CacheEntry for $key {
                type Value = $value;
                const KIND: &'static str = $kind;
            }
        )*
    };
}

analysis_keys! {
    KdeBandwidthKey => Option<f64>, "kde_bandwidth";
    KdeSurfaceKey => Option<Arc<KdeSurface>>, "kde_surface";
    KdeContoursKey => Option<Arc<Vec<Contour>>>, "kde_contours";
    GiStarKey => Option<Arc<GiStarCells>>, "gistar";
    EmergingKey => Option<Arc<EmergingCells>>, "emerging";
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

impl HeapSize for GiStarCells {
    fn heap_bytes(&self) -> usize {
        self.places.heap_bytes() + self.counts.heap_bytes() + self.result.heap_bytes()
    }
}

impl HeapSize for EmergingCells {
    fn heap_bytes(&self) -> usize {
        self.places.heap_bytes() + self.result.heap_bytes() + self.steps.heap_bytes()
    }
}

/// The located incidents of the filter as unit-weight events (RD metres, begin/end).
pub fn located_events(snapshot: &Snapshot, filter: &Filter) -> Vec<Event> {
    snapshot
        .located_incidents(filter)
        .into_iter()
        .map(|k| {
            let i = &snapshot.incidents[k as usize];
            Event {
                x_m: i.x_m,
                y_m: i.y_m,
                begin: Some(i.begin()),
                end: Some(i.end()),
                weight: 1.0,
            }
        })
        .collect()
}

/// The KDE surface for the filter (cached); `None` when there is nothing to estimate.
pub fn kde_surface(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    s: &KdeSettings,
) -> Result<Option<Arc<KdeSurface>>, ApiError> {
    let key = KdeSurfaceKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        kde: s.cache_key(),
    };
    state.caches.get_or_insert_with(key, || {
        let events = located_events(snapshot, filter);
        match map_surface(&events, s.cell_m, s.bandwidth_m, MAX_KDE_CELLS) {
            Ok(surface) => Ok(surface.map(|m| {
                Arc::new(KdeSurface {
                    kde: m.kde,
                    max_per_km2: m.max_per_km2,
                })
            })),
            Err(KdeError::SurfaceTooLarge { cells, .. }) => Err(ApiError::param(
                "cell",
                format!("ongeveer {cells:.0} rastercellen; kies een grotere cel"),
            )),
            Err(e) => Err(ApiError::internal(e)),
        }
    })
}

/// The KDE contour polygons (cached).
pub fn kde_contours(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    s: &KdeSettings,
) -> Result<Option<Arc<Vec<Contour>>>, ApiError> {
    let Some(surface) = kde_surface(state, snapshot, filter, s)? else {
        return Ok(None);
    };
    let key = KdeContoursKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        kde: s.cache_key(),
        levels: s.levels,
    };
    state.caches.get_or_insert_with(key, || {
        let mut out = Vec::with_capacity(s.levels);
        for c in density_contours(&surface.kde.raster, surface.max_per_km2, s.levels) {
            out.push(Contour {
                level: c.level,
                density_per_km2: c.density_per_km2,
                polygon_m: rd_to_mercator(&c.polygon_rd)?,
                polygon_rd: c.polygon_rd,
            });
        }
        Ok(Some(Arc::new(out)))
    })
}

/// RD -> Web Mercator, vertex by vertex.
pub fn rd_to_mercator(mp: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, ApiError> {
    crate::coords::with_thread_transformer(|t| t.multipolygon_rd_to_web_mercator(mp))
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// RD -> WGS84 (lon, lat), vertex by vertex.
pub fn rd_to_wgs84(mp: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, ApiError> {
    crate::coords::with_thread_transformer(|t| t.multipolygon_rd_to_wgs84(mp))
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn gi_or_none(
    values: &[f64],
    w: &crate::analysis::weights::SpatialWeights,
) -> Result<Option<GiStarResult>, ApiError> {
    match gi_star(values, w, &GiStarOptions::default()) {
        Ok(r) => Ok(Some(r)),
        Err(GiStarError::TooFewLocations(_) | GiStarError::ConstantValues) => Ok(None),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Gi* on `bins` for the filter (cached); `None` when there is nothing to analyse.
pub fn gistar_cells(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    bins: BinSpec,
) -> Result<Option<Arc<GiStarCells>>, ApiError> {
    let key = GiStarKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        bins,
    };
    state.caches.get_or_insert_with(key, || {
        let (places, counts, weights) = match bins {
            BinSpec::Grid { cell_m } => {
                let events = located_events(snapshot, filter);
                let binned = match grid_places(&events, cell_m, Coverage::BoundingBox) {
                    Ok(b) => b,
                    Err(PlacesError::NoLocatedIncidents) => return Ok(None),
                    Err(PlacesError::TooManyGridCells { cells: n }) => {
                        return Err(ApiError::param(
                            "bins",
                            format!("{n} rastercellen in het gebied van de incidenten; kies een grotere cel"),
                        ))
                    }
                    Err(e) => return Err(ApiError::internal(e)),
                };
                let weights = binned.places.default_weights().map_err(ApiError::internal)?;
                let counts = binned.counts();
                (MappedPlaces::new(binned.places, |_, _| None)?, counts, weights)
            }
            BinSpec::H3 { resolution } => {
                let events = located_events(snapshot, filter);
                let t = crate::coords::Transformer::new().map_err(ApiError::internal)?;
                let to_rd = |lon, lat| t.wgs84_to_rd(lon, lat).ok();
                let binned = h3_places(
                    &events,
                    resolution,
                    Coverage::Occupied,
                    |x, y| t.rd_to_wgs84(x, y).ok(),
                    to_rd,
                )
                .map_err(ApiError::internal)?;
                if binned.places.len() < 3 {
                    return Ok(None);
                }
                let weights = binned.places.default_weights().map_err(ApiError::internal)?;
                let counts = binned.counts();
                (MappedPlaces::new(binned.places, to_rd)?, counts, weights)
            }
            BinSpec::Area(level) => {
                let level = match level {
                    AreaLevel::Buurt => Level::Buurt,
                    AreaLevel::Wijk => Level::Wijk,
                    AreaLevel::Gemeente => Level::Gemeente,
                };
                let all = state.counts(snapshot, level, filter);
                let idx = snapshot.level_areas(level);
                if idx.len() < 3 {
                    return Ok(None);
                }
                let counts: Vec<f64> = idx.iter().map(|&i| f64::from(all[i as usize])).collect();
                let places = Places::areas(
                    idx.iter().map(|&i| snapshot.area(i).code.clone()).collect(),
                    idx.iter()
                        .map(|&i| snapshot.area(i).geometry_rd.clone())
                        .collect(),
                );
                let weights = places.default_weights().map_err(ApiError::internal)?;
                (MappedPlaces::new(places, |_, _| None)?, counts, weights)
            }
        };
        let Some(result) = gi_or_none(&counts, &weights)? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(GiStarCells {
            bins,
            places,
            counts,
            result,
        })))
    })
}

/// Emerging hot spots for the filter (cached); `None` when there is nothing to analyse.
pub fn emerging_cells(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    s: &EmergingSettings,
) -> Result<Option<Arc<EmergingCells>>, ApiError> {
    let key = EmergingKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        cell_m: s.cell_m,
        step: s.step,
        time_window: s.time_window,
    };
    state.caches.get_or_insert_with(key, || {
        let (Some(start), Some(end)) = (
            filter.from.or(snapshot.first_day),
            filter.to.or(snapshot.last_day),
        ) else {
            return Ok(None);
        };
        let steps = match TimeSteps::new(s.step, start, end) {
            Ok(st) => st,
            Err(_) => return Ok(None),
        };
        let events = located_events(snapshot, filter);
        let c = f64::from(s.cell_m);
        let cube = grid_cube_from_events(&events, c, &steps).map_err(ApiError::internal)?;
        if cube.cells.len() < 3 {
            return Ok(None);
        }
        let weights = cube
            .weights(emerging_grid_neighbourhood(c))
            .map_err(ApiError::internal)?;
        let options = EmergingOptions {
            time_window: s.time_window,
            ..EmergingOptions::default()
        };
        let result = match emerging_hot_spots(&cube.cube, &weights, &options) {
            Ok(r) => r,
            Err(EmergingError::TimeWindowTooLarge { k, max, steps }) => {
                return Err(ApiError::param(
                    "time_window",
                    format!("{k}: hoogstens {max} bij {steps} stappen; kies een kleinere time_window of een langere periode"),
                ))
            }
            Err(EmergingError::NoIncidents) => return Ok(None),
            Err(e) => return Err(ApiError::internal(e)),
        };
        Ok(Some(Arc::new(EmergingCells {
            places: MappedPlaces::new(Places::grid(s.cell_m, cube.cells.clone()), |_, _| None)?,
            result,
            steps,
        })))
    })
}

/// The published count of one Gi* cell: `(count, label)`; `count` is `None` when withheld. Unprotected
/// callers get the exact count. Protected callers: a cell that is an area (area bins) reads the protected area
/// table (so the hot spot layer agrees with the choropleth); grid and H3 cells get primary suppression (counts
/// 1..k-1 withheld as "< k"; they stand in no published sum relation).
pub fn cell_count(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    protect: bool,
    id: &str,
    count: f64,
) -> (Option<f64>, Option<String>) {
    if !protect {
        return (Some(count), None);
    }
    if let Some(idx) = snapshot.area_index(id) {
        let t = state.protected_table(snapshot, filter, true);
        let i = idx as usize;
        return (t.published(i).map(|c| c as f64), t.label(i));
    }
    let k = state.policy.k_for(&filter.category_codes);
    // Counts of incidents are whole numbers.
    match crate::publish::small_count_label(count as u64, k) {
        Some(label) => (None, Some(label)),
        None => (Some(count), None),
    }
}

/// A vector tile of `hotspots`, `emerging` or `kde` with the default parameters (`None` = empty).
///
/// The settings are limited for `principal` (see the module docs); the caller checks the zoom.
pub fn vector_tile(
    state: &AppState,
    snapshot: &Snapshot,
    layer: &str,
    tile: TileId,
    filter: &Filter,
    principal: &Principal,
) -> Result<Option<Vec<u8>>, ApiError> {
    let protect = principal.sees_protected_counts();
    let bbox = tile.buffered_bounds_m(crate::tiles::BUFFER);
    let hits = |b: &Option<Rect<f64>>| {
        b.is_some_and(|b| {
            b.min().x <= bbox.max().x
                && b.max().x >= bbox.min().x
                && b.min().y <= bbox.max().y
                && b.max().y >= bbox.min().y
        })
    };
    let no_params = HashMap::new();
    match layer {
        "hotspots" => {
            let bins = limit_bins(parse_bins(&no_params)?, principal);
            let Some(gi) = gistar_cells(state, snapshot, filter, bins)? else {
                return Ok(None);
            };
            let features = (0..gi.places.ids.len())
                .filter(|&k| hits(&gi.places.bbox_m[k]))
                .map(|k| {
                    let id = gi.places.ids[k].as_str();
                    let mut properties = vec![("id", Value::from(id))];
                    let (count, label) =
                        cell_count(state, snapshot, filter, protect, id, gi.counts[k]);
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
            encode(tile, layer, features)
        }
        "emerging" => {
            let s = EmergingSettings::parse(&no_params)?.limited(principal);
            let Some(em) = emerging_cells(state, snapshot, filter, &s)? else {
                return Ok(None);
            };
            let features = em
                .result
                .locations
                .iter()
                .filter(|l| hits(&em.places.bbox_m[l.location]))
                .map(|l| TileFeature {
                    id: feature_id(&em.places.ids[l.location]),
                    geometry: TileGeometry::Polygons(&em.places.polygons_m[l.location]),
                    properties: vec![
                        ("id", Value::from(em.places.ids[l.location].as_str())),
                        ("category", Value::from(l.category.as_str())),
                        ("label", Value::from(l.category.dutch_label())),
                        ("trend_z", Value::Double(l.trend_z)),
                        ("trend_p", Value::Double(l.trend_p)),
                    ],
                })
                .collect();
            encode(tile, layer, features)
        }
        "kde" => {
            let s = KdeSettings::parse(&no_params)?.limited(principal, state, snapshot, filter);
            let Some(contours) = kde_contours(state, snapshot, filter, &s)? else {
                return Ok(None);
            };
            let features = contours
                .iter()
                .filter(|c| hits(&c.polygon_m.bounding_rect()))
                .map(|c| TileFeature {
                    id: c.level as u64,
                    geometry: TileGeometry::Polygons(&c.polygon_m),
                    properties: vec![
                        ("level", Value::Int(c.level as i64)),
                        ("density_per_km2", Value::Double(c.density_per_km2)),
                    ],
                })
                .collect();
            encode(tile, layer, features)
        }
        other => Err(ApiError::NotFound(format!("onbekende laag '{other}'"))),
    }
}

fn encode(
    tile: TileId,
    layer: &str,
    features: Vec<TileFeature<'_>>,
) -> Result<Option<Vec<u8>>, ApiError> {
    let data = LayerData {
        name: layer.to_string(),
        features,
    };
    encode_tile(tile, &[data]).map_err(ApiError::internal)
}

fn finite(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// `GET /api/hotspots?method=kde|gistar|emerging&...` (+ filters): GeoJSON FeatureCollection (WGS84).
async fn api_hotspots(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?;
    let protect = caller.principal.sees_protected_counts();
    let method = params
        .get("method")
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "gistar".into());
    // Validate everything before the (possibly slow) computation.
    enum Job {
        Kde(KdeSettings),
        Gi(BinSpec),
        Em(EmergingSettings),
    }
    let principal = &caller.principal;
    let job = match method.as_str() {
        "kde" => Job::Kde(KdeSettings::parse(&params)?),
        "gistar" | "gi" => Job::Gi(limit_bins(parse_bins(&params)?, principal)),
        "emerging" => Job::Em(EmergingSettings::parse(&params)?.limited(principal)),
        other => {
            return Err(ApiError::param(
                "method",
                format!("'{other}': kies kde, gistar of emerging"),
            ))
        }
    };
    let principal = caller.principal.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<serde_json::Value, ApiError> {
        let mut features = Vec::new();
        let mut extra = serde_json::Map::new();
        match job {
            Job::Kde(s) => {
                let s = s.limited(&principal, &state, &snapshot, &filter);
                if let Some(surface) = kde_surface(&state, &snapshot, &filter, &s)? {
                    extra.insert("bandwidth_m".into(), serde_json::json!(surface.kde.bandwidth_m));
                    extra.insert("cell_m".into(), serde_json::json!(s.cell_m));
                    extra.insert(
                        "max_density_per_km2".into(),
                        serde_json::json!(surface.max_per_km2),
                    );
                }
                if let Some(contours) = kde_contours(&state, &snapshot, &filter, &s)? {
                    for c in contours.iter().filter(|c| !c.polygon_rd.0.is_empty()) {
                        features.push(serde_json::json!({
                            "type": "Feature",
                            "id": c.level,
                            "geometry": geojson::multipolygon(&rd_to_wgs84(&c.polygon_rd)?),
                            "properties": {"level": c.level, "density_per_km2": c.density_per_km2},
                        }));
                    }
                }
            }
            Job::Gi(bins) => {
                extra.insert("bins".into(), serde_json::json!(bins.to_string()));
                if let Some(gi) = gistar_cells(&state, &snapshot, &filter, bins)? {
                    for k in 0..gi.places.ids.len() {
                        let (count, label) = cell_count(
                            &state,
                            &snapshot,
                            &filter,
                            protect,
                            &gi.places.ids[k],
                            gi.counts[k],
                        );
                        features.push(serde_json::json!({
                            "type": "Feature",
                            "id": gi.places.ids[k],
                            "geometry": geojson::multipolygon(&rd_to_wgs84(&gi.places.polygons_rd[k])?),
                            "properties": {
                                "id": gi.places.ids[k],
                                "count": count,
                                "count_label": label,
                                "suppressed": count.is_none(),
                                "z": finite(gi.result.z[k]),
                                "p": finite(gi.result.p[k]),
                                "bin": gi.result.bin[k],
                            },
                        }));
                    }
                }
            }
            Job::Em(s) => {
                extra.insert("bins".into(), serde_json::json!(format!("grid:{}", s.cell_m)));
                if let Some(em) = emerging_cells(&state, &snapshot, &filter, &s)? {
                    extra.insert("steps".into(), serde_json::json!(em.result.n_steps));
                    for l in &em.result.locations {
                        let id = &em.places.ids[l.location];
                        features.push(serde_json::json!({
                            "type": "Feature",
                            "id": id,
                            "geometry": geojson::multipolygon(&rd_to_wgs84(&em.places.polygons_rd[l.location])?),
                            "properties": {
                                "id": id,
                                "category": l.category.as_str(),
                                "label": l.category.dutch_label(),
                                "trend_z": finite(l.trend_z),
                                "trend_p": finite(l.trend_p),
                                "hot_steps": l.hot_steps,
                                "cold_steps": l.cold_steps,
                                "final_z": finite(l.final_z),
                            },
                        }));
                    }
                }
            }
        }
        let mut fc = serde_json::Map::new();
        fc.insert("type".into(), serde_json::json!("FeatureCollection"));
        fc.insert("method".into(), serde_json::json!(method));
        fc.extend(extra);
        fc.insert("features".into(), serde_json::Value::Array(features));
        Ok(serde_json::Value::Object(fc))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(axum::Json(body).into_response())
}
