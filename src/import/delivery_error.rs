//! Why a delivery file could not be read at all ([`DeliveryError`]): shared by the delivery reader, its mapping
//! file and the XLSX reader. Every message names the file.

/// Why a delivery file could not be read at all. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The file could not be read.
    #[error("{file}: kan bestand niet lezen: {source}")]
    Io {
        /// File path.
        file: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file changed while it was being read (it is read more than once).
    #[error("{file}: bestand is gewijzigd tijdens het inlezen; lever het opnieuw aan")]
    Changed {
        /// File path.
        file: String,
    },
    /// The file has no header (empty or blank).
    #[error("{file}: bestand is leeg")]
    Empty {
        /// File path.
        file: String,
    },
    /// The file is not an incident delivery: required columns are missing.
    #[error(
        "{file}: geen incidentlevering; ontbrekende kolommen: {}; gevonden kolommen: {}",
        .missing.join(", "),
        .found.join(", ")
    )]
    WrongKind {
        /// File path.
        file: String,
        /// Missing requirements by canonical name (a location requirement lists its alternatives).
        missing: Vec<String>,
        /// Headers found in the file.
        found: Vec<String>,
    },
    /// The mapping file is invalid or does not fit the delivery.
    #[error("{file}: mapping: {reason}")]
    Mapping {
        /// Mapping file path (or the delivery when the mapping does not fit it).
        file: String,
        /// What is wrong, naming the section/key.
        reason: String,
    },
    /// The XLSX workbook could not be read.
    #[error("{file}: XLSX: {reason}")]
    Xlsx {
        /// File path.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// An unsupported file format (e.g. legacy `.xls`).
    #[error("{file}: {reason}")]
    Format {
        /// File path.
        file: String,
        /// What is wrong and what to do.
        reason: String,
    },
}
