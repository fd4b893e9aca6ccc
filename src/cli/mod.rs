//! Command-line interface (the binary's edge; errors are `anyhow` here only).

use clap::Parser;
use std::process::ExitCode;

/// brandpunt: hotspot analysis for municipal safety intelligence.
#[derive(Parser, Debug)]
#[command(name = "brandpunt", version, about)]
pub struct Cli {
    /// Path of the embedded store.
    #[arg(
        long,
        global = true,
        env = "BRANDPUNT_DB",
        default_value = "./data/brandpunt.db"
    )]
    pub db: std::path::PathBuf,
}

pub fn run() -> ExitCode {
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}
