//! Points in a bucket grid ([`PointIndex`]), so that a tile or any other window reads only the points near it: a
//! window query costs the buckets it overlaps plus the points in them, never all points. Each point keeps its
//! position in the input ([`PointIndex::within_ids`]). The snapshot indexes its incidents this way (Web Mercator
//! metres) and the KDE field a filter's incidents (RD metres).
//!
//! ```
//! use brandpunt::point_index::PointIndex;
//! use geo_types::Rect;
//!
//! let index = PointIndex::new([(10.0, 10.0), (1_500.0, 20.0), (5_000.0, 5_000.0)], 1_000.0);
//! assert_eq!(index.len(), 3);
//! let near: Vec<_> = index.within(Rect::new((0.0, 0.0), (2_000.0, 100.0))).collect();
//! assert_eq!(near, [(10.0, 10.0), (1_500.0, 20.0)]);
//! let mut ids: Vec<u32> = index.within_ids(Rect::new((0.0, 0.0), (6_000.0, 100.0))).map(|(k, _)| k).collect();
//! ids.sort();
//! assert_eq!(ids, [0, 1]);
//! assert_eq!(index.bounds(), Some(Rect::new((10.0, 10.0), (5_000.0, 5_000.0))));
//! assert_eq!(index.iter().count(), 3);
//! ```

use crate::heap_size::HeapSize;
use geo_types::Rect;
use rayon::prelude::*;
use std::collections::HashMap;
use std::ops::Range;

/// A bucket's (column, row).
type Bucket = (i64, i64);

/// Points (metres) in square buckets of `bucket_m`, each bucket's points contiguous.
#[derive(Clone, Debug, Default)]
pub struct PointIndex {
    bucket_m: f64,
    /// Points sorted by bucket.
    points: Vec<(f64, f64)>,
    /// Position of each point in the input.
    ids: Vec<u32>,
    /// Bucket (column, row) -> its range in `points`.
    buckets: HashMap<(i64, i64), Range<usize>>,
    bounds: Option<Rect<f64>>,
}

impl PointIndex {
    /// The index of the finite points of `points` in buckets of `bucket_m` (> 0) metres; other points are left out
    /// (at most 2^32 points: the rest are left out too).
    pub fn new(points: impl IntoIterator<Item = (f64, f64)>, bucket_m: f64) -> PointIndex {
        let bucket_m = if bucket_m.is_finite() && bucket_m > 0.0 {
            bucket_m
        } else {
            1_000.0
        };
        let key =
            |(x, y): (f64, f64)| ((x / bucket_m).floor() as i64, (y / bucket_m).floor() as i64);
        let mut keyed: Vec<(Bucket, (f64, f64), u32)> = points
            .into_iter()
            .take(u32::MAX as usize)
            .enumerate()
            .filter(|(_, (x, y))| x.is_finite() && y.is_finite())
            .map(|(k, p)| (key(p), p, k as u32))
            .collect();
        // By bucket, then input position (unique keys: the same order as a stable sort by bucket, in parallel).
        keyed.par_sort_unstable_by_key(|(b, _, k)| (*b, *k));
        let mut buckets = HashMap::new();
        let mut start = 0;
        for k in 1..=keyed.len() {
            if k == keyed.len() || keyed[k].0 != keyed[start].0 {
                buckets.insert(keyed[start].0, start..k);
                start = k;
            }
        }
        let bounds = bounds_of(keyed.iter().map(|(_, p, _)| p));
        PointIndex {
            bucket_m,
            points: keyed.iter().map(|(_, p, _)| *p).collect(),
            ids: keyed.iter().map(|(_, _, k)| *k).collect(),
            buckets,
            bounds,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The bounding box of the points; `None` without points.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        self.bounds
    }

    /// The bucket size (m).
    pub fn bucket_m(&self) -> f64 {
        self.bucket_m
    }

    /// Every point, bucket by bucket.
    pub fn iter(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.points.iter().copied()
    }

    /// The occupied buckets' (column, row) keys: bucket `(i, j)` covers `[i b, (i+1) b) x [j b, (j+1) b)`.
    pub fn occupied_buckets(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.buckets.keys().copied()
    }

    /// The points inside `window` (edges included), bucket by bucket. Costs the buckets the window overlaps
    /// (or the occupied buckets, when there are fewer) plus the points in them.
    pub fn within(&self, window: Rect<f64>) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.within_ids(window).map(|(_, p)| p)
    }

