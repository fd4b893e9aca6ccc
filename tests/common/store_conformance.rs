//! The store conformance suite: what every store backend must do, written against the store traits
//! ([`ServerStore`] = `Store` + `PrivacyStore` + `Changes`, opened through a [`StoreOpener`]) and never against
//! a concrete backend. A backend's test calls [`run_all`] with a function that makes a new, empty store.
//!
//! Covered: tenants and their gemeenten, boundary sets and areas, BAG addresses, incident deliveries with
//! versioning and history, queries (filters, counts per area, details, streets), custom areas, police counts and
//! indicators, address attributes (versions per source), users and tokens, passwords, web sessions and failed
//! logins, the audit log, retention, and noticing changes (change token, data
//! fingerprint, and the incidents deliveries changed since a mark).

use brandpunt::access::{AccessError, PrincipalKind, Role};
use brandpunt::area_level::AreaLevel;
use brandpunt::audit::{self, AuditEntry};
use brandpunt::pseudonym::IdentifierKind;
use brandpunt::store::{
    AddressAttributeValue, AddressKind, AddressRecord, AreaRecord, AttributeSetMeta, DataChange,
    DataFingerprint, DeliveryMeta, IncidentFilter, IncidentRecord, IndicatorValue, LinkedIncident,
    LocatedBy, PandRecord, PersonalColumn, PoliceCount, PrivacyError, ReportRecord, ServerStore,
    StoreError, StoreOpener, TokenOwner,
};
use chrono::{NaiveDate, NaiveDateTime};
use geo_types::{polygon, MultiPolygon};

/// A new, empty store for one check.
pub struct EmptyStore {
    /// Opens handles onto the store, each call a new one.
    opener: StoreOpener,
    /// Whatever keeps the store alive while the check runs (a temporary directory, a test database); dropped
    /// after the check.
    _keep: Box<dyn std::any::Any>,
}

impl EmptyStore {
    /// The store `opener` opens, kept alive by `keep`.
    pub fn new(opener: StoreOpener, keep: Box<dyn std::any::Any>) -> EmptyStore {
        EmptyStore {
            opener,
            _keep: keep,
        }
    }

    fn open(&self) -> Box<dyn ServerStore> {
        self.opener.open().expect("the store opens")
    }
}

/// One check of the suite.
type Check = fn(&EmptyStore);

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("tenants_and_their_gemeenten", tenants_and_their_gemeenten),
    ("boundary_sets_and_areas", boundary_sets_and_areas),
    ("addresses_and_panden", addresses_and_panden),
    (
        "incident_deliveries_are_idempotent_and_versioned",
        incident_deliveries_are_idempotent_and_versioned,
    ),
    (
        "incident_queries_filter_and_scope_by_tenant",
        incident_queries_filter_and_scope_by_tenant,
    ),
    ("counts_per_area", counts_per_area),
    ("incident_details_and_streets", incident_details_and_streets),
    ("custom_areas", custom_areas),
    ("police_counts_and_indicators", police_counts_and_indicators),
    (
        "address_attributes_are_versioned_per_source",
        address_attributes_are_versioned_per_source,
    ),
    ("users_and_tokens", users_and_tokens),
    ("passwords", passwords),
    ("relations_grant", relations_grant),
    (
        "web_sessions_and_login_failures",
        web_sessions_and_login_failures,
    ),
    ("audit_log", audit_log),
    ("retention", retention),
    ("changes", changes),
    (
        "incident_changes_since_a_mark",
        incident_changes_since_a_mark,
    ),
    (
        "personal_columns_give_linked_incidents",
        personal_columns_give_linked_incidents,
    ),
];

/// Run every check, each on a new store from `fresh`; panics naming every check that failed.
pub fn run_all(fresh: &dyn Fn() -> EmptyStore) {
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        let store = fresh();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&store))).is_err() {
            failed.push(*name);
        }
    }
    assert!(failed.is_empty(), "store conformance failed: {failed:?}");
}

// ---------------------------------------------------------------------------------------------------------
// Data

fn ts(day: &str, hour: u32) -> NaiveDateTime {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

fn square(x0: f64, y0: f64, side_m: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![polygon![
        (x: x0, y: y0),
        (x: x0 + side_m, y: y0),
        (x: x0 + side_m, y: y0 + side_m),
        (x: x0, y: y0 + side_m),
        (x: x0, y: y0),
    ]])
}

/// Buurt `code` of wijk `wijk` (gemeente GM1999): a 200 m square at `x0`.
fn buurt(code: &str, wijk: &str, x0: f64) -> AreaRecord {
    AreaRecord {
        level: AreaLevel::Buurt,
        code: code.into(),
        name: format!("Buurt {code}"),
        wijkcode: Some(wijk.into()),
        gemeentecode: "GM1999".into(),
        gemeentenaam: Some("Demostad".into()),
        water: Some("NEE".into()),
        inhabitants: Some(1000),
        stats: [("aantal_woningen".to_string(), 420.0)].into(),
        geometry: square(x0, 0.0, 200.0),
    }
}

fn area(level: AreaLevel, code: &str, x0: f64, side_m: f64) -> AreaRecord {
    AreaRecord {
        level,
        code: code.into(),
        name: code.into(),
        wijkcode: None,
        gemeentecode: "GM1999".into(),
        gemeentenaam: Some("Demostad".into()),
        water: None,
        inhabitants: None,
        stats: Default::default(),
        geometry: square(x0, 0.0, side_m),
    }
}

/// The boundary set of the checks: gemeente GM1999, wijken WK199901/02, buurten BU19990101, BU19990102 (wijk 01)
/// and BU19990201 (wijk 02).
fn boundaries() -> Vec<AreaRecord> {
    vec![
        area(AreaLevel::Gemeente, "GM1999", 0.0, 600.0),
        area(AreaLevel::Wijk, "WK199901", 0.0, 400.0),
        area(AreaLevel::Wijk, "WK199902", 400.0, 200.0),
        buurt("BU19990101", "WK199901", 0.0),
        buurt("BU19990102", "WK199901", 200.0),
        buurt("BU19990201", "WK199902", 400.0),
    ]
}

