//! Reader for incident-level deliveries: weekly police exports (and other incident sources such as
//! handhaving signals or complaints) as CSV or XLSX, turned into plain [`DeliveryRow`]s plus precise
//! [`Rejection`]s. This module neither geocodes nor touches the database.
//!
//! # Pipeline
//! 1. **Format**: XLSX when the bytes are a ZIP container (or the name ends in `.xlsx`/`.xlsm`), read
//!    through GDAL (see [`super::xlsx`]); legacy `.xls` (OLE) is refused with a hint; anything else is CSV.
//! 2. **CSV dialect** ([`super::sniff`]): BOM / UTF-8 / Windows-1252 decoding, then `;` / tab / `,`
//!    sniffing (both overridable in the [`Mapping`]). Line numbers are physical lines of the file
//!    (header = line 1 when it is the first line; a quoted value spanning lines counts them all).
//! 3. **Header**: the first of the first ten non-blank records that satisfies the requirements below
//!    (so title lines above the header are skipped); columns are recognised by canonical name or alias,
//!    case-, space-, `_`- and `-`-insensitively, or through the mapping file (see [`super::mapping`]).
//!    A file is refused as a whole ([`DeliveryError::WrongKind`]) unless it has `registratienummer`,
//!    `pleegdatum begin` and at least one location source: `straat`+`huisnummer`, `postcode`+`huisnummer`,
//!    `x`+`y`, `lat`+`lon` or `buurtcode`; the error lists what is missing and the headers found.
//!    Columns listed under `[personal]` in the mapping are never recognised and never read.
//! 4. **Rows**: blank rows (only whitespace or delimiters) are skipped and not counted. Every other row
//!    becomes either a [`DeliveryRow`] or one [`Rejection`] naming its first problem, checked in this
//!    order: too few fields (or non-empty fields beyond the header: a shifted row), missing
//!    registratienummer, missing/invalid dates and times, end before begin, unparsable numbers, half a
//!    coordinate pair, coordinates outside the Netherlands (RD: [`crate::coords::is_within_netherlands_rd`],
//!    WGS84: [`crate::coords::is_within_netherlands_wgs84`]), and finally no location value at all (no
//!    straat, postcode, coordinates or buurtcode in that row). Reasons are plain Dutch, quoting the value:
//!    `ongeldige datum '31-02-2024'`; the column is the header as written in the file.
//! 5. **Duplicates**: when a registratienummer occurs on several accepted rows of one file, the **last**
//!    one wins (exports list later corrections further down) and each earlier one is reported as a
//!    rejection "dubbel in bestand". Rejected rows do not take part: a valid earlier row survives an
//!    invalid later one.
//!
//! # Time window
//! `begin` = pleegdatum begin + pleegtijd begin. Without a begin time the window starts at 00:00, and
//! `time_known` is false. `end` = pleegdatum eind + pleegtijd eind, where an eind date without time means
//! 23:59 of that day and an eind time without eind date is taken on the begin date. Without any eind value
//! the end equals the begin when the begin time is known, else 23:59 of the begin day. End before begin
//! is rejected (a window crossing midnight needs its eind date). A date cell that carries a time
//! (`2024-03-15 14:30`, XLSX datetime cells) supplies the time when the time column is empty or absent.
//!
//! # Values
//! - `maatschappelijke klasse`: a leading code of digits and dots (`1.1.1`) becomes `category_code`, the
//!   rest (after `-`/`:`/spaces) `category_label`; a value without such code is a label only.
//! - `postcode`: normalised to `1012JS` when it is a valid Dutch postcode, else kept as given (trimmed):
//!   the geocoder reports it.
//! - Every cell is trimmed, and Excel's text-forcing wrapper `="0123"` is removed.
//! - `huisnummer`, `huisletter`, `toevoeging`, `straat`, `plaats`, `buurtcode`: otherwise raw.
//! - Numbers accept `,` or `.` as decimal separator, never thousands separators.
//! - `extra`: every `[extra]` name of the mapping is present, with an empty string for an empty cell.
//! - `content_hash`: SHA-256 (hex) over all normalised fields (not the line number), so the same incident
//!   read from CSV or XLSX, in any encoding, gets the same hash, and any change of content a new one.
//!
//! # Performance
//! All cells of a file are kept in one flat buffer (no allocation per record or field); records are
//! converted to rows in parallel (rayon), collected in file order, so line numbers, the duplicate rule and
//! the order of rejections do not depend on the thread count. The content hash is built per row in a
//! per-thread buffer and hashed once. See `BENCHMARKS.md` ("Police delivery reader").

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

pub use super::delivery_error::DeliveryError;
use super::mapping::{resolve_headers, Column, Mapping, Resolved};
use super::sheet::Table;
use super::sniff::{self, parse_date, parse_decimal, parse_time};
use crate::coords::{is_within_netherlands_rd, is_within_netherlands_wgs84};

/// One accepted incident of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    /// 1-based physical line number in the file (header = line 1), or the sheet row for XLSX.
    pub line: u64,
    /// Registratienummer (trimmed).
    pub registration: String,
    /// Start of the time window (local time).
    pub begin: NaiveDateTime,
    /// End of the time window (local time), never before `begin`.
    pub end: NaiveDateTime,
    /// False when no begin time was given (date-only window).
    pub time_known: bool,
    /// Crime code, e.g. `1.1.1`.
    pub category_code: Option<String>,
    /// Crime label, e.g. `Diefstal/inbraak woning`.
    pub category_label: Option<String>,
    /// Street name as given.
    pub street: Option<String>,
    /// Huisnummer as given, e.g. `12a-3` or `12 A`.
    pub huisnummer: Option<String>,
    /// Huisletter as given.
    pub huisletter: Option<String>,
    /// Huisnummertoevoeging as given.
    pub toevoeging: Option<String>,
    /// Postcode, normalised to `1012JS` when valid.
    pub postcode: Option<String>,
    /// Woonplaats as given.
    pub plaats: Option<String>,
    /// RD New easting in metres, as given.
    pub x_m: Option<f64>,
    /// RD New northing in metres, as given.
    pub y_m: Option<f64>,
    /// WGS84 latitude in degrees, as given (the caller converts).
    pub lat: Option<f64>,
    /// WGS84 longitude in degrees, as given (the caller converts).
    pub lon: Option<f64>,
    /// CBS buurtcode as given.
    pub buurtcode: Option<String>,
    /// Columns kept through the mapping's `[extra]` section (name -> value).
    pub extra: BTreeMap<String, String>,
    /// SHA-256 hex of the row's normalised fields (for "changed version" detection).
    pub content_hash: String,
}

/// A row that was not accepted, with the reason in plain (Dutch) words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based physical line number (or sheet row).
    pub line: u64,
    /// Registratienummer, when the row had one.
    pub registration: Option<String>,
    /// Header of the offending column as written in the file, when one column is to blame.
    pub column: Option<String>,
    /// Plain-words reason, e.g. `ongeldige datum '31-02-2024'`.
    pub reason: String,
}

/// The result of reading one delivery file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDelivery {
    /// File name (without directories).
    pub file_name: String,
    /// SHA-256 hex of the file bytes.
    pub checksum: String,
    /// `"csv"` or `"xlsx"`.
    pub format: &'static str,
    /// `"utf-8"`, `"windows-1252"`, `"utf-16le"` or `"utf-16be"` (XLSX: `"utf-8"`).
    pub encoding: &'static str,
    /// CSV field delimiter; `None` for XLSX.
    pub delimiter: Option<char>,
    /// Accepted rows, in file order.
    pub rows: Vec<DeliveryRow>,
    /// Rejections, in line order.
    pub rejections: Vec<Rejection>,
    /// Number of non-blank data rows (accepted + rejected lines).
    pub total_rows: u64,
}

/// All cells of a sheet in one flat buffer, so that reading a large CSV costs no allocation per record or
/// per field: the CSV reader appends every field to `text`, `ends` holds the end offset of every field, and
/// each record names its range of fields.
#[derive(Debug, Default)]
struct Cells {
    /// The concatenated field texts.
    text: String,
    /// End offset in `text` of each field (the start is the previous field's end).
    ends: Vec<usize>,
    /// The records in file order.
    records: Vec<Span>,
    /// XLSX cells: plain numbers in date/time columns may be Excel serials.
    excel_serials: bool,
}

/// One record of [`Cells`]: its physical line and fields `first..first + len`.
#[derive(Debug, Clone, Copy)]
struct Span {
    line: u64,
    first: usize,
    len: usize,
}

impl Cells {
    /// Starts a record at `line`; the following [`Cells::push_field`] calls fill it.
    fn start_record(&mut self, line: u64) {
        self.records.push(Span {
            line,
            first: self.ends.len(),
            len: 0,
        });
    }

