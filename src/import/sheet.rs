//! A sheet of text cells with physical line numbers ([`Table`], [`Record`]), as the CSV and XLSX readers produce
//! it for the delivery reader.

/// A sheet of text cells with physical line numbers, as produced by the CSV and XLSX readers.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub records: Vec<Record>,
    /// XLSX cells: plain numbers in date/time columns may be Excel serials.
    pub excel_serials: bool,
}

/// One record of a [`Table`].
#[derive(Debug, Clone)]
pub struct Record {
    pub line: u64,
    pub fields: Vec<String>,
}
