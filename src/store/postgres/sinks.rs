//! The streaming writers of the PostgreSQL store: one incident delivery ([`PgIncidentSink`], bulk rows through
//! `COPY ... (FORMAT binary)` into a staging table) and one BAG import ([`PgAddressSink`]), each inside one
//! transaction that is rolled back when the writer is dropped unfinished.

use super::super::incident_rule::{Decision, FxMap, IncidentRule, RegistrationLookup, Stored};
use super::super::sqlite::to_minutes;
use super::super::*;
use super::connection::{get, Conn, Param, Started};
use super::PostgresStore;
use std::cell::RefCell;
use std::collections::HashSet;
use tokio_postgres::types::Type;

/// Rows per multi-row insert (arrays unnested in one statement).
const BATCH: usize = 2_000;

/// The open transaction of a writer: rolled back on drop unless committed.
pub(super) struct OpenTransaction<'a> {
    conn: &'a Conn,
    open: bool,
}

impl<'a> OpenTransaction<'a> {
    /// Takes over the transaction just begun on `conn`.
    pub(super) fn new(conn: &'a Conn) -> OpenTransaction<'a> {
        OpenTransaction { conn, open: true }
    }

    fn conn(&self) -> &'a Conn {
        self.conn
    }

    fn commit(mut self) -> Result<(), StoreError> {
        self.open = false;
        self.conn.batch("COMMIT")
    }
}

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing of the transaction becomes visible either way; a failing rollback (a broken connection)
            // has already discarded it on the server.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}

/// Rows of a delivery staged in memory before they are copied into the staging table and merged: a batch ends
/// earlier when a registration repeats within it (the rule must see the earlier row stored).
const STAGE_ROWS: usize = 16_384;

/// Report rows staged in memory before they are copied and merged.
const STAGE_REPORTS: usize = 4_096;

/// The session's staging tables (temporary, emptied at every commit; a rolled-back creation leaves nothing).
/// The merge sorts a batch by push order: `work_mem` for the delivery's transaction keeps a batch's sort in
/// memory (at the default 4 MB a 16,384-row batch was sorted on disk).
/// `COPY FROM` does not apply row-level security, so rows are copied here, where no policy applies, and merged
/// into the tenant-owned tables by `INSERT ... SELECT` under the tenant setting.
const CREATE_STAGE_SQL: &str = "
CREATE TEMP TABLE IF NOT EXISTS brandpunt_incident_stage (
    n bigint NOT NULL, replaces bigint, version bigint NOT NULL, registration text NOT NULL, line bigint NOT NULL,
    begin_min bigint NOT NULL, end_min bigint NOT NULL, time_known boolean NOT NULL, category_code text,
    category_label text, street text, huisnummer text, huisletter text, toevoeging text, postcode text,
    plaats text, bag_id text, x double precision, y double precision, buurtcode text, located_by text NOT NULL,
    match_kind text, match_score double precision, extra text, content_hash text NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS brandpunt_report_stage (
    n bigint NOT NULL, line bigint NOT NULL, registration text, column_name text, reason text NOT NULL,
    outcome text NOT NULL
) ON COMMIT DELETE ROWS;
TRUNCATE brandpunt_incident_stage, brandpunt_report_stage;
SET LOCAL work_mem = '64MB'";

const COPY_INCIDENTS_SQL: &str = "COPY brandpunt_incident_stage (n, replaces, version, registration, line,
    begin_min, end_min, time_known, category_code, category_label, street, huisnummer, huisletter, toevoeging,
    postcode, plaats, bag_id, x, y, buurtcode, located_by, match_kind, match_score, extra, content_hash)
    FROM STDIN (FORMAT binary)";

/// The column types of [`COPY_INCIDENTS_SQL`], in order.
const INCIDENT_STAGE_TYPES: [Type; 25] = [
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::TEXT,
    Type::TEXT,
];

/// The stored rows the staged rows replace ($3, ids) go to the history, superseded by this delivery ($1 tenant,
/// $2 delivery). The ids come as an array, not from the staging table: the primary key answers them whatever
/// the planner knows of a temporary table (a join with it was planned as a scan of `incident` per batch).
const ARCHIVE_STAGED_SQL: &str = "
INSERT INTO incident_history (incident_id, tenant_id, source, registration, version, delivery_id, superseded_by,
                              record)