    /// Appends a field to the last started record.
    fn push_field(&mut self, field: &str) {
        if let Some(last) = self.records.last_mut() {
            self.text.push_str(field);
            self.ends.push(self.text.len());
            last.len += 1;
        }
    }

    /// Forgets every record (keeping the buffers).
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.records.clear();
    }

    fn record(&self, i: usize) -> Option<Rec<'_>> {
        self.records.get(i).map(|&span| Rec { cells: self, span })
    }

    fn iter(&self) -> impl Iterator<Item = Rec<'_>> + '_ {
        self.records
            .iter()
            .map(move |&span| Rec { cells: self, span })
    }

    /// Copies a [`Table`] (XLSX) into the flat form.
    fn from_table(table: Table) -> Cells {
        let n_fields = table.records.iter().map(|r| r.fields.len()).sum();
        let n_bytes = table
            .records
            .iter()
            .flat_map(|r| r.fields.iter())
            .map(String::len)
            .sum();
        let mut cells = Cells {
            text: String::with_capacity(n_bytes),
            ends: Vec::with_capacity(n_fields),
            records: Vec::with_capacity(table.records.len()),
            excel_serials: table.excel_serials,
        };
        for record in &table.records {
            cells.start_record(record.line);
            for f in &record.fields {
                cells.push_field(f);
            }
        }
        cells
    }
}

/// A borrowed record of [`Cells`].
#[derive(Clone, Copy)]
struct Rec<'a> {
    cells: &'a Cells,
    span: Span,
}

impl<'a> Rec<'a> {
    fn line(&self) -> u64 {
        self.span.line
    }

    fn len(&self) -> usize {
        self.span.len
    }

    /// Field `i`, or `None` beyond the end of the record.
    fn get(&self, i: usize) -> Option<&'a str> {
        if i >= self.span.len {
            return None;
        }
        let j = self.span.first + i;
        let start = match j.checked_sub(1) {
            Some(prev) => *self.cells.ends.get(prev)?,
            None => 0,
        };
        let end = *self.cells.ends.get(j)?;
        self.cells.text.get(start..end)
    }

    fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let rec = *self;
        (0..rec.span.len).filter_map(move |i| rec.get(i))
    }

    fn is_blank(&self) -> bool {
        self.iter().all(|f| f.trim().is_empty())
    }

    fn to_strings(self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

/// Reads a delivery file (CSV or XLSX) from disk, all rows at once (see [`DeliveryReader`] for reading a
/// delivery of any size in batches).
pub fn read_delivery(
    path: &Path,
    mapping: Option<&Mapping>,
) -> Result<ParsedDelivery, DeliveryError> {
    DeliveryReader::open(path, mapping)?.read_all()
}

/// Reads a delivery from memory (e.g. an HTTP upload). CSV is parsed directly; XLSX goes through GDAL's
/// in-memory file system. `file_name` is used in messages and in [`ParsedDelivery::file_name`].
pub fn read_delivery_bytes(
    file_name: &str,
    bytes: &[u8],
    mapping: Option<&Mapping>,
) -> Result<ParsedDelivery, DeliveryError> {
    DeliveryReader::from_bytes(file_name, bytes, mapping)?.read_all()
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Records per batch of [`DeliveryReader::for_each_batch`] when the caller does not choose.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// Where the bytes of a delivery come from: a file, read again for each pass, or memory.
#[derive(Clone, Copy)]
enum Source<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

/// How the bytes of a CSV delivery become UTF-8 text: skip a byte-order mark, then pass the bytes through
/// (valid UTF-8) or decode them.
#[derive(Clone, Copy)]
struct TextDecoding {
    skip: usize,
    decode: Option<&'static encoding_rs::Encoding>,
}

/// What one pass over the raw bytes found: checksum, container format, byte-order mark, UTF-8 validity.
struct RawScan {
    checksum: String,
    head: Vec<u8>,
    utf8_valid: bool,
}

/// The text of a CSV delivery as a stream of UTF-8 bytes (see [`TextDecoding`]): the same text the whole-file
/// decoding of [`sniff::decode`] produces, in bounded memory.
struct DecodeRead<'a> {
    inner: Box<dyn Read + 'a>,
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    finished: bool,
}

impl Read for DecodeRead<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let Some(decoder) = self.decoder.as_mut() else {
            return self.inner.read(out);
        };
        if out.len() < 4 {
            // Never called so by the CSV reader (8 KiB buffer); a too small buffer cannot take a character.
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "buffer too small for decoded text",
            ));
        }
        loop {
            if self.finished {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.start = 0;
                self.end = self.inner.read(&mut self.raw)?;
                self.eof = self.end == 0;
            }
            let (result, read, written, _) =
                decoder.decode_to_utf8(&self.raw[self.start..self.end], out, self.eof);
            self.start += read;
            if self.eof && result == encoding_rs::CoderResult::InputEmpty {
                self.finished = true;
            }
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

/// The bytes read so far by a CSV reader that are still needed to count physical lines: everything from
/// shortly before the current record on (the CSV reader reads ahead in 8 KiB blocks).
#[derive(Default)]
struct Window {
    /// Offset in the text of `bytes[0]`.
    base: u64,
    bytes: Vec<u8>,
}

impl Window {
    fn at(&self, offset: u64) -> Option<u8> {
        let i = usize::try_from(offset.checked_sub(self.base)?).ok()?;
        self.bytes.get(i).copied()
    }

    fn end(&self) -> u64 {
        self.base + self.bytes.len() as u64
    }

    /// Line breaks in `from..to` as the csv crate sees them: `\r\n`, `\n` and a lone `\r` each end a line (the
    /// byte before `from` is consulted so a `\r\n` split across calls counts once).
    fn line_breaks(&self, from: u64, to: u64) -> u64 {
        let mut n = 0u64;
        for i in from..to {
            match self.at(i) {
                Some(b'\r') => n += 1,
                Some(b'\n') if i == 0 || self.at(i - 1) != Some(b'\r') => n += 1,
                _ => {}
            }
        }
        n
    }

    /// Forget the bytes before `offset - 1`.
    fn forget_before(&mut self, offset: u64) {
        let keep_from = offset.saturating_sub(1);
        if keep_from > self.base + (1 << 20) {
            let n = usize::try_from(keep_from - self.base)
                .unwrap_or(self.bytes.len())
                .min(self.bytes.len());
            self.bytes.drain(..n);
            self.base += n as u64;
        }
    }
}

/// Adds the bytes read to a SHA-256.
struct HashRead<'a> {
    inner: Box<dyn Read + 'a>,
    sha: Rc<RefCell<Sha256>>,
}

impl Read for HashRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(read) = buf.get(..n) {
            self.sha.borrow_mut().update(read);
        }
        Ok(n)
    }
}

/// Copies what the CSV reader reads into the shared [`Window`].
struct Tee<R> {
    inner: R,
    window: Rc<RefCell<Window>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(read) = buf.get(..n) {
            self.window.borrow_mut().bytes.extend_from_slice(read);
        }
        Ok(n)
    }
}

/// The records of a CSV text with their physical line numbers, read one by one. Malformed quoting never
/// fails: the csv crate reads an unterminated quote to the end of the input, which then shows up as a
/// rejected row.
struct CsvRecords<'a> {
    reader: csv::Reader<Tee<DecodeRead<'a>>>,
    window: Rc<RefCell<Window>>,
    record: csv::StringRecord,
    counted_to: u64,
    line: u64,
}

impl<'a> CsvRecords<'a> {
    fn new(text: DecodeRead<'a>, delimiter: char) -> CsvRecords<'a> {
        let window = Rc::new(RefCell::new(Window::default()));
        let reader = csv::ReaderBuilder::new()
            .delimiter(u8::try_from(delimiter).unwrap_or(b';'))
            .has_headers(false)
            .flexible(true)
            .from_reader(Tee {
                inner: text,
                window: window.clone(),
            });
        CsvRecords {
            reader,
            window,
            record: csv::StringRecord::new(),
            counted_to: 0,
            line: 1,
        }
    }

    /// Appends the next record to `cells`; `false` at the end of the text.
    fn next_into(&mut self, cells: &mut Cells) -> Result<bool, std::io::Error> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(true) => break,
                Ok(false) => return Ok(false),
                Err(e) => match e.into_kind() {
                    csv::ErrorKind::Io(io) => return Err(io),
                    // Only UTF-8 errors are possible on decoded text; skip such a record rather than stop.
                    _ => continue,
                },
            }
        }
        // The csv crate's own line counter skips blank lines, so count line breaks up to each record's byte
        // offset. The position is where the reader started, i.e. before any blank lines it skipped.
        let mut window = self.window.borrow_mut();
        let offset = self.record.position().map_or(self.counted_to, |p| p.byte());
        let mut upto = offset.max(self.counted_to).min(window.end());
        while matches!(window.at(upto), Some(b'\n' | b'\r')) {
            upto += 1;
        }
        self.line += window.line_breaks(self.counted_to, upto);
        self.counted_to = upto;
        window.forget_before(upto);
        cells.start_record(self.line);
        for field in self.record.iter() {
            cells.push_field(field);
        }
        Ok(true)
    }
}

