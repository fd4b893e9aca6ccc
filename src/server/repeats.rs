//! `GET /api/areas/{code}/repeats` (+ the common filters): repeat victimisation per BAG address
//! ([`crate::analysis::repeat_victims`]) of the area's filtered incidents that have a BAG address (their bag ids
//! are read from the store once per snapshot generation, shared with the phenomenon profile). An incident's day
//! is the day its window begins.
//!
//! The answer: `code`, `name`, `incidents` (with an address), `incidents_without_address`, `addresses`,
//! `repeats`, `repeat_share`, `histogram` (`label` 1/2/3/4+, `addresses`, `incidents`, `share`, `percent`) and
//! `time_to_next` (`label` 0-7 ... > 365 days, `count`, `share`, `percent`), plus `per_address` (`address` =
//! the BAG id, `incidents`, `first_day`, `last_day`, `shortest_gap_days`) for callers allowed address-level
//! data on every category of the filter ([`crate::access::Principal::address_level_scope`]: analysts with the
//! grant; an empty category filter needs the grant of every category). Listing addresses is logged in the
//! audit trail before the answer ([`super::access_log::log_now`]).
//!
//! Viewers and anonymous callers get the aggregates with small-count protection (k of the filter's
//! categories, [`crate::publish::Policy::k_for`]): when the area's count is withheld on the map, everything is
//! withheld (`suppressed: true`); otherwise the histogram's address counts are protected as a breakdown of the
//! published number of addresses, the time-to-next counts as a breakdown of the published number of repeats
//! ([`crate::publish::breakdown_table`]); a withheld bin has `null` counts, shares and percentages and a
//! `count_label`. The incident totals per histogram bin are not shown to them.
//!
//! `format=xlsx` answers the same document as an Excel workbook (`brandpunt-herhaling-CODE.xlsx`,
//! [`super::xlsx`]) with the same rules (protection, address level, audit): worksheets `Samenvatting` (the
//! scalar members), `Aantal per adres` (`histogram`), `Tijd tot volgende` (`time_to_next`) and, for callers who
//! get it in JSON, `Per adres` (`per_address`); a withheld count is an empty cell with its `count_label`.

use super::access_log;
use super::analysis_api::{find_area, json_body};
use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::access::CategoryScope;
use crate::analysis::repeat_victims::{repeat_victims, AddressIncident, RepeatVictims};
use crate::publish::{breakdown_table, count_fields};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/areas/{code}/repeats", get(repeats))
}

fn date_of(day: i64) -> String {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|e| e.checked_add_signed(chrono::Duration::days(day)))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// The aggregates with small-count protection with threshold `k`.
fn protected_json(r: &RepeatVictims, k: u32) -> Value {
    let hist = breakdown_table(
        &r.histogram
            .iter()
            .map(|b| (b.label.to_string(), b.addresses))
            .collect::<Vec<_>>(),
        k,
    );
    let gaps = breakdown_table(
        &r.time_to_next
            .iter()
            .map(|b| (b.label.to_string(), b.count))
            .collect::<Vec<_>>(),
        k,
    );
    let histogram: Vec<Value> = r
        .histogram
        .iter()
        .enumerate()
        .map(|(j, b)| {
            let (count, label, suppressed) = count_fields(&hist, j + 1);
            json!({
                "label": b.label,
                "addresses": count,
                "count_label": label,
                "suppressed": suppressed,
                "share": if suppressed { Value::Null } else { json!(b.share) },
                "percent": if suppressed { Value::Null } else { json!(b.percent) },
            })
        })
        .collect();
    let time_to_next: Vec<Value> = r
        .time_to_next
        .iter()
        .enumerate()
        .map(|(j, b)| {
            let (count, label, suppressed) = count_fields(&gaps, j + 1);
            json!({
                "label": b.label,
                "count": count,
                "count_label": label,
                "suppressed": suppressed,
                "share": if suppressed { Value::Null } else { json!(b.share) },
                "percent": if suppressed { Value::Null } else { json!(b.percent) },
            })
        })
        .collect();
    let (addresses, addresses_label, _) = count_fields(&hist, 0);
    let (repeats, repeats_label, repeats_withheld) = count_fields(&gaps, 0);
    json!({
        "addresses": addresses,
        "addresses_label": addresses_label,
        "repeats": repeats,
        "repeats_label": repeats_label,
        "repeat_share": if repeats_withheld { Value::Null } else { json!(r.repeat_share) },
        "histogram": histogram,
        "time_to_next": time_to_next,
    })
}

