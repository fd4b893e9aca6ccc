//! `GET /ogc/collections/{id}/items` and `/items/{featureId}`: the features of a collection as GeoJSON, one page
//! at a time.
//!
//! Parameters (anything else is 400 naming it):
//! - `limit` (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]; larger values are capped) and `offset` (0 up),
//!   with `next`/`prev` links and `numberMatched`/`numberReturned`;
//! - `bbox` (`minx,miny,maxx,maxy`) in `bbox-crs` (default CRS84): the features whose geometry intersects the
//!   box (drawn in RD, [`super::crs::box_to_rd`]);
//! - `crs`: the CRS of the answer (default CRS84), echoed in the `Content-Crs` header;
//! - `datetime`: a day or an interval `a/b` with open ends `..` (dates `YYYY-MM-DD`, or date-times at
//!   midnight): the incidents whose window begins on those days, the same rule as `from`/`to` elsewhere (for the
//!   area collections: the incidents counted);
//! - `category`, `source`: the common filters ([`crate::server::filter`]);
//! - `hotspots` also `bins` (as `/api/hotspots`, default `grid:100`, limited for viewers).
//!
//! The area collections' features carry `code`, `name`, the protected `count` (`count_label`, `suppressed`),
//! `inhabitants`, `rate` and the enrichment (`cbs_COLUMN`, `ind_NAME`: [`crate::server::enrichment`]).
//!
//! Cost follows the page: the area collections read the cached count table of the filter and convert the
//! geometry of the page's areas only; `incidents` selects in the snapshot and reads the stored details of the
//! page's incidents only, and writes one audit record per page with the number of incidents served.

use super::collections::{find, Kind};
use super::crs::{box_to_rd, parse_bbox, Crs};
use super::{base_url, check_params, link, query_string, GEOJSON, JSON};
use crate::area_level::AreaLevel;
use crate::coords::Transformer;
use crate::dataset::Snapshot;
use crate::publish::rate_per_1000;
use crate::server::error::ApiError;
use crate::server::filter::Filter;
use crate::server::hotspots::{cell_count, check_grid_size, gistar_cells, limit_bins, parse_bins};
use crate::server::incidents::address_filter;
use crate::server::{access_log, AppState, Caller};
use crate::suppression::Protected;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use geo::{BoundingRect, Intersects};
use geo_types::{Point, Polygon, Rect};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Features per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page; a larger `limit` is capped to it.
pub const MAX_LIMIT: usize = 10_000;

/// The parameters of an items request (besides `bins` of `hotspots`).
pub const ITEMS_PARAMS: &[&str] = &[
    "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "category", "source",
];
/// The parameters of a single feature.
pub const ITEM_PARAMS: &[&str] = &["crs", "datetime", "category", "source"];

/// A parsed items request.
#[derive(Clone, Debug)]
pub struct ItemsQuery {
    pub limit: usize,
    pub offset: usize,
    pub crs: Crs,
    /// The box and its CRS.
    pub bbox: Option<([f64; 4], Crs)>,
    /// `category`, `source` and `from`/`to` (from `datetime`), for [`Filter::parse`].
    pub filter_params: HashMap<String, String>,
}

