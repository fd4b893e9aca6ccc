//! National-scale synthetic data for benchmarks: CBS wijk- en buurtkaart of a whole country and police
//! deliveries of millions of incidents, in the same real formats as the demo city.
//!
//! # Geography
//! A grid of `gemeente_cols x gemeente_rows` gemeenten (default 20 x 21 = 420) over RD space of the
//! Netherlands, south-west corner at RD (20,000, 325,000). Every gemeente is a 12 x 12 km square of 6 wijken
//! (2 columns x 3 rows of 6 x 4 km), each wijk 6 buurten (3 x 2 squares of 2 x 2 km): 36 buurten per gemeente,
//! 2,520 wijken and 15,120 buurten by default. Codes: gemeente `n` (1-based, row-major from the south-west) is
//! `GM{n:04}`, its wijk `w` (0..6) `WK{n:04}{w:02}`, buurt `b` of that wijk (0..6) `BU{n:04}{w:02}{b:02}`.
//!
//! Every gemeente has a class: a few large cities (one per 105 gemeenten), medium towns (one per 14), the rest
//! small. Inhabitants per buurt decay with the distance from the gemeente's centre buurt (slower in cities).
//!
//! # Incidents
//! About half of the incidents are background crime, proportional to inhabitants times a class rate (uniform
//! within the buurt); the other half come from hot spots (Gaussian clusters of 60-260 m), many in the large
//! cities, few in small ones, each of one kind (nightlife, shopping, station, residential burglary) with its own
//! categories and hours. Most hot spots are stable; some intensify (density growing linearly over the
//! period), fade (shrinking) or are new (only in the last fifth of the period), so that emerging hot spot
//! analysis has something to find. Every incident has RD X/Y (public space, no address: the national generator
//! writes no BAG); about 30 % also carry their buurtcode, as in the demo deliveries.
//!
//! # Tenants
//! With `tenants = T` the gemeenten are cut into `T` compact blocks (consecutive runs of a serpentine walk
//! through bands of the grid); each tenant gets its own delivery with `incidents / T` rows (the first
//! `incidents % T` tenants one more) in its own gemeenten. One tenant is `default` (not restricted to
//! gemeenten); several are `regio01`, `regio02`, ... restricted to their block.
//!
//! # Formats and memory
//! The CBS GeoPackage has the layers, columns and sentinels of the demo city's `wijkenbuurten_2024_v1.gpkg`.
//! Deliveries are police CSV exports as Dutch Excel writes them: `;`, Windows-1252 (all text is ASCII),
//! `dd-mm-jjjj`, decimal commas, CRLF, the demo's column names. Rows are generated and written one by one
//! (memory is independent of the number of incidents). The same seed gives byte-identical CSV files.

use super::gpkg::{self, AreaStats, Val};
use super::DemoError;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use gdal::vector::{OGRFieldType, OGRwkbGeometryType, ToGdal};
use gdal::DriverManager;
use geo::{LineString, MultiPolygon, Polygon};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Side of a buurt square in metres.
pub const BUURT_M: f64 = 2_000.0;
/// Buurten per gemeente side (a gemeente is 6 x 6 buurten).
pub const BUURTEN_PER_SIDE: u32 = 6;
/// Buurten per gemeente.
pub const BUURTEN_PER_GEMEENTE: u32 = BUURTEN_PER_SIDE * BUURTEN_PER_SIDE;
/// Wijken per gemeente.
pub const WIJKEN_PER_GEMEENTE: u32 = 6;
/// RD New x of the grid's south-west corner, metres.
pub const ORIGIN_X_M: f64 = 20_000.0;
/// RD New y of the grid's south-west corner, metres.
pub const ORIGIN_Y_M: f64 = 325_000.0;
/// Largest number of gemeente columns (keeps x inside the RD range of the Netherlands).
pub const MAX_GEMEENTE_COLS: u32 = 23;
/// Largest number of gemeente rows (keeps y inside the RD range of the Netherlands).
pub const MAX_GEMEENTE_ROWS: u32 = 24;
/// Share of the incidents that come from hot spots (the rest is background).
const HOTSPOT_SHARE: f64 = 0.5;

const GEMEENTE_M: f64 = BUURT_M * BUURTEN_PER_SIDE as f64;

/// National generator settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NationalConfig {
    /// Seed of all random streams.
    pub seed: u64,
    /// Number of incidents over all tenants.
    pub incidents: u64,
    /// Length of the period in years (365 days each), ending on `last_day`.
    pub years: u32,
    /// Number of tenants (blocks of gemeenten with their own delivery).
    pub tenants: u32,
    /// Gemeenten per grid row (west to east).
    pub gemeente_cols: u32,
    /// Gemeente grid rows (south to north).
    pub gemeente_rows: u32,
    /// Last day of the period.
    pub last_day: NaiveDate,
}

impl Default for NationalConfig {
    /// The issue's national target: 420 gemeenten (15,120 buurten), 5,000,000 incidents over 5 years ending
    /// 2024-09-29, one tenant.
    fn default() -> Self {
        NationalConfig {
            seed: 20_240_929,
            incidents: 5_000_000,
            years: 5,
            tenants: 1,
            gemeente_cols: 20,
            gemeente_rows: 21,
            last_day: NaiveDate::from_ymd_opt(2024, 9, 29).unwrap_or_default(),
        }
    }
}

impl NationalConfig {
    /// The regional case of the issue: 25 tenants of 80,000 incidents each.
    ///
    /// ```
    /// use brandpunt::demo::national::NationalConfig;
    /// let cfg = NationalConfig::regional();
    /// assert_eq!((cfg.tenants, cfg.incidents / u64::from(cfg.tenants)), (25, 80_000));
    /// ```
    pub fn regional() -> Self {
        NationalConfig {
            incidents: 2_000_000,
            tenants: 25,
            ..NationalConfig::default()
        }
    }

    /// First day of the period: `years` x 365 days ending on `last_day`.
    ///
    /// ```
    /// use brandpunt::demo::national::NationalConfig;
    /// let cfg = NationalConfig { years: 1, ..NationalConfig::default() };
    /// assert_eq!(cfg.first_day().to_string(), "2023-10-01"); // 365 days with 2024-02-29
    /// ```
    pub fn first_day(&self) -> NaiveDate {
        self.last_day - Duration::days(i64::from(self.years) * 365 - 1)
    }

