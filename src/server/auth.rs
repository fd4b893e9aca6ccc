//! Who is calling: every request is resolved to an [`crate::access::Principal`] before a handler sees it.
//!
//! Credentials, in this order:
//! 1. `Authorization: Bearer bp_<id>_<secret>`: an API or delivery token ([`crate::access`]).
//! 2. `Authorization: Bearer <JWT>` (any bearer token not starting with `bp_`) when `[oidc]` is configured: an
//!    OpenID Connect token ([`crate::oidc`]); its user name claim must name an enabled brandpunt user, whose
//!    tenant, role and grants apply (the user is re-read at most every [`TOKEN_CACHE_TTL`]).
//! 3. `Authorization: Basic` with the token as password (any user name): for BI tools (Tableau, Power BI,
//!    QGIS) whose WMS/tile connections only offer a user name and password.
//! 4. The web login's session cookie `brandpunt_sessie` ([`super::session`]). A state-changing request
//!    authenticated this way needs `X-Brandpunt: 1` or a same-host `Origin` (CSRF), else 403.
//! 5. No credentials: the anonymous principal of the openly published tenant (`serve --public-tenant`), or
//!    401 when there is none.
//!
//! Presented but invalid credentials (an ended session included) always give 401 (never a silent fall-back to
//! anonymous). A token check
//! costs one argon2 verification (~31 ms, 19 MiB), run by the credential workers
//! ([`super::credential_worker`]), so results (positive and negative) are cached for [`TOKEN_CACHE_TTL`] under the
//! SHA-256 of the token: revoking a token or disabling a user takes effect within that time. A valid token still
//! in use is re-checked in the background after [`TOKEN_REFRESH_AFTER`], so its requests never wait for argon2
//! again; simultaneous first uses of one token share one check. The token itself is never logged or kept in
//! memory beyond the request (and its background re-check).
//!
//! Handlers take a [`Caller`] (any principal that may see aggregates of its tenant, with that tenant's
//! snapshot) or an [`AnyCaller`] (also delivery tokens); tenant scoping is therefore structural: a handler only
//! ever gets the snapshot of the caller's own tenant.

use super::{cookie, ApiError, AppState, Snapshot};
use crate::access::{Action, Principal};
use crate::store::ServerStore;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a token check is remembered.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(30);

/// Age after which a remembered valid token is re-checked in the background while the remembered answer is
/// still served, so a token in steady use never waits for argon2 after its first request.
pub const TOKEN_REFRESH_AFTER: Duration = Duration::from_secs(20);

/// Remembered token checks: SHA-256 of the token -> (principal or `None` for a refused token, when checked).
pub struct TokenCache {
    cache: quick_cache::sync::Cache<[u8; 32], (Option<Principal>, Instant)>,
    /// Keys with a background re-check under way (at most one per token).
    refreshing: Mutex<HashSet<[u8; 32]>>,
}

/// What the cache knows about a token.
enum Remembered {
    /// Checked less than [`TOKEN_REFRESH_AFTER`] ago (or refused less than [`TOKEN_CACHE_TTL`] ago).
    Fresh(Option<Principal>),
    /// Valid when checked, between [`TOKEN_REFRESH_AFTER`] and [`TOKEN_CACHE_TTL`] ago: usable, due a re-check.
    Due(Principal),
    Unknown,
}

impl TokenCache {
    pub fn new(entries: usize) -> Self {
        TokenCache {
            cache: quick_cache::sync::Cache::new(entries.max(16)),
            refreshing: Mutex::new(HashSet::new()),
        }
    }

    fn get(&self, key: &[u8; 32]) -> Option<Option<Principal>> {
        let (principal, at) = self.cache.get(key)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then_some(principal)
    }

    fn lookup(&self, key: &[u8; 32]) -> Remembered {
        let Some((principal, at)) = self.cache.get(key) else {
            return Remembered::Unknown;
        };
        let age = at.elapsed();
        match principal {
            _ if age >= TOKEN_CACHE_TTL => Remembered::Unknown,
            Some(p) if age >= TOKEN_REFRESH_AFTER => Remembered::Due(p),
            p => Remembered::Fresh(p),
        }
    }

