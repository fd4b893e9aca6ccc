//! Unit tests. The expected object of every query is fixed by how the hand-built index is constructed
//! (each object has a distinct, meaningful bag_id), never by copying the matcher's output.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Parsing helpers
// ---------------------------------------------------------------------------------------------------

fn hn(number: u32, letter: Option<char>, addition: Option<&str>) -> Option<HouseNumber> {
    Some(HouseNumber {
        number,
        letter,
        addition: addition.map(str::to_string),
    })
}

#[test]
fn house_number_formats() {
    assert_eq!(parse_house_number("12"), hn(12, None, None));
    assert_eq!(parse_house_number(" 12 "), hn(12, None, None));
    assert_eq!(parse_house_number("12a"), hn(12, Some('A'), None));
    assert_eq!(parse_house_number("12 A"), hn(12, Some('A'), None));
    assert_eq!(parse_house_number("12-A"), hn(12, Some('A'), None));
    assert_eq!(parse_house_number("12A-3"), hn(12, Some('A'), Some("3")));
    assert_eq!(parse_house_number("12a3"), hn(12, Some('A'), Some("3")));
    assert_eq!(parse_house_number("12 a 3"), hn(12, Some('A'), Some("3")));
    assert_eq!(parse_house_number("12 3"), hn(12, None, Some("3")));
    assert_eq!(parse_house_number("12/3"), hn(12, None, Some("3")));
    assert_eq!(parse_house_number("12-3"), hn(12, None, Some("3")));
    assert_eq!(parse_house_number("12 hs"), hn(12, None, Some("HS")));
    assert_eq!(parse_house_number("12-1hg"), hn(12, None, Some("1HG")));
    assert_eq!(parse_house_number("12 bis"), hn(12, None, Some("BIS")));
    assert_eq!(parse_house_number("99999"), hn(99_999, None, None));
}

#[test]
fn house_number_never_glues_digits() {
    assert_eq!(parse_house_number("131 3"), hn(131, None, Some("3")));
    assert_eq!(parse_house_number("131-3"), hn(131, None, Some("3")));
    assert_eq!(parse_house_number("1313"), hn(1313, None, None));
}

#[test]
fn house_number_rejects_garbage() {
    for raw in [
        "",
        "  ",
        "a12",
        "0",
        "100000",
        "123456",
        "12?",
        "12 toolong",
        "nr 12",
        "-12",
    ] {
        assert_eq!(parse_house_number(raw), None, "{raw:?}");
    }
}

#[test]
fn postcode_normalisation() {
    assert_eq!(normalize_postcode("1012 js").as_deref(), Some("1012JS"));
    assert_eq!(normalize_postcode("1012JS").as_deref(), Some("1012JS"));
    assert_eq!(normalize_postcode(" 9999zz ").as_deref(), Some("9999ZZ"));
    assert_eq!(normalize_postcode("1000 AA").as_deref(), Some("1000AA"));
    for bad in [
        "0123AB", "123AB", "12345AB", "1012J", "1012JSX", "1012 J S", "10 12JS", "AB1012",
        "1012-JS", "",
    ] {
        assert_eq!(normalize_postcode(bad), None, "{bad:?}");
    }
}

#[test]
fn postcode_packing_preserves_order_and_round_trips() {
    let codes = [
        "1000AA", "1000AB", "1000BA", "1012JS", "1099ZZ", "2000AA", "9999ZZ",
    ];
    let packed: Vec<u32> = codes.iter().map(|c| pack_postcode(c).unwrap()).collect();
    assert!(packed.windows(2).all(|w| w[0] < w[1]));
    for (c, p) in codes.iter().zip(&packed) {
        assert_eq!(unpack_postcode(*p).as_deref(), Some(*c));
    }
    assert_eq!(unpack_postcode(0), None);
}

