//! Excel workbooks (Office Open XML, `.xlsx`) from typed tables, for analysts whose Excel opens the
//! comma-separated exports as one column (a Dutch locale separates lists with `;`).
//!
//! Contract of [`workbook_bytes`]:
//! - one worksheet per [`Sheet`], in the given order, named by [`Sheet::name`] (at most 31 characters, none of
//!   `[ ] : * ? / \`, not starting or ending with `'`, unique ignoring case: Excel's rules; a name that breaks
//!   one is an [`ExportError::InvalidTable`] naming it);
//! - row 1 is the header (the column names, bold, frozen); every [`Value`] then fills one cell of its row:
//!   [`Value::Int`] and finite [`Value::Real`] as numeric cells (integers beyond 2^53 lose precision as in Excel
//!   itself), [`Value::Text`] as a text cell (always text: a value such as `"=1+1"` or `"< 5"` is never a formula
//!   or a number), [`Value::Null`] and non-finite reals as empty cells, exactly where the CSV writer
//!   ([`super::write_csv`]) leaves a field empty. Dates are ISO 8601 text (`JJJJ-MM-DD`), as in the CSV and JSON;
//!   a withheld count is an empty count cell with its label (`"< 5"`) in the text cell of the label column, as
//!   the tables give them;
//! - a table longer than Excel's 1,048,575 data rows or wider than 16,384 columns, or a text longer than
//!   32,767 characters, is an error ([`ExportError::Xlsx`]), never a silently cut sheet.
//!
//! The workbook is built in memory (the tables already are); the cost is linear in the cells.

use super::table::{Table, Value};
use super::ExportError;
use rust_xlsxwriter::{Format, Workbook};

/// One worksheet: its name and its table.
#[derive(Clone, Copy, Debug)]
pub struct Sheet<'a> {
    /// The worksheet's name (Dutch, at most 31 characters).
    pub name: &'a str,
    /// The rows; the column names become the header row.
    pub table: &'a Table,
}

/// Most characters in a worksheet name (Excel).
pub const MAX_SHEET_NAME_CHARS: usize = 31;

/// Checks `name` against Excel's rules for worksheet names; the error names the sheet and the rule.
pub fn check_sheet_name(name: &str) -> Result<(), ExportError> {
    let bad = |reason: &str| {
        Err(ExportError::InvalidTable(format!(
            "worksheet name '{name}': {reason}"
        )))
    };
    if name.trim().is_empty() {
        return bad("empty");
    }
    if name.chars().count() > MAX_SHEET_NAME_CHARS {
        return bad("longer than 31 characters");
    }
    if let Some(c) = name.chars().find(|c| "[]:*?/\\".contains(*c)) {
        return bad(&format!("contains '{c}'"));
    }
    if name.starts_with('\'') || name.ends_with('\'') {
        return bad("starts or ends with an apostrophe");
    }
    Ok(())
}

/// The workbook of `sheets` as `.xlsx` bytes (see the module contract).
pub fn workbook_bytes(sheets: &[Sheet<'_>]) -> Result<Vec<u8>, ExportError> {
    if sheets.is_empty() {
        return Err(ExportError::InvalidTable(
            "a workbook needs at least one worksheet".into(),
        ));
    }
    let mut seen: Vec<String> = Vec::with_capacity(sheets.len());
    for s in sheets {
        check_sheet_name(s.name)?;
        s.table.validate()?;
        let lower = s.name.to_lowercase();
        if seen.contains(&lower) {
            return Err(ExportError::InvalidTable(format!(
                "worksheet name '{}' occurs twice",
                s.name
            )));
        }
        seen.push(lower);
    }
    let bold = Format::new().set_bold();
    let mut wb = Workbook::new();
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(s.name)?;
        for (c, (name, _)) in s.table.columns.iter().enumerate() {
            ws.write_string_with_format(0, column(c)?, name, &bold)?;
        }
        for (r, row) in s.table.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).map_err(|_| too_many_rows(s))?;
            for (c, v) in row.iter().enumerate() {
                let c = column(c)?;
                match v {
                    Value::Text(t) => {
                        ws.write_string(r, c, t)?;
                    }
                    Value::Int(i) => {
                        ws.write_number(r, c, *i as f64)?;
                    }
                    Value::Real(x) if x.is_finite() => {
                        ws.write_number(r, c, *x)?;
                    }
                    Value::Real(_) | Value::Null => {}
                }
            }
        }
        ws.set_freeze_panes(1, 0)?;
        ws.autofit();
    }
    Ok(wb.save_to_buffer()?)
}

fn column(c: usize) -> Result<u16, ExportError> {
    u16::try_from(c)
        .map_err(|_| ExportError::InvalidTable(format!("column {c} beyond Excel's limit")))
}