async fn repeats(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let s = caller.snapshot.clone();
    let idx = find_area(&s, &code)?;
    let filter = Filter::parse(&params, &s)?;
    let xlsx = super::xlsx::wants_xlsx(&params)?;
    let protect = caller.principal.sees_protected_counts();
    let with_addresses = !protect
        && match caller.principal.address_level_scope(
            caller.tenant(),
            &filter.category_codes,
            &s.categories,
        ) {
            CategoryScope::All => true,
            CategoryScope::Only(codes) => {
                !filter.category_codes.is_empty()
                    && filter.category_codes.iter().all(|c| codes.contains(c))
            }
            CategoryScope::Denied => false,
        };
    let withheld = protect
        && state
            .protected_table(&s, &filter, true)
            .is_suppressed(idx as usize);
    let k = state.policy.k_for(&filter.category_codes);
    let st = state.clone();
    let (snapshot, filt) = (s.clone(), filter.clone());
    let (body, listed) = state
        .blocking
        .run(move |cancel| {
            let (s, filter) = (snapshot, filt);
            let a = s.area(idx);
            if withheld {
                return Ok((
                    json!({"code": a.code, "name": a.name, "suppressed": true}),
                    0,
                ));
            }
            let data = super::analysis_api::profile_data(&st, &s)?;
            cancel.check()?;
            let incidents = s.incidents_in(idx, &filter);
            let with_address: Vec<AddressIncident> = incidents
                .iter()
                .filter_map(|&k| {
                    let inc = &s.incidents[k as usize];
                    data.bag_ids.get(&inc.id).map(|b| AddressIncident {
                        address: b.clone(),
                        day: inc.begin_min.div_euclid(24 * 60),
                    })
                })
                .collect();
            cancel.check()?;
            let r = repeat_victims(&with_address);
            let mut v = if protect {
                protected_json(&r, k)
            } else {
                let mut v = serde_json::to_value(&r).map_err(ApiError::internal)?;
                if let Some(o) = v.as_object_mut() {
                    o.remove("per_address");
                }
                v
            };
            let mut listed = 0;
            if let Some(o) = v.as_object_mut() {
                o.insert("code".into(), json!(a.code));
                o.insert("name".into(), json!(a.name));
                if !protect {
                    o.insert("incidents".into(), json!(r.incidents));
                    o.insert(
                        "incidents_without_address".into(),
                        json!(incidents.len() - with_address.len()),
                    );
                }
                if with_addresses {
                    let rows: Vec<Value> = r
                        .per_address
                        .iter()
                        .map(|p| {
                            json!({
                                "address": p.address,
                                "incidents": p.incidents,
                                "first_day": date_of(p.first_day),
                                "last_day": date_of(p.last_day),
                                "shortest_gap_days": p.shortest_gap_days,
                            })
                        })
                        .collect();
                    listed = rows.len() as i64;
                    o.insert("per_address".into(), Value::Array(rows));
                }
            }
            Ok((v, listed))
        })
        .await?;
    if with_addresses {
        let what = format!("{} area={}", filter.key(), code);
        access_log::log_now(
            &state,
            &caller.principal,
            "/api/areas/{code}/repeats",
            &what,
            listed,
        )?;
    }
    if xlsx {
        let name = format!("herhaling-{}", body["code"].as_str().unwrap_or_default());
        let bytes = state.blocking.run(move |_| workbook(&body)).await?;
        return Ok(super::xlsx::response(bytes, &name));
    }
    let bytes = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    Ok(json_body(Bytes::from(bytes)))
}

/// Columns of the `Samenvatting` worksheet (those the caller's JSON has).
pub const SUMMARY_COLUMNS: &[&str] = &[
    "code",
    "name",
    "suppressed",
    "incidents",
    "incidents_without_address",
    "addresses",
    "addresses_label",
    "repeats",
    "repeats_label",
    "repeat_share",
];
/// Columns of the `Aantal per adres` worksheet (`incidents` only for exact callers).
pub const HISTOGRAM_COLUMNS: &[&str] = &[
    "label",
    "addresses",
    "count_label",
    "incidents",
    "share",
    "percent",
];
/// Columns of the `Tijd tot volgende` worksheet.
pub const TIME_TO_NEXT_COLUMNS: &[&str] = &["label", "count", "count_label", "share", "percent"];
/// Columns of the `Per adres` worksheet.
pub const PER_ADDRESS_COLUMNS: &[&str] = &[
    "address",
    "incidents",
    "first_day",
    "last_day",
    "shortest_gap_days",
];

/// The workbook of the caller's JSON answer `v`: only the columns and worksheets the JSON has (`count_label`
/// always, empty for exact callers, as in the CSV exports).
fn workbook(v: &Value) -> Result<Vec<u8>, ApiError> {
    use super::xlsx::json_table;
    let present = |columns: &[&'static str], items: &[Value]| -> Vec<&'static str> {
        columns
            .iter()
            .copied()
            .filter(|c| *c == "count_label" || items.iter().any(|i| i.get(*c).is_some()))
            .collect()
    };
    let summary = std::slice::from_ref(v);
    let mut sheets = vec![(
        "Samenvatting",
        json_table(summary, &present(SUMMARY_COLUMNS, summary)),
    )];
    let items = |k: &str| v[k].as_array().cloned();
    if let Some(h) = items("histogram") {
        sheets.push((
            "Aantal per adres",
            json_table(&h, &present(HISTOGRAM_COLUMNS, &h)),
        ));
    }
    if let Some(t) = items("time_to_next") {
        sheets.push(("Tijd tot volgende", json_table(&t, TIME_TO_NEXT_COLUMNS)));
    }
    if let Some(p) = items("per_address") {
        sheets.push(("Per adres", json_table(&p, PER_ADDRESS_COLUMNS)));
    }
    super::xlsx::workbook(&sheets)
}
