//! Address-level incidents: `GET /api/incidents.geojson` and `GET /api/incidents.csv`, and the access rules for
//! every point-level output of the server.
//!
//! # The exports
//! Parameters: the common filters (`category`, `from`, `to`, `source`), `area=CODE` (any level, custom areas
//! included; 404 for a code the caller's tenant does not have) and `bbox=minlon,minlat,maxlon,maxlat` (WGS84).
//! Only incidents with a point (located by address or by coordinates) are returned, of the categories that are
//! both asked for and granted to the caller ([`crate::access::Principal::address_level_scope`]); viewers,
//! anonymous callers and delivery tokens get 403, and so does an analyst who asks only for categories outside
//! the grant. Each incident: `registration`, `source`, `begin`, `end` (local time, `YYYY-MM-DDTHH:MM`),
//! `category`, `located_by`, the BAG address (`street`, `huisnummer`, `huisletter`, `toevoeging`, `postcode`)
//! when located by address, `lon`/`lat` (WGS84, 6 decimals) and `buurtcode`. More than
//! `[limits] max_results` incidents is 400 naming `bbox` (or `area`, or `from` when neither was given)
//! with the count. Every answer is logged in the audit trail first ([`super::access_log::log_now`]).
//!
//! # Point-level output of the other endpoints (decisions)
//! - `incidents` vector tiles ([`super::tiles`]): address-level (points from z15, cells of 16 x 16 per tile
//!   below that): 403 for viewers/anonymous; analysts get only their granted categories; logged per minute.
//! - `kde`, `hotspots`, `emerging` (vector and PNG tiles, `/wms`, `/api/hotspots`): surfaces, not points; for
//!   callers without address-level rights the cells are at least [`crate::access::VIEWER_MIN_CELL_M`], the
//!   KDE bandwidth at least [`crate::access::VIEWER_MIN_BANDWIDTH_M`] (smaller values are raised, the answer
//!   of `/api/hotspots` states the values used) and tiles/maps deeper than
//!   [`crate::access::VIEWER_MAX_SURFACE_ZOOM`] are 403.
//! - `/api/patrol`: grid cells (25 m and up) with the most common BAG street of their address-located
//!   incidents. A street name of a small cell with few incidents points at a handful of addresses; this module
//!   does not change patrol (owned elsewhere): see the report for the proposed rule (street and cells < 50 m
//!   only with address-level rights on the filtered categories).
//! - `/api/report/monthly`, `/api/areas/{code}/profile`, statistics and exports of areas: counts per
//!   buurt/area, no points or addresses; small counts are the small-count protection's concern.
//! - `POST /api/deliveries`: answers the uploader (admin or the source's delivery token) with the rejected rows'
//!   registration ids and reasons of the file it just sent: its own data, no other incidents.

use super::access_log;
use super::error::ApiError;
use super::filter::Filter;
use super::{AppState, Caller};
use crate::access::CategoryScope;
use crate::store::IncidentDetail;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/incidents.geojson", get(geojson))
        .route("/api/incidents.csv", get(csv_export))
}