/// An incident placed by coordinates in `buurt` (or not located when `None`), in the window `begin`..`end`.
fn incident(
    registration: &str,
    category: &str,
    buurt: Option<&str>,
    begin: NaiveDateTime,
    end: NaiveDateTime,
    hash: &str,
) -> IncidentRecord {
    IncidentRecord {
        line: 2,
        registration: registration.into(),
        begin,
        end,
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

/// An incident on 1 March 2024, 10:00-12:00.
fn march(registration: &str, category: &str, buurt: Option<&str>, hash: &str) -> IncidentRecord {
    incident(
        registration,
        category,
        buurt,
        ts("2024-03-01", 10),
        ts("2024-03-01", 12),
        hash,
    )
}

fn meta(tenant: &str, checksum: &str, rows: u64) -> DeliveryMeta {
    DeliveryMeta {
        tenant: tenant.into(),
        source: "politie".into(),
        kind: "incidents".into(),
        file_name: format!("{checksum}.csv"),
        checksum: checksum.into(),
        total_rows: rows,
    }
}

fn address(bag_id: &str, street: &str, number: u32, pand: &str, x_m: f64) -> AddressRecord {
    AddressRecord {
        bag_id: bag_id.into(),
        kind: AddressKind::Verblijfsobject,
        street: street.into(),
        street_short: None,
        huisnummer: number,
        huisletter: None,
        toevoeging: None,
        postcode: Some("1999AA".into()),
        woonplaats: "Demostad".into(),
        bronhouder: Some("1999".into()),
        status: Some("Verblijfsobject in gebruik".into()),
        gebruiksdoel: Some("woonfunctie".into()),
        oppervlakte_m2: Some(80),
        bouwjaar: Some(1931),
        pand_id: Some(pand.into()),
        pand_status: None,
        x_m,
        y_m: 100.0,
        buurtcode: Some("BU19990101".into()),
    }
}

fn all_of(tenant: &str) -> IncidentFilter {
    IncidentFilter {
        tenant: tenant.into(),
        ..Default::default()
    }
}

fn audit_entry(action: &str, records: i64) -> AuditEntry {
    AuditEntry {
        actor: "jan".into(),
        tenant: "default".into(),
        action: action.into(),
        endpoint: "GET /api/incidents".into(),
        filter: "categorie=1.1.1".into(),
        records,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Checks

/// A new store has its schema and the tenant `default`; tenants are unique and their gemeenten replaced whole.
pub fn tenants_and_their_gemeenten(s: &EmptyStore) {
    let mut store = s.open();
    assert!(store.schema_version().unwrap() > 0);
    let codes = |store: &dyn ServerStore| -> Vec<String> {
        store.tenants().unwrap().into_iter().map(|t| t.0).collect()
    };
    assert_eq!(codes(&*store), ["default"]);
    store.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
    store.add_tenant("enschede", "Gemeente Enschede").unwrap();
    assert!(matches!(
        store.add_tenant("hengelo", "Nog eens"),
        Err(StoreError::TenantExists(ref t)) if t == "hengelo"
    ));
    assert_eq!(codes(&*store), ["default", "enschede", "hengelo"]);
    assert!(store
        .tenants()
        .unwrap()
        .contains(&("hengelo".to_string(), "Gemeente Hengelo".to_string())));
    store.rename_tenant("default", " Demostad ").unwrap();
    assert_eq!(
        store.tenants().unwrap()[0],
        ("default".to_string(), "Demostad".to_string())
    );
    assert!(matches!(
        store.rename_tenant("default", "  "),
        Err(StoreError::InvalidValue { column: "name", .. })
    ));
    assert!(matches!(
        store.rename_tenant("almelo", "Gemeente Almelo"),
        Err(StoreError::UnknownTenant(ref t)) if t == "almelo"
    ));
    assert_eq!(store.tenants().unwrap()[0].1, "Demostad");

    assert!(store.tenant_gemeenten("enschede").unwrap().is_empty());
    store
        .set_tenant_gemeenten("enschede", &["153".into(), "GM0158".into(), "0153".into()])
        .unwrap();
    assert_eq!(
        store.tenant_gemeenten("enschede").unwrap(),
        ["GM0153", "GM0158"]
    );
    assert!(matches!(
        store.set_tenant_gemeenten("enschede", &["0164".into(), "x".into()]),
        Err(StoreError::GemeenteCode(ref c)) if c == "x"
    ));
    assert_eq!(
        store.tenant_gemeenten("enschede").unwrap(),
        ["GM0153", "GM0158"],
        "a refused change changes nothing"
    );
    store.set_tenant_gemeenten("enschede", &[]).unwrap();
    assert!(store.tenant_gemeenten("enschede").unwrap().is_empty());
    assert!(matches!(
        store.tenant_gemeenten("nergens"),
        Err(StoreError::UnknownTenant(_))
    ));
    // Another handle sees what was committed.
    assert_eq!(codes(&*s.open()), ["default", "enschede", "hengelo"]);
}

/// Boundary sets are replaced per year; areas come from the newest year unless one is asked for, geometry intact.
pub fn boundary_sets_and_areas(s: &EmptyStore) {
    let mut store = s.open();
    assert!(store.boundary_sets().unwrap().is_empty());
    assert!(store.areas(AreaLevel::Buurt, None).unwrap().is_empty());
    let old = vec![buurt("BU19990101", "WK199901", 0.0)];
    store
        .replace_boundary_set(2023, "wijkenbuurten_2023.gpkg", "c2023", &old)
        .unwrap();
    store
        .replace_boundary_set(2024, "wijkenbuurten_2024.gpkg", "c2024", &boundaries())
        .unwrap();
    let sets = store.boundary_sets().unwrap();
    let years: Vec<(i32, i64)> = sets.iter().map(|b| (b.year, b.areas)).collect();
    assert_eq!(years, [(2023, 1), (2024, 6)]);
    assert_eq!(sets[1].source_file, "wijkenbuurten_2024.gpkg");
    assert_eq!(sets[1].checksum, "c2024");

    let buurten = store.areas(AreaLevel::Buurt, None).unwrap();
    let expected: Vec<AreaRecord> = boundaries()
        .into_iter()
        .filter(|a| a.level == AreaLevel::Buurt)
        .collect();
    assert_eq!(buurten, expected, "every field and the geometry round-trip");
    let wijken: Vec<String> = store
        .areas(AreaLevel::Wijk, None)
        .unwrap()
        .into_iter()
        .map(|a| a.code)
        .collect();
    assert_eq!(wijken, ["WK199901", "WK199902"]);
    assert_eq!(store.areas(AreaLevel::Gemeente, None).unwrap().len(), 1);
    assert_eq!(store.areas(AreaLevel::Buurt, Some(2023)).unwrap(), old);

    // The same year again replaces that set.
    store
        .replace_boundary_set(2023, "wijkenbuurten_2023.gpkg", "c2023b", &[])
        .unwrap();
    assert!(store
        .areas(AreaLevel::Buurt, Some(2023))
        .unwrap()
        .is_empty());
    assert_eq!(store.boundary_sets().unwrap().len(), 2);
    assert_eq!(store.boundary_sets().unwrap()[0].checksum, "c2023b");
}

/// A BAG import replaces the addresses; panden are kept only when an address lies in them.
pub fn addresses_and_panden(s: &EmptyStore) {
    let mut store = s.open();
    assert_eq!(store.address_count().unwrap(), 0);
    {
        let mut sink = store.address_sink(&[]).unwrap();
        sink.push(&address("0001010000000002", "Dijklaan", 2, "P1", 50.0))
            .unwrap();
        sink.push(&address("0001010000000001", "Dijklaan", 1, "P1", 40.0))
            .unwrap();
        let pand = PandRecord {
            pand_id: "P1".into(),
            bouwjaar: Some(1931),
            status: None,
            gebruiksdoel: None,
            oppervlakte_min: Some(80),
            oppervlakte_max: Some(90),
            aantal_verblijfsobjecten: Some(2),
        };
        assert!(sink.push_pand(&pand).unwrap());
        let elsewhere = PandRecord {
            pand_id: "P9".into(),
            ..pand
        };
        assert!(!sink.push_pand(&elsewhere).unwrap());
        assert_eq!(sink.finish().unwrap(), 2);
    }
    assert_eq!(store.address_count().unwrap(), 2);
    let mut seen = Vec::new();
    store
        .for_each_address(&mut |a| {
            seen.push(a.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(
        seen.iter().map(|a| a.bag_id.as_str()).collect::<Vec<_>>(),
        ["0001010000000001", "0001010000000002"],
        "by BAG id"
    );
    assert_eq!(
        seen[0],
        address("0001010000000001", "Dijklaan", 1, "P1", 40.0)
    );
    // An unfiltered import replaces everything.
    {
        let mut sink = store.address_sink(&[]).unwrap();
        sink.push(&address("0001010000000003", "Kerkstraat", 3, "P2", 60.0))
            .unwrap();
        assert_eq!(sink.finish().unwrap(), 1);
    }
    assert_eq!(store.address_count().unwrap(), 1);
}

/// The same file twice changes nothing; a changed registration becomes a new version with history; report rows
/// and delivery counts are kept.
pub fn incident_deliveries_are_idempotent_and_versioned(s: &EmptyStore) {
    let mut store = s.open();
    // Every outcome of a report line is kept, also those of placed rows whose location is doubtful.
    let mut report = vec![ReportRecord {
        line: 4,
        registration: Some("PL-3".into()),
        column: Some("Pleegdatum begin".into()),
        reason: "ongeldige datum '31-02-2024'".into(),
        outcome: "rejected".into(),
    }];
    for (k, outcome) in brandpunt::import::report::OUTCOMES
        .iter()
        .enumerate()
        .skip(1)
    {
        report.push(ReportRecord {
            line: 10 + k as u64,
            registration: Some(format!("PL-R{k}")),
            column: None,
            reason: format!("reden {k}"),
            outcome: outcome.to_string(),
        });
    }
    let first = vec![
        march("PL-1", "1.1.1", Some("BU19990101"), "h1"),
        march("PL-2", "1.1.1", None, "h2"),
    ];
    let o = store
        .store_incident_delivery(&meta("default", "c1", 3), &first, &report)
        .unwrap();
    assert!(!o.already_imported);
    assert_eq!(
        (o.inserted, o.replaced, o.unchanged, o.reported),
        (2, 0, 0, report.len() as u64)
    );
    let id1 = o.delivery_id.expect("a delivery id");

    let again = store
        .store_incident_delivery(&meta("default", "c1", 3), &first, &report)
        .unwrap();
    assert!(again.already_imported);
    assert_eq!(again.delivery_id, None);
    assert_eq!(store.incidents(&all_of("default")).unwrap().len(), 2);

    let second = vec![
        march("PL-1", "1.1.1", Some("BU19990102"), "h1b"),
        march("PL-2", "1.1.1", None, "h2"),
        march("PL-4", "2.5.1", Some("BU19990201"), "h4"),
    ];
    let o2 = store
        .store_incident_delivery(&meta("default", "c2", 3), &second, &[])
        .unwrap();
    assert_eq!(
        (o2.inserted, o2.replaced, o2.unchanged, o2.reported),
        (1, 1, 1, 0)
    );
    assert_eq!(
        store
            .incident_versions("default", "politie", "PL-1")
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .incident_versions("default", "politie", "PL-2")
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .incident_versions("default", "politie", "PL-9")
            .unwrap(),
        0
    );

    let current = store.incidents(&all_of("default")).unwrap();
    assert_eq!(current.len(), 3);
    let pl1 = current.iter().find(|i| i.registration == "PL-1").unwrap();
    assert_eq!(pl1.version, 2);
    assert_eq!(pl1.buurtcode.as_deref(), Some("BU19990102"));
    assert_eq!(pl1.begin, ts("2024-03-01", 10));
    assert_eq!(pl1.end, ts("2024-03-01", 12));
    assert_eq!(pl1.source, "politie");
    assert_eq!(pl1.located_by, "coordinates");
    assert_eq!((pl1.x_m, pl1.y_m), (Some(100.0), Some(100.0)));

    let deliveries = store.deliveries("default").unwrap();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].id, id1);
    assert_eq!(
        (
            deliveries[0].total_rows,
            deliveries[0].inserted,
            deliveries[0].reported
        ),
        (3, 2, report.len() as i64)
    );
    assert_eq!(
        (
            deliveries[1].inserted,
            deliveries[1].replaced,
            deliveries[1].unchanged
        ),
        (1, 1, 1)
    );
    let found = store.find_delivery("default", "politie", "c1").unwrap();
    assert_eq!(found.map(|d| d.id), Some(id1));
    assert!(store
        .find_delivery("default", "politie", "c9")
        .unwrap()
        .is_none());
    assert_eq!(store.report_rows(id1).unwrap(), report);

    // A delivery for an unknown tenant is refused and stores nothing.
    assert!(matches!(
        store.store_incident_delivery(&meta("nergens", "c3", 1), &first, &[]),
        Err(StoreError::UnknownTenant(_))
    ));
    assert_eq!(store.incidents(&all_of("default")).unwrap().len(), 3);
}

/// Incident queries filter by category, source and period, and never cross tenants.
pub fn incident_queries_filter_and_scope_by_tenant(s: &EmptyStore) {
    let mut store = s.open();
    store.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
    let rows = vec![
        incident(
            "A",
            "1.1.1",
            Some("BU19990101"),
            ts("2024-02-29", 23),
            ts("2024-03-01", 1),
            "a",
        ),
        march("B", "2.5.1", Some("BU19990101"), "b"),
        incident(
            "C",
            "1.1.1",
            None,
            ts("2024-03-02", 0),
            ts("2024-03-02", 1),
            "c",
        ),
    ];
    store
        .store_incident_delivery(&meta("default", "d1", 3), &rows, &[])
        .unwrap();
    store
        .store_incident_delivery(&meta("hengelo", "d1", 1), &rows[..1], &[])
        .unwrap();
    let regs = |f: &IncidentFilter| -> Vec<String> {
        store
            .incidents(f)
            .unwrap()
            .into_iter()
            .map(|i| i.registration)
            .collect()
    };
    assert_eq!(regs(&all_of("default")), ["A", "B", "C"], "by begin");
    assert_eq!(regs(&all_of("hengelo")), ["A"]);
    let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    assert_eq!(
        regs(&IncidentFilter {
            from: Some(day),
            to: Some(day),
            ..all_of("default")
        }),
        ["B"],
        "the period is by begin, through the last day"
    );
    assert_eq!(
        regs(&IncidentFilter {
            categories: vec!["1.1.1".into()],
            ..all_of("default")
        }),
        ["A", "C"]
    );
    assert_eq!(
        regs(&IncidentFilter {
            sources: vec!["handhaving".into()],
            ..all_of("default")
        }),
        Vec::<String>::new()
    );
    assert!(matches!(
        store.incidents(&all_of("nergens")),
        Err(StoreError::UnknownTenant(_))
    ));
}

/// Located incidents counted per buurt, wijk and gemeente of the newest boundary set, by category.
pub fn counts_per_area(s: &EmptyStore) {
    let mut store = s.open();
    store
        .replace_boundary_set(2024, "wijkenbuurten_2024.gpkg", "c2024", &boundaries())
        .unwrap();
    let rows = vec![
        march("A", "1.1.1", Some("BU19990101"), "a"),
        march("B", "1.1.1", Some("BU19990102"), "b"),
        march("C", "2.5.1", Some("BU19990201"), "c"),
        march("D", "1.1.1", None, "d"),
    ];
    store
        .store_incident_delivery(&meta("default", "d1", 4), &rows, &[])
        .unwrap();
    let counts = |level: AreaLevel, f: &IncidentFilter| -> Vec<(String, String, i64)> {
        store
            .count_by_area(level, f)
            .unwrap()
            .into_iter()
            .map(|c| (c.area_code, c.category, c.count))
            .collect()
    };
    let t = |a: &str, c: &str, n: i64| (a.to_string(), c.to_string(), n);
    assert_eq!(
        counts(AreaLevel::Buurt, &all_of("default")),
        [
            t("BU19990101", "1.1.1", 1),
            t("BU19990102", "1.1.1", 1),
            t("BU19990201", "2.5.1", 1)
        ]
    );
    assert_eq!(
        counts(AreaLevel::Wijk, &all_of("default")),
        [t("WK199901", "1.1.1", 2), t("WK199902", "2.5.1", 1)]
    );
    assert_eq!(
        counts(AreaLevel::Gemeente, &all_of("default")),
        [t("GM1999", "1.1.1", 2), t("GM1999", "2.5.1", 1)]
    );
    assert_eq!(
        counts(
            AreaLevel::Gemeente,
            &IncidentFilter {
                categories: vec!["2.5.1".into()],
                ..all_of("default")
            }
        ),
        [t("GM1999", "2.5.1", 1)]
    );
}

/// Details of picked incidents (with the BAG address, and so the street, of address-located ones), per tenant.
pub fn incident_details_and_streets(s: &EmptyStore) {
    let mut store = s.open();
    store.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
    {
        let mut sink = store.address_sink(&[]).unwrap();
        sink.push(&address("0001010000000001", "Dijklaan", 1, "P1", 40.0))
            .unwrap();
        sink.finish().unwrap();
    }
    let mut at_address = march("A", "1.1.1", Some("BU19990101"), "a");
    at_address.located_by = LocatedBy::Address;
    at_address.bag_id = Some("0001010000000001".into());
    let by_coordinates = march("B", "2.5.1", Some("BU19990101"), "b");
    store
        .store_incident_delivery(
            &meta("default", "d1", 2),
            &[at_address.clone(), by_coordinates],
            &[],
        )
        .unwrap();
    store
        .store_incident_delivery(&meta("hengelo", "d1", 1), &[at_address], &[])
        .unwrap();
    let ids = |tenant: &str| -> Vec<(String, i64)> {
        store
            .incidents(&all_of(tenant))
            .unwrap()
            .into_iter()
            .map(|i| (i.registration, i.id))
            .collect()
    };
    let ours = ids("default");
    let theirs = ids("hengelo");
    let mut asked: Vec<i64> = ours.iter().map(|r| r.1).collect();
    asked.push(theirs[0].1);
    let mut details = store.incident_details("default", &asked).unwrap();
    details.sort_by_key(|d| d.id);
    assert_eq!(details.len(), 2, "another tenant's incident is left out");
    let a = &details[0];
    assert_eq!(a.id, ours[0].1);
    assert_eq!(a.registration, "A");
    assert_eq!(a.source, "politie");
    assert_eq!(a.category_code.as_deref(), Some("1.1.1"));
    assert_eq!(a.located_by, "address");
    assert_eq!(a.street.as_deref(), Some("Dijklaan"));
    assert_eq!(a.huisnummer, Some(1));
    assert_eq!(a.postcode.as_deref(), Some("1999AA"));
    assert_eq!(a.buurtcode.as_deref(), Some("BU19990101"));
    let b = &details[1];
    assert_eq!(b.registration, "B");
    assert_eq!((b.street.as_deref(), b.huisnummer), (None, None));
    assert!(store.incident_details("default", &[]).unwrap().is_empty());
    // Many ids at once.
    let many: Vec<i64> = (1..=2_000)
        .map(|k| -k)
        .chain(asked.iter().copied())
        .collect();
    assert_eq!(store.incident_details("default", &many).unwrap().len(), 2);

    // Another tenant's incident at the same address: its own details, never ours.
    let theirs_details = store
        .incident_details("hengelo", &[theirs[0].1, ours[0].1])
        .unwrap();
    assert_eq!(theirs_details.len(), 1);
    assert_eq!(theirs_details[0].street.as_deref(), Some("Dijklaan"));
}

/// Custom areas: created with or without an owner, renamed, redrawn, deleted; scoped to their tenant.
pub fn custom_areas(s: &EmptyStore) {
    let mut store = s.open();
    store.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
    let a = store
        .insert_custom_area("default", "centrum", &square(0.0, 0.0, 100.0))
        .unwrap();
    let b = store
        .insert_custom_area_by("default", "station", &square(50.0, 50.0, 30.0), Some("jan"))
        .unwrap();
    assert_ne!(a, b);
    let areas = store.custom_areas("default").unwrap();
    assert_eq!(
        areas
            .iter()
            .map(|c| (c.id, c.name.as_str()))
            .collect::<Vec<_>>(),
        [(a, "centrum"), (b, "station")]
    );
    assert_eq!(areas[1].geometry, square(50.0, 50.0, 30.0));
    assert_eq!(areas[1].created_by.as_deref(), Some("jan"));
    assert!(!areas[0].created_at.is_empty());
    assert_eq!(store.custom_area_owner("default", a).unwrap(), Some(None));
    assert_eq!(
        store.custom_area_owner("default", b).unwrap(),
        Some(Some("jan".to_string()))
    );
    assert_eq!(store.custom_area_owner("hengelo", b).unwrap(), None);
    assert!(store.custom_areas("hengelo").unwrap().is_empty());

    assert!(store
        .update_custom_area("default", b, "perron", &square(0.0, 0.0, 10.0))
        .unwrap());
    assert!(!store
        .update_custom_area("hengelo", b, "kaping", &square(0.0, 0.0, 10.0))
        .unwrap());
    let updated = store.custom_areas("default").unwrap();
    assert_eq!(updated[1].name, "perron");
    assert_eq!(updated[1].geometry, square(0.0, 0.0, 10.0));
    assert_eq!(updated[1].created_by.as_deref(), Some("jan"));

    assert!(!store.delete_custom_area("hengelo", a).unwrap());
    assert!(store.delete_custom_area("default", a).unwrap());
    assert!(!store.delete_custom_area("default", a).unwrap());
    assert_eq!(store.custom_areas("default").unwrap().len(), 1);
    assert!(matches!(
        store.insert_custom_area("nergens", "x", &square(0.0, 0.0, 1.0)),
        Err(StoreError::UnknownTenant(_))
    ));
}

/// Keyed values (police open data, municipal indicators): inserted, replaced or unchanged, per delivery.
pub fn police_counts_and_indicators(s: &EmptyStore) {
    let mut store = s.open();
    let count = |region: &str, value: Option<i64>| PoliceCount {
        table: "47022NED".into(),
        category: "1.1.1".into(),
        region: region.into(),
        period: "2024-09".into(),
        value,
    };
    let counts_meta = |checksum: &str| DeliveryMeta {
        kind: "counts".into(),
        source: "cbs".into(),
        ..meta("default", checksum, 2)
    };
    let o = store
        .store_police_counts(
            &counts_meta("p1"),
            &[count("BU19990101", Some(3)), count("GM1999", None)],
        )
        .unwrap();
    assert_eq!((o.inserted, o.replaced, o.unchanged), (2, 0, 0));
    let o = store
        .store_police_counts(
            &counts_meta("p2"),
            &[count("BU19990101", Some(4)), count("GM1999", None)],
        )
        .unwrap();
    assert_eq!((o.inserted, o.replaced, o.unchanged), (0, 1, 1));
    assert!(
        store
            .store_police_counts(&counts_meta("p2"), &[])
            .unwrap()
            .already_imported
    );
    assert_eq!(
        store.police_counts(Some("BU")).unwrap(),
        [count("BU19990101", Some(4))]
    );
    assert_eq!(store.police_counts(None).unwrap().len(), 2);

    let value = |buurt: &str, v: Option<f64>| IndicatorValue {
        buurtcode: buurt.into(),
        name: "leefbaarometer".into(),
        value: v,
    };
    let indicators_meta = |checksum: &str| DeliveryMeta {
        kind: "indicators".into(),
        source: "gemeente".into(),
        ..meta("default", checksum, 1)
    };
    store
        .store_indicators(&indicators_meta("i1"), &[value("BU19990101", Some(3.5))])
        .unwrap();
    let o = store
        .store_indicators(&indicators_meta("i2"), &[value("BU19990101", Some(4.0))])
        .unwrap();
    assert_eq!((o.inserted, o.replaced, o.unchanged), (0, 1, 0));
    assert_eq!(
        store.indicators("default").unwrap(),
        [value("BU19990101", Some(4.0))]
    );
    store.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
    assert!(store.indicators("hengelo").unwrap().is_empty());
}

/// Address attributes: every new file of a source is its next version (the newest is current), the same file
/// again changes nothing, sources and tenants are apart, and an import changes the tenant's fingerprint and its
/// incident mark (so a server rebuilds the snapshot).
pub fn address_attributes_are_versioned_per_source(s: &EmptyStore) {
    let mut store = s.open();
    store.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
    let value = |bag_id: &str, name: &str, v: f64| AddressAttributeValue {
        bag_id: bag_id.into(),
        name: name.into(),
        value: v,
    };
    let meta = |tenant: &str, source: &str, checksum: &str| AttributeSetMeta {
        tenant: tenant.into(),
        source: source.into(),
        file_name: format!("{checksum}.csv"),
        checksum: checksum.into(),
        total_rows: 3,
        rejected: 1,
    };
    let print = store.tenant_fingerprint("default").unwrap();
    let mark = store.incident_mark("default").unwrap();
    let other = store.tenant_fingerprint("hengelo").unwrap();
    let o = store
        .store_address_attributes(
            &meta("default", "woz", "w1"),
            &[
                value("1999010000000001", "woz_waarde", 150_000.0),
                value("1999010000000002", "woz_waarde", 320_000.0),
                value("1999010000000001", "peiljaar", 2023.0),
            ],
        )
        .unwrap();
    assert_eq!((o.version, o.already_imported, o.values), (1, false, 3));
    assert_ne!(store.tenant_fingerprint("default").unwrap(), print);
    assert_ne!(store.incident_mark("default").unwrap(), mark);
    assert_eq!(store.tenant_fingerprint("hengelo").unwrap(), other);
    assert!(store.incident_changes("default", &mark).unwrap().is_none());
    // The same file again: nothing changes.
    let print = store.tenant_fingerprint("default").unwrap();
    let again = store
        .store_address_attributes(&meta("default", "woz", "w1"), &[])
        .unwrap();
    assert_eq!((again.version, again.already_imported), (1, true));
    assert_eq!(store.tenant_fingerprint("default").unwrap(), print);
    // Version 2 replaces version 1 as the current values; version 1 stays as history.
    let o = store
        .store_address_attributes(
            &meta("default", "woz", "w2"),
            &[value("1999010000000002", "woz_waarde", 330_000.0)],
        )
        .unwrap();
    assert_eq!(o.version, 2);
    let woz = store.address_attributes("default", "woz_waarde").unwrap();
    assert_eq!(woz.len(), 1);
    assert_eq!(woz.get("1999010000000002"), Some(&330_000.0));
    assert_eq!(
        store.address_attribute_names("default").unwrap(),
        ["woz_waarde"]
    );
    // Another source keeps its own versions; the later imported source wins for an address both give.
    store
        .store_address_attributes(
            &meta("default", "taxatie", "t1"),
            &[
                value("1999010000000002", "woz_waarde", 340_000.0),
                value("1999010000000003", "energielabel_index", 1.25),
            ],
        )
        .unwrap();
    let woz = store.address_attributes("default", "woz_waarde").unwrap();
    assert_eq!(woz.get("1999010000000002"), Some(&340_000.0));
    assert_eq!(
        store.address_attribute_names("default").unwrap(),
        ["energielabel_index", "woz_waarde"]
    );
    let sets = store.address_attribute_sets("default").unwrap();
    let summary: Vec<(&str, i64, bool, i64)> = sets
        .iter()
        .map(|x| (x.source.as_str(), x.version, x.current, x.values))
        .collect();
    assert_eq!(
        summary,
        [
            ("taxatie", 1, true, 2),
            ("woz", 2, true, 1),
            ("woz", 1, false, 3)
        ]
    );
    assert_eq!((sets[2].total_rows, sets[2].rejected), (3, 1));
    assert_eq!(sets[2].file_name, "w1.csv");
    // Tenants are apart: the same file is new for another tenant.
    assert!(store
        .address_attributes("hengelo", "woz_waarde")
        .unwrap()
        .is_empty());
    let o = store
        .store_address_attributes(&meta("hengelo", "woz", "w1"), &[])
        .unwrap();
    assert_eq!((o.version, o.already_imported), (1, false));
    assert!(matches!(
        store.address_attributes("nope", "woz_waarde"),
        Err(StoreError::UnknownTenant(_))
    ));
}

/// Users are unique; tokens authenticate as their user or delivery channel until revoked, expired or the user
/// is disabled.
pub fn users_and_tokens(s: &EmptyStore) {
    let mut store = s.open();
    store.add_tenant("enschede", "Gemeente Enschede").unwrap();
    store
        .add_user("enschede", "jan", Role::Analyst, &["2.5.1".into()])
        .unwrap();
    store.add_user("default", "els", Role::Viewer, &[]).unwrap();
    assert!(matches!(
        store.add_user("default", "jan", Role::Viewer, &[]),
        Err(PrivacyError::UserExists(_))
    ));
    assert!(store.add_user("nergens", "x", Role::Viewer, &[]).is_err());
    let users = store.users(None).unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| (u.name.as_str(), u.tenant.as_str(), u.role))
            .collect::<Vec<_>>(),
        [
            ("els", "default", Role::Viewer),
            ("jan", "enschede", Role::Analyst)
        ]
    );
    assert_eq!(users[1].categories, ["2.5.1"]);
    assert_eq!(store.users(Some("enschede")).unwrap().len(), 1);

    let jan = store
        .create_token(&TokenOwner::User("jan".into()), None)
        .unwrap();
    let delivery = store
        .create_token(
            &TokenOwner::Delivery {
                tenant: "enschede".into(),
                source: "politie".into(),
            },
            None,
        )
        .unwrap();
    let expired = store
        .create_token(
            &TokenOwner::User("els".into()),
            Some("2000-01-01T00:00:00Z"),
        )
        .unwrap();
    assert!(matches!(
        store.create_token(&TokenOwner::User("niemand".into()), None),
        Err(PrivacyError::UnknownUser(_))
    ));
    let p = store.authenticate(&jan.token).unwrap().expect("jan");
    assert_eq!((p.tenant.as_str(), p.user.as_str()), ("enschede", "jan"));
    assert_eq!(p.role, Role::Analyst);
    assert_eq!(p.kind, PrincipalKind::User);
    assert!(
        p.categories.contains(&"2.5.1".to_string()),
        "{:?}",
        p.categories
    );
    let d = store
        .authenticate(&delivery.token)
        .unwrap()
        .expect("delivery");
    assert_eq!(
        d.kind,
        PrincipalKind::Delivery {
            source: "politie".into()
        }
    );
    assert_eq!(d.user, "levering:politie");
    assert_eq!(store.authenticate(&expired.token).unwrap(), None);
    assert_eq!(store.authenticate("bp_nothing_here").unwrap(), None);
    let last = if jan.token.ends_with('a') { 'b' } else { 'a' };
    let forged = format!("{}{last}", &jan.token[..jan.token.len() - 1]);
    assert_eq!(store.authenticate(&forged).unwrap(), None);

    let tokens = store.tokens().unwrap();
    assert_eq!(
        tokens.iter().map(|t| t.owner.as_str()).collect::<Vec<_>>(),
        ["jan", "levering:politie", "els"]
    );
    assert_eq!(tokens[0].id, jan.id);
    assert_eq!(
        tokens[2].expires_at.as_deref(),
        Some("2000-01-01T00:00:00Z")
    );

    assert!(store.revoke_token(&delivery.id).unwrap());
    assert!(!store.revoke_token(&delivery.id).unwrap());
    assert_eq!(store.authenticate(&delivery.token).unwrap(), None);
    assert!(store.tokens().unwrap()[1].revoked_at.is_some());

    // Another handle (a credential worker's) sees the same.
    assert!(s.open().authenticate(&jan.token).unwrap().is_some());
    store.disable_user("jan").unwrap();
    assert_eq!(store.authenticate(&jan.token).unwrap(), None);
    assert!(store.users(Some("enschede")).unwrap()[0].disabled);
    assert!(matches!(
        store.disable_user("niemand"),
        Err(PrivacyError::UnknownUser(_))
    ));
    assert!(matches!(
        store.create_token(&TokenOwner::User("jan".into()), None),
        Err(PrivacyError::UserDisabled(_))
    ));
}

/// Web login passwords: a minimum length, verified only for enabled users; the current principal re-read.
pub fn passwords(s: &EmptyStore) {
    let mut store = s.open();
    store
        .add_user("default", "jan", Role::Analyst, &["*".into()])
        .unwrap();
    assert!(matches!(
        store.set_password("jan", "kort"),
        Err(PrivacyError::PasswordTooShort { min: 12 })
    ));
    assert!(matches!(
        store.set_password("niemand", "lang genoeg wachtwoord"),
        Err(PrivacyError::UnknownUser(_))
    ));
    assert_eq!(
        store
            .verify_password("jan", "lang genoeg wachtwoord")
            .unwrap(),
        None,
        "no password yet"
    );
    store.set_password("jan", "lang genoeg wachtwoord").unwrap();
    let p = store
        .verify_password("jan", "lang genoeg wachtwoord")
        .unwrap()
        .expect("jan logs in");
    assert_eq!((p.user.as_str(), p.role), ("jan", Role::Analyst));
    assert_eq!(
        store.verify_password("jan", "verkeerd wachtwoord").unwrap(),
        None
    );
    assert_eq!(
        store
            .verify_password("niemand", "lang genoeg wachtwoord")
            .unwrap(),
        None
    );
    assert_eq!(
        store.user_principal("jan").unwrap().map(|p| p.tenant),
        Some("default".to_string())
    );
    store.disable_user("jan").unwrap();
    assert_eq!(
        store
            .verify_password("jan", "lang genoeg wachtwoord")
            .unwrap(),
        None
    );
    assert_eq!(store.user_principal("jan").unwrap(), None);
    assert_eq!(store.user_principal("niemand").unwrap(), None);
}

/// Web sessions and failed logins: stored under the session key by one handle and seen by another (another
/// process, another replica), with the user's current principal; touched forward only; ended; expired ones
/// deleted; failed logins counted per key within the window and forgotten per key.
pub fn web_sessions_and_login_failures(s: &EmptyStore) {
    use brandpunt::session::{
        session_key, ExpiryCutoffs, ABSOLUTE_TIMEOUT, FAILURE_WINDOW, IDLE_TIMEOUT,
    };
    let ms = |d: std::time::Duration| d.as_millis() as i64;
    let t0: i64 = 1_750_000_000_000;
    let mut admin = s.open();
    admin
        .add_user("default", "ana", Role::Analyst, &["*".into()])
        .unwrap();
    let a = s.open();
    let b = s.open();
    let key = session_key("sessie-een");
    assert_eq!(b.session(&key).unwrap(), None);
    a.create_session(&key, "ana", t0).unwrap();
    let seen = b
        .session(&key)
        .unwrap()
        .expect("the other handle sees the session");
    assert_eq!((seen.times.created_ms, seen.times.last_used_ms), (t0, t0));
    let p = seen.principal.expect("an enabled user");
    assert_eq!(
        (p.tenant.as_str(), p.user.as_str(), p.role),
        ("default", "ana", Role::Analyst)
    );
    // The last use moves forward only.
    b.touch_session(&key, t0 + 5_000).unwrap();
    a.touch_session(&key, t0 + 1_000).unwrap();
    assert_eq!(
        a.session(&key).unwrap().unwrap().times.last_used_ms,
        t0 + 5_000
    );
    assert!(matches!(
        a.create_session(&session_key("x"), "niemand", t0),
        Err(PrivacyError::UnknownUser(_))
    ));
    // A role change shows at the next read; a disabled user's session has no principal and no new one starts.
    admin.set_relations_grant("ana", true).unwrap();
    assert!(
        b.session(&key)
            .unwrap()
            .unwrap()
            .principal
            .unwrap()
            .relations
    );
    let other = session_key("sessie-twee");
    a.create_session(&other, "ana", t0).unwrap();
    assert!(b.end_session(&other).unwrap());
    assert!(!a.end_session(&other).unwrap());
    assert_eq!(a.session(&other).unwrap(), None);
    // Expiry: idle since t0, and a second session used later; the clean-up at t0 + idle timeout deletes the
    // first only.
    let later = session_key("sessie-drie");
    a.create_session(&later, "ana", t0 + 1_000).unwrap();
    a.touch_session(&later, t0 + 600_000).unwrap();
    let cut = ExpiryCutoffs::at(t0 + ms(IDLE_TIMEOUT));
    assert_eq!(cut.idle_before_ms, t0);
    assert_eq!(
        b.delete_expired_sessions(t0 + ms(IDLE_TIMEOUT) + 4_999)
            .unwrap(),
        0
    );
    assert_eq!(
        b.delete_expired_sessions(t0 + ms(IDLE_TIMEOUT) + 5_000)
            .unwrap(),
        1
    );
    assert_eq!(a.session(&key).unwrap(), None);
    assert!(a.session(&later).unwrap().is_some());
    // A new session deletes the expired ones (here: `later`, past the absolute timeout) in passing.
    let fresh = session_key("sessie-vier");
    a.create_session(&fresh, "ana", t0 + ms(ABSOLUTE_TIMEOUT) + 1_000)
        .unwrap();
    assert_eq!(b.session(&later).unwrap(), None);
    admin.disable_user("ana").unwrap();
    assert_eq!(b.session(&fresh).unwrap().unwrap().principal, None);
    assert!(matches!(
        a.create_session(&session_key("y"), "ana", t0),
        Err(PrivacyError::UserDisabled(_))
    ));

    // Failed logins, counted per key within the window, on whichever handle they happen.
    let keys = |user: &str, addr: &str| vec![format!("user:{user}"), format!("addr:{addr}")];
    for i in 0..3 {
        a.record_login_failure(&keys("jan", "10.0.0.7"), t0 + i * 1_000)
            .unwrap();
    }
    b.record_login_failure(&keys("piet", "10.0.0.7"), t0 + 3_000)
        .unwrap();
    let now = t0 + 10_000;
    assert_eq!(b.login_failures(&keys("jan", "10.0.0.8"), now).unwrap(), 3);
    assert_eq!(
        b.login_failures(&keys("klaas", "10.0.0.7"), now).unwrap(),
        4
    );
    assert_eq!(
        a.login_failures(&keys("klaas", "10.0.0.8"), now).unwrap(),
        0
    );
    assert_eq!(a.login_failures(&[], now).unwrap(), 0);
    // The first failure (t0) no longer counts a window later, the other two do.
    let end = t0 + ms(FAILURE_WINDOW);
    assert_eq!(a.login_failures(&keys("jan", "x"), end).unwrap(), 2);
    a.clear_login_failures("user:jan").unwrap();
    assert_eq!(a.login_failures(&keys("jan", "x"), now).unwrap(), 0);
    assert_eq!(a.login_failures(&keys("x", "10.0.0.7"), now).unwrap(), 4);
    // A failure recorded later deletes those that no longer count (of any key).
    b.record_login_failure(&keys("klaas", "10.0.0.9"), end + 10_000)
        .unwrap();
    assert_eq!(a.login_failures(&keys("x", "10.0.0.7"), now).unwrap(), 0);
}

/// The `relations` grant: off by default, given and taken per user, never to a viewer, carried by tokens,
/// password logins and the re-read principal, and seen as an access change.
pub fn relations_grant(s: &EmptyStore) {
    let mut store = s.open();
    store
        .add_user("default", "ann", Role::Analyst, &["*".into()])
        .unwrap();
    store.add_user("default", "vic", Role::Viewer, &[]).unwrap();
    store.set_password("ann", "lang genoeg wachtwoord").unwrap();
    let token = store
        .create_token(&TokenOwner::User("ann".into()), None)
        .unwrap();
    let grant_of = |store: &dyn ServerStore| {
        let listed = store
            .users(None)
            .unwrap()
            .iter()
            .map(|u| (u.name.clone(), u.relations))
            .collect::<Vec<_>>();
        let by_token = store.authenticate(&token.token).unwrap().unwrap().relations;
        let by_password = store
            .verify_password("ann", "lang genoeg wachtwoord")
            .unwrap()
            .unwrap()
            .relations;
        let re_read = store.user_principal("ann").unwrap().unwrap().relations;
        assert_eq!(by_token, by_password);
        assert_eq!(by_token, re_read);
        (listed, by_token)
    };
    let off = vec![("ann".to_string(), false), ("vic".to_string(), false)];
    assert_eq!(grant_of(&*store), (off.clone(), false), "off by default");

    let before = store.data_fingerprint().unwrap();
    store.set_relations_grant("ann", true).unwrap();
    assert!(store.data_fingerprint().unwrap().access_changed(&before));
    let on = vec![("ann".to_string(), true), ("vic".to_string(), false)];
    assert_eq!(grant_of(&*store), (on.clone(), true));
    // Another handle sees it.
    assert_eq!(grant_of(&*s.open()), (on, true));

    assert!(matches!(
        store.set_relations_grant("vic", true),
        Err(PrivacyError::Access(
            AccessError::RelationsNotForRole { .. }
        ))
    ));
    assert!(matches!(
        store.set_relations_grant("niemand", true),
        Err(PrivacyError::UnknownUser(_))
    ));
    // Taking it from a viewer (who never had it) is allowed and changes nothing.
    store.set_relations_grant("vic", false).unwrap();
    store.set_relations_grant("ann", false).unwrap();
    assert_eq!(grant_of(&*store), (off, false), "taken again");
}

/// The audit log is a hash chain, appended from any handle, read back whole or by day.
pub fn audit_log(s: &EmptyStore) {
    let mut store = s.open();
    assert!(store.audit_records(None, None).unwrap().is_empty());
    let first = store
        .append_audit(&audit_entry("read_incidents", 3))
        .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, audit::GENESIS_HASH);
    let mut other = s.open();
    let second = other.append_audit(&audit_entry("export", 7)).unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    store.append_audit(&audit_entry("export", 1)).unwrap();
    let records = store.audit_records(None, None).unwrap();
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(records[1].entry(), audit_entry("export", 7));
    audit::verify(&records).unwrap();
    // Day bounds (records are stamped now): the far past and the far future hold none.
    let day = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).unwrap();
    assert!(store
        .audit_records(None, Some(day(2000)))
        .unwrap()
        .is_empty());
    assert!(store
        .audit_records(Some(day(2999)), None)
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .audit_records(Some(day(2000)), Some(day(2999)))
            .unwrap(),
        records
    );
}

/// Retention removes the address-level incidents (by address or coordinates) whose window ended before the
/// cut-off, with their history, and logs it; a dry run only counts.
pub fn retention(s: &EmptyStore) {
    let mut store = s.open();
    store.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
    let old = |reg: &str, buurt: Option<&str>, hash: &str| {
        incident(
            reg,
            "1.1.1",
            buurt,
            ts("2023-01-01", 10),
            ts("2023-01-01", 12),
            hash,
        )
    };
    let mut buurt_only = old("OLD-BUURT", None, "b");
    buurt_only.located_by = LocatedBy::Buurt;
    buurt_only.buurtcode = Some("BU19990101".into());
    let first = vec![
        old("OLD-1", Some("BU19990101"), "o1"),
        old("OLD-2", Some("BU19990101"), "o2"),
        buurt_only,
        old("OLD-NONE", None, "n"),
        march("NEW-1", "1.1.1", Some("BU19990101"), "n1"),
    ];
    store
        .store_incident_delivery(&meta("default", "r1", 5), &first, &[])
        .unwrap();
    // A second version of OLD-1: one history version.
    store
        .store_incident_delivery(
            &meta("default", "r2", 1),
            &[old("OLD-1", Some("BU19990102"), "o1b")],
            &[],
        )
        .unwrap();
    store
        .store_incident_delivery(&meta("hengelo", "r1", 1), &first[..1], &[])
        .unwrap();
    let cutoff = ts("2024-01-01", 0);

    let dry = store
        .apply_retention("default", cutoff, true, "test")
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!((dry.incidents, dry.history_versions), (2, 1));
    assert_eq!(dry.cutoff, "2024-01-01T00:00");
    assert_eq!(store.incidents(&all_of("default")).unwrap().len(), 5);
    assert!(
        store.audit_records(None, None).unwrap().is_empty(),
        "a dry run logs nothing"
    );

    let done = store
        .apply_retention("default", cutoff, false, "test")
        .unwrap();
    assert_eq!((done.incidents, done.history_versions), (2, 1));
    let left: Vec<String> = store
        .incidents(&all_of("default"))
        .unwrap()
        .into_iter()
        .map(|i| i.registration)
        .collect();
    assert_eq!(left, ["OLD-BUURT", "OLD-NONE", "NEW-1"]);
    assert_eq!(
        store
            .incident_versions("default", "politie", "OLD-1")
            .unwrap(),
        0
    );
    assert_eq!(
        store.incidents(&all_of("hengelo")).unwrap().len(),
        1,
        "another tenant is untouched"
    );
    let log = store.audit_records(None, None).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (
            log[0].action.as_str(),
            log[0].actor.as_str(),
            log[0].tenant.as_str(),
            log[0].records
        ),
        ("retention", "test", "default", 2)
    );
    assert!(store
        .apply_retention("nergens", cutoff, false, "test")
        .is_err());
}

