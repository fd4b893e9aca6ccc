//! `brandpunt analyse near-repeat`: the near-repeat (Knox) test of [`brandpunt::analysis::near_repeat`].
//!
//! Input: the store's incidents (the usual filters; an incident's day is the day its window begins, as the
//! filters count it) or `--input F`. A CSV file is read here, in one of two forms:
//! - with a header: `x`,`y` (or `lat`,`lon`) and a date column `datum`/`date` (or `begin`/`start`);
//! - without a header: `x,y,date` per line (the Near Repeat Calculator's input), recognised when the first line
//!   starts with two numbers.
//!
//! Only distances matter, so `x`,`y` are used as given, in the metres of their projected coordinate system (RD
//! New by default; `--input-crs EPSG:26971` and any other projected EPSG code are accepted and not reprojected).
//! `--input-crs EPSG:4326` (or `lat`,`lon` columns) and `EPSG:3857` are converted to RD New metres. Other files
//! are read by the common reader (GDAL vector files, reprojected to RD New). Dates: `yyyy-mm-dd`, `dd-mm-yyyy`,
//! `yyyy/mm/dd`, optionally with a time (ignored: whole days count).
//!
//! Output by extension: `.csv` (the table: `distance_band,time_band,observed,expected,ratio,p,expected_analytic,
//! ratio_analytic`) or `.json` (the table with its settings, pairs, row and column totals).

use anyhow::{bail, Context};
use brandpunt::analysis::near_repeat::{knox, KnoxParams, KnoxTable, Metric, NearRepeatEvent};
use brandpunt::cancel::Cancel;
use brandpunt::coords::Transformer;
use brandpunt::export::{write_csv, ColumnType, Table, Value};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::input::{self, InputArgs, InputCrs};
use super::output::{format_of, Format};

#[derive(clap::Args, Debug)]
pub struct NearRepeatArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Upper bounds of the distance bands in metres, strictly increasing (bands `(0,b1)`, `[b1,b2)`, ...,
    /// `[bK,inf)` after the same location, distance 0).
    #[arg(long, default_value = "100,200,300,400")]
    pub distance_bands: String,
    /// Upper bounds of the time bands in whole days, strictly increasing (bands `[0,t1)`, ..., `[tK,inf)`).
    #[arg(long, default_value = "7,14,21,28")]
    pub time_bands: String,
    /// Distance: `euclidean` or `manhattan`.
    #[arg(long, default_value = "euclidean")]
    pub metric: String,
    /// Permutations of the days (19 to 9999).
    #[arg(long, default_value_t = 999)]
    pub iterations: u32,
    /// Seed of the permutations (the same seed gives the same table).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Single-precision distances, as Ratcliffe's Near Repeat Calculator (its tables match cell by cell).
    #[arg(long)]
    pub nrc_compatible: bool,
    /// Output: `.csv` (the table) or `.json` (the table with its settings and totals).
    #[arg(long)]
    pub output: PathBuf,
}

/// Parses a comma-separated list of band bounds; the error names the flag.
fn bounds<T: std::str::FromStr>(flag: &str, s: &str) -> anyhow::Result<Vec<T>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<T>()
                .map_err(|_| anyhow::anyhow!("{flag} '{s}': '{p}' is geen geldige grens"))
        })
        .collect()
}

