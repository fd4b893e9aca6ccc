//! A tenant's incidents as a store reads them for a snapshot ([`IncidentTable`]): one compact row per incident
//! ([`IncidentRow`]), its category, source and buurt codes interned into code tables, so that reading millions of
//! incidents allocates per distinct code, not per incident. [`super::Snapshot::build_table`] turns a
//! [`TenantTable`] (areas as records plus an incident table) into a snapshot; the rows may come in any order.
//!
//! ```
//! use brandpunt::dataset::IncidentTable;
//!
//! let mut table = IncidentTable::default();
//! table.push(7, "politie", 28_000_000, 28_000_030, Some("1.1.1"), Some((155_000.0, 463_000.0)), Some("BU03630000"))?;
//! table.push(8, "politie", 28_000_100, 28_000_100, Some("1.1.1"), None, None)?;
//! assert_eq!(table.len(), 2);
//! assert_eq!(table.categories(), ["1.1.1"]);
//! assert_eq!(table.rows()[1].buurt, u32::MAX);
//! // Minutes outside the dates a snapshot can show are refused.
//! assert!(table.push(9, "politie", i64::MAX, 0, None, None, None).is_err());
//! # Ok::<(), brandpunt::dataset::IncidentTableError>(())
//! ```

use super::snapshot::{datetime_to_minutes, IncidentRecord, TenantArea, TenantData};
use rustc_hash::FxHashMap as HashMap;

/// One incident in compact form, its codes as indices into its [`IncidentTable`]'s code tables.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IncidentRow {
    pub id: i64,
    /// RD New metres (NaN when not located at a point).
    pub x_m: f64,
    pub y_m: f64,
    /// Minutes since 1970-01-01T00:00 (local time as delivered).
    pub begin_min: i64,
    pub end_min: i64,
    /// Index into [`IncidentTable::categories`] (`u16::MAX` = no category).
    pub category: u16,
    /// Index into [`IncidentTable::sources`].
    pub source: u16,
    /// Index into [`IncidentTable::buurtcodes`] (`u32::MAX` = no buurt).
    pub buurt: u32,
}

/// A row the table cannot hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IncidentTableError {
    /// The begin or end (minutes since 1970) is not a date a snapshot can show.
    #[error("incident {id}: begin/end {minutes} min is not a valid moment")]
    Moment { id: i64, minutes: i64 },
}

/// Compact incidents with their code tables (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct IncidentTable {
    rows: Vec<IncidentRow>,
    categories: Vec<String>,
    category_idx: HashMap<String, u16>,
    sources: Vec<String>,
    source_idx: HashMap<String, u16>,
    buurtcodes: Vec<String>,
    buurt_idx: HashMap<String, u32>,
}

/// The index of `code` in `table`, appended when new (the lookup takes `&str`: no allocation for known codes).
fn intern<K: Copy + TryFrom<usize>>(
    table: &mut Vec<String>,
    index: &mut HashMap<String, K>,
    code: &str,
    full: K,
) -> K {
    if let Some(&k) = index.get(code) {
        return k;
    }
    let k = K::try_from(table.len()).unwrap_or(full);
    table.push(code.to_string());
    index.insert(code.to_string(), k);
    k
}

/// Whether `minutes` since 1970 is a moment chrono can represent (what a snapshot turns it into).
fn valid_minutes(minutes: i64) -> bool {
    minutes
        .checked_mul(60)
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .is_some()
}

impl IncidentTable {
    /// An empty table with room for `rows` incidents.
    pub fn with_capacity(rows: usize) -> IncidentTable {
        IncidentTable {
            rows: Vec::with_capacity(rows),
            ..IncidentTable::default()
        }
    }

