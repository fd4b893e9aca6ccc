//! The common filters of every data and tile endpoint, read from query parameters: `category` (codes or group
//! names, comma-separated), `from`, `to` (dates; incidents whose window begins in `[from, to]`), `source`
//! (comma-separated) and the study area: `area` (a CBS gemeente, wijk or buurt code of the tenant, or
//! `custom:ID`) or `bbox` (`minlon,minlat,maxlon,maxlat`, WGS84 degrees, within the Netherlands). The filter itself and its evaluation are [`crate::dataset::Filter`]; this module checks
//! the parameters against the caller's snapshot and names the parameter in every refusal.

use super::error::ApiError;
use crate::category;
use crate::dataset::filter::StudyArea;
use crate::dataset::Snapshot;
pub use crate::dataset::{Filter, FilterKey};
use chrono::NaiveDate;
use std::collections::HashMap;

/// Parse a date parameter (`YYYY-MM-DD`, also `DD-MM-YYYY`).
pub fn parse_date(parameter: &str, value: &str) -> Result<NaiveDate, ApiError> {
    crate::calendar::parse_date(value).map_err(|e| ApiError::param(parameter, e.to_string()))
}

/// 400 naming `to` when the period `from..=to` spans more than `max_days` days (`[limits] max_period_days`).
pub fn check_period(from: NaiveDate, to: NaiveDate, max_days: u32) -> Result<(), ApiError> {
    let days = (to - from).num_days() + 1;
    if days > i64::from(max_days) {
        return Err(ApiError::param(
            "to",
            format!(
                "de periode {from}..{to} is {days} dagen; hoogstens {max_days} dagen toegestaan"
            ),
        ));
    }
    Ok(())
}

fn list(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Reading a [`Filter`] from a request (the HTTP half of the dataset's filter).
impl Filter {
    /// Parse `category`, `from`, `to`, `source` from query parameters: 400 naming the parameter for an unknown
    /// category or group, an unknown source, a date that is no date, or `to` before `from`.
    pub fn parse(
        params: &HashMap<String, String>,
        snapshot: &Snapshot,
    ) -> Result<Filter, ApiError> {
        let raw = list(params.get("category"));
        for part in &raw {
            let known = category::group_members(part).is_some()
                || category::is_police_code(part)
                || snapshot.category_index(part).is_some();
            if !known {
                return Err(ApiError::param(
                    "category",
                    format!("onbekende categorie of groep '{part}'"),
                ));
            }
        }
        let codes = if raw.is_empty() {
            vec![]
        } else {
            category::expand_filter(&raw.join(","))
        };
        let sources = list(params.get("source"));
        for s in &sources {
            if snapshot.source_index(s).is_none() {
                return Err(ApiError::param("source", format!("onbekende bron '{s}'")));
            }
        }
        let from = params
            .get("from")
            .filter(|v| !v.trim().is_empty())
            .map(|v| parse_date("from", v))
            .transpose()?;
        let to = params
            .get("to")
            .filter(|v| !v.trim().is_empty())
            .map(|v| parse_date("to", v))
            .transpose()?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(ApiError::param(
                    "to",
                    format!("'to' ({t}) ligt voor 'from' ({f})"),
                ));
            }
        }
        let filter = Filter::new(snapshot, codes, sources, from, to);
        Ok(match study_area(params, snapshot)? {
            Some(study) => filter.within(study),
            None => filter,
        })
    }
}

/// The study area of `area` or `bbox` (at most one of them); `None` when neither is given.
fn study_area(
    params: &HashMap<String, String>,
    snapshot: &Snapshot,
) -> Result<Option<StudyArea>, ApiError> {
    let given = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    match (given("area"), given("bbox")) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(ApiError::param(
            "bbox",
            "geef een gebied (area) of een kader (bbox), niet allebei",
        )),
        (Some(code), None) => {
            let idx = snapshot
                .area_index(code)
                .or_else(|| snapshot.area_index(&code.to_ascii_uppercase()))
                .ok_or_else(|| ApiError::param("area", format!("onbekend gebied '{code}'")))?;
            StudyArea::area(snapshot, idx).map(Some).ok_or_else(|| {
                ApiError::param("area", format!("gebied '{code}' heeft geen geometrie"))
            })
        }
        (None, Some(raw)) => {
            let rect = crate::coords::bbox_wgs84_to_rd(raw)
                .map_err(|e| ApiError::param("bbox", e.to_string()))?;
            // Canonical text (numbers as parsed), so equal boxes share cache entries and links.
            let given: Vec<String> = raw
                .split(',')
                .map(|p| p.trim().parse::<f64>().map(|v| v.to_string()))
                .collect::<Result<_, _>>()
                .map_err(|_| ApiError::param("bbox", format!("'{raw}'")))?;
            Ok(Some(StudyArea::bbox(rect, &given.join(","))))
        }
    }
}
