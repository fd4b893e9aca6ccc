//! Pure raster rendering for map images (XYZ PNG tiles, WMS GetMap): colour ramps, sampling of RD rasters at
//! pixel positions, per-pixel polygon lookup, alpha compositing, PNG encoding and contour polygons of a raster.
//! Plain data in, plain data out: no I/O, no HTTP; coordinate transformation is the caller's (it passes the RD
//! coordinates of a coarse lattice of pixel positions and [`interpolate_lattice`] fills in every pixel).
//!
//! Images are RGBA, 8 bits per channel, straight (not premultiplied) alpha, row-major, top row first.
//!
//! [`map`] holds the map request (bounding box in Web Mercator or WGS84, size in pixels), the RD positions of
//! its pixels and the choropleth of polygons.
//!
//! The printable HTML pages (monthly report with inline SVG map and charts, patrol list) are rendered here too,
//! from plain data: [`report`], [`patrol`], with the text primitives of [`html`].

pub mod contour;
pub mod html;
pub mod map;
pub mod patrol;
pub mod ramp;
pub mod report;

pub use contour::threshold_polygons;
pub use ramp::{ColourRamp, Rgba, TRANSPARENT};

use crate::analysis::kde::Raster;
use geo::{BoundingRect, Contains};
use geo_types::{MultiPolygon, Point};
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree, AABB};

/// Errors of rendering and encoding.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RenderError {
    #[error("image size {width}x{height} is invalid (1..={max} pixels per side)")]
    InvalidSize { width: u32, height: u32, max: u32 },
    #[error("{got} pixel values for a {width}x{height} image")]
    LengthMismatch { got: usize, width: u32, height: u32 },
    #[error("lattice of {got} points does not match {nx}x{ny} nodes")]
    LatticeMismatch { got: usize, nx: usize, ny: usize },
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// Largest image side in pixels (WMS `MaxWidth`/`MaxHeight`).
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// An RGBA image (straight alpha).
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// `4 * width * height` bytes, row-major, top row first.
    pub rgba: Vec<u8>,
}

impl Image {
    /// A fully transparent image; errors for a side of 0 or above [`MAX_IMAGE_SIDE`].
    pub fn transparent(width: u32, height: u32) -> Result<Image, RenderError> {
        check_size(width, height)?;
        Ok(Image {
            width,
            height,
            rgba: vec![0; 4 * width as usize * height as usize],
        })
    }

    /// An image filled with one colour.
    pub fn filled(width: u32, height: u32, colour: Rgba) -> Result<Image, RenderError> {
        let mut img = Image::transparent(width, height)?;
        for px in img.rgba.chunks_exact_mut(4) {
            px.copy_from_slice(&colour);
        }
        Ok(img)
    }

    /// Pixels from one colour per pixel (row-major).
    pub fn from_pixels(width: u32, height: u32, pixels: &[Rgba]) -> Result<Image, RenderError> {
        check_size(width, height)?;
        if pixels.len() != width as usize * height as usize {
            return Err(RenderError::LengthMismatch {
                got: pixels.len(),
                width,
                height,
            });
        }
        Ok(Image {
            width,
            height,
            rgba: pixels.iter().flatten().copied().collect(),
        })
    }

    /// Pixel `(col, row)`, or `None` outside the image.
    pub fn pixel(&self, col: u32, row: u32) -> Option<Rgba> {
        if col >= self.width || row >= self.height {
            return None;
        }
        let k = 4 * (row as usize * self.width as usize + col as usize);
        let p = self.rgba.get(k..k + 4)?;
        Some([p[0], p[1], p[2], p[3]])
    }

    /// True when every pixel has alpha 0.
    pub fn is_fully_transparent(&self) -> bool {
        self.rgba.chunks_exact(4).all(|p| p[3] == 0)
    }

    /// Porter-Duff "source over": draws `top` (same size) over this image.
    pub fn composite_over(&mut self, top: &Image) -> Result<(), RenderError> {
        if top.width != self.width || top.height != self.height {
            return Err(RenderError::LengthMismatch {
                got: top.rgba.len() / 4,
                width: self.width,
                height: self.height,
            });
        }
        for (d, s) in self.rgba.chunks_exact_mut(4).zip(top.rgba.chunks_exact(4)) {
            let sa = f32::from(s[3]) / 255.0;
            if sa <= 0.0 {
                continue;
            }
            let da = f32::from(d[3]) / 255.0;
            let oa = sa + da * (1.0 - sa);
            for c in 0..3 {
                let v = (f32::from(s[c]) * sa + f32::from(d[c]) * da * (1.0 - sa)) / oa;
                d[c] = channel(f64::from(v));
            }
            d[3] = channel(f64::from(oa * 255.0));
        }
        Ok(())
    }

