//! Locations of the binned analyses (`gistar`/`moran` on incidents, `emerging`, `evaluate`) from the command
//! line: the places of [`brandpunt::analysis::places`] (square RD grid cells, H3 cells) for the loaded incidents,
//! or the areas (buurten, wijken, gemeenten) of the store's newest CBS boundary set, with the incidents assigned
//! to them and Dutch errors naming the flag.
//!
//! Which places exist: see [`brandpunt::analysis::places`]; areas (`buurt`, `wijk`, `gemeente`) are every area
//! of the level (within `--area`), empty ones included. Store incidents count by their buurtcode (also those
//! located only to their buurt, like `brandpunt stats`), file points by the buurt polygon that contains them.

use anyhow::{bail, Context};
use brandpunt::analysis::grid::BinSpec;
use brandpunt::analysis::places::{
    self, grid_places, h3_places, Binned, Coverage, Places, PlacesError, WeightsRule, MAX_PLACES,
};
use brandpunt::analysis::weights::SpatialWeights;
use brandpunt::area_level::AreaLevel;
use brandpunt::coords::Transformer;
use chrono::NaiveDateTime;
use geo_types::{Geometry, MultiPolygon};
use std::collections::HashMap;
use std::path::Path;

use super::super::context;
use super::input::{self, InputArgs, Record};

/// Parses `--weights`: `queen`, `rook`, `knn:K` (K >= 1) or `distance:M` (M > 0 metres).
pub fn parse_weights(s: &str) -> anyhow::Result<WeightsRule> {
    let s = s.trim().to_ascii_lowercase();
    let bad = || anyhow::anyhow!("--weights '{s}': kies queen, rook, knn:K of distance:M");
    Ok(match s.split_once(':') {
        None if s == "queen" => WeightsRule::Queen,
        None if s == "rook" => WeightsRule::Rook,
        Some(("knn", k)) => {
            let k: usize = k.trim().parse().map_err(|_| bad())?;
            anyhow::ensure!(k >= 1, "--weights knn:{k}: K moet minstens 1 zijn");
            WeightsRule::Knn(k)
        }
        Some(("distance", m)) => {
            let m: f64 = m.trim().parse().map_err(|_| bad())?;
            anyhow::ensure!(m.is_finite() && m > 0.0, bad());
            WeightsRule::Distance(m)
        }
        _ => return Err(bad()),
    })
}

/// Parses `--bins` with a Dutch error naming the flag.
pub fn parse_bins(s: &str) -> anyhow::Result<BinSpec> {
    s.parse().map_err(|_| {
        anyhow::anyhow!(
            "--bins '{s}': kies grid:METERS (een geheel aantal meters > 0), h3:RESOLUTIE (7 t/m 11), buurt, wijk of gemeente"
        )
    })
}

/// The Dutch message of a places error, naming the flag to change.
fn places_error(e: PlacesError) -> anyhow::Error {
    match e {
        PlacesError::TooManyGridCells { cells } => anyhow::anyhow!(
            "{cells} rastercellen in het gebied van de incidenten; kies een grotere cel (--bins grid:M) of een kleiner gebied"
        ),
        PlacesError::TooManyH3Cells => anyhow::anyhow!(
            "meer dan {MAX_PLACES} H3-cellen in het gebied van de incidenten; kies een lagere resolutie"
        ),
        PlacesError::NoLocatedIncidents => anyhow::anyhow!("geen incidenten met coördinaten"),
        PlacesError::H3Conversion(c) => anyhow::anyhow!("H3-cel {c} niet om te rekenen naar RD"),
        PlacesError::TooFewPlacesForKnn { k, places } => anyhow::anyhow!(
            "--weights knn:{k}: er zijn maar {places} locaties; kies K kleiner dan het aantal locaties"
        ),
        PlacesError::ContiguityOfPoints => anyhow::anyhow!(
            "--weights queen/rook gelden voor vlakken en cellen; kies voor punten knn:K of distance:M"
        ),
        other => anyhow::Error::new(other),
    }
}

/// Knn or distance-band weights between points; errors for queen/rook.
pub fn point_weights(points: &[(f64, f64)], rule: WeightsRule) -> anyhow::Result<SpatialWeights> {
    places::point_weights(points, rule).map_err(places_error)
}

/// Contiguity between polygons, or knn/distance between their centroids.
pub fn polygon_weights(
    polygons: &[MultiPolygon<f64>],
    rule: WeightsRule,
    snap_m: f64,
) -> anyhow::Result<SpatialWeights> {
    places::polygon_weights(polygons, rule, snap_m).map_err(places_error)
}

