//! Area statistics exports for BI tools and GIS: `GET /api/stats.geojson`, `/api/stats.topojson`,
//! `/api/stats.csv`, `/api/stats.fgb`, `/api/stats.xlsx` (`?level=gemeente|wijk|buurt|custom`, default `buurt`, plus the common
//! filters). CORS for the configured
//! origins comes from the router's CORS layer.
//!
//! Every area of the level is one feature/row with `code`, `name`, `count` (incidents in the filter),
//! `inhabitants`, `rate` (per 1,000 inhabitants; null when unknown), `prev_count` (the equally long period just
//! before) and `change` (`count / prev_count - 1`; null when `prev_count` = 0), then the enrichment
//! ([`super::enrichment::export_columns`]): `cbs_COLUMN` for every other CBS kerncijfer of the boundary set and
//! `ind_NAME` for every municipal indicator of the caller's tenant (buurten only; null/empty where an area has no
//! value). Geometry is WGS84 lon/lat (6 decimals).
//!
//! - GeoJSON: a FeatureCollection of MultiPolygons (`application/geo+json`).
//! - TopoJSON: a Topology with one GeometryCollection object named after the level (`buurten`, `wijken`,
//!   `gemeenten`, `custom`), quantized with shared arcs ([`crate::export::topojson`]); Power BI's Shape Map
//!   reads it.
//! - CSV: UTF-8, comma-separated, columns
//!   `code,name,level,count,count_label,inhabitants,rate,prev_count,prev_count_label,change`, the enrichment
//!   columns, and `wkt` with a
//!   WKT `MULTIPOLYGON` ([`crate::export::wkt`], for Power BI reference layers).
//! - FlatGeobuf (`application/flatgeobuf`): the CSV's columns but `wkt` as typed fields, the geometry in RD New
//!   (EPSG:28992) with a spatial index ([`crate::export::fgb_bytes`]); a withheld count is null with its label.
//! - Excel (`.xlsx`, [`super::xlsx::CONTENT_TYPE`]): one worksheet named after the level (`Buurten`, `Wijken`,
//!   `Gemeenten`, `Eigen gebieden`) with the CSV's columns but `wkt`, numbers as numeric cells, a withheld
//!   count an empty cell with its label in `count_label` (as in the CSV), empty cells for nulls
//!   ([`crate::export::xlsx`]). For analysts whose Excel opens the comma-separated file as one column.
//!
//! Viewers and anonymous callers get protected counts (see [`super::AppState::protected_table`]; the same values
//! as the tiles and the statistics API): a withheld count is `null` in GeoJSON/TopoJSON with `count_label`
//! (`"< k"`, or `">= k"` for a complement) and `suppressed: true`; in CSV the `count` column is empty and the
//! `count_label` column holds the label (likewise `prev_count`/`prev_count_label`); rates and changes derived
//! from a withheld count are empty. Exact callers get the same columns with empty labels.
//!
//! All of them carry `Content-Disposition: attachment; filename="brandpunt-{level}.{ext}"`. Bodies are cached per
//! (generation, level, filter, format, protected or not).

use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::area_level::AreaLevel;
use crate::cache::CacheEntry;
use crate::dataset::FilterKey;
use crate::dataset::Snapshot;
use crate::export::geojson::{lon_lat_rings, round_degrees};
use crate::export::topojson::{topology, TopoFeature};
use crate::export::{wkt, LonLatRings};
use crate::heap_size::HeapSize;
use crate::publish::rate_per_1000;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/stats.geojson", get(geojson))
        .route("/api/stats.topojson", get(topojson))
        .route("/api/stats.csv", get(csv_export))
        .route("/api/stats.fgb", get(fgb_export))
        .route("/api/stats.xlsx", get(xlsx_export))
}

/// Export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    GeoJson,
    TopoJson,
    Csv,
    FlatGeobuf,
    Xlsx,
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::TopoJson => "topojson",
            Format::Csv => "csv",
            Format::FlatGeobuf => "fgb",
            Format::Xlsx => "xlsx",
        }
    }
    fn content_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::TopoJson => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::FlatGeobuf => "application/flatgeobuf",
            Format::Xlsx => super::xlsx::CONTENT_TYPE,
        }
    }
}

