//! Locations of the binned analyses (`gistar`/`moran` on incidents, `emerging`, `evaluate`): square RD grid
//! cells, H3 cells or the areas (buurten, wijken, gemeenten) of the store's newest CBS boundary set, with their
//! output ids, centres (RD metres), polygons, surface areas and spatial weights, and the incidents assigned to
//! them.
//!
//! Which places exist:
//! - grid (`grid:CELL_M`): the occupied cells, or every cell of the bounding box of the occupied cells
//!   ([`Coverage::BoundingBox`]);
//! - H3 (`h3:RES`, 7..=11): the occupied cells, or ([`Coverage::BoundingBox`]) every cell reachable from an
//!   occupied cell through cells whose centre lies in the RD bounding box of the incidents;
//! - areas (`buurt`, `wijk`, `gemeente`): every area of the level (within `--area`), empty ones included. Store
//!   incidents count by their buurtcode (also those located only to their buurt, like `brandpunt stats`), file
//!   points by the buurt polygon that contains them.

use anyhow::{bail, Context};
use brandpunt::analysis::grid::{
    bin_grid, bin_h3, h3_cell_polygon_m, AreaLevel as BinLevel, BinId, BinSpec,
};
use brandpunt::analysis::weights::{
    contiguity, distance_band, h3_k_ring, k_nearest, regular_grid, Contiguity, GridNeighbourhood,
    SpatialWeights,
};
use brandpunt::coords::Transformer;
use brandpunt::store::{AreaLevel, Store};
use chrono::NaiveDateTime;
use geo::{Area, Centroid};
use geo_types::{Geometry, MultiPolygon};
use h3o::CellIndex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use super::super::context;
use super::input::{self, InputArgs, Record};

/// Largest number of places (grid or H3 cells) of a bounding box analysed.
pub const MAX_PLACES: usize = 4_000_000;

/// A spatial weights rule from the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightsSpec {
    Queen,
    Rook,
    Knn(usize),
    Distance(f64),
}

