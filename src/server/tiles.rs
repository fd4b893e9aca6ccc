//! Tile endpoints: `GET /tiles/{layer}/{z}/{x}/{y}.mvt` (+ the common filters) and TileJSON 3.0 at
//! `GET /tiles/{layer}.json`. Layer definitions (ids, zooms, fields) live in `tiles/layers.json`.
//!
//! Every tile is computed once per (snapshot generation, layer, tile, filter), gzipped and cached; the ETag is
//! derived from the same key, so `If-None-Match` answers 304 without any work and a data change (new generation)
//! changes every ETag. Empty tiles are 204.
//!
//! Access ([`crate::access`]):
//! - `incidents` (address-level: points from z15, counts per cell below) only for analysts and admins, and only
//!   the categories granted to them, intersected with the request's `category` filter
//!   ([`super::incidents::address_filter`]); 403 for everyone else (also for its TileJSON). The cache key holds
//!   the narrowed filter, so callers with different grants never share a tile. Every tile served counts the
//!   incidents it shows into the audit log ([`super::access_log`], one record per actor, endpoint and filter
//!   per minute).
//! - `hotspots`, `emerging`, `kde`: within the viewer limits for callers without address-level rights
//!   ([`super::hotspots`]), 403 deeper than [`crate::access::VIEWER_MAX_SURFACE_ZOOM`]; TileJSON advertises
//!   that maximum zoom to them. The limited parameters and the principal's class are part of the cache key.
//! - area layers: for every caller of the tenant.

use super::error::ApiError;
use super::filter::Filter;
use super::security::ClientInfo;
use super::AppState;
use super::Caller;
use crate::access::{Principal, VIEWER_MAX_SURFACE_ZOOM};
use crate::area_level::AreaLevel;
use crate::cache::CacheEntry;
use crate::cancel::Cancel;
use crate::dataset::FilterKey;
use crate::dataset::Snapshot;
use crate::heap_size::HeapSize;
use crate::tiles::TileId;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

/// The layer definitions (`tiles/layers.json`).
pub const LAYERS_JSON: &str = include_str!("../../tiles/layers.json");

pub use crate::surfaces::layers::{TileAreas, INCIDENT_POINTS_MIN_ZOOM};

/// A computed tile: gzipped MVT bytes (empty = 204) and its ETag.
pub struct CachedTile {
    pub gzip: axum::body::Bytes,
    pub raw_len: usize,
    /// The ETag, ready to send (`"generation-hash"`: visible ASCII only).
    pub etag: HeaderValue,
    /// Incidents shown (`incidents` layer: points, or the summed cell counts), for the audit log; 0 otherwise.
    pub incidents: i64,
}

/// The audit endpoint name of the `incidents` tiles.
pub const INCIDENT_TILES_ENDPOINT: &str = "GET /tiles/incidents/{z}/{x}/{y}.mvt";

/// Surface layers whose parameters depend on the caller ([`super::hotspots`]).
const SURFACE_LAYERS: [&str; 3] = ["hotspots", "emerging", "kde"];

/// The layers `principal` may use: without address-level rights no `incidents` layer.
pub fn layer_names_for(principal: &Principal) -> Vec<String> {
    let address_level = principal.address_level_scope(&principal.tenant, &[], &[])
        != crate::access::CategoryScope::Denied;
    layer_names()
        .into_iter()
        .filter(|l| address_level || l != "incidents")
        .collect()
}

/// Cache key of a vector tile.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VectorTileKey {
    pub generation: u64,
    pub layer: String,
    pub tile: TileId,
    pub filter: FilterKey,
    /// A surface layer within the viewer limits.
    pub limited_surface: bool,
    /// Counts protected (viewers, anonymous callers).
    pub protect: bool,
}

impl HeapSize for VectorTileKey {
    fn heap_bytes(&self) -> usize {
        self.layer.heap_bytes() + self.filter.heap_bytes()
    }
}

impl CacheEntry for VectorTileKey {
    type Value = Arc<CachedTile>;
    const KIND: &'static str = "vector_tile";
}

impl HeapSize for CachedTile {
    fn heap_bytes(&self) -> usize {
        self.gzip.heap_bytes() + self.etag.len()
    }
}

