//! Numeric attributes of BAG addresses, keyed by the verblijfsobject id: WOZ values (`woz_waarde`,
//! `peiljaar`) and any other numeric column (`brandpunt import address-attributes FILE --source woz`).
//!
//! # Format
//! CSV (`;`, `,` or tab; UTF-8 with or without BOM, or Windows-1252, as [`super::sniff`] finds) or XLSX (the
//! first sheet, through GDAL as the deliveries: [`super::xlsx`]). The header is the first row, among the first
//! ten non-blank rows, that has an id column; header names are compared trimmed, lower-cased, with spaces,
//! `-` and `.` read as `_`:
//! - **id** (required): `verblijfsobject_id`, `verblijfsobjectid`, `verblijfsobject`, `vbo_id`,
//!   `identificatie`, `bag_id`, `adresseerbaarobject_id`, `adresseerbaar_object_id`,
//!   `adresseerbaarobjectidentificatie`, `identificatie_verblijfsobject`: the 16-digit BAG id of a
//!   verblijfsobject, ligplaats or standplaats (object type `01`, `02`, `03` in digits 5-6), optionally with the
//!   `NL.IMBAG.Verblijfsobject.` prefix; 13 to 15 digits are padded with leading zeros (Excel drops them);
//! - `woz_waarde` (also `wozwaarde`, `woz`, `vastgestelde_waarde`): EUR, optionally with `€`; a separator
//!   followed by exactly three digits is a thousands separator (`245.000`, `1.245.000,00`); must not be
//!   negative;
//! - `peiljaar` (also `waardepeildatum`, `peildatum`): a year 1900-2100, or a date whose year is taken;
//! - address columns that are not attributes are ignored: `wozobjectnummer`, `straat`, `huisnummer`,
//!   `huisletter`, `toevoeging`, `huisnummertoevoeging`, `postcode`, `woonplaats`, `plaats`, `gemeente`,
//!   `gemeentecode`, `buurtcode`, `wijkcode`, `x`, `y`, `nummeraanduiding_id`, ...;
//! - every other column whose non-empty cells are at least half numbers ([`super::sniff::parse_decimal`]:
//!   decimal point or comma, no thousands separators) is imported as an attribute under its normalised name;
//!   the other columns are text and ignored (listed in [`AddressAttributes::ignored_columns`]).
//!
//! # Bad rows
//! Every problem is a [`ReportEntry`] naming the line (or sheet row), the id, the column and the reason: a
//! missing or malformed id (a nummeraanduiding or pand id is named as such) rejects the row; an unparsable or
//! impossible value rejects that value (the row's other values are kept); an id repeated later in the file is
//! replaced by the later row (the earlier line is reported). The caller adds ids that are not in the BAG
//! (outcome `niet in BAG`; their values are kept).

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::delivery_error::DeliveryError;
use super::report::ReportEntry;
use super::sheet::{Record, Table};
use super::sniff::{decode, parse_date, parse_decimal, sniff_delimiter, TextEncoding};
use crate::store::AddressAttributeValue;

/// What was read from one address-attribute file.
#[derive(Clone, Debug, PartialEq)]
pub struct AddressAttributes {
    /// sha256 of the file bytes (hex).
    pub checksum: String,
    /// `csv` or `xlsx`.
    pub format: &'static str,
    /// Data rows (non-blank rows after the header).
    pub total_rows: u64,
    /// Rows with an accepted id (after replacing repeated ids).
    pub objects: u64,
    /// The accepted ids with the line of the row that counts, in file order.
    pub object_lines: Vec<(String, u64)>,
    /// The values, in file order.
    pub values: Vec<AddressAttributeValue>,
    /// Attribute names imported (normalised column names), in column order.
    pub attributes: Vec<String>,
    /// Columns ignored (address or text columns), as headed in the file.
    pub ignored_columns: Vec<String>,
    /// Rejected rows and values.
    pub rejections: Vec<ReportEntry>,
}

const ID_COLUMNS: [&str; 11] = [
    "verblijfsobject_id",
    "verblijfsobjectid",
    "verblijfsobject",
    "vbo_id",
    "identificatie",
    "bag_id",
    "adresseerbaarobject_id",
    "adresseerbaar_object_id",
    "adresseerbaarobjectidentificatie",
    "identificatie_verblijfsobject",
    "verblijfsobjectidentificatie",
];

