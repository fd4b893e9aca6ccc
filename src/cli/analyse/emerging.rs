//! `brandpunt analyse emerging`: emerging hot spot analysis on a space-time cube of locations: square RD grid
//! cells (`--bins grid:CELL_M`), H3 cells (`h3:RES`) or areas (`buurt`, `wijk`, `gemeente`; see
//! [`super::bins`]).
//!
//! Neighbours: grid cells within `--distance` of each other's centre (default 1.5 cell sizes, the 8 surrounding
//! cells); H3 cells in each other's 1-ring, or with `--distance` centres within that distance; areas sharing a
//! boundary point (queen contiguity), or with `--distance` centroids within that distance. Only locations with
//! at least one incident in the period take part (the library drops the others). CSV output of grid cells has
//! the cell centre `x`,`y`; of H3 cells and areas the `id`; GeoPackage/GeoJSON carry the cell or area polygons.

use anyhow::{bail, Context};
use brandpunt::analysis::emerging::{
    emerging_hot_spots, grid_cube_from_events, EmergingError, EmergingOptions, EmergingResult,
    SpaceTimeCube, TimeSteps,
};
use brandpunt::analysis::grid::{BinId, BinSpec};
use brandpunt::analysis::places::{emerging_grid_neighbourhood, Coverage, Layout};
use brandpunt::analysis::weights::{distance_band, GridNeighbourhood, SpatialWeights};
use brandpunt::calendar::Step;
use brandpunt::export::{ColumnType, Table, Value};
use chrono::NaiveDate;
use geo_types::Geometry;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::bins;
use super::input::{self, InputArgs};
use super::output;

#[derive(clap::Args, Debug)]
pub struct EmergingArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Locations: grid:CELL_M (square RD cells aligned to multiples of the cell size), h3:RES (7..11), buurt,
    /// wijk or gemeente (areas of the newest CBS boundary set).
    #[arg(long, default_value = "grid:100")]
    pub bins: String,
    /// Time step: day, week (ISO, Monday-Sunday) or month.
    #[arg(long, default_value = "week", value_parser = ["day", "week", "month"])]
    pub step: String,
    /// Neighbourhood distance in metres between location centres; default for grid 1.5 cell sizes (the 8
    /// surrounding cells), for H3 the 1-ring, for areas queen contiguity.
    #[arg(long)]
    pub distance: Option<f64>,
    /// Time window in steps (the bin's own step and this many earlier steps).
    #[arg(long, default_value_t = 1)]
    pub time_window: usize,
    /// Output: `.csv`, `.gpkg`, `.fgb` or `.geojson` (cell or area polygons).
    #[arg(long)]
    pub output: PathBuf,
}

/// The steps from `--from`/`--to`, else the first..last day of `days`.
fn time_steps(
    args: &EmergingArgs,
    step: Step,
    days: impl Iterator<Item = NaiveDate> + Clone,
) -> anyhow::Result<TimeSteps> {
    let start = args
        .input
        .from
        .or_else(|| days.clone().min())
        .context("geen incidenten met een datum")?;
    let end = args
        .input
        .to
        .or_else(|| days.clone().max())
        .context("geen incidenten met een datum")?;
    TimeSteps::new(step, start, end)
        .with_context(|| format!("periode {start} t/m {end} in stappen van een {}", args.step))
}

/// Runs the library with Dutch errors (naming the flag) for the usual mistakes.
fn analyse(
    args: &EmergingArgs,
    cube: &SpaceTimeCube,
    weights: &SpatialWeights,
    options: &EmergingOptions,
) -> anyhow::Result<EmergingResult> {
    emerging_hot_spots(cube, weights, options, &brandpunt::cancel::Cancel::never()).map_err(|e| match e {
        EmergingError::TimeWindowTooLarge { k, max, steps } => anyhow::anyhow!(
            "--time-window {k}: hoogstens {max} bij {steps} stappen (75 %); kies een kleinere --time-window, een kleinere --step of een langere periode"
        ),
        EmergingError::NoIncidents => anyhow::anyhow!(
            "geen incidenten met een datum in de periode{}",
            match (args.input.from, args.input.to) {
                (None, None) => String::new(),
                (f, t) => format!(
                    " (--from {} --to {})",
                    f.map(|d| d.to_string()).unwrap_or_default(),
                    t.map(|d| d.to_string()).unwrap_or_default()
                ),
            }
        ),
        other => anyhow::Error::new(other).context("emerging hot spots"),
    })
}

/// Where each location of the result goes: its id or centre and its polygon.
struct Located {
    /// `Some((x, y))` for grid cells (cell centre), else `None` (the id is written).
    centre: Option<(f64, f64)>,
    id: String,
    geometry: Option<Geometry<f64>>,
}

fn write(
    args: &EmergingArgs,
    result: &EmergingResult,
    grid: bool,
    locate: impl Fn(usize) -> anyhow::Result<Located>,
) -> anyhow::Result<()> {
    let mut columns = if grid {
        vec![("x", ColumnType::Real), ("y", ColumnType::Real)]
    } else {
        vec![("id", ColumnType::Text)]
    };
    columns.extend([
        ("category", ColumnType::Text),
        ("trend_z", ColumnType::Real),
        ("trend_p", ColumnType::Real),
        ("hot_steps", ColumnType::Int),
        ("cold_steps", ColumnType::Int),
        ("final_z", ColumnType::Real),
    ]);
    let mut table = Table::new(&columns);
    let mut geometries: Vec<Geometry<f64>> = Vec::with_capacity(result.locations.len());
    for loc in &result.locations {
        let l = locate(loc.location)?;
        let mut row = match l.centre {
            Some((x, y)) => vec![Value::Real(x), Value::Real(y)],
            None => vec![Value::from(l.id.as_str())],
        };
        row.extend([
            Value::from(loc.category.as_str()),
            Value::Real(loc.trend_z),
            Value::Real(loc.trend_p),
            Value::from(loc.hot_steps),
            Value::from(loc.cold_steps),
            Value::Real(loc.final_z),
        ]);
        table.push(row)?;
        if let Some(g) = l.geometry {
            geometries.push(g);
        }
    }
    output::write(&args.output, "emerging", &table, &geometries)
}

