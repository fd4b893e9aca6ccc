//! Two `brandpunt serve` replicas on one PostgreSQL database ([`crate::postgres_cluster`]): a commit by another
//! process (a CLI import) is announced with `NOTIFY` and becomes visible on both, also after the connection they
//! listen on was terminated by the database server. Every wait is a poll with a deadline, never a fixed sleep.

use crate::common::server::{self as srv, Server};
use crate::postgres_cluster::cluster;
use brandpunt::access::Role;
use brandpunt::store::{StoreOpener, TokenOwner};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a replica may take to show a commit before the test gives up (a deadline, not a measurement).
const DEADLINE: Duration = Duration::from_secs(60);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Run `brandpunt --db DB ARGS...`; fails the test with its stderr.
fn cli(db: &str, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_brandpunt"))
        .arg("--db")
        .arg(db)
        .env_remove("BRANDPUNT_DB")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A delivery of `rows` incidents (registrations `PREFIX-i`) inside the fixture's CBS area.
fn write_delivery(path: &Path, prefix: &str, rows: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        f,
        "Registratienummer;Pleegdatum begin;Pleegtijd begin;Maatschappelijke klasse;X;Y"
    )
    .unwrap();
    for i in 0..rows {
        writeln!(
            f,
            "{prefix}-{i:06};{:02}-03-2024;{:02}:15;1.2.3 Diefstal van brom-, snor-, fietsen;{},5;{},25",
            1 + i % 28,
            i % 24,
            233_000 + (i * 37) % 3000,
            473_000 + (i * 53) % 3000
        )
        .unwrap();
    }
}

/// Import a delivery of `rows` new incidents through the CLI (another process than the servers).
fn import(db: &str, dir: &Path, prefix: &str, rows: usize) {
    let file = dir.join(format!("{prefix}.csv"));
    write_delivery(&file, prefix, rows);
    cli(
        db,
        &[
            "import",
            "incidents",
            &file.display().to_string(),
            "--source",
            "politie",
        ],
    );
}

/// The tenant's current incidents as the store holds them (read through the library, not a server).
fn stored_incidents(db: &str, tenant: &str) -> u64 {
    let store = StoreOpener::new(Path::new(db)).unwrap().open().unwrap();
    store.tenant_table(tenant).unwrap().incidents.len() as u64
}

/// The incidents `/api/meta` of `server` reports for the caller of `token`.
fn served_incidents(server: &Server, token: &str) -> Option<u64> {
    let r = srv::get_as(&server.base, Some(token), "/api/meta");
    (r.status == 200)
        .then(|| r.json()["incidents"].as_u64())
        .flatten()
}

