//! The bulk incident write path of the SQLite store (preloaded registrations or per-row lookups, multi-row
//! inserts, the period index dropped and rebuilt for large deliveries) against a plain sequential model of the
//! documented semantics: a new registration is version 1, the same content hash is unchanged, another hash
//! archives the current version and stores the next one; rows are applied in delivery order.

use brandpunt::store::*;
use chrono::{NaiveDate, NaiveDateTime};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// Sequential reference model: registration -> (version, hash, begin), plus the number of archived versions.
#[derive(Default)]
struct Model {
    current: BTreeMap<String, (i64, String, NaiveDateTime)>,
    archived: BTreeMap<String, i64>,
}

impl Model {
    fn apply(&mut self, rows: &[IncidentRecord]) -> (u64, u64, u64) {
        let (mut inserted, mut replaced, mut unchanged) = (0, 0, 0);
        for r in rows {
            match self.current.get_mut(&r.registration) {
                None => {
                    self.current
                        .insert(r.registration.clone(), (1, r.content_hash.clone(), r.begin));
                    inserted += 1;
                }
                Some(cur) if cur.1 == r.content_hash => unchanged += 1,
                Some(cur) => {
                    *self.archived.entry(r.registration.clone()).or_default() += 1;
                    *cur = (cur.0 + 1, r.content_hash.clone(), r.begin);
                    replaced += 1;
                }
            }
        }
        (inserted, replaced, unchanged)
    }
}

fn record(reg: String, hash: String, begin: NaiveDateTime, line: u64) -> IncidentRecord {
    IncidentRecord {
        line,
        registration: reg,
        begin,
        end: begin + chrono::Duration::minutes(90),
        time_known: true,
        category_code: Some("1.1.1".into()),
        category_label: Some("Diefstal/inbraak woning".into()),
        street: Some("Kerkstraat".into()),
        huisnummer: Some("12".into()),
        huisletter: None,
        toevoeging: None,
        postcode: Some("1234AB".into()),
        plaats: Some("Demostad".into()),
        bag_id: None,
        x_m: Some(155_000.0),
        y_m: Some(463_000.0),
        buurtcode: None,
        located_by: LocatedBy::Coordinates,
        match_kind: None,
        match_score: None,
        extra: Default::default(),
        content_hash: hash,
    }
}

/// `n` rows drawn from a pool of `pool` registrations (so a delivery repeats registrations, also within
/// itself), hashes from 3 variants (so re-deliveries are partly unchanged, partly changed), begin times spread
/// over 2024 including the first and last minute of a day.
fn delivery(rng: &mut rand_chacha::ChaCha8Rng, n: usize, pool: usize) -> Vec<IncidentRecord> {
    let day0 = NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    (0..n)
        .map(|i| {
            let reg = format!("PL-{:05}", rng.gen_range(0..pool));
            let hash = format!("h{}", rng.gen_range(0..3));
            let minute = match rng.gen_range(0..4) {
                0 => 0,
                1 => 24 * 60 - 1,
                _ => rng.gen_range(0..24 * 60),
            };
            let begin = day0
                + chrono::Duration::days(rng.gen_range(0..366))
                + chrono::Duration::minutes(minute);
            record(reg, hash, begin, i as u64 + 2)
        })
        .collect()
}

fn meta(checksum: &str, rows: usize) -> DeliveryMeta {
    DeliveryMeta {
        tenant: "default".into(),
        source: "politie".into(),
        kind: "incidents".into(),
        file_name: format!("{checksum}.csv"),
        checksum: checksum.into(),
        total_rows: rows as u64,
    }
}

fn filter(from: Option<NaiveDate>, to: Option<NaiveDate>) -> IncidentFilter {
    IncidentFilter {
        tenant: "default".into(),
        from,
        to,
        ..Default::default()
    }
}

