//! Delivery CSV reader: arbitrary bytes -> `read_delivery_bytes`, without a mapping and with the police
//! mapping of `tests/import/delivery_fuzz.rs`. Never panics; every successful read satisfies the reader's
//! contract (module docs of `brandpunt::import::delivery`). ZIP (XLSX) input is left to the `delivery_xlsx`
//! target.
#![no_main]

#[path = "common.rs"]
mod common;

use brandpunt::import::delivery::read_delivery_bytes;
use common::{check_invariants, mapping};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if bytes.starts_with(b"PK\x03\x04") {
        return;
    }
    // Physical lines: `\r\n`, `\n` and a lone `\r` each end one (module docs); whatever the encoding,
    // the decoded text has at most as many line breaks as the bytes have CR and LF bytes.
    let lines = bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64 + 1;
    if let Ok(p) = read_delivery_bytes("fuzz.csv", bytes, None) {
        assert_eq!(p.format, "csv");
        check_invariants(&p, lines, false);
    }
    if let Ok(p) = read_delivery_bytes("fuzz.csv", bytes, Some(mapping())) {
        assert_eq!(p.format, "csv");
        check_invariants(&p, lines, true);
    }
});
