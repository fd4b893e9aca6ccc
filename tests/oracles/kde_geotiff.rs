//! GeoTIFF export read back with GDAL: size, geotransform, EPSG:28992, Float32 values, nodata.

use brandpunt::analysis::kde::{kde_raster, Extent, KdeParams, Kernel, Raster};
use brandpunt::analysis::Event;
use brandpunt::export::{write_geotiff, write_geotiff_with, ExportError, GeoTiffOptions};
use gdal::raster::GdalDataType;
use gdal::Dataset;

fn read_back(path: &std::path::Path) -> (Dataset, Vec<f32>) {
    let ds = Dataset::open(path).unwrap();
    let band = ds.rasterband(1).unwrap();
    let (w, h) = ds.raster_size();
    let buf = band.read_as::<f32>((0, 0), (w, h), (w, h), None).unwrap();
    let (_, data) = buf.into_shape_and_vec();
    (ds, data)
}

#[test]
fn geotiff_round_trip_with_georeferencing_and_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.tif");
    let mut values: Vec<f64> = (0..12).map(|k| k as f64 * 1.5 + 0.25).collect();
    values[5] = f64::NAN;
    let raster = Raster {
        minx_m: 120_000.0,
        maxy_m: 487_000.0,
        cell_m: 25.0,
        width: 4,
        height: 3,
        values,
    };
    write_geotiff(&path, &raster).unwrap();
    let (ds, data) = read_back(&path);
    assert_eq!(ds.raster_size(), (4, 3));
    assert_eq!(ds.raster_count(), 1);
    assert_eq!(
        ds.geo_transform().unwrap(),
        [120_000.0, 25.0, 0.0, 487_000.0, 0.0, -25.0]
    );
    assert_eq!(ds.spatial_ref().unwrap().auth_code().unwrap(), 28992);
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.band_type(), GdalDataType::Float32);
    assert_eq!(band.no_data_value(), Some(-9999.0));
    for (k, v) in data.iter().enumerate() {
        if k == 5 {
            assert_eq!(*v, -9999.0);
        } else {
            assert_eq!(*v, (k as f64 * 1.5 + 0.25) as f32, "cell {k}");
        }
    }
}

#[test]
fn geotiff_without_nodata_keeps_nan_and_pixel_centres_match() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kde.tif");
    let events: Vec<Event> = [(120_130.0, 486_870.0), (120_260.0, 486_700.0)]
        .iter()
        .map(|&(x, y)| Event {
            x_m: x,
            y_m: y,
            begin: None,
            end: None,
            weight: 1.0,
        })
        .collect();
    let params = KdeParams {
        kernel: Kernel::Quartic,
        bandwidth_m: Some(150.0),
        cell_m: 10.0,
        extent_m: Some(Extent {
            minx_m: 120_000.0,
            miny_m: 486_500.0,
            maxx_m: 120_400.0,
            maxy_m: 487_000.0,
        }),
        gaussian_tail: 1e-4,
    };
    let mut kde = kde_raster::<f32>(&events, &params).unwrap();
    kde.raster.values[0] = f32::NAN;
    let opts = GeoTiffOptions {
        nodata: None,
        compress: false,
        ..GeoTiffOptions::default()
    };
    write_geotiff_with(&path, &kde.raster, &opts).unwrap();
    let (ds, data) = read_back(&path);
    assert_eq!(ds.rasterband(1).unwrap().no_data_value(), None);
    assert!(data[0].is_nan());
    assert_eq!(&data[1..], &kde.raster.values[1..]);
    // GDAL's pixel centre of (i, j) = gt[0] + (i + 0.5) gt[1], gt[3] + (j + 0.5) gt[5] = Raster::cell_centre_m.
    let gt = ds.geo_transform().unwrap();
    let (i, j) = (13, 13);
    let centre = (
        gt[0] + (i as f64 + 0.5) * gt[1],
        gt[3] + (j as f64 + 0.5) * gt[5],
    );
    assert_eq!(centre, kde.raster.cell_centre_m(i, j));
    // That pixel holds the event at (120 130, 486 870): the maximum of the first kernel.
    assert_eq!(kde.raster.cell_of(120_130.0, 486_870.0), Some((13, 13)));
}

#[test]
fn geotiff_rejects_inconsistent_rasters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.tif");
    let bad = Raster {
        minx_m: 0.0,
        maxy_m: 0.0,
        cell_m: 1.0,
        width: 3,
        height: 3,
        values: vec![0.0f32; 8],
    };
    assert!(matches!(
        write_geotiff(&path, &bad),
        Err(ExportError::InvalidRaster(_))
    ));
    let empty = Raster {
        width: 0,
        height: 0,
        values: Vec::<f32>::new(),
        ..bad.clone()
    };
    assert!(matches!(
        write_geotiff(&path, &empty),
        Err(ExportError::EmptyRaster { .. })
    ));
    let collides = Raster {
        values: vec![-9999.0f32; 9],
        ..bad
    };
    assert!(matches!(
        write_geotiff(&path, &collides),
        Err(ExportError::ValueEqualsNodata { index: 0, .. })
    ));
}