fn too_many_rows(s: &Sheet<'_>) -> ExportError {
    ExportError::InvalidTable(format!(
        "worksheet '{}': {} rows exceed Excel's limit",
        s.name,
        s.table.rows.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::ColumnType;

    fn sample() -> Table {
        let mut t = Table::new(&[
            ("code", ColumnType::Text),
            ("count", ColumnType::Int),
            ("count_label", ColumnType::Text),
            ("rate", ColumnType::Real),
        ]);
        t.push(vec![
            "BU1".into(),
            Value::Int(12),
            Value::Null,
            Value::Real(0.5),
        ])
        .unwrap();
        t.push(vec![
            "=1+1".into(),
            Value::Null,
            "< 5".into(),
            Value::Real(f64::NAN),
        ])
        .unwrap();
        t
    }

    /// The cells as GDAL's XLSX driver reads them back (an independent reader): sheet name, rows (an empty
    /// cell as `None`) and the column types GDAL inferred from the cells.
    type ReadSheet = (String, Vec<Vec<Option<String>>>, Vec<String>);

    fn read_back(bytes: &[u8]) -> Vec<ReadSheet> {
        use gdal::vector::LayerAccess;
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = format!("/vsimem/xlsx_test_{}_{n}.xlsx", std::process::id());
        gdal::vsi::create_mem_file(&path, bytes.to_vec()).unwrap();
        // GDAL 3.6's XLSX driver reads these configuration options (not open options) when it loads a sheet.
        gdal::config::set_thread_local_config_option("OGR_XLSX_HEADERS", "FORCE").unwrap();
        gdal::config::set_thread_local_config_option("OGR_XLSX_FIELD_TYPES", "AUTO").unwrap();
        let ds = gdal::Dataset::open(&path).unwrap();
        let mut out = Vec::new();
        for mut layer in ds.layers() {
            let name = layer.name();
            let defn: Vec<(String, String)> = layer
                .defn()
                .fields()
                .map(|f| (f.name(), gdal::vector::field_type_to_name(f.field_type())))
                .collect();
            let rows = layer
                .features()
                .map(|f| {
                    (0..defn.len())
                        .map(|i| f.field_as_string(i).unwrap().filter(|v| !v.is_empty()))
                        .collect()
                })
                .collect();
            out.push((
                name,
                rows,
                defn.into_iter().map(|(n, t)| format!("{n}:{t}")).collect(),
            ));
        }
        drop(ds);
        for k in ["OGR_XLSX_HEADERS", "OGR_XLSX_FIELD_TYPES"] {
            gdal::config::clear_thread_local_config_option(k).unwrap();
        }
        gdal::vsi::unlink_mem_file(&path).unwrap();
        out
    }

    #[test]
    fn cells_are_typed_and_labels_stay_text() {
        let t = sample();
        let bytes = workbook_bytes(&[Sheet {
            name: "Buurten",
            table: &t,
        }])
        .unwrap();
        assert_eq!(&bytes[..2], b"PK");
        let sheets = read_back(&bytes);
        assert_eq!(sheets.len(), 1);
        let (name, rows, fields) = &sheets[0];
        assert_eq!(name, "Buurten");
        assert_eq!(
            fields,
            &[
                "code:String",
                "count:Integer",
                "count_label:String",
                "rate:Real"
            ]
        );
        let s = |v: &str| Some(v.to_string());
        assert_eq!(rows[0], vec![s("BU1"), s("12"), None, s("0.5")]);
        // A text that looks like a formula stays text; the withheld count is empty with its label.
        assert_eq!(rows[1], vec![s("=1+1"), None, s("< 5"), None]);
    }

    #[test]
    fn one_sheet_per_table_in_order() {
        let t = sample();
        let bytes = workbook_bytes(&[
            Sheet {
                name: "Buurten",
                table: &t,
            },
            Sheet {
                name: "Categorieën",
                table: &t,
            },
        ])
        .unwrap();
        let names: Vec<String> = read_back(&bytes).into_iter().map(|s| s.0).collect();
        assert_eq!(names, ["Buurten", "Categorieën"]);
    }

    #[test]
    fn bad_sheet_names_are_errors() {
        let t = sample();
        for name in [
            "",
            "een naam die veel langer is dan 31 tekens",
            "a/b",
            "'x'",
        ] {
            let e = workbook_bytes(&[Sheet { name, table: &t }]).unwrap_err();
            assert!(e.to_string().contains("worksheet name"), "{name}: {e}");
        }
        let e = workbook_bytes(&[
            Sheet {
                name: "Blad",
                table: &t,
            },
            Sheet {
                name: "blad",
                table: &t,
            },
        ])
        .unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        assert!(workbook_bytes(&[]).is_err());
    }
}
