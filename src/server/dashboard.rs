//! The "dashboard veiligheid": `GET /api/dashboard` answers in one JSON document everything the web app's
//! Dashboard tab shows for the common filters (`category`, `source`, `from`, `to`, `area` or `bbox`), so the tab
//! is a thin client of it. Extra parameters: `month` (`JJJJ-MM`, the month of the "opvallend" list; default the
//! month of the period's last day) and `step` (`month`, default, or `week`: the trend's step). Any other parameter
//! is a 400 naming it.
//!
//! Contract:
//! - **Scope**: the study area (`area`: a gemeente, wijk, buurt or custom area; `bbox`), else the whole tenant.
//!   Counts follow the filters everywhere (incidents whose window begins in the period). The scope's count is the
//!   cell of the area table ([`super::AppState::protected_table`], the same value as the map and
//!   `/api/areas/{code}/stats`); without `area` it is every matching incident of the tenant (also those without
//!   a buurt). Rates are per 1,000 inhabitants (CBS `aantal_inwoners` of the area; the sum over the tenant's
//!   gemeenten without `area`; none for a box or custom area).
//! - **Periods**: the period (`from`..`to`, default the data's first..last day), the equally long period just
//!   before it (`previous`) and the same period a year earlier (`year_before`). Each says how many of its days
//!   the data cover (`covered_days`: from the data's first day to its last); a period the data do not cover at all
//!   has `no_data: true` and its counts are `null`: "no data", not 0.
//! - **Key figures** (`groups`): for the whole selection (`totaal`) and each category group of
//!   [`crate::category::GROUPS`] that the category filter spans (restricted to the filter's codes), the count and
//!   rate in each period, and the change of the period against `previous` and against `year_before` as the rate
//!   ratio with exposures = covered days, its exact conditional 95 % confidence interval (Clopper-Pearson on the
//!   binomial split of the two counts) and the two-sided exact p-value: [`crate::analysis::compare::rate_ratio`]
//!   (`ci_high` null when unbounded, the whole change null when either count is withheld or a period has no data).
//! - **Trend** (`trend`): per group, the counts per `step` from up to two years before the period (not before the
//!   data's first day) to its end, each step with the seasonal baseline of the monthly analysis
//!   ([`crate::analysis::striking::baseline_after`] with [`Baseline::Seasonal`]: the mean of the same step in the
//!   earlier years when two of them are there, else the mean of the 12 steps before); `in_period` marks the steps
//!   of the period, `days` how many of a step's days lie in the span.
//! - **Ranking** (`ranking.buurt`, `ranking.wijk`): the areas of the level in the scope with count, rate, the
//!   previous period's count and the change (as above), and for buurten the direction in which the monthly
//!   analysis ([`super::report`], cached under the same key) found the buurt striking in `month`; sorted by count
//!   (withheld last).
//! - **Opvallend** (`striking`): the buurten of the scope that the monthly analysis of `month` found significant,
//!   most significant first, as `/api/report/monthly` answers them.
//! - **Hour of week** (`hour_of_week`): the aoristic profile (168 slots, Monday 00:00 first) of the selection's
//!   incidents in the period, as `/api/areas/{code}/hour-of-week`.
//! - **Enrichment** (`enrichment`): the CBS kerncijfers and the tenant's indicators ([`super::enrichment`]) of
//!   the scope area (without `area`: of the tenant's gemeente when it has one; `scope_name` names the area) and
//!   the columns a scatter plot may use.
//!
//! Small-count protection (viewers, anonymous callers): every area count comes from the protected area table of
//! its filter; the tenant-wide count (no `area`) gets primary suppression; trend steps are protected as a table
//! hanging from the scope's count over the trend's span ([`crate::publish::series_table`]) and a step's baseline
//! is published only when every step before it is; the ranking and the opvallend list as the map and the monthly
//! report; the hour-of-week profile is withheld when the scope's count is. Derived values (rates, changes) of a
//! withheld count are `null`.
//!
//! Cost: the incidents of the period and of the trend's span (binary search on the sorted begins, then the
//! filter), the protected area tables of the filters involved (cached, shared with the map), the monthly report
//! (cached) and the areas of the scope. The answer is cached per (generation, protected, filter, month, step).

