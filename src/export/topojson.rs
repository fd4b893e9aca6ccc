//! TopoJSON (the `topojson-server` encoding) of polygons in WGS84: a Topology with one GeometryCollection,
//! quantized (`transform`, [`QUANTIZATION`] steps per axis, delta-encoded arcs) with shared arcs: rings are cut
//! at junctions and a border between two polygons is stored once (referenced reversed, `~i`, by the second
//! one); Power BI's Shape Map reads it. Rings that collapse under quantization to fewer than 4 positions are
//! dropped (a polygon whose exterior collapses too); a feature left without polygons gets a `null` geometry type.
//!
//! ```
//! use brandpunt::export::topojson::{topology, TopoFeature};
//! use serde_json::json;
//!
//! let square = |x0: f64| vec![vec![vec![(x0, 52.0), (x0 + 0.01, 52.0), (x0 + 0.01, 52.01), (x0, 52.01), (x0, 52.0)]]];
//! let (left, right) = (square(5.0), square(5.01));
//! let features = [
//!     TopoFeature { id: "BU01", rings: &left, properties: json!({"count": 3}) },
//!     TopoFeature { id: "BU02", rings: &right, properties: json!({"count": 4}) },
//! ];
//! let t = topology("buurten", &features);
//! assert_eq!(t["type"], "Topology");
//! let geometries = t["objects"]["buurten"]["geometries"].as_array().unwrap();
//! assert_eq!(geometries[1]["id"], "BU02");
//! assert_eq!(geometries[1]["properties"]["count"], 4);
//! // The common edge is stored once: 3 arcs for two squares.
//! assert_eq!(t["arcs"].as_array().unwrap().len(), 3);
//! ```

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::LonLatRings;

/// Quantization steps per axis.
pub const QUANTIZATION: f64 = 1e5;

/// One feature of the topology.
#[derive(Clone, Debug)]
pub struct TopoFeature<'a> {
    /// The geometry's `id`.
    pub id: &'a str,
    /// WGS84 polygons (each: exterior first, then holes; rings closed).
    pub rings: &'a LonLatRings,
    /// The geometry's `properties`.
    pub properties: Value,
}