impl ItemsQuery {
    /// Read the (already checked) parameters; 400 naming the parameter for a bad value.
    pub fn parse(params: &HashMap<String, String>) -> Result<ItemsQuery, ApiError> {
        let given = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let limit = match given("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<u64>() {
                Ok(0) | Err(_) => {
                    return Err(ApiError::param(
                        "limit",
                        format!("'{v}': verwacht een geheel getal vanaf 1"),
                    ))
                }
                Ok(n) => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
            },
        };
        let offset = match given("offset") {
            None => 0,
            Some(v) => v.parse::<usize>().map_err(|_| {
                ApiError::param(
                    "offset",
                    format!("'{v}': verwacht een geheel getal vanaf 0"),
                )
            })?,
        };
        let crs = given("crs")
            .map(|v| Crs::parse("crs", v))
            .transpose()?
            .unwrap_or(Crs::Crs84);
        let bbox_crs = given("bbox-crs")
            .map(|v| Crs::parse("bbox-crs", v))
            .transpose()?;
        let bbox = given("bbox").map(parse_bbox).transpose()?;
        if bbox.is_none() && bbox_crs.is_some() {
            return Err(ApiError::param(
                "bbox-crs",
                "bbox-crs zonder bbox: geef ook een bbox",
            ));
        }
        let mut filter_params = HashMap::new();
        for name in ["category", "source"] {
            if let Some(v) = given(name) {
                filter_params.insert(name.to_string(), v.to_string());
            }
        }
        if let Some(v) = given("datetime") {
            let (from, to) = parse_datetime(v)?;
            if let Some(f) = from {
                filter_params.insert("from".into(), f.to_string());
            }
            if let Some(t) = to {
                filter_params.insert("to".into(), t.to_string());
            }
        }
        Ok(ItemsQuery {
            limit,
            offset,
            crs,
            bbox: bbox.map(|b| (b, bbox_crs.unwrap_or(Crs::Crs84))),
            filter_params,
        })
    }
}

/// One end of a `datetime` value: a date, or a date-time at midnight (its date); `None` for an open end.
fn datetime_end(value: &str, raw: &str) -> Result<Option<NaiveDate>, ApiError> {
    let v = value.trim();
    if v.is_empty() || v == ".." {
        return Ok(None);
    }
    let bad = |why: &str| ApiError::param("datetime", format!("'{raw}': {why}"));
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(Some(d));
    }
    let t = chrono::DateTime::parse_from_rfc3339(v)
        .map_err(|_| bad("verwacht een datum (JJJJ-MM-DD), een tijdstip (RFC 3339) of een interval a/b met .. voor een open einde"))?;
    if t.time() != chrono::NaiveTime::MIN {
        return Err(bad(
            "de periode werkt per dag (de begindag van het incident): geef datums of tijdstippen om middernacht",
        ));
    }
    Ok(Some(t.date_naive()))
}

/// Parse `datetime`: an instant (one day) or an interval with open ends (`..` or empty) into the days
/// `from..=to` on which an incident's window begins; 400 naming `datetime` for anything else.
///
/// ```
/// use brandpunt::server::ogc::items::parse_datetime;
/// use chrono::NaiveDate;
/// let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day);
/// assert_eq!(parse_datetime("2024-03-01").unwrap(), (d(3, 1), d(3, 1)));
/// assert_eq!(parse_datetime("2024-03-01/..").unwrap(), (d(3, 1), None));
/// assert_eq!(parse_datetime("../2024-03-31T00:00:00Z").unwrap(), (None, d(3, 31)));
/// assert!(parse_datetime("2024-03-31/2024-03-01").is_err());
/// ```
pub fn parse_datetime(raw: &str) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let (from, to) = match raw.split_once('/') {
        Some((a, b)) => match (datetime_end(a, raw)?, datetime_end(b, raw)?) {
            (None, None) => {
                return Err(ApiError::param(
                    "datetime",
                    format!("'{raw}': een interval heeft minstens één einde"),
                ))
            }
            ends => ends,
        },
        None => {
            let d = datetime_end(raw, raw)?;
            if d.is_none() {
                return Err(ApiError::param(
                    "datetime",
                    format!("'{raw}': geef een datum of een interval"),
                ));
            }
            (d, d)
        }
    };
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::param(
                "datetime",
                format!("'{raw}': het einde ligt voor het begin"),
            ));
        }
    }
    Ok((from, to))
}

/// A `bbox` drawn in RD, with its bounding boxes in RD and Web Mercator for a quick first test.
pub struct Window {
    pub rd: Polygon<f64>,
    pub rect_rd: Rect<f64>,
    pub rect_m: Rect<f64>,
}

