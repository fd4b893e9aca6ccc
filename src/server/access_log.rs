//! Audit logging of address-level data access by the server.
//!
//! Every response that carries address-level incidents is logged in the hash-chained audit log
//! ([`crate::audit`], [`crate::store::PrivacyStore::append_audit`]) with who ([`Principal::actor`]), the tenant,
//! which endpoint, the canonical filter text ([`super::filter::Filter::key`] plus area/bbox) and how many records
//! were served; never the data themselves.
//! - Exports (`/api/incidents.geojson`, `/api/incidents.csv`): one record per request, written before the
//!   answer is sent ([`log_now`]); when the record cannot be written the request fails (no unlogged access).
//! - The `incidents` vector tile layer: a map that pans requests many tiles, so tiles are counted in memory
//!   ([`AccessLog::record`]) per (actor, tenant, endpoint, filter) and written as one record with the summed
//!   number of features every [`FLUSH_INTERVAL`] by a background task ([`spawn_flusher`]) and once more when
//!   the server stops ([`AccessLog::flush`]). Tiles answered 204 (empty) or 304 (not modified) count as accesses
//!   with the features they stand for.

use super::error::ApiError;
use super::AppState;
use crate::access::Principal;
use crate::audit::AuditEntry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the tile access counts are written to the audit log.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// The audit `action` of address-level reads.
pub const ACTION_READ_INCIDENTS: &str = "read_incidents";

/// Key of an aggregated access: (actor, tenant, endpoint, filter).
type AccessKey = (String, String, String, String);

/// Address-level accesses counted in memory until the next flush.
#[derive(Default)]
pub struct AccessLog {
    pending: Mutex<HashMap<AccessKey, i64>>,
}

impl AccessLog {
    /// Count `records` features served to `principal` by `endpoint` under `filter`.
    pub fn record(&self, principal: &Principal, endpoint: &str, filter: &str, records: i64) {
        let mut pending = match self.pending.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *pending
            .entry((
                principal.actor().to_string(),
                principal.tenant.clone(),
                endpoint.to_string(),
                filter.to_string(),
            ))
            .or_default() += records;
    }

    /// The counted accesses, emptied (sorted, so records are written in a stable order).
    fn take(&self) -> Vec<AuditEntry> {
        let mut pending = match self.pending.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut entries: Vec<AuditEntry> = pending
            .drain()
            .map(|((actor, tenant, endpoint, filter), records)| AuditEntry {
                actor,
                tenant,
                action: ACTION_READ_INCIDENTS.to_string(),
                endpoint,
                filter,
                records,
            })
            .collect();
        entries.sort_by(|a, b| {
            (&a.actor, &a.tenant, &a.endpoint, &a.filter).cmp(&(
                &b.actor,
                &b.tenant,
                &b.endpoint,
                &b.filter,
            ))
        });
        entries
    }

    /// Number of pending (not yet written) aggregated accesses.
    pub fn pending(&self) -> usize {
        match self.pending.lock() {
            Ok(g) => g.len(),
            Err(p) => p.into_inner().len(),
        }
    }

    /// Write every counted access to the audit log (blocking: call from a blocking thread). Entries that could
    /// not be written are counted again, so the next flush retries them.
    pub fn flush(&self, state: &AppState) {
        let entries = self.take();
        for (k, entry) in entries.iter().enumerate() {
            if let Err(e) = state.with_store(|s| s.append_audit(entry)) {
                tracing::error!(error = %e, "audit log: tile accesses could not be written");
                let mut pending = match self.pending.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                for e in &entries[k..] {
                    *pending
                        .entry((
                            e.actor.clone(),
                            e.tenant.clone(),
                            e.endpoint.clone(),
                            e.filter.clone(),
                        ))
                        .or_default() += e.records;
                }
                return;
            }
        }
    }
}

/// Write one audit record for an address-level answer now (blocking). 500 when it cannot be written, so no
/// address-level data leave the server unlogged.
pub fn log_now(
    state: &AppState,
    principal: &Principal,
    endpoint: &str,
    filter: &str,
    records: i64,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        actor: principal.actor().to_string(),
        tenant: principal.tenant.clone(),
        action: ACTION_READ_INCIDENTS.to_string(),
        endpoint: endpoint.to_string(),
        filter: filter.to_string(),
        records,
    };
    state
        .with_store(|s| s.append_audit(&entry))
        .map(|_| ())
        .map_err(ApiError::internal)
}

/// Flush the tile access counts every [`FLUSH_INTERVAL`] (on the tokio runtime).
pub fn spawn_flusher(state: &Arc<AppState>) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if state.access_log.pending() == 0 {
                continue;
            }
            let st = state.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || st.access_log.flush(&st)).await {
                tracing::error!(error = %e, "audit log flush failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_are_summed_per_actor_endpoint_and_filter() {
        let log = AccessLog::default();
        let a = Principal::anonymous("t");
        let mut b = Principal::anonymous("t");
        b.user = "piet".into();
        log.record(&a, "GET /tiles/incidents", "c=1", 3);
        log.record(&a, "GET /tiles/incidents", "c=1", 4);
        log.record(&a, "GET /tiles/incidents", "c=2", 1);
        log.record(&b, "GET /tiles/incidents", "c=1", 0);
        assert_eq!(log.pending(), 3);
        let entries = log.take();
        let got: Vec<(&str, &str, i64)> = entries
            .iter()
            .map(|e| (e.actor.as_str(), e.filter.as_str(), e.records))
            .collect();
        assert_eq!(
            got,
            vec![
                ("anoniem", "c=1", 7),
                ("anoniem", "c=2", 1),
                ("piet", "c=1", 0)
            ]
        );
        assert!(entries.iter().all(|e| e.action == ACTION_READ_INCIDENTS));
        assert_eq!(log.pending(), 0);
    }
}
