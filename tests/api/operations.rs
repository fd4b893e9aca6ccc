//! Operations endpoints against the real server (`brandpunt serve` on the small demo city, free port): patrol
//! planning, the monthly report, delivery upload and the inbox folder. Numbers are compared with independent
//! computations from the store (SQL) and the analysis library, never with values copied from our output.

use brandpunt::analysis::aoristic::{patrol_block_share, AoristicConfig, PatrolBlock};
use brandpunt::analysis::grid::BinId;
use brandpunt::analysis::striking::{striking_areas, AreaSeries, StrikingConfig};
use brandpunt::analysis::Event;
use brandpunt::area_level::AreaLevel;
use brandpunt::coords::Transformer;
use brandpunt::store::{IncidentFilter, SqliteStore, Store};
use chrono::{Datelike, Months, NaiveDate, Weekday};
use std::collections::{BTreeMap, HashMap};

use std::path::Path;

use std::time::{Duration, Instant};

use crate::common::demo::demo;
use crate::common::server::{finish, Resp};
use crate::shared::{self, Server};

fn get(s: &Server, path: &str) -> Resp {
    finish(ureq::get(&format!("{}{path}", s.base)).call(), path)
}

/// A GET as the admin (exact counts; anonymous callers get small counts protected).
fn admin_get(s: &Server, path: &str) -> Resp {
    finish(
        ureq::get(&format!("{}{path}", s.base))
            .set("Authorization", &format!("Bearer {}", s.admin))
            .call(),
        path,
    )
}

/// `POST /api/deliveries` with the given multipart parts (name, file name, content).
fn upload(s: &Server, parts: &[(&str, Option<&str>, &[u8])]) -> Resp {
    let boundary = "----brandpunt-test-boundary-7c1f";
    let mut body = Vec::new();
    for (name, file_name, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    finish(
        ureq::post(&format!("{}/api/deliveries", s.base))
            .set("Authorization", &format!("Bearer {}", s.admin))
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send_bytes(&body),
        "upload",
    )
}

fn assert_400(r: &Resp, parameter: &str) {
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["parameter"], parameter, "{}", r.text());
    assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()));
}

fn all_incidents(db: &Path, sources: &[&str]) -> Vec<brandpunt::store::StoredIncident> {
    SqliteStore::open(db)
        .unwrap()
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap()
}

// ------------------------------------------------------------------------------------------------ patrol

/// Independent patrol scores per 100 m cell (CBS code) -> (score, count, incident ids with share > 0).
fn expected_patrol(
    db: &Path,
    block: &PatrolBlock,
    categories: &[String],
    cell_m: u32,
) -> HashMap<BinId, (f64, u64, Vec<i64>)> {
    let cfg = AoristicConfig::default();
    let mut out: HashMap<BinId, (f64, u64, Vec<i64>)> = HashMap::new();
    for i in all_incidents(db, &[]) {
        if !categories.is_empty()
            && !i
                .category_code
                .as_ref()
                .is_some_and(|c| categories.contains(c))
        {
            continue;
        }
        let (Some(x), Some(y)) = (i.x_m, i.y_m) else {
            continue;
        };
        let ev = Event {
            x_m: x,
            y_m: y,
            begin: Some(i.begin),
            end: Some(i.end),
            weight: 1.0,
        };
        let Some(share) = patrol_block_share(&ev, block, &cfg).unwrap() else {
            continue;
        };
        if share > 0.0 {
            let e = out
                .entry(BinId::grid_cell(x, y, cell_m).unwrap())
                .or_insert((0.0, 0, vec![]));
            e.0 += share;
            e.1 += 1;
            e.2.push(i.id);
        }
    }
    out
}

/// BAG street names of address-located incidents (SQL, independent of the server).
fn streets(db: &Path) -> HashMap<i64, String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT i.id, a.street FROM incident i JOIN address a ON a.bag_id = i.bag_id \
             WHERE i.located_by = 'address'",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

