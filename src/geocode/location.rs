//! Locations that are not one address: intersections, streets, places near an address, and an address
//! followed by a remark. See the module docs of [`crate::geocode`] ("Locations that are not one address")
//! for the rules; this file implements them.

use super::freetext::find_postcode;
use super::index::{ambiguous, distance_m, sorted_unique, GeocodeIndex, Quality};
use super::normalize::{pack_postcode, parse_house_number};
use super::{AddressId, AddressQuery, GeocodeMatch, MatchKind};

/// Largest distance in metres between the closest pair of addresses of two streets for them to meet.
pub const INTERSECTION_MAX_GAP_M: f64 = 150.0;
/// Two candidate meeting points of the same two streets further apart than this (metres) make the
/// intersection ambiguous.
pub const INTERSECTION_SEPARATE_M: f64 = 300.0;
/// Added to half the closest pair's distance for an intersection's uncertainty (metres): a corner address
/// lies about this far from the street axes.
pub const CORNER_SETBACK_M: f64 = 25.0;
/// Uncertainty of `ter hoogte van`, `thv`, `t.o.`, `tegenover` + number (metres).
pub const NEAR_RADIUS_M: f64 = 25.0;
/// Uncertainty of `nabij`, `bij` + number (metres).
pub const NEAR_LOOSE_RADIUS_M: f64 = 50.0;
/// Score of an intersection, times the lower name quality of the two streets (1 exact, 0.95 normalised, ...).
pub const INTERSECTION_SCORE: f64 = 0.7;
/// Score of a near location, times the address's score; 0.1 less at the nearest other number (times the
/// street name quality).
pub const NEAR_SCORE: f64 = 0.7;
/// Score of a street location, times the street name quality.
pub const STREET_SCORE: f64 = 0.5;
/// Score cap of an address followed by a remark (the kind is at best `normalized`).
pub const REMARK_SCORE: f64 = 0.9;

/// Where to look: the woonplaats and/or postcode given with the phrase.
#[derive(Clone, Copy)]
struct Area<'a> {
    woonplaats: Option<&'a str>,
    pc: Option<u32>,
}

/// Words before a house number that mean "near": normalised (lower case, dots removed) -> uncertainty.
fn near_marker(tokens: &[String]) -> Option<(usize, f64)> {
    if tokens.len() >= 3 && tokens[0] == "ter" && tokens[1] == "hoogte" && tokens[2] == "van" {
        return Some((3, NEAR_RADIUS_M));
    }
    match tokens.first().map(String::as_str) {
        Some("thv" | "to" | "t/o" | "tegenover") => Some((1, NEAR_RADIUS_M)),
        Some("nabij" | "bij") => Some((1, NEAR_LOOSE_RADIUS_M)),
        _ => None,
    }
}

/// First words of a remark after an address (`Burgwal 3 bij de bushalte`).
const REMARK_WORDS: &[&str] = &[
    "bij",
    "nabij",
    "voor",
    "achter",
    "naast",
    "tegenover",
    "thv",
    "to",
    "t/o",
    "ter",
    "richting",
    "nabijheid",
    "hoek",
    "op",
    "in",
];