/// The change token moves when another handle commits; the data fingerprint ignores the audit log and follows
/// every change of what the server shows.
pub fn changes(s: &EmptyStore) {
    let watcher = s.open();
    let mut writer = s.open();
    let token = watcher.change_token().unwrap();
    assert_eq!(watcher.change_token().unwrap(), token, "nothing committed");
    let before = watcher.data_fingerprint().unwrap();

    writer
        .append_audit(&audit_entry("read_incidents", 3))
        .unwrap();
    let after_audit = watcher.change_token().unwrap();
    assert_ne!(after_audit, token, "an audit record is a commit");
    assert_eq!(
        watcher.data_fingerprint().unwrap(),
        before,
        "but not a data change"
    );

    // Every change shows in exactly the part it belongs to: what every tenant reads, one tenant's own data, or
    // users and tokens.
    let mut prints = vec![before];
    let changed = |what: &str, part: &str, prints: &mut Vec<DataFingerprint>| {
        let print = watcher.data_fingerprint().unwrap();
        assert!(!prints.contains(&print), "{what} changes the fingerprint");
        for (tenant, part) in &print.tenants {
            assert_eq!(
                watcher.tenant_fingerprint(tenant).unwrap().as_ref(),
                Some(part),
                "{what}: {tenant}'s own part, read alone"
            );
        }
        let last = prints.last().unwrap();
        let data = print.data_change(last);
        let access = print.access_changed(last);
        match part {
            "shared" => assert_eq!((data, access), (DataChange::All, false), "{what}"),
            "access" => assert_eq!((data, access), (DataChange::None, true), "{what}"),
            tenant => assert_eq!(
                (data, access),
                (DataChange::Tenants(vec![tenant.to_string()]), false),
                "{what}"
            ),
        }
        prints.push(print);
    };
    assert_eq!(watcher.tenant_fingerprint("hengelo").unwrap(), None);
    writer.add_tenant("hengelo", "Gemeente Hengelo").unwrap();
    changed("a tenant", "shared", &mut prints);
    writer
        .set_tenant_gemeenten("hengelo", &["0164".into()])
        .unwrap();
    changed("a tenant's gemeenten", "hengelo", &mut prints);
    writer
        .replace_boundary_set(2024, "wijkenbuurten_2024.gpkg", "c2024", &boundaries())
        .unwrap();
    changed("a boundary set", "shared", &mut prints);
    {
        let mut sink = writer.address_sink(&[]).unwrap();
        sink.push(&address("0001010000000001", "Dijklaan", 1, "P1", 40.0))
            .unwrap();
        sink.finish().unwrap();
    }
    changed("an address", "shared", &mut prints);
    {
        // The same number of addresses, one of them moved: a BAG re-import that changes no count.
        let mut sink = writer.address_sink(&[]).unwrap();
        sink.push(&address("0001010000000001", "Dijklaan", 1, "P1", 45.0))
            .unwrap();
        sink.finish().unwrap();
    }
    changed(
        "an address replaced by one at another place",
        "shared",
        &mut prints,
    );
    writer
        .store_incident_delivery(
            &meta("default", "c1", 1),
            &[march("A", "1.1.1", Some("BU19990101"), "a")],
            &[],
        )
        .unwrap();
    changed("an incident", "default", &mut prints);
    writer
        .store_incident_delivery(
            &meta("default", "c2", 1),
            &[march("A", "1.1.1", Some("BU19990101"), "b")],
            &[],
        )
        .unwrap();
    changed("a changed registration", "default", &mut prints);
    writer
        .store_incident_delivery(
            &meta("hengelo", "h1", 1),
            &[march("H", "1.1.1", None, "h")],
            &[],
        )
        .unwrap();
    changed("another tenant's incident", "hengelo", &mut prints);
    let cutoff = ts("2025-01-01", 0);
    let dry = writer
        .apply_retention("default", cutoff, true, "test")
        .unwrap();
    assert_eq!(dry.incidents, 1);
    assert_eq!(
        &watcher.data_fingerprint().unwrap(),
        prints.last().unwrap(),
        "a retention dry run changes nothing"
    );
    let done = writer
        .apply_retention("default", cutoff, false, "test")
        .unwrap();
    assert_eq!(done.incidents, 1);
    changed("retention deleting incidents", "default", &mut prints);
    let id = writer
        .insert_custom_area("hengelo", "proef", &square(0.0, 0.0, 10.0))
        .unwrap();
    changed("a custom area", "hengelo", &mut prints);
    writer
        .update_custom_area("hengelo", id, "proef 2", &square(0.0, 0.0, 20.0))
        .unwrap();
    // (An update is seen by its `updated_at`, in whole seconds: not asserted, the check must not depend on time.)
    let print = watcher.data_fingerprint().unwrap();
    let touched = match print.data_change(prints.last().unwrap()) {
        DataChange::None => true,
        DataChange::Tenants(t) => t == ["hengelo"],
        DataChange::All => false,
    };
    assert!(touched, "an update touches its tenant only");
    prints.push(print);
    writer
        .add_user("default", "jan", Role::Viewer, &[])
        .unwrap();
    changed("a user", "access", &mut prints);
    writer
        .set_password("jan", "lang genoeg wachtwoord")
        .unwrap();
    changed("a password", "access", &mut prints);
    let token = writer
        .create_token(&TokenOwner::User("jan".into()), None)
        .unwrap();
    changed("a token", "access", &mut prints);
    writer.revoke_token(&token.id).unwrap();
    changed("a revocation", "access", &mut prints);
    writer.disable_user("jan").unwrap();
    changed("disabling a user", "access", &mut prints);
    assert_ne!(watcher.change_token().unwrap(), after_audit);
}