    /// Remembered token checks (valid and refused).
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether no token check is remembered.
    pub fn is_empty(&self) -> bool {
        self.cache.len() == 0
    }

    fn insert(&self, key: [u8; 32], principal: Option<Principal>) {
        self.cache.insert(key, (principal, Instant::now()));
    }

    /// Claim the background re-check of `key`; false when one is already under way.
    fn start_refresh(&self, key: [u8; 32]) -> bool {
        match self.refreshing.lock() {
            Ok(mut set) => set.insert(key),
            Err(poisoned) => poisoned.into_inner().insert(key),
        }
    }

    fn end_refresh(&self, key: &[u8; 32]) {
        match self.refreshing.lock() {
            Ok(mut set) => set.remove(key),
            Err(poisoned) => poisoned.into_inner().remove(key),
        };
    }

    /// Forget every remembered check (after a token was revoked or a user disabled through the API).
    pub fn clear(&self) {
        self.cache.clear();
    }
}

/// The 403 message of a cookie-authenticated state-changing request without the CSRF marks.
pub const CSRF_MESSAGE: &str =
    "verzoek geweigerd: stuur de header X-Brandpunt: 1 of een Origin van deze server";

/// The presented credential, if any.
enum Credential {
    None,
    /// A brandpunt token (`bp_...`, from Bearer or Basic).
    Token(String),
    /// A bearer token that is not a brandpunt token: an OpenID Connect JWT.
    Jwt(String),
    Malformed(&'static str),
}

fn credential(parts: &Parts) -> Credential {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Credential::None;
    };
    let Ok(value) = value.to_str() else {
        return Credential::Malformed("ongeldige Authorization-header");
    };
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim();
        if token.starts_with("bp_") {
            Credential::Token(token.to_string())
        } else {
            Credential::Jwt(token.to_string())
        }
    } else if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = STANDARD.decode(rest.trim()) else {
            return Credential::Malformed("ongeldige Basic-authenticatie");
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return Credential::Malformed("ongeldige Basic-authenticatie");
        };
        match text.split_once(':') {
            Some((_, password)) => Credential::Token(password.to_string()),
            None => Credential::Malformed("ongeldige Basic-authenticatie"),
        }
    } else {
        Credential::Malformed("onbekend authenticatieschema (gebruik Bearer of Basic)")
    }
}

/// Check a token through the cache; a miss is checked by a credential worker ([`super::credential_worker`]),
/// which looks in the cache again first, so concurrent requests with the same token cost one argon2 check.
async fn check_token(state: &Arc<AppState>, token: String) -> Result<Option<Principal>, ApiError> {
    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    match state.token_cache.lookup(&key) {
        Remembered::Fresh(p) => return Ok(p),
        Remembered::Due(p) => {
            if state.token_cache.start_refresh(key) {
                let st = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = verify_token(&st, key, token, true).await {
                        tracing::warn!(error = ?e, "background token re-check failed");
                    }
                    st.token_cache.end_refresh(&key);
                });
            }
            return Ok(Some(p));
        }
        Remembered::Unknown => {}
    }
    verify_token(state, key, token, false).await
}

/// Verify `token` (SHA-256 `key`) on a credential worker and remember the answer. Unless `again`, an answer
/// another request remembered meanwhile is used instead.
async fn verify_token(
    state: &Arc<AppState>,
    key: [u8; 32],
    token: String,
    again: bool,
) -> Result<Option<Principal>, ApiError> {
    let st = state.clone();
    state
        .credentials
        .run(move |store| {
            if !again {
                if let Some(hit) = st.token_cache.get(&key) {
                    return Ok(hit);
                }
            }
            st.metrics.token_checks.fetch_add(1, Ordering::Relaxed);
            let principal = store.authenticate(&token)?;
            st.token_cache.insert(key, principal.clone());
            Ok(principal)
        })
        .await?
        .map_err(|e: crate::store::PrivacyError| ApiError::internal(e))
}

/// The current principal of an enabled user (`None`: unknown or disabled), read by a credential worker.
async fn read_user(state: &Arc<AppState>, user: String) -> Result<Option<Principal>, ApiError> {
    state
        .credentials
        .run(move |store| store.user_principal(&user))
        .await?
        .map_err(ApiError::internal)
}

