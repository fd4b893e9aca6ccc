//! The `.xlsx` downloads (statistics per area, compare, the monthly report, repeats, the patrol list), read back
//! with an independent reader (GDAL's XLSX driver, header row forced, column types inferred from the cells) and
//! compared cell by cell with the CSV or JSON of the same request, for an analyst (exact counts, addresses) and
//! for a viewer and an anonymous caller (protected counts: an empty count cell with its `"< k"` label).

use crate::common::server::{self as srv, Resp, Who};
use gdal::vector::LayerAccess;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// `[privacy] min_count` of the server: small enough that the demo has both published and withheld counts.
const K: i64 = 4;
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn server() -> &'static srv::RoleServer {
    static S: OnceLock<srv::RoleServer> = OnceLock::new();
    S.get_or_init(|| srv::RoleServer::start("xlsx", &format!("[privacy]\nmin_count = {K}\n")))
}

fn get(who: Who, path: &str) -> Resp {
    server().get(who, path)
}

/// The second half of the demo period (many buurten have only a few burglaries in it).
fn query() -> String {
    let m = get(Who::Analyst, "/api/meta").json();
    let d = |k: &str| {
        chrono::NaiveDate::parse_from_str(m["period"][k].as_str().unwrap(), "%Y-%m-%d").unwrap()
    };
    let (first, last) = (d("first"), d("last"));
    let from = first + chrono::Days::new(((last - first).num_days() / 2) as u64);
    format!("category=inbraak&from={from}&to={last}")
}

/// A cell as read back: empty, a number (from a numeric column) or text.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Empty,
    Number(f64),
    Text(String),
}

/// One worksheet as GDAL reads it.
#[derive(Debug)]
struct ReadSheet {
    name: String,
    /// Column names and GDAL's field type names.
    fields: Vec<(String, String)>,
    rows: Vec<Vec<Cell>>,
}

impl ReadSheet {
    fn col(&self, name: &str) -> usize {
        self.fields
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{}: no column {name} in {:?}", self.name, self.fields))
    }
    fn header(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_str()).collect()
    }
    fn is_numeric(&self, name: &str) -> bool {
        matches!(
            self.fields[self.col(name)].1.as_str(),
            "Integer" | "Integer64" | "Real"
        )
    }
}

/// Check the answer's headers and read its workbook with GDAL (through `/vsimem`).
fn read_workbook(r: &Resp, file_prefix: &str) -> Vec<ReadSheet> {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type(), XLSX);
    let disposition = r.header("content-disposition").unwrap_or_default();
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"{file_prefix}"))
            && disposition.ends_with(".xlsx\""),
        "{disposition}"
    );
    assert_eq!(&r.body[..2], b"PK", "a zip archive");
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = format!("/vsimem/xlsx-api-{n}.xlsx");
    gdal::vsi::create_mem_file(&path, r.body.clone()).unwrap();
    if let Ok(d) = std::env::var("XLSX_DEBUG_DIR") {
        std::fs::write(format!("{d}/{file_prefix}-{n}.xlsx"), &r.body).unwrap();
    }
    // Column types as GDAL infers them from the cells; values as the cells' own text (GDAL's conversion of a
    // numeric cell to a double can be one unit in the last place off; the text is what the file holds).
    // GDAL 3.6's XLSX driver takes these as (thread-local) configuration options, read when it loads a sheet.
    let config = |types: &str| {
        gdal::config::set_thread_local_config_option("OGR_XLSX_HEADERS", "FORCE").unwrap();
        gdal::config::set_thread_local_config_option("OGR_XLSX_FIELD_TYPES", types).unwrap();
    };
    let open = || {
        gdal::Dataset::open_ex(
            &path,
            gdal::DatasetOptions {
                allowed_drivers: Some(&["XLSX"]),
                ..Default::default()
            },
        )
        .unwrap()
    };
    config("AUTO");
    let typed = open();
    let types: Vec<(String, Vec<(String, String)>)> = typed
        .layers()
        .map(|layer| {
            let _ = layer.feature_count();
            let fields = layer
                .defn()
                .fields()
                .map(|f| (f.name(), gdal::vector::field_type_to_name(f.field_type())))
                .collect();
            (layer.name(), fields)
        })
        .collect();
    drop(typed);
    config("STRING");
    let text = open();
    let mut out = Vec::new();
    for (mut text_layer, (name, fields)) in text.layers().zip(types) {
        assert_eq!(text_layer.name(), name);
        let text_fields: Vec<String> = text_layer.defn().fields().map(|f| f.name()).collect();
        assert_eq!(
            fields.iter().map(|f| &f.0).collect::<Vec<_>>(),
            text_fields.iter().collect::<Vec<_>>()
        );
        let numeric: Vec<bool> = fields
            .iter()
            .map(|(_, t)| matches!(t.as_str(), "Integer" | "Integer64" | "Real"))
            .collect();
        let rows = text_layer
            .features()
            .map(|f| {
                (0..fields.len())
                    .map(|i| match f.field_as_string(i).unwrap() {
                        Some(s) if s.is_empty() => Cell::Empty,
                        None => Cell::Empty,
                        Some(s) if numeric[i] => Cell::Number(
                            s.parse()
                                .unwrap_or_else(|e| panic!("{}: {s}: {e}", fields[i].0)),
                        ),
                        Some(s) => Cell::Text(s),
                    })
                    .collect()
            })
            .collect();
        out.push(ReadSheet { name, fields, rows });
    }
    drop(text);
    for k in ["OGR_XLSX_HEADERS", "OGR_XLSX_FIELD_TYPES"] {
        gdal::config::clear_thread_local_config_option(k).unwrap();
    }
    gdal::vsi::unlink_mem_file(&path).unwrap();
    out
}

