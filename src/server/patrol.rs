//! Patrol planning for handhaving: `GET /api/patrol?day=fri&from_hour=20&to_hour=2&top=10&cell=100` (+ the
//! common filters) answers the grid cells where most incident weight falls in that weekly time block.
//!
//! Contract:
//! - The block starts on `day` at `from_hour`:00 and ends at `to_hour`:00 on the same day when
//!   `to_hour > from_hour`, else on the next day (`20..2` = Friday 20:00 - Saturday 02:00; `to_hour=24` ends at
//!   midnight). `from_hour` is 0..=23, `to_hour` 0..=24 and must differ from `from_hour`.
//! - Every located incident passing the filter gets the aoristic share of its window that falls in the block
//!   ([`crate::analysis::aoristic::patrol_block_share`], default window limit of 7 days; longer or invalid
//!   windows are left out and counted in `excluded`). The ranking is [`crate::analysis::patrol::plan`].
//! - Incidents are binned on the square RD grid of `cell` metres ([`crate::analysis::grid::BinId::grid_cell`],
//!   default 100 m, 25..=2000). A cell's `score` is the sum of the shares (the expected number of its incidents
//!   that happened inside the block), `count` the number of incidents with a share > 0. Cells are ranked by score
//!   (then count, then cell name); the first `top` (default 10, 1..=500) are returned.
//! - `street` is the most common BAG street name of the address-located incidents of the cell that fall (partly)
//!   in the block (ties: alphabetical), absent when none is known.
//! - `score` is a total over the filter's whole period (`from`..`to`, else the data's first and last day). The
//!   expected number per occurrence of the block, `per_week`, is `score / occurrences`, where `occurrences` is
//!   the number of days of the period that fall on the block's start day
//!   ([`crate::analysis::patrol::WeeklyHours::occurrences`]; `null` when the block does not occur in the period).
//! - A cell without a shown `street` gets `street_note`, the reason in Dutch: `geen adres bij de incidenten in
//!   deze cel` (none of its incidents in the block was located at an address), or `te weinig incidenten om een
//!   straat te tonen` (small-count protection, below).
//! - Default answer: a GeoJSON FeatureCollection (WGS84 square polygons); `format=html` a printable Dutch page
//!   ([`crate::render::patrol`]): a map of the cells (an SVG over the buurt outlines, numbered by rank, with
//!   the streets beside it) and the list; `format=xlsx` an Excel workbook (`brandpunt-surveillance.xlsx`,
//!   [`super::xlsx`]) made from the same JSON: worksheet `Surveillancelijst` with a row per cell ([`LIST_COLUMNS`]:
//!   the properties and the centre as `lon`/`lat`; a withheld count is an empty cell with its `count_label`) and
//!   `Tijdsblok` with the block, period, occurrences and totals.
//!
//! Small-count protection (viewers, anonymous callers): a cell with a `count` in `1..k-1` (k of the filter,
//! [`crate::publish::Policy::k_for`]) gets `count` and `score` `null`, `count_label` "< k", `suppressed: true`
//! and no `street`; the HTML list shows "< k". A cell's `street` is also left out (HTML: "afgeschermd") when
//! fewer than k of its incidents lie on it ([`crate::publish::shown_street`]). Grid cells stand in no published sum relation, so primary
//! suppression is all they need.
//!
//! Results are cached ([`crate::cache`]) per (snapshot generation, filter, block, cell, top); the protection
//! is applied per answer.

use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::analysis::aoristic::AoristicConfig;
use crate::analysis::grid::BinId;
use crate::analysis::patrol::{plan, PatrolCell, PatrolError, PatrolResult, WeeklyHours};
use crate::analysis::Event;
use crate::cache::CacheEntry;
use crate::calendar::parse_weekday;
use crate::cancel::Cancel;
use crate::dataset::FilterKey;
use crate::dataset::Snapshot;
use crate::heap_size::HeapSize;
use crate::render::html::{filter_description, fmt_nl};
use crate::render::patrol::{patrol_html, PatrolPage, PatrolRow};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/patrol", get(patrol))
}

/// The parsed request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PatrolParams {
    hours: WeeklyHours,
    top: usize,
    cell_m: u32,
}

fn int_param<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    params: &HashMap<String, String>,
    name: &str,
    default: Option<T>,
    min: T,
    max: T,
) -> Result<T, ApiError> {
    let v = match params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(v) => v
            .parse::<T>()
            .map_err(|_| ApiError::param(name, format!("'{v}' is geen geheel getal")))?,
        None => default.ok_or_else(|| ApiError::param(name, format!("'{name}' ontbreekt")))?,
    };
    if v < min || v > max {
        return Err(ApiError::param(
            name,
            format!("{name} moet tussen {min} en {max} liggen"),
        ));
    }
    Ok(v)
}