fn check_patrol(query: &str, block: PatrolBlock, categories: &[String], cell_m: u32, top: usize) {
    let s = shared::read_only();
    let r = admin_get(s, &format!("/api/patrol?{query}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let fc = r.json();
    assert_eq!(fc["type"], "FeatureCollection");
    let expected = expected_patrol(&s.db, &block, categories, cell_m);
    let streets = streets(&s.db);
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), top.min(expected.len()));
    assert!(!features.is_empty(), "the demo has incidents in the block");
    let by_code: HashMap<String, &BinId> = expected
        .keys()
        .map(|b| (b.cbs_code().unwrap_or_else(|| b.name()), b))
        .collect();
    let t = Transformer::new().unwrap();
    let mut returned = Vec::new();
    let mut previous = f64::INFINITY;
    // The block's occurrences: the days of the data's period (no from/to in the query) on the block's start day,
    // counted day by day.
    let meta = admin_get(s, "/api/meta").json();
    let day = |k: &str| {
        NaiveDate::parse_from_str(meta["period"][k].as_str().unwrap(), "%Y-%m-%d").unwrap()
    };
    let (first, last) = (day("first"), day("last"));
    let start_day = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("day="))
        .and_then(brandpunt::calendar::parse_weekday)
        .unwrap();
    let occurrences = first
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| d.weekday() == start_day)
        .count() as u64;
    assert!(occurrences > 0);
    assert_eq!(fc["occurrences"].as_u64(), Some(occurrences));
    assert_eq!(
        fc["period"]["from"].as_str(),
        meta["period"]["first"].as_str()
    );
    assert!(fc["per_week_rule"]
        .as_str()
        .unwrap()
        .contains("gedeeld door"));
    for (k, f) in features.iter().enumerate() {
        let p = &f["properties"];
        let score = p["score"].as_f64().unwrap();
        let per_week = p["per_week"].as_f64().unwrap();
        assert!((per_week - score / occurrences as f64).abs() < 1e-12, "{p}");
        assert_eq!(p["rank"], k + 1);
        let code = p["cell"].as_str().unwrap();
        let id = by_code
            .get(code)
            .unwrap_or_else(|| panic!("cell {code} has no incident in the block"));
        let (score, count, ids) = &expected[*id];
        let got = p["score"].as_f64().unwrap();
        assert!((got - score).abs() < 1e-9, "{code}: {got} vs {score}");
        assert_eq!(p["count"].as_u64().unwrap(), *count, "{code}");
        assert!(got <= previous + 1e-12, "ranked by score");
        previous = got;
        // The most common street (ties alphabetical) of the cell's address-located incidents.
        let mut tally: BTreeMap<&str, u64> = BTreeMap::new();
        for i in ids {
            if let Some(st) = streets.get(i) {
                *tally.entry(st.as_str()).or_default() += 1;
            }
        }
        let max = tally.values().copied().max();
        let want = tally
            .iter()
            .find(|(_, &n)| Some(n) == max)
            .map(|(s, _)| s.to_string());
        assert_eq!(p["street"].as_str().map(str::to_string), want, "{code}");
        // Without a street the cell says why (exact counts: only when none of its incidents has an address).
        if want.is_none() {
            assert_eq!(
                p["street_note"], "geen adres bij de incidenten in deze cel",
                "{code}"
            );
        } else {
            assert!(p.get("street_note").is_none(), "{code}");
        }
        // The WGS84 geometry is the cell: its centre converts back into the cell.
        let c = p["center"].as_array().unwrap();
        let (x, y) = t
            .wgs84_to_rd(c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
            .unwrap();
        assert_eq!(BinId::grid_cell(x, y, cell_m).as_ref(), Some(*id));
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.len(), 5);
        returned.push(**id);
    }
    // Nothing left out scores higher than the last returned cell.
    for (id, (score, _, _)) in &expected {
        if !returned.contains(id) {
            assert!(*score <= previous + 1e-9, "{id:?} ({score}) was left out");
        }
    }
}

