//! Web sessions and failed logins as rows of the store ([`SessionStore`]), so every `serve` process on one
//! database shares them: a login on one PostgreSQL replica (or one process on a SQLite file) holds on all, a
//! logout anywhere ends it everywhere, and failed logins count wherever they happen. The rules (timeouts,
//! thresholds, when a last use is written) are in [`crate::session`]; a store only keeps rows and applies the
//! cutoffs those rules give.
//!
//! Rows: `web_session` (SHA-256 of the session id as primary key, never the id; the user; login and last-use
//! times in ms since the Unix epoch; indexed by both times for the clean-up) and `login_failure` (throttle key,
//! time; indexed by key and time). A session is read with its user in one indexed lookup, so a disabled user
//! or a changed role or grant applies from the session's next request.

use super::PrivacyError;
use crate::access::Principal;
use crate::session::SessionTimes;

/// A stored session as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub times: SessionTimes,
    /// The user's principal as stored now; `None` when the user is disabled.
    pub principal: Option<Principal>,
}

/// The session and login-throttle rows of a store. Every method is one short transaction; `key` is the SHA-256
/// of a session id ([`crate::session::session_key`]); times are ms since the Unix epoch.
pub trait SessionStore {
    /// Store a new session of the enabled user `user`, created and last used at `now_ms`, and delete the
    /// sessions expired at `now_ms` ([`crate::session::ExpiryCutoffs`]) in the same transaction.
    /// [`PrivacyError::UnknownUser`] when there is no such user, [`PrivacyError::UserDisabled`] when disabled.
    fn create_session(&self, key: &[u8; 32], user: &str, now_ms: i64) -> Result<(), PrivacyError>;
    /// The session stored under `key` with its user (one indexed lookup); `None` when there is none. Expiry is
    /// the caller's to judge ([`crate::session::session_state`]).
    fn session(&self, key: &[u8; 32]) -> Result<Option<StoredSession>, PrivacyError>;
    /// Write `now_ms` as the session's last use (never moving it back).
    fn touch_session(&self, key: &[u8; 32], now_ms: i64) -> Result<(), PrivacyError>;
    /// Delete the session (logout, expiry, disabled user); true when it existed.
    fn end_session(&self, key: &[u8; 32]) -> Result<bool, PrivacyError>;
    /// Delete every session expired at `now_ms`; returns how many.
    fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64, PrivacyError>;
    /// The most failed logins counted for any one of `keys` within the window before `now_ms`
    /// ([`crate::session::failures_forgotten_before`]).
    fn login_failures(&self, keys: &[String], now_ms: i64) -> Result<usize, PrivacyError>;
    /// Count one failed login at `now_ms` against every key of `keys`, deleting the failures (of any key) that
    /// no longer count.
    fn record_login_failure(&self, keys: &[String], now_ms: i64) -> Result<(), PrivacyError>;
    /// Forget the failures of `key` (a user's after a successful login).
    fn clear_login_failures(&self, key: &str) -> Result<(), PrivacyError>;
}
