//! Hot spot analyses served on demand: the KDE surface, Gi* on bins and emerging hot spots on a grid, each
//! computed once per (snapshot generation, filter, parameters) and cached ([`crate::cache`]);
//! `GET /api/hotspots` (GeoJSON) and the vector tile layers `hotspots` (Gi* cells: `id`, `count`, `z`, `p`, `bin`), `emerging` (cells:
//! `id`, `category`, `label`, `trend_z`, `trend_p`) and `kde` (contour polygons: `level`, `density_per_km2`).
//!
//! Parameters (besides the common filters; invalid values are 400 naming the parameter):
//! - `method=kde|gistar|emerging` (`/api/hotspots` only, default `gistar`);
//! - KDE: `cell` (m, 10..=1000; default a 16th of the bandwidth in multiples of 25 m, at least 50 m, see
//!   [`crate::surfaces::kde::auto_cell_m`]), `bandwidth` (m, default the ArcGIS rule), `levels` (contours,
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
//! rule) raised to at least [`crate::access::VIEWER_MIN_BANDWIDTH_M`] ([`limit_bins`], [`KdeSettings::resolved`],
//! [`EmergingSettings::limited`]); tiles deeper than [`crate::access::VIEWER_MAX_SURFACE_ZOOM`] are 403
//! ([`check_surface_zoom`]). `/api/hotspots` reports the values used (`bandwidth_m`, `cell_m`, `bins`).
//!
//! The study area is the filter's (`area`, `bbox`, see [`super::filter`]); without one, `/api/hotspots` and
//! `/api/patrol` analyse the tenant's gemeenten (the incidents in its buurten,
//! [`crate::dataset::filter::StudyArea::gemeenten`]). `/api/hotspots` checks the grid and
//! KDE sizes on the study area's extent (else on the extent of the tenant's incidents) before any work ([`check_grid_size`],
//! [`check_kde_size`]). The map layers read the per-filter [`kde_field`], [`gistar_grid`] and [`emerging_grid`] tile
//! by tile (a tile computes its cells from the incidents near it).
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
use crate::analysis::grid::BinSpec;
use crate::cache::{CacheEntry, F64Key};
use crate::calendar::Step;
use crate::cancel::Cancel;
use crate::dataset::FilterKey;
use crate::dataset::Snapshot;
use crate::heap_size::HeapSize;
use crate::surfaces::emerging::{
    emerging_features, emerging_grid_tile, EmergingCells, EmergingGrid,
};
use crate::surfaces::gistar::{
    gistar_features, gistar_grid_tile, gistar_tile, GiStarCells, GiStarGrid,
};
use crate::surfaces::kde::{
    auto_cell_m, kde_tile_local, Contour, KdeField, KdeSurface, AUTO_CELL_MIN_M,
};
use crate::surfaces::SurfaceError;
use crate::tiles::TileId;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

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
    /// No `cell` given: [`KdeSettings::resolved`] sets the cell from the bandwidth
    /// ([`crate::surfaces::kde::auto_cell_m`]).
    pub auto_cell: bool,
    /// `None` = the ArcGIS default rule.
    pub bandwidth_m: Option<f64>,
    /// Number of contour levels.
    pub levels: usize,
}

