//! Demo city generator: a deterministic synthetic municipality written in the REAL published formats.
//!
//! The full description of the geography, the file formats, the planted patterns and the injected
//! data problems follows below (it is `src/demo/GROUND_TRUTH.md`).
//!
//! This is an adapter (it writes files); the generated content itself is plain data built from a
//! seeded [`rand_chacha::ChaCha8Rng`] (one independent stream per component), so the same seed gives
//! byte-identical CSV/JSON outputs. GeoPackages, the shapefile and the XLSX deliveries contain
//! timestamps written by GDAL; their *contents* are identical.
#![doc = include_str!("GROUND_TRUTH.md")]

mod addresses;
mod deliveries;
mod gpkg;
mod incidents;
mod layout;
pub mod national;
mod near_repeats;
mod opendata;
pub mod subjects;
mod truth;
pub mod woz;

pub use addresses::{abbreviate, nen_short_form};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Errors of the demo generator; every variant names the file it was writing.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Writing a file failed.
    #[error("writing {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// GDAL failed while writing a file.
    #[error("GDAL writing {file}: {source}")]
    Gdal {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: gdal::errors::GdalError,
    },
    /// JSON serialisation failed.
    #[error("JSON for {file}: {source}")]
    Json {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The configuration is unusable.
    #[error("invalid demo configuration: {0}")]
    Config(String),
    /// Internal layout inconsistency (a bug in the generator's tables).
    #[error("demo layout: {0}")]
    Layout(String),
}

/// Password of the demo users `analist` (analyst, all categories) and `beheerder` (admin) that
/// `brandpunt demo` creates. Public on purpose: the demo data are synthetic; never use it for real data.
pub const DEMO_PASSWORD: &str = "brandpunt-demo";

/// The demo city's name: the gemeente GM1999 and the display name of the demo's tenant `default`.
pub const DEMO_CITY: &str = "Demostad";

/// The demo users: (name, role, category grant).
pub const DEMO_USERS: [(&str, crate::access::Role, &str); 2] = [
    ("analist", crate::access::Role::Analyst, "*"),
    ("beheerder", crate::access::Role::Admin, "*"),
];

/// Demo generator settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoConfig {
    /// Seed of all random streams.
    pub seed: u64,
    /// Approximate number of addresses (BAG addressable objects).
    pub target_addresses: usize,
    /// Number of weekly police deliveries.
    pub weeks: u32,
    /// Last day of the last delivery week; must be a Sunday.
    pub last_day: chrono::NaiveDate,
}

impl Default for DemoConfig {
    /// ~40,000 addresses, 104 weekly deliveries ending Sunday 2024-09-29.
    fn default() -> Self {
        DemoConfig {
            seed: 20_240_929,
            target_addresses: 40_000,
            weeks: 104,
            last_day: chrono::NaiveDate::from_ymd_opt(2024, 9, 29).unwrap_or_default(),
        }
    }
}

impl DemoConfig {
    /// A small city (~2,500 addresses, 10 weeks) for tests and committed fixtures.
    pub fn small() -> Self {
        DemoConfig {
            target_addresses: 2_500,
            weeks: 10,
            ..DemoConfig::default()
        }
    }
}

/// Paths of everything [`generate`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoFiles {
    /// CBS wijk- en buurtkaart `wijkenbuurten_2024_v1.gpkg`.
    pub cbs_gpkg: PathBuf,
    /// Pre-2021 style buurt shapefile `buurt_2020_v1.shp` (upper-case column names).
    pub cbs_legacy_shp: PathBuf,
    /// PDOK `bag-light.gpkg`.
    pub bag_gpkg: PathBuf,
    /// Weekly police deliveries `politie_week_YYYY-WW.{csv,xlsx}`, chronological.
    pub police_deliveries: Vec<PathBuf>,
    /// Column mapping of the police deliveries `politie_mapping.toml` (their personal columns).
    pub police_mapping: PathBuf,
    /// The demo's public pseudonymisation key `pseudoniemsleutel-demo.txt` (hex; synthetic data only).
    pub pseudonym_key: PathBuf,
    /// Handhaving signals `handhaving_meldingen.csv`.
    pub handhaving: PathBuf,
    /// Column mapping of the handhaving CSV `handhaving_mapping.toml`.
    pub handhaving_mapping: PathBuf,
    /// Open data `47022NED` as OData JSON `47022NED.json`.
    pub counts_json: PathBuf,
    /// Open data `47022NED` as portal CSV `47022NED.csv`.
    pub counts_csv: PathBuf,
    /// Municipal indicators `indicatoren_buurt.csv` (long form).
    pub indicators_csv: PathBuf,
    /// The municipality's WOZ extract `woz_waarden.csv` (WOZ value and peiljaar per verblijfsobject).
    pub woz_csv: PathBuf,
    /// Ground truth `ground_truth.json`.
    pub ground_truth_json: PathBuf,
    /// Every true incident and signal with its real location `truth_incidents.csv`.
    pub truth_incidents_csv: PathBuf,
}

