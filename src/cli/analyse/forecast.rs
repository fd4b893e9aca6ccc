//! `brandpunt analyse forecast`: risk per grid cell for the days from `--at`, from the incidents before it
//! (`brandpunt::analysis::forecast`: naive counts, retrospective quartic KDE, prospective hot spot, grid SEPP).
//!
//! Grid: `--cell` metres over `--extent` (default: the bounding box of the loaded incidents, snapped outwards to
//! multiples of the cell), anchored at the extent's lower-left corner. Output by extension: `.tif` (GeoTIFF,
//! every cell), `.csv` (`x`,`y` = cell centre, `risk`; every cell, south row first), `.gpkg` / `.geojson`
//! (cell squares with `risk` > 0). SEPP writes its fitted parameters beside the output (`<output>.sepp.json`).

use anyhow::{bail, Context};
use brandpunt::analysis::forecast::{forecast, Forecast, GridSpec, Method, Window};
use brandpunt::analysis::kde::Extent;
use brandpunt::analysis::Event;
use brandpunt::cancel::Cancel;
use brandpunt::export::{write_geotiff, ColumnType, Table, Value};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use geo_types::{Geometry, Rect};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::stats::parse_date;
use super::input::{self, InputArgs};
use super::kde::parse_extent;
use super::output::{self, format_of, Format};

#[derive(clap::Args, Debug)]
pub struct ForecastArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Method: naive, kde, prospective, sepp.
    #[arg(long, default_value = "naive")]
    pub method: String,
    /// Cell size in metres.
    #[arg(long, default_value_t = 125.0)]
    pub cell: f64,
    /// Grid extent `minx,miny,maxx,maxy` in RD metres; default the incidents' bounding box.
    #[arg(long, value_parser = parse_extent, allow_hyphen_values = true)]
    pub extent: Option<Extent>,
    /// Forecast day: only incidents before its start (00:00) are used.
    #[arg(long, value_parser = parse_date)]
    pub at: NaiveDate,
    /// Days the forecast is for (from `--at`); recorded with the output.
    #[arg(long, default_value_t = 7)]
    pub horizon: u32,
    /// naive, kde, sepp: incidents of the last N days before `--at`, or `all` (default 28; sepp: all).
    #[arg(long)]
    pub days: Option<String>,
    /// kde: kernel radius in metres.
    #[arg(long, default_value_t = 200.0)]
    pub bandwidth: f64,
    /// prospective: space cut-off in cells (Chebyshev distance < N).
    #[arg(long, default_value_t = 8)]
    pub space_cells: u32,
    /// prospective: time cut-off in whole weeks (< N).
    #[arg(long, default_value_t = 8)]
    pub time_weeks: u32,
    /// sepp: EM iterations.
    #[arg(long, default_value_t = 20)]
    pub iterations: u32,
    /// sepp: Lewis-Mohler edge correction.
    #[arg(long)]
    pub corrected: bool,
    /// Output: `.tif`, `.csv`, `.gpkg`, `.fgb` or `.geojson`.
    #[arg(long)]
    pub output: PathBuf,
}

/// The parameters of the forecast methods as the command line and the API give them.
#[derive(Clone, Debug)]
pub struct MethodArgs<'a> {
    pub method: &'a str,
    pub days: Option<&'a str>,
    pub bandwidth_m: f64,
    pub space_cells: u32,
    pub time_weeks: u32,
    pub iterations: u32,
    pub corrected: bool,
}

/// `--days N|all`.
pub fn parse_window(s: Option<&str>, default: Window) -> anyhow::Result<Window> {
    let Some(s) = s else { return Ok(default) };
    let s = s.trim();
    if s.eq_ignore_ascii_case("all") || s.eq_ignore_ascii_case("alles") {
        return Ok(Window::All);
    }
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(Window::Days(n)),
        _ => bail!("--days '{s}': geef een aantal dagen (>= 1) of 'all'"),
    }
}

/// The method of `--method` with its parameters.
pub fn method_of(a: &MethodArgs<'_>) -> anyhow::Result<Method> {
    use brandpunt::analysis::forecast::{prospective, sepp};
    anyhow::ensure!(
        (1..=prospective::MAX_SPACE_CELLS).contains(&a.space_cells),
        "--space-cells {}: kies 1 tot en met {}",
        a.space_cells,
        prospective::MAX_SPACE_CELLS
    );
    anyhow::ensure!(
        (1..=prospective::MAX_TIME_WEEKS).contains(&a.time_weeks),
        "--time-weeks {}: kies 1 tot en met {}",
        a.time_weeks,
        prospective::MAX_TIME_WEEKS
    );
    anyhow::ensure!(
        (1..=sepp::MAX_ITERATIONS).contains(&a.iterations),
        "--iterations {}: kies 1 tot en met {}",
        a.iterations,
        sepp::MAX_ITERATIONS
    );
    Ok(match a.method.trim().to_ascii_lowercase().as_str() {
        "naive" => Method::Naive {
            window: parse_window(a.days, Window::Days(28))?,
        },
        "kde" => {
            anyhow::ensure!(
                a.bandwidth_m.is_finite() && a.bandwidth_m > 0.0,
                "--bandwidth {}: moet een positief aantal meters zijn",
                a.bandwidth_m
            );
            Method::Kde {
                window: parse_window(a.days, Window::Days(28))?,
                bandwidth_m: a.bandwidth_m,
            }
        }
        "prospective" => Method::Prospective {
            space_cells: a.space_cells,
            time_weeks: a.time_weeks,
        },
        "sepp" => Method::Sepp {
            window: parse_window(a.days, Window::All)?,
            iterations: a.iterations,
            corrected: a.corrected,
        },
        other => bail!("--method '{other}': kies naive, kde, prospective of sepp"),
    })
}

