//! Area endpoints: `/api/meta`, the area list, one area as GeoJSON, its statistics, and custom areas
//! (`POST /api/areas`, `PUT`/`DELETE /api/areas/custom:{id}`).
//!
//! It also holds the one place where count tables are protected for viewers and anonymous callers
//! ([`protected_table`], small-count protection of [`crate::suppression`]): tiles, the statistics API and the
//! exports all read the same cached table per (snapshot, filter, k), so they publish the same value for the same
//! area and filter. A withheld count is `null` with `"count_label": "< k"` (or `">= k"` for a complement) and
//! `"suppressed": true`; rates and changes derived from it are `null` too.
//!
//! Custom areas: analysts and admins may draw them (the creator is recorded as `created_by`); an analyst may
//! change or delete only the areas they drew, an admin any area of the tenant
//! ([`Action::EditCustomArea`]; areas without a recorded creator count as someone else's). Viewers get 403,
//! an area of another tenant (or none) is 404.

use super::caches::{CacheEntry, CacheKind};
use super::error::ApiError;
use super::filter::Filter;
use super::tiles::rate_per_1000;
use super::{AppState, Caller};
use crate::access::Action;
use crate::analysis::compare::rate_ratio;
use crate::custom_area::{self, CustomAreaError};
use crate::dataset::{Level, Snapshot};
use crate::heap_size::HeapSize;
use crate::suppression::{self, Cell, Protected, Relation};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use geo_types::MultiPolygon;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The k (minimum published count) for `filter`: `[privacy] min_count`, or the largest `min_count_per_group`
/// among the category groups the filter spans (see [`suppression::k_for_categories`]).
pub fn min_count_for(state: &AppState, filter: &Filter) -> u32 {
    suppression::k_for_categories(
        &filter.category_codes,
        state.config.privacy.min_count,
        &state.config.privacy.min_count_per_group,
    )
}

/// The sum relations the area outputs publish: every wijk = the sum of its buurten, every gemeente = the sum
/// of its wijken (plus its buurten without a wijk). Cell `i` is area `i` of the snapshot.
fn area_relations(s: &Snapshot) -> Vec<Relation> {
    let mut wijk_parts: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    let mut gemeente_parts: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    for &b in s.level_areas(Level::Buurt) {
        let a = s.area(b);
        let w = a.wijkcode.as_deref().and_then(|c| s.area_index(c));
        let g = a.gemeentecode.as_deref().and_then(|c| s.area_index(c));
        if let Some(w) = w {
            wijk_parts.entry(w).or_default().push(b as usize);
        }
        if let Some(g) = g {
            gemeente_parts
                .entry(g)
                .or_default()
                .insert(w.map_or(b as usize, |w| w as usize));
        }
    }
    wijk_parts
        .into_iter()
        .map(|(w, parts)| Relation {
            total: w as usize,
            parts,
        })
        .chain(gemeente_parts.into_iter().map(|(g, parts)| Relation {
            total: g as usize,
            parts: parts.into_iter().collect(),
        }))
        .collect()
}

/// Cache key of [`protected_table`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProtectedTableKey {
    pub generation: u64,
    /// The k applied (0 = exact counts).
    pub k: u32,
    pub filter: crate::dataset::FilterKey,
}

impl HeapSize for ProtectedTableKey {
    fn heap_bytes(&self) -> usize {
        self.filter.heap_bytes()
    }
}

impl CacheEntry for ProtectedTableKey {
    type Value = Arc<Protected>;
    const KIND: CacheKind = CacheKind::ProtectedTable;
}

/// The published count table of every area of the snapshot (indexed like [`Snapshot::areas`]) for `filter`:
/// exact when `protect` is false (analysts, admins), else protected with k = [`min_count_for`] over the area
/// hierarchy (custom areas: primary suppression only). Cached per (generation, filter, k); every
/// count output reads from here, so tiles, API and exports agree. If the hierarchy cannot be protected exactly
/// (inconsistent boundaries), every non-zero count is withheld.
pub fn protected_table(
    state: &AppState,
    s: &Snapshot,
    filter: &Filter,
    protect: bool,
) -> Arc<Protected> {
    let k = if protect {
        min_count_for(state, filter)
    } else {
        0
    };
    let key = ProtectedTableKey {
        generation: s.generation,
        k,
        filter: filter.cache_key(),
    };
    if let Some(p) = state.caches.get(&key) {
        return p;
    }
    let mut counts = vec![0u64; s.areas.len()];
    for level in [Level::Gemeente, Level::Wijk, Level::Buurt, Level::Custom] {
        let c = state.counts(s, level, filter);
        for &i in s.level_areas(level) {
            counts[i as usize] = u64::from(c[i as usize]);
        }
    }
    let table = if protect {
        let cells: Vec<Cell> = s
            .areas
            .iter()
            .zip(&counts)
            .map(|(a, &count)| Cell {
                code: a.code.clone(),
                count,
            })
            .collect();
        match suppression::protect(&cells, &area_relations(s), k) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "area hierarchy cannot be protected exactly: withholding every count");
                Protected::fail_closed(counts, k)
            }
        }
    } else {
        Protected::exact(counts)
    };
    let table = Arc::new(table);
    state.caches.insert(key, table.clone());
    table
}