impl KdeSettings {
    /// From `cell`, `bandwidth`, `levels`.
    pub fn parse(params: &HashMap<String, String>) -> Result<KdeSettings, ApiError> {
        let given = param_f64(params, "cell")?;
        let cell_m = given.unwrap_or(AUTO_CELL_MIN_M);
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
            auto_cell: given.is_none(),
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

    /// The settings the surface is computed with, for `principal` and the filter: within the limits of
    /// `principal` (see the module docs; unchanged for analysts and admins, otherwise the cell at least
    /// [`VIEWER_MIN_CELL_M`] and the bandwidth, the given one else the default rule's for this filter, at least
    /// [`VIEWER_MIN_BANDWIDTH_M`]), and without a given `cell` the automatic cell of that bandwidth
    /// ([`auto_cell_m`]; 50 m when the filter has no bandwidth).
    pub fn resolved(
        mut self,
        principal: &Principal,
        state: &AppState,
        snapshot: &Snapshot,
        filter: &Filter,
    ) -> KdeSettings {
        if !principal.unrestricted_surfaces() {
            self.cell_m = self.cell_m.max(VIEWER_MIN_CELL_M);
            let bandwidth = self
                .bandwidth_m
                .or_else(|| default_bandwidth(state, snapshot, filter));
            self.bandwidth_m = Some(bandwidth.unwrap_or(0.0).max(VIEWER_MIN_BANDWIDTH_M));
        }
        if self.auto_cell {
            let bandwidth = self
                .bandwidth_m
                .or_else(|| default_bandwidth(state, snapshot, filter));
            if let Some(b) = bandwidth {
                self.cell_m = self.cell_m.max(auto_cell_m(b));
            }
            self.auto_cell = false;
        }
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
    // Concurrent requests of one filter wait for the first one's result.
    let computed = state.caches.get_or_insert_with(key, || {
        Ok::<_, std::convert::Infallible>(crate::surfaces::kde::default_bandwidth_m(
            snapshot, filter,
        ))
    });
    match computed {
        Ok(b) => b,
        Err(never) => match never {},
    }
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
pub struct KdeFieldKey {
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
pub struct GiStarGridKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub cell_m: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmergingKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub cell_m: u32,
    pub step: Step,
    pub time_window: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmergingGridKey {
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
    KdeFieldKey => Option<Arc<KdeField>>, "kde_field";
    KdeContoursKey => Option<Arc<Vec<Contour>>>, "kde_contours";
    GiStarKey => Option<Arc<GiStarCells>>, "gistar";
    GiStarGridKey => Option<Arc<GiStarGrid>>, "gistar_grid";
    EmergingKey => Option<Arc<EmergingCells>>, "emerging";
    EmergingGridKey => Option<Arc<EmergingGrid>>, "emerging_grid";
}

impl From<SurfaceError> for ApiError {
    /// A parameter asking too much is a 400 naming it; anything else is internal.
    fn from(e: SurfaceError) -> ApiError {
        if e.is_cancelled() {
            return ApiError::Cancelled;
        }
        match e.parameter() {
            Some(parameter) => ApiError::param(parameter, e.to_string()),
            None => ApiError::internal(e),
        }
    }
}

/// The KDE surface for the filter (cached); `None` when there is nothing to estimate.
pub fn kde_surface(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    s: &KdeSettings,
    cancel: &Cancel,
) -> Result<Option<Arc<KdeSurface>>, ApiError> {
    let key = KdeSurfaceKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        kde: s.cache_key(),
    };
    state.caches.get_or_insert_with(key, || {
        let _turn = state.builds.enter(cancel)?;
        let surface = crate::surfaces::kde::kde_surface(snapshot, filter, s.cell_m, s.bandwidth_m)?;
        Ok(surface.map(Arc::new))
    })
}

/// The KDE field for the filter (cached): what the map layers compute their tiles and images from, window by
/// window; `None` when there is nothing to estimate.
pub fn kde_field(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    s: &KdeSettings,
    cancel: &Cancel,
) -> Result<Option<Arc<KdeField>>, ApiError> {
    let key = KdeFieldKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        kde: s.cache_key(),
    };
    state.caches.get_or_insert_with(key, || {
        let _turn = state.builds.enter(cancel)?;
        let field =
            crate::surfaces::kde::kde_field(snapshot, filter, s.cell_m, s.bandwidth_m, cancel)?;
        Ok(field.map(Arc::new))
    })
}

/// The KDE contour polygons (cached).
pub fn kde_contours(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    s: &KdeSettings,
    cancel: &Cancel,
) -> Result<Option<Arc<Vec<Contour>>>, ApiError> {
    let Some(surface) = kde_surface(state, snapshot, filter, s, cancel)? else {
        return Ok(None);
    };
    let key = KdeContoursKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        kde: s.cache_key(),
        levels: s.levels,
    };
    state.caches.get_or_insert_with(key, || {
        cancel.check()?;
        let contours = crate::surfaces::kde::kde_contours(&surface, s.levels)?;
        Ok(Some(Arc::new(contours)))
    })
}

/// Gi* on a grid of `cell_m` for the filter, cell by cell (cached): what the map layers read their tiles and
/// images from; `None` when there is nothing to analyse.
pub fn gistar_grid(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    cell_m: u32,
    cancel: &Cancel,
) -> Result<Option<Arc<GiStarGrid>>, ApiError> {
    let key = GiStarGridKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        cell_m,
    };
    state.caches.get_or_insert_with(key, || {
        let _turn = state.builds.enter(cancel)?;
        let grid = crate::surfaces::gistar::gistar_grid(snapshot, filter, cell_m, cancel)?;
        Ok(grid.map(Arc::new))
    })
}

