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
//!   [`crate::analysis::striking::striking_areas`] (default configuration: mean of the history, expected value
//!   floored at 0.5, exact one-sided Poisson tests, Benjamini-Hochberg at 0.05 over all buurten), in the
//!   library's order (most significant first).
//! - `categories`: every category with at least one incident in the period, counted over the whole tenant
//!   (also incidents without a buurt), assessed the same way as one family.
//! - `series`: all matching incidents per month over history and month; `total` the month's count vs the mean.
//!
//! Small-count protection (viewers, anonymous callers; JSON): a buurt's `observed` comes from the protected
//! buurt table of the month ([`super::areas::protected_table`], the same as the map for that month); the
//! categories are protected as one table under the month's total, the history months as one table under their
//! sum (which `history_mean` publishes); the month's own total gets primary suppression. A withheld value is
//! `null` with `count_label` and `suppressed: true`, and `ratio`, `p_increase`, `p_decrease`, `change` and
//! `history_mean` derived from it are `null`. `protected` says whether the answer is protected. The HTML page
//! is rendered from the caller's JSON ([`render_html`]): a protected caller's page shows the labels (`"< 5"`)
//! of the values their JSON withholds, withheld buurten are grey on the map, and no withheld number appears
//! anywhere in the page, its SVG map or its tables.
//!
//! Results are cached ([`super::caches`]) per (snapshot generation, filter, month); the protection is applied
//! per answer from the cached protected tables.

use super::caches::MonthlyReportKey;
use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::analysis::striking::{
    striking_areas, AreaSeries, Direction, StrikingArea, StrikingConfig,
};
use crate::dataset::{Level, Snapshot};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, Months, NaiveDate};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/report/monthly", get(monthly))
}

/// Escape text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Parse `YYYY-MM` to the first day of the month.
pub fn parse_month(value: &str) -> Result<NaiveDate, ApiError> {
    let v = value.trim();
    NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d")
        .map_err(|_| ApiError::param("month", format!("'{v}' is geen maand (JJJJ-MM)")))
}

/// First day of the history: 12 months before `month`, but not before the month of `first_day` (the first
/// incident in the data) and never after `month`.
pub fn history_start(month: NaiveDate, first_day: Option<NaiveDate>) -> NaiveDate {
    let nominal = month.checked_sub_months(Months::new(12)).unwrap_or(month);
    let data_start = first_day.and_then(|d| d.with_day(1)).unwrap_or(month);
    nominal.max(data_start).min(month)
}

