//! `brandpunt analyse evaluate --folds N`: forecast methods on rolling origins (see
//! `brandpunt::analysis::forecast::rolling`). The last test window ends with `--until` (default the last
//! incident's day); the origins lie `--horizon` days apart before it. Output: one row per fold, method and
//! coverage, then per method and coverage the average (`fold` = `gemiddeld`) with the paired test against the
//! first method (`p_vs_naive`) and the verdict: "beter dan tellen" only when p < 0.05, else "niet beter dan
//! tellen". Ties are counted as fractional hits: cells tied with the coverage threshold share the remaining
//! places equally.

use anyhow::Context;
use brandpunt::analysis::forecast::rolling::{backtest, rri_days, Backtest, TIE_RULE};
use brandpunt::analysis::forecast::{event_time, Method, Window};
use brandpunt::cancel::Cancel;
use std::path::Path;
use std::process::ExitCode;

use super::bins;
use super::evaluate::EvaluateArgs;
use super::forecast::{grid_of, method_of, parse_window, MethodArgs};
use super::input;
use super::output;
use brandpunt::analysis::grid::BinSpec;

pub fn run(db: &Path, args: &EvaluateArgs) -> anyhow::Result<ExitCode> {
    let folds = args.folds.unwrap_or(12);
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
    let days = args
        .days
        .as_deref()
        .map(|d| parse_window(Some(d), Window::Days(28)))
        .transpose()?;
    // Checks --folds and --horizon before the incidents are read.
    let check_until = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).context("datum")?;
    brandpunt::analysis::forecast::rolling::origins(check_until, folds, args.horizon)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
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
    let grid = grid_of(&events, args.extent, cell_m)?;
    let spec = Backtest {
        folds,
        horizon_days: args.horizon,
        until,
        methods,
        coverages_pct: coverages,
        rri_days: rri_days(days),
    };
    let r = backtest(&events, &grid, &spec, &Cancel::never())
        .map_err(|e| anyhow::anyhow!("evaluatie: {e}"))?;
    let t = brandpunt::export::rolling::rolling_table(&r)?;
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
