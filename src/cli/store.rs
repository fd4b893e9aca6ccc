//! `brandpunt store copy --from LOCATION --to LOCATION`: move a store between backends (SQLite file <->
//! PostgreSQL), in one transaction on the target, verified after the commit ([`brandpunt::store::copy`]).

use anyhow::Context;
use brandpunt::store::copy::{copy_store, CopyProgress};
use brandpunt::store::StoreOpener;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum StoreCommand {
    /// Copy everything a store holds (reference data, tenants, deliveries, incidents with their history,
    /// reports, indicators, custom areas, users, tokens, the audit log; not web sessions) into a new, empty
    /// store, e.g. `--from data/brandpunt.db --to postgres://brandpunt@db/brandpunt` (and back). One transaction
    /// on the target: an interrupted copy leaves it unchanged. Verified after the commit: the row count of
    /// every table and the audit hash chain. A target that holds data is refused. `--db` is not used.
    Copy {
        /// The store to copy: a SQLite file or a PostgreSQL URL.
        #[arg(long)]
        from: PathBuf,
        /// The new, empty store: a SQLite file (created) or a PostgreSQL URL (an empty database).
        #[arg(long)]
        to: PathBuf,
    },
}

pub fn run(cmd: StoreCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StoreCommand::Copy { from, to } => copy(&from, &to),
    }
}

fn copy(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<ExitCode> {
    let from = StoreOpener::new(from).with_context(|| format!("--from {}", from.display()))?;
    let to = StoreOpener::new(to).with_context(|| format!("--to {}", to.display()))?;
    if from.sqlite_path().is_some_and(|p| !p.is_file()) {
        anyhow::bail!("--from {}: bestand bestaat niet", from.describe());
    }
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{msg:18} {bar:40} {pos}/{len} [{elapsed}, nog {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = |p: CopyProgress| match p {
        CopyProgress::Table { table, rows } => {
            pb.set_message(table.to_string());
            pb.set_length(rows);
            pb.set_position(0);
        }
        CopyProgress::Rows { rows } => pb.set_position(rows),
        CopyProgress::Verifying => pb.set_message("controleren"),
    };
    let summary = copy_store(&from, &to, &mut progress)
        .with_context(|| format!("kopiëren van {} naar {}", from.describe(), to.describe()))?;
    pb.finish_and_clear();
    println!("Gekopieerd van {} naar {}:", summary.from, summary.to);
    for t in &summary.tables {
        println!("  {:<18} {:>12} rijen", t.table, t.target_rows);
    }
    println!(
        "Controle: aantallen per tabel gelijk; auditlog intact ({} records).",
        summary.audit_records
    );
    Ok(ExitCode::SUCCESS)
}
