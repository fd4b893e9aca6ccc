//! `brandpunt analyse profile`: phenomenon profile (fenomeenanalyse) from the store: the BAG attributes
//! (bouwjaar, gebruiksdoel, oppervlakte classes) of the addresses where the selected incidents happened,
//! against all addresses of the same area (`--area`, default every address), with the relative risk per class;
//! the WOZ classes and any imported numeric address attribute as a dimension (`--dimension woz`,
//! `--dimension NAME --classes quantiles:5`), and the breakdown of one dimension by buurt, wijk or year (`--by`)
//! with the tests of homogeneity across the groups.

use brandpunt::analysis::profile::{
    phenomenon_profile_with, AddressAttrs, ClassSpec, Dimension, DimensionProfile, ProfileRow,
    STANDARD_DIMENSIONS, WOZ_ATTRIBUTE,
};
use brandpunt::analysis::profile_breakdown::{profile_breakdown, Grouping, ProfileBy};
use brandpunt::export::{ColumnType, Table, Value};
use brandpunt::store::IncidentFilter;
use chrono::NaiveDate;
use std::collections::HashMap;
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
    /// One dimension only: `bouwjaar`, `gebruiksdoel`, `oppervlakte`, `woz` (the WOZ classes of the imported
    /// `woz_waarde`) or the name of an imported address attribute. Default: the standard dimensions, and `woz`
    /// when WOZ values were imported.
    #[arg(long)]
    pub dimension: Option<String>,
    /// Classes of a numeric attribute: `quantiles:N` (default `quantiles:5`) or bounds `100,250,500`; for `woz`
    /// they replace the WOZ classes.
    #[arg(long)]
    pub classes: Option<String>,
    /// Break the dimension down by `buurt`, `wijk` or `year`, with the tests of homogeneity across the groups
    /// (needs `--dimension`).
    #[arg(long)]
    pub by: Option<String>,
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
    let mut buurten: Vec<Option<String>> = Vec::new();
    store.for_each_address(&mut |a| {
        if in_area(a.buurtcode.as_deref()) {
            buurten.push(a.buurtcode.clone());
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
    let by = match args.by.as_deref() {
        Some(b) => Some(
            ProfileBy::parse(b)
                .ok_or_else(|| anyhow::anyhow!("--by '{b}': kies buurt, wijk of year"))?,
        ),
        None => None,
    };
    if by.is_some() && args.dimension.is_none() {
        anyhow::bail!("--by heeft --dimension nodig (bijv. --dimension woz)");
    }
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
    let located: Vec<(String, chrono::NaiveDateTime)> = incidents
        .into_iter()
        .filter(|i| in_area(i.buurtcode.as_deref()))
        .filter_map(|i| i.bag_id.map(|b| (b, i.begin)))
        .collect();
    let ids: Vec<&str> = located.iter().map(|(b, _)| b.as_str()).collect();
    // The attribute values a dimension needs, read once.
    let classes = args
        .classes
        .as_deref()
        .map(ClassSpec::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--classes: {e}"))?;
    let numeric = args
        .dimension
        .as_deref()
        .is_some_and(|d| !STANDARD_DIMENSIONS.contains(&d.trim()));
    if classes.is_some() && !numeric {
        anyhow::bail!("--classes geldt alleen voor --dimension woz of een ingelezen adreskenmerk");
    }
    let names = store.address_attribute_names(&args.tenant)?;
    let wanted = match args.dimension.as_deref().map(str::trim) {
        None => names
            .iter()
            .any(|n| n == WOZ_ATTRIBUTE)
            .then(|| WOZ_ATTRIBUTE.to_string()),
        Some("woz") => Some(WOZ_ATTRIBUTE.to_string()),
        Some(d) if STANDARD_DIMENSIONS.contains(&d) => None,
        Some(d) => Some(d.to_ascii_lowercase()),
    };
    let values: HashMap<String, f64> = match &wanted {
        Some(name) if names.contains(name) => store.address_attributes(&args.tenant, name)?,
        Some(name) => anyhow::bail!(
            "--dimension: er zijn geen adreskenmerken '{name}' ingelezen voor {} (wel: {}); lees ze in met              `brandpunt import address-attributes`; standaard: {}",
            args.tenant,
            if names.is_empty() { "geen".to_string() } else { names.join(", ") },
            STANDARD_DIMENSIONS.join(", ")
        ),
        None => HashMap::new(),
    };
    let dimension = |name: &str| -> anyhow::Result<Dimension<'_>> {
        if let Some(d) = Dimension::standard(name) {
            return Ok(d);
        }
        let attr = if name == "woz" { WOZ_ATTRIBUTE } else { name };
        Ok(match (&classes, attr == WOZ_ATTRIBUTE) {
            (None, true) => Dimension::woz(&values),
            (spec, _) => {
                let spec = spec.clone().unwrap_or(ClassSpec::Quantiles(5));
                let mut d = Dimension::attribute(attr, &values, &spec, &addresses)?;
                if name == "woz" {
                    d.name = "woz".into();
                }
                d
            }
        })
    };
    let mut t = Table::new(&[
        ("group", ColumnType::Text),
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
    let mut push = |t: &mut Table, group: &str, dimension: &str, r: &ProfileRow| {
        t.push(vec![
            Value::from(group),
            Value::from(dimension),
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
        ])
    };
    let mut json_written = false;
    match (by, args.dimension.as_deref()) {
        (Some(by), Some(name)) => {
            let d = dimension(name.trim())?;
            let groups: Vec<String>;
            let address_groups: Vec<Option<String>>;
            let grouping = match by {
                ProfileBy::Year => {
                    groups = located
                        .iter()
                        .map(|(_, begin)| chrono::Datelike::year(begin).to_string())
                        .collect();
                    Grouping::ByIncident(&groups)
                }
                _ => {
                    address_groups = buurten
                        .iter()
                        .map(|b| by.address_group(b.as_deref()))
                        .collect();
                    Grouping::ByAddress(&address_groups)
                }
            };
            let b = profile_breakdown(&addresses, &ids, grouping, &d, args.confidence)?;
            // JSON output: the whole breakdown with its tests.
            if let Some(path) = args.output.as_deref().filter(|p| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            }) {
                let mut v = serde_json::to_value(&b)?;
                v["by"] = serde_json::json!(by.as_str());
                std::fs::write(path, serde_json::to_vec_pretty(&v)?)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                json_written = true;
            }
            for r in &b.overall.rows {
                push(&mut t, "", &b.dimension, r)?;
            }
            for g in &b.groups {
                for r in &g.rows {
                    push(&mut t, &g.group, &b.dimension, r)?;
                }
            }
            for (what, test) in [
                (
                    "verdeling van de incidenten over de klassen",
                    &b.distribution_test,
                ),
                ("relatief risico per klasse", &b.risk_test),
            ] {
                match test {
                    Some(h) => eprintln!(
                        "Toets gelijkheid per {} ({what}): chi-kwadraat {:.3}, df {}, p {:.4} ({}{}; {} van {} cellen verwacht < 5)",
                        by.as_str(),
                        h.statistic,
                        h.df,
                        h.p_value,
                        h.method,
                        h.simulations.map(|n| format!(", {n} simulaties")).unwrap_or_default(),
                        h.small_expected_cells,
                        h.cells
                    ),
                    None => eprintln!(
                        "Toets gelijkheid per {} ({what}): {}",
                        by.as_str(),
                        b.tests_note.as_deref().unwrap_or("geen toets")
                    ),
                }
            }
        }
        (_, Some(name)) => {
            let d = dimension(name.trim())?;
            let p = brandpunt::analysis::profile::dimension_profile(
                &addresses,
                &ids,
                &d,
                args.confidence,
            )?;
            write_rows(&mut t, &p, &mut push)?;
        }
        (_, None) => {
            let extra: Vec<Dimension<'_>> = match &wanted {
                Some(_) => vec![dimension("woz")?],
                None => Vec::new(),
            };
            let profile = phenomenon_profile_with(&addresses, &ids, &extra, args.confidence)?;
            for d in &profile.dimensions {
                write_rows(&mut t, d, &mut push)?;
            }
        }
    }
    if !json_written {
        output::write_plain(args.output.as_deref(), &t)?;
    }
    eprintln!(
        "Profiel: {} incidenten geselecteerd, {} in het gebied op een adres, {} adressen",
        total,
        ids.len(),
        addresses.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_rows<E>(
    t: &mut Table,
    d: &DimensionProfile,
    push: &mut impl FnMut(&mut Table, &str, &str, &ProfileRow) -> Result<(), E>,
) -> Result<(), E> {
    for r in &d.rows {
        push(t, "", &d.dimension, r)?;
    }
    Ok(())
}
