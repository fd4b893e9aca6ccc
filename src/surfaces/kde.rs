//! The KDE density surface of a filter's located incidents ([`kde_surface`]), its contour polygons
//! ([`kde_contours`]: level `i` of `levels` is the region with density >= `i / (levels + 1)` times the maximum)
//! and the `kde` vector tile layer of those contours ([`kde_tile`]: `level`, `density_per_km2`).
//!
//! ```
//! use brandpunt::dataset::{Filter, IncidentRecord, Snapshot, TenantData};
//! use brandpunt::surfaces::kde::{kde_contours, kde_surface};
//!
//! let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
//! let incidents = (0..30).map(|k| IncidentRecord {
//!     id: k, source: "politie".into(), begin: at, end: at, category_code: None,
//!     x_m: Some(155_000.0 + 20.0 * (k % 5) as f64), y_m: Some(463_000.0 + 20.0 * (k / 5) as f64), buurtcode: None,
//! }).collect();
//! let data = TenantData { code: "demo".into(), name: "Demo".into(), areas: vec![], incidents };
//! let s = Snapshot::build(1, data).unwrap();
//! let surface = kde_surface(&s, &Filter::all(&s), 50.0, Some(300.0)).unwrap().unwrap();
//! assert!(surface.max_per_km2 > 0.0);
//! let contours = kde_contours(&surface, 3).unwrap();
//! assert_eq!(contours.len(), 3);
//! assert!(contours[0].density_per_km2 < contours[2].density_per_km2);
//! ```

use super::{encode_layer, located_events, rd_to_mercator, reaches_tile, SurfaceError};
use crate::analysis::kde::{map_surface, Kde, KdeError};
use crate::dataset::{Filter, Snapshot};
use crate::heap_size::HeapSize;
use crate::render::contour::density_contours;
use crate::tiles::{TileFeature, TileGeometry, TileId, Value};
use geo::BoundingRect;
use geo_types::MultiPolygon;

/// Largest number of KDE raster cells.
pub const MAX_KDE_CELLS: f64 = 16_000_000.0;

/// A KDE surface.
pub struct KdeSurface {
    pub kde: Kde<f32>,
    /// Largest density (per km2), > 0.
    pub max_per_km2: f64,
}

/// One KDE contour level.
pub struct Contour {
    /// 1 = lowest.
    pub level: usize,
    pub density_per_km2: f64,
    pub polygon_rd: MultiPolygon<f64>,
    pub polygon_m: MultiPolygon<f64>,
}

impl HeapSize for KdeSurface {
    fn heap_bytes(&self) -> usize {
        self.kde.heap_bytes()
    }
}

impl HeapSize for Contour {
    fn heap_bytes(&self) -> usize {
        self.polygon_rd.heap_bytes() + self.polygon_m.heap_bytes()
    }
}

/// The default-rule KDE bandwidth (ArcGIS) of the filter's located incidents; `None` when there are none.
pub fn default_bandwidth_m(snapshot: &Snapshot, filter: &Filter) -> Option<f64> {
    crate::analysis::kde::default_bandwidth_m(&located_events(snapshot, filter)).ok()
}

/// The KDE surface of the filter's located incidents with cells of `cell_m` and the bandwidth `bandwidth_m`
/// (`None` = the default rule); `None` when there is nothing to estimate, [`SurfaceError::KdeTooManyCells`] for
/// more than [`MAX_KDE_CELLS`] cells.
pub fn kde_surface(
    snapshot: &Snapshot,
    filter: &Filter,
    cell_m: f64,
    bandwidth_m: Option<f64>,
) -> Result<Option<KdeSurface>, SurfaceError> {
    let events = located_events(snapshot, filter);
    match map_surface(&events, cell_m, bandwidth_m, MAX_KDE_CELLS) {
        Ok(surface) => Ok(surface.map(|m| KdeSurface {
            kde: m.kde,
            max_per_km2: m.max_per_km2,
        })),
        Err(KdeError::SurfaceTooLarge { cells, .. }) => {
            Err(SurfaceError::KdeTooManyCells { cells })
        }
        Err(e) => Err(e.into()),
    }
}

/// The `levels` contour polygons of `surface`, lowest first, in RD and Web Mercator metres.
pub fn kde_contours(surface: &KdeSurface, levels: usize) -> Result<Vec<Contour>, SurfaceError> {
    let mut out = Vec::with_capacity(levels);
    for c in density_contours(&surface.kde.raster, surface.max_per_km2, levels) {
        out.push(Contour {
            level: c.level,
            density_per_km2: c.density_per_km2,
            polygon_m: rd_to_mercator(&c.polygon_rd)?,
            polygon_rd: c.polygon_rd,
        });
    }
    Ok(out)
}

