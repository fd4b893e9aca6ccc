//! Municipal figures per buurt (CSV keyed by buurtcode) for enrichment.
//!
//! Two layouts are accepted, `;`/`,`/tab separated, UTF-8 or Windows-1252, decimal commas allowed:
//! - long: columns `buurtcode`, `indicator` (or `naam`), `waarde` (or `value`): one value per row;
//! - wide: a `buurtcode` column and one column per indicator.
//!
//! An empty cell is a missing value. An unparsable number or an invalid buurtcode rejects that value with its line
//! and column; a file without a `buurtcode` column is refused.

use super::{read_delimited_text, sniff::parse_decimal, ImportError};
use crate::store::IndicatorValue;
use std::path::Path;

/// A value that could not be used.
#[derive(Clone, Debug, PartialEq)]
pub struct IndicatorRejection {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

/// What was read from one indicator file.
#[derive(Clone, Debug, PartialEq)]
pub struct Indicators {
    pub values: Vec<IndicatorValue>,
    pub rejections: Vec<IndicatorRejection>,
}

fn valid_buurtcode(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 10
        && code.starts_with("BU")
        && b[2..6].iter().all(u8::is_ascii_digit)
        && b[6..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// Read an indicator CSV.
pub fn read_indicators(path: &Path) -> Result<Indicators, ImportError> {
    let file = path.display().to_string();
    let (text, delimiter) = read_delimited_text(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::File {
            file: file.clone(),
            reason: format!("unreadable header: {e}"),
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let lower: Vec<String> = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
    let pos = |names: &[&str]| lower.iter().position(|h| names.contains(&h.as_str()));
    let Some(code_col) = pos(&["buurtcode", "bu_code", "code"]) else {
        return Err(ImportError::MissingColumns {
            file,
            what: format!("the file (columns found: {})", headers.join(", ")),
            missing: vec!["buurtcode".into()],
        });
    };
    let long = match (
        pos(&["indicator", "naam", "name"]),
        pos(&["waarde", "value"]),
    ) {
        (Some(n), Some(v)) if headers.len() == 3 => Some((n, v)),
        _ => None,
    };
    let mut values = Vec::new();
    let mut rejections = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rejections.push(IndicatorRejection {
                    line: e.position().map(|p| p.line()).unwrap_or(0),
                    column: String::new(),
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let code = record.get(code_col).unwrap_or("").trim().to_string();
        if !valid_buurtcode(&code) {
            rejections.push(IndicatorRejection {
                line,
                column: headers[code_col].clone(),
                reason: format!("invalid buurtcode '{code}'"),
            });
            continue;
        }
        let mut push = |name: &str, column: &str, raw: &str| {
            let raw = raw.trim();
            if raw.is_empty() {
                values.push(IndicatorValue {
                    buurtcode: code.clone(),
                    name: name.to_string(),
                    value: None,
                });
            } else if let Some(v) = parse_decimal(raw) {
                values.push(IndicatorValue {
                    buurtcode: code.clone(),
                    name: name.to_string(),
                    value: Some(v),
                });
            } else {
                rejections.push(IndicatorRejection {
                    line,
                    column: column.to_string(),
                    reason: format!("not a number: '{raw}'"),
                });
            }
        };
        match long {
            Some((n, v)) => {
                let name = record.get(n).unwrap_or("").trim().to_string();
                if name.is_empty() {
                    rejections.push(IndicatorRejection {
                        line,
                        column: headers[n].clone(),
                        reason: "empty indicator name".into(),
                    });
                    continue;
                }
                push(&name, &headers[v], record.get(v).unwrap_or(""));
            }
            None => {
                for (i, h) in headers.iter().enumerate() {
                    if i != code_col && !h.is_empty() {
                        push(&h.to_ascii_lowercase(), h, record.get(i).unwrap_or(""));
                    }
                }
            }
        }
    }
    Ok(Indicators { values, rejections })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f
    }

    #[test]
    fn wide_form_with_decimal_commas() {
        let f = file(
            b"buurtcode;leegstand_pct;meldingen\nBU19990001;3,5;12\nBU1999AE01;;x\nBU19;1;2\n",
        );
        let r = read_indicators(f.path()).unwrap();
        assert_eq!(r.values.len(), 3);
        assert_eq!(r.values[0].value, Some(3.5));
        assert_eq!(r.values[2].value, None);
        assert_eq!(r.rejections.len(), 2);
        assert_eq!(
            (r.rejections[0].line, r.rejections[0].column.as_str()),
            (3, "meldingen")
        );
        assert_eq!(r.rejections[1].line, 4);
    }

    #[test]
    fn long_form_cp1252() {
        let f = file(b"buurtcode;indicator;waarde\nBU19990001;tevredenheid_caf\xe9;7,1\n");
        let r = read_indicators(f.path()).unwrap();
        assert_eq!(r.values[0].name, "tevredenheid_café");
        assert_eq!(r.values[0].value, Some(7.1));
    }

    #[test]
    fn refuses_without_buurtcode() {
        let f = file(b"a;b\n1;2\n");
        assert!(read_indicators(f.path())
            .unwrap_err()
            .to_string()
            .contains("buurtcode"));
    }
}
