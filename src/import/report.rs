//! The import report: one CSV line per row that did not make it (rejected while reading, or later not
//! located / ambiguous in geocoding) or whose location is doubtful (placed at its coordinates because the
//! address was not found, address and coordinates in conflict, placed at an intersection, a street or near an
//! address), for the analyst to check or fix in the source system.
//!
//! Format: `;`-separated, UTF-8 with BOM (so Dutch Excel opens it with the right columns and characters),
//! header `regel;registratienummer;kolom;reden;uitkomst`. Fields starting with `=`, `+`, `-`, `@`, tab or
//! carriage return are prefixed with `'` so that Excel does not evaluate delivery content as a formula
//! (CSV injection).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::delivery::Rejection;

/// One line of the import report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEntry {
    /// Line (or sheet row) in the delivery.
    pub line: u64,
    /// Registratienummer, when known.
    pub registration: Option<String>,
    /// Column header to blame, when one is.
    pub column: Option<String>,
    /// Plain-words reason.
    pub reason: String,
    /// One of [`OUTCOMES`]: `"rejected"`, `"not_located"`, `"ambiguous"`, or for a placed row whose location is
    /// doubtful `"op coördinaten"`, `"conflict"`, `"intersection"`, `"street"`, `"near"`.
    pub outcome: &'static str,
}

impl From<&Rejection> for ReportEntry {
    fn from(r: &Rejection) -> ReportEntry {
        ReportEntry {
            line: r.line,
            registration: r.registration.clone(),
            column: r.column.clone(),
            reason: r.reason.clone(),
            outcome: "rejected",
        }
    }
}

/// Every outcome a report line can have.
pub const OUTCOMES: [&str; 8] = [
    "rejected",
    "not_located",
    "ambiguous",
    "op coördinaten",
    "conflict",
    "intersection",
    "street",
    "near",
];

/// The static label of an outcome text (`rejected` for an unknown one).
pub fn outcome_label(outcome: &str) -> &'static str {
    OUTCOMES
        .iter()
        .find(|o| **o == outcome)
        .copied()
        .unwrap_or("rejected")
}

fn excel_safe(field: &str) -> std::borrow::Cow<'_, str> {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}").into()
    } else {
        field.into()
    }
}

/// Writes the report to any writer (BOM, header, entries).
pub fn write_report_to<W: Write>(out: W, entries: &[ReportEntry]) -> Result<(), std::io::Error> {
    let mut writer = ReportWriter::new(out)?;
    for e in entries {
        writer.write(e)?;
    }
    writer.finish()
}

/// The report written entry by entry, so a report of any length is written in bounded memory: BOM and
/// header at [`ReportWriter::new`], one line per [`ReportWriter::write`], flushed by [`ReportWriter::finish`].
///
/// ```
/// use brandpunt::import::report::{ReportEntry, ReportWriter};
/// let mut out = Vec::new();
/// let mut writer = ReportWriter::new(&mut out)?;
/// writer.write(&ReportEntry {
///     line: 3,
///     registration: Some("PL-1".into()),
///     column: None,
///     reason: "adres niet gevonden in de BAG".into(),
///     outcome: "not_located",
/// })?;
/// writer.finish()?;
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.ends_with("3;PL-1;;adres niet gevonden in de BAG;not_located\r\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ReportWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> ReportWriter<W> {
    /// Starts the report: BOM and header.
    pub fn new(out: W) -> Result<ReportWriter<W>, std::io::Error> {
        ReportWriter::with_key_column(out, "registratienummer")
    }

    /// Starts a report whose second column (the row's key, [`ReportEntry::registration`]) is headed
    /// `key_column` instead of `registratienummer` (e.g. `verblijfsobject` for address attributes).
    pub fn with_key_column(
        mut out: W,
        key_column: &str,
    ) -> Result<ReportWriter<W>, std::io::Error> {
        out.write_all(b"\xEF\xBB\xBF")?;
        let mut csv = csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        csv.write_record(["regel", key_column, "kolom", "reden", "uitkomst"])?;
        Ok(ReportWriter { csv })
    }

    /// Writes one line.
    pub fn write(&mut self, e: &ReportEntry) -> Result<(), std::io::Error> {
        let line = e.line.to_string();
        self.csv.write_record([
            line.as_str(),
            &excel_safe(e.registration.as_deref().unwrap_or_default()),
            &excel_safe(e.column.as_deref().unwrap_or_default()),
            &excel_safe(&e.reason),
            e.outcome,
        ])?;
        Ok(())
    }

    /// Flushes everything written.
    pub fn finish(mut self) -> Result<(), std::io::Error> {
        self.csv.flush()
    }
}

/// Writes the report as a file (see the module docs for the format).
pub fn write_report(path: &Path, entries: &[ReportEntry]) -> Result<(), std::io::Error> {
    let file = std::fs::File::create(path)?;
    let mut buf = std::io::BufWriter::new(file);
    write_report_to(&mut buf, entries)?;
    buf.flush()
}

/// The default report path next to the input: `dir/<stem>.rapport.csv`.
pub fn default_report_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "levering".to_string());
    input.with_file_name(format!("{stem}.rapport.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_format() {
        let entries = [
            ReportEntry {
                line: 7,
                registration: Some("PL0900-2024012345".into()),
                column: Some("Pleegdatum begin".into()),
                reason: "ongeldige datum '31-02-2024'".into(),
                outcome: "rejected",
            },
            ReportEntry {
                line: 9,
                registration: None,
                column: None,
                reason: "straat; huisnummer \"12\" onbekend".into(),
                outcome: "not_located",
            },
            ReportEntry {
                line: 10,
                registration: Some("=HYPERLINK(\"x\")".into()),
                column: None,
                reason: "Kerkstraat in 2 woonplaatsen".into(),
                outcome: "ambiguous",
            },
        ];
        let mut out = Vec::new();
        write_report_to(&mut out, &entries).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "\u{feff}regel;registratienummer;kolom;reden;uitkomst\r\n\
             7;PL0900-2024012345;Pleegdatum begin;ongeldige datum '31-02-2024';rejected\r\n\
             9;;;\"straat; huisnummer \"\"12\"\" onbekend\";not_located\r\n\
             10;\"'=HYPERLINK(\"\"x\"\")\";;Kerkstraat in 2 woonplaatsen;ambiguous\r\n"
        );
    }

    #[test]
    fn default_path_is_next_to_input() {
        assert_eq!(
            default_report_path(Path::new("/data/levering week 11.csv")),
            PathBuf::from("/data/levering week 11.rapport.csv")
        );
        assert_eq!(
            default_report_path(Path::new("export.xlsx")),
            PathBuf::from("export.rapport.csv")
        );
    }
}
