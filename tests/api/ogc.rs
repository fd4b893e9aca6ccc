//! OGC API - Features (`/ogc`) read by real clients against the real server: GDAL's OAPIF driver (`ogrinfo`,
//! `ogr2ogr` from Debian's gdal-bin) and QGIS's OAPIF provider (Debian's python3-qgis, headless), with the API
//! token as the password of HTTP Basic. Every figure is compared with the JSON API of the same server
//! (`/api/stats.geojson`, `/api/hotspots`, `/api/incidents.geojson`), never with numbers written here.

use crate::common::server::{self as srv, RoleServer, Who};
use brandpunt::coords::Transformer;
use geo::Intersects;
use geo_types::{Coord, LineString, MultiPolygon, Polygon, Rect};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// One server for this module: the demo tenant public (anonymous callers are viewers), a viewer and an analyst
/// granted every category, and one custom area drawn by the analyst.
fn server() -> &'static RoleServer {
    static S: OnceLock<RoleServer> = OnceLock::new();
    S.get_or_init(|| {
        let s = RoleServer::start("ogc", "");
        let body = srv::square_feature(&s.server.base, "OGC-proef", 0.006);
        let r = s.post(Who::Analyst, "/api/areas", &body.to_string());
        assert_eq!(r.status, 201, "{}", r.text());
        s
    })
}

fn token(who: Who) -> Option<&'static str> {
    server().token(who)
}

fn get(who: Who, path: &str) -> srv::Resp {
    server().get(who, path)
}