impl PatrolParams {
    fn parse(params: &HashMap<String, String>) -> Result<Self, ApiError> {
        let day_raw = params
            .get("day")
            .map(|d| d.trim())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| ApiError::param("day", "'day' ontbreekt (mon..sun of ma..zo)"))?;
        let day = parse_weekday(day_raw).ok_or_else(|| {
            ApiError::param(
                "day",
                format!("'{day_raw}' is geen dag (mon..sun of ma..zo)"),
            )
        })?;
        let from_hour = int_param(params, "from_hour", None, 0u32, 23)?;
        let to_hour = int_param(params, "to_hour", None, 0u32, 24)?;
        if to_hour == from_hour {
            return Err(ApiError::param(
                "to_hour",
                "to_hour moet verschillen van from_hour",
            ));
        }
        let top = int_param(params, "top", Some(10usize), 1, 500)?;
        let cell_m = int_param(params, "cell", Some(100u32), 25, 2000)?;
        Ok(PatrolParams {
            hours: WeeklyHours {
                day,
                from_hour,
                to_hour,
            },
            top,
            cell_m,
        })
    }

    fn block(&self) -> Result<crate::analysis::aoristic::PatrolBlock, ApiError> {
        self.hours
            .block()
            .map_err(|e| ApiError::param("to_hour", e.to_string()))
    }
}

impl HeapSize for PatrolResult {
    fn heap_bytes(&self) -> usize {
        self.cells.heap_bytes()
    }
}

impl HeapSize for PatrolCell {
    fn heap_bytes(&self) -> usize {
        self.street.heap_bytes()
    }
}

/// Cache key of a computed [`PatrolResult`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PatrolKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub params: PatrolParams,
}

impl HeapSize for PatrolKey {
    fn heap_bytes(&self) -> usize {
        self.filter.heap_bytes()
    }
}

impl CacheEntry for PatrolKey {
    type Value = Arc<PatrolResult>;
    const KIND: &'static str = "patrol";
}

/// Ids read from the store per query by [`street_names`].
const STREET_IDS_PER_READ: usize = 4_096;

/// Incident id -> BAG street name for those of `ids` (incidents of `tenant`) located by address, read from a
/// store handle of its own (the shared one stays free) in batches, checking `cancel` between them. Callers ask
/// for the incidents of the cells they show, so the cost follows the answer, not the tenant.
pub(super) fn street_names(
    state: &AppState,
    tenant: &str,
    ids: &[i64],
    cancel: &Cancel,
) -> Result<HashMap<i64, String>, ApiError> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let store = state.opener.open().map_err(ApiError::internal)?;
    for chunk in ids.chunks(STREET_IDS_PER_READ) {
        cancel.check()?;
        for d in store
            .incident_details(tenant, chunk)
            .map_err(ApiError::internal)?
        {
            if let Some(street) = d.street.filter(|_| d.located_by == "address") {
                out.insert(d.id, street);
            }
        }
    }
    Ok(out)
}

fn compute(
    state: &AppState,
    snapshot: Arc<Snapshot>,
    filter: &Filter,
    p: &PatrolParams,
    cancel: &Cancel,
) -> Result<Arc<PatrolResult>, ApiError> {
    let key = PatrolKey {
        generation: snapshot.generation,
        filter: filter.cache_key(),
        params: p.clone(),
    };
    if let Some(r) = state.caches.get(&key) {
        return Ok(r);
    }
    let block = p.block()?;
    let located = snapshot.located_incidents(filter);
    cancel.check()?;
    let event = |k: u32| snapshot.incidents[k as usize].event();
    let planned = |incidents: &[(Event, Option<&str>)]| {
        plan(
            incidents,
            &block,
            &AoristicConfig::default(),
            p.cell_m,
            p.top,
            cancel,
        )
        .map_err(|e| match e {
            PatrolError::Cancelled(c) => ApiError::from(c),
            e => ApiError::internal(e),
        })
    };
    // Rank without streets first; then name the streets of the chosen cells from their own incidents only.
    // Planning again over exactly those incidents gives the same cells, scores and order (every incident of a
    // chosen cell is in, and the ranking does not depend on streets), now with their streets.
    let plain: Vec<(Event, Option<&str>)> = located.iter().map(|&k| (event(k), None)).collect();
    let mut result = planned(&plain)?;
    drop(plain);
    let chosen: std::collections::HashSet<&BinId> = result.cells.iter().map(|c| &c.cell).collect();
    let in_chosen: Vec<u32> = located
        .iter()
        .copied()
        .filter(|&k| {
            let inc = &snapshot.incidents[k as usize];
            BinId::grid_cell(inc.x_m, inc.y_m, p.cell_m).is_some_and(|c| chosen.contains(&c))
        })
        .collect();
    let ids: Vec<i64> = in_chosen
        .iter()
        .map(|&k| snapshot.incidents[k as usize].id)
        .collect();
    let names = street_names(state, &snapshot.tenant, &ids, cancel)?;
    let named: Vec<(Event, Option<&str>)> = in_chosen
        .iter()
        .map(|&k| {
            let id = snapshot.incidents[k as usize].id;
            (event(k), names.get(&id).map(String::as_str))
        })
        .collect();
    result.cells = planned(&named)?.cells;
    let result = Arc::new(result);
    state.caches.insert(key, result.clone());
    Ok(result)
}

