//! Web login: password sessions with a cookie, `POST /api/login`, `POST /api/logout`, `GET /api/me`.
//!
//! - `POST /api/login` with `{"user", "password"}` checks the password ([`crate::store::PrivacyStore::verify_password`]) and
//!   answers 200 with the body of `/api/me` and `Set-Cookie: brandpunt_sessie=<id>; HttpOnly; SameSite=Strict;
//!   Path=/` (plus `Secure` when the server runs TLS). The id is 32 random bytes in unpadded base64url; the
//!   server keeps only its SHA-256, in memory ([`Sessions`]). A restart therefore ends every session.
//! - A session ends after [`IDLE_TIMEOUT`] without requests and at the latest [`ABSOLUTE_TIMEOUT`] after the
//!   login. The user's role, grants and disabled state are re-read from the store at most every
//!   [`REFRESH_INTERVAL`] (and at once after any change to the store): disabling a user ends their sessions.
//! - Failed logins are counted per user name and per client address: after [`MAX_FAILURES`] failures within
//!   [`FAILURE_WINDOW`] further attempts get 429 until the window has passed ([`LoginThrottle`]).
//! - CSRF: a state-changing request (not GET/HEAD/OPTIONS) authenticated by the cookie needs an `Origin` of the
//!   same host or the header `X-Brandpunt: 1` ([`csrf_ok`]); see [`super::auth`].
//! - `GET /api/me` tells the web app who is calling and what they may (`anonymous: true` for callers of the
//!   public tenant).
//!
//! Logins are logged (user name, client address, outcome) through `tracing`, never the password. The audit log
//! is not involved: it records access to address-level data.

use super::security::ClientInfo;
use super::{auth, ApiError, AppState};
use crate::access::{Action, Principal, PrincipalKind};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "brandpunt_sessie";
/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after the login, however active.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// The user's role, grants and disabled state are re-read at least this often.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Failed logins per user name or client address allowed within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 10;
/// Window over which failed logins are counted.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Header that marks a request as sent by the web app (CSRF protection for cookie sessions).
pub const APP_HEADER: &str = "x-brandpunt";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The key a session is kept under: SHA-256 of its id (the id itself is never kept).
fn session_key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

struct Session {
    principal: Principal,
    created: Instant,
    last_used: Instant,
    /// When the principal was last read from the store; `None` = must be re-read before use.
    refreshed: Option<Instant>,
}

/// What a session id stands for at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A live session with a fresh principal.
    Valid(Principal),
    /// A live session whose user must be re-read (call [`Sessions::refreshed`] with the result).
    Refresh { user: String },
    /// Unknown, ended or expired.
    Missing,
}

/// The server-side session table (in memory). Methods take the current time, so timeouts are testable.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    pub fn new() -> Self {
        Sessions::default()
    }

    /// Start a session for `principal` and return its id (the cookie value): 32 random bytes, base64url.
    pub fn create(&self, principal: Principal, now: Instant) -> String {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let mut map = lock(&self.map);
        // Drop expired sessions now and then, so abandoned ones do not pile up.
        if map.len() % 64 == 63 {
            map.retain(|_, s| !expired(s, now));
        }
        map.insert(
            session_key(&id),
            Session {
                principal,
                created: now,
                last_used: now,
                refreshed: Some(now),
            },
        );
        id
    }

    /// Look a session id up at `now`, ending it when it expired; a live session counts as used.
    pub fn lookup(&self, id: &str, now: Instant) -> Lookup {
        let key = session_key(id);
        let mut map = lock(&self.map);
        let Some(s) = map.get_mut(&key) else {
            return Lookup::Missing;
        };
        if expired(s, now) {
            map.remove(&key);
            return Lookup::Missing;
        }
        s.last_used = now;
        match s.refreshed {
            Some(at) if now.saturating_duration_since(at) < REFRESH_INTERVAL => {
                Lookup::Valid(s.principal.clone())
            }
            _ => Lookup::Refresh {
                user: s.principal.user.clone(),
            },
        }
    }

    /// Whether `id` names a live session at `now` (no side effects: the session does not count as used).
    pub fn is_live(&self, id: &str, now: Instant) -> bool {
        lock(&self.map)
            .get(&session_key(id))
            .is_some_and(|s| !expired(s, now))
    }

    /// Record a re-read user: `Some` = the user's current principal (the session goes on with it), `None` =
    /// the user is gone or disabled (the session ends). Returns the principal to use, `None` when ended.
    pub fn refreshed(
        &self,
        id: &str,
        current: Option<Principal>,
        now: Instant,
    ) -> Option<Principal> {
        let key = session_key(id);
        let mut map = lock(&self.map);
        match current {
            Some(p) => {
                let s = map.get_mut(&key)?;
                s.principal = p.clone();
                s.refreshed = Some(now);
                Some(p)
            }
            None => {
                map.remove(&key);
                None
            }
        }
    }

    /// End a session (logout). True when it existed.
    pub fn remove(&self, id: &str) -> bool {
        lock(&self.map).remove(&session_key(id)).is_some()
    }

    /// Make every session re-read its user before its next use (after a change to the store).
    pub fn mark_stale(&self) {
        for s in lock(&self.map).values_mut() {
            s.refreshed = None;
        }
    }

    /// Number of live and not yet pruned sessions.
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn expired(s: &Session, now: Instant) -> bool {
    now.saturating_duration_since(s.last_used) >= IDLE_TIMEOUT
        || now.saturating_duration_since(s.created) >= ABSOLUTE_TIMEOUT
}

