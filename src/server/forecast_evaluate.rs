//! `GET /api/forecast/evaluate`: how well do the forecasts of `/api/forecast` predict? The rolling-origin
//! backtest of [`crate::analysis::forecast::rolling::backtest`], the same call as `brandpunt analyse evaluate
//! --folds`, on the incidents that match the common filters (`category`, `from`, `to`, `source`, `area`/`bbox`;
//! without a study area the tenant's gemeenten) and on the grid `/api/forecast` uses for them
//! ([`super::forecast::grid_over`]: the study area's bounding box snapped outwards to multiples of the cell).
//!
//! Parameters (invalid values are 400 naming the parameter, all checked before any work):
//! - `folds` (1..=[`MAX_API_FOLDS`], default 12), `horizon` (days of each test window, 1..=366, default 7),
//!   `until` (last day of the last test window, `YYYY-MM-DD`; default the last day on which one of the tenant's
//!   incidents begins, the day before `/api/forecast`'s default `at`: never the machine's date);
//! - `methods` (comma-separated `naive`, `kde`, `prospective`, `sepp`; the first is the baseline; default
//!   `naive,kde,prospective,sepp`), `coverages` (percentages of the grid's cells, `0 < c <= 100`, at most
//!   [`MAX_COVERAGES`]; default `1,3,5,10`), `cell` (metres, 25..=5000, default 125);
//! - the method parameters of `/api/forecast` (`days`, `bandwidth`, `space_cells`, `time_weeks`, `iterations`,
//!   `corrected`); `days` is also the RRI's training period (28 for `all` or when absent), as on the command line;
//! - `format=json|csv` (default json).
//!
//! The work is bounded before it starts: `cells x methods x folds` grid forecasts of at most
//! [`MAX_CELL_FORECASTS`] cells; beyond that a 400 names `cell` (when one fold is already too much) or `folds`
//! (with the most folds that fit).
//!
//! JSON: `baseline`, `until`, `origins` (the folds' first days, oldest first), `horizon_days`, `cell_m`, `grid`,
//! `extent_rd` (the command line's `--extent` for the same grid), `cells`, `events_used` (the filtered located
//! incidents), `coverages`, `alpha` (0.05), `tie_rule`, `test` (the test's description) and `methods`: per method
//! `{method, coverages: [{coverage_pct, folds: [{origin, cells, test_events, hits, hit_rate, pai, pei, rri}],
//! scored_folds, mean: {hit_rate, pai, pei, rri}, test: {statistic, pairs, p} | null, verdict}]}`. The test is the
//! one-sided paired sign-flip test of the per-fold hit rates against the baseline; `statistic` is the mean
//! paired difference of the hit rates. `verdict` is `beter dan tellen` only when `p < 0.05`, else `niet beter dan
//! tellen`; the baseline itself is `referentie`. Ties at a coverage's threshold count as fractional hits
//! (`tie_rule`). CSV: the command line's table ([`crate::export::rolling`]).
//!
//! Who may call it, and what viewers get: everyone who may read the tenant's map, with `/api/forecast`'s limits
//! for callers without address-level rights (the cell at least [`crate::access::VIEWER_MIN_CELL_M`], the kde
//! bandwidth at least [`crate::access::VIEWER_MIN_BANDWIDTH_M`]; the values used are reported). The answer is an
//! aggregate score over weeks and the whole study area, but its per-fold `test_events` and `hits` are counts of
//! incidents: callers who see protected counts get them `null` in every fold, and the fold's rates too
//! (`suppressed: true`, `count_label` "< k") when its test window holds fewer than k incidents. The means and the
//! test are computed over all folds (rates, no counts). CSV for those callers: the same cells empty.
//!
//! Runs as a heavy analysis ([`super::heavy`]) on the blocking pool with the request's cancellation token
//! ([`super::blocking`]); every forecast checks it. Not cached, not audited (an aggregate, as `/api/forecast`).

