//! Importers: readers for the real published source formats. They turn files into plain records and
//! precise errors; the store persists them.

pub mod address_attributes;
pub mod bag;
pub mod cbs;
pub mod delivery;
pub mod delivery_error;
pub mod inbox;
pub mod incidents;
pub mod indicators;
pub mod mapping;
pub mod opendata;
pub mod report;
pub(crate) mod sheet;
pub mod sniff;
pub mod vector;
pub mod xlsx;

/// Errors of the CBS, BAG, open-data and indicator readers. Every message names the file and, for a bad row,
/// where in the file and which column.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{file}: {what} lacks required column(s): {}", missing.join(", "))]
    MissingColumns {
        file: String,
        what: String,
        missing: Vec<String>,
    },
    #[error("{file}, {location}, column '{column}': {reason}")]
    Row {
        file: String,
        location: String,
        column: String,
        reason: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Read a delimited text file as published (UTF-8 with or without BOM, or Windows-1252) and sniff its
/// delimiter; errors name the file.
pub fn read_delimited_text(path: &std::path::Path) -> Result<(String, u8), ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        file: path.display().to_string(),
        source,
    })?;
    let text = sniff::decode(&bytes, sniff::TextEncoding::Auto)
        .text
        .into_owned();
    let delimiter = sniff::sniff_delimiter(&text) as u8;
    Ok((text, delimiter))
}
