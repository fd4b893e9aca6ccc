//! The server's query parameter parsing: `Filter::parse` / `parse_date`, the analysis, hotspot, raster,
//! report and patrol parameter parsers, WMS `GetMap` (both versions), tile `z/x/y.ext` paths and `TileId`.
//!
//! Input: UTF-8 (lossy) text read as a query string: `&`-separated `key=value` pairs (the last value of a
//! key wins, keys lower-cased for WMS as the server does). Every parser sees the whole map and every value.
//! Parsers may refuse anything, but never panic, and what they accept satisfies their contract:
//! - `Filter`: `from <= to`, sorted unique known sources, sorted category codes, and its `query_string()`
//!   parses back to the same filter (`key()`); the previous period ends the day before `from`.
//! - `parse_date`/`parse_month`/`Step`/`Level`/`parse_weekday`/`BinSpec`: the canonical text parses back.
//! - settings stay inside their documented ranges; `GetMap` has a finite, ordered bbox and a size of
//!   1..=`MAX_IMAGE_SIDE` pixels, and small requests map to one RD point per pixel.
//! - `TileId::new(z, x, y)` accepts exactly `z <= MAX_ZOOM`, `x, y < 2^z`; the tile containing its own
//!   centre is itself.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use brandpunt::analysis::grid::BinSpec;
use brandpunt::render::MAX_IMAGE_SIDE;
use brandpunt::server::analysis_api::Step;
use brandpunt::server::filter::{parse_date, Filter};
use brandpunt::server::hotspots::{parse_bins, EmergingSettings, KdeSettings};
use brandpunt::server::patrol::{dutch_day, parse_weekday};
use brandpunt::server::raster::{pixel_coords_rd, RasterLayer};
use brandpunt::server::report::parse_month;
use brandpunt::server::snapshot::{Level, Snapshot};
use brandpunt::server::wms::{parse_get_map, WmsVersion};
use brandpunt::store::{DeliveryMeta, IncidentRecord, LocatedBy, SqliteStore, Store};
use brandpunt::tiles::{TileId, MAX_ZOOM};
use chrono::{Datelike, NaiveDate};
use libfuzzer_sys::fuzz_target;

/// A snapshot with two sources and categories, built once from an in-memory store.
fn snapshot() -> &'static Snapshot {
    static S: OnceLock<Snapshot> = OnceLock::new();
    S.get_or_init(|| {
        let mut store = SqliteStore::open_in_memory().expect("in-memory store");
        let day = NaiveDate::from_ymd_opt(2024, 3, 1).expect("date");
        for (source, code, reg) in [("politie", "1.1.1", "R1"), ("handhaving", "2.5.1", "R2")] {
            let begin = day.and_hms_opt(10, 0, 0).expect("time");
            let record = IncidentRecord {
                line: 2,
                registration: reg.into(),
                begin,
                end: begin,
                time_known: true,
                category_code: Some(code.into()),
                category_label: None,
                street: None,
                huisnummer: None,
                huisletter: None,
                toevoeging: None,
                postcode: None,
                plaats: None,
                bag_id: None,
                x_m: Some(136_000.0),
                y_m: Some(455_000.0),
                buurtcode: None,
                located_by: LocatedBy::Coordinates,
                match_kind: None,
                match_score: None,
                extra: Default::default(),
                content_hash: format!("{reg:0>64}"),
            };
            let meta = DeliveryMeta {
                tenant: "default".into(),
                source: source.into(),
                kind: "incidents".into(),
                file_name: format!("{source}.csv"),
                checksum: format!("{source:0>64}"),
                total_rows: 1,
            };
            store
                .store_incident_delivery(&meta, &[record], &[])
                .expect("store the fixed incidents");
        }
        Snapshot::load(&store, "default", 1).expect("snapshot of the in-memory store")
    })
}

