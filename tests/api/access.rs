//! Access control of the real server: the leak test matrix (every path of `/api/openapi.json` plus every tile
//! layer, `/wms` and `/bi/tableau.tms`, for nine principals of two tenants), the audit log of address-level
//! access, the viewer limits of surfaces and the custom-area ownership rules. The leak matrix runs twice: on the
//! SQLite store and on the same store copied into PostgreSQL (`brandpunt store copy`), served as the serving
//! role under row-level security.
//!
//! The store: the small demo city split in two tenants. Tenant `default` (public, anonymous callers are its
//! viewers) covers gemeente GM1999, tenant `buurstad` GM1998; the incidents located in GM1998 belong to
//! `buurstad` (their registrations prefixed `BS-`), so each tenant has its own data, areas and custom area.
//! Oracles: the store itself (SQL counts, the tenant's registrations and area codes), an independent MVT
//! decoder and the CLI's `audit verify`.

use crate::common::demo::{cli_ok, demo_copy};
use crate::common::mvt;
use crate::common::server::{self as srv, Resp};
use brandpunt::access::Role;
use brandpunt::area_level::AreaLevel;
use brandpunt::coords::Transformer;
use brandpunt::store::{PrivacyStore, SqliteStore, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const A: &str = "default";
const B: &str = "buurstad";
const B_NAME: &str = "Samenwerking Buurstad";
const A_CUSTOM: &str = "Eigen gebied Zuidhoek";
const B_CUSTOM: &str = "Eigen gebied Noordrand";

/// The codes of group `inbraak`, as granted to analyst A (read from the library's category table).
fn inbraak() -> BTreeSet<String> {
    brandpunt::category::expand_filter("inbraak")
        .into_iter()
        .collect()
}

/// What the matrix needs to know about one tenant, all read from the store.
#[derive(Default)]
struct TenantData {
    /// Area codes of its gemeente, wijken, buurten and its custom area.
    codes: Vec<String>,
    /// Area names that occur only in this tenant (not a substring of any name of the other).
    names: Vec<String>,
    registrations: Vec<String>,
    /// Web mercator position of a located incident of a granted (`inbraak`) category, and of any category.
    inbraak_point: (f64, f64),
}

/// A principal of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    ViewerA,
    AnalystA,
    AdminA,
    DeliveryA,
    ViewerB,
    AnalystB,
    Revoked,
    Malformed,
}

impl Who {
    const ALL: [Who; 9] = [
        Who::Anonymous,
        Who::ViewerA,
        Who::AnalystA,
        Who::AdminA,
        Who::DeliveryA,
        Who::ViewerB,
        Who::AnalystB,
        Who::Revoked,
        Who::Malformed,
    ];
    fn tenant(self) -> Option<&'static str> {
        match self {
            Who::Anonymous | Who::ViewerA | Who::AnalystA | Who::AdminA | Who::DeliveryA => Some(A),
            Who::ViewerB | Who::AnalystB => Some(B),
            Who::Revoked | Who::Malformed => None,
        }
    }
    fn bad_credentials(self) -> bool {
        matches!(self, Who::Revoked | Who::Malformed)
    }
    /// May see aggregates (everyone with valid credentials but the delivery token).
    fn aggregates(self) -> bool {
        !self.bad_credentials() && self != Who::DeliveryA
    }
    /// May see address-level data.
    fn address_level(self) -> bool {
        matches!(self, Who::AnalystA | Who::AdminA | Who::AnalystB)
    }
}

struct World {
    _dir: tempfile::TempDir,
    server: srv::Server,
    tokens: BTreeMap<&'static str, String>,
    a: TenantData,
    b: TenantData,
}

impl World {
    fn auth(&self, who: Who) -> Vec<(&'static str, String)> {
        let key = match who {
            Who::Anonymous => return vec![],
            Who::Malformed => return vec![("Authorization", "Bearer bp_kapot".to_string())],
            Who::ViewerA => "viewer_a",
            Who::AnalystA => "analyst_a",
            Who::AdminA => "admin_a",
            Who::DeliveryA => "delivery_a",
            Who::ViewerB => "viewer_b",
            Who::AnalystB => "analyst_b",
            Who::Revoked => "revoked",
        };
        vec![srv::bearer(&self.tokens[key])]
    }

    fn call(&self, who: Who, method: &str, path: &str, body: Option<&str>) -> Resp {
        let h = self.auth(who);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if path == "/api/deliveries" {
            // A multipart upload of a file that is no delivery: refused before or after the permission check.
            let boundary = "----access-matrix";
            let body = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\npolitie\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\ngeen levering\r\n--{boundary}--\r\n"
            );
            let mut req = ureq::post(&format!("{}{path}", self.server.base)).set(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            );
            for (k, v) in &h {
                req = req.set(k, v);
            }
            return srv::finish(req.send_string(&body), "upload");
        }
        srv::request(method, &format!("{}{path}", self.server.base), &h, body)
    }
}

