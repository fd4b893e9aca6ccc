//! Contour polygons of a raster: the region where the value is at least a threshold, traced along cell edges
//! (every cell is in or out as a whole), as valid polygons with holes.
//!
//! Tracing: every cell in the region contributes its edges that border a cell outside (or the raster edge),
//! directed with the region on the left (counter-clockwise exteriors, clockwise holes in a y-up frame). The
//! edges are linked into rings; at a vertex where two regions touch diagonally the left-most turn is taken, so
//! the two stay separate rings touching in one point (never a self-crossing ring). Collinear vertices are
//! removed. Rings with positive area are exteriors; each hole goes to the smallest exterior containing the
//! region cell next to it.

use crate::analysis::kde::Raster;
use geo::{Area, Contains};
use geo_types::{Coord, LineString, MultiPolygon, Point, Polygon};
use std::collections::HashMap;

/// The region `value >= threshold` of a north-up raster (`values[j * width + i]`, row `j` from the north, cell
/// `(i, j)` covering `[minx + i c, minx + (i+1) c] x [maxy - (j+1) c, maxy - j c]`) as polygons in the raster's
/// coordinates. NaN cells are outside. Empty when no cell qualifies or the sizes do not match.
pub fn threshold_polygons(
    values: &[f32],
    width: usize,
    height: usize,
    minx_m: f64,
    maxy_m: f64,
    cell_m: f64,
    threshold: f64,
) -> MultiPolygon<f64> {
    if values.len() != width * height || width == 0 || height == 0 {
        return MultiPolygon(vec![]);
    }
    let inside = |i: i64, j: i64| -> bool {
        i >= 0
            && j >= 0
            && (i as usize) < width
            && (j as usize) < height
            && f64::from(values[j as usize * width + i as usize]) >= threshold
    };
    // Integer vertex coordinates in a y-up frame: X = i, Y = height - j.
    let h = height as i64;
    let mut edges: Vec<((i64, i64), (i64, i64))> = Vec::new();
    for j in 0..h {
        for i in 0..width as i64 {
            if !inside(i, j) {
                continue;
            }
            let (x0, x1, y0, y1) = (i, i + 1, h - j - 1, h - j);
            if !inside(i, j + 1) {
                edges.push(((x0, y0), (x1, y0)));
            }
            if !inside(i + 1, j) {
                edges.push(((x1, y0), (x1, y1)));
            }
            if !inside(i, j - 1) {
                edges.push(((x1, y1), (x0, y1)));
            }
            if !inside(i - 1, j) {
                edges.push(((x0, y1), (x0, y0)));
            }
        }
    }
    if edges.is_empty() {
        return MultiPolygon(vec![]);
    }
    let mut from: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (k, e) in edges.iter().enumerate() {
        from.entry(e.0).or_default().push(k);
    }
    let mut used = vec![false; edges.len()];
    let to_world = |(x, y): (i64, i64)| Coord {
        x: minx_m + x as f64 * cell_m,
        y: maxy_m - (h - y) as f64 * cell_m,
    };
    let mut exteriors: Vec<(LineString<f64>, f64)> = Vec::new();
    // Holes with a point of the region cell on their left.
    let mut holes: Vec<(LineString<f64>, Point<f64>)> = Vec::new();
    for start in 0..edges.len() {
        if used[start] {
            continue;
        }
        let mut ring: Vec<(i64, i64)> = Vec::new();
        let mut k = start;
        loop {
            used[k] = true;
            let (a, b) = edges[k];
            ring.push(a);
            let dir = (b.0 - a.0, b.1 - a.1);
            // The left-most turn (cross product > 0) among all edges leaving `b`: a fixed rule, so every edge
            // has exactly one predecessor and reaching a used edge means the ring is closed.
            let next = from.get(&b).and_then(|cands| {
                cands.iter().copied().max_by_key(|&c| {
                    let (p, q) = edges[c];
                    let d = (q.0 - p.0, q.1 - p.1);
                    dir.0 * d.1 - dir.1 * d.0
                })
            });
            match next {
                Some(n) if !used[n] => k = n,
                _ => break,
            }
        }
        let ring = drop_collinear(&ring);
        if ring.len() < 3 {
            continue;
        }
        let mut coords: Vec<Coord<f64>> = ring.iter().map(|&v| to_world(v)).collect();
        coords.push(coords[0]);
        let ls = LineString::from(coords);
        let signed = Polygon::new(ls.clone(), vec![]).signed_area();
        if signed > 0.0 {
            exteriors.push((ls, signed));
        } else {
            // The first edge of the ring has the region on its left: that cell's centre.
            let (a, b) = (ring[0], ring[1 % ring.len()]);
            let d = ((b.0 - a.0).signum(), (b.1 - a.1).signum());
            // Left normal of direction d in a y-up frame is (-d.y, d.x).
            let mid = (
                a.0 as f64 + 0.5 * d.0 as f64 - 0.5 * d.1 as f64,
                a.1 as f64 + 0.5 * d.1 as f64 + 0.5 * d.0 as f64,
            );
            let p = Point::new(
                minx_m + mid.0 * cell_m,
                maxy_m - (h as f64 - mid.1) * cell_m,
            );
            holes.push((ls, p));
        }
    }
    let mut polygons: Vec<(LineString<f64>, f64, Vec<LineString<f64>>)> = exteriors
        .into_iter()
        .map(|(ls, a)| (ls, a, vec![]))
        .collect();
    for (hole, probe) in holes {
        let owner = polygons
            .iter()
            .enumerate()
            .filter(|(_, (ext, _, _))| Polygon::new(ext.clone(), vec![]).contains(&probe))
            .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
            .map(|(k, _)| k);
        if let Some(k) = owner {
            polygons[k].2.push(hole);
        }
    }
    MultiPolygon(
        polygons
            .into_iter()
            .map(|(ext, _, holes)| Polygon::new(ext, holes))
            .collect(),
    )
}

