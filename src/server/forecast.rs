//! `GET /api/forecast`: the grid forecast ([`crate::analysis::forecast`]) of the incidents that match the common
//! filters (`category`, `from`, `to`, `source`, `area`/`bbox`; without a study area the tenant's gemeenten, as
//! `/api/hotspots`), as `brandpunt analyse forecast` computes it.
//!
//! Parameters (invalid values are 400 naming the parameter, all checked before any work):
//! - `method=naive|kde|prospective|sepp` (default `prospective`, the map layer's method), `cell` (metres,
//!   25..=5000, default 125), `at` (the forecast day, `YYYY-MM-DD`: only incidents whose window begins before its
//!   00:00 are used; default [`default_at`], the day after the last day on which one of the tenant's incidents
//!   begins, so the answer never depends on the machine's date), `horizon` (days, 1..=366, default 7; reported);
//! - the method parameters of the command line: `days` (naive, kde, sepp: `N` or `all`; default 28, sepp all),
//!   `bandwidth` (kde, metres, default 200), `space_cells`, `time_weeks` (prospective, default 8 and 8),
//!   `iterations` (sepp, default 20), `corrected` (sepp, `true`|`false`);
//! - `top` (a percentage of the grid's cells, `0 < top <= 100`): answer only the cells whose risk is at least
//!   that of the cell at position `ceil(cells x top / 100)` in descending order, and above 0; cells tied with
//!   it are all included and counted in `top_cells` ([`top_threshold`]);
//! - `format=geojson|csv` (default geojson).
//!
//! The grid covers the study area's RD bounding box, snapped outwards to multiples of the cell (west/south
//! edge `floor(min / c) c`, east/north edge `floor(max / c) c + c`, the rule of the command line's default
//! extent; [`GridSpec::snapped_around`]), so the cost follows the study area. Only the incidents of the study
//! area are used; cells are not masked by its outline (as the KDE of `/api/hotspots`). A grid of more than
//! [`MAX_API_CELLS`] cells is a 400 naming `cell` with the smallest cell size that fits. A tenant without incidents
//! (no default `at`, nothing to bound a grid with) gets an empty answer, not an error (as `/api/hotspots`).
//!
//! GeoJSON: a FeatureCollection (WGS84) with `method`, `at`, `horizon_days`, `cell_m`, `grid` (`minx_m`,
//! `miny_m`, `ncols`, `nrows`: the command line's `--extent` for the same grid is `extent_rd`), `cells`,
//! `events_used`, `total_risk`, `top_percent`, `top_cells`, `threshold` and for sepp its fitted parameters
//! (`sepp`); one square polygon per cell with risk > 0 (with `top`: per top cell), ordered by rank, with `risk`,
//! `rank` (1 = highest; tied cells share the lowest rank), `share` (of the total risk of the grid), `x_m`, `y_m`
//! (RD centre), `center` (`[lon, lat]`) and, with `top`, `street`: for the first [`STREET_CELLS`] cells in rank
//! order, the most common BAG street among the address-located ones of the cell's latest [`STREET_SAMPLE`]
//! incidents before `at` (ties alphabetical), or else `street_note`: why there is none (no address among those
//! incidents, too few incidents to show a street, no incidents before `at`, or ranked below the named cells).
//! So the streets cost at most [`STREET_CELLS`] x [`STREET_SAMPLE`] incident reads, whatever the grid. CSV: `x`, `y` (cell centre, RD) and `risk`, every
//! cell south row first (the command line's `.csv`), with `top` only the top cells in that order.
//!
//! Who may call it, and what viewers get: everyone who may read the tenant's map, with the limits of the hot
//! spot surfaces of `/api/hotspots` for callers without address-level rights ([`Principal::unrestricted_surfaces`]):
//! the cell at least [`VIEWER_MIN_CELL_M`], the kde bandwidth at least [`VIEWER_MIN_BANDWIDTH_M`] (the values
//! used are reported). Forecast cells are model intensities on a grid, like the KDE cells viewers get. The
//! `naive` method's risk is a plain count of incidents per cell, so for callers who see protected counts a cell
//! with a count in `1..k-1` gets `risk` and `share` `null`, `count_label` "< k" and `suppressed: true` (CSV: an
//! empty `risk`), as the patrol cells; a `street` is shown to those callers only when the cell holds at least k
//! incidents and at least k of them lie on that street ([`crate::publish::shown_street`]'s rule).
//!
//! The forecast runs as a heavy analysis ([`super::heavy`]) on the blocking pool with the request's
//! cancellation token ([`super::blocking`]). It is an aggregate, so it is not written to the audit log (as
//! `/api/hotspots`); it is not cached (it is computed from the snapshot in well under a second on a city).

