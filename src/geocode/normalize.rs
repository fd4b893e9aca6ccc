//! Text normalisation and parsing helpers for Dutch addresses.
//!
//! All functions are pure and never panic. They are shared by the index (applied to BAG names when the
//! index is built) and the matcher (applied to query text), so both sides of a comparison always go
//! through the same function.

/// A parsed Dutch house number designation: `{number}{letter}-{addition}`, e.g. `12A-3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseNumber {
    /// BAG `huisnummer`, 1..=99999.
    pub number: u32,
    /// BAG `huisletter`: one ASCII letter, upper-cased (source data uses both cases).
    pub letter: Option<char>,
    /// BAG `huisnummertoevoeging`: 1-4 ASCII alphanumerics, upper-cased, separators removed.
    pub addition: Option<String>,
}

/// Largest valid BAG `huisnummer`.
pub const MAX_HUISNUMMER: u32 = 99_999;

/// Largest valid length of a BAG `huisnummertoevoeging`.
pub const MAX_TOEVOEGING_LEN: usize = 4;

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '/' | '_' | '.' | ',' | '\\' | '+' | '#')
}

/// Parse a raw house number as found in source data.
///
/// Accepted shapes (case-insensitive, surrounding whitespace ignored):
/// `12`, `12a`, `12 A`, `12-A`, `12A-3`, `12A3`, `12 3`, `12/3`, `12-3`, `12 hs`, `12-1hg`.
///
/// Rules, in order:
/// 1. The text must start with 1-5 digits forming a number in 1..=99999 (no leading `nr`, no ranges of
///    more than 5 digits). Digits are never glued across a separator: `131 3` is number 131, addition `3`,
///    never 1313.
/// 2. A single ASCII letter directly after the number, or after one separator, that is followed by the end,
///    a separator or a digit is the `huisletter` (`12a`, `12 A`, `12-A`, `12A-3`, `12A3`). Note that `12-A`
///    is therefore read as letter `A`; the matcher also tries it as toevoeging `A` when the letter reading
///    finds nothing.
/// 3. Everything after that, with separators removed and upper-cased, is the `toevoeging`; it must be 1-4
///    ASCII alphanumerics (`12 hs` -> `HS`, `12/3` -> `3`, `12-1hg` -> `1HG`).
///
/// Returns `None` when the text does not follow this grammar (empty, no leading digits, number 0 or
/// > 99999, toevoeging longer than 4 or containing other characters).
pub fn parse_house_number(raw: &str) -> Option<HouseNumber> {
    let s = raw.trim();
    let digits_end = s
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(s.len(), |(i, _)| i);
    if digits_end == 0 || digits_end > 5 {
        return None;
    }
    let number: u32 = s[..digits_end].parse().ok()?;
    if number == 0 || number > MAX_HUISNUMMER {
        return None;
    }
    let rest = &s[digits_end..];
    let after_sep = rest.trim_start_matches(is_separator);
    let mut letter = None;
    let mut tail = after_sep;
    let mut chars = after_sep.chars();
    if let Some(c) = chars.next() {
        if c.is_ascii_alphabetic() {
            let next = chars.next();
            let single = match next {
                None => true,
                Some(n) => is_separator(n) || n.is_ascii_digit(),
            };
            // "12 A 3" and "12A3" have a letter; "12 3A" has none (the addition starts with a digit).
            if single {
                letter = Some(c.to_ascii_uppercase());
                tail = &after_sep[c.len_utf8()..];
            }
        } else if !c.is_ascii_digit() {
            // Something that is neither a letter nor an addition, e.g. "12?".
            return None;
        }
    }
    let mut addition = String::new();
    for c in tail.chars() {
        if c.is_ascii_alphanumeric() {
            addition.push(c.to_ascii_uppercase());
        } else if !is_separator(c) {
            return None;
        }
    }
    if addition.len() > MAX_TOEVOEGING_LEN {
        return None;
    }
    Some(HouseNumber {
        number,
        letter,
        addition: if addition.is_empty() {
            None
        } else {
            Some(addition)
        },
    })
}

