//! Benchmark of the patrol-planning core at municipality scale: the aoristic share of every incident in a
//! Friday-night block ([`patrol_block_share`]) followed by binning and ranking on the 100 m grid
//! ([`rank_cells`]) - the work of one uncached `GET /api/patrol`. Inputs are synthetic and generated inside the
//! benchmark function, so `cargo test --all-targets` (one iteration) stays fast.

use brandpunt::analysis::aoristic::{patrol_block_share, AoristicConfig, PatrolBlock};
use brandpunt::analysis::patrol::{rank_cells, WeightedIncident};
use brandpunt::analysis::Event;
use chrono::{Duration, NaiveDate, Weekday};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` incidents over two years in a 10 x 10 km city, windows of 0 to 72 hours (a third exact).
fn events(n: usize) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let base = NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    (0..n)
        .map(|i| {
            let begin = base + Duration::seconds(rng.gen_range(0..730 * 86_400));
            let len = if i % 3 == 0 {
                0
            } else {
                rng.gen_range(60..72 * 3_600)
            };
            Event {
                x_m: 150_000.0 + rng.gen_range(0.0..10_000.0),
                y_m: 450_000.0 + rng.gen_range(0.0..10_000.0),
                begin: Some(begin),
                end: Some(begin + Duration::seconds(len)),
                weight: 1.0,
            }
        })
        .collect()
}

fn patrol(c: &mut Criterion) {
    let block = PatrolBlock::new((Weekday::Fri, 20, 0), (Weekday::Sat, 2, 0)).unwrap_or_else(|e| {
        panic!("{e}");
    });
    let cfg = AoristicConfig::default();
    let mut group = c.benchmark_group("patrol");
    group.sample_size(10);
    for n in [100_000usize, 1_000_000] {
        let evs = events(n);
        group.bench_function(format!("share_and_rank_{n}_incidents_100m_top10"), |b| {
            b.iter(|| {
                let weighted: Vec<WeightedIncident<'_>> = evs
                    .iter()
                    .filter_map(|e| {
                        let share = patrol_block_share(e, &block, &cfg).ok().flatten()?;
                        Some(WeightedIncident {
                            x_m: e.x_m,
                            y_m: e.y_m,
                            share,
                            street: None,
                        })
                    })
                    .collect();
                black_box(rank_cells(&weighted, 100, 10))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, patrol);
criterion_main!(benches);
