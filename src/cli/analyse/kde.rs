//! `brandpunt analyse kde`: kernel density raster (incidents per km2 at cell centres).

use anyhow::{bail, Context};
use brandpunt::analysis::kde::{kde_raster, Extent, Kde, KdeParams, Kernel};
use brandpunt::export::{write_csv, write_geotiff, ColumnType, Table, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::input::{self, InputArgs};
use super::output::{format_of, Format};

#[derive(clap::Args, Debug)]
pub struct KdeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Kernel: quartic (default), gaussian, epanechnikov, triweight, uniform, triangular.
    #[arg(long, default_value = "quartic")]
    pub kernel: String,
    /// Bandwidth (search radius; Gaussian sigma) in metres; default the ArcGIS rule.
    #[arg(long)]
    pub bandwidth: Option<f64>,
    /// Cell size in metres.
    #[arg(long, default_value_t = 50.0)]
    pub cell: f64,
    /// Raster extent `minx,miny,maxx,maxy` in RD metres; default the data extent grown by the bandwidth.
    #[arg(long, value_parser = parse_extent)]
    pub extent: Option<Extent>,
    /// Output: `.tif` (GeoTIFF, RD New) or `.csv` (cell centres `x`,`y`,`density` per km2).
    #[arg(long)]
    pub output: PathBuf,
}

pub(super) fn parse_extent(s: &str) -> Result<Extent, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{s}' is geen extent minx,miny,maxx,maxy"))?;
    match v.as_slice() {
        [minx_m, miny_m, maxx_m, maxy_m] => Ok(Extent {
            minx_m: *minx_m,
            miny_m: *miny_m,
            maxx_m: *maxx_m,
            maxy_m: *maxy_m,
        }),
        _ => Err(format!("'{s}' is geen extent minx,miny,maxx,maxy")),
    }
}

pub fn run(db: &Path, args: KdeArgs) -> anyhow::Result<ExitCode> {
    let format = format_of(&args.output)?;
    if !matches!(format, Format::GeoTiff | Format::Csv) {
        bail!(
            "{}: KDE schrijft .tif (GeoTIFF) of .csv",
            args.output.display()
        );
    }
    let kernel: Kernel = args.kernel.parse()?;
    let records = input::load(db, &args.input, None, None)?;
    let events = input::events(&records)?;
    let params = KdeParams {
        kernel,
        bandwidth_m: args.bandwidth,
        extent_m: args.extent,
        ..KdeParams::new(args.cell)
    };
    let kde: Kde<f64> = kde_raster(&events, &params).context("KDE")?;
    match format {
        Format::GeoTiff => write_geotiff(&args.output, &kde.raster)
            .with_context(|| format!("{}: GeoTIFF schrijven", args.output.display()))?,
        _ => {
            let r = &kde.raster;
            let mut table = Table::new(&[
                ("x", ColumnType::Real),
                ("y", ColumnType::Real),
                ("density", ColumnType::Real),
            ]);
            for j in 0..r.height {
                for i in 0..r.width {
                    let (x, y) = r.cell_centre_m(i, j);
                    let v = r.values[j * r.width + i];
                    table
                        .rows
                        .push(vec![Value::Real(x), Value::Real(y), Value::Real(v)]);
                }
            }
            write_csv(&args.output, &table)?;
        }
    }
    println!(
        "KDE: {} punten, kernel {}, bandbreedte {:.1} m, {} x {} cellen van {} m -> {}",
        events.len() - kde.skipped,
        kde.kernel,
        kde.bandwidth_m,
        kde.raster.width,
        kde.raster.height,
        kde.raster.cell_m,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
