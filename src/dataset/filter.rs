//! Filters over a [`Snapshot`] and their evaluation: which incidents a filter selects (category codes,
//! sources, the period in which an incident's window begins, optionally a [`StudyArea`]: one area or a box),
//! counted per area or listed per area.
//!
//! A [`Filter`] is resolved against one snapshot (category and source indices); [`FilterKey`] identifies it in
//! cache keys. Reading a filter from request parameters belongs to the caller (the server's
//! `server::filter`).
//!
//! ```
//! use brandpunt::area_level::AreaLevel;
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantArea, TenantData};
//! use chrono::NaiveDate;
//!
//! let square = geo_types::Rect::new((155_000.0, 463_000.0), (156_000.0, 464_000.0)).to_polygon();
//! let buurt = TenantArea::new(AreaLevel::Buurt, "BU99990001", "Centrum", square.into());
//! let day = |d| NaiveDate::from_ymd_opt(2024, 3, d).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! let incident = |id, d, code: &str| IncidentRecord {
//!     id,
//!     source: "politie".into(),
//!     begin: day(d),
//!     end: day(d),
//!     category_code: Some(code.into()),
//!     x_m: Some(155_500.0),
//!     y_m: Some(463_500.0),
//!     buurtcode: Some("BU99990001".into()),
//! };
//! let data = TenantData {
//!     code: "demo".into(),
//!     name: "Demo".into(),
//!     areas: vec![buurt],
//!     incidents: vec![incident(1, 1, "1.1.1"), incident(2, 20, "1.1.1"), incident(3, 21, "2.2.1")],
//! };
//! let s = Snapshot::build(1, data).unwrap();
//! let march_1_to_20 = Filter::new(&s, vec!["1.1.1".into()], vec![], NaiveDate::from_ymd_opt(2024, 3, 1), NaiveDate::from_ymd_opt(2024, 3, 20));
//! let idx = s.area_index("BU99990001").unwrap();
//! assert_eq!(s.counts(AreaLevel::Buurt, &march_1_to_20)[idx as usize], 2);
//! assert_eq!(s.counts(AreaLevel::Buurt, &Filter::all(&s))[idx as usize], 3);
//! assert_eq!(s.incidents_in(idx, &march_1_to_20).len(), 2);
//! ```

use super::snapshot::{day_start_minutes, Incident, Snapshot};
use crate::area_level::AreaLevel;
use crate::heap_size::HeapSize;
use chrono::NaiveDate;
use geo::{BoundingRect, Contains};
use geo_types::{MultiPolygon, Point, Rect};
use std::sync::Arc;

/// Where a filter looks: the incidents of one area (a CBS gemeente, wijk or buurt by the incident's buurt; a
/// custom area by the incident's point) or of a box (by the point), with the RD bounding box that holds them.
#[derive(Clone, Debug)]
pub struct StudyArea {
    /// Canonical text: the area code (`GM0153`, `custom:12`) or `bbox:` and the box as the caller gave it.
    pub key: String,
    /// RD bounding box of the study area: no selected incident lies outside it.
    pub bbox_rd: Rect<f64>,
    members: Members,
}

#[derive(Clone, Debug)]
enum Members {
    /// `buurten[i]`: buurt area `i` lies in the study area.
    Buurten(Vec<bool>),
    /// Incidents with their point inside.
    Polygon(MultiPolygon<f64>),
    /// Incidents with their point inside `bbox_rd`.
    Box,
    /// Incidents in any buurt of the snapshot.
    AnyBuurt,
}

impl StudyArea {
    /// The key of the default study area ([`StudyArea::gemeenten`]).
    pub const GEMEENTEN_KEY: &'static str = "gemeenten";

