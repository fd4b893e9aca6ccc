//! Sparse spatial weights: who is a neighbour of whom, and with which weight.
//!
//! A [`SpatialWeights`] is stored CSR-like: for location `i` the neighbour indices are
//! `neighbours[offsets[i]..offsets[i + 1]]` (sorted ascending) with the matching `weights`. Memory is
//! proportional to the number of neighbour pairs, never locations x locations.
//!
//! Builders (all binary, weight 1.0 per neighbour, a location is never its own neighbour):
//! - [`contiguity`]: polygons (buurten, custom areas). Queen = the polygons share at least one vertex,
//!   rook = they share at least one edge (two consecutive vertices of a ring), the same definitions as
//!   libpysal's `Queen` and `Rook`. Vertices closer than `tolerance_m` are treated as the same vertex,
//!   so digitising noise between adjacent polygons does not break contiguity.
//! - [`distance_band`]: points (RD metres) within `threshold_m` of each other (distance <= threshold, like
//!   libpysal `DistanceBand(binary=True)`), via an R-tree.
//! - [`k_nearest`]: the `k` nearest other points (asymmetric, like libpysal `KNN`).
//! - [`h3_k_ring`]: H3 cells within grid distance `k` (the k-ring without the cell itself).
//! - [`regular_grid`]: the fast path for square cells on an aligned grid with integer `(col, row)` ids.
//!   Neighbours are found by integer offsets in a dense (or hashed) index, no R-tree.
//!
//! The Gi* "star" self-weight (w_ii = 1) is *not* stored here: `gistar` adds it. Local Moran's I uses
//! [`SpatialWeights::row_standardised`].

use rustc_hash::FxHashMap;
use std::collections::HashMap;

use geo_types::{LineString, MultiPolygon};
use h3o::CellIndex;
use rstar::primitives::GeomWithData;
use rstar::RTree;
use thiserror::Error;

/// Errors when building spatial weights.
#[derive(Debug, Error, PartialEq)]
pub enum WeightsError {
    /// A neighbour index is out of range.
    #[error("location {location} has neighbour {neighbour}, but there are only {n} locations")]
    NeighbourOutOfRange {
        location: usize,
        neighbour: usize,
        n: usize,
    },
    /// A location lists itself as a neighbour (self-weights are added by Gi*, not stored).
    #[error("location {0} lists itself as its own neighbour")]
    SelfNeighbour(usize),
    /// A weight is negative or not finite.
    #[error("location {location}: weight {weight} is not a finite non-negative number")]
    InvalidWeight { location: usize, weight: f64 },
    /// The neighbour and weight lists of a location differ in length.
    #[error("location {0}: neighbour and weight lists differ in length")]
    LengthMismatch(usize),
    /// A coordinate is NaN or infinite.
    #[error("location {0} has a non-finite coordinate")]
    NonFiniteCoordinate(usize),
    /// A distance threshold, tolerance or cell size is not a finite positive number.
    #[error("{name} must be a finite positive number, got {value}")]
    InvalidParameter { name: &'static str, value: f64 },
    /// k for k-nearest neighbours is zero or not smaller than the number of points.
    #[error("k = {k} nearest neighbours needs 1 <= k < number of points ({n})")]
    InvalidK { k: usize, n: usize },
    /// The same grid cell or H3 cell occurs twice.
    #[error("location {0} duplicates an earlier cell")]
    DuplicateCell(usize),
    /// More locations than fit a u32 index.
    #[error("too many locations ({0}); at most u32::MAX are supported")]
    TooManyLocations(usize),
}

/// Binary or general sparse spatial weights over `n` locations (see the module docs for the layout).
#[derive(Clone, Debug, PartialEq)]
pub struct SpatialWeights {
    offsets: Vec<usize>,
    neighbours: Vec<u32>,
    weights: Vec<f64>,
}

impl SpatialWeights {
    /// Binary weights from neighbour lists (`lists[i]` = neighbours of `i`). Duplicates are merged and the
    /// lists sorted. Errors on out-of-range indices and self-neighbours.
    pub fn from_neighbour_lists(lists: &[Vec<usize>]) -> Result<Self, WeightsError> {
        let with_weights: Vec<Vec<(usize, f64)>> = lists
            .iter()
            .map(|l| l.iter().map(|&j| (j, 1.0)).collect())
            .collect();
        Self::from_weighted_lists(&with_weights)
    }