/// Gi* on `bins` for the filter (cached); `None` when there is nothing to analyse.
pub fn gistar_cells(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    bins: BinSpec,
    cancel: &Cancel,
) -> Result<Option<Arc<GiStarCells>>, ApiError> {
    let key = GiStarKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        bins,
    };
    state.caches.get_or_insert_with(key, || {
        let _turn = state.builds.enter(cancel)?;
        let area_counts = |level| state.counts(snapshot, level, filter);
        let gi =
            crate::surfaces::gistar::gistar_cells(snapshot, filter, bins, area_counts, cancel)?;
        Ok(gi.map(Arc::new))
    })
}

/// Emerging hot spots for the filter (cached); `None` when there is nothing to analyse.
pub fn emerging_cells(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    s: &EmergingSettings,
    cancel: &Cancel,
) -> Result<Option<Arc<EmergingCells>>, ApiError> {
    let key = EmergingKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        cell_m: s.cell_m,
        step: s.step,
        time_window: s.time_window,
    };
    state.caches.get_or_insert_with(key, || {
        let _turn = state.builds.enter(cancel)?;
        let em = crate::surfaces::emerging::emerging_cells(
            snapshot,
            filter,
            s.cell_m,
            s.step,
            s.time_window,
            cancel,
        )?;
        Ok(em.map(Arc::new))
    })
}

/// Emerging hot spots on a grid for the filter, cell by cell (cached): what the `emerging` vector layer reads
/// its tiles from; `None` when there is nothing to analyse.
pub fn emerging_grid(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    s: &EmergingSettings,
    cancel: &Cancel,
) -> Result<Option<Arc<EmergingGrid>>, ApiError> {
    let key = EmergingGridKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        cell_m: s.cell_m,
        step: s.step,
        time_window: s.time_window,
    };
    state.caches.get_or_insert_with(key, || {
        let _turn = state.builds.enter(cancel)?;
        let grid = crate::surfaces::emerging::emerging_grid(
            snapshot,
            filter,
            s.cell_m,
            s.step,
            s.time_window,
            cancel,
        )?;
        Ok(grid.map(Arc::new))
    })
}

/// The published count of one Gi* cell for the caller ([`crate::publish::bin_count`]): an area cell reads the
/// cached protected area table, so the hot spot layer agrees with the choropleth.
pub fn cell_count(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    protect: bool,
    id: &str,
    count: f64,
) -> (Option<f64>, Option<String>) {
    let k = protect.then(|| state.policy.k_for(&filter.category_codes));
    crate::publish::bin_count(snapshot, id, count, k, || {
        state.protected_table(snapshot, filter, true)
    })
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
    cancel: &Cancel,
) -> Result<Option<Vec<u8>>, ApiError> {
    let protect = principal.sees_protected_counts();
    let no_params = HashMap::new();
    let raw = match layer {
        "hotspots" => {
            let bins = limit_bins(parse_bins(&no_params)?, principal);
            if let BinSpec::Grid { cell_m } = bins {
                let Some(grid) = gistar_grid(state, snapshot, filter, cell_m, cancel)? else {
                    return Ok(None);
                };
                let window = crate::surfaces::tile_window_rd(tile)?;
                return Ok(gistar_grid_tile(&grid, tile, window, |id, count| {
                    cell_count(state, snapshot, filter, protect, id, count)
                })?);
            }
            let Some(gi) = gistar_cells(state, snapshot, filter, bins, cancel)? else {
                return Ok(None);
            };
            gistar_tile(&gi, tile, |id, count| {
                cell_count(state, snapshot, filter, protect, id, count)
            })?
        }
        "emerging" => {
            let s = EmergingSettings::parse(&no_params)?.limited(principal);
            let Some(grid) = emerging_grid(state, snapshot, filter, &s, cancel)? else {
                return Ok(None);
            };
            let window = crate::surfaces::tile_window_rd(tile)?;
            emerging_grid_tile(&grid, tile, window, cancel)?
        }
        "kde" => {
            let s = KdeSettings::parse(&no_params)?.resolved(principal, state, snapshot, filter);
            let Some(field) = kde_field(state, snapshot, filter, &s, cancel)? else {
                return Ok(None);
            };
            let window = crate::surfaces::tile_window_rd(tile)?;
            kde_tile_local(&field, s.levels, tile, window, cancel)?
        }
        other => return Err(ApiError::NotFound(format!("onbekende laag '{other}'"))),
    };
    Ok(raw)
}

