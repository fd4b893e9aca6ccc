//! Emerging hot spots of a filter's incidents on grid cells ([`emerging_cells`]): a space-time cube of
//! `cell_m` cells and `step` steps over the filter's period (the snapshot's data period where the filter leaves
//! it open), neighbours within 1.5 cell sizes ([`crate::analysis::places::emerging_grid_neighbourhood`], as
//! `brandpunt analyse emerging`); and the `emerging` vector tile layer ([`emerging_tile`]: `id`, `category`,
//! `label`, `trend_z`, `trend_p`).
//!
//! ```
//! use brandpunt::calendar::Step;
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
//! use brandpunt::surfaces::emerging::emerging_cells;
//!
//! let day = |d| chrono::NaiveDate::from_yo_opt(2024, d).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! // One incident a day in each of four cells of 100 m.
//! let incidents = (0..120).map(|k: u32| IncidentRecord {
//!     id: k.into(), source: "politie".into(), begin: day(1 + k / 4), end: day(1 + k / 4),
//!     category_code: None, x_m: Some(155_050.0 + 100.0 * f64::from(k % 2)),
//!     y_m: Some(463_050.0 + 100.0 * f64::from(k % 4 / 2)), buurtcode: None,
//! }).collect();
//! let data = TenantData { code: "d".into(), name: "D".into(), areas: vec![], incidents };
//! let s = Snapshot::build(1, data).unwrap();
//! let em = emerging_cells(&s, &Filter::all(&s), 100, Step::Week, 1).unwrap().unwrap();
//! assert_eq!(em.places.ids.len(), 4);
//! assert_eq!(em.result.n_steps, em.steps.len());
//! ```

use super::{encode_layer, located_events, reaches_tile, MappedPlaces, SurfaceError};
use crate::analysis::emerging::{
    emerging_hot_spots, grid_cube_from_events, EmergingError, EmergingOptions, EmergingResult,
    TimeSteps,
};
use crate::analysis::places::{emerging_grid_neighbourhood, Places};
use crate::calendar::Step;
use crate::dataset::{feature_id, Filter, Snapshot};
use crate::heap_size::HeapSize;
use crate::tiles::{TileFeature, TileGeometry, TileId, Value};

/// Emerging hot spots on grid cells (only the occupied cells, in the cube's order).
pub struct EmergingCells {
    pub places: MappedPlaces,
    pub result: EmergingResult,
    pub steps: TimeSteps,
}

impl HeapSize for EmergingCells {
    fn heap_bytes(&self) -> usize {
        self.places.heap_bytes() + self.result.heap_bytes() + self.steps.heap_bytes()
    }
}

/// Emerging hot spots for the filter on `cell_m` cells with `step` steps and a Gi* time window of
/// `time_window` steps; `None` when there is nothing to analyse (no period, fewer than three occupied cells, no
/// incidents in the cube). A window too long for the period is [`SurfaceError::TimeWindowTooLarge`].
pub fn emerging_cells(
    snapshot: &Snapshot,
    filter: &Filter,
    cell_m: u32,
    step: Step,
    time_window: usize,
) -> Result<Option<EmergingCells>, SurfaceError> {
    let (Some(start), Some(end)) = (
        filter.from.or(snapshot.first_day),
        filter.to.or(snapshot.last_day),
    ) else {
        return Ok(None);
    };
    let steps = match TimeSteps::new(step, start, end) {
        Ok(st) => st,
        Err(_) => return Ok(None),
    };
    let events = located_events(snapshot, filter);
    let c = f64::from(cell_m);
    let cube = grid_cube_from_events(&events, c, &steps)?;
    if cube.cells.len() < 3 {
        return Ok(None);
    }
    let weights = cube.weights(emerging_grid_neighbourhood(c))?;
    let options = EmergingOptions {
        time_window,
        ..EmergingOptions::default()
    };
    let result = match emerging_hot_spots(&cube.cube, &weights, &options) {
        Ok(r) => r,
        Err(EmergingError::TimeWindowTooLarge { k, max, steps }) => {
            return Err(SurfaceError::TimeWindowTooLarge { k, max, steps })
        }
        Err(EmergingError::NoIncidents) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(EmergingCells {
        places: MappedPlaces::new(Places::grid(cell_m, cube.cells.clone()), |_, _| None)?,
        result,
        steps,
    }))
}

