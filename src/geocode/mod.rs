//! In-memory BAG address index and geocoder (pure: plain data in, plain data out).
//!
//! # What it does
//! The importer streams BAG addressable objects (`verblijfsobject`, `ligplaats`, `standplaats`) into a
//! [`GeocodeIndexBuilder`]; [`GeocodeIndexBuilder::finish`] produces a read-only [`GeocodeIndex`] that
//! resolves police addresses (structured fields through [`GeocodeIndex::geocode`], one-line text through
//! [`GeocodeIndex::geocode_free_text`]) to one BAG object and its RD New point (metres).
//!
//! The guiding rule is *never silently wrong*: when the query fits several objects the result is
//! [`MatchKind::Ambiguous`] with the candidates, not a guess.
//!
//! # Matching rules
//! 1. **Postcode + house number.** When the query has a valid postcode and an object with that postcode and
//!    huisnummer exists, the letter/toevoeging select the unit. A street given alongside must *roughly
//!    agree* with the object's street (same normalised key, a small typo, or one key a prefix of the other);
//!    then the postcode result is used. When the postcode is shared by several streets that all have the
//!    number, only the streets that agree best are kept (an exact street beats a prefix or typo neighbour),
//!    and without a street the result is `Ambiguous`. When the street clearly contradicts the postcode, the street route
//!    (step 2, without the postcode) is tried as well and the result is `Ambiguous` with the candidates of
//!    both routes (conflicting evidence is not resolved by guessing). A woonplaats that disagrees with the
//!    postcode's woonplaats lowers the score by 0.05 (people often write the gemeente instead of the
//!    woonplaats) and caps the kind at `Normalized`.
//! 2. **Street + house number (+ woonplaats).** Street names are compared by their normalised key
//!    ([`normalize_street`]: case, punctuation, diacritics, abbreviations such as `Burg v Veenln`), against
//!    both the BAG name and the NEN 5825 short name; woonplaatsen by [`normalize_woonplaats`] (with synonyms
//!    such as `Den Bosch` = `'s-Hertogenbosch`). The area is the given woonplaats, or else the woonplaatsen
//!    of the given postcode, or else the whole index. A street found in several woonplaatsen with the number
//!    in more than one of them is `Ambiguous`. Woonplaatsen are identified by name: two woonplaatsen
//!    with the same name act as one area, so an address present in both is `Ambiguous`, never merged. When the postcode was valid but did not contain the number, a
//!    unique street match is still accepted with a score penalty of 0.1 (kind at most `Normalized`) when its
//!    postcode differs.
//! 3. **Typos.** When no street key matches, a Damerau-Levenshtein search (optimal string alignment) runs
//!    over the streets of the area only (never over the whole country): the best street is accepted when its
//!    distance is within 1 (names of 5-8 characters), 2 (9-15) or 3 (16+), and every other street name in
//!    the area is strictly further away. An unknown woonplaats is resolved the same way among all
//!    woonplaatsen; when it stays unknown the result is `None` (an address in a woonplaats that is not in
//!    the index is never moved to another woonplaats).
//! 4. **Units.** Huisletter and toevoeging compare case-insensitively. When the parsed designation finds
//!    nothing, the other reading is tried (`12-A` as toevoeging `A` instead of letter `A`, `12AB` as letter
//!    `A` + toevoeging `B`). When the query lacks a toevoeging (or letter) that the objects at that number
//!    have, or names a unit that does not exist, the result is [`MatchKind::Partial`]: `address` is `None`
//!    and `candidates` are the units of the building (the objects at that number, restricted to the query's
//!    letter when any have it). Callers that only need the building location can use any candidate's point.
//!
//! # Score scale ([`GeocodeMatch::score`], 0..=1, confidence that `address` is the intended object)
//! - `Exact` 1.0: every given component equals the BAG value up to letter case and whitespace (postcode
//!   spacing and case included).
//! - `Normalized` 0.95: matched after normalisation (abbreviation, diacritics, punctuation, short name,
//!   woonplaats synonym); 0.9 when the letter/toevoeging needed the alternative reading; minus 0.05 / 0.1 for
//!   the woonplaats / postcode disagreements described above.
//! - `Fuzzy` `0.85 * (1 - d / len)` for a typo of edit distance `d` in a name of `len` characters (0.8 for a
//!   prefix agreement), so roughly 0.6..0.85.
//! - `Partial` 0.5 when only the toevoeging/letter is missing, 0.4 when the given unit does not exist (capped
//!   by the name quality). `Ambiguous` and `None` have score 0.0 (no address is returned).
//!
//! # Memory layout
//! One 40-byte record per address (bag_id as `u64`, point as two `f64`, street segment id, huisnummer and
//! letter packed in one `u32`, interned toevoeging id, postcode packed in a `u32`), sorted by
//! (woonplaats+street segment, number, letter, toevoeging) so that a street is a contiguous range searched by
//! binary search. Postcodes have a sorted table of distinct packed postcodes pointing into a permutation of
//! record ids, and a dense `u32` huisnummer column speeds up the binary searches. Street, short-street,
//! woonplaats and toevoeging strings are interned once; maps from the exact BAG spelling of street and
//! woonplaats names let correctly spelled queries skip normalisation. No per-address `String` is stored.
//! For 10 M addresses the index takes about 0.5 GB; see `BENCHMARKS.md` (Geocoding).
//!
//! [`AddressId`] values are positions in this sorted order, assigned by [`GeocodeIndexBuilder::finish`];
//! they are not the push order. Use [`GeocodeIndex::bag_id`] to get the stable BAG identifier.
//!
//! # Free text
//! [`GeocodeIndex::geocode_free_text`] finds the postcode (`dddd LL` / `ddddLL`), tries every token that
//! starts with a digit as the start of the house number (street names may contain digits, `Plein 1926`),
//! resolves each reading with the structured rules (first without typo search, then with it when no reading
//! matched anything) and returns `Ambiguous` when two readings give different objects of the same kind.

