//! KDE benchmarks. Target (task brief): quartic, 1 M points, 20 x 20 km at 10 m cells (4 M cells), bandwidth
//! 250 m in < 1 s on 2 cores, and >= 20x faster than scikit-learn `KernelDensity` on the same input
//! (`benches/kde_sklearn.py` generates identical points with the same LCG and times sklearn).
//!
//! Run: `cargo bench --bench kde`. Under `cargo test --all-targets` (no `--bench` argument) the inputs are
//! scaled down 100x so the test run stays quick; the figures in BENCHMARKS.md come from `cargo bench`.

use std::hint::black_box;
use std::time::Duration;

use brandpunt::analysis::kde::{density_at_points, kde_raster, Extent, KdeParams, Kernel};
use brandpunt::analysis::Event;
use criterion::{criterion_group, criterion_main, Criterion};

/// Side of the study area (m) and its origin (somewhere in RD).
const SIDE_M: f64 = 20_000.0;
const X0: f64 = 120_000.0;
const Y0: f64 = 480_000.0;

/// 64-bit LCG (Knuth MMIX constants); `next()` returns the top 53 bits as a float in [0, 1).
/// `benches/kde_sklearn.py` implements the same generator.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / 9_007_199_254_740_992.0
    }
}

/// `n` synthetic incidents in the 20 x 20 km square: 50 clusters (70 % of the points, spread ~ +-450 m) plus
/// uniform background. Only +, -, * and / so Python reproduces the exact same doubles.
fn synthetic_events(n: usize) -> Vec<Event> {
    let mut g = Lcg(20_261_122);
    let centres: Vec<(f64, f64)> = (0..50)
        .map(|_| {
            (
                X0 + 2_000.0 + 16_000.0 * g.next(),
                Y0 + 2_000.0 + 16_000.0 * g.next(),
            )
        })
        .collect();
    (0..n)
        .map(|_| {
            let (x, y) = if g.next() < 0.7 {
                let c = centres[((g.next() * 50.0) as usize).min(49)];
                let dx = (g.next() + g.next() + g.next() - 1.5) * 300.0;
                let dy = (g.next() + g.next() + g.next() - 1.5) * 300.0;
                (c.0 + dx, c.1 + dy)
            } else {
                (X0 + SIDE_M * g.next(), Y0 + SIDE_M * g.next())
            };
            Event {
                x_m: x,
                y_m: y,
                begin: None,
                end: None,
                weight: 1.0,
            }
        })
        .collect()
}

/// The first synthetic point as printed by `benches/kde_sklearn.py`: both sides see identical input.
const FIRST_POINT_FROM_PYTHON: (f64, f64) = (122_408.844_093_399_7, 495_806.828_306_750_4);

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn params(kernel: Kernel) -> KdeParams {
    KdeParams {
        kernel,
        bandwidth_m: Some(250.0),
        cell_m: 10.0,
        extent_m: Some(Extent {
            minx_m: X0,
            miny_m: Y0,
            maxx_m: X0 + SIDE_M,
            maxy_m: Y0 + SIDE_M,
        }),
        gaussian_tail: brandpunt::analysis::kde::DEFAULT_GAUSSIAN_TAIL,
    }
}

fn bench_kde(c: &mut Criterion) {
    let n = if full_run() { 1_000_000 } else { 10_000 };
    let mut group = c.benchmark_group("kde_20km_10m_cells");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let mut events: Option<Vec<Event>> = None;
    let first = synthetic_events(1);
    assert_eq!((first[0].x_m, first[0].y_m), FIRST_POINT_FROM_PYTHON);
    for (name, kernel) in [
        ("quartic_f32_1M_r250", Kernel::Quartic),
        ("epanechnikov_f32_1M_r250", Kernel::Epanechnikov),
    ] {
        group.bench_function(name, |b| {
            let ev = events.get_or_insert_with(|| synthetic_events(n));
            let p = params(kernel);
            b.iter(|| black_box(kde_raster::<f32>(black_box(ev), &p)));
        });
    }
    group.bench_function("quartic_f64_1M_r250", |b| {
        let ev = events.get_or_insert_with(|| synthetic_events(n));
        let p = params(Kernel::Quartic);
        b.iter(|| black_box(kde_raster::<f64>(black_box(ev), &p)));
    });
    group.finish();

    let mut group = c.benchmark_group("kde_points");
    group.sample_size(10);
    group.bench_function("quartic_100k_queries_1M_events_r250", |b| {
        let ev = events.get_or_insert_with(|| synthetic_events(n));
        let mut g = Lcg(7);
        let q: Vec<(f64, f64)> = (0..n / 10)
            .map(|_| (X0 + SIDE_M * g.next(), Y0 + SIDE_M * g.next()))
            .collect();
        b.iter(|| {
            black_box(density_at_points(
                black_box(ev),
                Kernel::Quartic,
                250.0,
                0.0,
                &q,
            ))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_kde);
criterion_main!(benches);
