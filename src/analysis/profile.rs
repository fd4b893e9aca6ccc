//! Phenomenon profile (fenomeenanalyse): which kinds of addresses a phenomenon hits, compared with all addresses
//! of the same area.
//!
//! Input: the BAG attributes of every address in the area ([`AddressAttrs`]) and the address ids of the incidents
//! (one entry per incident; an address may occur several times). Per class of an address attribute the profile
//! reports:
//! - `incidents`: incidents at addresses of the class, and `incident_share` = incidents / matched incidents;
//! - `addresses`: addresses of the class, and `address_share` = addresses / all addresses;
//! - `over_representation` = `incident_share / address_share` (incidents counted with multiplicity);
//! - `relative_risk`: the risk that an address of the class is *affected* (has at least one incident) divided by
//!   that risk for the addresses outside the class, `RR = (a / n1) / (c / n0)`, with the Katz log confidence
//!   interval `exp(ln RR +- z * sqrt(1/a - 1/n1 + 1/c - 1/n0))`. The unit is the address, so repeat incidents at
//!   one address do not inflate the evidence. When any of the four cells of the 2x2 table (affected / not
//!   affected x in / outside the class) is zero, 0.5 is added to all four cells (Haldane-Anscombe; note that
//!   statsmodels `Table2x2(shift_zeros=True)` instead replaces only the zero cells) and both the estimate and the
//!   interval come from the corrected table (`zero_cell_corrected = true`). With no addresses inside or outside
//!   the class the RR is `None`.
//!
//! Classes (documented here because analysts read them in reports):
//! - bouwjaar: `<1945`, `1945-1969`, `1970-1989`, `1990-2009`, `>=2010`, and `onbekend` (missing, or outside the
//!   plausible range 1000..=2100, which catches placeholder values);
//! - gebruiksdoel: every function of the address (`woonfunctie`, `winkelfunctie`, ...). BAG `gebruiksdoel` is
//!   multi-valued (`winkelfunctie,woonfunctie`): an address counts in *each* of its functions, so the shares of
//!   this dimension may sum to more than 1 and every class is compared with the addresses that do not have that
//!   function. Values are trimmed and lower-cased; comma-separated values inside one string are split; an
//!   address without a function counts as `onbekend`;
//! - oppervlakte (m2, verblijfsobject floor area): `<50`, `50-74`, `75-99`, `100-149`, `150-249`, `>=250`, and
//!   `onbekend` (missing, zero, negative or not finite).
//!
//! - woz (the WOZ value of the address in EUR, from an imported address-attribute file, `woz_waarde`): the
//!   bands of [`WOZ_BOUNDS_EUR`], lower bound inclusive, upper bound exclusive: `<150.000`,
//!   `150.000-200.000`, `200.000-250.000`, `250.000-300.000`, `300.000-400.000`, `400.000-500.000`,
//!   `500.000-750.000`, `>=750.000`, and `onbekend` (no value, zero, negative or not finite). These follow the
//!   price bands of the CBS/Kadaster house price statistics, with the low end merged below 150.000;
//! - any other imported numeric attribute by name ([`Dimension::attribute`]): bands at given bounds, or at
//!   quantiles of the attribute over the profile's base population (the area's addresses with a value; numpy's
//!   default linear interpolation, equal bounds merged), with `onbekend` for addresses without a value.
//!
//! Incidents at address ids that are not among the area's addresses are counted as `unmatched_incidents` and left
//! out of every share. When an address id occurs twice in the attributes, the first occurrence is used and the
//! duplicate is counted in `duplicate_addresses`.
//!
//! Any other classification (e.g. bouwjaar x woonfunctie, or finer bouwjaar bands such as 1960-1975) goes
//! through [`profile_dimension`] with a custom classifier.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

/// Errors for invalid profile inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// Confidence levels must lie strictly between 0 and 1.
    #[error("confidence level must be in (0, 1), got {0}")]
    InvalidConfidence(f64),
    /// Class bounds that cannot be used (not finite, not increasing, or no quantile count).
    #[error("classes: {0}")]
    InvalidClasses(String),
    /// A 2x2 table with more affected than total addresses.
    #[error("affected count {affected} exceeds the number of addresses {total}")]
    AffectedExceedsTotal {
        /// Affected addresses.
        affected: u64,
        /// All addresses.
        total: u64,
    },
}

