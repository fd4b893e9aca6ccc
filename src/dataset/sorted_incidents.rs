//! A tenant's incidents sorted by the begin of their window (then id), held in shared chunks
//! ([`SortedIncidents`]): indexed by position like a slice (a period is a contiguous range of positions), and
//! changed by a delivery ([`SortedIncidents::changed`]) at the cost of the chunks the delivery touches, so that
//! consecutive snapshots share every untouched chunk. [`PositionShift`] tells where the incidents of one version
//! went in the next.
//!
//! ```
//! use brandpunt::dataset::{Incident, SortedIncidents};
//!
//! let at = |id: i64, begin_min: i64| Incident {
//!     id, x_m: f64::NAN, y_m: f64::NAN, merc_x: f64::NAN, merc_y: f64::NAN,
//!     begin_min, end_min: begin_min, category: 0, source: 0, buurt: u32::MAX,
//! };
//! let list = SortedIncidents::from_sorted((0..10).map(|k| at(k, 100 * k)).collect());
//! assert_eq!((list.len(), list[3].id), (10, 3));
//! assert_eq!(list.partition_point(|i| i.begin_min < 450), 5);
//! // Incident 3 leaves, 20 arrives between 5 and 6.
//! let (next, shift) = list.changed(&[3], vec![at(20, 550)]);
//! let ids: Vec<i64> = next.iter().map(|i| i.id).collect();
//! assert_eq!(ids, [0, 1, 2, 4, 5, 20, 6, 7, 8, 9]);
//! assert_eq!((shift.map(3), shift.map(4), shift.map(6)), (None, Some(3), Some(6)));
//! assert_eq!(next.range(4..6).map(|i| i.id).collect::<Vec<_>>(), [5, 20]);
//! ```

use super::snapshot::Incident;
use rayon::prelude::*;
use std::ops::{Index, Range};
use std::sync::Arc;

/// Target number of incidents per chunk; a chunk grown to twice this is split.
const CHUNK: usize = 4096;

/// Incidents sorted by `(begin_min, id)` in shared, immutable chunks (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct SortedIncidents {
    /// Non-empty chunks, in order.
    chunks: Vec<Arc<[Incident]>>,
    /// Position of the first incident of each chunk.
    starts: Vec<usize>,
    len: usize,
}

/// Where the positions of one version of a list went in the next: removed positions and the new positions of
/// the inserted incidents (both ascending). Costs `O(log d)` per position for `d` changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PositionShift {
    /// Old positions removed, ascending.
    removed: Vec<u32>,
    /// New positions of the inserted incidents, ascending.
    inserted: Vec<u32>,
    /// Per removed position: the number of kept positions before it (`removed[j] - j`).
    kept_before_removed: Vec<u32>,
    /// Per inserted incident: the number of kept positions before it (`inserted[j] - j`).
    kept_before_inserted: Vec<u32>,
}

impl PositionShift {
    /// The shift of removing the old positions `removed` and inserting incidents at the new positions
    /// `inserted` (both sorted ascending, without duplicates).
    pub fn new(removed: Vec<u32>, inserted: Vec<u32>) -> PositionShift {
        let before = |v: &[u32]| v.iter().enumerate().map(|(j, &p)| p - j as u32).collect();
        PositionShift {
            kept_before_removed: before(&removed),
            kept_before_inserted: before(&inserted),
            removed,
            inserted,
        }
    }

    /// Whether nothing moves.
    pub fn is_identity(&self) -> bool {
        self.removed.is_empty() && self.inserted.is_empty()
    }

    /// Old positions removed, ascending.
    pub fn removed(&self) -> &[u32] {
        &self.removed
    }

    /// New positions of the inserted incidents, ascending.
    pub fn inserted(&self) -> &[u32] {
        &self.inserted
    }

    /// The new position of old position `k`; `None` when it was removed.
    pub fn map(&self, k: u32) -> Option<u32> {
        if self.removed.binary_search(&k).is_ok() {
            return None;
        }
        // Rank among the kept positions, then the inserted incidents placed before it.
        let kept = k - self.removed.partition_point(|&r| r < k) as u32;
        let inserted = self.kept_before_inserted.partition_point(|&q| q <= kept) as u32;
        Some(kept + inserted)
    }

    /// The old position of new position `p`; `None` when an inserted incident is there.
    pub fn unmap(&self, p: u32) -> Option<u32> {
        if self.inserted.binary_search(&p).is_ok() {
            return None;
        }
        let kept = p - self.inserted.partition_point(|&i| i < p) as u32;
        let removed = self.kept_before_removed.partition_point(|&q| q <= kept) as u32;
        Some(kept + removed)
    }
}

