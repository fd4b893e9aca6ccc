//! The streaming incident import (`import_incident_file`: batches read and placed on one thread, written through
//! `Store::incident_sink` on another, report written line by line) against the whole-file path it replaced:
//! read every row (`read_delivery`), place every row, store everything with `store_incident_delivery`. A
//! delivery several batches long must give the same summary, report file, stored report and stored incidents;
//! a delivery that fails halfway must leave the store as it was.

use brandpunt::area_index::{synthetic as areas_synthetic, AreaIndex};
use brandpunt::geocode::{synthetic, GeocodeIndexBuilder};
use brandpunt::import::delivery::{self, DeliveryError, DeliveryReader};
use brandpunt::import::incidents::{
    import_incident_file, IncidentImportOptions, Locator, IMPORT_BATCH_ROWS, REPORT_ROWS_KEPT,
};
use brandpunt::import::report::{self, ReportEntry};
use brandpunt::store::{DeliveryMeta, IncidentFilter, LocatedBy, ReportRecord, SqliteStore, Store};
use std::path::Path;

fn locator() -> Locator {
    let mut b = GeocodeIndexBuilder::new();
    synthetic::for_each_address(5_000, 7, |a| b.push(a));
    let areas = AreaIndex::build(areas_synthetic::tiling(
        &areas_synthetic::TilingSpec::national(),
    ));
    Locator::new(b.finish(), areas)
}

/// A delivery of `rows` rows (UTF-8, `;`): addresses from the synthetic BAG, every 3rd row an impossible date
/// (rejected), every 50th an address that does not exist (not located), every 1000th row repeats the
/// registration of a row 20,000 lines earlier (a duplicate across batches: the earlier row is rejected), every
/// 17th row located by RD coordinates instead.
fn write_delivery(path: &Path, rows: usize) {
    let mut samples = Vec::new();
    synthetic::for_each_address(5_000, 7, |a| {
        samples.push((
            a.street.to_string(),
            a.huisnummer,
            a.postcode.unwrap_or_default().to_string(),
            a.woonplaats.to_string(),
        ))
    });
    let mut out = String::from(
        "Registratienummer;Pleegdatum begin;Pleegtijd begin;Maatschappelijke klasse;Straat;Huisnummer;Postcode;Plaats;X;Y\r\n",
    );
    for i in 0..rows {
        let (street, nr, pc, wp) = &samples[i % samples.len()];
        let registration = if i % 1000 == 998 && i >= 20_000 && (i - 20_000) % 3 != 0 {
            format!("PL-{:07}", i - 20_000)
        } else {
            format!("PL-{i:07}")
        };
        let date = if i % 3 == 0 {
            "31-02-2024".to_string()
        } else {
            format!("{:02}-{:02}-2024", 1 + i % 28, 1 + (i / 28) % 12)
        };
        let nr = if i % 50 == 1 { nr + 90_000 } else { *nr };
        let (x, y) = if i % 17 == 2 {
            (format!("{},5", 100_000 + i % 50_000), "450000".to_string())
        } else {
            (String::new(), String::new())
        };
        out.push_str(&format!(
            "{registration};{date};{:02}:{:02};1.1.1 Diefstal/inbraak woning;{street};{nr};{pc};{wp};{x};{y}\r\n",
            i % 24,
            i % 60
        ));
    }
    std::fs::write(path, out).unwrap();
}

fn options(report: &Path) -> IncidentImportOptions {
    IncidentImportOptions {
        tenant: "default".into(),
        source: "politie".into(),
        mapping: None,
        report_path: Some(report.to_path_buf()),
    }
}

fn all_incidents(store: &dyn Store) -> Vec<brandpunt::store::StoredIncident> {
    store
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap()
}

fn entry(r: &ReportRecord) -> ReportEntry {
    ReportEntry {
        line: r.line,
        registration: r.registration.clone(),
        column: r.column.clone(),
        reason: r.reason.clone(),
        outcome: report::outcome_label(&r.outcome),
    }
}

