//! Versioned schema migrations for the SQLite store. Migration `i` (1-based) brings the schema from version
//! `i - 1` to `i`; `PRAGMA user_version` holds the current version. Never edit a released migration: add one.

pub const MIGRATIONS: &[&str] = &[
    // 1: tenants, CBS boundaries, BAG addresses, deliveries, incidents with history, report rows, open data,
    //    indicators.
    r#"
CREATE TABLE tenant (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
INSERT INTO tenant (code, name, created_at) VALUES ('default', 'Standaard', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));

CREATE TABLE boundary_set (
    id           INTEGER PRIMARY KEY,
    year         INTEGER NOT NULL UNIQUE,
    source_file  TEXT NOT NULL,
    checksum     TEXT NOT NULL,
    imported_at  TEXT NOT NULL
);

CREATE TABLE area (
    id               INTEGER PRIMARY KEY,
    boundary_set_id  INTEGER NOT NULL REFERENCES boundary_set(id) ON DELETE CASCADE,
    level            TEXT NOT NULL CHECK (level IN ('gemeente', 'wijk', 'buurt')),
    code             TEXT NOT NULL,
    name             TEXT NOT NULL,
    wijkcode         TEXT,
    gemeentecode     TEXT NOT NULL,
    gemeentenaam     TEXT,
    water            TEXT,
    inhabitants      INTEGER,
    stats_json       TEXT NOT NULL DEFAULT '{}',
    minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
    geom_wkb         BLOB NOT NULL,
    UNIQUE (boundary_set_id, level, code)
);
CREATE INDEX area_level_code ON area (level, code);

CREATE TABLE address (
    bag_id         TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('verblijfsobject', 'ligplaats', 'standplaats')),
    street         TEXT NOT NULL,
    street_short   TEXT,
    huisnummer     INTEGER NOT NULL,
    huisletter     TEXT,
    toevoeging     TEXT,
    postcode       TEXT,
    woonplaats     TEXT NOT NULL,
    bronhouder     TEXT,
    status         TEXT,
    gebruiksdoel   TEXT,
    oppervlakte_m2 INTEGER,
    bouwjaar       INTEGER,
    pand_id        TEXT,
    pand_status    TEXT,
    x REAL NOT NULL, y REAL NOT NULL,
    buurtcode      TEXT
) WITHOUT ROWID;
CREATE INDEX address_bronhouder ON address (bronhouder);
CREATE INDEX address_pand ON address (pand_id);

-- BAG pand attributes, kept for the panden that hold an imported address.
CREATE TABLE pand (
    pand_id                  TEXT PRIMARY KEY,
    bouwjaar                 INTEGER,
    status                   TEXT,
    gebruiksdoel             TEXT,
    oppervlakte_min          INTEGER,
    oppervlakte_max          INTEGER,
    aantal_verblijfsobjecten INTEGER
) WITHOUT ROWID;
CREATE INDEX address_buurt ON address (buurtcode);

CREATE TABLE delivery (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenant(id),
    source       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('incidents', 'counts', 'indicators')),
    file_name    TEXT NOT NULL,
    checksum     TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    total_rows   INTEGER NOT NULL,
    inserted     INTEGER NOT NULL,
    replaced     INTEGER NOT NULL,
    unchanged    INTEGER NOT NULL,
    reported     INTEGER NOT NULL,
    UNIQUE (tenant_id, source, kind, checksum)
);