use super::error::ApiError;
use super::filter::{parse_date, Filter};
use super::AppState;
use super::Caller;
use crate::access::{Principal, VIEWER_MIN_BANDWIDTH_M, VIEWER_MIN_CELL_M};
use crate::analysis::forecast::{
    forecast, prospective, sepp, Forecast, ForecastError, GridSpec, Method, Window,
};
use crate::analysis::Event;
use crate::cancel::Cancel;
use crate::dataset::Snapshot;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{Duration, NaiveDate, NaiveTime};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest grid the API computes (a national 125 m grid over the Netherlands' bounding box has ~5.7 M cells).
pub const MAX_API_CELLS: usize = 8_000_000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/forecast", get(api_forecast))
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastParams {
    pub method: Method,
    pub cell_m: f64,
    /// `None`: [`default_at`].
    pub at: Option<NaiveDate>,
    pub horizon_days: u32,
    /// Percentage of the grid's cells to answer; `None`: every cell.
    pub top_percent: Option<f64>,
    pub csv: bool,
}

/// The value of query parameter `name`, trimmed; `None` when absent or empty.
pub(super) fn given<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn real(params: &HashMap<String, String>, name: &str, default: f64) -> Result<f64, ApiError> {
    match given(params, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| ApiError::param(name, format!("'{v}' is geen getal"))),
    }
}

/// A whole number in `min..=max`.
fn whole(
    params: &HashMap<String, String>,
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let n = match given(params, name) {
        None => default,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| ApiError::param(name, format!("'{v}' is geen geheel getal")))?,
    };
    if !(min..=max).contains(&n) {
        return Err(ApiError::param(
            name,
            format!("{n}: kies {min} tot en met {max}"),
        ));
    }
    Ok(n)
}

/// `days`: `N` (>= 1) or `all`.
fn window(params: &HashMap<String, String>, default: Window) -> Result<Window, ApiError> {
    let Some(v) = given(params, "days") else {
        return Ok(default);
    };
    if v.eq_ignore_ascii_case("all") || v.eq_ignore_ascii_case("alles") {
        return Ok(Window::All);
    }
    match v.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(Window::Days(n)),
        _ => Err(ApiError::param(
            "days",
            format!("'{v}': geef een aantal dagen (>= 1) of 'all'"),
        )),
    }
}

