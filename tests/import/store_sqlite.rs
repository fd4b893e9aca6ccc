//! The SQLite store against a real database file: migrations, tenant scoping, idempotent deliveries,
//! versioning with history, atomicity of a failing write, and area counts; and the store conformance suite
//! ([`store_conformance`]) on SQLite.

use brandpunt::area_level::AreaLevel;
use brandpunt::store::*;
use chrono::NaiveDate;
use geo_types::{polygon, MultiPolygon};

use crate::store_conformance;

/// The SQLite backend passes the store conformance suite (written against the store traits only).
#[test]
fn sqlite_store_conforms() {
    store_conformance::run_all(&|| {
        let dir = tempfile::tempdir().unwrap();
        let opener = StoreOpener::new(&dir.path().join("brandpunt.db")).unwrap();
        store_conformance::EmptyStore::new(opener, Box::new(dir))
    });
}

fn ts(d: &str, h: u32) -> chrono::NaiveDateTime {
    NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
}

fn incident(reg: &str, code: &str, buurt: Option<&str>, hash: &str) -> IncidentRecord {
    IncidentRecord {
        line: 2,
        registration: reg.into(),
        begin: ts("2024-03-01", 10),
        end: ts("2024-03-01", 12),
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
        x_m: buurt.map(|_| 100.0),
        y_m: buurt.map(|_| 100.0),
        buurtcode: buurt.map(str::to_string),
        located_by: if buurt.is_some() {
            LocatedBy::Coordinates
        } else {
            LocatedBy::None
        },
        match_kind: None,
        match_score: None,
        extra: Default::default(),
        content_hash: hash.into(),
    }
}

fn meta(tenant: &str, checksum: &str) -> DeliveryMeta {
    DeliveryMeta {
        tenant: tenant.into(),
        source: "politie".into(),
        kind: "incidents".into(),
        file_name: format!("{checksum}.csv"),
        checksum: checksum.into(),
        total_rows: 2,
    }
}

fn square(x0: f64, y0: f64, s: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![
        polygon![(x: x0, y: y0), (x: x0 + s, y: y0), (x: x0 + s, y: y0 + s), (x: x0, y: y0 + s), (x: x0, y: y0)],
    ])
}

fn buurt(code: &str, wijk: &str, x0: f64) -> AreaRecord {
    AreaRecord {
        level: AreaLevel::Buurt,
        code: code.into(),
        name: code.into(),
        wijkcode: Some(wijk.into()),
        gemeentecode: "GM1999".into(),
        gemeentenaam: Some("Demostad".into()),
        water: Some("NEE".into()),
        inhabitants: Some(1000),
        stats: Default::default(),
        geometry: square(x0, 0.0, 200.0),
    }
}

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("sub/brandpunt.db")).unwrap();
    (dir, store)
}

#[test]
fn migrates_once_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let v = SqliteStore::open(&path).unwrap().schema_version().unwrap();
    assert!(v >= 1);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.schema_version().unwrap(), v);
    let mode: String = again
        .connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = again
        .connection()
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn same_file_twice_changes_nothing() {
    let (_d, mut s) = temp_store();
    let rows = [
        incident("R1", "1.1.1", None, "h1"),
        incident("R2", "1.4.5", None, "h2"),
    ];
    let first = s
        .store_incident_delivery(&meta("default", "c1"), &rows, &[])
        .unwrap();
    assert_eq!((first.inserted, first.already_imported), (2, false));
    let second = s
        .store_incident_delivery(&meta("default", "c1"), &rows, &[])
        .unwrap();
    assert!(second.already_imported);
    assert_eq!(s.deliveries("default").unwrap().len(), 1);
    let all = s
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 2);
}