    /// The area `idx` of `snapshot` (any level); `None` when it has no geometry to bound it.
    pub fn area(snapshot: &Snapshot, idx: u32) -> Option<StudyArea> {
        let area = snapshot.area(idx);
        let bbox_rd = area.geometry_rd.bounding_rect()?;
        let members = if area.level == AreaLevel::Custom {
            Members::Polygon(area.geometry_rd.clone())
        } else {
            let mut buurten = vec![false; snapshot.areas.len()];
            for &b in snapshot.level_areas(AreaLevel::Buurt) {
                let (wijk, gemeente) = snapshot
                    .buurt_parents
                    .get(&b)
                    .copied()
                    .unwrap_or((u32::MAX, u32::MAX));
                buurten[b as usize] = b == idx || wijk == idx || gemeente == idx;
            }
            Members::Buurten(buurten)
        };
        Some(StudyArea {
            key: area.code.clone(),
            bbox_rd: snapshot_bbox_of_members(snapshot, &members).unwrap_or(bbox_rd),
            members,
        })
    }

    /// The box `bbox_rd` (RD metres), given by the caller as `given` (e.g. WGS84 `lon,lat,lon,lat`).
    pub fn bbox(bbox_rd: Rect<f64>, given: &str) -> StudyArea {
        StudyArea {
            key: format!("bbox:{given}"),
            bbox_rd,
            members: Members::Box,
        }
    }

    /// The default study area of a tenant: its gemeenten, i.e. the incidents in one of the snapshot's buurten (a
    /// snapshot holds the CBS areas of the tenant's gemeenten, all gemeenten when none are set), with the
    /// buurten's bounding box; `None` when the snapshot has no buurten (nothing to bound a default with: every
    /// incident is analysed). Costs a pass over the buurten's geometry.
    pub fn gemeenten(snapshot: &Snapshot) -> Option<StudyArea> {
        let buurten = snapshot.level_areas(AreaLevel::Buurt);
        let bbox_rd = buurten
            .iter()
            .filter_map(|&b| snapshot.area(b).geometry_rd.bounding_rect())
            .reduce(union)?;
        Some(StudyArea {
            key: StudyArea::GEMEENTEN_KEY.into(),
            bbox_rd,
            members: Members::AnyBuurt,
        })
    }

    /// Whether the incident lies in the study area.
    #[inline]
    pub fn holds(&self, inc: &Incident) -> bool {
        match &self.members {
            Members::Buurten(b) => {
                inc.buurt != u32::MAX && b.get(inc.buurt as usize).copied().unwrap_or(false)
            }
            Members::Polygon(p) => self.in_box(inc) && p.contains(&Point::new(inc.x_m, inc.y_m)),
            Members::Box => self.in_box(inc),
            Members::AnyBuurt => inc.buurt != u32::MAX,
        }
    }

    fn in_box(&self, inc: &Incident) -> bool {
        let (a, b) = (self.bbox_rd.min(), self.bbox_rd.max());
        inc.has_point() && inc.x_m >= a.x && inc.x_m <= b.x && inc.y_m >= a.y && inc.y_m <= b.y
    }
}

/// The bounding box of the buurten of a CBS study area (their geometry, not the area's own, in case the
/// buurten reach beyond it).
fn snapshot_bbox_of_members(snapshot: &Snapshot, members: &Members) -> Option<Rect<f64>> {
    let Members::Buurten(b) = members else {
        return None;
    };
    b.iter()
        .enumerate()
        .filter(|(_, &inside)| inside)
        .filter_map(|(i, _)| snapshot.area(i as u32).geometry_rd.bounding_rect())
        .reduce(union)
}

/// The smallest box holding both.
fn union(a: Rect<f64>, r: Rect<f64>) -> Rect<f64> {
    Rect::new(
        (a.min().x.min(r.min().x), a.min().y.min(r.min().y)),
        (a.max().x.max(r.max().x), a.max().y.max(r.max().y)),
    )
}