    /// General weights from `(neighbour, weight)` lists. Duplicated neighbours keep the first weight.
    /// Errors on out-of-range indices, self-neighbours and negative or non-finite weights.
    pub fn from_weighted_lists(lists: &[Vec<(usize, f64)>]) -> Result<Self, WeightsError> {
        let n = lists.len();
        if n > u32::MAX as usize {
            return Err(WeightsError::TooManyLocations(n));
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut neighbours = Vec::new();
        let mut weights = Vec::new();
        let mut row: Vec<(usize, f64)> = Vec::new();
        for (i, list) in lists.iter().enumerate() {
            row.clear();
            row.extend_from_slice(list);
            for &(j, w) in &row {
                if j >= n {
                    return Err(WeightsError::NeighbourOutOfRange {
                        location: i,
                        neighbour: j,
                        n,
                    });
                }
                if j == i {
                    return Err(WeightsError::SelfNeighbour(i));
                }
                if !(w.is_finite() && w >= 0.0) {
                    return Err(WeightsError::InvalidWeight {
                        location: i,
                        weight: w,
                    });
                }
            }
            row.sort_by_key(|&(j, _)| j);
            row.dedup_by_key(|&mut (j, _)| j);
            for &(j, w) in &row {
                neighbours.push(j as u32);
                weights.push(w);
            }
            offsets.push(neighbours.len());
        }
        Ok(Self {
            offsets,
            neighbours,
            weights,
        })
    }

    /// Number of locations.
    pub fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Total number of (directed) neighbour pairs.
    pub fn nnz(&self) -> usize {
        self.neighbours.len()
    }

    /// Neighbour indices of location `i`, sorted ascending. Panics if `i >= n()` (a programming error).
    pub fn neighbours(&self, i: usize) -> &[u32] {
        &self.neighbours[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Weights of location `i`, parallel to [`Self::neighbours`].
    pub fn weights(&self, i: usize) -> &[f64] {
        &self.weights[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Number of neighbours of location `i`.
    pub fn cardinality(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// Locations without any neighbour.
    pub fn islands(&self) -> Vec<usize> {
        (0..self.n())
            .filter(|&i| self.cardinality(i) == 0)
            .collect()
    }

    /// Neighbour sets as plain lists (for comparisons and export).
    pub fn to_neighbour_lists(&self) -> Vec<Vec<usize>> {
        (0..self.n())
            .map(|i| self.neighbours(i).iter().map(|&j| j as usize).collect())
            .collect()
    }

    /// True when every stored weight is exactly 1.0.
    pub fn is_binary(&self) -> bool {
        self.weights.iter().all(|&w| w == 1.0)
    }

    /// Row-standardised copy: each row's weights divided by the row sum (islands stay empty), as
    /// libpysal's transform `'R'`.
    pub fn row_standardised(&self) -> Self {
        let mut weights = self.weights.clone();
        for i in 0..self.n() {
            let row = &mut weights[self.offsets[i]..self.offsets[i + 1]];
            let sum: f64 = row.iter().sum();
            if sum > 0.0 {
                row.iter_mut().for_each(|w| *w /= sum);
            }
        }
        Self {
            offsets: self.offsets.clone(),
            neighbours: self.neighbours.clone(),
            weights,
        }
    }

    /// Weights restricted to the locations in `keep` (in that order): location `keep[a]` becomes `a`,
    /// and neighbours outside `keep` are dropped. Indices in `keep` must be distinct and `< n()`.
    pub fn subset(&self, keep: &[usize]) -> Result<Self, WeightsError> {
        let n = self.n();
        let mut new_index = vec![u32::MAX; n];
        for (a, &i) in keep.iter().enumerate() {
            if i >= n {
                return Err(WeightsError::NeighbourOutOfRange {
                    location: a,
                    neighbour: i,
                    n,
                });
            }
            if new_index[i] != u32::MAX {
                return Err(WeightsError::DuplicateCell(a));
            }
            new_index[i] = a as u32;
        }
        let mut offsets = Vec::with_capacity(keep.len() + 1);
        offsets.push(0);
        let mut neighbours = Vec::new();
        let mut weights = Vec::new();
        for &i in keep {
            let mut row: Vec<(u32, f64)> = self
                .neighbours(i)
                .iter()
                .zip(self.weights(i))
                .filter_map(|(&j, &w)| {
                    let a = new_index[j as usize];
                    (a != u32::MAX).then_some((a, w))
                })
                .collect();
            row.sort_by_key(|&(a, _)| a);
            for (a, w) in row {
                neighbours.push(a);
                weights.push(w);
            }
            offsets.push(neighbours.len());
        }
        Ok(Self {
            offsets,
            neighbours,
            weights,
        })
    }

    fn from_sorted_rows(rows: Vec<Vec<u32>>) -> Self {
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        offsets.push(0);
        let total: usize = rows.iter().map(Vec::len).sum();
        let mut neighbours = Vec::with_capacity(total);
        for row in rows {
            neighbours.extend(row);
            offsets.push(neighbours.len());
        }
        let weights = vec![1.0; neighbours.len()];
        Self {
            offsets,
            neighbours,
            weights,
        }
    }
}

/// Polygon contiguity rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contiguity {
    /// Neighbours share at least one vertex.
    Queen,
    /// Neighbours share at least one edge (a pair of consecutive ring vertices).
    Rook,
}

fn check_positive(name: &'static str, value: f64) -> Result<(), WeightsError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(WeightsError::InvalidParameter { name, value })
    }
}

fn check_count(n: usize) -> Result<(), WeightsError> {
    if n > u32::MAX as usize {
        Err(WeightsError::TooManyLocations(n))
    } else {
        Ok(())
    }
}

/// Union-find over vertex ids, used to merge vertices within the snapping tolerance.
fn find(parent: &mut [usize], mut a: usize) -> usize {
    while parent[a] != a {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    a
}

/// Queen or rook contiguity between polygons (RD metres). Vertices within `tolerance_m` (e.g. 0.01 m)
/// of each other count as the same vertex. Holes take part like outer rings.
pub fn contiguity(
    polygons: &[MultiPolygon<f64>],
    rule: Contiguity,
    tolerance_m: f64,
) -> Result<SpatialWeights, WeightsError> {
    check_positive("tolerance_m", tolerance_m)?;
    check_count(polygons.len())?;
    // Collect the rings per polygon; ring vertex ids are global indices into `coords`.
    let mut coords: Vec<(f64, f64)> = Vec::new();
    let mut owner: Vec<u32> = Vec::new();
    let mut rings: Vec<(u32, std::ops::Range<usize>)> = Vec::new();
    let mut push_ring = |ring: &LineString<f64>, p: usize| -> Result<(), WeightsError> {
        let start = coords.len();
        for c in &ring.0 {
            if !(c.x.is_finite() && c.y.is_finite()) {
                return Err(WeightsError::NonFiniteCoordinate(p));
            }
            coords.push((c.x, c.y));
            owner.push(p as u32);
        }
        rings.push((p as u32, start..coords.len()));
        Ok(())
    };
    for (p, mp) in polygons.iter().enumerate() {
        for poly in &mp.0 {
            push_ring(poly.exterior(), p)?;
            for hole in poly.interiors() {
                push_ring(hole, p)?;
            }
        }
    }
    // Snap: hash vertices into tolerance-sized buckets, merge vertices within tolerance in the 3x3
    // surrounding buckets.
    let key = |x: f64, y: f64| {
        (
            (x / tolerance_m).floor() as i64,
            (y / tolerance_m).floor() as i64,
        )
    };
    let mut buckets: HashMap<(i64, i64), Vec<usize>> = HashMap::with_capacity(coords.len());
    for (v, &(x, y)) in coords.iter().enumerate() {
        buckets.entry(key(x, y)).or_default().push(v);
    }
    let mut parent: Vec<usize> = (0..coords.len()).collect();
    let tol2 = tolerance_m * tolerance_m;
    for (v, &(x, y)) in coords.iter().enumerate() {
        let (kx, ky) = key(x, y);
        for dx in -1..=1 {
            for dy in -1..=1 {
                if let Some(list) = buckets.get(&(kx + dx, ky + dy)) {
                    for &u in list {
                        if u < v {
                            let (ux, uy) = coords[u];
                            if (ux - x).powi(2) + (uy - y).powi(2) <= tol2 {
                                let (ru, rv) = (find(&mut parent, u), find(&mut parent, v));
                                if ru != rv {
                                    parent[ru.max(rv)] = ru.min(rv);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let canon: Vec<usize> = (0..coords.len()).map(|v| find(&mut parent, v)).collect();
    // Map each shared element (vertex or edge) to the polygons that use it.
    let mut users: HashMap<(usize, usize), Vec<u32>> = HashMap::new();
    match rule {
        Contiguity::Queen => {
            for (v, &c) in canon.iter().enumerate() {
                users.entry((c, c)).or_default().push(owner[v]);
            }
        }
        Contiguity::Rook => {
            for (p, range) in &rings {
                let ids = &canon[range.clone()];
                for pair in ids.windows(2) {
                    let (a, b) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
                    if a != b {
                        users.entry((a, b)).or_default().push(*p);
                    }
                }
            }
        }
    }
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); polygons.len()];
    for list in users.values_mut() {
        list.sort_unstable();
        list.dedup();
        if list.len() < 2 {
            continue;
        }
        for &a in list.iter() {
            for &b in list.iter() {
                if a != b {
                    rows[a as usize].push(b);
                }
            }
        }
    }
    for row in &mut rows {
        row.sort_unstable();
        row.dedup();
    }
    Ok(SpatialWeights::from_sorted_rows(rows))
}

fn point_tree(points_m: &[(f64, f64)]) -> Result<RTree<GeomWithData<[f64; 2], u32>>, WeightsError> {
    check_count(points_m.len())?;
    let mut items = Vec::with_capacity(points_m.len());
    for (i, &(x, y)) in points_m.iter().enumerate() {
        if !(x.is_finite() && y.is_finite()) {
            return Err(WeightsError::NonFiniteCoordinate(i));
        }
        items.push(GeomWithData::new([x, y], i as u32));
    }
    Ok(RTree::bulk_load(items))
}

/// Binary distance-band weights: `j` is a neighbour of `i` when their Euclidean distance (metres) is
/// `<= threshold_m` (libpysal `DistanceBand(threshold, binary=True)`). Coincident points are neighbours.
pub fn distance_band(
    points_m: &[(f64, f64)],
    threshold_m: f64,
) -> Result<SpatialWeights, WeightsError> {
    check_positive("threshold_m", threshold_m)?;
    let tree = point_tree(points_m)?;
    let d2 = threshold_m * threshold_m;
    let rows = points_m
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            let mut row: Vec<u32> = tree
                .locate_within_distance([x, y], d2)
                .map(|g| g.data)
                .filter(|&j| j as usize != i)
                .collect();
            row.sort_unstable();
            row
        })
        .collect();
    Ok(SpatialWeights::from_sorted_rows(rows))
}

/// The `k` nearest other points of each point (binary, asymmetric), like libpysal `KNN`. Ties at the
/// k-th distance are broken by the lower index.
pub fn k_nearest(points_m: &[(f64, f64)], k: usize) -> Result<SpatialWeights, WeightsError> {
    let n = points_m.len();
    if k == 0 || k >= n {
        return Err(WeightsError::InvalidK { k, n });
    }
    let tree = point_tree(points_m)?;
    let rows = points_m
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            // Take candidates until the distance grows beyond the k-th, then order ties by index.
            let mut cand: Vec<(f64, u32)> = Vec::with_capacity(k + 4);
            for g in tree.nearest_neighbor_iter(&[x, y]) {
                let j = g.data;
                if j as usize == i {
                    continue;
                }
                let [gx, gy] = *g.geom();
                let d2 = (gx - x).powi(2) + (gy - y).powi(2);
                if cand.len() >= k && d2 > cand[k - 1].0 {
                    break;
                }
                cand.push((d2, j));
            }
            cand.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut row: Vec<u32> = cand.iter().take(k).map(|&(_, j)| j).collect();
            row.sort_unstable();
            row
        })
        .collect();
    Ok(SpatialWeights::from_sorted_rows(rows))
}

/// H3 k-ring weights: `j` is a neighbour of `i` when its cell lies within grid distance `k` of `i`'s cell
/// (cells not in `cells` are ignored). Cells must be distinct.
pub fn h3_k_ring(cells: &[CellIndex], k: u32) -> Result<SpatialWeights, WeightsError> {
    check_count(cells.len())?;
    let mut index: HashMap<CellIndex, u32> = HashMap::with_capacity(cells.len());
    for (i, &c) in cells.iter().enumerate() {
        if index.insert(c, i as u32).is_some() {
            return Err(WeightsError::DuplicateCell(i));
        }
    }
    let rows = cells
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let mut row: Vec<u32> = c
                .grid_disk::<Vec<CellIndex>>(k)
                .into_iter()
                .filter_map(|d| index.get(&d).copied())
                .filter(|&j| j as usize != i)
                .collect();
            row.sort_unstable();
            row.dedup();
            row
        })
        .collect();
    Ok(SpatialWeights::from_sorted_rows(rows))
}

/// Neighbourhood rule for the regular-grid fast path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GridNeighbourhood {
    /// The 4 cells sharing an edge.
    Rook,
    /// The 8 cells sharing an edge or corner.
    Queen,
    /// Cells whose centres lie within `threshold_m` (distance <= threshold) of the cell centre.
    DistanceBand { threshold_m: f64 },
}

/// Weights for square cells of `cell_size_m` on an aligned grid, identified by integer `(col, row)`.
/// Equivalent to [`distance_band`] on the cell centres for `DistanceBand`, but found by integer offsets.
/// Cells must be distinct.
pub fn regular_grid(
    cells: &[(i64, i64)],
    cell_size_m: f64,
    rule: GridNeighbourhood,
) -> Result<SpatialWeights, WeightsError> {
    check_positive("cell_size_m", cell_size_m)?;
    check_count(cells.len())?;
    let offsets: Vec<(i64, i64)> = match rule {
        GridNeighbourhood::Rook => vec![(0, -1), (-1, 0), (1, 0), (0, 1)],
        GridNeighbourhood::Queen => {
            let mut v = Vec::new();
            for dr in -1..=1 {
                for dc in -1..=1 {
                    if (dc, dr) != (0, 0) {
                        v.push((dc, dr));
                    }
                }
            }
            v
        }
        GridNeighbourhood::DistanceBand { threshold_m } => {
            check_positive("threshold_m", threshold_m)?;
            let reach = (threshold_m / cell_size_m).floor() as i64;
            let mut v = Vec::new();
            for dr in -reach..=reach {
                for dc in -reach..=reach {
                    let d = ((dc * dc + dr * dr) as f64).sqrt() * cell_size_m;
                    if (dc, dr) != (0, 0) && d <= threshold_m {
                        v.push((dc, dr));
                    }
                }
            }
            v
        }
    };
    if cells.is_empty() {
        return Ok(SpatialWeights::from_sorted_rows(Vec::new()));
    }
    let (mut c0, mut c1, mut r0, mut r1) = (i64::MAX, i64::MIN, i64::MAX, i64::MIN);
    for &(c, r) in cells {
        c0 = c0.min(c);
        c1 = c1.max(c);
        r0 = r0.min(r);
        r1 = r1.max(r);
    }
    let width = (c1 as i128 - c0 as i128 + 1) as u128;
    let height = (r1 as i128 - r0 as i128 + 1) as u128;
    let area = width.saturating_mul(height);
    // Dense lookup table when the bounding box is not much larger than the cell list, else a hash map.
    let lookup = if area <= (16 * cells.len() as u128).max(1 << 20) {
        let (w, h) = (width as i64, height as i64);
        let mut dense = vec![u32::MAX; area as usize];
        for (i, &(c, r)) in cells.iter().enumerate() {
            let slot = &mut dense[((r - r0) * w + (c - c0)) as usize];
            if *slot != u32::MAX {
                return Err(WeightsError::DuplicateCell(i));
            }
            *slot = i as u32;
        }
        CellLookup::Dense {
            dense,
            c0,
            r0,
            w,
            h,
        }
    } else {
        let mut map: FxHashMap<(i64, i64), u32> =
            FxHashMap::with_capacity_and_hasher(cells.len(), Default::default());
        for (i, &cell) in cells.iter().enumerate() {
            if map.insert(cell, i as u32).is_some() {
                return Err(WeightsError::DuplicateCell(i));
            }
        }
        CellLookup::Hashed(map)
    };
    // Build the CSR arrays directly (no per-row allocation).
    let mut row_offsets = Vec::with_capacity(cells.len() + 1);
    row_offsets.push(0);
    let mut neighbours: Vec<u32> = Vec::with_capacity(cells.len() * offsets.len());
    for &(c, r) in cells {
        let start = neighbours.len();
        for &(dc, dr) in &offsets {
            if let (Some(nc), Some(nr)) = (c.checked_add(dc), r.checked_add(dr)) {
                if let Some(j) = lookup.get(nc, nr) {
                    neighbours.push(j);
                }
            }
        }
        neighbours[start..].sort_unstable();
        row_offsets.push(neighbours.len());
    }
    let weights = vec![1.0; neighbours.len()];
    Ok(SpatialWeights {
        offsets: row_offsets,
        neighbours,
        weights,
    })
}

/// Cell id -> location index for [`regular_grid`].
enum CellLookup {
    /// Row-major table over the bounding box (`u32::MAX` = no cell).
    Dense {
        dense: Vec<u32>,
        c0: i64,
        r0: i64,
        w: i64,
        h: i64,
    },
    /// For sparse cell sets spread over a large box.
    Hashed(FxHashMap<(i64, i64), u32>),
}

impl CellLookup {
    #[inline]
    fn get(&self, c: i64, r: i64) -> Option<u32> {
        match self {
            CellLookup::Dense {
                dense,
                c0,
                r0,
                w,
                h,
            } => {
                let (dc, dr) = (c.checked_sub(*c0)?, r.checked_sub(*r0)?);
                if dc < 0 || dr < 0 || dc >= *w || dr >= *h {
                    return None;
                }
                let v = dense[(dr * w + dc) as usize];
                (v != u32::MAX).then_some(v)
            }
            CellLookup::Hashed(map) => map.get(&(c, r)).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, MultiPolygon};

    fn square(x0: f64, y0: f64, s: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: x0, y: y0), (x: x0 + s, y: y0), (x: x0 + s, y: y0 + s), (x: x0, y: y0 + s), (x: x0, y: y0)
        ]])
    }

    /// 3x3 block of unit squares, index = row * 3 + col; vertices jittered by < tolerance.
    fn block() -> Vec<MultiPolygon<f64>> {
        let mut v = Vec::new();
        for r in 0..3 {
            for c in 0..3 {
                let jitter = ((r * 3 + c) as f64) * 1e-4;
                v.push(square(
                    c as f64 * 10.0 + jitter,
                    r as f64 * 10.0 - jitter,
                    10.0,
                ));
            }
        }
        v
    }

    #[test]
    fn queen_and_rook_on_a_block_with_noise() {
        let polys = block();
        let queen = contiguity(&polys, Contiguity::Queen, 0.01).unwrap();
        let rook = contiguity(&polys, Contiguity::Rook, 0.01).unwrap();
        // Centre cell 4: queen has all 8 others, rook the 4 edge neighbours.
        assert_eq!(queen.neighbours(4), &[0, 1, 2, 3, 5, 6, 7, 8]);
        assert_eq!(rook.neighbours(4), &[1, 3, 5, 7]);
        assert_eq!(queen.neighbours(0), &[1, 3, 4]);
        assert_eq!(rook.neighbours(0), &[1, 3]);
        // Without tolerance for the jitter, nothing touches.
        let strict = contiguity(&polys, Contiguity::Queen, 1e-6).unwrap();
        assert_eq!(strict.islands().len(), 9);
    }

    #[test]
    fn grid_fast_path_matches_distance_band_and_contiguity() {
        let mut cells = Vec::new();
        for r in 0..7 {
            for c in 0..9 {
                if (r * 9 + c) % 5 != 2 {
                    cells.push((c + 1000, r - 3));
                }
            }
        }
        let pts: Vec<(f64, f64)> = cells
            .iter()
            .map(|&(c, r)| (c as f64 * 100.0 + 50.0, r as f64 * 100.0 + 50.0))
            .collect();
        for band in [100.0, 150.0, 250.0] {
            let g = regular_grid(
                &cells,
                100.0,
                GridNeighbourhood::DistanceBand { threshold_m: band },
            )
            .unwrap();
            let d = distance_band(&pts, band).unwrap();
            assert_eq!(g, d, "band {band}");
        }
        let polys: Vec<_> = cells
            .iter()
            .map(|&(c, r)| square(c as f64 * 100.0, r as f64 * 100.0, 100.0))
            .collect();
        let q = regular_grid(&cells, 100.0, GridNeighbourhood::Queen).unwrap();
        assert_eq!(q, contiguity(&polys, Contiguity::Queen, 0.01).unwrap());
        let r = regular_grid(&cells, 100.0, GridNeighbourhood::Rook).unwrap();
        assert_eq!(r, contiguity(&polys, Contiguity::Rook, 0.01).unwrap());
        // Sparse (hashed) path gives the same answer.
        let mut far = cells.clone();
        far.push((10_000_000, 10_000_000));
        let qf = regular_grid(&far, 100.0, GridNeighbourhood::Queen).unwrap();
        assert_eq!(qf.subset(&(0..cells.len()).collect::<Vec<_>>()).unwrap(), q);
        assert_eq!(qf.cardinality(cells.len()), 0);
        assert_eq!(
            regular_grid(&[(0, 0), (0, 0)], 100.0, GridNeighbourhood::Queen),
            Err(WeightsError::DuplicateCell(1))
        );
    }

    #[test]
    fn knn_by_brute_force() {
        let pts: Vec<(f64, f64)> = (0..60)
            .map(|i| (((i * 37) % 61) as f64 * 3.1, ((i * 17) % 53) as f64 * 2.7))
            .collect();
        let w = k_nearest(&pts, 4).unwrap();
        for i in 0..pts.len() {
            let mut d: Vec<(f64, usize)> = (0..pts.len())
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        (pts[i].0 - pts[j].0).powi(2) + (pts[i].1 - pts[j].1).powi(2),
                        j,
                    )
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut want: Vec<u32> = d.iter().take(4).map(|&(_, j)| j as u32).collect();
            want.sort_unstable();
            assert_eq!(w.neighbours(i), want.as_slice());
        }
        assert!(k_nearest(&pts, 60).is_err());
        assert!(k_nearest(&pts, 0).is_err());
    }

