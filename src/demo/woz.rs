//! WOZ values of Demostad's verblijfsobjecten (`woz_waarden.csv`, the municipality's WOZ extract) and the
//! planted pattern (g) `cannabis_low_woz`: extra cannabis farms in the lowest WOZ class in two buurten.
//!
//! Values (`GROUND_TRUTH.md`, "WOZ values"): floor area x a price per m2 by the buurt's land use x a factor of the
//! street (log-normal, sd 0.2; 15 % of the streets of residential areas are rental streets at 0.55) x the
//! object's own log-normal noise (sd 0.1), rounded to 1,000 EUR, at least 40,000; functions other than
//! woonfunctie at 0.8 of the price. Peiljaar: the year before the last delivery's year (the WOZ value of tax
//! year Y is valued at 1 January of Y - 1).
//!
//! Planted: in the two buurten of Demostad (not high-rise) with the most dwellings below [`LOW_CLASS_EUR`], police
//! registrations `3.1.1 Drugshandel` at distinct such dwellings (delivered with the address; [`farms_per_buurt`]
//! per buurt), from their own stream after every other event, numbered after the last registration number of
//! their year. The file carries two injected bad rows (a nummeraanduiding id instead of the verblijfsobject id,
//! and a value `onbekend`) and writes every 25th value as `€ 245.000`.

use super::addresses::{Bag, ObjectKind};
use super::incidents::{Events, Incident, LocMode, Pattern};
use super::layout::{LandUse, Layout};
use super::DemoError;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The file name of the WOZ extract.
pub const FILE: &str = "woz_waarden.csv";
/// The upper bound of the lowest WOZ class (`<150.000`), EUR.
pub const LOW_CLASS_EUR: f64 = 150_000.0;
/// The category of the planted farms.
pub const CATEGORY: &str = "3.1.1 Drugshandel";

/// Planted farms per buurt for a city delivered over `weeks` weeks: 12 over two years, at least 6.
pub fn farms_per_buurt(weeks: u32) -> usize {
    ((12.0 * f64::from(weeks) / 104.0).round() as usize).max(6)
}

fn price_per_m2(land_use: LandUse) -> f64 {
    match land_use {
        LandUse::Centre => 3_800.0,
        LandUse::Residential => 3_200.0,
        LandUse::Sixties => 2_700.0,
        LandUse::Flats => 2_500.0,
        LandUse::Village => 3_400.0,
        LandUse::Rural => 3_000.0,
        LandUse::Industrial => 1_100.0,
        LandUse::Park | LandUse::Caravan | LandUse::Water => 1_500.0,
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(1e-12..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The WOZ value (EUR) of every address of Demostad's verblijfsobjecten (`None` for the others).
pub fn values(layout: &Layout, bag: &Bag, rng: &mut ChaCha8Rng) -> Vec<Option<f64>> {
    let street_factor: Vec<f64> = bag
        .streets
        .iter()
        .map(|_| {
            let rental = rng.gen_bool(0.15);
            let f = (0.2 * normal(rng)).exp();
            (f, rental)
        })
        .map(|(f, rental)| if rental { 0.55 * f.min(1.0) } else { f })
        .collect();
    bag.addresses
        .iter()
        .map(|a| {
            let b = &layout.buurten[a.buurt];
            let demostad = layout.wijken[b.wijk].gemeente == 0;
            let noise = (0.1 * normal(rng)).exp();
            if a.kind != ObjectKind::Verblijfsobject || !demostad {
                return None;
            }
            let mut ppm2 = price_per_m2(b.land_use);
            if !a.gebruiksdoel.split(',').any(|g| g == "woonfunctie") {
                ppm2 *= 0.8;
            }
            // Only residential streets have rental streets; other land uses keep their own factor.
            let street = street_factor[a.street];
            let street = if matches!(b.land_use, LandUse::Residential | LandUse::Sixties) {
                street
            } else {
                street.max(0.8)
            };
            let area = f64::from(a.oppervlakte_m2.unwrap_or(60));
            let v = (area * ppm2 * street * noise / 1_000.0).round() * 1_000.0;
            Some(v.max(40_000.0))
        })
        .collect()
}

/// What was planted, for the ground truth.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PlantedWoz {
    /// The two buurtcodes.
    pub buurtcodes: Vec<String>,
    /// Per buurt: dwellings in the lowest class and all dwellings.
    pub low_dwellings: Vec<usize>,
    pub dwellings: Vec<usize>,
    /// Registration numbers of the planted farms (kept inside the period).
    pub registrations: Vec<String>,
    /// Their BAG addresses.
    pub farm_addresses: Vec<String>,
}

/// Plant the farms of pattern (g) into `ev` (see the module docs).
pub fn plant(
    layout: &Layout,
    bag: &Bag,
    woz: &[Option<f64>],
    weeks: u32,
    last_day: NaiveDate,
    ev: &mut Events,
    rng: &mut ChaCha8Rng,
) -> PlantedWoz {
    let first_day = last_day - Duration::days(i64::from(weeks) * 7 - 1);
    let dwelling = |i: usize| {
        let a = &bag.addresses[i];
        a.kind == ObjectKind::Verblijfsobject && a.gebruiksdoel == "woonfunctie" && woz[i].is_some()
    };
    let low = |i: usize| woz[i].is_some_and(|v| v < LOW_CLASS_EUR);
    // Candidate buurten: Demostad, not high-rise; the two with the most low dwellings (ties by code).
    let mut per_buurt: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for i in (0..bag.addresses.len()).filter(|&i| dwelling(i)) {
        let b = bag.addresses[i].buurt;
        if layout.buurten[b].land_use == LandUse::Flats {
            continue;
        }
        let e = per_buurt.entry(b).or_default();
        e.1 += 1;
        if low(i) {
            e.0 += 1;
        }
    }
    let mut ranked: Vec<(usize, (usize, usize))> = per_buurt.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1 .0
            .cmp(&a.1 .0)
            .then(layout.buurten[a.0].code.cmp(&layout.buurten[b.0].code))
    });
    let mut planted = PlantedWoz::default();
    let mut new: Vec<Incident> = Vec::new();
    let per = farms_per_buurt(weeks);
    let period_days = i64::from(weeks) * 7;
    for &(b, (n_low, n_all)) in ranked.iter().take(2) {
        planted.buurtcodes.push(layout.buurten[b].code.clone());
        planted.low_dwellings.push(n_low);
        planted.dwellings.push(n_all);
        let mut pool: Vec<usize> = (0..bag.addresses.len())
            .filter(|&i| {
                dwelling(i) && low(i) && bag.addresses[i].buurt == b && !ev.farms.contains(&i)
            })
            .collect();
        for _ in 0..per.min(pool.len()) {
            let a = pool.swap_remove(rng.gen_range(0..pool.len()));
            // Begin early enough for the registration (0-2 days later) to fall inside the period.
            let day = first_day + Duration::days(rng.gen_range(0..(period_days - 3).max(1)));
            let begin =
                day.and_time(NaiveTime::MIN) + Duration::minutes(rng.gen_range(9 * 60..15 * 60));
            let registered = day + Duration::days(rng.gen_range(0..3));
            let ad = &bag.addresses[a];
            new.push(Incident {
                reg: String::new(),
                category: CATEGORY,
                begin,
                end: Some(begin),
                xy_m: Some((ad.x_m, ad.y_m)),
                address: Some(a),
                buurt: Some(ad.buurt),
                loc: LocMode::Address,
                pattern: Pattern::CannabisLowWoz,
                registered,
                week: ((registered - first_day).num_days() / 7) as u32,
                fake_address: None,
            });
        }
    }
    new.retain(|inc| inc.registered <= last_day);
    // Number after the last registration number of each year, in registration order.
    let mut seq: BTreeMap<i32, u32> = BTreeMap::new();
    for inc in &ev.incidents {
        *seq.entry(inc.registered.year()).or_insert(0) += 1;
    }
    new.sort_by_key(|inc| (inc.registered, inc.begin, inc.address));
    for inc in &mut new {
        let n = seq.entry(inc.registered.year()).or_insert(0);
        *n += 1;
        inc.reg = format!("PL0600-{}{:06}", inc.registered.year(), *n * 7 + 100_000);
        planted.registrations.push(inc.reg.clone());
        if let Some(a) = inc.address {
            planted.farm_addresses.push(bag.addresses[a].id.clone());
        }
    }
    ev.incidents.extend(new);
    planted
}

