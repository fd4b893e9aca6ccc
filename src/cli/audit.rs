//! `brandpunt audit export|verify`: the audit log for the privacy officer.

use super::context;
use anyhow::Context;
use brandpunt::audit;
use chrono::NaiveDate;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Write the audit log (optionally of days --from..--to, UTC) to stdout as CSV or JSON.
    Export {
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day (YYYY-MM-DD), inclusive.
        #[arg(long)]
        to: Option<NaiveDate>,
        /// csv | json
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Verify the whole hash chain: exit 0 when intact, 2 with the first broken sequence number.
    Verify,
}

pub fn run(db: &Path, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let store = context::open_store(db)?;
    match cmd {
        AuditCommand::Export { from, to, format } => {
            let rows = store.audit_records(from, to)?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match format.to_ascii_lowercase().as_str() {
                "csv" => {
                    let mut w = csv::Writer::from_writer(&mut out);
                    for r in &rows {
                        w.serialize(r)?;
                    }
                    if rows.is_empty() {
                        w.write_record([
                            "seq",
                            "at",
                            "actor",
                            "tenant",
                            "action",
                            "endpoint",
                            "filter",
                            "records",
                            "prev_hash",
                            "hash",
                        ])?;
                    }
                    w.flush()?;
                }
                "json" => {
                    serde_json::to_writer_pretty(&mut out, &rows)?;
                    writeln!(out)?;
                }
                other => anyhow::bail!("--format '{other}' niet ondersteund (csv, json)"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let rows = store
                .audit_records(None, None)
                .context("auditlog niet leesbaar")?;
            match audit::verify(&rows) {
                Ok(()) => {
                    println!("Auditlog intact: {} records.", rows.len());
                    Ok(ExitCode::SUCCESS)
                }
                Err(b) => {
                    println!("{}", b.seq);
                    eprintln!("fout: {b}");
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}
