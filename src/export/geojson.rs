//! GeoJSON geometry values (RFC 7946, in memory) of WGS84 polygons, for API answers.
//!
//! ```
//! use brandpunt::export::geojson::{lon_lat_rings, multipolygon, round_degrees};
//! use geo_types::{polygon, MultiPolygon};
//!
//! let mp = MultiPolygon(vec![polygon![(x: 5.0, y: 52.0), (x: 5.1, y: 52.0), (x: 5.1, y: 52.1)]]);
//! let g = multipolygon(&mp);
//! assert_eq!(g["type"], "MultiPolygon");
//! assert_eq!(g["coordinates"][0][0][1], serde_json::json!([5.1, 52.0]));
//! let rings = vec![vec![vec![(5.0, 52.0), (5.1, 52.0), (5.1, 52.1), (5.0, 52.0)]]];
//! assert_eq!(lon_lat_rings(&rings), g);
//! assert_eq!(round_degrees(5.123_456_789), 5.123_457);
//! ```

use geo_types::{LineString, MultiPolygon};
use serde_json::{json, Value};

use super::LonLatRings;

/// A coordinate in degrees rounded to 6 decimals (about 0.1 m), as the exports write them.
pub fn round_degrees(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// `{"type": "MultiPolygon", "coordinates": ...}` of a WGS84 multipolygon (exterior first, then holes).
pub fn multipolygon(mp_wgs84: &MultiPolygon<f64>) -> Value {
    let ring =
        |ls: &LineString<f64>| -> Vec<[f64; 2]> { ls.0.iter().map(|c| [c.x, c.y]).collect() };
    let polys: Vec<Vec<Vec<[f64; 2]>>> = mp_wgs84
        .0
        .iter()
        .map(|p| {
            std::iter::once(ring(p.exterior()))
                .chain(p.interiors().iter().map(ring))
                .collect()
        })
        .collect();
    json!({"type": "MultiPolygon", "coordinates": polys})
}

/// `{"type": "MultiPolygon", "coordinates": ...}` of WGS84 rings.
pub fn lon_lat_rings(rings: &LonLatRings) -> Value {
    let coords: Vec<Value> = rings
        .iter()
        .map(|poly| {
            Value::Array(
                poly.iter()
                    .map(|ring| Value::Array(ring.iter().map(|&(x, y)| json!([x, y])).collect()))
                    .collect(),
            )
        })
        .collect();
    json!({"type": "MultiPolygon", "coordinates": coords})
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, Polygon};

    #[test]
    fn holes_follow_their_exterior_and_empty_is_empty() {
        let outer =
            polygon![(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 4.0)];
        let hole = polygon![(x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 2.0, y: 2.0)];
        let mp = MultiPolygon(vec![Polygon::new(
            outer.exterior().clone(),
            vec![hole.exterior().clone()],
        )]);
        let g = multipolygon(&mp);
        assert_eq!(g["coordinates"][0].as_array().unwrap().len(), 2);
        assert_eq!(g["coordinates"][0][1][0], json!([1.0, 1.0]));
        assert_eq!(
            multipolygon(&MultiPolygon(vec![])),
            json!({"type": "MultiPolygon", "coordinates": []})
        );
        assert_eq!(lon_lat_rings(&vec![]), multipolygon(&MultiPolygon(vec![])));
        assert_eq!(round_degrees(-4.000_000_4), -4.0);
    }
}
