//! Robustness: random bytes, truncated and mutated deliveries must never panic, and every successful read
//! must satisfy the reader's invariants (each data row is either accepted or rejected exactly once,
//! windows are ordered, lines are sorted). Deterministic (seeded ChaCha), no proptest.

use std::collections::BTreeSet;
use std::path::Path;

use brandpunt::import::delivery::{read_delivery_bytes, ParsedDelivery};
use brandpunt::import::mapping::Mapping;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/deliveries")
            .join(name),
    )
    .unwrap()
}

fn check_invariants(p: &ParsedDelivery) {
    let rejected: BTreeSet<u64> = p.rejections.iter().map(|r| r.line).collect();
    assert_eq!(rejected.len(), p.rejections.len(), "one rejection per line");
    assert_eq!(p.rows.len() as u64 + rejected.len() as u64, p.total_rows);
    for row in &p.rows {
        assert!(row.end >= row.begin);
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
}

fn read_all_ways(bytes: &[u8], mapping: &Mapping) {
    for m in [None, Some(mapping)] {
        if let Ok(p) = read_delivery_bytes("fuzz.csv", bytes, m) {
            check_invariants(&p);
        }
    }
}

fn mapping() -> Mapping {
    Mapping::from_toml_str(
        "fuzz.toml",
        "[options]\ndate_format = \"%d-%m-%Y\"\nencoding = \"windows-1252\"\n[extra]\nopm = \"Opmerking\"\n",
    )
    .unwrap()
}

#[test]
fn truncated_fixtures_never_panic() {
    let m = mapping();
    for name in [
        "messy_cp1252.csv",
        "bom_comma_utf8.csv",
        "tab_buurt.txt",
        "mapped_team.csv",
    ] {
        let bytes = fixture_bytes(name);
        for cut in 0..=bytes.len() {
            read_all_ways(&bytes[..cut], &m);
        }
    }
}

#[test]
fn mutated_fixture_never_panics() {
    let m = mapping();
    let original = fixture_bytes("messy_cp1252.csv");
    let alphabet = b";,\t\r\n\"0123456789-:/. aA\xeb\xff\x00";
    let mut rng = ChaCha8Rng::seed_from_u64(20261122);
    for _ in 0..400 {
        let mut bytes = original.clone();
        for _ in 0..rng.gen_range(1..8) {
            let i = rng.gen_range(0..bytes.len());
            match rng.gen_range(0..3) {
                0 => bytes[i] = alphabet[rng.gen_range(0..alphabet.len())],
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, alphabet[rng.gen_range(0..alphabet.len())]),
            }
        }
        read_all_ways(&bytes, &m);
    }
}

#[test]
fn random_rows_under_a_valid_header_never_panic() {
    let m = mapping();
    let header =
        "registratienummer;pleegdatum begin;pleegtijd begin;pleegdatum eind;pleegtijd eind;klasse;\
                  straat;huisnummer;postcode;x;y;lat;lon;buurtcode;Opmerking\n";
    let tokens: &[&str] = &[
        ";",
        ";",
        ";",
        "\n",
        "\r\n",
        "\"",
        "A1",
        "A2",
        "12-03-2024",
        "31-02-2024",
        "2024-03-12T10:00",
        "1-1-1900",
        "9:00",
        "24:00",
        "12.30",
        "155000,5",
        "463000",
        "52,1",
        "5.1",
        "-1",
        "1.1.1 X",
        "BU1",
        "1234AB",
        "12 A",
        "ë",
        "\u{feff}",
        "99999999999999999999999",
        " ",
        ",",
        "\t",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..400 {
        let mut text = header.to_string();
        for _ in 0..rng.gen_range(0..120) {
            text.push_str(tokens[rng.gen_range(0..tokens.len())]);
        }
        read_all_ways(text.as_bytes(), &m);
    }
}

#[test]
fn random_bytes_never_panic() {
    let m = mapping();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    for _ in 0..300 {
        let len = rng.gen_range(0..1500);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if rng.gen_bool(0.2) {
            // Pretend to be a workbook: the XLSX path (GDAL via /vsimem/) must fail cleanly.
            bytes.splice(0..0, *b"PK\x03\x04");
        }
        read_all_ways(&bytes, &m);
    }
}