impl ForecastParams {
    /// From the query parameters; 400 naming the parameter.
    pub fn parse(params: &HashMap<String, String>) -> Result<ForecastParams, ApiError> {
        let space_cells = whole(params, "space_cells", 8, 1, prospective::MAX_SPACE_CELLS)?;
        let time_weeks = whole(params, "time_weeks", 8, 1, prospective::MAX_TIME_WEEKS)?;
        let iterations = whole(params, "iterations", 20, 1, sepp::MAX_ITERATIONS)?;
        let corrected = match given(params, "corrected").map(str::to_ascii_lowercase) {
            None => false,
            Some(v) if v == "false" || v == "0" => false,
            Some(v) if v == "true" || v == "1" => true,
            Some(v) => {
                return Err(ApiError::param(
                    "corrected",
                    format!("'{v}': true of false"),
                ))
            }
        };
        let bandwidth_m = real(params, "bandwidth", 200.0)?;
        if !(bandwidth_m > 0.0 && bandwidth_m <= 20_000.0) {
            return Err(ApiError::param(
                "bandwidth",
                format!("bandbreedte {bandwidth_m} m: kies meer dan 0 en hoogstens 20000 meter"),
            ));
        }
        let name = given(params, "method")
            .unwrap_or("prospective")
            .to_ascii_lowercase();
        let method = match name.as_str() {
            "naive" => Method::Naive {
                window: window(params, Window::Days(28))?,
            },
            "kde" => Method::Kde {
                window: window(params, Window::Days(28))?,
                bandwidth_m,
            },
            "prospective" => Method::Prospective {
                space_cells,
                time_weeks,
            },
            "sepp" => Method::Sepp {
                window: window(params, Window::All)?,
                iterations,
                corrected,
            },
            other => {
                return Err(ApiError::param(
                    "method",
                    format!("'{other}': kies naive, kde, prospective of sepp"),
                ))
            }
        };
        let cell_m = real(params, "cell", 125.0)?;
        if !(25.0..=5000.0).contains(&cell_m) {
            return Err(ApiError::param(
                "cell",
                format!("celgrootte {cell_m} m: kies 25 t/m 5000 meter"),
            ));
        }
        let at = given(params, "at")
            .map(|v| parse_date("at", v))
            .transpose()?;
        let horizon_days = whole(params, "horizon", 7, 1, 366)?;
        let top_percent = match given(params, "top") {
            None => None,
            Some(v) => Some(
                v.trim_end_matches('%')
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| *p > 0.0 && *p <= 100.0)
                    .ok_or_else(|| {
                        ApiError::param(
                            "top",
                            format!("'{v}': geef een percentage van de cellen, meer dan 0 en hoogstens 100"),
                        )
                    })?,
            ),
        };
        let csv = match given(params, "format").map(str::to_ascii_lowercase) {
            None => false,
            Some(f) if f == "geojson" || f == "json" => false,
            Some(f) if f == "csv" => true,
            Some(f) => {
                return Err(ApiError::param(
                    "format",
                    format!("onbekend formaat '{f}' (geojson of csv)"),
                ))
            }
        };
        Ok(ForecastParams {
            method,
            cell_m,
            at,
            horizon_days,
            top_percent,
            csv,
        })
    }

    /// These parameters within the limits of `principal` (see the module docs): unchanged for analysts and
    /// admins; otherwise the cell at least [`VIEWER_MIN_CELL_M`] and the kde bandwidth at least
    /// [`VIEWER_MIN_BANDWIDTH_M`].
    pub fn limited(mut self, principal: &Principal) -> ForecastParams {
        if principal.unrestricted_surfaces() {
            return self;
        }
        self.cell_m = self.cell_m.max(VIEWER_MIN_CELL_M);
        if let Method::Kde { bandwidth_m, .. } = &mut self.method {
            *bandwidth_m = bandwidth_m.max(VIEWER_MIN_BANDWIDTH_M);
        }
        self
    }
}

/// The forecast day when `at` is not given: the day after the last day on which one of the tenant's incidents
/// begins (whatever the filter), `None` when the tenant has no incidents.
pub fn default_at(snapshot: &Snapshot) -> Option<NaiveDate> {
    snapshot.last_day.and_then(|d| d.succ_opt())
}

