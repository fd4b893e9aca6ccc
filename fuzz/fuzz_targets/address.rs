//! Address parsing and normalisation (`brandpunt::geocode`): house numbers, postcodes, street and woonplaats
//! keys, and both geocoder entry points on a small index (the BAG test fixture plus synthetic addresses).
//!
//! Input: UTF-8 (lossy) text. The whole text goes through every parser; split at `|` it also forms a
//! structured query (street | huisnummer | huisletter | toevoeging | postcode | woonplaats). Invariants:
//! - `parse_house_number`: number in 1..=99999, letter one upper-case ASCII letter, toevoeging 1-4 upper-case
//!   ASCII alphanumerics; re-printed as `{number}{letter}-{toevoeging}` it parses to the same value.
//! - postcodes: `normalize_postcode` gives `^[1-9][0-9]{3}[A-Z]{2}$` or `None`, is idempotent, equals
//!   `unpack_postcode(pack_postcode(..))`, and packing preserves the order of the normalised text.
//! - `normalize_street`: ASCII lower-case alphanumerics only; for ASCII text it ignores case and treats every
//!   punctuation character like a space. `normalize_woonplaats` is idempotent and alphanumeric too.
//! - `unpack_postcode` of any `u32` packs back to the same value.
//! - geocoding never panics; only `Exact`/`Normalized`/`Fuzzy` carry an address, ids are inside the index,
//!   candidates sorted and unique, score in 0..=1.
#![no_main]

use std::sync::OnceLock;

use brandpunt::geocode::{
    normalize_postcode, normalize_street, normalize_woonplaats, pack_postcode, parse_house_number,
    synthetic, unpack_postcode, AddressQuery, BagAddress, GeocodeIndex, GeocodeIndexBuilder,
    GeocodeMatch, MatchKind, MAX_HUISNUMMER, MAX_TOEVOEGING_LEN,
};
use libfuzzer_sys::fuzz_target;

/// The verblijfsobjecten of the BAG test fixture (`tests/fixtures/bag/bag-light.gpkg`, read directly with
/// SQLite: its points are the R-tree boxes) plus 4,000 synthetic addresses.
fn index() -> &'static GeocodeIndex {
    static I: OnceLock<GeocodeIndex> = OnceLock::new();
    I.get_or_init(|| {
        let mut b = GeocodeIndexBuilder::new();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/bag/bag-light.gpkg");
        let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("BAG fixture");
        let mut stmt = conn
            .prepare(
                "SELECT v.identificatie, v.openbare_ruimte_naam, v.openbare_ruimte_naam_kort, v.huisnummer, \
                 v.huisletter, v.toevoeging, v.postcode, v.woonplaats_naam, r.minx, r.miny \
                 FROM verblijfsobject v JOIN rtree_verblijfsobject_geom r ON r.id = v.feature_id",
            )
            .expect("BAG fixture query");
        type Row = (String, String, Option<String>, u32, Option<String>, Option<String>, Option<String>, String, f64, f64);
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
            })
            .expect("BAG fixture rows")
            .collect::<Result<_, _>>()
            .expect("BAG fixture rows");
        assert!(rows.len() > 1000, "BAG fixture has {} addresses", rows.len());
        for (id, street, short, number, letter, toev, postcode, wp, x, y) in &rows {
            b.push(&BagAddress {
                bag_id: id,
                street,
                street_short: short.as_deref(),
                huisnummer: *number,
                huisletter: letter.as_deref(),
                toevoeging: toev.as_deref(),
                postcode: postcode.as_deref(),
                woonplaats: wp,
                x_m: *x,
                y_m: *y,
            });
        }
        synthetic::for_each_address(4_000, 11, |a| b.push(a));
        b.finish()
    })
}