    fn check(&self) -> Result<(), DemoError> {
        let bad = |m: String| Err(DemoError::Config(m));
        if !(1..=MAX_GEMEENTE_COLS).contains(&self.gemeente_cols)
            || !(1..=MAX_GEMEENTE_ROWS).contains(&self.gemeente_rows)
        {
            return bad(format!(
                "the gemeente grid must be 1..={MAX_GEMEENTE_COLS} x 1..={MAX_GEMEENTE_ROWS}, got {} x {}",
                self.gemeente_cols, self.gemeente_rows
            ));
        }
        let n = self.gemeente_cols * self.gemeente_rows;
        if self.tenants == 0 || self.tenants > n {
            return bad(format!(
                "tenants must be 1..={n} (one gemeente at least each), got {}",
                self.tenants
            ));
        }
        if !(1..=20).contains(&self.years) {
            return bad(format!("years must be 1..=20, got {}", self.years));
        }
        if self.incidents == 0 || self.incidents > 100_000_000 {
            return bad(format!(
                "incidents must be 1..=100000000, got {}",
                self.incidents
            ));
        }
        Ok(())
    }
}

/// One tenant of the generated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NationalTenant {
    /// Tenant code: `default` for a single tenant, else `regio01`, `regio02`, ...
    pub code: String,
    /// Display name.
    pub name: String,
    /// Its gemeenten (`GM0001`, ...); empty for the single `default` tenant (not restricted).
    pub gemeenten: Vec<String>,
    /// Its police delivery.
    pub delivery: PathBuf,
    /// Data rows in the delivery.
    pub rows: u64,
}

/// Paths of everything [`generate_national`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NationalFiles {
    /// CBS wijk- en buurtkaart `wijkenbuurten_2024_v1.gpkg`.
    pub cbs_gpkg: PathBuf,
    /// The tenants with their deliveries.
    pub tenants: Vec<NationalTenant>,
    /// A delivery of one new registration for the first tenant (at its strongest hot spot, on the last day),
    /// for measuring how fast a small delivery becomes visible; not part of `tenants`.
    pub probe_delivery: PathBuf,
    /// The buurt of the probe's incident.
    pub probe_buurtcode: String,
}

/// Size class of a gemeente.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Large,
    Medium,
    Small,
}

impl Class {
    /// Inhabitants (before the random factor), decay length in buurten, crime rate factor, hot spots,
    /// hot spot spread around the centre (m), hot spot strength factor.
    fn params(self) -> (f64, f64, f64, u32, f64, f64) {
        match self {
            Class::Large => (700_000.0, 3.0, 1.6, 40, 2_500.0, 3.0),
            Class::Medium => (110_000.0, 1.5, 1.2, 10, 1_200.0, 1.5),
            Class::Small => (25_000.0, 1.0, 0.8, 2, 600.0, 1.0),
        }
    }
}

struct Gemeente {
    code: String,
    naam: String,
    class: Class,
    /// Inhabitants per buurt, index `row * 6 + col` inside the gemeente.
    inhabitants: Vec<f64>,
    /// RD centre of the centre buurt.
    centre: (f64, f64),
}

/// Hot spot kind: categories (with weights) and the hours of the day in which incidents begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Nightlife,
    Shopping,
    Station,
    Burglary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trend {
    Stable,
    Intensifying,
    Fading,
    New,
}

#[derive(Clone, Copy, Debug)]
struct Hotspot {
    gemeente: usize,
    x_m: f64,
    y_m: f64,
    sigma_m: f64,
    weight: f64,
    kind: Kind,
    trend: Trend,
}

type Cats = &'static [(&'static str, f64)];

const BACKGROUND_CATS: Cats = &[
    ("1.2.3 Diefstal van brom-, snor-, fietsen", 10.0),
    ("2.2.1 Vernieling cq. zaakbeschadiging", 9.0),
    ("1.2.1 Diefstal uit/vanaf motorvoertuigen", 7.0),
    ("1.4.5 Mishandeling", 5.0),
    ("1.4.4 Bedreiging", 4.0),
    ("2.5.2 Winkeldiefstal", 4.0),
    ("1.1.1 Diefstal/inbraak woning", 4.0),
    ("1.1.2 Diefstal/inbraak box/garage/schuur", 3.0),
    ("3.9.1 Horizontale fraude", 4.0),
    ("2.4.1 Burengerucht (relatieproblemen)", 5.0),
    ("2.1.1 Drugs/drankoverlast", 3.0),
    ("1.6.2 Overige vermogensdelicten", 3.0),
    ("1.2.2 Diefstal van motorvoertuigen", 1.0),
    ("1.4.6 Straatroof", 0.5),
    ("3.5.2 Onder invloed (weg)", 1.5),
];

impl Kind {
    fn categories(self) -> Cats {
        match self {
            Kind::Nightlife => &[
                ("1.4.5 Mishandeling", 4.0),
                ("1.4.4 Bedreiging", 2.0),
                ("2.1.1 Drugs/drankoverlast", 3.0),
                ("1.4.3 Openlijk geweld (persoon)", 1.0),
                ("2.2.1 Vernieling cq. zaakbeschadiging", 2.0),
            ],
            Kind::Shopping => &[
                ("2.5.2 Winkeldiefstal", 5.0),
                ("1.2.4 Zakkenrollerij", 2.0),
                ("1.2.3 Diefstal van brom-, snor-, fietsen", 3.0),
            ],
            Kind::Station => &[
                ("1.2.3 Diefstal van brom-, snor-, fietsen", 6.0),
                ("1.2.4 Zakkenrollerij", 2.0),
                ("1.4.6 Straatroof", 1.0),
            ],
            Kind::Burglary => &[
                ("1.1.1 Diefstal/inbraak woning", 6.0),
                ("1.1.2 Diefstal/inbraak box/garage/schuur", 2.0),
                ("1.2.1 Diefstal uit/vanaf motorvoertuigen", 2.0),
            ],
        }
    }
}