    /// Add one incident: `begin_min`/`end_min` in minutes since 1970-01-01T00:00, `point` in RD metres (a point
    /// with a non-finite coordinate counts as none). Codes are interned. Errors when a moment is out of range.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        id: i64,
        source: &str,
        begin_min: i64,
        end_min: i64,
        category: Option<&str>,
        point: Option<(f64, f64)>,
        buurtcode: Option<&str>,
    ) -> Result<(), IncidentTableError> {
        for minutes in [begin_min, end_min] {
            if !valid_minutes(minutes) {
                return Err(IncidentTableError::Moment { id, minutes });
            }
        }
        self.push_valid(id, source, begin_min, end_min, category, point, buurtcode);
        Ok(())
    }

    /// [`IncidentTable::push`] of moments known to be valid.
    #[allow(clippy::too_many_arguments)]
    fn push_valid(
        &mut self,
        id: i64,
        source: &str,
        begin_min: i64,
        end_min: i64,
        category: Option<&str>,
        point: Option<(f64, f64)>,
        buurtcode: Option<&str>,
    ) {
        let category = match category {
            Some(c) => intern(&mut self.categories, &mut self.category_idx, c, u16::MAX),
            None => u16::MAX,
        };
        let source = intern(&mut self.sources, &mut self.source_idx, source, u16::MAX);
        let buurt = match buurtcode {
            Some(c) => intern(&mut self.buurtcodes, &mut self.buurt_idx, c, u32::MAX),
            None => u32::MAX,
        };
        let (x_m, y_m) = point.unwrap_or((f64::NAN, f64::NAN));
        self.rows.push(IncidentRow {
            id,
            x_m,
            y_m,
            begin_min,
            end_min,
            category,
            source,
            buurt,
        });
    }

    /// The table of `records`, in their order.
    pub fn from_records(records: Vec<IncidentRecord>) -> IncidentTable {
        let mut table = IncidentTable::with_capacity(records.len());
        for r in records {
            let point = match (r.x_m, r.y_m) {
                (Some(x), Some(y)) => Some((x, y)),
                _ => None,
            };
            // A record's moments are datetimes: valid.
            table.push_valid(
                r.id,
                &r.source,
                datetime_to_minutes(r.begin),
                datetime_to_minutes(r.end),
                r.category_code.as_deref(),
                point,
                r.buurtcode.as_deref(),
            );
        }
        table
    }

    /// Append the incidents of `other` after this table's (its codes interned into this table's tables).
    pub fn append(&mut self, other: IncidentTable) {
        let categories: Vec<u16> = other
            .categories
            .iter()
            .map(|c| intern(&mut self.categories, &mut self.category_idx, c, u16::MAX))
            .collect();
        let sources: Vec<u16> = other
            .sources
            .iter()
            .map(|c| intern(&mut self.sources, &mut self.source_idx, c, u16::MAX))
            .collect();
        let buurten: Vec<u32> = other
            .buurtcodes
            .iter()
            .map(|c| intern(&mut self.buurtcodes, &mut self.buurt_idx, c, u32::MAX))
            .collect();
        self.rows.reserve(other.rows.len());
        self.rows.extend(other.rows.into_iter().map(|mut r| {
            r.category = categories
                .get(usize::from(r.category))
                .copied()
                .unwrap_or(u16::MAX);
            r.source = sources
                .get(usize::from(r.source))
                .copied()
                .unwrap_or(u16::MAX);
            r.buurt = buurten.get(r.buurt as usize).copied().unwrap_or(u32::MAX);
            r
        }));
    }

    /// Number of incidents.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The incidents, in the order they were added.
    pub fn rows(&self) -> &[IncidentRow] {
        &self.rows
    }

    /// Category codes, indexed by [`IncidentRow::category`].
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// Source codes, indexed by [`IncidentRow::source`].
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Buurt codes, indexed by [`IncidentRow::buurt`].
    pub fn buurtcodes(&self) -> &[String] {
        &self.buurtcodes
    }

    /// The rows and the code tables (categories, sources, buurt codes).
    pub fn into_parts(self) -> (Vec<IncidentRow>, Vec<String>, Vec<String>, Vec<String>) {
        (self.rows, self.categories, self.sources, self.buurtcodes)
    }
}

/// Everything a snapshot shows of one tenant, its incidents compact: what [`super::Snapshot::build_table`] takes
/// and a store reads with `Store::tenant_table`.
#[derive(Clone, Debug, Default)]
pub struct TenantTable {
    /// Tenant code.
    pub code: String,
    pub name: String,
    /// As [`TenantData::areas`].
    pub areas: Vec<TenantArea>,
    pub incidents: IncidentTable,
}

