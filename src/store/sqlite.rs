//! The embedded SQLite backend of [`Store`](super::Store).

use super::incident_rule::{Decision, FxMap, IncidentRule, RegistrationLookup, Stored};
use super::migrations::MIGRATIONS;
use super::*;
use chrono::NaiveTime;
use gdal::vector::{Geometry, ToGdal};
use geo::BoundingRect;
use rusqlite::{
    params, Connection, OptionalExtension, Statement, Transaction, TransactionBehavior,
};
use std::path::Path;

/// SQLite store: WAL journal, foreign keys on, schema migrated on open.
pub struct SqliteStore {
    conn: Connection,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let message = e.to_string();
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy { message }
            }
            Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Constraint { message },
            _ => StoreError::Backend { message },
        }
    }
}

pub(super) fn now_utc() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn geometry_to_wkb(
    code: &str,
    geometry: &MultiPolygon<f64>,
) -> Result<Vec<u8>, StoreError> {
    let g = geometry.to_gdal().map_err(|e| StoreError::Geometry {
        code: code.to_string(),
        reason: e.to_string(),
    })?;
    g.wkb().map_err(|e| StoreError::Geometry {
        code: code.to_string(),
        reason: e.to_string(),
    })
}

pub(super) fn geometry_from_wkb(code: &str, wkb: &[u8]) -> Result<MultiPolygon<f64>, StoreError> {
    let err = |reason: String| StoreError::Geometry {
        code: code.to_string(),
        reason,
    };
    let g = Geometry::from_wkb(wkb).map_err(|e| err(e.to_string()))?;
    match g.to_geo().map_err(|e| err(e.to_string()))? {
        geo_types::Geometry::MultiPolygon(mp) => Ok(mp),
        geo_types::Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        other => Err(err(format!("expected a (multi)polygon, found {other:?}"))),
    }
}

/// Minutes since 1970-01-01T00:00 of a naive (local) timestamp, as stored in `incident.begin_min`/`end_min`;
/// seconds are dropped (rounded down).
pub(super) fn to_minutes(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp().div_euclid(60)
}

/// The naive (local) timestamp of a stored minute count (inverse of [`to_minutes`]).
pub(super) fn from_minutes(minutes: i64) -> Result<NaiveDateTime, StoreError> {
    minutes
        .checked_mul(60)
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.naive_utc())
        .ok_or_else(|| StoreError::InvalidValue {
            table: "incident",
            column: "begin_min/end_min",
            value: minutes.to_string(),
        })
}

/// Add the rows of a `SELECT tenant_id, id, source, begin_min, end_min, category_code, x, y, buurtcode` to the
/// table of their tenant in `tables` (rows of other tenants are skipped); text is read in place (interned, not
/// allocated per row).
fn read_incident_rows(
    mut rows: rusqlite::Rows<'_>,
    tables: &mut HashMap<i64, crate::dataset::IncidentTable>,
) -> Result<(), StoreError> {
    fn text<'r>(
        r: &'r rusqlite::Row<'_>,
        k: usize,
        column: &'static str,
    ) -> Result<Option<&'r str>, StoreError> {
        match r.get_ref(k)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            v => v.as_str().map(Some).map_err(|e| StoreError::InvalidValue {
                table: "incident",
                column,
                value: e.to_string(),
            }),
        }
    }
    while let Some(r) = rows.next()? {
        let tenant_id: i64 = r.get(0)?;
        let Some(table) = tables.get_mut(&tenant_id) else {
            continue;
        };
        let id: i64 = r.get(1)?;
        let source = text(r, 2, "source")?.unwrap_or_default();
        let (x, y): (Option<f64>, Option<f64>) = (r.get(6)?, r.get(7)?);
        let point = x.zip(y);
        table
            .push(
                id,
                source,
                r.get(3)?,
                r.get(4)?,
                text(r, 5, "category_code")?,
                point,
                text(r, 8, "buurtcode")?,
            )
            .map_err(|e| match e {
                crate::dataset::IncidentTableError::Moment { minutes, .. } => {
                    StoreError::InvalidValue {
                        table: "incident",
                        column: "begin_min/end_min",
                        value: minutes.to_string(),
                    }
                }
            })?;
    }
    Ok(())
}

/// Rows per half from which [`SqliteStore::scan_incidents`] reads the second half on a second connection.
const PARALLEL_SCAN_ROWS: i64 = 200_000;

impl SqliteStore {
    /// Add the incidents of `tenant` (all tenants: `None`) to the tables of their tenants in `tables`, scanning
    /// the incident table in storage (rowid) order. A store in a file with many rows reads the upper half of the
    /// rowids on a second connection in parallel (its own read transaction: a delivery committed meanwhile can be
    /// seen by one half only, which the caller's later `incident_changes` since the mark it read first
    /// reconciles, as for any delivery committed while reading).
    fn scan_incidents(
        &self,
        tenant: Option<i64>,
        tables: &mut HashMap<i64, crate::dataset::IncidentTable>,
        min_rows_per_half: i64,
    ) -> Result<(), StoreError> {
        const SELECT: &str =
            "SELECT tenant_id, id, source, begin_min, end_min, category_code, x, y, buurtcode
             FROM incident WHERE id BETWEEN ?1 AND ?2 AND +tenant_id = ifnull(?3, tenant_id)";
        let (lo, hi): (i64, i64) = self.conn.query_row(
            "SELECT ifnull(min(id), 0), ifnull(max(id), -1) FROM incident",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let path = self
            .conn
            .path()
            .filter(|p| !p.is_empty() && !p.starts_with(":memory:"))
            .map(str::to_string);
        let read = |conn: &Connection,
                    from: i64,
                    to: i64,
                    tables: &mut HashMap<i64, crate::dataset::IncidentTable>|
         -> Result<(), StoreError> {
            let mut stmt = conn.prepare(SELECT)?;
            let rows = stmt.query(params![from, to, tenant])?;
            read_incident_rows(rows, tables)
        };
        let path = match path {
            Some(p) if hi.saturating_sub(lo) >= min_rows_per_half.saturating_mul(2) => p,
            _ => return read(&self.conn, lo, hi, tables),
        };
        let mid = lo + (hi - lo) / 2;
        let mut upper: HashMap<i64, crate::dataset::IncidentTable> = tables
            .keys()
            .map(|&t| (t, crate::dataset::IncidentTable::default()))
            .collect();
        std::thread::scope(|scope| -> Result<(), StoreError> {
            let second = scope.spawn(|| -> Result<(), StoreError> {
                let conn = Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(30))?;
                read(&conn, mid + 1, hi, &mut upper)
            });
            let first = read(&self.conn, lo, mid, tables);
            let second = second.join().unwrap_or_else(|_| {
                Err(StoreError::Backend {
                    message: "the second incident reader stopped".into(),
                })
            });
            first.and(second)
        })?;
        for (t, rows) in upper {
            if let Some(table) = tables.get_mut(&t) {
                table.append(rows);
            }
        }
        Ok(())
    }

