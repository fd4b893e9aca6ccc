//! Operations: `/healthz` (the process answers), `/readyz` (data loaded), Prometheus `/metrics`, the OpenAPI
//! document and the structured request log (method, path without query, route, client address, status, time;
//! never headers, query strings or bodies, so no token, password or cookie reaches the log).

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds (seconds) of the request duration histogram.
const BUCKETS_S: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct RouteStats {
    count: u64,
    sum_s: f64,
    buckets: [u64; BUCKETS_S.len()],
}

/// Counters exposed at `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// route -> status -> stats.
    routes: Mutex<std::collections::BTreeMap<String, std::collections::BTreeMap<u16, RouteStats>>>,
    /// Reloads of snapshots (one per reload, whatever its number of tenants).
    pub reloads: AtomicU64,
    /// Tenant snapshots rebuilt by the reloads.
    pub tenant_reloads: AtomicU64,
    /// Of those, the ones updated with a delivery's incidents only ([`crate::dataset::Snapshot::apply`]).
    pub tenant_incremental_reloads: AtomicU64,
    /// Token verifications run against the store (cache misses and background re-checks; [`super::auth`]).
    pub token_checks: AtomicU64,
    /// Announcements of commits received from the store's change feed (PostgreSQL `NOTIFY`; one per burst).
    pub change_notifications: AtomicU64,
    /// Connections of the change feed opened (the first and every reconnect).
    pub change_feed_connects: AtomicU64,
    /// Per singleton duty this server runs: whether it holds it now ([`super::DutyHolder`]).
    pub duties: Mutex<std::collections::BTreeMap<&'static str, bool>>,
}

impl Metrics {
    fn record(&self, route: &str, status: u16, seconds: f64) {
        let mut routes = match self.routes.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        // The route's name is copied only the first time it is seen (this runs for every request).
        let statuses = match routes.get_mut(route) {
            Some(statuses) => statuses,
            None => routes.entry(route.to_string()).or_default(),
        };
        let s = statuses.entry(status).or_default();
        s.count += 1;
        s.sum_s += seconds;
        for (i, b) in BUCKETS_S.iter().enumerate() {
            if seconds <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::new();
        let routes = match self.routes.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        out.push_str("# HELP brandpunt_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE brandpunt_http_requests_total counter\n");
        for (route, status, s) in routes
            .iter()
            .flat_map(|(r, st)| st.iter().map(move |(status, s)| (r, status, s)))
        {
            let _ = writeln!(
                out,
                "brandpunt_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP brandpunt_http_request_duration_seconds Request duration by route.\n");
        out.push_str("# TYPE brandpunt_http_request_duration_seconds histogram\n");
        let mut per_route: std::collections::BTreeMap<&str, RouteStats> = Default::default();
        for (route, statuses) in routes.iter() {
            let agg = per_route.entry(route.as_str()).or_default();
            for s in statuses.values() {
                agg.count += s.count;
                agg.sum_s += s.sum_s;
                for i in 0..BUCKETS_S.len() {
                    agg.buckets[i] += s.buckets[i];
                }
            }
        }
        for (route, s) in &per_route {
            for (i, b) in BUCKETS_S.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "brandpunt_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "brandpunt_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "brandpunt_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                s.sum_s
            );
            let _ = writeln!(
                out,
                "brandpunt_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                s.count
            );
        }
        let snapshots = state.snapshots();
        let gauges = [
            (
                "brandpunt_data_reloads_total",
                "counter",
                self.reloads.load(Ordering::Relaxed) as f64,
            ),
            (
                "brandpunt_tenant_reloads_total",
                "counter",
                self.tenant_reloads.load(Ordering::Relaxed) as f64,
            ),
            (
                "brandpunt_tenant_incremental_reloads_total",
                "counter",
                self.tenant_incremental_reloads.load(Ordering::Relaxed) as f64,
            ),
            (
                "brandpunt_token_checks_total",
                "counter",
                self.token_checks.load(Ordering::Relaxed) as f64,
            ),
            (
                "brandpunt_change_notifications_total",
                "counter",
                self.change_notifications.load(Ordering::Relaxed) as f64,
            ),
            (
                "brandpunt_change_feed_connects_total",
                "counter",
                self.change_feed_connects.load(Ordering::Relaxed) as f64,
            ),
            (
                "brandpunt_token_cache_entries",
                "gauge",
                state.token_cache.len() as f64,
            ),
            (
                "brandpunt_heavy_running",
                "gauge",
                state.heavy.running() as f64,
            ),
            (
                "brandpunt_heavy_waiting",
                "gauge",
                state.heavy.waiting() as f64,
            ),
            (
                "brandpunt_heavy_refused_total",
                "counter",
                state.heavy.refused() as f64,
            ),
            (
                "brandpunt_builds_running",
                "gauge",
                state.builds.running() as f64,
            ),
            (
                "brandpunt_builds_waiting",
                "gauge",
                state.builds.waiting() as f64,
            ),
            (
                "brandpunt_build_waits_total",
                "counter",
                state.builds.waits() as f64,
            ),
            (
                "brandpunt_computations_running",
                "gauge",
                state.blocking.running() as f64,
            ),
            (
                "brandpunt_cancelled_total",
                "counter",
                state.blocking.cancelled() as f64,
            ),
            (
                "brandpunt_data_generation",
                "gauge",
                snapshots.values().map(|s| s.generation).max().unwrap_or(0) as f64,
            ),
            (
                "brandpunt_incidents",
                "gauge",
                // All tenants together: the metrics name no tenant.
                snapshots.values().map(|s| s.incidents.len()).sum::<usize>() as f64,
            ),
        ];
        for (name, kind, value) in gauges {
            let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {value}");
        }
        state.caches.render_metrics(&mut out);
        // The vector tile figures also under their first names.
        let tiles = state
            .caches
            .kind_stats(<super::tiles::VectorTileKey as crate::cache::CacheEntry>::KIND);
        for (name, kind, value) in [
            ("brandpunt_tile_cache_hits_total", "counter", tiles.hits),
            ("brandpunt_tile_cache_misses_total", "counter", tiles.misses),
            ("brandpunt_tile_cache_entries", "gauge", tiles.entries),
        ] {
            let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {value}");
        }
        let duties = match self.duties.lock() {
            Ok(d) => d.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if !duties.is_empty() {
            let _ = writeln!(out, "# TYPE brandpunt_duty_held gauge");
            for (duty, held) in duties {
                let _ = writeln!(
                    out,
                    "brandpunt_duty_held{{duty=\"{duty}\"}} {}",
                    u8::from(held)
                );
            }
        }
        out
    }
}

/// Middleware: time every request, count it per route and status, and log it.
pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    // The matched route shares the router's string (no copy per request).
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("static", MatchedPath::as_str);
    let method = req.method().clone();
    let logged = tracing::enabled!(target: "brandpunt::http", tracing::Level::INFO);
    // Path and client address are only copied when the request log is on. The client address (behind a trusted
    // proxy: from X-Forwarded-For). Never logged: headers (Authorization, Cookie), the query string (it may hold
    // a filter on personal data), bodies.
    let (path, client) = if logged {
        let client = req
            .extensions()
            .get::<super::security::ClientInfo>()
            .and_then(|c| c.addr)
            .map(|a| a.to_string())
            .unwrap_or_default();
        (req.uri().path().to_string(), client)
    } else {
        (String::new(), String::new())
    };
    let response = next.run(req).await;
    let elapsed = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.record(route, status, elapsed);
    tracing::info!(
        target: "brandpunt::http",
        %method,
        %path,
        %route,
        %client,
        status,
        ms = elapsed * 1000.0,
        "request"
    );
    response
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading").into_response()
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&state),
    )
        .into_response()
}

