//! PDOK `bag-light.gpkg` reader: streams `verblijfsobject`, `ligplaats`, `standplaats` (polygon centroid) and the
//! attributes of the referenced `pand` rows into an [`AddressSink`], in bounded memory.
//!
//! Identifiers stay text (16 characters, leading zeros). `gebruiksdoel` stays the published comma-separated
//! multi-value. An optional gemeente filter (4-digit `bronhouder_identificatie`) is applied as a GDAL attribute
//! filter so the national file (10 M objects) can be cut to a region.

use super::{vector, ImportError};
use crate::store::{AddressKind, AddressRecord, AddressSink, PandRecord};
use gdal::vector::LayerAccess;
use geo::Centroid;
use std::path::Path;

/// What a BAG import read and kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BagSummary {
    pub verblijfsobjecten: u64,
    pub ligplaatsen: u64,
    pub standplaatsen: u64,
    pub panden: u64,
    /// Objects skipped because they had no usable address or point (reported, not fatal).
    pub skipped: u64,
}

/// Progress callback: (layer name, features done, features in layer).
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, u64);

const ADDRESS_COLUMNS: &[&str] = &[
    "identificatie",
    "openbare_ruimte_naam",
    "huisnummer",
    "woonplaats_naam",
];

fn normalize_gemeente(code: &str) -> Option<String> {
    let c = code
        .trim()
        .trim_start_matches("GM")
        .trim_start_matches("gm");
    (c.len() == 4 && c.bytes().all(|b| b.is_ascii_digit())).then(|| c.to_string())
}

/// Parse a `--gemeente 0153,GM0164` filter into 4-digit codes.
pub fn parse_gemeente_filter(filter: &str) -> Result<Vec<String>, ImportError> {
    filter
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            normalize_gemeente(s).ok_or_else(|| ImportError::File {
                file: "--gemeente".into(),
                reason: format!("'{s}' is not a gemeente code (4 digits, optionally with GM)"),
            })
        })
        .collect()
}

