//! Counting for comparisons over a [`Snapshot`]: an area's counts and series in two periods, and the counts in
//! the buffer ring around an area (the displacement zone of an intervention evaluation). The statistics over
//! these counts (rate ratios, the weighted displacement quotient) are [`crate::analysis::compare`].
//!
//! ```
//! use brandpunt::analysis::compare::PeriodCounts;
//! use brandpunt::calendar::Step;
//! use brandpunt::dataset::compare::{area_period_counts, buffer_ring_counts};
//! use brandpunt::area_level::AreaLevel;
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantArea, TenantData};
//! use chrono::NaiveDate;
//!
//! let square = geo_types::Rect::new((155_000.0, 463_000.0), (156_000.0, 464_000.0)).to_polygon();
//! let buurt = TenantArea::new(AreaLevel::Buurt, "BU99990001", "Centrum", square.into());
//! let date = |m, d| NaiveDate::from_ymd_opt(2024, m, d).unwrap();
//! let incident = |id, m, d, x_m: f64, buurt: Option<&str>| IncidentRecord {
//!     id,
//!     source: "politie".into(),
//!     begin: date(m, d).and_hms_opt(12, 0, 0).unwrap(),
//!     end: date(m, d).and_hms_opt(12, 0, 0).unwrap(),
//!     category_code: Some("1.1.1".into()),
//!     x_m: Some(x_m),
//!     y_m: Some(463_500.0),
//!     buurtcode: buurt.map(String::from),
//! };
//! let data = TenantData {
//!     code: "demo".into(),
//!     name: "Demo".into(),
//!     areas: vec![buurt],
//!     // Two inside the buurt, one 100 m east of it.
//!     incidents: vec![
//!         incident(1, 2, 10, 155_500.0, Some("BU99990001")),
//!         incident(2, 3, 5, 155_600.0, Some("BU99990001")),
//!         incident(3, 3, 6, 156_100.0, None),
//!     ],
//! };
//! let s = Snapshot::build(1, data).unwrap();
//! let idx = s.area_index("BU99990001").unwrap();
//! let (feb, march) = ((date(2, 1), date(2, 29)), (date(3, 1), date(3, 31)));
//! let union = Filter::new(&s, vec![], vec![], Some(feb.0), Some(march.1));
//! let c: PeriodCounts = area_period_counts(&s, idx, &union, Step::Month, march, feb);
//! assert_eq!((c.count, c.vs_count), (1, 1));
//! assert_eq!(buffer_ring_counts(&s, idx, 200.0, &union, feb, march), (0, 1));
//! ```

use super::filter::Filter;
use super::snapshot::Snapshot;
use crate::analysis::compare::{ring_counts, BufferRing, PeriodCounts};
use crate::calendar::Step;
use chrono::NaiveDate;

/// Counts and zero-filled series (by `step`) of area `idx` in `period` and `vs_period`, over the incidents of
/// the area that `union` selects (one scan of the area's incidents; `union` should span both periods).
pub fn area_period_counts(
    s: &Snapshot,
    idx: u32,
    union: &Filter,
    step: Step,
    period: (NaiveDate, NaiveDate),
    vs_period: (NaiveDate, NaiveDate),
) -> PeriodCounts {
    let begins = s
        .incidents_in(idx, union)
        .into_iter()
        .map(|k| s.incidents[k as usize].begin());
    PeriodCounts::count(begins, step, period, vs_period)
}

/// (before, after) counts of the located incidents `union` selects in the buffer ring of `buffer_m` metres
/// around area `target` ([`BufferRing`]: within the distance of its geometry, not inside it).
pub fn buffer_ring_counts(
    s: &Snapshot,
    target: u32,
    buffer_m: f64,
    union: &Filter,
    before: (NaiveDate, NaiveDate),
    after: (NaiveDate, NaiveDate),
) -> (u64, u64) {
    let ring = BufferRing::new(&s.area(target).geometry_rd, buffer_m);
    let incidents = s
        .incidents
        .iter()
        .filter(|inc| inc.has_point() && ring.may_contain(inc.x_m, inc.y_m) && union.matches(inc))
        .map(|inc| (inc.x_m, inc.y_m, inc.begin()));
    ring_counts(&ring, incidents, before, after)
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::town;
    use super::*;

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, m, d).unwrap()
    }

    #[test]
    fn an_area_is_counted_in_both_periods_with_its_series() {
        let s = town();
        let idx = s.area_index("BU99990001").unwrap();
        let union = Filter::new(&s, vec![], vec![], Some(date(1, 1)), Some(date(3, 31)));
        let (vs, now) = ((date(1, 1), date(2, 29)), (date(3, 1), date(3, 31)));
        let c = area_period_counts(&s, idx, &union, Step::Month, now, vs);
        // Jan 10 in the comparison period; Mar 1 and Mar 31 (no point, still in its buurt) in the period.
        assert_eq!((c.count, c.vs_count), (2, 1));
        assert_eq!(c.series.counts, vec![2]);
        assert_eq!(c.vs_series.counts, vec![1, 0]);
    }

    #[test]
    fn the_buffer_ring_counts_points_near_but_not_inside_the_area() {
        let s = town();
        let west = s.area_index("BU99990001").unwrap();
        let all = Filter::all(&s);
        let (before, after) = ((date(1, 1), date(2, 29)), (date(3, 1), date(3, 31)));
        // (1200, 300) on Mar 15 lies 200 m east of West; (1500, 500) on Feb 5 lies 500 m away.
        assert_eq!(
            buffer_ring_counts(&s, west, 300.0, &all, before, after),
            (0, 1)
        );
        assert_eq!(
            buffer_ring_counts(&s, west, 600.0, &all, before, after),
            (1, 1)
        );
        // Points inside the area never count.
        let plein = s.area_index("custom:1").unwrap();
        assert_eq!(
            buffer_ring_counts(&s, plein, 10.0, &all, before, after),
            (0, 0)
        );
    }
}
