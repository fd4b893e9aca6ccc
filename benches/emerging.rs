//! Emerging hot spot analysis: 1 000 000 incidents on a 200 x 200 grid of 100 m cells (40 000 cells),
//! 104 ISO weeks, 150 m distance band, time window 1, FDR at 0.10.
//!
//! Run: `cargo bench --bench emerging`. Under `cargo test --all-targets` (no `--bench` argument) the input
//! is scaled down (20 000 incidents, 40 x 40 cells, 26 weeks) so the smoke run stays quick.

use brandpunt::analysis::emerging::{
    emerging_hot_spots, grid_cube_from_events, EmergingOptions, TimeSteps,
};
use brandpunt::analysis::weights::GridNeighbourhood;
use brandpunt::analysis::Event;
use chrono::{Duration, NaiveDate};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Scale {
    incidents: usize,
    side_cells: i64,
    weeks: i64,
}

fn scale() -> Scale {
    if std::env::args().any(|a| a == "--bench") {
        Scale {
            incidents: 1_000_000,
            side_cells: 200,
            weeks: 104,
        }
    } else {
        Scale {
            incidents: 20_000,
            side_cells: 40,
            weeks: 26,
        }
    }
}

const X0_M: f64 = 150_000.0;
const Y0_M: f64 = 450_000.0;

/// 70 % uniform background, 20 % in a stable hot spot, 10 % in a spot that emerges in the last fifth.
fn events(s: &Scale, end: NaiveDate) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_122);
    let size_m = s.side_cells as f64 * 100.0;
    let days = s.weeks * 7;
    let start = end - Duration::days(days - 1);
    (0..s.incidents)
        .map(|_| {
            let u: f64 = rng.gen();
            let (x, y, day) = if u < 0.7 {
                (
                    rng.gen::<f64>() * size_m,
                    rng.gen::<f64>() * size_m,
                    rng.gen_range(0..days),
                )
            } else if u < 0.9 {
                let (dx, dy): (f64, f64) = (rng.gen::<f64>() - 0.5, rng.gen::<f64>() - 0.5);
                (
                    0.3 * size_m + dx * 600.0,
                    0.6 * size_m + dy * 600.0,
                    rng.gen_range(0..days),
                )
            } else {
                let (dx, dy): (f64, f64) = (rng.gen::<f64>() - 0.5, rng.gen::<f64>() - 0.5);
                (
                    0.7 * size_m + dx * 400.0,
                    0.2 * size_m + dy * 400.0,
                    rng.gen_range(days * 4 / 5..days),
                )
            };
            let t = (start + Duration::days(day)).and_hms_opt(rng.gen_range(0..24), 0, 0);
            Event {
                x_m: X0_M + x,
                y_m: Y0_M + y,
                begin: t,
                end: t,
                weight: 1.0,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let s = scale();
    let end = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"); // a Sunday
    let start = end - Duration::days(s.weeks * 7 - 1);
    let steps = TimeSteps::new(brandpunt::calendar::Step::Week, start, end).expect("steps");
    let events = events(&s, end);
    let band = GridNeighbourhood::DistanceBand { threshold_m: 150.0 };
    let options = EmergingOptions::default();
    let label = format!(
        "{}ev_{}cells_{}w",
        s.incidents,
        s.side_cells * s.side_cells,
        s.weeks
    );

    let mut group = c.benchmark_group("emerging");
    group.sample_size(10);
    group.bench_function(format!("cube_from_events_{label}"), |b| {
        b.iter(|| grid_cube_from_events(black_box(&events), 100.0, &steps).expect("cube"))
    });
    let grid = grid_cube_from_events(&events, 100.0, &steps).expect("cube");
    let w = grid.weights(band).expect("weights");
    group.bench_function(format!("analysis_{label}"), |b| {
        b.iter(|| {
            emerging_hot_spots(
                black_box(&grid.cube),
                &w,
                &options,
                &brandpunt::cancel::Cancel::never(),
            )
            .expect("emerging")
        })
    });
    group.bench_function(format!("end_to_end_{label}"), |b| {
        b.iter(|| {
            let grid = grid_cube_from_events(black_box(&events), 100.0, &steps).expect("cube");
            let w = grid.weights(band).expect("weights");
            emerging_hot_spots(
                &grid.cube,
                &w,
                &options,
                &brandpunt::cancel::Cancel::never(),
            )
            .expect("emerging")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
