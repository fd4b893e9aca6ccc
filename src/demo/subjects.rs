//! Personal identifiers in the demo deliveries: synthetic BSNs and licence plates on police registrations and
//! handhaving signals, with three planted relation patterns (see `GROUND_TRUTH.md`, "Relations").
//!
//! The values are raw (as a source system delivers them); the demo imports them with its own public demo key
//! ([`demo_key_hex`]), so only pseudonyms are stored. Background identifiers come from four disjoint pools
//! (police persons, police vehicles, handhaving persons, handhaving vehicles), so no background subject occurs
//! in both sources: the only subject in two sources is the planted one.
//!
//! Everything is drawn from its own seeded stream, so adding identifiers changes no other demo content.

use super::addresses::Bag;
use super::incidents::{Events, LocMode, Pattern};
use chrono::NaiveDateTime;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Personal columns of the demo's police deliveries (after the 15 default columns): a person and a vehicle.
pub const POLICE_PERSONAL_HEADER: [&str; 2] = ["BSN verdachte", "Kenteken"];
/// Personal columns of the demo's handhaving signals: a person and a vehicle.
pub const HANDHAVING_PERSONAL_HEADER: [&str; 2] = ["BSN betrokkene", "Kenteken"];

/// Police categories whose registrations often name a vehicle.
const VEHICLE_CATEGORIES: [&str; 3] = [
    "1.2.1 Diefstal uit/vanaf motorvoertuigen",
    "1.2.2 Diefstal van motorvoertuigen",
    "3.5.2 Onder invloed (weg)",
];

