//! Benchmarks of the statistics modules (aoristic profiles and series, rate ratios, striking areas, phenomenon
//! profile, hotspot evaluation) at municipality scale. Inputs are synthetic and generated inside each benchmark
//! function, so `cargo test --all-targets` (one iteration per benchmark) stays fast.

use std::collections::HashMap;

use brandpunt::analysis::aoristic::{time_profile, time_series, AoristicConfig};
use brandpunt::analysis::compare::rate_ratio;
use brandpunt::analysis::evaluation::{evaluate, top_cells_by_score, CellAreas};
use brandpunt::analysis::profile::{phenomenon_profile, AddressAttrs};
use brandpunt::analysis::striking::{striking_areas, AreaSeries, Baseline, StrikingConfig};
use brandpunt::analysis::Event;
use brandpunt::calendar::Step;
use chrono::{Duration, NaiveDate};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` incidents in 2025 with windows of 0 to 72 hours (a third exact), plus a few over the 7-day limit.
fn events(n: usize) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let base = NaiveDate::from_ymd_opt(2025, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    (0..n)
        .map(|i| {
            let begin = base + Duration::seconds(rng.gen_range(0..365 * 86_400));
            let len = match i % 3 {
                0 => 0,
                _ if i % 101 == 0 => 10 * 86_400,
                _ => rng.gen_range(60..72 * 3_600),
            };
            Event {
                x_m: 120_000.0,
                y_m: 480_000.0,
                begin: Some(begin),
                end: Some(begin + Duration::seconds(len)),
                weight: 1.0,
            }
        })
        .collect()
}

fn bench_aoristic(c: &mut Criterion) {
    let ev = events(100_000);
    let cfg = AoristicConfig::default();
    c.bench_function("aoristic_time_profile_100k", |b| {
        b.iter(|| time_profile(black_box(&ev), &cfg))
    });
    let from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let to = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default();
    c.bench_function("aoristic_daily_series_100k_1y", |b| {
        b.iter(|| time_series(black_box(&ev), from, to, Step::Day, &cfg))
    });
}

fn bench_rate_ratio(c: &mut Criterion) {
    c.bench_function("rate_ratio_exact_n_200k", |b| {
        b.iter(|| rate_ratio(black_box(101_234), 365.0, black_box(98_766), 366.0, 0.95))
    });
}

fn bench_striking(c: &mut Criterion) {
    // 14,800 buurten (the national count), 37 months each, seasonal baseline.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let series: Vec<AreaSeries> = (0..14_800)
        .map(|i| AreaSeries {
            area_id: format!("BU{i:08}"),
            category: None,
            counts: (0..37).map(|_| rng.gen_range(0..30)).collect(),
        })
        .collect();
    let cfg = StrikingConfig {
        baseline: Baseline::Seasonal,
        ..StrikingConfig::default()
    };
    c.bench_function("striking_areas_14800_buurten_seasonal", |b| {
        b.iter(|| striking_areas(black_box(&series), &cfg))
    });
}

fn bench_profile(c: &mut Criterion) {
    // A city of 100,000 addresses with 5,000 incidents.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let doelen = [
        "woonfunctie",
        "winkelfunctie,woonfunctie",
        "kantoorfunctie",
        "industriefunctie",
    ];
    let addresses: Vec<AddressAttrs> = (0..100_000)
        .map(|i| AddressAttrs {
            address_id: format!("0363010000{i:06}"),
            bouwjaar: Some(rng.gen_range(1850..2025)),
            gebruiksdoelen: vec![doelen[rng.gen_range(0..doelen.len())].to_string()],
            oppervlakte_m2: Some(rng.gen_range(20.0..400.0)),
        })
        .collect();
    let incidents: Vec<String> = (0..5_000)
        .map(|_| {
            addresses[rng.gen_range(0..addresses.len())]
                .address_id
                .clone()
        })
        .collect();
    c.bench_function("phenomenon_profile_100k_addresses_5k_incidents", |b| {
        b.iter(|| phenomenon_profile(black_box(&addresses), black_box(&incidents), 0.95))
    });
}

fn bench_evaluation(c: &mut Criterion) {
    // A 200 x 200 grid of 100 m cells (20 km x 20 km), 30,000 test incidents, top 5 % by training counts.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut train: HashMap<u32, f64> = HashMap::new();
    let mut test: HashMap<u32, f64> = HashMap::new();
    for _ in 0..30_000 {
        let cell = (rng.gen_range(0.0f64..1.0).powi(3) * 40_000.0) as u32;
        *train.entry(cell).or_default() += 1.0;
        let cell = (rng.gen_range(0.0f64..1.0).powi(3) * 40_000.0) as u32;
        *test.entry(cell).or_default() += 1.0;
    }
    let area = CellAreas::Uniform(10_000.0);
    let study = 40_000.0 * 10_000.0;
    c.bench_function("evaluate_top5pct_40k_cells", |b| {
        b.iter(|| {
            let hot = top_cells_by_score(black_box(&train), area, study, 0.05)?;
            evaluate(&hot, area, study, black_box(&test), Some(&train))
        })
    });
}

criterion_group!(
    benches,
    bench_aoristic,
    bench_rate_ratio,
    bench_striking,
    bench_profile,
    bench_evaluation
);
criterion_main!(benches);
