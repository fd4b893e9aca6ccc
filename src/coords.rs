//! Coordinates: RD New (EPSG:28992) metres inside brandpunt; WGS84 and Web Mercator at the edges.
//!
//! # What lives here
//! - Range checks for Dutch input ([`is_within_netherlands_rd`], [`is_within_netherlands_wgs84`]).
//! - [`Transformer`]: an adapter over PROJ (the `proj` crate) for RD New <-> WGS84 (lon/lat degrees)
//!   <-> Web Mercator (EPSG:3857 metres), for single points and for slices converted in place.
//! - Pure Web Mercator and XYZ tile helpers ([`wgs84_to_web_mercator`], [`web_mercator_tile_bounds`],
//!   [`lon_lat_to_tile`], ...) used by the tile server. These are closed-form spherical-Mercator
//!   formulas (EPSG:3857 *is* that formula on the WGS84 semi-major axis), so they need no PROJ.
//!
//! # Which RD -> WGS84 operation, and why
//! Debian's PROJ data ships no RDNAPTRANS2018 grid, so PROJ's best available operation is the EPSG
//! Helmert transformation "Amersfoort to WGS 84 (4)" (EPSG:4833, 7 parameters, ~1 m accuracy), which
//! reproduces what PDOK publishes. A hand-written `+towgs84` string is never used (a widely copied one
//! is about 170 m off). [`Transformer::new`] asks PROJ for the EPSG:28992 -> EPSG:4326 operation
//! (`proj_create_crs_to_crs` restricted to the Netherlands), transforms the Amersfoort origin once so
//! that PROJ commits to one candidate, reads back the definition of the operation PROJ picked
//! (`proj_pj_info`), checks that it is a Helmert pipeline, and then builds a single fixed pipeline
//! from that definition. Fixing the pipeline matters: a crs-to-crs object silently falls back to a
//! "ballpark" operation (no datum shift, ~100 m off) for points outside the operation's area of use,
//! whereas the fixed pipeline applies the same Helmert everywhere. The picked definitions are
//! available from [`Transformer::rd_to_wgs84_definition`] for logging.
//!
//! # Threads
//! `proj::Proj` holds raw PROJ pointers and is neither `Send` nor `Sync`, so neither is
//! [`Transformer`]. Create one per thread: either call [`with_thread_transformer`] (a lazily built
//! `thread_local!` instance; the first call in the process asks PROJ's database, later ones on other threads
//! build from the definitions found then), or construct one
//! per worker, e.g. `rayon`'s `map_init(|| Transformer::new(), ...)`. Never share one across threads.

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use proj::Proj;
use std::cell::OnceCell;

/// Rough valid RD New range for the Netherlands (x 0..300 km, y 300..625 km). Anything outside is bad input.
pub const NL_RD_BOUNDS_M: (f64, f64, f64, f64) = (0.0, 300_000.0, 300_000.0, 625_000.0);

/// Rough WGS84 range of the Netherlands incl. the territorial sea: (min lon, min lat, max lon, max lat).
pub const NL_WGS84_BOUNDS_DEG: (f64, f64, f64, f64) = (3.2, 50.7, 7.3, 53.7);

/// True when an RD New point (metres) lies in the valid range for the Netherlands.
pub fn is_within_netherlands_rd(x_m: f64, y_m: f64) -> bool {
    let (minx, maxx, miny, maxy) = NL_RD_BOUNDS_M;
    x_m.is_finite()
        && y_m.is_finite()
        && (minx..=maxx).contains(&x_m)
        && (miny..=maxy).contains(&y_m)
}

/// True when a WGS84 point (degrees) lies in the rough range of the Netherlands.
pub fn is_within_netherlands_wgs84(lon_deg: f64, lat_deg: f64) -> bool {
    let (minlon, minlat, maxlon, maxlat) = NL_WGS84_BOUNDS_DEG;
    lon_deg.is_finite()
        && lat_deg.is_finite()
        && (minlon..=maxlon).contains(&lon_deg)
        && (minlat..=maxlat).contains(&lat_deg)
}

/// A box given as `minlon,minlat,maxlon,maxlat` (WGS84 degrees) that is not four numbers, is empty, or does not
/// lie within the Netherlands (the text says so in Dutch).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("'{0}': geef minlon,minlat,maxlon,maxlat in graden (WGS84) binnen Nederland")]
pub struct BboxError(pub String);