use super::error::ApiError;
use super::filter::{parse_date, Filter};
use super::forecast::{given, grid_over, ForecastParams};
use super::AppState;
use super::Caller;
use crate::analysis::forecast::rolling::{
    backtest, rri_days, Backtest, MethodSummary, RollingEvaluation, ALPHA, TIE_RULE,
};
use crate::analysis::forecast::{GridSpec, Method, Window};
use crate::analysis::Event;
use crate::dataset::Snapshot;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Most folds the API computes (two years of weeks).
pub const MAX_API_FOLDS: u32 = 104;
/// Most coverages per request.
pub const MAX_COVERAGES: usize = 10;
/// Most grid cells forecast over all folds and methods (`cells x methods x folds`).
pub const MAX_CELL_FORECASTS: usize = 50_000_000;
/// The method names the API knows, in their default order.
pub const METHODS: [&str; 4] = ["naive", "kde", "prospective", "sepp"];
/// The verdict of the baseline.
pub const BASELINE_VERDICT: &str = "referentie";
/// How the test is described in the answer.
pub const TEST_DESCRIPTION: &str = "eenzijdige gepaarde tekenwisseltoets op de treffersratio per fold tegen de referentie; beter dan tellen alleen bij p < 0,05";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/forecast/evaluate", get(api_evaluate))
}

/// A parsed request (before the grid and `until` are resolved).
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluateParams {
    pub folds: u32,
    pub horizon_days: u32,
    /// `None`: the tenant's last incident day.
    pub until: Option<NaiveDate>,
    pub methods: Vec<(String, Method)>,
    pub coverages_pct: Vec<f64>,
    pub cell_m: f64,
    pub rri_days: u32,
    pub csv: bool,
}

