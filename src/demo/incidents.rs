//! Synthetic incidents: background crime plus the planted patterns, and municipal enforcement
//! (handhaving) signals. Plain data; writing happens in `deliveries`.
//!
//! Rates are per week; counts per day are Poisson. Locations are either an address (police wrote the
//! address) or a point in public space (police wrote RD X/Y), see [`LocMode`].

use super::addresses::{Bag, ObjectKind};
use super::layout::{cell_point, Layout};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use geo::{Contains, Coord, Point};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How the police delivery gives the location of an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocMode {
    /// Address columns only.
    Address,
    /// Address and X/Y.
    AddressAndRd,
    /// X/Y only (public space).
    Rd,
    /// Buurtcode only.
    BuurtOnly,
}

/// Planted pattern an incident belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pattern {
    /// Background (no pattern).
    Background,
    /// (a) persistent nightlife hotspot in the centre.
    Persistent,
    /// (b) new hotspot around the flats in the last weeks.
    New,
    /// (c) diminishing bike-theft hotspot at the station.
    Diminishing,
    /// (d) seasonal residential burglary.
    SeasonalBurglary,
    /// (e) cannabis farm.
    Cannabis,
    /// Written without postcode and plaats on a street name present in both woonplaatsen.
    Ambiguous,
    /// Address that does not exist in the BAG.
    UnknownAddress,
    /// (f) near-repeat burglary chains in wijk Weide (`near_repeats`).
    NearRepeatBurglary,
    /// (f) planted repeat addresses: the same dwelling burgled 2-4 times (`near_repeats`).
    RepeatAddress,
    /// (g) cannabis farms in the lowest WOZ class in two buurten (`woz`).
    CannabisLowWoz,
}

impl Pattern {
    /// Name used in the ground truth files.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Background => "background",
            Pattern::Persistent => "persistent_centre",
            Pattern::New => "new_torenflats",
            Pattern::Diminishing => "diminishing_station",
            Pattern::SeasonalBurglary => "seasonal_burglary",
            Pattern::Cannabis => "cannabis_farms",
            Pattern::Ambiguous => "ambiguous_address",
            Pattern::UnknownAddress => "unknown_address",
            Pattern::NearRepeatBurglary => "near_repeat_burglary",
            Pattern::RepeatAddress => "repeat_address_burglary",
            Pattern::CannabisLowWoz => "cannabis_low_woz",
        }
    }
}

/// One police incident (the true, final version).
#[derive(Clone, Debug)]
pub struct Incident {
    /// Registration number (assigned after generation).
    pub reg: String,
    /// `code label`, e.g. `1.1.1 Diefstal/inbraak woning`.
    pub category: &'static str,
    /// Start of the time window.
    pub begin: NaiveDateTime,
    /// End of the time window (None: exact time, field left empty).
    pub end: Option<NaiveDateTime>,
    /// True location, RD metres (None for unknown addresses).
    pub xy_m: Option<(f64, f64)>,
    /// Address index (into `Bag::addresses`).
    pub address: Option<usize>,
    /// Buurt index (into `Layout::buurten`).
    pub buurt: Option<usize>,
    /// How the delivery writes the location.
    pub loc: LocMode,
    /// Pattern.
    pub pattern: Pattern,
    /// Registration date (decides the delivery week).
    pub registered: NaiveDate,
    /// Delivery week index (0 = oldest).
    pub week: u32,
    /// For unknown addresses: the (street, number) the delivery writes.
    pub fake_address: Option<(String, String)>,
}

/// A municipal enforcement signal.
#[derive(Clone, Debug)]
pub struct Signal {
    /// Meldingnummer (assigned after generation).
    pub nr: String,
    /// `HH04 Hennepkwekerij` etc.
    pub soort: &'static str,
    /// Date and time.
    pub at: NaiveDateTime,
    /// Address index.
    pub address: usize,
    /// Pattern.
    pub pattern: Pattern,
}