/// The RD New rectangle (metres) holding the WGS84 box `minlon,minlat,maxlon,maxlat` (the study area of
/// `bbox=` and `--bbox`): the smallest RD rectangle around the box's four corners.
///
/// ```
/// let r = brandpunt::coords::bbox_wgs84_to_rd("5.38,52.15,5.40,52.16").unwrap();
/// assert!(r.min().x < 155_000.0 && r.max().x > 155_000.0);
/// assert!(brandpunt::coords::bbox_wgs84_to_rd("5.4,52.1,5.3,52.2").is_err());
/// assert!(brandpunt::coords::bbox_wgs84_to_rd("13,52,14,53").is_err());
/// ```
pub fn bbox_wgs84_to_rd(raw: &str) -> Result<geo_types::Rect<f64>, BboxError> {
    let bad = || BboxError(raw.to_string());
    let v: Vec<f64> = raw
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [x0, y0, x1, y1] = v[..] else {
        return Err(bad());
    };
    let within = x0 < x1
        && y0 < y1
        && is_within_netherlands_wgs84(x0, y0)
        && is_within_netherlands_wgs84(x1, y1);
    if !within {
        return Err(bad());
    }
    let mut corners = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)];
    with_thread_transformer(|t| t.wgs84_to_rd_in_place(&mut corners))
        .map_err(|_| bad())?
        .map_err(|_| bad())?;
    let xs = corners.iter().map(|c| c.0);
    let ys = corners.iter().map(|c| c.1);
    Ok(geo_types::Rect::new(
        (
            xs.clone().fold(f64::MAX, f64::min),
            ys.clone().fold(f64::MAX, f64::min),
        ),
        (xs.fold(f64::MIN, f64::max), ys.fold(f64::MIN, f64::max)),
    ))
}

/// WGS84 semi-major axis in metres, the sphere radius of EPSG:3857.
pub const WEB_MERCATOR_RADIUS_M: f64 = 6_378_137.0;

/// Half the width of the Web Mercator world square in metres (pi * 6 378 137).
pub const WEB_MERCATOR_HALF_WORLD_M: f64 = std::f64::consts::PI * WEB_MERCATOR_RADIUS_M;

/// Latitude (degrees) at which the Web Mercator square ends: atan(sinh(pi)).
pub const WEB_MERCATOR_MAX_LAT_DEG: f64 = 85.051_128_779_806_59;

/// Highest XYZ zoom level the tile helpers accept (tile indices then still fit in `u32`).
pub const MAX_TILE_ZOOM: u8 = 30;

/// Amersfoort RD New origin in WGS84 degrees as published by Kadaster: (lon, lat).
pub const AMERSFOORT_ORIGIN_WGS84_DEG: (f64, f64) = (5.387_206_21, 52.155_174_40);

/// RD New false origin (x, y) in metres: the Onze Lieve Vrouwetoren in Amersfoort.
pub const AMERSFOORT_ORIGIN_RD_M: (f64, f64) = (155_000.0, 463_000.0);

/// Errors of the coordinate adapter.
#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    /// PROJ could not build the transformation (missing proj.db, unknown CRS, ...).
    #[error("PROJ could not create the {what} transformation: {message}")]
    Create {
        /// Which direction, e.g. "RD New -> WGS84".
        what: &'static str,
        /// PROJ's message.
        message: String,
    },
    /// PROJ picked an operation that is not the EPSG Helmert transformation (e.g. a ballpark one).
    #[error("PROJ picked `{definition}` for {what}, not the EPSG Helmert transformation")]
    UnexpectedOperation {
        /// Which direction.
        what: &'static str,
        /// The definition PROJ reported.
        definition: String,
    },
    /// PROJ failed to transform a coordinate (non-finite input or a numerical failure).
    #[error("PROJ failed to transform coordinates ({what}): {message}")]
    Transform {
        /// Which direction.
        what: &'static str,
        /// PROJ's message.
        message: String,
    },
}

const RD_TO_WGS84: &str = "RD New -> WGS84";
const WGS84_TO_RD: &str = "WGS84 -> RD New";

/// The definitions of the fixed RD New -> WGS84 and WGS84 -> RD New pipelines PROJ picked from its database,
/// resolved by the first [`Transformer::new`] of the process. Constant for the process (the EPSG database does not
/// change while it runs); two short strings, not a cache of data.
static PIPELINES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();

/// RD New <-> WGS84 <-> Web Mercator through PROJ with the EPSG Helmert transformation.
///
/// WGS84 coordinates are always `(lon, lat)` in degrees (x first), RD and Web Mercator `(x, y)` in
/// metres. Not `Send`/`Sync`: see the module docs for use across threads.
pub struct Transformer {
    rd_to_wgs84: Proj,
    wgs84_to_rd: Proj,
    rd_to_wgs84_definition: String,
    wgs84_to_rd_definition: String,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transformer")
            .field("rd_to_wgs84", &self.rd_to_wgs84_definition)
            .field("wgs84_to_rd", &self.wgs84_to_rd_definition)
            .finish()
    }
}

