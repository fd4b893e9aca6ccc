//! Map images of RD data in any output CRS: the request ([`MapRequest`]: a bounding box in Web Mercator or
//! WGS84 and a size in pixels), the RD position of every pixel centre ([`MapRequest::pixels_rd`]: the corners of
//! a coarse lattice are converted by the caller, every pixel is interpolated between them) and the choropleth of
//! polygons with values ([`choropleth_image`]).
//!
//! ```
//! use brandpunt::render::map::{MapCrs, MapRequest};
//!
//! let req = MapRequest { crs: MapCrs::LonLat, bbox: [5.0, 52.0, 5.1, 52.1], width: 64, height: 32 };
//! // A stand-in conversion for the example: 1 degree = 100 km.
//! let px = req
//!     .pixels_rd(|pts| pts.iter_mut().for_each(|p| *p = (p.0 * 1e5, p.1 * 1e5)))
//!     .unwrap();
//! assert_eq!(px.len(), 64 * 32);
//! // The first pixel centre lies half a pixel in from the top-left corner.
//! let (x, y) = px[0];
//! assert!((x - (500_000.0 + 0.5 * 10_000.0 / 64.0)).abs() < 1e-6);
//! assert!((y - (5_210_000.0 - 0.5 * 10_000.0 / 32.0)).abs() < 1e-6);
//! ```

use geo::BoundingRect;
use geo_types::MultiPolygon;

use super::{
    interpolate_lattice, lattice_nodes, ColourRamp, Image, PolygonLocator, RenderError, Rgba,
    TRANSPARENT,
};

/// The CRS of a map request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapCrs {
    /// EPSG:3857, metres.
    WebMercator,
    /// WGS84 with x = longitude, y = latitude (CRS:84; EPSG:4326 after the WMS 1.3.0 axis swap).
    LonLat,
}

/// An image to draw: a bounding box in `crs` (x east, y north) and a size in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapRequest {
    pub crs: MapCrs,
    /// `[minx, miny, maxx, maxy]`.
    pub bbox: [f64; 4],
    pub width: u32,
    pub height: u32,
}

impl MapRequest {
    /// RD coordinates of every pixel centre (row-major). `wgs84_to_rd` converts the WGS84 `(lon, lat)` of the
    /// lattice nodes near the Netherlands in place (NaN where a position cannot be converted); nodes far away
    /// (outside lon -15..25, lat 40..65, where RD New means nothing) stay NaN, so their pixels draw nothing.
    pub fn pixels_rd(
        &self,
        wgs84_to_rd: impl FnOnce(&mut [(f64, f64)]),
    ) -> Result<Vec<(f64, f64)>, RenderError> {
        let (xs, ys) = lattice_nodes(self.width, self.height);
        let [minx, miny, maxx, maxy] = self.bbox;
        let mut nodes: Vec<(f64, f64)> = Vec::with_capacity(xs.len() * ys.len());
        for &py in &ys {
            for &px in &xs {
                let x = minx + px / f64::from(self.width) * (maxx - minx);
                let y = maxy - py / f64::from(self.height) * (maxy - miny);
                nodes.push(match self.crs {
                    MapCrs::WebMercator => crate::coords::web_mercator_to_wgs84(x, y),
                    MapCrs::LonLat => (x, y),
                });
            }
        }
        let near = |&(lon, lat): &(f64, f64)| {
            (-15.0..=25.0).contains(&lon) && (40.0..=65.0).contains(&lat)
        };
        let idx: Vec<usize> = (0..nodes.len()).filter(|&k| near(&nodes[k])).collect();
        let mut sub: Vec<(f64, f64)> = idx.iter().map(|&k| nodes[k]).collect();
        wgs84_to_rd(&mut sub);
        let mut rd = vec![(f64::NAN, f64::NAN); nodes.len()];
        for (k, p) in idx.into_iter().zip(sub) {
            rd[k] = p;
        }
        interpolate_lattice(&xs, &ys, &rd, self.width, self.height)
    }
}