CREATE TABLE incident (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant(id),
    source          TEXT NOT NULL,
    registration    TEXT NOT NULL,
    version         INTEGER NOT NULL,
    delivery_id     INTEGER NOT NULL REFERENCES delivery(id),
    line            INTEGER NOT NULL,
    begin_ts        TEXT NOT NULL,
    end_ts          TEXT NOT NULL,
    time_known      INTEGER NOT NULL,
    category_code   TEXT,
    category_label  TEXT,
    street TEXT, huisnummer TEXT, huisletter TEXT, toevoeging TEXT, postcode TEXT, plaats TEXT,
    bag_id          TEXT,
    x REAL, y REAL,
    buurtcode       TEXT,
    located_by      TEXT NOT NULL CHECK (located_by IN ('address', 'coordinates', 'buurt', 'none')),
    match_kind      TEXT,
    match_score     REAL,
    extra_json      TEXT NOT NULL DEFAULT '{}',
    content_hash    TEXT NOT NULL,
    UNIQUE (tenant_id, source, registration)
);
CREATE INDEX incident_query ON incident (tenant_id, begin_ts);

-- Superseded versions of incidents (a later delivery changed the registration).
CREATE TABLE incident_history (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL,
    tenant_id       INTEGER NOT NULL REFERENCES tenant(id),
    source          TEXT NOT NULL,
    registration    TEXT NOT NULL,
    version         INTEGER NOT NULL,
    delivery_id     INTEGER NOT NULL REFERENCES delivery(id),
    superseded_by   INTEGER NOT NULL REFERENCES delivery(id),
    record_json     TEXT NOT NULL,
    UNIQUE (tenant_id, source, registration, version)
);

CREATE TABLE report_row (
    id            INTEGER PRIMARY KEY,
    delivery_id   INTEGER NOT NULL REFERENCES delivery(id) ON DELETE CASCADE,
    line          INTEGER NOT NULL,
    registration  TEXT,
    column_name   TEXT,
    reason        TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('rejected', 'not_located', 'ambiguous'))
);
CREATE INDEX report_row_delivery ON report_row (delivery_id);

-- Police open data per region per period (shared, public): null value = withheld.
CREATE TABLE police_count (
    table_id     TEXT NOT NULL,
    category     TEXT NOT NULL,
    region       TEXT NOT NULL,
    period       TEXT NOT NULL,
    value        INTEGER,
    delivery_id  INTEGER NOT NULL REFERENCES delivery(id),
    PRIMARY KEY (table_id, category, region, period)
) WITHOUT ROWID;

CREATE TABLE indicator (
    tenant_id    INTEGER NOT NULL REFERENCES tenant(id),
    buurtcode    TEXT NOT NULL,
    name         TEXT NOT NULL,
    value        REAL,
    delivery_id  INTEGER NOT NULL REFERENCES delivery(id),
    PRIMARY KEY (tenant_id, buurtcode, name)
) WITHOUT ROWID;
"#,
    // 2: custom areas drawn by analysts ("Torenflats en omgeving"), tenant-owned, RD geometry.
    r#"
