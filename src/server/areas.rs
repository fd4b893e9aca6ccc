//! Area endpoints: `/api/meta`, the area list, one area as GeoJSON, its statistics, and custom areas
//! (`POST /api/areas`, `PUT`/`DELETE /api/areas/custom:{id}`).
//!
//! Counts are published as the policy of [`crate::publish`] says: viewers and anonymous callers read the
//! protected area table ([`AppState::protected_table`]), the same one the tiles and exports read.
//!
//! Custom areas: analysts and admins may draw them (the creator is recorded as `created_by`); an analyst may
//! change or delete only the areas they drew, an admin any area of the tenant
//! ([`Action::EditCustomArea`]; areas without a recorded creator count as someone else's). Viewers get 403,
//! an area of another tenant (or none) is 404.

use super::error::ApiError;
use super::filter::Filter;
use super::{AppState, Caller};
use crate::access::Action;
use crate::analysis::compare::rate_ratio;
use crate::area_level::AreaLevel;
use crate::custom_area::{self, CustomAreaError};
use crate::dataset::Snapshot;
use crate::publish::{self, rate_per_1000};
use crate::suppression::Protected;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use geo_types::MultiPolygon;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/areas", get(list).post(create))
        .route("/api/areas/{code}", get(feature).put(update).delete(remove))
        .route("/api/areas/{code}/stats", get(stats))
}

/// `GET /api/meta`: what the web app needs to start (tenant, extent, period, categories, sources).
pub async fn meta(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Value> {
    let s = caller.snapshot.clone();
    let protect = caller.principal.sees_protected_counts();
    let mut per_category: BTreeMap<&str, u64> = BTreeMap::new();
    for inc in &s.incidents {
        if let Some(c) = s.categories.get(usize::from(inc.category)) {
            *per_category.entry(c.as_str()).or_default() += 1;
        }
    }
    let k = state.policy.k_for(&[]);
    let items: Vec<(String, u64)> = per_category
        .iter()
        .map(|(c, n)| (c.to_string(), *n))
        .collect();
    let table = if protect {
        publish::list_table(&items, s.incidents.len() as u64, k)
    } else {
        Protected::exact(items.iter().map(|(_, n)| *n).collect())
    };
    let categories: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (code, _))| {
            let (count, label, suppressed) = publish::count_fields(&table, i);
            json!({"code": code, "label": crate::category::label(code), "count": count,
                   "count_label": label, "suppressed": suppressed})
        })
        .collect();
    let groups: Vec<Value> = ["inbraak", "geweld", "overlast"]
        .iter()
        .filter_map(|g| crate::category::group_members(g).map(|m| json!({"name": g, "codes": m})))
        .collect();
    let mut sources = s.sources.clone();
    sources.sort();
    let b = s.bbox_wgs84();
    Json(json!({
        "tenant": s.tenant,
        "name": s.tenant_name,
        "bbox": b,
        "center": [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0],
        "period": {"first": s.first_day, "last": s.last_day},
        "sources": sources,
        "categories": categories,
        "groups": groups,
        "levels": ["gemeente", "wijk", "buurt", "custom"],
        "layers": super::tiles::layer_names_for(&caller.principal),
        "generation": s.generation,
        "incidents": if protect { json!(table.published(items.len())) } else { json!(s.incidents.len()) },
        "protected": protect,
        "min_count": if protect { Some(k) } else { None },
    }))
}

fn area_json(s: &Snapshot, idx: u32) -> Value {
    let a = s.area(idx);
    json!({
        "code": a.code,
        "name": a.name,
        "level": a.level.as_str(),
        "wijkcode": a.wijkcode,
        "gemeentecode": a.gemeentecode,
        "inhabitants": a.inhabitants,
        "bbox": a.bbox_wgs84,
    })
}

/// `GET /api/areas?level=buurt`.
async fn list(
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let level = match params.get("level") {
        Some(l) => AreaLevel::parse(l).ok_or_else(|| {
            ApiError::param(
                "level",
                format!("onbekend niveau '{l}': gemeente, wijk, buurt of custom"),
            )
        })?,
        None => AreaLevel::Buurt,
    };
    let s = caller.snapshot.clone();
    let areas: Vec<Value> = s
        .level_areas(level)
        .iter()
        .map(|&i| area_json(&s, i))
        .collect();
    Ok(Json(Value::Array(areas)))
}

