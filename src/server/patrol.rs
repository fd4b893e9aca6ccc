//! Patrol planning for handhaving: `GET /api/patrol?day=fri&from_hour=20&to_hour=2&top=10&cell=100` (+ the
//! common filters) answers the grid cells where most incident weight falls in that weekly time block.
//!
//! Contract:
//! - The block starts on `day` at `from_hour`:00 and ends at `to_hour`:00 on the same day when
//!   `to_hour > from_hour`, else on the next day (`20..2` = Friday 20:00 - Saturday 02:00; `to_hour=24` ends at
//!   midnight). `from_hour` is 0..=23, `to_hour` 0..=24 and must differ from `from_hour`.
//! - Every located incident passing the filter gets the aoristic share of its window that falls in the block
//!   ([`crate::analysis::aoristic::patrol_block_share`], default window limit of 7 days; longer or invalid
//!   windows are left out and counted in `excluded`).
//! - Incidents are binned on the square RD grid of `cell` metres ([`crate::analysis::grid::BinId::grid_cell`],
//!   default 100 m, 25..=2000). A cell's `score` is the sum of the shares (the expected number of its incidents
//!   that happened inside the block), `count` the number of incidents with a share > 0. Cells are ranked by score
//!   (then count, then cell name); the first `top` (default 10, 1..=500) are returned.
//! - `street` is the most common BAG street name of the address-located incidents of the cell that fall (partly)
//!   in the block (ties: alphabetical), absent when none is known.
//! - Default answer: a GeoJSON FeatureCollection (WGS84 square polygons); `format=html` a printable Dutch list.
//!
//! Small-count protection (viewers, anonymous callers): a cell with a `count` in `1..k-1` (k of the filter,
//! [`super::areas::min_count_for`]) gets `count` and `score` `null`, `count_label` "< k", `suppressed: true`
//! and no `street`; the HTML list shows "< k". A cell's `street` is also left out (HTML: "afgeschermd") when
//! fewer than k of its incidents lie on it ([`PatrolCell::shown_street`]). Grid cells stand in no published sum relation, so primary
//! suppression is all they need.
//!
//! Results are cached ([`super::caches`]) per (snapshot generation, filter, block, cell, top); the protection
//! is applied per answer.

use super::caches::{PatrolKey, StreetsKey};
use super::error::ApiError;
use super::filter::Filter;
use super::report::{fmt_nl, html_escape};
use super::AppState;
use super::Caller;
use crate::analysis::aoristic::{patrol_block_share, AoristicConfig, PatrolBlock};
use crate::analysis::grid::BinId;
use crate::analysis::Event;
use crate::dataset::Snapshot;
use crate::heap_size::HeapSize;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Weekday;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/patrol", get(patrol))
}

/// One incident as input of [`rank_cells`]: RD position, share in the block, BAG street when known.
#[derive(Clone, Debug)]
pub struct WeightedIncident<'a> {
    pub x_m: f64,
    pub y_m: f64,
    /// Aoristic share (0..=1) of the incident inside the block.
    pub share: f64,
    pub street: Option<&'a str>,
}

/// One ranked grid cell.
#[derive(Clone, Debug, PartialEq)]
pub struct PatrolCell {
    /// 1 = highest score.
    pub rank: usize,
    pub cell: BinId,
    /// Sum of the shares of the cell's incidents.
    pub score: f64,
    /// Incidents with a share > 0.
    pub count: u64,
    /// Most common street of the cell's address-located incidents (ties: alphabetical).
    pub street: Option<String>,
    /// The cell's incidents on `street`.
    pub street_count: u64,
}

impl PatrolCell {
    /// The street a caller may see: for protected callers (`protect_k = Some(k)`) only when the cell's count
    /// and its incidents on that street are both at least k, so a street never points at fewer than k
    /// incidents.
    pub fn shown_street(&self, protect_k: Option<u32>) -> Option<&str> {
        let street = self.street.as_deref()?;
        match protect_k {
            Some(k) if self.count < u64::from(k) || self.street_count < u64::from(k) => None,
            _ => Some(street),
        }
    }
}

