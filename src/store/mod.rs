//! Persistence behind a narrow interface.
//!
//! [`Store`] is the core data the importers, the CLI and the HTTP layer need from a database; [`PrivacyStore`]
//! holds users, tokens, the audit log, retention and backups; [`Changes`] lets a server notice what other
//! processes committed. The server holds all three as one [`ServerStore`] trait object opened through a
//! [`StoreOpener`] ([`open`]), so it names no backend. The embedded backend is [`SqliteStore`] (WAL, foreign keys,
//! versioned migrations); a PostgreSQL/PostGIS backend implements the same traits, passes the conformance suite
//! (`tests/common/store_conformance.rs`) and gets a location scheme in [`StoreOpener`], without touching the core
//! or the server. Each write method is one transaction: it either commits completely or leaves the store as it
//! was (a crash or `kill -9` included). Backend errors are mapped into the neutral [`StoreError`] and
//! [`PrivacyError`].
//!
//! Every tenant-owned row (incidents, deliveries, rejected rows, indicators) carries a tenant; shared reference data
//! (CBS boundaries, BAG addresses, the police open-data counts) do not. Coordinates are RD New metres.

pub mod copy;
mod incident_rule;
mod migrations;
mod postgres;
mod privacy;
mod sqlite;
mod sqlite_copy;
mod sqlite_privacy;
mod sqlite_session;
mod web_session;

pub use crate::relations::{LinkedIncident, StoredPseudonym};
use postgres::DutyLock as PostgresDutyLock;
pub use postgres::{redact_location, ChangeFeed, PostgresStore};
pub use privacy::{
    BackupOutcome, PrivacyError, PrivacyStore, RetentionOutcome, TokenInfo, TokenOwner, UserInfo,
    MIN_PASSWORD_CHARS,
};
pub use sqlite::{normalize_gemeentecode, SqliteStore};
pub use sqlite_privacy::{restore_sqlite, RestoreOutcome};
pub use web_session::{SessionStore, StoredSession};

use crate::area_level::AreaLevel;
use chrono::{NaiveDate, NaiveDateTime};
use geo_types::MultiPolygon;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors from a store backend. Backend-neutral: each backend maps its own errors into these variants (the
/// message keeps the backend's wording).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store at `path` cannot be opened.
    #[error("database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("cannot create the directory for database {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    /// The location names a kind of store this build cannot open.
    #[error(
        "database {location}: unsupported kind of store '{scheme}' (supported: a SQLite file path, sqlite://PATH, postgres://... or postgresql://...)"
    )]
    UnsupportedBackend { location: String, scheme: String },
    /// Another writer holds the store longer than the backend waits.
    #[error("database error: {message}")]
    Busy { message: String },
    /// A write broke a uniqueness, foreign-key or check constraint.
    #[error("database error: {message}")]
    Constraint { message: String },
    /// Any other failure of the backend.
    #[error("database error: {message}")]
    Backend { message: String },
    #[error("database schema version {found} is newer than this program supports ({supported}); upgrade brandpunt")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("unknown tenant '{0}' (create it with `brandpunt tenant add`)")]
    UnknownTenant(String),
    #[error("tenant '{0}' already exists")]
    TenantExists(String),
    #[error("'{0}' is not a CBS gemeente code (4 digits, optionally with GM prefix)")]
    GemeenteCode(String),
    #[error("stored geometry of {code} is unreadable: {reason}")]
    Geometry { code: String, reason: String },
    #[error("invalid stored value in {table}.{column}: {value}")]
    InvalidValue {
        table: &'static str,
        column: &'static str,
        value: String,
    },
}

/// One CBS area (gemeente, wijk or buurt) of a boundary set.
#[derive(Clone, Debug, PartialEq)]
pub struct AreaRecord {
    pub level: AreaLevel,
    /// `GM0363`, `WK0363AE`, `BU0363AE02`.
    pub code: String,
    pub name: String,
    /// Parent wijk (buurten only).
    pub wijkcode: Option<String>,
    /// Parent gemeente (wijken and buurten; the gemeente itself for a gemeente).
    pub gemeentecode: String,
    pub gemeentenaam: Option<String>,
    /// `JA`, `NEE` or `B` (Belgian enclave), as published.
    pub water: Option<String>,
    /// `aantal_inwoners`; `None` when missing or suppressed (sentinels <= -99990).
    pub inhabitants: Option<i64>,
    /// Every other numeric statistic that was present and not a sentinel.
    pub stats: BTreeMap<String, f64>,
    /// RD New metres.
    pub geometry: MultiPolygon<f64>,
}

impl AreaRecord {
    /// True for a buurt consisting of water (`water` = `JA`).
    pub fn is_water(&self) -> bool {
        self.water.as_deref() == Some("JA")
    }
}

/// Metadata of one imported boundary set (one CBS year).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoundarySet {
    pub year: i32,
    pub source_file: String,
    pub checksum: String,
    pub imported_at: String,
    pub areas: i64,
}

/// The kind of BAG object an address belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    Verblijfsobject,
    Ligplaats,
    Standplaats,
}

impl AddressKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressKind::Verblijfsobject => "verblijfsobject",
            AddressKind::Ligplaats => "ligplaats",
            AddressKind::Standplaats => "standplaats",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "verblijfsobject" => Some(AddressKind::Verblijfsobject),
            "ligplaats" => Some(AddressKind::Ligplaats),
            "standplaats" => Some(AddressKind::Standplaats),
            _ => None,
        }
    }
}

