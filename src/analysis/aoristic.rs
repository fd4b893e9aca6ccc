//! Aoristic time profiles, time series and patrol-block shares (Ratcliffe 2000, 2002).
//!
//! # Why aoristic
//! Many incidents (burglary, vehicle crime) are only known to have happened *somewhere* in a window
//! `[begin, end]`: the victim left home Friday 18:00 and found the broken door Saturday 11:00. Assigning the
//! incident to its begin time piles such incidents onto evening hours; aoristic weighting instead spreads one
//! incident's weight uniformly over the window: each time slot (an hour, a day) receives
//! `overlap(slot, window) / (end - begin)`, so the weights of one incident sum to 1 (times the event's
//! [`Event::weight`]).
//!
//! # Rules implemented here (binding for every output of this module)
//! - Times are naive local wall-clock times ([`NaiveDateTime`]) at one-second resolution; daylight-saving
//!   transitions are not modelled (a window across a DST change is measured in wall-clock time).
//! - An exact time (`begin == end`) gives weight 1 to the slot that contains it. Slots are half-open: the hour slot
//!   "Mon 00-01" holds `[00:00:00, 01:00:00)`.
//! - An event whose `begin` or `end` is missing is excluded and counted in
//!   [`AoristicCounts::excluded_missing_time`] (importers set `end = begin` for an exact time).
//! - An event with `end < begin`, or a non-finite or negative weight, is excluded and counted in
//!   [`AoristicCounts::excluded_invalid`].
//! - A window longer than [`AoristicConfig::max_window_hours`] (default 7 days; a window of exactly the limit is
//!   kept) is excluded and counted in [`AoristicCounts::excluded_long_windows`]: spreading a month-long window
//!   over the week only flattens the profile.
//! - Hour-of-week slots: 168 slots, slot 0 = Monday 00:00-01:00, slot 167 = Sunday 23:00-24:00. Day-of-week:
//!   7 slots, 0 = Monday. Hour-of-day: 24 slots. Day and hour-of-day profiles are sums of the hour-of-week slots.
//! - Time series (per day, ISO week starting Monday, or calendar month) use the same aoristic split, at day
//!   resolution, for consistency with the profiles (not the window's begin or midpoint). Buckets are zero-filled
//!   over the requested period; weight that falls outside the period is reported as
//!   [`TimeSeries::weight_outside_period`] and not added to any bucket. The first and last week/month bucket may
//!   cover only part of the period: [`TimeBucket::days_in_period`] says how many of its days are inside.

use chrono::{NaiveDate, NaiveDateTime, Weekday};
use serde::{Serialize, Serializer};

use super::Event;
use crate::calendar::Step;

/// Number of hour-of-week slots (slot 0 = Monday 00:00-01:00).
pub const HOURS_PER_WEEK: usize = 168;
/// Default limit on the window length: 7 days.
pub const DEFAULT_MAX_WINDOW_HOURS: f64 = 168.0;

const SECONDS_PER_HOUR: i64 = 3_600;
const SECONDS_PER_DAY: i64 = 86_400;
const SECONDS_PER_WEEK: i64 = 7 * SECONDS_PER_DAY;

/// Errors for invalid parameters (never raised for bad events: those are excluded and counted).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AoristicError {
    /// The window limit must be a finite number of hours >= 0.
    #[error("maximum window must be a finite number of hours >= 0, got {0}")]
    InvalidMaxWindow(f64),
    /// A time-series period must have `from <= to`.
    #[error("period start {from} is after its end {to}")]
    InvalidPeriod {
        /// First day of the period.
        from: NaiveDate,
        /// Last day of the period.
        to: NaiveDate,
    },
    /// A patrol block must have a valid time of day and a non-zero length.
    #[error("invalid patrol block: {0}")]
    InvalidBlock(String),
}

/// Parameters shared by every aoristic computation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AoristicConfig {
    /// Windows longer than this many hours are excluded (default 168 = 7 days).
    pub max_window_hours: f64,
}

impl Default for AoristicConfig {
    fn default() -> Self {
        Self {
            max_window_hours: DEFAULT_MAX_WINDOW_HOURS,
        }
    }
}