SELECT id, tenant_id, source, registration, version, delivery_id, $2,
       jsonb_build_object(
           'begin_ts', to_char(to_timestamp(begin_min * 60) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI'),
           'end_ts', to_char(to_timestamp(end_min * 60) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI'),
           'time_known', time_known::int, 'category_code', category_code, 'category_label', category_label,
           'street', street, 'huisnummer', huisnummer, 'huisletter', huisletter, 'toevoeging', toevoeging,
           'postcode', postcode, 'plaats', plaats, 'bag_id', bag_id, 'x', x, 'y', y, 'buurtcode', buurtcode,
           'located_by', located_by, 'match_kind', match_kind, 'match_score', match_score, 'extra', extra,
           'content_hash', content_hash, 'line', line)
FROM incident WHERE id = ANY($3::bigint[]) AND tenant_id = $1
ORDER BY id";

const DELETE_REPLACED_SQL: &str = "
DELETE FROM incident WHERE id = ANY($2::bigint[]) AND tenant_id = $1";

/// The staged rows into `incident`, in push order ($1 tenant, $2 source, $3 delivery).
const MERGE_INCIDENTS_SQL: &str = "
INSERT INTO incident (tenant_id, source, version, delivery_id, registration, line, begin_min, end_min, time_known,
    category_code, category_label, street, huisnummer, huisletter, toevoeging, postcode, plaats, bag_id, x, y,
    buurtcode, located_by, match_kind, match_score, extra, content_hash)
SELECT $1::bigint, $2::text, s.version, $3::bigint, s.registration, s.line, s.begin_min, s.end_min, s.time_known,
    s.category_code, s.category_label, s.street, s.huisnummer, s.huisletter, s.toevoeging, s.postcode, s.plaats,
    s.bag_id, s.x, s.y, s.buurtcode, s.located_by, s.match_kind, s.match_score, coalesce(s.extra::jsonb, '{}'),
    s.content_hash
FROM brandpunt_incident_stage s ORDER BY s.n";

const COPY_REPORTS_SQL: &str =
    "COPY brandpunt_report_stage (n, line, registration, column_name, reason, outcome)
    FROM STDIN (FORMAT binary)";

const REPORT_STAGE_TYPES: [Type; 6] = [
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// The staged report rows into `report_row`, in push order ($1 tenant, $2 delivery).
const MERGE_REPORTS_SQL: &str = "
INSERT INTO report_row (tenant_id, delivery_id, line, registration, column_name, reason, outcome)
SELECT $1::bigint, $2::bigint, line, registration, column_name, reason, outcome
FROM brandpunt_report_stage ORDER BY n";

const FIND_INCIDENT_SQL: &str =
    "SELECT id, version, content_hash FROM incident WHERE tenant_id = $1 AND source = $2 AND registration = $3";

/// One incident row as staged: the record's columns as they are stored.
struct StagedIncident {
    /// The row's place in its batch (push order).
    n: i64,
    replaces: Option<i64>,
    version: i64,
    registration: String,
    line: i64,
    begin_min: i64,
    end_min: i64,
    time_known: bool,
    category_code: Option<String>,
    category_label: Option<String>,
    street: Option<String>,
    huisnummer: Option<String>,
    huisletter: Option<String>,
    toevoeging: Option<String>,
    postcode: Option<String>,
    plaats: Option<String>,
    bag_id: Option<String>,
    x: Option<f64>,
    y: Option<f64>,
    buurtcode: Option<String>,
    located_by: &'static str,
    match_kind: Option<String>,
    match_score: Option<f64>,
    extra: Option<String>,
    content_hash: String,
}

impl StagedIncident {
    fn new(n: usize, inc: IncidentRecord, version: i64, replaces: Option<i64>) -> StagedIncident {
        StagedIncident {
            n: n as i64,
            replaces,
            version,
            line: inc.line as i64,
            begin_min: to_minutes(inc.begin),
            end_min: to_minutes(inc.end),
            time_known: inc.time_known,
            category_code: inc.category_code,
            category_label: inc.category_label,
            street: inc.street,
            huisnummer: inc.huisnummer,
            huisletter: inc.huisletter,
            toevoeging: inc.toevoeging,
            postcode: inc.postcode,
            plaats: inc.plaats,
            bag_id: inc.bag_id,
            x: inc.x_m,
            y: inc.y_m,
            buurtcode: inc.buurtcode,
            located_by: inc.located_by.as_str(),
            match_kind: inc.match_kind,
            match_score: inc.match_score,
            // A map of strings always serialises; an empty one is stored as '{}' by the merge.
            extra: if inc.extra.is_empty() {
                None
            } else {
                serde_json::to_string(&inc.extra).ok()
            },
            content_hash: inc.content_hash,
            registration: inc.registration,
        }
    }
}

/// The delivery's transaction and its staged rows: where [`PgIncidentSink`] finds and writes rows.
struct PgIncidentWriter<'a> {
    /// The merge of the last batch and the emptying of the staging table, sent and not yet waited for: the
    /// server merges while this thread takes the next batch ([`PgIncidentWriter::settle`] before anything else
    /// is sent, so an error is reported as the merge's own). Declared before `tx`: dropped first, so an
    /// unfinished writer's rollback never waits behind responses nobody reads.
    in_flight: RefCell<Vec<Started<'a>>>,
    tx: OpenTransaction<'a>,
    tenant_id: i64,
    delivery_id: i64,
    source: String,
    /// Rows waiting to be copied and merged, in push order; at most one per registration.
    pending: Vec<StagedIncident>,
    pending_registrations: HashSet<String>,
    /// Report rows waiting to be copied and merged.
    reports: Vec<StagedReport>,
}

impl<'a> PgIncidentWriter<'a> {
    /// Wait for the statements still in flight; the first error among them.
    fn settle(&self) -> Result<(), StoreError> {
        let started = std::mem::take(&mut *self.in_flight.borrow_mut());
        for s in started {
            s.wait()?;
        }
        Ok(())
    }

    fn stage(&mut self, inc: IncidentRecord, version: i64, replaces: Option<i64>) {
        self.pending_registrations.insert(inc.registration.clone());
        let n = self.pending.len();
        self.pending
            .push(StagedIncident::new(n, inc, version, replaces));
    }

    /// Copy the pending rows into the staging table and merge them: the rows they replace archived and
    /// deleted, then all inserted in push order. The merge is sent, not waited for (see `in_flight`).
    fn write_pending(&mut self) -> Result<(), StoreError> {
        self.settle()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let c = self.tx.conn();
        c.copy_in(
            COPY_INCIDENTS_SQL,
            &INCIDENT_STAGE_TYPES,
            &self.pending,
            |r, row| {
                row.extend_from_slice(&[
                    &r.n as Param<'_>,
                    &r.replaces,
                    &r.version,
                    &r.registration,
                    &r.line,
                    &r.begin_min,
                    &r.end_min,
                    &r.time_known,
                    &r.category_code,
                    &r.category_label,
                    &r.street,
                    &r.huisnummer,
                    &r.huisletter,
                    &r.toevoeging,
                    &r.postcode,
                    &r.plaats,
                    &r.bag_id,
                    &r.x,
                    &r.y,
                    &r.buurtcode,
                    &r.located_by,
                    &r.match_kind,
                    &r.match_score,
                    &r.extra,
                    &r.content_hash,
                ])
            },
        )?;
        let replaced: Vec<i64> = self.pending.iter().filter_map(|r| r.replaces).collect();
        if !replaced.is_empty() {
            c.execute(
                ARCHIVE_STAGED_SQL,
                &[&self.tenant_id, &self.delivery_id, &replaced],
            )?;
            c.execute(DELETE_REPLACED_SQL, &[&self.tenant_id, &replaced])?;
        }
        let merge = c.start(
            MERGE_INCIDENTS_SQL,
            vec![
                Box::new(self.tenant_id),
                Box::new(self.source.clone()),
                Box::new(self.delivery_id),
            ],
        )?;
        let truncate = c.start_batch("TRUNCATE brandpunt_incident_stage");
        self.in_flight.borrow_mut().extend([merge, truncate]);
        self.pending.clear();
        self.pending_registrations.clear();
        Ok(())
    }

    /// Copy the pending report rows into their staging table and merge them into `report_row`.
    fn write_reports(&mut self) -> Result<(), StoreError> {
        self.settle()?;
        if self.reports.is_empty() {
            return Ok(());
        }
        let c = self.tx.conn();
        c.copy_in(
            COPY_REPORTS_SQL,
            &REPORT_STAGE_TYPES,
            &self.reports,
            |r, row| {
                row.extend_from_slice(&[
                    &r.n as Param<'_>,
                    &r.line,
                    &r.registration,
                    &r.column,
                    &r.reason,
                    &r.outcome,
                ])
            },
        )?;
        c.execute(MERGE_REPORTS_SQL, &[&self.tenant_id, &self.delivery_id])?;
        c.batch("TRUNCATE brandpunt_report_stage")?;
        self.reports.clear();
        Ok(())
    }
}

impl RegistrationLookup for PgIncidentWriter<'_> {
    fn pending_contains(&self, registration: &str) -> bool {
        self.pending_registrations.contains(registration)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.write_pending()
    }

    /// The stored row of a registration, looked up in the unique index.
    fn find(&self, inc: &IncidentRecord) -> Result<Option<Stored>, StoreError> {
        self.settle()?;
        self.tx
            .conn()
            .query_opt(
                FIND_INCIDENT_SQL,
                &[&self.tenant_id, &self.source, &inc.registration],
            )?
            .map(|r| {
                let hash: &str = get(&r, 2)?;
                Ok(Stored {
                    id: get(&r, 0)?,
                    version: get(&r, 1)?,
                    same_content: hash == inc.content_hash,
                })
            })
            .transpose()
    }
}

/// A report row as staged.
struct StagedReport {
    n: i64,
    line: i64,
    registration: Option<String>,
    column: Option<String>,
    reason: String,
    outcome: String,
}

/// The streaming writer of one incident delivery, with the semantics of [`Store::store_incident_delivery`]
/// decided by the rule shared with every backend ([`IncidentRule`]). Rows are staged in memory in batches of
/// at most [`STAGE_ROWS`] (one row per registration), copied with `COPY ... (FORMAT binary)` into a temporary
/// staging table and merged into `incident` by set statements: the stored rows they replace archived to
/// `incident_history` and deleted, then all inserted in push order. Report rows go the same way. Everything
/// happens inside the delivery's one transaction: an unfinished delivery (an error, a killed process, a lost
/// connection) leaves nothing behind. Memory: the rule's (bounded) and one batch.
pub(super) struct PgIncidentSink<'a> {
    rule: IncidentRule,
    writer: PgIncidentWriter<'a>,
}