fn rd_ring_to_wgs84(
    t: &crate::coords::Transformer,
    ring: &[geo_types::Coord<f64>],
) -> Result<Vec<[f64; 2]>, ApiError> {
    ring.iter()
        .map(|c| {
            t.rd_to_wgs84(c.x, c.y)
                .map(|(lon, lat)| [lon, lat])
                .map_err(ApiError::internal)
        })
        .collect()
}

/// Cell polygon and centre in WGS84.
fn cell_geometry(cell: &BinId) -> Result<(Vec<[f64; 2]>, [f64; 2]), ApiError> {
    let poly = cell
        .grid_polygon_m()
        .ok_or_else(|| ApiError::internal("patrol cell is not a grid cell"))?;
    let (cx, cy) = cell
        .grid_centre_m()
        .ok_or_else(|| ApiError::internal("patrol cell is not a grid cell"))?;
    crate::coords::with_thread_transformer(|t| -> Result<_, ApiError> {
        let ring = rd_ring_to_wgs84(t, &poly.exterior().0)?;
        let (lon, lat) = t.rd_to_wgs84(cx, cy).map_err(ApiError::internal)?;
        Ok((ring, [lon, lat]))
    })
    .map_err(ApiError::internal)?
}

async fn patrol(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?.within_gemeenten_by_default(&snapshot);
    let p = PatrolParams::parse(&params)?;
    // k when the caller sees protected counts.
    let protect_k = caller
        .principal
        .sees_protected_counts()
        .then(|| state.policy.k_for(&filter.category_codes));
    let (html, xlsx) = match params.get("format").map(|f| f.trim().to_ascii_lowercase()) {
        None => (false, false),
        Some(f) if f.is_empty() || f == "json" || f == "geojson" => (false, false),
        Some(f) if f == "html" => (true, false),
        Some(f) if f == "xlsx" => (false, true),
        Some(f) => {
            return Err(ApiError::param(
                "format",
                format!("onbekend formaat '{f}' (json, html of xlsx)"),
            ))
        }
    };
    let st = state.clone();
    let (pp, ff) = (p.clone(), filter.clone());
    let snap = snapshot.clone();
    let turn = state.heavy.enter().await?;
    let result = state
        .blocking
        .run(move |cancel| {
            let _turn = turn;
            compute(&st, snap, &ff, &pp, cancel)
        })
        .await?;
    let period = filter.period(&snapshot);
    let occurrences = period.map_or(0, |(a, b)| p.hours.occurrences(a, b));
    let mut features = Vec::with_capacity(result.cells.len());
    let mut rows = Vec::with_capacity(result.cells.len());
    for c in &result.cells {
        let (ring, centre) = cell_geometry(&c.cell)?;
        let label = small_label(c.count, protect_k);
        let per_week = per_occurrence(c.score, occurrences);
        let mut props = json!({
            "rank": c.rank,
            "score": if label.is_some() { json!(null) } else { json!(c.score) },
            "per_week": if label.is_some() { json!(null) } else { json!(per_week) },
            "count": if label.is_some() { json!(null) } else { json!(c.count) },
            "count_label": label,
            "suppressed": label.is_some(),
            "cell": c.label(),
            "center": centre,
        });
        match street_shown(c, protect_k) {
            Ok(s) => props["street"] = json!(s),
            Err(note) => props["street_note"] = json!(note),
        }
        features.push(json!({
            "type": "Feature",
            "id": c.rank,
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": props,
        }));
        rows.push((c, centre));
    }
    if html {
        let page = PatrolPeriod {
            period,
            occurrences,
        };
        return Ok(Html(render_html(
            &snapshot, &filter, &p, &result, &rows, protect_k, &page,
        ))
        .into_response());
    }
    let answer = json!({
        "type": "FeatureCollection",
        "block": {
            "day": format!("{}", p.hours.day).to_ascii_lowercase(),
            "from_hour": p.hours.from_hour,
            "to_hour": p.hours.to_hour,
            "hours": result.hours,
            "label": p.hours.dutch_label(),
        },
        "cell_m": p.cell_m,
        "period": period.map(|(a, b)| json!({"from": a, "to": b})),
        "occurrences": occurrences,
        "per_week_rule": PER_WEEK_RULE,
        "incidents_used": result.used,
        "incidents_excluded": result.excluded,
        "total_score": result.total_score,
        "features": features,
    });
    if xlsx {
        let bytes = tokio::task::spawn_blocking(move || workbook(&answer))
            .await
            .map_err(ApiError::internal)??;
        return Ok(super::xlsx::response(bytes, "surveillance"));
    }
    Ok(Json(answer).into_response())
}

