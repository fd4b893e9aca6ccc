//! Well-known text (WKT) of polygons, as BI tools read it in CSV columns.
//!
//! ```
//! use brandpunt::export::wkt::multipolygon;
//!
//! let rings = vec![vec![vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]]];
//! assert_eq!(multipolygon(&rings), "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))");
//! assert_eq!(multipolygon(&vec![]), "MULTIPOLYGON EMPTY");
//! ```

use std::fmt::Write as _;

use super::LonLatRings;

/// `MULTIPOLYGON (((x y, ...), (hole...)), ...)` with the coordinates as Rust prints them (shortest round-trip
/// form), or `MULTIPOLYGON EMPTY`.
pub fn multipolygon(rings: &LonLatRings) -> String {
    let mut out = String::from("MULTIPOLYGON (");
    for (pi, poly) in rings.iter().enumerate() {
        if pi > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for (ri, ring) in poly.iter().enumerate() {
            if ri > 0 {
                out.push_str(", ");
            }
            out.push('(');
            for (k, (x, y)) in ring.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{x} {y}");
            }
            out.push(')');
        }
        out.push(')');
    }
    out.push(')');
    if rings.is_empty() {
        "MULTIPOLYGON EMPTY".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkt_writes_polygons_and_holes() {
        let rings: LonLatRings = vec![
            vec![
                vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)],
                vec![(0.2, 0.1), (0.8, 0.1), (0.8, 0.7), (0.2, 0.1)],
            ],
            vec![vec![(5.5, 5.0), (6.0, 5.0), (6.0, 6.0), (5.5, 5.0)]],
        ];
        assert_eq!(
            multipolygon(&rings),
            "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0), (0.2 0.1, 0.8 0.1, 0.8 0.7, 0.2 0.1)), \
             ((5.5 5, 6 5, 6 6, 5.5 5)))"
        );
        assert_eq!(multipolygon(&vec![]), "MULTIPOLYGON EMPTY");
    }
}
