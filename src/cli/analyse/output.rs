//! Writing a result table by the extension of `--output`.

use anyhow::{bail, Context};
use brandpunt::coords::Transformer;
use brandpunt::export::xlsx::check_sheet_name;
use brandpunt::export::{
    workbook_bytes, write_csv, write_fgb, write_geojson, write_gpkg, Sheet, Table,
};
use geo_types::Geometry;
use std::path::Path;

/// Output format chosen by the file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    GeoPackage,
    FlatGeobuf,
    GeoJson,
    GeoTiff,
    Xlsx,
}

/// The format of `path` by its extension (`.csv`, `.json`, `.gpkg`, `.fgb`, `.geojson`, `.tif`/`.tiff`, `.xlsx`).
pub fn format_of(path: &Path) -> anyhow::Result<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "csv" => Format::Csv,
        "json" => Format::Json,
        "gpkg" => Format::GeoPackage,
        "fgb" => Format::FlatGeobuf,
        "geojson" => Format::GeoJson,
        "tif" | "tiff" => Format::GeoTiff,
        "xlsx" => Format::Xlsx,
        _ => bail!(
            "{}: onbekende extensie; kies .csv, .xlsx, .gpkg, .fgb, .geojson, .json of .tif",
            path.display()
        ),
    })
}

/// Writes `table` (with `geometries` in RD metres for the vector formats) to `path`; `layer` names the layer.
pub fn write(
    path: &Path,
    layer: &str,
    table: &Table,
    geometries: &[Geometry<f64>],
) -> anyhow::Result<()> {
    match format_of(path)? {
        Format::Csv => write_csv(path, table)?,
        Format::Json => write_json(path, table)?,
        Format::Xlsx => write_xlsx(path, layer, table)?,
        Format::GeoPackage => write_gpkg(path, layer, table, geometries)?,
        Format::FlatGeobuf => write_fgb(path, layer, table, geometries)?,
        Format::GeoJson => {
            let t = Transformer::new().context("PROJ-transformatie RD -> WGS84")?;
            write_geojson(path, layer, table, geometries, &t)?
        }
        Format::GeoTiff => bail!(
            "{}: deze analyse levert geen raster; kies .csv, .gpkg, .fgb of .geojson",
            path.display()
        ),
    }
    Ok(())
}

/// Writes `table` as an Excel workbook with one worksheet named `sheet` (`Resultaat` when `sheet` is no valid
/// worksheet name): the CSV's columns and cells, numbers as numeric cells ([`brandpunt::export::xlsx`]).
pub fn write_xlsx(path: &Path, sheet: &str, table: &Table) -> anyhow::Result<()> {
    let name = if check_sheet_name(sheet).is_ok() {
        sheet
    } else {
        "Resultaat"
    };
    let bytes = workbook_bytes(&[Sheet { name, table }])?;
    std::fs::write(path, bytes).with_context(|| format!("{}: kan niet schrijven", path.display()))
}

/// Writes `table` as a JSON array of objects (column -> value; null for missing/non-finite).
pub fn write_json(path: &Path, table: &Table) -> anyhow::Result<()> {
    use brandpunt::export::Value;
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = table
        .rows
        .iter()
        .map(|r| {
            table
                .columns
                .iter()
                .zip(r)
                .map(|((name, _), v)| {
                    let j = match v {
                        Value::Text(s) => serde_json::Value::from(s.as_str()),
                        Value::Int(i) => serde_json::Value::from(*i),
                        Value::Real(x) => serde_json::Number::from_f64(*x)
                            .map_or(serde_json::Value::Null, serde_json::Value::Number),
                        Value::Null => serde_json::Value::Null,
                    };
                    (name.clone(), j)
                })
                .collect()
        })
        .collect();
    let text = serde_json::to_string_pretty(&rows)?;
    std::fs::write(path, text).with_context(|| format!("{}: kan niet schrijven", path.display()))
}

/// Writes a table without geometry to `path` (`.csv`, `.json` or `.xlsx`), or as CSV to standard output.
pub fn write_plain(path: Option<&Path>, table: &Table) -> anyhow::Result<()> {
    match path {
        Some(path) => match format_of(path)? {
            Format::Json => write_json(path, table),
            Format::Csv => Ok(write_csv(path, table)?),
            Format::Xlsx => write_xlsx(path, "Resultaat", table),
            _ => bail!("{}: kies .csv, .xlsx of .json", path.display()),
        },
        None => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(table.columns.iter().map(|(n, _)| n.as_str()))?;
            for r in &table.rows {
                w.write_record(r.iter().map(brandpunt::export::Value::to_text))?;
            }
            w.flush()?;
            Ok(())
        }
    }
}
