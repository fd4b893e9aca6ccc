//! Area statistics exports for BI tools: `GET /api/stats.geojson`, `/api/stats.topojson`, `/api/stats.csv`
//! (`?level=gemeente|wijk|buurt|custom`, default `buurt`, plus the common filters). CORS for the configured
//! origins comes from the router's CORS layer.
//!
//! Every area of the level is one feature/row with `code`, `name`, `count` (incidents in the filter),
//! `inhabitants`, `rate` (per 1,000 inhabitants; null when unknown), `prev_count` (the equally long period just
//! before) and `change` (`count / prev_count - 1`; null when `prev_count` = 0). Geometry is WGS84 lon/lat
//! (6 decimals).
//!
//! - GeoJSON: a FeatureCollection of MultiPolygons (`application/geo+json`).
//! - TopoJSON: a Topology with one GeometryCollection object named after the level (`buurten`, `wijken`,
//!   `gemeenten`, `custom`), quantized (`transform`, 1e5 steps per axis, delta-encoded arcs) with shared arcs:
//!   rings are cut at junctions and a border between two areas is stored once (referenced reversed, `~i`, by
//!   the second area), as `topojson-server` does; Power BI's Shape Map reads it. Rings that collapse under
//!   quantization to fewer than 4 positions are dropped (a polygon whose exterior collapses too).
//! - CSV: UTF-8, comma-separated, columns
//!   `code,name,level,count,count_label,inhabitants,rate,prev_count,prev_count_label,change,wkt` with a
//!   WKT `MULTIPOLYGON` (for Power BI reference layers).
//!
//! Viewers and anonymous callers get protected counts (see [`super::areas::protected_table`]; the same values
//! as the tiles and the statistics API): a withheld count is `null` in GeoJSON/TopoJSON with `count_label`
//! (`"< k"`, or `">= k"` for a complement) and `suppressed: true`; in CSV the `count` column is empty and the
//! `count_label` column holds the label (likewise `prev_count`/`prev_count_label`); rates and changes derived
//! from a withheld count are empty. Exact callers get the same columns with empty labels.
//!
//! All three carry `Content-Disposition: attachment; filename="brandpunt-{level}.{ext}"`. Bodies are cached per
//! (generation, level, filter, format, protected or not).

use super::caches::{ExportBodyKey, Wgs84RingsKey};
use super::error::ApiError;
use super::filter::Filter;
use super::tiles::rate_per_1000;
use super::AppState;
use super::Caller;
use crate::dataset::{Level, Snapshot};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/stats.geojson", get(geojson))
        .route("/api/stats.topojson", get(topojson))
        .route("/api/stats.csv", get(csv_export))
}

/// Export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    GeoJson,
    TopoJson,
    Csv,
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::TopoJson => "topojson",
            Format::Csv => "csv",
        }
    }
    fn content_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::TopoJson => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// WGS84 rings of a multipolygon: polygons -> rings -> (lon, lat).
pub type Rings = Vec<Vec<Vec<(f64, f64)>>>;

/// One area's row.
struct Row {
    code: String,
    name: String,
    level: &'static str,
    /// `None` when withheld.
    count: Option<u64>,
    count_label: Option<String>,
    inhabitants: Option<i64>,
    rate: Option<f64>,
    prev_count: Option<u64>,
    prev_count_label: Option<String>,
    change: Option<f64>,
    rings: Arc<Rings>,
}

