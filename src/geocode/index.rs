//! Index construction and structured matching. See the module docs of [`crate::geocode`] for the rules.

use super::interner::{FxMap, Interner};
use super::normalize::{
    compact, eq_ignore_case, fold, fold_compact, max_typo_distance, normalize_street,
    normalize_toevoeging, normalize_woonplaats, osa_distance_bounded, pack_postcode,
    parse_house_number, street_key_from_folded, EditBuffers, MAX_HUISNUMMER, MAX_TOEVOEGING_LEN,
};
use super::{AddressId, AddressQuery, BagAddress, GeocodeError, GeocodeMatch, MatchKind};

const NO_NAME: u32 = u32::MAX;

/// One address: 40 bytes.
#[derive(Debug, Clone, Copy)]
struct Rec {
    bag_id: u64,
    x_m: f64,
    y_m: f64,
    /// Street segment: one (woonplaats, street name) pair.
    seg: u32,
    /// `huisnummer << 8 | huisletter` (letter as upper-case ASCII byte, 0 = none).
    hn: u32,
    /// Interned toevoeging id + 1 (0 = none).
    toev: u32,
    /// Packed postcode (0 = none).
    postcode: u32,
}

impl Rec {
    #[inline]
    fn number(&self) -> u32 {
        self.hn >> 8
    }
    #[inline]
    fn letter(&self) -> u8 {
        (self.hn & 0xff) as u8
    }
}

/// A street within one woonplaats, with its contiguous range of records after sorting.
#[derive(Debug, Clone, Copy)]
struct Segment {
    woonplaats: u32,
    street: u32,
    short: u32,
    start: u32,
    end: u32,
}

/// Collects BAG records; [`GeocodeIndexBuilder::finish`] sorts and packs them into a [`GeocodeIndex`].
#[derive(Default)]
pub struct GeocodeIndexBuilder {
    recs: Vec<Rec>,
    streets: Interner,
    woonplaatsen: Interner,
    toevoegingen: Interner,
    segment_ids: FxMap<(u32, u32), u32>,
    segments: Vec<Segment>,
    skipped: usize,
    last_error: Option<GeocodeError>,
}