/// Pack a postcode into a `u32` (0 is never produced): `digits * 676 + letter1 * 26 + letter2 + 1`.
///
/// Accepts the same spellings as [`normalize_postcode`]. The packing preserves the lexical order of the
/// normalised postcode text.
pub fn pack_postcode(raw: &str) -> Option<u32> {
    let mut digits = 0u32;
    let mut nd = 0usize;
    let mut letters = [0u8; 2];
    let mut nl = 0usize;
    for c in raw.chars() {
        if c.is_whitespace() {
            // Only around the text or between the digit and letter groups.
            if !(nd == 0 || (nd == 4 && nl == 0) || nl == 2) {
                return None;
            }
            continue;
        }
        if !c.is_ascii() {
            return None;
        }
        let b = c as u8;
        match b {
            b'0'..=b'9' => {
                if nl > 0 || nd == 4 || (nd == 0 && b == b'0') {
                    return None;
                }
                digits = digits * 10 + u32::from(b - b'0');
                nd += 1;
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                if nd != 4 || nl == 2 {
                    return None;
                }
                letters[nl] = b.to_ascii_uppercase() - b'A';
                nl += 1;
            }
            _ => return None,
        }
    }
    if nd != 4 || nl != 2 {
        return None;
    }
    Some(digits * 676 + u32::from(letters[0]) * 26 + u32::from(letters[1]) + 1)
}

/// Inverse of [`pack_postcode`]: the normalised text `1012JS`.
pub fn unpack_postcode(packed: u32) -> Option<String> {
    let v = packed.checked_sub(1)?;
    let digits = v / 676;
    if !(1000..=9999).contains(&digits) {
        return None;
    }
    let l = v % 676;
    let a = char::from(b'A' + (l / 26) as u8);
    let b = char::from(b'A' + (l % 26) as u8);
    Some(format!("{digits}{a}{b}"))
}

/// Normalise a postcode: `1012 js` -> `1012JS`. Whitespace between (not inside) the digit and letter
/// groups is allowed; the result must match `^[1-9][0-9]{3}[A-Z]{2}$`, otherwise `None`.
pub fn normalize_postcode(raw: &str) -> Option<String> {
    pack_postcode(raw).and_then(unpack_postcode)
}

/// Fold text for comparison: transliterate to ASCII (diacritics, the `Ĳ` ligature, curly quotes), lower-case,
/// and turn every run of non-alphanumeric characters into one space; no leading or trailing space.
pub(crate) fn fold(raw: &str) -> String {
    fold_with(raw, true)
}

/// Fold, keeping single spaces between words (`spaces`) or dropping them.
fn fold_with(raw: &str, spaces: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_ascii_alphanumeric() {
            if spaces && pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_space = true;
        }
    };
    for c in raw.chars() {
        if c.is_ascii() {
            push(c, &mut out);
        } else {
            let mut buf = [0u8; 4];
            let s: &str = c.encode_utf8(&mut buf);
            for d in deunicode::deunicode(s).chars() {
                push(d, &mut out);
            }
        }
    }
    out
}

/// Folded text without any separators: the form the fuzzy matcher compares (`Kerk-straat` -> `kerkstraat`).
pub(crate) fn fold_compact(raw: &str) -> String {
    fold_with(raw, false)
}

/// Remove the spaces of folded text.
pub(crate) fn compact(folded: &str) -> String {
    folded.chars().filter(|c| *c != ' ').collect()
}

/// Whole-word abbreviation: full form -> canonical (NEN 5825 style) short form.
fn word_abbreviation(word: &str) -> Option<&'static str> {
    Some(match word {
        "burgemeester" | "burgem" => "burg",
        "van" => "v",
        "dokter" | "doctor" => "dr",
        "sint" => "st",
        "prinses" | "prins" => "pr",
        "koningin" | "koning" => "kon",
        "professor" => "prof",
        "meester" => "mr",
        "generaal" => "gen",
        "gebroeders" => "gebr",
        "straat" => "str",
        "laan" => "ln",
        "plein" => "pln",
        _ => return None,
    })
}

/// Word-final abbreviations: `Kerkstraat` -> `kerkstr`, `Veenlaan` -> `veenln`, `Marktplein` -> `marktpln`.
const SUFFIX_ABBREVIATIONS: &[(&str, &str)] =
    &[("straat", "str"), ("laan", "ln"), ("plein", "pln")];

/// Normalise a street name to its matching key.
///
/// Both BAG names (full `openbare_ruimte_naam` and NEN 5825 `openbare_ruimte_naam_kort`) and query text go
/// through this function; two names match when their keys are equal. Steps:
/// 1. Fold: ASCII transliteration (`Ĳsselstraat` -> `ijsselstraat`), lower case, punctuation and
///    whitespace become word boundaries (`Burg.` = `Burg`, `'s-Gravenweg` = `s gravenweg`).
/// 2. Every word is contracted to the canonical abbreviation: `burgemeester` -> `burg`, `van` -> `v`,
///    `van de`/`van der`/`van den`/`v d`/`v/d` -> `vd`, `dokter` -> `dr`, `sint` -> `st`, `prinses`/`prins` -> `pr`,
///    `koningin`/`koning` -> `kon`, `professor` -> `prof`, `meester` -> `mr`, `generaal` -> `gen`,
///    `gebroeders` -> `gebr`, and word endings `...straat` -> `...str`, `...laan` -> `...ln`, `...plein` -> `...pln`.
/// 3. The words are concatenated without separators, so `Kerk straat`, `Kerkstraat` and `Kerkstr.` all give
///    `kerkstr`, and `Burgemeester van Veenlaan`, `Burg v Veenln` and `Burg. v. Veenlaan` all give
///    `burgvveenln`. Digits are kept (`Plein 1926` -> `pln1926`).
pub fn normalize_street(raw: &str) -> String {
    street_key_from_folded(&fold(raw))
}