fn query(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

fn check_filter(params: &HashMap<String, String>, s: &Snapshot) {
    let Ok(f) = Filter::parse(params, s) else {
        return;
    };
    if let (Some(a), Some(b)) = (f.from, f.to) {
        assert!(a <= b, "{f:?}");
    }
    assert!(f.category_codes.windows(2).all(|w| w[0] <= w[1]), "{f:?}");
    assert!(f.source_names.windows(2).all(|w| w[0] < w[1]), "{f:?}");
    assert!(
        f.source_names.iter().all(|n| s.sources.contains(n)),
        "{f:?}"
    );
    let (lo, hi) = f.begin_range_min();
    assert!(lo <= hi, "{f:?}");
    let again = Filter::parse(&query(&f.query_string()), s)
        .unwrap_or_else(|e| panic!("query_string {:?} refused: {e:?}", f.query_string()));
    assert_eq!(again.key(), f.key(), "query_string round trip");
    if let Some(prev) = f.previous(s) {
        if let (Some((from, _)), Some(prev_to)) = (f.period(s), prev.to) {
            assert_eq!(prev_to.succ_opt(), Some(from), "{f:?}");
        }
    }
}

fn check_values(v: &str) {
    if let Ok(d) = parse_date("from", v) {
        assert_eq!(
            parse_date("from", &d.format("%Y-%m-%d").to_string()).ok(),
            Some(d),
            "{v:?}"
        );
    }
    if let Ok(m) = parse_month(v) {
        assert_eq!(m.day(), 1);
        assert_eq!(
            parse_month(&m.format("%Y-%m").to_string()).ok(),
            Some(m),
            "{v:?}"
        );
    }
    if let Ok(step) = Step::parse("step", v) {
        assert_eq!(Step::parse("step", step.as_str()).ok(), Some(step));
    }
    if let Some(level) = Level::parse(v) {
        assert_eq!(Level::parse(level.as_str()), Some(level));
    }
    if let Some(d) = parse_weekday(v) {
        assert_eq!(parse_weekday(dutch_day(d)), Some(d));
    }
    if let Ok(b) = v.parse::<BinSpec>() {
        assert_eq!(b.to_string().parse::<BinSpec>().ok(), Some(b), "{v:?}");
    }
}

fn check_settings(params: &HashMap<String, String>) {
    if let Ok(k) = KdeSettings::parse(params) {
        assert!((10.0..=1000.0).contains(&k.cell_m), "{k:?}");
        assert!(
            k.bandwidth_m.is_none_or(|b| b > 0.0 && b <= 20_000.0),
            "{k:?}"
        );
        assert!((1..=20).contains(&k.levels), "{k:?}");
    }
    let _ = parse_bins(params);
    if let Ok(e) = EmergingSettings::parse(params) {
        assert!(e.cell_m > 0, "{e:?}");
    }
    for layer in ["kde", "hotspots", "buurten"] {
        let _ = RasterLayer::parse(layer, params);
    }
    if let Some(layer) = params.get("layer") {
        let _ = RasterLayer::parse(layer, params);
    }
}

fn check_wms(params: &HashMap<String, String>) {
    let lower: HashMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    for version in [WmsVersion::V111, WmsVersion::V130] {
        let Ok(g) = parse_get_map(&lower, version) else {
            continue;
        };
        let [minx, miny, maxx, maxy] = g.request.bbox;
        assert!(g.request.bbox.iter().all(|c| c.is_finite()), "{g:?}");
        assert!(minx < maxx && miny < maxy, "{g:?}");
        assert!((1..=MAX_IMAGE_SIDE).contains(&g.request.width), "{g:?}");
        assert!((1..=MAX_IMAGE_SIDE).contains(&g.request.height), "{g:?}");
        let pixels = u64::from(g.request.width) * u64::from(g.request.height);
        if pixels <= 4096 {
            if let Ok(rd) = pixel_coords_rd(&g.request) {
                assert_eq!(rd.len() as u64, pixels, "{g:?}");
            }
        }
    }
}

/// `/tiles/{layer}/{z}/{x}/{y}.{ext}` as the server reads it: decimal `u32`s, `y` before the last dot.
fn check_tile(params: &HashMap<String, String>) {
    let (Some(z), Some(x), Some(file)) = (params.get("z"), params.get("x"), params.get("y")) else {
        return;
    };
    let y = file.rsplit_once('.').map_or(file.as_str(), |(y, _)| y);
    let (Ok(z), Ok(x), Ok(y)) = (z.parse::<u32>(), x.parse::<u32>(), y.parse::<u32>()) else {
        return;
    };
    let in_pyramid =
        z <= u32::from(MAX_ZOOM) && u64::from(x) < (1u64 << z) && u64::from(y) < (1u64 << z);
    match TileId::new(z, x, y) {
        Ok(t) => {
            assert!(in_pyramid, "{z}/{x}/{y} accepted");
            let (minx, miny, maxx, maxy) = t.bounds_m();
            assert!(minx < maxx && miny < maxy, "{t:?}");
            let centre = TileId::containing(t.z, (minx + maxx) / 2.0, (miny + maxy) / 2.0);
            assert_eq!(centre, t);
        }
        Err(_) => assert!(!in_pyramid, "{z}/{x}/{y} refused"),
    }
}

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let params = query(&text);
    let s = snapshot();
    check_filter(&params, s);
    check_settings(&params);
    check_wms(&params);
    check_tile(&params);
    for v in params.values() {
        check_values(v);
    }
});