impl AoristicConfig {
    fn max_window_s(&self) -> Result<i64, AoristicError> {
        let h = self.max_window_hours;
        if !h.is_finite() || h < 0.0 {
            return Err(AoristicError::InvalidMaxWindow(h));
        }
        // Saturating conversion: a limit of many centuries means "no limit".
        Ok((h * SECONDS_PER_HOUR as f64).min(i64::MAX as f64 / 2.0) as i64)
    }
}

/// How many events were used and why the others were left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AoristicCounts {
    /// Events that contributed weight.
    pub used_incidents: usize,
    /// Sum of the weights of the used events.
    pub used_weight: f64,
    /// Events with a missing begin or end.
    pub excluded_missing_time: usize,
    /// Events whose window exceeds the configured limit.
    pub excluded_long_windows: usize,
    /// Events with `end < begin` or a non-finite/negative weight.
    pub excluded_invalid: usize,
}

/// Aoristic time-of-week profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeProfile {
    /// 168 weights, slot 0 = Monday 00:00-01:00.
    pub hour_of_week: Vec<f64>,
    /// 7 weights, 0 = Monday.
    pub day_of_week: Vec<f64>,
    /// 24 weights, 0 = 00:00-01:00 (all days together).
    pub hour_of_day: Vec<f64>,
    /// Used and excluded events.
    pub counts: AoristicCounts,
}

/// One bucket of a [`TimeSeries`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeBucket {
    /// First day of the bucket (a Monday for weeks, the 1st for months); may lie before the period start.
    #[serde(serialize_with = "serialize_date")]
    pub start: NaiveDate,
    /// Number of the bucket's days that are inside the requested period.
    pub days_in_period: u32,
    /// Aoristic weight in the bucket's days inside the period.
    pub weight: f64,
}

/// A zero-filled aoristic time series over a period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeSeries {
    /// Bucket resolution.
    pub granularity: Step,
    /// First day of the period (inclusive).
    #[serde(serialize_with = "serialize_date")]
    pub from: NaiveDate,
    /// Last day of the period (inclusive).
    #[serde(serialize_with = "serialize_date")]
    pub to: NaiveDate,
    /// Buckets in time order, one for every day/week/month that touches the period.
    pub buckets: Vec<TimeBucket>,
    /// Weight of used events that falls outside the period.
    pub weight_outside_period: f64,
    /// Used and excluded events.
    pub counts: AoristicCounts,
}

fn serialize_date<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&d.format("%Y-%m-%d"))
}

/// A Monday 00:00 used as the origin of the second counter (any Monday works).
fn reference_monday() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 3)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn seconds_since_reference(t: NaiveDateTime) -> i64 {
    (t - reference_monday()).num_seconds()
}

/// A usable window in seconds since the reference Monday, with the event weight.
struct Window {
    start_s: i64,
    end_s: i64,
    weight: f64,
}

enum Classified {
    Use(Window),
    Missing,
    Invalid,
    TooLong,
}

fn classify(event: &Event, max_window_s: i64) -> Classified {
    let (Some(begin), Some(end)) = (event.begin, event.end) else {
        return Classified::Missing;
    };
    if end < begin || !event.weight.is_finite() || event.weight < 0.0 {
        return Classified::Invalid;
    }
    let start_s = seconds_since_reference(begin);
    let end_s = seconds_since_reference(end);
    if end_s - start_s > max_window_s {
        return Classified::TooLong;
    }
    Classified::Use(Window {
        start_s,
        end_s,
        weight: event.weight,
    })
}

/// Classifies all events, updating the counters, and calls `f` for every usable window.
fn for_each_window(
    events: &[Event],
    cfg: &AoristicConfig,
    mut f: impl FnMut(&Window),
) -> Result<AoristicCounts, AoristicError> {
    let max_window_s = cfg.max_window_s()?;
    let mut counts = AoristicCounts::default();
    for event in events {
        match classify(event, max_window_s) {
            Classified::Use(w) => {
                counts.used_incidents += 1;
                counts.used_weight += w.weight;
                f(&w);
            }
            Classified::Missing => counts.excluded_missing_time += 1,
            Classified::Invalid => counts.excluded_invalid += 1,
            Classified::TooLong => counts.excluded_long_windows += 1,
        }
    }
    Ok(counts)
}

