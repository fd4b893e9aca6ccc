//! Importing an incident delivery end to end: read the file ([`super::delivery`]), place every row
//! ([`Locator`]), and store delivery, incidents and report in one transaction.
//!
//! How a row is placed, in this order (the address is resolved by [`GeocodeIndex::geocode_place`]):
//! 1. An address (street + number, or postcode + number) that the geocoder matches uniquely (`exact`,
//!    `normalized`, `fuzzy`) places the incident on that BAG object; `partial` (the building is certain, the unit is
//!    not) places it on the building's point without a `bag_id`. When the row also has coordinates (RD `x`/`y`, or
//!    `lat`/`lon` converted to RD) and the address lies more than [`CONFLICT_DISTANCE_M`] from them, the row is
//!    reported as a `conflict` (reason with the distance); the address wins, or the coordinates with the mapping's
//!    `[options] prefer = "coordinates"` (then `located_by = coordinates`, no `bag_id`).
//! 2. Otherwise given coordinates place it; when the row had an address that was not found or not unique, it is
//!    reported as `op coördinaten` (reason "adres niet gevonden in de BAG: 'Straat 1, Plaats' (...)").
//! 3. Otherwise a location that is not one address (match `intersection`, `street`, `near`: the point the geocoder
//!    derived) places it with `located_by = address` but without a `bag_id` (no single address: address-level
//!    features such as the building profile and repeats per address do not count it); the report lists the row
//!    with the match kind as outcome and the uncertainty in the reason.
//! 4. Otherwise a known buurtcode places it in that buurt (no point).
//! 5. Otherwise it is stored as not located (`located_by = none`) and listed in the report, as `ambiguous` (with
//!    the number of candidates) or `not_located`.
//!
//! The buurt of a placed incident is the buurt of its point. Rows the reader rejected are listed in the report as
//! `rejected` and not stored as incidents. The report file and the store's report list every outcome
//! ([`report::OUTCOMES`]).

use super::delivery::{self, DeliveryRow};
use super::mapping::{LocationPreference, Mapping};
use super::report::{self, ReportEntry, ReportWriter};
use crate::area_index::{AreaIndex, AreaPolygon};
use crate::area_level::AreaLevel;
use crate::coords::with_thread_transformer;
use crate::geocode::{AddressQuery, BagAddress, GeocodeIndex, GeocodeIndexBuilder, MatchKind};
use crate::store::{
    DeliveryMeta, DeliveryOutcome, IncidentRecord, IncidentSink, LocatedBy, PersonalColumn,
    ReportRecord, Store, StoreError,
};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Errors of an incident import.
#[derive(Debug, thiserror::Error)]
pub enum IncidentImportError {
    #[error(transparent)]
    Delivery(#[from] delivery::DeliveryError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{mapping}: kolommen met persoonsgegevens ({}) maar geen pseudonimiseringssleutel; zet BRANDPUNT_PSEUDONYM_KEY of geef --pseudonym-key-file", columns.join(", "))]
    PseudonymKeyMissing {
        mapping: String,
        columns: Vec<String>,
    },
    #[error("{file}: cannot write the report: {source}")]
    Report {
        file: String,
        source: std::io::Error,
    },
}

/// Everything needed to place incidents: the BAG geocoder and the buurt index. WGS84 coordinates are converted
/// with a per-thread PROJ transformer ([`crate::coords::with_thread_transformer`]), so a `Locator` can place rows
/// on several threads. Build it from a store with [`Locator::from_store`].
pub struct Locator {
    pub geocoder: GeocodeIndex,
    pub areas: AreaIndex,
    /// Buurtcodes of the newest boundary set (for rows that give only a buurtcode).
    pub buurtcodes: HashSet<String>,
}

/// Result of placing one row.
pub struct Placed {
    pub record: IncidentRecord,
    /// A report line when the row was not located.
    pub report: Option<ReportRecord>,
}

impl Locator {
    /// A locator over `geocoder` and the buurten of `areas`; the buurtcodes of `areas` are the known ones.
    pub fn new(geocoder: GeocodeIndex, areas: AreaIndex) -> Locator {
        let buurtcodes = areas.areas().iter().map(|a| a.buurtcode.clone()).collect();
        Locator {
            geocoder,
            areas,
            buurtcodes,
        }
    }

