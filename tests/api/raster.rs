//! Raster tiles, WMS, the Tableau .tms and the hot spot analyses over HTTP: the real server (`brandpunt serve`)
//! on the small demo city at a free port. Images are decoded with the `png` crate and their pixels located
//! with PROJ; numbers are compared with the analysis library run in the test on the incidents read from the
//! store (KDE maximum, Gi* z-scores and bins, emerging hot spot categories, contour thresholds).

use crate::common::mvt;
use brandpunt::analysis::emerging::{
    emerging_hot_spots, grid_cube_from_events, EmergingOptions, TimeSteps,
};
use brandpunt::analysis::gistar::{gi_star, GiStarOptions};
use brandpunt::analysis::kde::{kde_raster, Kde, KdeParams};
use brandpunt::analysis::weights::{contiguity, regular_grid, Contiguity, GridNeighbourhood};
use brandpunt::analysis::Event;
use brandpunt::area_level::AreaLevel;
use brandpunt::coords::{wgs84_to_web_mercator, Transformer};
use brandpunt::store::{IncidentFilter, SqliteStore, Store};
use brandpunt::tiles::TileId;
use geo::{Contains, InteriorPoint};
use geo_types::{Coord, LineString, MultiPolygon, Point, Polygon};
use std::collections::HashMap;

use crate::common::server::{self as srv, Resp};
use crate::shared;

/// The read-only server shared by this binary ([`crate::shared::read_only`]): the demo tenant is public
/// (anonymous callers are viewers).
fn server() -> &'static shared::Server {
    shared::read_only()
}

fn get_url(url: &str) -> Resp {
    srv::request("GET", url, &[], None)
}

fn get(path: &str) -> Resp {
    get_url(&format!("{}{path}", server().base))
}

