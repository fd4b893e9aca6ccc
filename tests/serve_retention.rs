//! The daily retention task of `brandpunt serve` (`[privacy] retention_months` in the config file): at start it
//! deletes exactly the address-level incidents whose window ended before the cutoff (counted independently with
//! SQL beforehand), keeps everything else, logs one audit record per tenant by `serve:retentie`, keeps the
//! audit chain intact and serves the reduced data without a restart.

mod common;

use chrono::Datelike;
use common::server as srv;
use rusqlite::Connection;
use std::time::{Duration, Instant};

fn count(conn: &Connection, sql: &str, cutoff_min: i64) -> i64 {
    conn.query_row(sql, [cutoff_min], |r| r.get(0)).unwrap()
}

const OLD_LOCATED: &str =
    "SELECT count(*) FROM incident WHERE located_by IN ('address', 'coordinates') \
                           AND end_min < ?1";
const KEPT: &str =
    "SELECT count(*) FROM incident WHERE NOT (located_by IN ('address', 'coordinates') \
                    AND end_min < ?1)";

#[test]
fn serve_applies_retention_at_start_and_logs_it() {
    let (dir, db) = srv::demo_copy();
    let conn = Connection::open(&db).unwrap();
    // A retention period that cuts the demo's two years roughly in half, whatever today's date is.
    let (first_min, last_min): (i64, i64) = conn
        .query_row(
            "SELECT min(begin_min), max(end_min) FROM incident",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let middle = chrono::DateTime::from_timestamp((first_min + last_min) / 2 * 60, 0)
        .unwrap()
        .naive_utc();
    let now = chrono::Utc::now().naive_utc();
    let months = (now.year() - middle.year()) as u32 * 12 + now.month() - middle.month();
    let cutoff = now.checked_sub_months(chrono::Months::new(months)).unwrap();
    let cutoff_min = cutoff.and_utc().timestamp().div_euclid(60);
    let old = count(&conn, OLD_LOCATED, cutoff_min);
    let kept = count(&conn, KEPT, cutoff_min);
    assert!(old > 100 && kept > 100, "old {old}, kept {kept}");
    let audit_before: i64 = conn
        .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();

    let config = dir.path().join("brandpunt.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\npublic_tenant = \"default\"\n\n[privacy]\nretention_months = {months}\n"
        ),
    )
    .unwrap();
    let server = srv::start(&db, &["--config", config.to_str().unwrap()]);

    // The task runs at start; wait for its audit record.
    let deadline = Instant::now() + Duration::from_secs(60);
    let record = loop {
        let r: Option<(String, String, i64)> = conn
            .query_row(
                "SELECT actor, tenant, records FROM audit_log WHERE actor = 'serve:retentie'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .ok();
        if let Some(r) = r {
            break r;
        }
        assert!(Instant::now() < deadline, "no retention record");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(record, ("serve:retentie".into(), "default".into(), old));
    assert_eq!(count(&conn, OLD_LOCATED, cutoff_min), 0);
    assert_eq!(count(&conn, KEPT, cutoff_min), kept);
    let audit_after: i64 = conn
        .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audit_after, audit_before + 1);

    // The server shows the reduced data: /api/meta's total equals the store's count.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let meta = srv::request("GET", &format!("{}/api/meta", server.base), &[], None).json();
        if meta["incidents"].as_i64() == Some(kept) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server still shows {} incidents, store has {kept}",
            meta["incidents"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);

    // The chain still verifies.
    srv::cli_ok(&db, &["audit", "verify"]);
}