/// Stream a BAG GeoPackage into `sink`. `assign` maps an RD point to its buurtcode (newest boundaries).
/// Does not commit: the caller calls `sink.finish()`.
pub fn read_bag(
    path: &Path,
    gemeenten: &[String],
    assign: &dyn Fn(f64, f64) -> Option<String>,
    sink: &mut dyn AddressSink,
    progress: Progress<'_>,
) -> Result<BagSummary, ImportError> {
    let file = path.display().to_string();
    let ds = vector::open(path)?;
    let mut summary = BagSummary::default();
    if ds.layer_by_name("verblijfsobject").is_err() {
        return Err(ImportError::MissingColumns {
            file,
            what: "the file (not a BAG GeoPackage)".into(),
            missing: vec!["layer verblijfsobject".into()],
        });
    }
    let filter_sql = (!gemeenten.is_empty()).then(|| {
        format!(
            "bronhouder_identificatie IN ({})",
            gemeenten
                .iter()
                .map(|g| format!("'{g}'"))
                .collect::<Vec<_>>()
                .join(",")
        )
    });
    for (layer_name, kind) in [
        ("verblijfsobject", AddressKind::Verblijfsobject),
        ("ligplaats", AddressKind::Ligplaats),
        ("standplaats", AddressKind::Standplaats),
    ] {
        let Ok(mut layer) = ds.layer_by_name(layer_name) else {
            continue; // ligplaats/standplaats are optional in extracts
        };
        let fields = vector::field_index(&layer);
        let missing: Vec<String> = ADDRESS_COLUMNS
            .iter()
            .filter(|c| !fields.contains_key(**c))
            .map(|c| c.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::MissingColumns {
                file: file.clone(),
                what: format!("layer '{layer_name}'"),
                missing,
            });
        }
        if let Some(epsg) = vector::epsg(&layer).filter(|c| *c != 28992) {
            return Err(ImportError::File {
                file: file.clone(),
                reason: format!(
                    "layer '{layer_name}' is in EPSG:{epsg}, expected RD New (EPSG:28992)"
                ),
            });
        }
        if let Some(sql) = &filter_sql {
            if fields.contains_key("bronhouder_identificatie") {
                layer
                    .set_attribute_filter(sql)
                    .map_err(|e| ImportError::File {
                        file: file.clone(),
                        reason: format!("cannot filter layer '{layer_name}' by gemeente: {e}"),
                    })?;
            }
        }
        let total = layer.feature_count();
        let col = |n: &str| fields.get(n).copied();
        let (c_id, c_street, c_short, c_nr, c_letter, c_toev, c_pc, c_wp) = (
            col("identificatie"),
            col("openbare_ruimte_naam"),
            col("openbare_ruimte_naam_kort"),
            col("huisnummer"),
            col("huisletter"),
            col("toevoeging"),
            col("postcode"),
            col("woonplaats_naam"),
        );
        let (c_bron, c_status, c_doel, c_opp, c_bj, c_pand, c_pandstatus) = (
            col("bronhouder_identificatie"),
            col("status"),
            col("gebruiksdoel"),
            col("oppervlakte"),
            col("bouwjaar"),
            col("pand_identificatie"),
            col("pandstatus"),
        );
        let mut done = 0u64;
        for feature in layer.features() {
            done += 1;
            if done % 10_000 == 0 {
                progress(layer_name, done, total);
            }
            let point = feature
                .geometry()
                .and_then(|g| g.to_geo().ok())
                .and_then(|g| match g {
                    geo_types::Geometry::Point(p) => Some((p.x(), p.y())),
                    other => other.centroid().map(|c| (c.x(), c.y())),
                });
            let (Some(bag_id), Some(street), Some(nr), Some(woonplaats), Some((x, y))) = (
                vector::text(&feature, c_id),
                vector::text(&feature, c_street),
                vector::real(&feature, c_nr),
                vector::text(&feature, c_wp),
                point,
            ) else {
                summary.skipped += 1;
                continue;
            };
            if !(1.0..=99_999.0).contains(&nr) || !crate::coords::is_within_netherlands_rd(x, y) {
                summary.skipped += 1;
                continue;
            }
            let record = AddressRecord {
                bag_id,
                kind,
                street,
                street_short: vector::text(&feature, c_short),
                huisnummer: nr as u32,
                huisletter: vector::text(&feature, c_letter),
                toevoeging: vector::text(&feature, c_toev),
                postcode: vector::text(&feature, c_pc)
                    .map(|p| p.replace(' ', "").to_ascii_uppercase()),
                woonplaats,
                bronhouder: vector::text(&feature, c_bron),
                status: vector::text(&feature, c_status),
                gebruiksdoel: vector::text(&feature, c_doel),
                oppervlakte_m2: vector::real(&feature, c_opp).map(|v| v as i64),
                bouwjaar: vector::real(&feature, c_bj).map(|v| v as i32),
                pand_id: vector::text(&feature, c_pand),
                pand_status: vector::text(&feature, c_pandstatus),
                x_m: x,
                y_m: y,
                buurtcode: assign(x, y),
            };
            sink.push(&record)?;
            match kind {
                AddressKind::Verblijfsobject => summary.verblijfsobjecten += 1,
                AddressKind::Ligplaats => summary.ligplaatsen += 1,
                AddressKind::Standplaats => summary.standplaatsen += 1,
            }
        }
        progress(layer_name, done, total);
    }
    if let Ok(mut layer) = ds.layer_by_name("pand") {
        let fields = vector::field_index(&layer);
        let col = |n: &str| fields.get(n).copied();
        let total = layer.feature_count();
        let mut done = 0u64;
        for feature in layer.features() {
            done += 1;
            if done % 10_000 == 0 {
                progress("pand", done, total);
            }
            let Some(pand_id) = vector::text(&feature, col("identificatie")) else {
                continue;
            };
            let kept = sink.push_pand(&PandRecord {
                pand_id,
                bouwjaar: vector::real(&feature, col("bouwjaar")).map(|v| v as i32),
                status: vector::text(&feature, col("status")),
                gebruiksdoel: vector::text(&feature, col("gebruiksdoel")),
                oppervlakte_min: vector::real(&feature, col("oppervlakte_min")).map(|v| v as i64),
                oppervlakte_max: vector::real(&feature, col("oppervlakte_max")).map(|v| v as i64),
                aantal_verblijfsobjecten: vector::real(&feature, col("aantal_verblijfsobjecten"))
                    .map(|v| v as i64),
            })?;
            if kept {
                summary.panden += 1;
            }
        }
        progress("pand", done, total);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemeente_filter() {
        assert_eq!(
            parse_gemeente_filter("0153, GM0164").unwrap(),
            vec!["0153", "0164"]
        );
        assert!(parse_gemeente_filter("153").is_err());
        assert!(parse_gemeente_filter("abcd").is_err());
    }
}
