//! Raster tile rendering on the demo city: the warm KDE PNG tile (surface cached, the tile itself not: lattice
//! projection, bilinear sampling, colour ramp, PNG encoding) and the cold KDE surface computation behind it
//! (located incidents -> quartic KDE at 50 m cells, default bandwidth). Also prints the per-tile render time
//! distribution (p50/p90/p99/max) over every zoom-13..16 tile of the city.
//!
//! Run: `cargo bench --bench raster_tiles` (default demo city, ~8,700 incidents). Under `cargo test
//! --all-targets` (no `--bench` argument) the small demo city and a few tiles are used.

use brandpunt::analysis::kde::{kde_raster, KdeParams};
use brandpunt::cancel::Cancel;
use brandpunt::config::ServerConfig;
use brandpunt::dataset::Filter;
use brandpunt::server::hotspots::{kde_surface, KdeSettings};
use brandpunt::server::raster::{render_tile_png, RasterLayer};
use brandpunt::server::AppState;
use brandpunt::surfaces::located_events;
use brandpunt::tiles::TileId;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn setup() -> (tempfile::TempDir, Arc<AppState>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("brandpunt.db");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brandpunt"));
    cmd.arg("--db").arg(&db).arg("demo");
    if !full() {
        cmd.arg("--small");
    }
    let out = cmd
        .arg("--dir")
        .arg(dir.path().join("demo"))
        .output()
        .expect("run brandpunt demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let addr = "127.0.0.1:0".parse().expect("address");
    let mut config = ServerConfig::new(db, addr);
    config.public_tenant = Some("default".into());
    let state = AppState::open(config).expect("open state");
    (dir, state)
}

/// Every tile of zoom `z` over the city's bounding box.
fn city_tiles(state: &AppState, z: u8) -> Vec<TileId> {
    let b = state.snapshot_of("default").expect("tenant").bbox_wgs84();
    let (x0, y0) = brandpunt::coords::wgs84_to_web_mercator(b[0], b[1]);
    let (x1, y1) = brandpunt::coords::wgs84_to_web_mercator(b[2], b[3]);
    let (a, c) = (TileId::containing(z, x0, y1), TileId::containing(z, x1, y0));
    (a.y..=c.y)
        .flat_map(|y| (a.x..=c.x).map(move |x| TileId { z, x, y }))
        .collect()
}

fn bench(c: &mut Criterion) {
    let (_dir, state) = setup();
    let snapshot = state.snapshot_of("default").expect("tenant");
    let filter = Filter::all(&snapshot);
    let settings = KdeSettings {
        cell_m: 50.0,
        auto_cell: false,
        bandwidth_m: None,
        levels: 5,
    };
    let layer = RasterLayer::Kde(settings.clone());
    let surface = kde_surface(&state, &snapshot, &filter, &settings, &Cancel::never())
        .expect("kde")
        .expect("incidents");
    let mut tiles = city_tiles(&state, 15);
    if !full() {
        tiles.truncate(4);
    }
    let n = located_events(&snapshot, &filter).len();
    let raster = &surface.kde.raster;
    let mut group = c.benchmark_group("raster_tiles");
    group.sample_size(if full() { 50 } else { 10 });
    let mut k = 0;
    group.bench_function(
        format!("kde_png_tile_warm_z15_{}_tiles", tiles.len()),
        |b| {
            b.iter(|| {
                k = (k + 1) % tiles.len();
                black_box(
                    render_tile_png(
                        &state,
                        &snapshot,
                        &filter,
                        &layer,
                        tiles[k],
                        &Cancel::never(),
                    )
                    .expect("tile"),
                )
            })
        },
    );
    group.sample_size(10);
    group.bench_function(
        format!(
            "kde_surface_cold_{n}_incidents_{}x{}_cells",
            raster.width, raster.height
        ),
        |b| {
            b.iter(|| {
                let events = located_events(&snapshot, &filter);
                black_box(kde_raster::<f32>(&events, &KdeParams::new(50.0)).expect("kde"))
            })
        },
    );
    group.finish();

    // Per-tile distribution over the city's tiles at zooms 13..16 (one render each, after one warm-up pass).
    let zooms: Vec<u8> = if full() {
        vec![13, 14, 15, 16]
    } else {
        vec![14]
    };
    let all: Vec<TileId> = zooms.iter().flat_map(|&z| city_tiles(&state, z)).collect();
    let all: Vec<TileId> = if full() {
        all
    } else {
        all.into_iter().take(4).collect()
    };
    for t in &all {
        black_box(
            render_tile_png(&state, &snapshot, &filter, &layer, *t, &Cancel::never())
                .expect("tile"),
        );
    }
    let mut ms: Vec<f64> = all
        .iter()
        .map(|t| {
            let start = Instant::now();
            black_box(
                render_tile_png(&state, &snapshot, &filter, &layer, *t, &Cancel::never())
                    .expect("tile"),
            );
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    println!(
        "kde_png_tile_warm distribution over {} tiles (z{:?}): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms.len(),
        zooms,
        q(0.5),
        q(0.9),
        q(0.99),
        ms[ms.len() - 1]
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
