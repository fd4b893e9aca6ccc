//! `brandpunt analyse`: the analysis engine on the command line. A thin layer: load incidents (store or file),
//! call the pure modules in `brandpunt::analysis`, write the result by the extension of `--output`
//! (`.tif` raster, `.gpkg` GeoPackage and `.fgb` FlatGeobuf in RD New, `.geojson` RFC 7946 in WGS84, `.csv`).

mod bins;
mod compare;
mod emerging;
mod evaluate;
mod forecast;
mod hotspot;
pub(super) mod input;
mod kde;
mod near_repeat;
mod output;
mod profile;
mod repeats;
mod rolling;
mod striking;
mod time;

use std::path::Path;
use std::process::ExitCode;

/// The analyses (arguments boxed: the argument structs are large).
#[derive(clap::Subcommand, Debug)]
pub enum AnalyseCommand {
    /// Kernel density surface (incidents per km2) as GeoTIFF or CSV of cell centres.
    Kde(Box<kde::KdeArgs>),
    /// Getis-Ord Gi* hot spots (z, p, confidence bin) of polygons, points or binned incidents.
    Gistar(Box<hotspot::HotspotArgs>),
    /// Local Moran's I clusters and outliers (I, z, p, quadrant).
    Moran(Box<hotspot::HotspotArgs>),
    /// Emerging hot spot analysis on a space-time cube of grid cells, H3 cells or areas.
    Emerging(Box<emerging::EmergingArgs>),
    /// Aoristic time profile (hour/day of week) or time series (week/month).
    Time(Box<time::TimeArgs>),
    /// Areas side by side over two periods: counts, rates, rate ratio with exact CI and p.
    Compare(Box<compare::CompareArgs>),
    /// Phenomenon profile: BAG attributes of the addresses hit against all addresses of the area.
    Profile(Box<profile::ProfileArgs>),
    /// Striking ("opvallend") areas of a month: exact Poisson test against the area's history, FDR.
    Striking(Box<striking::StrikingArgs>),
    /// Hotspot methods on a train/test split: hit rate, PAI, PEI, RRI.
    Evaluate(Box<evaluate::EvaluateArgs>),
    /// Forecast risk per grid cell from the incidents before --at (naive, kde, prospective, sepp).
    Forecast(Box<forecast::ForecastArgs>),
    /// Near-repeat (Knox) test: pairs by distance and time band against permutations of the days.
    NearRepeat(Box<near_repeat::NearRepeatArgs>),
    /// Repeat victims per BAG address: the 1/2/3/4+ histogram, repeats and the time to the next incident.
    Repeats(Box<repeats::RepeatsArgs>),
}

/// Run one analysis.
pub fn run(db: &Path, cmd: AnalyseCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AnalyseCommand::Kde(args) => kde::run(db, *args),
        AnalyseCommand::Gistar(args) => hotspot::run(db, *args, hotspot::Statistic::GiStar),
        AnalyseCommand::Moran(args) => hotspot::run(db, *args, hotspot::Statistic::Moran),
        AnalyseCommand::Emerging(args) => emerging::run(db, *args),
        AnalyseCommand::Time(args) => time::run(db, *args),
        AnalyseCommand::Compare(args) => compare::run(db, *args),
        AnalyseCommand::Profile(args) => profile::run(db, *args),
        AnalyseCommand::Striking(args) => striking::run(db, *args),
        AnalyseCommand::Evaluate(args) => evaluate::run(db, *args),
        AnalyseCommand::Forecast(args) => forecast::run(db, *args),
        AnalyseCommand::NearRepeat(args) => near_repeat::run(db, *args),
        AnalyseCommand::Repeats(args) => repeats::run(db, *args),
    }
}
