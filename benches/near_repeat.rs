//! The near-repeat (Knox) test on 12,000 synthetic burglaries: 4 x 4 bands (100..400 m, 7..28 days), 999
//! permutations (target < 2 s on 2 cores, issue 14).
//!
//! Run: `cargo bench --bench near_repeat`. The events: a year of days, 60 % spread uniformly over a
//! 15 x 15 km city and 40 % around 30 neighbourhood centres (Gaussian, sigma 500 m), from a fixed seed. Under
//! `cargo test --all-targets` (no `--bench` argument) 1,200 events and 99 permutations.

use brandpunt::analysis::near_repeat::{knox, KnoxParams, Metric, NearRepeatEvent};
use brandpunt::cancel::Cancel;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn events(n: usize) -> Vec<NearRepeatEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let centres: Vec<(f64, f64)> = (0..30)
        .map(|_| (rng.gen_range(0.0..15_000.0), rng.gen_range(0.0..15_000.0)))
        .collect();
    (0..n)
        .map(|_| {
            let (x, y) = if rng.gen_bool(0.6) {
                (rng.gen_range(0.0..15_000.0), rng.gen_range(0.0..15_000.0))
            } else {
                let (cx, cy) = centres[rng.gen_range(0..centres.len())];
                // Box-Muller: two normal deviates with sigma 500 m.
                let (u, v): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen_range(0.0..1.0));
                let r = 500.0 * (-2.0 * u.ln()).sqrt();
                let a = std::f64::consts::TAU * v;
                (cx + r * a.cos(), cy + r * a.sin())
            };
            NearRepeatEvent {
                x_m: x.round(),
                y_m: y.round(),
                day: rng.gen_range(0..365),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, iterations) = if full { (12_000, 999) } else { (1_200, 99) };
    let ev = events(n);
    let params = KnoxParams {
        distance_bands_m: vec![100.0, 200.0, 300.0, 400.0],
        time_bands_days: vec![7, 14, 21, 28],
        metric: Metric::Euclidean,
        iterations,
        seed: 1,
        nrc_compatible: false,
    };
    let table = knox(&ev, &params, &Cancel::never()).expect("knox");
    eprintln!(
        "near_repeat: {} events, {} pairs, {} within 400 m, {} threads",
        table.events,
        table.pairs,
        table.close_pairs,
        rayon::current_num_threads()
    );
    let mut group = c.benchmark_group("near_repeat");
    group.sample_size(10);
    group.bench_function(
        format!("knox_{n}_events_4x4_bands_{iterations}_permutations"),
        |b| b.iter(|| knox(black_box(&ev), &params, &Cancel::never()).expect("knox")),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
