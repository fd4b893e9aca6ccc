//! Privacy and security persistence: users, tokens, the audit log, retention and backups. A trait of its own
//! ([`PrivacyStore`]) so the core [`Store`](super::Store) stays narrow; every backend implements both (the
//! SQLite one in `sqlite_privacy`).

use super::StoreError;
use crate::access::{self, AccessError, Principal, PrincipalKind, Role};
use crate::audit::{AuditEntry, AuditRecord};
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use std::path::Path;

/// Errors of the privacy store. Messages are Dutch: the CLI shows them as they are.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure of the backend (the message keeps its wording).
    #[error("databasefout: {message}")]
    Backend { message: String },
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("onbekende tenant '{0}'")]
    UnknownTenant(String),
    #[error("onbekende gebruiker '{0}'")]
    UnknownUser(String),
    #[error("gebruiker '{0}' bestaat al")]
    UserExists(String),
    #[error("gebruiker '{0}' is uitgeschakeld")]
    UserDisabled(String),
    #[error("wachtwoord te kort: minstens {min} tekens")]
    PasswordTooShort { min: usize },
    #[error("{file}: geen bruikbare brandpunt-database: {reason}")]
    NotAStore { file: String, reason: String },
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{path}: de database is in gebruik (stop `brandpunt serve` en andere processen en probeer opnieuw)")]
    InUse { path: String },
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub tenant: String,
    pub role: Role,
    /// The grant as given (codes, group names, `*`).
    pub categories: Vec<String>,
    /// The `relations` grant (see [`crate::access::Action::ViewRelations`]).
    pub relations: bool,
    pub disabled: bool,
    pub created_at: String,
}

/// Who a new token is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOwner {
    /// A user (the token acts on the user's tenant with the user's role and grants).
    User(String),
    /// A delivery channel: may only upload deliveries of `source` for `tenant`.
    Delivery { tenant: String, source: String },
}

/// A stored token (never its secret or hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// The public id (`bp_<id>_...`).
    pub id: String,
    pub tenant: String,
    /// User name, or `levering:<source>`.
    pub owner: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// What a retention run did (or would do, for a dry run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetentionOutcome {
    /// Incidents whose window ended before this moment are removed (`%Y-%m-%dT%H:%M`).
    pub cutoff: String,
    pub incidents: u64,
    pub history_versions: u64,
    pub dry_run: bool,
}

/// What a backup wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackupOutcome {
    pub file: String,
    pub schema_version: i64,
    pub bytes: u64,
}

/// Privacy and security operations of a store.
pub trait PrivacyStore {
    /// Add a user to `tenant`. User names are unique over all tenants.
    fn add_user(
        &mut self,
        tenant: &str,
        name: &str,
        role: Role,
        categories: &[String],
    ) -> Result<(), PrivacyError>;
    /// Users of `tenant` (`None` = all), by name.
    fn users(&self, tenant: Option<&str>) -> Result<Vec<UserInfo>, PrivacyError>;
    /// Give (`true`) or take (`false`) a user's `relations` grant; the user's tokens and sessions carry the new
    /// value from their next check. Giving it to a viewer is refused
    /// ([`AccessError::RelationsNotForRole`]); error for an unknown user.
    fn set_relations_grant(&mut self, name: &str, granted: bool) -> Result<(), PrivacyError>;
    /// Disable a user: their tokens stop authenticating. Error when the user does not exist.
    fn disable_user(&mut self, name: &str) -> Result<(), PrivacyError>;
    /// Create a token and return it; the full text exists only in the return value. `expires_at` is UTC
    /// (`%Y-%m-%dT%H:%M:%SZ`).
    fn create_token(
        &mut self,
        owner: &TokenOwner,
        expires_at: Option<&str>,
    ) -> Result<access::NewToken, PrivacyError>;
    /// Revoke a token by id; `false` when no unrevoked token has that id.
    fn revoke_token(&mut self, id: &str) -> Result<bool, PrivacyError>;
    fn tokens(&self) -> Result<Vec<TokenInfo>, PrivacyError>;
    /// The principal of a presented token, or `None` when it is malformed, unknown, revoked, expired, of a
    /// disabled user, or its secret does not verify. Costs one indexed lookup and one argon2 check.
    fn authenticate(&self, token: &str) -> Result<Option<Principal>, PrivacyError>;
    /// Set (or replace) a user's web login password: stored only as an argon2id PHC hash in
    /// `app_user.password_hash`. At least [`MIN_PASSWORD_CHARS`] characters; error for an unknown user.
    fn set_password(&mut self, name: &str, password: &str) -> Result<(), PrivacyError>;
    /// The principal of a user logging in with `name` and `password`, or `None` when the user is unknown,
    /// disabled, has no password, or the password does not match. Every `None` takes the same path (one
    /// argon2 check, against a dummy hash when there is no real one), so the answer and its timing do not
    /// reveal whether the user exists.
    fn verify_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<Principal>, PrivacyError>;
    /// The current principal of an enabled user (role and grants as now stored); `None` when the user is
    /// unknown or disabled. For sessions and OpenID Connect logins, which re-read it regularly.
    fn user_principal(&self, name: &str) -> Result<Option<Principal>, PrivacyError>;
    /// Append one record to the audit log (chained to the last one) and return it.
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<AuditRecord, PrivacyError>;
    /// Audit records logged on days `from..=to` (UTC dates; `None` = open), in `seq` order.
    fn audit_records(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<AuditRecord>, PrivacyError>;
    /// Delete the address-level incidents of `tenant` (located by address or coordinates) whose window ended
    /// before `cutoff`, with their history versions, in one transaction that also appends one audit record
    /// (action `retention`, by `actor`). A dry run only counts and logs nothing.
    fn apply_retention(
        &mut self,
        tenant: &str,
        cutoff: NaiveDateTime,
        dry_run: bool,
        actor: &str,
    ) -> Result<RetentionOutcome, PrivacyError>;
    /// Online backup into the file `path` (the store may be in use meanwhile): written to a temporary file next
    /// to `path`, checked, then renamed into place, so `path` is either the complete backup or untouched. (SQLite:
    /// the backup API, `integrity_check`, and a rollback journal so the file stands alone.)
    fn backup_to(&self, path: &Path) -> Result<BackupOutcome, PrivacyError>;
}

/// Shortest accepted web login password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

// Helpers every backend's `PrivacyStore` shares: what is the same whatever the SQL.

/// The category grants stored as comma-separated text.
pub(super) fn split_grants(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) fn random_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    salt
}

