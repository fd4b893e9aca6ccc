//! The monthly "wat valt op" report of a tenant: counting over the snapshot
//! ([`crate::analysis::striking::monthly_report`] assesses), the JSON document the API answers, and the
//! publishing policy applied to it for protected callers ([`protect_report`]: a buurt's `observed` from the
//! month's protected area table, the categories as one table under the month's total, the history months as
//! one table under their sum, the month's total with primary suppression; values derived from a withheld count
//! are withheld with it).
//!
//! ```
//! use brandpunt::area_level::AreaLevel;
//! use brandpunt::dataset::monthly::{compute_report, report_json};
//! use brandpunt::dataset::{Filter, Snapshot, TenantArea, TenantData};
//!
//! let square = geo_types::Rect::new((155_000.0, 463_000.0), (155_500.0, 463_500.0)).to_polygon();
//! let data = TenantData {
//!     code: "proef".into(),
//!     name: "Proefstad".into(),
//!     areas: vec![TenantArea::new(AreaLevel::Buurt, "BU99990001", "Centrum", square.into())],
//!     incidents: vec![],
//! };
//! let s = Snapshot::build(1, data).unwrap();
//! let month = chrono::NaiveDate::from_ymd_opt(2024, 9, 1).unwrap();
//! let report = compute_report(&s, &Filter::all(&s), month).unwrap();
//! let v = report_json(&s, &Filter::all(&s), &report);
//! assert_eq!(v["month"], "2024-09");
//! assert_eq!(v["total"]["count"], 0);
//! ```

use crate::analysis::striking::{
    monthly_report, MonthlyIncident, MonthlyPeriod, MonthlyReport, StrikingArea, StrikingError,
};
use crate::area_level::AreaLevel;
use crate::calendar::Step;
use crate::dataset::{Filter, Snapshot};
use crate::publish::{breakdown_table, list_table, withhold_json};
use crate::suppression::Protected;
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Why a monthly report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum MonthlyReportError {
    /// The month (with its history) lies outside the calendar.
    #[error("maand buiten het bereik")]
    MonthOutOfRange,
    #[error(transparent)]
    Striking(#[from] StrikingError),
}

/// Count the matching incidents of the snapshot per buurt, category and month over the month and its history,
/// and assess them ([`monthly_report`]).
pub fn compute_report(
    snapshot: &Snapshot,
    filter: &Filter,
    month: NaiveDate,
) -> Result<MonthlyReport, MonthlyReportError> {
    let period = MonthlyPeriod::new(month, snapshot.first_day)
        .map_err(|_| MonthlyReportError::MonthOutOfRange)?;
    let f = filter.with_period(snapshot, Some(period.history_from), Some(period.month_end));
    let buurten = snapshot.level_areas(AreaLevel::Buurt);
    let pos: HashMap<u32, usize> = buurten.iter().enumerate().map(|(p, &a)| (a, p)).collect();
    let codes: Vec<&str> = buurten
        .iter()
        .map(|&a| snapshot.area(a).code.as_str())
        .collect();
    // The incidents of the month and its history only (a contiguous range of the sorted begins).
    let incidents = snapshot
        .incidents
        .range(snapshot.period_range(&f))
        .filter(|inc| f.matches(inc))
        .map(|inc| MonthlyIncident {
            day: inc.begin().date(),
            area: pos.get(&inc.buurt).copied(),
            category: Some(usize::from(inc.category)),
        });
    Ok(monthly_report(
        &period,
        &codes,
        &snapshot.categories,
        incidents,
    )?)
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

/// Apply the publishing policy to the JSON answer `v` of [`report_json`] for a protected caller; `table` is the
/// protected area table of the report's month ([`crate::publish::area_table`], the same as the map's).
pub fn protect_report(s: &Snapshot, table: &Protected, r: &MonthlyReport, v: &mut Value) {
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