    /// The locator of a store's reference data: the geocoder over every stored BAG address ([`geocoder`]) and
    /// the buurt index of the newest boundary set ([`buurt_index`]). Both are empty when nothing was imported.
    ///
    /// ```
    /// use brandpunt::import::incidents::Locator;
    /// let store = brandpunt::store::SqliteStore::open_in_memory()?;
    /// let locator = Locator::from_store(&store)?;
    /// assert!(locator.geocoder.is_empty());
    /// assert!(locator.buurtcodes.is_empty());
    /// # Ok::<(), brandpunt::store::StoreError>(())
    /// ```
    pub fn from_store(store: &dyn Store) -> Result<Locator, StoreError> {
        Ok(Locator::new(geocoder(store)?, buurt_index(store)?))
    }

    /// Place one delivered row (see the module documentation for the order of preference).
    pub fn place(&self, row: &DeliveryRow) -> Placed {
        self.place_owned(row.clone())
    }

    /// [`Locator::place`] taking the row by value: its strings move into the record instead of being copied
    /// (the import places a million rows and drops them anyway).
    pub fn place_owned(&self, row: DeliveryRow) -> Placed {
        self.place_preferring(row, LocationPreference::Address)
    }

    /// [`Locator::place_owned`] with the mapping's choice of what wins when the address lies more than
    /// [`CONFLICT_DISTANCE_M`] from the row's own coordinates.
    pub fn place_preferring(&self, row: DeliveryRow, prefer: LocationPreference) -> Placed {
        let DeliveryRow {
            line,
            registration,
            begin,
            end,
            time_known,
            category_code,
            category_label,
            street,
            huisnummer,
            huisletter,
            toevoeging,
            postcode,
            plaats,
            x_m,
            y_m,
            lat,
            lon,
            buurtcode,
            extra,
            content_hash,
        } = row;
        let mut record = IncidentRecord {
            line,
            registration,
            begin,
            end,
            time_known,
            category_code,
            category_label,
            street,
            huisnummer,
            huisletter,
            toevoeging,
            postcode,
            plaats,
            bag_id: None,
            x_m: None,
            y_m: None,
            buurtcode: None,
            located_by: LocatedBy::None,
            match_kind: None,
            match_score: None,
            extra,
            content_hash,
        };
        let mut address_problem: Option<(MatchKind, usize)> = None;
        let has_address =
            record.street.is_some() || (record.huisnummer.is_some() && record.postcode.is_some());
        let rd = match (x_m, y_m, lat, lon) {
            (Some(x), Some(y), _, _) => Some((x, y)),
            (_, _, Some(lat), Some(lon)) => with_thread_transformer(|t| t.wgs84_to_rd(lon, lat))
                .ok()
                .and_then(Result::ok),
            _ => None,
        };
        // A location that is not one address (intersection, street, near) waits for the coordinates.
        let mut vague: Option<crate::geocode::GeocodeMatch> = None;
        if has_address {
            let m = self.geocoder.geocode_place(&AddressQuery {
                street: record.street.as_deref(),
                huisnummer: record.huisnummer.as_deref(),
                huisletter: record.huisletter.as_deref(),
                toevoeging: record.toevoeging.as_deref(),
                postcode: record.postcode.as_deref(),
                woonplaats: record.plaats.as_deref(),
            });
            record.match_kind = Some(m.kind.as_str().to_string());
            record.match_score = Some(m.score);
            match (m.kind, m.point_m) {
                (
                    MatchKind::Exact
                    | MatchKind::Normalized
                    | MatchKind::Fuzzy
                    | MatchKind::Partial,
                    Some((x, y)),
                ) => {
                    let bag_id = m.address.map(|id| self.geocoder.bag_id(id));
                    let conflict = rd
                        .map(|c| (c, (x - c.0).hypot(y - c.1)))
                        .filter(|&(_, d)| d > CONFLICT_DISTANCE_M);
                    let report = conflict.map(|((cx, cy), d)| {
                        let winner = match prefer {
                            LocationPreference::Address => "adres gebruikt",
                            LocationPreference::Coordinates => "coördinaten gebruikt",
                        };
                        report_row(
                            &record,
                            "adres",
                            format!(
                                "adres {} ligt {:.0} m van de eigen coördinaten (x={cx:.0}, y={cy:.0}): {winner}",
                                address_text(&record),
                                d
                            ),
                            OUTCOME_CONFLICT,
                        )
                    });
                    match (conflict, prefer) {
                        (Some(((cx, cy), _)), LocationPreference::Coordinates) => {
                            self.set_point(&mut record, cx, cy, LocatedBy::Coordinates);
                        }
                        _ => {
                            record.bag_id = bag_id;
                            self.set_point(&mut record, x, y, LocatedBy::Address);
                        }
                    }
                    return Placed { record, report };
                }
                (MatchKind::Near | MatchKind::Intersection | MatchKind::Street, Some(_)) => {
                    vague = Some(m);
                }
                (kind, _) => address_problem = Some((kind, m.candidates.len())),
            }
        }
        if let Some((x, y)) = rd {
            self.set_point(&mut record, x, y, LocatedBy::Coordinates);
            let report = address_problem.map(|(kind, n)| {
                let why = if kind == MatchKind::Ambiguous {
                    format!("adres is niet eenduidig (past bij {n} adressen)")
                } else {
                    "adres niet gevonden in de BAG".to_string()
                };
                report_row(
                    &record,
                    "adres",
                    format!(
                        "{why}: {} (op de eigen coördinaten geplaatst)",
                        address_text(&record)
                    ),
                    OUTCOME_AT_COORDINATES,
                )
            });
            return Placed { record, report };
        }
        if let Some(m) = vague {
            if let (Some((x, y)), Some(r)) = (m.point_m, m.uncertainty_m) {
                self.set_point(&mut record, x, y, LocatedBy::Address);
                let place = match m.kind {
                    MatchKind::Intersection => "op de kruising van twee straten",
                    MatchKind::Street => "midden op de straat (geen huisnummer)",
                    _ => "bij het genoemde adres",
                };
                let report = report_row(
                    &record,
                    "adres",
                    format!(
                        "geen enkel adres: {} geplaatst {place} (onzekerheid {r:.0} m)",
                        address_text(&record)
                    ),
                    m.kind.as_str(),
                );
                return Placed {
                    record,
                    report: Some(report),
                };
            }
        }
        if let Some(code) = buurtcode.as_deref().map(|c| c.trim().to_ascii_uppercase()) {
            if self.buurtcodes.contains(&code) {
                record.buurtcode = Some(code);
                record.located_by = LocatedBy::Buurt;
                return Placed {
                    record,
                    report: None,
                };
            }
        }
        let (outcome, reason) = match address_problem {
            Some((MatchKind::Ambiguous, n)) => (
                "ambiguous",
                format!("adres is niet eenduidig: past bij {n} adressen (geef postcode of plaats)"),
            ),
            Some(_) => ("not_located", "adres niet gevonden in de BAG".to_string()),
            None if buurtcode.is_some() => ("not_located", "onbekende buurtcode".to_string()),
            None => (
                "not_located",
                "geen adres, coördinaten of buurtcode".to_string(),
            ),
        };
        let column = if address_problem.is_some() {
            Some("adres".to_string())
        } else if buurtcode.is_some() {
            Some("buurtcode".to_string())
        } else {
            None
        };
        let report = ReportRecord {
            line: record.line,
            registration: Some(record.registration.clone()),
            column,
            reason,
            outcome: outcome.to_string(),
        };
        Placed {
            record,
            report: Some(report),
        }
    }