use super::analysis_api::{json_body, parse_step};
use super::enrichment::{areas_in_scope, columns, indicators, Column};
use super::error::ApiError;
use super::filter::Filter;
use super::report::{compute_report, parse_month, MonthlyReportKey};
use super::{AppState, Caller};
use crate::analysis::aoristic::{time_profile, AoristicConfig};
use crate::analysis::compare::rate_ratio;
use crate::analysis::striking::{baseline_after, Baseline, StrikingConfig};
use crate::analysis::Event;
use crate::area_level::AreaLevel;
use crate::cache::CacheEntry;
use crate::calendar::{Buckets, Step};
use crate::dataset::monthly::{protect_report, report_json};
use crate::dataset::{FilterKey, Snapshot};
use crate::heap_size::HeapSize;
use crate::publish::{count_fields, rate_per_1000, series_fields, series_table};
use crate::suppression::Protected;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Datelike, Months, NaiveDate};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/dashboard", get(dashboard))
}

/// The parameters `/api/dashboard` reads; any other is a 400.
const PARAMETERS: &[&str] = &[
    "category", "source", "from", "to", "area", "bbox", "month", "step",
];

/// Cache key of a dashboard answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DashboardKey {
    pub generation: u64,
    pub protect: bool,
    pub filter: FilterKey,
    /// First day of the month of the opvallend list.
    pub month: NaiveDate,
    pub step: Step,
}

impl HeapSize for DashboardKey {
    fn heap_bytes(&self) -> usize {
        self.filter.heap_bytes()
    }
}

impl CacheEntry for DashboardKey {
    type Value = Bytes;
    const KIND: &'static str = "dashboard";
}

/// A validated request.
struct Request {
    /// The filter with its effective period made explicit.
    filter: Filter,
    /// The study area as an area of the snapshot (`area`), `None` for the tenant or a box.
    scope: Option<u32>,
    period: (NaiveDate, NaiveDate),
    month: NaiveDate,
    step: Step,
}

fn parse(params: &HashMap<String, String>, s: &Snapshot) -> Result<Request, ApiError> {
    let mut unknown: Vec<&String> = params
        .keys()
        .filter(|k| !PARAMETERS.contains(&k.as_str()))
        .collect();
    unknown.sort();
    if let Some(p) = unknown.first() {
        return Err(ApiError::param(
            p,
            format!(
                "onbekende parameter '{p}' (toegestaan: {})",
                PARAMETERS.join(", ")
            ),
        ));
    }
    let filter = Filter::parse(params, s)?;
    let period = filter
        .period(s)
        .ok_or_else(|| ApiError::param("from", "er zijn geen incidenten; geef 'from' en 'to'"))?;
    if period.0 > period.1 {
        return Err(ApiError::param(
            "from",
            format!("de periode {} - {} is leeg", period.0, period.1),
        ));
    }
    let filter = filter.with_period(s, Some(period.0), Some(period.1));
    let scope = params
        .get("area")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .and_then(|code| {
            s.area_index(code)
                .or_else(|| s.area_index(&code.to_ascii_uppercase()))
        });
    let month = match params
        .get("month")
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
    {
        Some(m) => parse_month(m)?,
        None => period.1.with_day(1).unwrap_or(period.1),
    };
    let step = match params
        .get("step")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        Some(v) => parse_step("step", v)?,
        None => Step::Month,
    };
    Ok(Request {
        filter,
        scope,
        period,
        month,
        step,
    })
}

/// A category group of the dashboard.
struct Group {
    name: &'static str,
    label: &'static str,
    filter: Filter,
    /// `member[c]`: snapshot category `c` belongs to the group (`totaal`: every incident of the selection, also
    /// those without a category).
    member: Vec<bool>,
    every: bool,
}

