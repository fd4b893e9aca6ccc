//! Repeat victimisation per address: how many incidents hit the same (BAG) address again, and how soon.
//!
//! From incidents that each carry an address id and a day:
//! - per address the number of incidents, its first and last day, and the days to each next incident;
//! - the histogram of addresses by incidents: 1, 2, 3, 4 or more;
//! - `repeats = incidents - distinct addresses` (the incidents after the first at their address) and
//!   `repeat_share = repeats / incidents`;
//! - the time from each incident to the next one at the same address (there are `repeats` such intervals), in
//!   days, binned `0-7`, `8-14`, `15-30`, `31-90`, `91-365`, `> 365`.
//!
//! Every share list comes with whole-percent-tenths that add up to exactly 100.0 (largest remainders), so a
//! table of them adds up; the exact fractions are given as well. Incidents without an address are not passed.
//!
//! ```
//! use brandpunt::analysis::repeat_victims::{repeat_victims, AddressIncident};
//!
//! let incidents = [
//!     AddressIncident { address: "0363200000000001".into(), day: 10 },
//!     AddressIncident { address: "0363200000000001".into(), day: 13 },
//!     AddressIncident { address: "0363200000000002".into(), day: 40 },
//! ];
//! let r = repeat_victims(&incidents);
//! assert_eq!((r.incidents, r.addresses, r.repeats), (3, 2, 1));
//! assert_eq!(r.histogram[1].addresses, 1); // one address hit twice
//! assert_eq!(r.time_to_next[0].count, 1); // after 3 days: the 0-7 bin
//! assert_eq!(r.per_address[0].address, "0363200000000001");
//! ```

use serde::Serialize;
use std::collections::HashMap;

/// One incident at an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressIncident {
    /// The address id (BAG nummeraanduiding).
    pub address: String,
    /// Day number (any origin; only differences count).
    pub day: i64,
}

/// Labels of the address histogram.
pub const HISTOGRAM_LABELS: [&str; 4] = ["1", "2", "3", "4+"];
/// Labels of the time-to-next bins and their upper bounds in days (inclusive; the last is open).
pub const TIME_TO_NEXT_BINS: [(&str, i64); 6] = [
    ("0-7", 7),
    ("8-14", 14),
    ("15-30", 30),
    ("31-90", 90),
    ("91-365", 365),
    ("> 365", i64::MAX),
];

/// A histogram bin: addresses with this many incidents.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistogramBin {
    /// `1`, `2`, `3`, `4+`.
    pub label: &'static str,
    /// Addresses in the bin.
    pub addresses: u64,
    /// Incidents at those addresses.
    pub incidents: u64,
    /// Share of the addresses (fraction).
    pub share: f64,
    /// Percentage of the addresses, one decimal, the bins adding up to 100.0.
    pub percent: f64,
}

/// A time-to-next bin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeBin {
    /// `0-7`, ..., `> 365` days.
    pub label: &'static str,
    /// Intervals to the next incident at the same address in the bin.
    pub count: u64,
    /// Share of the intervals (fraction).
    pub share: f64,
    /// Percentage, one decimal, the bins adding up to 100.0.
    pub percent: f64,
}

/// One address with its incidents.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AddressRepeat {
    /// The address id.
    pub address: String,
    /// Incidents at the address.
    pub incidents: u64,
    /// Day of the first and of the last incident.
    pub first_day: i64,
    pub last_day: i64,
    /// Shortest time to a next incident at the address in days (`None` for one incident).
    pub shortest_gap_days: Option<i64>,
}

/// The repeat victimisation summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RepeatVictims {
    /// Incidents with an address.
    pub incidents: u64,
    /// Distinct addresses.
    pub addresses: u64,
    /// `incidents - addresses`.
    pub repeats: u64,
    /// `repeats / incidents` (0 without incidents).
    pub repeat_share: f64,
    /// Addresses by incidents: 1, 2, 3, 4+.
    pub histogram: Vec<HistogramBin>,
    /// Time to the next incident at the same address.
    pub time_to_next: Vec<TimeBin>,
    /// Every address, most incidents first (ties: the address id).
    pub per_address: Vec<AddressRepeat>,
}

/// Percentages with one decimal that add up to exactly 100.0 (largest remainders; ties to the first); all 0
/// when the total is 0.
pub fn percentages(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return vec![0.0; counts.len()];
    }
    // In tenths of a percent: 1000 units to hand out.
    let exact: Vec<f64> = counts
        .iter()
        .map(|&c| c as f64 * 1000.0 / total as f64)
        .collect();
    let mut units: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let left = 1000 - units.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().take(left as usize) {
        units[i] += 1;
    }
    units.iter().map(|&u| u as f64 / 10.0).collect()
}