impl<'a> PgIncidentSink<'a> {
    pub(super) fn new(
        tx: OpenTransaction<'a>,
        tenant_id: i64,
        delivery_id: i64,
        source: &str,
        expected_rows: u64,
    ) -> Result<PgIncidentSink<'a>, StoreError> {
        let c = tx.conn();
        c.batch(CREATE_STAGE_SQL)?;
        let limit = IncidentRule::preload_limit(expected_rows);
        let existing: i64 = get(
            &c.query_one(
                "SELECT count(*) FROM (SELECT 1 FROM incident WHERE tenant_id = $1 AND source = $2 LIMIT $3) s",
                &[&tenant_id, &source, &limit.saturating_add(1)],
            )?,
            0,
        )?;
        let preloaded = if existing <= limit {
            let mut map = FxMap::with_capacity_and_hasher(existing as usize, Default::default());
            c.for_each(
                "SELECT registration, id, version, content_hash FROM incident WHERE tenant_id = $1 AND source = $2",
                &[&tenant_id, &source],
                |r| -> Result<(), StoreError> {
                    map.insert(get(r, 0)?, (get(r, 1)?, get(r, 2)?, get(r, 3)?));
                    Ok(())
                },
            )?;
            Some(map)
        } else {
            None
        };
        Ok(PgIncidentSink {
            rule: IncidentRule::new(delivery_id, preloaded),
            writer: PgIncidentWriter {
                in_flight: RefCell::new(Vec::new()),
                tx,
                tenant_id,
                delivery_id,
                source: source.to_string(),
                pending: Vec::new(),
                pending_registrations: HashSet::new(),
                reports: Vec::new(),
            },
        })
    }
}