fn check_house_number(s: &str) {
    let Some(h) = parse_house_number(s) else {
        return;
    };
    assert!((1..=MAX_HUISNUMMER).contains(&h.number), "{h:?}");
    if let Some(l) = h.letter {
        assert!(l.is_ascii_uppercase(), "{h:?}");
    }
    if let Some(a) = &h.addition {
        assert!(!a.is_empty() && a.len() <= MAX_TOEVOEGING_LEN, "{h:?}");
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{h:?}"
        );
    }
    let mut printed = h.number.to_string();
    if let Some(l) = h.letter {
        printed.push(l);
    }
    if let Some(a) = &h.addition {
        printed.push('-');
        printed.push_str(a);
    }
    assert_eq!(
        parse_house_number(&printed).as_ref(),
        Some(&h),
        "re-parse of {printed:?} from {s:?}"
    );
}

fn check_postcode(s: &str) -> Option<(u32, String)> {
    let n = normalize_postcode(s);
    let packed = pack_postcode(s);
    assert_eq!(packed.and_then(unpack_postcode), n, "{s:?}");
    let n = n?;
    let b = n.as_bytes();
    assert!(
        b.len() == 6
            && (b'1'..=b'9').contains(&b[0])
            && b[1..4].iter().all(u8::is_ascii_digit)
            && b[4..].iter().all(u8::is_ascii_uppercase),
        "{n:?} from {s:?}"
    );
    assert_eq!(
        normalize_postcode(&n).as_deref(),
        Some(n.as_str()),
        "idempotent"
    );
    Some((packed?, n))
}

fn check_street(s: &str) {
    let key = normalize_street(s);
    assert!(
        key.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{key:?} from {s:?}"
    );
    if s.is_ascii() {
        assert_eq!(
            normalize_street(&s.to_ascii_uppercase()),
            key,
            "case of {s:?}"
        );
        let spaced: String = s
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
            .collect();
        assert_eq!(normalize_street(&spaced), key, "punctuation of {s:?}");
    }
    let wp = normalize_woonplaats(s);
    assert!(
        wp.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{wp:?} from {s:?}"
    );
    assert_eq!(
        normalize_woonplaats(&wp),
        wp,
        "woonplaats idempotent for {s:?}"
    );
}

fn check_match(m: &GeocodeMatch, index: &GeocodeIndex) {
    assert!((0.0..=1.0).contains(&m.score), "{m:?}");
    let n = index.len() as u32;
    match m.kind {
        MatchKind::Exact | MatchKind::Normalized | MatchKind::Fuzzy => {
            assert!(m.address.is_some_and(|a| a < n), "{m:?}");
        }
        _ => assert!(m.address.is_none(), "{m:?}"),
    }
    assert!(m.candidates.iter().all(|&c| c < n), "{m:?}");
    assert!(
        m.candidates.windows(2).all(|w| w[0] < w[1]),
        "candidates sorted, unique: {m:?}"
    );
}

fuzz_target!(|bytes: &[u8]| {
    if let Some(head) = bytes.get(..4) {
        let v = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if let Some(t) = unpack_postcode(v) {
            assert_eq!(pack_postcode(&t), Some(v), "unpack/pack of {v}");
        }
    }
    let text = String::from_utf8_lossy(bytes);
    let s = text.as_ref();
    check_house_number(s);
    check_street(s);
    check_postcode(s);
    let parts: Vec<&str> = s.split('|').collect();
    for p in &parts {
        check_house_number(p);
    }
    if let [a, b, ..] = parts.as_slice() {
        if let (Some((pa, na)), Some((pb, nb))) = (check_postcode(a), check_postcode(b)) {
            assert_eq!(
                pa.cmp(&pb),
                na.cmp(&nb),
                "packing keeps the order of {na} and {nb}"
            );
        }
    }
    let index = index();
    let field = |i: usize| parts.get(i).copied().filter(|f| !f.is_empty());
    let q = AddressQuery {
        street: field(0),
        huisnummer: field(1),
        huisletter: field(2),
        toevoeging: field(3),
        postcode: field(4),
        woonplaats: field(5),
    };
    check_match(&index.geocode(&q), index);
    check_match(&index.geocode_free_text(s), index);
});
