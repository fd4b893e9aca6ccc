//! API integration tests: the real server (`brandpunt serve`, the built binary) on the small demo city on a free
//! port, answered over HTTP; numbers compared with the store (`brandpunt stats`' query) and with independent
//! computations (point-in-polygon with `geo`, an independent MVT decoder).

use crate::common::mvt;
use brandpunt::access::Role;
use brandpunt::area_level::AreaLevel;
use brandpunt::coords::Transformer;
use brandpunt::store::{IncidentFilter, SqliteStore, Store};
use chrono::NaiveDate;
use geo::Contains;
use std::collections::BTreeMap;
use std::io::Read;

use std::path::PathBuf;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::demo::demo_copy;
use crate::common::server::{self as srv, Resp};

/// The shared server on the small demo: the demo tenant is public (anonymous callers are viewers), and an
/// analyst with all categories has a token.
struct Shared {
    _server: srv::Server,
    db: PathBuf,
    base: String,
    analyst: String,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let (dir, db) = demo_copy();
        let analyst = srv::user_token(&db, "default", "analist-api", Role::Analyst, &["*"]);
        let server = srv::start(&db, &["--public-tenant", "default"]);
        let base = server.base.clone();
        Shared {
            _server: server,
            db,
            base,
            analyst,
            _dir: dir,
        }
    })
}

/// A request as the analyst (its token added to `headers`).
fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let auth = format!("Bearer {}", server().analyst);
    let mut h: Vec<(&str, &str)> = headers.to_vec();
    h.push(("Authorization", &auth));
    srv::request(method, url, &h, body)
}

/// An anonymous GET.
fn get(path: &str) -> Resp {
    srv::request("GET", &format!("{}{path}", server().base), &[], None)
}

/// A GET as the analyst (exact counts; anonymous callers get small counts protected).
fn analyst_get(path: &str) -> Resp {
    request("GET", &format!("{}{path}", server().base), &[], None)
}

fn store() -> SqliteStore {
    SqliteStore::open(&server().db).unwrap()
}

#[test]
fn health_ready_metrics_and_openapi() {
    assert_eq!(get("/healthz").status, 200);
    assert_eq!(get("/readyz").status, 200);
    let m = get("/metrics");
    assert_eq!(m.status, 200);
    let text = String::from_utf8(m.body).unwrap();
    assert!(text.contains("brandpunt_http_requests_total{route=\"/healthz\",status=\"200\"}"));
    let doc = get("/api/openapi.json").json();
    assert_eq!(doc["openapi"], "3.0.3");
    for p in [
        "/api/areas",
        "/api/areas/{code}/stats",
        "/tiles/{layer}/{z}/{x}/{y}.mvt",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} documented");
    }
}

#[test]
fn meta_describes_the_demo_city() {
    let m = get("/api/meta").json();
    let s = store();
    let all = s
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m["incidents"].as_u64().unwrap() as usize, all.len());
    let first = all.iter().map(|i| i.begin.date()).min().unwrap();
    assert_eq!(m["period"]["first"], first.to_string());
    assert!(m["sources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "politie"));
    let b: Vec<f64> = m["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(b[0] > 3.0 && b[2] < 7.5 && b[1] > 50.5 && b[3] < 54.0 && b[0] < b[2]);
}

#[test]
fn area_list_matches_the_store_and_bad_level_is_400() {
    let s = store();
    for (level, name) in [(AreaLevel::Buurt, "buurt"), (AreaLevel::Wijk, "wijk")] {
        let list = get(&format!("/api/areas?level={name}")).json();
        let mut codes: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap().to_string())
            .collect();
        codes.sort();
        let mut expected: Vec<String> = s
            .areas(level, None)
            .unwrap()
            .into_iter()
            .map(|a| a.code)
            .collect();
        expected.sort();
        assert_eq!(codes, expected);
    }
    let r = get("/api/areas?level=provincie");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["parameter"], "level");
    assert_eq!(get("/api/areas/BU99999999/stats").status, 404);
}

