//! Per-tenant reloads: a write of one tenant (a custom area through the API, or another process writing to the
//! store) rebuilds that tenant's snapshot only. The other tenants keep theirs, so their tiles keep their ETags and
//! stay in the cache; data changes leave remembered token checks alone, user changes do not. A delivery that only
//! adds or replaces incidents updates its tenant's snapshot with the delivered incidents alone.

use crate::common::demo::demo_copy;
use crate::common::server::{self as srv, Resp};
use brandpunt::access::Role;
use brandpunt::area_level::AreaLevel;
use brandpunt::store::{SqliteStore, Store};
use std::time::{Duration, Instant};

const A: &str = "default";
const B: &str = "tweede";

/// The value of `series` in `/metrics`.
fn metric(base: &str, series: &str) -> f64 {
    let text = srv::request("GET", &format!("{base}/metrics"), &[], None).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from /metrics"))
}

/// The z12 tile that holds the first vertex of gemeente `code`'s boundary (as `token` sees it).
fn tile_of(base: &str, token: &str, code: &str) -> String {
    let g = srv::get_as(base, Some(token), &format!("/api/areas/{code}")).json();
    let mut ring = &g["geometry"]["coordinates"];
    while ring[0].is_array() {
        ring = &ring[0];
    }
    let (lon, lat) = (ring[0].as_f64().unwrap(), ring[1].as_f64().unwrap());
    let (x, y) = brandpunt::coords::wgs84_to_web_mercator(lon, lat);
    let t = brandpunt::tiles::TileId::containing(12, x, y);
    format!("/tiles/buurten/{}/{}/{}.mvt", t.z, t.x, t.y)
}

fn etag(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("etag").expect("an ETag").to_string()
}