fn find(s: &Snapshot, code: &str) -> Result<u32, ApiError> {
    s.area_index(code)
        .ok_or_else(|| ApiError::NotFound(format!("onbekend gebied '{code}'")))
}

/// GeoJSON geometry (WGS84) of an RD multipolygon.
pub fn geojson_geometry(mp: &MultiPolygon<f64>) -> Result<Value, ApiError> {
    crate::coords::with_thread_transformer(|t| {
        let polys: Result<Vec<Value>, _> = mp
            .0
            .iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|ring| {
                        let mut pts: Vec<(f64, f64)> = ring.0.iter().map(|c| (c.x, c.y)).collect();
                        t.rd_to_wgs84_in_place(&mut pts)?;
                        Ok(Value::Array(
                            pts.into_iter()
                                .map(|(lon, lat)| json!([round6(lon), round6(lat)]))
                                .collect(),
                        ))
                    })
                    .collect::<Result<Vec<Value>, crate::coords::CoordError>>()
                    .map(Value::Array)
            })
            .collect();
        polys.map(|p| json!({"type": "MultiPolygon", "coordinates": p}))
    })
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// `GET /api/areas/{code}`: the area as a GeoJSON Feature.
async fn feature(caller: Caller, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    let s = caller.snapshot.clone();
    let idx = find(&s, &code)?;
    let a = s.area(idx);
    Ok(Json(json!({
        "type": "Feature",
        "id": a.feature_id,
        "properties": area_json(&s, idx),
        "geometry": geojson_geometry(&a.geometry_rd)?,
    })))
}

/// The same filter restricted to one category code (for per-category breakdowns that must agree with a
/// `category=CODE` map); `None` if the code cannot be filtered on.
fn single_category(s: &Snapshot, filter: &Filter, code: &str) -> Option<Filter> {
    let mut params = HashMap::new();
    params.insert("category".to_string(), code.to_string());
    if !filter.source_names.is_empty() {
        params.insert("source".to_string(), filter.source_names.join(","));
    }
    if let Some(f) = filter.from {
        params.insert("from".to_string(), f.to_string());
    }
    if let Some(t) = filter.to {
        params.insert("to".to_string(), t.to_string());
    }
    Filter::parse(&params, s).ok()
}