/// Failed logins per key (`user:<name>`, `addr:<ip>`) within [`FAILURE_WINDOW`].
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    pub fn new() -> Self {
        LoginThrottle::default()
    }

    /// True when any of `keys` had [`MAX_FAILURES`] or more failures within the window before `now`.
    pub fn blocked(&self, keys: &[String], now: Instant) -> bool {
        let map = lock(&self.failures);
        keys.iter().any(|k| {
            map.get(k).is_some_and(|q| {
                q.iter()
                    .filter(|&&t| now.saturating_duration_since(t) < FAILURE_WINDOW)
                    .count()
                    >= MAX_FAILURES
            })
        })
    }

    /// Count a failed login against every key.
    pub fn failed(&self, keys: &[String], now: Instant) {
        let mut map = lock(&self.failures);
        if map.len() > 100_000 {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|&t| now.saturating_duration_since(t) < FAILURE_WINDOW)
            });
        }
        for k in keys {
            let q = map.entry(k.clone()).or_default();
            while q
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) >= FAILURE_WINDOW)
            {
                q.pop_front();
            }
            q.push_back(now);
            // More than the limit is never needed to decide.
            while q.len() > MAX_FAILURES {
                q.pop_front();
            }
        }
    }

    /// Forget the failures of `key` (a user's after a successful login).
    pub fn clear(&self, key: &str) {
        lock(&self.failures).remove(key);
    }
}

/// The throttle keys of a login attempt: the user name (case-insensitive) and the client address.
pub fn throttle_keys(user: &str, client: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![format!("user:{}", user.trim().to_lowercase())];
    if let Some(a) = client {
        keys.push(format!("addr:{a}"));
    }
    keys
}

/// The value of the session cookie in `headers`, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value.trim().to_string())
}