/// Handhaving categories (opaque codes with labels).
pub const HH_CATEGORIES: [&str; 5] = [
    "HH01 Afval",
    "HH02 Overlast jongeren",
    "HH03 Parkeeroverlast",
    "HH04 Hennepkwekerij",
    "HH05 Woonoverlast",
];

/// Centres of the spatial patterns, RD metres.
#[derive(Clone, Copy, Debug)]
pub struct Centres {
    /// Persistent nightlife hotspot (buurt Centrum).
    pub persistent: Coord<f64>,
    /// New hotspot (De Torenflats).
    pub new: Coord<f64>,
    /// Diminishing hotspot (station).
    pub diminishing: Coord<f64>,
}

/// Spread (standard deviation, metres) of the persistent / new / diminishing hotspots.
pub const SPREAD_M: (f64, f64, f64) = (70.0, 60.0, 50.0);
/// Number of final weeks in which the new hotspot is active.
pub const NEW_WEEKS: u32 = 7;

/// Pattern centres for a layout.
pub fn centres(layout: &Layout) -> Centres {
    let r = |c: Coord<f64>| Coord {
        x: c.x.round(),
        y: c.y.round(),
    };
    Centres {
        persistent: r(cell_point(&layout.vertices, (6, 8), 0.9, 0.5)),
        new: r(cell_point(
            &layout.vertices,
            super::addresses::TOWER_CELL,
            0.5,
            0.7,
        )),
        diminishing: r(cell_point(&layout.vertices, (7, 6), 0.3, 0.3)),
    }
}

/// A Poisson draw with mean `lambda`.
pub(super) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    // Knuth; rates here are small (< 30 per day).
    let l = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.gen::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(1e-12..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, f64)]) -> &'a T {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut r = rng.gen::<f64>() * total;
    for (item, w) in items {
        if r < *w {
            return item;
        }
        r -= w;
    }
    &items[items.len() - 1].0
}

fn at_time(day: NaiveDate, minutes: i64) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN) + Duration::minutes(minutes)
}

struct Ctx<'a> {
    layout: &'a Layout,
    bag: &'a Bag,
    /// Verblijfsobjecten in gemeente 0, grouped by pand (background picks a pand uniformly).
    panden: Vec<Vec<usize>>,
    dwellings: Vec<usize>,
    shops: Vec<usize>,
}

impl Ctx<'_> {
    fn buurt_at(&self, x: f64, y: f64) -> Option<usize> {
        let p = Point::new(x, y);
        self.layout
            .buurten
            .iter()
            .position(|b| b.geometry.contains(&p))
    }

    fn in_demostad(&self, buurt: usize) -> bool {
        self.layout.wijken[self.layout.buurten[buurt].wijk].gemeente == 0
    }

    fn nearest_address(&self, x: f64, y: f64) -> Option<usize> {
        self.bag
            .addresses
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.kind == ObjectKind::Verblijfsobject
                    && (a.x_m - x).abs() < 150.0
                    && (a.y_m - y).abs() < 150.0
            })
            .min_by(|(_, a), (_, b)| {
                let da = (a.x_m - x).hypot(a.y_m - y);
                let db = (b.x_m - x).hypot(b.y_m - y);
                da.total_cmp(&db)
            })
            .map(|(i, _)| i)
    }
}

/// All generated events.
#[derive(Clone, Debug, Default)]
pub struct Events {
    /// Police incidents, sorted by registration and numbered.
    pub incidents: Vec<Incident>,
    /// Handhaving signals, sorted and numbered.
    pub signals: Vec<Signal>,
    /// Addresses (indices) with a cannabis farm.
    pub farms: Vec<usize>,
}

/// Background police incidents per week for a city of `addresses` addresses.
pub fn background_per_week(addresses: usize) -> f64 {
    60.0 * addresses as f64 / 40_000.0
}

/// Seasonal burglary rate per week in a given month (dark months Oct-Feb higher).
pub fn burglary_per_week(month: u32, addresses: usize) -> f64 {
    let scale = (addresses as f64 / 40_000.0).max(0.25);
    if matches!(month, 10 | 11 | 12 | 1 | 2) {
        10.0 * scale
    } else {
        4.0 * scale
    }
}