/// One BAG addressable object (hoofdadres) with the attributes kept for phenomenon profiles.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AddressRecord {
    /// 16-character identificatie with leading zeros.
    pub bag_id: String,
    pub kind: AddressKind,
    pub street: String,
    pub street_short: Option<String>,
    pub huisnummer: u32,
    pub huisletter: Option<String>,
    pub toevoeging: Option<String>,
    /// `1012JS`.
    pub postcode: Option<String>,
    pub woonplaats: String,
    /// 4-digit gemeente code without `GM` (BAG `bronhouder_identificatie`).
    pub bronhouder: Option<String>,
    pub status: Option<String>,
    /// Comma-separated, multi-valued (`winkelfunctie,woonfunctie`).
    pub gebruiksdoel: Option<String>,
    /// m2 (verblijfsobjecten only).
    pub oppervlakte_m2: Option<i64>,
    pub bouwjaar: Option<i32>,
    pub pand_id: Option<String>,
    pub pand_status: Option<String>,
    /// RD New metres (the point, or the polygon centroid for ligplaats/standplaats).
    pub x_m: f64,
    pub y_m: f64,
    /// Buurt the point lies in under the newest boundary set (filled by the store).
    pub buurtcode: Option<String>,
}

/// How an incident was placed on the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LocatedBy {
    /// Geocoded to a BAG address.
    Address,
    /// Coordinates given in the delivery (RD or WGS84).
    Coordinates,
    /// Only a buurtcode was given (no point).
    Buurt,
    /// Not located (address not found or ambiguous, nothing else given).
    None,
}

impl LocatedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LocatedBy::Address => "address",
            LocatedBy::Coordinates => "coordinates",
            LocatedBy::Buurt => "buurt",
            LocatedBy::None => "none",
        }
    }
}

/// One incident ready to be stored.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentRecord {
    /// Line in the delivery file it came from.
    pub line: u64,
    pub registration: String,
    pub begin: NaiveDateTime,
    pub end: NaiveDateTime,
    pub time_known: bool,
    pub category_code: Option<String>,
    pub category_label: Option<String>,
    pub street: Option<String>,
    pub huisnummer: Option<String>,
    pub huisletter: Option<String>,
    pub toevoeging: Option<String>,
    pub postcode: Option<String>,
    pub plaats: Option<String>,
    pub bag_id: Option<String>,
    pub x_m: Option<f64>,
    pub y_m: Option<f64>,
    pub buurtcode: Option<String>,
    pub located_by: LocatedBy,
    /// Geocoder match kind (`exact`, ..., `none`) when an address was looked up.
    pub match_kind: Option<String>,
    pub match_score: Option<f64>,
    pub extra: BTreeMap<String, String>,
    /// Hash of the delivered fields: equal hash = unchanged re-delivery.
    pub content_hash: String,
}

/// Metadata of one delivery (one imported file).
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryMeta {
    pub tenant: String,
    pub source: String,
    /// `incidents`, `counts`, `indicators`.
    pub kind: String,
    pub file_name: String,
    /// sha256 of the file bytes.
    pub checksum: String,
    pub total_rows: u64,
}

/// A row that was rejected, could not be located or was placed doubtfully, for the import report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportRecord {
    pub line: u64,
    pub registration: Option<String>,
    pub column: Option<String>,
    pub reason: String,
    /// One of `crate::import::report::OUTCOMES`: `rejected`, `not_located`, `ambiguous`, `op coördinaten`,
    /// `conflict`, `intersection`, `street`, `near`.
    pub outcome: String,
}

/// What storing a delivery did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DeliveryOutcome {
    pub delivery_id: Option<i64>,
    /// The same file (checksum) was imported before for this tenant and source: nothing changed.
    pub already_imported: bool,
    pub inserted: u64,
    pub replaced: u64,
    pub unchanged: u64,
    pub reported: u64,
}

/// One stored delivery.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryInfo {
    pub id: i64,
    pub tenant: String,
    pub source: String,
    pub kind: String,
    pub file_name: String,
    pub checksum: String,
    pub imported_at: String,
    pub total_rows: i64,
    pub inserted: i64,
    pub replaced: i64,
    pub unchanged: i64,
    pub reported: i64,
}

/// One row of the police open-data tables (47022NED / 47024NED).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoliceCount {
    /// `47022NED`.
    pub table: String,
    /// Trimmed category key (`1.1.1`).
    pub category: String,
    /// Trimmed region key (`BU03630000`, `GM0363`, `NL00`).
    pub region: String,
    /// `2024-09` for months, `2024` for years.
    pub period: String,
    /// `None` = withheld by the publisher (not zero).
    pub value: Option<i64>,
}

/// One municipal indicator value for a buurt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndicatorValue {
    pub buurtcode: String,
    pub name: String,
    pub value: Option<f64>,
}

/// One numeric attribute of a BAG address (tenant data: `import address-attributes`, e.g. `woz_waarde`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AddressAttributeValue {
    /// 16-digit BAG identificatie of the verblijfsobject (or ligplaats/standplaats).
    pub bag_id: String,
    /// Attribute name, lower case (`woz_waarde`, `peiljaar`, ...).
    pub name: String,
    pub value: f64,
}

/// Metadata of one address-attribute file: one version of the tenant's source.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeSetMeta {
    pub tenant: String,
    /// The source, e.g. `woz`.
    pub source: String,
    pub file_name: String,
    /// sha256 of the file bytes.
    pub checksum: String,
    /// Data rows in the file.
    pub total_rows: u64,
    /// Rows (or values) rejected while reading.
    pub rejected: u64,
}

/// One stored version of an address-attribute source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributeSetInfo {
    pub id: i64,
    pub source: String,
    /// 1 for the first file of the source, then 2, 3, ...
    pub version: i64,
    pub file_name: String,
    pub checksum: String,
    pub imported_at: String,
    pub total_rows: i64,
    pub rejected: i64,
    /// Values stored.
    pub values: i64,
    /// Whether this is the source's current (newest) version.
    pub current: bool,
}

/// What storing an address-attribute file did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AttributeSetOutcome {
    pub set_id: Option<i64>,
    /// The version the file became (the existing one when `already_imported`).
    pub version: i64,
    /// The same file (checksum) was imported before for this tenant and source: nothing changed.
    pub already_imported: bool,
    pub values: u64,
}

