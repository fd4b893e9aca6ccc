//! The server's in-memory view of one tenant's data: areas (CBS levels and custom areas) with their geometry in
//! RD and Web Mercator, and the tenant's current incidents in a compact columnar form. Built from the store in one
//! go ([`Snapshot::load`]) and replaced as a whole when the data change, so every request sees one consistent
//! version (its [`Snapshot::generation`]).
//!
//! Counting for a filter is a scan over the compact incidents (about 1 ns per incident per level), cached per
//! filter by the server.

use super::filter::Filter;
use crate::coords::Transformer;
use crate::store::{AreaLevel, IncidentFilter, Store, StoreError};
use chrono::{NaiveDate, NaiveDateTime};
use geo::{BoundingRect, Contains, Simplify};
use geo_types::{Coord, LineString, MultiPolygon, Point, Polygon, Rect};
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree, AABB};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Level of an area in the snapshot: the CBS levels plus custom areas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Gemeente,
    Wijk,
    Buurt,
    Custom,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Gemeente, Level::Wijk, Level::Buurt, Level::Custom];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Gemeente => "gemeente",
            Level::Wijk => "wijk",
            Level::Buurt => "buurt",
            Level::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "custom" | "eigen" => Some(Level::Custom),
            other => AreaLevel::parse(other).map(Level::from),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl From<AreaLevel> for Level {
    fn from(l: AreaLevel) -> Self {
        match l {
            AreaLevel::Gemeente => Level::Gemeente,
            AreaLevel::Wijk => Level::Wijk,
            AreaLevel::Buurt => Level::Buurt,
        }
    }
}

/// One area as served.
#[derive(Debug)]
pub struct Area {
    /// Stable feature id: a hash of the code (the same area has the same id in every tile and every snapshot).
    pub feature_id: u64,
    pub level: Level,
    /// `BU03630000`, `WK036300`, `GM0363` or `custom:12`.
    pub code: String,
    pub name: String,
    pub wijkcode: Option<String>,
    pub gemeentecode: Option<String>,
    pub inhabitants: Option<i64>,
    /// RD New metres.
    pub geometry_rd: MultiPolygon<f64>,
    /// Web Mercator metres.
    pub geometry_m: MultiPolygon<f64>,
    pub bbox_m: Rect<f64>,
    /// `[minlon, minlat, maxlon, maxlat]`.
    pub bbox_wgs84: [f64; 4],
    simplified: Vec<OnceLock<MultiPolygon<f64>>>,
}

impl Area {
    /// The Web Mercator geometry simplified for drawing at zoom `z` (computed once per zoom).
    pub fn geometry_for_zoom(&self, z: u8) -> &MultiPolygon<f64> {
        let z = usize::from(z).min(self.simplified.len().saturating_sub(1));
        match self.simplified.get(z) {
            Some(cell) => cell.get_or_init(|| {
                simplify_keep_valid(
                    &self.geometry_m,
                    crate::tiles::simplify_tolerance_m(z as u8),
                )
            }),
            None => &self.geometry_m,
        }
    }
}

fn simplify_keep_valid(mp: &MultiPolygon<f64>, tolerance_m: f64) -> MultiPolygon<f64> {
    let s = mp.simplify(tolerance_m);
    // Douglas-Peucker can collapse small rings to fewer than four points: keep those rings as they were.
    MultiPolygon(
        s.0.into_iter()
            .zip(mp.0.iter())
            .map(|(p, orig)| {
                if p.exterior().0.len() < 4 {
                    orig.clone()
                } else {
                    let holes = p
                        .interiors()
                        .iter()
                        .filter(|h| h.0.len() >= 4)
                        .cloned()
                        .collect();
                    Polygon::new(p.exterior().clone(), holes)
                }
            })
            .collect(),
    )
}