/// A police delivery (`Registratienummer;Pleegdatum begin;...`) of 40 incidents at BAG addresses in Buurdorp
/// (GM1998), registrations `BD-2024-0001`..., four categories (every fourth a burglary 1.1.1).
fn buurdorp_delivery(db: &Path) -> String {
    let s = SqliteStore::open(db).unwrap();
    let addresses: Vec<(String, i64, String)> = s
        .connection()
        .prepare(
            "SELECT street, huisnummer, postcode FROM address WHERE woonplaats = 'Buurdorp' \
             AND huisletter IS NULL AND toevoeging IS NULL ORDER BY bag_id LIMIT 40",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(addresses.len(), 40);
    let cats = [
        "1.1.1 Diefstal/inbraak woning",
        "1.2.3 Diefstal van brom-, snor-, fietsen",
        "1.4.5 Mishandeling",
        "2.2.1 Vernieling cq. zaakbeschadiging",
    ];
    let mut out = String::from(
        "Registratienummer;Pleegdatum begin;Pleegtijd begin;Pleegdatum eind;Pleegtijd eind;\
         Maatschappelijke klasse;Straat;Huisnummer;Huisletter;Toevoeging;Postcode;Plaats;X;Y;Buurtcode\r\n",
    );
    for (k, (street, nr, postcode)) in addresses.iter().enumerate() {
        let day = 1 + k % 28;
        out.push_str(&format!(
            "BD-2024-{:04};{day:02}-08-2024;21:15;;;{};{street};{nr};;;{postcode};Buurdorp;;;\r\n",
            k + 1,
            cats[k % 4]
        ));
    }
    out
}

/// The tenant data of `tenant` from the store.
fn tenant_data(db: &Path, tenant: &str, gemeente: &str, custom_code: String) -> TenantData {
    let s = SqliteStore::open(db).unwrap();
    let conn = s.connection();
    let mut codes: Vec<String> = conn
        .prepare("SELECT code FROM area WHERE code = ?1 OR code LIKE ?2 OR code LIKE ?3")
        .unwrap()
        .query_map(
            [
                gemeente.to_string(),
                format!("WK{}%", &gemeente[2..]),
                format!("BU{}%", &gemeente[2..]),
            ],
            |r| r.get(0),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    codes.sort();
    codes.dedup();
    codes.push(custom_code);
    let registrations: Vec<String> = conn
        .prepare("SELECT registration FROM incident i JOIN tenant t ON t.id = i.tenant_id WHERE t.code = ?1")
        .unwrap()
        .query_map([tenant], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let grant: Vec<String> = inbraak().into_iter().collect();
    let (x, y): (f64, f64) = conn
        .query_row(
            &format!(
                "SELECT x, y FROM incident i JOIN tenant t ON t.id = i.tenant_id WHERE t.code = ?1 \
                 AND x IS NOT NULL AND category_code IN ({}) ORDER BY i.id LIMIT 1",
                grant
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            [tenant],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let t = Transformer::new().unwrap();
    TenantData {
        codes,
        names: vec![],
        registrations,
        inbraak_point: t.rd_to_web_mercator(x, y).unwrap(),
    }
}

fn area_names(db: &Path, gemeente: &str) -> Vec<String> {
    let s = SqliteStore::open(db).unwrap();
    let mut out = vec![];
    for level in [AreaLevel::Gemeente, AreaLevel::Wijk, AreaLevel::Buurt] {
        for a in s.areas(level, None).unwrap() {
            if a.gemeentecode == gemeente {
                out.push(a.name);
            }
        }
    }
    out
}

/// Where the leak matrix's server keeps its data.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Sqlite,
    /// The two-tenant SQLite store copied with `brandpunt store copy` into a new PostgreSQL database of the
    /// test cluster (as its owner `brandpunt`), served as the documented serving role `brandpunt_app` (not the
    /// owner, no superuser, row-level security applies).
    Postgres,
}

/// The two-tenant store and the server with `--public-tenant default`, on `backend`.
fn world(backend: Backend) -> World {
    let (dir, db) = demo_copy();
    let mut tokens = BTreeMap::new();
    let (a_custom, b_custom);
    {
        let mut s = SqliteStore::open(&db).unwrap();
        let gemeenten: Vec<String> = s
            .areas(AreaLevel::Gemeente, None)
            .unwrap()
            .into_iter()
            .map(|a| a.code)
            .collect();
        assert_eq!(gemeenten, vec!["GM1998", "GM1999"], "the small demo city");
        s.set_tenant_gemeenten(A, &["GM1999".into()]).unwrap();
        s.add_tenant(B, B_NAME).unwrap();
        s.set_tenant_gemeenten(B, &["GM1998".into()]).unwrap();
        // One custom area per tenant: a buurt of its own gemeente, drawn by its analyst.
        let buurten = s.areas(AreaLevel::Buurt, None).unwrap();
        let of = |g: &str| {
            buurten
                .iter()
                .find(|b| b.gemeentecode == g)
                .unwrap()
                .geometry
                .clone()
        };
        a_custom = s
            .insert_custom_area_by(A, A_CUSTOM, &of("GM1999"), Some("analyst_a"))
            .unwrap();
        b_custom = s
            .insert_custom_area_by(B, B_CUSTOM, &of("GM1998"), Some("analyst_b"))
            .unwrap();
    }
    tokens.insert(
        "viewer_a",
        srv::user_token(&db, A, "viewer_a", Role::Viewer, &["*"]),
    );
    tokens.insert(
        "analyst_a",
        srv::user_token(&db, A, "analyst_a", Role::Analyst, &["inbraak"]),
    );
    tokens.insert(
        "admin_a",
        srv::user_token(&db, A, "admin_a", Role::Admin, &["*"]),
    );
    tokens.insert("delivery_a", srv::delivery_token(&db, A, "politie"));
    tokens.insert(
        "viewer_b",
        srv::user_token(&db, B, "viewer_b", Role::Viewer, &["*"]),
    );
    tokens.insert(
        "analyst_b",
        srv::user_token(&db, B, "analyst_b", Role::Analyst, &["*"]),
    );
    let revoked = srv::user_token(&db, A, "revoked_a", Role::Admin, &["*"]);
    {
        let mut s = SqliteStore::open(&db).unwrap();
        let id = brandpunt::access::parse_token(&revoked)
            .unwrap()
            .id
            .to_string();
        assert!(s.revoke_token(&id).unwrap());
    }
    tokens.insert("revoked", revoked);
    // Buurstad's own incidents: a police delivery (published CSV format) at addresses in GM1998, uploaded with
    // buurstad's delivery token (on PostgreSQL imported into the SQLite store before the copy).
    let csv = buurdorp_delivery(&db);
    let server = match backend {
        Backend::Sqlite => {
            let server = srv::start(&db, &["--public-tenant", A]);
            let up = srv::upload_delivery(
                &server.base,
                &srv::delivery_token(&db, B, "politie"),
                "politie",
                "politie_buurstad.csv",
                csv.as_bytes(),
            );
            assert_eq!(up.status, 200, "{}", up.text());
            server
        }
        Backend::Postgres => {
            let file = dir.path().join("politie_buurstad.csv");
            std::fs::write(&file, &csv).unwrap();
            cli_ok(
                &db,
                &[
                    "import",
                    "incidents",
                    file.to_str().unwrap(),
                    "--source",
                    "politie",
                    "--tenant",
                    B,
                    "--report",
                    dir.path().join("rapport.csv").to_str().unwrap(),
                ],
            );
            let c = crate::postgres_cluster::cluster();
            let database = c.database();
            c.psql(
                "brandpunt",
                &database,
                "ALTER DEFAULT PRIVILEGES FOR ROLE brandpunt GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO brandpunt_app;
                 ALTER DEFAULT PRIVILEGES FOR ROLE brandpunt GRANT USAGE, SELECT ON SEQUENCES TO brandpunt_app;",
            );
            let owner = c.url("brandpunt", &database);
            cli_ok(
                &db,
                &[
                    "store",
                    "copy",
                    "--from",
                    db.to_str().unwrap(),
                    "--to",
                    &owner,
                ],
            );
            srv::start(
                Path::new(&c.url("brandpunt_app", &database)),
                &["--public-tenant", A],
            )
        }
    };
    let mut a = tenant_data(&db, A, "GM1999", format!("custom:{a_custom}"));
    let mut b = tenant_data(&db, B, "GM1998", format!("custom:{b_custom}"));
    let (na, nb) = (area_names(&db, "GM1999"), area_names(&db, "GM1998"));
    let unique = |mine: &[String], other: &[String]| -> Vec<String> {
        mine.iter()
            .filter(|n| n.len() >= 5 && !other.iter().any(|o| o.contains(n.as_str())))
            .cloned()
            .collect()
    };
    a.names = unique(&na, &nb);
    b.names = unique(&nb, &na);
    a.names.push(A_CUSTOM.into());
    b.names.push(B_CUSTOM.into());
    b.names.push(B_NAME.into());
    assert!(b.names.len() > 3 && a.names.len() > 3);
    assert!(b.registrations.len() >= 30, "buurstad has its incidents");
    World {
        _dir: dir,
        server,
        tokens,
        a,
        b,
    }
}

/// The first text in `body` that belongs to `other` (a registration, an area code or name), if any. Texts the
/// caller sent itself (`request`: path and body; a 404 may repeat the unknown code) do not count.
fn leaked(body: &str, request: &str, other: &TenantData, other_code: &str) -> Option<String> {
    let texts = other
        .registrations
        .iter()
        .chain(&other.codes)
        .chain(&other.names);
    for t in texts {
        if body.contains(t.as_str()) && !request.contains(t.as_str()) {
            return Some(t.clone());
        }
    }
    // The other tenant's code as a tenant value or parameter.
    [
        format!("\"tenant\":\"{other_code}\""),
        format!("tenant={other_code}"),
    ]
    .into_iter()
    .find(|pat| body.contains(pat.as_str()))
}

/// The XML parts of an `.xlsx` workbook (a zip archive, read through its central directory; stored or deflated
/// entries), concatenated: the texts a leak check searches.
fn xlsx_text(zip: &[u8]) -> String {
    use std::io::Read;
    let u16_at = |p: usize| u16::from_le_bytes([zip[p], zip[p + 1]]) as usize;
    let u32_at =
        |p: usize| u32::from_le_bytes([zip[p], zip[p + 1], zip[p + 2], zip[p + 3]]) as usize;
    let eocd = (0..=zip.len().saturating_sub(22))
        .rev()
        .find(|&p| u32_at(p) == 0x0605_4b50)
        .expect("a zip archive");
    let mut out = String::new();
    let mut p = u32_at(eocd + 16);
    for _ in 0..u16_at(eocd + 10) {
        assert_eq!(u32_at(p), 0x0201_4b50, "zip central directory");
        let (method, size, name_len) = (u16_at(p + 10), u32_at(p + 20), u16_at(p + 28));
        let local = u32_at(p + 42);
        let start = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        let data = &zip[start..start + size];
        let mut part = Vec::new();
        if method == 8 {
            flate2::read::DeflateDecoder::new(data)
                .read_to_end(&mut part)
                .unwrap();
        } else {
            part.extend_from_slice(data);
        }
        out.push_str(&String::from_utf8_lossy(&part));
        p += 46 + name_len + u16_at(p + 30) + u16_at(p + 32);
    }
    out
}

/// Point features in a GeoJSON document (anywhere in it).
fn geojson_points(v: &Value) -> usize {
    match v {
        Value::Object(m) => {
            let own = usize::from(m.get("type") == Some(&json!("Point")));
            own + m.values().map(geojson_points).sum::<usize>()
        }
        Value::Array(a) => a.iter().map(geojson_points).sum(),
        _ => 0,
    }
}

/// Point features and the `incidents` layer's categories in an MVT tile.
fn mvt_points(body: &[u8]) -> (usize, bool, Vec<String>) {
    let tile = mvt::decode(body);
    let mut points = 0;
    let mut cats = vec![];
    let mut incidents_layer = false;
    for layer in &tile.layers {
        incidents_layer |= layer.name == "incidents";
        for f in &layer.features {
            if f.r#type == Some(1) {
                points += 1;
                if let Some(c) = mvt::properties(layer, f).get("category") {
                    cats.push(c.as_str().to_string());
                }
            }
        }
    }
    (points, incidents_layer, cats)
}

/// A CSV header naming an incident-level column.
fn csv_has_point_columns(text: &str) -> bool {
    let header = text.lines().next().unwrap_or("").to_ascii_lowercase();
    header.split(',').any(|c| {
        matches!(
            c.trim().trim_matches('"'),
            "registration" | "lon" | "lat" | "x" | "y" | "street" | "huisnummer" | "postcode"
        )
    })
}

/// One request of the matrix.
struct Probe {
    method: &'static str,
    path: String,
    body: Option<String>,
    /// Address-level output (only for analysts/admins).
    address_level: bool,
    /// Open to everyone (health, metrics, OpenAPI).
    open: bool,
    /// Refers to an area/custom area of this tenant (`None`: no tenant-specific code).
    owner: Option<&'static str>,
    /// A surface deeper than the viewer zoom limit.
    deep_surface: bool,
    /// Mutating (custom area write, upload): only sent with codes of the other tenant or invalid bodies.
    write: bool,
}

fn tile_of(z: u8, (mx, my): (f64, f64)) -> (u32, u32) {
    let t = brandpunt::tiles::TileId::containing(z, mx, my);
    (t.x, t.y)
}

/// The names of the parameters `op` declares in the OpenAPI document `doc` (`$ref`s resolved).
fn declared_parameters(doc: &Value, op: &Value) -> BTreeSet<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let p = match p["$ref"].as_str() {
                Some(r) => r
                    .trim_start_matches("#/")
                    .split('/')
                    .fold(doc, |v, part| &v[part]),
                None => p,
            };
            p["name"].as_str().map(str::to_string)
        })
        .collect()
}

