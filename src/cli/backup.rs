//! `brandpunt backup FILE` and `brandpunt restore FILE`.

use super::access::cli_actor;
use super::context;
use brandpunt::audit::AuditEntry;
use brandpunt::store::{restore_sqlite, StoreOpener};
use std::path::Path;
use std::process::ExitCode;

/// Online backup of the store into `file` (the store may be in use).
pub fn backup(db: &Path, file: &Path) -> anyhow::Result<ExitCode> {
    let store = context::open_store(db)?;
    let o = store.backup_to(file)?;
    println!(
        "Back-up geschreven: {} ({} bytes, schemaversie {}).",
        o.file, o.bytes, o.schema_version
    );
    Ok(ExitCode::SUCCESS)
}

/// Replace the store by the backup `file` (checked first; refused when the store is in use).
pub fn restore(db: &Path, file: &Path) -> anyhow::Result<ExitCode> {
    let opener = StoreOpener::new(db)?;
    let Some(path) = opener.sqlite_path() else {
        anyhow::bail!(
            "{}: terugzetten met brandpunt restore kan alleen in een SQLite-database; \
             een PostgreSQL-database zet u terug met pg_restore",
            opener.describe()
        );
    };
    let o = restore_sqlite(path, file)?;
    let mut store = context::open_store(db)?;
    store.append_audit(&AuditEntry {
        actor: cli_actor(),
        tenant: "-".to_string(),
        action: "restore".to_string(),
        endpoint: "cli:restore".to_string(),
        filter: format!("from={}", o.from),
        records: 0,
    })?;
    println!(
        "Database {} teruggezet uit {} (schemaversie {}).",
        o.db, o.from, o.schema_version
    );
    Ok(ExitCode::SUCCESS)
}
