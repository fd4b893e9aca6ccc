//! The SQLite backend of [`PrivacyStore`]: users, tokens, the audit log, retention, and online backup/restore.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction (so concurrent audit appenders serialise instead of forking
//! the hash chain). Token secrets are never stored, only argon2id hashes ([`crate::access`]).

use super::migrations::MIGRATIONS;
use super::privacy::{
    dummy_password_hash, random_salt, split_grants, user_row_principal, BackupOutcome,
    PrivacyError, PrivacyStore, RetentionOutcome, TokenInfo, TokenOwner, TokenRow, UserInfo,
    MIN_PASSWORD_CHARS,
};
use super::{SqliteStore, StoreError};
use crate::access::{self, AccessError, Principal, Role};
use crate::audit::{self, AuditEntry, AuditRecord};
use chrono::{NaiveDate, NaiveDateTime};
use rusqlite::backup::Backup;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

impl From<rusqlite::Error> for PrivacyError {
    fn from(e: rusqlite::Error) -> Self {
        PrivacyError::Backend {
            message: e.to_string(),
        }
    }
}

fn now_utc() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Run `f` inside `BEGIN IMMEDIATE` ... `COMMIT` (rolled back on error).
pub(super) fn immediate<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, PrivacyError>,
) -> Result<T, PrivacyError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            // The original error matters more than a failing rollback.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn tenant_id(conn: &Connection, code: &str) -> Result<i64, PrivacyError> {
    conn.query_row("SELECT id FROM tenant WHERE code = ?1", [code], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| PrivacyError::UnknownTenant(code.to_string()))
}

fn read_audit(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        tenant: r.get(3)?,
        action: r.get(4)?,
        endpoint: r.get(5)?,
        filter: r.get(6)?,
        records: r.get(7)?,
        prev_hash: r.get(8)?,
        hash: r.get(9)?,
    })
}

const AUDIT_COLUMNS: &str =
    "seq, at, actor, tenant, action, endpoint, filter, records, prev_hash, hash";

/// Append within an open transaction.
fn append_audit_in(conn: &Connection, entry: &AuditEntry) -> Result<AuditRecord, PrivacyError> {
    let last = conn
        .query_row(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"),
            [],
            read_audit,
        )
        .optional()?;
    let r = audit::chain(last.as_ref(), &now_utc(), entry);
    conn.execute(
        &format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            r.seq,
            r.at,
            r.actor,
            r.tenant,
            r.action,
            r.endpoint,
            r.filter,
            r.records,
            r.prev_hash,
            r.hash
        ],
    )?;
    Ok(r)
}

