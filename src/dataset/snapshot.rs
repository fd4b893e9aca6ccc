//! The in-memory view of one tenant's data: areas (CBS levels and custom areas) with their geometry in RD and
//! Web Mercator, and the tenant's current incidents in a compact form, sorted by begin in shared chunks
//! ([`SortedIncidents`]). Built in one go from plain records ([`Snapshot::build`] of a [`TenantData`]) or, in
//! parallel, from compact rows ([`Snapshot::build_table`] of a [`TenantTable`], which the store reads with
//! `Store::tenant_table`), and replaced as a whole when the data change, so every reader sees one consistent
//! version (its [`Snapshot::generation`]). A delivery that only adds or replaces incidents makes the next version
//! with [`Snapshot::apply`] of an [`IncidentDelta`] (read with `Store::incident_changes`) at the cost of the
//! delivery: the areas and everything derived from them, the incident chunks the delivery does not touch and the
//! point index's base are shared between the versions (`Arc`).
//!
//! Selecting incidents by a filter (counts per area, the incidents of an area) is in [`super::filter`]: a scan
//! over the compact incidents (about 1 ns per incident per level).

use super::area_stats::AreaStatsTable;
use super::incident_points::IncidentPoints;
use super::incident_table::{IncidentRow, IncidentTable, TenantTable};
use super::sorted_incidents::SortedIncidents;
use crate::area_level::AreaLevel;
use crate::cancel::{Cancel, Cancelled};
use crate::coords::Transformer;
use chrono::{NaiveDate, NaiveDateTime};
use geo::{BoundingRect, Contains, Simplify};
use geo_types::{Coord, LineString, MultiPolygon, Point, Polygon, Rect};
use rayon::prelude::*;
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree, AABB};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// One area as served.
#[derive(Debug)]
pub struct Area {
    /// Stable feature id: a hash of the code (the same area has the same id in every tile and every snapshot).
    pub feature_id: u64,
    pub level: AreaLevel,
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
    /// The incident as an analysis event: its position (RD metres, NaN when it has none) and time window,
    /// weight 1.
    pub fn event(&self) -> crate::analysis::Event {
        crate::analysis::Event {
            x_m: self.x_m,
            y_m: self.y_m,
            begin: Some(self.begin()),
            end: Some(self.end()),
            weight: 1.0,
        }
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
    /// The areas and everything derived from them alone (indexes, R-trees, hierarchy) are shared, unchanged,
    /// by the snapshots [`Snapshot::apply`] derives from this one.
    pub areas: Arc<Vec<Area>>,
    by_code: Arc<HashMap<String, u32>>,
    by_level: Arc<[Vec<u32>; 4]>,
    trees: Arc<[RTree<AreaEntry>; 4]>,
    /// Parent indices per buurt area index: (wijk, gemeente), `u32::MAX` when unknown.
    pub(super) buurt_parents: Arc<HashMap<u32, (u32, u32)>>,
    /// The CBS kerncijfers of the areas (rows indexed like `areas`), shared like them.
    pub area_stats: Arc<AreaStatsTable>,
    /// Sorted by `begin_min`, then id (so a period is a contiguous range of positions, see
    /// [`Snapshot::period_range`]), in chunks shared with the snapshots [`Snapshot::apply`] derives.
    pub incidents: SortedIncidents,
    /// The located incidents' RD points (ids: positions in `incidents`).
    points: IncidentPoints,
    /// Incidents (indices) inside each custom area, keyed by area index.
    pub(super) custom_members: HashMap<u32, Vec<u32>>,
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

/// One area of a tenant (CBS or custom) as plain data: what a snapshot derives its [`Area`] from.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantArea {
    pub level: AreaLevel,
    /// `BU03630000`, `WK036300`, `GM0363` or `custom:12`.
    pub code: String,
    pub name: String,
    /// The buurt's wijk.
    pub wijkcode: Option<String>,
    /// The buurt's or wijk's gemeente.
    pub gemeentecode: Option<String>,
    pub inhabitants: Option<i64>,
    /// The other numeric CBS statistics of the area (`store::AreaRecord::stats`); empty for custom areas.
    pub stats: BTreeMap<String, f64>,
    /// RD New metres.
    pub geometry_rd: MultiPolygon<f64>,
}

impl TenantArea {
    /// An area without parents or inhabitants.
    pub fn new(
        level: AreaLevel,
        code: &str,
        name: &str,
        geometry_rd: MultiPolygon<f64>,
    ) -> TenantArea {
        TenantArea {
            level,
            code: code.to_string(),
            name: name.to_string(),
            wijkcode: None,
            gemeentecode: None,
            inhabitants: None,
            stats: BTreeMap::new(),
            geometry_rd,
        }
    }
}

/// Everything a snapshot shows of one tenant, as plain records.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantData {
    /// Tenant code.
    pub code: String,
    pub name: String,
    /// CBS areas (gemeenten, wijken, buurten) and custom areas, in this order of levels. The store reads them
    /// with `Store::tenant_data`.
    pub areas: Vec<TenantArea>,
    pub incidents: Vec<IncidentRecord>,
}

/// One incident as plain data: what a snapshot keeps of it.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentRecord {
    pub id: i64,
    /// Where it was delivered from (`politie`, a municipal source).
    pub source: String,
    /// The window in which it happened (local time as delivered); `begin == end` when exact.
    pub begin: NaiveDateTime,
    pub end: NaiveDateTime,
    pub category_code: Option<String>,
    /// RD New metres, when located at a point.
    pub x_m: Option<f64>,
    pub y_m: Option<f64>,
    /// The buurt it lies in, when known.
    pub buurtcode: Option<String>,
}

