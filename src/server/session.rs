//! Web login: password sessions with a cookie, `POST /api/login`, `POST /api/logout`, `GET /api/me`.
//!
//! - `POST /api/login` with `{"user", "password"}` checks the password ([`crate::store::PrivacyStore::verify_password`]) and
//!   answers 200 with the body of `/api/me` and `Set-Cookie: brandpunt_sessie=<id>; HttpOnly; SameSite=Strict;
//!   Path=/` (plus `Secure` when the server runs TLS). The id is 32 random bytes in unpadded base64url; the
//!   store keeps only its SHA-256 ([`crate::store::SessionStore`]), so every `serve` process on the database
//!   (replicas) knows the session, a logout on one ends it on all, and a restart ends none.
//! - A session ends after [`crate::session::IDLE_TIMEOUT`] without requests and at the latest
//!   [`crate::session::ABSOLUTE_TIMEOUT`] after the login; its last use is written at most every
//!   [`crate::session::TOUCH_INTERVAL`]. Each request reads the session with its user (one indexed lookup, on the
//!   session workers: never behind argon2 checks), so disabling a user or changing a role applies from the next
//!   request.
//! - Failed logins are counted in the store per user name and per client address: after
//!   [`crate::session::MAX_FAILURES`] failures within [`crate::session::FAILURE_WINDOW`] (on any replica) further
//!   attempts get 429 until the window has passed.
//! - CSRF: a state-changing request (not GET/HEAD/OPTIONS) authenticated by the cookie needs an `Origin` of the
//!   same host or the header `X-Brandpunt: 1` ([`csrf_ok`]); see [`super::auth`].
//! - `GET /api/me` tells the web app who is calling and what they may (`anonymous: true` for callers of the
//!   public tenant).
//!
//! Logins are logged (user name, client address, outcome) through `tracing`, never the password. The audit log
//! is not involved: it records access to address-level data.

use super::cookie::{clear_cookie, csrf_ok, session_cookie, set_cookie};
use super::security::ClientInfo;
use super::{auth, ApiError, AppState};
use crate::access::{Action, Principal, PrincipalKind};
use crate::session::{
    new_session_id, now_ms, session_key, throttle_keys, throttled, FAILURE_WINDOW,
};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

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
        "relations": principal.may(t, &Action::ViewRelations),
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
    let check_keys = keys.clone();
    let failures = state
        .session_store
        .run(move |store| store.login_failures(&check_keys, now_ms()))
        .await?
        .map_err(ApiError::internal)?;
    if throttled(failures) {
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
        state
            .session_store
            .run(move |store| store.record_login_failure(&keys, now_ms()))
            .await?
            .map_err(ApiError::internal)?;
        tracing::info!(user = %user.trim(), client = ?client, "login mislukt");
        return Err(ApiError::Unauthorized(
            "onjuiste gebruikersnaam of wachtwoord".into(),
        ));
    };
    // A new login replaces the session this browser had.
    let old = session_cookie(&parts.headers).map(|id| session_key(&id));
    let id = new_session_id();
    let key = session_key(&id);
    let user_key = keys[0].clone();
    let name = principal.user.clone();
    state
        .session_store
        .run(move |store| -> Result<(), crate::store::PrivacyError> {
            store.clear_login_failures(&user_key)?;
            if let Some(old) = old {
                store.end_session(&old)?;
            }
            store.create_session(&key, &name, now_ms())
        })
        .await?
        .map_err(ApiError::internal)?;
    if let Some(old) = old {
        state.seen_sessions.remove(&old);
    }
    state.seen_sessions.insert(key, ());
    tracing::info!(user = %principal.user, tenant = %principal.tenant, client = ?client, "login gelukt");
    let body = me_body(&principal, &tenant_name(&state, &principal.tenant));
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
        let key = session_key(&id);
        state.seen_sessions.remove(&key);
        let ended = state
            .session_store
            .run(move |store| store.end_session(&key))
            .await?
            .map_err(ApiError::internal)?;
        if ended {
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
    use axum::http::{HeaderMap, HeaderValue};
    use std::net::IpAddr;

    fn user(name: &str, role: Role) -> Principal {
        Principal {
            tenant: "default".into(),
            user: name.into(),
            role,
            categories: vec!["*".into()],
            relations: false,
            kind: PrincipalKind::User,
        }
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
