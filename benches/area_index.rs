//! Point -> buurt throughput and index build time on a synthetic national-size tiling.
//!
//! `cargo bench --bench area_index` uses the national set (123 x 123 buurten of ~2.44 km over
//! 300 x 300 km, 100-400 vertices each, ~5 % enclaves in holes). Without `--bench` (the smoke run
//! of `cargo test --all-targets`) a 20 x 20 tiling is used so the run stays fast.
//! `BRANDPUNT_AREA_BENCH_COLS=<n>` overrides the number of cells per side.

use std::hint::black_box;

use brandpunt::area_index::synthetic::{tiling, TilingSpec};
use brandpunt::area_index::{AreaIndex, AreaPolygon};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use std::time::{Duration, Instant};

/// CPU time of the benchmarking thread (`/proc/thread-self/schedstat`, nanoseconds), so figures
/// measure our code and not the other jobs sharing the 2 cores. Falls back to wall time when
/// the file is unavailable.
struct ThreadCpuTime;

static WALL_TIME: WallTime = WallTime;
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or_else(|| START.get_or_init(Instant::now).elapsed().as_nanos() as u64)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = Duration;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(thread_cpu_ns().saturating_sub(start))
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn spec() -> TilingSpec {
    let full = TilingSpec::national();
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let cols = std::env::var("BRANDPUNT_AREA_BENCH_COLS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(if bench_mode { full.cols } else { 20 });
    TilingSpec {
        cols,
        rows: cols,
        cell_m: 300_000.0 / cols as f64,
        ..full
    }
}

fn uniform_points(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            (
                rng.gen_range(0.0..300_000.0),
                rng.gen_range(300_000.0..600_000.0),
            )
        })
        .collect()
}

/// Points within 5 m of random buurt vertices: almost all fall in mixed grid cells.
fn near_boundary_points(areas: &[AreaPolygon], n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let a = &areas[rng.gen_range(0..areas.len())];
            let ring = &a.geometry.0[0].exterior().0;
            let c = ring[rng.gen_range(0..ring.len())];
            (
                c.x + rng.gen_range(-5.0..5.0),
                c.y + rng.gen_range(-5.0..5.0),
            )
        })
        .collect()
}

fn bench_area_index(c: &mut Criterion<ThreadCpuTime>) {
    let spec = spec();
    let areas = tiling(&spec);
    let index = AreaIndex::build(areas.clone());
    let vertices: usize = areas
        .iter()
        .flat_map(|a| a.geometry.0.iter())
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum();
    eprintln!(
        "area_index bench: {} buurten, {} vertices, {:?}",
        areas.len(),
        vertices,
        index.grid_summary()
    );

    let n = 1_000_000;
    let mut group = c.benchmark_group("point_to_buurt");
    // One iteration locates 1 M points (~0.1-1 s), so keep the sample count small and flat.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    for (name, points) in [
        ("uniform_1M", uniform_points(n, 1)),
        ("near_boundary_1M", near_boundary_points(&areas, n, 2)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut found = 0usize;
                for &(x, y) in &points {
                    if let Some(k) = index.locate_index(black_box(x), black_box(y)) {
                        found = found.wrapping_add(k);
                    }
                }
                black_box(found)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("area_index_build");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.bench_function("build", |b| {
        b.iter_batched(|| areas.clone(), AreaIndex::build, BatchSize::LargeInput)
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_area_index
}
criterion_main!(benches);
