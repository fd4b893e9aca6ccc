//! Area analysis endpoints: `GET /api/areas/{code}/timeseries?step=week|month`, `/hour-of-week` (aoristic) and
//! `/profile` (phenomenon profile against BAG attributes). Every endpoint takes the common filters and works for
//! every level, custom areas (`custom:ID`) included.
//!
//! - Time series: incidents of the area matching the filter counted per ISO week (Monday start, label
//!   `2024-W36`) or calendar month (label `2024-09`) by the day their window begins (the same rule as the
//!   filters and `/stats`, so the buckets sum to the area's count), zero-filled over the filter's period (the
//!   data's first/last day when `from`/`to` are absent). The first and last bucket may be partial: `days` says
//!   how many of its days lie inside the period.
//! - Hour of week: [`crate::analysis::aoristic::time_profile`] of the area's filtered incidents (default 7-day
//!   window limit): 168 slots (Monday 00:00 first), 7 days, 24 hours and the used/excluded counts.
//! - Profile: [`crate::analysis::profile::phenomenon_profile`] of the BAG addresses (bag id) of the area's
//!   filtered incidents against all addresses of the area (CBS levels: by the address's buurt; custom areas: the
//!   address point inside the polygon). Addresses and the incidents' bag ids are read from the store once per
//!   snapshot generation and cached. With `dimension` one dimension only: `bouwjaar`, `gebruiksdoel`,
//!   `oppervlakte`, `woz` (WOZ classes of the tenant's imported `woz_waarde`) or the name of an imported address
//!   attribute (`classes`: `quantiles:N`, default 5, or bounds); with `by=buurt|wijk|year` as well the breakdown
//!   of that dimension per group with the tests of homogeneity across the groups
//!   ([`crate::analysis::profile_breakdown`]). Without `dimension` the standard dimensions, and `woz` when the
//!   tenant has WOZ values; `available_dimensions` lists what can be asked. The attribute values are read once
//!   per snapshot generation and attribute and cached.
//!
//! Small-count protection (viewers, anonymous callers; [`crate::suppression`]): the time series is protected
//! as a table of its own hanging from the area's count (the period total = the sum of the steps; the total's
//! status is the one of the area table, [`super::AppState::protected_table`], so it agrees with the map): withheld
//! steps are `null` with `count_label` and `suppressed: true`; when the steps cannot be protected without
//! revealing the published total, every step is withheld (`count_label: "afgeschermd"`). The hour-of-week
//! profile and the phenomenon profile of an area whose count is withheld are withheld as a whole
//! (`suppressed: true`, no distributions). The rows of one dimension (`dimension`, and every group of a
//! breakdown) are protected as parts under their total ([`crate::publish::breakdown_table`]): a withheld class
//! has `incidents: null` with `count_label` and `suppressed: true` and its shares, affected addresses and
//! relative risk `null`; a published class whose affected addresses are fewer than k has those and its relative
//! risk withheld (`affected_label`); a group whose total is withheld shows `incidents: null`; the tests of
//! homogeneity are withheld (`tests_withheld: true`) when any count of the table is.
//!
//! Results are computed on the blocking pool ([`super::blocking`]) and cached ([`crate::cache`]) by (generation, area, filter,
//! parameters, protected or not).

use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::analysis::aoristic::{time_profile, AoristicConfig};
use crate::analysis::profile::{
    dimension_profile, phenomenon_profile_with, AddressAttrs, ClassSpec, Dimension, ProfileAddress,
    ProfileData, STANDARD_DIMENSIONS, WOZ_ATTRIBUTE,
};
use crate::analysis::profile_breakdown::{profile_breakdown, Grouping, ProfileBy};
use crate::analysis::Event;
use crate::cache::{CacheEntry, F64Key};
use crate::calendar::{Buckets, Step};
use crate::dataset::FilterKey;
use crate::dataset::Snapshot;
use crate::heap_size::HeapSize;
use crate::store::IncidentFilter;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/areas/{code}/timeseries", get(timeseries))
        .route("/api/areas/{code}/hour-of-week", get(hour_of_week))
        .route("/api/areas/{code}/profile", get(profile))
        .route("/api/profile/dimensions", get(profile_dimensions))
}