/// Asks PROJ for the best `from -> to` operation in the Netherlands, lets it pick one by transforming
/// `probe`, checks that the picked one is a Helmert pipeline and returns it as a fixed pipeline.
fn fixed_helmert_pipeline(
    from: &str,
    to: &str,
    probe: (f64, f64),
    what: &'static str,
) -> Result<(Proj, String), CoordError> {
    let (west, south, east, north) = NL_WGS84_BOUNDS_DEG;
    let area = proj::Area::new(west, south, east, north);
    let candidates = Proj::new_known_crs(from, to, Some(area)).map_err(|e| CoordError::Create {
        what,
        message: e.to_string(),
    })?;
    // A crs-to-crs object with several candidates only reports a definition once it has used one.
    candidates
        .convert(probe)
        .map_err(|e| CoordError::Transform {
            what,
            message: e.to_string(),
        })?;
    let definition = candidates.def().map_err(|e| CoordError::Create {
        what,
        message: e.to_string(),
    })?;
    let normalized: String = definition.split_whitespace().collect::<Vec<_>>().join(" ");
    if !normalized.contains("proj=helmert") || normalized.contains("towgs84") {
        return Err(CoordError::UnexpectedOperation {
            what,
            definition: normalized,
        });
    }
    let fixed = Proj::new(&normalized).map_err(|e| CoordError::Create {
        what,
        message: e.to_string(),
    })?;
    Ok((fixed, normalized))
}

fn transform_one(
    proj: &Proj,
    what: &'static str,
    x: f64,
    y: f64,
) -> Result<(f64, f64), CoordError> {
    let (ox, oy) = proj.convert((x, y)).map_err(|e| CoordError::Transform {
        what,
        message: e.to_string(),
    })?;
    if ox.is_finite() && oy.is_finite() {
        Ok((ox, oy))
    } else {
        Err(CoordError::Transform {
            what,
            message: format!("({x}, {y}) gave a non-finite result"),
        })
    }
}

fn transform_slice(
    proj: &Proj,
    what: &'static str,
    xy: &mut [(f64, f64)],
) -> Result<(), CoordError> {
    if xy.is_empty() {
        return Ok(());
    }
    proj.convert_array(xy).map_err(|e| CoordError::Transform {
        what,
        message: e.to_string(),
    })?;
    if let Some(bad) = xy
        .iter()
        .position(|(x, y)| !x.is_finite() || !y.is_finite())
    {
        return Err(CoordError::Transform {
            what,
            message: format!("coordinate #{bad} gave a non-finite result"),
        });
    }
    Ok(())
}

impl Transformer {
    /// Builds both directions. The first call in a process asks PROJ's database which operations to use (tens
    /// of milliseconds of SQLite queries) and keeps their definitions (`PIPELINES`); later calls, on any
    /// thread, build the same pipelines from those definitions (well under a millisecond).
    ///
    /// Fails when PROJ cannot find its database, or when the operation it picks for the
    /// Netherlands is not a Helmert transformation.
    pub fn new() -> Result<Self, CoordError> {
        if let Some((forward, inverse)) = PIPELINES.get() {
            let build = |definition: &str, what: &'static str| {
                Proj::new(definition).map_err(|e| CoordError::Create {
                    what,
                    message: e.to_string(),
                })
            };
            return Ok(Self {
                rd_to_wgs84: build(forward, RD_TO_WGS84)?,
                wgs84_to_rd: build(inverse, WGS84_TO_RD)?,
                rd_to_wgs84_definition: forward.clone(),
                wgs84_to_rd_definition: inverse.clone(),
            });
        }
        let (rd_to_wgs84, rd_to_wgs84_definition) = fixed_helmert_pipeline(
            "EPSG:28992",
            "EPSG:4326",
            AMERSFOORT_ORIGIN_RD_M,
            RD_TO_WGS84,
        )?;
        let (wgs84_to_rd, wgs84_to_rd_definition) = fixed_helmert_pipeline(
            "EPSG:4326",
            "EPSG:28992",
            AMERSFOORT_ORIGIN_WGS84_DEG,
            WGS84_TO_RD,
        )?;
        // Another thread may have resolved them meanwhile: PROJ's answer is the same, either is kept.
        let _ = PIPELINES.set((
            rd_to_wgs84_definition.clone(),
            wgs84_to_rd_definition.clone(),
        ));
        Ok(Self {
            rd_to_wgs84,
            wgs84_to_rd,
            rd_to_wgs84_definition,
            wgs84_to_rd_definition,
        })
    }

    /// The PROJ pipeline used for RD New -> WGS84 (as picked from the EPSG database).
    pub fn rd_to_wgs84_definition(&self) -> &str {
        &self.rd_to_wgs84_definition
    }

    /// The PROJ pipeline used for WGS84 -> RD New.
    pub fn wgs84_to_rd_definition(&self) -> &str {
        &self.wgs84_to_rd_definition
    }

    /// RD New metres -> WGS84 `(lon, lat)` degrees.
    pub fn rd_to_wgs84(&self, x_m: f64, y_m: f64) -> Result<(f64, f64), CoordError> {
        transform_one(&self.rd_to_wgs84, RD_TO_WGS84, x_m, y_m)
    }

    /// WGS84 `(lon, lat)` degrees -> RD New metres.
    pub fn wgs84_to_rd(&self, lon_deg: f64, lat_deg: f64) -> Result<(f64, f64), CoordError> {
        transform_one(&self.wgs84_to_rd, WGS84_TO_RD, lon_deg, lat_deg)
    }

    /// RD New metres -> Web Mercator metres (via WGS84).
    pub fn rd_to_web_mercator(&self, x_m: f64, y_m: f64) -> Result<(f64, f64), CoordError> {
        let (lon, lat) = self.rd_to_wgs84(x_m, y_m)?;
        Ok(wgs84_to_web_mercator(lon, lat))
    }

    /// Web Mercator metres -> RD New metres (via WGS84).
    pub fn web_mercator_to_rd(&self, x_m: f64, y_m: f64) -> Result<(f64, f64), CoordError> {
        let (lon, lat) = web_mercator_to_wgs84(x_m, y_m);
        self.wgs84_to_rd(lon, lat)
    }

    /// Converts RD New `(x, y)` metres to WGS84 `(lon, lat)` degrees in place.
    ///
    /// On error the slice content is unspecified (partly converted).
    pub fn rd_to_wgs84_in_place(&self, xy: &mut [(f64, f64)]) -> Result<(), CoordError> {
        transform_slice(&self.rd_to_wgs84, RD_TO_WGS84, xy)
    }

    /// Converts WGS84 `(lon, lat)` degrees to RD New `(x, y)` metres in place.
    ///
    /// On error the slice content is unspecified (partly converted).
    pub fn wgs84_to_rd_in_place(&self, xy: &mut [(f64, f64)]) -> Result<(), CoordError> {
        transform_slice(&self.wgs84_to_rd, WGS84_TO_RD, xy)
    }

    /// Converts RD New metres to Web Mercator metres in place.
    pub fn rd_to_web_mercator_in_place(&self, xy: &mut [(f64, f64)]) -> Result<(), CoordError> {
        self.rd_to_wgs84_in_place(xy)?;
        for p in xy.iter_mut() {
            *p = wgs84_to_web_mercator(p.0, p.1);
        }
        Ok(())
    }

    /// Converts Web Mercator metres to RD New metres in place.
    pub fn web_mercator_to_rd_in_place(&self, xy: &mut [(f64, f64)]) -> Result<(), CoordError> {
        for p in xy.iter_mut() {
            *p = web_mercator_to_wgs84(p.0, p.1);
        }
        self.wgs84_to_rd_in_place(xy)
    }

    /// An RD New multipolygon in WGS84 `(lon, lat)` degrees, vertex by vertex.
    pub fn multipolygon_rd_to_wgs84(
        &self,
        mp: &MultiPolygon<f64>,
    ) -> Result<MultiPolygon<f64>, CoordError> {
        map_multipolygon(mp, |pts| self.rd_to_wgs84_in_place(pts))
    }

    /// An RD New multipolygon in Web Mercator metres, vertex by vertex.
    pub fn multipolygon_rd_to_web_mercator(
        &self,
        mp: &MultiPolygon<f64>,
    ) -> Result<MultiPolygon<f64>, CoordError> {
        map_multipolygon(mp, |pts| self.rd_to_web_mercator_in_place(pts))
    }
}

