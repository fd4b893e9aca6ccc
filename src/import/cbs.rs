//! CBS wijk- en buurtkaart reader (GeoPackage 2021+, and pre-2021 shapefiles through column aliases).
//!
//! Layers are discovered from the dataset (for a GeoPackage: its `gpkg_contents`), never hard-coded: a layer is a
//! buurt layer when it has a buurt code column, a wijk layer when it has a wijk code but no buurt code, a gemeente
//! layer when it has only a gemeente code. Only the identification columns are required; every other numeric
//! column is kept as an optional statistic, with CBS's negative sentinels (any value <= -99990) read as missing.
//! Codes are validated (`^BU\d{4}[0-9A-Z]{4}$`, `^WK\d{4}[0-9A-Z]{2}$`, `^GM\d{4}$`); geometries must be RD New.

use super::{vector, ImportError};
use crate::area_level::AreaLevel;
use crate::store::AreaRecord;
use gdal::vector::LayerAccess;
use geo_types::{Geometry, MultiPolygon};
use std::collections::BTreeMap;
use std::path::Path;

/// Values at or below this are CBS "missing/suppressed" sentinels (-99997, -99995, -99999999).
pub const SENTINEL_MAX: f64 = -99990.0;

/// Column aliases: canonical name -> accepted lower-case names (2021+ first, then pre-2021 shapefile names).
const ALIASES: &[(&str, &[&str])] = &[
    ("buurtcode", &["buurtcode", "bu_code"]),
    ("buurtnaam", &["buurtnaam", "bu_naam"]),
    ("wijkcode", &["wijkcode", "wk_code"]),
    ("wijknaam", &["wijknaam", "wk_naam"]),
    ("gemeentecode", &["gemeentecode", "gm_code"]),
    ("gemeentenaam", &["gemeentenaam", "gm_naam"]),
    ("water", &["water"]),
    ("jaar", &["jaar"]),
    ("aantal_inwoners", &["aantal_inwoners", "aant_inw"]),
];

/// Identification and text columns that are not statistics.
const NOT_STATISTICS: &[&str] = &[
    "fid",
    "buurtcode",
    "bu_code",
    "buurtnaam",
    "bu_naam",
    "wijkcode",
    "wk_code",
    "wijknaam",
    "wk_naam",
    "gemeentecode",
    "gm_code",
    "gemeentenaam",
    "gm_naam",
    "water",
    "jaar",
    "jrstatcode",
    "jaarstatcode",
    "ind_wbi",
    "indelingswijziging_wijken_en_buurten",
    "meest_voorkomende_postcode",
    "pc6",
    "postcode",
    "dek_perc",
    "dekkingspercentage",
    "aantal_inwoners",
    "aant_inw",
    "shape_leng",
    "shape_area",
    "shape_length",
];

/// The areas read from one CBS file.
#[derive(Clone, Debug)]
pub struct CbsBoundaries {
    pub year: i32,
    pub areas: Vec<AreaRecord>,
}

fn alias(name: &str) -> &'static [&'static str] {
    ALIASES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
        .unwrap_or(&[])
}

fn valid_code(level: AreaLevel, code: &str) -> bool {
    let b = code.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let alnum = |s: &[u8]| {
        s.iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    };
    match level {
        AreaLevel::Gemeente => b.len() == 6 && code.starts_with("GM") && digits(&b[2..]),
        AreaLevel::Wijk => {
            b.len() == 8 && code.starts_with("WK") && digits(&b[2..6]) && alnum(&b[6..])
        }
        AreaLevel::Buurt => {
            b.len() == 10 && code.starts_with("BU") && digits(&b[2..6]) && alnum(&b[6..])
        }
        // Not a CBS code: custom areas are drawn, never imported.
        AreaLevel::Custom => false,
    }
}

/// The year in a CBS file name such as `wijkenbuurten_2024_v1.gpkg` or `buurt_2020_v3.shp`.
fn year_from_name(path: &Path) -> Option<i32> {
    let name = path.file_name()?.to_string_lossy().to_string();
    name.split(|c: char| !c.is_ascii_digit())
        .filter(|p| p.len() == 4)
        .filter_map(|p| p.parse::<i32>().ok())
        .find(|y| (1990..=2100).contains(y))
}