impl Window {
    /// The window of `bbox` in its CRS; 400 naming `bbox` when it cannot be drawn in RD.
    pub fn new(t: &Transformer, bbox: [f64; 4], crs: Crs) -> Result<Window, ApiError> {
        let bad = |e: crate::coords::CoordError| {
            ApiError::param(
                "bbox",
                format!("kader buiten het bereik van {}: {e}", crs.uri()),
            )
        };
        let rd = box_to_rd(t, crs, bbox).map_err(bad)?;
        let mut ring: Vec<(f64, f64)> = rd.exterior().0.iter().map(|c| (c.x, c.y)).collect();
        t.rd_to_web_mercator_in_place(&mut ring).map_err(bad)?;
        let rect = |pts: &mut dyn Iterator<Item = (f64, f64)>| {
            let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for (x, y) in pts {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
            Rect::new((x0, y0), (x1, y1))
        };
        let rect_m = rect(&mut ring.into_iter());
        let rect_rd = rd
            .bounding_rect()
            .ok_or_else(|| ApiError::param("bbox", "leeg kader"))?;
        Ok(Window {
            rd,
            rect_rd,
            rect_m,
        })
    }
}

/// One page of features and how many match in all.
pub struct Page {
    pub features: Vec<Value>,
    pub matched: usize,
}

/// The index range of the page `offset..offset+limit` in `n` matches.
fn page_range(n: usize, q: &ItemsQuery) -> std::ops::Range<usize> {
    let start = q.offset.min(n);
    start..start.saturating_add(q.limit).min(n)
}

/// The window of the query, if it has a box.
fn window_of(t: &Transformer, q: &ItemsQuery) -> Result<Option<Window>, ApiError> {
    q.bbox.map(|(b, c)| Window::new(t, b, c)).transpose()
}

fn with_transformer<R>(f: impl FnOnce(&Transformer) -> Result<R, ApiError>) -> Result<R, ApiError> {
    crate::coords::with_thread_transformer(f).map_err(ApiError::internal)?
}

/// The enrichment columns of the area collections and the values they read.
type Enrichment = (
    Arc<crate::dataset::area_stats::AreaStatsTable>,
    Vec<(String, crate::server::enrichment::Column)>,
);

/// The GeoJSON feature of area `i` with its published count and its enrichment (`cbs_COLUMN`, `ind_NAME`:
/// [`crate::server::enrichment::export_columns`]).
fn area_feature(
    t: &Transformer,
    s: &Snapshot,
    i: u32,
    table: &Protected,
    enrichment: &Enrichment,
    crs: Crs,
) -> Result<Value, ApiError> {
    let a = s.area(i);
    let count = table.published(i as usize);
    let rate = a
        .inhabitants
        .filter(|&n| n > 0)
        .zip(count)
        .map(|(n, c)| rate_per_1000(c.min(u64::from(u32::MAX)) as u32, n));
    let mut properties = json!({
        "code": a.code,
        "name": a.name,
        "count": count,
        "count_label": table.label(i as usize),
        "suppressed": count.is_none(),
        "inhabitants": a.inhabitants,
        "rate": rate,
    });
    let (indicators, columns) = enrichment;
    for (name, c) in columns {
        properties[name.as_str()] = json!(c.value(s, indicators, i));
    }
    Ok(json!({
        "type": "Feature",
        "id": a.code,
        "geometry": crs.multipolygon(t, &a.geometry_rd).map_err(ApiError::internal)?,
        "properties": properties,
    }))
}

/// A page of the areas of `level` (or the area `one`).
async fn areas(
    state: &Arc<AppState>,
    caller: &Caller,
    level: AreaLevel,
    q: &ItemsQuery,
    one: Option<&str>,
) -> Result<Page, ApiError> {
    let s = caller.snapshot.clone();
    let filter = Filter::parse(&q.filter_params, &s)?;
    let protect = caller.principal.sees_protected_counts();
    let one = match one {
        Some(code) => Some(
            s.area_index(code)
                .filter(|&i| s.area(i).level == level)
                .ok_or_else(|| ApiError::NotFound(format!("onbekend gebied '{code}'")))?,
        ),
        None => None,
    };
    let (st, q) = (state.clone(), q.clone());
    state
        .blocking
        .run(move |cancel| {
            let table = st.protected_table(&s, &filter, protect);
            let indicators = crate::server::enrichment::indicators(&st, &s)?;
            let columns = crate::server::enrichment::export_columns(&s, &indicators);
            let enrichment: Enrichment = (indicators, columns);
            with_transformer(|t| {
                if let Some(i) = one {
                    return Ok(Page {
                        features: vec![area_feature(t, &s, i, &table, &enrichment, q.crs)?],
                        matched: 1,
                    });
                }
                let window = window_of(t, &q)?;
                let mut matched = Vec::new();
                for (n, &i) in s.level_areas(level).iter().enumerate() {
                    if n % 1024 == 0 {
                        cancel.check()?;
                    }
                    if let Some(w) = &window {
                        let a = s.area(i);
                        if !w.rect_m.intersects(&a.bbox_m) || !w.rd.intersects(&a.geometry_rd) {
                            continue;
                        }
                    }
                    matched.push(i);
                }
                let features = matched[page_range(matched.len(), &q)]
                    .iter()
                    .map(|&i| area_feature(t, &s, i, &table, &enrichment, q.crs))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page {
                    features,
                    matched: matched.len(),
                })
            })
        })
        .await
}