/// `totaal` (the filter's own categories) and every category group the filter spans.
fn groups(s: &Snapshot, filter: &Filter) -> Vec<Group> {
    let selected = |code: &str| -> bool {
        filter.category_codes.is_empty() || filter.category_codes.iter().any(|c| c == code)
    };
    let member = |codes: &[String]| -> Vec<bool> {
        s.categories
            .iter()
            .map(|c| selected(c.as_str()) && (codes.is_empty() || codes.iter().any(|m| m == c)))
            .collect()
    };
    let mut out = vec![Group {
        name: "totaal",
        label: "Totaal",
        filter: filter.clone(),
        member: member(&[]),
        every: true,
    }];
    for &(name, label, members) in crate::category::GROUPS {
        let codes: Vec<String> = members
            .iter()
            .filter(|&&m| selected(m))
            .map(|m| m.to_string())
            .collect();
        if codes.is_empty() {
            continue;
        }
        out.push(Group {
            name,
            label,
            filter: filter.with_categories(s, codes.clone()),
            member: member(&codes),
            every: false,
        });
    }
    out
}

/// The published count of the scope for one filter: the table it belongs to and the cell.
struct ScopeCount {
    table: Arc<Protected>,
    cell: usize,
}

impl ScopeCount {
    fn exact(&self) -> u64 {
        self.table.counts[self.cell]
    }
    fn withheld(&self) -> bool {
        self.table.is_suppressed(self.cell)
    }
    fn fields(&self) -> (Value, Value, bool) {
        count_fields(&self.table, self.cell)
    }
}

fn scope_count(
    state: &AppState,
    s: &Snapshot,
    scope: Option<u32>,
    f: &Filter,
    protect: bool,
) -> ScopeCount {
    match scope {
        Some(i) => ScopeCount {
            table: state.protected_table(s, f, protect),
            cell: i as usize,
        },
        None => {
            let n = s
                .incidents
                .range(s.period_range(f))
                .filter(|inc| f.matches(inc))
                .count() as u64;
            let table = if protect {
                Protected::primary_only(vec![n], state.policy.k_for(&f.category_codes))
            } else {
                Protected::exact(vec![n])
            };
            ScopeCount {
                table: Arc::new(table),
                cell: 0,
            }
        }
    }
}

/// Inhabitants of the scope (see the module contract).
fn scope_inhabitants(s: &Snapshot, scope: Option<u32>, filter: &Filter) -> Option<i64> {
    match scope {
        Some(i) => s.area(i).inhabitants,
        None if filter.study.is_some()
            && filter.study.as_ref().map(|st| st.key.as_str())
                != Some(crate::dataset::filter::StudyArea::GEMEENTEN_KEY) =>
        {
            None
        }
        None => {
            let g = s.level_areas(AreaLevel::Gemeente);
            if g.is_empty() {
                return None;
            }
            g.iter().map(|&i| s.area(i).inhabitants).sum()
        }
    }
}

/// Days of `from..=to` that the data (first..=last day) cover; 0 without data.
fn covered_days(s: &Snapshot, from: NaiveDate, to: NaiveDate) -> i64 {
    match (s.first_day, s.last_day) {
        (Some(first), Some(last)) => ((to.min(last) - from.max(first)).num_days() + 1).max(0),
        _ => 0,
    }
}

fn period_json(s: &Snapshot, (from, to): (NaiveDate, NaiveDate)) -> Value {
    let covered = covered_days(s, from, to);
    json!({"from": from, "to": to, "days": (to - from).num_days() + 1, "covered_days": covered,
           "no_data": covered == 0})
}

fn rate(count: &ScopeCount, inhabitants: Option<i64>) -> Value {
    match (inhabitants, count.withheld()) {
        (Some(n), false) if n > 0 => json!(rate_per_1000(
            u32::try_from(count.exact()).unwrap_or(u32::MAX),
            n
        )),
        _ => Value::Null,
    }
}