impl From<TenantData> for TenantTable {
    fn from(data: TenantData) -> TenantTable {
        TenantTable {
            code: data.code,
            name: data.name,
            areas: data.areas,
            incidents: IncidentTable::from_records(data.incidents),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn codes_are_interned_once_and_records_keep_their_values() {
        let at = NaiveDate::from_ymd_opt(2024, 3, 1)
            .and_then(|d| d.and_hms_opt(22, 0, 0))
            .unwrap();
        let record = |id, cat: Option<&str>, buurt: Option<&str>| IncidentRecord {
            id,
            source: "politie".into(),
            begin: at,
            end: at + chrono::Duration::minutes(5),
            category_code: cat.map(str::to_string),
            x_m: Some(155_000.5),
            y_m: (id != 3).then_some(463_000.25),
            buurtcode: buurt.map(str::to_string),
        };
        let table = IncidentTable::from_records(vec![
            record(1, Some("2.2.1"), Some("BU1")),
            record(2, Some("1.1.1"), Some("BU1")),
            record(3, None, Some("BU2")),
            record(4, Some("2.2.1"), None),
        ]);
        assert_eq!(table.categories(), ["2.2.1", "1.1.1"]);
        assert_eq!(table.sources(), ["politie"]);
        assert_eq!(table.buurtcodes(), ["BU1", "BU2"]);
        let r = table.rows();
        assert_eq!(
            r.iter().map(|r| r.category).collect::<Vec<_>>(),
            [0, 1, u16::MAX, 0]
        );
        assert_eq!(
            r.iter().map(|r| r.buurt).collect::<Vec<_>>(),
            [0, 0, 1, u32::MAX]
        );
        assert_eq!(r[0].begin_min, datetime_to_minutes(at));
        assert_eq!(r[0].end_min, r[0].begin_min + 5);
        assert_eq!((r[0].x_m, r[0].y_m), (155_000.5, 463_000.25));
        // Without both coordinates there is no point.
        assert!(r[2].x_m.is_nan() && r[2].y_m.is_nan());

        // Pushing the same values gives the same rows.
        let mut pushed = IncidentTable::default();
        for (id, cat, buurt, point) in [
            (1, Some("2.2.1"), Some("BU1"), Some((155_000.5, 463_000.25))),
            (2, Some("1.1.1"), Some("BU1"), Some((155_000.5, 463_000.25))),
            (3, None, Some("BU2"), None),
            (4, Some("2.2.1"), None, Some((155_000.5, 463_000.25))),
        ] {
            let b = datetime_to_minutes(at);
            pushed
                .push(id, "politie", b, b + 5, cat, point, buurt)
                .unwrap();
        }
        assert_eq!(pushed.rows()[..2], table.rows()[..2]);
        assert_eq!(pushed.rows()[3], table.rows()[3]);
        assert_eq!(pushed.categories(), table.categories());
    }

    #[test]
    fn an_appended_table_keeps_its_codes() {
        let mut a = IncidentTable::default();
        a.push(1, "politie", 0, 0, Some("1.1.1"), None, Some("BU1"))
            .unwrap();
        let mut b = IncidentTable::default();
        b.push(
            2,
            "gemeente",
            5,
            5,
            Some("2.2.1"),
            Some((1.0, 2.0)),
            Some("BU2"),
        )
        .unwrap();
        b.push(3, "politie", 6, 6, Some("1.1.1"), None, None)
            .unwrap();
        b.push(4, "politie", 7, 7, None, None, Some("BU1")).unwrap();
        a.append(b);
        let view: Vec<(i64, &str, Option<&str>, Option<&str>)> = a
            .rows()
            .iter()
            .map(|r| {
                (
                    r.id,
                    a.sources()[usize::from(r.source)].as_str(),
                    a.categories()
                        .get(usize::from(r.category))
                        .map(String::as_str),
                    a.buurtcodes().get(r.buurt as usize).map(String::as_str),
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                (1, "politie", Some("1.1.1"), Some("BU1")),
                (2, "gemeente", Some("2.2.1"), Some("BU2")),
                (3, "politie", Some("1.1.1"), None),
                (4, "politie", None, Some("BU1")),
            ]
        );
        assert_eq!(a.categories(), ["1.1.1", "2.2.1"]);
    }

    #[test]
    fn out_of_range_moments_are_refused() {
        let mut t = IncidentTable::default();
        assert_eq!(
            t.push(5, "politie", 0, i64::MIN, None, None, None),
            Err(IncidentTableError::Moment {
                id: 5,
                minutes: i64::MIN
            })
        );
        assert!(t.is_empty());
    }
}
