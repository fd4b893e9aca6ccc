//! Integration tests of the CSV delivery reader against hand-built fixtures in
//! `tests/fixtures/deliveries/` (made by `make_fixtures.py`). Every expected value below was derived by hand
//! from the fixture text and the documented rules, not copied from the reader's output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use brandpunt::import::delivery::{
    read_delivery, read_delivery_bytes, DeliveryError, DeliveryRow, ParsedDelivery, Rejection,
};
use brandpunt::import::mapping::Mapping;
use brandpunt::import::report::{default_report_path, write_report, ReportEntry};
use chrono::NaiveDateTime;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/deliveries")
        .join(name)
}

fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A row with everything empty; tests fill in what the fixture has.
fn base(line: u64, reg: &str, begin: &str, end: &str, time_known: bool) -> DeliveryRow {
    DeliveryRow {
        line,
        registration: reg.to_string(),
        begin: dt(begin),
        end: dt(end),
        time_known,
        category_code: None,
        category_label: None,
        street: None,
        huisnummer: None,
        huisletter: None,
        toevoeging: None,
        postcode: None,
        plaats: None,
        x_m: None,
        y_m: None,
        lat: None,
        lon: None,
        buurtcode: None,
        extra: BTreeMap::new(),
        content_hash: String::new(),
    }
}

fn rej(line: u64, reg: Option<&str>, column: Option<&str>, reason: &str) -> Rejection {
    Rejection {
        line,
        registration: reg.map(str::to_string),
        column: column.map(str::to_string),
        reason: reason.to_string(),
    }
}