    /// PNG (RGBA 8 bit, fast compression).
    pub fn to_png(&self) -> Result<Vec<u8>, RenderError> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Fast);
            let mut w = enc
                .write_header()
                .map_err(|e| RenderError::Png(e.to_string()))?;
            w.write_image_data(&self.rgba)
                .map_err(|e| RenderError::Png(e.to_string()))?;
        }
        Ok(out)
    }
}

fn check_size(width: u32, height: u32) -> Result<(), RenderError> {
    if width == 0 || height == 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(RenderError::InvalidSize {
            width,
            height,
            max: MAX_IMAGE_SIDE,
        });
    }
    Ok(())
}

/// Pixels between lattice nodes used by [`lattice_nodes`].
pub const LATTICE_STEP_PX: u32 = 16;

/// Positions of the lattice nodes of a `width x height` image, in pixel units from the top-left corner (the
/// image's edges are at 0 and `width`/`height`): nodes every [`LATTICE_STEP_PX`] pixels plus the far edge.
/// Returns `(xs, ys)`; the nodes are all `(x, y)` pairs, row-major (`ys` outer).
pub fn lattice_nodes(width: u32, height: u32) -> (Vec<f64>, Vec<f64>) {
    let axis = |n: u32| {
        let mut v: Vec<f64> = (0..n)
            .step_by(LATTICE_STEP_PX as usize)
            .map(f64::from)
            .collect();
        v.push(f64::from(n));
        v
    };
    (axis(width), axis(height))
}

/// Coordinates of every pixel centre by bilinear interpolation of the coordinates of the lattice nodes
/// (`nodes[j * xs.len() + i]` at pixel position `(xs[i], ys[j])`, as from [`lattice_nodes`]), row-major. Used
/// to avoid a projection call per pixel: within 16 pixels a map projection is linear to far below a pixel.
pub fn interpolate_lattice(
    xs: &[f64],
    ys: &[f64],
    nodes: &[(f64, f64)],
    width: u32,
    height: u32,
) -> Result<Vec<(f64, f64)>, RenderError> {
    let (nx, ny) = (xs.len(), ys.len());
    if nodes.len() != nx * ny || nx < 2 || ny < 2 {
        return Err(RenderError::LatticeMismatch {
            got: nodes.len(),
            nx,
            ny,
        });
    }
    // For every pixel column / row: the lattice interval and the fraction within it.
    let locate = |axis: &[f64], n: u32| -> Vec<(usize, f64)> {
        (0..n)
            .map(|p| {
                let c = f64::from(p) + 0.5;
                let k = axis
                    .windows(2)
                    .position(|w| c <= w[1])
                    .unwrap_or(axis.len() - 2);
                (k, (c - axis[k]) / (axis[k + 1] - axis[k]))
            })
            .collect()
    };
    let cols = locate(xs, width);
    let rows = locate(ys, height);
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for &(j, fy) in &rows {
        for &(i, fx) in &cols {
            let a = nodes[j * nx + i];
            let b = nodes[j * nx + i + 1];
            let c = nodes[(j + 1) * nx + i];
            let d = nodes[(j + 1) * nx + i + 1];
            let top = (a.0 + (b.0 - a.0) * fx, a.1 + (b.1 - a.1) * fx);
            let bottom = (c.0 + (d.0 - c.0) * fx, c.1 + (d.1 - c.1) * fx);
            out.push((
                top.0 + (bottom.0 - top.0) * fy,
                top.1 + (bottom.1 - top.1) * fy,
            ));
        }
    }
    Ok(out)
}