/// The OpenAPI 3 document: `openapi/base.json` (info, shared parameters, schemas and responses) plus one fragment
/// per route module, named after it (`openapi/MODULE.json`, a JSON object `{"paths": {...}}`, optionally with
/// `"parameters"` and `"responses"`), merged into the base. A module that adds a route documents it in its own
/// fragment.
const OPENAPI_BASE: &str = include_str!("openapi/base.json");
const OPENAPI_FRAGMENTS: &[&str] = &[
    include_str!("openapi/analysis_api.json"),
    include_str!("openapi/areas.json"),
    include_str!("openapi/compare.json"),
    include_str!("openapi/dashboard.json"),
    include_str!("openapi/deliveries.json"),
    include_str!("openapi/enrichment.json"),
    include_str!("openapi/export.json"),
    include_str!("openapi/forecast.json"),
    include_str!("openapi/forecast_evaluate.json"),
    include_str!("openapi/hotspots.json"),
    include_str!("openapi/incidents.json"),
    include_str!("openapi/near_repeat.json"),
    include_str!("openapi/ops.json"),
    include_str!("openapi/patrol.json"),
    include_str!("openapi/relations.json"),
    include_str!("openapi/repeats.json"),
    include_str!("openapi/report.json"),
    include_str!("openapi/session.json"),
    include_str!("openapi/tiles.json"),
    include_str!("openapi/wms.json"),
];

/// The assembled OpenAPI 3 document.
pub fn openapi_document() -> serde_json::Value {
    let mut doc: serde_json::Value = serde_json::from_str(OPENAPI_BASE).unwrap_or_default();
    for fragment in OPENAPI_FRAGMENTS {
        let Ok(f) = serde_json::from_str::<serde_json::Value>(fragment) else {
            tracing::error!("an OpenAPI fragment is not valid JSON");
            continue;
        };
        if f.get("responses").is_some() {
            if let Some(c) = doc
                .pointer_mut("/components")
                .and_then(|v| v.as_object_mut())
            {
                c.entry("responses")
                    .or_insert_with(|| serde_json::Value::Object(Default::default()));
            }
        }
        for (section, target) in [
            ("paths", "/paths"),
            ("parameters", "/components/parameters"),
            ("responses", "/components/responses"),
        ] {
            if let (Some(src), Some(dst)) = (
                f.get(section).and_then(|v| v.as_object()),
                doc.pointer_mut(target).and_then(|v| v.as_object_mut()),
            ) {
                for (k, v) in src {
                    dst.insert(k.clone(), v.clone());
                }
            }
        }
    }
    doc
}

pub async fn openapi() -> Response {
    axum::Json(openapi_document()).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_fragments_are_valid_json_and_merged() {
        for f in super::OPENAPI_FRAGMENTS {
            assert!(serde_json::from_str::<serde_json::Value>(f).is_ok());
        }
        let doc = super::openapi_document();
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(doc["paths"]["/api/meta"].is_object());
        assert!(doc["components"]["responses"]["TooManyRequests"].is_object());
    }
}
