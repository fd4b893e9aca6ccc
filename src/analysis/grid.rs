//! Binning incidents into locations: square RD grid cells, H3 cells or areas (buurten, wijken, ...).
//!
//! Hot spot methods that work on aggregated counts (Getis-Ord Gi*, emerging hot spots, Local Moran's I) need
//! "locations with a value". This module turns a list of [`Event`]s into [`Bins`]: for every location an id,
//! a representative point in RD New metres (so distance-band / k-nearest-neighbour weights can be built from
//! the points) and the number and summed weight of the incidents in it. It also records, for every input event,
//! which bin it fell in ([`Bins::event_bin`]), so a space-time analysis can split each location's events over
//! time steps without binning again.
//!
//! # Square grid (`grid:<cell size in m>`)
//! Cells are aligned to multiples of the cell size `c`, like the CBS "vierkantstatistiek" grids (100 m, 500 m):
//! the cell of a point is `(col, row) = (floor(x / c), floor(y / c))`, so the cell covers
//! `[col * c, (col + 1) * c) x [row * c, (row + 1) * c)` (lower and left edges belong to the cell), and its
//! centre is `((col + 0.5) c, (row + 0.5) c)`. Two analyses with the same cell size always use the same cells.
//! Names: [`BinId::name`] gives `c{c}_{col}_{row}` (unique across cell sizes, e.g. `c100_1234_4567`);
//! [`BinId::cbs_code`] gives the CBS code `E{x}N{y}` of the lower-left corner in hectometres, zero-padded to
//! four digits (`E1234N4567` is the 100 m cell with lower-left corner (123 400, 456 700)). The CBS code does not
//! contain the cell size (CBS keeps it in the column name, `crs28992res100m`), so it exists only for cell sizes
//! that are whole multiples of 100 m.
//!
//! # H3 (`h3:<resolution 7..=11>`)
//! Uber's hexagonal grid via `h3o`. H3 works on WGS84, so the caller supplies the RD -> WGS84 conversion (and
//! WGS84 -> RD for the cell centres) as closures, or passes pre-converted positions ([`bin_h3_lonlat`]); this
//! module never calls PROJ itself. Cell centres are the H3 cell centres converted back to RD. Resolution 7
//! cells are ~5 km2, resolution 11 cells ~2,100 m2.
//!
//! # Areas (`buurt`, `wijk`, `gemeente`)
//! Assignment goes through a caller-supplied locator `Fn(x_m, y_m) -> Option<usize>` (an index into the caller's
//! list of areas, e.g. built by `area_index`), so the core stays pure. The caller also supplies one
//! representative point per area (e.g. a point on surface or centroid). Unlike grid and H3 bins, area bins list
//! **every** area, including those without incidents (the set of areas is finite and analyses of areas must
//! include the zeros).
//!
//! Grid and H3 bins list only the locations with at least one event (an unbounded grid cannot list its empty
//! cells); bins are sorted by [`BinId`] so the output is deterministic. Events with non-finite coordinates or
//! that cannot be located (conversion failure, no area) are counted in [`Bins::unassigned`], never silently
//! dropped without trace.

use crate::area_level::AreaLevel;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use geo_types::{Coord, LineString, Polygon};
use h3o::{CellIndex, LatLng, Resolution};

use super::Event;

/// Errors of binning and of parsing bin specifications.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GridError {
    /// The bin specification string could not be parsed; `part` is the offending part.
    #[error("invalid bin specification {spec:?}: {reason} (at {part:?})")]
    InvalidSpec {
        /// The whole specification string.
        spec: String,
        /// The part of the string that is wrong.
        part: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A grid cell size must be a positive whole number of metres.
    #[error("grid cell size must be a positive number of metres, got {0}")]
    InvalidCellSize(u32),
    /// H3 resolution outside the supported range 7..=11.
    #[error("H3 resolution must be between 7 and 11, got {0}")]
    InvalidH3Resolution(u8),
    /// The chosen binning needs an input the caller did not supply.
    #[error("binning by {spec} needs {missing}")]
    MissingInput {
        /// The bin specification.
        spec: String,
        /// What is missing (e.g. "an RD -> WGS84 conversion").
        missing: &'static str,
    },
    /// Pre-converted positions do not match the events one to one.
    #[error("{positions} positions given for {events} events")]
    LengthMismatch {
        /// Number of events.
        events: usize,
        /// Number of positions.
        positions: usize,
    },
    /// A locator returned an area index outside the list of area centres.
    #[error("area locator returned index {index}, but only {n_areas} areas were given")]
    AreaIndexOutOfRange {
        /// The returned index.
        index: usize,
        /// The number of areas (length of the centres slice).
        n_areas: usize,
    },
}