/// Compares rows ignoring `content_hash` (checked separately), which must be 64 hex characters.
fn assert_rows(parsed: &ParsedDelivery, expected: &[DeliveryRow]) {
    let got: Vec<DeliveryRow> = parsed
        .rows
        .iter()
        .map(|r| {
            assert_eq!(r.content_hash.len(), 64);
            assert!(r.content_hash.bytes().all(|b| b.is_ascii_hexdigit()));
            DeliveryRow {
                content_hash: String::new(),
                ..r.clone()
            }
        })
        .collect();
    assert_eq!(got.len(), expected.len(), "{:#?}", parsed.rows);
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(g, e);
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn messy_cp1252_delivery() {
    let path = fixture("messy_cp1252.csv");
    let parsed = read_delivery(&path, None).unwrap();
    assert_eq!(parsed.file_name, "messy_cp1252.csv");
    assert_eq!(parsed.format, "csv");
    assert_eq!(parsed.encoding, "windows-1252");
    assert_eq!(parsed.delimiter, Some(';'));
    assert_eq!(parsed.checksum, sha256_hex(&std::fs::read(&path).unwrap()));
    // 19 physical data lines after the header: one blank (16) and one continuation line (6) do not count.
    assert_eq!(parsed.total_rows, 17);

    let r2 = DeliveryRow {
        category_code: s("1.1.1"),
        category_label: s("Diefstal/inbraak woning"),
        street: s("Noëlstraat"),
        huisnummer: s("12"),
        huisletter: s("A"),
        postcode: s("5611AB"),
        plaats: s("Eindhoven"),
        ..base(
            2,
            "PL0900-2024000101",
            "2024-03-04 22:15:00",
            "2024-03-05 07:30:00",
            true,
        )
    };
    let r4 = DeliveryRow {
        category_code: s("2.2.1"),
        street: s("Caféstraat"),
        huisnummer: s("12 A"),
        plaats: s("Eindhoven"),
        ..base(
            4,
            "PL0900-2024000103",
            "2024-03-05 00:00:00",
            "2024-03-05 23:59:00",
            false,
        )
    };
    let r5 = DeliveryRow {
        category_label: s("Vernieling"),
        x_m: Some(155_000.0),
        y_m: Some(463_000.0),
        ..base(
            5,
            "PL0900-2024000104",
            "2024-03-06 14:30:00",
            "2024-03-06 16:45:10",
            true,
        )
    };
    let r17 = DeliveryRow {
        category_code: s("1.2.3"),
        category_label: s("Diefstal van brom-, snor-, fietsen"),
        x_m: Some(161_234.5),
        y_m: Some(383_456.75),
        ..base(
            17,
            "PL0900-2024000102",
            "2024-03-04 08:05:00",
            "2024-03-04 08:05:00",
            true,
        )
    };
    let r18 = DeliveryRow {
        category_code: s("1.1.2"),
        category_label: s("Diefstal/inbraak box/garage/schuur"),
        street: s("Noëlstraat"),
        huisnummer: s("131"),
        toevoeging: s("3"),
        postcode: s("5611AB"),
        plaats: s("Eindhoven"),
        ..base(
            18,
            "PL0900-2024000114",
            "2024-03-10 23:59:00",
            "2024-03-10 23:59:00",
            true,
        )
    };
    assert_rows(&parsed, &[r2, r4, r5, r17, r18]);

    let expected = vec![
        rej(
            3,
            Some("PL0900-2024000102"),
            Some("Registratienummer"),
            "dubbel in bestand: vervangen door regel 17",
        ),
        rej(
            7,
            None,
            Some("Registratienummer"),
            "registratienummer ontbreekt",
        ),
        rej(
            8,
            Some("PL0900-2024000106"),
            Some("Pleegdatum begin"),
            "ongeldige datum '31-02-2024'",
        ),
        rej(
            9,
            Some("PL0900-2024000107"),
            Some("Pleegdatum begin"),
            "pleegdatum begin ontbreekt",
        ),
        rej(
            10,
            Some("PL0900-2024000108"),
            Some("Pleegtijd begin"),
            "ongeldige tijd '25:10'",
        ),
        rej(
            11,
            Some("PL0900-2024000109"),
            Some("Pleegdatum eind"),
            "einde 07-03-2024 09:00 ligt voor begin 08-03-2024 18:00",
        ),
        rej(
            12,
            Some("PL0900-2024000110"),
            Some("X-coördinaat"),
            "ongeldig getal '155.000,5'",
        ),
        rej(
            13,
            Some("PL0900-2024000111"),
            Some("X-coördinaat"),
            "RD-coördinaten buiten Nederland (x=55000, y=46300)",
        ),
        rej(
            14,
            Some("PL0900-2024000112"),
            None,
            "te weinig velden (3 van 15)",
        ),
        rej(
            15,
            Some("PL0900-2024000113"),
            None,
            "geen locatie: adres, coördinaten en buurtcode ontbreken",
        ),
        rej(
            19,
            Some("PL0900-2024000115"),
            Some("Y-coördinaat"),
            "y ontbreekt bij x",
        ),
        rej(
            20,
            Some("PL0900-2024000116"),
            None,
            "te veel velden (18 van 15): verschoven regel?",
        ),
    ];
    assert_eq!(parsed.rejections, expected);
}

#[test]
fn utf8_bom_comma_delivery_with_wgs84() {
    let parsed = read_delivery(&fixture("bom_comma_utf8.csv"), None).unwrap();
    assert_eq!(parsed.encoding, "utf-8");
    assert_eq!(parsed.delimiter, Some(','));
    assert_eq!(parsed.total_rows, 5);
    let r2 = DeliveryRow {
        category_code: s("1.4.4"),
        category_label: s("Bedreiging"),
        lat: Some(51.4416),
        lon: Some(5.4697),
        plaats: s("Eindhoven"),
        ..base(
            2,
            "M-2024-0001",
            "2024-03-15 14:30:00",
            "2024-03-15 14:30:00",
            true,
        )
    };
    let r3 = DeliveryRow {
        category_code: s("2.1.1"),
        category_label: s("Drugs/drankoverlast"),
        lat: Some(51.44),
        lon: Some(5.47),
        plaats: s("Den Bosch"),
        ..base(
            3,
            "M-2024-0002",
            "2024-03-16 00:00:00",
            "2024-03-16 23:59:00",
            false,
        )
    };
    let r6 = DeliveryRow {
        category_code: s("1.4.6"),
        category_label: s("Straatroof"),
        lat: Some(51.45),
        lon: Some(5.48),
        plaats: s("Nuënen"),
        ..base(
            6,
            "M-2024-0005",
            "2024-03-18 07:45:00",
            "2024-03-18 07:45:00",
            true,
        )
    };
    assert_rows(&parsed, &[r2, r3, r6]);
    assert_eq!(
        parsed.rejections,
        vec![
            rej(
                4,
                Some("M-2024-0003"),
                Some("latitude"),
                "WGS84-coördinaten buiten Nederland (lat=5.47, lon=51.44) (lat en lon verwisseld?)",
            ),
            rej(
                5,
                Some("M-2024-0004"),
                Some("longitude"),
                "lon ontbreekt bij lat"
            ),
        ]
    );
}

#[test]
fn tab_delivery_with_buurtcodes_only() {
    let parsed = read_delivery(&fixture("tab_buurt.txt"), None).unwrap();
    assert_eq!(parsed.delimiter, Some('\t'));
    assert_eq!(parsed.encoding, "utf-8");
    let r2 = DeliveryRow {
        category_code: s("3.6.4"),
        category_label: s("Aantasting openbare orde"),
        buurtcode: s("BU07720110"),
        ..base(2, "H-1", "2024-03-01 07:00:00", "2024-03-01 07:00:00", true)
    };
    let r3 = DeliveryRow {
        category_label: s("Overlast jeugd"),
        buurtcode: s("BU07720111"),
        ..base(
            3,
            "H-2",
            "2024-03-02 00:00:00",
            "2024-03-02 23:59:00",
            false,
        )
    };
    let r4 = DeliveryRow {
        buurtcode: s("BU07720111"),
        ..base(4, "H-3", "2024-03-03 17:30:00", "2024-03-03 17:30:00", true)
    };
    assert_rows(&parsed, &[r2, r3, r4]);
    assert_eq!(
        parsed.rejections,
        vec![rej(
            5,
            Some("H-4"),
            None,
            "geen locatie: adres, coördinaten en buurtcode ontbreken"
        )]
    );
}

#[test]
fn wrong_kind_is_refused_naming_missing_and_found() {
    let err = read_delivery(&fixture("wrong_kind_bag.csv"), None).unwrap_err();
    match &err {
        DeliveryError::WrongKind {
            file,
            missing,
            found,
        } => {
            assert!(file.ends_with("wrong_kind_bag.csv"));
            assert_eq!(missing, &["registratienummer", "pleegdatum begin"]);
            assert_eq!(
                found,
                &[
                    "openbare_ruimte",
                    "huisnummer",
                    "huisletter",
                    "postcode",
                    "woonplaats"
                ]
            );
        }
        other => panic!("expected WrongKind, got {other:?}"),
    }
    assert!(err.to_string().contains("wrong_kind_bag.csv"));

    // Registration and date but no location source at all.
    let err = read_delivery_bytes(
        "zonder_locatie.csv",
        b"registratienummer;pleegdatum;omschrijving\nA;01-01-2024;x\n",
        None,
    )
    .unwrap_err();
    let DeliveryError::WrongKind { missing, .. } = err else {
        panic!("expected WrongKind");
    };
    assert_eq!(missing.len(), 1);
    assert!(missing[0].starts_with("locatie"));

    // Half a location source (straat without huisnummer) is not enough either.
    let err = read_delivery_bytes(
        "half.csv",
        b"registratienummer;pleegdatum;straat\nA;01-01-2024;Markt\n",
        None,
    )
    .unwrap_err();
    assert!(matches!(err, DeliveryError::WrongKind { .. }));
}

#[test]
fn mapping_file_renames_keeps_extra_and_drops_personal() {
    let mapping = Mapping::from_toml_file(&fixture("mapping_team.toml")).unwrap();
    assert_eq!(mapping.personal_columns, vec!["Kenteken"]);
    let path = fixture("mapped_team.csv");

    // Without the mapping the unit's own headers are not recognised.
    assert!(matches!(
        read_delivery(&path, None),
        Err(DeliveryError::WrongKind { .. })
    ));

    let parsed = read_delivery(&path, Some(&mapping)).unwrap();
    let extra = |team: &str| BTreeMap::from([("gebiedsteam".to_string(), team.to_string())]);
    let r2 = DeliveryRow {
        category_code: s("1.1.1"),
        category_label: s("Diefstal/inbraak woning"),
        street: s("Stationsplein"),
        huisnummer: s("1"),
        plaats: s("Eindhoven"),
        extra: extra("Team Centrum"),
        ..base(
            2,
            "2024/0001",
            "2024-03-15 10:00:00",
            "2024-03-15 10:00:00",
            true,
        )
    };
    let r4 = DeliveryRow {
        street: s("Markt"),
        huisnummer: s("3"),
        plaats: s("Eindhoven"),
        extra: extra(""),
        ..base(
            4,
            "2024/0003",
            "2024-03-16 00:00:00",
            "2024-03-16 23:59:00",
            false,
        )
    };
    assert_rows(&parsed, &[r2, r4]);
    // The declared date format is exclusive: an ISO date is refused, not guessed.
    assert_eq!(
        parsed.rejections,
        vec![rej(
            3,
            Some("2024/0002"),
            Some("Datum feit"),
            "ongeldige datum '2024-03-15' (verwacht formaat %d-%m-%Y)"
        )]
    );
    // No personal value reaches a row.
    for row in &parsed.rows {
        let debug = format!("{row:?}");
        assert!(!debug.contains("AB-123-C") && !debug.contains("XY-99-Z"));
    }
}

#[test]
fn mapping_naming_a_missing_header_is_an_error() {
    let mapping = Mapping::from_toml_str(
        "week.toml",
        "[columns]\nregistratienummer = \"Zaak-ID\"\n[extra]\nwijk = \"Wijknaam\"\n",
    )
    .unwrap();
    let err = read_delivery(&fixture("mapped_team.csv"), Some(&mapping)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DeliveryError::Mapping { .. }), "{text}");
    assert!(
        text.contains("mapped_team.csv") && text.contains("Wijknaam"),
        "{text}"
    );
}