/// [`normalize_street`] on text already folded by [`fold`].
pub(crate) fn street_key_from_folded(folded: &str) -> String {
    let mut tokens = folded.split(' ').filter(|t| !t.is_empty()).peekable();
    let mut out = String::with_capacity(folded.len());
    while let Some(t) = tokens.next() {
        if t == "v" || t == "van" {
            if let Some(next) = tokens.peek() {
                if matches!(*next, "d" | "de" | "der" | "den") {
                    out.push_str("vd");
                    tokens.next();
                    continue;
                }
            }
        }
        if t == "vd" || t == "vdr" || t == "vden" {
            out.push_str("vd");
            continue;
        }
        if let Some(short) = word_abbreviation(t) {
            out.push_str(short);
        } else if let Some((full, short)) = SUFFIX_ABBREVIATIONS
            .iter()
            .find(|(full, _)| t.ends_with(full))
        {
            out.push_str(&t[..t.len() - full.len()]);
            out.push_str(short);
        } else {
            out.push_str(t);
        }
    }
    out
}

/// Woonplaats synonyms: (folded compact alias, folded compact official BAG name).
const WOONPLAATS_SYNONYMS: &[(&str, &str)] = &[
    ("denbosch", "shertogenbosch"),
    ("hertogenbosch", "shertogenbosch"),
    ("denhaag", "sgravenhage"),
    ("thehague", "sgravenhage"),
    ("gravenhage", "sgravenhage"),
];

/// Normalise a woonplaats name to its matching key: folded (ASCII, lower case, punctuation removed), words
/// concatenated, and known synonyms mapped to the official BAG name: `Den Bosch` and `'s-Hertogenbosch`
/// both give `shertogenbosch`; `Den Haag`, `The Hague` and `'s-Gravenhage` give `sgravenhage`.
pub fn normalize_woonplaats(raw: &str) -> String {
    let key = fold_compact(raw);
    match WOONPLAATS_SYNONYMS.iter().find(|(alias, _)| *alias == key) {
        Some((_, official)) => (*official).to_string(),
        None => key,
    }
}

/// Upper-cased toevoeging with separators and whitespace removed (`" 1-hg "` -> `1HG`); empty -> `None`.
pub(crate) fn normalize_toevoeging(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .filter(|c| !is_separator(*c))
        .flat_map(char::to_uppercase)
        .collect();
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// Case-insensitive comparison of two names ignoring leading/trailing whitespace, without allocating.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    let a = a.trim();
    let b = b.trim();
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Reusable buffers for [`osa_distance_bounded`].
#[derive(Default)]
pub(crate) struct EditBuffers {
    prev2: Vec<usize>,
    prev: Vec<usize>,
    cur: Vec<usize>,
}

/// Damerau-Levenshtein distance (optimal string alignment variant: insertions, deletions, substitutions
/// and transpositions of adjacent bytes) between two ASCII strings, or `None` when it exceeds `max`.
pub(crate) fn osa_distance_bounded(
    a: &[u8],
    b: &[u8],
    max: usize,
    buf: &mut EditBuffers,
) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let m = b.len();
    buf.prev2.clear();
    buf.prev2.resize(m + 1, 0);
    buf.prev.clear();
    buf.prev.extend(0..=m);
    buf.cur.clear();
    buf.cur.resize(m + 1, 0);
    for i in 1..=a.len() {
        buf.cur[0] = i;
        let mut row_min = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (buf.prev[j] + 1)
                .min(buf.cur[j - 1] + 1)
                .min(buf.prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(buf.prev2[j - 2] + 1);
            }
            buf.cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut buf.prev2, &mut buf.prev);
        std::mem::swap(&mut buf.prev, &mut buf.cur);
    }
    let d = buf.prev[m];
    (d <= max).then_some(d)
}

/// Largest edit distance accepted for a typo in a name of `len` folded characters:
/// 0 up to 4 characters, 1 up to 8, 2 up to 15, 3 beyond.
pub(crate) fn max_typo_distance(len: usize) -> usize {
    match len {
        0..=4 => 0,
        5..=8 => 1,
        9..=15 => 2,
        _ => 3,
    }
}