fn parse_bag_id(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl GeocodeIndexBuilder {
    /// Empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty builder with room for `n` addresses (avoids re-allocation during a national import).
    pub fn with_capacity(n: usize) -> Self {
        GeocodeIndexBuilder {
            recs: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// Add one record. Invalid records (see [`GeocodeIndexBuilder::try_push`]) are skipped and counted in
    /// [`GeocodeIndexBuilder::skipped`] / [`GeocodeIndex::skipped`]; use `try_push` to see why.
    pub fn push(&mut self, a: &BagAddress<'_>) {
        if let Err(e) = self.try_push(a) {
            self.skipped += 1;
            self.last_error = Some(e);
        }
    }

    /// Number of records skipped by [`GeocodeIndexBuilder::push`] so far.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The reason the most recent skipped record was rejected.
    pub fn last_error(&self) -> Option<&GeocodeError> {
        self.last_error.as_ref()
    }

    /// Number of records accepted so far.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// True when no record was accepted yet.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Add one record, or say why it is invalid: `bag_id` must be 1-16 digits, `huisnummer` 1..=99999,
    /// `huisletter` one ASCII letter, `toevoeging` 1-4 ASCII alphanumerics, `postcode` valid when present,
    /// street and woonplaats non-empty, coordinates finite. Duplicate objects are kept (a query that fits
    /// both is then `Ambiguous`).
    pub fn try_push(&mut self, a: &BagAddress<'_>) -> Result<(), GeocodeError> {
        let bag_id = parse_bag_id(a.bag_id)
            .ok_or_else(|| GeocodeError::InvalidBagId(a.bag_id.to_string()))?;
        if a.huisnummer == 0 || a.huisnummer > MAX_HUISNUMMER {
            return Err(GeocodeError::InvalidHuisnummer(a.huisnummer));
        }
        let letter = match non_empty(a.huisletter) {
            None => 0u8,
            Some(l) => {
                let b = l.as_bytes();
                if b.len() != 1 || !b[0].is_ascii_alphabetic() {
                    return Err(GeocodeError::InvalidHuisletter(l.to_string()));
                }
                b[0].to_ascii_uppercase()
            }
        };
        let toev = match non_empty(a.toevoeging) {
            None => 0u32,
            Some(t) => {
                let ok_fast = t.len() <= MAX_TOEVOEGING_LEN
                    && t.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                let id = if ok_fast {
                    self.toevoegingen.intern(t)
                } else {
                    let n = normalize_toevoeging(t)
                        .filter(|n| {
                            n.len() <= MAX_TOEVOEGING_LEN
                                && n.bytes().all(|b| b.is_ascii_alphanumeric())
                        })
                        .ok_or_else(|| GeocodeError::InvalidToevoeging(t.to_string()))?;
                    self.toevoegingen.intern(&n)
                };
                id + 1
            }
        };
        let postcode = match non_empty(a.postcode) {
            None => 0,
            Some(p) => {
                pack_postcode(p).ok_or_else(|| GeocodeError::InvalidPostcode(p.to_string()))?
            }
        };
        let street_raw = a.street.trim();
        let wp_raw = a.woonplaats.trim();
        if street_raw.is_empty() || wp_raw.is_empty() {
            return Err(GeocodeError::EmptyName);
        }
        if !a.x_m.is_finite() || !a.y_m.is_finite() {
            return Err(GeocodeError::InvalidPoint);
        }
        if self.recs.len() >= u32::MAX as usize - 1 {
            return Err(GeocodeError::CapacityExceeded);
        }
        let street = self.streets.intern(street_raw);
        let woonplaats = self.woonplaatsen.intern(wp_raw);
        let seg = match self.segment_ids.get(&(woonplaats, street)) {
            Some(&s) => s,
            None => {
                let s = self.segments.len() as u32;
                let short = match non_empty(a.street_short) {
                    Some(k) => self.streets.intern(k),
                    None => NO_NAME,
                };
                self.segments.push(Segment {
                    woonplaats,
                    street,
                    short,
                    start: 0,
                    end: 0,
                });
                self.segment_ids.insert((woonplaats, street), s);
                s
            }
        };
        self.recs.push(Rec {
            bag_id,
            x_m: a.x_m,
            y_m: a.y_m,
            seg,
            hn: (a.huisnummer << 8) | u32::from(letter),
            toev,
            postcode,
        });
        Ok(())
    }

    /// Sort, pack and build the lookup tables. Memory: the records are sorted in place; the extra peak is
    /// one `(postcode, id)` pair per address while the postcode table is built.
    pub fn finish(self) -> GeocodeIndex {
        let GeocodeIndexBuilder {
            mut recs,
            streets,
            woonplaatsen,
            toevoegingen,
            segment_ids,
            mut segments,
            skipped,
            ..
        } = self;
        drop(segment_ids);
        recs.sort_unstable_by_key(|r| ((u64::from(r.seg) << 32) | u64::from(r.hn), r.toev));
        recs.shrink_to_fit();

        // Segment ranges.
        let mut i = 0usize;
        while i < recs.len() {
            let seg = recs[i].seg;
            let start = i;
            while i < recs.len() && recs[i].seg == seg {
                i += 1;
            }
            if let Some(s) = segments.get_mut(seg as usize) {
                s.start = start as u32;
                s.end = i as u32;
            }
        }

        // Postcode table.
        let mut pairs: Vec<(u32, u32)> = recs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.postcode != 0)
            .map(|(i, r)| (r.postcode, i as u32))
            .collect();
        pairs.sort_unstable();
        let mut pc_keys = Vec::new();
        let mut pc_offsets = Vec::new();
        let mut pc_ids = Vec::with_capacity(pairs.len());
        for (k, (pc, id)) in pairs.iter().enumerate() {
            if pc_keys.last() != Some(pc) {
                pc_keys.push(*pc);
                pc_offsets.push(k as u32);
            }
            pc_ids.push(*id);
        }
        pc_offsets.push(pc_ids.len() as u32);
        drop(pairs);

        // Street name keys.
        let (street_name_map, street_names) = streets.into_parts();
        let mut key_interner = Interner::default();
        let mut street_key: Vec<u32> = Vec::with_capacity(street_names.len());
        let mut street_fold: Vec<Box<str>> = Vec::with_capacity(street_names.len());
        for name in &street_names {
            let folded = fold(name);
            street_key.push(key_interner.intern(&street_key_from_folded(&folded)));
            street_fold.push(compact(&folded).into_boxed_str());
        }
        let street_name_map: FxMap<Box<str>, (u32, u32)> = street_name_map
            .into_iter()
            .map(|(name, n)| (name, (n, street_key[n as usize])))
            .collect();
        let mut key_pairs: Vec<(u32, u32)> = Vec::with_capacity(segments.len() * 2);
        for (s, seg) in segments.iter().enumerate() {
            let k = street_key[seg.street as usize];
            key_pairs.push((k, s as u32));
            if seg.short != NO_NAME {
                let ks = street_key[seg.short as usize];
                if ks != k {
                    key_pairs.push((ks, s as u32));
                }
            }
        }
        // Within a key, order by (woonplaats, segment) so an area lookup is a binary search.
        key_pairs.sort_unstable_by_key(|&(k, s)| (k, segments[s as usize].woonplaats, s));
        let (key_offsets, key_seg_ids) = group_pairs(&key_pairs, key_interner.len());
        let key_segs: Vec<(u32, u32)> = key_seg_ids
            .iter()
            .map(|&s| (segments[s as usize].woonplaats, s))
            .collect();
        let (key_map, key_names) = key_interner.into_parts();

        // Woonplaatsen.
        let (woonplaats_name_map, woonplaats_names) = woonplaatsen.into_parts();
        let woonplaats_keys: Vec<Box<str>> = woonplaats_names
            .iter()
            .map(|n| normalize_woonplaats(n).into_boxed_str())
            .collect();
        let mut woonplaats_map: FxMap<Box<str>, Vec<u32>> = FxMap::default();
        for (i, k) in woonplaats_keys.iter().enumerate() {
            woonplaats_map.entry(k.clone()).or_default().push(i as u32);
        }
        let mut wp_pairs: Vec<(u32, u32)> = segments
            .iter()
            .enumerate()
            .map(|(s, seg)| (seg.woonplaats, s as u32))
            .collect();
        wp_pairs.sort_unstable();
        let (wp_offsets, wp_segs) = group_pairs(&wp_pairs, woonplaats_names.len());

        let (toev_map, toev_names) = toevoegingen.into_parts();

        GeocodeIndex {
            numbers: recs.iter().map(Rec::number).collect(),
            recs,
            segments,
            street_names,
            street_name_map,
            street_key,
            street_fold,
            key_map,
            key_names,
            key_offsets,
            key_segs,
            woonplaats_names,
            woonplaats_name_map,
            woonplaats_keys,
            woonplaats_map,
            wp_offsets,
            wp_segs,
            toev_map,
            toev_names,
            pc_keys,
            pc_offsets,
            pc_ids,
            skipped,
        }
    }
}

/// Group sorted `(group, member)` pairs into CSR offsets (length `groups + 1`) and members.
fn group_pairs(pairs: &[(u32, u32)], groups: usize) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; groups + 1];
    for &(g, _) in pairs {
        offsets[g as usize + 1] += 1;
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
    (offsets, pairs.iter().map(|&(_, m)| m).collect())
}

/// Read-only BAG address index. Built by [`GeocodeIndexBuilder`].
pub struct GeocodeIndex {
    recs: Vec<Rec>,
    /// `huisnummer` of every record, a copy of `recs[i].number()` in a dense column so that the binary
    /// searches and postcode scans touch 4 instead of 40 bytes per record (fewer cache misses).
    numbers: Vec<u32>,
    segments: Vec<Segment>,
    street_names: Vec<Box<str>>,
    /// Exact BAG street name (full or short) -> (street name id, key id): the fast path that skips
    /// normalisation.
    street_name_map: FxMap<Box<str>, (u32, u32)>,
    /// Street name id -> normalised key id.
    street_key: Vec<u32>,
    /// Street name id -> folded compact form (typo search).
    street_fold: Vec<Box<str>>,
    key_map: FxMap<Box<str>, u32>,
    key_names: Vec<Box<str>>,
    key_offsets: Vec<u32>,
    /// (woonplaats, segment) per key, grouped by `key_offsets`.
    key_segs: Vec<(u32, u32)>,
    woonplaats_names: Vec<Box<str>>,
    /// Exact BAG woonplaats name -> woonplaats id (fast path that skips normalisation).
    woonplaats_name_map: FxMap<Box<str>, u32>,
    woonplaats_keys: Vec<Box<str>>,
    woonplaats_map: FxMap<Box<str>, Vec<u32>>,
    wp_offsets: Vec<u32>,
    wp_segs: Vec<u32>,
    toev_map: FxMap<Box<str>, u32>,
    toev_names: Vec<Box<str>>,
    pc_keys: Vec<u32>,
    pc_offsets: Vec<u32>,
    pc_ids: Vec<u32>,
    skipped: usize,
}

/// Name-component quality, combined by taking the worst kind and the lowest score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Quality {
    pub(crate) kind: MatchKind,
    pub(crate) score: f64,
}