#[test]
fn patrol_top_cells_equal_an_independent_computation() {
    let fri = PatrolBlock::new((Weekday::Fri, 20, 0), (Weekday::Sat, 2, 0)).unwrap();
    check_patrol("day=fri&from_hour=20&to_hour=2&top=10", fri, &[], 100, 10);
    let sun = PatrolBlock::new((Weekday::Sun, 12, 0), (Weekday::Mon, 0, 0)).unwrap();
    let inbraak = brandpunt::category::expand_filter("inbraak,overlast");
    check_patrol(
        "day=zo&from_hour=12&to_hour=24&top=5&cell=200&category=inbraak,overlast",
        sun,
        &inbraak,
        200,
        5,
    );
}

#[test]
fn patrol_html_is_a_printable_dutch_list() {
    let s = shared::read_only();
    let json = get(s, "/api/patrol?day=fri&from_hour=20&to_hour=2&top=3").json();
    let r = get(
        s,
        "/api/patrol?day=fri&from_hour=20&to_hour=2&top=3&format=html",
    );
    assert_eq!(r.status, 200);
    assert!(
        r.content_type().starts_with("text/html"),
        "{}",
        r.content_type()
    );
    let html = r.text();
    assert!(html.contains("Surveillanceplanning"));
    assert!(html.contains("vrijdag 20:00 - zaterdag 02:00"));
    assert!(html.contains("@media print"));
    // The printable map: one numbered square per listed cell, and the expected number per occurrence.
    assert!(html.contains("<svg id=\"patrol-map\""));
    assert!(html.contains("Verwacht per keer"));
    for f in json["features"].as_array().unwrap() {
        let p = &f["properties"];
        assert!(html.contains(p["cell"].as_str().unwrap()));
        assert!(html.contains(&format!("data-rank=\"{}\"", p["rank"])));
        // Anonymous callers: a withheld count has no expected number either.
        let per_week = match p["per_week"].as_f64() {
            Some(v) => format!("{v:.2}").replace('.', ","),
            None => p["count_label"].as_str().unwrap().replace('<', "&lt;"),
        };
        assert!(
            html.contains(&format!("<td class=\"num\">{per_week}</td>")),
            "{per_week}"
        );
        let street = p["street"].as_str().or(p["street_note"].as_str()).unwrap();
        assert!(
            html.contains(&format!("<li value=\"{}\">{street}</li>", p["rank"])),
            "{street}"
        );
    }
}

#[test]
fn patrol_rejects_bad_parameters() {
    let s = shared::read_only();
    assert_400(&get(s, "/api/patrol?from_hour=20&to_hour=2"), "day");
    assert_400(
        &get(s, "/api/patrol?day=vrijdagavond&from_hour=20&to_hour=2"),
        "day",
    );
    assert_400(&get(s, "/api/patrol?day=fri&to_hour=2"), "from_hour");
    assert_400(
        &get(s, "/api/patrol?day=fri&from_hour=24&to_hour=2"),
        "from_hour",
    );
    assert_400(
        &get(s, "/api/patrol?day=fri&from_hour=20&to_hour=20"),
        "to_hour",
    );
    assert_400(
        &get(s, "/api/patrol?day=fri&from_hour=20&to_hour=2&top=0"),
        "top",
    );
    assert_400(
        &get(s, "/api/patrol?day=fri&from_hour=20&to_hour=2&cell=1"),
        "cell",
    );
    assert_400(
        &get(s, "/api/patrol?day=fri&from_hour=20&to_hour=2&format=pdf"),
        "format",
    );
    assert_400(
        &get(
            s,
            "/api/patrol?day=fri&from_hour=20&to_hour=2&category=nope",
        ),
        "category",
    );
}

