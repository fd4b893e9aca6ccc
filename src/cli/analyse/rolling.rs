//! `brandpunt analyse evaluate --folds N`: forecast methods on rolling origins (see
//! `brandpunt::analysis::forecast::rolling`). The last test window ends with `--until` (default the last
//! incident's day); the origins lie `--horizon` days apart before it. Output: one row per fold, method and
//! coverage, then per method and coverage the average (`fold` = `gemiddeld`) with the paired test against the
//! first method (`p_vs_naive`) and the verdict: "beter dan tellen" only when p < 0.05, else "niet beter dan
//! tellen". Ties are counted as fractional hits: cells tied with the coverage threshold share the remaining
//! places equally.

use anyhow::Context;
use brandpunt::analysis::forecast::rolling::{rolling_evaluation, RollingParams};
use brandpunt::analysis::forecast::{event_time, Method, Window};
use brandpunt::cancel::Cancel;
use brandpunt::export::{ColumnType, Table, Value};
use chrono::{Days, NaiveTime};
use std::path::Path;
use std::process::ExitCode;

use super::bins;
use super::evaluate::EvaluateArgs;
use super::forecast::{grid_of, method_of, parse_window, MethodArgs};
use super::input;
use super::output;
use brandpunt::analysis::grid::BinSpec;

/// The tie rule as printed with the output.
pub const TIE_RULE: &str = "gelijke waarden op de drempel tellen als fractionele treffers: de gelijke cellen delen de resterende plaatsen";

pub fn run(db: &Path, args: &EvaluateArgs) -> anyhow::Result<ExitCode> {
    let folds = args.folds.unwrap_or(12);
    anyhow::ensure!(
        (1..=520).contains(&folds),
        "--folds {folds}: kies 1 tot en met 520"
    );
    anyhow::ensure!(
        (1..=366).contains(&args.horizon),
        "--horizon {}: kies 1 tot en met 366 dagen",
        args.horizon
    );
    let cell_m = match bins::parse_bins(&args.bins)? {
        BinSpec::Grid { cell_m } => f64::from(cell_m),
        other => {
            anyhow::bail!("--bins {other}: rolling origins (--folds) werken op een raster, grid:C")
        }
    };
    let coverages: Vec<f64> = args
        .coverages
        .split(',')
        .map(|c| {
            c.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0 && *v <= 100.0)
                .with_context(|| format!("--coverages '{c}': percentages tussen 0 en 100"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut methods: Vec<(String, Method)> = Vec::new();
    for name in args
        .methods
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        let m = method_of(&MethodArgs {
            method: name,
            days: args.days.as_deref(),
            bandwidth_m: args.bandwidth,
            space_cells: args.space_cells,
            time_weeks: args.time_weeks,
            iterations: args.iterations,
            corrected: false,
        })
        .with_context(|| format!("--methods: {name}"))?;
        methods.push((m.name().to_string(), m));
    }
    anyhow::ensure!(!methods.is_empty(), "--methods: geen methoden");
    let rri_days = match parse_window(args.days.as_deref(), Window::Days(28))? {
        Window::Days(n) => n,
        Window::All => 28,
    };
    let records = input::load(db, &args.input, None, None)?;
    let events = input::events(&records)?;
    let until = match args.until {
        Some(d) => d,
        None => events
            .iter()
            .filter_map(event_time)
            .max()
            .context("geen incidenten met een datum")?
            .date(),
    };
    let end = until.checked_add_days(Days::new(1)).context("--until")?;
    let origins = (1..=folds)
        .rev()
        .map(|k| {
            end.checked_sub_days(Days::new(u64::from(k) * u64::from(args.horizon)))
                .map(|d| d.and_time(NaiveTime::MIN))
                .context("--folds x --horizon reikt te ver terug")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let grid = grid_of(&events, args.extent, cell_m)?;
    let params = RollingParams {
        origins,
        horizon_days: args.horizon,
        coverages_pct: coverages,
        rri_days,
    };
    let r = rolling_evaluation(&events, &grid, &methods, &params, &Cancel::never())
        .map_err(|e| anyhow::anyhow!("evaluatie: {e}"))?;
    let mut t = Table::new(&[
        ("fold", ColumnType::Text),
        ("origin", ColumnType::Text),
        ("method", ColumnType::Text),
        ("coverage_pct", ColumnType::Real),
        ("cells", ColumnType::Int),
        ("test_events", ColumnType::Int),
        ("hits", ColumnType::Real),
        ("hit_rate", ColumnType::Real),
        ("pai", ColumnType::Real),
        ("pei", ColumnType::Real),
        ("rri", ColumnType::Real),
        ("p_vs_naive", ColumnType::Real),
        ("verdict", ColumnType::Text),
    ]);
    let opt = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    let fold_no = |o: &chrono::NaiveDateTime| {
        params
            .origins
            .iter()
            .position(|x| x == o)
            .map_or(0, |k| k + 1)
    };
    for f in &r.folds {
        let m = &f.metrics;
        t.push(vec![
            Value::Text(fold_no(&f.origin).to_string()),
            Value::Text(f.origin.date().to_string()),
            Value::from(f.method.as_str()),
            Value::Real(f.coverage_pct),
            Value::from(m.selection.n_selected),
            Value::from(m.test_total),
            Value::Real(m.hits),
            opt(m.hit_rate),
            opt(m.pai),
            opt(m.pei),
            opt(m.rri),
            Value::Null,
            Value::Null,
        ])?;
    }
    for s in &r.summaries {
        t.push(vec![
            Value::from("gemiddeld"),
            Value::Null,
            Value::from(s.method.as_str()),
            Value::Real(s.coverage_pct),
            Value::Null,
            Value::from(s.folds),
            Value::Null,
            opt(s.mean_hit_rate),
            opt(s.mean_pai),
            opt(s.mean_pei),
            opt(s.mean_rri),
            opt(s.p_vs_baseline),
            s.verdict.map_or(Value::Null, Value::from),
        ])?;
    }
    output::write_plain(args.output.as_deref(), &t)?;
    eprintln!(
        "{} folds van {} dagen tot en met {until}, basis {}; {TIE_RULE}; beter dan tellen alleen bij p < 0,05 (eenzijdige gepaarde tekenwisseltoets op de treffersratio per fold)",
        folds, args.horizon, r.baseline
    );
    for s in r.summaries.iter().filter(|s| s.verdict.is_some()) {
        eprintln!(
            "  {} bij {} %: {} (p = {:.4})",
            s.method,
            s.coverage_pct,
            s.verdict.unwrap_or_default(),
            s.p_vs_baseline.unwrap_or(1.0)
        );
    }
    Ok(ExitCode::SUCCESS)
}
