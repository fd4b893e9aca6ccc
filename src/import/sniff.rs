//! Dialect and value recognition for delivery files: text encoding, CSV delimiter, Dutch and ISO dates,
//! times of day and decimal numbers.
//!
//! Everything here is pure (bytes or text in, values out) and total: no function panics on any input, and
//! anything that cannot be recognised with certainty yields `None` instead of a guess.
//!
//! - **Encoding** ([`decode`]): a byte-order mark wins (UTF-8, UTF-16LE/BE, as written by Excel's
//!   "CSV UTF-8" and "Unicode text" exports); otherwise bytes that are valid UTF-8 are UTF-8 and anything else
//!   is Windows-1252 (what Dutch Excel writes for "CSV (gescheiden door lijstscheidingsteken)"). Windows-1252
//!   decoding never fails, so no byte is ever lost silently: at worst a wrongly forced encoding shows up as
//!   odd characters in the report.
//! - **Delimiter** ([`sniff_delimiter`]): each candidate (`;`, tab, `,`) parses the first 25 non-blank
//!   records with real CSV quoting rules; the winner is the one whose most frequent field count is above one
//!   and occurs most often (then: the larger field count). Ties go to `;`, then tab, then `,`,
//!   because a `,` also occurs as the decimal comma inside `;` files.
//! - **Dates** ([`parse_date`]): `dd-mm-jjjj`, `d-m-jjjj`, `dd/mm/jjjj`, `dd.mm.jjjj` and ISO `jjjj-mm-dd`
//!   (also `jjjj/mm/dd`, which is how GDAL renders Excel date cells), optionally followed by a time
//!   (`2024-03-15T14:30:00`, `15-03-2024 14:30`). Two-digit years are refused (ambiguous century).
//!   Years outside 1900..=2199 are treated as impossible.
//! - **Times** ([`parse_time`]): `HH:MM`, `H:MM`, `HH:MM:SS`, `HH.MM` and `HHMM`.
//! - **Numbers** ([`parse_decimal`]): an optional sign, digits, and at most one decimal separator that may be
//!   `,` or `.`. Thousands separators are never accepted: `155.000,5` and `1,234,567` are refused rather than
//!   guessed, and `155.000` is read as 155.0 (a coordinate check downstream then rejects it).

use std::borrow::Cow;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// How to decode the bytes of a text delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// BOM, else UTF-8 when valid, else Windows-1252.
    #[default]
    Auto,
    /// UTF-8 (a BOM is stripped; invalid sequences become U+FFFD).
    Utf8,
    /// Windows-1252 (cp1252), the Dutch Excel default.
    Windows1252,
}

/// Decoded text plus the name of the encoding that was used (`"utf-8"`, `"windows-1252"`, `"utf-16le"`,
/// `"utf-16be"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The text without byte-order mark.
    pub text: Cow<'a, str>,
    /// Encoding name as reported in `ParsedDelivery::encoding`.
    pub encoding: &'static str,
    /// True when the input started with a byte-order mark.
    pub had_bom: bool,
}

pub(crate) fn encoding_name(enc: &'static encoding_rs::Encoding) -> &'static str {
    if enc == encoding_rs::UTF_16LE {
        "utf-16le"
    } else if enc == encoding_rs::UTF_16BE {
        "utf-16be"
    } else if enc == encoding_rs::WINDOWS_1252 {
        "windows-1252"
    } else {
        "utf-8"
    }
}

/// Decodes delivery bytes to text (see the module docs for the rules). A byte-order mark always wins over
/// `requested`, because it is an explicit statement by the program that wrote the file.
pub fn decode(bytes: &[u8], requested: TextEncoding) -> Decoded<'_> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let body = bytes.get(bom_len..).unwrap_or_default();
        let (text, _had_errors) = enc.decode_without_bom_handling(body);
        return Decoded {
            text,
            encoding: encoding_name(enc),
            had_bom: true,
        };
    }
    match requested {
        TextEncoding::Windows1252 => Decoded {
            text: encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0,
            encoding: "windows-1252",
            had_bom: false,
        },
        TextEncoding::Utf8 => Decoded {
            text: String::from_utf8_lossy(bytes),
            encoding: "utf-8",
            had_bom: false,
        },
        TextEncoding::Auto => match std::str::from_utf8(bytes) {
            Ok(text) => Decoded {
                text: Cow::Borrowed(text),
                encoding: "utf-8",
                had_bom: false,
            },
            Err(_) => Decoded {
                text: encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0,
                encoding: "windows-1252",
                had_bom: false,
            },
        },
    }
}