/// Statistics of one area for a filter: count, rate, the previous equally long period and the change, and the
/// counts per category. With `protect` (viewers, anonymous callers) every count comes from the protected table
/// of its filter ([`AppState::protected_table`]; a category's count from the table of `category=CODE`), withheld counts
/// are `null` with `count_label`/`suppressed`, and rates, shares and changes derived from them are `null`.
pub fn area_stats(
    state: &AppState,
    s: &Snapshot,
    idx: u32,
    filter: &Filter,
    protect: bool,
) -> Value {
    let a = s.area(idx);
    let i = idx as usize;
    let table = state.protected_table(s, filter, protect);
    let exact = table.counts[i].min(u64::from(u32::MAX)) as u32;
    let shown = table.published(i);
    let (count_v, count_label, suppressed) = publish::count_fields(&table, i);
    let period = filter.period(s);
    let mut per_category: BTreeMap<&str, u32> = BTreeMap::new();
    for k in s.incidents_in(idx, filter) {
        let inc = &s.incidents[k as usize];
        let code = s
            .categories
            .get(usize::from(inc.category))
            .map(String::as_str)
            .unwrap_or("onbekend");
        *per_category.entry(code).or_default() += 1;
    }
    let categories: Vec<Value> = per_category
        .iter()
        .map(|(code, n)| {
            let (c, label, supp) = if protect {
                match single_category(s, filter, code) {
                    Some(f) => publish::count_fields(&state.protected_table(s, &f, true), i),
                    None => {
                        // Not filterable (no category): primary suppression, complements not possible.
                        let k = state.policy.k_for(&filter.category_codes);
                        let p = Protected::primary_only(vec![u64::from(*n)], k);
                        publish::count_fields(&p, 0)
                    }
                }
            } else {
                (json!(n), Value::Null, false)
            };
            let share = match (c.as_u64(), shown) {
                (Some(n), Some(total)) if total > 0 => json!(n as f64 / total as f64),
                (Some(_), Some(_)) => json!(0.0),
                _ => Value::Null,
            };
            json!({
                "code": code,
                "label": crate::category::label(code),
                "count": c,
                "count_label": label,
                "suppressed": supp,
                "share": share,
            })
        })
        .collect();
    let rate = a
        .inhabitants
        .filter(|&inh| inh > 0 && shown.is_some())
        .map(|inh| rate_per_1000(exact, inh));
    let (previous, change) = match (filter.previous(s), period) {
        (Some(prev), Some((from, to))) => {
            let prev_table = state.protected_table(s, &prev, protect);
            let prev_exact = prev_table.counts[i].min(u64::from(u32::MAX)) as u32;
            let (pc, plabel, psupp) = publish::count_fields(&prev_table, i);
            let days = ((to - from).num_days() + 1) as f64;
            // The days of the previous period that the tenant's data cover (they begin on `first_day`): a
            // period before the data is no comparison ("no data", not "0 incidents"), a partly covered one is
            // compared per covered day.
            let covered_days = match (prev.from, prev.to) {
                (Some(pf), Some(pt)) => {
                    let start = s.first_day.map_or(pf, |first| first.max(pf));
                    ((pt - start).num_days() + 1).max(0)
                }
                _ => 0,
            };
            let change = if covered_days > 0 && shown.is_some() && prev_table.published(i).is_some()
            {
                let prev_days = covered_days as f64;
                rate_ratio(
                    u64::from(exact),
                    days,
                    u64::from(prev_exact),
                    prev_days,
                    0.95,
                )
                .ok()
                .map(|rr| {
                    json!({
                        "rate_ratio": rr.ratio,
                        "ci_low": rr.ci_lower,
                        "ci_high": rr.ci_upper,
                        "p": rr.p_value,
                    })
                })
            } else {
                None
            };
            (
                json!({"from": prev.from, "to": prev.to, "count": pc, "count_label": plabel,
                       "suppressed": psupp, "covered_days": covered_days,
                       "data_from": s.first_day}),
                change.unwrap_or(Value::Null),
            )
        }
        _ => (Value::Null, Value::Null),
    };
    json!({
        "code": a.code,
        "name": a.name,
        "level": a.level.as_str(),
        "period": period.map(|(f, t)| json!({"from": f, "to": t})),
        "count": count_v,
        "count_label": count_label,
        "suppressed": suppressed,
        "protected": protect,
        "inhabitants": a.inhabitants,
        "rate": rate,
        "previous": previous,
        "change": change,
        "categories": categories,
    })
}

/// `GET /api/areas/{code}/stats`: [`area_stats`] and the area's `enrichment` (CBS kerncijfers and the tenant's
/// indicators, [`super::enrichment::area_json`]).
async fn stats(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let s = caller.snapshot.clone();
    let idx = find(&s, &code)?;
    let filter = Filter::parse(&params, &s)?;
    let protect = caller.principal.sees_protected_counts();
    let st = state.clone();
    let s2 = s.clone();
    let indicators = tokio::task::spawn_blocking(move || super::enrichment::indicators(&st, &s2))
        .await
        .map_err(ApiError::internal)??;
    let mut v = area_stats(&state, &s, idx, &filter, protect);
    v["enrichment"] = super::enrichment::area_json(&s, &indicators, idx);
    Ok(Json(v))
}

fn custom_error(e: CustomAreaError) -> ApiError {
    ApiError::param("body", e.to_string())
}

/// Parse and validate a custom-area body against the municipality and `[limits] max_polygon_vertices` (400
/// naming `geometry`).
fn parse_body(
    s: &Snapshot,
    body: &Bytes,
    max_vertices: usize,
) -> Result<custom_area::CustomAreaInput, ApiError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| custom_error(CustomAreaError::NotJson(e.to_string())))?;
    let input =
        crate::coords::with_thread_transformer(|t| custom_area::parse_feature(&json, None, t))
            .map_err(ApiError::internal)?
            .map_err(custom_error)?;
    let vertices: usize = input
        .geometry_rd
        .0
        .iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum();
    if vertices > max_vertices {
        return Err(ApiError::param(
            "geometry",
            format!("het gebied heeft {vertices} hoekpunten; hoogstens {max_vertices} toegestaan"),
        ));
    }
    let municipality = MultiPolygon(
        s.level_areas(AreaLevel::Gemeente)
            .iter()
            .flat_map(|&i| s.area(i).geometry_rd.0.iter().cloned())
            .collect(),
    );
    custom_area::check_within(&input.geometry_rd, &municipality).map_err(custom_error)?;
    Ok(input)
}