/// 400 naming `bins` when a grid of `cell_m` over `extent` (RD) has more than
/// [`crate::analysis::places::MAX_PLACES`] cells, with the smallest cell size that fits.
pub fn check_grid_size(extent: geo_types::Rect<f64>, cell_m: u32) -> Result<(), ApiError> {
    let max = crate::analysis::places::MAX_PLACES as f64;
    let c = f64::from(cell_m.max(1));
    let cells = ((extent.width() / c).floor() + 2.0) * ((extent.height() / c).floor() + 2.0);
    if cells <= max {
        return Ok(());
    }
    let smallest = ((extent.width() * extent.height() / max).sqrt() * 1.01).ceil() as u64 + 1;
    Err(ApiError::param(
        "bins",
        format!(
            "grid:{cell_m} geeft ongeveer {cells:.0} cellen in het studiegebied; hoogstens {max:.0}: kies grid:{smallest} of groter, of een kleiner gebied (area, bbox)"
        ),
    ))
}

/// 400 naming `cell` when the KDE surface over `extent` (RD, padded by twice the bandwidth, 2 km without one)
/// has more than [`crate::surfaces::kde::MAX_KDE_CELLS`] cells, with the smallest cell size that fits.
pub fn check_kde_size(extent: geo_types::Rect<f64>, s: &KdeSettings) -> Result<(), ApiError> {
    let max = crate::surfaces::kde::MAX_KDE_CELLS;
    let pad = 2.0 * s.bandwidth_m.unwrap_or(2000.0);
    let area_m2 = (extent.width() + pad) * (extent.height() + pad);
    let cells = area_m2 / (s.cell_m * s.cell_m);
    if cells <= max {
        return Ok(());
    }
    let smallest = ((area_m2 / max).sqrt() * 1.01).ceil();
    Err(ApiError::param(
        "cell",
        format!(
            "cel {} m geeft ongeveer {cells:.0} rastercellen in het studiegebied; hoogstens {max:.0}: kies cell={smallest} of groter, of een kleiner gebied (area, bbox)",
            s.cell_m
        ),
    ))
}