// ------------------------------------------------------------------------------------------------ report

/// The library's striking output for buurten and categories, counted independently from the store.
fn expected_report(
    db: &Path,
    month: NaiveDate,
    sources: &[&str],
) -> (
    brandpunt::analysis::striking::StrikingReport,
    brandpunt::analysis::striking::StrikingReport,
    Vec<u64>,
) {
    let store = SqliteStore::open(db).unwrap();
    let everything = all_incidents(db, &[]);
    let first = everything.iter().map(|i| i.begin.date()).min().unwrap();
    let first_month = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).unwrap();
    let start = month
        .checked_sub_months(Months::new(12))
        .unwrap()
        .max(first_month);
    let idx = |d: NaiveDate| (d.year() * 12 + d.month0() as i32) as i64;
    let n = (idx(month) - idx(start) + 1) as usize;
    let buurten = store.areas(AreaLevel::Buurt, None).unwrap();
    let mut per_buurt: BTreeMap<String, Vec<u64>> = buurten
        .iter()
        .map(|a| (a.code.clone(), vec![0; n]))
        .collect();
    let mut per_cat: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut total = vec![0u64; n];
    for i in all_incidents(db, sources) {
        let t = idx(i.begin.date()) - idx(start);
        if t < 0 || t >= n as i64 {
            continue;
        }
        let t = t as usize;
        total[t] += 1;
        if let Some(c) = i.buurtcode.as_ref().and_then(|b| per_buurt.get_mut(b)) {
            c[t] += 1;
        }
        if let Some(code) = &i.category_code {
            per_cat.entry(code.clone()).or_insert_with(|| vec![0; n])[t] += 1;
        }
    }
    let series = |m: BTreeMap<String, Vec<u64>>, cat: bool| -> Vec<AreaSeries> {
        m.into_iter()
            .map(|(k, counts)| AreaSeries {
                category: cat.then(|| k.clone()),
                area_id: k,
                counts,
            })
            .collect()
    };
    let cfg = StrikingConfig::default();
    (
        striking_areas(&series(per_buurt, false), &cfg).unwrap(),
        striking_areas(&series(per_cat, true), &cfg).unwrap(),
        total,
    )
}

fn compare_assessments(
    got: &[serde_json::Value],
    want: &[brandpunt::analysis::striking::StrikingArea],
) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["code"], w.area_id.as_str());
        assert_eq!(g["observed"].as_u64().unwrap(), w.observed, "{}", w.area_id);
        assert!((g["expected"].as_f64().unwrap() - w.expected).abs() < 1e-9);
        assert!((g["p_increase"].as_f64().unwrap() - w.p_increase).abs() < 1e-12);
        assert!((g["p_decrease"].as_f64().unwrap() - w.p_decrease).abs() < 1e-12);
        let dir = w.direction.map(|d| format!("{d:?}").to_lowercase());
        assert_eq!(
            g["direction"].as_str().map(str::to_string),
            dir,
            "{}",
            w.area_id
        );
    }
}

