//! Small-count protection against the real server (`brandpunt serve --config FILE` with `[privacy] min_count`),
//! as an anonymous caller of the public tenant, a viewer and an analyst.
//!
//! Oracles: the store's own count query (`count_by_area`, the query behind `brandpunt stats`) for the exact
//! counts; an independent MVT decoder for the tiles; and, for differencing, an exact enumeration of every value
//! a withheld buurt can take given everything the anonymous exports publish (gemeente, wijk and buurt counts and
//! labels) - written here, independent of the server's bound propagation.

use crate::common::mvt;
use crate::common::server::{self as srv, Resp, Who};
use brandpunt::area_level::AreaLevel;
use brandpunt::store::{IncidentFilter, SqliteStore, Store};
use chrono::NaiveDate;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// k for the filters of these tests (`[privacy] min_count`); the `geweld` group has its own, larger k.
const K: i64 = 4;
const K_GEWELD: i64 = 7;

/// The shared server: anonymous callers of the public tenant, a viewer and an analyst.
fn server() -> &'static srv::RoleServer {
    static S: OnceLock<srv::RoleServer> = OnceLock::new();
    S.get_or_init(|| {
        srv::RoleServer::start(
            "supp",
            &format!(
                "[privacy]\nmin_count = {K}\n[privacy.min_count_per_group]\ngeweld = {K_GEWELD}\n"
            ),
        )
    })
}

fn get(who: Who, path: &str) -> Resp {
    server().get(who, path)
}

/// The second half of the demo period: many buurten have only a few burglaries in it.
fn period() -> (String, String) {
    let m = get(Who::Analyst, "/api/meta").json();
    let d =
        |k: &str| NaiveDate::parse_from_str(m["period"][k].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let (first, last) = (d("first"), d("last"));
    let from = first + chrono::Days::new(((last - first).num_days() / 2) as u64);
    (from.to_string(), last.to_string())
}

fn query() -> String {
    let (from, to) = period();
    format!("category=inbraak&from={from}&to={to}")
}

/// Exact counts per area code from the store.
fn store_counts(level: AreaLevel, category: &str) -> BTreeMap<String, i64> {
    let (from, to) = period();
    let s = SqliteStore::open(&server().server.db).unwrap();
    let filter = IncidentFilter {
        tenant: "default".into(),
        categories: brandpunt::category::expand_filter(category),
        sources: vec![],
        from: Some(NaiveDate::parse_from_str(&from, "%Y-%m-%d").unwrap()),
        to: Some(NaiveDate::parse_from_str(&to, "%Y-%m-%d").unwrap()),
    };
    let mut out = BTreeMap::new();
    for c in s.count_by_area(level, &filter).unwrap() {
        *out.entry(c.area_code).or_insert(0) += c.count;
    }
    out
}

/// What a caller is shown for one area: the count, or the label of a withheld count.
#[derive(Clone, Debug, PartialEq)]
enum Shown {
    Count(i64),
    Withheld(String),
}

fn shown_json(props: &Value) -> Shown {
    match props["count"].as_i64() {
        Some(c) => {
            assert_eq!(props["suppressed"], false, "{props}");
            assert!(props["count_label"].is_null(), "{props}");
            Shown::Count(c)
        }
        None => {
            assert!(props["count"].is_null(), "{props}");
            assert_eq!(props["suppressed"], true, "{props}");
            Shown::Withheld(props["count_label"].as_str().unwrap().to_string())
        }
    }
}

fn codes(level: &str) -> Vec<String> {
    get(Who::Analyst, &format!("/api/areas?level={level}"))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap().to_string())
        .collect()
}

/// Check `shown` against the exact count for a protected caller with threshold `k`.
fn check_protected(code: &str, exact: i64, shown: &Shown, k: i64) {
    match shown {
        Shown::Count(c) => {
            assert_eq!(*c, exact, "{code}: published counts are exact");
            assert!(
                !(1..k).contains(c),
                "{code}: {c} published to a protected caller"
            );
        }
        // A whole part of the hierarchy whose bounds alone would pin a cell loses its bounds.
        Shown::Withheld(label) if label == "afgeschermd" => {}
        Shown::Withheld(label) if (1..k).contains(&exact) => {
            assert_eq!(label, &format!("< {k}"), "{code}")
        }
        Shown::Withheld(label) => {
            assert!(exact >= k, "{code}: withheld {exact} (0 must be published)");
            assert_eq!(label, &format!(">= {k}"), "{code}");
        }
    }
}