    /// Open (creating if needed) the store at `path` and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::init(conn)
    }

    /// An in-memory store (tests, one-off analyses).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A large page cache keeps big import transactions from spilling into the WAL page by page.
        conn.pragma_update(None, "cache_size", -262_144)?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let current = self.schema_version()?;
        let supported = MIGRATIONS.len() as i64;
        if current > supported {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Direct access for backends sharing this connection (backup, integrity checks).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn tenant_id(conn: &Connection, code: &str) -> Result<i64, StoreError> {
        conn.query_row("SELECT id FROM tenant WHERE code = ?1", [code], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| StoreError::UnknownTenant(code.to_string()))
    }

    /// [`Store::incident_mark`] of the tenant with row id `tenant_id`.
    fn mark_of(conn: &Connection, tenant_id: i64) -> Result<IncidentMark, StoreError> {
        Ok(conn.query_row(
            "SELECT (SELECT ifnull(max(id), 0) FROM delivery WHERE tenant_id = ?1),
                    (SELECT 'areas ' || ifnull(max(areas_version), 0) || ' attributes ' ||
                            ifnull(max(attributes_version), 0) FROM tenant_change WHERE tenant_id = ?1)",
            [tenant_id],
            |r| {
                Ok(IncidentMark {
                    delivery: r.get(0)?,
                    other: r.get(1)?,
                })
            },
        )?)
    }

    fn newest_year(conn: &Connection) -> Result<Option<i32>, StoreError> {
        Ok(conn.query_row("SELECT max(year) FROM boundary_set", [], |r| r.get(0))?)
    }

    fn insert_delivery(
        tx: &Transaction<'_>,
        tenant_id: i64,
        meta: &DeliveryMeta,
    ) -> Result<i64, StoreError> {
        tx.execute(
            "INSERT INTO delivery (tenant_id, source, kind, file_name, checksum, imported_at, total_rows,
                                   inserted, replaced, unchanged, reported)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0, 0)",
            params![
                tenant_id,
                meta.source,
                meta.kind,
                meta.file_name,
                meta.checksum,
                now_utc(),
                meta.total_rows as i64
            ],
        )?;
        Ok(tx.last_insert_rowid())
    }

    /// Open the transaction of a new delivery and record it: (transaction, tenant id, delivery id), or `None`
    /// when the same file (checksum) was already imported for this tenant and source.
    /// The transaction borrows the connection shared (`&self`: nothing else can use the store meanwhile, as
    /// the callers hold `&mut self`), so a caller can keep the connection beside it ([`TempStoreGuard`]).
    fn begin_delivery(
        &self,
        meta: &DeliveryMeta,
    ) -> Result<Option<(Transaction<'_>, i64, i64)>, StoreError> {
        if self
            .find_delivery(&meta.tenant, &meta.source, &meta.checksum)?
            .is_some()
        {
            return Ok(None);
        }
        let tenant_id = Self::tenant_id(&self.conn, &meta.tenant)?;
        let tx = Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Deferred)?;
        let delivery_id = Self::insert_delivery(&tx, tenant_id, meta)?;
        Ok(Some((tx, tenant_id, delivery_id)))
    }

    fn finish_delivery(
        tx: &Transaction<'_>,
        id: i64,
        o: &DeliveryOutcome,
    ) -> Result<(), StoreError> {
        tx.execute(
            "UPDATE delivery SET inserted = ?2, replaced = ?3, unchanged = ?4, reported = ?5 WHERE id = ?1",
            params![id, o.inserted as i64, o.replaced as i64, o.unchanged as i64, o.reported as i64],
        )?;
        Ok(())
    }

    /// Store a delivery of keyed values (open data, indicators) in one transaction: a value whose key exists
    /// with the same value is unchanged, with another value replaced, otherwise inserted. `same` looks the key
    /// up (`None` = absent, `Some(equal)`); `upsert` writes the row.
    fn store_keyed_values<T>(
        &mut self,
        meta: &DeliveryMeta,
        rows: &[T],
        find_sql: &str,
        upsert_sql: &str,
        same: impl Fn(&mut rusqlite::Statement<'_>, i64, &T) -> rusqlite::Result<Option<bool>>,
        upsert: impl Fn(&mut rusqlite::Statement<'_>, i64, i64, &T) -> rusqlite::Result<usize>,
    ) -> Result<DeliveryOutcome, StoreError> {
        let Some((tx, tenant_id, delivery_id)) = self.begin_delivery(meta)? else {
            return Ok(DeliveryOutcome {
                already_imported: true,
                ..Default::default()
            });
        };
        let mut outcome = DeliveryOutcome {
            delivery_id: Some(delivery_id),
            ..Default::default()
        };
        {
            let mut find = tx.prepare(find_sql)?;
            let mut write = tx.prepare(upsert_sql)?;
            for r in rows {
                match same(&mut find, tenant_id, r)? {
                    Some(true) => outcome.unchanged += 1,
                    Some(false) => {
                        outcome.replaced += 1;
                        upsert(&mut write, tenant_id, delivery_id, r)?;
                    }
                    None => {
                        outcome.inserted += 1;
                        upsert(&mut write, tenant_id, delivery_id, r)?;
                    }
                }
            }
        }
        Self::finish_delivery(&tx, delivery_id, &outcome)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Re-assign buurtcodes of addresses and of current incidents with coordinates, inside `tx`.
    fn reassign_buurten(
        tx: &Transaction<'_>,
        assign: &dyn Fn(f64, f64) -> Option<String>,
    ) -> Result<(), StoreError> {
        let mut updates: Vec<(String, Option<String>)> = Vec::new();
        {
            let mut stmt = tx.prepare("SELECT bag_id, x, y FROM address")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (id, x, y): (String, f64, f64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                updates.push((id, assign(x, y)));
            }
        }
        bump_address_version(tx)?;
        {
            let mut up = tx.prepare("UPDATE address SET buurtcode = ?2 WHERE bag_id = ?1")?;
            for (id, code) in &updates {
                up.execute(params![id, code])?;
            }
        }
        let mut inc: Vec<(i64, Option<String>)> = Vec::new();
        {
            let mut stmt =
                tx.prepare("SELECT id, x, y FROM incident WHERE x IS NOT NULL AND y IS NOT NULL")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (id, x, y): (i64, f64, f64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                inc.push((id, assign(x, y)));
            }
        }
        let mut up = tx.prepare("UPDATE incident SET buurtcode = ?2 WHERE id = ?1")?;
        for (id, code) in &inc {
            up.execute(params![id, code])?;
        }
        Ok(())
    }

    fn read_area(r: &rusqlite::Row<'_>) -> Result<AreaRecord, StoreError> {
        let level: String = r.get(0)?;
        let code: String = r.get(1)?;
        let stats_json: String = r.get(8)?;
        let wkb: Vec<u8> = r.get(9)?;
        Ok(AreaRecord {
            level: AreaLevel::parse_cbs(&level).ok_or(StoreError::InvalidValue {
                table: "area",
                column: "level",
                value: level.clone(),
            })?,
            name: r.get(2)?,
            wijkcode: r.get(3)?,
            gemeentecode: r.get(4)?,
            gemeentenaam: r.get(5)?,
            water: r.get(6)?,
            inhabitants: r.get(7)?,
            stats: serde_json::from_str(&stats_json).unwrap_or_default(),
            geometry: geometry_from_wkb(&code, &wkb)?,
            code,
        })
    }

    fn read_address(r: &rusqlite::Row<'_>) -> Result<AddressRecord, StoreError> {
        let kind: String = r.get(1)?;
        Ok(AddressRecord {
            bag_id: r.get(0)?,
            kind: AddressKind::parse(&kind).ok_or(StoreError::InvalidValue {
                table: "address",
                column: "kind",
                value: kind.clone(),
            })?,
            street: r.get(2)?,
            street_short: r.get(3)?,
            huisnummer: r.get(4)?,
            huisletter: r.get(5)?,
            toevoeging: r.get(6)?,
            postcode: r.get(7)?,
            woonplaats: r.get(8)?,
            bronhouder: r.get(9)?,
            status: r.get(10)?,
            gebruiksdoel: r.get(11)?,
            oppervlakte_m2: r.get(12)?,
            bouwjaar: r.get(13)?,
            pand_id: r.get(14)?,
            pand_status: r.get(15)?,
            x_m: r.get(16)?,
            y_m: r.get(17)?,
            buurtcode: r.get(18)?,
        })
    }

    /// Build the WHERE clause (and its parameters) for an incident filter on table alias `i`.
    fn filter_sql(
        &self,
        f: &IncidentFilter,
    ) -> Result<(String, Vec<rusqlite::types::Value>), StoreError> {
        use rusqlite::types::Value;
        let tenant = Self::tenant_id(&self.conn, &f.tenant)?;
        let mut sql = String::from("i.tenant_id = ?");
        let mut params: Vec<Value> = vec![Value::Integer(tenant)];
        if !f.categories.is_empty() {
            sql.push_str(&format!(
                " AND i.category_code IN ({})",
                vec!["?"; f.categories.len()].join(",")
            ));
            params.extend(f.categories.iter().map(|c| Value::Text(c.clone())));
        }
        if !f.sources.is_empty() {
            sql.push_str(&format!(
                " AND i.source IN ({})",
                vec!["?"; f.sources.len()].join(",")
            ));
            params.extend(f.sources.iter().map(|c| Value::Text(c.clone())));
        }
        if let Some(from) = f.from {
            sql.push_str(" AND i.begin_min >= ?");
            params.push(Value::Integer(to_minutes(from.and_time(NaiveTime::MIN))));
        }
        if let Some(to) = f.to {
            // Through 23:59 of the last day, as the period filter has always read.
            sql.push_str(" AND i.begin_min <= ?");
            params.push(Value::Integer(
                to_minutes(to.and_time(NaiveTime::MIN)) + 24 * 60 - 1,
            ));
        }
        Ok((sql, params))
    }
}

/// Columns of one incident row: the four the rows of one insert share ([`bind_shared`]: tenant, source,
/// version, delivery), then the row's own ([`bind_incident`]).
const INCIDENT_COLUMNS: &str = "tenant_id, source, version, delivery_id, registration, line, begin_min, end_min,
    time_known, category_code, category_label, street, huisnummer, huisletter, toevoeging, postcode, plaats, bag_id,
    x, y, buurtcode, located_by, match_kind, match_score, extra_json, content_hash";
/// Parameters `?1..?4` shared by every row of an insert statement.
const SHARED_PARAMS: usize = 4;
/// Parameters of one row after the shared ones.
const INCIDENT_PARAMS: usize = 22;
/// Rows per multi-row `INSERT` of new incidents (4 + 22 x 32 = 708 parameters; one statement step per 32 rows).
const INSERT_BATCH: usize = 32;

/// `INSERT INTO incident` of `rows` rows: each row's group takes the shared `?1..?4` and its own 22 numbered
/// parameters ([`bind_incident`] at offset `4 + 22 k`). An empty `extra` is bound as NULL and stored as `'{}'`,
/// so the common case binds no text for it.
fn insert_incidents_sql(rows: usize) -> String {
    let groups: Vec<String> = (0..rows)
        .map(|k| {
            let p = |i: usize| format!("?{}", SHARED_PARAMS + k * INCIDENT_PARAMS + i);
            let own: Vec<String> = (1..=INCIDENT_PARAMS)
                .map(|i| {
                    if i == INCIDENT_PARAMS - 1 {
                        format!("coalesce({}, '{{}}')", p(i))
                    } else {
                        p(i)
                    }
                })
                .collect();
            format!("(?1, ?2, ?3, ?4, {})", own.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO incident ({INCIDENT_COLUMNS}) VALUES {}",
        groups.join(", ")
    )
}

/// Bind the parameters every row of an [`insert_incidents_sql`] statement shares.
fn bind_shared(
    stmt: &mut Statement<'_>,
    tenant_id: i64,
    source: &str,
    version: i64,
    delivery_id: i64,
) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(1, tenant_id)?;
    stmt.raw_bind_parameter(2, source)?;
    stmt.raw_bind_parameter(3, version)?;
    stmt.raw_bind_parameter(4, delivery_id)?;
    Ok(())
}

/// Bind the row's own columns of `inc` ([`INCIDENT_COLUMNS`] after the shared ones) to the parameters
/// `offset + 1 ..= offset + 22` of `stmt`.
fn bind_incident(
    stmt: &mut Statement<'_>,
    offset: usize,
    inc: &IncidentRecord,
) -> rusqlite::Result<()> {
    let o = offset;
    stmt.raw_bind_parameter(o + 1, &inc.registration)?;
    stmt.raw_bind_parameter(o + 2, inc.line as i64)?;
    stmt.raw_bind_parameter(o + 3, to_minutes(inc.begin))?;
    stmt.raw_bind_parameter(o + 4, to_minutes(inc.end))?;
    stmt.raw_bind_parameter(o + 5, inc.time_known)?;
    stmt.raw_bind_parameter(o + 6, &inc.category_code)?;
    stmt.raw_bind_parameter(o + 7, &inc.category_label)?;
    stmt.raw_bind_parameter(o + 8, &inc.street)?;
    stmt.raw_bind_parameter(o + 9, &inc.huisnummer)?;
    stmt.raw_bind_parameter(o + 10, &inc.huisletter)?;
    stmt.raw_bind_parameter(o + 11, &inc.toevoeging)?;
    stmt.raw_bind_parameter(o + 12, &inc.postcode)?;
    stmt.raw_bind_parameter(o + 13, &inc.plaats)?;
    stmt.raw_bind_parameter(o + 14, &inc.bag_id)?;
    stmt.raw_bind_parameter(o + 15, inc.x_m)?;
    stmt.raw_bind_parameter(o + 16, inc.y_m)?;
    stmt.raw_bind_parameter(o + 17, &inc.buurtcode)?;
    stmt.raw_bind_parameter(o + 18, inc.located_by.as_str())?;
    stmt.raw_bind_parameter(o + 19, &inc.match_kind)?;
    stmt.raw_bind_parameter(o + 20, inc.match_score)?;
    if inc.extra.is_empty() {
        stmt.raw_bind_parameter(o + 21, rusqlite::types::Null)?;
    } else {
        // A map of strings always serialises; "{}" is only a formal fallback.
        let extra = serde_json::to_string(&inc.extra).unwrap_or_else(|_| "{}".to_string());
        stmt.raw_bind_parameter(o + 21, extra)?;
    }
    stmt.raw_bind_parameter(o + 22, &inc.content_hash)?;
    Ok(())
}

/// The per-row trigger `tenant_change_insert` (migration 7) as it must read, whitespace aside, for a bulk load
/// to stand in for it ([`BulkCounter`]).
const COUNTER_TRIGGER_SQL: &str = "CREATE TRIGGER tenant_change_insert AFTER INSERT ON incident BEGIN
    UPDATE tenant_change SET incidents_version = incidents_version + 1, incident_count = incident_count + 1
    WHERE tenant_id = NEW.tenant_id;
END";

/// `sql` with every run of whitespace collapsed to one space, trimmed.
fn collapse_whitespace(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The insert trigger of the per-tenant change record, suspended for a bulk load inside the delivery's
/// transaction: the trigger runs one `UPDATE tenant_change` per inserted incident (+38 % CPU on a bulk insert,
/// measured), so a bulk load drops it, and [`BulkCounter::resume`] applies the same change once
/// for all inserted rows (`incidents_version` and `incident_count` both grow by the number of rows inserted)
/// and creates the trigger again, in the same transaction: other connections never see the store without the
/// trigger, and a failed or killed import rolls the drop back with everything else. Only a trigger whose text is
/// exactly migration 7's ([`COUNTER_TRIGGER_SQL`]) is suspended; any other stays in place and runs per row.
struct BulkCounter {
    /// The trigger's stored `CREATE TRIGGER` statement, executed again on resume.
    sql: String,
}

impl BulkCounter {
    /// Drops the insert trigger when it is the known one; `None` (nothing dropped) otherwise.
    fn suspend(tx: &Transaction<'_>) -> Result<Option<BulkCounter>, StoreError> {
        let sql: Option<String> = tx
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'tenant_change_insert'
                 AND tbl_name = 'incident'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(sql) =
            sql.filter(|sql| collapse_whitespace(sql) == collapse_whitespace(COUNTER_TRIGGER_SQL))
        else {
            return Ok(None);
        };
        tx.execute_batch("DROP TRIGGER tenant_change_insert")?;
        Ok(Some(BulkCounter { sql }))
    }

    /// Counts `inserted` incident rows of `tenant_id` as the trigger would have, one by one, and restores it.
    fn resume(self, tx: &Transaction<'_>, tenant_id: i64, inserted: u64) -> Result<(), StoreError> {
        let n = i64::try_from(inserted).unwrap_or(i64::MAX);
        tx.execute(
            "UPDATE tenant_change SET incidents_version = incidents_version + ?2,
                                      incident_count = incident_count + ?2
             WHERE tenant_id = ?1",
            params![tenant_id, n],
        )?;
        tx.execute_batch(&self.sql)?;
        Ok(())
    }
}

/// The streaming writer of one incident delivery ([`Store::incident_sink`]) inside the delivery's transaction,
/// with the semantics of [`Store::store_incident_delivery`], decided by the rule shared with every backend
/// ([`IncidentRule`]: insert, unchanged, or archive and replace by the next version, in push order). Dropping the
/// sink without [`IncidentSink::finish`] rolls everything back.
///
/// Bulk strategy (measured in BENCHMARKS.md, "Importing a delivery end to end"):
/// - the registrations this tenant and source already have are preloaded when there are few enough
///   ([`IncidentRule::preload_limit`]); otherwise each row is looked up in the unique index;
/// - new registrations are inserted 32 rows per statement;
/// - when the delivery is at least half as large as the incident table, the period index `incident_query` is
///   dropped and rebuilt after the rows are in (one sort instead of a random B-tree insert per row), and the
///   change record's insert trigger is replaced by one update at the end ([`BulkCounter`]). All of it happens
///   inside the delivery's transaction.
///
/// Memory: the rule's (bounded), and at most 32 pending rows: bounded, whatever the size of the delivery.
struct SqliteIncidentSink<'a> {
    /// The insert/unchanged/replace rule shared by every backend, and the outcome counts.
    rule: IncidentRule,
    writer: SqliteIncidentWriter<'a>,
    /// The period index to recreate at the end, when it was dropped for a bulk load.
    index_sql: Option<String>,
    /// The per-row insert trigger of `tenant_change` to recreate at the end, when it was dropped for a bulk
    /// load ([`BulkCounter`]).
    counter: Option<BulkCounter>,
    rows: u64,
    started: std::time::Instant,
    /// Declared last: dropped after the transaction has ended (committed or rolled back).
    _temp_store: TempStoreGuard<'a>,
}

/// The delivery's transaction and its batch of new rows: where [`SqliteIncidentSink`] finds and writes rows.
struct SqliteIncidentWriter<'a> {
    tx: Transaction<'a>,
    tenant_id: i64,
    delivery_id: i64,
    source: String,
    /// New rows waiting for the next multi-row insert (all version 1).
    pending: Vec<IncidentRecord>,
    insert_one_sql: String,
    insert_batch_sql: String,
}

/// `PRAGMA temp_store = MEMORY` on a connection while an incident sink writes, restored on drop. A multi-row
/// insert into `incident` (foreign keys, unique key) keeps a statement journal of the pages it changes; with
/// temporary files that journal spills to a file past 64 KiB and every statement writes it with `pwrite`
/// (about a tenth of a bulk load's CPU, measured). In memory it stays a few pages per statement. The period
/// index's sort then keeps its spill in memory too: bounded by the incidents' index keys (~20 bytes a row).
struct TempStoreGuard<'a> {
    conn: &'a Connection,
    previous: i64,
}

impl<'a> TempStoreGuard<'a> {
    /// Sets `temp_store = MEMORY` (2) on `conn`, outside any transaction.
    fn memory(conn: &'a Connection) -> Result<TempStoreGuard<'a>, StoreError> {
        let previous: i64 = conn.query_row("PRAGMA temp_store", [], |r| r.get(0))?;
        conn.pragma_update(None, "temp_store", 2)?;
        Ok(TempStoreGuard { conn, previous })
    }
}

impl Drop for TempStoreGuard<'_> {
    fn drop(&mut self) {
        // Only a setting of this connection: when it cannot be restored (a transaction still open), the
        // connection keeps temporary storage in memory, which changes no result.
        let _ = self.conn.pragma_update(None, "temp_store", self.previous);
    }
}

const FIND_INCIDENT_SQL: &str =
    "SELECT id, version, content_hash FROM incident WHERE tenant_id = ?1 AND source = ?2 AND registration = ?3";
const ARCHIVE_INCIDENT_SQL: &str =
    "INSERT INTO incident_history (incident_id, tenant_id, source, registration, version, delivery_id,
                                   superseded_by, record_json)
     SELECT id, tenant_id, source, registration, version, delivery_id, ?2,
            json_object('begin_ts', strftime('%Y-%m-%dT%H:%M', begin_min * 60, 'unixepoch'),
                        'end_ts', strftime('%Y-%m-%dT%H:%M', end_min * 60, 'unixepoch'),
                        'time_known', time_known,
                        'category_code', category_code, 'category_label', category_label,
                        'street', street, 'huisnummer', huisnummer, 'huisletter', huisletter,
                        'toevoeging', toevoeging, 'postcode', postcode, 'plaats', plaats,
                        'bag_id', bag_id, 'x', x, 'y', y, 'buurtcode', buurtcode,
                        'located_by', located_by, 'match_kind', match_kind,
                        'match_score', match_score, 'extra', json(extra_json),
                        'content_hash', content_hash, 'line', line)
     FROM incident WHERE id = ?1";
