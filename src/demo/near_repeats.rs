//! The planted near-repeat burglary pattern and the planted repeat addresses (`GROUND_TRUTH.md`, "Near repeats").
//!
//! In the buurten of the wijken [`AREA_WIJKEN`] (six buurten, about 9 km2), residential burglaries start at
//! [`initiators_per_week`] (2.5 times as many in October-February, as the seasonal burglaries) at random dwellings
//! of the area. After each of them, with probability [`FOLLOW_UP_PROBABILITY`], a follow-up
//! burglary hits another dwelling of the area: at a distance in `(0, 100)` m with probability
//! [`P_FOLLOW_UP_WITHIN_100_M`], else in `[100, 200)` m (when the drawn band holds no dwelling, anywhere in
//! `(0, 200)` m; when that holds none either, the chain ends), and `1..=6` days later with probability
//! [`P_FOLLOW_UP_WITHIN_7_DAYS`], else `7..=13` days later (by the day the time window begins). A follow-up may
//! have its own follow-up, up to [`MAX_CHAIN`] burglaries per chain. Separately, the dwellings of
//! [`REPEAT_VISITS`] are burgled 2-4 times each, weeks apart.
//!
//! Everything is drawn from the caller's own seeded stream after the other events were generated and numbered:
//! the existing incidents keep their values, indices and registration numbers; the planted ones are appended and
//! numbered after the last registration number of their year.

use super::addresses::{Bag, ObjectKind};
use super::incidents::{poisson, Events, Incident, LocMode, Pattern};
use super::layout::Layout;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

/// Names of the wijken of Demostad whose buurten form the area of the pattern.
pub const AREA_WIJKEN: [&str; 2] = ["Weide", "Tuindorp"];
/// Category of the planted burglaries (in the `inbraak` group).
pub const CATEGORY: &str = "1.1.1 Diefstal/inbraak woning";
/// Initiating burglaries per week in the area (both city sizes) in October-February and in the other months: the
/// seasonal burglaries' ratio of 2.5 (`incidents::burglary_per_week`).
pub const INITIATORS_PER_WEEK_PEAK_OFFPEAK: (f64, f64) = (3.75, 1.5);

/// Initiating burglaries per week in `month`.
pub fn initiators_per_week(month: u32) -> f64 {
    if matches!(month, 10 | 11 | 12 | 1 | 2) {
        INITIATORS_PER_WEEK_PEAK_OFFPEAK.0
    } else {
        INITIATORS_PER_WEEK_PEAK_OFFPEAK.1
    }
}
/// Probability that a burglary of the pattern is followed by a near repeat.
pub const FOLLOW_UP_PROBABILITY: f64 = 0.6;
/// Probability that a follow-up lies in `(0, 100)` m of its predecessor (else `[100, 200)` m).
pub const P_FOLLOW_UP_WITHIN_100_M: f64 = 0.75;
/// Probability that a follow-up's window begins `1..=6` days after its predecessor's (else `7..=13` days).
pub const P_FOLLOW_UP_WITHIN_7_DAYS: f64 = 0.75;
/// Most burglaries in one chain (initiator plus follow-ups).
pub const MAX_CHAIN: usize = 6;
/// Burglaries at each planted repeat address.
pub const REPEAT_VISITS: [u32; 4] = [2, 3, 4, 2];

/// One planted follow-up: its predecessor's and its own registration numbers, the distance and the lag.
#[derive(Clone, Debug, Serialize)]
pub struct FollowUp {
    /// Registration number of the predecessor.
    pub after: String,
    /// Registration number of the follow-up.
    pub registration: String,
    /// Distance between the two dwellings, metres.
    pub distance_m: f64,
    /// Days between the days their windows begin.
    pub lag_days: i64,
}

/// One planted repeat address.
#[derive(Clone, Debug, Serialize)]
pub struct RepeatAddress {
    /// BAG verblijfsobject identificatie.
    pub address: String,
    /// Its planted burglaries' registration numbers, chronological.
    pub registrations: Vec<String>,
}

/// What was planted, for the ground truth.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Planted {
    /// Buurtcodes of the area.
    pub area_buurtcodes: Vec<String>,
    /// Burglaries of the near-repeat chains (initiators and follow-ups).
    pub chain_incidents: usize,
    /// Chains (initiators).
    pub chains: usize,
    /// The follow-ups.
    pub follow_ups: Vec<FollowUp>,
    /// The repeat addresses.
    pub repeat_addresses: Vec<RepeatAddress>,
}

