//! Importing a police delivery end to end: read a 1 M-row CSV (Windows-1252, `;`, Dutch dates), geocode every
//! row against a synthetic BAG index, assign buurten, and store delivery, incidents and report in one SQLite
//! transaction. Target (issue 2): < 15 s for 1 M rows.
//!
//! Size: `IMPORT_BENCH_ROWS` rows when set, else 1,000,000 under `cargo bench` (detected by `--bench`) and
//! 5,000 in the quick test-mode run of `cargo test --all-targets`. The BAG index holds 1 M synthetic addresses
//! (20 k in test mode); buurten are the synthetic national tiling (15 k buurten).
//!
//! `IMPORT_BENCH_PHASES=1 cargo bench --bench import_delivery` instead runs the steps of `import_incident_file`
//! once each on the same input and prints wall and CPU seconds (utime + stime of the process, all threads) per
//! phase: read, place, SQLite write, drop + close. No criterion run in that mode.
//!
//! `IMPORT_BENCH_ONCE=1 cargo bench --bench import_delivery` imports the delivery once with
//! `import_incident_file` into a fresh store file and prints the rows, the wall time and the peak resident set
//! of the import alone: the peak (`VmHWM`) is reset through `/proc/self/clear_refs` after the input file and the
//! locator were built, so the figure is the locator's resident memory plus what the import itself adds.
//! `benches/import_memory.sh` runs it for several row counts. `IMPORT_BENCH_DIR` puts the temporary files
//! (delivery, store, report) in that folder instead of the system temporary folder. With `IMPORT_BENCH_OPEN=1`
//! it first times `DeliveryReader::open` alone (the checksum/encoding pass and the row and duplicate scan).

use brandpunt::area_index::{synthetic as areas_synthetic, AreaIndex};
use brandpunt::geocode::{synthetic, GeocodeIndexBuilder};
use brandpunt::import::delivery;
use brandpunt::import::incidents::{import_incident_file, IncidentImportOptions, Locator};
use brandpunt::store::{DeliveryMeta, SqliteStore, Store};
use criterion::{BatchSize, Criterion};
use rayon::prelude::*;
use std::io::Write;
use std::time::{Duration, Instant};

fn sizes() -> (usize, usize) {
    let bench = std::env::args().any(|a| a == "--bench");
    let rows = std::env::var("IMPORT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 1_000_000 } else { 5_000 });
    (rows, if bench { 1_000_000 } else { 20_000 })
}

/// Write a delivery of `rows` rows whose addresses are drawn from the synthetic BAG (every 7th row with a
/// lower-case postcode with a space, every 11th without postcode, every 13th with `12 A`-style numbers,
/// every 50th an address that does not exist).
fn write_delivery(path: &std::path::Path, rows: usize, addresses: usize) {
    let mut samples = Vec::new();
    synthetic::for_each_address(addresses, 7, |a| {
        if samples.len() < rows {
            samples.push((
                a.street.to_string(),
                a.huisnummer,
                a.huisletter.map(str::to_string),
                a.toevoeging.map(str::to_string),
                a.postcode.unwrap_or_default().to_string(),
                a.woonplaats.to_string(),
            ));
        }
    });
    let file = std::fs::File::create(path).expect("create delivery");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(
        b"Registratienummer;Pleegdatum begin;Pleegtijd begin;Pleegdatum eind;Pleegtijd eind;Maatschappelijke klasse;Straat;Huisnummer;Huisletter;Toevoeging;Postcode;Plaats\r\n",
    )
    .expect("write delivery");
    for i in 0..rows {
        let (street, nr, letter, toev, pc, wp) = &samples[i % samples.len()];
        let day = 1 + i % 28;
        let month = 1 + (i / 28) % 12;
        let pc = if i % 11 == 0 {
            String::new()
        } else if i % 7 == 0 {
            format!("{} {}", &pc[..4], pc[4..].to_lowercase())
        } else {
            pc.clone()
        };
        let nr = if i % 50 == 0 { nr + 90_000 } else { *nr };
        let (nr_cell, letter_cell) = match (letter, i % 13 == 0) {
            (Some(l), true) => (format!("{nr} {l}"), String::new()),
            (l, _) => (nr.to_string(), l.clone().unwrap_or_default()),
        };
        let line = format!(
            "PL0600-2024{i:07};{day:02}-{month:02}-2024;{:02}:{:02};{day:02}-{month:02}-2024;23:00;1.1.1 Diefstal/inbraak woning;{street};{nr_cell};{letter_cell};{};{pc};{wp}\r\n",
            i % 23,
            i % 60,
            toev.clone().unwrap_or_default()
        );
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&line);
        out.write_all(&bytes).expect("write delivery");
    }
    out.flush().expect("write delivery");
}

