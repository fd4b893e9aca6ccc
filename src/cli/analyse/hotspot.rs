//! `brandpunt analyse gistar` and `brandpunt analyse moran`: local statistics on locations with a value.
//!
//! Locations are, in this order of precedence:
//! - polygons of the input file with `--value` (queen/rook contiguity, or knn/distance on centroids);
//! - points of the input file with `--value` (knn/distance);
//! - incident points (store or file) without `--value`: counted per bin (`--bins grid:100|h3:9|buurt|wijk|
//!   gemeente`, see [`super::bins`]). A grid uses every cell of the bounding box of the incidents, empty cells
//!   included (value 0), so hot spots are measured against the quiet surroundings too; H3 uses the occupied
//!   cells; areas every area of the newest CBS boundary set (within `--area` when given), empty ones included.
//!
//! `--permutations N [--seed S]` adds the conditional-permutation pseudo p-value (`p_sim`) of the library.

use anyhow::{bail, Context};
use brandpunt::analysis::gistar::{gi_star, GiStarOptions};
use brandpunt::analysis::grid::BinSpec;
use brandpunt::analysis::moran::{local_moran, Quadrant};
use brandpunt::analysis::places::{Coverage, WeightsRule};
use brandpunt::analysis::weights::SpatialWeights;
use brandpunt::export::{ColumnType, Table, Value};
use geo_types::{Geometry, MultiPolygon, Point};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::bins;
use super::input::{self, InputArgs, Record, Shape};
use super::output;

/// Seed of the permutations when `--seed` is not given.
pub const DEFAULT_SEED: u64 = 12345;

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
    /// Binning of incident points without `--value`: grid:CELL_M (default grid:100), h3:RES (7..11), buurt, wijk
    /// or gemeente.
    #[arg(long)]
    pub bins: Option<String>,
    /// Vertex snapping tolerance in metres for queen/rook contiguity between polygons.
    #[arg(long, default_value_t = 1e-6)]
    pub snap_m: f64,
    /// Gi*: bins without the Benjamini-Hochberg FDR correction.
    #[arg(long)]
    pub no_fdr: bool,
    /// Number of conditional permutations for a pseudo p-value (`p_sim` column), e.g. 999.
    #[arg(long)]
    pub permutations: Option<usize>,
    /// Seed of the permutations (with `--permutations`; default 12345), for reproducible `p_sim`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output: `.csv`, `.gpkg`, `.fgb` or `.geojson`.
    #[arg(long)]
    pub output: PathBuf,
}

/// Which statistic to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    GiStar,
    Moran,
}

/// Locations with a value, geometry (RD) and weights.
struct Locations {
    ids: Vec<String>,
    values: Vec<f64>,
    geometries: Vec<Geometry<f64>>,
    weights: SpatialWeights,
}

fn from_features(records: &[Record], spec: WeightsRule, snap_m: f64) -> anyhow::Result<Locations> {
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
            weights: bins::point_weights(&pts, spec)?,
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
            weights: bins::polygon_weights(&polys, spec, snap_m)?,
            geometries: polys.into_iter().map(Geometry::from).collect(),
        })
    } else {
        bail!("de invoer mengt punten en vlakken")
    }
}

/// Incidents counted per place of `--bins`.
fn binned(
    db: &Path,
    args: &HotspotArgs,
    bin_spec: BinSpec,
    records: &[Record],
    spec: WeightsRule,
) -> anyhow::Result<Locations> {
    let coverage = match bin_spec {
        BinSpec::H3 { .. } => Coverage::Occupied,
        _ => Coverage::BoundingBox,
    };
    let a = bins::assign(db, &args.input, records, bin_spec, coverage)?;
    let values = a.counts();
    if a.unassigned > 0 {
        eprintln!(
            "{} incidenten vallen in geen {} en tellen niet mee",
            a.unassigned, bin_spec
        );
    }
    Ok(Locations {
        weights: bins::weights(&a.places, spec, args.snap_m)?,
        geometries: bins::geometries(&a.places)?,
        ids: a.places.ids,
        values,
    })
}