/// Bin `incidents` on the `cell_m` grid and return the `top` cells by score (pure; see the module contract).
/// Incidents with a share of 0 or non-finite coordinates are ignored.
pub fn rank_cells(incidents: &[WeightedIncident<'_>], cell_m: u32, top: usize) -> Vec<PatrolCell> {
    struct Acc<'a> {
        score: f64,
        count: u64,
        streets: BTreeMap<&'a str, u64>,
    }
    let mut cells: HashMap<BinId, Acc<'_>> = HashMap::new();
    for inc in incidents {
        if inc.share.is_nan() || inc.share <= 0.0 {
            continue;
        }
        let Some(id) = BinId::grid_cell(inc.x_m, inc.y_m, cell_m) else {
            continue;
        };
        let acc = cells.entry(id).or_insert_with(|| Acc {
            score: 0.0,
            count: 0,
            streets: BTreeMap::new(),
        });
        acc.score += inc.share;
        acc.count += 1;
        if let Some(s) = inc.street.filter(|s| !s.trim().is_empty()) {
            *acc.streets.entry(s).or_default() += 1;
        }
    }
    let mut ranked: Vec<(BinId, Acc<'_>)> = cells.into_iter().collect();
    ranked.sort_by(|(ia, a), (ib, b)| {
        b.score
            .total_cmp(&a.score)
            .then(b.count.cmp(&a.count))
            .then_with(|| ia.name().cmp(&ib.name()))
    });
    ranked
        .into_iter()
        .take(top)
        .enumerate()
        .map(|(k, (cell, acc))| {
            // BTreeMap iterates alphabetically; keep the first street with the highest count.
            let mut best: Option<(&str, u64)> = None;
            for (s, n) in acc.streets {
                if best.is_none_or(|(_, m)| n > m) {
                    best = Some((s, n));
                }
            }
            PatrolCell {
                rank: k + 1,
                cell,
                score: acc.score,
                count: acc.count,
                street: best.map(|(s, _)| s.to_string()),
                street_count: best.map_or(0, |(_, n)| n),
            }
        })
        .collect()
}

/// Parse a day name (English or Dutch, full or abbreviated).
pub fn parse_weekday(value: &str) -> Option<Weekday> {
    Some(match value.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" | "ma" | "maandag" => Weekday::Mon,
        "tue" | "tuesday" | "di" | "dinsdag" => Weekday::Tue,
        "wed" | "wednesday" | "wo" | "woensdag" => Weekday::Wed,
        "thu" | "thursday" | "do" | "donderdag" => Weekday::Thu,
        "fri" | "friday" | "vr" | "vrijdag" => Weekday::Fri,
        "sat" | "saturday" | "za" | "zaterdag" => Weekday::Sat,
        "sun" | "sunday" | "zo" | "zondag" => Weekday::Sun,
        _ => return None,
    })
}

/// Dutch name of a weekday.
pub fn dutch_day(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "maandag",
        Weekday::Tue => "dinsdag",
        Weekday::Wed => "woensdag",
        Weekday::Thu => "donderdag",
        Weekday::Fri => "vrijdag",
        Weekday::Sat => "zaterdag",
        Weekday::Sun => "zondag",
    }
}

/// The parsed request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PatrolParams {
    day: Weekday,
    from_hour: u32,
    to_hour: u32,
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
            day,
            from_hour,
            to_hour,
            top,
            cell_m,
        })
    }

    fn block(&self) -> Result<PatrolBlock, ApiError> {
        let end = if self.to_hour == 24 {
            (self.day.succ(), 0)
        } else if self.to_hour > self.from_hour {
            (self.day, self.to_hour)
        } else {
            (self.day.succ(), self.to_hour)
        };
        PatrolBlock::new((self.day, self.from_hour, 0), (end.0, end.1, 0))
            .map_err(|e| ApiError::param("to_hour", e.to_string()))
    }

    /// `vrijdag 20:00 - zaterdag 02:00`.
    fn dutch_label(&self) -> String {
        let end_day = if self.to_hour > self.from_hour && self.to_hour < 24 {
            self.day
        } else {
            self.day.succ()
        };
        format!(
            "{} {:02}:00 - {} {:02}:00",
            dutch_day(self.day),
            self.from_hour,
            dutch_day(end_day),
            self.to_hour % 24
        )
    }
}