CREATE TABLE custom_area (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenant(id),
    name        TEXT NOT NULL,
    geom_wkb    BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX custom_area_tenant ON custom_area (tenant_id);
"#,
    // 3: incident time window as integer minutes (bulk imports: no text formatting per row, smaller rows and a
    //    smaller period index). `begin_min`/`end_min` are minutes since 1970-01-01T00:00 of the naive local time
    //    (the old `YYYY-MM-DDTHH:MM` text read as if it were UTC). The table is rebuilt with the same ids.
    r#"
CREATE TABLE incident_v2 (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant(id),
    source          TEXT NOT NULL,
    registration    TEXT NOT NULL,
    version         INTEGER NOT NULL,
    delivery_id     INTEGER NOT NULL REFERENCES delivery(id),
    line            INTEGER NOT NULL,
    begin_min       INTEGER NOT NULL,
    end_min         INTEGER NOT NULL,
    time_known      INTEGER NOT NULL,
    category_code   TEXT,
    category_label  TEXT,
    street TEXT, huisnummer TEXT, huisletter TEXT, toevoeging TEXT, postcode TEXT, plaats TEXT,
    bag_id          TEXT,
    x REAL, y REAL,
    buurtcode       TEXT,
    located_by      TEXT NOT NULL CHECK (located_by IN ('address', 'coordinates', 'buurt', 'none')),
    match_kind      TEXT,
    match_score     REAL,
    extra_json      TEXT NOT NULL DEFAULT '{}',
    content_hash    TEXT NOT NULL,
    UNIQUE (tenant_id, source, registration)
);
INSERT INTO incident_v2 (id, tenant_id, source, registration, version, delivery_id, line, begin_min, end_min,
    time_known, category_code, category_label, street, huisnummer, huisletter, toevoeging, postcode, plaats, bag_id,
    x, y, buurtcode, located_by, match_kind, match_score, extra_json, content_hash)
SELECT id, tenant_id, source, registration, version, delivery_id, line,
    CAST(strftime('%s', begin_ts) AS INTEGER) / 60, CAST(strftime('%s', end_ts) AS INTEGER) / 60,
    time_known, category_code, category_label, street, huisnummer, huisletter, toevoeging, postcode, plaats, bag_id,
    x, y, buurtcode, located_by, match_kind, match_score, extra_json, content_hash
FROM incident ORDER BY id;
DROP TABLE incident;
ALTER TABLE incident_v2 RENAME TO incident;
CREATE INDEX incident_query ON incident (tenant_id, begin_min);
"#,
    // 4: users, roles and API/delivery tokens (argon2 hashes only); the append-only, hash-chained audit log.
    r#"
CREATE TABLE app_user (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenant(id),
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    -- Granted categories as given (codes, group names, '*'), comma-separated; '' = none.
    categories  TEXT NOT NULL DEFAULT '',
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);

CREATE TABLE api_token (
    id               INTEGER PRIMARY KEY,
    -- The public lookup id of `bp_<prefix>_<secret>`.
    prefix           TEXT NOT NULL UNIQUE,
    user_id          INTEGER REFERENCES app_user(id),
    tenant_id        INTEGER NOT NULL REFERENCES tenant(id),
    delivery_source  TEXT,
    -- argon2id PHC string of the secret; the secret itself is never stored.
    hash             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    expires_at       TEXT,
    revoked_at       TEXT,
    CHECK ((user_id IS NULL) <> (delivery_source IS NULL))
);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    action     TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    filter     TEXT NOT NULL,
    records    INTEGER NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"#,
    // 5: several municipalities on one instance: the gemeenten a tenant covers (its areas are scoped to them; none
    //    = all areas of the boundary set), web-login passwords (argon2id PHC, NULL = no password login), and who
    //    drew a custom area (NULL = made before users existed, e.g. by the CLI).
    r#"
CREATE TABLE tenant_gemeente (
    tenant_id     INTEGER NOT NULL REFERENCES tenant(id),
    -- 4-digit CBS gemeente code without `GM`, e.g. '0153'.
    gemeentecode  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, gemeentecode)
);
ALTER TABLE app_user ADD COLUMN password_hash TEXT;
ALTER TABLE custom_area ADD COLUMN created_by TEXT;
"#,
    // 6: incremental snapshot updates: the incidents a delivery wrote (`delivery_id`) and the versions it
    //    superseded (`superseded_by`) are found without scanning the tenant's incidents
    //    (`Store::incident_changes`). Delivery ids only grow, so both indexes are appended to at their end.
    r#"
CREATE INDEX incident_delivery ON incident (delivery_id);
CREATE INDEX incident_history_superseded ON incident_history (superseded_by);
"#,
    // 7: change detection whose cost does not grow with the incidents: one `tenant_change` row per tenant with a
    //    version bumped by every insert, delete or update of one of its incident rows and the exact number of its
    //    current incidents, both kept by triggers in the writing transaction (every write path, present and
    //    future, included). Existing databases are counted once here. A migration that rebuilds the `incident`
    //    table must create these triggers again.
    r#"
