//! `brandpunt import ...`

use super::context;
use anyhow::Context;
use brandpunt::area_level::AreaLevel;
use brandpunt::import::{bag, cbs, incidents, indicators, mapping, opendata};
use brandpunt::store::{DeliveryMeta, ServerStore};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// CBS wijk- en buurtkaart (GeoPackage, or pre-2021 shapefile). Replaces the boundary set of that year.
    Cbs {
        file: PathBuf,
        /// Year of the boundaries (default: the `jaar` column or the year in the file name).
        #[arg(long)]
        year: Option<i32>,
    },
    /// PDOK bag-light.gpkg (verblijfsobject, ligplaats, standplaats, pand).
    Bag {
        file: PathBuf,
        /// Only these gemeenten (4-digit codes, comma-separated, e.g. `0153,0164`).
        #[arg(long)]
        gemeente: Option<String>,
    },
    /// A police delivery or other incident source (CSV or XLSX).
    Incidents(IncidentsArgs),
    /// Police open data per buurt per month (47022NED, 47024NED) as CSV or OData JSON.
    Counts {
        file: PathBuf,
        #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
        tenant: String,
    },
    /// Numeric attributes of BAG addresses (e.g. WOZ values: `woz_waarde`, `peiljaar`) keyed by verblijfsobject id
    /// (CSV or XLSX). Every new file of a source is its next version; the same file again changes nothing.
    AddressAttributes {
        file: PathBuf,
        /// Name of the source, e.g. `woz`.
        #[arg(long)]
        source: String,
        /// Where to write the report of rejected rows and values (default: next to the input).
        #[arg(long)]
        report: Option<PathBuf>,
        #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
        tenant: String,
    },
    /// Municipal figures per buurt (CSV keyed by buurtcode).
    Indicators {
        file: PathBuf,
        #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
        tenant: String,
        /// Name of the source (e.g. `gemeente`).
        #[arg(long, default_value = "gemeente")]
        source: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct IncidentsArgs {
    pub file: PathBuf,
    /// Source name, e.g. `politie`, `handhaving`, `klachten`.
    #[arg(long)]
    pub source: String,
    /// Column mapping (TOML) for files that do not use the default column names.
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Where to write the report of rejected and unlocated rows (default: next to the input).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Tenant (municipality) the delivery belongs to.
    #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
    pub tenant: String,
    /// File with the cooperation's pseudonymisation key (hex or base64, >= 32 bytes) for the mapping's
    /// `[personal]` columns; default: the environment variable BRANDPUNT_PSEUDONYM_KEY.
    #[arg(long)]
    pub pseudonym_key_file: Option<PathBuf>,
}

pub fn run(db: &Path, cmd: ImportCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ImportCommand::Cbs { file, year } => import_cbs(db, &file, year),
        ImportCommand::Bag { file, gemeente } => import_bag(db, &file, gemeente.as_deref()),
        ImportCommand::Incidents(args) => import_incidents(db, &args),
        ImportCommand::Counts { file, tenant } => import_counts(db, &file, &tenant),
        ImportCommand::Indicators {
            file,
            tenant,
            source,
        } => import_indicators(db, &file, &tenant, &source),
        ImportCommand::AddressAttributes {
            file,
            source,
            report,
            tenant,
        } => import_address_attributes(db, &file, &tenant, &source, report.as_deref()),
    }
}

