//! Ground truth: `ground_truth.json` (patterns, special cases, injected problems) and
//! `truth_incidents.csv` (every true incident and signal with its real location).

use super::addresses::{tower_plan, Bag, ObjectKind, TOWER_CELL};
use super::deliveries::DeliveryLog;
use super::incidents::{self, Events, Pattern};
use super::layout::{LandUse, Layout};
use super::near_repeats::{self, Planted};
use super::subjects::{Subjects, HANDHAVING_PERSONAL_HEADER, POLICE_PERSONAL_HEADER};
use super::{DemoConfig, DemoError};
use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lower-left corners (RD metres) of the 100 m cells whose centre lies within `radius_m` of `c`.
pub fn cells_100m(c: (f64, f64), radius_m: f64) -> Vec<[i64; 2]> {
    let mut out = Vec::new();
    let (x0, x1) = (
        ((c.0 - radius_m) / 100.0).floor() as i64,
        ((c.0 + radius_m) / 100.0).ceil() as i64,
    );
    let (y0, y1) = (
        ((c.1 - radius_m) / 100.0).floor() as i64,
        ((c.1 + radius_m) / 100.0).ceil() as i64,
    );
    for i in x0..x1 {
        for j in y0..y1 {
            let (cx, cy) = (i as f64 * 100.0 + 50.0, j as f64 * 100.0 + 50.0);
            if (cx - c.0).hypot(cy - c.1) <= radius_m {
                out.push([i * 100, j * 100]);
            }
        }
    }
    out
}

fn iso(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-{:02}", w.year(), w.week())
}

/// Relative risk of cannabis farms in the risk class vs all addresses of GM1999, with the shares.
pub fn cannabis_relative_risk(layout: &Layout, bag: &Bag, farms: &[usize]) -> (f64, f64, f64) {
    let demostad: Vec<usize> = (0..bag.addresses.len())
        .filter(|&i| layout.wijken[layout.buurten[bag.addresses[i].buurt].wijk].gemeente == 0)
        .collect();
    let in_class = |i: usize| bag.addresses[i].in_cannabis_risk_class(&bag.panden);
    let share_all =
        demostad.iter().filter(|&&i| in_class(i)).count() as f64 / demostad.len().max(1) as f64;
    let share_farms =
        farms.iter().filter(|&&i| in_class(i)).count() as f64 / farms.len().max(1) as f64;
    let rr = if share_all > 0.0 {
        share_farms / share_all
    } else {
        0.0
    };
    (rr, share_farms, share_all)
}