fn to_multipolygon(g: Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::MultiPolygon(mp) => Some(mp),
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p])),
        _ => None,
    }
}

/// Read every gemeente, wijk and buurt from a CBS wijk- en buurtkaart (GeoPackage or shapefile/directory).
///
/// `year` overrides the year; otherwise it comes from the `jaar` column or the file name.
pub fn read_cbs(path: &Path, year: Option<i32>) -> Result<CbsBoundaries, ImportError> {
    let file = path.display().to_string();
    let ds = vector::open(path)?;
    let mut areas = Vec::new();
    let mut found_year: Option<i32> = year;
    let mut seen_levels = Vec::new();
    for mut layer in ds.layers() {
        let layer_name = layer.name();
        let fields = vector::field_index(&layer);
        let col = |name: &str| vector::find(&fields, alias(name));
        let level = if col("buurtcode").is_some() {
            AreaLevel::Buurt
        } else if col("wijkcode").is_some() {
            AreaLevel::Wijk
        } else if col("gemeentecode").is_some() {
            AreaLevel::Gemeente
        } else {
            continue; // not a boundary layer (e.g. a statistics-only table)
        };
        let required: &[&str] = match level {
            AreaLevel::Buurt => &["buurtcode", "buurtnaam", "wijkcode", "gemeentecode"],
            AreaLevel::Wijk => &["wijkcode", "wijknaam", "gemeentecode"],
            AreaLevel::Gemeente => &["gemeentecode", "gemeentenaam"],
            AreaLevel::Custom => continue,
        };
        let missing: Vec<String> = required
            .iter()
            .filter(|c| col(c).is_none())
            .map(|c| c.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::MissingColumns {
                file: file.clone(),
                what: format!("layer '{layer_name}'"),
                missing,
            });
        }
        match vector::epsg(&layer) {
            Some(28992) => {}
            other => {
                return Err(ImportError::File {
                    file: file.clone(),
                    reason: format!(
                        "layer '{layer_name}' is in {}, expected RD New (EPSG:28992)",
                        other
                            .map(|c| format!("EPSG:{c}"))
                            .unwrap_or_else(|| "an unknown CRS".into())
                    ),
                })
            }
        }
        seen_levels.push(level);
        let (code_col, name_col) = match level {
            AreaLevel::Buurt => (col("buurtcode"), col("buurtnaam")),
            AreaLevel::Wijk => (col("wijkcode"), col("wijknaam")),
            AreaLevel::Gemeente => (col("gemeentecode"), col("gemeentenaam")),
            AreaLevel::Custom => continue,
        };
        let stat_cols: Vec<(String, usize)> = {
            let defn = layer.defn();
            defn.fields()
                .enumerate()
                .filter(|(_, f)| {
                    use gdal::vector::OGRFieldType as T;
                    matches!(f.field_type(), T::OFTInteger | T::OFTInteger64 | T::OFTReal)
                        && !NOT_STATISTICS.contains(&f.name().to_ascii_lowercase().as_str())
                })
                .map(|(i, f)| (f.name().to_ascii_lowercase(), i))
                .collect()
        };
        for feature in layer.features() {
            let row = feature
                .fid()
                .map(|f| f.to_string())
                .unwrap_or_else(|| "?".into());
            let at = |column: &str, reason: String| ImportError::Row {
                file: file.clone(),
                location: format!("layer '{layer_name}', feature {row}"),
                column: column.to_string(),
                reason,
            };
            let code = vector::text(&feature, code_col)
                .ok_or_else(|| at("code", "empty area code".into()))?;
            if !valid_code(level, &code) {
                return Err(at(
                    "code",
                    format!("invalid {} code '{code}'", level.as_str()),
                ));
            }
            let name = vector::text(&feature, name_col).unwrap_or_default();
            let gemeentecode = match level {
                AreaLevel::Gemeente => code.clone(),
                _ => vector::text(&feature, col("gemeentecode"))
                    .ok_or_else(|| at("gemeentecode", "empty gemeentecode".into()))?,
            };
            if !valid_code(AreaLevel::Gemeente, &gemeentecode) {
                return Err(at(
                    "gemeentecode",
                    format!("invalid gemeente code '{gemeentecode}'"),
                ));
            }
            let wijkcode = match level {
                AreaLevel::Buurt => {
                    let w = vector::text(&feature, col("wijkcode"))
                        .ok_or_else(|| at("wijkcode", "empty wijkcode".into()))?;
                    if !valid_code(AreaLevel::Wijk, &w) {
                        return Err(at("wijkcode", format!("invalid wijk code '{w}'")));
                    }
                    Some(w)
                }
                _ => None,
            };
            if found_year.is_none() {
                found_year = vector::real(&feature, col("jaar")).map(|y| y as i32);
            }
            let inhabitants = vector::real(&feature, col("aantal_inwoners"))
                .filter(|v| *v > SENTINEL_MAX)
                .map(|v| v as i64);
            let mut stats = BTreeMap::new();
            for (name, idx) in &stat_cols {
                if let Some(v) = vector::real(&feature, Some(*idx)).filter(|v| *v > SENTINEL_MAX) {
                    stats.insert(name.clone(), v);
                }
            }
            let geometry = feature
                .geometry()
                .ok_or_else(|| at("geom", "no geometry".into()))?
                .to_geo()
                .map_err(|e| at("geom", format!("unreadable geometry: {e}")))?;
            let geometry = to_multipolygon(geometry)
                .ok_or_else(|| at("geom", "geometry is not a (multi)polygon".into()))?;
            areas.push(AreaRecord {
                level,
                code,
                name,
                wijkcode,
                gemeentecode,
                gemeentenaam: vector::text(&feature, col("gemeentenaam")),
                water: vector::text(&feature, col("water")).map(|w| w.to_ascii_uppercase()),
                inhabitants,
                stats,
                geometry,
            });
        }
    }
    if !seen_levels.contains(&AreaLevel::Buurt) {
        return Err(ImportError::MissingColumns {
            file,
            what: "the file (no layer with buurten)".into(),
            missing: vec![
                "buurtcode".into(),
                "buurtnaam".into(),
                "wijkcode".into(),
                "gemeentecode".into(),
            ],
        });
    }
    let year = found_year
        .or_else(|| year_from_name(path))
        .ok_or_else(|| ImportError::File {
            file: path.display().to_string(),
            reason:
                "cannot tell the year: no 'jaar' column and no year in the file name (use --year)"
                    .into(),
        })?;
    areas.sort_by(|a, b| (a.level, &a.code).cmp(&(b.level, &b.code)));
    if let Some(w) = areas
        .windows(2)
        .find(|w| w[0].level == w[1].level && w[0].code == w[1].code)
    {
        return Err(ImportError::File {
            file: path.display().to_string(),
            reason: format!("area code {} occurs twice", w[0].code),
        });
    }
    Ok(CbsBoundaries { year, areas })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_codes_including_alphanumeric() {
        assert!(valid_code(AreaLevel::Buurt, "BU0363AE02"));
        assert!(valid_code(AreaLevel::Buurt, "BU03630000"));
        assert!(!valid_code(AreaLevel::Buurt, "BU0363ae02"));
        assert!(!valid_code(AreaLevel::Buurt, "BU036300"));
        assert!(valid_code(AreaLevel::Wijk, "WK0363AE"));
        assert!(!valid_code(AreaLevel::Wijk, "WKA36300"));
        assert!(valid_code(AreaLevel::Gemeente, "GM0363"));
        assert!(!valid_code(AreaLevel::Gemeente, "GM036"));
    }

    #[test]
    fn year_from_file_names() {
        assert_eq!(
            year_from_name(Path::new("/x/wijkenbuurten_2024_v1.gpkg")),
            Some(2024)
        );
        assert_eq!(year_from_name(Path::new("buurt_2020_v3.shp")), Some(2020));
        assert_eq!(year_from_name(Path::new("buurten.gpkg")), None);
    }
}