impl Quality {
    pub(crate) const EXACT: Quality = Quality {
        kind: MatchKind::Exact,
        score: 1.0,
    };
    pub(crate) const NORMALIZED: Quality = Quality {
        kind: MatchKind::Normalized,
        score: 0.95,
    };
    const REINTERPRETED: Quality = Quality {
        kind: MatchKind::Normalized,
        score: 0.9,
    };
    const PREFIX: Quality = Quality {
        kind: MatchKind::Fuzzy,
        score: 0.8,
    };

    fn fuzzy(distance: usize, len: usize) -> Quality {
        let len = len.max(1) as f64;
        Quality {
            kind: MatchKind::Fuzzy,
            score: 0.85 * (1.0 - distance as f64 / len),
        }
    }

    fn and(self, other: Quality) -> Quality {
        Quality {
            kind: self.kind.max(other.kind),
            score: self.score.min(other.score),
        }
    }

    /// Lower the score by `by` and make the kind at least `Normalized`.
    fn penalised(self, by: f64) -> Quality {
        Quality {
            kind: self.kind.max(MatchKind::Normalized),
            score: (self.score - by).max(0.0),
        }
    }
}

/// How well the letter/toevoeging of the query fit the objects at a house number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UnitLevel {
    Exact,
    Reinterpreted,
    /// The query lacks a letter/toevoeging the objects have.
    Building,
    /// The query names a unit that does not exist at this number.
    Loose,
}

/// The house number designation of a query, resolved against the index's interned toevoegingen.
struct Want {
    number: u32,
    letter: u8,
    /// `None`: no toevoeging given. `Some(None)`: given but unknown in the index. `Some(Some(id+1))`.
    toev: Option<Option<u32>>,
    toev_text: Option<String>,
}

/// Query street; the normalised forms are computed on first use (an exact raw comparison often
/// settles the postcode route without them).
struct QueryStreet<'a> {
    raw: &'a str,
    key: std::cell::OnceCell<String>,
    fold: std::cell::OnceCell<String>,
}

impl<'a> QueryStreet<'a> {
    fn new(raw: &'a str) -> Self {
        QueryStreet {
            raw,
            key: std::cell::OnceCell::new(),
            fold: std::cell::OnceCell::new(),
        }
    }

    /// [`normalize_street`] key.
    fn key(&self) -> &str {
        self.key.get_or_init(|| normalize_street(self.raw))
    }

    /// Folded text without separators (typo comparison).
    fn fold(&self) -> &str {
        self.fold.get_or_init(|| fold_compact(self.raw))
    }
}

/// Objects of one street segment at the queried number, with the unit selection result.
struct Group {
    seg: u32,
    level: UnitLevel,
    ids: Vec<u32>,
}

enum Decision {
    Unique {
        id: u32,
        seg: u32,
        level: UnitLevel,
    },
    Partial {
        ids: Vec<u32>,
        seg: u32,
        level: UnitLevel,
    },
    Ambiguous(Vec<u32>),
}

