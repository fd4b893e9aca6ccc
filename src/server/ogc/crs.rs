//! The coordinate reference systems of `/ogc` (OGC API - Features Part 2, CRS by Reference): CRS84 (the
//! default, lon/lat), EPSG:28992 (RD New, the storage CRS, x = easting first) and EPSG:3857 (Web Mercator),
//! named by their OGC URIs; output geometry from RD, and a `bbox` given in any of them as an RD polygon.

use super::super::error::ApiError;
use crate::coords::{CoordError, Transformer};
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{json, Value};

/// A CRS `/ogc` serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Crs {
    /// OGC CRS84: WGS84 longitude, latitude (degrees).
    Crs84,
    /// EPSG:28992, RD New: easting, northing (metres).
    Rd,
    /// EPSG:3857, Web Mercator: x, y (metres).
    WebMercator,
}

impl Crs {
    /// Every supported CRS, the default first.
    pub const ALL: [Crs; 3] = [Crs::Crs84, Crs::Rd, Crs::WebMercator];

    /// The OGC URI of the CRS.
    pub fn uri(self) -> &'static str {
        match self {
            Crs::Crs84 => "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            Crs::Rd => "http://www.opengis.net/def/crs/EPSG/0/28992",
            Crs::WebMercator => "http://www.opengis.net/def/crs/EPSG/0/3857",
        }
    }

    /// The CRS named by `value` (its URI, also as a safe CURIE `[EPSG:28992]` or `EPSG:28992`); 400 naming
    /// `parameter` for anything else.
    ///
    /// ```
    /// use brandpunt::server::ogc::crs::Crs;
    /// assert_eq!(Crs::parse("crs", "http://www.opengis.net/def/crs/EPSG/0/28992").unwrap(), Crs::Rd);
    /// assert_eq!(Crs::parse("crs", "[EPSG:3857]").unwrap(), Crs::WebMercator);
    /// assert!(Crs::parse("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/4326").is_err());
    /// ```
    pub fn parse(parameter: &str, value: &str) -> Result<Crs, ApiError> {
        let v = value.trim();
        let v = v
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(v);
        let v = v.trim_end_matches('/');
        let found = Crs::ALL.into_iter().find(|c| {
            v == c.uri()
                || v.eq_ignore_ascii_case(c.curie())
                || v == c.uri().replacen("http://", "https://", 1)
        });
        found.ok_or_else(|| {
            ApiError::param(
                parameter,
                format!(
                    "onbekend of niet ondersteund CRS '{value}': kies {}",
                    Crs::ALL.map(Crs::uri).join(", ")
                ),
            )
        })
    }

    fn curie(self) -> &'static str {
        match self {
            Crs::Crs84 => "OGC:CRS84",
            Crs::Rd => "EPSG:28992",
            Crs::WebMercator => "EPSG:3857",
        }
    }

    /// The value of the `Content-Crs` header: the URI in angle brackets.
    pub fn content_crs(self) -> String {
        format!("<{}>", self.uri())
    }

    /// Decimals written: 7 for degrees (about 1 cm), 2 for metres (1 cm).
    fn decimals(self) -> i32 {
        match self {
            Crs::Crs84 => 7,
            Crs::Rd | Crs::WebMercator => 2,
        }
    }

    /// Round a coordinate to the CRS's precision.
    pub fn round(self, v: f64) -> f64 {
        let f = 10f64.powi(self.decimals());
        (v * f).round() / f
    }

    /// An RD point in this CRS.
    pub fn from_rd(self, t: &Transformer, x_m: f64, y_m: f64) -> Result<(f64, f64), CoordError> {
        match self {
            Crs::Rd => Ok((x_m, y_m)),
            Crs::Crs84 => t.rd_to_wgs84(x_m, y_m),
            Crs::WebMercator => t.rd_to_web_mercator(x_m, y_m),
        }
    }

    /// A point of this CRS in RD.
    pub fn to_rd(self, t: &Transformer, x: f64, y: f64) -> Result<(f64, f64), CoordError> {
        match self {
            Crs::Rd => Ok((x, y)),
            Crs::Crs84 => t.wgs84_to_rd(x, y),
            Crs::WebMercator => t.web_mercator_to_rd(x, y),
        }
    }

    /// A GeoJSON Point of an RD position.
    pub fn point(self, t: &Transformer, x_m: f64, y_m: f64) -> Result<Value, CoordError> {
        let (x, y) = self.from_rd(t, x_m, y_m)?;
        Ok(json!({"type": "Point", "coordinates": [self.round(x), self.round(y)]}))
    }

    /// A GeoJSON MultiPolygon of an RD multipolygon.
    pub fn multipolygon(
        self,
        t: &Transformer,
        mp: &MultiPolygon<f64>,
    ) -> Result<Value, CoordError> {
        let converted;
        let mp = match self {
            Crs::Rd => mp,
            Crs::Crs84 => {
                converted = t.multipolygon_rd_to_wgs84(mp)?;
                &converted
            }
            Crs::WebMercator => {
                converted = t.multipolygon_rd_to_web_mercator(mp)?;
                &converted
            }
        };
        let ring = |ls: &LineString<f64>| -> Vec<[f64; 2]> {
            ls.0.iter()
                .map(|c| [self.round(c.x), self.round(c.y)])
                .collect()
        };
        let polys: Vec<Vec<Vec<[f64; 2]>>> =
            mp.0.iter()
                .map(|p| {
                    std::iter::once(ring(p.exterior()))
                        .chain(p.interiors().iter().map(ring))
                        .collect()
                })
                .collect();
        Ok(json!({"type": "MultiPolygon", "coordinates": polys}))
    }
}