fn sheet<'a>(book: &'a [ReadSheet], name: &str) -> &'a ReadSheet {
    book.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no sheet {name}: {:?}",
            book.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

/// What a JSON value must read back as (booleans are `ja`/`nee`).
fn expected_cell(v: Option<&Value>) -> Cell {
    match v {
        None | Some(Value::Null) => Cell::Empty,
        Some(Value::Bool(b)) => Cell::Text(if *b { "ja" } else { "nee" }.into()),
        Some(Value::Number(n)) => Cell::Number(n.as_f64().unwrap()),
        Some(Value::String(s)) if s.is_empty() => Cell::Empty,
        Some(Value::String(s)) => Cell::Text(s.clone()),
        Some(other) => panic!("not a cell: {other}"),
    }
}

/// A read cell against the expected one from the JSON answer: a number read from a text column (a column GDAL
/// typed as text because other cells in it are labels) compares by its value. Numbers compare within 2 units in
/// the last place: serde_json's default float parser (no `float_roundtrip`) may land one unit off the double the
/// server printed, while the workbook's own text is the shortest round-trip form of it.
fn same(read: &Cell, want: &Cell) -> bool {
    let close =
        |a: f64, b: f64| a == b || (a - b).abs() <= 2.0 * f64::EPSILON * a.abs().max(b.abs());
    match (read, want) {
        (Cell::Text(t), Cell::Number(n)) => t.parse::<f64>().is_ok_and(|v| close(v, *n)),
        (Cell::Number(a), Cell::Number(b)) => close(*a, *b),
        _ => read == want,
    }
}

/// Every row of `sheet` equals the object of `items` at the same position, column by column (by key).
fn assert_sheet_is_json(sheet: &ReadSheet, items: &[Value], what: &str) {
    assert_eq!(
        sheet.rows.len(),
        items.len(),
        "{what}: rows {:?} for {items:?}",
        sheet.rows
    );
    for (i, (row, item)) in sheet.rows.iter().zip(items).enumerate() {
        for (c, (name, _)) in sheet.fields.iter().enumerate() {
            let want = expected_cell(item.get(name));
            assert!(
                same(&row[c], &want),
                "{what} row {i} column {name}: read {:?}, JSON {want:?}",
                row[c]
            );
        }
    }
}

