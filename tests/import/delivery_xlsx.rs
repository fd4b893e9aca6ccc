//! XLSX deliveries: the workbook is written by GDAL's XLSX driver in a test helper (so no unreviewable
//! binary is committed), then read back through `read_delivery` / `read_delivery_bytes`. Expected values
//! follow from what the helper writes.

use std::path::{Path, PathBuf};

use brandpunt::import::delivery::{read_delivery, read_delivery_bytes, DeliveryError};
use brandpunt::import::mapping::Mapping;
use chrono::{NaiveDate, NaiveDateTime};
use gdal::vector::{
    Feature, FieldDefn, FieldValue, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;

/// One cell: text, date cell, or number cell.
enum Cell {
    Text(&'static str),
    Date(i32, u32, u32),
    Num(f64),
    Empty,
}

/// Writes a workbook with the given sheets; each sheet is (name, [(header, field type)], rows).
/// A sheet: name, columns (header and GDAL field type), rows of cells.
type Sheet<'a> = (&'a str, &'a [(&'a str, OGRFieldType::Type)], Vec<Vec<Cell>>);

fn write_xlsx(path: &Path, sheets: &[Sheet<'_>]) {
    let driver = DriverManager::get_driver_by_name("XLSX").unwrap();
    let mut ds = driver.create_vector_only(path).unwrap();
    for (name, fields, rows) in sheets {
        let layer = ds
            .create_layer(LayerOptions {
                name,
                ty: OGRwkbGeometryType::wkbNone,
                ..Default::default()
            })
            .unwrap();
        for (header, ty) in fields.iter() {
            FieldDefn::new(header, *ty)
                .unwrap()
                .add_to_layer(&layer)
                .unwrap();
        }
        for row in rows {
            let mut f = Feature::new(layer.defn()).unwrap();
            for (i, cell) in row.iter().enumerate() {
                match *cell {
                    Cell::Text(t) => f.set_field_string(i, t).unwrap(),
                    Cell::Date(y, m, d) => f
                        .set_field(
                            i,
                            &FieldValue::DateValue(NaiveDate::from_ymd_opt(y, m, d).unwrap()),
                        )
                        .unwrap(),
                    Cell::Num(v) => f.set_field_double(i, v).unwrap(),
                    Cell::Empty => {}
                }
            }
            f.create(&layer).unwrap();
        }
    }
    ds.close().unwrap();
}

fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn workbook(dir: &Path) -> PathBuf {
    use Cell::*;
    let path = dir.join("levering.xlsx");
    let fields: &[(&str, OGRFieldType::Type)] = &[
        ("Registratienummer", OGRFieldType::OFTString),
        ("Pleegdatum begin", OGRFieldType::OFTDate),
        ("Pleegtijd begin", OGRFieldType::OFTString),
        ("Pleegdatum eind", OGRFieldType::OFTString),
        ("Maatschappelijke klasse", OGRFieldType::OFTString),
        ("Straat", OGRFieldType::OFTString),
        ("Huisnummer", OGRFieldType::OFTString),
        ("Postcode", OGRFieldType::OFTString),
        ("X", OGRFieldType::OFTReal),
        ("Y", OGRFieldType::OFTReal),
    ];
    let rows = vec![
        vec![
            Text("PL0900-2024000201"),
            Date(2024, 3, 15),
            Text("14:30"),
            Text("16-03-2024"),
            Text("1.1.1 Diefstal/inbraak woning"),
            Text("Noëlstraat"),
            Text("12a-3"),
            Text("5611 ab"),
            Num(155_000.5),
            Num(463_000.25),
        ],
        vec![
            Text("PL0900-2024000202"),
            Date(2024, 2, 29),
            Empty,
            Empty,
            Text("2.2.1"),
            Text("Caféstraat"),
            Text("7"),
            Empty,
            Empty,
            Empty,
        ],
        vec![
            Text("PL0900-2024000203"),
            Date(2024, 3, 1),
            Text("9:00"),
            Empty,
            Empty,
            Empty,
            Empty,
            Empty,
            Num(1.0),
            Num(1.0),
        ],
    ];
    let notes: &[(&str, OGRFieldType::Type)] = &[("Toelichting", OGRFieldType::OFTString)];
    write_xlsx(
        &path,
        &[
            ("Meldingen", fields, rows),
            ("Uitleg", notes, vec![vec![Text("Export week 11")]]),
        ],
    );
    path
}

#[test]
fn reads_first_sheet_with_date_cells_and_text_dates() {
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(dir.path());
    let parsed = read_delivery(&path, None).unwrap();
    assert_eq!(parsed.format, "xlsx");
    assert_eq!(parsed.delimiter, None);
    assert_eq!(parsed.total_rows, 3);
    assert_eq!(parsed.rows.len(), 2, "{:#?}", parsed);

    let a = &parsed.rows[0];
    assert_eq!(a.line, 2);
    assert_eq!(a.registration, "PL0900-2024000201");
    assert_eq!(
        (a.begin, a.end, a.time_known),
        (dt("2024-03-15 14:30"), dt("2024-03-16 23:59"), true)
    );
    assert_eq!(a.category_code.as_deref(), Some("1.1.1"));
    assert_eq!(a.category_label.as_deref(), Some("Diefstal/inbraak woning"));
    assert_eq!(a.street.as_deref(), Some("Noëlstraat"));
    assert_eq!(a.huisnummer.as_deref(), Some("12a-3"));
    assert_eq!(a.postcode.as_deref(), Some("5611AB"));
    assert_eq!((a.x_m, a.y_m), (Some(155_000.5), Some(463_000.25)));

    let b = &parsed.rows[1];
    assert_eq!(b.line, 3);
    assert_eq!(
        (b.begin, b.end, b.time_known),
        (dt("2024-02-29 00:00"), dt("2024-02-29 23:59"), false)
    );
    assert_eq!(b.category_code.as_deref(), Some("2.2.1"));
    assert_eq!(b.street.as_deref(), Some("Caféstraat"));
    assert_eq!(b.x_m, None);

    assert_eq!(parsed.rejections.len(), 1);
    let r = &parsed.rejections[0];
    assert_eq!(r.line, 4);
    assert_eq!(r.registration.as_deref(), Some("PL0900-2024000203"));
    assert_eq!(r.column.as_deref(), Some("X"));
    assert_eq!(r.reason, "RD-coördinaten buiten Nederland (x=1, y=1)");

    // The same workbook from memory gives the same rows.
    let bytes = std::fs::read(&path).unwrap();
    let from_bytes = read_delivery_bytes("upload.xlsx", &bytes, None).unwrap();
    assert_eq!(from_bytes.rows, parsed.rows);
    assert_eq!(from_bytes.rejections, parsed.rejections);
    assert_eq!(from_bytes.checksum, parsed.checksum);
    assert_eq!(from_bytes.file_name, "upload.xlsx");
}

#[test]
fn xlsx_and_csv_of_the_same_incident_hash_equal() {
    let dir = tempfile::tempdir().unwrap();
    let parsed = read_delivery(&workbook(dir.path()), None).unwrap();
    let csv = "Registratienummer;Pleegdatum begin;Pleegtijd begin;Pleegdatum eind;Maatschappelijke klasse;\
               Straat;Huisnummer;Postcode;X;Y\n\
               PL0900-2024000201;15-03-2024;14:30;16-03-2024;1.1.1 Diefstal/inbraak woning;Noëlstraat;12a-3;\
               5611AB;155000,5;463000,25\n";
    let from_csv = read_delivery_bytes("a.csv", csv.as_bytes(), None).unwrap();
    assert_eq!(from_csv.rows[0].content_hash, parsed.rows[0].content_hash);
}

#[test]
fn sheet_selection_through_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(dir.path());
    let uitleg = Mapping::from_toml_str("m.toml", "[options]\nsheet = \"Uitleg\"\n").unwrap();
    assert!(matches!(
        read_delivery(&path, Some(&uitleg)),
        Err(DeliveryError::WrongKind { .. })
    ));
    let missing = Mapping::from_toml_str("m.toml", "[options]\nsheet = \"Blad9\"\n").unwrap();
    let err = read_delivery(&path, Some(&missing)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DeliveryError::Xlsx { .. }), "{text}");
    assert!(
        text.contains("Blad9") && text.contains("Meldingen") && text.contains("levering.xlsx"),
        "{text}"
    );
}