/// The injected bad rows of the file: (line, reason).
pub const INJECTED: [(u64, &str); 2] = [
    (5, "nummeraanduiding id instead of the verblijfsobject id"),
    (9, "woz_waarde 'onbekend'"),
];

fn dutch_thousands(v: f64) -> String {
    crate::analysis::profile::format_bound(v)
}

/// Write the WOZ extract `path`: UTF-8 with BOM, `;`, CRLF; header `wozobjectnummer;verblijfsobject_id;straat;
/// huisnummer;huisletter;toevoeging;postcode;woonplaats;woz_waarde;peiljaar` (see the module docs).
pub fn write(
    path: &Path,
    layout: &Layout,
    bag: &Bag,
    woz: &[Option<f64>],
    peiljaar: i32,
) -> Result<(), DemoError> {
    let mut out = String::from(
        "\u{feff}wozobjectnummer;verblijfsobject_id;straat;huisnummer;huisletter;toevoeging;postcode;woonplaats;woz_waarde;peiljaar\r\n",
    );
    let mut line = 1u64;
    for (i, a) in bag.addresses.iter().enumerate() {
        let Some(v) = woz[i] else { continue };
        line += 1;
        let street = &bag.streets[a.street];
        let woonplaats = &layout.woonplaatsen[street.woonplaats].naam;
        let id = if line == INJECTED[0].0 {
            a.nummeraanduiding_id.clone()
        } else {
            a.id.clone()
        };
        let value = if line == INJECTED[1].0 {
            "onbekend".to_string()
        } else if line % 25 == 0 {
            format!("€ {}", dutch_thousands(v))
        } else {
            format!("{v:.0}")
        };
        out.push_str(&format!(
            "1999{:08};{};{};{};{};{};{};{};{};{}\r\n",
            i + 1,
            id,
            street.name,
            a.huisnummer,
            a.huisletter.map(String::from).unwrap_or_default(),
            a.toevoeging.clone().unwrap_or_default(),
            a.postcode,
            woonplaats,
            value,
            peiljaar
        ));
    }
    std::fs::write(path, out).map_err(|e| DemoError::Io {
        file: path.to_path_buf(),
        source: e,
    })
}
