//! The PostgreSQL store on a real, throwaway cluster ([`crate::postgres_cluster`]): the store conformance suite
//! ([`store_conformance`]) as on SQLite, migrations by replicas starting together, a delivery rolled back when
//! its writer goes away, and tenant isolation in the database itself (row-level security for the serving role).

use brandpunt::store::*;
use chrono::NaiveDate;
use std::path::Path;

use crate::postgres_cluster::cluster;
use crate::store_conformance;

fn opener(user: &str, database: &str) -> StoreOpener {
    StoreOpener::new(Path::new(&cluster().url(user, database))).unwrap()
}

/// The PostgreSQL backend passes the store conformance suite, each check on a new database, as a table owner
/// that is no superuser (so row-level security applies to every query of the store).
#[test]
fn postgres_store_conforms() {
    store_conformance::run_all(&|| {
        let database = cluster().database();
        store_conformance::EmptyStore::new(opener("brandpunt", &database), Box::new(database))
    });
}

fn incident(registration: &str, hash: &str) -> IncidentRecord {
    let at = NaiveDate::from_ymd_opt(2024, 3, 1)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    IncidentRecord {
        line: 2,
        registration: registration.into(),
        begin: at,
        end: at,
        time_known: true,
        category_code: Some("1.1.1".into()),
        category_label: None,
        street: None,
        huisnummer: None,
        huisletter: None,
        toevoeging: None,
        postcode: None,
        plaats: None,
        bag_id: None,
        x_m: Some(155_000.0),
        y_m: Some(463_000.0),
        buurtcode: None,
        located_by: LocatedBy::Coordinates,
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

/// Several replicas opening a new database at once apply each migration exactly once (advisory lock).
#[test]
fn replicas_starting_together_migrate_once() {
    let database = cluster().database();
    let opener = opener("brandpunt", &database);
    let versions: Vec<i64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| opener.open().unwrap().schema_version().unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(versions[0] > 0);
    assert!(versions.iter().all(|v| *v == versions[0]), "{versions:?}");
    let applied = cluster().psql(
        "brandpunt",
        &database,
        "SELECT count(*) || '/' || count(DISTINCT version) FROM schema_migration",
    );
    assert_eq!(applied, format!("{0}/{0}", versions[0]));
}

/// A delivery whose writer is dropped halfway (an error, a killed import) leaves nothing behind, and the
/// connection is usable again at once.
#[test]
fn an_unfinished_delivery_leaves_nothing() {
    let database = cluster().database();
    let mut store = opener("brandpunt", &database).open().unwrap();
    {
        let mut sink = store
            .incident_sink(&meta("default", "half"), 5_000)
            .unwrap()
            .unwrap();
        for k in 0..4_500 {
            sink.push(incident(&format!("R{k}"), "h")).unwrap();
        }
        // Dropped without finish.
    }
    assert!(store.deliveries("default").unwrap().is_empty());
    let all = IncidentFilter {
        tenant: "default".into(),
        ..Default::default()
    };
    assert!(store.incidents(&all).unwrap().is_empty());
    let again = store
        .store_incident_delivery(&meta("default", "half"), &[incident("R1", "h")], &[])
        .unwrap();
    assert_eq!((again.inserted, again.already_imported), (1, false));
}

/// The documented role set-up: the owner migrates, the serving role (no owner, no superuser) works through the
/// store, and a direct query as the serving role sees no tenant rows without the tenant setting, and only its
/// tenant's rows with it.
#[test]
fn the_serving_role_sees_no_tenant_rows_without_the_tenant_setting() {
    let c = cluster();
    let database = c.database();
    c.psql(
        "brandpunt",
        &database,
        "ALTER DEFAULT PRIVILEGES FOR ROLE brandpunt GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO brandpunt_app;
         ALTER DEFAULT PRIVILEGES FOR ROLE brandpunt GRANT USAGE, SELECT ON SEQUENCES TO brandpunt_app;",
    );
    drop(opener("brandpunt", &database).open().unwrap());
    let mut app = opener("brandpunt_app", &database).open().unwrap();
    app.add_tenant("ander", "Andere gemeente").unwrap();
    app.store_incident_delivery(
        &meta("default", "d1"),
        &[incident("A", "a"), incident("B", "b")],
        &[],
    )
    .unwrap();
    app.store_incident_delivery(&meta("ander", "a1"), &[incident("C", "c")], &[])
        .unwrap();
    let square: geo_types::MultiPolygon<f64> =
        geo_types::Rect::new((155_000.0, 463_000.0), (155_100.0, 463_100.0))
            .to_polygon()
            .into();
    app.insert_custom_area("ander", "Plein", &square).unwrap();
    app.add_user("ander", "piet", brandpunt::access::Role::Analyst, &[])
        .unwrap();
    let owned = [
        "delivery",
        "incident",
        "incident_history",
        "report_row",
        "indicator",
        "custom_area",
        "delivery_personal",
        "tenant_gemeente",
        "app_user",
        "api_token",
    ];
    for table in owned {
        assert_eq!(
            c.psql(
                "brandpunt_app",
                &database,
                &format!("SELECT count(*) FROM {table}")
            ),
            "0",
            "{table} without the tenant setting"
        );
    }
    let ander = c.psql(
        "brandpunt_app",
        &database,
        "SELECT id FROM tenant WHERE code = 'ander'",
    );
    // The last line is the answer of `sql` (psql prints set_config's too).
    let scoped = |sql: &str| {
        c.psql(
            "brandpunt_app",
            &database,
            &format!(
                "BEGIN; SELECT set_config('brandpunt.tenant', '{ander}', true); {sql}; COMMIT;"
            ),
        )
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
    };
    assert_eq!(
        scoped("SELECT string_agg(registration, ',') FROM incident"),
        "C"
    );
    assert_eq!(scoped("SELECT count(*) FROM custom_area"), "1");
    // The serving role cannot write a row of another tenant either, nor get around the policy.
    let other = c.try_psql(
        "brandpunt_app",
        &database,
        &format!(
            "BEGIN; SELECT set_config('brandpunt.tenant', '{ander}', true);
             INSERT INTO tenant_gemeente (tenant_id, gemeentecode)
             SELECT id, 'GM0363' FROM tenant WHERE code = 'default'; COMMIT;"
        ),
    );
    assert!(
        other.is_err_and(|e| e.contains("row-level security")),
        "a row of another tenant is refused"
    );
    assert!(c
        .try_psql(
            "brandpunt_app",
            &database,
            "ALTER TABLE incident DISABLE ROW LEVEL SECURITY"
        )
        .is_err());
    // Through the store, each tenant sees its own incidents.
    let regs = |tenant: &str| -> Vec<String> {
        app.incidents(&IncidentFilter {
            tenant: tenant.into(),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|i| i.registration)
        .collect()
    };
    assert_eq!(regs("default"), ["A", "B"]);
    assert_eq!(regs("ander"), ["C"]);
}

/// An incident's tenant and delivery are checked per statement (migration 6 replaced the per-row foreign keys):
/// an incident of a delivery that does not exist, or of another tenant's delivery, is refused, and a delivery (or
/// tenant) that incidents refer to can be neither deleted nor renumbered.
#[test]
fn incidents_refer_to_an_existing_delivery_of_their_tenant() {
    let c = cluster();
    let database = c.database();
    let mut store = opener("brandpunt", &database).open().unwrap();
    store.add_tenant("ander", "Andere gemeente").unwrap();
    store
        .store_incident_delivery(&meta("default", "d1"), &[incident("A", "a")], &[])
        .unwrap();
    store
        .store_incident_delivery(&meta("ander", "a1"), &[incident("B", "b")], &[])
        .unwrap();
    drop(store);
    let id = |sql: &str| c.psql("brandpunt", &database, sql);
    let default_id = id("SELECT id FROM tenant WHERE code = 'default'");
    let ander_id = id("SELECT id FROM tenant WHERE code = 'ander'");
    let all = "SELECT set_config('brandpunt.tenant', 'all', true)";
    let ander_delivery = id(&format!(
        "BEGIN; {all}; SELECT id FROM delivery WHERE tenant_id = {ander_id}; COMMIT;"
    ))
    .lines()
    .last()
    .unwrap()
    .to_string();
    let insert = |delivery: &str| {
        format!(
            "INSERT INTO incident (tenant_id, source, registration, version, delivery_id, line, begin_min, end_min,
                                   time_known, located_by, content_hash)
             VALUES ({default_id}, 'politie', 'X', 1, {delivery}, 2, 0, 0, true, 'none', 'h')"
        )
    };
    let refused = |sql: &str| {
        let outcome = c.try_psql(
            "brandpunt",
            &database,
            &format!("BEGIN; {all}; {sql}; COMMIT;"),
        );
        assert!(
            outcome.as_ref().is_err_and(|e| e.contains("refer")),
            "{sql}: {outcome:?}"
        );
    };
    refused(&insert("999999"));
    refused(&insert(&ander_delivery));
    refused(&format!(
        "UPDATE incident SET delivery_id = {ander_delivery} WHERE registration = 'A'"
    ));
    refused(&format!("DELETE FROM delivery WHERE id = {ander_delivery}"));
    refused(&format!(
        "UPDATE delivery SET id = 999999 WHERE id = {ander_delivery}"
    ));
    refused(&format!(
        "DELETE FROM tenant_change WHERE tenant_id = {ander_id}; DELETE FROM tenant WHERE id = {ander_id}"
    ));
    // Nothing was refused by mistake: a correct row goes in, and an unreferenced delivery can go.
    let own_delivery = id(&format!(
        "BEGIN; {all}; SELECT id FROM delivery WHERE tenant_id = {default_id}; COMMIT;"
    ))
    .lines()
    .last()
    .unwrap()
    .to_string();
    c.psql(
        "brandpunt",
        &database,
        &format!("BEGIN; {all}; {}; COMMIT;", insert(&own_delivery)),
    );
    c.psql(
        "brandpunt",
        &database,
        &format!(
            "BEGIN; {all};
             INSERT INTO delivery (tenant_id, source, kind, file_name, checksum, imported_at, total_rows, inserted,
                                   replaced, unchanged, reported)
             VALUES ({default_id}, 'politie', 'incidents', 'leeg.csv', 'leeg', 'nu', 0, 0, 0, 0, 0);
             DELETE FROM delivery WHERE checksum = 'leeg'; COMMIT;"
        ),
    );
}

/// Push one delivery through a store's sink: rows and report rows interleaved (every 9th row also reported).
fn push_all(store: &mut dyn Store, m: &DeliveryMeta, rows: &[(String, String)]) -> DeliveryOutcome {
    let mut sink = store
        .incident_sink(m, rows.len() as u64)
        .unwrap()
        .expect("a new delivery");
    for (k, (registration, hash)) in rows.iter().enumerate() {
        let mut inc = incident(registration, hash);
        inc.line = k as u64 + 2;
        inc.category_code = Some(format!("1.{}", hash.len()));
        sink.push(inc).unwrap();
        if k % 9 == 0 {
            sink.push_report(&ReportRecord {
                line: k as u64 + 2,
                registration: Some(registration.clone()),
                column: (k % 2 == 0).then(|| "Postcode".to_string()),
                reason: format!("reden {k}"),
                outcome: "not_located".into(),
            })
            .unwrap();
        }
    }
    sink.finish().unwrap()
}

/// Deliveries larger than one staging batch, with registrations repeated within a delivery (same and changed
/// content, inside a batch and across batches) and a second delivery replacing a third of the rows: the
/// PostgreSQL bulk path (COPY into staging, merged per batch) stores exactly what SQLite stores: the same
/// outcome counts, current rows in the same order, versions and report rows.
#[test]
fn bulk_deliveries_across_staging_batches_store_what_sqlite_stores() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("peer.db");
    let mut sqlite = StoreOpener::new(&sqlite_path).unwrap().open().unwrap();
    let database = cluster().database();
    let mut postgres = opener("brandpunt", &database).open().unwrap();

    let n = 20_000usize;
    let mut first: Vec<(String, String)> =
        (0..n).map(|k| (format!("R{k:06}"), "a".into())).collect();
    // Repeats: some right after the original (inside a batch), some far later (across batches), unchanged or
    // changed, one changed twice.
    for k in (0..n).step_by(97) {
        let hash = if k % 2 == 0 { "a" } else { "bb" };
        first.insert((k + 1).min(first.len()), (format!("R{k:06}"), hash.into()));
    }
    for k in (0..n).step_by(1_013) {
        first.push((format!("R{k:06}"), "ccc".into()));
        first.push((format!("R{k:06}"), "dddd".into()));
    }
    let second: Vec<(String, String)> = (0..n + 500)
        .map(|k| {
            let hash = if k % 3 == 0 { "eeeee" } else { "a" };
            (format!("R{k:06}"), hash.to_string())
        })
        .collect();

    let mut outcomes = Vec::new();
    for store in [&mut sqlite, &mut postgres] {
        let store: &mut dyn Store = store.as_store_mut();
        let o1 = push_all(store, &meta("default", "bulk1"), &first);
        let o2 = push_all(store, &meta("default", "bulk2"), &second);
        outcomes.push((o1, o2));
    }
    let strip = |o: &DeliveryOutcome| (o.inserted, o.replaced, o.unchanged, o.reported);
    assert_eq!(
        strip(&outcomes[1].0),
        strip(&outcomes[0].0),
        "first delivery"
    );
    assert_eq!(
        strip(&outcomes[1].1),
        strip(&outcomes[0].1),
        "second delivery"
    );
    assert!(outcomes[0].0.replaced > 0 && outcomes[0].0.unchanged > 0);
    assert!(outcomes[0].1.inserted == 500 && outcomes[0].1.replaced > n as u64 / 4);

    let all = IncidentFilter {
        tenant: "default".into(),
        ..Default::default()
    };
    let rows = |store: &dyn Store| -> Vec<(String, i64, Option<String>)> {
        store
            .incidents(&all)
            .unwrap()
            .into_iter()
            .map(|i| (i.registration, i.version, i.category_code))
            .collect()
    };
    let expected = rows(sqlite.as_store());
    assert_eq!(expected.len(), n + 500);
    assert_eq!(rows(postgres.as_store()), expected);
    for k in [0usize, 97, 1_013, 2_026, 3 * 97, n - 1, n + 200] {
        let registration = format!("R{k:06}");
        assert_eq!(
            postgres
                .incident_versions("default", "politie", &registration)
                .unwrap(),
            sqlite
                .incident_versions("default", "politie", &registration)
                .unwrap(),
            "{registration}"
        );
    }
    for (o_sqlite, o_postgres) in [
        (&outcomes[0].0, &outcomes[1].0),
        (&outcomes[0].1, &outcomes[1].1),
    ] {
        let reports = |store: &dyn Store, o: &DeliveryOutcome| {
            store.report_rows(o.delivery_id.unwrap()).unwrap()
        };
        let expected = reports(sqlite.as_store(), o_sqlite);
        assert!(!expected.is_empty());
        assert_eq!(reports(postgres.as_store(), o_postgres), expected);
    }
}