/// A page of the Gi* cells of the filter (or the cell `one`).
async fn hotspots(
    state: &Arc<AppState>,
    caller: &Caller,
    params: &HashMap<String, String>,
    q: &ItemsQuery,
    one: Option<&str>,
) -> Result<Page, ApiError> {
    let s = caller.snapshot.clone();
    let filter = Filter::parse(&q.filter_params, &s)?.within_gemeenten_by_default(&s);
    let protect = caller.principal.sees_protected_counts();
    let bins = limit_bins(parse_bins(params)?, &caller.principal);
    if let crate::analysis::grid::BinSpec::Grid { cell_m } = bins {
        if let Some(extent) = filter
            .study
            .as_ref()
            .map(|s| s.bbox_rd)
            .or_else(|| s.incident_bounds_rd())
        {
            check_grid_size(extent, cell_m)?;
        }
    }
    let turn = state.heavy.enter().await?;
    let (st, q, one) = (state.clone(), q.clone(), one.map(str::to_string));
    state
        .blocking
        .run(move |cancel| {
            let _turn = turn;
            let Some(gi) = gistar_cells(&st, &s, &filter, bins, cancel)? else {
                return match one {
                    Some(id) => Err(ApiError::NotFound(format!("onbekende cel '{id}'"))),
                    None => Ok(Page {
                        features: vec![],
                        matched: 0,
                    }),
                };
            };
            with_transformer(|t| {
                let matched: Vec<usize> = match &one {
                    Some(id) => vec![gi
                        .places
                        .ids
                        .iter()
                        .position(|c| c == id)
                        .ok_or_else(|| ApiError::NotFound(format!("onbekende cel '{id}'")))?],
                    None => {
                        let window = window_of(t, &q)?;
                        let mut m = Vec::new();
                        for k in 0..gi.places.ids.len() {
                            if k % 4096 == 0 {
                                cancel.check()?;
                            }
                            let inside = window.as_ref().is_none_or(|w| {
                                let poly = &gi.places.polygons_rd[k];
                                poly.bounding_rect()
                                    .is_some_and(|r| r.intersects(&w.rect_rd))
                                    && w.rd.intersects(poly)
                            });
                            if inside {
                                m.push(k);
                            }
                        }
                        m
                    }
                };
                let range = if one.is_some() {
                    0..matched.len()
                } else {
                    page_range(matched.len(), &q)
                };
                let features = matched[range]
                    .iter()
                    .map(|&k| {
                        let id = &gi.places.ids[k];
                        let (count, label) = cell_count(&st, &s, &filter, protect, id, gi.counts[k]);
                        Ok(json!({
                            "type": "Feature",
                            "id": id,
                            "geometry": q.crs.multipolygon(t, &gi.places.polygons_rd[k]).map_err(ApiError::internal)?,
                            "properties": {
                                "id": id,
                                "bins": bins.to_string(),
                                "count": count,
                                "count_label": label,
                                "suppressed": count.is_none(),
                                "z": crate::surfaces::json_number(gi.result.z[k]),
                                "p": crate::surfaces::json_number(gi.result.p[k]),
                                "bin": gi.result.bin[k],
                            },
                        }))
                    })
                    .collect::<Result<Vec<_>, ApiError>>()?;
                Ok(Page {
                    features,
                    matched: matched.len(),
                })
            })
        })
        .await
}

