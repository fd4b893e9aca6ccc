//! [`SessionStore`] on SQLite: tables `web_session` and `login_failure` (migration 13). Every `serve` process on
//! the file shares them (WAL; writes are single statements or one short immediate transaction).

use super::privacy::user_row_principal;
use super::sqlite_privacy::immediate;
use super::web_session::{SessionStore, StoredSession};
use super::{PrivacyError, SqliteStore};
use crate::session::{failures_forgotten_before, ExpiryCutoffs, SessionTimes};
use rusqlite::{params, OptionalExtension};

impl SessionStore for SqliteStore {
    fn create_session(&self, key: &[u8; 32], user: &str, now_ms: i64) -> Result<(), PrivacyError> {
        immediate(self.connection(), |tx| {
            let found: Option<(i64, bool)> = tx
                .prepare_cached("SELECT id, disabled FROM app_user WHERE name = ?1")?
                .query_row([user.trim()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let id = match found {
                None => return Err(PrivacyError::UnknownUser(user.trim().to_string())),
                Some((_, true)) => return Err(PrivacyError::UserDisabled(user.trim().to_string())),
                Some((id, false)) => id,
            };
            let cut = ExpiryCutoffs::at(now_ms);
            tx.prepare_cached(
                "DELETE FROM web_session WHERE last_used_ms <= ?1 OR created_ms <= ?2",
            )?
            .execute(params![cut.idle_before_ms, cut.created_before_ms])?;
            tx.prepare_cached(
            "INSERT INTO web_session (key, user_id, created_ms, last_used_ms) VALUES (?1, ?2, ?3, ?3)",
        )?
        .execute(params![&key[..], id, now_ms])?;
            Ok(())
        })
    }

    fn session(&self, key: &[u8; 32]) -> Result<Option<StoredSession>, PrivacyError> {
        type Row = (i64, i64, String, String, String, String, bool, bool);
        let row: Option<Row> = self
            .connection()
            .prepare_cached(
                "SELECT s.created_ms, s.last_used_ms, t.code, u.name, u.role, u.categories, u.relations,
                        u.disabled
                 FROM web_session s JOIN app_user u ON u.id = s.user_id JOIN tenant t ON t.id = u.tenant_id
                 WHERE s.key = ?1",
            )?
            .query_row([&key[..]], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .optional()?;
        let Some((created_ms, last_used_ms, tenant, user, role, grants, relations, disabled)) = row
        else {
            return Ok(None);
        };
        let principal = if disabled {
            None
        } else {
            Some(user_row_principal(tenant, user, &role, &grants, relations)?)
        };
        Ok(Some(StoredSession {
            times: SessionTimes {
                created_ms,
                last_used_ms,
            },
            principal,
        }))
    }

    fn touch_session(&self, key: &[u8; 32], now_ms: i64) -> Result<(), PrivacyError> {
        self.connection()
            .prepare_cached(
                "UPDATE web_session SET last_used_ms = ?2 WHERE key = ?1 AND last_used_ms < ?2",
            )?
            .execute(params![&key[..], now_ms])?;
        Ok(())
    }

    fn end_session(&self, key: &[u8; 32]) -> Result<bool, PrivacyError> {
        let n = self
            .connection()
            .prepare_cached("DELETE FROM web_session WHERE key = ?1")?
            .execute([&key[..]])?;
        Ok(n > 0)
    }

    fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64, PrivacyError> {
        let cut = ExpiryCutoffs::at(now_ms);
        let n = self
            .connection()
            .prepare_cached("DELETE FROM web_session WHERE last_used_ms <= ?1 OR created_ms <= ?2")?
            .execute(params![cut.idle_before_ms, cut.created_before_ms])?;
        Ok(n as u64)
    }

    fn login_failures(&self, keys: &[String], now_ms: i64) -> Result<usize, PrivacyError> {
        let since = failures_forgotten_before(now_ms);
        let c = self.connection();
        let mut stmt =
            c.prepare_cached("SELECT count(*) FROM login_failure WHERE key = ?1 AND at_ms > ?2")?;
        let mut most = 0usize;
        for k in keys {
            let n: i64 = stmt.query_row(params![k, since], |r| r.get(0))?;
            most = most.max(usize::try_from(n).unwrap_or(usize::MAX));
        }
        Ok(most)
    }

    fn record_login_failure(&self, keys: &[String], now_ms: i64) -> Result<(), PrivacyError> {
        immediate(self.connection(), |tx| {
            tx.prepare_cached("DELETE FROM login_failure WHERE at_ms <= ?1")?
                .execute([failures_forgotten_before(now_ms)])?;
            {
                let mut insert =
                    tx.prepare_cached("INSERT INTO login_failure (key, at_ms) VALUES (?1, ?2)")?;
                for k in keys {
                    insert.execute(params![k, now_ms])?;
                }
            }
            Ok(())
        })
    }

    fn clear_login_failures(&self, key: &str) -> Result<(), PrivacyError> {
        self.connection()
            .prepare_cached("DELETE FROM login_failure WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }
}
