//! Raster map images: XYZ PNG tiles `GET /tiles/{kde|hotspots|buurten}/{z}/{x}/{y}.png` (+ the common filters)
//! for the Power BI Azure Maps tile layer and Tableau `.tms`, and the renderer behind WMS GetMap ([`super::wms`]).
//!
//! Every image is drawn the same way whatever its CRS: the RD coordinates of a coarse lattice of pixel positions
//! (every 16 pixels) are computed with PROJ, every pixel centre is interpolated from them
//! ([`crate::render::interpolate_lattice`]) and the layer is sampled there:
//! - `kde`: the cells of the KDE surface under the image only, computed from the incidents near it (the cached
//!   [`super::hotspots::kde_field`]; `cell`, `bandwidth`), bilinear between cell centres, through the density ramp
//!   scaled to the whole surface's maximum (transparent below 2 % of it);
//! - `hotspots`: the colour of the Gi* bin of the cell containing the pixel (bin 0 transparent; `bins`): on a grid
//!   the cells under the image only, from the cached sparse statistics ([`super::hotspots::gistar_grid`]); H3 and
//!   area bins from the cached whole result ([`super::hotspots::gistar_cells`]);
//! - `buurten`: choropleth of `metric=count|rate` (rate per 1,000 inhabitants; buurten without inhabitants are
//!   left out) scaled to the largest value of all buurten. For viewers and anonymous callers the counts are the
//!   protected ones ([`super::AppState::protected_table`], the same as the tiles and the API): a withheld count
//!   (and the rate derived from it) is drawn in its own class, [`SUPPRESSED_COLOUR`] ("< k"), and the scale's
//!   maximum is taken over the published values only. Analysts and admins get exact counts, in the XYZ tiles and
//!   in WMS GetMap alike (the exact variant has its own layer key).
//!
//! Callers without address-level rights get the layers within the viewer limits ([`RasterLayer::resolved`]:
//! coarser KDE and Gi* cells, a wider KDE bandwidth) and no tiles deeper than
//! [`crate::access::VIEWER_MAX_SURFACE_ZOOM`] (403, for every raster layer); the cache key holds the limited
//! parameters, so a viewer never gets an analyst's finer tile from the cache.
//!
//! An XYZ tile is exactly the WMS GetMap image of the tile's EPSG:3857 bounding box at 256 x 256 pixels. Tiles
//! are cached ([`crate::cache`]) per (generation, layer, tile, filter, parameters); the ETag derives from the
//! same values, so `If-None-Match` answers 304 without rendering.

use super::error::ApiError;
use super::filter::Filter;
use super::hotspots::KdeKey;
use super::hotspots::{gistar_cells, gistar_grid, kde_field, parse_bins, KdeSettings};
use super::AppState;
use super::Caller;
use crate::analysis::grid::BinSpec;
use crate::area_level::AreaLevel;
use crate::cache::CacheEntry;
use crate::cancel::Cancel;
use crate::dataset::FilterKey;
use crate::dataset::{feature_id, Snapshot};
use crate::heap_size::HeapSize;
use crate::render::map::{choropleth_image, MapCrs, MapRequest};
use crate::render::ramp::gi_bin_colour;
use crate::render::{density_image, ColourRamp, Image, PolygonLocator, Rgba, TRANSPARENT};
use crate::tiles::TileId;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use geo_types::MultiPolygon;
use std::collections::HashMap;
use std::sync::Arc;

/// Names of the raster layers.
pub const RASTER_LAYERS: [&str; 3] = ["kde", "hotspots", "buurten"];

/// Pixels per side of an XYZ tile.
pub const TILE_PX: u32 = 256;

/// Choropleth measure of the `buurten` layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    Count,
    Rate,
}

/// A raster layer with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum RasterLayer {
    Kde(KdeSettings),
    Hotspots(BinSpec),
    /// The buurten choropleth with protected counts (the safe default: what [`RasterLayer::parse`] gives).
    Buurten(Metric),
    /// The buurten choropleth with exact counts (analysts, admins; see [`RasterLayer::exact`]).
    BuurtenExact(Metric),
}

