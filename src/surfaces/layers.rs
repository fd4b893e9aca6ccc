//! The area and incident layers of a dataset as Mapbox Vector Tiles: which features and properties each layer
//! carries and their clipping to the tile. The area layers (`gemeenten`, `wijken`, `buurten`, `areas`) show the
//! published counts of a protected count table ([`crate::suppression::Protected`]: a withheld count is left out
//! with its label, [`crate::publish::mvt_count`]); the `incidents` layer shows points or cell counts.
//!
//! Plain inputs (a [`Snapshot`], a [`Filter`], a [`TileId`], count tables), bytes out; the server caches the
//! clipped geometry and the tiles and chooses the tables per caller.
//!
//! ```
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
//! use brandpunt::surfaces::layers::incident_tile;
//! use brandpunt::tiles::TileId;
//!
//! let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! let incidents = (0..3).map(|k| IncidentRecord {
//!     id: k, source: "politie".into(), begin: at, end: at, category_code: None,
//!     x_m: Some(155_000.0), y_m: Some(463_000.0), buurtcode: None,
//! }).collect();
//! let data = TenantData { code: "d".into(), name: "D".into(), areas: vec![], incidents };
//! let s = Snapshot::build(1, data).unwrap();
//! let i = &s.incidents[0];
//! let tile = TileId::containing(12, i.merc_x, i.merc_y);
//! let (bytes, shown) = incident_tile(&s, tile, &Filter::all(&s)).unwrap();
//! assert!(bytes.is_some());
//! assert_eq!(shown, 3);
//! ```

use crate::area_level::AreaLevel;
use crate::dataset::{Filter, Snapshot};
use crate::publish::rate_per_1000;
use crate::suppression::Protected;
use crate::tiles::{encode_tile, LayerData, TileError, TileFeature, TileGeometry, TileId, Value};
use geo_types::{MultiPolygon, Rect};

/// Below this zoom the `incidents` layer shows counts per cell instead of points.
pub const INCIDENT_POINTS_MIN_ZOOM: u8 = 15;
/// Cells per tile side for the aggregated `incidents` layer.
pub const INCIDENT_CELLS_PER_SIDE: u32 = 16;

/// The areas of one level in one tile, clipped and snapped (independent of the filter).
pub type TileAreas = Vec<(u32, Vec<Vec<crate::tiles::TileRing>>)>;

/// The clipped and snapped geometry of the areas of `level` in `tile` (independent of any filter).
pub fn tile_areas(snapshot: &Snapshot, level: AreaLevel, tile: TileId) -> TileAreas {
    let bbox = tile.buffered_bounds_m(crate::tiles::BUFFER);
    let areas: TileAreas = snapshot
        .areas_in(level, bbox)
        .into_iter()
        .map(|idx| {
            let polygons =
                crate::tiles::tile_polygons(tile, snapshot.area(idx).geometry_for_zoom(tile.z));
            (idx, polygons)
        })
        .filter(|(_, p)| !p.is_empty())
        .collect();
    areas
}

/// One area layer tile `name` of the clipped areas `geometry` ([`tile_areas`]) with the published counts of
/// `table` and of the previous period's `prev` (both indexed like [`Snapshot::areas`]). Properties: `code`, `name`, `count`, `inhabitants`, `rate`, `prev_count`, `change`;
/// with `protect`, counts come from the protected table: a withheld count is left out (MVT has no null) with
/// `count_label` ("< k" / ">= k") and `suppressed` = 1 instead, and its rate and change are left out too.
pub fn area_tile(
    snapshot: &Snapshot,
    name: &str,
    tile: TileId,
    geometry: &TileAreas,
    table: &Protected,
    prev: Option<&Protected>,
) -> Result<Option<Vec<u8>>, TileError> {
    if geometry.is_empty() {
        return Ok(None);
    }
    let features = geometry
        .iter()
        .map(|(idx, polygons)| {
            let i = *idx as usize;
            let a = snapshot.area(*idx);
            let count = table
                .published(i)
                .map(|c| c.min(u64::from(u32::MAX)) as u32);
            let mut properties = vec![
                ("code", Value::from(a.code.as_str())),
                ("name", Value::from(a.name.as_str())),
            ];
            properties.extend(crate::publish::mvt_count(
                count.map(|c| Value::Int(i64::from(c))),
                table.label(i),
            ));
            if let Some(inh) = a.inhabitants.filter(|&i| i > 0) {
                properties.push(("inhabitants", Value::Int(inh)));
                if let Some(c) = count {
                    properties.push(("rate", Value::Double(rate_per_1000(c, inh))));
                }
            }
            if let Some(prev) = prev {
                let p = prev.published(i).map(|c| c.min(u64::from(u32::MAX)) as u32);
                match p {
                    Some(p) => properties.push(("prev_count", Value::Int(i64::from(p)))),
                    None => properties.push((
                        "prev_count_label",
                        Value::from(prev.label(i).unwrap_or_default()),
                    )),
                }
                if let (Some(c), Some(p)) = (count, p) {
                    if p > 0 {
                        properties
                            .push(("change", Value::Double(f64::from(c) / f64::from(p) - 1.0)));
                    }
                }
            }
            TileFeature {
                id: a.feature_id,
                geometry: TileGeometry::Prepared(polygons),
                properties,
            }
        })
        .collect();
    let layer = LayerData {
        name: name.to_string(),
        features,
    };
    encode_tile(tile, &[layer])
}

