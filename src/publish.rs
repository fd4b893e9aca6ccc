//! The publishing policy: small-count protection as applied to every output of brandpunt (JSON, GeoJSON,
//! TopoJSON, CSV, MVT, PNG, HTML). [`crate::suppression`] is the algorithm; this module states once who gets
//! protected counts, which k applies, which table a count belongs to and how a withheld count is shown, and
//! every output path calls it.
//!
//! # Rules
//! 1. **Who.** Analysts and admins see exact counts everywhere. Viewers and anonymous callers of a public
//!    tenant see protected counts ([`crate::access::Principal::sees_protected_counts`]).
//! 2. **Which k.** `[privacy] min_count`, raised to the largest `min_count_per_group` of every category group or
//!    crime code the filter spans; a filter on all categories spans them all ([`Policy::k_for`]).
//! 3. **Which table.** The counts of every area (gemeenten, wijken, buurten and custom areas) for one filter form
//!    one table, protected over the area hierarchy ([`area_table`]). Every area count of every output reads that
//!    table (tiles, statistics, exports, PNG and WMS, hot spots on area bins, comparisons, the monthly report),
//!    so the same area and filter always show the same value. A breakdown published next to a total is a table
//!    of its own hanging from that total: the steps of a time series under the area's count, whose status stays
//!    the area table's ([`series_table`]); the categories of a tenant or a month under their total
//!    ([`list_table`]); months under their published sum ([`breakdown_table`]). Grid and H3 cells and patrol
//!    cells stand in no published relation: primary suppression only ([`small_count_label`]).
//! 4. **How shown.** A withheld count is never shown: JSON, GeoJSON and TopoJSON give `null` with `count_label`
//!    (`"< k"`, `">= k"` for a complement, `"afgeschermd"` for a masked cell) and `suppressed: true`
//!    ([`count_fields`], [`withhold_json`]); MVT leaves `count` out and gives `count_label` and `suppressed = 1`
//!    ([`mvt_count`]); CSV leaves the count empty and fills the label column; PNG draws the withheld class in its
//!    own grey; HTML shows the label where the number would be. Everything derived from a withheld count
//!    (rates, shares, changes, rate ratios, their intervals and p-values, scores) is withheld with it.
//! 5. **Streets.** The patrol list names a cell's most common street only when the cell's count and its count on
//!    that street are both at least k ([`shown_street`]).
//!
//! ```
//! use brandpunt::publish::{count_fields, list_table, Policy};
//! use std::collections::BTreeMap;
//!
//! let policy = Policy { min_count: 5, min_count_per_group: BTreeMap::from([("inbraak".into(), 10)]) };
//! assert_eq!(policy.k_for(&["1.1.1".to_string()]), 10); // woninginbraak is in the group inbraak
//! assert_eq!(policy.k_for(&["3.5.2".to_string()]), 5);
//! let table = list_table(&[("1.1.1".into(), 3), ("3.5.2".into(), 40)], 43, 5);
//! let (count, label, suppressed) = count_fields(&table, 0);
//! assert!(count.is_null() && suppressed);
//! assert_eq!(label, "< 5");
//! ```