fn custom_id(code: &str) -> Result<i64, ApiError> {
    code.strip_prefix("custom:")
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or_else(|| ApiError::NotFound(format!("'{code}' is geen eigen gebied (custom:ID)")))
}

/// 404 unless custom area `id` exists for the caller's tenant, 403 unless the caller may edit it (own area:
/// analyst; someone else's: admin). Run under the store lock together with the write.
fn check_owner(
    store: &dyn crate::store::Store,
    caller: &Caller,
    id: i64,
    code: &str,
) -> Result<(), ApiError> {
    let owner = crate::store::Store::custom_area_owner(store, caller.tenant(), id)?
        .ok_or_else(|| ApiError::NotFound(format!("onbekend gebied '{code}'")))?;
    let own = owner.as_deref() == Some(caller.principal.actor());
    caller.require(&Action::EditCustomArea { own })
}

/// `POST /api/areas` with a GeoJSON Feature: 201 with the new id.
async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(&Action::EditCustomArea { own: true })?;
    let st = state.clone();
    let (id, name) = tokio::task::spawn_blocking(move || -> Result<(i64, String), ApiError> {
        let input = parse_body(
            &caller.snapshot,
            &body,
            st.config.limits.max_polygon_vertices,
        )?;
        let tenant = caller.tenant().to_string();
        let _writing = st.writing();
        let id = st.with_store(|store| {
            crate::store::Store::insert_custom_area_by(
                store,
                &tenant,
                &input.name,
                &input.geometry_rd,
                Some(caller.principal.actor()),
            )
        })?;
        st.reload_tenants(std::slice::from_ref(&tenant))
            .map_err(ApiError::internal)?;
        Ok((id, input.name))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/areas/custom:{id}"),
        )],
        Json(json!({"id": id, "code": format!("custom:{id}"), "name": name})),
    )
        .into_response())
}

/// `PUT /api/areas/custom:{id}`: rename/redraw.
async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(&Action::EditCustomArea { own: true })?;
    let id = custom_id(&code)?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || -> Result<Json<Value>, ApiError> {
        let input = parse_body(
            &caller.snapshot,
            &body,
            st.config.limits.max_polygon_vertices,
        )?;
        let tenant = caller.tenant().to_string();
        let _writing = st.writing();
        let found = st.with_store(|store| -> Result<bool, ApiError> {
            check_owner(store.as_store(), &caller, id, &code)?;
            Ok(crate::store::Store::update_custom_area(
                store,
                &tenant,
                id,
                &input.name,
                &input.geometry_rd,
            )?)
        })?;
        if !found {
            return Err(ApiError::NotFound(format!("onbekend gebied '{code}'")));
        }
        st.reload_tenants(std::slice::from_ref(&tenant))
            .map_err(ApiError::internal)?;
        Ok(Json(json!({"id": id, "code": code, "name": input.name})))
    })
    .await
    .map_err(ApiError::internal)?
}

/// `DELETE /api/areas/custom:{id}`: 204.
async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&Action::EditCustomArea { own: true })?;
    let id = custom_id(&code)?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || -> Result<StatusCode, ApiError> {
        let tenant = caller.tenant().to_string();
        let _writing = st.writing();
        let found = st.with_store(|store| -> Result<bool, ApiError> {
            check_owner(store.as_store(), &caller, id, &code)?;
            Ok(crate::store::Store::delete_custom_area(store, &tenant, id)?)
        })?;
        if !found {
            return Err(ApiError::NotFound(format!("onbekend gebied '{code}'")));
        }
        st.reload_tenants(std::slice::from_ref(&tenant))
            .map_err(ApiError::internal)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
    .map_err(ApiError::internal)?
}
