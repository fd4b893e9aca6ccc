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
//!   snapshot generation and cached.
//!
//! Small-count protection (viewers, anonymous callers; [`crate::suppression`]): the time series is protected
//! as a table of its own hanging from the area's count (the period total = the sum of the steps; the total's
//! status is the one of the area table, [`super::AppState::protected_table`], so it agrees with the map): withheld
//! steps are `null` with `count_label` and `suppressed: true`; when the steps cannot be protected without
//! revealing the published total, every step is withheld (`count_label: "afgeschermd"`). The hour-of-week
//! profile and the phenomenon profile of an area whose count is withheld are withheld as a whole
//! (`suppressed: true`, no distributions).
//!
//! Results are computed on the blocking pool ([`super::blocking`]) and cached ([`crate::cache`]) by (generation, area, filter,
//! parameters, protected or not).

use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::analysis::aoristic::{time_profile, AoristicConfig};
use crate::analysis::profile::{phenomenon_profile, AddressAttrs, ProfileAddress, ProfileData};
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
            | AnalysisRequest::Profile { filter, .. } => filter.heap_bytes(),
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
    if let Some(b) = state.caches.get(&key) {
        return Ok(json_body(b));
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
    Ok(json_body(bytes))
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

/// `GET /api/areas/{code}/profile` (+filters, `confidence`, default 0.95): phenomenon profile.
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
    let protect = caller.principal.sees_protected_counts();
    let key = AnalysisBodyKey {
        generation: s.generation,
        protect,
        request: AnalysisRequest::Profile {
            area: idx,
            filter: filter.cache_key(),
            confidence: confidence.into(),
        },
    };
    let st = state.clone();
    cached_json(&state, key, move || {
        if area_withheld(&st, &s, idx, &filter, protect) {
            let a = s.area(idx);
            return Ok(json!({"code": a.code, "name": a.name, "suppressed": true}));
        }
        let data = profile_data(&st, &s)?;
        let addresses: Vec<AddressAttrs> = data
            .addresses
            .iter()
            .filter(|a| s.holds_address(idx, a.buurtcode.as_deref(), a.x_m, a.y_m))
            .map(|a| a.attrs.clone())
            .collect();
        let incidents = s.incidents_in(idx, &filter);
        let ids: Vec<&str> = incidents
            .iter()
            .filter_map(|&k| data.bag_ids.get(&s.incidents[k as usize].id))
            .map(String::as_str)
            .collect();
        let p = phenomenon_profile(&addresses, &ids, confidence)
            .map_err(|e| ApiError::param("confidence", e.to_string()))?;
        let a = s.area(idx);
        let mut v = serde_json::to_value(&p).map_err(ApiError::internal)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("code".into(), json!(a.code));
            o.insert("name".into(), json!(a.name));
            o.insert("incidents".into(), json!(incidents.len()));
            o.insert(
                "incidents_without_address".into(),
                json!(incidents.len() - ids.len()),
            );
            o.insert("confidence".into(), json!(confidence));
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