/// The user named by a valid OpenID Connect token, through the cache (key: SHA-256 of `oidc\0<user>`, so it
/// never meets a token's key).
async fn check_jwt(state: &Arc<AppState>, token: &str) -> Result<Option<Principal>, ApiError> {
    let Some(verifier) = &state.oidc else {
        return Ok(None);
    };
    let user = match verifier.verify(token) {
        Ok(u) => u,
        Err(reason) => {
            tracing::debug!(%reason, "OpenID Connect token refused");
            return Ok(None);
        }
    };
    let mut h = Sha256::new();
    h.update(b"oidc\0");
    h.update(user.as_bytes());
    let key: [u8; 32] = h.finalize().into();
    if let Some(hit) = state.token_cache.get(&key) {
        return Ok(hit);
    }
    let principal = read_user(state, user).await?;
    state.token_cache.insert(key, principal.clone());
    Ok(principal)
}

/// The principal of a session cookie, read with its user from the store ([`crate::session::session_state`]
/// decides; an expired session or one of a disabled user is deleted, a due last use written); 401 when the
/// session ended, 403 for a state-changing request without the CSRF marks.
async fn check_session(
    parts: &Parts,
    state: &Arc<AppState>,
    id: &str,
) -> Result<Principal, ApiError> {
    let ended = || ApiError::Unauthorized("sessie verlopen of beëindigd; log opnieuw in".into());
    let key = crate::session::session_key(id);
    let principal = state
        .session_store
        .run(move |store| session_principal(store, &key, crate::session::now_ms()))
        .await?
        .map_err(ApiError::internal)?;
    let Some(principal) = principal else {
        state.seen_sessions.remove(&key);
        return Err(ended());
    };
    state.seen_sessions.insert(key, ());
    if !cookie::csrf_ok(&parts.method, &parts.headers) {
        return Err(ApiError::Forbidden(CSRF_MESSAGE.into()));
    }
    Ok(principal)
}

/// The principal of the session stored under `key` at `now_ms`, `None` when there is none or it ended
/// (deleted then); writes the last use when due ([`crate::session::TOUCH_INTERVAL`]).
pub fn session_principal(
    store: &dyn ServerStore,
    key: &[u8; 32],
    now_ms: i64,
) -> Result<Option<Principal>, crate::store::PrivacyError> {
    use crate::session::{session_state, SessionState};
    let Some(stored) = store.session(key)? else {
        return Ok(None);
    };
    match (session_state(&stored.times, now_ms), stored.principal) {
        (SessionState::Live { touch }, Some(p)) => {
            if touch {
                store.touch_session(key, now_ms)?;
            }
            Ok(Some(p))
        }
        // Expired, or the user was disabled.
        _ => {
            store.end_session(key)?;
            Ok(None)
        }
    }
}

/// The principal of a request: see the module docs for the order. 401 for bad or missing credentials.
pub async fn principal(parts: &Parts, state: &Arc<AppState>) -> Result<Principal, ApiError> {
    let refused = || ApiError::Unauthorized("onbekend, verlopen of ingetrokken token".into());
    match credential(parts) {
        Credential::Token(token) => check_token(state, token).await?.ok_or_else(refused),
        Credential::Jwt(token) => check_jwt(state, &token).await?.ok_or_else(refused),
        Credential::Malformed(reason) => Err(ApiError::Unauthorized(reason.into())),
        Credential::None => {
            if let Some(id) = cookie::session_cookie(&parts.headers) {
                return check_session(parts, state, &id).await;
            }
            match &state.config.public_tenant {
                Some(tenant) => Ok(Principal::anonymous(tenant)),
                None => Err(ApiError::Unauthorized("inloggen vereist".into())),
            }
        }
    }
}

/// A caller allowed to see aggregates of its tenant ([`Action::ViewAggregates`]), with that tenant's current
/// snapshot. Delivery tokens are refused with 403.
pub struct Caller {
    pub principal: Principal,
    pub snapshot: Arc<Snapshot>,
}

impl Caller {
    /// The caller's tenant code.
    pub fn tenant(&self) -> &str {
        &self.principal.tenant
    }