/// Cache key of a JSON body of an area analysis or a comparison (`cached_json`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnalysisBodyKey {
    pub generation: u64,
    /// Counts protected (viewers, anonymous callers).
    pub protect: bool,
    pub request: AnalysisRequest,
}

/// The request behind an analysis body; areas are snapshot area indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnalysisRequest {
    TimeSeries {
        area: u32,
        filter: FilterKey,
        step: Step,
    },
    HourOfWeek {
        area: u32,
        filter: FilterKey,
    },
    Profile {
        area: u32,
        filter: FilterKey,
        confidence: F64Key,
        /// One dimension (`woz`, an attribute name, ...), its classes (as given) and the breakdown.
        dimension: Option<String>,
        classes: Option<String>,
        by: Option<ProfileBy>,
    },
    Compare {
        areas: Vec<u32>,
        filter: FilterKey,
        vs_filter: FilterKey,
        step: Step,
        /// Target area, buffer (m) and control area.
        intervention: Option<(u32, F64Key, u32)>,
    },
}

impl HeapSize for AnalysisBodyKey {
    fn heap_bytes(&self) -> usize {
        match &self.request {
            AnalysisRequest::TimeSeries { filter, .. }
            | AnalysisRequest::HourOfWeek { filter, .. }
            | AnalysisRequest::Profile { filter, .. } => filter.heap_bytes() + 64,
            AnalysisRequest::Compare {
                areas,
                filter,
                vs_filter,
                ..
            } => areas.heap_bytes() + filter.heap_bytes() + vs_filter.heap_bytes(),
        }
    }
}

impl CacheEntry for AnalysisBodyKey {
    type Value = Bytes;
    const KIND: &'static str = "analysis_body";
}

/// A cached JSON body as a response.
pub(crate) fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Serve `key` from the caches, else compute the body with `f` in a blocking task and cache it.
pub(crate) async fn cached_json(
    state: &AppState,
    key: AnalysisBodyKey,
    f: impl FnOnce() -> Result<Value, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    Ok(json_body(cached_body(state, key, f).await?))
}

/// The JSON body of `key` from the caches, else computed with `f` in a blocking task and cached.
pub(crate) async fn cached_body(
    state: &AppState,
    key: AnalysisBodyKey,
    f: impl FnOnce() -> Result<Value, ApiError> + Send + 'static,
) -> Result<Bytes, ApiError> {
    if let Some(b) = state.caches.get(&key) {
        return Ok(b);
    }
    // The analyses of this module cost the incidents of one area (or two); the token stops them between steps.
    let value = state
        .blocking
        .run(move |cancel| {
            cancel.check()?;
            f()
        })
        .await?;
    let bytes = Bytes::from(serde_json::to_vec(&value).map_err(ApiError::internal)?);
    state.caches.insert(key, bytes.clone());
    Ok(bytes)
}

/// Parse the `step` of a time series: `week` or `month` (also Dutch `maand`); the error names `parameter`.
pub fn parse_step(parameter: &str, value: &str) -> Result<Step, ApiError> {
    match Step::parse(value) {
        Some(step @ (Step::Week | Step::Month)) => Ok(step),
        _ => Err(ApiError::param(
            parameter,
            format!(
                "onbekende stap '{}': week of month",
                value.trim().to_ascii_lowercase()
            ),
        )),
    }
}

/// `[{"period","start","days","count"}]` of zero-filled buckets.
pub fn buckets_json(b: &Buckets) -> Value {
    serde_json::to_value(b.rows()).unwrap_or_else(|_| json!([]))
}

pub(crate) fn find_area(s: &Snapshot, code: &str) -> Result<u32, ApiError> {
    s.area_index(code)
        .ok_or_else(|| ApiError::NotFound(format!("onbekend gebied '{code}'")))
}