/// Number of leading records inspected by [`sniff_delimiter`].
const SNIFF_RECORDS: usize = 25;

/// Picks the field delimiter of a CSV text among `;`, tab and `,` (see the module docs). Returns `;` when
/// nothing splits the header (a one-column file is then refused later as the wrong kind).
pub fn sniff_delimiter(text: &str) -> char {
    sniff_delimiter_in(&mut || text.as_bytes())
}

/// [`sniff_delimiter`] over a text that `open` reads from its start (once per candidate), so a large file
/// need not be in memory; a read error ends the text.
pub(crate) fn sniff_delimiter_in<R: std::io::Read>(open: &mut dyn FnMut() -> R) -> char {
    let mut best = (';', (false, 0usize, 0usize));
    for cand in [';', '\t', ','] {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(cand as u8)
            .has_headers(false)
            .flexible(true)
            .from_reader(open());
        // Field count -> number of records with that count.
        let mut counts: std::collections::BTreeMap<usize, usize> =
            std::collections::BTreeMap::new();
        let mut seen = 0usize;
        for rec in reader.records() {
            let Ok(rec) = rec else { break };
            // Blank under every candidate: only whitespace and candidate delimiters.
            if rec.iter().all(|f| {
                f.chars()
                    .all(|c| c.is_whitespace() || matches!(c, ';' | ','))
            }) {
                continue;
            }
            *counts.entry(rec.len()).or_default() += 1;
            seen += 1;
            if seen >= SNIFF_RECORDS {
                break;
            }
        }
        // The most frequent field count (ties: the larger count), so a title line above the header and a
        // few shifted rows do not decide.
        let (n, freq) = counts
            .iter()
            .map(|(&n, &f)| (n, f))
            .max_by_key(|&(n, f)| (f, n))
            .unwrap_or((0, 0));
        let score = (n > 1, freq, n);
        if score > best.1 {
            best = (cand, score);
        }
    }
    best.0
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn small_number(s: &str, min_len: usize, max_len: usize) -> Option<u32> {
    if s.len() < min_len || s.len() > max_len || !all_digits(s) {
        return None;
    }
    s.parse().ok()
}

/// Parses a date part only (no time); see the module docs for accepted forms.
fn parse_date_only(s: &str) -> Option<NaiveDate> {
    let sep = s.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    // Exactly three parts, without collecting them (this runs for every date cell of a delivery).
    let mut parts = s.split(sep);
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let (y, m, d) = if a.len() == 4 {
        (
            small_number(a, 4, 4)?,
            small_number(b, 1, 2)?,
            small_number(c, 1, 2)?,
        )
    } else if c.len() == 4 {
        (
            small_number(c, 4, 4)?,
            small_number(b, 1, 2)?,
            small_number(a, 1, 2)?,
        )
    } else {
        return None;
    };
    if !(1900..=2199).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// Parses a date, optionally followed by a time (separated by a space or ISO `T`). With `format` (a chrono
/// `strftime` pattern from the mapping file) only that format is tried, first as date-and-time, then as date:
/// an explicit format must never fall back to a different day/month order.
///
/// Returns the date and the embedded time of day if there was one; `None` when the text is not a valid date.
pub fn parse_date(s: &str, format: Option<&str>) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let s = s.trim();
    if let Some(fmt) = format {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some((dt.date(), Some(dt.time())));
        }
        return NaiveDate::parse_from_str(s, fmt).ok().map(|d| (d, None));
    }
    let (date_part, time_part) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let date = parse_date_only(date_part)?;
    match time_part {
        None => Some((date, None)),
        Some("") => None,
        Some(t) => {
            // "2024-03-15T14:30:00Z" or "+01:00": the delivery is local time; a zone marker is dropped only
            // when it is the UTC marker `Z`, anything else is refused rather than converted silently.
            let t = t.strip_suffix('Z').unwrap_or(t);
            parse_time(t).map(|time| (date, Some(time)))
        }
    }
}

/// Parses a time of day: `HH:MM`, `H:MM`, `HH:MM:SS` (fractional seconds dropped), `HH.MM` or `HHMM`.
/// `24:00` and other impossible times give `None`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    if s.len() == 4 && all_digits(s) {
        return NaiveTime::from_hms_opt(s[..2].parse().ok()?, s[2..].parse().ok()?, 0);
    }
    let sep = if s.contains(':') { ':' } else { '.' };
    let mut parts = s.split(sep);
    let (h, m, sec) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(m), None, _) => (h, m, "0"),
        (Some(h), Some(m), Some(sec), None) if sep == ':' => (h, m, sec),
        _ => return None,
    };
    let sec = sec.split_once('.').map_or(
        sec,
        |(whole, frac)| {
            if all_digits(frac) {
                whole
            } else {
                "x"
            }
        },
    );
    NaiveTime::from_hms_opt(
        small_number(h, 1, 2)?,
        small_number(m, 2, 2)?,
        small_number(sec, 1, 2)?,
    )
}

