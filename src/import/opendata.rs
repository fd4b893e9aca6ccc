//! Police open data per region per period (CBS "dataderden" tables 47022NED crimes, 47024NED nuisance,
//! 47018NED crimes per year), as the OData JSON `value` array or as CSV, in their published form: region keys
//! padded with spaces (`GM0363    `), category keys with a trailing space (`'1.1.1 '`), periods `2024MM09`
//! (month) or `2024JJ00` (year), and `null` (JSON) or an empty cell / `.` (CSV) for a withheld value - which
//! is kept as withheld, never read as zero.

use super::{read_delimited_text, ImportError};
use crate::store::PoliceCount;
use std::path::Path;

/// A row that could not be used.
#[derive(Clone, Debug, PartialEq)]
pub struct CountRejection {
    /// 1-based row number (JSON: position in `value`; CSV: physical line).
    pub row: u64,
    pub column: String,
    pub reason: String,
}

/// What was read from one open-data file.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenDataCounts {
    pub table: String,
    pub rows: Vec<PoliceCount>,
    pub rejections: Vec<CountRejection>,
}

/// `2024MM09` -> `2024-09`, `2024JJ00` -> `2024`.
pub fn parse_period(raw: &str) -> Option<String> {
    let p = raw.trim();
    if p.len() != 8
        || !p[..4].bytes().all(|b| b.is_ascii_digit())
        || !p[6..].bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: u32 = p[6..].parse().ok()?;
    match &p[4..6] {
        "MM" if (1..=12).contains(&n) => Some(format!("{}-{:02}", &p[..4], n)),
        "JJ" if n == 0 => Some(p[..4].to_string()),
        _ => None,
    }
}

const CATEGORY_KEYS: &[&str] = &["soortmisdrijf", "overlast", "soortoverlast"];
const REGION_KEYS: &[&str] = &["wijkenenbuurten", "regiocode", "regios"];
const PERIOD_KEYS: &[&str] = &["perioden"];

fn table_for(category_key: &str, yearly: bool) -> &'static str {
    match (category_key, yearly) {
        ("soortmisdrijf", false) => "47022NED",
        ("soortmisdrijf", true) => "47018NED",
        _ => "47024NED",
    }
}

struct Columns {
    category: String,
    region: String,
    period: String,
    measure: String,
}

fn find_columns(file: &str, names: &[String]) -> Result<Columns, ImportError> {
    let lower: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let pick = |keys: &[&str]| {
        lower
            .iter()
            .position(|n| keys.contains(&n.as_str()))
            .map(|i| names[i].clone())
    };
    let measure = lower
        .iter()
        .position(|n| n.starts_with("geregistreerde"))
        .map(|i| names[i].clone());
    let category = pick(CATEGORY_KEYS);
    let region = pick(REGION_KEYS);
    let period = pick(PERIOD_KEYS);
    let mut missing = Vec::new();
    if category.is_none() {
        missing.push("SoortMisdrijf/Overlast".to_string());
    }
    if region.is_none() {
        missing.push("WijkenEnBuurten".to_string());
    }
    if period.is_none() {
        missing.push("Perioden".to_string());
    }
    if measure.is_none() {
        missing.push("GeregistreerdeMisdrijven_1/GeregistreerdeOverlast_1".to_string());
    }
    match (category, region, period, measure) {
        (Some(category), Some(region), Some(period), Some(measure)) => Ok(Columns {
            category,
            region,
            period,
            measure,
        }),
        _ => Err(ImportError::MissingColumns {
            file: file.to_string(),
            what: format!("the file (columns found: {})", names.join(", ")),
            missing,
        }),
    }
}

fn build_row(
    cols: &Columns,
    row: u64,
    get: &dyn Fn(&str) -> Option<String>,
    value: Result<Option<i64>, String>,
    rejections: &mut Vec<CountRejection>,
) -> Option<(String, bool, PoliceCount)> {
    let reject = |rejections: &mut Vec<CountRejection>, column: &str, reason: String| {
        rejections.push(CountRejection {
            row,
            column: column.to_string(),
            reason,
        });
    };
    let category = get(&cols.category)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let region = get(&cols.region)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let raw_period = get(&cols.period).unwrap_or_default();
    if category.is_empty() {
        reject(rejections, &cols.category, "empty category key".into());
        return None;
    }
    if region.is_empty() {
        reject(rejections, &cols.region, "empty region key".into());
        return None;
    }
    let Some(period) = parse_period(&raw_period) else {
        reject(
            rejections,
            &cols.period,
            format!("invalid period '{}'", raw_period.trim()),
        );
        return None;
    };
    let value = match value {
        Ok(v) => v,
        Err(reason) => {
            reject(rejections, &cols.measure, reason);
            return None;
        }
    };
    let yearly = !period.contains('-');
    Some((
        cols.category.to_ascii_lowercase(),
        yearly,
        PoliceCount {
            table: String::new(),
            category,
            region,
            period,
            value,
        },
    ))
}

fn finish(
    file: &str,
    parsed: Vec<(String, bool, PoliceCount)>,
    rejections: Vec<CountRejection>,
) -> Result<OpenDataCounts, ImportError> {
    let Some((key, yearly, _)) = parsed.first() else {
        return Err(ImportError::File {
            file: file.to_string(),
            reason: if rejections.is_empty() {
                "no rows".into()
            } else {
                format!("no usable rows ({} rejected)", rejections.len())
            },
        });
    };
    let table = table_for(key, *yearly).to_string();
    let rows = parsed
        .into_iter()
        .map(|(_, _, mut r)| {
            r.table = table.clone();
            r
        })
        .collect();
    Ok(OpenDataCounts {
        table,
        rows,
        rejections,
    })
}

