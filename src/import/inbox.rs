//! Incident deliveries arriving as files, by upload (`POST /api/deliveries`) or in the inbox folder
//! (`serve --inbox DIR`), without HTTP: importing one delivery file with the store's locator
//! ([`import_delivery`]), the rules for file and source names ([`safe_file_name`], [`valid_source`],
//! [`ignored_name`]) and the scan of the inbox folder ([`scan_inbox`]). The server streams uploads, polls the
//! inbox and moves processed files.
//!
//! Inbox conventions: files directly in `DIR` are deliveries of source `politie`; files in a sub-folder
//! `DIR/NAME/` of source `NAME` (a [`valid_source`]; `done` and `failed` are not sources). A `mapping.toml` in
//! that folder is the column mapping for its files. A marker `FILE.done` (empty) after `FILE` hands the file over
//! at once ([`Candidate::marked`]). Files whose names begin with `.` or end in `.part`, `.filepart`, `.tmp` or
//! `.done` are never imported ([`ignored_name`]).
//!
//! ```
//! use brandpunt::import::inbox::{safe_file_name, scan_inbox, valid_source};
//!
//! assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
//! assert!(valid_source("handhaving-oost") && !valid_source("a/b"));
//!
//! let dir = std::env::temp_dir().join(format!("brandpunt-inbox-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("handhaving")).unwrap();
//! std::fs::write(dir.join("handhaving/meldingen.csv"), "a").unwrap();
//! std::fs::write(dir.join("week.csv.part"), "a").unwrap();
//! let found = scan_inbox(&dir);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].source, "handhaving");
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use crate::import::incidents::{
    import_incident_file, IncidentImportError, IncidentImportOptions, IncidentImportSummary,
    Locator,
};
use crate::import::mapping::Mapping;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Import one incident delivery file into `store` for `tenant`/`source`, placing its rows with the store's
/// locator ([`Locator::from_store`]) as `brandpunt import incidents` does. The report is written to
/// `report_path` and returned as values in the summary's `report`.
pub fn import_delivery(
    store: &mut dyn Store,
    tenant: &str,
    source: &str,
    mapping: Option<Mapping>,
    file: &Path,
    report_path: &Path,
) -> Result<IncidentImportSummary, IncidentImportError> {
    let locator = Locator::from_store(store)?;
    import_incident_file(
        store,
        &locator,
        file,
        &IncidentImportOptions {
            tenant: tenant.to_string(),
            source: source.to_string(),
            mapping,
            report_path: Some(report_path.to_path_buf()),
        },
    )
}

/// Did the import store anything (or was the file delivered before)?
pub fn stored_something(s: &IncidentImportSummary) -> bool {
    let o = &s.outcome;
    o.already_imported || o.inserted + o.replaced + o.unchanged > 0
}

/// A source name: 1..=64 characters, letters, digits, `-`, `_`, `.` or space.
pub fn valid_source(source: &str) -> bool {
    let s = source.trim();
    !s.is_empty()
        && s.chars().count() <= 64
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
}

/// A file name safe to create in our own directory (no path parts).
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').trim().to_string();
    if cleaned.is_empty() {
        "levering.csv".to_string()
    } else {
        cleaned
    }
}

/// A file waiting in the inbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub path: PathBuf,
    pub source: String,
    /// `mapping.toml` of its folder, when present.
    pub mapping: Option<PathBuf>,
    /// A `.done` marker exists.
    pub marked: bool,
    pub len: u64,
    pub modified: Option<SystemTime>,
}

/// Is `name` a file the inbox never imports (hidden, an upload in progress, a marker, the mapping)?
pub fn ignored_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || [".part", ".filepart", ".tmp", ".done"]
            .iter()
            .any(|s| lower.ends_with(s))
        || lower == "mapping.toml"
}