/// Stats of every buurt as `who`.
fn stats(who: Who, q: &str) -> BTreeMap<String, Value> {
    codes("buurt")
        .into_iter()
        .map(|c| {
            let r = get(who, &format!("/api/areas/{c}/stats?{q}"));
            assert_eq!(r.status, 200, "{}", r.text());
            (c, r.json())
        })
        .collect()
}

#[test]
fn the_stats_api_withholds_exactly_the_small_counts_for_viewers_and_anonymous_callers() {
    let exact = store_counts(AreaLevel::Buurt, "inbraak");
    let small = exact.values().filter(|&&c| (1..K).contains(&c)).count();
    assert!(small >= 3, "the filter must give small counts ({small})");
    let q = query();
    let analyst = stats(Who::Analyst, &q);
    let anonymous = stats(Who::Anonymous, &q);
    let viewer = stats(Who::Viewer, &q);
    for (code, a) in &analyst {
        let n = exact.get(code).copied().unwrap_or(0);
        assert_eq!(
            a["count"].as_i64(),
            Some(n),
            "{code}: analysts see exact counts"
        );
        assert_eq!(a["suppressed"], false);
        for who in [&anonymous, &viewer] {
            let st = &who[code];
            let s = shown_json(st);
            check_protected(code, n, &s, K);
            if matches!(s, Shown::Withheld(_)) {
                assert!(st["rate"].is_null(), "{code}: a rate reveals the count");
                assert!(st["change"].is_null(), "{code}: a change reveals the count");
                for c in st["categories"].as_array().unwrap() {
                    assert!(c["share"].is_null(), "{code}: a share of a withheld total");
                }
            }
        }
        assert_eq!(anonymous[code], viewer[code], "{code}: viewer = anonymous");
    }
}

#[test]
fn the_per_group_k_of_the_config_file_applies() {
    let m = get(Who::Anonymous, "/api/meta").json();
    assert_eq!(m["protected"], true);
    assert_eq!(m["min_count"], K_GEWELD, "all categories: the largest k");
    assert_eq!(get(Who::Analyst, "/api/meta").json()["protected"], false);
    let exact = store_counts(AreaLevel::Buurt, "geweld");
    let (from, to) = period();
    let q = format!("category=geweld&from={from}&to={to}");
    for (code, st) in stats(Who::Anonymous, &q) {
        check_protected(
            &code,
            exact.get(&code).copied().unwrap_or(0),
            &shown_json(&st),
            K_GEWELD,
        );
    }
}