/// Persistent hotspot incidents per week.
pub const PERSISTENT_PER_WEEK: f64 = 7.0;
/// Diminishing hotspot: bike thefts per week at the first and at the last week.
pub const DIMINISHING_PER_WEEK: (f64, f64) = (12.0, 3.0);
/// New hotspot incidents per week in its first and last active week (linear ramp).
pub const NEW_PER_WEEK: (f64, f64) = (3.0, 9.0);

/// Generates all events over `weeks` weeks ending `last_day`.
pub fn generate(
    layout: &Layout,
    bag: &Bag,
    weeks: u32,
    last_day: NaiveDate,
    rng: &mut ChaCha8Rng,
) -> Events {
    let first_day = last_day - Duration::days(i64::from(weeks) * 7 - 1);
    let mut panden_map: std::collections::BTreeMap<usize, Vec<usize>> =
        std::collections::BTreeMap::new();
    let mut dwellings = Vec::new();
    let mut shops = Vec::new();
    for (i, a) in bag.addresses.iter().enumerate() {
        if layout.wijken[layout.buurten[a.buurt].wijk].gemeente != 0 {
            continue;
        }
        if let Some(p) = a.pand {
            panden_map.entry(p).or_default().push(i);
        }
        if a.gebruiksdoel == "woonfunctie" {
            dwellings.push(i);
        }
        if a.gebruiksdoel.contains("winkelfunctie") {
            shops.push(i);
        }
    }
    let ctx = Ctx {
        layout,
        bag,
        panden: panden_map.into_values().collect(),
        dwellings,
        shops,
    };
    let n_addr = bag.addresses.len();
    let c = centres(layout);
    let mut ev = Events::default();
    let push = |ev: &mut Events, mut inc: Incident, rng: &mut ChaCha8Rng| {
        let end_or_begin = inc.end.unwrap_or(inc.begin).date();
        let delay = match rng.gen_range(0..10) {
            0..=6 => 0,
            7 | 8 => 1,
            _ => rng.gen_range(2..6),
        };
        inc.registered = end_or_begin + Duration::days(delay);
        if inc.registered > last_day || inc.begin.date() < first_day {
            return;
        }
        inc.week = ((inc.registered - first_day).num_days() / 7) as u32;
        ev.incidents.push(inc);
    };
    let blank = |category: &'static str, begin: NaiveDateTime, pattern: Pattern| Incident {
        reg: String::new(),
        category,
        begin,
        end: None,
        xy_m: None,
        address: None,
        buurt: None,
        loc: LocMode::Address,
        pattern,
        registered: begin.date(),
        week: 0,
        fake_address: None,
    };
    // Location helpers.
    let at_address = |ctx: &Ctx, inc: &mut Incident, a: usize| {
        let ad = &ctx.bag.addresses[a];
        inc.address = Some(a);
        inc.xy_m = Some((ad.x_m, ad.y_m));
        inc.buurt = Some(ad.buurt);
    };
    let near = |ctx: &Ctx,
                rng: &mut ChaCha8Rng,
                inc: &mut Incident,
                centre: Coord<f64>,
                sd: f64,
                p_rd: f64| {
        for _ in 0..20 {
            let x = ((centre.x + normal(rng) * sd) * 10.0).round() / 10.0;
            let y = ((centre.y + normal(rng) * sd) * 10.0).round() / 10.0;
            let Some(b) = ctx.buurt_at(x, y) else {
                continue;
            };
            if !ctx.in_demostad(b) {
                continue;
            }
            if rng.gen_bool(p_rd) {
                inc.xy_m = Some((x, y));
                inc.buurt = Some(b);
                inc.loc = LocMode::Rd;
                return;
            }
            if let Some(a) = ctx.nearest_address(x, y) {
                at_address(ctx, inc, a);
                inc.loc = if rng.gen_bool(0.2) {
                    LocMode::AddressAndRd
                } else {
                    LocMode::Address
                };
                return;
            }
        }
    };
    let bg_cats: [(&'static str, f64); 15] = [
        ("1.2.3 Diefstal van brom-, snor-, fietsen", 10.0),
        ("2.2.1 Vernieling cq. zaakbeschadiging", 9.0),
        ("1.2.1 Diefstal uit/vanaf motorvoertuigen", 7.0),
        ("1.4.5 Mishandeling", 5.0),
        ("1.4.4 Bedreiging", 4.0),
        ("2.5.2 Winkeldiefstal", 4.0),
        ("1.1.2 Diefstal/inbraak box/garage/schuur", 3.0),
        ("3.9.1 Horizontale fraude", 4.0),
        ("2.4.1 Burengerucht (relatieproblemen)", 5.0),
        ("2.1.1 Drugs/drankoverlast", 3.0),
        ("1.6.2 Overige vermogensdelicten", 3.0),
        ("1.2.2 Diefstal van motorvoertuigen", 1.0),
        ("1.4.6 Straatroof", 0.5),
        ("1.4.1 Zedenmisdrijf", 0.3),
        ("3.5.2 Onder invloed (weg)", 1.5),
    ];
    let new_start_week = weeks.saturating_sub(NEW_WEEKS);
    for w in 0..weeks {
        for d in 0..7u32 {
            let day = first_day + Duration::days(i64::from(w * 7 + d));
            let dow = day.weekday().num_days_from_monday();
            // Background.
            for _ in 0..poisson(rng, background_per_week(n_addr) / 7.0) {
                let cat = *pick(rng, &bg_cats);
                let code = &cat[..5];
                let mut inc = blank(cat, day.and_time(NaiveTime::MIN), Pattern::Background);
                let minute: i64 = match code {
                    "1.4.5" | "1.4.4" | "1.4.6" | "2.1.1" | "3.5.2" => {
                        rng.gen_range(17 * 60..27 * 60)
                    }
                    "2.5.2" => rng.gen_range(10 * 60..18 * 60),
                    _ => rng.gen_range(0..24 * 60),
                };
                inc.begin = at_time(day, minute);
                inc.end = match code {
                    "1.2.3" | "1.2.1" | "2.2.1" | "1.1.2" | "1.2.2" | "1.6.2" => {
                        Some(inc.begin + Duration::minutes(rng.gen_range(30..14 * 60)))
                    }
                    "3.9.1" => Some(inc.begin + Duration::days(rng.gen_range(1..30))),
                    _ if rng.gen_bool(0.5) => Some(inc.begin),
                    _ => None,
                };
                let a = if code == "2.5.2" && !ctx.shops.is_empty() {
                    ctx.shops[rng.gen_range(0..ctx.shops.len())]
                } else {
                    let p = &ctx.panden[rng.gen_range(0..ctx.panden.len())];
                    p[rng.gen_range(0..p.len())]
                };
                at_address(&ctx, &mut inc, a);
                inc.loc = match rng.gen_range(0..100) {
                    0..=69 => LocMode::Address,
                    70..=84 => LocMode::AddressAndRd,
                    85..=94 => LocMode::Rd,
                    _ => LocMode::BuurtOnly,
                };
                if inc.loc == LocMode::Rd {
                    // Street location in front of the address.
                    if let Some((x, y)) = inc.xy_m {
                        let (nx, ny) = (
                            x + rng.gen_range(-15.0..15.0),
                            y + rng.gen_range(-15.0..15.0),
                        );
                        let (nx, ny) = ((nx * 10.0).round() / 10.0, (ny * 10.0).round() / 10.0);
                        if let Some(b) = ctx.buurt_at(nx, ny) {
                            inc.address = None;
                            inc.xy_m = Some((nx, ny));
                            inc.buurt = Some(b);
                        } else {
                            inc.loc = LocMode::Address;
                        }
                    }
                }
                if inc.loc == LocMode::BuurtOnly {
                    inc.address = None;
                }
                push(&mut ev, inc, rng);
            }
            // (a) Persistent centre nightlife: mostly Thursday-Saturday nights.
            let night_weight = [0.05, 0.05, 0.07, 0.13, 0.30, 0.35, 0.05][dow as usize];
            for _ in 0..poisson(rng, PERSISTENT_PER_WEEK * night_weight) {
                let cat = *pick(
                    rng,
                    &[
                        ("1.4.5 Mishandeling", 35.0),
                        ("1.4.4 Bedreiging", 20.0),
                        ("1.4.3 Openlijk geweld (persoon)", 10.0),
                        ("2.1.1 Drugs/drankoverlast", 20.0),
                        ("3.6.4 Aantasting openbare orde", 15.0),
                    ],
                );
                let mut inc = blank(
                    cat,
                    at_time(day, rng.gen_range(22 * 60..28 * 60)),
                    Pattern::Persistent,
                );
                inc.end = if rng.gen_bool(0.6) {
                    Some(inc.begin)
                } else {
                    None
                };
                near(&ctx, rng, &mut inc, c.persistent, SPREAD_M.0, 0.65);
                if inc.buurt.is_some() {
                    push(&mut ev, inc, rng);
                }
            }
            // (b) New hotspot around the flats: the last NEW_WEEKS weeks, ramping up.
            if w >= new_start_week {
                let k = f64::from(w - new_start_week) / f64::from(NEW_WEEKS.max(2) - 1);
                let rate = NEW_PER_WEEK.0 + k * (NEW_PER_WEEK.1 - NEW_PER_WEEK.0);
                for _ in 0..poisson(rng, rate / 7.0) {
                    let cat = *pick(
                        rng,
                        &[
                            ("2.2.1 Vernieling cq. zaakbeschadiging", 30.0),
                            ("2.1.1 Drugs/drankoverlast", 25.0),
                            ("1.4.4 Bedreiging", 15.0),
                            ("3.6.4 Aantasting openbare orde", 15.0),
                            ("1.6.1 Brand/ontploffing", 15.0),
                        ],
                    );
                    let mut inc = blank(
                        cat,
                        at_time(day, rng.gen_range(18 * 60..24 * 60)),
                        Pattern::New,
                    );
                    inc.end = if rng.gen_bool(0.5) {
                        Some(inc.begin + Duration::minutes(rng.gen_range(0..90)))
                    } else {
                        None
                    };
                    near(&ctx, rng, &mut inc, c.new, SPREAD_M.1, 0.5);
                    if inc.buurt.is_some() {
                        push(&mut ev, inc, rng);
                    }
                }
                for _ in 0..poisson(rng, 4.0 / 7.0) {
                    let mut inc = blank(
                        "",
                        at_time(day, rng.gen_range(19 * 60..23 * 60)),
                        Pattern::New,
                    );
                    near(&ctx, rng, &mut inc, c.new, SPREAD_M.1, 0.0);
                    if let Some(a) = inc.address {
                        ev.signals.push(Signal {
                            nr: String::new(),
                            soort: HH_CATEGORIES[1],
                            at: inc.begin,
                            address: a,
                            pattern: Pattern::New,
                        });
                    }
                }
            }
            // (c) Diminishing bike theft at the station: linear decline, daytime windows.
            let k = if weeks > 1 {
                f64::from(w) / f64::from(weeks - 1)
            } else {
                0.0
            };
            let rate =
                DIMINISHING_PER_WEEK.0 + k * (DIMINISHING_PER_WEEK.1 - DIMINISHING_PER_WEEK.0);
            for _ in 0..poisson(rng, rate / 7.0) {
                let mut inc = blank(
                    "1.2.3 Diefstal van brom-, snor-, fietsen",
                    at_time(day, rng.gen_range(7 * 60..9 * 60)),
                    Pattern::Diminishing,
                );
                inc.end = Some(at_time(day, rng.gen_range(16 * 60..19 * 60)));
                near(&ctx, rng, &mut inc, c.diminishing, SPREAD_M.2, 0.8);
                if inc.buurt.is_some() {
                    push(&mut ev, inc, rng);
                }
            }
            // (d) Seasonal burglary: dark months, evening windows (aoristic).
            for _ in 0..poisson(rng, burglary_per_week(day.month(), n_addr) / 7.0) {
                if ctx.dwellings.is_empty() {
                    break;
                }
                let a = ctx.dwellings[rng.gen_range(0..ctx.dwellings.len())];
                let mut inc = blank(
                    "1.1.1 Diefstal/inbraak woning",
                    day.and_time(NaiveTime::MIN),
                    Pattern::SeasonalBurglary,
                );
                match rng.gen_range(0..100) {
                    0..=59 => {
                        inc.begin = at_time(day, rng.gen_range(17 * 60..20 * 60));
                        inc.end = Some(inc.begin + Duration::minutes(rng.gen_range(120..360)));
                    }
                    60..=84 => {
                        inc.begin = at_time(day, rng.gen_range(8 * 60..9 * 60));
                        inc.end = Some(at_time(day, rng.gen_range(17 * 60..18 * 60 + 30)));
                    }
                    _ => {
                        inc.begin = at_time(day, rng.gen_range(8 * 60..20 * 60));
                        inc.end = Some(inc.begin + Duration::days(rng.gen_range(2..8)));
                    }
                }
                at_address(&ctx, &mut inc, a);
                inc.loc = if rng.gen_bool(0.25) {
                    LocMode::AddressAndRd
                } else {
                    LocMode::Address
                };
                push(&mut ev, inc, rng);
            }
            // Handhaving background.
            let hh_scale = (n_addr as f64 / 40_000.0).max(0.25);
            for (soort, per_week) in [
                (HH_CATEGORIES[0], 5.0),
                (HH_CATEGORIES[1], 1.0),
                (HH_CATEGORIES[4], 1.0),
            ] {
                for _ in 0..poisson(rng, per_week * hh_scale / 7.0) {
                    let p = &ctx.panden[rng.gen_range(0..ctx.panden.len())];
                    let a = p[rng.gen_range(0..p.len())];
                    let at = at_time(day, rng.gen_range(8 * 60..22 * 60));
                    ev.signals.push(Signal {
                        nr: String::new(),
                        soort,
                        at,
                        address: a,
                        pattern: Pattern::Background,
                    });
                }
            }
            for _ in 0..poisson(rng, 2.0 * hh_scale / 7.0) {
                let mut inc = blank(
                    "",
                    at_time(day, rng.gen_range(9 * 60..18 * 60)),
                    Pattern::Background,
                );
                near(&ctx, rng, &mut inc, c.persistent, 150.0, 0.0);
                if let Some(a) = inc.address {
                    ev.signals.push(Signal {
                        nr: String::new(),
                        soort: HH_CATEGORIES[2],
                        at: inc.begin,
                        address: a,
                        pattern: Pattern::Background,
                    });
                }
            }
        }
        // Ambiguous address (Kerkstraat without postcode/plaats) every 3rd week.
        if w % 3 == 1 {
            // Only numbers that exist on the Kerkstraat of both woonplaatsen are truly ambiguous.
            let key =
                |a: &super::addresses::Address| (a.huisnummer, a.huisletter, a.toevoeging.clone());
            let is_kerk =
                |a: &super::addresses::Address| bag.streets[a.street].name == "Kerkstraat";
            let elsewhere: std::collections::BTreeSet<_> = bag
                .addresses
                .iter()
                .filter(|a| is_kerk(a) && !ctx.in_demostad(a.buurt))
                .map(key)
                .collect();
            let kerk: Vec<usize> = bag
                .addresses
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    is_kerk(a) && ctx.in_demostad(a.buurt) && elsewhere.contains(&key(a))
                })
                .map(|(i, _)| i)
                .collect();
            if !kerk.is_empty() {
                let a = kerk[rng.gen_range(0..kerk.len())];
                let day = first_day + Duration::days(i64::from(w * 7 + rng.gen_range(0..5)));
                let mut inc = blank(
                    "2.2.1 Vernieling cq. zaakbeschadiging",
                    at_time(day, rng.gen_range(0..20 * 60)),
                    Pattern::Ambiguous,
                );
                inc.end = Some(inc.begin + Duration::hours(rng.gen_range(1..10)));
                at_address(&ctx, &mut inc, a);
                push(&mut ev, inc, rng);
            }
        }
        // Unknown address every 4th week.
        if w % 4 == 2 {
            let day = first_day + Duration::days(i64::from(w * 7 + rng.gen_range(0..5)));
            let mut inc = blank(
                "1.2.1 Diefstal uit/vanaf motorvoertuigen",
                at_time(day, rng.gen_range(0..20 * 60)),
                Pattern::UnknownAddress,
            );
            inc.end = Some(inc.begin + Duration::hours(rng.gen_range(1..10)));
            inc.fake_address = Some(if w % 8 == 2 {
                (
                    "Nieuwe Havenstraat".to_string(),
                    rng.gen_range(1..80u32).to_string(),
                )
            } else {
                ("Stationsplein".to_string(), "999".to_string())
            });
            push(&mut ev, inc, rng);
        }
    }
    // (e) Cannabis farms: 70 % in the risk class (woonfunctie 1960-1975, 70-100 m2), 30 % in
    // industriefunctie units.
    let risk: Vec<usize> = ctx
        .dwellings
        .iter()
        .copied()
        .filter(|&i| bag.addresses[i].in_cannabis_risk_class(&bag.panden))
        .collect();
    let industry: Vec<usize> = bag
        .addresses
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            a.gebruiksdoel == "industriefunctie"
                && a.huisletter.is_some()
                && ctx.in_demostad(a.buurt)
        })
        .map(|(i, _)| i)
        .collect();
    let n_farms = ((40.0 * f64::from(weeks) / 104.0).round() as usize).max(6);
    for k in 0..n_farms {
        let pool = if !matches!(k % 10, 2 | 5 | 8) || industry.is_empty() {
            &risk
        } else {
            &industry
        };
        if pool.is_empty() {
            continue;
        }
        let a = pool[rng.gen_range(0..pool.len())];
        if ev.farms.contains(&a) {
            continue;
        }
        ev.farms.push(a);
        let day = first_day + Duration::days(rng.gen_range(3..i64::from(weeks) * 7));
        let mut inc = blank(
            "3.1.1 Drugshandel",
            at_time(day, rng.gen_range(9 * 60..15 * 60)),
            Pattern::Cannabis,
        );
        inc.end = Some(inc.begin);
        at_address(&ctx, &mut inc, a);
        push(&mut ev, inc, rng);
        let melding = at_time(
            day - Duration::days(rng.gen_range(1..4)),
            rng.gen_range(9 * 60..17 * 60),
        );
        ev.signals.push(Signal {
            nr: String::new(),
            soort: HH_CATEGORIES[3],
            at: melding,
            address: a,
            pattern: Pattern::Cannabis,
        });
    }
    // Number the incidents in registration order.
    ev.incidents.sort_by(|a, b| {
        (
            a.registered,
            a.begin,
            a.category,
            a.xy_m.map(|p| (p.0.to_bits(), p.1.to_bits())),
        )
            .cmp(&(
                b.registered,
                b.begin,
                b.category,
                b.xy_m.map(|p| (p.0.to_bits(), p.1.to_bits())),
            ))
    });
    let mut seq: std::collections::BTreeMap<i32, u32> = std::collections::BTreeMap::new();
    for inc in &mut ev.incidents {
        let n = seq.entry(inc.registered.year()).or_insert(0);
        *n += 1;
        inc.reg = format!("PL0600-{}{:06}", inc.registered.year(), *n * 7 + 100_000);
    }
    ev.signals
        .retain(|s| s.at.date() >= first_day && s.at.date() <= last_day);
    ev.signals
        .sort_by(|a, b| (a.at, a.address, a.soort).cmp(&(b.at, b.address, b.soort)));
    let mut seq: std::collections::BTreeMap<i32, u32> = std::collections::BTreeMap::new();
    for s in &mut ev.signals {
        let n = seq.entry(s.at.year()).or_insert(0);
        *n += 1;
        s.nr = format!("HH-{}-{:05}", s.at.year(), *n);
    }
    ev
}
