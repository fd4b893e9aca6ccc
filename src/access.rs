//! Users, roles, API tokens and the permission matrix (pure: no I/O, no SQL).
//!
//! # Roles (per tenant)
//! - [`Role::Viewer`]: buurt-level and coarser aggregates, density and hot spot surfaces
//!   ([`Action::ViewAggregates`]).
//! - [`Role::Analyst`]: everything a viewer may, plus address-level incidents ([`Action::ViewAddressLevel`]) but
//!   only of the categories granted to that user, plus drawing and editing their own custom areas.
//! - [`Role::Admin`]: everything an analyst may (address-level data still only for the granted categories: an
//!   admin who needs more grants it to themselves, which the audit log records), plus imports, user and token
//!   management, the custom areas of others, the audit log and retention.
//!
//! Delivery principals (a token per source, e.g. the police unit) may only upload deliveries of their own source
//! for their own tenant. Everything not listed is denied, and every permission is scoped to the principal's
//! tenant: [`Principal::may`] is `false` for any other tenant.
//!
//! # Category grants
//! A user's grant is a list of police codes (`2.5.1`), group names (`inbraak`, expanded through
//! [`crate::category::expand_filter`]), opaque codes of other sources, or `*` for all categories. An incident
//! without a category is only visible under `*`.
//!
//! # Tokens
//! `bp_<id>_<secret>`: `id` is 10 lower-case hex characters (the lookup key, shown in listings and used to revoke),
//! `secret` is 32 random bytes in unpadded base64url. Only an argon2id PHC hash of the secret is stored, so
//! verifying a token costs one lookup by id and one argon2 check.

use argon2::password_hash::{self, PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::{CryptoRng, RngCore};
use serde::Serialize;
use std::cell::RefCell;

/// Errors of the pure access functions.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("onbekende rol '{0}' (viewer, analyst, admin)")]
    UnknownRole(String),
    #[error("tokenhash kan niet worden berekend: {0}")]
    Hash(String),
    /// The `relations` grant asked for a user whose role may not hold it (viewers).
    #[error("het recht 'relations' is alleen voor analisten en beheerders; '{user}' heeft de rol {role}")]
    RelationsNotForRole { user: String, role: &'static str },
}

/// A user's role within their tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// Parse `viewer|analyst|admin` (case-insensitive, trimmed).
    pub fn parse(s: &str) -> Result<Role, AccessError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            _ => Err(AccessError::UnknownRole(s.to_string())),
        }
    }
}

/// Who a token belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A person with a role.
    User,
    /// An automated delivery channel of one source (e.g. `politie`): may only upload that source's deliveries.
    Delivery { source: String },
    /// An unauthenticated caller of a tenant the server publishes openly (`serve --public-tenant`): only
    /// aggregates, with small counts suppressed.
    Anonymous,
}

/// An authenticated caller: what the server checks every request against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Tenant code; the principal may act on this tenant only.
    pub tenant: String,
    /// User name; for a delivery token `levering:<source>`.
    pub user: String,
    /// The user's role; delivery principals carry [`Role::Viewer`] but [`Principal::may`] ignores it for them.
    pub role: Role,
    /// Granted category codes, expanded (groups resolved); `*` = all. Empty = none.
    pub categories: Vec<String>,
    /// The `relations` grant: the network of registrations, addresses and pseudonymised subjects
    /// ([`Action::ViewRelations`]). Off by default; only effective for analysts and admins.
    pub relations: bool,
    pub kind: PrincipalKind,
}

/// Something a principal wants to do on a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Buurt-level and coarser aggregates, density and hot spot surfaces.
    ViewAggregates,
    /// Address-level incidents of one category (`None` = incidents without a category).
    ViewAddressLevel { category: Option<String> },
    /// Upload/import a delivery of `source`.
    ImportDelivery { source: String },
    /// Create, edit or delete a custom area; `own` = the principal drew it.
    EditCustomArea { own: bool },
    /// Add/disable users, create/revoke tokens.
    ManageUsers,
    /// Read, export and verify the audit log.
    ViewAudit,
    /// Apply the retention policy.
    ApplyRetention,
    /// Query and export the relations network (of the granted categories only).
    ViewRelations,
}

