//! The PostgreSQL backend of [`PrivacyStore`]: users, tokens, the audit log and retention, with the semantics of
//! the SQLite one. Appends to the audit chain are serialised by a transaction advisory lock, so several writers
//! (replicas) still make one unbroken chain. Backups of a PostgreSQL store are the database's own (`pg_dump`).

use super::super::privacy::{
    dummy_password_hash, random_salt, split_grants, user_row_principal, BackupOutcome,
    PrivacyError, PrivacyStore, RetentionOutcome, TokenInfo, TokenOwner, TokenRow, UserInfo,
    MIN_PASSWORD_CHARS,
};
use super::super::sqlite::now_utc;
use super::super::StoreError;
use super::connection::{get, Conn};
use super::{PostgresStore, ALL_TENANTS, AUDIT_LOCK};
use crate::access::{self, AccessError, Principal, Role};
use crate::audit::{self, AuditEntry, AuditRecord};
use chrono::{NaiveDate, NaiveDateTime};
use std::path::Path;

const AUDIT_COLUMNS: &str =
    "seq, at, actor, tenant, action, endpoint, filter, records, prev_hash, hash";

fn read_audit(r: &tokio_postgres::Row) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: get(r, 0)?,
        at: get(r, 1)?,
        actor: get(r, 2)?,
        tenant: get(r, 3)?,
        action: get(r, 4)?,
        endpoint: get(r, 5)?,
        filter: get(r, 6)?,
        records: get(r, 7)?,
        prev_hash: get(r, 8)?,
        hash: get(r, 9)?,
    })
}

/// Append one record to the chain within the open transaction (waits for other appenders first).
fn append_audit_in(conn: &Conn, entry: &AuditEntry) -> Result<AuditRecord, PrivacyError> {
    conn.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])?;
    let last = conn
        .query_opt(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"),
            &[],
        )?
        .map(|r| read_audit(&r))
        .transpose()?;
    let r = audit::chain(last.as_ref(), &now_utc(), entry);
    conn.execute(
        &format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        &[
            &r.seq,
            &r.at,
            &r.actor,
            &r.tenant,
            &r.action,
            &r.endpoint,
            &r.filter,
            &r.records,
            &r.prev_hash,
            &r.hash,
        ],
    )?;
    Ok(r)
}

impl PrivacyStore for PostgresStore {
    fn add_user(
        &mut self,
        tenant: &str,
        name: &str,
        role: Role,
        categories: &[String],
    ) -> Result<(), PrivacyError> {
        let name = name.trim();
        let tenant_id = PostgresStore::tenant_id(&self.conn, tenant)
            .map_err(|_| PrivacyError::UnknownTenant(tenant.to_string()))?;
        // User names are unique over all tenants: the check reads every tenant's users.
        self.transaction(ALL_TENANTS, |c| {
            if c.query_opt("SELECT 1 FROM app_user WHERE name = $1", &[&name])?
                .is_some()
            {
                return Err(PrivacyError::UserExists(name.to_string()));
            }
            c.execute(
                "INSERT INTO app_user (tenant_id, name, role, categories, disabled, created_at)
                 VALUES ($1, $2, $3, $4, false, $5)",
                &[
                    &tenant_id,
                    &name,
                    &role.as_str(),
                    &categories.join(","),
                    &now_utc(),
                ],
            )?;
            Ok(())
        })
    }

