//! Custom areas drawn by analysts ("Torenflats en omgeving"): parsing and validating the GeoJSON Feature that
//! the web map or an API client sends. Pure: JSON in, a named RD multipolygon or a Dutch error out.
//!
//! Rules: a Feature (or bare geometry with a `name` given separately) with a `Polygon` or `MultiPolygon` in WGS84
//! (lon, lat); `properties.name` non-empty and at most [`MAX_NAME_CHARS`] characters; at most [`MAX_VERTICES`]
//! vertices; rings closed (an unclosed ring is closed for the client), at least three distinct points, finite
//! coordinates inside the Netherlands; the polygon valid (no self-intersections, holes inside their exterior,
//! parts not overlapping, per OGC simple features as checked by `geo::Validation`); and, checked by
//! [`check_within`], for the most part inside the municipality.

use crate::coords::{is_within_netherlands_wgs84, CoordError, Transformer};
use geo::line_measures::{Euclidean, Length};
use geo::{Area, BooleanOps, Validation};
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;

/// Most vertices a custom area may have.
pub const MAX_VERTICES: usize = 10_000;
/// Longest name.
pub const MAX_NAME_CHARS: usize = 200;
/// Smallest area and smallest mean width (2 x area / perimeter) of a custom area, in m² and m: anything smaller
/// or thinner is a drawing mistake (a double click, a line drawn as a polygon), not a place.
pub const MIN_AREA_M2: f64 = 1.0;
pub const MIN_MEAN_WIDTH_M: f64 = 1.0;
/// Largest share of a custom area that may lie outside the municipality (drawing along a border is imprecise).
pub const MAX_OUTSIDE_SHARE: f64 = 0.05;

/// Why a custom area was refused (messages in Dutch for the user).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CustomAreaError {
    #[error("de invoer is geen GeoJSON: {0}")]
    NotJson(String),
    #[error("verwacht een GeoJSON Feature met een Polygon of MultiPolygon, niet '{0}'")]
    WrongType(String),
    #[error("properties.name ontbreekt of is leeg")]
    MissingName,
    #[error("de naam is langer dan {MAX_NAME_CHARS} tekens")]
    NameTooLong,
    #[error("de coördinaten van de geometrie zijn onleesbaar: {0}")]
    BadCoordinates(String),
    #[error("het gebied heeft {0} hoekpunten; maximaal {MAX_VERTICES}")]
    TooManyVertices(usize),
    #[error("een ring heeft minder dan 3 verschillende punten")]
    TooFewPoints,
    #[error(
        "coördinaat ({lon}, {lat}) ligt niet in Nederland (verwacht lengte, breedte in WGS84)"
    )]
    OutsideNetherlands { lon: f64, lat: f64 },
    #[error("het gebied is ongeldig: {0}")]
    Invalid(String),
    #[error("het gebied ligt voor {percent:.0}% buiten de gemeente")]
    OutsideMunicipality { percent: f64 },
    #[error("coördinaattransformatie mislukt: {0}")]
    Transform(String),
}

impl From<CoordError> for CustomAreaError {
    fn from(e: CoordError) -> Self {
        CustomAreaError::Transform(e.to_string())
    }
}

/// A parsed, valid custom area.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomAreaInput {
    pub name: String,
    /// RD New metres.
    pub geometry_rd: MultiPolygon<f64>,
}

fn ring_from_json(v: &Value, vertices: &mut usize) -> Result<Vec<(f64, f64)>, CustomAreaError> {
    let arr = v
        .as_array()
        .ok_or_else(|| CustomAreaError::BadCoordinates("een ring is geen lijst".into()))?;
    let mut pts = Vec::with_capacity(arr.len() + 1);
    for p in arr {
        let pair = p.as_array().filter(|a| a.len() >= 2).ok_or_else(|| {
            CustomAreaError::BadCoordinates("een punt is geen [lengte, breedte]".into())
        })?;
        let lon = pair[0].as_f64();
        let lat = pair[1].as_f64();
        let (Some(lon), Some(lat)) = (lon, lat) else {
            return Err(CustomAreaError::BadCoordinates(
                "een coördinaat is geen getal".into(),
            ));
        };
        if !is_within_netherlands_wgs84(lon, lat) {
            return Err(CustomAreaError::OutsideNetherlands { lon, lat });
        }
        *vertices += 1;
        if *vertices > MAX_VERTICES + 2 {
            return Err(CustomAreaError::TooManyVertices(*vertices));
        }
        pts.push((lon, lat));
    }
    if pts.first() != pts.last() {
        if let Some(&f) = pts.first() {
            pts.push(f);
        }
    }
    let mut distinct = pts.clone();
    distinct.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    distinct.dedup();
    if distinct.len() < 3 {
        return Err(CustomAreaError::TooFewPoints);
    }
    Ok(pts)
}

fn polygon_from_json(
    v: &Value,
    vertices: &mut usize,
) -> Result<Vec<Vec<(f64, f64)>>, CustomAreaError> {
    let rings = v
        .as_array()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| CustomAreaError::BadCoordinates("een polygoon heeft geen ringen".into()))?;
    rings.iter().map(|r| ring_from_json(r, vertices)).collect()
}