const INSERT_REPORT_SQL: &str =
    "INSERT INTO report_row (delivery_id, line, registration, column_name, reason, outcome)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

impl<'a> SqliteIncidentSink<'a> {
    fn new(
        tx: Transaction<'a>,
        tenant_id: i64,
        delivery_id: i64,
        source: &str,
        expected_rows: u64,
        temp_store: TempStoreGuard<'a>,
    ) -> Result<SqliteIncidentSink<'a>, StoreError> {
        let n = i64::try_from(expected_rows).unwrap_or(i64::MAX);
        let max_id: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM incident", [], |r| {
            r.get(0)
        })?;
        let bulk = n > 0 && n.saturating_mul(2) >= max_id;
        let index_sql: Option<String> = if bulk {
            tx.query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'incident_query'",
                [],
                |r| r.get(0),
            )
            .optional()?
        } else {
            None
        };
        if index_sql.is_some() {
            tx.execute_batch("DROP INDEX incident_query")?;
        }
        let counter = if bulk {
            BulkCounter::suspend(&tx)?
        } else {
            None
        };
        let limit = IncidentRule::preload_limit(expected_rows);
        let existing: i64 = tx.query_row(
            "SELECT count(*) FROM (SELECT 1 FROM incident WHERE tenant_id = ?1 AND source = ?2 LIMIT ?3)",
            params![tenant_id, source, limit.saturating_add(1)],
            |r| r.get(0),
        )?;
        let preloaded = if existing <= limit {
            let mut map = FxMap::with_capacity_and_hasher(existing as usize, Default::default());
            let mut stmt = tx.prepare(
                "SELECT registration, id, version, content_hash FROM incident WHERE tenant_id = ?1 AND source = ?2",
            )?;
            let mut rows = stmt.query(params![tenant_id, source])?;
            while let Some(r) = rows.next()? {
                map.insert(r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?));
            }
            Some(map)
        } else {
            None
        };
        Ok(SqliteIncidentSink {
            rule: IncidentRule::new(delivery_id, preloaded),
            writer: SqliteIncidentWriter {
                tx,
                tenant_id,
                delivery_id,
                source: source.to_string(),
                pending: Vec::with_capacity(INSERT_BATCH),
                insert_one_sql: insert_incidents_sql(1),
                insert_batch_sql: insert_incidents_sql(INSERT_BATCH),
            },
            index_sql,
            counter,
            rows: 0,
            started: std::time::Instant::now(),
            _temp_store: temp_store,
        })
    }
}