/// A filter resolved against one snapshot.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Expanded category codes (sorted), empty = all.
    pub category_codes: Vec<String>,
    /// `allowed[i]` for snapshot category index `i`; `None` = all.
    categories: Option<Vec<bool>>,
    /// Sources (sorted), empty = all.
    pub source_names: Vec<String>,
    sources: Option<Vec<bool>>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Where to look; `None` = everywhere.
    pub study: Option<Arc<StudyArea>>,
    /// Half-open interval of window begins, minutes since the epoch.
    begin_min: i64,
    end_min: i64,
}

/// What identifies a [`Filter`] in a cache key: its expanded category codes and sources (sorted) and its
/// period. Together with the snapshot generation it determines the selected incidents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FilterKey {
    category_codes: Vec<String>,
    source_names: Vec<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    study: Option<String>,
}

impl HeapSize for FilterKey {
    fn heap_bytes(&self) -> usize {
        self.category_codes.heap_bytes() + self.source_names.heap_bytes() + self.study.heap_bytes()
    }
}

impl Filter {
    /// No restriction.
    pub fn all(snapshot: &Snapshot) -> Filter {
        Filter::new(snapshot, vec![], vec![], None, None)
    }

    /// Incidents with one of `category_codes` (expanded codes, not group names; empty = all), from one of
    /// `source_names` (empty = all), whose window begins in `from..=to` (open ends when `None`). Codes and
    /// sources the snapshot does not hold select nothing.
    pub fn new(
        snapshot: &Snapshot,
        mut category_codes: Vec<String>,
        mut source_names: Vec<String>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Filter {
        category_codes.sort();
        category_codes.dedup();
        source_names.sort();
        source_names.dedup();
        let categories = (!category_codes.is_empty()).then(|| {
            snapshot
                .categories
                .iter()
                .map(|c| category_codes.binary_search(c).is_ok())
                .collect()
        });
        let sources = (!source_names.is_empty()).then(|| {
            snapshot
                .sources
                .iter()
                .map(|s| source_names.binary_search(s).is_ok())
                .collect()
        });
        let begin_min = from.map(day_start_minutes).unwrap_or(i64::MIN);
        let end_min = to
            .and_then(|t| t.succ_opt())
            .map(day_start_minutes)
            .unwrap_or(i64::MAX);
        Filter {
            category_codes,
            categories,
            source_names,
            sources,
            from,
            to,
            study: None,
            begin_min,
            end_min,
        }
    }

    /// The same filter within `study` only.
    pub fn within(mut self, study: StudyArea) -> Filter {
        self.study = Some(Arc::new(study));
        self
    }

    /// The same filter, within the tenant's gemeenten ([`StudyArea::gemeenten`]) when it has no study area: the
    /// default study area of the analyses.
    pub fn within_gemeenten_by_default(self, snapshot: &Snapshot) -> Filter {
        if self.study.is_some() {
            return self;
        }
        match StudyArea::gemeenten(snapshot) {
            Some(study) => self.within(study),
            None => self,
        }
    }

    /// Half-open interval `[begin, end)` of window begins (minutes since the epoch) that pass the filter.
    pub fn begin_range_min(&self) -> (i64, i64) {
        (self.begin_min, self.end_min)
    }

    /// Does the incident pass the filter?
    #[inline]
    pub fn matches(&self, inc: &Incident) -> bool {
        if inc.begin_min < self.begin_min || inc.begin_min >= self.end_min {
            return false;
        }
        if let Some(c) = &self.categories {
            if !c.get(usize::from(inc.category)).copied().unwrap_or(false) {
                return false;
            }
        }
        if let Some(s) = &self.sources {
            if !s.get(usize::from(inc.source)).copied().unwrap_or(false) {
                return false;
            }
        }
        self.study.as_ref().is_none_or(|s| s.holds(inc))
    }

    /// The same filter with another period.
    pub fn with_period(
        &self,
        snapshot: &Snapshot,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Filter {
        Filter {
            study: self.study.clone(),
            ..Filter::new(
                snapshot,
                self.category_codes.clone(),
                self.source_names.clone(),
                from,
                to,
            )
        }
    }

    /// The same filter (sources, period, study area) on other categories: `category_codes` expanded codes, empty =
    /// every category.
    pub fn with_categories(&self, snapshot: &Snapshot, category_codes: Vec<String>) -> Filter {
        Filter {
            study: self.study.clone(),
            ..Filter::new(
                snapshot,
                category_codes,
                self.source_names.clone(),
                self.from,
                self.to,
            )
        }
    }

    /// The effective period: the given bounds, else the data's first/last day.
    pub fn period(&self, snapshot: &Snapshot) -> Option<(NaiveDate, NaiveDate)> {
        let from = self.from.or(snapshot.first_day)?;
        let to = self.to.or(snapshot.last_day)?;
        Some((from, to))
    }

    /// The equally long period just before [`Filter::period`], as a filter; `None` without data.
    pub fn previous(&self, snapshot: &Snapshot) -> Option<Filter> {
        let (from, to) = self.period(snapshot)?;
        let days = (to - from).num_days() + 1;
        let prev_to = from.pred_opt()?;
        let prev_from = prev_to.checked_sub_days(chrono::Days::new((days - 1).max(0) as u64))?;
        Some(self.with_period(snapshot, Some(prev_from), Some(prev_to)))
    }

    /// The filter as a typed cache key: equal keys select the same incidents of the same snapshot.
    pub fn cache_key(&self) -> FilterKey {
        FilterKey {
            category_codes: self.category_codes.clone(),
            source_names: self.source_names.clone(),
            from: self.from,
            to: self.to,
            study: self.study.as_ref().map(|s| s.key.clone()),
        }
    }

    /// Canonical text of the filter, for ETags and the audit log.
    pub fn key(&self) -> String {
        let mut key = format!(
            "c={};s={};f={};t={}",
            self.category_codes.join(","),
            self.source_names.join(","),
            self.from.map(|d| d.to_string()).unwrap_or_default(),
            self.to.map(|d| d.to_string()).unwrap_or_default()
        );
        if let Some(s) = &self.study {
            key.push_str(";a=");
            key.push_str(&s.key);
        }
        key
    }

    /// The filter as a query string (`category=...&from=...`), empty when unrestricted.
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        if !self.category_codes.is_empty() {
            parts.push(format!("category={}", self.category_codes.join(",")));
        }
        if !self.source_names.is_empty() {
            parts.push(format!("source={}", self.source_names.join(",")));
        }
        if let Some(f) = self.from {
            parts.push(format!("from={f}"));
        }
        if let Some(t) = self.to {
            parts.push(format!("to={t}"));
        }
        if let Some(s) = &self.study {
            match s.key.strip_prefix("bbox:") {
                Some(b) => parts.push(format!("bbox={b}")),
                // The default study area: no parameter.
                None if s.key == StudyArea::GEMEENTEN_KEY => {}
                None => parts.push(format!("area={}", s.key)),
            }
        }
        parts.join("&")
    }
}

/// Evaluation of filters over the snapshot.
impl Snapshot {
    /// Incidents matching `filter` counted per area of `level`, indexed like [`Snapshot::areas`] (areas of
    /// other levels count 0). Only located incidents count (CBS levels: those with a known buurt; custom areas:
    /// those with a point inside).
    pub fn counts(&self, level: AreaLevel, filter: &Filter) -> Vec<u32> {
        let mut counts = vec![0u32; self.areas.len()];
        match level {
            AreaLevel::Custom => {
                for (&area, members) in &self.custom_members {
                    counts[area as usize] = members
                        .iter()
                        .filter(|&&k| filter.matches(&self.incidents[k as usize]))
                        .count() as u32;
                }
            }
            _ => {
                for inc in self.incidents.range(self.period_range(filter)) {
                    if inc.buurt == u32::MAX || !filter.matches(inc) {
                        continue;
                    }
                    let target = match level {
                        AreaLevel::Buurt => inc.buurt,
                        AreaLevel::Wijk => {
                            self.buurt_parents.get(&inc.buurt).map_or(u32::MAX, |p| p.0)
                        }
                        _ => self.buurt_parents.get(&inc.buurt).map_or(u32::MAX, |p| p.1),
                    };
                    if target != u32::MAX {
                        counts[target as usize] += 1;
                    }
                }
            }
        }
        counts
    }