/// How to bin incidents into locations. Parse from `grid:100`, `h3:9`, `buurt`, `wijk`, `gemeente`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinSpec {
    /// Square RD grid with this cell size in metres, aligned to multiples of the cell size.
    Grid {
        /// Cell edge length in metres (> 0).
        cell_m: u32,
    },
    /// H3 cells at this resolution (7..=11).
    H3 {
        /// H3 resolution.
        resolution: u8,
    },
    /// Administrative areas, assigned by a caller-supplied locator.
    Area(AreaLevel),
}

impl BinSpec {
    /// A square grid spec; errors for a zero cell size.
    pub fn grid(cell_m: u32) -> Result<Self, GridError> {
        if cell_m == 0 {
            return Err(GridError::InvalidCellSize(cell_m));
        }
        Ok(BinSpec::Grid { cell_m })
    }

    /// An H3 spec; errors outside resolutions 7..=11.
    pub fn h3(resolution: u8) -> Result<Self, GridError> {
        if !(7..=11).contains(&resolution) {
            return Err(GridError::InvalidH3Resolution(resolution));
        }
        Ok(BinSpec::H3 { resolution })
    }
}

impl fmt::Display for BinSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinSpec::Grid { cell_m } => write!(f, "grid:{cell_m}"),
            BinSpec::H3 { resolution } => write!(f, "h3:{resolution}"),
            BinSpec::Area(level) => f.write_str(level.as_str()),
        }
    }
}

impl FromStr for BinSpec {
    type Err = GridError;

    /// Parses `grid:<metres>`, `h3:<resolution>`, `buurt`, `wijk` or `gemeente` (case-insensitive, surrounding
    /// whitespace ignored). Errors name the offending part.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |part: &str, reason: &str| GridError::InvalidSpec {
            spec: s.to_string(),
            part: part.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = s.trim();
        let lower = trimmed.to_ascii_lowercase();
        let (kind, arg) = match lower.split_once(':') {
            Some((k, a)) => (k.trim(), Some(a.trim())),
            None => (lower.as_str(), None),
        };
        match (kind, arg) {
            ("grid", Some(a)) => {
                let cell_m: u32 = a
                    .parse()
                    .map_err(|_| err(a, "cell size must be a whole number of metres"))?;
                if cell_m == 0 {
                    return Err(err(a, "cell size must be positive"));
                }
                Ok(BinSpec::Grid { cell_m })
            }
            ("h3", Some(a)) => {
                let resolution: u8 = a
                    .parse()
                    .map_err(|_| err(a, "H3 resolution must be a number"))?;
                if !(7..=11).contains(&resolution) {
                    return Err(err(a, "H3 resolution must be between 7 and 11"));
                }
                Ok(BinSpec::H3 { resolution })
            }
            ("grid" | "h3", None) => Err(err(kind, "missing ':<value>'")),
            ("buurt", None) => Ok(BinSpec::Area(AreaLevel::Buurt)),
            ("wijk", None) => Ok(BinSpec::Area(AreaLevel::Wijk)),
            ("gemeente", None) => Ok(BinSpec::Area(AreaLevel::Gemeente)),
            ("buurt" | "wijk" | "gemeente", Some(a)) => Err(err(a, "area binning takes no value")),
            (k, _) => Err(err(
                k,
                "unknown binning; expected grid:<m>, h3:<res>, buurt, wijk or gemeente",
            )),
        }
    }
}

/// Identifier of one bin. Ordered (grid cells by cell size, then row, then column; H3 cells by index;
/// areas by index) so outputs are deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinId {
    /// Square grid cell: covers `[col*c, (col+1)*c) x [row*c, (row+1)*c)` in RD metres.
    Grid {
        /// Cell size `c` in metres.
        cell_m: u32,
        /// `floor(y / c)`.
        row: i64,
        /// `floor(x / c)`.
        col: i64,
    },
    /// H3 cell.
    H3(CellIndex),
    /// Index into the caller's list of areas.
    Area(usize),
}

