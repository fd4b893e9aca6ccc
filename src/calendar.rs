//! Dates and the clock: the one parser of date parameters, the one calendar [`Step`] (day, ISO week, month) of
//! every time series and space-time cube with its zero-filled [`Buckets`], and the [`Clock`] that date-relative
//! rules (retention) are evaluated against.
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

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, Weekday};
use serde::Serialize;

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

/// Parse a month as users write it, `YYYY-MM` (surrounding white space ignored), to its first day.
///
/// ```
/// use brandpunt::calendar::parse_month;
/// use chrono::NaiveDate;
///
/// assert_eq!(parse_month(" 2024-09 "), Some(NaiveDate::from_ymd_opt(2024, 9, 1).unwrap()));
/// assert_eq!(parse_month("2024-13"), None);
/// ```
pub fn parse_month(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", value.trim()), "%Y-%m-%d").ok()
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

/// Parse a day name, English or Dutch, full or abbreviated (`fri`, `friday`, `vr`, `vrijdag`; case and
/// surrounding white space ignored).
///
/// ```
/// use brandpunt::calendar::{dutch_weekday, parse_weekday};
/// use chrono::Weekday;
///
/// assert_eq!(parse_weekday(" Vr "), Some(Weekday::Fri));
/// assert_eq!(parse_weekday("sunday"), Some(Weekday::Sun));
/// assert_eq!(parse_weekday("friday!"), None);
/// assert_eq!(dutch_weekday(Weekday::Wed), "woensdag");
/// ```
pub fn parse_weekday(value: &str) -> Option<Weekday> {
    Some(match value.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" | "ma" | "maandag" => Weekday::Mon,
        "tue" | "tuesday" | "di" | "dinsdag" => Weekday::Tue,
        "wed" | "wednesday" | "wo" | "woensdag" => Weekday::Wed,
        "thu" | "thursday" | "do" | "donderdag" => Weekday::Thu,
        "fri" | "friday" | "vr" | "vrijdag" => Weekday::Fri,
        "sat" | "saturday" | "za" | "zaterdag" => Weekday::Sat,
        "sun" | "sunday" | "zo" | "zondag" => Weekday::Sun,
        _ => return None,
    })
}

/// Dutch name of a weekday (`maandag` .. `zondag`).
pub fn dutch_weekday(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "maandag",
        Weekday::Tue => "dinsdag",
        Weekday::Wed => "woensdag",
        Weekday::Thu => "donderdag",
        Weekday::Fri => "vrijdag",
        Weekday::Sat => "zaterdag",
        Weekday::Sun => "zondag",
    }
}

const DUTCH_MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// Dutch name of the month of `d` with its year: `september 2024`.
///
/// ```
/// use brandpunt::calendar::dutch_month;
/// use chrono::NaiveDate;
///
/// assert_eq!(dutch_month(NaiveDate::from_ymd_opt(2024, 9, 17).unwrap()), "september 2024");
/// ```
pub fn dutch_month(d: NaiveDate) -> String {
    format!("{} {}", DUTCH_MONTHS[d.month0() as usize], d.year())
}

/// A calendar step: the bucket of a time series, the step of a space-time cube.
///
/// ```
/// use brandpunt::calendar::Step;
/// use chrono::NaiveDate;
///
/// let d = NaiveDate::from_ymd_opt(2024, 9, 4).unwrap(); // a Wednesday
/// assert_eq!(Step::parse(" Maand "), Some(Step::Month));
/// assert_eq!(Step::Week.bucket_start(d), NaiveDate::from_ymd_opt(2024, 9, 2).unwrap());
/// assert_eq!(Step::Week.label(Step::Week.bucket_start(d)), "2024-W36");
/// assert_eq!(Step::Month.next(Step::Month.bucket_start(d)), NaiveDate::from_ymd_opt(2024, 10, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Calendar days.
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl Step {
    /// Parse `day`, `week` or `month` (also Dutch `dag`, `maand`; case and surrounding white space ignored).
    pub fn parse(value: &str) -> Option<Step> {
        match value.trim().to_ascii_lowercase().as_str() {
            "day" | "dag" => Some(Step::Day),
            "week" => Some(Step::Week),
            "month" | "maand" => Some(Step::Month),
            _ => None,
        }
    }

    /// `day`, `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Day => "day",
            Step::Week => "week",
            Step::Month => "month",
        }
    }

    /// First day of the step holding `d` (the day itself, the Monday of its ISO week, the 1st of its month).
    pub fn bucket_start(self, d: NaiveDate) -> NaiveDate {
        match self {
            Step::Day => d,
            Step::Week => d
                .checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_monday())))
                .unwrap_or(d),
            Step::Month => d.with_day(1).unwrap_or(d),
        }
    }

    /// Label of the step starting at `start`: `2024-09-04` (day), `2024-W36` (ISO week) or `2024-09` (month).
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Step::Day => start.format("%Y-%m-%d").to_string(),
            Step::Week => start.format("%G-W%V").to_string(),
            Step::Month => start.format("%Y-%m").to_string(),
        }
    }

    /// First day of the step after the one starting at `start` (`None` past the end of the calendar).
    pub fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Step::Day => start.succ_opt(),
            Step::Week => start.checked_add_days(Days::new(7)),
            Step::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

