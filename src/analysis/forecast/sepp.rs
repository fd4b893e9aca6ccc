//! Grid self-exciting point process (Mohler 2015), as open_cp's `seppexp.SEPPTrainer` / `SEPPPredictor`.
//!
//! # Model
//! Per cell `n` the intensity is `lambda_n(t) = mu_n + sum_{t_i < t, i in n} theta omega exp(-omega (t - t_i))`:
//! a constant background plus exponentially decaying triggering by the cell's own earlier incidents. Cells are
//! independent; `theta` and `omega` are shared. Time is in **minutes** since the first training incident; `T`
//! is the last minus the first training incident (not the window length). Training incidents: those in the
//! window before `at` that lie inside the grid (`N` of them).
//!
//! # Fit (EM, deterministic)
//! Start values `theta = 0.5`, `omega = 1/1440` per minute, `mu_n = count_n / T`. Every iteration uses the
//! previous iteration's values. Per cell with sorted times `t_1 <= ... <= t_m`: `p_ij = theta omega
//! exp(-omega (t_j - t_i))` for `i < j` and `p_jj = mu_n`, each column `j` divided by its sum; then, with sums
//! over all cells, `omega' = sum p_ij / sum p_ij (t_j - t_i)`, `theta' = sum p_ij / N` (over `i < j`) and
//! `mu_n' = sum_j p_jj / T`. With the Lewis-Mohler edge correction (`corrected`):
//! `omega' = sum p_ij / (sum p_ij (t_j - t_i) + theta sum_i (T - t_i) exp(-omega (T - t_i)))` and
//! `theta' = sum p_ij / (N - sum_i exp(-omega (T - t_i)))`.
//!
//! The column sums use the exact recursions `A_j = sum_{i<j} exp(-omega (t_j - t_i)) = e (A_{j-1} + 1)` and
//! `B_j = sum_{i<j} (t_j - t_i) exp(-omega (t_j - t_i)) = e (B_{j-1} + D (A_{j-1} + 1))` with
//! `D = t_j - t_{j-1}`, `e = exp(-omega D)`, so an iteration costs O(N) instead of O(sum m^2).
//!
//! # Forecast
//! `risk_n = mu_n + sum_i theta omega exp(-omega (at - t_i))` over the cell's training incidents, in events per
//! minute (open_cp's `SEPPPredictor.predict(at)`).
//!
//! ```
//! use brandpunt::analysis::forecast::{sepp::sepp, GridSpec, Window};
//! use brandpunt::analysis::kde::Extent;
//! use brandpunt::analysis::Event;
//! use brandpunt::cancel::Cancel;
//! use chrono::{Duration, NaiveDate};
//!
//! let t0 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
//! let ev = |x_m: f64, minutes: i64| {
//!     let t = Some(t0 + Duration::minutes(minutes));
//!     Event { x_m, y_m: 5.0, begin: t, end: t, weight: 1.0 }
//! };
//! // Cell 0: a burst of three incidents; cell 1: two incidents far apart.
//! let events = [ev(1.0, 0), ev(2.0, 30), ev(3.0, 90), ev(15.0, 5_000), ev(16.0, 40_000)];
//! let grid = GridSpec::covering(
//!     Extent { minx_m: 0.0, miny_m: 0.0, maxx_m: 20.0, maxy_m: 10.0 },
//!     10.0,
//! )
//! .unwrap();
//! let at = t0 + Duration::days(30);
//! let f = sepp(&events, &grid, at, Window::All, 20, false, &Cancel::never()).unwrap();
//! let fit = f.sepp.unwrap();
//! assert!(fit.theta > 0.0 && fit.omega_per_minute > 0.0);
//! assert_eq!(fit.t_minutes, 40_000.0);
//! assert!(f.grid.values.iter().all(|&v| v > 0.0));
//! ```

use chrono::NaiveDateTime;
use serde::Serialize;

use super::{event_time, Forecast, ForecastError, ForecastGrid, GridSpec, Window, CANCEL_EVERY};
use crate::analysis::Event;
use crate::cancel::Cancel;

/// Largest number of EM iterations.
pub const MAX_ITERATIONS: u32 = 1000;
/// Start value of `theta`.
pub const THETA_START: f64 = 0.5;
/// Start value of `omega` (per minute: a mean trigger delay of one day).
pub const OMEGA_START_PER_MINUTE: f64 = 1.0 / 1440.0;

/// The fitted model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeppFit {
    /// Expected number of incidents triggered by one incident.
    pub theta: f64,
    /// Decay rate of the triggering per minute (mean delay `1 / omega` minutes).
    pub omega_per_minute: f64,
    /// Mean trigger delay in days (`1 / (1440 omega)`).
    pub mean_trigger_delay_days: f64,
    /// Background rate per cell (events per minute), grid layout (south row first); 0 for cells without incidents.
    #[serde(skip)]
    pub mu_per_minute: Vec<f64>,
    /// Time origin: the first training incident.
    pub time_origin: NaiveDateTime,
    /// `T`: last minus first training incident, minutes.
    pub t_minutes: f64,
    /// Training incidents `N`.
    pub events: usize,
    /// EM iterations.
    pub iterations: u32,
    /// Whether the Lewis-Mohler edge correction was used.
    pub corrected: bool,
}

