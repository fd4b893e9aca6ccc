//! Breakdowns of a phenomenon profile by group (`--by buurt|wijk|year`): does the profile of a phenomenon
//! differ between buurten, wijken or years?
//!
//! One [`Dimension`] is broken down. Per group the profile is computed exactly as the whole area's profile
//! ([`crate::analysis::profile`]): incidents and their share per class, addresses and their share, the
//! over-representation and the relative risk of being affected, in versus outside the class, *within the
//! group*. Groups are formed either
//! - by address ([`Grouping::ByAddress`]): every address belongs to one group (its buurt or wijk), and an
//!   incident to the group of its address; the group's base population is its own addresses; or
//! - by incident ([`Grouping::ByIncident`]): every incident carries its group (e.g. the year its window begins)
//!   and every group has all the addresses as base population (an address is affected in a year when it has an
//!   incident in that year).
//!
//! Two tests of homogeneity across the groups ([`crate::analysis::homogeneity`]) over the known classes
//! (`onbekend` left out), for single-valued dimensions only (an address in several gebruiksdoel classes would
//! be counted twice):
//! - `distribution_test`: do the incidents of every group fall in the classes in the same proportions
//!   (Pearson's chi-square on groups x classes of incidents)? With buurten this also reflects that buurten
//!   differ in their addresses (a buurt of cheap houses has its incidents in cheap houses);
//! - `risk_test`: is the relative risk of the classes the same in every group, given each group's addresses
//!   per class (affected addresses against addresses, log-linear model without interaction)? This is the test
//!   of "over-represented here but not there".
//!
//! Both say how their p-value was found (chi-square, or Monte Carlo for small expected counts).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::homogeneity::{chi_square_homogeneity, risk_homogeneity, Homogeneity};
use super::profile::{
    join, AddressAttrs, Dimension, DimensionProfile, Joined, ProfileError, UNKNOWN,
};

/// What a breakdown groups by, as the command line and the API name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProfileBy {
    /// The buurt of the address (its CBS buurtcode).
    Buurt,
    /// The wijk of the address (from its buurtcode: `BU1999AE01` is in `WK1999AE`).
    Wijk,
    /// The calendar year in which the incident's window begins.
    Year,
}

impl ProfileBy {
    /// `buurt`, `wijk`, `year` (also `jaar`), case-insensitive.
    pub fn parse(text: &str) -> Option<ProfileBy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "buurt" => Some(ProfileBy::Buurt),
            "wijk" => Some(ProfileBy::Wijk),
            "year" | "jaar" => Some(ProfileBy::Year),
            _ => None,
        }
    }

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileBy::Buurt => "buurt",
            ProfileBy::Wijk => "wijk",
            ProfileBy::Year => "year",
        }
    }

    /// The group of an address in buurt `buurtcode` (by buurt or wijk); `None` by year or without a buurt.
    pub fn address_group(self, buurtcode: Option<&str>) -> Option<String> {
        let code = buurtcode?;
        match self {
            ProfileBy::Buurt => Some(code.to_string()),
            ProfileBy::Wijk => code
                .strip_prefix("BU")
                .and_then(|rest| rest.get(..6))
                .map(|w| format!("WK{w}")),
            ProfileBy::Year => None,
        }
    }
}

/// How the groups of a breakdown are formed (see the module docs).
#[derive(Clone, Copy, Debug)]
pub enum Grouping<'a> {
    /// The group of every address (parallel to the addresses; `None`: in no group, left out of the groups).
    ByAddress(&'a [Option<String>]),
    /// The group of every incident (parallel to the incidents).
    ByIncident(&'a [String]),
}

/// The profile of one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupProfile {
    /// Group key: a buurt or wijk code, a year.
    pub group: String,
    /// Incidents of the group at one of its addresses.
    pub incidents: u64,
    /// Addresses of the group's base population.
    pub addresses: u64,
    /// Those with at least one of the group's incidents.
    pub affected_addresses: u64,
    /// The dimension's rows within the group.
    pub rows: Vec<super::profile::ProfileRow>,
}

/// A profile dimension broken down by group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfileBreakdown {
    /// The dimension's name.
    pub dimension: String,
    /// Every class in order (`onbekend` last).
    pub classes: Vec<String>,
    /// The band bounds of a numeric dimension.
    pub bounds: Option<Vec<f64>>,
    /// The whole area's profile of the dimension.
    pub overall: DimensionProfile,
    /// Per group, in key order.
    pub groups: Vec<GroupProfile>,
    /// Incidents per class the same in every group? (see the module docs).
    pub distribution_test: Option<Homogeneity>,
    /// Relative risk per class the same in every group? (see the module docs).
    pub risk_test: Option<Homogeneity>,
    /// Why a test is missing, when one is.
    pub tests_note: Option<String>,
}