/// Removes vertices where the ring goes straight on (the ring is implicitly closed).
fn drop_collinear(ring: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let n = ring.len();
    (0..n)
        .filter(|&k| {
            let p = ring[(k + n - 1) % n];
            let c = ring[k];
            let q = ring[(k + 1) % n];
            (c.0 - p.0) * (q.1 - c.1) - (c.1 - p.1) * (q.0 - c.0) != 0
        })
        .map(|k| ring[k])
        .collect()
}

/// One contour level of a density surface: the region with at least `density_per_km2`.
#[derive(Clone, Debug, PartialEq)]
pub struct ContourLevel {
    /// 1 = lowest.
    pub level: usize,
    pub density_per_km2: f64,
    /// The region, in the raster's coordinates (RD metres).
    pub polygon_rd: MultiPolygon<f64>,
}

/// `levels` contour regions of a density raster with maximum `max_per_km2`: level `i` (1 = lowest) is the region
/// with density >= `i / (levels + 1)` times the maximum ([`threshold_polygons`]).
///
/// ```
/// use brandpunt::analysis::kde::Raster;
/// use brandpunt::render::contour::density_contours;
///
/// // 3 x 1 cells of 10 m: densities 1, 2, 3.
/// let r = Raster { minx_m: 0.0, maxy_m: 10.0, cell_m: 10.0, width: 3, height: 1, values: vec![1.0f32, 2.0, 3.0] };
/// let c = density_contours(&r, 3.0, 2);
/// assert_eq!((c[0].level, c[0].density_per_km2, c[1].density_per_km2), (1, 1.0, 2.0));
/// assert_eq!(c[1].polygon_rd.0.len(), 1); // cells 2 and 3 together
/// ```
pub fn density_contours(
    raster: &Raster<f32>,
    max_per_km2: f64,
    levels: usize,
) -> Vec<ContourLevel> {
    let r = raster;
    (1..=levels)
        .map(|level| {
            let t = max_per_km2 * level as f64 / (levels as f64 + 1.0);
            ContourLevel {
                level,
                density_per_km2: t,
                polygon_rd: threshold_polygons(
                    &r.values, r.width, r.height, r.minx_m, r.maxy_m, r.cell_m, t,
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Validation;

    fn check_against_cells(values: &[f32], w: usize, h: usize, t: f64, validate: bool) {
        let (minx, maxy, c) = (1000.0, 5000.0, 10.0);
        let mp = threshold_polygons(values, w, h, minx, maxy, c, t);
        if validate {
            assert!(mp.is_valid(), "invalid: {mp:?}");
        }
        // Oracle: every cell centre is inside the polygons exactly when its value reaches the threshold.
        for j in 0..h {
            for i in 0..w {
                let p = Point::new(minx + (i as f64 + 0.5) * c, maxy - (j as f64 + 0.5) * c);
                let want = f64::from(values[j * w + i]) >= t;
                assert_eq!(mp.contains(&p), want, "cell ({i}, {j})");
            }
        }
        let cells = values.iter().filter(|v| f64::from(**v) >= t).count();
        assert!((mp.unsigned_area() - cells as f64 * c * c).abs() < 1e-6);
    }

    #[test]
    fn ring_with_hole_and_diagonal_touch() {
        #[rustfmt::skip]
        let v: Vec<f32> = vec![
            1., 1., 1., 1., 0., 0.,
            1., 0., 0., 1., 0., 0.,
            1., 0., 1., 1., 0., 0.,
            1., 1., 1., 1., 0., 1.,
            0., 0., 0., 0., 1., 0.,
        ];
        check_against_cells(&v, 6, 5, 0.5, true);
        let mp = threshold_polygons(&v, 6, 5, 0.0, 50.0, 10.0, 0.5);
        assert_eq!(mp.0.iter().map(|p| p.interiors().len()).sum::<usize>(), 1);
    }

    #[test]
    fn island_inside_a_hole_and_edges() {
        #[rustfmt::skip]
        let v: Vec<f32> = vec![
            2., 2., 2., 2., 2.,
            2., 0., 0., 0., 2.,
            2., 0., 3., 0., 2.,
            2., 0., 0., 0., 2.,
            2., 2., 2., 2., 2.,
        ];
        check_against_cells(&v, 5, 5, 1.0, true);
        check_against_cells(&v, 5, 5, 2.5, true);
        check_against_cells(&v, 5, 5, 9.0, true);
        assert!(threshold_polygons(&v, 5, 5, 0.0, 0.0, 1.0, 9.0)
            .0
            .is_empty());
        assert!(threshold_polygons(&v, 4, 5, 0.0, 0.0, 1.0, 1.0)
            .0
            .is_empty());
    }

    #[test]
    fn pseudo_random_fields() {
        let mut s: u64 = 7;
        for _ in 0..20 {
            let (w, h) = (13, 9);
            let v: Vec<f32> = (0..w * h)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (s >> 40) as f32 / (1u64 << 24) as f32
                })
                .collect();
            check_against_cells(&v, w, h, 0.5, false);
        }
    }

    #[test]
    fn density_levels_split_the_maximum_evenly() {
        let r = Raster {
            minx_m: 0.0,
            maxy_m: 20.0,
            cell_m: 10.0,
            width: 2,
            height: 2,
            values: vec![0.0f32, 1.0, 2.0, 4.0],
        };
        let c = density_contours(&r, 4.0, 3);
        let t: Vec<f64> = c.iter().map(|l| l.density_per_km2).collect();
        assert_eq!(t, [1.0, 2.0, 3.0]);
        assert_eq!(c[0].polygon_rd.unsigned_area(), 300.0);
        assert_eq!(c[1].polygon_rd.unsigned_area(), 200.0);
        assert_eq!(c[2].polygon_rd.unsigned_area(), 100.0);
        assert!(density_contours(&r, 4.0, 0).is_empty());
    }
}