/// Errors building a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("coordinate transformation: {0}")]
    Coords(#[from] crate::coords::CoordError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// What deliveries changed in a tenant's current incidents (the store reads it with `Store::incident_changes`):
/// [`Snapshot::apply`] turns a snapshot into the one of the changed data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IncidentDelta {
    /// Current incidents written since (new registrations and new versions), in any order. One the snapshot
    /// already holds (same id and begin) replaces it; the version a new one replaces is in `superseded`.
    pub written: Vec<IncidentRecord>,
    /// The versions that are no longer current: every version the snapshot may hold that a later delivery
    /// replaced, with the begin it had (the snapshot finds it by begin and id, without scanning its incidents).
    /// Versions the snapshot does not hold are ignored.
    pub superseded: Vec<SupersededVersion>,
}

/// A version of an incident that a later delivery replaced: its id and the begin of that version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SupersededVersion {
    pub id: i64,
    pub begin: NaiveDateTime,
}

impl IncidentDelta {
    /// Number of incidents written and superseded.
    pub fn len(&self) -> usize {
        self.written.len() + self.superseded.len()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Category and source codes -> their indices in a snapshot, extended as new codes appear.
struct Codes {
    categories: Vec<String>,
    category_idx: HashMap<String, u16>,
    sources: Vec<String>,
    source_idx: HashMap<String, u16>,
}

impl Codes {
    fn new(categories: Vec<String>, sources: Vec<String>) -> Codes {
        let index = |v: &[String]| -> HashMap<String, u16> {
            v.iter()
                .enumerate()
                .map(|(k, c)| (c.clone(), k as u16))
                .collect()
        };
        Codes {
            category_idx: index(&categories),
            source_idx: index(&sources),
            categories,
            sources,
        }
    }

    /// The compact form of `s` (its buurt looked up in `by_code`).
    fn incident(
        &mut self,
        s: IncidentRecord,
        by_code: &HashMap<String, u32>,
        transformer: &Transformer,
    ) -> Incident {
        let category = match &s.category_code {
            Some(c) => match self.category_idx.get(c) {
                Some(&k) => k,
                None => {
                    self.categories.push(c.clone());
                    let k = (self.categories.len() - 1) as u16;
                    self.category_idx.insert(c.clone(), k);
                    k
                }
            },
            None => u16::MAX,
        };
        let source = match self.source_idx.get(&s.source) {
            Some(&k) => k,
            None => {
                self.sources.push(s.source.clone());
                let k = (self.sources.len() - 1) as u16;
                self.source_idx.insert(s.source, k);
                k
            }
        };
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
        Incident {
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
        }
    }
}

/// First and last day on which an incident of `sorted` (by begin) begins.
fn day_range(sorted: &SortedIncidents) -> (Option<NaiveDate>, Option<NaiveDate>) {
    (
        sorted.first().map(|i| i.begin().date()),
        sorted.last().map(|i| i.begin().date()),
    )
}

/// Incidents sorted by begin with their category and source code tables.
type CompactIncidents = (Vec<Incident>, Vec<String>, Vec<String>);

/// Incidents converted per 16 k between checks of the cancellation token.
const CONVERT_STEP: usize = 1 << 14;

/// The snapshot form of `table`'s rows, sorted by begin (then id), with the category and source tables renumbered
/// in the order the codes first occur in that order: (incidents, categories, sources). Buurt codes are looked up
/// in `by_code`. Converts and sorts in parallel.
fn compact_incidents(
    table: IncidentTable,
    by_code: &HashMap<String, u32>,
    transformer: &Transformer,
    cancel: &Cancel,
) -> Result<CompactIncidents, Cancelled> {
    let (rows, categories, sources, buurtcodes) = table.into_parts();
    let buurt_area: Vec<u32> = buurtcodes
        .iter()
        .map(|c| by_code.get(c).copied().unwrap_or(u32::MAX))
        .collect();
    let convert = |r: &IncidentRow, t: Option<&Transformer>| {
        let (merc_x, merc_y) = match t {
            Some(t) if r.x_m.is_finite() => t
                .rd_to_web_mercator(r.x_m, r.y_m)
                .unwrap_or((f64::NAN, f64::NAN)),
            _ => (f64::NAN, f64::NAN),
        };
        Incident {
            id: r.id,
            x_m: r.x_m,
            y_m: r.y_m,
            merc_x,
            merc_y,
            begin_min: r.begin_min,
            end_min: r.end_min,
            category: r.category,
            source: r.source,
            buurt: buurt_area
                .get(r.buurt as usize)
                .copied()
                .unwrap_or(u32::MAX),
        }
    };
    let mut incidents: Vec<Incident> = Vec::with_capacity(rows.len());
    if rows.len() <= CONVERT_STEP {
        incidents.extend(rows.iter().map(|r| convert(r, Some(transformer))));
    } else {
        for chunk in rows.chunks(CONVERT_STEP * 8) {
            cancel.check()?;
            incidents.par_extend(chunk.par_iter().with_min_len(CONVERT_STEP / 4).map(|r| {
                crate::coords::with_thread_transformer(|t| convert(r, Some(t)))
                    .unwrap_or_else(|_| convert(r, None))
            }));
        }
    }
    drop(rows);
    cancel.check()?;
    incidents.par_sort_unstable_by_key(|i| (i.begin_min, i.id));
    cancel.check()?;
    // Codes numbered by first occurrence in begin order, whatever order the rows came in.
    let first_seen = |n: usize, code_of: &dyn Fn(&Incident) -> usize| -> Vec<usize> {
        let mut new_index = vec![usize::MAX; n];
        let mut next = 0;
        for i in &incidents {
            if next == n {
                break;
            }
            let c = code_of(i);
            if c < n && new_index[c] == usize::MAX {
                new_index[c] = next;
                next += 1;
            }
        }
        // Codes no incident uses (a table interns only what its rows hold, so none) come last.
        for to in new_index.iter_mut().filter(|to| **to == usize::MAX) {
            *to = next;
            next += 1;
        }
        new_index
    };
    let category_order = first_seen(categories.len(), &|i| usize::from(i.category));
    let source_order = first_seen(sources.len(), &|i| usize::from(i.source));
    let identity = |order: &[usize]| order.iter().enumerate().all(|(k, &to)| k == to);
    if !identity(&category_order) || !identity(&source_order) {
        let remap = |order: &[usize], c: u16| order.get(usize::from(c)).map_or(c, |&to| to as u16);
        incidents.par_iter_mut().for_each(|i| {
            if i.category != u16::MAX {
                i.category = remap(&category_order, i.category);
            }
            i.source = remap(&source_order, i.source);
        });
    }
    let reorder = |codes: Vec<String>, order: &[usize]| -> Vec<String> {
        let mut keyed: Vec<(usize, String)> = order.iter().copied().zip(codes).collect();
        keyed.sort_unstable_by_key(|(to, _)| *to);
        keyed.into_iter().map(|(_, c)| c).collect()
    };
    let categories = reorder(categories, &category_order);
    let sources = reorder(sources, &source_order);
    Ok((incidents, categories, sources))
}

impl Snapshot {
    /// The snapshot of `data`, numbered `generation`: Web Mercator geometry and bounding boxes of the areas,
    /// the area hierarchy (buurt -> wijk, gemeente by their codes), incidents sorted by the begin of their window,
    /// and the incidents inside each custom area.
    pub fn build(generation: u64, data: TenantData) -> Result<Snapshot, SnapshotError> {
        Self::build_table(generation, TenantTable::from(data), &Cancel::never())
    }

    /// As [`Snapshot::build`], of a tenant's data with its incidents compact (what a store reads with
    /// `Store::tenant_table`), in any order: equal to [`Snapshot::build`] of the same incidents as records.
    /// Category and source codes get their indices in the order they first occur in begin order (then id).
    ///
    /// Cost: the areas' transformation and the incidents' conversion (Web Mercator) run in parallel (rayon),
    /// as do the sort by begin and the point index's sort; no allocation per incident. Checks `cancel` every
    /// 16 k incidents of the conversion and between the passes.
    ///
    /// ```
    /// use brandpunt::cancel::Cancel;
    /// use brandpunt::dataset::{IncidentTable, Snapshot, TenantTable};
    ///
    /// let mut incidents = IncidentTable::default();
    /// incidents.push(2, "politie", 28_000_100, 28_000_100, Some("2.2.1"), Some((155_000.0, 463_000.0)), None)?;
    /// incidents.push(1, "politie", 28_000_000, 28_000_000, Some("1.1.1"), None, None)?;
    /// let data = TenantTable { code: "t".into(), name: "T".into(), areas: vec![], incidents };
    /// let s = Snapshot::build_table(1, data, &Cancel::never()).unwrap();
    /// assert_eq!(s.incidents.iter().map(|i| i.id).collect::<Vec<_>>(), [1, 2]);
    /// assert_eq!(s.categories, ["1.1.1", "2.2.1"]);
    /// # Ok::<(), brandpunt::dataset::IncidentTableError>(())
    /// ```
    pub fn build_table(
        generation: u64,
        data: TenantTable,
        cancel: &Cancel,
    ) -> Result<Snapshot, SnapshotError> {
        // One transformer here first: a PROJ set-up error shows as an error, not as NaN coordinates.
        let transformer = Transformer::new()?;
        let area_stats = AreaStatsTable::from_rows(data.areas.iter().map(|a| &a.stats));
        let areas = data
            .areas
            .into_par_iter()
            .map(|a| {
                crate::coords::with_thread_transformer(|t| {
                    build_area(
                        t,
                        a.level,
                        a.code,
                        a.name,
                        a.wijkcode,
                        a.gemeentecode,
                        a.inhabitants,
                        a.geometry_rd,
                    )
                })
            })
            .collect::<Result<Vec<Area>, _>>()?;
        cancel.check()?;
        Ok(Self::assemble(
            generation,
            &data.code,
            data.name,
            areas,
            area_stats,
            data.incidents,
            &transformer,
            cancel,
        )?)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        generation: u64,
        tenant: &str,
        tenant_name: String,
        areas: Vec<Area>,
        area_stats: AreaStatsTable,
        table: IncidentTable,
        transformer: &Transformer,
        cancel: &Cancel,
    ) -> Result<Snapshot, Cancelled> {
        let mut by_code = HashMap::new();
        let mut by_level: [Vec<u32>; 4] = Default::default();
        let mut entries: [Vec<AreaEntry>; 4] = Default::default();
        for (i, a) in areas.iter().enumerate() {
            by_code.insert(a.code.clone(), i as u32);
            by_level[a.level as usize].push(i as u32);
            let (lo, hi) = (a.bbox_m.min(), a.bbox_m.max());
            if lo.x.is_finite() && hi.y.is_finite() {
                entries[a.level as usize].push(GeomWithData::new(
                    Rectangle::from_corners([lo.x, lo.y], [hi.x, hi.y]),
                    i as u32,
                ));
            }
        }
        let trees = entries.map(RTree::bulk_load);
        let mut buurt_parents = HashMap::new();
        for &i in &by_level[AreaLevel::Buurt as usize] {
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

        let (incidents, categories, sources) =
            compact_incidents(table, &by_code, transformer, cancel)?;
        let incidents = SortedIncidents::from_sorted(incidents);
        cancel.check()?;
        let points = IncidentPoints::new(&incidents);
        cancel.check()?;
        let mut custom_members = HashMap::new();
        for &i in &by_level[AreaLevel::Custom as usize] {
            let a = &areas[i as usize];
            let Some(bbox) = a.geometry_rd.bounding_rect() else {
                custom_members.insert(i, Vec::new());
                continue;
            };
            let members: Vec<u32> = points
                .within(bbox, 0..incidents.len(), &incidents)
                .into_iter()
                .filter(|&k| {
                    let inc = &incidents[k as usize];
                    a.geometry_rd.contains(&Point::new(inc.x_m, inc.y_m))
                })
                .collect();
            custom_members.insert(i, members);
        }
        let (first_day, last_day) = day_range(&incidents);
        Ok(Snapshot {
            generation,
            tenant: tenant.to_string(),
            tenant_name,
            areas: Arc::new(areas),
            by_code: Arc::new(by_code),
            by_level: Arc::new(by_level),
            trees: Arc::new(trees),
            buurt_parents: Arc::new(buurt_parents),
            area_stats: Arc::new(area_stats),
            incidents,
            points,
            custom_members,
            categories,
            sources,
            first_day,
            last_day,
        })
    }

    /// The snapshot of this one's data changed by `delta`, numbered `generation`: equal to [`Snapshot::build`]
    /// of the changed data (the same incidents in the same order, the same point index answers and custom area
    /// members), except that category and source codes new to the tenant get the next indices rather than
    /// their place in begin order. The areas, their geometry, R-trees and hierarchy are shared with this
    /// snapshot, not copied or transformed again; only the delta's incidents are converted.
    ///
    /// Cost: the delta's incidents (conversion, sort, custom area tests), the chunks of incidents they touch
    /// (about 4 k incidents each; untouched chunks are shared with this snapshot), the changes accumulated in
    /// the point index since it was last rebuilt (rebuilt when they exceed a sixteenth of the incidents) and the
    /// custom areas' members; the leaving versions are found by binary search on their begin and id. No pass
    /// over, copy, hashing, transforming or sorting of unchanged incidents. Checks `cancel` between these steps.
    ///
    /// Incidents removed otherwise than by a delivery (retention; a store may then hand a removed id out again)
    /// are not in a delta: the snapshot keeps them, and its count tells the caller to rebuild (the server
    /// compares it with [`crate::store::IncidentChanges::current`]).
    ///
    /// ```
    /// use brandpunt::area_level::AreaLevel;
    /// use brandpunt::cancel::Cancel;
    /// use brandpunt::dataset::{IncidentDelta, IncidentRecord, Snapshot, SupersededVersion, TenantData};
    ///
    /// let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(22, 0, 0).unwrap();
    /// let record = |id| IncidentRecord {
    ///     id,
    ///     source: "politie".into(),
    ///     begin: at,
    ///     end: at,
    ///     category_code: Some("1.1.1".into()),
    ///     x_m: Some(155_000.0),
    ///     y_m: Some(463_000.0),
    ///     buurtcode: None,
    /// };
    /// let data = TenantData { code: "t".into(), name: "T".into(), areas: vec![], incidents: vec![record(1)] };
    /// let s = Snapshot::build(1, data).unwrap();
    /// // Registration 1 got a new version (id 3) and registration 2 arrived.
    /// let delta = IncidentDelta {
    ///     written: vec![record(3), record(2)],
    ///     superseded: vec![SupersededVersion { id: 1, begin: at }],
    /// };
    /// let next = s.apply(2, delta, &Cancel::never()).unwrap();
    /// assert_eq!(next.incidents.iter().map(|i| i.id).collect::<Vec<_>>(), [2, 3]);
    /// assert_eq!(next.generation, 2);
    /// assert!(std::sync::Arc::ptr_eq(&s.areas, &next.areas));
    /// ```
    pub fn apply(
        &self,
        generation: u64,
        delta: IncidentDelta,
        cancel: &Cancel,
    ) -> Result<Snapshot, SnapshotError> {
        let mut codes = Codes::new(self.categories.clone(), self.sources.clone());
        // Positions leaving, found by (begin, id): the superseded versions this snapshot holds, and the written
        // versions it already holds (read with data committed after its mark).
        let versions = delta
            .superseded
            .iter()
            .map(|v| (v.begin, v.id))
            .chain(delta.written.iter().map(|r| (r.begin, r.id)));
        let mut removed: Vec<u32> = versions
            .filter_map(|(begin, id)| {
                let k = self.incidents.position(datetime_to_minutes(begin), id)?;
                u32::try_from(k).ok()
            })
            .collect();
        removed.sort_unstable();
        removed.dedup();
        // This thread's transformer: PROJ's set-up (a `proj.db` query) once per thread, not once per delivery.
        let mut added: Vec<Incident> = crate::coords::with_thread_transformer(|t| {
            delta
                .written
                .into_iter()
                .map(|r| codes.incident(r, &self.by_code, t))
                .collect()
        })?;
        added.sort_by_key(|i| (i.begin_min, i.id));
        cancel.check()?;
        // `shift` maps this snapshot's positions to the next one's; `added` lands at `shift.inserted()`.
        let (incidents, shift) = self.incidents.changed(&removed, added.clone());
        cancel.check()?;
        let points = self.points.changed(&self.incidents, &incidents, &shift);
        cancel.check()?;

        let mut custom_members = HashMap::with_capacity(self.custom_members.len());
        for (&area, members) in &self.custom_members {
            let geometry = &self.area(area).geometry_rd;
            let mut next: Vec<u32> = if shift.is_identity() {
                members.clone()
            } else {
                members.iter().filter_map(|&k| shift.map(k)).collect()
            };
            let before = next.len();
            next.extend(shift.inserted().iter().zip(&added).filter_map(|(&k, a)| {
                (a.has_point() && geometry.contains(&Point::new(a.x_m, a.y_m))).then_some(k)
            }));
            if next.len() > before {
                next.sort_unstable();
            }
            custom_members.insert(area, next);
        }
        let (first_day, last_day) = day_range(&incidents);
        Ok(Snapshot {
            generation,
            tenant: self.tenant.clone(),
            tenant_name: self.tenant_name.clone(),
            areas: self.areas.clone(),
            by_code: self.by_code.clone(),
            by_level: self.by_level.clone(),
            trees: self.trees.clone(),
            buurt_parents: self.buurt_parents.clone(),
            area_stats: self.area_stats.clone(),
            incidents,
            points,
            custom_members,
            categories: codes.categories,
            sources: codes.sources,
            first_day,
            last_day,
        })
    }

    /// The RD bounding box of the located incidents; `None` without any.
    pub fn incident_bounds_rd(&self) -> Option<Rect<f64>> {
        self.points.bounds()
    }

    /// The located incidents whose RD point lies in `window_rd` (edges included): indices into
    /// [`Snapshot::incidents`], ascending. Costs the incidents near the window, not all of them.
    pub fn incidents_within(&self, window_rd: Rect<f64>) -> Vec<u32> {
        self.incidents_within_range(window_rd, 0..self.incidents.len())
    }

    /// As [`Snapshot::incidents_within`], only the positions in `positions` (such as a filter's
    /// [`Snapshot::period_range`]): positions outside it are dropped before they are sorted or read.
    pub fn incidents_within_range(
        &self,
        window_rd: Rect<f64>,
        positions: Range<usize>,
    ) -> Vec<u32> {
        self.points.within(window_rd, positions, &self.incidents)
    }

    /// Whether an address lies in area `idx`: for the CBS levels by the address's buurt (`buurtcode`), for a
    /// custom area by its point (`x_m`, `y_m`, RD metres).
    pub fn holds_address(&self, idx: u32, buurtcode: Option<&str>, x_m: f64, y_m: f64) -> bool {
        let area = self.area(idx);
        if area.level == AreaLevel::Custom {
            return area.geometry_rd.bounding_rect().is_some_and(|b| {
                x_m >= b.min().x && x_m <= b.max().x && y_m >= b.min().y && y_m <= b.max().y
            }) && area.geometry_rd.contains(&geo_types::Point::new(x_m, y_m));
        }
        let Some(buurt) = buurtcode.and_then(|c| self.area_index(c)) else {
            return false;
        };
        let b = self.area(buurt);
        match area.level {
            AreaLevel::Buurt => buurt == idx,
            AreaLevel::Wijk => b.wijkcode.as_deref() == Some(area.code.as_str()),
            _ => b.gemeentecode.as_deref() == Some(area.code.as_str()),
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
    pub fn level_areas(&self, level: AreaLevel) -> &[u32] {
        &self.by_level[level as usize]
    }

    /// Areas of `level` whose Web Mercator bounding box intersects `bbox_m`.
    pub fn areas_in(&self, level: AreaLevel, bbox_m: Rect<f64>) -> Vec<u32> {
        let env = AABB::from_corners(
            [bbox_m.min().x, bbox_m.min().y],
            [bbox_m.max().x, bbox_m.max().y],
        );
        let mut v: Vec<u32> = self.trees[level as usize]
            .locate_in_envelope_intersecting(&env)
            .map(|e| e.data)
            .collect();
        v.sort_unstable();
        v
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
        for a in self.areas.iter().filter(|a| a.level != AreaLevel::Custom) {
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
    level: AreaLevel,
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const X0: f64 = 155_000.0;
    const Y0: f64 = 463_000.0;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        Rect::new((X0 + x0, Y0 + y0), (X0 + x1, Y0 + y1))
            .to_polygon()
            .into()
    }

    fn incident(
        id: i64,
        (month, day): (u32, u32),
        code: &str,
        point: Option<(f64, f64)>,
        buurt: Option<&str>,
    ) -> IncidentRecord {
        let at = NaiveDate::from_ymd_opt(2024, month, day)
            .and_then(|d| d.and_hms_opt(21, 30, 0))
            .unwrap();
        IncidentRecord {
            id,
            source: "politie".into(),
            begin: at,
            end: at,
            category_code: Some(code.into()),
            x_m: point.map(|p| X0 + p.0),
            y_m: point.map(|p| Y0 + p.1),
            buurtcode: buurt.map(str::to_string),
        }
    }

    /// A gemeente with one wijk of two buurten (west and east half), a custom area around two incidents, and six
    /// incidents from January to April 2024: one without a point (but with a buurt), one without a buurt.
    pub(in crate::dataset) fn town() -> Snapshot {
        Snapshot::build(7, town_data()).unwrap()
    }

    /// The data of [`town`].
    fn town_data() -> TenantData {
        let buurt = |code: &str, name: &str, x0: f64| TenantArea {
            wijkcode: Some("WK999900".into()),
            gemeentecode: Some("GM9999".into()),
            inhabitants: Some(500),
            ..TenantArea::new(
                AreaLevel::Buurt,
                code,
                name,
                square(x0, 0.0, x0 + 1000.0, 1000.0),
            )
        };
        let areas = vec![
            TenantArea::new(
                AreaLevel::Gemeente,
                "GM9999",
                "Proefstad",
                square(0.0, 0.0, 2000.0, 1000.0),
            ),
            TenantArea {
                gemeentecode: Some("GM9999".into()),
                ..TenantArea::new(
                    AreaLevel::Wijk,
                    "WK999900",
                    "Centrum",
                    square(0.0, 0.0, 2000.0, 1000.0),
                )
            },
            buurt("BU99990001", "West", 0.0),
            buurt("BU99990002", "Oost", 1000.0),
            TenantArea::new(
                AreaLevel::Custom,
                "custom:1",
                "Plein",
                square(50.0, 50.0, 250.0, 250.0),
            ),
        ];
        let incidents = vec![
            incident(6, (4, 2), "1.1.1", Some((5000.0, 5000.0)), None),
            incident(
                1,
                (1, 10),
                "1.1.1",
                Some((100.0, 100.0)),
                Some("BU99990001"),
            ),
            incident(
                2,
                (2, 5),
                "2.2.1",
                Some((1500.0, 500.0)),
                Some("BU99990002"),
            ),
            incident(3, (3, 1), "1.1.1", Some((200.0, 200.0)), Some("BU99990001")),
            incident(
                4,
                (3, 15),
                "1.1.1",
                Some((1200.0, 300.0)),
                Some("BU99990002"),
            ),
            incident(5, (3, 31), "2.2.1", None, Some("BU99990001")),
        ];
        TenantData {
            code: "proef".into(),
            name: "Proefstad".into(),
            areas,
            incidents,
        }
    }

    /// Everything a reader sees of a snapshot's incidents, codes instead of indices.
    #[allow(clippy::type_complexity)]
    fn incident_view(
        s: &Snapshot,
    ) -> Vec<(i64, i64, i64, [u64; 4], Option<&str>, &str, Option<&str>)> {
        s.incidents
            .iter()
            .map(|i| {
                (
                    i.id,
                    i.begin_min,
                    i.end_min,
                    [i.x_m, i.y_m, i.merc_x, i.merc_y].map(f64::to_bits),
                    s.categories
                        .get(usize::from(i.category))
                        .map(String::as_str),
                    s.sources[usize::from(i.source)].as_str(),
                    (i.buurt != u32::MAX).then(|| s.area(i.buurt).code.as_str()),
                )
            })
            .collect()
    }

    /// `got` (an applied snapshot) answers like `want` (built from the same data): incidents in the same order,
    /// counts per area for several filters, the incidents of every area, point index windows and bounds.
    fn assert_same_answers(got: &Snapshot, want: &Snapshot) {
        use crate::dataset::Filter;
        assert_eq!(incident_view(got), incident_view(want));
        assert_eq!(
            (got.first_day, got.last_day),
            (want.first_day, want.last_day)
        );
        let mut cats = (got.categories.clone(), want.categories.clone());
        cats.0.sort();
        cats.1.sort();
        assert_eq!(cats.0, cats.1);
        let day = |m, d| NaiveDate::from_ymd_opt(2024, m, d);
        let filters = |s: &Snapshot| {
            vec![
                Filter::all(s),
                Filter::new(s, vec!["1.1.1".into()], vec![], None, None),
                Filter::new(s, vec!["3.3.3".into(), "2.2.1".into()], vec![], None, None),
                Filter::new(s, vec![], vec!["gemeente".into()], None, None),
                Filter::new(s, vec![], vec![], day(2, 1), day(3, 20)),
            ]
        };
        for (fg, fw) in filters(got).iter().zip(filters(want).iter()) {
            for level in AreaLevel::ALL {
                assert_eq!(got.counts(level, fg), want.counts(level, fw), "{level:?}");
            }
            for idx in 0..got.areas.len() as u32 {
                assert_eq!(got.incidents_in(idx, fg), want.incidents_in(idx, fw));
            }
            assert_eq!(got.located_incidents(fg), want.located_incidents(fw));
        }
        for (x0, y0, x1, y1) in [
            (0.0, 0.0, 1000.0, 1000.0),
            (150.0, 150.0, 1600.0, 600.0),
            (-1e6, -1e6, 1e6, 1e6),
            (4000.0, 4000.0, 6000.0, 6000.0),
        ] {
            let w = Rect::new((X0 + x0, Y0 + y0), (X0 + x1, Y0 + y1));
            assert_eq!(got.incidents_within(w), want.incidents_within(w), "{w:?}");
            // A position range keeps exactly the positions of the whole window's answer inside it.
            let period = Filter::new(got, vec![], vec![], day(2, 1), day(3, 20));
            let range = got.period_range(&period);
            let all = got.incidents_within(w);
            let kept: Vec<u32> = all
                .iter()
                .copied()
                .filter(|&p| range.contains(&(p as usize)))
                .collect();
            assert_eq!(got.incidents_within_range(w, range.clone()), kept, "{w:?}");
            assert_eq!(want.incidents_within_range(w, range), kept, "{w:?}");
        }
        assert_eq!(got.incident_bounds_rd(), want.incident_bounds_rd());
    }

    /// The incidents of `data` less the `superseded` versions, plus `written`.
    fn changed(mut data: TenantData, delta: &IncidentDelta) -> TenantData {
        data.incidents.retain(|i| {
            !delta.superseded.contains(&SupersededVersion {
                id: i.id,
                begin: i.begin,
            })
        });
        data.incidents.extend(delta.written.iter().cloned());
        data
    }

    /// The versions of `ids` as `data` holds them; an id it does not hold gets a begin of its own.
    fn versions(data: &TenantData, ids: impl IntoIterator<Item = i64>) -> Vec<SupersededVersion> {
        ids.into_iter()
            .map(|id| SupersededVersion {
                id,
                begin: data
                    .incidents
                    .iter()
                    .find(|i| i.id == id)
                    .map_or_else(|| minutes_to_datetime(28_000_000), |i| i.begin),
            })
            .collect()
    }

    #[test]
    fn apply_equals_build_of_the_changed_data() {
        let before = town();
        let mut new_source = incident(12, (1, 2), "3.3.3", Some((1900.0, 900.0)), None);
        new_source.source = "gemeente".into();
        let delta = IncidentDelta {
            written: vec![
                // A new version of 3 (id 3 superseded), moved out of the custom area and later.
                incident(
                    9,
                    (3, 20),
                    "1.1.1",
                    Some((1300.0, 700.0)),
                    Some("BU99990002"),
                ),
                // New registrations: into the custom area, without a point, the new first and last day.
                incident(10, (2, 5), "2.2.1", Some((60.0, 240.0)), Some("BU99990001")),
                incident(11, (5, 1), "1.1.1", None, Some("BU99990002")),
                new_source,
                // A new version of 4 that got the same id (the store deletes the old row and inserts the new one,
                // which can get the id again).
                incident(
                    4,
                    (3, 16),
                    "2.2.1",
                    Some((100.0, 900.0)),
                    Some("BU99990001"),
                ),
            ],
            // 6 superseded by 11, 3 by 9, 4 by 4; 42 is not in the snapshot, nor is 5 with another begin.
            superseded: [
                versions(&town_data(), [3, 6, 42, 4]),
                vec![SupersededVersion {
                    id: 5,
                    begin: minutes_to_datetime(28_000_000),
                }],
            ]
            .concat(),
        };
        let want = Snapshot::build(8, changed(town_data(), &delta)).unwrap();
        let got = before.apply(8, delta.clone(), &Cancel::never()).unwrap();
        assert_eq!(got.generation, 8);
        assert!(Arc::ptr_eq(&before.areas, &got.areas));
        assert_same_answers(&got, &want);
        assert_eq!(got.first_day, NaiveDate::from_ymd_opt(2024, 1, 2));
        assert_eq!(got.last_day, NaiveDate::from_ymd_opt(2024, 5, 1));
        // The old snapshot is untouched.
        assert_same_answers(&before, &town());
        // Applying the same delta again (a snapshot read after part of it committed) changes nothing more.
        let again = got.apply(9, delta, &Cancel::never()).unwrap();
        assert_same_answers(&again, &want);
        // An empty delta keeps everything.
        let same = before
            .apply(10, IncidentDelta::default(), &Cancel::never())
            .unwrap();
        assert_same_answers(&same, &before);
    }

    #[test]
    fn apply_equals_build_for_many_incidents_in_shared_buckets() {
        // 3,000 incidents over 4 x 2 km (a few per 500 m bucket), then deliveries replacing and adding some.
        let scatter = |k: u32| {
            let x = f64::from(k.wrapping_mul(2_654_435_761) % 4_000);
            let y = f64::from(k.wrapping_mul(40_503) % 2_000) - 500.0;
            let (m, d) = (1 + k % 4, 1 + k % 28);
            let buurt = ["BU99990001", "BU99990002"][(k % 3).min(1) as usize];
            let point = (k % 17 != 0).then_some((x, y));
            incident(
                i64::from(k),
                (m, d),
                ["1.1.1", "2.2.1"][(k % 2) as usize],
                point,
                Some(buurt),
            )
        };
        let mut data = town_data();
        data.incidents = (100..3_100).map(scatter).collect();
        let mut snapshot = Snapshot::build(1, data.clone()).unwrap();
        let mut next_id: u32 = 3_100;
        for round in 0..3u32 {
            let written: Vec<IncidentRecord> = (0..200)
                .map(|k| {
                    let mut w = scatter((next_id + k) * 7 + round);
                    w.id = i64::from(next_id + k);
                    w
                })
                .collect();
            next_id += 200;
            let superseded = versions(
                &data,
                (0..150).map(|k| 100 + (k * 19 + i64::from(round) * 7) % 3_000),
            );
            let delta = IncidentDelta {
                written,
                superseded,
            };
            data = changed(data, &delta);
            snapshot = snapshot
                .apply(u64::from(round) + 2, delta, &Cancel::never())
                .unwrap();
            let want = Snapshot::build(u64::from(round) + 2, data.clone()).unwrap();
            assert_same_answers(&snapshot, &want);
        }
    }

    /// 3,000 incidents over 4 x 2 km (a few per 500 m bucket), every 17th without a point.
    fn scattered(k: u32) -> IncidentRecord {
        let x = f64::from(k.wrapping_mul(2_654_435_761) % 4_000);
        let y = f64::from(k.wrapping_mul(40_503) % 2_000) - 500.0;
        let (m, d) = (1 + k % 4, 1 + k % 28);
        let buurt = ["BU99990001", "BU99990002"][(k % 3).min(1) as usize];
        let point = (k % 17 != 0).then_some((x, y));
        incident(
            i64::from(k),
            (m, d),
            ["1.1.1", "2.2.1"][(k % 2) as usize],
            point,
            Some(buurt),
        )
    }

    #[test]
    fn many_small_deliveries_then_a_large_one_equal_builds() {
        // Small deliveries accumulate in the point index (no rebuild); the large one rebuilds it. Each round
        // supersedes the incidents at the edges of the located points (the bounds shrink) and some delivered in
        // the rounds before (changes since the point index's base leave again).
        let mut data = town_data();
        data.incidents = (100..3_100).map(scattered).collect();
        let mut snapshot = Snapshot::build(1, data.clone()).unwrap();
        let mut next_id: u32 = 3_100;
        for round in 0..14u32 {
            let size = if round == 12 { 2_000 } else { 25 };
            let written: Vec<IncidentRecord> = (0..size)
                .map(|k| {
                    let mut w = scattered((next_id + k) * 7 + round);
                    w.id = i64::from(next_id + k);
                    w
                })
                .collect();
            let located = |i: &&IncidentRecord| i.x_m.is_some();
            let edge = |key: fn(&IncidentRecord) -> f64| {
                data.incidents
                    .iter()
                    .filter(located)
                    .max_by(|a, b| key(a).total_cmp(&key(b)))
                    .map(|i| i.id)
            };
            let mut superseded: Vec<i64> = [
                edge(|i| i.x_m.unwrap_or(0.0)),
                edge(|i| -i.x_m.unwrap_or(0.0)),
                edge(|i| i.y_m.unwrap_or(0.0)),
                edge(|i| -i.y_m.unwrap_or(0.0)),
            ]
            .into_iter()
            .flatten()
            .collect();
            superseded.extend((0..10).map(|k| 100 + (k * 293 + i64::from(round) * 11) % 3_000));
            if round > 0 {
                // Some of the last round's deliveries.
                superseded.extend((0..5).map(|k| i64::from(next_id) - 1 - k * 3));
            }
            next_id += size;
            let delta = IncidentDelta {
                written,
                superseded: versions(&data, superseded),
            };
            data = changed(data, &delta);
            snapshot = snapshot
                .apply(u64::from(round) + 2, delta, &Cancel::never())
                .unwrap();
            let want = Snapshot::build(u64::from(round) + 2, data.clone()).unwrap();
            assert_same_answers(&snapshot, &want);
        }
    }

    #[test]
    fn build_table_equals_build_whatever_the_row_order() {
        let mut data = town_data();
        data.incidents = (100..40_100).map(scattered).collect();
        let want = Snapshot::build(3, data.clone()).unwrap();
        // The rows reversed, as a store might read them, and converted in parallel (more than 16 k).
        data.incidents.reverse();
        let got = Snapshot::build_table(3, TenantTable::from(data), &Cancel::never()).unwrap();
        assert_same_answers(&got, &want);
        assert_eq!(got.categories, want.categories);
        assert_eq!(got.sources, want.sources);
        // A cancelled build stops.
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert!(matches!(
            Snapshot::build_table(4, TenantTable::from(town_data()), &cancel),
            Err(SnapshotError::Cancelled(_))
        ));
    }

    #[test]
    fn build_indexes_areas_by_code_and_level_and_sorts_incidents_by_begin() {
        let s = town();
        assert_eq!((s.generation, s.tenant.as_str()), (7, "proef"));
        assert_eq!(s.level_areas(AreaLevel::Buurt).len(), 2);
        assert_eq!(s.level_areas(AreaLevel::Custom).len(), 1);
        let west = s.area_index(" BU99990001 ").unwrap();
        assert_eq!(s.area(west).name, "West");
        assert_eq!(s.area(west).feature_id, feature_id("BU99990001"));
        assert!(s.area_index("BU00000000").is_none());
        let ids: Vec<i64> = s.incidents.iter().map(|i| i.id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
        assert_eq!(s.first_day, NaiveDate::from_ymd_opt(2024, 1, 10));
        assert_eq!(s.last_day, NaiveDate::from_ymd_opt(2024, 4, 2));
        assert_eq!(s.categories.len(), 2);
        assert_eq!(s.source_index("politie"), Some(0));
        assert!(!s.incidents[4].has_point() && s.incidents[4].buurt == west);
        assert_eq!(s.incidents[5].buurt, u32::MAX);
    }

    #[test]
    fn areas_are_found_by_their_web_mercator_box() {
        let s = town();
        let west = s.area(s.area_index("BU99990001").unwrap());
        let inside = west.bbox_m;
        assert_eq!(
            s.areas_in(AreaLevel::Buurt, inside).len(),
            2,
            "the boxes touch"
        );
        let far = Rect::new((0.0, 0.0), (1.0, 1.0));
        assert!(s.areas_in(AreaLevel::Buurt, far).is_empty());
        let b = s.bbox_wgs84();
        assert!(b[0] < b[2] && b[1] < b[3] && b[0] > 3.0 && b[3] < 54.0);
        // Simplified geometry keeps the square.
        assert_eq!(west.geometry_for_zoom(5).0.len(), 1);
    }

    #[test]
    fn minutes_round_trip_through_datetimes() {
        let t = NaiveDate::from_ymd_opt(2024, 2, 29)
            .and_then(|d| d.and_hms_opt(23, 59, 0))
            .unwrap();
        assert_eq!(minutes_to_datetime(datetime_to_minutes(t)), t);
        let d = t.date();
        assert_eq!(day_start_minutes(d) + 23 * 60 + 59, datetime_to_minutes(t));
    }

    #[test]
    fn levels_parse_in_dutch_and_english_forms() {
        for (text, level) in [
            ("gemeente", AreaLevel::Gemeente),
            (" Wijken ", AreaLevel::Wijk),
            ("BUURT", AreaLevel::Buurt),
            ("eigen", AreaLevel::Custom),
            ("custom", AreaLevel::Custom),
        ] {
            assert_eq!(AreaLevel::parse(text), Some(level), "{text}");
        }
        assert_eq!(AreaLevel::parse("provincie"), None);
        for l in AreaLevel::ALL {
            assert_eq!(AreaLevel::parse(l.as_str()), Some(l));
        }
    }
}
