//! `brandpunt analyse striking`: "opvallend" areas of one month (store only). Per area of the chosen level,
//! the month's incident count is compared with the area's own history (mean of the previous `--window` months,
//! or with `--seasonal` the same month in earlier years when at least two are available) with exact one-sided
//! Poisson tests and Benjamini-Hochberg FDR over all areas (see `brandpunt::analysis::striking`).

use anyhow::Context;
use brandpunt::analysis::striking::{
    striking_areas, AreaSeries, Baseline, Direction, StrikingConfig,
};
use brandpunt::area_level::AreaLevel;
use brandpunt::calendar::{month_index, parse_month};
use brandpunt::export::{ColumnType, Table, Value};
use chrono::Months;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::context;
use super::output;

#[derive(clap::Args, Debug)]
pub struct StrikingArgs {
    /// The month under test, YYYY-MM.
    #[arg(long)]
    pub month: String,
    /// Area level: buurt, wijk or gemeente.
    #[arg(long, default_value = "buurt")]
    pub level: String,
    /// Category codes and/or group names, comma-separated.
    #[arg(long)]
    pub category: Option<String>,
    /// Source(s), comma-separated.
    #[arg(long)]
    pub source: Option<String>,
    /// Months of history averaged for the expected value.
    #[arg(long, default_value_t = 12)]
    pub window: usize,
    /// Expected value from the same month in earlier years (at least two; else the previous months).
    #[arg(long)]
    pub seasonal: bool,
    /// FDR level.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
    pub tenant: String,
    /// Output `.csv` or `.json`; default CSV on standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// The code of the area at `level` containing buurt `buurtcode` (`BU19990004` -> `WK199900` / `GM1999`).
fn area_of(buurtcode: &str, level: AreaLevel) -> Option<String> {
    match level {
        AreaLevel::Buurt => Some(buurtcode.to_string()),
        AreaLevel::Wijk => buurtcode.get(2..8).map(|s| format!("WK{s}")),
        AreaLevel::Gemeente => buurtcode.get(2..6).map(|s| format!("GM{s}")),
        AreaLevel::Custom => None,
    }
}

pub fn run(db: &Path, args: StrikingArgs) -> anyhow::Result<ExitCode> {
    let month = parse_month(&args.month)
        .with_context(|| format!("--month '{}' is geen maand (JJJJ-MM)", args.month))?;
    let level = AreaLevel::parse_cbs(&args.level)
        .with_context(|| format!("--level '{}': kies buurt, wijk of gemeente", args.level))?;
    anyhow::ensure!(args.window >= 1, "--window moet minstens 1 zijn");
    let history = if args.seasonal {
        args.window.max(36)
    } else {
        args.window
    };
    let months = u32::try_from(history).context("--window te groot")?;
    let start = month
        .checked_sub_months(Months::new(months))
        .context("--month ligt te vroeg")?;
    let end = month
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .context("--month ligt te laat")?;
    let store = context::open_store(db)?;
    let filter = super::input::incident_filter(
        &args.tenant,
        args.category.as_deref(),
        &args.source,
        Some(start),
        Some(end),
    );
    let areas = store.areas(level, None)?;
    anyhow::ensure!(
        !areas.is_empty(),
        "geen gebieden in de database (importeer eerst CBS)"
    );
    let index: HashMap<&str, usize> = areas
        .iter()
        .enumerate()
        .map(|(i, a)| (a.code.as_str(), i))
        .collect();
    let n_periods = history + 1;
    let mut counts = vec![vec![0u64; n_periods]; areas.len()];
    let first = month_index(start);
    for i in store.incidents(&filter)? {
        let Some(code) = i.buurtcode.as_deref().and_then(|b| area_of(b, level)) else {
            continue;
        };
        let t = month_index(i.begin.date()) - first;
        if let (Some(&a), Ok(t)) = (index.get(code.as_str()), usize::try_from(t)) {
            if t < n_periods {
                counts[a][t] += 1;
            }
        }
    }
    let series: Vec<AreaSeries> = areas
        .iter()
        .zip(counts)
        .map(|(a, c)| AreaSeries {
            area_id: a.code.clone(),
            category: None,
            counts: c,
        })
        .collect();
    let cfg = StrikingConfig {
        baseline: if args.seasonal {
            Baseline::Seasonal
        } else {
            Baseline::PreviousPeriods
        },
        window: args.window,
        alpha: args.alpha,
        ..StrikingConfig::default()
    };
    let report = striking_areas(&series, &cfg)?;
    let mut t = Table::new(&[
        ("area", ColumnType::Text),
        ("observed", ColumnType::Int),
        ("expected", ColumnType::Real),
        ("history_mean", ColumnType::Real),
        ("baseline", ColumnType::Text),
        ("baseline_periods", ColumnType::Int),
        ("ratio", ColumnType::Real),
        ("p_increase", ColumnType::Real),
        ("p_decrease", ColumnType::Real),
        ("direction", ColumnType::Text),
    ]);
    for a in &report.areas {
        t.push(vec![
            Value::from(a.area_id.as_str()),
            Value::Int(i64::try_from(a.observed).unwrap_or(i64::MAX)),
            Value::Real(a.expected),
            Value::Real(a.history_mean),
            Value::from(match a.baseline {
                Baseline::Seasonal => "seasonal",
                Baseline::PreviousPeriods => "previous_periods",
            }),
            Value::from(a.baseline_periods),
            a.ratio.map_or(Value::Null, Value::Real),
            Value::Real(a.p_increase),
            Value::Real(a.p_decrease),
            match a.direction {
                Some(Direction::Increase) => Value::from("increase"),
                Some(Direction::Decrease) => Value::from("decrease"),
                None => Value::from(""),
            },
        ])?;
    }
    output::write_plain(args.output.as_deref(), &t)?;
    Ok(ExitCode::SUCCESS)
}