//!
//! # Locations that are not one address
//! Police registrations of street crime and handhaving signals often name a corner, a street or a spot near a
//! number. [`GeocodeIndex::geocode_free_text`] (when no address reading fits) and
//! [`GeocodeIndex::geocode_place`] (when the structured address finds nothing; the street field with the
//! number fields appended is the phrase, the query's woonplaats/postcode the area) read them as follows. In
//! free text the woonplaats is the part after the last (or before the first) comma, or the last one to four
//! words when they name a woonplaats of the index; otherwise the whole index is searched (a street in several
//! woonplaatsen is then `Ambiguous`); an unknown woonplaats is never dropped (the result is `None`). Street
//! names resolve as in rule 2 (typo search only within a known woonplaats). None of these is ever `Exact`.
//! - **Intersection** ([`MatchKind::Intersection`]): `hoek A / B`, `hoek A/B`, `hoek van A en B`,
//!   `kruising A - B`, `A hoek B`, `A x B`, `A / B` (the last ones only when both parts are streets of the
//!   area). For every pair of a segment of A and one of B in the same woonplaats, the closest pair of their
//!   addresses is found; the streets meet there when that pair is at most
//!   [`location::INTERSECTION_MAX_GAP_M`] (150 m) apart, and the point is the pair's midpoint, with
//!   uncertainty half the pair's distance plus [`location::CORNER_SETBACK_M`] (25 m). `Ambiguous` when they
//!   meet in two woonplaatsen, or when another pair within 150 m has its midpoint more than
//!   [`location::INTERSECTION_SEPARATE_M`] (300 m) away (two meeting points, or parallel streets); `None`
//!   when they do not meet. Score 0.7 times the lower name quality.
//! - **Street** ([`MatchKind::Street`]): a street without a number (`Burgwal Demostad`). The point is the
//!   street's address nearest the centroid of its addresses (so it lies on the street), the uncertainty the
//!   largest distance from it to an address of the street. Score 0.5 times the name quality. A street
//!   name alone that fits several woonplaatsen is `None` (the woonplaats is needed). A number the street does
//!   not have (`Stationsplein 999`) is `None` too, not the street: the row is reported so the number is
//!   corrected.
//! - **Near** ([`MatchKind::Near`]): `A thv 3`, `A t.h.v. 3`, `A t.o. 3`, `tegenover A 3`,
//!   `ter hoogte van A 3`, `A nabij 3`, `A bij (nr) 3`: at that address (`candidates[0]`, no `address`: the
//!   place is near it, not in it), uncertainty 25 m (50 m for `nabij`/`bij`), score 0.7 times the address's
//!   score; when the street has no such number, at its nearest number (score 0.6 times the name quality).
//! - **Address with a remark**: `Burgwal 3 bij de bushalte Demostad` (number followed by `bij`, `nabij`,
//!   `voor`, `achter`, `naast`, `tegenover`, `thv`, `t.o.`, `ter`, `richting`, `hoek`, `op`, `in`): that
//!   address with its own kind, but at best `Normalized` and score at most 0.9 (text was ignored). Only with
//!   a woonplaats or postcode, so that an unknown woonplaats is never read as part of the remark.

