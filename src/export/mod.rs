//! Export adapters: write analysis results to files other tools read (GIS, BI).
//!
//! These are adapters around the pure core (they do I/O through GDAL). Each format lives in its own submodule
//! and shares [`ExportError`]:
//! - [`geotiff`]: rasters (KDE surfaces) as single-band Float32 GeoTIFF in RD New (EPSG:28992).
//! - [`table`]: attribute tables (rows of typed values) and their CSV writer.
//! - [`vector`]: tables with one geometry per row as GeoPackage or FlatGeobuf (RD New) or GeoJSON (RFC 7946,
//!   WGS84).
//! - [`geojson`]: WGS84 polygons as GeoJSON geometry values (in memory, no I/O).
//! - [`topojson`]: WGS84 polygons as a quantized TopoJSON topology with shared arcs (in memory, no I/O).
//! - [`rolling`]: the rolling-origin backtest of the forecasts as a [`Table`].
//! - [`wkt`]: WGS84 polygons as WKT text (in memory, no I/O).
//! - [`xlsx`]: tables as an Excel workbook (`.xlsx`, one worksheet per table; in memory, no I/O).

pub mod geojson;
pub mod geotiff;
pub mod rolling;
pub mod table;
pub mod topojson;
pub mod vector;
pub mod wkt;
pub mod xlsx;

pub use geotiff::{write_geotiff, write_geotiff_with, GeoTiffOptions};
pub use table::{write_csv, ColumnType, Table, Value};
pub use vector::{fgb_bytes, write_fgb, write_geojson, write_gpkg};
pub use xlsx::{workbook_bytes, Sheet};

/// Polygons in WGS84: polygons -> rings (exterior first, then holes; closed) -> `(lon, lat)` in degrees.
pub type LonLatRings = Vec<Vec<Vec<(f64, f64)>>>;

/// Errors of the export adapters.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// GDAL failed (driver missing, file not writable, ...).
    #[error("GDAL: {0}")]
    Gdal(#[from] gdal::errors::GdalError),
    /// The Excel writer refused the workbook (a sheet beyond Excel's limits, a text longer than 32,767 characters).
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// The raster has no cells.
    #[error("raster is empty ({width} x {height} cells)")]
    EmptyRaster {
        /// Columns.
        width: usize,
        /// Rows.
        height: usize,
    },
    /// The raster's value vector does not match its dimensions, or its geometry is not finite/positive.
    #[error("invalid raster: {0}")]
    InvalidRaster(String),
    /// A table is malformed (row length differs from the columns, geometry count differs from the rows).
    #[error("invalid table: {0}")]
    InvalidTable(String),
    /// Writing a file failed; names the file.
    #[error("{file}: {reason}")]
    File {
        /// The file.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// A data value equals the nodata value and would be lost.
    #[error("cell {index} has value {value}, which equals the nodata value")]
    ValueEqualsNodata {
        /// Row-major cell index.
        index: usize,
        /// The value.
        value: f32,
    },
}