impl SqliteIncidentWriter<'_> {
    /// Insert the pending new rows: one multi-row statement for a full batch, else row by row.
    fn write_pending(&mut self) -> rusqlite::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.pending.len() == INSERT_BATCH {
            let mut stmt = self.tx.prepare_cached(&self.insert_batch_sql)?;
            bind_shared(&mut stmt, self.tenant_id, &self.source, 1, self.delivery_id)?;
            for (k, inc) in self.pending.iter().enumerate() {
                bind_incident(&mut stmt, SHARED_PARAMS + k * INCIDENT_PARAMS, inc)?;
            }
            stmt.raw_execute()?;
        } else {
            let mut stmt = self.tx.prepare_cached(&self.insert_one_sql)?;
            bind_shared(&mut stmt, self.tenant_id, &self.source, 1, self.delivery_id)?;
            for inc in &self.pending {
                bind_incident(&mut stmt, SHARED_PARAMS, inc)?;
                stmt.raw_execute()?;
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Archive stored row `id`, delete it and insert `inc` as `version` (after the pending rows).
    fn replace(&mut self, id: i64, version: i64, inc: &IncidentRecord) -> Result<(), StoreError> {
        self.write_pending()?;
        self.tx
            .prepare_cached(ARCHIVE_INCIDENT_SQL)?
            .execute(params![id, self.delivery_id])?;
        self.tx
            .prepare_cached("DELETE FROM incident WHERE id = ?1")?
            .execute([id])?;
        let mut insert = self.tx.prepare_cached(&self.insert_one_sql)?;
        bind_shared(
            &mut insert,
            self.tenant_id,
            &self.source,
            version,
            self.delivery_id,
        )?;
        bind_incident(&mut insert, SHARED_PARAMS, inc)?;
        insert.raw_execute()?;
        Ok(())
    }
}

impl RegistrationLookup for SqliteIncidentWriter<'_> {
    fn pending_contains(&self, registration: &str) -> bool {
        self.pending.iter().any(|p| p.registration == registration)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(self.write_pending()?)
    }

    /// The stored row of a registration, looked up in the unique index.
    fn find(&self, inc: &IncidentRecord) -> Result<Option<Stored>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(FIND_INCIDENT_SQL)?
            .query_row(
                params![self.tenant_id, self.source, inc.registration],
                |r| {
                    Ok(Stored {
                        id: r.get(0)?,
                        version: r.get(1)?,
                        same_content: r.get_ref(2)?.as_str()? == inc.content_hash,
                    })
                },
            )
            .optional()?)
    }
}

impl IncidentSink for SqliteIncidentSink<'_> {
    fn push(&mut self, inc: IncidentRecord) -> Result<(), StoreError> {
        self.rows += 1;
        match self.rule.decide(&inc, &mut self.writer)? {
            Decision::Insert => {
                self.writer.pending.push(inc);
                if self.writer.pending.len() == INSERT_BATCH {
                    self.writer.write_pending()?;
                }
            }
            Decision::Unchanged => {}
            Decision::Replace { id, next_version } => {
                self.writer.replace(id, next_version, &inc)?;
            }
        }
        Ok(())
    }

    fn push_report(&mut self, r: &ReportRecord) -> Result<(), StoreError> {
        self.writer
            .tx
            .prepare_cached(INSERT_REPORT_SQL)?
            .execute(params![
                self.writer.delivery_id,
                r.line as i64,
                r.registration,
                r.column,
                r.reason,
                r.outcome
            ])?;
        self.rule.reported();
        Ok(())
    }

    fn personal_columns(&mut self, columns: &[PersonalColumn]) -> Result<(), StoreError> {
        let w = &self.writer;
        w.tx.execute(
            "DELETE FROM delivery_personal WHERE delivery_id = ?1",
            [w.delivery_id],
        )?;
        let mut insert = w.tx.prepare_cached(
            "INSERT INTO delivery_personal (delivery_id, role, kind, key_id) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for c in columns {
            insert.execute(params![w.delivery_id, c.role, c.kind.as_str(), c.key_id])?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<DeliveryOutcome, StoreError> {
        let mut this = *self;
        this.writer.write_pending()?;
        let outcome = this.rule.outcome().clone();
        let w = &this.writer;
        if let Some(sql) = this.index_sql.take() {
            let started = std::time::Instant::now();
            w.tx.execute_batch(&sql)?;
            tracing::debug!(
                seconds = started.elapsed().as_secs_f64(),
                "incident_query index rebuilt"
            );
        }
        if let Some(counter) = this.counter.take() {
            counter.resume(&w.tx, w.tenant_id, outcome.inserted + outcome.replaced)?;
        }
        SqliteStore::finish_delivery(&w.tx, w.delivery_id, &outcome)?;
        let written = this.started.elapsed();
        this.writer.tx.commit()?;
        tracing::debug!(
            rows = this.rows,
            write_s = written.as_secs_f64(),
            commit_s = (this.started.elapsed() - written).as_secs_f64(),
            "incident delivery stored"
        );
        Ok(outcome)
    }
}

struct SqliteAddressSink<'a> {
    tx: Transaction<'a>,
    count: u64,
}

impl AddressSink for SqliteAddressSink<'_> {
    fn push(&mut self, a: &AddressRecord) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO address (bag_id, kind, street, street_short, huisnummer, huisletter, toevoeging,
                postcode, woonplaats, bronhouder, status, gebruiksdoel, oppervlakte_m2, bouwjaar, pand_id,
                pand_status, x, y, buurtcode)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        stmt.execute(params![
            a.bag_id,
            a.kind.as_str(),
            a.street,
            a.street_short,
            a.huisnummer,
            a.huisletter,
            a.toevoeging,
            a.postcode,
            a.woonplaats,
            a.bronhouder,
            a.status,
            a.gebruiksdoel,
            a.oppervlakte_m2,
            a.bouwjaar,
            a.pand_id,
            a.pand_status,
            a.x_m,
            a.y_m,
            a.buurtcode
        ])?;
        self.count += 1;
        Ok(())
    }

    fn push_pand(&mut self, p: &PandRecord) -> Result<bool, StoreError> {
        let referenced: bool = self
            .tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM address WHERE pand_id = ?1)")?
            .query_row([&p.pand_id], |r| r.get(0))?;
        if referenced {
            self.tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO pand (pand_id, bouwjaar, status, gebruiksdoel, oppervlakte_min,
                        oppervlakte_max, aantal_verblijfsobjecten) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    p.pand_id,
                    p.bouwjaar,
                    p.status,
                    p.gebruiksdoel,
                    p.oppervlakte_min,
                    p.oppervlakte_max,
                    p.aantal_verblijfsobjecten
                ])?;
        }
        Ok(referenced)
    }

    fn finish(self: Box<Self>) -> Result<u64, StoreError> {
        let this = *self;
        this.tx.commit()?;
        Ok(this.count)
    }
}