/// `mp` with every ring's positions converted by `f` (in place, per ring).
fn map_multipolygon(
    mp: &MultiPolygon<f64>,
    f: impl Fn(&mut [(f64, f64)]) -> Result<(), CoordError>,
) -> Result<MultiPolygon<f64>, CoordError> {
    let ring = |ls: &LineString<f64>| -> Result<LineString<f64>, CoordError> {
        let mut pts: Vec<(f64, f64)> = ls.0.iter().map(|c| (c.x, c.y)).collect();
        f(&mut pts)?;
        Ok(LineString::from(
            pts.into_iter()
                .map(|(x, y)| Coord { x, y })
                .collect::<Vec<_>>(),
        ))
    };
    let mut polys = Vec::with_capacity(mp.0.len());
    for p in &mp.0 {
        let ext = ring(p.exterior())?;
        let holes = p
            .interiors()
            .iter()
            .map(ring)
            .collect::<Result<Vec<_>, _>>()?;
        polys.push(Polygon::new(ext, holes));
    }
    Ok(MultiPolygon(polys))
}

thread_local! {
    static THREAD_TRANSFORMER: OnceCell<Transformer> = const { OnceCell::new() };
}

/// Runs `f` with this thread's lazily created [`Transformer`].
///
/// The transformer is built on the first call on each thread and dropped when the thread ends. If
/// building fails the error is returned and the next call tries again.
pub fn with_thread_transformer<R>(f: impl FnOnce(&Transformer) -> R) -> Result<R, CoordError> {
    THREAD_TRANSFORMER.with(|cell| {
        if cell.get().is_none() {
            let built = Transformer::new()?;
            // Cannot already be set: this closure is the only writer on this thread.
            let _ = cell.set(built);
        }
        match cell.get() {
            Some(t) => Ok(f(t)),
            None => Err(CoordError::Create {
                what: RD_TO_WGS84,
                message: "thread-local transformer unavailable".to_owned(),
            }),
        }
    })
}

