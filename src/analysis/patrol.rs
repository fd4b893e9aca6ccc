//! Patrol planning: the square RD grid cells where most incident weight falls in a weekly time block.
//!
//! Rules:
//! - A block is given as a day and whole hours ([`WeeklyHours`]): it starts on `day` at `from_hour`:00 and ends
//!   at `to_hour`:00 on the same day when `to_hour > from_hour`, else on the next day (`20..2` = Friday 20:00 -
//!   Saturday 02:00; `to_hour = 24` ends at midnight).
//! - Every incident gets the aoristic share of its window that falls in the block
//!   ([`super::aoristic::patrol_block_share`]); incidents whose window is too long or invalid are left out and
//!   counted ([`PatrolResult::excluded`]).
//! - Incidents are binned on the square RD grid ([`BinId::grid_cell`]). A cell's `score` is the sum of the shares
//!   (the expected number of its incidents that happened inside the block), `count` the number of incidents with
//!   a share > 0. Cells are ranked by score, then count, then cell name ([`rank_cells`]).
//! - `street` is the most common street of the cell's incidents that fall (partly) in the block and have one
//!   (ties: alphabetical).
//! - The score is a total over the whole period. The expected number **per occurrence** of the block (per week)
//!   is the score divided by the number of times the block starts in the period ([`WeeklyHours::occurrences`]:
//!   the days from the period's first to its last day, both included, that fall on the block's start day).
//!
//! ```
//! use brandpunt::analysis::aoristic::AoristicConfig;
//! use brandpunt::analysis::patrol::{plan, WeeklyHours};
//! use brandpunt::analysis::Event;
//! use chrono::{NaiveDate, Weekday};
//!
//! // Friday 2024-09-06 21:00-22:00, fully inside the Friday 20:00 - Saturday 02:00 block.
//! let t = |h| NaiveDate::from_ymd_opt(2024, 9, 6).unwrap().and_hms_opt(h, 0, 0).unwrap();
//! let event = Event { x_m: 120_050.0, y_m: 487_050.0, begin: Some(t(21)), end: Some(t(22)), weight: 1.0 };
//! let hours = WeeklyHours { day: Weekday::Fri, from_hour: 20, to_hour: 2 };
//! assert_eq!(hours.dutch_label(), "vrijdag 20:00 - zaterdag 02:00");
//! let block = hours.block().unwrap();
//! let never = brandpunt::cancel::Cancel::never();
//! let result = plan(&[(event, Some("Dorpsstraat"))], &block, &AoristicConfig::default(), 100, 10, &never)
//!     .unwrap();
//! assert_eq!((result.used, result.excluded, result.hours), (1, 0, 6.0));
//! assert_eq!(result.cells[0].street.as_deref(), Some("Dorpsstraat"));
//! assert!((result.cells[0].score - 1.0).abs() < 1e-12);
//! ```

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, Weekday};

use super::aoristic::{patrol_block_share, AoristicConfig, AoristicError, PatrolBlock};
use super::grid::BinId;
use super::Event;
use crate::calendar::dutch_weekday;
use crate::cancel::{Cancel, Cancelled};

/// A weekly time block in whole hours (see the module rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WeeklyHours {
    /// Day the block starts.
    pub day: Weekday,
    /// Start hour, 0..=23.
    pub from_hour: u32,
    /// End hour, 0..=24, different from `from_hour`.
    pub to_hour: u32,
}

impl WeeklyHours {
    /// Day the block ends.
    pub fn end_day(&self) -> Weekday {
        if self.to_hour > self.from_hour && self.to_hour < 24 {
            self.day
        } else {
            self.day.succ()
        }
    }

    /// The block (an error for hours outside the day or a zero-length block).
    pub fn block(&self) -> Result<PatrolBlock, AoristicError> {
        let end = if self.to_hour == 24 {
            (self.day.succ(), 0)
        } else if self.to_hour > self.from_hour {
            (self.day, self.to_hour)
        } else {
            (self.day.succ(), self.to_hour)
        };
        PatrolBlock::new((self.day, self.from_hour, 0), (end.0, end.1, 0))
    }