/// Steps per edge when a box of another CRS is drawn in RD (its edges are curves there).
const BOX_EDGE_STEPS: usize = 16;

/// The box `[minx, miny, maxx, maxy]` of `crs` as an RD polygon: every edge sampled in
/// `BOX_EDGE_STEPS` steps, so it follows the box's curved edges to well within a metre at city scale.
pub fn box_to_rd(t: &Transformer, crs: Crs, b: [f64; 4]) -> Result<Polygon<f64>, CoordError> {
    let [x0, y0, x1, y1] = b;
    let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
    let mut ring = Vec::with_capacity(4 * BOX_EDGE_STEPS + 1);
    for w in corners.windows(2) {
        let ((ax, ay), (bx, by)) = (w[0], w[1]);
        for s in 0..BOX_EDGE_STEPS {
            let f = s as f64 / BOX_EDGE_STEPS as f64;
            let (x, y) = crs.to_rd(t, ax + (bx - ax) * f, ay + (by - ay) * f)?;
            ring.push(Coord { x, y });
        }
    }
    ring.push(ring[0]);
    Ok(Polygon::new(LineString(ring), vec![]))
}

/// Parse `bbox` (`minx,miny,maxx,maxy` in `bbox-crs`): 400 naming `bbox` for anything else, including 6
/// numbers (no heights here), a minimum above its maximum or a non-finite number.
pub fn parse_bbox(value: &str) -> Result<[f64; 4], ApiError> {
    let bad = |why: &str| ApiError::param("bbox", format!("'{value}': {why}"));
    let parts: Vec<f64> = value
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| bad("verwacht vier getallen minx,miny,maxx,maxy"))?;
    let [a, b, c, d] = parts[..] else {
        return Err(bad("verwacht vier getallen minx,miny,maxx,maxy"));
    };
    if a > c || b > d {
        return Err(bad("het minimum ligt boven het maximum"));
    }
    Ok([a, b, c, d])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crs_names_are_read_as_uris_and_curies() {
        for c in Crs::ALL {
            assert_eq!(Crs::parse("crs", c.uri()).unwrap(), c);
            assert_eq!(Crs::parse("crs", &format!("[{}]", c.curie())).unwrap(), c);
        }
        let err = Crs::parse("bbox-crs", "EPSG:4326").unwrap_err();
        assert!(matches!(err, ApiError::BadRequest { parameter: Some(p), .. } if p == "bbox-crs"));
    }

    #[test]
    fn a_box_is_four_ordered_numbers() {
        assert_eq!(parse_bbox("1,2,3,4").unwrap(), [1.0, 2.0, 3.0, 4.0]);
        for bad in [
            "",
            "1,2,3",
            "1,2,3,4,5,6",
            "3,2,1,4",
            "a,b,c,d",
            "NaN,1,2,3",
        ] {
            assert!(parse_bbox(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_box_in_rd_is_itself_and_a_crs84_box_lands_around_its_centre() {
        crate::coords::with_thread_transformer(|t| {
            let p = box_to_rd(t, Crs::Rd, [100.0, 200.0, 300.0, 400.0]).unwrap();
            let r = geo::BoundingRect::bounding_rect(&p).unwrap();
            assert_eq!(
                (r.min().x, r.min().y, r.max().x, r.max().y),
                (100.0, 200.0, 300.0, 400.0)
            );
            // Amersfoort, the origin of RD (155000, 463000), lies in a small box around it.
            let p = box_to_rd(t, Crs::Crs84, [5.38, 52.15, 5.40, 52.16]).unwrap();
            let (x, y) = Crs::Crs84.to_rd(t, 5.387206, 52.155174).unwrap();
            assert!(
                (x - 155_000.0).abs() < 1.0 && (y - 463_000.0).abs() < 1.0,
                "{x} {y}"
            );
            assert!(geo::Contains::contains(&p, &geo_types::Point::new(x, y)));
            // And back.
            let (lon, lat) = Crs::Crs84.from_rd(t, x, y).unwrap();
            assert!((lon - 5.387206).abs() < 1e-6 && (lat - 52.155174).abs() < 1e-6);
        })
        .unwrap();
    }
}