/// A page of address-level incidents (or the incident with store id `one`), audited.
async fn incidents(
    state: &Arc<AppState>,
    caller: Caller,
    q: &ItemsQuery,
    one: Option<&str>,
    endpoint: String,
) -> Result<Page, ApiError> {
    let filter = address_filter(&caller, &q.filter_params)?;
    let one = one
        .map(|id| {
            id.parse::<i64>()
                .map_err(|_| ApiError::NotFound(format!("onbekend incident '{id}'")))
        })
        .transpose()?;
    let (st, q) = (state.clone(), q.clone());
    state
        .blocking
        .run(move |cancel| {
            let s = caller.snapshot.clone();
            let window = with_transformer(|t| window_of(t, &q))?;
            let mut matched: Vec<u32> = match (&filter, one) {
                (None, _) => vec![],
                (Some(f), Some(id)) => s
                    .incidents
                    .iter()
                    .position(|inc| inc.id == id && inc.has_point() && f.matches(inc))
                    .map(|k| vec![k as u32])
                    .unwrap_or_default(),
                (Some(f), None) => match &window {
                    Some(w) => {
                        let mut m = Vec::new();
                        for (n, k) in s.incidents_within(w.rect_rd).into_iter().enumerate() {
                            if n % 4096 == 0 {
                                cancel.check()?;
                            }
                            let inc = &s.incidents[k as usize];
                            if inc.has_point()
                                && f.matches(inc)
                                && w.rd.intersects(&Point::new(inc.x_m, inc.y_m))
                            {
                                m.push(k);
                            }
                        }
                        m
                    }
                    None => s.located_incidents(f),
                },
            };
            if one.is_some() && matched.is_empty() {
                return Err(ApiError::NotFound(format!(
                    "onbekend incident '{}'",
                    one.unwrap_or_default()
                )));
            }
            matched.sort_unstable();
            cancel.check()?;
            let page: Vec<u32> = matched[page_range(matched.len(), &q)].to_vec();
            let ids: Vec<i64> = page.iter().map(|&k| s.incidents[k as usize].id).collect();
            let mut details: HashMap<i64, crate::store::IncidentDetail> = st
                .with_store(|store| store.incident_details(&s.tenant, &ids))
                .map_err(ApiError::internal)?
                .into_iter()
                .map(|d| (d.id, d))
                .collect();
            let minute = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M").to_string();
            let features = with_transformer(|t| {
                let mut out = Vec::with_capacity(page.len());
                for &k in &page {
                    let inc = &s.incidents[k as usize];
                    let Some(d) = details.remove(&inc.id) else {
                        continue;
                    };
                    out.push(json!({
                        "type": "Feature",
                        "id": inc.id,
                        "geometry": q.crs.point(t, inc.x_m, inc.y_m).map_err(ApiError::internal)?,
                        "properties": {
                            "registration": d.registration,
                            "source": d.source,
                            "begin": minute(inc.begin()),
                            "end": minute(inc.end()),
                            "category": d.category_code,
                            "located_by": d.located_by,
                            "street": d.street,
                            "huisnummer": d.huisnummer,
                            "huisletter": d.huisletter,
                            "toevoeging": d.toevoeging,
                            "postcode": d.postcode,
                            "buurtcode": d.buurtcode,
                        },
                    }));
                }
                Ok(out)
            })?;
            let filter_text = format!(
                "{};bbox={};bbox-crs={};offset={};limit={}",
                filter
                    .as_ref()
                    .map(Filter::key)
                    .unwrap_or_else(|| "geen toegekende categorie".into()),
                q.bbox
                    .map(|(b, _)| b.map(|v| v.to_string()).join(","))
                    .unwrap_or_default(),
                q.bbox.map(|(_, c)| c.uri()).unwrap_or(""),
                q.offset,
                q.limit
            );
            access_log::log_now(
                &st,
                &caller.principal,
                &endpoint,
                &filter_text,
                features.len() as i64,
            )?;
            Ok(Page {
                features,
                matched: matched.len(),
            })
        })
        .await
}