/// The class colour of a withheld ("< k") buurt in the choropleth: neutral grey, outside the colour ramp.
pub const SUPPRESSED_COLOUR: Rgba = [128, 128, 128, 180];

impl RasterLayer {
    /// The layer `name` with its parameters from `params`; 404 for an unknown layer, 400 for a bad parameter.
    pub fn parse(name: &str, params: &HashMap<String, String>) -> Result<RasterLayer, ApiError> {
        match name {
            "kde" => Ok(RasterLayer::Kde(KdeSettings::parse(params)?)),
            "hotspots" => Ok(RasterLayer::Hotspots(parse_bins(params)?)),
            "buurten" => {
                let m = params
                    .get("metric")
                    .map(|m| m.trim().to_ascii_lowercase())
                    .unwrap_or_default();
                match m.as_str() {
                    "" | "count" => Ok(RasterLayer::Buurten(Metric::Count)),
                    "rate" => Ok(RasterLayer::Buurten(Metric::Rate)),
                    other => Err(ApiError::param(
                        "metric",
                        format!("'{other}': kies count of rate"),
                    )),
                }
            }
            other => Err(ApiError::NotFound(format!(
                "laag '{other}' heeft geen rastertegels (kies kde, hotspots of buurten)"
            ))),
        }
    }

    /// The layer as drawn for `principal` and the filter: within the viewer limits (see [`super::hotspots`];
    /// unchanged for analysts and admins) and with the KDE's automatic cell resolved
    /// ([`KdeSettings::resolved`]).
    pub fn resolved(
        self,
        principal: &crate::access::Principal,
        state: &AppState,
        snapshot: &Snapshot,
        filter: &Filter,
    ) -> RasterLayer {
        match self {
            RasterLayer::Kde(s) => RasterLayer::Kde(s.resolved(principal, state, snapshot, filter)),
            RasterLayer::Hotspots(b) => {
                RasterLayer::Hotspots(super::hotspots::limit_bins(b, principal))
            }
            other => other,
        }
    }

    /// The layer as a cache key.
    pub fn cache_key(&self) -> RasterLayerKey {
        match self {
            RasterLayer::Kde(s) => RasterLayerKey::Kde(s.cache_key()),
            RasterLayer::Hotspots(b) => RasterLayerKey::Hotspots(*b),
            RasterLayer::Buurten(m) => RasterLayerKey::Buurten(*m),
            RasterLayer::BuurtenExact(m) => RasterLayerKey::BuurtenExact(*m),
        }
    }

    /// Canonical text of the layer, for ETags.
    pub fn key(&self) -> String {
        match self {
            RasterLayer::Kde(s) => format!("kde;{};{:?}", s.cell_m, s.bandwidth_m),
            RasterLayer::Hotspots(b) => format!("hotspots;{b}"),
            RasterLayer::Buurten(m) => format!("buurten;{m:?}"),
            RasterLayer::BuurtenExact(m) => format!("buurten-exact;{m:?}"),
        }
    }

    /// The layer as callers who see exact counts get it (the buurten choropleth without protection).
    pub fn exact(self) -> RasterLayer {
        match self {
            RasterLayer::Buurten(m) => RasterLayer::BuurtenExact(m),
            other => other,
        }
    }
}

/// A raster layer with the parameters that determine its image, as a cache key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RasterLayerKey {
    Kde(KdeKey),
    Hotspots(BinSpec),
    Buurten(Metric),
    BuurtenExact(Metric),
}

/// Cache key of a PNG tile.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PngTileKey {
    pub generation: u64,
    /// The layer as drawn (limited parameters, protected or exact counts).
    pub layer: RasterLayerKey,
    pub tile: TileId,
    pub filter: FilterKey,
}

impl HeapSize for PngTileKey {
    fn heap_bytes(&self) -> usize {
        self.filter.heap_bytes()
    }
}

impl CacheEntry for PngTileKey {
    type Value = Arc<Vec<u8>>;
    const KIND: &'static str = "png_tile";
}

/// Cache key of the fully transparent PNG of a size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlankPngKey {
    pub width: u32,
    pub height: u32,
}

