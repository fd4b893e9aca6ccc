//! GeoTIFF writer for [`Raster`]s (e.g. KDE surfaces) through GDAL's GTiff driver.
//!
//! The file has one Float32 band, the raster's rows top (north) first, georeferenced in RD New
//! (EPSG:28992) with the geotransform `[minx, cell, 0, maxy, 0, -cell]` (GDAL's pixel-corner convention, so
//! pixel `(i, j)` has its centre at `(minx + (i + 0.5) cell, maxy - (j + 0.5) cell)`, matching [`Raster`]).
//! Non-finite values (NaN, +-inf) are written as the nodata value, which is recorded in the band
//! (`GDAL_NODATA` tag); with `nodata: None` no nodata value is declared and NaN stays NaN.
//! By default the file is DEFLATE-compressed with the floating-point predictor and tiled, which QGIS, ArcGIS
//! and GDAL all read.

use std::path::Path;

use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::DriverManager;

use super::ExportError;
use crate::analysis::kde::Raster;

/// RD New.
pub const EPSG_RD_NEW: u32 = 28992;

/// Options of [`write_geotiff_with`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoTiffOptions {
    /// Value written for non-finite cells and declared as the band's nodata; `None` = declare none.
    /// Default `-9999`.
    pub nodata: Option<f32>,
    /// DEFLATE compression with the floating-point predictor, tiled 256 x 256 (default true).
    pub compress: bool,
    /// EPSG code of the raster's coordinates (default 28992, RD New).
    pub epsg: u32,
}

impl Default for GeoTiffOptions {
    fn default() -> Self {
        GeoTiffOptions {
            nodata: Some(-9999.0),
            compress: true,
            epsg: EPSG_RD_NEW,
        }
    }
}

/// Writes `raster` as a single-band Float32 GeoTIFF in RD New with default options (nodata -9999, compressed).
pub fn write_geotiff<T: Copy + Into<f64>>(
    path: impl AsRef<Path>,
    raster: &Raster<T>,
) -> Result<(), ExportError> {
    write_geotiff_with(path, raster, &GeoTiffOptions::default())
}

/// Writes `raster` as a single-band Float32 GeoTIFF with the given options. Overwrites an existing file.
/// Values are converted to `f32`; non-finite values become the nodata value. A finite value equal to the nodata
/// value is an error (it would silently become nodata).
pub fn write_geotiff_with<T: Copy + Into<f64>>(
    path: impl AsRef<Path>,
    raster: &Raster<T>,
    options: &GeoTiffOptions,
) -> Result<(), ExportError> {
    let (width, height) = (raster.width, raster.height);
    if width == 0 || height == 0 {
        return Err(ExportError::EmptyRaster { width, height });
    }
    if width.checked_mul(height) != Some(raster.values.len()) {
        return Err(ExportError::InvalidRaster(format!(
            "{} values for {width} x {height} cells",
            raster.values.len()
        )));
    }
    let geometry_ok = raster.cell_m.is_finite()
        && raster.cell_m > 0.0
        && raster.minx_m.is_finite()
        && raster.maxy_m.is_finite();
    if !geometry_ok {
        return Err(ExportError::InvalidRaster(format!(
            "origin ({}, {}) / cell size {} not finite and positive",
            raster.minx_m, raster.maxy_m, raster.cell_m
        )));
    }

    let mut data: Vec<f32> = Vec::with_capacity(raster.values.len());
    for (index, v) in raster.values.iter().enumerate() {
        let v = (*v).into() as f32;
        match options.nodata {
            Some(nd) if !v.is_finite() => data.push(nd),
            Some(nd) if v == nd => return Err(ExportError::ValueEqualsNodata { index, value: v }),
            _ => data.push(v),
        }
    }

    let driver = DriverManager::get_driver_by_name("GTiff")?;
    let mut create = RasterCreationOptions::new();
    if options.compress {
        create.set_name_value("COMPRESS", "DEFLATE")?;
        create.set_name_value("PREDICTOR", "3")?;
        create.set_name_value("TILED", "YES")?;
    }
    // Files over 4 GB need BigTIFF; let GDAL decide.
    create.set_name_value("BIGTIFF", "IF_SAFER")?;
    let mut ds = driver.create_with_band_type_with_options::<f32, _>(
        path.as_ref(),
        width,
        height,
        1,
        &create,
    )?;
    ds.set_geo_transform(&[
        raster.minx_m,
        raster.cell_m,
        0.0,
        raster.maxy_m,
        0.0,
        -raster.cell_m,
    ])?;
    ds.set_spatial_ref(&SpatialRef::from_epsg(options.epsg)?)?;
    {
        let mut band = ds.rasterband(1)?;
        band.set_no_data_value(options.nodata.map(f64::from))?;
        let mut buffer = Buffer::new((width, height), data);
        band.write((0, 0), (width, height), &mut buffer)?;
    }
    ds.close()?;
    Ok(())
}
