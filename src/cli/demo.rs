//! `brandpunt demo`: generate the demo city in the real formats and import it with the ordinary importers.

use super::import::{self, IncidentImporter};
use brandpunt::demo::{self, DemoConfig};
use brandpunt::import::{incidents::IncidentImportOptions, mapping};
use brandpunt::store::{PrivacyError, PrivacyStore};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Directory for the generated source files.
    #[arg(long, default_value = "data/demo")]
    pub dir: PathBuf,
    /// Random seed (the same seed gives the same city).
    #[arg(long, default_value_t = DemoConfig::default().seed)]
    pub seed: u64,
    /// A small city (for quick tries and tests).
    #[arg(long)]
    pub small: bool,
}

pub fn run(db: &Path, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = if args.small {
        DemoConfig::small()
    } else {
        DemoConfig::default()
    };
    cfg.seed = args.seed;
    std::fs::create_dir_all(&args.dir)?;
    println!("Demostad genereren in {} ...", args.dir.display());
    let files = demo::generate(&args.dir, &cfg)?;
    import::import_cbs(db, &files.cbs_gpkg, None)?;
    import::import_bag(db, &files.bag_gpkg, None)?;
    let mut importer = IncidentImporter::new(db)?;
    let reports = args.dir.join("rapporten");
    std::fs::create_dir_all(&reports)?;
    let report_for = |f: &Path| {
        reports.join(format!(
            "{}.rapport.csv",
            f.file_stem().unwrap_or_default().to_string_lossy()
        ))
    };
    let mut totals = (0u64, 0u64, 0u64);
    let mut already = 0usize;
    for f in &files.police_deliveries {
        let s = importer.import(
            f,
            &IncidentImportOptions {
                tenant: "default".into(),
                source: "politie".into(),
                mapping: None,
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
    let mapping = mapping::Mapping::from_toml_file(&files.handhaving_mapping)?;
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
    demo_users(db)?;
    println!(
        "Klaar. Database: {}. Grondwaarheid: {}",
        db.display(),
        files.ground_truth_json.display()
    );
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
    }
    println!(
        "Demogebruikers: analist (analyst) en beheerder (admin), wachtwoord '{}' (alleen voor deze synthetische demo).",
        demo::DEMO_PASSWORD
    );
    Ok(())
}