const IGNORED_COLUMNS: [&str; 22] = [
    "wozobjectnummer",
    "woz_objectnummer",
    "straat",
    "straatnaam",
    "openbareruimte",
    "openbare_ruimte",
    "huisnummer",
    "huisletter",
    "toevoeging",
    "huisnummertoevoeging",
    "postcode",
    "woonplaats",
    "plaats",
    "woonplaatsnaam",
    "gemeente",
    "gemeentecode",
    "buurtcode",
    "wijkcode",
    "x",
    "y",
    "nummeraanduiding_id",
    "pand_id",
];

/// The attribute name of a normalised header: aliases of `woz_waarde` and `peiljaar`, else the header.
fn attribute_name(header: &str) -> &str {
    match header {
        "woz_waarde" | "wozwaarde" | "woz" | "vastgestelde_waarde" => "woz_waarde",
        "peiljaar" | "waardepeildatum" | "peildatum" => "peiljaar",
        other => other,
    }
}

/// A header as compared: trimmed, lower case, spaces, `-` and `.` as `_`.
fn normalise_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .map(|c| if matches!(c, ' ' | '-' | '.') { '_' } else { c })
        .collect()
}

/// A money amount in EUR (see the module docs).
pub fn parse_euro(raw: &str) -> Option<f64> {
    let t = raw
        .trim()
        .trim_start_matches('€')
        .trim_start_matches("EUR")
        .trim()
        .replace(['\u{a0}', ' '], "");
    let (int_part, frac) = match t.rsplit_once([',', '.']) {
        // One separator followed by exactly three digits (and no other kind after it): thousands.
        Some((_, tail)) if tail.len() == 3 && tail.bytes().all(|b| b.is_ascii_digit()) => {
            (t.as_str(), None)
        }
        Some((head, tail)) => (head, Some(tail)),
        None => (t.as_str(), None),
    };
    let sep = int_part.bytes().find(|b| matches!(b, b'.' | b','));
    let digits: String = match sep {
        Some(s) => {
            let groups: Vec<&str> = int_part.split(s as char).collect();
            let ok = groups[0].len() <= 3
                && !groups[0].is_empty()
                && groups[1..].iter().all(|g| g.len() == 3)
                && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return None;
            }
            groups.concat()
        }
        None => int_part.to_string(),
    };
    let text = match frac {
        Some(f) => format!("{digits}.{f}"),
        None => digits,
    };
    parse_decimal(&text)
}

/// A peiljaar: a year 1900-2100 or a date whose year is taken.
fn parse_year(raw: &str) -> Option<f64> {
    let t = raw.trim();
    if let Ok(y) = t.parse::<i32>() {
        return (1900..=2100).contains(&y).then_some(f64::from(y));
    }
    if let Some(y) = parse_decimal(t).filter(|y| y.fract() == 0.0) {
        return (1900.0..=2100.0).contains(&y).then_some(y);
    }
    use chrono::Datelike;
    parse_date(t, None).map(|(d, _)| f64::from(d.year()))
}

/// Why `raw` is not a BAG id of an addressable object, or the 16-digit id.
pub fn parse_object_id(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let lower = t.to_ascii_lowercase();
    let t = [
        "nl.imbag.verblijfsobject.",
        "nl.imbag.ligplaats.",
        "nl.imbag.standplaats.",
    ]
    .iter()
    .find(|p| lower.starts_with(**p))
    .map_or(t, |p| &t[p.len()..]);
    if t.is_empty() {
        return Err("geen verblijfsobject-id".to_string());
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) || !(13..=16).contains(&t.len()) {
        return Err(format!(
            "'{t}' is geen BAG-id van een verblijfsobject (16 cijfers)"
        ));
    }
    let id = format!("{t:0>16}");
    match &id[4..6] {
        "01" | "02" | "03" => Ok(id),
        "20" => Err(format!(
            "'{id}' is een nummeraanduiding-id; gebruik het id van het verblijfsobject"
        )),
        "10" => Err(format!(
            "'{id}' is een pand-id; gebruik het id van het verblijfsobject"
        )),
        _ => Err(format!(
            "'{id}' is geen id van een verblijfsobject, ligplaats of standplaats (objecttype {})",
            &id[4..6]
        )),
    }
}