/// The `incidents` tile of the filter and the number of incidents it shows: from [`INCIDENT_POINTS_MIN_ZOOM`]
/// points (`category`, `begin`), below it the counts of [`INCIDENT_CELLS_PER_SIDE`]^2 cells per tile (`count`).
pub fn incident_tile(
    snapshot: &Snapshot,
    tile: TileId,
    filter: &Filter,
) -> Result<(Option<Vec<u8>>, i64), TileError> {
    let (minx, miny, maxx, maxy) = tile.bounds_m();
    let inside = |x: f64, y: f64| x >= minx && x < maxx && y > miny && y <= maxy;
    // The incidents near the tile (its RD window) that begin in the filter's period, in snapshot order.
    let Ok(window) = super::tile_window_rd(tile) else {
        return Ok((None, 0));
    };
    let near = snapshot.incidents_within_range(window, snapshot.period_range(filter));
    let candidates = snapshot.incidents.at_ascending(&near).map(|(_, i)| i);
    if tile.z >= INCIDENT_POINTS_MIN_ZOOM {
        let features = candidates
            .filter(|i| i.merc_x.is_finite() && inside(i.merc_x, i.merc_y) && filter.matches(i))
            .map(|i| TileFeature {
                id: i.id as u64,
                geometry: TileGeometry::Point(i.merc_x, i.merc_y),
                properties: vec![
                    (
                        "category",
                        Value::from(
                            snapshot
                                .categories
                                .get(usize::from(i.category))
                                .map(String::as_str)
                                .unwrap_or(""),
                        ),
                    ),
                    (
                        "begin",
                        Value::from(i.begin().format("%Y-%m-%dT%H:%M").to_string()),
                    ),
                ],
            })
            .collect::<Vec<_>>();
        let shown = features.len() as i64;
        let layer = LayerData {
            name: "incidents".into(),
            features,
        };
        return encode_tile(tile, &[layer]).map(|raw| (raw, shown));
    }
    let n = INCIDENT_CELLS_PER_SIDE;
    let cell = tile.size_m() / f64::from(n);
    let mut counts = vec![0i64; (n * n) as usize];
    for i in candidates {
        if i.merc_x.is_finite() && inside(i.merc_x, i.merc_y) && filter.matches(i) {
            let cx = (((i.merc_x - minx) / cell) as u32).min(n - 1);
            let cy = (((maxy - i.merc_y) / cell) as u32).min(n - 1);
            counts[(cy * n + cx) as usize] += 1;
        }
    }
    let cells: Vec<(u64, i64, MultiPolygon<f64>)> = counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(k, &c)| {
            let (cx, cy) = (k as u32 % n, k as u32 / n);
            let x0 = minx + f64::from(cx) * cell;
            let y1 = maxy - f64::from(cy) * cell;
            let poly = Rect::new((x0, y1 - cell), (x0 + cell, y1)).to_polygon();
            // Stable id: the cell's global position at this zoom.
            let gx = u64::from(tile.x) * u64::from(n) + u64::from(cx);
            let gy = u64::from(tile.y) * u64::from(n) + u64::from(cy);
            let id = (u64::from(tile.z) << 56) ^ (gy << 28) ^ gx;
            (id, c, MultiPolygon(vec![poly]))
        })
        .collect();
    let features = cells
        .iter()
        .map(|(id, c, mp)| TileFeature {
            id: *id,
            geometry: TileGeometry::Polygons(mp),
            properties: vec![("count", Value::Int(*c))],
        })
        .collect();
    let shown: i64 = counts.iter().sum();
    let layer = LayerData {
        name: "incidents".into(),
        features,
    };
    encode_tile(tile, &[layer]).map(|raw| (raw, shown))
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn area_tile_carries_the_areas_over_the_tile() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let tile = fixture::tile_over(725.0, 725.0, 14);
        let geometry = tile_areas(&s, AreaLevel::Buurt, tile);
        assert_eq!(geometry.len(), 9);
        let counts: Vec<u64> = s
            .counts(AreaLevel::Buurt, &all)
            .into_iter()
            .map(u64::from)
            .collect();
        let table = crate::suppression::Protected::exact(counts);
        assert!(area_tile(&s, "buurten", tile, &geometry, &table, None)
            .unwrap()
            .is_some());
        let far = TileId::new(14, 0, 0).unwrap();
        let none = tile_areas(&s, AreaLevel::Buurt, far);
        assert!(none.is_empty());
        assert!(area_tile(&s, "buurten", far, &none, &table, None)
            .unwrap()
            .is_none());
    }

    #[test]
    fn incident_tile_shows_points_from_zoom_15_and_cell_counts_below() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let (raw, shown) = incident_tile(&s, fixture::tile_over(725.0, 725.0, 10), &all).unwrap();
        assert!(raw.is_some());
        assert_eq!(shown, 60);
        let (raw, shown) = incident_tile(&s, fixture::tile_over(725.0, 725.0, 18), &all).unwrap();
        assert!(raw.is_some());
        assert!(shown > 0 && shown <= 40, "{shown}");
        let (raw, shown) = incident_tile(&s, TileId::new(15, 0, 0).unwrap(), &all).unwrap();
        assert!(raw.is_none());
        assert_eq!(shown, 0);
    }
}
