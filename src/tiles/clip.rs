//! Clipping polygons to a buffered tile and snapping them to the tile's integer grid with MVT winding.

use super::{TileId, BUFFER, EXTENT};
use geo::{BooleanOps, BoundingRect};
use geo_types::{Coord, LineString, MultiPolygon, Polygon, Rect};

/// A ring in integer tile units, not closed (the first point is not repeated).
pub type TileRing = Vec<(i32, i32)>;

/// `geometry_m` (Web Mercator metres) transformed to fractional tile units and clipped to the tile plus
/// [`BUFFER`]. Empty when the geometry lies outside.
pub fn clip_to_tile(tile: TileId, geometry_m: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let lo = -(BUFFER as f64);
    let hi = (EXTENT + BUFFER) as f64;
    let clip = Rect::new((lo, lo), (hi, hi));
    let to_units = |c: &Coord<f64>| {
        let (x, y) = tile.to_tile_units(c.x, c.y);
        Coord { x, y }
    };
    let ring =
        |ls: &LineString<f64>| LineString::from(ls.0.iter().map(to_units).collect::<Vec<_>>());
    let units: MultiPolygon<f64> = MultiPolygon(
        geometry_m
            .0
            .iter()
            .map(|p| Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect()))
            .collect(),
    );
    let Some(bbox) = units.bounding_rect() else {
        return MultiPolygon(vec![]);
    };
    if bbox.max().x < lo || bbox.min().x > hi || bbox.max().y < lo || bbox.min().y > hi {
        return MultiPolygon(vec![]);
    }
    if bbox.min().x >= lo && bbox.max().x <= hi && bbox.min().y >= lo && bbox.max().y <= hi {
        return units;
    }
    units.intersection(&MultiPolygon(vec![clip.to_polygon()]))
}

/// `geometry_m` (Web Mercator metres, simplified for the zoom) as MVT polygons for `tile`: clipped to the buffered
/// tile, snapped to integer units, exterior rings with positive area in tile coordinates (clockwise on screen)
/// followed by their holes with negative area. Rings that collapse on the grid are dropped; a polygon whose
/// exterior collapses is dropped with its holes.
pub fn tile_polygons(tile: TileId, geometry_m: &MultiPolygon<f64>) -> Vec<Vec<TileRing>> {
    let clipped = clip_to_tile(tile, geometry_m);
    let mut out = Vec::with_capacity(clipped.0.len());
    for polygon in &clipped.0 {
        let Some(exterior) = snap_ring(polygon.exterior(), true) else {
            continue;
        };
        let mut rings = vec![exterior];
        rings.extend(
            polygon
                .interiors()
                .iter()
                .filter_map(|hole| snap_ring(hole, false)),
        );
        out.push(rings);
    }
    out
}

/// Twice the signed area (surveyor's formula) of a ring in tile units; positive = clockwise on screen (y down).
pub fn ring_area2(ring: &[(i32, i32)]) -> i64 {
    let n = ring.len();
    let mut sum = 0i64;
    for i in 0..n {
        let (x0, y0) = ring[i];
        let (x1, y1) = ring[(i + 1) % n];
        sum += i64::from(x0) * i64::from(y1) - i64::from(x1) * i64::from(y0);
    }
    sum
}

fn snap_ring(ring: &LineString<f64>, exterior: bool) -> Option<TileRing> {
    let mut pts: TileRing = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let p = (c.x.round() as i32, c.y.round() as i32);
        if pts.last() != Some(&p) {
            pts.push(p);
        }
    }
    while pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return None;
    }
    let area = ring_area2(&pts);
    if area == 0 {
        return None;
    }
    if (area > 0) != exterior {
        pts.reverse();
    }
    Some(pts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    fn square_m(tile: TileId, fx0: f64, fy0: f64, fx1: f64, fy1: f64) -> MultiPolygon<f64> {
        // Fractions of the tile, y up in Mercator; counter-clockwise in Mercator.
        let (minx, miny, _, _) = tile.bounds_m();
        let s = tile.size_m();
        let (x0, y0, x1, y1) = (
            minx + fx0 * s,
            miny + fy0 * s,
            minx + fx1 * s,
            miny + fy1 * s,
        );
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)].into()
    }

    #[test]
    fn inside_polygon_is_kept_with_positive_exterior() {
        let t = TileId::new(14, 8414, 5384).unwrap();
        let polys = tile_polygons(t, &square_m(t, 0.25, 0.25, 0.75, 0.75));
        assert_eq!(polys.len(), 1);
        let ring = &polys[0][0];
        assert_eq!(ring.len(), 4);
        assert_eq!(ring_area2(ring), 2 * 2048 * 2048);
        for &(x, y) in ring {
            assert!(x == 1024 || x == 3072);
            assert!(y == 1024 || y == 3072);
        }
    }

    #[test]
    fn polygon_larger_than_tile_is_clipped_to_buffer() {
        let t = TileId::new(14, 8414, 5384).unwrap();
        let polys = tile_polygons(t, &square_m(t, -2.0, -2.0, 3.0, 3.0));
        assert_eq!(polys.len(), 1);
        let ring = &polys[0][0];
        let lo = -(BUFFER as i32);
        let hi = (EXTENT + BUFFER) as i32;
        for &(x, y) in ring {
            assert!((lo..=hi).contains(&x) && (lo..=hi).contains(&y), "{x},{y}");
        }
        let side = i64::from(hi - lo);
        assert_eq!(ring_area2(ring), 2 * side * side);
    }

    #[test]
    fn polygon_outside_is_dropped() {
        let t = TileId::new(14, 8414, 5384).unwrap();
        assert!(tile_polygons(t, &square_m(t, 1.5, 1.5, 2.0, 2.0)).is_empty());
    }

    #[test]
    fn holes_get_negative_area_and_follow_exterior() {
        let t = TileId::new(14, 8414, 5384).unwrap();
        let (minx, miny, _, _) = t.bounds_m();
        let s = t.size_m();
        let p = |fx: f64, fy: f64| Coord {
            x: minx + fx * s,
            y: miny + fy * s,
        };
        // Exterior clockwise in Mercator (the "wrong" way), hole counter-clockwise: both must be fixed.
        let ext = LineString::from(vec![p(0.1, 0.1), p(0.1, 0.9), p(0.9, 0.9), p(0.9, 0.1)]);
        let hole = LineString::from(vec![p(0.4, 0.4), p(0.6, 0.4), p(0.6, 0.6), p(0.4, 0.6)]);
        let mp = MultiPolygon(vec![Polygon::new(ext, vec![hole])]);
        let polys = tile_polygons(t, &mp);
        assert_eq!(polys.len(), 1);
        assert_eq!(polys[0].len(), 2);
        assert!(ring_area2(&polys[0][0]) > 0);
        assert!(ring_area2(&polys[0][1]) < 0);
    }

    #[test]
    fn sub_unit_sliver_collapses() {
        let t = TileId::new(10, 525, 336).unwrap();
        let polys = tile_polygons(t, &square_m(t, 0.5, 0.5, 0.5 + 1e-5, 0.5 + 1e-5));
        assert!(polys.is_empty());
    }
}