/// Builds the ground truth document.
pub fn ground_truth(
    cfg: &DemoConfig,
    layout: &Layout,
    bag: &Bag,
    ev: &Events,
    log: &DeliveryLog,
    subjects: &Subjects,
    near: &Planted,
) -> Value {
    let first_day = cfg.last_day - Duration::days(i64::from(cfg.weeks) * 7 - 1);
    let c = incidents::centres(layout);
    let mut by_pattern: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &ev.incidents {
        *by_pattern.entry(i.pattern.name()).or_insert(0) += 1;
    }
    let buurten_of = |p: Pattern| -> Vec<String> {
        let s: BTreeSet<String> = ev
            .incidents
            .iter()
            .filter(|i| i.pattern == p)
            .filter_map(|i| i.buurt)
            .map(|b| layout.buurten[b].code.clone())
            .collect();
        s.into_iter().collect()
    };
    let cats_of = |p: Pattern| -> Vec<String> {
        let s: BTreeSet<String> = ev
            .incidents
            .iter()
            .filter(|i| i.pattern == p)
            .map(|i| i.category.to_string())
            .collect();
        s.into_iter().collect()
    };
    let weekly = |p: Pattern| -> Vec<usize> {
        let mut v = vec![0usize; cfg.weeks as usize];
        for i in ev.incidents.iter().filter(|i| i.pattern == p) {
            let w = ((i.begin.date() - first_day).num_days() / 7) as usize;
            if let Some(x) = v.get_mut(w) {
                *x += 1;
            }
        }
        v
    };
    let new_first = cfg.weeks.saturating_sub(incidents::NEW_WEEKS);
    let week_day = |w: u32| first_day + Duration::days(i64::from(w) * 7);
    let mut burglary_months: BTreeMap<String, usize> = BTreeMap::new();
    for i in ev
        .incidents
        .iter()
        .filter(|i| i.pattern == Pattern::SeasonalBurglary)
    {
        *burglary_months
            .entry(i.begin.format("%Y-%m").to_string())
            .or_insert(0) += 1;
    }
    let (rr, share_farms, share_all) = cannabis_relative_risk(layout, bag, &ev.farms);
    let towers: Vec<Value> = bag
        .panden
        .iter()
        .filter(|p| p.addresses.len() >= 100)
        .map(|p| {
            let a = &bag.addresses[p.addresses[0]];
            json!({
                "pand_identificatie": p.id,
                "straat": bag.streets[a.street].name,
                "units": p.addresses.len(),
                "numbering": if a.toevoeging.is_some() { "one huisnummer with toevoegingen" } else { "many huisnummers in one pand" },
                "first_address": format!("{} {}", bag.streets[a.street].name, a.number_text()),
            })
        })
        .collect();
    let enclave = layout
        .buurten
        .iter()
        .find(|b| b.land_use == LandUse::Park)
        .map(|b| b.code.clone());
    let enclave_host = layout
        .buurten
        .iter()
        .find(|b| b.geometry.0.iter().any(|p| !p.interiors().is_empty()))
        .map(|b| b.code.clone());
    let regs = |p: Pattern| -> Vec<String> {
        ev.incidents
            .iter()
            .filter(|i| i.pattern == p)
            .map(|i| i.reg.clone())
            .collect()
    };
    let (n_towers, tower_units) = tower_plan(cfg.target_addresses);
    json!({
        "generator": {
            "seed": cfg.seed,
            "target_addresses": cfg.target_addresses,
            "weeks": cfg.weeks,
            "first_day": first_day.to_string(),
            "last_day": cfg.last_day.to_string(),
        },
        "gemeenten": layout.gemeenten.iter().enumerate().map(|(gi, g)| json!({
            "gemeentecode": g.code,
            "gemeentenaam": g.naam,
            "wijken": layout.wijken.iter().filter(|w| w.gemeente == gi).count(),
            "buurten": layout.buurten.iter().filter(|b| layout.wijken[b.wijk].gemeente == gi).count(),
            "addresses": bag.addresses.iter().filter(|a| layout.wijken[layout.buurten[a.buurt].wijk].gemeente == gi).count(),
        })).collect::<Vec<_>>(),
        "woonplaatsen": layout.woonplaatsen.iter().map(|w| json!({
            "identificatie": w.identificatie, "naam": w.naam, "gemeentecode": layout.gemeenten[w.gemeente].code,
        })).collect::<Vec<_>>(),
        "special_cases": {
            "alphanumeric_wijk": "WK1999AE",
            "alphanumeric_buurt": "BU1999AE01",
            "water_buurt": layout.buurten.iter().find(|b| b.land_use == LandUse::Water).map(|b| b.code.clone()),
            "enclave_buurt": enclave,
            "enclave_host_buurt": enclave_host,
            "ambiguous_street": "Kerkstraat",
            "ambiguous_street_woonplaatsen": ["Demostad", "Oudedorp"],
            "diacritic_streets": ["Ĳsselstraat", "Pastoor Ruéstraat", "Dokter Ariëns van der Hoevenstraat"],
            "street_with_digits": "Plein 1944",
            "nen_short_form_example": ["Burgemeester van Veenlaan", "Burg v Veenln"],
            "towers": towers,
            "tower_plan": {"count": n_towers, "units_each": tower_units, "mesh_cell": [TOWER_CELL.0, TOWER_CELL.1]},
            "ligplaatsen": bag.addresses.iter().filter(|a| a.kind == ObjectKind::Ligplaats).count(),
            "standplaatsen": bag.addresses.iter().filter(|a| a.kind == ObjectKind::Standplaats).count(),
            "neighbour_gemeente": "GM1998",
        },
        "relations": {
            "what": "synthetic BSNs and licence plates; the demo imports them with its public key, so only pseudonyms are stored; background identifiers never occur in both sources",
            "pseudonym_key_file": "pseudoniemsleutel-demo.txt",
            "police_mapping": "politie_mapping.toml",
            "personal_columns": {
                "politie": {POLICE_PERSONAL_HEADER[0]: "person", POLICE_PERSONAL_HEADER[1]: "vehicle"},
                "handhaving": {HANDHAVING_PERSONAL_HEADER[0]: "person", HANDHAVING_PERSONAL_HEADER[1]: "vehicle"},
            },
            "police_rows_with_person": subjects.police.iter().filter(|r| !r[0].is_empty()).count(),
            "police_rows_with_vehicle": subjects.police.iter().filter(|r| !r[1].is_empty()).count(),
            "signals_with_person": subjects.signals.iter().filter(|r| !r[0].is_empty()).count(),
            "signals_with_vehicle": subjects.signals.iter().filter(|r| !r[1].is_empty()).count(),
            "patterns": subjects.patterns,
        },
        "counts": {
            "addresses": bag.addresses.len(),
            "panden": bag.panden.len(),
            "streets": bag.streets.len(),
            "police_incidents": ev.incidents.len(),
            "handhaving_signals": ev.signals.len(),
            "police_incidents_by_pattern": by_pattern,
        },
        "patterns": [
            {
                "name": Pattern::Persistent.name(),
                "expected_emerging_class": ["persistent_hot_spot"],
                "what": "nightlife violence and nuisance in buurt Centrum, mostly Thursday-Saturday 22:00-04:00",
                "categories": cats_of(Pattern::Persistent),
                "centre_rd_m": [c.persistent.x, c.persistent.y],
                "spread_sd_m": incidents::SPREAD_M.0,
                "cells_100m": cells_100m((c.persistent.x, c.persistent.y), 2.0 * incidents::SPREAD_M.0),
                "first_week": iso(first_day), "last_week": iso(cfg.last_day),
                "rate_per_week": incidents::PERSISTENT_PER_WEEK,
                "buurtcodes": buurten_of(Pattern::Persistent),
                "incidents_per_week": weekly(Pattern::Persistent),
            },
            {
                "name": Pattern::New.name(),
                "expected_emerging_class": ["new_hot_spot", "consecutive_hot_spot"],
                "what": "vandalism, nuisance, threats, scooter fires around the towers of De Torenflats (BU1999AE01), only in the last weeks, plus HH02 Overlast jongeren signals",
                "categories": cats_of(Pattern::New),
                "handhaving_category": incidents::HH_CATEGORIES[1],
                "centre_rd_m": [c.new.x, c.new.y],
                "spread_sd_m": incidents::SPREAD_M.1,
                "cells_100m": cells_100m((c.new.x, c.new.y), 2.0 * incidents::SPREAD_M.1),
                "first_week": iso(week_day(new_first)), "last_week": iso(cfg.last_day),
                "first_week_index": new_first,
                "rate_per_week_first_last": [incidents::NEW_PER_WEEK.0, incidents::NEW_PER_WEEK.1],
                "buurtcodes": buurten_of(Pattern::New),
                "incidents_per_week": weekly(Pattern::New),
            },
            {
                "name": Pattern::Diminishing.name(),
                "expected_emerging_class": ["diminishing_hot_spot"],
                "what": "bike theft (1.2.3) at the station, daytime windows 07-09 to 16-19, declining linearly but above background at the end",
                "categories": cats_of(Pattern::Diminishing),
                "centre_rd_m": [c.diminishing.x, c.diminishing.y],
                "spread_sd_m": incidents::SPREAD_M.2,
                "cells_100m": cells_100m((c.diminishing.x, c.diminishing.y), 2.0 * incidents::SPREAD_M.2),
                "first_week": iso(first_day), "last_week": iso(cfg.last_day),
                "rate_per_week_first_last": [incidents::DIMINISHING_PER_WEEK.0, incidents::DIMINISHING_PER_WEEK.1],
                "buurtcodes": buurten_of(Pattern::Diminishing),
                "incidents_per_week": weekly(Pattern::Diminishing),
            },
            {
                "name": Pattern::SeasonalBurglary.name(),
                "what": "1.1.1 at random dwellings of GM1999; 2.5x more in October-February; windows: 60% evening 17-20h + 2-6 h, 25% working day 08-09h to 17-18:30h, 15% 2-7 days",
                "categories": cats_of(Pattern::SeasonalBurglary),
                "peak_months": [10, 11, 12, 1, 2],
                "rate_per_week_peak_offpeak": [incidents::burglary_per_week(1, bag.addresses.len()), incidents::burglary_per_week(6, bag.addresses.len())],
                "incidents_per_month": burglary_months,
            },
            {
                "name": Pattern::Cannabis.name(),
                "what": "cannabis farms: police 3.1.1 Drugshandel at the address plus a HH04 Hennepkwekerij signal 1-3 days earlier; 70% in the risk class, 30% in industriefunctie business units",
                "categories": ["3.1.1 Drugshandel", incidents::HH_CATEGORIES[3]],
                "risk_class": {"gebruiksdoel": "woonfunctie", "bouwjaar": [1960, 1975], "oppervlakte_m2": [70, 100]},
                "farm_addresses": ev.farms.iter().map(|&i| bag.addresses[i].id.clone()).collect::<Vec<_>>(),
                "relative_risk_risk_class": rr,
                "share_of_farms_in_class": share_farms,
                "share_of_addresses_in_class": share_all,
            },
        ],
        "near_repeat": near_repeat_truth(near),
        "deliveries": log,
        "ambiguous_registrations": regs(Pattern::Ambiguous),
        "unknown_address_registrations": regs(Pattern::UnknownAddress),
    })
}