    /// The index range of the incidents whose window begins in the filter's period.
    pub fn period_range(&self, filter: &Filter) -> std::ops::Range<usize> {
        let (begin, end) = filter.begin_range_min();
        let lo = self.incidents.partition_point(|i| i.begin_min < begin);
        let hi = self.incidents.partition_point(|i| i.begin_min < end);
        lo..hi.max(lo)
    }

    /// Indices of the incidents matching `filter` that lie in area `idx` (any level).
    pub fn incidents_in(&self, idx: u32, filter: &Filter) -> Vec<u32> {
        let area = self.area(idx);
        if area.level == AreaLevel::Custom {
            return self
                .custom_members
                .get(&idx)
                .map(|m| {
                    m.iter()
                        .copied()
                        .filter(|&k| filter.matches(&self.incidents[k as usize]))
                        .collect()
                })
                .unwrap_or_default();
        }
        self.incidents
            .iter()
            .enumerate()
            .filter(|(_, inc)| {
                inc.buurt != u32::MAX && filter.matches(inc) && {
                    match area.level {
                        AreaLevel::Buurt => inc.buurt == idx,
                        AreaLevel::Wijk => self
                            .buurt_parents
                            .get(&inc.buurt)
                            .is_some_and(|p| p.0 == idx),
                        _ => self
                            .buurt_parents
                            .get(&inc.buurt)
                            .is_some_and(|p| p.1 == idx),
                    }
                }
            })
            .map(|(k, _)| k as u32)
            .collect()
    }