#[test]
fn monthly_report_equals_the_library_on_store_counts() {
    let s = shared::read_only();
    let month = NaiveDate::from_ymd_opt(2024, 9, 1).unwrap();
    for (query, sources) in [("", vec![]), ("&source=politie", vec!["politie"])] {
        let r = admin_get(s, &format!("/api/report/monthly?month=2024-09{query}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        let (areas, cats, total) = expected_report(&s.db, month, &sources);
        compare_assessments(j["areas"].as_array().unwrap(), &areas.areas);
        compare_assessments(j["categories"].as_array().unwrap(), &cats.areas);
        let series: Vec<u64> = j["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["count"].as_u64().unwrap())
            .collect();
        assert_eq!(series, total);
        assert_eq!(j["total"]["count"].as_u64(), total.last().copied());
        assert_eq!(j["month"], "2024-09");
    }
}

#[test]
fn monthly_report_html_shows_the_striking_areas() {
    let s = shared::read_only();
    let month = NaiveDate::from_ymd_opt(2024, 9, 1).unwrap();
    let (areas, _, _) = expected_report(&s.db, month, &[]);
    let r = admin_get(s, "/api/report/monthly?month=2024-09&format=html");
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("text/html"));
    let html = r.text();
    assert!(html.contains("Maandanalyse") && html.contains("september 2024"));
    assert!(html.contains("<svg") && html.contains("@media print"));
    let significant: Vec<_> = areas
        .areas
        .iter()
        .filter(|a| a.direction.is_some())
        .collect();
    assert!(
        !significant.is_empty(),
        "the demo has a striking buurt in 2024-09"
    );
    let store = SqliteStore::open(&s.db).unwrap();
    let names: HashMap<String, String> = store
        .areas(AreaLevel::Buurt, None)
        .unwrap()
        .into_iter()
        .map(|a| (a.code, a.name))
        .collect();
    for a in significant {
        assert!(html.contains(&a.area_id), "{}", a.area_id);
        assert!(html.contains(&names[&a.area_id]), "{}", a.area_id);
    }
    // Every buurt is drawn on the map, and nothing is loaded from elsewhere.
    assert_eq!(html.matches("data-code=\"BU").count(), names.len());
    for external in ["<script", "<link", "<img", "url(", "src="] {
        assert!(!html.contains(external), "{external}");
    }
}

#[test]
fn monthly_report_rejects_bad_parameters() {
    let s = shared::read_only();
    assert_400(&get(s, "/api/report/monthly"), "month");
    assert_400(&get(s, "/api/report/monthly?month=2024-13"), "month");
    assert_400(&get(s, "/api/report/monthly?month=september"), "month");
    assert_400(
        &get(s, "/api/report/monthly?month=2024-09&format=pdf"),
        "format",
    );
    assert_400(
        &get(s, "/api/report/monthly?month=2024-09&source=nope"),
        "source",
    );
}

// ------------------------------------------------------------------------------------------------ deliveries

/// Count per gemeente straight from the store.
fn gemeente_counts(db: &Path) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let filter = IncidentFilter {
        tenant: "default".into(),
        ..Default::default()
    };
    for c in SqliteStore::open(db)
        .unwrap()
        .count_by_area(AreaLevel::Gemeente, &filter)
        .unwrap()
    {
        *out.entry(c.area_code).or_insert(0) += c.count;
    }
    out
}

fn api_gemeente_counts(s: &Server) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for a in get(s, "/api/areas?level=gemeente")
        .json()
        .as_array()
        .unwrap()
    {
        let code = a["code"].as_str().unwrap();
        let st = get(s, &format!("/api/areas/{code}/stats")).json();
        // The store lists only gemeenten with incidents.
        let count = st["count"].as_i64().unwrap();
        if count > 0 {
            out.insert(code.to_string(), count);
        }
    }
    out
}

/// A demo delivery with new registration numbers (so it is new data, not a repeat).
fn fresh_delivery(name: &str, marker: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(demo().files.join(name)).unwrap();
    text.replace("PL0600-2024", marker).into_bytes()
}

fn incident_total(db: &Path) -> usize {
    all_incidents(db, &[]).len()
}

