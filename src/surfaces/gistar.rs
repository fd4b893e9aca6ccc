//! Getis-Ord Gi* on the bins of a filter's incidents ([`gistar_cells`]): a grid covering the bounding box of the
//! incidents (empty cells count 0), the occupied H3 cells, or all areas of a level (counted by buurtcode);
//! weights: queen for grid cells and areas, the 1-ring for H3 ([`crate::analysis::places`], as
//! `brandpunt analyse gistar`); FDR on. The `hotspots` vector tile layer of the result ([`gistar_tile`]: `id`,
//! the published `count`, `z`, `p`, `bin`).
//!
//! ```
//! use brandpunt::analysis::grid::BinSpec;
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
//! use brandpunt::surfaces::gistar::gistar_cells;
//!
//! let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! let incident = |k: i64, x: f64, y: f64| IncidentRecord {
//!     id: k, source: "politie".into(), begin: at, end: at, category_code: None,
//!     x_m: Some(x), y_m: Some(y), buurtcode: None,
//! };
//! // All incidents at one point: too few places to compare.
//! let data = TenantData { code: "d".into(), name: "D".into(), areas: vec![],
//!     incidents: (0..5).map(|k| incident(k, 155_000.0, 463_000.0)).collect() };
//! let s = Snapshot::build(1, data).unwrap();
//! let grid = BinSpec::Grid { cell_m: 100 };
//! assert!(gistar_cells(&s, &Filter::all(&s), grid, |_| Default::default()).unwrap().is_none());
//! ```

use super::{encode_layer, located_events, reaches_tile, MappedPlaces, SurfaceError};
use crate::analysis::gistar::{gi_star, GiStarError, GiStarOptions, GiStarResult};
use crate::analysis::grid::BinSpec;
use crate::analysis::places::{grid_places, h3_places, Coverage, Places, PlacesError};
use crate::analysis::weights::SpatialWeights;
use crate::area_level::AreaLevel;
use crate::dataset::{feature_id, Filter, Snapshot};
use crate::heap_size::HeapSize;
use crate::tiles::{TileFeature, TileGeometry, TileId, Value};
use std::sync::Arc;

/// Gi* on bins.
pub struct GiStarCells {
    pub bins: BinSpec,
    pub places: MappedPlaces,
    /// Incidents per place (unpublished: the caller applies the publishing policy).
    pub counts: Vec<f64>,
    pub result: GiStarResult,
}

impl HeapSize for GiStarCells {
    fn heap_bytes(&self) -> usize {
        self.places.heap_bytes() + self.counts.heap_bytes() + self.result.heap_bytes()
    }
}

/// Gi* on `bins` for the filter; `None` when there is nothing to analyse (no located incidents, fewer than three
/// places, all counts equal). Area bins read the counts of their level from `area_counts` (indexed like
/// [`Snapshot::areas`], as [`Snapshot::counts`] gives them; the server passes its cached table). A grid with too
/// many cells is [`SurfaceError::TooManyGridCells`].
pub fn gistar_cells(
    snapshot: &Snapshot,
    filter: &Filter,
    bins: BinSpec,
    area_counts: impl FnOnce(AreaLevel) -> Arc<Vec<u32>>,
) -> Result<Option<GiStarCells>, SurfaceError> {
    let (places, counts, weights) = match bins {
        BinSpec::Grid { cell_m } => {
            let events = located_events(snapshot, filter);
            let binned = match grid_places(&events, cell_m, Coverage::BoundingBox) {
                Ok(b) => b,
                Err(PlacesError::NoLocatedIncidents) => return Ok(None),
                Err(PlacesError::TooManyGridCells { cells }) => {
                    return Err(SurfaceError::TooManyGridCells { cells })
                }
                Err(e) => return Err(e.into()),
            };
            let weights = binned.places.default_weights()?;
            let counts = binned.counts();
            (
                MappedPlaces::new(binned.places, |_, _| None)?,
                counts,
                weights,
            )
        }
        BinSpec::H3 { resolution } => {
            let events = located_events(snapshot, filter);
            let t = crate::coords::Transformer::new()?;
            let to_rd = |lon, lat| t.wgs84_to_rd(lon, lat).ok();
            let binned = h3_places(
                &events,
                resolution,
                Coverage::Occupied,
                |x, y| t.rd_to_wgs84(x, y).ok(),
                to_rd,
            )?;
            if binned.places.len() < 3 {
                return Ok(None);
            }
            let weights = binned.places.default_weights()?;
            let counts = binned.counts();
            (MappedPlaces::new(binned.places, to_rd)?, counts, weights)
        }
        BinSpec::Area(level) => {
            let idx = snapshot.level_areas(level);
            if idx.len() < 3 {
                return Ok(None);
            }
            let all = area_counts(level);
            let counts: Vec<f64> = idx.iter().map(|&i| f64::from(all[i as usize])).collect();
            let places = Places::areas(
                idx.iter().map(|&i| snapshot.area(i).code.clone()).collect(),
                idx.iter()
                    .map(|&i| snapshot.area(i).geometry_rd.clone())
                    .collect(),
            );
            let weights = places.default_weights()?;
            (MappedPlaces::new(places, |_, _| None)?, counts, weights)
        }
    };
    let Some(result) = gi_or_none(&counts, &weights)? else {
        return Ok(None);
    };
    Ok(Some(GiStarCells {
        bins,
        places,
        counts,
        result,
    }))
}

