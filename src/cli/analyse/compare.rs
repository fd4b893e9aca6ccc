//! `brandpunt analyse compare`: areas side by side over two periods (store only): counts, rates per 1,000
//! inhabitants (CBS `aantal_inwoners` of the area) and per 1,000 BAG addresses, and the change as a rate ratio
//! (exposure = period length in days) with exact conditional confidence interval and p-value.

use anyhow::Context;
use brandpunt::analysis::compare::{compare_areas, period_days, AreaCounts, AreaPeriods};
use brandpunt::area_level::AreaLevel;
use brandpunt::export::{ColumnType, Table, Value};
use brandpunt::store::Store;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::{context, stats::parse_date};
use super::input::area_prefix;
use super::output;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Area codes, comma-separated (buurt, wijk or gemeente: `BU19990004,WK199901,GM1999`).
    #[arg(long, required = true)]
    pub areas: String,
    /// Current period: first day.
    #[arg(long, value_parser = parse_date)]
    pub from: NaiveDate,
    /// Current period: last day.
    #[arg(long, value_parser = parse_date)]
    pub to: NaiveDate,
    /// Earlier period: first day.
    #[arg(long, value_parser = parse_date)]
    pub vs_from: NaiveDate,
    /// Earlier period: last day.
    #[arg(long, value_parser = parse_date)]
    pub vs_to: NaiveDate,
    /// Category codes and/or group names, comma-separated.
    #[arg(long)]
    pub category: Option<String>,
    /// Source(s), comma-separated.
    #[arg(long)]
    pub source: Option<String>,
    /// Confidence level of the rate ratio interval.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
    pub tenant: String,
    /// Intervention evaluation instead of the comparison: the target area (buurt or wijk code). The current
    /// period (`--from/--to`) is "after", the earlier one (`--vs-from/--vs-to`) "before".
    #[arg(long, requires = "control")]
    pub intervention_target: Option<String>,
    /// Width of the buffer around the target in metres (incidents with a point outside the target within
    /// this distance of its boundary).
    #[arg(long, default_value_t = 250.0)]
    pub buffer_m: f64,
    /// Control area code for the intervention evaluation.
    #[arg(long)]
    pub control: Option<String>,
    /// Output `.csv` or `.json`; default CSV on standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

fn level_of(code: &str) -> AreaLevel {
    match code.get(..2) {
        Some("GM") => AreaLevel::Gemeente,
        Some("WK") => AreaLevel::Wijk,
        _ => AreaLevel::Buurt,
    }
}