#[test]
fn street_normalisation() {
    let full = normalize_street("Burgemeester van Veenlaan");
    assert_eq!(full, "burgvveenln");
    assert_eq!(normalize_street("Burg v Veenln"), full);
    assert_eq!(normalize_street("Burg. v. Veenlaan"), full);
    assert_eq!(normalize_street("BURGEMEESTER VAN VEENLAAN"), full);
    assert_eq!(normalize_street("Kerkstraat"), "kerkstr");
    assert_eq!(normalize_street("Kerkstr."), "kerkstr");
    assert_eq!(normalize_street("Kerk straat"), "kerkstr");
    assert_eq!(
        normalize_street("Ĳsselstraat"),
        normalize_street("IJsselstraat")
    );
    assert_eq!(
        normalize_street("Ĳsselstraat"),
        normalize_street("Ijsselstraat")
    );
    assert_eq!(normalize_street("Plein 1926"), "pln1926");
    assert_eq!(
        normalize_street("Van der Waalsstraat"),
        normalize_street("vd Waalsstr")
    );
    assert_eq!(
        normalize_street("Van den Berghlaan"),
        normalize_street("v/d Berghln")
    );
    assert_eq!(
        normalize_street("Dokter Schaepmanstraat"),
        normalize_street("Dr. Schaepmanstr")
    );
    assert_eq!(
        normalize_street("Sint Jansplein"),
        normalize_street("St Janspln")
    );
    assert_eq!(
        normalize_street("Prinses Irenestraat"),
        normalize_street("Pr. Irenestr.")
    );
    assert_eq!(
        normalize_street("Koningin Julianalaan"),
        normalize_street("Kon Julianaln")
    );
    assert_eq!(normalize_street("Café-straat"), "cafestr");
    assert_ne!(normalize_street("Kerkstraat"), normalize_street("Kerkweg"));
}

#[test]
fn woonplaats_normalisation_and_synonyms() {
    assert_eq!(
        normalize_woonplaats("Den Bosch"),
        normalize_woonplaats("'s-Hertogenbosch")
    );
    assert_eq!(
        normalize_woonplaats("den bosch"),
        normalize_woonplaats("\u{2019}s-Hertogenbosch")
    );
    assert_eq!(
        normalize_woonplaats("Den Haag"),
        normalize_woonplaats("'s-Gravenhage")
    );
    assert_eq!(
        normalize_woonplaats("ENSCHEDE"),
        normalize_woonplaats("Enschede")
    );
    assert_ne!(
        normalize_woonplaats("Den Haag"),
        normalize_woonplaats("Den Helder")
    );
}