/// Spatial weights between the places ([`Places::weights`]).
pub fn weights(places: &Places, rule: WeightsRule, snap_m: f64) -> anyhow::Result<SpatialWeights> {
    places.weights(rule, snap_m).map_err(places_error)
}

/// Runs `f` with a WGS84 -> RD conversion: PROJ for H3 places, none needed for the others.
fn with_to_rd<T>(
    places: &Places,
    f: impl FnOnce(&dyn Fn(f64, f64) -> Option<(f64, f64)>) -> Result<T, PlacesError>,
) -> anyhow::Result<T> {
    let result = match places.layout {
        places::Layout::H3 { .. } => {
            let t = Transformer::new().context("PROJ-transformatie WGS84 -> RD")?;
            f(&|lon, lat| t.wgs84_to_rd(lon, lat).ok())
        }
        _ => f(&|_, _| None),
    };
    result.map_err(places_error)
}

/// Place polygons in RD metres (grid squares, H3 hexagons converted vertex by vertex, area polygons).
pub fn geometries(places: &Places) -> anyhow::Result<Vec<Geometry<f64>>> {
    with_to_rd(places, |to_rd| places.geometries(to_rd))
}

/// Surface area of each place in m2 (grid: cell size squared; H3 and areas: of the RD polygon).
pub fn areas_m2(places: &Places) -> anyhow::Result<Vec<f64>> {
    with_to_rd(places, |to_rd| places.areas_m2(to_rd))
}

/// One incident assigned to a place.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    /// Index into the places.
    pub place: usize,
    pub begin: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
}

/// Places and the incidents assigned to them.
pub struct Assignment {
    pub places: Places,
    pub hits: Vec<Hit>,
    /// Incidents that fell in no place (outside every area, unconvertible coordinates).
    pub unassigned: usize,
}

impl Assignment {
    /// Number of incidents per place.
    pub fn counts(&self) -> Vec<f64> {
        let mut v = vec![0.0; self.places.len()];
        for h in &self.hits {
            v[h.place] += 1.0;
        }
        v
    }

    /// The assignment of `records` (in the order of the events they were binned as).
    fn of_records(records: &[Record], binned: Binned) -> Assignment {
        let hits = records
            .iter()
            .zip(&binned.event_place)
            .filter_map(|(r, p)| {
                p.map(|place| Hit {
                    place,
                    begin: r.begin,
                    end: r.end,
                })
            })
            .collect();
        Assignment {
            places: binned.places,
            hits,
            unassigned: binned.unassigned,
        }
    }
}

/// Dutch plural of an area level (`buurten`, `wijken`, `gemeenten`).
pub fn plural(level: AreaLevel) -> &'static str {
    match level {
        AreaLevel::Buurt => "buurten",
        AreaLevel::Wijk => "wijken",
        AreaLevel::Gemeente => "gemeenten",
        AreaLevel::Custom => "eigen gebieden",
    }
}

/// The `BU…` form of an area code (`WK036300` -> `BU036300`), comparable with the `--area` prefix.
fn as_buurt_prefix(code: &str) -> String {
    format!("BU{}", code.get(2..).unwrap_or_default())
}