/// The files currently in the inbox (see the module docs for the conventions), sorted by path.
pub fn scan_inbox(dir: &Path) -> Vec<Candidate> {
    let mut out = Vec::new();
    let scan_folder = |folder: &Path, source: &str, out: &mut Vec<Candidate>| {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return;
        };
        let mapping = Some(folder.join("mapping.toml")).filter(|m| m.is_file());
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() || ignored_name(&name) {
                continue;
            }
            let marked = folder.join(format!("{name}.done")).exists();
            out.push(Candidate {
                path,
                source: source.to_string(),
                mapping: mapping.clone(),
                marked,
                len: meta.len(),
                modified: meta.modified().ok(),
            });
        }
    };
    scan_folder(dir, "politie", &mut out);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if e.path().is_dir()
                && !name.starts_with('.')
                && name != "done"
                && name != "failed"
                && valid_source(&name)
            {
                scan_folder(&e.path(), &name, &mut out);
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::report::ReportEntry;

    #[test]
    fn file_names_and_sources_are_sanitised() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\x\\week 30.csv"), "week 30.csv");
        assert_eq!(safe_file_name(".."), "levering.csv");
        assert!(valid_source("politie"));
        assert!(valid_source("handhaving-oost"));
        assert!(!valid_source(""));
        assert!(!valid_source("a/b"));
        assert!(ignored_name("x.csv.part"));
        assert!(ignored_name(".hidden.csv"));
        assert!(!ignored_name("week.csv"));
    }

    #[test]
    fn inbox_scan_finds_sources_and_markers() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("handhaving")).unwrap();
        std::fs::create_dir_all(d.join("done")).unwrap();
        std::fs::write(d.join("week.csv"), "a").unwrap();
        std::fs::write(d.join("week.csv.done"), "").unwrap();
        std::fs::write(d.join("upload.csv.part"), "a").unwrap();
        std::fs::write(d.join("handhaving/m.csv"), "ab").unwrap();
        std::fs::write(d.join("handhaving/mapping.toml"), "").unwrap();
        std::fs::write(d.join("done/old.csv"), "a").unwrap();
        let c = scan_inbox(d);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].source, "handhaving");
        assert_eq!(c[0].mapping, Some(d.join("handhaving/mapping.toml")));
        assert_eq!(c[0].len, 2);
        assert!(!c[0].marked);
        assert_eq!(c[1].source, "politie");
        assert!(c[1].marked);
        assert_eq!(c[1].mapping, None);
    }

    #[test]
    fn the_report_comes_back_as_the_values_the_report_file_lists() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::store::open(&dir.path().join("b.db")).unwrap();
        let file = dir.path().join("bad.csv");
        std::fs::write(
            &file,
            "Registratienummer;Pleegdatum begin;Maatschappelijke klasse;Straat;Huisnummer;Postcode\n\
             X-1;31-02-2024;1.1.1 Diefstal/inbraak woning;Dijklaan;2;7478AQ\n\
             =X-2;gisteren;1.1.1 Diefstal/inbraak woning;Dijklaan;2;7478AQ\n",
        )
        .unwrap();
        let report_path = dir.path().join("rapport.csv");
        let summary = import_delivery(
            store.as_store_mut(),
            "default",
            "politie",
            None,
            &file,
            &report_path,
        )
        .unwrap();
        let lines: Vec<u64> = summary.report.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(summary.report[0].registration.as_deref(), Some("X-1"));
        assert_eq!(
            summary.report[0].column.as_deref(),
            Some("Pleegdatum begin")
        );
        assert_eq!(summary.report[1].registration.as_deref(), Some("=X-2"));
        assert!(summary.report.iter().all(|r| r.outcome == "rejected"));
        let entries: Vec<ReportEntry> = summary
            .report
            .iter()
            .map(|r| ReportEntry {
                line: r.line,
                registration: r.registration.clone(),
                column: r.column.clone(),
                reason: r.reason.clone(),
                outcome: "rejected",
            })
            .collect();
        let mut expected = Vec::new();
        crate::import::report::write_report_to(&mut expected, &entries).unwrap();
        assert_eq!(std::fs::read(&report_path).unwrap(), expected);
        // The JSON rows carry the delivered value, not the CSV file's formula guard.
        let json = serde_json::to_value(&summary.report).unwrap();
        assert_eq!(json[1]["registration"], "=X-2");
        assert_eq!(json[0]["column"], "Pleegdatum begin");
    }
}
