//! The daily retention task of `brandpunt serve`: with `[privacy] retention_months` configured, the
//! address-level incidents of every tenant whose window ended more than that many months before the server's
//! clock ([`crate::config::ServerConfig::clock`]) are deleted (with
//! their history versions) at start and then every 24 hours, each run one transaction per tenant with an audit
//! record by [`RETENTION_ACTOR`] (the same operation as `brandpunt retention apply`). A run that deleted
//! something reloads the snapshots, so the served data never show removed incidents. Of several replicas on one
//! database only the one holding the duty runs it ([`super::DutyHolder`]); a replica that takes the duty over runs
//! at once.

use super::AppState;
use chrono::NaiveDateTime;
use std::sync::Arc;
use std::time::Duration;

/// Actor name of the task's audit records.
pub const RETENTION_ACTOR: &str = "serve:retentie";

/// Time between runs.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// The moment before which incident windows must have ended to be removed: `now` minus `months` (`None` when
/// that falls before the calendar's start).
pub fn cutoff(now: NaiveDateTime, months: u32) -> Option<NaiveDateTime> {
    now.checked_sub_months(chrono::Months::new(months))
}

/// One run over all tenants; returns the number of incidents deleted. Errors are logged per tenant and do not
/// stop the other tenants.
pub fn run_once(state: &AppState, months: u32, now: NaiveDateTime) -> u64 {
    let Some(cutoff) = cutoff(now, months) else {
        tracing::error!(months, "retention: period too long");
        return 0;
    };
    let _writing = state.writing();
    let tenants = match state.with_store(|s| s.tenants()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "retention: cannot list tenants");
            return 0;
        }
    };
    let mut deleted = 0;
    let mut changed = Vec::new();
    for (tenant, _) in tenants {
        match state.with_store(|s| s.apply_retention(&tenant, cutoff, false, RETENTION_ACTOR)) {
            Ok(o) => {
                deleted += o.incidents;
                if o.incidents > 0 || o.history_versions > 0 {
                    changed.push(tenant.clone());
                }
                tracing::info!(
                    %tenant,
                    incidents = o.incidents,
                    history_versions = o.history_versions,
                    cutoff = %o.cutoff,
                    "retention applied"
                );
            }
            Err(e) => tracing::error!(%tenant, error = %e, "retention failed"),
        }
    }
    if !changed.is_empty() {
        if let Err(e) = state.reload_tenants(&changed) {
            tracing::error!(error = %e, "reload after retention failed");
        }
    }
    deleted
}

/// Start the daily task when retention is configured.
pub fn spawn(state: &Arc<AppState>) -> std::io::Result<()> {
    let Some(months) = state.config.privacy.retention_months else {
        return Ok(());
    };
    let state = state.clone();
    std::thread::Builder::new()
        .name("brandpunt-retention".into())
        .spawn(move || {
            let mut duty = super::DutyHolder::new(crate::store::Duty::Retention);
            // When this process last ran while holding the duty without interruption.
            let mut last_run: Option<std::time::Instant> = None;
            loop {
                if duty.hold(&state) {
                    if last_run.is_none_or(|t| t.elapsed() >= RETENTION_INTERVAL) {
                        run_once(&state, months, state.config.clock.now());
                        last_run = Some(std::time::Instant::now());
                    }
                } else {
                    last_run = None;
                }
                std::thread::sleep(super::DUTY_RETRY);
            }
        })?;
    tracing::info!(months, "daily retention active");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn cutoff_is_whole_calendar_months_back() {
        let now = NaiveDate::from_ymd_opt(2026, 3, 31)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert_eq!(
            cutoff(now, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 28)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
        );
        assert_eq!(
            cutoff(now, 24).unwrap().date(),
            NaiveDate::from_ymd_opt(2024, 3, 31).unwrap()
        );
        assert!(cutoff(now, u32::MAX).is_none());
    }
}