/// Bilinear interpolation of a raster between its cell centres at RD point `(x_m, y_m)`; cells outside the
/// raster count as 0 (a KDE raster extends past the data by the search radius, so its edge is ~0). NaN for a
/// non-finite point.
pub fn bilinear<T: Copy + Into<f64>>(raster: &Raster<T>, x_m: f64, y_m: f64) -> f64 {
    if !(x_m.is_finite() && y_m.is_finite()) {
        return f64::NAN;
    }
    let fx = (x_m - raster.minx_m) / raster.cell_m - 0.5;
    let fy = (raster.maxy_m - y_m) / raster.cell_m - 0.5;
    let (w, h) = (raster.width as i64, raster.height as i64);
    // Beyond one cell outside the raster every corner is outside (also for a NaN from a degenerate raster).
    if !(fx >= -1.0 && fy >= -1.0 && fx < w as f64 && fy < h as f64) {
        return 0.0;
    }
    let (i0, j0) = (floor_to_i64(fx), floor_to_i64(fy));
    let (tx, ty) = (fx - i0 as f64, fy - j0 as f64);
    let at = |i: i64, j: i64| -> f64 {
        if i < 0 || j < 0 || i >= w || j >= h {
            0.0
        } else {
            raster.values[j as usize * raster.width + i as usize].into()
        }
    };
    let top = at(i0, j0) * (1.0 - tx) + at(i0 + 1, j0) * tx;
    let bottom = at(i0, j0 + 1) * (1.0 - tx) + at(i0 + 1, j0 + 1) * tx;
    top * (1.0 - ty) + bottom * ty
}

/// `v.floor()` as an integer for finite `v` of magnitude below 2^62, without a call into libm (the baseline
/// x86_64 target has no rounding instruction, and this is per pixel).
#[inline]
fn floor_to_i64(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v {
        t - 1
    } else {
        t
    }
}

/// A colour channel: `v` rounded half away from zero and clamped to 0..=255 (as `v.round().clamp(0.0, 255.0)
/// as u8`, NaN giving 0), without a call into libm.
#[inline]
pub fn channel(v: f64) -> u8 {
    if v.is_nan() || v <= 0.0 {
        return 0;
    }
    if v >= 255.0 {
        return 255;
    }
    let t = v as u8;
    if v - f64::from(t) >= 0.5 {
        t + 1
    } else {
        t
    }
}

/// A density image of `width` x `height` pixels (row-major `values`): each value divided by `scale` through
/// `ramp`; transparent where the value is not finite or `scale` is not positive.
pub fn density_image(
    values: &[f64],
    width: u32,
    height: u32,
    scale: f64,
    ramp: &ColourRamp,
) -> Result<Image, RenderError> {
    let px: Vec<Rgba> = values
        .iter()
        .map(|&v| {
            if scale > 0.0 && v.is_finite() {
                ramp.colour(v / scale)
            } else {
                TRANSPARENT
            }
        })
        .collect();
    Image::from_pixels(width, height, &px)
}