impl Store for SqliteStore {
    fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn tenants(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT code, name FROM tenant ORDER BY code")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn add_tenant(&mut self, code: &str, name: &str) -> Result<(), StoreError> {
        let exists: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM tenant WHERE code = ?1",
            [code],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::TenantExists(code.to_string()));
        }
        self.conn.execute(
            "INSERT INTO tenant (code, name, created_at) VALUES (?1, ?2, ?3)",
            params![code, name, now_utc()],
        )?;
        Ok(())
    }

    fn rename_tenant(&mut self, code: &str, name: &str) -> Result<(), StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::InvalidValue {
                table: "tenant",
                column: "name",
                value: String::new(),
            });
        }
        let n = self.conn.execute(
            "UPDATE tenant SET name = ?2 WHERE code = ?1",
            params![code, name],
        )?;
        if n == 0 {
            return Err(StoreError::UnknownTenant(code.to_string()));
        }
        Ok(())
    }

    fn tenant_gemeenten(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let id = Self::tenant_id(&self.conn, tenant)?;
        let mut stmt = self.conn.prepare(
            "SELECT gemeentecode FROM tenant_gemeente WHERE tenant_id = ?1 ORDER BY gemeentecode",
        )?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_tenant_gemeenten(
        &mut self,
        tenant: &str,
        gemeenten: &[String],
    ) -> Result<(), StoreError> {
        let codes = gemeenten
            .iter()
            .map(|g| normalize_gemeentecode(g).ok_or_else(|| StoreError::GemeenteCode(g.clone())))
            .collect::<Result<std::collections::BTreeSet<String>, _>>()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = Self::tenant_id(&tx, tenant)?;
        tx.execute("DELETE FROM tenant_gemeente WHERE tenant_id = ?1", [id])?;
        for code in &codes {
            tx.execute(
                "INSERT INTO tenant_gemeente (tenant_id, gemeentecode) VALUES (?1, ?2)",
                params![id, code],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn replace_boundary_set_with(
        &mut self,
        year: i32,
        source_file: &str,
        checksum: &str,
        areas: &[AreaRecord],
        assign: &dyn Fn(f64, f64) -> Option<String>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM boundary_set WHERE year = ?1", [year])?;
        tx.execute(
            "INSERT INTO boundary_set (year, source_file, checksum, imported_at) VALUES (?1, ?2, ?3, ?4)",
            params![year, source_file, checksum, now_utc()],
        )?;
        let set_id = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare(
                "INSERT INTO area (boundary_set_id, level, code, name, wijkcode, gemeentecode, gemeentenaam, water,
                                   inhabitants, stats_json, minx, miny, maxx, maxy, geom_wkb)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?;
            for a in areas {
                let wkb = geometry_to_wkb(&a.code, &a.geometry)?;
                let bbox = a.geometry.bounding_rect();
                let (minx, miny, maxx, maxy) = bbox
                    .map(|r| (r.min().x, r.min().y, r.max().x, r.max().y))
                    .unwrap_or((0.0, 0.0, 0.0, 0.0));
                let stats = serde_json::to_string(&a.stats).unwrap_or_else(|_| "{}".to_string());
                stmt.execute(params![
                    set_id,
                    a.level.as_str(),
                    a.code,
                    a.name,
                    a.wijkcode,
                    a.gemeentecode,
                    a.gemeentenaam,
                    a.water,
                    a.inhabitants,
                    stats,
                    minx,
                    miny,
                    maxx,
                    maxy,
                    wkb
                ])?;
            }
        }
        if Self::newest_year(&tx)? == Some(year) {
            Self::reassign_buurten(&tx, assign)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn boundary_sets(&self) -> Result<Vec<BoundarySet>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT b.year, b.source_file, b.checksum, b.imported_at, (SELECT count(*) FROM area a WHERE a.boundary_set_id = b.id)
             FROM boundary_set b ORDER BY b.year",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(BoundarySet {
                year: r.get(0)?,
                source_file: r.get(1)?,
                checksum: r.get(2)?,
                imported_at: r.get(3)?,
                areas: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn areas(&self, level: AreaLevel, year: Option<i32>) -> Result<Vec<AreaRecord>, StoreError> {
        let year = match year {
            Some(y) => y,
            None => match Self::newest_year(&self.conn)? {
                Some(y) => y,
                None => return Ok(Vec::new()),
            },
        };
        let mut stmt = self.conn.prepare(
            "SELECT a.level, a.code, a.name, a.wijkcode, a.gemeentecode, a.gemeentenaam, a.water, a.inhabitants,
                    a.stats_json, a.geom_wkb
             FROM area a JOIN boundary_set b ON b.id = a.boundary_set_id
             WHERE b.year = ?1 AND a.level = ?2 ORDER BY a.code",
        )?;
        let mut rows = stmt.query(params![year, level.as_str()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Self::read_area(r)?);
        }
        Ok(out)
    }

    fn address_sink<'a>(
        &'a mut self,
        gemeenten: &[String],
    ) -> Result<Box<dyn AddressSink + 'a>, StoreError> {
        let tx = self.conn.transaction()?;
        bump_address_version(&tx)?;
        if gemeenten.is_empty() {
            tx.execute("DELETE FROM address", [])?;
            tx.execute("DELETE FROM pand", [])?;
        } else {
            let mut del_pand = tx.prepare(
                "DELETE FROM pand WHERE pand_id IN (SELECT pand_id FROM address WHERE bronhouder = ?1)",
            )?;
            for g in gemeenten {
                del_pand.execute([g])?;
            }
            let mut del = tx.prepare("DELETE FROM address WHERE bronhouder = ?1")?;
            for g in gemeenten {
                del.execute([g])?;
            }
        }
        Ok(Box::new(SqliteAddressSink { tx, count: 0 }))
    }

    fn for_each_address(
        &self,
        f: &mut dyn FnMut(&AddressRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT bag_id, kind, street, street_short, huisnummer, huisletter, toevoeging, postcode, woonplaats,
                    bronhouder, status, gebruiksdoel, oppervlakte_m2, bouwjaar, pand_id, pand_status, x, y, buurtcode
             FROM address ORDER BY bag_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(&Self::read_address(r)?)?;
        }
        Ok(())
    }

    fn address_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM address", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn find_delivery(
        &self,
        tenant: &str,
        source: &str,
        checksum: &str,
    ) -> Result<Option<DeliveryInfo>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM delivery WHERE tenant_id = ?1 AND source = ?2 AND checksum = ?3",
                params![tenant_id, source, checksum],
                |r| r.get(0),
            )
            .optional()?;
        match id {
            Some(id) => Ok(self.deliveries(tenant)?.into_iter().find(|d| d.id == id)),
            None => Ok(None),
        }
    }

    fn incident_sink<'a>(
        &'a mut self,
        meta: &DeliveryMeta,
        expected_rows: u64,
    ) -> Result<Option<Box<dyn IncidentSink + 'a>>, StoreError> {
        let store: &'a SqliteStore = self;
        // Set before the transaction (SQLite refuses to change it inside one); restored when the sink is gone.
        let temp_store = TempStoreGuard::memory(&store.conn)?;
        let Some((tx, tenant_id, delivery_id)) = store.begin_delivery(meta)? else {
            return Ok(None);
        };
        Ok(Some(Box::new(SqliteIncidentSink::new(
            tx,
            tenant_id,
            delivery_id,
            &meta.source,
            expected_rows,
            temp_store,
        )?)))
    }

    fn deliveries(&self, tenant: &str) -> Result<Vec<DeliveryInfo>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let mut stmt = self.conn.prepare(
            "SELECT id, source, kind, file_name, checksum, imported_at, total_rows, inserted, replaced, unchanged,
                    reported
             FROM delivery WHERE tenant_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([tenant_id], |r| {
            Ok(DeliveryInfo {
                id: r.get(0)?,
                tenant: tenant.to_string(),
                source: r.get(1)?,
                kind: r.get(2)?,
                file_name: r.get(3)?,
                checksum: r.get(4)?,
                imported_at: r.get(5)?,
                total_rows: r.get(6)?,
                inserted: r.get(7)?,
                replaced: r.get(8)?,
                unchanged: r.get(9)?,
                reported: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn report_rows(&self, delivery_id: i64) -> Result<Vec<ReportRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT line, registration, column_name, reason, outcome FROM report_row WHERE delivery_id = ?1 ORDER BY line, id",
        )?;
        let rows = stmt.query_map([delivery_id], |r| {
            Ok(ReportRecord {
                line: r.get::<_, i64>(0)? as u64,
                registration: r.get(1)?,
                column: r.get(2)?,
                reason: r.get(3)?,
                outcome: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn incident_versions(
        &self,
        tenant: &str,
        source: &str,
        registration: &str,
    ) -> Result<i64, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM incident WHERE tenant_id = ?1 AND source = ?2 AND registration = ?3)
                  + (SELECT count(*) FROM incident_history WHERE tenant_id = ?1 AND source = ?2 AND registration = ?3)",
            params![tenant_id, source, registration],
            |r| r.get(0),
        )?)
    }

    fn store_police_counts(
        &mut self,
        meta: &DeliveryMeta,
        rows: &[PoliceCount],
    ) -> Result<DeliveryOutcome, StoreError> {
        self.store_keyed_values(
            meta,
            rows,
            "SELECT value FROM police_count WHERE table_id = ?1 AND category = ?2 AND region = ?3 AND period = ?4",
            "INSERT OR REPLACE INTO police_count (table_id, category, region, period, value, delivery_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            |find, _, r| {
                find.query_row(params![r.table, r.category, r.region, r.period], |x| {
                    Ok(x.get::<_, Option<i64>>(0)? == r.value)
                })
                .optional()
            },
            |upsert, _, delivery_id, r| {
                upsert.execute(params![r.table, r.category, r.region, r.period, r.value, delivery_id])
            },
        )
    }

    fn store_indicators(
        &mut self,
        meta: &DeliveryMeta,
        rows: &[IndicatorValue],
    ) -> Result<DeliveryOutcome, StoreError> {
        self.store_keyed_values(
            meta,
            rows,
            "SELECT value FROM indicator WHERE tenant_id = ?1 AND buurtcode = ?2 AND name = ?3",
            "INSERT OR REPLACE INTO indicator (tenant_id, buurtcode, name, value, delivery_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            |find, tenant_id, r| {
                find.query_row(params![tenant_id, r.buurtcode, r.name], |x| {
                    Ok(x.get::<_, Option<f64>>(0)? == r.value)
                })
                .optional()
            },
            |upsert, tenant_id, delivery_id, r| {
                upsert.execute(params![
                    tenant_id,
                    r.buurtcode,
                    r.name,
                    r.value,
                    delivery_id
                ])
            },
        )
    }

    fn store_address_attributes(
        &mut self,
        meta: &AttributeSetMeta,
        values: &[AddressAttributeValue],
    ) -> Result<AttributeSetOutcome, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, &meta.tenant)?;
        let tx = self.conn.transaction()?;
        let known: Option<i64> = tx
            .query_row(
                "SELECT version FROM address_attribute_set
                 WHERE tenant_id = ?1 AND source = ?2 AND checksum = ?3",
                params![tenant_id, meta.source, meta.checksum],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(version) = known {
            return Ok(AttributeSetOutcome {
                set_id: None,
                version,
                already_imported: true,
                values: 0,
            });
        }
        let version: i64 = tx.query_row(
            "SELECT ifnull(max(version), 0) + 1 FROM address_attribute_set WHERE tenant_id = ?1 AND source = ?2",
            params![tenant_id, meta.source],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO address_attribute_set (tenant_id, source, version, file_name, checksum, imported_at,
                                                total_rows, rejected, value_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                tenant_id,
                meta.source,
                version,
                meta.file_name,
                meta.checksum,
                now_utc(),
                meta.total_rows as i64,
                meta.rejected as i64,
                values.len() as i64
            ],
        )?;
        let set_id = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO address_attribute (set_id, name, bag_id, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for v in values {
                insert.execute(params![set_id, v.name, v.bag_id, v.value])?;
            }
        }
        tx.commit()?;
        Ok(AttributeSetOutcome {
            set_id: Some(set_id),
            version,
            already_imported: false,
            values: values.len() as u64,
        })
    }

    fn address_attribute_sets(&self, tenant: &str) -> Result<Vec<AttributeSetInfo>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let mut stmt = self.conn.prepare(
            "SELECT s.id, s.source, s.version, s.file_name, s.checksum, s.imported_at, s.total_rows, s.rejected,
                    s.value_count,
                    s.version = (SELECT max(version) FROM address_attribute_set m
                                 WHERE m.tenant_id = s.tenant_id AND m.source = s.source)
             FROM address_attribute_set s WHERE s.tenant_id = ?1 ORDER BY s.source, s.version DESC",
        )?;
        let rows = stmt.query_map([tenant_id], |r| {
            Ok(AttributeSetInfo {
                id: r.get(0)?,
                source: r.get(1)?,
                version: r.get(2)?,
                file_name: r.get(3)?,
                checksum: r.get(4)?,
                imported_at: r.get(5)?,
                total_rows: r.get(6)?,
                rejected: r.get(7)?,
                values: r.get(8)?,
                current: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn address_attributes(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<HashMap<String, f64>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let mut stmt = self.conn.prepare(
            "SELECT a.bag_id, a.value FROM address_attribute_set s
             JOIN address_attribute a ON a.set_id = s.id AND a.name = ?2
             WHERE s.tenant_id = ?1
               AND s.version = (SELECT max(version) FROM address_attribute_set m
                                WHERE m.tenant_id = s.tenant_id AND m.source = s.source)
             ORDER BY s.id",
        )?;
        let mut out = HashMap::new();
        let mut rows = stmt.query(params![tenant_id, name])?;
        while let Some(r) = rows.next()? {
            out.insert(r.get(0)?, r.get(1)?);
        }
        Ok(out)
    }

    fn address_attribute_names(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT a.name FROM address_attribute_set s
             JOIN address_attribute a ON a.set_id = s.id
             WHERE s.tenant_id = ?1
               AND s.version = (SELECT max(version) FROM address_attribute_set m
                                WHERE m.tenant_id = s.tenant_id AND m.source = s.source)
             ORDER BY a.name",
        )?;
        let rows = stmt.query_map([tenant_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn police_counts(&self, region_prefix: Option<&str>) -> Result<Vec<PoliceCount>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT table_id, category, region, period, value FROM police_count
             WHERE ?1 IS NULL OR region LIKE ?1 || '%' ORDER BY table_id, region, period, category",
        )?;
        let rows = stmt.query_map([region_prefix], |r| {
            Ok(PoliceCount {
                table: r.get(0)?,
                category: r.get(1)?,
                region: r.get(2)?,
                period: r.get(3)?,
                value: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn indicators(&self, tenant: &str) -> Result<Vec<IndicatorValue>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let mut stmt = self
            .conn
            .prepare("SELECT buurtcode, name, value FROM indicator WHERE tenant_id = ?1 ORDER BY buurtcode, name")?;
        let rows = stmt.query_map([tenant_id], |r| {
            Ok(IndicatorValue {
                buurtcode: r.get(0)?,
                name: r.get(1)?,
                value: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_by_area(
        &self,
        level: AreaLevel,
        filter: &IncidentFilter,
    ) -> Result<Vec<AreaCount>, StoreError> {
        let (where_sql, mut params) = self.filter_sql(filter)?;
        let year = match Self::newest_year(&self.conn)? {
            Some(y) => y,
            None => return Ok(Vec::new()),
        };
        let key = match level {
            AreaLevel::Buurt => "a.code",
            AreaLevel::Wijk => "a.wijkcode",
            AreaLevel::Gemeente => "a.gemeentecode",
            // Custom areas are not in the boundary sets: the tenant snapshot counts them.
            AreaLevel::Custom => return Ok(Vec::new()),
        };
        let sql = format!(
            "SELECT {key}, coalesce(i.category_code, ''), count(*)
             FROM incident i
             JOIN area a ON a.code = i.buurtcode AND a.level = 'buurt'
             JOIN boundary_set b ON b.id = a.boundary_set_id AND b.year = ?
             WHERE {where_sql} AND i.located_by <> 'none' AND {key} IS NOT NULL
             GROUP BY 1, 2 ORDER BY 1, 2"
        );
        params.insert(0, rusqlite::types::Value::Integer(year as i64));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
            Ok(AreaCount {
                area_code: r.get(0)?,
                category: r.get(1)?,
                count: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<StoredIncident>, StoreError> {
        let (where_sql, params) = self.filter_sql(filter)?;
        let sql = format!(
            "SELECT i.id, i.source, i.registration, i.version, i.begin_min, i.end_min, i.category_code, i.x, i.y,
                    i.buurtcode, i.bag_id, i.located_by
             FROM incident i WHERE {where_sql} ORDER BY i.begin_min, i.id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let begin: i64 = r.get(4)?;
            let end: i64 = r.get(5)?;
            out.push(StoredIncident {
                id: r.get(0)?,
                source: r.get(1)?,
                registration: r.get(2)?,
                version: r.get(3)?,
                begin: from_minutes(begin)?,
                end: from_minutes(end)?,
                category_code: r.get(6)?,
                x_m: r.get(7)?,
                y_m: r.get(8)?,
                buurtcode: r.get(9)?,
                bag_id: r.get(10)?,
                located_by: r.get(11)?,
            });
        }
        Ok(out)
    }

    fn for_each_linked_incident(
        &self,
        filter: &IncidentFilter,
        f: &mut dyn FnMut(LinkedIncident) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, &filter.tenant)?;
        let mut personal: FxMap<i64, Vec<PersonalColumn>> = FxMap::default();
        {
            let mut stmt = self.conn.prepare(
                "SELECT p.delivery_id, p.role, p.kind, p.key_id FROM delivery_personal p
                 JOIN delivery d ON d.id = p.delivery_id WHERE d.tenant_id = ?1",
            )?;
            let mut rows = stmt.query([tenant_id])?;
            while let Some(r) = rows.next()? {
                let kind: String = r.get(2)?;
                let kind = crate::pseudonym::IdentifierKind::parse(&kind).ok_or(
                    StoreError::InvalidValue {
                        table: "delivery_personal",
                        column: "kind",
                        value: kind,
                    },
                )?;
                personal.entry(r.get(0)?).or_default().push(PersonalColumn {
                    role: r.get(1)?,
                    kind,
                    key_id: r.get(3)?,
                });
            }
        }
        let (where_sql, params) = self.filter_sql(filter)?;
        let sql = format!(
            "SELECT i.id, i.source, i.registration, i.begin_min, i.category_code, i.bag_id, i.delivery_id,
                    i.extra_json
             FROM incident i WHERE {where_sql} ORDER BY i.begin_min, i.id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(r) = rows.next()? {
            let delivery_id: i64 = r.get(6)?;
            let mut pseudonyms = Vec::new();
            if let Some(columns) = personal.get(&delivery_id) {
                let extra_json: String = r.get(7)?;
                let extra: BTreeMap<String, serde_json::Value> = serde_json::from_str(&extra_json)
                    .map_err(|_| StoreError::InvalidValue {
                        table: "incident",
                        column: "extra_json",
                        value: extra_json.chars().take(40).collect(),
                    })?;
                for c in columns {
                    if let Some(p) = extra.get(&c.role).and_then(|v| v.as_str()) {
                        if !p.is_empty() {
                            pseudonyms.push(StoredPseudonym {
                                pseudonym: p.to_string(),
                                kind: c.kind,
                                role: c.role.clone(),
                                key_id: c.key_id.clone(),
                            });
                        }
                    }
                }
                pseudonyms.sort_by(|a, b| (&a.role, &a.pseudonym).cmp(&(&b.role, &b.pseudonym)));
            }
            f(LinkedIncident {
                id: r.get(0)?,
                source: r.get(1)?,
                registration: r.get(2)?,
                begin: from_minutes(r.get(3)?)?,
                category_code: r.get(4)?,
                bag_id: r.get(5)?,
                pseudonyms,
            })?;
        }
        Ok(())
    }

    fn incident_details(
        &self,
        tenant: &str,
        ids: &[i64],
    ) -> Result<Vec<IncidentDetail>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        // Ids are integers written into the statement: no parameter limit, nothing to escape. The unary `+`
        // keeps SQLite from walking the tenant's index (every incident of the tenant, per batch): the rows are
        // found by primary key and then checked for the tenant.
        for chunk in ids.chunks(500) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "SELECT i.id, i.registration, i.source, i.category_code, i.located_by, \
                 a.street, a.huisnummer, a.huisletter, a.toevoeging, a.postcode, i.buurtcode \
                 FROM incident i \
                 LEFT JOIN address a ON a.bag_id = i.bag_id AND i.located_by = 'address' \
                 WHERE +i.tenant_id = ?1 AND i.id IN ({list})"
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map([tenant_id], |r| {
                Ok(IncidentDetail {
                    id: r.get(0)?,
                    registration: r.get(1)?,
                    source: r.get(2)?,
                    category_code: r.get(3)?,
                    located_by: r.get(4)?,
                    street: r.get(5)?,
                    huisnummer: r.get(6)?,
                    huisletter: r.get(7)?,
                    toevoeging: r.get(8)?,
                    postcode: r.get(9)?,
                    buurtcode: r.get(10)?,
                })
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }

    fn incident_mark(&self, tenant: &str) -> Result<IncidentMark, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        Self::mark_of(&self.conn, tenant_id)
    }

    fn incident_changes(
        &self,
        tenant: &str,
        since: &IncidentMark,
    ) -> Result<Option<IncidentChanges>, StoreError> {
        // One read transaction: the mark, the rows and the count belong to one moment.
        let tx = self.conn.unchecked_transaction()?;
        let tenant_id = Self::tenant_id(&tx, tenant)?;
        let mark = Self::mark_of(&tx, tenant_id)?;
        if mark.other != since.other {
            return Ok(None);
        }
        let mut written = Vec::new();
        let mut superseded = Vec::new();
        if mark.delivery != since.delivery {
            let mut stmt = tx.prepare(
                "SELECT id, source, begin_min, end_min, category_code, x, y, buurtcode
                 FROM incident INDEXED BY incident_delivery
                 WHERE delivery_id > ?1 AND tenant_id = ?2",
            )?;
            let mut rows = stmt.query(params![since.delivery, tenant_id])?;
            while let Some(r) = rows.next()? {
                written.push(crate::dataset::IncidentRecord {
                    id: r.get(0)?,
                    source: r.get(1)?,
                    begin: from_minutes(r.get(2)?)?,
                    end: from_minutes(r.get(3)?)?,
                    category_code: r.get(4)?,
                    x_m: r.get(5)?,
                    y_m: r.get(6)?,
                    buurtcode: r.get(7)?,
                });
            }
            written.sort_by_key(|i| (i.begin, i.id));
            // The archived record keeps the version's begin to the minute (`ARCHIVE_INCIDENT_SQL`).
            let mut stmt = tx.prepare(
                "SELECT incident_id, json_extract(record_json, '$.begin_ts')
                 FROM incident_history INDEXED BY incident_history_superseded
                 WHERE superseded_by > ?1 AND tenant_id = ?2",
            )?;
            let mut rows = stmt.query(params![since.delivery, tenant_id])?;
            while let Some(r) = rows.next()? {
                let begin: String = r.get(1)?;
                let begin =
                    NaiveDateTime::parse_from_str(&begin, "%Y-%m-%dT%H:%M").map_err(|_| {
                        StoreError::InvalidValue {
                            table: "incident_history",
                            column: "record_json",
                            value: begin.clone(),
                        }
                    })?;
                superseded.push(crate::dataset::SupersededVersion {
                    id: r.get(0)?,
                    begin,
                });
            }
            superseded.sort_unstable();
        }
        let current: i64 = tx.query_row(
            "SELECT incident_count FROM tenant_change WHERE tenant_id = ?1",
            [tenant_id],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(Some(IncidentChanges {
            mark,
            delta: crate::dataset::IncidentDelta {
                written,
                superseded,
            },
            current: current as u64,
        }))
    }

    fn tenant_table(&self, tenant: &str) -> Result<crate::dataset::TenantTable, StoreError> {
        let (name, areas) = self.tenant_areas(tenant)?;
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let (count, total): (i64, i64) = self.conn.query_row(
            "SELECT ifnull((SELECT incident_count FROM tenant_change WHERE tenant_id = ?1), 0),
                    ifnull((SELECT sum(incident_count) FROM tenant_change), 0)",
            [tenant_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut tables = HashMap::from([(
            tenant_id,
            crate::dataset::IncidentTable::with_capacity(usize::try_from(count).unwrap_or(0)),
        )]);
        // A tenant with a large part of the rows: a scan in storage order beats a lookup per row through the
        // tenant's index (random reads, about ten times slower per row).
        if count.saturating_mul(4) >= total {
            self.scan_incidents(Some(tenant_id), &mut tables, PARALLEL_SCAN_ROWS)?;
        } else {
            let mut stmt = self.conn.prepare(
                "SELECT tenant_id, id, source, begin_min, end_min, category_code, x, y, buurtcode
                 FROM incident INDEXED BY incident_query WHERE tenant_id = ?1",
            )?;
            read_incident_rows(stmt.query([tenant_id])?, &mut tables)?;
        }
        Ok(crate::dataset::TenantTable {
            code: tenant.to_string(),
            name,
            areas,
            incidents: tables.remove(&tenant_id).unwrap_or_default(),
        })
    }

    fn tenant_tables(&self) -> Result<Vec<crate::dataset::TenantTable>, StoreError> {
        let mut tables = HashMap::new();
        let mut out = Vec::new();
        for (code, _) in self.tenants()? {
            let tenant_id = Self::tenant_id(&self.conn, &code)?;
            let count: i64 = self
                .conn
                .query_row(
                    "SELECT incident_count FROM tenant_change WHERE tenant_id = ?1",
                    [tenant_id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            tables.insert(
                tenant_id,
                crate::dataset::IncidentTable::with_capacity(usize::try_from(count).unwrap_or(0)),
            );
            let (name, areas) = self.tenant_areas(&code)?;
            out.push((tenant_id, code, name, areas));
        }
        // One scan of all incidents in storage order, each row to its tenant.
        self.scan_incidents(None, &mut tables, PARALLEL_SCAN_ROWS)?;
        Ok(out
            .into_iter()
            .map(
                |(tenant_id, code, name, areas)| crate::dataset::TenantTable {
                    code,
                    name,
                    areas,
                    incidents: tables.remove(&tenant_id).unwrap_or_default(),
                },
            )
            .collect())
    }

    fn custom_areas(&self, tenant: &str) -> Result<Vec<CustomArea>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let mut stmt = self.conn.prepare(
            "SELECT id, name, geom_wkb, created_at, updated_at, created_by FROM custom_area WHERE tenant_id = ?1 ORDER BY id",
        )?;
        let mut rows = stmt.query([tenant_id])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let wkb: Vec<u8> = r.get(2)?;
            out.push(CustomArea {
                id,
                name: r.get(1)?,
                geometry: geometry_from_wkb(&format!("custom:{id}"), &wkb)?,
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
                created_by: r.get(5)?,
            });
        }
        Ok(out)
    }

    fn insert_custom_area_by(
        &mut self,
        tenant: &str,
        name: &str,
        geometry: &MultiPolygon<f64>,
        created_by: Option<&str>,
    ) -> Result<i64, StoreError> {
        let wkb = geometry_to_wkb(name, geometry)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let tenant_id = Self::tenant_id(&tx, tenant)?;
        let now = now_utc();
        tx.execute(
            "INSERT INTO custom_area (tenant_id, name, geom_wkb, created_at, updated_at, created_by) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            params![tenant_id, name, wkb, now, created_by],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn update_custom_area(
        &mut self,
        tenant: &str,
        id: i64,
        name: &str,
        geometry: &MultiPolygon<f64>,
    ) -> Result<bool, StoreError> {
        let wkb = geometry_to_wkb(name, geometry)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let tenant_id = Self::tenant_id(&tx, tenant)?;
        let n = tx.execute(
            "UPDATE custom_area SET name = ?1, geom_wkb = ?2, updated_at = ?3 WHERE id = ?4 AND tenant_id = ?5",
            params![name, wkb, now_utc(), id, tenant_id],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn custom_area_owner(
        &self,
        tenant: &str,
        id: i64,
    ) -> Result<Option<Option<String>>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        Ok(self
            .conn
            .query_row(
                "SELECT created_by FROM custom_area WHERE id = ?1 AND tenant_id = ?2",
                params![id, tenant_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?)
    }

    fn delete_custom_area(&mut self, tenant: &str, id: i64) -> Result<bool, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        let n = self.conn.execute(
            "DELETE FROM custom_area WHERE id = ?1 AND tenant_id = ?2",
            params![id, tenant_id],
        )?;
        Ok(n > 0)
    }
}

/// The fingerprint of the tenant `t` (SQL over the tenant row `t`): every aggregate is over the tenant's own rows
/// (the indexes on tenant_id). Its incidents are summarised by its `tenant_change` row (migration 7), which the
/// triggers on `incident` bump in the same transaction as every insert, delete or update of one of its incident
/// rows, and its areas by the same row's `areas_version` (migration 8: triggers on `custom_area` and
/// `tenant_gemeente`): one row read, whatever the number of incidents.
const TENANT_PRINT: &str = "
    (SELECT incidents_version || ',' || incident_count || ',' || areas_version || ',' || attributes_version
     FROM tenant_change c WHERE c.tenant_id = t.id) || '|' ||
    (SELECT count(*) || ',' || ifnull(max(id), 0) FROM delivery d WHERE d.tenant_id = t.id)";

impl Changes for SqliteStore {
    /// SQLite's `PRAGMA data_version` of this connection.
    fn change_token(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    fn data_fingerprint(&self) -> Result<DataFingerprint, StoreError> {
        const SHARED: &str = "SELECT
            (SELECT count(*) || ',' || ifnull(group_concat(code || '=' || name), '') FROM tenant) || '|' ||
            (SELECT count(*) || ',' || ifnull(max(id), 0) || ',' || ifnull(group_concat(checksum), '')
             FROM boundary_set) || '|' ||
            (SELECT version FROM store_version WHERE part = 'address')";
        const ACCESS: &str = "SELECT
            (SELECT count(*) || ',' || total(disabled) || ',' ||
                    ifnull(group_concat(role || ':' || categories || ':' || relations || ':' ||
                                        ifnull(password_hash, '')), '')
             FROM app_user) || '|' ||
            (SELECT count(*) || ',' || count(revoked_at) FROM api_token)";
        let shared = self.conn.query_row(SHARED, [], |r| r.get(0))?;
        let access = self.conn.query_row(ACCESS, [], |r| r.get(0))?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT t.code, {TENANT_PRINT} FROM tenant t ORDER BY t.code"
        ))?;
        let tenants = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<BTreeMap<String, String>, _>>()?;
        Ok(DataFingerprint {
            shared,
            tenants,
            access,
        })
    }

    fn tenant_fingerprint(&self, tenant: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {TENANT_PRINT} FROM tenant t WHERE t.code = ?1"),
                [tenant],
                |r| r.get(0),
            )
            .optional()?)
    }
}

/// Mark the BAG addresses as changed in `tx` (migration 11's `store_version` row, read by the change
/// fingerprint): every write of the `address` or `pand` table calls this in its transaction.
fn bump_address_version(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE store_version SET version = version + 1 WHERE part = 'address'",
        [],
    )?;
    Ok(())
}

/// `0153`, `GM0153` or `gm153`... -> `GM0153`; `None` when it is not 1 to 4 digits after an optional `GM`.
pub fn normalize_gemeentecode(raw: &str) -> Option<String> {
    let t = raw.trim();
    let digits = match t.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("GM") => &t[2..],
        _ => t,
    };
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("GM{digits:0>4}"))
}

#[cfg(test)]
mod gemeente_tests {
    use super::*;

    #[test]
    fn gemeente_codes_normalise_or_are_refused() {
        assert_eq!(normalize_gemeentecode("0153").as_deref(), Some("GM0153"));
        assert_eq!(normalize_gemeentecode(" gm153 ").as_deref(), Some("GM0153"));
        assert_eq!(normalize_gemeentecode("GM0034").as_deref(), Some("GM0034"));
        for bad in ["", "GM", "01530", "GMxx", "é1", "BU0153"] {
            assert_eq!(normalize_gemeentecode(bad), None, "{bad}");
        }
    }

    #[test]
    fn tenant_gemeenten_are_replaced_as_a_whole() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.add_tenant("enschede", "Gemeente Enschede").unwrap();
        assert!(s.tenant_gemeenten("enschede").unwrap().is_empty());
        s.set_tenant_gemeenten("enschede", &["153".into(), "GM0158".into(), "0153".into()])
            .unwrap();
        assert_eq!(
            s.tenant_gemeenten("enschede").unwrap(),
            ["GM0153", "GM0158"]
        );
        let err = s
            .set_tenant_gemeenten("enschede", &["0164".into(), "x".into()])
            .unwrap_err();
        assert!(matches!(err, StoreError::GemeenteCode(ref c) if c == "x"));
        assert_eq!(
            s.tenant_gemeenten("enschede").unwrap(),
            ["GM0153", "GM0158"]
        );
        s.set_tenant_gemeenten("enschede", &[]).unwrap();
        assert!(s.tenant_gemeenten("enschede").unwrap().is_empty());
        assert!(s.tenant_gemeenten("hengelo").is_err());
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;
    use crate::access::Role;
    use crate::audit::AuditEntry;
    use crate::store::PrivacyStore;

    #[test]
    fn audit_records_leave_the_data_fingerprint_alone_and_data_changes_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("b.db")).unwrap();
        let before = store.data_fingerprint().unwrap();
        store
            .append_audit(&AuditEntry {
                actor: "jan".into(),
                tenant: "default".into(),
                action: "view_address_level".into(),
                endpoint: "/api/incidents.csv".into(),
                filter: "".into(),
                records: 3,
            })
            .unwrap();
        assert_eq!(store.data_fingerprint().unwrap(), before);
        let square: geo_types::MultiPolygon<f64> = geo_types::Rect::new((0.0, 0.0), (10.0, 10.0))
            .to_polygon()
            .into();
        store
            .insert_custom_area("default", "proef", &square)
            .unwrap();
        let with_area = store.data_fingerprint().unwrap();
        assert_ne!(with_area, before);
        store.add_user("default", "jan", Role::Viewer, &[]).unwrap();
        let with_user = store.data_fingerprint().unwrap();
        assert_ne!(with_user, with_area);
        store.disable_user("jan").unwrap();
        assert_ne!(store.data_fingerprint().unwrap(), with_user);
    }

    #[test]
    fn a_scan_in_two_halves_reads_what_one_reads() {
        use crate::dataset::IncidentTable;
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("b.db")).unwrap();
        let at = |d: u32| {
            chrono::NaiveDate::from_ymd_opt(2024, 3, d)
                .and_then(|d| d.and_hms_opt(12, 0, 0))
                .unwrap()
        };
        let incidents: Vec<IncidentRecord> = (1..=9u32)
            .map(|k| IncidentRecord {
                line: u64::from(k),
                registration: format!("R{k}"),
                begin: at(k),
                end: at(k),
                time_known: true,
                category_code: Some(["1.1.1", "2.2.1"][(k % 2) as usize].into()),
                category_label: None,
                street: None,
                huisnummer: None,
                huisletter: None,
                toevoeging: None,
                postcode: None,
                plaats: None,
                bag_id: None,
                x_m: (k % 3 != 0).then_some(155_000.0 + f64::from(k)),
                y_m: (k % 3 != 0).then_some(463_000.0),
                buurtcode: (k % 4 != 0).then(|| format!("BU000000{}", k % 2)),
                located_by: LocatedBy::Coordinates,
                match_kind: None,
                match_score: None,
                extra: Default::default(),
                content_hash: format!("h{k}"),
            })
            .collect();
        let meta = DeliveryMeta {
            tenant: "default".into(),
            source: "politie".into(),
            kind: "incidents".into(),
            file_name: "a.csv".into(),
            checksum: "c".into(),
            total_rows: 9,
        };
        store
            .store_incident_delivery(&meta, &incidents, &[])
            .unwrap();
        let tenant = SqliteStore::tenant_id(&store.conn, "default").unwrap();
        let view = |t: &IncidentTable| {
            t.rows()
                .iter()
                .map(|r| {
                    (
                        r.id,
                        r.begin_min,
                        r.x_m.to_bits(),
                        t.categories().get(usize::from(r.category)).cloned(),
                        t.buurtcodes().get(r.buurt as usize).cloned(),
                        t.sources()[usize::from(r.source)].clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut whole = HashMap::from([(tenant, IncidentTable::default())]);
        store
            .scan_incidents(Some(tenant), &mut whole, i64::MAX)
            .unwrap();
        let mut halves = HashMap::from([(tenant, IncidentTable::default())]);
        store.scan_incidents(None, &mut halves, 1).unwrap();
        assert_eq!(whole[&tenant].len(), 9);
        assert_eq!(view(&halves[&tenant]), view(&whole[&tenant]));
        let table = store.tenant_table("default").unwrap();
        assert_eq!(view(&table.incidents), view(&whole[&tenant]));
    }

    #[test]
    fn the_change_token_moves_when_another_connection_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let watcher = SqliteStore::open(&path).unwrap();
        let mut writer = SqliteStore::open(&path).unwrap();
        let before = watcher.change_token().unwrap();
        assert_eq!(watcher.change_token().unwrap(), before);
        writer.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
        assert_ne!(watcher.change_token().unwrap(), before);
    }
}

#[cfg(test)]
mod bulk_tests {
    use super::*;

    fn record(registration: &str, hash: &str, line: u64) -> IncidentRecord {
        let begin = chrono::NaiveDate::from_ymd_opt(2024, 3, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        IncidentRecord {
            line,
            registration: registration.into(),
            begin,
            end: begin,
            time_known: true,
            category_code: Some("1.1.1".into()),
            category_label: Some("Diefstal/inbraak woning".into()),
            street: None,
            huisnummer: None,
            huisletter: None,
            toevoeging: None,
            postcode: None,
            plaats: None,
            bag_id: None,
            x_m: Some(155_000.0),
            y_m: Some(463_000.0),
            buurtcode: None,
            located_by: LocatedBy::Coordinates,
            match_kind: None,
            match_score: None,
            extra: Default::default(),
            content_hash: hash.into(),
        }
    }

    fn meta(checksum: &str, rows: u64) -> DeliveryMeta {
        DeliveryMeta {
            tenant: "default".into(),
            source: "politie".into(),
            kind: "incidents".into(),
            file_name: format!("{checksum}.csv"),
            checksum: checksum.into(),
            total_rows: rows,
        }
    }

    /// (incidents_version, incident_count) of the default tenant.
    fn change_record(store: &SqliteStore) -> (i64, i64) {
        store
            .connection()
            .query_row(
                "SELECT incidents_version, incident_count FROM tenant_change
                 WHERE tenant_id = (SELECT id FROM tenant WHERE code = 'default')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    fn schema_of_incident(store: &SqliteStore) -> Vec<(String, String)> {
        let mut stmt = store
            .connection()
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'incident' AND sql IS NOT NULL
                 ORDER BY name",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows
    }

    #[test]
    fn the_known_insert_trigger_is_the_migrations_one() {
        let store = SqliteStore::open_in_memory().unwrap();
        let sql: String = store
            .connection()
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'tenant_change_insert'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            collapse_whitespace(&sql),
            collapse_whitespace(COUNTER_TRIGGER_SQL)
        );
    }

    /// A bulk load (the first delivery into an empty table) counts its rows in the change record exactly as
    /// the per-row trigger does for a small delivery, and leaves the schema (trigger, period index) and the
    /// connection's temp_store as they were; a bulk load that is abandoned changes nothing.
    #[test]
    fn a_bulk_load_keeps_the_change_record_exact_and_the_schema_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("b.db")).unwrap();
        let schema = schema_of_incident(&store);
        let temp_store: i64 = store
            .connection()
            .query_row("PRAGMA temp_store", [], |r| r.get(0))
            .unwrap();
        assert_eq!(change_record(&store), (0, 0));

        // Abandoned halfway: rolled back, trigger and index still there.
        let mut sink = store.incident_sink(&meta("c0", 40), 40).unwrap().unwrap();
        for i in 0..40 {
            sink.push(record(&format!("R{i}"), "h", i + 2)).unwrap();
        }
        drop(sink);
        assert_eq!(change_record(&store), (0, 0));
        assert_eq!(schema_of_incident(&store), schema);

        // 70 new rows (two full multi-row inserts and 6 single ones), bulk: the trigger is suspended.
        let rows: Vec<IncidentRecord> = (0..70)
            .map(|i| record(&format!("R{i}"), "h", i + 2))
            .collect();
        let o = store
            .store_incident_delivery(&meta("c1", 70), &rows, &[])
            .unwrap();
        assert_eq!((o.inserted, o.replaced, o.unchanged), (70, 0, 0));
        assert_eq!(change_record(&store), (70, 70));
        assert_eq!(schema_of_incident(&store), schema);
        let (count, extra): (i64, i64) = store
            .connection()
            .query_row(
                "SELECT count(*), sum(extra_json = '{}') FROM incident",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((count, extra), (70, 70));

        // A re-delivery of all 70 (bulk again: 70 >= 70 / 2) with 10 changed rows: each replacement deletes
        // (trigger: version + 1, count - 1) and inserts (counted at the end: version + 1, count + 1).
        let mut again = rows.clone();
        for r in again.iter_mut().take(10) {
            r.content_hash = "h2".into();
        }
        again[3].extra.insert("meldkamer".into(), "Noord".into());
        let o = store
            .store_incident_delivery(&meta("c2", 70), &again, &[])
            .unwrap();
        assert_eq!((o.inserted, o.replaced, o.unchanged), (0, 10, 60));
        assert_eq!(change_record(&store), (90, 70));
        let extra: String = store
            .connection()
            .query_row(
                "SELECT extra_json FROM incident WHERE registration = 'R3'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(extra, r#"{"meldkamer":"Noord"}"#);

        // A small delivery into the now larger table runs the trigger row by row: the same counting.
        let o = store
            .store_incident_delivery(&meta("c3", 1), &[record("R999", "h", 2)], &[])
            .unwrap();
        assert_eq!(o.inserted, 1);
        assert_eq!(change_record(&store), (91, 71));
        assert_eq!(schema_of_incident(&store), schema);
        let after: i64 = store
            .connection()
            .query_row("PRAGMA temp_store", [], |r| r.get(0))
            .unwrap();
        assert_eq!(after, temp_store);
    }
}