/// Area places of `level` from the store's newest boundary set (within `--area`), with the incidents:
/// store incidents by buurtcode, file points by the buurt polygon containing them.
fn area_places(
    db: &Path,
    args: &InputArgs,
    records: &[Record],
    level: AreaLevel,
) -> anyhow::Result<Assignment> {
    let store = context::open_store(db)?;
    let prefix = args.area.as_deref().map(input::area_prefix).transpose()?;
    let areas: Vec<_> = store
        .areas(level, None)?
        .into_iter()
        .filter(|a| {
            prefix
                .as_ref()
                .is_none_or(|p| as_buurt_prefix(&a.code).starts_with(p.as_str()))
        })
        .collect();
    if areas.is_empty() {
        match &args.area {
            Some(a) => bail!(
                "--bins {}: geen {} binnen --area {a} in de database",
                level.as_str(),
                plural(level)
            ),
            None => bail!(
                "--bins {}: geen CBS-gebieden in de database (importeer eerst de CBS wijken en buurten)",
                level.as_str()
            ),
        }
    }
    let index: HashMap<&str, usize> = areas
        .iter()
        .enumerate()
        .map(|(i, a)| (a.code.as_str(), i))
        .collect();
    // The code of the area of `level` that holds a buurt.
    let buurten = store.areas(AreaLevel::Buurt, None)?;
    let parent: HashMap<&str, &str> = buurten
        .iter()
        .map(|b| {
            let p = match level {
                AreaLevel::Buurt => b.code.as_str(),
                AreaLevel::Wijk => b.wijkcode.as_deref().unwrap_or_default(),
                AreaLevel::Gemeente => b.gemeentecode.as_str(),
                AreaLevel::Custom => "",
            };
            (b.code.as_str(), p)
        })
        .collect();
    let place_of_buurt = |code: &str| -> Option<usize> {
        let p = parent.get(code).copied().unwrap_or(match level {
            AreaLevel::Buurt => code,
            _ => "",
        });
        index.get(p).copied()
    };
    let mut hits = Vec::new();
    let mut unassigned = 0;
    if args.input.is_none() {
        for h in input::store_buurt_hits(db, args)? {
            match place_of_buurt(&h.buurtcode) {
                Some(place) => hits.push(Hit {
                    place,
                    begin: Some(h.begin),
                    end: Some(h.end),
                }),
                None => unassigned += 1,
            }
        }
    } else {
        let locator = context::area_index(store.as_store())?;
        for (r, e) in records.iter().zip(input::events(records)?) {
            let place = locator.locate(e.x_m, e.y_m).and_then(|a| {
                let code = match level {
                    AreaLevel::Buurt => a.buurtcode.as_str(),
                    AreaLevel::Wijk => a.wijkcode.as_str(),
                    AreaLevel::Gemeente => a.gemeentecode.as_str(),
                    AreaLevel::Custom => "",
                };
                index.get(code).copied()
            });
            match place {
                Some(place) => hits.push(Hit {
                    place,
                    begin: r.begin,
                    end: r.end,
                }),
                None => unassigned += 1,
            }
        }
    }
    let polygons: Vec<MultiPolygon<f64>> = areas.iter().map(|a| a.geometry.clone()).collect();
    Ok(Assignment {
        places: Places::areas(areas.iter().map(|a| a.code.clone()).collect(), polygons),
        hits,
        unassigned,
    })
}

/// Assigns the incidents (`records`: points; for areas from the store the store's buurtcodes are used
/// instead) to the places of `spec`.
pub fn assign(
    db: &Path,
    args: &InputArgs,
    records: &[Record],
    spec: BinSpec,
    coverage: Coverage,
) -> anyhow::Result<Assignment> {
    match spec {
        BinSpec::Grid { cell_m } => {
            let events = input::events(records)?;
            let binned = grid_places(&events, cell_m, coverage).map_err(places_error)?;
            Ok(Assignment::of_records(records, binned))
        }
        BinSpec::H3 { resolution } => {
            let events = input::events(records)?;
            let t = Transformer::new().context("PROJ-transformatie RD <-> WGS84")?;
            let binned = h3_places(
                &events,
                resolution,
                coverage,
                |x, y| t.rd_to_wgs84(x, y).ok(),
                |lon, lat| t.wgs84_to_rd(lon, lat).ok(),
            )
            .map_err(places_error)?;
            Ok(Assignment::of_records(records, binned))
        }
        BinSpec::Area(level) => area_places(db, args, records, level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_and_bins_parse_or_name_the_flag() {
        assert_eq!(parse_weights(" Queen ").unwrap(), WeightsRule::Queen);
        assert_eq!(parse_weights("knn:6").unwrap(), WeightsRule::Knn(6));
        assert_eq!(
            parse_weights("distance:250.5").unwrap(),
            WeightsRule::Distance(250.5)
        );
        for bad in [
            "knn:0",
            "knn:x",
            "distance:0",
            "distance:-1",
            "distance:inf",
            "bishop",
        ] {
            let e = parse_weights(bad).unwrap_err().to_string();
            assert!(e.contains("--weights"), "{bad}: {e}");
        }
        assert_eq!(parse_bins("h3:11").unwrap(), BinSpec::H3 { resolution: 11 });
        assert_eq!(parse_bins("wijk").unwrap(), BinSpec::Area(AreaLevel::Wijk));
        for bad in ["h3:6", "h3:12", "grid:0", "grid:", "straat", "wijk:3"] {
            let e = parse_bins(bad).unwrap_err().to_string();
            assert!(e.contains("--bins") && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn area_codes_compare_with_the_area_prefix() {
        assert_eq!(as_buurt_prefix("WK036300"), "BU036300");
        assert_eq!(as_buurt_prefix("GM0363"), "BU0363");
        assert!(as_buurt_prefix("WK036300").starts_with(&input::area_prefix("GM0363").unwrap()));
        assert!(!as_buurt_prefix("WK059900").starts_with(&input::area_prefix("GM0363").unwrap()));
    }
}