#[test]
fn a_delivery_of_several_batches_imports_as_the_whole_file_path_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("levering.csv");
    let rows = IMPORT_BATCH_ROWS * 5 / 2;
    write_delivery(&file, rows);
    let locator = locator();

    // The whole-file path: every row in memory, placed, stored in one call.
    let parsed = delivery::read_delivery(&file, None).unwrap();
    assert_eq!(parsed.total_rows as usize, rows);
    let mut expected_report: Vec<ReportRecord> = parsed
        .rejections
        .iter()
        .map(|r| ReportRecord {
            line: r.line,
            registration: r.registration.clone(),
            column: r.column.clone(),
            reason: r.reason.clone(),
            outcome: "rejected".into(),
        })
        .collect();
    let mut records = Vec::new();
    let (mut by_address, mut by_coordinates, mut not_located) = (0u64, 0u64, 0u64);
    let (mut at_coordinates, mut conflicts) = (0u64, 0u64);
    for row in parsed.rows.clone() {
        let placed = locator.place_owned(row);
        match placed.record.located_by {
            LocatedBy::Address => by_address += 1,
            LocatedBy::Coordinates => by_coordinates += 1,
            _ => {}
        }
        if let Some(r) = placed.report {
            match r.outcome.as_str() {
                "op coördinaten" => at_coordinates += 1,
                "conflict" => conflicts += 1,
                _ => not_located += 1,
            }
            expected_report.push(r);
        }
        records.push(placed.record);
    }
    expected_report.sort_by_key(|r| r.line);
    // The store's report keeps every row the file lists.
    let stored_report: Vec<ReportRecord> = expected_report.clone();
    let mut whole = SqliteStore::open_in_memory().unwrap();
    let meta = DeliveryMeta {
        tenant: "default".into(),
        source: "politie".into(),
        kind: "incidents".into(),
        file_name: parsed.file_name.clone(),
        checksum: parsed.checksum.clone(),
        total_rows: parsed.total_rows,
    };
    let whole_outcome = whole
        .store_incident_delivery(&meta, &records, &stored_report)
        .unwrap();

    // The streaming import.
    let mut store = SqliteStore::open_in_memory().unwrap();
    let report_file = dir.path().join("rapport.csv");
    let summary =
        import_incident_file(&mut store, &locator, &file, &options(&report_file)).unwrap();

    // Duplicates across batches were found: the earlier row is rejected, pointing at the later one.
    let duplicates: Vec<_> = parsed
        .rejections
        .iter()
        .filter(|r| r.reason.starts_with("dubbel in bestand"))
        .collect();
    assert!(duplicates.len() >= 5, "{}", duplicates.len());
    assert!(duplicates.iter().all(|d| d.reason
        == format!(
            "dubbel in bestand: vervangen door regel {}",
            d.line + 20_000
        )));
    assert!(not_located > 0 && by_coordinates > 0 && by_address > 0);
    assert!(at_coordinates > 0 && conflicts > 0);

    assert_eq!(summary.total_rows as usize, rows);
    assert_eq!(summary.rejected as usize, parsed.rejections.len());
    assert_eq!(summary.located_by_address, by_address);
    assert_eq!(summary.located_by_coordinates, by_coordinates);
    assert_eq!(summary.not_located + summary.ambiguous, not_located);
    assert_eq!(summary.at_coordinates, at_coordinates);
    assert_eq!(summary.conflicts, conflicts);
    assert_eq!(summary.outcome.inserted, records.len() as u64);
    assert_eq!(summary.outcome.inserted, whole_outcome.inserted);
    assert_eq!(summary.outcome.reported, stored_report.len() as u64);
    assert_eq!(summary.outcome.reported, whole_outcome.reported);
    // The report values are bounded; the file and the store keep every row.
    assert!(expected_report.len() > REPORT_ROWS_KEPT);
    assert_eq!(summary.report, expected_report[..REPORT_ROWS_KEPT]);
    assert_eq!(
        summary.report_omitted as usize,
        expected_report.len() - REPORT_ROWS_KEPT
    );
    let mut expected_file = Vec::new();
    let entries: Vec<ReportEntry> = expected_report.iter().map(entry).collect();
    report::write_report_to(&mut expected_file, &entries).unwrap();
    assert_eq!(std::fs::read(&report_file).unwrap(), expected_file);
    let id = summary.outcome.delivery_id.unwrap();
    let whole_id = whole_outcome.delivery_id.unwrap();
    assert_eq!(
        store.report_rows(id).unwrap(),
        whole.report_rows(whole_id).unwrap()
    );
    let stored = all_incidents(&store);
    assert_eq!(stored.len(), records.len());
    assert_eq!(stored, all_incidents(&whole));

    // Idempotent: the same file again stores nothing and reports the same.
    std::fs::remove_file(&report_file).unwrap();
    let again = import_incident_file(&mut store, &locator, &file, &options(&report_file)).unwrap();
    assert!(again.outcome.already_imported);
    assert_eq!(again.report, summary.report);
    assert_eq!(again.located_by_address, summary.located_by_address);
    assert_eq!(std::fs::read(&report_file).unwrap(), expected_file);
    assert_eq!(all_incidents(&store), stored);
    assert_eq!(store.deliveries("default").unwrap().len(), 1);
}