/// The buurten layer's tiles at z14 over the demo city, as `who`: what each buurt shows.
fn tiles(who: Who, q: &str) -> BTreeMap<String, Shown> {
    let m = get(Who::Analyst, "/api/meta").json();
    let b: Vec<f64> = m["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let z = 14;
    let (x0, y0) = brandpunt::coords::lon_lat_to_tile(b[0], b[3], z).unwrap();
    let (x1, y1) = brandpunt::coords::lon_lat_to_tile(b[2], b[1], z).unwrap();
    let mut out: BTreeMap<String, Shown> = BTreeMap::new();
    for x in x0..=x1 {
        for y in y0..=y1 {
            let r = get(who, &format!("/tiles/buurten/{z}/{x}/{y}.mvt?{q}"));
            if r.status == 204 {
                continue;
            }
            assert_eq!(r.status, 200);
            let tile = mvt::decode(&r.body);
            let layer = &tile.layers[0];
            for f in &layer.features {
                let p = mvt::properties(layer, f);
                let s = match p.get("count") {
                    Some(c) => {
                        assert!(!p.contains_key("suppressed") && !p.contains_key("count_label"));
                        Shown::Count(c.as_f64() as i64)
                    }
                    None => {
                        assert_eq!(p["suppressed"].as_f64(), 1.0);
                        assert!(!p.contains_key("rate"), "a rate reveals the count");
                        Shown::Withheld(p["count_label"].as_str())
                    }
                };
                let code = p["code"].as_str();
                if let Some(prev) = out.get(&code) {
                    assert_eq!(prev, &s, "{code}: the same in every tile");
                }
                out.insert(code, s);
            }
        }
    }
    out
}

#[test]
fn tiles_stats_and_exports_publish_the_same_protected_values() {
    let q = query();
    let exact = store_counts(AreaLevel::Buurt, "inbraak");
    // The analyst's tiles first: a cache keyed without the protection would hand them to the anonymous caller.
    let analyst_tiles = tiles(Who::Analyst, &q);
    for (code, s) in &analyst_tiles {
        assert_eq!(
            s,
            &Shown::Count(exact.get(code).copied().unwrap_or(0)),
            "{code}"
        );
    }
    let anon_tiles = tiles(Who::Anonymous, &q);
    let anon_stats: BTreeMap<String, Shown> = stats(Who::Anonymous, &q)
        .into_iter()
        .map(|(c, v)| (c, shown_json(&v)))
        .collect();
    assert_eq!(
        anon_tiles.len(),
        anon_stats.len(),
        "every buurt in the tiles"
    );
    assert!(anon_tiles.values().any(|s| matches!(s, Shown::Withheld(_))));
    for (code, s) in &anon_tiles {
        assert_eq!(s, &anon_stats[code], "{code}: tile = stats API");
        check_protected(code, exact.get(code).copied().unwrap_or(0), s, K);
    }

    // GeoJSON export.
    let gj = get(
        Who::Anonymous,
        &format!("/api/stats.geojson?level=buurt&{q}"),
    )
    .json();
    for f in gj["features"].as_array().unwrap() {
        let code = f["properties"]["code"].as_str().unwrap();
        let s = shown_json(&f["properties"]);
        assert_eq!(s, anon_stats[code], "{code}: GeoJSON = stats API");
        if matches!(s, Shown::Withheld(_)) {
            assert!(f["properties"]["rate"].is_null() && f["properties"]["change"].is_null());
        }
    }
    // CSV export: empty count and a label column.
    let r = get(Who::Anonymous, &format!("/api/stats.csv?level=buurt&{q}"));
    assert_eq!(r.status, 200);
    let mut rd = csv::Reader::from_reader(r.body.as_slice());
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut rows = 0;
    for rec in rd.records() {
        let rec = rec.unwrap();
        let code = &rec[col("code")];
        let s = match rec[col("count")].parse::<i64>() {
            Ok(c) => {
                assert_eq!(&rec[col("count_label")], "");
                Shown::Count(c)
            }
            Err(_) => {
                assert_eq!(&rec[col("count")], "");
                assert_eq!(&rec[col("rate")], "");
                Shown::Withheld(rec[col("count_label")].to_string())
            }
        };
        assert_eq!(s, anon_stats[code], "{code}: CSV = stats API");
        rows += 1;
    }
    assert_eq!(rows, anon_stats.len());
    // The analyst's CSV is exact.
    let r = get(Who::Analyst, &format!("/api/stats.csv?level=buurt&{q}"));
    let mut rd = csv::Reader::from_reader(r.body.as_slice());
    for rec in rd.records() {
        let rec = rec.unwrap();
        let n: i64 = rec[col("count")].parse().unwrap();
        assert_eq!(n, exact.get(&rec[col("code")]).copied().unwrap_or(0));
    }
}

/// What the anonymous GeoJSON export publishes per area of `level`.
fn published(level: &str, q: &str) -> BTreeMap<String, (Shown, Value)> {
    get(
        Who::Anonymous,
        &format!("/api/stats.geojson?level={level}&{q}"),
    )
    .json()["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["code"].as_str().unwrap().to_string(),
                (shown_json(p), p.clone()),
            )
        })
        .collect()
}

/// The values an attacker allows for an area: exactly its count, `1..k-1` for "< k", `k..=cap` for ">= k".
fn allowed(s: &Shown, v: i64, cap: i64) -> bool {
    match s {
        Shown::Count(c) => v == *c,
        Shown::Withheld(l) if l == "afgeschermd" => v <= cap,
        Shown::Withheld(l) if l.starts_with('<') => (1..K).contains(&v),
        Shown::Withheld(_) => v >= K && v <= cap,
    }
}

/// For every possible sum of a group of buurten: the (min, max) of every withheld buurt over the assignments
/// with that sum.
type Sums = BTreeMap<i64, BTreeMap<String, (i64, i64)>>;