/// Columns of the `Surveillancelijst` worksheet: a cell's properties, its centre as `lon`/`lat`.
pub const LIST_COLUMNS: &[&str] = &[
    "rank",
    "cell",
    "street",
    "street_note",
    "count",
    "count_label",
    "score",
    "per_week",
    "lon",
    "lat",
];

/// The workbook of the JSON answer `v` (see the module contract).
fn workbook(v: &serde_json::Value) -> Result<Vec<u8>, ApiError> {
    use super::xlsx::{json_table, object_table};
    let rows: Vec<serde_json::Value> = v["features"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|feature| {
                    let mut p = feature["properties"].clone();
                    p["lon"] = p["center"][0].clone();
                    p["lat"] = p["center"][1].clone();
                    p
                })
                .collect()
        })
        .unwrap_or_default();
    let mut block = v.clone();
    if let Some(o) = block.as_object_mut() {
        o.remove("type");
        o.remove("features");
        // `period` and `block` flatten to their members; `block.label` says the block in Dutch.
    }
    super::xlsx::workbook(&[
        ("Surveillancelijst", json_table(&rows, LIST_COLUMNS)),
        ("Tijdsblok", object_table(&block)),
    ])
}

/// How the expected number per occurrence of the block is computed, in Dutch (JSON `per_week_rule`, HTML).
pub const PER_WEEK_RULE: &str = "verwacht aantal per keer = score over de hele periode gedeeld door het aantal keren dat het tijdsblok in de periode begint (het aantal van die weekdagen van de eerste tot en met de laatste dag)";

/// The reason a cell shows no street: none of its incidents in the block has an address.
pub const NO_ADDRESS: &str = "geen adres bij de incidenten in deze cel";
/// The reason a cell shows no street: small-count protection.
pub const TOO_FEW_FOR_STREET: &str = "te weinig incidenten om een straat te tonen";

/// `score / occurrences`, `None` when the block does not occur in the period.
fn per_occurrence(score: f64, occurrences: u64) -> Option<f64> {
    (occurrences > 0).then(|| score / occurrences as f64)
}

/// The street the caller may see for cell `c`, or the Dutch reason why there is none.
fn street_shown(c: &PatrolCell, protect_k: Option<u32>) -> Result<&str, &'static str> {
    if small_label(c.count, protect_k).is_some() {
        return Err(TOO_FEW_FOR_STREET);
    }
    match (crate::publish::shown_street(c, protect_k), &c.street) {
        (Some(s), _) => Ok(s),
        (None, Some(_)) => Err(TOO_FEW_FOR_STREET),
        (None, None) => Err(NO_ADDRESS),
    }
}

/// The period of the filter and how often the block occurs in it.
struct PatrolPeriod {
    period: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    occurrences: u64,
}

/// "< k" when `count` is in `1..k-1` and the caller sees protected counts (`protect_k`).
fn small_label(count: u64, protect_k: Option<u32>) -> Option<String> {
    protect_k.and_then(|k| crate::publish::small_count_label(count, k))
}