    #[test]
    fn h3_ring_sizes() {
        let centre = CellIndex::try_from(0x8a1fb46622dffff_u64).unwrap();
        let disk: Vec<CellIndex> = centre.grid_disk(2);
        let w = h3_k_ring(&disk, 1).unwrap();
        let ci = disk.iter().position(|&c| c == centre).unwrap();
        assert_eq!(w.cardinality(ci), 6);
        let w2 = h3_k_ring(&disk, 2).unwrap();
        assert_eq!(w2.cardinality(ci), 18);
    }

    #[test]
    fn row_standardise_and_validation() {
        let w = SpatialWeights::from_neighbour_lists(&[vec![1, 2], vec![0], vec![], vec![0, 0]])
            .unwrap();
        let r = w.row_standardised();
        assert_eq!(r.weights(0), &[0.5, 0.5]);
        assert_eq!(r.weights(1), &[1.0]);
        assert_eq!(r.cardinality(3), 1);
        assert_eq!(w.islands(), vec![2]);
        assert_eq!(
            SpatialWeights::from_neighbour_lists(&[vec![0]]),
            Err(WeightsError::SelfNeighbour(0))
        );
        assert!(SpatialWeights::from_neighbour_lists(&[vec![3]]).is_err());
        assert!(distance_band(&[(0.0, f64::NAN)], 1.0).is_err());
        assert!(distance_band(&[(0.0, 0.0)], -1.0).is_err());
    }
}