/// Filter for incident queries. Empty lists mean "all".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IncidentFilter {
    pub tenant: String,
    pub categories: Vec<String>,
    pub sources: Vec<String>,
    /// Incidents whose window begins on or after this day.
    pub from: Option<NaiveDate>,
    /// Incidents whose window begins on or before this day.
    pub to: Option<NaiveDate>,
}

/// Count of located incidents for one area and category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AreaCount {
    pub area_code: String,
    pub category: String,
    pub count: i64,
}

/// A stored incident as read back for analysis and export.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredIncident {
    pub id: i64,
    pub source: String,
    pub registration: String,
    pub version: i64,
    pub begin: NaiveDateTime,
    pub end: NaiveDateTime,
    pub category_code: Option<String>,
    pub x_m: Option<f64>,
    pub y_m: Option<f64>,
    pub buurtcode: Option<String>,
    pub bag_id: Option<String>,
    pub located_by: String,
}

/// A custom area drawn by an analyst (tenant data).
#[derive(Clone, Debug, PartialEq)]
pub struct CustomArea {
    pub id: i64,
    pub name: String,
    /// RD New metres.
    pub geometry: MultiPolygon<f64>,
    pub created_at: String,
    pub updated_at: String,
    /// User who drew it through the API (`None`: created otherwise, e.g. before ownership was recorded).
    pub created_by: Option<String>,
}

/// BAG pand (building) attributes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PandRecord {
    pub pand_id: String,
    pub bouwjaar: Option<i32>,
    pub status: Option<String>,
    pub gebruiksdoel: Option<String>,
    pub oppervlakte_min: Option<i64>,
    pub oppervlakte_max: Option<i64>,
    pub aantal_verblijfsobjecten: Option<i64>,
}

/// The stored details of one incident for an address-level listing: what the snapshot does not hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentDetail {
    pub id: i64,
    pub registration: String,
    pub source: String,
    pub category_code: Option<String>,
    pub located_by: String,
    /// The BAG address (incidents located by address only).
    pub street: Option<String>,
    pub huisnummer: Option<i64>,
    pub huisletter: Option<String>,
    pub toevoeging: Option<String>,
    pub postcode: Option<String>,
    pub buurtcode: Option<String>,
}

/// Where a tenant's data stood ([`Store::incident_mark`]): compared by value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentMark {
    /// The tenant's last delivery id (0 before any).
    pub delivery: i64,
    /// A backend's summary of what else a snapshot reads of the tenant (gemeenten, custom areas): it must change
    /// with every write of them (SQLite: a version bumped by triggers), however soon after the previous one.
    pub other: String,
}

/// What deliveries changed in a tenant's incidents since an [`IncidentMark`] ([`Store::incident_changes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentChanges {
    /// Where the data stand now (pass it to the next call).
    pub mark: IncidentMark,
    /// The written incidents and the superseded ids, for [`crate::dataset::Snapshot::apply`].
    pub delta: crate::dataset::IncidentDelta,
    /// Number of current incidents of the tenant now.
    pub current: u64,
}

/// One personal column of an incident delivery (mapping `[personal]`): the header its pseudonyms are kept under
/// in the incidents' `extra` (the role), what it identifies and the id of the key that made them
/// ([`crate::pseudonym::PseudonymKey::key_id`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonalColumn {
    pub role: String,
    pub kind: crate::pseudonym::IdentifierKind,
    pub key_id: String,
}

/// Streaming sink for a BAG import; `finish` commits everything at once.
pub trait AddressSink {
    fn push(&mut self, address: &AddressRecord) -> Result<(), StoreError>;
    /// Keep a pand's attributes when an address pushed earlier lies in it; returns whether it was kept.
    fn push_pand(&mut self, pand: &PandRecord) -> Result<bool, StoreError>;
    /// Commit: replaces the addresses of the imported gemeenten (or all addresses when unfiltered).
    fn finish(self: Box<Self>) -> Result<u64, StoreError>;
}

/// Streaming writer of one incident delivery, opened by [`Store::incident_sink`]: everything pushed is written
/// inside the delivery's one transaction, with the semantics of [`Store::store_incident_delivery`] (rows in
/// push order), and becomes visible at [`IncidentSink::finish`]. Dropping the sink unfinished rolls the
/// delivery back.
pub trait IncidentSink {
    /// Write one incident of the delivery.
    fn push(&mut self, incident: IncidentRecord) -> Result<(), StoreError>;
    /// Keep one report row (a rejected, not located or ambiguous row) with the delivery.
    fn push_report(&mut self, row: &ReportRecord) -> Result<(), StoreError>;
    /// Record the delivery's personal columns (role, kind, key id), replacing any recorded before in this
    /// delivery; the pseudonyms of its incidents are kept in `extra` under each role. A delivery without
    /// personal columns records none.
    fn personal_columns(&mut self, columns: &[PersonalColumn]) -> Result<(), StoreError>;
    /// Record the delivery's counts and commit; returns what was stored.
    fn finish(self: Box<Self>) -> Result<DeliveryOutcome, StoreError>;
}

/// The store interface used by importers, CLI and server.
pub trait Store {
    /// Version of the stored schema (the number of migrations applied).
    fn schema_version(&self) -> Result<i64, StoreError>;

    // Tenants.
    fn tenants(&self) -> Result<Vec<(String, String)>, StoreError>;
    fn add_tenant(&mut self, code: &str, name: &str) -> Result<(), StoreError>;
    /// Give tenant `code` the display name `name` (trimmed, not empty: else [`StoreError::InvalidValue`]);
    /// [`StoreError::UnknownTenant`] when there is no such tenant.
    fn rename_tenant(&mut self, code: &str, name: &str) -> Result<(), StoreError>;
    /// The CBS gemeenten a tenant covers (`GM0153`, sorted); empty = not restricted (all areas). A tenant's
    /// areas, tiles and statistics are scoped to these gemeenten.
    fn tenant_gemeenten(&self, tenant: &str) -> Result<Vec<String>, StoreError>;
    /// Replace the gemeenten a tenant covers (codes as `GM0153` or `0153`); an empty list lifts the restriction.
    fn set_tenant_gemeenten(
        &mut self,
        tenant: &str,
        gemeenten: &[String],
    ) -> Result<(), StoreError>;