/// The distance bands (metres) and time bands (days) the near-repeat truth is stated in.
pub const NEAR_REPEAT_BANDS: ([f64; 4], [u32; 4]) = ([100.0, 200.0, 300.0, 400.0], [7, 14, 21, 28]);

/// The `near_repeat` section: the planted chains and repeat addresses, and the Knox cells they raise.
fn near_repeat_truth(near: &Planted) -> Value {
    use crate::analysis::near_repeat::{distance_labels, time_labels};
    let (d, t) = NEAR_REPEAT_BANDS;
    let (dl, tl) = (distance_labels(&d), time_labels(&t));
    // Labels in the table order: same location, (0,100), [100,200), ...; [0,7), [7,14), ...
    let cell = |di: usize, ti: usize| json!([dl[di], tl[ti]]);
    let mut by_cell: BTreeMap<String, usize> = BTreeMap::new();
    for f in &near.follow_ups {
        let di = d
            .iter()
            .position(|&b| f.distance_m < b)
            .map_or(d.len() + 1, |i| i + 1);
        let ti = t
            .iter()
            .position(|&b| f.lag_days < i64::from(b))
            .unwrap_or(t.len());
        *by_cell
            .entry(format!("{} x {}", dl[di], tl[ti]))
            .or_insert(0) += 1;
    }
    json!({
        "what": "residential burglary (1.1.1, group inbraak) in the buurten of the wijken named below: initiating burglaries at random dwellings of the area; after each burglary of a chain, with the stated probability, a follow-up at another dwelling of the area in (0,100) m (else [100,200) m) that begins 1-6 days (else 7-13 days) later, up to the stated chain length; plus repeat addresses burgled 2-4 times each, 7 days to 2 months apart",
        "pattern": Pattern::NearRepeatBurglary.name(),
        "repeat_pattern": Pattern::RepeatAddress.name(),
        "category": near_repeats::CATEGORY,
        "analysis_category": "inbraak",
        "area_wijken": near_repeats::AREA_WIJKEN,
        "area_buurtcodes": near.area_buurtcodes,
        "initiators_per_week_peak_offpeak": [near_repeats::INITIATORS_PER_WEEK_PEAK_OFFPEAK.0, near_repeats::INITIATORS_PER_WEEK_PEAK_OFFPEAK.1],
        "follow_up_probability": near_repeats::FOLLOW_UP_PROBABILITY,
        "p_follow_up_within_100_m": near_repeats::P_FOLLOW_UP_WITHIN_100_M,
        "p_follow_up_within_7_days": near_repeats::P_FOLLOW_UP_WITHIN_7_DAYS,
        "max_chain": near_repeats::MAX_CHAIN,
        "chains": near.chains,
        "chain_incidents": near.chain_incidents,
        "distance_bands_m": d,
        "time_bands_days": t,
        "expected_elevated_cells": [cell(1, 0), cell(1, 1), cell(2, 0), cell(2, 1)],
        "expected_not_elevated_distance_band": dl[dl.len() - 1],
        "follow_ups_by_cell": by_cell,
        "follow_ups": near.follow_ups,
        "repeat_addresses": near.repeat_addresses,
    })
}

