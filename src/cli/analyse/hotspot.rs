//! `brandpunt analyse gistar` and `brandpunt analyse moran`: local statistics on locations with a value.
//!
//! Locations are, in this order of precedence:
//! - polygons of the input file with `--value` (queen/rook contiguity, or knn/distance on centroids);
//! - points of the input file with `--value` (knn/distance);
//! - incident points (store or file) without `--value`: counted per bin (`--bins grid:100|h3:9|buurt`). A grid
//!   uses every cell of the bounding box of the incidents, empty cells included (value 0), so hot spots are
//!   measured against the quiet surroundings too; H3 uses the occupied cells; `buurt` every buurt of the newest
//!   CBS boundary set (within `--area` when given), empty buurten included.

use anyhow::{bail, Context};
use brandpunt::analysis::gistar::{gi_star, GiStarOptions};
use brandpunt::analysis::grid::{bin_grid, bin_h3, h3_cell_polygon_m, BinId, BinSpec};
use brandpunt::analysis::moran::{local_moran, Quadrant};
use brandpunt::analysis::weights::{
    contiguity, distance_band, h3_k_ring, k_nearest, regular_grid, Contiguity, GridNeighbourhood,
    SpatialWeights,
};
use brandpunt::coords::Transformer;
use brandpunt::export::{ColumnType, Table, Value};
use brandpunt::store::{AreaLevel, Store};
use geo::Centroid;
use geo_types::{Geometry, MultiPolygon, Point};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::context;
use super::input::{self, InputArgs, Record, Shape};
use super::output;

/// Largest number of grid cells of a bounding box (zeros included) analysed.
const MAX_GRID_CELLS: usize = 4_000_000;

#[derive(clap::Args, Debug)]
pub struct HotspotArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Field with the value per feature (file input); without it incidents are counted per `--bins`.
    #[arg(long)]
    pub value: Option<String>,
    /// Field with the feature id written to the output (file input); default the feature number.
    #[arg(long)]
    pub id: Option<String>,
    /// Spatial weights: queen, rook, knn:K or distance:M (metres). Default queen (polygons, bins).
    #[arg(long)]
    pub weights: Option<String>,
    /// Binning of incident points without `--value`: grid:CELL_M, h3:RES or buurt.
    #[arg(long, default_value = "grid:100")]
    pub bins: String,
    /// Vertex snapping tolerance in metres for queen/rook contiguity between polygons.
    #[arg(long, default_value_t = 1e-6)]
    pub snap_m: f64,
    /// Gi*: bins without the Benjamini-Hochberg FDR correction.
    #[arg(long)]
    pub no_fdr: bool,
    /// Output: `.csv`, `.gpkg` or `.geojson`.
    #[arg(long)]
    pub output: PathBuf,
}

/// Which statistic to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    GiStar,
    Moran,
}

/// A spatial weights rule from the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
enum WeightsSpec {
    Queen,
    Rook,
    Knn(usize),
    Distance(f64),
}

fn parse_weights(s: &str) -> anyhow::Result<WeightsSpec> {
    let s = s.trim().to_ascii_lowercase();
    let bad = || anyhow::anyhow!("--weights '{s}': kies queen, rook, knn:K of distance:M");
    Ok(match s.split_once(':') {
        None if s == "queen" => WeightsSpec::Queen,
        None if s == "rook" => WeightsSpec::Rook,
        Some(("knn", k)) => WeightsSpec::Knn(k.parse().map_err(|_| bad())?),
        Some(("distance", m)) => {
            let m: f64 = m.parse().map_err(|_| bad())?;
            anyhow::ensure!(m.is_finite() && m > 0.0, bad());
            WeightsSpec::Distance(m)
        }
        _ => return Err(bad()),
    })
}

/// Locations with a value, geometry (RD) and weights.
struct Locations {
    ids: Vec<String>,
    values: Vec<f64>,
    geometries: Vec<Geometry<f64>>,
    weights: SpatialWeights,
}