/// Parses `--weights`: `queen`, `rook`, `knn:K` (K >= 1) or `distance:M` (M > 0 metres).
pub fn parse_weights(s: &str) -> anyhow::Result<WeightsSpec> {
    let s = s.trim().to_ascii_lowercase();
    let bad = || anyhow::anyhow!("--weights '{s}': kies queen, rook, knn:K of distance:M");
    Ok(match s.split_once(':') {
        None if s == "queen" => WeightsSpec::Queen,
        None if s == "rook" => WeightsSpec::Rook,
        Some(("knn", k)) => {
            let k: usize = k.trim().parse().map_err(|_| bad())?;
            anyhow::ensure!(k >= 1, "--weights knn:{k}: K moet minstens 1 zijn");
            WeightsSpec::Knn(k)
        }
        Some(("distance", m)) => {
            let m: f64 = m.trim().parse().map_err(|_| bad())?;
            anyhow::ensure!(m.is_finite() && m > 0.0, bad());
            WeightsSpec::Distance(m)
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

/// Knn or distance-band weights between points; errors for queen/rook.
pub fn point_weights(points: &[(f64, f64)], spec: WeightsSpec) -> anyhow::Result<SpatialWeights> {
    Ok(match spec {
        WeightsSpec::Knn(k) => {
            anyhow::ensure!(
                k < points.len(),
                "--weights knn:{k}: er zijn maar {} locaties; kies K kleiner dan het aantal locaties",
                points.len()
            );
            k_nearest(points, k)?
        }
        WeightsSpec::Distance(m) => distance_band(points, m)?,
        WeightsSpec::Queen | WeightsSpec::Rook => {
            bail!("--weights queen/rook gelden voor vlakken en cellen; kies voor punten knn:K of distance:M")
        }
    })
}

/// Contiguity between polygons, or knn/distance between their centroids.
pub fn polygon_weights(
    polygons: &[MultiPolygon<f64>],
    spec: WeightsSpec,
    snap_m: f64,
) -> anyhow::Result<SpatialWeights> {
    Ok(match spec {
        WeightsSpec::Queen => contiguity(polygons, Contiguity::Queen, snap_m)?,
        WeightsSpec::Rook => contiguity(polygons, Contiguity::Rook, snap_m)?,
        _ => point_weights(&centroids(polygons), spec)?,
    })
}

fn centroids(polygons: &[MultiPolygon<f64>]) -> Vec<(f64, f64)> {
    polygons
        .iter()
        .map(|p| {
            p.centroid()
                .map_or((f64::NAN, f64::NAN), |c| (c.x(), c.y()))
        })
        .collect()
}

/// Which grid / H3 cells are places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Only cells with at least one incident.
    Occupied,
    /// Every cell of the incidents' bounding box (see the module docs).
    BoundingBox,
}

/// The kind of places and their geometry keys.
pub enum Layout {
    /// Square cells `(col, row)` of `cell_m` metres.
    Grid { cell_m: u32, cells: Vec<(i64, i64)> },
    /// H3 cells.
    H3 { cells: Vec<CellIndex> },
    /// Areas with their RD polygons.
    Areas { polygons: Vec<MultiPolygon<f64>> },
}

/// The places of an analysis.
pub struct Places {
    /// Output id: `c{cell}_{col}_{row}`, the H3 index or the CBS code.
    pub ids: Vec<String>,
    /// Representative point in RD metres (cell centre; area centroid).
    pub centres_m: Vec<(f64, f64)>,
    pub layout: Layout,
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
}

impl Places {
    /// Number of places.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Place polygons in RD metres (grid squares, H3 hexagons converted vertex by vertex, area polygons).
    pub fn geometries(&self) -> anyhow::Result<Vec<Geometry<f64>>> {
        Ok(match &self.layout {
            Layout::Grid { cell_m, cells } => cells
                .iter()
                .filter_map(|&(col, row)| {
                    BinId::Grid {
                        cell_m: *cell_m,
                        row,
                        col,
                    }
                    .grid_polygon_m()
                })
                .map(Geometry::from)
                .collect(),
            Layout::H3 { cells } => {
                let t = Transformer::new().context("PROJ-transformatie WGS84 -> RD")?;
                let to_rd = |lon: f64, lat: f64| t.wgs84_to_rd(lon, lat).ok();
                cells
                    .iter()
                    .map(|&c| {
                        h3_cell_polygon_m(c, to_rd)
                            .map(Geometry::from)
                            .with_context(|| format!("H3-cel {c} niet om te rekenen naar RD"))
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            Layout::Areas { polygons, .. } => {
                polygons.iter().cloned().map(Geometry::from).collect()
            }
        })
    }

    /// Surface area of each place in m2 (grid: cell size squared; H3 and areas: of the RD polygon).
    pub fn areas_m2(&self) -> anyhow::Result<Vec<f64>> {
        Ok(match &self.layout {
            Layout::Grid { cell_m, cells } => vec![f64::from(*cell_m).powi(2); cells.len()],
            _ => self
                .geometries()?
                .iter()
                .map(|g| g.unsigned_area())
                .collect(),
        })
    }

    /// Spatial weights between the places. Grid: queen/rook/distance by the fast grid rule, knn on the
    /// centres; H3: queen/rook = the 1-ring, knn/distance on the cell centres; areas: queen/rook contiguity
    /// (vertex snapping `snap_m`), knn/distance on the centroids.
    pub fn weights(&self, spec: WeightsSpec, snap_m: f64) -> anyhow::Result<SpatialWeights> {
        Ok(match (&self.layout, spec) {
            (Layout::Grid { cell_m, cells }, WeightsSpec::Queen) => {
                regular_grid(cells, f64::from(*cell_m), GridNeighbourhood::Queen)?
            }
            (Layout::Grid { cell_m, cells }, WeightsSpec::Rook) => {
                regular_grid(cells, f64::from(*cell_m), GridNeighbourhood::Rook)?
            }
            (Layout::Grid { cell_m, cells }, WeightsSpec::Distance(m)) => regular_grid(
                cells,
                f64::from(*cell_m),
                GridNeighbourhood::DistanceBand { threshold_m: m },
            )?,
            (Layout::H3 { cells }, WeightsSpec::Queen | WeightsSpec::Rook) => h3_k_ring(cells, 1)?,
            (Layout::Areas { polygons, .. }, _) => polygon_weights(polygons, spec, snap_m)?,
            _ => point_weights(&self.centres_m, spec)?,
        })
    }
}

/// Square grid places: occupied cells (sorted by row, then column) or the whole bounding box (row-major).
fn grid_places(records: &[Record], cell_m: u32, coverage: Coverage) -> anyhow::Result<Assignment> {
    let events = input::events(records)?;
    let bins = bin_grid(&events, cell_m)?;
    let occupied: Vec<(i64, i64)> = bins
        .ids
        .iter()
        .filter_map(|id| match id {
            BinId::Grid { row, col, .. } => Some((*col, *row)),
            _ => None,
        })
        .collect();
    let cells = match coverage {
        Coverage::Occupied => occupied.clone(),
        Coverage::BoundingBox => {
            let (Some(c0), Some(c1), Some(r0), Some(r1)) = (
                occupied.iter().map(|k| k.0).min(),
                occupied.iter().map(|k| k.0).max(),
                occupied.iter().map(|k| k.1).min(),
                occupied.iter().map(|k| k.1).max(),
            ) else {
                bail!("geen incidenten met coördinaten");
            };
            let n_cells = ((c1 - c0 + 1) as u128) * ((r1 - r0 + 1) as u128);
            anyhow::ensure!(
                n_cells <= MAX_PLACES as u128,
                "{n_cells} rastercellen in het gebied van de incidenten; kies een grotere cel (--bins grid:M) of een kleiner gebied"
            );
            let mut cells = Vec::with_capacity(n_cells as usize);
            for row in r0..=r1 {
                for col in c0..=c1 {
                    cells.push((col, row));
                }
            }
            cells
        }
    };
    let index: HashMap<(i64, i64), usize> =
        cells.iter().enumerate().map(|(i, &k)| (k, i)).collect();
    let c = f64::from(cell_m);
    let mut hits = Vec::with_capacity(records.len());
    let mut unassigned = 0;
    for (r, bin) in records.iter().zip(&bins.event_bin) {
        match bin.and_then(|b| index.get(&occupied[b])) {
            Some(&place) => hits.push(Hit {
                place,
                begin: r.begin,
                end: r.end,
            }),
            None => unassigned += 1,
        }
    }
    Ok(Assignment {
        places: Places {
            ids: cells
                .iter()
                .map(|&(col, row)| BinId::Grid { cell_m, row, col }.name())
                .collect(),
            centres_m: cells
                .iter()
                .map(|&(col, row)| ((col as f64 + 0.5) * c, (row as f64 + 0.5) * c))
                .collect(),
            layout: Layout::Grid { cell_m, cells },
        },
        hits,
        unassigned,
    })
}

/// H3 places: occupied cells (sorted by index) or the bounding-box fill (occupied cells first, then the filled
/// ones in breadth-first order).
fn h3_places(records: &[Record], resolution: u8, coverage: Coverage) -> anyhow::Result<Assignment> {
    let events = input::events(records)?;
    let t = Transformer::new().context("PROJ-transformatie RD <-> WGS84")?;
    let to_wgs = |x: f64, y: f64| t.rd_to_wgs84(x, y).ok();
    let to_rd = |lon: f64, lat: f64| t.wgs84_to_rd(lon, lat).ok();
    let bins = bin_h3(&events, resolution, to_wgs, to_rd)?;
    let mut cells: Vec<CellIndex> = bins
        .ids
        .iter()
        .filter_map(|id| match id {
            BinId::H3(c) => Some(*c),
            _ => None,
        })
        .collect();
    let mut centres_m = bins.centres_m.clone();
    if coverage == Coverage::BoundingBox {
        let pts = events
            .iter()
            .map(|e| (e.x_m, e.y_m))
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in pts {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let inside = |(x, y): (f64, f64)| x >= x0 && x <= x1 && y >= y0 && y <= y1;
        let mut seen: HashSet<CellIndex> = cells.iter().copied().collect();
        let mut queue: VecDeque<CellIndex> = cells.iter().copied().collect();
        while let Some(c) = queue.pop_front() {
            for n in c.grid_disk::<Vec<CellIndex>>(1) {
                if !seen.insert(n) {
                    continue;
                }
                let Some(centre) = brandpunt::analysis::grid::h3_cell_centre_m(n, to_rd) else {
                    continue;
                };
                if inside(centre) {
                    anyhow::ensure!(
                        cells.len() < MAX_PLACES,
                        "meer dan {MAX_PLACES} H3-cellen in het gebied van de incidenten; kies een lagere resolutie"
                    );
                    cells.push(n);
                    centres_m.push(centre);
                    queue.push_back(n);
                }
            }
        }
    }
    let mut hits = Vec::with_capacity(records.len());
    for (r, bin) in records.iter().zip(&bins.event_bin) {
        if let Some(place) = *bin {
            hits.push(Hit {
                place,
                begin: r.begin,
                end: r.end,
            });
        }
    }
    Ok(Assignment {
        places: Places {
            ids: cells.iter().map(|c| c.to_string()).collect(),
            centres_m,
            layout: Layout::H3 { cells },
        },
        hits,
        unassigned: bins.unassigned,
    })
}

fn store_level(level: BinLevel) -> AreaLevel {
    match level {
        BinLevel::Buurt => AreaLevel::Buurt,
        BinLevel::Wijk => AreaLevel::Wijk,
        BinLevel::Gemeente => AreaLevel::Gemeente,
    }
}

/// Dutch plural of an area level (`buurten`, `wijken`, `gemeenten`).
pub fn plural(level: BinLevel) -> &'static str {
    match level {
        BinLevel::Buurt => "buurten",
        BinLevel::Wijk => "wijken",
        BinLevel::Gemeente => "gemeenten",
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
    level: BinLevel,
) -> anyhow::Result<Assignment> {
    let store = context::open_store(db)?;
    let prefix = args.area.as_deref().map(input::area_prefix).transpose()?;
    let areas: Vec<_> = store
        .areas(store_level(level), None)?
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
                level.keyword(),
                plural(level)
            ),
            None => bail!(
                "--bins {}: geen CBS-gebieden in de database (importeer eerst de CBS wijken en buurten)",
                level.keyword()
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
                BinLevel::Buurt => b.code.as_str(),
                BinLevel::Wijk => b.wijkcode.as_deref().unwrap_or_default(),
                BinLevel::Gemeente => b.gemeentecode.as_str(),
            };
            (b.code.as_str(), p)
        })
        .collect();
    let place_of_buurt = |code: &str| -> Option<usize> {
        let p = parent.get(code).copied().unwrap_or(match level {
            BinLevel::Buurt => code,
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
        let locator = context::area_index(&store)?;
        for (r, e) in records.iter().zip(input::events(records)?) {
            let place = locator.locate(e.x_m, e.y_m).and_then(|a| {
                let code = match level {
                    BinLevel::Buurt => a.buurtcode.as_str(),
                    BinLevel::Wijk => a.wijkcode.as_str(),
                    BinLevel::Gemeente => a.gemeentecode.as_str(),
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
        places: Places {
            ids: areas.iter().map(|a| a.code.clone()).collect(),
            centres_m: centroids(&polygons),
            layout: Layout::Areas { polygons },
        },
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
        BinSpec::Grid { cell_m } => grid_places(records, cell_m, coverage),
        BinSpec::H3 { resolution } => h3_places(records, resolution, coverage),
        BinSpec::Area(level) => area_places(db, args, records, level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_and_bins_parse_or_name_the_flag() {
        assert_eq!(parse_weights(" Queen ").unwrap(), WeightsSpec::Queen);
        assert_eq!(parse_weights("knn:6").unwrap(), WeightsSpec::Knn(6));
        assert_eq!(
            parse_weights("distance:250.5").unwrap(),
            WeightsSpec::Distance(250.5)
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
        assert_eq!(parse_bins("wijk").unwrap(), BinSpec::Area(BinLevel::Wijk));
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
