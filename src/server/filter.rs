//! The common filters of every data and tile endpoint: `category` (codes or group names, comma-separated),
//! `from`, `to` (dates; incidents whose window begins in `[from, to]`) and `source` (comma-separated).

use super::error::ApiError;
use super::snapshot::{day_start_minutes, Incident, Snapshot};
use crate::category;
use crate::heap_size::HeapSize;
use chrono::NaiveDate;
use std::collections::HashMap;

/// A parsed filter, resolved against one snapshot.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Expanded category codes (sorted), empty = all.
    pub category_codes: Vec<String>,
    /// `allowed[i]` for snapshot category index `i`; `None` = all.
    categories: Option<Vec<bool>>,
    pub source_names: Vec<String>,
    sources: Option<Vec<bool>>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Half-open interval of window begins, minutes since the epoch.
    begin_min: i64,
    end_min: i64,
}

/// What identifies a [`Filter`] in a cache key: its expanded category codes and sources (sorted) and its
/// period. Together with the snapshot generation it determines the selected incidents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FilterKey {
    category_codes: Vec<String>,
    source_names: Vec<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl HeapSize for FilterKey {
    fn heap_bytes(&self) -> usize {
        self.category_codes.heap_bytes() + self.source_names.heap_bytes()
    }
}

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

impl Filter {
    /// No restriction.
    pub fn all(snapshot: &Snapshot) -> Filter {
        Filter::build(snapshot, vec![], vec![], None, None)
    }

    /// Parse `category`, `from`, `to`, `source` from query parameters.
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
        let mut sources = list(params.get("source"));
        for s in &sources {
            if snapshot.source_index(s).is_none() {
                return Err(ApiError::param("source", format!("onbekende bron '{s}'")));
            }
        }
        sources.sort();
        sources.dedup();
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
        Ok(Filter::build(snapshot, codes, sources, from, to))
    }

    fn build(
        snapshot: &Snapshot,
        category_codes: Vec<String>,
        source_names: Vec<String>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Filter {
        let categories = (!category_codes.is_empty()).then(|| {
            snapshot
                .categories
                .iter()
                .map(|c| category_codes.binary_search(c).is_ok())
                .collect()
        });
        let sources = (!source_names.is_empty()).then(|| {
            snapshot
                .sources
                .iter()
                .map(|s| source_names.binary_search(s).is_ok())
                .collect()
        });
        let begin_min = from.map(day_start_minutes).unwrap_or(i64::MIN);
        let end_min = to
            .and_then(|t| t.succ_opt())
            .map(day_start_minutes)
            .unwrap_or(i64::MAX);
        Filter {
            category_codes,
            categories,
            source_names,
            sources,
            from,
            to,
            begin_min,
            end_min,
        }
    }

    /// Half-open interval `[begin, end)` of window begins (minutes since the epoch) that pass the filter.
    pub fn begin_range_min(&self) -> (i64, i64) {
        (self.begin_min, self.end_min)
    }

    /// Does the incident pass the filter?
    #[inline]
    pub fn matches(&self, inc: &Incident) -> bool {
        if inc.begin_min < self.begin_min || inc.begin_min >= self.end_min {
            return false;
        }
        if let Some(c) = &self.categories {
            if !c.get(usize::from(inc.category)).copied().unwrap_or(false) {
                return false;
            }
        }
        if let Some(s) = &self.sources {
            if !s.get(usize::from(inc.source)).copied().unwrap_or(false) {
                return false;
            }
        }
        true
    }

    /// The same filter with another period.
    pub fn with_period(
        &self,
        snapshot: &Snapshot,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Filter {
        Filter::build(
            snapshot,
            self.category_codes.clone(),
            self.source_names.clone(),
            from,
            to,
        )
    }

    /// The effective period: the given bounds, else the data's first/last day.
    pub fn period(&self, snapshot: &Snapshot) -> Option<(NaiveDate, NaiveDate)> {
        let from = self.from.or(snapshot.first_day)?;
        let to = self.to.or(snapshot.last_day)?;
        Some((from, to))
    }

    /// The equally long period just before [`Filter::period`], as a filter; `None` without data.
    pub fn previous(&self, snapshot: &Snapshot) -> Option<Filter> {
        let (from, to) = self.period(snapshot)?;
        let days = (to - from).num_days() + 1;
        let prev_to = from.pred_opt()?;
        let prev_from = prev_to.checked_sub_days(chrono::Days::new((days - 1).max(0) as u64))?;
        Some(self.with_period(snapshot, Some(prev_from), Some(prev_to)))
    }

    /// The filter as a typed cache key: equal keys select the same incidents of the same snapshot.
    pub fn cache_key(&self) -> FilterKey {
        FilterKey {
            category_codes: self.category_codes.clone(),
            source_names: self.source_names.clone(),
            from: self.from,
            to: self.to,
        }
    }

    /// Canonical text of the filter, for ETags and the audit log.
    pub fn key(&self) -> String {
        format!(
            "c={};s={};f={};t={}",
            self.category_codes.join(","),
            self.source_names.join(","),
            self.from.map(|d| d.to_string()).unwrap_or_default(),
            self.to.map(|d| d.to_string()).unwrap_or_default()
        )
    }

    /// The filter as a query string (`category=...&from=...`), empty when unrestricted.
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        if !self.category_codes.is_empty() {
            parts.push(format!("category={}", self.category_codes.join(",")));
        }
        if !self.source_names.is_empty() {
            parts.push(format!("source={}", self.source_names.join(",")));
        }
        if let Some(f) = self.from {
            parts.push(format!("from={f}"));
        }
        if let Some(t) = self.to {
            parts.push(format!("to={t}"));
        }
        parts.join("&")
    }
}