/// The header of a delivery: which record it is and what its columns mean.
struct Header {
    /// Index of the header among all records of the file (blank ones included).
    index: usize,
    headers: Vec<String>,
    resolved: Resolved,
}

/// A delivery opened for reading: its identity, format and header are known and its rows counted; the rows
/// themselves are read in batches by [`DeliveryReader::for_each_batch`], so a delivery of any size is read in
/// memory bounded by the batch size (XLSX workbooks, at most 1,048,576 rows by Excel's limit, are held as
/// cells).
///
/// Opening reads a CSV file twice: once for its checksum and encoding, once to count its rows and find the
/// registrations that occur on several accepted rows (the **last** one wins, see the module docs). That scan
/// keeps 24 bytes per accepted row (a 128-bit hash of the registration and the line) until it ends, and then
/// only the duplicated lines. [`DeliveryReader::for_each_batch`] reads the file a third time; it fails when the
/// file changed in between.
///
/// ```
/// use brandpunt::import::delivery::DeliveryReader;
/// let csv = "registratienummer;pleegdatum begin;buurtcode\nA;01-03-2024;BU1\nB;31-02-2024;BU1\nA;02-03-2024;BU2\n";
/// let reader = DeliveryReader::from_bytes("week.csv", csv.as_bytes(), None)?;
/// assert_eq!(reader.total_rows(), 3);
/// assert_eq!(reader.rejected_rows(), 2); // an impossible date, and line 2 replaced by line 4
/// let mut lines = Vec::new();
/// reader.for_each_batch(2, |batch| {
///     lines.extend(batch.iter().map(|item| match item {
///         Ok(row) => (row.line, "ok"),
///         Err(rejection) => (rejection.line, "rejected"),
///     }));
///     Ok::<(), brandpunt::import::delivery::DeliveryError>(())
/// })?;
/// assert_eq!(lines, [(2, "rejected"), (3, "rejected"), (4, "ok")]);
/// # Ok::<(), brandpunt::import::delivery::DeliveryError>(())
/// ```
pub struct DeliveryReader<'a> {
    file: String,
    file_name: String,
    source: Source<'a>,
    mapping: Option<&'a Mapping>,
    checksum: String,
    format: &'static str,
    encoding: &'static str,
    delimiter: Option<char>,
    text: TextDecoding,
    /// All cells of an XLSX workbook's sheet.
    xlsx: Option<Cells>,
    header: Header,
    total_rows: u64,
    rejected_rows: u64,
    /// Accepted rows replaced by a later row of the same registration: line -> winning line.
    duplicates: rustc_hash::FxHashMap<u64, u64>,
}