fn get_json(who: Who, path: &str) -> Value {
    let r = get(who, path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// A GDAL command with the token of `who` as the Basic password, no proxy for the local server.
fn gdal(program: &str, who: Who, args: &[&str]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("GDAL_HTTP_TIMEOUT", "120");
    if let Some(t) = token(who) {
        cmd.env("GDAL_HTTP_USERPWD", format!("gis:{t}"))
            .env("GDAL_HTTP_AUTH", "BASIC");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{program} (Debian package gdal-bin) cannot run: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn oapif() -> String {
    format!("OAPIF:{}/ogc", server().server.base)
}

/// The features of `collection` as `ogr2ogr` writes them to GeoJSON, reading pages of `page_size`, within
/// `spat` (CRS84) when given.
fn ogr_features(
    who: Who,
    collection: &str,
    page_size: usize,
    spat: Option<[f64; 4]>,
) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.geojson");
    let page = format!("PAGE_SIZE={page_size}");
    let spat_s: Vec<String> = spat
        .map(|b| b.iter().map(|v| v.to_string()).collect())
        .unwrap_or_default();
    let mut args: Vec<&str> = vec!["-f", "GeoJSON", out.to_str().unwrap(), ""];
    let src = oapif();
    args[3] = &src;
    args.extend([collection, "-oo", &page]);
    if spat.is_some() {
        args.push("-spat");
        args.extend(spat_s.iter().map(String::as_str));
    }
    gdal("ogr2ogr", who, &args);
    read_features(&out)
}

fn read_features(path: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["features"].as_array().cloned().unwrap_or_default()
}

/// `property` -> the feature's `count` (null when withheld) of every feature, keyed by `key`.
fn counts_by(features: &[Value], key: &str) -> BTreeMap<String, Value> {
    features
        .iter()
        .map(|f| {
            let p = &f["properties"];
            let k = p[key]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| p[key].to_string());
            (k, p["count"].clone())
        })
        .collect()
}

/// A count as a number (GDAL writes integers, the API may write floats for Gi* cells): `None` when withheld.
fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn same_counts(ogr: &BTreeMap<String, Value>, api: &BTreeMap<String, Value>, what: &str) {
    assert_eq!(
        ogr.keys().collect::<Vec<_>>(),
        api.keys().collect::<Vec<_>>(),
        "{what}: the same features"
    );
    for (k, v) in api {
        assert_eq!(num(&ogr[k]), num(v), "{what} {k}");
    }
}

const LEVELS: [(&str, &str); 4] = [
    ("buurten", "buurt"),
    ("wijken", "wijk"),
    ("gemeenten", "gemeente"),
    ("areas", "custom"),
];

#[test]
fn gdal_reads_every_area_collection_page_by_page_with_the_counts_of_the_statistics_api() {
    for who in [Who::Analyst, Who::Viewer] {
        for (collection, level) in LEVELS {
            let api = get_json(who, &format!("/api/stats.geojson?level={level}"));
            let api_features = api["features"].as_array().unwrap().clone();
            assert!(!api_features.is_empty(), "{level}");
            // A page size that needs several pages for the buurten.
            let ogr = ogr_features(who, collection, 7, None);
            same_counts(
                &counts_by(&ogr, "code"),
                &counts_by(&api_features, "code"),
                &format!("{who:?} {collection}"),
            );
            // Inhabitants and rates too.
            let by_code: BTreeMap<&str, &Value> = api_features
                .iter()
                .map(|f| (f["properties"]["code"].as_str().unwrap(), &f["properties"]))
                .collect();
            for f in &ogr {
                let p = &f["properties"];
                let a = by_code[p["code"].as_str().unwrap()];
                assert_eq!(p["name"], a["name"]);
                assert_eq!(p["inhabitants"].as_i64(), a["inhabitants"].as_i64());
                assert_eq!(p["rate"].as_f64(), a["rate"].as_f64());
            }
        }
    }
    // Viewers get protected counts: some buurt count is withheld for them (and not for the analyst).
    let viewer = ogr_features(Who::Viewer, "buurten", 100, None);
    let withheld: Vec<&Value> = viewer
        .iter()
        .filter(|f| f["properties"]["count"].is_null())
        .collect();
    assert!(!withheld.is_empty(), "the demo has small buurt counts");
    assert!(withheld
        .iter()
        .all(|f| f["properties"]["count_label"].is_string()));
}

#[test]
fn gdal_lists_the_collections_a_role_may_read() {
    let layers = |who| {
        let out = gdal("ogrinfo", who, &["-ro", "-q", &oapif()]);
        out.lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect::<BTreeSet<String>>()
    };
    let analyst = layers(Who::Analyst);
    let viewer = layers(Who::Viewer);
    for c in ["buurten", "wijken", "gemeenten", "areas", "hotspots"] {
        assert!(
            analyst.contains(c) && viewer.contains(c),
            "{c}: {analyst:?} {viewer:?}"
        );
    }
    assert!(analyst.contains("incidents"));
    assert!(!viewer.contains("incidents"));
    assert_eq!(
        get(Who::Viewer, "/ogc/collections/incidents/items").status,
        403
    );
    assert_eq!(
        get(Who::Anonymous, "/ogc/collections/incidents").status,
        403
    );
}

#[test]
fn gdal_reads_the_hotspot_cells_of_the_api() {
    for who in [Who::Analyst, Who::Viewer] {
        let api = get_json(who, "/api/hotspots?method=gistar");
        let api_features = api["features"].as_array().unwrap().clone();
        assert!(!api_features.is_empty());
        let ogr = ogr_features(who, "hotspots", 500, None);
        same_counts(
            &counts_by(&ogr, "id"),
            &counts_by(&api_features, "id"),
            &format!("{who:?} hotspots"),
        );
        let z: BTreeMap<String, f64> = ogr
            .iter()
            .map(|f| {
                (
                    f["properties"]["id"].as_str().unwrap().to_string(),
                    f["properties"]["z"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .collect();
        for f in &api_features {
            let p = &f["properties"];
            let want = p["z"].as_f64().unwrap_or(f64::NAN);
            let got = z[p["id"].as_str().unwrap()];
            assert!(
                (want.is_nan() && got.is_nan()) || (want - got).abs() < 1e-9,
                "{}: {want} {got}",
                p["id"]
            );
        }
    }
}

#[test]
fn gdal_reads_the_analysts_incidents_page_by_page_and_every_page_is_audited() {
    let api = get_json(Who::Analyst, "/api/incidents.geojson");
    let regs = |fs: &[Value]| -> BTreeSet<String> {
        fs.iter()
            .map(|f| {
                f["properties"]["registration"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let want = regs(api["features"].as_array().unwrap());
    assert!(want.len() > 100, "{}", want.len());
    let before = audited("GET /ogc/collections/incidents/items");
    let ogr = ogr_features(Who::Analyst, "incidents", 1000, None);
    assert_eq!(ogr.len(), want.len());
    assert_eq!(regs(&ogr), want);
    let after = audited("GET /ogc/collections/incidents/items");
    // GDAL may read a page twice (to learn the fields first): every page read was logged with its size.
    assert!(after.len() > before.len());
    let logged: i64 = after[before.len()..].iter().sum();
    assert!(logged >= want.len() as i64, "{logged} < {}", want.len());
}

/// The `records` of the audit entries of `endpoint` by the module's analyst, oldest first.
fn audited(endpoint: &str) -> Vec<i64> {
    let s = brandpunt::store::SqliteStore::open(&server().server.db).unwrap();
    brandpunt::store::PrivacyStore::audit_records(&s, None, None)
        .unwrap()
        .into_iter()
        .filter(|r| r.actor == "ogc-analist" && r.endpoint == endpoint)
        .map(|r| r.records)
        .collect()
}

/// A box around the city centre (CRS84) of half-width `d` degrees.
fn centre_box(d: f64) -> [f64; 4] {
    let m = get_json(Who::Anonymous, "/api/meta");
    let (x, y) = (
        m["center"][0].as_f64().unwrap(),
        m["center"][1].as_f64().unwrap(),
    );
    [x - d, y - d, x + d, y + d]
}

fn multipolygon(geometry: &Value) -> MultiPolygon<f64> {
    let ring = |r: &Value| -> LineString<f64> {
        LineString(
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| Coord {
                    x: c[0].as_f64().unwrap(),
                    y: c[1].as_f64().unwrap(),
                })
                .collect(),
        )
    };
    let polys = |coords: &Value| -> Vec<Polygon<f64>> {
        coords
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let rings = p.as_array().unwrap();
                Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
            })
            .collect()
    };
    match geometry["type"].as_str() {
        Some("MultiPolygon") => MultiPolygon(polys(&geometry["coordinates"])),
        Some("Polygon") => {
            MultiPolygon(polys(&Value::Array(vec![geometry["coordinates"].clone()])))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gdal_reads_the_buurten_and_incidents_in_a_box() {
    let b = centre_box(0.004);
    let rect = Rect::new((b[0], b[1]), (b[2], b[3])).to_polygon();
    // Which buurten the box meets, from the statistics API's geometry.
    let api = get_json(Who::Viewer, "/api/stats.geojson?level=buurt");
    let want: BTreeSet<String> = api["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| multipolygon(&f["geometry"]).intersects(&rect))
        .map(|f| f["properties"]["code"].as_str().unwrap().to_string())
        .collect();
    let all = api["features"].as_array().unwrap().len();
    assert!(
        !want.is_empty() && want.len() < all,
        "{} of {all}",
        want.len()
    );
    let ogr = ogr_features(Who::Viewer, "buurten", 3, Some(b));
    let got: BTreeSet<String> = counts_by(&ogr, "code").into_keys().collect();
    assert_eq!(got, want);
    // The server's own page count agrees.
    let bbox = b.map(|v| v.to_string()).join(",");
    let page = get_json(
        Who::Viewer,
        &format!("/ogc/collections/buurten/items?bbox={bbox}"),
    );
    assert_eq!(page["numberMatched"].as_u64().unwrap() as usize, want.len());
    // Incidents in the box: the incident export of the same box.
    let api = get_json(Who::Analyst, &format!("/api/incidents.geojson?bbox={bbox}"));
    let want: BTreeSet<String> = api["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["properties"]["registration"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(!want.is_empty());
    let ogr = ogr_features(Who::Analyst, "incidents", 50, Some(b));
    let got: BTreeSet<String> = ogr
        .iter()
        .map(|f| {
            f["properties"]["registration"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn the_landing_page_conformance_and_api_follow_the_specification() {
    let landing = get_json(Who::Anonymous, "/ogc");
    let rels: BTreeSet<&str> = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(rel), "{rel}");
    }
    let conf = get_json(Who::Anonymous, "/ogc/conformance");
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "conf/core",
        "conf/geojson",
        "conf/oas30",
        "ogcapi-features-2/1.0/conf/crs",
    ] {
        assert!(classes.iter().any(|k| k.contains(c)), "{c}");
    }
    let api = get(Who::Anonymous, "/ogc/api");
    assert_eq!(api.status, 200);
    assert!(api.content_type().contains("openapi"));
    let api = api.json();
    let params = api["paths"]["/collections/buurten/items"]["get"]["parameters"].to_string();
    for p in ["category", "source", "datetime", "bbox-crs"] {
        assert!(params.contains(p), "{p}");
    }
    let c = get_json(Who::Anonymous, "/ogc/collections/buurten");
    assert_eq!(
        c["storageCrs"],
        "http://www.opengis.net/def/crs/EPSG/0/28992"
    );
    assert_eq!(c["crs"][0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    // Unknown parameters and bad values are 400 naming the parameter.
    for (path, parameter) in [
        ("/ogc/collections/buurten/items?foo=1", "foo"),
        ("/ogc/collections/buurten/items?from=2024-01-01", "from"),
        ("/ogc/collections/buurten/items?limit=0", "limit"),
        ("/ogc/collections/buurten/items?bbox=1,2,3", "bbox"),
        ("/ogc/collections/buurten/items?crs=EPSG:4326", "crs"),
        (
            "/ogc/collections/buurten/items?datetime=gisteren",
            "datetime",
        ),
        ("/ogc/collections/buurten/items?category=geen", "category"),
        ("/ogc/collections/buurten?limit=3", "limit"),
        ("/ogc/conformance?x=1", "x"),
    ] {
        let r = get(Who::Anonymous, path);
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.json()["parameter"], parameter, "{path}");
    }
    assert_eq!(get(Who::Anonymous, "/ogc/collections/geen").status, 404);
    assert_eq!(
        get(Who::Anonymous, "/ogc/collections/buurten/items/BU0000xxxx").status,
        404
    );
}

#[test]
fn pages_link_to_each_other_and_cover_the_collection_once() {
    let first = get_json(Who::Viewer, "/ogc/collections/buurten/items?limit=5");
    let matched = first["numberMatched"].as_u64().unwrap() as usize;
    assert!(matched > 10);
    let mut codes = Vec::new();
    let mut page = first;
    let mut pages = 0;
    loop {
        pages += 1;
        assert_eq!(
            page["numberReturned"].as_u64().unwrap() as usize,
            page["features"].as_array().unwrap().len()
        );
        codes.extend(
            page["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string()),
        );
        let link = |rel: &str| {
            page["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["rel"] == rel)
                .map(|l| l["href"].as_str().unwrap().to_string())
        };
        if pages > 1 {
            assert!(link("prev").is_some());
        }
        let Some(next) = link("next") else { break };
        let path = next
            .strip_prefix(&server().server.base)
            .unwrap()
            .to_string();
        page = get_json(Who::Viewer, &path);
    }
    assert_eq!(pages, matched.div_ceil(5));
    assert_eq!(codes.len(), matched);
    assert_eq!(codes.iter().collect::<BTreeSet<_>>().len(), matched);
    // A limit above the maximum is capped.
    let big = get_json(Who::Viewer, "/ogc/collections/buurten/items?limit=20000");
    assert!(big["links"][0]["href"]
        .as_str()
        .unwrap()
        .contains("limit=10000"));
    assert_eq!(big["numberReturned"].as_u64().unwrap() as usize, matched);
}

#[test]
fn datetime_category_and_source_filter_like_the_statistics_api() {
    let meta = get_json(Who::Anonymous, "/api/meta");
    let last = meta["period"]["last"].as_str().unwrap();
    let first = meta["period"]["first"].as_str().unwrap();
    let source = meta["sources"][0].as_str().unwrap();
    let from = format!("{}-01", &last[..7]);
    for who in [Who::Viewer, Who::Analyst] {
        for (ogc, api) in [
            (
                format!("datetime={from}/{last}&category=inbraak"),
                format!("from={from}&to={last}&category=inbraak"),
            ),
            (
                format!("datetime={first}/..&source={source}"),
                format!("from={first}&source={source}"),
            ),
            (format!("datetime=../{from}"), format!("to={from}")),
            (
                format!("datetime={from}T00:00:00Z"),
                format!("from={from}&to={from}"),
            ),
        ] {
            let o = get_json(who, &format!("/ogc/collections/wijken/items?{ogc}"));
            let a = get_json(who, &format!("/api/stats.geojson?level=wijk&{api}"));
            same_counts(
                &counts_by(o["features"].as_array().unwrap(), "code"),
                &counts_by(a["features"].as_array().unwrap(), "code"),
                &format!("{who:?} {ogc}"),
            );
        }
    }
}

#[test]
fn geometry_comes_in_the_crs_asked_for_and_boxes_in_any_crs() {
    let t = Transformer::new().unwrap();
    let path = "/ogc/collections/buurten/items?limit=3";
    let crs84 = get(Who::Viewer, path);
    assert_eq!(
        crs84.header("content-crs"),
        Some("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>")
    );
    for (uri, to_rd) in [
        ("http://www.opengis.net/def/crs/EPSG/0/28992", 0),
        ("http://www.opengis.net/def/crs/EPSG/0/3857", 1),
    ] {
        let r = get(Who::Viewer, &format!("{path}&crs={uri}"));
        assert_eq!(r.header("content-crs"), Some(format!("<{uri}>").as_str()));
        let a = crs84.json();
        let b = r.json();
        for (fa, fb) in a["features"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["features"].as_array().unwrap())
        {
            assert_eq!(fa["id"], fb["id"]);
            let pa = &fa["geometry"]["coordinates"][0][0][0];
            let pb = &fb["geometry"]["coordinates"][0][0][0];
            let (x, y) = t
                .wgs84_to_rd(pa[0].as_f64().unwrap(), pa[1].as_f64().unwrap())
                .unwrap();
            let (x, y) = if to_rd == 0 {
                (x, y)
            } else {
                t.rd_to_web_mercator(x, y).unwrap()
            };
            // CRS84 is written to 7 decimals (about 1 cm): the same vertex within 5 cm.
            assert!((x - pb[0].as_f64().unwrap()).abs() < 0.05, "{uri} x");
            assert!((y - pb[1].as_f64().unwrap()).abs() < 0.05, "{uri} y");
        }
    }
    // The same box in RD selects the same buurten as in CRS84, apart from its curved edges (none here).
    let b = centre_box(0.004);
    let (x0, y0) = t.wgs84_to_rd(b[0], b[1]).unwrap();
    let (x1, y1) = t.wgs84_to_rd(b[2], b[3]).unwrap();
    let inner = [
        x0.max(t.wgs84_to_rd(b[0], b[3]).unwrap().0),
        y0.max(t.wgs84_to_rd(b[2], b[1]).unwrap().1),
        x1,
        y1,
    ];
    let rd_box = inner.map(|v| format!("{v:.1}")).join(",");
    let by_rd = get_json(
        Who::Viewer,
        &format!(
            "/ogc/collections/buurten/items?bbox={rd_box}&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/28992"
        ),
    );
    let all_crs84 = get_json(
        Who::Viewer,
        &format!(
            "/ogc/collections/buurten/items?bbox={}",
            b.map(|v| v.to_string()).join(",")
        ),
    );
    let ids = |v: &Value| -> BTreeSet<String> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    // The RD box lies inside the CRS84 box: its buurten are a non-empty subset.
    assert!(!ids(&by_rd).is_empty());
    assert!(ids(&by_rd).is_subset(&ids(&all_crs84)));
}

#[test]
fn qgis_reads_the_buurten_with_the_viewers_protected_counts() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ogc/qgis_oapif.py");
    // Qt wants a private runtime directory (mode 0700, as tempfile makes them).
    let runtime = tempfile::tempdir().unwrap();
    let mut mode = std::fs::metadata(runtime.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o700);
    std::fs::set_permissions(runtime.path(), mode).unwrap();
    let out = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(format!("{}/ogc", server().server.base))
        .arg("buurten")
        .arg(token(Who::Viewer).unwrap())
        .arg("10")
        .env("QT_QPA_PLATFORM", "offscreen")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "QGIS (Debian package python3-qgis): {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no answer from QGIS: {stdout}"));
    let q: Value = serde_json::from_str(line).unwrap();
    assert_eq!(q["valid"], true, "{q}");
    let api = get_json(Who::Viewer, "/api/stats.geojson?level=buurt");
    let api_features = api["features"].as_array().unwrap();
    assert_eq!(q["count"].as_u64().unwrap() as usize, api_features.len());
    let qgis: BTreeMap<String, Value> = q["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap().to_string(), f["count"].clone()))
        .collect();
    same_counts(&qgis, &counts_by(api_features, "code"), "QGIS buurten");
    assert!(
        qgis.values().any(Value::is_null),
        "a withheld count reaches QGIS as NULL"
    );
}

#[test]
fn the_statistics_export_as_flatgeobuf_reads_back_in_gdal_with_the_same_counts() {
    for who in [Who::Analyst, Who::Viewer] {
        let r = get(who, "/api/stats.fgb?level=wijk&category=inbraak");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.content_type(), "application/flatgeobuf");
        let dir = tempfile::tempdir().unwrap();
        let fgb = dir.path().join("wijken.fgb");
        std::fs::write(&fgb, &r.body).unwrap();
        let info = gdal(
            "ogrinfo",
            Who::Anonymous,
            &["-ro", "-so", "-al", fgb.to_str().unwrap()],
        );
        assert!(
            info.contains("FlatGeobuf") || info.contains("wijken"),
            "{info}"
        );
        assert!(info.contains("28992"), "RD New: {info}");
        let out = dir.path().join("wijken.geojson");
        gdal(
            "ogr2ogr",
            Who::Anonymous,
            &[
                "-f",
                "GeoJSON",
                out.to_str().unwrap(),
                fgb.to_str().unwrap(),
            ],
        );
        let ogr = read_features(&out);
        let api = get_json(who, "/api/stats.geojson?level=wijk&category=inbraak");
        same_counts(
            &counts_by(&ogr, "code"),
            &counts_by(api["features"].as_array().unwrap(), "code"),
            &format!("{who:?} stats.fgb"),
        );
    }
}