#[test]
fn bounded_edit_distance() {
    use super::normalize::{osa_distance_bounded, EditBuffers};
    let mut b = EditBuffers::default();
    assert_eq!(
        osa_distance_bounded(b"kerkstaat", b"kerkstraat", 3, &mut b),
        Some(1)
    );
    assert_eq!(
        osa_distance_bounded(b"kerkstraat", b"kerkstraat", 3, &mut b),
        Some(0)
    );
    // Adjacent transposition counts as one edit.
    assert_eq!(
        osa_distance_bounded(b"kerkstarat", b"kerkstraat", 3, &mut b),
        Some(1)
    );
    assert_eq!(osa_distance_bounded(b"abc", b"xyz", 3, &mut b), Some(3));
    assert_eq!(osa_distance_bounded(b"abc", b"xyz", 2, &mut b), None);
    // Agrees with strsim's OSA distance on a sample of pairs.
    let words = [
        "kerkstraat",
        "kerkweg",
        "markt",
        "molenstraat",
        "molenstraut",
        "parkweg",
        "perkweg",
        "",
    ];
    for a in words {
        for c in words {
            let expected = strsim::osa_distance(a, c);
            assert_eq!(
                osa_distance_bounded(a.as_bytes(), c.as_bytes(), 20, &mut b),
                Some(expected),
                "{a} {c}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Hand-built index with the tricky cases
// ---------------------------------------------------------------------------------------------------

struct Obj {
    id: &'static str,
    street: &'static str,
    short: Option<&'static str>,
    nr: u32,
    letter: Option<&'static str>,
    toev: Option<&'static str>,
    pc: &'static str,
    wp: &'static str,
}

const fn o(
    id: &'static str,
    street: &'static str,
    nr: u32,
    letter: Option<&'static str>,
    toev: Option<&'static str>,
    pc: &'static str,
    wp: &'static str,
) -> Obj {
    Obj {
        id,
        street,
        short: None,
        nr,
        letter,
        toev,
        pc,
        wp,
    }
}

const VEEN: &str = "Burgemeester van Veenlaan";

fn objects() -> Vec<Obj> {
    let mut v = vec![
        // Burgemeester van Veenlaan (short Burg v Veenln), Enschede: a house and a flat building 12A-1..3.
        Obj {
            short: Some("Burg v Veenln"),
            ..o(
                "0153010000000012",
                VEEN,
                12,
                None,
                None,
                "7511AB",
                "Enschede",
            )
        },
        Obj {
            short: Some("Burg v Veenln"),
            ..o(
                "0153010000000121",
                VEEN,
                12,
                Some("A"),
                Some("1"),
                "7511AB",
                "Enschede",
            )
        },
        Obj {
            short: Some("Burg v Veenln"),
            ..o(
                "0153010000000122",
                VEEN,
                12,
                Some("A"),
                Some("2"),
                "7511AB",
                "Enschede",
            )
        },
        Obj {
            short: Some("Burg v Veenln"),
            ..o(
                "0153010000000123",
                VEEN,
                12,
                Some("A"),
                Some("3"),
                "7511AB",
                "Enschede",
            )
        },
        // Kerkstraat in three woonplaatsen, all with number 1.
        o(
            "0153010000001001",
            "Kerkstraat",
            1,
            None,
            None,
            "7511CD",
            "Enschede",
        ),
        o(
            "0153010000001002",
            "Kerkstraat",
            2,
            None,
            None,
            "7511CD",
            "Enschede",
        ),
        o(
            "0153010000001131",
            "Kerkstraat",
            131,
            None,
            Some("3"),
            "7511CE",
            "Enschede",
        ),
        o(
            "0153010000001313",
            "Kerkstraat",
            1313,
            None,
            None,
            "7511CF",
            "Enschede",
        ),
        o(
            "0164010000001001",
            "Kerkstraat",
            1,
            None,
            None,
            "7551AA",
            "Hengelo",
        ),
        o(
            "0796010000001001",
            "Kerkstraat",
            1,
            None,
            None,
            "5211BB",
            "'s-Hertogenbosch",
        ),
        o(
            "0796010000002001",
            "Markt",
            1,
            None,
            None,
            "5211AA",
            "'s-Hertogenbosch",
        ),
        o(
            "0518010000000002",
            "Lange Voorhout",
            2,
            None,
            None,
            "2514EA",
            "'s-Gravenhage",
        ),
        // Other Enschede streets.
        o(
            "0153010000002004",
            "Kerkweg",
            4,
            None,
            None,
            "7512KW",
            "Enschede",
        ),
        o(
            "0153010000003004",
            "\u{132}sselstraat",
            4,
            None,
            None,
            "7512AA",
            "Enschede",
        ),
        o(
            "0153010000004003",
            "Plein 1926",
            3,
            None,
            None,
            "7513AB",
            "Enschede",
        ),
        o(
            "0153010000005101",
            "Hengelosestraat",
            100,
            None,
            Some("1"),
            "7514AA",
            "Enschede",
        ),
        o(
            "0153010000005102",
            "Hengelosestraat",
            100,
            None,
            Some("2"),
            "7514AA",
            "Enschede",
        ),
        o(
            "0153010000005103",
            "Hengelosestraat",
            100,
            None,
            Some("3"),
            "7514AA",
            "Enschede",
        ),
        o(
            "0153010000005020",
            "Hengelosestraat",
            102,
            Some("a"),
            None,
            "7514AA",
            "Enschede",
        ),
        o(
            "0153010000006005",
            "Oldenzaalsestraat",
            5,
            None,
            Some("A"),
            "7514BB",
            "Enschede",
        ),
        o(
            "0153010000007001",
            "Parkweg",
            1,
            None,
            None,
            "7515AA",
            "Enschede",
        ),
        o(
            "0153010000008001",
            "Perkweg",
            1,
            None,
            None,
            "7515AB",
            "Enschede",
        ),
    ];
    // Corner postcode: two streets share 7516AA and both have number 9.
    v.push(o(
        "0153010000009009",
        "Molenstraat",
        9,
        None,
        None,
        "7516AA",
        "Enschede",
    ));
    v.push(o(
        "0153010000009109",
        "Beekstraat",
        9,
        None,
        None,
        "7516AA",
        "Enschede",
    ));
    // Another shared postcode where one street name is a prefix of the other.
    v.push(o(
        "0153010000010005",
        "Brink",
        5,
        None,
        None,
        "7517AA",
        "Enschede",
    ));
    v.push(o(
        "0153010000011005",
        "Brink Oost",
        5,
        None,
        None,
        "7517AA",
        "Enschede",
    ));
    v
}

fn index() -> GeocodeIndex {
    let mut b = GeocodeIndexBuilder::new();
    for (k, ob) in objects().iter().enumerate() {
        b.try_push(&BagAddress {
            bag_id: ob.id,
            street: ob.street,
            street_short: ob.short,
            huisnummer: ob.nr,
            huisletter: ob.letter,
            toevoeging: ob.toev,
            postcode: Some(ob.pc),
            woonplaats: ob.wp,
            x_m: 250_000.0 + k as f64,
            y_m: 470_000.0 + k as f64,
        })
        .unwrap();
    }
    b.finish()
}

fn q<'a>(street: &'a str, nr: &'a str, pc: &'a str, wp: &'a str) -> AddressQuery<'a> {
    let opt = |s: &'a str| (!s.is_empty()).then_some(s);
    AddressQuery {
        street: opt(street),
        huisnummer: opt(nr),
        postcode: opt(pc),
        woonplaats: opt(wp),
        ..Default::default()
    }
}

fn ids(idx: &GeocodeIndex, v: &[AddressId]) -> Vec<String> {
    let mut out: Vec<String> = v.iter().map(|&i| idx.bag_id(i)).collect();
    out.sort();
    out
}

#[track_caller]
fn expect_unique(idx: &GeocodeIndex, m: &GeocodeMatch, kind: MatchKind, bag: &str) {
    assert_eq!(
        m.kind,
        kind,
        "{m:?} candidates {:?}",
        ids(idx, &m.candidates)
    );
    let a = m.address.expect("address");
    assert_eq!(idx.bag_id(a), bag, "{}", idx.display(a));
    assert!(m.candidates.is_empty());
}

#[track_caller]
fn expect_set(idx: &GeocodeIndex, m: &GeocodeMatch, kind: MatchKind, bags: &[&str]) {
    assert_eq!(
        m.kind,
        kind,
        "{m:?} candidates {:?}",
        ids(idx, &m.candidates)
    );
    assert_eq!(m.address, None);
    let mut want: Vec<String> = bags.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(ids(idx, &m.candidates), want);
}

#[test]
fn index_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<GeocodeIndex>();
    assert_send_sync::<GeocodeIndexBuilder>();
}

#[test]
fn kind_labels() {
    let labels: Vec<&str> = [
        MatchKind::Exact,
        MatchKind::Normalized,
        MatchKind::Fuzzy,
        MatchKind::Partial,
        MatchKind::Ambiguous,
        MatchKind::None,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect();
    assert_eq!(
        labels,
        [
            "exact",
            "normalized",
            "fuzzy",
            "partial",
            "ambiguous",
            "none"
        ]
    );
}

#[test]
fn index_basics() {
    let idx = index();
    assert_eq!(idx.len(), objects().len());
    assert!(!idx.is_empty());
    assert_eq!(idx.skipped(), 0);
    assert_eq!(idx.woonplaats_count(), 4);
    assert_eq!(idx.postcode_count(), 17);
    // Streets are (woonplaats, street) pairs: Kerkstraat counts three times.
    assert_eq!(idx.street_count(), 17);
    // Every object is present once with its point.
    let mut seen: Vec<String> = (0..idx.len() as u32).map(|i| idx.bag_id(i)).collect();
    seen.sort();
    let mut want: Vec<String> = objects().iter().map(|o| o.id.to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(idx.bag_id(u32::MAX), "");
    assert!(idx.point_m(u32::MAX).0.is_nan());
}

#[test]
fn bag_id_keeps_leading_zeros() {
    let mut b = GeocodeIndexBuilder::new();
    b.push(&BagAddress {
        bag_id: "0000010000000001",
        street: "Kerkstraat",
        street_short: None,
        huisnummer: 1,
        huisletter: None,
        toevoeging: None,
        postcode: None,
        woonplaats: "Enschede",
        x_m: 1.0,
        y_m: 2.0,
    });
    let idx = b.finish();
    assert_eq!(idx.bag_id(0), "0000010000000001");
    assert_eq!(idx.point_m(0), (1.0, 2.0));
}

#[test]
fn invalid_records_are_counted_not_indexed() {
    let good = BagAddress {
        bag_id: "0153010000000001",
        street: "Kerkstraat",
        street_short: None,
        huisnummer: 1,
        huisletter: None,
        toevoeging: None,
        postcode: Some("7511AB"),
        woonplaats: "Enschede",
        x_m: 1.0,
        y_m: 2.0,
    };
    let mut b = GeocodeIndexBuilder::new();
    assert!(matches!(
        b.try_push(&BagAddress {
            bag_id: "abc",
            ..good
        }),
        Err(GeocodeError::InvalidBagId(_))
    ));
    assert!(matches!(
        b.try_push(&BagAddress {
            huisnummer: 0,
            ..good
        }),
        Err(GeocodeError::InvalidHuisnummer(0))
    ));
    assert!(matches!(
        b.try_push(&BagAddress {
            huisletter: Some("AB"),
            ..good
        }),
        Err(GeocodeError::InvalidHuisletter(_))
    ));
    assert!(matches!(
        b.try_push(&BagAddress {
            toevoeging: Some("12345"),
            ..good
        }),
        Err(GeocodeError::InvalidToevoeging(_))
    ));
    assert!(matches!(
        b.try_push(&BagAddress {
            postcode: Some("0511AB"),
            ..good
        }),
        Err(GeocodeError::InvalidPostcode(_))
    ));
    assert!(matches!(
        b.try_push(&BagAddress {
            street: " ",
            ..good
        }),
        Err(GeocodeError::EmptyName)
    ));
    assert!(matches!(
        b.try_push(&BagAddress {
            x_m: f64::NAN,
            ..good
        }),
        Err(GeocodeError::InvalidPoint)
    ));
    b.push(&BagAddress {
        bag_id: "x",
        ..good
    });
    b.push(&good);
    assert_eq!(b.skipped(), 1);
    let idx = b.finish();
    assert_eq!((idx.len(), idx.skipped()), (1, 1));
}

#[test]
fn postcode_and_number() {
    let idx = index();
    expect_unique(
        &idx,
        &idx.geocode(&q("", "1", "7511CD", "")),
        MatchKind::Exact,
        "0153010000001001",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("", "1", "7511 cd", "")),
        MatchKind::Exact,
        "0153010000001001",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("", "12A-3", "7511 AB", "")),
        MatchKind::Exact,
        "0153010000000123",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("", "12", "7511AB", "")),
        MatchKind::Exact,
        "0153010000000012",
    );
    // Postcode + number + agreeing street.
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstraat", "1", "7511CD", "Enschede")),
        MatchKind::Exact,
        "0153010000001001",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstr.", "1", "7511CD", "")),
        MatchKind::Normalized,
        "0153010000001001",
    );
    let m = idx.geocode(&q("Kerkstrat", "1", "7511CD", ""));
    expect_unique(&idx, &m, MatchKind::Fuzzy, "0153010000001001");
    assert!(m.score < 0.95 && m.score > 0.5);
}

#[test]
fn postcode_corner_needs_street() {
    let idx = index();
    expect_set(
        &idx,
        &idx.geocode(&q("", "9", "7516AA", "")),
        MatchKind::Ambiguous,
        &["0153010000009009", "0153010000009109"],
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Beekstraat", "9", "7516AA", "")),
        MatchKind::Exact,
        "0153010000009109",
    );
}

#[test]
fn postcode_prefers_the_best_agreeing_street() {
    let idx = index();
    expect_unique(
        &idx,
        &idx.geocode(&q("Brink", "5", "7517AA", "")),
        MatchKind::Exact,
        "0153010000010005",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Brink Oost", "5", "7517AA", "")),
        MatchKind::Exact,
        "0153010000011005",
    );
    expect_set(
        &idx,
        &idx.geocode(&q("", "5", "7517 AA", "")),
        MatchKind::Ambiguous,
        &["0153010000010005", "0153010000011005"],
    );
}

#[test]
fn postcode_contradicting_street_is_ambiguous() {
    let idx = index();
    // 7511CD 1 is Kerkstraat 1 Enschede; Markt 1 exists only in 's-Hertogenbosch.
    expect_set(
        &idx,
        &idx.geocode(&q("Markt", "1", "7511CD", "")),
        MatchKind::Ambiguous,
        &["0153010000001001", "0796010000002001"],
    );
    // A street that exists nowhere still contradicts the postcode: not a silent postcode answer.
    expect_set(
        &idx,
        &idx.geocode(&q("Stationsplein", "1", "7511CD", "")),
        MatchKind::Ambiguous,
        &["0153010000001001"],
    );
}

#[test]
fn postcode_without_the_number_falls_back_to_street_with_penalty() {
    let idx = index();
    // 7511AB has no number 1; Kerkstraat 1 Enschede is unique by street + woonplaats.
    let m = idx.geocode(&q("Kerkstraat", "1", "7511AB", "Enschede"));
    expect_unique(&idx, &m, MatchKind::Normalized, "0153010000001001");
    assert!(m.score <= 0.9 + 1e-12);
    // The postcode's woonplaats restricts the area when no woonplaats is given.
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstraat", "1", "7511AB", "")),
        MatchKind::Normalized,
        "0153010000001001",
    );
}

