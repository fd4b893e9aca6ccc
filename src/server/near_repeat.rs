//! `GET /api/near-repeat`: the near-repeat (Knox) test ([`crate::analysis::near_repeat`]) of the incidents that
//! match the common filters (`category`, `from`, `to`, `source`, `area`/`bbox`; without a study area the
//! tenant's gemeenten, as `/api/hotspots`). An incident's day is the day its window begins (the filters' rule);
//! incidents without a point are left out.
//!
//! Parameters (invalid values are 400 naming the parameter): `distance_bands` (metres, comma-separated, strictly
//! increasing, default `100,200,300,400`), `time_bands` (whole days, default `7,14,21,28`), `metric`
//! (`euclidean`|`manhattan`, default euclidean), `iterations` (19..=9999, default 999), `seed` (default 1),
//! `nrc_compatible` (`true`|`false`: single-precision distances as the Near Repeat Calculator). Fewer than two
//! incidents is a 400 naming `category` (the filter left too little).
//!
//! The answer is the table as `brandpunt analyse near-repeat --output F.json` writes it: settings, `events`,
//! `pairs`, `close_pairs`, row and column totals and `cells` (`distance_band`, `time_band`, `observed`,
//! `expected`, `ratio`, `p`, `expected_analytic`, `ratio_analytic`).
//!
//! Who may call it: users with the analyst or admin role ([`crate::access::Principal::unrestricted_surfaces`]).
//! Viewers and anonymous callers get 403. The table holds only pair counts, but on a small study area its
//! same-location row counts repeat incidents at single addresses. Its cells are tied together by the row and
//! column totals, which the exact expectations reveal. So withholding small cells would not protect them, and
//! complementary suppression of a Knox table would leave little to read.
//!
//! The test runs as a heavy analysis ([`super::heavy`]: bounded concurrency, 503 beyond the queue) on the
//! blocking pool with the request's cancellation token ([`super::blocking`]). It returns an aggregate, so it is
//! not written to the audit log (as `/api/hotspots`).

use super::error::ApiError;
use super::filter::Filter;
use super::AppState;
use super::Caller;
use crate::analysis::near_repeat::{
    knox, validate, KnoxParams, Metric, NearRepeatError, NearRepeatEvent,
};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/near-repeat", get(near_repeat))
}

/// A comma-separated list of bounds; the error names `parameter`.
fn bounds<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    parameter: &str,
    default: &str,
) -> Result<Vec<T>, ApiError> {
    let raw = params
        .get(parameter)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .unwrap_or(default);
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<T>()
                .map_err(|_| ApiError::param(parameter, format!("'{p}' is geen geldige grens")))
        })
        .collect()
}

fn number<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    parameter: &str,
    default: T,
) -> Result<T, ApiError> {
    match params
        .get(parameter)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .map_err(|_| ApiError::param(parameter, format!("'{v}' is geen geheel getal"))),
    }
}

/// The settings of a request; 400 naming the parameter.
pub fn parse_params(params: &HashMap<String, String>) -> Result<KnoxParams, ApiError> {
    let metric = match params
        .get("metric")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Metric::Euclidean,
        Some(v) => Metric::parse(v).ok_or_else(|| {
            ApiError::param("metric", format!("'{v}': kies euclidean of manhattan"))
        })?,
    };
    let nrc_compatible = match params
        .get("nrc_compatible")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::param(
                "nrc_compatible",
                format!("'{other}': true of false"),
            ))
        }
    };
    let p = KnoxParams {
        distance_bands_m: bounds(params, "distance_bands", "100,200,300,400")?,
        time_bands_days: bounds(params, "time_bands", "7,14,21,28")?,
        metric,
        iterations: number(params, "iterations", 999)?,
        seed: number(params, "seed", 1)?,
        nrc_compatible,
    };
    validate(&p, 2).map_err(api_error)?;
    Ok(p)
}

/// The core's refusal as a 400 naming the request parameter (too few events: the filter, named `category`).
fn api_error(e: NearRepeatError) -> ApiError {
    match e.parameter() {
        Some("events") => ApiError::param(
            "category",
            format!("het filter laat te weinig incidenten over: {e}"),
        ),
        Some(p) => ApiError::param(p, e.to_string()),
        None => ApiError::Cancelled,
    }
}

async fn near_repeat(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !caller.principal.unrestricted_surfaces() {
        return Err(ApiError::Forbidden(
            "de near-repeatanalyse is alleen voor analisten".into(),
        ));
    }
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?.within_gemeenten_by_default(&snapshot);
    let settings = parse_params(&params)?;
    let turn = state.heavy.enter().await?;
    let body = state
        .blocking
        .run(move |cancel| {
            let _turn = turn;
            let events: Vec<NearRepeatEvent> = snapshot
                .located_incidents(&filter)
                .into_iter()
                .map(|k| {
                    let inc = &snapshot.incidents[k as usize];
                    NearRepeatEvent {
                        x_m: inc.x_m,
                        y_m: inc.y_m,
                        day: inc.begin_min.div_euclid(24 * 60),
                    }
                })
                .collect();
            cancel.check()?;
            let table = knox(&events, &settings, cancel).map_err(api_error)?;
            serde_json::to_vec(&table).map_err(ApiError::internal)
        })
        .await?;
    Ok(super::analysis_api::json_body(Bytes::from(body)))
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
        let p = parse_params(&params(&[])).unwrap();
        assert_eq!(p.distance_bands_m, [100.0, 200.0, 300.0, 400.0]);
        assert_eq!(p.time_bands_days, [7, 14, 21, 28]);
        assert_eq!(
            (p.iterations, p.seed, p.metric),
            (999, 1, Metric::Euclidean)
        );
        for (k, v) in [
            ("distance_bands", "200,100"),
            ("distance_bands", "a"),
            ("time_bands", "0,7"),
            ("time_bands", "7,7"),
            ("iterations", "18"),
            ("iterations", "10000"),
            ("iterations", "x"),
            ("metric", "chebyshev"),
            ("seed", "-1"),
            ("nrc_compatible", "misschien"),
        ] {
            match parse_params(&params(&[(k, v)])) {
                Err(ApiError::BadRequest { parameter, .. }) => {
                    assert_eq!(parameter.as_deref(), Some(k), "{k}={v}")
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
    }
}
