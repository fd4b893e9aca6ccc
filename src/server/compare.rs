//! `POST /api/compare`: areas over two periods, with an optional intervention evaluation (WDQ).
//!
//! Body (JSON): `{"areas": ["BU...", "custom:3"], "category": "inbraak" | ["1.1.1", ...], "source": ...,
//! "from", "to", "vs_from", "vs_to", "step": "week"|"month", "intervention": {"target", "buffer_m", "control"}}`.
//! `categories` is accepted for `category`. `from`/`to` default to the data's first/last day, `vs_from`/`vs_to`
//! to the equally long period just before. `step` (series) defaults to `week` for periods up to 92 days, else
//! `month`.
//!
//! Per area: `count` (period), `vs_count` (comparison period), `rate` per 1,000 inhabitants in the period (null
//! when unknown), and the change as [`crate::analysis::compare::rate_ratio`] with the period lengths in days as
//! exposures (`rate_ratio` null when `vs_count` = 0, `ci_high` null when unbounded, `p`), the zero-filled
//! `series` of the period and `vs_series` of the comparison period. Counting follows the filters (incidents whose
//! window begins in the period; CBS levels by buurt, custom areas by point in polygon), so counts equal
//! `/api/areas/{code}/stats`.
//!
//! Intervention: target `R` = the target area's counts; buffer `D` = located incidents whose point lies within
//! `buffer_m` metres (Euclidean distance in RD) of the target's geometry but not inside it
//! ([`crate::analysis::compare::BufferRing`]); control `C` = the control area's counts. "Before" is the
//! comparison period, "after" the period; the result is
//! [`crate::analysis::compare::weighted_displacement_quotient`] (methods.md).
//!
//! Small-count protection (viewers, anonymous callers): `count` and `vs_count` come from the protected area
//! tables of the two periods ([`super::AppState::protected_table`], so they equal the map and `/stats`); a withheld
//! count is `null` with `count_label`/`vs_count_label` and `suppressed`; the rate and the rate ratio derived
//! from it are `null`; the series are protected under their period's total as in `/timeseries`; the WDQ is
//! withheld (`{"suppressed": true}`) when any of its six counts is withheld or in `1..k-1`.
//!
//! `POST /api/compare?format=xlsx` (same body) answers the same document as an Excel workbook
//! (`brandpunt-vergelijking.xlsx`, [`super::xlsx`]): worksheets `Gebieden` (a row per area, [`AREA_COLUMNS`]),
//! `Reeks periode` and `Reeks vergelijking` (a row per area and step: `code`, `name` and the series' members),
//! `Perioden` (both periods with their days) and, with an intervention, `Verplaatsing (WDQ)` (the WDQ's members,
//! its counts flattened; only `suppressed` when withheld). A withheld count is an empty cell with its label.
//!
//! Errors: 400 naming the field (`areas`, `category`, `from`, `vs_to`, `intervention.buffer_m`, ...), 404 for an
//! unknown area. Responses are cached per (generation, body).

use super::analysis_api::{buckets_json, cached_body, find_area, json_body, parse_step};
use super::analysis_api::{AnalysisBodyKey, AnalysisRequest};
use super::error::ApiError;
use super::filter::{self, parse_date, Filter};
use super::AppState;
use super::Caller;
use crate::analysis::compare::{
    period_days, rate_ratio, weighted_displacement_quotient, PeriodCounts, WdqCounts,
};
use crate::calendar::Step;
use crate::dataset::compare::{area_period_counts, buffer_ring_counts};
use crate::dataset::Snapshot;
use crate::publish::rate_per_1000;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/compare", post(compare))
}

/// Most areas in one request.
pub const MAX_AREAS: usize = 50;
/// Largest intervention buffer, metres.
pub const MAX_BUFFER_M: f64 = 5_000.0;

/// A validated compare request.
#[derive(Clone, Debug)]
struct Request {
    areas: Vec<u32>,
    filter: Filter,
    vs_filter: Filter,
    period: (NaiveDate, NaiveDate),
    vs_period: (NaiveDate, NaiveDate),
    step: Step,
    intervention: Option<Intervention>,
}

#[derive(Clone, Debug)]
struct Intervention {
    target: u32,
    buffer_m: f64,
    control: u32,
}

fn text_list(field: &str, v: &Value) -> Result<String, ApiError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::param(field, format!("'{field}' moet een lijst van teksten zijn"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(",")),
        _ => Err(ApiError::param(
            field,
            format!("'{field}' moet een tekst of een lijst van teksten zijn"),
        )),
    }
}

fn date_field(o: &Map<String, Value>, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_date(field, s).map(Some),
        Some(_) => Err(ApiError::param(
            field,
            format!("'{field}' moet een datum (JJJJ-MM-DD) als tekst zijn"),
        )),
    }
}