/// Every probe: the OpenAPI paths with their path parameters filled with codes of A and of B, every tile layer
/// (MVT and PNG) on tiles with data of A and of B, WMS and Tableau.
fn probes(w: &World, doc: &Value) -> Vec<Probe> {
    let mut out = vec![];
    let layers: Vec<String> = doc["paths"]["/tiles/{layer}/{z}/{x}/{y}.mvt"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "layer")
        .and_then(|p| p["schema"]["enum"].as_array())
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(layers.contains(&"incidents".to_string()));
    let raster = ["kde", "hotspots", "buurten"];
    // Query parameters a probe adds when its operation declares them (some operations refuse parameters they
    // do not take).
    let query = [
        ("month", "2024-09"),
        ("day", "fri"),
        ("from_hour", "20"),
        ("to_hour", "2"),
        ("x", "cbs:aantal_inwoners"),
        ("y", "count"),
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            if path == "/api/compare" {
                // Needs a body naming areas: the probes for it are added below.
                continue;
            }
            let method_uc: &'static str = match method.as_str() {
                "get" => "GET",
                "post" => "POST",
                "put" => "PUT",
                _ => "DELETE",
            };
            let open = matches!(
                path.as_str(),
                "/healthz" | "/readyz" | "/metrics" | "/api/openapi.json"
            );
            let address_level = path.starts_with("/api/incidents");
            if path.contains("{layer}") {
                // Tiles and TileJSON: every layer on a tile with A's and with B's data.
                let png = path.ends_with(".png");
                for layer in layers.iter().map(String::as_str) {
                    if png && !raster.contains(&layer) {
                        continue;
                    }
                    if path == "/tiles/{layer}.json" {
                        out.push(Probe {
                            method: "GET",
                            path: format!("/tiles/{layer}.json"),
                            body: None,
                            address_level: layer == "incidents",
                            open: false,
                            owner: None,
                            deep_surface: false,
                            write: false,
                        });
                        continue;
                    }
                    let ext = if png { "png" } else { "mvt" };
                    for data in [&w.a, &w.b] {
                        for z in [12u8, 15, 17] {
                            let (x, y) = tile_of(z, data.inbraak_point);
                            let surface = png || ["hotspots", "emerging", "kde"].contains(&layer);
                            out.push(Probe {
                                method: "GET",
                                path: format!("/tiles/{layer}/{z}/{x}/{y}.{ext}"),
                                body: None,
                                address_level: layer == "incidents",
                                open: false,
                                owner: None,
                                deep_surface: surface && z > 16,
                                write: false,
                            });
                        }
                    }
                }
                continue;
            }
            let fills: Vec<(String, Option<&'static str>)> = if path.contains("{code}") {
                let mut f = vec![];
                for (data, t) in [(&w.a, A), (&w.b, B)] {
                    // The gemeente, the first wijk and buurt, and the custom area.
                    let pick: Vec<&String> = ["GM", "WK", "BU", "custom:"]
                        .iter()
                        .filter_map(|p| data.codes.iter().find(|c| c.starts_with(p)))
                        .collect();
                    for c in pick {
                        f.push((path.replace("{code}", c), Some(t)));
                    }
                }
                f
            } else {
                vec![(path.clone(), None)]
            };
            for (p, owner) in fills {
                let write = method_uc != "GET" && path != "/api/compare";
                if write && owner == Some(A) {
                    // Writes on A's own areas are tested in custom_areas_belong_to_their_creator.
                    continue;
                }
                let body = match path.as_str() {
                    "/api/compare" => None,
                    _ if method_uc == "POST" || method_uc == "PUT" => Some("{}".to_string()),
                    _ => None,
                };
                let declared = declared_parameters(doc, op);
                let query: Vec<String> = query
                    .iter()
                    .filter(|(k, _)| declared.contains(*k))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let sep = if p.contains('?') { '&' } else { '?' };
                let full = if method_uc == "GET" && p != "/wms" && !query.is_empty() {
                    format!("{p}{sep}{}", query.join("&"))
                } else {
                    p.clone()
                };
                if path == "/wms" {
                    for q in [
                        "SERVICE=WMS&REQUEST=GetCapabilities".to_string(),
                        wms_getmap(w.a.inbraak_point, 13),
                        wms_getmap(w.b.inbraak_point, 13),
                        wms_getmap(w.a.inbraak_point, 18),
                    ] {
                        let deep = q.contains("&Z=18");
                        out.push(Probe {
                            method: "GET",
                            path: format!("/wms?{q}"),
                            body: None,
                            address_level: false,
                            open: false,
                            owner: None,
                            deep_surface: deep,
                            write: false,
                        });
                    }
                    continue;
                }
                out.push(Probe {
                    method: method_uc,
                    path: full,
                    body,
                    address_level,
                    open,
                    owner,
                    deep_surface: false,
                    write,
                });
            }
        }
    }
    // POST /api/compare for each tenant's buurt (the body names the areas).
    for (data, t) in [(&w.a, A), (&w.b, B)] {
        let bu = data.codes.iter().find(|c| c.starts_with("BU")).unwrap();
        out.push(Probe {
            method: "POST",
            path: "/api/compare".into(),
            body: Some(
                json!({"areas": [bu], "from": "2024-08-01", "to": "2024-09-30",
                       "vs_from": "2024-06-01", "vs_to": "2024-07-31"})
                .to_string(),
            ),
            address_level: false,
            open: false,
            owner: Some(t),
            deep_surface: false,
            write: false,
        });
    }
    // Address-level exports narrowed to each tenant's area.
    for (data, t) in [(&w.a, A), (&w.b, B)] {
        for ext in ["geojson", "csv"] {
            out.push(Probe {
                method: "GET",
                path: format!("/api/incidents.{ext}?area={}", data.codes[0]),
                body: None,
                address_level: true,
                open: false,
                owner: Some(t),
                deep_surface: false,
                write: false,
            });
        }
    }
    out
}