const PREFIXES: [&str; 10] = [
    "Noord", "Zuid", "Oost", "West", "Hoog", "Laag", "Nieuw", "Oud", "Groot", "Klein",
];
const ROOTS: [&str; 42] = [
    "veen", "dam", "dorp", "horst", "wijk", "broek", "hoven", "burg", "hem", "zijl", "meer",
    "woude", "kerk", "berg", "loo", "beek", "rade", "drecht", "haven", "sloot", "vliet", "schoten",
    "lo", "ven", "hout", "donk", "gest", "wolde", "heem", "land", "mond", "stein", "huizen",
    "kamp", "laren", "rijp", "zand", "weerd", "dijk", "hage", "bosch", "ooij",
];
const BUURT_NAMES: [&str; 36] = [
    "Centrum",
    "Binnenstad-Noord",
    "Binnenstad-Zuid",
    "Stationsbuurt",
    "Oude Haven",
    "Marktkwartier",
    "Kerkbuurt",
    "Molenwijk",
    "Schildersbuurt",
    "Bloemenbuurt",
    "Vogelbuurt",
    "Rivierenbuurt",
    "Bomenbuurt",
    "Componistenbuurt",
    "Sterrenbuurt",
    "Dichtersbuurt",
    "Parkbuurt",
    "Sportpark",
    "Bedrijventerrein",
    "Industriehaven",
    "De Akkers",
    "De Velden",
    "De Hoven",
    "De Weiden",
    "Het Broek",
    "De Horst",
    "Het Zand",
    "De Enk",
    "Buitengebied Noord",
    "Buitengebied Zuid",
    "Buitengebied Oost",
    "Buitengebied West",
    "Lintdorp",
    "Polder",
    "Hoeven",
    "Dijkzone",
];