mod freetext;
mod index;
mod interner;
pub mod location;
mod normalize;
pub mod synthetic;
#[cfg(test)]
mod tests;

pub use index::{GeocodeIndex, GeocodeIndexBuilder};
pub use normalize::{
    normalize_postcode, normalize_street, normalize_woonplaats, pack_postcode, parse_house_number,
    unpack_postcode, HouseNumber, MAX_HUISNUMMER, MAX_TOEVOEGING_LEN,
};

/// Index of an address in a [`GeocodeIndex`] (0..len), assigned by [`GeocodeIndexBuilder::finish`].
pub type AddressId = u32;

/// One BAG addressable object, borrowed while pushing into a [`GeocodeIndexBuilder`].
#[derive(Debug, Clone, Copy)]
pub struct BagAddress<'a> {
    /// 16-character `identificatie` with leading zeros (digits only; stored as `u64`, returned as 16-char text).
    pub bag_id: &'a str,
    /// `openbare_ruimte_naam`.
    pub street: &'a str,
    /// `openbare_ruimte_naam_kort` (NEN 5825, max 24 characters).
    pub street_short: Option<&'a str>,
    /// `huisnummer`, 1..=99999.
    pub huisnummer: u32,
    /// `huisletter`: one ASCII letter (any case) or `None`/empty.
    pub huisletter: Option<&'a str>,
    /// `huisnummertoevoeging`: 1-4 alphanumerics or `None`/empty.
    pub toevoeging: Option<&'a str>,
    /// Postcode, `1012JS` (space and lower case tolerated), or `None`/empty.
    pub postcode: Option<&'a str>,
    /// `woonplaats_naam`.
    pub woonplaats: &'a str,
    /// RD New x in metres.
    pub x_m: f64,
    /// RD New y in metres.
    pub y_m: f64,
}

/// A structured address query; every field is optional raw text as found in the source data.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressQuery<'a> {
    /// Street name, full or abbreviated.
    pub street: Option<&'a str>,
    /// Raw house number, possibly with letter and toevoeging: `12`, `12a`, `12 A`, `12-A`, `12A-3`, `12 3`, `12/3`.
    pub huisnummer: Option<&'a str>,
    /// Separate huisletter field; overrides a letter parsed from `huisnummer`.
    pub huisletter: Option<&'a str>,
    /// Separate toevoeging field; overrides a toevoeging parsed from `huisnummer`.
    pub toevoeging: Option<&'a str>,
    /// Postcode with or without space, any case.
    pub postcode: Option<&'a str>,
    /// Woonplaats (synonyms such as `Den Haag` accepted).
    pub woonplaats: Option<&'a str>,
}