/// `GET /api/areas/{code}/timeseries?step=week|month` (+filters).
async fn timeseries(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let s = caller.snapshot.clone();
    let idx = find_area(&s, &code)?;
    let filter = Filter::parse(&params, &s)?;
    let step = match params.get("step") {
        Some(v) => parse_step("step", v)?,
        None => Step::Month,
    };
    let protect = caller.principal.sees_protected_counts();
    let key = AnalysisBodyKey {
        generation: s.generation,
        protect,
        request: AnalysisRequest::TimeSeries {
            area: idx,
            filter: filter.cache_key(),
            step,
        },
    };
    let st = state.clone();
    cached_json(&st, key, move || {
        let a = s.area(idx);
        let (from, to, series) = match filter.period(&s) {
            Some((from, to)) => {
                let mut b = Buckets::new(step, from, to);
                for k in s.incidents_in(idx, &filter) {
                    b.add(s.incidents[k as usize].begin().date());
                }
                let mut series = buckets_json(&b);
                if protect {
                    protect_series(&state, &s, idx, &filter, &b, &mut series);
                }
                (Some(from), Some(to), series)
            }
            None => (None, None, json!([])),
        };
        Ok(json!({
            "code": a.code,
            "name": a.name,
            "step": step.as_str(),
            "from": from,
            "to": to,
            "series": series,
        }))
    })
    .await
}

/// Protect the steps of a time series (`series`, as [`buckets_json`]) of area `idx` in place: a table of the
/// steps under the area's total, whose status comes from the area table.
pub(crate) fn protect_series(
    state: &AppState,
    s: &Snapshot,
    idx: u32,
    filter: &Filter,
    b: &Buckets,
    series: &mut Value,
) {
    let table = state.protected_table(s, filter, true);
    let i = idx as usize;
    let steps: Vec<(String, u64)> = b
        .starts
        .iter()
        .zip(&b.counts)
        .map(|(start, &count)| (start.to_string(), count))
        .collect();
    let protected = crate::publish::series_table(table.counts[i], table.status[i], &steps, table.k);
    let Some(items) = series.as_array_mut() else {
        return;
    };
    for (j, item) in items.iter_mut().enumerate() {
        let Some(o) = item.as_object_mut() else {
            continue;
        };
        let (count, label, suppressed) = crate::publish::series_fields(protected.as_ref(), j + 1);
        o.insert("count".into(), count);
        o.insert("count_label".into(), label);
        o.insert("suppressed".into(), json!(suppressed));
    }
}

/// Is the count of area `idx` withheld from a protected caller (so its profiles are withheld too)?
fn area_withheld(state: &AppState, s: &Snapshot, idx: u32, filter: &Filter, protect: bool) -> bool {
    protect
        && state
            .protected_table(s, filter, true)
            .is_suppressed(idx as usize)
}

/// `GET /api/areas/{code}/hour-of-week` (+filters): aoristic weights.
async fn hour_of_week(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let s = caller.snapshot.clone();
    let idx = find_area(&s, &code)?;
    let filter = Filter::parse(&params, &s)?;
    let protect = caller.principal.sees_protected_counts();
    let key = AnalysisBodyKey {
        generation: s.generation,
        protect,
        request: AnalysisRequest::HourOfWeek {
            area: idx,
            filter: filter.cache_key(),
        },
    };
    let st = state.clone();
    cached_json(&st, key, move || {
        let a = s.area(idx);
        if area_withheld(&state, &s, idx, &filter, protect) {
            return Ok(json!({"code": a.code, "name": a.name, "suppressed": true,
                             "slots": null, "day_of_week": null, "hour_of_day": null, "counts": null}));
        }
        let events: Vec<Event> = s
            .incidents_in(idx, &filter)
            .into_iter()
            .map(|k| s.incidents[k as usize].event())
            .collect();
        let p = time_profile(&events, &AoristicConfig::default()).map_err(ApiError::internal)?;
        Ok(json!({
            "code": a.code,
            "name": a.name,
            "slots": p.hour_of_week,
            "day_of_week": p.day_of_week,
            "hour_of_day": p.hour_of_day,
            "counts": p.counts,
        }))
    })
    .await
}

