//! Deterministic synthetic BAG-like addresses for benchmarks and property tests (no real data).
//!
//! Shape of a national file scaled to `n` addresses: about `n / 4000` woonplaatsen (2,500 for 10 M)
//! with skewed sizes; `n / 40` streets (250 k) of varying length whose names recur across woonplaatsen
//! (the first 12 streets of every woonplaats share the same names, like `Kerkstraat`) but are unique
//! within one; a new postcode at the start of each street and every 26 addresses along it (~475 k for
//! 10 M); about 5 % huisletters and 15 % of house numbers being buildings with 2-12 units carrying a
//! toevoeging. Names include abbreviable words (`Burgemeester ...laan`, `Van ...straat`,
//! `Dokter ...plein`, `Plein 1234`) and the NEN 5825 short name is the contracted form when the full name
//! exceeds 24 characters. Every generated object is unique on (postcode, number, letter, toevoeging) and
//! on (woonplaats, street, number, letter, toevoeging).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::BagAddress;

const SYLLABLES: &[&str] = &[
    "Kerk", "Molen", "Beek", "Dorps", "Hof", "Linden", "Eiken", "Berken", "Wilgen", "Esdoorn",
    "Rozen", "Tulpen", "Heide", "Veen", "Zand", "Klei", "Water", "Brug", "Sluis", "Dijk", "Haven",
    "Markt", "School", "Stations", "Kloos", "Abdij", "Burcht", "Slot", "Vesting", "Wal", "Gracht",
    "Poort", "Toren", "Kapel", "Meer", "Plas", "Bos", "Veld", "Akker", "Weide", "Hoeve", "Schuur",
    "Smids", "Bakkers", "Vissers", "Jagers", "Boeren", "Koop", "Zuider", "Noorder", "Ooster",
    "Wester", "Midden", "Nieuwe", "Oude", "Lange", "Korte", "Brede", "Hoge", "Lage",
];

const SURNAMES: &[&str] = &[
    "Veen", "Dijk", "Berg", "Bosch", "Heuvel", "Linden", "Meer", "Wal", "Broek", "Velde", "Laan",
    "Hoeven", "Graaf", "Brink", "Steen", "Poel", "Kamp", "Horst", "Haar", "Zande",
];

const SUFFIXES: &[&str] = &[
    "straat", "laan", "weg", "plein", "gracht", "singel", "pad", "hof", "dreef", "kade", "steeg",
    "dijk",
];

const WP_SUFFIXES: &[&str] = &[
    "dam", "veen", "horst", "wijk", "rode", "broek", "hoven", "dorp", "zijl", "loo",
];

/// Street names shared by every woonplaats.
const COMMON_NAMES: usize = 12;

/// A street starts a new postcode every this many addresses (and at its first address).
const POSTCODE_SIZE: usize = 26;

/// Number of distinct street names available.
fn street_name_count() -> usize {
    SYLLABLES.len() * SYLLABLES.len() * SUFFIXES.len()
}

/// Street name `k` (full, short).
fn street_name(k: usize) -> (String, String) {
    let s = SUFFIXES.len();
    let n = SYLLABLES.len();
    let suffix = SUFFIXES[k % s];
    let a = SYLLABLES[(k / s) % n];
    let b = SYLLABLES[(k / s / n) % n].to_lowercase();
    let full = match k % 23 {
        0 => format!("Burgemeester van {}{}{}", a, b, suffix),
        5 => format!("Van {}{}{}", a, b, suffix),
        11 => format!("Dokter {}{}{}", a, b, suffix),
        17 => format!("Sint {}{}{}", a, b, suffix),
        19 => format!("Plein {}", 1000 + k),
        _ => format!("{}{}{}", a, b, suffix),
    };
    let short = if full.chars().count() > 24 {
        let c = full
            .replace("Burgemeester", "Burg")
            .replace("van ", "v ")
            .replace("straat", "str")
            .replace("laan", "ln")
            .replace("plein", "pln");
        c.chars().take(24).collect()
    } else {
        full.clone()
    };
    (full, short)
}

/// Woonplaats name `w` (unique per `w`).
fn woonplaats_name(w: usize) -> String {
    let n = SYLLABLES.len();
    let s = WP_SUFFIXES.len();
    let a = SYLLABLES[w % n];
    let b = WP_SUFFIXES[(w / n) % s];
    let extra = w / (n * s);
    if extra == 0 {
        format!("{a}{b}")
    } else {
        format!("{a}{} {}", b, SURNAMES[(extra - 1) % SURNAMES.len()])
    }
}

/// Number of woonplaatsen for `n` addresses.
pub fn woonplaats_count(n: usize) -> usize {
    (n / 4000).clamp(1, 2500)
}

