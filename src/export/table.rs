//! Attribute tables (one row per feature) and their CSV writer.
//!
//! A [`Table`] is the plain-data shape every analysis output takes before it is written: named columns and rows
//! of [`Value`]s. The same table goes to CSV ([`write_csv`]) or, together with one geometry per row, to a
//! GeoPackage or GeoJSON file ([`super::vector`]). Reals are written with Rust's shortest round-trip
//! formatting, so a CSV reader gets back exactly the `f64` that was computed; non-finite reals and
//! [`Value::Null`] become empty cells.

use std::path::Path;

use super::ExportError;

/// One cell of a [`Table`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A real number (non-finite values are written as empty / null).
    Real(f64),
    /// An integer.
    Int(i64),
    /// No value.
    Null,
}

impl Value {
    /// The value as CSV text (empty for null and non-finite reals).
    pub fn to_text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Real(v) if v.is_finite() => v.to_string(),
            Value::Real(_) | Value::Null => String::new(),
            Value::Int(v) => v.to_string(),
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

/// Column type, used for the field definitions of vector files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Text column.
    Text,
    /// Real (double) column.
    Real,
    /// 64-bit integer column.
    Int,
}

/// Named columns and rows of values; every row has one value per column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names and types.
    pub columns: Vec<(String, ColumnType)>,
    /// Rows, each `columns.len()` long.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: &[(&str, ColumnType)]) -> Self {
        Table {
            columns: columns.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; errors when its length differs from the number of columns.
    pub fn push(&mut self, row: Vec<Value>) -> Result<(), ExportError> {
        if row.len() != self.columns.len() {
            return Err(ExportError::InvalidTable(format!(
                "row of {} values for {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        self.rows.push(row);
        Ok(())
    }

    /// Checks that every row has one value per column.
    pub fn validate(&self) -> Result<(), ExportError> {
        match self.rows.iter().position(|r| r.len() != self.columns.len()) {
            Some(i) => Err(ExportError::InvalidTable(format!(
                "row {i} has {} values for {} columns",
                self.rows[i].len(),
                self.columns.len()
            ))),
            None => Ok(()),
        }
    }
}

/// Writes `table` as a comma-separated UTF-8 CSV file with a header row (overwrites an existing file).
pub fn write_csv(path: impl AsRef<Path>, table: &Table) -> Result<(), ExportError> {
    let path = path.as_ref();
    table.validate()?;
    let file_err = |e: &dyn std::fmt::Display| ExportError::File {
        file: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut w = csv::Writer::from_path(path).map_err(|e| file_err(&e))?;
    w.write_record(table.columns.iter().map(|(n, _)| n.as_str()))
        .map_err(|e| file_err(&e))?;
    for row in &table.rows {
        w.write_record(row.iter().map(Value::to_text))
            .map_err(|e| file_err(&e))?;
    }
    w.flush().map_err(|e| file_err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&[
            ("id", ColumnType::Text),
            ("z", ColumnType::Real),
            ("n", ColumnType::Int),
        ]);
        t.push(vec!["a,b".into(), Value::Real(0.1 + 0.2), Value::Int(-3)])
            .unwrap();
        t.push(vec![Value::Null, Value::Real(f64::NAN), Value::Int(7)])
            .unwrap();
        t
    }

    #[test]
    fn csv_round_trips_reals_exactly_and_quotes_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        write_csv(&path, &sample()).unwrap();
        let mut r = csv::Reader::from_path(&path).unwrap();
        assert_eq!(r.headers().unwrap(), vec!["id", "z", "n"]);
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(&rows[0][0], "a,b");
        assert_eq!(rows[0][1].parse::<f64>().unwrap(), 0.1 + 0.2);
        assert_eq!(&rows[1][0], "");
        assert_eq!(&rows[1][1], "", "NaN is written as an empty cell");
        assert_eq!(&rows[1][2], "7");
    }

    #[test]
    fn bad_rows_and_unwritable_files_are_errors_naming_the_file() {
        let mut t = sample();
        assert!(t.push(vec![Value::Null]).is_err());
        t.rows.push(vec![Value::Null]);
        assert!(matches!(t.validate(), Err(ExportError::InvalidTable(_))));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("t.csv");
        let err = write_csv(&path, &sample()).unwrap_err().to_string();
        assert!(err.contains("missing-dir"), "{err}");
    }
}