/// Splits `[start_s, end_s]` over consecutive slots of `slot_s` seconds (slot `k` = `[k*slot_s, (k+1)*slot_s)`),
/// calling `f(k, share)`; the shares sum to 1. An exact time gives share 1 to its slot.
fn split_over_slots(start_s: i64, end_s: i64, slot_s: i64, mut f: impl FnMut(i64, f64)) {
    if end_s <= start_s {
        f(start_s.div_euclid(slot_s), 1.0);
        return;
    }
    let duration = (end_s - start_s) as f64;
    let mut k = start_s.div_euclid(slot_s);
    loop {
        let seg_start = start_s.max(k * slot_s);
        if seg_start >= end_s {
            break;
        }
        let seg_end = end_s.min((k + 1) * slot_s);
        f(k, (seg_end - seg_start) as f64 / duration);
        k += 1;
    }
}

/// Hour-of-week weights (168 slots, summing to 1) of one incident known to have happened in `[begin, end]`,
/// without any window limit. `None` when `end < begin`.
pub fn incident_hour_of_week_weights(begin: NaiveDateTime, end: NaiveDateTime) -> Option<Vec<f64>> {
    if end < begin {
        return None;
    }
    let mut w = vec![0.0; HOURS_PER_WEEK];
    split_over_slots(
        seconds_since_reference(begin),
        seconds_since_reference(end),
        SECONDS_PER_HOUR,
        |k, share| w[k.rem_euclid(HOURS_PER_WEEK as i64) as usize] += share,
    );
    Some(w)
}

/// Aoristic hour-of-week, day-of-week and hour-of-day profile of `events` (see the module rules).
pub fn time_profile(events: &[Event], cfg: &AoristicConfig) -> Result<TimeProfile, AoristicError> {
    let mut how = vec![0.0; HOURS_PER_WEEK];
    let counts = for_each_window(events, cfg, |w| {
        split_over_slots(w.start_s, w.end_s, SECONDS_PER_HOUR, |k, share| {
            how[k.rem_euclid(HOURS_PER_WEEK as i64) as usize] += share * w.weight;
        });
    })?;
    let mut day_of_week = vec![0.0; 7];
    let mut hour_of_day = vec![0.0; 24];
    for (slot, &v) in how.iter().enumerate() {
        day_of_week[slot / 24] += v;
        hour_of_day[slot % 24] += v;
    }
    Ok(TimeProfile {
        hour_of_week: how,
        day_of_week,
        hour_of_day,
        counts,
    })
}

/// Zero-filled aoristic time series of `events` over the days `from..=to` (see the module rules).
pub fn time_series(
    events: &[Event],
    from: NaiveDate,
    to: NaiveDate,
    granularity: Step,
    cfg: &AoristicConfig,
) -> Result<TimeSeries, AoristicError> {
    if from > to {
        return Err(AoristicError::InvalidPeriod { from, to });
    }
    // Buckets and a day -> bucket map for the days of the period.
    let mut buckets: Vec<TimeBucket> = Vec::new();
    let mut day_to_bucket: Vec<usize> = Vec::new();
    for date in from.iter_days().take_while(|d| *d <= to) {
        let start = granularity.bucket_start(date);
        if buckets.last().map(|b| b.start) != Some(start) {
            buckets.push(TimeBucket {
                start,
                days_in_period: 0,
                weight: 0.0,
            });
        }
        let idx = buckets.len() - 1;
        buckets[idx].days_in_period += 1;
        day_to_bucket.push(idx);
    }
    let first_day =
        seconds_since_reference(from.and_time(chrono::NaiveTime::MIN)).div_euclid(SECONDS_PER_DAY);
    let mut outside = 0.0;
    let counts = for_each_window(events, cfg, |w| {
        split_over_slots(w.start_s, w.end_s, SECONDS_PER_DAY, |day, share| {
            let offset = day - first_day;
            match usize::try_from(offset)
                .ok()
                .and_then(|o| day_to_bucket.get(o))
            {
                Some(&b) => buckets[b].weight += share * w.weight,
                None => outside += share * w.weight,
            }
        });
    })?;
    Ok(TimeSeries {
        granularity,
        from,
        to,
        buckets,
        weight_outside_period: outside,
        counts,
    })
}

/// A weekly recurring time block, e.g. Friday 20:00 - Saturday 02:00, that may wrap past midnight and past the
/// end of the week (Sunday 22:00 - Monday 02:00). The block is half-open: `[start, end)`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatrolBlock {
    /// Start day.
    pub start_day: Weekday,
    /// Start time as minutes after midnight (0..1440).
    pub start_minute: u32,
    /// End day.
    pub end_day: Weekday,
    /// End time as minutes after midnight (0..1440).
    pub end_minute: u32,
}

