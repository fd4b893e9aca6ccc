//! Geocoder benchmarks on a deterministic synthetic national-size BAG index (see
//! `brandpunt::geocode::synthetic`).
//!
//! Size: `GEOCODE_BENCH_N` addresses when set, else 10,000,000 under `cargo bench` (detected by the
//! `--bench` argument) and 20,000 in the quick test-mode run of `cargo test --all-targets`.
//!
//! Before the criterion groups run, the index build is measured once and printed to stderr:
//! generation-only time, generation + build time, and the process peak RSS (`VmHWM` from
//! `/proc/self/status`), which covers the builder, the sort and the finished index.

use std::hint::black_box;
use std::time::Instant;

use brandpunt::geocode::{synthetic, AddressQuery, GeocodeIndex, GeocodeIndexBuilder, MatchKind};
use criterion::{Criterion, Throughput};

const BATCH: usize = 1_000;

struct Sample {
    street: String,
    /// Messy spelling of the same address: lower-case abbreviated street (`burg v ...ln`, `...str.`),
    /// upper-case woonplaats, letter in upper case and toevoeging after a slash.
    street_messy: String,
    number_messy: String,
    woonplaats_messy: String,
    number: String,
    postcode: String,
    woonplaats: String,
    text: String,
}

fn bench_size() -> usize {
    if let Some(n) = std::env::var("GEOCODE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::args().any(|a| a == "--bench") {
        10_000_000
    } else {
        20_000
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) of the calling thread in seconds, from `/proc/thread-self/stat`
/// (clock ticks of 10 ms; used over multi-second runs only).
fn thread_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Queries per CPU-second of one thread, run for about `seconds` of wall time. On a shared machine
/// this is the single-core figure that does not depend on how many other processes compete.
fn cpu_throughput(label: &str, seconds: f64, mut run_batch: impl FnMut() -> usize) {
    // GEOCODE_BENCH_ONLY=<substring> restricts these measurements (for profiling one path).
    if std::env::var("GEOCODE_BENCH_ONLY").is_ok_and(|only| !label.contains(&only)) {
        return;
    }
    let wall = Instant::now();
    let (Some(c0), mut queries) = (thread_cpu_s(), 0usize) else {
        return;
    };
    while wall.elapsed().as_secs_f64() < seconds {
        queries += run_batch();
    }
    let Some(c1) = thread_cpu_s() else { return };
    let cpu = (c1 - c0).max(0.01);
    eprintln!(
        "cpu-time throughput {label}: {:.0} queries/s per core ({queries} queries, {:.2} s CPU, {:.2} s wall)",
        queries as f64 / cpu,
        cpu,
        wall.elapsed().as_secs_f64()
    );
}

fn build(n: usize) -> (GeocodeIndex, Vec<Sample>) {
    let t = Instant::now();
    let mut count = 0usize;
    synthetic::for_each_address(n, 7, |a| {
        count += black_box(a.huisnummer as usize);
    });
    let gen_s = t.elapsed().as_secs_f64();
    black_box(count);

    let stride = (n / 100_000).max(1);
    let mut samples = Vec::new();
    let mut i = 0usize;
    let t = Instant::now();
    let mut b = GeocodeIndexBuilder::new();
    synthetic::for_each_address(n, 7, |a| {
        b.push(a);
        if i % stride == 0 {
            let mut number = a.huisnummer.to_string();
            if let Some(l) = a.huisletter {
                number.push_str(&l.to_lowercase());
            }
            if let Some(t) = a.toevoeging {
                number.push('-');
                number.push_str(t);
            }
            let pc = a.postcode.unwrap_or_default();
            let pc_spaced = format!("{} {}", &pc[..4.min(pc.len())], &pc[4.min(pc.len())..]);
            let street_messy = a
                .street
                .to_lowercase()
                .replace("burgemeester", "burg.")
                .replace("van ", "v. ")
                .replace("straat", "str.")
                .replace("laan", "ln");
            let mut number_messy = a.huisnummer.to_string();
            if let Some(l) = a.huisletter {
                number_messy.push(' ');
                number_messy.push_str(&l.to_uppercase());
            }
            if let Some(t) = a.toevoeging {
                number_messy.push('/');
                number_messy.push_str(t);
            }
            samples.push(Sample {
                street_messy,
                number_messy,
                woonplaats_messy: a.woonplaats.to_uppercase(),
                text: format!("{} {}, {} {}", a.street, number, pc_spaced, a.woonplaats),
                street: a.street.to_string(),
                number,
                postcode: pc_spaced,
                woonplaats: a.woonplaats.to_string(),
            });
        }
        i += 1;
    });
    let pushed_s = t.elapsed().as_secs_f64();
    let idx = b.finish();
    let total_s = t.elapsed().as_secs_f64();
    eprintln!(
        "geocode index: {} addresses; generation only {:.2} s; generation+push {:.2} s; \
         generation+push+finish {:.2} s (build ~{:.2} s); VmHWM {} MiB",
        idx.len(),
        gen_s,
        pushed_s,
        total_s,
        total_s - gen_s,
        vm_hwm_kib().map_or(0, |k| k / 1024)
    );
    eprintln!(
        "geocode index shape: {} woonplaatsen, {} streets, {} postcodes",
        idx.woonplaats_count(),
        idx.street_count(),
        idx.postcode_count()
    );
    (idx, samples)
}

fn main() {
    let n = bench_size();
    let (idx, samples) = build(n);
    let batch: Vec<&Sample> = samples
        .iter()
        .cycle()
        .take(BATCH.min(samples.len() * 10))
        .collect();

    // Sanity (printed, not asserted): how the sampled queries resolve.
    let kinds = |f: &dyn Fn(&Sample) -> MatchKind| {
        let mut counts = std::collections::BTreeMap::new();
        for s in &batch {
            *counts.entry(f(s).as_str()).or_insert(0usize) += 1;
        }
        counts
    };
    eprintln!(
        "sanity full record: {:?}",
        kinds(&|s| {
            idx.geocode(&AddressQuery {
                street: Some(&s.street),
                huisnummer: Some(&s.number),
                postcode: Some(&s.postcode),
                woonplaats: Some(&s.woonplaats),
                ..Default::default()
            })
            .kind
        })
    );
    eprintln!(
        "sanity street+number+woonplaats: {:?}",
        kinds(&|s| {
            idx.geocode(&AddressQuery {
                street: Some(&s.street),
                huisnummer: Some(&s.number),
                woonplaats: Some(&s.woonplaats),
                ..Default::default()
            })
            .kind
        })
    );
    eprintln!(
        "sanity messy street+number+woonplaats: {:?}",
        kinds(&|s| {
            idx.geocode(&AddressQuery {
                street: Some(&s.street_messy),
                huisnummer: Some(&s.number_messy),
                woonplaats: Some(&s.woonplaats_messy),
                ..Default::default()
            })
            .kind
        })
    );
    eprintln!(
        "sanity free text: {:?}",
        kinds(&|s| idx.geocode_free_text(&s.text).kind)
    );

    if std::env::args().any(|a| a == "--bench") {
        let secs = 3.0;
        cpu_throughput("structured_full_record", secs, || {
            for s in &batch {
                let q = AddressQuery {
                    street: Some(&s.street),
                    huisnummer: Some(&s.number),
                    postcode: Some(&s.postcode),
                    woonplaats: Some(&s.woonplaats),
                    ..Default::default()
                };
                black_box(idx.geocode(black_box(&q)));
            }
            batch.len()
        });
        cpu_throughput("structured_postcode_number", secs, || {
            for s in &batch {
                let q = AddressQuery {
                    huisnummer: Some(&s.number),
                    postcode: Some(&s.postcode),
                    ..Default::default()
                };
                black_box(idx.geocode(black_box(&q)));
            }
            batch.len()
        });
        cpu_throughput("structured_street_number_woonplaats", secs, || {
            for s in &batch {
                let q = AddressQuery {
                    street: Some(&s.street),
                    huisnummer: Some(&s.number),
                    woonplaats: Some(&s.woonplaats),
                    ..Default::default()
                };
                black_box(idx.geocode(black_box(&q)));
            }
            batch.len()
        });
        cpu_throughput("structured_messy_street_number_woonplaats", secs, || {
            for s in &batch {
                let q = AddressQuery {
                    street: Some(&s.street_messy),
                    huisnummer: Some(&s.number_messy),
                    woonplaats: Some(&s.woonplaats_messy),
                    ..Default::default()
                };
                black_box(idx.geocode(black_box(&q)));
            }
            batch.len()
        });
        cpu_throughput("free_text", secs, || {
            for s in &batch {
                black_box(idx.geocode_free_text(black_box(&s.text)));
            }
            batch.len()
        });
    }

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("geocode");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("structured_full_record", |bch| {
        bch.iter(|| {
            for s in &batch {
                let q = AddressQuery {
                    street: Some(&s.street),
                    huisnummer: Some(&s.number),
                    postcode: Some(&s.postcode),
                    woonplaats: Some(&s.woonplaats),
                    ..Default::default()
                };
                black_box(idx.geocode(black_box(&q)));
            }
        })
    });
    g.bench_function("structured_postcode_number", |bch| {
        bch.iter(|| {
            for s in &batch {
                let q = AddressQuery {
                    huisnummer: Some(&s.number),
                    postcode: Some(&s.postcode),
                    ..Default::default()
                };
                black_box(idx.geocode(black_box(&q)));
            }
        })
    });
    g.bench_function("structured_street_number_woonplaats", |bch| {
        bch.iter(|| {
            for s in &batch {
                let q = AddressQuery {
                    street: Some(&s.street),
                    huisnummer: Some(&s.number),
                    woonplaats: Some(&s.woonplaats),
                    ..Default::default()
                };
                black_box(idx.geocode(black_box(&q)));
            }
        })
    });
    g.bench_function("structured_messy_street_number_woonplaats", |bch| {
        bch.iter(|| {
            for s in &batch {
                let q = AddressQuery {
                    street: Some(&s.street_messy),
                    huisnummer: Some(&s.number_messy),
                    woonplaats: Some(&s.woonplaats_messy),
                    ..Default::default()
                };
                black_box(idx.geocode(black_box(&q)));
            }
        })
    });
    g.bench_function("free_text", |bch| {
        bch.iter(|| {
            for s in &batch {
                black_box(idx.geocode_free_text(black_box(&s.text)));
            }
        })
    });
    g.finish();
    c.final_summary();
}
