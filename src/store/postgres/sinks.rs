//! The streaming writers of the PostgreSQL store: one incident delivery ([`PgIncidentSink`]) and one BAG import
//! ([`PgAddressSink`]), each inside one transaction that is rolled back when the writer is dropped unfinished.

use super::super::sqlite::{to_minutes, FxMap, Written, PRELOAD_MAX};
use super::super::*;
use super::connection::{get, Conn};
use super::PostgresStore;
use std::collections::HashSet;

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

const INSERT_INCIDENTS_SQL: &str = "
INSERT INTO incident (tenant_id, source, version, delivery_id, registration, line, begin_min, end_min, time_known,
    category_code, category_label, street, huisnummer, huisletter, toevoeging, postcode, plaats, bag_id, x, y,
    buurtcode, located_by, match_kind, match_score, extra, content_hash)
SELECT $1::bigint, $2::text, $3::bigint, $4::bigint, r.registration, r.line, r.begin_min, r.end_min, r.time_known, r.category_code,
    r.category_label, r.street, r.huisnummer, r.huisletter, r.toevoeging, r.postcode, r.plaats, r.bag_id, r.x, r.y,
    r.buurtcode, r.located_by, r.match_kind, r.match_score, coalesce(r.extra::jsonb, '{}'), r.content_hash
FROM unnest($5::text[], $6::int8[], $7::int8[], $8::int8[], $9::bool[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::float8[],
            $20::float8[], $21::text[], $22::text[], $23::text[], $24::float8[], $25::text[], $26::text[])
    WITH ORDINALITY AS r(registration, line, begin_min, end_min, time_known, category_code, category_label, street,
                         huisnummer, huisletter, toevoeging, postcode, plaats, bag_id, x, y, buurtcode, located_by,
                         match_kind, match_score, extra, content_hash, n)
ORDER BY r.n";

const FIND_INCIDENT_SQL: &str =
    "SELECT id, version, content_hash FROM incident WHERE tenant_id = $1 AND source = $2 AND registration = $3";

const ARCHIVE_INCIDENT_SQL: &str = "
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
FROM incident WHERE id = $1";

/// Column arrays of a batch of new incidents, for [`INSERT_INCIDENTS_SQL`].
#[derive(Default)]
struct Columns {
    registration: Vec<String>,
    line: Vec<i64>,
    begin_min: Vec<i64>,
    end_min: Vec<i64>,
    time_known: Vec<bool>,
    category_code: Vec<Option<String>>,
    category_label: Vec<Option<String>>,
    street: Vec<Option<String>>,
    huisnummer: Vec<Option<String>>,
    huisletter: Vec<Option<String>>,
    toevoeging: Vec<Option<String>>,
    postcode: Vec<Option<String>>,
    plaats: Vec<Option<String>>,
    bag_id: Vec<Option<String>>,
    x: Vec<Option<f64>>,
    y: Vec<Option<f64>>,
    buurtcode: Vec<Option<String>>,
    located_by: Vec<String>,
    match_kind: Vec<Option<String>>,
    match_score: Vec<Option<f64>>,
    extra: Vec<Option<String>>,
    content_hash: Vec<String>,
}

impl Columns {
    fn len(&self) -> usize {
        self.registration.len()
    }

    fn push(&mut self, inc: IncidentRecord) {
        self.line.push(inc.line as i64);
        self.begin_min.push(to_minutes(inc.begin));
        self.end_min.push(to_minutes(inc.end));
        self.time_known.push(inc.time_known);
        self.category_code.push(inc.category_code);
        self.category_label.push(inc.category_label);
        self.street.push(inc.street);
        self.huisnummer.push(inc.huisnummer);
        self.huisletter.push(inc.huisletter);
        self.toevoeging.push(inc.toevoeging);
        self.postcode.push(inc.postcode);
        self.plaats.push(inc.plaats);
        self.bag_id.push(inc.bag_id);
        self.x.push(inc.x_m);
        self.y.push(inc.y_m);
        self.buurtcode.push(inc.buurtcode);
        self.located_by.push(inc.located_by.as_str().to_string());
        self.match_kind.push(inc.match_kind);
        self.match_score.push(inc.match_score);
        // A map of strings always serialises; an empty one is stored as '{}' by the statement.
        self.extra.push(if inc.extra.is_empty() {
            None
        } else {
            serde_json::to_string(&inc.extra).ok()
        });
        self.content_hash.push(inc.content_hash);
        self.registration.push(inc.registration);
    }

    /// Insert the rows (in push order) with the shared columns, and empty the batch.
    fn insert(
        &mut self,
        conn: &Conn,
        tenant_id: i64,
        source: &str,
        version: i64,
        delivery_id: i64,
    ) -> Result<(), StoreError> {
        if self.len() == 0 {
            return Ok(());
        }
        conn.execute(
            INSERT_INCIDENTS_SQL,
            &[
                &tenant_id,
                &source,
                &version,
                &delivery_id,
                &self.registration,
                &self.line,
                &self.begin_min,
                &self.end_min,
                &self.time_known,
                &self.category_code,
                &self.category_label,
                &self.street,
                &self.huisnummer,
                &self.huisletter,
                &self.toevoeging,
                &self.postcode,
                &self.plaats,
                &self.bag_id,
                &self.x,
                &self.y,
                &self.buurtcode,
                &self.located_by,
                &self.match_kind,
                &self.match_score,
                &self.extra,
                &self.content_hash,
            ],
        )?;
        *self = Columns::default();
        Ok(())
    }
}

/// The streaming writer of one incident delivery, with the semantics of [`Store::store_incident_delivery`] (as
/// the SQLite store's): a new registration is inserted as version 1, one with the same content hash is
/// unchanged, one with another hash is archived to `incident_history` and replaced by the next version, in push
/// order. New rows are inserted [`BATCH`] at a time (column arrays, one statement). The registrations of the
/// tenant and source are preloaded when there are at most twice the expected rows and at most
/// [`PRELOAD_MAX`]; otherwise each row is looked up in the unique index. Registrations this delivery wrote are
/// tracked in a fixed-size filter ([`Written`]) and looked up exactly when they may repeat, so memory stays
/// bounded.
pub(super) struct PgIncidentSink<'a> {
    tx: OpenTransaction<'a>,
    tenant_id: i64,
    delivery_id: i64,
    source: String,
    outcome: DeliveryOutcome,
    preloaded: Option<FxMap<String, (i64, i64, String)>>,
    written: Written,
    pending: Columns,
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
        let n = i64::try_from(expected_rows).unwrap_or(i64::MAX);
        let limit = n.saturating_mul(2).min(PRELOAD_MAX);
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
            tx,
            tenant_id,
            delivery_id,
            source: source.to_string(),
            outcome: DeliveryOutcome {
                delivery_id: Some(delivery_id),
                ..Default::default()
            },
            preloaded,
            written: Written::new(),
            pending: Columns::default(),
        })
    }

    fn find(&self, inc: &IncidentRecord) -> Result<Option<(i64, i64, bool)>, StoreError> {
        self.tx
            .conn()
            .query_opt(
                FIND_INCIDENT_SQL,
                &[&self.tenant_id, &self.source, &inc.registration],
            )?
            .map(|r| {
                let hash: &str = get(&r, 2)?;
                Ok((get(&r, 0)?, get(&r, 1)?, hash == inc.content_hash))
            })
            .transpose()
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.pending.insert(
            self.tx.conn(),
            self.tenant_id,
            &self.source,
            1,
            self.delivery_id,
        )
    }
}