#[test]
fn a_delivery_that_fails_halfway_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let locator = locator();
    let mut store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    let first = dir.path().join("week1.csv");
    write_delivery(&first, 500);
    let report_file = dir.path().join("rapport.csv");
    import_incident_file(&mut store, &locator, &first, &options(&report_file)).unwrap();
    let before = all_incidents(&store);
    let deliveries = store.deliveries("default").unwrap();
    assert!(!before.is_empty());

    let second = dir.path().join("week2.csv");
    write_delivery(&second, IMPORT_BATCH_ROWS * 2 + 100);
    let meta = |reader: &DeliveryReader<'_>| DeliveryMeta {
        tenant: "default".into(),
        source: "politie".into(),
        kind: "incidents".into(),
        file_name: reader.file_name().into(),
        checksum: reader.checksum().into(),
        total_rows: reader.total_rows(),
    };

    // The writing side fails after the first batch: nothing of the delivery is stored.
    {
        let reader = DeliveryReader::open(&second, None).unwrap();
        let mut sink = store
            .incident_sink(&meta(&reader), reader.accepted_rows())
            .unwrap()
            .unwrap();
        let mut batches = 0;
        let result = reader.for_each_batch(IMPORT_BATCH_ROWS, |items| {
            batches += 1;
            if batches == 2 {
                return Err(DeliveryError::Empty {
                    file: "schrijven mislukt".into(),
                });
            }
            for row in items.into_iter().flatten() {
                sink.push(locator.place_owned(row).record).unwrap();
            }
            Ok(())
        });
        assert!(result.is_err());
    }
    assert_eq!(all_incidents(&store), before);
    assert_eq!(store.deliveries("default").unwrap(), deliveries);

    // The file changes while it is read: every row was pushed, the check at the end fails, nothing is stored.
    {
        let reader = DeliveryReader::open(&second, None).unwrap();
        let mut sink = store
            .incident_sink(&meta(&reader), reader.accepted_rows())
            .unwrap()
            .unwrap();
        let mut text = std::fs::read_to_string(&second).unwrap();
        text = text.replacen("PL-0000001;", "PL-9999999;", 1);
        std::fs::write(&second, text).unwrap();
        let result = reader.for_each_batch(IMPORT_BATCH_ROWS, |items| {
            for row in items.into_iter().flatten() {
                sink.push(locator.place_owned(row).record).unwrap();
            }
            Ok::<(), DeliveryError>(())
        });
        assert!(
            matches!(result, Err(DeliveryError::Changed { .. })),
            "{result:?}"
        );
    }
    assert_eq!(all_incidents(&store), before);
    assert_eq!(store.deliveries("default").unwrap(), deliveries);

    // The (changed) file imports afterwards as a new delivery.
    let summary =
        import_incident_file(&mut store, &locator, &second, &options(&report_file)).unwrap();
    assert!(!summary.outcome.already_imported);
    assert!(summary.outcome.inserted > 0);
    assert_eq!(store.deliveries("default").unwrap().len(), 2);
}