/// The common filter of an address-level request, narrowed to the caller's grant: `Ok(None)` when nothing may
/// be returned (no granted category in the data), 403 for callers without address-level rights or for a
/// request that names only ungranted categories, 400 for a bad filter.
pub fn address_filter(
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Result<Option<Filter>, ApiError> {
    let snapshot = &caller.snapshot;
    // The exports read `area` and `bbox` themselves (both together, 404 for an unknown area).
    let mut params = params.clone();
    params.remove("area");
    params.remove("bbox");
    let asked = Filter::parse(&params, snapshot)?;
    match caller.principal.address_level_scope(
        caller.tenant(),
        &asked.category_codes,
        &snapshot.categories,
    ) {
        CategoryScope::Denied => Err(ApiError::Forbidden(
            "geen toegang tot incidenten op adresniveau".into(),
        )),
        CategoryScope::All => Ok(Some(asked)),
        CategoryScope::Only(codes) if codes.is_empty() => {
            if asked.category_codes.is_empty() {
                Ok(None)
            } else {
                Err(ApiError::Forbidden(
                    "geen toegang tot incidenten op adresniveau van deze categorieën".into(),
                ))
            }
        }
        CategoryScope::Only(codes) => {
            let mut narrowed = params.clone();
            narrowed.insert("category".into(), codes.join(","));
            Filter::parse(&narrowed, snapshot).map(Some)
        }
    }
}

/// A WGS84 box `minlon,minlat,maxlon,maxlat`.
fn parse_bbox(v: &str) -> Result<[f64; 4], ApiError> {
    let bad = || {
        ApiError::param(
            "bbox",
            format!("'{v}': verwacht minlon,minlat,maxlon,maxlat (WGS84)"),
        )
    };
    let parts: Vec<f64> = v
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(bad)?;
    let [a, b, c, d] = parts[..] else {
        return Err(bad());
    };
    if a > c || b > d || !(-180.0..=180.0).contains(&a) || !(-90.0..=90.0).contains(&b) {
        return Err(bad());
    }
    Ok([a, b, c, d])
}

/// One exported incident.
struct Row {
    registration: String,
    source: String,
    begin: String,
    end: String,
    category: Option<String>,
    located_by: String,
    street: Option<String>,
    huisnummer: Option<i64>,
    huisletter: Option<String>,
    toevoeging: Option<String>,
    postcode: Option<String>,
    lon: f64,
    lat: f64,
    buurtcode: Option<String>,
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Select, check the size limit, read the details, and log: the rows of an export request.
fn collect(
    state: &AppState,
    caller: &Caller,
    params: &HashMap<String, String>,
    endpoint: &str,
) -> Result<Vec<Row>, ApiError> {
    let filter = address_filter(caller, params)?;
    let snapshot = &caller.snapshot;
    let area = params
        .get("area")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty());
    let bbox = params
        .get("bbox")
        .map(|b| b.trim())
        .filter(|b| !b.is_empty())
        .map(parse_bbox)
        .transpose()?;
    let area_idx = area
        .map(|code| {
            snapshot
                .area_index(code)
                .ok_or_else(|| ApiError::NotFound(format!("onbekend gebied '{code}'")))
        })
        .transpose()?;
    let filter_text = format!(
        "{};area={};bbox={}",
        filter
            .as_ref()
            .map(Filter::key)
            .unwrap_or_else(|| "geen toegekende categorie".into()),
        area.unwrap_or(""),
        params.get("bbox").map(|b| b.trim()).unwrap_or("")
    );
    let mut picked: Vec<(u32, f64, f64)> = Vec::new();
    if let Some(f) = &filter {
        let candidates: Vec<u32> = match area_idx {
            Some(idx) => snapshot
                .incidents_in(idx, f)
                .into_iter()
                .filter(|&k| snapshot.incidents[k as usize].has_point())
                .collect(),
            None => snapshot.located_incidents(f),
        };
        crate::coords::with_thread_transformer(|t| {
            for k in candidates {
                let inc = &snapshot.incidents[k as usize];
                let Ok((lon, lat)) = t.rd_to_wgs84(inc.x_m, inc.y_m) else {
                    continue;
                };
                let inside =
                    bbox.is_none_or(|b| lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3]);
                if inside {
                    picked.push((k, lon, lat));
                }
            }
        })
        .map_err(ApiError::internal)?;
    }
    let max = state.config.limits.max_results;
    if picked.len() > max {
        let parameter = if bbox.is_some() {
            "bbox"
        } else if area.is_some() {
            "area"
        } else {
            "from"
        };
        return Err(ApiError::param(
            parameter,
            format!(
                "{} incidenten, meer dan het maximum van {max}: verklein het gebied, de periode of de categorieën",
                picked.len()
            ),
        ));
    }
    let rows = details(state, snapshot, &picked)?;
    access_log::log_now(
        state,
        &caller.principal,
        endpoint,
        &filter_text,
        rows.len() as i64,
    )?;
    Ok(rows)
}