/// Cache key of the [`ProfileData`] of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProfileDataKey {
    pub generation: u64,
}

impl HeapSize for ProfileDataKey {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl CacheEntry for ProfileDataKey {
    type Value = Arc<ProfileData>;
    const KIND: &'static str = "profile_data";
}

pub(crate) fn profile_data(state: &AppState, s: &Snapshot) -> Result<Arc<ProfileData>, ApiError> {
    let key = ProfileDataKey {
        generation: s.generation,
    };
    if let Some(d) = state.caches.get(&key) {
        return Ok(d);
    }
    let tenant = s.tenant.clone();
    let data = state.with_store(|store| -> Result<ProfileData, crate::store::StoreError> {
        let mut addresses = Vec::new();
        store.for_each_address(&mut |a| {
            addresses.push(ProfileAddress {
                attrs: AddressAttrs {
                    address_id: a.bag_id.clone(),
                    bouwjaar: a.bouwjaar,
                    gebruiksdoelen: a
                        .gebruiksdoel
                        .as_deref()
                        .map(|g| g.split(',').map(|s| s.trim().to_string()).collect())
                        .unwrap_or_default(),
                    oppervlakte_m2: a.oppervlakte_m2.map(|v| v as f64),
                },
                buurtcode: a.buurtcode.clone(),
                x_m: a.x_m,
                y_m: a.y_m,
            });
            Ok(())
        })?;
        let bag_ids = store
            .incidents(&IncidentFilter {
                tenant,
                ..Default::default()
            })?
            .into_iter()
            .filter_map(|i| i.bag_id.map(|b| (i.id, b)))
            .collect();
        Ok(ProfileData { addresses, bag_ids })
    })?;
    let data = Arc::new(data);
    state.caches.insert(key, data.clone());
    Ok(data)
}

/// Cache key of the current values of one address attribute of a snapshot's tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttributeValuesKey {
    pub generation: u64,
    pub name: String,
}

impl HeapSize for AttributeValuesKey {
    fn heap_bytes(&self) -> usize {
        self.name.heap_bytes()
    }
}

impl CacheEntry for AttributeValuesKey {
    type Value = Arc<HashMap<String, f64>>;
    const KIND: &'static str = "attribute_values";
}

/// Cache key of the names of a snapshot's tenant's address attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttributeNamesKey {
    pub generation: u64,
}

impl HeapSize for AttributeNamesKey {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl CacheEntry for AttributeNamesKey {
    type Value = Arc<Vec<String>>;
    const KIND: &'static str = "attribute_names";
}

fn attribute_names(state: &AppState, s: &Snapshot) -> Result<Arc<Vec<String>>, ApiError> {
    let key = AttributeNamesKey {
        generation: s.generation,
    };
    if let Some(n) = state.caches.get(&key) {
        return Ok(n);
    }
    let names = Arc::new(state.with_store(|store| store.address_attribute_names(&s.tenant))?);
    state.caches.insert(key, names.clone());
    Ok(names)
}

fn attribute_values(
    state: &AppState,
    s: &Snapshot,
    name: &str,
) -> Result<Arc<HashMap<String, f64>>, ApiError> {
    let key = AttributeValuesKey {
        generation: s.generation,
        name: name.to_string(),
    };
    if let Some(v) = state.caches.get(&key) {
        return Ok(v);
    }
    let values = Arc::new(state.with_store(|store| store.address_attributes(&s.tenant, name))?);
    state.caches.insert(key, values.clone());
    Ok(values)
}

/// The attribute a dimension name reads (`woz` -> `woz_waarde`); `None` for a standard dimension.
fn dimension_attribute(name: &str) -> Option<&str> {
    if STANDARD_DIMENSIONS.contains(&name) {
        None
    } else if name == "woz" {
        Some(WOZ_ATTRIBUTE)
    } else {
        Some(name)
    }
}

/// The dimensions a profile of the caller's tenant can be asked for: the standard ones, `woz` when WOZ values
/// were imported, and every imported address attribute.
fn available_dimensions(names: &[String]) -> Vec<String> {
    let mut available: Vec<String> = STANDARD_DIMENSIONS.iter().map(|d| d.to_string()).collect();
    if names.iter().any(|n| n == WOZ_ATTRIBUTE) {
        available.push("woz".into());
    }
    available.extend(names.iter().cloned());
    available
}

/// `GET /api/profile/dimensions`: `{"dimensions": [...]}` ([`available_dimensions`]), for the web panel's choice.
async fn profile_dimensions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let s = caller.snapshot.clone();
    let st = state.clone();
    let names = state
        .blocking
        .run(move |_| attribute_names(&st, &s))
        .await?;
    Ok(axum::Json(json!({"dimensions": available_dimensions(&names)})).into_response())
}