/// Writes `ground_truth.json` (pretty, sorted keys).
pub fn write_json(path: &Path, v: &Value) -> Result<(), DemoError> {
    let s = serde_json::to_string_pretty(v).map_err(|e| DemoError::Json {
        file: path.to_path_buf(),
        source: e,
    })?;
    std::fs::write(path, s + "\n").map_err(|e| DemoError::Io {
        file: path.to_path_buf(),
        source: e,
    })
}

/// Writes `truth_incidents.csv`: `bron;registratienummer;categorie;begin;eind;x_m;y_m;buurtcode;
/// adres_identificatie;patroon;bestand` (UTF-8, `;`, decimal points, ISO date-times).
pub fn write_incidents_csv(
    path: &Path,
    layout: &Layout,
    bag: &Bag,
    ev: &Events,
    log: &DeliveryLog,
) -> Result<(), DemoError> {
    let mut out = String::from("bron;registratienummer;categorie;begin;eind;x_m;y_m;buurtcode;adres_identificatie;patroon;bestand\n");
    let fmt = |d: chrono::NaiveDateTime| d.format("%Y-%m-%dT%H:%M").to_string();
    for (i, inc) in ev.incidents.iter().enumerate() {
        let (x, y) = inc.xy_m.map_or((String::new(), String::new()), |(x, y)| {
            (format!("{x:.2}"), format!("{y:.2}"))
        });
        out.push_str(&format!(
            "politie;{};{};{};{};{x};{y};{};{};{};{}\n",
            inc.reg,
            inc.category,
            fmt(inc.begin),
            inc.end.map(fmt).unwrap_or_default(),
            inc.buurt
                .map(|b| layout.buurten[b].code.clone())
                .unwrap_or_default(),
            inc.address
                .map(|a| bag.addresses[a].id.clone())
                .unwrap_or_default(),
            inc.pattern.name(),
            log.first_file.get(i).cloned().unwrap_or_default(),
        ));
    }
    for s in &ev.signals {
        let a = &bag.addresses[s.address];
        out.push_str(&format!(
            "handhaving;{};{};{};;{:.2};{:.2};{};{};{};handhaving_meldingen.csv\n",
            s.nr,
            s.soort,
            fmt(s.at),
            a.x_m,
            a.y_m,
            layout.buurten[a.buurt].code,
            a.id,
            s.pattern.name(),
        ));
    }
    std::fs::write(path, out).map_err(|e| DemoError::Io {
        file: path.to_path_buf(),
        source: e,
    })
}