/// Check that a user of `role` may hold the `relations` grant (analysts and admins only): the error names the
/// user and the role.
///
/// ```
/// use brandpunt::access::{check_relations_grant, Role};
/// assert!(check_relations_grant("ann", Role::Analyst).is_ok());
/// assert!(check_relations_grant("vic", Role::Viewer).is_err());
/// ```
pub fn check_relations_grant(user: &str, role: Role) -> Result<(), AccessError> {
    if role >= Role::Analyst {
        Ok(())
    } else {
        Err(AccessError::RelationsNotForRole {
            user: user.to_string(),
            role: role.as_str(),
        })
    }
}

/// Expand a user's stored grant (codes, group names, `*`) into the codes kept in [`Principal::categories`].
pub fn expand_grants(grants: &[String]) -> Vec<String> {
    crate::category::expand_filter(&grants.join(","))
}

impl Principal {
    /// Actor name for the audit log: `user` for users, `levering:<source>` for delivery tokens.
    pub fn actor(&self) -> &str {
        &self.user
    }

    /// True when `category` (`None` = uncategorised) is among the granted categories. Default deny.
    pub fn has_category(&self, category: Option<&str>) -> bool {
        if self.categories.iter().any(|c| c == "*") {
            return true;
        }
        match category {
            Some(code) => self.categories.iter().any(|c| c == code.trim()),
            None => false,
        }
    }

    /// The permission check: may this principal perform `action` on `tenant`? Everything not explicitly
    /// allowed (see the module docs) is denied, and so is any action on another tenant.
    pub fn may(&self, tenant: &str, action: &Action) -> bool {
        if self.tenant != tenant {
            return false;
        }
        match &self.kind {
            PrincipalKind::Delivery { source } => {
                matches!(action, Action::ImportDelivery { source: s } if s == source)
            }
            PrincipalKind::Anonymous => matches!(action, Action::ViewAggregates),
            PrincipalKind::User => match action {
                Action::ViewAggregates => true,
                Action::ViewAddressLevel { category } => {
                    self.role >= Role::Analyst && self.has_category(category.as_deref())
                }
                Action::EditCustomArea { own: true } => self.role >= Role::Analyst,
                Action::ViewRelations => self.role >= Role::Analyst && self.relations,
                Action::EditCustomArea { own: false }
                | Action::ImportDelivery { .. }
                | Action::ManageUsers
                | Action::ViewAudit
                | Action::ApplyRetention => self.role == Role::Admin,
            },
        }
    }

    /// Of `categories`, those whose address-level incidents this principal may see on `tenant` (a filter for
    /// address-level queries). Empty when nothing is allowed.
    pub fn address_level_categories<'a>(
        &self,
        tenant: &str,
        categories: &'a [String],
    ) -> Vec<&'a str> {
        categories
            .iter()
            .filter(|c| {
                self.may(
                    tenant,
                    &Action::ViewAddressLevel {
                        category: Some(c.to_string()),
                    },
                )
            })
            .map(String::as_str)
            .collect()
    }
}

impl Principal {
    /// The unauthenticated caller of the openly published `tenant`.
    pub fn anonymous(tenant: &str) -> Principal {
        Principal {
            tenant: tenant.to_string(),
            user: "anoniem".to_string(),
            role: Role::Viewer,
            categories: Vec::new(),
            relations: false,
            kind: PrincipalKind::Anonymous,
        }
    }

    /// True for callers whose aggregates get small-count protection: anonymous callers and viewers (analysts
    /// and admins see exact counts).
    pub fn sees_protected_counts(&self) -> bool {
        match self.kind {
            PrincipalKind::Anonymous => true,
            PrincipalKind::Delivery { .. } => true,
            PrincipalKind::User => self.role == Role::Viewer,
        }
    }
}

/// Smallest KDE bandwidth (search radius, metres) served to callers without address-level rights (viewers,
/// anonymous callers): a narrower kernel would draw a peak on every single address.
pub const VIEWER_MIN_BANDWIDTH_M: f64 = 200.0;
/// Smallest analysis cell (KDE raster cell, Gi* / emerging grid cell, metres) served to those callers.
pub const VIEWER_MIN_CELL_M: f64 = 50.0;
/// Finest H3 resolution served to those callers (resolution 11 cells are ~2,150 m2, finer than a 50 m cell).
pub const VIEWER_MAX_H3_RESOLUTION: u8 = 10;
/// Highest tile zoom of density and hot spot surfaces (raster tiles, WMS, `hotspots`/`emerging`/`kde` vector
/// tiles) served to those callers; deeper requests are refused with 403 (at z16 a 256 px tile is ~400 m wide
/// in the Netherlands, so one pixel is ~1.5 m).
pub const VIEWER_MAX_SURFACE_ZOOM: u8 = 16;