/// The demo's pseudonymisation key for `seed` (64 hex characters). Public on purpose, like the demo password:
/// the data are synthetic; never use it for real data.
pub fn demo_key_hex(seed: u64) -> String {
    let mut h = Sha256::new();
    h.update(b"brandpunt demo pseudonym key v1");
    h.update(seed.to_le_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The raw identifiers of one row: (person, vehicle); empty when the row names none.
pub type RowIdentifiers = [String; 2];

/// One planted subject of a relation pattern.
#[derive(Clone, Debug, Serialize)]
pub struct PlantedSubject {
    /// `person` or `vehicle` (the column's kind).
    pub kind: &'static str,
    /// The raw value as delivered (synthetic).
    pub value: String,
    /// Registration numbers / meldingnummers that name it.
    pub registrations: Vec<String>,
}

/// A planted relation pattern, for the ground truth.
#[derive(Clone, Debug, Serialize)]
pub struct RelationPattern {
    /// `person_across_sources`, `vehicle_burglary_series` or `address_hub`.
    pub name: &'static str,
    /// What it is.
    pub what: &'static str,
    /// The subjects that make the pattern.
    pub subjects: Vec<PlantedSubject>,
    /// Every registration of the pattern (police registratienummers and handhaving meldingnummers).
    pub registrations: Vec<String>,
    /// The BAG verblijfsobject ids of the pattern's registrations delivered with an address.
    pub addresses: Vec<String>,
}

/// The identifiers of every delivered row and the planted patterns.
#[derive(Clone, Debug, Default)]
pub struct Subjects {
    /// Per police incident (index into `Events::incidents`).
    pub police: Vec<RowIdentifiers>,
    /// Per handhaving signal (index into `Events::signals`).
    pub signals: Vec<RowIdentifiers>,
    /// The planted patterns.
    pub patterns: Vec<RelationPattern>,
}

/// A pool of synthetic identifiers, disjoint from every other pool by its prefix.
#[derive(Clone, Copy)]
enum Pool {
    PolicePersons,
    PoliceVehicles,
    HandhavingPersons,
    HandhavingVehicles,
    Planted,
}

impl Pool {
    /// First digit of the pool's BSNs / first letter of its plates.
    fn prefix(self) -> (u32, char) {
        match self {
            Pool::PolicePersons => (2, 'G'),
            Pool::PoliceVehicles => (3, 'H'),
            Pool::HandhavingPersons => (4, 'J'),
            Pool::HandhavingVehicles => (5, 'K'),
            Pool::Planted => (6, 'X'),
        }
    }
}

/// The `k`-th BSN of a pool: nine digits passing the elfproef, the first digit naming the pool.
fn bsn(pool: Pool, k: u32) -> String {
    let mut n = k % 9_000_000;
    loop {
        let digits = format!("{}{:07}", pool.prefix().0, n);
        let sum: u32 = digits
            .bytes()
            .enumerate()
            .map(|(i, b)| (9 - i as u32) * u32::from(b - b'0'))
            .sum();
        // Elfproef: 9*d1 + ... + 2*d8 - d9 is divisible by 11.
        let check = sum % 11;
        if check < 10 {
            return format!("{digits}{check}");
        }
        n = (n + 1) % 9_000_000;
    }
}

/// The `k`-th plate of a pool, sidecode 7 (`XX-999-X`), the first letter naming the pool.
fn plate(pool: Pool, k: u32) -> String {
    const L: &[u8; 16] = b"BDFGHJKLNPRSTVXZ";
    let k = k % (16 * 1000 * 16);
    format!(
        "{}{}-{:03}-{}",
        pool.prefix().1,
        L[(k / 16_000) as usize] as char,
        (k / 16) % 1000,
        L[(k % 16) as usize] as char
    )
}

/// Picks `n` indices of `sorted` spread evenly, skipping any for which `taken` says no.
fn spread(sorted: &[usize], n: usize, mut keep: impl FnMut(usize) -> bool) -> Vec<usize> {
    let mut out = Vec::new();
    if sorted.is_empty() {
        return out;
    }
    for j in 0..n {
        let start = (sorted.len() * (2 * j + 1)) / (2 * n);
        if let Some(&i) = sorted[start..]
            .iter()
            .chain(&sorted[..start])
            .find(|&&i| !out.contains(&i) && keep(i))
        {
            out.push(i);
        }
    }
    out
}

/// Draws the identifiers of every police incident and handhaving signal with `rng`, the planted patterns first.
pub fn generate(bag: &Bag, ev: &Events, rng: &mut ChaCha8Rng) -> Subjects {
    let mut s = Subjects {
        police: vec![RowIdentifiers::default(); ev.incidents.len()],
        signals: vec![RowIdentifiers::default(); ev.signals.len()],
        patterns: Vec::new(),
    };
    let by_time = |times: Vec<(NaiveDateTime, usize)>| -> Vec<usize> {
        let mut t = times;
        t.sort();
        t.into_iter().map(|(_, i)| i).collect()
    };
    let mut planted = 0u32;
    let mut next_planted = |person: bool| {
        planted += 1;
        if person {
            bsn(Pool::Planted, planted * 7919)
        } else {
            plate(Pool::Planted, planted * 7919)
        }
    };
    let address_of = |i: usize| -> Option<String> {
        let inc = &ev.incidents[i];
        let delivered = matches!(inc.loc, LocMode::Address | LocMode::AddressAndRd)
            && inc.fake_address.is_none();
        inc.address
            .filter(|_| delivered)
            .map(|a| bag.addresses[a].id.clone())
    };

    // (1) A person in both sources, at several addresses: three police registrations at three addresses and two
    // handhaving signals.
    let background_at_address: Vec<usize> = by_time(
        ev.incidents
            .iter()
            .enumerate()
            .filter(|(i, inc)| inc.pattern == Pattern::Background && address_of(*i).is_some())
            .map(|(i, inc)| (inc.begin, i))
            .collect(),
    );
    let mut used_addresses: Vec<String> = Vec::new();
    let police_a = spread(&background_at_address, 3, |i| {
        let a = address_of(i).unwrap_or_default();
        if used_addresses.contains(&a) {
            false
        } else {
            used_addresses.push(a);
            true
        }
    });
    let background_signals: Vec<usize> = by_time(
        ev.signals
            .iter()
            .enumerate()
            .filter(|(_, sg)| sg.pattern == Pattern::Background)
            .map(|(i, sg)| (sg.at, i))
            .collect(),
    );
    let signals_a = spread(&background_signals, 2, |_| true);
    let person_a = next_planted(true);
    let mut regs_a = Vec::new();
    let mut addresses_a = Vec::new();
    for &i in &police_a {
        s.police[i][0].clone_from(&person_a);
        regs_a.push(ev.incidents[i].reg.clone());
        addresses_a.extend(address_of(i));
    }
    for &i in &signals_a {
        s.signals[i][0].clone_from(&person_a);
        regs_a.push(ev.signals[i].nr.clone());
        addresses_a.push(bag.addresses[ev.signals[i].address].id.clone());
    }
    s.patterns.push(RelationPattern {
        name: "person_across_sources",
        what: "one person in three police registrations at three addresses and in two handhaving signals",
        subjects: vec![PlantedSubject {
            kind: "person",
            value: person_a,
            registrations: regs_a.clone(),
        }],
        registrations: regs_a,
        addresses: sorted_unique(addresses_a),
    });

    // (2) A vehicle in a burglary series: four consecutive burglaries, each with one of three persons.
    let burglaries: Vec<usize> = by_time(
        ev.incidents
            .iter()
            .enumerate()
            .filter(|(_, inc)| inc.pattern == Pattern::SeasonalBurglary)
            .map(|(i, inc)| (inc.begin, i))
            .collect(),
    );
    let first = (burglaries.len() / 2).saturating_sub(2);
    let series: Vec<usize> = burglaries.iter().skip(first).take(4).copied().collect();
    let vehicle = next_planted(false);
    let persons: Vec<String> = (0..3).map(|_| next_planted(true)).collect();
    let mut person_regs: Vec<Vec<String>> = vec![Vec::new(); persons.len()];
    let mut regs_b = Vec::new();
    let mut addresses_b = Vec::new();
    for (k, &i) in series.iter().enumerate() {
        let p = k % persons.len();
        s.police[i] = [persons[p].clone(), vehicle.clone()];
        person_regs[p].push(ev.incidents[i].reg.clone());
        regs_b.push(ev.incidents[i].reg.clone());
        addresses_b.extend(address_of(i));
    }
    let mut subjects_b = vec![PlantedSubject {
        kind: "vehicle",
        value: vehicle,
        registrations: regs_b.clone(),
    }];
    subjects_b.extend(
        persons
            .into_iter()
            .zip(person_regs)
            .map(|(value, registrations)| PlantedSubject {
                kind: "person",
                value,
                registrations,
            }),
    );
    s.patterns.push(RelationPattern {
        name: "vehicle_burglary_series",
        what:
            "one vehicle in four consecutive residential burglaries, with three different persons",
        subjects: subjects_b,
        registrations: regs_b,
        addresses: sorted_unique(addresses_b),
    });

    // (3) An address hub: the address with the most handhaving signals (ties: the first address); every
    // registration there names a different person.
    let mut per_address = vec![0u32; bag.addresses.len()];
    for sg in &ev.signals {
        per_address[sg.address] += 1;
    }
    let used_a = &s.patterns[0].addresses;
    let hub = (0..bag.addresses.len())
        .filter(|&a| !used_a.contains(&bag.addresses[a].id))
        .max_by_key(|&a| (per_address[a], std::cmp::Reverse(a)));
    if let Some(hub) = hub {
        let hub_id = bag.addresses[hub].id.clone();
        let mut subjects_c = Vec::new();
        let mut regs_c = Vec::new();
        let police_here: Vec<usize> = (0..ev.incidents.len())
            .filter(|&i| s.police[i][0].is_empty() && address_of(i).as_ref() == Some(&hub_id))
            .collect();
        for i in police_here {
            let p = next_planted(true);
            s.police[i][0].clone_from(&p);
            regs_c.push(ev.incidents[i].reg.clone());
            subjects_c.push(PlantedSubject {
                kind: "person",
                value: p,
                registrations: vec![ev.incidents[i].reg.clone()],
            });
        }
        for (i, sg) in ev.signals.iter().enumerate() {
            if sg.address != hub || !s.signals[i][0].is_empty() {
                continue;
            }
            let p = next_planted(true);
            s.signals[i][0].clone_from(&p);
            regs_c.push(sg.nr.clone());
            subjects_c.push(PlantedSubject {
                kind: "person",
                value: p,
                registrations: vec![sg.nr.clone()],
            });
        }
        s.patterns.push(RelationPattern {
            name: "address_hub",
            what: "the address with the most handhaving signals; each of its registrations names a different person",
            subjects: subjects_c,
            registrations: regs_c,
            addresses: vec![hub_id],
        });
    }

    // Background: drawn from pools large enough that repeats are rare, never shared between the sources.
    let n = ev.incidents.len().max(1) as u32;
    let planted_police: Vec<bool> = s.police.iter().map(|r| !r[0].is_empty()).collect();
    for (i, inc) in ev.incidents.iter().enumerate() {
        if !planted_police[i] && rng.gen_bool(0.15) {
            s.police[i][0] = bsn(Pool::PolicePersons, rng.gen_range(0..20 * n));
        }
        if s.police[i][1].is_empty()
            && VEHICLE_CATEGORIES.contains(&inc.category)
            && rng.gen_bool(0.5)
        {
            s.police[i][1] = plate(Pool::PoliceVehicles, rng.gen_range(0..20 * n));
        }
    }
    let m = ev.signals.len().max(1) as u32;
    for (i, sg) in ev.signals.iter().enumerate() {
        let (person_p, vehicle_p) = match sg.soort {
            "HH02 Overlast jongeren" | "HH05 Woonoverlast" => (0.4, 0.0),
            "HH03 Parkeeroverlast" => (0.0, 0.6),
            _ => (0.1, 0.0),
        };
        if s.signals[i][0].is_empty() && rng.gen_bool(person_p) {
            s.signals[i][0] = bsn(Pool::HandhavingPersons, rng.gen_range(0..20 * m));
        }
        if rng.gen_bool(vehicle_p) {
            s.signals[i][1] = plate(Pool::HandhavingVehicles, rng.gen_range(0..20 * m));
        }
    }
    s
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsns_pass_the_elfproef_and_pools_are_disjoint() {
        for pool in [Pool::PolicePersons, Pool::HandhavingPersons, Pool::Planted] {
            for k in [0, 1, 17, 8_999_999, 12_345_678] {
                let b = bsn(pool, k);
                assert_eq!(b.len(), 9, "{b}");
                let d: Vec<i64> = b.bytes().map(|c| i64::from(c - b'0')).collect();
                let sum: i64 = (0..8).map(|i| (9 - i as i64) * d[i]).sum::<i64>() - d[8];
                assert_eq!(sum % 11, 0, "{b}");
                assert_eq!(d[0] as u32, pool.prefix().0);
            }
        }
        assert_ne!(
            bsn(Pool::PolicePersons, 5)[1..],
            bsn(Pool::HandhavingPersons, 6)[1..]
        );
        let p = plate(Pool::PoliceVehicles, 255_999);
        assert_eq!(p.len(), 8, "{p}");
        assert!(p.starts_with('H'), "{p}");
        assert_ne!(
            plate(Pool::PoliceVehicles, 1),
            plate(Pool::PoliceVehicles, 2)
        );
    }

    #[test]
    fn the_demo_key_is_a_valid_key_and_depends_on_the_seed() {
        let k = demo_key_hex(1);
        assert_eq!(k.len(), 64);
        assert!(crate::pseudonym::PseudonymKey::parse(&k).is_ok());
        assert_ne!(k, demo_key_hex(2));
    }
}