fn code_field(o: &Map<String, Value>, field: &str, path: &str) -> Result<String, ApiError> {
    o.get(field)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::param(path, format!("'{path}' ontbreekt of is geen gebiedscode")))
}

fn parse_request(s: &Snapshot, body: &[u8], max_period_days: u32) -> Result<Request, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::param("body", format!("de body is geen geldige JSON: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| ApiError::param("body", "de body moet een JSON-object zijn"))?;
    let codes: Vec<String> = match o.get("areas") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str().map(|c| c.trim().to_string()).ok_or_else(|| {
                    ApiError::param("areas", "'areas' moet een lijst van gebiedscodes zijn")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ApiError::param(
                "areas",
                "'areas' moet een niet-lege lijst van gebiedscodes zijn",
            ))
        }
    };
    if codes.len() > MAX_AREAS {
        return Err(ApiError::param(
            "areas",
            format!(
                "hoogstens {MAX_AREAS} gebieden per vergelijking ({})",
                codes.len()
            ),
        ));
    }
    // Categories and sources as query-style parameters, so the filter's validation and messages apply.
    let mut params: HashMap<String, String> = HashMap::new();
    let category = match (o.get("category"), o.get("categories")) {
        (Some(c), _) => text_list("category", c)?,
        (None, Some(c)) => text_list("categories", c)?,
        (None, None) => String::new(),
    };
    params.insert("category".into(), category);
    if let Some(src) = o.get("source") {
        params.insert("source".into(), text_list("source", src)?);
    }
    let from = date_field(o, "from")?;
    let to = date_field(o, "to")?;
    let vs_from = date_field(o, "vs_from")?;
    let vs_to = date_field(o, "vs_to")?;
    let base = Filter::parse(&params, s)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::param(
                "to",
                format!("'to' ({t}) ligt voor 'from' ({f})"),
            ));
        }
    }
    if let (Some(f), Some(t)) = (vs_from, vs_to) {
        if f > t {
            return Err(ApiError::param(
                "vs_to",
                format!("'vs_to' ({t}) ligt voor 'vs_from' ({f})"),
            ));
        }
    }
    // `[limits] max_period_days` as for the query parameters of GET requests.
    if let (Some(f), Some(t)) = (from, to) {
        filter::check_period(f, t, max_period_days)?;
    }
    if let (Some(f), Some(t)) = (vs_from, vs_to) {
        filter::check_period(f, t, max_period_days).map_err(|e| match e {
            ApiError::BadRequest { message, .. } => ApiError::param("vs_to", message),
            other => other,
        })?;
    }
    let filter = base.with_period(s, from, to);
    let period = filter
        .period(s)
        .ok_or_else(|| ApiError::param("from", "er zijn geen incidenten; geef 'from' en 'to'"))?;
    if period.0 > period.1 {
        return Err(ApiError::param(
            "from",
            format!("de periode {} - {} is leeg", period.0, period.1),
        ));
    }
    let vs_period = match (vs_from, vs_to) {
        (Some(f), Some(t)) => (f, t),
        (None, None) => {
            let prev = filter.previous(s).ok_or_else(|| {
                ApiError::param("vs_from", "geen vergelijkingsperiode te bepalen")
            })?;
            prev.period(s)
                .ok_or_else(|| ApiError::param("vs_from", "geen vergelijkingsperiode te bepalen"))?
        }
        (None, Some(_)) => {
            return Err(ApiError::param(
                "vs_from",
                "'vs_from' ontbreekt (naast 'vs_to')",
            ))
        }
        (Some(_), None) => {
            return Err(ApiError::param(
                "vs_to",
                "'vs_to' ontbreekt (naast 'vs_from')",
            ))
        }
    };
    let vs_filter = base.with_period(s, Some(vs_period.0), Some(vs_period.1));
    let step = match o.get("step") {
        None | Some(Value::Null) => {
            if (period.1 - period.0).num_days() < 92 {
                Step::Week
            } else {
                Step::Month
            }
        }
        Some(Value::String(v)) => parse_step("step", v)?,
        Some(_) => {
            return Err(ApiError::param(
                "step",
                "'step' moet 'week' of 'month' zijn",
            ))
        }
    };
    let intervention = match o.get("intervention") {
        None | Some(Value::Null) => None,
        Some(Value::Object(iv)) => {
            let target = code_field(iv, "target", "intervention.target")?;
            let control = code_field(iv, "control", "intervention.control")?;
            let buffer_m = iv
                .get("buffer_m")
                .and_then(Value::as_f64)
                .filter(|b| b.is_finite() && *b > 0.0 && *b <= MAX_BUFFER_M)
                .ok_or_else(|| {
                    ApiError::param(
                        "intervention.buffer_m",
                        format!("'buffer_m' moet een getal in meters zijn, groter dan 0 en hoogstens {MAX_BUFFER_M}"),
                    )
                })?;
            Some((target, buffer_m, control))
        }
        Some(_) => {
            return Err(ApiError::param(
                "intervention",
                "'intervention' moet een object {target, buffer_m, control} zijn",
            ))
        }
    };
    // Unknown areas: 404 after the body is known to be well-formed.
    let areas = codes
        .iter()
        .map(|c| find_area(s, c))
        .collect::<Result<Vec<u32>, _>>()?;
    let intervention = match intervention {
        Some((target, buffer_m, control)) => {
            let target = find_area(s, &target)?;
            let control = find_area(s, &control)?;
            if target == control {
                return Err(ApiError::param(
                    "intervention.control",
                    "het controlegebied moet een ander gebied zijn dan het doelgebied",
                ));
            }
            Some(Intervention {
                target,
                buffer_m,
                control,
            })
        }
        None => None,
    };
    Ok(Request {
        areas,
        filter,
        vs_filter,
        period,
        vs_period,
        step,
        intervention,
    })
}