    /// As [`PointIndex::within`], with each point's position in the input.
    pub fn within_ids(&self, window: Rect<f64>) -> impl Iterator<Item = (u32, (f64, f64))> + '_ {
        let b = self.bucket_m;
        let (i0, i1) = ((window.min().x / b).floor(), (window.max().x / b).floor());
        let (j0, j1) = ((window.min().y / b).floor(), (window.max().y / b).floor());
        let overlapped = (i1 - i0 + 1.0) * (j1 - j0 + 1.0);
        let ranges: Vec<Range<usize>> = if !overlapped.is_finite() || self.points.is_empty() {
            Vec::new()
        } else if overlapped > self.buckets.len() as f64 {
            let (i0, i1, j0, j1) = (i0 as i64, i1 as i64, j0 as i64, j1 as i64);
            self.buckets
                .iter()
                .filter(|((i, j), _)| (i0..=i1).contains(i) && (j0..=j1).contains(j))
                .map(|(_, r)| r.clone())
                .collect()
        } else {
            let (i0, i1, j0, j1) = (i0 as i64, i1 as i64, j0 as i64, j1 as i64);
            (j0..=j1)
                .flat_map(|j| (i0..=i1).map(move |i| (i, j)))
                .filter_map(|k| self.buckets.get(&k).cloned())
                .collect()
        };
        ranges.into_iter().flat_map(move |r| {
            r.filter_map(move |k| {
                let (x, y) = self.points[k];
                (x >= window.min().x
                    && x <= window.max().x
                    && y >= window.min().y
                    && y <= window.max().y)
                    .then_some((self.ids[k], (x, y)))
            })
        })
    }
}

/// The bounding box of `points`; `None` without any.
fn bounds_of<'a>(points: impl IntoIterator<Item = &'a (f64, f64)>) -> Option<Rect<f64>> {
    points
        .into_iter()
        .fold(None, |b: Option<Rect<f64>>, (x, y)| {
            Some(match b {
                None => Rect::new((*x, *y), (*x, *y)),
                Some(r) => Rect::new(
                    (r.min().x.min(*x), r.min().y.min(*y)),
                    (r.max().x.max(*x), r.max().y.max(*y)),
                ),
            })
        })
}

