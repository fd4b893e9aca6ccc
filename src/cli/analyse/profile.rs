//! `brandpunt analyse profile`: phenomenon profile (fenomeenanalyse) from the store: the BAG attributes
//! (bouwjaar, gebruiksdoel, oppervlakte classes) of the addresses where the selected incidents happened,
//! against all addresses of the same area (`--area`, default every address), with the relative risk per class.

use brandpunt::analysis::profile::{phenomenon_profile, AddressAttrs};
use brandpunt::export::{ColumnType, Table, Value};
use brandpunt::store::IncidentFilter;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::{context, stats::parse_date};
use super::input::area_prefix;
use super::output;

#[derive(clap::Args, Debug)]
pub struct ProfileArgs {
    /// Category codes and/or group names, comma-separated (e.g. `3.1.1`).
    #[arg(long, required = true)]
    pub category: String,
    /// Restrict addresses and incidents to a buurt, wijk or gemeente.
    #[arg(long)]
    pub area: Option<String>,
    /// First day, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Source(s), comma-separated.
    #[arg(long)]
    pub source: Option<String>,
    /// Confidence level of the relative risk interval.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
    pub tenant: String,
    /// Output `.csv` or `.json`; default CSV on standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

pub fn run(db: &Path, args: ProfileArgs) -> anyhow::Result<ExitCode> {
    let prefix = args.area.as_deref().map(area_prefix).transpose()?;
    let in_area = |b: Option<&str>| match &prefix {
        Some(p) => b.is_some_and(|b| b.starts_with(p.as_str())),
        None => true,
    };
    let store = context::open_store(db)?;
    let mut addresses = Vec::new();
    store.for_each_address(&mut |a| {
        if in_area(a.buurtcode.as_deref()) {
            addresses.push(AddressAttrs {
                address_id: a.bag_id.clone(),
                bouwjaar: a.bouwjaar,
                gebruiksdoelen: a
                    .gebruiksdoel
                    .as_deref()
                    .map(|g| g.split(',').map(|s| s.trim().to_string()).collect())
                    .unwrap_or_default(),
                oppervlakte_m2: a.oppervlakte_m2.map(|v| v as f64),
            });
        }
        Ok(())
    })?;
    let filter = IncidentFilter {
        tenant: args.tenant.clone(),
        categories: brandpunt::category::expand_filter(&args.category),
        sources: args
            .source
            .as_deref()
            .map(|s| {
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        from: args.from,
        to: args.to,
    };
    let incidents = store.incidents(&filter)?;
    let total = incidents.len();
    let ids: Vec<String> = incidents
        .into_iter()
        .filter(|i| in_area(i.buurtcode.as_deref()))
        .filter_map(|i| i.bag_id)
        .collect();
    let profile = phenomenon_profile(&addresses, &ids, args.confidence)?;
    let mut t = Table::new(&[
        ("dimension", ColumnType::Text),
        ("class", ColumnType::Text),
        ("incidents", ColumnType::Int),
        ("incident_share", ColumnType::Real),
        ("addresses", ColumnType::Int),
        ("address_share", ColumnType::Real),
        ("affected_addresses", ColumnType::Int),
        ("over_representation", ColumnType::Real),
        ("relative_risk", ColumnType::Real),
        ("rr_ci_lower", ColumnType::Real),
        ("rr_ci_upper", ColumnType::Real),
    ]);
    let opt = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    let int = |v: u64| Value::Int(i64::try_from(v).unwrap_or(i64::MAX));
    for d in &profile.dimensions {
        for r in &d.rows {
            t.push(vec![
                Value::from(d.dimension.as_str()),
                Value::from(r.class.as_str()),
                int(r.incidents),
                opt(r.incident_share),
                int(r.addresses),
                opt(r.address_share),
                int(r.affected_addresses),
                opt(r.over_representation),
                opt(r.relative_risk.as_ref().map(|x| x.rr)),
                opt(r.relative_risk.as_ref().map(|x| x.ci_lower)),
                opt(r.relative_risk.as_ref().map(|x| x.ci_upper)),
            ])?;
        }
    }
    output::write_plain(args.output.as_deref(), &t)?;
    eprintln!(
        "Profiel: {} incidenten geselecteerd, {} op een adres in het gebied ({} niet gekoppeld), {} adressen",
        total,
        profile.matched_incidents,
        profile.unmatched_incidents,
        profile.addresses
    );
    Ok(ExitCode::SUCCESS)
}