#[test]
fn changed_registration_becomes_new_version_with_history() {
    let (_d, mut s) = temp_store();
    s.store_incident_delivery(
        &meta("default", "c1"),
        &[
            incident("R1", "1.1.1", None, "h1"),
            incident("R2", "1.4.5", None, "h2"),
        ],
        &[],
    )
    .unwrap();
    let o = s
        .store_incident_delivery(
            &meta("default", "c2"),
            &[
                incident("R1", "1.1.2", None, "h1b"),
                incident("R2", "1.4.5", None, "h2"),
            ],
            &[],
        )
        .unwrap();
    assert_eq!((o.inserted, o.replaced, o.unchanged), (0, 1, 1));
    assert_eq!(s.incident_versions("default", "politie", "R1").unwrap(), 2);
    assert_eq!(s.incident_versions("default", "politie", "R2").unwrap(), 1);
    let current = s
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap();
    let r1 = current.iter().find(|i| i.registration == "R1").unwrap();
    assert_eq!(
        (r1.version, r1.category_code.as_deref()),
        (2, Some("1.1.2"))
    );
    let old: String = s
        .connection()
        .query_row("SELECT json_extract(record_json, '$.category_code') FROM incident_history WHERE registration = 'R1'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(old, "1.1.1");
}

#[test]
fn a_failing_delivery_leaves_nothing_behind() {
    let (_d, mut s) = temp_store();
    let bad_report = ReportRecord {
        line: 3,
        registration: None,
        column: None,
        reason: "x".into(),
        outcome: "bogus".into(),
    };
    let err = s.store_incident_delivery(
        &meta("default", "c1"),
        &[incident("R1", "1.1.1", None, "h1")],
        &[bad_report],
    );
    assert!(err.is_err());
    assert!(s.deliveries("default").unwrap().is_empty());
    assert!(s
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap()
        .is_empty());
}

#[test]
fn tenants_are_scoped() {
    let (_d, mut s) = temp_store();
    s.add_tenant("buurdorp", "Gemeente Buurdorp").unwrap();
    assert!(matches!(
        s.add_tenant("buurdorp", "x"),
        Err(StoreError::TenantExists(_))
    ));
    s.store_incident_delivery(
        &meta("default", "c1"),
        &[incident("R1", "1.1.1", None, "h1")],
        &[],
    )
    .unwrap();
    s.store_incident_delivery(
        &meta("buurdorp", "c1"),
        &[incident("R9", "1.1.1", None, "h9")],
        &[],
    )
    .unwrap();
    let a = s
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap();
    let b = s
        .incidents(&IncidentFilter {
            tenant: "buurdorp".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        a.iter()
            .map(|i| i.registration.as_str())
            .collect::<Vec<_>>(),
        ["R1"]
    );
    assert_eq!(
        b.iter()
            .map(|i| i.registration.as_str())
            .collect::<Vec<_>>(),
        ["R9"]
    );
    assert!(matches!(
        s.incidents(&IncidentFilter {
            tenant: "nope".into(),
            ..Default::default()
        }),
        Err(StoreError::UnknownTenant(_))
    ));
}

#[test]
fn counts_by_buurt_wijk_and_gemeente_with_filters() {
    let (_d, mut s) = temp_store();
    let areas = [
        buurt("BU19990001", "WK199900", 0.0),
        buurt("BU1999AE01", "WK1999AE", 200.0),
    ];
    s.replace_boundary_set(2024, "t.gpkg", "x", &areas).unwrap();
    let rows = [
        incident("R1", "1.1.1", Some("BU19990001"), "a"),
        incident("R2", "1.1.1", Some("BU19990001"), "b"),
        incident("R3", "1.4.5", Some("BU1999AE01"), "c"),
        incident("R4", "1.4.5", None, "d"),
    ];
    s.store_incident_delivery(&meta("default", "c1"), &rows, &[])
        .unwrap();
    let f = IncidentFilter {
        tenant: "default".into(),
        ..Default::default()
    };
    let by_buurt = s.count_by_area(AreaLevel::Buurt, &f).unwrap();
    assert_eq!(
        by_buurt,
        vec![
            AreaCount {
                area_code: "BU19990001".into(),
                category: "1.1.1".into(),
                count: 2
            },
            AreaCount {
                area_code: "BU1999AE01".into(),
                category: "1.4.5".into(),
                count: 1
            },
        ]
    );
    let by_gm = s.count_by_area(AreaLevel::Gemeente, &f).unwrap();
    assert_eq!(
        by_gm.iter().map(|c| c.count).sum::<i64>(),
        3,
        "the unlocated incident is not counted"
    );
    let by_wijk = s
        .count_by_area(
            AreaLevel::Wijk,
            &IncidentFilter {
                categories: vec!["1.4.5".into()],
                ..f.clone()
            },
        )
        .unwrap();
    assert_eq!(
        by_wijk,
        vec![AreaCount {
            area_code: "WK1999AE".into(),
            category: "1.4.5".into(),
            count: 1
        }]
    );
    let none = s
        .count_by_area(
            AreaLevel::Buurt,
            &IncidentFilter {
                from: NaiveDate::from_ymd_opt(2024, 3, 2),
                ..f
            },
        )
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn boundary_set_replacement_and_geometry_round_trip() {
    let (_d, mut s) = temp_store();
    let areas = [buurt("BU19990001", "WK199900", 0.0)];
    s.replace_boundary_set(2024, "a.gpkg", "x", &areas).unwrap();
    s.replace_boundary_set(2024, "b.gpkg", "y", &areas).unwrap();
    let sets = s.boundary_sets().unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].source_file, "b.gpkg");
    let back = s.areas(AreaLevel::Buurt, None).unwrap();
    assert_eq!(back, areas.to_vec());
}

#[test]
fn reassigns_addresses_when_newest_boundaries_arrive() {
    let (_d, mut s) = temp_store();
    {
        let mut sink = s.address_sink(&[]).unwrap();
        sink.push(&AddressRecord {
            bag_id: "1999010000000001".into(),
            kind: AddressKind::Verblijfsobject,
            street: "Kerkstraat".into(),
            street_short: None,
            huisnummer: 1,
            huisletter: None,
            toevoeging: None,
            postcode: Some("7511AB".into()),
            woonplaats: "Demostad".into(),
            bronhouder: Some("1999".into()),
            status: None,
            gebruiksdoel: Some("woonfunctie".into()),
            oppervlakte_m2: Some(80),
            bouwjaar: Some(1965),
            pand_id: None,
            pand_status: None,
            x_m: 50.0,
            y_m: 50.0,
            buurtcode: None,
        })
        .unwrap();
        assert_eq!(sink.finish().unwrap(), 1);
    }
    s.replace_boundary_set_with(
        2024,
        "a.gpkg",
        "x",
        &[buurt("BU19990001", "WK199900", 0.0)],
        &|x, _| (x < 200.0).then(|| "BU19990001".to_string()),
    )
    .unwrap();
    let mut seen = Vec::new();
    s.for_each_address(&mut |a| {
        seen.push(a.buurtcode.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![Some("BU19990001".to_string())]);
    // An older year does not re-assign.
    s.replace_boundary_set_with(
        2020,
        "old.gpkg",
        "z",
        &[buurt("BU19990009", "WK199900", 0.0)],
        &|_, _| Some("BU19990009".to_string()),
    )
    .unwrap();
    let mut seen = Vec::new();
    s.for_each_address(&mut |a| {
        seen.push(a.buurtcode.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![Some("BU19990001".to_string())]);
}

#[test]
fn keyed_values_are_inserted_replaced_or_unchanged() {
    let (_d, mut s) = temp_store();
    let count = |region: &str, value: Option<i64>| PoliceCount {
        table: "47022NED".into(),
        category: "1.1.1".into(),
        region: region.into(),
        period: "2024-09".into(),
        value,
    };
    let m = |c: &str| DeliveryMeta {
        kind: "counts".into(),
        ..meta("default", c)
    };
    let first = s
        .store_police_counts(
            &m("k1"),
            &[count("BU19990001", Some(3)), count("BU19990002", None)],
        )
        .unwrap();
    assert_eq!((first.inserted, first.replaced, first.unchanged), (2, 0, 0));
    let second = s
        .store_police_counts(
            &m("k2"),
            &[
                count("BU19990001", Some(4)),
                count("BU19990002", None),
                count("GM1999", Some(9)),
            ],
        )
        .unwrap();
    assert_eq!(
        (second.inserted, second.replaced, second.unchanged),
        (1, 1, 1)
    );
    let stored = s.police_counts(Some("BU")).unwrap();
    assert_eq!(
        stored.iter().map(|c| c.value).collect::<Vec<_>>(),
        vec![Some(4), None]
    );

    let ind = |name: &str, value: Option<f64>| IndicatorValue {
        buurtcode: "BU19990001".into(),
        name: name.into(),
        value,
    };
    let m = |c: &str| DeliveryMeta {
        kind: "indicators".into(),
        ..meta("default", c)
    };
    s.store_indicators(&m("i1"), &[ind("a", Some(1.5)), ind("b", None)])
        .unwrap();
    let o = s
        .store_indicators(&m("i2"), &[ind("a", Some(1.5)), ind("b", Some(2.0))])
        .unwrap();
    assert_eq!((o.inserted, o.replaced, o.unchanged), (0, 1, 1));
    assert_eq!(s.indicators("default").unwrap()[1].value, Some(2.0));
}