/// The grid over `extent` (RD) snapped outwards to multiples of `cell_m`; 400 naming `cell` when it has more
/// than [`MAX_API_CELLS`] cells, with the smallest cell size that fits.
pub fn grid_over(extent: geo_types::Rect<f64>, cell_m: f64) -> Result<GridSpec, ApiError> {
    let too_large = || {
        let area_m2 = extent.width().max(cell_m) * extent.height().max(cell_m);
        let smallest = ((area_m2 / MAX_API_CELLS as f64).sqrt() * 1.01).ceil() + 1.0;
        ApiError::param(
            "cell",
            format!(
                "cel {cell_m} m geeft te veel cellen in het studiegebied (hoogstens {MAX_API_CELLS}): kies cell={smallest} of groter, of een kleiner gebied (area, bbox)"
            ),
        )
    };
    let spec = GridSpec::snapped_around(
        crate::analysis::kde::Extent {
            minx_m: extent.min().x,
            miny_m: extent.min().y,
            maxx_m: extent.max().x,
            maxy_m: extent.max().y,
        },
        cell_m,
    )
    .map_err(|e| match e {
        ForecastError::TooManyCells { .. } => too_large(),
        e => ApiError::param("area", e.to_string()),
    })?;
    if spec.len() > MAX_API_CELLS {
        return Err(too_large());
    }
    Ok(spec)
}

/// The risk a cell needs to be in the top `percent` % of `values` (see the module docs): the value at
/// position `ceil(len x percent / 100)` (at least 1) in descending order, or the smallest positive value when
/// fewer cells have risk; `None` when no cell has risk > 0.
pub fn top_threshold(values: &[f64], percent: f64) -> Option<f64> {
    let mut positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
    if positive.is_empty() {
        return None;
    }
    positive.sort_by(|a, b| b.total_cmp(a));
    let k = ((values.len() as f64 * percent / 100.0).ceil() as usize).max(1);
    Some(positive[k.min(positive.len()) - 1])
}

/// The cells to answer (flat indices) ordered by risk descending (then index), with their rank (1 = highest;
/// tied cells share the lowest rank): every cell with risk > 0, or only those at or above `threshold`.
pub fn ranked_cells(values: &[f64], threshold: Option<f64>) -> Vec<(usize, usize)> {
    let floor = threshold.unwrap_or(f64::MIN_POSITIVE);
    let mut cells: Vec<usize> = (0..values.len())
        .filter(|&k| values[k] > 0.0 && values[k] >= floor)
        .collect();
    cells.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let mut out = Vec::with_capacity(cells.len());
    let mut rank = 0;
    for (i, &k) in cells.iter().enumerate() {
        if i == 0 || values[k] != values[cells[i - 1]] {
            rank = i + 1;
        }
        out.push((k, rank));
    }
    out
}

/// The incidents of a forecast cell before `at` and its most common street with the incidents on it.
#[derive(Clone, Debug, Default, PartialEq)]
struct CellStreet {
    incidents: u64,
    street: Option<(String, u64)>,
}

/// How many of an answer's cells get a street: the highest-ranked ones, in rank order. A street is for finding
/// a cell on patrol, and reading the streets of every top cell of a national grid would cost the whole tenant.
pub const STREET_CELLS: usize = 500;

/// How many of a named cell's incidents before `at`, the latest ones, its street is taken from.
pub const STREET_SAMPLE: usize = 64;

/// Why a forecast cell names no street: it ranks below the first [`STREET_CELLS`] cells.
pub const BEYOND_STREET_CELLS: &str =
    "geen straatnaam: alleen de 500 cellen met het hoogste risico krijgen er een";