    /// Incidents with a point matching `filter` (indices).
    pub fn located_incidents(&self, filter: &Filter) -> Vec<u32> {
        if let Some(study) = &filter.study {
            // The incidents near the study area that begin in the period only, read in one pass.
            let near = self.incidents_within_range(study.bbox_rd, self.period_range(filter));
            return self
                .incidents
                .at_ascending(&near)
                .filter(|(_, inc)| filter.matches(inc))
                .map(|(k, _)| k)
                .collect();
        }
        let period = self.period_range(filter);
        self.incidents
            .range(period.clone())
            .zip(period)
            .filter(|(inc, _)| inc.has_point() && filter.matches(inc))
            .map(|(_, k)| k as u32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::town;
    use super::*;

    fn date(m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2024, m, d)
    }

    #[test]
    fn a_filter_selects_by_category_source_and_the_day_the_window_begins() {
        let s = town();
        let all = Filter::all(&s);
        assert_eq!(s.located_incidents(&all).len(), s.incidents.len() - 1);
        let inbraak = Filter::new(&s, vec!["1.1.1".into()], vec![], None, None);
        assert!(s
            .located_incidents(&inbraak)
            .iter()
            .all(|&k| s.categories[usize::from(s.incidents[k as usize].category)] == "1.1.1"));
        let march = Filter::new(&s, vec![], vec![], date(3, 1), date(3, 31));
        let begins: Vec<i64> = s
            .period_range(&march)
            .map(|k| s.incidents[k].begin_min)
            .collect();
        assert_eq!(begins.len(), 3);
        assert!(s
            .incidents
            .range(s.period_range(&march))
            .all(|i| march.matches(i)));
        let none = Filter::new(&s, vec![], vec!["onbekend".into()], None, None);
        assert!(s.located_incidents(&none).is_empty());
    }

    #[test]
    fn the_default_study_area_is_the_tenants_gemeenten() {
        let s = town();
        let all = Filter::all(&s);
        let default = Filter::all(&s).within_gemeenten_by_default(&s);
        let study = default.study.as_ref().unwrap();
        assert_eq!(study.key, StudyArea::GEMEENTEN_KEY);
        // The buurten's box: 2 x 1 km.
        assert_eq!(study.bbox_rd.width(), 2000.0);
        assert_eq!(study.bbox_rd.height(), 1000.0);
        // The located incident outside every buurt is left out, the others stay.
        let everything = s.located_incidents(&all);
        let inside = s.located_incidents(&default);
        assert_eq!(inside.len(), everything.len() - 1);
        assert!(inside
            .iter()
            .all(|&k| s.incidents[k as usize].buurt != u32::MAX));
        assert!(everything
            .iter()
            .any(|&k| s.incidents[k as usize].buurt == u32::MAX));
        // A study area given stays; the default is no parameter in links.
        let west = StudyArea::area(&s, s.area_index("BU99990001").unwrap()).unwrap();
        let given = Filter::all(&s).within(west).within_gemeenten_by_default(&s);
        assert_eq!(given.study.as_ref().unwrap().key, "BU99990001");
        assert_eq!(default.query_string(), "");
        assert_ne!(default.cache_key(), all.cache_key());
    }

    #[test]
    fn counts_roll_up_the_hierarchy_and_custom_areas_count_points_inside() {
        let s = town();
        let all = Filter::all(&s);
        let buurt = s.counts(AreaLevel::Buurt, &all);
        let wijk = s.counts(AreaLevel::Wijk, &all);
        let gemeente = s.counts(AreaLevel::Gemeente, &all);
        let custom = s.counts(AreaLevel::Custom, &all);
        let at = |code: &str| s.area_index(code).unwrap() as usize;
        assert_eq!(
            buurt[at("BU99990001")] + buurt[at("BU99990002")],
            wijk[at("WK999900")]
        );
        assert_eq!(wijk[at("WK999900")], gemeente[at("GM9999")]);
        // The incident without a buurt counts nowhere; the one without a point counts in its buurt.
        assert_eq!(gemeente[at("GM9999")] as usize, s.incidents.len() - 1);
        assert_eq!(custom[at("custom:1")], 2);
        assert_eq!(
            s.incidents_in(s.area_index("WK999900").unwrap(), &all)
                .len(),
            wijk[at("WK999900")] as usize
        );
        assert_eq!(
            s.incidents_in(s.area_index("custom:1").unwrap(), &all)
                .len(),
            2
        );
    }

    #[test]
    fn previous_is_the_equally_long_period_before() {
        let s = town();
        let march = Filter::new(&s, vec!["1.1.1".into()], vec![], date(3, 1), date(3, 31));
        let prev = march.previous(&s).unwrap();
        assert_eq!((prev.from, prev.to), (date(1, 30), date(2, 29)));
        assert_eq!(prev.category_codes, march.category_codes);
        // Open ends take the data's first and last day.
        let open = Filter::all(&s);
        assert_eq!(
            open.period(&s),
            Some((s.first_day.unwrap(), s.last_day.unwrap()))
        );
    }

    #[test]
    fn equal_filters_have_equal_keys() {
        let s = town();
        let a = Filter::new(
            &s,
            vec!["2.2.1".into(), "1.1.1".into()],
            vec![],
            date(3, 1),
            None,
        );
        let b = Filter::new(
            &s,
            vec!["1.1.1".into(), "2.2.1".into(), "1.1.1".into()],
            vec![],
            date(3, 1),
            None,
        );
        assert_eq!(a.cache_key(), b.cache_key());
        assert_eq!(a.key(), b.key());
        assert_ne!(a.cache_key(), Filter::all(&s).cache_key());
        assert_eq!(a.query_string(), "category=1.1.1,2.2.1&from=2024-03-01");
        assert!(a.cache_key().heap_bytes() >= "1.1.1".len() * 2);
    }
}