/// Parse and validate a GeoJSON Feature (WGS84) into a named RD multipolygon. `name_override` (e.g. from a
/// form field) wins over `properties.name`.
pub fn parse_feature(
    json: &Value,
    name_override: Option<&str>,
    transformer: &Transformer,
) -> Result<CustomAreaInput, CustomAreaError> {
    let kind = json.get("type").and_then(Value::as_str).unwrap_or("");
    let (geometry, properties) = match kind {
        "Feature" => (
            json.get("geometry").unwrap_or(&Value::Null),
            json.get("properties"),
        ),
        "Polygon" | "MultiPolygon" => (json, None),
        other => return Err(CustomAreaError::WrongType(other.to_string())),
    };
    let name = name_override
        .map(str::to_string)
        .or_else(|| {
            properties
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or(CustomAreaError::MissingName)?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CustomAreaError::NameTooLong);
    }
    let gtype = geometry.get("type").and_then(Value::as_str).unwrap_or("");
    let coords = geometry.get("coordinates").unwrap_or(&Value::Null);
    let mut vertices = 0usize;
    let polygons: Vec<Vec<Vec<(f64, f64)>>> = match gtype {
        "Polygon" => vec![polygon_from_json(coords, &mut vertices)?],
        "MultiPolygon" => coords
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| CustomAreaError::BadCoordinates("lege MultiPolygon".into()))?
            .iter()
            .map(|p| polygon_from_json(p, &mut vertices))
            .collect::<Result<_, _>>()?,
        other => {
            return Err(CustomAreaError::WrongType(if other.is_empty() {
                "geen geometrie".into()
            } else {
                other.to_string()
            }))
        }
    };
    // Every ring carries its closing point once.
    let distinct_vertices = vertices;
    if distinct_vertices > MAX_VERTICES {
        return Err(CustomAreaError::TooManyVertices(distinct_vertices));
    }
    let mut rd_polygons = Vec::with_capacity(polygons.len());
    for rings in polygons {
        let mut rd_rings = Vec::with_capacity(rings.len());
        for mut ring in rings {
            transformer.wgs84_to_rd_in_place(&mut ring)?;
            rd_rings.push(LineString::from(
                ring.into_iter()
                    .map(|(x, y)| Coord { x, y })
                    .collect::<Vec<_>>(),
            ));
        }
        let exterior = rd_rings.remove(0);
        rd_polygons.push(Polygon::new(exterior, rd_rings));
    }
    let geometry_rd = MultiPolygon(rd_polygons);
    if let Err(e) = geometry_rd.check_validation() {
        return Err(CustomAreaError::Invalid(translate_validation(
            &e.to_string(),
        )));
    }
    let area_m2 = geometry_rd.unsigned_area();
    if area_m2 <= 0.0 {
        return Err(CustomAreaError::Invalid("de oppervlakte is nul".into()));
    }
    let perimeter_m: f64 = geometry_rd
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|ring| Euclidean.length(ring))
        .sum();
    let mean_width_m = 2.0 * area_m2 / perimeter_m;
    if area_m2 < MIN_AREA_M2 || mean_width_m < MIN_MEAN_WIDTH_M {
        return Err(CustomAreaError::Invalid(format!(
            "het gebied is te klein of te smal om een plek te zijn ({area_m2:.1} m², gemiddeld {mean_width_m:.2} m \
             breed; minimaal {MIN_AREA_M2} m² en {MIN_MEAN_WIDTH_M} m)"
        )));
    }
    Ok(CustomAreaInput { name, geometry_rd })
}

fn translate_validation(msg: &str) -> String {
    if msg.contains("self-intersection") {
        "de rand snijdt zichzelf".into()
    } else if msg.contains("not contained within") {
        "een gat ligt niet binnen de buitenrand".into()
    } else if msg.contains("intersect") || msg.contains("overlap") {
        "delen van het gebied overlappen of raken elkaar".into()
    } else {
        msg.to_string()
    }
}