/// The `kde` layer of `tile`: the contours reaching into it (id = level; `level`, `density_per_km2`); `None`
/// when empty.
pub fn kde_tile(contours: &[Contour], tile: TileId) -> Result<Option<Vec<u8>>, SurfaceError> {
    let features = contours
        .iter()
        .filter(|c| reaches_tile(tile, &c.polygon_m.bounding_rect()))
        .map(|c| TileFeature {
            id: c.level as u64,
            geometry: TileGeometry::Polygons(&c.polygon_m),
            properties: vec![
                ("level", Value::Int(c.level as i64)),
                ("density_per_km2", Value::Double(c.density_per_km2)),
            ],
        })
        .collect();
    encode_layer(tile, "kde", features)
}

/// The GeoJSON features (WGS84) of the non-empty contours: `id` and `level` the contour level,
/// `density_per_km2` its lower density bound.
pub fn contour_features(contours: &[Contour]) -> Result<Vec<serde_json::Value>, SurfaceError> {
    contours
        .iter()
        .filter(|c| !c.polygon_rd.0.is_empty())
        .map(|c| {
            super::geojson_feature(
                serde_json::json!(c.level),
                &c.polygon_rd,
                serde_json::json!({"level": c.level, "density_per_km2": c.density_per_km2}),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn contour_features_are_the_non_empty_levels() {
        let s = fixture::town();
        let surface = kde_surface(&s, &Filter::all(&s), 25.0, Some(200.0))
            .unwrap()
            .unwrap();
        let mut contours = kde_contours(&surface, 5).unwrap();
        contours[0].polygon_rd = geo_types::MultiPolygon(vec![]);
        let features = contour_features(&contours).unwrap();
        assert_eq!(
            features.iter().map(|f| f["id"].clone()).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
        assert_eq!(
            features[3]["properties"]["density_per_km2"],
            contours[4].density_per_km2
        );
    }

    #[test]
    fn surface_peaks_at_the_cluster_and_contours_nest() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let surface = kde_surface(&s, &all, 25.0, Some(200.0)).unwrap().unwrap();
        assert_eq!(surface.kde.bandwidth_m, 200.0);
        assert!(surface.max_per_km2 > 0.0);
        let contours = kde_contours(&surface, 5).unwrap();
        assert_eq!(
            contours.iter().map(|c| c.level).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        // The highest level surrounds the cluster near (725, 725).
        let top = &contours[4];
        let b = top.polygon_rd.bounding_rect().unwrap();
        let (cx, cy) = (fixture::X0 + 725.0, fixture::Y0 + 725.0);
        assert!(b.min().x < cx && cx < b.max().x && b.min().y < cy && cy < b.max().y);
        assert!(contours
            .windows(2)
            .all(|w| w[0].density_per_km2 < w[1].density_per_km2));
    }

    #[test]
    fn default_bandwidth_follows_the_rule_and_is_none_without_incidents() {
        let s = fixture::town();
        let all = Filter::all(&s);
        let rule = crate::analysis::kde::default_bandwidth_m(&located_events(&s, &all)).unwrap();
        assert_eq!(default_bandwidth_m(&s, &all), Some(rule));
        let none = Filter::new(&s, vec!["9.9.9".into()], vec![], None, None);
        assert_eq!(default_bandwidth_m(&s, &none), None);
        assert!(kde_surface(&s, &none, 50.0, None).unwrap().is_none());
    }

    #[test]
    fn too_fine_a_surface_is_a_parameter_error() {
        let s = fixture::town();
        let e = kde_surface(&s, &Filter::all(&s), 0.1, Some(20_000.0))
            .err()
            .unwrap();
        assert!(matches!(e, SurfaceError::KdeTooManyCells { .. }), "{e}");
        assert_eq!(e.parameter(), Some("cell"));
    }

    #[test]
    fn tile_holds_the_contours_over_it_only() {
        let s = fixture::town();
        let surface = kde_surface(&s, &Filter::all(&s), 25.0, Some(200.0))
            .unwrap()
            .unwrap();
        let contours = kde_contours(&surface, 3).unwrap();
        let over = fixture::tile_over(725.0, 725.0, 14);
        assert!(kde_tile(&contours, over).unwrap().is_some());
        let far = TileId::new(14, 0, 0).unwrap();
        assert!(kde_tile(&contours, far).unwrap().is_none());
    }
}