/// Cache key of the clipped area geometry of one level in one tile.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TileGeometryKey {
    pub generation: u64,
    pub level: AreaLevel,
    pub tile: TileId,
}

impl HeapSize for TileGeometryKey {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl CacheEntry for TileGeometryKey {
    type Value = Arc<TileAreas>;
    const KIND: &'static str = "tile_geometry";
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/tiles/{name}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{file}", get(tile))
}

/// The vector layers, in the order of their definitions in `tiles/layers.json` (a test checks that the two
/// agree). A constant: the tile handler checks the layer of every request against it.
pub const LAYER_NAMES: [&str; 8] = [
    "gemeenten",
    "wijken",
    "buurten",
    "areas",
    "incidents",
    "hotspots",
    "emerging",
    "kde",
];

/// Names of the vector layers ([`LAYER_NAMES`]).
pub fn layer_names() -> Vec<String> {
    LAYER_NAMES.iter().map(|l| l.to_string()).collect()
}

fn layer_defs() -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(LAYERS_JSON)
        .ok()
        .and_then(|v| v.get("layers").and_then(|l| l.as_array()).cloned())
        .unwrap_or_default()
}

async fn tilejson(
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    client: ClientInfo,
) -> Result<Response, ApiError> {
    let layer = name
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::NotFound(format!("onbekende tegel-URL '{name}'")))?;
    let def = layer_defs()
        .into_iter()
        .find(|l| l.get("id").and_then(|v| v.as_str()) == Some(layer))
        .ok_or_else(|| ApiError::NotFound(format!("onbekende laag '{layer}'")))?;
    if !layer_names_for(&caller.principal)
        .iter()
        .any(|l| l == layer)
    {
        return Err(ApiError::Forbidden("geen toegang tot deze laag".into()));
    }
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?;
    let qs = filter.query_string();
    let maxzoom = match def.get("maxzoom").and_then(|v| v.as_u64()) {
        Some(z) if SURFACE_LAYERS.contains(&layer) && !caller.principal.unrestricted_surfaces() => {
            serde_json::json!(z.min(u64::from(VIEWER_MAX_SURFACE_ZOOM)))
        }
        _ => def
            .get("maxzoom")
            .cloned()
            .unwrap_or(serde_json::Value::Null),
    };
    let url = format!(
        "{}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt{}",
        client.base_url(),
        if qs.is_empty() {
            String::new()
        } else {
            format!("?{qs}")
        }
    );
    let b = snapshot.bbox_wgs84();
    let body = serde_json::json!({
        "tilejson": "3.0.0",
        "name": layer,
        "description": def.get("description"),
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": def.get("minzoom"),
        "maxzoom": maxzoom,
        "bounds": b,
        "center": [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, 12],
        "vector_layers": [{
            "id": layer,
            "description": def.get("description"),
            "minzoom": def.get("minzoom"),
            "maxzoom": maxzoom,
            "fields": def.get("fields"),
        }],
    });
    Ok(axum::Json(body).into_response())
}

fn parse_coord(name: &str, v: &str) -> Result<u32, ApiError> {
    v.parse::<u32>()
        .map_err(|_| ApiError::param(name, format!("'{v}' is geen tegelcoördinaat")))
}

