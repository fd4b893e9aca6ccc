//! The located incidents of a snapshot by their RD point ([`IncidentPoints`]): window queries answer positions in
//! the snapshot's [`SortedIncidents`]. A point index of one version (the base, shared between versions) plus the
//! changes since: base positions removed and incidents added, with a [`PositionShift`] from base positions to
//! current ones. A delivery changes it at the cost of the changes accumulated since the base; once they exceed a
//! sixteenth of the incidents the base is rebuilt.

use super::snapshot::Incident;
use super::sorted_incidents::{PositionShift, SortedIncidents};
use crate::point_index::PointIndex;
use geo_types::Rect;
use std::ops::Range;
use std::sync::Arc;

/// Bucket size of the point index (RD metres).
const BUCKET_M: f64 = 500.0;

/// Changes since the base above which a change rebuilds the base: a sixteenth of the incidents, at least this.
const MIN_REBUILD_CHANGES: usize = 1024;

/// An incident added since the base: its sort key and RD point (NaN without one).
#[derive(Clone, Copy, Debug)]
struct Extra {
    begin_min: i64,
    id: i64,
    point: (f64, f64),
}

/// See the module docs.
#[derive(Clone, Debug, Default)]
pub(super) struct IncidentPoints {
    base: Arc<PointIndex>,
    /// Base positions no longer current, ascending.
    removed_base: Vec<u32>,
    /// Incidents added since the base and still current, in list order.
    extras: Vec<Extra>,
    /// Base positions -> current positions (`removed_base`, and the extras' current positions).
    shift: PositionShift,
    /// The bounds of the base's points less `removed_base`.
    kept_base_bounds: Option<Rect<f64>>,
    bounds: Option<Rect<f64>>,
}

/// The RD point the index holds for `i` (NaN, left out, without one).
fn point_of(i: &Incident) -> (f64, f64) {
    if i.has_point() {
        (i.x_m, i.y_m)
    } else {
        (f64::NAN, f64::NAN)
    }
}

fn located((x, y): (f64, f64)) -> bool {
    x.is_finite() && y.is_finite()
}

/// The bounding box of `a` and `b`.
fn union(a: Option<Rect<f64>>, b: Option<Rect<f64>>) -> Option<Rect<f64>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Rect::new(
            (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
            (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
        )),
        (a, None) => a,
        (None, b) => b,
    }
}

fn point_rect((x, y): (f64, f64)) -> Option<Rect<f64>> {
    located((x, y)).then(|| Rect::new((x, y), (x, y)))
}

/// Whether `(x, y)` lies on an edge of `r` (a point whose removal can shrink the bounds).
fn on_edge(r: Option<Rect<f64>>, (x, y): (f64, f64)) -> bool {
    r.is_some_and(|r| x == r.min().x || x == r.max().x || y == r.min().y || y == r.max().y)
}

impl IncidentPoints {
    /// The points of `list` (positions into it).
    pub(super) fn new(list: &SortedIncidents) -> IncidentPoints {
        let base = PointIndex::new(list.iter().map(point_of), BUCKET_M);
        let bounds = base.bounds();
        IncidentPoints {
            base: Arc::new(base),
            kept_base_bounds: bounds,
            bounds,
            ..IncidentPoints::default()
        }
    }

    /// The RD bounding box of the located incidents.
    pub(super) fn bounds(&self) -> Option<Rect<f64>> {
        self.bounds
    }