    fn users(&self, tenant: Option<&str>) -> Result<Vec<UserInfo>, PrivacyError> {
        let scope = match tenant {
            Some(code) => match PostgresStore::tenant_id(&self.conn, code) {
                Ok(id) => id.to_string(),
                Err(_) => return Ok(Vec::new()),
            },
            None => ALL_TENANTS.to_string(),
        };
        self.transaction(&scope, |c| {
            let mut out = Vec::new();
            for r in c.query(
                "SELECT u.name, t.code, u.role, u.categories, u.disabled, u.created_at, u.relations
                 FROM app_user u JOIN tenant t ON t.id = u.tenant_id
                 WHERE $1::text IS NULL OR t.code = $1 ORDER BY u.name COLLATE \"C\"",
                &[&tenant],
            )? {
                let role: String = get(&r, 2)?;
                let role = Role::parse(&role).map_err(|_| StoreError::InvalidValue {
                    table: "app_user",
                    column: "role",
                    value: role.clone(),
                })?;
                let categories: String = get(&r, 3)?;
                out.push(UserInfo {
                    name: get(&r, 0)?,
                    tenant: get(&r, 1)?,
                    role,
                    categories: split_grants(&categories),
                    relations: get(&r, 6)?,
                    disabled: get(&r, 4)?,
                    created_at: get(&r, 5)?,
                });
            }
            Ok(out)
        })
    }

    fn set_relations_grant(&mut self, name: &str, granted: bool) -> Result<(), PrivacyError> {
        let name = name.trim();
        self.transaction(ALL_TENANTS, |c| {
            let role: String = match c.query_opt(
                "SELECT role FROM app_user WHERE name = $1 FOR UPDATE",
                &[&name],
            )? {
                Some(r) => get(&r, 0)?,
                None => return Err(PrivacyError::UnknownUser(name.to_string())),
            };
            if granted {
                access::check_relations_grant(name, Role::parse(&role)?)?;
            }
            c.execute(
                "UPDATE app_user SET relations = $2 WHERE name = $1",
                &[&name, &granted],
            )?;
            Ok(())
        })
    }

    fn disable_user(&mut self, name: &str) -> Result<(), PrivacyError> {
        let n = self.transaction(ALL_TENANTS, |c| {
            c.execute(
                "UPDATE app_user SET disabled = true WHERE name = $1",
                &[&name.trim()],
            )
        })?;
        if n == 0 {
            return Err(PrivacyError::UnknownUser(name.to_string()));
        }
        Ok(())
    }