#[test]
fn mapping_overrides_delimiter_and_encoding() {
    let mapping = Mapping::from_toml_str(
        "m.toml",
        "[options]\ndelimiter = \";\"\nencoding = \"utf-8\"\n",
    )
    .unwrap();
    // Forced UTF-8 on cp1252 bytes: the row is still read, the é becomes U+FFFD (visible, not dropped).
    let bytes = b"registratienummer;pleegdatum;straat;huisnummer\nA;01-01-2024;Caf\xe9straat;1\n";
    let parsed = read_delivery_bytes("x.csv", bytes, Some(&mapping)).unwrap();
    assert_eq!(parsed.encoding, "utf-8");
    assert_eq!(parsed.rows[0].street.as_deref(), Some("Caf\u{fffd}straat"));
    let auto = read_delivery_bytes("x.csv", bytes, None).unwrap();
    assert_eq!(auto.encoding, "windows-1252");
    assert_eq!(auto.rows[0].street.as_deref(), Some("Caféstraat"));
}

#[test]
fn content_hash_is_independent_of_encoding_and_dialect() {
    let cp1252 =
        b"Registratienummer;Pleegdatum;Pleegtijd;Straat;Huisnummer;X;Y\r\nA;04-03-2024;8:05;No\xebllaan;1;155000,5;463000\r\n";
    let utf8_tab =
        "\u{feff}registratienummer\tpleegdatum begin\tpleegtijd begin\tstraat\thuisnummer\tx\ty\n\
                    \n\
                    A\t2024-03-04\t08:05:00\tNoëllaan\t1\t155000.50\t463000\n";
    let a = read_delivery_bytes("a.csv", cp1252, None).unwrap();
    let b = read_delivery_bytes("b.csv", utf8_tab.as_bytes(), None).unwrap();
    assert_eq!(a.rows[0].line, 2);
    assert_eq!(b.rows[0].line, 3);
    assert_eq!(a.rows[0].content_hash, b.rows[0].content_hash);
    // A different street is a different version of the incident.
    let c = read_delivery_bytes("c.csv", &cp1252.replace_byte(b'\xeb', b'e'), None).unwrap();
    assert_ne!(a.rows[0].content_hash, c.rows[0].content_hash);
}