impl PointIndex {
    /// This index after its input changed: input position `k` moved to `moved[k]` (`u32::MAX`, or beyond
    /// `moved`: removed), and the points of `added` (their new positions with the point) came in. `moved` must
    /// keep the order of the positions it keeps (a sorted merge does). Equal to [`PointIndex::new`] of the
    /// changed input; costs one pass over the points, bucket by bucket, plus sorting `added` and the bucket keys,
    /// not a sort of all points.
    ///
    /// ```
    /// use brandpunt::point_index::PointIndex;
    /// use geo_types::Rect;
    ///
    /// let index = PointIndex::new([(10.0, 10.0), (20.0, 20.0)], 100.0);
    /// // Position 0 is removed, 1 moves to 0, and a point comes in at position 1.
    /// let next = index.updated(&[u32::MAX, 0], [(1, (5_000.0, 5_000.0))]);
    /// let all: Vec<_> = next.within_ids(Rect::new((0.0, 0.0), (9_000.0, 9_000.0))).collect();
    /// assert_eq!(all.len(), 2);
    /// assert!(all.contains(&(0, (20.0, 20.0))) && all.contains(&(1, (5_000.0, 5_000.0))));
    /// assert_eq!(next.bounds(), Some(Rect::new((20.0, 20.0), (5_000.0, 5_000.0))));
    /// ```
    pub fn updated(
        &self,
        moved: &[u32],
        added: impl IntoIterator<Item = (u32, (f64, f64))>,
    ) -> PointIndex {
        let b = self.bucket_m;
        let key = |(x, y): (f64, f64)| ((x / b).floor() as i64, (y / b).floor() as i64);
        let mut fresh: Vec<(Bucket, (f64, f64), u32)> = added
            .into_iter()
            .filter(|(_, (x, y))| x.is_finite() && y.is_finite())
            .map(|(k, p)| (key(p), p, k))
            .collect();
        fresh.sort_by_key(|(bucket, _, k)| (*bucket, *k));
        let mut keys: Vec<Bucket> = self
            .buckets
            .keys()
            .copied()
            .chain(fresh.iter().map(|(bucket, _, _)| *bucket))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut points = Vec::with_capacity(self.points.len() + fresh.len());
        let mut ids = Vec::with_capacity(self.points.len() + fresh.len());
        let mut buckets = HashMap::with_capacity(keys.len());
        let mut removed = false;
        let mut f = 0;
        for bucket in keys {
            let start = points.len();
            let mut old = self
                .buckets
                .get(&bucket)
                .cloned()
                .unwrap_or(0..0)
                .peekable();
            loop {
                // The next kept old point of the bucket, with its new position.
                let next_old = loop {
                    match old.peek() {
                        None => break None,
                        Some(&k) => {
                            let to = moved.get(self.ids[k] as usize).copied().unwrap_or(u32::MAX);
                            if to == u32::MAX {
                                removed = true;
                                old.next();
                            } else {
                                break Some((k, to));
                            }
                        }
                    }
                };
                let next_fresh = fresh.get(f).filter(|(fb, _, _)| *fb == bucket);
                match (next_old, next_fresh) {
                    (None, None) => break,
                    (Some((k, to)), p) if p.is_none_or(|p| to < p.2) => {
                        points.push(self.points[k]);
                        ids.push(to);
                        old.next();
                    }
                    (_, p) => {
                        if let Some(&(_, point, to)) = p {
                            points.push(point);
                            ids.push(to);
                        }
                        f += 1;
                    }
                }
            }
            if points.len() > start {
                buckets.insert(bucket, start..points.len());
            }
        }
        let bounds = if removed {
            bounds_of(&points)
        } else {
            bounds_of(
                self.bounds
                    .iter()
                    .flat_map(|r| [(r.min().x, r.min().y), (r.max().x, r.max().y)])
                    .collect::<Vec<_>>()
                    .iter()
                    .chain(fresh.iter().map(|(_, p, _)| p)),
            )
        };
        PointIndex {
            bucket_m: self.bucket_m,
            points,
            ids,
            buckets,
            bounds,
        }
    }
}