/// Counts and series of area `idx` in both periods ([`area_period_counts`]).
fn count_area(s: &Snapshot, idx: u32, req: &Request, union: &Filter) -> PeriodCounts {
    area_period_counts(s, idx, union, req.step, req.period, req.vs_period)
}

fn compute(
    state: &AppState,
    s: &Snapshot,
    req: &Request,
    protect: bool,
) -> Result<Value, ApiError> {
    let now_filter = req
        .filter
        .with_period(s, Some(req.period.0), Some(req.period.1));
    let vs_filter = req
        .filter
        .with_period(s, Some(req.vs_period.0), Some(req.vs_period.1));
    let now_table = state.protected_table(s, &now_filter, protect);
    let vs_table = state.protected_table(s, &vs_filter, protect);
    let lo = req.period.0.min(req.vs_period.0);
    let hi = req.period.1.max(req.vs_period.1);
    let union = req.filter.with_period(s, Some(lo), Some(hi));
    let (exp, vs_exp) = (period_days(req.period), period_days(req.vs_period));
    let mut areas = Vec::with_capacity(req.areas.len());
    for &idx in &req.areas {
        let a = s.area(idx);
        let r = count_area(s, idx, req, &union);
        let rr = rate_ratio(r.count, exp, r.vs_count, vs_exp, 0.95).map_err(ApiError::internal)?;
        let i = idx as usize;
        let (count, count_label, now_withheld) = if protect {
            crate::publish::count_fields(&now_table, i)
        } else {
            (json!(r.count), Value::Null, false)
        };
        let (vs_count, vs_count_label, vs_withheld) = if protect {
            crate::publish::count_fields(&vs_table, i)
        } else {
            (json!(r.vs_count), Value::Null, false)
        };
        let rate = a
            .inhabitants
            .filter(|&i| i > 0 && !now_withheld)
            .map(|i| rate_per_1000(u32::try_from(r.count).unwrap_or(u32::MAX), i));
        let hide = now_withheld || vs_withheld;
        let mut series = buckets_json(&r.series);
        let mut vs_series = buckets_json(&r.vs_series);
        if protect {
            super::analysis_api::protect_series(state, s, idx, &now_filter, &r.series, &mut series);
            super::analysis_api::protect_series(
                state,
                s,
                idx,
                &vs_filter,
                &r.vs_series,
                &mut vs_series,
            );
        }
        let or_null = |v: Value| if hide { Value::Null } else { v };
        areas.push(json!({
            "code": a.code,
            "name": a.name,
            "level": a.level.as_str(),
            "count": count,
            "count_label": count_label,
            "vs_count": vs_count,
            "vs_count_label": vs_count_label,
            "suppressed": hide,
            "inhabitants": a.inhabitants,
            "rate": rate,
            "rate_ratio": or_null(json!(rr.ratio)),
            "ci_low": or_null(json!(rr.ci_lower)),
            "ci_high": or_null(json!(rr.ci_upper)),
            "p": or_null(json!(rr.p_value)),
            "series": series,
            "vs_series": vs_series,
        }));
    }
    let wdq = match &req.intervention {
        None => Value::Null,
        Some(iv) => {
            let t = count_area(s, iv.target, req, &union);
            let c = count_area(s, iv.control, req, &union);
            let (db, da) =
                buffer_ring_counts(s, iv.target, iv.buffer_m, &union, req.vs_period, req.period);
            let counts = WdqCounts {
                target_before: t.vs_count,
                target_after: t.count,
                buffer_before: db,
                buffer_after: da,
                control_before: c.vs_count,
                control_after: c.count,
            };
            if protect {
                let k = u64::from(now_table.k.max(vs_table.k));
                let small = [t.vs_count, t.count, db, da, c.vs_count, c.count]
                    .iter()
                    .any(|&n| n >= 1 && n < k);
                let withheld = [iv.target, iv.control].iter().any(|&a| {
                    now_table.is_suppressed(a as usize) || vs_table.is_suppressed(a as usize)
                });
                if small || withheld {
                    return Ok(finish(req, areas, json!({"suppressed": true})));
                }
            }
            let w = weighted_displacement_quotient(counts).map_err(|e| {
                ApiError::param(
                    "intervention.control",
                    format!("het controlegebied moet in beide perioden incidenten hebben ({e})"),
                )
            })?;
            let mut v = serde_json::to_value(&w).map_err(ApiError::internal)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("target".into(), json!(s.area(iv.target).code));
                o.insert("control".into(), json!(s.area(iv.control).code));
                o.insert("buffer_m".into(), json!(iv.buffer_m));
            }
            v
        }
    };
    Ok(finish(req, areas, wdq))
}

