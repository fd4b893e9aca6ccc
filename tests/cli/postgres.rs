//! The command line on a PostgreSQL store ([`crate::postgres_cluster`], a throwaway cluster): the same imports
//! into SQLite and into PostgreSQL (`--db postgres://...` and `BRANDPUNT_DB`) give the same `stats`, and
//! `serve` on either answers the same statistics.

use crate::postgres_cluster::cluster;
use brandpunt::access::Role;
use brandpunt::store::{StoreOpener, TokenOwner};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Run `brandpunt` on the store `db` (given as `--db`, or as `BRANDPUNT_DB` when `env` is set); its stdout.
fn ok(db: &str, env: bool, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brandpunt"));
    if env {
        cmd.env("BRANDPUNT_DB", db);
    } else {
        cmd.arg("--db").arg(db).env_remove("BRANDPUNT_DB");
    }
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} on {db}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A delivery of `rows` incidents in the fixture's CBS area; `variant` changes the category of every third row.
fn write_delivery(path: &Path, rows: usize, variant: bool) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        f,
        "Registratienummer;Pleegdatum begin;Pleegtijd begin;Maatschappelijke klasse;X;Y"
    )
    .unwrap();
    for i in 0..rows {
        let class = if variant && i % 3 == 0 {
            "1.4.4 Bedreiging"
        } else {
            "1.2.3 Diefstal van brom-, snor-, fietsen"
        };
        writeln!(
            f,
            "PL-{i:06};{:02}-03-2024;{:02}:15;{class};{},5;{},25",
            1 + i % 28,
            i % 24,
            233_000 + (i * 37) % 3000,
            473_000 + (i * 53) % 3000
        )
        .unwrap();
    }
}

#[test]
fn stats_on_postgres_equal_stats_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("week1.csv");
    let second = dir.path().join("week2.csv");
    write_delivery(&first, 400, false);
    write_delivery(&second, 500, true);
    let sqlite = dir.path().join("brandpunt.db").display().to_string();
    let c = cluster();
    let postgres = c.url("brandpunt", &c.database());
    let cbs = fixtures().join("cbs/wijkenbuurten_2024_v1.gpkg");
    let bag = fixtures().join("bag/bag-light.gpkg");
    let mut outputs = Vec::new();
    for (db, env) in [(&sqlite, false), (&postgres, false), (&postgres, true)] {
        if !env {
            ok(db, false, &["import", "cbs", &cbs.display().to_string()]);
            ok(db, false, &["import", "bag", &bag.display().to_string()]);
            for delivery in [&first, &second, &first] {
                ok(
                    db,
                    false,
                    &[
                        "import",
                        "incidents",
                        &delivery.display().to_string(),
                        "--source",
                        "politie",
                    ],
                );
            }
        }
        let stats: Vec<String> = [
            vec!["stats"],
            vec!["stats", "--by", "wijk"],
            vec!["stats", "--by", "gemeente", "--format", "json"],
            vec!["stats", "--from", "2024-03-05", "--to", "2024-03-20"],
        ]
        .iter()
        .map(|args| ok(db, env, args))
        .collect();
        outputs.push(stats);
    }
    assert!(
        outputs[0][0].lines().count() > 3,
        "the delivery is counted in several buurten: {}",
        outputs[0][0]
    );
    assert_eq!(outputs[1], outputs[0], "PostgreSQL (--db) and SQLite");
    assert_eq!(
        outputs[2], outputs[0],
        "PostgreSQL (BRANDPUNT_DB) and SQLite"
    );
    // The URL was not taken for a file path.
    assert!(!Path::new("postgresql:").exists());

    // `serve` on either store answers the same statistics.
    let answers: Vec<String> = [&sqlite, &postgres]
        .iter()
        .map(|db| {
            let mut store = StoreOpener::new(Path::new(db)).unwrap().open().unwrap();
            store
                .add_user("default", "ana", Role::Analyst, &[])
                .unwrap();
            let token = store
                .create_token(&TokenOwner::User("ana".into()), None)
                .unwrap()
                .token;
            let server = crate::common::server::start(Path::new(db), &[]);
            let r = crate::common::server::get_as(&server.base, Some(&token), "/api/stats.csv");
            assert_eq!(r.status, 200, "{db}: {}", r.text());
            r.text()
        })
        .collect();
    assert!(answers[0].lines().count() > 3, "{}", answers[0]);
    assert_eq!(answers[1], answers[0], "serve on PostgreSQL and on SQLite");
}

