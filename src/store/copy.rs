//! `brandpunt store copy`: everything one store holds, copied into another, empty one (SQLite to PostgreSQL and
//! back, or between two of a kind), keeping every id, version, history record and the audit hash chain.
//!
//! Copied, in this order (references first): tenants, boundary sets and areas, BAG addresses and panden, tenant
//! gemeenten, deliveries (with their personal columns), incidents and their history, delivery reports, open
//! police data, indicators, address attributes (WOZ values and other imported numbers, every version), custom
//! areas, users, tokens and the audit log. Not copied: web sessions and failed
//! logins (everyone logs in again), and what the target keeps itself (the change records `tenant_change` and
//! `store_version`, kept by the target's triggers and writes).
//!
//! How ([`copy_store`]):
//! 1. The target must be empty: no rows in any copied table, the tenant list only the `default` tenant every
//!    new store has. Otherwise [`CopyError::TargetNotEmpty`] names the target and a table that has rows.
//! 2. The source is read table by table in one read snapshot (SQLite: one read transaction; PostgreSQL:
//!    repeatable read), streaming: at most [`BATCH_ROWS`] rows are held at a time, never a whole table.
//! 3. The target writes everything in ONE transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: one
//!    `COPY ... (FORMAT binary)` per table and 65,536 rows, fed as the source is read, with row-level security
//!    lifted for the owner inside the transaction and forced again before the commit, and each table's plain
//!    indexes built after its rows are in; the geometry tables by
//!    `INSERT ... SELECT FROM unnest(...)`; then the identity sequences moved past the copied ids), committed
//!    only after the last table. A copy that fails, is interrupted (Ctrl-C) or killed leaves the target as it
//!    was: the database rolls the transaction back.
//! 4. After the commit the target is verified: its row count of every table equals what was read, and its
//!    audit hash chain is intact (streamed, [`crate::audit::verify_from`]).
//!
//! The tables and columns are listed once (`TABLES`), with how each backend stores a column (PostgreSQL:
//! `jsonb`, PostGIS geometry, `boolean`, and `tenant_id` on report rows, personal columns and address attribute
//! values; SQLite: JSON text,
//! WKB blobs with their bounding box, 0/1 integers).

use super::{Backend, PostgresStore, SqliteStore, StoreError, StoreOpener};
use crate::audit::{self, AuditRecord};
use serde::Serialize;

/// A value as copied (SQLite's dynamic value type: integers, reals, text, blobs; booleans as 0/1).
pub type Value = rusqlite::types::Value;

/// Rows written to the target per batch (and the most held in memory at a time).
pub const BATCH_ROWS: usize = 2_000;

/// Errors of a copy. Messages are Dutch: the CLI shows them as they are.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("doel {target} is niet leeg: tabel {table} heeft {rows} rij(en); kopieer alleen naar een nieuwe, lege database")]
    TargetNotEmpty {
        target: String,
        table: String,
        rows: u64,
    },
    #[error("bron en doel zijn dezelfde database: {0}")]
    SameStore(String),
    #[error("tabel {table}, kolom {column}: onverwachte waarde ({found})")]
    Value {
        table: &'static str,
        column: &'static str,
        found: String,
    },
    #[error("controle na het kopiëren: tabel {table} heeft in het doel {in_target} rij(en), in de bron {in_source} rij(en)")]
    CountMismatch {
        table: &'static str,
        in_source: u64,
        in_target: u64,
    },
    #[error(
        "controle na het kopiëren: de hashketen van het auditlog in het doel is gebroken: {0}"
    )]
    AuditChain(String),
}

/// How a column is typed (the same meaning on every backend).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Int8,
    /// A 32-bit integer on PostgreSQL.
    Int4,
    Real,
    Text,
    /// 0/1 on SQLite, `boolean` on PostgreSQL.
    Bool,
    /// JSON text on SQLite, `jsonb` on PostgreSQL.
    Json,
    /// WKB on SQLite, PostGIS `geometry(MultiPolygon, 28992)` on PostgreSQL (read and written as WKB).
    Geometry,
}

