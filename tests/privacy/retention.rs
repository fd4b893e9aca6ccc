//! The daily retention task of `brandpunt serve` (`[privacy] retention_months` in the config file): at start it
//! deletes exactly the address-level incidents whose window ended before the cutoff (counted independently with
//! SQL beforehand), keeps everything else, logs one audit record per tenant by `serve:retentie`, keeps the
//! audit chain intact and serves the reduced data without a restart.

use crate::common::demo::{cli_ok, demo_copy};
use crate::common::server as srv;
use chrono::Datelike;
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
    let (dir, db) = demo_copy();
    let conn = Connection::open(&db).unwrap();
    // The server's clock is set (`--now`) so that a retention of two months cuts the demo's incidents in the
    // middle, in the widest gap between incident ends there: the few seconds between the server's start and the
    // task's run cannot move an incident across the cutoff, and neither can today's date.
    let ends: Vec<i64> = conn
        .prepare("SELECT DISTINCT end_min FROM incident ORDER BY end_min")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let middle = &ends[ends.len() * 2 / 5..ends.len() * 3 / 5];
    let minute = |m: i64| {
        chrono::DateTime::from_timestamp(m * 60, 0)
            .unwrap()
            .naive_utc()
    };
    let (gap_start, _) = middle
        .windows(2)
        .map(|w| (w[0], w[1] - w[0]))
        .filter(|&(a, _)| minute(a + 1).day() <= 28)
        .max_by_key(|&(_, gap)| gap)
        .unwrap();
    let cutoff_min = gap_start + 1;
    let months = 2;
    let now = minute(cutoff_min)
        .checked_add_months(chrono::Months::new(months))
        .unwrap();
    assert_eq!(
        brandpunt::server::retention::cutoff(now, months),
        Some(minute(cutoff_min))
    );
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
    let now = now.format("%Y-%m-%dT%H:%M:%S").to_string();
    let server = srv::start(&db, &["--config", config.to_str().unwrap(), "--now", &now]);

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
    cli_ok(&db, &["audit", "verify"]);
}