/// WGS84 rings of a multipolygon: polygons -> rings -> (lon, lat).
pub type Rings = LonLatRings;

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
    /// The enrichment values, aligned with the export's enrichment columns.
    enrichment: Vec<Option<f64>>,
    rings: Arc<Rings>,
}

impl Row {
    fn properties(&self, names: &[String]) -> Value {
        let mut v = json!({
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
        });
        for (n, x) in names.iter().zip(&self.enrichment) {
            v[n.as_str()] = json!(x);
        }
        v
    }
}

/// Cache key of `wgs84_rings`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Wgs84RingsKey {
    pub generation: u64,
    pub level: AreaLevel,
}

impl HeapSize for Wgs84RingsKey {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl CacheEntry for Wgs84RingsKey {
    type Value = Arc<Vec<Arc<Rings>>>;
    const KIND: &'static str = "wgs84_rings";
}

/// Cache key of an export body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportBodyKey {
    pub generation: u64,
    pub format: Format,
    pub level: AreaLevel,
    pub filter: FilterKey,
    pub protect: bool,
}

impl HeapSize for ExportBodyKey {
    fn heap_bytes(&self) -> usize {
        self.filter.heap_bytes()
    }
}

impl CacheEntry for ExportBodyKey {
    type Value = Bytes;
    const KIND: &'static str = "export_body";
}

/// WGS84 rings of every area of `level`, cached per generation.
fn wgs84_rings(
    state: &AppState,
    s: &Snapshot,
    level: AreaLevel,
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
                                    .map(|(x, y)| (round_degrees(x), round_degrees(y)))
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
    level: AreaLevel,
    filter: &Filter,
    protect: bool,
) -> Result<(Vec<String>, Vec<Row>), ApiError> {
    let indicators = super::enrichment::indicators(state, s)?;
    let columns = super::enrichment::export_columns(s, &indicators);
    let table = state.protected_table(s, filter, protect);
    let prev = filter
        .previous(s)
        .map(|p| state.protected_table(s, &p, protect));
    let rings = wgs84_rings(state, s, level)?;
    let rows = s
        .level_areas(level)
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
                enrichment: columns
                    .iter()
                    .map(|(_, c)| c.value(s, &indicators, i))
                    .collect(),
                rings: r.clone(),
            }
        })
        .collect();
    Ok((columns.into_iter().map(|(n, _)| n).collect(), rows))
}

fn geojson_body(names: &[String], rows: &[Row]) -> Value {
    let features: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "type": "Feature",
                "id": crate::dataset::feature_id(&r.code),
                "properties": r.properties(names),
                "geometry": lon_lat_rings(&r.rings),
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

fn object_name(level: AreaLevel) -> &'static str {
    match level {
        AreaLevel::Gemeente => "gemeenten",
        AreaLevel::Wijk => "wijken",
        AreaLevel::Buurt => "buurten",
        AreaLevel::Custom => "custom",
    }
}

fn topojson_body(names: &[String], rows: &[Row], level: AreaLevel) -> Value {
    let features: Vec<TopoFeature<'_>> = rows
        .iter()
        .map(|r| TopoFeature {
            id: &r.code,
            rings: &r.rings,
            properties: r.properties(names),
        })
        .collect();
    topology(object_name(level), &features)
}

fn csv_body(names: &[String], rows: &[Row]) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = vec![
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
    ];
    header.extend(names.iter().map(String::as_str));
    header.push("wkt");
    w.write_record(&header).map_err(ApiError::internal)?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        let mut record = vec![
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
        ];
        record.extend(r.enrichment.iter().map(|v| opt(v.map(|v| v.to_string()))));
        record.push(wkt::multipolygon(&r.rings));
        w.write_record(&record).map_err(ApiError::internal)?;
    }
    w.into_inner().map_err(ApiError::internal)
}