    fn create_token(
        &mut self,
        owner: &TokenOwner,
        expires_at: Option<&str>,
    ) -> Result<access::NewToken, PrivacyError> {
        let new = access::generate_token(&mut rand::rngs::OsRng);
        let parsed = access::parse_token(&new.token).ok_or_else(|| {
            PrivacyError::Access(AccessError::Hash("gegenereerd token onleesbaar".into()))
        })?;
        let hash = access::hash_secret(parsed.secret, &random_salt())?;
        self.transaction(ALL_TENANTS, |c| {
            let (user_id, tenant_id, source): (Option<i64>, i64, Option<&str>) = match owner {
                TokenOwner::User(name) => {
                    let Some(r) = c.query_opt(
                        "SELECT id, tenant_id, disabled FROM app_user WHERE name = $1",
                        &[&name.trim()],
                    )?
                    else {
                        return Err(PrivacyError::UnknownUser(name.clone()));
                    };
                    if get::<bool>(&r, 2)? {
                        return Err(PrivacyError::UserDisabled(name.clone()));
                    }
                    (Some(get(&r, 0)?), get(&r, 1)?, None)
                }
                TokenOwner::Delivery { tenant, source } => {
                    let id = PostgresStore::tenant_id(c, tenant)
                        .map_err(|_| PrivacyError::UnknownTenant(tenant.clone()))?;
                    (None, id, Some(source.as_str()))
                }
            };
            c.execute(
                "INSERT INTO api_token (prefix, user_id, tenant_id, delivery_source, hash, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &new.id,
                    &user_id,
                    &tenant_id,
                    &source,
                    &hash,
                    &now_utc(),
                    &expires_at,
                ],
            )?;
            Ok(())
        })?;
        Ok(new)
    }

    fn revoke_token(&mut self, id: &str) -> Result<bool, PrivacyError> {
        let n = self.transaction(ALL_TENANTS, |c| {
            c.execute(
                "UPDATE api_token SET revoked_at = $2 WHERE prefix = $1 AND revoked_at IS NULL",
                &[&id.trim(), &now_utc()],
            )
        })?;
        Ok(n > 0)
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, PrivacyError> {
        self.transaction(ALL_TENANTS, |c| {
            c.query(
                "SELECT k.prefix, t.code, coalesce(u.name, 'levering:' || k.delivery_source), k.created_at,
                        k.expires_at, k.revoked_at
                 FROM api_token k JOIN tenant t ON t.id = k.tenant_id LEFT JOIN app_user u ON u.id = k.user_id
                 ORDER BY k.id",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: get(r, 0)?,
                    tenant: get(r, 1)?,
                    owner: get(r, 2)?,
                    created_at: get(r, 3)?,
                    expires_at: get(r, 4)?,
                    revoked_at: get(r, 5)?,
                })
            })
            .collect()
        })
    }

    fn authenticate(&self, token: &str) -> Result<Option<Principal>, PrivacyError> {
        let Some(parsed) = access::parse_token(token) else {
            return Ok(None);
        };
        let row = self.transaction(ALL_TENANTS, |c| {
            c.query_opt(
                "SELECT k.hash, k.expires_at, k.revoked_at, k.delivery_source, t.code, u.name, u.role,
                        u.categories, u.disabled, u.relations
                 FROM api_token k JOIN tenant t ON t.id = k.tenant_id LEFT JOIN app_user u ON u.id = k.user_id
                 WHERE k.prefix = $1",
                &[&parsed.id],
            )
        })?;
        match row {
            Some(r) => TokenRow {
                hash: get(&r, 0)?,
                expires_at: get(&r, 1)?,
                revoked_at: get(&r, 2)?,
                delivery_source: get(&r, 3)?,
                tenant: get(&r, 4)?,
                user: get(&r, 5)?,
                role: get(&r, 6)?,
                categories: get(&r, 7)?,
                disabled: get(&r, 8)?,
                relations: get(&r, 9)?,
            }
            .principal(parsed.secret, &now_utc()),
            None => Ok(None),
        }
    }

    fn set_password(&mut self, name: &str, password: &str) -> Result<(), PrivacyError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PrivacyError::PasswordTooShort {
                min: MIN_PASSWORD_CHARS,
            });
        }
        let hash = access::hash_secret(password, &random_salt())?;
        let n = self.transaction(ALL_TENANTS, |c| {
            c.execute(
                "UPDATE app_user SET password_hash = $2 WHERE name = $1",
                &[&name.trim(), &hash],
            )
        })?;
        if n == 0 {
            return Err(PrivacyError::UnknownUser(name.to_string()));
        }
        Ok(())
    }

    fn verify_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<Principal>, PrivacyError> {
        let row = self.transaction(ALL_TENANTS, |c| {
            c.query_opt(
                "SELECT t.code, u.name, u.role, u.categories, u.disabled, u.password_hash, u.relations
                 FROM app_user u JOIN tenant t ON t.id = u.tenant_id WHERE u.name = $1",
                &[&name.trim()],
            )
        })?;
        let stored: Option<String> = match &row {
            Some(r) => get(r, 5)?,
            None => None,
        };
        let matches = access::verify_secret(
            password,
            stored.as_deref().unwrap_or_else(|| dummy_password_hash()),
        );
        match row {
            Some(r) if matches && stored.is_some() && !get::<bool>(&r, 4)? => {
                let role: String = get(&r, 2)?;
                let grants: String = get(&r, 3)?;
                Ok(Some(user_row_principal(
                    get(&r, 0)?,
                    get(&r, 1)?,
                    &role,
                    &grants,
                    get(&r, 6)?,
                )?))
            }
            _ => Ok(None),
        }
    }

    fn user_principal(&self, name: &str) -> Result<Option<Principal>, PrivacyError> {
        let row = self.transaction(ALL_TENANTS, |c| {
            c.query_opt(
                "SELECT t.code, u.name, u.role, u.categories, u.relations
                 FROM app_user u JOIN tenant t ON t.id = u.tenant_id
                 WHERE u.name = $1 AND NOT u.disabled",
                &[&name.trim()],
            )
        })?;
        match row {
            Some(r) => {
                let role: String = get(&r, 2)?;
                let grants: String = get(&r, 3)?;
                Ok(Some(user_row_principal(
                    get(&r, 0)?,
                    get(&r, 1)?,
                    &role,
                    &grants,
                    get(&r, 4)?,
                )?))
            }
            None => Ok(None),
        }
    }

    fn append_audit(&mut self, entry: &AuditEntry) -> Result<AuditRecord, PrivacyError> {
        // The audit log is not tenant-owned (one chain for the instance): no tenant scope needed.
        self.transaction("", |c| append_audit_in(c, entry))
    }

    fn audit_records(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<AuditRecord>, PrivacyError> {
        let from = from.map(|d| d.format("%Y-%m-%d").to_string());
        // `at` < the day after `to` (timestamps are `YYYY-MM-DDTHH:MM:SSZ`).
        let to = to
            .and_then(|d| d.succ_opt())
            .map(|d| d.format("%Y-%m-%d").to_string());
        let mut out = Vec::new();
        self.conn.for_each(
            &format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log
                 WHERE ($1::text IS NULL OR at >= $1 COLLATE \"C\") AND ($2::text IS NULL OR at < $2 COLLATE \"C\")
                 ORDER BY seq"
            ),
            &[&from, &to],
            |r| -> Result<(), StoreError> {
                out.push(read_audit(r)?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    fn apply_retention(
        &mut self,
        tenant: &str,
        cutoff: NaiveDateTime,
        dry_run: bool,
        actor: &str,
    ) -> Result<RetentionOutcome, PrivacyError> {
        let cutoff_text = cutoff.format("%Y-%m-%dT%H:%M").to_string();
        let cutoff_min = cutoff.and_utc().timestamp().div_euclid(60);
        const WHERE: &str =
            "i.tenant_id = $1 AND i.located_by IN ('address', 'coordinates') AND i.end_min < $2";
        let history_where = format!(
            "EXISTS (SELECT 1 FROM incident i WHERE {WHERE} AND i.tenant_id = h.tenant_id
                     AND i.source = h.source AND i.registration = h.registration)"
        );
        let tenant_id = PostgresStore::tenant_id(&self.conn, tenant)
            .map_err(|_| PrivacyError::UnknownTenant(tenant.to_string()))?;
        self.transaction(&tenant_id.to_string(), |c| {
            let incidents: i64 = get(
                &c.query_one(
                    &format!("SELECT count(*) FROM incident i WHERE {WHERE}"),
                    &[&tenant_id, &cutoff_min],
                )?,
                0,
            )?;
            let history: i64 = get(
                &c.query_one(
                    &format!("SELECT count(*) FROM incident_history h WHERE {history_where}"),
                    &[&tenant_id, &cutoff_min],
                )?,
                0,
            )?;
            if !dry_run {
                c.execute(
                    &format!("DELETE FROM incident_history h WHERE {history_where}"),
                    &[&tenant_id, &cutoff_min],
                )?;
                c.execute(
                    &format!("DELETE FROM incident i WHERE {WHERE}"),
                    &[&tenant_id, &cutoff_min],
                )?;
                append_audit_in(
                    c,
                    &AuditEntry {
                        actor: actor.to_string(),
                        tenant: tenant.to_string(),
                        action: "retention".to_string(),
                        endpoint: "retention apply".to_string(),
                        filter: format!(
                            "located_by=address,coordinates;end_before={cutoff_text};history_versions={history}"
                        ),
                        records: incidents,
                    },
                )?;
            }
            Ok(RetentionOutcome {
                cutoff: cutoff_text.clone(),
                incidents: incidents.max(0) as u64,
                history_versions: history.max(0) as u64,
                dry_run,
            })
        })
    }

    fn backup_to(&self, path: &Path) -> Result<BackupOutcome, PrivacyError> {
        Err(PrivacyError::Backend {
            message: format!(
                "{}: een PostgreSQL-database maakt u een back-up van met pg_dump (bijvoorbeeld \
                 `pg_dump -Fc -f {} DATABASE`), niet met brandpunt backup",
                self.location,
                path.display()
            ),
        })
    }
}