/// How one backend holds a column.
#[derive(Clone, Copy, Debug)]
pub(super) enum Side {
    /// A stored column of this name.
    Stored(&'static str),
    /// Not stored by this backend: read as this SQL expression (of the column's copy type), never written.
    Derived(&'static str),
}

/// One column of a copied table.
#[derive(Clone, Copy, Debug)]
pub(super) struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub sqlite: Side,
    pub postgres: Side,
}

/// One copied table.
#[derive(Debug)]
pub(super) struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// The identity column whose sequence (PostgreSQL) must continue after the copied ids.
    pub identity: Option<&'static str>,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        sqlite: Side::Stored(name),
        postgres: Side::Stored(name),
    }
}

/// A column named `sqlite` on SQLite and `postgres` on PostgreSQL.
const fn renamed(sqlite: &'static str, postgres: &'static str, kind: Kind) -> Column {
    Column {
        name: postgres,
        kind,
        sqlite: Side::Stored(sqlite),
        postgres: Side::Stored(postgres),
    }
}

/// A column only PostgreSQL stores; SQLite derives it with `expr`.
const fn postgres_only(name: &'static str, kind: Kind, expr: &'static str) -> Column {
    Column {
        name,
        kind,
        sqlite: Side::Derived(expr),
        postgres: Side::Stored(name),
    }
}

/// A column only SQLite stores; PostgreSQL derives it with `expr`.
const fn sqlite_only(name: &'static str, kind: Kind, expr: &'static str) -> Column {
    Column {
        name,
        kind,
        sqlite: Side::Stored(name),
        postgres: Side::Derived(expr),
    }
}

use Kind::{Bool, Geometry, Int4, Int8, Json, Real, Text};

