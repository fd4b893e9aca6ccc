//! Benchmark of [`Snapshot::apply`] (issue 12 item 4: an update follows the delivery, not the tenant): a
//! delivery of one new registration and one new version (its old version superseded) applied to snapshots of
//! growing size. The time should not grow with the tenant's incidents. `APPLY_BENCH_INCIDENTS` lists the sizes
//! (comma-separated; default `100000,1000000`).

use brandpunt::cancel::Cancel;
use brandpunt::dataset::{
    IncidentDelta, IncidentRecord, Snapshot, SupersededVersion, TenantData, TenantTable,
};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

fn start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2021, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// Incident `k` of a national-looking tenant: spread over the Netherlands in RD and over five years.
fn record(k: u32) -> IncidentRecord {
    let x = 13_000.0 + f64::from(k.wrapping_mul(2_654_435_761) % 265_000);
    let y = 306_000.0 + f64::from(k.wrapping_mul(40_503) % 313_000);
    let begin = start() + Duration::minutes(i64::from(k.wrapping_mul(7_919) % 2_629_440));
    IncidentRecord {
        id: i64::from(k),
        source: "politie".into(),
        begin,
        end: begin,
        category_code: Some(["1.1.1", "2.2.1", "3.3.3"][(k % 3) as usize].into()),
        x_m: Some(x),
        y_m: Some(y),
        buurtcode: None,
    }
}

fn sizes() -> Vec<u32> {
    std::env::var("APPLY_BENCH_INCIDENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000])
}

fn apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot_apply");
    group.sample_size(20);
    for n in sizes() {
        let data = TenantData {
            code: "t".into(),
            name: "T".into(),
            areas: vec![],
            incidents: (0..n).map(record).collect(),
        };
        let snapshot = match Snapshot::build_table(1, TenantTable::from(data), &Cancel::never()) {
            Ok(s) => s,
            Err(e) => panic!("building the snapshot of {n} incidents: {e}"),
        };
        // Registration n/2 gets a new version (a new id, a later begin); registration n arrives.
        let old = record(n / 2);
        let mut new_version = record(n / 2);
        new_version.id = i64::from(n) + 1;
        new_version.begin += Duration::days(3);
        new_version.end = new_version.begin;
        let delta = IncidentDelta {
            written: vec![new_version, record(n)],
            superseded: vec![SupersededVersion {
                id: old.id,
                begin: old.begin,
            }],
        };
        group.bench_with_input(BenchmarkId::new("one_row_delivery", n), &n, |b, _| {
            b.iter(|| {
                let next = snapshot.apply(2, delta.clone(), &Cancel::never());
                black_box(next.map(|s| s.incidents.len()))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, apply);
criterion_main!(benches);