use crate::analysis::patrol::PatrolCell;
use crate::area_level::AreaLevel;
use crate::dataset::Snapshot;
use crate::suppression::{self, Cell, Protected, Relation, Status};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The k settings of `[privacy]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// k: counts 1..k-1 are withheld as "< k".
    pub min_count: u32,
    /// k per category group or crime code, overriding `min_count` for filters that span it.
    pub min_count_per_group: BTreeMap<String, u32>,
}

impl Policy {
    /// The k of a filter on `category_codes` (expanded codes; empty = every category): rule 2.
    pub fn k_for(&self, category_codes: &[String]) -> u32 {
        suppression::k_for_categories(category_codes, self.min_count, &self.min_count_per_group)
    }
}

/// The sum relations the area outputs publish: every wijk = the sum of its buurten, every gemeente = the sum
/// of its wijken (plus its buurten without a wijk). Cell `i` is area `i` of the snapshot.
fn area_relations(s: &Snapshot) -> Vec<Relation> {
    let mut wijk_parts: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    let mut gemeente_parts: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    for &b in s.level_areas(AreaLevel::Buurt) {
        let a = s.area(b);
        let w = a.wijkcode.as_deref().and_then(|c| s.area_index(c));
        let g = a.gemeentecode.as_deref().and_then(|c| s.area_index(c));
        if let Some(w) = w {
            wijk_parts.entry(w).or_default().push(b as usize);
        }
        if let Some(g) = g {
            gemeente_parts
                .entry(g)
                .or_default()
                .insert(w.map_or(b as usize, |w| w as usize));
        }
    }
    wijk_parts
        .into_iter()
        .map(|(w, parts)| Relation {
            total: w as usize,
            parts,
        })
        .chain(gemeente_parts.into_iter().map(|(g, parts)| Relation {
            total: g as usize,
            parts: parts.into_iter().collect(),
        }))
        .collect()
}

/// The published count table of every area of `s` (`counts` indexed like [`Snapshot::areas`]): exact without
/// `k`, else protected with `k` over the area hierarchy (custom areas stand in no relation: primary suppression
/// only). If the hierarchy cannot be protected exactly (inconsistent boundaries), every count is withheld.
pub fn area_table(s: &Snapshot, counts: Vec<u64>, k: Option<u32>) -> Protected {
    let Some(k) = k else {
        return Protected::exact(counts);
    };
    let cells: Vec<Cell> = s
        .areas
        .iter()
        .zip(&counts)
        .map(|(a, &count)| Cell {
            code: a.code.clone(),
            count,
        })
        .collect();
    match suppression::protect(&cells, &area_relations(s), k) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "area hierarchy cannot be protected exactly: withholding every count");
            Protected::fail_closed(counts, k)
        }
    }
}

/// A small stand-alone list of counts (e.g. per category of a whole tenant) that sum to at most `total`:
/// primary suppression and complements under the one relation `total = sum(items) + the rest`. Cell `i` is
/// item `i`.
pub fn list_table(items: &[(String, u64)], total: u64, k: u32) -> Protected {
    let mut cells: Vec<Cell> = items
        .iter()
        .map(|(code, count)| Cell {
            code: code.clone(),
            count: *count,
        })
        .collect();
    let sum: u64 = items.iter().map(|(_, c)| c).sum();
    cells.push(Cell {
        code: "\u{10ffff}totaal".into(),
        count: total,
    });
    // What is not itemised is a part of its own, so that the relation holds.
    cells.push(Cell {
        code: "\u{10ffff}overig".into(),
        count: total.saturating_sub(sum),
    });
    let n = items.len();
    let rel = Relation {
        total: n,
        parts: (0..n).chain([n + 1]).collect(),
    };
    let counts: Vec<u64> = cells.iter().map(|c| c.count).collect();
    suppression::protect(&cells, &[rel], k).unwrap_or_else(|_| Protected::fail_closed(counts, k))
}

/// Parts published under their sum, which is published too: cell 0 is the sum, cell `j + 1` is part `j`.
/// Withheld everything (masked) when the parts cannot be protected.
pub fn breakdown_table(parts: &[(String, u64)], k: u32) -> Protected {
    let mut cells = vec![Cell {
        code: String::new(),
        count: parts.iter().map(|(_, c)| c).sum(),
    }];
    cells.extend(parts.iter().map(|(code, count)| Cell {
        code: code.clone(),
        count: *count,
    }));
    let rel = Relation {
        total: 0,
        parts: (1..cells.len()).collect(),
    };
    let counts: Vec<u64> = cells.iter().map(|c| c.count).collect();
    suppression::protect(&cells, &[rel], k).unwrap_or_else(|_| Protected::fail_closed(counts, k))
}

/// The steps of a series under an area's count `total`, whose status `total_status` the area table decided:
/// cell 0 is the total, cell `j + 1` is step `j`. `None` when the steps cannot be protected without revealing
/// the published total: then every step is withheld ("afgeschermd").
pub fn series_table(
    total: u64,
    total_status: Status,
    steps: &[(String, u64)],
    k: u32,
) -> Option<Protected> {
    let mut cells = vec![Cell {
        code: String::new(),
        count: total,
    }];
    cells.extend(steps.iter().map(|(code, count)| Cell {
        code: code.clone(),
        count: *count,
    }));
    let rel = Relation {
        total: 0,
        parts: (1..cells.len()).collect(),
    };
    suppression::protect_fixed(&cells, &[rel], k, &[Some(total_status)])
        .ok()
        .flatten()
}

/// `"< k"` for a count in `1..k-1` of a cell that stands in no published relation (grid, H3 and patrol cells),
/// `None` when the count is published.
pub fn small_count_label(count: u64, k: u32) -> Option<String> {
    (count >= 1 && count < u64::from(k)).then(|| format!("< {k}"))
}

/// The JSON fields of cell `i`: `count` (null when withheld), `count_label` (null when published) and
/// `suppressed`.
pub fn count_fields(p: &Protected, i: usize) -> (Value, Value, bool) {
    let count = p.published(i).map_or(Value::Null, |c| json!(c));
    let label = p.label(i).map_or(Value::Null, Value::String);
    (count, label, p.is_suppressed(i))
}

/// The JSON fields of cell `j` of a series table, as [`count_fields`]; every step withheld ("afgeschermd")
/// when the table could not be protected ([`series_table`] gave `None`).
pub fn series_fields(p: Option<&Protected>, j: usize) -> (Value, Value, bool) {
    match p {
        Some(p) => count_fields(p, j),
        None => (Value::Null, json!("afgeschermd"), true),
    }
}

/// Withhold the count `count_key` of the JSON object `o`: `null` with `count_label` = `label` and
/// `suppressed: true`, and the values `derived` from it `null`.
pub fn withhold_json(o: &mut Value, count_key: &str, label: Option<String>, derived: &[&str]) {
    if let Some(m) = o.as_object_mut() {
        m.insert(count_key.into(), Value::Null);
        m.insert("count_label".into(), json!(label));
        m.insert("suppressed".into(), json!(true));
        for d in derived {
            m.insert((*d).into(), Value::Null);
        }
    }
}

/// The MVT properties of a count: `count` = `shown` when published, else `count_label` and `suppressed = 1`
/// (MVT has no null).
pub fn mvt_count(
    shown: Option<crate::tiles::Value>,
    label: Option<String>,
) -> Vec<(&'static str, crate::tiles::Value)> {
    match shown {
        Some(v) => vec![("count", v)],
        None => vec![
            (
                "count_label",
                crate::tiles::Value::from(label.unwrap_or_default()),
            ),
            ("suppressed", crate::tiles::Value::Int(1)),
        ],
    }
}

/// The published count of one analysis bin (rule 3) for a caller with `k` (`None` = exact counts): a bin that is
/// an area of the snapshot (its `id` an area code) shows the value of the protected area table (`area_table`,
/// asked for only then); a grid or H3 cell gets primary suppression. Returns the count (`None` when withheld)
/// and its label.
pub fn bin_count(
    s: &Snapshot,
    id: &str,
    count: f64,
    k: Option<u32>,
    area_table: impl FnOnce() -> std::sync::Arc<Protected>,
) -> (Option<f64>, Option<String>) {
    let Some(k) = k else {
        return (Some(count), None);
    };
    if let Some(idx) = s.area_index(id) {
        let t = area_table();
        let i = idx as usize;
        return (t.published(i).map(|c| c as f64), t.label(i));
    }
    // Counts of incidents are whole numbers.
    match small_count_label(count as u64, k) {
        Some(label) => (None, Some(label)),
        None => (Some(count), None),
    }
}

/// The street of a patrol cell a caller may see (rule 5): its most common street, always for exact callers
/// (`k` = `None`); for protected callers only when the cell's count and its incidents on that street are both at
/// least k, so a street never points at fewer than k incidents.
pub fn shown_street(cell: &PatrolCell, k: Option<u32>) -> Option<&str> {
    let street = cell.street.as_deref()?;
    match k {
        Some(k) if cell.count < u64::from(k) || cell.street_count < u64::from(k) => None,
        _ => Some(street),
    }
}

/// Incidents per 1,000 inhabitants as published, rounded to 0.01.
pub fn rate_per_1000(count: u32, inhabitants: i64) -> f64 {
    (f64::from(count) * 1000.0 / inhabitants as f64 * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{IncidentRecord, Snapshot, TenantArea, TenantData};
    use geo_types::{MultiPolygon, Rect};

    fn square(x0: f64) -> MultiPolygon<f64> {
        Rect::new((155_000.0 + x0, 463_000.0), (155_500.0 + x0, 463_500.0))
            .to_polygon()
            .into()
    }

    /// A gemeente of one wijk of two buurten, no incidents (the counts are given to the tables).
    fn town() -> Snapshot {
        let buurt = |code: &str, x0| TenantArea {
            wijkcode: Some("WK999900".into()),
            gemeentecode: Some("GM9999".into()),
            ..TenantArea::new(AreaLevel::Buurt, code, code, square(x0))
        };
        let data = TenantData {
            code: "proef".into(),
            name: "Proefstad".into(),
            areas: vec![
                TenantArea::new(AreaLevel::Gemeente, "GM9999", "Proefstad", square(0.0)),
                TenantArea {
                    gemeentecode: Some("GM9999".into()),
                    ..TenantArea::new(AreaLevel::Wijk, "WK999900", "Centrum", square(0.0))
                },
                buurt("BU99990001", 0.0),
                buurt("BU99990002", 500.0),
            ],
            incidents: Vec::<IncidentRecord>::new(),
        };
        Snapshot::build(1, data).unwrap()
    }

    #[test]
    fn k_follows_the_groups_the_filter_spans() {
        let p = Policy {
            min_count: 5,
            min_count_per_group: BTreeMap::from([("inbraak".to_string(), 10)]),
        };
        assert_eq!(p.k_for(&[]), 10, "all categories span inbraak");
        assert_eq!(p.k_for(&["1.1.1".into(), "3.5.2".into()]), 10);
        assert_eq!(p.k_for(&["3.5.2".into()]), 5);
    }

    #[test]
    fn the_area_table_complements_a_lone_small_buurt() {
        let s = town();
        // gemeente 12 = wijk 12 = 2 + 10.
        let counts = vec![12, 12, 2, 10];
        let exact = area_table(&s, counts.clone(), None);
        assert_eq!(exact.published(2), Some(2));
        let t = area_table(&s, counts, Some(5));
        assert_eq!(t.label(2).as_deref(), Some("< 5"));
        // The other buurt would give the small one away through the wijk: it is a complement.
        assert_eq!(t.label(3).as_deref(), Some(">= 5"));
        assert_eq!(t.published(1), Some(12));
        assert_eq!(count_fields(&t, 3), (Value::Null, json!(">= 5"), true));
        assert_eq!(count_fields(&t, 1), (json!(12), Value::Null, false));
    }

    #[test]
    fn an_inconsistent_hierarchy_withholds_every_count() {
        let s = town();
        // The wijk is not the sum of its buurten.
        let t = area_table(&s, vec![12, 99, 2, 10], Some(5));
        assert!((0..4).all(|i| t.label(i).as_deref() == Some("afgeschermd")));
    }

    #[test]
    fn lists_breakdowns_and_series_protect_their_small_parts() {
        let l = list_table(&[("a".into(), 3), ("b".into(), 20)], 30, 5);
        assert!(l.is_suppressed(0) && l.published(1).is_some());
        let b = breakdown_table(
            &[
                ("2024-01".into(), 2),
                ("2024-02".into(), 9),
                ("2024-03".into(), 8),
            ],
            5,
        );
        assert_eq!(b.published(0), Some(19));
        assert_eq!(b.label(1).as_deref(), Some("< 5"));
        assert_eq!(b.suppressed_count(), 2, "one complement");
        let s = series_table(
            19,
            Status::Published,
            &[("w1".into(), 2), ("w2".into(), 17)],
            5,
        );
        let s = s.expect("protectable");
        assert_eq!((s.is_suppressed(1), s.is_suppressed(2)), (true, true));
        assert_eq!(
            series_fields(None, 1),
            (Value::Null, json!("afgeschermd"), true)
        );
        assert_eq!(series_fields(Some(&s), 0), (json!(19), Value::Null, false));
    }

    #[test]
    fn area_bins_read_the_area_table_and_grid_cells_get_primary_suppression() {
        let s = town();
        let table = std::sync::Arc::new(area_table(&s, vec![7, 7, 3, 4], Some(5)));
        let buurt = s.area(s.area_index("BU99990001").unwrap()).code.clone();
        let from_table = || table.clone();
        assert_eq!(
            bin_count(&s, &buurt, 3.0, None, from_table),
            (Some(3.0), None)
        );
        let (count, label) = bin_count(&s, &buurt, 3.0, Some(5), || table.clone());
        assert_eq!(count, None);
        assert!(label.is_some());
        let never = || -> std::sync::Arc<Protected> { panic!("a grid cell needs no area table") };
        assert_eq!(
            bin_count(&s, "c100_1_2", 4.0, Some(5), never),
            (None, Some("< 5".into()))
        );
        assert_eq!(
            bin_count(&s, "c100_1_2", 5.0, Some(5), never),
            (Some(5.0), None)
        );
    }

    #[test]
    fn small_cells_streets_and_rates() {
        assert_eq!(small_count_label(0, 5), None);
        assert_eq!(small_count_label(4, 5).as_deref(), Some("< 5"));
        assert_eq!(small_count_label(5, 5), None);
        use crate::analysis::patrol::{rank_cells, WeightedIncident};
        let at = |x_m, street| WeightedIncident {
            x_m,
            y_m: 10.0,
            share: 1.0,
            street,
        };
        let mut incidents = vec![at(10.0, Some("Dijk")); 5];
        incidents.extend(vec![at(20.0, Some("Markt")); 2]);
        incidents.push(at(30.0, None));
        let c = &rank_cells(&incidents, 100, 5)[0];
        assert_eq!(shown_street(c, None), Some("Dijk"));
        assert_eq!(shown_street(c, Some(5)), Some("Dijk"));
        assert_eq!(shown_street(c, Some(6)), None, "5 on the street, k = 6");
        assert_eq!(shown_street(c, Some(9)), None, "the cell itself is below k");
        let none = &rank_cells(&[at(10.0, None)], 100, 5)[0];
        assert_eq!(shown_street(none, None), None);
        assert_eq!(rate_per_1000(3, 700), 4.29);
    }

    #[test]
    fn withheld_json_and_mvt_carry_the_label_and_no_number() {
        let mut o = json!({"observed": 3, "ratio": 1.5, "p": 0.2});
        withhold_json(&mut o, "observed", Some("< 5".into()), &["ratio"]);
        assert_eq!(
            o,
            json!({"observed": null, "count_label": "< 5", "suppressed": true, "ratio": null, "p": 0.2})
        );
        let props = mvt_count(None, Some("< 5".into()));
        assert_eq!(props.len(), 2);
        assert_eq!(props[0].0, "count_label");
        assert_eq!(
            mvt_count(Some(crate::tiles::Value::Int(7)), None)[0].0,
            "count"
        );
    }
}
