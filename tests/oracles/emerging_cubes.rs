//! Emerging hot spot analysis against hand-built cubes.
//!
//! There is no faithful Python reference for ESRI's rules (sfdep differs), so:
//! - the per-bin Gi* is compared with an independent, deliberately naive O(bins^2) implementation that
//!   builds the dense space-time weight matrix from the definition in methods.md;
//! - every category is forced by a cube constructed for it (a planted 3x3 block around the centre cell of
//!   a 9 x 9 grid with a constant background), so the expected category follows from the rules.

use brandpunt::analysis::emerging::{
    emerging_hot_spots, grid_cube_from_events, EmergingCategory, EmergingCategory::*,
    EmergingError, EmergingOptions, GlobalWindow, SpaceTimeCube, TimeSteps,
};
use brandpunt::analysis::weights::{regular_grid, GridNeighbourhood, SpatialWeights};
use brandpunt::analysis::Event;
use brandpunt::calendar::Step;
use chrono::NaiveDate;

/// Naive Gi* per bin over the analysed locations `keep`: dense weights over all bins.
fn naive_bin_z(
    counts: &[Vec<f64>],
    lists: &[Vec<usize>],
    keep: &[usize],
    k: usize,
    per_step: bool,
) -> Vec<f64> {
    let steps = counts[0].len();
    let bins: Vec<(usize, usize)> = keep
        .iter()
        .flat_map(|&i| (0..steps).map(move |t| (i, t)))
        .collect();
    let mut out = Vec::new();
    for &(i, t) in &bins {
        let in_window = |s: usize| s <= t && s + k >= t;
        // Population: all bins, or the bins of the steps in the window.
        let pop: Vec<f64> = bins
            .iter()
            .filter(|&&(_, s)| !per_step || in_window(s))
            .map(|&(j, s)| counts[j][s])
            .collect();
        let n = pop.len() as f64;
        let mean = pop.iter().sum::<f64>() / n;
        let sd = (pop.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let (mut lag, mut sw, mut sw2) = (0.0, 0.0, 0.0);
        for &(j, s) in &bins {
            let w = if (j == i || lists[i].contains(&j)) && in_window(s) {
                1.0
            } else {
                0.0
            };
            lag += w * counts[j][s];
            sw += w;
            sw2 += w * w;
        }
        out.push((lag - mean * sw) / (sd * ((n * sw2 - sw * sw) / (n - 1.0)).sqrt()));
    }
    out
}

#[test]
fn bin_z_matches_naive_space_time_gi_star() {
    // 4 x 3 grid, rook neighbours, 6 steps; location 5 never has an incident and must be left out.
    let cols = 4;
    let lists: Vec<Vec<usize>> = (0..12)
        .map(|i| {
            let (c, r) = ((i % cols) as i64, (i / cols) as i64);
            [(c - 1, r), (c + 1, r), (c, r - 1), (c, r + 1)]
                .into_iter()
                .filter(|&(c, r)| (0..4).contains(&c) && (0..3).contains(&r))
                .map(|(c, r)| (r * 4 + c) as usize)
                .collect()
        })
        .collect();
    let counts: Vec<Vec<f64>> = (0..12)
        .map(|i| {
            (0..6)
                .map(|t| {
                    if i == 5 {
                        0.0
                    } else {
                        ((i * i + 3 * t + i * t * t) % 7) as f64
                    }
                })
                .collect()
        })
        .collect();
    let flat: Vec<f64> = counts.iter().flatten().copied().collect();
    let cube = SpaceTimeCube::from_counts(12, 6, flat).unwrap();
    let w = SpatialWeights::from_neighbour_lists(&lists).unwrap();
    let keep: Vec<usize> = (0..12).filter(|&i| i != 5).collect();
    for k in 0..=3 {
        for (per_step, global) in [
            (false, GlobalWindow::EntireCube),
            (true, GlobalWindow::PerStep),
        ] {
            let opts = EmergingOptions {
                time_window: k,
                global_window: global,
                ..Default::default()
            };
            let r =
                emerging_hot_spots(&cube, &w, &opts, &brandpunt::cancel::Cancel::never()).unwrap();
            assert_eq!(
                r.locations.iter().map(|l| l.location).collect::<Vec<_>>(),
                keep
            );
            // Neighbour lists restricted to analysed locations happen naturally: location 5 has only
            // zero counts, so dropping it changes the population but not the lag; the naive version
            // works on `keep` only.
            let want = naive_bin_z(&counts, &lists, &keep, k, per_step);
            for (b, (got, want)) in r.bin_z.iter().zip(&want).enumerate() {
                assert!(
                    (got - want).abs() < 1e-12,
                    "k={k} per_step={per_step} bin {b}: {got} vs {want}"
                );
            }
            // final_z is the last bin of each location.
            for (a, l) in r.locations.iter().enumerate() {
                assert_eq!(l.final_z, r.bin_z[a * 6 + 5]);
            }
        }
    }
}

const BACKGROUND: f64 = 20.0;

/// 9 x 9 grid (queen), 10 steps, constant background; `block[t]` = value of the 3x3 block around the
/// centre cell at step t (None = background). Returns the centre's category with k = 0.
fn centre_category(block: &[Option<f64>], options: &EmergingOptions) -> EmergingCategory {
    let cells: Vec<(i64, i64)> = (0..81).map(|i| (i % 9, i / 9)).collect();
    let w = regular_grid(&cells, 100.0, GridNeighbourhood::Queen).unwrap();
    let steps = block.len();
    let mut counts = Vec::with_capacity(81 * steps);
    for &(c, r) in &cells {
        let in_block = (3..=5).contains(&c) && (3..=5).contains(&r);
        for b in block {
            counts.push(match b {
                Some(v) if in_block => *v,
                _ => BACKGROUND,
            });
        }
    }
    let cube = SpaceTimeCube::from_counts(81, steps, counts).unwrap();
    let r = emerging_hot_spots(&cube, &w, options, &brandpunt::cancel::Cancel::never()).unwrap();
    let centre = r.locations.iter().find(|l| l.location == 40).unwrap();
    centre.category
}

/// Block pattern: 'H' = 60 (hot), 'C' = 1 (cold; not 0, a location without incidents is not analysed), '.' = background.
fn pattern(s: &str) -> Vec<Option<f64>> {
    s.chars()
        .map(|c| match c {
            'H' => Some(60.0),
            'C' => Some(1.0),
            _ => None,
        })
        .collect()
}

fn k0() -> EmergingOptions {
    EmergingOptions {
        time_window: 0,
        ..Default::default()
    }
}

#[test]
fn every_category_from_a_constructed_cube() {
    let up: Vec<Option<f64>> = (0..10).map(|t| Some(40.0 + 5.0 * t as f64)).collect();
    let down: Vec<Option<f64>> = (0..10).map(|t| Some(85.0 - 5.0 * t as f64)).collect();
    let cold_down: Vec<Option<f64>> = (0..10).map(|t| Some(10.0 - t as f64)).collect();
    let cold_up: Vec<Option<f64>> = (0..10).map(|t| Some(1.0 + t as f64)).collect();
    let cases: Vec<(Vec<Option<f64>>, EmergingCategory)> = vec![
        (pattern(".........H"), NewHotSpot),
        (pattern(".......HHH"), ConsecutiveHotSpot),
        (up, IntensifyingHotSpot),
        (pattern("HHHHHHHHHH"), PersistentHotSpot),
        (down, DiminishingHotSpot),
        (pattern("..H..H...H"), SporadicHotSpot),
        (pattern("..C..H...H"), OscillatingHotSpot),
        (pattern("HHHHHHHHH."), HistoricalHotSpot),
        (pattern(".........C"), NewColdSpot),
        (pattern(".......CCC"), ConsecutiveColdSpot),
        (cold_down, IntensifyingColdSpot),
        (pattern("CCCCCCCCCC"), PersistentColdSpot),
        (cold_up, DiminishingColdSpot),
        (pattern("..C..C...C"), SporadicColdSpot),
        (pattern("..H..C...C"), OscillatingColdSpot),
        (pattern("CCCCCCCCC."), HistoricalColdSpot),
        (pattern("...H......"), NoPattern),
    ];
    assert_eq!(cases.len(), 17);
    for (block, want) in cases {
        let got = centre_category(&block, &k0());
        assert_eq!(got, want, "block {block:?}");
    }
}

#[test]
fn default_time_window_and_per_step_window() {
    // With k = 1 the final bin sees steps 8 and 9; a block planted in step 9 only is still new.
    assert_eq!(
        centre_category(&pattern(".........H"), &EmergingOptions::default()),
        NewHotSpot
    );
    let per_step = EmergingOptions {
        global_window: GlobalWindow::PerStep,
        ..k0()
    };
    assert_eq!(
        centre_category(&pattern(".......HHH"), &per_step),
        ConsecutiveHotSpot
    );
    // FDR off: raw p < alpha.
    let no_fdr = EmergingOptions { fdr: false, ..k0() };
    assert_eq!(
        centre_category(&pattern("HHHHHHHHHH"), &no_fdr),
        PersistentHotSpot
    );
}

#[test]
fn constant_cube_and_ties_give_no_pattern_without_nan() {
    // Every location has 1 incident in every step: no variation, z = 0 everywhere, trend 0 / p 1.
    let w = regular_grid(
        &[(0, 0), (1, 0), (2, 0), (3, 0)],
        100.0,
        GridNeighbourhood::Rook,
    )
    .unwrap();
    let cube = SpaceTimeCube::from_counts(4, 8, vec![1.0; 32]).unwrap();
    let r = emerging_hot_spots(
        &cube,
        &w,
        &EmergingOptions::default(),
        &brandpunt::cancel::Cancel::never(),
    )
    .unwrap();
    for l in &r.locations {
        assert_eq!(l.category, NoPattern);
        assert_eq!((l.trend_z, l.trend_p, l.final_z), (0.0, 1.0, 0.0));
    }
    assert!(r.bin_p.iter().all(|&p| p == 1.0));
}

#[test]
fn time_window_above_75_percent_is_an_error() {
    let w = regular_grid(&[(0, 0), (1, 0)], 100.0, GridNeighbourhood::Rook).unwrap();
    let cube = SpaceTimeCube::from_counts(2, 8, (0..16).map(|v| (v % 3) as f64).collect()).unwrap();
    let opts = EmergingOptions {
        time_window: 7,
        ..Default::default()
    };
    assert_eq!(
        emerging_hot_spots(&cube, &w, &opts, &brandpunt::cancel::Cancel::never()),
        Err(EmergingError::TimeWindowTooLarge {
            k: 7,
            max: 6,
            steps: 8
        })
    );
    assert!(emerging_hot_spots(
        &cube,
        &w,
        &EmergingOptions {
            time_window: 6,
            ..opts
        },
        &brandpunt::cancel::Cancel::never()
    )
    .is_ok());
}

#[test]
fn grid_cube_from_events_bins_space_and_time() {
    let day = |d: u32, h: u32| {
        NaiveDate::from_ymd_opt(2026, 11, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    };
    let ev = |x: f64, y: f64, t: Option<chrono::NaiveDateTime>| Event {
        x_m: x,
        y_m: y,
        begin: t,
        end: t,
        weight: 1.0,
    };
    // Weeks: Mon 2 .. Sun 22 November 2026 (3 complete ISO weeks), period end Wed 25 (incomplete week).
    let steps = TimeSteps::new(
        Step::Week,
        NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
    )
    .unwrap();
    assert_eq!(steps.len(), 3);
    let events = vec![
        ev(155_050.0, 463_020.0, Some(day(2, 0))), // cell (1550, 4630), week 0
        ev(155_099.9, 463_099.9, Some(day(15, 23))), // same cell, week 1
        ev(155_100.0, 463_000.0, Some(day(22, 12))), // cell (1551, 4630), week 2
        ev(155_100.0, 463_000.0, Some(day(23, 12))), // incomplete final week: outside
        ev(155_100.0, 463_000.0, None),            // no time
        ev(f64::NAN, 463_000.0, Some(day(3, 1))),  // invalid
    ];
    let g = grid_cube_from_events(&events, 100.0, &steps).unwrap();
    assert_eq!(g.cells, vec![(1550, 4630), (1551, 4630)]);
    assert_eq!(g.cube.series(0), &[1.0, 1.0, 0.0]);
    assert_eq!(g.cube.series(1), &[0.0, 0.0, 1.0]);
    assert_eq!(
        (
            g.skipped_outside_period,
            g.skipped_without_time,
            g.skipped_invalid
        ),
        (1, 1, 1)
    );
    let w = g.weights(GridNeighbourhood::Queen).unwrap();
    assert_eq!(w.neighbours(0), &[1]);
}

#[test]
fn planted_stable_and_emerging_clusters_in_synthetic_events() {
    use rand::{Rng, SeedableRng};
    // 30 x 30 cells of 100 m, 52 ISO weeks; uniform background plus a cluster active all year and one
    // that only appears in the last 8 weeks.
    let end = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let start = end - chrono::Duration::days(52 * 7 - 1);
    let steps = TimeSteps::new(Step::Week, start, end).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut events = Vec::new();
    let mut push = |x: f64, y: f64, day: i64| {
        let t = (start + chrono::Duration::days(day)).and_hms_opt(12, 0, 0);
        events.push(Event {
            x_m: 200_000.0 + x,
            y_m: 400_000.0 + y,
            begin: t,
            end: t,
            weight: 1.0,
        });
    };
    for _ in 0..40_000 {
        push(
            rng.gen::<f64>() * 3000.0,
            rng.gen::<f64>() * 3000.0,
            rng.gen_range(0..364),
        );
    }
    for _ in 0..8_000 {
        // Stable cluster in cell (8, 8) and its neighbours.
        push(
            750.0 + rng.gen::<f64>() * 300.0,
            750.0 + rng.gen::<f64>() * 300.0,
            rng.gen_range(0..364),
        );
    }
    for _ in 0..3_000 {
        // Emerging cluster in cell (22, 20) and its neighbours, last 8 weeks only.
        push(
            2150.0 + rng.gen::<f64>() * 300.0,
            1950.0 + rng.gen::<f64>() * 300.0,
            rng.gen_range(308..364),
        );
    }
    let grid = grid_cube_from_events(&events, 100.0, &steps).unwrap();
    assert_eq!(grid.cells.len(), 900);
    let w = grid
        .weights(GridNeighbourhood::DistanceBand { threshold_m: 150.0 })
        .unwrap();
    let r = emerging_hot_spots(
        &grid.cube,
        &w,
        &EmergingOptions::default(),
        &brandpunt::cancel::Cancel::never(),
    )
    .unwrap();
    let category_of = |cell: (i64, i64)| {
        let i = grid.cells.iter().position(|&c| c == cell).unwrap();
        r.locations
            .iter()
            .find(|l| l.location == i)
            .unwrap()
            .clone()
    };
    let stable = category_of((2008, 4008));
    assert!(
        matches!(
            stable.category,
            PersistentHotSpot | IntensifyingHotSpot | DiminishingHotSpot
        ),
        "{stable:?}"
    );
    assert_eq!(stable.hot_steps, 52);
    let emerging = category_of((2022, 4020));
    assert!(
        matches!(emerging.category, ConsecutiveHotSpot),
        "{emerging:?}"
    );
    assert!(
        emerging.trend_z > 0.0 && emerging.trend_p < 0.05,
        "{emerging:?}"
    );
    // Far from both clusters, most cells show no pattern.
    let quiet = r
        .locations
        .iter()
        .filter(|l| l.category == NoPattern)
        .count();
    assert!(quiet > 700, "{quiet} of 900 cells without pattern");
}