#[test]
fn same_street_in_several_woonplaatsen() {
    let idx = index();
    expect_set(
        &idx,
        &idx.geocode(&q("Kerkstraat", "1", "", "")),
        MatchKind::Ambiguous,
        &["0153010000001001", "0164010000001001", "0796010000001001"],
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstraat", "1", "", "Hengelo")),
        MatchKind::Exact,
        "0164010000001001",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("kerkstraat", "1", "", "HENGELO")),
        MatchKind::Exact,
        "0164010000001001",
    );
    // Unique in the index without a woonplaats: accepted.
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkweg", "4", "", "")),
        MatchKind::Exact,
        "0153010000002004",
    );
}

#[test]
fn woonplaats_synonyms() {
    let idx = index();
    expect_unique(
        &idx,
        &idx.geocode(&q("Markt", "1", "", "Den Bosch")),
        MatchKind::Normalized,
        "0796010000002001",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Markt", "1", "", "'s-Hertogenbosch")),
        MatchKind::Exact,
        "0796010000002001",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstraat", "1", "", "den bosch")),
        MatchKind::Normalized,
        "0796010000001001",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Lange Voorhout", "2", "", "Den Haag")),
        MatchKind::Normalized,
        "0518010000000002",
    );
}

#[test]
fn unknown_or_misspelt_woonplaats() {
    let idx = index();
    assert_eq!(
        idx.geocode(&q("Kerkstraat", "1", "", "Utrecht")).kind,
        MatchKind::None
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstraat", "1", "", "Enchede")),
        MatchKind::Fuzzy,
        "0153010000001001",
    );
}

