//! KDE against closed forms: kernel volume 1 per point, K(0) at the centre, radial symmetry, the default
//! bandwidth rule on hand-computable point sets, and agreement of the raster with point evaluation.

use std::f64::consts::PI;

use brandpunt::analysis::kde::{
    default_bandwidth_m, density_at_points, kde_raster, Extent, KdeParams, Kernel,
    DEFAULT_GAUSSIAN_TAIL,
};
use brandpunt::analysis::Event;

fn ev(x: f64, y: f64, w: f64) -> Event {
    Event {
        x_m: x,
        y_m: y,
        begin: None,
        end: None,
        weight: w,
    }
}

fn params(kernel: Kernel, r: f64, cell: f64, half: f64, tail: f64) -> KdeParams {
    KdeParams {
        kernel,
        bandwidth_m: Some(r),
        cell_m: cell,
        extent_m: Some(Extent {
            minx_m: 100_000.0 - half,
            miny_m: 400_000.0 - half,
            maxx_m: 100_000.0 + half,
            maxy_m: 400_000.0 + half,
        }),
        gaussian_tail: tail,
    }
}

/// The integral of every kernel over a fine grid is 1 per unit of weight: the raster (per km2) times the cell
/// area (km2) sums to the total weight.
#[test]
fn kernel_volume_is_one_per_point() {
    let events = [
        ev(100_000.3, 399_999.7, 1.0),
        ev(99_950.1, 400_020.9, 2.5),
        ev(100_031.7, 400_040.2, 0.5),
    ];
    let total = 4.0;
    for kernel in Kernel::ALL {
        // Gaussian: sigma 50 m untruncated; grid +-500 m covers 10 sigma around every point.
        let (r, tol) = match kernel {
            Kernel::Gaussian => (50.0, 1e-6),
            // Discontinuous at the support edge: midpoint-rule error O(c / r).
            Kernel::Uniform => (100.0, 2e-3),
            _ => (100.0, 2e-4),
        };
        let p = params(kernel, r, 1.0, 500.0, 0.0);
        let kde = kde_raster::<f64>(&events, &p).unwrap();
        let integral = kde.raster.integral();
        assert!(
            (integral - total).abs() < tol * total,
            "{kernel}: integral {integral} vs {total}"
        );
        // f32 accumulation gives the same volume.
        let kde32 = kde_raster::<f32>(&events, &p).unwrap();
        assert!((kde32.raster.integral() - integral).abs() < 1e-5 * total);
    }
}

/// The truncated Gaussian loses exactly the tail mass: exp(-R^2 / (2 sigma^2)) = tail.
#[test]
fn gaussian_truncation_neglects_the_tail_mass() {
    let events = [ev(100_000.0, 400_000.0, 1.0)];
    for tail in [1e-4, 1e-2] {
        let p = params(Kernel::Gaussian, 50.0, 1.0, 400.0, tail);
        let integral = kde_raster::<f64>(&events, &p).unwrap().raster.integral();
        assert!(
            (integral - (1.0 - tail)).abs() < 2e-5,
            "tail {tail}: integral {integral}"
        );
    }
    let r = Kernel::Gaussian.support_radius_m(50.0, DEFAULT_GAUSSIAN_TAIL);
    assert!((r - 50.0 * (2.0 * 1e4f64.ln()).sqrt()).abs() < 1e-9);
    // At the cut-off the kernel value is `tail` times the peak.
    let ratio = Kernel::Gaussian.value_per_m2(r, 50.0) / Kernel::Gaussian.value_per_m2(0.0, 50.0);
    assert!((ratio - 1e-4).abs() < 1e-15);
}