/// One incident in compact form.
#[derive(Clone, Copy, Debug)]
pub struct Incident {
    pub id: i64,
    /// RD New metres (NaN when only a buurt is known).
    pub x_m: f64,
    pub y_m: f64,
    /// Web Mercator metres (NaN when unknown).
    pub merc_x: f64,
    pub merc_y: f64,
    /// Minutes since 1970-01-01T00:00 (local time as delivered).
    pub begin_min: i64,
    pub end_min: i64,
    /// Index into [`Snapshot::categories`] (`u16::MAX` = no category).
    pub category: u16,
    /// Index into [`Snapshot::sources`].
    pub source: u16,
    /// Index of the buurt in [`Snapshot::areas`] (`u32::MAX` = not in a known buurt).
    pub buurt: u32,
}

impl Incident {
    pub fn has_point(&self) -> bool {
        self.x_m.is_finite() && self.y_m.is_finite()
    }
    pub fn begin(&self) -> NaiveDateTime {
        minutes_to_datetime(self.begin_min)
    }
    pub fn end(&self) -> NaiveDateTime {
        minutes_to_datetime(self.end_min)
    }
}

pub fn datetime_to_minutes(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp().div_euclid(60)
}

pub fn minutes_to_datetime(m: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(m * 60, 0)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

pub fn day_start_minutes(d: NaiveDate) -> i64 {
    datetime_to_minutes(d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

type AreaEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// One consistent version of a tenant's data.
pub struct Snapshot {
    pub generation: u64,
    pub tenant: String,
    pub tenant_name: String,
    pub areas: Vec<Area>,
    by_code: HashMap<String, u32>,
    by_level: [Vec<u32>; 4],
    trees: [RTree<AreaEntry>; 4],
    /// Parent indices per buurt area index: (wijk, gemeente), `u32::MAX` when unknown.
    buurt_parents: HashMap<u32, (u32, u32)>,
    /// Sorted by `begin_min` (so a period is a contiguous range, see [`Snapshot::period_range`]).
    pub incidents: Vec<Incident>,
    /// Incidents (indices) inside each custom area, keyed by area index.
    custom_members: HashMap<u32, Vec<u32>>,
    pub categories: Vec<String>,
    pub sources: Vec<String>,
    /// First and last day on which an incident window begins.
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
}

/// Stable 64-bit id of an area code (FNV-1a, masked to 53 bits so JavaScript numbers hold it exactly).
pub fn feature_id(code: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in code.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h & ((1u64 << 53) - 1)
}

fn to_mercator(t: &Transformer, mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let ring = |ls: &LineString<f64>| {
        LineString::from(
            ls.0.iter()
                .map(|c| match t.rd_to_web_mercator(c.x, c.y) {
                    Ok((x, y)) => Coord { x, y },
                    Err(_) => Coord {
                        x: f64::NAN,
                        y: f64::NAN,
                    },
                })
                .collect::<Vec<_>>(),
        )
    };
    MultiPolygon(
        mp.0.iter()
            .map(|p| Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect()))
            .collect(),
    )
}

/// Errors building a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("coordinate transformation: {0}")]
    Coords(#[from] crate::coords::CoordError),
}

impl Snapshot {
    /// Read everything the server shows for `tenant` from the store.
    pub fn load(
        store: &dyn Store,
        tenant: &str,
        generation: u64,
    ) -> Result<Snapshot, SnapshotError> {
        let transformer = Transformer::new()?;
        let tenant_name = store
            .tenants()?
            .into_iter()
            .find(|(c, _)| c == tenant)
            .map(|(_, n)| n)
            .ok_or_else(|| StoreError::UnknownTenant(tenant.to_string()))?;
        // Shared reference data (CBS areas) are scoped to the tenant's gemeenten; none configured = all.
        let gemeenten = store.tenant_gemeenten(tenant)?;
        let mut areas = Vec::new();
        for level in [AreaLevel::Gemeente, AreaLevel::Wijk, AreaLevel::Buurt] {
            for a in store.areas(level, None)? {
                if !gemeenten.is_empty() && !gemeenten.contains(&a.gemeentecode) {
                    continue;
                }
                let code = a.code.clone();
                let gemeentecode = Some(a.gemeentecode.clone()).filter(|g| !g.is_empty());
                areas.push(build_area(
                    &transformer,
                    Level::from(level),
                    code,
                    a.name,
                    a.wijkcode,
                    gemeentecode,
                    a.inhabitants,
                    a.geometry,
                ));
            }
        }
        for c in store.custom_areas(tenant)? {
            areas.push(build_area(
                &transformer,
                Level::Custom,
                format!("custom:{}", c.id),
                c.name,
                None,
                None,
                None,
                c.geometry,
            ));
        }
        let stored = store.incidents(&IncidentFilter {
            tenant: tenant.to_string(),
            ..Default::default()
        })?;
        Ok(Self::assemble(
            generation,
            tenant,
            tenant_name,
            areas,
            stored,
            &transformer,
        ))
    }

    fn assemble(
        generation: u64,
        tenant: &str,
        tenant_name: String,
        areas: Vec<Area>,
        stored: Vec<crate::store::StoredIncident>,
        transformer: &Transformer,
    ) -> Snapshot {
        let mut by_code = HashMap::new();
        let mut by_level: [Vec<u32>; 4] = Default::default();
        let mut entries: [Vec<AreaEntry>; 4] = Default::default();
        for (i, a) in areas.iter().enumerate() {
            by_code.insert(a.code.clone(), i as u32);
            by_level[a.level.index()].push(i as u32);
            let (lo, hi) = (a.bbox_m.min(), a.bbox_m.max());
            if lo.x.is_finite() && hi.y.is_finite() {
                entries[a.level.index()].push(GeomWithData::new(
                    Rectangle::from_corners([lo.x, lo.y], [hi.x, hi.y]),
                    i as u32,
                ));
            }
        }
        let trees = entries.map(RTree::bulk_load);
        let mut buurt_parents = HashMap::new();
        for &i in &by_level[Level::Buurt.index()] {
            let a = &areas[i as usize];
            let w = a
                .wijkcode
                .as_ref()
                .and_then(|c| by_code.get(c))
                .copied()
                .unwrap_or(u32::MAX);
            let g = a
                .gemeentecode
                .as_ref()
                .and_then(|c| by_code.get(c))
                .copied()
                .unwrap_or(u32::MAX);
            buurt_parents.insert(i, (w, g));
        }

        let mut categories: Vec<String> = Vec::new();
        let mut category_idx: HashMap<String, u16> = HashMap::new();
        let mut sources: Vec<String> = Vec::new();
        let mut source_idx: HashMap<String, u16> = HashMap::new();
        let mut incidents = Vec::with_capacity(stored.len());
        let (mut first, mut last): (Option<NaiveDate>, Option<NaiveDate>) = (None, None);
        for s in stored {
            let category = match &s.category_code {
                Some(c) => *category_idx.entry(c.clone()).or_insert_with(|| {
                    categories.push(c.clone());
                    (categories.len() - 1) as u16
                }),
                None => u16::MAX,
            };
            let source = *source_idx.entry(s.source.clone()).or_insert_with(|| {
                sources.push(s.source.clone());
                (sources.len() - 1) as u16
            });
            let (x_m, y_m) = match (s.x_m, s.y_m) {
                (Some(x), Some(y)) => (x, y),
                _ => (f64::NAN, f64::NAN),
            };
            let (merc_x, merc_y) = if x_m.is_finite() {
                transformer
                    .rd_to_web_mercator(x_m, y_m)
                    .unwrap_or((f64::NAN, f64::NAN))
            } else {
                (f64::NAN, f64::NAN)
            };
            let buurt = s
                .buurtcode
                .as_ref()
                .and_then(|c| by_code.get(c))
                .copied()
                .unwrap_or(u32::MAX);
            let day = s.begin.date();
            first = Some(first.map_or(day, |f| f.min(day)));
            last = Some(last.map_or(day, |l| l.max(day)));
            incidents.push(Incident {
                id: s.id,
                x_m,
                y_m,
                merc_x,
                merc_y,
                begin_min: datetime_to_minutes(s.begin),
                end_min: datetime_to_minutes(s.end),
                category,
                source,
                buurt,
            });
        }
        incidents.sort_by_key(|i| (i.begin_min, i.id));
        let mut custom_members = HashMap::new();
        for &i in &by_level[Level::Custom.index()] {
            let a = &areas[i as usize];
            let bbox = a.geometry_rd.bounding_rect();
            let members: Vec<u32> = incidents
                .iter()
                .enumerate()
                .filter(|(_, inc)| {
                    inc.has_point()
                        && bbox.is_some_and(|b| {
                            inc.x_m >= b.min().x
                                && inc.x_m <= b.max().x
                                && inc.y_m >= b.min().y
                                && inc.y_m <= b.max().y
                        })
                        && a.geometry_rd.contains(&Point::new(inc.x_m, inc.y_m))
                })
                .map(|(k, _)| k as u32)
                .collect();
            custom_members.insert(i, members);
        }
        Snapshot {
            generation,
            tenant: tenant.to_string(),
            tenant_name,
            areas,
            by_code,
            by_level,
            trees,
            buurt_parents,
            incidents,
            custom_members,
            categories,
            sources,
            first_day: first,
            last_day: last,
        }
    }

    /// Index of the area with `code` (`BU...`, `WK...`, `GM...`, `custom:ID`).
    pub fn area_index(&self, code: &str) -> Option<u32> {
        self.by_code.get(code.trim()).copied()
    }

    pub fn area(&self, idx: u32) -> &Area {
        &self.areas[idx as usize]
    }

    /// Area indices of one level, in store order.
    pub fn level_areas(&self, level: Level) -> &[u32] {
        &self.by_level[level.index()]
    }

    /// Areas of `level` whose Web Mercator bounding box intersects `bbox_m`.
    pub fn areas_in(&self, level: Level, bbox_m: Rect<f64>) -> Vec<u32> {
        let env = AABB::from_corners(
            [bbox_m.min().x, bbox_m.min().y],
            [bbox_m.max().x, bbox_m.max().y],
        );
        let mut v: Vec<u32> = self.trees[level.index()]
            .locate_in_envelope_intersecting(&env)
            .map(|e| e.data)
            .collect();
        v.sort_unstable();
        v
    }

    /// Incidents matching `filter` counted per area of `level`, indexed like [`Snapshot::areas`] (areas of
    /// other levels count 0). Only located incidents count (CBS levels: those with a known buurt; custom areas:
    /// those with a point inside).
    pub fn counts(&self, level: Level, filter: &Filter) -> Vec<u32> {
        let mut counts = vec![0u32; self.areas.len()];
        match level {
            Level::Custom => {
                for (&area, members) in &self.custom_members {
                    counts[area as usize] = members
                        .iter()
                        .filter(|&&k| filter.matches(&self.incidents[k as usize]))
                        .count() as u32;
                }
            }
            _ => {
                for inc in &self.incidents[self.period_range(filter)] {
                    if inc.buurt == u32::MAX || !filter.matches(inc) {
                        continue;
                    }
                    let target = match level {
                        Level::Buurt => inc.buurt,
                        Level::Wijk => self.buurt_parents.get(&inc.buurt).map_or(u32::MAX, |p| p.0),
                        _ => self.buurt_parents.get(&inc.buurt).map_or(u32::MAX, |p| p.1),
                    };
                    if target != u32::MAX {
                        counts[target as usize] += 1;
                    }
                }
            }
        }
        counts
    }

    /// The index range of the incidents whose window begins in the filter's period.
    pub fn period_range(&self, filter: &Filter) -> std::ops::Range<usize> {
        let (begin, end) = filter.begin_range_min();
        let lo = self.incidents.partition_point(|i| i.begin_min < begin);
        let hi = self.incidents.partition_point(|i| i.begin_min < end);
        lo..hi.max(lo)
    }

    /// Indices of the incidents matching `filter` that lie in area `idx` (any level).
    pub fn incidents_in(&self, idx: u32, filter: &Filter) -> Vec<u32> {
        let area = self.area(idx);
        if area.level == Level::Custom {
            return self
                .custom_members
                .get(&idx)
                .map(|m| {
                    m.iter()
                        .copied()
                        .filter(|&k| filter.matches(&self.incidents[k as usize]))
                        .collect()
                })
                .unwrap_or_default();
        }
        self.incidents
            .iter()
            .enumerate()
            .filter(|(_, inc)| {
                inc.buurt != u32::MAX && filter.matches(inc) && {
                    match area.level {
                        Level::Buurt => inc.buurt == idx,
                        Level::Wijk => self
                            .buurt_parents
                            .get(&inc.buurt)
                            .is_some_and(|p| p.0 == idx),
                        _ => self
                            .buurt_parents
                            .get(&inc.buurt)
                            .is_some_and(|p| p.1 == idx),
                    }
                }
            })
            .map(|(k, _)| k as u32)
            .collect()
    }

    /// Incidents with a point matching `filter` (indices).
    pub fn located_incidents(&self, filter: &Filter) -> Vec<u32> {
        self.incidents
            .iter()
            .enumerate()
            .filter(|(_, inc)| inc.has_point() && filter.matches(inc))
            .map(|(k, _)| k as u32)
            .collect()
    }

    /// Category index of a code, if any incident has it.
    pub fn category_index(&self, code: &str) -> Option<u16> {
        self.categories
            .iter()
            .position(|c| c == code)
            .map(|i| i as u16)
    }

    pub fn source_index(&self, source: &str) -> Option<u16> {
        self.sources
            .iter()
            .position(|c| c == source)
            .map(|i| i as u16)
    }

    /// Bounding box of all CBS areas (or incidents when no boundaries are loaded), `[minlon, minlat, maxlon,
    /// maxlat]`; the Netherlands when empty.
    pub fn bbox_wgs84(&self) -> [f64; 4] {
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for a in self.areas.iter().filter(|a| a.level != Level::Custom) {
            b[0] = b[0].min(a.bbox_wgs84[0]);
            b[1] = b[1].min(a.bbox_wgs84[1]);
            b[2] = b[2].max(a.bbox_wgs84[2]);
            b[3] = b[3].max(a.bbox_wgs84[3]);
        }
        if b[0].is_finite() {
            b
        } else {
            [3.2, 50.7, 7.3, 53.6]
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build_area(
    t: &Transformer,
    level: Level,
    code: String,
    name: String,
    wijkcode: Option<String>,
    gemeentecode: Option<String>,
    inhabitants: Option<i64>,
    geometry_rd: MultiPolygon<f64>,
) -> Area {
    let geometry_m = to_mercator(t, &geometry_rd);
    let nan = Rect::new((f64::NAN, f64::NAN), (f64::NAN, f64::NAN));
    let bbox_m = geometry_m.bounding_rect().unwrap_or(nan);
    let (lon0, lat0) = crate::coords::web_mercator_to_wgs84(bbox_m.min().x, bbox_m.min().y);
    let (lon1, lat1) = crate::coords::web_mercator_to_wgs84(bbox_m.max().x, bbox_m.max().y);
    Area {
        feature_id: feature_id(&code),
        level,
        code,
        name,
        wijkcode,
        gemeentecode,
        inhabitants,
        geometry_rd,
        geometry_m,
        bbox_m,
        bbox_wgs84: [lon0, lat0, lon1, lat1],
        simplified: (0..=crate::tiles::MAX_ZOOM)
            .map(|_| OnceLock::new())
            .collect(),
    }
}