    /// Positions in `positions` of the located incidents inside `window` (edges included), ascending.
    pub(super) fn within(
        &self,
        window: Rect<f64>,
        positions: Range<usize>,
        list: &SortedIncidents,
    ) -> Vec<u32> {
        let inside = |(x, y): (f64, f64)| {
            x >= window.min().x && x <= window.max().x && y >= window.min().y && y <= window.max().y
        };
        let wanted = |p: u32| positions.contains(&(p as usize));
        let mut k: Vec<u32> = if self.shift.is_identity() {
            self.base
                .within_ids(window)
                .map(|(k, _)| k)
                .filter(|&k| wanted(k))
                .collect()
        } else {
            self.base
                .within_ids(window)
                .filter_map(|(k, _)| self.shift.map(k))
                .filter(|&k| wanted(k))
                .collect()
        };
        k.extend(
            self.extras
                .iter()
                .zip(self.shift.inserted())
                .filter(|(e, &p)| wanted(p) && located(e.point) && inside(e.point))
                .map(|(_, &p)| p),
        );
        debug_assert!(k.iter().all(|&p| (p as usize) < list.len()));
        k.sort_unstable();
        k
    }

    /// The points of `next`, the list `old` changed by `change` (old positions -> next ones; the added
    /// incidents at `change.inserted()`). Costs the changes since the base (plus a pass over the base's points
    /// when a removed point lay on the bounds), or a rebuild when they exceed a sixteenth of the incidents.
    pub(super) fn changed(
        &self,
        old: &SortedIncidents,
        next: &SortedIncidents,
        change: &PositionShift,
    ) -> IncidentPoints {
        let limit = (next.len() / 16).max(MIN_REBUILD_CHANGES);
        if self.removed_base.len()
            + self.extras.len()
            + change.removed().len()
            + change.inserted().len()
            > limit
        {
            return IncidentPoints::new(next);
        }
        // The removed incidents: extras leave the extras, others are base positions.
        let mut removed_base = self.removed_base.clone();
        let mut gone_extras = vec![false; self.extras.len()];
        let mut edge_removed = false;
        for &p in change.removed() {
            match self.shift.inserted().binary_search(&p) {
                Ok(j) => gone_extras[j] = true,
                Err(_) => {
                    if let Some(k) = self.shift.unmap(p) {
                        removed_base.push(k);
                        if let Some(i) = old.get(p as usize) {
                            edge_removed |= on_edge(self.kept_base_bounds, point_of(i));
                        }
                    }
                }
            }
        }
        removed_base.sort_unstable();
        // The extras that stay (at their next positions) merged with the added ones (already in order).
        let kept: Vec<(u32, Extra)> = self
            .extras
            .iter()
            .zip(self.shift.inserted())
            .zip(&gone_extras)
            .filter(|(_, gone)| !**gone)
            .filter_map(|((e, &p), _)| change.map(p).map(|q| (q, *e)))
            .collect();
        let fresh: Vec<(u32, Extra)> = change
            .inserted()
            .iter()
            .filter_map(|&q| {
                next.get(q as usize).map(|i| {
                    (
                        q,
                        Extra {
                            begin_min: i.begin_min,
                            id: i.id,
                            point: point_of(i),
                        },
                    )
                })
            })
            .collect();
        let mut all: Vec<(u32, Extra)> = kept.into_iter().chain(fresh).collect();
        all.sort_unstable_by_key(|(q, _)| *q);
        debug_assert!(all
            .iter()
            .all(|(q, e)| next
                .get(*q as usize)
                .is_some_and(|i| (i.begin_min, i.id) == (e.begin_min, e.id))));
        let (positions, extras): (Vec<u32>, Vec<Extra>) = all.into_iter().unzip();
        let kept_base_bounds = if edge_removed {
            // Every base point lies within the base's bounds.
            match self.base.bounds() {
                Some(all) => self
                    .base
                    .within_ids(all)
                    .filter(|(k, _)| removed_base.binary_search(k).is_err())
                    .fold(None, |b, (_, p)| union(b, point_rect(p))),
                None => None,
            }
        } else {
            self.kept_base_bounds
        };
        let bounds = extras
            .iter()
            .map(|e| point_rect(e.point))
            .fold(kept_base_bounds, union);
        IncidentPoints {
            base: self.base.clone(),
            shift: PositionShift::new(removed_base.clone(), positions),
            removed_base,
            extras,
            kept_base_bounds,
            bounds,
        }
    }
}
