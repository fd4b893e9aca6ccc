//! Web sessions as plain state: the in-memory session table ([`Sessions`]: ids, idle and absolute timeouts, when
//! the user must be re-read) and the failed-login throttle ([`LoginThrottle`]). Every method takes the current
//! time, so the rules are testable without a clock. The HTTP side (cookie, `/api/login`, `/api/logout`,
//! `/api/me`, CSRF) is in `server::session` and `server::cookie`.
//!
//! A session id is 32 random bytes in unpadded base64url; only its SHA-256 is kept.
//!
//! ```
//! use brandpunt::access::{Principal, PrincipalKind, Role};
//! use brandpunt::session::{Lookup, Sessions, IDLE_TIMEOUT};
//! use std::time::Instant;
//! let sessions = Sessions::new();
//! let alice = Principal {
//!     tenant: "default".into(),
//!     user: "alice".into(),
//!     role: Role::Analyst,
//!     categories: vec!["*".into()],
//!     relations: false,
//!     kind: PrincipalKind::User,
//! };
//! let t0 = Instant::now();
//! let id = sessions.create(alice.clone(), t0);
//! assert_eq!(sessions.lookup(&id, t0), Lookup::Valid(alice));
//! assert_eq!(sessions.lookup(&id, t0 + IDLE_TIMEOUT * 2), Lookup::Missing);
//! ```

use crate::access::Principal;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{PrincipalKind, Role};

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
}
