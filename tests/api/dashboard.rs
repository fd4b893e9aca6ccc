//! The dashboard (`/api/dashboard`) and the enrichment (`/api/enrichment`, `/api/enrichment/correlation`, the
//! `enrichment` of `/api/areas/{code}/stats`, the enrichment columns of `/api/stats.csv` and the OGC area
//! collections) against independent computations from the store: incidents read with `Store::incidents` and
//! counted here, area counts from `Store::count_by_area`, CBS kerncijfers from `Store::areas`, indicators from
//! `Store::indicators`, the rate ratio's interval from the Beta quantiles (statrs) and the correlations computed
//! here. Viewers get protected counts; bad parameters are 400 naming the parameter.

use crate::common::server::{RoleServer, Who};
use brandpunt::area_level::AreaLevel;
use brandpunt::store::{IncidentFilter, SqliteStore, Store, StoredIncident};
use chrono::{Datelike, NaiveDate};
use serde_json::Value;
use statrs::distribution::{Beta, ContinuousCDF};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

fn server() -> &'static RoleServer {
    static S: OnceLock<RoleServer> = OnceLock::new();
    S.get_or_init(|| RoleServer::start("dash", ""))
}

fn store() -> SqliteStore {
    SqliteStore::open(&server().server.db).unwrap()
}

fn get(who: Who, path: &str) -> Value {
    let r = server().get(who, path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

fn day(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap()
}

/// The data's first and last day (`/api/meta`).
fn data_days() -> (NaiveDate, NaiveDate) {
    let m = get(Who::Analyst, "/api/meta");
    (day(&m["period"]["first"]), day(&m["period"]["last"]))
}

/// The second half of the data period.
fn second_half() -> (NaiveDate, NaiveDate) {
    let (first, last) = data_days();
    let days = (last - first).num_days() + 1;
    (first + chrono::Duration::days(days / 2), last)
}

/// Every current incident of the demo tenant in `from..=to` with one of `codes` (empty = all).
fn incidents(codes: &[String], from: NaiveDate, to: NaiveDate) -> Vec<StoredIncident> {
    store()
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            categories: codes.to_vec(),
            sources: vec![],
            from: Some(from),
            to: Some(to),
        })
        .unwrap()
}

/// Counts per area of `level` from the store's own query.
fn area_counts(level: AreaLevel, from: NaiveDate, to: NaiveDate) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let filter = IncidentFilter {
        tenant: "default".into(),
        categories: vec![],
        sources: vec![],
        from: Some(from),
        to: Some(to),
    };
    for c in store().count_by_area(level, &filter).unwrap() {
        *out.entry(c.area_code).or_insert(0) += c.count as u64;
    }
    out
}

/// The codes of a dashboard group (`totaal`: all).
fn group_codes(name: &str) -> Vec<String> {
    brandpunt::category::group_members(name)
        .map(|m| m.iter().map(|c| c.to_string()).collect())
        .unwrap_or_default()
}