fn report(
    what: &str,
    result: &EmergingResult,
    steps: &TimeSteps,
    without_time: usize,
    outside: usize,
) {
    println!(
        "Emerging hot spots: {} {what} x {} stappen ({} t/m {}); {} incidenten zonder tijd, {} buiten de periode",
        result.locations.len(),
        result.n_steps,
        steps.starts.first().map(|d| d.to_string()).unwrap_or_default(),
        steps.ends.last().map(|d| d.to_string()).unwrap_or_default(),
        without_time,
        outside
    );
}

pub fn run(db: &Path, args: EmergingArgs) -> anyhow::Result<ExitCode> {
    output::format_of(&args.output)?;
    let spec = bins::parse_bins(&args.bins)?;
    if let Some(d) = args.distance {
        anyhow::ensure!(
            d.is_finite() && d > 0.0,
            "--distance {d}: geef een afstand in meters groter dan 0"
        );
    }
    let step = Step::parse(&args.step).unwrap_or(Step::Week);
    let options = EmergingOptions {
        time_window: args.time_window,
        ..EmergingOptions::default()
    };
    let records = input::load(db, &args.input, None, None)?;
    let BinSpec::Grid { cell_m } = spec else {
        return run_places(db, &args, spec, step, &records, &options);
    };
    let events = input::events(&records)?;
    let steps = time_steps(
        &args,
        step,
        events
            .iter()
            .filter_map(|e| e.begin.or(e.end).map(|t| t.date())),
    )?;
    let c = f64::from(cell_m);
    let cube = grid_cube_from_events(&events, c, &steps)?;
    let neighbourhood = match args.distance {
        Some(threshold_m) => GridNeighbourhood::DistanceBand { threshold_m },
        None => emerging_grid_neighbourhood(c),
    };
    let weights = cube.weights(neighbourhood)?;
    let result = analyse(&args, &cube.cube, &weights, &options)?;
    write(&args, &result, true, |i| {
        let (col, row) = *cube
            .cells
            .get(i)
            .context("interne fout: locatie buiten de kubus")?;
        let id = BinId::Grid { cell_m, row, col };
        Ok(Located {
            centre: Some(id.grid_centre_m().context("interne fout: geen celmidden")?),
            id: id.name(),
            geometry: id.grid_polygon_m().map(Geometry::from),
        })
    })?;
    report(
        "cellen",
        &result,
        &steps,
        cube.skipped_without_time,
        cube.skipped_outside_period,
    );
    Ok(ExitCode::SUCCESS)
}

/// H3 cells and areas: the cube from the assigned incidents.
fn run_places(
    db: &Path,
    args: &EmergingArgs,
    spec: BinSpec,
    step: Step,
    records: &[input::Record],
    options: &EmergingOptions,
) -> anyhow::Result<ExitCode> {
    let a = bins::assign(db, &args.input, records, spec, Coverage::Occupied)?;
    let steps = time_steps(
        args,
        step,
        a.hits
            .iter()
            .filter_map(|h| h.begin.or(h.end).map(|t| t.date())),
    )?;
    let n_steps = steps.len();
    let mut counts = vec![0.0; a.places.len() * n_steps];
    let (mut without_time, mut outside) = (0usize, 0usize);
    for h in &a.hits {
        let Some(t) = h.begin.or(h.end) else {
            without_time += 1;
            continue;
        };
        match steps.step_of(t.date()) {
            Some(s) => counts[h.place * n_steps + s] += 1.0,
            None => outside += 1,
        }
    }
    let cube = SpaceTimeCube::from_counts(a.places.len(), n_steps, counts)?;
    let weights = match (args.distance, &a.places.layout) {
        (Some(m), _) => distance_band(&a.places.centres_m, m)?,
        (None, Layout::Areas { .. } | Layout::H3 { .. }) => a.places.default_weights()?,
        (None, Layout::Grid { .. }) => bail!("interne fout: rasterkubus buiten het rasterpad"),
    };
    let result = analyse(args, &cube, &weights, options)?;
    let geometries = if matches!(
        output::format_of(&args.output)?,
        output::Format::Csv | output::Format::Xlsx
    ) {
        None
    } else {
        Some(bins::geometries(&a.places)?)
    };
    write(args, &result, false, |i| {
        Ok(Located {
            centre: None,
            id: a
                .places
                .ids
                .get(i)
                .cloned()
                .context("interne fout: locatie buiten de kubus")?,
            geometry: geometries.as_ref().and_then(|g| g.get(i).cloned()),
        })
    })?;
    let what = match spec {
        BinSpec::Area(level) => bins::plural(level),
        _ => "H3-cellen",
    };
    report(what, &result, &steps, without_time, outside);
    if a.unassigned > 0 {
        eprintln!("{} incidenten vallen in geen {spec}", a.unassigned);
    }
    Ok(ExitCode::SUCCESS)
}