/// The JSON counts of the key `count` in `items` that are withheld (null with a label) and published.
fn withheld_and_published(items: &[Value], count: &str) -> (usize, usize) {
    let withheld = items
        .iter()
        .filter(|i| i[count].is_null() && i["count_label"].is_string())
        .count();
    let published = items.iter().filter(|i| i[count].is_number()).count();
    (withheld, published)
}

#[test]
fn stats_xlsx_equals_the_csv_cell_by_cell() {
    let q = query();
    for who in [Who::Analyst, Who::Viewer, Who::Anonymous] {
        let path = format!("level=buurt&{q}");
        let book = read_workbook(
            &get(who, &format!("/api/stats.xlsx?{path}")),
            "brandpunt-buurt",
        );
        assert_eq!(book.len(), 1);
        let s = &book[0];
        assert_eq!(s.name, "Buurten");
        let csv_body = get(who, &format!("/api/stats.csv?{path}"));
        assert_eq!(csv_body.status, 200);
        let mut rd = csv::Reader::from_reader(csv_body.body.as_slice());
        let mut header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(header.pop().as_deref(), Some("wkt"));
        assert_eq!(s.header(), header, "{who:?}: the CSV's columns but wkt");
        // Numbers are numeric cells, the labels text.
        for c in ["count", "inhabitants", "rate", "prev_count"] {
            assert!(s.is_numeric(c), "{who:?}: {c} is {:?}", s.fields[s.col(c)]);
        }
        let records: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        assert_eq!(s.rows.len(), records.len(), "{who:?}: rows");
        let mut labels = 0;
        for (row, rec) in s.rows.iter().zip(&records) {
            for (c, name) in header.iter().enumerate() {
                let text = &rec[c];
                let want = if text.is_empty() {
                    Cell::Empty
                } else if s.is_numeric(name) {
                    Cell::Number(text.parse().unwrap())
                } else {
                    Cell::Text(text.to_string())
                };
                assert_eq!(row[c], want, "{who:?} {} {name}", &rec[0]);
            }
            if let Cell::Text(l) = &row[s.col("count_label")] {
                assert!(l == &format!("< {K}") || l == &format!(">= {K}"), "{l}");
                assert_eq!(row[s.col("count")], Cell::Empty);
                labels += 1;
            }
        }
        // Protected callers see labels in the demo's second half; the analyst sees every count.
        if who == Who::Analyst {
            assert_eq!(labels, 0);
        } else {
            assert!(
                labels > 0,
                "{who:?}: no withheld count, the comparison shows nothing"
            );
        }
    }
    let r = get(Who::Analyst, "/api/stats.xlsx?level=provincie");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["parameter"], "level");
}