/// The figure of one period: count fields and rate, or "no data".
/// The figure of a period the data do not cover.
fn no_data_json() -> Value {
    json!({"count": null, "count_label": null, "suppressed": false, "rate": null, "no_data": true})
}

fn figure_json(count: &ScopeCount, inhabitants: Option<i64>, covered: i64) -> Value {
    if covered == 0 {
        return no_data_json();
    }
    let (c, label, suppressed) = count.fields();
    json!({"count": c, "count_label": label, "suppressed": suppressed,
           "rate": rate(count, inhabitants), "no_data": false})
}

/// The change of `now` against `before` (rate ratio, exposures = covered days); `null` when it cannot be
/// published or computed.
fn change_json(now: &ScopeCount, now_days: i64, before: &ScopeCount, before_days: i64) -> Value {
    if now_days <= 0 || before_days <= 0 || now.withheld() || before.withheld() {
        return Value::Null;
    }
    match rate_ratio(
        now.exact(),
        now_days as f64,
        before.exact(),
        before_days as f64,
        0.95,
    ) {
        Ok(rr) => json!({"rate_ratio": rr.ratio, "ci_low": rr.ci_lower, "ci_high": rr.ci_upper,
                         "p": rr.p_value}),
        Err(_) => Value::Null,
    }
}

/// The same period a year earlier.
fn year_before((from, to): (NaiveDate, NaiveDate)) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        from.checked_sub_months(Months::new(12))?,
        to.checked_sub_months(Months::new(12))?,
    ))
}

/// The period just before, equally long.
fn previous((from, to): (NaiveDate, NaiveDate)) -> Option<(NaiveDate, NaiveDate)> {
    let days = (to - from).num_days();
    let prev_to = from.pred_opt()?;
    let prev_from = prev_to.checked_sub_days(chrono::Days::new(days.max(0) as u64))?;
    Some((prev_from, prev_to))
}

fn with_period(s: &Snapshot, f: &Filter, (from, to): (NaiveDate, NaiveDate)) -> Filter {
    f.with_period(s, Some(from), Some(to))
}

fn key_figures(
    state: &AppState,
    s: &Snapshot,
    req: &Request,
    groups: &[Group],
    protect: bool,
) -> Value {
    let inhabitants = scope_inhabitants(s, req.scope, &req.filter);
    let now_days = covered_days(s, req.period.0, req.period.1);
    let prev = previous(req.period);
    let year = year_before(req.period);
    let list: Vec<Value> = groups
        .iter()
        .map(|g| {
            let now = scope_count(state, s, req.scope, &g.filter, protect);
            // A period the data do not cover is not counted: "no data".
            let other = |p: Option<(NaiveDate, NaiveDate)>| -> Option<(Option<ScopeCount>, i64)> {
                p.map(|p| {
                    let days = covered_days(s, p.0, p.1);
                    let c = (days > 0).then(|| {
                        scope_count(state, s, req.scope, &with_period(s, &g.filter, p), protect)
                    });
                    (c, days)
                })
            };
            let (prev_c, year_c) = (other(prev), other(year));
            let fig = |c: &Option<(Option<ScopeCount>, i64)>| match c {
                Some((Some(c), days)) => figure_json(c, inhabitants, *days),
                Some((None, _)) => no_data_json(),
                None => Value::Null,
            };
            let chg = |c: &Option<(Option<ScopeCount>, i64)>| match c {
                Some((Some(c), days)) => change_json(&now, now_days, c, *days),
                _ => Value::Null,
            };
            json!({
                "name": g.name,
                "label": g.label,
                "category": g.filter.category_codes,
                "current": figure_json(&now, inhabitants, now_days.max(1)),
                "previous": fig(&prev_c),
                "year_before": fig(&year_c),
                "change_previous": chg(&prev_c),
                "change_year_before": chg(&year_c),
            })
        })
        .collect();
    json!(list)
}