/// The street segments a query street names ([`GeocodeIndex::street_segments`]).
pub(crate) struct StreetSegments {
    pub(crate) segs: Vec<u32>,
    /// The exact BAG spelling hit: (street name id, key id).
    raw_hit: Option<(u32, u32)>,
    /// Typo quality when found by the typo search.
    street_quality: Option<Quality>,
    wp_quality: Quality,
}

/// Euclidean distance of two RD points in metres.
pub(crate) fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

pub(crate) fn sorted_unique(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.dedup();
    v
}

pub(crate) fn ambiguous(ids: Vec<u32>) -> GeocodeMatch {
    GeocodeMatch {
        kind: MatchKind::Ambiguous,
        score: 0.0,
        address: None,
        candidates: sorted_unique(ids),
        point_m: None,
        uncertainty_m: None,
    }
}

impl GeocodeIndex {
    /// Number of addresses.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// True when the index holds no address.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Number of streets (distinct woonplaats + street name pairs).
    pub fn street_count(&self) -> usize {
        self.segments.len()
    }

    /// Number of distinct postcodes.
    pub fn postcode_count(&self) -> usize {
        self.pc_keys.len()
    }

    /// Number of distinct woonplaats names.
    pub fn woonplaats_count(&self) -> usize {
        self.woonplaats_names.len()
    }

    /// Number of records the builder skipped as invalid.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// BAG `identificatie` of address `i` as 16-character text with leading zeros
    /// (empty string when `i` is out of range).
    pub fn bag_id(&self, i: AddressId) -> String {
        self.recs
            .get(i as usize)
            .map_or_else(String::new, |r| format!("{:016}", r.bag_id))
    }

    /// BAG `identificatie` of address `i` as a number.
    pub fn bag_id_u64(&self, i: AddressId) -> Option<u64> {
        self.recs.get(i as usize).map(|r| r.bag_id)
    }

    /// RD New point (x, y) in metres of address `i` (NaN, NaN when out of range).
    pub fn point_m(&self, i: AddressId) -> (f64, f64) {
        self.recs
            .get(i as usize)
            .map_or((f64::NAN, f64::NAN), |r| (r.x_m, r.y_m))
    }

    /// Human-readable address `Street 12A-3, 1012JS Woonplaats` of `i` (for reports and tests).
    pub fn display(&self, i: AddressId) -> String {
        let Some(r) = self.recs.get(i as usize) else {
            return String::new();
        };
        let Some(seg) = self.segments.get(r.seg as usize) else {
            return String::new();
        };
        let mut s = format!("{} {}", self.street_names[seg.street as usize], r.number());
        if r.letter() != 0 {
            s.push(char::from(r.letter()));
        }
        if r.toev != 0 {
            s.push('-');
            s.push_str(&self.toev_names[(r.toev - 1) as usize]);
        }
        s.push_str(", ");
        if let Some(pc) = super::unpack_postcode(r.postcode) {
            s.push_str(&pc);
            s.push(' ');
        }
        s.push_str(&self.woonplaats_names[seg.woonplaats as usize]);
        s
    }

    /// Resolve a structured address. Never panics; see the module docs for the rules and score scale.
    pub fn geocode(&self, q: &AddressQuery<'_>) -> GeocodeMatch {
        self.geocode_with(q, true)
    }

    /// [`GeocodeIndex::geocode`] with typo search of street and woonplaats names switched on or off
    /// (the free-text parser tries several readings without it first, because a wrong reading would
    /// otherwise trigger an expensive and pointless typo search).
    pub(crate) fn geocode_with(&self, q: &AddressQuery<'_>, fuzzy: bool) -> GeocodeMatch {
        let Some(want) = self.want(q) else {
            return GeocodeMatch::none();
        };
        let street = non_empty(q.street)
            .map(QueryStreet::new)
            .filter(|s| s.raw.chars().any(char::is_alphanumeric));
        let woonplaats = non_empty(q.woonplaats);
        let pc = non_empty(q.postcode).and_then(pack_postcode);
        if let Some(pc) = pc {
            if let Some(m) = self.postcode_route(pc, &want, street.as_ref(), woonplaats, fuzzy) {
                return m;
            }
        }
        match street {
            Some(s) => self.street_route(&s, &want, woonplaats, pc, fuzzy),
            None => GeocodeMatch::none(),
        }
    }