fn file_checksum(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: kan het bestand niet lezen", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

pub fn import_cbs(db: &Path, file: &Path, year: Option<i32>) -> anyhow::Result<ExitCode> {
    let boundaries = cbs::read_cbs(file, year)?;
    let checksum = file_checksum(file)?;
    let mut store = context::open_store(db)?;
    let buurten: Vec<_> = boundaries
        .areas
        .iter()
        .filter(|a| a.level == AreaLevel::Buurt)
        .map(|a| brandpunt::area_index::AreaPolygon {
            buurtcode: a.code.clone(),
            wijkcode: a.wijkcode.clone().unwrap_or_default(),
            gemeentecode: a.gemeentecode.clone(),
            geometry: a.geometry.clone(),
        })
        .collect();
    let index = brandpunt::area_index::AreaIndex::build(buurten);
    let assign = |x: f64, y: f64| index.locate(x, y).map(|a| a.buurtcode.clone());
    store.replace_boundary_set_with(
        boundaries.year,
        &file_name(file),
        &checksum,
        &boundaries.areas,
        &assign,
    )?;
    let count = |l: AreaLevel| boundaries.areas.iter().filter(|a| a.level == l).count();
    let water = boundaries
        .areas
        .iter()
        .filter(|a| a.level == AreaLevel::Buurt && a.is_water())
        .count();
    println!(
        "CBS {}: {} gemeenten, {} wijken, {} buurten ({} water) ingelezen uit {}",
        boundaries.year,
        count(AreaLevel::Gemeente),
        count(AreaLevel::Wijk),
        count(AreaLevel::Buurt),
        water,
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn import_bag(db: &Path, file: &Path, gemeente: Option<&str>) -> anyhow::Result<ExitCode> {
    let gemeenten = match gemeente {
        Some(g) => bag::parse_gemeente_filter(g)?,
        None => Vec::new(),
    };
    let mut store = context::open_store(db)?;
    let index = context::area_index(store.as_store())?;
    let assign = |x: f64, y: f64| index.locate(x, y).map(|a| a.buurtcode.clone());
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{msg:16} {bar:40} {pos}/{len} [{elapsed}, nog {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = |layer: &str, done: u64, total: u64| {
        pb.set_message(layer.to_string());
        pb.set_length(total);
        pb.set_position(done);
    };
    let mut sink = store.address_sink(&gemeenten)?;
    let summary = bag::read_bag(file, &gemeenten, &assign, sink.as_mut(), &mut progress)?;
    let stored = sink.finish()?;
    pb.finish_and_clear();
    println!(
        "BAG: {} adressen ingelezen ({} verblijfsobjecten, {} ligplaatsen, {} standplaatsen; {} panden; {} overgeslagen) uit {}",
        stored,
        summary.verblijfsobjecten,
        summary.ligplaatsen,
        summary.standplaatsen,
        summary.panden,
        summary.skipped,
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Build the locator once and import several incident files with it.
pub struct IncidentImporter {
    store: Box<dyn ServerStore>,
    locator: incidents::Locator,
}

impl IncidentImporter {
    pub fn new(db: &Path) -> anyhow::Result<Self> {
        let store = context::open_store(db)?;
        let locator = context::locator(store.as_store())?;
        Ok(IncidentImporter { store, locator })
    }

    pub fn import(
        &mut self,
        file: &Path,
        options: &incidents::IncidentImportOptions,
    ) -> anyhow::Result<incidents::IncidentImportSummary> {
        Ok(incidents::import_incident_file(
            self.store.as_store_mut(),
            &self.locator,
            file,
            options,
        )?)
    }
}

pub fn print_incident_summary(s: &incidents::IncidentImportSummary) {
    if s.outcome.already_imported {
        println!(
            "{}: dit bestand is al eerder ingelezen; niets gewijzigd.",
            s.file
        );
        return;
    }
    println!(
        "{}: {} rijen; {} nieuw, {} gewijzigd (nieuwe versie), {} ongewijzigd; {} afgekeurd",
        s.file,
        s.total_rows,
        s.outcome.inserted,
        s.outcome.replaced,
        s.outcome.unchanged,
        s.rejected
    );
    println!(
        "  gelokaliseerd: {} op adres ({} alleen pand), {} op coördinaten, {} alleen buurt; niet gelokaliseerd: {} (waarvan {} niet eenduidig)",
        s.located_by_address,
        s.partial,
        s.located_by_coordinates,
        s.located_by_buurt,
        s.not_located + s.ambiguous,
        s.ambiguous
    );
    if s.intersection + s.street + s.near > 0 {
        println!(
            "  geen enkel adres (op adres, zonder BAG-object): {} op een kruising, {} op een straat, {} nabij een adres",
            s.intersection, s.street, s.near
        );
    }
    if s.at_coordinates + s.conflicts > 0 {
        println!(
            "  adres en coördinaten: {} op coördinaten (adres niet gevonden of niet eenduidig), {} conflict (adres > 250 m van de coördinaten)",
            s.at_coordinates, s.conflicts
        );
    }
    if s.rejected
        + s.not_located
        + s.ambiguous
        + s.intersection
        + s.street
        + s.near
        + s.at_coordinates
        + s.conflicts
        > 0
    {
        println!("  rapport: {}", s.report_path);
    }
}

fn import_incidents(db: &Path, args: &IncidentsArgs) -> anyhow::Result<ExitCode> {
    let mut mapping = match &args.mapping {
        Some(m) => Some(mapping::Mapping::from_toml_file(m)?),
        None => None,
    };
    if let Some(m) = mapping.as_mut().filter(|m| !m.personal_columns.is_empty()) {
        m.pseudonym_key = super::access::pseudonym_key(args.pseudonym_key_file.as_deref())?;
    }
    let mut importer = IncidentImporter::new(db)?;
    let summary = importer.import(
        &args.file,
        &incidents::IncidentImportOptions {
            tenant: args.tenant.clone(),
            source: args.source.clone(),
            mapping,
            report_path: args.report.clone(),
        },
    )?;
    print_incident_summary(&summary);
    let o = &summary.outcome;
    if !o.already_imported && o.inserted + o.replaced + o.unchanged == 0 {
        eprintln!("{}: geen enkele rij ingelezen", args.file.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import_counts(db: &Path, file: &Path, tenant: &str) -> anyhow::Result<ExitCode> {
    let counts = opendata::read_counts(file)?;
    let mut store = context::open_store(db)?;
    let meta = DeliveryMeta {
        tenant: tenant.to_string(),
        source: format!("open data {}", counts.table),
        kind: "counts".into(),
        file_name: file_name(file),
        checksum: file_checksum(file)?,
        total_rows: (counts.rows.len() + counts.rejections.len()) as u64,
    };
    let outcome = store.store_police_counts(&meta, &counts.rows)?;
    for r in &counts.rejections {
        eprintln!(
            "{}: rij {}, kolom '{}': {}",
            file.display(),
            r.row,
            r.column,
            r.reason
        );
    }
    if outcome.already_imported {
        println!(
            "{}: dit bestand is al eerder ingelezen; niets gewijzigd.",
            file.display()
        );
    } else {
        let withheld = counts.rows.iter().filter(|r| r.value.is_none()).count();
        println!(
            "{} ({}): {} waarden ({} nieuw, {} gewijzigd, {} ongewijzigd; {} geheim), {} afgekeurd",
            file.display(),
            counts.table,
            counts.rows.len(),
            outcome.inserted,
            outcome.replaced,
            outcome.unchanged,
            withheld,
            counts.rejections.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import_indicators(
    db: &Path,
    file: &Path,
    tenant: &str,
    source: &str,
) -> anyhow::Result<ExitCode> {
    let read = indicators::read_indicators(file)?;
    let mut store = context::open_store(db)?;
    let meta = DeliveryMeta {
        tenant: tenant.to_string(),
        source: source.to_string(),
        kind: "indicators".into(),
        file_name: file_name(file),
        checksum: file_checksum(file)?,
        total_rows: (read.values.len() + read.rejections.len()) as u64,
    };
    let outcome = store.store_indicators(&meta, &read.values)?;
    for r in &read.rejections {
        eprintln!(
            "{}: regel {}, kolom '{}': {}",
            file.display(),
            r.line,
            r.column,
            r.reason
        );
    }
    if outcome.already_imported {
        println!(
            "{}: dit bestand is al eerder ingelezen; niets gewijzigd.",
            file.display()
        );
    } else {
        println!(
            "{}: {} indicatorwaarden ({} nieuw, {} gewijzigd, {} ongewijzigd), {} afgekeurd",
            file.display(),
            read.values.len(),
            outcome.inserted,
            outcome.replaced,
            outcome.unchanged,
            read.rejections.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `brandpunt import address-attributes`: read the file, report ids not in the BAG, store it as the source's next
/// version (one transaction), write the report of rejected rows and values next to the input (or `report`).
pub fn import_address_attributes(
    db: &Path,
    file: &Path,
    tenant: &str,
    source: &str,
    report: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    use brandpunt::import::address_attributes::read_address_attributes;
    use brandpunt::import::report::{ReportEntry, ReportWriter};
    use brandpunt::store::AttributeSetMeta;
    let source = source.trim();
    if source.is_empty() {
        anyhow::bail!("--source: geef de bron een naam (bijv. woz)");
    }
    let read = read_address_attributes(file)?;
    let mut store = context::open_store(db)?;
    // Ids the BAG does not know are kept but reported: they do not count in profiles until the BAG has them.
    let mut wanted: std::collections::HashMap<&str, u64> = read
        .object_lines
        .iter()
        .map(|(id, line)| (id.as_str(), *line))
        .collect();
    let bag_addresses = store.address_count()?;
    if bag_addresses > 0 {
        store.for_each_address(&mut |a| {
            wanted.remove(a.bag_id.as_str());
            Ok(())
        })?;
    }
    let mut entries = read.rejections.clone();
    if bag_addresses > 0 {
        for (id, line) in &wanted {
            entries.push(ReportEntry {
                line: *line,
                registration: Some(id.to_string()),
                column: None,
                reason: "verblijfsobject niet in de BAG (telt niet mee in profielen)".into(),
                outcome: "niet in BAG",
            });
        }
    }
    entries.sort_by_key(|e| e.line);
    let meta = AttributeSetMeta {
        tenant: tenant.to_string(),
        source: source.to_string(),
        file_name: file_name(file),
        checksum: read.checksum.clone(),
        total_rows: read.total_rows,
        rejected: read.rejections.len() as u64,
    };
    let outcome = store.store_address_attributes(&meta, &read.values)?;
    if outcome.already_imported {
        println!(
            "{}: dit bestand is al eerder ingelezen (versie {} van bron '{source}'); niets gewijzigd.",
            file.display(),
            outcome.version
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report_path = report
        .map(Path::to_path_buf)
        .unwrap_or_else(|| brandpunt::import::report::default_report_path(file));
    let out = std::fs::File::create(&report_path)
        .with_context(|| format!("{}: kan het rapport niet schrijven", report_path.display()))?;
    let mut writer =
        ReportWriter::with_key_column(std::io::BufWriter::new(out), "verblijfsobject")?;
    for e in &entries {
        writer.write(e)?;
    }
    writer.finish()?;
    println!(
        "{} ({}): versie {} van bron '{source}': {} rijen, {} verblijfsobjecten, {} waarden ({}), {} afgekeurd, {} niet in de BAG",
        file.display(),
        read.format,
        outcome.version,
        read.total_rows,
        read.objects,
        outcome.values,
        read.attributes.join(", "),
        read.rejections.len(),
        if bag_addresses > 0 { wanted.len() } else { 0 }
    );
    if !read.ignored_columns.is_empty() {
        println!("Genegeerde kolommen: {}", read.ignored_columns.join(", "));
    }
    println!("Rapport: {}", report_path.display());
    Ok(ExitCode::SUCCESS)
}