pub fn run(db: &Path, args: NearRepeatArgs) -> anyhow::Result<ExitCode> {
    let format = format_of(&args.output)?;
    if !matches!(format, Format::Csv | Format::Json | Format::Xlsx) {
        bail!(
            "{}: near-repeat schrijft .csv, .xlsx of .json",
            args.output.display()
        );
    }
    let metric = Metric::parse(&args.metric)
        .with_context(|| format!("--metric '{}': kies euclidean of manhattan", args.metric))?;
    let params = KnoxParams {
        distance_bands_m: bounds("--distance-bands", &args.distance_bands)?,
        time_bands_days: bounds("--time-bands", &args.time_bands)?,
        metric,
        iterations: args.iterations,
        seed: args.seed,
        nrc_compatible: args.nrc_compatible,
    };
    // Settings first, so a bad band fails before the input is read.
    brandpunt::analysis::near_repeat::validate(&params, 2).map_err(flag_error)?;
    let events = load_events(db, &args.input)?;
    let table = knox(&events, &params, &Cancel::never()).map_err(flag_error)?;
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&table)?;
            std::fs::write(&args.output, text)
                .with_context(|| format!("{}: kan niet schrijven", args.output.display()))?;
        }
        Format::Xlsx => super::output::write_xlsx(&args.output, "Nabijheid", &csv_table(&table))?,
        _ => write_csv(&args.output, &csv_table(&table))?,
    }
    let first = table.cell(1, 0);
    println!(
        "near-repeat: {} gebeurtenissen, {} paren ({} binnen {} m), {} simulaties (seed {}); {} x {}: {} paren, ratio {}, p {} -> {}",
        table.events,
        table.pairs,
        table.close_pairs,
        params.distance_bands_m.last().copied().unwrap_or_default(),
        table.iterations,
        table.seed,
        first.distance_band,
        first.time_band,
        first.observed,
        first.ratio.map_or("-".to_string(), |r| format!("{r:.3}")),
        first.p,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The core's error with the command-line flag it concerns.
fn flag_error(e: brandpunt::analysis::near_repeat::NearRepeatError) -> anyhow::Error {
    match e.parameter() {
        Some("events") => anyhow::anyhow!("invoer: {e}"),
        Some(p) => anyhow::anyhow!("--{}: {e}", p.replace('_', "-")),
        None => anyhow::anyhow!("{e}"),
    }
}

/// The table's rows with the columns of the issue.
fn csv_table(t: &KnoxTable) -> Table {
    let mut table = Table::new(&[
        ("distance_band", ColumnType::Text),
        ("time_band", ColumnType::Text),
        ("observed", ColumnType::Int),
        ("expected", ColumnType::Real),
        ("ratio", ColumnType::Real),
        ("p", ColumnType::Real),
        ("expected_analytic", ColumnType::Real),
        ("ratio_analytic", ColumnType::Real),
    ]);
    let opt = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    for c in &t.cells {
        table.rows.push(vec![
            Value::Text(c.distance_band.clone()),
            Value::Text(c.time_band.clone()),
            Value::Int(c.observed as i64),
            Value::Real(c.expected),
            opt(c.ratio),
            Value::Real(c.p),
            Value::Real(c.expected_analytic),
            opt(c.ratio_analytic),
        ]);
    }
    table
}

/// The events of the store or of `--input`.
fn load_events(db: &Path, args: &InputArgs) -> anyhow::Result<Vec<NearRepeatEvent>> {
    let csv_file = args.input.as_ref().filter(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("txt"))
    });
    let Some(path) = csv_file else {
        // The store, or a vector file through the common reader (reprojected to RD New).
        let records = input::load(db, args, None, None)?;
        return input::events(&records)?
            .into_iter()
            .enumerate()
            .map(|(n, e)| {
                let day = e.begin.or(e.end).with_context(|| {
                    format!("invoer: object {n} heeft geen datum (near-repeat vraagt een datum per gebeurtenis)")
                })?;
                Ok(NearRepeatEvent::on(e.x_m, e.y_m, day.date()))
            })
            .collect();
    };
    anyhow::ensure!(
        args.category.is_none()
            && args.source.is_none()
            && args.area.is_none()
            && args.bbox.is_none(),
        "--category, --source, --area en --bbox gelden alleen voor de database, niet voor --input"
    );
    if let (Some(f), Some(t)) = (args.from, args.to) {
        anyhow::ensure!(f <= t, "--from ({f}) ligt na --to ({t})");
    }
    let crs = args
        .input_crs
        .as_deref()
        .map(input::parse_input_crs)
        .transpose()?;
    let mut events = read_csv(path, crs)?;
    events.retain(|(_, date)| {
        args.from.is_none_or(|f| *date >= f) && args.to.is_none_or(|t| *date <= t)
    });
    Ok(events.into_iter().map(|(e, _)| e).collect())
}

/// How the two coordinate columns are read.
#[derive(Clone, Copy, PartialEq)]
enum Coordinates {
    /// Metres of a projected system, used as given.
    Metres,
    /// WGS84 longitude, latitude: converted to RD New.
    Wgs84,
    /// Web Mercator: converted to RD New (its metres are not true distances).
    WebMercator,
}