    fn set_point(&self, record: &mut IncidentRecord, x: f64, y: f64, by: LocatedBy) {
        record.x_m = Some(x);
        record.y_m = Some(y);
        record.buurtcode = self.areas.locate(x, y).map(|a| a.buurtcode.clone());
        record.located_by = by;
    }
}

/// An address that geocodes further than this (metres) from the row's own coordinates is a conflict.
pub const CONFLICT_DISTANCE_M: f64 = 250.0;

/// Report outcome of a row placed at its own coordinates because its address was not found (or not unique).
pub const OUTCOME_AT_COORDINATES: &str = "op coördinaten";

/// Report outcome of a row whose address lies more than [`CONFLICT_DISTANCE_M`] from its coordinates.
pub const OUTCOME_CONFLICT: &str = "conflict";

/// A report row about `record`'s location.
fn report_row(
    record: &IncidentRecord,
    column: &str,
    reason: String,
    outcome: &str,
) -> ReportRecord {
    ReportRecord {
        line: record.line,
        registration: Some(record.registration.clone()),
        column: Some(column.to_string()),
        reason,
        outcome: outcome.to_string(),
    }
}

/// The delivered address of `record` as one line, quoted: `'Burgwal 3a, 7461AB Demostad'`.
fn address_text(record: &IncidentRecord) -> String {
    let mut s = String::new();
    for part in [
        record.street.as_deref(),
        record.huisnummer.as_deref(),
        record.huisletter.as_deref(),
        record.toevoeging.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(part);
    }
    let place: Vec<&str> = [record.postcode.as_deref(), record.plaats.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !place.is_empty() {
        s.push_str(", ");
        s.push_str(&place.join(" "));
    }
    format!("'{s}'")
}

/// The buurt index of the newest boundary set in `store` (empty when no CBS file was imported).
pub fn buurt_index(store: &dyn Store) -> Result<AreaIndex, StoreError> {
    let buurten = store.areas(AreaLevel::Buurt, None)?;
    Ok(AreaIndex::build(
        buurten
            .into_iter()
            .map(|a| AreaPolygon {
                buurtcode: a.code,
                wijkcode: a.wijkcode.unwrap_or_default(),
                gemeentecode: a.gemeentecode,
                geometry: a.geometry,
            })
            .collect(),
    ))
}

/// The geocoder over every BAG address in `store` (empty when no BAG file was imported).
pub fn geocoder(store: &dyn Store) -> Result<GeocodeIndex, StoreError> {
    let mut builder = GeocodeIndexBuilder::new();
    store.for_each_address(&mut |a| {
        builder.push(&BagAddress {
            bag_id: &a.bag_id,
            street: &a.street,
            street_short: a.street_short.as_deref(),
            huisnummer: a.huisnummer,
            huisletter: a.huisletter.as_deref(),
            toevoeging: a.toevoeging.as_deref(),
            postcode: a.postcode.as_deref(),
            woonplaats: &a.woonplaats,
            x_m: a.x_m,
            y_m: a.y_m,
        });
        Ok(())
    })?;
    Ok(builder.finish())
}

/// Options of one incident import.
#[derive(Clone, Debug)]
pub struct IncidentImportOptions {
    pub tenant: String,
    pub source: String,
    pub mapping: Option<Mapping>,
    /// Where to write the report; `None` = next to the input.
    pub report_path: Option<PathBuf>,
}

/// Report rows an import keeps as values in [`IncidentImportSummary::report`]; the report file and the stored
/// report list every row.
pub const REPORT_ROWS_KEPT: usize = 10_000;

/// Records per batch of the import pipeline (read, place, write): the import's memory follows this, not the
/// size of the delivery.
pub const IMPORT_BATCH_ROWS: usize = 16_384;

/// What an incident import did (printed by the CLI, returned by the HTTP API).
#[derive(Clone, Debug, Default, Serialize)]
pub struct IncidentImportSummary {
    pub file: String,
    pub total_rows: u64,
    pub rejected: u64,
    pub located_by_address: u64,
    pub located_by_coordinates: u64,
    pub located_by_buurt: u64,
    pub partial: u64,
    /// Located by address at a place that is not one address (match kinds `intersection`, `street`, `near`;
    /// no `bag_id`), also listed in the report with that kind as outcome.
    pub intersection: u64,
    pub street: u64,
    pub near: u64,
    /// Placed at the row's own coordinates because its address was not found or not unique (report outcome
    /// `op coördinaten`).
    pub at_coordinates: u64,
    /// Address more than [`CONFLICT_DISTANCE_M`] from the row's own coordinates (report outcome `conflict`).
    pub conflicts: u64,
    pub not_located: u64,
    pub ambiguous: u64,
    pub outcome: DeliveryOutcome,
    pub report_path: String,
    /// The first [`REPORT_ROWS_KEPT`] rows of the report (rejected, not located, ambiguous), by line: what the
    /// report file at `report_path` lists first, as values.
    #[serde(skip)]
    pub report: Vec<ReportRecord>,
    /// Report rows beyond `report` (listed in the report file and stored with the delivery).
    pub report_omitted: u64,
}

impl IncidentImportSummary {
    /// Count one placed row (and its report row, when it was not located).
    fn count(&mut self, placed: &Placed) {
        match placed.record.located_by {
            LocatedBy::Address => self.located_by_address += 1,
            LocatedBy::Coordinates => self.located_by_coordinates += 1,
            LocatedBy::Buurt => self.located_by_buurt += 1,
            LocatedBy::None => {}
        }
        if placed.record.located_by == LocatedBy::Address {
            match placed.record.match_kind.as_deref() {
                Some("partial") => self.partial += 1,
                Some("intersection") => self.intersection += 1,
                Some("street") => self.street += 1,
                Some("near") => self.near += 1,
                _ => {}
            }
        }
        if let Some(r) = &placed.report {
            match r.outcome.as_str() {
                "ambiguous" => self.ambiguous += 1,
                "not_located" => self.not_located += 1,
                OUTCOME_AT_COORDINATES => self.at_coordinates += 1,
                OUTCOME_CONFLICT => self.conflicts += 1,
                _ => {}
            }
        }
    }

    /// Keep a report row as a value, or count it as omitted.
    fn keep(&mut self, row: &ReportRecord) {
        if self.report.len() < REPORT_ROWS_KEPT {
            self.report.push(row.clone());
        } else {
            self.report_omitted += 1;
        }
    }
}

/// One batch of placed rows on its way to the store, in line order.
struct PlacedBatch {
    records: Vec<IncidentRecord>,
    reports: Vec<ReportRecord>,
}

/// Why the reading side of the import stopped.
enum ProduceError {
    Import(IncidentImportError),
    /// The writing side ended first (it failed; its error is the import's).
    Stopped,
}

impl From<delivery::DeliveryError> for ProduceError {
    fn from(e: delivery::DeliveryError) -> ProduceError {
        ProduceError::Import(e.into())
    }
}

/// Read, place and store one delivery file, as a pipeline in memory independent of the file's size: the file
/// is read in batches of [`IMPORT_BATCH_ROWS`] records ([`delivery::DeliveryReader`]), each batch is placed in
/// parallel and handed to the store's [`crate::store::IncidentSink`] on the calling thread, while the next batch
/// is read; the report is written to disk line by line. Everything is stored in one transaction: an error
/// anywhere stores nothing and leaves an earlier report file as it was. The same file delivered again changes
/// nothing in the store (`outcome.already_imported`) and yields the same summary and report.
pub fn import_incident_file(
    store: &mut dyn Store,
    locator: &Locator,
    path: &Path,
    options: &IncidentImportOptions,
) -> Result<IncidentImportSummary, IncidentImportError> {
    if let Some(m) = &options.mapping {
        if !m.personal_columns.is_empty() && m.pseudonym_key.is_none() {
            return Err(IncidentImportError::PseudonymKeyMissing {
                mapping: m.source.clone(),
                columns: m.personal_columns.clone(),
            });
        }
    }
    let reader = delivery::DeliveryReader::open(path, options.mapping.as_ref())?;
    let report_path = options
        .report_path
        .clone()
        .unwrap_or_else(|| report::default_report_path(path));
    let mut summary = IncidentImportSummary {
        file: reader.file_name().to_string(),
        total_rows: reader.total_rows(),
        rejected: reader.rejected_rows(),
        report_path: report_path.display().to_string(),
        ..Default::default()
    };
    let meta = DeliveryMeta {
        tenant: options.tenant.clone(),
        source: options.source.clone(),
        kind: "incidents".to_string(),
        file_name: reader.file_name().to_string(),
        checksum: reader.checksum().to_string(),
        total_rows: reader.total_rows(),
    };
    let mut sink = store.incident_sink(&meta, reader.accepted_rows())?;
    if let (Some(sink), Some(m)) = (sink.as_mut(), options.mapping.as_ref()) {
        sink.personal_columns(&personal_columns(m))?;
    }
    // The report goes to a file next to its place and takes that place once the delivery is stored.
    let mut part = report_path.clone().into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    let report_error = |source| IncidentImportError::Report {
        file: report_path.display().to_string(),
        source,
    };
    let result = (|| {
        let file = std::fs::File::create(&part).map_err(report_error)?;
        let writer = ReportWriter::new(std::io::BufWriter::new(file)).map_err(report_error)?;
        let mapping = options.mapping.as_ref();
        let outcome = pipeline(&reader, locator, mapping, sink, writer, &mut summary)?;
        std::fs::rename(&part, &report_path).map_err(report_error)?;
        Ok(outcome)
    })();
    match result {
        Ok(outcome) => {
            summary.outcome = outcome.unwrap_or(DeliveryOutcome {
                already_imported: true,
                ..Default::default()
            });
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

/// Reads and places batches on a second thread while this thread writes them into `sink` (`None`: the file was
/// imported before, only the summary and the report are made); the outcome of the committed delivery.
fn pipeline<W: std::io::Write + Send>(
    reader: &delivery::DeliveryReader<'_>,
    locator: &Locator,
    mapping: Option<&Mapping>,
    sink: Option<Box<dyn IncidentSink + '_>>,
    writer: ReportWriter<W>,
    summary: &mut IncidentImportSummary,
) -> Result<Option<DeliveryOutcome>, IncidentImportError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<PlacedBatch>(2);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || produce(reader, locator, mapping, writer, summary, tx));
        let mut sink = sink;
        let mut written: Result<(), IncidentImportError> = Ok(());
        for batch in &rx {
            let Some(sink) = sink.as_mut() else { continue };
            let pushed = batch
                .records
                .into_iter()
                .try_for_each(|r| sink.push(r))
                .and_then(|()| batch.reports.iter().try_for_each(|r| sink.push_report(r)));
            if let Err(e) = pushed {
                written = Err(e.into());
                break;
            }
        }
        // Ends the producer's sends when the writing stopped early.
        drop(rx);
        let produced = producer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        written?;
        match produced {
            Ok(()) => {}
            Err(ProduceError::Import(e)) => return Err(e),
            // Only after a failed write, which returned above.
            Err(ProduceError::Stopped) => {}
        }
        match sink {
            Some(sink) => Ok(Some(sink.finish()?)),
            None => Ok(None),
        }
    })
}

/// The reading side of [`pipeline`]: batches of rows, pseudonymised, placed in parallel, counted in `summary`,
/// their report rows written by `writer`, sent on `tx` in line order.
fn produce<W: std::io::Write>(
    reader: &delivery::DeliveryReader<'_>,
    locator: &Locator,
    mapping: Option<&Mapping>,
    mut writer: ReportWriter<W>,
    summary: &mut IncidentImportSummary,
    tx: std::sync::mpsc::SyncSender<PlacedBatch>,
) -> Result<(), ProduceError> {
    let report_file = summary.report_path.clone();
    let report_error = |source| {
        ProduceError::Import(IncidentImportError::Report {
            file: report_file.clone(),
            source,
        })
    };
    let prefer = mapping.map(|m| m.prefer).unwrap_or_default();
    reader.for_each_batch(IMPORT_BATCH_ROWS, |mut items| {
        if let Some(m) = mapping {
            items.par_iter_mut().for_each(|item| {
                if let Ok(row) = item {
                    pseudonymise_row(row, m);
                }
            });
        }
        let placed: Vec<Result<Placed, delivery::Rejection>> = items
            .into_par_iter()
            .map(|item| item.map(|row| locator.place_preferring(row, prefer)))
            .collect();
        let mut batch = PlacedBatch {
            records: Vec::with_capacity(placed.len()),
            reports: Vec::new(),
        };
        for item in placed {
            let report = match item {
                Ok(placed) => {
                    summary.count(&placed);
                    batch.records.push(placed.record);
                    placed.report
                }
                Err(r) => Some(ReportRecord {
                    line: r.line,
                    registration: r.registration,
                    column: r.column,
                    reason: r.reason,
                    outcome: "rejected".to_string(),
                }),
            };
            if let Some(r) = report {
                writer.write(&report_entry(&r)).map_err(report_error)?;
                summary.keep(&r);
                batch.reports.push(r);
            }
        }
        tx.send(batch).map_err(|_| ProduceError::Stopped)
    })?;
    writer.finish().map_err(report_error)
}

/// The report file's line of a report row.
fn report_entry(r: &ReportRecord) -> ReportEntry {
    ReportEntry {
        line: r.line,
        registration: r.registration.clone(),
        column: r.column.clone(),
        reason: r.reason.clone(),
        outcome: report::outcome_label(&r.outcome),
    }
}

/// Replace the raw values of the mapping's personal columns in `rows` (kept in `extra` under the personal
/// header by the reader when a key is set) by their pseudonyms (empty when the value is empty after
/// normalisation), and recompute each row's content hash over the pseudonymised row, so neither the value nor
/// a hash of it is stored. Without a key the reader did not read the columns and nothing changes.
pub fn pseudonymise_rows(rows: &mut [DeliveryRow], mapping: &Mapping) {
    rows.par_iter_mut()
        .for_each(|row| pseudonymise_row(row, mapping));
}

/// The personal columns a delivery read with `mapping` records with its incidents: each `[personal]` header
/// with its kind and the key's id; none without a key (then the columns were not read).
pub fn personal_columns(mapping: &Mapping) -> Vec<PersonalColumn> {
    let Some(key) = &mapping.pseudonym_key else {
        return Vec::new();
    };
    let key_id = key.key_id();
    mapping
        .personal_columns
        .iter()
        .map(|role| PersonalColumn {
            role: role.clone(),
            kind: mapping.personal_kind(role),
            key_id: key_id.clone(),
        })
        .collect()
}

/// [`pseudonymise_rows`] for one row.
fn pseudonymise_row(row: &mut DeliveryRow, mapping: &Mapping) {
    let Some(key) = &mapping.pseudonym_key else {
        return;
    };
    let mut changed = false;
    for column in &mapping.personal_columns {
        if let Some(value) = row.extra.get_mut(column) {
            *value = key.pseudonymise(value).unwrap_or_default();
            changed = true;
        }
    }
    if changed {
        row.content_hash = delivery::content_hash(row);
    }
}

#[cfg(test)]
mod locator_tests {
    use super::*;
    use crate::store::{AddressKind, AddressRecord, AreaRecord, SqliteStore};
    use geo_types::{polygon, MultiPolygon};