/// A choropleth: every pixel (RD position `pixels_rd[k]`, row-major) gets the colour of the value of the area
/// containing it through `ramp`, scaled to the largest finite value of all `areas` (`value / max`; 0 when there is
/// none). An area with value `None` and pixels in no area are transparent; a NaN value (a withheld count) is drawn
/// in `withheld`. Only areas whose bounding box meets the pixels' take part in the lookup.
///
/// ```
/// use brandpunt::render::map::choropleth_image;
/// use brandpunt::render::ColourRamp;
/// use geo_types::{polygon, MultiPolygon};
///
/// let square = |x0: f64| MultiPolygon(vec![polygon![(x: x0, y: 0.0), (x: x0 + 1.0, y: 0.0), (x: x0 + 1.0, y: 1.0), (x: x0, y: 1.0)]]);
/// let (a, b) = (square(0.0), square(1.0));
/// let pixels = [(0.5, 0.5), (1.5, 0.5), (9.0, 9.0)];
/// let grey = [128, 128, 128, 180];
/// let img = choropleth_image(&[(&a, Some(f64::NAN)), (&b, Some(4.0))], &pixels, 3, 1, &ColourRamp::choropleth(), grey).unwrap();
/// assert_eq!(img.pixel(0, 0), Some(grey));
/// assert_eq!(img.pixel(1, 0), Some(ColourRamp::choropleth().colour(1.0)));
/// assert_eq!(img.pixel(2, 0), Some([0, 0, 0, 0]));
/// ```
pub fn choropleth_image(
    areas: &[(&MultiPolygon<f64>, Option<f64>)],
    pixels_rd: &[(f64, f64)],
    width: u32,
    height: u32,
    ramp: &ColourRamp,
    withheld: Rgba,
) -> Result<Image, RenderError> {
    let max = areas
        .iter()
        .filter_map(|a| a.1)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in pixels_rd
        .iter()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
    {
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    let near: Vec<usize> = (0..areas.len())
        .filter(|&k| {
            areas[k].0.bounding_rect().is_some_and(|b| {
                b.min().x <= x1 && b.max().x >= x0 && b.min().y <= y1 && b.max().y >= y0
            })
        })
        .collect();
    if near.is_empty() {
        return Image::transparent(width, height);
    }
    let polys: Vec<MultiPolygon<f64>> = near.iter().map(|&k| areas[k].0.clone()).collect();
    let px: Vec<Rgba> = PolygonLocator::new(&polys)
        .locate_all(pixels_rd)
        .into_iter()
        .map(|p| {
            p.and_then(|k| areas[near[k]].1).map_or(TRANSPARENT, |v| {
                if v.is_nan() {
                    withheld
                } else {
                    ramp.colour(if max > 0.0 { v / max } else { 0.0 })
                }
            })
        })
        .collect();
    Image::from_pixels(width, height, &px)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    #[test]
    fn far_away_lattice_nodes_stay_unconverted_and_transparent() {
        let req = MapRequest {
            crs: MapCrs::WebMercator,
            bbox: [-20_037_508.0, -1_000_000.0, -19_000_000.0, 0.0],
            width: 32,
            height: 32,
        };
        let mut called_with = usize::MAX;
        let px = req.pixels_rd(|pts| called_with = pts.len()).unwrap();
        assert_eq!(called_with, 0, "nothing near the Netherlands");
        assert!(px.iter().all(|p| p.0.is_nan() && p.1.is_nan()));
    }

    #[test]
    fn web_mercator_requests_convert_through_wgs84() {
        let (x, y) = crate::coords::wgs84_to_web_mercator(5.0, 52.0);
        let req = MapRequest {
            crs: MapCrs::WebMercator,
            bbox: [x, y, x + 256.0, y + 256.0],
            width: 16,
            height: 16,
        };
        let px = req.pixels_rd(|pts| assert!(!pts.is_empty())).unwrap();
        // Without a conversion the nodes keep their WGS84 degrees: the top-left pixel is near (5, 52).
        assert!(
            (px[0].0 - 5.0).abs() < 0.01 && (px[0].1 - 52.0).abs() < 0.01,
            "{:?}",
            px[0]
        );
    }

    #[test]
    fn choropleth_scales_to_the_largest_value_and_skips_areas_far_from_the_image() {
        let square = |x0: f64| {
            MultiPolygon(vec![polygon![
                (x: x0, y: 0.0), (x: x0 + 1.0, y: 0.0), (x: x0 + 1.0, y: 1.0), (x: x0, y: 1.0)
            ]])
        };
        let (a, b, far) = (square(0.0), square(1.0), square(100.0));
        let ramp = ColourRamp::choropleth();
        let grey = [1, 2, 3, 4];
        // The far area sets the scale (8) although it is not drawn.
        let areas = [(&a, Some(2.0)), (&b, None), (&far, Some(8.0))];
        let img = choropleth_image(&areas, &[(0.5, 0.5), (1.5, 0.5)], 2, 1, &ramp, grey).unwrap();
        assert_eq!(img.pixel(0, 0), Some(ramp.colour(0.25)));
        assert_eq!(img.pixel(1, 0), Some(TRANSPARENT));
        let none = choropleth_image(&areas[..1], &[(50.0, 50.0)], 1, 1, &ramp, grey).unwrap();
        assert!(none.is_fully_transparent());
        let zero = choropleth_image(&[(&a, Some(0.0))], &[(0.5, 0.5)], 1, 1, &ramp, grey).unwrap();
        assert_eq!(zero.pixel(0, 0), Some(ramp.colour(0.0)));
    }
}