impl EvaluateParams {
    /// From the query parameters, within the limits of `principal`; 400 naming the parameter.
    pub fn parse(
        params: &HashMap<String, String>,
        principal: &crate::access::Principal,
    ) -> Result<EvaluateParams, ApiError> {
        let folds = match given(params, "folds") {
            None => 12,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_API_FOLDS).contains(n))
                .ok_or_else(|| {
                    ApiError::param("folds", format!("'{v}': kies 1 tot en met {MAX_API_FOLDS}"))
                })?,
        };
        let until = given(params, "until")
            .map(|v| parse_date("until", v))
            .transpose()?;
        let coverages_pct: Vec<f64> = given(params, "coverages")
            .unwrap_or("1,3,5,10")
            .split(',')
            .map(|c| {
                let c = c.trim().trim_end_matches('%').trim();
                c.parse::<f64>()
                    .ok()
                    .filter(|v| *v > 0.0 && *v <= 100.0)
                    .ok_or_else(|| {
                        ApiError::param(
                            "coverages",
                            format!("'{c}': geef percentages van de cellen, meer dan 0 en hoogstens 100"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        if coverages_pct.len() > MAX_COVERAGES {
            return Err(ApiError::param(
                "coverages",
                format!("hoogstens {MAX_COVERAGES} percentages"),
            ));
        }
        let names: Vec<String> = given(params, "methods")
            .unwrap_or("naive,kde,prospective,sepp")
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .collect();
        if names.is_empty() {
            return Err(ApiError::param("methods", "geen methoden"));
        }
        let mut methods: Vec<(String, Method)> = Vec::new();
        let mut base = None;
        for name in &names {
            if !METHODS.contains(&name.as_str()) {
                return Err(ApiError::param(
                    "methods",
                    format!("'{name}': kies uit naive, kde, prospective en sepp"),
                ));
            }
            // The method and its parameters exactly as `/api/forecast` reads them.
            let mut one = params.clone();
            one.insert("method".into(), name.clone());
            one.remove("format");
            one.remove("top");
            let p = ForecastParams::parse(&one)?.limited(principal);
            if methods.iter().any(|(_, m)| m.name() == p.method.name()) {
                return Err(ApiError::param(
                    "methods",
                    format!("'{name}' staat er twee keer in"),
                ));
            }
            methods.push((p.method.name().to_string(), p.method));
            base.get_or_insert(p);
        }
        let base = base.ok_or_else(|| ApiError::param("methods", "geen methoden"))?;
        let days = match given(params, "days") {
            None => None,
            Some(v) if v.eq_ignore_ascii_case("all") || v.eq_ignore_ascii_case("alles") => {
                Some(Window::All)
            }
            // Valid: ForecastParams::parse checked it.
            Some(v) => v.parse::<u32>().ok().map(Window::Days),
        };
        let csv = match given(params, "format").map(str::to_ascii_lowercase) {
            None => false,
            Some(f) if f == "json" => false,
            Some(f) if f == "csv" => true,
            Some(f) => {
                return Err(ApiError::param(
                    "format",
                    format!("onbekend formaat '{f}' (json of csv)"),
                ))
            }
        };
        Ok(EvaluateParams {
            folds,
            horizon_days: base.horizon_days,
            until,
            methods,
            coverages_pct,
            cell_m: base.cell_m,
            rri_days: rri_days(days),
            csv,
        })
    }

    /// The bound on the work: 400 naming `cell` or `folds` when `cells x methods x folds` exceeds
    /// [`MAX_CELL_FORECASTS`].
    pub fn check_work(&self, spec: &GridSpec) -> Result<(), ApiError> {
        let per_fold = spec.len().saturating_mul(self.methods.len());
        if per_fold > MAX_CELL_FORECASTS {
            return Err(ApiError::param(
                "cell",
                format!(
                    "{} cellen x {} methoden is te veel werk per fold (hoogstens {MAX_CELL_FORECASTS}): kies een grotere cel, minder methoden of een kleiner gebied (area, bbox)",
                    spec.len(),
                    self.methods.len()
                ),
            ));
        }
        let fits = MAX_CELL_FORECASTS / per_fold.max(1);
        if (self.folds as usize) > fits {
            return Err(ApiError::param(
                "folds",
                format!(
                    "{} folds van {} cellen x {} methoden is te veel werk: kies folds={fits} of minder, een grotere cel of een kleiner gebied",
                    self.folds,
                    spec.len(),
                    self.methods.len()
                ),
            ));
        }
        Ok(())
    }
}

/// What one request computed.
pub struct Evaluation {
    pub params: EvaluateParams,
    pub until: NaiveDate,
    pub grid: GridSpec,
    pub events_used: usize,
    pub result: RollingEvaluation,
}

/// The located incidents of `filter` as forecast events.
fn events(snapshot: &Snapshot, filter: &Filter) -> Vec<Event> {
    snapshot
        .located_incidents(filter)
        .iter()
        .map(|&k| snapshot.incidents[k as usize].event())
        .collect()
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| json!(x))
}

/// The summary's test and verdict as JSON.
fn test_and_verdict(s: &MethodSummary) -> (Value, &'static str) {
    match s.p_vs_baseline {
        None => (Value::Null, BASELINE_VERDICT),
        Some(p) => (
            json!({"statistic": s.mean_difference, "pairs": s.pairs, "p": p}),
            s.verdict
                .unwrap_or(crate::analysis::forecast::rolling::NOT_BETTER),
        ),
    }
}

/// The JSON answer (see the module docs); `protect_k`: the k of callers who see protected counts.
pub fn evaluation_json(e: &Evaluation, protect_k: Option<u32>) -> Value {
    let r = &e.result;
    let spec = &e.grid;
    let extent = spec.extent();
    let methods: Vec<Value> = e
        .params
        .methods
        .iter()
        .map(|(name, _)| {
            let coverages: Vec<Value> = e
                .params
                .coverages_pct
                .iter()
                .map(|&c| {
                    let folds: Vec<Value> = r
                        .folds
                        .iter()
                        .filter(|f| &f.method == name && f.coverage_pct == c)
                        .map(|f| {
                            let m = &f.metrics;
                            let mut fold = json!({
                                "origin": f.origin.date(),
                                "cells": m.selection.n_selected,
                                "test_events": m.test_total,
                                "hits": m.hits,
                                "hit_rate": opt(m.hit_rate),
                                "pai": opt(m.pai),
                                "pei": opt(m.pei),
                                "rri": opt(m.rri),
                            });
                            if let Some(k) = protect_k {
                                fold["test_events"] = Value::Null;
                                fold["hits"] = Value::Null;
                                let label =
                                    crate::publish::small_count_label(m.test_total as u64, k);
                                if label.is_some() {
                                    for key in ["hit_rate", "pai", "pei", "rri"] {
                                        fold[key] = Value::Null;
                                    }
                                }
                                fold["suppressed"] = json!(label.is_some());
                                fold["count_label"] = json!(label);
                            }
                            fold
                        })
                        .collect();
                    let s = r
                        .summaries
                        .iter()
                        .find(|s| &s.method == name && s.coverage_pct == c);
                    let (test, verdict) = s.map_or((Value::Null, ""), test_and_verdict);
                    json!({
                        "coverage_pct": c,
                        "folds": folds,
                        "scored_folds": s.map(|s| s.folds),
                        "mean": {
                            "hit_rate": opt(s.and_then(|s| s.mean_hit_rate)),
                            "pai": opt(s.and_then(|s| s.mean_pai)),
                            "pei": opt(s.and_then(|s| s.mean_pei)),
                            "rri": opt(s.and_then(|s| s.mean_rri)),
                        },
                        "test": test,
                        "verdict": verdict,
                    })
                })
                .collect();
            json!({"method": name, "coverages": coverages})
        })
        .collect();
    json!({
        "baseline": r.baseline,
        "until": e.until,
        "folds": e.params.folds,
        "origins": r.origins.iter().map(|o| o.date()).collect::<Vec<_>>(),
        "horizon_days": e.params.horizon_days,
        "cell_m": spec.cell_m,
        "grid": {"minx_m": spec.minx_m, "miny_m": spec.miny_m, "ncols": spec.ncols, "nrows": spec.nrows},
        "extent_rd": [extent.minx_m, extent.miny_m, extent.maxx_m, extent.maxy_m],
        "cells": spec.len(),
        "events_used": e.events_used,
        "coverages": e.params.coverages_pct,
        "rri_days": e.params.rri_days,
        "alpha": ALPHA,
        "tie_rule": TIE_RULE,
        "test": TEST_DESCRIPTION,
        "protected": protect_k.is_some(),
        "methods": methods,
    })
}

/// The CSV answer: the command line's table, with the counts withheld as in the JSON for `protect_k`.
pub fn evaluation_csv(e: &Evaluation, protect_k: Option<u32>) -> Result<Vec<u8>, ApiError> {
    use crate::export::Value as Cell;
    let mut t = crate::export::rolling::rolling_table(&e.result).map_err(ApiError::internal)?;
    if let Some(k) = protect_k {
        let col = |name: &str| t.columns.iter().position(|(n, _)| n == name);
        let (Some(fold), Some(events), Some(hits)) = (col("fold"), col("test_events"), col("hits"))
        else {
            return Err(ApiError::internal("evaluation table without its columns"));
        };
        let rates: Vec<usize> = ["hit_rate", "pai", "pei", "rri"]
            .iter()
            .filter_map(|n| col(n))
            .collect();
        for row in &mut t.rows {
            if row[fold] == Cell::from("gemiddeld") {
                continue;
            }
            let small = match row[events] {
                Cell::Int(n) => crate::publish::small_count_label(n.max(0) as u64, k).is_some(),
                _ => false,
            };
            row[events] = Cell::Null;
            row[hits] = Cell::Null;
            if small {
                for &c in &rates {
                    row[c] = Cell::Null;
                }
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(t.columns.iter().map(|(n, _)| n.as_str()))
        .map_err(ApiError::internal)?;
    for r in &t.rows {
        w.write_record(r.iter().map(Cell::to_text))
            .map_err(ApiError::internal)?;
    }
    w.into_inner().map_err(ApiError::internal)
}

/// `GET /api/forecast/evaluate` (see the module docs).
async fn api_evaluate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?.within_gemeenten_by_default(&snapshot);
    let p = EvaluateParams::parse(&params, &caller.principal)?;
    let extent = filter
        .study
        .as_ref()
        .map(|s| s.bbox_rd)
        .or_else(|| snapshot.incident_bounds_rd());
    let until = p.until.or(snapshot.last_day);
    let (Some(until), Some(extent)) = (until, extent) else {
        return Err(ApiError::param(
            "category",
            "er zijn geen incidenten om de voorspellingen op te toetsen",
        ));
    };
    let grid = grid_over(extent, p.cell_m)?;
    p.check_work(&grid)?;
    // The origins are checked before any work (e.g. folds x horizon reaching before year 1).
    crate::analysis::forecast::rolling::origins(until, p.folds, p.horizon_days)
        .map_err(|e| super::forecast::api_error(e, ""))?;
    let protect_k = caller
        .principal
        .sees_protected_counts()
        .then(|| state.policy.k_for(&filter.category_codes));
    let turn = state.heavy.enter().await?;
    let body = state
        .blocking
        .run(move |cancel| {
            let _turn = turn;
            let events = events(&snapshot, &filter);
            cancel.check()?;
            let spec = Backtest {
                folds: p.folds,
                horizon_days: p.horizon_days,
                until,
                methods: p.methods.clone(),
                coverages_pct: p.coverages_pct.clone(),
                rri_days: p.rri_days,
            };
            let result = backtest(&events, &grid, &spec, cancel)
                .map_err(|e| super::forecast::api_error(e, ""))?;
            let e = Evaluation {
                params: p,
                until,
                grid,
                events_used: events.len(),
                result,
            };
            if e.params.csv {
                Ok((true, evaluation_csv(&e, protect_k)?))
            } else {
                let v = evaluation_json(&e, protect_k);
                Ok((false, serde_json::to_vec(&v).map_err(ApiError::internal)?))
            }
        })
        .await?;
    Ok(match body {
        (true, csv) => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response(),
        (false, j) => super::analysis_api::json_body(Bytes::from(j)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Principal;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn analyst() -> Principal {
        Principal {
            role: crate::access::Role::Analyst,
            kind: crate::access::PrincipalKind::User,
            ..Principal::anonymous("t")
        }
    }

    #[test]
    fn defaults_and_refusals_name_the_parameter() {
        let p = EvaluateParams::parse(&params(&[]), &analyst()).unwrap();
        assert_eq!((p.folds, p.horizon_days, p.cell_m), (12, 7, 125.0));
        assert_eq!(p.coverages_pct, vec![1.0, 3.0, 5.0, 10.0]);
        let names: Vec<&str> = p.methods.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, METHODS);
        assert_eq!((p.rri_days, p.csv, p.until), (28, false, None));
        let p = EvaluateParams::parse(
            &params(&[("days", "14"), ("methods", "naive,kde")]),
            &analyst(),
        )
        .unwrap();
        assert_eq!(p.rri_days, 14);
        assert_eq!(
            p.methods[1].1,
            Method::Kde {
                window: Window::Days(14),
                bandwidth_m: 200.0
            }
        );
        for (k, v) in [
            ("folds", "0"),
            ("folds", "105"),
            ("folds", "x"),
            ("horizon", "0"),
            ("until", "morgen"),
            ("methods", "naive,magic"),
            ("methods", "naive,naive"),
            ("methods", ","),
            ("coverages", "0"),
            ("coverages", "1,200"),
            ("coverages", "1,2,3,4,5,6,7,8,9,10,11"),
            ("cell", "10"),
            ("days", "0"),
            ("bandwidth", "-1"),
            ("iterations", "0"),
            ("format", "xml"),
        ] {
            match EvaluateParams::parse(&params(&[(k, v)]), &analyst()) {
                Err(ApiError::BadRequest { parameter, .. }) => {
                    assert_eq!(parameter.as_deref(), Some(k), "{k}={v}")
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_work_is_bounded_naming_cell_or_folds() {
        let p = EvaluateParams::parse(&params(&[]), &analyst()).unwrap();
        let grid = |n: usize| GridSpec {
            minx_m: 0.0,
            miny_m: 0.0,
            cell_m: 125.0,
            ncols: n,
            nrows: n,
        };
        p.check_work(&grid(1000)).unwrap();
        let name = |r: Result<(), ApiError>| match r {
            Err(ApiError::BadRequest { parameter, .. }) => parameter,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(p.check_work(&grid(4000))).as_deref(), Some("cell"));
        assert_eq!(name(p.check_work(&grid(1500))).as_deref(), Some("folds"));
    }
}