impl HeapSize for PointIndex {
    fn heap_bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<(f64, f64)>()
            + self.ids.capacity() * 4
            + self.buckets.capacity()
                * (std::mem::size_of::<(i64, i64)>() + std::mem::size_of::<Range<usize>>() + 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_queries_return_exactly_the_points_inside() {
        // A deterministic scatter over 10 x 10 km, negative coordinates included.
        let pts: Vec<(f64, f64)> = (0..2_000u32)
            .map(|k| {
                let a = f64::from(k.wrapping_mul(2_654_435_761) % 10_000);
                let b = f64::from(k.wrapping_mul(40_503) % 10_000);
                (a - 2_000.0, b - 3_000.0)
            })
            .collect();
        let index = PointIndex::new(pts.iter().copied().chain([(f64::NAN, 0.0)]), 700.0);
        assert_eq!(index.len(), 2_000);
        for (x0, y0, x1, y1) in [
            (0.0, 0.0, 1_000.0, 1_000.0),
            (-2_500.0, -3_500.0, 9_000.0, 8_000.0),
            (-1_999.0, -2_999.0, -1_000.0, 7_000.0),
            (100_000.0, 0.0, 100_001.0, 1.0),
            (-1e12, -1e12, 1e12, 1e12),
        ] {
            let w = Rect::new((x0, y0), (x1, y1));
            let mut got: Vec<(f64, f64)> = index.within(w).collect();
            let mut want: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|(x, y)| *x >= x0 && *x <= x1 && *y >= y0 && *y <= y1)
                .collect();
            got.sort_by(|a, b| a.partial_cmp(b).unwrap());
            want.sort_by(|a, b| a.partial_cmp(b).unwrap());
            assert_eq!(got, want, "{w:?}");
        }
        assert!(index.heap_bytes() >= 2_000 * 16);
        let mut all: Vec<(f64, f64)> = index.iter().collect();
        let mut want = pts.clone();
        all.sort_by(|a, b| a.partial_cmp(b).unwrap());
        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(all, want);
    }

    #[test]
    fn an_updated_index_equals_the_index_of_the_changed_input() {
        let pts: Vec<(f64, f64)> = (0..1_000u32)
            .map(|k| {
                let a = f64::from(k.wrapping_mul(2_654_435_761) % 3_000);
                let b = f64::from(k.wrapping_mul(40_503) % 3_000);
                if k % 13 == 0 {
                    (f64::NAN, f64::NAN)
                } else {
                    (a - 1_000.0, b)
                }
            })
            .collect();
        let index = PointIndex::new(pts.iter().copied(), 250.0);
        // Remove every 7th point and the extreme ones, insert new points after every 5th kept one.
        let (lo, hi) = (index.bounds().unwrap().min(), index.bounds().unwrap().max());
        let mut changed: Vec<(f64, f64)> = Vec::new();
        let mut moved = Vec::new();
        let mut added = Vec::new();
        for (k, &p) in pts.iter().enumerate() {
            let extreme = p.0 == lo.x || p.0 == hi.x || p.1 == lo.y || p.1 == hi.y;
            if k % 7 == 3 || extreme {
                moved.push(u32::MAX);
                continue;
            }
            moved.push(changed.len() as u32);
            changed.push(p);
            if k % 5 == 0 {
                let q = (p.0 + 37.0, (p.1 * 1.3) % 3_000.0);
                added.push((changed.len() as u32, q));
                changed.push(q);
            }
        }
        let updated = index.updated(&moved, added);
        let want = PointIndex::new(changed, 250.0);
        assert_eq!(updated.len(), want.len());
        assert_eq!(updated.bounds(), want.bounds());
        for (x0, y0, x1, y1) in [
            (0.0, 0.0, 700.0, 900.0),
            (-1_000.0, 0.0, 2_000.0, 3_000.0),
            (-1e12, -1e12, 1e12, 1e12),
        ] {
            let w = Rect::new((x0, y0), (x1, y1));
            let mut got: Vec<_> = updated.within_ids(w).collect();
            let mut expected: Vec<_> = want.within_ids(w).collect();
            got.sort_by_key(|(k, _)| *k);
            expected.sort_by_key(|(k, _)| *k);
            assert_eq!(got, expected, "{w:?}");
        }
        // Within each bucket the points keep their input order, as in a new index.
        for (bucket, range) in &want.buckets {
            assert_eq!(
                updated.ids[updated.buckets[bucket].clone()],
                want.ids[range.clone()]
            );
        }
        assert_eq!(updated.buckets.len(), want.buckets.len());
    }

    #[test]
    fn an_empty_index_has_no_bounds() {
        let index = PointIndex::new([], 100.0);
        assert!(index.is_empty());
        assert_eq!(index.bounds(), None);
        assert_eq!(index.within(Rect::new((0.0, 0.0), (1.0, 1.0))).count(), 0);
    }
}