/// A GeoJSON answer with the `Content-Crs` header (and `private, no-store` for address-level data).
fn geojson_response(body: Value, crs: Crs, private: bool) -> Response {
    let mut resp = super::json_response(body, GEOJSON);
    if let Ok(v) = HeaderValue::from_str(&crs.content_crs()) {
        resp.headers_mut().insert("content-crs", v);
    }
    if private {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    resp.into_response()
}

/// The parameters a collection's paths take besides `f`.
fn allowed(kind: Kind, single: bool) -> Vec<&'static str> {
    let mut a: Vec<&str> = if single {
        ITEM_PARAMS.to_vec()
    } else {
        ITEMS_PARAMS.to_vec()
    };
    if kind == Kind::Hotspots {
        a.push("bins");
    }
    a
}

/// `GET /ogc/collections/{id}/items`.
pub async fn items(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let c = find(&caller, &id)?;
    check_params(&params, &allowed(c.kind, false))?;
    let q = ItemsQuery::parse(&params)?;
    let base = base_url(&state, &headers);
    let page = match c.kind {
        Kind::Areas(level) => areas(&state, &caller, level, &q, None).await?,
        Kind::Hotspots => hotspots(&state, &caller, &params, &q, None).await?,
        Kind::Incidents => {
            let endpoint = format!("GET /ogc/collections/{}/items", c.id);
            incidents(&state, caller, &q, None, endpoint).await?
        }
    };
    let href = format!("{base}/collections/{}/items", c.id);
    let with_offset = |offset: usize| -> String {
        let mut p: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "offset" && k.as_str() != "limit")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        p.push(("limit".into(), q.limit.to_string()));
        if offset > 0 {
            p.push(("offset".into(), offset.to_string()));
        }
        format!("{href}{}", query_string(&p))
    };
    let returned = page.features.len();
    let mut links = vec![
        link(with_offset(q.offset), "self", GEOJSON, "deze pagina"),
        link(
            format!("{base}/collections/{}", c.id),
            "collection",
            JSON,
            c.title,
        ),
    ];
    if q.offset.saturating_add(q.limit) < page.matched {
        links.push(link(
            with_offset(q.offset + q.limit),
            "next",
            GEOJSON,
            "volgende pagina",
        ));
    }
    if q.offset > 0 {
        links.push(link(
            with_offset(q.offset.saturating_sub(q.limit)),
            "prev",
            GEOJSON,
            "vorige pagina",
        ));
    }
    let body = json!({
        "type": "FeatureCollection",
        "numberMatched": page.matched,
        "numberReturned": returned,
        "links": links,
        "features": page.features,
    });
    Ok(geojson_response(body, q.crs, c.kind == Kind::Incidents))
}