fn combine(acc: &Sums, part: &Sums, cap: i64) -> Sums {
    let mut out: Sums = BTreeMap::new();
    for (a, ma) in acc {
        for (b, mb) in part {
            if a + b > cap {
                continue;
            }
            let e = out.entry(a + b).or_default();
            for (code, &(lo, hi)) in ma.iter().chain(mb) {
                let x = e.entry(code.clone()).or_insert((lo, hi));
                x.0 = x.0.min(lo);
                x.1 = x.1.max(hi);
            }
        }
    }
    out
}

#[test]
fn no_withheld_buurt_can_be_derived_from_the_published_wijk_and_gemeente_counts() {
    let q = query();
    let buurten = published("buurt", &q);
    let wijken = published("wijk", &q);
    let gemeenten = published("gemeente", &q);
    let areas: Vec<Value> = get(Who::Analyst, "/api/areas?level=buurt")
        .json()
        .as_array()
        .unwrap()
        .clone();
    let total: i64 = store_counts(AreaLevel::Gemeente, "inbraak").values().sum();
    let cap = total + K;
    // gemeente -> wijk -> buurten, from the area list.
    let mut tree: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for a in &areas {
        let g = a["gemeentecode"].as_str().unwrap().to_string();
        let w = a["wijkcode"].as_str().unwrap().to_string();
        tree.entry(g)
            .or_default()
            .entry(w)
            .or_default()
            .push(a["code"].as_str().unwrap().to_string());
    }
    let mut withheld = 0;
    for (g, ws) in &tree {
        let mut gsum: Sums = BTreeMap::from([(0, BTreeMap::new())]);
        for (w, bs) in ws {
            let mut wsum: Sums = BTreeMap::from([(0, BTreeMap::new())]);
            for b in bs {
                let s = &buurten[b].0;
                let leaf: Sums = (0..=cap)
                    .filter(|&v| allowed(s, v, cap))
                    .map(|v| {
                        let mut m = BTreeMap::new();
                        if matches!(s, Shown::Withheld(_)) {
                            m.insert(b.clone(), (v, v));
                        }
                        (v, m)
                    })
                    .collect();
                wsum = combine(&wsum, &leaf, cap);
            }
            let ws_shown = &wijken[w].0;
            wsum.retain(|&v, _| allowed(ws_shown, v, cap));
            gsum = combine(&gsum, &wsum, cap);
        }
        gsum.retain(|&v, _| allowed(&gemeenten[g].0, v, cap));
        assert!(!gsum.is_empty(), "{g}: the true counts must be feasible");
        let mut range: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for m in gsum.values() {
            for (code, &(lo, hi)) in m {
                let x = range.entry(code.clone()).or_insert((lo, hi));
                x.0 = x.0.min(lo);
                x.1 = x.1.max(hi);
            }
        }
        for (code, (lo, hi)) in range {
            withheld += 1;
            assert!(
                hi > lo,
                "{code}: pinned to {lo} by the published wijk/gemeente counts"
            );
        }
    }
    assert!(withheld >= 3, "{withheld} withheld buurten");
}