/// Crash safety on PostgreSQL: `kill -9` of `brandpunt import incidents` after it has copied and merged a first
/// staging batch (its transaction open) leaves no delivery and no incident behind, earlier data survive, and
/// the same import then simply succeeds.
#[test]
fn kill_9_during_a_postgres_import_leaves_nothing_half_written() {
    const ROWS: usize = 80_000;
    let dir = tempfile::tempdir().unwrap();
    let delivery = dir.path().join("levering.csv");
    write_delivery(&delivery, ROWS, false);
    let c = cluster();
    let database = c.database();
    let db = c.url("brandpunt", &database);
    let cbs = fixtures().join("cbs/wijkenbuurten_2024_v1.gpkg");
    ok(&db, false, &["import", "cbs", &cbs.display().to_string()]);
    let import = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brandpunt"));
        cmd.arg("--db")
            .arg(&db)
            .env_remove("BRANDPUNT_DB")
            .args(["import", "incidents"])
            .arg(&delivery)
            .args(["--source", "politie"]);
        cmd
    };
    let mut child = import()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The import's connection has an open transaction that has written, and its last statement worked on the
    // staging table: at least one batch is copied and merged, not committed.
    let writing = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND backend_xid IS NOT NULL \
         AND query LIKE '%brandpunt_incident_stage%'"
    );
    let start = std::time::Instant::now();
    let mut killed_while_writing = false;
    while start.elapsed() < std::time::Duration::from_secs(300) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if c.psql("postgres", "postgres", &writing) != "0" {
            child.kill().unwrap();
            killed_while_writing = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(
        killed_while_writing,
        "the import finished (or stalled) before it could be killed mid-write"
    );
    let count = |table: &str| {
        c.psql(
            "postgres",
            &database,
            &format!("SELECT count(*) FROM {table}"),
        )
    };
    for table in ["delivery", "incident", "incident_history", "report_row"] {
        assert_eq!(count(table), "0", "a killed import leaves no {table} rows");
    }
    assert_ne!(count("area"), "0", "earlier data survive");
    assert_eq!(
        c.psql(
            "postgres",
            &database,
            "SELECT incident_count FROM tenant_change JOIN tenant ON tenant.id = tenant_id WHERE code = 'default'"
        ),
        "0",
        "the change record is unchanged"
    );
    let out = import().output().unwrap();
    assert!(
        out.status.success(),
        "the import can simply be repeated: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count("incident"), ROWS.to_string());
    assert_eq!(count("delivery"), "1");
}

/// Run `brandpunt ARGS...` expecting failure; its stderr.
fn fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .env_remove("BRANDPUNT_DB")
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Rows of `sql` on the SQLite file `db`, every column as text (blobs in hex), for comparing two files.
fn sqlite_rows(db: &Path, sql: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c.prepare(sql).unwrap();
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            let mut line = Vec::with_capacity(n);
            for i in 0..n {
                line.push(match r.get::<_, rusqlite::types::Value>(i)? {
                    rusqlite::types::Value::Blob(b) => {
                        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                    }
                    v => format!("{v:?}"),
                });
            }
            Ok(line.join("|"))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn store_copy_moves_the_demo_city_to_postgres_and_back_with_equal_stats_and_audit_chain() {
    let (dir, demo_db) = crate::common::demo::demo_copy();
    {
        use brandpunt::audit::AuditEntry;
        let mut store = StoreOpener::new(&demo_db).unwrap().open().unwrap();
        for (i, action) in ["export", "read_incidents", "export"].iter().enumerate() {
            store
                .append_audit(&AuditEntry {
                    actor: "analist".into(),
                    tenant: "default".into(),
                    action: action.to_string(),
                    endpoint: "GET /api/incidents.csv".into(),
                    filter: format!("categorie=1.{i}"),
                    records: 10 + i as i64,
                })
                .unwrap();
        }
    }
    let demo = demo_db.display().to_string();
    let c = cluster();
    let target_db = c.database();
    let postgres = c.url("brandpunt", &target_db);
    let back = dir.path().join("terug.db").display().to_string();

    let out = ok(
        &demo,
        false,
        &["store", "copy", "--from", &demo, "--to", &postgres],
    );
    assert!(out.contains("auditlog intact (3 records)"), "{out}");
    let out = ok(
        &demo,
        false,
        &["store", "copy", "--from", &postgres, "--to", &back],
    );
    assert!(out.contains("auditlog intact (3 records)"), "{out}");

    let views = |db: &str| -> Vec<String> {
        [
            &["stats"][..],
            &["stats", "--by", "wijk", "--format", "json"],
            &["stats", "--by", "gemeente", "--category", "1.1.1"],
            &["audit", "verify"],
            &["audit", "export", "--format", "json"],
            &["tenant", "list"],
            &["user", "list"],
            &["token", "list"],
            &["deliveries"],
            &[
                "analyse",
                "profile",
                "--category",
                "3.1.1",
                "--dimension",
                "woz",
            ],
        ]
        .iter()
        .map(|args| ok(db, false, args))
        .collect()
    };
    let original = views(&demo);
    assert!(original[0].lines().count() > 10, "{}", original[0]);
    assert!(original[3].contains("3 records"), "{}", original[3]);
    assert!(
        original[9].contains("150.000"),
        "the WOZ classes: {}",
        original[9]
    );
    assert_eq!(views(&postgres), original, "SQLite -> PostgreSQL");
    // The copy drops plain indexes while it loads a table and lifts forced row-level security in its
    // transaction: afterwards the schema has every index, defined as migrated, and every table forced as migrated.
    let migrated_db = c.database();
    ok(
        &c.url("brandpunt", &migrated_db),
        false,
        &["tenant", "list"],
    );
    for sql in [
        "SELECT string_agg(indexdef, E'\\n' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'",
        "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relkind = 'r' AND relforcerowsecurity",
    ] {
        let migrated = c.psql("postgres", &migrated_db, sql);
        assert!(migrated.contains("incident"), "{migrated}");
        assert_eq!(c.psql("postgres", &target_db, sql), migrated, "{sql}");
    }
    assert_eq!(views(&back), original, "PostgreSQL -> SQLite");
    // Row for row: ids, versions, geometry and bounding boxes, every incident column but the JSON text
    // (PostgreSQL's jsonb normalises its layout).
    for sql in [
        "SELECT id, boundary_set_id, level, code, name, minx, miny, maxx, maxy, geom_wkb FROM area ORDER BY id",
        "SELECT id, tenant_id, source, registration, version, delivery_id, line, begin_min, end_min, time_known,
                category_code, street, huisnummer, postcode, bag_id, x, y, buurtcode, located_by, match_kind,
                match_score, content_hash FROM incident ORDER BY id",
        "SELECT id, incident_id, version, delivery_id, superseded_by FROM incident_history ORDER BY id",
        "SELECT * FROM address ORDER BY bag_id",
        "SELECT * FROM delivery ORDER BY id",
        "SELECT * FROM app_user ORDER BY id",
        "SELECT * FROM api_token ORDER BY id",
        "SELECT * FROM audit_log ORDER BY seq",
        "SELECT * FROM address_attribute_set ORDER BY id",
        "SELECT * FROM address_attribute ORDER BY set_id, name, bag_id",
    ] {
        assert_eq!(
            sqlite_rows(Path::new(&back), sql),
            sqlite_rows(&demo_db, sql),
            "{sql}"
        );
    }

    // A target that holds data is refused, by name, and stays as it was.
    let err = fails(&["store", "copy", "--from", &demo, "--to", &postgres]);
    assert!(err.contains("is niet leeg"), "{err}");
    assert!(
        err.contains("tabel tenant") || err.contains("tabel boundary_set"),
        "{err}"
    );
    let err = fails(&["store", "copy", "--from", &postgres, "--to", &back]);
    assert!(
        err.contains("is niet leeg") && err.contains("terug.db"),
        "{err}"
    );
    assert_eq!(views(&postgres), original);
}

#[test]
fn kill_9_during_a_store_copy_leaves_the_target_as_it_was() {
    let (_dir, demo_db) = crate::common::demo::demo_copy();
    let c = cluster();
    let database = c.database();
    let postgres = c.url("brandpunt", &database);
    // Migrated and empty: the tenant `default` only.
    ok(&postgres, false, &["tenant", "list"]);
    let tenants_before = c.psql(
        "postgres",
        &database,
        "SELECT string_agg(code, ',') FROM tenant",
    );
    // The copy lifts the forced row-level security of the tenant-owned tables inside its transaction (COPY FROM
    // refuses them): forced before, after the kill and after a finished copy alike.
    let forced = "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class \
                  WHERE relkind = 'r' AND relforcerowsecurity";
    let forced_before = c.psql("postgres", &database, forced);
    assert!(
        forced_before.contains("incident") && forced_before.contains("app_user"),
        "{forced_before}"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .env_remove("BRANDPUNT_DB")
        .args(["store", "copy", "--from"])
        .arg(&demo_db)
        .args(["--to", &postgres])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The copy's connection has an open transaction that is copying rows into a table (after the first
    // tables, whose geometry is inserted).
    let writing = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND backend_xid IS NOT NULL \
         AND query LIKE 'COPY % FROM STDIN%'"
    );
    let start = std::time::Instant::now();
    let mut killed_while_writing = false;
    while start.elapsed() < std::time::Duration::from_secs(300) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if c.psql("postgres", "postgres", &writing) != "0" {
            child.kill().unwrap();
            killed_while_writing = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.wait().unwrap();
    assert!(
        killed_while_writing,
        "the copy finished (or stalled) before it could be killed mid-write"
    );
    // Wait until the server has rolled the dead connection's transaction back.
    let open = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND backend_xid IS NOT NULL"
    );
    let start = std::time::Instant::now();
    while c.psql("postgres", "postgres", &open) != "0" {
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for table in [
        "boundary_set",
        "area",
        "address",
        "delivery",
        "incident",
        "app_user",
        "audit_log",
    ] {
        assert_eq!(
            c.psql(
                "postgres",
                &database,
                &format!("SELECT count(*) FROM {table}")
            ),
            "0",
            "a killed copy leaves no {table} rows"
        );
    }
    assert_eq!(
        c.psql(
            "postgres",
            &database,
            "SELECT string_agg(code, ',') FROM tenant"
        ),
        tenants_before
    );
    assert_eq!(c.psql("postgres", &database, forced), forced_before);
    // Nothing half-written: the target still counts as empty, and a new copy succeeds.
    let demo = demo_db.display().to_string();
    let out = ok(
        &demo,
        false,
        &["store", "copy", "--from", &demo, "--to", &postgres],
    );
    assert!(out.contains("auditlog intact"), "{out}");
    assert_eq!(
        ok(&postgres, false, &["stats"]),
        ok(&demo, false, &["stats"])
    );
    assert_eq!(c.psql("postgres", &database, forced), forced_before);
}