/// CPU seconds (user + system, all threads) of this process so far, from `/proc/self/stat`.
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields after the command name start at field 3 (state): utime is field 14, stime field 15, in clock
    // ticks of 1/100 s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Run the phases of `import_incident_file` once each and print their wall and CPU time.
fn phases(locator: &Locator, delivery: &std::path::Path, db: &std::path::Path) {
    let mut store = SqliteStore::open(db).expect("store");
    let mut mark = (Instant::now(), process_cpu_s());
    let mut lap = |name: &str| {
        let (wall, cpu) = (mark.0.elapsed().as_secs_f64(), process_cpu_s() - mark.1);
        println!("phase {name:<12} wall {wall:6.2} s  cpu {cpu:6.2} s");
        mark = (Instant::now(), process_cpu_s());
    };
    let parsed = delivery::read_delivery(delivery, None).expect("read");
    lap("read");
    let meta = DeliveryMeta {
        tenant: "default".into(),
        source: "politie".into(),
        kind: "incidents".into(),
        file_name: parsed.file_name.clone(),
        checksum: parsed.checksum.clone(),
        total_rows: parsed.total_rows,
    };
    let records: Vec<_> = parsed
        .rows
        .into_par_iter()
        .map(|row| locator.place_owned(row).record)
        .collect();
    lap("place");
    store
        .store_incident_delivery(&meta, &records, &[])
        .expect("write");
    lap("write");
    drop(records);
    drop(store);
    lap("drop+close");
}

/// A `VmHWM`/`VmRSS`-style line of `/proc/self/status` in MiB.
fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Import once into a fresh store and print rows, wall time and the peak resident set of the import.
fn once(locator: &Locator, delivery: &std::path::Path, dir: &std::path::Path) {
    let options = IncidentImportOptions {
        tenant: "default".into(),
        source: "politie".into(),
        mapping: None,
        report_path: Some(dir.join("rapport.csv")),
    };
    let mut store = SqliteStore::open(&dir.join("once.db")).expect("store");
    if std::env::var_os("IMPORT_BENCH_OPEN").is_some() {
        // The scans of DeliveryReader::open alone (checksum and encoding, rows and duplicates).
        let started = Instant::now();
        let reader = delivery::DeliveryReader::open(delivery, None).expect("open");
        println!(
            "open rows {} wall {:.2} s",
            reader.total_rows(),
            started.elapsed().as_secs_f64()
        );
    }
    // Reset the peak resident set to the current one (Linux >= 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = status_mib("VmRSS:");
    let started = Instant::now();
    let s = import_incident_file(&mut store, locator, delivery, &options).expect("import");
    let wall = started.elapsed().as_secs_f64();
    println!(
        "once rows {} stored {} reported {} wall {wall:.2} s rss_before {rss_before:.0} MiB peak {:.0} MiB",
        s.total_rows,
        s.outcome.inserted + s.outcome.replaced + s.outcome.unchanged,
        s.outcome.reported,
        status_mib("VmHWM:")
    );
}

fn main() {
    let (rows, addresses) = sizes();
    let dir = match std::env::var_os("IMPORT_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("tempdir");
    let delivery = dir.path().join("levering.csv");
    write_delivery(&delivery, rows, addresses);
    let mut b = GeocodeIndexBuilder::new();
    synthetic::for_each_address(addresses, 7, |a| b.push(a));
    let geocoder = b.finish();
    let areas = AreaIndex::build(areas_synthetic::tiling(
        &areas_synthetic::TilingSpec::national(),
    ));
    let locator = Locator::new(geocoder, areas);
    if std::env::var_os("IMPORT_BENCH_PHASES").is_some() {
        phases(&locator, &delivery, &dir.path().join("phases.db"));
        return;
    }
    if std::env::var_os("IMPORT_BENCH_ONCE").is_some() {
        once(&locator, &delivery, dir.path());
        return;
    }
    let options = IncidentImportOptions {
        tenant: "default".into(),
        source: "politie".into(),
        mapping: None,
        report_path: Some(dir.path().join("rapport.csv")),
    };
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut run = 0u32;
    c.bench_function(&format!("import_delivery_{rows}_rows"), |bencher| {
        bencher.iter_batched(
            || {
                run += 1;
                SqliteStore::open(&dir.path().join(format!("b{run}.db"))).expect("store")
            },
            |mut store| {
                let s = import_incident_file(&mut store, &locator, &delivery, &options)
                    .expect("import");
                assert_eq!(s.total_rows as usize, rows);
                s
            },
            BatchSize::PerIteration,
        )
    });
    c.final_summary();
}