/// Lower case without dots: `T.o.` -> `to`, `t.h.v.` -> `thv`.
fn norm_word(t: &str) -> String {
    t.chars()
        .filter(|&c| c != '.')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_number_word(t: &str) -> bool {
    t.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

impl GeocodeIndex {
    /// Resolve a structured query: first as an address ([`GeocodeIndex::geocode`]); when that finds nothing,
    /// the street field (with the house number fields appended) is read as a location that is not one
    /// address (`hoek Burgwal/Boterlaan`, `Burgwal thv 3`, `Burgwal`, `Burgwal 3 bij de bushalte`) within the
    /// query's woonplaats or postcode. Never `Exact` for these; see the module docs.
    ///
    /// ```
    /// use brandpunt::geocode::{AddressQuery, BagAddress, GeocodeIndexBuilder, MatchKind};
    /// let mut b = GeocodeIndexBuilder::new();
    /// for (i, (street, nr, x, y)) in [("Burgwal", 1, 0.0, 0.0), ("Burgwal", 3, 40.0, 0.0), ("Boterlaan", 2, 55.0, 30.0)]
    ///     .into_iter()
    ///     .enumerate()
    /// {
    ///     let id = format!("{:016}", i + 1);
    ///     b.try_push(&BagAddress {
    ///         bag_id: &id, street, street_short: None, huisnummer: nr, huisletter: None, toevoeging: None,
    ///         postcode: None, woonplaats: "Demostad", x_m: 200_000.0 + x, y_m: 450_000.0 + y,
    ///     })?;
    /// }
    /// let idx = b.finish();
    /// let q = AddressQuery { street: Some("hoek Burgwal/Boterlaan"), woonplaats: Some("Demostad"), ..Default::default() };
    /// let m = idx.geocode_place(&q);
    /// assert_eq!(m.kind, MatchKind::Intersection);
    /// assert_eq!(m.address, None);
    /// let (x, y) = m.point_m.unwrap();
    /// assert_eq!((x, y), (200_047.5, 450_015.0));
    /// # Ok::<(), brandpunt::geocode::GeocodeError>(())
    /// ```
    pub fn geocode_place(&self, q: &AddressQuery<'_>) -> GeocodeMatch {
        let m = self.geocode(q);
        if m.kind != MatchKind::None {
            return m;
        }
        let Some(street) = q.street.map(str::trim).filter(|s| !s.is_empty()) else {
            return m;
        };
        let mut phrase = street.to_string();
        for part in [q.huisnummer, q.huisletter, q.toevoeging]
            .into_iter()
            .flatten()
        {
            let part = part.trim();
            if !part.is_empty() {
                phrase.push(' ');
                phrase.push_str(part);
            }
        }
        let area = Area {
            woonplaats: q.woonplaats.map(str::trim).filter(|s| !s.is_empty()),
            pc: q.postcode.and_then(pack_postcode),
        };
        for fuzzy in [false, true] {
            let m = self.locate_phrase(&phrase, area, fuzzy);
            if m.kind != MatchKind::None {
                return m;
            }
        }
        GeocodeMatch::none()
    }

    /// The location reading of a one-line text that did not resolve as an address: the woonplaats is the
    /// text after the last comma, before the first comma, or the last one to four words when they name a
    /// woonplaats of the index; else the whole text is the phrase (searched in the whole index).
    pub(crate) fn locate_free_text(&self, text: &str) -> GeocodeMatch {
        let (pc, rest) = match find_postcode(text) {
            Some((s, e)) => (
                pack_postcode(&text[s..e]),
                format!("{} , {}", &text[..s], &text[e..]),
            ),
            None => (None, text.to_string()),
        };
        let parts: Vec<&str> = rest
            .split([',', ';', '\n'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return GeocodeMatch::none();
        }
        for fuzzy in [false, true] {
            let mut readings: Vec<(String, Option<String>)> = Vec::new();
            if parts.len() >= 2 {
                let last = parts[parts.len() - 1];
                if self.knows_woonplaats(last, fuzzy) {
                    readings.push((parts[..parts.len() - 1].join(" "), Some(last.to_string())));
                }
                if self.knows_woonplaats(parts[0], fuzzy) {
                    readings.push((parts[1..].join(" "), Some(parts[0].to_string())));
                }
            }
            let joined = parts.join(" ");
            let words: Vec<&str> = joined.split_whitespace().collect();
            for k in (1..=4.min(words.len().saturating_sub(1))).rev() {
                let wp = words[words.len() - k..].join(" ");
                if self.knows_woonplaats(&wp, fuzzy) {
                    readings.push((words[..words.len() - k].join(" "), Some(wp)));
                }
            }
            readings.push((joined.clone(), None));
            for (phrase, wp) in &readings {
                let area = Area {
                    woonplaats: wp.as_deref(),
                    pc,
                };
                let m = self.locate_phrase(phrase, area, fuzzy);
                if m.kind != MatchKind::None {
                    return m;
                }
            }
        }
        GeocodeMatch::none()
    }

    /// One phrase (without woonplaats) in an area: intersection, near, address with remark, or street.
    fn locate_phrase(&self, phrase: &str, area: Area<'_>, fuzzy: bool) -> GeocodeMatch {
        let raw: Vec<&str> = phrase.split_whitespace().collect();
        if raw.is_empty() {
            return GeocodeMatch::none();
        }
        let words: Vec<String> = raw.iter().map(|t| norm_word(t)).collect();

        // Intersection with a leading marker: `hoek A / B`, `kruising A - B`, `hoek van A en B`.
        let lead = match words.first().map(String::as_str) {
            Some("hoek" | "kruising" | "kruispunt") => {
                if words.get(1).map(String::as_str) == Some("van") {
                    2
                } else {
                    1
                }
            }
            _ => 0,
        };
        if lead > 0 {
            return self.intersection(&raw[lead..].join(" "), true, area, fuzzy);
        }

        // Near: `A thv 3` or `thv A 3`.
        if let Some(m) = self.near(&raw, &words, area, fuzzy) {
            return m;
        }

        // Address followed by a remark: `Burgwal 3 bij de bushalte`, only with a woonplaats or postcode (an
        // unknown woonplaats could otherwise be read as part of the remark).
        let remark_allowed = area.woonplaats.is_some() || area.pc.is_some();
        for j in (1..raw.len().saturating_sub(1)).filter(|_| remark_allowed) {
            if is_number_word(raw[j])
                && parse_house_number(raw[j]).is_some()
                && REMARK_WORDS.contains(&words[j + 1].as_str())
            {
                let street = raw[..j].join(" ");
                let m = self.geocode_with(
                    &AddressQuery {
                        street: Some(&street),
                        huisnummer: Some(raw[j]),
                        woonplaats: area.woonplaats,
                        ..Default::default()
                    },
                    fuzzy,
                );
                if m.kind <= MatchKind::Partial || m.kind == MatchKind::Ambiguous {
                    return with_remark(m);
                }
                break;
            }
        }

        // The whole phrase as a street, else as two streets meeting (`A / B`, `A x B`, `A hoek B`).
        let street = self.street(phrase, area, fuzzy);
        if street.kind != MatchKind::None {
            return street;
        }
        self.intersection(phrase, false, area, fuzzy)
    }

    /// `A thv 3`, `A bij 3`, `tegenover A 3`, `ter hoogte van A 3` (an `nr` before the number is skipped).
    fn near(
        &self,
        raw: &[&str],
        words: &[String],
        area: Area<'_>,
        fuzzy: bool,
    ) -> Option<GeocodeMatch> {
        let number_from = |from: usize| -> Option<String> {
            let mut from = from;
            if matches!(
                words.get(from).map(String::as_str),
                Some("nr" | "no" | "nummer")
            ) {
                from += 1;
            }
            let rest = raw.get(from..).filter(|r| !r.is_empty())?;
            let text = rest.join(" ");
            (is_number_word(rest[0]) && parse_house_number(&text).is_some()).then_some(text)
        };
        for i in 0..words.len() {
            let Some((len, radius_m)) = near_marker(&words[i..]) else {
                continue;
            };
            let (street, number) = if i > 0 {
                (raw[..i].join(" "), number_from(i + len)?)
            } else {
                // Marker first: the street runs up to the last word that starts a house number.
                let body = &raw[len..];
                let j = (1..body.len()).rev().find(|&j| {
                    is_number_word(body[j]) && parse_house_number(&body[j..].join(" ")).is_some()
                })?;
                (body[..j].join(" "), body[j..].join(" "))
            };
            return Some(self.near_address(&street, &number, radius_m, area, fuzzy));
        }
        None
    }

    fn near_address(
        &self,
        street: &str,
        number: &str,
        radius_m: f64,
        area: Area<'_>,
        fuzzy: bool,
    ) -> GeocodeMatch {
        let m = self.geocode_with(
            &AddressQuery {
                street: Some(street),
                huisnummer: Some(number),
                woonplaats: area.woonplaats,
                ..Default::default()
            },
            fuzzy,
        );
        let reference = match (m.kind, m.address, m.candidates.first()) {
            (MatchKind::Exact | MatchKind::Normalized | MatchKind::Fuzzy, Some(id), _) => {
                Some((id, m.score))
            }
            (MatchKind::Partial, _, Some(&first)) => Some((first, m.score)),
            (MatchKind::Ambiguous, _, _) => return m,
            _ => None,
        };
        let (id, score) = match reference {
            Some((id, s)) => (id, s * NEAR_SCORE),
            None => {
                // The number is not on the street: its nearest number.
                let Some(want) = parse_house_number(number) else {
                    return GeocodeMatch::none();
                };
                let segs = self.street_segments_named(street, area.woonplaats, area.pc, fuzzy);
                match segs.as_slice() {
                    [] => return GeocodeMatch::none(),
                    [(seg, q)] => {
                        let Some(id) = self.segment_addresses(*seg).min_by_key(|&a| {
                            (self.huisnummer(a).abs_diff(want.number), self.huisnummer(a))
                        }) else {
                            return GeocodeMatch::none();
                        };
                        (id, q.score * (NEAR_SCORE - 0.1))
                    }
                    many => {
                        return ambiguous(
                            many.iter()
                                .filter_map(|&(s, _)| self.segment_addresses(s).next())
                                .collect(),
                        )
                    }
                }
            }
        };
        GeocodeMatch {
            kind: MatchKind::Near,
            score,
            address: None,
            candidates: vec![id],
            point_m: Some(self.point_m(id)),
            uncertainty_m: Some(radius_m),
        }
    }

    /// A street without a number: the address nearest the centroid of the street's addresses, with the
    /// largest distance from it to any address of the street as uncertainty.
    fn street(&self, phrase: &str, area: Area<'_>, fuzzy: bool) -> GeocodeMatch {
        if phrase.split_whitespace().any(|w| {
            matches!(
                norm_word(w).as_str(),
                "hoek" | "x" | "kruising" | "thv" | "bij" | "nabij" | "tegenover"
            )
        }) || phrase.contains('/')
        {
            return GeocodeMatch::none();
        }
        // A house number after a street the index knows is an address the BAG does not have (`Stationsplein
        // 999`): not located, so the analyst sees it and corrects the number, rather than the street's point.
        if let Some((head, last)) = phrase.trim().rsplit_once(char::is_whitespace) {
            if is_number_word(last)
                && parse_house_number(last).is_some()
                && !self
                    .street_segments_named(head, area.woonplaats, area.pc, fuzzy)
                    .is_empty()
            {
                return GeocodeMatch::none();
            }
        }
        let segs = self.street_segments_named(phrase, area.woonplaats, area.pc, fuzzy);
        match segs.as_slice() {
            [] => GeocodeMatch::none(),
            [(seg, q)] => {
                let ids: Vec<AddressId> = self.segment_addresses(*seg).collect();
                if ids.is_empty() {
                    return GeocodeMatch::none();
                }
                let n = ids.len() as f64;
                let (sx, sy) = ids.iter().fold((0.0, 0.0), |(sx, sy), &a| {
                    let (x, y) = self.point_m(a);
                    (sx + x, sy + y)
                });
                let centroid = (sx / n, sy / n);
                let Some(&mid) = ids.iter().min_by(|&&a, &&b| {
                    distance_m(self.point_m(a), centroid)
                        .total_cmp(&distance_m(self.point_m(b), centroid))
                }) else {
                    return GeocodeMatch::none();
                };
                let p = self.point_m(mid);
                let extent_m = ids
                    .iter()
                    .map(|&a| distance_m(p, self.point_m(a)))
                    .fold(0.0, f64::max);
                GeocodeMatch {
                    kind: MatchKind::Street,
                    score: q.score * STREET_SCORE,
                    address: None,
                    candidates: vec![mid],
                    point_m: Some(p),
                    uncertainty_m: Some(extent_m),
                }
            }
            // A street name alone in several woonplaatsen names no place: the woonplaats is needed.
            _ => GeocodeMatch::none(),
        }
    }

    /// Two streets in `text` separated by `/`, `-`, `x`, `hoek` (or `en` after a leading marker) meeting
    /// within [`INTERSECTION_MAX_GAP_M`] in one woonplaats.
    fn intersection(&self, text: &str, marked: bool, area: Area<'_>, fuzzy: bool) -> GeocodeMatch {
        let mut splits: Vec<(usize, usize)> = Vec::new();
        for (i, c) in text.char_indices() {
            if matches!(c, '/' | '-' | '–' | '&' | '+') {
                splits.push((i, i + c.len_utf8()));
            }
        }
        let mut pos = 0;
        for w in text.split_whitespace() {
            let start = pos + text[pos..].find(w).unwrap_or(0);
            pos = start + w.len();
            let n = norm_word(w);
            if n == "x" || n == "hoek" || (marked && n == "en") {
                splits.push((start, pos));
            }
        }
        let mut found: Vec<GeocodeMatch> = Vec::new();
        for (s, e) in splits {
            let (a, b) = (text[..s].trim(), text[e..].trim());
            if !a.chars().any(char::is_alphabetic) || !b.chars().any(char::is_alphabetic) {
                continue;
            }
            let sa = self.street_segments_named(a, area.woonplaats, area.pc, fuzzy);
            if sa.is_empty() {
                continue;
            }
            let sb = self.street_segments_named(b, area.woonplaats, area.pc, fuzzy);
            if sb.is_empty() {
                continue;
            }
            let m = self.meeting(&sa, &sb);
            if m.kind != MatchKind::None && !found.iter().any(|f| f.point_m == m.point_m) {
                found.push(m);
            }
        }
        match found.len() {
            0 => GeocodeMatch::none(),
            1 => found.pop().unwrap_or_else(GeocodeMatch::none),
            _ => ambiguous(found.into_iter().flat_map(|m| m.candidates).collect()),
        }
    }

    /// The meeting point of two streets (each possibly in several woonplaatsen).
    fn meeting(&self, a: &[(u32, Quality)], b: &[(u32, Quality)]) -> GeocodeMatch {
        let mut meetings: Vec<(Meeting, f64)> = Vec::new();
        for &(sa, qa) in a {
            for &(sb, qb) in b {
                if sa == sb || self.segment_woonplaats_key(sa) != self.segment_woonplaats_key(sb) {
                    continue;
                }
                if let Some(m) = self.closest_pair(sa, sb) {
                    meetings.push((m, qa.score.min(qb.score)));
                }
            }
        }
        match meetings.as_slice() {
            [] => GeocodeMatch::none(),
            [(m, score)] if m.second.is_none() => GeocodeMatch {
                kind: MatchKind::Intersection,
                score: score * INTERSECTION_SCORE,
                address: None,
                candidates: sorted_unique(vec![m.a, m.b]),
                point_m: Some(m.point_m),
                uncertainty_m: Some(m.gap_m / 2.0 + CORNER_SETBACK_M),
            },
            many => ambiguous(
                many.iter()
                    .flat_map(|(m, _)| {
                        let mut v = vec![m.a, m.b];
                        if let Some((c, d)) = m.second {
                            v.extend([c, d]);
                        }
                        v
                    })
                    .collect(),
            ),
        }
    }

    /// The closest pair of addresses of two segments, when within [`INTERSECTION_MAX_GAP_M`]; `second` is
    /// another pair within that gap whose midpoint lies more than [`INTERSECTION_SEPARATE_M`] away.
    fn closest_pair(&self, sa: u32, sb: u32) -> Option<Meeting> {
        let mut pb: Vec<(f64, f64, AddressId)> = self
            .segment_addresses(sb)
            .map(|i| {
                let (x, y) = self.point_m(i);
                (x, y, i)
            })
            .collect();
        pb.sort_unstable_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
        pb.dedup_by(|p, q| p.0 == q.0 && p.1 == q.1);
        if pb.is_empty() {
            return None;
        }
        // Nearest address of b for every address of a within the gap: (distance, a, b).
        let mut near: Vec<(f64, AddressId, AddressId)> = Vec::new();
        let mut last: Option<(f64, f64)> = None;
        for ia in self.segment_addresses(sa) {
            let (x, y) = self.point_m(ia);
            if last == Some((x, y)) {
                continue;
            }
            last = Some((x, y));
            let k = pb.partition_point(|p| p.0 < x);
            let mut best = (INTERSECTION_MAX_GAP_M, None);
            for p in pb[k..].iter() {
                if p.0 - x > best.0 {
                    break;
                }
                let d = (p.0 - x).hypot(p.1 - y);
                if d <= best.0 {
                    best = (d, Some(p.2));
                }
            }
            for p in pb[..k].iter().rev() {
                if x - p.0 > best.0 {
                    break;
                }
                let d = (p.0 - x).hypot(p.1 - y);
                if d <= best.0 {
                    best = (d, Some(p.2));
                }
            }
            if let (d, Some(ib)) = best {
                near.push((d, ia, ib));
            }
        }
        let &(gap_m, a, b) = near
            .iter()
            .min_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)))?;
        let mid = |a: AddressId, b: AddressId| {
            let (pa, pb) = (self.point_m(a), self.point_m(b));
            ((pa.0 + pb.0) / 2.0, (pa.1 + pb.1) / 2.0)
        };
        let point_m = mid(a, b);
        let second = near
            .iter()
            .filter(|&&(_, c, d)| distance_m(mid(c, d), point_m) > INTERSECTION_SEPARATE_M)
            .min_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)))
            .map(|&(_, c, d)| (c, d));
        Some(Meeting {
            a,
            b,
            gap_m,
            point_m,
            second,
        })
    }
}

