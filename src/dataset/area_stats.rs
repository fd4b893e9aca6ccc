//! The CBS kerncijfers of a snapshot's areas: every numeric column the CBS wijk- en buurtkaart gave an area
//! (`aantal_huishoudens`, `percentage_personen_0_tot_15_jaar`, `omgevingsadressendichtheid`, ...; what the
//! importer stored in `store::AreaRecord::stats`, sentinels already dropped), as one dense table: the column
//! names once, a row of values per area (NaN where the area has no value). Custom areas have none.
//!
//! Memory: 8 bytes per area and column (the national file: about 18 k areas x 100 columns = 14 MB), shared by the
//! snapshots [`crate::dataset::Snapshot::apply`] derives.
//!
//! ```
//! use brandpunt::dataset::area_stats::AreaStatsTable;
//! use std::collections::BTreeMap;
//!
//! let a = BTreeMap::from([("aantal_huishoudens".to_string(), 410.0)]);
//! let b = BTreeMap::from([("omgevingsadressendichtheid".to_string(), 2_300.0)]);
//! let t = AreaStatsTable::from_rows([&a, &b, &BTreeMap::new()]);
//! assert_eq!(t.columns(), ["aantal_huishoudens", "omgevingsadressendichtheid"]);
//! assert_eq!(t.value(0, "aantal_huishoudens"), Some(410.0));
//! assert_eq!(t.value(1, "aantal_huishoudens"), None);
//! assert_eq!(t.row(1).collect::<Vec<_>>(), [("omgevingsadressendichtheid", 2_300.0)]);
//! assert_eq!(t.row(2).count(), 0);
//! ```

use crate::heap_size::HeapSize;
use std::collections::{BTreeMap, BTreeSet};

/// The kerncijfers of every area of a snapshot (rows indexed like `Snapshot::areas`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AreaStatsTable {
    /// Column names, sorted.
    columns: Vec<String>,
    /// `areas x columns`, row-major; NaN = no value.
    values: Vec<f64>,
}

impl AreaStatsTable {
    /// The table of `rows` (one map per area, in area order).
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a BTreeMap<String, f64>>) -> Self {
        let rows: Vec<&BTreeMap<String, f64>> = rows.into_iter().collect();
        let columns: Vec<String> = rows
            .iter()
            .flat_map(|r| r.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .cloned()
            .collect();
        let mut values = vec![f64::NAN; rows.len() * columns.len()];
        for (i, r) in rows.iter().enumerate() {
            for (name, v) in r.iter() {
                if let Ok(c) = columns.binary_search(name) {
                    if v.is_finite() {
                        values[i * columns.len() + c] = *v;
                    }
                }
            }
        }
        AreaStatsTable { columns, values }
    }

    /// The column names, sorted.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Whether `name` is a column.
    pub fn has_column(&self, name: &str) -> bool {
        self.columns
            .binary_search_by(|c| c.as_str().cmp(name))
            .is_ok()
    }

    /// The value of column `name` of area `idx`, `None` when the area has none (or there is no such area or
    /// column).
    pub fn value(&self, idx: u32, name: &str) -> Option<f64> {
        let c = self
            .columns
            .binary_search_by(|c| c.as_str().cmp(name))
            .ok()?;
        self.values
            .get(idx as usize * self.columns.len() + c)
            .copied()
            .filter(|v| !v.is_nan())
    }

    /// The values area `idx` has, by column name.
    pub fn row(&self, idx: u32) -> impl Iterator<Item = (&str, f64)> + '_ {
        let n = self.columns.len();
        let start = (idx as usize).saturating_mul(n);
        let row = self.values.get(start..start + n).unwrap_or(&[]);
        self.columns
            .iter()
            .zip(row)
            .filter(|(_, v)| !v.is_nan())
            .map(|(c, v)| (c.as_str(), *v))
    }
}

impl HeapSize for AreaStatsTable {
    fn heap_bytes(&self) -> usize {
        self.columns.heap_bytes() + self.values.heap_bytes()
    }
}
