//! Privacy and reliability on a real store: online backup and restore (round trip on the small demo, refusal of
//! garbage and of a store in use), users and tokens (argon2, revocation, expiry, disabled users), the
//! append-only hash-chained audit log (tampering through a raw connection is detected), and retention.

use crate::common::demo::demo;
use brandpunt::access::{Action, PrincipalKind, Role};
use brandpunt::audit::AuditEntry;
use brandpunt::store::{IncidentFilter, PrivacyStore, SqliteStore, Store, TokenOwner};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("BRANDPUNT_PSEUDONYM_KEY")
        .output()
        .expect("run brandpunt")
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "brandpunt {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A private copy of the binary's shared small demo database (made with the backup API, so it is
/// consistent).
fn demo_copy(dir: &Path) -> PathBuf {
    let db = dir.join("brandpunt.db");
    let src = Connection::open(&demo().db).unwrap();
    src.backup(rusqlite::DatabaseName::Main, &db, None).unwrap();
    db
}

const TABLES: &[&str] = &[
    "tenant",
    "boundary_set",
    "area",
    "address",
    "pand",
    "delivery",
    "incident",
    "incident_history",
    "report_row",
    "police_count",
    "indicator",
    "custom_area",
    "app_user",
    "api_token",
    "audit_log",
];