impl<'a> DeliveryReader<'a> {
    /// Opens a delivery file (CSV or XLSX) on disk.
    pub fn open(
        path: &'a Path,
        mapping: Option<&'a Mapping>,
    ) -> Result<DeliveryReader<'a>, DeliveryError> {
        let file = path.display().to_string();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.clone());
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        DeliveryReader::new(
            file,
            file_name,
            Source::File(path),
            ext == "xlsx" || ext == "xlsm",
            mapping,
        )
    }

    /// Opens a delivery held in memory (e.g. an HTTP upload); `file_name` names it in messages.
    pub fn from_bytes(
        file_name: &str,
        bytes: &'a [u8],
        mapping: Option<&'a Mapping>,
    ) -> Result<DeliveryReader<'a>, DeliveryError> {
        DeliveryReader::new(
            file_name.to_string(),
            file_name.to_string(),
            Source::Bytes(bytes),
            false,
            mapping,
        )
    }

    fn new(
        file: String,
        file_name: String,
        source: Source<'a>,
        xlsx_name: bool,
        mapping: Option<&'a Mapping>,
    ) -> Result<DeliveryReader<'a>, DeliveryError> {
        let scan = raw_scan(&file, source)?;
        let mut reader = if is_zip(&scan.head) || xlsx_name {
            let sheet = mapping.and_then(|m| m.sheet.as_deref());
            let table = match source {
                Source::File(path) => super::xlsx::read_xlsx_path(path, &file, sheet)?,
                Source::Bytes(bytes) => super::xlsx::read_xlsx_bytes(bytes, &file, sheet)?,
            };
            let cells = Cells::from_table(table);
            let header = find_header(&file, &cells, mapping)?;
            DeliveryReader {
                file,
                file_name,
                source,
                mapping,
                checksum: scan.checksum,
                format: "xlsx",
                encoding: "utf-8",
                delimiter: None,
                text: TextDecoding {
                    skip: 0,
                    decode: None,
                },
                xlsx: Some(cells),
                header,
                total_rows: 0,
                rejected_rows: 0,
                duplicates: Default::default(),
            }
        } else {
            if scan
                .head
                .starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
            {
                return Err(DeliveryError::Format {
                    file,
                    reason:
                        "oud Excel-formaat (.xls) wordt niet ondersteund; sla op als .xlsx of CSV"
                            .to_string(),
                });
            }
            let requested = mapping.map(|m| m.encoding).unwrap_or_default();
            let (text, encoding) = text_decoding(&scan, requested);
            let mut reader = DeliveryReader {
                file,
                file_name,
                source,
                mapping,
                checksum: scan.checksum,
                format: "csv",
                encoding,
                delimiter: None,
                text,
                xlsx: None,
                header: Header {
                    index: 0,
                    headers: Vec::new(),
                    resolved: Resolved::default(),
                },
                total_rows: 0,
                rejected_rows: 0,
                duplicates: Default::default(),
            };
            let delimiter = match mapping.and_then(|m| m.delimiter) {
                Some(d) => d,
                None => sniff::sniff_delimiter_in(&mut || {
                    reader
                        .text()
                        .map(|t| Box::new(t) as Box<dyn Read + '_>)
                        .unwrap_or_else(|_| Box::new(std::io::empty()))
                }),
            };
            reader.delimiter = Some(delimiter);
            // The header is searched among the first non-blank records.
            let mut records = CsvRecords::new(reader.text()?, delimiter);
            let mut first = Cells::default();
            let mut non_blank = 0;
            while non_blank < HEADER_SEARCH && reader.next_record(&mut records, &mut first)? {
                if first
                    .record(first.records.len() - 1)
                    .is_some_and(|r| !r.is_blank())
                {
                    non_blank += 1;
                }
            }
            reader.header = find_header(&reader.file, &first, mapping)?;
            reader
        };
        reader.count_rows()?;
        Ok(reader)
    }

    /// The text of a CSV delivery from its start.
    fn text(&self) -> Result<DecodeRead<'a>, DeliveryError> {
        self.text_hashed(None)
    }

    /// [`DeliveryReader::text`], adding every raw byte read to `sha` when given.
    fn text_hashed(
        &self,
        sha: Option<Rc<RefCell<Sha256>>>,
    ) -> Result<DecodeRead<'a>, DeliveryError> {
        let mut inner = open_source(&self.file, self.source)?;
        if let Some(sha) = sha {
            inner = Box::new(HashRead { inner, sha });
        }
        let mut bom = [0u8; 4];
        if let Some(skip) = bom.get_mut(..self.text.skip) {
            inner.read_exact(skip).map_err(|source| self.io(source))?;
        }
        Ok(DecodeRead {
            inner,
            decoder: self
                .text
                .decode
                .map(|e| e.new_decoder_without_bom_handling()),
            raw: vec![
                0;
                if self.text.decode.is_some() {
                    1 << 16
                } else {
                    0
                }
            ],
            start: 0,
            end: 0,
            eof: false,
            finished: false,
        })
    }

    fn io(&self, source: std::io::Error) -> DeliveryError {
        DeliveryError::Io {
            file: self.file.clone(),
            source,
        }
    }

    fn next_record(
        &self,
        records: &mut CsvRecords<'_>,
        cells: &mut Cells,
    ) -> Result<bool, DeliveryError> {
        records.next_into(cells).map_err(|e| self.io(e))
    }

    /// The scan behind [`DeliveryReader::total_rows`], [`DeliveryReader::rejected_rows`] and the duplicate rule.
    fn count_rows(&mut self) -> Result<(), DeliveryError> {
        // (128-bit hash of the registration, line) of every accepted row.
        let mut keys: Vec<(u64, u64, u64)> = Vec::new();
        let (mut total, mut rejected) = (0u64, 0u64);
        self.batches(DEFAULT_BATCH_ROWS, false, false, &mut |items| {
            total += items.len() as u64;
            for item in items {
                match item {
                    Ok(row) => {
                        let (a, b) = registration_key(&row.registration);
                        keys.push((a, b, row.line));
                    }
                    Err(_) => rejected += 1,
                }
            }
            Ok(())
        })?;
        keys.par_sort_unstable();
        let mut duplicates = rustc_hash::FxHashMap::default();
        for group in keys.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
            if let Some((&(_, _, winner), earlier)) = group.split_last() {
                for &(_, _, line) in earlier {
                    duplicates.insert(line, winner);
                }
            }
        }
        self.total_rows = total;
        self.rejected_rows = rejected + duplicates.len() as u64;
        self.duplicates = duplicates;
        Ok(())
    }

    /// Calls `f` with the rows and rejections of each batch of at most `batch_rows` records, in file order
    /// (`hash`: with content hashes). `verify`: fail with [`DeliveryError::Changed`] when the bytes of a CSV
    /// file are no longer those that were opened.
    fn batches<E: From<DeliveryError>>(
        &self,
        batch_rows: usize,
        hash: bool,
        verify: bool,
        f: &mut dyn FnMut(Vec<Result<DeliveryRow, Rejection>>) -> Result<(), E>,
    ) -> Result<(), E> {
        let batch_rows = batch_rows.max(1);
        let data_from = self.header.index + 1;
        if let Some(cells) = &self.xlsx {
            let data = cells.records.get(data_from..).unwrap_or_default();
            for spans in data.chunks(batch_rows) {
                f(self.convert(cells, spans, hash))?;
            }
            return Ok(());
        }
        let sha = verify.then(|| Rc::new(RefCell::new(Sha256::new())));
        let mut records = CsvRecords::new(
            self.text_hashed(sha.clone())?,
            self.delimiter.unwrap_or(';'),
        );
        let mut index = 0usize;
        let mut cells = Cells::default();
        loop {
            cells.clear();
            while cells.records.len() < batch_rows {
                if !self.next_record(&mut records, &mut cells)? {
                    break;
                }
                index += 1;
                if index <= data_from {
                    cells.clear();
                }
            }
            if cells.records.is_empty() {
                break;
            }
            f(self.convert(&cells, &cells.records, hash))?;
        }
        drop(records);
        if let Some(sha) = sha {
            let checksum = to_hex(&sha.take().finalize());
            if checksum != self.checksum {
                return Err(DeliveryError::Changed {
                    file: self.file.clone(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// The rows and rejections of `spans` (blank records skipped), in file order.
    fn convert(
        &self,
        cells: &Cells,
        spans: &[Span],
        hash: bool,
    ) -> Vec<Result<DeliveryRow, Rejection>> {
        let headers = &self.header.headers;
        let ctx = RowContext {
            needed: headers
                .iter()
                .rposition(|h| !h.trim().is_empty())
                .map_or(0, |i| i + 1),
            headers,
            resolved: &self.header.resolved,
            date_format: self.mapping.and_then(|m| m.date_format.as_deref()),
            excel_serials: cells.excel_serials,
            hash,
        };
        let reg_header = || {
            self.header
                .resolved
                .get(Column::Registratienummer)
                .and_then(|i| headers.get(i))
                .map(|h| h.trim().to_string())
        };
        // Records are independent once split, so they are converted in parallel; `collect` keeps file order.
        spans
            .par_iter()
            .with_min_len(1024)
            .filter_map(|&span| {
                let record = Rec { cells, span };
                if record.is_blank() {
                    return None;
                }
                Some(
                    ctx.row(record)
                        .and_then(|row| match self.duplicates.get(&row.line) {
                            Some(&winner) => Err(Rejection {
                                line: row.line,
                                registration: Some(row.registration),
                                column: reg_header(),
                                reason: format!("dubbel in bestand: vervangen door regel {winner}"),
                            }),
                            None => Ok(row),
                        }),
                )
            })
            .collect()
    }

    /// Reads every row: calls `f` with the accepted rows and the rejections of each batch of at most
    /// `batch_rows` records, in file order (a registration's earlier rows are rejections "dubbel in bestand").
    /// Fails with [`DeliveryError::Changed`] when the file is no longer the one that was opened.
    pub fn for_each_batch<E: From<DeliveryError>>(
        &self,
        batch_rows: usize,
        mut f: impl FnMut(Vec<Result<DeliveryRow, Rejection>>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.batches(batch_rows, true, true, &mut f)
    }

    /// Reads every row into memory.
    pub fn read_all(self) -> Result<ParsedDelivery, DeliveryError> {
        let mut rows = Vec::new();
        let mut rejections = Vec::new();
        self.batches(DEFAULT_BATCH_ROWS, true, false, &mut |items| {
            for item in items {
                match item {
                    Ok(row) => rows.push(row),
                    Err(rejection) => rejections.push(rejection),
                }
            }
            Ok::<(), DeliveryError>(())
        })?;
        Ok(ParsedDelivery {
            file_name: self.file_name,
            checksum: self.checksum,
            format: self.format,
            encoding: self.encoding,
            delimiter: self.delimiter,
            rows,
            rejections,
            total_rows: self.total_rows,
        })
    }

    /// File name (without directories).
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// SHA-256 hex of the file bytes.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Number of non-blank data rows (accepted + rejected).
    pub fn total_rows(&self) -> u64 {
        self.total_rows
    }

    /// Number of rejected rows, duplicates included.
    pub fn rejected_rows(&self) -> u64 {
        self.rejected_rows
    }

    /// Number of accepted rows: what [`DeliveryReader::for_each_batch`] yields as rows.
    pub fn accepted_rows(&self) -> u64 {
        self.total_rows - self.rejected_rows
    }
}

/// A 128-bit hash of a registration (two independent 64-bit hashes), for the duplicate scan: registrations
/// come from the police's own systems, not from an adversary, and two different ones share it with
/// probability about n² / 2¹²⁹ (10⁻²⁵ for 5 M rows).
fn registration_key(registration: &str) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let mut fx = rustc_hash::FxHasher::default();
    registration.hash(&mut fx);
    // SipHash-1-3 with fixed keys.
    #[allow(deprecated)]
    let mut sip = std::hash::SipHasher::new_with_keys(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
    registration.hash(&mut sip);
    (fx.finish(), sip.finish())
}

fn open_source<'a>(file: &str, source: Source<'a>) -> Result<Box<dyn Read + 'a>, DeliveryError> {
    match source {
        Source::File(path) => std::fs::File::open(path)
            .map(|f| Box::new(std::io::BufReader::with_capacity(1 << 16, f)) as Box<dyn Read>)
            .map_err(|source| DeliveryError::Io {
                file: file.to_string(),
                source,
            }),
        Source::Bytes(bytes) => Ok(Box::new(bytes)),
    }
}

/// One pass over the raw bytes: SHA-256, the first bytes, and whether the whole file is valid UTF-8.
fn raw_scan(file: &str, source: Source<'_>) -> Result<RawScan, DeliveryError> {
    let io = |source| DeliveryError::Io {
        file: file.to_string(),
        source,
    };
    let mut input = open_source(file, source)?;
    let mut sha = Sha256::new();
    let mut head = Vec::new();
    let mut utf8_valid = true;
    // An incomplete UTF-8 sequence at the end of a block continues in the next one.
    let mut buf = vec![0u8; 1 << 20];
    let mut carry = 0usize;
    loop {
        let n = match input.read(&mut buf[carry..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if n == 0 {
            break;
        }
        let block = &buf[carry..carry + n];
        sha.update(block);
        if head.len() < 8 {
            head.extend(block.iter().take(8 - head.len()));
        }
        let filled = carry + n;
        carry = 0;
        if utf8_valid {
            if let Err(e) = std::str::from_utf8(&buf[..filled]) {
                match e.error_len() {
                    Some(_) => utf8_valid = false,
                    None => {
                        let valid = e.valid_up_to();
                        buf.copy_within(valid..filled, 0);
                        carry = filled - valid;
                    }
                }
            }
        }
    }
    Ok(RawScan {
        checksum: to_hex(&sha.finalize()),
        head,
        utf8_valid: utf8_valid && carry == 0,
    })
}

/// How the text of a CSV delivery is decoded, with the encoding's name (the rules of [`sniff::decode`]).
fn text_decoding(scan: &RawScan, requested: sniff::TextEncoding) -> (TextDecoding, &'static str) {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(&scan.head) {
        let name = sniff::encoding_name(enc);
        return (
            TextDecoding {
                skip: bom_len,
                decode: Some(enc),
            },
            name,
        );
    }
    let pass = TextDecoding {
        skip: 0,
        decode: None,
    };
    match requested {
        sniff::TextEncoding::Windows1252 => (
            TextDecoding {
                skip: 0,
                decode: Some(encoding_rs::WINDOWS_1252),
            },
            "windows-1252",
        ),
        sniff::TextEncoding::Utf8 if scan.utf8_valid => (pass, "utf-8"),
        sniff::TextEncoding::Utf8 => (
            TextDecoding {
                skip: 0,
                decode: Some(encoding_rs::UTF_8),
            },
            "utf-8",
        ),
        sniff::TextEncoding::Auto if scan.utf8_valid => (pass, "utf-8"),
        sniff::TextEncoding::Auto => (
            TextDecoding {
                skip: 0,
                decode: Some(encoding_rs::WINDOWS_1252),
            },
            "windows-1252",
        ),
    }
}

/// Number of leading non-blank records searched for the header.
const HEADER_SEARCH: usize = 10;

/// What is missing for a header to be accepted, by canonical name (empty = acceptable).
fn missing_requirements(r: &Resolved) -> Vec<String> {
    let mut missing = Vec::new();
    for c in [Column::Registratienummer, Column::PleegdatumBegin] {
        if r.get(c).is_none() {
            missing.push(c.canonical_name().to_string());
        }
    }
    let has = |c: Column| r.get(c).is_some();
    let located = (has(Column::Straat) && has(Column::Huisnummer))
        || (has(Column::Postcode) && has(Column::Huisnummer))
        || (has(Column::X) && has(Column::Y))
        || (has(Column::Lat) && has(Column::Lon))
        || has(Column::Buurtcode);
    if !located {
        missing.push(
            "locatie (straat+huisnummer, postcode+huisnummer, x+y, lat+lon of buurtcode)"
                .to_string(),
        );
    }
    missing
}

/// The header among the first [`HEADER_SEARCH`] non-blank records of `cells` (the first that satisfies the
/// requirements), or why the file is not a delivery.
fn find_header(
    file: &str,
    cells: &Cells,
    mapping: Option<&Mapping>,
) -> Result<Header, DeliveryError> {
    let header_candidates: Vec<(usize, Vec<String>)> = cells
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.is_blank())
        .take(HEADER_SEARCH)
        .map(|(i, r)| (i, r.to_strings()))
        .collect();
    let Some((first, _)) = header_candidates.first() else {
        return Err(DeliveryError::Empty {
            file: file.to_string(),
        });
    };
    let first = *first;
    for (i, fields) in &header_candidates {
        if let Ok(r) = resolve_headers(fields, mapping) {
            if missing_requirements(&r).is_empty() {
                return Ok(Header {
                    index: *i,
                    headers: fields.clone(),
                    resolved: r,
                });
            }
        }
    }
    // Report on the most header-like record (most recognised columns; the first on ties), so a title line
    // above a header that lacks only a location column does not hide that header.
    let best = header_candidates
        .iter()
        .filter_map(|(i, fields)| {
            let r = resolve_headers(fields, mapping).ok()?;
            Some((r.cols.iter().flatten().count(), *i))
        })
        .fold(None, |acc: Option<(usize, usize)>, (n, i)| match acc {
            Some((best_n, _)) if best_n >= n => acc,
            _ => Some((n, i)),
        })
        .filter(|&(n, _)| n > 0)
        .map_or(first, |(_, i)| i);
    let headers = cells.record(best).map(Rec::to_strings).unwrap_or_default();
    let resolved = resolve_headers(&headers, mapping).map_err(|reason| DeliveryError::Mapping {
        file: file.to_string(),
        reason,
    })?;
    Err(DeliveryError::WrongKind {
        file: file.to_string(),
        missing: missing_requirements(&resolved),
        found: headers
            .iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect(),
    })
}

/// Everything needed to turn one record into a row.
struct RowContext<'a> {
    headers: &'a [String],
    /// Fields a record needs: up to the last non-blank header.
    needed: usize,
    resolved: &'a Resolved,
    date_format: Option<&'a str>,
    excel_serials: bool,
    /// Compute the content hash (the duplicate scan does not need it).
    hash: bool,
}

/// Builds a rejection for `record` from inside [`RowContext::row`].
struct Reject<'a> {
    line: u64,
    registration: Option<&'a str>,
    headers: &'a [String],
    resolved: &'a Resolved,
}

impl Reject<'_> {
    fn at(&self, column: Option<Column>, reason: String) -> Rejection {
        Rejection {
            line: self.line,
            registration: self.registration.map(str::to_string),
            column: column
                .and_then(|c| self.resolved.get(c))
                .and_then(|i| self.headers.get(i))
                .map(|h| h.trim().to_string()),
            reason,
        }
    }
}

fn time_2359() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN)
}