    // CBS boundaries (shared reference data).
    /// Replace the boundary set of `year` with `areas` (one transaction); when this is the newest year, clear
    /// the buurtcodes of addresses and incidents with coordinates ([`Store::replace_boundary_set_with`] without
    /// an assignment).
    fn replace_boundary_set(
        &mut self,
        year: i32,
        source_file: &str,
        checksum: &str,
        areas: &[AreaRecord],
    ) -> Result<(), StoreError> {
        self.replace_boundary_set_with(year, source_file, checksum, areas, &|_, _| None)
    }
    /// Replace the boundary set of `year` with `areas` and, when it is the newest year, re-assign the
    /// buurtcodes of addresses and of incidents with coordinates using `assign` (RD metres -> buurtcode), all
    /// in one transaction.
    fn replace_boundary_set_with(
        &mut self,
        year: i32,
        source_file: &str,
        checksum: &str,
        areas: &[AreaRecord],
        assign: &dyn Fn(f64, f64) -> Option<String>,
    ) -> Result<(), StoreError>;
    fn boundary_sets(&self) -> Result<Vec<BoundarySet>, StoreError>;
    /// Areas of one level of a boundary set (`None` = the newest year).
    fn areas(&self, level: AreaLevel, year: Option<i32>) -> Result<Vec<AreaRecord>, StoreError>;