/// Which categories of address-level incidents a request may return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CategoryScope {
    /// Every incident, uncategorised ones included (grant `*` and no category asked for).
    All,
    /// Only these category codes (possibly none: an empty result).
    Only(Vec<String>),
    /// No address-level data at all (not an analyst/admin of this tenant, anonymous, delivery token).
    Denied,
}

impl Principal {
    /// True when density and hot spot surfaces are served without the viewer limits
    /// ([`VIEWER_MIN_BANDWIDTH_M`], [`VIEWER_MIN_CELL_M`], [`VIEWER_MAX_SURFACE_ZOOM`]): users with the analyst
    /// or admin role (who may see address-level data anyway).
    pub fn unrestricted_surfaces(&self) -> bool {
        self.kind == PrincipalKind::User && self.role >= Role::Analyst
    }

    /// The categories of address-level incidents this principal may get on `tenant` for a request that asked
    /// for `requested` codes (expanded; empty = all), where `available` are the codes present in the data.
    /// The result is the intersection of the request with the grant (default deny).
    pub fn address_level_scope(
        &self,
        tenant: &str,
        requested: &[String],
        available: &[String],
    ) -> CategoryScope {
        let any = Action::ViewAddressLevel {
            category: Some("*".into()),
        };
        let is_analyst = self.kind == PrincipalKind::User && self.role >= Role::Analyst;
        if !is_analyst || self.tenant != tenant || self.categories.is_empty() {
            return CategoryScope::Denied;
        }
        if self.may(tenant, &any) && requested.is_empty() {
            return CategoryScope::All;
        }
        let base = if requested.is_empty() {
            available
        } else {
            requested
        };
        let mut codes: Vec<String> = self
            .address_level_categories(tenant, base)
            .into_iter()
            .map(str::to_string)
            .collect();
        codes.sort();
        codes.dedup();
        CategoryScope::Only(codes)
    }
}

/// A parsed token: the lookup id and the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedToken<'a> {
    pub id: &'a str,
    pub secret: &'a str,
}

impl std::fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ParsedToken {{ id: {:?}, secret: <verborgen> }}",
            self.id
        )
    }
}

/// Length of the token id in hex characters.
pub const TOKEN_ID_LEN: usize = 10;
/// Bytes of randomness in a token secret.
pub const TOKEN_SECRET_BYTES: usize = 32;

/// Split `bp_<id>_<secret>`; `None` for anything else (wrong prefix, id not 10 lower-case hex characters,
/// secret not 43 base64url characters).
pub fn parse_token(token: &str) -> Option<ParsedToken<'_>> {
    let rest = token.trim().strip_prefix("bp_")?;
    let (id, secret) = rest.split_at_checked(TOKEN_ID_LEN)?;
    let secret = secret.strip_prefix('_')?;
    let id_ok = id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(ParsedToken { id, secret })
}

/// A freshly generated token: the full text (shown once) and its parts.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: String,
    /// `bp_<id>_<secret>`.
    pub token: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewToken {{ id: {:?}, token: <verborgen> }}", self.id)
    }
}

/// Generate a token from a cryptographic random source.
pub fn generate_token(rng: &mut (impl RngCore + CryptoRng)) -> NewToken {
    let mut id_bytes = [0u8; TOKEN_ID_LEN / 2];
    rng.fill_bytes(&mut id_bytes);
    let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut secret = [0u8; TOKEN_SECRET_BYTES];
    rng.fill_bytes(&mut secret);
    let token = format!("bp_{id}_{}", URL_SAFE_NO_PAD.encode(secret));
    NewToken { id, token }
}

/// The argon2id PHC hash of a token secret with the given 16-byte salt (default argon2 parameters).
pub fn hash_secret(secret: &str, salt: &[u8; 16]) -> Result<String, AccessError> {
    let salt = SaltString::encode_b64(salt).map_err(|e| AccessError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccessError::Hash(e.to_string()))
}