/// First day of the trend's span: up to two seasons before the period, not before the data's first day.
fn trend_from(s: &Snapshot, period: (NaiveDate, NaiveDate), step: Step) -> NaiveDate {
    let back = match step {
        Step::Week => period.0.checked_sub_days(chrono::Days::new(2 * 52 * 7)),
        _ => period.0.checked_sub_months(Months::new(24)),
    }
    .unwrap_or(period.0);
    match s.first_day {
        Some(first) => back.max(first).min(period.0),
        None => period.0,
    }
}

fn trend(state: &AppState, s: &Snapshot, req: &Request, groups: &[Group], protect: bool) -> Value {
    let span = (trend_from(s, req.period, req.step), req.period.1);
    let mut buckets: Vec<Buckets> = groups
        .iter()
        .map(|_| Buckets::new(req.step, span.0, span.1))
        .collect();
    // One pass over the span's incidents of the selection; each counts in every group it belongs to.
    let all = with_period(s, &req.filter, span);
    for inc in s.incidents.range(s.period_range(&all)) {
        if !all.matches(inc) {
            continue;
        }
        let day = inc.begin().date();
        for (g, b) in groups.iter().zip(buckets.iter_mut()) {
            if g.every
                || g.member
                    .get(usize::from(inc.category))
                    .copied()
                    .unwrap_or(false)
            {
                b.add(day);
            }
        }
    }
    let cfg = StrikingConfig {
        baseline: Baseline::Seasonal,
        season_length: if req.step == Step::Week { 52 } else { 12 },
        ..StrikingConfig::default()
    };
    let series: Vec<Value> = groups
        .iter()
        .zip(&buckets)
        .map(|(g, b)| {
            let steps: Vec<(String, u64)> = b
                .starts
                .iter()
                .zip(&b.counts)
                .map(|(start, &c)| (start.to_string(), c))
                .collect();
            let protected = if protect {
                let total =
                    scope_count(state, s, req.scope, &with_period(s, &g.filter, span), true);
                Some(series_table(
                    total.exact(),
                    total.table.status[total.cell],
                    &steps,
                    total.table.k,
                ))
            } else {
                None
            };
            let published = |j: usize| match &protected {
                None => true,
                Some(p) => !series_fields(p.as_ref(), j + 1).2,
            };
            let rows: Vec<Value> = b
                .rows()
                .into_iter()
                .enumerate()
                .map(|(j, row)| {
                    let (count, label, suppressed) = match &protected {
                        None => (json!(row.count), Value::Null, false),
                        Some(p) => series_fields(p.as_ref(), j + 1),
                    };
                    let expected =
                        baseline_after(&b.counts[..j], &cfg).filter(|_| (0..j).all(published));
                    let end = req.step.next(row.start).and_then(|n| n.pred_opt());
                    json!({
                        "period": row.period,
                        "start": row.start,
                        "days": row.days,
                        "count": count,
                        "count_label": label,
                        "suppressed": suppressed,
                        "expected": expected.map(|e| e.0),
                        "baseline": expected.map(|e| e.1),
                        "baseline_periods": expected.map(|e| e.2),
                        "in_period": end.is_none_or(|e| e >= req.period.0),
                    })
                })
                .collect();
            json!({"name": g.name, "label": g.label, "series": rows})
        })
        .collect();
    json!({
        "step": req.step.as_str(),
        "from": span.0,
        "to": span.1,
        "baseline": "seizoen: gemiddelde van dezelfde periode in eerdere jaren (minstens 2), anders van de 12 perioden ervoor",
        "groups": series,
    })
}

/// The monthly analysis of `month` for the filter's categories, sources and study area, as the caller may see
/// it (`/api/report/monthly`'s JSON).
fn monthly(
    state: &AppState,
    s: &Snapshot,
    req: &Request,
    protect: bool,
) -> Result<Value, ApiError> {
    let f = req.filter.with_period(s, None, None);
    let key = MonthlyReportKey {
        generation: s.generation,
        filter: f.cache_key(),
        month: req.month,
    };
    let report = match state.caches.get(&key) {
        Some(r) => r,
        None => {
            let r = Arc::new(compute_report(s, &f, req.month)?);
            state.caches.insert(key, r.clone());
            r
        }
    };
    let mut v = report_json(s, &f, &report);
    if protect {
        let month_filter = f.with_period(s, Some(report.month), Some(report.month_end));
        let table = state.protected_table(s, &month_filter, true);
        protect_report(s, &table, &report, &mut v);
    }
    Ok(v)
}

