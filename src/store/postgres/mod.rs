//! The PostgreSQL/PostGIS backend of the store traits ([`Store`], [`PrivacyStore`], [`Changes`]), selected by a
//! `postgres://` or `postgresql://` location (`--db`, `BRANDPUNT_DB`). Same semantics as the SQLite store
//! (versions with history, idempotent deliveries, the audit hash chain, retention, users, tokens and grants,
//! custom areas); the store conformance suite runs on both. Geometry is PostGIS `geometry(MultiPolygon, 28992)`
//! written and read as WKB, so GIS staff can query the areas (and the view `incident_point`) directly.
//!
//! Every method is one transaction that first sets `brandpunt.tenant` for itself (`set_config(..., true)`): the
//! id of the tenant it works on, or `all` for the few cross-tenant operations (change detection, sign-in and
//! user administration, re-assigning buurtcodes after a boundary import). Row-level security on every
//! tenant-owned table (see [`migrations`]) shows a transaction only the rows of that tenant, in addition to the
//! explicit `tenant_id` filter every query keeps.
//!
//! # Roles
//! The serving role must not own the tables and must not be a superuser or have `BYPASSRLS` (either would skip
//! row-level security). A set-up (as a superuser; PostGIS needs one to be installed):
//! ```sql
//! CREATE ROLE brandpunt_owner LOGIN PASSWORD '...';   -- runs the migrations (any brandpunt command)
//! CREATE ROLE brandpunt_app LOGIN PASSWORD '...';     -- `brandpunt serve`, imports
//! CREATE DATABASE brandpunt OWNER brandpunt_owner;
//! \c brandpunt
//! CREATE EXTENSION postgis;
//! ALTER DEFAULT PRIVILEGES FOR ROLE brandpunt_owner GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO brandpunt_app;
//! ALTER DEFAULT PRIVILEGES FOR ROLE brandpunt_owner GRANT USAGE, SELECT ON SEQUENCES TO brandpunt_app;
//! ```
//! Then once, and after each upgrade of brandpunt, any command as the owner brings the schema up to date
//! (`brandpunt --db postgres://brandpunt_owner@host/brandpunt tenant list`); the serving role cannot change the
//! schema and reports a schema older than the program.
//!
//! Connections: one per store handle, each with a thread that drives it ([`connection`]). Deliveries of one
//! tenant are serialised by a transaction advisory lock, so its delivery ids grow in commit order (what
//! [`Store::incident_changes`] relies on); migrations run under a session advisory lock.

mod connection;
mod copy;
mod migrations;
mod privacy;
mod session;
mod sinks;

pub use connection::redact as redact_location;

use super::sqlite::{from_minutes, geometry_from_wkb, geometry_to_wkb, now_utc};
use super::*;
use chrono::NaiveTime;
use connection::{get, Conn, Heard, Listener, Param};
use migrations::{CHANGES_CHANNEL, MIGRATIONS, MIGRATION_LOCK};

/// Key class of the transaction advisory lock that serialises the deliveries of one tenant.
const DELIVERY_LOCK: i32 = 0x6270_0002;
/// Key of the transaction advisory lock that serialises appends to the audit chain.
const AUDIT_LOCK: i64 = 0x6272_616e_6470_0003;

/// The value of `brandpunt.tenant` for the cross-tenant operations.
const ALL_TENANTS: &str = "all";

/// A store in a PostgreSQL database (see the module doc).
pub struct PostgresStore {
    conn: Conn,
    /// The location as given, password redacted (for messages).
    location: String,
    /// The tables whose forced row-level security `store copy` lifted inside its open transaction (so the
    /// owner may `COPY` into them); forced again before that transaction commits ([`copy`]).
    copy_unforced: Vec<String>,
    /// The `COPY` of `store copy` still open on `conn`.
    copy_open: Option<connection::OpenCopy>,
    /// The table `store copy` is copying with `COPY`, and the definitions of its plain (non-constraint) indexes,
    /// dropped when its first rows came and built again once all its rows are in ([`copy`]).
    copy_table: Option<(&'static str, Vec<String>)>,
}

/// The commits of other processes as they happen: a connection listening on the channel on which every
/// writing transaction announces the tenant whose data it changed (or `*`: shared reference data, the tenant
/// list, users, tokens; see `migrations`). Notifications arrive only while the connection lives: after
/// [`ChangeEvent::Lost`] open a new feed and compare all fingerprints, since commits in between were not heard.
pub struct ChangeFeed {
    listener: Listener,
}

impl ChangeFeed {
    /// Listen on the database at `url` (its schema must be up to date: open a [`PostgresStore`] first).
    pub fn open(url: &str) -> Result<ChangeFeed, StoreError> {
        Ok(ChangeFeed {
            listener: Listener::listen(url, CHANGES_CHANNEL)?,
        })
    }

    /// The commits announced next, waiting up to `timeout` for the first one and then collecting all that are
    /// already queued (one event for a burst of commits).
    pub fn wait(&self, timeout: std::time::Duration) -> ChangeEvent {
        let mut tenants = BTreeSet::new();
        let mut all = false;
        let mut heard = self.listener.wait(timeout);
        loop {
            match heard {
                Heard::Notice(payload) => {
                    if payload == "*" {
                        all = true;
                    } else {
                        tenants.insert(payload);
                    }
                }
                Heard::Nothing => break,
                Heard::Ended => return ChangeEvent::Lost,
            }
            heard = self.listener.try_next();
        }
        if all || !tenants.is_empty() {
            ChangeEvent::Changed { tenants, all }
        } else {
            ChangeEvent::Quiet
        }
    }
}

/// The session advisory lock of one singleton duty, held by its own connection: released when this is dropped
/// or when the connection ends (the process died, the network broke), so another replica can take the duty.
pub struct DutyLock {
    conn: Conn,
}

impl DutyLock {
    /// Take the lock `key` on a new connection to `url` when no other session holds it (`None` then).
    pub fn try_take(url: &str, key: i64) -> Result<Option<DutyLock>, StoreError> {
        let conn = Conn::connect(url)?;
        let row = conn.query_one("SELECT pg_try_advisory_lock($1)", &[&key])?;
        Ok(get::<bool>(&row, 0)?.then_some(DutyLock { conn }))
    }

    /// Whether the lock is still held: its connection still answers (a session lock lives as long as it).
    pub fn held(&self) -> bool {
        self.conn.query_one("SELECT 1", &[]).is_ok()
    }
}

impl PostgresStore {
    /// Connect to the database at `url` (`postgres://user:pass@host:port/db`, or with `?host=/socket/dir`) and
    /// bring its schema up to date (under an advisory lock). Requires PostGIS in the database.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let conn = Conn::connect(url)?;
        let store = PostgresStore {
            conn,
            location: connection::redact(url),
            copy_unforced: Vec::new(),
            copy_open: None,
            copy_table: None,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The location, password redacted.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.conn
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let result = self.migrate_locked();
        let unlocked = self
            .conn
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
        result.and(unlocked.map(|_| ()))
    }