fn month_index(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// The computed monthly report.
pub struct MonthlyReport {
    pub month: NaiveDate,
    pub month_end: NaiveDate,
    pub history_from: NaiveDate,
    /// Month starts of history and month, oldest first (the last one is the month under test).
    pub months: Vec<NaiveDate>,
    pub series: Vec<u64>,
    /// Assessment per buurt, in the library's order (most significant first).
    pub areas: Vec<StrikingArea>,
    pub areas_skipped: usize,
    pub categories: Vec<StrikingArea>,
    pub categories_skipped: usize,
    pub config: StrikingConfig,
    /// Per buurt area index: the assessment's position in `areas`.
    pub by_area: HashMap<u32, usize>,
}

/// Count and assess (see the module contract).
pub fn compute_report(
    snapshot: &Snapshot,
    filter: &Filter,
    month: NaiveDate,
) -> Result<MonthlyReport, ApiError> {
    let month_end = month
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .ok_or_else(|| ApiError::param("month", "maand buiten het bereik"))?;
    let history_from = history_start(month, snapshot.first_day);
    let first = month_index(history_from);
    let n = usize::try_from(month_index(month) - first + 1).unwrap_or(1);
    let months: Vec<NaiveDate> = (0..n)
        .filter_map(|k| history_from.checked_add_months(Months::new(k as u32)))
        .collect();
    let f = filter.with_period(snapshot, Some(history_from), Some(month_end));
    let buurten = snapshot.level_areas(Level::Buurt);
    let pos: HashMap<u32, usize> = buurten.iter().enumerate().map(|(p, &a)| (a, p)).collect();
    let mut series = vec![0u64; n];
    let mut per_buurt = vec![vec![0u64; n]; buurten.len()];
    let mut per_category = vec![vec![0u64; n]; snapshot.categories.len()];
    for inc in &snapshot.incidents {
        if !f.matches(inc) {
            continue;
        }
        let Ok(t) = usize::try_from(month_index(inc.begin().date()) - first) else {
            continue;
        };
        if t >= n {
            continue;
        }
        series[t] += 1;
        if let Some(&p) = pos.get(&inc.buurt) {
            per_buurt[p][t] += 1;
        }
        if let Some(c) = per_category.get_mut(usize::from(inc.category)) {
            c[t] += 1;
        }
    }
    let config = StrikingConfig::default();
    let area_series: Vec<AreaSeries> = buurten
        .iter()
        .zip(per_buurt)
        .map(|(&a, counts)| AreaSeries {
            area_id: snapshot.area(a).code.clone(),
            category: None,
            counts,
        })
        .collect();
    let area_report = striking_areas(&area_series, &config).map_err(ApiError::internal)?;
    let category_series: Vec<AreaSeries> = snapshot
        .categories
        .iter()
        .zip(per_category)
        .filter(|(_, c)| c.iter().any(|&v| v > 0))
        .map(|(code, counts)| AreaSeries {
            area_id: code.clone(),
            category: Some(code.clone()),
            counts,
        })
        .collect();
    let category_report = striking_areas(&category_series, &config).map_err(ApiError::internal)?;
    let by_area = area_report
        .areas
        .iter()
        .enumerate()
        .filter_map(|(k, a)| snapshot.area_index(&a.area_id).map(|i| (i, k)))
        .collect();
    Ok(MonthlyReport {
        month,
        month_end,
        history_from,
        months,
        series,
        areas: area_report.areas,
        areas_skipped: area_report.skipped.len(),
        categories: category_report.areas,
        categories_skipped: category_report.skipped.len(),
        config,
        by_area,
    })
}

fn direction_str(d: Option<Direction>) -> Option<&'static str> {
    d.map(|d| match d {
        Direction::Increase => "increase",
        Direction::Decrease => "decrease",
    })
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
        "direction": direction_str(a.direction),
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
    d.format("%Y-%m").to_string()
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

/// Mark a withheld value in an assessment or series object.
fn withhold(o: &mut Value, count_key: &str, label: Option<String>, derived: &[&str]) {
    if let Some(m) = o.as_object_mut() {
        m.insert(count_key.into(), Value::Null);
        m.insert("count_label".into(), json!(label));
        m.insert("suppressed".into(), json!(true));
        for d in derived {
            m.insert((*d).into(), Value::Null);
        }
    }
}

/// Apply small-count protection to the JSON answer `v` of [`report_json`] (see the module contract).
fn protect_report(
    state: &AppState,
    s: &Snapshot,
    filter: &Filter,
    r: &MonthlyReport,
    v: &mut Value,
) {
    use crate::suppression::{protect, Cell, Protected, Relation};
    let month_filter = filter.with_period(s, Some(r.month), Some(r.month_end));
    let table = super::areas::protected_table(state, s, &month_filter, true);
    let k = table.k;
    let derived = ["ratio", "p_increase", "p_decrease"];
    if let Some(areas) = v["areas"].as_array_mut() {
        for a in areas.iter_mut() {
            let idx = a["code"].as_str().and_then(|c| s.area_index(c));
            match idx {
                Some(i) if !table.is_suppressed(i as usize) => {}
                Some(i) => withhold(a, "observed", table.label(i as usize), &derived),
                None => withhold(a, "observed", None, &derived),
            }
        }
    }
    let month_total = r.series.last().copied().unwrap_or(0);
    let items: Vec<(String, u64)> = r
        .categories
        .iter()
        .map(|c| (c.area_id.clone(), c.observed))
        .collect();
    let cats = super::areas::protect_list(&items, month_total, k);
    if let Some(list) = v["categories"].as_array_mut() {
        for (j, c) in list.iter_mut().enumerate() {
            if cats.is_suppressed(j) {
                withhold(c, "observed", cats.label(j), &derived);
            }
        }
    }
    // History months under their sum (published through history_mean); the month itself: primary.
    let n = r.series.len().saturating_sub(1);
    let history = &r.series[..n];
    let mut cells = vec![Cell {
        code: String::new(),
        count: history.iter().sum(),
    }];
    cells.extend(r.months[..n].iter().zip(history).map(|(m, &c)| Cell {
        code: m.to_string(),
        count: c,
    }));
    let rel = Relation {
        total: 0,
        parts: (1..=n).collect(),
    };
    let counts: Vec<u64> = cells.iter().map(|c| c.count).collect();
    let hist = protect(&cells, &[rel], k).unwrap_or_else(|_| Protected::fail_closed(counts, k));
    let month = Protected::primary_only(vec![month_total], k);
    if let Some(series) = v["series"].as_array_mut() {
        for (j, item) in series.iter_mut().enumerate() {
            let (p, i) = if j < n { (&hist, j + 1) } else { (&month, 0) };
            if p.is_suppressed(i) {
                withhold(item, "count", p.label(i), &[]);
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
        withhold(total, "count", month.label(0), &["change"]);
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

const DUTCH_MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

fn dutch_month(d: NaiveDate) -> String {
    format!("{} {}", DUTCH_MONTHS[d.month0() as usize], d.year())
}

/// A number with a decimal comma (Dutch), e.g. `3,5`.
pub fn fmt_nl(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}").replace('.', ",")
}

fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "&lt; 0,001".to_string()
    } else {
        fmt_nl(p, 3)
    }
}

/// One assessed row (buurt or category) as the HTML shows it: read from the JSON answer, so a protected caller's
/// page carries exactly what their JSON carries (withheld values are `None` with their label).
struct ShownRow {
    code: String,
    observed: Option<u64>,
    label: Option<String>,
    expected: Option<f64>,
    ratio: Option<f64>,
    p_increase: Option<f64>,
    p_decrease: Option<f64>,
    direction: Option<Direction>,
}

impl ShownRow {
    fn from_json(v: &Value) -> ShownRow {
        ShownRow {
            code: v["code"].as_str().unwrap_or_default().to_string(),
            observed: v["observed"].as_u64(),
            label: v["count_label"].as_str().map(str::to_string),
            expected: v["expected"].as_f64(),
            ratio: v["ratio"].as_f64(),
            p_increase: v["p_increase"].as_f64(),
            p_decrease: v["p_decrease"].as_f64(),
            direction: match v["direction"].as_str() {
                Some("increase") => Some(Direction::Increase),
                Some("decrease") => Some(Direction::Decrease),
                _ => None,
            },
        }
    }

    /// The count as shown: the number, or the label of a withheld count (HTML-escaped).
    fn observed_text(&self) -> String {
        count_text(self.observed, self.label.as_deref())
    }
}

/// A count as shown in the page: the number, or for a withheld count its label ("&lt; 5"), escaped.
fn count_text(count: Option<u64>, label: Option<&str>) -> String {
    match count {
        Some(c) => c.to_string(),
        None => html_escape(label.unwrap_or("afgeschermd")),
    }
}

fn rows_of(v: &Value, key: &str) -> Vec<ShownRow> {
    v[key]
        .as_array()
        .map(|a| a.iter().map(ShownRow::from_json).collect())
        .unwrap_or_default()
}

fn verdict(direction: Option<Direction>) -> &'static str {
    match direction {
        Some(Direction::Increase) => "opvallend meer",
        Some(Direction::Decrease) => "opvallend minder",
        None => "",
    }
}

/// Fill colour for a ratio (red = more than expected, blue = fewer), grey when unknown.
fn ratio_colour(ratio: Option<f64>) -> String {
    let Some(r) = ratio.filter(|r| r.is_finite()) else {
        return "#dddddd".to_string();
    };
    let t = if r > 0.0 {
        r.log2().clamp(-2.0, 2.0) / 2.0
    } else {
        -1.0
    };
    let (r0, g0, b0) = if t >= 0.0 {
        (255.0, 255.0 - 200.0 * t, 255.0 - 210.0 * t)
    } else {
        (255.0 + 210.0 * t, 255.0 + 140.0 * t, 255.0)
    };
    format!("#{:02x}{:02x}{:02x}", r0 as u8, g0 as u8, b0 as u8)
}

/// Fill of buurten whose count is withheld (small-count protection).
const WITHHELD_FILL: &str = "#9e9e9e";

/// Inline SVG map of the buurten coloured by ratio (RD coordinates, north up); withheld buurten grey.
fn svg_map(snapshot: &Snapshot, areas: &[ShownRow]) -> String {
    let by_code: HashMap<&str, &ShownRow> = areas.iter().map(|a| (a.code.as_str(), a)).collect();
    let buurten = snapshot.level_areas(Level::Buurt);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &i in buurten {
        for p in &snapshot.area(i).geometry_rd.0 {
            for c in &p.exterior().0 {
                x0 = x0.min(c.x);
                y0 = y0.min(c.y);
                x1 = x1.max(c.x);
                y1 = y1.max(c.y);
            }
        }
    }
    if x0 >= x1 || y0 >= y1 {
        return "<p>Geen buurtgrenzen beschikbaar.</p>".to_string();
    }
    let width = 640.0;
    let scale = width / (x1 - x0);
    let height = ((y1 - y0) * scale).min(900.0);
    let scale = scale.min(height / (y1 - y0));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"map\" viewBox=\"0 0 {:.0} {:.0}\" \
         width=\"{:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"Kaart van de buurten\">\n",
        (x1 - x0) * scale,
        height,
        (x1 - x0) * scale,
        height
    );
    for &i in buurten {
        let area = snapshot.area(i);
        let a = by_code.get(area.code.as_str()).copied();
        let mut d = String::new();
        for p in &area.geometry_rd.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for (k, c) in ring.0.iter().enumerate() {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1}",
                        if k == 0 { "M" } else { "L" },
                        (c.x - x0) * scale,
                        (y1 - c.y) * scale
                    );
                }
                d.push('Z');
            }
        }
        let significant = a.is_some_and(|a| a.direction.is_some());
        let withheld = a.is_some_and(|a| a.observed.is_none());
        let title = match a {
            Some(a) => format!(
                "{} ({}): {} incidenten{}{}",
                html_escape(&area.name),
                html_escape(&area.code),
                a.observed_text(),
                a.expected
                    .map(|e| format!(", verwacht {}", fmt_nl(e, 1)))
                    .unwrap_or_default(),
                if significant {
                    format!(" - {}", verdict(a.direction))
                } else {
                    String::new()
                }
            ),
            None => format!("{} ({})", html_escape(&area.name), html_escape(&area.code)),
        };
        let fill = if withheld {
            WITHHELD_FILL.to_string()
        } else {
            ratio_colour(a.and_then(|a| a.ratio))
        };
        let _ = writeln!(
            svg,
            "<path d=\"{d}\" fill=\"{fill}\" fill-rule=\"evenodd\" stroke=\"{}\" stroke-width=\"{}\" \
             data-code=\"{}\"><title>{title}</title></path>",
            if significant { "#000" } else { "#888" },
            if significant { 2.5 } else { 0.6 },
            html_escape(&area.code),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical bar chart of the monthly counts (the month under test highlighted); a withheld month gets a
/// hatched-grey stub and its label instead of a number.
fn svg_series(v: &Value) -> String {
    let items: Vec<(String, Option<u64>, Option<String>)> = v["series"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["start"].as_str().unwrap_or_default().to_string(),
                        s["count"].as_u64(),
                        s["count_label"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let n = items.len().max(1);
    let max = items.iter().filter_map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let (bar, gap, h) = (36.0, 8.0, 160.0);
    let width = n as f64 * (bar + gap) + gap;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {width:.0} {:.0}\" \
         width=\"{width:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"Incidenten per maand\">\n",
        h + 40.0,
        h + 40.0
    );
    for (k, (start, count, label)) in items.iter().enumerate() {
        let bh = count.map(|c| c as f64 / max * h).unwrap_or(4.0);
        let x = gap + k as f64 * (bar + gap);
        let last = k + 1 == items.len();
        let text = count_text(*count, label.as_deref());
        let (period, short) = match NaiveDate::parse_from_str(start, "%Y-%m-%d") {
            Ok(m) => (period_label(m), m.format("%m-%y").to_string()),
            Err(_) => (html_escape(start), String::new()),
        };
        let fill = match (count, last) {
            (None, _) => WITHHELD_FILL,
            (Some(_), true) => "#c0392b",
            (Some(_), false) => "#7f8c8d",
        };
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar}\" height=\"{bh:.1}\" fill=\"{fill}\"><title>{period}: {text}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{text}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{short}</text>",
            h + 15.0 - bh,
            x + bar / 2.0,
            h + 12.0 - bh,
            x + bar / 2.0,
            h + 30.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars: observed vs expected per category (at most 12, by observed count; withheld ones last,
/// with their label and no bar).
fn svg_categories(categories: &[ShownRow]) -> String {
    let mut cats: Vec<&ShownRow> = categories.iter().collect();
    cats.sort_by(|a, b| b.observed.cmp(&a.observed).then(a.code.cmp(&b.code)));
    cats.truncate(12);
    if cats.is_empty() {
        return "<p>Geen incidenten in deze periode.</p>".to_string();
    }
    let max = cats
        .iter()
        .map(|a| (a.observed.unwrap_or(0) as f64).max(a.expected.unwrap_or(0.0)))
        .fold(1.0, f64::max);
    let (label_w, bar_w, row_h) = (300.0, 320.0, 26.0);
    let height = cats.len() as f64 * row_h + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {:.0} {height:.0}\" \
         width=\"{:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Incidenten per categorie\">\n",
        label_w + bar_w + 60.0,
        label_w + bar_w + 60.0
    );
    for (k, a) in cats.iter().enumerate() {
        let y = 5.0 + k as f64 * row_h;
        let label = format!(
            "{} {}",
            a.code,
            crate::category::label(&a.code).unwrap_or("")
        );
        let w_obs = a.observed.unwrap_or(0) as f64 / max * bar_w;
        let w_exp = a.expected.unwrap_or(0.0) / max * bar_w;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{w_obs:.1}\" height=\"12\" fill=\"{}\"/>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{w_exp:.1}\" height=\"6\" fill=\"#95a5a6\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{} ({})</text>",
            label_w - 6.0,
            y + 11.0,
            html_escape(&label),
            match a.direction {
                Some(Direction::Increase) => "#c0392b",
                Some(Direction::Decrease) => "#2980b9",
                None => "#34495e",
            },
            y + 13.0,
            label_w + w_obs.max(w_exp) + 6.0,
            y + 11.0,
            a.observed_text(),
            a.expected
                .map(|e| fmt_nl(e, 1))
                .unwrap_or_else(|| "-".into())
        );
    }
    svg.push_str("</svg>");
    svg
}

fn table_rows(rows: &[(String, &ShownRow)]) -> String {
    let mut out = String::new();
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for (name, a) in rows {
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            match a.direction {
                Some(Direction::Increase) => "up",
                Some(Direction::Decrease) => "down",
                None => "",
            },
            name,
            a.observed_text(),
            opt(a.expected.map(|e| fmt_nl(e, 1))),
            opt(a.ratio.map(|r| fmt_nl(r, 2))),
            opt(a.p_increase.map(fmt_p)),
            opt(a.p_decrease.map(fmt_p)),
            verdict(a.direction)
        );
    }
    out
}

/// The self-contained Dutch HTML page, rendered from the JSON answer `v` ([`report_json`], after
/// [`protect_report`] for protected callers): every count, ratio and p-value in the page, the SVG map and the
/// charts comes from `v`, so the page withholds exactly what the caller's JSON withholds (labels instead).
/// `r` supplies only the dates and the configuration.
pub fn render_html(snapshot: &Snapshot, filter: &Filter, r: &MonthlyReport, v: &Value) -> String {
    let total = &v["total"];
    let count = count_text(total["count"].as_u64(), total["count_label"].as_str());
    let history_months = r.months.len().saturating_sub(1);
    let mean = total["history_mean"].as_f64();
    let areas = rows_of(v, "areas");
    let categories = rows_of(v, "categories");
    let sig_areas = areas.iter().filter(|a| a.direction.is_some()).count();
    let sig_cats = categories.iter().filter(|a| a.direction.is_some()).count();
    let shown_areas: Vec<(String, &ShownRow)> = areas
        .iter()
        .take(sig_areas.max(15))
        .map(|a| {
            let name = snapshot
                .area_index(&a.code)
                .map(|i| snapshot.area(i).name.clone())
                .unwrap_or_default();
            (
                format!(
                    "{} <small>{}</small>",
                    html_escape(&name),
                    html_escape(&a.code)
                ),
                a,
            )
        })
        .collect();
    let shown_cats: Vec<(String, &ShownRow)> = categories
        .iter()
        .map(|a| {
            (
                format!(
                    "{} <small>{}</small>",
                    html_escape(crate::category::label(&a.code).unwrap_or("")),
                    html_escape(&a.code)
                ),
                a,
            )
        })
        .collect();
    let mut summary = format!(
        "<p>In {} zijn <strong>{count}</strong> incidenten geregistreerd",
        dutch_month(r.month)
    );
    match (mean, history_months) {
        (_, 0) => summary.push_str("; er is geen eerdere maand om mee te vergelijken."),
        (Some(m), n) => {
            let _ = write!(
                summary,
                "; het gemiddelde over de {n} voorgaande maand{} was {}.",
                if n == 1 { "" } else { "en" },
                fmt_nl(m, 1)
            );
        }
        (None, n) => {
            let _ = write!(
                summary,
                "; het gemiddelde over de {n} voorgaande maand{} is te klein om te tonen.",
                if n == 1 { "" } else { "en" },
            );
        }
    }
    let _ = write!(
        summary,
        " {} buurt{} en {} categorie{} wijken opvallend af (exacte Poisson-toets tegen de eigen geschiedenis, \
         FDR {}).</p>",
        sig_areas,
        if sig_areas == 1 { "" } else { "en" },
        sig_cats,
        if sig_cats == 1 { "" } else { "ën" },
        fmt_nl(r.config.alpha, 2)
    );
    if v["protected"].as_bool() == Some(true)
        || areas
            .iter()
            .chain(&categories)
            .any(|a| a.observed.is_none())
    {
        summary.push_str(
            "\n<p><small>Kleine aantallen worden niet getoond (&quot;&lt; k&quot;); afgeleide waarden \
             (verhouding, p) ontbreken dan ook. Grijze buurten op de kaart: te weinig om te tonen.</small></p>",
        );
    }
    let filter_text = {
        let q = filter.query_string();
        if q.is_empty() {
            "alle incidenten".to_string()
        } else {
            q.replace('&', ", ")
        }
    };
    let head =
        "<tr><th>Naam</th><th>Aantal</th><th>Verwacht</th><th>Verhouding</th><th>p (meer)</th>\
                <th>p (minder)</th><th>Oordeel</th></tr>";
    format!(
        r#"<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8">
<title>Maandanalyse {tenant} {month}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.2em; margin-top: 1.5em; border-bottom: 1px solid #ccc; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.5em; text-align: left; }}
th {{ background: #eee; }}
td.num {{ text-align: right; }}
tr.up td {{ background: #fdecea; }} tr.down td {{ background: #eaf2fb; }}
small {{ color: #666; }}
.legend span {{ display: inline-block; width: 1.2em; height: 0.8em; border: 1px solid #888; margin: 0 0.2em 0 0.8em; }}
svg {{ max-width: 100%; height: auto; }}
@media print {{
  body {{ margin: 0; max-width: none; font-size: 10pt; }}
  h2 {{ page-break-after: avoid; }}
  table, svg {{ page-break-inside: avoid; }}
  * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
</style></head>
<body>
<h1>Maandanalyse {tenant} &ndash; {month}</h1>
<p><small>Periode {from} t/m {to}; vergeleken met {hfrom} t/m {hto}; filter: {filter}.</small></p>
{summary}
<h2>Kaart: verhouding waargenomen / verwacht per buurt</h2>
<p class="legend">Minder<span style="background:{c_low}"></span><span style="background:{c_mid}"></span><span style="background:{c_high}"></span>Meer &middot; dikke rand = opvallend{withheld_legend}</p>
{map}
<h2>Incidenten per maand</h2>
{series}
<h2>Opvallende buurten</h2>
<table><thead>{head}</thead><tbody>
{area_rows}</tbody></table>
<h2>Categorieën</h2>
{cat_chart}
<table><thead>{head}</thead><tbody>
{cat_rows}</tbody></table>
<p><small>Verwacht = gemiddelde van de voorgaande maanden (minimaal {min_exp}); p-waarden zijn eenzijdige exacte
Poisson-toetsen, opvallend na Benjamini-Hochberg-correctie op {alpha}. Gegenereerd door brandpunt.</small></p>
</body></html>
"#,
        tenant = html_escape(&snapshot.tenant_name),
        month = dutch_month(r.month),
        from = r.month,
        to = r.month_end,
        hfrom = r.history_from,
        hto = r.month.pred_opt().unwrap_or(r.month),
        filter = html_escape(&filter_text),
        summary = summary,
        c_low = ratio_colour(Some(0.25)),
        c_mid = ratio_colour(Some(1.0)),
        c_high = ratio_colour(Some(4.0)),
        withheld_legend = if areas.iter().any(|a| a.observed.is_none()) {
            format!(
                " &middot; <span style=\"background:{WITHHELD_FILL}\"></span>te weinig om te tonen"
            )
        } else {
            String::new()
        },
        map = svg_map(snapshot, &areas),
        series = svg_series(v),
        head = head,
        area_rows = table_rows(&shown_areas),
        cat_chart = svg_categories(&categories),
        cat_rows = table_rows(&shown_cats),
        min_exp = fmt_nl(r.config.min_expected, 1),
        alpha = fmt_nl(r.config.alpha, 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn history_is_twelve_months_or_since_the_data_begin() {
        assert_eq!(history_start(d(2024, 9, 1), None), d(2024, 9, 1));
        assert_eq!(
            history_start(d(2024, 9, 1), Some(d(2020, 3, 5))),
            d(2023, 9, 1)
        );
        assert_eq!(
            history_start(d(2024, 9, 1), Some(d(2024, 7, 22))),
            d(2024, 7, 1)
        );
        assert_eq!(
            history_start(d(2024, 9, 1), Some(d(2025, 1, 1))),
            d(2024, 9, 1)
        );
    }

    #[test]
    fn months_parse_and_escape() {
        assert_eq!(parse_month("2024-09").unwrap(), d(2024, 9, 1));
        assert!(matches!(
            parse_month("2024-13"),
            Err(ApiError::BadRequest { parameter: Some(p), .. }) if p == "month"
        ));
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn colours_are_red_for_more_and_blue_for_fewer() {
        assert_eq!(ratio_colour(Some(1.0)), "#ffffff");
        assert!(ratio_colour(Some(4.0)).starts_with("#ff"));
        assert!(ratio_colour(Some(0.25)).ends_with("ff"));
        assert_eq!(ratio_colour(None), "#dddddd");
    }
}
