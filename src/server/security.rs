//! Security of the service around the handlers: who the client is (peer address, or the `X-Forwarded-*`
//! headers of a trusted proxy), security headers on every response, request limits (tile zoom range, query
//! period), per-token rate limiting, the request timeout, and JSON bodies for the framework's own plain-text
//! errors.
//!
//! Two middleware functions, layered by [`super::router`]:
//! - [`guard`] (outermost): resolves the [`ClientInfo`] (stored as a request extension, read by handlers that
//!   build absolute URLs and by the request log), turns plain-text error responses into `{"error": ...}` JSON
//!   without internals, and sets the security headers ([`apply_headers`]) on every response.
//! - [`throttle`] (inside the request log, so refusals are counted): zoom range and period limits (400 naming
//!   `z` or `to`), the token bucket per credential or client address (429 + `Retry-After`), and the request
//!   timeout (503).
//!
//! The decisions themselves ([`ClientInfo::resolve`], [`check_zoom`], and in the core [`crate::proxy`] and
//! [`crate::rate_limit`]) are pure functions of their inputs, tested without a server.

use super::error::ApiError;
use super::filter;
use super::AppState;
use crate::config::Limits;
use crate::proxy::{clean_host, TrustedProxies};
use crate::rate_limit::RateKey;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// Content-Security-Policy of every response. The web app is plain ES modules from the same origin; MapLibre GL
/// needs `blob:` workers and `data:`/`blob:` images, and sets inline styles (as does the legend); the optional
/// PDOK BRT background map (`web/src/layers.js`) is fetched from `service.pdok.nl`. No framing by anyone.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https://service.pdok.nl; \
worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self' https://service.pdok.nl; \
font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `Strict-Transport-Security` sent on HTTPS (direct TLS, or `X-Forwarded-Proto: https` from a trusted proxy).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Who sent a request, as far as the service can tell, and under which URL it reached the service.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientInfo {
    /// The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest untrusted hop of
    /// `X-Forwarded-For`. `None` when the connection's address is unknown (in-process tests).
    pub addr: Option<IpAddr>,
    /// Reached over HTTPS (direct TLS, or `X-Forwarded-Proto: https` from a trusted proxy).
    pub https: bool,
    /// The host (and port) the client used: `X-Forwarded-Host` from a trusted proxy, else `Host`; only
    /// host-name characters are accepted, anything else gives `localhost`.
    pub host: String,
}

/// The first comma-separated value of a header, trimmed.
fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl ClientInfo {
    /// Resolve the client of a request from the TCP peer address, the headers, the trusted proxies and whether
    /// the connection itself is TLS. Headers of untrusted peers are ignored. `X-Forwarded-For` is walked from
    /// the right (the hop nearest to us) while the hop is a trusted proxy; the first untrusted hop is the
    /// client (a client cannot forge entries to the right of its own).
    pub fn resolve(
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        trusted: &TrustedProxies,
        tls: bool,
    ) -> ClientInfo {
        let peer = peer.map(|p| p.to_canonical());
        let via_proxy = peer.is_some_and(|p| trusted.contains(p));
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let addr = trusted.client_addr(peer, &hops);
        let https = tls
            || (via_proxy
                && first_value(headers, "x-forwarded-proto")
                    .is_some_and(|p| p.eq_ignore_ascii_case("https")));
        let forwarded_host = if via_proxy {
            first_value(headers, "x-forwarded-host").and_then(clean_host)
        } else {
            None
        };
        let host = forwarded_host
            .or_else(|| {
                headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .and_then(clean_host)
            })
            .unwrap_or_else(|| "localhost".to_string());
        ClientInfo { addr, https, host }
    }

    /// The service's URL as the client sees it, without a trailing slash: `https://kaart.example.nl`.
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.host
        )
    }
}

/// Handlers get the [`ClientInfo`] resolved by [`guard`]; without it (a router used without the layer) it is
/// resolved from the request's own headers, trusting no proxy.
impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<ClientInfo>() {
            Some(c) => c.clone(),
            None => ClientInfo::resolve(None, &parts.headers, &TrustedProxies::default(), false),
        })
    }
}