fn gemeente_naam(i: usize) -> String {
    let base = format!(
        "{}{}",
        PREFIXES[i % PREFIXES.len()],
        ROOTS[(i / PREFIXES.len()) % ROOTS.len()]
    );
    let round = i / (PREFIXES.len() * ROOTS.len());
    if round == 0 {
        base
    } else {
        format!("{base} {}", round + 1)
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(1e-12..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn pick(rng: &mut ChaCha8Rng, items: Cats) -> &'static str {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut r = rng.gen::<f64>() * total;
    for (item, w) in items {
        if r < *w {
            return item;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

/// The gemeenten (row-major indices of a `cols x rows` grid) in an order whose consecutive runs of about
/// `n / tenants` are compact blocks: bands of about `sqrt(n / tenants)` rows, walked column by column, every
/// band and every column in the opposite direction of the previous one (a serpentine).
fn block_order(cols: u32, rows: u32, tenants: u32) -> Vec<usize> {
    let n = f64::from(cols * rows);
    let height = (n / f64::from(tenants)).sqrt().round().max(1.0);
    let bands = ((f64::from(rows) / height).round() as u32).clamp(1, rows);
    let mut order = Vec::with_capacity((cols * rows) as usize);
    for b in 0..bands {
        let (r0, r1) = (b * rows / bands, (b + 1) * rows / bands);
        let band_cols: Vec<u32> = if b % 2 == 0 {
            (0..cols).collect()
        } else {
            (0..cols).rev().collect()
        };
        for (k, c) in band_cols.into_iter().enumerate() {
            let band_rows: Vec<u32> = if k % 2 == 0 {
                (r0..r1).collect()
            } else {
                (r0..r1).rev().collect()
            };
            order.extend(band_rows.into_iter().map(|r| (r * cols + c) as usize));
        }
    }
    order
}

/// The generated country (plain data, small: no incidents).
struct Country {
    cols: u32,
    rows: u32,
    gemeenten: Vec<Gemeente>,
    hotspots: Vec<Hotspot>,
    /// Tenant index of every gemeente.
    tenant_of: Vec<usize>,
    tenants: u32,
}

impl Country {
    fn build(cfg: &NationalConfig) -> Country {
        let (cols, rows) = (cfg.gemeente_cols, cfg.gemeente_rows);
        let n = (cols * rows) as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6e61_7469_6f6e);
        // Classes: one large city per 105 gemeenten (at least one), one medium town per 14.
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        let n_large = (n / 105).max(1);
        let n_medium = n / 14;
        let mut class = vec![Class::Small; n];
        for (k, &g) in order.iter().enumerate() {
            class[g] = if k < n_large {
                Class::Large
            } else if k < n_large + n_medium {
                Class::Medium
            } else {
                Class::Small
            };
        }
        let side = BUURTEN_PER_SIDE as usize;
        let mut gemeenten = Vec::with_capacity(n);
        for (g, &class) in class.iter().enumerate() {
            let (pop, decay, _, _, _, _) = class.params();
            let pop = pop * (0.6 + 0.8 * rng.gen::<f64>());
            let (cc, cr) = (rng.gen_range(1..side - 1), rng.gen_range(1..side - 1));
            let mut w: Vec<f64> = (0..side * side)
                .map(|i| {
                    let (c, r) = ((i % side) as f64, (i / side) as f64);
                    let d = (c - cc as f64).hypot(r - cr as f64);
                    (-d / decay).exp() * (0.7 + 0.6 * rng.gen::<f64>())
                })
                .collect();
            let total: f64 = w.iter().sum();
            for v in &mut w {
                *v = (*v * pop / total).round();
            }
            let (gx, gy) = gemeente_origin(cols, g);
            gemeenten.push(Gemeente {
                code: format!("GM{:04}", g + 1),
                naam: gemeente_naam(g),
                class,
                inhabitants: w,
                centre: (
                    gx + (cc as f64 + 0.5) * BUURT_M,
                    gy + (cr as f64 + 0.5) * BUURT_M,
                ),
            });
        }
        // Hot spots around each gemeente's centre, kept inside the gemeente.
        let mut hotspots = Vec::new();
        for (g, gm) in gemeenten.iter().enumerate() {
            let (_, _, _, count, spread_m, strength) = gm.class.params();
            let (gx, gy) = gemeente_origin(cols, g);
            for _ in 0..count {
                let clamp = |v: f64, lo: f64| v.clamp(lo + 100.0, lo + GEMEENTE_M - 100.0);
                let x_m = clamp(gm.centre.0 + normal(&mut rng) * spread_m, gx);
                let y_m = clamp(gm.centre.1 + normal(&mut rng) * spread_m, gy);
                let kind = match rng.gen_range(0..10) {
                    0..=2 => Kind::Nightlife,
                    3..=4 => Kind::Shopping,
                    5 => Kind::Station,
                    _ => Kind::Burglary,
                };
                let trend = match rng.gen_range(0..20) {
                    0..=13 => Trend::Stable,
                    14..=16 => Trend::Intensifying,
                    17..=18 => Trend::Fading,
                    _ => Trend::New,
                };
                hotspots.push(Hotspot {
                    gemeente: g,
                    x_m,
                    y_m,
                    sigma_m: 60.0 + 200.0 * rng.gen::<f64>(),
                    weight: strength * (0.8 * normal(&mut rng)).exp(),
                    kind,
                    trend,
                });
            }
        }
        // Scale the hot spots to HOTSPOT_SHARE of all incidents.
        let bg_total: f64 = gemeenten
            .iter()
            .map(|g| g.inhabitants.iter().sum::<f64>() * g.class.params().2)
            .sum();
        let hs_total: f64 = hotspots.iter().map(|h| h.weight).sum();
        if hs_total > 0.0 {
            let scale = bg_total * HOTSPOT_SHARE / (1.0 - HOTSPOT_SHARE) / hs_total;
            for h in &mut hotspots {
                h.weight *= scale;
            }
        }
        // Tenants: consecutive runs of the block order.
        let mut tenant_of = vec![0; n];
        for (k, g) in block_order(cols, rows, cfg.tenants).into_iter().enumerate() {
            tenant_of[g] = k * cfg.tenants as usize / n;
        }
        Country {
            cols,
            rows,
            gemeenten,
            hotspots,
            tenant_of,
            tenants: cfg.tenants,
        }
    }

    fn tenant_code(&self, t: usize) -> String {
        if self.tenants == 1 {
            "default".to_string()
        } else {
            format!("regio{:02}", t + 1)
        }
    }

    /// The buurt containing `(x, y)`: (gemeente index, local column, local row), or None outside the grid.
    fn locate(&self, x_m: f64, y_m: f64) -> Option<(usize, u32, u32)> {
        let c = ((x_m - ORIGIN_X_M) / BUURT_M).floor();
        let r = ((y_m - ORIGIN_Y_M) / BUURT_M).floor();
        let side = BUURTEN_PER_SIDE as f64;
        if c < 0.0 || r < 0.0 || c >= self.cols as f64 * side || r >= self.rows as f64 * side {
            return None;
        }
        let (c, r) = (c as u32, r as u32);
        let g = (r / BUURTEN_PER_SIDE) * self.cols + c / BUURTEN_PER_SIDE;
        Some((g as usize, c % BUURTEN_PER_SIDE, r % BUURTEN_PER_SIDE))
    }
}

fn gemeente_origin(cols: u32, g: usize) -> (f64, f64) {
    let (c, r) = (g as u32 % cols, g as u32 / cols);
    (
        ORIGIN_X_M + f64::from(c) * GEMEENTE_M,
        ORIGIN_Y_M + f64::from(r) * GEMEENTE_M,
    )
}

/// Wijk (0..6) and buurt-in-wijk (0..6) of the local buurt square `(col, row)` of a gemeente.
fn wijk_buurt(col: u32, row: u32) -> (u32, u32) {
    ((row / 2) * 2 + col / 3, (row % 2) * 3 + col % 3)
}

fn buurtcode(g: usize, col: u32, row: u32) -> String {
    let (w, b) = wijk_buurt(col, row);
    format!("BU{:04}{w:02}{b:02}", g + 1)
}

fn square(x0: f64, y0: f64, w_m: f64, h_m: f64) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![Polygon::new(
        LineString::from(vec![
            (x0, y0),
            (x0 + w_m, y0),
            (x0 + w_m, y0 + h_m),
            (x0, y0 + h_m),
            (x0, y0),
        ]),
        vec![],
    )])
}

fn stats_for(inhabitants: f64, pc4: u32) -> AreaStats {
    let dwellings = (inhabitants / 2.1).round() as i64;
    AreaStats {
        addresses: dwellings + dwellings / 10,
        dwellings,
        postcode: Some(format!("{pc4}AB")),
    }
}

fn write_cbs(path: &Path, country: &Country) -> Result<(), DemoError> {
    if path.exists() {
        std::fs::remove_file(path).map_err(|e| DemoError::Io {
            file: path.to_path_buf(),
            source: e,
        })?;
    }
    let side = BUURTEN_PER_SIDE;
    let pc4 = |g: usize, w: u32| 1_000 + g as u32 * 21 + w * 3;
    let run = || -> gdal::errors::Result<()> {
        let driver = DriverManager::get_driver_by_name("GPKG")?;
        let mut ds = driver.create_vector_only(path)?;
        let mut txn = ds.start_transaction()?;
        let opts = ["FID=fid", "GEOMETRY_NAME=geom"];
        let mp = OGRwkbGeometryType::wkbMultiPolygon;
        let mut rows = Vec::new();
        for (g, gm) in country.gemeenten.iter().enumerate() {
            let (gx, gy) = gemeente_origin(country.cols, g);
            let geom = square(gx, gy, GEMEENTE_M, GEMEENTE_M);
            let mut vals = vec![Val::S(gm.code.clone()), Val::S(gm.naam.clone())];
            let st = stats_for(gm.inhabitants.iter().sum(), pc4(g, 0));
            vals.extend(gpkg::stat_values(
                &gm.code,
                &st,
                GEMEENTE_M * GEMEENTE_M,
                false,
                false,
            ));
            rows.push((geom.to_gdal()?, vals));
        }
        gpkg::write_layer(
            &mut txn,
            "gemeenten",
            mp,
            &opts,
            &gpkg::fields_with(&[
                ("gemeentecode", OGRFieldType::OFTString),
                ("gemeentenaam", OGRFieldType::OFTString),
            ]),
            rows,
        )?;
        let mut rows = Vec::new();
        for (g, gm) in country.gemeenten.iter().enumerate() {
            let (gx, gy) = gemeente_origin(country.cols, g);
            for w in 0..WIJKEN_PER_GEMEENTE {
                let (c0, r0) = ((w % 2) * 3, (w / 2) * 2);
                let geom = square(
                    gx + f64::from(c0) * BUURT_M,
                    gy + f64::from(r0) * BUURT_M,
                    3.0 * BUURT_M,
                    2.0 * BUURT_M,
                );
                let inh: f64 = (0..6)
                    .map(|k| gm.inhabitants[((r0 + k / 3) * side + c0 + k % 3) as usize])
                    .sum();
                let code = format!("WK{:04}{w:02}", g + 1);
                let mut vals = vec![
                    Val::S(code.clone()),
                    Val::S(format!("Wijk {w:02} {}", gm.naam)),
                    Val::S(gm.code.clone()),
                    Val::S(gm.naam.clone()),
                ];
                let area = 6.0 * BUURT_M * BUURT_M;
                vals.extend(gpkg::stat_values(
                    &code,
                    &stats_for(inh, pc4(g, w)),
                    area,
                    false,
                    false,
                ));
                rows.push((geom.to_gdal()?, vals));
            }
        }
        gpkg::write_layer(
            &mut txn,
            "wijken",
            mp,
            &opts,
            &gpkg::fields_with(&[
                ("wijkcode", OGRFieldType::OFTString),
                ("wijknaam", OGRFieldType::OFTString),
                ("gemeentecode", OGRFieldType::OFTString),
                ("gemeentenaam", OGRFieldType::OFTString),
            ]),
            rows,
        )?;
        let mut rows = Vec::new();
        for (g, gm) in country.gemeenten.iter().enumerate() {
            let (gx, gy) = gemeente_origin(country.cols, g);
            for r in 0..side {
                for c in 0..side {
                    let (w, _) = wijk_buurt(c, r);
                    let code = buurtcode(g, c, r);
                    let geom = square(
                        gx + f64::from(c) * BUURT_M,
                        gy + f64::from(r) * BUURT_M,
                        BUURT_M,
                        BUURT_M,
                    );
                    let mut vals = vec![
                        Val::S(code.clone()),
                        Val::S(format!(
                            "{} {}",
                            BUURT_NAMES[(r * side + c) as usize],
                            gm.naam
                        )),
                        Val::S(format!("WK{:04}{w:02}", g + 1)),
                        Val::S(gm.code.clone()),
                        Val::S(gm.naam.clone()),
                    ];
                    let st = stats_for(gm.inhabitants[(r * side + c) as usize], pc4(g, w));
                    vals.extend(gpkg::stat_values(
                        &code,
                        &st,
                        BUURT_M * BUURT_M,
                        false,
                        true,
                    ));
                    rows.push((geom.to_gdal()?, vals));
                }
            }
        }
        gpkg::write_layer(
            &mut txn,
            "buurten",
            mp,
            &opts,
            &gpkg::fields_with(&[
                ("buurtcode", OGRFieldType::OFTString),
                ("buurtnaam", OGRFieldType::OFTString),
                ("wijkcode", OGRFieldType::OFTString),
                ("gemeentecode", OGRFieldType::OFTString),
                ("gemeentenaam", OGRFieldType::OFTString),
            ]),
            rows,
        )?;
        txn.commit()?;
        ds.close()
    };
    run().map_err(|e| DemoError::Gdal {
        file: path.to_path_buf(),
        source: e,
    })
}

/// One incident, ready to be written.
struct Row {
    begin: NaiveDateTime,
    end: Option<NaiveDateTime>,
    category: &'static str,
    x_m: f64,
    y_m: f64,
    buurtcode: Option<String>,
}

/// A source of incidents of one tenant: a buurt's background or a hot spot.
#[derive(Clone, Copy)]
enum Source {
    Background { gemeente: usize, col: u32, row: u32 },
    Hotspot(usize),
}

/// Draws the incidents of one tenant, one at a time.
struct Sampler<'a> {
    country: &'a Country,
    tenant: usize,
    sources: Vec<Source>,
    /// Cumulative weights of `sources`.
    cumulative: Vec<f64>,
    first_day: NaiveDate,
    days: i64,
    rng: ChaCha8Rng,
}

impl<'a> Sampler<'a> {
    fn new(country: &'a Country, tenant: usize, cfg: &NationalConfig) -> Sampler<'a> {
        let mut sources = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        let side = BUURTEN_PER_SIDE;
        for (g, gm) in country.gemeenten.iter().enumerate() {
            if country.tenant_of[g] != tenant {
                continue;
            }
            let rate = gm.class.params().2;
            for row in 0..side {
                for col in 0..side {
                    let w = gm.inhabitants[(row * side + col) as usize] * rate;
                    if w > 0.0 {
                        total += w;
                        sources.push(Source::Background {
                            gemeente: g,
                            col,
                            row,
                        });
                        cumulative.push(total);
                    }
                }
            }
        }
        for (i, h) in country.hotspots.iter().enumerate() {
            if country.tenant_of[h.gemeente] == tenant && h.weight > 0.0 {
                total += h.weight;
                sources.push(Source::Hotspot(i));
                cumulative.push(total);
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x006e_6174_5f69_6e63);
        rng.set_stream(tenant as u64);
        Sampler {
            country,
            tenant,
            sources,
            cumulative,
            first_day: cfg.first_day(),
            days: i64::from(cfg.years) * 365,
            rng,
        }
    }

    fn day(&mut self, trend: Trend) -> NaiveDate {
        loop {
            let u: f64 = self.rng.gen();
            let t = match trend {
                Trend::Stable => u,
                Trend::Intensifying => u.sqrt(),
                Trend::Fading => 1.0 - u.sqrt(),
                Trend::New => 0.8 + 0.2 * u,
            };
            let offset = ((t * self.days as f64) as i64).clamp(0, self.days - 1);
            let day = self.first_day + Duration::days(offset);
            // Fewer incidents early in the week, more on Friday and Saturday.
            let accept = match day.weekday().num_days_from_monday() {
                4 | 5 => 1.0,
                6 => 0.9,
                _ => 0.75,
            };
            if self.rng.gen::<f64>() < accept {
                return day;
            }
        }
    }

    fn draw(&mut self) -> Row {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let r = self.rng.gen::<f64>() * total;
        let i = self
            .cumulative
            .partition_point(|c| *c <= r)
            .min(self.sources.len().saturating_sub(1));
        let (category, trend, (x_m, y_m)) = match self.sources.get(i).copied() {
            Some(Source::Hotspot(h)) => {
                let h = self.country.hotspots[h];
                let category = pick(&mut self.rng, h.kind.categories());
                (category, h.trend, self.near(&h))
            }
            Some(Source::Background { gemeente, col, row }) => {
                let (gx, gy) = gemeente_origin(self.country.cols, gemeente);
                let x = gx + (f64::from(col) + self.rng.gen::<f64>()) * BUURT_M;
                let y = gy + (f64::from(row) + self.rng.gen::<f64>()) * BUURT_M;
                (pick(&mut self.rng, BACKGROUND_CATS), Trend::Stable, (x, y))
            }
            None => (
                BACKGROUND_CATS[0].0,
                Trend::Stable,
                (ORIGIN_X_M + 1.0, ORIGIN_Y_M + 1.0),
            ),
        };
        let (x_m, y_m) = (off_boundary(x_m, ORIGIN_X_M), off_boundary(y_m, ORIGIN_Y_M));
        let day = self.day(trend);
        let (begin, end) = self.window(category, day);
        let buurtcode = if self.rng.gen_bool(0.3) {
            self.country
                .locate(x_m, y_m)
                .map(|(g, c, r)| buurtcode(g, c, r))
        } else {
            None
        };
        Row {
            begin,
            end,
            category,
            x_m,
            y_m,
            buurtcode,
        }
    }

    /// A point around hot spot `h`, inside the tenant's gemeenten (its centre after 20 misses).
    fn near(&mut self, h: &Hotspot) -> (f64, f64) {
        for _ in 0..20 {
            let x = h.x_m + normal(&mut self.rng) * h.sigma_m;
            let y = h.y_m + normal(&mut self.rng) * h.sigma_m;
            if let Some((g, _, _)) = self.country.locate(x, y) {
                if self.country.tenant_of[g] == self.tenant {
                    return (x, y);
                }
            }
        }
        (h.x_m, h.y_m)
    }

    /// Begin and end of the time window of an incident of `category` on `day` (as in the demo city).
    fn window(&mut self, category: &str, day: NaiveDate) -> (NaiveDateTime, Option<NaiveDateTime>) {
        let code = category.get(..5).unwrap_or_default();
        let minute: i64 = match code {
            "1.4.5" | "1.4.4" | "1.4.3" | "1.4.6" | "2.1.1" | "3.5.2" => {
                self.rng.gen_range(17 * 60..27 * 60)
            }
            "2.5.2" | "1.2.4" => self.rng.gen_range(10 * 60..18 * 60),
            _ => self.rng.gen_range(0..24 * 60),
        };
        let mut begin = day.and_time(NaiveTime::MIN) + Duration::minutes(minute);
        if begin.date() > day {
            // Past midnight: keep the incident on its day's night, inside the period.
            begin -= Duration::days(1);
        }
        let end = match code {
            "1.1.1" | "1.1.2" | "1.2.3" | "1.2.1" | "2.2.1" | "1.2.2" | "1.6.2" => {
                Some(begin + Duration::minutes(self.rng.gen_range(30..14 * 60)))
            }
            "3.9.1" => Some(begin + Duration::days(self.rng.gen_range(1..30))),
            _ if self.rng.gen_bool(0.5) => Some(begin),
            _ => None,
        };
        (begin, end)
    }
}

/// Rounds to 0.1 m and moves a coordinate that falls exactly on a buurt edge 0.1 m inwards, so that the
/// written buurtcode and the polygon containing the point always agree.
fn off_boundary(v: f64, origin: f64) -> f64 {
    let v = (v * 10.0).round() / 10.0;
    if ((v - origin) / BUURT_M).fract() == 0.0 {
        v + 0.1
    } else {
        v
    }
}

/// Header of the police delivery (the demo's column names).
fn write_header(w: &mut impl Write) -> std::io::Result<()> {
    w.write_all(super::deliveries::POLICE_HEADER.join(";").as_bytes())?;
    w.write_all(b"\r\n")
}

fn write_date(w: &mut impl Write, t: NaiveDateTime) -> std::io::Result<()> {
    write!(
        w,
        "{:02}-{:02}-{:04};{:02}:{:02}",
        t.day(),
        t.month(),
        t.year(),
        t.time().hour(),
        t.time().minute()
    )
}

fn write_coord(w: &mut impl Write, v: f64) -> std::io::Result<()> {
    let tenths = (v * 10.0).round() as i64;
    write!(w, "{},{}", tenths / 10, tenths % 10)
}

fn write_row(w: &mut impl Write, reg: &str, row: &Row) -> std::io::Result<()> {
    w.write_all(reg.as_bytes())?;
    w.write_all(b";")?;
    write_date(w, row.begin)?;
    w.write_all(b";")?;
    if let Some(end) = row.end {
        write_date(w, end)?;
    } else {
        w.write_all(b";")?;
    }
    w.write_all(b";")?;
    w.write_all(row.category.as_bytes())?;
    // Straat, Huisnummer, Huisletter, Toevoeging, Postcode, Plaats: public space, no address.
    w.write_all(b";;;;;;;")?;
    write_coord(w, row.x_m)?;
    w.write_all(b";")?;
    write_coord(w, row.y_m)?;
    w.write_all(b";")?;
    if let Some(b) = &row.buurtcode {
        w.write_all(b.as_bytes())?;
    }
    w.write_all(b"\r\n")
}

/// Generates national-scale data (see the module documentation) into `dir` (created if missing): the CBS
/// GeoPackage, one police delivery per tenant and a one-row probe delivery. Memory does not depend on
/// `cfg.incidents`; the same configuration gives byte-identical deliveries.
///
/// ```
/// use brandpunt::demo::national::{generate_national, NationalConfig};
/// let dir = tempfile::tempdir().unwrap();
/// let cfg = NationalConfig {
///     incidents: 1_000,
///     tenants: 2,
///     gemeente_cols: 2,
///     gemeente_rows: 1,
///     ..NationalConfig::default()
/// };
/// let files = generate_national(dir.path(), &cfg).unwrap();
/// assert_eq!(files.tenants.len(), 2);
/// assert_eq!(files.tenants.iter().map(|t| t.rows).sum::<u64>(), 1_000);
/// assert_eq!(files.tenants[0].gemeenten, ["GM0001"]);
/// assert!(files.cbs_gpkg.exists());
/// ```
pub fn generate_national(dir: &Path, cfg: &NationalConfig) -> Result<NationalFiles, DemoError> {
    cfg.check()?;
    let io = |file: &Path| {
        let file = file.to_path_buf();
        move |source: std::io::Error| DemoError::Io {
            file: file.clone(),
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let country = Country::build(cfg);
    let cbs_gpkg = dir.join("wijkenbuurten_2024_v1.gpkg");
    write_cbs(&cbs_gpkg, &country)?;
    let (first, last) = (cfg.first_day(), cfg.last_day);
    let mut tenants = Vec::new();
    for t in 0..cfg.tenants as usize {
        let code = country.tenant_code(t);
        let rows = cfg.incidents / u64::from(cfg.tenants)
            + u64::from((t as u64) < cfg.incidents % u64::from(cfg.tenants));
        let path = dir.join(format!("politie_{code}_{first}_{last}.csv"));
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        write_header(&mut w).map_err(io(&path))?;
        let mut sampler = Sampler::new(&country, t, cfg);
        let mut reg = String::with_capacity(24);
        for i in 0..rows {
            let row = sampler.draw();
            reg.clear();
            let _ = write!(reg, "PL{:02}00-{}{:08}", t + 1, row.begin.year(), i + 1);
            write_row(&mut w, &reg, &row).map_err(io(&path))?;
        }
        w.flush().map_err(io(&path))?;
        let gemeenten = if cfg.tenants == 1 {
            Vec::new()
        } else {
            country
                .gemeenten
                .iter()
                .enumerate()
                .filter(|(g, _)| country.tenant_of[*g] == t)
                .map(|(_, gm)| gm.code.clone())
                .collect()
        };
        tenants.push(NationalTenant {
            name: if cfg.tenants == 1 {
                "Nederland".to_string()
            } else {
                format!("Veiligheidsregio {}", t + 1)
            },
            code,
            gemeenten,
            delivery: path,
            rows,
        });
    }
    // The probe: one new registration at the first tenant's strongest hot spot (or its first gemeente's
    // centre), at noon on the last day.
    let (x_m, y_m) = country
        .hotspots
        .iter()
        .filter(|h| country.tenant_of[h.gemeente] == 0)
        .max_by(|a, b| a.weight.total_cmp(&b.weight))
        .map(|h| (h.x_m, h.y_m))
        .or_else(|| {
            country
                .gemeenten
                .iter()
                .enumerate()
                .find(|(g, _)| country.tenant_of[*g] == 0)
                .map(|(_, gm)| gm.centre)
        })
        .unwrap_or((ORIGIN_X_M + 1.0, ORIGIN_Y_M + 1.0));
    let (x_m, y_m) = (off_boundary(x_m, ORIGIN_X_M), off_boundary(y_m, ORIGIN_Y_M));
    let probe_buurtcode = country
        .locate(x_m, y_m)
        .map(|(g, c, r)| buurtcode(g, c, r))
        .unwrap_or_default();
    let probe = Row {
        begin: last.and_time(NaiveTime::MIN) + Duration::hours(12),
        end: None,
        category: "1.1.1 Diefstal/inbraak woning",
        x_m,
        y_m,
        buurtcode: Some(probe_buurtcode.clone()),
    };
    let code = country.tenant_code(0);
    let probe_delivery = dir.join(format!("politie_{code}_probe_{last}.csv"));
    let mut bytes = Vec::new();
    write_header(&mut bytes).map_err(io(&probe_delivery))?;
    write_row(
        &mut bytes,
        &format!("PL0100-{}P0000001", last.year()),
        &probe,
    )
    .map_err(io(&probe_delivery))?;
    std::fs::write(&probe_delivery, bytes).map_err(io(&probe_delivery))?;
    Ok(NationalFiles {
        cbs_gpkg,
        tenants,
        probe_delivery,
        probe_buurtcode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::area_level::AreaLevel;
    use std::collections::BTreeMap;

    fn small(incidents: u64, tenants: u32) -> NationalConfig {
        NationalConfig {
            incidents,
            tenants,
            years: 2,
            gemeente_cols: 3,
            gemeente_rows: 2,
            ..NationalConfig::default()
        }
    }

    #[test]
    fn deliveries_are_deterministic_and_depend_on_the_seed() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let cfg = small(2_000, 2);
        let fa = generate_national(a.path(), &cfg).unwrap();
        let fb = generate_national(b.path(), &cfg).unwrap();
        let fc = generate_national(
            c.path(),
            &NationalConfig {
                seed: cfg.seed + 1,
                ..cfg.clone()
            },
        )
        .unwrap();
        for ((ta, tb), tc) in fa.tenants.iter().zip(&fb.tenants).zip(&fc.tenants) {
            let (ba, bb, bc) = (
                std::fs::read(&ta.delivery).unwrap(),
                std::fs::read(&tb.delivery).unwrap(),
                std::fs::read(&tc.delivery).unwrap(),
            );
            assert_eq!(ba, bb);
            assert_ne!(ba, bc);
        }
        assert_eq!(
            std::fs::read(&fa.probe_delivery).unwrap(),
            std::fs::read(&fb.probe_delivery).unwrap()
        );
    }

    #[test]
    fn the_delivery_reader_accepts_every_row_inside_the_tenants_gemeenten() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = small(3_001, 3);
        let files = generate_national(dir.path(), &cfg).unwrap();
        assert_eq!(
            files.tenants.iter().map(|t| t.rows).collect::<Vec<_>>(),
            [1_001, 1_000, 1_000]
        );
        let mut all_gemeenten = Vec::new();
        for t in &files.tenants {
            assert!(!t.gemeenten.is_empty());
            all_gemeenten.extend(t.gemeenten.clone());
            let parsed = crate::import::delivery::read_delivery(&t.delivery, None).unwrap();
            assert_eq!(parsed.delimiter, Some(';'));
            assert!(parsed.rejections.is_empty(), "{:?}", parsed.rejections);
            assert_eq!(parsed.rows.len() as u64, t.rows);
            let mut with_code = 0;
            for r in &parsed.rows {
                let (x, y) = (r.x_m.unwrap(), r.y_m.unwrap());
                let c = ((x - ORIGIN_X_M) / BUURT_M).floor() as u32;
                let rr = ((y - ORIGIN_Y_M) / BUURT_M).floor() as u32;
                assert!(c < 3 * 6 && rr < 2 * 6, "{x} {y} outside the grid");
                let g = (rr / 6) * 3 + c / 6;
                let code = buurtcode(g as usize, c % 6, rr % 6);
                assert!(t.gemeenten.contains(&format!("GM{:04}", g + 1)));
                if let Some(b) = &r.buurtcode {
                    assert_eq!(b, &code);
                    with_code += 1;
                }
                assert!(r.begin.date() >= cfg.first_day() && r.begin.date() <= cfg.last_day);
                assert!(r.end >= r.begin);
                assert!(r.category_code.is_some());
            }
            // About 30 % carry their buurtcode.
            assert!((200..400).contains(&with_code), "{with_code}");
        }
        all_gemeenten.sort();
        let expected: Vec<String> = (1..=6).map(|g| format!("GM{g:04}")).collect();
        assert_eq!(all_gemeenten, expected);
        let probe = crate::import::delivery::read_delivery(&files.probe_delivery, None).unwrap();
        assert_eq!(probe.rows.len(), 1);
        assert_eq!(
            probe.rows[0].buurtcode.as_deref(),
            Some(files.probe_buurtcode.as_str())
        );
        assert_eq!(probe.rows[0].begin.date(), cfg.last_day);
    }

    #[test]
    fn the_cbs_file_has_the_national_hierarchy_in_the_real_schema() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate_national(dir.path(), &small(10, 1)).unwrap();
        let cbs = crate::import::cbs::read_cbs(&files.cbs_gpkg, None).unwrap();
        assert_eq!(cbs.year, 2024);
        let count = |l: AreaLevel| cbs.areas.iter().filter(|a| a.level == l).count();
        assert_eq!(count(AreaLevel::Gemeente), 6);
        assert_eq!(count(AreaLevel::Wijk), 36);
        assert_eq!(count(AreaLevel::Buurt), 216);
        let codes: std::collections::BTreeSet<&str> =
            cbs.areas.iter().map(|a| a.code.as_str()).collect();
        assert_eq!(codes.len(), 6 + 36 + 216);
        for a in cbs.areas.iter().filter(|a| a.level == AreaLevel::Buurt) {
            assert_eq!(a.code.len(), 10);
            assert_eq!(a.gemeentecode, format!("GM{}", &a.code[2..6]));
            assert_eq!(
                a.wijkcode.as_deref(),
                Some(&format!("WK{}", &a.code[2..8])[..])
            );
        }
        // One tenant is the unrestricted default tenant.
        assert_eq!(files.tenants[0].code, "default");
        assert!(files.tenants[0].gemeenten.is_empty());
    }

    #[test]
    fn incidents_cluster_in_hot_spots_and_cities() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate_national(dir.path(), &small(5_000, 1)).unwrap();
        let parsed =
            crate::import::delivery::read_delivery(&files.tenants[0].delivery, None).unwrap();
        // Counts per 250 m cell: the busiest 1 % of the occupied cells hold far more than 1 % of the incidents.
        let mut cells: BTreeMap<(i64, i64), u32> = BTreeMap::new();
        for r in &parsed.rows {
            let key = (
                (r.x_m.unwrap() / 250.0) as i64,
                (r.y_m.unwrap() / 250.0) as i64,
            );
            *cells.entry(key).or_insert(0) += 1;
        }
        let mut counts: Vec<u32> = cells.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top = counts.len().div_ceil(100);
        let top_sum: u32 = counts[..top].iter().sum();
        assert!(
            f64::from(top_sum) > 0.15 * 5_000.0,
            "top 1 % of {} cells: {top_sum}",
            counts.len()
        );
    }

    #[test]
    fn tenants_are_compact_blocks_of_the_grid() {
        let country = Country::build(&NationalConfig {
            tenants: 25,
            ..NationalConfig::default()
        });
        assert_eq!(country.gemeenten.len(), 420);
        let mut sizes = vec![0; 25];
        for &t in &country.tenant_of {
            sizes[t] += 1;
        }
        assert!(sizes.iter().all(|s| (16..=17).contains(s)), "{sizes:?}");
        // Compact: each block spans fewer than 10 columns and 10 rows of the 20 x 21 grid.
        for t in 0..25 {
            let cells: Vec<(u32, u32)> = (0..420u32)
                .filter(|g| country.tenant_of[*g as usize] == t)
                .map(|g| (g % 20, g / 20))
                .collect();
            let span = |f: fn(&(u32, u32)) -> u32| {
                cells.iter().map(f).max().unwrap() - cells.iter().map(f).min().unwrap()
            };
            assert!(
                span(|c| c.0) < 8 && span(|c| c.1) < 8,
                "tenant {t}: {cells:?}"
            );
        }
        let names: std::collections::BTreeSet<&str> =
            country.gemeenten.iter().map(|g| g.naam.as_str()).collect();
        assert_eq!(names.len(), 420);
        let large = country
            .gemeenten
            .iter()
            .filter(|g| g.class == Class::Large)
            .count();
        assert_eq!(large, 4);
    }

    #[test]
    fn impossible_configurations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for cfg in [
            NationalConfig {
                tenants: 0,
                ..small(10, 1)
            },
            small(10, 7),
            NationalConfig {
                years: 0,
                ..small(10, 1)
            },
            small(0, 1),
            NationalConfig {
                gemeente_cols: 24,
                ..small(10, 1)
            },
        ] {
            assert!(matches!(
                generate_national(dir.path(), &cfg),
                Err(DemoError::Config(_))
            ));
        }
    }

    #[test]
    fn block_order_visits_every_gemeente_once() {
        for (cols, rows, t) in [(20, 21, 25), (3, 2, 7), (1, 1, 1), (23, 24, 3)] {
            let mut order = block_order(cols, rows, t);
            order.sort_unstable();
            assert_eq!(order, (0..(cols * rows) as usize).collect::<Vec<_>>());
        }
    }
}
