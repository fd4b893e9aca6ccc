//! Export writers on a result layer of 200 x 200 = 40,000 grid cells (100 m squares with `id`, `value`, `z`,
//! `p`, `bin`): CSV, GeoPackage (RD New) and GeoJSON (RFC 7946; includes the RD -> WGS84 conversion of
//! 5 vertices per cell through PROJ).
//!
//! Run: `cargo bench --bench export`. Under `cargo test --all-targets` (no `--bench` argument) the grid is
//! scaled down to 20 x 20.

use brandpunt::analysis::grid::BinId;
use brandpunt::coords::Transformer;
use brandpunt::export::{write_csv, write_geojson, write_gpkg, ColumnType, Table, Value};
use criterion::{criterion_group, criterion_main, Criterion};
use geo_types::Geometry;

fn side() -> i64 {
    if std::env::args().any(|a| a == "--bench") {
        200
    } else {
        20
    }
}

/// A deterministic Gi*-like result layer of `n x n` 100 m cells near Amersfoort.
fn layer(n: i64) -> (Table, Vec<Geometry<f64>>) {
    let mut t = Table::new(&[
        ("id", ColumnType::Text),
        ("value", ColumnType::Real),
        ("z", ColumnType::Real),
        ("p", ColumnType::Real),
        ("bin", ColumnType::Int),
    ]);
    let mut g = Vec::new();
    for r in 0..n {
        for c in 0..n {
            let id = BinId::Grid {
                cell_m: 100,
                row: 4_600 + r,
                col: 1_500 + c,
            };
            let z = ((c * 31 + r * 17) % 97) as f64 / 16.0 - 3.0;
            t.rows.push(vec![
                Value::Text(id.name()),
                Value::Real(((c * r) % 11) as f64),
                Value::Real(z),
                Value::Real(1.0 / (1.0 + z.abs())),
                Value::Int((z as i64).clamp(-3, 3)),
            ]);
            g.push(id.grid_polygon_m().expect("grid cell").into());
        }
    }
    (t, g)
}

fn bench(c: &mut Criterion) {
    let n = side();
    let (table, geoms) = layer(n);
    let dir = tempfile::tempdir().expect("tempdir");
    let transformer = Transformer::new().expect("PROJ");
    let mut group = c.benchmark_group(format!("export_{n}x{n}_cells"));
    group.sample_size(10);
    group.bench_function("csv", |b| {
        b.iter(|| write_csv(dir.path().join("b.csv"), &table).expect("csv"))
    });
    group.bench_function("gpkg", |b| {
        b.iter(|| write_gpkg(dir.path().join("b.gpkg"), "r", &table, &geoms).expect("gpkg"))
    });
    group.bench_function("geojson", |b| {
        b.iter(|| {
            write_geojson(
                dir.path().join("b.geojson"),
                "r",
                &table,
                &geoms,
                &transformer,
            )
            .expect("geojson")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