/// Incident counts per category for each area prefix in one period (every incident with a buurtcode counts,
/// also those located only to their buurt).
fn counts(
    store: &dyn Store,
    args: &CompareArgs,
    prefixes: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<BTreeMap<String, u64>>> {
    let filter = super::input::incident_filter(
        &args.tenant,
        args.category.as_deref(),
        &args.source,
        Some(from),
        Some(to),
    );
    let mut out = vec![BTreeMap::new(); prefixes.len()];
    for i in store.incidents(&filter)? {
        let Some(b) = i.buurtcode.as_deref() else {
            continue;
        };
        for (k, p) in prefixes.iter().enumerate() {
            if b.starts_with(p.as_str()) {
                let cat = i.category_code.clone().unwrap_or_else(|| "onbekend".into());
                *out[k].entry(cat).or_insert(0) += 1;
            }
        }
    }
    Ok(out)
}

pub fn run(db: &Path, args: CompareArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.from <= args.to, "--from ligt na --to");
    anyhow::ensure!(args.vs_from <= args.vs_to, "--vs-from ligt na --vs-to");
    if let (Some(target), Some(control)) = (&args.intervention_target, &args.control) {
        return wdq(db, &args, target, control);
    }
    let codes: Vec<String> = args
        .areas
        .split(',')
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .collect();
    anyhow::ensure!(!codes.is_empty(), "--areas is leeg");
    let prefixes = codes
        .iter()
        .map(|c| area_prefix(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = context::open_store(db)?;
    let mut inhabitants: Vec<Option<f64>> = Vec::with_capacity(codes.len());
    for code in &codes {
        let areas = store.areas(level_of(code), None)?;
        let area = areas
            .iter()
            .find(|a| &a.code == code)
            .with_context(|| format!("gebied {code} staat niet in de database"))?;
        inhabitants.push(area.inhabitants.filter(|&v| v > -99990).map(|v| v as f64));
    }
    let mut addresses = vec![0u64; codes.len()];
    store.for_each_address(&mut |a| {
        if let Some(b) = a.buurtcode.as_deref() {
            for (k, p) in prefixes.iter().enumerate() {
                if b.starts_with(p.as_str()) {
                    addresses[k] += 1;
                }
            }
        }
        Ok(())
    })?;
    let current = counts(store.as_store(), &args, &prefixes, args.from, args.to)?;
    let previous = counts(store.as_store(), &args, &prefixes, args.vs_from, args.vs_to)?;
    let periods: Vec<AreaPeriods> = codes
        .iter()
        .enumerate()
        .map(|(k, code)| {
            let area = |c: &BTreeMap<String, u64>| AreaCounts {
                area_id: code.clone(),
                category_counts: c.clone(),
                inhabitants: inhabitants[k],
                addresses: Some(addresses[k] as f64),
            };
            AreaPeriods {
                current: area(&current[k]),
                exposure_current: period_days((args.from, args.to)),
                previous: area(&previous[k]),
                exposure_previous: period_days((args.vs_from, args.vs_to)),
            }
        })
        .collect();
    let comparisons = compare_areas(&periods, args.confidence)?;
    let mut t = Table::new(&[
        ("area", ColumnType::Text),
        ("inhabitants", ColumnType::Real),
        ("addresses", ColumnType::Int),
        ("count", ColumnType::Int),
        ("per_1000_inhabitants", ColumnType::Real),
        ("per_1000_addresses", ColumnType::Real),
        ("count_vs", ColumnType::Int),
        ("per_1000_inhabitants_vs", ColumnType::Real),
        ("per_1000_addresses_vs", ColumnType::Real),
        ("rate_ratio", ColumnType::Real),
        ("ci_lower", ColumnType::Real),
        ("ci_upper", ColumnType::Real),
        ("p", ColumnType::Real),
    ]);
    let opt = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    for (k, c) in comparisons.iter().enumerate() {
        t.push(vec![
            Value::from(c.area_id.as_str()),
            opt(inhabitants[k]),
            Value::Int(i64::try_from(addresses[k]).unwrap_or(i64::MAX)),
            Value::Int(i64::try_from(c.current.count).unwrap_or(i64::MAX)),
            opt(c.current.per_1000_inhabitants),
            opt(c.current.per_1000_addresses),
            Value::Int(i64::try_from(c.previous.count).unwrap_or(i64::MAX)),
            opt(c.previous.per_1000_inhabitants),
            opt(c.previous.per_1000_addresses),
            opt(c.change.ratio),
            Value::Real(c.change.ci_lower),
            opt(c.change.ci_upper),
            Value::Real(c.change.p_value),
        ])?;
    }
    output::write_plain(args.output.as_deref(), &t)?;
    Ok(ExitCode::SUCCESS)
}

/// Weighted Displacement Quotient: counts in the target (by buurtcode), the buffer (incident points outside the
/// target within `--buffer-m` of its buurt polygons) and the control area (by buurtcode), before and after.
fn wdq(db: &Path, args: &CompareArgs, target: &str, control: &str) -> anyhow::Result<ExitCode> {
    use brandpunt::analysis::compare::{weighted_displacement_quotient, WdqCounts};
    use geo::{Distance, Euclidean};
    use geo_types::{MultiPolygon, Point};
    anyhow::ensure!(
        args.buffer_m.is_finite() && args.buffer_m > 0.0,
        "--buffer-m moet positief zijn"
    );
    let (tp, cp) = (area_prefix(target)?, area_prefix(control)?);
    let store = context::open_store(db)?;
    let target_polygons: Vec<_> = store
        .areas(AreaLevel::Buurt, None)?
        .into_iter()
        .filter(|a| a.code.starts_with(tp.as_str()))
        .flat_map(|a| a.geometry.0)
        .collect();
    anyhow::ensure!(
        !target_polygons.is_empty(),
        "doelgebied {target} staat niet in de database"
    );
    let target_shape = MultiPolygon(target_polygons);
    // (target, buffer, control) for one period.
    let period = |from: NaiveDate, to: NaiveDate| -> anyhow::Result<(u64, u64, u64)> {
        let filter = super::input::incident_filter(
            &args.tenant,
            args.category.as_deref(),
            &args.source,
            Some(from),
            Some(to),
        );
        let (mut r, mut d, mut c) = (0, 0, 0);
        for i in store.incidents(&filter)? {
            let b = i.buurtcode.as_deref().unwrap_or_default();
            if b.starts_with(tp.as_str()) {
                r += 1;
                continue;
            }
            if b.starts_with(cp.as_str()) {
                c += 1;
            }
            if let (Some(x), Some(y)) = (i.x_m, i.y_m) {
                if Euclidean.distance(&target_shape, &Point::new(x, y)) <= args.buffer_m {
                    d += 1;
                }
            }
        }
        Ok((r, d, c))
    };
    let (rb, db_, cb) = period(args.vs_from, args.vs_to)?;
    let (ra, da, ca) = period(args.from, args.to)?;
    let w = weighted_displacement_quotient(WdqCounts {
        target_before: rb,
        target_after: ra,
        buffer_before: db_,
        buffer_after: da,
        control_before: cb,
        control_after: ca,
    })?;
    let mut t = Table::new(&[
        ("target_before", ColumnType::Int),
        ("target_after", ColumnType::Int),
        ("buffer_before", ColumnType::Int),
        ("buffer_after", ColumnType::Int),
        ("control_before", ColumnType::Int),
        ("control_after", ColumnType::Int),
        ("success_measure", ColumnType::Real),
        ("buffer_measure", ColumnType::Real),
        ("wdq", ColumnType::Real),
        ("interpretation", ColumnType::Text),
        ("gross_effect", ColumnType::Real),
        ("net_effect", ColumnType::Real),
    ]);
    let int = |v: u64| Value::Int(i64::try_from(v).unwrap_or(i64::MAX));
    let interpretation = serde_json::to_value(w.interpretation)?
        .as_str()
        .unwrap_or_default()
        .to_string();
    t.push(vec![
        int(rb),
        int(ra),
        int(db_),
        int(da),
        int(cb),
        int(ca),
        Value::Real(w.success_measure),
        Value::Real(w.buffer_measure),
        w.wdq.map_or(Value::Null, Value::Real),
        Value::from(interpretation),
        Value::Real(w.gross_effect),
        Value::Real(w.net_effect),
    ])?;
    output::write_plain(args.output.as_deref(), &t)?;
    Ok(ExitCode::SUCCESS)
}