/// How a query was resolved. Ordered from most to least certain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchKind {
    /// All given components equal the BAG object (case and whitespace aside).
    Exact,
    /// Unique object after normalisation (abbreviations, diacritics, synonyms, alternative unit reading).
    Normalized,
    /// Unique object after accepting a typo in a street or woonplaats name.
    Fuzzy,
    /// The building (house number) was found but not the unit; `candidates` are the units, `address` is `None`.
    Partial,
    /// A "near" location: `ter hoogte van` / `thv` / `t.o.` / `tegenover` / `nabij` / `bij` and a house number
    /// of a street (`Burgwal thv 3`). `point_m` is that address (or the nearest number of the street);
    /// `candidates` holds that address; `address` is `None`: the incident is near the object, not in it.
    Near,
    /// The meeting point of two streets (`hoek A / B`, `A hoek B`, `kruising A - B`, `A x B`, `A / B`); see
    /// the module docs ("Locations that are not one address"). `candidates` are the two addresses of the
    /// closest pair; `address` is `None`.
    Intersection,
    /// A street without a house number (`Burgwal Demostad`): `point_m` is the street's address nearest the
    /// centroid of its addresses, `uncertainty_m` the street's extent; `candidates` holds that address;
    /// `address` is `None`.
    Street,
    /// Several objects fit (or postcode and street contradict); `candidates` lists them, `address` is `None`.
    Ambiguous,
    /// Nothing fits.
    None,
}

impl MatchKind {
    /// Lower-case label: `exact`, `normalized`, `fuzzy`, `partial`, `near`, `intersection`, `street`,
    /// `ambiguous`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Normalized => "normalized",
            MatchKind::Fuzzy => "fuzzy",
            MatchKind::Partial => "partial",
            MatchKind::Near => "near",
            MatchKind::Intersection => "intersection",
            MatchKind::Street => "street",
            MatchKind::Ambiguous => "ambiguous",
            MatchKind::None => "none",
        }
    }
}

impl std::fmt::Display for MatchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of a geocoding query. See the module docs for the score scale.
#[derive(Debug, Clone, PartialEq)]
pub struct GeocodeMatch {
    /// How the query was resolved.
    pub kind: MatchKind,
    /// Confidence 0..=1 that `address` is the intended object (0 when `address` is `None`, except `Partial`).
    pub score: f64,
    /// The unique matching object (`Exact`, `Normalized`, `Fuzzy` only).
    pub address: Option<AddressId>,
    /// For `Partial` the units of the building, for `Ambiguous` the competing objects (sorted, unique); for
    /// `Near`, `Intersection` and `Street` the addresses the point was derived from (see [`MatchKind`]).
    pub candidates: Vec<AddressId>,
    /// Where the query is placed (RD New metres): the address for `Exact`/`Normalized`/`Fuzzy`, the first
    /// unit for `Partial`, the derived point for `Near`/`Intersection`/`Street`; `None` for `Ambiguous`/`None`.
    pub point_m: Option<(f64, f64)>,
    /// Radius in metres around `point_m` within which the place lies (0 for a unique address; for `Partial`
    /// the largest distance of a unit from the first). `None` when `point_m` is `None`.
    pub uncertainty_m: Option<f64>,
}

impl GeocodeMatch {
    /// No match.
    pub fn none() -> Self {
        GeocodeMatch {
            kind: MatchKind::None,
            score: 0.0,
            address: None,
            candidates: Vec::new(),
            point_m: None,
            uncertainty_m: None,
        }
    }
}

/// Why a BAG record was not added to the index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeocodeError {
    /// `identificatie` is not 1-16 digits.
    #[error("invalid BAG identificatie {0:?} (expected up to 16 digits)")]
    InvalidBagId(String),
    /// `huisnummer` outside 1..=99999.
    #[error("invalid huisnummer {0} (expected 1..=99999)")]
    InvalidHuisnummer(u32),
    /// `huisletter` is not a single ASCII letter.
    #[error("invalid huisletter {0:?} (expected one letter)")]
    InvalidHuisletter(String),
    /// `toevoeging` is not 1-4 ASCII alphanumerics.
    #[error("invalid toevoeging {0:?} (expected 1-4 alphanumerics)")]
    InvalidToevoeging(String),
    /// Postcode does not match `^[1-9][0-9]{3}[A-Z]{2}$`.
    #[error("invalid postcode {0:?}")]
    InvalidPostcode(String),
    /// Empty street or woonplaats name.
    #[error("empty street or woonplaats name")]
    EmptyName,
    /// Coordinates are not finite numbers.
    #[error("non-finite coordinates")]
    InvalidPoint,
    /// More objects, streets or names than fit the 32-bit ids.
    #[error("index capacity exceeded")]
    CapacityExceeded,
}