/// Months since the start of year 0 (`year * 12 + month0`): consecutive months have consecutive indices.
///
/// ```
/// use brandpunt::calendar::{month_index, month_start};
/// use chrono::NaiveDate;
///
/// let d = NaiveDate::from_ymd_opt(2024, 9, 17).unwrap();
/// assert_eq!(month_index(d) - month_index(NaiveDate::from_ymd_opt(2023, 9, 1).unwrap()), 12);
/// assert_eq!(month_start(month_index(d)), NaiveDate::from_ymd_opt(2024, 9, 1));
/// ```
pub fn month_index(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// The first day of the month with [`month_index`] `index` (`None` outside chrono's range).
pub fn month_start(index: i64) -> Option<NaiveDate> {
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    NaiveDate::from_ymd_opt(year, index.rem_euclid(12) as u32 + 1, 1)
}

/// Zero-filled counts per [`Step`] over the days `from..=to`: one bucket for every step that touches the period
/// (the first may start before `from`, the last end after `to`).
///
/// ```
/// use brandpunt::calendar::{Buckets, Step};
/// use chrono::NaiveDate;
///
/// let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
/// let mut b = Buckets::new(Step::Month, d("2024-01-15"), d("2024-03-10"));
/// b.add(d("2024-02-29"));
/// b.add(d("2024-03-11")); // after the period: ignored
/// assert_eq!(b.counts, vec![0, 1, 0]);
/// let rows = b.rows();
/// assert_eq!((rows[0].period.as_str(), rows[0].days), ("2024-01", 17));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Buckets {
    pub step: Step,
    /// First day of the period.
    pub from: NaiveDate,
    /// Last day of the period (inclusive).
    pub to: NaiveDate,
    /// Bucket starts (the first may lie before `from`).
    pub starts: Vec<NaiveDate>,
    /// Count per bucket.
    pub counts: Vec<u64>,
}

/// One bucket as published: label, first day, the number of its days inside the period, count.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BucketRow {
    /// [`Step::label`] of the bucket.
    pub period: String,
    /// First day of the bucket (may lie before the period).
    pub start: NaiveDate,
    /// Days of the bucket inside the period.
    pub days: i64,
    pub count: u64,
}

impl Buckets {
    /// Empty buckets of `step` over `from..=to` (none when `from > to`).
    pub fn new(step: Step, from: NaiveDate, to: NaiveDate) -> Buckets {
        let mut starts = Vec::new();
        let mut s = step.bucket_start(from);
        while s <= to {
            starts.push(s);
            match step.next(s) {
                Some(n) => s = n,
                None => break,
            }
        }
        let counts = vec![0; starts.len()];
        Buckets {
            step,
            from,
            to,
            starts,
            counts,
        }
    }

    /// The bucket holding `day` (`None` outside the period).
    pub fn index_of(&self, day: NaiveDate) -> Option<usize> {
        if day < self.from || day > self.to {
            return None;
        }
        let k = self.starts.partition_point(|s| *s <= day);
        k.checked_sub(1).filter(|&k| k < self.starts.len())
    }

    /// Count one incident that began on `day` (ignored outside the period).
    pub fn add(&mut self, day: NaiveDate) {
        if let Some(c) = self.index_of(day).and_then(|k| self.counts.get_mut(k)) {
            *c += 1;
        }
    }

