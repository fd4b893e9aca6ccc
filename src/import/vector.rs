//! Shared helpers for reading vector files through GDAL (CBS and BAG GeoPackages, shapefiles).

use super::ImportError;
use gdal::vector::{Feature, LayerAccess};
use gdal::Dataset;
use std::collections::HashMap;
use std::path::Path;

/// Open a vector dataset read-only, with an error naming the file.
pub fn open(path: &Path) -> Result<Dataset, ImportError> {
    if !path.exists() {
        return Err(ImportError::File {
            file: path.display().to_string(),
            reason: "bestand bestaat niet (file does not exist)".into(),
        });
    }
    let options = gdal::DatasetOptions {
        open_flags: gdal::GdalOpenFlags::GDAL_OF_VECTOR | gdal::GdalOpenFlags::GDAL_OF_READONLY,
        ..Default::default()
    };
    Dataset::open_ex(path, options).map_err(|e| ImportError::File {
        file: path.display().to_string(),
        reason: format!("not a readable vector file: {e}"),
    })
}

/// Lower-case field name -> field index of a layer.
pub fn field_index<L: LayerAccess>(layer: &L) -> HashMap<String, usize> {
    layer
        .defn()
        .fields()
        .enumerate()
        .map(|(i, f)| (f.name().to_ascii_lowercase(), i))
        .collect()
}

/// Find the first of `names` (lower-case aliases) among the fields.
pub fn find(fields: &HashMap<String, usize>, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| fields.get(*n).copied())
}

/// A field as trimmed text (numbers formatted), `None` when null or empty.
pub fn text(f: &Feature<'_>, idx: Option<usize>) -> Option<String> {
    let idx = idx?;
    let v = f.field_as_string(idx).ok().flatten()?;
    let v = v.trim();
    if v.is_empty() {
        None
    } else {
        Some(v.to_string())
    }
}

/// A field as a float, `None` when null, empty or not numeric.
pub fn real(f: &Feature<'_>, idx: Option<usize>) -> Option<f64> {
    let idx = idx?;
    match f.field(idx).ok().flatten()? {
        gdal::vector::FieldValue::IntegerValue(v) => Some(v as f64),
        gdal::vector::FieldValue::Integer64Value(v) => Some(v as f64),
        gdal::vector::FieldValue::RealValue(v) => Some(v),
        gdal::vector::FieldValue::StringValue(s) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

/// EPSG code of a layer's spatial reference, when it has one.
pub fn epsg<L: LayerAccess>(layer: &L) -> Option<i32> {
    let srs = layer.spatial_ref()?;
    srs.auth_code().ok().filter(|_| {
        srs.auth_name()
            .map(|n| n.eq_ignore_ascii_case("EPSG"))
            .unwrap_or(false)
    })
}
