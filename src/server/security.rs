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
//! The decisions themselves ([`TrustedProxies`], [`ClientInfo::resolve`], [`TokenBucket`], [`check_zoom`]) are
//! pure functions of their inputs, tested without a server.

use super::error::ApiError;
use super::filter;
use super::{AppState, Limits};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Content-Security-Policy of every response. The web app is plain ES modules from the same origin; MapLibre GL
/// needs `blob:` workers and `data:`/`blob:` images, and sets inline styles (as does the legend); the optional
/// PDOK BRT background map (`web/src/layers.js`) is fetched from `service.pdok.nl`. No framing by anyone.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https://service.pdok.nl; \
worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self' https://service.pdok.nl; \
font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `Strict-Transport-Security` sent on HTTPS (direct TLS, or `X-Forwarded-Proto: https` from a trusted proxy).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Most rate-limit buckets remembered; beyond it, full (idle) buckets are forgotten first.
const MAX_BUCKETS: usize = 50_000;

/// An address range: an IP address and a prefix length (`10.0.0.0/8`, `::1/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parse `ADDR` or `ADDR/PREFIX` (IPv4 or IPv6). The error says why, in Dutch.
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let t = text.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{t}' is geen IP-adres of CIDR-bereik"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("'{t}': prefixlengte moet 0..{max} zijn")),
            },
        };
        Ok(IpNet { addr, prefix })
    }

    /// Is `ip` inside the range? (IPv4-mapped IPv6 addresses count as IPv4.)
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The peers whose `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` headers are believed
/// (config `[proxy] trusted`). Empty = nobody's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parse every entry; the error names the first bad one.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| IpNet::parse(e))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }
}

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

/// A host name with optional port, or `None` when it has characters a host never has (an attempt to inject
/// markup or a path into absolute URLs).
fn clean_host(h: &str) -> Option<String> {
    let ok = !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    ok.then(|| h.to_string())
}

/// One address of `X-Forwarded-For` (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`).
fn forwarded_addr(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    t.parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
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
        let mut addr = peer;
        if via_proxy {
            let hops: Vec<&str> = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .collect();
            for hop in hops.iter().rev() {
                if !addr.is_some_and(|a| trusted.contains(a)) {
                    break;
                }
                match forwarded_addr(hop) {
                    Some(ip) => addr = Some(ip),
                    None => break,
                }
            }
        }
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

/// A token bucket: `capacity` requests at once, refilled at `capacity` per minute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: u32, now: Instant) -> Self {
        TokenBucket {
            tokens: f64::from(capacity),
            last: now,
        }
    }

    fn refill(&mut self, capacity: u32, now: Instant) {
        let per_s = f64::from(capacity) / 60.0;
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * per_s).min(f64::from(capacity));
        self.last = now;
    }

    /// Take one token at `now`; `Err(wait)` (how long until one is available, at least 1 s) when empty.
    pub fn take(&mut self, capacity: u32, now: Instant) -> Result<(), Duration> {
        self.refill(capacity, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let per_s = f64::from(capacity) / 60.0;
            let secs = ((1.0 - self.tokens) / per_s).ceil().max(1.0);
            Err(Duration::from_secs_f64(secs))
        }
    }

    fn is_full(&self, capacity: u32, now: Instant) -> bool {
        let mut b = *self;
        b.refill(capacity, now);
        b.tokens >= f64::from(capacity)
    }
}

/// What a rate limit counts against: the presented credential (SHA-256 of the `Authorization` header, so the
/// secret is not kept), a live web session (SHA-256 of its id), or else the client address. A session cookie that
/// names no live session counts as none, so made-up cookies cannot escape the limit of their address.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum RateKey {
    Credential([u8; 32]),
    Session([u8; 32]),
    Address(Option<IpAddr>),
}

impl RateKey {
    /// The key of a request; `live_session` tells whether a session cookie's id names a live session.
    pub fn of(
        headers: &HeaderMap,
        client: Option<&ClientInfo>,
        live_session: impl Fn(&str) -> bool,
    ) -> RateKey {
        if let Some(v) = headers.get(header::AUTHORIZATION) {
            return RateKey::Credential(Sha256::digest(v.as_bytes()).into());
        }
        match super::session::session_cookie(headers).filter(|id| live_session(id)) {
            Some(id) => RateKey::Session(Sha256::digest(id.as_bytes()).into()),
            None => RateKey::Address(client.and_then(|c| c.addr)),
        }
    }
}

/// Token buckets per [`RateKey`] (`[limits] requests_per_minute`; 0 = no limit).
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<RateKey, TokenBucket>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Count one request of `key` at `now`; `Err(wait)` when its bucket is empty.
    pub fn check(&self, key: RateKey, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = self.per_minute;
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            // Idle (full) buckets carry no information: forget them; if every bucket is in use, start over
            // rather than grow without bound.
            buckets.retain(|_, b| !b.is_full(cap, now));
            if buckets.len() >= MAX_BUCKETS {
                buckets.clear();
            }
        }
        buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(cap, now))
            .take(cap, now)
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
    if !unlimited(req.uri().path()) {
        let now = Instant::now();
        let key = RateKey::of(req.headers(), req.extensions().get::<ClientInfo>(), |id| {
            state.sessions.is_live(id, now)
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
    fn cidr_ranges_match_by_prefix() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(ip("10.255.3.4")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6");
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("proxy.local").is_err());
        assert!(TrustedProxies::parse(&["10.0.0.1".into(), "x".into()])
            .unwrap_err()
            .contains("'x'"));
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
    fn token_bucket_allows_the_burst_then_refills_per_minute() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, t0);
        for _ in 0..3 {
            assert!(b.take(3, t0).is_ok());
        }
        // 3 per minute = one per 20 s.
        assert_eq!(b.take(3, t0), Err(Duration::from_secs(20)));
        assert!(b.take(3, t0 + Duration::from_secs(19)).is_err());
        assert!(b.take(3, t0 + Duration::from_secs(21)).is_ok());
        let limiter = RateLimiter::new(1);
        let a = RateKey::Address(Some(ip("192.0.2.1")));
        assert!(limiter.check(a.clone(), t0).is_ok());
        assert!(limiter.check(a, t0).is_err());
        assert!(limiter
            .check(RateKey::Address(Some(ip("192.0.2.2"))), t0)
            .is_ok());
        assert!(RateLimiter::new(0)
            .check(RateKey::Address(None), t0)
            .is_ok());
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