/// Generate `n` addresses deterministically from `seed` and call `f` with each. Addresses are generated
/// street by street; memory use is independent of `n` apart from the per-woonplaats tables.
pub fn for_each_address(n: usize, seed: u64, mut f: impl FnMut(&BagAddress<'_>)) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_wp = woonplaats_count(n);
    let n_streets = (n / 40).max(1);
    // Skewed woonplaats sizes: weight 1 / (rank + 3)^0.9.
    let weights: Vec<f64> = (0..n_wp)
        .map(|i| 1.0 / ((i + 3) as f64).powf(0.9))
        .collect();
    let total: f64 = weights.iter().sum();
    let names = street_name_count();
    let mut produced = 0usize;
    let mut postcode_counter = 0u32;
    let mut bag_seq = 0u64;
    let mut bag_buf = String::with_capacity(16);
    let mut toev_buf = String::with_capacity(4);
    let mut letter_buf = [0u8; 1];
    let mut pc_buf = String::with_capacity(6);
    for (w, weight) in weights.iter().enumerate() {
        if produced >= n {
            break;
        }
        let wp_name = woonplaats_name(w);
        let gemeente = 1 + (w % 342) as u64;
        let is_last = w + 1 == n_wp;
        let wp_quota = if is_last {
            n - produced
        } else {
            ((weight / total) * n as f64).round() as usize
        };
        let wp_streets = ((weight / total) * n_streets as f64).round().max(1.0) as usize;
        let wp_streets = wp_streets.min(names);
        let per_street = (wp_quota / wp_streets).max(1);
        let offset = rng.gen_range(0..names);
        let cx = rng.gen_range(20_000.0..280_000.0);
        let cy = rng.gen_range(320_000.0..600_000.0);
        let mut wp_done = 0usize;
        for s in 0..wp_streets {
            if wp_done >= wp_quota || produced >= n {
                break;
            }
            // The first streets of every woonplaats take the same common names (the `Kerkstraat` effect);
            // the rest walk the name space from a random offset (7919 is coprime with its size), so names
            // are unique within a woonplaats.
            let k = if s < COMMON_NAMES {
                s
            } else {
                COMMON_NAMES + (offset + s * 7919) % (names - COMMON_NAMES)
            };
            let (street, short) = street_name(k);
            // Street lengths vary between 0.3x and 1.7x the mean; the last street takes the rest.
            let length = ((per_street as f64) * rng.gen_range(0.3..1.7))
                .round()
                .max(1.0) as usize;
            let quota = if s + 1 == wp_streets {
                wp_quota - wp_done
            } else {
                length.min(wp_quota - wp_done)
            };
            let quota = quota.min(n - produced);
            let mut x = cx + rng.gen_range(-3000.0..3000.0);
            let mut y = cy + rng.gen_range(-3000.0..3000.0);
            let mut number = 0u32;
            let mut in_postcode = POSTCODE_SIZE;
            let mut done = 0usize;
            while done < quota {
                number += 1 + u32::from(rng.gen_bool(0.1));
                if number > 99_999 {
                    break;
                }
                let building = rng.gen_bool(0.15);
                let units: Vec<(u8, u32)> = if building {
                    let k = rng.gen_range(2..=12u32);
                    let letter = if rng.gen_bool(0.2) { b'A' } else { 0 };
                    (1..=k).map(|t| (letter, t)).collect()
                } else if rng.gen_bool(0.05) {
                    vec![(0, 0), (b'A', 0)]
                } else {
                    vec![(0, 0)]
                };
                if in_postcode >= POSTCODE_SIZE {
                    postcode_counter += 1;
                    in_postcode = 0;
                    let digits = 1000 + postcode_counter / 676;
                    let l = postcode_counter % 676;
                    pc_buf.clear();
                    use std::fmt::Write;
                    let _ = write!(
                        pc_buf,
                        "{}{}{}",
                        digits,
                        char::from(b'A' + (l / 26) as u8),
                        char::from(b'A' + (l % 26) as u8)
                    );
                }
                x += rng.gen_range(3.0..12.0);
                y += rng.gen_range(-2.0..2.0);
                for (letter, toev) in units {
                    if done >= quota {
                        break;
                    }
                    bag_seq += 1;
                    bag_buf.clear();
                    use std::fmt::Write;
                    let _ = write!(bag_buf, "{:04}01{:010}", gemeente, bag_seq);
                    toev_buf.clear();
                    if toev > 0 {
                        let _ = write!(toev_buf, "{toev}");
                    }
                    letter_buf[0] = letter;
                    let a = BagAddress {
                        bag_id: &bag_buf,
                        street: &street,
                        street_short: Some(&short),
                        huisnummer: number,
                        huisletter: if letter != 0 {
                            std::str::from_utf8(&letter_buf).ok()
                        } else {
                            None
                        },
                        toevoeging: if toev > 0 { Some(&toev_buf) } else { None },
                        postcode: Some(&pc_buf),
                        woonplaats: &wp_name,
                        x_m: x,
                        y_m: y,
                    };
                    f(&a);
                    done += 1;
                    in_postcode += 1;
                }
            }
            wp_done += done;
            produced += done;
        }
    }
}
