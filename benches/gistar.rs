//! Gi* on a 200 x 200 grid of 100 m cells (40 000 cells) with 150 m distance-band weights.
//!
//! Run: `cargo bench --bench gistar`. The same input is timed in esda by
//! `python benches/gistar_esda_timing.py` (figures in BENCHMARKS.md).
//! Under `cargo test --all-targets` (no `--bench` argument) the grid is scaled down to 20 x 20.

use brandpunt::analysis::gistar::{gi_star, GiStarOptions};
use brandpunt::analysis::weights::{regular_grid, GridNeighbourhood};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

/// Deterministic synthetic counts, identical to `synthetic_count` in benches/gistar_esda_timing.py:
/// a hashed background of 0..=4 plus two Gaussian-shaped hot spots.
fn synthetic_count(c: i64, r: i64) -> f64 {
    let h = ((c * 73_856_093) ^ (r * 19_349_663)).rem_euclid(1_000_003);
    let background = (h % 5) as f64;
    let bump = |cx: f64, cy: f64, s: f64, a: f64| {
        let d2 = (c as f64 - cx).powi(2) + (r as f64 - cy).powi(2);
        (a * (-d2 / (2.0 * s * s)).exp()).floor()
    };
    background + bump(50.0, 60.0, 6.0, 30.0) + bump(140.0, 120.0, 10.0, 15.0)
}

fn side() -> i64 {
    if std::env::args().any(|a| a == "--bench") {
        200
    } else {
        20
    }
}

fn bench(c: &mut Criterion) {
    let n = side();
    let cells: Vec<(i64, i64)> = (0..n).flat_map(|r| (0..n).map(move |c| (c, r))).collect();
    let counts: Vec<f64> = cells.iter().map(|&(c, r)| synthetic_count(c, r)).collect();
    let band = GridNeighbourhood::DistanceBand { threshold_m: 150.0 };
    let w = regular_grid(&cells, 100.0, band).expect("grid weights");
    let options = GiStarOptions::default();
    c.bench_function(&format!("gistar_{n}x{n}_band150_z_p_bins_fdr"), |b| {
        b.iter(|| gi_star(black_box(&counts), black_box(&w), &options).expect("gi*"))
    });
    c.bench_function(&format!("grid_weights_{n}x{n}_band150"), |b| {
        b.iter(|| regular_grid(black_box(&cells), 100.0, band).expect("grid weights"))
    });
    c.bench_function(&format!("weights_plus_gistar_{n}x{n}_band150"), |b| {
        b.iter(|| {
            let w = regular_grid(black_box(&cells), 100.0, band).expect("grid weights");
            gi_star(black_box(&counts), &w, &options).expect("gi*")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