/// The `emerging` layer of `tile`: the analysed cells reaching into it (id = [`feature_id`] of the cell id;
/// `id`, `category`, `label` (Dutch), `trend_z`, `trend_p`); `None` when empty.
pub fn emerging_tile(em: &EmergingCells, tile: TileId) -> Result<Option<Vec<u8>>, SurfaceError> {
    let features = em
        .result
        .locations
        .iter()
        .filter(|l| reaches_tile(tile, &em.places.bbox_m[l.location]))
        .map(|l| TileFeature {
            id: feature_id(&em.places.ids[l.location]),
            geometry: TileGeometry::Polygons(&em.places.polygons_m[l.location]),
            properties: vec![
                ("id", Value::from(em.places.ids[l.location].as_str())),
                ("category", Value::from(l.category.as_str())),
                ("label", Value::from(l.category.dutch_label())),
                ("trend_z", Value::Double(l.trend_z)),
                ("trend_p", Value::Double(l.trend_p)),
            ],
        })
        .collect();
    encode_layer(tile, "emerging", features)
}

/// The GeoJSON features (WGS84) of the classified locations: `id`, the pattern (`category` and its Dutch
/// `label`), the Mann-Kendall trend (`trend_z`, `trend_p`), hot and cold steps and the last step's z; produced
/// one by one, so a large answer can be written as it is made.
pub fn emerging_features(
    em: &EmergingCells,
) -> impl Iterator<Item = Result<serde_json::Value, SurfaceError>> + '_ {
    em.result.locations.iter().map(|l| {
        let id = &em.places.ids[l.location];
        super::geojson_feature(
            serde_json::json!(id),
            &em.places.polygons_rd[l.location],
            serde_json::json!({
                "id": id,
                "category": l.category.as_str(),
                "label": l.category.dutch_label(),
                "trend_z": super::json_number(l.trend_z),
                "trend_p": super::json_number(l.trend_p),
                "hot_steps": l.hot_steps,
                "cold_steps": l.cold_steps,
                "final_z": super::json_number(l.final_z),
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn cells_are_the_occupied_grid_cells_over_the_period() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let em = emerging_cells(&s, &all, 100, Step::Week, 1)
            .unwrap()
            .unwrap();
        // The cluster's cell plus the 20 spread cells.
        assert_eq!(em.places.ids.len(), 21);
        assert_eq!(em.result.locations.len(), 21);
        assert_eq!(em.result.n_steps, em.steps.len());
        assert!(em.heap_bytes() > 0);
        let months = emerging_cells(&s, &all, 100, Step::Month, 1)
            .unwrap()
            .unwrap();
        assert!(months.result.n_steps < em.result.n_steps);
    }

    #[test]
    fn too_long_a_window_is_a_parameter_error_and_nothing_is_none() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let e = emerging_cells(&s, &all, 100, Step::Month, 50)
            .err()
            .unwrap();
        assert!(
            matches!(e, SurfaceError::TimeWindowTooLarge { k: 50, .. }),
            "{e}"
        );
        assert_eq!(e.parameter(), Some("time_window"));
        let none = Filter::new(&s, vec!["9.9.9".into()], vec![], None, None);
        assert!(emerging_cells(&s, &none, 100, Step::Week, 1)
            .unwrap()
            .is_none());
    }

    #[test]
    fn features_name_the_pattern_of_every_location() {
        let s = fixture::town();
        let em = emerging_cells(&s, &Filter::all(&s), 100, Step::Week, 1)
            .unwrap()
            .unwrap();
        let features: Vec<_> = emerging_features(&em).collect::<Result<_, _>>().unwrap();
        assert_eq!(features.len(), em.result.locations.len());
        for (f, l) in features.iter().zip(&em.result.locations) {
            assert_eq!(f["id"], em.places.ids[l.location].as_str());
            assert_eq!(f["properties"]["category"], l.category.as_str());
            assert_eq!(f["properties"]["label"], l.category.dutch_label());
            assert_eq!(f["geometry"]["type"], "MultiPolygon");
        }
    }

    #[test]
    fn tile_holds_the_cells_over_it() {
        let s = fixture::town();
        let em = emerging_cells(&s, &Filter::all(&s), 100, Step::Week, 1)
            .unwrap()
            .unwrap();
        assert!(emerging_tile(&em, fixture::tile_over(725.0, 725.0, 15))
            .unwrap()
            .is_some());
        assert!(emerging_tile(&em, TileId::new(15, 0, 0).unwrap())
            .unwrap()
            .is_none());
    }
}
