//! National BAG import: throughput and peak memory of `brandpunt::import::bag::read_bag` streaming a
//! synthetic `bag-light.gpkg` (exact PDOK layer and column names) into a real `SqliteStore` address sink.
//!
//! Not a criterion benchmark: one run per variant, each in a **child process** (this same executable,
//! re-started with `BAG_BENCH_CHILD_FILE` set) so that the peak RSS it reports (`VmHWM` from
//! `/proc/self/status`) covers the import alone, not the generation of the input file. The child also samples
//! `VmRSS` through the progress callback (every 10,000 features), so growth with the number of objects shows
//! within one run.
//!
//! Size: `BAG_BENCH_N` address objects when set, else 2,000,000 under `cargo bench` (detected by `--bench` in
//! the arguments) and 5,000 in the quick test-mode run of `cargo test --all-targets`. Of the N objects 96 %
//! are verblijfsobjecten (points), 2 % ligplaatsen and 2 % standplaatsen (small polygons, centroid); there
//! are 1.14 N panden (as nationally: 11.4 M panden for 10 M verblijfsobjecten), of which the first N / 2 are
//! referenced by two verblijfsobjecten each, and 100 woonplaatsen. Objects are spread over 100 gemeenten
//! (`bronhouder_identificatie` 0100..0199); the filter variant imports gemeente 0142 only (~1 %).
//!
//! Buurt assignment is a cheap stand-in (a 1 km grid code, one `String` per object, as the real area index
//! returns), so the figures are read + convert + SQLite write, without point-in-polygon cost.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use brandpunt::import::bag::read_bag;
use brandpunt::store::{SqliteStore, Store};
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{Feature, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal};
use gdal::DriverManager;

const GEMEENTEN: u64 = 100;
const FILTER_GEMEENTE: &str = "0142";

