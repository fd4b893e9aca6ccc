//! The monthly analysis: `GET /api/report/monthly?month=2024-09` (+ `category`, `source`) answers what stands out
//! in that month, as JSON or (`format=html`) as a self-contained, printable Dutch HTML page (inline SVG map and
//! charts, no external resources).
//!
//! Contract:
//! - The month under test is compared with the preceding 12 months (fewer when the data begin later: history
//!   months before the month of the first incident in the data are left out, so a young database does not
//!   count months without deliveries as zeros). Incidents count in the month in which their window begins.
//!   `from`/`to` are ignored (the month defines the period); `category` and `source` filter as everywhere.
//! - `areas`: every buurt (incidents with a known buurt), assessed with
//!   [`crate::analysis::striking::monthly_report`] (default configuration: mean of the history, expected value
//!   floored at 0.5, exact one-sided Poisson tests, Benjamini-Hochberg at 0.05 over all buurten), in the
//!   library's order (most significant first).
//! - `categories`: every category with at least one incident in the period, counted over the whole tenant
//!   (also incidents without a buurt), assessed the same way as one family.
//! - `series`: all matching incidents per month over history and month; `total` the month's count vs the mean.
//!
//! Small-count protection (viewers, anonymous callers; JSON): a buurt's `observed` comes from the protected
//! buurt table of the month ([`super::AppState::protected_table`], the same as the map for that month); the
//! categories are protected as one table under the month's total, the history months as one table under their
//! sum (which `history_mean` publishes); the month's own total gets primary suppression. A withheld value is
//! `null` with `count_label` and `suppressed: true`, and `ratio`, `p_increase`, `p_decrease`, `change` and
//! `history_mean` derived from it are `null`. `protected` says whether the answer is protected. The HTML page
//! is rendered from the caller's JSON ([`crate::render::report`]): a protected caller's page shows the labels (`"< 5"`)
//! of the values their JSON withholds, withheld buurten are grey on the map, and no withheld number appears
//! anywhere in the page, its SVG map or its tables.
//!
//! Results are cached ([`crate::cache`]) per (snapshot generation, filter, month); the protection is applied
//! per answer from the cached protected tables.

use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::analysis::striking::{
    monthly_report, MonthlyIncident, MonthlyPeriod, MonthlyReport, StrikingArea,
};
use crate::area_level::AreaLevel;
use crate::cache::CacheEntry;
use crate::calendar::Step;
use crate::dataset::FilterKey;
use crate::dataset::Snapshot;
use crate::heap_size::HeapSize;
use crate::render::html::filter_description;
use crate::render::report::{monthly_html, MapArea, MonthlyPage};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/report/monthly", get(monthly))
}

/// Parse `YYYY-MM` to the first day of the month.
pub fn parse_month(value: &str) -> Result<NaiveDate, ApiError> {
    let v = value.trim();
    crate::calendar::parse_month(v)
        .ok_or_else(|| ApiError::param("month", format!("'{v}' is geen maand (JJJJ-MM)")))
}

/// Cache key of a computed [`MonthlyReport`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MonthlyReportKey {
    pub generation: u64,
    pub filter: FilterKey,
    /// First day of the month.
    pub month: NaiveDate,
}

impl HeapSize for MonthlyReportKey {
    fn heap_bytes(&self) -> usize {
        self.filter.heap_bytes()
    }
}

impl CacheEntry for MonthlyReportKey {
    type Value = Arc<MonthlyReport>;
    const KIND: &'static str = "monthly_report";
}

impl HeapSize for MonthlyReport {
    fn heap_bytes(&self) -> usize {
        self.months.heap_bytes()
            + self.series.heap_bytes()
            + self.areas.heap_bytes()
            + self.categories.heap_bytes()
    }
}

