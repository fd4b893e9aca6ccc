//! `brandpunt analyse evaluate`: which hotspot method predicts best? Every method is fitted on the training
//! period and picks hot cells of a square RD grid; the test period's incidents score them (hit rate, PAI, PEI
//! and RRI; see `brandpunt::analysis::evaluation`).
//!
//! Cells (`--bins`): square grid cells (`grid:CELL_M`), H3 cells (`h3:RES`) or areas (`buurt`, `wijk`,
//! `gemeente`); see [`super::bins`].
//!
//! Study area: grid: every cell of the bounding box of the training and test incidents (so `A` = number of those
//! cells x cell area); H3: every cell reachable from an occupied cell through cells whose centre lies in that
//! bounding box; areas: every area of the level (within `--area`). `A` is the sum of the cells' RD areas (H3
//! hexagons and areas by their polygon). Methods:
//! - `kde_top{X}`: quartic KDE (default bandwidth) of the training incidents at the cell centres (areas: their
//!   centroid); the densest cells up to X % of the study area;
//! - `gistar_hot95`: Gi* of the training counts (queen; H3: 1-ring), cells with bin >= 2 (hot at 95 % or more,
//!   FDR);
//! - `emerging_hot`: emerging hot spot analysis of the training period (weekly steps, 8 surrounding cells / H3
//!   1-ring / queen contiguity, time window 1): cells in any hot spot category except historical;
//! - `last_period_top{X}`: naive baseline, the cells with the most incidents in the last 28 days of training,
//!   up to X % of the study area.

use anyhow::Context;
use brandpunt::analysis::emerging::{
    emerging_hot_spots, grid_cube_from_events, EmergingCategory, EmergingOptions, SpaceTimeCube,
    TimeSteps,
};
use brandpunt::analysis::evaluation::{
    compare_methods, top_cells_by_score, CellAreas, MethodComparison,
};
use brandpunt::analysis::gistar::{gi_star, GiStarOptions};
use brandpunt::analysis::grid::BinSpec;
use brandpunt::analysis::kde::{
    default_bandwidth_m, density_at_points, kde_raster, Extent, Kde, KdeParams, Kernel,
    DEFAULT_GAUSSIAN_TAIL,
};
use brandpunt::analysis::places::{
    bounding_box_cells, emerging_grid_neighbourhood, Coverage, PlacesError, MAX_PLACES,
};
use brandpunt::analysis::weights::{regular_grid, GridNeighbourhood};
use brandpunt::analysis::Event;
use brandpunt::calendar::Step;
use brandpunt::export::{ColumnType, Table, Value};
use chrono::{Days, NaiveDate};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::stats::parse_date;
use super::bins::{self, Hit};
use super::input::{self, InputArgs, Record};
use super::output;

#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Cells: grid:CELL_M, h3:RES (7..11), buurt, wijk or gemeente.
    #[arg(long, default_value = "grid:100")]
    pub bins: String,
    /// Training period: first day.
    #[arg(long, value_parser = parse_date)]
    pub train_from: Option<NaiveDate>,
    /// Training period: last day.
    #[arg(long, value_parser = parse_date)]
    pub train_to: Option<NaiveDate>,
    /// Test period: first day.
    #[arg(long, value_parser = parse_date)]
    pub test_from: Option<NaiveDate>,
    /// Test period: last day.
    #[arg(long, value_parser = parse_date)]
    pub test_to: Option<NaiveDate>,
    /// Share of the study area (percent) selected by the top-x methods.
    #[arg(long, default_value_t = 5.0)]
    pub top: f64,
    /// Output `.csv` or `.json`; default CSV on standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Rolling origins instead of one train/test split: the number of folds (forecast instants `--horizon`
    /// days apart, the last test window ending with `--until`); methods of `--methods` on `--bins grid:C`.
    #[arg(long, conflicts_with_all = ["train_from", "train_to", "test_from", "test_to"])]
    pub folds: Option<u32>,
    /// Rolling origins: days of each test window.
    #[arg(long, default_value_t = 7)]
    pub horizon: u32,
    /// Rolling origins: last day of the last test window (default: the last incident's day).
    #[arg(long, value_parser = parse_date)]
    pub until: Option<NaiveDate>,
    /// Rolling origins: forecast methods, the first is the baseline (naive, kde, prospective, sepp).
    #[arg(long, default_value = "naive,kde,prospective,sepp")]
    pub methods: String,
    /// Rolling origins: coverages in percent of the grid cells.
    #[arg(long, default_value = "1,3,5,10")]
    pub coverages: String,
    /// Rolling origins: grid extent `minx,miny,maxx,maxy` (default the incidents' bounding box).
    #[arg(long, value_parser = super::kde::parse_extent, allow_hyphen_values = true)]
    pub extent: Option<brandpunt::analysis::kde::Extent>,
    /// Rolling origins: naive/kde/sepp window, N days or `all` (also the RRI's training period; default 28).
    #[arg(long)]
    pub days: Option<String>,
    /// Rolling origins: kde radius in metres.
    #[arg(long, default_value_t = 200.0)]
    pub bandwidth: f64,
    /// Rolling origins: prospective space cut-off in cells.
    #[arg(long, default_value_t = 8)]
    pub space_cells: u32,
    /// Rolling origins: prospective time cut-off in weeks.
    #[arg(long, default_value_t = 8)]
    pub time_weeks: u32,
    /// Rolling origins: sepp EM iterations.
    #[arg(long, default_value_t = 20)]
    pub iterations: u32,
}

