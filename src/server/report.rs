//! The monthly analysis: `GET /api/report/monthly?month=2024-09` (+ `category`, `source`) answers what stands out
//! in that month, as JSON or (`format=html`) as a self-contained, printable Dutch HTML page (inline SVG map and
//! charts, no external resources), or (`format=xlsx`) as an Excel workbook of its tables.
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
//! buurt table of the month ([`super::AppState::protected_table`], the same as the map for that month; applied by
//! [`crate::dataset::monthly::protect_report`]); the
//! categories are protected as one table under the month's total, the history months as one table under their
//! sum (which `history_mean` publishes); the month's own total gets primary suppression. A withheld value is
//! `null` with `count_label` and `suppressed: true`, and `ratio`, `p_increase`, `p_decrease`, `change` and
//! `history_mean` derived from it are `null`. `protected` says whether the answer is protected. The HTML page
//! is rendered from the caller's JSON ([`crate::render::report`]): a protected caller's page shows the labels (`"< 5"`)
//! of the values their JSON withholds, withheld buurten are grey on the map, and no withheld number appears
//! anywhere in the page, its SVG map or its tables.
//!
//! The workbook (`format=xlsx`, `brandpunt-maandanalyse-JJJJ-MM.xlsx`) is made from the caller's JSON as well
//! ([`super::xlsx`]), one worksheet per table: `Totaal` (the month's `total` with `month`, `from`, `to`,
//! `filter`), `Maanden` (`series`), `Buurten` (`areas`), `Categorieën` (`categories`); a withheld count is an
//! empty cell with its `count_label`.
//!
//! Results are cached ([`crate::cache`]) per (snapshot generation, filter, month); the protection is applied
//! per answer from the cached protected tables.

use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::analysis::striking::MonthlyReport;
use crate::area_level::AreaLevel;
use crate::cache::CacheEntry;
use crate::dataset::monthly::{protect_report, report_json, MonthlyReportError};
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

/// Count and assess (see the module contract): [`crate::dataset::monthly::compute_report`] with its errors as
/// API errors.
pub fn compute_report(
    snapshot: &Snapshot,
    filter: &Filter,
    month: NaiveDate,
) -> Result<MonthlyReport, ApiError> {
    crate::dataset::monthly::compute_report(snapshot, filter, month).map_err(|e| match e {
        MonthlyReportError::MonthOutOfRange => ApiError::param("month", "maand buiten het bereik"),
        other => ApiError::internal(other),
    })
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
    let format = match params.get("format").map(|f| f.trim().to_ascii_lowercase()) {
        None => Answer::Json,
        Some(f) if f.is_empty() || f == "json" => Answer::Json,
        Some(f) if f == "html" => Answer::Html,
        Some(f) if f == "xlsx" => Answer::Xlsx,
        Some(f) => {
            return Err(ApiError::param(
                "format",
                format!("onbekend formaat '{f}' (json, html of xlsx)"),
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
            let r = state
                .blocking
                .run(move |cancel| {
                    cancel.check()?;
                    compute_report(&s, &f, month)
                })
                .await?;
            let r = Arc::new(r);
            state.caches.insert(key, r.clone());
            r
        }
    };
    let protect = caller.principal.sees_protected_counts();
    let mut v = report_json(&snapshot, &filter, &report);
    if protect {
        let month_filter =
            filter.with_period(&snapshot, Some(report.month), Some(report.month_end));
        let table = state.protected_table(&snapshot, &month_filter, true);
        protect_report(&snapshot, &table, &report, &mut v);
    }
    v["protected"] = json!(protect);
    if format == Answer::Xlsx {
        let name = format!("maandanalyse-{}", v["month"].as_str().unwrap_or_default());
        let bytes = tokio::task::spawn_blocking(move || workbook(&v))
            .await
            .map_err(ApiError::internal)??;
        return Ok(super::xlsx::response(bytes, &name));
    }
    if format == Answer::Html {
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

/// The answer's format (`format=json|html|xlsx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Json,
    Html,
    Xlsx,
}

/// Columns of the `Buurten` worksheet.
pub const AREA_COLUMNS: &[&str] = &[
    "code",
    "name",
    "wijkcode",
    "observed",
    "count_label",
    "expected",
    "history_mean",
    "baseline_periods",
    "ratio",
    "p_increase",
    "p_decrease",
    "direction",
];
/// Columns of the `Categorieën` worksheet.
pub const CATEGORY_COLUMNS: &[&str] = &[
    "code",
    "label",
    "observed",
    "count_label",
    "expected",
    "history_mean",
    "baseline_periods",
    "ratio",
    "p_increase",
    "p_decrease",
    "direction",
];
/// Columns of the `Maanden` worksheet.
pub const SERIES_COLUMNS: &[&str] = &["period", "start", "count", "count_label"];
/// Columns of the `Totaal` worksheet.
pub const TOTAL_COLUMNS: &[&str] = &[
    "month",
    "from",
    "to",
    "filter",
    "count",
    "count_label",
    "previous_month",
    "history_mean",
    "change",
];

/// The workbook of the caller's JSON answer `v` (see the module contract).
fn workbook(v: &Value) -> Result<Vec<u8>, ApiError> {
    use super::xlsx::json_table;
    let items = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let mut total = v["total"].clone();
    for k in ["month", "from", "to", "filter"] {
        total[k] = v[k].clone();
    }
    super::xlsx::workbook(&[
        ("Totaal", json_table([&total], TOTAL_COLUMNS)),
        ("Maanden", json_table(&items("series"), SERIES_COLUMNS)),
        ("Buurten", json_table(&items("areas"), AREA_COLUMNS)),
        (
            "Categorieën",
            json_table(&items("categories"), CATEGORY_COLUMNS),
        ),
    ])
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