fn ranking(
    state: &AppState,
    s: &Snapshot,
    req: &Request,
    striking: &HashMap<String, Value>,
    protect: bool,
) -> Value {
    let now = state.protected_table(s, &req.filter, protect);
    let now_days = covered_days(s, req.period.0, req.period.1).max(1);
    // The previous period's table only when the data cover some of it.
    let prev = previous(req.period)
        .map(|p| (p, covered_days(s, p.0, p.1)))
        .filter(|(_, days)| *days > 0)
        .map(|(p, days)| {
            (
                state.protected_table(s, &with_period(s, &req.filter, p), protect),
                days,
            )
        });
    let level_rows = |level: AreaLevel| -> Vec<Value> {
        let mut rows: Vec<(Option<u64>, Value)> = areas_in_scope(s, &req.filter, level)
            .into_iter()
            .map(|i| {
                let a = s.area(i);
                let cell = i as usize;
                let now_c = ScopeCount {
                    table: now.clone(),
                    cell,
                };
                let (count, label, suppressed) = now_c.fields();
                let (previous, change) = match &prev {
                    Some((t, days)) if *days > 0 => {
                        let before = ScopeCount {
                            table: t.clone(),
                            cell,
                        };
                        let (pc, plabel, psupp) = before.fields();
                        (
                            json!({"count": pc, "count_label": plabel, "suppressed": psupp,
                                   "no_data": false}),
                            change_json(&now_c, now_days, &before, *days),
                        )
                    }
                    _ => (json!({"count": null, "no_data": true}), Value::Null),
                };
                (
                    now.published(cell),
                    json!({
                        "code": a.code,
                        "name": a.name,
                        "level": a.level.as_str(),
                        "wijkcode": a.wijkcode,
                        "count": count,
                        "count_label": label,
                        "suppressed": suppressed,
                        "inhabitants": a.inhabitants,
                        "rate": rate(&now_c, a.inhabitants),
                        "previous": previous,
                        "change": change,
                        "striking": striking.get(&a.code).cloned().unwrap_or(Value::Null),
                    }),
                )
            })
            .collect();
        rows.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.1["code"].as_str().cmp(&b.1["code"].as_str()))
        });
        rows.into_iter().map(|(_, v)| v).collect()
    };
    json!({"buurt": level_rows(AreaLevel::Buurt), "wijk": level_rows(AreaLevel::Wijk)})
}

fn hour_of_week(
    state: &AppState,
    s: &Snapshot,
    req: &Request,
    protect: bool,
) -> Result<Value, ApiError> {
    if protect && scope_count(state, s, req.scope, &req.filter, true).withheld() {
        return Ok(
            json!({"suppressed": true, "slots": null, "day_of_week": null,
                         "hour_of_day": null, "counts": null}),
        );
    }
    let events: Vec<Event> = s
        .incidents
        .range(s.period_range(&req.filter))
        .filter(|inc| req.filter.matches(inc))
        .map(|inc| inc.event())
        .collect();
    let p = time_profile(&events, &AoristicConfig::default()).map_err(ApiError::internal)?;
    Ok(json!({
        "suppressed": false,
        "slots": p.hour_of_week,
        "day_of_week": p.day_of_week,
        "hour_of_day": p.hour_of_day,
        "counts": p.counts,
    }))
}