trait ReplaceByte {
    fn replace_byte(&self, from: u8, to: u8) -> Vec<u8>;
}

impl ReplaceByte for [u8] {
    fn replace_byte(&self, from: u8, to: u8) -> Vec<u8> {
        self.iter()
            .map(|&b| if b == from { to } else { b })
            .collect()
    }
}

#[test]
fn report_of_rejections_next_to_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("levering week 10.csv");
    std::fs::copy(fixture("messy_cp1252.csv"), &input).unwrap();
    let parsed = read_delivery(&input, None).unwrap();
    let entries: Vec<ReportEntry> = parsed.rejections.iter().map(ReportEntry::from).collect();
    let report = default_report_path(&input);
    assert_eq!(report, dir.path().join("levering week 10.rapport.csv"));
    write_report(&report, &entries).unwrap();
    let bytes = std::fs::read(&report).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 12);
    assert_eq!(lines[0], "regel;registratienummer;kolom;reden;uitkomst");
    assert_eq!(
        lines[1],
        "3;PL0900-2024000102;Registratienummer;dubbel in bestand: vervangen door regel 17;rejected"
    );
    assert_eq!(
        lines[7],
        "12;PL0900-2024000110;X-coördinaat;ongeldig getal '155.000,5';rejected"
    );
    assert_eq!(
        lines[3],
        "8;PL0900-2024000106;Pleegdatum begin;ongeldige datum '31-02-2024';rejected"
    );
}