/// `incident_mark` and `incident_changes`: the incidents later deliveries of the tenant wrote and superseded,
/// nothing for another tenant's delivery, `None` once the tenant's custom areas changed; the delta turns a snapshot
/// of the earlier data into one of the current data.
pub fn incident_changes_since_a_mark(s: &EmptyStore) {
    use brandpunt::cancel::Cancel;
    use brandpunt::dataset::Snapshot;
    let mut store = s.open();
    store.add_tenant("ander", "Andere gemeente").unwrap();
    assert!(matches!(
        store.incident_mark("onbekend"),
        Err(StoreError::UnknownTenant(_))
    ));
    let start = store.incident_mark("default").unwrap();
    let first = vec![
        march("PL-1", "1.1.1", Some("BU19990101"), "h1"),
        incident(
            "PL-2",
            "1.1.1",
            None,
            ts("2024-02-01", 8),
            ts("2024-02-01", 9),
            "h2",
        ),
    ];
    store
        .store_incident_delivery(&meta("default", "c1", 2), &first, &[])
        .unwrap();
    let c1 = store
        .incident_changes("default", &start)
        .unwrap()
        .expect("only a delivery");
    let stored = store.incidents(&all_of("default")).unwrap();
    // Sorted by begin: PL-2 (February) before PL-1 (March).
    let ids: Vec<i64> = c1.delta.written.iter().map(|i| i.id).collect();
    assert_eq!(ids, stored.iter().map(|i| i.id).collect::<Vec<_>>());
    assert_eq!(c1.delta.written[1].buurtcode.as_deref(), Some("BU19990101"));
    assert_eq!(c1.delta.written[1].begin, ts("2024-03-01", 10));
    assert!(c1.delta.superseded.is_empty());
    assert_eq!(c1.current, 2);
    assert_ne!(c1.mark, start);
    assert_eq!(c1.mark, store.incident_mark("default").unwrap());
    let earlier = Snapshot::build(1, store.tenant_data("default").unwrap()).unwrap();

    // Nothing new; another tenant's delivery is not this tenant's change.
    let none = store
        .incident_changes("default", &c1.mark)
        .unwrap()
        .unwrap();
    assert!(none.delta.is_empty());
    assert_eq!((none.current, &none.mark), (2, &c1.mark));
    store
        .store_incident_delivery(
            &meta("ander", "a1", 1),
            &[march("A-1", "1.1.1", None, "a")],
            &[],
        )
        .unwrap();
    assert!(store
        .incident_changes("default", &c1.mark)
        .unwrap()
        .unwrap()
        .delta
        .is_empty());

    // A new version of PL-1 and a new registration PL-4.
    let second = vec![
        march("PL-1", "1.1.1", Some("BU19990102"), "h1b"),
        march("PL-4", "2.5.1", Some("BU19990201"), "h4"),
    ];
    store
        .store_incident_delivery(&meta("default", "c2", 2), &second, &[])
        .unwrap();
    let c2 = store
        .incident_changes("default", &c1.mark)
        .unwrap()
        .unwrap();
    let now = store.incidents(&all_of("default")).unwrap();
    let id_of = |reg: &str| now.iter().find(|i| i.registration == reg).unwrap().id;
    let mut written: Vec<i64> = c2.delta.written.iter().map(|i| i.id).collect();
    written.sort_unstable();
    let mut want = vec![id_of("PL-1"), id_of("PL-4")];
    want.sort_unstable();
    assert_eq!(written, want);
    let old_pl1 = stored.iter().find(|i| i.registration == "PL-1").unwrap().id;
    // The superseded version with the begin it had (a snapshot finds it by begin and id).
    assert_eq!(
        c2.delta.superseded,
        [brandpunt::dataset::SupersededVersion {
            id: old_pl1,
            begin: ts("2024-03-01", 10),
        }]
    );
    assert_eq!(c2.current, 3);
    let applied = earlier
        .apply(2, c2.delta.clone(), &Cancel::never())
        .unwrap();
    let built = Snapshot::build(2, store.tenant_data("default").unwrap()).unwrap();
    let view = |s: &Snapshot| {
        s.incidents
            .iter()
            .map(|i| (i.id, i.begin_min, i.buurt))
            .collect::<Vec<_>>()
    };
    assert_eq!(view(&applied), view(&built));
    // The compact read of the same data builds the same snapshot.
    let from_table =
        Snapshot::build_table(2, store.tenant_table("default").unwrap(), &Cancel::never()).unwrap();
    assert_eq!(view(&from_table), view(&built));
    assert_eq!(
        (&from_table.categories, &from_table.sources),
        (&built.categories, &built.sources)
    );
    let all = store.tenant_tables().unwrap();
    assert_eq!(
        all.iter().map(|t| t.code.as_str()).collect::<Vec<_>>(),
        store
            .tenants()
            .unwrap()
            .iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
    );
    let default = all.iter().find(|t| t.code == "default").unwrap();
    assert_eq!(default.incidents.len(), built.incidents.len());

    // A new version of PL-2 that moves from February to April: the snapshot finds the old version by the
    // begin it had.
    let old_pl2 = id_of("PL-2");
    store
        .store_incident_delivery(
            &meta("default", "c2b", 1),
            &[incident(
                "PL-2",
                "1.1.1",
                None,
                ts("2024-04-02", 8),
                ts("2024-04-02", 9),
                "h2b",
            )],
            &[],
        )
        .unwrap();
    let moved = store
        .incident_changes("default", &c2.mark)
        .unwrap()
        .unwrap();
    assert_eq!(
        moved.delta.superseded,
        [brandpunt::dataset::SupersededVersion {
            id: old_pl2,
            begin: ts("2024-02-01", 8),
        }]
    );
    let applied = applied
        .apply(3, moved.delta.clone(), &Cancel::never())
        .unwrap();
    let built = Snapshot::build(3, store.tenant_data("default").unwrap()).unwrap();
    assert_eq!(view(&applied), view(&built));
    assert_eq!(applied.incidents.len() as u64, moved.current);
    let c2 = moved;

    // Retention deletes the located PL-1 and PL-4 (PL-2 has no place): no delivery, so nothing is listed, but
    // the current count follows.
    let removed = store
        .apply_retention("default", ts("2025-01-01", 0), false, "test")
        .unwrap();
    assert_eq!(removed.incidents, 2);
    let c3 = store
        .incident_changes("default", &c2.mark)
        .unwrap()
        .unwrap();
    assert!(c3.delta.is_empty());
    assert_eq!(c3.current, 1);
    assert_eq!(
        store.incidents(&all_of("default")).unwrap().len() as u64,
        c3.current
    );

    // A changed custom area is not an incident change.
    store
        .insert_custom_area("default", "Plein", &square(0.0, 0.0, 50.0))
        .unwrap();
    assert_eq!(store.incident_changes("default", &c2.mark).unwrap(), None);
}