CREATE TABLE tenant_change (
    tenant_id          INTEGER PRIMARY KEY REFERENCES tenant(id) ON DELETE CASCADE,
    incidents_version  INTEGER NOT NULL DEFAULT 0,
    incident_count     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO tenant_change (tenant_id, incident_count)
SELECT t.id, (SELECT count(*) FROM incident i WHERE i.tenant_id = t.id) FROM tenant t;
CREATE TRIGGER tenant_change_tenant AFTER INSERT ON tenant BEGIN
    INSERT INTO tenant_change (tenant_id) VALUES (NEW.id);
END;
CREATE TRIGGER tenant_change_insert AFTER INSERT ON incident BEGIN
    UPDATE tenant_change SET incidents_version = incidents_version + 1, incident_count = incident_count + 1
    WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER tenant_change_delete AFTER DELETE ON incident BEGIN
    UPDATE tenant_change SET incidents_version = incidents_version + 1, incident_count = incident_count - 1
    WHERE tenant_id = OLD.tenant_id;
END;
CREATE TRIGGER tenant_change_update AFTER UPDATE ON incident BEGIN
    UPDATE tenant_change SET incidents_version = incidents_version + 1
    WHERE tenant_id IN (OLD.tenant_id, NEW.tenant_id);
END;
CREATE TRIGGER tenant_change_move AFTER UPDATE OF tenant_id ON incident WHEN OLD.tenant_id IS NOT NEW.tenant_id BEGIN
    UPDATE tenant_change SET incident_count = incident_count - 1 WHERE tenant_id = OLD.tenant_id;
    UPDATE tenant_change SET incident_count = incident_count + 1 WHERE tenant_id = NEW.tenant_id;
END;
"#,
    // 8: a version of a tenant's areas (its gemeenten and its drawn areas), bumped by triggers on every write of
    //    them, so the incremental reload notices any such change (a rename in the second the area was made
    //    included) without comparing the rows.
    r#"
ALTER TABLE tenant_change ADD COLUMN areas_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER tenant_change_area_insert AFTER INSERT ON custom_area BEGIN
    UPDATE tenant_change SET areas_version = areas_version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER tenant_change_area_update AFTER UPDATE ON custom_area BEGIN
    UPDATE tenant_change SET areas_version = areas_version + 1 WHERE tenant_id IN (OLD.tenant_id, NEW.tenant_id);
END;
CREATE TRIGGER tenant_change_area_delete AFTER DELETE ON custom_area BEGIN
    UPDATE tenant_change SET areas_version = areas_version + 1 WHERE tenant_id = OLD.tenant_id;
END;
CREATE TRIGGER tenant_change_gemeente_insert AFTER INSERT ON tenant_gemeente BEGIN
    UPDATE tenant_change SET areas_version = areas_version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER tenant_change_gemeente_update AFTER UPDATE ON tenant_gemeente BEGIN
    UPDATE tenant_change SET areas_version = areas_version + 1 WHERE tenant_id IN (OLD.tenant_id, NEW.tenant_id);
END;
CREATE TRIGGER tenant_change_gemeente_delete AFTER DELETE ON tenant_gemeente BEGIN
    UPDATE tenant_change SET areas_version = areas_version + 1 WHERE tenant_id = OLD.tenant_id;
END;
"#,
    // 9: typed personal columns (relations): per incident delivery, each `[personal]` column's header (the role,
    //    also the key of its pseudonym in the incidents' `extra_json`), what it identifies and the id of the key
    //    that made its pseudonyms. Every stored pseudonym gets these through its incident's `delivery_id`;
    //    deliveries from before have none (their pseudonyms are not linked until delivered again).
    r#"
CREATE TABLE delivery_personal (
    delivery_id  INTEGER NOT NULL REFERENCES delivery(id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('person', 'vehicle', 'organisation', 'phone', 'other')),
    key_id       TEXT NOT NULL,
    PRIMARY KEY (delivery_id, role)
) WITHOUT ROWID;
"#,
    // 10: the `relations` grant (the network of registrations, addresses and pseudonymised subjects): off by
    //     default, and never for viewers.
    r#"
ALTER TABLE app_user ADD COLUMN relations INTEGER NOT NULL DEFAULT 0
    CHECK (relations IN (0, 1) AND (relations = 0 OR role <> 'viewer'));
"#,
    // 11: a version of the BAG addresses, bumped in the transaction of every write of them (the address sink and
    //     the buurt re-assignment), so the change fingerprint reads one row instead of counting the addresses
    //     (millions nationally) after every commit.
    r#"
CREATE TABLE store_version (
    part     TEXT PRIMARY KEY,
    version  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO store_version (part) VALUES ('address');
"#,
    // 12: numeric attributes of BAG addresses per tenant (`import address-attributes`, e.g. WOZ values): one
    //     `address_attribute_set` per imported file, numbered per tenant and source (version 1, 2, ...; the
    //     newest is current, the older ones are history), its values in `address_attribute`. Every new or removed
    //     set bumps the tenant's `attributes_version`, read by the change fingerprint and the incident mark.
    r#"
CREATE TABLE address_attribute_set (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenant(id),
    source       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    file_name    TEXT NOT NULL,
    checksum     TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    total_rows   INTEGER NOT NULL,
    rejected     INTEGER NOT NULL,
    value_count  INTEGER NOT NULL,
    UNIQUE (tenant_id, source, checksum),
    UNIQUE (tenant_id, source, version)
);
CREATE TABLE address_attribute (
    set_id  INTEGER NOT NULL REFERENCES address_attribute_set(id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    bag_id  TEXT NOT NULL,
    value   REAL NOT NULL,
    PRIMARY KEY (set_id, name, bag_id)
) WITHOUT ROWID;
ALTER TABLE tenant_change ADD COLUMN attributes_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER tenant_change_attribute_set_insert AFTER INSERT ON address_attribute_set BEGIN
    UPDATE tenant_change SET attributes_version = attributes_version + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER tenant_change_attribute_set_delete AFTER DELETE ON address_attribute_set BEGIN
    UPDATE tenant_change SET attributes_version = attributes_version + 1 WHERE tenant_id = OLD.tenant_id;
END;
"#,
    // 13: web sessions and failed logins in the store, shared by every `serve` process on the file
    //     (`store::web_session`): only the SHA-256 of a session id is kept; times in ms since the Unix epoch.
    r#"
CREATE TABLE web_session (
    key           BLOB PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    created_ms    INTEGER NOT NULL,
    last_used_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_session_last_used ON web_session (last_used_ms);
CREATE INDEX web_session_created ON web_session (created_ms);
CREATE TABLE login_failure (
    key    TEXT NOT NULL,
    at_ms  INTEGER NOT NULL
);
CREATE INDEX login_failure_key ON login_failure (key, at_ms);
CREATE INDEX login_failure_at ON login_failure (at_ms);
"#,
    // 14: a delivery's stored report also keeps the rows whose location is doubtful (`op coördinaten`,
    //     `conflict`, `intersection`, `street`, `near`; `import::report::OUTCOMES`), as its report file does.
    //     SQLite cannot change a CHECK: the table is rebuilt with the same ids.
    r#"
CREATE TABLE report_row_v2 (
    id            INTEGER PRIMARY KEY,
    delivery_id   INTEGER NOT NULL REFERENCES delivery(id) ON DELETE CASCADE,
    line          INTEGER NOT NULL,
    registration  TEXT,
    column_name   TEXT,
    reason        TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('rejected', 'not_located', 'ambiguous', 'op coördinaten',
                                                   'conflict', 'intersection', 'street', 'near'))
);
INSERT INTO report_row_v2 (id, delivery_id, line, registration, column_name, reason, outcome)
    SELECT id, delivery_id, line, registration, column_name, reason, outcome FROM report_row;
DROP TABLE report_row;
ALTER TABLE report_row_v2 RENAME TO report_row;
CREATE INDEX report_row_delivery ON report_row (delivery_id);
"#,
];

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::store::{IncidentFilter, SqliteStore, Store};
    use chrono::{NaiveDate, NaiveDateTime};

    /// A database written by schema v1 (text timestamps) opens as v2 with the same incidents, ids, period
    /// filter results and history records.
    #[test]
    fn v1_incidents_survive_the_upgrade_to_integer_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let texts = [
            ("R1", "2024-03-01T23:59", "2024-03-02T01:15"),
            ("R2", "2024-03-02T00:00", "2024-03-02T00:00"),
            ("R3", "1969-12-31T23:30", "1970-01-01T00:10"),
            ("R4", "2024-02-29T12:07", "2024-03-01T00:00"),
        ];
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute_batch(
                "INSERT INTO delivery (id, tenant_id, source, kind, file_name, checksum, imported_at, total_rows,
                                       inserted, replaced, unchanged, reported)
                 VALUES (1, 1, 'politie', 'incidents', 'a.csv', 'c1', '2024-03-05T10:00:00Z', 4, 4, 0, 0, 0);",
            )
            .unwrap();
            for (k, (reg, begin, end)) in texts.iter().enumerate() {
                c.execute(
                    "INSERT INTO incident (id, tenant_id, source, registration, version, delivery_id, line, begin_ts,
                                           end_ts, time_known, category_code, located_by, content_hash)
                     VALUES (?1, 1, 'politie', ?2, 1, 1, ?3, ?4, ?5, 1, '1.1.1', 'none', 'h')",
                    rusqlite::params![10 + k as i64, reg, k as i64 + 2, begin, end],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let parse = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        let all = store
            .incidents(&IncidentFilter {
                tenant: "default".into(),
                ..Default::default()
            })
            .unwrap();
        let mut got: Vec<(i64, String, NaiveDateTime, NaiveDateTime)> = all
            .into_iter()
            .map(|s| (s.id, s.registration, s.begin, s.end))
            .collect();
        got.sort();
        let want: Vec<(i64, String, NaiveDateTime, NaiveDateTime)> = texts
            .iter()
            .enumerate()
            .map(|(k, (r, b, e))| (10 + k as i64, r.to_string(), parse(b), parse(e)))
            .collect();
        assert_eq!(got, want);
        // Whole-day period filter: 2024-03-01 holds R1 (23:59) but not R2 (00:00 the next day).
        let day = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let regs = |from, to| -> Vec<String> {
            store
                .incidents(&IncidentFilter {
                    tenant: "default".into(),
                    from: Some(day(from)),
                    to: Some(day(to)),
                    ..Default::default()
                })
                .unwrap()
                .into_iter()
                .map(|s| s.registration)
                .collect()
        };
        assert_eq!(regs("2024-03-01", "2024-03-01"), ["R1"]);
        assert_eq!(regs("2024-03-02", "2024-03-02"), ["R2"]);
        assert_eq!(regs("1969-12-31", "1969-12-31"), ["R3"]);
        assert_eq!(regs("2024-02-29", "2024-03-01"), ["R4", "R1"]);
        // A changed re-delivery archives the converted row with its timestamps as text, as in v1.
        let mut store = store;
        let mut rec = crate::store::IncidentRecord {
            line: 2,
            registration: "R1".into(),
            begin: parse("2024-03-01T23:59"),
            end: parse("2024-03-02T01:15"),
            time_known: true,
            category_code: Some("1.1.2".into()),
            category_label: None,
            street: None,
            huisnummer: None,
            huisletter: None,
            toevoeging: None,
            postcode: None,
            plaats: None,
            bag_id: None,
            x_m: None,
            y_m: None,
            buurtcode: None,
            located_by: crate::store::LocatedBy::None,
            match_kind: None,
            match_score: None,
            extra: Default::default(),
            content_hash: "h2".into(),
        };
        rec.extra.insert("meldkamer".into(), "Noord".into());
        let meta = crate::store::DeliveryMeta {
            tenant: "default".into(),
            source: "politie".into(),
            kind: "incidents".into(),
            file_name: "b.csv".into(),
            checksum: "c2".into(),
            total_rows: 1,
        };
        let o = store.store_incident_delivery(&meta, &[rec], &[]).unwrap();
        assert_eq!((o.inserted, o.replaced, o.unchanged), (0, 1, 0));
        let (begin, end, code): (String, String, String) = store
            .connection()
            .query_row(
                "SELECT json_extract(record_json, '$.begin_ts'), json_extract(record_json, '$.end_ts'),
                        json_extract(record_json, '$.category_code')
                 FROM incident_history WHERE registration = 'R1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            (begin.as_str(), end.as_str(), code.as_str()),
            ("2024-03-01T23:59", "2024-03-02T01:15", "1.1.1")
        );
    }

    /// The per-tenant change record of schema v7: filled with each tenant's incident count when an older
    /// database is upgraded, and kept equal to the count by every later write of incident rows (insert, delete,
    /// update, a move to another tenant), each of which bumps the version of the tenants it touches only.
    #[test]
    fn tenant_change_counts_existing_incidents_and_follows_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..6] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 6).unwrap();
            c.execute_batch(
                "INSERT INTO tenant (id, code, name, created_at) VALUES (2, 'ander', 'Ander', '2024-01-01T00:00:00Z');
                 INSERT INTO tenant (id, code, name, created_at) VALUES (3, 'leeg', 'Leeg', '2024-01-01T00:00:00Z');
                 INSERT INTO delivery (id, tenant_id, source, kind, file_name, checksum, imported_at, total_rows,
                                       inserted, replaced, unchanged, reported)
                 VALUES (1, 1, 'politie', 'incidents', 'a.csv', 'c1', '2024-03-05T10:00:00Z', 5, 5, 0, 0, 0);",
            )
            .unwrap();
            for (id, tenant) in [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)] {
                c.execute(
                    "INSERT INTO incident (id, tenant_id, source, registration, version, delivery_id, line,
                                           begin_min, end_min, time_known, located_by, content_hash)
                     VALUES (?1, ?2, 'politie', 'R' || ?1, 1, 1, 2, 0, 0, 1, 'none', 'h')",
                    rusqlite::params![id, tenant],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let c = store.connection();
        let record = || -> Vec<(i64, i64, i64)> {
            let mut stmt = c
                .prepare(
                    "SELECT tenant_id, incidents_version, incident_count FROM tenant_change ORDER BY tenant_id",
                )
                .unwrap();
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        let counted = || -> Vec<i64> {
            (1..=4)
                .map(|t| {
                    c.query_row(
                        "SELECT count(*) FROM incident WHERE tenant_id = ?1",
                        [t],
                        |r| r.get(0),
                    )
                    .unwrap()
                })
                .collect()
        };
        assert_eq!(record(), [(1, 0, 3), (2, 0, 2), (3, 0, 0)]);
        c.execute(
            "INSERT INTO tenant (id, code, name, created_at) VALUES (4, 'nieuw', 'Nieuw', '2024-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
        assert_eq!(record()[3], (4, 0, 0), "a new tenant gets its record");
        c.execute("DELETE FROM incident WHERE id IN (1, 2)", [])
            .unwrap();
        assert_eq!(record(), [(1, 2, 1), (2, 0, 2), (3, 0, 0), (4, 0, 0)]);
        c.execute("UPDATE incident SET buurtcode = 'BU1' WHERE id = 4", [])
            .unwrap();
        assert_eq!(record(), [(1, 2, 1), (2, 1, 2), (3, 0, 0), (4, 0, 0)]);
        c.execute("UPDATE incident SET tenant_id = 3 WHERE id = 5", [])
            .unwrap();
        assert_eq!(record(), [(1, 2, 1), (2, 2, 1), (3, 1, 1), (4, 0, 0)]);
        let counts: Vec<i64> = record().iter().map(|r| r.2).collect();
        assert_eq!(counts, counted());
    }
}