/// The CSV's columns but `wkt` as a typed table: a withheld count is null with its label.
fn typed_table(names: &[String], rows: &[Row]) -> crate::export::Table {
    use crate::export::{ColumnType, Table, Value as Cell};
    let mut columns = vec![
        ("code", ColumnType::Text),
        ("name", ColumnType::Text),
        ("level", ColumnType::Text),
        ("count", ColumnType::Int),
        ("count_label", ColumnType::Text),
        ("inhabitants", ColumnType::Int),
        ("rate", ColumnType::Real),
        ("prev_count", ColumnType::Int),
        ("prev_count_label", ColumnType::Text),
        ("change", ColumnType::Real),
    ];
    columns.extend(names.iter().map(|n| (n.as_str(), ColumnType::Real)));
    let mut t = Table::new(&columns);
    let int = |v: Option<u64>| v.map_or(Cell::Null, |v| Cell::Int(v.min(i64::MAX as u64) as i64));
    let text = |v: &Option<String>| v.clone().map_or(Cell::Null, Cell::Text);
    let real = |v: Option<f64>| v.map_or(Cell::Null, Cell::Real);
    for r in rows {
        let mut row = vec![
            Cell::Text(r.code.clone()),
            Cell::Text(r.name.clone()),
            Cell::Text(r.level.to_string()),
            int(r.count),
            text(&r.count_label),
            r.inhabitants.map_or(Cell::Null, Cell::Int),
            real(r.rate),
            int(r.prev_count),
            text(&r.prev_count_label),
            real(r.change),
        ];
        row.extend(r.enrichment.iter().map(|v| real(*v)));
        t.rows.push(row);
    }
    t
}

/// The worksheet name of a level's areas (Dutch).
fn sheet_name(level: AreaLevel) -> &'static str {
    match level {
        AreaLevel::Gemeente => "Gemeenten",
        AreaLevel::Wijk => "Wijken",
        AreaLevel::Buurt => "Buurten",
        AreaLevel::Custom => "Eigen gebieden",
    }
}

/// The rows as a FlatGeobuf file: the CSV's columns (typed, `wkt` left out) and the areas' RD geometry.
fn fgb_body(
    s: &Snapshot,
    level: AreaLevel,
    names: &[String],
    rows: &[Row],
) -> Result<Vec<u8>, ApiError> {
    let t = typed_table(names, rows);
    let geometries: Vec<geo_types::Geometry<f64>> = s
        .level_areas(level)
        .iter()
        .map(|&i| s.area(i).geometry_rd.clone().into())
        .collect();
    crate::export::fgb_bytes(object_name(level), &t, &geometries).map_err(ApiError::internal)
}

async fn export(
    state: Arc<AppState>,
    caller: Caller,
    params: HashMap<String, String>,
    format: Format,
) -> Result<Response, ApiError> {
    let s = caller.snapshot.clone();
    let level = match params.get("level") {
        Some(l) => AreaLevel::parse(l).ok_or_else(|| {
            ApiError::param(
                "level",
                format!("onbekend niveau '{l}': gemeente, wijk, buurt of custom"),
            )
        })?,
        None => AreaLevel::Buurt,
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
            let body = state
                .blocking
                .run(move |cancel| -> Result<Vec<u8>, ApiError> {
                    let (names, rows) = rows(&st, &s, level, &filter, protect)?;
                    cancel.check()?;
                    match format {
                        Format::GeoJson => serde_json::to_vec(&geojson_body(&names, &rows))
                            .map_err(ApiError::internal),
                        Format::TopoJson => {
                            serde_json::to_vec(&topojson_body(&names, &rows, level))
                                .map_err(ApiError::internal)
                        }
                        Format::Csv => csv_body(&names, &rows),
                        Format::FlatGeobuf => fgb_body(&s, level, &names, &rows),
                        Format::Xlsx => super::xlsx::workbook(&[(
                            sheet_name(level),
                            typed_table(&names, &rows),
                        )]),
                    }
                })
                .await?;
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

/// `GET /api/stats.fgb`.
async fn fgb_export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    export(state, caller, params, Format::FlatGeobuf).await
}

/// `GET /api/stats.xlsx`.
async fn xlsx_export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    export(state, caller, params, Format::Xlsx).await
}
