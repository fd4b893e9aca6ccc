//! Colour ramps for map images: piecewise-linear interpolation between colour stops (with alpha), and the
//! fixed palettes of brandpunt's layers (density, Gi* bins, choropleth).

/// An RGBA colour, straight alpha.
pub type Rgba = [u8; 4];

/// Fully transparent.
pub const TRANSPARENT: Rgba = [0, 0, 0, 0];

/// A ramp over `t` in `[0, 1]`: colour stops at increasing positions, linear in between (all four channels).
/// Values below `cutoff` are transparent (so near-zero density leaves the map visible); values above 1 get the
/// last colour.
#[derive(Clone, Debug, PartialEq)]
pub struct ColourRamp {
    stops: Vec<(f64, Rgba)>,
    cutoff: f64,
}

impl ColourRamp {
    /// A ramp from stops (sorted here by position; at least one stop) with a transparency cut-off.
    pub fn new(mut stops: Vec<(f64, Rgba)>, cutoff: f64) -> ColourRamp {
        stops.sort_by(|a, b| a.0.total_cmp(&b.0));
        if stops.is_empty() {
            stops.push((0.0, TRANSPARENT));
        }
        ColourRamp { stops, cutoff }
    }

    /// Kernel density: transparent below 2 % of the scale, then YlOrRd (ColorBrewer) with rising opacity.
    pub fn density() -> ColourRamp {
        ColourRamp::new(
            vec![
                (0.0, [255, 255, 178, 60]),
                (0.15, [254, 204, 92, 150]),
                (0.4, [253, 141, 60, 190]),
                (0.7, [240, 59, 32, 215]),
                (1.0, [189, 0, 38, 235]),
            ],
            0.02,
        )
    }

    /// Choropleth of a non-negative value scaled to `[0, 1]` (YlOrRd, 70 % opaque, 0 included).
    pub fn choropleth() -> ColourRamp {
        ColourRamp::new(
            vec![
                (0.0, [255, 255, 204, 180]),
                (0.5, [253, 141, 60, 180]),
                (1.0, [189, 0, 38, 180]),
            ],
            f64::NEG_INFINITY,
        )
    }

    /// Colour at `t` (NaN is transparent).
    pub fn colour(&self, t: f64) -> Rgba {
        if t.is_nan() || t < self.cutoff {
            return TRANSPARENT;
        }
        let first = self.stops[0];
        if t <= first.0 {
            return first.1;
        }
        for w in self.stops.windows(2) {
            let ((t0, c0), (t1, c1)) = (w[0], w[1]);
            if t <= t1 {
                let f = if t1 > t0 { (t - t0) / (t1 - t0) } else { 1.0 };
                let mut out = [0u8; 4];
                for k in 0..4 {
                    let v = f64::from(c0[k]) + (f64::from(c1[k]) - f64::from(c0[k])) * f;
                    out[k] = super::channel(v);
                }
                return out;
            }
        }
        self.stops[self.stops.len() - 1].1
    }
}

/// Colour of a Gi* significance bin (-3..=3, ESRI's palette): reds for hot spots, blues for cold spots, bin 0
/// transparent.
pub fn gi_bin_colour(bin: i8) -> Rgba {
    match bin {
        3.. => [215, 48, 39, 220],
        2 => [252, 141, 89, 190],
        1 => [254, 224, 144, 160],
        0 => TRANSPARENT,
        -1 => [224, 243, 248, 160],
        -2 => [145, 191, 219, 190],
        _ => [69, 117, 180, 220],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_interpolates_between_stops() {
        let r = ColourRamp::new(vec![(1.0, [200, 0, 100, 255]), (0.0, [0, 0, 0, 0])], 0.1);
        assert_eq!(r.colour(0.05), TRANSPARENT);
        assert_eq!(r.colour(f64::NAN), TRANSPARENT);
        assert_eq!(r.colour(0.5), [100, 0, 50, 128]);
        assert_eq!(r.colour(1.0), [200, 0, 100, 255]);
        assert_eq!(r.colour(7.0), [200, 0, 100, 255]);
    }

    #[test]
    fn density_ramp_is_transparent_near_zero_and_opaque_at_the_top() {
        let r = ColourRamp::density();
        assert_eq!(r.colour(0.0)[3], 0);
        assert_eq!(r.colour(0.01)[3], 0);
        assert!(r.colour(0.03)[3] > 0);
        assert_eq!(r.colour(1.0), [189, 0, 38, 235]);
        // Opacity never decreases along the ramp.
        let alphas: Vec<u8> = (2..=100)
            .map(|k| r.colour(f64::from(k) / 100.0)[3])
            .collect();
        assert!(alphas.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn gi_bins_are_symmetric_in_opacity() {
        assert_eq!(gi_bin_colour(0), TRANSPARENT);
        for b in 1..=3 {
            assert_eq!(gi_bin_colour(b)[3], gi_bin_colour(-b)[3]);
            assert!(gi_bin_colour(b)[0] > gi_bin_colour(-b)[0]);
        }
    }
}