/// Per cell among the first [`STREET_CELLS`] of `cells` (rank order) that had incidents before `at`: their
/// number, and the most common street, with its count, among the address-located ones of its latest
/// [`STREET_SAMPLE`] incidents (by begin, then id; street ties alphabetical). Only the sampled incidents'
/// streets are read from the store.
fn cell_streets(
    state: &AppState,
    tenant: &str,
    events: &[(Event, i64)],
    spec: &GridSpec,
    cells: &[(usize, usize)],
    at: chrono::NaiveDateTime,
    cancel: &Cancel,
) -> Result<HashMap<usize, CellStreet>, ApiError> {
    let wanted: std::collections::HashSet<usize> =
        cells.iter().take(STREET_CELLS).map(|(k, _)| *k).collect();
    // Per named cell: its incidents before `at` (begin, id); then only the latest ones are kept.
    let mut per: HashMap<usize, Vec<(chrono::NaiveDateTime, i64)>> = HashMap::new();
    for (i, (e, id)) in events.iter().enumerate() {
        if i % 65_536 == 0 {
            cancel.check()?;
        }
        let Some(begin) = e.begin.filter(|b| *b < at) else {
            continue;
        };
        if let Some(k) = spec.cell_of(e.x_m, e.y_m).filter(|k| wanted.contains(k)) {
            per.entry(k).or_default().push((begin, *id));
        }
    }
    let per: HashMap<usize, (u64, Vec<i64>)> = per
        .into_iter()
        .map(|(k, mut found)| {
            let n = found.len() as u64;
            if found.len() > STREET_SAMPLE {
                found.select_nth_unstable_by(STREET_SAMPLE - 1, |a, b| b.cmp(a));
                found.truncate(STREET_SAMPLE);
            }
            (k, (n, found.into_iter().map(|(_, id)| id).collect()))
        })
        .collect();
    let ids: Vec<i64> = per
        .values()
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    let streets = super::patrol::street_names(state, tenant, &ids, cancel)?;
    Ok(per
        .into_iter()
        .map(|(k, (n, ids))| {
            let mut by_street: HashMap<&str, u64> = HashMap::new();
            for s in ids.iter().filter_map(|id| streets.get(id)) {
                *by_street.entry(s.as_str()).or_default() += 1;
            }
            let best = by_street
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(s, c)| (s.to_string(), c));
            (
                k,
                CellStreet {
                    incidents: n,
                    street: best,
                },
            )
        })
        .collect())
}

/// The core's refusal as an API error naming the request parameter (`--space-cells` -> `space_cells`);
/// `context` follows "het filter laat te weinig incidenten over" (e.g. " voor sepp").
pub(super) fn api_error(e: ForecastError, context: &str) -> ApiError {
    match e {
        ForecastError::Cancelled(_) => ApiError::Cancelled,
        ForecastError::TooFewEvents(_) => ApiError::param(
            "category",
            format!("het filter laat te weinig incidenten over{context}: {e}"),
        ),
        ForecastError::InvalidParameter { parameter, reason } => {
            ApiError::param(&parameter.trim_start_matches('-').replace('-', "_"), reason)
        }
        e => ApiError::internal(e),
    }
}

/// What one request computed.
struct Answer {
    params: ForecastParams,
    at: NaiveDate,
    forecast: Forecast,
    threshold: Option<f64>,
    /// Sum of the risk of every cell.
    total: f64,
    cells: Vec<(usize, usize)>,
    streets: HashMap<usize, CellStreet>,
}

fn compute(
    state: &AppState,
    snapshot: &Snapshot,
    filter: &Filter,
    params: ForecastParams,
    at: NaiveDate,
    spec: GridSpec,
    cancel: &Cancel,
) -> Result<Answer, ApiError> {
    let located = snapshot.located_incidents(filter);
    cancel.check()?;
    let tagged: Vec<(Event, i64)> = located
        .iter()
        .map(|&k| {
            let inc = &snapshot.incidents[k as usize];
            (inc.event(), inc.id)
        })
        .collect();
    let events: Vec<Event> = tagged.iter().map(|(e, _)| e.clone()).collect();
    let at_t = at.and_time(NaiveTime::MIN);
    let f = forecast(&events, &spec, at_t, &params.method, cancel)
        .map_err(|e| api_error(e, &format!(" voor {}", params.method.name())))?;
    let threshold = params
        .top_percent
        .and_then(|p| top_threshold(&f.grid.values, p));
    let cells = match params.top_percent {
        Some(_) if threshold.is_none() => Vec::new(),
        _ => ranked_cells(&f.grid.values, threshold),
    };
    let streets = if params.top_percent.is_some() && !params.csv {
        cell_streets(
            state,
            &snapshot.tenant,
            &tagged,
            &spec,
            &cells,
            at_t,
            cancel,
        )?
    } else {
        HashMap::new()
    };
    Ok(Answer {
        params,
        at,
        total: f.grid.values.iter().sum(),
        forecast: f,
        threshold,
        cells,
        streets,
    })
}