/// Refuse an area of which more than [`MAX_OUTSIDE_SHARE`] lies outside `municipality` (RD). An empty
/// municipality (no boundaries imported) accepts everything.
pub fn check_within(
    area_rd: &MultiPolygon<f64>,
    municipality_rd: &MultiPolygon<f64>,
) -> Result<(), CustomAreaError> {
    if municipality_rd.0.is_empty() {
        return Ok(());
    }
    let total = area_rd.unsigned_area();
    if total <= 0.0 {
        return Ok(());
    }
    let outside = area_rd.difference(municipality_rd).unsigned_area();
    let share = outside / total;
    if share > MAX_OUTSIDE_SHARE {
        return Err(CustomAreaError::OutsideMunicipality {
            percent: share * 100.0,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t() -> Transformer {
        Transformer::new().unwrap()
    }

    fn square(lon: f64, lat: f64, d: f64) -> Value {
        json!([[
            [lon, lat],
            [lon + d, lat],
            [lon + d, lat + d],
            [lon, lat + d],
            [lon, lat]
        ]])
    }

    #[test]
    fn valid_feature_becomes_rd() {
        let f = json!({"type": "Feature", "properties": {"name": " Torenflats en omgeving "},
            "geometry": {"type": "Polygon", "coordinates": square(5.0, 52.0, 0.01)}});
        let a = parse_feature(&f, None, &t()).unwrap();
        assert_eq!(a.name, "Torenflats en omgeving");
        // 0.01 deg lon x 0.01 deg lat at 52N: about 686 m x 1113 m.
        let area = a.geometry_rd.unsigned_area();
        assert!((area - 686.0 * 1113.0).abs() / area < 0.02, "{area}");
    }

    #[test]
    fn unclosed_ring_is_closed() {
        let f = json!({"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Polygon",
            "coordinates": [[[5.0, 52.0], [5.01, 52.0], [5.01, 52.01]]]}});
        assert!(parse_feature(&f, None, &t()).is_ok());
    }

    #[test]
    fn refusals() {
        let t = t();
        let feat = |g: Value, name: Value| json!({"type": "Feature", "properties": {"name": name}, "geometry": g});
        let poly = json!({"type": "Polygon", "coordinates": square(5.0, 52.0, 0.01)});
        assert_eq!(
            parse_feature(&feat(poly.clone(), json!("")), None, &t),
            Err(CustomAreaError::MissingName)
        );
        assert!(matches!(
            parse_feature(&json!({"type": "Point", "coordinates": [5, 52]}), None, &t),
            Err(CustomAreaError::WrongType(_))
        ));
        let bowtie = json!({"type": "Polygon", "coordinates": [[[5.0, 52.0], [5.01, 52.01], [5.01, 52.0], [5.0, 52.01], [5.0, 52.0]]]});
        assert!(matches!(
            parse_feature(&feat(bowtie, json!("x")), None, &t),
            Err(CustomAreaError::Invalid(m)) if m.contains("snijdt")
        ));
        let paris = json!({"type": "Polygon", "coordinates": square(2.35, 48.85, 0.01)});
        assert!(matches!(
            parse_feature(&feat(paris, json!("x")), None, &t),
            Err(CustomAreaError::OutsideNetherlands { .. })
        ));
        let line =
            json!({"type": "Polygon", "coordinates": [[[5.0, 52.0], [5.01, 52.0], [5.0, 52.0]]]});
        assert_eq!(
            parse_feature(&feat(line, json!("x")), None, &t),
            Err(CustomAreaError::TooFewPoints)
        );
        let n = MAX_VERTICES + 5;
        let ring: Vec<Value> = (0..=n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                json!([5.0 + 0.01 * a.cos(), 52.0 + 0.01 * a.sin()])
            })
            .collect();
        let big = json!({"type": "Polygon", "coordinates": [ring]});
        assert!(matches!(
            parse_feature(&feat(big, json!("x")), None, &t),
            Err(CustomAreaError::TooManyVertices(_))
        ));
        // Slivers and specks: 1 km by 0.5 m (mean width ~0.5 m), 0.8 m by 0.8 m; 3 m by 3 m is accepted.
        let rect = |w_deg: f64, h_deg: f64| {
            json!({"type": "Polygon", "coordinates": [[[5.0, 52.0], [5.0 + w_deg, 52.0],
                [5.0 + w_deg, 52.0 + h_deg], [5.0, 52.0 + h_deg], [5.0, 52.0]]]})
        };
        // At 52° N: 1° longitude ~ 68.7 km, 1° latitude ~ 111.3 km.
        for (w, h) in [(0.0146, 0.0000045), (0.0000116, 0.0000072)] {
            match parse_feature(&feat(rect(w, h), json!("x")), None, &t) {
                Err(CustomAreaError::Invalid(m)) => {
                    assert!(m.contains("te klein of te smal"), "{m}")
                }
                other => panic!("{w} x {h}: {other:?}"),
            }
        }
        let ok = parse_feature(&feat(rect(0.0000437, 0.000027), json!("x")), None, &t);
        assert!(ok.is_ok(), "{ok:?}");
        let long = "a".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            parse_feature(&feat(poly, json!(long)), None, &t),
            Err(CustomAreaError::NameTooLong)
        );
    }

    #[test]
    fn within_municipality_share() {
        use geo_types::polygon;
        let gm: MultiPolygon<f64> =
            polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)].into();
        let inside: MultiPolygon<f64> =
            polygon![(x: 10.0, y: 10.0), (x: 50.0, y: 10.0), (x: 50.0, y: 50.0), (x: 10.0, y: 50.0)].into();
        let half: MultiPolygon<f64> =
            polygon![(x: 80.0, y: 10.0), (x: 120.0, y: 10.0), (x: 120.0, y: 50.0), (x: 80.0, y: 50.0)].into();
        assert!(check_within(&inside, &gm).is_ok());
        match check_within(&half, &gm) {
            Err(CustomAreaError::OutsideMunicipality { percent }) => {
                assert!((percent - 50.0).abs() < 1e-6)
            }
            other => panic!("{other:?}"),
        }
    }
}