/// Every copied table, in copy order (a table only refers to tables before it).
pub(super) const TABLES: &[Table] = &[
    Table {
        name: "tenant",
        columns: &[
            col("id", Int8),
            col("code", Text),
            col("name", Text),
            col("created_at", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "boundary_set",
        columns: &[
            col("id", Int8),
            col("year", Int4),
            col("source_file", Text),
            col("checksum", Text),
            col("imported_at", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "area",
        columns: &[
            col("id", Int8),
            col("boundary_set_id", Int8),
            col("level", Text),
            col("code", Text),
            col("name", Text),
            col("wijkcode", Text),
            col("gemeentecode", Text),
            col("gemeentenaam", Text),
            col("water", Text),
            col("inhabitants", Int8),
            renamed("stats_json", "stats", Json),
            sqlite_only("minx", Real, "ST_XMin(geom)"),
            sqlite_only("miny", Real, "ST_YMin(geom)"),
            sqlite_only("maxx", Real, "ST_XMax(geom)"),
            sqlite_only("maxy", Real, "ST_YMax(geom)"),
            renamed("geom_wkb", "geom", Geometry),
        ],
        identity: Some("id"),
    },
    Table {
        name: "address",
        columns: &[
            col("bag_id", Text),
            col("kind", Text),
            col("street", Text),
            col("street_short", Text),
            col("huisnummer", Int8),
            col("huisletter", Text),
            col("toevoeging", Text),
            col("postcode", Text),
            col("woonplaats", Text),
            col("bronhouder", Text),
            col("status", Text),
            col("gebruiksdoel", Text),
            col("oppervlakte_m2", Int8),
            col("bouwjaar", Int4),
            col("pand_id", Text),
            col("pand_status", Text),
            col("x", Real),
            col("y", Real),
            col("buurtcode", Text),
        ],
        identity: None,
    },
    Table {
        name: "pand",
        columns: &[
            col("pand_id", Text),
            col("bouwjaar", Int4),
            col("status", Text),
            col("gebruiksdoel", Text),
            col("oppervlakte_min", Int8),
            col("oppervlakte_max", Int8),
            col("aantal_verblijfsobjecten", Int8),
        ],
        identity: None,
    },
    Table {
        name: "tenant_gemeente",
        columns: &[col("tenant_id", Int8), col("gemeentecode", Text)],
        identity: None,
    },
    Table {
        name: "delivery",
        columns: &[
            col("id", Int8),
            col("tenant_id", Int8),
            col("source", Text),
            col("kind", Text),
            col("file_name", Text),
            col("checksum", Text),
            col("imported_at", Text),
            col("total_rows", Int8),
            col("inserted", Int8),
            col("replaced", Int8),
            col("unchanged", Int8),
            col("reported", Int8),
        ],
        identity: Some("id"),
    },
    Table {
        name: "delivery_personal",
        columns: &[
            postgres_only(
                "tenant_id",
                Int8,
                "(SELECT d.tenant_id FROM delivery d WHERE d.id = delivery_personal.delivery_id)",
            ),
            col("delivery_id", Int8),
            col("role", Text),
            col("kind", Text),
            col("key_id", Text),
        ],
        identity: None,
    },
    Table {
        name: "incident",
        columns: &[
            col("id", Int8),
            col("tenant_id", Int8),
            col("source", Text),
            col("registration", Text),
            col("version", Int8),
            col("delivery_id", Int8),
            col("line", Int8),
            col("begin_min", Int8),
            col("end_min", Int8),
            col("time_known", Bool),
            col("category_code", Text),
            col("category_label", Text),
            col("street", Text),
            col("huisnummer", Text),
            col("huisletter", Text),
            col("toevoeging", Text),
            col("postcode", Text),
            col("plaats", Text),
            col("bag_id", Text),
            col("x", Real),
            col("y", Real),
            col("buurtcode", Text),
            col("located_by", Text),
            col("match_kind", Text),
            col("match_score", Real),
            renamed("extra_json", "extra", Json),
            col("content_hash", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "incident_history",
        columns: &[
            col("id", Int8),
            col("incident_id", Int8),
            col("tenant_id", Int8),
            col("source", Text),
            col("registration", Text),
            col("version", Int8),
            col("delivery_id", Int8),
            col("superseded_by", Int8),
            renamed("record_json", "record", Json),
        ],
        identity: Some("id"),
    },
    Table {
        name: "report_row",
        columns: &[
            col("id", Int8),
            postgres_only(
                "tenant_id",
                Int8,
                "(SELECT d.tenant_id FROM delivery d WHERE d.id = report_row.delivery_id)",
            ),
            col("delivery_id", Int8),
            col("line", Int8),
            col("registration", Text),
            col("column_name", Text),
            col("reason", Text),
            col("outcome", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "police_count",
        columns: &[
            col("table_id", Text),
            col("category", Text),
            col("region", Text),
            col("period", Text),
            col("value", Int8),
            col("delivery_id", Int8),
        ],
        identity: None,
    },
    Table {
        name: "indicator",
        columns: &[
            col("tenant_id", Int8),
            col("buurtcode", Text),
            col("name", Text),
            col("value", Real),
            col("delivery_id", Int8),
        ],
        identity: None,
    },
    Table {
        name: "address_attribute_set",
        columns: &[
            col("id", Int8),
            col("tenant_id", Int8),
            col("source", Text),
            col("version", Int8),
            col("file_name", Text),
            col("checksum", Text),
            col("imported_at", Text),
            col("total_rows", Int8),
            col("rejected", Int8),
            col("value_count", Int8),
        ],
        identity: Some("id"),
    },
    Table {
        name: "address_attribute",
        columns: &[
            postgres_only(
                "tenant_id",
                Int8,
                "(SELECT s.tenant_id FROM address_attribute_set s WHERE s.id = address_attribute.set_id)",
            ),
            col("set_id", Int8),
            col("name", Text),
            col("bag_id", Text),
            col("value", Real),
        ],
        identity: None,
    },
    Table {
        name: "custom_area",
        columns: &[
            col("id", Int8),
            col("tenant_id", Int8),
            col("name", Text),
            renamed("geom_wkb", "geom", Geometry),
            col("created_at", Text),
            col("updated_at", Text),
            col("created_by", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "app_user",
        columns: &[
            col("id", Int8),
            col("tenant_id", Int8),
            col("name", Text),
            col("role", Text),
            col("categories", Text),
            col("disabled", Bool),
            col("created_at", Text),
            col("password_hash", Text),
            col("relations", Bool),
        ],
        identity: Some("id"),
    },
    Table {
        name: "api_token",
        columns: &[
            col("id", Int8),
            col("prefix", Text),
            col("user_id", Int8),
            col("tenant_id", Int8),
            col("delivery_source", Text),
            col("hash", Text),
            col("created_at", Text),
            col("expires_at", Text),
            col("revoked_at", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "audit_log",
        columns: &[
            col("seq", Int8),
            col("at", Text),
            col("actor", Text),
            col("tenant", Text),
            col("action", Text),
            col("endpoint", Text),
            col("filter", Text),
            col("records", Int8),
            col("prev_hash", Text),
            col("hash", Text),
        ],
        identity: None,
    },
];

/// The name of the audit table (verified after the copy).
const AUDIT_TABLE: &str = "audit_log";

/// What a source tells the copy while it is read.
pub(super) trait RowVisitor {
    /// Table `table` (an index into [`TABLES`]) starts; it has `rows` rows in the snapshot.
    fn table(&mut self, table: usize, rows: u64) -> Result<(), CopyError>;
    /// One row of the current table, its values in [`Table::columns`] order.
    fn row(&mut self, values: Vec<Value>) -> Result<(), CopyError>;
}

/// A store the copy reads.
pub(super) trait CopySource {
    /// Visit `tables` ([`TABLES`] indices) in that order, all in one read snapshot, streaming.
    fn visit_tables(&self, tables: &[usize], visitor: &mut dyn RowVisitor)
        -> Result<(), CopyError>;
}

/// A store the copy writes.
pub(super) trait CopyTarget {
    /// The rows of `table` (the copy checks emptiness and verifies counts with it).
    fn count_rows(&self, table: &Table) -> Result<u64, CopyError>;
    /// Codes of the stored tenants, at most `limit`.
    fn tenant_codes(&self, limit: usize) -> Result<Vec<String>, CopyError>;
    /// Begin the one transaction of the copy and delete the target's own `default` tenant (the copy brings the
    /// source's).
    fn begin_copy(&mut self) -> Result<(), CopyError>;
    /// Write rows of `table` (values in [`Table::columns`] order; derived columns are not written).
    fn write_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), CopyError>;
    /// Finish the copied tables (identity sequences) and commit.
    fn commit_copy(&mut self) -> Result<(), CopyError>;
    /// Roll the transaction back (after a failure).
    fn rollback_copy(&mut self);
}

/// What was copied per table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableCopied {
    pub table: &'static str,
    /// Rows read from the source.
    pub source_rows: u64,
    /// Rows the target holds after the commit.
    pub target_rows: u64,
}

/// The outcome of a verified copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopySummary {
    pub from: String,
    pub to: String,
    pub tables: Vec<TableCopied>,
    /// Records of the target's audit log, its hash chain verified.
    pub audit_records: u64,
}

/// Progress of a copy, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyProgress {
    /// Table `table` starts with `rows` rows to copy.
    Table { table: &'static str, rows: u64 },
    /// `rows` rows of the current table were written so far.
    Rows { rows: u64 },
    /// Everything is written; committing and verifying.
    Verifying,
}

/// An opened store of either backend (PostgreSQL's boxed: it also carries the state of a copy it writes).
enum Opened {
    Sqlite(SqliteStore),
    Postgres(Box<PostgresStore>),
}

impl Opened {
    fn open(opener: &StoreOpener) -> Result<Opened, StoreError> {
        Ok(match &*opener.backend {
            Backend::Sqlite(path) => Opened::Sqlite(SqliteStore::open(path)?),
            Backend::Postgres(url) => Opened::Postgres(Box::new(PostgresStore::open(url)?)),
        })
    }

    fn source(&self) -> &dyn CopySource {
        match self {
            Opened::Sqlite(s) => s,
            Opened::Postgres(s) => s.as_ref(),
        }
    }

    fn target(&mut self) -> &mut dyn CopyTarget {
        match self {
            Opened::Sqlite(s) => s,
            Opened::Postgres(s) => s.as_mut(),
        }
    }
}

/// Copy everything `from` holds into the empty store `to` (created and migrated when needed) in one
/// transaction, then verify counts and the audit chain on `to`; see the module doc. `progress` is told what
/// happens.
pub fn copy_store(
    from: &StoreOpener,
    to: &StoreOpener,
    progress: &mut dyn FnMut(CopyProgress),
) -> Result<CopySummary, CopyError> {
    if from.backend == to.backend {
        return Err(CopyError::SameStore(to.describe()));
    }
    let source = Opened::open(from)?;
    let mut target = Opened::open(to)?;
    check_empty(target.target(), &to.describe())?;
    let all: Vec<usize> = (0..TABLES.len()).collect();
    let t = target.target();
    t.begin_copy()?;
    let mut writer = Writer {
        target: t,
        table: None,
        batch: Vec::with_capacity(BATCH_ROWS),
        read: vec![0; TABLES.len()],
        written: 0,
        progress,
    };
    let copied = source
        .source()
        .visit_tables(&all, &mut writer)
        .and_then(|()| writer.flush());
    let read = std::mem::take(&mut writer.read);
    let progress = writer.progress;
    if let Err(e) = copied {
        target.target().rollback_copy();
        return Err(e);
    }
    progress(CopyProgress::Verifying);
    target.target().commit_copy()?;
    drop(source);
    // Verify on the target as committed.
    let mut tables = Vec::with_capacity(TABLES.len());
    for (i, table) in TABLES.iter().enumerate() {
        let target_rows = target.target().count_rows(table)?;
        if target_rows != read[i] {
            return Err(CopyError::CountMismatch {
                table: table.name,
                in_source: read[i],
                in_target: target_rows,
            });
        }
        tables.push(TableCopied {
            table: table.name,
            source_rows: read[i],
            target_rows,
        });
    }
    let audit_records = verify_audit_chain(target.source())?;
    Ok(CopySummary {
        from: from.describe(),
        to: to.describe(),
        tables,
        audit_records,
    })
}

/// [`CopyError::TargetNotEmpty`] unless every copied table of `target` is empty but for its own `default`
/// tenant.
fn check_empty(target: &dyn CopyTarget, location: &str) -> Result<(), CopyError> {
    for table in TABLES {
        let rows = target.count_rows(table)?;
        let allowed = if table.name == "tenant" {
            u64::from(target.tenant_codes(2)? == ["default"])
        } else {
            0
        };
        if rows > allowed {
            return Err(CopyError::TargetNotEmpty {
                target: location.to_string(),
                table: table.name.to_string(),
                rows,
            });
        }
    }
    Ok(())
}

/// Streams the visited rows into the target in batches.
struct Writer<'t, 'p> {
    target: &'t mut dyn CopyTarget,
    table: Option<usize>,
    batch: Vec<Vec<Value>>,
    /// Rows read per table.
    read: Vec<u64>,
    /// Rows of the current table written.
    written: u64,
    progress: &'p mut dyn FnMut(CopyProgress),
}

impl Writer<'_, '_> {
    fn flush(&mut self) -> Result<(), CopyError> {
        if let Some(t) = self.table {
            if !self.batch.is_empty() {
                self.target.write_rows(&TABLES[t], &self.batch)?;
                self.written += self.batch.len() as u64;
                self.batch.clear();
                (self.progress)(CopyProgress::Rows { rows: self.written });
            }
        }
        Ok(())
    }
}

impl RowVisitor for Writer<'_, '_> {
    fn table(&mut self, table: usize, rows: u64) -> Result<(), CopyError> {
        self.flush()?;
        self.table = Some(table);
        self.written = 0;
        (self.progress)(CopyProgress::Table {
            table: TABLES[table].name,
            rows,
        });
        Ok(())
    }

    fn row(&mut self, values: Vec<Value>) -> Result<(), CopyError> {
        let Some(t) = self.table else {
            return Ok(());
        };
        self.read[t] += 1;
        self.batch.push(values);
        if self.batch.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }
}

/// Streams the audit log of a store through the hash-chain check.
struct ChainCheck {
    last: Option<AuditRecord>,
    records: u64,
    broken: Option<String>,
}

impl RowVisitor for ChainCheck {
    fn table(&mut self, _table: usize, _rows: u64) -> Result<(), CopyError> {
        Ok(())
    }

    fn row(&mut self, values: Vec<Value>) -> Result<(), CopyError> {
        if self.broken.is_some() {
            return Ok(());
        }
        let record = audit_record(values)?;
        if let Err(b) = audit::verify_from(self.last.as_ref(), std::slice::from_ref(&record)) {
            self.broken = Some(b.to_string());
        }
        self.records += 1;
        self.last = Some(record);
        Ok(())
    }
}

/// Verify the audit hash chain of `store`, streaming its records in `seq` order; returns how many there are.
fn verify_audit_chain(store: &dyn CopySource) -> Result<u64, CopyError> {
    let index = TABLES
        .iter()
        .position(|t| t.name == AUDIT_TABLE)
        .unwrap_or(TABLES.len() - 1);
    let mut check = ChainCheck {
        last: None,
        records: 0,
        broken: None,
    };
    store.visit_tables(&[index], &mut check)?;
    match check.broken {
        Some(b) => Err(CopyError::AuditChain(b)),
        None => Ok(check.records),
    }
}

/// An audit record from the values of an `audit_log` row (in [`TABLES`] column order).
fn audit_record(values: Vec<Value>) -> Result<AuditRecord, CopyError> {
    let wrong = |column: &'static str, found: &dyn std::fmt::Debug| CopyError::Value {
        table: AUDIT_TABLE,
        column,
        found: format!("{found:?}"),
    };
    let Ok::<[Value; 10], _>(
        [seq, at, actor, tenant, action, endpoint, filter, records, prev_hash, hash],
    ) = values.try_into()
    else {
        return Err(wrong("seq", &"geen 10 kolommen"));
    };
    let int = |v: Value, column: &'static str| match v {
        Value::Integer(i) => Ok(i),
        other => Err(wrong(column, &other)),
    };
    let text = |v: Value, column: &'static str| match v {
        Value::Text(s) => Ok(s),
        other => Err(wrong(column, &other)),
    };
    Ok(AuditRecord {
        seq: int(seq, "seq")?,
        at: text(at, "at")?,
        actor: text(actor, "actor")?,
        tenant: text(tenant, "tenant")?,
        action: text(action, "action")?,
        endpoint: text(endpoint, "endpoint")?,
        filter: text(filter, "filter")?,
        records: int(records, "records")?,
        prev_hash: text(prev_hash, "prev_hash")?,
        hash: text(hash, "hash")?,
    })
}

/// The SQL that reads `column` on a backend whose side is `side` (PostgreSQL: `postgres` true), as the copy
/// type of its kind (PostgreSQL: `int4` widened, `jsonb` as text, geometry as WKB).
pub(super) fn read_expr(column: &Column, postgres: bool) -> String {
    let side = if postgres {
        column.postgres
    } else {
        column.sqlite
    };
    match side {
        Side::Derived(expr) => expr.to_string(),
        Side::Stored(name) if !postgres => name.to_string(),
        Side::Stored(name) => match column.kind {
            Kind::Int4 => format!("{name}::int8"),
            Kind::Json => format!("{name}::text"),
            Kind::Geometry => format!("ST_AsBinary({name})"),
            _ => name.to_string(),
        },
    }
}

/// `SELECT <every column> FROM <table>` for a backend (ordered by the identity, or `seq` for the audit log, so
/// ids are written in the order they were given).
pub(super) fn select_sql(table: &Table, postgres: bool) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| read_expr(c, postgres))
        .collect();
    let order = match (table.identity, table.name) {
        (Some(id), _) => format!(" ORDER BY {id}"),
        (None, AUDIT_TABLE) => " ORDER BY seq".to_string(),
        _ => String::new(),
    };
    format!("SELECT {} FROM {}{order}", columns.join(", "), table.name)
}

/// A value of the wrong type for `column` of `table`.
pub(super) fn unexpected(table: &Table, column: &Column, found: &Value) -> CopyError {
    CopyError::Value {
        table: table.name,
        column: column.name,
        found: format!("{found:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_reads_its_columns_and_only_refers_to_tables_before_it() {
        let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        assert_eq!(names.first(), Some(&"tenant"));
        assert_eq!(names.last(), Some(&AUDIT_TABLE));
        let area = &TABLES[2];
        assert_eq!(
            select_sql(area, true),
            "SELECT id, boundary_set_id, level, code, name, wijkcode, gemeentecode, gemeentenaam, water, \
             inhabitants, stats::text, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom), \
             ST_AsBinary(geom) FROM area ORDER BY id"
        );
        assert!(select_sql(area, false).contains("stats_json, minx, miny, maxx, maxy, geom_wkb"));
        let report = TABLES.iter().find(|t| t.name == "report_row").unwrap();
        assert!(select_sql(report, false).contains("(SELECT d.tenant_id FROM delivery d"));
        // References point backwards: deliveries before incidents, users before tokens.
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(at("delivery") < at("incident") && at("incident") < at("incident_history"));
        assert!(at("app_user") < at("api_token") && at("boundary_set") < at("area"));
    }
}