/// Finds the polygon containing a point among many polygons (R-tree on bounding boxes, exact test after).
pub struct PolygonLocator<'a> {
    polygons: &'a [MultiPolygon<f64>],
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl<'a> PolygonLocator<'a> {
    /// Index of `polygons` (any CRS; points passed to [`PolygonLocator::locate`] must be in the same one).
    pub fn new(polygons: &'a [MultiPolygon<f64>]) -> Self {
        let entries = polygons
            .iter()
            .enumerate()
            .filter_map(|(k, p)| {
                let r = p.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    k,
                ))
            })
            .collect();
        PolygonLocator {
            polygons,
            tree: RTree::bulk_load(entries),
        }
    }

    /// Index of a polygon containing `(x, y)` (the lowest index when polygons overlap), or `None`.
    pub fn locate(&self, x: f64, y: f64) -> Option<usize> {
        if !(x.is_finite() && y.is_finite()) {
            return None;
        }
        let p = Point::new(x, y);
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([x, y]))
            .map(|e| e.data)
            .filter(|&k| self.polygons[k].contains(&p))
            .min()
    }

    /// [`PolygonLocator::locate`] for many points, trying the previous point's polygon first (neighbouring
    /// pixels mostly share their polygon).
    pub fn locate_all(&self, points: &[(f64, f64)]) -> Vec<Option<usize>> {
        let mut last: Option<usize> = None;
        points
            .iter()
            .map(|&(x, y)| {
                if let Some(k) = last {
                    // Only a shortcut when no lower-indexed polygon could also contain the point.
                    let p = Point::new(x, y);
                    if self.polygons[k].contains(&p) && self.single_candidate(x, y) {
                        return Some(k);
                    }
                }
                let found = self.locate(x, y);
                last = found;
                found
            })
            .collect()
    }

    fn single_candidate(&self, x: f64, y: f64) -> bool {
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([x, y]))
            .nth(1)
            .is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    #[test]
    fn lattice_interpolation_is_exact_for_affine_maps() {
        let (w, h) = (40u32, 23u32);
        let (xs, ys) = lattice_nodes(w, h);
        assert_eq!(xs, vec![0.0, 16.0, 32.0, 40.0]);
        let f = |x: f64, y: f64| (1000.0 + 2.0 * x - 0.5 * y, 50.0 + 0.25 * x + 3.0 * y);
        let nodes: Vec<(f64, f64)> = ys
            .iter()
            .flat_map(|&y| xs.iter().map(move |&x| f(x, y)))
            .collect();
        let px = interpolate_lattice(&xs, &ys, &nodes, w, h).unwrap();
        assert_eq!(px.len(), (w * h) as usize);
        for row in 0..h {
            for col in 0..w {
                let want = f(f64::from(col) + 0.5, f64::from(row) + 0.5);
                let got = px[(row * w + col) as usize];
                assert!((got.0 - want.0).abs() < 1e-9 && (got.1 - want.1).abs() < 1e-9);
            }
        }
        assert!(interpolate_lattice(&xs, &ys, &nodes[1..], w, h).is_err());
    }

    #[test]
    fn channel_is_round_and_clamp() {
        let mut v: f64 = -3.0;
        while v < 260.0 {
            for w in [
                v,
                v + 0.5,
                v - f64::EPSILON * v.abs(),
                v + 0.499_999_999_999_999_9,
            ] {
                assert_eq!(channel(w), w.round().clamp(0.0, 255.0) as u8, "{w}");
            }
            v += 0.25;
        }
        assert_eq!(channel(f64::NAN), 0);
        assert_eq!(channel(f64::INFINITY), 255);
    }

    #[test]
    fn bilinear_hits_cell_centres_and_midpoints() {
        let r = Raster {
            minx_m: 0.0,
            maxy_m: 20.0,
            cell_m: 10.0,
            width: 2,
            height: 2,
            values: vec![1.0f32, 3.0, 5.0, 7.0],
        };
        assert_eq!(bilinear(&r, 5.0, 15.0), 1.0);
        assert_eq!(bilinear(&r, 15.0, 5.0), 7.0);
        assert_eq!(bilinear(&r, 10.0, 15.0), 2.0);
        assert_eq!(bilinear(&r, 10.0, 10.0), 4.0);
        // Half a cell outside the last centre: halfway to the implicit 0.
        assert_eq!(bilinear(&r, 20.0, 15.0), 1.5);
        assert_eq!(bilinear(&r, 500.0, 15.0), 0.0);
        assert!(bilinear(&r, f64::NAN, 1.0).is_nan());
    }

    #[test]
    fn png_round_trips_and_compositing_follows_porter_duff() {
        let mut img = Image::filled(3, 2, [255, 255, 255, 255]).unwrap();
        let mut top = Image::transparent(3, 2).unwrap();
        top.rgba[0..4].copy_from_slice(&[255, 0, 0, 128]);
        img.composite_over(&top).unwrap();
        // 50 % red over opaque white: (255, 127, 127), opaque.
        assert_eq!(img.pixel(0, 0), Some([255, 127, 127, 255]));
        assert_eq!(img.pixel(1, 0), Some([255, 255, 255, 255]));
        let bytes = img.to_png().unwrap();
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&buf[..info.buffer_size()], &img.rgba[..]);
        assert!(Image::transparent(0, 5).is_err());
        assert!(Image::transparent(4097, 5).is_err());
    }

    #[test]
    fn locator_agrees_with_contains() {
        let a: MultiPolygon<f64> =
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)]
                .into();
        let b: MultiPolygon<f64> =
            polygon![(x: 10.0, y: 0.0), (x: 20.0, y: 0.0), (x: 15.0, y: 10.0)].into();
        let polys = vec![a, b];
        let loc = PolygonLocator::new(&polys);
        let pts: Vec<(f64, f64)> = (0..50)
            .flat_map(|i| (0..12).map(move |j| (f64::from(i) * 0.5 - 2.0, f64::from(j) - 1.0)))
            .collect();
        let got = loc.locate_all(&pts);
        for (p, g) in pts.iter().zip(got) {
            let want = polys
                .iter()
                .position(|poly| poly.contains(&Point::new(p.0, p.1)));
            assert_eq!(g, want, "point {p:?}");
        }
    }
}