fn store_counts(level: AreaLevel, category: &str, from: &str, to: &str) -> BTreeMap<String, i64> {
    let s = store();
    let filter = IncidentFilter {
        tenant: "default".into(),
        categories: brandpunt::category::expand_filter(category),
        sources: vec![],
        from: Some(NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap()),
        to: Some(NaiveDate::parse_from_str(to, "%Y-%m-%d").unwrap()),
    };
    let mut out = BTreeMap::new();
    for c in s.count_by_area(level, &filter).unwrap() {
        *out.entry(c.area_code).or_insert(0) += c.count;
    }
    out
}

/// The second half of the demo period (from, to) and the equally long period before it.
fn halves() -> ((String, String), (String, String)) {
    let m = get("/api/meta").json();
    let first =
        NaiveDate::parse_from_str(m["period"]["first"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let last =
        NaiveDate::parse_from_str(m["period"]["last"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let days = (last - first).num_days() + 1;
    let from = first + chrono::Duration::days(days / 2);
    let len = (last - from).num_days() + 1;
    let prev_to = from - chrono::Duration::days(1);
    let prev_from = from - chrono::Duration::days(len);
    (
        (from.to_string(), last.to_string()),
        (prev_from.to_string(), prev_to.to_string()),
    )
}

#[test]
fn area_stats_equal_the_store_counts() {
    let ((from, to), (prev_from, prev_to)) = halves();
    let counts = store_counts(AreaLevel::Buurt, "inbraak", &from, &to);
    let prev = store_counts(AreaLevel::Buurt, "inbraak", &prev_from, &prev_to);
    assert!(!counts.is_empty());
    for (code, n) in counts.iter().take(8) {
        let st = analyst_get(&format!(
            "/api/areas/{code}/stats?category=inbraak&from={from}&to={to}"
        ))
        .json();
        assert_eq!(st["count"].as_i64().unwrap(), *n, "{code}");
        let cat_sum: i64 = st["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_i64().unwrap())
            .sum();
        assert_eq!(cat_sum, *n);
        assert_eq!(st["previous"]["from"], prev_from.as_str());
        assert_eq!(st["previous"]["to"], prev_to.as_str());
        assert_eq!(
            st["previous"]["count"].as_i64().unwrap(),
            prev.get(code).copied().unwrap_or(0)
        );
    }
    let r = get("/api/areas/BU00010000/stats?from=2024-13-01");
    assert_eq!(r.status, 404, "unknown area first");
    let some = counts.keys().next().unwrap();
    let r = get(&format!("/api/areas/{some}/stats?from=2024-13-01"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["parameter"], "from");
    let r = get(&format!("/api/areas/{some}/stats?category=nonsense"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["parameter"], "category");
}

/// A previous period before the data begin is "no data", not zero incidents: no change is computed; a partly
/// covered one says how many of its days the data cover and compares per covered day.
#[test]
fn area_stats_say_when_the_previous_period_lies_before_the_data() {
    let m = get("/api/meta").json();
    let first =
        NaiveDate::parse_from_str(m["period"]["first"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let ((from, to), _) = halves();
    let counts = store_counts(AreaLevel::Buurt, "", &from, &to);
    let code = counts.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    let stats = |from: NaiveDate, to: NaiveDate| {
        analyst_get(&format!("/api/areas/{code}/stats?from={from}&to={to}")).json()
    };
    // The first 30 days of data: the 30 days before are wholly before the data.
    let st = stats(first, first + chrono::Duration::days(29));
    assert_eq!(st["previous"]["covered_days"], 0);
    assert_eq!(st["previous"]["data_from"], first.to_string().as_str());
    assert_eq!(st["previous"]["count"], 0);
    assert!(st["change"].is_null(), "{st}");
    // Days 11-40: the previous 30 days are days -19..10, of which 10 have data.
    let st = stats(
        first + chrono::Duration::days(10),
        first + chrono::Duration::days(39),
    );
    assert_eq!(st["previous"]["covered_days"], 10);
    // A period well inside the data: wholly covered.
    let st = stats(
        first + chrono::Duration::days(100),
        first + chrono::Duration::days(129),
    );
    assert_eq!(st["previous"]["covered_days"], 30);
}

/// Tiles at `z` covering the demo city's bbox.
fn covering_tiles(z: u8) -> Vec<(u8, u32, u32)> {
    let m = get("/api/meta").json();
    let b: Vec<f64> = m["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (x0, y0) = brandpunt::coords::lon_lat_to_tile(b[0], b[3], z).unwrap();
    let (x1, y1) = brandpunt::coords::lon_lat_to_tile(b[2], b[1], z).unwrap();
    let mut out = vec![];
    for x in x0..=x1 {
        for y in y0..=y1 {
            out.push((z, x, y));
        }
    }
    out
}

#[test]
fn buurten_tiles_carry_the_store_counts_with_valid_geometry() {
    let ((from, to), _) = halves();
    let counts = store_counts(AreaLevel::Buurt, "inbraak", &from, &to);
    assert!(!counts.is_empty());
    let qs = format!("category=inbraak&from={from}&to={to}");
    let mut seen: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for (z, x, y) in covering_tiles(14) {
        let r = analyst_get(&format!("/tiles/buurten/{z}/{x}/{y}.mvt?{qs}"));
        if r.status == 204 {
            continue;
        }
        assert_eq!(r.status, 200);
        assert_eq!(
            r.headers["content-type"],
            "application/vnd.mapbox-vector-tile"
        );
        let tile = mvt::decode(&r.body);
        assert_eq!(tile.layers.len(), 1);
        let layer = &tile.layers[0];
        assert_eq!(layer.name, "buurten");
        assert_eq!(layer.version, 2);
        assert_eq!(layer.extent, Some(4096));
        for f in &layer.features {
            assert_eq!(f.r#type, Some(3), "polygon");
            let props = mvt::properties(layer, f);
            let code = props["code"].as_str();
            let count = props["count"].as_f64() as i64;
            let id = f.id.expect("feature id");
            if let Some((c, i)) = seen.get(&code) {
                assert_eq!((*c, *i), (count, id), "same count and id in every tile");
            }
            seen.insert(code.clone(), (count, id));
            assert_eq!(count, counts.get(&code).copied().unwrap_or(0), "{code}");
            for polygon in mvt::polygons(f) {
                assert!(mvt::area2(&polygon[0]) > 0, "exterior first, positive area");
                for ring in &polygon {
                    assert!(ring.len() >= 3);
                    for &(px, py) in ring {
                        assert!(
                            (-64..=4160).contains(&px) && (-64..=4160).contains(&py),
                            "{px},{py}"
                        );
                    }
                }
                let poly = geo_types::Polygon::new(
                    polygon[0]
                        .iter()
                        .map(|&(x, y)| (x as f64, y as f64))
                        .collect(),
                    polygon[1..]
                        .iter()
                        .map(|r| r.iter().map(|&(x, y)| (x as f64, y as f64)).collect())
                        .collect(),
                );
                assert!(
                    geo::Validation::is_valid(&poly),
                    "{code}: {:?}",
                    geo::Validation::validation_errors(&poly)
                );
            }
        }
    }
    let expected: BTreeMap<String, i64> = store()
        .areas(AreaLevel::Buurt, None)
        .unwrap()
        .into_iter()
        .map(|a| (a.code.clone(), counts.get(&a.code).copied().unwrap_or(0)))
        .collect();
    let got: BTreeMap<String, i64> = seen.into_iter().map(|(k, (c, _))| (k, c)).collect();
    assert_eq!(got, expected, "every buurt appears with its count");
}

#[test]
fn tile_http_semantics() {
    let (z, x, y) = covering_tiles(14)[0];
    let url = format!(
        "{}/tiles/buurten/{z}/{x}/{y}.mvt?category=geweld",
        server().base
    );
    let plain = request("GET", &url, &[("Accept-Encoding", "identity")], None);
    assert_eq!(plain.status, 200);
    let gz = request("GET", &url, &[("Accept-Encoding", "gzip")], None);
    assert_eq!(gz.headers["content-encoding"], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.body);
    let etag = plain.headers["etag"].clone();
    assert!(plain.headers["cache-control"].contains("must-revalidate"));
    let again = request("GET", &url, &[("If-None-Match", &etag)], None);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    // Another filter: another ETag.
    let other = request("GET", &url.replace("geweld", "inbraak"), &[], None);
    assert_ne!(other.headers.get("etag"), Some(&etag));
    // Far away (the North Sea at z14): nothing there.
    assert_eq!(get("/tiles/buurten/14/8000/5000.mvt").status, 204);
    assert_eq!(get("/tiles/buurten/14/99999/5000.mvt").status, 400);
    assert_eq!(get("/tiles/nope/14/8000/5000.mvt").status, 404);
    let tj = get("/tiles/buurten.json?category=inbraak").json();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert!(tj["tiles"][0]
        .as_str()
        .unwrap()
        .ends_with("/tiles/buurten/{z}/{x}/{y}.mvt?category=1.1.1,1.1.2"));
    assert_eq!(tj["vector_layers"][0]["id"], "buurten");
}

#[test]
fn incident_tiles_points_at_high_zoom_and_cells_below() {
    let s = store();
    let located: Vec<_> = s
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            categories: vec!["1.1.1".into()],
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .filter(|i| i.x_m.is_some())
        .collect();
    let mut cells_total = 0i64;
    for (z, x, y) in covering_tiles(12) {
        // Address-level tiles need an analyst (tests/api/access.rs covers the refusals).
        let r = analyst_get(&format!("/tiles/incidents/{z}/{x}/{y}.mvt?category=1.1.1"));
        if r.status == 204 {
            continue;
        }
        let tile = mvt::decode(&r.body);
        for f in &tile.layers[0].features {
            cells_total += mvt::properties(&tile.layers[0], f)["count"].as_f64() as i64;
        }
    }
    assert_eq!(
        cells_total as usize,
        located.len(),
        "every located incident counted once at z12"
    );
    // At z16 the tile holding the first incident shows it as a point with its category.
    let t = Transformer::new().unwrap();
    let (mx, my) = t
        .rd_to_web_mercator(located[0].x_m.unwrap(), located[0].y_m.unwrap())
        .unwrap();
    let tid = brandpunt::tiles::TileId::containing(16, mx, my);
    let r = analyst_get(&format!(
        "/tiles/incidents/16/{}/{}.mvt?category=1.1.1",
        tid.x, tid.y
    ));
    assert_eq!(r.status, 200);
    let tile = mvt::decode(&r.body);
    let layer = &tile.layers[0];
    assert!(layer
        .features
        .iter()
        .any(|f| f.id == Some(located[0].id as u64)
            && f.r#type == Some(1)
            && mvt::properties(layer, f)["category"].as_str() == "1.1.1"));
}

#[test]
fn custom_area_round_trip() {
    // A square of about 1 km around the centre of the city.
    let body = srv::square_feature(&server().base, "Torenflats en omgeving", 0.007);
    let ring = body["geometry"]["coordinates"][0].clone();
    let base = &server().base;
    let r = request(
        "POST",
        &format!("{base}/api/areas"),
        &[],
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    let code = created["code"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "Torenflats en omgeving");
    let list = get("/api/areas?level=custom").json();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["code"] == code.as_str()));

    // Its count equals an independent point-in-polygon over the stored incidents.
    let t = Transformer::new().unwrap();
    let mut pts: Vec<(f64, f64)> = ring
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    t.wgs84_to_rd_in_place(&mut pts).unwrap();
    let poly = geo_types::Polygon::new(pts.into_iter().collect(), vec![]);
    let expected = store()
        .incidents(&IncidentFilter { tenant: "default".into(), ..Default::default() })
        .unwrap()
        .into_iter()
        .filter(|i| matches!((i.x_m, i.y_m), (Some(x), Some(y)) if poly.contains(&geo_types::Point::new(x, y))))
        .count();
    assert!(expected > 0);
    let st = analyst_get(&format!("/api/areas/{code}/stats")).json();
    assert_eq!(st["count"].as_u64().unwrap() as usize, expected);

    let renamed = body
        .to_string()
        .replace("Torenflats en omgeving", "Torenflats");
    let r = request(
        "PUT",
        &format!("{base}/api/areas/{code}"),
        &[],
        Some(&renamed),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        get(&format!("/api/areas/{code}")).json()["properties"]["name"],
        "Torenflats"
    );
    let r = request("DELETE", &format!("{base}/api/areas/{code}"), &[], None);
    assert_eq!(r.status, 204);
    assert_eq!(get(&format!("/api/areas/{code}")).status, 404);
    assert_eq!(
        request("DELETE", &format!("{base}/api/areas/{code}"), &[], None).status,
        404
    );
}

#[test]
fn invalid_custom_areas_are_refused_with_a_reason() {
    let base = &server().base;
    let post = |b: &str| request("POST", &format!("{base}/api/areas"), &[], Some(b));
    let r = post("{not json");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("GeoJSON"));
    let bowtie = r#"{"type":"Feature","properties":{"name":"x"},"geometry":{"type":"Polygon","coordinates":[[[5.0,52.0],[5.01,52.01],[5.01,52.0],[5.0,52.01],[5.0,52.0]]]}}"#;
    let r = post(bowtie);
    assert_eq!(r.status, 400);
    let msg = r.json()["error"].as_str().unwrap().to_string();
    assert!(msg.contains("snijdt") || msg.contains("buiten"), "{msg}");
    // Far outside the demo municipality (but in the Netherlands).
    let elsewhere = r#"{"type":"Feature","properties":{"name":"x"},"geometry":{"type":"Polygon","coordinates":[[[6.5,53.2],[6.51,53.2],[6.51,53.21],[6.5,53.21],[6.5,53.2]]]}}"#;
    let r = post(elsewhere);
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("buiten de gemeente"));
    let unnamed = elsewhere.replace(r#""name":"x""#, r#""name":"  ""#);
    assert!(post(&unnamed).json()["error"]
        .as_str()
        .unwrap()
        .contains("name"));
}

#[test]
fn changes_by_another_process_reach_the_server() {
    // A custom area written straight into the store (as another process would) appears without a restart.
    let mut s = store();
    let b = get("/api/meta").json();
    let c: Vec<f64> = b["center"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let t = Transformer::new().unwrap();
    let (x, y) = t.wgs84_to_rd(c[0], c[1]).unwrap();
    let square: geo_types::MultiPolygon<f64> =
        geo_types::Rect::new((x - 100.0, y - 100.0), (x + 100.0, y + 100.0))
            .to_polygon()
            .into();
    let id = s
        .insert_custom_area("default", "Van buiten", &square)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = get("/api/areas?level=custom").json();
        if list
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == format!("custom:{id}"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "change not picked up");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(s.delete_custom_area("default", id).unwrap());
}

#[test]
fn the_web_app_answers_its_own_paths_but_unknown_api_paths_stay_json_404() {
    let (dir, db) = demo_copy();
    let web = dir.path().join("web");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(
        web.join("index.html"),
        "<!doctype html><title>brandpunt</title>",
    )
    .unwrap();
    std::fs::write(web.join("app.js"), "console.log(1)").unwrap();
    let server = srv::start(
        &db,
        &[
            "--public-tenant",
            "default",
            "--web-dir",
            web.to_str().unwrap(),
        ],
    );
    let get = |path: &str| srv::request("GET", &format!("{}{path}", server.base), &[], None);
    // The web app: its files, and index.html for client-side routes.
    let r = get("/app.js");
    assert_eq!((r.status, r.text().as_str()), (200, "console.log(1)"));
    for path in ["/", "/kaart/enschede"] {
        let r = get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(r.text().contains("<title>brandpunt</title>"), "{path}");
    }
    // The API: known paths work, unknown ones are JSON 404s, never the index page.
    assert_eq!(get("/api/meta").status, 200);
    for path in [
        "/api/bestaat-niet",
        "/api",
        "/tiles/buurten/14/1/2/3.mvt",
        "/bi/x",
        "/wmsx",
    ] {
        let r = get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.content_type().starts_with("application/json"), "{path}");
        assert!(r.json()["error"].is_string(), "{path}");
    }
    let r = srv::request(
        "POST",
        &format!("{}/api/bestaat-niet", server.base),
        &[],
        Some("{}"),
    );
    assert_eq!(r.status, 404);
}

/// An in-process server (the router, no socket) on a copy of the demo database whose caches may hold
/// `cache_bytes`; the demo tenant is public.
struct InProcess {
    state: std::sync::Arc<brandpunt::server::AppState>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl InProcess {
    fn open(cache_bytes: u64) -> InProcess {
        InProcess::open_with(|config| config.limits.cache_bytes = cache_bytes)
    }

    /// A server on a copy of the demo city, its public tenant `default`, configured by `configure`.
    fn open_with(configure: impl FnOnce(&mut brandpunt::config::ServerConfig)) -> InProcess {
        let (dir, db) = demo_copy();
        let mut config =
            brandpunt::config::ServerConfig::new(db, "127.0.0.1:0".parse().expect("address"));
        config.public_tenant = Some("default".into());
        configure(&mut config);
        InProcess {
            state: brandpunt::server::AppState::open(config).unwrap(),
            runtime: tokio::runtime::Runtime::new().unwrap(),
            _dir: dir,
        }
    }

    /// An anonymous GET: (status, the `Retry-After` header, body).
    fn get_retry_after(&self, path: &str) -> (u16, Option<String>, Vec<u8>) {
        use tower::ServiceExt;
        let app = brandpunt::server::router(self.state.clone());
        let req = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        self.runtime.block_on(async {
            let response = app.oneshot(req).await.unwrap();
            let status = response.status().as_u16();
            let retry = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, retry, body.to_vec())
        })
    }

    /// An anonymous GET: (status, body).
    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let (status, _, body) = self.get_retry_after(path);
        (status, body)
    }

    /// The value of metric `series` (name with labels) in `/metrics`.
    fn metric(&self, series: &str) -> u64 {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200);
        let text = String::from_utf8(body).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{series} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} missing from /metrics:\n{text}"))
    }

    /// Paths that exercise most caches: statistics, a time series, tiles (areas, hot spots), a PNG tile,
    /// exports, the monthly report and the patrol list.
    fn paths(&self) -> Vec<String> {
        let s = self.state.snapshot_of("default").unwrap();
        let buurt = &s
            .area(s.level_areas(brandpunt::area_level::AreaLevel::Buurt)[0])
            .code;
        let b = s.bbox_wgs84();
        let (x, y) =
            brandpunt::coords::wgs84_to_web_mercator((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
        let t = brandpunt::tiles::TileId::containing(13, x, y);
        let month = s.last_day.unwrap().format("%Y-%m");
        vec![
            format!("/api/areas/{buurt}/stats"),
            format!("/api/areas/{buurt}/timeseries?step=week"),
            format!("/tiles/buurten/{}/{}/{}.mvt", t.z, t.x, t.y),
            format!("/tiles/hotspots/{}/{}/{}.mvt", t.z, t.x, t.y),
            format!("/tiles/kde/{}/{}/{}.png", t.z, t.x, t.y),
            "/api/stats.csv?level=wijk".to_string(),
            "/api/stats.geojson?level=buurt".to_string(),
            format!("/api/report/monthly?month={month}"),
            "/api/patrol?day=fri&from_hour=18&to_hour=23".to_string(),
        ]
    }
}

#[test]
fn cache_metrics_count_a_repeated_request_as_a_hit() {
    let p = InProcess::open(64 << 20);
    let series = |kind: &str, what: &str| format!("brandpunt_cache_{what}{{cache=\"{kind}\"}}");
    assert_eq!(p.metric("brandpunt_cache_budget_bytes"), 64 << 20);
    let paths = p.paths();
    let (timeseries, tile) = (&paths[1], &paths[2]);
    let first = p.get(timeseries);
    assert_eq!(first.0, 200);
    assert_eq!(p.metric(&series("analysis_body", "hits_total")), 0);
    assert_eq!(p.metric(&series("analysis_body", "misses_total")), 1);
    assert_eq!(p.metric(&series("analysis_body", "entries")), 1);
    assert!(p.metric(&series("analysis_body", "bytes")) >= first.1.len() as u64);
    assert_eq!(p.get(timeseries), first);
    assert_eq!(p.metric(&series("analysis_body", "hits_total")), 1);
    assert_eq!(p.metric(&series("analysis_body", "misses_total")), 1);

    let first = p.get(tile);
    assert!([200, 204].contains(&first.0), "{}", first.0);
    assert_eq!(p.get(tile), first);
    assert_eq!(p.metric(&series("vector_tile", "hits_total")), 1);
    assert_eq!(p.metric(&series("vector_tile", "misses_total")), 1);
    assert_eq!(p.metric("brandpunt_tile_cache_hits_total"), 1);
    assert_eq!(p.metric("brandpunt_tile_cache_entries"), 1);
    // The protected table behind the time series and the tile was computed once and then read again.
    assert!(p.metric(&series("protected_table", "hits_total")) >= 1);
}

#[test]
fn a_tiny_cache_budget_holds_its_bytes_under_it_and_answers_the_same() {
    let tiny = InProcess::open(4096);
    let ample = InProcess::open(256 << 20);
    let kinds = [
        "counts",
        "protected_table",
        "vector_tile",
        "tile_geometry",
        "png_tile",
        "blank_png",
        "analysis_body",
        "export_body",
        "wgs84_rings",
        "kde_bandwidth",
        "kde_surface",
        "kde_field",
        "kde_contours",
        "gistar",
        "gistar_grid",
        "emerging",
        "emerging_grid",
        "profile_data",
        "monthly_report",
        "patrol",
    ];
    let held = |p: &InProcess| -> u64 {
        kinds
            .iter()
            .map(|k| p.metric(&format!("brandpunt_cache_bytes{{cache=\"{k}\"}}")))
            .sum()
    };
    for round in 0..2 {
        for path in tiny.paths() {
            let answer = tiny.get(&path);
            assert!([200, 204].contains(&answer.0), "{path}: {}", answer.0);
            assert_eq!(answer, ample.get(&path), "{path} (round {round})");
            assert!(held(&tiny) <= 4096, "{path}: {} bytes", held(&tiny));
        }
    }
    assert_eq!(tiny.metric("brandpunt_cache_budget_bytes"), 4096);
    // The ample budget keeps what the tiny one cannot.
    assert!(held(&ample) > 4096);
}

/// Issue 12: heavy analyses beyond `heavy_analyses` running and `heavy_queue` waiting are refused at once with 503
/// and `Retry-After`; other requests are not held up, and the refusals are counted in `/metrics`.
#[test]
fn heavy_analyses_beyond_the_queue_get_503_with_retry_after() {
    let p = InProcess::open_with(|config| {
        config.limits.heavy_analyses = 1;
        config.limits.heavy_queue = 0;
    });
    let hotspots = "/api/hotspots?method=gistar&bins=grid:200";
    let patrol = "/api/patrol?day=fri&from_hour=20&to_hour=2&top=5";
    // Another analysis holds the only turn.
    let turn = p.runtime.block_on(p.state.heavy.enter()).unwrap();
    for path in [hotspots, patrol] {
        let (status, retry, body) = p.get_retry_after(path);
        assert_eq!(status, 503, "{path}");
        assert_eq!(retry.as_deref(), Some("5"), "{path}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("zware analyses"),
            "{v}"
        );
    }
    assert_eq!(p.get("/api/meta").0, 200, "light requests go on");
    assert_eq!(p.metric("brandpunt_heavy_refused_total"), 2);
    assert_eq!(p.metric("brandpunt_heavy_running"), 1);
    drop(turn);
    for path in [hotspots, patrol] {
        assert_eq!(p.get(path).0, 200, "{path}");
    }
    assert_eq!(p.metric("brandpunt_heavy_running"), 0);
    assert_eq!(p.metric("brandpunt_heavy_refused_total"), 2);
}