/// Why a forecast cell names no street: it had no incidents before `at` (its risk comes from its neighbours or
/// the model's background).
pub const NO_INCIDENTS: &str = "geen eerdere incidenten in deze cel";

/// The "< k" label of a naive count for callers who see protected counts.
fn small_label(method: &Method, risk: f64, protect_k: Option<u32>) -> Option<String> {
    match (method, protect_k) {
        (Method::Naive { .. }, Some(k)) => crate::publish::small_count_label(risk as u64, k),
        _ => None,
    }
}

/// Writes the CSV answer (see the module docs) into `w`.
fn write_csv(
    w: &mut impl std::io::Write,
    a: &Answer,
    protect_k: Option<u32>,
) -> Result<(), ApiError> {
    let spec = &a.forecast.grid.spec;
    let values = &a.forecast.grid.values;
    let mut w = csv::Writer::from_writer(w);
    w.write_record(["x", "y", "risk"])
        .map_err(ApiError::internal)?;
    let mut row = |k: usize| -> Result<(), ApiError> {
        let (x, y) = spec.centre_m(k);
        let v = values[k];
        let risk = match small_label(&a.params.method, v, protect_k) {
            Some(_) => String::new(),
            None => v.to_string(),
        };
        w.write_record([x.to_string(), y.to_string(), risk])
            .map_err(ApiError::internal)
    };
    if a.params.top_percent.is_some() {
        let mut top: Vec<usize> = a.cells.iter().map(|(k, _)| *k).collect();
        top.sort_unstable();
        for k in top {
            row(k)?;
        }
    } else {
        for k in 0..values.len() {
            row(k)?;
        }
    }
    w.flush().map_err(ApiError::internal)
}

/// The members of the GeoJSON answer before its features.
fn geojson_head(a: &Answer) -> Result<serde_json::Map<String, Value>, ApiError> {
    let f = &a.forecast;
    let spec = &f.grid.spec;
    let extent = spec.extent();
    let mut head = json!({
        "type": "FeatureCollection",
        "method": a.params.method.name(),
        "at": a.at,
        "horizon_days": a.params.horizon_days,
        "forecast_until": a.at + Duration::days(i64::from(a.params.horizon_days) - 1),
        "cell_m": spec.cell_m,
        "grid": {"minx_m": spec.minx_m, "miny_m": spec.miny_m, "ncols": spec.ncols, "nrows": spec.nrows},
        "extent_rd": [extent.minx_m, extent.miny_m, extent.maxx_m, extent.maxy_m],
        "cells": spec.len(),
        "events_used": f.events_used,
        "total_risk": a.total,
        "top_percent": a.params.top_percent,
        "top_cells": a.params.top_percent.map(|_| a.cells.len()),
        "threshold": a.threshold,
    });
    if let Some(fit) = &f.sepp {
        head["sepp"] = serde_json::to_value(fit).map_err(ApiError::internal)?;
    }
    match head {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::internal("forecast head is no object")),
    }
}

