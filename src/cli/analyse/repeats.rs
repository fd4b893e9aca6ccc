//! `brandpunt analyse repeats`: repeat victimisation per BAG address ([`brandpunt::analysis::repeat_victims`])
//! of the store's incidents that match the filters (`--category`, `--source`, `--from`, `--to`, `--area`,
//! `--bbox`; an incident's day is the day its window begins). Incidents without a BAG address are counted apart.
//!
//! Output by extension: `.csv` (one row per address: `address`, `incidents`, `first_day`, `last_day`,
//! `shortest_gap_days`) or `.json` (the summary: totals, the 1/2/3/4+ histogram, the time-to-next bins, and the
//! addresses). The summary is printed as well.

use anyhow::{bail, Context};
use brandpunt::analysis::repeat_victims::{repeat_victims, AddressIncident, RepeatVictims};
use brandpunt::export::{write_csv, ColumnType, Table, Value};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::context;
use super::input::{self, InputArgs, Study};
use super::output::{format_of, Format};

#[derive(clap::Args, Debug)]
pub struct RepeatsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output: `.csv` (one row per address) or `.json` (summary and addresses).
    #[arg(long)]
    pub output: PathBuf,
}

fn date_of(day: i64) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|e| e.checked_add_signed(chrono::Duration::days(day)))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

pub fn run(db: &Path, args: RepeatsArgs) -> anyhow::Result<ExitCode> {
    let format = format_of(&args.output)?;
    if !matches!(format, Format::Csv | Format::Json | Format::Xlsx) {
        bail!(
            "{}: repeats schrijft .csv, .xlsx of .json",
            args.output.display()
        );
    }
    let a = &args.input;
    anyhow::ensure!(
        a.input.is_none() && a.input_crs.is_none(),
        "--input en --input-crs: herhaalde slachtoffers vragen BAG-adressen uit de database"
    );
    if let (Some(f), Some(t)) = (a.from, a.to) {
        anyhow::ensure!(f <= t, "--from ({f}) ligt na --to ({t})");
    }
    let store = context::open_store(db)?;
    let study = Study::of(store.as_store(), a)?;
    let filter = input::incident_filter(&a.tenant, a.category.as_deref(), &a.source, a.from, a.to);
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).context("datum")?;
    let mut without_address = 0u64;
    let mut incidents = Vec::new();
    for i in store.incidents(&filter)? {
        let point = i.x_m.zip(i.y_m);
        if !study
            .as_ref()
            .is_none_or(|s| s.holds(i.buurtcode.as_deref(), point))
        {
            continue;
        }
        match i.bag_id {
            Some(address) if !address.trim().is_empty() => incidents.push(AddressIncident {
                address,
                day: (i.begin.date() - epoch).num_days(),
            }),
            _ => without_address += 1,
        }
    }
    let r = repeat_victims(&incidents);
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(&r)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("incidents_without_address".into(), without_address.into());
            }
            std::fs::write(&args.output, serde_json::to_string_pretty(&v)?)
                .with_context(|| format!("{}: kan niet schrijven", args.output.display()))?;
        }
        Format::Xlsx => super::output::write_xlsx(&args.output, "Per adres", &address_table(&r))?,
        _ => write_csv(&args.output, &address_table(&r))?,
    }
    println!(
        "herhaald slachtofferschap: {} incidenten op {} adressen ({} zonder adres), {} herhalingen ({:.1} %) -> {}",
        r.incidents,
        r.addresses,
        without_address,
        r.repeats,
        r.repeat_share * 100.0,
        args.output.display()
    );
    for b in &r.histogram {
        println!(
            "  {} incident(en): {} adressen ({} %)",
            b.label, b.addresses, b.percent
        );
    }
    for b in &r.time_to_next {
        println!(
            "  volgende na {} dagen: {} ({} %)",
            b.label, b.count, b.percent
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn address_table(r: &RepeatVictims) -> Table {
    let mut table = Table::new(&[
        ("address", ColumnType::Text),
        ("incidents", ColumnType::Int),
        ("first_day", ColumnType::Text),
        ("last_day", ColumnType::Text),
        ("shortest_gap_days", ColumnType::Int),
    ]);
    for a in &r.per_address {
        table.rows.push(vec![
            Value::Text(a.address.clone()),
            Value::Int(a.incidents as i64),
            Value::Text(date_of(a.first_day)),
            Value::Text(date_of(a.last_day)),
            a.shortest_gap_days.map_or(Value::Null, Value::Int),
        ]);
    }
    table
}
