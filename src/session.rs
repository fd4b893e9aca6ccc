//! Web sessions and the failed-login throttle as rules over stored rows: the timeouts, when a session's last
//! use is written, and when a user name or client address is blocked. The rows themselves live in the store
//! ([`crate::store::SessionStore`]), so every `serve` process on one database (PostgreSQL replicas, or several
//! processes on one SQLite file) sees the same sessions and counts the same failed logins. Every rule takes the
//! current time (wall-clock milliseconds since the Unix epoch, shared by all processes), so the rules are
//! testable without a clock. The HTTP side (cookie, `/api/login`, `/api/logout`, `/api/me`, CSRF) is in
//! `server::session` and `server::cookie`.
//!
//! A session id is 32 random bytes in unpadded base64url; only its SHA-256 ([`session_key`]) is stored.
//!
//! ```
//! use brandpunt::session::{session_state, SessionState, SessionTimes, IDLE_TIMEOUT, TOUCH_INTERVAL};
//! let t0 = 1_700_000_000_000;
//! let times = SessionTimes { created_ms: t0, last_used_ms: t0 };
//! assert_eq!(session_state(&times, t0 + 1), SessionState::Live { touch: false });
//! let later = t0 + TOUCH_INTERVAL.as_millis() as i64;
//! assert_eq!(session_state(&times, later), SessionState::Live { touch: true });
//! assert_eq!(session_state(&times, t0 + IDLE_TIMEOUT.as_millis() as i64), SessionState::Expired);
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A session ends after this long without a request (measured from its stored last use, which is written at
/// most every [`TOUCH_INTERVAL`]: a session in steady use may therefore end up to that much earlier).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after the login, however active.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// A session's last use is written to the store at most this often (a request within this time after the
/// stored last use only reads its row).
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// Failed logins per user name or client address allowed within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 10;
/// Window over which failed logins are counted.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Milliseconds of a duration (the constants above are far below `i64::MAX` ms).
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The current wall-clock time in milliseconds since the Unix epoch (0 for a clock before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(ms)
        .unwrap_or(0)
}

/// The key a session is stored under: SHA-256 of its id (the id itself is never stored).
pub fn session_key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// A new session id (the cookie value): 32 random bytes in unpadded base64url, 43 characters.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored times of a session (ms since the Unix epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimes {
    /// The login.
    pub created_ms: i64,
    /// The last use written (see [`TOUCH_INTERVAL`]).
    pub last_used_ms: i64,
}

/// What a stored session is at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Live; `touch`: write `now` as its last use.
    Live { touch: bool },
    /// Idle too long or older than the absolute timeout: delete it.
    Expired,
}

/// The state of a session with `times` at `now_ms`.
pub fn session_state(times: &SessionTimes, now_ms: i64) -> SessionState {
    let cutoffs = ExpiryCutoffs::at(now_ms);
    if times.last_used_ms <= cutoffs.idle_before_ms || times.created_ms <= cutoffs.created_before_ms
    {
        return SessionState::Expired;
    }
    SessionState::Live {
        touch: now_ms.saturating_sub(times.last_used_ms) >= ms(TOUCH_INTERVAL),
    }
}

/// Which stored sessions have expired at a moment: those last used at or before `idle_before_ms`, and those
/// created at or before `created_before_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiryCutoffs {
    pub idle_before_ms: i64,
    pub created_before_ms: i64,
}

impl ExpiryCutoffs {
    /// The cutoffs at `now_ms`.
    pub fn at(now_ms: i64) -> ExpiryCutoffs {
        ExpiryCutoffs {
            idle_before_ms: now_ms.saturating_sub(ms(IDLE_TIMEOUT)),
            created_before_ms: now_ms.saturating_sub(ms(ABSOLUTE_TIMEOUT)),
        }
    }
}

/// Failed logins at or before this moment no longer count at `now_ms` (and may be deleted).
pub fn failures_forgotten_before(now_ms: i64) -> i64 {
    now_ms.saturating_sub(ms(FAILURE_WINDOW))
}

/// Whether a login is refused, given the most failures counted within the window for any of its keys.
pub fn throttled(most_failures: usize) -> bool {
    most_failures >= MAX_FAILURES
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

    const MIN: i64 = 60_000;

    #[test]
    fn sessions_expire_when_idle_and_absolutely() {
        let t0 = 1_700_000_000_000;
        let id = new_session_id();
        // 32 random bytes in unpadded base64url = 43 characters; the key is its SHA-256.
        assert_eq!(id.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(&id).unwrap().len(), 32);
        assert_ne!(session_key(&id), session_key(&new_session_id()));
        let mut times = SessionTimes {
            created_ms: t0,
            last_used_ms: t0,
        };
        // Used every 29 minutes it lives on until 12 h after the login.
        let mut t = t0;
        while t + 29 * MIN < t0 + ms(ABSOLUTE_TIMEOUT) {
            t += 29 * MIN;
            assert_eq!(
                session_state(&times, t),
                SessionState::Live { touch: true },
                "{} min",
                (t - t0) / MIN
            );
            times.last_used_ms = t;
        }
        assert_eq!(
            session_state(&times, t0 + ms(ABSOLUTE_TIMEOUT)),
            SessionState::Expired
        );
        // Idle: 30 minutes without a (written) use ends it, 29:59 does not.
        let times = SessionTimes {
            created_ms: t0,
            last_used_ms: t0,
        };
        assert!(matches!(
            session_state(&times, t0 + ms(IDLE_TIMEOUT) - 1000),
            SessionState::Live { .. }
        ));
        assert_eq!(
            session_state(&times, t0 + ms(IDLE_TIMEOUT)),
            SessionState::Expired
        );
        // The last use is written at most once per TOUCH_INTERVAL.
        assert_eq!(
            session_state(&times, t0 + ms(TOUCH_INTERVAL) - 1),
            SessionState::Live { touch: false }
        );
        let cut = ExpiryCutoffs::at(t0 + ms(IDLE_TIMEOUT));
        assert_eq!(cut.idle_before_ms, t0);
        assert_eq!(
            cut.created_before_ms,
            t0 + ms(IDLE_TIMEOUT) - ms(ABSOLUTE_TIMEOUT)
        );
    }

    #[test]
    fn throttle_blocks_at_ten_failures_within_the_window() {
        assert!(!throttled(MAX_FAILURES - 1));
        assert!(throttled(MAX_FAILURES));
        let now = 1_700_000_000_000;
        assert_eq!(failures_forgotten_before(now), now - 15 * MIN);
        let addr: IpAddr = "10.0.0.7".parse().unwrap();
        assert_eq!(
            throttle_keys(" Jan ", Some(addr)),
            ["user:jan", "addr:10.0.0.7"]
        );
        assert_eq!(throttle_keys("jan", None), ["user:jan"]);
    }
}