/// The grid of `--extent`, or the incidents' bounding box snapped outwards to multiples of the cell.
pub fn grid_of(events: &[Event], extent: Option<Extent>, cell_m: f64) -> anyhow::Result<GridSpec> {
    anyhow::ensure!(
        cell_m.is_finite() && cell_m > 0.0,
        "--cell {cell_m}: moet een positief aantal meters zijn"
    );
    if let Some(e) = extent {
        return GridSpec::covering(e, cell_m).map_err(|e| anyhow::anyhow!("--extent/--cell: {e}"));
    }
    let (mut minx, mut miny, mut maxx, mut maxy) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for e in events
        .iter()
        .filter(|e| e.x_m.is_finite() && e.y_m.is_finite())
    {
        minx = minx.min(e.x_m);
        miny = miny.min(e.y_m);
        maxx = maxx.max(e.x_m);
        maxy = maxy.max(e.y_m);
    }
    anyhow::ensure!(minx.is_finite(), "geen incidenten met coördinaten");
    let extent = Extent {
        minx_m: minx,
        miny_m: miny,
        maxx_m: maxx,
        maxy_m: maxy,
    };
    GridSpec::snapped_around(extent, cell_m).map_err(|e| anyhow::anyhow!("--extent/--cell: {e}"))
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

pub fn run(db: &Path, args: ForecastArgs) -> anyhow::Result<ExitCode> {
    let format = format_of(&args.output)?;
    anyhow::ensure!(
        format != Format::Json,
        "{}: kies .tif, .csv, .gpkg, .fgb of .geojson",
        args.output.display()
    );
    anyhow::ensure!(
        (1..=366).contains(&args.horizon),
        "--horizon {}: kies 1 tot en met 366 dagen",
        args.horizon
    );
    let method = method_of(&MethodArgs {
        method: &args.method,
        days: args.days.as_deref(),
        bandwidth_m: args.bandwidth,
        space_cells: args.space_cells,
        time_weeks: args.time_weeks,
        iterations: args.iterations,
        corrected: args.corrected,
    })?;
    let records = input::load(db, &args.input, None, None)?;
    let events = input::events(&records)?;
    let grid = grid_of(&events, args.extent, args.cell)?;
    let at = midnight(args.at);
    let f = forecast(&events, &grid, at, &method, &Cancel::never())
        .map_err(|e| anyhow::anyhow!("voorspelling ({}): {e}", method.name()))?;
    write(&args.output, format, &f)?;
    if let Some(fit) = &f.sepp {
        let path = PathBuf::from(format!("{}.sepp.json", args.output.display()));
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "method": method.name(),
            "at": at,
            "horizon_days": args.horizon,
            "fit": fit,
        }))?;
        std::fs::write(&path, text)
            .with_context(|| format!("{}: kan niet schrijven", path.display()))?;
        println!(
            "SEPP: theta {:.6}, omega {:.6e} per minuut (gemiddelde vertraging {:.2} dagen) -> {}",
            fit.theta,
            fit.omega_per_minute,
            fit.mean_trigger_delay_days,
            path.display()
        );
    }
    println!(
        "Voorspelling {} op {} (horizon {} dagen): {} incidenten gebruikt, {} x {} cellen van {} m -> {}",
        method.name(),
        args.at,
        args.horizon,
        f.events_used,
        grid.ncols,
        grid.nrows,
        grid.cell_m,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The forecast as a table of cell centres (`x`, `y`, `risk`), every cell, south row first.
pub fn centre_table(f: &Forecast) -> Table {
    let mut t = Table::new(&[
        ("x", ColumnType::Real),
        ("y", ColumnType::Real),
        ("risk", ColumnType::Real),
    ]);
    for (k, &v) in f.grid.values.iter().enumerate() {
        let (x, y) = f.grid.spec.centre_m(k);
        t.rows
            .push(vec![Value::Real(x), Value::Real(y), Value::Real(v)]);
    }
    t
}

fn write(path: &Path, format: Format, f: &Forecast) -> anyhow::Result<()> {
    match format {
        Format::GeoTiff => {
            let r = f.grid.spec.to_raster(&f.grid.values);
            write_geotiff(path, &r)
                .with_context(|| format!("{}: GeoTIFF schrijven", path.display()))?;
        }
        Format::Csv => output::write(path, "forecast", &centre_table(f), &[])?,
        _ => {
            let spec = &f.grid.spec;
            let mut t = Table::new(&[
                ("x", ColumnType::Real),
                ("y", ColumnType::Real),
                ("risk", ColumnType::Real),
            ]);
            let mut geoms = Vec::new();
            let h = spec.cell_m / 2.0;
            for (k, &v) in f.grid.values.iter().enumerate() {
                if v > 0.0 {
                    let (x, y) = spec.centre_m(k);
                    t.rows
                        .push(vec![Value::Real(x), Value::Real(y), Value::Real(v)]);
                    geoms.push(Geometry::Polygon(
                        Rect::new((x - h, y - h), (x + h, y + h)).to_polygon(),
                    ));
                }
            }
            output::write(path, "forecast", &t, &geoms)?;
        }
    }
    Ok(())
}