impl BinId {
    /// The grid cell containing RD point `(x_m, y_m)`, or `None` for non-finite coordinates or a zero cell size.
    pub fn grid_cell(x_m: f64, y_m: f64, cell_m: u32) -> Option<BinId> {
        if !x_m.is_finite() || !y_m.is_finite() || cell_m == 0 {
            return None;
        }
        let c = f64::from(cell_m);
        Some(BinId::Grid {
            cell_m,
            row: (y_m / c).floor() as i64,
            col: (x_m / c).floor() as i64,
        })
    }

    /// Unique, stable text name: `c{cell}_{col}_{row}` for grid cells (e.g. `c100_1234_4567`), the 15-hex-digit
    /// H3 index for H3 cells, `area{index}` for areas.
    pub fn name(&self) -> String {
        match self {
            BinId::Grid { cell_m, row, col } => format!("c{cell_m}_{col}_{row}"),
            BinId::H3(cell) => cell.to_string(),
            BinId::Area(i) => format!("area{i}"),
        }
    }

    /// CBS vierkantstatistiek code `E{x}N{y}`: lower-left corner in hectometres, zero-padded to four digits
    /// (`E1234N4567`). `None` for non-grid bins, cell sizes that are not multiples of 100 m, and corners outside
    /// 0..=999,900 m.
    pub fn cbs_code(&self) -> Option<String> {
        match *self {
            BinId::Grid { cell_m, row, col } if cell_m % 100 == 0 => {
                let hm = i64::from(cell_m / 100);
                let (x_hm, y_hm) = (col.checked_mul(hm)?, row.checked_mul(hm)?);
                if (0..10_000).contains(&x_hm) && (0..10_000).contains(&y_hm) {
                    Some(format!("E{x_hm:04}N{y_hm:04}"))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Centre of a grid cell in RD metres (`None` for H3 and area bins; see [`h3_cell_centre_m`]).
    pub fn grid_centre_m(&self) -> Option<(f64, f64)> {
        match *self {
            BinId::Grid { cell_m, row, col } => {
                let c = f64::from(cell_m);
                Some(((col as f64 + 0.5) * c, (row as f64 + 0.5) * c))
            }
            _ => None,
        }
    }

    /// The square polygon of a grid cell in RD metres (counter-clockwise exterior, closed ring);
    /// `None` for H3 and area bins (see [`h3_cell_polygon_m`]).
    pub fn grid_polygon_m(&self) -> Option<Polygon<f64>> {
        match *self {
            BinId::Grid { cell_m, row, col } => {
                let c = f64::from(cell_m);
                let (x0, y0) = (col as f64 * c, row as f64 * c);
                let (x1, y1) = (x0 + c, y0 + c);
                Some(Polygon::new(
                    LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
                    vec![],
                ))
            }
            _ => None,
        }
    }
}

impl fmt::Display for BinId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The centre of an H3 cell in RD metres, converted with the caller's WGS84 `(lon, lat)` -> RD `(x_m, y_m)`
/// conversion.
pub fn h3_cell_centre_m(
    cell: CellIndex,
    to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
) -> Option<(f64, f64)> {
    let ll = LatLng::from(cell);
    to_rd(ll.lng(), ll.lat())
}

/// The boundary of an H3 cell as an RD polygon (vertices converted one by one with the caller's WGS84 -> RD
/// conversion; H3 edges are geodesic, at resolutions 7-11 the straight RD edge differs by far less than a metre).
pub fn h3_cell_polygon_m(
    cell: CellIndex,
    to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
) -> Option<Polygon<f64>> {
    let mut ring: Vec<Coord<f64>> = Vec::with_capacity(8);
    for ll in cell.boundary().iter() {
        let (x, y) = to_rd(ll.lng(), ll.lat())?;
        ring.push(Coord { x, y });
    }
    // geo_types closes the ring.
    Some(Polygon::new(LineString::from(ring), vec![]))
}

/// Locations with aggregated incident values: the input of Gi*, Local Moran's I and emerging hot spot analysis.
///
/// All vectors indexed by bin have the same length; bin `k` is `ids[k]` at `centres_m[k]` with `counts[k]`
/// events of summed weight `values[k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bins {
    /// How the bins were made.
    pub spec: BinSpec,
    /// Bin identifiers, sorted ascending (areas: in the caller's order).
    pub ids: Vec<BinId>,
    /// Representative point of each bin in RD metres (grid/H3: cell centre; area: the caller's point).
    pub centres_m: Vec<(f64, f64)>,
    /// Number of events in each bin.
    pub counts: Vec<u64>,
    /// Sum of the events' weights in each bin (equals `counts` for unit weights).
    pub values: Vec<f64>,
    /// For every input event (same order), the index of its bin in `ids`, or `None` when it was unassigned.
    pub event_bin: Vec<Option<usize>>,
    /// Number of events that could not be assigned (non-finite coordinates, failed conversion, no area).
    pub unassigned: usize,
}

impl Bins {
    /// Number of bins.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no bins.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Index of a bin by id (binary search for grid/H3 bins, direct for areas).
    pub fn index_of(&self, id: &BinId) -> Option<usize> {
        match (self.spec, id) {
            (BinSpec::Area(_), BinId::Area(i)) => (*i < self.ids.len()).then_some(*i),
            _ => self.ids.binary_search(id).ok(),
        }
    }
}

/// A coordinate conversion `(a, b) -> Option<(c, d)>` supplied by the caller (e.g. RD <-> WGS84 through PROJ).
pub type CoordConversion<'a> = &'a dyn Fn(f64, f64) -> Option<(f64, f64)>;

/// Caller-supplied inputs some binnings need (conversions, area locator); all optional.
#[derive(Clone, Copy, Default)]
pub struct BinInputs<'a> {
    /// RD `(x_m, y_m)` -> WGS84 `(lon, lat)` in degrees; needed for H3.
    pub rd_to_wgs84: Option<CoordConversion<'a>>,
    /// WGS84 `(lon, lat)` -> RD `(x_m, y_m)`; needed for H3 (cell centres).
    pub wgs84_to_rd: Option<CoordConversion<'a>>,
    /// RD `(x_m, y_m)` -> index of the area containing the point; needed for areas.
    pub area_locator: Option<&'a dyn Fn(f64, f64) -> Option<usize>>,
    /// One representative RD point per area (its length is the number of areas); needed for areas.
    pub area_centres_m: &'a [(f64, f64)],
}

/// Bins events according to `spec`, taking conversions / locator from `inputs` as the spec needs them.
pub fn bin_events(
    events: &[Event],
    spec: BinSpec,
    inputs: &BinInputs<'_>,
) -> Result<Bins, GridError> {
    match spec {
        BinSpec::Grid { cell_m } => bin_grid(events, cell_m),
        BinSpec::H3 { resolution } => {
            let missing = |what| GridError::MissingInput {
                spec: spec.to_string(),
                missing: what,
            };
            let to_wgs = inputs
                .rd_to_wgs84
                .ok_or_else(|| missing("an RD -> WGS84 conversion"))?;
            let to_rd = inputs
                .wgs84_to_rd
                .ok_or_else(|| missing("a WGS84 -> RD conversion"))?;
            bin_h3(events, resolution, to_wgs, to_rd)
        }
        BinSpec::Area(level) => {
            let locate = inputs.area_locator.ok_or_else(|| GridError::MissingInput {
                spec: spec.to_string(),
                missing: "an area locator",
            })?;
            bin_areas(events, level, inputs.area_centres_m, locate)
        }
    }
}

/// Collects per-event keys into sorted bins.
fn collect_sorted(
    spec: BinSpec,
    events: &[Event],
    keys: Vec<Option<BinId>>,
    centre: impl Fn(&BinId) -> Option<(f64, f64)>,
) -> Bins {
    let mut acc: BTreeMap<BinId, (u64, f64)> = BTreeMap::new();
    for (ev, key) in events.iter().zip(&keys) {
        if let Some(k) = key {
            let e = acc.entry(*k).or_insert((0, 0.0));
            e.0 += 1;
            e.1 += ev.weight;
        }
    }
    // Bins whose centre cannot be computed are dropped; their events become unassigned.
    let mut ids = Vec::with_capacity(acc.len());
    let mut centres_m = Vec::with_capacity(acc.len());
    let mut counts = Vec::with_capacity(acc.len());
    let mut values = Vec::with_capacity(acc.len());
    for (id, (n, w)) in acc {
        if let Some(c) = centre(&id) {
            ids.push(id);
            centres_m.push(c);
            counts.push(n);
            values.push(w);
        }
    }
    let event_bin: Vec<Option<usize>> = keys
        .iter()
        .map(|k| k.as_ref().and_then(|k| ids.binary_search(k).ok()))
        .collect();
    let unassigned = event_bin.iter().filter(|b| b.is_none()).count();
    Bins {
        spec,
        ids,
        centres_m,
        counts,
        values,
        event_bin,
        unassigned,
    }
}

/// Bins events into square RD grid cells of `cell_m` metres aligned to multiples of the cell size.
/// Only non-empty cells are listed.
pub fn bin_grid(events: &[Event], cell_m: u32) -> Result<Bins, GridError> {
    let spec = BinSpec::grid(cell_m)?;
    let keys = events
        .iter()
        .map(|e| BinId::grid_cell(e.x_m, e.y_m, cell_m))
        .collect();
    Ok(collect_sorted(spec, events, keys, BinId::grid_centre_m))
}

/// Bins events into H3 cells at `resolution` (7..=11). `rd_to_wgs84` maps RD `(x_m, y_m)` to `(lon, lat)`
/// degrees, `wgs84_to_rd` the reverse (used for the cell centres). Only non-empty cells are listed.
pub fn bin_h3(
    events: &[Event],
    resolution: u8,
    rd_to_wgs84: impl Fn(f64, f64) -> Option<(f64, f64)>,
    wgs84_to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
) -> Result<Bins, GridError> {
    let spec = BinSpec::h3(resolution)?;
    let res =
        Resolution::try_from(resolution).map_err(|_| GridError::InvalidH3Resolution(resolution))?;
    let keys = events
        .iter()
        .map(|e| {
            if !e.x_m.is_finite() || !e.y_m.is_finite() {
                return None;
            }
            let (lon, lat) = rd_to_wgs84(e.x_m, e.y_m)?;
            let ll = LatLng::new(lat, lon).ok()?;
            Some(BinId::H3(ll.to_cell(res)))
        })
        .collect();
    Ok(collect_sorted(spec, events, keys, |id| match id {
        BinId::H3(cell) => h3_cell_centre_m(*cell, &wgs84_to_rd),
        _ => None,
    }))
}

/// Like [`bin_h3`], with the events' WGS84 positions already converted by the caller (e.g. in one PROJ batch):
/// `lon_lat_deg[k]` is `(lon, lat)` in degrees of `events[k]`; non-finite or invalid positions are unassigned.
/// The slices must have the same length.
pub fn bin_h3_lonlat(
    events: &[Event],
    lon_lat_deg: &[(f64, f64)],
    resolution: u8,
    wgs84_to_rd: impl Fn(f64, f64) -> Option<(f64, f64)>,
) -> Result<Bins, GridError> {
    if lon_lat_deg.len() != events.len() {
        return Err(GridError::LengthMismatch {
            events: events.len(),
            positions: lon_lat_deg.len(),
        });
    }
    let spec = BinSpec::h3(resolution)?;
    let res =
        Resolution::try_from(resolution).map_err(|_| GridError::InvalidH3Resolution(resolution))?;
    let keys = lon_lat_deg
        .iter()
        .map(|&(lon, lat)| {
            let ll = LatLng::new(lat, lon).ok()?;
            Some(BinId::H3(ll.to_cell(res)))
        })
        .collect();
    Ok(collect_sorted(spec, events, keys, |id| match id {
        BinId::H3(cell) => h3_cell_centre_m(*cell, &wgs84_to_rd),
        _ => None,
    }))
}

/// Bins events into areas with the caller's locator (`Fn(x_m, y_m) -> Option<area index>`). Every area of
/// `area_centres_m` is listed (in that order, `BinId::Area(i)`), including empty ones. A locator result outside
/// `0..area_centres_m.len()` is an error.
pub fn bin_areas(
    events: &[Event],
    level: AreaLevel,
    area_centres_m: &[(f64, f64)],
    locate: impl Fn(f64, f64) -> Option<usize>,
) -> Result<Bins, GridError> {
    let n_areas = area_centres_m.len();
    let mut counts = vec![0u64; n_areas];
    let mut values = vec![0.0f64; n_areas];
    let mut event_bin = Vec::with_capacity(events.len());
    for e in events {
        let idx = if e.x_m.is_finite() && e.y_m.is_finite() {
            locate(e.x_m, e.y_m)
        } else {
            None
        };
        if let Some(i) = idx {
            if i >= n_areas {
                return Err(GridError::AreaIndexOutOfRange { index: i, n_areas });
            }
            counts[i] += 1;
            values[i] += e.weight;
        }
        event_bin.push(idx);
    }
    let unassigned = event_bin.iter().filter(|b| b.is_none()).count();
    Ok(Bins {
        spec: BinSpec::Area(level),
        ids: (0..n_areas).map(BinId::Area).collect(),
        centres_m: area_centres_m.to_vec(),
        counts,
        values,
        event_bin,
        unassigned,
    })
}

/// The index ranges of the entries of `sorted` (ordered by `(row, col)` as `key` gives them) with
/// `cols.0 <= col <= cols.1` and `rows.0 <= row <= rows.1`: one range per row of the window holding such entries,
/// south to north. Costs three binary searches per occupied row of the window, not the rows' full width.
///
/// ```
/// use brandpunt::analysis::grid::window_runs;
///
/// // (row, col) keys of occupied cells.
/// let keys = [(0, 0), (0, 5), (0, 9), (1, 4), (3, 5), (3, 6), (7, 5)];
/// let runs: Vec<_> = window_runs(&keys, |&k| k, (4, 6), (0, 3)).collect();
/// assert_eq!(runs, vec![1..2, 3..4, 4..6]);
/// ```
pub fn window_runs<'a, T>(
    sorted: &'a [T],
    key: impl Fn(&T) -> (i64, i64) + 'a,
    cols: (i64, i64),
    rows: (i64, i64),
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let mut at = sorted.partition_point(|e| key(e) < (rows.0, i64::MIN));
    std::iter::from_fn(move || loop {
        let row = key(sorted.get(at)?).0;
        if row > rows.1 {
            return None;
        }
        let lo = at + sorted[at..].partition_point(|e| key(e) < (row, cols.0));
        let hi = lo + sorted[lo..].partition_point(|e| key(e) <= (row, cols.1));
        at = hi + sorted[hi..].partition_point(|e| key(e).0 == row);
        if lo < hi {
            return Some(lo..hi);
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn window_runs_are_the_entries_inside_the_window() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut keys: Vec<(i64, i64)> = (0..600)
            .map(|_| (rng.gen_range(-20..20), rng.gen_range(-30..30)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for _ in 0..300 {
            let (c0, r0) = (rng.gen_range(-35..35), rng.gen_range(-25..25));
            let cols = (c0, c0 + rng.gen_range(-2..20));
            let rows = (r0, r0 + rng.gen_range(-2..12));
            let got: Vec<usize> = window_runs(&keys, |&k| k, cols, rows).flatten().collect();
            let want: Vec<usize> = (0..keys.len())
                .filter(|&k| {
                    let (row, col) = keys[k];
                    (rows.0..=rows.1).contains(&row) && (cols.0..=cols.1).contains(&col)
                })
                .collect();
            assert_eq!(got, want, "{cols:?} {rows:?}");
        }
    }

    use super::*;

    fn ev(x: f64, y: f64, w: f64) -> Event {
        Event {
            x_m: x,
            y_m: y,
            begin: None,
            end: None,
            weight: w,
        }
    }

    #[test]
    fn parse_specs() {
        assert_eq!(
            "grid:100".parse::<BinSpec>().unwrap(),
            BinSpec::Grid { cell_m: 100 }
        );
        assert_eq!(
            " H3:9 ".parse::<BinSpec>().unwrap(),
            BinSpec::H3 { resolution: 9 }
        );
        assert_eq!(
            "buurt".parse::<BinSpec>().unwrap(),
            BinSpec::Area(AreaLevel::Buurt)
        );
        assert_eq!(
            "Gemeente".parse::<BinSpec>().unwrap(),
            BinSpec::Area(AreaLevel::Gemeente)
        );
        for s in ["grid:500", "h3:7", "h3:11", "wijk", "buurt"] {
            assert_eq!(s.parse::<BinSpec>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn parse_errors_name_the_bad_part() {
        let part = |s: &str| match s.parse::<BinSpec>() {
            Err(GridError::InvalidSpec { part, .. }) => part,
            other => panic!("expected InvalidSpec for {s:?}, got {other:?}"),
        };
        assert_eq!(part("grid:abc"), "abc");
        assert_eq!(part("grid:0"), "0");
        assert_eq!(part("grid:-5"), "-5");
        assert_eq!(part("h3:12"), "12");
        assert_eq!(part("h3:6"), "6");
        assert_eq!(part("h3:x"), "x");
        assert_eq!(part("hex:9"), "hex");
        assert_eq!(part("grid"), "grid");
        assert_eq!(part("buurt:3"), "3");
        assert_eq!(part(""), "");
    }

    #[test]
    fn grid_cells_are_aligned_to_multiples() {
        // floor(x / c), floor(y / c); edges belong to the upper/right cell.
        assert_eq!(
            BinId::grid_cell(123_456.0, 456_789.0, 100),
            Some(BinId::Grid {
                cell_m: 100,
                row: 4567,
                col: 1234
            })
        );
        assert_eq!(
            BinId::grid_cell(123_400.0, 456_700.0, 100),
            Some(BinId::Grid {
                cell_m: 100,
                row: 4567,
                col: 1234
            })
        );
        assert_eq!(
            BinId::grid_cell(123_399.999, 456_699.999, 100),
            Some(BinId::Grid {
                cell_m: 100,
                row: 4566,
                col: 1233
            })
        );
        // Negative coordinates floor downwards.
        assert_eq!(
            BinId::grid_cell(-0.5, -100.0, 100),
            Some(BinId::Grid {
                cell_m: 100,
                row: -1,
                col: -1
            })
        );
        assert_eq!(BinId::grid_cell(f64::NAN, 0.0, 100), None);
        assert_eq!(BinId::grid_cell(0.0, 0.0, 0), None);
    }

    #[test]
    fn grid_names_centres_polygons() {
        let id = BinId::grid_cell(123_456.0, 456_789.0, 100).unwrap();
        assert_eq!(id.name(), "c100_1234_4567");
        assert_eq!(id.cbs_code().as_deref(), Some("E1234N4567"));
        assert_eq!(id.grid_centre_m(), Some((123_450.0, 456_750.0)));
        let id500 = BinId::grid_cell(123_456.0, 456_789.0, 500).unwrap();
        assert_eq!(id500.cbs_code().as_deref(), Some("E1230N4565"));
        assert_eq!(id500.grid_centre_m(), Some((123_250.0, 456_750.0)));
        assert_eq!(BinId::grid_cell(1.0, 1.0, 250).unwrap().cbs_code(), None);
        assert_eq!(BinId::grid_cell(-1.0, 1.0, 100).unwrap().cbs_code(), None);
        let poly = id.grid_polygon_m().unwrap();
        use geo::{Area, Contains};
        assert!((poly.signed_area() - 10_000.0).abs() < 1e-9);
        assert!(poly.contains(&geo_types::Point::new(123_456.0, 456_789.0)));
        assert!(!poly.contains(&geo_types::Point::new(123_556.0, 456_789.0)));
    }

    #[test]
    fn bin_grid_counts_and_weights() {
        let events = vec![
            ev(150.0, 150.0, 1.0),
            ev(199.0, 101.0, 2.0),
            ev(50.0, 50.0, 1.0),
            ev(f64::NAN, 50.0, 1.0),
            ev(250.0, 150.0, 0.5),
        ];
        let bins = bin_grid(&events, 100).unwrap();
        assert_eq!(bins.len(), 3);
        // Sorted by row then col: (0,0), (1,1), (1,2).
        assert_eq!(bins.ids[0].name(), "c100_0_0");
        assert_eq!(bins.ids[1].name(), "c100_1_1");
        assert_eq!(bins.ids[2].name(), "c100_2_1");
        assert_eq!(bins.counts, vec![1, 2, 1]);
        assert_eq!(bins.values, vec![1.0, 3.0, 0.5]);
        assert_eq!(bins.centres_m[1], (150.0, 150.0));
        assert_eq!(
            bins.event_bin,
            vec![Some(1), Some(1), Some(0), None, Some(2)]
        );
        assert_eq!(bins.unassigned, 1);
        assert_eq!(bins.index_of(&bins.ids[2]), Some(2));
        assert!(bin_grid(&events, 0).is_err());
    }

    #[test]
    fn bin_areas_lists_every_area() {
        let events = vec![ev(10.0, 0.0, 1.0), ev(20.0, 0.0, 1.0), ev(-5.0, 0.0, 1.0)];
        let centres = [(5.0, 0.0), (15.0, 0.0), (25.0, 0.0)];
        let locate = |x: f64, _y: f64| (x >= 0.0).then(|| (x / 10.0) as usize);
        let bins = bin_areas(&events, AreaLevel::Buurt, &centres, locate).unwrap();
        assert_eq!(bins.counts, vec![0, 1, 1]);
        assert_eq!(bins.event_bin, vec![Some(1), Some(2), None]);
        assert_eq!(bins.unassigned, 1);
        assert_eq!(bins.centres_m, centres.to_vec());
        let bad = bin_areas(&events, AreaLevel::Buurt, &centres[..2], locate);
        assert_eq!(
            bad,
            Err(GridError::AreaIndexOutOfRange {
                index: 2,
                n_areas: 2
            })
        );
        // Through the generic entry point, a missing locator is an error.
        assert!(matches!(
            bin_events(
                &events,
                BinSpec::Area(AreaLevel::Wijk),
                &BinInputs::default()
            ),
            Err(GridError::MissingInput { .. })
        ));
    }

    /// A crude equirectangular "RD" for the test: metres around (5.0 E, 52.0 N). Exact enough to check that H3
    /// cells are what h3o gives for the converted points and that centres go back through the inverse.
    fn fake_rd_to_wgs(x: f64, y: f64) -> Option<(f64, f64)> {
        let lat = 52.0 + y / 111_320.0;
        let lon = 5.0 + x / (111_320.0 * 52f64.to_radians().cos());
        Some((lon, lat))
    }
    fn fake_wgs_to_rd(lon: f64, lat: f64) -> Option<(f64, f64)> {
        Some((
            (lon - 5.0) * 111_320.0 * 52f64.to_radians().cos(),
            (lat - 52.0) * 111_320.0,
        ))
    }

    #[test]
    fn bin_h3_matches_h3o_cells() {
        let events: Vec<Event> = (0..50)
            .map(|i| ev(f64::from(i) * 37.0, f64::from(i % 7) * 53.0, 1.0))
            .collect();
        let bins = bin_h3(&events, 9, fake_rd_to_wgs, fake_wgs_to_rd).unwrap();
        assert_eq!(bins.counts.iter().sum::<u64>(), 50);
        for (e, b) in events.iter().zip(&bins.event_bin) {
            let (lon, lat) = fake_rd_to_wgs(e.x_m, e.y_m).unwrap();
            let want = LatLng::new(lat, lon).unwrap().to_cell(Resolution::Nine);
            assert_eq!(bins.ids[b.unwrap()], BinId::H3(want));
        }
        // Res 9 hexagons: ~0.1 km2, edge ~200 m; the centre is within one edge length of each member event.
        for (e, b) in events.iter().zip(&bins.event_bin) {
            let (cx, cy) = bins.centres_m[b.unwrap()];
            assert!(((e.x_m - cx).powi(2) + (e.y_m - cy).powi(2)).sqrt() < 220.0);
        }
        let poly = h3_cell_polygon_m(
            match bins.ids[0] {
                BinId::H3(c) => c,
                _ => unreachable!(),
            },
            fake_wgs_to_rd,
        )
        .unwrap();
        use geo::Area;
        let area = poly.unsigned_area();
        assert!((80_000.0..120_000.0).contains(&area), "res 9 area {area}");
        assert_eq!(
            bin_h3(&events, 12, fake_rd_to_wgs, fake_wgs_to_rd),
            Err(GridError::InvalidH3Resolution(12))
        );
        // Pre-converted positions give the same bins.
        let lonlat: Vec<(f64, f64)> = events
            .iter()
            .map(|e| fake_rd_to_wgs(e.x_m, e.y_m).unwrap())
            .collect();
        assert_eq!(
            bin_h3_lonlat(&events, &lonlat, 9, fake_wgs_to_rd).unwrap(),
            bins
        );
        assert_eq!(
            bin_h3_lonlat(&events, &lonlat[1..], 9, fake_wgs_to_rd),
            Err(GridError::LengthMismatch {
                events: 50,
                positions: 49
            })
        );
        let failing = bin_h3(&events, 9, |_, _| None, fake_wgs_to_rd).unwrap();
        assert_eq!(failing.unassigned, 50);
        assert!(failing.is_empty());
    }
}