/// Interprets an Excel serial day number (days since 1899-12-30, as stored in XLSX cells whose date style
/// GDAL did not recognise), optionally with a fractional day as time. Only whole serials in
/// 1900-01-01..=2199-12-31 are accepted.
pub fn excel_serial_datetime(s: &str) -> Option<NaiveDateTime> {
    use chrono::Datelike;
    let value = parse_decimal(s)?;
    if !(1.0..=200_000.0).contains(&value) {
        return None;
    }
    let days = value.floor();
    let seconds = ((value - days) * 86_400.0).round();
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    // Both values are bounded above, so the casts cannot overflow.
    base.checked_add_signed(Duration::days(days as i64))?
        .checked_add_signed(Duration::seconds(seconds as i64))
        .filter(|dt| (1900..=2199).contains(&dt.year()))
}

/// Interprets an Excel time-of-day fraction (`0.5` = 12:00) as written for time-styled cells.
pub fn excel_fraction_time(s: &str) -> Option<NaiveTime> {
    let value = parse_decimal(s)?;
    if !(0.0..1.0).contains(&value) {
        return None;
    }
    let seconds = (value * 86_400.0).round() as u32;
    NaiveTime::from_num_seconds_from_midnight_opt(seconds.min(86_399), 0)
}

/// Parses a decimal number with `,` or `.` as decimal separator and no thousands separators (see the
/// module docs). Returns `None` for anything else, including `NaN`/`inf` spellings and exponents.
pub fn parse_decimal(s: &str) -> Option<f64> {
    let s = s.trim();
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut separators = 0;
    let mut digits = 0;
    for b in unsigned.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b',' | b'.' => separators += 1,
            _ => return None,
        }
    }
    if digits == 0 || separators > 1 {
        return None;
    }
    // Only sign, digits and one separator remain, so a short number fits a stack buffer; `,` becomes `.`.
    let mut buf = [0u8; 64];
    let value: f64 = match buf.get_mut(..s.len()) {
        Some(dst) => {
            for (d, &b) in dst.iter_mut().zip(s.as_bytes()) {
                *d = if b == b',' { b'.' } else { b };
            }
            std::str::from_utf8(dst).ok()?.parse().ok()?
        }
        None => s.replace(',', ".").parse().ok()?,
    };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    fn t(h: u32, m: u32, s: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, s).unwrap()
    }

    #[test]
    fn decodes_utf8_cp1252_and_boms() {
        let utf8 = "Rue de l'Église;ë".as_bytes();
        let dec = decode(utf8, TextEncoding::Auto);
        assert_eq!(dec.encoding, "utf-8");
        assert_eq!(dec.text, "Rue de l'Église;ë");

        // "Église" in cp1252: É = 0xC9, ë = 0xEB.
        let cp = b"\xC9glise;\xEB;\x80";
        let dec = decode(cp, TextEncoding::Auto);
        assert_eq!(dec.encoding, "windows-1252");
        assert_eq!(dec.text, "Église;ë;€");

        let bom = b"\xEF\xBB\xBFa;b";
        let dec = decode(bom, TextEncoding::Windows1252);
        assert_eq!(
            (dec.encoding, dec.text.as_ref(), dec.had_bom),
            ("utf-8", "a;b", true)
        );

        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a\tb".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        let dec = decode(&utf16, TextEncoding::Auto);
        assert_eq!((dec.encoding, dec.text.as_ref()), ("utf-16le", "a\tb"));

        // Forced cp1252 on ASCII-only UTF-8 changes nothing.
        assert_eq!(decode(b"abc", TextEncoding::Windows1252).text, "abc");
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter("a;b;c\n1;155000,5;3\n4;5,5;6\n"), ';');
        assert_eq!(sniff_delimiter("a,b,c\n1,\"155000,5\",3\n"), ',');
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2,5\t3\n"), '\t');
        assert_eq!(sniff_delimiter("single\nvalue\n"), ';');
        assert_eq!(sniff_delimiter(""), ';');
    }

    #[test]
    fn parses_dutch_and_iso_dates() {
        assert_eq!(parse_date("15-03-2024", None), Some((d(2024, 3, 15), None)));
        assert_eq!(parse_date("5-3-2024", None), Some((d(2024, 3, 5), None)));
        assert_eq!(parse_date("05/03/2024", None), Some((d(2024, 3, 5), None)));
        assert_eq!(parse_date("05.03.2024", None), Some((d(2024, 3, 5), None)));
        assert_eq!(parse_date("2024-03-05", None), Some((d(2024, 3, 5), None)));
        assert_eq!(parse_date("2024/03/05", None), Some((d(2024, 3, 5), None)));
        assert_eq!(
            parse_date("2024-03-05T14:30:00", None),
            Some((d(2024, 3, 5), Some(t(14, 30, 0))))
        );
        assert_eq!(
            parse_date("2024/03/05 08:05:09", None),
            Some((d(2024, 3, 5), Some(t(8, 5, 9))))
        );
        assert_eq!(
            parse_date(" 05-03-2024 7:15 ", None),
            Some((d(2024, 3, 5), Some(t(7, 15, 0))))
        );
        for bad in [
            "31-02-2024",
            "29-02-2023",
            "00-01-2024",
            "15-13-2024",
            "15-03-24",
            "2024-03",
            "15-03/2024",
            "gisteren",
            "",
            "15-03-2024 25:00",
            "15-03-1800",
            "15-03-2024T",
            "１５-03-2024",
        ] {
            assert_eq!(parse_date(bad, None), None, "{bad}");
        }
        assert_eq!(parse_date("29-02-2024", None), Some((d(2024, 2, 29), None)));
    }

    #[test]
    fn explicit_date_format_is_exclusive() {
        assert_eq!(
            parse_date("03/15/2024", Some("%m/%d/%Y")),
            Some((d(2024, 3, 15), None))
        );
        // Would be a valid dd/mm date, but the declared format says mm/dd: refuse, never fall back.
        assert_eq!(parse_date("15/03/2024", Some("%m/%d/%Y")), None);
        assert_eq!(
            parse_date("15032024 1430", Some("%d%m%Y %H%M")),
            Some((d(2024, 3, 15), Some(t(14, 30, 0))))
        );
    }

    #[test]
    fn parses_times() {
        assert_eq!(parse_time("14:30"), Some(t(14, 30, 0)));
        assert_eq!(parse_time("7:05"), Some(t(7, 5, 0)));
        assert_eq!(parse_time("07:05:59"), Some(t(7, 5, 59)));
        assert_eq!(parse_time("07:05:59.250"), Some(t(7, 5, 59)));
        assert_eq!(parse_time("14.30"), Some(t(14, 30, 0)));
        assert_eq!(parse_time("1430"), Some(t(14, 30, 0)));
        assert_eq!(parse_time("00:00"), Some(t(0, 0, 0)));
        for bad in [
            "24:00",
            "14:60",
            "14:3",
            "14",
            "14:30:00:00",
            "1.2.3",
            "ab:cd",
            "",
            "-1:00",
            "14:30:xx",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_decimals_without_thousands_separators() {
        assert_eq!(parse_decimal("155000,5"), Some(155_000.5));
        assert_eq!(parse_decimal("155000.5"), Some(155_000.5));
        assert_eq!(parse_decimal(" -4,25 "), Some(-4.25));
        assert_eq!(parse_decimal("+7"), Some(7.0));
        assert_eq!(parse_decimal("155.000"), Some(155.0));
        for bad in [
            "155.000,5",
            "1,234,567",
            "",
            "-",
            ",",
            "NaN",
            "inf",
            "1e5",
            "12 345",
            "0x10",
            "--1",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn excel_serials() {
        // 45366 = 2024-03-15 (Excel's 1900 system, epoch 1899-12-30).
        assert_eq!(
            excel_serial_datetime("45366"),
            Some(d(2024, 3, 15).and_hms_opt(0, 0, 0).unwrap())
        );
        assert_eq!(
            excel_serial_datetime("45366.75"),
            Some(d(2024, 3, 15).and_hms_opt(18, 0, 0).unwrap())
        );
        assert_eq!(excel_serial_datetime("0"), None);
        assert_eq!(excel_serial_datetime("99999999"), None);
        assert_eq!(excel_fraction_time("0.5"), Some(t(12, 0, 0)));
        assert_eq!(excel_fraction_time("0,604166666666667"), Some(t(14, 30, 0)));
        assert_eq!(excel_fraction_time("1.5"), None);
    }
}
