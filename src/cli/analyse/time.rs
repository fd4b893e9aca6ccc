//! `brandpunt analyse time`: aoristic time profile (hour of week, day of week) or time series (week, month).

use anyhow::Context;
use brandpunt::analysis::aoristic::{time_profile, time_series, AoristicConfig};
use brandpunt::calendar::Step;
use brandpunt::export::{ColumnType, Table, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::input::{self, InputArgs};
use super::output;

const DAYS: [&str; 7] = ["ma", "di", "wo", "do", "vr", "za", "zo"];

#[derive(clap::Args, Debug)]
pub struct TimeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// hour-of-week (168 slots), day-of-week, week or month.
    #[arg(long, default_value = "hour-of-week", value_parser = ["hour-of-week", "day-of-week", "week", "month"])]
    pub by: String,
    /// Incidents whose time window is longer than this many hours are left out (counted).
    #[arg(long, default_value_t = 168.0)]
    pub max_window_hours: f64,
    /// Output `.csv` or `.json`; default CSV on standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

pub fn run(db: &Path, args: TimeArgs) -> anyhow::Result<ExitCode> {
    let records = input::load(db, &args.input, None, None)?;
    let events = input::events(&records)?;
    let cfg = AoristicConfig {
        max_window_hours: args.max_window_hours,
    };
    let (table, counts) = match args.by.as_str() {
        "hour-of-week" | "day-of-week" => {
            let p = time_profile(&events, &cfg)?;
            let mut t;
            if args.by == "hour-of-week" {
                t = Table::new(&[
                    ("slot", ColumnType::Int),
                    ("day", ColumnType::Text),
                    ("hour", ColumnType::Int),
                    ("weight", ColumnType::Real),
                ]);
                for (slot, w) in p.hour_of_week.iter().enumerate() {
                    t.push(vec![
                        Value::from(slot),
                        Value::from(DAYS[(slot / 24) % 7]),
                        Value::from(slot % 24),
                        Value::Real(*w),
                    ])?;
                }
            } else {
                t = Table::new(&[
                    ("day_index", ColumnType::Int),
                    ("day", ColumnType::Text),
                    ("weight", ColumnType::Real),
                ]);
                for (d, w) in p.day_of_week.iter().enumerate() {
                    t.push(vec![
                        Value::from(d),
                        Value::from(DAYS[d % 7]),
                        Value::Real(*w),
                    ])?;
                }
            }
            (t, p.counts)
        }
        by => {
            let granularity = if by == "week" {
                Step::Week
            } else {
                Step::Month
            };
            let days = || events.iter().filter_map(|e| e.begin.map(|t| t.date()));
            let from = args
                .input
                .from
                .or_else(|| days().min())
                .context("geen incidenten met een datum")?;
            let to = args
                .input
                .to
                .or_else(|| days().max())
                .context("geen incidenten met een datum")?;
            let s = time_series(&events, from, to, granularity, &cfg)?;
            let mut t = Table::new(&[
                ("start", ColumnType::Text),
                ("days_in_period", ColumnType::Int),
                ("weight", ColumnType::Real),
            ]);
            for b in &s.buckets {
                t.push(vec![
                    Value::from(b.start.to_string()),
                    Value::Int(i64::from(b.days_in_period)),
                    Value::Real(b.weight),
                ])?;
            }
            (t, s.counts)
        }
    };
    output::write_plain(args.output.as_deref(), &table)?;
    eprintln!(
        "Aoristisch: {} incidenten gebruikt; uitgesloten: {} zonder tijd, {} met een venster > {} uur, {} ongeldig",
        counts.used_incidents,
        counts.excluded_missing_time,
        counts.excluded_long_windows,
        args.max_window_hours,
        counts.excluded_invalid
    );
    Ok(ExitCode::SUCCESS)
}