#[test]
fn abbreviations_and_short_name() {
    let idx = index();
    for street in [
        "Burg v Veenln",
        "Burg. v. Veenlaan",
        "burgemeester van veenlaan",
        "BURG V VEENLN",
    ] {
        let m = idx.geocode(&q(street, "12", "", "Enschede"));
        assert!(m.kind <= MatchKind::Normalized, "{street}: {m:?}");
        expect_unique(&idx, &m, m.kind, "0153010000000012");
    }
    // The BAG short name itself is an exact name.
    expect_unique(
        &idx,
        &idx.geocode(&q("Burg v Veenln", "12A-2", "", "Enschede")),
        MatchKind::Exact,
        "0153010000000122",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q(VEEN, "12A-1", "", "Enschede")),
        MatchKind::Exact,
        "0153010000000121",
    );
}

#[test]
fn diacritics_and_digits_in_names() {
    let idx = index();
    expect_unique(
        &idx,
        &idx.geocode(&q("\u{132}sselstraat", "4", "", "Enschede")),
        MatchKind::Exact,
        "0153010000003004",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Ijsselstraat", "4", "", "Enschede")),
        MatchKind::Normalized,
        "0153010000003004",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("IJsselstraat", "4", "", "Enschede")),
        MatchKind::Normalized,
        "0153010000003004",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Plein 1926", "3", "", "Enschede")),
        MatchKind::Exact,
        "0153010000004003",
    );
}