impl IncidentSink for PgIncidentSink<'_> {
    fn push(&mut self, inc: IncidentRecord) -> Result<(), StoreError> {
        match self.rule.decide(&inc, &mut self.writer)? {
            Decision::Insert => self.writer.stage(inc, 1, None),
            Decision::Unchanged => {}
            Decision::Replace { id, next_version } => {
                self.writer.stage(inc, next_version, Some(id))
            }
        }
        if self.writer.pending.len() >= STAGE_ROWS {
            self.writer.write_pending()?;
        }
        Ok(())
    }

    fn push_report(&mut self, r: &ReportRecord) -> Result<(), StoreError> {
        let n = self.writer.reports.len() as i64;
        self.writer.reports.push(StagedReport {
            n,
            line: r.line as i64,
            registration: r.registration.clone(),
            column: r.column.clone(),
            reason: r.reason.clone(),
            outcome: r.outcome.clone(),
        });
        if self.writer.reports.len() >= STAGE_REPORTS {
            self.writer.write_reports()?;
        }
        self.rule.reported();
        Ok(())
    }

    fn personal_columns(&mut self, columns: &[PersonalColumn]) -> Result<(), StoreError> {
        let w = &self.writer;
        w.settle()?;
        let c = w.tx.conn();
        c.execute(
            "DELETE FROM delivery_personal WHERE delivery_id = $1 AND tenant_id = $2",
            &[&w.delivery_id, &w.tenant_id],
        )?;
        for col in columns {
            c.execute(
                "INSERT INTO delivery_personal (tenant_id, delivery_id, role, kind, key_id)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &w.tenant_id,
                    &w.delivery_id,
                    &col.role,
                    &col.kind.as_str(),
                    &col.key_id,
                ],
            )?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<DeliveryOutcome, StoreError> {
        let mut this = *self;
        this.writer.write_pending()?;
        this.writer.write_reports()?;
        this.writer.settle()?;
        let outcome = this.rule.outcome().clone();
        PostgresStore::finish_delivery(this.writer.tx.conn(), this.writer.delivery_id, &outcome)?;
        if outcome.inserted + outcome.replaced >= ANALYZE_AFTER_ROWS {
            this.writer
                .tx
                .conn()
                .execute("ANALYZE incident, incident_history", &[])?;
        }
        this.writer.tx.commit()?;
        Ok(outcome)
    }
}