/// The generated content before writing (for [`generate`] and the fixtures).
struct City {
    layout: layout::Layout,
    bag: addresses::Bag,
    events: incidents::Events,
    subjects: subjects::Subjects,
    near_repeats: near_repeats::Planted,
    /// WOZ value per address (Demostad's verblijfsobjecten).
    woz: Vec<Option<f64>>,
    woz_planted: woz::PlantedWoz,
}

fn build_city(cfg: &DemoConfig) -> Result<City, DemoError> {
    use chrono::Datelike;
    if cfg.last_day.weekday() != chrono::Weekday::Sun {
        return Err(DemoError::Config(format!(
            "last_day {} is not a Sunday",
            cfg.last_day
        )));
    }
    if cfg.weeks == 0 || cfg.weeks > 520 {
        return Err(DemoError::Config(format!(
            "weeks must be 1..=520, got {}",
            cfg.weeks
        )));
    }
    if !(500..=2_000_000).contains(&cfg.target_addresses) {
        return Err(DemoError::Config(format!(
            "target_addresses must be 500..=2000000, got {}",
            cfg.target_addresses
        )));
    }
    let mut rng_layout = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6c61_796f_7574);
    let layout = layout::Layout::build(&mut rng_layout)?;
    let mut rng_bag = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0062_6167);
    let bag = addresses::generate(&layout, cfg.target_addresses, &mut rng_bag)?;
    let mut rng_ev = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6576_656e_7473);
    let mut events = incidents::generate(&layout, &bag, cfg.weeks, cfg.last_day, &mut rng_ev);
    // Appended after the other events, from its own stream: they keep their values and numbers.
    let mut rng_near = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6e65_6172_5f72_6570);
    let near_repeats = near_repeats::plant(
        &layout,
        &bag,
        cfg.weeks,
        cfg.last_day,
        &mut events,
        &mut rng_near,
    );
    let mut rng_subjects = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7375_626a_6563_7473);
    let mut subjects = subjects::generate(&bag, &events, &mut rng_subjects);
    // WOZ values and pattern (g), from their own stream after everything else: the other events, their numbers
    // and their identifiers stay as they were (the planted farms name no person).
    let mut rng_woz = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x776f_7a5f_7761_6172);
    let woz_values = woz::values(&layout, &bag, &mut rng_woz);
    let woz_planted = woz::plant(
        &layout,
        &bag,
        &woz_values,
        cfg.weeks,
        cfg.last_day,
        &mut events,
        &mut rng_woz,
    );
    subjects
        .police
        .resize(events.incidents.len(), Default::default());
    Ok(City {
        layout,
        bag,
        events,
        subjects,
        near_repeats,
        woz: woz_values,
        woz_planted,
    })
}