/// The stored details of the picked incidents (snapshot indices with their WGS84 point), in snapshot order.
fn details(
    state: &AppState,
    snapshot: &super::Snapshot,
    picked: &[(u32, f64, f64)],
) -> Result<Vec<Row>, ApiError> {
    let ids: Vec<i64> = picked
        .iter()
        .map(|&(k, _, _)| snapshot.incidents[k as usize].id)
        .collect();
    let mut by_id: HashMap<i64, IncidentDetail> = state
        .with_store(|s| s.incident_details(&snapshot.tenant, &ids))
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let minute = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M").to_string();
    Ok(picked
        .iter()
        .filter_map(|&(k, lon, lat)| {
            let inc = &snapshot.incidents[k as usize];
            let d = by_id.remove(&inc.id)?;
            Some(Row {
                registration: d.registration,
                source: d.source,
                begin: minute(inc.begin()),
                end: minute(inc.end()),
                category: d.category_code,
                located_by: d.located_by,
                street: d.street,
                huisnummer: d.huisnummer,
                huisletter: d.huisletter,
                toevoeging: d.toevoeging,
                postcode: d.postcode,
                buurtcode: d.buurtcode,
                lon: round6(lon),
                lat: round6(lat),
            })
        })
        .collect())
}

async fn run(
    state: Arc<AppState>,
    caller: Caller,
    params: HashMap<String, String>,
    endpoint: &'static str,
) -> Result<Vec<Row>, ApiError> {
    let st = state.clone();
    st.blocking
        .run(move |cancel| {
            cancel.check()?;
            collect(&state, &caller, &params, endpoint)
        })
        .await
}

/// `GET /api/incidents.geojson`: a FeatureCollection of Point features (WGS84).
async fn geojson(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let rows = run(state, caller, params, "GET /api/incidents.geojson").await?;
    let features: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {
                    "registration": r.registration,
                    "source": r.source,
                    "begin": r.begin,
                    "end": r.end,
                    "category": r.category,
                    "located_by": r.located_by,
                    "street": r.street,
                    "huisnummer": r.huisnummer,
                    "huisletter": r.huisletter,
                    "toevoeging": r.toevoeging,
                    "postcode": r.postcode,
                    "buurtcode": r.buurtcode,
                },
            })
        })
        .collect();
    let body = json!({"type": "FeatureCollection", "features": features});
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

/// `GET /api/incidents.csv`: the same rows as CSV (comma-separated, UTF-8, header row).
async fn csv_export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let rows = run(state, caller, params, "GET /api/incidents.csv").await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| ApiError::internal(e);
    w.write_record([
        "registration",
        "source",
        "begin",
        "end",
        "category",
        "located_by",
        "street",
        "huisnummer",
        "huisletter",
        "toevoeging",
        "postcode",
        "lon",
        "lat",
        "buurtcode",
    ])
    .map_err(io)?;
    for r in rows {
        w.write_record([
            r.registration,
            r.source,
            r.begin,
            r.end,
            r.category.unwrap_or_default(),
            r.located_by,
            r.street.unwrap_or_default(),
            r.huisnummer.map(|n| n.to_string()).unwrap_or_default(),
            r.huisletter.unwrap_or_default(),
            r.toevoeging.unwrap_or_default(),
            r.postcode.unwrap_or_default(),
            format!("{:.6}", r.lon),
            format!("{:.6}", r.lat),
            r.buurtcode.unwrap_or_default(),
        ])
        .map_err(io)?;
    }
    let bytes = w.into_inner().map_err(ApiError::internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"incidenten.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_bbox;

    #[test]
    fn bbox_is_four_ordered_wgs84_numbers() {
        assert_eq!(
            parse_bbox("5.1,52.0, 5.2,52.1").unwrap(),
            [5.1, 52.0, 5.2, 52.1]
        );
        for bad in [
            "",
            "5,52,6",
            "5,52,6,53,7",
            "6,52,5,53",
            "5,53,6,52",
            "a,b,c,d",
            "NaN,1,2,3",
        ] {
            assert!(parse_bbox(bad).is_err(), "{bad}");
        }
    }
}