/// Break `dimension` of the profile of `incident_address_ids` (one BAG id per incident) against `addresses`
/// down by `grouping` (see the module docs).
pub fn profile_breakdown<S: AsRef<str>>(
    addresses: &[AddressAttrs],
    incident_address_ids: &[S],
    grouping: Grouping<'_>,
    dimension: &Dimension<'_>,
    confidence: f64,
) -> Result<ProfileBreakdown, ProfileError> {
    let all = join(addresses, incident_address_ids);
    let overall = dimension.build(&all, confidence)?;
    // Position of each joined (de-duplicated) address among `addresses`, for its group.
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(addresses.len());
    for (i, a) in addresses.iter().enumerate() {
        first.entry(a.address_id.as_str()).or_insert(i);
    }
    let mut groups: BTreeMap<String, Joined<'_>> = BTreeMap::new();
    match grouping {
        Grouping::ByAddress(address_groups) => {
            for &(attrs, count) in &all.addresses {
                let i = first.get(attrs.address_id.as_str()).copied();
                let Some(Some(g)) = i.and_then(|i| address_groups.get(i)) else {
                    continue;
                };
                let j = groups.entry(g.clone()).or_insert_with(|| Joined {
                    addresses: Vec::new(),
                    total_incidents: 0,
                    matched_incidents: 0,
                    duplicates: 0,
                });
                j.addresses.push((attrs, count));
                j.total_incidents += count;
                j.matched_incidents += count;
            }
        }
        Grouping::ByIncident(incident_groups) => {
            let position: HashMap<&str, usize> = all
                .addresses
                .iter()
                .enumerate()
                .map(|(k, (a, _))| (a.address_id.as_str(), k))
                .collect();
            let mut counts: BTreeMap<&str, (Vec<u64>, u64)> = BTreeMap::new();
            for (id, g) in incident_address_ids.iter().zip(incident_groups) {
                let entry = counts
                    .entry(g.as_str())
                    .or_insert_with(|| (vec![0; all.addresses.len()], 0));
                entry.1 += 1;
                if let Some(&k) = position.get(id.as_ref()) {
                    entry.0[k] += 1;
                }
            }
            for (g, (per_address, total)) in counts {
                let matched = per_address.iter().sum();
                groups.insert(
                    g.to_string(),
                    Joined {
                        addresses: all
                            .addresses
                            .iter()
                            .zip(per_address)
                            .map(|((a, _), n)| (*a, n))
                            .collect(),
                        total_incidents: total,
                        matched_incidents: matched,
                        duplicates: 0,
                    },
                );
            }
        }
    }
    let classes: Vec<String> = overall.rows.iter().map(|r| r.class.clone()).collect();
    let mut out_groups = Vec::with_capacity(groups.len());
    for (g, joined) in &groups {
        let p = dimension.build(joined, confidence)?;
        out_groups.push(GroupProfile {
            group: g.clone(),
            incidents: joined.matched_incidents,
            addresses: joined.addresses.len() as u64,
            affected_addresses: joined.addresses.iter().filter(|(_, n)| *n > 0).count() as u64,
            rows: p.rows,
        });
    }
    let (distribution_test, risk_test, tests_note) = if !dimension.single_valued {
        (
            None,
            None,
            Some(format!(
                "geen toets: een adres kan in meer klassen van '{}' vallen",
                dimension.name
            )),
        )
    } else {
        let known: Vec<&String> = classes.iter().filter(|c| *c != UNKNOWN).collect();
        let cell = |g: &GroupProfile, class: &str, f: fn(&super::profile::ProfileRow) -> u64| {
            g.rows.iter().find(|r| r.class == class).map_or(0, f)
        };
        let table = |f: fn(&super::profile::ProfileRow) -> u64| -> Vec<Vec<u64>> {
            out_groups
                .iter()
                .map(|g| known.iter().map(|c| cell(g, c, f)).collect())
                .collect()
        };
        let incidents = table(|r| r.incidents);
        let affected = table(|r| r.affected_addresses);
        let exposure = table(|r| r.addresses);
        let d = chi_square_homogeneity(&incidents);
        let r = risk_homogeneity(&affected, &exposure);
        let note = (d.is_none() || r.is_none())
            .then(|| "geen toets: minder dan twee groepen of klassen met incidenten".to_string());
        (d, r, note)
    };
    Ok(ProfileBreakdown {
        dimension: dimension.name.clone(),
        classes,
        bounds: dimension.bounds.clone(),
        overall,
        groups: out_groups,
        distribution_test,
        risk_test,
        tests_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(id: &str, year: i32) -> AddressAttrs {
        AddressAttrs {
            address_id: id.into(),
            bouwjaar: Some(year),
            gebruiksdoelen: vec!["woonfunctie".into()],
            oppervlakte_m2: Some(80.0),
        }
    }

    /// Two buurten of 100 old and 100 new houses each; in buurt A the old houses are hit ten times as often
    /// as the new ones, in buurt B equally often.
    fn city() -> (Vec<AddressAttrs>, Vec<Option<String>>, Vec<String>) {
        let mut a = Vec::new();
        let mut g = Vec::new();
        for b in ["A", "B"] {
            for i in 0..100 {
                a.push(addr(&format!("{b}old{i}"), 1930));
                g.push(Some(format!("BU{b}")));
                a.push(addr(&format!("{b}new{i}"), 2015));
                g.push(Some(format!("BU{b}")));
            }
        }
        let mut inc = Vec::new();
        for i in 0..40 {
            inc.push(format!("Aold{i}"));
        }
        for i in 0..4 {
            inc.push(format!("Anew{i}"));
        }
        for i in 0..20 {
            inc.push(format!("Bold{i}"));
            inc.push(format!("Bnew{i}"));
        }
        (a, g, inc)
    }

    #[test]
    fn by_buurt_finds_the_buurt_with_the_over_representation() {
        let (a, g, inc) = city();
        let d = Dimension::standard("bouwjaar").unwrap();
        let b = profile_breakdown(&a, &inc, Grouping::ByAddress(&g), &d, 0.95).unwrap();
        assert_eq!(b.classes, ["<1945", ">=2010"]);
        assert_eq!(b.groups.len(), 2);
        let ga = &b.groups[0];
        assert_eq!(
            (ga.group.as_str(), ga.incidents, ga.addresses),
            ("BUA", 44, 200)
        );
        let rr = ga.rows[0].relative_risk.as_ref().unwrap();
        assert!((rr.rr - 10.0).abs() < 1e-9, "{}", rr.rr);
        let gb = &b.groups[1];
        assert!((gb.rows[0].relative_risk.as_ref().unwrap().rr - 1.0).abs() < 1e-9);
        let risk = b.risk_test.unwrap();
        assert_eq!(risk.df, 1);
        assert!(risk.p_value < 1e-4, "{}", risk.p_value);
        assert!(b.distribution_test.unwrap().p_value < 1e-3);
        // The whole area: 60 of 104 incidents in the old houses.
        assert_eq!(b.overall.rows[0].incidents, 60);
    }

    #[test]
    fn by_year_uses_all_addresses_per_year_and_no_difference_is_not_significant() {
        let (a, _, _) = city();
        // The same pattern in both years: old houses twice as often.
        let mut inc = Vec::new();
        let mut years = Vec::new();
        for y in ["2023", "2024"] {
            for i in 0..30 {
                inc.push(format!("Aold{i}"));
                years.push(y.to_string());
            }
            for i in 0..15 {
                inc.push(format!("Bnew{i}"));
                years.push(y.to_string());
            }
        }
        inc.push("nowhere".into());
        years.push("2024".into());
        let d = Dimension::standard("bouwjaar").unwrap();
        let b = profile_breakdown(&a, &inc, Grouping::ByIncident(&years), &d, 0.95).unwrap();
        assert_eq!(b.groups.len(), 2);
        for g in &b.groups {
            assert_eq!(
                (g.incidents, g.addresses, g.affected_addresses),
                (45, 400, 45)
            );
        }
        let risk = b.risk_test.unwrap();
        assert!(risk.statistic < 1e-9 && risk.p_value > 0.99);
        // Multi-valued dimensions get no test.
        let d = Dimension::standard("gebruiksdoel").unwrap();
        let b = profile_breakdown(&a, &inc, Grouping::ByIncident(&years), &d, 0.95).unwrap();
        assert!(b.risk_test.is_none() && b.tests_note.is_some());
    }
}