    /// 403 unless the caller may perform `action` on its tenant.
    pub fn require(&self, action: &Action) -> Result<(), ApiError> {
        if self.principal.may(&self.principal.tenant, action) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("geen toegang".into()))
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let principal = principal(parts, state).await?;
        if !principal.may(&principal.tenant, &Action::ViewAggregates) {
            return Err(ApiError::Forbidden("geen toegang".into()));
        }
        // A principal of a tenant that no longer exists sees nothing (and learns nothing about others).
        let snapshot = state
            .snapshot_of(&principal.tenant)
            .ok_or_else(|| ApiError::Forbidden("geen toegang".into()))?;
        Ok(Caller {
            principal,
            snapshot,
        })
    }
}

/// Any authenticated caller (including delivery tokens); the handler checks what it may do.
pub struct AnyCaller(pub Principal);

impl FromRequestParts<Arc<AppState>> for AnyCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(AnyCaller(principal(parts, state).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(auth: Option<&str>) -> Parts {
        let mut b = Request::builder().uri("/api/meta");
        if let Some(a) = auth {
            b = b.header(AUTHORIZATION, a);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn credentials_are_read_from_bearer_and_basic() {
        assert!(matches!(credential(&parts(None)), Credential::None));
        assert!(
            matches!(credential(&parts(Some("Bearer bp_x"))), Credential::Token(t) if t == "bp_x")
        );
        assert!(
            matches!(credential(&parts(Some("bearer  bp_y "))), Credential::Token(t) if t == "bp_y")
        );
        assert!(
            matches!(credential(&parts(Some("Bearer eyJ.a.b"))), Credential::Jwt(t) if t == "eyJ.a.b")
        );
        let basic = format!("Basic {}", STANDARD.encode("tableau:bp_z"));
        assert!(matches!(credential(&parts(Some(&basic))), Credential::Token(t) if t == "bp_z"));
        for bad in ["Basic !!!", "Digest abc", "Basic dGFibGVhdQ=="] {
            assert!(
                matches!(credential(&parts(Some(bad))), Credential::Malformed(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn cached_checks_expire() {
        let c = TokenCache::new(16);
        let p = Principal::anonymous("t");
        c.insert([1; 32], Some(p.clone()));
        c.insert([2; 32], None);
        assert_eq!(c.get(&[1; 32]), Some(Some(p)));
        assert_eq!(c.get(&[2; 32]), Some(None));
        assert_eq!(c.get(&[3; 32]), None);
        if let Some(old) = Instant::now().checked_sub(TOKEN_CACHE_TTL + Duration::from_secs(1)) {
            c.cache.insert([4; 32], (None, old));
            assert_eq!(c.get(&[4; 32]), None);
        }
    }

    #[test]
    fn valid_tokens_are_due_a_recheck_before_they_expire_refused_ones_are_not() {
        let c = TokenCache::new(16);
        let p = Principal::anonymous("t");
        let ago = |s: u64| Instant::now().checked_sub(Duration::from_secs(s));
        let (Some(t10), Some(t25), Some(t31)) = (ago(10), ago(25), ago(31)) else {
            return; // a machine up for less than 31 s
        };
        c.cache.insert([1; 32], (Some(p.clone()), t10));
        c.cache.insert([2; 32], (Some(p.clone()), t25));
        c.cache.insert([3; 32], (Some(p.clone()), t31));
        c.cache.insert([4; 32], (None, t25));
        assert!(matches!(c.lookup(&[1; 32]), Remembered::Fresh(Some(_))));
        assert!(matches!(c.lookup(&[2; 32]), Remembered::Due(_)));
        assert!(matches!(c.lookup(&[3; 32]), Remembered::Unknown));
        assert!(matches!(c.lookup(&[4; 32]), Remembered::Fresh(None)));
        assert!(matches!(c.lookup(&[5; 32]), Remembered::Unknown));
        // One background re-check per token at a time.
        assert!(c.start_refresh([2; 32]));
        assert!(!c.start_refresh([2; 32]));
        c.end_refresh(&[2; 32]);
        assert!(c.start_refresh([2; 32]));
    }
}
