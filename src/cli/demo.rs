//! `brandpunt demo`: generate the demo city in the real formats and import it with the ordinary importers.

use super::import::{self, IncidentImporter};
use brandpunt::demo::national::{self, NationalConfig};
use brandpunt::demo::{self, DemoConfig};
use brandpunt::import::{incidents::IncidentImportOptions, mapping};
use brandpunt::pseudonym::PseudonymKey;
use brandpunt::store::{PrivacyError, StoreError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Directory for the generated source files (default `data/demo`, with `--national` `data/national`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Random seed (the same seed gives the same city).
    #[arg(long, default_value_t = DemoConfig::default().seed)]
    pub seed: u64,
    /// A small city (for quick tries and tests).
    #[arg(long, conflicts_with = "national")]
    pub small: bool,
    /// National-scale benchmark data instead of the demo city: 420 gemeenten, 15,120 buurten (CBS
    /// GeoPackage) and police deliveries with RD coordinates.
    #[arg(long)]
    pub national: bool,
    /// With `--national`: number of incidents over all tenants.
    #[arg(long, requires = "national", default_value_t = NationalConfig::default().incidents)]
    pub incidents: u64,
    /// With `--national`: length of the period in years (ending 2024-09-29).
    #[arg(long, requires = "national", default_value_t = NationalConfig::default().years)]
    pub years: u32,
    /// With `--national`: number of tenants, each a block of gemeenten with its own delivery
    /// (1: the tenant `default`; more: `regio01`, `regio02`, ...).
    #[arg(long, requires = "national", default_value_t = NationalConfig::default().tenants)]
    pub tenants: u32,
    /// Only write the files; do not import them.
    #[arg(long)]
    pub no_import: bool,
}

pub fn run(db: &Path, args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.national {
        return run_national(db, &args);
    }
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("data/demo"));
    let mut cfg = if args.small {
        DemoConfig::small()
    } else {
        DemoConfig::default()
    };
    cfg.seed = args.seed;
    std::fs::create_dir_all(&dir)?;
    println!("Demostad genereren in {} ...", dir.display());
    let files = demo::generate(&dir, &cfg)?;
    if args.no_import {
        println!(
            "Bestanden geschreven in {} (niet ingelezen).",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    import::import_cbs(db, &files.cbs_gpkg, None)?;
    import::import_bag(db, &files.bag_gpkg, None)?;
    // The demo's tenant is the demo city, not "Standaard".
    super::context::open_store(db)?.rename_tenant("default", demo::DEMO_CITY)?;
    let mut importer = IncidentImporter::new(db)?;
    let reports = dir.join("rapporten");
    std::fs::create_dir_all(&reports)?;
    let report_for = |f: &Path| {
        reports.join(format!(
            "{}.rapport.csv",
            f.file_stem().unwrap_or_default().to_string_lossy()
        ))
    };
    // The demo's identifiers are synthetic: they are pseudonymised with the demo's own public key, never with
    // the cooperation key of the environment.
    let key = PseudonymKey::parse(&std::fs::read_to_string(&files.pseudonym_key)?)?;
    let with_key = |file: &Path| -> anyhow::Result<mapping::Mapping> {
        let mut m = mapping::Mapping::from_toml_file(file)?;
        m.pseudonym_key = Some(key.clone());
        Ok(m)
    };
    let police_mapping = with_key(&files.police_mapping)?;
    let mut totals = (0u64, 0u64, 0u64);
    let mut already = 0usize;
    for f in &files.police_deliveries {
        let s = importer.import(
            f,
            &IncidentImportOptions {
                tenant: "default".into(),
                source: "politie".into(),
                mapping: Some(police_mapping.clone()),
                report_path: Some(report_for(f)),
            },
        )?;
        if s.outcome.already_imported {
            already += 1;
            continue;
        }
        totals.0 += s.outcome.inserted;
        totals.1 += s.outcome.replaced;
        totals.2 += s.rejected + s.not_located + s.ambiguous;
    }
    println!(
        "Politie: {} leveringen ({} al eerder ingelezen); {} registraties, {} nieuwe versies, {} rijen in rapporten ({})",
        files.police_deliveries.len(),
        already,
        totals.0,
        totals.1,
        totals.2,
        reports.display()
    );
    let mapping = with_key(&files.handhaving_mapping)?;
    let s = importer.import(
        &files.handhaving,
        &IncidentImportOptions {
            tenant: "default".into(),
            source: "handhaving".into(),
            mapping: Some(mapping),
            report_path: Some(report_for(&files.handhaving)),
        },
    )?;
    import::print_incident_summary(&s);
    import::import_counts(db, &files.counts_json, "default")?;
    import::import_indicators(db, &files.indicators_csv, "default", "gemeente")?;
    import::import_address_attributes(
        db,
        &files.woz_csv,
        "default",
        "woz",
        Some(&report_for(&files.woz_csv)),
    )?;
    demo_users(db)?;
    println!(
        "Klaar. Database: {}. Grondwaarheid: {}",
        db.display(),
        files.ground_truth_json.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `demo --national`: writes the national data and imports the CBS file, the tenants with their gemeenten and
/// every tenant's delivery with the ordinary importers.
fn run_national(db: &Path, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("data/national"));
    let cfg = NationalConfig {
        seed: args.seed,
        incidents: args.incidents,
        years: args.years,
        tenants: args.tenants,
        ..NationalConfig::default()
    };
    println!(
        "Landelijke data genereren in {}: {} incidenten over {} jaar, {} tenant(s) ...",
        dir.display(),
        cfg.incidents,
        cfg.years,
        cfg.tenants
    );
    let files = national::generate_national(&dir, &cfg)?;
    println!(
        "CBS: {}; leveringen: {}; proeflevering (1 rij, buurt {}): {}",
        files.cbs_gpkg.display(),
        files.tenants.len(),
        files.probe_buurtcode,
        files.probe_delivery.display()
    );
    if args.no_import {
        // Lines for scripts: the CBS file, the probe (buurtcode, file), one per tenant: code, rows,
        // gemeenten (`-` = not restricted), delivery.
        println!("cbs\t{}", files.cbs_gpkg.display());
        println!(
            "probe\t{}\t{}",
            files.probe_buurtcode,
            files.probe_delivery.display()
        );
        for t in &files.tenants {
            let gemeenten = if t.gemeenten.is_empty() {
                "-".to_string()
            } else {
                t.gemeenten.join(",")
            };
            println!(
                "tenant\t{}\t{}\t{}\t{}",
                t.code,
                t.rows,
                gemeenten,
                t.delivery.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    import::import_cbs(db, &files.cbs_gpkg, None)?;
    {
        let mut store = super::context::open_store(db)?;
        for t in &files.tenants {
            match store.add_tenant(&t.code, &t.name) {
                Ok(()) | Err(StoreError::TenantExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
            store.set_tenant_gemeenten(&t.code, &t.gemeenten)?;
        }
    }
    let mut importer = IncidentImporter::new(db)?;
    let reports = dir.join("rapporten");
    std::fs::create_dir_all(&reports)?;
    for t in &files.tenants {
        let s = importer.import(
            &t.delivery,
            &IncidentImportOptions {
                tenant: t.code.clone(),
                source: "politie".into(),
                mapping: None,
                report_path: Some(reports.join(format!("politie_{}.rapport.csv", t.code))),
            },
        )?;
        print!("{}: ", t.code);
        import::print_incident_summary(&s);
    }
    if cfg.tenants == 1 {
        demo_users(db)?;
    }
    println!("Klaar. Database: {}", db.display());
    Ok(ExitCode::SUCCESS)
}

/// The demo users ([`demo::DEMO_USERS`]) of tenant `default` with the documented [`demo::DEMO_PASSWORD`];
/// existing ones (a repeated `demo`) keep their role and get the password again.
fn demo_users(db: &Path) -> anyhow::Result<()> {
    let mut store = super::context::open_store(db)?;
    for (name, role, grant) in demo::DEMO_USERS {
        match store.add_user("default", name, role, &[grant.to_string()]) {
            Ok(()) | Err(PrivacyError::UserExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        store.set_password(name, demo::DEMO_PASSWORD)?;
        // The demo's identifiers are synthetic: both demo users may open the relations view.
        store.set_relations_grant(name, true)?;
    }
    println!(
        "Demogebruikers: analist (analyst) en beheerder (admin), met de grant relaties, wachtwoord '{}' (alleen voor deze synthetische demo).",
        demo::DEMO_PASSWORD
    );
    Ok(())
}