/// Generates the demo city into `dir` (created if missing) and returns the written paths.
pub fn generate(dir: &Path, cfg: &DemoConfig) -> Result<DemoFiles, DemoError> {
    std::fs::create_dir_all(dir).map_err(|e| DemoError::Io {
        file: dir.to_path_buf(),
        source: e,
    })?;
    let City {
        layout,
        bag,
        events,
        subjects,
        near_repeats,
        woz: woz_values,
        woz_planted,
    } = build_city(cfg)?;
    let first_day = cfg.last_day - chrono::Duration::days(i64::from(cfg.weeks) * 7 - 1);
    let mut rng_del = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0064_656c);
    let (police_deliveries, log) =
        deliveries::write_police(dir, &layout, &bag, &events, &subjects, cfg, &mut rng_del)?;
    let files = DemoFiles {
        cbs_gpkg: dir.join("wijkenbuurten_2024_v1.gpkg"),
        cbs_legacy_shp: dir.join("buurt_2020_v1.shp"),
        bag_gpkg: dir.join("bag-light.gpkg"),
        police_deliveries,
        police_mapping: dir.join("politie_mapping.toml"),
        pseudonym_key: dir.join("pseudoniemsleutel-demo.txt"),
        handhaving: dir.join("handhaving_meldingen.csv"),
        handhaving_mapping: dir.join("handhaving_mapping.toml"),
        counts_json: dir.join("47022NED.json"),
        counts_csv: dir.join("47022NED.csv"),
        indicators_csv: dir.join("indicatoren_buurt.csv"),
        woz_csv: dir.join(woz::FILE),
        ground_truth_json: dir.join("ground_truth.json"),
        truth_incidents_csv: dir.join("truth_incidents.csv"),
    };
    gpkg::write_cbs(&files.cbs_gpkg, &layout, &bag)?;
    gpkg::write_legacy_shapefile(&files.cbs_legacy_shp, &layout, &bag)?;
    gpkg::write_bag(&files.bag_gpkg, &layout, &bag)?;
    deliveries::write_handhaving(
        &files.handhaving,
        &files.handhaving_mapping,
        &layout,
        &bag,
        &events,
        &subjects,
    )?;
    write_text(&files.police_mapping, deliveries::POLICE_MAPPING)?;
    write_text(
        &files.pseudonym_key,
        &format!("{}\n", subjects::demo_key_hex(cfg.seed)),
    )?;
    let rows = opendata::counts(&layout, &events, first_day, cfg.last_day);
    opendata::write_counts(&files.counts_json, &files.counts_csv, &rows)?;
    opendata::write_indicators(&files.indicators_csv, &layout, &bag, &events)?;
    let peiljaar = {
        use chrono::Datelike;
        cfg.last_day.year() - 1
    };
    woz::write(&files.woz_csv, &layout, &bag, &woz_values, peiljaar)?;
    let mut gt = truth::ground_truth(cfg, &layout, &bag, &events, &log, &subjects, &near_repeats);
    gt["woz"] = serde_json::json!({
        "file": woz::FILE,
        "attribute": "woz_waarde",
        "peiljaar": peiljaar,
        "values": woz_values.iter().filter(|v| v.is_some()).count(),
        "injected_rows": woz::INJECTED
            .iter()
            .map(|(line, what)| serde_json::json!({"line": line, "what": what}))
            .collect::<Vec<_>>(),
        "planted": {
            "name": "cannabis_low_woz",
            "what": "police 3.1.1 Drugshandel at distinct dwellings valued below 150.000 EUR in two buurten",
            "category": woz::CATEGORY,
            "low_class": "<150.000",
            "low_class_eur": woz::LOW_CLASS_EUR,
            "buurtcodes": woz_planted.buurtcodes,
            "low_dwellings": woz_planted.low_dwellings,
            "dwellings": woz_planted.dwellings,
            "registrations": woz_planted.registrations,
            "farm_addresses": woz_planted.farm_addresses,
        },
    });
    truth::write_json(&files.ground_truth_json, &gt)?;
    truth::write_incidents_csv(&files.truth_incidents_csv, &layout, &bag, &events, &log)?;
    Ok(files)
}

fn write_text(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|e| DemoError::Io {
        file: path.to_path_buf(),
        source: e,
    })
}

/// Writes the small committed test fixtures (from [`DemoConfig::small`]) below `dir`:
/// `cbs/wijkenbuurten_2024_v1.gpkg`, `cbs/buurt_2020_v1.{shp,shx,dbf,prj,cpg}`,
/// `bag/bag-light.gpkg`, `counts/47022NED.{json,csv}` and `indicators/indicatoren_buurt.csv`.
/// Returns the main written paths. `tests/cli/demo_city.rs` regenerates them and compares contents.
pub fn write_fixtures(dir: &Path) -> Result<Vec<PathBuf>, DemoError> {
    let cfg = DemoConfig::small();
    let City {
        layout,
        bag,
        events,
        subjects: _,
        near_repeats: _,
        woz: _,
        woz_planted: _,
    } = build_city(&cfg)?;
    let first_day = cfg.last_day - chrono::Duration::days(i64::from(cfg.weeks) * 7 - 1);
    let sub = |name: &str| -> Result<PathBuf, DemoError> {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).map_err(|e| DemoError::Io {
            file: d.clone(),
            source: e,
        })?;
        Ok(d)
    };
    let (cbs, bagd, counts, ind) = (sub("cbs")?, sub("bag")?, sub("counts")?, sub("indicators")?);
    let paths = vec![
        cbs.join("wijkenbuurten_2024_v1.gpkg"),
        cbs.join("buurt_2020_v1.shp"),
        bagd.join("bag-light.gpkg"),
        counts.join("47022NED.json"),
        counts.join("47022NED.csv"),
        ind.join("indicatoren_buurt.csv"),
    ];
    gpkg::write_cbs(&paths[0], &layout, &bag)?;
    gpkg::write_legacy_shapefile(&paths[1], &layout, &bag)?;
    gpkg::write_bag(&paths[2], &layout, &bag)?;
    let rows = opendata::counts(&layout, &events, first_day, cfg.last_day);
    opendata::write_counts(&paths[3], &paths[4], &rows)?;
    opendata::write_indicators(&paths[5], &layout, &bag, &events)?;
    Ok(paths)
}