    /// The buckets as published rows, oldest first.
    pub fn rows(&self) -> Vec<BucketRow> {
        self.starts
            .iter()
            .zip(&self.counts)
            .map(|(&start, &count)| {
                let end = self
                    .step
                    .next(start)
                    .and_then(|n| n.pred_opt())
                    .unwrap_or(start)
                    .min(self.to);
                BucketRow {
                    period: self.step.label(start),
                    start,
                    days: (end - start.max(self.from)).num_days() + 1,
                    count,
                }
            })
            .collect()
    }
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

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn steps_parse_in_english_and_dutch() {
        assert_eq!(Step::parse("week"), Some(Step::Week));
        assert_eq!(Step::parse("MONTH"), Some(Step::Month));
        assert_eq!(Step::parse("dag"), Some(Step::Day));
        assert_eq!(Step::parse("jaar"), None);
        for s in [Step::Day, Step::Week, Step::Month] {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        assert_eq!(serde_json::to_value(Step::Week).unwrap(), "week");
        assert_eq!(Step::Day.label(d("2024-02-29")), "2024-02-29");
        assert_eq!(Step::Day.next(d("2024-02-29")), Some(d("2024-03-01")));
    }

    #[test]
    fn weekdays_in_english_and_dutch() {
        for (names, day) in [
            (["mon", "Monday", "ma", "MAANDAG"], Weekday::Mon),
            (["tue", "tuesday", "di", "dinsdag"], Weekday::Tue),
            (["wed", "wednesday", "wo", "woensdag"], Weekday::Wed),
            (["thu", "thursday", "do", "donderdag"], Weekday::Thu),
            (["fri", "friday", "vr", "vrijdag"], Weekday::Fri),
            (["sat", "saturday", "za", "zaterdag"], Weekday::Sat),
            (["sun", "sunday", "zo", "zondag"], Weekday::Sun),
        ] {
            for n in names {
                assert_eq!(parse_weekday(n), Some(day), "{n}");
            }
            assert_eq!(parse_weekday(dutch_weekday(day)), Some(day));
        }
        assert_eq!(parse_weekday(""), None);
        assert_eq!(dutch_month(d("2025-01-01")), "januari 2025");
        assert_eq!(dutch_month(d("2024-12-31")), "december 2024");
    }

    #[test]
    fn months_parse_to_their_first_day() {
        assert_eq!(parse_month("2024-02"), Some(d("2024-02-01")));
        assert_eq!(parse_month("2024-2"), Some(d("2024-02-01")));
        for bad in ["2024-13", "2024", "sept 2024", "2024-09-01", ""] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }

    #[test]
    fn month_indices_are_consecutive_across_years() {
        assert_eq!(
            month_index(d("2024-01-31")) - month_index(d("2023-12-01")),
            1
        );
        assert_eq!(
            month_start(month_index(d("2023-12-31")) + 1),
            Some(d("2024-01-01"))
        );
        assert_eq!(month_start(-1), NaiveDate::from_ymd_opt(-1, 12, 1));
        assert_eq!(month_start(i64::MAX), None);
    }

    #[test]
    fn weekly_buckets_start_on_monday_and_carry_iso_labels() {
        // 2024-09-04 is a Wednesday; ISO week 36 of 2024 starts Monday 2024-09-02.
        let mut b = Buckets::new(Step::Week, d("2024-09-04"), d("2024-09-30"));
        assert_eq!(b.starts[0], d("2024-09-02"));
        assert_eq!(b.starts.len(), 5);
        assert_eq!(Step::Week.label(b.starts[0]), "2024-W36");
        // 2024-12-30 belongs to ISO week 1 of 2025.
        assert_eq!(Step::Week.label(d("2024-12-30")), "2025-W01");
        b.add(d("2024-09-08")); // Sunday: still week 36
        b.add(d("2024-09-09")); // Monday: week 37
        b.add(d("2024-09-03")); // before the period: ignored
        assert_eq!(b.counts, vec![1, 1, 0, 0, 0]);
        assert_eq!(b.index_of(d("2024-09-30")), Some(4));
        assert_eq!(b.index_of(d("2024-10-01")), None);
        let rows = b.rows();
        assert_eq!(rows[0].days, 5);
        assert_eq!(rows[4].days, 1);
    }

    #[test]
    fn monthly_buckets_cover_the_period_zero_filled() {
        let mut b = Buckets::new(Step::Month, d("2024-01-15"), d("2024-04-01"));
        assert_eq!(
            b.starts,
            vec![
                d("2024-01-01"),
                d("2024-02-01"),
                d("2024-03-01"),
                d("2024-04-01")
            ]
        );
        b.add(d("2024-02-29"));
        b.add(d("2024-04-01"));
        assert_eq!(b.counts, vec![0, 1, 0, 1]);
        assert_eq!(b.rows()[1].period, "2024-02");
        assert_eq!(b.rows()[1].days, 29);
        assert!(Buckets::new(Step::Day, d("2024-01-02"), d("2024-01-01"))
            .starts
            .is_empty());
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