/// `GET /tiles/{layer}/{z}/{x}/{y}.mvt`.
async fn tile(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((layer, z, x, file)): Path<(String, String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (y, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::NotFound(format!("onbekend tegelformaat '{file}'")))?;
    let tile = TileId::new(
        parse_coord("z", &z)?,
        parse_coord("x", &x)?,
        parse_coord("y", y)?,
    )
    .map_err(|e| ApiError::param("z", e.to_string()))?;
    if ext == "png" {
        return super::raster::png_tile(state, caller, layer, tile, params, headers).await;
    }
    if ext != "mvt" {
        return Err(ApiError::NotFound(format!(
            "laag '{layer}' heeft geen .{ext}-tegels"
        )));
    }
    if !LAYER_NAMES.contains(&layer.as_str()) {
        return Err(ApiError::NotFound(format!("onbekende laag '{layer}'")));
    }
    let snapshot = caller.snapshot.clone();
    let incidents_layer = layer == "incidents";
    let filter = if incidents_layer {
        match super::incidents::address_filter(&caller, &params)? {
            Some(f) => f,
            // No granted category in the data: nothing to show (and nothing shown).
            None => return Ok(StatusCode::NO_CONTENT.into_response()),
        }
    } else {
        Filter::parse(&params, &snapshot)?
    };
    let surface = SURFACE_LAYERS.contains(&layer.as_str());
    if surface {
        super::hotspots::check_surface_zoom(&caller.principal, tile.z)?;
    }
    // Surface tiles differ between limited and unrestricted callers: the class is part of the key.
    let class = if surface && !caller.principal.unrestricted_surfaces() {
        ";viewer"
    } else {
        ""
    };
    // Protected (viewer, anonymous) and exact tiles are different tiles: the protection is part of the key.
    let protect = caller.principal.sees_protected_counts();
    let key = VectorTileKey {
        generation: snapshot.generation,
        layer: layer.clone(),
        tile,
        filter: filter.cache_key(),
        limited_surface: !class.is_empty(),
        protect,
    };
    let cached = match state.caches.get(&key) {
        Some(c) => c,
        None => {
            let etag = tile_etag(
                snapshot.generation,
                &layer,
                tile,
                &format!("{}{class}|p={}", filter.key(), u8::from(protect)),
            );
            let (raw, incidents) = if surface {
                // The first tile of an analysis layer computes the analysis (tens of ms): off the async threads.
                let (st, snap, l, f, p) = (
                    state.clone(),
                    snapshot.clone(),
                    layer.clone(),
                    filter.clone(),
                    caller.principal.clone(),
                );
                let raw = state
                    .blocking
                    .run(move |cancel| render_vector_tile(&st, &snap, &l, tile, &f, &p, cancel))
                    .await?;
                (raw, 0)
            } else if incidents_layer {
                incident_tile(&snapshot, tile, &filter)?
            } else {
                let raw = render_vector_tile(
                    &state,
                    &snapshot,
                    &layer,
                    tile,
                    &filter,
                    &caller.principal,
                    &Cancel::never(),
                )?;
                (raw, 0)
            };
            let mut c = compress(etag, raw)?;
            c.incidents = incidents;
            let c = Arc::new(c);
            state.caches.insert(key, c.clone());
            c
        }
    };
    if incidents_layer {
        state.access_log.record(
            &caller.principal,
            INCIDENT_TILES_ENDPOINT,
            &filter.key(),
            cached.incidents,
        );
    }
    Ok(tile_response(
        &cached,
        &headers,
        "application/vnd.mapbox-vector-tile",
    ))
}

/// The ETag of a tile: the generation and a hash of the layer, the tile and the request's variant.
fn tile_etag(generation: u64, layer: &str, tile: TileId, variant: &str) -> String {
    format!(
        "\"{:x}-{:x}\"",
        generation,
        crate::dataset::feature_id(&format!("{layer}/{tile:?}/{variant}"))
    )
}

fn compress(etag: String, raw: Option<Vec<u8>>) -> Result<CachedTile, ApiError> {
    let etag = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    let Some(raw) = raw else {
        return Ok(CachedTile {
            gzip: Default::default(),
            raw_len: 0,
            etag,
            incidents: 0,
        });
    };
    Ok(CachedTile {
        gzip: crate::tiles::gzip::gzip(&raw)
            .map_err(ApiError::internal)?
            .into(),
        raw_len: raw.len(),
        etag,
        incidents: 0,
    })
}

/// 304 when the client has it, 204 when empty, else the bytes (gzip when accepted).
pub fn tile_response(
    tile: &CachedTile,
    headers: &HeaderMap,
    content_type: &'static str,
) -> Response {
    let etag_matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().as_bytes() == tile.etag.as_bytes() || t.trim() == "*")
        });
    // Room for these headers and the security headers added on the way out (no growth per request).
    let mut common = HeaderMap::with_capacity(16);
    common.insert(header::ETAG, tile.etag.clone());
    common.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0, must-revalidate"),
    );
    common.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    // The response takes `common` itself as its header map (the tuple form would copy it into a new map).
    let respond = |status: StatusCode, headers: HeaderMap, body: axum::body::Body| {
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    };
    if etag_matches {
        return respond(StatusCode::NOT_MODIFIED, common, Default::default());
    }
    if tile.raw_len == 0 {
        return respond(StatusCode::NO_CONTENT, common, Default::default());
    }
    common.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if gzip_ok {
        common.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        respond(StatusCode::OK, common, tile.gzip.clone().into())
    } else {
        let mut raw = Vec::with_capacity(tile.raw_len);
        let mut dec = flate2::write::GzDecoder::new(&mut raw);
        if dec
            .write_all(&tile.gzip)
            .and_then(|_| dec.finish())
            .is_err()
        {
            return ApiError::Internal("tile cache entry is not valid gzip".into()).into_response();
        }
        respond(StatusCode::OK, common, raw.into())
    }
}