impl HeapSize for BlankPngKey {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl CacheEntry for BlankPngKey {
    type Value = Arc<Vec<u8>>;
    const KIND: &'static str = "blank_png";
}

/// RD coordinates of every pixel centre of `req` (row-major; NaN where the position is far outside the
/// Netherlands' projection domain).
pub fn pixel_coords_rd(req: &MapRequest) -> Result<Vec<(f64, f64)>, ApiError> {
    crate::coords::with_thread_transformer(|t| {
        req.pixels_rd(|pts| {
            let lon_lat = pts.to_vec();
            if t.wgs84_to_rd_in_place(pts).is_err() {
                for (p, (lon, lat)) in pts.iter_mut().zip(lon_lat) {
                    *p = t.wgs84_to_rd(lon, lat).unwrap_or((f64::NAN, f64::NAN));
                }
            }
        })
    })
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// Draws one layer of `req` for the filter.
pub fn render_layer(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    layer: &RasterLayer,
    req: &MapRequest,
    pixels_rd: &[(f64, f64)],
    cancel: &Cancel,
) -> Result<Image, ApiError> {
    let (w, h) = (req.width, req.height);
    let empty = || Image::transparent(w, h).map_err(ApiError::internal);
    match layer {
        RasterLayer::Kde(s) => {
            let Some(field) = kde_field(state, snapshot, filter, s, cancel)? else {
                return empty();
            };
            density_image(
                &field.sample(pixels_rd, cancel)?,
                w,
                h,
                field.max_per_km2,
                &ColourRamp::density(),
            )
            .map_err(ApiError::internal)
        }
        RasterLayer::Hotspots(BinSpec::Grid { cell_m }) => {
            let Some(grid) = gistar_grid(state, snapshot, filter, *cell_m, cancel)? else {
                return empty();
            };
            let px: Vec<Rgba> = pixels_rd
                .iter()
                .map(|&(x, y)| {
                    grid.cell_at(x, y)
                        .and_then(|k| grid.cell(k))
                        .map_or(TRANSPARENT, |c| gi_bin_colour(c.bin))
                })
                .collect();
            Image::from_pixels(w, h, &px).map_err(ApiError::internal)
        }
        RasterLayer::Hotspots(bins) => {
            let Some(gi) = gistar_cells(state, snapshot, filter, *bins, cancel)? else {
                return empty();
            };
            let places: Vec<Option<usize>> = match &gi.places.grid {
                Some(g) => pixels_rd.iter().map(|&(x, y)| g.place_at(x, y)).collect(),
                None => PolygonLocator::new(&gi.places.polygons_rd).locate_all(pixels_rd),
            };
            let px: Vec<Rgba> = places
                .into_iter()
                .map(|p| p.map_or(TRANSPARENT, |k| gi_bin_colour(gi.result.bin[k])))
                .collect();
            Image::from_pixels(w, h, &px).map_err(ApiError::internal)
        }
        RasterLayer::Buurten(metric) | RasterLayer::BuurtenExact(metric) => {
            let protect = matches!(layer, RasterLayer::Buurten(_));
            let table = state.protected_table(snapshot, filter, protect);
            // `Some(NaN)` marks a withheld count (its own class).
            let value = |idx: u32| -> Option<f64> {
                let Some(c) = table.published(idx as usize) else {
                    return Some(f64::NAN);
                };
                let c = c as f64;
                match metric {
                    Metric::Count => Some(c),
                    Metric::Rate => snapshot
                        .area(idx)
                        .inhabitants
                        .filter(|&i| i > 0)
                        .map(|i| c * 1000.0 / i as f64),
                }
            };
            let areas: Vec<(&MultiPolygon<f64>, Option<f64>)> = snapshot
                .level_areas(AreaLevel::Buurt)
                .iter()
                .map(|&i| (&snapshot.area(i).geometry_rd, value(i)))
                .collect();
            choropleth_image(
                &areas,
                pixels_rd,
                w,
                h,
                &ColourRamp::choropleth(),
                SUPPRESSED_COLOUR,
            )
            .map_err(ApiError::internal)
        }
    }
}

/// Draws `layers` (bottom first) over `background` and encodes the PNG.
pub fn render_map_png(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    layers: &[RasterLayer],
    req: &MapRequest,
    background: Option<Rgba>,
    cancel: &Cancel,
) -> Result<Vec<u8>, ApiError> {
    let pixels = pixel_coords_rd(req)?;
    let mut img = match background {
        Some(c) => Image::filled(req.width, req.height, c),
        None => Image::transparent(req.width, req.height),
    }
    .map_err(ApiError::internal)?;
    for (k, layer) in layers.iter().enumerate() {
        cancel.check()?;
        let top = render_layer(state, snapshot, filter, layer, req, &pixels, cancel)?;
        if k == 0 && background.is_none() {
            img = top;
        } else {
            img.composite_over(&top).map_err(ApiError::internal)?;
        }
    }
    if background.is_none() && img.is_fully_transparent() {
        return transparent_png(state, req.width, req.height);
    }
    img.to_png().map_err(ApiError::internal)
}

/// The fully transparent PNG of `width` x `height` (cached per size).
fn transparent_png(state: &AppState, width: u32, height: u32) -> Result<Vec<u8>, ApiError> {
    let png = state
        .caches
        .get_or_insert_with(BlankPngKey { width, height }, || {
            Image::transparent(width, height)
                .and_then(|i| i.to_png())
                .map(Arc::new)
                .map_err(ApiError::internal)
        })?;
    Ok(png.to_vec())
}

/// The 256 x 256 image of an XYZ tile.
pub fn render_tile_png(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    layer: &RasterLayer,
    tile: TileId,
    cancel: &Cancel,
) -> Result<Vec<u8>, ApiError> {
    let (minx, miny, maxx, maxy) = tile.bounds_m();
    let req = MapRequest {
        crs: MapCrs::WebMercator,
        bbox: [minx, miny, maxx, maxy],
        width: TILE_PX,
        height: TILE_PX,
    };
    render_map_png(
        state,
        snapshot,
        filter,
        std::slice::from_ref(layer),
        &req,
        None,
        cancel,
    )
}

/// A PNG answer with ETag and cache headers.
pub fn png_response(bytes: &[u8], etag: Option<&str>) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0, must-revalidate"),
    );
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert(header::ETAG, v);
    }
    (StatusCode::OK, h, bytes.to_vec()).into_response()
}