fn day_of(inc: &Incident) -> NaiveDate {
    inc.begin.date()
}

/// A burglary window beginning on `day`: 70 % evening 17-20 h + 2-6 h, 30 % working day 08-09 h to 17-18 h.
fn burglary(rng: &mut ChaCha8Rng, day: NaiveDate, pattern: Pattern) -> Incident {
    let at = |m: i64| -> NaiveDateTime { day.and_time(NaiveTime::MIN) + Duration::minutes(m) };
    let (begin, end) = if rng.gen_bool(0.7) {
        let b = at(rng.gen_range(17 * 60..20 * 60));
        (b, b + Duration::minutes(rng.gen_range(120..360)))
    } else {
        (
            at(rng.gen_range(8 * 60..9 * 60)),
            at(rng.gen_range(17 * 60..18 * 60)),
        )
    };
    Incident {
        reg: String::new(),
        category: CATEGORY,
        begin,
        end: Some(end),
        xy_m: None,
        address: None,
        buurt: None,
        loc: if rng.gen_bool(0.25) {
            LocMode::AddressAndRd
        } else {
            LocMode::Address
        },
        pattern,
        registered: day,
        week: 0,
        fake_address: None,
    }
}

/// Plants the pattern into `ev` (already generated and numbered over `weeks` weeks ending `last_day`) with `rng`.
pub fn plant(
    layout: &Layout,
    bag: &Bag,
    weeks: u32,
    last_day: NaiveDate,
    ev: &mut Events,
    rng: &mut ChaCha8Rng,
) -> Planted {
    let first_day = last_day - Duration::days(i64::from(weeks) * 7 - 1);
    let area: Vec<usize> = layout
        .buurten
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            let w = &layout.wijken[b.wijk];
            w.gemeente == 0 && AREA_WIJKEN.contains(&w.naam.as_str())
        })
        .map(|(i, _)| i)
        .collect();
    let mut planted = Planted {
        area_buurtcodes: area
            .iter()
            .map(|&b| layout.buurten[b].code.clone())
            .collect(),
        ..Planted::default()
    };
    let dwellings: Vec<usize> = bag
        .addresses
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            a.kind == ObjectKind::Verblijfsobject
                && a.gebruiksdoel == "woonfunctie"
                && area.contains(&a.buurt)
        })
        .map(|(i, _)| i)
        .collect();
    if dwellings.len() < 2 {
        return planted;
    }
    let distance = |a: usize, b: usize| -> f64 {
        let (p, q) = (&bag.addresses[a], &bag.addresses[b]);
        (p.x_m - q.x_m).hypot(p.y_m - q.y_m)
    };
    let place = |inc: &mut Incident, a: usize| {
        let ad = &bag.addresses[a];
        inc.address = Some(a);
        inc.xy_m = Some((ad.x_m, ad.y_m));
        inc.buurt = Some(ad.buurt);
    };
    // New incidents with the index of their predecessor among them (follow-ups only).
    let mut new: Vec<(Incident, Option<usize>)> = Vec::new();
    // Near-repeat chains.
    for d in 0..(i64::from(weeks) * 7) {
        let day = first_day + Duration::days(d);
        for _ in 0..poisson(rng, initiators_per_week(day.month()) / 7.0) {
            let mut a = dwellings[rng.gen_range(0..dwellings.len())];
            let mut inc = burglary(rng, day, Pattern::NearRepeatBurglary);
            place(&mut inc, a);
            planted.chains += 1;
            new.push((inc, None));
            for _ in 1..MAX_CHAIN {
                if !rng.gen_bool(FOLLOW_UP_PROBABILITY) {
                    break;
                }
                let (lo, hi) = if rng.gen_bool(P_FOLLOW_UP_WITHIN_100_M) {
                    (0.0, 100.0)
                } else {
                    (100.0, 200.0)
                };
                let lag = if rng.gen_bool(P_FOLLOW_UP_WITHIN_7_DAYS) {
                    rng.gen_range(1..=6)
                } else {
                    rng.gen_range(7..=13)
                };
                let within = |lo: f64, hi: f64| -> Vec<usize> {
                    dwellings
                        .iter()
                        .copied()
                        .filter(|&b| {
                            let dist = distance(a, b);
                            dist > lo && dist < hi
                        })
                        .collect()
                };
                // Sparse streets (the small city) may have no dwelling in the drawn band: then any within 200 m.
                let mut near = within(lo, hi);
                if near.is_empty() {
                    near = within(0.0, 200.0);
                }
                let next_day = day_of(&new[new.len() - 1].0) + Duration::days(lag);
                if near.is_empty() || next_day > last_day {
                    break;
                }
                let b = near[rng.gen_range(0..near.len())];
                let mut inc = burglary(rng, next_day, Pattern::NearRepeatBurglary);
                place(&mut inc, b);
                new.push((inc, Some(new.len() - 1)));
                a = b;
            }
        }
    }
    // Repeat addresses: distinct dwellings, visits 7 days to 2 months apart, all inside the period (with a week's
    // margin for the registration).
    let period_days = i64::from(weeks) * 7;
    let mut used: Vec<usize> = Vec::new();
    for &visits in &REPEAT_VISITS {
        let a = loop {
            let a = dwellings[rng.gen_range(0..dwellings.len())];
            if !used.contains(&a) || used.len() >= dwellings.len() {
                break a;
            }
        };
        used.push(a);
        let gap_max = ((period_days - 8) / i64::from(visits)).clamp(8, 60);
        let gaps: Vec<i64> = (1..visits).map(|_| rng.gen_range(7..=gap_max)).collect();
        let span: i64 = gaps.iter().sum();
        let mut day =
            first_day + Duration::days(rng.gen_range(0..=(period_days - 8 - span).max(0)));
        for k in 0..visits as usize {
            if k > 0 {
                day += Duration::days(gaps[k - 1]);
            }
            let mut inc = burglary(rng, day, Pattern::RepeatAddress);
            inc.loc = LocMode::Address;
            place(&mut inc, a);
            new.push((inc, None));
        }
    }
    // Registration: the end of the window plus 0-5 days, as for the other incidents.
    let mut kept: Vec<Option<usize>> = vec![None; new.len()];
    let mut appended: Vec<Incident> = Vec::new();
    for (k, (inc, _)) in new.iter_mut().enumerate() {
        let delay = match rng.gen_range(0..10) {
            0..=6 => 0,
            7 | 8 => 1,
            _ => rng.gen_range(2..6),
        };
        let end = inc.end.unwrap_or(inc.begin).date();
        let registered = if inc.pattern == Pattern::RepeatAddress {
            end
        } else {
            end + Duration::days(delay)
        };
        if registered > last_day || inc.begin.date() < first_day {
            continue;
        }
        inc.registered = registered;
        inc.week = ((registered - first_day).num_days() / 7) as u32;
        kept[k] = Some(appended.len());
        appended.push(inc.clone());
    }
    // Number after the last registration number of each year, in registration order.
    let mut seq: BTreeMap<i32, u32> = BTreeMap::new();
    for inc in &ev.incidents {
        *seq.entry(inc.registered.year()).or_insert(0) += 1;
    }
    let mut order: Vec<usize> = (0..appended.len()).collect();
    order.sort_by_key(|&i| (appended[i].registered, appended[i].begin, i));
    for &i in &order {
        let n = seq.entry(appended[i].registered.year()).or_insert(0);
        *n += 1;
        appended[i].reg = format!(
            "PL0600-{}{:06}",
            appended[i].registered.year(),
            *n * 7 + 100_000
        );
    }
    let reg = |k: usize| kept[k].map(|i| appended[i].reg.clone());
    for (k, (inc, parent)) in new.iter().enumerate() {
        if inc.pattern == Pattern::NearRepeatBurglary && kept[k].is_some() {
            planted.chain_incidents += 1;
        }
        if let (Some(p), Some(r)) = (parent, reg(k)) {
            if let Some(after) = reg(*p) {
                let (a, b) = (new[*p].0.address, inc.address);
                if let (Some(a), Some(b)) = (a, b) {
                    planted.follow_ups.push(FollowUp {
                        after,
                        registration: r,
                        distance_m: (distance(a, b) * 100.0).round() / 100.0,
                        lag_days: (day_of(inc) - day_of(&new[*p].0)).num_days(),
                    });
                }
            }
        }
    }
    let mut k = 0;
    for (n, &visits) in REPEAT_VISITS.iter().enumerate() {
        let first = new
            .iter()
            .enumerate()
            .filter(|(_, (i, _))| i.pattern == Pattern::RepeatAddress)
            .nth(k)
            .map(|(j, _)| j);
        k += visits as usize;
        let Some(first) = first else { continue };
        let a = used[n];
        planted.repeat_addresses.push(RepeatAddress {
            address: bag.addresses[a].id.clone(),
            registrations: (first..first + visits as usize).filter_map(reg).collect(),
        });
    }
    ev.incidents.extend(appended);
    planted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{addresses, incidents, layout};
    use rand::SeedableRng;

    fn city() -> (Layout, Bag) {
        let layout = layout::Layout::build(&mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        let bag = addresses::generate(&layout, 2_500, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
        (layout, bag)
    }

    #[test]
    fn planting_appends_and_keeps_the_other_incidents() {
        let (layout, bag) = city();
        let last = NaiveDate::from_ymd_opt(2024, 9, 29).unwrap();
        let before =
            incidents::generate(&layout, &bag, 10, last, &mut ChaCha8Rng::seed_from_u64(3));
        let mut ev = before.clone();
        let p = plant(
            &layout,
            &bag,
            10,
            last,
            &mut ev,
            &mut ChaCha8Rng::seed_from_u64(4),
        );
        let n = before.incidents.len();
        assert!(ev.incidents.len() > n);
        for (a, b) in before.incidents.iter().zip(&ev.incidents) {
            assert_eq!((&a.reg, a.begin, a.address), (&b.reg, b.begin, b.address));
        }
        // Registration numbers stay unique.
        let regs: std::collections::BTreeSet<&str> =
            ev.incidents.iter().map(|i| i.reg.as_str()).collect();
        assert_eq!(regs.len(), ev.incidents.len());
        // Deterministic.
        let mut again = before.clone();
        let q = plant(
            &layout,
            &bag,
            10,
            last,
            &mut again,
            &mut ChaCha8Rng::seed_from_u64(4),
        );
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::to_value(&q).unwrap()
        );
        // Every planted incident lies in the area, burgles a dwelling and is numbered in its delivery week.
        let first = last - Duration::days(69);
        for inc in &ev.incidents[n..] {
            let b = inc.buurt.unwrap();
            assert!(p.area_buurtcodes.contains(&layout.buurten[b].code));
            assert_eq!(inc.category, CATEGORY);
            assert!(inc.begin.date() >= first && inc.registered <= last);
            assert_eq!(inc.week as i64, (inc.registered - first).num_days() / 7);
        }
        assert_eq!(p.area_buurtcodes.len(), 6);
    }

    #[test]
    fn follow_ups_and_repeat_addresses_keep_their_stated_bounds() {
        let (layout, bag) = city();
        let last = NaiveDate::from_ymd_opt(2024, 9, 29).unwrap();
        let mut ev = Events::default();
        let p = plant(
            &layout,
            &bag,
            104,
            last,
            &mut ev,
            &mut ChaCha8Rng::seed_from_u64(5),
        );
        assert!(p.chains > 100 && !p.follow_ups.is_empty());
        for f in &p.follow_ups {
            assert!(f.distance_m > 0.0 && f.distance_m < 200.0, "{f:?}");
            assert!((1..=13).contains(&f.lag_days), "{f:?}");
        }
        let short = p.follow_ups.iter().filter(|f| f.lag_days < 7).count() as f64;
        let share = short / p.follow_ups.len() as f64;
        // Binomial share around P_FOLLOW_UP_WITHIN_7_DAYS: far outside 5 standard errors would be a bug.
        let se = (0.75 * 0.25 / p.follow_ups.len() as f64).sqrt();
        assert!(
            (share - P_FOLLOW_UP_WITHIN_7_DAYS).abs() < 5.0 * se,
            "{share}"
        );
        assert_eq!(p.repeat_addresses.len(), REPEAT_VISITS.len());
        for (r, &k) in p.repeat_addresses.iter().zip(&REPEAT_VISITS) {
            assert_eq!(r.registrations.len(), k as usize);
            let at: Vec<&Incident> = ev
                .incidents
                .iter()
                .filter(|i| i.pattern == Pattern::RepeatAddress)
                .filter(|i| {
                    i.address.map(|a| bag.addresses[a].id.as_str()) == Some(r.address.as_str())
                })
                .collect();
            assert_eq!(at.len(), k as usize);
        }
    }
}