fn gi_or_none(values: &[f64], w: &SpatialWeights) -> Result<Option<GiStarResult>, SurfaceError> {
    match gi_star(values, w, &GiStarOptions::default()) {
        Ok(r) => Ok(Some(r)),
        Err(GiStarError::TooFewLocations(_) | GiStarError::ConstantValues) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The `hotspots` layer of `tile`: the cells reaching into it (id = [`feature_id`] of the cell id; `id`, the
/// count as `published(id, count)` gives it (`(count, label)`, `None` = withheld, see
/// [`crate::publish::mvt_count`]), `z`, `p`, `bin`); `None` when empty.
pub fn gistar_tile(
    gi: &GiStarCells,
    tile: TileId,
    published: impl Fn(&str, f64) -> (Option<f64>, Option<String>),
) -> Result<Option<Vec<u8>>, SurfaceError> {
    let features = (0..gi.places.ids.len())
        .filter(|&k| reaches_tile(tile, &gi.places.bbox_m[k]))
        .map(|k| {
            let id = gi.places.ids[k].as_str();
            let mut properties = vec![("id", Value::from(id))];
            let (count, label) = published(id, gi.counts[k]);
            properties.extend(crate::publish::mvt_count(count.map(Value::Double), label));
            properties.extend([
                ("z", Value::Double(gi.result.z[k])),
                ("p", Value::Double(gi.result.p[k])),
                ("bin", Value::Int(i64::from(gi.result.bin[k]))),
            ]);
            TileFeature {
                id: feature_id(id),
                geometry: TileGeometry::Polygons(&gi.places.polygons_m[k]),
                properties,
            }
        })
        .collect();
    encode_layer(tile, "hotspots", features)
}

/// The GeoJSON features (WGS84) of the Gi* cells: `id`, the published `count` of each cell as `published`
/// gives it (`None` = withheld, with its label), `z`, `p` and the confidence `bin`.
pub fn gistar_features(
    gi: &GiStarCells,
    published: impl Fn(&str, f64) -> (Option<f64>, Option<String>),
) -> Result<Vec<serde_json::Value>, SurfaceError> {
    (0..gi.places.ids.len())
        .map(|k| {
            let id = &gi.places.ids[k];
            let (count, label) = published(id, gi.counts[k]);
            super::geojson_feature(
                serde_json::json!(id),
                &gi.places.polygons_rd[k],
                serde_json::json!({
                    "id": id,
                    "count": count,
                    "count_label": label,
                    "suppressed": count.is_none(),
                    "z": super::json_number(gi.result.z[k]),
                    "p": super::json_number(gi.result.p[k]),
                    "bin": gi.result.bin[k],
                }),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn counts_of<'a>(s: &'a Snapshot, f: &Filter) -> impl FnOnce(AreaLevel) -> Arc<Vec<u32>> + 'a {
        let f = f.clone();
        move |level| Arc::new(s.counts(level, &f))
    }

    #[test]
    fn features_carry_the_published_counts_and_wgs84_cells() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let gi = gistar_cells(&s, &all, BinSpec::Grid { cell_m: 100 }, counts_of(&s, &all))
            .unwrap()
            .unwrap();
        let withheld = |_: &str, c: f64| {
            if c < 5.0 {
                (None, Some("< 5".to_string()))
            } else {
                (Some(c), None)
            }
        };
        let features = gistar_features(&gi, withheld).unwrap();
        assert_eq!(features.len(), 64);
        for (k, f) in features.iter().enumerate() {
            let p = &f["properties"];
            assert_eq!(p["id"], gi.places.ids[k].as_str());
            assert_eq!(p["suppressed"], gi.counts[k] < 5.0);
            if gi.counts[k] < 5.0 {
                assert!(p["count"].is_null() && p["count_label"] == "< 5");
            } else {
                assert_eq!(p["count"], gi.counts[k]);
            }
            let lon = f["geometry"]["coordinates"][0][0][0][0].as_f64().unwrap();
            assert!((3.0..8.0).contains(&lon), "WGS84 longitude {lon}");
        }
    }

    #[test]
    fn grid_bins_find_the_cluster() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let gi = gistar_cells(&s, &all, BinSpec::Grid { cell_m: 100 }, counts_of(&s, &all))
            .unwrap()
            .unwrap();
        // The bounding box 0..800 m in both directions: 8 x 8 cells, every incident counted once.
        assert_eq!(gi.counts.len(), 64);
        assert_eq!(gi.counts.iter().sum::<f64>(), 60.0);
        assert!(gi.places.grid.is_some());
        let hottest = (0..64)
            .max_by(|&a, &b| gi.result.z[a].total_cmp(&gi.result.z[b]))
            .unwrap();
        assert_eq!(gi.counts[hottest], 40.0);
        // A hot spot (bin 1..=3: 90, 95, 99 % confidence after FDR).
        assert!(gi.result.bin[hottest] > 0);
        assert!(gi.heap_bytes() > 0);
    }

    #[test]
    fn area_bins_use_the_given_counts_and_h3_bins_the_occupied_cells() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let by_area = BinSpec::Area(AreaLevel::Buurt);
        let gi = gistar_cells(&s, &all, by_area, counts_of(&s, &all))
            .unwrap()
            .unwrap();
        assert_eq!(gi.places.ids.len(), 9);
        assert_eq!(gi.counts.iter().sum::<f64>(), 60.0);
        let centre = gi
            .places
            .ids
            .iter()
            .position(|c| c == "BU99990004")
            .unwrap();
        assert_eq!(gi.counts[centre], 40.0);
        // Fewer than three gemeenten: nothing to analyse (and the counts are not asked for).
        let by_gemeente = BinSpec::Area(AreaLevel::Gemeente);
        assert!(
            gistar_cells(&s, &all, by_gemeente, |_| unreachable!("no counts needed"))
                .unwrap()
                .is_none()
        );
        let h3 = gistar_cells(
            &s,
            &all,
            BinSpec::H3 { resolution: 10 },
            counts_of(&s, &all),
        )
        .unwrap()
        .unwrap();
        assert_eq!(h3.counts.iter().sum::<f64>(), 60.0);
        assert!(h3.counts.iter().all(|&c| c > 0.0));
    }

    #[test]
    fn too_many_grid_cells_is_a_parameter_error_and_no_incidents_is_none() {
        let s = fixture::town();
        let none = Filter::new(&s, vec!["9.9.9".into()], vec![], None, None);
        let grid = BinSpec::Grid { cell_m: 100 };
        assert!(gistar_cells(&s, &none, grid, counts_of(&s, &none))
            .unwrap()
            .is_none());
        // Two incidents 100 km apart at 10 m cells: 10,000 x 10,000 cells.
        let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap();
        let incident = |id, x, y| crate::dataset::IncidentRecord {
            id,
            source: "politie".into(),
            begin: at,
            end: at,
            category_code: None,
            x_m: Some(x),
            y_m: Some(y),
            buurtcode: None,
        };
        let wide = Snapshot::build(
            1,
            crate::dataset::TenantData {
                code: "d".into(),
                name: "D".into(),
                areas: vec![],
                incidents: vec![
                    incident(1, 100_000.0, 400_000.0),
                    incident(2, 200_000.0, 500_000.0),
                ],
            },
        )
        .unwrap();
        let wide_all = Filter::all(&wide);
        let e = gistar_cells(
            &wide,
            &wide_all,
            BinSpec::Grid { cell_m: 10 },
            |_| unreachable!(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, SurfaceError::TooManyGridCells { .. }), "{e}");
        assert_eq!(e.parameter(), Some("bins"));
        assert!(e
            .to_string()
            .ends_with("rastercellen in het gebied van de incidenten; kies een grotere cel"));
    }

    #[test]
    fn tile_carries_the_published_counts() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let gi = gistar_cells(&s, &all, BinSpec::Grid { cell_m: 100 }, counts_of(&s, &all))
            .unwrap()
            .unwrap();
        let over = fixture::tile_over(725.0, 725.0, 15);
        let asked = std::cell::Cell::new(0);
        let raw = gistar_tile(&gi, over, |_, c| {
            asked.set(asked.get() + 1);
            (Some(c), None)
        })
        .unwrap();
        assert!(raw.is_some());
        assert!(asked.get() > 0);
        let far = TileId::new(15, 0, 0).unwrap();
        assert!(gistar_tile(&gi, far, |_, c| (Some(c), None))
            .unwrap()
            .is_none());
    }
}