#[test]
fn the_monthly_reports_tables_equal_its_json() {
    let q = query();
    let month = &q[q.len() - 10..q.len() - 3];
    let path = format!("/api/report/monthly?month={month}&category=inbraak");
    let mut withheld = 0;
    for who in [Who::Analyst, Who::Viewer] {
        let v = get(who, &path).json();
        let book = read_workbook(
            &get(who, &format!("{path}&format=xlsx")),
            &format!("brandpunt-maandanalyse-{month}"),
        );
        let names: Vec<&str> = book.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Totaal", "Maanden", "Buurten", "Categorieën"]);
        let mut total = v["total"].clone();
        for k in ["month", "from", "to", "filter"] {
            total[k] = v[k].clone();
        }
        assert_sheet_is_json(sheet(&book, "Totaal"), &[total], "Totaal");
        for (name, key, count) in [
            ("Maanden", "series", "count"),
            ("Buurten", "areas", "observed"),
            ("Categorieën", "categories", "observed"),
        ] {
            let items = v[key].as_array().unwrap();
            let s = sheet(&book, name);
            assert_sheet_is_json(s, items, &format!("{who:?} {name}"));
            assert!(s.header().contains(&count) && s.header().contains(&"count_label"));
            let (w, p) = withheld_and_published(items, count);
            assert!(p > 0, "{who:?} {name}: nothing published");
            if who == Who::Analyst {
                assert_eq!(w, 0);
            }
            withheld += w;
        }
    }
    assert!(withheld > 0, "the viewer's report withholds some count");
    let r = get(Who::Viewer, &format!("{path}&format=pdf"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["parameter"], "format");
}

#[test]
fn compare_xlsx_equals_its_json() {
    let q = query();
    let params: BTreeMap<&str, &str> = q.split('&').map(|kv| kv.split_once('=').unwrap()).collect();
    // Buurten with few burglaries and the busiest one, from the analyst's statistics.
    let stats = get(Who::Analyst, &format!("/api/stats.geojson?level=buurt&{q}")).json();
    let mut counts: Vec<(i64, String)> = stats["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["properties"]["count"].as_i64().unwrap(),
                f["properties"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    counts.sort();
    let mut areas: Vec<String> = counts
        .iter()
        .filter(|(n, _)| (1..K).contains(n))
        .take(3)
        .map(|(_, c)| c.clone())
        .collect();
    assert!(!areas.is_empty());
    let busiest = counts.last().unwrap().1.clone();
    let second = counts[counts.len() - 2].1.clone();
    areas.push(busiest.clone());
    let body = json!({
        "areas": areas, "category": "inbraak", "from": params["from"], "to": params["to"], "step": "month",
        "intervention": {"target": busiest, "buffer_m": 250, "control": second},
    });
    let mut withheld = 0;
    for who in [Who::Analyst, Who::Viewer] {
        let v = server().post(who, "/api/compare", &body.to_string()).json();
        let book = read_workbook(
            &server().post(who, "/api/compare?format=xlsx", &body.to_string()),
            "brandpunt-vergelijking",
        );
        let items = v["areas"].as_array().unwrap();
        assert_sheet_is_json(sheet(&book, "Gebieden"), items, "Gebieden");
        assert!(sheet(&book, "Gebieden").is_numeric("vs_count"));
        for (name, key) in [
            ("Reeks periode", "series"),
            ("Reeks vergelijking", "vs_series"),
        ] {
            let steps: Vec<Value> = items
                .iter()
                .flat_map(|a| {
                    a[key].as_array().unwrap().iter().map(|s| {
                        let mut s = s.clone();
                        s["code"] = a["code"].clone();
                        s["name"] = a["name"].clone();
                        s
                    })
                })
                .collect();
            assert!(!steps.is_empty());
            assert_sheet_is_json(sheet(&book, name), &steps, name);
        }
        let periods = sheet(&book, "Perioden");
        assert_eq!(periods.rows.len(), 2);
        assert_eq!(
            periods.rows[0][periods.col("from")],
            expected_cell(Some(&v["period"]["from"]))
        );
        assert_eq!(
            periods.rows[1][periods.col("days")],
            expected_cell(Some(&v["vs_period"]["days"]))
        );
        // The WDQ: its members (the counts flattened) in one row, or only `suppressed`.
        let wdq = sheet(&book, "Verplaatsing (WDQ)");
        let mut flat = v["wdq"].clone();
        if let Some(c) = v["wdq"]["counts"].as_object() {
            for (k, x) in c {
                flat[k.as_str()] = x.clone();
            }
        }
        assert_sheet_is_json(wdq, &[flat], "WDQ");
        let (w, _) = withheld_and_published(items, "count");
        if who == Who::Analyst {
            assert_eq!(w, 0);
            assert!(wdq.header().contains(&"target_before"));
        }
        withheld += w;
    }
    assert!(
        withheld > 0,
        "the viewer's comparison withholds small counts"
    );
}

#[test]
fn repeats_xlsx_equals_its_json_and_lists_addresses_only_for_analysts_audited() {
    // The whole period: in its second half alone the viewer sees no buurt's burglary count.
    let q = "category=inbraak";
    // The busiest buurt whose count the viewer sees (a withheld buurt's repeats are withheld whole) and whose
    // incidents have addresses.
    let stats = get(Who::Viewer, &format!("/api/stats.geojson?level=buurt&{q}")).json();
    let mut candidates: Vec<(i64, String)> = stats["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let p = &f["properties"];
            Some((p["count"].as_i64()?, p["code"].as_str()?.to_string()))
        })
        .collect();
    candidates.sort_by(|a, b| b.cmp(a));
    let busiest = candidates
        .into_iter()
        .map(|(_, code)| code)
        .find(|code| {
            let v = get(Who::Analyst, &format!("/api/areas/{code}/repeats?{q}")).json();
            v["per_address"].as_array().is_some_and(|a| !a.is_empty())
        })
        .expect("a published buurt with addresses");
    let path = format!("/api/areas/{busiest}/repeats?{q}");
    let audited = || -> Vec<i64> {
        let s = brandpunt::store::SqliteStore::open(&server().server.db).unwrap();
        use brandpunt::store::PrivacyStore;
        s.audit_records(None, None)
            .unwrap()
            .into_iter()
            .filter(|r| r.actor == "xlsx-analist" && r.endpoint.contains("repeats"))
            .map(|r| r.records)
            .collect()
    };
    for who in [Who::Analyst, Who::Viewer, Who::Anonymous] {
        let v = get(who, &path).json();
        let before = audited();
        let book = read_workbook(
            &get(who, &format!("{path}&format=xlsx")),
            &format!("brandpunt-herhaling-{busiest}"),
        );
        let after = audited();
        let summary = sheet(&book, "Samenvatting");
        assert_sheet_is_json(summary, std::slice::from_ref(&v), "Samenvatting");
        assert_eq!(
            summary.rows[0][summary.col("code")],
            Cell::Text(busiest.clone())
        );
        let hist = v["histogram"].as_array().unwrap();
        assert_sheet_is_json(sheet(&book, "Aantal per adres"), hist, "Aantal per adres");
        assert_sheet_is_json(
            sheet(&book, "Tijd tot volgende"),
            v["time_to_next"].as_array().unwrap(),
            "Tijd tot volgende",
        );
        let listed = book.iter().find(|s| s.name == "Per adres");
        if who == Who::Analyst {
            let per_address = v["per_address"].as_array().unwrap();
            assert!(!per_address.is_empty());
            assert_sheet_is_json(listed.unwrap(), per_address, "Per adres");
            // The workbook's listing is audited like the JSON's: one more record of the listed addresses.
            assert_eq!(after.len(), before.len() + 1);
            assert_eq!(after.last(), Some(&(per_address.len() as i64)));
        } else {
            assert!(listed.is_none(), "{who:?}: addresses listed");
            assert!(v.get("per_address").is_none());
            assert!(!sheet(&book, "Aantal per adres")
                .header()
                .contains(&"incidents"));
            assert_eq!(after, before);
        }
    }
    let r = get(Who::Analyst, &format!("{path}&format=csv"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["parameter"], "format");
}

#[test]
fn the_patrol_list_xlsx_equals_its_json() {
    let q = query();
    let path = format!("/api/patrol?day=fri&from_hour=20&to_hour=2&top=100&{q}");
    let mut withheld = 0;
    for who in [Who::Analyst, Who::Anonymous] {
        let v = get(who, &path).json();
        let book = read_workbook(
            &get(who, &format!("{path}&format=xlsx")),
            "brandpunt-surveillance",
        );
        let rows: Vec<Value> = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let mut p = f["properties"].clone();
                p["lon"] = p["center"][0].clone();
                p["lat"] = p["center"][1].clone();
                p
            })
            .collect();
        assert!(!rows.is_empty());
        let list = sheet(&book, "Surveillancelijst");
        assert_sheet_is_json(list, &rows, "Surveillancelijst");
        assert!(list.is_numeric("rank") && list.is_numeric("lon"));
        let block = sheet(&book, "Tijdsblok");
        assert_eq!(block.rows.len(), 1);
        for (col, want) in [
            ("label", &v["block"]["label"]),
            ("occurrences", &v["occurrences"]),
            ("total_score", &v["total_score"]),
            ("from", &v["period"]["from"]),
        ] {
            assert!(
                same(&block.rows[0][block.col(col)], &expected_cell(Some(want))),
                "Tijdsblok {col}"
            );
        }
        let (w, _) = withheld_and_published(&rows, "count");
        if who == Who::Analyst {
            assert_eq!(w, 0);
        }
        withheld += w;
    }
    assert!(
        withheld > 0,
        "the anonymous patrol list withholds small cells"
    );
}