#[test]
fn typo_in_street() {
    let idx = index();
    let m = idx.geocode(&q("Kerkstaat", "2", "", "Enschede"));
    expect_unique(&idx, &m, MatchKind::Fuzzy, "0153010000001002");
    assert!(m.score > 0.5 && m.score < 0.9);
    // Equally close to Parkweg and Perkweg: not clearly best, no guess.
    assert_eq!(
        idx.geocode(&q("Pirkweg", "1", "", "Enschede")).kind,
        MatchKind::None
    );
    // Without an area there is no country-wide typo search.
    assert_eq!(
        idx.geocode(&q("Kerkstaat", "2", "", "")).kind,
        MatchKind::None
    );
    // Typo search within a postcode's area.
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstaat", "2", "7511AB", "")),
        MatchKind::Fuzzy,
        "0153010000001002",
    );
}

#[test]
fn number_formats_and_letter_case() {
    let idx = index();
    for nr in ["100-3", "100 3", "100/3", "100-3 "] {
        expect_unique(
            &idx,
            &idx.geocode(&q("Hengelosestraat", nr, "", "Enschede")),
            MatchKind::Exact,
            "0153010000005103",
        );
    }
    for nr in ["102a", "102A", "102 A", "102 a", "102-A"] {
        expect_unique(
            &idx,
            &idx.geocode(&q("Hengelosestraat", nr, "", "Enschede")),
            MatchKind::Exact,
            "0153010000005020",
        );
    }
    for nr in ["12A-3", "12a-3", "12 A 3", "12A3", "12a/3"] {
        expect_unique(
            &idx,
            &idx.geocode(&q("", nr, "7511AB", "")),
            MatchKind::Exact,
            "0153010000000123",
        );
    }
    // Separate letter / toevoeging fields, any case.
    let sep = AddressQuery {
        huisnummer: Some("12"),
        huisletter: Some("a"),
        toevoeging: Some("2"),
        postcode: Some("7511AB"),
        ..Default::default()
    };
    expect_unique(
        &idx,
        &idx.geocode(&sep),
        MatchKind::Exact,
        "0153010000000122",
    );
    // 131 3 is 131-3, never 1313.
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstraat", "131 3", "", "Enschede")),
        MatchKind::Exact,
        "0153010000001131",
    );
    expect_unique(
        &idx,
        &idx.geocode(&q("Kerkstraat", "1313", "", "Enschede")),
        MatchKind::Exact,
        "0153010000001313",
    );
}