    fn want(&self, q: &AddressQuery<'_>) -> Option<Want> {
        let parsed = parse_house_number(non_empty(q.huisnummer)?)?;
        let mut letter = parsed.letter;
        let mut addition = parsed.addition;
        if let Some(l) = non_empty(q.huisletter) {
            let mut chars = l.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphabetic() => letter = Some(c.to_ascii_uppercase()),
                _ => {
                    // A letter field holding more, e.g. "A-3": read it as a designation after the number.
                    let extra = parse_house_number(&format!("1{l}"))?;
                    letter = extra.letter.or(letter);
                    addition = extra.addition.or(addition);
                }
            }
        }
        if let Some(t) = non_empty(q.toevoeging) {
            addition = normalize_toevoeging(t);
        }
        let toev = addition
            .as_deref()
            .map(|t| self.toev_map.get(t).map(|id| id + 1));
        Some(Want {
            number: parsed.number,
            letter: letter.map_or(0, |c| c as u8),
            toev,
            toev_text: addition,
        })
    }

    /// Record range of `number` within a segment.
    fn number_range(&self, seg: &Segment, number: u32) -> std::ops::Range<usize> {
        let slice = &self.numbers[seg.start as usize..seg.end as usize];
        let lo = slice.partition_point(|&n| n < number);
        let hi = lo + slice[lo..].partition_point(|&n| n == number);
        seg.start as usize + lo..seg.start as usize + hi
    }

    fn postcode_ids(&self, pc: u32) -> &[u32] {
        match self.pc_keys.binary_search(&pc) {
            Ok(k) => &self.pc_ids[self.pc_offsets[k] as usize..self.pc_offsets[k + 1] as usize],
            Err(_) => &[],
        }
    }

    fn toev_id_of(&self, text: &str) -> Option<u32> {
        if text.is_empty() {
            Some(0)
        } else {
            self.toev_map.get(text).map(|id| id + 1)
        }
    }

    /// Select units among objects that all have the queried number.
    fn select_units(&self, objs: &[u32], want: &Want) -> (UnitLevel, Vec<u32>) {
        let rec = |i: &u32| &self.recs[*i as usize];
        if let Some(t) = want.toev.unwrap_or(Some(0)) {
            let exact: Vec<u32> = objs
                .iter()
                .copied()
                .filter(|i| rec(i).letter() == want.letter && rec(i).toev == t)
                .collect();
            if !exact.is_empty() {
                return (UnitLevel::Exact, exact);
            }
        }
        // Alternative readings of the designation.
        let alt: Option<(u8, u32)> = if want.letter != 0 && want.toev.is_none() {
            let l = [want.letter];
            std::str::from_utf8(&l)
                .ok()
                .and_then(|s| self.toev_id_of(s))
                .map(|t| (0, t))
        } else if want.letter == 0 {
            want.toev_text.as_deref().and_then(|t| {
                let first = *t.as_bytes().first()?;
                if !first.is_ascii_alphabetic() {
                    return None;
                }
                Some((first, self.toev_id_of(&t[1..])?))
            })
        } else {
            None
        };
        if let Some((l, t)) = alt {
            let v: Vec<u32> = objs
                .iter()
                .copied()
                .filter(|i| rec(i).letter() == l && rec(i).toev == t)
                .collect();
            if !v.is_empty() {
                return (UnitLevel::Reinterpreted, v);
            }
        }
        let same_letter: Vec<u32> = objs
            .iter()
            .copied()
            .filter(|i| rec(i).letter() == want.letter)
            .collect();
        let missing_designation = want.toev.is_none();
        if missing_designation && !same_letter.is_empty() {
            return (UnitLevel::Building, same_letter);
        }
        if missing_designation && want.letter == 0 {
            return (UnitLevel::Building, objs.to_vec());
        }
        if !same_letter.is_empty() {
            (UnitLevel::Loose, same_letter)
        } else {
            (UnitLevel::Loose, objs.to_vec())
        }
    }

    /// Decide among the groups (street segments) that have the queried number.
    fn decide(&self, mut groups: Vec<(u32, Vec<u32>)>, want: &Want) -> Option<Decision> {
        if groups.len() == 1 {
            let (seg, objs) = groups.pop()?;
            if objs.is_empty() {
                return None;
            }
            let (level, ids) = self.select_units(&objs, want);
            return Some(Self::single_group(Group { seg, level, ids }));
        }
        let mut scored: Vec<Group> = groups
            .into_iter()
            .filter(|(_, objs)| !objs.is_empty())
            .map(|(seg, objs)| {
                let (level, ids) = self.select_units(&objs, want);
                Group { seg, level, ids }
            })
            .collect();
        let best = scored.iter().map(|g| g.level).min()?;
        let cutoff = if best <= UnitLevel::Building {
            UnitLevel::Building
        } else {
            UnitLevel::Loose
        };
        scored.retain(|g| g.level <= cutoff);
        if scored.len() > 1 {
            return Some(Decision::Ambiguous(
                scored.into_iter().flat_map(|g| g.ids).collect(),
            ));
        }
        scored.pop().map(Self::single_group)
    }

    /// Decision when only one street segment is left.
    fn single_group(g: Group) -> Decision {
        match g.level {
            UnitLevel::Exact | UnitLevel::Reinterpreted => {
                if g.ids.len() == 1 {
                    Decision::Unique {
                        id: g.ids[0],
                        seg: g.seg,
                        level: g.level,
                    }
                } else {
                    Decision::Ambiguous(g.ids)
                }
            }
            UnitLevel::Building | UnitLevel::Loose => Decision::Partial {
                ids: g.ids,
                seg: g.seg,
                level: g.level,
            },
        }
    }

    /// Turn a decision plus the name quality into the public result.
    fn finish_match(&self, d: Decision, quality: Quality) -> GeocodeMatch {
        match d {
            Decision::Unique { id, level, .. } => {
                let q = if level == UnitLevel::Reinterpreted {
                    quality.and(Quality::REINTERPRETED)
                } else {
                    quality
                };
                GeocodeMatch {
                    kind: q.kind,
                    score: q.score,
                    address: Some(id),
                    candidates: Vec::new(),
                    point_m: Some(self.point_m(id)),
                    uncertainty_m: Some(0.0),
                }
            }
            Decision::Partial { ids, level, .. } => {
                let cap = if level == UnitLevel::Building {
                    0.5
                } else {
                    0.4
                };
                let candidates = sorted_unique(ids);
                let (point_m, uncertainty_m) = match candidates.first() {
                    Some(&first) => {
                        let p = self.point_m(first);
                        let r = candidates
                            .iter()
                            .map(|&c| distance_m(p, self.point_m(c)))
                            .fold(0.0, f64::max);
                        (Some(p), Some(r))
                    }
                    None => (None, None),
                };
                GeocodeMatch {
                    kind: MatchKind::Partial,
                    score: quality.score.min(cap),
                    address: None,
                    candidates,
                    point_m,
                    uncertainty_m,
                }
            }
            Decision::Ambiguous(ids) => ambiguous(ids),
        }
    }

    fn decision_seg(d: &Decision) -> Option<u32> {
        match d {
            Decision::Unique { seg, .. } | Decision::Partial { seg, .. } => Some(*seg),
            Decision::Ambiguous(_) => None,
        }
    }

    /// How well a query street agrees with a segment's street: `None` when it contradicts.
    /// `loose` also accepts one key being a prefix of the other (at least 4 characters).
    fn street_agreement(
        &self,
        seg: &Segment,
        qs: &QueryStreet<'_>,
        loose: bool,
        buf: &mut EditBuffers,
    ) -> Option<Quality> {
        let all = [seg.street, seg.short];
        let names = || {
            all.iter()
                .copied()
                .filter(|&n| n != NO_NAME)
                .map(|n| n as usize)
        };
        if names().any(|n| eq_ignore_case(&self.street_names[n], qs.raw)) {
            return Some(Quality::EXACT);
        }
        let key_of = |n: usize| &*self.key_names[self.street_key[n] as usize];
        if names().any(|n| key_of(n) == qs.key()) {
            return Some(Quality::NORMALIZED);
        }
        let max = max_typo_distance(qs.fold().len());
        let mut best: Option<Quality> = None;
        for n in names() {
            let key = key_of(n);
            let d1 = osa_distance_bounded(
                self.street_fold[n].as_bytes(),
                qs.fold().as_bytes(),
                max,
                buf,
            );
            let d2 = osa_distance_bounded(key.as_bytes(), qs.key().as_bytes(), max, buf);
            let q = match (d1, d2) {
                (None, None) => {
                    let (a, b) = (key, qs.key());
                    let prefix =
                        a.len().min(b.len()) >= 4 && (a.starts_with(b) || b.starts_with(a));
                    (loose && prefix).then_some(Quality::PREFIX)
                }
                (a, b) => {
                    let d = a.unwrap_or(usize::MAX).min(b.unwrap_or(usize::MAX));
                    Some(Quality::fuzzy(d, qs.fold().len()))
                }
            };
            if let Some(q) = q {
                best = Some(match best {
                    Some(b) if b.score >= q.score => b,
                    _ => q,
                });
            }
        }
        best
    }

    /// Quality of a woonplaats given in the query against segment's woonplaats; `None` on disagreement.
    fn woonplaats_agreement(&self, wp: u32, raw: &str) -> Option<Quality> {
        let name = &self.woonplaats_names[wp as usize];
        if eq_ignore_case(name, raw) {
            return Some(Quality::EXACT);
        }
        let key = normalize_woonplaats(raw);
        if *self.woonplaats_keys[wp as usize] == *key {
            return Some(Quality::NORMALIZED);
        }
        let mut buf = EditBuffers::default();
        let max = max_typo_distance(key.len());
        osa_distance_bounded(
            self.woonplaats_keys[wp as usize].as_bytes(),
            key.as_bytes(),
            max,
            &mut buf,
        )
        .map(|d| Quality::fuzzy(d, key.len()))
    }

    fn postcode_route(
        &self,
        pc: u32,
        want: &Want,
        street: Option<&QueryStreet<'_>>,
        woonplaats: Option<&str>,
        fuzzy: bool,
    ) -> Option<GeocodeMatch> {
        let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
        for &id in self.postcode_ids(pc) {
            if self.numbers[id as usize] != want.number {
                continue;
            }
            let r = &self.recs[id as usize];
            match groups.iter_mut().find(|(s, _)| *s == r.seg) {
                Some((_, v)) => v.push(id),
                None => groups.push((r.seg, vec![id])),
            }
        }
        if groups.is_empty() {
            return None;
        }
        let mut quality = Quality::EXACT;
        if let Some(qs) = street {
            let mut buf = EditBuffers::default();
            let mut agreement =
                |seg: u32| self.street_agreement(&self.segments[seg as usize], qs, true, &mut buf);
            let mut best_q: Option<Quality> = None;
            for g in &groups {
                if let Some(q) = agreement(g.0) {
                    best_q = Some(best_q.map_or(q, |b| if b.score >= q.score { b } else { q }));
                }
            }
            let Some(best_q) = best_q else {
                // Postcode and street contradict: collect both routes' objects, do not guess.
                let mut ids: Vec<u32> = match self.decide(groups, want) {
                    Some(Decision::Unique { id, .. }) => vec![id],
                    Some(Decision::Partial { ids, .. }) | Some(Decision::Ambiguous(ids)) => ids,
                    None => Vec::new(),
                };
                let other = self.street_route(qs, want, woonplaats, None, fuzzy);
                ids.extend(other.address);
                ids.extend(other.candidates);
                return Some(ambiguous(ids));
            };
            if groups.len() > 1 {
                // Only the streets that agree best: an exact street beats a typo-close neighbour.
                groups.retain(|g| agreement(g.0).is_some_and(|q| q.kind == best_q.kind));
            }
            quality = best_q;
        }
        let d = self.decide(groups, want)?;
        if let (Some(w), Some(seg)) = (woonplaats, Self::decision_seg(&d)) {
            let wp = self.segments[seg as usize].woonplaats;
            quality = match self.woonplaats_agreement(wp, w) {
                Some(q) => quality.and(q),
                None => quality.penalised(0.05),
            };
        }
        Some(self.finish_match(d, quality))
    }

    /// Woonplaats ids for a query woonplaats (exact key, else a clearly best typo match among all).
    fn resolve_woonplaats(&self, raw: &str, fuzzy: bool) -> Option<(&[u32], Quality)> {
        if let Some(&w) = self.woonplaats_name_map.get(raw) {
            let ids = self.woonplaats_map.get(&self.woonplaats_keys[w as usize])?;
            return Some((ids, Quality::EXACT));
        }
        let key = normalize_woonplaats(raw);
        if let Some(ids) = self.woonplaats_map.get(key.as_str()) {
            let exact = ids
                .iter()
                .any(|&w| eq_ignore_case(&self.woonplaats_names[w as usize], raw));
            return Some((
                ids,
                if exact {
                    Quality::EXACT
                } else {
                    Quality::NORMALIZED
                },
            ));
        }
        let max = max_typo_distance(key.len());
        if max == 0 || !fuzzy {
            return None;
        }
        let mut buf = EditBuffers::default();
        let mut best: Option<(usize, &str)> = None;
        let mut second = usize::MAX;
        for k in self.woonplaats_map.keys() {
            if let Some(d) = osa_distance_bounded(k.as_bytes(), key.as_bytes(), max, &mut buf) {
                match best {
                    Some((bd, _)) if d >= bd => second = second.min(d),
                    Some((bd, _)) => {
                        second = bd;
                        best = Some((d, k));
                    }
                    None => best = Some((d, k)),
                }
            }
        }
        let (d, k) = best?;
        if second <= d {
            return None;
        }
        let ids = self.woonplaats_map.get(k)?;
        Some((ids, Quality::fuzzy(d, key.len())))
    }

    /// Woonplaatsen of the objects with a postcode.
    fn postcode_woonplaatsen(&self, pc: u32) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .postcode_ids(pc)
            .iter()
            .map(|&id| self.segments[self.recs[id as usize].seg as usize].woonplaats)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Typo search for a street among the segments of some woonplaatsen. Returns the segments of the clearly
    /// best street name and the quality.
    fn fuzzy_street(&self, qs: &QueryStreet<'_>, area: &[u32]) -> Option<(Vec<u32>, Quality)> {
        let max = max_typo_distance(qs.fold().len());
        if max == 0 {
            return None;
        }
        let mut buf = EditBuffers::default();
        let mut best_d = usize::MAX;
        let mut best_keys: Vec<u32> = Vec::new();
        let mut best_segs: Vec<u32> = Vec::new();
        let mut second = usize::MAX;
        for &wp in area {
            let Some(range) = self.wp_offsets.get(wp as usize..wp as usize + 2) else {
                continue;
            };
            for &s in &self.wp_segs[range[0] as usize..range[1] as usize] {
                let seg = &self.segments[s as usize];
                for n in [seg.street, seg.short] {
                    if n == NO_NAME {
                        continue;
                    }
                    let n = n as usize;
                    // Identity of the street: the key of its full name (the short name is an alias).
                    let key_id = self.street_key[seg.street as usize];
                    let key = &self.key_names[self.street_key[n] as usize];
                    let bound = max.min(best_d.saturating_add(1));
                    let d1 = osa_distance_bounded(
                        self.street_fold[n].as_bytes(),
                        qs.fold().as_bytes(),
                        bound,
                        &mut buf,
                    );
                    let d2 =
                        osa_distance_bounded(key.as_bytes(), qs.key().as_bytes(), bound, &mut buf);
                    let d = match (d1, d2) {
                        (None, None) => continue,
                        (a, b) => a.unwrap_or(usize::MAX).min(b.unwrap_or(usize::MAX)),
                    };
                    if d < best_d {
                        if !best_keys.is_empty() {
                            second = best_d;
                        }
                        best_d = d;
                        best_keys.clear();
                        best_segs.clear();
                        best_keys.push(key_id);
                        best_segs.push(s);
                    } else if d == best_d {
                        if !best_keys.contains(&key_id) {
                            best_keys.push(key_id);
                        }
                        if !best_segs.contains(&s) {
                            best_segs.push(s);
                        }
                    } else {
                        second = second.min(d);
                    }
                }
            }
        }
        if best_keys.len() != 1 || second <= best_d {
            return None;
        }
        Some((best_segs, Quality::fuzzy(best_d, qs.fold().len())))
    }

    /// The street segments a query street names within the area of `woonplaats` (or, without it, of the
    /// postcode `pc`'s woonplaatsen, or else the whole index): by the exact BAG spelling, the normalised key,
    /// and (when `fuzzy` and the area is known) the typo search. `None` when the woonplaats is unknown or no
    /// street fits.
    fn street_segments(
        &self,
        qs: &QueryStreet<'_>,
        woonplaats: Option<&str>,
        pc: Option<u32>,
        fuzzy: bool,
    ) -> Option<StreetSegments> {
        // Exact BAG spelling first: no normalisation needed.
        let raw_hit = self.street_name_map.get(qs.raw).copied();
        let key_id = match raw_hit {
            Some((_, k)) => Some(k),
            None => {
                if qs.key().is_empty() {
                    return None;
                }
                self.key_map.get(qs.key()).copied()
            }
        };
        let pc_area;
        let (area, wp_quality): (Option<&[u32]>, Quality) = match woonplaats {
            Some(w) => match self.resolve_woonplaats(w, fuzzy) {
                Some((ids, q)) => (Some(ids), q),
                None => return None,
            },
            None => {
                pc_area = pc
                    .map(|p| self.postcode_woonplaatsen(p))
                    .unwrap_or_default();
                if pc_area.is_empty() {
                    (None, Quality::EXACT)
                } else {
                    (Some(&pc_area[..]), Quality::EXACT)
                }
            }
        };
        let mut segs: Vec<u32> = Vec::new();
        if let Some(k) = key_id {
            let group = &self.key_segs
                [self.key_offsets[k as usize] as usize..self.key_offsets[k as usize + 1] as usize];
            match area {
                None => segs.extend(group.iter().map(|&(_, s)| s)),
                Some(a) => {
                    for &wp in a {
                        let lo = group.partition_point(|&(w, _)| w < wp);
                        segs.extend(
                            group[lo..]
                                .iter()
                                .take_while(|&&(w, _)| w == wp)
                                .map(|&(_, s)| s),
                        );
                    }
                }
            }
        }
        let mut street_quality = None;
        if segs.is_empty() {
            let a = area.filter(|_| fuzzy)?;
            let (s, q) = self.fuzzy_street(qs, a)?;
            segs = s;
            street_quality = Some(q);
        }
        Some(StreetSegments {
            segs,
            raw_hit,
            street_quality,
            wp_quality,
        })
    }

    /// Name quality of segment `seg` found by [`GeocodeIndex::street_segments`]: the woonplaats quality and
    /// the street's (exact spelling, normalised key, or the typo quality).
    fn segment_quality(&self, seg: u32, qs: &QueryStreet<'_>, found: &StreetSegments) -> Quality {
        let sq = found.street_quality.unwrap_or_else(|| {
            let segm = &self.segments[seg as usize];
            let names = [segm.street, segm.short];
            let exact = found.raw_hit.is_some_and(|(n, _)| names.contains(&n))
                || names.iter().any(|&n| {
                    n != NO_NAME && eq_ignore_case(&self.street_names[n as usize], qs.raw)
                });
            if exact {
                Quality::EXACT
            } else {
                Quality::NORMALIZED
            }
        });
        found.wp_quality.and(sq)
    }

    /// The street segments (with their name quality) that the street name `street` denotes in the area of
    /// `woonplaats` / postcode `pc` (see [`GeocodeIndex::street_segments`]); empty when none.
    pub(crate) fn street_segments_named(
        &self,
        street: &str,
        woonplaats: Option<&str>,
        pc: Option<u32>,
        fuzzy: bool,
    ) -> Vec<(u32, Quality)> {
        let street = street.trim();
        if !street.chars().any(char::is_alphanumeric) {
            return Vec::new();
        }
        let qs = QueryStreet::new(street);
        let Some(found) = self.street_segments(&qs, woonplaats, pc, fuzzy) else {
            return Vec::new();
        };
        found
            .segs
            .iter()
            .map(|&s| (s, self.segment_quality(s, &qs, &found)))
            .collect()
    }

    /// True when `raw` names a woonplaats of the index (exactly or after normalisation; with `fuzzy` also a
    /// clearly closest typo).
    pub(crate) fn knows_woonplaats(&self, raw: &str, fuzzy: bool) -> bool {
        self.resolve_woonplaats(raw, fuzzy).is_some()
    }

    /// The address ids of street segment `seg`, sorted by house number.
    pub(crate) fn segment_addresses(&self, seg: u32) -> std::ops::Range<u32> {
        self.segments
            .get(seg as usize)
            .map_or(0..0, |s| s.start..s.end)
    }

    /// The normalised woonplaats key of segment `seg` (two woonplaatsen with the same name share it).
    pub(crate) fn segment_woonplaats_key(&self, seg: u32) -> &str {
        self.segments
            .get(seg as usize)
            .map_or("", |s| &self.woonplaats_keys[s.woonplaats as usize])
    }

    /// House number of address `i` (0 when out of range).
    pub(crate) fn huisnummer(&self, i: AddressId) -> u32 {
        self.numbers.get(i as usize).copied().unwrap_or(0)
    }

    fn street_route(
        &self,
        qs: &QueryStreet<'_>,
        want: &Want,
        woonplaats: Option<&str>,
        pc: Option<u32>,
        fuzzy: bool,
    ) -> GeocodeMatch {
        let Some(found) = self.street_segments(qs, woonplaats, pc, fuzzy) else {
            return GeocodeMatch::none();
        };
        let segs = &found.segs;
        let groups: Vec<(u32, Vec<u32>)> = segs
            .iter()
            .map(|&s| {
                let r = self.number_range(&self.segments[s as usize], want.number);
                (s, (r.start as u32..r.end as u32).collect())
            })
            .collect();
        let Some(d) = self.decide(groups, want) else {
            return GeocodeMatch::none();
        };
        let mut quality = found.wp_quality;
        if let Some(seg) = Self::decision_seg(&d) {
            quality = self.segment_quality(seg, qs, &found);
        }
        if let (Some(pc), Decision::Unique { id, .. }) = (pc, &d) {
            if self.recs[*id as usize].postcode != pc {
                quality = quality.penalised(0.1);
            }
        }
        self.finish_match(d, quality)
    }
}