    // BAG addresses (shared reference data).
    /// Start a streaming BAG import. `gemeenten` (4-digit codes) limits what is replaced; empty = everything.
    fn address_sink<'a>(
        &'a mut self,
        gemeenten: &[String],
    ) -> Result<Box<dyn AddressSink + 'a>, StoreError>;
    /// Visit every address (streaming; bounded memory).
    fn for_each_address(
        &self,
        f: &mut dyn FnMut(&AddressRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    fn address_count(&self) -> Result<u64, StoreError>;

    // Deliveries (tenant data).
    fn find_delivery(
        &self,
        tenant: &str,
        source: &str,
        checksum: &str,
    ) -> Result<Option<DeliveryInfo>, StoreError>;
    /// Store a delivery, its incidents and its report rows in one transaction. Re-delivered registrations with
    /// the same content hash are unchanged; with a changed hash they become a new current version and the previous
    /// version moves to the history. A registration repeated within `incidents` is compared with its previous
    /// row. The same file (checksum) delivered again for the tenant and source changes nothing
    /// (`already_imported`). Written through [`Store::incident_sink`].
    fn store_incident_delivery(
        &mut self,
        meta: &DeliveryMeta,
        incidents: &[IncidentRecord],
        report: &[ReportRecord],
    ) -> Result<DeliveryOutcome, StoreError> {
        let Some(mut sink) = self.incident_sink(meta, incidents.len() as u64)? else {
            return Ok(DeliveryOutcome {
                already_imported: true,
                ..Default::default()
            });
        };
        for incident in incidents {
            sink.push(incident.clone())?;
        }
        for row in report {
            sink.push_report(row)?;
        }
        sink.finish()
    }
    /// Open the one transaction of a delivery and return its streaming writer, or `None` when the same file
    /// (checksum) was already imported for this tenant and source. `expected_rows` (the number of incidents that
    /// will be pushed) only tunes the write strategy. Nothing is visible to other readers before
    /// [`IncidentSink::finish`]; dropping the sink (for example on an error halfway) rolls the whole delivery
    /// back. The sink's memory does not grow with the delivery beyond a few bytes per registration.
    ///
    /// ```
    /// use brandpunt::store::{DeliveryMeta, IncidentFilter, SqliteStore, Store};
    /// let mut store = SqliteStore::open_in_memory()?;
    /// let meta = DeliveryMeta {
    ///     tenant: "default".into(),
    ///     source: "politie".into(),
    ///     kind: "incidents".into(),
    ///     file_name: "week.csv".into(),
    ///     checksum: "c0ffee".into(),
    ///     total_rows: 0,
    /// };
    /// let sink = store.incident_sink(&meta, 0)?.expect("a new delivery");
    /// let outcome = sink.finish()?;
    /// assert_eq!(outcome.inserted, 0);
    /// assert!(outcome.delivery_id.is_some());
    /// // The same file again is recognised by its checksum.
    /// assert!(store.incident_sink(&meta, 0)?.is_none());
    /// # Ok::<(), brandpunt::store::StoreError>(())
    /// ```
    fn incident_sink<'a>(
        &'a mut self,
        meta: &DeliveryMeta,
        expected_rows: u64,
    ) -> Result<Option<Box<dyn IncidentSink + 'a>>, StoreError>;
    fn deliveries(&self, tenant: &str) -> Result<Vec<DeliveryInfo>, StoreError>;
    fn report_rows(&self, delivery_id: i64) -> Result<Vec<ReportRecord>, StoreError>;
    /// Number of stored versions (current + history) of a registration.
    fn incident_versions(
        &self,
        tenant: &str,
        source: &str,
        registration: &str,
    ) -> Result<i64, StoreError>;

    // Police open data (shared) and municipal indicators (tenant).
    fn store_police_counts(
        &mut self,
        meta: &DeliveryMeta,
        rows: &[PoliceCount],
    ) -> Result<DeliveryOutcome, StoreError>;
    fn store_indicators(
        &mut self,
        meta: &DeliveryMeta,
        rows: &[IndicatorValue],
    ) -> Result<DeliveryOutcome, StoreError>;
    fn police_counts(&self, region_prefix: Option<&str>) -> Result<Vec<PoliceCount>, StoreError>;
    fn indicators(&self, tenant: &str) -> Result<Vec<IndicatorValue>, StoreError>;

    // Address attributes (tenant data).
    /// Store one address-attribute file as the next version of `meta.source` for `meta.tenant`, in one
    /// transaction; the same file (checksum) again changes nothing (`already_imported`, the version it became).
    /// Earlier versions stay (history); [`Store::address_attributes`] reads the newest of every source. Changes
    /// the tenant's fingerprint and its [`IncidentMark::other`], so a server rebuilds that tenant's snapshot.
    fn store_address_attributes(
        &mut self,
        meta: &AttributeSetMeta,
        values: &[AddressAttributeValue],
    ) -> Result<AttributeSetOutcome, StoreError>;
    /// Every stored version of `tenant`'s address-attribute sources, by source, newest version first.
    fn address_attribute_sets(&self, tenant: &str) -> Result<Vec<AttributeSetInfo>, StoreError>;
    /// The current values of attribute `name` of `tenant` (BAG id -> value): from the newest version of each
    /// source; when two sources give an address the attribute, the later imported one wins.
    fn address_attributes(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<HashMap<String, f64>, StoreError>;
    /// The names of the attributes in the current versions of `tenant`'s sources, sorted.
    fn address_attribute_names(&self, tenant: &str) -> Result<Vec<String>, StoreError>;

    // Queries.
    /// Counts of located incidents per area (at `level`, newest boundary set) and category code.
    fn count_by_area(
        &self,
        level: AreaLevel,
        filter: &IncidentFilter,
    ) -> Result<Vec<AreaCount>, StoreError>;
    /// Current incidents matching the filter (all, located or not).
    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<StoredIncident>, StoreError>;
    /// Visit the current incidents matching the filter with the pseudonyms of the personal columns their
    /// delivery recorded ([`IncidentSink::personal_columns`]), ordered by begin, then id; streaming (bounded
    /// memory). An incident whose delivery recorded none is visited with no pseudonyms.
    fn for_each_linked_incident(
        &self,
        filter: &IncidentFilter,
        f: &mut dyn FnMut(LinkedIncident) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// The details of the current incidents of `tenant` with these ids (ids of other tenants, or no longer
    /// current, are left out), in no particular order. Any number of ids.
    fn incident_details(
        &self,
        tenant: &str,
        ids: &[i64],
    ) -> Result<Vec<IncidentDetail>, StoreError>;

    /// Where `tenant`'s data stand now, for a later [`Store::incident_changes`]: the last delivery and a summary
    /// of everything else a snapshot reads of the tenant (its gemeenten and custom areas). Read it before the data
    /// a snapshot is built from, so a delivery committed in between is seen again, never missed.
    fn incident_mark(&self, tenant: &str) -> Result<IncidentMark, StoreError>;
    /// What deliveries changed in `tenant`'s current incidents since `since` (an [`Store::incident_mark`]), read
    /// consistently at one moment: the current incidents the later deliveries wrote (new registrations and new
    /// versions, sorted like a snapshot: by begin, then id), the ids of the versions they superseded, the new
    /// mark and the number of current incidents. `None` when something other than incidents changed since
    /// (gemeenten, custom areas): then only a full [`Store::tenant_data`] tells. Incidents removed otherwise
    /// (retention) are not listed: the caller notices them by [`IncidentChanges::current`], which every write of
    /// incident rows keeps exact in its own transaction (never counted here). Costs the changed rows, not the
    /// tenant's incidents.
    ///
    /// Delivery ids grow in commit order (a backend with ids that do not must keep its own commit sequence).
    ///
    /// ```
    /// use brandpunt::store::{DeliveryMeta, SqliteStore, Store};
    /// let mut store = SqliteStore::open_in_memory()?;
    /// let before = store.incident_mark("default")?;
    /// let meta = DeliveryMeta {
    ///     tenant: "default".into(),
    ///     source: "politie".into(),
    ///     kind: "incidents".into(),
    ///     file_name: "leeg.csv".into(),
    ///     checksum: "c0ffee".into(),
    ///     total_rows: 0,
    /// };
    /// store.store_incident_delivery(&meta, &[], &[])?;
    /// let changes = store.incident_changes("default", &before)?.expect("only a delivery");
    /// assert!(changes.delta.written.is_empty() && changes.delta.superseded.is_empty());
    /// assert_ne!(changes.mark, before);
    /// assert_eq!(changes.current, 0);
    /// # Ok::<(), brandpunt::store::StoreError>(())
    /// ```
    fn incident_changes(
        &self,
        tenant: &str,
        since: &IncidentMark,
    ) -> Result<Option<IncidentChanges>, StoreError>;

    // Custom areas (tenant data).
    fn custom_areas(&self, tenant: &str) -> Result<Vec<CustomArea>, StoreError>;
    /// Everything a [`crate::dataset::Snapshot`] shows of `tenant`: the CBS areas of its gemeenten (all areas
    /// when it has none configured), its custom areas (`custom:ID`) and its current incidents.
    ///
    /// ```
    /// use brandpunt::area_level::AreaLevel;
    /// use brandpunt::dataset::Snapshot;
    /// use brandpunt::store::{SqliteStore, Store};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut store = SqliteStore::open(&dir.path().join("brandpunt.db")).unwrap();
    /// let square: geo_types::MultiPolygon<f64> =
    ///     geo_types::Rect::new((155_000.0, 463_000.0), (155_100.0, 463_100.0)).to_polygon().into();
    /// let id = store.insert_custom_area("default", "Plein", &square).unwrap();
    /// let data = store.tenant_data("default").unwrap();
    /// assert_eq!(data.areas[0].code, format!("custom:{id}"));
    /// let s = Snapshot::build(1, data).unwrap();
    /// assert_eq!(s.level_areas(AreaLevel::Custom).len(), 1);
    /// ```
    fn tenant_data(&self, tenant: &str) -> Result<crate::dataset::TenantData, StoreError> {
        use crate::dataset::{IncidentRecord, TenantData};
        let (name, areas) = self.tenant_areas(tenant)?;
        let incidents = self
            .incidents(&IncidentFilter {
                tenant: tenant.to_string(),
                ..Default::default()
            })?
            .into_iter()
            .map(|i| IncidentRecord {
                id: i.id,
                source: i.source,
                begin: i.begin,
                end: i.end,
                category_code: i.category_code,
                x_m: i.x_m,
                y_m: i.y_m,
                buurtcode: i.buurtcode,
            })
            .collect();
        Ok(TenantData {
            code: tenant.to_string(),
            name,
            areas,
            incidents,
        })
    }
    /// The name of `tenant` and the areas a snapshot shows of it ([`Store::tenant_data`]'s `name` and `areas`).
    fn tenant_areas(
        &self,
        tenant: &str,
    ) -> Result<(String, Vec<crate::dataset::TenantArea>), StoreError> {
        use crate::dataset::TenantArea;
        let name = self
            .tenants()?
            .into_iter()
            .find(|(c, _)| c == tenant)
            .map(|(_, n)| n)
            .ok_or_else(|| StoreError::UnknownTenant(tenant.to_string()))?;
        // Shared reference data (CBS areas) are scoped to the tenant's gemeenten; none configured = all.
        let gemeenten = self.tenant_gemeenten(tenant)?;
        let mut areas = Vec::new();
        for level in [AreaLevel::Gemeente, AreaLevel::Wijk, AreaLevel::Buurt] {
            for a in self.areas(level, None)? {
                if !gemeenten.is_empty() && !gemeenten.contains(&a.gemeentecode) {
                    continue;
                }
                let gemeentecode = Some(a.gemeentecode.clone()).filter(|g| !g.is_empty());
                areas.push(TenantArea {
                    level,
                    code: a.code,
                    name: a.name,
                    wijkcode: a.wijkcode,
                    gemeentecode,
                    inhabitants: a.inhabitants,
                    stats: a.stats,
                    geometry_rd: a.geometry,
                });
            }
        }
        for c in self.custom_areas(tenant)? {
            areas.push(TenantArea::new(
                AreaLevel::Custom,
                &format!("custom:{}", c.id),
                &c.name,
                c.geometry,
            ));
        }
        Ok((name, areas))
    }
    /// [`Store::tenant_data`] with the incidents in compact form, in any order: what
    /// [`crate::dataset::Snapshot::build_table`] takes. A backend reads it without a per-incident allocation
    /// and without sorting (the SQLite store scans the incident table in storage order when the tenant holds a
    /// large part of it).
    ///
    /// ```
    /// use brandpunt::store::{SqliteStore, Store};
    ///
    /// let store = SqliteStore::open_in_memory().unwrap();
    /// let table = store.tenant_table("default").unwrap();
    /// assert_eq!((table.code.as_str(), table.incidents.len()), ("default", 0));
    /// assert!(store.tenant_table("nope").is_err());
    /// ```
    fn tenant_table(&self, tenant: &str) -> Result<crate::dataset::TenantTable, StoreError> {
        Ok(self.tenant_data(tenant)?.into())
    }
    /// [`Store::tenant_table`] of every tenant, in [`Store::tenants`] order (a backend may read the incidents of
    /// all tenants in one pass).
    fn tenant_tables(&self) -> Result<Vec<crate::dataset::TenantTable>, StoreError> {
        self.tenants()?
            .into_iter()
            .map(|(code, _)| self.tenant_table(&code))
            .collect()
    }
    /// Store a new custom area without an owner (one transaction); returns its id.
    fn insert_custom_area(
        &mut self,
        tenant: &str,
        name: &str,
        geometry: &MultiPolygon<f64>,
    ) -> Result<i64, StoreError> {
        self.insert_custom_area_by(tenant, name, geometry, None)
    }
    /// Store a new custom area drawn by `created_by` (one transaction); returns its id.
    fn insert_custom_area_by(
        &mut self,
        tenant: &str,
        name: &str,
        geometry: &MultiPolygon<f64>,
        created_by: Option<&str>,
    ) -> Result<i64, StoreError>;
    /// Who drew custom area `id` of `tenant`: `None` when it does not exist (for that tenant), `Some(None)`
    /// when it has no recorded owner.
    fn custom_area_owner(
        &self,
        tenant: &str,
        id: i64,
    ) -> Result<Option<Option<String>>, StoreError>;
    /// Rename/redraw a custom area of `tenant`; `false` when it does not exist (for that tenant).
    fn update_custom_area(
        &mut self,
        tenant: &str,
        id: i64,
        name: &str,
        geometry: &MultiPolygon<f64>,
    ) -> Result<bool, StoreError>;
    /// Delete a custom area of `tenant`; `false` when it does not exist (for that tenant).
    fn delete_custom_area(&mut self, tenant: &str, id: i64) -> Result<bool, StoreError>;
}

/// Noticing what other handles (another process, another connection) committed to the store.
pub trait Changes {
    /// A token that is different between two calls on this handle when another handle committed anything in
    /// between (the audit log included); cheap enough to poll every second.
    fn change_token(&self) -> Result<i64, StoreError>;
    /// A cheap summary of everything a snapshot, a session or a token check reads (tenants and their gemeenten,
    /// boundaries, addresses, incidents, deliveries, custom areas, users, tokens) but not the audit log, in parts
    /// ([`DataFingerprint`]): equal parts mean nothing the server shows of that part changed.
    ///
    /// Contract for every backend: the server polls this every second, so its cost must not grow with the number
    /// of incidents. A backend keeps, per tenant, a change record (a version and the exact number of current
    /// incidents) updated in the same transaction as every write of that tenant's incident rows: a delivery (new
    /// registrations, new versions), retention deletes, buurtcode re-assignment, and any write path added later
    /// (the SQLite store does this with triggers on the incident table). Every such write changes the writing
    /// tenant's entry in [`DataFingerprint::tenants`] and no other tenant's entry; the store conformance suite
    /// checks this for every write path.
    fn data_fingerprint(&self) -> Result<DataFingerprint, StoreError>;
    /// The part of [`Changes::data_fingerprint`] that is `tenant`'s own (its entry in
    /// [`DataFingerprint::tenants`]), read from that tenant's rows only, at a cost that does not grow with its
    /// incidents (see [`Changes::data_fingerprint`]); `None` when there is no such tenant.
    fn tenant_fingerprint(&self, tenant: &str) -> Result<Option<String>, StoreError>;
}

/// What a [`ChangeFeed`] announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeEvent {
    /// Commits of other handles: the tenants whose own data they changed, and whether they changed anything
    /// else the server reads (shared reference data, the tenant list, users, tokens).
    Changed {
        tenants: BTreeSet<String>,
        all: bool,
    },
    /// Nothing was announced in the time given.
    Quiet,
    /// The feed's connection ended: commits from now until a new feed listens are not announced.
    Lost,
}

/// A task of `brandpunt serve` that one process at a time performs on a store shared by several replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Duty {
    /// The daily retention run.
    Retention,
    /// Importing the deliveries dropped in the inbox folder.
    Inbox,
}