/// The BAG attributes of one address (verblijfsobject) used by the profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AddressAttrs {
    /// BAG identifier (16 characters, kept as text).
    pub address_id: String,
    /// Construction year of the building (pand), when known.
    pub bouwjaar: Option<i32>,
    /// Functions (gebruiksdoelen) of the address.
    pub gebruiksdoelen: Vec<String>,
    /// Floor area in m2, when known.
    pub oppervlakte_m2: Option<f64>,
}

/// One BAG address as the profile needs it: its attributes, its buurt and its position (RD metres).
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileAddress {
    pub attrs: AddressAttrs,
    pub buurtcode: Option<String>,
    pub x_m: f64,
    pub y_m: f64,
}

/// What a profile reads besides the incidents: every address, and the incident id -> BAG id of the incidents
/// located at an address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileData {
    pub addresses: Vec<ProfileAddress>,
    pub bag_ids: std::collections::HashMap<i64, String>,
}

/// A relative risk with its Katz log confidence interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelativeRisk {
    /// Risk ratio (from the corrected table when `zero_cell_corrected`).
    pub rr: f64,
    /// Lower confidence limit.
    pub ci_lower: f64,
    /// Upper confidence limit.
    pub ci_upper: f64,
    /// Confidence level, e.g. 0.95.
    pub confidence: f64,
    /// True when 0.5 was added to every cell because one was zero.
    pub zero_cell_corrected: bool,
}

/// Relative risk `(affected_in / n_in) / (affected_out / n_out)` with the Katz log interval and the 0.5
/// zero-cell correction described in the module docs. `None` when `n_in` or `n_out` is 0.
pub fn relative_risk_katz(
    affected_in: u64,
    n_in: u64,
    affected_out: u64,
    n_out: u64,
    confidence: f64,
) -> Result<Option<RelativeRisk>, ProfileError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(ProfileError::InvalidConfidence(confidence));
    }
    for (affected, total) in [(affected_in, n_in), (affected_out, n_out)] {
        if affected > total {
            return Err(ProfileError::AffectedExceedsTotal { affected, total });
        }
    }
    if n_in == 0 || n_out == 0 {
        return Ok(None);
    }
    let cells = [
        affected_in,
        n_in - affected_in,
        affected_out,
        n_out - affected_out,
    ];
    let corrected = cells.contains(&0);
    let shift = if corrected { 0.5 } else { 0.0 };
    let [a, b, c, d] = cells.map(|x| x as f64 + shift);
    let (n1, n0) = (a + b, c + d);
    let rr = (a / n1) / (c / n0);
    let se = (1.0 / a - 1.0 / n1 + 1.0 / c - 1.0 / n0).max(0.0).sqrt();
    let z = Normal::standard().inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
    Ok(Some(RelativeRisk {
        rr,
        ci_lower: rr * (-z * se).exp(),
        ci_upper: rr * (z * se).exp(),
        confidence,
        zero_cell_corrected: corrected,
    }))
}

/// One class of one dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfileRow {
    /// Class label, e.g. `1945-1969`.
    pub class: String,
    /// Incidents at addresses of the class.
    pub incidents: u64,
    /// `incidents / matched incidents`; `None` without matched incidents.
    pub incident_share: Option<f64>,
    /// Addresses of the class with at least one incident.
    pub affected_addresses: u64,
    /// Addresses of the class.
    pub addresses: u64,
    /// `addresses / all addresses`.
    pub address_share: Option<f64>,
    /// `incident_share / address_share`.
    pub over_representation: Option<f64>,
    /// Relative risk of being affected, in versus outside the class.
    pub relative_risk: Option<RelativeRisk>,
}

/// All classes of one dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DimensionProfile {
    /// Dimension name: `bouwjaar`, `gebruiksdoel`, `oppervlakte`, or a custom name.
    pub dimension: String,
    /// Rows in class order (fixed order for banded classes, alphabetical otherwise; `onbekend` last).
    pub rows: Vec<ProfileRow>,
}

/// The phenomenon profile of one area.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhenomenonProfile {
    /// All incidents passed in.
    pub total_incidents: u64,
    /// Incidents at one of the area's addresses.
    pub matched_incidents: u64,
    /// Incidents at unknown address ids.
    pub unmatched_incidents: u64,
    /// Distinct addresses in the area.
    pub addresses: u64,
    /// Addresses with at least one incident.
    pub affected_addresses: u64,
    /// Duplicate address ids ignored.
    pub duplicate_addresses: u64,
    /// The bouwjaar, gebruiksdoel and oppervlakte dimensions.
    pub dimensions: Vec<DimensionProfile>,
}

/// Label used for unknown attribute values.
pub const UNKNOWN: &str = "onbekend";