/// Read an open-data table from OData JSON (`{"value": [...]}` or a bare array) or CSV (by content).
pub fn read_counts(path: &Path) -> Result<OpenDataCounts, ImportError> {
    let file = path.display().to_string();
    let (text, delimiter) = read_delimited_text(path)?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        read_json(&file, trimmed)
    } else {
        read_csv(&file, &text, delimiter)
    }
}

fn read_json(file: &str, text: &str) -> Result<OpenDataCounts, ImportError> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| ImportError::File {
        file: file.to_string(),
        reason: format!(
            "invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    let rows = match &doc {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("value") {
            Some(serde_json::Value::Array(a)) => a,
            _ => {
                return Err(ImportError::File {
                    file: file.to_string(),
                    reason: "JSON object without a 'value' array (not an OData response)".into(),
                })
            }
        },
        _ => {
            return Err(ImportError::File {
                file: file.to_string(),
                reason: "JSON is neither an OData response nor an array".into(),
            })
        }
    };
    let names: Vec<String> = match rows.first() {
        Some(serde_json::Value::Object(o)) => o.keys().cloned().collect(),
        _ => {
            return Err(ImportError::File {
                file: file.to_string(),
                reason: "no rows".into(),
            })
        }
    };
    let cols = find_columns(file, &names)?;
    let mut parsed = Vec::new();
    let mut rejections = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let n = i as u64 + 1;
        let Some(obj) = row.as_object() else {
            rejections.push(CountRejection {
                row: n,
                column: String::new(),
                reason: "row is not an object".into(),
            });
            continue;
        };
        let get = |k: &str| match obj.get(k) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(v)) => Some(v.to_string()),
            _ => None,
        };
        let value = match obj.get(&cols.measure) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(v)) => match v.as_i64() {
                Some(v) if v >= 0 => Ok(Some(v)),
                _ => Err(format!("not a count: {v}")),
            },
            Some(other) => Err(format!("not a count: {other}")),
        };
        if let Some(p) = build_row(&cols, n, &get, value, &mut rejections) {
            parsed.push(p);
        }
    }
    finish(file, parsed, rejections)
}

fn read_csv(file: &str, text: &str, delimiter: u8) -> Result<OpenDataCounts, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::File {
            file: file.to_string(),
            reason: format!("unreadable header: {e}"),
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let cols = find_columns(file, &headers)?;
    let idx = |name: &str| headers.iter().position(|h| h == name);
    let mut parsed = Vec::new();
    let mut rejections = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                rejections.push(CountRejection {
                    row: line,
                    column: String::new(),
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let get = |k: &str| idx(k).and_then(|i| record.get(i)).map(str::to_string);
        let raw = get(&cols.measure).unwrap_or_default();
        let raw = raw.trim();
        let value = if raw.is_empty() || raw == "." {
            Ok(None)
        } else {
            raw.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .map(Some)
                .ok_or_else(|| format!("not a count: '{raw}'"))
        };
        if let Some(p) = build_row(&cols, line, &get, value, &mut rejections) {
            parsed.push(p);
        }
    }
    finish(file, parsed, rejections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(parse_period("2024MM09"), Some("2024-09".into()));
        assert_eq!(parse_period(" 2023JJ00 "), Some("2023".into()));
        assert_eq!(parse_period("2024MM13"), None);
        assert_eq!(parse_period("2024KW03"), None);
        assert_eq!(parse_period("2024"), None);
    }

    #[test]
    fn json_published_form() {
        let text = r#"{"odata.metadata": "x", "value": [
            {"ID": 0, "SoortMisdrijf": "1.1.1 ", "WijkenEnBuurten": "GM0363    ", "Perioden": "2025MM09", "GeregistreerdeMisdrijven_1": 37},
            {"ID": 1, "SoortMisdrijf": "1.1.1 ", "WijkenEnBuurten": "BU03630000", "Perioden": "2025MM09", "GeregistreerdeMisdrijven_1": null},
            {"ID": 2, "SoortMisdrijf": "1.1.1 ", "WijkenEnBuurten": "BU03630001", "Perioden": "2025XX09", "GeregistreerdeMisdrijven_1": 2}
        ]}"#;
        let r = read_json("t.json", text).unwrap();
        assert_eq!(r.table, "47022NED");
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].region, "GM0363");
        assert_eq!(r.rows[0].category, "1.1.1");
        assert_eq!(r.rows[0].value, Some(37));
        assert_eq!(r.rows[1].value, None);
        assert_eq!(r.rejections.len(), 1);
        assert_eq!(r.rejections[0].row, 3);
        assert_eq!(r.rejections[0].column, "Perioden");
    }

    #[test]
    fn csv_with_withheld_values() {
        let text =
            "\"ID\";\"Overlast\";\"WijkenEnBuurten\";\"Perioden\";\"GeregistreerdeOverlast_1\"\n\
                    0;\"A1 \";\"WK036300  \";\"2024MM01\";\"  12\"\n\
                    1;\"A1 \";\"WK036301  \";\"2024MM01\";\".\"\n\
                    2;\"A1 \";\"WK036302  \";\"2024MM01\";\"-3\"\n";
        let r = read_csv("t.csv", text, b';').unwrap();
        assert_eq!(r.table, "47024NED");
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].value, Some(12));
        assert_eq!(r.rows[1].value, None);
        assert_eq!(r.rejections[0].row, 4);
    }

    #[test]
    fn wrong_kind_is_refused() {
        let e = read_csv("t.csv", "a;b\n1;2\n", b';').unwrap_err();
        assert!(e.to_string().contains("WijkenEnBuurten"), "{e}");
    }
}
