//! `POST /api/compare` latency: 5 areas x 2 periods through the real router on a local listener (HTTP over
//! loopback, one client). `cold` varies the periods on every request so the response cache never hits (the
//! compute path); `warm` repeats one request (the cache path); `wdq` adds an intervention (200 m buffer).
//! `cargo bench` uses the default demo city (104 weeks) and also prints p50/p99 over 2,000 cold requests (the
//! target is p99 < 20 ms); `cargo test --all-targets` uses the small city and runs every benchmark once.

use brandpunt::config::ServerConfig;
use brandpunt::server::{router, AppState};
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Fixture {
    _dir: tempfile::TempDir,
    base: String,
    areas: Vec<String>,
    control: String,
    first: NaiveDate,
    /// Days between the first and last incident day.
    span_days: u64,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("brandpunt.db");
    // The default demo city (104 weeks) under `cargo bench`; the small one (10 weeks) in test mode.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_brandpunt"));
    cmd.arg("--db").arg(&db).arg("demo");
    if !bench_mode() {
        cmd.arg("--small");
    }
    let out = cmd
        .arg("--dir")
        .arg(dir.path().join("demo"))
        .output()
        .expect("run brandpunt demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut config = ServerConfig::new(db, "127.0.0.1:0".parse().expect("addr"));
    config.public_tenant = Some("default".into());
    let state = AppState::open(config).expect("open state");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(l, router(state)).await;
        });
    });
    let get = |path: &str| -> Value {
        ureq::get(&format!("{base}{path}"))
            .call()
            .expect("GET")
            .into_json()
            .expect("JSON")
    };
    let meta = get("/api/meta");
    let first =
        NaiveDate::parse_from_str(meta["period"]["first"].as_str().unwrap_or(""), "%Y-%m-%d")
            .expect("first day");
    let last = NaiveDate::parse_from_str(meta["period"]["last"].as_str().unwrap_or(""), "%Y-%m-%d")
        .expect("last day");
    let busiest = |level: &str| -> Vec<String> {
        let gj = get(&format!(
            "/api/stats.geojson?level={level}&category=inbraak"
        ));
        let mut v: Vec<(i64, String)> = gj["features"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| {
                        (
                            f["properties"]["count"].as_i64().unwrap_or(0),
                            f["properties"]["code"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.into_iter().rev().map(|(_, c)| c).collect()
    };
    let areas: Vec<String> = busiest("buurt").into_iter().take(5).collect();
    // Control: the busiest wijk that does not hold the target buurt (it has incidents in both periods).
    let target_wijk = get("/api/areas?level=buurt")
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|b| b["code"].as_str() == areas.first().map(String::as_str))
                .and_then(|b| b["wijkcode"].as_str().map(str::to_string))
        })
        .unwrap_or_default();
    let control = busiest("wijk")
        .into_iter()
        .find(|w| *w != target_wijk)
        .unwrap_or_default();
    Fixture {
        _dir: dir,
        base,
        areas,
        control,
        first,
        span_days: u64::try_from((last - first).num_days()).unwrap_or(0),
    }
}

fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A request body for variant `i` (distinct periods for distinct `i`).
fn body(fx: &Fixture, i: u64, intervention: bool) -> String {
    // The second half of the data with a varying start (97 values) and length (28..124 days): the comparison
    // period (the equally long period before) lies in the data too.
    let half = fx.span_days / 2;
    let from = fx.first + chrono::Days::new((half + i % 97).min(fx.span_days));
    let len = 28 + (i / 97) % 97;
    let to = from + chrono::Days::new(len);
    let mut b = json!({
        "areas": fx.areas,
        "from": from.to_string(),
        "to": to.to_string(),
    });
    // The small city of test mode has too few burglaries for the WDQ's control area: all categories there.
    if bench_mode() {
        b["category"] = json!("inbraak");
    }
    if intervention {
        b["intervention"] = json!({"target": fx.areas[0], "buffer_m": 200, "control": fx.control});
    }
    b.to_string()
}

fn post(fx: &Fixture, body: &str) -> usize {
    let r = ureq::post(&format!("{}/api/compare", fx.base))
        .set("Content-Type", "application/json")
        .send_string(body)
        .unwrap_or_else(|e| match e {
            ureq::Error::Status(code, r) => panic!(
                "POST /api/compare {body}: {code} {}",
                r.into_string().unwrap_or_default()
            ),
            other => panic!("POST /api/compare: {other}"),
        });
    r.into_string().map(|s| s.len()).unwrap_or(0)
}

fn bench_compare(c: &mut Criterion) {
    let fx = fixture();
    let n = AtomicU64::new(0);
    c.bench_function("compare_api_5_areas_2_periods_cold", |b| {
        b.iter(|| post(&fx, &body(&fx, n.fetch_add(1, Ordering::Relaxed), false)))
    });
    let warm = body(&fx, 0, false);
    c.bench_function("compare_api_5_areas_2_periods_warm", |b| {
        b.iter(|| post(&fx, &warm))
    });
    c.bench_function("compare_api_5_areas_2_periods_wdq_cold", |b| {
        b.iter(|| post(&fx, &body(&fx, n.fetch_add(1, Ordering::Relaxed), true)))
    });
    if bench_mode() {
        for (label, intervention) in [("cold", false), ("wdq cold", true)] {
            let mut t: Vec<Duration> = (0..2_000)
                .map(|_| {
                    let b = body(&fx, n.fetch_add(1, Ordering::Relaxed), intervention);
                    let start = Instant::now();
                    post(&fx, &b);
                    start.elapsed()
                })
                .collect();
            t.sort();
            eprintln!(
                "compare_api {label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} requests",
                t[t.len() / 2].as_secs_f64() * 1e3,
                t[t.len() * 99 / 100].as_secs_f64() * 1e3,
                t[t.len() - 1].as_secs_f64() * 1e3,
                t.len()
            );
        }
    }
}

criterion_group!(benches, bench_compare);
criterion_main!(benches);
