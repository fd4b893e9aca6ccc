//! Spatial weights, Gi* and local Moran's I against PySAL (libpysal 4.14 / esda 2.9).
//!
//! Expected values: tests/oracle/expected/gistar_esda.json, written by tests/oracle/gistar_esda.py from the
//! libpysal example files in tests/fixtures/pysal/ (BSD-3, see LICENSE-libpysal.txt there). The Rust side
//! reads the same shapefiles through GDAL and builds its own weights.

use brandpunt::analysis::gistar::{gi_star, GiStarOptions};
use brandpunt::analysis::moran::local_moran;
use brandpunt::analysis::weights::{
    contiguity, distance_band, k_nearest, regular_grid, Contiguity, GridNeighbourhood,
    SpatialWeights,
};
use gdal::vector::LayerAccess;
use gdal::Dataset;
use geo_types::{Geometry, MultiPolygon};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pysal/");

fn expected() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracle/expected/gistar_esda.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn lists(v: &Value) -> Vec<Vec<usize>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|j| j.as_u64().unwrap() as usize)
                .collect()
        })
        .collect()
}

fn polygons(file: &str) -> Vec<MultiPolygon<f64>> {
    let ds = Dataset::open(format!("{FIXTURES}{file}")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    layer
        .features()
        .map(|f| match f.geometry().unwrap().to_geo().unwrap() {
            Geometry::Polygon(p) => MultiPolygon(vec![p]),
            Geometry::MultiPolygon(mp) => mp,
            other => panic!("unexpected geometry {other:?}"),
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: {g} vs {w} (diff {})",
            (g - w).abs()
        );
    }
}

fn check_gistar(y: &[f64], w: &SpatialWeights, want: &Value, what: &str) {
    let r = gi_star(y, w, &GiStarOptions::default()).unwrap();
    assert_close(&r.z, &floats(&want["z"]), 1e-12, &format!("{what} z"));
    assert_close(&r.p, &floats(&want["p"]), 1e-12, &format!("{what} p"));
}

fn check_moran(y: &[f64], w: &SpatialWeights, want: &Value, what: &str) {
    let r = local_moran(y, w, None).unwrap();
    assert_close(&r.i, &floats(&want["I"]), 1e-12, &format!("{what} I"));
    assert_close(&r.z, &floats(&want["z"]), 1e-10, &format!("{what} z"));
    assert_close(
        &r.z_conditional,
        &floats(&want["z_conditional"]),
        1e-10,
        &format!("{what} z_conditional"),
    );
    let q: Vec<u64> = r.quadrant.iter().map(|&q| q as u64).collect();
    let want_q: Vec<u64> = want["q"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(q, want_q, "{what} quadrants");
}

#[test]
fn columbus_contiguity_gistar_and_moran() {
    let e = expected();
    let c = &e["columbus"];
    let polys = polygons("columbus.shp");
    let queen = contiguity(&polys, Contiguity::Queen, 1e-9).unwrap();
    let rook = contiguity(&polys, Contiguity::Rook, 1e-9).unwrap();
    assert_eq!(queen.to_neighbour_lists(), lists(&c["queen"]));
    assert_eq!(rook.to_neighbour_lists(), lists(&c["rook"]));
    // A looser snapping tolerance (still far below the polygon size) finds the same neighbours.
    assert_eq!(contiguity(&polys, Contiguity::Queen, 1e-6).unwrap(), queen);
    let y = floats(&c["crime"]);
    check_gistar(&y, &queen, &c["gistar_queen"], "columbus queen");
    check_gistar(&y, &rook, &c["gistar_rook"], "columbus rook");
    check_moran(&y, &queen, &c["moran_queen"], "columbus moran");
}

#[test]
fn stl_homicide_rates() {
    let e = expected();
    let s = &e["stl"];
    let polys = polygons("stl_hom.shp");
    let queen = contiguity(&polys, Contiguity::Queen, 1e-9).unwrap();
    assert_eq!(queen.to_neighbour_lists(), lists(&s["queen"]));
    assert_eq!(
        contiguity(&polys, Contiguity::Rook, 1e-9)
            .unwrap()
            .to_neighbour_lists(),
        lists(&s["rook"])
    );
    for period in ["HR7984", "HR8488", "HR8893"] {
        let y = floats(&s[period]["y"]);
        check_gistar(&y, &queen, &s[period]["gistar_queen"], period);
        check_moran(&y, &queen, &s[period]["moran_queen"], period);
    }
}

#[test]
fn geodanet_grid_counts_with_distance_band() {
    let e = expected();
    let g = &e["geodanet_grid"];
    let cell = g["cell"].as_f64().unwrap();
    let cells: Vec<(i64, i64)> = g["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v[0].as_i64().unwrap(), v[1].as_i64().unwrap()))
        .collect();
    // Count the crime points per cell ourselves from the shapefile.
    let ds = Dataset::open(format!("{FIXTURES}crimes.shp")).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let mut counts = vec![0.0; cells.len()];
    for f in layer.features() {
        let Geometry::Point(p) = f.geometry().unwrap().to_geo().unwrap() else {
            panic!("not a point")
        };
        let key = ((p.x() / cell).floor() as i64, (p.y() / cell).floor() as i64);
        counts[cells.iter().position(|&c| c == key).unwrap()] += 1.0;
    }
    assert_eq!(counts, floats(&g["counts"]));
    let centres: Vec<(f64, f64)> = cells
        .iter()
        .map(|&(c, r)| ((c as f64 + 0.5) * cell, (r as f64 + 0.5) * cell))
        .collect();
    for band in [600.0, 850.0] {
        let want = &g[format!("band_{band}")];
        let fast = regular_grid(
            &cells,
            cell,
            GridNeighbourhood::DistanceBand { threshold_m: band },
        )
        .unwrap();
        let tree = distance_band(&centres, band).unwrap();
        assert_eq!(
            fast.to_neighbour_lists(),
            lists(&want["neighbours"]),
            "band {band}"
        );
        assert_eq!(tree, fast);
        check_gistar(
            &counts,
            &fast,
            &want["gistar"],
            &format!("grid band {band}"),
        );
    }
}

#[test]
fn geodanet_points_distance_band_and_knn() {
    let e = expected();
    let g = &e["geodanet_points"];
    let pts: Vec<(f64, f64)> = g["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v[0].as_f64().unwrap(), v[1].as_f64().unwrap()))
        .collect();
    assert_eq!(
        distance_band(&pts, 250.0).unwrap().to_neighbour_lists(),
        lists(&g["band_250"])
    );
    let knn = k_nearest(&pts, 5).unwrap().to_neighbour_lists();
    let want = lists(&g["knn_5"]);
    let ties: Vec<bool> = g["knn_5_tie"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    let mut compared = 0;
    for i in 0..pts.len() {
        if !ties[i] {
            assert_eq!(knn[i], want[i], "knn point {i}");
            compared += 1;
        }
    }
    assert!(compared > pts.len() / 2);
}