/// `GET /tiles/{layer}/{z}/{x}/{y}.png` (dispatched from [`super::tiles`]).
pub async fn png_tile(
    state: Arc<AppState>,
    caller: Caller,
    layer: String,
    tile: TileId,
    params: HashMap<String, String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut rl = RasterLayer::parse(&layer, &params)?;
    super::hotspots::check_surface_zoom(&caller.principal, tile.z)?;
    if !caller.principal.sees_protected_counts() {
        // A different layer key: protected and exact images never share a cache entry or ETag.
        rl = rl.exact();
    }
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?;
    let rl = if matches!(rl, RasterLayer::Kde(_)) {
        // The default bandwidth rule reads every located incident of the filter once (then cached).
        let (st, snap, f, p) = (
            state.clone(),
            snapshot.clone(),
            filter.clone(),
            caller.principal.clone(),
        );
        tokio::task::spawn_blocking(move || rl.resolved(&p, &st, &snap, &f))
            .await
            .map_err(ApiError::internal)?
    } else {
        rl.resolved(&caller.principal, &state, &snapshot, &filter)
    };
    let etag = format!(
        "\"{:x}-{:x}\"",
        snapshot.generation,
        feature_id(&format!("png/{tile:?}/{}|{}", filter.key(), rl.key()))
    );
    let key = PngTileKey {
        generation: snapshot.generation,
        layer: rl.cache_key(),
        tile,
        filter: filter.cache_key(),
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    let bytes = match state.caches.get(&key) {
        Some(b) => b,
        None => {
            let st = state.clone();
            let b = state
                .blocking
                .run(move |cancel| render_tile_png(&st, &snapshot, &filter, &rl, tile, cancel))
                .await?;
            let b = Arc::new(b);
            state.caches.insert(key, b.clone());
            b
        }
    };
    Ok(png_response(&bytes, Some(&etag)))
}