#[test]
fn corrupt_workbook_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(workbook(dir.path())).unwrap();
    for cut in [4, 30, bytes.len() / 3, bytes.len() / 2, bytes.len() - 10] {
        let result = read_delivery_bytes("kapot.xlsx", &bytes[..cut], None);
        if let Err(e) = result {
            assert!(e.to_string().contains("kapot.xlsx"));
        }
    }
    let fake = dir.path().join("nep.xlsx");
    std::fs::write(&fake, b"registratienummer;pleegdatum\n").unwrap();
    assert!(matches!(
        read_delivery(&fake, None),
        Err(DeliveryError::Xlsx { .. })
    ));
}

/// An Excel-like workbook (made by `make_fixtures.py` from raw SpreadsheetML): title row above the header,
/// and empty rows absent from the sheet XML. Line numbers must be the sheet rows Excel shows.
#[test]
fn title_row_and_missing_rows_keep_sheet_row_numbers() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deliveries/gaps_title.xlsx");
    let parsed = read_delivery(&path, None).unwrap();
    assert_eq!(parsed.total_rows, 3);
    let got: Vec<_> = parsed
        .rows
        .iter()
        .map(|r| {
            (
                r.line,
                r.registration.as_str(),
                r.begin,
                r.end,
                r.time_known,
                r.category_code.as_deref(),
                r.category_label.as_deref(),
                r.x_m,
                r.y_m,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                4,
                "PL2100-2024000301",
                dt("2024-03-15 23:05"),
                dt("2024-03-15 23:05"),
                true,
                Some("1.4.4"),
                Some("Bedreiging"),
                Some(161_234.5),
                Some(383_456.25)
            ),
            (
                7,
                "PL2100-2024000302",
                dt("2024-03-16 00:00"),
                dt("2024-03-16 23:59"),
                false,
                Some("1.1.1"),
                None,
                Some(161_000.5),
                Some(383_000.0)
            ),
        ]
    );
    assert_eq!(parsed.rejections.len(), 1);
    let r = &parsed.rejections[0];
    assert_eq!(
        (
            r.line,
            r.registration.as_deref(),
            r.column.as_deref(),
            r.reason.as_str()
        ),
        (
            9,
            Some("PL2100-2024000303"),
            Some("Pleegdatum"),
            "ongeldige datum '30-02-2024'"
        )
    );
}