impl PatrolBlock {
    /// A block from `start_day start_hour:start_min` to `end_day end_hour:end_min`. The end is taken as the first
    /// such moment after the start, so `(Fri, 20, 0) - (Sat, 2, 0)` lasts 6 hours and `(Mon, 8, 0) - (Mon, 7, 0)`
    /// lasts 6 days 23 hours. A zero-length block (start == end) is rejected.
    pub fn new(
        start: (Weekday, u32, u32),
        end: (Weekday, u32, u32),
    ) -> Result<Self, AoristicError> {
        let minute = |h: u32, m: u32| -> Result<u32, AoristicError> {
            if h > 23 || m > 59 {
                return Err(AoristicError::InvalidBlock(format!(
                    "time {h:02}:{m:02} is not a time of day"
                )));
            }
            Ok(h * 60 + m)
        };
        let block = Self {
            start_day: start.0,
            start_minute: minute(start.1, start.2)?,
            end_day: end.0,
            end_minute: minute(end.1, end.2)?,
        };
        if block.start_s() == block.raw_end_s() {
            return Err(AoristicError::InvalidBlock(
                "start and end are the same moment".into(),
            ));
        }
        Ok(block)
    }

    fn start_s(&self) -> i64 {
        (i64::from(self.start_day.num_days_from_monday()) * 1440 + i64::from(self.start_minute))
            * 60
    }

    fn raw_end_s(&self) -> i64 {
        (i64::from(self.end_day.num_days_from_monday()) * 1440 + i64::from(self.end_minute)) * 60
    }

    /// End in seconds after Monday 00:00, always after the start (may exceed one week when wrapping).
    fn end_s(&self) -> i64 {
        let end = self.raw_end_s();
        if end <= self.start_s() {
            end + SECONDS_PER_WEEK
        } else {
            end
        }
    }

    /// Length of the block in hours.
    pub fn hours(&self) -> f64 {
        (self.end_s() - self.start_s()) as f64 / SECONDS_PER_HOUR as f64
    }

    /// A readable label such as `Fri 20:00 - Sat 02:00`.
    pub fn label(&self) -> String {
        format!(
            "{} {:02}:{:02} - {} {:02}:{:02}",
            self.start_day,
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_day,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }

    /// Share (0..=1) of the window `[start_s, end_s]` inside the block's weekly occurrences.
    fn share(&self, start_s: i64, end_s: i64) -> f64 {
        let (bs, be) = (self.start_s(), self.end_s());
        if end_s <= start_s {
            let pos = start_s.rem_euclid(SECONDS_PER_WEEK);
            let inside = |p: i64| p >= bs && p < be;
            return if inside(pos) || inside(pos + SECONDS_PER_WEEK) {
                1.0
            } else {
                0.0
            };
        }
        let mut overlap = 0i64;
        let first_week = (start_s - be).div_euclid(SECONDS_PER_WEEK);
        let last_week = end_s.div_euclid(SECONDS_PER_WEEK);
        for k in first_week..=last_week {
            let lo = start_s.max(k * SECONDS_PER_WEEK + bs);
            let hi = end_s.min(k * SECONDS_PER_WEEK + be);
            if hi > lo {
                overlap += hi - lo;
            }
        }
        overlap as f64 / (end_s - start_s) as f64
    }
}

/// Share (0..=1) of one incident's weight that falls inside `block`, or `None` when the event is excluded by the
/// module rules (missing or invalid time, window over the limit). Multiply by [`Event::weight`] for its weight.
pub fn patrol_block_share(
    event: &Event,
    block: &PatrolBlock,
    cfg: &AoristicConfig,
) -> Result<Option<f64>, AoristicError> {
    Ok(match classify(event, cfg.max_window_s()?) {
        Classified::Use(w) => Some(block.share(w.start_s, w.end_s)),
        _ => None,
    })
}

/// How much of a set of incidents falls in a patrol block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatrolBlockSummary {
    /// The block, e.g. `Fri 20:00 - Sat 02:00`.
    pub block: String,
    /// Length of the block in hours.
    pub block_hours: f64,
    /// Aoristic weight inside the block.
    pub weight_in_block: f64,
    /// Share of the used weight inside the block; `None` when no weight was used.
    pub share_in_block: Option<f64>,
    /// Share of the week the block covers (`block_hours / 168`).
    pub share_of_week: f64,
    /// `share_in_block / share_of_week`: how many times more incident weight per hour the block has than an
    /// average hour of the week (1 = no concentration); `None` when `share_in_block` is `None`.
    pub concentration: Option<f64>,
    /// Used and excluded events.
    pub counts: AoristicCounts,
}