    /// How often the block occurs in the period `first..=last` (days): the number of those days that fall on
    /// [`WeeklyHours::day`] (the block starts on them). 0 when `last < first`.
    ///
    /// ```
    /// use brandpunt::analysis::patrol::WeeklyHours;
    /// use chrono::{NaiveDate, Weekday};
    ///
    /// let fri = WeeklyHours { day: Weekday::Fri, from_hour: 20, to_hour: 2 };
    /// let d = |m, d| NaiveDate::from_ymd_opt(2024, m, d).unwrap();
    /// // 2024-09-06 is a Friday: 6, 13, 20 and 27 September.
    /// assert_eq!(fri.occurrences(d(9, 1), d(9, 30)), 4);
    /// assert_eq!(fri.occurrences(d(9, 6), d(9, 6)), 1);
    /// assert_eq!(fri.occurrences(d(9, 7), d(9, 12)), 0);
    /// ```
    pub fn occurrences(&self, first: NaiveDate, last: NaiveDate) -> u64 {
        if last < first {
            return 0;
        }
        let days = (last - first).num_days() + 1;
        // Days from `first` to the first start day.
        let lead = (i64::from(self.day.num_days_from_monday())
            - i64::from(first.weekday().num_days_from_monday()))
        .rem_euclid(7);
        if lead >= days {
            0
        } else {
            ((days - lead - 1) / 7 + 1) as u64
        }
    }

    /// `vrijdag 20:00 - zaterdag 02:00`.
    pub fn dutch_label(&self) -> String {
        format!(
            "{} {:02}:00 - {} {:02}:00",
            dutch_weekday(self.day),
            self.from_hour,
            dutch_weekday(self.end_day()),
            self.to_hour % 24
        )
    }
}

/// One incident as input of [`rank_cells`]: RD position, share in the block, street when known.
#[derive(Clone, Debug)]
pub struct WeightedIncident<'a> {
    pub x_m: f64,
    pub y_m: f64,
    /// Aoristic share (0..=1) of the incident inside the block.
    pub share: f64,
    pub street: Option<&'a str>,
}

/// One ranked grid cell.
#[derive(Clone, Debug, PartialEq)]
pub struct PatrolCell {
    /// 1 = highest score.
    pub rank: usize,
    pub cell: BinId,
    /// Sum of the shares of the cell's incidents.
    pub score: f64,
    /// Incidents with a share > 0.
    pub count: u64,
    /// Most common street of the cell's incidents with a street (ties: alphabetical).
    pub street: Option<String>,
    /// The cell's incidents on `street`.
    pub street_count: u64,
}

impl PatrolCell {
    /// The cell's label: its CBS code (`E1234N4567`) when it has one, else its name (`c250_480_1948`).
    pub fn label(&self) -> String {
        self.cell.cbs_code().unwrap_or_else(|| self.cell.name())
    }
}