impl Duty {
    /// The name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Duty::Retention => "retention",
            Duty::Inbox => "inbox",
        }
    }

    /// The PostgreSQL advisory lock key of the duty (distinct from the store's other lock keys).
    fn lock_key(self) -> i64 {
        match self {
            Duty::Retention => 0x6272_616e_6470_0101,
            Duty::Inbox => 0x6272_616e_6470_0102,
        }
    }
}

/// The right to perform a [`Duty`] ([`StoreOpener::try_duty`]): on PostgreSQL a session advisory lock on a
/// connection of its own, released when this is dropped or the connection ends; on SQLite (one serving
/// process per database file) always granted.
pub struct DutyLock {
    postgres: Option<PostgresDutyLock>,
}

impl DutyLock {
    /// Whether the duty is still this process's: false once the lock's connection ended (another replica may
    /// hold it by now; drop this and try again).
    pub fn held(&self) -> bool {
        self.postgres.as_ref().is_none_or(|l| l.held())
    }
}

/// What the server shows, summarised in parts so that a change can be traced to what it touches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataFingerprint {
    /// What every tenant's snapshot reads: the tenant list (codes and names), the boundary sets, the addresses.
    pub shared: String,
    /// Per tenant code: what only that tenant's snapshot reads (its gemeenten, incidents, deliveries, custom
    /// areas).
    pub tenants: BTreeMap<String, String>,
    /// Users and API tokens: what sessions and token checks read, and no snapshot.
    pub access: String,
}