/// Rate ratio and its exact conditional 95 % interval, computed here from the Beta quantiles.
fn rate_ratio(a: u64, ea: f64, b: u64, eb: f64) -> (Option<f64>, f64, Option<f64>) {
    let n = a + b;
    let scale = eb / ea;
    let to_rr = |p: f64| p / (1.0 - p) * scale;
    let lower = if a == 0 {
        0.0
    } else {
        to_rr(
            Beta::new(a as f64, (n - a + 1) as f64)
                .unwrap()
                .inverse_cdf(0.025),
        )
    };
    let upper = (b > 0).then(|| {
        if a == n {
            f64::INFINITY
        } else {
            to_rr(
                Beta::new((a + 1) as f64, (n - a) as f64)
                    .unwrap()
                    .inverse_cdf(0.975),
            )
        }
    });
    ((b > 0).then(|| a as f64 / b as f64 * scale), lower, upper)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn key_figures_equal_the_incidents_in_the_store() {
    let (first, _) = data_days();
    let (from, to) = second_half();
    let d = get(Who::Analyst, &format!("/api/dashboard?from={from}&to={to}"));
    assert_eq!(d["protected"], false);
    assert_eq!(day(&d["period"]["from"]), from);
    let days = (to - from).num_days() + 1;
    let prev_to = from.pred_opt().unwrap();
    let prev_from = prev_to - chrono::Duration::days(days - 1);
    assert_eq!(day(&d["previous"]["from"]), prev_from);
    let prev_covered = (prev_to - prev_from.max(first)).num_days() + 1;
    assert_eq!(d["previous"]["covered_days"], prev_covered);
    // The small demo holds ten weeks: a year earlier there are no data, which is said, not counted as 0.
    assert_eq!(d["year_before"]["no_data"], true);
    // Inhabitants: the tenant's gemeenten as stored.
    let gemeenten = store().tenant_gemeenten("default").unwrap();
    let inhabitants: i64 = store()
        .areas(AreaLevel::Gemeente, None)
        .unwrap()
        .iter()
        .filter(|a| gemeenten.is_empty() || gemeenten.contains(&a.code))
        .map(|a| a.inhabitants.unwrap())
        .sum();
    let groups = d["groups"].as_array().unwrap();
    assert_eq!(groups[0]["name"], "totaal");
    assert_eq!(groups.len(), 1 + brandpunt::category::GROUPS.len());
    for g in groups {
        let codes = group_codes(g["name"].as_str().unwrap());
        let now = incidents(&codes, from, to).len() as u64;
        let before = incidents(&codes, prev_from, prev_to).len() as u64;
        let cur = &g["current"];
        assert_eq!(cur["count"].as_u64(), Some(now), "{g}");
        let rate = (now as f64 * 1000.0 / inhabitants as f64 * 100.0).round() / 100.0;
        assert_eq!(cur["rate"].as_f64(), Some(rate), "{g}");
        assert_eq!(g["previous"]["count"].as_u64(), Some(before), "{g}");
        assert_eq!(g["year_before"]["count"], Value::Null);
        assert_eq!(g["year_before"]["no_data"], true);
        assert!(g["change_year_before"].is_null());
        let (rr, lo, hi) = rate_ratio(now, days as f64, before, prev_covered as f64);
        let c = &g["change_previous"];
        match rr {
            Some(rr) => assert!(close(c["rate_ratio"].as_f64().unwrap(), rr, 1e-9), "{c}"),
            None => assert!(c["rate_ratio"].is_null()),
        }
        assert!(
            close(c["ci_low"].as_f64().unwrap(), lo, 1e-6),
            "{c} vs {lo}"
        );
        match hi {
            Some(hi) if hi.is_finite() => {
                assert!(
                    close(c["ci_high"].as_f64().unwrap(), hi, 1e-6),
                    "{c} vs {hi}"
                )
            }
            _ => assert!(c["ci_high"].is_null() || hi.is_some()),
        }
        let p = c["p"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
    }
}

#[test]
fn a_period_before_the_data_has_no_data_and_no_change() {
    let (first, _) = data_days();
    let to = first + chrono::Duration::days(13);
    let d = get(
        Who::Analyst,
        &format!("/api/dashboard?from={first}&to={to}"),
    );
    assert_eq!(d["previous"]["no_data"], true);
    assert_eq!(d["previous"]["covered_days"], 0);
    for g in d["groups"].as_array().unwrap() {
        assert_eq!(g["previous"]["no_data"], true, "{g}");
        assert!(g["previous"]["count"].is_null(), "{g}");
        assert!(g["change_previous"].is_null(), "{g}");
    }
}

#[test]
fn ranking_equals_the_store_counts_per_buurt_and_wijk() {
    let (from, to) = second_half();
    let d = get(Who::Analyst, &format!("/api/dashboard?from={from}&to={to}"));
    for (level, key) in [(AreaLevel::Buurt, "buurt"), (AreaLevel::Wijk, "wijk")] {
        let expected = area_counts(level, from, to);
        let rows = d["ranking"][key].as_array().unwrap();
        let areas = store().areas(level, None).unwrap();
        assert!(!rows.is_empty());
        let mut previous_count = u64::MAX;
        for r in rows {
            let code = r["code"].as_str().unwrap();
            assert!(areas.iter().any(|a| a.code == code), "{code}");
            let n = r["count"].as_u64().unwrap();
            assert_eq!(n, expected.get(code).copied().unwrap_or(0), "{key} {code}");
            assert!(n <= previous_count, "sorted by count");
            previous_count = n;
        }
        let listed: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
        assert_eq!(listed, expected.values().sum::<u64>());
    }
    // A wijk as the study area: only its buurten, with the same counts.
    let wijk = d["ranking"]["wijk"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let w = get(
        Who::Analyst,
        &format!("/api/dashboard?from={from}&to={to}&area={wijk}"),
    );
    assert_eq!(w["scope"]["code"], wijk.as_str());
    let buurten: Vec<String> = store()
        .areas(AreaLevel::Buurt, None)
        .unwrap()
        .into_iter()
        .filter(|a| a.wijkcode.as_deref() == Some(wijk.as_str()))
        .map(|a| a.code)
        .collect();
    let rows = w["ranking"]["buurt"].as_array().unwrap();
    assert_eq!(rows.len(), buurten.len());
    let expected = area_counts(AreaLevel::Buurt, from, to);
    let total: u64 = buurten.iter().filter_map(|b| expected.get(b)).sum();
    assert_eq!(w["groups"][0]["current"]["count"].as_u64(), Some(total));
}

#[test]
fn trend_counts_the_incidents_per_month_with_the_baseline() {
    let (first, last) = data_days();
    let d = get(Who::Analyst, "/api/dashboard?step=month");
    let t = &d["trend"];
    assert_eq!(t["step"], "month");
    assert_eq!(day(&t["from"]), first, "the span begins with the data");
    for g in t["groups"].as_array().unwrap() {
        let codes = group_codes(g["name"].as_str().unwrap());
        let mut per_month: BTreeMap<(i32, u32), u64> = BTreeMap::new();
        for i in incidents(&codes, first, last) {
            let b = i.begin.date();
            *per_month.entry((b.year(), b.month())).or_default() += 1;
        }
        let series = g["series"].as_array().unwrap();
        let counts: Vec<u64> = series
            .iter()
            .map(|s| s["count"].as_u64().unwrap())
            .collect();
        let mut m = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).unwrap();
        for (j, s) in series.iter().enumerate() {
            assert_eq!(day(&s["start"]), m);
            assert_eq!(
                counts[j],
                per_month.get(&(m.year(), m.month())).copied().unwrap_or(0),
                "{} {m}",
                g["name"]
            );
            // Fewer than two earlier years: the mean of the (up to 12) months before.
            if j == 0 {
                assert!(s["expected"].is_null());
            } else {
                let hist = &counts[j.saturating_sub(12)..j];
                let mean = hist.iter().sum::<u64>() as f64 / hist.len() as f64;
                assert!(close(s["expected"].as_f64().unwrap(), mean, 1e-12), "{s}");
                assert_eq!(s["baseline"], "previous_periods");
            }
            m = m.checked_add_months(chrono::Months::new(1)).unwrap();
        }
        assert_eq!(
            counts.iter().sum::<u64>(),
            incidents(&codes, first, last).len() as u64
        );
    }
    // Hour of week: every incident whose window is at most 7 days is spread over the slots.
    let used = incidents(&[], first, last)
        .iter()
        .filter(|i| i.end >= i.begin && (i.end - i.begin).num_minutes() <= 168 * 60)
        .count() as f64;
    let slots: f64 = d["hour_of_week"]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert_eq!(d["hour_of_week"]["slots"].as_array().unwrap().len(), 168);
    assert!(close(slots, used, 1e-9), "{slots} vs {used}");
}

#[test]
fn striking_list_is_the_monthly_analysis_of_the_month() {
    let (_, last) = data_days();
    let month = format!("{:04}-{:02}", last.year(), last.month());
    let d = get(Who::Analyst, &format!("/api/dashboard?month={month}"));
    assert_eq!(d["month"]["month"], month.as_str());
    let report = get(Who::Analyst, &format!("/api/report/monthly?month={month}"));
    let significant: Vec<&Value> = report["areas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["direction"].is_null())
        .collect();
    let listed = d["striking"].as_array().unwrap();
    assert_eq!(listed.len(), significant.len());
    for (a, b) in listed.iter().zip(significant) {
        assert_eq!(a["code"], b["code"]);
        assert_eq!(a["observed"], b["observed"]);
        let row = d["ranking"]["buurt"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["code"] == a["code"])
            .unwrap();
        assert_eq!(row["striking"], a["direction"]);
    }
}

#[test]
fn viewers_get_the_protected_counts_of_the_map() {
    let (from, to) = second_half();
    let q = format!("from={from}&to={to}&category=inbraak");
    let d = get(Who::Viewer, &format!("/api/dashboard?{q}"));
    assert_eq!(d["protected"], true);
    let k = d["min_count"].as_u64().unwrap();
    assert!(k >= 2);
    let exact = area_counts(AreaLevel::Buurt, from, to);
    let exact_inbraak: BTreeMap<String, u64> = {
        let mut m = BTreeMap::new();
        for i in incidents(&group_codes("inbraak"), from, to) {
            if let Some(b) = i.buurtcode {
                *m.entry(b).or_insert(0) += 1;
            }
        }
        m
    };
    assert!(!exact.is_empty());
    let mut withheld = 0;
    for r in d["ranking"]["buurt"].as_array().unwrap() {
        let code = r["code"].as_str().unwrap();
        let n = exact_inbraak.get(code).copied().unwrap_or(0);
        if (1..k).contains(&n) {
            assert!(r["count"].is_null(), "{r}");
            assert!(r["rate"].is_null() && r["change"].is_null(), "{r}");
        }
        match r["count"].as_u64() {
            Some(c) => assert_eq!(c, n),
            None => {
                withheld += 1;
                assert_eq!(r["suppressed"], true);
                assert!(r["count_label"].is_string());
            }
        }
        // The same value as the map's statistics for the same filter.
        let st = get(Who::Viewer, &format!("/api/areas/{code}/stats?{q}"));
        assert_eq!(st["count"], r["count"], "{code}");
    }
    assert!(withheld > 0, "the demo has small inbraak counts per buurt");
    // The analyst sees every count.
    let a = get(Who::Analyst, &format!("/api/dashboard?{q}"));
    assert!(a["ranking"]["buurt"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["count"].is_u64()));
    // Trend steps of a viewer: published ones equal the analyst's, withheld ones carry a label.
    for (gv, ga) in d["trend"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .zip(a["trend"]["groups"].as_array().unwrap())
    {
        for (sv, sa) in gv["series"]
            .as_array()
            .unwrap()
            .iter()
            .zip(ga["series"].as_array().unwrap())
        {
            match sv["count"].as_u64() {
                Some(c) => assert_eq!(Some(c), sa["count"].as_u64()),
                None => assert!(sv["count_label"].is_string(), "{sv}"),
            }
        }
    }
}

#[test]
fn bad_parameters_are_400_naming_them() {
    for (query, parameter) in [
        ("step=dag", "step"),
        ("month=2024-13", "month"),
        ("frm=2024-01-01", "frm"),
        ("category=onzin", "category"),
        ("from=2024-02-30", "from"),
        ("area=BU99999999", "area"),
    ] {
        let r = server().get(Who::Analyst, &format!("/api/dashboard?{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert_eq!(r.json()["parameter"], parameter, "{query}");
    }
    for (query, parameter) in [
        ("x=cbs:onzin", "x"),
        ("", "x"),
        ("x=cbs:aantal_inwoners&y=aantal", "y"),
        ("x=cbs:aantal_inwoners&level=custom", "level"),
    ] {
        let r = server().get(
            Who::Analyst,
            &format!("/api/enrichment/correlation?{query}"),
        );
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert_eq!(r.json()["parameter"], parameter, "{query}");
    }
    let r = server().get(Who::Analyst, "/api/enrichment?level=straat");
    assert_eq!(r.json()["parameter"], "level");
}

/// The stored indicators of the demo tenant per buurt.
fn stored_indicators() -> HashMap<String, BTreeMap<String, f64>> {
    let mut out: HashMap<String, BTreeMap<String, f64>> = HashMap::new();
    for v in store().indicators("default").unwrap() {
        if let Some(x) = v.value {
            out.entry(v.buurtcode).or_default().insert(v.name, x);
        }
    }
    out
}

#[test]
fn enrichment_shows_the_stored_kerncijfers_and_indicators() {
    let indicators = stored_indicators();
    assert!(!indicators.is_empty(), "the demo imports indicators");
    let buurten = store().areas(AreaLevel::Buurt, None).unwrap();
    let b = buurten
        .iter()
        .find(|a| indicators.contains_key(&a.code) && !a.stats.is_empty())
        .unwrap();
    let st = get(Who::Viewer, &format!("/api/areas/{}/stats", b.code));
    let e = &st["enrichment"];
    for (name, v) in &b.stats {
        if name == "jaar" {
            continue;
        }
        assert_eq!(e["cbs"][name].as_f64(), Some(*v), "{name}");
    }
    assert_eq!(
        e["cbs"]["aantal_inwoners"].as_i64(),
        b.inhabitants,
        "inhabitants"
    );
    for (name, v) in &indicators[&b.code] {
        assert_eq!(e["indicators"][name].as_f64(), Some(*v), "{name}");
    }
    // The table the map colours by.
    let t = get(Who::Viewer, "/api/enrichment?level=buurt");
    let keys: Vec<&str> = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    for name in indicators[&b.code].keys() {
        assert!(keys.contains(&format!("indicator:{name}").as_str()));
    }
    let row = t["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == b.code.as_str())
        .unwrap();
    for (name, v) in &indicators[&b.code] {
        assert_eq!(
            row["values"][format!("indicator:{name}")].as_f64(),
            Some(*v)
        );
    }
    // The stats export and the OGC collection carry them as properties.
    let csv = server()
        .get(Who::Analyst, "/api/stats.csv?level=buurt")
        .text();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (name, value) = indicators[&b.code].iter().next().unwrap();
    let col = header
        .iter()
        .position(|h| *h == format!("ind_{name}"))
        .unwrap();
    let line = lines
        .find(|l| l.starts_with(&format!("{},", b.code)))
        .unwrap();
    let cells: Vec<&str> = line.split(',').collect();
    assert_eq!(cells[col].parse::<f64>().unwrap(), *value);
    let f = get(
        Who::Analyst,
        &format!("/ogc/collections/buurten/items/{}?f=json", b.code),
    );
    assert_eq!(
        f["properties"][format!("ind_{name}")].as_f64(),
        Some(*value)
    );
}

/// Pearson's r, computed here.
fn pearson(p: &[(f64, f64)]) -> f64 {
    let n = p.len() as f64;
    let (mx, my) = (
        p.iter().map(|v| v.0).sum::<f64>() / n,
        p.iter().map(|v| v.1).sum::<f64>() / n,
    );
    let sxy: f64 = p.iter().map(|v| (v.0 - mx) * (v.1 - my)).sum();
    let sxx: f64 = p.iter().map(|v| (v.0 - mx).powi(2)).sum();
    let syy: f64 = p.iter().map(|v| (v.1 - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

/// Average ranks (ties share), computed here by counting.
fn ranks(v: &[f64]) -> Vec<f64> {
    v.iter()
        .map(|x| {
            let below = v.iter().filter(|y| *y < x).count() as f64;
            let equal = v.iter().filter(|y| *y == x).count() as f64;
            below + (equal + 1.0) / 2.0
        })
        .collect()
}

#[test]
fn correlation_of_an_indicator_with_the_counts_across_buurten() {
    let indicators = stored_indicators();
    let name = indicators
        .values()
        .next()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let (from, to) = second_half();
    let c = get(
        Who::Analyst,
        &format!("/api/enrichment/correlation?x=indicator:{name}&y=count&from={from}&to={to}"),
    );
    let counts = area_counts(AreaLevel::Buurt, from, to);
    let pairs: Vec<(f64, f64)> = store()
        .areas(AreaLevel::Buurt, None)
        .unwrap()
        .iter()
        .filter_map(|a| {
            let x = indicators.get(&a.code)?.get(&name)?;
            Some((*x, counts.get(&a.code).copied().unwrap_or(0) as f64))
        })
        .collect();
    assert!(pairs.len() >= 3);
    assert_eq!(c["n"].as_u64(), Some(pairs.len() as u64));
    assert!(close(c["pearson"].as_f64().unwrap(), pearson(&pairs), 1e-9));
    let xs: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let ranked: Vec<(f64, f64)> = ranks(&xs).into_iter().zip(ranks(&ys)).collect();
    assert!(close(
        c["spearman"].as_f64().unwrap(),
        pearson(&ranked),
        1e-9
    ));
    // A viewer's coefficients use the published counts only: n counts the areas with a published count.
    let v = get(
        Who::Viewer,
        &format!("/api/enrichment/correlation?x=indicator:{name}&y=count&from={from}&to={to}&category=inbraak"),
    );
    let published = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["x"].is_null() && !p["y"].is_null())
        .count();
    assert_eq!(v["n"].as_u64(), Some(published as u64));
    assert!(v["points"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["y"].is_null() == p["count"].is_null()));
}

/// The indicators are the tenant's own: another tenant's indicators of the same buurten never show.
#[test]
fn indicators_are_the_callers_tenants_only() {
    use crate::common::demo::demo_copy;
    use crate::common::server as srv;
    use brandpunt::access::Role;
    use brandpunt::store::{DeliveryMeta, IndicatorValue};
    let (_dir, db) = demo_copy();
    let buurt = {
        let mut s = SqliteStore::open(&db).unwrap();
        s.add_tenant("tweede", "Tweede Gemeente").unwrap();
        let buurt = s.areas(AreaLevel::Buurt, None).unwrap()[0].code.clone();
        s.store_indicators(
            &DeliveryMeta {
                tenant: "tweede".into(),
                source: "gemeente".into(),
                kind: "indicators".into(),
                file_name: "tweede.csv".into(),
                checksum: "tweede-indicatoren".into(),
                total_rows: 1,
            },
            &[IndicatorValue {
                buurtcode: buurt.clone(),
                name: "alleen_tweede".into(),
                value: Some(7.5),
            }],
        )
        .unwrap();
        buurt
    };
    let own = srv::user_token(&db, "default", "eigen", Role::Analyst, &["*"]);
    let other = srv::user_token(&db, "tweede", "ander", Role::Viewer, &[]);
    let server = srv::start(&db, &[]);
    let keys = |token: &str| -> Vec<String> {
        srv::get_as(&server.base, Some(token), "/api/enrichment?level=buurt").json()["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap().to_string())
            .collect()
    };
    let demo_names: Vec<String> = store_indicator_names(&db);
    assert!(!demo_names.is_empty());
    let mine = keys(&own);
    let theirs = keys(&other);
    assert!(
        !mine.contains(&"indicator:alleen_tweede".to_string()),
        "{mine:?}"
    );
    assert!(
        theirs.contains(&"indicator:alleen_tweede".to_string()),
        "{theirs:?}"
    );
    for n in &demo_names {
        assert!(mine.contains(&format!("indicator:{n}")));
        assert!(!theirs.contains(&format!("indicator:{n}")), "{theirs:?}");
    }
    let st = srv::get_as(
        &server.base,
        Some(&other),
        &format!("/api/areas/{buurt}/stats"),
    )
    .json();
    assert_eq!(
        st["enrichment"]["indicators"],
        serde_json::json!({"alleen_tweede": 7.5})
    );
    let csv = srv::get_as(&server.base, Some(&own), "/api/stats.csv?level=buurt").text();
    assert!(!csv.lines().next().unwrap().contains("alleen_tweede"));
}

/// The names of the demo tenant's indicators in the store at `db`.
fn store_indicator_names(db: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = SqliteStore::open(db)
        .unwrap()
        .indicators("default")
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    names.sort();
    names.dedup();
    names
}