    fn migrate_locked(&self) -> Result<(), StoreError> {
        // Looked up first: the serving role may read the table but not create anything in the schema.
        let exists = self
            .conn
            .query_one("SELECT to_regclass('schema_migration') IS NOT NULL", &[])?;
        if !get::<bool>(&exists, 0)? {
            self.conn.batch(
                "CREATE TABLE schema_migration (
                     version     integer PRIMARY KEY,
                     applied_at  timestamptz NOT NULL DEFAULT now())",
            )?;
        }
        let current = self.schema_version()?;
        let supported = MIGRATIONS.len() as i64;
        if current > supported {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported,
            });
        }
        if current < supported {
            let postgis = self.conn.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')",
                &[],
            )?;
            if !get::<bool>(&postgis, 0)? {
                return Err(StoreError::Open {
                    path: self.location.clone(),
                    reason: "PostGIS is not installed in this database: as a superuser, run \
                             `CREATE EXTENSION postgis;` in it (Debian/Ubuntu package postgresql-15-postgis-3 \
                             or postgis)"
                        .into(),
                });
            }
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = (i + 1) as i32;
            let run = || -> Result<(), StoreError> {
                self.conn.batch("BEGIN")?;
                self.conn.batch(sql)?;
                self.conn.execute(
                    "INSERT INTO schema_migration (version) VALUES ($1)",
                    &[&version],
                )?;
                self.conn.batch("COMMIT")
            };
            if let Err(e) = run() {
                let _ = self.conn.batch("ROLLBACK");
                return Err(e);
            }
        }
        Ok(())
    }

    /// Run `f` in one transaction whose `brandpunt.tenant` is `scope` (a tenant id or [`ALL_TENANTS`]);
    /// committed when `f` succeeds, rolled back otherwise.
    fn transaction<T, E: From<StoreError>>(
        &self,
        scope: &str,
        f: impl FnOnce(&Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        self.begin(scope, "BEGIN")?;
        match f(&self.conn) {
            Ok(v) => {
                self.conn.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                // The original error matters more than a failing rollback.
                let _ = self.conn.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// [`PostgresStore::transaction`] for reading at one moment (repeatable read, read only).
    fn snapshot<T, E: From<StoreError>>(
        &self,
        scope: &str,
        f: impl FnOnce(&Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        self.begin(scope, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let result = f(&self.conn);
        let end = self
            .conn
            .batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
        let v = result?;
        end?;
        Ok(v)
    }

    fn begin(&self, scope: &str, begin: &str) -> Result<(), StoreError> {
        self.conn.batch(begin)?;
        if let Err(e) = self
            .conn
            .execute("SELECT set_config('brandpunt.tenant', $1, true)", &[&scope])
        {
            let _ = self.conn.batch("ROLLBACK");
            return Err(e);
        }
        Ok(())
    }

    /// The row id of tenant `code` (the tenant table itself is not tenant-owned).
    fn tenant_id(conn: &Conn, code: &str) -> Result<i64, StoreError> {
        match conn.query_opt("SELECT id FROM tenant WHERE code = $1", &[&code])? {
            Some(r) => get(&r, 0),
            None => Err(StoreError::UnknownTenant(code.to_string())),
        }
    }

    /// Run `f` in a transaction scoped to tenant `code`; `f` gets the tenant's row id.
    fn for_tenant<T, E: From<StoreError>>(
        &self,
        code: &str,
        f: impl FnOnce(&Conn, i64) -> Result<T, E>,
    ) -> Result<T, E> {
        let id = Self::tenant_id(&self.conn, code)?;
        self.transaction(&id.to_string(), |c| f(c, id))
    }

    fn newest_year(conn: &Conn) -> Result<Option<i32>, StoreError> {
        get(
            &conn.query_one("SELECT max(year) FROM boundary_set", &[])?,
            0,
        )
    }

    fn mark_of(conn: &Conn, tenant_id: i64) -> Result<IncidentMark, StoreError> {
        let r = conn.query_one(
            "SELECT (SELECT coalesce(max(id), 0) FROM delivery WHERE tenant_id = $1),
                    (SELECT 'areas ' || coalesce(max(areas_version), 0) || ' attributes ' ||
                            coalesce(max(attributes_version), 0) FROM tenant_change WHERE tenant_id = $1)",
            &[&tenant_id],
        )?;
        Ok(IncidentMark {
            delivery: get(&r, 0)?,
            other: get(&r, 1)?,
        })
    }

    /// Open a delivery inside the current transaction (scoped to the tenant): waits for the tenant's other
    /// deliveries, then returns the new delivery's id, or `None` when the file was already imported.
    fn begin_delivery_in(
        conn: &Conn,
        tenant_id: i64,
        meta: &DeliveryMeta,
    ) -> Result<Option<i64>, StoreError> {
        let key = i32::try_from(tenant_id).unwrap_or(i32::MAX);
        conn.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&DELIVERY_LOCK, &key],
        )?;
        let known = conn.query_opt(
            "SELECT id FROM delivery WHERE tenant_id = $1 AND source = $2 AND checksum = $3",
            &[&tenant_id, &meta.source, &meta.checksum],
        )?;
        if known.is_some() {
            return Ok(None);
        }
        let row = conn.query_one(
            "INSERT INTO delivery (tenant_id, source, kind, file_name, checksum, imported_at, total_rows,
                                   inserted, replaced, unchanged, reported)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, 0) RETURNING id",
            &[
                &tenant_id,
                &meta.source,
                &meta.kind,
                &meta.file_name,
                &meta.checksum,
                &now_utc(),
                &(meta.total_rows as i64),
            ],
        )?;
        Ok(Some(get(&row, 0)?))
    }

    fn finish_delivery(conn: &Conn, id: i64, o: &DeliveryOutcome) -> Result<(), StoreError> {
        conn.execute(
            "UPDATE delivery SET inserted = $2, replaced = $3, unchanged = $4, reported = $5 WHERE id = $1",
            &[
                &id,
                &(o.inserted as i64),
                &(o.replaced as i64),
                &(o.unchanged as i64),
                &(o.reported as i64),
            ],
        )?;
        Ok(())
    }

    /// Store a delivery of keyed values (open data, indicators) in one transaction, as SQLite does: `same`
    /// looks a row's key up (`None` = absent, `Some(equal)`), `upsert` writes it.
    fn store_keyed_values<T>(
        &mut self,
        meta: &DeliveryMeta,
        rows: &[T],
        same: impl Fn(&Conn, i64, &T) -> Result<Option<bool>, StoreError>,
        upsert: impl Fn(&Conn, i64, i64, &T) -> Result<(), StoreError>,
    ) -> Result<DeliveryOutcome, StoreError> {
        self.for_tenant(&meta.tenant, |c, tenant_id| {
            let Some(delivery_id) = Self::begin_delivery_in(c, tenant_id, meta)? else {
                return Ok(DeliveryOutcome {
                    already_imported: true,
                    ..Default::default()
                });
            };
            let mut outcome = DeliveryOutcome {
                delivery_id: Some(delivery_id),
                ..Default::default()
            };
            for r in rows {
                match same(c, tenant_id, r)? {
                    Some(true) => outcome.unchanged += 1,
                    Some(false) => {
                        outcome.replaced += 1;
                        upsert(c, tenant_id, delivery_id, r)?;
                    }
                    None => {
                        outcome.inserted += 1;
                        upsert(c, tenant_id, delivery_id, r)?;
                    }
                }
            }
            Self::finish_delivery(c, delivery_id, &outcome)?;
            Ok(outcome)
        })
    }

    /// Build the WHERE clause (numbered from `$first`) and its parameters for an incident filter on alias `i`.
    fn filter_sql(
        tenant_id: i64,
        f: &IncidentFilter,
        first: usize,
    ) -> (String, Vec<Box<dyn tokio_postgres::types::ToSql + Sync>>) {
        let mut params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync>> =
            vec![Box::new(tenant_id)];
        let mut sql = format!("i.tenant_id = ${first}");
        let next = |params: &mut Vec<_>, value: Box<dyn tokio_postgres::types::ToSql + Sync>| {
            params.push(value);
            format!("${}", first + params.len() - 1)
        };
        if !f.categories.is_empty() {
            let p = next(&mut params, Box::new(f.categories.clone()));
            sql.push_str(&format!(" AND i.category_code = ANY({p})"));
        }
        if !f.sources.is_empty() {
            let p = next(&mut params, Box::new(f.sources.clone()));
            sql.push_str(&format!(" AND i.source = ANY({p})"));
        }
        if let Some(from) = f.from {
            let p = next(
                &mut params,
                Box::new(super::sqlite::to_minutes(from.and_time(NaiveTime::MIN))),
            );
            sql.push_str(&format!(" AND i.begin_min >= {p}"));
        }
        if let Some(to) = f.to {
            // Through 23:59 of the last day, as the SQLite store reads it.
            let p = next(
                &mut params,
                Box::new(super::sqlite::to_minutes(to.and_time(NaiveTime::MIN)) + 24 * 60 - 1),
            );
            sql.push_str(&format!(" AND i.begin_min <= {p}"));
        }
        (sql, params)
    }

    /// Re-assign buurtcodes of addresses and of incidents with coordinates (all tenants), inside the current
    /// transaction.
    fn reassign_buurten(
        conn: &Conn,
        assign: &dyn Fn(f64, f64) -> Option<String>,
    ) -> Result<(), StoreError> {
        for (table, key) in [("address", "bag_id"), ("incident", "id")] {
            let select = format!(
                "SELECT {key}::text, x, y FROM {table} WHERE x IS NOT NULL AND y IS NOT NULL"
            );
            let mut keys: Vec<String> = Vec::new();
            let mut codes: Vec<Option<String>> = Vec::new();
            conn.for_each(&select, &[], |r| -> Result<(), StoreError> {
                keys.push(get(r, 0)?);
                codes.push(assign(get(r, 1)?, get(r, 2)?));
                Ok(())
            })?;
            let update = format!(
                "UPDATE {table} t SET buurtcode = u.code
                 FROM unnest($1::text[], $2::text[]) AS u(key, code)
                 WHERE t.{key}::text = u.key AND t.buurtcode IS DISTINCT FROM u.code"
            );
            for (k, c) in keys.chunks(10_000).zip(codes.chunks(10_000)) {
                conn.execute(&update, &[&k, &c])?;
            }
        }
        Ok(())
    }

    fn read_area(r: &tokio_postgres::Row) -> Result<AreaRecord, StoreError> {
        let level: String = get(r, 0)?;
        let code: String = get(r, 1)?;
        let stats: String = get(r, 8)?;
        let wkb: Vec<u8> = get(r, 9)?;
        Ok(AreaRecord {
            level: AreaLevel::parse_cbs(&level).ok_or(StoreError::InvalidValue {
                table: "area",
                column: "level",
                value: level.clone(),
            })?,
            name: get(r, 2)?,
            wijkcode: get(r, 3)?,
            gemeentecode: get(r, 4)?,
            gemeentenaam: get(r, 5)?,
            water: get(r, 6)?,
            inhabitants: get(r, 7)?,
            stats: serde_json::from_str(&stats).unwrap_or_default(),
            geometry: geometry_from_wkb(&code, &wkb)?,
            code,
        })
    }

    fn read_address(r: &tokio_postgres::Row) -> Result<AddressRecord, StoreError> {
        let kind: String = get(r, 1)?;
        let huisnummer: i64 = get(r, 4)?;
        Ok(AddressRecord {
            bag_id: get(r, 0)?,
            kind: AddressKind::parse(&kind).ok_or(StoreError::InvalidValue {
                table: "address",
                column: "kind",
                value: kind.clone(),
            })?,
            street: get(r, 2)?,
            street_short: get(r, 3)?,
            huisnummer: u32::try_from(huisnummer).map_err(|_| StoreError::InvalidValue {
                table: "address",
                column: "huisnummer",
                value: huisnummer.to_string(),
            })?,
            huisletter: get(r, 5)?,
            toevoeging: get(r, 6)?,
            postcode: get(r, 7)?,
            woonplaats: get(r, 8)?,
            bronhouder: get(r, 9)?,
            status: get(r, 10)?,
            gebruiksdoel: get(r, 11)?,
            oppervlakte_m2: get(r, 12)?,
            bouwjaar: get(r, 13)?,
            pand_id: get(r, 14)?,
            pand_status: get(r, 15)?,
            x_m: get(r, 16)?,
            y_m: get(r, 17)?,
            buurtcode: get(r, 18)?,
        })
    }
}

/// `params` as the statement parameters they are.
fn refs(params: &[Box<dyn tokio_postgres::types::ToSql + Sync>]) -> Vec<Param<'_>> {
    params.iter().map(|p| p.as_ref() as Param<'_>).collect()
}

fn read_incident_record(
    r: &tokio_postgres::Row,
) -> Result<crate::dataset::IncidentRecord, StoreError> {
    Ok(crate::dataset::IncidentRecord {
        id: get(r, 0)?,
        source: get(r, 1)?,
        begin: from_minutes(get(r, 2)?)?,
        end: from_minutes(get(r, 3)?)?,
        category_code: get(r, 4)?,
        x_m: get(r, 5)?,
        y_m: get(r, 6)?,
        buurtcode: get(r, 7)?,
    })
}

impl Store for PostgresStore {
    fn schema_version(&self) -> Result<i64, StoreError> {
        get(
            &self
                .conn
                .query_one("SELECT count(*) FROM schema_migration", &[])?,
            0,
        )
    }

    fn tenants(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.conn
            .query(
                "SELECT code, name FROM tenant ORDER BY code COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
            .collect()
    }

    fn add_tenant(&mut self, code: &str, name: &str) -> Result<(), StoreError> {
        self.transaction(ALL_TENANTS, |c| {
            if c.query_opt("SELECT 1 FROM tenant WHERE code = $1", &[&code])?
                .is_some()
            {
                return Err(StoreError::TenantExists(code.to_string()));
            }
            c.execute(
                "INSERT INTO tenant (code, name, created_at) VALUES ($1, $2, $3)",
                &[&code, &name, &now_utc()],
            )?;
            Ok(())
        })
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
        self.transaction(ALL_TENANTS, |c| {
            let n = c.execute(
                "UPDATE tenant SET name = $2 WHERE code = $1",
                &[&code, &name],
            )?;
            if n == 0 {
                return Err(StoreError::UnknownTenant(code.to_string()));
            }
            Ok(())
        })
    }

    fn tenant_gemeenten(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        self.for_tenant(tenant, |c, id| {
            c.query(
                "SELECT gemeentecode FROM tenant_gemeente WHERE tenant_id = $1 ORDER BY gemeentecode COLLATE \"C\"",
                &[&id],
            )?
            .iter()
            .map(|r| get(r, 0))
            .collect()
        })
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
        let codes: Vec<String> = codes.into_iter().collect();
        self.for_tenant(tenant, |c, id| {
            c.execute("DELETE FROM tenant_gemeente WHERE tenant_id = $1", &[&id])?;
            c.execute(
                "INSERT INTO tenant_gemeente (tenant_id, gemeentecode) SELECT $1::bigint, unnest($2::text[])",
                &[&id, &codes],
            )?;
            Ok(())
        })
    }

    fn replace_boundary_set_with(
        &mut self,
        year: i32,
        source_file: &str,
        checksum: &str,
        areas: &[AreaRecord],
        assign: &dyn Fn(f64, f64) -> Option<String>,
    ) -> Result<(), StoreError> {
        // Geometries are converted before the transaction: a bad one changes nothing.
        let mut wkbs = Vec::with_capacity(areas.len());
        for a in areas {
            wkbs.push(geometry_to_wkb(&a.code, &a.geometry)?);
        }
        self.transaction(ALL_TENANTS, |c| {
            c.execute("DELETE FROM boundary_set WHERE year = $1", &[&year])?;
            let set_id: i64 = get(
                &c.query_one(
                    "INSERT INTO boundary_set (year, source_file, checksum, imported_at)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&year, &source_file, &checksum, &now_utc()],
                )?,
                0,
            )?;
            for (a, wkb) in areas.iter().zip(&wkbs) {
                let stats = serde_json::to_string(&a.stats).unwrap_or_else(|_| "{}".to_string());
                c.execute(
                    "INSERT INTO area (boundary_set_id, level, code, name, wijkcode, gemeentecode, gemeentenaam,
                                       water, inhabitants, stats, geom)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb,
                             ST_Multi(ST_GeomFromWKB($11, 28992)))",
                    &[
                        &set_id,
                        &a.level.as_str(),
                        &a.code,
                        &a.name,
                        &a.wijkcode,
                        &a.gemeentecode,
                        &a.gemeentenaam,
                        &a.water,
                        &a.inhabitants,
                        &stats,
                        wkb,
                    ],
                )?;
            }
            if Self::newest_year(c)? == Some(year) {
                Self::reassign_buurten(c, assign)?;
            }
            // A new boundary set is thousands of areas: the planner's statistics include them at once (see
            // `sinks::ANALYZE_AFTER_ROWS`).
            c.execute("ANALYZE area, boundary_set", &[])?;
            Ok(())
        })
    }

    fn boundary_sets(&self) -> Result<Vec<BoundarySet>, StoreError> {
        self.conn
            .query(
                "SELECT b.year, b.source_file, b.checksum, b.imported_at,
                        (SELECT count(*) FROM area a WHERE a.boundary_set_id = b.id)
                 FROM boundary_set b ORDER BY b.year",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(BoundarySet {
                    year: get(r, 0)?,
                    source_file: get(r, 1)?,
                    checksum: get(r, 2)?,
                    imported_at: get(r, 3)?,
                    areas: get(r, 4)?,
                })
            })
            .collect()
    }

    fn areas(&self, level: AreaLevel, year: Option<i32>) -> Result<Vec<AreaRecord>, StoreError> {
        let year = match year {
            Some(y) => y,
            None => match Self::newest_year(&self.conn)? {
                Some(y) => y,
                None => return Ok(Vec::new()),
            },
        };
        self.conn
            .query(
                "SELECT a.level, a.code, a.name, a.wijkcode, a.gemeentecode, a.gemeentenaam, a.water, a.inhabitants,
                        a.stats::text, ST_AsBinary(a.geom)
                 FROM area a JOIN boundary_set b ON b.id = a.boundary_set_id
                 WHERE b.year = $1 AND a.level = $2 ORDER BY a.code COLLATE \"C\"",
                &[&year, &level.as_str()],
            )?
            .iter()
            .map(Self::read_area)
            .collect()
    }

    fn address_sink<'a>(
        &'a mut self,
        gemeenten: &[String],
    ) -> Result<Box<dyn AddressSink + 'a>, StoreError> {
        self.begin(ALL_TENANTS, "BEGIN")?;
        let guard = sinks::OpenTransaction::new(&self.conn);
        if gemeenten.is_empty() {
            self.conn.batch("DELETE FROM address; DELETE FROM pand;")?;
        } else {
            self.conn.execute(
                "DELETE FROM pand WHERE pand_id IN (SELECT pand_id FROM address WHERE bronhouder = ANY($1))",
                &[&gemeenten],
            )?;
            self.conn.execute(
                "DELETE FROM address WHERE bronhouder = ANY($1)",
                &[&gemeenten],
            )?;
        }
        Ok(Box::new(sinks::PgAddressSink::new(guard)))
    }

    fn for_each_address(
        &self,
        f: &mut dyn FnMut(&AddressRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.conn.for_each(
            "SELECT bag_id, kind, street, street_short, huisnummer, huisletter, toevoeging, postcode, woonplaats,
                    bronhouder, status, gebruiksdoel, oppervlakte_m2, bouwjaar, pand_id, pand_status, x, y, buurtcode
             FROM address ORDER BY bag_id COLLATE \"C\"",
            &[],
            |r| f(&Self::read_address(r)?),
        )
    }

    fn address_count(&self) -> Result<u64, StoreError> {
        let n: i64 = get(
            &self.conn.query_one("SELECT count(*) FROM address", &[])?,
            0,
        )?;
        Ok(n as u64)
    }

    fn find_delivery(
        &self,
        tenant: &str,
        source: &str,
        checksum: &str,
    ) -> Result<Option<DeliveryInfo>, StoreError> {
        Ok(self
            .deliveries(tenant)?
            .into_iter()
            .find(|d| d.source == source && d.checksum == checksum))
    }

    fn incident_sink<'a>(
        &'a mut self,
        meta: &DeliveryMeta,
        expected_rows: u64,
    ) -> Result<Option<Box<dyn IncidentSink + 'a>>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, &meta.tenant)?;
        self.begin(&tenant_id.to_string(), "BEGIN")?;
        let guard = sinks::OpenTransaction::new(&self.conn);
        let Some(delivery_id) = Self::begin_delivery_in(&self.conn, tenant_id, meta)? else {
            return Ok(None);
        };
        Ok(Some(Box::new(sinks::PgIncidentSink::new(
            guard,
            tenant_id,
            delivery_id,
            &meta.source,
            expected_rows,
        )?)))
    }

    fn deliveries(&self, tenant: &str) -> Result<Vec<DeliveryInfo>, StoreError> {
        self.for_tenant(tenant, |c, id| {
            c.query(
                "SELECT id, source, kind, file_name, checksum, imported_at, total_rows, inserted, replaced,
                        unchanged, reported
                 FROM delivery WHERE tenant_id = $1 ORDER BY id",
                &[&id],
            )?
            .iter()
            .map(|r| {
                Ok(DeliveryInfo {
                    id: get(r, 0)?,
                    tenant: tenant.to_string(),
                    source: get(r, 1)?,
                    kind: get(r, 2)?,
                    file_name: get(r, 3)?,
                    checksum: get(r, 4)?,
                    imported_at: get(r, 5)?,
                    total_rows: get(r, 6)?,
                    inserted: get(r, 7)?,
                    replaced: get(r, 8)?,
                    unchanged: get(r, 9)?,
                    reported: get(r, 10)?,
                })
            })
            .collect()
        })
    }

    fn report_rows(&self, delivery_id: i64) -> Result<Vec<ReportRecord>, StoreError> {
        // The delivery id names its tenant; the rows are read in that tenant's scope.
        let tenant: Option<i64> = {
            let r = self.transaction(ALL_TENANTS, |c| {
                c.query_opt(
                    "SELECT tenant_id FROM delivery WHERE id = $1",
                    &[&delivery_id],
                )
            })?;
            r.map(|r| get(&r, 0)).transpose()?
        };
        let Some(tenant_id) = tenant else {
            return Ok(Vec::new());
        };
        self.transaction(&tenant_id.to_string(), |c| {
            c.query(
                "SELECT line, registration, column_name, reason, outcome FROM report_row
                 WHERE delivery_id = $1 AND tenant_id = $2 ORDER BY line, id",
                &[&delivery_id, &tenant_id],
            )?
            .iter()
            .map(|r| {
                Ok(ReportRecord {
                    line: get::<i64>(r, 0)? as u64,
                    registration: get(r, 1)?,
                    column: get(r, 2)?,
                    reason: get(r, 3)?,
                    outcome: get(r, 4)?,
                })
            })
            .collect()
        })
    }

    fn incident_versions(
        &self,
        tenant: &str,
        source: &str,
        registration: &str,
    ) -> Result<i64, StoreError> {
        self.for_tenant(tenant, |c, id| {
            get(
                &c.query_one(
                    "SELECT (SELECT count(*) FROM incident WHERE tenant_id = $1 AND source = $2 AND registration = $3)
                          + (SELECT count(*) FROM incident_history
                             WHERE tenant_id = $1 AND source = $2 AND registration = $3)",
                    &[&id, &source, &registration],
                )?,
                0,
            )
        })
    }

    fn store_police_counts(
        &mut self,
        meta: &DeliveryMeta,
        rows: &[PoliceCount],
    ) -> Result<DeliveryOutcome, StoreError> {
        self.store_keyed_values(
            meta,
            rows,
            |c, _, r| {
                c.query_opt(
                    "SELECT value FROM police_count
                     WHERE table_id = $1 AND category = $2 AND region = $3 AND period = $4",
                    &[&r.table, &r.category, &r.region, &r.period],
                )?
                .map(|x| Ok(get::<Option<i64>>(&x, 0)? == r.value))
                .transpose()
            },
            |c, _, delivery_id, r| {
                c.execute(
                    "INSERT INTO police_count (table_id, category, region, period, value, delivery_id)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (table_id, category, region, period)
                     DO UPDATE SET value = EXCLUDED.value, delivery_id = EXCLUDED.delivery_id",
                    &[&r.table, &r.category, &r.region, &r.period, &r.value, &delivery_id],
                )?;
                Ok(())
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
            |c, tenant_id, r| {
                c.query_opt(
                    "SELECT value FROM indicator WHERE tenant_id = $1 AND buurtcode = $2 AND name = $3",
                    &[&tenant_id, &r.buurtcode, &r.name],
                )?
                .map(|x| Ok(get::<Option<f64>>(&x, 0)? == r.value))
                .transpose()
            },
            |c, tenant_id, delivery_id, r| {
                c.execute(
                    "INSERT INTO indicator (tenant_id, buurtcode, name, value, delivery_id)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (tenant_id, buurtcode, name)
                     DO UPDATE SET value = EXCLUDED.value, delivery_id = EXCLUDED.delivery_id",
                    &[&tenant_id, &r.buurtcode, &r.name, &r.value, &delivery_id],
                )?;
                Ok(())
            },
        )
    }

    fn store_address_attributes(
        &mut self,
        meta: &AttributeSetMeta,
        values: &[AddressAttributeValue],
    ) -> Result<AttributeSetOutcome, StoreError> {
        self.for_tenant(&meta.tenant, |c, tenant_id| {
            // One writer per tenant at a time (as deliveries): the next version number is taken safely.
            let key = i32::try_from(tenant_id).unwrap_or(i32::MAX);
            c.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[&DELIVERY_LOCK, &key],
            )?;
            if let Some(r) = c.query_opt(
                "SELECT version FROM address_attribute_set
                 WHERE tenant_id = $1 AND source = $2 AND checksum = $3",
                &[&tenant_id, &meta.source, &meta.checksum],
            )? {
                return Ok(AttributeSetOutcome {
                    set_id: None,
                    version: get(&r, 0)?,
                    already_imported: true,
                    values: 0,
                });
            }
            let version: i64 = get(
                &c.query_one(
                    "SELECT coalesce(max(version), 0) + 1 FROM address_attribute_set
                     WHERE tenant_id = $1 AND source = $2",
                    &[&tenant_id, &meta.source],
                )?,
                0,
            )?;
            let set_id: i64 = get(
                &c.query_one(
                    "INSERT INTO address_attribute_set (tenant_id, source, version, file_name, checksum,
                                                        imported_at, total_rows, rejected, value_count)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    &[
                        &tenant_id,
                        &meta.source,
                        &version,
                        &meta.file_name,
                        &meta.checksum,
                        &now_utc(),
                        &(meta.total_rows as i64),
                        &(meta.rejected as i64),
                        &(values.len() as i64),
                    ],
                )?,
                0,
            )?;
            // Arrays of bounded size per statement; a repeated (name, bag id) keeps the last value.
            for chunk in values.chunks(10_000) {
                let names: Vec<&str> = chunk.iter().map(|v| v.name.as_str()).collect();
                let ids: Vec<&str> = chunk.iter().map(|v| v.bag_id.as_str()).collect();
                let vals: Vec<f64> = chunk.iter().map(|v| v.value).collect();
                c.execute(
                    "INSERT INTO address_attribute (tenant_id, set_id, name, bag_id, value)
                     SELECT DISTINCT ON (n, b) $1::bigint, $2::bigint, n, b, v
                     FROM unnest($3::text[], $4::text[], $5::float8[]) WITH ORDINALITY AS u(n, b, v, k)
                     ORDER BY n, b, k DESC
                     ON CONFLICT (set_id, name, bag_id) DO UPDATE SET value = EXCLUDED.value",
                    &[&tenant_id, &set_id, &names, &ids, &vals],
                )?;
            }
            Ok(AttributeSetOutcome {
                set_id: Some(set_id),
                version,
                already_imported: false,
                values: values.len() as u64,
            })
        })
    }

    fn address_attribute_sets(&self, tenant: &str) -> Result<Vec<AttributeSetInfo>, StoreError> {
        self.for_tenant(tenant, |c, id| {
            c.query(
                "SELECT s.id, s.source, s.version, s.file_name, s.checksum, s.imported_at, s.total_rows,
                        s.rejected, s.value_count,
                        s.version = (SELECT max(version) FROM address_attribute_set m
                                     WHERE m.tenant_id = s.tenant_id AND m.source = s.source)
                 FROM address_attribute_set s WHERE s.tenant_id = $1
                 ORDER BY s.source COLLATE \"C\", s.version DESC",
                &[&id],
            )?
            .iter()
            .map(|r| {
                Ok(AttributeSetInfo {
                    id: get(r, 0)?,
                    source: get(r, 1)?,
                    version: get(r, 2)?,
                    file_name: get(r, 3)?,
                    checksum: get(r, 4)?,
                    imported_at: get(r, 5)?,
                    total_rows: get(r, 6)?,
                    rejected: get(r, 7)?,
                    values: get(r, 8)?,
                    current: get(r, 9)?,
                })
            })
            .collect()
        })
    }

    fn address_attributes(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<HashMap<String, f64>, StoreError> {
        self.for_tenant(tenant, |c, id| {
            let mut out = HashMap::new();
            c.for_each(
                "SELECT a.bag_id, a.value FROM address_attribute_set s
                 JOIN address_attribute a ON a.set_id = s.id AND a.name = $2
                 WHERE s.tenant_id = $1
                   AND s.version = (SELECT max(version) FROM address_attribute_set m
                                    WHERE m.tenant_id = s.tenant_id AND m.source = s.source)
                 ORDER BY s.id",
                &[&id, &name],
                |r| -> Result<(), StoreError> {
                    out.insert(get(r, 0)?, get(r, 1)?);
                    Ok(())
                },
            )?;
            Ok(out)
        })
    }

    fn address_attribute_names(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        self.for_tenant(tenant, |c, id| {
            c.query(
                "SELECT DISTINCT a.name COLLATE \"C\" FROM address_attribute_set s
                 JOIN address_attribute a ON a.set_id = s.id
                 WHERE s.tenant_id = $1
                   AND s.version = (SELECT max(version) FROM address_attribute_set m
                                    WHERE m.tenant_id = s.tenant_id AND m.source = s.source)
                 ORDER BY 1",
                &[&id],
            )?
            .iter()
            .map(|r| get(r, 0))
            .collect()
        })
    }

    fn police_counts(&self, region_prefix: Option<&str>) -> Result<Vec<PoliceCount>, StoreError> {
        self.conn
            .query(
                "SELECT table_id, category, region, period, value FROM police_count
                 WHERE $1::text IS NULL OR starts_with(region, $1::text)
                 ORDER BY table_id COLLATE \"C\", region COLLATE \"C\", period COLLATE \"C\",
                          category COLLATE \"C\"",
                &[&region_prefix],
            )?
            .iter()
            .map(|r| {
                Ok(PoliceCount {
                    table: get(r, 0)?,
                    category: get(r, 1)?,
                    region: get(r, 2)?,
                    period: get(r, 3)?,
                    value: get(r, 4)?,
                })
            })
            .collect()
    }

    fn indicators(&self, tenant: &str) -> Result<Vec<IndicatorValue>, StoreError> {
        self.for_tenant(tenant, |c, id| {
            c.query(
                "SELECT buurtcode, name, value FROM indicator WHERE tenant_id = $1 ORDER BY buurtcode COLLATE \"C\", name COLLATE \"C\"",
                &[&id],
            )?
            .iter()
            .map(|r| {
                Ok(IndicatorValue {
                    buurtcode: get(r, 0)?,
                    name: get(r, 1)?,
                    value: get(r, 2)?,
                })
            })
            .collect()
        })
    }

    fn count_by_area(
        &self,
        level: AreaLevel,
        filter: &IncidentFilter,
    ) -> Result<Vec<AreaCount>, StoreError> {
        let key = match level {
            AreaLevel::Buurt => "a.code",
            AreaLevel::Wijk => "a.wijkcode",
            AreaLevel::Gemeente => "a.gemeentecode",
            // Custom areas are not in the boundary sets: the tenant snapshot counts them.
            AreaLevel::Custom => return Ok(Vec::new()),
        };
        self.for_tenant(&filter.tenant, |c, tenant_id| {
            let Some(year) = Self::newest_year(c)? else {
                return Ok(Vec::new());
            };
            let (where_sql, params) = Self::filter_sql(tenant_id, filter, 2);
            let sql = format!(
                "SELECT {key}, coalesce(i.category_code, ''), count(*)
                 FROM incident i
                 JOIN area a ON a.code = i.buurtcode AND a.level = 'buurt'
                 JOIN boundary_set b ON b.id = a.boundary_set_id AND b.year = $1
                 WHERE {where_sql} AND i.located_by <> 'none' AND {key} IS NOT NULL
                 GROUP BY 1, 2 ORDER BY {key} COLLATE \"C\", coalesce(i.category_code, '') COLLATE \"C\""
            );
            let mut all: Vec<Param<'_>> = vec![&year];
            all.extend(refs(&params));
            c.query(&sql, &all)?
                .iter()
                .map(|r| {
                    Ok(AreaCount {
                        area_code: get(r, 0)?,
                        category: get(r, 1)?,
                        count: get(r, 2)?,
                    })
                })
                .collect()
        })
    }

    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<StoredIncident>, StoreError> {
        self.for_tenant(&filter.tenant, |c, tenant_id| {
            let (where_sql, params) = Self::filter_sql(tenant_id, filter, 1);
            let sql = format!(
                "SELECT i.id, i.source, i.registration, i.version, i.begin_min, i.end_min, i.category_code, i.x, i.y,
                        i.buurtcode, i.bag_id, i.located_by
                 FROM incident i WHERE {where_sql} ORDER BY i.begin_min, i.id"
            );
            let mut out = Vec::new();
            c.for_each(&sql, &refs(&params), |r| -> Result<(), StoreError> {
                out.push(StoredIncident {
                    id: get(r, 0)?,
                    source: get(r, 1)?,
                    registration: get(r, 2)?,
                    version: get(r, 3)?,
                    begin: from_minutes(get(r, 4)?)?,
                    end: from_minutes(get(r, 5)?)?,
                    category_code: get(r, 6)?,
                    x_m: get(r, 7)?,
                    y_m: get(r, 8)?,
                    buurtcode: get(r, 9)?,
                    bag_id: get(r, 10)?,
                    located_by: get(r, 11)?,
                });
                Ok(())
            })?;
            Ok(out)
        })
    }

    fn for_each_linked_incident(
        &self,
        filter: &IncidentFilter,
        f: &mut dyn FnMut(LinkedIncident) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.for_tenant(&filter.tenant, |c, tenant_id| {
            let mut personal: HashMap<i64, Vec<PersonalColumn>> = HashMap::new();
            for r in c.query(
                "SELECT delivery_id, role, kind, key_id FROM delivery_personal WHERE tenant_id = $1",
                &[&tenant_id],
            )? {
                let kind: String = get(&r, 2)?;
                let kind = crate::pseudonym::IdentifierKind::parse(&kind).ok_or(
                    StoreError::InvalidValue {
                        table: "delivery_personal",
                        column: "kind",
                        value: kind,
                    },
                )?;
                personal
                    .entry(get(&r, 0)?)
                    .or_default()
                    .push(PersonalColumn {
                        role: get(&r, 1)?,
                        kind,
                        key_id: get(&r, 3)?,
                    });
            }
            let (where_sql, params) = Self::filter_sql(tenant_id, filter, 1);
            let sql = format!(
                "SELECT i.id, i.source, i.registration, i.begin_min, i.category_code, i.bag_id, i.delivery_id,
                        i.extra::text
                 FROM incident i WHERE {where_sql} ORDER BY i.begin_min, i.id"
            );
            c.for_each(&sql, &refs(&params), |r| -> Result<(), StoreError> {
                let delivery_id: i64 = get(r, 6)?;
                let mut pseudonyms = Vec::new();
                if let Some(columns) = personal.get(&delivery_id) {
                    let extra_json: String = get(r, 7)?;
                    let extra: BTreeMap<String, serde_json::Value> =
                        serde_json::from_str(&extra_json).map_err(|_| StoreError::InvalidValue {
                            table: "incident",
                            column: "extra",
                            value: extra_json.chars().take(40).collect(),
                        })?;
                    for col in columns {
                        if let Some(p) = extra.get(&col.role).and_then(|v| v.as_str()) {
                            if !p.is_empty() {
                                pseudonyms.push(StoredPseudonym {
                                    pseudonym: p.to_string(),
                                    kind: col.kind,
                                    role: col.role.clone(),
                                    key_id: col.key_id.clone(),
                                });
                            }
                        }
                    }
                    pseudonyms
                        .sort_by(|a, b| (&a.role, &a.pseudonym).cmp(&(&b.role, &b.pseudonym)));
                }
                f(LinkedIncident {
                    id: get(r, 0)?,
                    source: get(r, 1)?,
                    registration: get(r, 2)?,
                    begin: from_minutes(get(r, 3)?)?,
                    category_code: get(r, 4)?,
                    bag_id: get(r, 5)?,
                    pseudonyms,
                })
            })
        })
    }

    fn incident_details(
        &self,
        tenant: &str,
        ids: &[i64],
    ) -> Result<Vec<IncidentDetail>, StoreError> {
        self.for_tenant(tenant, |c, tenant_id| {
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(10_000) {
                let chunk = chunk.to_vec();
                for r in c.query(
                    "SELECT i.id, i.registration, i.source, i.category_code, i.located_by,
                            a.street, a.huisnummer, a.huisletter, a.toevoeging, a.postcode, i.buurtcode
                     FROM incident i
                     LEFT JOIN address a ON a.bag_id = i.bag_id AND i.located_by = 'address'
                     WHERE i.tenant_id = $1 AND i.id = ANY($2)",
                    &[&tenant_id, &chunk],
                )? {
                    out.push(IncidentDetail {
                        id: get(&r, 0)?,
                        registration: get(&r, 1)?,
                        source: get(&r, 2)?,
                        category_code: get(&r, 3)?,
                        located_by: get(&r, 4)?,
                        street: get(&r, 5)?,
                        huisnummer: get(&r, 6)?,
                        huisletter: get(&r, 7)?,
                        toevoeging: get(&r, 8)?,
                        postcode: get(&r, 9)?,
                        buurtcode: get(&r, 10)?,
                    });
                }
            }
            Ok(out)
        })
    }

    fn incident_mark(&self, tenant: &str) -> Result<IncidentMark, StoreError> {
        self.for_tenant(tenant, Self::mark_of)
    }

    fn incident_changes(
        &self,
        tenant: &str,
        since: &IncidentMark,
    ) -> Result<Option<IncidentChanges>, StoreError> {
        let tenant_id = Self::tenant_id(&self.conn, tenant)?;
        // One repeatable-read transaction: the mark, the rows and the count belong to one moment.
        self.snapshot(&tenant_id.to_string(), |c| {
            let mark = Self::mark_of(c, tenant_id)?;
            if mark.other != since.other {
                return Ok(None);
            }
            let mut written = Vec::new();
            let mut superseded = Vec::new();
            if mark.delivery != since.delivery {
                for r in c.query(
                    "SELECT id, source, begin_min, end_min, category_code, x, y, buurtcode
                     FROM incident WHERE delivery_id > $1 AND tenant_id = $2",
                    &[&since.delivery, &tenant_id],
                )? {
                    written.push(read_incident_record(&r)?);
                }
                written.sort_by_key(|i| (i.begin, i.id));
                // The archived record keeps the version's begin to the minute (`sinks::ARCHIVE_INCIDENT_SQL`).
                for r in c.query(
                    "SELECT incident_id, record->>'begin_ts' FROM incident_history
                     WHERE superseded_by > $1 AND tenant_id = $2",
                    &[&since.delivery, &tenant_id],
                )? {
                    let begin: String = get(&r, 1)?;
                    let begin = chrono::NaiveDateTime::parse_from_str(&begin, "%Y-%m-%dT%H:%M")
                        .map_err(|_| StoreError::InvalidValue {
                            table: "incident_history",
                            column: "record",
                            value: begin.clone(),
                        })?;
                    superseded.push(crate::dataset::SupersededVersion {
                        id: get(&r, 0)?,
                        begin,
                    });
                }
                superseded.sort_unstable();
            }
            let current: i64 = get(
                &c.query_one(
                    "SELECT incident_count FROM tenant_change WHERE tenant_id = $1",
                    &[&tenant_id],
                )?,
                0,
            )?;
            Ok(Some(IncidentChanges {
                mark,
                delta: crate::dataset::IncidentDelta {
                    written,
                    superseded,
                },
                current: current.max(0) as u64,
            }))
        })
    }

    fn tenant_table(&self, tenant: &str) -> Result<crate::dataset::TenantTable, StoreError> {
        let (name, areas) = self.tenant_areas(tenant)?;
        let incidents = self.for_tenant(tenant, |c, tenant_id| {
            let count: i64 = c
                .query_opt(
                    "SELECT incident_count FROM tenant_change WHERE tenant_id = $1",
                    &[&tenant_id],
                )?
                .map(|r| get(&r, 0))
                .transpose()?
                .unwrap_or(0);
            let mut table =
                crate::dataset::IncidentTable::with_capacity(usize::try_from(count).unwrap_or(0));
            c.for_each(
                "SELECT id, source, begin_min, end_min, category_code, x, y, buurtcode
                 FROM incident WHERE tenant_id = $1",
                &[&tenant_id],
                |r| -> Result<(), StoreError> {
                    let id: i64 = get(r, 0)?;
                    let source: &str = get(r, 1)?;
                    let (x, y): (Option<f64>, Option<f64>) = (get(r, 5)?, get(r, 6)?);
                    table
                        .push(
                            id,
                            source,
                            get(r, 2)?,
                            get(r, 3)?,
                            get(r, 4)?,
                            x.zip(y),
                            get(r, 7)?,
                        )
                        .map_err(|e| match e {
                            crate::dataset::IncidentTableError::Moment { minutes, .. } => {
                                StoreError::InvalidValue {
                                    table: "incident",
                                    column: "begin_min/end_min",
                                    value: minutes.to_string(),
                                }
                            }
                        })
                },
            )?;
            Ok::<_, StoreError>(table)
        })?;
        Ok(crate::dataset::TenantTable {
            code: tenant.to_string(),
            name,
            areas,
            incidents,
        })
    }

    fn custom_areas(&self, tenant: &str) -> Result<Vec<CustomArea>, StoreError> {
        self.for_tenant(tenant, |c, tenant_id| {
            c.query(
                "SELECT id, name, ST_AsBinary(geom), created_at, updated_at, created_by FROM custom_area
                 WHERE tenant_id = $1 ORDER BY id",
                &[&tenant_id],
            )?
            .iter()
            .map(|r| {
                let id: i64 = get(r, 0)?;
                let wkb: Vec<u8> = get(r, 2)?;
                Ok(CustomArea {
                    id,
                    name: get(r, 1)?,
                    geometry: geometry_from_wkb(&format!("custom:{id}"), &wkb)?,
                    created_at: get(r, 3)?,
                    updated_at: get(r, 4)?,
                    created_by: get(r, 5)?,
                })
            })
            .collect()
        })
    }

    fn insert_custom_area_by(
        &mut self,
        tenant: &str,
        name: &str,
        geometry: &MultiPolygon<f64>,
        created_by: Option<&str>,
    ) -> Result<i64, StoreError> {
        let wkb = geometry_to_wkb(name, geometry)?;
        self.for_tenant(tenant, |c, tenant_id| {
            let now = now_utc();
            get(
                &c.query_one(
                    "INSERT INTO custom_area (tenant_id, name, geom, created_at, updated_at, created_by)
                     VALUES ($1, $2, ST_Multi(ST_GeomFromWKB($3, 28992)), $4, $4, $5) RETURNING id",
                    &[&tenant_id, &name, &wkb, &now, &created_by],
                )?,
                0,
            )
        })
    }

    fn custom_area_owner(
        &self,
        tenant: &str,
        id: i64,
    ) -> Result<Option<Option<String>>, StoreError> {
        self.for_tenant(tenant, |c, tenant_id| {
            c.query_opt(
                "SELECT created_by FROM custom_area WHERE id = $1 AND tenant_id = $2",
                &[&id, &tenant_id],
            )?
            .map(|r| get(&r, 0))
            .transpose()
        })
    }

    fn update_custom_area(
        &mut self,
        tenant: &str,
        id: i64,
        name: &str,
        geometry: &MultiPolygon<f64>,
    ) -> Result<bool, StoreError> {
        let wkb = geometry_to_wkb(name, geometry)?;
        self.for_tenant(tenant, |c, tenant_id| {
            let n = c.execute(
                "UPDATE custom_area SET name = $1, geom = ST_Multi(ST_GeomFromWKB($2, 28992)), updated_at = $3
                 WHERE id = $4 AND tenant_id = $5",
                &[&name, &wkb, &now_utc(), &id, &tenant_id],
            )?;
            Ok(n > 0)
        })
    }

    fn delete_custom_area(&mut self, tenant: &str, id: i64) -> Result<bool, StoreError> {
        self.for_tenant(tenant, |c, tenant_id| {
            let n = c.execute(
                "DELETE FROM custom_area WHERE id = $1 AND tenant_id = $2",
                &[&id, &tenant_id],
            )?;
            Ok(n > 0)
        })
    }
}

