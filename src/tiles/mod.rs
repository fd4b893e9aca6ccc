//! Mapbox Vector Tiles (MVT 2.1) for brandpunt's map layers: tile maths, clipping, per-zoom simplification,
//! winding and encoding. Pure: geometry in Web Mercator metres (EPSG:3857) and plain properties in, protobuf bytes
//! out; the HTTP layer (`server::tiles`) decides what goes into a tile and caches the result.
//!
//! The rules follow the MVT 2.1 specification (see `serving.md`):
//! - a tile covers [`TileId::bounds_m`] and has [`EXTENT`] units per side, origin top-left, y down;
//! - polygons are clipped to the tile plus [`BUFFER`] units on every side (so adjacent tiles overlap slightly and
//!   no seam is drawn), then snapped to the integer grid;
//! - exterior rings have positive area in tile coordinates (clockwise on screen), holes negative, every hole follows
//!   its exterior; rings that collapse on the grid (fewer than three distinct points or zero area) are dropped;
//! - every feature carries a stable `id` chosen by the caller (MapLibre `feature-state` relies on it);
//! - a tile without features is `None`, which the server answers with HTTP 204.
//!
//! Simplification happens before clipping, once per zoom level, with [`simplify_tolerance_m`]: a quarter of a
//! 256-pixel tile's pixel, so it never coarsens below what the screen can show.
//!
//! # Example
//! ```
//! use brandpunt::tiles::{encode_tile, LayerData, TileFeature, TileGeometry, TileId, Value};
//! use geo_types::{polygon, MultiPolygon};
//!
//! let tile = TileId::new(14, 8414, 5384).unwrap();
//! let (minx, miny, maxx, maxy) = tile.bounds_m();
//! let (cx, cy) = ((minx + maxx) / 2.0, (miny + maxy) / 2.0);
//! let square: MultiPolygon<f64> = polygon![
//!     (x: cx - 100.0, y: cy - 100.0), (x: cx + 100.0, y: cy - 100.0),
//!     (x: cx + 100.0, y: cy + 100.0), (x: cx - 100.0, y: cy + 100.0),
//! ].into();
//! let layer = LayerData {
//!     name: "buurten".into(),
//!     features: vec![TileFeature {
//!         id: 1,
//!         geometry: TileGeometry::Polygons(&square),
//!         properties: vec![("code", Value::from("BU00010001"))],
//!     }],
//! };
//! let bytes = encode_tile(tile, &[layer]).unwrap().expect("one feature");
//! assert!(!bytes.is_empty());
//! ```

mod clip;
pub mod gzip;

pub use clip::{clip_to_tile, ring_area2, tile_polygons, TileRing};

use geo_types::{MultiPolygon, Rect};

/// Units per tile side.
pub const EXTENT: u32 = 4096;
/// Clip buffer around a tile, in tile units (martin's default; PostGIS uses 256).
pub const BUFFER: u32 = 64;
/// Highest zoom level served.
pub const MAX_ZOOM: u8 = 22;
/// Half the Web Mercator world width in metres.
pub const WEB_MERCATOR_HALF_WORLD_M: f64 = 20_037_508.342_789_244;

/// Errors of tile addressing and encoding.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TileError {
    #[error("tile {z}/{x}/{y} does not exist (zoom 0..={max}, x and y below 2^zoom)", max = MAX_ZOOM)]
    OutOfRange { z: u32, x: u32, y: u32 },
    #[error("MVT encoding failed: {0}")]
    Encode(String),
}

