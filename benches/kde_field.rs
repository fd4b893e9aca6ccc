//! The per-filter KDE field at national scale and a cold KDE PNG tile from it (issue 12): synthetic incidents
//! over the Netherlands' RD extent (x 20-260 km, y 325-577 km; seeded LCG): half uniform background, half from
//! 1,232 hot spots (4 cities with 40 spots, 30 towns with 10, the rest single; spreads 100-600 m), like the
//! national demo data.
//!
//! - `kde_field_build_{n}`: [`KdeField::new`] at 50 m cells with the default bandwidth: the bandwidth rule, the
//!   point index and the surface's maximum (what the first KDE tile of a new filter pays);
//! - `kde_png_z12_cold`: one z12 tile of the cached field, a different tile each iteration over the cities
//!   (pixel lattice to RD, the cells under the tile from the incidents near it, bilinear sampling, the colour
//!   ramp, PNG encoding): what a tile not yet in the PNG cache costs once its filter's field is cached.
//!
//! Also prints the phases of one field build and of the cold tile (sampling vs. PNG encoding).
//!
//! Run: `cargo bench --bench kde_field` (BENCH_INCIDENTS, default 5,000,000). Under `cargo test --all-targets`
//! (no `--bench` argument) 20,000 incidents and a few iterations.

use brandpunt::analysis::Event;
use brandpunt::cancel::Cancel;
use brandpunt::render::map::{MapCrs, MapRequest};
use brandpunt::render::{density_image, ColourRamp};
use brandpunt::server::raster::pixel_coords_rd;
use brandpunt::surfaces::kde::KdeField;
use brandpunt::tiles::TileId;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// 64-bit LCG (Knuth MMIX constants); `next()` is in [0, 1).
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

/// Hot spots `(x, y, spread_m, weight)`: 4 cities x 40, 30 towns x 10, the rest of 1,232 single.
fn hot_spots(g: &mut Lcg) -> Vec<(f64, f64, f64, f64)> {
    let mut places: Vec<((f64, f64), usize, f64)> = Vec::new();
    for (count, spots, weight) in [(4, 40, 4.0), (30, 10, 2.0), (1_232 - 160 - 300, 1, 1.0)] {
        for _ in 0..count {
            let at = (
                40_000.0 + 200_000.0 * g.next(),
                340_000.0 + 220_000.0 * g.next(),
            );
            places.push((at, spots, weight));
        }
    }
    let mut spots = Vec::new();
    for ((x, y), n, w) in places {
        for _ in 0..n {
            let spread = 100.0 + 500.0 * g.next();
            let r = if n > 1 { 3_000.0 * g.next() } else { 0.0 };
            let a = std::f64::consts::TAU * g.next();
            spots.push((x + r * a.cos(), y + r * a.sin(), spread, w));
        }
    }
    spots
}

fn national_events(n: usize) -> Vec<Event> {
    let mut g = Lcg(20_240_929);
    let spots = hot_spots(&mut g);
    let total: f64 = spots.iter().map(|s| s.3).sum();
    let mut cumulative = Vec::with_capacity(spots.len());
    let mut acc = 0.0;
    for s in &spots {
        acc += s.3 / total;
        cumulative.push(acc);
    }
    (0..n)
        .map(|_| {
            let (x_m, y_m) = if g.next() < 0.5 {
                (
                    20_000.0 + 240_000.0 * g.next(),
                    325_000.0 + 252_000.0 * g.next(),
                )
            } else {
                let u = g.next();
                let k = cumulative.partition_point(|&c| c < u).min(spots.len() - 1);
                let (x, y, spread, _) = spots[k];
                let dx = (g.next() + g.next() + g.next() - 1.5) * spread;
                let dy = (g.next() + g.next() + g.next() - 1.5) * spread;
                (x + dx, y + dy)
            };
            Event {
                x_m,
                y_m,
                begin: None,
                end: None,
                weight: 1.0,
            }
        })
        .collect()
}

