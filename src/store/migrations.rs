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
    // 3: users, roles and API/delivery tokens (argon2 hashes only); the append-only, hash-chained audit log.
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
];