fn point_weights(points: &[(f64, f64)], spec: WeightsSpec) -> anyhow::Result<SpatialWeights> {
    Ok(match spec {
        WeightsSpec::Knn(k) => k_nearest(points, k)?,
        WeightsSpec::Distance(m) => distance_band(points, m)?,
        WeightsSpec::Queen | WeightsSpec::Rook => {
            bail!("queen/rook gelden voor vlakken en rastercellen; kies voor punten knn:K of distance:M")
        }
    })
}

fn polygon_weights(
    polygons: &[MultiPolygon<f64>],
    spec: WeightsSpec,
    snap_m: f64,
) -> anyhow::Result<SpatialWeights> {
    Ok(match spec {
        WeightsSpec::Queen => contiguity(polygons, Contiguity::Queen, snap_m)?,
        WeightsSpec::Rook => contiguity(polygons, Contiguity::Rook, snap_m)?,
        _ => {
            let centres: Vec<(f64, f64)> = polygons
                .iter()
                .map(|p| {
                    p.centroid()
                        .map_or((f64::NAN, f64::NAN), |c| (c.x(), c.y()))
                })
                .collect();
            point_weights(&centres, spec)?
        }
    })
}

fn from_features(records: &[Record], spec: WeightsSpec, snap_m: f64) -> anyhow::Result<Locations> {
    let mut values = Vec::with_capacity(records.len());
    for r in records {
        values.push(
            r.value
                .with_context(|| format!("object {}: geen waarde in het --value-veld", r.id))?,
        );
    }
    let ids = records.iter().map(|r| r.id.clone()).collect();
    let all_points = records.iter().all(|r| matches!(r.shape, Shape::Point(..)));
    let all_areas = records.iter().all(|r| matches!(r.shape, Shape::Area(_)));
    if all_points {
        let pts: Vec<(f64, f64)> = records
            .iter()
            .map(|r| match r.shape {
                Shape::Point(x, y) => (x, y),
                Shape::Area(_) => (f64::NAN, f64::NAN),
            })
            .collect();
        Ok(Locations {
            ids,
            values,
            geometries: pts.iter().map(|&(x, y)| Point::new(x, y).into()).collect(),
            weights: point_weights(&pts, spec)?,
        })
    } else if all_areas {
        let polys: Vec<MultiPolygon<f64>> = records
            .iter()
            .filter_map(|r| match &r.shape {
                Shape::Area(p) => Some(p.clone()),
                Shape::Point(..) => None,
            })
            .collect();
        Ok(Locations {
            ids,
            values,
            weights: polygon_weights(&polys, spec, snap_m)?,
            geometries: polys.into_iter().map(Geometry::from).collect(),
        })
    } else {
        bail!("de invoer mengt punten en vlakken")
    }
}

fn grid_locations(records: &[Record], cell_m: u32, spec: WeightsSpec) -> anyhow::Result<Locations> {
    let events = input::events(records)?;
    let bins = bin_grid(&events, cell_m)?;
    let mut occupied: HashMap<(i64, i64), f64> = HashMap::new();
    for (id, v) in bins.ids.iter().zip(&bins.values) {
        if let BinId::Grid { row, col, .. } = id {
            occupied.insert((*col, *row), *v);
        }
    }
    let (Some(c0), Some(c1), Some(r0), Some(r1)) = (
        occupied.keys().map(|k| k.0).min(),
        occupied.keys().map(|k| k.0).max(),
        occupied.keys().map(|k| k.1).min(),
        occupied.keys().map(|k| k.1).max(),
    ) else {
        bail!("geen incidenten met coördinaten");
    };
    let n_cells = ((c1 - c0 + 1) as u128) * ((r1 - r0 + 1) as u128);
    anyhow::ensure!(
        n_cells <= MAX_GRID_CELLS as u128,
        "{n_cells} rastercellen in het gebied van de incidenten; kies een grotere cel of een kleiner gebied"
    );
    let mut cells = Vec::with_capacity(n_cells as usize);
    for row in r0..=r1 {
        for col in c0..=c1 {
            cells.push((col, row));
        }
    }
    let c = f64::from(cell_m);
    let weights = match spec {
        WeightsSpec::Queen => regular_grid(&cells, c, GridNeighbourhood::Queen)?,
        WeightsSpec::Rook => regular_grid(&cells, c, GridNeighbourhood::Rook)?,
        WeightsSpec::Distance(m) => regular_grid(
            &cells,
            c,
            GridNeighbourhood::DistanceBand { threshold_m: m },
        )?,
        WeightsSpec::Knn(k) => {
            let centres: Vec<(f64, f64)> = cells
                .iter()
                .map(|&(col, row)| ((col as f64 + 0.5) * c, (row as f64 + 0.5) * c))
                .collect();
            k_nearest(&centres, k)?
        }
    };
    let mut ids = Vec::with_capacity(cells.len());
    let mut values = Vec::with_capacity(cells.len());
    let mut geometries = Vec::with_capacity(cells.len());
    for &(col, row) in &cells {
        let id = BinId::Grid { cell_m, row, col };
        ids.push(id.name());
        values.push(occupied.get(&(col, row)).copied().unwrap_or(0.0));
        if let Some(p) = id.grid_polygon_m() {
            geometries.push(p.into());
        }
    }
    Ok(Locations {
        ids,
        values,
        geometries,
        weights,
    })
}