/// Decoded RGBA pixels.
struct Png {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Png {
    fn pixel(&self, col: u32, row: u32) -> [u8; 4] {
        let k = 4 * (row * self.width + col) as usize;
        [
            self.rgba[k],
            self.rgba[k + 1],
            self.rgba[k + 2],
            self.rgba[k + 3],
        ]
    }
}

fn decode_png(r: &Resp) -> Png {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("image/png")
    );
    let dec = png::Decoder::new(std::io::Cursor::new(r.body.clone()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    Png {
        width: info.width,
        height: info.height,
        rgba: buf,
    }
}

/// Events of all located incidents in the store (RD metres, unit weight).
fn store_events() -> (Vec<Event>, Vec<chrono::NaiveDate>) {
    let s = SqliteStore::open(&server().db).unwrap();
    let all = s
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap();
    let days = all.iter().map(|i| i.begin.date()).collect();
    let events = all
        .iter()
        .filter_map(|i| {
            Some(Event {
                x_m: i.x_m?,
                y_m: i.y_m?,
                begin: Some(i.begin),
                end: Some(i.end),
                weight: 1.0,
            })
        })
        .collect();
    (events, days)
}

fn library_kde() -> Kde<f32> {
    let (events, _) = store_events();
    kde_raster::<f32>(&events, &KdeParams::new(50.0)).unwrap()
}

fn rd_to_mercator(x: f64, y: f64) -> (f64, f64) {
    let t = Transformer::new().unwrap();
    let (lon, lat) = t.rd_to_wgs84(x, y).unwrap();
    wgs84_to_web_mercator(lon, lat)
}

/// The tile at zoom `z` containing RD point `(x, y)` and the pixel of that point in it.
fn tile_and_pixel(z: u8, x: f64, y: f64) -> (TileId, u32, u32) {
    let (mx, my) = rd_to_mercator(x, y);
    let tile = TileId::containing(z, mx, my);
    let (minx, _, _, maxy) = tile.bounds_m();
    let px = ((mx - minx) / tile.size_m() * 256.0).floor() as u32;
    let py = ((maxy - my) / tile.size_m() * 256.0).floor() as u32;
    (tile, px.min(255), py.min(255))
}

fn tile_path(layer: &str, t: TileId, ext: &str) -> String {
    format!("/tiles/{layer}/{}/{}/{}.{ext}", t.z, t.x, t.y)
}

#[test]
fn kde_png_tile_is_hot_at_the_library_maximum_and_transparent_far_away() {
    let kde = library_kde();
    let (_, i, j) = kde.raster.max().unwrap();
    let (x, y) = kde.raster.cell_centre_m(i, j);
    let (tile, px, py) = tile_and_pixel(15, x, y);
    let r = get(&tile_path("kde", tile, "png"));
    let img = decode_png(&r);
    assert_eq!((img.width, img.height), (256, 256));
    let hot = img.pixel(px, py);
    // Within a pixel of the densest cell centre the density is >= 85 % of the maximum: the dark red end.
    assert!(
        hot[3] >= 225 && hot[0] > 150 && hot[1] < 80,
        "pixel {hot:?}"
    );
    // No pixel of the tile is more opaque than the densest one (by more than rounding).
    let max_alpha = (0..256)
        .flat_map(|r| (0..256).map(move |c| (c, r)))
        .map(|(c, r)| img.pixel(c, r)[3])
        .max()
        .unwrap();
    assert!(max_alpha <= hot[3] + 2);
    // 30 km east of the maximum there is no incident within reach: fully transparent.
    let (far, _, _) = tile_and_pixel(15, x + 30_000.0, y);
    let img = decode_png(&get(&tile_path("kde", far, "png")));
    assert!(img.rgba.chunks(4).all(|p| p[3] == 0));
    // ETag round trip.
    let etag = r.headers.get("etag").unwrap().clone();
    let again = ureq::get(&format!(
        "{}{}",
        server().base,
        tile_path("kde", tile, "png")
    ))
    .set("If-None-Match", &etag)
    .call()
    .unwrap();
    assert_eq!(again.status(), 304);
    // Errors.
    let bad = get(&format!("{}?cell=5", tile_path("kde", tile, "png")));
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["parameter"], "cell");
    let bad = get(&format!("{}?from=gisteren", tile_path("kde", tile, "png")));
    assert_eq!(bad.json()["parameter"], "from");
    assert_eq!(get("/tiles/nope/3/1/1.png").status, 404);
    assert_eq!(get("/tiles/kde/3/99/1.png").status, 400);
}

/// Issue 12: the map layers compute each tile from the incidents near it. On the demo city every z14 tile's cells
/// and every pixel of the z13 tiles equal the whole surface computed at once (to 1e-9 relative), and the field's
/// maximum (the colour scale) is the whole surface's.
#[test]
fn tile_local_kde_equals_the_whole_surface_on_the_demo_city() {
    use brandpunt::surfaces::kde::KdeField;
    use brandpunt::surfaces::tile_window_rd;
    let (events, _) = store_events();
    let field = KdeField::new(&events, 50.0, None, &brandpunt::cancel::Cancel::never())
        .unwrap()
        .unwrap();
    let params = KdeParams {
        bandwidth_m: Some(field.bandwidth_m),
        ..KdeParams::new(50.0)
    };
    let whole = kde_raster::<f64>(&events, &params).unwrap().raster;
    let max = whole.max().unwrap().0;
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12 * max;
    assert!(
        same(field.max_per_km2, max),
        "{} vs {max}",
        field.max_per_km2
    );
    // The tiles covering the whole surface.
    let (x0, y0) = rd_to_mercator(whole.minx_m, whole.miny_m());
    let (x1, y1) = rd_to_mercator(whole.maxx_m(), whole.maxy_m);
    for z in [9u8, 13, 14] {
        let (a, b) = (TileId::containing(z, x0, y1), TileId::containing(z, x1, y0));
        let (mut tiles, mut dense) = (0, 0);
        for tx in a.x..=b.x {
            for ty in a.y..=b.y {
                let tile = TileId::new(u32::from(z), tx, ty).unwrap();
                tiles += 1;
                if z == 14 {
                    let local = field
                        .raster::<f64>(
                            tile_window_rd(tile).unwrap(),
                            &brandpunt::cancel::Cancel::never(),
                        )
                        .unwrap();
                    for j in 0..local.height {
                        for i in 0..local.width {
                            let (x, y) = local.cell_centre_m(i, j);
                            let (v, w) = (
                                local.get(i, j).unwrap(),
                                whole.value_at(x, y).unwrap_or(0.0),
                            );
                            assert!(same(v, w), "{tile:?} ({x}, {y}): {v} vs {w}");
                        }
                    }
                } else {
                    // Every pixel centre of the tile, as the PNG layer samples it.
                    let (minx, miny, maxx, maxy) = tile.bounds_m();
                    let t = Transformer::new().unwrap();
                    let pixels: Vec<(f64, f64)> = (0..256 * 256)
                        .map(|k| {
                            let (c, r) = (f64::from(k % 256) + 0.5, f64::from(k / 256) + 0.5);
                            let (mx, my) = (
                                minx + c / 256.0 * (maxx - minx),
                                maxy - r / 256.0 * (maxy - miny),
                            );
                            t.web_mercator_to_rd(mx, my).unwrap()
                        })
                        .collect();
                    let got = field
                        .sample(&pixels, &brandpunt::cancel::Cancel::never())
                        .unwrap();
                    for (&(x, y), v) in pixels.iter().zip(got) {
                        let w = brandpunt::render::bilinear(&whole, x, y);
                        assert!(same(v, w), "{tile:?} ({x}, {y}): {v} vs {w}");
                        dense += usize::from(w > 0.01 * max);
                    }
                }
            }
        }
        assert!(tiles >= 4 || z < 12, "z{z}: {tiles} tiles");
        assert!(
            z == 14 || dense > if z < 12 { 100 } else { 1_000 },
            "z{z}: {dense} pixels with density"
        );
    }
}

/// Issue 12: the `emerging` map layer computes each tile's cells from the incidents near it, with the cube's
/// per-step statistics and FDR cut-off from the per-filter grid. On the demo city, for two cell sizes and two
/// step sizes, the FDR cut-off is the whole cube's, every tile at z12 and z15 has the bytes of the whole cube's
/// tile, and every analysed cell read through the tiles' windows has the whole cube's trend_z and trend_p (to 1e-9
/// relative) and category.
#[test]
fn tile_local_emerging_equals_the_whole_cube_on_the_demo_city() {
    use brandpunt::calendar::Step;
    use brandpunt::cancel::Cancel;
    use brandpunt::dataset::{Filter, Snapshot};
    use brandpunt::surfaces::emerging::{
        emerging_cells, emerging_grid, emerging_grid_tile, emerging_tile,
    };
    use brandpunt::surfaces::tile_window_rd;
    let store = SqliteStore::open(&server().db).unwrap();
    let snapshot = Snapshot::build(1, store.tenant_data("default").unwrap()).unwrap();
    let all = Filter::all(&snapshot);
    let never = Cancel::never();
    let same = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    let mut patterned = 0;
    for (cell_m, step) in [(100, Step::Week), (250, Step::Week), (250, Step::Month)] {
        let whole = emerging_cells(
            &snapshot,
            &all,
            cell_m,
            step,
            1,
            &brandpunt::cancel::Cancel::never(),
        )
        .unwrap()
        .unwrap();
        let grid = emerging_grid(&snapshot, &all, cell_m, step, 1, &never)
            .unwrap()
            .unwrap();
        assert_eq!(grid.n_cells, whole.result.locations.len());
        assert_eq!(grid.fdr_cutoff(), whole.result.fdr_cutoff);
        let by_id: HashMap<&str, _> = whole
            .result
            .locations
            .iter()
            .map(|l| (whole.places.ids[l.location].as_str(), l))
            .collect();
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for b in whole.places.bbox_m.iter().flatten() {
            (x0, y0) = (x0.min(b.min().x), y0.min(b.min().y));
            (x1, y1) = (x1.max(b.max().x), y1.max(b.max().y));
        }
        let mut seen = std::collections::HashSet::new();
        for z in [12u8, 15] {
            let (a, b) = (TileId::containing(z, x0, y1), TileId::containing(z, x1, y0));
            for tx in a.x..=b.x {
                for ty in a.y..=b.y {
                    let tile = TileId::new(u32::from(z), tx, ty).unwrap();
                    let window = tile_window_rd(tile).unwrap();
                    let local = emerging_grid_tile(&grid, tile, window, &never).unwrap();
                    assert_eq!(local, emerging_tile(&whole, tile).unwrap(), "{tile:?}");
                    for (cell, t) in grid.trends_within(window, &never).unwrap() {
                        let id = grid.cell_id(cell);
                        let w = by_id[id.as_str()];
                        assert_eq!(t.category, w.category, "{id}");
                        assert!(
                            same(t.trend_z, w.trend_z),
                            "{id}: {} vs {}",
                            t.trend_z,
                            w.trend_z
                        );
                        assert!(
                            same(t.trend_p, w.trend_p),
                            "{id}: {} vs {}",
                            t.trend_p,
                            w.trend_p
                        );
                        seen.insert(id);
                    }
                }
            }
        }
        assert_eq!(
            seen.len(),
            whole.result.locations.len(),
            "{cell_m} {step:?}"
        );
        patterned += whole
            .result
            .locations
            .iter()
            .filter(|l| l.hot_steps + l.cold_steps > 0)
            .count();
    }
    assert!(patterned > 0, "some cells have hot or cold bins");
}

/// Issue 12: `/api/hotspots` analyses a study area (`area`, `bbox`): the grid covers the incidents in it only.
#[test]
fn hotspots_analyse_a_study_area() {
    let s = SqliteStore::open(&server().db).unwrap();
    let all = s
        .incidents(&IncidentFilter {
            tenant: "default".into(),
            ..Default::default()
        })
        .unwrap();
    // The wijk of the busiest buurt.
    let mut per_buurt: HashMap<String, usize> = HashMap::new();
    for i in &all {
        if let Some(b) = &i.buurtcode {
            *per_buurt.entry(b.clone()).or_default() += 1;
        }
    }
    let busiest = per_buurt
        .iter()
        .max_by_key(|(b, n)| (**n, (*b).clone()))
        .unwrap()
        .0;
    let wijk = format!("WK{}", &busiest[2..8]);
    // The grid cells of 200 m over the bounding box of the located incidents selected by `inside`.
    let expected_cells = |inside: &dyn Fn(&brandpunt::store::StoredIncident) -> bool| -> usize {
        let keys: Vec<(i64, i64)> = all
            .iter()
            .filter(|i| inside(i))
            .filter_map(|i| {
                Some((
                    (i.x_m? / 200.0).floor() as i64,
                    (i.y_m? / 200.0).floor() as i64,
                ))
            })
            .collect();
        let span = |f: fn(&(i64, i64)) -> i64| {
            (keys.iter().map(f).max().unwrap() - keys.iter().map(f).min().unwrap() + 1) as usize
        };
        span(|k| k.0) * span(|k| k.1)
    };
    let whole = get("/api/hotspots?method=gistar&bins=grid:200").json();
    let in_wijk = get(&format!(
        "/api/hotspots?method=gistar&bins=grid:200&area={wijk}"
    ))
    .json();
    let n_whole = whole["features"].as_array().unwrap().len();
    let n_wijk = in_wijk["features"].as_array().unwrap().len();
    assert_eq!(n_whole, expected_cells(&|_| true));
    let prefix = format!("BU{}", &wijk[2..]);
    let want = expected_cells(&|i| {
        i.buurtcode
            .as_deref()
            .is_some_and(|b| b.starts_with(&prefix))
    });
    assert_eq!(n_wijk, want, "{wijk}");
    assert!(n_wijk < n_whole, "{wijk}: {n_wijk} of {n_whole} cells");
    // A box of about 2 x 2 km around the busiest buurt's first incident (WGS84).
    let first = all
        .iter()
        .find(|i| i.buurtcode.as_deref() == Some(busiest.as_str()) && i.x_m.is_some())
        .unwrap();
    let (x, y) = (first.x_m.unwrap(), first.y_m.unwrap());
    let t = Transformer::new().unwrap();
    let (lon0, lat0) = t.rd_to_wgs84(x - 1000.0, y - 1000.0).unwrap();
    let (lon1, lat1) = t.rd_to_wgs84(x + 1000.0, y + 1000.0).unwrap();
    let bbox = format!("{lon0},{lat0},{lon1},{lat1}");
    let boxed = get(&format!(
        "/api/hotspots?method=gistar&bins=grid:200&bbox={bbox}"
    ));
    assert_eq!(
        boxed.status,
        200,
        "{}",
        String::from_utf8_lossy(&boxed.body)
    );
    let n_box = boxed.json()["features"].as_array().unwrap().len();
    // The corners converted to RD span a box a little wider than 2 km (RD is turned against WGS84): the cells of
    // the incidents within 2 km +- 50 m bound the answer.
    let cells_within = |d: f64| {
        expected_cells(&|i| {
            i.x_m.is_some_and(|ix| (ix - x).abs() <= d)
                && i.y_m.is_some_and(|iy| (iy - y).abs() <= d)
        })
    };
    assert!(
        (cells_within(950.0)..=cells_within(1050.0)).contains(&n_box),
        "{n_box}"
    );
    // Refusals name the parameter.
    for (q, parameter) in [
        ("area=BU00000000", "area"),
        ("area=WK999999&bbox=5,52,5.1,52.1", "bbox"),
        ("bbox=5,52,5.1", "bbox"),
        ("bbox=5.1,52,5,52.1", "bbox"),
        ("bbox=-40,0,-39,1", "bbox"),
    ] {
        let r = get(&format!("/api/hotspots?method=gistar&{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["parameter"], parameter, "{q}");
    }
}

#[test]
fn buurten_and_hotspots_png_colour_the_right_places() {
    let s = SqliteStore::open(&server().db).unwrap();
    let counts = s
        .count_by_area(
            AreaLevel::Buurt,
            &IncidentFilter {
                tenant: "default".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let mut per: HashMap<String, i64> = HashMap::new();
    for c in counts {
        *per.entry(c.area_code).or_insert(0) += c.count;
    }
    let (top, _) = per.iter().max_by_key(|(_, &c)| c).unwrap();
    let area = s
        .areas(AreaLevel::Buurt, None)
        .unwrap()
        .into_iter()
        .find(|a| &a.code == top)
        .unwrap();
    let p = area.geometry.interior_point().unwrap();
    let (tile, px, py) = tile_and_pixel(16, p.x(), p.y());
    let img = decode_png(&get(&tile_path("buurten", tile, "png")));
    // The busiest buurt gets the top of the ramp.
    assert_eq!(img.pixel(px, py), [189, 0, 38, 180]);
    let bad = get(&format!("{}?metric=x", tile_path("buurten", tile, "png")));
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["parameter"], "metric");

    // Gi*: the cell with the largest z is a 99 % hot spot, drawn in the hottest colour.
    let g = library_gistar_grid(100);
    let k = (0..g.z.len())
        .max_by(|&a, &b| g.z[a].total_cmp(&g.z[b]))
        .unwrap();
    assert_eq!(g.bin[k], 3);
    let (col, row) = g.cells[k];
    // z16: the deepest surface zoom anonymous callers (viewers) get (tests/api/access.rs).
    let (tile, px, py) = tile_and_pixel(16, (col as f64 + 0.5) * 100.0, (row as f64 + 0.5) * 100.0);
    let img = decode_png(&get(&tile_path("hotspots", tile, "png")));
    assert_eq!(img.pixel(px, py), [215, 48, 39, 220]);
    let bad = get(&format!(
        "{}?bins=grid:0",
        tile_path("hotspots", tile, "png")
    ));
    assert_eq!(bad.json()["parameter"], "bins");
}

struct GiGrid {
    cells: Vec<(i64, i64)>,
    counts: Vec<f64>,
    z: Vec<f64>,
    p: Vec<f64>,
    bin: Vec<i8>,
}

/// Gi* as `brandpunt analyse gistar` defines it for a grid: every cell of the bounding box, queen weights.
fn library_gistar_grid(cell: i64) -> GiGrid {
    let (events, _) = store_events();
    let c = cell as f64;
    let occ: Vec<(i64, i64)> = events
        .iter()
        .map(|e| ((e.x_m / c).floor() as i64, (e.y_m / c).floor() as i64))
        .collect();
    let c0 = occ.iter().map(|k| k.0).min().unwrap();
    let c1 = occ.iter().map(|k| k.0).max().unwrap();
    let r0 = occ.iter().map(|k| k.1).min().unwrap();
    let r1 = occ.iter().map(|k| k.1).max().unwrap();
    let mut cells = Vec::new();
    for r in r0..=r1 {
        for col in c0..=c1 {
            cells.push((col, r));
        }
    }
    let mut counts = vec![0.0; cells.len()];
    for &(col, r) in &occ {
        counts[((r - r0) * (c1 - c0 + 1) + (col - c0)) as usize] += 1.0;
    }
    let w = regular_grid(&cells, c, GridNeighbourhood::Queen).unwrap();
    let res = gi_star(&counts, &w, &GiStarOptions::default()).unwrap();
    GiGrid {
        cells,
        counts,
        z: res.z,
        p: res.p,
        bin: res.bin,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

#[test]
fn hotspots_vector_layer_and_geojson_equal_the_gistar_library() {
    let g = library_gistar_grid(100);
    let by_id: HashMap<String, usize> = g
        .cells
        .iter()
        .enumerate()
        .map(|(k, &(col, row))| (format!("c100_{col}_{row}"), k))
        .collect();
    // GeoJSON: every cell, same z, p, bin, count.
    let fc = get("/api/hotspots?method=gistar&bins=grid:100").json();
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), g.cells.len());
    for f in features {
        let pr = &f["properties"];
        let k = by_id[pr["id"].as_str().unwrap()];
        assert!(close(pr["z"].as_f64().unwrap(), g.z[k]));
        assert!(close(pr["p"].as_f64().unwrap(), g.p[k]));
        assert_eq!(pr["bin"].as_i64().unwrap(), i64::from(g.bin[k]));
        // The anonymous caller sees protected counts: 1..4 withheld as "< 5" (default k).
        match pr["count"].as_f64() {
            Some(c) => assert_eq!(c, g.counts[k]),
            None => {
                assert!((1.0..5.0).contains(&g.counts[k]));
                assert_eq!(pr["count_label"], "< 5");
            }
        }
    }
    // Vector tile around the hottest cell.
    let k = (0..g.z.len())
        .max_by(|&a, &b| g.z[a].total_cmp(&g.z[b]))
        .unwrap();
    let (col, row) = g.cells[k];
    let (tile, _, _) = tile_and_pixel(14, (col as f64 + 0.5) * 100.0, (row as f64 + 0.5) * 100.0);
    let r = get(&tile_path("hotspots", tile, "mvt"));
    assert_eq!(r.status, 200);
    let t = mvt::decode(&r.body);
    let layer = t.layers.iter().find(|l| l.name == "hotspots").unwrap();
    assert!(!layer.features.is_empty());
    let mut seen_hottest = false;
    for f in &layer.features {
        let pr = mvt::properties(layer, f);
        let id = pr["id"].as_str();
        let k2 = by_id[&id];
        seen_hottest |= k2 == k;
        assert!(close(pr["z"].as_f64(), g.z[k2]), "{id}");
        assert_eq!(pr["bin"].as_f64() as i8, g.bin[k2]);
    }
    assert!(seen_hottest);
    // Buurten: counts by buurtcode from the store, queen contiguity of the store's polygons.
    let s = SqliteStore::open(&server().db).unwrap();
    let areas = s.areas(AreaLevel::Buurt, None).unwrap();
    let mut per: HashMap<String, f64> = HashMap::new();
    for c in s
        .count_by_area(
            AreaLevel::Buurt,
            &IncidentFilter {
                tenant: "default".into(),
                ..Default::default()
            },
        )
        .unwrap()
    {
        *per.entry(c.area_code).or_insert(0.0) += c.count as f64;
    }
    let values: Vec<f64> = areas
        .iter()
        .map(|a| per.get(&a.code).copied().unwrap_or(0.0))
        .collect();
    let polys: Vec<MultiPolygon<f64>> = areas.iter().map(|a| a.geometry.clone()).collect();
    let w = contiguity(&polys, Contiguity::Queen, 1e-6).unwrap();
    let res = gi_star(&values, &w, &GiStarOptions::default()).unwrap();
    let fc = get("/api/hotspots?bins=buurt").json();
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), areas.len());
    for f in features {
        let pr = &f["properties"];
        let k = areas
            .iter()
            .position(|a| a.code == pr["id"].as_str().unwrap())
            .unwrap();
        assert!(close(pr["z"].as_f64().unwrap(), res.z[k]));
        assert_eq!(pr["bin"].as_i64().unwrap(), i64::from(res.bin[k]));
    }
    // Errors.
    for (q, p) in [
        ("method=moran", "method"),
        ("bins=grid:0", "bins"),
        ("bins=h3:3", "bins"),
        ("category=nope", "category"),
    ] {
        let r = get(&format!("/api/hotspots?{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["parameter"], p, "{q}");
    }
}

#[test]
fn emerging_geojson_and_vector_layer_equal_the_library() {
    let (events, days) = store_events();
    let first = *days.iter().min().unwrap();
    let last = *days.iter().max().unwrap();
    let steps = TimeSteps::new(brandpunt::calendar::Step::Week, first, last).unwrap();
    let cube = grid_cube_from_events(&events, 100.0, &steps).unwrap();
    let w = cube
        .weights(GridNeighbourhood::DistanceBand { threshold_m: 150.0 })
        .unwrap();
    let res = emerging_hot_spots(
        &cube.cube,
        &w,
        &EmergingOptions::default(),
        &brandpunt::cancel::Cancel::never(),
    )
    .unwrap();
    let expected: HashMap<String, (&str, f64)> = res
        .locations
        .iter()
        .map(|l| {
            let (col, row) = cube.cells[l.location];
            (
                format!("c100_{col}_{row}"),
                (l.category.as_str(), l.trend_z),
            )
        })
        .collect();
    let fc = get("/api/hotspots?method=emerging&bins=grid:100&step=week").json();
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), expected.len());
    for f in features {
        let pr = &f["properties"];
        let (cat, tz) = expected[pr["id"].as_str().unwrap()];
        assert_eq!(pr["category"], cat);
        match pr["trend_z"].as_f64() {
            Some(z) => assert!(close(z, tz)),
            None => assert!(!tz.is_finite()),
        }
    }
    // The vector layer at zoom 12 over the first location carries the same categories.
    let (col, row) = cube.cells[res.locations[0].location];
    let (tile, _, _) = tile_and_pixel(12, (col as f64 + 0.5) * 100.0, (row as f64 + 0.5) * 100.0);
    let r = get(&tile_path("emerging", tile, "mvt"));
    assert_eq!(r.status, 200);
    let t = mvt::decode(&r.body);
    let layer = t.layers.iter().find(|l| l.name == "emerging").unwrap();
    for f in &layer.features {
        let pr = mvt::properties(layer, f);
        assert_eq!(pr["category"].as_str(), expected[&pr["id"].as_str()].0);
    }
    // At zoom 8 a 100 m cell is smaller than a pixel: the layer is the overview, runs of pixels with the most
    // prominent category of the cells under them. The most prominent category present wins every pixel it is
    // in, so its runs count all its cells in the tile.
    let (tile8, _, _) = tile_and_pixel(8, (col as f64 + 0.5) * 100.0, (row as f64 + 0.5) * 100.0);
    // The documented order: hot spot patterns, cold spot patterns (each from new to historical), no pattern.
    let patterns = [
        "new",
        "consecutive",
        "intensifying",
        "persistent",
        "diminishing",
        "sporadic",
        "oscillating",
        "historical",
    ];
    let prominence: Vec<String> = ["hot_spot", "cold_spot"]
        .iter()
        .flat_map(|kind| patterns.iter().map(move |p| format!("{p}_{kind}")))
        .chain(["no_pattern".to_string()])
        .collect();
    let rank = |c: &str| prominence.iter().position(|p| p == c).unwrap();
    let mut in_tile: HashMap<&str, i64> = HashMap::new();
    for l in &res.locations {
        let (c, r) = cube.cells[l.location];
        if tile_and_pixel(8, (c as f64 + 0.5) * 100.0, (r as f64 + 0.5) * 100.0).0 == tile8 {
            *in_tile.entry(l.category.as_str()).or_default() += 1;
        }
    }
    let r = get(&tile_path("emerging", tile8, "mvt"));
    assert_eq!(r.status, 200);
    let t = mvt::decode(&r.body);
    let layer = t.layers.iter().find(|l| l.name == "emerging").unwrap();
    let mut drawn: HashMap<String, i64> = HashMap::new();
    for f in &layer.features {
        let pr = mvt::properties(layer, f);
        assert!(
            !pr.contains_key("id") && !pr.contains_key("trend_z"),
            "{pr:?}"
        );
        let cells = pr["cells"].as_f64() as i64;
        assert!(cells >= 1);
        *drawn.entry(pr["category"].as_str()).or_default() += cells;
    }
    assert!(
        layer.features.len() < in_tile.values().sum::<i64>() as usize,
        "{} runs for {:?}",
        layer.features.len(),
        in_tile
    );
    let top = in_tile.keys().min_by_key(|c| rank(c)).unwrap();
    assert_eq!(drawn[*top], in_tile[top], "{top}: {drawn:?} of {in_tile:?}");
    assert!(drawn.values().sum::<i64>() <= in_tile.values().sum::<i64>());
    for (q, p) in [
        ("step=day", "step"),
        ("bins=buurt", "bins"),
        ("time_window=999", "time_window"),
    ] {
        let r = get(&format!("/api/hotspots?method=emerging&{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["parameter"], p, "{q}");
    }
}

fn geojson_multipolygon(g: &serde_json::Value) -> MultiPolygon<f64> {
    let ring = |r: &serde_json::Value| -> LineString<f64> {
        LineString::from(
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| Coord {
                    x: c[0].as_f64().unwrap(),
                    y: c[1].as_f64().unwrap(),
                })
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(g["type"], "MultiPolygon");
    MultiPolygon(
        g["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let rings = p.as_array().unwrap();
                Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
            })
            .collect(),
    )
}

#[test]
fn kde_contours_enclose_exactly_the_cells_above_their_level() {
    let kde = library_kde();
    let (max, _, _) = kde.raster.max().unwrap();
    let fc = get("/api/hotspots?method=kde").json();
    assert!((fc["max_density_per_km2"].as_f64().unwrap() - max).abs() <= 1e-4 * max);
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), 5);
    let t = Transformer::new().unwrap();
    let r = &kde.raster;
    for f in features {
        let level = f["properties"]["level"].as_u64().unwrap() as f64;
        let thr = f["properties"]["density_per_km2"].as_f64().unwrap();
        assert!((thr - max * level / 6.0).abs() <= 1e-4 * max);
        let mp = geojson_multipolygon(&f["geometry"]);
        let mut checked = 0;
        for j in (0..r.height).step_by(3) {
            for i in (0..r.width).step_by(3) {
                let v = f64::from(r.get(i, j).unwrap());
                if (v - thr).abs() < 1e-3 * max {
                    continue;
                }
                let (x, y) = r.cell_centre_m(i, j);
                let (lon, lat) = t.rd_to_wgs84(x, y).unwrap();
                assert_eq!(
                    mp.contains(&Point::new(lon, lat)),
                    v >= thr,
                    "cell ({i}, {j}) level {level}"
                );
                checked += 1;
            }
        }
        assert!(checked > 100);
    }
    // The kde vector layer around the maximum has the top level.
    let (_, i, j) = r.max().unwrap();
    let (x, y) = r.cell_centre_m(i, j);
    let (tile, _, _) = tile_and_pixel(13, x, y);
    let resp = get(&tile_path("kde", tile, "mvt"));
    assert_eq!(resp.status, 200);
    let tl = mvt::decode(&resp.body);
    let layer = tl.layers.iter().find(|l| l.name == "kde").unwrap();
    let levels: Vec<f64> = layer
        .features
        .iter()
        .map(|f| mvt::properties(layer, f)["level"].as_f64())
        .collect();
    assert!(levels.contains(&5.0));
    for (q, p) in [
        ("levels=0", "levels"),
        ("bandwidth=-3", "bandwidth"),
        ("cell=abc", "cell"),
    ] {
        let r = get(&format!("/api/hotspots?method=kde&{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["parameter"], p, "{q}");
    }
}

#[test]
fn kde_cell_follows_a_wide_bandwidth_unless_given() {
    // Without `cell` a 3 km bandwidth gets a lattice of 175 m (3000 / 16 = 187.5, down to a multiple of 25 m); a
    // given cell is kept.
    let auto = get("/api/hotspots?method=kde&bandwidth=3000&levels=1").json();
    assert_eq!(auto["cell_m"].as_f64(), Some(175.0));
    assert_eq!(auto["bandwidth_m"].as_f64(), Some(3000.0));
    let given = get("/api/hotspots?method=kde&bandwidth=3000&cell=50&levels=1").json();
    assert_eq!(given["cell_m"].as_f64(), Some(50.0));
    // The reported maximum is the library's on the 175 m lattice over the whole extent.
    let (events, _) = store_events();
    let kde = kde_raster::<f64>(
        &events,
        &KdeParams {
            bandwidth_m: Some(3000.0),
            ..KdeParams::new(175.0)
        },
    )
    .unwrap();
    let (max, i, j) = kde.raster.max().unwrap();
    let reported = auto["max_density_per_km2"].as_f64().unwrap();
    assert!((reported - max).abs() <= 1e-4 * max, "{reported} vs {max}");
    // The map's tiles use the same lattice: the PNG tile without `cell` is the one with `cell=175`, not `cell=50`.
    let (x, y) = kde.raster.cell_centre_m(i, j);
    let (tile, _, _) = tile_and_pixel(13, x, y);
    let png = |q: &str| {
        let r = get(&format!(
            "{}?bandwidth=3000{q}",
            tile_path("kde", tile, "png")
        ));
        assert_eq!(r.status, 200, "{q}");
        r.body
    };
    let auto_png = png("");
    assert_eq!(auto_png, png("&cell=175"));
    assert_ne!(auto_png, png("&cell=50"));
}

/// Well-formedness: every start tag is closed in order (comments, declarations and self-closing tags skipped).
fn assert_well_formed(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        if tag.starts_with('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.as_str()),
                "closing {name}"
            );
        } else {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let a = s.find(open).unwrap_or_else(|| panic!("{open} missing")) + open.len();
    let b = s[a..].find(close).unwrap() + a;
    &s[a..b]
}

#[test]
fn wms_capabilities_list_the_layers_and_the_city() {
    let meta = get("/api/meta").json();
    let bbox: Vec<f64> = meta["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for v in ["1.3.0", "1.1.1"] {
        let r = get(&format!(
            "/wms?SERVICE=WMS&VERSION={v}&REQUEST=GetCapabilities&category=inbraak"
        ));
        assert_eq!(r.status, 200);
        let xml = r.text();
        assert_well_formed(&xml);
        for l in ["kde", "hotspots", "buurten"] {
            assert!(xml.contains(&format!("<Name>{l}</Name>")), "{v} {l}");
        }
        assert!(xml.contains("EPSG:4326") && xml.contains("EPSG:3857"));
        assert!(
            xml.contains("category="),
            "the filter is kept in the OnlineResource"
        );
        if v == "1.3.0" {
            assert!(xml.contains("<WMS_Capabilities version=\"1.3.0\""));
            let west: f64 = between(&xml, "<westBoundLongitude>", "<").parse().unwrap();
            let north: f64 = between(&xml, "<northBoundLatitude>", "<").parse().unwrap();
            assert_eq!(west, bbox[0]);
            assert_eq!(north, bbox[3]);
        } else {
            assert!(xml.contains("<WMT_MS_Capabilities version=\"1.1.1\""));
            let ll = between(&xml, "<LatLonBoundingBox", "/>");
            let minx: f64 = between(ll, "minx=\"", "\"").parse().unwrap();
            assert_eq!(minx, bbox[0]);
        }
    }
    let r = get("/wms?SERVICE=WMS&REQUEST=DescribeLayer");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("OperationNotSupported"));
    assert_well_formed(&r.text());
}

#[test]
fn wms_getmap_equals_the_xyz_tile_and_reports_exceptions() {
    let kde = library_kde();
    let (_, i, j) = kde.raster.max().unwrap();
    let (x, y) = kde.raster.cell_centre_m(i, j);
    let (tile, px, py) = tile_and_pixel(14, x, y);
    let xyz = decode_png(&get(&tile_path("kde", tile, "png")));
    let (minx, miny, maxx, maxy) = tile.bounds_m();
    let wms = decode_png(&get(&format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=kde&STYLES=&CRS=EPSG:3857&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"
    )));
    assert_eq!(wms.rgba, xyz.rgba);
    // EPSG:4326: 1.1.1 lon/lat and 1.3.0 lat/lon give the same image; the hot spot is where it should be.
    let (lon0, lat0) = brandpunt::coords::web_mercator_to_wgs84(minx, miny);
    let (lon1, lat1) = brandpunt::coords::web_mercator_to_wgs84(maxx, maxy);
    let a = decode_png(&get(&format!(
        "/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=kde&SRS=EPSG:4326&BBOX={lon0},{lat0},{lon1},{lat1}&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"
    )));
    let b = decode_png(&get(&format!(
        "/wms?service=wms&version=1.3.0&request=GetMap&layers=kde&crs=EPSG:4326&bbox={lat0},{lon0},{lat1},{lon1}&width=256&height=256&format=image/png&transparent=true"
    )));
    assert_eq!(a.rgba, b.rgba);
    // Latitude is not linear in Mercator y, but within a zoom-14 tile the shift is below a few pixels.
    let near = (py.saturating_sub(4)..(py + 5).min(256))
        .flat_map(|r| (px.saturating_sub(4)..(px + 5).min(256)).map(move |c| (c, r)))
        .map(|(c, r)| a.pixel(c, r)[3])
        .max()
        .unwrap();
    assert!(near >= 225, "alpha {near}");
    // Opaque white background without TRANSPARENT, far away from everything.
    let far = decode_png(&get(
        "/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=kde,hotspots,buurten&SRS=EPSG:4326&BBOX=-40,-10,-39,-9&WIDTH=64&HEIGHT=32&FORMAT=image/png",
    ));
    assert_eq!((far.width, far.height), (64, 32));
    assert!(far.rgba.chunks(4).all(|p| p == [255, 255, 255, 255]));
    // Exceptions.
    let base = format!(
        "/wms?SERVICE=WMS&REQUEST=GetMap&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=256&HEIGHT=256"
    );
    for (extra, code) in [
        (
            "&VERSION=1.3.0&CRS=EPSG:3857&FORMAT=image/png",
            "MissingParameterValue",
        ),
        (
            "&VERSION=1.3.0&CRS=EPSG:3857&FORMAT=image/png&LAYERS=nope",
            "LayerNotDefined",
        ),
        (
            "&VERSION=1.3.0&CRS=EPSG:28992&FORMAT=image/png&LAYERS=kde",
            "InvalidCRS",
        ),
        (
            "&VERSION=1.1.1&SRS=EPSG:28992&FORMAT=image/png&LAYERS=kde",
            "InvalidSRS",
        ),
        (
            "&VERSION=1.3.0&CRS=EPSG:3857&FORMAT=image/jpeg&LAYERS=kde",
            "InvalidFormat",
        ),
        (
            "&VERSION=1.3.0&CRS=EPSG:3857&FORMAT=image/png&LAYERS=kde&category=nope",
            "InvalidParameterValue",
        ),
    ] {
        let r = get(&format!("{base}{extra}"));
        assert_eq!(r.status, 400, "{extra}");
        let xml = r.text();
        assert_well_formed(&xml);
        assert!(xml.contains("<ServiceExceptionReport"), "{xml}");
        assert!(xml.contains(&format!("code=\"{code}\"")), "{extra}: {xml}");
    }
    let r = get("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=kde&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=5000&HEIGHT=10&FORMAT=image/png");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("InvalidParameterValue"));
}

#[test]
fn tableau_tms_points_at_the_png_tiles() {
    let r = get("/bi/tableau.tms?layer=hotspots&category=inbraak&bins=grid:200");
    assert_eq!(r.status, 200);
    let xml = r.text();
    assert_well_formed(&xml);
    assert!(xml.contains("<mapsource"));
    let url = between(&xml, "url-format='", "'").replace("&amp;", "&");
    let codes = brandpunt::category::expand_filter("inbraak").join(",");
    assert_eq!(
        url,
        format!(
            "{}/tiles/hotspots/{{Z}}/{{X}}/{{Y}}.png?category={codes}&bins=grid:200",
            server().base
        )
    );
    let port = server().base.rsplit(':').next().unwrap().to_string();
    assert_eq!(between(&xml, "port='", "'"), port);
    // The template works.
    let kde = library_kde();
    let (_, i, j) = kde.raster.max().unwrap();
    let (x, y) = kde.raster.cell_centre_m(i, j);
    let (tile, _, _) = tile_and_pixel(13, x, y);
    let tile_url = url
        .replace("{Z}", &tile.z.to_string())
        .replace("{X}", &tile.x.to_string())
        .replace("{Y}", &tile.y.to_string());
    let img = decode_png(&get_url(&tile_url));
    assert_eq!((img.width, img.height), (256, 256));
    for (q, p) in [
        ("layer=incidents", "layer"),
        ("category=nope", "category"),
        ("metric=x&layer=buurten", "metric"),
    ] {
        let r = get(&format!("/bi/tableau.tms?{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["parameter"], p, "{q}");
    }
}
