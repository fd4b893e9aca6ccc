//! Dates and the clock: the one parser of date parameters and the [`Clock`] that date-relative rules (retention)
//! are evaluated against.
//!
//! ```
//! use brandpunt::calendar::{parse_date, Clock};
//! use chrono::NaiveDate;
//!
//! assert_eq!(parse_date("2024-03-01"), Ok(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()));
//! assert_eq!(parse_date("01-03-2024"), parse_date("2024-03-01"));
//! assert!(parse_date("1 maart").is_err());
//!
//! // A clock that reads 2025-01-01 at its start and then runs on with the system clock.
//! let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
//! let clock = Clock::starting_at(start);
//! assert!(clock.now() >= start && clock.now() - start < chrono::TimeDelta::minutes(1));
//! ```

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

/// Why a date could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is geen datum (JJJJ-MM-DD)")]
pub struct DateError(pub String);

/// Parse a date as users write it: `YYYY-MM-DD`, also `DD-MM-YYYY`; surrounding white space is ignored.
pub fn parse_date(value: &str) -> Result<NaiveDate, DateError> {
    let v = value.trim();
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(v, "%d-%m-%Y"))
        .map_err(|_| DateError(v.to_string()))
}

/// Parse a moment: a date (its midnight), `YYYY-MM-DDTHH:MM:SS` or RFC 3339 (taken in UTC).
pub fn parse_moment(value: &str) -> Result<NaiveDateTime, DateError> {
    let v = value.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.naive_utc());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S") {
        return Ok(t);
    }
    parse_date(v).map(|d| d.and_time(chrono::NaiveTime::MIN))
}

/// What time it is, in UTC: the system clock, or the system clock shifted so that it read a chosen moment when
/// the clock was made (`--now` of `serve` and `retention apply`: reproducible runs and tests that must not depend
/// on today's date). A shifted clock keeps running, so daily tasks still see a day pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    offset: TimeDelta,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::default()
    }

    /// A clock that reads `start` now and runs on from there.
    pub fn starting_at(start: NaiveDateTime) -> Self {
        Clock {
            offset: start - chrono::Utc::now().naive_utc(),
        }
    }

    /// The current moment of this clock (UTC).
    pub fn now(&self) -> NaiveDateTime {
        chrono::Utc::now().naive_utc() + self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_orders_and_errors_name_the_value() {
        let d = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        assert_eq!(parse_date(" 2024-12-31 "), Ok(d));
        assert_eq!(parse_date("31-12-2024"), Ok(d));
        assert_eq!(
            parse_date("2024-13-01").unwrap_err().to_string(),
            "'2024-13-01' is geen datum (JJJJ-MM-DD)"
        );
    }

    #[test]
    fn moments_from_dates_local_times_and_rfc3339() {
        let m = |s| parse_moment(s).unwrap();
        assert_eq!(m("2024-06-01"), m("2024-06-01T00:00:00"));
        assert_eq!(m("2024-06-01T02:00:00+02:00"), m("2024-06-01T00:00:00Z"));
        assert!(parse_moment("gisteren").is_err());
    }

    #[test]
    fn a_shifted_clock_reads_its_start_and_runs_on() {
        let start = parse_moment("2020-02-29T12:00:00").unwrap();
        let clock = Clock::starting_at(start);
        let a = clock.now();
        assert!(a >= start && a - start < TimeDelta::seconds(5));
        assert!(clock.now() >= a);
        let system = Clock::system().now();
        assert!((system - chrono::Utc::now().naive_utc()).abs() < TimeDelta::seconds(5));
    }
}