thread_local! {
    /// argon2 working memory, reused by every verification on this thread (19 MiB with the default
    /// parameters). Allocating and freeing it per check made a long-running server's memory grow: each free
    /// left the block to the thread's malloc arena, where later small allocations fragmented it, so the next
    /// check took another 19 MiB.
    static ARGON2_MEMORY: RefCell<Vec<argon2::Block>> = const { RefCell::new(Vec::new()) };
}

/// Working memory above this many 1 KiB blocks (64 MiB) is not kept for reuse.
const MAX_KEPT_BLOCKS: usize = 64 * 1024;

/// True when `secret` matches the stored PHC hash (false for an unreadable hash).
///
/// Equivalent to argon2's `PasswordVerifier::verify_password` (algorithm, version, parameters and salt from
/// the hash; constant-time comparison of the output), but with this thread's reusable working memory.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    let hasher = Argon2::new(algorithm, version, params);
    let mut out = [0u8; password_hash::Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    let hashed = ARGON2_MEMORY.with(|memory| match memory.try_borrow_mut() {
        Ok(mut memory) if blocks <= MAX_KEPT_BLOCKS => {
            if memory.len() < blocks {
                memory.resize(blocks, argon2::Block::default());
            }
            hasher.hash_password_into_with_memory(
                secret.as_bytes(),
                salt,
                &mut *out,
                &mut memory[..blocks],
            )
        }
        _ => hasher.hash_password_into(secret.as_bytes(), salt, &mut *out),
    });
    // `Output`'s equality is constant-time.
    hashed.is_ok() && password_hash::Output::new(out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn user(role: Role, cats: &[&str]) -> Principal {
        Principal {
            tenant: "enschede".into(),
            user: "jan".into(),
            role,
            categories: expand_grants(&cats.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            relations: true,
            kind: PrincipalKind::User,
        }
    }

    fn delivery(source: &str) -> Principal {
        Principal {
            tenant: "enschede".into(),
            user: format!("levering:{source}"),
            role: Role::Viewer,
            categories: vec![],
            relations: false,
            kind: PrincipalKind::Delivery {
                source: source.into(),
            },
        }
    }

    fn actions() -> Vec<Action> {
        vec![
            Action::ViewAggregates,
            Action::ViewAddressLevel {
                category: Some("1.1.1".into()),
            },
            Action::ViewAddressLevel {
                category: Some("2.5.1".into()),
            },
            Action::ViewAddressLevel {
                category: Some("1.4.3".into()),
            },
            Action::ViewAddressLevel { category: None },
            Action::ImportDelivery {
                source: "politie".into(),
            },
            Action::ImportDelivery {
                source: "handhaving".into(),
            },
            Action::EditCustomArea { own: true },
            Action::EditCustomArea { own: false },
            Action::ManageUsers,
            Action::ViewAudit,
            Action::ApplyRetention,
            Action::ViewRelations,
        ]
    }

    /// The expected matrix, written out independently of `may` as a table: one row per action, one column
    /// per principal (viewer, analyst granted `inbraak,2.5.1`, admin granted `inbraak,2.5.1`, analyst
    /// granted `*`, delivery `politie`, anonymous; every user holds the `relations` grant).
    #[test]
    fn permission_matrix_is_exactly_as_specified() {
        let grant = ["inbraak", "2.5.1"];
        let principals = [
            user(Role::Viewer, &grant),
            user(Role::Analyst, &grant),
            user(Role::Admin, &grant),
            user(Role::Analyst, &["*"]),
            delivery("politie"),
            Principal::anonymous("enschede"),
        ];
        #[rustfmt::skip]
        let expected: [[bool; 6]; 13] = [
            // viewer analyst admin  all    delivery anonymous
            [true,  true,  true,  true,  false, true ], // aggregates
            [false, true,  true,  true,  false, false], // address 1.1.1 (in group inbraak)
            [false, true,  true,  true,  false, false], // address 2.5.1 (granted code)
            [false, false, false, true,  false, false], // address 1.4.3 (not granted)
            [false, false, false, true,  false, false], // address uncategorised
            [false, false, true,  false, true,  false], // import politie
            [false, false, true,  false, false, false], // import handhaving
            [false, true,  true,  true,  false, false], // own custom area
            [false, false, true,  false, false, false], // others' custom area
            [false, false, true,  false, false, false], // manage users
            [false, false, true,  false, false, false], // audit
            [false, false, true,  false, false, false], // retention
            [false, true,  true,  true,  false, false], // relations (viewers never)
        ];
        for (a, action) in actions().iter().enumerate() {
            for (p, principal) in principals.iter().enumerate() {
                assert_eq!(
                    principal.may("enschede", action),
                    expected[a][p],
                    "{action:?} for principal {p}"
                );
            }
        }
    }

    #[test]
    fn every_action_is_denied_on_another_tenant() {
        let principals = [
            user(Role::Viewer, &["*"]),
            user(Role::Analyst, &["*"]),
            user(Role::Admin, &["*"]),
            delivery("politie"),
            Principal::anonymous("enschede"),
        ];
        for principal in &principals {
            for action in actions() {
                assert!(!principal.may("hengelo", &action), "{action:?}");
                assert!(!principal.may("", &action), "{action:?}");
            }
        }
    }

    #[test]
    fn relations_need_the_grant_and_an_analyst_role() {
        for role in Role::ALL {
            let mut p = user(role, &["*"]);
            p.relations = false;
            assert!(!p.may("enschede", &Action::ViewRelations), "{role:?}");
            p.relations = true;
            assert_eq!(
                p.may("enschede", &Action::ViewRelations),
                role >= Role::Analyst
            );
            assert_eq!(
                check_relations_grant("jan", role).is_ok(),
                role >= Role::Analyst
            );
        }
        let err = check_relations_grant("vic", Role::Viewer).unwrap_err();
        assert!(err.to_string().contains("vic") && err.to_string().contains("viewer"));
        assert!(!Principal::anonymous("enschede").relations);
    }

    #[test]
    fn no_grant_means_no_address_level_data() {
        for role in Role::ALL {
            let p = user(role, &[]);
            for code in ["1.1.1", "2.5.1", "*", ""] {
                assert!(!p.may(
                    "enschede",
                    &Action::ViewAddressLevel {
                        category: Some(code.into())
                    }
                ));
            }
        }
    }

    #[test]
    fn address_level_filter_keeps_only_granted_categories() {
        let p = user(Role::Analyst, &["inbraak"]);
        let asked: Vec<String> = ["1.1.1", "1.1.2", "2.5.1"].map(String::from).to_vec();
        assert_eq!(
            p.address_level_categories("enschede", &asked),
            vec!["1.1.1", "1.1.2"]
        );
        assert!(p.address_level_categories("hengelo", &asked).is_empty());
    }

    #[test]
    fn address_level_scope_is_the_intersection_of_request_and_grant() {
        let avail: Vec<String> = ["1.1.1", "1.4.3", "2.5.1"].map(String::from).to_vec();
        let none: Vec<String> = vec![];
        let a = user(Role::Analyst, &["inbraak"]);
        // No category asked: the granted codes present in the data.
        assert_eq!(
            a.address_level_scope("enschede", &none, &avail),
            CategoryScope::Only(vec!["1.1.1".into()])
        );
        // Asked for a granted and an ungranted code: only the granted one.
        let asked: Vec<String> = ["1.4.3", "1.1.2"].map(String::from).to_vec();
        assert_eq!(
            a.address_level_scope("enschede", &asked, &avail),
            CategoryScope::Only(vec!["1.1.2".into()])
        );
        // Asked only for ungranted codes: nothing.
        let asked: Vec<String> = vec!["1.4.3".into()];
        assert_eq!(
            a.address_level_scope("enschede", &asked, &avail),
            CategoryScope::Only(vec![])
        );
        // Grant `*`: everything (also uncategorised) unless the request narrows it.
        let all = user(Role::Admin, &["*"]);
        assert_eq!(
            all.address_level_scope("enschede", &none, &avail),
            CategoryScope::All
        );
        assert_eq!(
            all.address_level_scope("enschede", &asked, &avail),
            CategoryScope::Only(vec!["1.4.3".into()])
        );
        // Viewers, anonymous callers, delivery tokens, no grant, other tenant: denied.
        for p in [
            user(Role::Viewer, &["*"]),
            Principal::anonymous("enschede"),
            delivery("politie"),
            user(Role::Analyst, &[]),
        ] {
            assert_eq!(
                p.address_level_scope("enschede", &none, &avail),
                CategoryScope::Denied
            );
        }
        assert_eq!(
            all.address_level_scope("hengelo", &none, &avail),
            CategoryScope::Denied
        );
    }

    #[test]
    fn only_analysts_and_admins_get_unrestricted_surfaces() {
        assert!(!user(Role::Viewer, &["*"]).unrestricted_surfaces());
        assert!(user(Role::Analyst, &[]).unrestricted_surfaces());
        assert!(user(Role::Admin, &[]).unrestricted_surfaces());
        assert!(!Principal::anonymous("enschede").unrestricted_surfaces());
        assert!(!delivery("politie").unrestricted_surfaces());
    }

    #[test]
    fn roles_parse_and_print() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
            assert_eq!(
                Role::parse(&format!(" {} ", r.as_str().to_uppercase())),
                Ok(r)
            );
        }
        assert!(Role::parse("superuser").is_err());
        assert!(Role::parse("").is_err());
    }

    #[test]
    fn tokens_round_trip_and_malformed_ones_are_refused() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let t = generate_token(&mut rng);
        assert!(t.token.starts_with(&format!("bp_{}_", t.id)));
        let parsed = parse_token(&t.token).unwrap();
        assert_eq!(parsed.id, t.id);
        assert_eq!(parsed.secret.len(), 43);
        let other = generate_token(&mut rng);
        assert_ne!(other.token, t.token);
        let bad = [
            "",
            "bp_",
            &t.token[..t.token.len() - 1],
            &t.token.replacen("bp_", "bq_", 1),
            &t.token.replacen(&t.id, &t.id.to_uppercase(), 1),
            &format!("{}x", t.token),
            &t.token.replacen(&format!("{}_", t.id), &t.id, 1),
        ];
        for b in bad {
            assert!(parse_token(b).is_none(), "{b}");
        }
        // The Debug output never shows the secret.
        assert!(!format!("{t:?}").contains(parsed.secret));
        assert!(!format!("{parsed:?}").contains(parsed.secret));
    }

    #[test]
    fn argon2_hash_verifies_only_the_right_secret() {
        let h = hash_secret("geheim", &[3u8; 16]).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("geheim"));
        assert!(verify_secret("geheim", &h));
        assert!(!verify_secret("Geheim", &h));
        assert!(!verify_secret("geheim", "not a hash"));
        // A different salt gives a different hash of the same secret.
        assert_ne!(h, hash_secret("geheim", &[4u8; 16]).unwrap());
    }

    #[test]
    fn verify_secret_agrees_with_argon2s_own_verifier() {
        use argon2::password_hash::PasswordVerifier;
        use argon2::{Algorithm, Params, Version};
        let salt = SaltString::encode_b64(&[9u8; 16]).unwrap();
        let mut hashes = vec![hash_secret("geheim", &[1u8; 16]).unwrap()];
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            for version in [Version::V0x10, Version::V0x13] {
                for (m_kib, t, p, len) in [(64, 1, 1, 16), (256, 2, 2, 32), (128, 3, 1, 64)] {
                    let params = Params::new(m_kib, t, p, Some(len)).unwrap();
                    let h = Argon2::new(algorithm, version, params)
                        .hash_password(b"geheim", &salt)
                        .unwrap()
                        .to_string();
                    hashes.push(h);
                }
            }
        }
        // Tampered hashes: another output, another cost, a shortened output, no output.
        let h = hashes[1].clone();
        let (head, out) = h.rsplit_once('$').unwrap();
        let flipped = if out.starts_with('A') { "B" } else { "A" };
        hashes.push(format!("{head}${flipped}{}", &out[1..]));
        hashes.push(h.replace("t=1", "t=2"));
        hashes.push(format!("{head}${}", &out[..out.len() - 4]));
        hashes.push(head.to_string());
        hashes.push(h.replace("argon2id", "argon2x"));
        for phc in &hashes {
            for secret in ["geheim", "Geheim", ""] {
                let expected = PasswordHash::new(phc).is_ok_and(|parsed| {
                    Argon2::default()
                        .verify_password(secret.as_bytes(), &parsed)
                        .is_ok()
                });
                assert_eq!(
                    verify_secret(secret, phc),
                    expected,
                    "{secret:?} against {phc}"
                );
            }
        }
        // The positive cases are really there.
        assert!(hashes[..19].iter().all(|h| verify_secret("geheim", h)));
    }
}