fn main() {
    if let Ok(file) = std::env::var("BAG_BENCH_CHILD_FILE") {
        let gemeente = std::env::var("BAG_BENCH_CHILD_GEMEENTE").unwrap_or_default();
        if let Err(e) = child(Path::new(&file), &gemeente) {
            eprintln!("bag_import child failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let bench = std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("BAG_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 2_000_000 } else { 5_000 });
    let dir = tempfile::tempdir().expect("temp dir");
    let gpkg = dir.path().join("bag-light.gpkg");
    let t = Instant::now();
    generate(&gpkg, n).expect("generate bag-light.gpkg");
    let size = std::fs::metadata(&gpkg).map(|m| m.len()).unwrap_or(0);
    println!(
        "bag_import: generated {n} address objects, {} panden in {:.1} s ({:.0} MB, {:.0} bytes per address object)",
        n * 114 / 100,
        t.elapsed().as_secs_f64(),
        size as f64 / 1e6,
        size as f64 / n as f64
    );
    let exe = std::env::current_exe().expect("current exe");
    for gemeente in ["", FILTER_GEMEENTE] {
        let status = Command::new(&exe)
            .env("BAG_BENCH_CHILD_FILE", &gpkg)
            .env("BAG_BENCH_CHILD_GEMEENTE", gemeente)
            .status()
            .expect("start child");
        assert!(status.success(), "child import failed");
    }
}

/// One import in a fresh store next to the input file; prints one result line.
fn child(gpkg: &Path, gemeente: &str) -> Result<(), Box<dyn std::error::Error>> {
    let db_dir = tempfile::tempdir_in(gpkg.parent().unwrap_or(Path::new(".")))?;
    let mut store = SqliteStore::open(&db_dir.path().join("brandpunt.sqlite"))?;
    let gemeenten: Vec<String> = if gemeente.is_empty() {
        Vec::new()
    } else {
        vec![gemeente.to_string()]
    };
    let assign = |x: f64, y: f64| {
        Some(format!(
            "BU{:04}{:04}",
            (x / 1000.0) as i64 % 10_000,
            (y / 1000.0) as i64 % 10_000
        ))
    };
    let rss_before = status_kib("VmRSS:");
    let mut samples: Vec<(String, u64, u64)> = Vec::new();
    let mut progress = |layer: &str, done: u64, _total: u64| {
        samples.push((layer.to_string(), done, status_kib("VmRSS:")));
    };
    let t = Instant::now();
    let cpu0 = cpu_seconds();
    let mut sink = store.address_sink(&gemeenten)?;
    let summary = read_bag(gpkg, &gemeenten, &assign, sink.as_mut(), &mut progress)?;
    let stored = sink.finish()?;
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let objects = summary.verblijfsobjecten + summary.ligplaatsen + summary.standplaatsen;
    let hwm = status_kib("VmHWM:");
    let label = if gemeente.is_empty() {
        "national (no filter)".to_string()
    } else {
        format!("--gemeente {gemeente}")
    };
    println!(
        "bag_import [{label}]: {objects} address objects stored ({stored} rows), {} panden kept, {} skipped, \
         {:.1} s wall ({:.0} address objects/s), {:.1} CPU-s ({:.0} address objects per CPU-s); \
         RSS before import {:.0} MiB, peak (VmHWM) {:.0} MiB",
        summary.panden,
        summary.skipped,
        secs,
        objects as f64 / secs,
        cpu,
        objects as f64 / cpu.max(1e-9),
        rss_before as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    // RSS along the way: first, 25 %, 50 %, 75 % and last sample of each layer.
    let mut line = String::from("  VmRSS MiB by progress:");
    for layer in ["verblijfsobject", "pand"] {
        let of: Vec<&(String, u64, u64)> = samples.iter().filter(|s| s.0 == layer).collect();
        if of.is_empty() {
            continue;
        }
        line.push_str(&format!(" {layer}"));
        for q in [0, 1, 2, 3, 4] {
            let s = of[(of.len() - 1) * q / 4];
            line.push_str(&format!(" {}k={:.0}", s.1 / 1000, s.2 as f64 / 1024.0));
        }
        line.push(';');
    }
    println!("{line}");
    Ok(())
}

/// User + system CPU seconds of this process so far (`/proc/self/stat`, clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

/// A `kB` value from `/proc/self/status` (0 when unavailable).
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Deterministic 64-bit mix (splitmix64) for synthetic attributes.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// RD position of object `i`: spread over 80 x 100 km inside the Netherlands.
fn position(i: u64) -> (f64, f64) {
    let h = mix(i);
    (
        120_000.0 + (h % 80_000_000) as f64 / 1000.0,
        400_000.0 + ((h >> 32) % 100_000_000) as f64 / 1000.0,
    )
}

fn square(x: f64, y: f64, half: f64) -> geo_types::Polygon<f64> {
    geo_types::Polygon::new(
        geo_types::LineString::from(vec![
            (x - half, y - half),
            (x + half, y - half),
            (x + half, y + half),
            (x - half, y + half),
            (x - half, y - half),
        ]),
        vec![],
    )
}

/// Writes the five PDOK tables with `n` address objects, streaming features inside one transaction.
fn generate(path: &Path, n: u64) -> gdal::errors::Result<()> {
    use OGRFieldType::{OFTInteger, OFTString};
    let driver = DriverManager::get_driver_by_name("GPKG")?;
    let mut ds = driver.create_vector_only(path)?;
    let srs = SpatialRef::from_epsg(28992)?;
    // The reader scans sequentially, so no R-tree is built (it only slows generation down).
    let opts = ["FID=feature_id", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=NO"];
    let mut txn = ds.start_transaction()?;
    let address_fields: Vec<(&str, OGRFieldType::Type)> = vec![
        ("rdf_seealso", OFTString),
        ("identificatie", OFTString),
        ("oppervlakte", OFTInteger),
        ("status", OFTString),
        ("gebruiksdoel", OFTString),
        ("openbare_ruimte_naam", OFTString),
        ("openbare_ruimte_naam_kort", OFTString),
        ("huisnummer", OFTInteger),
        ("huisletter", OFTString),
        ("toevoeging", OFTString),
        ("postcode", OFTString),
        ("woonplaats_naam", OFTString),
        ("bouwjaar", OFTInteger),
        ("pand_identificatie", OFTString),
        ("pandstatus", OFTString),
        ("nummeraanduiding_hoofdadres_identificatie", OFTString),
        ("openbare_ruimte_identificatie", OFTString),
        ("woonplaats_identificatie", OFTString),
        ("bronhouder_identificatie", OFTString),
    ];
    let n_vbo = n * 96 / 100;
    let n_lig = n * 2 / 100;
    let n_sta = n - n_vbo - n_lig;
    for (name, kind, first, count) in [
        ("verblijfsobject", "01", 0, n_vbo),
        ("ligplaats", "02", n_vbo, n_lig),
        ("standplaats", "03", n_vbo + n_lig, n_sta),
    ] {
        let is_vbo = kind == "01";
        let fields: Vec<(&str, OGRFieldType::Type)> = address_fields
            .iter()
            .copied()
            .filter(|(f, _)| {
                is_vbo
                    || !matches!(
                        *f,
                        "oppervlakte" | "bouwjaar" | "pand_identificatie" | "pandstatus"
                    )
            })
            .collect();
        let layer = txn.create_layer(LayerOptions {
            name,
            srs: Some(&srs),
            ty: if is_vbo {
                OGRwkbGeometryType::wkbPoint
            } else {
                OGRwkbGeometryType::wkbPolygon
            },
            options: Some(&opts),
        })?;
        layer.create_defn_fields(&fields)?;
        let idx = |f: &str| fields.iter().position(|(n, _)| *n == f).unwrap_or(0);
        for i in first..first + count {
            let h = mix(i ^ 0xBA6);
            let gemeente = 100 + i % GEMEENTEN;
            let street = i / 40;
            let wp = street % 100;
            let id = format!("{gemeente:04}{kind}{i:010}");
            let mut f = Feature::new(layer.defn())?;
            f.set_field_string(
                idx("rdf_seealso"),
                &format!("http://bag.basisregistraties.overheid.nl/bag/id/{name}/{id}"),
            )?;
            f.set_field_string(idx("identificatie"), &id)?;
            f.set_field_string(idx("status"), "Verblijfsobject in gebruik")?;
            f.set_field_string(
                idx("gebruiksdoel"),
                if h % 5 == 0 {
                    "woonfunctie,winkelfunctie"
                } else {
                    "woonfunctie"
                },
            )?;
            f.set_field_string(
                idx("openbare_ruimte_naam"),
                &format!("Burgemeester Synthetischestraat {street}"),
            )?;
            f.set_field_string(
                idx("openbare_ruimte_naam_kort"),
                &format!("Burg. Synthetischestr. {street}"),
            )?;
            f.set_field_integer(idx("huisnummer"), 1 + (i % 40) as i32)?;
            if h % 10 == 0 {
                f.set_field_string(idx("huisletter"), "A")?;
            }
            if h % 7 == 0 {
                f.set_field_string(idx("toevoeging"), "2")?;
            }
            f.set_field_string(
                idx("postcode"),
                &format!(
                    "{}{}{}",
                    1000 + street % 9000,
                    char::from(b'A' + (h % 26) as u8),
                    char::from(b'A' + ((h >> 8) % 26) as u8)
                ),
            )?;
            f.set_field_string(idx("woonplaats_naam"), &format!("Woonplaats {wp}"))?;
            f.set_field_string(
                idx("nummeraanduiding_hoofdadres_identificatie"),
                &format!("{gemeente:04}20{i:010}"),
            )?;
            f.set_field_string(
                idx("openbare_ruimte_identificatie"),
                &format!("{gemeente:04}30{street:010}"),
            )?;
            f.set_field_string(
                idx("woonplaats_identificatie"),
                &format!("{:04}", 1000 + wp),
            )?;
            f.set_field_string(idx("bronhouder_identificatie"), &format!("{gemeente:04}"))?;
            let (x, y) = position(i);
            if is_vbo {
                f.set_field_integer(idx("oppervlakte"), 20 + (h % 200) as i32)?;
                f.set_field_integer(idx("bouwjaar"), 1900 + (h % 120) as i32)?;
                f.set_field_string(
                    idx("pand_identificatie"),
                    &format!("{gemeente:04}10{:010}", i / 2),
                )?;
                f.set_field_string(idx("pandstatus"), "Pand in gebruik")?;
                f.set_geometry(geo_types::Point::new(x, y).to_gdal()?)?;
            } else {
                f.set_geometry(square(x, y, 6.0).to_gdal()?)?;
            }
            f.create(&layer)?;
        }
    }
    // pand: the first n_vbo / 2 are referenced (two verblijfsobjecten each), the rest stand alone.
    let layer = txn.create_layer(LayerOptions {
        name: "pand",
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbPolygon,
        options: Some(&opts),
    })?;
    layer.create_defn_fields(&[
        ("rdf_seealso", OFTString),
        ("identificatie", OFTString),
        ("bouwjaar", OFTInteger),
        ("status", OFTString),
        ("gebruiksdoel", OFTString),
        ("oppervlakte_min", OFTInteger),
        ("oppervlakte_max", OFTInteger),
        ("aantal_verblijfsobjecten", OFTInteger),
    ])?;
    let referenced = n_vbo / 2;
    for p in 0..n * 114 / 100 {
        // Pand p is referenced by verblijfsobjecten 2p and 2p + 1, whose gemeente is that of 2p.
        let gemeente = 100 + (2 * p) % GEMEENTEN;
        let id = format!("{gemeente:04}10{p:010}");
        let mut f = Feature::new(layer.defn())?;
        f.set_field_string(
            0,
            &format!("http://bag.basisregistraties.overheid.nl/bag/id/pand/{id}"),
        )?;
        f.set_field_string(1, &id)?;
        f.set_field_integer(2, 1900 + (mix(p) % 120) as i32)?;
        f.set_field_string(3, "Pand in gebruik")?;
        if p < referenced {
            f.set_field_string(4, "woonfunctie")?;
            f.set_field_integer(5, 40)?;
            f.set_field_integer(6, 120)?;
            f.set_field_integer(7, 2)?;
        }
        let (x, y) = position(2 * p);
        f.set_geometry(square(x, y, 5.0).to_gdal()?)?;
        f.create(&layer)?;
    }
    let layer = txn.create_layer(LayerOptions {
        name: "woonplaats",
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbMultiPolygon,
        options: Some(&opts),
    })?;
    layer.create_defn_fields(&[
        ("identificatie", OFTString),
        ("status", OFTString),
        ("woonplaats", OFTString),
        ("bronhouder_identificatie", OFTString),
    ])?;
    for wp in 0..100u64 {
        let mut f = Feature::new(layer.defn())?;
        f.set_field_string(0, &format!("{:04}", 1000 + wp))?;
        f.set_field_string(1, "Woonplaats aangewezen")?;
        f.set_field_string(2, &format!("Woonplaats {wp}"))?;
        f.set_field_string(3, &format!("{:04}", 100 + wp % GEMEENTEN))?;
        let (x, y) = (
            120_000.0 + (wp % 10) as f64 * 8_000.0,
            400_000.0 + (wp / 10) as f64 * 10_000.0,
        );
        let poly = square(x + 4_000.0, y + 5_000.0, 3_900.0);
        f.set_geometry(geo_types::MultiPolygon::new(vec![poly]).to_gdal()?)?;
        f.create(&layer)?;
    }
    txn.commit()?;
    Ok(())
}