/// The closest pair of addresses of two streets ([`GeocodeIndex::closest_pair`]).
struct Meeting {
    a: AddressId,
    b: AddressId,
    gap_m: f64,
    point_m: (f64, f64),
    second: Option<(AddressId, AddressId)>,
}

/// An address match read from text with a remark dropped: at best `normalized`, score at most
/// [`REMARK_SCORE`].
fn with_remark(mut m: GeocodeMatch) -> GeocodeMatch {
    if m.kind <= MatchKind::Fuzzy {
        m.kind = m.kind.max(MatchKind::Normalized);
        m.score = m.score.min(REMARK_SCORE);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geocode::{BagAddress, GeocodeIndexBuilder};

    /// Demostad: Burgwal 1..=41 along y = -10 (x = 10 * nr); Boterlaan 1..=10 along x = 97 (y = 10 * nr), so
    /// the two meet between Burgwal 10 (100, -10) and Boterlaan 1 (97, 10); Ringweg touches Burgwal at both ends
    /// (two meeting points 396 m apart); Parkweg lies 5 km away; Kerkstraat exists in Demostad and Oudedorp.
    fn index() -> GeocodeIndex {
        let mut rows: Vec<(&str, u32, f64, f64, &str)> = Vec::new();
        for n in 1..=41 {
            rows.push(("Burgwal", n, 10.0 * f64::from(n), -10.0, "Demostad"));
        }
        for n in 1..=10 {
            rows.push(("Boterlaan", n, 97.0, 10.0 * f64::from(n), "Demostad"));
        }
        rows.extend([
            ("Ringweg", 1, 12.0, 5.0, "Demostad"),
            ("Ringweg", 3, 408.0, 5.0, "Demostad"),
            ("Ringweg", 5, 210.0, 300.0, "Demostad"),
            ("Parkweg", 1, 5_000.0, 5_000.0, "Demostad"),
            ("Kerkstraat", 1, 1_000.0, 1_000.0, "Demostad"),
            ("Kerkstraat", 2, 1_000.0, 1_020.0, "Demostad"),
            ("Kerkstraat", 1, 9_000.0, 9_000.0, "Oudedorp"),
        ]);
        let mut b = GeocodeIndexBuilder::new();
        for (i, (street, nr, x, y, wp)) in rows.into_iter().enumerate() {
            let id = format!("{:016}", i + 1);
            b.try_push(&BagAddress {
                bag_id: &id,
                street,
                street_short: None,
                huisnummer: nr,
                huisletter: None,
                toevoeging: None,
                postcode: None,
                woonplaats: wp,
                x_m: 200_000.0 + x,
                y_m: 450_000.0 + y,
            })
            .unwrap();
        }
        b.finish()
    }

    fn label(idx: &GeocodeIndex, ids: &[AddressId]) -> Vec<String> {
        let mut v: Vec<String> = ids.iter().map(|&i| idx.display(i)).collect();
        v.sort();
        v
    }

    fn local(m: &GeocodeMatch) -> (f64, f64) {
        let (x, y) = m.point_m.expect("point");
        (x - 200_000.0, y - 450_000.0)
    }

    #[test]
    fn intersection_forms_meet_at_the_midpoint_of_the_closest_pair() {
        let idx = index();
        let gap = 3.0f64.hypot(20.0);
        for text in [
            "hoek Burgwal/Boterlaan Demostad",
            "hoek Burgwal / Boterlaan Demostad",
            "Hoek Burgwal / Boterlaan, Demostad",
            "Burgwal hoek Boterlaan Demostad",
            "kruising Burgwal - Boterlaan Demostad",
            "Burgwal x Boterlaan Demostad",
            "Burgwal / Boterlaan Demostad",
            "hoek van Burgwal en Boterlaan Demostad",
            "hoek Boterlaan/Burgwal",
        ] {
            let m = idx.geocode_free_text(text);
            assert_eq!(m.kind, MatchKind::Intersection, "{text}: {m:?}");
            assert_eq!(m.address, None);
            assert_eq!(local(&m), (98.5, 0.0), "{text}");
            assert_eq!(m.uncertainty_m, Some(gap / 2.0 + CORNER_SETBACK_M));
            assert_eq!(m.score, INTERSECTION_SCORE);
            assert_eq!(
                label(&idx, &m.candidates),
                ["Boterlaan 1, Demostad", "Burgwal 10, Demostad"]
            );
        }
    }

    #[test]
    fn intersections_that_do_not_meet_once_are_not_placed() {
        let idx = index();
        // Two meeting points far apart.
        let m = idx.geocode_free_text("hoek Burgwal/Ringweg Demostad");
        assert_eq!(m.kind, MatchKind::Ambiguous, "{m:?}");
        assert_eq!(m.point_m, None);
        assert_eq!(
            label(&idx, &m.candidates),
            [
                "Burgwal 1, Demostad",
                "Burgwal 41, Demostad",
                "Ringweg 1, Demostad",
                "Ringweg 3, Demostad"
            ]
        );
        // Streets that never come within the gap, an unknown street, an unknown woonplaats.
        for text in [
            "hoek Burgwal/Parkweg Demostad",
            "hoek Burgwal/Nergensweg Demostad",
            "hoek Burgwal/Boterlaan Nergensdorp",
            "Burgwal / Kerkstraat Oudedorp",
        ] {
            assert_eq!(idx.geocode_free_text(text).kind, MatchKind::None, "{text}");
        }
    }

    #[test]
    fn a_street_alone_is_placed_at_its_middle_address_with_its_extent() {
        let idx = index();
        for text in ["Burgwal Demostad", "Burgwal, Demostad", "Burgwal"] {
            let m = idx.geocode_free_text(text);
            assert_eq!(m.kind, MatchKind::Street, "{text}: {m:?}");
            assert_eq!(m.address, None);
            // Centroid x = 210: Burgwal 21.
            assert_eq!(label(&idx, &m.candidates), ["Burgwal 21, Demostad"]);
            assert_eq!(local(&m), (210.0, -10.0));
            assert_eq!(m.uncertainty_m, Some(200.0));
            assert_eq!(m.score, STREET_SCORE);
        }
        // Kerkstraat is in two woonplaatsen: only with the woonplaats.
        let m = idx.geocode_free_text("Kerkstraat");
        assert_eq!(m.kind, MatchKind::None, "{m:?}");
        let m = idx.geocode_free_text("Kerkstraat Oudedorp");
        assert_eq!(m.kind, MatchKind::Street);
        assert_eq!(label(&idx, &m.candidates), ["Kerkstraat 1, Oudedorp"]);
        assert_eq!(m.uncertainty_m, Some(0.0));
        // A typo in the street, in a known woonplaats.
        let m = idx.geocode_free_text("Burgwall Demostad");
        assert_eq!(m.kind, MatchKind::Street, "{m:?}");
        assert!(m.score < STREET_SCORE);
        // Never moved to another woonplaats.
        assert_eq!(
            idx.geocode_free_text("Burgwal Nergensdorp").kind,
            MatchKind::None
        );
    }

    #[test]
    fn near_forms_place_at_the_numbered_address() {
        let idx = index();
        for (text, radius) in [
            ("Burgwal thv 3 Demostad", NEAR_RADIUS_M),
            ("Burgwal t.h.v. 3 Demostad", NEAR_RADIUS_M),
            ("tegenover Burgwal 3 Demostad", NEAR_RADIUS_M),
            ("ter hoogte van Burgwal 3, Demostad", NEAR_RADIUS_M),
            ("Burgwal nabij 3 Demostad", NEAR_LOOSE_RADIUS_M),
            ("Burgwal bij nr. 3 Demostad", NEAR_LOOSE_RADIUS_M),
        ] {
            let m = idx.geocode_free_text(text);
            assert_eq!(m.kind, MatchKind::Near, "{text}: {m:?}");
            assert_eq!(m.address, None, "{text}");
            assert_eq!(label(&idx, &m.candidates), ["Burgwal 3, Demostad"]);
            assert_eq!(local(&m), (30.0, -10.0));
            assert_eq!(m.uncertainty_m, Some(radius), "{text}");
            assert_eq!(m.score, NEAR_SCORE);
        }
        // A number the street does not have: its nearest number, with a lower score.
        let m = idx.geocode_free_text("Burgwal thv 99 Demostad");
        assert_eq!(m.kind, MatchKind::Near, "{m:?}");
        assert_eq!(label(&idx, &m.candidates), ["Burgwal 41, Demostad"]);
        assert!(m.score < NEAR_SCORE);
        // Without the woonplaats Kerkstraat is ambiguous.
        assert_eq!(
            idx.geocode_free_text("Kerkstraat thv 1").kind,
            MatchKind::Ambiguous
        );
    }

    #[test]
    fn an_address_with_a_remark_is_that_address_but_never_exact() {
        let idx = index();
        for text in [
            "Burgwal 3 bij de bushalte Demostad",
            "Burgwal 3 voor de deur, Demostad",
        ] {
            let m = idx.geocode_free_text(text);
            assert_eq!(m.kind, MatchKind::Normalized, "{text}: {m:?}");
            assert_eq!(idx.display(m.address.unwrap()), "Burgwal 3, Demostad");
            assert_eq!(m.score, REMARK_SCORE);
        }
        // The remark needs a known woonplaats: an unknown one is never read as part of the remark.
        assert_eq!(
            idx.geocode_free_text("Burgwal 3 bij de bushalte Nergensdorp")
                .kind,
            MatchKind::None
        );
        // The address itself is unchanged.
        assert_eq!(
            idx.geocode_free_text("Burgwal 3 Demostad").kind,
            MatchKind::Exact
        );
    }

    #[test]
    fn structured_queries_read_the_street_field_as_a_location() {
        let idx = index();
        let q = |street, nr, wp| AddressQuery {
            street: Some(street),
            huisnummer: nr,
            woonplaats: wp,
            ..Default::default()
        };
        let m = idx.geocode_place(&q("hoek Burgwal/Boterlaan", None, Some("Demostad")));
        assert_eq!(m.kind, MatchKind::Intersection);
        assert_eq!(local(&m), (98.5, 0.0));
        let m = idx.geocode_place(&q("Burgwal thv", Some("3"), Some("Demostad")));
        assert_eq!(m.kind, MatchKind::Near);
        let m = idx.geocode_place(&q("Burgwal", None, Some("Demostad")));
        assert_eq!(m.kind, MatchKind::Street);
        let m = idx.geocode_place(&q("Burgwal", Some("3"), Some("Demostad")));
        assert_eq!(m.kind, MatchKind::Exact);
        assert_eq!(m.point_m, Some(idx.point_m(m.address.unwrap())));
        assert_eq!(m.uncertainty_m, Some(0.0));
        let m = idx.geocode_place(&q("Burgwal", None, Some("Nergensdorp")));
        assert_eq!(m.kind, MatchKind::None);
    }
}