fn h3_locations(
    records: &[Record],
    resolution: u8,
    spec: WeightsSpec,
) -> anyhow::Result<Locations> {
    let events = input::events(records)?;
    let t = Transformer::new().context("PROJ-transformatie RD <-> WGS84")?;
    let to_wgs = |x: f64, y: f64| t.rd_to_wgs84(x, y).ok();
    let to_rd = |lon: f64, lat: f64| t.wgs84_to_rd(lon, lat).ok();
    let bins = bin_h3(&events, resolution, to_wgs, to_rd)?;
    let cells: Vec<_> = bins
        .ids
        .iter()
        .filter_map(|id| match id {
            BinId::H3(c) => Some(*c),
            _ => None,
        })
        .collect();
    let weights = match spec {
        WeightsSpec::Queen | WeightsSpec::Rook => h3_k_ring(&cells, 1)?,
        _ => point_weights(&bins.centres_m, spec)?,
    };
    let mut geometries = Vec::with_capacity(cells.len());
    for c in &cells {
        let p = h3_cell_polygon_m(*c, to_rd).context("H3-cel niet om te rekenen naar RD")?;
        geometries.push(p.into());
    }
    Ok(Locations {
        ids: bins.ids.iter().map(BinId::name).collect(),
        values: bins.values.clone(),
        geometries,
        weights,
    })
}

fn buurt_locations(
    db: &Path,
    args: &InputArgs,
    records: &[Record],
    spec: WeightsSpec,
    snap_m: f64,
) -> anyhow::Result<Locations> {
    let store = context::open_store(db)?;
    let prefix = args.area.as_deref().map(input::area_prefix).transpose()?;
    let buurten: Vec<_> = store
        .areas(AreaLevel::Buurt, None)?
        .into_iter()
        .filter(|a| {
            prefix
                .as_ref()
                .is_none_or(|p| a.code.starts_with(p.as_str()))
        })
        .collect();
    anyhow::ensure!(
        !buurten.is_empty(),
        "geen buurten in de database (importeer eerst CBS)"
    );
    let index: HashMap<&str, usize> = buurten
        .iter()
        .enumerate()
        .map(|(i, a)| (a.code.as_str(), i))
        .collect();
    let mut values = vec![0.0; buurten.len()];
    if args.input.is_none() {
        // Store incidents carry their buurt, also those located only to it (no point).
        for code in input::store_buurtcodes(db, args)? {
            if let Some(i) = index.get(code.as_str()) {
                values[*i] += 1.0;
            }
        }
    } else {
        // File points are located in the buurt polygons.
        let locator = context::area_index(&store)?;
        for r in records {
            if let Shape::Point(x, y) = r.shape {
                if let Some(i) = locator
                    .locate(x, y)
                    .and_then(|a| index.get(a.buurtcode.as_str()))
                {
                    values[*i] += 1.0;
                }
            }
        }
    }
    let polys: Vec<MultiPolygon<f64>> = buurten.iter().map(|a| a.geometry.clone()).collect();
    Ok(Locations {
        ids: buurten.iter().map(|a| a.code.clone()).collect(),
        values,
        weights: polygon_weights(&polys, spec, snap_m)?,
        geometries: polys.into_iter().map(Geometry::from).collect(),
    })
}