fn check_against_model(store: &SqliteStore, model: &Model) {
    let stored = store.incidents(&filter(None, None)).unwrap();
    let got: BTreeMap<String, (i64, NaiveDateTime)> = stored
        .iter()
        .map(|s| (s.registration.clone(), (s.version, s.begin)))
        .collect();
    assert_eq!(got.len(), stored.len(), "one current row per registration");
    let want: BTreeMap<String, (i64, NaiveDateTime)> = model
        .current
        .iter()
        .map(|(k, v)| (k.clone(), (v.0, v.2)))
        .collect();
    assert_eq!(got, want);
    for (reg, (version, _, _)) in &model.current {
        assert_eq!(
            store.incident_versions("default", "politie", reg).unwrap(),
            1 + model.archived.get(reg).copied().unwrap_or(0),
            "{reg}"
        );
        assert_eq!(
            model.archived.get(reg).copied().unwrap_or(0) + 1,
            *version,
            "{reg}"
        );
    }
    // The period filter (whole days, inclusive) against the model.
    for (from, to) in [(3, 3), (10, 40), (100, 101), (365, 365)] {
        let day = |d: i64| NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(d);
        let (f, t) = (day(from), day(to));
        let mut got: Vec<String> = store
            .incidents(&filter(Some(f), Some(t)))
            .unwrap()
            .into_iter()
            .map(|s| s.registration)
            .collect();
        got.sort();
        let want: Vec<String> = model
            .current
            .iter()
            .filter(|(_, v)| v.2.date() >= f && v.2.date() <= t)
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(got, want, "period {f}..{t}");
    }
    let c = store.connection();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let index: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'incident_query'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 1, "the period index exists after every delivery");
}

#[test]
fn bulk_and_incremental_deliveries_match_the_sequential_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("b.db")).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut model = Model::default();
    // 1: a large first load (registrations preloaded, the period index rebuilt, batches of 32 plus a tail,
    //    repeated registrations within the delivery); 2: a re-delivery of the same size (preloaded again);
    // 3-5: small deliveries into a larger table (per-row lookups, index kept); 6: a single row.
    let sizes = [700usize, 700, 90, 45, 31, 1];
    for (k, &n) in sizes.iter().enumerate() {
        let rows = delivery(&mut rng, n, 600);
        let want = model.apply(&rows);
        let outcome = store
            .store_incident_delivery(&meta(&format!("d{k}"), n), &rows, &[])
            .unwrap();
        assert!(!outcome.already_imported);
        assert_eq!(
            (outcome.inserted, outcome.replaced, outcome.unchanged),
            want,
            "delivery {k} ({n} rows)"
        );
        check_against_model(&store, &model);
    }
    assert!(
        model.archived.values().sum::<i64>() > 100,
        "the test exercises replacements"
    );
}

#[test]
fn a_registration_repeated_within_one_batch_is_versioned_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("b.db")).unwrap();
    let t = NaiveDate::from_ymd_opt(2024, 5, 1)
        .unwrap()
        .and_hms_opt(8, 30, 0)
        .unwrap();
    // R1 three times with hashes a, a, b inside the first 32-row batch; R2 new; R1 again with c after the batch.
    let mut rows = vec![
        record("R1".into(), "a".into(), t, 2),
        record("R1".into(), "a".into(), t, 3),
        record("R2".into(), "x".into(), t, 4),
        record("R1".into(), "b".into(), t, 5),
    ];
    for i in 0..40 {
        rows.push(record(format!("F{i}"), "f".into(), t, 6 + i));
    }
    rows.push(record("R1".into(), "c".into(), t, 46));
    let mut model = Model::default();
    let want = model.apply(&rows);
    assert_eq!(want, (42, 2, 1));
    let o = store
        .store_incident_delivery(&meta("one", rows.len()), &rows, &[])
        .unwrap();
    assert_eq!((o.inserted, o.replaced, o.unchanged), want);
    check_against_model(&store, &model);
    assert_eq!(
        store.incident_versions("default", "politie", "R1").unwrap(),
        3
    );
}