#[test]
fn letter_read_as_toevoeging_when_needed() {
    let idx = index();
    // Oldenzaalsestraat 5 has toevoeging A (no huisletter).
    let m = idx.geocode(&q("Oldenzaalsestraat", "5A", "", "Enschede"));
    expect_unique(&idx, &m, MatchKind::Normalized, "0153010000006005");
    assert!((m.score - 0.9).abs() < 1e-12);
    expect_unique(
        &idx,
        &idx.geocode(&q("Oldenzaalsestraat", "5 A", "7514BB", "")),
        MatchKind::Normalized,
        "0153010000006005",
    );
    let t = AddressQuery {
        toevoeging: Some("a"),
        ..q("Oldenzaalsestraat", "5", "", "Enschede")
    };
    expect_unique(&idx, &idx.geocode(&t), MatchKind::Exact, "0153010000006005");
}

#[test]
fn missing_toevoeging_is_partial() {
    let idx = index();
    let m = idx.geocode(&q("Hengelosestraat", "100", "", "Enschede"));
    expect_set(
        &idx,
        &m,
        MatchKind::Partial,
        &["0153010000005101", "0153010000005102", "0153010000005103"],
    );
    assert!((m.score - 0.5).abs() < 1e-12);
    // Letter given, toevoeging missing: the units with that letter.
    expect_set(
        &idx,
        &idx.geocode(&q("", "12A", "7511AB", "")),
        MatchKind::Partial,
        &["0153010000000121", "0153010000000122", "0153010000000123"],
    );
    // A unit that does not exist: the building, flagged as partial with a lower score.
    let m = idx.geocode(&q("Hengelosestraat", "100-9", "", "Enschede"));
    expect_set(
        &idx,
        &m,
        MatchKind::Partial,
        &["0153010000005101", "0153010000005102", "0153010000005103"],
    );
    assert!(m.score < 0.5);
}

#[test]
fn nothing_matches() {
    let idx = index();
    assert_eq!(idx.geocode(&AddressQuery::default()), GeocodeMatch::none());
    assert_eq!(
        idx.geocode(&q("Kerkstraat", "", "", "Enschede")).kind,
        MatchKind::None
    );
    assert_eq!(
        idx.geocode(&q("Kerkstraat", "77", "", "Enschede")).kind,
        MatchKind::None
    );
    assert_eq!(
        idx.geocode(&q("Nergensstraat", "1", "", "Enschede")).kind,
        MatchKind::None
    );
    assert_eq!(idx.geocode(&q("", "1", "9999ZZ", "")).kind, MatchKind::None);
    assert_eq!(
        idx.geocode(&q("Kerkstraat", "abc", "", "Enschede")).kind,
        MatchKind::None
    );
}

#[test]
fn free_text() {
    let idx = index();
    let cases: &[(&str, MatchKind, &str)] = &[
        (
            "Burg. v. Veenlaan 12a-3, 7511 AB Enschede",
            MatchKind::Normalized,
            "0153010000000123",
        ),
        (
            "Burgemeester van Veenlaan 12A-3, 7511AB Enschede",
            MatchKind::Exact,
            "0153010000000123",
        ),
        (
            "Burg v Veenln 12 A 2 Enschede",
            MatchKind::Exact,
            "0153010000000122",
        ),
        (
            "Kerkstraat 1, Hengelo",
            MatchKind::Exact,
            "0164010000001001",
        ),
        ("Kerkstraat 1 Hengelo", MatchKind::Exact, "0164010000001001"),
        (
            "Markt 1, Den Bosch",
            MatchKind::Normalized,
            "0796010000002001",
        ),
        (
            "Plein 1926 3, Enschede",
            MatchKind::Exact,
            "0153010000004003",
        ),
        (
            "Plein 1926 3 Enschede",
            MatchKind::Exact,
            "0153010000004003",
        ),
        ("7511CD 1", MatchKind::Exact, "0153010000001001"),
        ("Enschede, Kerkweg 4", MatchKind::Exact, "0153010000002004"),
        (
            "Kerkstraat 131 3 Enschede",
            MatchKind::Exact,
            "0153010000001131",
        ),
        (
            "Hengelosestraat 100/2, 7514 AA  Enschede",
            MatchKind::Exact,
            "0153010000005102",
        ),
        (
            "Kerkstaat 2, Enschede",
            MatchKind::Fuzzy,
            "0153010000001002",
        ),
    ];
    for (text, kind, bag) in cases {
        let m = idx.geocode_free_text(text);
        assert_eq!(m.kind, *kind, "{text}: {m:?}");
        expect_unique(&idx, &m, *kind, bag);
    }
    expect_set(
        &idx,
        &idx.geocode_free_text("Kerkstraat 1"),
        MatchKind::Ambiguous,
        &["0153010000001001", "0164010000001001", "0796010000001001"],
    );
    expect_set(
        &idx,
        &idx.geocode_free_text("Hengelosestraat 100 Enschede"),
        MatchKind::Partial,
        &["0153010000005101", "0153010000005102", "0153010000005103"],
    );
    assert_eq!(idx.geocode_free_text("").kind, MatchKind::None);
    assert_eq!(idx.geocode_free_text("Kerkstraat").kind, MatchKind::None);
    assert_eq!(
        idx.geocode_free_text("Kerkstraat 1, Utrecht").kind,
        MatchKind::None
    );
}