/// The z12 tiles over the densest places of the field: the 3 x 3 tiles around each of the `k` hot spots with
/// the most weight.
fn dense_tiles(k: usize) -> Vec<TileId> {
    let mut g = Lcg(20_240_929);
    let mut spots = hot_spots(&mut g);
    spots.sort_by(|a, b| b.3.total_cmp(&a.3));
    let mut tiles = Vec::new();
    brandpunt::coords::with_thread_transformer(|t| {
        for &(x, y, _, _) in spots.iter().take(k) {
            let (mx, my) = t.rd_to_web_mercator(x, y).expect("RD to mercator");
            let c = TileId::containing(12, mx, my);
            for dy in 0..3 {
                for dx in 0..3 {
                    tiles.push(TileId {
                        z: 12,
                        x: c.x + dx - 1,
                        y: c.y + dy - 1,
                    });
                }
            }
        }
    })
    .expect("transformer");
    tiles.sort_by_key(|t| (t.x, t.y));
    tiles.dedup();
    tiles
}

fn tile_request(tile: TileId) -> MapRequest {
    let (minx, miny, maxx, maxy) = tile.bounds_m();
    MapRequest {
        crs: MapCrs::WebMercator,
        bbox: [minx, miny, maxx, maxy],
        width: 256,
        height: 256,
    }
}

/// One cold PNG tile of the field; returns (sampling, encoding) times.
fn render(field: &KdeField, tile: TileId) -> (Vec<u8>, Duration, Duration) {
    let start = Instant::now();
    let req = tile_request(tile);
    let pixels = pixel_coords_rd(&req).expect("pixels");
    let values = field
        .sample(&pixels, &brandpunt::cancel::Cancel::never())
        .expect("sample");
    let sampled = start.elapsed();
    let img = density_image(
        &values,
        req.width,
        req.height,
        field.max_per_km2,
        &ColourRamp::density(),
    )
    .expect("image");
    let png = img.to_png().expect("png");
    (png, sampled, start.elapsed() - sampled)
}

fn bench(c: &mut Criterion) {
    let n: usize = if full() {
        std::env::var("BENCH_INCIDENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5_000_000)
    } else {
        20_000
    };
    let events = national_events(n);
    let start = Instant::now();
    let field = KdeField::new(&events, 50.0, None, &Cancel::never())
        .expect("field")
        .expect("density");
    println!(
        "kde_field: {n} incidents, bandwidth {:.1} m, max {:.3}/km2, first build {:.3} s",
        field.bandwidth_m,
        field.max_per_km2,
        start.elapsed().as_secs_f64()
    );
    let tiles = dense_tiles(if full() { 8 } else { 1 });
    let mut group = c.benchmark_group("kde_field");
    group.sample_size(10);
    if full() {
        group.measurement_time(Duration::from_secs(20));
    }
    group.bench_function(format!("kde_field_build_{n}"), |b| {
        b.iter(|| {
            black_box(
                KdeField::new(&events, 50.0, None, &Cancel::never())
                    .expect("field")
                    .expect("density"),
            )
        })
    });
    group.sample_size(if full() { 50 } else { 10 });
    let mut k = 0;
    group.bench_function(format!("kde_png_z12_cold_{}_tiles", tiles.len()), |b| {
        b.iter(|| {
            k = (k + 1) % tiles.len();
            black_box(render(&field, tiles[k]).0)
        })
    });
    group.finish();
    let (mut sampling, mut encoding) = (Vec::new(), Vec::new());
    for &t in &tiles {
        let (_, s, e) = render(&field, t);
        sampling.push(s.as_secs_f64() * 1e3);
        encoding.push(e.as_secs_f64() * 1e3);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "kde_png_z12_cold over {} tiles: sampling {:.2} ms, colour + PNG {:.2} ms (means)",
        tiles.len(),
        mean(&sampling),
        mean(&encoding)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