fn csv_table(text: &str) -> Table {
    let delimiter = sniff_delimiter(text) as u8;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    // Line numbers from the byte offsets: with CRLF line ends the reader's own line count of a record can lag
    // by one (the `\n` of the previous line is consumed with the next record).
    let bytes = text.as_bytes();
    let (mut counted_to, mut line) = (0usize, 1u64);
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                let mut start = record
                    .position()
                    .map_or(counted_to, |p| {
                        usize::try_from(p.byte()).unwrap_or(counted_to)
                    })
                    .max(counted_to)
                    .min(bytes.len());
                while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
                    start += 1;
                }
                line += bytes[counted_to..start]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64;
                counted_to = start;
                records.push(Record {
                    line,
                    fields: record.iter().map(str::to_string).collect(),
                });
            }
            Ok(false) => break,
            // The csv reader only fails on invalid UTF-8, which decoded text cannot contain.
            Err(_) => break,
        }
    }
    Table {
        records,
        excel_serials: false,
    }
}

fn is_blank(r: &Record) -> bool {
    r.fields.iter().all(|f| f.trim().is_empty())
}

/// Read an address-attribute file (CSV or XLSX) on disk; errors name the file (see the module docs).
pub fn read_address_attributes(path: &Path) -> Result<AddressAttributes, DeliveryError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DeliveryError::Io {
        file: file.clone(),
        source,
    })?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let xlsx = bytes.starts_with(b"PK\x03\x04") || ext == "xlsx" || ext == "xlsm";
    let table = if xlsx {
        super::xlsx::read_xlsx_path(path, &file, None)?
    } else {
        if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            return Err(DeliveryError::Format {
                file,
                reason: "oud Excel-formaat (.xls) wordt niet ondersteund; sla op als .xlsx of CSV"
                    .to_string(),
            });
        }
        csv_table(&decode(&bytes, TextEncoding::Auto).text)
    };
    let checksum = format!("{:x}", Sha256::digest(&bytes));
    read_table(&file, table, checksum, if xlsx { "xlsx" } else { "csv" })
}

/// What a column is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Column {
    Id,
    Ignored,
    Woz,
    Year,
    Number,
}