impl PrivacyStore for SqliteStore {
    fn add_user(
        &mut self,
        tenant: &str,
        name: &str,
        role: Role,
        categories: &[String],
    ) -> Result<(), PrivacyError> {
        let name = name.trim();
        immediate(self.connection(), |c| {
            let tid = tenant_id(c, tenant)?;
            let exists: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM app_user WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )?;
            if exists {
                return Err(PrivacyError::UserExists(name.to_string()));
            }
            c.execute(
                "INSERT INTO app_user (tenant_id, name, role, categories, disabled, created_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5)",
                params![tid, name, role.as_str(), categories.join(","), now_utc()],
            )?;
            Ok(())
        })
    }

    fn users(&self, tenant: Option<&str>) -> Result<Vec<UserInfo>, PrivacyError> {
        let mut stmt = self.connection().prepare(
            "SELECT u.name, t.code, u.role, u.categories, u.disabled, u.created_at, u.relations
             FROM app_user u JOIN tenant t ON t.id = u.tenant_id
             WHERE ?1 IS NULL OR t.code = ?1 ORDER BY u.name",
        )?;
        let rows = stmt.query_map([tenant], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, bool>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, tenant, role, categories, disabled, created_at, relations) = row?;
            let role = Role::parse(&role).map_err(|_| StoreError::InvalidValue {
                table: "app_user",
                column: "role",
                value: role.clone(),
            })?;
            out.push(UserInfo {
                name,
                tenant,
                role,
                categories: split_grants(&categories),
                relations,
                disabled,
                created_at,
            });
        }
        Ok(out)
    }

    fn set_relations_grant(&mut self, name: &str, granted: bool) -> Result<(), PrivacyError> {
        let name = name.trim();
        immediate(self.connection(), |c| {
            let role: String = c
                .query_row("SELECT role FROM app_user WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| PrivacyError::UnknownUser(name.to_string()))?;
            if granted {
                access::check_relations_grant(name, Role::parse(&role)?)?;
            }
            c.execute(
                "UPDATE app_user SET relations = ?2 WHERE name = ?1",
                params![name, granted],
            )?;
            Ok(())
        })
    }

    fn disable_user(&mut self, name: &str) -> Result<(), PrivacyError> {
        let n = self.connection().execute(
            "UPDATE app_user SET disabled = 1 WHERE name = ?1",
            [name.trim()],
        )?;
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
        immediate(self.connection(), |c| {
            let (user_id, tid, source): (Option<i64>, i64, Option<&str>) = match owner {
                TokenOwner::User(name) => {
                    let (uid, tid, disabled): (i64, i64, bool) = c
                        .query_row(
                            "SELECT id, tenant_id, disabled FROM app_user WHERE name = ?1",
                            [name.trim()],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .optional()?
                        .ok_or_else(|| PrivacyError::UnknownUser(name.clone()))?;
                    if disabled {
                        return Err(PrivacyError::UserDisabled(name.clone()));
                    }
                    (Some(uid), tid, None)
                }
                TokenOwner::Delivery { tenant, source } => {
                    (None, tenant_id(c, tenant)?, Some(source.as_str()))
                }
            };
            c.execute(
                "INSERT INTO api_token (prefix, user_id, tenant_id, delivery_source, hash, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![new.id, user_id, tid, source, hash, now_utc(), expires_at],
            )?;
            Ok(())
        })?;
        Ok(new)
    }

    fn revoke_token(&mut self, id: &str) -> Result<bool, PrivacyError> {
        let n = self.connection().execute(
            "UPDATE api_token SET revoked_at = ?2 WHERE prefix = ?1 AND revoked_at IS NULL",
            params![id.trim(), now_utc()],
        )?;
        Ok(n > 0)
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, PrivacyError> {
        let mut stmt = self.connection().prepare(
            "SELECT k.prefix, t.code, coalesce(u.name, 'levering:' || k.delivery_source), k.created_at,
                    k.expires_at, k.revoked_at
             FROM api_token k JOIN tenant t ON t.id = k.tenant_id LEFT JOIN app_user u ON u.id = k.user_id
             ORDER BY k.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                tenant: r.get(1)?,
                owner: r.get(2)?,
                created_at: r.get(3)?,
                expires_at: r.get(4)?,
                revoked_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn authenticate(&self, token: &str) -> Result<Option<Principal>, PrivacyError> {
        let Some(parsed) = access::parse_token(token) else {
            return Ok(None);
        };
        let row = self
            .connection()
            .query_row(
                "SELECT k.hash, k.expires_at, k.revoked_at, k.delivery_source, t.code, u.name, u.role,
                        u.categories, u.disabled, u.relations
                 FROM api_token k JOIN tenant t ON t.id = k.tenant_id LEFT JOIN app_user u ON u.id = k.user_id
                 WHERE k.prefix = ?1",
                [parsed.id],
                |r| {
                    Ok(TokenRow {
                        hash: r.get(0)?,
                        expires_at: r.get(1)?,
                        revoked_at: r.get(2)?,
                        delivery_source: r.get(3)?,
                        tenant: r.get(4)?,
                        user: r.get(5)?,
                        role: r.get(6)?,
                        categories: r.get(7)?,
                        disabled: r.get(8)?,
                        relations: r.get(9)?,
                    })
                },
            )
            .optional()?;
        match row {
            Some(row) => row.principal(parsed.secret, &now_utc()),
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
        let n = self.connection().execute(
            "UPDATE app_user SET password_hash = ?2 WHERE name = ?1",
            params![name.trim(), hash],
        )?;
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
        type Row = (String, String, String, String, bool, Option<String>, bool);
        let row: Option<Row> = self
            .connection()
            .query_row(
                "SELECT t.code, u.name, u.role, u.categories, u.disabled, u.password_hash, u.relations
                 FROM app_user u JOIN tenant t ON t.id = u.tenant_id WHERE u.name = ?1",
                [name.trim()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .optional()?;
        let hash = row
            .as_ref()
            .and_then(|r| r.5.as_deref())
            .unwrap_or_else(|| dummy_password_hash());
        let matches = access::verify_secret(password, hash);
        match row {
            Some((tenant, user, role, grants, false, Some(_), relations)) if matches => Ok(Some(
                user_row_principal(tenant, user, &role, &grants, relations)?,
            )),
            _ => Ok(None),
        }
    }

    fn user_principal(&self, name: &str) -> Result<Option<Principal>, PrivacyError> {
        let row: Option<(String, String, String, String, bool)> = self
            .connection()
            .query_row(
                "SELECT t.code, u.name, u.role, u.categories, u.relations
                 FROM app_user u JOIN tenant t ON t.id = u.tenant_id
                 WHERE u.name = ?1 AND u.disabled = 0",
                [name.trim()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        match row {
            Some((tenant, user, role, grants, relations)) => Ok(Some(user_row_principal(
                tenant, user, &role, &grants, relations,
            )?)),
            None => Ok(None),
        }
    }

    fn append_audit(&mut self, entry: &AuditEntry) -> Result<AuditRecord, PrivacyError> {
        immediate(self.connection(), |c| append_audit_in(c, entry))
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
        let mut stmt = self.connection().prepare(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log
             WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2) ORDER BY seq"
        ))?;
        let rows = stmt.query_map(params![from, to], read_audit)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn apply_retention(
        &mut self,
        tenant: &str,
        cutoff: NaiveDateTime,
        dry_run: bool,
        actor: &str,
    ) -> Result<RetentionOutcome, PrivacyError> {
        let cutoff_text = cutoff.format("%Y-%m-%dT%H:%M").to_string();
        // Incident times are stored as minutes since 1970-01-01T00:00 of the naive local time (schema v3).
        let cutoff_min = cutoff.and_utc().timestamp().div_euclid(60);
        // History versions are keyed by registration: a new version replaces the incident row (new id).
        const WHERE: &str =
            "i.tenant_id = ?1 AND i.located_by IN ('address', 'coordinates') AND i.end_min < ?2";
        let history_where = format!(
            "EXISTS (SELECT 1 FROM incident i WHERE {WHERE} AND i.tenant_id = h.tenant_id
                     AND i.source = h.source AND i.registration = h.registration)"
        );
        immediate(self.connection(), |c| {
            let tid = tenant_id(c, tenant)?;
            let incidents: i64 = c.query_row(
                &format!("SELECT count(*) FROM incident i WHERE {WHERE}"),
                params![tid, cutoff_min],
                |r| r.get(0),
            )?;
            let history: i64 = c.query_row(
                &format!("SELECT count(*) FROM incident_history h WHERE {history_where}"),
                params![tid, cutoff_min],
                |r| r.get(0),
            )?;
            if !dry_run {
                c.execute(
                    &format!(
                        "DELETE FROM incident_history WHERE id IN
                         (SELECT h.id FROM incident_history h WHERE {history_where})"
                    ),
                    params![tid, cutoff_min],
                )?;
                c.execute(
                    &format!("DELETE FROM incident WHERE id IN (SELECT i.id FROM incident i WHERE {WHERE})"),
                    params![tid, cutoff_min],
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
                incidents: incidents as u64,
                history_versions: history as u64,
                dry_run,
            })
        })
    }

    fn backup_to(&self, path: &Path) -> Result<BackupOutcome, PrivacyError> {
        let file = path.display().to_string();
        let io = |source| PrivacyError::Io {
            file: file.clone(),
            source,
        };
        let tmp = temp_next_to(path);
        remove_db_files(&tmp).map_err(io)?;
        let result = (|| {
            let mut dst = Connection::open(&tmp)?;
            {
                let b = Backup::new(self.connection(), &mut dst)?;
                b.run_to_completion(256, Duration::from_millis(2), None)?;
            }
            let version = check_store(&dst, &tmp.display().to_string())?;
            // A standalone file: no -wal/-shm needed to read it.
            dst.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
            drop(dst);
            Ok::<i64, PrivacyError>(version)
        })();
        let version = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = remove_db_files(&tmp);
                return Err(e);
            }
        };
        std::fs::rename(&tmp, path).map_err(io)?;
        let bytes = std::fs::metadata(path).map_err(io)?.len();
        Ok(BackupOutcome {
            file,
            schema_version: version,
            bytes,
        })
    }
}

/// A temporary path in the same directory as `path` (so the final rename is atomic).
fn temp_next_to(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "brandpunt.db".to_string());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Remove a database file and its `-wal`, `-shm` and `-journal` companions (missing ones are fine).
fn remove_db_files(path: &Path) -> std::io::Result<()> {
    for p in [
        path.to_path_buf(),
        sidecar(path, "-wal"),
        sidecar(path, "-shm"),
        sidecar(path, "-journal"),
    ] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Check that `conn` holds an intact brandpunt store this program supports; returns its schema version.
fn check_store(conn: &Connection, file: &str) -> Result<i64, PrivacyError> {
    let not = |reason: String| PrivacyError::NotAStore {
        file: file.to_string(),
        reason,
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| not(format!("geen SQLite-database ({e})")))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| not(format!("integriteitscontrole mislukt ({e})")))?;
    if integrity != "ok" {
        return Err(not(format!("integriteitscontrole: {integrity}")));
    }
    let supported = MIGRATIONS.len() as i64;
    if version < 1 || version > supported {
        return Err(not(format!(
            "schemaversie {version}, deze versie van brandpunt ondersteunt 1 t/m {supported}"
        )));
    }
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('tenant', 'incident', 'delivery')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| not(e.to_string()))?;
    if tables != 3 {
        return Err(not(
            "tabellen tenant/incident/delivery ontbreken".to_string()
        ));
    }
    Ok(version)
}

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestoreOutcome {
    pub from: String,
    pub db: String,
    /// Schema version of the backup (the store is migrated to the current version when opened).
    pub schema_version: i64,
}

/// Replace the store at `db` by the backup `from`, atomically.
///
/// `from` must be an intact brandpunt store (`integrity_check` ok, schema version between 1 and the supported
/// version); otherwise nothing is touched. It is copied with the backup API into a temporary file next to `db`,
/// checked again, and renamed over `db`. Before the rename the current store is switched to a rollback journal
/// (which checkpoints and removes its `-wal`/`-shm`, and fails when another process has it open: then the
/// restore is refused with [`PrivacyError::InUse`]) and held under an exclusive lock until the rename is done,
/// so no stale WAL can be applied to the restored file. The store is not opened or migrated here.
pub fn restore_sqlite(db: &Path, from: &Path) -> Result<RestoreOutcome, PrivacyError> {
    let from_name = from.display().to_string();
    let db_name = db.display().to_string();
    if !from.is_file() {
        return Err(PrivacyError::NotAStore {
            file: from_name,
            reason: "bestand bestaat niet".to_string(),
        });
    }
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| PrivacyError::NotAStore {
        file: from_name.clone(),
        reason: e.to_string(),
    })?;
    let version = check_store(&src, &from_name)?;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| PrivacyError::Io {
            file: db_name.clone(),
            source,
        })?;
    }
    let tmp = temp_next_to(db);
    let io = |file: &str, source| PrivacyError::Io {
        file: file.to_string(),
        source,
    };
    remove_db_files(&tmp).map_err(|e| io(&db_name, e))?;
    let copied = (|| {
        let mut dst = Connection::open(&tmp)?;
        {
            let b = Backup::new(&src, &mut dst)?;
            b.run_to_completion(256, Duration::from_millis(2), None)?;
        }
        check_store(&dst, &tmp.display().to_string())?;
        dst.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
        Ok::<(), PrivacyError>(())
    })();
    drop(src);
    if let Err(e) = copied {
        let _ = remove_db_files(&tmp);
        return Err(e);
    }
    let swap = (|| {
        let guard = if db.exists() {
            let conn = Connection::open(db)?;
            conn.busy_timeout(Duration::from_secs(2))?;
            let mode: String = conn
                .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
                .map_err(|_| PrivacyError::InUse {
                    path: db_name.clone(),
                })?;
            if !mode.eq_ignore_ascii_case("delete") {
                return Err(PrivacyError::InUse {
                    path: db_name.clone(),
                });
            }
            conn.execute_batch("BEGIN EXCLUSIVE")
                .map_err(|_| PrivacyError::InUse {
                    path: db_name.clone(),
                })?;
            Some(conn)
        } else {
            None
        };
        // Companions of the old file would be applied to the new one: none may survive.
        for suffix in ["-wal", "-shm", "-journal"] {
            let p = sidecar(db, suffix);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| io(&p.display().to_string(), e))?;
            }
        }
        std::fs::rename(&tmp, db).map_err(|e| io(&db_name, e))?;
        drop(guard);
        Ok::<(), PrivacyError>(())
    })();
    if let Err(e) = swap {
        let _ = remove_db_files(&tmp);
        return Err(e);
    }
    Ok(RestoreOutcome {
        from: from_name,
        db: db_name,
        schema_version: version,
    })
}
