//! The common filters of every data and tile endpoint, read from query parameters: `category` (codes or group
//! names, comma-separated), `from`, `to` (dates; incidents whose window begins in `[from, to]`) and `source`
//! (comma-separated). The filter itself and its evaluation are [`crate::dataset::Filter`]; this module checks
//! the parameters against the caller's snapshot and names the parameter in every refusal.

use super::error::ApiError;
use crate::category;
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
        Ok(Filter::new(snapshot, codes, sources, from, to))
    }
}