/// Which snapshots a change between two [`DataFingerprint`]s touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataChange {
    /// Nothing a snapshot reads.
    None,
    /// Only these tenants' own data (sorted codes).
    Tenants(Vec<String>),
    /// Something every tenant reads, or the tenant list itself.
    All,
}

impl DataFingerprint {
    /// The snapshots that differ between `before` and `self`.
    ///
    /// ```
    /// use brandpunt::store::{DataChange, DataFingerprint};
    ///
    /// let before = DataFingerprint {
    ///     shared: "s1".into(),
    ///     tenants: [("almere".to_string(), "a1".to_string()), ("enschede".into(), "e1".into())].into(),
    ///     access: "u1".into(),
    /// };
    /// let mut after = before.clone();
    /// after.tenants.insert("enschede".into(), "e2".into());
    /// after.access = "u2".into();
    /// assert_eq!(after.data_change(&before), DataChange::Tenants(vec!["enschede".into()]));
    /// assert!(after.access_changed(&before));
    /// after.shared = "s2".into();
    /// assert_eq!(after.data_change(&before), DataChange::All);
    /// ```
    pub fn data_change(&self, before: &DataFingerprint) -> DataChange {
        if self.shared != before.shared || !self.tenants.keys().eq(before.tenants.keys()) {
            return DataChange::All;
        }
        let changed: Vec<String> = self
            .tenants
            .iter()
            .filter(|(code, print)| before.tenants.get(*code) != Some(*print))
            .map(|(code, _)| code.clone())
            .collect();
        if changed.is_empty() {
            DataChange::None
        } else {
            DataChange::Tenants(changed)
        }
    }

    /// Whether users or API tokens changed between `before` and `self`.
    pub fn access_changed(&self, before: &DataFingerprint) -> bool {
        self.access != before.access
    }
}

/// Everything the HTTP server needs from a store: the core [`Store`], [`PrivacyStore`] (users, tokens, audit,
/// retention), [`SessionStore`] (web sessions, failed logins) and [`Changes`]. Implemented for every type that implements those; the server holds it as
/// `Box<dyn ServerStore>` from [`open`].
pub trait ServerStore: Store + PrivacyStore + SessionStore + Changes + Send {
    /// This store as a [`Store`] trait object.
    fn as_store(&self) -> &dyn Store;
    /// This store as a mutable [`Store`] trait object.
    fn as_store_mut(&mut self) -> &mut dyn Store;
}

impl<T: Store + PrivacyStore + SessionStore + Changes + Send> ServerStore for T {
    fn as_store(&self) -> &dyn Store {
        self
    }
    fn as_store_mut(&mut self) -> &mut dyn Store {
        self
    }
}

/// The backend a store location names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Backend {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database: the URL as given.
    Postgres(String),
}

/// Opens handles onto one store, each call a new, independent handle (connection). The server opens its request
/// store, its change watcher and its credential workers through one opener, so which backend serves them is
/// decided here alone.
///
/// A location is a SQLite database file path, optionally written as `sqlite://PATH`, or a PostgreSQL URL
/// (`postgres://user:pass@host:port/db` or `postgresql://...`: [`PostgresStore`]). Other `SCHEME://` locations
/// are refused with [`StoreError::UnsupportedBackend`]; a URL is never taken for a file path.
///
/// ```
/// use brandpunt::store::{Store, StoreOpener};
/// let dir = tempfile::tempdir()?;
/// let opener = StoreOpener::new(&dir.path().join("brandpunt.db"))?;
/// let mut first = opener.open()?;
/// first.add_tenant("enschede", "Gemeente Enschede")?;
/// let second = opener.open()?;
/// assert!(second.tenants()?.iter().any(|(code, _)| code == "enschede"));
/// assert!(StoreOpener::new(std::path::Path::new("mysql://db.example/brandpunt")).is_err());
/// // A PostgreSQL URL is recognised (nothing is opened until `open`).
/// assert!(StoreOpener::new(std::path::Path::new("postgres://db.example/brandpunt")).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct StoreOpener {
    backend: Arc<Backend>,
}