const BOUWJAAR_CLASSES: [&str; 6] = [
    "<1945",
    "1945-1969",
    "1970-1989",
    "1990-2009",
    ">=2010",
    UNKNOWN,
];
const OPPERVLAKTE_CLASSES: [&str; 7] = [
    "<50", "50-74", "75-99", "100-149", "150-249", ">=250", UNKNOWN,
];

/// Bouwjaar class of a construction year (see the module docs).
pub fn bouwjaar_class(bouwjaar: Option<i32>) -> &'static str {
    match bouwjaar {
        Some(y) if !(1000..=2100).contains(&y) => UNKNOWN,
        Some(y) if y < 1945 => "<1945",
        Some(y) if y < 1970 => "1945-1969",
        Some(y) if y < 1990 => "1970-1989",
        Some(y) if y < 2010 => "1990-2009",
        Some(_) => ">=2010",
        None => UNKNOWN,
    }
}

/// Oppervlakte class of a floor area in m2 (see the module docs).
pub fn oppervlakte_class(oppervlakte_m2: Option<f64>) -> &'static str {
    match oppervlakte_m2 {
        Some(a) if !a.is_finite() || a <= 0.0 => UNKNOWN,
        Some(a) if a < 50.0 => "<50",
        Some(a) if a < 75.0 => "50-74",
        Some(a) if a < 100.0 => "75-99",
        Some(a) if a < 150.0 => "100-149",
        Some(a) if a < 250.0 => "150-249",
        Some(_) => ">=250",
        None => UNKNOWN,
    }
}

/// Normalised, de-duplicated gebruiksdoel classes of an address (see the module docs).
pub fn gebruiksdoel_classes(gebruiksdoelen: &[String]) -> Vec<String> {
    let mut out: Vec<String> = gebruiksdoelen
        .iter()
        .flat_map(|g| g.split(','))
        .map(|g| g.trim().to_lowercase())
        .filter(|g| !g.is_empty())
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(UNKNOWN.to_string());
    }
    out
}

/// Addresses (first occurrence per id) with their incident counts, plus bookkeeping.
pub(crate) struct Joined<'a> {
    pub(crate) addresses: Vec<(&'a AddressAttrs, u64)>,
    pub(crate) total_incidents: u64,
    pub(crate) matched_incidents: u64,
    pub(crate) duplicates: u64,
}

pub(crate) fn join<'a, S: AsRef<str>>(
    addresses: &'a [AddressAttrs],
    incident_address_ids: &[S],
) -> Joined<'a> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(addresses.len());
    let mut unique: Vec<(&AddressAttrs, u64)> = Vec::with_capacity(addresses.len());
    let mut duplicates = 0;
    for a in addresses {
        if index.contains_key(a.address_id.as_str()) {
            duplicates += 1;
        } else {
            index.insert(a.address_id.as_str(), unique.len());
            unique.push((a, 0));
        }
    }
    let mut matched = 0;
    for id in incident_address_ids {
        if let Some(&i) = index.get(id.as_ref()) {
            unique[i].1 += 1;
            matched += 1;
        }
    }
    Joined {
        addresses: unique,
        total_incidents: incident_address_ids.len() as u64,
        matched_incidents: matched,
        duplicates,
    }
}

#[derive(Default)]
struct ClassTally {
    incidents: u64,
    affected: u64,
    addresses: u64,
}

pub(crate) fn build_dimension(
    name: &str,
    joined: &Joined<'_>,
    classify: &dyn Fn(&AddressAttrs) -> Vec<String>,
    order: Option<&[&str]>,
    confidence: f64,
) -> Result<DimensionProfile, ProfileError> {
    let mut tallies: BTreeMap<String, ClassTally> = BTreeMap::new();
    for (attrs, incidents) in &joined.addresses {
        let mut classes = classify(attrs);
        classes.sort();
        classes.dedup();
        for class in classes {
            let t = tallies.entry(class).or_default();
            t.addresses += 1;
            t.incidents += incidents;
            t.affected += u64::from(*incidents > 0);
        }
    }
    let n_addresses = joined.addresses.len() as u64;
    let n_affected = joined.addresses.iter().filter(|(_, n)| *n > 0).count() as u64;
    let mut keys: Vec<String> = tallies.keys().cloned().collect();
    let position = |k: &str| -> (usize, bool) {
        let fixed = order
            .and_then(|o| o.iter().position(|c| *c == k))
            .unwrap_or(usize::MAX);
        (fixed, k == UNKNOWN)
    };
    keys.sort_by(|a, b| {
        let (pa, ua) = position(a);
        let (pb, ub) = position(b);
        ua.cmp(&ub).then(pa.cmp(&pb)).then(a.cmp(b))
    });
    let mut rows = Vec::with_capacity(keys.len());
    for class in keys {
        let Some(t) = tallies.get(&class) else {
            continue;
        };
        let incident_share = (joined.matched_incidents > 0)
            .then(|| t.incidents as f64 / joined.matched_incidents as f64);
        let address_share = (n_addresses > 0).then(|| t.addresses as f64 / n_addresses as f64);
        let over_representation = match (incident_share, address_share) {
            (Some(i), Some(a)) if a > 0.0 => Some(i / a),
            _ => None,
        };
        let relative_risk = relative_risk_katz(
            t.affected,
            t.addresses,
            n_affected - t.affected,
            n_addresses - t.addresses,
            confidence,
        )?;
        rows.push(ProfileRow {
            class,
            incidents: t.incidents,
            incident_share,
            affected_addresses: t.affected,
            addresses: t.addresses,
            address_share,
            over_representation,
            relative_risk,
        });
    }
    Ok(DimensionProfile {
        dimension: name.to_string(),
        rows,
    })
}

