//! Demo city generation time: `cargo bench --bench demo_generate`.
//! Each iteration writes every file of the city (GeoPackages via GDAL, CSV, XLSX, JSON) into a
//! fresh temporary directory.

use brandpunt::demo::{generate, DemoConfig};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench_generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("demo_generate");
    group.sample_size(10);
    for (name, cfg) in [
        ("small_2500_addresses_10_weeks", DemoConfig::small()),
        ("default_40k_addresses_104_weeks", DemoConfig::default()),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().unwrap();
                generate(dir.path(), &cfg).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