impl StoreOpener {
    /// An opener for the store at `location` (checked for its kind only; nothing is opened yet).
    pub fn new(location: &Path) -> Result<StoreOpener, StoreError> {
        let text = location.to_string_lossy();
        let backend = match text.split_once("://") {
            Some(("sqlite", path)) => Backend::Sqlite(PathBuf::from(path)),
            Some(("postgres" | "postgresql", _)) => Backend::Postgres(text.to_string()),
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
            {
                return Err(StoreError::UnsupportedBackend {
                    location: text.to_string(),
                    scheme: scheme.to_string(),
                })
            }
            _ => Backend::Sqlite(location.to_path_buf()),
        };
        Ok(StoreOpener {
            backend: Arc::new(backend),
        })
    }

    /// Open a new handle (creating the store and bringing its schema up to date when needed).
    pub fn open(&self) -> Result<Box<dyn ServerStore>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(path) => Ok(Box::new(SqliteStore::open(path)?)),
            Backend::Postgres(url) => Ok(Box::new(PostgresStore::open(url)?)),
        }
    }

    /// A feed of the commits of other handles as they happen, for a backend that announces them (PostgreSQL:
    /// `LISTEN`/`NOTIFY`); `None` for SQLite, whose changes are noticed by polling [`Changes`].
    pub fn listen(&self) -> Result<Option<ChangeFeed>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(url) => Ok(Some(ChangeFeed::open(url)?)),
        }
    }

    /// Take `duty` for this process when no other process holds it (`None` then: try again later). SQLite
    /// grants it always (one serving process per file); PostgreSQL takes a session advisory lock on a new
    /// connection, so of several replicas exactly one holds each duty, and another takes it over when the
    /// holder's connection ends.
    ///
    /// ```
    /// use brandpunt::store::{Duty, StoreOpener};
    /// let dir = tempfile::tempdir()?;
    /// let opener = StoreOpener::new(&dir.path().join("brandpunt.db"))?;
    /// let lock = opener.try_duty(Duty::Retention)?.expect("SQLite always grants a duty");
    /// assert!(lock.held());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_duty(&self, duty: Duty) -> Result<Option<DutyLock>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(_) => Ok(Some(DutyLock { postgres: None })),
            Backend::Postgres(url) => Ok(PostgresDutyLock::try_take(url, duty.lock_key())?
                .map(|l| DutyLock { postgres: Some(l) })),
        }
    }

    /// The SQLite database file this opener opens; `None` for another backend.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &*self.backend {
            Backend::Sqlite(path) => Some(path),
            Backend::Postgres(_) => None,
        }
    }

    /// The location for messages: the path, or the URL with its password redacted.
    pub fn describe(&self) -> String {
        match &*self.backend {
            Backend::Sqlite(path) => path.display().to_string(),
            Backend::Postgres(url) => redact_location(url),
        }
    }
}

/// Open the store at `location` (see [`StoreOpener`] for the locations understood).
///
/// ```
/// use brandpunt::store::{open, Store};
/// let dir = tempfile::tempdir()?;
/// let store = open(&dir.path().join("brandpunt.db"))?;
/// assert!(store.schema_version()? > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open(location: &Path) -> Result<Box<dyn ServerStore>, StoreError> {
    StoreOpener::new(location)?.open()
}

#[cfg(test)]
mod opener_tests {
    use super::*;

    #[test]
    fn paths_and_sqlite_urls_open_sqlite_and_other_schemes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/b.db");
        let plain = StoreOpener::new(&path).unwrap();
        assert_eq!(*plain.backend, Backend::Sqlite(path.clone()));
        plain
            .open()
            .unwrap()
            .add_tenant("hengelo", "Hengelo")
            .unwrap();
        let url = PathBuf::from(format!("sqlite://{}", path.display()));
        let by_url = StoreOpener::new(&url).unwrap();
        assert_eq!(*by_url.backend, Backend::Sqlite(path.clone()));
        assert!(by_url
            .open()
            .unwrap()
            .tenants()
            .unwrap()
            .iter()
            .any(|(code, _)| code == "hengelo"));
        // Not a scheme: a (Windows) path with a drive letter or odd characters stays a file path.
        for p in [r"C:\data\b.db", "data/b:c.db", "./x ://y.db"] {
            assert_eq!(
                *StoreOpener::new(Path::new(p)).unwrap().backend,
                Backend::Sqlite(PathBuf::from(p))
            );
        }
        let err = StoreOpener::new(Path::new("mysql://db.example/brandpunt")).unwrap_err();
        assert!(
            matches!(err, StoreError::UnsupportedBackend { ref scheme, .. } if scheme == "mysql"),
            "{err}"
        );
        assert!(err.to_string().contains("mysql://db.example/brandpunt"));
        for url in [
            "postgres://app:geheim@db.example:5432/brandpunt",
            "postgresql://db.example/brandpunt?sslmode=require",
        ] {
            let opener = StoreOpener::new(Path::new(url)).unwrap();
            assert_eq!(*opener.backend, Backend::Postgres(url.to_string()));
            assert!(!opener.describe().contains("geheim"));
        }
    }

    #[test]
    fn an_unopenable_location_is_an_open_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the database file should be.
        let err = open(dir.path()).err().expect("a directory is no database");
        assert!(
            matches!(err, StoreError::Open { .. } | StoreError::Backend { .. }),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("database "), "{err}");
    }
}