/// Protect the rows of one dimension (`rows`, serialised [`crate::analysis::profile::ProfileRow`]s) as parts
/// under their total with `k` (see the module docs); returns (whether any count was withheld, the total's
/// published value or `None`, the total's label).
fn protect_rows(rows: &mut Value, k: u32) -> (bool, Option<u64>, Option<String>) {
    let Some(items) = rows.as_array_mut() else {
        return (false, None, None);
    };
    let parts: Vec<(String, u64)> = items
        .iter()
        .map(|r| {
            (
                r["class"].as_str().unwrap_or_default().to_string(),
                r["incidents"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let table = crate::publish::breakdown_table(&parts, k);
    let mut withheld = table.is_suppressed(0);
    for (j, item) in items.iter_mut().enumerate() {
        if table.is_suppressed(j + 1) {
            withheld = true;
            crate::publish::withhold_json(
                item,
                "incidents",
                table.label(j + 1),
                &[
                    "incident_share",
                    "affected_addresses",
                    "over_representation",
                    "relative_risk",
                ],
            );
            continue;
        }
        if let Some(o) = item.as_object_mut() {
            o.insert("count_label".into(), Value::Null);
            o.insert("suppressed".into(), json!(false));
            let affected = o
                .get("affected_addresses")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if let Some(label) = crate::publish::small_count_label(affected, k) {
                withheld = true;
                o.insert("affected_addresses".into(), Value::Null);
                o.insert("affected_label".into(), json!(label));
                o.insert("relative_risk".into(), Value::Null);
            }
        }
    }
    (withheld, table.published(0), table.label(0))
}

/// `GET /api/areas/{code}/profile` (+filters, `confidence`, default 0.95, `dimension`, `classes`, `by`):
/// phenomenon profile (see the module docs).
async fn profile(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let s = caller.snapshot.clone();
    let idx = find_area(&s, &code)?;
    let filter = Filter::parse(&params, &s)?;
    let confidence = match params.get("confidence") {
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|c| *c > 0.0 && *c < 1.0)
            .ok_or_else(|| {
                ApiError::param(
                    "confidence",
                    format!("'{v}' is geen betrouwbaarheid tussen 0 en 1 (bijv. 0.95)"),
                )
            })?,
        None => 0.95,
    };
    let dimension = params
        .get("dimension")
        .map(|d| d.trim().to_lowercase())
        .filter(|d| !d.is_empty());
    let classes = params
        .get("classes")
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let spec = classes
        .as_deref()
        .map(ClassSpec::parse)
        .transpose()
        .map_err(|e| ApiError::param("classes", e.to_string()))?;
    let by = match params.get("by").map(|b| b.trim()).filter(|b| !b.is_empty()) {
        Some(b) => Some(ProfileBy::parse(b).ok_or_else(|| {
            ApiError::param(
                "by",
                format!("onbekende indeling '{b}': buurt, wijk of year"),
            )
        })?),
        None => None,
    };
    if spec.is_some() && dimension.as_deref().and_then(dimension_attribute).is_none() {
        return Err(ApiError::param(
            "classes",
            "klassen gelden alleen voor woz en ingelezen adreskenmerken (dimension=...)",
        ));
    }
    if by.is_some() && dimension.is_none() {
        return Err(ApiError::param(
            "dimension",
            "by vraagt om één dimensie, bijv. dimension=woz",
        ));
    }
    let names = {
        let st = state.clone();
        let s = s.clone();
        state
            .blocking
            .run(move |_| attribute_names(&st, &s))
            .await?
    };
    if let Some(attr) = dimension.as_deref().and_then(dimension_attribute) {
        if !names.iter().any(|n| n == attr) {
            let available = available_dimensions(&names);
            return Err(ApiError::param(
                "dimension",
                format!(
                    "onbekende dimensie '{}': kies uit {}",
                    dimension.as_deref().unwrap_or_default(),
                    available.join(", ")
                ),
            ));
        }
    }
    let protect = caller.principal.sees_protected_counts();
    let key = AnalysisBodyKey {
        generation: s.generation,
        protect,
        request: AnalysisRequest::Profile {
            area: idx,
            filter: filter.cache_key(),
            confidence: confidence.into(),
            dimension: dimension.clone(),
            classes: classes.clone(),
            by,
        },
    };
    let st = state.clone();
    cached_json(&state, key, move || {
        let a = s.area(idx);
        if area_withheld(&st, &s, idx, &filter, protect) {
            return Ok(json!({"code": a.code, "name": a.name, "suppressed": true}));
        }
        let data = profile_data(&st, &s)?;
        let members: Vec<&ProfileAddress> = data
            .addresses
            .iter()
            .filter(|a| s.holds_address(idx, a.buurtcode.as_deref(), a.x_m, a.y_m))
            .collect();
        let addresses: Vec<AddressAttrs> = members.iter().map(|a| a.attrs.clone()).collect();
        let incidents = s.incidents_in(idx, &filter);
        let mut ids: Vec<&str> = Vec::with_capacity(incidents.len());
        let mut years: Vec<String> = Vec::new();
        for &k in &incidents {
            let inc = &s.incidents[k as usize];
            if let Some(id) = data.bag_ids.get(&inc.id) {
                ids.push(id.as_str());
                if by == Some(ProfileBy::Year) {
                    years.push(chrono::Datelike::year(&inc.begin()).to_string());
                }
            }
        }
        let available = available_dimensions(&names);
        let has_woz = names.iter().any(|n| n == WOZ_ATTRIBUTE);
        let param =
            |e: crate::analysis::profile::ProfileError| ApiError::param("classes", e.to_string());
        // The values of the dimension's attribute (or of woz_waarde for the default profile's woz dimension).
        let wanted = match dimension.as_deref() {
            Some(d) => dimension_attribute(d),
            None => has_woz.then_some(WOZ_ATTRIBUTE),
        };
        let values = match wanted {
            Some(attr) => attribute_values(&st, &s, attr)?,
            None => Arc::new(HashMap::new()),
        };
        let make = |name: &str| -> Result<Dimension<'_>, ApiError> {
            if let Some(d) = Dimension::standard(name) {
                return Ok(d);
            }
            match (&spec, name == "woz") {
                (None, true) => Ok(Dimension::woz(&values)),
                (spec, woz) => {
                    let attr = if woz { WOZ_ATTRIBUTE } else { name };
                    let spec = spec.clone().unwrap_or(ClassSpec::Quantiles(5));
                    let mut d =
                        Dimension::attribute(attr, &values, &spec, &addresses).map_err(param)?;
                    if woz {
                        d.name = "woz".into();
                    }
                    Ok(d)
                }
            }
        };
        let k = protect.then(|| st.protected_table(&s, &filter, true).k);
        let mut v = match (&dimension, by) {
            (None, _) => {
                let extra = if has_woz {
                    vec![make("woz")?]
                } else {
                    Vec::new()
                };
                let p =
                    phenomenon_profile_with(&addresses, &ids, &extra, confidence).map_err(param)?;
                serde_json::to_value(&p).map_err(ApiError::internal)?
            }
            (Some(name), None) => {
                let d = make(name)?;
                let p = dimension_profile(&addresses, &ids, &d, confidence).map_err(param)?;
                let mut rows = serde_json::to_value(&p.rows).map_err(ApiError::internal)?;
                if let Some(k) = k {
                    protect_rows(&mut rows, k);
                }
                json!({"dimension": p.dimension, "bounds": d.bounds, "rows": rows})
            }
            (Some(name), Some(by)) => {
                let d = make(name)?;
                let address_groups: Vec<Option<String>>;
                let grouping = match by {
                    ProfileBy::Year => Grouping::ByIncident(&years),
                    ProfileBy::Buurt | ProfileBy::Wijk => {
                        address_groups = members
                            .iter()
                            .map(|m| {
                                let b = m.buurtcode.as_deref()?;
                                match by {
                                    ProfileBy::Wijk => s
                                        .area_index(b)
                                        .and_then(|i| s.area(i).wijkcode.clone())
                                        .or_else(|| by.address_group(Some(b))),
                                    _ => by.address_group(Some(b)),
                                }
                            })
                            .collect();
                        Grouping::ByAddress(&address_groups)
                    }
                };
                let b =
                    profile_breakdown(&addresses, &ids, grouping, &d, confidence).map_err(param)?;
                let mut v = serde_json::to_value(&b).map_err(ApiError::internal)?;
                let mut withheld = false;
                if let Some(k) = k {
                    withheld |= protect_rows(&mut v["overall"]["rows"], k).0;
                    if let Some(groups) = v["groups"].as_array_mut() {
                        for g in groups {
                            let (w, total, label) = protect_rows(&mut g["rows"], k);
                            withheld |= w;
                            if total.is_none() {
                                g["incidents"] = Value::Null;
                                g["count_label"] = json!(label);
                                g["suppressed"] = json!(true);
                            }
                            let affected = g["affected_addresses"].as_u64().unwrap_or(0);
                            if let Some(label) = crate::publish::small_count_label(affected, k) {
                                g["affected_addresses"] = Value::Null;
                                g["affected_label"] = json!(label);
                            }
                        }
                    }
                    if withheld {
                        v["distribution_test"] = Value::Null;
                        v["risk_test"] = Value::Null;
                    }
                }
                v["tests_withheld"] = json!(withheld);
                v["by"] = json!(by.as_str());
                if let Some(groups) = v["groups"].as_array_mut() {
                    for g in groups {
                        let code = g["group"].as_str().unwrap_or_default().to_string();
                        let name = s.area_index(&code).map(|i| s.area(i).name.clone());
                        g["name"] = json!(name);
                    }
                }
                v
            }
        };
        if let Some(o) = v.as_object_mut() {
            o.insert("code".into(), json!(a.code));
            o.insert("name".into(), json!(a.name));
            o.insert("incidents".into(), json!(incidents.len()));
            o.insert(
                "incidents_without_address".into(),
                json!(incidents.len() - ids.len()),
            );
            o.insert("confidence".into(), json!(confidence));
            o.insert("available_dimensions".into(), json!(available));
        }
        Ok(v)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_steps_are_week_or_month_and_errors_name_the_parameter() {
        assert_eq!(parse_step("step", " Maand ").unwrap(), Step::Month);
        assert_eq!(parse_step("step", "week").unwrap(), Step::Week);
        assert!(parse_step("step", "day").is_err());
        assert!(matches!(
            parse_step("step", "jaar"),
            Err(ApiError::BadRequest { parameter: Some(p), .. }) if p == "step"
        ));
    }

    #[test]
    fn buckets_publish_period_start_days_and_count() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut b = Buckets::new(Step::Month, d("2024-01-15"), d("2024-04-01"));
        b.add(d("2024-02-29"));
        let j = buckets_json(&b);
        assert_eq!(j[1]["period"], "2024-02");
        assert_eq!(j[1]["start"], "2024-02-01");
        assert_eq!(j[1]["days"], 29);
        assert_eq!(j[1]["count"], 1);
        assert_eq!(j[0]["days"], 17);
    }
}
