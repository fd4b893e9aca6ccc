//! [`SessionStore`] on PostgreSQL: tables `web_session` (tenant-owned, under row-level security) and
//! `login_failure` (migration 4). Every replica on the database shares them. Sessions are read and written in
//! transactions scoped to all tenants (a session is looked up before its tenant is known).

use super::super::privacy::{user_row_principal, PrivacyError};
use super::super::web_session::{SessionStore, StoredSession};
use super::connection::{get, Started};
use super::{PostgresStore, ALL_TENANTS};
use crate::session::{failures_forgotten_before, ExpiryCutoffs, SessionTimes};

impl SessionStore for PostgresStore {
    fn create_session(&self, key: &[u8; 32], user: &str, now_ms: i64) -> Result<(), PrivacyError> {
        let cut = ExpiryCutoffs::at(now_ms);
        let name = user.trim();
        self.transaction(ALL_TENANTS, |c| {
            let Some(row) = c.query_opt(
                "SELECT id, tenant_id, disabled FROM app_user WHERE name = $1",
                &[&name],
            )?
            else {
                return Err(PrivacyError::UnknownUser(name.to_string()));
            };
            let (id, tenant, disabled): (i64, i64, bool) =
                (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
            if disabled {
                return Err(PrivacyError::UserDisabled(name.to_string()));
            }
            c.execute(
                "DELETE FROM web_session WHERE last_used_ms <= $1 OR created_ms <= $2",
                &[&cut.idle_before_ms, &cut.created_before_ms],
            )?;
            c.execute(
                "INSERT INTO web_session (key, tenant_id, user_id, created_ms, last_used_ms)
                 VALUES ($1, $2, $3, $4, $4)",
                &[&&key[..], &tenant, &id, &now_ms],
            )?;
            Ok(())
        })
    }

    /// Checked on every request of a signed-in user: the transaction's four statements (begin, tenant scope,
    /// look-up, commit) are sent together, one round trip to the database instead of four.
    fn session(&self, key: &[u8; 32]) -> Result<Option<StoredSession>, PrivacyError> {
        let c = &self.conn;
        let begin = c.start_batch("BEGIN");
        let scope = c.start(
            "SELECT set_config('brandpunt.tenant', $1, true)",
            vec![Box::new(ALL_TENANTS.to_string())],
        );
        let lookup = c.start_query_opt(
            "SELECT s.created_ms, s.last_used_ms, t.code, u.name, u.role, u.categories, u.relations, u.disabled
             FROM web_session s JOIN app_user u ON u.id = s.user_id JOIN tenant t ON t.id = u.tenant_id
             WHERE s.key = $1",
            vec![Box::new(key.to_vec())],
        );
        // After a failed statement the transaction is aborted and COMMIT ends it as a rollback.
        let commit = c.start_batch("COMMIT");
        let row = begin
            .wait()
            .and(scope.and_then(Started::wait))
            .and(lookup.and_then(Started::wait));
        commit.wait()?;
        let row = row?;
        let Some(r) = row else {
            return Ok(None);
        };
        let disabled: bool = get(&r, 7)?;
        let principal = if disabled {
            None
        } else {
            let role: String = get(&r, 4)?;
            let grants: String = get(&r, 5)?;
            Some(user_row_principal(
                get(&r, 2)?,
                get(&r, 3)?,
                &role,
                &grants,
                get(&r, 6)?,
            )?)
        };
        Ok(Some(StoredSession {
            times: SessionTimes {
                created_ms: get(&r, 0)?,
                last_used_ms: get(&r, 1)?,
            },
            principal,
        }))
    }

    fn touch_session(&self, key: &[u8; 32], now_ms: i64) -> Result<(), PrivacyError> {
        self.transaction(ALL_TENANTS, |c| {
            c.execute(
                "UPDATE web_session SET last_used_ms = $2 WHERE key = $1 AND last_used_ms < $2",
                &[&&key[..], &now_ms],
            )
        })?;
        Ok(())
    }

    fn end_session(&self, key: &[u8; 32]) -> Result<bool, PrivacyError> {
        let n = self.transaction(ALL_TENANTS, |c| {
            c.execute("DELETE FROM web_session WHERE key = $1", &[&&key[..]])
        })?;
        Ok(n > 0)
    }

    fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64, PrivacyError> {
        let cut = ExpiryCutoffs::at(now_ms);
        Ok(self.transaction(ALL_TENANTS, |c| {
            c.execute(
                "DELETE FROM web_session WHERE last_used_ms <= $1 OR created_ms <= $2",
                &[&cut.idle_before_ms, &cut.created_before_ms],
            )
        })?)
    }

    fn login_failures(&self, keys: &[String], now_ms: i64) -> Result<usize, PrivacyError> {
        let since = failures_forgotten_before(now_ms);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let row = self.transaction(ALL_TENANTS, |c| {
            c.query_one(
                "SELECT coalesce(max(n), 0) FROM (
                     SELECT count(*) AS n FROM login_failure WHERE key = ANY($1) AND at_ms > $2 GROUP BY key
                 ) k",
                &[&keys, &since],
            )
        })?;
        let most: i64 = get(&row, 0)?;
        Ok(usize::try_from(most).unwrap_or(usize::MAX))
    }

    fn record_login_failure(&self, keys: &[String], now_ms: i64) -> Result<(), PrivacyError> {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let forgotten = failures_forgotten_before(now_ms);
        self.transaction(ALL_TENANTS, |c| {
            c.execute("DELETE FROM login_failure WHERE at_ms <= $1", &[&forgotten])?;
            c.execute(
                "INSERT INTO login_failure (key, at_ms) SELECT k, $2 FROM unnest($1::text[]) AS k",
                &[&keys, &now_ms],
            )
        })?;
        Ok(())
    }

    fn clear_login_failures(&self, key: &str) -> Result<(), PrivacyError> {
        self.transaction(ALL_TENANTS, |c| {
            c.execute("DELETE FROM login_failure WHERE key = $1", &[&key])
        })?;
        Ok(())
    }
}