/// Every count-like number in `v` (keys `count`, `vs_count`, `prev_count`, `observed`, `previous_month`), with
/// its JSON path.
fn counts_in(v: &Value, path: &str, out: &mut Vec<(String, i64)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}/{k}");
                if matches!(
                    k.as_str(),
                    "count" | "vs_count" | "prev_count" | "observed" | "previous_month"
                ) {
                    if let Some(n) = x.as_f64() {
                        out.push((p.clone(), n as i64));
                    }
                }
                counts_in(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                counts_in(x, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn post(who: Who, path: &str, body: &Value) -> Resp {
    server().post(who, path, &body.to_string())
}

#[test]
fn no_other_count_output_shows_a_small_count_to_protected_callers() {
    let (from, to) = period();
    let q = query();
    let exact = store_counts(AreaLevel::Buurt, "inbraak");
    // A few buurten with small counts and a busy one.
    let mut buurten: Vec<&String> = exact
        .iter()
        .filter(|(_, &n)| (1..K).contains(&n))
        .map(|(c, _)| c)
        .take(3)
        .collect();
    buurten.extend(exact.iter().max_by_key(|(_, &n)| n).map(|(c, _)| c));
    let month = &to[..7];
    let mut gets: Vec<String> = vec![
        "/api/meta".into(),
        format!("/api/report/monthly?month={month}&category=inbraak"),
        format!("/api/patrol?day=fri&from_hour=20&to_hour=2&top=100&{q}"),
        format!("/api/hotspots?method=gistar&bins=grid:100&{q}"),
        format!("/api/hotspots?method=gistar&bins=buurt&{q}"),
    ];
    for b in &buurten {
        gets.push(format!("/api/areas/{b}/stats?{q}"));
        gets.push(format!("/api/areas/{b}/timeseries?step=week&{q}"));
    }
    let compare = serde_json::json!({
        "areas": buurten, "category": "inbraak", "from": from, "to": to, "step": "week",
    });
    let answers = |who: Who| -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = gets
            .iter()
            .map(|g| {
                let r = get(who, g);
                assert_eq!(r.status, 200, "{g}: {}", r.text());
                (g.clone(), r.json())
            })
            .collect();
        let r = post(who, "/api/compare", &compare);
        assert_eq!(r.status, 200, "{}", r.text());
        out.push(("/api/compare".into(), r.json()));
        out
    };
    // The analyst sees small counts in these answers (so the check below can fail)...
    let mut small_for_analyst = 0;
    for (g, v) in answers(Who::Analyst) {
        let mut c = vec![];
        counts_in(&v, &g, &mut c);
        small_for_analyst += c.iter().filter(|(_, n)| (1..K).contains(n)).count();
    }
    assert!(small_for_analyst > 10, "{small_for_analyst}");
    // ... protected callers never do (meta's categories span every group: k = K_GEWELD there).
    for who in [Who::Anonymous, Who::Viewer] {
        for (g, v) in answers(who) {
            let k = if g == "/api/meta" { K_GEWELD } else { K };
            let mut c = vec![];
            counts_in(&v, &g, &mut c);
            for (path, n) in c {
                assert!(!(1..k).contains(&n), "{who:?}: {path} = {n}");
            }
        }
    }
    // The monthly report as HTML is rendered from the caller's protected JSON (checked in
    // tests/api/report_protected.rs).
    let html = format!("/api/report/monthly?month={month}&format=html");
    assert_eq!(get(Who::Anonymous, &html).status, 200);
    assert_eq!(get(Who::Analyst, &html).status, 200);
}

#[test]
fn patrol_streets_reach_protected_callers_only_where_the_analyst_sees_them_too() {
    // Saturdays on 500 m cells over the whole period, categories outside the geweld group (k = K) that have
    // address-located incidents in the demo: some cells' top street reaches k, others do not.
    let path = "/api/patrol?day=sat&from_hour=0&to_hour=24&cell=500&top=100\
                &category=1.2.3,2.1.1,2.2.1,1.1.1,1.6.2";
    let by_cell = |who: Who| -> BTreeMap<String, Value> {
        let r = get(who, path);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["properties"]["cell"].as_str().unwrap().to_string(),
                    f["properties"].clone(),
                )
            })
            .collect()
    };
    let analyst = by_cell(Who::Analyst);
    let viewer = by_cell(Who::Viewer);
    assert_eq!(
        analyst.keys().collect::<Vec<_>>(),
        viewer.keys().collect::<Vec<_>>()
    );
    let (mut shown, mut withheld) = (0, 0);
    for (cell, v) in &viewer {
        let a = &analyst[cell];
        match (v.get("street"), a.get("street")) {
            (Some(vs), Some(a_s)) => {
                assert_eq!(vs, a_s, "{cell}");
                assert!(v["count"].as_i64().unwrap() >= K, "{cell}");
                shown += 1;
            }
            (Some(_), None) => panic!("{cell}: the viewer sees a street the analyst does not"),
            // A cell shown with its count, whose street the analyst sees but the viewer does not: fewer than k
            // of its incidents lie on that street.
            (None, Some(_)) if v["count"].as_i64().is_some_and(|n| n >= K) => withheld += 1,
            _ => {}
        }
    }
    // Both cases occur in the demo data, so the comparison means something.
    assert!(
        shown > 0 && withheld > 0,
        "shown {shown}, withheld {withheld}"
    );
}