/// A cell's text: trimmed, and unwrapped from Excel's text-forcing formula `="0123"`.
fn cell_text(raw: &str) -> &str {
    let v = raw.trim();
    v.strip_prefix("=\"")
        .and_then(|inner| inner.strip_suffix('"'))
        .filter(|inner| !inner.contains('"'))
        .map_or(v, str::trim)
}

/// Splits `1.1.1 Diefstal/inbraak woning` into code and label (see the module docs).
pub fn split_category(value: &str) -> (Option<String>, Option<String>) {
    let value = value.trim();
    let code_len = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let code = value[..code_len].trim_end_matches('.');
    let is_code = code.starts_with(|c: char| c.is_ascii_digit())
        && code.contains('.')
        && !code.contains("..")
        && (code_len == value.len() || value[code_len..].starts_with([' ', '-', ':', '\t']));
    if !is_code {
        return (None, (!value.is_empty()).then(|| value.to_string()));
    }
    let label = value[code_len..]
        .trim_start_matches([' ', '-', ':', '\t'])
        .trim();
    (
        Some(code.to_string()),
        (!label.is_empty()).then(|| label.to_string()),
    )
}

/// Normalises a Dutch postcode (`1012 js` -> `1012JS`); `None` when it is not one.
pub fn normalise_postcode(value: &str) -> Option<String> {
    let compact: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let b = compact.as_bytes();
    let valid = b.len() == 6
        && (b'1'..=b'9').contains(&b[0])
        && b[1..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_uppercase);
    valid.then_some(compact)
}

