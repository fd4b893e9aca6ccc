//! Crash safety: `kill -9` of a `brandpunt import incidents` child process while its transaction is being
//! written leaves the store exactly as it was, and the import can simply be repeated.

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