/// The GeoJSON feature (WGS84 square) of cell `k` with rank `rank`.
fn cell_feature(a: &Answer, position: usize, protect_k: Option<u32>) -> Result<Value, ApiError> {
    let (k, rank) = a.cells[position];
    let spec = &a.forecast.grid.spec;
    let h = spec.cell_m / 2.0;
    let (x, y) = spec.centre_m(k);
    let risk = a.forecast.grid.values[k];
    let (ring, centre) = crate::coords::with_thread_transformer(|t| -> Result<_, ApiError> {
        let deg = |x: f64, y: f64| -> Result<[f64; 2], ApiError> {
            let (lon, lat) = t.rd_to_wgs84(x, y).map_err(ApiError::internal)?;
            Ok([
                crate::export::geojson::round_degrees(lon),
                crate::export::geojson::round_degrees(lat),
            ])
        };
        let ring = vec![
            deg(x - h, y - h)?,
            deg(x + h, y - h)?,
            deg(x + h, y + h)?,
            deg(x - h, y + h)?,
            deg(x - h, y - h)?,
        ];
        Ok((ring, deg(x, y)?))
    })
    .map_err(ApiError::internal)??;
    let label = small_label(&a.params.method, risk, protect_k);
    let mut props = json!({
        "rank": rank,
        "risk": if label.is_some() { Value::Null } else { json!(risk) },
        "share": if label.is_some() || a.total <= 0.0 { Value::Null } else { json!(risk / a.total) },
        "suppressed": label.is_some(),
        "count_label": label,
        "x_m": x,
        "y_m": y,
        "center": centre,
    });
    if a.params.top_percent.is_some() {
        match a.streets.get(&k) {
            Some(CellStreet {
                incidents: n,
                street: Some((street, on_street)),
            }) => {
                // `crate::publish::shown_street`'s rule: never a street pointing at fewer than k incidents.
                let shown =
                    protect_k.is_none_or(|k| *n >= u64::from(k) && *on_street >= u64::from(k));
                if shown && label.is_none() {
                    props["street"] = json!(street);
                } else {
                    props["street_note"] = json!(super::patrol::TOO_FEW_FOR_STREET);
                }
            }
            Some(_) => props["street_note"] = json!(super::patrol::NO_ADDRESS),
            None if position >= STREET_CELLS => props["street_note"] = json!(BEYOND_STREET_CELLS),
            None => props["street_note"] = json!(NO_INCIDENTS),
        }
    }
    Ok(json!({
        "type": "Feature",
        "id": k,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": props,
    }))
}