fn compute(
    state: &AppState,
    s: &Snapshot,
    req: &Request,
    protect: bool,
    cancel: &crate::cancel::Cancel,
) -> Result<Value, ApiError> {
    let groups = groups(s, &req.filter);
    let figures = key_figures(state, s, req, &groups, protect);
    cancel.check()?;
    let trend = trend(state, s, req, &groups, protect);
    cancel.check()?;
    let report = monthly(state, s, req, protect)?;
    cancel.check()?;
    let in_scope: HashSet<String> = areas_in_scope(s, &req.filter, AreaLevel::Buurt)
        .into_iter()
        .map(|i| s.area(i).code.clone())
        .collect();
    let opvallend: Vec<Value> = report["areas"]
        .as_array()
        .map(|areas| {
            areas
                .iter()
                .filter(|a| {
                    !a["direction"].is_null()
                        && a["code"].as_str().is_some_and(|c| in_scope.contains(c))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let striking_by_code: HashMap<String, Value> = opvallend
        .iter()
        .filter_map(|a| Some((a["code"].as_str()?.to_string(), a["direction"].clone())))
        .collect();
    let ranking = ranking(state, s, req, &striking_by_code, protect);
    cancel.check()?;
    let how = hour_of_week(state, s, req, protect)?;
    let ind = indicators(state, s)?;
    let cols: Vec<Value> = columns(s, &ind).iter().map(Column::json).collect();
    // The kerncijfers of the scope: its area, or the tenant's only gemeente.
    let enrichment_area = req.scope.or_else(|| {
        let g = s.level_areas(AreaLevel::Gemeente);
        (req.filter.study.is_none() && g.len() == 1).then(|| g[0])
    });
    let scope = match req.scope {
        Some(i) => {
            let a = s.area(i);
            json!({"code": a.code, "name": a.name, "level": a.level.as_str(),
                   "inhabitants": a.inhabitants})
        }
        None => json!({"code": null, "name": s.tenant_name,
                       "level": if req.filter.study.is_some() { "bbox" } else { "tenant" },
                       "inhabitants": scope_inhabitants(s, None, &req.filter)}),
    };
    Ok(json!({
        "tenant": s.tenant,
        "filter": req.filter.query_string(),
        "category": req.filter.category_codes,
        "source": req.filter.source_names,
        "scope": scope,
        "protected": protect,
        "min_count": protect.then(|| state.policy.k_for(&req.filter.category_codes)),
        "data": {"first_day": s.first_day, "last_day": s.last_day},
        "period": period_json(s, req.period),
        "previous": previous(req.period).map(|p| period_json(s, p)),
        "year_before": year_before(req.period).map(|p| period_json(s, p)),
        "change_method": "rate ratio van twee Poisson-aantallen met als blootstelling de dagen met gegevens; 95%-betrouwbaarheidsinterval exact (Clopper-Pearson op de binomiale verdeling van de twee aantallen), p tweezijdig exact",
        "groups": figures,
        "trend": trend,
        "month": {"month": report["month"], "from": report["from"], "to": report["to"],
                  "significant": report["significant"]},
        "striking": opvallend,
        "ranking": ranking,
        "hour_of_week": how,
        "enrichment": {
            "columns": cols,
            "scope": enrichment_area.map(|i| super::enrichment::area_json(s, &ind, i)),
            "scope_name": enrichment_area.map(|i| s.area(i).name.clone()),
        },
    }))
}

/// `GET /api/dashboard`.
async fn dashboard(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let s = caller.snapshot.clone();
    let req = parse(&params, &s)?;
    let protect = caller.principal.sees_protected_counts();
    let key = DashboardKey {
        generation: s.generation,
        protect,
        filter: req.filter.cache_key(),
        month: req.month,
        step: req.step,
    };
    if let Some(b) = state.caches.get(&key) {
        return Ok(json_body(b));
    }
    let st = state.clone();
    let value = state
        .blocking
        .run(move |cancel| {
            cancel.check()?;
            compute(&st, &s, &req, protect, cancel)
        })
        .await?;
    let bytes = Bytes::from(serde_json::to_vec(&value).map_err(ApiError::internal)?);
    state.caches.insert(key, bytes.clone());
    Ok(json_body(bytes))
}
