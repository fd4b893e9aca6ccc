//! One-line address parsing: `Burg. v. Veenlaan 12a-3, 7511 AB Enschede`.
//!
//! The text is split into a postcode (the first `dddd LL` / `ddddLL` group with word boundaries), and
//! tokens separated by whitespace and commas. Every token that starts with a digit is a possible start of
//! the house number (street names may contain digits, as in `Plein 1926 12`); the house number may take
//! one to three tokens (`12`, `12 A`, `12 A 3`) and must parse with [`super::parse_house_number`]. The
//! street is the text between the previous comma and the number, the woonplaats the text after the number
//! (or, when nothing follows, the text before the street's comma, as in `Enschede, Kerkstraat 12`).
//! Interpretations whose woonplaats contains a digit are dropped. Each interpretation is resolved with the
//! structured matcher; the best kind wins, and when two interpretations give different unique objects of
//! the same kind the result is `Ambiguous`. Readings are first resolved without typo search, and only
//! when none matches anything, again with it.

use super::index::GeocodeIndex;
use super::normalize::parse_house_number;
use super::{AddressQuery, GeocodeMatch, MatchKind};

/// Byte range of the first postcode-looking group in `text`.
pub(super) fn find_postcode(text: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let n = b.len();
    let boundary = |i: usize| i >= n || !b[i].is_ascii_alphanumeric();
    let mut i = 0;
    while i + 6 <= n {
        let starts_word = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if starts_word
            && (b'1'..=b'9').contains(&b[i])
            && b[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        {
            let mut j = i + 4;
            if j < n && b[j] == b' ' {
                j += 1;
            }
            if j + 2 <= n
                && b[j].is_ascii_alphabetic()
                && b[j + 1].is_ascii_alphabetic()
                && boundary(j + 2)
            {
                return Some((i, j + 2));
            }
        }
        i += 1;
    }
    None
}

struct Token<'a> {
    text: &'a str,
    /// A comma (or the removed postcode) precedes this token.
    comma_before: bool,
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut comma = false;
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let sep = c.is_whitespace() || c == ',' || c == ';' || c == '\n';
        if sep {
            if let Some(s) = start.take() {
                out.push(Token {
                    text: &text[s..i],
                    comma_before: comma,
                });
                comma = false;
            }
            if c == ',' || c == ';' || c == '\n' {
                comma = true;
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(Token {
            text: &text[s..],
            comma_before: comma,
        });
    }
    out
}

fn join(tokens: &[Token<'_>]) -> String {
    let mut s = String::new();
    for t in tokens {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(t.text);
    }
    s
}

/// A continuation token of a house number: a short designation (`A`, `3`, `hs`, `-`, `-3`, `/3`).
fn is_continuation(t: &str) -> bool {
    let alnum = t.chars().filter(char::is_ascii_alphanumeric).count();
    alnum <= 4
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.'))
}

impl GeocodeIndex {
    /// Resolve a one-line address such as `Burg. v. Veenlaan 12a-3, 7511 AB Enschede`; when no address
    /// reading fits, the text is read as a location that is not one address (`hoek Burgwal/Boterlaan
    /// Demostad`, `Burgwal thv 3 Demostad`, `Burgwal Demostad`, `Burgwal 3 bij de bushalte Demostad`; see
    /// the module docs of [`crate::geocode`]).
    pub fn geocode_free_text(&self, text: &str) -> GeocodeMatch {
        geocode_free_text(self, text)
    }
}

fn geocode_free_text(index: &GeocodeIndex, text: &str) -> GeocodeMatch {
    let (postcode, rest): (Option<&str>, String) = match find_postcode(text) {
        Some((s, e)) => (
            Some(&text[s..e]),
            format!("{} , {}", &text[..s], &text[e..]),
        ),
        None => (None, text.to_string()),
    };
    let tokens = tokenize(&rest);
    // First every reading without typo search (cheap; a wrong reading then just finds nothing), and only
    // when no reading matched anything, again with typo search.
    let strict = resolve_readings(index, &tokens, postcode, false);
    if strict.kind != MatchKind::None {
        return strict;
    }
    let loose = resolve_readings(index, &tokens, postcode, true);
    if loose.kind != MatchKind::None {
        return loose;
    }
    // Not an address: an intersection, a street, a place near an address, an address with a remark.
    index.locate_free_text(text)
}

fn resolve_readings(
    index: &GeocodeIndex,
    tokens: &[Token<'_>],
    postcode: Option<&str>,
    fuzzy: bool,
) -> GeocodeMatch {
    let mut best: Option<GeocodeMatch> = None;
    let mut tied: Vec<u32> = Vec::new();
    for i in 0..tokens.len() {
        if !tokens[i]
            .text
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_digit)
        {
            continue;
        }
        let seg_start = (0..=i)
            .rev()
            .find(|&j| tokens[j].comma_before || j == 0)
            .unwrap_or(0);
        let street_tokens = &tokens[seg_start..i];
        if street_tokens.is_empty() && postcode.is_none() {
            continue;
        }
        let street = join(street_tokens);
        for k in 1..=3 {
            let end = i + k;
            if end > tokens.len() {
                break;
            }
            if k > 1 && (tokens[end - 1].comma_before || !is_continuation(tokens[end - 1].text)) {
                break;
            }
            let number = join(&tokens[i..end]);
            if parse_house_number(&number).is_none() {
                continue;
            }
            let after = &tokens[end..];
            let woonplaats = if after.is_empty() {
                join(&tokens[..seg_start])
            } else {
                join(after)
            };
            if woonplaats.bytes().any(|b| b.is_ascii_digit()) {
                continue;
            }
            let q = AddressQuery {
                street: (!street.is_empty()).then_some(street.as_str()),
                huisnummer: Some(&number),
                postcode,
                woonplaats: (!woonplaats.is_empty()).then_some(woonplaats.as_str()),
                ..AddressQuery::default()
            };
            let m = index.geocode_with(&q, fuzzy);
            match &best {
                None => best = Some(m),
                Some(b) => {
                    if m.kind < b.kind || (m.kind == b.kind && m.score > b.score) {
                        if m.kind < b.kind {
                            tied.clear();
                        }
                        if m.kind == b.kind && m.kind <= MatchKind::Fuzzy {
                            tied.extend(b.address);
                        }
                        best = Some(m);
                    } else if m.kind == b.kind
                        && m.kind <= MatchKind::Fuzzy
                        && m.address != b.address
                    {
                        tied.extend(m.address);
                    }
                }
            }
        }
    }
    let Some(best) = best else {
        return GeocodeMatch::none();
    };
    if best.kind <= MatchKind::Fuzzy {
        tied.retain(|a| Some(*a) != best.address);
        if !tied.is_empty() {
            let mut c = tied;
            c.extend(best.address);
            c.sort_unstable();
            c.dedup();
            return GeocodeMatch {
                kind: MatchKind::Ambiguous,
                score: 0.0,
                address: None,
                candidates: c,
                point_m: None,
                uncertainty_m: None,
            };
        }
    }
    best
}
