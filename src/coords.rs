//! Coordinates: RD New (EPSG:28992) metres inside brandpunt; WGS84 and Web Mercator at the edges.

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