impl IncidentSink for PgIncidentSink<'_> {
    fn push(&mut self, inc: IncidentRecord) -> Result<(), StoreError> {
        let stored = if self.written.maybe_contains(&inc.registration) {
            // Possibly written by this delivery: when it waits in the batch, write the batch first; then the
            // unique index knows it exactly.
            if self.pending.registration.contains(&inc.registration) {
                self.flush()?;
            }
            self.find(&inc)?
        } else if let Some(map) = &self.preloaded {
            map.get(inc.registration.as_str())
                .map(|(id, version, hash)| (*id, *version, *hash == inc.content_hash))
        } else {
            self.find(&inc)?
        };
        match stored {
            None => {
                self.written.insert(&inc.registration);
                self.outcome.inserted += 1;
                self.pending.push(inc);
                if self.pending.len() >= BATCH {
                    self.flush()?;
                }
            }
            Some((_, _, true)) => self.outcome.unchanged += 1,
            Some((id, version, false)) => {
                // Pending rows go first, so rows keep push order.
                self.flush()?;
                let c = self.tx.conn();
                c.execute(ARCHIVE_INCIDENT_SQL, &[&id, &self.delivery_id])?;
                c.execute(
                    "DELETE FROM incident WHERE id = $1 AND tenant_id = $2",
                    &[&id, &self.tenant_id],
                )?;
                self.written.insert(&inc.registration);
                let mut one = Columns::default();
                one.push(inc);
                one.insert(
                    c,
                    self.tenant_id,
                    &self.source,
                    version + 1,
                    self.delivery_id,
                )?;
                self.outcome.replaced += 1;
            }
        }
        Ok(())
    }

    fn push_report(&mut self, r: &ReportRecord) -> Result<(), StoreError> {
        self.tx.conn().execute(
            "INSERT INTO report_row (tenant_id, delivery_id, line, registration, column_name, reason, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &self.tenant_id,
                &self.delivery_id,
                &(r.line as i64),
                &r.registration,
                &r.column,
                &r.reason,
                &r.outcome,
            ],
        )?;
        self.outcome.reported += 1;
        Ok(())
    }

    fn personal_columns(&mut self, columns: &[PersonalColumn]) -> Result<(), StoreError> {
        let c = self.tx.conn();
        c.execute(
            "DELETE FROM delivery_personal WHERE delivery_id = $1 AND tenant_id = $2",
            &[&self.delivery_id, &self.tenant_id],
        )?;
        for col in columns {
            c.execute(
                "INSERT INTO delivery_personal (tenant_id, delivery_id, role, kind, key_id)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &self.tenant_id,
                    &self.delivery_id,
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
        this.flush()?;
        PostgresStore::finish_delivery(this.tx.conn(), this.delivery_id, &this.outcome)?;
        this.tx.commit()?;
        Ok(this.outcome)
    }
}

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
        this.tx.commit()?;
        Ok(count)
    }
}
