//! `brandpunt retention apply`: delete address-level incidents older than the retention period.

use super::access::cli_actor;
use super::context;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum RetentionCommand {
    /// Delete the tenant's address-level incidents (located by address or coordinates) whose window ended more
    /// than --months months ago, with their history versions; logged in the audit trail.
    Apply {
        #[arg(long)]
        tenant: String,
        /// Retention period in months (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        months: u32,
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Count the months back from this moment instead of now (`YYYY-MM-DD` or RFC 3339, UTC).
        #[arg(long, value_parser = super::serve::parse_now)]
        now: Option<chrono::NaiveDateTime>,
    },
}

pub fn run(db: &Path, cmd: RetentionCommand) -> anyhow::Result<ExitCode> {
    let RetentionCommand::Apply {
        tenant,
        months,
        dry_run,
        now,
    } = cmd;
    let now = now.unwrap_or_else(|| brandpunt::calendar::Clock::system().now());
    let cutoff = now
        .checked_sub_months(chrono::Months::new(months))
        .ok_or_else(|| anyhow::anyhow!("--months {months} is te groot"))?;
    let mut store = context::open_store(db)?;
    let o = store.apply_retention(&tenant, cutoff, dry_run, &cli_actor())?;
    if o.dry_run {
        println!(
            "Proefdraai: {} incidenten en {} oudere versies met een einde voor {} zouden worden verwijderd.",
            o.incidents, o.history_versions, o.cutoff
        );
    } else {
        println!(
            "{} incidenten en {} oudere versies met een einde voor {} verwijderd.",
            o.incidents, o.history_versions, o.cutoff
        );
    }
    Ok(ExitCode::SUCCESS)
}