/// The repeat victimisation of `incidents` (see the module docs).
pub fn repeat_victims(incidents: &[AddressIncident]) -> RepeatVictims {
    let mut days: HashMap<&str, Vec<i64>> = HashMap::new();
    for i in incidents {
        days.entry(i.address.as_str()).or_default().push(i.day);
    }
    let mut histogram = [(0u64, 0u64); 4];
    let mut gaps = [0u64; TIME_TO_NEXT_BINS.len()];
    let mut per_address = Vec::with_capacity(days.len());
    for (address, mut d) in days {
        d.sort_unstable();
        let n = d.len() as u64;
        let bin = (d.len().min(4)) - 1;
        histogram[bin].0 += 1;
        histogram[bin].1 += n;
        let mut shortest: Option<i64> = None;
        for w in d.windows(2) {
            let gap = w[1] - w[0];
            shortest = Some(shortest.map_or(gap, |s| s.min(gap)));
            let k = TIME_TO_NEXT_BINS
                .iter()
                .position(|&(_, upper)| gap <= upper)
                .unwrap_or(TIME_TO_NEXT_BINS.len() - 1);
            gaps[k] += 1;
        }
        per_address.push(AddressRepeat {
            address: address.to_string(),
            incidents: n,
            first_day: d[0],
            last_day: d[d.len() - 1],
            shortest_gap_days: shortest,
        });
    }
    per_address.sort_by(|a, b| {
        b.incidents
            .cmp(&a.incidents)
            .then(a.address.cmp(&b.address))
    });
    let total = incidents.len() as u64;
    let addresses = per_address.len() as u64;
    let repeats = total - addresses;
    let address_counts: Vec<u64> = histogram.iter().map(|h| h.0).collect();
    let hist_percent = percentages(&address_counts);
    let gap_percent = percentages(&gaps);
    let share = |c: u64, of: u64| if of == 0 { 0.0 } else { c as f64 / of as f64 };
    RepeatVictims {
        incidents: total,
        addresses,
        repeats,
        repeat_share: share(repeats, total),
        histogram: histogram
            .iter()
            .enumerate()
            .map(|(k, &(a, i))| HistogramBin {
                label: HISTOGRAM_LABELS[k],
                addresses: a,
                incidents: i,
                share: share(a, addresses),
                percent: hist_percent[k],
            })
            .collect(),
        time_to_next: gaps
            .iter()
            .enumerate()
            .map(|(k, &c)| TimeBin {
                label: TIME_TO_NEXT_BINS[k].0,
                count: c,
                share: share(c, repeats),
                percent: gap_percent[k],
            })
            .collect(),
        per_address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(address: &str, day: i64) -> AddressIncident {
        AddressIncident {
            address: address.into(),
            day,
        }
    }

    #[test]
    fn counts_histogram_and_intervals() {
        let incidents = [
            at("a", 0),
            at("a", 7),   // 7 days: 0-7
            at("a", 15),  // 8 days: 8-14
            at("a", 400), // 385: > 365
            at("b", 100),
            at("b", 130), // 30: 15-30
            at("c", 5),
            at("d", 1),
            at("d", 1),  // same day: 0-7
            at("d", 92), // 91: 91-365
        ];
        let r = repeat_victims(&incidents);
        assert_eq!((r.incidents, r.addresses, r.repeats), (10, 4, 6));
        assert_eq!(r.repeat_share, 0.6);
        let h: Vec<(u64, u64)> = r
            .histogram
            .iter()
            .map(|b| (b.addresses, b.incidents))
            .collect();
        assert_eq!(h, [(1, 1), (1, 2), (1, 3), (1, 4)]);
        let g: Vec<u64> = r.time_to_next.iter().map(|b| b.count).collect();
        assert_eq!(g, [2, 1, 1, 0, 1, 1]);
        assert_eq!(g.iter().sum::<u64>(), r.repeats);
        assert_eq!(r.per_address[0].address, "a");
        assert_eq!(r.per_address[0].shortest_gap_days, Some(7));
        assert_eq!(r.per_address[3].address, "c");
        assert_eq!(r.per_address[3].shortest_gap_days, None);
        let total: f64 = r.time_to_next.iter().map(|b| b.percent).sum();
        assert!((total - 100.0).abs() < 1e-9);
    }

    #[test]
    fn percentages_add_up_to_a_hundred() {
        for counts in [
            vec![1, 1, 1],
            vec![2, 3, 7, 11, 13, 17],
            vec![1, 0, 0],
            vec![5],
        ] {
            let p = percentages(&counts);
            let units: i64 = p.iter().map(|v| (v * 10.0).round() as i64).sum();
            assert_eq!(units, 1000, "{counts:?}: {p:?}");
        }
        assert_eq!(percentages(&[1, 1, 1]), [33.4, 33.3, 33.3]);
        assert_eq!(percentages(&[0, 0]), [0.0, 0.0]);
    }

    #[test]
    fn no_incidents() {
        let r = repeat_victims(&[]);
        assert_eq!((r.incidents, r.addresses, r.repeats), (0, 0, 0));
        assert_eq!(r.repeat_share, 0.0);
        assert!(r.per_address.is_empty());
    }
}