/// Reads a CSV of points with dates (see the module docs); every error names the file, line and column.
fn read_csv(
    path: &Path,
    crs: Option<InputCrs>,
) -> anyhow::Result<Vec<(NearRepeatEvent, NaiveDate)>> {
    let name = path.display();
    let text = std::fs::read(path).with_context(|| format!("{name}: kan niet lezen"))?;
    let first_line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.iter().filter(|&&b| b == b';').count()
        > first_line.iter().filter(|&&b| b == b',').count()
    {
        b';'
    } else {
        b','
    };
    let first_fields: Vec<String> = String::from_utf8_lossy(first_line)
        .trim_start_matches('\u{feff}')
        .split(delimiter as char)
        .map(|f| f.trim().to_string())
        .collect();
    let is_number = |s: &str| s.parse::<f64>().is_ok_and(f64::is_finite);
    let has_header =
        !(first_fields.len() >= 3 && is_number(&first_fields[0]) && is_number(&first_fields[1]));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(has_header)
        .from_reader(text.as_slice());
    // Column positions (x, y, date), their names for messages, and whether the coordinates are lon/lat.
    let (x_col, y_col, date_col, names, lon_lat) = if has_header {
        let headers: HashMap<String, usize> = reader
            .headers()
            .with_context(|| format!("{name}: kopregel onleesbaar"))?
            .iter()
            .enumerate()
            .map(|(i, h)| {
                (
                    h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase(),
                    i,
                )
            })
            .collect();
        let col = |names: &[&str]| names.iter().find_map(|n| headers.get(*n).copied());
        let date = col(&["datum", "date", "begin", "start"]).with_context(|| {
            format!("{name}: kolom datum (of date, begin) ontbreekt; zonder kopregel: x,y,datum per regel")
        })?;
        match (
            col(&["x", "x_m", "rd_x"]),
            col(&["y", "y_m", "rd_y"]),
            col(&["lon", "lng", "longitude", "lengtegraad"]),
            col(&["lat", "latitude", "breedtegraad"]),
        ) {
            (Some(x), Some(y), _, _) => (x, y, date, ["x", "y"], false),
            (_, _, Some(lon), Some(lat)) => (lon, lat, date, ["lon", "lat"], true),
            _ => bail!("{name}: kolommen x,y (of lat,lon) ontbreken"),
        }
    } else {
        (0, 1, 2, ["x", "y"], false)
    };
    let coordinates = match (crs, lon_lat) {
        (None, false) | (Some(InputCrs::Rd), false) | (Some(InputCrs::Epsg(_)), false) => {
            Coordinates::Metres
        }
        (None, true) | (Some(InputCrs::Wgs84), _) => Coordinates::Wgs84,
        (Some(InputCrs::WebMercator), false) => Coordinates::WebMercator,
        (Some(c), true) => bail!(
            "--input-crs EPSG:{}: {name} heeft kolommen lat,lon (WGS84); geef EPSG:4326 of laat --input-crs weg",
            c.epsg()
        ),
    };
    if let Some(InputCrs::Epsg(code)) = crs {
        let srs = gdal::spatial_ref::SpatialRef::from_epsg(code)
            .map_err(|_| anyhow::anyhow!("--input-crs EPSG:{code}: onbekend coördinaatsysteem"))?;
        anyhow::ensure!(
            srs.is_projected(),
            "--input-crs EPSG:{code}: geen geprojecteerd stelsel in meters; near-repeat rekent afstanden in meters"
        );
    }
    let transformer = match coordinates {
        Coordinates::Metres => None,
        _ => Some(Transformer::new().context("PROJ-transformatie naar RD")?),
    };
    let mut out = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let line = n + 1 + usize::from(has_header);
        let row = row.with_context(|| format!("{name}: regel {line} onleesbaar"))?;
        let cell = |i: usize| row.get(i).unwrap_or_default().trim();
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let number = |i: usize, what: &str| -> anyhow::Result<f64> {
            let s = cell(i);
            s.parse::<f64>()
                .ok()
                .or_else(|| s.replace(',', ".").parse().ok())
                .filter(|v: &f64| v.is_finite())
                .with_context(|| {
                    format!(
                        "{name}: regel {line}, kolom {} ({what}): '{s}' is geen getal",
                        i + 1
                    )
                })
        };
        let (a, b) = (number(x_col, names[0])?, number(y_col, names[1])?);
        let (x, y) = match (coordinates, &transformer) {
            (Coordinates::Wgs84, Some(t)) => t.wgs84_to_rd(a, b).map_err(|e| {
                anyhow::anyhow!("{name}: regel {line}: lon/lat niet om te rekenen naar RD: {e}")
            })?,
            (Coordinates::WebMercator, Some(t)) => t.web_mercator_to_rd(a, b).map_err(|e| {
                anyhow::anyhow!("{name}: regel {line}: x,y niet om te rekenen naar RD: {e}")
            })?,
            _ => (a, b),
        };
        let raw = cell(date_col);
        let date = input::parse_date_or_datetime(raw).with_context(|| {
            format!(
                "{name}: regel {line}, kolom {} (datum): '{raw}' is geen datum (jjjj-mm-dd)",
                date_col + 1
            )
        })?;
        out.push((NearRepeatEvent::on(x, y, date), date));
    }
    Ok(out)
}