/// An argon2id hash no password is known for: verified against when a login names an unknown user or one
/// without a password, so that path costs the same as a real check.
pub(super) fn dummy_password_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        let secret = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secret);
        // Hashing a fresh random secret cannot fail with the default parameters; should it, the fallback
        // still is a well-formed PHC string that no password verifies against.
        access::hash_secret(&secret, &random_salt()).unwrap_or_else(|_| {
            "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                .to_string()
        })
    })
}

/// The principal of a user row (tenant code, name, role, stored category grants, `relations` grant).
pub(super) fn user_row_principal(
    tenant: String,
    user: String,
    role: &str,
    grants: &str,
    relations: bool,
) -> Result<Principal, PrivacyError> {
    Ok(Principal {
        tenant,
        user,
        role: Role::parse(role)?,
        categories: access::expand_grants(&split_grants(grants)),
        relations,
        kind: PrincipalKind::User,
    })
}

/// What a backend reads for an API token by its id: the token row, its tenant's code and, for a user's token,
/// the user row (`None`s when the user is gone).
pub(super) struct TokenRow {
    pub hash: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub delivery_source: Option<String>,
    pub tenant: String,
    pub user: Option<String>,
    pub role: Option<String>,
    pub categories: Option<String>,
    pub disabled: Option<bool>,
    pub relations: Option<bool>,
}

impl TokenRow {
    /// The principal of this token for `secret` at `now` (UTC, as stored): `None` when the token is revoked or
    /// expired, its user disabled or gone, or the secret does not verify.
    pub(super) fn principal(
        self,
        secret: &str,
        now: &str,
    ) -> Result<Option<Principal>, PrivacyError> {
        let expired = self.expires_at.as_deref().is_some_and(|e| e <= now);
        if self.revoked_at.is_some() || expired || self.disabled == Some(true) {
            return Ok(None);
        }
        if !access::verify_secret(secret, &self.hash) {
            return Ok(None);
        }
        Ok(match (self.delivery_source, self.user, self.role) {
            (Some(source), _, _) => Some(Principal {
                tenant: self.tenant,
                user: format!("levering:{source}"),
                role: Role::Viewer,
                categories: Vec::new(),
                relations: false,
                kind: PrincipalKind::Delivery { source },
            }),
            (None, Some(user), Some(role)) => Some(user_row_principal(
                self.tenant,
                user,
                &role,
                &self.categories.unwrap_or_default(),
                self.relations == Some(true),
            )?),
            // A user token whose user row is gone: deny.
            _ => None,
        })
    }
}