/// Rows a delivery or BAG import must write before its transaction refreshes the planner's statistics of the
/// table (`ANALYZE`, a sample of at most 30,000 rows, inside the transaction so the statistics include the new
/// rows). Without it a large first load is planned as an empty table until autovacuum runs: `stats` at 1 M
/// incidents joined every incident to every area (more than 12 minutes instead of 1.3 s).
const ANALYZE_AFTER_ROWS: u64 = 10_000;

const INSERT_ADDRESSES_SQL: &str = "
INSERT INTO address (bag_id, kind, street, street_short, huisnummer, huisletter, toevoeging, postcode, woonplaats,
                     bronhouder, status, gebruiksdoel, oppervlakte_m2, bouwjaar, pand_id, pand_status, x, y,
                     buurtcode)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int8[], $14::int4[],
                     $15::text[], $16::text[], $17::float8[], $18::float8[], $19::text[])
ON CONFLICT (bag_id) DO UPDATE SET kind = EXCLUDED.kind, street = EXCLUDED.street,
    street_short = EXCLUDED.street_short, huisnummer = EXCLUDED.huisnummer, huisletter = EXCLUDED.huisletter,
    toevoeging = EXCLUDED.toevoeging, postcode = EXCLUDED.postcode, woonplaats = EXCLUDED.woonplaats,
    bronhouder = EXCLUDED.bronhouder, status = EXCLUDED.status, gebruiksdoel = EXCLUDED.gebruiksdoel,
    oppervlakte_m2 = EXCLUDED.oppervlakte_m2, bouwjaar = EXCLUDED.bouwjaar, pand_id = EXCLUDED.pand_id,
    pand_status = EXCLUDED.pand_status, x = EXCLUDED.x, y = EXCLUDED.y, buurtcode = EXCLUDED.buurtcode";

/// The streaming writer of a BAG import: addresses in batches of [`BATCH`] (a later row of the same `bag_id`
/// replaces the earlier, as SQLite's `INSERT OR REPLACE`), panden one by one when an address refers to them.
pub(super) struct PgAddressSink<'a> {
    tx: OpenTransaction<'a>,
    pending: Vec<AddressRecord>,
    pending_ids: HashSet<String>,
    count: u64,
}