/// One custom dimension: `classify` returns the classes of an address (several for a multi-valued attribute;
/// duplicates are ignored). Rows are ordered alphabetically with `onbekend` last.
pub fn profile_dimension<S: AsRef<str>>(
    addresses: &[AddressAttrs],
    incident_address_ids: &[S],
    name: &str,
    classify: &dyn Fn(&AddressAttrs) -> Vec<String>,
    confidence: f64,
) -> Result<DimensionProfile, ProfileError> {
    let joined = join(addresses, incident_address_ids);
    build_dimension(name, &joined, classify, None, confidence)
}

/// The standard profile: bouwjaar, gebruiksdoel and oppervlakte classes (see the module docs).
pub fn phenomenon_profile<S: AsRef<str>>(
    addresses: &[AddressAttrs],
    incident_address_ids: &[S],
    confidence: f64,
) -> Result<PhenomenonProfile, ProfileError> {
    phenomenon_profile_with(addresses, incident_address_ids, &[], confidence)
}

/// The standard profile followed by the dimensions `extra` (e.g. [`Dimension::woz`]).
pub fn phenomenon_profile_with<S: AsRef<str>>(
    addresses: &[AddressAttrs],
    incident_address_ids: &[S],
    extra: &[Dimension<'_>],
    confidence: f64,
) -> Result<PhenomenonProfile, ProfileError> {
    let joined = join(addresses, incident_address_ids);
    let mut dimensions = Vec::with_capacity(3 + extra.len());
    for name in STANDARD_DIMENSIONS {
        if let Some(d) = Dimension::standard(name) {
            dimensions.push(d.build(&joined, confidence)?);
        }
    }
    for d in extra {
        dimensions.push(d.build(&joined, confidence)?);
    }
    Ok(PhenomenonProfile {
        total_incidents: joined.total_incidents,
        matched_incidents: joined.matched_incidents,
        unmatched_incidents: joined.total_incidents - joined.matched_incidents,
        addresses: joined.addresses.len() as u64,
        affected_addresses: joined.addresses.iter().filter(|(_, n)| *n > 0).count() as u64,
        duplicate_addresses: joined.duplicates,
        dimensions,
    })
}

/// One dimension alone (see [`Dimension`]).
pub fn dimension_profile<S: AsRef<str>>(
    addresses: &[AddressAttrs],
    incident_address_ids: &[S],
    dimension: &Dimension<'_>,
    confidence: f64,
) -> Result<DimensionProfile, ProfileError> {
    dimension.build(&join(addresses, incident_address_ids), confidence)
}

/// The dimensions of the standard profile, in order.
pub const STANDARD_DIMENSIONS: [&str; 3] = ["bouwjaar", "gebruiksdoel", "oppervlakte"];

/// WOZ value class bounds in EUR (see the module docs): a value `v` is in the class `[b_i, b_(i+1))`.
pub const WOZ_BOUNDS_EUR: [f64; 7] = [
    150_000.0, 200_000.0, 250_000.0, 300_000.0, 400_000.0, 500_000.0, 750_000.0,
];

/// The attribute name of the WOZ value in an address-attribute import.
pub const WOZ_ATTRIBUTE: &str = "woz_waarde";

/// How the classes of a numeric attribute are formed.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassSpec {
    /// `n` classes at the quantiles of the base population (2..=20).
    Quantiles(u32),
    /// Given increasing, finite bounds: `<b1`, `b1-b2`, ..., `>=bk`.
    Bounds(Vec<f64>),
}