/// The fingerprint of the tenant row `t`, from the tenant's change record (kept by the triggers of migration 1)
/// and its deliveries: a few rows read, whatever the number of incidents.
const TENANT_PRINT: &str = "
    (SELECT incidents_version || ',' || incident_count || ',' || areas_version || ',' || attributes_version
     FROM tenant_change c WHERE c.tenant_id = t.id) || '|' ||
    (SELECT count(*) || ',' || coalesce(max(id), 0) FROM delivery d WHERE d.tenant_id = t.id)";

impl Changes for PostgresStore {
    /// A hash of [`Changes::data_fingerprint`] and the last audit sequence number: every commit of the store
    /// changes one of them, and reading them takes no lock a writer waits for.
    fn change_token(&self) -> Result<i64, StoreError> {
        use std::hash::{Hash, Hasher};
        let print = self.data_fingerprint()?;
        let audit: i64 = get(
            &self
                .conn
                .query_one("SELECT coalesce(max(seq), 0) FROM audit_log", &[])?,
            0,
        )?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&print.shared, &print.tenants, &print.access, audit).hash(&mut h);
        Ok(h.finish() as i64)
    }

    fn data_fingerprint(&self) -> Result<DataFingerprint, StoreError> {
        self.snapshot(ALL_TENANTS, |c| {
            let r = c.query_one(
                "SELECT (SELECT count(*) || ',' || coalesce(string_agg(code || '=' || name, ',' ORDER BY code COLLATE \"C\"), '')
                         FROM tenant) || '|' ||
                        (SELECT version::text FROM store_version WHERE part = 'shared'),
                        (SELECT version::text FROM store_version WHERE part = 'access')",
                &[],
            )?;
            let tenants = c
                .query(
                    &format!("SELECT t.code, {TENANT_PRINT} FROM tenant t ORDER BY t.code COLLATE \"C\""),
                    &[],
                )?
                .iter()
                .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
                .collect::<Result<BTreeMap<String, String>, StoreError>>()?;
            Ok(DataFingerprint {
                shared: get(&r, 0)?,
                tenants,
                access: get(&r, 1)?,
            })
        })
    }

    fn tenant_fingerprint(&self, tenant: &str) -> Result<Option<String>, StoreError> {
        let Ok(tenant_id) = Self::tenant_id(&self.conn, tenant) else {
            return Ok(None);
        };
        self.snapshot(&tenant_id.to_string(), |c| {
            c.query_opt(
                &format!("SELECT {TENANT_PRINT} FROM tenant t WHERE t.id = $1"),
                &[&tenant_id],
            )?
            .map(|r| get(&r, 0))
            .transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_number_their_parameters_after_the_first() {
        let f = IncidentFilter {
            tenant: "t".into(),
            categories: vec!["1.1.1".into()],
            sources: vec!["politie".into()],
            from: chrono::NaiveDate::from_ymd_opt(2024, 3, 1),
            to: chrono::NaiveDate::from_ymd_opt(2024, 3, 1),
        };
        let (sql, params) = PostgresStore::filter_sql(7, &f, 2);
        assert_eq!(
            sql,
            "i.tenant_id = $2 AND i.category_code = ANY($3) AND i.source = ANY($4) \
             AND i.begin_min >= $5 AND i.begin_min <= $6"
        );
        assert_eq!(params.len(), 5);
    }

    #[test]
    fn an_unreachable_server_is_an_open_error_without_the_password() {
        // Port 1 on the loopback: refused at once.
        let err =
            PostgresStore::open("postgres://app:geheim@127.0.0.1:1/brandpunt?connect_timeout=2")
                .err()
                .expect("nothing listens on port 1");
        let text = err.to_string();
        assert!(
            text.starts_with("database postgres://app:***@127.0.0.1:1/"),
            "{text}"
        );
        assert!(!text.contains("geheim"), "{text}");
    }
}