pub fn run(db: &Path, args: HotspotArgs, statistic: Statistic) -> anyhow::Result<ExitCode> {
    output::format_of(&args.output)?;
    let spec = parse_weights(args.weights.as_deref().unwrap_or("queen"))?;
    let records = input::load(db, &args.input, args.value.as_deref(), args.id.as_deref())?;
    anyhow::ensure!(
        !records.is_empty(),
        "geen invoer (0 objecten of incidenten)"
    );
    let locations = if args.value.is_some() {
        from_features(&records, spec, args.snap_m)?
    } else if records.iter().any(|r| matches!(r.shape, Shape::Area(_))) {
        bail!("vlakken vragen een --value-veld")
    } else {
        let bins: BinSpec = args
            .bins
            .parse()
            .map_err(|e| anyhow::anyhow!("--bins: {e}"))?;
        match bins {
            BinSpec::Grid { cell_m } => grid_locations(&records, cell_m, spec)?,
            BinSpec::H3 { resolution } => h3_locations(&records, resolution, spec)?,
            BinSpec::Area(brandpunt::analysis::grid::AreaLevel::Buurt) => {
                buurt_locations(db, &args.input, &records, spec, args.snap_m)?
            }
            BinSpec::Area(level) => {
                bail!("--bins {}: alleen buurt wordt ondersteund", level.keyword())
            }
        }
    };
    let islands = locations.weights.islands().len();
    let (table, layer) = match statistic {
        Statistic::GiStar => {
            let opts = GiStarOptions {
                fdr: !args.no_fdr,
                ..GiStarOptions::default()
            };
            let r = gi_star(&locations.values, &locations.weights, &opts)?;
            let mut t = Table::new(&[
                ("id", ColumnType::Text),
                ("value", ColumnType::Real),
                ("z", ColumnType::Real),
                ("p", ColumnType::Real),
                ("bin", ColumnType::Int),
            ]);
            for k in 0..locations.ids.len() {
                t.push(vec![
                    Value::from(locations.ids[k].as_str()),
                    Value::Real(locations.values[k]),
                    Value::Real(r.z[k]),
                    Value::Real(r.p[k]),
                    Value::Int(i64::from(r.bin[k])),
                ])?;
            }
            let hot = r.bin.iter().filter(|&&b| b > 0).count();
            let cold = r.bin.iter().filter(|&&b| b < 0).count();
            println!(
                "Gi*: {} locaties, {hot} hot spots, {cold} cold spots (90 %+), {islands} zonder buren",
                locations.ids.len()
            );
            (t, "gistar")
        }
        Statistic::Moran => {
            let r = local_moran(&locations.values, &locations.weights, None)?;
            let mut t = Table::new(&[
                ("id", ColumnType::Text),
                ("value", ColumnType::Real),
                ("i", ColumnType::Real),
                ("z", ColumnType::Real),
                ("p", ColumnType::Real),
                ("quadrant", ColumnType::Text),
            ]);
            for k in 0..locations.ids.len() {
                let q = match r.quadrant[k] {
                    Quadrant::HighHigh => "HH",
                    Quadrant::LowHigh => "LH",
                    Quadrant::LowLow => "LL",
                    Quadrant::HighLow => "HL",
                };
                t.push(vec![
                    Value::from(locations.ids[k].as_str()),
                    Value::Real(locations.values[k]),
                    Value::Real(r.i[k]),
                    Value::Real(r.z[k]),
                    Value::Real(r.p[k]),
                    Value::from(q),
                ])?;
            }
            println!(
                "Local Moran's I: {} locaties, {islands} zonder buren",
                locations.ids.len()
            );
            (t, "moran")
        }
    };
    output::write(&args.output, layer, &table, &locations.geometries)?;
    Ok(ExitCode::SUCCESS)
}