/// Compute one vector tile (`None` = empty) for `principal`: small counts protected for viewers and anonymous
/// callers (see [`super::AppState::protected_table`]). The caller checks access first: this does not narrow the
/// `incidents` filter to the grant ([`super::incidents::address_filter`]) nor check zooms.
pub fn render_vector_tile(
    state: &AppState,
    snapshot: &Snapshot,
    layer: &str,
    tile: TileId,
    filter: &Filter,
    principal: &Principal,
    cancel: &Cancel,
) -> Result<Option<Vec<u8>>, ApiError> {
    let protect = principal.sees_protected_counts();
    let area = |level| area_tile(state, snapshot, level, layer, tile, filter, protect);
    match layer {
        "gemeenten" => area(AreaLevel::Gemeente),
        "wijken" => area(AreaLevel::Wijk),
        "buurten" => area(AreaLevel::Buurt),
        "areas" => area(AreaLevel::Custom),
        "incidents" => incident_tile(snapshot, tile, filter).map(|(raw, _)| raw),
        "hotspots" | "emerging" | "kde" => {
            super::hotspots::vector_tile(state, snapshot, layer, tile, filter, principal, cancel)
        }
        other => Err(ApiError::NotFound(format!("onbekende laag '{other}'"))),
    }
}

/// The clipped geometry of the areas of `level` in `tile` (cached per generation; filters only change
/// properties).
fn tile_areas(
    state: &AppState,
    snapshot: &Snapshot,
    level: AreaLevel,
    tile: TileId,
) -> Arc<TileAreas> {
    let key = TileGeometryKey {
        generation: snapshot.generation,
        level,
        tile,
    };
    if let Some(g) = state.caches.get(&key) {
        return g;
    }
    let g = Arc::new(crate::surfaces::layers::tile_areas(snapshot, level, tile));
    state.caches.insert(key, g.clone());
    g
}

/// One area layer tile with the protected (or exact) counts of the filter and of its previous period.
fn area_tile(
    state: &AppState,
    snapshot: &Snapshot,
    level: AreaLevel,
    name: &str,
    tile: TileId,
    filter: &Filter,
    protect: bool,
) -> Result<Option<Vec<u8>>, ApiError> {
    let geometry = tile_areas(state, snapshot, level, tile);
    if geometry.is_empty() {
        return Ok(None);
    }
    let table = state.protected_table(snapshot, filter, protect);
    let prev = filter
        .previous(snapshot)
        .map(|p| state.protected_table(snapshot, &p, protect));
    crate::surfaces::layers::area_tile(snapshot, name, tile, &geometry, &table, prev.as_deref())
        .map_err(ApiError::internal)
}

/// The `incidents` tile and the number of incidents it shows.
fn incident_tile(
    snapshot: &Snapshot,
    tile: TileId,
    filter: &Filter,
) -> Result<(Option<Vec<u8>>, i64), ApiError> {
    crate::surfaces::layers::incident_tile(snapshot, tile, filter).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_are_the_layers_defined_in_layers_json() {
        let defined: Vec<String> = layer_defs()
            .iter()
            .filter_map(|l| l.get("id").and_then(|v| v.as_str()).map(str::to_string))
            .collect();
        assert_eq!(defined, layer_names());
    }
}
