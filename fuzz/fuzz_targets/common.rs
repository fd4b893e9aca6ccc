//! Shared by the delivery targets: the police mapping of `tests/import/delivery_fuzz.rs` and the reader's
//! contract.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use brandpunt::coords::{is_within_netherlands_rd, is_within_netherlands_wgs84};
use brandpunt::import::delivery::{normalise_postcode, ParsedDelivery};
use brandpunt::import::mapping::Mapping;

pub fn mapping() -> &'static Mapping {
    static M: OnceLock<Mapping> = OnceLock::new();
    M.get_or_init(|| {
        Mapping::from_toml_str(
            "fuzz.toml",
            "[options]\ndate_format = \"%d-%m-%Y\"\nencoding = \"windows-1252\"\n[extra]\nopm = \"Opmerking\"\n",
        )
        .expect("the fixed fuzz mapping is valid")
    })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `max_line`: the largest line number the input can have (CSV: physical lines; XLSX: `u64::MAX`).
pub fn check_invariants(p: &ParsedDelivery, max_line: u64, mapped: bool) {
    // The same checks as tests/import/delivery_fuzz.rs ...
    let rejected: BTreeSet<u64> = p.rejections.iter().map(|r| r.line).collect();
    assert_eq!(rejected.len(), p.rejections.len(), "one rejection per line");
    assert_eq!(p.rows.len() as u64 + rejected.len() as u64, p.total_rows);
    for row in &p.rows {
        assert!(row.end >= row.begin, "window ordered");
        assert!(!row.registration.is_empty());
        assert!(!rejected.contains(&row.line));
        assert_eq!(row.content_hash.len(), 64);
    }
    assert!(p.rows.windows(2).all(|w| w[0].line < w[1].line));
    assert!(p.rejections.windows(2).all(|w| w[0].line < w[1].line));
    let regs: BTreeSet<&str> = p.rows.iter().map(|r| r.registration.as_str()).collect();
    assert_eq!(
        regs.len(),
        p.rows.len(),
        "registratienummers unique after dedup"
    );
    // ... plus the rest of the documented contract.
    assert_eq!(p.delimiter.is_some(), p.format == "csv");
    assert!(is_hex64(&p.checksum));
    // Line numbers are 1-based physical lines (or sheet rows).
    for line in p
        .rows
        .iter()
        .map(|r| r.line)
        .chain(rejected.iter().copied())
    {
        assert!(line >= 1 && line <= max_line, "line {line} of {max_line}");
    }
    for row in &p.rows {
        assert!(is_hex64(&row.content_hash));
        assert_eq!(
            row.registration.trim(),
            row.registration,
            "registratienummer trimmed"
        );
        assert_eq!(
            row.x_m.is_some(),
            row.y_m.is_some(),
            "x and y come in pairs"
        );
        assert_eq!(
            row.lat.is_some(),
            row.lon.is_some(),
            "lat and lon come in pairs"
        );
        if let (Some(x), Some(y)) = (row.x_m, row.y_m) {
            assert!(
                is_within_netherlands_rd(x, y),
                "RD ({x}, {y}) outside NL accepted"
            );
        }
        if let (Some(la), Some(lo)) = (row.lat, row.lon) {
            assert!(
                is_within_netherlands_wgs84(lo, la),
                "WGS84 ({la}, {lo}) outside NL accepted"
            );
        }
        if let Some(pc) = &row.postcode {
            // Normalised when it is a postcode, so normalising again changes nothing.
            if let Some(n) = normalise_postcode(pc) {
                assert_eq!(&n, pc, "postcode not normalised");
            }
        }
        let has_location = row.street.is_some()
            || row.postcode.is_some()
            || row.x_m.is_some()
            || row.lat.is_some()
            || row.buurtcode.is_some();
        assert!(has_location, "row {} has no location", row.line);
        if mapped {
            assert!(row.extra.contains_key("opm"), "[extra] name missing");
        }
    }
}
