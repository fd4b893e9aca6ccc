//! `.xlsx` answers: the worksheets of an Excel download made from the caller's own JSON answer, and the HTTP
//! response that carries the workbook.
//!
//! Contract:
//! - A route's workbook is made from the JSON it answers that same caller (after the publishing policy, so a
//!   viewer's workbook withholds exactly what their JSON withholds; audit and address-level rules are those of
//!   the JSON route): [`json_table`] takes one object per row and the columns to show, by key.
//! - A cell is typed by its JSON value: an integer is an integer cell, any other number a real cell, a string a
//!   text cell (dates are ISO text, as in the JSON), `null` or a missing key an empty cell, a boolean the text
//!   `ja`/`nee`; arrays and objects are not cells (a route names scalar keys, or flattens them with
//!   [`flatten`]). A withheld count is `null` beside its `count_label` (`"< 5"`), so the workbook shows an empty
//!   count cell and the label in the text cell next to it, as the CSV export does.
//! - The response: `Content-Type` [`CONTENT_TYPE`], `Content-Disposition: attachment;
//!   filename="brandpunt-NAME.xlsx"`.

use super::error::ApiError;
use crate::export::{workbook_bytes, ColumnType, Sheet, Table, Value as Cell};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// The media type of an `.xlsx` workbook.
pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The cell of one JSON value (see the module contract).
pub fn cell(v: Option<&Value>) -> Cell {
    match v {
        None | Some(Value::Null) => Cell::Null,
        Some(Value::Bool(b)) => Cell::Text(if *b { "ja" } else { "nee" }.into()),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => n.as_f64().map_or(Cell::Null, Cell::Real),
        },
        Some(Value::String(s)) => Cell::Text(s.clone()),
        // Not a cell: shown as its JSON text rather than dropped.
        Some(other) => Cell::Text(other.to_string()),
    }
}

/// A table with `columns` (JSON keys, also the header) and one row per object of `items` (`items` that are not
/// objects give empty rows).
pub fn json_table<'a>(items: impl IntoIterator<Item = &'a Value>, columns: &[&str]) -> Table {
    let mut t = Table::new(
        &columns
            .iter()
            .map(|c| (*c, ColumnType::Text))
            .collect::<Vec<_>>(),
    );
    for item in items {
        t.rows
            .push(columns.iter().map(|c| cell(item.get(*c))).collect());
    }
    t
}

/// The scalar members of object `v`, nested objects flattened one level into their members (an inner key that
/// repeats an outer one is prefixed `outer.`); arrays are left out. For one-row sheets of a JSON object.
pub fn flatten(v: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(o) = v.as_object() else {
        return out;
    };
    for (k, x) in o {
        match x {
            Value::Object(inner) => {
                for (ik, iv) in inner {
                    if iv.is_object() || iv.is_array() {
                        continue;
                    }
                    let name = if o.contains_key(ik) || out.contains_key(ik) {
                        format!("{k}.{ik}")
                    } else {
                        ik.clone()
                    };
                    out.insert(name, iv.clone());
                }
            }
            Value::Array(_) => {}
            _ => {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    out
}

/// A one-row table of the flattened object `v` ([`flatten`]), its keys as columns in their order.
pub fn object_table(v: &Value) -> Table {
    let flat = Value::Object(flatten(v));
    let keys: Vec<&str> = flat
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    json_table(std::iter::once(&flat), &keys)
}

/// The workbook of `sheets` (name, table) as bytes; a failure is an internal error (the sheets are the
/// server's own).
pub fn workbook(sheets: &[(&str, Table)]) -> Result<Vec<u8>, ApiError> {
    let sheets: Vec<Sheet<'_>> = sheets
        .iter()
        .map(|(name, table)| Sheet { name, table })
        .collect();
    workbook_bytes(&sheets).map_err(ApiError::internal)
}

/// Whether the request asks for a workbook: `format=xlsx`; absent, empty or `json` is JSON; anything else is a
/// 400 naming `format`.
pub fn wants_xlsx(params: &std::collections::HashMap<String, String>) -> Result<bool, ApiError> {
    match params.get("format").map(|f| f.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(f) if f.is_empty() || f == "json" => Ok(false),
        Some(f) if f == "xlsx" => Ok(true),
        Some(f) => Err(ApiError::param(
            "format",
            format!("onbekend formaat '{f}' (json of xlsx)"),
        )),
    }
}

/// The HTTP answer of a workbook: `brandpunt-{name}.xlsx` as an attachment.
pub fn response(bytes: impl Into<axum::body::Bytes>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, CONTENT_TYPE.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"brandpunt-{name}.xlsx\""),
            ),
        ],
        bytes.into(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_values_become_typed_cells() {
        let items = [
            json!({"code": "BU1", "count": 12, "count_label": null, "rate": 0.5, "suppressed": false}),
            json!({"code": "BU2", "count": null, "count_label": "< 5", "suppressed": true}),
        ];
        let t = json_table(
            &items,
            &["code", "count", "count_label", "rate", "suppressed"],
        );
        assert_eq!(
            t.rows[0],
            vec![
                Cell::Text("BU1".into()),
                Cell::Int(12),
                Cell::Null,
                Cell::Real(0.5),
                Cell::Text("nee".into())
            ]
        );
        assert_eq!(
            t.rows[1],
            vec![
                Cell::Text("BU2".into()),
                Cell::Null,
                Cell::Text("< 5".into()),
                Cell::Null,
                Cell::Text("ja".into())
            ]
        );
    }

    #[test]
    fn objects_flatten_one_level() {
        let v = json!({"wdq": 0.5, "counts": {"target_before": 3, "wdq": 1}, "list": [1]});
        let f = flatten(&v);
        assert_eq!(f["wdq"], json!(0.5));
        assert_eq!(f["target_before"], json!(3));
        assert_eq!(f["counts.wdq"], json!(1));
        assert!(!f.contains_key("list"));
    }
}