/// The `Set-Cookie` value that installs session `id`.
pub fn set_cookie(id: &str, secure: bool) -> String {
    let mut c = format!("{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let mut c = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// CSRF check for a request authenticated by the session cookie: safe methods pass; others need
/// `X-Brandpunt: 1` or an `Origin` whose host (and port) equals the request's `Host`.
pub fn csrf_ok(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if headers
        .get(APP_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1")
    {
        return true;
    }
    let (Some(origin), Some(host)) = (
        headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    !authority.is_empty() && authority.eq_ignore_ascii_case(host.trim())
}

/// The body of `/api/me` for `principal` of tenant `tenant_name`.
pub fn me_body(principal: &Principal, tenant_name: &str) -> serde_json::Value {
    let t = principal.tenant.as_str();
    let address_level = matches!(principal.kind, PrincipalKind::User)
        && principal.categories.iter().any(|c| {
            principal.may(
                t,
                &Action::ViewAddressLevel {
                    category: Some(c.clone()),
                },
            )
        });
    let kind = match &principal.kind {
        PrincipalKind::User => "user",
        PrincipalKind::Delivery { .. } => "delivery",
        PrincipalKind::Anonymous => "anonymous",
    };
    let anonymous = matches!(principal.kind, PrincipalKind::Anonymous);
    serde_json::json!({
        "anonymous": anonymous,
        "kind": kind,
        "user": if anonymous { serde_json::Value::Null } else { principal.user.clone().into() },
        "tenant": t,
        "tenant_name": tenant_name,
        "role": principal.role.as_str(),
        "categories": principal.categories,
        "address_level": address_level,
        "edit_areas": principal.may(t, &Action::EditCustomArea { own: true }),
        "admin": principal.may(t, &Action::ManageUsers),
    })
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user: String,
    password: String,
}

/// Longest accepted user name and password (bytes); longer ones are refused without hashing.
const MAX_USER_BYTES: usize = 200;
const MAX_PASSWORD_BYTES: usize = 1024;

fn too_many() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(RETRY_AFTER, FAILURE_WINDOW.as_secs().to_string())],
        Json(serde_json::json!({
            "error": "te veel mislukte inlogpogingen; probeer het over 15 minuten opnieuw"
        })),
    )
        .into_response()
}

fn tenant_name(state: &AppState, tenant: &str) -> String {
    state
        .snapshot_of(tenant)
        .map(|s| s.tenant_name.clone())
        .unwrap_or_default()
}

async fn login(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // The client address as the security layer resolved it (trusted proxies' `X-Forwarded-For`).
    let client = match parts.extensions.get::<ClientInfo>() {
        Some(info) => info.addr,
        None => ClientInfo::resolve(peer, &parts.headers, &state.trusted_proxies, false).addr,
    };
    let body: Bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::bad("ongeldige aanvraag: body te groot of onleesbaar"))?;
    let LoginBody { user, password } = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad("verwacht JSON {\"user\": \"...\", \"password\": \"...\"}"))?;
    if user.trim().is_empty() || user.len() > MAX_USER_BYTES {
        return Err(ApiError::param("user", "ongeldige gebruikersnaam"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::param("password", "wachtwoord te lang"));
    }
    let keys = throttle_keys(&user, client);
    if state.login_throttle.blocked(&keys, Instant::now()) {
        tracing::warn!(user = %user.trim(), client = ?client, "login geweigerd: te veel mislukte pogingen");
        return Ok(too_many());
    }
    let name = user.clone();
    let principal = state
        .credentials
        .run(move |store| store.verify_password(&name, &password))
        .await?
        .map_err(ApiError::internal)?;
    // A user of a tenant that is not served cannot log in (and learns nothing more than a wrong password).
    let principal = principal.filter(|p| state.snapshot_of(&p.tenant).is_some());
    let Some(principal) = principal else {
        state.login_throttle.failed(&keys, Instant::now());
        tracing::info!(user = %user.trim(), client = ?client, "login mislukt");
        return Err(ApiError::Unauthorized(
            "onjuiste gebruikersnaam of wachtwoord".into(),
        ));
    };
    state.login_throttle.clear(&keys[0]);
    // A new login replaces the session this browser had.
    if let Some(old) = session_cookie(&parts.headers) {
        state.sessions.remove(&old);
    }
    tracing::info!(user = %principal.user, tenant = %principal.tenant, client = ?client, "login gelukt");
    let body = me_body(&principal, &tenant_name(&state, &principal.tenant));
    let id = state.sessions.create(principal, Instant::now());
    let secure = state.config.tls.is_some();
    Ok((
        StatusCode::OK,
        [(SET_COOKIE, set_cookie(&id, secure))],
        Json(body),
    )
        .into_response())
}

async fn logout(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(id) = session_cookie(&headers) {
        if !csrf_ok(&method, &headers) {
            return Err(ApiError::Forbidden(auth::CSRF_MESSAGE.into()));
        }
        if state.sessions.remove(&id) {
            tracing::info!("uitgelogd");
        }
    }
    let secure = state.config.tls.is_some();
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clear_cookie(secure))]).into_response())
}