impl Row {
    fn properties(&self) -> Value {
        json!({
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "count": self.count,
            "count_label": self.count_label,
            "suppressed": self.count.is_none(),
            "inhabitants": self.inhabitants,
            "rate": self.rate,
            "prev_count": self.prev_count,
            "prev_count_label": self.prev_count_label,
            "change": self.change,
        })
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// WGS84 rings of every area of `level`, cached per generation.
fn wgs84_rings(
    state: &AppState,
    s: &Snapshot,
    level: Level,
) -> Result<Arc<Vec<Arc<Rings>>>, ApiError> {
    let key = Wgs84RingsKey {
        generation: s.generation,
        level,
    };
    if let Some(v) = state.caches.get(&key) {
        return Ok(v);
    }
    let v = crate::coords::with_thread_transformer(|t| {
        s.level_areas(level)
            .iter()
            .map(|&i| {
                s.area(i)
                    .geometry_rd
                    .0
                    .iter()
                    .map(|p| {
                        std::iter::once(p.exterior())
                            .chain(p.interiors())
                            .map(|ring| {
                                let mut pts: Vec<(f64, f64)> =
                                    ring.0.iter().map(|c| (c.x, c.y)).collect();
                                t.rd_to_wgs84_in_place(&mut pts)?;
                                Ok(pts
                                    .into_iter()
                                    .map(|(x, y)| (round6(x), round6(y)))
                                    .collect())
                            })
                            .collect::<Result<Vec<_>, crate::coords::CoordError>>()
                    })
                    .collect::<Result<Rings, _>>()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let v = Arc::new(v);
    state.caches.insert(key, v.clone());
    Ok(v)
}

fn rows(
    state: &AppState,
    s: &Snapshot,
    level: Level,
    filter: &Filter,
    protect: bool,
) -> Result<Vec<Row>, ApiError> {
    let table = super::areas::protected_table(state, s, filter, protect);
    let prev = filter
        .previous(s)
        .map(|p| super::areas::protected_table(state, s, &p, protect));
    let rings = wgs84_rings(state, s, level)?;
    Ok(s.level_areas(level)
        .iter()
        .zip(rings.iter())
        .map(|(&i, r)| {
            let a = s.area(i);
            let count = table.published(i as usize);
            let prev_count = prev.as_ref().and_then(|p| p.published(i as usize));
            Row {
                code: a.code.clone(),
                name: a.name.clone(),
                level: a.level.as_str(),
                count,
                count_label: table.label(i as usize),
                inhabitants: a.inhabitants,
                rate: a
                    .inhabitants
                    .filter(|&n| n > 0)
                    .zip(count)
                    .map(|(n, c)| rate_per_1000(c.min(u64::from(u32::MAX)) as u32, n)),
                prev_count,
                prev_count_label: prev.as_ref().and_then(|p| p.label(i as usize)),
                change: prev_count
                    .filter(|&p| p > 0)
                    .zip(count)
                    .map(|(p, c)| c as f64 / p as f64 - 1.0),
                rings: r.clone(),
            }
        })
        .collect())
}

fn geojson_body(rows: &[Row]) -> Value {
    let features: Vec<Value> = rows
        .iter()
        .map(|r| {
            let coords: Vec<Value> = r
                .rings
                .iter()
                .map(|poly| {
                    Value::Array(
                        poly.iter()
                            .map(|ring| {
                                Value::Array(ring.iter().map(|&(x, y)| json!([x, y])).collect())
                            })
                            .collect(),
                    )
                })
                .collect();
            json!({
                "type": "Feature",
                "id": crate::dataset::feature_id(&r.code),
                "properties": r.properties(),
                "geometry": {"type": "MultiPolygon", "coordinates": coords},
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

/// Quantization steps per axis of the TopoJSON export.
pub const TOPOJSON_QUANTIZATION: f64 = 1e5;

fn object_name(level: Level) -> &'static str {
    match level {
        Level::Gemeente => "gemeenten",
        Level::Wijk => "wijken",
        Level::Buurt => "buurten",
        Level::Custom => "custom",
    }
}

fn topojson_body(rows: &[Row], level: Level) -> Value {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for r in rows {
        for &(x, y) in r.rings.iter().flatten().flatten() {
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
    }
    if !b[0].is_finite() {
        b = [0.0, 0.0, 0.0, 0.0];
    }
    let n = TOPOJSON_QUANTIZATION - 1.0;
    let sx = if b[2] > b[0] { (b[2] - b[0]) / n } else { 1.0 };
    let sy = if b[3] > b[1] { (b[3] - b[1]) / n } else { 1.0 };
    // Quantize every ring (dropping repeated positions and rings that collapse to fewer than 4 positions; a
    // polygon whose exterior collapses is dropped), then cut the rings into shared arcs.
    let mut flat: Vec<Vec<(i64, i64)>> = Vec::new();
    // Per row, per polygon: indices into `flat`.
    let mut layout: Vec<Vec<Vec<usize>>> = Vec::with_capacity(rows.len());
    for r in rows {
        let mut polys = Vec::new();
        for poly in r.rings.iter() {
            let mut idx = Vec::new();
            for (k, ring) in poly.iter().enumerate() {
                let mut q: Vec<(i64, i64)> = Vec::with_capacity(ring.len());
                for &(x, y) in ring {
                    let p = (
                        ((x - b[0]) / sx).round() as i64,
                        ((y - b[1]) / sy).round() as i64,
                    );
                    if q.last() != Some(&p) {
                        q.push(p);
                    }
                }
                if q.first() != q.last() {
                    if let Some(&p0) = q.first() {
                        q.push(p0);
                    }
                }
                if q.len() < 4 {
                    if k == 0 {
                        break;
                    }
                    continue;
                }
                idx.push(flat.len());
                flat.push(q);
            }
            if !idx.is_empty() {
                polys.push(idx);
            }
        }
        layout.push(polys);
    }
    let (arcs, refs) = shared_arcs(&flat);
    let arcs: Vec<Value> = arcs
        .iter()
        .map(|arc| {
            let mut prev = (0i64, 0i64);
            Value::Array(
                arc.iter()
                    .map(|&(x, y)| {
                        let d = json!([x - prev.0, y - prev.1]);
                        prev = (x, y);
                        d
                    })
                    .collect(),
            )
        })
        .collect();
    let mut geometries = Vec::with_capacity(rows.len());
    for (r, polys) in rows.iter().zip(&layout) {
        let mut g = Map::new();
        if polys.is_empty() {
            g.insert("type".into(), json!(null));
        } else {
            g.insert("type".into(), json!("MultiPolygon"));
            g.insert(
                "arcs".into(),
                json!(polys
                    .iter()
                    .map(|p| p.iter().map(|&k| refs[k].clone()).collect::<Vec<_>>())
                    .collect::<Vec<_>>()),
            );
        }
        g.insert("id".into(), json!(r.code));
        g.insert("properties".into(), r.properties());
        geometries.push(Value::Object(g));
    }
    let mut objects = Map::new();
    objects.insert(
        object_name(level).into(),
        json!({"type": "GeometryCollection", "geometries": geometries}),
    );
    json!({
        "type": "Topology",
        "bbox": b,
        "transform": {"scale": [sx, sy], "translate": [b[0], b[1]]},
        "objects": objects,
        "arcs": arcs,
    })
}

/// Quantized positions of a ring or an arc.
type QuantizedRing = Vec<(i64, i64)>;

/// Cut closed quantized rings (first == last, at least 4 positions) into arcs shared between rings, as TopoJSON
/// does: a junction is a position that occurs with different (unordered) neighbour pairs; rings are cut at
/// junctions, a ring without junctions is one closed arc (rotated to start at its smallest position), and an
/// arc equal to an earlier one reversed is referenced as `!i` (`-i - 1`). Returns the arcs (absolute positions)
/// and per ring its arc references; stitching the referenced arcs (dropping the first position of every arc after
/// the first) gives back the ring, possibly rotated.
fn shared_arcs(rings: &[QuantizedRing]) -> (Vec<QuantizedRing>, Vec<Vec<i64>>) {
    type P = (i64, i64);
    let open = |r: &[P]| -> Vec<P> { r[..r.len().saturating_sub(1)].to_vec() };
    let mut neighbours: HashMap<P, (P, P)> = HashMap::new();
    let mut junctions: std::collections::HashSet<P> = std::collections::HashSet::new();
    for r in rings {
        let o = open(r);
        let m = o.len();
        for k in 0..m {
            let (a, c) = (o[(k + m - 1) % m], o[(k + 1) % m]);
            let pair = if a <= c { (a, c) } else { (c, a) };
            match neighbours.get(&o[k]) {
                Some(prev) if *prev != pair => {
                    junctions.insert(o[k]);
                }
                Some(_) => {}
                None => {
                    neighbours.insert(o[k], pair);
                }
            }
        }
    }
    let mut arcs: Vec<Vec<P>> = Vec::new();
    let mut index: HashMap<Vec<P>, usize> = HashMap::new();
    let mut reference = |arc: Vec<P>, arcs: &mut Vec<Vec<P>>| -> i64 {
        if let Some(&i) = index.get(&arc) {
            return i as i64;
        }
        let rev: Vec<P> = arc.iter().rev().copied().collect();
        if let Some(&i) = index.get(&rev) {
            return -(i as i64) - 1;
        }
        index.insert(arc.clone(), arcs.len());
        arcs.push(arc);
        (arcs.len() - 1) as i64
    };
    let mut refs = Vec::with_capacity(rings.len());
    for r in rings {
        let o = open(r);
        let m = o.len();
        let cuts: Vec<usize> = (0..m).filter(|&k| junctions.contains(&o[k])).collect();
        let mut ring_refs = Vec::new();
        if cuts.is_empty() {
            let start = (0..m).min_by_key(|&k| o[k]).unwrap_or(0);
            let arc: Vec<P> = (0..=m).map(|k| o[(start + k) % m]).collect();
            ring_refs.push(reference(arc, &mut arcs));
        } else {
            for (c, &from) in cuts.iter().enumerate() {
                let to = if c + 1 < cuts.len() {
                    cuts[c + 1]
                } else {
                    cuts[0] + m
                };
                let arc: Vec<P> = (from..=to).map(|k| o[k % m]).collect();
                ring_refs.push(reference(arc, &mut arcs));
            }
        }
        refs.push(ring_refs);
    }
    (arcs, refs)
}

fn wkt(rings: &Rings) -> String {
    let mut out = String::from("MULTIPOLYGON (");
    for (pi, poly) in rings.iter().enumerate() {
        if pi > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for (ri, ring) in poly.iter().enumerate() {
            if ri > 0 {
                out.push_str(", ");
            }
            out.push('(');
            for (k, (x, y)) in ring.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{x} {y}");
            }
            out.push(')');
        }
        out.push(')');
    }
    out.push(')');
    if rings.is_empty() {
        "MULTIPOLYGON EMPTY".to_string()
    } else {
        out
    }
}

fn csv_body(rows: &[Row]) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "code",
        "name",
        "level",
        "count",
        "count_label",
        "inhabitants",
        "rate",
        "prev_count",
        "prev_count_label",
        "change",
        "wkt",
    ])
    .map_err(ApiError::internal)?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        w.write_record([
            r.code.clone(),
            r.name.clone(),
            r.level.to_string(),
            opt(r.count.map(|v| v.to_string())),
            opt(r.count_label.clone()),
            opt(r.inhabitants.map(|v| v.to_string())),
            opt(r.rate.map(|v| v.to_string())),
            opt(r.prev_count.map(|v| v.to_string())),
            opt(r.prev_count_label.clone()),
            opt(r.change.map(|v| v.to_string())),
            wkt(&r.rings),
        ])
        .map_err(ApiError::internal)?;
    }
    w.into_inner().map_err(ApiError::internal)
}

async fn export(
    state: Arc<AppState>,
    caller: Caller,
    params: HashMap<String, String>,
    format: Format,
) -> Result<Response, ApiError> {
    let s = caller.snapshot.clone();
    let level = match params.get("level") {
        Some(l) => Level::parse(l).ok_or_else(|| {
            ApiError::param(
                "level",
                format!("onbekend niveau '{l}': gemeente, wijk, buurt of custom"),
            )
        })?,
        None => Level::Buurt,
    };
    let filter = Filter::parse(&params, &s)?;
    let protect = caller.principal.sees_protected_counts();
    let key = ExportBodyKey {
        generation: s.generation,
        format,
        level,
        filter: filter.cache_key(),
        protect,
    };
    let body = match state.caches.get(&key) {
        Some(b) => b,
        None => {
            let st = state.clone();
            let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
                let rows = rows(&st, &s, level, &filter, protect)?;
                match format {
                    Format::GeoJson => {
                        serde_json::to_vec(&geojson_body(&rows)).map_err(ApiError::internal)
                    }
                    Format::TopoJson => {
                        serde_json::to_vec(&topojson_body(&rows, level)).map_err(ApiError::internal)
                    }
                    Format::Csv => csv_body(&rows),
                }
            })
            .await
            .map_err(ApiError::internal)??;
            let b = Bytes::from(body);
            state.caches.insert(key, b.clone());
            b
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"brandpunt-{}.{}\"",
                    level.as_str(),
                    format.ext()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/stats.geojson`.
async fn geojson(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    export(state, caller, params, Format::GeoJson).await
}

/// `GET /api/stats.topojson`.
async fn topojson(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    export(state, caller, params, Format::TopoJson).await
}

/// `GET /api/stats.csv`.
async fn csv_export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    export(state, caller, params, Format::Csv).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkt_writes_polygons_and_holes() {
        let rings: Rings = vec![
            vec![
                vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)],
                vec![(0.2, 0.1), (0.8, 0.1), (0.8, 0.7), (0.2, 0.1)],
            ],
            vec![vec![(5.5, 5.0), (6.0, 5.0), (6.0, 6.0), (5.5, 5.0)]],
        ];
        assert_eq!(
            wkt(&rings),
            "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0), (0.2 0.1, 0.8 0.1, 0.8 0.7, 0.2 0.1)), \
             ((5.5 5, 6 5, 6 6, 5.5 5)))"
        );
        assert_eq!(wkt(&vec![]), "MULTIPOLYGON EMPTY");
    }

    fn stitch(arcs: &[Vec<(i64, i64)>], refs: &[i64]) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = Vec::new();
        for &r in refs {
            let mut a = if r >= 0 {
                arcs[r as usize].clone()
            } else {
                let mut a = arcs[(-r - 1) as usize].clone();
                a.reverse();
                a
            };
            if !out.is_empty() {
                assert_eq!(out.last(), a.first(), "arcs connect");
                a.remove(0);
            }
            out.extend(a);
        }
        out
    }

    /// Same cyclic sequence of positions (closed rings, any rotation).
    fn same_ring(a: &[(i64, i64)], b: &[(i64, i64)]) -> bool {
        let (a, b) = (&a[..a.len() - 1], &b[..b.len() - 1]);
        a.len() == b.len()
            && (0..a.len()).any(|s| (0..a.len()).all(|k| a[(s + k) % a.len()] == b[k]))
    }

    #[test]
    fn neighbouring_squares_share_their_common_edge() {
        // Two unit squares side by side (both counter-clockwise) and a separate island.
        let left = vec![(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)];
        let right = vec![(1, 0), (2, 0), (2, 1), (1, 1), (1, 0)];
        let island = vec![(5, 5), (6, 5), (6, 6), (5, 5)];
        let rings = vec![left.clone(), right.clone(), island.clone()];
        let (arcs, refs) = shared_arcs(&rings);
        for (ring, r) in rings.iter().zip(&refs) {
            let s = stitch(&arcs, r);
            assert_eq!(s.first(), s.last());
            assert!(same_ring(ring, &s), "{ring:?} vs {s:?}");
        }
        // The shared edge (1,0)-(1,1) is one arc, used forward by one square and reversed by the other.
        let edge: Vec<usize> = arcs
            .iter()
            .enumerate()
            .filter(|(_, a)| a.len() == 2 && a.contains(&(1, 0)) && a.contains(&(1, 1)))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(edge.len(), 1);
        let i = edge[0] as i64;
        let uses: Vec<i64> = refs
            .iter()
            .flatten()
            .copied()
            .filter(|&r| r == i || r == -i - 1)
            .collect();
        assert_eq!(uses.len(), 2);
        assert_ne!(uses[0], uses[1]);
        // left: shared edge + the rest; right: the same; island: one closed arc.
        assert_eq!(arcs.len(), 4);
    }
}