/// The printable page ([`patrol_html`]) with the texts `protect_k` lets the caller see.
fn render_html(
    snapshot: &Snapshot,
    filter: &Filter,
    p: &PatrolParams,
    result: &PatrolResult,
    rows: &[(&PatrolCell, [f64; 2])],
    protect_k: Option<u32>,
    period: &PatrolPeriod,
) -> String {
    let rows: Vec<PatrolRow> = rows
        .iter()
        .map(|(c, centre)| {
            let label = small_label(c.count, protect_k);
            let street = match street_shown(c, protect_k) {
                Ok(s) => s.to_string(),
                Err(note) => note.to_string(),
            };
            let (score, per_week, count) = match &label {
                Some(l) => (l.clone(), l.clone(), l.clone()),
                None => (
                    fmt_nl(c.score, 1),
                    per_occurrence(c.score, period.occurrences)
                        .map_or_else(|| "-".to_string(), |v| fmt_nl(v, 2)),
                    c.count.to_string(),
                ),
            };
            let square = c
                .cell
                .grid_polygon_m()
                .map(|poly| {
                    let r = geo::BoundingRect::bounding_rect(&poly);
                    r.map_or([0.0; 4], |r| [r.min().x, r.min().y, r.max().x, r.max().y])
                })
                .unwrap_or([0.0; 4]);
            PatrolRow {
                rank: c.rank,
                cell: c.label(),
                centre_lon_lat: *centre,
                street,
                score,
                per_week,
                count,
                square_rd: square,
            }
        })
        .collect();
    // The buurten within 2 km of the cells, for orientation on the printed map.
    let near = rows.iter().fold(None::<[f64; 4]>, |acc, r| {
        let q = r.square_rd;
        Some(acc.map_or(q, |a| {
            [
                a[0].min(q[0]),
                a[1].min(q[1]),
                a[2].max(q[2]),
                a[3].max(q[3]),
            ]
        }))
    });
    let outlines: Vec<Vec<(f64, f64)>> = match near {
        None => Vec::new(),
        Some([x0, y0, x1, y1]) => snapshot
            .level_areas(crate::area_level::AreaLevel::Buurt)
            .iter()
            .map(|&k| &snapshot.areas[k as usize].geometry_rd)
            .filter(|g| {
                geo::BoundingRect::bounding_rect(*g).is_some_and(|b| {
                    b.min().x <= x1 + 2000.0
                        && b.max().x >= x0 - 2000.0
                        && b.min().y <= y1 + 2000.0
                        && b.max().y >= y0 - 2000.0
                })
            })
            .flat_map(|g| g.0.iter())
            .map(|poly| poly.exterior().0.iter().map(|c| (c.x, c.y)).collect())
            .collect(),
    };
    let period_label = period.period.map_or_else(
        || "geen gegevens".to_string(),
        |(a, b)| format!("{} t/m {}", dutch_day(a), dutch_day(b)),
    );
    patrol_html(&PatrolPage {
        tenant_name: &snapshot.tenant_name,
        block_label: &p.hours.dutch_label(),
        hours: result.hours,
        cell_m: p.cell_m,
        filter: &filter_description(&filter.query_string()),
        used: result.used,
        total_score: result.total_score,
        period: &period_label,
        occurrences: period.occurrences,
        per_week_rule: PER_WEEK_RULE,
        outlines_rd: &outlines,
        rows: &rows,
    })
}

/// `6 september 2024`.
fn dutch_day(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let month = crate::calendar::dutch_month(d);
    format!("{} {month}", d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_wrap_midnight() {
        let q = |d: &str, f: &str, t: &str| {
            let m: HashMap<String, String> = [("day", d), ("from_hour", f), ("to_hour", t)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            PatrolParams::parse(&m)
        };
        let p = q("fri", "20", "2").unwrap();
        assert_eq!(p.block().unwrap().hours(), 6.0);
        assert_eq!(p.hours.dutch_label(), "vrijdag 20:00 - zaterdag 02:00");
        assert_eq!(q("zo", "22", "24").unwrap().block().unwrap().hours(), 2.0);
        assert_eq!(q("ma", "8", "17").unwrap().block().unwrap().hours(), 9.0);
        let bad = |r: Result<PatrolParams, ApiError>, param: &str| match r {
            Err(ApiError::BadRequest { parameter, .. }) => {
                assert_eq!(parameter.as_deref(), Some(param))
            }
            other => panic!("{other:?}"),
        };
        bad(q("friday!", "20", "2"), "day");
        bad(q("fri", "24", "2"), "from_hour");
        bad(q("fri", "20", "20"), "to_hour");
        bad(q("fri", "x", "2"), "from_hour");
    }
}