/// Set the security headers of every response; HSTS only when the client reached us over HTTPS.
pub fn apply_headers(headers: &mut HeaderMap, https: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

/// The [`RateKey`] of a request: the presented credential, else a session cookie whose id names a live session
/// (`live_session`), else the client address.
pub fn rate_key(
    headers: &HeaderMap,
    client: Option<&ClientInfo>,
    live_session: impl Fn(&str) -> bool,
) -> RateKey {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        return RateKey::Credential(Sha256::digest(v.as_bytes()).into());
    }
    match super::cookie::session_cookie(headers).filter(|id| live_session(id)) {
        Some(id) => RateKey::Session(Sha256::digest(id.as_bytes()).into()),
        None => RateKey::Address(client.and_then(|c| c.addr)),
    }
}

/// The zoom level of a tile path `/tiles/{layer}/{z}/{x}/{y}.ext`, if it is one with a numeric `z`.
fn tile_zoom(path: &str) -> Option<i64> {
    let rest = path.strip_prefix("/tiles/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() != 4 {
        return None;
    }
    parts[1].parse().ok()
}

/// 400 naming `z` when `path` is a tile whose zoom lies outside `[min_zoom, max_zoom]`.
pub fn check_zoom(path: &str, limits: &Limits) -> Result<(), ApiError> {
    match tile_zoom(path) {
        Some(z) if z < i64::from(limits.min_zoom) || z > i64::from(limits.max_zoom) => {
            Err(ApiError::param(
                "z",
                format!(
                    "zoomniveau {z} valt buiten het toegestane bereik {}..{}",
                    limits.min_zoom, limits.max_zoom
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// 400 naming `to` when the query's `from`..`to` period is longer than `max_period_days` (dates that do not
/// parse are left to the handler, which names them).
fn check_query_period(query: Option<&str>, limits: &Limits) -> Result<(), ApiError> {
    let Some(q) = query else { return Ok(()) };
    let (mut from, mut to) = (None, None);
    for (k, v) in form_pairs(q) {
        match k.as_str() {
            "from" => from = filter::parse_date("from", &v).ok(),
            "to" => to = filter::parse_date("to", &v).ok(),
            _ => {}
        }
    }
    match (from, to) {
        (Some(f), Some(t)) => filter::check_period(f, t, limits.max_period_days),
        _ => Ok(()),
    }
}

/// `application/x-www-form-urlencoded` pairs of a query string (an undecodable query gives none).
fn form_pairs(q: &str) -> Vec<(String, String)> {
    let uri: axum::http::Uri = format!("/?{q}").parse().unwrap_or_default();
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|axum::extract::Query(v)| v)
        .unwrap_or_default()
}

/// Paths never rate limited (health probes of the orchestrator).
fn unlimited(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Outermost middleware: resolve the client, make plain-text errors JSON, set the security headers.
pub async fn guard(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let info = ClientInfo::resolve(
        peer,
        req.headers(),
        &state.trusted_proxies,
        state.config.tls.is_some(),
    );
    let https = info.https;
    req.extensions_mut().insert(info);
    let response = next.run(req).await;
    let mut response = json_error(response, &state.config.limits).await;
    apply_headers(response.headers_mut(), https);
    response
}

/// Error responses of the framework (rejections, 404/405 of the router, 413 of the body limit) are plain text
/// or empty; answer them as `{"error": ...}` like every other API error. Other responses pass unchanged (WMS
/// exception XML, JSON errors, PNG, files).
async fn json_error(response: Response, limits: &Limits) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(ct) => ct.to_str().is_ok_and(|c| c.starts_with("text/plain")),
    };
    if !plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match status {
        StatusCode::NOT_FOUND => "niet gevonden".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "methode niet toegestaan".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "verzoek te groot (hoogstens {} bytes)",
            limits.max_body_bytes
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => format!("verkeerd inhoudstype: {text}"),
        s if s.is_server_error() => "de dienst kan dit verzoek nu niet afhandelen".to_string(),
        _ if text.is_empty() => "ongeldig verzoek".to_string(),
        _ => format!("ongeldig verzoek: {text}"),
    };
    let body = serde_json::json!({ "error": message }).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// Inner middleware: zoom and period limits, rate limit, request timeout.
pub async fn throttle(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let limits = &state.config.limits;
    if let Err(e) = check_zoom(req.uri().path(), limits)
        .and_then(|()| check_query_period(req.uri().query(), limits))
    {
        return e.into_response();
    }
    // The key (a hash of the credential) only when there is a limit to check it against.
    if state.rate_limiter.enabled() && !unlimited(req.uri().path()) {
        let now = Instant::now();
        let key = rate_key(req.headers(), req.extensions().get::<ClientInfo>(), |id| {
            state
                .seen_sessions
                .get(&crate::session::session_key(id))
                .is_some()
        });
        if let Err(wait) = state.rate_limiter.check(key, now) {
            let secs = wait.as_secs().max(1);
            let body = serde_json::json!({
                "error": format!(
                    "te veel verzoeken (hoogstens {} per minuut); probeer het over {secs} s opnieuw",
                    limits.requests_per_minute
                )
            });
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                axum::Json(body),
            )
                .into_response();
        }
    }
    match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let body = serde_json::json!({
                "error": format!(
                    "het verzoek duurde langer dan {} s; vraag een kleiner gebied of een kortere periode",
                    limits.request_timeout.as_secs_f64()
                )
            });
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_are_believed_only_from_trusted_peers() {
        let trusted = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-for", "198.51.100.7, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "kaart.example.nl"),
        ]);
        let via = ClientInfo::resolve(Some(ip("127.0.0.1")), &h, &trusted, false);
        assert_eq!(via.addr, Some(ip("198.51.100.7")));
        assert!(via.https);
        assert_eq!(via.base_url(), "https://kaart.example.nl");
        let direct = ClientInfo::resolve(Some(ip("192.0.2.9")), &h, &trusted, false);
        assert_eq!(direct.addr, Some(ip("192.0.2.9")));
        assert!(!direct.https);
        assert_eq!(direct.base_url(), "http://127.0.0.1:8080");
        // A client behind a trusted proxy cannot choose its address by prepending entries.
        let forged = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.5")]);
        let c = ClientInfo::resolve(Some(ip("10.0.0.2")), &forged, &trusted, false);
        assert_eq!(c.addr, Some(ip("203.0.113.5")));
        // TLS is HTTPS regardless of headers; a host with markup is refused.
        let bad = headers(&[("host", "x\"><script>")]);
        let c = ClientInfo::resolve(None, &bad, &trusted, true);
        assert_eq!(c.base_url(), "https://localhost");
    }

    #[test]
    fn zoom_outside_the_range_names_z() {
        let limits = Limits {
            min_zoom: 5,
            max_zoom: 16,
            ..Limits::default()
        };
        assert!(check_zoom("/tiles/buurten/14/1/2.mvt", &limits).is_ok());
        assert!(check_zoom("/tiles/buurten.json", &limits).is_ok());
        for p in ["/tiles/buurten/17/1/2.mvt", "/tiles/kde/4/1/2.png"] {
            match check_zoom(p, &limits) {
                Err(ApiError::BadRequest { parameter, .. }) => {
                    assert_eq!(parameter.as_deref(), Some("z"))
                }
                other => panic!("{p}: {other:?}"),
            }
        }
    }

    #[test]
    fn long_periods_name_to() {
        let limits = Limits {
            max_period_days: 31,
            ..Limits::default()
        };
        assert!(check_query_period(Some("from=2024-01-01&to=2024-01-31"), &limits).is_ok());
        assert!(check_query_period(Some("from=2024-01-01"), &limits).is_ok());
        match check_query_period(Some("category=x&from=2024-01-01&to=2024-02-01"), &limits) {
            Err(ApiError::BadRequest { parameter, .. }) => {
                assert_eq!(parameter.as_deref(), Some("to"))
            }
            other => panic!("{other:?}"),
        }
    }
}