/// Count and assess (see the module contract).
pub fn compute_report(
    snapshot: &Snapshot,
    filter: &Filter,
    month: NaiveDate,
) -> Result<MonthlyReport, ApiError> {
    let period = MonthlyPeriod::new(month, snapshot.first_day)
        .map_err(|_| ApiError::param("month", "maand buiten het bereik"))?;
    let f = filter.with_period(snapshot, Some(period.history_from), Some(period.month_end));
    let buurten = snapshot.level_areas(AreaLevel::Buurt);
    let pos: HashMap<u32, usize> = buurten.iter().enumerate().map(|(p, &a)| (a, p)).collect();
    let codes: Vec<&str> = buurten
        .iter()
        .map(|&a| snapshot.area(a).code.as_str())
        .collect();
    let incidents = snapshot
        .incidents
        .iter()
        .filter(|inc| f.matches(inc))
        .map(|inc| MonthlyIncident {
            day: inc.begin().date(),
            area: pos.get(&inc.buurt).copied(),
            category: Some(usize::from(inc.category)),
        });
    monthly_report(&period, &codes, &snapshot.categories, incidents).map_err(ApiError::internal)
}

fn assessment_json(a: &StrikingArea) -> Value {
    json!({
        "observed": a.observed,
        "expected": a.expected,
        "history_mean": a.history_mean,
        "baseline_periods": a.baseline_periods,
        "ratio": a.ratio,
        "p_increase": a.p_increase,
        "p_decrease": a.p_decrease,
        "direction": a.direction,
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

fn period_label(d: NaiveDate) -> String {
    Step::Month.label(d)
}

/// The JSON answer.
pub fn report_json(snapshot: &Snapshot, filter: &Filter, r: &MonthlyReport) -> Value {
    let areas: Vec<Value> = r
        .areas
        .iter()
        .map(|a| {
            let area = snapshot.area_index(&a.area_id).map(|i| snapshot.area(i));
            merge(
                json!({
                    "code": a.area_id,
                    "name": area.map(|x| x.name.as_str()),
                    "wijkcode": area.and_then(|x| x.wijkcode.as_deref()),
                }),
                assessment_json(a),
            )
        })
        .collect();
    let categories: Vec<Value> = r
        .categories
        .iter()
        .map(|a| {
            merge(
                json!({"code": a.area_id, "label": crate::category::label(&a.area_id)}),
                assessment_json(a),
            )
        })
        .collect();
    let series: Vec<Value> = r
        .months
        .iter()
        .zip(&r.series)
        .map(|(m, c)| json!({"period": period_label(*m), "start": m, "count": c}))
        .collect();
    let count = r.series.last().copied().unwrap_or(0);
    let history = &r.series[..r.series.len().saturating_sub(1)];
    let history_mean =
        (!history.is_empty()).then(|| history.iter().sum::<u64>() as f64 / history.len() as f64);
    let significant = |v: &[StrikingArea]| v.iter().filter(|a| a.direction.is_some()).count();
    json!({
        "month": period_label(r.month),
        "from": r.month,
        "to": r.month_end,
        "history": {
            "from": r.history_from,
            "to": r.month.pred_opt(),
            "months": r.months.len().saturating_sub(1),
        },
        "filter": filter.query_string(),
        "config": r.config,
        "total": {
            "count": count,
            "previous_month": history.last(),
            "history_mean": history_mean,
            "change": history_mean.filter(|m| *m > 0.0).map(|m| count as f64 / m - 1.0),
        },
        "series": series,
        "areas": areas,
        "categories": categories,
        "significant": {"areas": significant(&r.areas), "categories": significant(&r.categories)},
        "skipped": {"areas": r.areas_skipped, "categories": r.categories_skipped},
    })
}

/// Apply small-count protection to the JSON answer `v` of [`report_json`] (see the module contract).
fn protect_report(
    state: &AppState,
    s: &Snapshot,
    filter: &Filter,
    r: &MonthlyReport,
    v: &mut Value,
) {
    use crate::publish::{breakdown_table, list_table, withhold_json};
    use crate::suppression::Protected;
    let month_filter = filter.with_period(s, Some(r.month), Some(r.month_end));
    let table = state.protected_table(s, &month_filter, true);
    let k = table.k;
    let derived = ["ratio", "p_increase", "p_decrease"];
    if let Some(areas) = v["areas"].as_array_mut() {
        for a in areas.iter_mut() {
            let idx = a["code"].as_str().and_then(|c| s.area_index(c));
            match idx {
                Some(i) if !table.is_suppressed(i as usize) => {}
                Some(i) => withhold_json(a, "observed", table.label(i as usize), &derived),
                None => withhold_json(a, "observed", None, &derived),
            }
        }
    }
    let month_total = r.series.last().copied().unwrap_or(0);
    let items: Vec<(String, u64)> = r
        .categories
        .iter()
        .map(|c| (c.area_id.clone(), c.observed))
        .collect();
    let cats = list_table(&items, month_total, k);
    if let Some(list) = v["categories"].as_array_mut() {
        for (j, c) in list.iter_mut().enumerate() {
            if cats.is_suppressed(j) {
                withhold_json(c, "observed", cats.label(j), &derived);
            }
        }
    }
    // History months under their sum (published through history_mean); the month itself: primary.
    let n = r.series.len().saturating_sub(1);
    let history = &r.series[..n];
    let parts: Vec<(String, u64)> = r.months[..n]
        .iter()
        .zip(history)
        .map(|(m, &c)| (m.to_string(), c))
        .collect();
    let hist = breakdown_table(&parts, k);
    let month = Protected::primary_only(vec![month_total], k);
    if let Some(series) = v["series"].as_array_mut() {
        for (j, item) in series.iter_mut().enumerate() {
            let (p, i) = if j < n { (&hist, j + 1) } else { (&month, 0) };
            if p.is_suppressed(i) {
                withhold_json(item, "count", p.label(i), &[]);
            }
        }
    }
    let total = &mut v["total"];
    if hist.is_suppressed(0) {
        total["history_mean"] = Value::Null;
        total["change"] = Value::Null;
    }
    if n > 0 && hist.is_suppressed(n) {
        total["previous_month"] = Value::Null;
    }
    if month.is_suppressed(0) {
        withhold_json(total, "count", month.label(0), &["change"]);
    }
}

async fn monthly(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?;
    let month = match params
        .get("month")
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
    {
        Some(m) => parse_month(m)?,
        None => return Err(ApiError::param("month", "'month' ontbreekt (JJJJ-MM)")),
    };
    let html = match params.get("format").map(|f| f.trim().to_ascii_lowercase()) {
        None => false,
        Some(f) if f.is_empty() || f == "json" => false,
        Some(f) if f == "html" => true,
        Some(f) => {
            return Err(ApiError::param(
                "format",
                format!("onbekend formaat '{f}' (json of html)"),
            ))
        }
    };
    let key = MonthlyReportKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        month,
    };
    let report = match state.caches.get(&key) {
        Some(r) => r,
        None => {
            let (s, f) = (snapshot.clone(), filter.clone());
            let r = tokio::task::spawn_blocking(move || compute_report(&s, &f, month))
                .await
                .map_err(ApiError::internal)??;
            let r = Arc::new(r);
            state.caches.insert(key, r.clone());
            r
        }
    };
    let protect = caller.principal.sees_protected_counts();
    let mut v = report_json(&snapshot, &filter, &report);
    if protect {
        protect_report(&state, &snapshot, &filter, &report, &mut v);
    }
    v["protected"] = json!(protect);
    if html {
        // Rendered from the caller's JSON: a protected caller's page withholds what their JSON withholds.
        let s = snapshot.clone();
        let f = filter.clone();
        let page = tokio::task::spawn_blocking(move || render_html(&s, &f, &report, &v))
            .await
            .map_err(ApiError::internal)?;
        return Ok(Html(page).into_response());
    }
    Ok(Json(v).into_response())
}

/// The HTML page ([`monthly_html`]) from the caller's JSON answer `v` (after [`protect_report`] for protected
/// callers), with the buurten of the snapshot on the map.
fn render_html(snapshot: &Snapshot, filter: &Filter, r: &MonthlyReport, v: &Value) -> String {
    let buurten: Vec<MapArea<'_>> = snapshot
        .level_areas(AreaLevel::Buurt)
        .iter()
        .map(|&i| {
            let a = snapshot.area(i);
            MapArea {
                code: &a.code,
                name: &a.name,
                geometry_rd: &a.geometry_rd,
            }
        })
        .collect();
    monthly_html(&MonthlyPage {
        tenant_name: &snapshot.tenant_name,
        filter: &filter_description(&filter.query_string()),
        report: r,
        buurten: &buurten,
        answer: v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(parse_month("2024-09").unwrap(), d(2024, 9, 1));
        assert!(matches!(
            parse_month("2024-13"),
            Err(ApiError::BadRequest { parameter: Some(p), .. }) if p == "month"
        ));
    }
}