impl<'a> PgAddressSink<'a> {
    pub(super) fn new(tx: OpenTransaction<'a>) -> PgAddressSink<'a> {
        PgAddressSink {
            tx,
            pending: Vec::new(),
            pending_ids: HashSet::new(),
            count: 0,
        }
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        self.pending_ids.clear();
        let text = |f: &dyn Fn(&AddressRecord) -> Option<String>| -> Vec<Option<String>> {
            rows.iter().map(f).collect()
        };
        let bag_id: Vec<String> = rows.iter().map(|a| a.bag_id.clone()).collect();
        let kind: Vec<String> = rows.iter().map(|a| a.kind.as_str().to_string()).collect();
        let street: Vec<String> = rows.iter().map(|a| a.street.clone()).collect();
        let street_short = text(&|a| a.street_short.clone());
        let huisnummer: Vec<i64> = rows.iter().map(|a| i64::from(a.huisnummer)).collect();
        let huisletter = text(&|a| a.huisletter.clone());
        let toevoeging = text(&|a| a.toevoeging.clone());
        let postcode = text(&|a| a.postcode.clone());
        let woonplaats: Vec<String> = rows.iter().map(|a| a.woonplaats.clone()).collect();
        let bronhouder = text(&|a| a.bronhouder.clone());
        let status = text(&|a| a.status.clone());
        let gebruiksdoel = text(&|a| a.gebruiksdoel.clone());
        let oppervlakte: Vec<Option<i64>> = rows.iter().map(|a| a.oppervlakte_m2).collect();
        let bouwjaar: Vec<Option<i32>> = rows.iter().map(|a| a.bouwjaar).collect();
        let pand_id = text(&|a| a.pand_id.clone());
        let pand_status = text(&|a| a.pand_status.clone());
        let x: Vec<f64> = rows.iter().map(|a| a.x_m).collect();
        let y: Vec<f64> = rows.iter().map(|a| a.y_m).collect();
        let buurtcode = text(&|a| a.buurtcode.clone());
        self.tx.conn().execute(
            INSERT_ADDRESSES_SQL,
            &[
                &bag_id,
                &kind,
                &street,
                &street_short,
                &huisnummer,
                &huisletter,
                &toevoeging,
                &postcode,
                &woonplaats,
                &bronhouder,
                &status,
                &gebruiksdoel,
                &oppervlakte,
                &bouwjaar,
                &pand_id,
                &pand_status,
                &x,
                &y,
                &buurtcode,
            ],
        )?;
        Ok(())
    }
}

impl AddressSink for PgAddressSink<'_> {
    fn push(&mut self, a: &AddressRecord) -> Result<(), StoreError> {
        if self.pending_ids.contains(&a.bag_id) {
            self.flush()?;
        }
        self.pending_ids.insert(a.bag_id.clone());
        self.pending.push(a.clone());
        self.count += 1;
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn push_pand(&mut self, p: &PandRecord) -> Result<bool, StoreError> {
        // The addresses pushed so far decide whether the pand is kept.
        self.flush()?;
        let n = self.tx.conn().execute(
            "INSERT INTO pand (pand_id, bouwjaar, status, gebruiksdoel, oppervlakte_min, oppervlakte_max,
                               aantal_verblijfsobjecten)
             SELECT $1::text, $2::integer, $3::text, $4::text, $5::bigint, $6::bigint, $7::bigint
             WHERE EXISTS (SELECT 1 FROM address WHERE pand_id = $1::text)
             ON CONFLICT (pand_id) DO UPDATE SET bouwjaar = EXCLUDED.bouwjaar, status = EXCLUDED.status,
                 gebruiksdoel = EXCLUDED.gebruiksdoel, oppervlakte_min = EXCLUDED.oppervlakte_min,
                 oppervlakte_max = EXCLUDED.oppervlakte_max,
                 aantal_verblijfsobjecten = EXCLUDED.aantal_verblijfsobjecten",
            &[
                &p.pand_id,
                &p.bouwjaar,
                &p.status,
                &p.gebruiksdoel,
                &p.oppervlakte_min,
                &p.oppervlakte_max,
                &p.aantal_verblijfsobjecten,
            ],
        )?;
        Ok(n > 0)
    }

    fn finish(self: Box<Self>) -> Result<u64, StoreError> {
        let mut this = *self;
        this.flush()?;
        let count = this.count;
        if count >= ANALYZE_AFTER_ROWS {
            this.tx.conn().execute("ANALYZE address", &[])?;
        }
        this.tx.commit()?;
        Ok(count)
    }
}