/// Aggregated share of `events` inside `block` (aoristic, following the module rules).
pub fn patrol_block_summary(
    events: &[Event],
    block: &PatrolBlock,
    cfg: &AoristicConfig,
) -> Result<PatrolBlockSummary, AoristicError> {
    let mut in_block = 0.0;
    let counts = for_each_window(events, cfg, |w| {
        in_block += block.share(w.start_s, w.end_s) * w.weight;
    })?;
    let share_in_block = (counts.used_weight > 0.0).then(|| in_block / counts.used_weight);
    let share_of_week = block.hours() / HOURS_PER_WEEK as f64;
    Ok(PatrolBlockSummary {
        block: block.label(),
        block_hours: block.hours(),
        weight_in_block: in_block,
        share_in_block,
        share_of_week,
        concentration: share_in_block.map(|s| s / share_of_week),
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use rand::{Rng, SeedableRng};

    fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    fn ev(begin: Option<NaiveDateTime>, end: Option<NaiveDateTime>) -> Event {
        Event {
            x_m: 120_000.0,
            y_m: 480_000.0,
            begin,
            end,
            weight: 1.0,
        }
    }

    // 2026-11-23 is a Monday; 2026-11-27 a Friday.

    #[test]
    fn exact_times_land_in_their_slot() {
        let w =
            incident_hour_of_week_weights(dt(2026, 11, 23, 0, 30, 0), dt(2026, 11, 23, 0, 30, 0))
                .unwrap();
        assert_eq!(w[0], 1.0);
        let w = incident_hour_of_week_weights(
            dt(2026, 11, 29, 23, 59, 59),
            dt(2026, 11, 29, 23, 59, 59),
        )
        .unwrap();
        assert_eq!(w[167], 1.0);
        // Slot boundaries are half-open: 01:00:00 belongs to slot 1.
        let w = incident_hour_of_week_weights(dt(2026, 11, 23, 1, 0, 0), dt(2026, 11, 23, 1, 0, 0))
            .unwrap();
        assert_eq!(w[1], 1.0);
    }

    #[test]
    fn window_is_split_by_overlap() {
        // Fri 22:30 - Sat 01:30 = 3 hours: 0.5/3, 1/3, 1/3, 0.5/3.
        let w =
            incident_hour_of_week_weights(dt(2026, 11, 27, 22, 30, 0), dt(2026, 11, 28, 1, 30, 0))
                .unwrap();
        let fri22 = 4 * 24 + 22;
        assert!((w[fri22] - 1.0 / 6.0).abs() < 1e-12);
        assert!((w[fri22 + 1] - 1.0 / 3.0).abs() < 1e-12);
        assert!((w[fri22 + 2] - 1.0 / 3.0).abs() < 1e-12);
        assert!((w[fri22 + 3] - 1.0 / 6.0).abs() < 1e-12);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Sunday 23:00 - Monday 01:00 wraps around the week.
        let w =
            incident_hour_of_week_weights(dt(2026, 11, 29, 23, 0, 0), dt(2026, 11, 30, 1, 0, 0))
                .unwrap();
        assert!((w[167] - 0.5).abs() < 1e-12 && (w[0] - 0.5).abs() < 1e-12);
        assert!(incident_hour_of_week_weights(
            dt(2026, 11, 29, 23, 0, 0),
            dt(2026, 11, 29, 22, 0, 0)
        )
        .is_none());
    }

    #[test]
    fn weights_of_one_incident_sum_to_one_property() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let base = dt(2025, 1, 1, 0, 0, 0);
        for _ in 0..2_000 {
            let start = base + chrono::Duration::seconds(rng.gen_range(0..400 * 86_400));
            let len = if rng.gen_bool(0.2) {
                0
            } else {
                rng.gen_range(0..30 * 86_400)
            };
            let end = start + chrono::Duration::seconds(len);
            let w = incident_hour_of_week_weights(start, end).unwrap();
            assert!(w.iter().all(|&x| x >= 0.0));
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            // The same through the profile, the time series and a partition of the week into blocks.
            let e = Event {
                weight: 2.5,
                ..ev(Some(start), Some(end))
            };
            let cfg = AoristicConfig {
                max_window_hours: 24.0 * 31.0,
            };
            let p = time_profile(std::slice::from_ref(&e), &cfg).unwrap();
            assert!((p.hour_of_week.iter().sum::<f64>() - 2.5).abs() < 1e-9);
            assert!((p.day_of_week.iter().sum::<f64>() - 2.5).abs() < 1e-9);
            let s = time_series(
                std::slice::from_ref(&e),
                start.date(),
                end.date(),
                Step::Week,
                &cfg,
            )
            .unwrap();
            let total: f64 = s.buckets.iter().map(|b| b.weight).sum();
            assert!((total - 2.5).abs() < 1e-9 && s.weight_outside_period.abs() < 1e-12);
            let days = [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ];
            let share: f64 = (0..7)
                .map(|i| {
                    let b = PatrolBlock::new((days[i], 6, 0), (days[(i + 1) % 7], 6, 0)).unwrap();
                    patrol_block_share(&e, &b, &cfg).unwrap().unwrap()
                })
                .sum();
            assert!((share - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn exclusions_are_counted() {
        let start = dt(2026, 11, 23, 12, 0, 0);
        let events = vec![
            ev(Some(start), Some(start + chrono::Duration::hours(168))), // exactly the limit: kept
            ev(
                Some(start),
                Some(start + chrono::Duration::seconds(168 * 3600 + 1)),
            ), // too long
            ev(None, Some(start)),
            ev(Some(start), None),
            ev(Some(start), Some(start - chrono::Duration::hours(1))), // end before begin
            Event {
                weight: f64::NAN,
                ..ev(Some(start), Some(start))
            },
        ];
        let p = time_profile(&events, &AoristicConfig::default()).unwrap();
        assert_eq!(p.counts.used_incidents, 1);
        assert_eq!(p.counts.excluded_long_windows, 1);
        assert_eq!(p.counts.excluded_missing_time, 2);
        assert_eq!(p.counts.excluded_invalid, 2);
        // The kept 7-day window spreads 1/168 over every slot.
        assert!(p
            .hour_of_week
            .iter()
            .all(|&w| (w - 1.0 / 168.0).abs() < 1e-12));
        assert!(time_profile(
            &events,
            &AoristicConfig {
                max_window_hours: f64::NAN
            }
        )
        .is_err());
    }

    #[test]
    fn series_is_zero_filled_and_split() {
        // 2026-01-31 12:00 - 2026-02-01 12:00: half in January, half in February.
        let e = ev(
            Some(dt(2026, 1, 31, 12, 0, 0)),
            Some(dt(2026, 2, 1, 12, 0, 0)),
        );
        let exact = ev(
            Some(dt(2026, 4, 15, 8, 0, 0)),
            Some(dt(2026, 4, 15, 8, 0, 0)),
        );
        let outside = ev(Some(dt(2026, 7, 1, 8, 0, 0)), Some(dt(2026, 7, 1, 8, 0, 0)));
        let from = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 5, 31).unwrap();
        let s = time_series(
            &[e, exact, outside],
            from,
            to,
            Step::Month,
            &AoristicConfig::default(),
        )
        .unwrap();
        let starts: Vec<String> = s.buckets.iter().map(|b| b.start.to_string()).collect();
        assert_eq!(
            starts,
            [
                "2026-01-01",
                "2026-02-01",
                "2026-03-01",
                "2026-04-01",
                "2026-05-01"
            ]
        );
        let weights: Vec<f64> = s.buckets.iter().map(|b| b.weight).collect();
        assert_eq!(weights, [0.5, 0.5, 0.0, 1.0, 0.0]);
        assert_eq!(s.buckets[0].days_in_period, 17);
        assert_eq!(s.buckets[1].days_in_period, 28);
        assert_eq!(s.weight_outside_period, 1.0);
        // Weeks are labelled by their Monday; 2026-01-15 is a Thursday.
        let w = time_series(&[], from, to, Step::Week, &AoristicConfig::default()).unwrap();
        assert_eq!(w.buckets[0].start.to_string(), "2026-01-12");
        assert_eq!(w.buckets[0].days_in_period, 4);
        assert!(w
            .buckets
            .iter()
            .all(|b| b.start.weekday() == Weekday::Mon && b.weight == 0.0));
        let d = time_series(&[], from, to, Step::Day, &AoristicConfig::default()).unwrap();
        assert_eq!(d.buckets.len(), 137);
        assert!(time_series(&[], to, from, Step::Day, &AoristicConfig::default()).is_err());
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"start\":\"2026-01-01\""));
    }

    #[test]
    fn patrol_block_wraps_past_midnight_and_week() {
        let cfg = AoristicConfig::default();
        let fri_night = PatrolBlock::new((Weekday::Fri, 20, 0), (Weekday::Sat, 2, 0)).unwrap();
        assert_eq!(fri_night.hours(), 6.0);
        assert_eq!(fri_night.label(), "Fri 20:00 - Sat 02:00");
        let at =
            |t: NaiveDateTime| patrol_block_share(&ev(Some(t), Some(t)), &fri_night, &cfg).unwrap();
        assert_eq!(at(dt(2026, 11, 28, 1, 0, 0)), Some(1.0));
        assert_eq!(at(dt(2026, 11, 28, 2, 0, 0)), Some(0.0));
        assert_eq!(at(dt(2026, 11, 27, 20, 0, 0)), Some(1.0));
        // Fri 19:00 - 21:00: half inside.
        let e = ev(
            Some(dt(2026, 11, 27, 19, 0, 0)),
            Some(dt(2026, 11, 27, 21, 0, 0)),
        );
        assert_eq!(patrol_block_share(&e, &fri_night, &cfg).unwrap(), Some(0.5));
        // A window of exactly two weeks covers the block twice: 12 h of 336 h.
        let e = ev(
            Some(dt(2026, 11, 25, 3, 0, 0)),
            Some(dt(2026, 12, 9, 3, 0, 0)),
        );
        let long = AoristicConfig {
            max_window_hours: 400.0,
        };
        let share = patrol_block_share(&e, &fri_night, &long).unwrap().unwrap();
        assert!((share - 12.0 / 336.0).abs() < 1e-12);
        assert_eq!(patrol_block_share(&e, &fri_night, &cfg).unwrap(), None);
        // Sunday 22:00 - Monday 02:00 wraps past the end of the week.
        let sun = PatrolBlock::new((Weekday::Sun, 22, 0), (Weekday::Mon, 2, 0)).unwrap();
        let t = dt(2026, 11, 30, 1, 0, 0);
        assert_eq!(
            patrol_block_share(&ev(Some(t), Some(t)), &sun, &cfg).unwrap(),
            Some(1.0)
        );
        let t = dt(2026, 11, 29, 23, 0, 0);
        assert_eq!(
            patrol_block_share(&ev(Some(t), Some(t)), &sun, &cfg).unwrap(),
            Some(1.0)
        );
        let t = dt(2026, 11, 29, 21, 0, 0);
        assert_eq!(
            patrol_block_share(&ev(Some(t), Some(t)), &sun, &cfg).unwrap(),
            Some(0.0)
        );
        assert!(PatrolBlock::new((Weekday::Sun, 22, 0), (Weekday::Sun, 22, 0)).is_err());
        assert!(PatrolBlock::new((Weekday::Sun, 24, 0), (Weekday::Mon, 2, 0)).is_err());
        // Summary: 3 incidents, 2 inside the 6-hour block.
        let ts = [
            dt(2026, 11, 27, 21, 0, 0),
            dt(2026, 11, 28, 0, 0, 0),
            dt(2026, 11, 28, 12, 0, 0),
        ];
        let events: Vec<Event> = ts.iter().map(|&t| ev(Some(t), Some(t))).collect();
        let s = patrol_block_summary(&events, &fri_night, &cfg).unwrap();
        assert_eq!(s.weight_in_block, 2.0);
        assert!((s.share_in_block.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.concentration.unwrap() - (2.0 / 3.0) / (6.0 / 168.0)).abs() < 1e-9);
        assert_eq!(
            patrol_block_summary(&[], &fri_night, &cfg)
                .unwrap()
                .share_in_block,
            None
        );
    }
}
