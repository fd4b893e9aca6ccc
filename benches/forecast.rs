//! Benchmarks of the grid forecasts (issue 14): a national-scale forecast, 5 M incidents over three years,
//! 125 m cells over the national study area (the bounding box of the Netherlands in RD, 2,120 x 2,504 =
//! 5.3 M cells); target < 5 s per forecast. The incidents are synthetic, made once: 70 % in 400 town clusters
//! (Gaussian, sigma 1.5 km), 30 % uniform over the box, times uniform over 2023-2025.
//! `FORECAST_BENCH_INCIDENTS` sets the number of incidents (default 5,000,000).

use brandpunt::analysis::evaluation::coverage_metrics;
use brandpunt::analysis::forecast::{forecast, GridSpec, Method, Window};
use brandpunt::analysis::kde::Extent;
use brandpunt::analysis::Event;
use brandpunt::cancel::Cancel;
use chrono::{Duration, NaiveDate};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const EXTENT: Extent = Extent {
    minx_m: 13_000.0,
    miny_m: 306_000.0,
    maxx_m: 278_000.0,
    maxy_m: 619_000.0,
};

fn events() -> Vec<Event> {
    let n: usize = std::env::var("FORECAST_BENCH_INCIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let towns: Vec<(f64, f64)> = (0..400)
        .map(|_| {
            (
                rng.gen_range(EXTENT.minx_m..EXTENT.maxx_m),
                rng.gen_range(EXTENT.miny_m..EXTENT.maxy_m),
            )
        })
        .collect();
    let t0 = NaiveDate::from_ymd_opt(2023, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let minutes = 3 * 365 * 1440;
    (0..n)
        .map(|_| {
            let (x, y) = if rng.gen_bool(0.7) {
                let (cx, cy) = towns[rng.gen_range(0..towns.len())];
                // Box-Muller.
                let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen_range(0.0..1.0));
                let r = 1500.0 * (-2.0 * u1.ln()).sqrt();
                let a = std::f64::consts::TAU * u2;
                (
                    (cx + r * a.cos()).clamp(EXTENT.minx_m, EXTENT.maxx_m - 1.0),
                    (cy + r * a.sin()).clamp(EXTENT.miny_m, EXTENT.maxy_m - 1.0),
                )
            } else {
                (
                    rng.gen_range(EXTENT.minx_m..EXTENT.maxx_m),
                    rng.gen_range(EXTENT.miny_m..EXTENT.maxy_m),
                )
            };
            let t = Some(t0 + Duration::minutes(rng.gen_range(0..minutes)));
            Event {
                x_m: x.round(),
                y_m: y.round(),
                begin: t,
                end: t,
                weight: 1.0,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = events();
    let grid = GridSpec::covering(EXTENT, 125.0).expect("grid");
    let at = NaiveDate::from_ymd_opt(2025, 12, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let methods = [
        Method::Naive {
            window: Window::Days(28),
        },
        Method::Kde {
            window: Window::Days(28),
            bandwidth_m: 200.0,
        },
        Method::Prospective {
            space_cells: 8,
            time_weeks: 8,
        },
        Method::Sepp {
            window: Window::All,
            iterations: 20,
            corrected: false,
        },
    ];
    let mut g = c.benchmark_group("forecast_national_125m");
    g.sample_size(10);
    for m in methods {
        g.bench_function(m.name(), |b| {
            b.iter(|| {
                let f = forecast(black_box(&events), &grid, at, &m, &Cancel::never())
                    .expect("forecast");
                black_box(f.grid.values.len())
            })
        });
    }
    // Scoring one forecast at 4 coverages on a week of test incidents (the per-fold cost of evaluate).
    let f = forecast(&events, &grid, at, &methods[2], &Cancel::never()).expect("forecast");
    let test: Vec<Option<usize>> = events
        .iter()
        .filter(|e| {
            e.begin
                .is_some_and(|t| t >= at && t < at + Duration::days(7))
        })
        .map(|e| grid.cell_of(e.x_m, e.y_m))
        .collect();
    g.bench_function("score_4_coverages", |b| {
        b.iter(|| {
            for cov in [1.0, 3.0, 5.0, 10.0] {
                black_box(coverage_metrics(&f.grid.values, &test, None, cov).expect("score"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