#[test]
fn upload_changes_the_statistics_at_once() {
    let s = shared::start(false);
    let before = api_gemeente_counts(&s);
    assert_eq!(before, gemeente_counts(&s.db));
    let n_before = incident_total(&s.db);
    let file = fresh_delivery("politie_week_2024-39.csv", "PL0600-2099");
    let r = upload(
        &s,
        &[
            ("source", None, b"politie"),
            ("file", Some("week_2099.csv"), &file),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let n_after = incident_total(&s.db);
    assert_eq!(j["inserted"].as_u64().unwrap() as usize, n_after - n_before);
    assert!(n_after > n_before);
    assert_eq!(j["file"], "week_2099.csv");
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(
        rows.len() as u64,
        j["outcome"]["reported"].as_u64().unwrap()
    );
    for row in rows {
        assert!(row["line"].as_u64().unwrap() >= 2);
        assert!(!row["reason"].as_str().unwrap().is_empty());
    }
    // Immediately (no waiting): the API shows the store's new counts.
    let after = api_gemeente_counts(&s);
    assert_eq!(after, gemeente_counts(&s.db));
    assert_ne!(after, before);
    // The same file again changes nothing.
    let again = upload(
        &s,
        &[
            ("file", Some("week_2099.csv"), &file),
            ("source", None, b"politie"),
        ],
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["already_imported"], true);
    assert_eq!(incident_total(&s.db), n_after);
    // A delivery with a column mapping (handhaving).
    let hh_before = all_incidents(&s.db, &["handhaving"]).len() as u64;
    let hh = std::fs::read_to_string(demo().files.join("handhaving_meldingen.csv"))
        .unwrap()
        .replace("HH-2024-", "HH-2099-");
    let mapping = std::fs::read(demo().files.join("handhaving_mapping.toml")).unwrap();
    let hh_upload = |s: &shared::Server| {
        upload(
            s,
            &[
                ("file", Some("hh.csv"), hh.as_bytes()),
                ("source", None, b"handhaving"),
                ("mapping", Some("mapping.toml"), &mapping),
            ],
        )
    };
    // Its mapping has personal columns: without a pseudonymisation key the server refuses it, storing nothing.
    let r = hh_upload(&s);
    assert_400(&r, "mapping");
    assert!(
        r.text().contains("pseudonimiseringssleutel"),
        "{}",
        r.text()
    );
    assert_eq!(
        all_incidents(&s.db, &["handhaving"]).len() as u64,
        hh_before
    );
    // A server with the key pseudonymises them.
    let keyed = shared::start_with(false, true);
    let r = hh_upload(&keyed);
    assert_eq!(r.status, 200, "{}", r.text());
    let inserted = r.json()["inserted"].as_u64().unwrap();
    assert!(inserted > 0);
    assert_eq!(
        all_incidents(&keyed.db, &["handhaving"]).len() as u64,
        hh_before + inserted
    );
}

#[test]
fn bad_uploads_give_a_report_or_a_400_and_change_nothing() {
    let s = shared::start(false);
    let before = api_gemeente_counts(&s);
    let n_before = incident_total(&s.db);
    let bad =
        "Registratienummer;Pleegdatum begin;Maatschappelijke klasse;Straat;Huisnummer;Postcode\n\
               X-1;31-02-2024;1.1.1 Diefstal/inbraak woning;Dijklaan;2;7478AQ\n\
               X-2;gisteren;1.1.1 Diefstal/inbraak woning;Dijklaan;2;7478AQ\n";
    let r = upload(
        &s,
        &[
            ("file", Some("bad.csv"), bad.as_bytes()),
            ("source", None, b"politie"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["inserted"], 0);
    assert_eq!(j["rejected"], 2);
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["line"], 2);
    assert_eq!(rows[0]["registration"], "X-1");
    assert_eq!(rows[0]["column"], "Pleegdatum begin");
    assert_eq!(rows[0]["outcome"], "rejected");
    assert_eq!(rows[1]["line"], 3);
    assert_eq!(incident_total(&s.db), n_before);
    assert_eq!(api_gemeente_counts(&s), before);

    let not_a_delivery = upload(
        &s,
        &[
            ("file", Some("x.csv"), b"a;b\n1;2\n"),
            ("source", None, b"politie"),
        ],
    );
    assert_400(&not_a_delivery, "file");
    assert!(
        !not_a_delivery.text().contains("brandpunt-upload"),
        "no temp paths"
    );
    let file = fresh_delivery("politie_week_2024-38.csv", "PL0600-2097");
    assert_400(&upload(&s, &[("file", Some("w.csv"), &file)]), "source");
    assert_400(&upload(&s, &[("source", None, b"politie")]), "file");
    assert_400(
        &upload(
            &s,
            &[("file", Some("w.csv"), &file), ("source", None, b"../etc")],
        ),
        "source",
    );
    assert_400(
        &upload(
            &s,
            &[
                ("file", Some("w.csv"), &file),
                ("source", None, b"politie"),
                ("mapping", Some("m.toml"), b"[columns\nx ="),
            ],
        ),
        "mapping",
    );
    assert_400(
        &upload(&s, &[("file", Some("w.csv"), &file), ("sauce", None, b"x")]),
        "sauce",
    );
    assert_eq!(incident_total(&s.db), n_before);
}

fn wait_for(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{what}: {} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn inbox_imports_stable_files_and_moves_them_with_their_report() {
    // With the demo's key: the handhaving mapping has personal columns.
    let s = shared::start_with(true, true);
    let inbox = s.inbox.clone().unwrap();
    let before = api_gemeente_counts(&s);
    let n_before = incident_total(&s.db);
    let hh_before = all_incidents(&s.db, &["handhaving"]).len();
    // A police delivery in the root (source politie).
    std::fs::write(
        inbox.join("week_2098.csv"),
        fresh_delivery("politie_week_2024-37.csv", "PL0600-2098"),
    )
    .unwrap();
    // A broken file, handed over with a .done marker.
    std::fs::write(inbox.join("kapot.csv"), "dit;is;geen\nlevering;;\n").unwrap();
    std::fs::write(inbox.join("kapot.csv.done"), "").unwrap();
    // A handhaving delivery in its own folder with its mapping.
    std::fs::create_dir_all(inbox.join("handhaving")).unwrap();
    std::fs::copy(
        demo().files.join("handhaving_mapping.toml"),
        inbox.join("handhaving/mapping.toml"),
    )
    .unwrap();
    let hh = std::fs::read_to_string(demo().files.join("handhaving_meldingen.csv"))
        .unwrap()
        .replace("HH-2024-", "HH-2098-");
    std::fs::write(inbox.join("handhaving/meldingen.csv"), hh).unwrap();

    wait_for(&inbox.join("done/week_2098.csv"), "police delivery");
    wait_for(&inbox.join("done/week_2098.rapport.csv"), "its report");
    wait_for(&inbox.join("done/meldingen.csv"), "handhaving delivery");
    wait_for(&inbox.join("failed/kapot.csv"), "broken file");
    wait_for(&inbox.join("failed/kapot.rapport.csv"), "its report");
    assert!(!inbox.join("week_2098.csv").exists());
    assert!(!inbox.join("kapot.csv.done").exists());
    let report = std::fs::read_to_string(inbox.join("failed/kapot.rapport.csv")).unwrap();
    assert!(report.contains("geen incidentlevering"), "{report}");
    wait_for(&inbox.join("done/week_2098.json"), "its summary");
    wait_for(&inbox.join("done/meldingen.json"), "its summary");
    let inserted = |name: &str| -> usize {
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(inbox.join("done").join(name)).unwrap()).unwrap();
        summary["outcome"]["inserted"].as_u64().unwrap() as usize
    };
    let (police, handhaving) = (inserted("week_2098.json"), inserted("meldingen.json"));
    assert!(police > 0 && handhaving > 0);
    // The data are visible as soon as the files are in done/.
    assert_eq!(
        all_incidents(&s.db, &["handhaving"]).len(),
        hh_before + handhaving
    );
    assert_eq!(incident_total(&s.db), n_before + police + handhaving);
    let after = api_gemeente_counts(&s);
    assert_eq!(after, gemeente_counts(&s.db));
    assert_ne!(after, before);
}