/// `GET /api/me`: who is calling. A session that ended gives 401 and removes the cookie, so the browser falls
/// back to the anonymous view (when the server has a public tenant) after logging in is offered.
async fn me(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    match auth::principal(&parts, &state).await {
        Ok(p) => {
            let body = me_body(&p, &tenant_name(&state, &p.tenant));
            Ok(Json(body).into_response())
        }
        Err(e) => {
            let mut r = e.into_response();
            if session_cookie(&parts.headers).is_some() && r.status() == StatusCode::UNAUTHORIZED {
                if let Ok(v) = clear_cookie(state.config.tls.is_some()).parse() {
                    r.headers_mut().insert(SET_COOKIE, v);
                }
            }
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Role;
    use axum::http::HeaderValue;

    fn user(name: &str, role: Role) -> Principal {
        Principal {
            tenant: "default".into(),
            user: name.into(),
            role,
            categories: vec!["*".into()],
            kind: PrincipalKind::User,
        }
    }

    #[test]
    fn sessions_expire_when_idle_and_absolutely() {
        let s = Sessions::new();
        let t0 = Instant::now();
        let id = s.create(user("a", Role::Analyst), t0);
        // 32 random bytes in unpadded base64url = 43 characters.
        assert_eq!(id.len(), 43);
        assert!(URL_SAFE_NO_PAD.decode(&id).unwrap().len() == 32);
        assert_eq!(
            s.lookup(&id, t0 + Duration::from_secs(1)),
            Lookup::Valid(user("a", Role::Analyst))
        );
        assert_eq!(s.lookup("iets-anders", t0), Lookup::Missing);
        // Used every 29 minutes it lives on (refreshing as needed) until 12 h after the login.
        let mut t = t0;
        while t + Duration::from_secs(29 * 60) < t0 + ABSOLUTE_TIMEOUT {
            t += Duration::from_secs(29 * 60);
            match s.lookup(&id, t) {
                Lookup::Refresh { user } => {
                    assert_eq!(user, "a");
                    assert!(s
                        .refreshed(&id, Some(super::tests::user("a", Role::Analyst)), t)
                        .is_some());
                }
                other => panic!("{other:?} at {:?}", t - t0),
            }
        }
        assert_eq!(s.lookup(&id, t0 + ABSOLUTE_TIMEOUT), Lookup::Missing);
        // Idle: 30 minutes without a request ends it, 29:59 does not.
        let id = s.create(user("b", Role::Viewer), t0);
        assert!(matches!(
            s.lookup(&id, t0 + IDLE_TIMEOUT - Duration::from_secs(1)),
            Lookup::Refresh { .. }
        ));
        let last = t0 + IDLE_TIMEOUT - Duration::from_secs(1);
        assert_eq!(s.lookup(&id, last + IDLE_TIMEOUT), Lookup::Missing);
        // Once ended, it stays ended.
        assert_eq!(s.lookup(&id, last), Lookup::Missing);
    }

    #[test]
    fn refresh_is_due_after_30_s_or_after_a_change_and_can_end_the_session() {
        let s = Sessions::new();
        let t0 = Instant::now();
        let id = s.create(user("a", Role::Analyst), t0);
        assert!(matches!(
            s.lookup(&id, t0 + REFRESH_INTERVAL - Duration::from_millis(1)),
            Lookup::Valid(_)
        ));
        assert!(matches!(
            s.lookup(&id, t0 + REFRESH_INTERVAL),
            Lookup::Refresh { .. }
        ));
        // The re-read role applies from now on.
        let now = t0 + REFRESH_INTERVAL;
        assert_eq!(
            s.refreshed(&id, Some(user("a", Role::Viewer)), now),
            Some(user("a", Role::Viewer))
        );
        assert_eq!(s.lookup(&id, now), Lookup::Valid(user("a", Role::Viewer)));
        s.mark_stale();
        assert!(matches!(s.lookup(&id, now), Lookup::Refresh { .. }));
        // A disabled user: the session ends.
        assert_eq!(s.refreshed(&id, None, now), None);
        assert_eq!(s.lookup(&id, now), Lookup::Missing);
        // Logout.
        let id = s.create(user("c", Role::Admin), now);
        assert!(s.remove(&id));
        assert!(!s.remove(&id));
        assert_eq!(s.lookup(&id, now), Lookup::Missing);
    }

    #[test]
    fn throttle_blocks_after_ten_failures_within_the_window() {
        let th = LoginThrottle::new();
        let addr: IpAddr = "10.0.0.7".parse().unwrap();
        let other: IpAddr = "10.0.0.8".parse().unwrap();
        let t0 = Instant::now();
        let keys = throttle_keys("Jan", Some(addr));
        for i in 0..MAX_FAILURES {
            assert!(!th.blocked(&keys, t0), "after {i} failures");
            th.failed(&keys, t0 + Duration::from_secs(i as u64));
        }
        let t = t0 + Duration::from_secs(60);
        assert!(th.blocked(&keys, t));
        // The same user from another address, and another user from the same address: both blocked.
        assert!(th.blocked(&throttle_keys("jan", Some(other)), t));
        assert!(th.blocked(&throttle_keys("piet", Some(addr)), t));
        assert!(!th.blocked(&throttle_keys("piet", Some(other)), t));
        // When the window has passed for the oldest failures, attempts are allowed again.
        assert!(!th.blocked(&keys, t0 + FAILURE_WINDOW + Duration::from_secs(1)));
        th.clear("user:jan");
        assert!(!th.blocked(&throttle_keys("jan", Some(other)), t));
    }

    #[test]
    fn the_client_address_is_taken_from_trusted_proxies_only() {
        use crate::proxy::TrustedProxies;
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.1.2.3"),
        );
        let trusted =
            TrustedProxies::parse(&["127.0.0.1".to_string(), "10.0.0.0/8".to_string()]).unwrap();
        let client_ip = |peer: Option<IpAddr>, h: &HeaderMap| {
            ClientInfo::resolve(peer, h, &trusted, false).addr
        };
        // An untrusted peer: its own address, whatever it claims.
        assert_eq!(
            client_ip(Some(ip("198.51.100.4")), &h),
            Some(ip("198.51.100.4"))
        );
        // A trusted proxy: the right-most address that is not a trusted proxy (6.6.6.6 may be forged).
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &h),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client_ip(Some(ip("10.9.9.9")), &HeaderMap::new()),
            Some(ip("10.9.9.9"))
        );
        assert_eq!(client_ip(None, &h), None);
        let ip_matches = |a: IpAddr, entry: &str| {
            TrustedProxies::parse(&[entry.to_string()]).is_ok_and(|t| t.contains(a))
        };
        assert!(ip_matches(ip("10.255.0.1"), "10.0.0.0/8"));
        assert!(!ip_matches(ip("11.0.0.1"), "10.0.0.0/8"));
        assert!(ip_matches(ip("fd00::1"), "fd00::/8"));
        assert!(!ip_matches(ip("fe00::1"), "fd00::/8"));
        assert!(!ip_matches(ip("10.0.0.1"), "geen adres"));
        assert!(ip_matches(ip("192.0.2.1"), "0.0.0.0/0"));
    }

    #[test]
    fn cookies_are_read_and_written() {
        let mut h = HeaderMap::new();
        assert_eq!(session_cookie(&h), None);
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; brandpunt_sessie=abc_-9; b=2"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc_-9"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("x=1"));
        h.append(COOKIE, HeaderValue::from_static("brandpunt_sessie=zz"));
        assert_eq!(session_cookie(&h).as_deref(), Some("zz"));
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("xbrandpunt_sessie=zz; brandpunt_sessie="),
        );
        assert_eq!(session_cookie(&h), None);
        assert_eq!(
            set_cookie("ID", false),
            "brandpunt_sessie=ID; HttpOnly; SameSite=Strict; Path=/"
        );
        assert!(set_cookie("ID", true).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn csrf_needs_same_origin_or_the_app_header_for_unsafe_methods() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert!(csrf_ok(&Method::GET, &h(&[])));
        assert!(!csrf_ok(&Method::POST, &h(&[])));
        assert!(!csrf_ok(&Method::DELETE, &h(&[("host", "kaart.nl")])));
        assert!(csrf_ok(&Method::POST, &h(&[("x-brandpunt", "1")])));
        assert!(!csrf_ok(&Method::POST, &h(&[("x-brandpunt", "0")])));
        assert!(csrf_ok(
            &Method::PUT,
            &h(&[
                ("host", "kaart.nl:8443"),
                ("origin", "https://kaart.nl:8443")
            ])
        ));
        assert!(!csrf_ok(
            &Method::PUT,
            &h(&[("host", "kaart.nl:8443"), ("origin", "https://kaart.nl")])
        ));
        assert!(!csrf_ok(
            &Method::POST,
            &h(&[
                ("host", "kaart.nl"),
                ("origin", "https://kaart.nl.boos.example")
            ])
        ));
        assert!(!csrf_ok(
            &Method::POST,
            &h(&[("host", "kaart.nl"), ("origin", "null")])
        ));
    }

    #[test]
    fn me_tells_what_a_principal_may() {
        let v = me_body(&user("a", Role::Analyst), "Demostad");
        assert_eq!(v["anonymous"], false);
        assert_eq!(v["user"], "a");
        assert_eq!(v["tenant_name"], "Demostad");
        assert_eq!(
            (&v["address_level"], &v["edit_areas"], &v["admin"]),
            (&true.into(), &true.into(), &false.into())
        );
        let mut viewer = user("v", Role::Viewer);
        let v = me_body(&viewer, "Demostad");
        assert_eq!(
            (v["address_level"].as_bool(), v["edit_areas"].as_bool()),
            (Some(false), Some(false))
        );
        viewer.role = Role::Admin;
        viewer.categories.clear();
        let v = me_body(&viewer, "Demostad");
        assert_eq!(
            (v["address_level"].as_bool(), v["admin"].as_bool()),
            (Some(false), Some(true))
        );
        let v = me_body(&Principal::anonymous("default"), "Demostad");
        assert_eq!(v["anonymous"], true);
        assert!(v["user"].is_null());
        assert_eq!(v["address_level"], false);
        assert_eq!(v["edit_areas"], false);
    }
}