/// The classic single train/test split.
struct Classic<'a> {
    input: &'a InputArgs,
    train_from: NaiveDate,
    train_to: NaiveDate,
    test_from: NaiveDate,
    test_to: NaiveDate,
    top: f64,
}

type Cell = (i64, i64);

fn cell_of(e: &Event, c: f64) -> Option<Cell> {
    let (col, row) = ((e.x_m / c).floor(), (e.y_m / c).floor());
    (col.is_finite() && row.is_finite() && col.abs() < 1e15 && row.abs() < 1e15)
        .then_some((col as i64, row as i64))
}

fn counts(events: &[Event], c: f64) -> HashMap<Cell, f64> {
    let mut m = HashMap::new();
    for e in events {
        if let Some(k) = cell_of(e, c) {
            *m.entry(k).or_insert(0.0) += e.weight;
        }
    }
    m
}

fn in_period(e: &Event, from: NaiveDate, to: NaiveDate) -> bool {
    e.begin
        .or(e.end)
        .is_some_and(|t| t.date() >= from && t.date() <= to)
}

pub fn run(db: &Path, args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    if args.folds.is_some() {
        return super::rolling::run(db, &args);
    }
    let need = |v: Option<NaiveDate>, name: &str| {
        v.with_context(|| format!("{name} ontbreekt (of kies --folds voor rolling origins)"))
    };
    let classic = Classic {
        input: &args.input,
        train_from: need(args.train_from, "--train-from")?,
        train_to: need(args.train_to, "--train-to")?,
        test_from: need(args.test_from, "--test-from")?,
        test_to: need(args.test_to, "--test-to")?,
        top: args.top,
    };
    let output = args.output.clone();
    let bins_spec = args.bins.clone();
    let args = classic;
    anyhow::ensure!(
        args.train_from <= args.train_to,
        "--train-from ligt na --train-to"
    );
    anyhow::ensure!(
        args.test_from <= args.test_to,
        "--test-from ligt na --test-to"
    );
    anyhow::ensure!(
        args.top > 0.0 && args.top <= 100.0,
        "--top moet tussen 0 en 100 liggen"
    );
    let spec = bins::parse_bins(&bins_spec)?;
    let records = input::load(db, args.input, None, None)?;
    let events = input::events(&records)?;
    let comparison = match spec {
        BinSpec::Grid { cell_m } => grid_methods(&args, &events, cell_m)?,
        _ => place_methods(db, &args, &records, &events, spec)?,
    };
    let mut t = Table::new(&[
        ("method", ColumnType::Text),
        ("hotspot_cells", ColumnType::Int),
        ("area_share", ColumnType::Real),
        ("test_hits", ColumnType::Real),
        ("test_total", ColumnType::Real),
        ("hit_rate", ColumnType::Real),
        ("pai", ColumnType::Real),
        ("pei", ColumnType::Real),
        ("train_pai", ColumnType::Real),
        ("rri", ColumnType::Real),
    ]);
    let opt = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    for m in &comparison.methods {
        let x = &m.metrics;
        t.push(vec![
            Value::from(m.method.as_str()),
            Value::from(x.hotspot_cells),
            Value::Real(x.area_share),
            Value::Real(x.test_hits),
            Value::Real(x.test_total),
            opt(x.hit_rate),
            opt(x.pai),
            opt(x.pei),
            opt(x.train_pai),
            opt(x.rri),
        ])?;
    }
    output::write_plain(output.as_deref(), &t)?;
    if let Some(best) = &comparison.best_by_pai {
        eprintln!("Hoogste PAI: {best}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The training and test incidents.
fn split(args: &Classic<'_>, events: &[Event]) -> (Vec<Event>, Vec<Event>) {
    let train: Vec<Event> = events
        .iter()
        .filter(|e| in_period(e, args.train_from, args.train_to))
        .cloned()
        .collect();
    let test: Vec<Event> = events
        .iter()
        .filter(|e| in_period(e, args.test_from, args.test_to))
        .cloned()
        .collect();
    (train, test)
}

/// The first day of the naive baseline's last 28 days of training.
fn last_period_from(args: &Classic<'_>) -> NaiveDate {
    args.train_to
        .checked_sub_days(Days::new(27))
        .unwrap_or(args.train_from)
        .max(args.train_from)
}

fn is_emerging_hot(category: EmergingCategory) -> bool {
    category.as_str().ends_with("hot_spot") && category != EmergingCategory::HistoricalHotSpot
}

/// The methods on square grid cells.
fn grid_methods(
    args: &Classic<'_>,
    events: &[Event],
    cell_m: u32,
) -> anyhow::Result<MethodComparison> {
    let c = f64::from(cell_m);
    let (train, test) = split(args, events);
    anyhow::ensure!(!train.is_empty(), "geen incidenten in de trainingsperiode");
    anyhow::ensure!(!test.is_empty(), "geen incidenten in de testperiode");
    let train_counts = counts(&train, c);
    let test_counts = counts(&test, c);
    // Study area: the bounding box of all cells with incidents.
    let keys = train_counts.keys().chain(test_counts.keys()).copied();
    let cells: Vec<Cell> = match bounding_box_cells(keys, MAX_PLACES) {
        Ok(cells) => cells.context("geen cellen")?,
        Err(PlacesError::TooManyGridCells { cells: n_cells }) => {
            anyhow::bail!("{n_cells} cellen in het studiegebied; kies een grotere cel")
        }
        Err(e) => return Err(e.into()),
    };
    let ((c0, r0), (c1, r1)) = (cells[0], cells[cells.len() - 1]);
    let cell_area = c * c;
    let study_m2 = cells.len() as f64 * cell_area;
    let areas = CellAreas::Uniform(cell_area);
    let fraction = args.top / 100.0;
    let mut methods: Vec<(String, Vec<Cell>)> = Vec::new();

    // KDE top x %: density at the cell centres of the study grid.
    let extent = Extent {
        minx_m: c0 as f64 * c,
        miny_m: r0 as f64 * c,
        maxx_m: (c1 + 1) as f64 * c,
        maxy_m: (r1 + 1) as f64 * c,
    };
    let kde: Kde<f64> = kde_raster(
        &train,
        &KdeParams {
            extent_m: Some(extent),
            ..KdeParams::new(c)
        },
    )
    .context("KDE van de trainingsperiode")?;
    let mut kde_scores = HashMap::new();
    for &(col, row) in &cells {
        let centre = ((col as f64 + 0.5) * c, (row as f64 + 0.5) * c);
        if let Some(v) = kde.raster.value_at(centre.0, centre.1) {
            kde_scores.insert((col, row), v);
        }
    }
    let label = format!("{}", args.top);
    methods.push((
        format!("kde_top{label}"),
        top_cells_by_score(&kde_scores, areas, study_m2, fraction)?,
    ));

    // Gi* hot cells (95 %+) on the training counts.
    let values: Vec<f64> = cells
        .iter()
        .map(|k| train_counts.get(k).copied().unwrap_or(0.0))
        .collect();
    let w = regular_grid(&cells, c, GridNeighbourhood::Queen)?;
    let gi = gi_star(&values, &w, &GiStarOptions::default()).context("Gi* van de training")?;
    methods.push((
        "gistar_hot95".into(),
        cells
            .iter()
            .zip(&gi.bin)
            .filter(|(_, &b)| b >= 2)
            .map(|(k, _)| *k)
            .collect(),
    ));

    // Emerging hot spots of the training period (weekly).
    let steps = TimeSteps::new(Step::Week, args.train_from, args.train_to)?;
    let cube = grid_cube_from_events(&train, c, &steps)?;
    let ew = cube.weights(emerging_grid_neighbourhood(c))?;
    let em = emerging_hot_spots(
        &cube.cube,
        &ew,
        &EmergingOptions::default(),
        &brandpunt::cancel::Cancel::never(),
    )
    .context("emerging hot spots van de training")?;
    let hot: Vec<Cell> = em
        .locations
        .iter()
        .filter(|l| is_emerging_hot(l.category))
        .filter_map(|l| cube.cells.get(l.location).copied())
        .collect();
    methods.push(("emerging_hot".into(), hot));

    // Naive baseline: the last 28 days of training.
    let last_from = last_period_from(args);
    let last: Vec<Event> = train
        .iter()
        .filter(|e| in_period(e, last_from, args.train_to))
        .cloned()
        .collect();
    methods.push((
        format!("last_period_top{label}"),
        top_cells_by_score(&counts(&last, c), areas, study_m2, fraction)?,
    ));

    Ok(compare_methods(
        &methods,
        areas,
        study_m2,
        &test_counts,
        Some(&train_counts),
    )?)
}

/// The methods on H3 cells or areas (keys: place index).
fn place_methods(
    db: &Path,
    args: &Classic<'_>,
    records: &[Record],
    events: &[Event],
    spec: BinSpec,
) -> anyhow::Result<MethodComparison> {
    // Only the training and test incidents span the study area (as for the grid).
    let in_periods: Vec<Record> = records
        .iter()
        .filter(|r| {
            r.begin.or(r.end).is_some_and(|t| {
                let d = t.date();
                (d >= args.train_from && d <= args.train_to)
                    || (d >= args.test_from && d <= args.test_to)
            })
        })
        .cloned()
        .collect();
    let a = bins::assign(db, args.input, &in_periods, spec, Coverage::BoundingBox)?;
    let places = &a.places;
    let in_hit = |h: &Hit, from: NaiveDate, to: NaiveDate| {
        h.begin
            .or(h.end)
            .is_some_and(|t| t.date() >= from && t.date() <= to)
    };
    let count = |from: NaiveDate, to: NaiveDate| -> HashMap<usize, f64> {
        let mut m = HashMap::new();
        for h in a.hits.iter().filter(|h| in_hit(h, from, to)) {
            *m.entry(h.place).or_insert(0.0) += 1.0;
        }
        m
    };
    let train_counts = count(args.train_from, args.train_to);
    let test_counts = count(args.test_from, args.test_to);
    anyhow::ensure!(
        !train_counts.is_empty(),
        "geen incidenten in de trainingsperiode (binnen --bins {spec})"
    );
    anyhow::ensure!(
        !test_counts.is_empty(),
        "geen incidenten in de testperiode (binnen --bins {spec})"
    );
    let area_list = bins::areas_m2(places)?;
    let area_map: HashMap<usize, f64> = area_list.iter().copied().enumerate().collect();
    let areas = CellAreas::PerCell(&area_map);
    let study_m2: f64 = area_list.iter().sum();
    let fraction = args.top / 100.0;
    let label = format!("{}", args.top);
    let mut methods: Vec<(String, Vec<usize>)> = Vec::new();

    // KDE top x %: density of the training incidents (points) at the place centres.
    let (train, _) = split(args, events);
    let kde_scores: HashMap<usize, f64> = if train.is_empty() {
        HashMap::new()
    } else {
        let bandwidth = default_bandwidth_m(&train).context("KDE-bandbreedte van de training")?;
        density_at_points(
            &train,
            Kernel::Quartic,
            bandwidth,
            DEFAULT_GAUSSIAN_TAIL,
            &places.centres_m,
        )
        .context("KDE van de trainingsperiode")?
        .into_iter()
        .enumerate()
        .collect()
    };
    methods.push((
        format!("kde_top{label}"),
        top_cells_by_score(&kde_scores, areas, study_m2, fraction)?,
    ));

    // Gi* hot places (95 %+) on the training counts.
    let w = places.default_weights()?;
    let values: Vec<f64> = (0..places.len())
        .map(|k| train_counts.get(&k).copied().unwrap_or(0.0))
        .collect();
    let gi = gi_star(&values, &w, &GiStarOptions::default()).context("Gi* van de training")?;
    methods.push((
        "gistar_hot95".into(),
        (0..places.len()).filter(|&k| gi.bin[k] >= 2).collect(),
    ));

    // Emerging hot spots of the training period (weekly).
    let steps = TimeSteps::new(Step::Week, args.train_from, args.train_to)?;
    let n_steps = steps.len();
    let mut cube = vec![0.0; places.len() * n_steps];
    for h in &a.hits {
        if let Some(s) = h.begin.or(h.end).and_then(|t| steps.step_of(t.date())) {
            cube[h.place * n_steps + s] += 1.0;
        }
    }
    let cube = SpaceTimeCube::from_counts(places.len(), n_steps, cube)?;
    let em = emerging_hot_spots(
        &cube,
        &w,
        &EmergingOptions::default(),
        &brandpunt::cancel::Cancel::never(),
    )
    .context("emerging hot spots van de training")?;
    methods.push((
        "emerging_hot".into(),
        em.locations
            .iter()
            .filter(|l| is_emerging_hot(l.category))
            .map(|l| l.location)
            .collect(),
    ));

    // Naive baseline: the last 28 days of training.
    methods.push((
        format!("last_period_top{label}"),
        top_cells_by_score(
            &count(last_period_from(args), args.train_to),
            areas,
            study_m2,
            fraction,
        )?,
    ));
    Ok(compare_methods(
        &methods,
        areas,
        study_m2,
        &test_counts,
        Some(&train_counts),
    )?)
}