/// One point at a cell centre: the value there is K(0) * 1e6 per km2, values at mirrored cells are equal, and
/// every cell equals the closed-form kernel at its centre distance.
#[test]
fn single_point_matches_closed_form_everywhere() {
    let (x0, y0) = (100_005.0, 400_005.0); // the centre of a 10 m cell of the extent below
    for kernel in Kernel::ALL {
        let r = 120.0;
        let p = params(kernel, r, 10.0, 300.0, DEFAULT_GAUSSIAN_TAIL);
        let kde = kde_raster::<f64>(&[ev(x0, y0, 1.0)], &p).unwrap();
        let ras = &kde.raster;
        let support = kernel.support_radius_m(r, DEFAULT_GAUSSIAN_TAIL);
        let mut max_err: f64 = 0.0;
        for j in 0..ras.height {
            for i in 0..ras.width {
                let (x, y) = ras.cell_centre_m(i, j);
                let d = ((x - x0).powi(2) + (y - y0).powi(2)).sqrt();
                let want = if d < support {
                    1e6 * kernel.value_per_m2(d, r)
                } else {
                    0.0
                };
                let got = ras.get(i, j).unwrap();
                max_err = max_err.max((got - want).abs());
            }
        }
        let k0 = 1e6 * kernel.value_per_m2(0.0, r);
        assert!(max_err <= 1e-12 * k0, "{kernel}: max error {max_err}");
        assert_eq!(ras.value_at(x0, y0).unwrap(), k0);
        // Symmetry: the 8 mirror images of offset (30, 70) m.
        let v = ras.value_at(x0 + 30.0, y0 + 70.0).unwrap();
        for (dx, dy) in [
            (30.0, -70.0),
            (-30.0, 70.0),
            (-30.0, -70.0),
            (70.0, 30.0),
            (70.0, -30.0),
            (-70.0, 30.0),
            (-70.0, -30.0),
        ] {
            let w = ras.value_at(x0 + dx, y0 + dy).unwrap();
            assert!(
                (v - w).abs() <= 1e-12 * k0,
                "{kernel}: asymmetric {v} vs {w}"
            );
        }
    }
}

/// Quartic formula, spot values: at d = r/2, 3/(pi r^2) * (3/4)^2.
#[test]
fn kernel_formulas_spot_values() {
    let r = 200.0;
    let a = PI * r * r;
    let u: f64 = 0.5;
    let cases = [
        (Kernel::Quartic, 3.0 / a * (1.0 - u * u).powi(2)),
        (Kernel::Epanechnikov, 2.0 / a * (1.0 - u * u)),
        (Kernel::Triweight, 4.0 / a * (1.0 - u * u).powi(3)),
        (Kernel::Uniform, 1.0 / a),
        (Kernel::Triangular, 3.0 / a * (1.0 - u)),
        (Kernel::Gaussian, 1.0 / (2.0 * a) * (-u * u / 2.0).exp()),
    ];
    for (k, want) in cases {
        let got = k.value_per_m2(u * r, r);
        assert!((got - want).abs() < 1e-15 * want, "{k}");
        if k != Kernel::Gaussian {
            assert_eq!(k.value_per_m2(r, r), 0.0, "{k} at d = r");
            assert_eq!(k.value_per_m2(1.5 * r, r), 0.0, "{k} beyond r");
        }
    }
}

/// The default bandwidth on point sets computed by hand.
#[test]
fn default_bandwidth_hand_computed() {
    // Mean centre (0, 0); distances 3, 3, 4, 4; SD = sqrt((9 + 9)/4 + (16 + 16)/4) = sqrt(12.5);
    // Dm = 3.5, sqrt(1/ln 2) * 3.5 = 4.204 > SD, so r = 0.9 * sqrt(12.5) * 4^-0.2.
    let a = [
        ev(3.0, 0.0, 1.0),
        ev(-3.0, 0.0, 1.0),
        ev(0.0, 4.0, 1.0),
        ev(0.0, -4.0, 1.0),
    ];
    let want = 0.9 * 12.5f64.sqrt() * 4f64.powf(-0.2);
    assert!((default_bandwidth_m(&a).unwrap() - want).abs() < 1e-12);

    // Two far outliers: distances 0, 1, 1, 1, 1, 100, 100 -> Dm = 1, SD = sqrt(20004 / 7) = 53.5,
    // so the median term wins: r = 0.9 * sqrt(1 / ln 2) * 1 * 7^-0.2.
    let b = [
        ev(1.0, 0.0, 1.0),
        ev(-1.0, 0.0, 1.0),
        ev(0.0, 1.0, 1.0),
        ev(0.0, -1.0, 1.0),
        ev(0.0, 0.0, 1.0),
        ev(100.0, 0.0, 1.0),
        ev(-100.0, 0.0, 1.0),
    ];
    let want = 0.9 * (1.0 / 2f64.ln()).sqrt() * 7f64.powf(-0.2);
    assert!((default_bandwidth_m(&b).unwrap() - want).abs() < 1e-12);

    // A weight of 2 is the same as the event twice (n = summed weight, weighted centre/SD/median).
    let weighted = [
        ev(10.0, 5.0, 2.0),
        ev(-7.0, 1.0, 1.0),
        ev(3.0, -9.0, 1.0),
        ev(20.0, 20.0, 1.0),
    ];
    let duplicated = [
        ev(10.0, 5.0, 1.0),
        ev(10.0, 5.0, 1.0),
        ev(-7.0, 1.0, 1.0),
        ev(3.0, -9.0, 1.0),
        ev(20.0, 20.0, 1.0),
    ];
    let (bw, bd) = (
        default_bandwidth_m(&weighted).unwrap(),
        default_bandwidth_m(&duplicated).unwrap(),
    );
    assert!((bw - bd).abs() < 1e-12, "{bw} vs {bd}");
}