impl ClassSpec {
    /// Parse `quantiles:N` (also `kwantielen:N`) or comma-separated bounds (`100000,250000`; a decimal point,
    /// no thousands separators). The error says what is wrong.
    pub fn parse(text: &str) -> Result<ClassSpec, ProfileError> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        if let Some(n) = lower
            .strip_prefix("quantiles:")
            .or_else(|| lower.strip_prefix("kwantielen:"))
        {
            return match n.trim().parse::<u32>() {
                Ok(n) if (2..=20).contains(&n) => Ok(ClassSpec::Quantiles(n)),
                _ => Err(ProfileError::InvalidClasses(format!(
                    "'{t}': het aantal kwantielen moet 2 tot en met 20 zijn"
                ))),
            };
        }
        let mut bounds = Vec::new();
        for part in t.split(',') {
            let v: f64 = part.trim().parse().map_err(|_| {
                ProfileError::InvalidClasses(format!(
                    "'{}' is geen getal (grenzen als 100000,250000 of quantiles:5)",
                    part.trim()
                ))
            })?;
            bounds.push(v);
        }
        check_bounds(&bounds)?;
        Ok(ClassSpec::Bounds(bounds))
    }
}

fn check_bounds(bounds: &[f64]) -> Result<(), ProfileError> {
    if bounds.is_empty() || bounds.len() > 50 {
        return Err(ProfileError::InvalidClasses(
            "1 tot 50 grenzen nodig".to_string(),
        ));
    }
    if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ProfileError::InvalidClasses(format!(
            "grenzen moeten eindig en oplopend zijn: {bounds:?}"
        )));
    }
    Ok(())
}

/// Quantile bounds of `values` at `k / n` for `k = 1..n` (numpy's default linear interpolation), equal bounds
/// merged; empty without values.
pub fn quantile_bounds(values: &[f64], n: u32) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() || n < 2 {
        return Vec::new();
    }
    v.sort_by(f64::total_cmp);
    let last = (v.len() - 1) as f64;
    let mut out: Vec<f64> = (1..n)
        .map(|k| {
            let h = last * f64::from(k) / f64::from(n);
            let (lo, frac) = (h.floor() as usize, h - h.floor());
            let hi = (lo + 1).min(v.len() - 1);
            v[lo] + frac * (v[hi] - v[lo])
        })
        .collect();
    out.dedup_by(|a, b| a == b);
    out
}

/// A bound as analysts read it: integers with Dutch thousands dots (`150.000`), other values with a decimal
/// comma.
pub fn format_bound(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let digits = format!("{}", v.abs() as u64);
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push('.');
            }
            out.push(ch);
        }
        if v < 0.0 {
            out.insert(0, '-');
        }
        out
    } else {
        format!("{v}").replace('.', ",")
    }
}

/// Class labels of bands at `bounds` (lower bound inclusive): `<b1`, `b1-b2`, ..., `>=bk`.
pub fn band_labels(bounds: &[f64]) -> Vec<String> {
    let mut labels = Vec::with_capacity(bounds.len() + 1);
    if let Some(first) = bounds.first() {
        labels.push(format!("<{}", format_bound(*first)));
    }
    for w in bounds.windows(2) {
        labels.push(format!("{}-{}", format_bound(w[0]), format_bound(w[1])));
    }
    if let Some(last) = bounds.last() {
        labels.push(format!(">={}", format_bound(*last)));
    }
    labels
}

type Classify<'a> = Box<dyn Fn(&AddressAttrs) -> Vec<String> + Send + Sync + 'a>;

/// One profile dimension: its name, how an address is classified and the class order.
pub struct Dimension<'a> {
    /// `bouwjaar`, `gebruiksdoel`, `oppervlakte`, `woz` or an attribute name.
    pub name: String,
    classify: Classify<'a>,
    /// Class order (`onbekend` last); empty = alphabetical.
    pub order: Vec<String>,
    /// False when an address may be in several classes (gebruiksdoel): then the shares may sum to more than 1
    /// and a breakdown's homogeneity tests are not computed.
    pub single_valued: bool,
    /// The band bounds of a numeric dimension.
    pub bounds: Option<Vec<f64>>,
}

impl std::fmt::Debug for Dimension<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dimension")
            .field("name", &self.name)
            .field("order", &self.order)
            .field("bounds", &self.bounds)
            .finish()
    }
}

