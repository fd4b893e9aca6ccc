//! `brandpunt analyse emerging`: emerging hot spot analysis on a space-time cube of square RD grid cells.

use anyhow::{bail, Context};
use brandpunt::analysis::emerging::{
    emerging_hot_spots, grid_cube_from_events, EmergingOptions, TimeStep, TimeSteps,
};
use brandpunt::analysis::grid::{BinId, BinSpec};
use brandpunt::analysis::weights::GridNeighbourhood;
use brandpunt::export::{ColumnType, Table, Value};
use geo_types::Geometry;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::input::{self, InputArgs};
use super::output;

#[derive(clap::Args, Debug)]
pub struct EmergingArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Locations: grid:CELL_M (square RD cells aligned to multiples of the cell size).
    #[arg(long, default_value = "grid:100")]
    pub bins: String,
    /// Time step: day, week (ISO, Monday-Sunday) or month.
    #[arg(long, default_value = "week", value_parser = ["day", "week", "month"])]
    pub step: String,
    /// Neighbourhood distance in metres between cell centres; default 1.5 cell sizes (the 8 surrounding cells).
    #[arg(long)]
    pub distance: Option<f64>,
    /// Time window in steps (the bin's own step and this many earlier steps).
    #[arg(long, default_value_t = 1)]
    pub time_window: usize,
    /// Output: `.csv`, `.gpkg` or `.geojson` (cell polygons).
    #[arg(long)]
    pub output: PathBuf,
}

pub fn run(db: &Path, args: EmergingArgs) -> anyhow::Result<ExitCode> {
    output::format_of(&args.output)?;
    let cell_m = match args.bins.parse::<BinSpec>() {
        Ok(BinSpec::Grid { cell_m }) => cell_m,
        Ok(other) => bail!("--bins {other}: emerging ondersteunt alleen grid:CELL_M"),
        Err(e) => bail!("--bins: {e}"),
    };
    let step = match args.step.as_str() {
        "day" => TimeStep::Day,
        "month" => TimeStep::Month,
        _ => TimeStep::IsoWeek,
    };
    let records = input::load(db, &args.input, None, None)?;
    let events = input::events(&records)?;
    // Period: --from/--to, else the data's first..last day.
    let days = || {
        events
            .iter()
            .filter_map(|e| e.begin.or(e.end).map(|t| t.date()))
    };
    let start = args
        .input
        .from
        .or_else(|| days().min())
        .context("geen incidenten met een datum")?;
    let end = args
        .input
        .to
        .or_else(|| days().max())
        .context("geen incidenten met een datum")?;
    let steps = TimeSteps::new(step, start, end)?;
    let c = f64::from(cell_m);
    let cube = grid_cube_from_events(&events, c, &steps)?;
    let threshold_m = args.distance.unwrap_or(1.5 * c);
    let weights = cube.weights(GridNeighbourhood::DistanceBand { threshold_m })?;
    let options = EmergingOptions {
        time_window: args.time_window,
        ..EmergingOptions::default()
    };
    let result = emerging_hot_spots(&cube.cube, &weights, &options)?;

    let mut table = Table::new(&[
        ("x", ColumnType::Real),
        ("y", ColumnType::Real),
        ("category", ColumnType::Text),
        ("trend_z", ColumnType::Real),
        ("trend_p", ColumnType::Real),
        ("hot_steps", ColumnType::Int),
        ("cold_steps", ColumnType::Int),
        ("final_z", ColumnType::Real),
    ]);
    let mut geometries: Vec<Geometry<f64>> = Vec::with_capacity(result.locations.len());
    for loc in &result.locations {
        let (col, row) = *cube
            .cells
            .get(loc.location)
            .context("interne fout: locatie buiten de kubus")?;
        let id = BinId::Grid { cell_m, row, col };
        let (x, y) = id.grid_centre_m().context("interne fout: geen celmidden")?;
        if let Some(p) = id.grid_polygon_m() {
            geometries.push(p.into());
        }
        table.push(vec![
            Value::Real(x),
            Value::Real(y),
            Value::from(loc.category.as_str()),
            Value::Real(loc.trend_z),
            Value::Real(loc.trend_p),
            Value::from(loc.hot_steps),
            Value::from(loc.cold_steps),
            Value::Real(loc.final_z),
        ])?;
    }
    output::write(&args.output, "emerging", &table, &geometries)?;
    println!(
        "Emerging hot spots: {} cellen x {} stappen ({} t/m {}); {} incidenten zonder tijd, {} buiten de periode",
        result.locations.len(),
        result.n_steps,
        steps.starts.first().map(|d| d.to_string()).unwrap_or_default(),
        steps.ends.last().map(|d| d.to_string()).unwrap_or_default(),
        cube.skipped_without_time,
        cube.skipped_outside_period
    );
    Ok(ExitCode::SUCCESS)
}
