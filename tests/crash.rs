//! Crash safety: `kill -9` of a `brandpunt import incidents` child process while its transaction is being
//! written leaves the store exactly as it was, and the import can simply be repeated.

mod common;

use brandpunt::store::{IncidentFilter, SqliteStore, Store};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: usize = 80_000;

fn brandpunt(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brandpunt"));
    c.arg("--db").arg(db);
    c
}

fn write_delivery(path: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        f,
        "Registratienummer;Pleegdatum begin;Pleegtijd begin;Maatschappelijke klasse;X;Y"
    )
    .unwrap();
    for i in 0..ROWS {
        writeln!(
            f,
            "PL-{i:08};{:02}-03-2024;{:02}:15;1.2.3 Diefstal van brom-, snor-, fietsen;{},5;{},25",
            1 + i % 28,
            i % 24,
            233_000 + i % 1500,
            473_000 + (i / 1500) % 1500
        )
        .unwrap();
    }
}

fn wal_size(db: &Path) -> u64 {
    std::fs::metadata(db.with_extension("db-wal"))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[test]
fn kill_9_during_an_import_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("brandpunt.db");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let status = brandpunt(&db)
        .args(["import", "cbs"])
        .arg(fixtures.join("cbs/wijkenbuurten_2024_v1.gpkg"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let delivery = dir.path().join("levering.csv");
    write_delivery(&delivery);

    let mut child = brandpunt(&db)
        .args(["import", "incidents"])
        .arg(&delivery)
        .args(["--source", "politie"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the import transaction is spilling pages into the WAL, then kill -9 (SIGKILL).
    let start = Instant::now();
    let mut killed_while_writing = false;
    while start.elapsed() < Duration::from_secs(300) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if wal_size(&db) > 256 * 1024 {
            child.kill().unwrap();
            killed_while_writing = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(
        killed_while_writing,
        "the import finished (or stalled) before it could be killed mid-write"
    );

    {
        let store = SqliteStore::open(&db).unwrap();
        let check: String = store
            .connection()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        assert!(
            store.deliveries("default").unwrap().is_empty(),
            "a killed import must not leave a delivery"
        );
        let n = store
            .incidents(&IncidentFilter {
                tenant: "default".into(),
                ..Default::default()
            })
            .unwrap()
            .len();
        assert_eq!(n, 0, "a killed import must not leave incidents");
        assert_eq!(
            store.boundary_sets().unwrap().len(),
            1,
            "earlier data survive"
        );
    }

    let status = brandpunt(&db)
        .args(["import", "incidents"])
        .arg(&delivery)
        .args(["--source", "politie"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the import can simply be repeated");
    let store = SqliteStore::open(&db).unwrap();
    let n = store
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap()
        .len();
    assert_eq!(n, ROWS);
}

/// `kill -9` of `brandpunt serve` while an analyst keeps saving custom areas: after every kill the store is
/// intact, every stored area is whole (its geometry decodes and equals what was sent), every area the client
/// was told was saved (201) is there, at most the one in flight besides, and the restarted server serves them.
#[test]
fn kill_9_during_custom_area_writes_leaves_whole_areas() {
    use brandpunt::access::Role;
    use common::demo::demo_copy;
    use common::server as srv;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let (_dir, db) = demo_copy();
    let token = srv::user_token(&db, "default", "analist-test", Role::Analyst, &["*"]);
    let centre = {
        let s = srv::start(&db, &["--public-tenant", "default"]);
        let meta = srv::request("GET", &format!("{}/api/meta", s.base), &[], None).json();
        (
            meta["center"][0].as_f64().unwrap(),
            meta["center"][1].as_f64().unwrap(),
        )
    };
    // Names of the areas the server confirmed with 201.
    let confirmed: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut sent = 0usize;
    for round in 0..6u64 {
        let server = srv::start(&db, &["--public-tenant", "default"]);
        let stop = Arc::new(AtomicBool::new(false));
        let client = {
            let (base, token, stop, confirmed) = (
                server.base.clone(),
                token.clone(),
                stop.clone(),
                confirmed.clone(),
            );
            let first = sent;
            std::thread::spawn(move || {
                let mut i = first;
                while !stop.load(Ordering::Relaxed) {
                    let d = 0.001 + 0.0001 * (i % 40) as f64;
                    let (x, y) = (centre.0 + 0.0003 * (i % 7) as f64, centre.1);
                    let name = format!("gebied-{i}");
                    let body = serde_json::json!({"type": "Feature", "properties": {"name": name},
                        "geometry": {"type": "Polygon", "coordinates": [[[x - d, y - d], [x + d, y - d],
                        [x + d, y + d], [x - d, y + d], [x - d, y - d]]]}});
                    let r = ureq::post(&format!("{base}/api/areas"))
                        .set("Authorization", &format!("Bearer {token}"))
                        .send_json(body);
                    i += 1;
                    match r {
                        Ok(resp) if resp.status() == 201 => confirmed.lock().unwrap().push(name),
                        Ok(resp) => panic!("unexpected status {}", resp.status()),
                        Err(ureq::Error::Status(code, resp)) => {
                            panic!("{code}: {}", resp.into_string().unwrap_or_default())
                        }
                        // The server was killed.
                        Err(_) => break,
                    }
                }
                i
            })
        };
        // Wait for this round's first confirmed write, then kill -9 at a moment that varies per round.
        let before = confirmed.lock().unwrap().len();
        let deadline = Instant::now() + Duration::from_secs(60);
        while confirmed.lock().unwrap().len() == before {
            assert!(
                Instant::now() < deadline,
                "round {round}: no write confirmed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(53 * round));
        drop(server); // SIGKILL + wait
        stop.store(true, Ordering::Relaxed);
        sent = client.join().unwrap();

        let store = SqliteStore::open(&db).unwrap();
        let check: String = store
            .connection()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
        let areas = store.custom_areas("default").unwrap();
        let stored: Vec<String> = areas.iter().map(|a| a.name.clone()).collect();
        let confirmed = confirmed.lock().unwrap().clone();
        for name in &confirmed {
            assert!(
                stored.contains(name),
                "round {round}: confirmed {name} lost"
            );
        }
        assert!(
            stored.len() <= confirmed.len() + round as usize + 1,
            "round {round}: {} stored, {} confirmed",
            stored.len(),
            confirmed.len()
        );
        for a in &areas {
            let exterior = &a.geometry.0[0].exterior().0;
            assert_eq!(exterior.len(), 5, "{} is whole", a.name);
        }
    }
    assert!(confirmed.lock().unwrap().len() >= 6, "writes happened");
    // The restarted server serves exactly the stored areas.
    let server = srv::start(&db, &["--public-tenant", "default"]);
    let listed = srv::request(
        "GET",
        &format!("{}/api/areas?level=custom", server.base),
        &[],
        None,
    )
    .json();
    let n = SqliteStore::open(&db)
        .unwrap()
        .custom_areas("default")
        .unwrap()
        .len();
    assert_eq!(listed.as_array().unwrap().len(), n);
}