/// Bin `incidents` on the `cell_m` grid and return the `top` cells by score (see the module rules).
/// Incidents with a share of 0 or non-finite coordinates are ignored.
///
/// ```
/// use brandpunt::analysis::patrol::{rank_cells, WeightedIncident};
///
/// let w = |x, share, street| WeightedIncident { x_m: x, y_m: 50.0, share, street };
/// let cells = rank_cells(&[w(50.0, 0.5, Some("Brink")), w(150.0, 0.75, None), w(160.0, 0.0, None)], 100, 10);
/// assert_eq!(cells.len(), 2);
/// assert_eq!((cells[0].rank, cells[0].count, cells[0].street.as_deref()), (1, 1, None));
/// assert_eq!(cells[1].street.as_deref(), Some("Brink"));
/// ```
pub fn rank_cells(incidents: &[WeightedIncident<'_>], cell_m: u32, top: usize) -> Vec<PatrolCell> {
    struct Acc<'a> {
        score: f64,
        count: u64,
        streets: BTreeMap<&'a str, u64>,
    }
    let mut cells: HashMap<BinId, Acc<'_>> = HashMap::new();
    for inc in incidents {
        if inc.share.is_nan() || inc.share <= 0.0 {
            continue;
        }
        let Some(id) = BinId::grid_cell(inc.x_m, inc.y_m, cell_m) else {
            continue;
        };
        let acc = cells.entry(id).or_insert_with(|| Acc {
            score: 0.0,
            count: 0,
            streets: BTreeMap::new(),
        });
        acc.score += inc.share;
        acc.count += 1;
        if let Some(s) = inc.street.filter(|s| !s.trim().is_empty()) {
            *acc.streets.entry(s).or_default() += 1;
        }
    }
    let mut ranked: Vec<(BinId, Acc<'_>)> = cells.into_iter().collect();
    ranked.sort_by(|(ia, a), (ib, b)| {
        b.score
            .total_cmp(&a.score)
            .then(b.count.cmp(&a.count))
            .then_with(|| ia.name().cmp(&ib.name()))
    });
    ranked
        .into_iter()
        .take(top)
        .enumerate()
        .map(|(k, (cell, acc))| {
            // BTreeMap iterates alphabetically; keep the first street with the highest count.
            let mut best: Option<(&str, u64)> = None;
            for (s, n) in acc.streets {
                if best.is_none_or(|(_, m)| n > m) {
                    best = Some((s, n));
                }
            }
            PatrolCell {
                rank: k + 1,
                cell,
                score: acc.score,
                count: acc.count,
                street: best.map(|(s, _)| s.to_string()),
                street_count: best.map_or(0, |(_, n)| n),
            }
        })
        .collect()
}

/// Why a patrol plan was not made.
#[derive(Debug, thiserror::Error)]
pub enum PatrolError {
    #[error(transparent)]
    Aoristic(#[from] AoristicError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// Incidents weighed between two cancellation checks.
const INCIDENTS_PER_CHECK: usize = 1 << 16;

/// A patrol plan: the ranked cells and what went into them.
#[derive(Clone, Debug, PartialEq)]
pub struct PatrolResult {
    /// The `top` cells by score.
    pub cells: Vec<PatrolCell>,
    /// Incidents with a share (possibly 0) in the block.
    pub used: u64,
    /// Incidents left out (window too long, invalid or without times).
    pub excluded: u64,
    /// Sum of the shares of all used incidents.
    pub total_score: f64,
    /// Length of the block in hours.
    pub hours: f64,
}

/// The `top` cells of `cell_m` metres for `block`: every incident (with its street, when known) gets its aoristic
/// share under `cfg` (see the module rules and the example there). A cancelled `cancel` is
/// [`PatrolError::Cancelled`].
pub fn plan(
    incidents: &[(Event, Option<&str>)],
    block: &PatrolBlock,
    cfg: &AoristicConfig,
    cell_m: u32,
    top: usize,
    cancel: &Cancel,
) -> Result<PatrolResult, PatrolError> {
    let mut weighted = Vec::with_capacity(incidents.len());
    let (mut used, mut excluded) = (0u64, 0u64);
    for (k, (event, street)) in incidents.iter().enumerate() {
        if k % INCIDENTS_PER_CHECK == 0 {
            cancel.check()?;
        }
        match patrol_block_share(event, block, cfg)? {
            Some(share) => {
                used += 1;
                weighted.push(WeightedIncident {
                    x_m: event.x_m,
                    y_m: event.y_m,
                    share,
                    street: *street,
                });
            }
            None => excluded += 1,
        }
    }
    let total_score = weighted.iter().map(|w| w.share).sum();
    cancel.check()?;
    Ok(PatrolResult {
        cells: rank_cells(&weighted, cell_m, top),
        used,
        excluded,
        total_score,
        hours: block.hours(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn w(x: f64, y: f64, share: f64, street: Option<&str>) -> WeightedIncident<'_> {
        WeightedIncident {
            x_m: x,
            y_m: y,
            share,
            street,
        }
    }

    #[test]
    fn occurrences_count_the_start_days_in_the_period() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for day in [Weekday::Mon, Weekday::Wed, Weekday::Sun] {
            let h = WeeklyHours {
                day,
                from_hour: 22,
                to_hour: 2,
            };
            // Brute force over a year of periods starting on every weekday.
            for start in 1..=7 {
                let first = d(2024, 1, start);
                for len in 0..60i64 {
                    let last = first + chrono::Duration::days(len);
                    let want = (0..=len)
                        .filter(|k| (first + chrono::Duration::days(*k)).weekday() == day)
                        .count() as u64;
                    assert_eq!(h.occurrences(first, last), want, "{day} {first} {last}");
                }
            }
            assert_eq!(h.occurrences(d(2024, 2, 1), d(2024, 1, 1)), 0);
        }
    }

    #[test]
    fn cells_are_ranked_by_summed_share() {
        let incidents = vec![
            w(150.0, 150.0, 0.5, Some("Brink")),
            w(160.0, 190.0, 0.25, Some("Dijk")),
            w(199.9, 100.0, 0.25, Some("Dijk")),
            w(250.0, 150.0, 0.9, None),
            w(350.0, 150.0, 0.0, Some("Laan")),
            w(f64::NAN, 150.0, 1.0, None),
        ];
        let cells = rank_cells(&incidents, 100, 10);
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0].cell, BinId::grid_cell(150.0, 150.0, 100).unwrap());
        assert!((cells[0].score - 1.0).abs() < 1e-12);
        assert_eq!(cells[0].count, 3);
        assert_eq!(cells[0].street.as_deref(), Some("Dijk"));
        assert_eq!(cells[1].rank, 2);
        assert_eq!(cells[1].street, None);
        assert_eq!(rank_cells(&incidents, 100, 1).len(), 1);
    }

    #[test]
    fn a_cell_names_its_most_common_street_and_its_count_there() {
        let mut incidents = vec![w(10.0, 10.0, 1.0, Some("Dijk")); 5];
        incidents.extend(vec![w(20.0, 20.0, 1.0, Some("Markt")); 2]);
        incidents.push(w(30.0, 30.0, 1.0, None));
        let cells = rank_cells(&incidents, 100, 5);
        assert_eq!(cells.len(), 1);
        let c = &cells[0];
        assert_eq!(
            (c.count, c.street.as_deref(), c.street_count),
            (8, Some("Dijk"), 5)
        );
        let none = rank_cells(&[w(10.0, 10.0, 1.0, None)], 100, 5);
        assert_eq!((none[0].street.as_deref(), none[0].street_count), (None, 0));
    }

    #[test]
    fn street_ties_go_to_the_alphabetically_first() {
        let incidents = vec![
            w(10.0, 10.0, 1.0, Some("Zuid")),
            w(20.0, 20.0, 1.0, Some("Akker")),
        ];
        assert_eq!(
            rank_cells(&incidents, 100, 5)[0].street.as_deref(),
            Some("Akker")
        );
    }

    #[test]
    fn cells_are_labelled_by_cbs_code_when_they_have_one() {
        let c = |cell_m| rank_cells(&[w(120_050.0, 487_050.0, 1.0, None)], cell_m, 1)[0].label();
        assert_eq!(c(100), "E1200N4870");
        assert_eq!(c(250), "c250_480_1948");
    }

    #[test]
    fn blocks_wrap_midnight() {
        let h = |day, from_hour, to_hour| WeeklyHours {
            day,
            from_hour,
            to_hour,
        };
        let fri = h(Weekday::Fri, 20, 2);
        assert_eq!(fri.block().unwrap().hours(), 6.0);
        assert_eq!(fri.dutch_label(), "vrijdag 20:00 - zaterdag 02:00");
        let sun = h(Weekday::Sun, 22, 24);
        assert_eq!(sun.block().unwrap().hours(), 2.0);
        assert_eq!(sun.dutch_label(), "zondag 22:00 - maandag 00:00");
        assert_eq!(h(Weekday::Mon, 8, 17).block().unwrap().hours(), 9.0);
        assert_eq!(h(Weekday::Mon, 8, 17).end_day(), Weekday::Mon);
        assert!(h(Weekday::Fri, 24, 2).block().is_err());
    }

    #[test]
    fn plans_count_used_and_excluded_incidents() {
        let t = |d, h| {
            NaiveDate::from_ymd_opt(2024, 9, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
        };
        let e = |begin, end| Event {
            x_m: 50.0,
            y_m: 50.0,
            begin,
            end,
            weight: 1.0,
        };
        let block = WeeklyHours {
            day: Weekday::Fri,
            from_hour: 20,
            to_hour: 2,
        }
        .block()
        .unwrap();
        let incidents = [
            // Friday 19:00-21:00: half inside the block.
            (e(t(6, 19), t(6, 21)), Some("Brink")),
            // Monday noon: outside, used with share 0.
            (e(t(9, 12), t(9, 12)), None),
            // No end: excluded.
            (e(t(6, 21), None), None),
        ];
        let r = plan(
            &incidents,
            &block,
            &AoristicConfig::default(),
            100,
            10,
            &Cancel::never(),
        )
        .unwrap();
        let (cancel, guard) = Cancel::new();
        drop(guard);
        let stopped = plan(
            &incidents,
            &block,
            &AoristicConfig::default(),
            100,
            10,
            &cancel,
        );
        assert!(matches!(stopped, Err(PatrolError::Cancelled(_))));
        assert_eq!((r.used, r.excluded), (2, 1));
        assert!((r.total_score - 0.5).abs() < 1e-12);
        assert_eq!(r.cells.len(), 1);
        assert_eq!(r.cells[0].count, 1);
        assert_eq!(r.hours, 6.0);
    }
}