/// The linked incidents of `filter`, in the order the store visits them.
fn linked(store: &dyn ServerStore, filter: &IncidentFilter) -> Vec<LinkedIncident> {
    let mut out = Vec::new();
    store
        .as_store()
        .for_each_linked_incident(filter, &mut |i| {
            out.push(i);
            Ok(())
        })
        .unwrap();
    out
}

/// A delivery's personal columns (role, kind, key id) reach every pseudonym of its incidents; incidents of a
/// delivery without them carry none; an unchanged re-delivered row keeps the columns of the delivery that wrote
/// it, a changed one (a new key) those of the new delivery; a rolled-back delivery records nothing; filters apply.
pub fn personal_columns_give_linked_incidents(s: &EmptyStore) {
    let mut store = s.open();
    let p1 = "a".repeat(64);
    let p2 = "b".repeat(64);
    let with_extra = |reg: &str, category: &str, hash: &str, extra: &[(&str, &str)]| {
        let mut i = march(reg, category, Some("BU19990101"), hash);
        i.bag_id = Some(format!("0001010000{reg:0>6}"));
        i.extra = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        i
    };
    let columns = |key_id: &str| {
        vec![
            PersonalColumn {
                role: "BSN".into(),
                kind: IdentifierKind::Person,
                key_id: key_id.into(),
            },
            PersonalColumn {
                role: "Kenteken".into(),
                kind: IdentifierKind::Vehicle,
                key_id: key_id.into(),
            },
        ]
    };
    {
        let mut sink = store
            .as_store_mut()
            .incident_sink(&meta("default", "p1", 3), 3)
            .unwrap()
            .unwrap();
        sink.personal_columns(&columns("0123456789abcdef")).unwrap();
        sink.push(with_extra(
            "1",
            "1.1.1",
            "h1",
            &[("BSN", &p1), ("Kenteken", &p2), ("team", "Noord")],
        ))
        .unwrap();
        sink.push(with_extra(
            "2",
            "1.2.1",
            "h2",
            &[("BSN", &p1), ("Kenteken", "")],
        ))
        .unwrap();
        sink.push(with_extra("3", "1.1.1", "h3", &[])).unwrap();
        sink.finish().unwrap();
    }
    // A delivery without personal columns: its `BSN` extra is not a pseudonym of a typed column.
    let mut other = meta("default", "p2", 1);
    other.source = "handhaving".into();
    store
        .as_store_mut()
        .store_incident_delivery(
            &other,
            &[with_extra("9", "1.1.1", "h9", &[("BSN", &p2)])],
            &[],
        )
        .unwrap();
    // Rolled back: records nothing.
    {
        let mut sink = store
            .as_store_mut()
            .incident_sink(&meta("default", "p3", 1), 1)
            .unwrap()
            .unwrap();
        sink.personal_columns(&columns("ffffffffffffffff")).unwrap();
        sink.push(with_extra("1", "1.1.1", "h1-new", &[("BSN", &p2)]))
            .unwrap();
    }
    let all = linked(store.as_ref(), &all_of("default"));
    let regs: Vec<(&str, &str)> = all
        .iter()
        .map(|i| (i.source.as_str(), i.registration.as_str()))
        .collect();
    assert_eq!(regs.len(), 4);
    for r in [
        ("politie", "1"),
        ("politie", "2"),
        ("politie", "3"),
        ("handhaving", "9"),
    ] {
        assert!(regs.contains(&r), "{r:?} in {regs:?}");
    }
    let get = |all: &[LinkedIncident], reg: &str| {
        all.iter().find(|i| i.registration == reg).cloned().unwrap()
    };
    let one = get(&all, "1");
    assert_eq!(one.bag_id.as_deref(), Some("0001010000000001"));
    assert_eq!(one.category_code.as_deref(), Some("1.1.1"));
    assert_eq!(one.begin, ts("2024-03-01", 10));
    let summary: Vec<(&str, IdentifierKind, &str, &str)> = one
        .pseudonyms
        .iter()
        .map(|p| {
            (
                p.role.as_str(),
                p.kind,
                p.key_id.as_str(),
                p.pseudonym.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "BSN",
                IdentifierKind::Person,
                "0123456789abcdef",
                p1.as_str()
            ),
            (
                "Kenteken",
                IdentifierKind::Vehicle,
                "0123456789abcdef",
                p2.as_str()
            ),
        ]
    );
    // An empty pseudonym is no pseudonym.
    assert_eq!(get(&all, "2").pseudonyms.len(), 1);
    assert!(get(&all, "3").pseudonyms.is_empty());
    assert!(get(&all, "9").pseudonyms.is_empty());

    // Re-delivered: 1 changed (new key id), 2 unchanged (keeps the first delivery's columns).
    {
        let mut sink = store
            .as_store_mut()
            .incident_sink(&meta("default", "p4", 2), 2)
            .unwrap()
            .unwrap();
        sink.personal_columns(&columns("fedcba9876543210")).unwrap();
        sink.push(with_extra("1", "1.1.1", "h1-new", &[("BSN", &p2)]))
            .unwrap();
        sink.push(with_extra(
            "2",
            "1.2.1",
            "h2",
            &[("BSN", &p1), ("Kenteken", "")],
        ))
        .unwrap();
        sink.finish().unwrap();
    }
    let all = linked(store.as_ref(), &all_of("default"));
    let one = get(&all, "1");
    assert_eq!(one.pseudonyms.len(), 1);
    assert_eq!(one.pseudonyms[0].pseudonym, p2);
    assert_eq!(one.pseudonyms[0].key_id, "fedcba9876543210");
    assert_eq!(get(&all, "2").pseudonyms[0].key_id, "0123456789abcdef");

    // Filters: category and source; another tenant sees nothing.
    let mut f = all_of("default");
    f.categories = vec!["1.2.1".into()];
    let regs: Vec<String> = linked(store.as_ref(), &f)
        .into_iter()
        .map(|i| i.registration)
        .collect();
    assert_eq!(regs, vec!["2".to_string()]);
    let mut f = all_of("default");
    f.sources = vec!["handhaving".into()];
    assert_eq!(linked(store.as_ref(), &f).len(), 1);
    store.as_store_mut().add_tenant("ander", "Ander").unwrap();
    assert!(linked(store.as_ref(), &all_of("ander")).is_empty());
}