/// Deterministic pseudo-random points (xorshift) around a centre.
fn scatter(n: usize, seed: u64) -> Vec<Event> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let x = 100_000.0 + 400.0 * (next() - 0.5) + 100.0 * (next() - 0.5);
            let y = 400_000.0 + 300.0 * (next() - 0.5);
            ev(x, y, 0.5 + next())
        })
        .collect()
}

/// The raster equals point evaluation at the cell centres, and f32 accumulation is within f32 rounding.
#[test]
fn raster_equals_point_evaluation() {
    let events = scatter(300, 0x9E37_79B9_7F4A_7C15);
    for kernel in Kernel::ALL {
        let p = params(kernel, 60.0, 7.0, 350.0, DEFAULT_GAUSSIAN_TAIL);
        let kde = kde_raster::<f64>(&events, &p).unwrap();
        let ras = &kde.raster;
        let centres: Vec<(f64, f64)> = (0..ras.height)
            .flat_map(|j| (0..ras.width).map(move |i| (i, j)))
            .map(|(i, j)| ras.cell_centre_m(i, j))
            .collect();
        let pts =
            density_at_points(&events, kernel, 60.0, DEFAULT_GAUSSIAN_TAIL, &centres).unwrap();
        let max = ras.max().unwrap().0;
        for (a, b) in ras.values.iter().zip(&pts) {
            assert!(
                (a - b).abs() <= 1e-12 * max,
                "{kernel}: raster {a} vs point {b}"
            );
        }
        let kde32 = kde_raster::<f32>(&events, &p).unwrap();
        for (a, b) in kde32.raster.values.iter().zip(&ras.values) {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-5 * max,
                "{kernel}: f32 {a} vs f64 {b}"
            );
        }
    }
}

/// The default extent is the data's bounding box grown by the search radius, snapped to the cell size, and
/// holds (nearly) all the mass.
#[test]
fn default_extent_contains_the_mass() {
    let events = scatter(200, 42);
    let mut p = KdeParams::new(5.0);
    p.bandwidth_m = Some(50.0);
    let kde = kde_raster::<f64>(&events, &p).unwrap();
    let r = &kde.raster;
    assert_eq!(r.minx_m % 5.0, 0.0);
    assert_eq!(r.maxy_m % 5.0, 0.0);
    let minx = events.iter().map(|e| e.x_m).fold(f64::INFINITY, f64::min);
    let maxy = events
        .iter()
        .map(|e| e.y_m)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(r.minx_m <= minx - 50.0 && r.minx_m > minx - 55.0);
    assert!(r.maxy_m >= maxy + 50.0 && r.maxy_m < maxy + 55.0);
    let total: f64 = events.iter().map(|e| e.weight).sum();
    assert!((r.integral() - total).abs() < 1e-3 * total);
    assert_eq!(kde.bandwidth_m, 50.0);
    assert_eq!(kde.skipped, 0);

    // Events with non-finite coordinates or weight are skipped and counted; the rest is unchanged.
    let mut with_bad = events.clone();
    with_bad.push(ev(f64::NAN, 400_000.0, 1.0));
    with_bad.push(ev(100_000.0, 400_000.0, f64::INFINITY));
    let kde_bad = kde_raster::<f64>(&with_bad, &p).unwrap();
    assert_eq!(kde_bad.skipped, 2);
    assert_eq!(kde_bad.raster, kde.raster);
}