/// `GET /ogc/collections/{id}/items/{featureId}`.
pub async fn item(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, feature_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let c = find(&caller, &id)?;
    check_params(&params, &allowed(c.kind, true))?;
    let q = ItemsQuery::parse(&params)?;
    let base = base_url(&state, &headers);
    let fid = Some(feature_id.as_str());
    let page = match c.kind {
        Kind::Areas(level) => areas(&state, &caller, level, &q, fid).await?,
        Kind::Hotspots => hotspots(&state, &caller, &params, &q, fid).await?,
        Kind::Incidents => {
            let endpoint = format!("GET /ogc/collections/{}/items/{{featureId}}", c.id);
            incidents(&state, caller, &q, fid, endpoint).await?
        }
    };
    let Some(mut feature) = page.features.into_iter().next() else {
        return Err(ApiError::NotFound(format!(
            "onbekend object '{feature_id}'"
        )));
    };
    let href = format!(
        "{base}/collections/{}/items/{}{}",
        c.id,
        super::encode(&feature_id),
        query_string(
            &params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        )
    );
    feature["links"] = json!([
        link(href, "self", GEOJSON, "dit object"),
        link(
            format!("{base}/collections/{}", c.id),
            "collection",
            JSON,
            c.title
        ),
    ]);
    Ok(geojson_response(feature, q.crs, c.kind == Kind::Incidents))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parameter(e: ApiError) -> String {
        match e {
            ApiError::BadRequest {
                parameter: Some(p), ..
            } => p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limit_defaults_to_100_and_is_capped() {
        assert_eq!(
            ItemsQuery::parse(&params(&[])).unwrap().limit,
            DEFAULT_LIMIT
        );
        let q = ItemsQuery::parse(&params(&[("limit", "250000"), ("offset", "7")])).unwrap();
        assert_eq!((q.limit, q.offset), (MAX_LIMIT, 7));
        for (name, bad) in [
            ("limit", "0"),
            ("limit", "-1"),
            ("offset", "x"),
            ("limit", "1.5"),
        ] {
            let e = ItemsQuery::parse(&params(&[(name, bad)])).unwrap_err();
            assert_eq!(parameter(e), name);
        }
    }

    #[test]
    fn datetime_becomes_from_and_to() {
        let q = ItemsQuery::parse(&params(&[("datetime", "2024-02-01/2024-02-29")])).unwrap();
        assert_eq!(q.filter_params["from"], "2024-02-01");
        assert_eq!(q.filter_params["to"], "2024-02-29");
        let q = ItemsQuery::parse(&params(&[("datetime", "../2024-02-29")])).unwrap();
        assert!(!q.filter_params.contains_key("from"));
        for bad in [
            "2024-02-01T12:00:00Z",
            "..",
            "gisteren",
            "2024-03-01/2024-02-01",
            "../..",
        ] {
            let e = ItemsQuery::parse(&params(&[("datetime", bad)])).unwrap_err();
            assert_eq!(parameter(e), "datetime", "{bad}");
        }
    }

    #[test]
    fn bbox_crs_needs_a_bbox_and_a_known_crs() {
        let e = ItemsQuery::parse(&params(&[("bbox-crs", Crs::Rd.uri())])).unwrap_err();
        assert_eq!(parameter(e), "bbox-crs");
        let q = ItemsQuery::parse(&params(&[
            ("bbox", "155000,463000,156000,464000"),
            ("bbox-crs", Crs::Rd.uri()),
            ("crs", Crs::WebMercator.uri()),
        ]))
        .unwrap();
        assert_eq!(
            q.bbox,
            Some(([155000.0, 463000.0, 156000.0, 464000.0], Crs::Rd))
        );
        assert_eq!(q.crs, Crs::WebMercator);
        let e = ItemsQuery::parse(&params(&[("crs", "EPSG:4326")])).unwrap_err();
        assert_eq!(parameter(e), "crs");
    }

    #[test]
    fn a_page_is_clipped_to_the_matches() {
        let q = |offset, limit| ItemsQuery {
            limit,
            offset,
            crs: Crs::Crs84,
            bbox: None,
            filter_params: HashMap::new(),
        };
        assert_eq!(page_range(10, &q(0, 4)), 0..4);
        assert_eq!(page_range(10, &q(8, 4)), 8..10);
        assert_eq!(page_range(10, &q(12, 4)), 10..10);
    }
}