/// A 256 x 256 WMS GetMap (EPSG:3857) of the tile of zoom `z` around `point`; `&Z=` marks the zoom.
fn wms_getmap(point: (f64, f64), z: u8) -> String {
    let t = brandpunt::tiles::TileId::containing(z, point.0, point.1);
    let (x0, y0, x1, y1) = t.bounds_m();
    format!(
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=kde,hotspots&STYLES=&CRS=EPSG:3857\
         &BBOX={x0},{y0},{x1},{y1}&WIDTH=256&HEIGHT=256&FORMAT=image/png&Z={z}"
    )
}

/// The allowed statuses of `probe` for `who` (empty = anything but 401/403, checked by the leak detectors).
fn expected(who: Who, probe: &Probe) -> Vec<u16> {
    if probe.open {
        return vec![200];
    }
    // The login endpoints take no credentials: logging in with an empty body is a bad request, logging out
    // always succeeds (it only ends a session, if any).
    if probe.path.starts_with("/api/login") {
        return vec![400];
    }
    if probe.path.starts_with("/api/logout") {
        return vec![204];
    }
    if who.bad_credentials() {
        return vec![401];
    }
    // Who am I: every valid credential, delivery tokens included, learns only its own identity.
    if probe.path == "/api/me" || probe.path.starts_with("/api/me?") {
        return vec![200];
    }
    if probe.path.starts_with("/api/deliveries") {
        // Only admins and delivery tokens may upload; the empty body is then refused as a bad upload.
        return if matches!(who, Who::AdminA | Who::DeliveryA) {
            vec![400]
        } else {
            vec![403]
        };
    }
    if !who.aggregates() {
        return vec![403];
    }
    // The relations network needs the `relations` grant, which no principal of the matrix holds (its positive
    // cases are in `relations.rs`).
    if probe.path.starts_with("/api/relations/") {
        return vec![403];
    }
    // The near-repeat table reveals repeats at single addresses on small areas: analysts and admins only.
    if probe.path.starts_with("/api/near-repeat") && !who.address_level() {
        return vec![403];
    }
    if probe.write {
        // Writes on areas of the other tenant (or invalid bodies): viewers may not write at all; analysts and
        // admins find no such area (PUT validates the body first: 400) or send an invalid new area (400).
        let may_write = matches!(who, Who::AnalystA | Who::AdminA | Who::AnalystB);
        return if !may_write {
            vec![403]
        } else if probe.method == "POST" {
            vec![400]
        } else {
            vec![400, 404]
        };
    }
    if probe.address_level && !who.address_level() {
        return vec![403];
    }
    if probe.deep_surface && !who.address_level() {
        return vec![403];
    }
    match probe.owner {
        Some(t) if Some(t) != who.tenant() => {
            if probe.path.starts_with("/api/compare") {
                vec![400, 404]
            } else {
                vec![404]
            }
        }
        _ => vec![200, 204],
    }
}