/// One tile of the XYZ pyramid (Web Mercator, y down from the north).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// A tile, checked against the pyramid (`z <= MAX_ZOOM`, `x, y < 2^z`).
    pub fn new(z: u32, x: u32, y: u32) -> Result<Self, TileError> {
        if z > MAX_ZOOM as u32 {
            return Err(TileError::OutOfRange { z, x, y });
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(TileError::OutOfRange { z, x, y });
        }
        Ok(TileId { z: z as u8, x, y })
    }

    /// Side length of the tile in Web Mercator metres.
    pub fn size_m(&self) -> f64 {
        2.0 * WEB_MERCATOR_HALF_WORLD_M / (1u64 << self.z) as f64
    }

    /// `(minx, miny, maxx, maxy)` in Web Mercator metres.
    pub fn bounds_m(&self) -> (f64, f64, f64, f64) {
        let size = self.size_m();
        let minx = -WEB_MERCATOR_HALF_WORLD_M + self.x as f64 * size;
        let maxy = WEB_MERCATOR_HALF_WORLD_M - self.y as f64 * size;
        (minx, maxy - size, minx + size, maxy)
    }

    /// The tile's bounds grown by `buffer_units` tile units on each side, in Web Mercator metres.
    pub fn buffered_bounds_m(&self, buffer_units: u32) -> Rect<f64> {
        let (minx, miny, maxx, maxy) = self.bounds_m();
        let pad = self.size_m() * buffer_units as f64 / EXTENT as f64;
        Rect::new((minx - pad, miny - pad), (maxx + pad, maxy + pad))
    }

    /// Web Mercator metres to (fractional) tile units: origin top-left, y down, [`EXTENT`] per side.
    pub fn to_tile_units(&self, x_m: f64, y_m: f64) -> (f64, f64) {
        let (minx, _, _, maxy) = self.bounds_m();
        let scale = EXTENT as f64 / self.size_m();
        ((x_m - minx) * scale, (maxy - y_m) * scale)
    }

    /// The tile containing a Web Mercator point at zoom `z` (clamped to the pyramid).
    pub fn containing(z: u8, x_m: f64, y_m: f64) -> TileId {
        let n = (1u64 << z) as f64;
        let size = 2.0 * WEB_MERCATOR_HALF_WORLD_M / n;
        let tx = ((x_m + WEB_MERCATOR_HALF_WORLD_M) / size)
            .floor()
            .clamp(0.0, n - 1.0) as u32;
        let ty = ((WEB_MERCATOR_HALF_WORLD_M - y_m) / size)
            .floor()
            .clamp(0.0, n - 1.0) as u32;
        TileId { z, x: tx, y: ty }
    }
}

/// Douglas-Peucker tolerance for geometry drawn at zoom `z`, in Web Mercator metres: a quarter of a pixel of a
/// 256-pixel tile (16 tile units), so simplification is never visible.
pub fn simplify_tolerance_m(z: u8) -> f64 {
    2.0 * WEB_MERCATOR_HALF_WORLD_M / (1u64 << z) as f64 / 1024.0
}

/// A property value of a feature.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Double(f64),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

/// Geometry of one feature, in Web Mercator metres.
#[derive(Clone, Debug)]
pub enum TileGeometry<'a> {
    /// Already simplified for the tile's zoom (see [`simplify_tolerance_m`]); clipped here.
    Polygons(&'a MultiPolygon<f64>),
    /// Polygons already clipped and snapped for this tile by [`tile_polygons`] (lets a caller cache the geometry
    /// of a tile and re-encode it with other properties).
    Prepared(&'a [Vec<clip::TileRing>]),
    /// One point; dropped when it lies outside the tile (points are not buffered).
    Point(f64, f64),
}

/// One feature to encode.
#[derive(Clone, Debug)]
pub struct TileFeature<'a> {
    /// Stable identifier (the same area or cell has the same id in every tile and every request).
    pub id: u64,
    pub geometry: TileGeometry<'a>,
    pub properties: Vec<(&'static str, Value)>,
}

/// One named layer of a tile.
#[derive(Clone, Debug)]
pub struct LayerData<'a> {
    pub name: String,
    pub features: Vec<TileFeature<'a>>,
}

