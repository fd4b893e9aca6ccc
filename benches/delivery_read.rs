//! Throughput of the delivery reader on synthetic weekly exports (cp1252 `;` CSV with decimal commas, a mix
//! of address, RD and bad rows; and the same rows as an XLSX written by GDAL). Inputs are generated inside
//! the benchmark functions so `cargo test --all-targets` (one iteration each) stays cheap.

use std::hint::black_box;

use brandpunt::import::delivery::read_delivery_bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gdal::vector::{
    Feature, FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};

const HEADER: [&str; 14] = [
    "Registratienummer",
    "Pleegdatum begin",
    "Pleegtijd begin",
    "Pleegdatum eind",
    "Pleegtijd eind",
    "Maatschappelijke klasse",
    "Straat",
    "Huisnummer",
    "Huisletter",
    "Toevoeging",
    "Postcode",
    "Plaats",
    "X",
    "Y",
];

/// `n` deterministic rows: half address rows with a time window, half RD rows with decimal commas, and
/// one in 50 with an impossible date.
fn synthetic_rows(n: usize) -> Vec<[String; 14]> {
    (0..n)
        .map(|i| {
            let day = 1 + i % 28;
            let reg = format!("PL0900-2024{i:06}");
            let mut r: [String; 14] = Default::default();
            r[0] = reg;
            r[5] = "1.1.1 Diefstal/inbraak woning".into();
            if i % 50 == 0 {
                r[1] = "31-02-2024".into();
                r[6] = "Noëlstraat".into();
                r[7] = "1".into();
            } else if i % 2 == 0 {
                r[1] = format!("{day:02}-03-2024");
                r[2] = format!("{:02}:15", i % 24);
                r[3] = format!("{:02}-03-2024", (day + 1).min(28));
                r[4] = "07:30".into();
                r[6] = "Caféstraat".into();
                r[7] = (1 + i % 200).to_string();
                r[8] = "A".into();
                r[10] = "5611 AB".into();
                r[11] = "Eindhoven".into();
            } else {
                r[1] = format!("{day}-3-2024");
                r[2] = format!("{}:05", i % 24);
                r[12] = format!("{},5", 150_000 + i % 10_000);
                r[13] = format!("{},25", 380_000 + i % 10_000);
            }
            r
        })
        .collect()
}

fn synthetic_csv(rows: &[[String; 14]]) -> Vec<u8> {
    let mut text = HEADER.join(";");
    text.push_str("\r\n");
    for r in rows {
        text.push_str(&r.join(";"));
        text.push_str("\r\n");
    }
    encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
}

/// Writes the rows as a one-sheet workbook through GDAL; `None` if GDAL refuses (the benchmark then skips).
fn synthetic_xlsx(rows: &[[String; 14]]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("bench.xlsx");
    let driver = gdal::DriverManager::get_driver_by_name("XLSX").ok()?;
    let mut ds = driver.create_vector_only(&path).ok()?;
    {
        let layer = ds
            .create_layer(LayerOptions {
                name: "Meldingen",
                ty: OGRwkbGeometryType::wkbNone,
                ..Default::default()
            })
            .ok()?;
        for h in HEADER {
            FieldDefn::new(h, OGRFieldType::OFTString)
                .ok()?
                .add_to_layer(&layer)
                .ok()?;
        }
        for r in rows {
            let mut f = Feature::new(layer.defn()).ok()?;
            for (i, v) in r.iter().enumerate() {
                if !v.is_empty() {
                    f.set_field_string(i, v).ok()?;
                }
            }
            f.create(&layer).ok()?;
        }
    }
    ds.close().ok()?;
    std::fs::read(&path).ok()
}

fn bench_csv(c: &mut Criterion) {
    let mut group = c.benchmark_group("delivery_csv");
    group.sample_size(10);
    for n in [1_000usize, 50_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            let bytes = synthetic_csv(&synthetic_rows(n));
            b.iter(|| {
                let parsed = read_delivery_bytes("bench.csv", black_box(&bytes), None);
                black_box(parsed.map(|p| p.rows.len()).unwrap_or(0))
            })
        });
    }
    group.finish();
}

fn bench_xlsx(c: &mut Criterion) {
    let mut group = c.benchmark_group("delivery_xlsx");
    group.sample_size(10);
    let n = 5_000usize;
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        let Some(bytes) = synthetic_xlsx(&synthetic_rows(n)) else {
            return;
        };
        b.iter(|| {
            let parsed = read_delivery_bytes("bench.xlsx", black_box(&bytes), None);
            black_box(parsed.map(|p| p.rows.len()).unwrap_or(0))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_csv, bench_xlsx);
criterion_main!(benches);