fn minutes(t: NaiveDateTime, origin: NaiveDateTime) -> f64 {
    (t - origin).num_milliseconds() as f64 / 60_000.0
}

/// Fits the model on the incidents in `window` before `at` inside the grid and forecasts at `at`.
pub fn sepp(
    events: &[Event],
    grid: &GridSpec,
    at: NaiveDateTime,
    window: Window,
    iterations: u32,
    corrected: bool,
    cancel: &Cancel,
) -> Result<Forecast, ForecastError> {
    if !(1..=MAX_ITERATIONS).contains(&iterations) {
        return Err(ForecastError::InvalidParameter {
            parameter: "--iterations",
            reason: format!("must be 1..={MAX_ITERATIONS}, got {iterations}"),
        });
    }
    // (cell, time) of the training incidents.
    let mut pts: Vec<(usize, NaiveDateTime)> = Vec::new();
    for chunk in events.chunks(CANCEL_EVERY) {
        cancel.check()?;
        for e in chunk {
            let Some(t) = event_time(e).filter(|&t| window.holds(t, at)) else {
                continue;
            };
            if let Some(k) = grid.cell_of(e.x_m, e.y_m) {
                pts.push((k, t));
            }
        }
    }
    let n = pts.len();
    let (Some(first), Some(last)) = (pts.iter().map(|p| p.1).min(), pts.iter().map(|p| p.1).max())
    else {
        return Err(ForecastError::TooFewEvents(n));
    };
    if last <= first {
        return Err(ForecastError::TooFewEvents(n));
    }
    pts.sort_unstable();
    cancel.check()?;
    let times: Vec<f64> = pts.iter().map(|p| minutes(p.1, first)).collect();
    let big_t = minutes(last, first);
    // Runs of equal cells: (cell, start, end).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (i, p) in pts.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if r.0 == p.0 => r.2 = i + 1,
            _ => runs.push((p.0, i, i + 1)),
        }
    }
    drop(pts);
    let mut mu: Vec<f64> = runs
        .iter()
        .map(|&(_, s, e)| (e - s) as f64 / big_t)
        .collect();
    let (mut theta, mut omega) = (THETA_START, OMEGA_START_PER_MINUTE);
    let mut bg = vec![0.0; runs.len()];
    for _ in 0..iterations {
        let (mut trig, mut trig_dt) = (0.0, 0.0);
        let tw = theta * omega;
        for (ri, &(_, s, e)) in runs.iter().enumerate() {
            if ri % 4096 == 0 {
                cancel.check()?;
            }
            let m = mu[ri];
            let (mut a, mut b) = (0.0f64, 0.0f64);
            // First incident of the cell: nothing before it, p_jj = 1.
            let mut bg_sum = 1.0;
            for j in s + 1..e {
                let d = times[j] - times[j - 1];
                let ex = (-omega * d).exp();
                b = ex * (b + d * (a + 1.0));
                a = ex * (a + 1.0);
                let col = m + tw * a;
                bg_sum += m / col;
                trig += tw * a / col;
                trig_dt += tw * b / col;
            }
            bg[ri] = bg_sum;
        }
        let (new_theta, new_omega) = if corrected {
            let (mut tail, mut tail_dt) = (0.0, 0.0);
            for &t in &times {
                let r = big_t - t;
                let ex = (-omega * r).exp();
                tail += ex;
                tail_dt += r * ex;
            }
            (trig / (n as f64 - tail), trig / (trig_dt + theta * tail_dt))
        } else {
            (trig / n as f64, trig / trig_dt)
        };
        theta = new_theta;
        omega = new_omega;
        for (m, b) in mu.iter_mut().zip(&bg) {
            *m = b / big_t;
        }
        if !(theta.is_finite() && omega.is_finite() && omega > 0.0) {
            // No pair of incidents shares a cell: no triggering can be estimated.
            theta = 0.0;
            omega = OMEGA_START_PER_MINUTE;
        }
    }
    let at_min = minutes(at, first);
    let mut out = ForecastGrid::zeros(*grid);
    let mut mu_grid = vec![0.0; grid.len()];
    let tw = theta * omega;
    for (ri, &(cell, s, e)) in runs.iter().enumerate() {
        let trig: f64 = times[s..e]
            .iter()
            .map(|&t| tw * (-omega * (at_min - t)).exp())
            .sum();
        out.values[cell] = mu[ri] + trig;
        mu_grid[cell] = mu[ri];
    }
    Ok(Forecast {
        grid: out,
        events_used: n,
        sepp: Some(SeppFit {
            theta,
            omega_per_minute: omega,
            mean_trigger_delay_days: 1.0 / (1440.0 * omega),
            mu_per_minute: mu_grid,
            time_origin: first,
            t_minutes: big_t,
            events: n,
            iterations,
            corrected,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::kde::Extent;
    use chrono::{Duration, NaiveDate};

    /// One EM iteration by the definition (full p matrix per cell).
    fn direct_step(
        cells: &[Vec<f64>],
        mu: &[f64],
        theta: f64,
        omega: f64,
        n: f64,
        big_t: f64,
    ) -> (f64, f64, Vec<f64>) {
        let (mut trig, mut trig_dt) = (0.0, 0.0);
        let mut new_mu = Vec::new();
        for (c, ts) in cells.iter().enumerate() {
            let mut bg = 0.0;
            for j in 0..ts.len() {
                let mut col = vec![mu[c]];
                for i in 0..j {
                    col.push(theta * omega * (-omega * (ts[j] - ts[i])).exp());
                }
                let sum: f64 = col.iter().sum();
                bg += col[0] / sum;
                for i in 0..j {
                    trig += col[i + 1] / sum;
                    trig_dt += col[i + 1] / sum * (ts[j] - ts[i]);
                }
            }
            new_mu.push(bg / big_t);
        }
        (trig / n, trig / trig_dt, new_mu)
    }

    #[test]
    fn recursion_equals_the_direct_em() {
        let t0 = NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let mut seed = 99u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut events = Vec::new();
        for _ in 0..200 {
            let x = (next() * 4.0).floor() * 10.0 + 5.0;
            let base = next() * 60.0 * 1440.0;
            for k in 0..(1 + (next() * 3.0) as i64) {
                let t = Some(t0 + Duration::minutes(base as i64 + k * (next() * 600.0) as i64));
                events.push(Event {
                    x_m: x,
                    y_m: 5.0,
                    begin: t,
                    end: t,
                    weight: 1.0,
                });
            }
        }
        let grid = GridSpec::covering(
            Extent {
                minx_m: 0.0,
                miny_m: 0.0,
                maxx_m: 40.0,
                maxy_m: 10.0,
            },
            10.0,
        )
        .unwrap();
        let at = t0 + Duration::days(90);
        let first = events.iter().filter_map(event_time).min().unwrap();
        let last = events.iter().filter_map(event_time).max().unwrap();
        let big_t = minutes(last, first);
        let mut cells = vec![Vec::new(); 4];
        for e in &events {
            cells[grid.cell_of(e.x_m, e.y_m).unwrap()].push(minutes(event_time(e).unwrap(), first));
        }
        for c in &mut cells {
            c.sort_by(f64::total_cmp);
        }
        let n = events.len() as f64;
        let mut mu: Vec<f64> = cells.iter().map(|c| c.len() as f64 / big_t).collect();
        let (mut theta, mut omega) = (THETA_START, OMEGA_START_PER_MINUTE);
        for _ in 0..5 {
            let (a, b, m) = direct_step(&cells, &mu, theta, omega, n, big_t);
            theta = a;
            omega = b;
            mu = m;
        }
        let f = sepp(&events, &grid, at, Window::All, 5, false, &Cancel::never()).unwrap();
        let fit = f.sepp.unwrap();
        assert!((fit.theta - theta).abs() <= 1e-12 * theta);
        assert!((fit.omega_per_minute - omega).abs() <= 1e-12 * omega);
        for (a, b) in fit.mu_per_minute.iter().zip(&mu) {
            assert!((a - b).abs() <= 1e-12 * b);
        }
        let at_min = minutes(at, first);
        for (k, c) in cells.iter().enumerate() {
            let want = mu[k]
                + c.iter()
                    .map(|t| theta * omega * (-omega * (at_min - t)).exp())
                    .sum::<f64>();
            assert!((f.grid.values[k] - want).abs() <= 1e-12 * want);
        }
    }

    #[test]
    fn too_few_events_and_bad_iterations() {
        let t0 = NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let t = Some(t0);
        let e = Event {
            x_m: 5.0,
            y_m: 5.0,
            begin: t,
            end: t,
            weight: 1.0,
        };
        let grid = GridSpec::covering(
            Extent {
                minx_m: 0.0,
                miny_m: 0.0,
                maxx_m: 10.0,
                maxy_m: 10.0,
            },
            10.0,
        )
        .unwrap();
        let at = t0 + Duration::days(1);
        let c = Cancel::never();
        assert_eq!(
            sepp(
                &[e.clone(), e.clone()],
                &grid,
                at,
                Window::All,
                20,
                false,
                &c
            ),
            Err(ForecastError::TooFewEvents(2))
        );
        assert!(matches!(
            sepp(&[e], &grid, at, Window::All, 0, false, &c),
            Err(ForecastError::InvalidParameter {
                parameter: "--iterations",
                ..
            })
        ));
    }
}