    fn buurt(code: &str, x0: f64) -> AreaRecord {
        AreaRecord {
            level: AreaLevel::Buurt,
            code: code.into(),
            name: code.into(),
            wijkcode: Some("WK199901".into()),
            gemeentecode: "GM1999".into(),
            gemeentenaam: None,
            water: None,
            inhabitants: None,
            stats: Default::default(),
            geometry: MultiPolygon(vec![polygon![
                (x: x0, y: 0.0), (x: x0 + 100.0, y: 0.0), (x: x0 + 100.0, y: 100.0), (x: x0, y: 100.0),
                (x: x0, y: 0.0)
            ]]),
        }
    }

    #[test]
    fn the_locator_of_a_store_has_its_buurten_and_addresses() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store
            .replace_boundary_set(
                2024,
                "b.gpkg",
                "c",
                &[buurt("BU19990101", 0.0), buurt("BU19990102", 100.0)],
            )
            .unwrap();
        let mut sink = store.address_sink(&[]).unwrap();
        sink.push(&AddressRecord {
            bag_id: "0001010000000001".into(),
            kind: AddressKind::Verblijfsobject,
            street: "Dijklaan".into(),
            street_short: None,
            huisnummer: 2,
            huisletter: None,
            toevoeging: None,
            postcode: Some("1999AA".into()),
            woonplaats: "Demostad".into(),
            bronhouder: None,
            status: None,
            gebruiksdoel: None,
            oppervlakte_m2: None,
            bouwjaar: None,
            pand_id: None,
            pand_status: None,
            x_m: 150.0,
            y_m: 50.0,
            buurtcode: None,
        })
        .unwrap();
        sink.finish().unwrap();

        let locator = Locator::from_store(&store).unwrap();
        assert_eq!(locator.geocoder.len(), 1);
        assert_eq!(locator.buurtcodes.len(), 2);
        assert!(locator.buurtcodes.contains("BU19990102"));
        assert_eq!(
            locator
                .areas
                .locate(150.0, 50.0)
                .map(|a| a.buurtcode.as_str()),
            Some("BU19990102")
        );
        let m = locator.geocoder.geocode(&AddressQuery {
            street: Some("Dijklaan"),
            huisnummer: Some("2"),
            woonplaats: Some("Demostad"),
            ..Default::default()
        });
        assert_eq!(m.kind, MatchKind::Exact, "{m:?}");
    }

    #[test]
    fn the_locator_of_an_empty_store_places_nothing() {
        let store = SqliteStore::open_in_memory().unwrap();
        let locator = Locator::from_store(&store).unwrap();
        assert!(locator.geocoder.is_empty());
        assert!(locator.areas.areas().is_empty());
        assert!(locator.buurtcodes.is_empty());
    }
}