fn finish(req: &Request, areas: Vec<Value>, wdq: Value) -> Value {
    let (exp, vs_exp) = (period_days(req.period), period_days(req.vs_period));
    json!({
        "period": {"from": req.period.0, "to": req.period.1, "days": exp},
        "vs_period": {"from": req.vs_period.0, "to": req.vs_period.1, "days": vs_exp},
        "category": req.filter.category_codes,
        "source": req.filter.source_names,
        "step": req.step.as_str(),
        "areas": areas,
        "wdq": wdq,
    })
}

/// `POST /api/compare`.
async fn compare(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let xlsx = super::xlsx::wants_xlsx(&params)?;
    let s = caller.snapshot.clone();
    let req = parse_request(&s, &body, state.config.limits.max_period_days)?;
    let protect = caller.principal.sees_protected_counts();
    let key = AnalysisBodyKey {
        generation: s.generation,
        protect,
        request: AnalysisRequest::Compare {
            areas: req.areas.clone(),
            filter: req.filter.cache_key(),
            vs_filter: req.vs_filter.cache_key(),
            step: req.step,
            intervention: req
                .intervention
                .as_ref()
                .map(|i| (i.target, i.buffer_m.into(), i.control)),
        },
    };
    let st = state.clone();
    let body = cached_body(&st, key, move || compute(&state, &s, &req, protect)).await?;
    if !xlsx {
        return Ok(json_body(body));
    }
    let bytes = st
        .blocking
        .run(move |_| {
            let v: Value = serde_json::from_slice(&body).map_err(ApiError::internal)?;
            workbook(&v)
        })
        .await?;
    Ok(super::xlsx::response(bytes, "vergelijking"))
}

/// Columns of the `Gebieden` worksheet.
pub const AREA_COLUMNS: &[&str] = &[
    "code",
    "name",
    "level",
    "count",
    "count_label",
    "vs_count",
    "vs_count_label",
    "inhabitants",
    "rate",
    "rate_ratio",
    "ci_low",
    "ci_high",
    "p",
];
/// Columns of the series worksheets (`code` and `name` of the area, then the step).
pub const SERIES_COLUMNS: &[&str] = &[
    "code",
    "name",
    "period",
    "start",
    "days",
    "count",
    "count_label",
];

/// The workbook of the JSON answer `v` (see the module contract).
fn workbook(v: &Value) -> Result<Vec<u8>, ApiError> {
    use super::xlsx::{json_table, object_table};
    let areas = v["areas"].as_array().cloned().unwrap_or_default();
    let series = |k: &str| -> Vec<Value> {
        areas
            .iter()
            .flat_map(|a| {
                a[k].as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |mut step| {
                        step["code"] = a["code"].clone();
                        step["name"] = a["name"].clone();
                        step
                    })
            })
            .collect()
    };
    let periods = [
        json!({"period": "periode", "from": v["period"]["from"], "to": v["period"]["to"], "days": v["period"]["days"]}),
        json!({"period": "vergelijking", "from": v["vs_period"]["from"], "to": v["vs_period"]["to"], "days": v["vs_period"]["days"]}),
    ];
    let mut sheets = vec![
        ("Gebieden", json_table(&areas, AREA_COLUMNS)),
        (
            "Reeks periode",
            json_table(&series("series"), SERIES_COLUMNS),
        ),
        (
            "Reeks vergelijking",
            json_table(&series("vs_series"), SERIES_COLUMNS),
        ),
        (
            "Perioden",
            json_table(&periods, &["period", "from", "to", "days"]),
        ),
    ];
    if !v["wdq"].is_null() {
        sheets.push(("Verplaatsing (WDQ)", object_table(&v["wdq"])));
    }
    super::xlsx::workbook(&sheets)
}