// ---------------------------------------------------------------------------------------------------
// Property-style: every pushed address geocodes back to itself.
// ---------------------------------------------------------------------------------------------------

struct Pushed {
    bag: String,
    street: String,
    short: Option<String>,
    number: u32,
    letter: Option<String>,
    toev: Option<String>,
    postcode: String,
    wp: String,
}

fn synthetic(n: usize) -> (GeocodeIndex, Vec<Pushed>) {
    let mut b = GeocodeIndexBuilder::new();
    let mut pushed = Vec::new();
    synthetic::for_each_address(n, 42, |a| {
        b.push(a);
        pushed.push(Pushed {
            bag: a.bag_id.to_string(),
            street: a.street.to_string(),
            short: a.street_short.map(str::to_string),
            number: a.huisnummer,
            letter: a.huisletter.map(str::to_string),
            toev: a.toevoeging.map(str::to_string),
            postcode: a.postcode.unwrap_or_default().to_string(),
            wp: a.woonplaats.to_string(),
        });
    });
    (b.finish(), pushed)
}

fn designation(p: &Pushed) -> String {
    let mut s = p.number.to_string();
    if let Some(l) = &p.letter {
        s.push_str(l);
    }
    if let Some(t) = &p.toev {
        s.push('-');
        s.push_str(t);
    }
    s
}

#[test]
fn synthetic_generator_shape() {
    let (idx, pushed) = synthetic(20_000);
    assert_eq!(pushed.len(), 20_000);
    assert_eq!(idx.len(), 20_000);
    assert_eq!(idx.skipped(), 0);
    let mut wps: Vec<&str> = pushed.iter().map(|p| p.wp.as_str()).collect();
    wps.sort_unstable();
    wps.dedup();
    assert_eq!(wps.len(), synthetic::woonplaats_count(20_000));
}

#[test]
fn every_address_geocodes_back_to_itself() {
    let (idx, pushed) = synthetic(20_000);
    for p in &pushed {
        let nr = designation(p);
        let full = AddressQuery {
            street: Some(&p.street),
            huisnummer: Some(&nr),
            postcode: Some(&p.postcode),
            woonplaats: Some(&p.wp),
            ..Default::default()
        };
        expect_unique(&idx, &idx.geocode(&full), MatchKind::Exact, &p.bag);
        let by_postcode = AddressQuery {
            huisnummer: Some(&nr),
            postcode: Some(&p.postcode),
            ..Default::default()
        };
        expect_unique(&idx, &idx.geocode(&by_postcode), MatchKind::Exact, &p.bag);
        let by_street = AddressQuery {
            street: Some(&p.street),
            huisnummer: Some(&nr),
            woonplaats: Some(&p.wp),
            ..Default::default()
        };
        expect_unique(&idx, &idx.geocode(&by_street), MatchKind::Exact, &p.bag);
        if let Some(short) = &p.short {
            let by_short = AddressQuery {
                street: Some(short),
                ..by_street
            };
            expect_unique(&idx, &idx.geocode(&by_short), MatchKind::Exact, &p.bag);
        }
        let separate = AddressQuery {
            street: Some(&p.street),
            huisnummer: Some(&p.number.to_string()),
            huisletter: p.letter.as_deref(),
            toevoeging: p.toev.as_deref(),
            woonplaats: Some(&p.wp),
            ..Default::default()
        };
        expect_unique(&idx, &idx.geocode(&separate), MatchKind::Exact, &p.bag);
    }
}

#[test]
fn every_address_free_text_geocodes_back_to_itself() {
    let (idx, pushed) = synthetic(20_000);
    for p in pushed.iter().step_by(3) {
        let pc = format!("{} {}", &p.postcode[..4], &p.postcode[4..]);
        let text = format!("{} {}, {} {}", p.street, designation(p), pc, p.wp);
        let m = idx.geocode_free_text(&text);
        expect_unique(&idx, &m, MatchKind::Exact, &p.bag);
        let lower = text.to_lowercase();
        let m = idx.geocode_free_text(&lower);
        expect_unique(&idx, &m, MatchKind::Exact, &p.bag);
    }
}