impl RowContext<'_> {
    /// The cell of column `c`, trimmed and unwrapped ([`cell_text`]); `None` when absent or empty.
    fn field<'r>(&self, record: Rec<'r>, c: Column) -> Option<&'r str> {
        let i = self.resolved.get(c)?;
        let v = cell_text(record.get(i)?);
        (!v.is_empty()).then_some(v)
    }

    fn owned(&self, record: Rec<'_>, c: Column) -> Option<String> {
        self.field(record, c).map(str::to_string)
    }

    fn date(&self, v: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
        parse_date(v, self.date_format).or_else(|| {
            if self.excel_serials && self.date_format.is_none() {
                sniff::excel_serial_datetime(v).map(|dt| {
                    let t = dt.time();
                    (dt.date(), (t != NaiveTime::MIN).then_some(t))
                })
            } else {
                None
            }
        })
    }

    fn time(&self, v: &str) -> Option<NaiveTime> {
        parse_time(v).or_else(|| {
            if self.excel_serials {
                sniff::excel_fraction_time(v)
            } else {
                None
            }
        })
    }

    fn row(&self, record: Rec<'_>) -> Result<DeliveryRow, Rejection> {
        let registration = self.field(record, Column::Registratienummer);
        let rj = Reject {
            line: record.line(),
            registration,
            headers: self.headers,
            resolved: self.resolved,
        };
        let needed = self.needed;
        if record.len() < needed {
            return Err(rj.at(
                None,
                format!("te weinig velden ({} van {needed})", record.len()),
            ));
        }
        if record
            .iter()
            .skip(self.headers.len())
            .any(|f| !f.trim().is_empty())
        {
            return Err(rj.at(
                None,
                format!(
                    "te veel velden ({} van {}): verschoven regel?",
                    record.len(),
                    self.headers.len()
                ),
            ));
        }
        let Some(registration) = registration.map(str::to_string) else {
            return Err(rj.at(
                Some(Column::Registratienummer),
                "registratienummer ontbreekt".into(),
            ));
        };

        // Time window.
        let Some(begin_raw) = self.field(record, Column::PleegdatumBegin) else {
            return Err(rj.at(
                Some(Column::PleegdatumBegin),
                "pleegdatum begin ontbreekt".into(),
            ));
        };
        let bad_date = |c: Column, v: &str| {
            let hint = self
                .date_format
                .map(|f| format!(" (verwacht formaat {f})"))
                .unwrap_or_default();
            rj.at(Some(c), format!("ongeldige datum '{v}'{hint}"))
        };
        let (begin_date, begin_embedded) = self
            .date(begin_raw)
            .ok_or_else(|| bad_date(Column::PleegdatumBegin, begin_raw))?;
        let begin_time = match self.field(record, Column::PleegtijdBegin) {
            Some(v) => Some(self.time(v).ok_or_else(|| {
                rj.at(
                    Some(Column::PleegtijdBegin),
                    format!("ongeldige tijd '{v}'"),
                )
            })?),
            None => begin_embedded,
        };
        let time_known = begin_time.is_some();
        let begin = begin_date.and_time(begin_time.unwrap_or(NaiveTime::MIN));

        let end_date = match self.field(record, Column::PleegdatumEind) {
            Some(v) => Some(
                self.date(v)
                    .ok_or_else(|| bad_date(Column::PleegdatumEind, v))?,
            ),
            None => None,
        };
        let end_time = match self.field(record, Column::PleegtijdEind) {
            Some(v) => Some(self.time(v).ok_or_else(|| {
                rj.at(Some(Column::PleegtijdEind), format!("ongeldige tijd '{v}'"))
            })?),
            None => end_date.and_then(|(_, t)| t),
        };
        let end = match (end_date, end_time) {
            (Some((d, _)), Some(t)) => d.and_time(t),
            (Some((d, _)), None) => d.and_time(time_2359()),
            (None, Some(t)) => begin_date.and_time(t),
            (None, None) if time_known => begin,
            (None, None) => begin_date.and_time(time_2359()),
        };
        if end < begin {
            let column = if end_date.is_some() {
                Column::PleegdatumEind
            } else {
                Column::PleegtijdEind
            };
            return Err(rj.at(
                Some(column),
                format!(
                    "einde {} ligt voor begin {}",
                    end.format("%d-%m-%Y %H:%M"),
                    begin.format("%d-%m-%Y %H:%M")
                ),
            ));
        }

        // Numbers and coordinates.
        let number = |c: Column| -> Result<Option<f64>, Rejection> {
            match self.field(record, c) {
                None => Ok(None),
                Some(v) => parse_decimal(v)
                    .map(Some)
                    .ok_or_else(|| rj.at(Some(c), format!("ongeldig getal '{v}'"))),
            }
        };
        let x_m = number(Column::X)?;
        let y_m = number(Column::Y)?;
        let lat = number(Column::Lat)?;
        let lon = number(Column::Lon)?;
        match (x_m, y_m) {
            (Some(_), None) => return Err(rj.at(Some(Column::Y), "y ontbreekt bij x".into())),
            (None, Some(_)) => return Err(rj.at(Some(Column::X), "x ontbreekt bij y".into())),
            (Some(x), Some(y)) if !is_within_netherlands_rd(x, y) => {
                return Err(rj.at(
                    Some(Column::X),
                    format!("RD-coördinaten buiten Nederland (x={x}, y={y})"),
                ))
            }
            _ => {}
        }
        match (lat, lon) {
            (Some(_), None) => return Err(rj.at(Some(Column::Lon), "lon ontbreekt bij lat".into())),
            (None, Some(_)) => return Err(rj.at(Some(Column::Lat), "lat ontbreekt bij lon".into())),
            (Some(la), Some(lo)) if !is_within_netherlands_wgs84(lo, la) => {
                let hint = if is_within_netherlands_wgs84(la, lo) {
                    " (lat en lon verwisseld?)"
                } else {
                    ""
                };
                return Err(rj.at(
                    Some(Column::Lat),
                    format!("WGS84-coördinaten buiten Nederland (lat={la}, lon={lo}){hint}"),
                ));
            }
            _ => {}
        }

        let street = self.owned(record, Column::Straat);
        let huisnummer = self.owned(record, Column::Huisnummer);
        let postcode = self
            .field(record, Column::Postcode)
            .map(|p| normalise_postcode(p).unwrap_or_else(|| p.to_string()));
        let buurtcode = self.owned(record, Column::Buurtcode);
        if street.is_none()
            && postcode.is_none()
            && x_m.is_none()
            && lat.is_none()
            && buurtcode.is_none()
        {
            return Err(rj.at(
                None,
                "geen locatie: adres, coördinaten en buurtcode ontbreken".into(),
            ));
        }
        let (category_code, category_label) = self
            .field(record, Column::MaatschappelijkeKlasse)
            .map(split_category)
            .unwrap_or((None, None));
        let extra: BTreeMap<String, String> = self
            .resolved
            .extra
            .iter()
            .map(|(name, i)| {
                let v = record.get(*i).map(cell_text).unwrap_or_default();
                (name.clone(), v.to_string())
            })
            .collect();
        let mut row = DeliveryRow {
            line: record.line(),
            registration,
            begin,
            end,
            time_known,
            category_code,
            category_label,
            street,
            huisnummer,
            huisletter: self.owned(record, Column::Huisletter),
            toevoeging: self.owned(record, Column::Toevoeging),
            postcode,
            plaats: self.owned(record, Column::Plaats),
            x_m,
            y_m,
            lat,
            lon,
            buurtcode,
            extra,
            content_hash: String::new(),
        };
        if self.hash {
            row.content_hash = content_hash(&row);
        }
        Ok(row)
    }
}