impl SortedIncidents {
    /// The list of `incidents`, which must be sorted by `(begin_min, id)`.
    pub fn from_sorted(incidents: Vec<Incident>) -> SortedIncidents {
        let chunks: Vec<Arc<[Incident]>> = incidents.par_chunks(CHUNK).map(Arc::from).collect();
        Self::of_chunks(chunks)
    }

    fn of_chunks(chunks: Vec<Arc<[Incident]>>) -> SortedIncidents {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut len = 0;
        for c in &chunks {
            starts.push(len);
            len += c.len();
        }
        SortedIncidents {
            chunks,
            starts,
            len,
        }
    }

    /// Number of incidents.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk holding position `k < len` and the offset in it.
    fn locate(&self, k: usize) -> (usize, usize) {
        let c = self.starts.partition_point(|&s| s <= k) - 1;
        (c, k - self.starts[c])
    }

    /// The incident at position `k`, if any.
    pub fn get(&self, k: usize) -> Option<&Incident> {
        (k < self.len).then(|| {
            let (c, o) = self.locate(k);
            &self.chunks[c][o]
        })
    }

    /// The first incident (earliest begin).
    pub fn first(&self) -> Option<&Incident> {
        self.chunks.first().and_then(|c| c.first())
    }

    /// The last incident (latest begin).
    pub fn last(&self) -> Option<&Incident> {
        self.chunks.last().and_then(|c| c.last())
    }

    /// Every incident, in order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0..self.len)
    }

    /// The incidents at the positions `range` (clamped to the list), in order.
    pub fn range(&self, range: Range<usize>) -> Iter<'_> {
        let end = range.end.min(self.len);
        if range.start >= end {
            return Iter {
                chunks: [].iter(),
                current: [].iter(),
                remaining: 0,
            };
        }
        let (c, o) = self.locate(range.start);
        Iter {
            chunks: self.chunks[c + 1..].iter(),
            current: self.chunks[c][o..].iter(),
            remaining: end - range.start,
        }
    }

    /// The incidents at `positions`, which must ascend, each with its position, in that order; positions past
    /// the end are skipped.
    /// Walks the chunks once (no search per position), so it costs the positions plus the chunks they span.
    pub fn at_ascending<'a>(
        &'a self,
        positions: &'a [u32],
    ) -> impl Iterator<Item = (u32, &'a Incident)> + 'a {
        debug_assert!(positions.windows(2).all(|w| w[0] <= w[1]));
        let mut chunk = 0;
        positions.iter().filter_map(move |&position| {
            let p = position as usize;
            if p >= self.len {
                return None;
            }
            while chunk + 1 < self.starts.len() && self.starts[chunk + 1] <= p {
                chunk += 1;
            }
            if self.starts[chunk] > p {
                chunk = self.locate(p).0;
            }
            Some((position, &self.chunks[chunk][p - self.starts[chunk]]))
        })
    }

    /// The chunks, in order (each a contiguous run of the list).
    pub fn chunks(&self) -> impl Iterator<Item = &[Incident]> + '_ {
        self.chunks.iter().map(|c| &c[..])
    }

    /// The first position whose incident does not satisfy `pred`, which must hold for a prefix of the list
    /// (as [`slice::partition_point`]).
    pub fn partition_point(&self, mut pred: impl FnMut(&Incident) -> bool) -> usize {
        // The first chunk whose first incident fails, then within the chunk before it.
        let c = self.chunks.partition_point(|chunk| pred(&chunk[0]));
        if c == 0 {
            return 0;
        }
        self.starts[c - 1] + self.chunks[c - 1].partition_point(pred)
    }

    /// The position of the incident with this begin and id, if the list holds it.
    pub fn position(&self, begin_min: i64, id: i64) -> Option<usize> {
        let k = self.partition_point(|i| (i.begin_min, i.id) < (begin_min, id));
        self.get(k)
            .filter(|i| (i.begin_min, i.id) == (begin_min, id))
            .map(|_| k)
    }

    /// This list without the incidents at the positions `removed` (ascending) and with `added` (any order),
    /// and where the positions went. Only the chunks that lose or gain incidents are copied; the others are
    /// shared with this list. Costs those chunks plus sorting `added` and `O(chunks)`.
    pub fn changed(
        &self,
        removed: &[u32],
        mut added: Vec<Incident>,
    ) -> (SortedIncidents, PositionShift) {
        added.sort_unstable_by_key(|i| (i.begin_min, i.id));
        // Chunk of each added incident: the last chunk whose first incident sorts before it (or the first).
        let chunk_of_added: Vec<usize> = added
            .iter()
            .map(|a| {
                self.chunks
                    .partition_point(|c| (c[0].begin_min, c[0].id) < (a.begin_min, a.id))
                    .saturating_sub(1)
            })
            .collect();
        let mut chunks: Vec<Arc<[Incident]>> = Vec::with_capacity(self.chunks.len() + 1);
        let (mut r, mut a) = (0, 0);
        for (c, chunk) in self.chunks.iter().enumerate() {
            let start = self.starts[c];
            let end = start + chunk.len();
            let r_end = r + removed[r..].partition_point(|&k| (k as usize) < end);
            let a_end = a + chunk_of_added[a..].partition_point(|&ac| ac <= c);
            if r_end == r && a_end == a {
                chunks.push(chunk.clone());
                continue;
            }
            let gone = &removed[r..r_end];
            let mut kept = chunk
                .iter()
                .enumerate()
                .filter(|(o, _)| gone.binary_search(&((start + o) as u32)).is_err())
                .map(|(_, i)| *i)
                .peekable();
            let mut fresh = added[a..a_end].iter().copied().peekable();
            let mut merged = Vec::with_capacity(chunk.len() + (a_end - a));
            loop {
                let take_kept = match (kept.peek(), fresh.peek()) {
                    (None, None) => break,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (Some(k), Some(f)) => (k.begin_min, k.id) < (f.begin_min, f.id),
                };
                let next = if take_kept { kept.next() } else { fresh.next() };
                merged.extend(next);
            }
            // Split a grown chunk into pieces of about CHUNK; drop an emptied one.
            let pieces = merged.len().div_ceil(CHUNK).max(1);
            if merged.len() >= 2 * CHUNK {
                let size = merged.len().div_ceil(pieces);
                chunks.extend(merged.chunks(size).map(Arc::from));
            } else if !merged.is_empty() {
                chunks.push(Arc::from(merged));
            }
            r = r_end;
            a = a_end;
        }
        if self.chunks.is_empty() && !added.is_empty() {
            chunks.extend(added.chunks(CHUNK).map(Arc::from));
        }
        let next = Self::of_chunks(chunks);
        let inserted: Vec<u32> = added
            .iter()
            .map(|i| next.partition_point(|x| (x.begin_min, x.id) < (i.begin_min, i.id)) as u32)
            .collect();
        (next, PositionShift::new(removed.to_vec(), inserted))
    }
}