impl<'a> Dimension<'a> {
    /// A dimension of the standard profile by name (`bouwjaar`, `gebruiksdoel`, `oppervlakte`).
    pub fn standard(name: &str) -> Option<Dimension<'static>> {
        let owned = |c: &[&str]| c.iter().map(|s| s.to_string()).collect();
        match name {
            "bouwjaar" => Some(Dimension {
                name: name.into(),
                classify: Box::new(|a| vec![bouwjaar_class(a.bouwjaar).to_string()]),
                order: owned(&BOUWJAAR_CLASSES),
                single_valued: true,
                bounds: None,
            }),
            "gebruiksdoel" => Some(Dimension {
                name: name.into(),
                classify: Box::new(|a| gebruiksdoel_classes(&a.gebruiksdoelen)),
                order: Vec::new(),
                single_valued: false,
                bounds: None,
            }),
            "oppervlakte" => Some(Dimension {
                name: name.into(),
                classify: Box::new(|a| vec![oppervlakte_class(a.oppervlakte_m2).to_string()]),
                order: owned(&OPPERVLAKTE_CLASSES),
                single_valued: true,
                bounds: None,
            }),
            _ => None,
        }
    }

    /// The WOZ classes ([`WOZ_BOUNDS_EUR`]) of the values `woz_eur` (BAG id -> WOZ value in EUR); a value that is
    /// not positive and finite is `onbekend`.
    pub fn woz(woz_eur: &'a HashMap<String, f64>) -> Dimension<'a> {
        Dimension::banded("woz", woz_eur, WOZ_BOUNDS_EUR.to_vec(), true)
    }

    /// A numeric attribute `name` with values `values` (BAG id -> value), in the classes of `spec`; quantiles
    /// are taken over the values of `base` (the profile's addresses). Addresses without a value are `onbekend`.
    pub fn attribute(
        name: &str,
        values: &'a HashMap<String, f64>,
        spec: &ClassSpec,
        base: &[AddressAttrs],
    ) -> Result<Dimension<'a>, ProfileError> {
        let bounds = match spec {
            ClassSpec::Bounds(b) => {
                check_bounds(b)?;
                b.clone()
            }
            ClassSpec::Quantiles(n) => {
                let in_base: Vec<f64> = base
                    .iter()
                    .filter_map(|a| values.get(&a.address_id).copied())
                    .collect();
                quantile_bounds(&in_base, *n)
            }
        };
        Ok(Dimension::banded(name, values, bounds, false))
    }

    fn banded(
        name: &str,
        values: &'a HashMap<String, f64>,
        bounds: Vec<f64>,
        positive_only: bool,
    ) -> Dimension<'a> {
        let labels = band_labels(&bounds);
        let mut order = labels.clone();
        order.push(UNKNOWN.to_string());
        let b = bounds.clone();
        Dimension {
            name: name.to_string(),
            classify: Box::new(move |a| {
                let class = match values.get(&a.address_id) {
                    Some(v) if v.is_finite() && (!positive_only || *v > 0.0) => {
                        if labels.is_empty() {
                            // No bounds (no values in the base): one class of everything known.
                            "alle".to_string()
                        } else {
                            labels[b.partition_point(|x| x <= v)].clone()
                        }
                    }
                    _ => UNKNOWN.to_string(),
                };
                vec![class]
            }),
            order,
            single_valued: true,
            bounds: Some(bounds),
        }
    }

    /// The classes of address `a`.
    pub fn classify(&self, a: &AddressAttrs) -> Vec<String> {
        (self.classify)(a)
    }

    pub(crate) fn build(
        &self,
        joined: &Joined<'_>,
        confidence: f64,
    ) -> Result<DimensionProfile, ProfileError> {
        let order: Vec<&str> = self.order.iter().map(String::as_str).collect();
        build_dimension(
            &self.name,
            joined,
            &*self.classify,
            (!order.is_empty()).then_some(order.as_slice()),
            confidence,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn katz_closed_form() {
        // RR = (30/400)/(20/3600) = 13.5; se^2 = 1/30 - 1/400 + 1/20 - 1/3600.
        let r = relative_risk_katz(30, 400, 20, 3600, 0.95)
            .unwrap()
            .unwrap();
        assert!((r.rr - 13.5).abs() < 1e-12);
        let se = (1.0_f64 / 30.0 - 1.0 / 400.0 + 1.0 / 20.0 - 1.0 / 3600.0).sqrt();
        let z = 1.959_963_984_540_054_f64;
        assert!((r.ci_lower - 13.5 * (-z * se).exp()).abs() < 1e-9);
        assert!((r.ci_upper - 13.5 * (z * se).exp()).abs() < 1e-9);
        assert!(!r.zero_cell_corrected);
        // Zero cell: (0 + .5)/(10 + 1) over (5 + .5)/(20 + 1).
        let r = relative_risk_katz(0, 10, 5, 20, 0.95).unwrap().unwrap();
        assert!(r.zero_cell_corrected);
        assert!((r.rr - (0.5 / 11.0) / (5.5 / 21.0)).abs() < 1e-12);
        assert_eq!(relative_risk_katz(1, 1, 0, 0, 0.95).unwrap(), None);
        assert!(relative_risk_katz(2, 1, 0, 3, 0.95).is_err());
        assert!(relative_risk_katz(1, 1, 0, 3, 1.5).is_err());
    }

    #[test]
    fn classes() {
        assert_eq!(bouwjaar_class(Some(1944)), "<1945");
        assert_eq!(bouwjaar_class(Some(1945)), "1945-1969");
        assert_eq!(bouwjaar_class(Some(1989)), "1970-1989");
        assert_eq!(bouwjaar_class(Some(2009)), "1990-2009");
        assert_eq!(bouwjaar_class(Some(2010)), ">=2010");
        assert_eq!(bouwjaar_class(Some(9999)), UNKNOWN);
        assert_eq!(bouwjaar_class(None), UNKNOWN);
        assert_eq!(oppervlakte_class(Some(49.9)), "<50");
        assert_eq!(oppervlakte_class(Some(75.0)), "75-99");
        assert_eq!(oppervlakte_class(Some(250.0)), ">=250");
        assert_eq!(oppervlakte_class(Some(0.0)), UNKNOWN);
        assert_eq!(
            gebruiksdoel_classes(&[" Winkelfunctie,woonfunctie".into(), "woonfunctie".into()]),
            vec!["winkelfunctie", "woonfunctie"]
        );
        assert_eq!(gebruiksdoel_classes(&[]), vec![UNKNOWN]);
    }

    fn addr(id: &str, year: i32, doel: &str, opp: f64) -> AddressAttrs {
        AddressAttrs {
            address_id: id.into(),
            bouwjaar: Some(year),
            gebruiksdoelen: vec![doel.into()],
            oppervlakte_m2: Some(opp),
        }
    }

    #[test]
    fn profile_counts_shares_and_multi_valued_functions() {
        // 10 addresses: 4 built in the 1960s (one is a shop with a dwelling above), 6 after 2010.
        let mut a = vec![
            addr("A1", 1962, "woonfunctie", 80.0),
            addr("A2", 1965, "woonfunctie", 80.0),
            addr("A3", 1968, "winkelfunctie,woonfunctie", 120.0),
            addr("A4", 1969, "woonfunctie", 60.0),
        ];
        for i in 0..6 {
            a.push(addr(&format!("B{i}"), 2015, "woonfunctie", 100.0));
        }
        a.push(addr("A1", 1900, "industriefunctie", 10.0)); // duplicate id: ignored
        let incidents = ["A1", "A1", "A3", "B0", "ZZ"];
        let p = phenomenon_profile(&a, &incidents, 0.95).unwrap();
        assert_eq!(p.total_incidents, 5);
        assert_eq!(p.matched_incidents, 4);
        assert_eq!(p.unmatched_incidents, 1);
        assert_eq!(p.addresses, 10);
        assert_eq!(p.affected_addresses, 3);
        assert_eq!(p.duplicate_addresses, 1);
        let bj = &p.dimensions[0];
        assert_eq!(bj.dimension, "bouwjaar");
        let labels: Vec<&str> = bj.rows.iter().map(|r| r.class.as_str()).collect();
        assert_eq!(labels, ["1945-1969", ">=2010"]);
        let r60 = &bj.rows[0];
        assert_eq!(
            (r60.incidents, r60.affected_addresses, r60.addresses),
            (3, 2, 4)
        );
        assert_eq!(r60.incident_share, Some(0.75));
        assert_eq!(r60.address_share, Some(0.4));
        assert!((r60.over_representation.unwrap() - 1.875).abs() < 1e-12);
        // RR = (2/4)/(1/6) = 3, no zero cell.
        let rr = r60.relative_risk.as_ref().unwrap();
        assert!((rr.rr - 3.0).abs() < 1e-12 && !rr.zero_cell_corrected);
        // gebruiksdoel: A3 counts as both winkel- and woonfunctie; shares sum to more than 1.
        let gd = &p.dimensions[1];
        let labels: Vec<&str> = gd.rows.iter().map(|r| r.class.as_str()).collect();
        assert_eq!(labels, ["winkelfunctie", "woonfunctie"]);
        assert_eq!((gd.rows[0].incidents, gd.rows[0].addresses), (1, 1));
        assert_eq!((gd.rows[1].incidents, gd.rows[1].addresses), (4, 10));
        // Every address has woonfunctie: nothing outside the class, so no RR.
        assert_eq!(gd.rows[1].relative_risk, None);
        let op = &p.dimensions[2];
        let labels: Vec<&str> = op.rows.iter().map(|r| r.class.as_str()).collect();
        assert_eq!(labels, ["50-74", "75-99", "100-149"]);
        assert!(serde_json::to_string(&p).is_ok());
        // A custom cross-classification.
        let d = profile_dimension(
            &a,
            &incidents,
            "bouwjaar_1960_1975_woning",
            &|x| {
                let woning =
                    gebruiksdoel_classes(&x.gebruiksdoelen).contains(&"woonfunctie".into());
                let era = x.bouwjaar.is_some_and(|y| (1960..=1975).contains(&y));
                vec![if era && woning { "ja" } else { "nee" }.to_string()]
            },
            0.95,
        )
        .unwrap();
        assert_eq!(d.rows[0].class, "ja");
        assert_eq!(d.rows[0].addresses, 4);
    }

    #[test]
    fn woz_and_attribute_classes() {
        assert_eq!(format_bound(150_000.0), "150.000");
        assert_eq!(format_bound(1_250_000.0), "1.250.000");
        assert_eq!(format_bound(12.5), "12,5");
        assert_eq!(
            band_labels(&WOZ_BOUNDS_EUR)[..3],
            ["<150.000", "150.000-200.000", "200.000-250.000"]
        );
        let values: HashMap<String, f64> = [
            ("A1", 149_999.0),
            ("A2", 150_000.0),
            ("A3", 800_000.0),
            ("A4", 0.0),
            ("A5", f64::NAN),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let woz = Dimension::woz(&values);
        let class = |id: &str| woz.classify(&addr(id, 2000, "woonfunctie", 80.0))[0].clone();
        assert_eq!(class("A1"), "<150.000");
        assert_eq!(class("A2"), "150.000-200.000");
        assert_eq!(class("A3"), ">=750.000");
        assert_eq!(class("A4"), UNKNOWN);
        assert_eq!(class("A5"), UNKNOWN);
        assert_eq!(class("ZZ"), UNKNOWN);
        assert_eq!(woz.order.last().map(String::as_str), Some(UNKNOWN));
        // numpy.quantile([1, 2, 3, 4, 10], [0.25, 0.5, 0.75]) = [2, 3, 4].
        assert_eq!(
            quantile_bounds(&[10.0, 1.0, 2.0, 3.0, 4.0], 4),
            [2.0, 3.0, 4.0]
        );
        assert_eq!(quantile_bounds(&[5.0, 5.0, 5.0], 3), [5.0]);
        assert_eq!(
            ClassSpec::parse("quantiles:4").unwrap(),
            ClassSpec::Quantiles(4)
        );
        assert_eq!(
            ClassSpec::parse("100, 250.5").unwrap(),
            ClassSpec::Bounds(vec![100.0, 250.5])
        );
        assert!(ClassSpec::parse("quantiles:1").is_err());
        assert!(ClassSpec::parse("300,200").is_err());
        assert!(ClassSpec::parse("1.000,x").is_err());
        let base: Vec<AddressAttrs> = ["A1", "A2", "A3"]
            .iter()
            .map(|id| addr(id, 2000, "woonfunctie", 80.0))
            .collect();
        let d =
            Dimension::attribute("woz_waarde", &values, &ClassSpec::Quantiles(2), &base).unwrap();
        assert_eq!(d.bounds, Some(vec![150_000.0]));
        let p = dimension_profile(&base, &["A1", "A1", "A3"], &d, 0.95).unwrap();
        let rows: Vec<(&str, u64, u64)> = p
            .rows
            .iter()
            .map(|r| (r.class.as_str(), r.incidents, r.addresses))
            .collect();
        assert_eq!(rows, [("<150.000", 2, 1), (">=150.000", 1, 2)]);
        let full =
            phenomenon_profile_with(&base, &["A1"], &[Dimension::woz(&values)], 0.95).unwrap();
        assert_eq!(full.dimensions.len(), 4);
        assert_eq!(full.dimensions[3].dimension, "woz");
    }
}
