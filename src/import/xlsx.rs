//! XLSX deliveries through GDAL's XLSX driver.
//!
//! The driver is told (thread-local configuration, restored afterwards) to type every field as text
//! (`OGR_XLSX_FIELD_TYPES=STRING`) so that registration numbers, postcodes and coordinates arrive exactly
//! as shown, and to treat no row as header (`OGR_XLSX_HEADERS=DISABLE`). The header is then found by the same
//! rules as for CSV, and GDAL's feature id is the 1-based sheet row, which becomes the line number. `FORCE`
//! would take the first sheet row as header: wrong for exports with a title row (or an empty first row),
//! and it would not tell us the header's row. Rows that Excel omits from the sheet XML (empty rows) still
//! get their own feature ids, so line numbers match the row numbers Excel shows (see the
//! `gaps_title.xlsx` fixture). With text typing, date cells arrive as `2024/03/15` and datetime cells as
//! `2024/03/15 14:30:00`, time cells as `14:30:00`; dates typed as text arrive as typed. Both are handled
//! by [`super::sniff::parse_date`]; plain numbers in date/time columns are read as Excel serials.
//!
//! The first sheet is read unless the mapping names one. In-memory uploads go through GDAL's `/vsimem/`
//! file system, so nothing is written to disk.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use gdal::vector::LayerAccess;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use super::delivery_error::DeliveryError;
use super::sheet::{Record, Table};

/// Sets thread-local GDAL configuration options and clears them again on drop.
struct ConfigGuard(&'static [(&'static str, &'static str)]);

impl ConfigGuard {
    fn set(options: &'static [(&'static str, &'static str)]) -> ConfigGuard {
        for (k, v) in options {
            // Failure only happens for keys/values containing NUL bytes, which these constants do not.
            let _ = gdal::config::set_thread_local_config_option(k, v);
        }
        ConfigGuard(options)
    }
}

impl Drop for ConfigGuard {
    fn drop(&mut self) {
        for (k, _) in self.0 {
            let _ = gdal::config::clear_thread_local_config_option(k);
        }
    }
}

const XLSX_OPTIONS: &[(&str, &str)] = &[
    ("OGR_XLSX_HEADERS", "DISABLE"),
    ("OGR_XLSX_FIELD_TYPES", "STRING"),
];

/// Reads one sheet of an XLSX file on disk (or any GDAL path) into text records. `file` names the
/// delivery in errors; `sheet` selects a sheet by name (default: the first).
pub(crate) fn read_xlsx_path(
    gdal_path: &Path,
    file: &str,
    sheet: Option<&str>,
) -> Result<Table, DeliveryError> {
    let err = |reason: String| DeliveryError::Xlsx {
        file: file.to_string(),
        reason,
    };
    let _guard = ConfigGuard::set(XLSX_OPTIONS);
    let dataset = Dataset::open_ex(
        gdal_path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            allowed_drivers: Some(&["XLSX"]),
            ..Default::default()
        },
    )
    .map_err(|e| err(format!("kan werkmap niet openen: {e}")))?;
    let mut layer = match sheet {
        Some(name) => dataset.layer_by_name(name).map_err(|_| {
            let sheets: Vec<String> = dataset.layers().map(|l| l.name()).collect();
            err(format!(
                "werkblad '{name}' niet gevonden; aanwezig: {}",
                sheets.join(", ")
            ))
        })?,
        None => dataset
            .layer(0)
            .map_err(|_| err("werkmap bevat geen werkblad".to_string()))?,
    };
    let mut records = Vec::new();
    let mut previous = 0u64;
    for feature in layer.features() {
        let line = feature.fid().unwrap_or(previous + 1);
        previous = line;
        let fields = (0..feature.field_count())
            .map(|i| {
                feature
                    .field_as_string(i)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            })
            .collect();
        records.push(Record { line, fields });
    }
    Ok(Table {
        records,
        excel_serials: true,
    })
}

/// Number of `/vsimem/` names ever created.
static VSIMEM_COUNTER: AtomicU64 = AtomicU64::new(0);
/// `/vsimem/` name numbers not in use. GDAL keeps state per archive *name* for the life of the process
/// (about 1 KB per workbook, more for archives with many entries), so a fresh name per upload made a
/// long-running server grow without bound (found by the `delivery_xlsx` fuzz target). Names are
/// therefore reused: there are never more of them than concurrent reads. GDAL notices that a reused
/// name holds a new file, even one of the same size within the same second.
static FREE_VSIMEM_IDS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Reads an XLSX workbook held in memory via GDAL's `/vsimem/` (removed again afterwards).
pub(crate) fn read_xlsx_bytes(
    bytes: &[u8],
    file: &str,
    sheet: Option<&str>,
) -> Result<Table, DeliveryError> {
    let free = || {
        FREE_VSIMEM_IDS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    let n = free()
        .pop()
        .unwrap_or_else(|| VSIMEM_COUNTER.fetch_add(1, Ordering::Relaxed));
    let path = format!("/vsimem/brandpunt-delivery-{}-{n}.xlsx", std::process::id());
    let result = match gdal::vsi::create_mem_file(&path, bytes.to_vec()) {
        Ok(()) => {
            let result = read_xlsx_path(Path::new(&path), file, sheet);
            let _ = gdal::vsi::unlink_mem_file(&path);
            result
        }
        Err(e) => Err(DeliveryError::Xlsx {
            file: file.to_string(),
            reason: format!("kan werkmap niet in geheugen plaatsen: {e}"),
        }),
    };
    free().push(n);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (fuzzing): every in-memory read used a new `/vsimem/` name, and GDAL's per-name state
    /// grew by ~1 KB per upload forever. Sequential reads must reuse one name and still read the right
    /// workbook each time (rows 1, 3, 4, 7 and 9 of the fixture's sheet XML hold cells).
    #[test]
    fn in_memory_reads_reuse_vsimem_names() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/deliveries/gaps_title.xlsx"
        ))
        .unwrap();
        let before = VSIMEM_COUNTER.load(Ordering::Relaxed);
        for _ in 0..40 {
            let table = read_xlsx_bytes(&bytes, "gaps_title.xlsx", None).unwrap();
            let lines: Vec<u64> = table
                .records
                .iter()
                .filter(|r| r.fields.iter().any(|f| !f.is_empty()))
                .map(|r| r.line)
                .collect();
            assert_eq!(lines, [1, 3, 4, 7, 9]);
        }
        let created = VSIMEM_COUNTER.load(Ordering::Relaxed) - before;
        // Other tests may read workbooks concurrently; 40 names would mean no reuse at all.
        assert!(
            created < 8,
            "{created} /vsimem/ names for 40 sequential reads"
        );
    }
}