#[test]
fn a_write_reloads_its_tenant_only_and_data_changes_keep_token_checks() {
    let (_dir, db) = demo_copy();
    let (a_buurt, b_buurt);
    {
        let mut s = SqliteStore::open(&db).unwrap();
        s.set_tenant_gemeenten(A, &["GM1999".into()]).unwrap();
        s.add_tenant(B, "Tweede Gemeente").unwrap();
        s.set_tenant_gemeenten(B, &["GM1998".into()]).unwrap();
        let buurten = s.areas(AreaLevel::Buurt, None).unwrap();
        let of = |g: &str| buurten.iter().find(|b| b.gemeentecode == g).unwrap();
        a_buurt = of("GM1999").code.clone();
        b_buurt = of("GM1998").geometry.clone();
    }
    let analyst_a = srv::user_token(&db, A, "analyst_a", Role::Analyst, &["*"]);
    let analyst_b = srv::user_token(&db, B, "analyst_b", Role::Analyst, &["*"]);
    let server = srv::start(&db, &[]);
    let base = server.base.as_str();
    let tile_a = tile_of(base, &analyst_a, "GM1999");
    let tile_b = tile_of(base, &analyst_b, "GM1998");
    let get_a = || srv::get_as(base, Some(&analyst_a), &tile_a);
    let get_b = || srv::get_as(base, Some(&analyst_b), &tile_b);
    let (a0, b0) = (etag(&get_a()), etag(&get_b()));
    let reloads0 = metric(base, "brandpunt_tenant_reloads_total");
    let tile_hits = || metric(base, "brandpunt_cache_hits_total{cache=\"vector_tile\"}");

    // A custom area drawn by tenant A's analyst: A is rebuilt, B keeps its snapshot and its cached tile.
    let g = srv::get_as(base, Some(&analyst_a), &format!("/api/areas/{a_buurt}")).json();
    let area = serde_json::json!({"type": "Feature", "properties": {"name": "Torenflats"},
        "geometry": g["geometry"]})
    .to_string();
    let r = srv::request(
        "POST",
        &format!("{base}/api/areas"),
        &[("Authorization", &format!("Bearer {analyst_a}"))],
        Some(&area),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        metric(base, "brandpunt_tenant_reloads_total"),
        reloads0 + 1.0
    );
    let a1 = etag(&get_a());
    assert_ne!(a1, a0, "tenant A has a new snapshot");
    let hits = tile_hits();
    assert_eq!(etag(&get_b()), b0, "tenant B kept its snapshot");
    assert_eq!(tile_hits(), hits + 1.0, "and its tile stayed cached");

    // Another process writes tenant B's data: the change watcher rebuilds B only (A's snapshot already holds
    // the server's own write, so it is not read again).
    let remembered = metric(base, "brandpunt_token_cache_entries");
    assert!(remembered >= 2.0, "both analysts' tokens are remembered");
    SqliteStore::open(&db)
        .unwrap()
        .insert_custom_area(B, "Haven", &b_buurt)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let b2 = loop {
        let e = etag(&get_b());
        if e != b0 {
            break e;
        }
        assert!(Instant::now() < deadline, "the change was never noticed");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_ne!(b2, b0);
    assert_eq!(etag(&get_a()), a1, "tenant A kept its snapshot");
    assert_eq!(
        metric(base, "brandpunt_tenant_reloads_total"),
        reloads0 + 2.0
    );
    assert_eq!(
        metric(base, "brandpunt_token_cache_entries"),
        remembered,
        "a data change forgets no token check"
    );

    // A user change is an access change: remembered token checks are forgotten.
    brandpunt::store::PrivacyStore::disable_user(&mut SqliteStore::open(&db).unwrap(), "analyst_b")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(base, "brandpunt_token_cache_entries") > 0.0 {
        assert!(
            Instant::now() < deadline,
            "the user change was never noticed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get_b().status, 401, "the disabled user's token is refused");
    assert_eq!(
        metric(base, "brandpunt_tenant_reloads_total"),
        reloads0 + 2.0,
        "a user change reloads no data"
    );
}

/// The sum of the cell counts of an incident tile (0 when empty).
fn incident_cells(r: &Resp) -> i64 {
    if r.status == 204 {
        return 0;
    }
    assert_eq!(r.status, 200, "{}", r.text());
    let tile = crate::common::mvt::decode(&r.body);
    tile.layers
        .iter()
        .flat_map(|l| {
            l.features
                .iter()
                .map(move |f| crate::common::mvt::properties(l, f)["count"].as_f64() as i64)
        })
        .sum()
}

#[test]
fn a_delivery_imported_while_serving_updates_its_tenant_incrementally() {
    use brandpunt::store::{DeliveryMeta, IncidentFilter, IncidentRecord, LocatedBy};
    let (_dir, db) = demo_copy();
    let near;
    {
        let mut s = SqliteStore::open(&db).unwrap();
        s.set_tenant_gemeenten(A, &["GM1999".into()]).unwrap();
        s.add_tenant(B, "Tweede Gemeente").unwrap();
        s.set_tenant_gemeenten(B, &["GM1998".into()]).unwrap();
        near = s
            .incidents(&IncidentFilter {
                tenant: A.into(),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .find(|i| i.x_m.is_some() && i.buurtcode.is_some())
            .expect("a located incident of tenant A");
    }
    let buurt = near.buurtcode.clone().unwrap();
    let (x_m, y_m) = (near.x_m.unwrap(), near.y_m.unwrap());
    let analyst_a = srv::user_token(&db, A, "analyst_a", Role::Analyst, &["*"]);
    let analyst_b = srv::user_token(&db, B, "analyst_b", Role::Analyst, &["*"]);
    let server = srv::start(&db, &[]);
    let base = server.base.as_str();
    let (mx, my) = brandpunt::coords::Transformer::new()
        .unwrap()
        .rd_to_web_mercator(x_m, y_m)
        .unwrap();
    let t = brandpunt::tiles::TileId::containing(12, mx, my);
    let cells_a = format!("/tiles/incidents/{}/{}/{}.mvt", t.z, t.x, t.y);
    let stats_a = format!("/api/areas/{buurt}/stats");
    let count_a = || srv::get_as(base, Some(&analyst_a), &stats_a).json()["count"].as_i64();
    let tile_b = tile_of(base, &analyst_b, "GM1998");
    let get_b = || srv::get_as(base, Some(&analyst_b), &tile_b);
    let before = count_a().expect("an exact count for the analyst");
    let cells_before = incident_cells(&srv::get_as(base, Some(&analyst_a), &cells_a));
    let b0 = etag(&get_b());
    let (reloads0, incremental0) = (
        metric(base, "brandpunt_tenant_reloads_total"),
        metric(base, "brandpunt_tenant_incremental_reloads_total"),
    );
    let tile_hits = || metric(base, "brandpunt_cache_hits_total{cache=\"vector_tile\"}");

    // Another process imports a one-row delivery for tenant A: one new registration where `near` is, and a new
    // version of `near` itself (same place and category, so it is counted once, as before).
    let row = |registration: &str, category: &str, hash: &str| IncidentRecord {
        line: 2,
        registration: registration.into(),
        begin: near.begin,
        end: near.end,
        time_known: true,
        category_code: Some(category.into()),
        category_label: None,
        street: None,
        huisnummer: None,
        huisletter: None,
        toevoeging: None,
        postcode: None,
        plaats: None,
        bag_id: None,
        x_m: Some(x_m),
        y_m: Some(y_m),
        buurtcode: Some(buurt.clone()),
        located_by: LocatedBy::Coordinates,
        match_kind: None,
        match_score: None,
        extra: Default::default(),
        content_hash: hash.into(),
    };
    let meta = DeliveryMeta {
        tenant: A.into(),
        source: near.source.clone(),
        kind: "incidents".into(),
        file_name: "nagekomen.csv".into(),
        checksum: "nagekomen-1".into(),
        total_rows: 2,
    };
    let outcome = SqliteStore::open(&db)
        .unwrap()
        .store_incident_delivery(
            &meta,
            &[
                row("NAGEKOMEN-1", "1.1.1", "nieuw"),
                row(
                    &near.registration,
                    near.category_code.as_deref().unwrap_or("1.1.1"),
                    "gewijzigd",
                ),
            ],
            &[],
        )
        .unwrap();
    assert_eq!((outcome.inserted, outcome.replaced), (1, 1));
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_a() != Some(before + 1) {
        assert!(Instant::now() < deadline, "the delivery was never visible");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        incident_cells(&srv::get_as(base, Some(&analyst_a), &cells_a)),
        cells_before + 1,
        "the incident tile counts the new incident, and the new version once"
    );
    assert_eq!(
        metric(base, "brandpunt_tenant_incremental_reloads_total"),
        incremental0 + 1.0,
        "tenant A was updated with the delivery only"
    );
    assert_eq!(
        metric(base, "brandpunt_tenant_reloads_total"),
        reloads0 + 1.0
    );
    let hits = tile_hits();
    assert_eq!(etag(&get_b()), b0, "tenant B kept its snapshot");
    assert_eq!(tile_hits(), hits + 1.0, "and its tile stayed cached");

    // Another process applies retention to tenant A (every located incident, the delivered ones included): no
    // delivery lists the removed incidents, so the changed count makes it a full rebuild of A's snapshot.
    let cutoff = chrono::NaiveDate::from_ymd_opt(2100, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let removed = brandpunt::store::PrivacyStore::apply_retention(
        &mut SqliteStore::open(&db).unwrap(),
        A,
        cutoff,
        false,
        "test",
    )
    .unwrap();
    assert!(
        removed.incidents >= 2,
        "the delivered incidents are old enough"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_a() == Some(before + 1) {
        assert!(Instant::now() < deadline, "the retention was never visible");
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = SqliteStore::open(&db)
        .unwrap()
        .incidents(&IncidentFilter {
            tenant: A.into(),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .filter(|i| i.buurtcode.as_deref() == Some(buurt.as_str()))
        .count() as i64;
    assert!(left < before, "retention removed incidents of the buurt");
    assert_eq!(count_a(), Some(left), "the snapshot holds what is left");
    assert_eq!(
        incident_cells(&srv::get_as(base, Some(&analyst_a), &cells_a)),
        0,
        "no located incident is left on the incident tile"
    );
    assert_eq!(
        metric(base, "brandpunt_tenant_incremental_reloads_total"),
        incremental0 + 1.0,
        "removed incidents are not an incremental update"
    );
    assert_eq!(
        metric(base, "brandpunt_tenant_reloads_total"),
        reloads0 + 2.0,
        "tenant A was rebuilt"
    );
    assert_eq!(etag(&get_b()), b0, "tenant B kept its snapshot");
}