/// Row count and an order-independent content digest of every table, read through a raw connection.
fn fingerprint(db: &Path) -> Vec<(String, i64, String)> {
    let c = Connection::open(db).unwrap();
    TABLES
        .iter()
        .map(|t| {
            let n: i64 = c
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            // The JSON of every row, sorted, hashed: equal content gives an equal digest.
            let cols: Vec<String> = c
                .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let expr = cols
                .iter()
                .map(|col| format!("quote({col})"))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let mut rows: Vec<String> = c
                .prepare(&format!("SELECT {expr} FROM {t}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.sort();
            use sha2::Digest;
            let digest = sha2::Sha256::digest(rows.join("\n").as_bytes());
            (t.to_string(), n, format!("{digest:x}"))
        })
        .collect()
}

fn integrity(db: &Path) -> String {
    Connection::open(db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn backup_while_in_use_and_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_copy(dir.path());
    let backup = dir.path().join("backups/b1.db");
    std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
    let before = fingerprint(&db);
    assert!(before.iter().any(|(t, n, _)| t == "incident" && *n > 100));
    {
        // The store is open (and has just written) while the backup runs in another process.
        let mut store = SqliteStore::open(&db).unwrap();
        store.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
        ok(&db, &["backup", backup.to_str().unwrap()]);
    }
    let after_backup = fingerprint(&db);
    assert_eq!(integrity(&backup), "ok");
    assert_eq!(fingerprint(&backup), after_backup);
    // The backup stands alone: no -wal next to it.
    assert!(!dir.path().join("backups/b1.db-wal").exists());

    // Change the store, then restore: everything is as it was at backup time (plus the restore's audit record).
    let mut store = SqliteStore::open(&db).unwrap();
    store.add_tenant("almelo", "Gemeente Almelo").unwrap();
    drop(store);
    assert_ne!(fingerprint(&db), after_backup);
    ok(&db, &["restore", backup.to_str().unwrap()]);
    assert_eq!(integrity(&db), "ok");
    let restored = fingerprint(&db);
    for ((t, n, d), (t2, n2, d2)) in restored.iter().zip(&after_backup) {
        assert_eq!(t, t2);
        if t == "audit_log" {
            assert_eq!(*n, n2 + 1, "one audit record for the restore");
        } else {
            assert_eq!((n, d), (n2, d2), "table {t}");
        }
    }
    let store = SqliteStore::open(&db).unwrap();
    let tenants: Vec<String> = store.tenants().unwrap().into_iter().map(|t| t.0).collect();
    assert!(tenants.contains(&"hengelo".to_string()) && !tenants.contains(&"almelo".to_string()));
    let last = store.audit_records(None, None).unwrap().pop().unwrap();
    assert_eq!(last.action, "restore");
    assert!(brandpunt::audit::verify(&store.audit_records(None, None).unwrap()).is_ok());
}

#[test]
fn restoring_something_else_is_refused_and_the_store_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_copy(dir.path());
    let before = fingerprint(&db);
    let bytes_before = std::fs::read(&db).unwrap();

    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"dit is geen database, maar wel 4096 bytes lang".repeat(100),
    )
    .unwrap();
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (a); INSERT INTO t VALUES (1);")
        .unwrap();
    let future = dir.path().join("future.db");
    std::fs::copy(&db, &future).unwrap();
    Connection::open(&future)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let missing = dir.path().join("missing.db");
    for (file, expect) in [
        (&garbage, "geen SQLite-database"),
        (&other, "schemaversie 0"),
        (&future, "schemaversie 99"),
        (&missing, "bestaat niet"),
    ] {
        let out = run(&db, &["restore", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(expect) && err.contains(file.to_str().unwrap()),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&db).unwrap(), bytes_before);
    assert_eq!(fingerprint(&db), before);
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn restore_is_refused_while_the_store_is_open_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_copy(dir.path());
    let backup = dir.path().join("b.db");
    ok(&db, &["backup", backup.to_str().unwrap()]);
    let store = SqliteStore::open(&db).unwrap();
    let n_before = store.tenants().unwrap().len();
    let out = run(&db, &["restore", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in gebruik"));
    // The open store still works.
    assert_eq!(store.tenants().unwrap().len(), n_before);
}

#[test]
fn users_and_tokens_authenticate_only_while_valid() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    ok(&db, &["tenant", "add", "enschede", "Gemeente Enschede"]);
    ok(
        &db,
        &[
            "user",
            "add",
            "jan",
            "--tenant",
            "enschede",
            "--role",
            "analyst",
            "--categories",
            "inbraak,2.5.1",
        ],
    );
    ok(
        &db,
        &[
            "user", "add", "els", "--tenant", "enschede", "--role", "viewer",
        ],
    );
    // Unknown role, unknown tenant and a duplicate name are refused.
    for args in [
        &["user", "add", "x", "--tenant", "enschede", "--role", "root"][..],
        &[
            "user", "add", "x", "--tenant", "nergens", "--role", "viewer",
        ][..],
        &[
            "user", "add", "jan", "--tenant", "enschede", "--role", "viewer",
        ][..],
        &["token", "create", "--user", "niemand"][..],
    ] {
        assert_eq!(run(&db, args).status.code(), Some(2), "{args:?}");
    }
    let list = ok(&db, &["user", "list"]);
    assert!(
        list.contains("jan\tenschede\tanalyst\tinbraak,2.5.1\tactief"),
        "{list}"
    );

    let jan = ok(&db, &["token", "create", "--user", "jan"])
        .trim()
        .to_string();
    let els = ok(&db, &["token", "create", "--user", "els"])
        .trim()
        .to_string();
    let politie = ok(
        &db,
        &[
            "token",
            "create",
            "--delivery",
            "--source",
            "politie",
            "--tenant",
            "enschede",
        ],
    )
    .trim()
    .to_string();
    assert!(jan.starts_with("bp_") && jan != els);

    let store = SqliteStore::open(&db).unwrap();
    let p = store
        .authenticate(&jan)
        .unwrap()
        .expect("jan authenticates");
    assert_eq!(p.tenant, "enschede");
    assert_eq!(p.user, "jan");
    assert_eq!(p.role, Role::Analyst);
    assert_eq!(p.kind, PrincipalKind::User);
    // inbraak = 1.1.1 + 1.1.2 (the police's dashboard group), plus the granted code.
    assert_eq!(p.categories, vec!["1.1.1", "1.1.2", "2.5.1"]);
    let d = store
        .authenticate(&politie)
        .unwrap()
        .expect("delivery token");
    assert_eq!(
        d.kind,
        PrincipalKind::Delivery {
            source: "politie".into()
        }
    );
    assert!(d.may(
        "enschede",
        &Action::ImportDelivery {
            source: "politie".into()
        }
    ));
    assert!(!d.may("enschede", &Action::ViewAggregates));

    // A wrong secret, a malformed token and an unknown id do not authenticate.
    let mut wrong = jan.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let unknown = format!("bp_0000000000_{}", &jan[14..]);
    for t in [wrong.as_str(), "", "bp_", "Bearer x", unknown.as_str()] {
        assert!(store.authenticate(t).unwrap().is_none(), "{t}");
    }
    // Neither the token nor its secret is in the database file; only argon2 hashes are.
    drop(store);
    let bytes = std::fs::read(&db).unwrap();
    for t in [&jan, &els, &politie] {
        let secret = &t[14..];
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    assert!(bytes.windows(10).any(|w| w == b"$argon2id$"));

    // Revocation and disabling take effect immediately.
    let id = &els[3..13];
    ok(&db, &["token", "revoke", id]);
    assert_eq!(run(&db, &["token", "revoke", id]).status.code(), Some(2));
    ok(&db, &["user", "disable", "jan"]);
    let mut store = SqliteStore::open(&db).unwrap();
    assert!(store.authenticate(&els).unwrap().is_none());
    assert!(store.authenticate(&jan).unwrap().is_none());
    assert!(store.authenticate(&politie).unwrap().is_some());
    let listing = ok(&db, &["token", "list"]);
    assert!(!listing.contains(&politie[14..]) && listing.contains(id));

    // Expiry: a token that expired a minute ago is refused, one valid for a day is accepted.
    store
        .add_user("enschede", "piet", Role::Admin, &["*".to_string()])
        .unwrap();
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let future = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let expired = store
        .create_token(&TokenOwner::User("piet".into()), Some(&past))
        .unwrap();
    let valid = store
        .create_token(&TokenOwner::User("piet".into()), Some(&future))
        .unwrap();
    assert!(store.authenticate(&expired.token).unwrap().is_none());
    assert_eq!(
        store.authenticate(&valid.token).unwrap().unwrap().role,
        Role::Admin
    );
    // The user and token administration is in the audit log.
    let actions: Vec<String> = store
        .audit_records(None, None)
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    for a in ["user_add", "token_create", "token_revoke", "user_disable"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

fn entry(i: i64) -> AuditEntry {
    AuditEntry {
        actor: "jan".into(),
        tenant: "default".into(),
        action: "read_incidents".into(),
        endpoint: "GET /api/incidents".into(),
        filter: format!("categories=1.1.1;page={i}"),
        records: 10 + i,
    }
}

#[test]
fn audit_log_is_append_only_and_tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let mut store = SqliteStore::open(&db).unwrap();
    for i in 0..6 {
        let r = store.append_audit(&entry(i)).unwrap();
        assert_eq!(r.seq, i + 1);
    }
    drop(store);
    assert!(ok(&db, &["audit", "verify"]).contains("6 records"));
    let csv_out = ok(&db, &["audit", "export"]);
    let mut reader = csv::Reader::from_reader(csv_out.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    assert_eq!(&rows[2][7], "12");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["audit", "export", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 6);
    assert_eq!(json[5]["filter"], "categories=1.1.1;page=5");
    // The day before the first record was written (not "yesterday": the test may run across midnight).
    let first_day =
        chrono::NaiveDate::parse_from_str(&json[0]["at"].as_str().unwrap()[..10], "%Y-%m-%d")
            .unwrap();
    let yesterday = first_day.pred_opt().unwrap().to_string();
    let none: serde_json::Value = serde_json::from_str(&ok(
        &db,
        &["audit", "export", "--format", "json", "--to", &yesterday],
    ))
    .unwrap();
    assert_eq!(none.as_array().unwrap().len(), 0);

    // The triggers refuse edits and deletions.
    let raw = Connection::open(&db).unwrap();
    assert!(raw
        .execute("UPDATE audit_log SET records = 0 WHERE seq = 3", [])
        .is_err());
    assert!(raw
        .execute("DELETE FROM audit_log WHERE seq = 6", [])
        .is_err());
    assert!(ok(&db, &["audit", "verify"]).contains("6 records"));

    // Bypassing them (drop the trigger, edit a row) is detected at that row.
    raw.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET records = 999 WHERE seq = 3;",
    )
    .unwrap();
    drop(raw);
    let out = run(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");

    // So is a deleted row, in a fresh log.
    let db2 = dir.path().join("b.db");
    let mut store = SqliteStore::open(&db2).unwrap();
    for i in 0..5 {
        store.append_audit(&entry(i)).unwrap();
    }
    drop(store);
    let raw = Connection::open(&db2).unwrap();
    raw.execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 4;")
        .unwrap();
    drop(raw);
    let out = run(&db2, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4");
}

#[test]
fn retention_deletes_exactly_the_old_address_level_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_copy(dir.path());
    let mut store = SqliteStore::open(&db).unwrap();
    let filter = IncidentFilter {
        tenant: "default".into(),
        ..Default::default()
    };
    let all = store.incidents(&filter).unwrap();
    // A cutoff in the middle of the demo's period.
    let mut ends: Vec<_> = all.iter().map(|i| i.end).collect();
    ends.sort();
    let cutoff = ends[ends.len() / 2];
    let doomed = |i: &brandpunt::store::StoredIncident| {
        (i.located_by == "address" || i.located_by == "coordinates") && i.end < cutoff
    };
    let expected: Vec<_> = all.iter().filter(|&i| doomed(i)).collect();
    let kept_old_buurt = all.iter().filter(|&i| !doomed(i) && i.end < cutoff).count();
    assert!(!expected.is_empty() && expected.len() < all.len());
    let expected_history: i64 = expected
        .iter()
        .map(|i| {
            store
                .incident_versions("default", &i.source, &i.registration)
                .unwrap()
                - 1
        })
        .sum();

    let dry = store
        .apply_retention("default", cutoff, true, "test")
        .unwrap();
    assert_eq!(dry.incidents as usize, expected.len());
    assert_eq!(dry.history_versions as i64, expected_history);
    assert_eq!(store.incidents(&filter).unwrap().len(), all.len());
    let audit_before = store.audit_records(None, None).unwrap().len();
    assert_eq!(audit_before, 0, "a dry run logs nothing");

    let done = store
        .apply_retention("default", cutoff, false, "test")
        .unwrap();
    assert_eq!(done.incidents, dry.incidents);
    assert_eq!(done.history_versions, dry.history_versions);
    let left = store.incidents(&filter).unwrap();
    assert_eq!(left.len(), all.len() - expected.len());
    assert!(left.iter().all(|i| !doomed(i)));
    assert_eq!(
        left.iter().filter(|i| i.end < cutoff).count(),
        kept_old_buurt,
        "buurt-level and unlocated incidents stay"
    );
    for i in &expected {
        assert_eq!(
            store
                .incident_versions("default", &i.source, &i.registration)
                .unwrap(),
            0,
            "{} and its history are gone",
            i.registration
        );
    }
    let log = store.audit_records(None, None).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "retention");
    assert_eq!(log[0].actor, "test");
    assert_eq!(log[0].records as usize, expected.len());
    // Another tenant is not touched; an unknown tenant is an error.
    assert!(store
        .apply_retention("nergens", cutoff, false, "t")
        .is_err());
    drop(store);

    // Through the CLI: a dry run reports, a real run with a short period removes the rest of the located ones.
    // The clock is set (`--now`) to more than a month after the demo's last incident, so today's date plays no
    // part.
    let now = *ends.last().unwrap() + chrono::Duration::days(40);
    let now_arg = now.format("%Y-%m-%dT%H:%M:%S").to_string();
    let out = ok(
        &db,
        &[
            "retention",
            "apply",
            "--tenant",
            "default",
            "--months",
            "1",
            "--dry-run",
            "--now",
            &now_arg,
        ],
    );
    assert!(out.contains("Proefdraai"), "{out}");
    ok(
        &db,
        &[
            "retention",
            "apply",
            "--tenant",
            "default",
            "--months",
            "1",
            "--now",
            &now_arg,
        ],
    );
    let store = SqliteStore::open(&db).unwrap();
    let month_ago = now.checked_sub_months(chrono::Months::new(1)).unwrap();
    assert!(store
        .incidents(&filter)
        .unwrap()
        .iter()
        .all(
            |i| !((i.located_by == "address" || i.located_by == "coordinates")
                && i.end < month_ago)
        ));
    assert_eq!(store.audit_records(None, None).unwrap().len(), 2);
    assert_eq!(
        run(
            &db,
            &["retention", "apply", "--tenant", "default", "--months", "0"]
        )
        .status
        .code(),
        Some(2)
    );
}