fn read_table(
    file: &str,
    table: Table,
    checksum: String,
    format: &'static str,
) -> Result<AddressAttributes, DeliveryError> {
    let records = table.records;
    let Some(header_at) = records
        .iter()
        .filter(|r| !is_blank(r))
        .take(10)
        .position(|r| {
            r.fields
                .iter()
                .any(|h| ID_COLUMNS.contains(&normalise_header(h).as_str()))
        })
        .and_then(|k| {
            records
                .iter()
                .enumerate()
                .filter(|(_, r)| !is_blank(r))
                .nth(k)
                .map(|(i, _)| i)
        })
    else {
        let found: Vec<String> = records
            .iter()
            .find(|r| !is_blank(r))
            .map(|r| r.fields.iter().map(|f| f.trim().to_string()).collect())
            .unwrap_or_default();
        if found.is_empty() {
            return Err(DeliveryError::Empty {
                file: file.to_string(),
            });
        }
        return Err(DeliveryError::WrongKind {
            file: file.to_string(),
            missing: vec!["verblijfsobject_id (of identificatie, bag_id)".to_string()],
            found,
        });
    };
    let headers: Vec<String> = records[header_at]
        .fields
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let normalised: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    let id_col = normalised
        .iter()
        .position(|h| ID_COLUMNS.contains(&h.as_str()))
        .unwrap_or(0);
    let data: Vec<&Record> = records[header_at + 1..]
        .iter()
        .filter(|r| !is_blank(r))
        .collect();
    // What every column is; a numeric column needs at least half of its non-empty cells to be numbers.
    let mut kinds = Vec::with_capacity(headers.len());
    let mut seen_names: HashMap<String, usize> = HashMap::new();
    for (c, h) in normalised.iter().enumerate() {
        let name = attribute_name(h);
        let kind = if c == id_col {
            Column::Id
        } else if h.is_empty()
            || IGNORED_COLUMNS.contains(&h.as_str())
            || ID_COLUMNS.contains(&h.as_str())
        {
            Column::Ignored
        } else if name == "woz_waarde" {
            Column::Woz
        } else if name == "peiljaar" {
            Column::Year
        } else {
            let cells: Vec<&str> = data
                .iter()
                .filter_map(|r| r.fields.get(c).map(|f| f.trim()))
                .filter(|f| !f.is_empty())
                .collect();
            let numbers = cells.iter().filter(|f| parse_decimal(f).is_some()).count();
            if !cells.is_empty() && numbers * 2 >= cells.len() {
                Column::Number
            } else {
                Column::Ignored
            }
        };
        // A second column with the same attribute name is ignored (the first one counts).
        let kind = match kind {
            Column::Woz | Column::Year | Column::Number => {
                if seen_names.insert(name.to_string(), c).is_some() {
                    Column::Ignored
                } else {
                    kind
                }
            }
            k => k,
        };
        kinds.push(kind);
    }
    let attributes: Vec<String> = kinds
        .iter()
        .zip(&normalised)
        .filter(|(k, _)| matches!(k, Column::Woz | Column::Year | Column::Number))
        .map(|(_, h)| attribute_name(h).to_string())
        .collect();
    let ignored_columns: Vec<String> = kinds
        .iter()
        .zip(&headers)
        .filter(|(k, h)| **k == Column::Ignored && !h.is_empty())
        .map(|(_, h)| h.clone())
        .collect();
    let mut rejections = Vec::new();
    // id -> (line, values) of the row that counts; an earlier row of the same id is reported.
    let mut rows: Vec<(u64, String, Vec<AddressAttributeValue>)> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for r in &data {
        let raw_id = r.fields.get(id_col).map_or("", |f| f.trim());
        let id = match parse_object_id(raw_id) {
            Ok(id) => id,
            Err(reason) => {
                rejections.push(ReportEntry {
                    line: r.line,
                    registration: (!raw_id.is_empty()).then(|| raw_id.to_string()),
                    column: Some(headers[id_col].clone()),
                    reason,
                    outcome: "rejected",
                });
                continue;
            }
        };
        let mut values = Vec::new();
        for (c, kind) in kinds.iter().enumerate() {
            let raw = r.fields.get(c).map_or("", |f| f.trim());
            if raw.is_empty() {
                continue;
            }
            let name = attribute_name(&normalised[c]);
            let parsed = match kind {
                Column::Woz => match parse_euro(raw) {
                    Some(v) if v < 0.0 => Err(format!("negatieve WOZ-waarde '{raw}'")),
                    Some(v) => Ok(v),
                    None => Err(format!("geen bedrag: '{raw}'")),
                },
                Column::Year => {
                    parse_year(raw).ok_or_else(|| format!("geen peiljaar (1900-2100): '{raw}'"))
                }
                Column::Number => parse_decimal(raw).ok_or_else(|| format!("geen getal: '{raw}'")),
                Column::Id | Column::Ignored => continue,
            };
            match parsed {
                Ok(value) => values.push(AddressAttributeValue {
                    bag_id: id.clone(),
                    name: name.to_string(),
                    value,
                }),
                Err(reason) => rejections.push(ReportEntry {
                    line: r.line,
                    registration: Some(id.clone()),
                    column: Some(headers[c].clone()),
                    reason,
                    outcome: "rejected",
                }),
            }
        }
        if let Some(&k) = by_id.get(&id) {
            rejections.push(ReportEntry {
                line: rows[k].0,
                registration: Some(id.clone()),
                column: Some(headers[id_col].clone()),
                reason: format!("vervangen door regel {} (zelfde verblijfsobject)", r.line),
                outcome: "rejected",
            });
            rows[k] = (r.line, id, values);
        } else {
            by_id.insert(id.clone(), rows.len());
            rows.push((r.line, id, values));
        }
    }
    rejections.sort_by_key(|e| e.line);
    let objects = rows.len() as u64;
    let object_lines = rows
        .iter()
        .map(|(line, id, _)| (id.clone(), *line))
        .collect();
    Ok(AddressAttributes {
        checksum,
        format,
        total_rows: data.len() as u64,
        objects,
        object_lines,
        values: rows.into_iter().flat_map(|(_, _, v)| v).collect(),
        attributes,
        ignored_columns,
        rejections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(name: &str, content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        (dir, path)
    }

    #[test]
    fn euro_amounts_and_ids() {
        assert_eq!(parse_euro("245000"), Some(245_000.0));
        assert_eq!(parse_euro("€ 245.000"), Some(245_000.0));
        assert_eq!(parse_euro("1.245.000,00"), Some(1_245_000.0));
        assert_eq!(parse_euro("245,000"), Some(245_000.0));
        assert_eq!(parse_euro("245000,5"), Some(245_000.5));
        assert_eq!(parse_euro("24.50.00"), None);
        assert_eq!(parse_euro("veel"), None);
        assert_eq!(parse_year("2023"), Some(2023.0));
        assert_eq!(parse_year("01-01-2023"), Some(2023.0));
        assert_eq!(parse_year("1850"), None);
        assert_eq!(
            parse_object_id("1999010000000001").unwrap(),
            "1999010000000001"
        );
        assert_eq!(
            parse_object_id("NL.IMBAG.Verblijfsobject.0153010000012345").unwrap(),
            "0153010000012345"
        );
        // Excel dropped the leading zero.
        assert_eq!(
            parse_object_id("153010000012345").unwrap(),
            "0153010000012345"
        );
        assert!(parse_object_id("1999200000000001")
            .unwrap_err()
            .contains("nummeraanduiding"));
        assert!(parse_object_id("1999100000000001")
            .unwrap_err()
            .contains("pand"));
        assert!(parse_object_id("12345").is_err());
    }

    #[test]
    fn csv_with_woz_peiljaar_other_numbers_text_and_bad_rows() {
        let (_d, path) = file(
            "woz.csv",
            "wozobjectnummer;Verblijfsobject ID;Straat;Huisnummer;WOZ-waarde;Peiljaar;grondoppervlakte;opmerking\r\n\
             1;1999010000000001;Kerkstraat;1;245.000;2023;120;hoek\r\n\
             2;1999010000000002;Kerkstraat;3;x;2023;;\r\n\
             3;1999200000000002;Kerkstraat;5;300000;2023;90;\r\n\
             \r\n\
             4;1999010000000001;Kerkstraat;1;250000;2023;121;\r\n\
             5;1999010000000003;Kerkstraat;7;-5;1800;80,5;tuin\r\n"
                .as_bytes(),
        );
        let a = read_address_attributes(&path).unwrap();
        assert_eq!(a.format, "csv");
        assert_eq!(a.total_rows, 5);
        assert_eq!(a.objects, 3);
        assert_eq!(a.attributes, ["woz_waarde", "peiljaar", "grondoppervlakte"]);
        assert_eq!(
            a.ignored_columns,
            ["wozobjectnummer", "Straat", "Huisnummer", "opmerking"]
        );
        let v: Vec<(&str, &str, f64)> = a
            .values
            .iter()
            .map(|v| (v.bag_id.as_str(), v.name.as_str(), v.value))
            .collect();
        assert_eq!(
            v,
            [
                ("1999010000000001", "woz_waarde", 250_000.0),
                ("1999010000000001", "peiljaar", 2023.0),
                ("1999010000000001", "grondoppervlakte", 121.0),
                ("1999010000000002", "peiljaar", 2023.0),
                ("1999010000000003", "grondoppervlakte", 80.5),
            ]
        );
        let r: Vec<(u64, Option<&str>, &str)> = a
            .rejections
            .iter()
            .map(|e| (e.line, e.column.as_deref(), e.reason.as_str()))
            .collect();
        assert_eq!(r.len(), 5, "{r:?}");
        assert_eq!(r[0].0, 2);
        assert!(r[0].2.contains("vervangen door regel 6"));
        assert_eq!((r[1].0, r[1].1), (3, Some("WOZ-waarde")));
        assert_eq!((r[2].0, r[2].1), (4, Some("Verblijfsobject ID")));
        assert!(r[2].2.contains("nummeraanduiding"));
        assert_eq!((r[3].0, r[3].1), (7, Some("WOZ-waarde")));
        assert_eq!((r[4].0, r[4].1), (7, Some("Peiljaar")));
    }

    #[test]
    fn without_an_id_column_the_file_is_refused_naming_the_columns() {
        let (_d, path) = file("x.csv", b"postcode;woz_waarde\n7461AB;200000\n");
        let e = read_address_attributes(&path).unwrap_err().to_string();
        assert!(
            e.contains("x.csv") && e.contains("verblijfsobject_id") && e.contains("postcode"),
            "{e}"
        );
        let (_d, path) = file("leeg.csv", b"\n\n");
        assert!(matches!(
            read_address_attributes(&path),
            Err(DeliveryError::Empty { .. })
        ));
    }
}