/// `GET /api/hotspots?method=kde|gistar|emerging&...` (+ filters): GeoJSON FeatureCollection (WGS84).
async fn api_hotspots(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?.within_gemeenten_by_default(&snapshot);
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
    // The KDE settings as computed (viewer limits, automatic cell): the default bandwidth rule reads every
    // located incident of the filter once (then cached).
    let job = match job {
        Job::Kde(s) => {
            let (st, snap, f, p) = (
                state.clone(),
                snapshot.clone(),
                filter.clone(),
                principal.clone(),
            );
            let s = tokio::task::spawn_blocking(move || s.resolved(&p, &st, &snap, &f))
                .await
                .map_err(ApiError::internal)?;
            Job::Kde(s)
        }
        other => other,
    };
    // The size limits, on the study area's extent (else the extent of the tenant's incidents), before any work.
    if let Some(extent) = filter
        .study
        .as_ref()
        .map(|s| s.bbox_rd)
        .or_else(|| snapshot.incident_bounds_rd())
    {
        match &job {
            Job::Kde(s) => check_kde_size(extent, s)?,
            Job::Gi(BinSpec::Grid { cell_m }) => check_grid_size(extent, *cell_m)?,
            Job::Em(s) => check_grid_size(extent, s.cell_m)?,
            Job::Gi(_) => {}
        }
    }
    let turn = state.heavy.enter().await?;
    // What was found, kept by reference: the features are made one by one while the body is written.
    enum Found {
        Nothing,
        Contours(Arc<Vec<Contour>>),
        Gi(Arc<GiStarCells>),
        Em(Arc<EmergingCells>),
    }
    let (st, snap, filt) = (state.clone(), snapshot.clone(), filter.clone());
    let (head, found, turn) = state
        .blocking
        .run(move |cancel| {
            let (state, snapshot, filter) = (st, snap, filt);
            let mut head = serde_json::Map::new();
            head.insert("type".into(), serde_json::json!("FeatureCollection"));
            head.insert("method".into(), serde_json::json!(method));
            let found = match job {
                Job::Kde(s) => {
                    if let Some(surface) = kde_surface(&state, &snapshot, &filter, &s, cancel)? {
                        head.insert(
                            "bandwidth_m".into(),
                            serde_json::json!(surface.kde.bandwidth_m),
                        );
                        head.insert("cell_m".into(), serde_json::json!(s.cell_m));
                        head.insert(
                            "max_density_per_km2".into(),
                            serde_json::json!(surface.max_per_km2),
                        );
                    }
                    kde_contours(&state, &snapshot, &filter, &s, cancel)?
                        .map_or(Found::Nothing, Found::Contours)
                }
                Job::Gi(bins) => {
                    head.insert("bins".into(), serde_json::json!(bins.to_string()));
                    gistar_cells(&state, &snapshot, &filter, bins, cancel)?
                        .map_or(Found::Nothing, Found::Gi)
                }
                Job::Em(s) => {
                    head.insert(
                        "bins".into(),
                        serde_json::json!(format!("grid:{}", s.cell_m)),
                    );
                    let em = emerging_cells(&state, &snapshot, &filter, &s, cancel)?;
                    if let Some(em) = &em {
                        head.insert("steps".into(), serde_json::json!(em.result.n_steps));
                    }
                    em.map_or(Found::Nothing, Found::Em)
                }
            };
            Ok((head, found, turn))
        })
        .await?;
    // The body can be large (a national grid: hundreds of MB): written as it is made (`super::streaming`).
    Ok(super::streaming::streamed("application/json", move |w| {
        let _turn = turn;
        use super::streaming::write_feature_collection as write;
        match found {
            Found::Nothing => write(w, &head, || Ok(None)),
            Found::Contours(contours) => {
                let mut features = crate::surfaces::kde::contour_features(&contours)?.into_iter();
                write(w, &head, || Ok(features.next()))
            }
            Found::Gi(gi) => {
                let mut features = gistar_features(&gi, |id, count| {
                    cell_count(&state, &snapshot, &filter, protect, id, count)
                });
                write(w, &head, || Ok(features.next().transpose()?))
            }
            Found::Em(em) => {
                let mut features = emerging_features(&em);
                write(w, &head, || Ok(features.next().transpose()?))
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameter a size refusal names and the size it suggests after `suggests` (e.g. `kies cell=`).
    fn refusal(err: ApiError, suggests: &str) -> (String, String, f64) {
        let ApiError::BadRequest {
            parameter: Some(parameter),
            message,
        } = err
        else {
            panic!("{err:?}")
        };
        let size = message
            .split(suggests)
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        (parameter, message, size)
    }

    #[test]
    fn size_limits_name_the_parameter_and_the_largest_size_that_fits() {
        // The Netherlands: about 280 x 300 km.
        let country = geo_types::Rect::new((13_000.0, 306_000.0), (278_000.0, 620_000.0));
        let (parameter, message, smallest) =
            refusal(check_grid_size(country, 100).unwrap_err(), "kies grid:");
        assert_eq!(parameter, "bins");
        let smallest = smallest as u32;
        assert!(message.contains("hoogstens 4000000"), "{message}");
        check_grid_size(country, smallest).unwrap();
        assert!(check_grid_size(country, smallest - 5).is_err());
        // A gemeente of 20 x 20 km takes a grid of 25 m.
        check_grid_size(geo_types::Rect::new((0.0, 0.0), (20_000.0, 20_000.0)), 25).unwrap();

        let kde = KdeSettings {
            cell_m: 10.0,
            auto_cell: false,
            bandwidth_m: Some(300.0),
            levels: 5,
        };
        let (parameter, _, smallest) =
            refusal(check_kde_size(country, &kde).unwrap_err(), "kies cell=");
        assert_eq!(parameter, "cell");
        check_kde_size(
            country,
            &KdeSettings {
                cell_m: smallest,
                ..kde.clone()
            },
        )
        .unwrap();
        assert!(check_kde_size(
            country,
            &KdeSettings {
                cell_m: smallest - 1.0,
                ..kde
            }
        )
        .is_err());
    }
}