/// WGS84 `(lon, lat)` degrees -> Web Mercator (EPSG:3857) metres, closed form.
///
/// `x = R * lon_rad`, `y = R * ln(tan(pi/4 + lat_rad/2))` (computed as the equivalent
/// `R * atanh(sin(lat_rad))`, exact at the equator) with R = 6 378 137 m. Latitudes are clamped
/// to +-[`WEB_MERCATOR_MAX_LAT_DEG`] so the result stays inside the square world.
pub fn wgs84_to_web_mercator(lon_deg: f64, lat_deg: f64) -> (f64, f64) {
    let lat = lat_deg.clamp(-WEB_MERCATOR_MAX_LAT_DEG, WEB_MERCATOR_MAX_LAT_DEG);
    let x = WEB_MERCATOR_RADIUS_M * lon_deg.to_radians();
    let y = WEB_MERCATOR_RADIUS_M * lat.to_radians().sin().atanh();
    (x, y)
}

/// Web Mercator (EPSG:3857) metres -> WGS84 `(lon, lat)` degrees, closed form (inverse of
/// [`wgs84_to_web_mercator`]): `lat = atan(sinh(y / R))`.
pub fn web_mercator_to_wgs84(x_m: f64, y_m: f64) -> (f64, f64) {
    let lon = (x_m / WEB_MERCATOR_RADIUS_M).to_degrees();
    let lat = (y_m / WEB_MERCATOR_RADIUS_M).sinh().atan().to_degrees();
    (lon, lat)
}

/// Number of tiles along one axis at zoom `z` (2^z).
fn tiles_per_axis(z: u8) -> f64 {
    2f64.powi(i32::from(z))
}

/// True when XYZ tile `z/x/y` exists (z <= [`MAX_TILE_ZOOM`], x and y < 2^z).
pub fn tile_exists(z: u8, x: u32, y: u32) -> bool {
    z <= MAX_TILE_ZOOM && u64::from(x) < (1u64 << z) && u64::from(y) < (1u64 << z)
}

/// Bounds `(minx, miny, maxx, maxy)` in EPSG:3857 metres of XYZ tile `z/x/y` (y down, origin at
/// the top-left of the world square).
///
/// Closed form: tile size `s = 2 * HALF_WORLD / 2^z`, `minx = -HALF_WORLD + x * s`,
/// `maxy = HALF_WORLD - y * s`. Tiles that do not exist (see [`tile_exists`]) get the bounds the same
/// formula gives, outside the world square; check with [`tile_exists`] first on user input.
pub fn web_mercator_tile_bounds(z: u8, x: u32, y: u32) -> (f64, f64, f64, f64) {
    let size = 2.0 * WEB_MERCATOR_HALF_WORLD_M / tiles_per_axis(z);
    // Each edge is computed from its own index so that neighbouring tiles share edges bit for bit.
    let edge_x = |i: f64| -WEB_MERCATOR_HALF_WORLD_M + i * size;
    let edge_y = |j: f64| WEB_MERCATOR_HALF_WORLD_M - j * size;
    let (x, y) = (f64::from(x), f64::from(y));
    (edge_x(x), edge_y(y + 1.0), edge_x(x + 1.0), edge_y(y))
}

/// North-west corner `(lon, lat)` in degrees of XYZ tile `z/x/y` (standard slippy-map formula:
/// `lon = x / 2^z * 360 - 180`, `lat = atan(sinh(pi * (1 - 2 y / 2^z)))`).
pub fn tile_to_lon_lat(z: u8, x: u32, y: u32) -> (f64, f64) {
    let n = tiles_per_axis(z);
    let lon = f64::from(x) / n * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * f64::from(y) / n))
        .sinh()
        .atan()
        .to_degrees();
    (lon, lat)
}

/// Bounds `(min lon, min lat, max lon, max lat)` in degrees of XYZ tile `z/x/y`.
pub fn tile_bounds_wgs84(z: u8, x: u32, y: u32) -> (f64, f64, f64, f64) {
    let (west, north) = tile_to_lon_lat(z, x, y);
    let (east, south) = tile_to_lon_lat(z, x.saturating_add(1), y.saturating_add(1));
    (west, south, east, north)
}