#[test]
fn leak_matrix_every_endpoint_every_principal() {
    leak_matrix(Backend::Sqlite);
}

#[test]
fn leak_matrix_every_endpoint_every_principal_on_postgresql() {
    leak_matrix(Backend::Postgres);
}

fn leak_matrix(backend: Backend) {
    let w = world(backend);
    let doc = w
        .call(Who::Anonymous, "GET", "/api/openapi.json", None)
        .json();
    let probes = probes(&w, &doc);
    let mut calls = 0usize;
    let mut failures: Vec<String> = vec![];
    // Positive controls: the detectors must fire for the analysts.
    let (mut analyst_points, mut analyst_geojson_points, mut analyst_csv_columns) = (0, 0, false);
    for probe in &probes {
        for who in Who::ALL {
            if probe.write && probe.owner.is_some() && who.tenant() == probe.owner {
                // Writes on one's own areas are tested in custom_areas_belong_to_their_creator.
                continue;
            }
            let r = w.call(who, probe.method, &probe.path, probe.body.as_deref());
            calls += 1;
            let what = format!("{who:?} {} {}", probe.method, probe.path);
            let allowed = expected(who, probe);
            if !allowed.contains(&r.status) {
                failures.push(format!(
                    "{what}: status {} (expected {allowed:?}) {}",
                    r.status,
                    r.text().chars().take(200).collect::<String>()
                ));
                continue;
            }
            let ctype = r.content_type();
            let text = if ctype.contains("spreadsheetml") {
                // A workbook is a zip: its texts are in the deflated XML parts.
                xlsx_text(&r.body)
            } else if ctype.contains("image/png") || ctype.contains("vector-tile") {
                String::from_utf8_lossy(&r.body).to_string()
            } else {
                r.text()
            };
            // No data, codes or names of the other tenant.
            let other = match who.tenant() {
                Some(t) if t == A => Some((&w.b, B)),
                Some(_) => Some((&w.a, A)),
                None => None,
            };
            if let Some((data, code)) = other {
                let request = format!("{} {}", probe.path, probe.body.as_deref().unwrap_or(""));
                if let Some(l) = leaked(&text, &request, data, code) {
                    failures.push(format!("{what}: contains '{l}' of the other tenant"));
                }
            }
            if who.tenant() == Some(A) && text.contains(B_NAME) {
                failures.push(format!("{what}: names tenant B"));
            }
            if r.status != 200 {
                continue;
            }
            // Points only for analysts, and only of their granted categories.
            let (points, geo_points, csv_points, cats) = if ctype.contains("vector-tile") {
                let (p, layer, cats) = mvt_points(&r.body);
                if layer && !who.address_level() {
                    failures.push(format!("{what}: incidents layer for a {who:?}"));
                }
                (p, 0, false, cats)
            } else if ctype.contains("json") {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                let cats = v["features"]
                    .as_array()
                    .map(|fs| {
                        fs.iter()
                            .filter(|f| f["geometry"]["type"] == "Point")
                            .map(|f| {
                                f["properties"]["category"]
                                    .as_str()
                                    .unwrap_or("")
                                    .to_string()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (0, geojson_points(&v), false, cats)
            } else if ctype.contains("csv") {
                let cats = if probe.address_level {
                    r.text()
                        .lines()
                        .skip(1)
                        .map(|l| l.split(',').nth(4).unwrap_or("").to_string())
                        .collect()
                } else {
                    vec![]
                };
                (0, 0, csv_has_point_columns(&r.text()), cats)
            } else {
                (0, 0, false, vec![])
            };
            if !who.address_level() && (points > 0 || geo_points > 0 || csv_points) {
                failures.push(format!(
                    "{what}: point-level output for a {who:?} ({points} MVT points, {geo_points} GeoJSON points, CSV columns {csv_points})"
                ));
            }
            if who == Who::AnalystA {
                analyst_points += points;
                analyst_geojson_points += geo_points;
                analyst_csv_columns |= csv_points;
                for c in &cats {
                    if !inbraak().contains(c) {
                        failures.push(format!("{what}: category {c} outside the grant"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Positive controls: the analyst of A does get points of the granted category, so the detectors work.
    assert!(analyst_points > 0, "analyst A saw no MVT points");
    assert!(
        analyst_geojson_points > 0,
        "analyst A saw no GeoJSON points"
    );
    assert!(analyst_csv_columns, "analyst A's CSV has no point columns");
    let paths = doc["paths"].as_object().unwrap().len();
    eprintln!(
        "leak matrix ({backend:?}): {} probes ({paths} OpenAPI paths) x {} principals = {calls} calls",
        probes.len(),
        Who::ALL.len()
    );
}

/// Located incidents of `tenant` with a category among `codes`, counted in the store (the oracle).
fn located_count(db: &Path, tenant: &str, codes: &BTreeSet<String>) -> i64 {
    let s = SqliteStore::open(db).unwrap();
    let list = codes
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(",");
    s.connection()
        .query_row(
            &format!(
                "SELECT count(*) FROM incident i JOIN tenant t ON t.id = i.tenant_id WHERE t.code = ?1 \
                 AND i.x IS NOT NULL AND i.y IS NOT NULL AND i.category_code IN ({list})"
            ),
            [tenant],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn address_level_access_is_audited_and_the_chain_verifies() {
    let (dir, db) = demo_copy();
    let analyst = srv::user_token(&db, A, "analist_inbraak", Role::Analyst, &["inbraak"]);
    let server = srv::start(&db, &[]);
    let started = std::time::Instant::now();
    let h = srv::bearer(&analyst);
    let hdr = [(h.0, h.1.as_str())];
    let granted = inbraak();
    let expected = located_count(&db, A, &granted);
    assert!(expected > 0);

    // Exports: one record per request, with the number of incidents returned (= the store's count).
    let g = srv::request(
        "GET",
        &format!("{}/api/incidents.geojson", server.base),
        &hdr,
        None,
    );
    assert_eq!(g.status, 200, "{}", g.text());
    let features = g.json()["features"].as_array().unwrap().clone();
    assert_eq!(features.len() as i64, expected);
    let regs: BTreeSet<String> = features
        .iter()
        .map(|f| {
            f["properties"]["registration"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(regs.len() as i64, expected, "one feature per incident");
    // Address fields for address-located incidents, from the BAG.
    assert!(features
        .iter()
        .any(|f| f["properties"]["located_by"] == "address"
            && f["properties"]["street"].is_string()
            && f["properties"]["postcode"].is_string()));
    let c = srv::request(
        "GET",
        &format!("{}/api/incidents.csv?category=1.1.1", server.base),
        &hdr,
        None,
    );
    assert_eq!(c.status, 200, "{}", c.text());
    let csv_rows = c.text().lines().count() as i64 - 1;
    let one: BTreeSet<String> = ["1.1.1".to_string()].into();
    assert_eq!(csv_rows, located_count(&db, A, &one));
    // Asking only for ungranted categories is refused, and nothing is served (nor logged).
    let refused = srv::request(
        "GET",
        &format!("{}/api/incidents.csv?category=2.2.1", server.base),
        &hdr,
        None,
    );
    assert_eq!(refused.status, 403);

    // Tiles: every z16 tile over the tenant's incidents; the features served are summed into the log.
    let t = Transformer::new().unwrap();
    let s = SqliteStore::open(&db).unwrap();
    let tiles: BTreeSet<(u32, u32)> = s
        .incidents(&brandpunt::store::IncidentFilter {
            tenant: A.into(),
            ..Default::default()
        })
        .unwrap()
        .iter()
        .filter_map(|i| Some((i.x_m?, i.y_m?)))
        .map(|(x, y)| tile_of(16, t.rd_to_web_mercator(x, y).unwrap()))
        .collect();
    let mut served = 0i64;
    for (k, (x, y)) in tiles.iter().enumerate() {
        // Some tiles twice: a tile seen again counts again.
        for _ in 0..(1 + k % 2) {
            let r = srv::request(
                "GET",
                &format!("{}/tiles/incidents/16/{x}/{y}.mvt", server.base),
                &hdr,
                None,
            );
            assert!(r.status == 200 || r.status == 204, "{}", r.status);
            if r.status == 200 {
                let (points, _, cats) = mvt_points(&r.body);
                assert!(cats.iter().all(|c| granted.contains(c)));
                served += points as i64;
            }
        }
    }
    assert!(
        served >= expected,
        "every granted incident served at least once"
    );
    srv::interrupt(&server);

    let s = SqliteStore::open(&db).unwrap();
    let records = s.audit_records(None, None).unwrap();
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.actor == "analist_inbraak")
        .collect();
    let by_endpoint = |e: &str| -> Vec<i64> {
        mine.iter()
            .filter(|r| r.endpoint == e)
            .map(|r| r.records)
            .collect()
    };
    assert_eq!(by_endpoint("GET /api/incidents.geojson"), vec![expected]);
    assert_eq!(
        by_endpoint("GET /api/incidents.csv"),
        vec![located_count(&db, A, &one)]
    );
    let tile_records = by_endpoint("GET /tiles/incidents/{z}/{x}/{y}.mvt");
    // Aggregated: one record per actor, endpoint and filter per flush (every 60 s and at the stop), far fewer
    // than the tile requests, together counting every feature served.
    let requests: usize = (0..tiles.len()).map(|k| 1 + k % 2).sum();
    assert!(!tile_records.is_empty());
    assert!(
        tile_records.len() <= 1 + started.elapsed().as_secs() as usize / 60,
        "{} records for {requests} tiles",
        tile_records.len()
    );
    assert!(tile_records.len() < requests);
    assert_eq!(tile_records.iter().sum::<i64>(), served);
    for r in &mine {
        assert_eq!(r.tenant, A);
        assert_eq!(r.action, "read_incidents");
        // The filter is logged, never the data.
        assert!(r.filter.contains("1.1.1"), "{}", r.filter);
        assert!(!regs.iter().any(|reg| r.filter.contains(reg.as_str())));
    }
    cli_ok(&db, &["audit", "verify"]);
    drop(dir);
}

#[test]
fn viewers_get_coarse_surfaces_analysts_the_asked_ones() {
    let (_dir, db) = demo_copy();
    let analyst = srv::user_token(&db, A, "analist-alles", Role::Analyst, &["*"]);
    let viewer = srv::user_token(&db, A, "kijker", Role::Viewer, &["*"]);
    let server = srv::start(&db, &[]);
    let get = |token: &str, path: &str| {
        let h = srv::bearer(token);
        srv::request(
            "GET",
            &format!("{}{path}", server.base),
            &[(h.0, h.1.as_str())],
            None,
        )
    };
    let kde = "/api/hotspots?method=kde&cell=10&bandwidth=60";
    let v = get(&viewer, kde).json();
    assert_eq!(v["cell_m"], json!(50.0));
    assert_eq!(v["bandwidth_m"], json!(200.0));
    let a = get(&analyst, kde).json();
    assert_eq!(a["cell_m"], json!(10.0));
    assert_eq!(a["bandwidth_m"], json!(60.0));
    // Without a bandwidth the viewer's is at least 200 m too.
    let v = get(&viewer, "/api/hotspots?method=kde").json();
    assert!(v["bandwidth_m"].as_f64().unwrap() >= 200.0);
    for (bins, coarse) in [
        ("grid:25", "grid:50"),
        ("h3:11", "h3:10"),
        ("buurt", "buurt"),
    ] {
        let v = get(&viewer, &format!("/api/hotspots?method=gistar&bins={bins}")).json();
        assert_eq!(v["bins"], coarse);
        let a = get(
            &analyst,
            &format!("/api/hotspots?method=gistar&bins={bins}"),
        )
        .json();
        assert_eq!(a["bins"], bins);
    }
    // The viewer's finest grid cells are 50 m wide (the Gi* cell polygons, in degrees, are compared with
    // 50 m at this latitude: wider than 40 m).
    let v = get(&viewer, "/api/hotspots?method=gistar&bins=grid:25").json();
    let ring = &v["features"][0]["geometry"]["coordinates"][0][0];
    let lons: Vec<f64> = ring
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_f64().unwrap())
        .collect();
    let width_deg = lons.iter().cloned().fold(f64::MIN, f64::max)
        - lons.iter().cloned().fold(f64::MAX, f64::min);
    let lat = ring[0][1].as_f64().unwrap();
    let width_m = width_deg * 111_320.0 * lat.to_radians().cos();
    assert!(width_m > 40.0, "{width_m} m");
    // Zoom limit: z16 yes, z17 no, for the viewer; the analyst gets both.
    let m = get(&viewer, "/api/meta").json();
    let c = (
        m["center"][0].as_f64().unwrap(),
        m["center"][1].as_f64().unwrap(),
    );
    let merc = Transformer::new().unwrap();
    let rd = merc.wgs84_to_rd(c.0, c.1).unwrap();
    let p = merc.rd_to_web_mercator(rd.0, rd.1).unwrap();
    for (z, viewer_status) in [(16u8, 200u16), (17, 403)] {
        let (x, y) = tile_of(z, p);
        for layer in ["kde", "hotspots", "buurten"] {
            let path = format!("/tiles/{layer}/{z}/{x}/{y}.png");
            assert_eq!(get(&viewer, &path).status, viewer_status, "{path}");
            assert_eq!(get(&analyst, &path).status, 200, "{path}");
        }
        for layer in ["kde", "hotspots", "emerging"] {
            let path = format!("/tiles/{layer}/{z}/{x}/{y}.mvt");
            let s = get(&viewer, &path).status;
            if viewer_status == 403 {
                assert_eq!(s, 403, "{path}");
            } else {
                assert!(s == 200 || s == 204, "{path}: {s}");
            }
        }
        let wms = wms_getmap(p, z);
        assert_eq!(get(&viewer, &format!("/wms?{wms}")).status, viewer_status);
        assert_eq!(get(&analyst, &format!("/wms?{wms}")).status, 200);
    }
    // TileJSON tells the viewer the limit and does not offer the incidents layer.
    assert_eq!(get(&viewer, "/tiles/kde.json").json()["maxzoom"], 16);
    assert_eq!(get(&viewer, "/tiles/incidents.json").status, 403);
    assert_eq!(get(&analyst, "/tiles/incidents.json").status, 200);
    let layers = |t: &str| get(t, "/api/meta").json()["layers"].clone();
    assert!(!layers(&viewer)
        .as_array()
        .unwrap()
        .contains(&json!("incidents")));
    assert!(layers(&analyst)
        .as_array()
        .unwrap()
        .contains(&json!("incidents")));
}

#[test]
fn custom_areas_belong_to_their_creator() {
    let (_dir, db) = demo_copy();
    let ann = srv::user_token(&db, A, "ann", Role::Analyst, &[]);
    let bob = srv::user_token(&db, A, "bob", Role::Analyst, &[]);
    let admin = srv::user_token(&db, A, "beheer", Role::Admin, &[]);
    let viewer = srv::user_token(&db, A, "kijker", Role::Viewer, &[]);
    {
        let mut s = SqliteStore::open(&db).unwrap();
        s.add_tenant(B, B_NAME).unwrap();
    }
    let other = srv::user_token(&db, B, "anders", Role::Admin, &["*"]);
    let server = srv::start(&db, &[]);
    let call = |token: &str, method: &str, path: &str, body: Option<&str>| {
        let h = srv::bearer(token);
        srv::request(
            method,
            &format!("{}{path}", server.base),
            &[(h.0, h.1.as_str())],
            body,
        )
    };
    // A small square around the first buurt's first vertex... inside the municipality: the buurt itself.
    let s = SqliteStore::open(&db).unwrap();
    let buurt = s.areas(AreaLevel::Buurt, None).unwrap().remove(0);
    let g = call(&ann, "GET", &format!("/api/areas/{}", buurt.code), None).json();
    let feature = |name: &str| {
        json!({"type": "Feature", "properties": {"name": name}, "geometry": g["geometry"]})
            .to_string()
    };
    assert_eq!(
        call(&viewer, "POST", "/api/areas", Some(&feature("x"))).status,
        403
    );
    let r = call(&ann, "POST", "/api/areas", Some(&feature("Van Ann")));
    assert_eq!(r.status, 201, "{}", r.text());
    let code = r.json()["code"].as_str().unwrap().to_string();
    let id: i64 = code.trim_start_matches("custom:").parse().unwrap();
    let stored = SqliteStore::open(&db).unwrap().custom_areas(A).unwrap();
    let mine = stored.iter().find(|c| c.id == id).unwrap();
    assert_eq!(mine.created_by.as_deref(), Some("ann"));
    let path = format!("/api/areas/{code}");
    // Bob (another analyst) may neither change nor delete it; the viewer neither; the other tenant does not
    // find it.
    assert_eq!(
        call(&bob, "PUT", &path, Some(&feature("Van Bob"))).status,
        403
    );
    assert_eq!(call(&bob, "DELETE", &path, None).status, 403);
    assert_eq!(call(&viewer, "DELETE", &path, None).status, 403);
    assert_eq!(call(&other, "DELETE", &path, None).status, 404);
    assert_eq!(call(&other, "GET", &path, None).status, 404);
    // Ann may change it, the admin may delete it.
    let r = call(&ann, "PUT", &path, Some(&feature("Van Ann, herzien")));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(call(&admin, "DELETE", &path, None).status, 204);
    assert_eq!(call(&ann, "DELETE", &path, None).status, 404);
    // An area without a recorded creator is someone else's: only the admin may delete it.
    let legacy = SqliteStore::open(&db)
        .unwrap()
        .insert_custom_area(A, "Oud gebied", &buurt.geometry)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    let path = format!("/api/areas/custom:{legacy}");
    assert_eq!(call(&ann, "DELETE", &path, None).status, 403);
    assert_eq!(call(&admin, "DELETE", &path, None).status, 204);
}