/// The stable content hash of a row: SHA-256 hex over its normalised fields, excluding `line` and
/// `content_hash` itself. Absent values and empty strings hash differently.
pub fn content_hash(row: &DeliveryRow) -> String {
    // The byte stream is `name \x1f value \x1e` per present value and `name \x00 \x1e` per absent one, with
    // values formatted exactly as `to_string()` / `format!("{v}")` would (stored hashes stay valid). It is
    // built in a per-thread buffer and hashed in one call: no allocation per field and no hasher call per
    // formatted character.
    thread_local! {
        static BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUF.with(|buf| match buf.try_borrow_mut() {
        Ok(mut buf) => hash_stream(row, &mut buf),
        // Not reachable (no re-entry), but never panic: use a fresh buffer.
        Err(_) => hash_stream(row, &mut String::new()),
    })
}

fn hash_stream(row: &DeliveryRow, buf: &mut String) -> String {
    buf.clear();
    fn text(buf: &mut String, name: &str, value: Option<&str>) {
        buf.push_str(name);
        match value {
            Some(v) => {
                buf.push('\x1f');
                buf.push_str(v);
            }
            None => buf.push('\x00'),
        }
        buf.push('\x1e');
    }
    fn number(buf: &mut String, name: &str, value: Option<f64>) {
        buf.push_str(name);
        match value {
            Some(v) => {
                buf.push('\x1f');
                // Writing into a String cannot fail.
                let _ = write!(buf, "{v}");
            }
            None => buf.push('\x00'),
        }
        buf.push('\x1e');
    }
    fn timestamp(buf: &mut String, name: &str, value: NaiveDateTime) {
        buf.push_str(name);
        buf.push('\x1f');
        push_datetime(buf, value);
        buf.push('\x1e');
    }
    text(buf, "registratienummer", Some(&row.registration));
    timestamp(buf, "begin", row.begin);
    timestamp(buf, "end", row.end);
    text(
        buf,
        "time_known",
        Some(if row.time_known { "1" } else { "0" }),
    );
    text(buf, "category_code", row.category_code.as_deref());
    text(buf, "category_label", row.category_label.as_deref());
    text(buf, "straat", row.street.as_deref());
    text(buf, "huisnummer", row.huisnummer.as_deref());
    text(buf, "huisletter", row.huisletter.as_deref());
    text(buf, "toevoeging", row.toevoeging.as_deref());
    text(buf, "postcode", row.postcode.as_deref());
    text(buf, "plaats", row.plaats.as_deref());
    number(buf, "x", row.x_m);
    number(buf, "y", row.y_m);
    number(buf, "lat", row.lat);
    number(buf, "lon", row.lon);
    text(buf, "buurtcode", row.buurtcode.as_deref());
    for (k, v) in &row.extra {
        buf.push_str("extra:");
        text(buf, k, Some(v));
    }
    to_hex(&Sha256::digest(buf.as_bytes()))
}

/// Appends `dt` as its `Display` form `2024-03-15 14:30:00`. Whole seconds in years 0..=9999 (every
/// timestamp a delivery can produce) are written digit by digit; anything else goes through `Display`.
fn push_datetime(buf: &mut String, dt: NaiveDateTime) {
    use chrono::{Datelike, Timelike};
    let year = dt.year();
    if dt.nanosecond() != 0 || !(0..=9999).contains(&year) {
        let _ = write!(buf, "{dt}");
        return;
    }
    let two = |buf: &mut String, v: u32| {
        buf.push(char::from(b'0' + (v / 10 % 10) as u8));
        buf.push(char::from(b'0' + (v % 10) as u8));
    };
    let year = year.unsigned_abs();
    two(buf, year / 100);
    two(buf, year % 100);
    buf.push('-');
    two(buf, dt.month());
    buf.push('-');
    two(buf, dt.day());
    buf.push(' ');
    two(buf, dt.hour());
    buf.push(':');
    two(buf, dt.minute());
    buf.push(':');
    two(buf, dt.second());
}

/// Lower-case hex of `bytes`.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn read(text: &str) -> ParsedDelivery {
        read_delivery_bytes("t.csv", text.as_bytes(), None).unwrap()
    }

    /// Every row and rejection of `reader`, read in batches of `batch` records.
    fn in_batches(reader: &DeliveryReader<'_>, batch: usize) -> (Vec<DeliveryRow>, Vec<Rejection>) {
        let (mut rows, mut rejections) = (Vec::new(), Vec::new());
        reader
            .for_each_batch(batch, |items| {
                for item in items {
                    match item {
                        Ok(row) => rows.push(row),
                        Err(r) => rejections.push(r),
                    }
                }
                Ok::<(), DeliveryError>(())
            })
            .unwrap();
        (rows, rejections)
    }

    #[test]
    fn batches_of_any_size_read_the_same_rows_lines_and_rejections() {
        let text = "Export week 11\r\n\r\nregistratienummer;pleegdatum begin;straat;huisnummer;buurtcode\r\n\
                    A;01-03-2024;\"Kerk\r\nstraat\";1;BU1\r\n\r\n\
                    B;31-02-2024;;;BU1\r\n\
                    A;02-03-2024;;;BU2\r\n\
                    ;\r\n\
                    C;03-03-2024;Dorpsstraat;2\r\n\
                    E;04-03-2024;Café;3;BU3\n\
                    \"D;04-03-2024;;;BU3\r\n";
        let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        for bytes in [text.as_bytes(), &cp1252[..]] {
            let whole = read_delivery_bytes("t.csv", bytes, None).unwrap();
            let lines = |rows: &[DeliveryRow]| rows.iter().map(|r| r.line).collect::<Vec<_>>();
            assert_eq!(lines(&whole.rows), [8, 11]);
            assert_eq!(whole.rows[1].street.as_deref(), Some("Café"));
            let rejected: Vec<(u64, &str)> = whole
                .rejections
                .iter()
                .map(|r| (r.line, r.reason.as_str()))
                .collect();
            assert_eq!(
                rejected,
                [
                    (4, "dubbel in bestand: vervangen door regel 8"),
                    (7, "ongeldige datum '31-02-2024'"),
                    (10, "te weinig velden (4 van 5)"),
                    (12, "te weinig velden (1 van 5)"),
                ]
            );
            assert_eq!(whole.total_rows, 6);
            let reader = DeliveryReader::from_bytes("t.csv", bytes, None).unwrap();
            assert_eq!((reader.total_rows(), reader.rejected_rows()), (6, 4));
            assert_eq!(reader.accepted_rows(), 2);
            for batch in [1, 2, 3, 5, 1000] {
                let (rows, rejections) = in_batches(&reader, batch);
                assert_eq!(rows, whole.rows, "batch {batch}");
                assert_eq!(rejections, whole.rejections, "batch {batch}");
            }
        }
    }

    #[test]
    fn a_file_changed_after_opening_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("week.csv");
        std::fs::write(
            &path,
            "registratienummer;pleegdatum begin;buurtcode\nA;01-03-2024;BU1\n",
        )
        .unwrap();
        let reader = DeliveryReader::open(&path, None).unwrap();
        assert_eq!(in_batches(&reader, 10).0.len(), 1);
        std::fs::write(
            &path,
            "registratienummer;pleegdatum begin;buurtcode\nA;01-03-2024;BU2\n",
        )
        .unwrap();
        let result = reader.for_each_batch(10, |_| Ok::<(), DeliveryError>(()));
        match result {
            Err(e @ DeliveryError::Changed { .. }) => {
                assert!(
                    e.to_string().contains("week.csv: bestand is gewijzigd"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn splits_categories() {
        assert_eq!(
            split_category("1.1.1 Diefstal/inbraak woning"),
            (Some("1.1.1".into()), Some("Diefstal/inbraak woning".into()))
        );
        assert_eq!(split_category("2.6.10"), (Some("2.6.10".into()), None));
        assert_eq!(
            split_category("1.4.5 - Mishandeling"),
            (Some("1.4.5".into()), Some("Mishandeling".into()))
        );
        assert_eq!(
            split_category("Overlast jeugd"),
            (None, Some("Overlast jeugd".into()))
        );
        assert_eq!(split_category("1.1.1x"), (None, Some("1.1.1x".into())));
        assert_eq!(
            split_category("2024 jaar"),
            (None, Some("2024 jaar".into()))
        );
        assert_eq!(split_category(""), (None, None));
    }

    #[test]
    fn unwraps_excel_text_formulas() {
        assert_eq!(cell_text(" =\"0123\" "), "0123");
        assert_eq!(cell_text("=\"a\"\"b\""), "=\"a\"\"b\"");
        assert_eq!(cell_text("=SUM(A1)"), "=SUM(A1)");
        let p = read("registratienummer;pleegdatum;postcode;huisnummer\n=\"00123\";01-01-2024;=\"1012 js\";1\n");
        assert_eq!(p.rows[0].registration, "00123");
        assert_eq!(p.rows[0].postcode.as_deref(), Some("1012JS"));
    }

    #[test]
    fn normalises_postcodes() {
        assert_eq!(normalise_postcode("1012 js"), Some("1012JS".into()));
        assert_eq!(normalise_postcode("1012JS"), Some("1012JS".into()));
        assert_eq!(normalise_postcode("0123AB"), None);
        assert_eq!(normalise_postcode("1012J"), None);
        assert_eq!(normalise_postcode("1012ÉS"), None);
    }

    #[test]
    fn time_window_rules() {
        let p = read(
            "registratienummer;pleegdatum begin;pleegtijd begin;pleegdatum eind;pleegtijd eind;buurtcode\n\
             A;15-03-2024;;;;BU1\n\
             B;15-03-2024;14:30;;;BU1\n\
             C;15-03-2024;22:00;17-03-2024;;BU1\n\
             D;15-03-2024;08:00;;17:15;BU1\n\
             E;15-03-2024;;16-03-2024;06:00;BU1\n\
             F;15-03-2024;22:00;;06:00;BU1\n\
             G;2024-03-15 10:05;;;;BU1\n",
        );
        let w: Vec<(String, NaiveDateTime, NaiveDateTime, bool)> = p
            .rows
            .iter()
            .map(|r| (r.registration.clone(), r.begin, r.end, r.time_known))
            .collect();
        assert_eq!(
            w,
            vec![
                (
                    "A".into(),
                    dt("2024-03-15 00:00"),
                    dt("2024-03-15 23:59"),
                    false
                ),
                (
                    "B".into(),
                    dt("2024-03-15 14:30"),
                    dt("2024-03-15 14:30"),
                    true
                ),
                (
                    "C".into(),
                    dt("2024-03-15 22:00"),
                    dt("2024-03-17 23:59"),
                    true
                ),
                (
                    "D".into(),
                    dt("2024-03-15 08:00"),
                    dt("2024-03-15 17:15"),
                    true
                ),
                (
                    "E".into(),
                    dt("2024-03-15 00:00"),
                    dt("2024-03-16 06:00"),
                    false
                ),
                (
                    "G".into(),
                    dt("2024-03-15 10:05"),
                    dt("2024-03-15 10:05"),
                    true
                ),
            ]
        );
        assert_eq!(p.rejections.len(), 1);
        assert_eq!(p.rejections[0].line, 7);
        assert_eq!(p.rejections[0].column.as_deref(), Some("pleegtijd eind"));
        assert_eq!(p.total_rows, 7);
    }

    #[test]
    fn duplicates_last_valid_row_wins() {
        let p = read(
            "registratienummer;pleegdatum;buurtcode\n\
             A;01-01-2024;BU1\n\
             A;02-01-2024;BU1\n\
             B;03-01-2024;BU1\n\
             B;99-01-2024;BU1\n",
        );
        let kept: Vec<(u64, &str)> = p
            .rows
            .iter()
            .map(|r| (r.line, r.registration.as_str()))
            .collect();
        assert_eq!(kept, vec![(3, "A"), (4, "B")]);
        let rej: Vec<(u64, &str)> = p
            .rejections
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            rej,
            vec![
                (2, "dubbel in bestand: vervangen door regel 3"),
                (5, "ongeldige datum '99-01-2024'")
            ]
        );
    }

    #[test]
    fn content_hash_ignores_line_but_not_content() {
        let p = read(
            "registratienummer;pleegdatum;buurtcode\n\
             A;01-01-2024;BU1\n\
             \n\
             B;01-01-2024;BU1\n\
             C;01-01-2024;BU2\n",
        );
        let a = &p.rows[0];
        let mut moved = a.clone();
        moved.line = 99;
        assert_eq!(content_hash(&moved), a.content_hash);
        assert_ne!(p.rows[1].content_hash, a.content_hash);
        assert_ne!(p.rows[2].content_hash, p.rows[1].content_hash);
        assert_eq!(a.content_hash.len(), 64);
        assert_eq!(p.rows[1].line, 4);
        assert_eq!(p.total_rows, 3);
    }

    /// The hash as first specified (SHA-256 over strings built with `to_string` / `format!`): stored hashes
    /// must stay valid, so the streaming implementation has to produce exactly these bytes.
    fn reference_hash(row: &DeliveryRow) -> String {
        let mut h = Sha256::new();
        let mut put = |name: &str, value: Option<&str>| {
            h.update(name.as_bytes());
            match value {
                Some(v) => {
                    h.update(b"\x1f");
                    h.update(v.as_bytes());
                }
                None => h.update(b"\x00"),
            }
            h.update(b"\x1e");
        };
        let num = |v: Option<f64>| v.map(|v| format!("{v}"));
        put("registratienummer", Some(&row.registration));
        put("begin", Some(&row.begin.to_string()));
        put("end", Some(&row.end.to_string()));
        put("time_known", Some(if row.time_known { "1" } else { "0" }));
        put("category_code", row.category_code.as_deref());
        put("category_label", row.category_label.as_deref());
        put("straat", row.street.as_deref());
        put("huisnummer", row.huisnummer.as_deref());
        put("huisletter", row.huisletter.as_deref());
        put("toevoeging", row.toevoeging.as_deref());
        put("postcode", row.postcode.as_deref());
        put("plaats", row.plaats.as_deref());
        put("x", num(row.x_m).as_deref());
        put("y", num(row.y_m).as_deref());
        put("lat", num(row.lat).as_deref());
        put("lon", num(row.lon).as_deref());
        put("buurtcode", row.buurtcode.as_deref());
        for (k, v) in &row.extra {
            put(&format!("extra:{k}"), Some(v));
        }
        to_hex(&h.finalize())
    }

    #[test]
    fn content_hash_bytes_are_unchanged() {
        let mapping =
            Mapping::from_toml_str("m.toml", "[extra]\nteam = \"Team\"\nleeg = \"Leeg\"\n")
                .unwrap();
        let text = "registratienummer;pleegdatum;pleegtijd;straat;huisnummer;postcode;plaats;x;y;lat;lon;buurtcode;mk;Team;Leeg\n\
                    A;15-03-2024;14:30;Caféstraat;12a;1012 js;Eindhoven;155000,5;463000;52,1;5,25;BU1;1.1.1 Inbraak;Noord;\n\
                    B;15-03-2024;;;;;;155000.125;463000;;;;;;\n\
                    C;2024-03-15 10:05:07;;Weg;1;;;;;;;;Overlast;Zuid;x\n";
        let p = read_delivery_bytes("t.csv", text.as_bytes(), Some(&mapping)).unwrap();
        assert_eq!(p.rows.len(), 3, "{:?}", p.rejections);
        for row in &p.rows {
            assert_eq!(row.content_hash, reference_hash(row));
        }
        assert_eq!(p.rows[1].x_m, Some(155_000.125));
    }

    #[test]
    fn datetime_digits_match_display() {
        let base = NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_opt(23, 59, 7)
            .unwrap();
        let cases = [
            base,
            NaiveDate::from_ymd_opt(1900, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            NaiveDate::from_ymd_opt(2199, 12, 31)
                .unwrap()
                .and_hms_opt(9, 5, 59)
                .unwrap(),
            NaiveDate::from_ymd_opt(7, 3, 4)
                .unwrap()
                .and_hms_opt(1, 2, 3)
                .unwrap(),
            NaiveDate::from_ymd_opt(12345, 3, 4)
                .unwrap()
                .and_hms_opt(1, 2, 3)
                .unwrap(),
            NaiveDate::from_ymd_opt(-44, 3, 15)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
            base + chrono::Duration::milliseconds(250),
        ];
        for dt in cases {
            let mut s = String::new();
            push_datetime(&mut s, dt);
            assert_eq!(s, dt.to_string());
        }
    }

    /// Large enough to be split over several parallel chunks: order, line numbers and the duplicate rule
    /// must be those of the documented sequential rule.
    #[test]
    fn parallel_conversion_keeps_order_and_duplicate_rule() {
        let n = 20_000usize;
        let mut text = String::from("registratienummer;pleegdatum;buurtcode\n");
        for i in 0..n {
            let date = if i % 7 == 3 {
                "31-02-2024"
            } else {
                "01-01-2024"
            };
            text.push_str(&format!("R{};{date};BU{i}\n", i % 1000));
            if i % 5000 == 17 {
                text.push_str(" ; ;\n");
            }
        }
        let p = read(&text);
        // Physical line of row i: header + i + 1, plus the blank lines inserted before it.
        let line = |i: usize| (i + 2 + (i + 4982) / 5000) as u64;
        let valid = |i: usize| i % 7 != 3;
        let mut winner = std::collections::HashMap::new();
        for i in (0..n).filter(|&i| valid(i)) {
            winner.insert(i % 1000, line(i));
        }
        let kept: Vec<u64> = (0..n)
            .filter(|&i| valid(i) && winner[&(i % 1000)] == line(i))
            .map(line)
            .collect();
        assert_eq!(p.rows.iter().map(|r| r.line).collect::<Vec<_>>(), kept);
        assert_eq!(p.total_rows, n as u64);
        assert_eq!(p.rejections.len(), n - kept.len());
        let mut expected: Vec<(u64, String)> = (0..n)
            .filter(|&i| !(valid(i) && winner[&(i % 1000)] == line(i)))
            .map(|i| {
                let reason = if valid(i) {
                    format!(
                        "dubbel in bestand: vervangen door regel {}",
                        winner[&(i % 1000)]
                    )
                } else {
                    "ongeldige datum '31-02-2024'".to_string()
                };
                (line(i), reason)
            })
            .collect();
        expected.sort();
        let got: Vec<(u64, String)> = p
            .rejections
            .iter()
            .map(|r| (r.line, r.reason.clone()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn line_numbers_count_every_line_ending_style() {
        let p = read(
            "registratienummer;pleegdatum;buurtcode\r\rA;01-01-2024;BU1\r\nB;01-01-2024;\"BU\n2\"\n\nC;x;BU3\n",
        );
        let lines: Vec<u64> = p.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4]);
        assert_eq!(p.rejections[0].line, 7);
    }

    #[test]
    fn title_line_above_header_is_skipped() {
        let p = read(
            "Export BVH week 11\n\
             registratienummer;pleegdatum;x;y\n\
             A;01-01-2024;155000;463000\n",
        );
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].line, 3);
        assert_eq!(p.total_rows, 1);
    }

    #[test]
    fn wrong_kind_reports_the_most_header_like_record() {
        let e = read_delivery_bytes(
            "t.csv",
            b"Export week 11\nregistratienummer;pleegdatum;omschrijving\nA;01-01-2024;x\n",
            None,
        )
        .unwrap_err();
        let DeliveryError::WrongKind { missing, found, .. } = e else {
            panic!("expected WrongKind");
        };
        assert_eq!(
            found,
            vec!["registratienummer", "pleegdatum", "omschrijving"]
        );
        assert_eq!(missing.len(), 1);
    }

    #[test]
    fn xls_and_empty_are_refused() {
        let xls = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
        assert!(matches!(
            read_delivery_bytes("a.xls", &xls, None),
            Err(DeliveryError::Format { .. })
        ));
        for empty in ["", "\n\n", " ; ;\n"] {
            let e = read_delivery_bytes("leeg.csv", empty.as_bytes(), None).unwrap_err();
            assert!(matches!(e, DeliveryError::Empty { .. }), "{empty:?}");
            assert!(e.to_string().contains("leeg.csv"));
        }
    }
}