/// The answer when there is nothing to forecast: an empty FeatureCollection, or a CSV of only its header.
fn empty_answer(p: &ForecastParams) -> Response {
    if p.csv {
        return (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            "x,y,risk\n",
        )
            .into_response();
    }
    let body = json!({
        "type": "FeatureCollection",
        "method": p.method.name(),
        "at": p.at,
        "horizon_days": p.horizon_days,
        "cells": 0,
        "events_used": 0,
        "top_percent": p.top_percent,
        "top_cells": p.top_percent.map(|_| 0),
        "features": [],
    });
    (
        [(header::CONTENT_TYPE, "application/geo+json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /api/forecast` (see the module docs).
async fn api_forecast(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?.within_gemeenten_by_default(&snapshot);
    let p = ForecastParams::parse(&params)?.limited(&caller.principal);
    // The size limit, on the study area's extent (else the extent of the tenant's incidents), before any work.
    let extent = filter
        .study
        .as_ref()
        .map(|s| s.bbox_rd)
        .or_else(|| snapshot.incident_bounds_rd());
    let (Some(at), Some(extent)) = (p.at.or_else(|| default_at(&snapshot)), extent) else {
        // No incidents (no default day) or nothing to bound a grid with: nothing to forecast.
        return Ok(empty_answer(&p));
    };
    let spec = grid_over(extent, p.cell_m)?;
    let protect_k = caller
        .principal
        .sees_protected_counts()
        .then(|| state.policy.k_for(&filter.category_codes));
    let turn = state.heavy.enter().await?;
    let st = state.clone();
    let (answer, turn) = state
        .blocking
        .run(move |cancel| {
            let answer = compute(&st, &snapshot, &filter, p, at, spec, cancel)?;
            Ok((answer, turn))
        })
        .await?;
    // The body can be large (every cell of a national grid): written as it is made (`super::streaming`).
    if answer.params.csv {
        return Ok(super::streaming::streamed(
            "text/csv; charset=utf-8",
            move |w| {
                let _turn = turn;
                write_csv(w, &answer, protect_k)
            },
        ));
    }
    let head = geojson_head(&answer)?;
    Ok(super::streaming::streamed(
        "application/geo+json",
        move |w| {
            let _turn = turn;
            let mut positions = 0..answer.cells.len();
            super::streaming::write_feature_collection(w, &head, || {
                positions
                    .next()
                    .map(|position| cell_feature(&answer, position, protect_k))
                    .transpose()
            })
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_refusals_name_the_parameter() {
        let p = ForecastParams::parse(&params(&[])).unwrap();
        assert_eq!(
            p.method,
            Method::Prospective {
                space_cells: 8,
                time_weeks: 8
            }
        );
        assert_eq!(
            (p.cell_m, p.horizon_days, p.top_percent, p.csv),
            (125.0, 7, None, false)
        );
        let p = ForecastParams::parse(&params(&[
            ("method", "kde"),
            ("days", "all"),
            ("top", "5%"),
        ]))
        .unwrap();
        assert_eq!(
            p.method,
            Method::Kde {
                window: Window::All,
                bandwidth_m: 200.0
            }
        );
        assert_eq!(p.top_percent, Some(5.0));
        for (k, v) in [
            ("method", "magic"),
            ("cell", "10"),
            ("cell", "x"),
            ("at", "gisteren"),
            ("horizon", "0"),
            ("days", "0"),
            ("bandwidth", "-1"),
            ("space_cells", "0"),
            ("time_weeks", "1000"),
            ("iterations", "0"),
            ("corrected", "misschien"),
            ("top", "0"),
            ("top", "101"),
            ("format", "xml"),
        ] {
            let mut q = params(&[(k, v)]);
            if k == "days" {
                q.insert("method".into(), "naive".into());
            }
            match ForecastParams::parse(&q) {
                Err(ApiError::BadRequest { parameter, .. }) => {
                    assert_eq!(parameter.as_deref(), Some(k), "{k}={v}")
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
    }

    #[test]
    fn top_includes_and_counts_ties_at_the_threshold() {
        // 20 cells: 5 % is one cell, but two share the highest risk.
        let mut values = vec![0.0; 20];
        values[3] = 4.0;
        values[7] = 4.0;
        values[9] = 1.0;
        assert_eq!(top_threshold(&values, 5.0), Some(4.0));
        let top = ranked_cells(&values, top_threshold(&values, 5.0));
        assert_eq!(top, vec![(3, 1), (7, 1)]);
        // 50 % is ten cells, but only three have risk.
        let all = ranked_cells(&values, top_threshold(&values, 50.0));
        assert_eq!(all, vec![(3, 1), (7, 1), (9, 3)]);
        assert_eq!(top_threshold(&[0.0; 4], 10.0), None);
    }

    #[test]
    fn the_grid_follows_the_study_area_and_refuses_too_many_cells() {
        let city = geo_types::Rect::new((120_010.0, 480_060.0), (130_000.0, 489_990.0));
        let g = grid_over(city, 125.0).unwrap();
        assert_eq!((g.minx_m, g.miny_m), (120_000.0, 480_000.0));
        assert_eq!((g.ncols, g.nrows), (81, 80));
        let country = geo_types::Rect::new((13_000.0, 306_000.0), (278_000.0, 620_000.0));
        grid_over(country, 125.0).unwrap();
        let err = grid_over(country, 25.0).unwrap_err();
        let ApiError::BadRequest { parameter, message } = err else {
            panic!("{err:?}")
        };
        assert_eq!(parameter.as_deref(), Some("cell"));
        let smallest: f64 = message
            .split("kies cell=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        grid_over(country, smallest).unwrap();
    }
}