pub fn run(db: &Path, args: HotspotArgs, statistic: Statistic) -> anyhow::Result<ExitCode> {
    output::format_of(&args.output)?;
    let spec = bins::parse_weights(args.weights.as_deref().unwrap_or("queen"))?;
    let permutations = match (args.permutations, args.seed) {
        (Some(0), _) => bail!("--permutations moet minstens 1 zijn (bijvoorbeeld 999)"),
        (Some(n), seed) => Some((n, seed.unwrap_or(DEFAULT_SEED))),
        (None, Some(_)) => bail!("--seed geldt alleen samen met --permutations N"),
        (None, None) => None,
    };
    if args.value.is_some() && args.bins.is_some() {
        bail!("--bins telt incidenten; met --value worden de objecten zelf geanalyseerd: kies een van beide");
    }
    let bin_spec = bins::parse_bins(args.bins.as_deref().unwrap_or("grid:100"))?;
    let records = input::load(db, &args.input, args.value.as_deref(), args.id.as_deref())?;
    let locations = if args.value.is_some() {
        anyhow::ensure!(!records.is_empty(), "geen invoer (0 objecten)");
        from_features(&records, spec, args.snap_m)?
    } else if records.iter().any(|r| matches!(r.shape, Shape::Area(_))) {
        bail!("de invoer bevat vlakken: geef met --value het veld met de waarde per vlak")
    } else {
        // Store incidents per area count by buurtcode, so located points are not required there.
        let store_areas = args.input.input.is_none() && matches!(bin_spec, BinSpec::Area(_));
        anyhow::ensure!(
            !records.is_empty() || store_areas,
            "geen invoer (0 incidenten met coördinaten)"
        );
        binned(db, &args, bin_spec, &records, spec)?
    };
    let n = locations.ids.len();
    let (what, min) = match statistic {
        Statistic::GiStar => ("Gi*", 3),
        Statistic::Moran => ("Local Moran's I", 4),
    };
    let source = match (&args.value, &args.bins) {
        (Some(v), _) => format!("--value {v}"),
        (None, b) => format!("--bins {}", b.as_deref().unwrap_or("grid:100")),
    };
    anyhow::ensure!(
        n >= min,
        "{what} vraagt minstens {min} locaties; {source} geeft er {n}"
    );
    anyhow::ensure!(
        locations.values.iter().any(|v| *v != locations.values[0]),
        "{what}: alle {n} locaties hebben dezelfde waarde ({}); zonder variatie zijn er geen hot spots ({source})",
        locations.values[0]
    );
    let islands = locations.weights.islands().len();
    let (table, layer) = match statistic {
        Statistic::GiStar => {
            let opts = GiStarOptions {
                fdr: !args.no_fdr,
                permutations,
                ..GiStarOptions::default()
            };
            let r = gi_star(&locations.values, &locations.weights, &opts)
                .context("Gi* niet te berekenen")?;
            let mut columns = vec![
                ("id", ColumnType::Text),
                ("value", ColumnType::Real),
                ("z", ColumnType::Real),
                ("p", ColumnType::Real),
                ("bin", ColumnType::Int),
            ];
            if r.pseudo_p.is_some() {
                columns.push(("p_sim", ColumnType::Real));
            }
            let mut t = Table::new(&columns);
            for k in 0..locations.ids.len() {
                let mut row = vec![
                    Value::from(locations.ids[k].as_str()),
                    Value::Real(locations.values[k]),
                    Value::Real(r.z[k]),
                    Value::Real(r.p[k]),
                    Value::Int(i64::from(r.bin[k])),
                ];
                if let Some(ps) = &r.pseudo_p {
                    row.push(Value::Real(ps[k]));
                }
                t.push(row)?;
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
            let r = local_moran(&locations.values, &locations.weights, permutations)
                .context("Local Moran's I niet te berekenen")?;
            let mut columns = vec![
                ("id", ColumnType::Text),
                ("value", ColumnType::Real),
                ("i", ColumnType::Real),
                ("z", ColumnType::Real),
                ("p", ColumnType::Real),
                ("quadrant", ColumnType::Text),
            ];
            if r.pseudo_p.is_some() {
                columns.push(("p_sim", ColumnType::Real));
            }
            let mut t = Table::new(&columns);
            for k in 0..locations.ids.len() {
                let q = match r.quadrant[k] {
                    Quadrant::HighHigh => "HH",
                    Quadrant::LowHigh => "LH",
                    Quadrant::LowLow => "LL",
                    Quadrant::HighLow => "HL",
                };
                let mut row = vec![
                    Value::from(locations.ids[k].as_str()),
                    Value::Real(locations.values[k]),
                    Value::Real(r.i[k]),
                    Value::Real(r.z[k]),
                    Value::Real(r.p[k]),
                    Value::from(q),
                ];
                if let Some(ps) = &r.pseudo_p {
                    row.push(Value::Real(ps[k]));
                }
                t.push(row)?;
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