/// The Topology of `features` with one GeometryCollection named `object` (see the module docs).
pub fn topology(object: &str, features: &[TopoFeature<'_>]) -> Value {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for r in features {
        for &(x, y) in r.rings.iter().flatten().flatten() {
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
    }
    if !b[0].is_finite() {
        b = [0.0, 0.0, 0.0, 0.0];
    }
    let n = QUANTIZATION - 1.0;
    let sx = if b[2] > b[0] { (b[2] - b[0]) / n } else { 1.0 };
    let sy = if b[3] > b[1] { (b[3] - b[1]) / n } else { 1.0 };
    // Quantize every ring (dropping repeated positions and rings that collapse to fewer than 4 positions; a
    // polygon whose exterior collapses is dropped), then cut the rings into shared arcs.
    let mut flat: Vec<Vec<(i64, i64)>> = Vec::new();
    // Per row, per polygon: indices into `flat`.
    let mut layout: Vec<Vec<Vec<usize>>> = Vec::with_capacity(features.len());
    for r in features {
        let mut polys = Vec::new();
        for poly in r.rings.iter() {
            let mut idx = Vec::new();
            for (k, ring) in poly.iter().enumerate() {
                let mut q: Vec<(i64, i64)> = Vec::with_capacity(ring.len());
                for &(x, y) in ring {
                    let p = (
                        ((x - b[0]) / sx).round() as i64,
                        ((y - b[1]) / sy).round() as i64,
                    );
                    if q.last() != Some(&p) {
                        q.push(p);
                    }
                }
                if q.first() != q.last() {
                    if let Some(&p0) = q.first() {
                        q.push(p0);
                    }
                }
                if q.len() < 4 {
                    if k == 0 {
                        break;
                    }
                    continue;
                }
                idx.push(flat.len());
                flat.push(q);
            }
            if !idx.is_empty() {
                polys.push(idx);
            }
        }
        layout.push(polys);
    }
    let (arcs, refs) = shared_arcs(&flat);
    let arcs: Vec<Value> = arcs
        .iter()
        .map(|arc| {
            let mut prev = (0i64, 0i64);
            Value::Array(
                arc.iter()
                    .map(|&(x, y)| {
                        let d = json!([x - prev.0, y - prev.1]);
                        prev = (x, y);
                        d
                    })
                    .collect(),
            )
        })
        .collect();
    let mut geometries = Vec::with_capacity(features.len());
    for (r, polys) in features.iter().zip(&layout) {
        let mut g = Map::new();
        if polys.is_empty() {
            g.insert("type".into(), json!(null));
        } else {
            g.insert("type".into(), json!("MultiPolygon"));
            g.insert(
                "arcs".into(),
                json!(polys
                    .iter()
                    .map(|p| p.iter().map(|&k| refs[k].clone()).collect::<Vec<_>>())
                    .collect::<Vec<_>>()),
            );
        }
        g.insert("id".into(), json!(r.id));
        g.insert("properties".into(), r.properties.clone());
        geometries.push(Value::Object(g));
    }
    let mut objects = Map::new();
    objects.insert(
        object.into(),
        json!({"type": "GeometryCollection", "geometries": geometries}),
    );
    json!({
        "type": "Topology",
        "bbox": b,
        "transform": {"scale": [sx, sy], "translate": [b[0], b[1]]},
        "objects": objects,
        "arcs": arcs,
    })
}

/// Quantized positions of a ring or an arc.
pub type QuantizedRing = Vec<(i64, i64)>;

/// Cut closed quantized rings (first == last, at least 4 positions) into arcs shared between rings, as TopoJSON
/// does: a junction is a position that occurs with different (unordered) neighbour pairs; rings are cut at
/// junctions, a ring without junctions is one closed arc (rotated to start at its smallest position), and an
/// arc equal to an earlier one reversed is referenced as `!i` (`-i - 1`). Returns the arcs (absolute positions)
/// and per ring its arc references; stitching the referenced arcs (dropping the first position of every arc after
/// the first) gives back the ring, possibly rotated.
pub fn shared_arcs(rings: &[QuantizedRing]) -> (Vec<QuantizedRing>, Vec<Vec<i64>>) {
    type P = (i64, i64);
    let open = |r: &[P]| -> Vec<P> { r[..r.len().saturating_sub(1)].to_vec() };
    let mut neighbours: HashMap<P, (P, P)> = HashMap::new();
    let mut junctions: HashSet<P> = HashSet::new();
    for r in rings {
        let o = open(r);
        let m = o.len();
        for k in 0..m {
            let (a, c) = (o[(k + m - 1) % m], o[(k + 1) % m]);
            let pair = if a <= c { (a, c) } else { (c, a) };
            match neighbours.get(&o[k]) {
                Some(prev) if *prev != pair => {
                    junctions.insert(o[k]);
                }
                Some(_) => {}
                None => {
                    neighbours.insert(o[k], pair);
                }
            }
        }
    }
    let mut arcs: Vec<Vec<P>> = Vec::new();
    let mut index: HashMap<Vec<P>, usize> = HashMap::new();
    let mut reference = |arc: Vec<P>, arcs: &mut Vec<Vec<P>>| -> i64 {
        if let Some(&i) = index.get(&arc) {
            return i as i64;
        }
        let rev: Vec<P> = arc.iter().rev().copied().collect();
        if let Some(&i) = index.get(&rev) {
            return -(i as i64) - 1;
        }
        index.insert(arc.clone(), arcs.len());
        arcs.push(arc);
        (arcs.len() - 1) as i64
    };
    let mut refs = Vec::with_capacity(rings.len());
    for r in rings {
        let o = open(r);
        let m = o.len();
        let cuts: Vec<usize> = (0..m).filter(|&k| junctions.contains(&o[k])).collect();
        let mut ring_refs = Vec::new();
        if cuts.is_empty() {
            let start = (0..m).min_by_key(|&k| o[k]).unwrap_or(0);
            let arc: Vec<P> = (0..=m).map(|k| o[(start + k) % m]).collect();
            ring_refs.push(reference(arc, &mut arcs));
        } else {
            for (c, &from) in cuts.iter().enumerate() {
                let to = if c + 1 < cuts.len() {
                    cuts[c + 1]
                } else {
                    cuts[0] + m
                };
                let arc: Vec<P> = (from..=to).map(|k| o[k % m]).collect();
                ring_refs.push(reference(arc, &mut arcs));
            }
        }
        refs.push(ring_refs);
    }
    (arcs, refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stitch(arcs: &[Vec<(i64, i64)>], refs: &[i64]) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = Vec::new();
        for &r in refs {
            let mut a = if r >= 0 {
                arcs[r as usize].clone()
            } else {
                let mut a = arcs[(-r - 1) as usize].clone();
                a.reverse();
                a
            };
            if !out.is_empty() {
                assert_eq!(out.last(), a.first(), "arcs connect");
                a.remove(0);
            }
            out.extend(a);
        }
        out
    }

    /// Same cyclic sequence of positions (closed rings, any rotation).
    fn same_ring(a: &[(i64, i64)], b: &[(i64, i64)]) -> bool {
        let (a, b) = (&a[..a.len() - 1], &b[..b.len() - 1]);
        a.len() == b.len()
            && (0..a.len()).any(|s| (0..a.len()).all(|k| a[(s + k) % a.len()] == b[k]))
    }

    #[test]
    fn neighbouring_squares_share_their_common_edge() {
        // Two unit squares side by side (both counter-clockwise) and a separate island.
        let left = vec![(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)];
        let right = vec![(1, 0), (2, 0), (2, 1), (1, 1), (1, 0)];
        let island = vec![(5, 5), (6, 5), (6, 6), (5, 5)];
        let rings = vec![left.clone(), right.clone(), island.clone()];
        let (arcs, refs) = shared_arcs(&rings);
        for (ring, r) in rings.iter().zip(&refs) {
            let s = stitch(&arcs, r);
            assert_eq!(s.first(), s.last());
            assert!(same_ring(ring, &s), "{ring:?} vs {s:?}");
        }
        // The shared edge (1,0)-(1,1) is one arc, used forward by one square and reversed by the other.
        let edge: Vec<usize> = arcs
            .iter()
            .enumerate()
            .filter(|(_, a)| a.len() == 2 && a.contains(&(1, 0)) && a.contains(&(1, 1)))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(edge.len(), 1);
        let i = edge[0] as i64;
        let uses: Vec<i64> = refs
            .iter()
            .flatten()
            .copied()
            .filter(|&r| r == i || r == -i - 1)
            .collect();
        assert_eq!(uses.len(), 2);
        assert_ne!(uses[0], uses[1]);
        // left: shared edge + the rest; right: the same; island: one closed arc.
        assert_eq!(arcs.len(), 4);
    }

    #[test]
    fn collapsed_rings_are_dropped_and_positions_delta_encoded() {
        let big: LonLatRings = vec![vec![vec![
            (5.0, 52.0),
            (5.1, 52.0),
            (5.1, 52.1),
            (5.0, 52.1),
            (5.0, 52.0),
        ]]];
        // Smaller than one quantization step: collapses to a single position.
        let tiny: LonLatRings = vec![vec![vec![
            (5.050_000_3, 52.050_000_3),
            (5.050_000_4, 52.050_000_3),
            (5.050_000_4, 52.050_000_4),
            (5.050_000_3, 52.050_000_3),
        ]]];
        let t = topology(
            "wijken",
            &[
                TopoFeature {
                    id: "WK01",
                    rings: &big,
                    properties: json!({}),
                },
                TopoFeature {
                    id: "WK02",
                    rings: &tiny,
                    properties: json!({"x": 1}),
                },
            ],
        );
        let g = t["objects"]["wijken"]["geometries"].as_array().unwrap();
        assert_eq!(g[0]["type"], "MultiPolygon");
        assert_eq!(g[1]["type"], Value::Null);
        assert_eq!(g[1]["properties"]["x"], 1);
        assert_eq!(t["bbox"], json!([5.0, 52.0, 5.1, 52.1]));
        assert_eq!(t["transform"]["translate"], json!([5.0, 52.0]));
        // One closed arc starting at its smallest position (0, 0); deltas after the first.
        let arc = t["arcs"][0].as_array().unwrap();
        assert_eq!(arc[0], json!([0, 0]));
        assert_eq!(arc[1], json!([99_999, 0]));
        assert_eq!(arc[2], json!([0, 99_999]));
        assert_eq!(arc.len(), 5);
    }
}
