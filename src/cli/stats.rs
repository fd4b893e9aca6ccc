//! `brandpunt stats`: counts of located incidents per area and category.

use super::analyse::input::incident_filter;
use super::context;
use brandpunt::area_level::AreaLevel;
use chrono::NaiveDate;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Area level: buurt, wijk or gemeente.
    #[arg(long, default_value = "buurt", value_parser = parse_level)]
    pub by: AreaLevel,
    /// Category codes and/or group names, comma-separated (e.g. `1.1.1,geweld`).
    #[arg(long)]
    pub category: Option<String>,
    /// Source(s), comma-separated (e.g. `politie`).
    #[arg(long)]
    pub source: Option<String>,
    /// First day (incidents whose window begins on or after it), YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day (incidents whose window begins on or before it), YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Output format.
    #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
    pub format: String,
    #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
    pub tenant: String,
}

fn parse_level(s: &str) -> Result<AreaLevel, String> {
    AreaLevel::parse_cbs(s)
        .ok_or_else(|| format!("'{s}' is geen niveau: kies buurt, wijk of gemeente"))
}

pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    brandpunt::calendar::parse_date(s).map_err(|e| e.to_string())
}

pub fn run(db: &Path, args: StatsArgs) -> anyhow::Result<ExitCode> {
    if let (Some(f), Some(t)) = (args.from, args.to) {
        anyhow::ensure!(f <= t, "--from ({f}) ligt na --to ({t})");
    }
    let store = context::open_store(db)?;
    let filter = incident_filter(
        &args.tenant,
        args.category.as_deref(),
        &args.source,
        args.from,
        args.to,
    );
    let counts = store.count_by_area(args.by, &filter)?;
    let key = format!("{}code", args.by.as_str());
    if args.format == "json" {
        let rows: Vec<serde_json::Value> = counts
            .iter()
            .map(|c| serde_json::json!({ key.as_str(): c.area_code, "category": c.category, "count": c.count }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let mut w = csv::Writer::from_writer(std::io::stdout());
        w.write_record([key.as_str(), "category", "count"])?;
        for c in &counts {
            w.write_record([
                c.area_code.as_str(),
                c.category.as_str(),
                &c.count.to_string(),
            ])?;
        }
        w.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