/// Wait until `server` serves `expected` incidents; fails after [`DEADLINE`] with what it served.
fn wait_for_incidents(server: &Server, token: &str, expected: u64, what: &str) {
    let started = Instant::now();
    loop {
        let served = served_incidents(server, token);
        if served == Some(expected) {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: {} still serves {served:?} incidents, the store holds {expected}",
            server.base
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of `series` in `/metrics` of `server`.
fn metric(server: &Server, series: &str) -> f64 {
    let text = srv::request("GET", &format!("{}/metrics", server.base), &[], None).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from /metrics"))
}

/// Wait until `series` of `server` is at least `at_least`.
fn wait_for_metric(server: &Server, series: &str, at_least: f64) {
    let started = Instant::now();
    while metric(server, series) < at_least {
        assert!(
            started.elapsed() < DEADLINE,
            "{}: {series} stays below {at_least}",
            server.base
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A new PostgreSQL database with the fixture's CBS areas and an analyst `ana` of tenant `default`: its URL and
/// the analyst's API token.
fn database_with_analyst() -> (String, String) {
    let c = cluster();
    let db = c.url("brandpunt", &c.database());
    cli(
        &db,
        &[
            "import",
            "cbs",
            &fixtures()
                .join("cbs/wijkenbuurten_2024_v1.gpkg")
                .display()
                .to_string(),
        ],
    );
    let token = {
        let mut store = StoreOpener::new(Path::new(&db)).unwrap().open().unwrap();
        store
            .add_user("default", "ana", Role::Analyst, &["*".into()])
            .unwrap();
        store
            .create_token(&TokenOwner::User("ana".into()), None)
            .unwrap()
            .token
    };
    (db, token)
}

/// A PostgreSQL database with the fixture's CBS areas and a first delivery, an analyst's token, and two servers
/// on it.
fn two_replicas(dir: &Path) -> (String, String, [Server; 2]) {
    let (db, token) = database_with_analyst();
    import(&db, dir, "EERSTE", 300);
    let servers = [
        srv::start(Path::new(&db), &[]),
        srv::start(Path::new(&db), &[]),
    ];
    (db, token, servers)
}

#[test]
fn a_cli_import_becomes_visible_on_both_replicas_also_after_their_listen_connection_was_killed() {
    let dir = tempfile::tempdir().unwrap();
    let (db, token, servers) = two_replicas(dir.path());
    let first = stored_incidents(&db, "default");
    assert_eq!(first, 300);
    for s in &servers {
        assert_eq!(served_incidents(s, &token), Some(first));
        assert_eq!(metric(s, "brandpunt_change_feed_connects_total"), 1.0);
    }

    // A delivery by another process: announced, and each replica reloads the tenant.
    let heard: Vec<f64> = servers
        .iter()
        .map(|s| metric(s, "brandpunt_change_notifications_total"))
        .collect();
    import(&db, dir.path(), "TWEEDE", 120);
    let second = stored_incidents(&db, "default");
    assert_eq!(second, first + 120);
    for (s, before) in servers.iter().zip(&heard) {
        wait_for_incidents(s, &token, second, "after a CLI import");
        assert!(
            metric(s, "brandpunt_change_notifications_total") > *before,
            "{}: the import was announced",
            s.base
        );
    }

    // The database server ends the connections the replicas listen on: they reconnect and still see commits.
    let c = cluster();
    let database = db.rsplit('/').next().unwrap();
    let killed = c.psql(
        "postgres",
        "postgres",
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = '{database}' AND query ILIKE 'LISTEN %'"
        ),
    );
    assert_eq!(killed, "2", "one listening connection per replica");
    for s in &servers {
        wait_for_metric(s, "brandpunt_change_feed_connects_total", 2.0);
    }
    import(&db, dir.path(), "DERDE", 45);
    let third = stored_incidents(&db, "default");
    assert_eq!(third, second + 45);
    for s in &servers {
        wait_for_incidents(s, &token, third, "after the listen connections were killed");
    }
}

#[test]
fn a_login_on_one_replica_holds_on_the_other_and_failed_logins_count_on_both() {
    let (db, _token) = database_with_analyst();
    let password = "een lang genoeg wachtwoord";
    {
        let mut store = StoreOpener::new(Path::new(&db)).unwrap().open().unwrap();
        store
            .add_user("default", "bert", Role::Viewer, &[])
            .unwrap();
        store.set_password("ana", password).unwrap();
        store.set_password("bert", password).unwrap();
    }
    let a = srv::start(Path::new(&db), &[]);
    let b = srv::start(Path::new(&db), &[]);
    // Only the SHA-256 of a session id is stored, never the id (the cookie value).
    let body = format!(r#"{{"user": "bert", "password": "{password}"}}"#);
    let r = srv::request("POST", &format!("{}/api/login", a.base), &[], Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    let set_cookie = r.header("set-cookie").unwrap();
    let id = set_cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("brandpunt_sessie="))
        .unwrap();
    let database = db.rsplit('/').next().unwrap().split('?').next().unwrap();
    let stored = cluster().psql(
        "postgres",
        database,
        "SELECT encode(key, 'hex') FROM web_session",
    );
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored.trim(), hash);
    crate::login::sessions_are_shared_by_two_servers(&a, &b, "ana", "bert", password);
}

#[test]
fn two_replicas_writing_audit_records_at_once_keep_one_unbroken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (db, token, servers) = two_replicas(dir.path());
    let per_thread = 15;
    // Address-level exports on both replicas at once: each writes its audit record before answering.
    std::thread::scope(|scope| {
        for s in &servers {
            for _ in 0..3 {
                let token = &token;
                scope.spawn(move || {
                    for _ in 0..per_thread {
                        let r =
                            srv::get_as(&s.base, Some(token), "/api/incidents.csv?category=1.2.3");
                        assert_eq!(r.status, 200, "{}", r.text());
                    }
                });
            }
        }
    });
    let store = StoreOpener::new(Path::new(&db)).unwrap().open().unwrap();
    let records = store.audit_records(None, None).unwrap();
    let exports = records
        .iter()
        .filter(|r| r.endpoint == "GET /api/incidents.csv")
        .count();
    assert_eq!(exports, 2 * 3 * per_thread, "one record per export");
    brandpunt::audit::verify(&records).expect("one unbroken chain");
}

/// The value of `brandpunt_duty_held{duty="DUTY"}` of `server`, `None` before its task reported.
fn duty_held(server: &Server, duty: &str) -> Option<f64> {
    let text = srv::request("GET", &format!("{}/metrics", server.base), &[], None).text();
    let series = format!("brandpunt_duty_held{{duty=\"{duty}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn one_replica_imports_the_shared_inbox_and_the_other_takes_over_when_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let (db, token) = database_with_analyst();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let inbox_arg = inbox.display().to_string();
    let mut servers: Vec<Server> = (0..2)
        .map(|_| srv::start(Path::new(&db), &["--inbox", &inbox_arg]))
        .collect();

    // Exactly one replica holds the inbox.
    let started = Instant::now();
    let holder = loop {
        let held: Vec<Option<f64>> = servers.iter().map(|s| duty_held(s, "inbox")).collect();
        if held.iter().all(|h| h.is_some()) {
            let holders: Vec<usize> = (0..2).filter(|&i| held[i] == Some(1.0)).collect();
            assert!(holders.len() <= 1, "both replicas hold the inbox: {held:?}");
            if let [one] = holders[..] {
                break one;
            }
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no replica took the inbox: {held:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };

    // The holder dies: its lock goes with its connection, and the other replica takes the inbox over.
    drop(servers.remove(holder));
    let survivor = &servers[0];
    let started = Instant::now();
    while duty_held(survivor, "inbox") != Some(1.0) {
        assert!(
            started.elapsed() < DEADLINE,
            "the surviving replica never took the inbox over"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let delivery = dir.path().join("inbox_week.csv");
    write_delivery(&delivery, "INBOX", 80);
    std::fs::copy(&delivery, inbox.join("week.csv")).unwrap();
    std::fs::write(inbox.join("week.csv.done"), "").unwrap();
    let started = Instant::now();
    while !inbox.join("done/week.csv").exists() {
        assert!(
            started.elapsed() < DEADLINE,
            "the surviving replica never imported the inbox file"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(stored_incidents(&db, "default"), 80);
    wait_for_incidents(survivor, &token, 80, "after the inbox import");
}