/// What one patrol request computes.
pub struct PatrolResult {
    cells: Vec<PatrolCell>,
    used: u64,
    excluded: u64,
    total_score: f64,
    hours: f64,
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

/// Incident id -> BAG street name of the address-located incidents, read from the store once per generation.
type Streets = Arc<HashMap<i64, String>>;

fn streets(state: &AppState, snapshot: &Snapshot) -> Result<Streets, ApiError> {
    let key = StreetsKey {
        generation: snapshot.generation,
    };
    if let Some(m) = state.caches.get(&key) {
        return Ok(m);
    }
    let map = state.with_store(|s| s.incident_streets(&snapshot.tenant));
    let map = Arc::new(map.map_err(ApiError::internal)?);
    state.caches.insert(key, map.clone());
    Ok(map)
}

fn compute(
    state: &AppState,
    snapshot: Arc<Snapshot>,
    filter: &Filter,
    p: &PatrolParams,
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
    let streets = streets(state, &snapshot)?;
    let cfg = AoristicConfig::default();
    let mut weighted = Vec::new();
    let (mut used, mut excluded) = (0u64, 0u64);
    for k in snapshot.located_incidents(filter) {
        let inc = &snapshot.incidents[k as usize];
        let event = Event {
            x_m: inc.x_m,
            y_m: inc.y_m,
            begin: Some(inc.begin()),
            end: Some(inc.end()),
            weight: 1.0,
        };
        match patrol_block_share(&event, &block, &cfg).map_err(ApiError::internal)? {
            Some(share) => {
                used += 1;
                weighted.push(WeightedIncident {
                    x_m: inc.x_m,
                    y_m: inc.y_m,
                    share,
                    street: streets.get(&inc.id).map(String::as_str),
                });
            }
            None => excluded += 1,
        }
    }
    let total_score = weighted.iter().map(|w| w.share).sum();
    let result = Arc::new(PatrolResult {
        cells: rank_cells(&weighted, p.cell_m, p.top),
        used,
        excluded,
        total_score,
        hours: block.hours(),
    });
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

fn cell_label(cell: &BinId) -> String {
    cell.cbs_code().unwrap_or_else(|| cell.name())
}

async fn patrol(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?;
    let p = PatrolParams::parse(&params)?;
    // k when the caller sees protected counts.
    let protect_k = caller
        .principal
        .sees_protected_counts()
        .then(|| super::areas::min_count_for(&state, &filter));
    let html = match params.get("format").map(|f| f.trim().to_ascii_lowercase()) {
        None => false,
        Some(f) if f.is_empty() || f == "json" || f == "geojson" => false,
        Some(f) if f == "html" => true,
        Some(f) => {
            return Err(ApiError::param(
                "format",
                format!("onbekend formaat '{f}' (json of html)"),
            ))
        }
    };
    let st = state.clone();
    let (pp, ff) = (p.clone(), filter.clone());
    let snap = snapshot.clone();
    let result = tokio::task::spawn_blocking(move || compute(&st, snap, &ff, &pp))
        .await
        .map_err(ApiError::internal)??;
    let mut features = Vec::with_capacity(result.cells.len());
    let mut rows = Vec::with_capacity(result.cells.len());
    for c in &result.cells {
        let (ring, centre) = cell_geometry(&c.cell)?;
        let label = small_label(c.count, protect_k);
        let mut props = json!({
            "rank": c.rank,
            "score": if label.is_some() { json!(null) } else { json!(c.score) },
            "count": if label.is_some() { json!(null) } else { json!(c.count) },
            "count_label": label,
            "suppressed": label.is_some(),
            "cell": cell_label(&c.cell),
            "center": centre,
        });
        if let (Some(s), None) = (c.shown_street(protect_k), &label) {
            props["street"] = json!(s);
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
        return Ok(Html(render_html(
            &snapshot, &filter, &p, &result, &rows, protect_k,
        ))
        .into_response());
    }
    Ok(Json(json!({
        "type": "FeatureCollection",
        "block": {
            "day": format!("{}", p.day).to_ascii_lowercase(),
            "from_hour": p.from_hour,
            "to_hour": p.to_hour,
            "hours": result.hours,
            "label": p.dutch_label(),
        },
        "cell_m": p.cell_m,
        "incidents_used": result.used,
        "incidents_excluded": result.excluded,
        "total_score": result.total_score,
        "features": features,
    }))
    .into_response())
}

/// "< k" when `count` is in `1..k-1` and the caller sees protected counts (`protect_k`).
fn small_label(count: u64, protect_k: Option<u32>) -> Option<String> {
    protect_k
        .filter(|&k| count >= 1 && count < u64::from(k))
        .map(|k| format!("< {k}"))
}

fn render_html(
    snapshot: &Snapshot,
    filter: &Filter,
    p: &PatrolParams,
    result: &PatrolResult,
    rows: &[(&PatrolCell, [f64; 2])],
    protect_k: Option<u32>,
) -> String {
    let mut body = String::new();
    for (c, centre) in rows {
        let label = small_label(c.count, protect_k);
        let (street, score, count) = match &label {
            Some(l) => ("afgeschermd".to_string(), l.clone(), l.clone()),
            None => (
                match (c.shown_street(protect_k), &c.street) {
                    (Some(s), _) => s.to_string(),
                    (None, Some(_)) => "afgeschermd".to_string(),
                    (None, None) => "onbekend".to_string(),
                },
                fmt_nl(c.score, 1),
                c.count.to_string(),
            ),
        };
        body.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td>{}<br><small>{:.5}, {:.5}</small></td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"check\"></td></tr>\n",
            c.rank,
            html_escape(&cell_label(&c.cell)),
            centre[1],
            centre[0],
            html_escape(&street),
            html_escape(&score),
            html_escape(&count)
        ));
    }
    if rows.is_empty() {
        body.push_str("<tr><td colspan=\"6\">Geen incidenten in dit tijdsblok.</td></tr>\n");
    }
    let filter_text = {
        let q = filter.query_string();
        if q.is_empty() {
            "alle incidenten".to_string()
        } else {
            q.replace('&', ", ")
        }
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8">
<title>Surveillanceplanning {tenant} - {label}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.4em; margin-bottom: 0.2em; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 1em; }}
th, td {{ border: 1px solid #999; padding: 0.35em 0.5em; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
td.num {{ text-align: right; }}
td.check {{ width: 4em; }}
small {{ color: #555; }}
.meta {{ color: #444; }}
@media print {{
  body {{ margin: 0; font-size: 10pt; }}
  tr {{ page-break-inside: avoid; }}
  th {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
</style></head>
<body>
<h1>Surveillanceplanning {tenant}</h1>
<p class="meta">Tijdsblok: <strong>{label}</strong> ({hours} uur) &middot; cellen van {cell} m &middot; filter: {filter}<br>
Score = verwacht aantal incidenten in dit tijdsblok (aoristisch gewogen naar de tijdvensters van de incidenten);
{used} incidenten gebruikt, totale score {total}.</p>
<table>
<thead><tr><th>Rang</th><th>Cel (lat, lon)</th><th>Straat</th><th>Score</th><th>Incidenten</th><th>Bezocht</th></tr></thead>
<tbody>
{body}</tbody>
</table>
</body></html>
"#,
        tenant = html_escape(&snapshot.tenant_name),
        label = html_escape(&p.dutch_label()),
        hours = fmt_nl(result.hours, 0),
        cell = p.cell_m,
        filter = html_escape(&filter_text),
        used = result.used,
        total = fmt_nl(result.total_score, 1),
        body = body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(x: f64, y: f64, share: f64, street: Option<&str>) -> WeightedIncident<'_> {
        WeightedIncident {
            x_m: x,
            y_m: y,
            share,
            street,
        }
    }

    #[test]
    fn cells_are_ranked_by_summed_share() {
        let incidents = vec![
            w(150.0, 150.0, 0.5, Some("Brink")),
            w(160.0, 190.0, 0.25, Some("Dijk")),
            w(199.9, 100.0, 0.25, Some("Dijk")),
            w(250.0, 150.0, 0.9, None),
            w(350.0, 150.0, 0.0, Some("Laan")),
            w(f64::NAN, 150.0, 1.0, None),
        ];
        let cells = rank_cells(&incidents, 100, 10);
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0].cell, BinId::grid_cell(150.0, 150.0, 100).unwrap());
        assert!((cells[0].score - 1.0).abs() < 1e-12);
        assert_eq!(cells[0].count, 3);
        assert_eq!(cells[0].street.as_deref(), Some("Dijk"));
        assert_eq!(cells[1].rank, 2);
        assert_eq!(cells[1].street, None);
        assert_eq!(rank_cells(&incidents, 100, 1).len(), 1);
    }

    #[test]
    fn streets_are_shown_to_protected_callers_only_with_k_incidents_on_them() {
        let mut incidents = vec![w(10.0, 10.0, 1.0, Some("Dijk")); 5];
        incidents.extend(vec![w(20.0, 20.0, 1.0, Some("Markt")); 2]);
        incidents.push(w(30.0, 30.0, 1.0, None));
        let cells = rank_cells(&incidents, 100, 5);
        assert_eq!(cells.len(), 1);
        let c = &cells[0];
        assert_eq!(
            (c.count, c.street.as_deref(), c.street_count),
            (8, Some("Dijk"), 5)
        );
        assert_eq!(c.shown_street(None), Some("Dijk"));
        assert_eq!(c.shown_street(Some(5)), Some("Dijk"));
        assert_eq!(c.shown_street(Some(6)), None, "5 on the street, k = 6");
        assert_eq!(c.shown_street(Some(9)), None, "the cell itself is below k");
        let none = rank_cells(&[w(10.0, 10.0, 1.0, None)], 100, 5);
        assert_eq!(
            (none[0].shown_street(None), none[0].street_count),
            (None, 0)
        );
    }

    #[test]
    fn street_ties_go_to_the_alphabetically_first() {
        let incidents = vec![
            w(10.0, 10.0, 1.0, Some("Zuid")),
            w(20.0, 20.0, 1.0, Some("Akker")),
        ];
        assert_eq!(
            rank_cells(&incidents, 100, 5)[0].street.as_deref(),
            Some("Akker")
        );
    }

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
        assert_eq!(p.dutch_label(), "vrijdag 20:00 - zaterdag 02:00");
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