/// XYZ tile `(x, y)` at zoom `z` containing WGS84 point `(lon, lat)` degrees.
///
/// Points on a tile edge belong to the tile to the east/south. Latitudes beyond the Web Mercator
/// range and longitude 180 are clamped to the edge tiles. `None` for non-finite input, longitudes
/// outside -180..=180 or `z > MAX_TILE_ZOOM`.
pub fn lon_lat_to_tile(lon_deg: f64, lat_deg: f64, z: u8) -> Option<(u32, u32)> {
    if z > MAX_TILE_ZOOM
        || !lon_deg.is_finite()
        || !lat_deg.is_finite()
        || !(-180.0..=180.0).contains(&lon_deg)
    {
        return None;
    }
    let n = tiles_per_axis(z);
    let max_index = n - 1.0;
    let lat = lat_deg
        .clamp(-WEB_MERCATOR_MAX_LAT_DEG, WEB_MERCATOR_MAX_LAT_DEG)
        .to_radians();
    let fx = ((lon_deg + 180.0) / 360.0 * n)
        .floor()
        .clamp(0.0, max_index);
    let fy = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n)
        .floor()
        .clamp(0.0, max_index);
    // In range 0..2^30 after the clamps, so the casts are exact.
    Some((fx as u32, fy as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ground distance in metres between two nearby WGS84 points (equirectangular, fine below 10 km).
    fn ground_distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
        let metres_per_deg = 111_320.0;
        let dlat = (a.1 - b.1) * metres_per_deg;
        let dlon = (a.0 - b.0) * metres_per_deg * a.1.to_radians().cos();
        (dlat * dlat + dlon * dlon).sqrt()
    }

    /// Independent oracle: the published approximation polynomial for RD -> WGS84 of Schreutelkamp and
    /// Strang van Hees ("Benaderingsformules voor de transformatie tussen RD- en WGS84-kaartcoordinaten",
    /// 2001), accurate to a few decimetres inside the Netherlands. Returns (lon, lat) degrees.
    fn rd_to_wgs84_polynomial(x_m: f64, y_m: f64) -> (f64, f64) {
        const K: [(i32, i32, f64); 11] = [
            (0, 1, 3235.65389),
            (2, 0, -32.58297),
            (0, 2, -0.24750),
            (2, 1, -0.84978),
            (0, 3, -0.06550),
            (2, 2, -0.01709),
            (1, 0, -0.00738),
            (4, 0, 0.00530),
            (2, 3, -0.00039),
            (4, 1, 0.00033),
            (1, 1, -0.00012),
        ];
        const L: [(i32, i32, f64); 12] = [
            (1, 0, 5260.52916),
            (1, 1, 105.94684),
            (1, 2, 2.45656),
            (3, 0, -0.81885),
            (1, 3, 0.05594),
            (3, 1, -0.05607),
            (0, 1, 0.01199),
            (3, 2, -0.00256),
            (1, 4, 0.00128),
            (0, 2, 0.00022),
            (2, 0, -0.00022),
            (5, 0, 0.00026),
        ];
        let dx = (x_m - 155_000.0) * 1e-5;
        let dy = (y_m - 463_000.0) * 1e-5;
        let sum = |terms: &[(i32, i32, f64)]| -> f64 {
            terms
                .iter()
                .map(|&(p, q, c)| c * dx.powi(p) * dy.powi(q))
                .sum()
        };
        (
            5.387_206_21 + sum(&L) / 3600.0,
            52.155_174_40 + sum(&K) / 3600.0,
        )
    }

    #[test]
    fn picks_the_epsg_helmert_operation() {
        let t = Transformer::new().unwrap();
        // EPSG:4833 "Amersfoort to WGS 84 (4)" translation parameters (EPSG dataset), applied after
        // the inverse oblique stereographic RD projection on the Bessel ellipsoid.
        for def in [t.rd_to_wgs84_definition(), t.wgs84_to_rd_definition()] {
            assert!(
                def.contains("proj=helmert x=565.4171 y=50.3319 z=465.5524"),
                "{def}"
            );
            assert!(def.contains("proj=sterea"), "{def}");
            assert!(def.contains("ellps=bessel"), "{def}");
            assert!(!def.contains("towgs84"), "{def}");
        }
    }

    #[test]
    fn amersfoort_origin_matches_published_coordinates() {
        let t = Transformer::new().unwrap();
        let (x0, y0) = AMERSFOORT_ORIGIN_RD_M;
        let got = t.rd_to_wgs84(x0, y0).unwrap();
        let d = ground_distance_m(got, AMERSFOORT_ORIGIN_WGS84_DEG);
        assert!(d < 2.0, "origin off by {d} m: {got:?}");
        let (lon0, lat0) = AMERSFOORT_ORIGIN_WGS84_DEG;
        let (x, y) = t.wgs84_to_rd(lon0, lat0).unwrap();
        let d = ((x - x0).powi(2) + (y - y0).powi(2)).sqrt();
        assert!(d < 2.0, "inverse origin off by {d} m: ({x}, {y})");
    }

    #[test]
    fn agrees_with_the_published_rd_polynomial_across_the_country() {
        let t = Transformer::new().unwrap();
        let mut worst = 0.0_f64;
        for ix in 0..=14 {
            for iy in 0..=16 {
                let x = 10_000.0 + f64::from(ix) * 19_000.0;
                let y = 310_000.0 + f64::from(iy) * 19_000.0;
                let got = t.rd_to_wgs84(x, y).unwrap();
                let oracle = rd_to_wgs84_polynomial(x, y);
                worst = worst.max(ground_distance_m(got, oracle));
            }
        }
        assert!(worst < 1.0, "worst disagreement {worst} m");
    }

    #[test]
    fn round_trips_and_batches_match_single_points() {
        let t = Transformer::new().unwrap();
        let pts: Vec<(f64, f64)> = (0..200)
            .map(|i| {
                let f = f64::from(i);
                (12_345.6 + f * 1_377.7, 306_543.2 + f * 1_611.1)
            })
            .collect();
        let mut batch = pts.clone();
        t.rd_to_wgs84_in_place(&mut batch).unwrap();
        for (p, b) in pts.iter().zip(&batch) {
            assert_eq!(t.rd_to_wgs84(p.0, p.1).unwrap(), *b);
            assert!(is_within_netherlands_wgs84(b.0, b.1) || p.0 < 20_000.0 || p.1 > 600_000.0);
        }
        t.wgs84_to_rd_in_place(&mut batch).unwrap();
        for (p, b) in pts.iter().zip(&batch) {
            let d = ((p.0 - b.0).powi(2) + (p.1 - b.1).powi(2)).sqrt();
            assert!(d < 1e-3, "round trip off by {d} m at {p:?}");
        }
        let mut merc = pts.clone();
        t.rd_to_web_mercator_in_place(&mut merc).unwrap();
        assert_eq!(t.rd_to_web_mercator(pts[7].0, pts[7].1).unwrap(), merc[7]);
        t.web_mercator_to_rd_in_place(&mut merc).unwrap();
        for (p, b) in pts.iter().zip(&merc) {
            assert!((p.0 - b.0).abs() < 1e-3 && (p.1 - b.1).abs() < 1e-3);
        }
        let (mx, my) = t.rd_to_web_mercator(1e5, 4e5).unwrap();
        let back = t.web_mercator_to_rd(mx, my).unwrap();
        assert!((back.0 - 1e5).abs() < 1e-3 && (back.1 - 4e5).abs() < 1e-3);
        t.rd_to_wgs84_in_place(&mut []).unwrap();
    }

    #[test]
    fn non_finite_input_is_an_error_not_a_panic() {
        let t = Transformer::new().unwrap();
        assert!(t.rd_to_wgs84(f64::NAN, 463_000.0).is_err());
        assert!(t.wgs84_to_rd(f64::INFINITY, 52.0).is_err());
        let mut v = vec![(155_000.0, 463_000.0), (f64::NAN, 1.0)];
        assert!(t.rd_to_wgs84_in_place(&mut v).is_err());
    }

    #[test]
    fn thread_local_transformers_agree_across_threads() {
        let here = with_thread_transformer(|t| t.rd_to_wgs84(136_013.0, 455_959.0))
            .unwrap()
            .unwrap();
        let handles: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| {
                    with_thread_transformer(|t| t.rd_to_wgs84(136_013.0, 455_959.0))
                        .unwrap()
                        .unwrap()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), here);
        }
    }

    #[test]
    fn web_mercator_closed_forms() {
        let h = WEB_MERCATOR_HALF_WORLD_M;
        assert!((h - 20_037_508.342_789_244).abs() < 1e-6);
        assert_eq!(wgs84_to_web_mercator(0.0, 0.0), (0.0, 0.0));
        let (x, _) = wgs84_to_web_mercator(180.0, 0.0);
        assert!((x - h).abs() < 1e-6);
        let (_, y) = wgs84_to_web_mercator(0.0, WEB_MERCATOR_MAX_LAT_DEG);
        assert!((y - h).abs() < 1e-3, "{y}");
        let (_, y) = wgs84_to_web_mercator(0.0, 90.0);
        assert!((y - h).abs() < 1e-3, "clamped: {y}");
        // y(lat) = R * ln(tan(pi/4 + lat/2)) = R * asinh(tan(lat)): two equivalent closed forms.
        for lat in [-60.0_f64, -12.5, 33.3, 52.155_174_4, 80.0] {
            let (_, y) = wgs84_to_web_mercator(5.0, lat);
            let expect = WEB_MERCATOR_RADIUS_M * lat.to_radians().tan().asinh();
            assert!((y - expect).abs() < 1e-6, "{lat}: {y} vs {expect}");
            let expect = WEB_MERCATOR_RADIUS_M
                * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
                    .tan()
                    .ln();
            assert!((y - expect).abs() < 1e-6, "{lat}: {y} vs {expect}");
            let (lon2, lat2) = web_mercator_to_wgs84(wgs84_to_web_mercator(5.0, lat).0, y);
            assert!((lon2 - 5.0).abs() < 1e-12 && (lat2 - lat).abs() < 1e-12);
        }
    }

    #[test]
    fn web_mercator_matches_proj_epsg_3857() {
        let p = Proj::new_known_crs("EPSG:4326", "EPSG:3857", None).unwrap();
        for (lon, lat) in [(5.387, 52.155), (3.3, 50.75), (7.2, 53.6), (-120.0, -33.0)] {
            let ours = wgs84_to_web_mercator(lon, lat);
            let theirs = p.convert((lon, lat)).unwrap();
            assert!((ours.0 - theirs.0).abs() < 1e-6 && (ours.1 - theirs.1).abs() < 1e-6);
        }
    }

    #[test]
    fn tile_bounds_closed_forms() {
        let h = WEB_MERCATOR_HALF_WORLD_M;
        assert_eq!(web_mercator_tile_bounds(0, 0, 0), (-h, -h, h, h));
        assert_eq!(web_mercator_tile_bounds(1, 0, 0), (-h, 0.0, 0.0, h));
        assert_eq!(web_mercator_tile_bounds(1, 1, 1), (0.0, -h, h, 0.0));
        // Tile size halves per zoom level; neighbours share edges exactly.
        let (minx, miny, maxx, maxy) = web_mercator_tile_bounds(12, 2105, 1350);
        let size = 2.0 * h / 4096.0;
        assert!((maxx - minx - size).abs() < 1e-6 && (maxy - miny - size).abs() < 1e-6);
        assert_eq!(web_mercator_tile_bounds(12, 2106, 1350).0, maxx);
        assert_eq!(web_mercator_tile_bounds(12, 2105, 1351).3, miny);
        assert!(tile_exists(0, 0, 0) && !tile_exists(0, 1, 0) && !tile_exists(31, 0, 0));
        assert!(tile_exists(30, (1 << 30) - 1, 0) && !tile_exists(3, 8, 0));
        let (w, s, e, n) = tile_bounds_wgs84(0, 0, 0);
        assert_eq!((w, e), (-180.0, 180.0));
        assert!(
            (n - WEB_MERCATOR_MAX_LAT_DEG).abs() < 1e-9
                && (s + WEB_MERCATOR_MAX_LAT_DEG).abs() < 1e-9
        );
        assert_eq!(tile_to_lon_lat(1, 1, 1), (0.0, 0.0));
    }

    #[test]
    fn lon_lat_to_tile_is_consistent_with_tile_bounds() {
        assert_eq!(lon_lat_to_tile(-90.0, 45.0, 1), Some((0, 0)));
        assert_eq!(lon_lat_to_tile(90.0, -45.0, 1), Some((1, 1)));
        assert_eq!(lon_lat_to_tile(0.0, 0.0, 1), Some((1, 1)));
        assert_eq!(lon_lat_to_tile(180.0, 89.0, 2), Some((3, 0)));
        assert_eq!(lon_lat_to_tile(f64::NAN, 0.0, 2), None);
        assert_eq!(lon_lat_to_tile(181.0, 0.0, 2), None);
        assert_eq!(lon_lat_to_tile(0.0, 0.0, 31), None);
        for i in 0..500_u32 {
            let lon = 3.2 + f64::from(i % 23) * 0.17 + f64::from(i) * 1e-4;
            let lat = 50.7 + f64::from(i % 29) * 0.1 + f64::from(i) * 1e-4;
            for z in [0_u8, 5, 10, 14, 18] {
                let (x, y) = lon_lat_to_tile(lon, lat, z).unwrap();
                let (minx, miny, maxx, maxy) = web_mercator_tile_bounds(z, x, y);
                let (mx, my) = wgs84_to_web_mercator(lon, lat);
                let tol = 1e-6;
                assert!(mx >= minx - tol && mx <= maxx + tol, "z{z} {lon} {lat}");
                assert!(my >= miny - tol && my <= maxy + tol, "z{z} {lon} {lat}");
                let (w, s, e, n) = tile_bounds_wgs84(z, x, y);
                assert!(lon >= w - 1e-9 && lon <= e + 1e-9 && lat >= s - 1e-9 && lat <= n + 1e-9);
            }
        }
    }

    #[test]
    fn netherlands_range_checks() {
        assert!(is_within_netherlands_rd(155_000.0, 463_000.0));
        assert!(!is_within_netherlands_rd(155_000.0, 200_000.0));
        assert!(!is_within_netherlands_rd(f64::NAN, 463_000.0));
        assert!(is_within_netherlands_wgs84(5.387, 52.155));
        assert!(!is_within_netherlands_wgs84(2.35, 48.85));
    }

    #[test]
    fn multipolygons_convert_vertex_by_vertex_keeping_holes() {
        let t = Transformer::new().unwrap();
        let ring = |x0: f64, y0: f64, d: f64| {
            LineString::from(vec![
                (x0, y0),
                (x0 + d, y0),
                (x0 + d, y0 + d),
                (x0, y0 + d),
                (x0, y0),
            ])
        };
        let mp = MultiPolygon(vec![Polygon::new(
            ring(155_000.0, 463_000.0, 1000.0),
            vec![ring(155_400.0, 463_400.0, 100.0)],
        )]);
        let wgs = t.multipolygon_rd_to_wgs84(&mp).unwrap();
        assert_eq!(wgs.0[0].interiors().len(), 1);
        let v = wgs.0[0].interiors()[0].0[2];
        assert_eq!((v.x, v.y), t.rd_to_wgs84(155_500.0, 463_500.0).unwrap());
        let merc = t.multipolygon_rd_to_web_mercator(&mp).unwrap();
        let c = merc.0[0].exterior().0[1];
        assert_eq!(
            (c.x, c.y),
            t.rd_to_web_mercator(156_000.0, 463_000.0).unwrap()
        );
        let bad = MultiPolygon(vec![Polygon::new(ring(f64::NAN, 0.0, 1.0), vec![])]);
        assert!(t.multipolygon_rd_to_wgs84(&bad).is_err());
    }
}