impl Index<usize> for SortedIncidents {
    type Output = Incident;

    /// The incident at position `k`; panics when `k >= len` (as a slice does).
    fn index(&self, k: usize) -> &Incident {
        match self.get(k) {
            Some(i) => i,
            None => panic!("incident position {k} out of range (len {})", self.len),
        }
    }
}

/// Iterator over a [`SortedIncidents`] (or a range of it), chunk by chunk.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    chunks: std::slice::Iter<'a, Arc<[Incident]>>,
    current: std::slice::Iter<'a, Incident>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Incident;

    fn next(&mut self) -> Option<&'a Incident> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let Some(i) = self.current.next() {
                self.remaining -= 1;
                return Some(i);
            }
            self.current = self.chunks.next()?.iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a SortedIncidents {
    type Item = &'a Incident;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(id: i64, begin_min: i64) -> Incident {
        Incident {
            id,
            x_m: f64::NAN,
            y_m: f64::NAN,
            merc_x: f64::NAN,
            merc_y: f64::NAN,
            begin_min,
            end_min: begin_min,
            category: 0,
            source: 0,
            buurt: u32::MAX,
        }
    }

    fn ids(list: &SortedIncidents) -> Vec<i64> {
        list.iter().map(|i| i.id).collect()
    }

    #[test]
    fn incidents_at_ascending_positions_are_those_of_the_index() {
        let list = SortedIncidents::from_sorted((0..20_000).map(|k| at(k, k)).collect());
        // Within a chunk, across one boundary, skipping whole chunks, the last one; then past the end.
        let positions = [0, 1, 4095, 4096, 4096, 9000, 19_999, 20_000, 70_000];
        let got: Vec<i64> = list.at_ascending(&positions).map(|(_, i)| i.id).collect();
        assert!(list
            .at_ascending(&positions)
            .all(|(p, i)| i.id == i64::from(p)));
        let want: Vec<i64> = positions[..7]
            .iter()
            .map(|&p| list[p as usize].id)
            .collect();
        assert_eq!(got, want);
        assert_eq!(list.at_ascending(&[]).count(), 0);
    }

    #[test]
    fn a_changed_list_equals_the_sorted_changed_incidents_and_shares_untouched_chunks() {
        // 20 000 incidents (five chunks), several on the same minute.
        let all: Vec<Incident> = (0..20_000).map(|k| at(k, k / 3)).collect();
        let list = SortedIncidents::from_sorted(all.clone());
        assert_eq!(list.len(), 20_000);
        assert_eq!(ids(&list), (0..20_000).collect::<Vec<_>>());
        let mut removed: Vec<u32> = (0..20_000).filter(|k| k % 997 == 5).collect();
        removed.push(0);
        removed.push(19_999);
        removed.sort_unstable();
        // Added: before everything, after everything, into a removed place, and 9 000 into one chunk (split).
        let mut added = vec![at(-1, -5), at(30_000, 99_999), at(30_001, 5 / 3)];
        added.extend((0..9_000).map(|k| at(40_000 + k, 2_000)));
        let (next, shift) = list.changed(&removed, added.clone());
        let mut want: Vec<Incident> = all
            .iter()
            .enumerate()
            .filter(|(k, _)| removed.binary_search(&(*k as u32)).is_err())
            .map(|(_, i)| *i)
            .chain(added.iter().copied())
            .collect();
        want.sort_by_key(|i| (i.begin_min, i.id));
        assert_eq!(ids(&next), want.iter().map(|i| i.id).collect::<Vec<_>>());
        assert!(next.chunks().all(|c| !c.is_empty() && c.len() < 2 * CHUNK));
        // A change in one chunk copies that chunk only: the others are the same allocations.
        let (one, _) = list.changed(&[5], vec![at(50_000, 2)]);
        let shared = one
            .chunks
            .iter()
            .filter(|c| list.chunks.iter().any(|o| Arc::ptr_eq(c, o)))
            .count();
        assert_eq!(
            (one.chunks.len(), shared),
            (list.chunks.len(), list.chunks.len() - 1)
        );
        // Every kept incident is where the shift says; every inserted one is listed.
        for (k, i) in all.iter().enumerate() {
            match shift.map(k as u32) {
                None => assert!(removed.binary_search(&(k as u32)).is_ok()),
                Some(p) => {
                    assert_eq!(next[p as usize].id, i.id);
                    assert_eq!(shift.unmap(p), Some(k as u32));
                }
            }
        }
        assert_eq!(shift.inserted().len(), added.len());
        for &p in shift.inserted() {
            assert!(next[p as usize].id < 0 || next[p as usize].id >= 30_000);
            assert_eq!(shift.unmap(p), None);
        }
        // Ranges, partition points, positions and lookups by id.
        let p = next.partition_point(|i| i.begin_min < 2_000);
        assert_eq!(p, want.partition_point(|i| i.begin_min < 2_000));
        let r: Vec<i64> = next.range(p..p + 10_000).map(|i| i.id).collect();
        let w: Vec<i64> = want[p..p + 10_000].iter().map(|i| i.id).collect();
        assert_eq!(r, w);
        let at_40_005 = want.iter().position(|i| i.id == 40_005);
        assert_eq!(next.position(2_000, 40_005), at_40_005);
        assert_eq!(next.position(2_000, 7), None);
        assert_eq!(
            (next.first().unwrap().id, next.last().unwrap().id),
            (-1, 30_000)
        );
    }

    #[test]
    fn empty_lists_and_empty_changes() {
        let empty = SortedIncidents::default();
        assert!(empty.is_empty() && empty.first().is_none() && empty.get(0).is_none());
        assert_eq!(empty.iter().count(), 0);
        assert_eq!(empty.partition_point(|_| true), 0);
        let (one, shift) = empty.changed(&[], vec![at(1, 10), at(0, 10)]);
        assert_eq!(ids(&one), [0, 1]);
        assert_eq!(shift.inserted(), [0, 1]);
        let (same, shift) = one.changed(&[], vec![]);
        assert!(shift.is_identity());
        assert!(Arc::ptr_eq(&same.chunks[0], &one.chunks[0]));
        let (none, _) = one.changed(&[0, 1], vec![]);
        assert!(none.is_empty());
        assert_eq!(one.range(5..9).count(), 0);
    }
}