/// The JSON fields of one cell: `count` (null when withheld), `count_label` and `suppressed`.
pub fn count_fields(p: &Protected, idx: usize) -> (Value, Value, bool) {
    let count = p.published(idx).map_or(Value::Null, |c| json!(c));
    let label = p.label(idx).map_or(Value::Null, Value::String);
    (count, label, p.is_suppressed(idx))
}

/// Protect a small stand-alone list of counts (e.g. per category of a whole tenant) that sum to `total`:
/// primary suppression and complements under the one relation `total = sum(items)`.
pub fn protect_list(items: &[(String, u64)], total: u64, k: u32) -> Protected {
    let mut cells: Vec<Cell> = items
        .iter()
        .map(|(code, count)| Cell {
            code: code.clone(),
            count: *count,
        })
        .collect();
    let sum: u64 = items.iter().map(|(_, c)| c).sum();
    cells.push(Cell {
        code: "\u{10ffff}totaal".into(),
        count: total,
    });
    // What is not itemised is a part of its own, so that the relation holds.
    cells.push(Cell {
        code: "\u{10ffff}overig".into(),
        count: total.saturating_sub(sum),
    });
    let n = items.len();
    let rel = Relation {
        total: n,
        parts: (0..n).chain([n + 1]).collect(),
    };
    let counts: Vec<u64> = cells.iter().map(|c| c.count).collect();
    suppression::protect(&cells, &[rel], k).unwrap_or_else(|_| Protected::fail_closed(counts, k))
}

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
    let k = suppression::k_for_categories(
        &[],
        state.config.privacy.min_count,
        &state.config.privacy.min_count_per_group,
    );
    let items: Vec<(String, u64)> = per_category
        .iter()
        .map(|(c, n)| (c.to_string(), *n))
        .collect();
    let table = if protect {
        protect_list(&items, s.incidents.len() as u64, k)
    } else {
        Protected::exact(items.iter().map(|(_, n)| *n).collect())
    };
    let categories: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (code, _))| {
            let (count, label, suppressed) = count_fields(&table, i);
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
        Some(l) => Level::parse(l).ok_or_else(|| {
            ApiError::param(
                "level",
                format!("onbekend niveau '{l}': gemeente, wijk, buurt of custom"),
            )
        })?,
        None => Level::Buurt,
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
/// of its filter ([`protected_table`]; a category's count from the table of `category=CODE`), withheld counts
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
    let table = protected_table(state, s, filter, protect);
    let exact = table.counts[i].min(u64::from(u32::MAX)) as u32;
    let shown = table.published(i);
    let (count_v, count_label, suppressed) = count_fields(&table, i);
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
                    Some(f) => count_fields(&protected_table(state, s, &f, true), i),
                    None => {
                        // Not filterable (no category): primary suppression, complements not possible.
                        let k = min_count_for(state, filter);
                        let p = Protected::primary_only(vec![u64::from(*n)], k);
                        count_fields(&p, 0)
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
            let prev_table = protected_table(state, s, &prev, protect);
            let prev_exact = prev_table.counts[i].min(u64::from(u32::MAX)) as u32;
            let (pc, plabel, psupp) = count_fields(&prev_table, i);
            let days = ((to - from).num_days() + 1) as f64;
            let change = if shown.is_some() && prev_table.published(i).is_some() {
                rate_ratio(u64::from(exact), days, u64::from(prev_exact), days, 0.95)
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
                       "suppressed": psupp}),
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

/// `GET /api/areas/{code}/stats`.
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
    Ok(Json(area_stats(&state, &s, idx, &filter, protect)))
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
        s.level_areas(Level::Gemeente)
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
        let id = st.with_store(|store| {
            crate::store::Store::insert_custom_area_by(
                store,
                &tenant,
                &input.name,
                &input.geometry_rd,
                Some(caller.principal.actor()),
            )
        })?;
        st.reload().map_err(ApiError::internal)?;
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
        st.reload().map_err(ApiError::internal)?;
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
        let found = st.with_store(|store| -> Result<bool, ApiError> {
            check_owner(store.as_store(), &caller, id, &code)?;
            Ok(crate::store::Store::delete_custom_area(store, &tenant, id)?)
        })?;
        if !found {
            return Err(ApiError::NotFound(format!("onbekend gebied '{code}'")));
        }
        st.reload().map_err(ApiError::internal)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
    .map_err(ApiError::internal)?
}