/// Encode layers into one MVT tile. Features whose geometry falls outside the (buffered) tile are left out; layers
/// left without features are omitted; `Ok(None)` when nothing remains (HTTP 204).
pub fn encode_tile(tile: TileId, layers: &[LayerData<'_>]) -> Result<Option<Vec<u8>>, TileError> {
    let enc = |e: mvt::Error| TileError::Encode(e.to_string());
    let mut out = mvt::Tile::new(EXTENT);
    let mut any = false;
    for layer in layers {
        let mut mvt_layer = out.create_layer(&layer.name);
        let mut count = 0usize;
        for feature in &layer.features {
            let geom = match &feature.geometry {
                TileGeometry::Polygons(mp) => {
                    let polygons = tile_polygons(tile, mp);
                    if polygons.is_empty() {
                        continue;
                    }
                    encode_polygons(&polygons).map_err(enc)?
                }
                TileGeometry::Prepared(polygons) => {
                    if polygons.is_empty() {
                        continue;
                    }
                    encode_polygons(polygons).map_err(enc)?
                }
                TileGeometry::Point(x_m, y_m) => {
                    let (px, py) = tile.to_tile_units(*x_m, *y_m);
                    let (px, py) = (px.floor(), py.floor());
                    if !(0.0..EXTENT as f64).contains(&px) || !(0.0..EXTENT as f64).contains(&py) {
                        continue;
                    }
                    mvt::GeomEncoder::<f64>::new(mvt::GeomType::Point)
                        .point(px, py)
                        .map_err(enc)?
                        .encode()
                        .map_err(enc)?
                }
            };
            let mut f = mvt_layer.into_feature(geom);
            f.set_id(feature.id);
            for (key, value) in &feature.properties {
                match value {
                    Value::Str(s) => f.add_tag_string(key, s),
                    Value::Int(i) => f.add_tag_sint(key, *i),
                    Value::Double(d) => f.add_tag_double(key, *d),
                }
            }
            mvt_layer = f.into_layer();
            count += 1;
        }
        if count > 0 {
            out.add_layer(mvt_layer).map_err(enc)?;
            any = true;
        }
    }
    if !any {
        return Ok(None);
    }
    out.to_bytes().map(Some).map_err(enc)
}

fn encode_polygons(polygons: &[Vec<clip::TileRing>]) -> Result<mvt::GeomData, mvt::Error> {
    let mut g = mvt::GeomEncoder::<f64>::new(mvt::GeomType::Polygon);
    for polygon in polygons {
        for ring in polygon {
            for &(x, y) in ring {
                g.add_point(x as f64, y as f64)?;
            }
            g.complete_geom()?;
        }
    }
    g.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_ids_are_checked() {
        assert!(TileId::new(0, 0, 0).is_ok());
        assert!(TileId::new(1, 2, 0).is_err());
        assert!(TileId::new(23, 0, 0).is_err());
        assert!(TileId::new(14, 16383, 16383).is_ok());
    }

    #[test]
    fn bounds_tile_the_world_without_gaps() {
        let t = TileId::new(1, 0, 0).unwrap();
        let (minx, miny, maxx, maxy) = t.bounds_m();
        assert_eq!(minx, -WEB_MERCATOR_HALF_WORLD_M);
        assert_eq!(maxy, WEB_MERCATOR_HALF_WORLD_M);
        assert!((maxx - 0.0).abs() < 1e-6 && (miny - 0.0).abs() < 1e-6);
        let right = TileId::new(1, 1, 1).unwrap().bounds_m();
        assert!((right.0 - maxx).abs() < 1e-6 && (right.3 - miny).abs() < 1e-6);
    }

    #[test]
    fn containing_is_inverse_of_bounds() {
        for &(z, x, y) in &[
            (0, 0, 0),
            (10, 525, 336),
            (14, 8414, 5384),
            (20, 538_000, 344_000),
        ] {
            let t = TileId::new(z, x, y).unwrap();
            let (minx, miny, maxx, maxy) = t.bounds_m();
            let c = TileId::containing(t.z, (minx + maxx) / 2.0, (miny + maxy) / 2.0);
            assert_eq!(c, t);
        }
    }

    #[test]
    fn tile_units_have_origin_top_left() {
        let t = TileId::new(3, 4, 2).unwrap();
        let (minx, miny, maxx, maxy) = t.bounds_m();
        let (x0, y0) = t.to_tile_units(minx, maxy);
        let (x1, y1) = t.to_tile_units(maxx, miny);
        assert!(x0.abs() < 1e-6 && y0.abs() < 1e-6);
        assert!((x1 - 4096.0).abs() < 1e-6 && (y1 - 4096.0).abs() < 1e-6);
    }

    #[test]
    fn empty_tile_is_none() {
        let t = TileId::new(14, 8414, 5384).unwrap();
        let layer = LayerData {
            name: "x".into(),
            features: vec![TileFeature {
                id: 1,
                geometry: TileGeometry::Point(0.0, 0.0),
                properties: vec![],
            }],
        };
        assert_eq!(encode_tile(t, &[layer]), Ok(None));
        assert_eq!(encode_tile(t, &[]), Ok(None));
    }
}
