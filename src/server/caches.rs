//! The server's caches: one [`Caches`] value, owned by [`AppState`](super::AppState), holds every result worth
//! keeping between requests (counts per filter, protected tables, tiles, analyses, response bodies) under one
//! budget of bytes (`[limits] cache_bytes`, [`super::Limits::cache_bytes`]).
//!
//! Every kind of result has a key type of its own ([`CountsKey`], [`VectorTileKey`], ...). The key type names
//! its kind and its value type ([`CacheEntry`]), so every lookup is typed. Keys hold the snapshot generation
//! wherever the value derives from the data: a reload gives every tenant a new generation, so an entry of old
//! data is never hit again (and [`Caches::clear`] drops them at once). Filters are keyed by their
//! [`FilterKey`], parameters by their parsed values.
//!
//! Values report their approximate heap bytes ([`HeapSize`]); an entry weighs its value, its key and a fixed
//! overhead, and the cache evicts (CLOCK-Pro, [`quick_cache`]) to keep the total weight within the budget. The
//! budget is split evenly over the cache's shards: an entry heavier than one shard's share is computed and
//! answered but not kept.
//!
//! `/metrics` shows hits, misses, bytes and entries per kind ([`Caches::render_metrics`]).

use super::analysis_api::ProfileData;
use super::export::{Format, Rings};
use super::filter::FilterKey;
use super::hotspots::{Contour, EmergingCells, GiStarCells, KdeSurface, MappedPlaces};
use super::patrol::PatrolParams;
use super::raster::Metric;
use super::tiles::{CachedTile, TileAreas};
use crate::analysis::grid::BinSpec;
use crate::analysis::patrol::PatrolResult;
use crate::analysis::places::GridIndex;
use crate::analysis::striking::MonthlyReport;
use crate::calendar::Step;
use crate::dataset::Level;
use crate::heap_size::HeapSize;
use crate::suppression::Protected;
use crate::tiles::TileId;
use axum::body::Bytes;
use chrono::NaiveDate;
use quick_cache::sync::{Cache, GuardResult};
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};
use std::any::Any;
use std::collections::HashMap;
use std::fmt::Write;
use std::mem::size_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A key type of one kind of cached value.
pub trait CacheEntry: Clone + HeapSize + Into<CacheKey> {
    /// What is cached under this key.
    type Value: Clone + Send + Sync + HeapSize + 'static;
    /// The kind, for the metrics.
    const KIND: CacheKind;
}

/// Declares the kinds: the [`CacheKind`] enum, the [`CacheKey`] enum with one variant per key type, and the
/// [`CacheEntry`] implementation of every key type.
macro_rules! cache_kinds {
    ($($(#[$doc:meta])* $kind:ident($key:ty) => $value:ty, $label:literal;)*) => {
        /// What is cached (the `cache` label of the metrics).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum CacheKind {
            $($(#[$doc])* $kind,)*
        }

        impl CacheKind {
            /// Every kind, in the order of the metrics.
            pub const ALL: &'static [CacheKind] = &[$(CacheKind::$kind,)*];

            /// The metrics label.
            pub fn label(self) -> &'static str {
                match self {
                    $(CacheKind::$kind => $label,)*
                }
            }
        }

        /// A key of any kind.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum CacheKey {
            $($kind($key),)*
        }

        impl CacheKey {
            pub fn kind(&self) -> CacheKind {
                match self {
                    $(CacheKey::$kind(_) => CacheKind::$kind,)*
                }
            }

            fn key_heap_bytes(&self) -> usize {
                match self {
                    $(CacheKey::$kind(k) => k.heap_bytes(),)*
                }
            }
        }

        $(
            impl From<$key> for CacheKey {
                fn from(k: $key) -> CacheKey {
                    CacheKey::$kind(k)
                }
            }

            impl CacheEntry for $key {
                type Value = $value;
                const KIND: CacheKind = CacheKind::$kind;
            }
        )*
    };
}

cache_kinds! {
    /// Incidents per area of one level for a filter ([`super::AppState::counts`]).
    Counts(CountsKey) => Arc<Vec<u32>>, "counts";
    /// The published count table of every area for a filter and k ([`super::areas::protected_table`]).
    ProtectedTable(ProtectedTableKey) => Arc<Protected>, "protected_table";
    /// A gzipped vector tile ([`super::tiles`]).
    VectorTile(VectorTileKey) => Arc<CachedTile>, "vector_tile";
    /// The clipped area geometry of one level in one tile ([`super::tiles`]).
    TileGeometry(TileGeometryKey) => Arc<TileAreas>, "tile_geometry";
    /// A PNG tile ([`super::raster`]).
    PngTile(PngTileKey) => Arc<Vec<u8>>, "png_tile";
    /// The fully transparent PNG of a size ([`super::raster`]).
    BlankPng(BlankPngKey) => Arc<Vec<u8>>, "blank_png";
    /// A JSON body of an area analysis or a comparison ([`super::analysis_api`], [`super::compare`]).
    AnalysisBody(AnalysisBodyKey) => Bytes, "analysis_body";
    /// An export body ([`super::export`]).
    ExportBody(ExportBodyKey) => Bytes, "export_body";
    /// WGS84 rings of every area of a level ([`super::export`]).
    Wgs84Rings(Wgs84RingsKey) => Arc<Vec<Arc<Rings>>>, "wgs84_rings";
    /// The default-rule KDE bandwidth of a filter ([`super::hotspots`]).
    KdeBandwidth(KdeBandwidthKey) => Option<f64>, "kde_bandwidth";
    /// A KDE surface ([`super::hotspots::kde_surface`]).
    KdeSurface(KdeSurfaceKey) => Option<Arc<KdeSurface>>, "kde_surface";
    /// KDE contour polygons ([`super::hotspots::kde_contours`]).
    KdeContours(KdeContoursKey) => Option<Arc<Vec<Contour>>>, "kde_contours";
    /// Gi* on bins ([`super::hotspots::gistar_cells`]).
    GiStar(GiStarKey) => Option<Arc<GiStarCells>>, "gistar";
    /// Emerging hot spots ([`super::hotspots::emerging_cells`]).
    Emerging(EmergingKey) => Option<Arc<EmergingCells>>, "emerging";
    /// Addresses and bag ids for the phenomenon profile ([`super::analysis_api`]).
    ProfileData(ProfileDataKey) => Arc<ProfileData>, "profile_data";
    /// A computed monthly report ([`super::report`]).
    MonthlyReport(MonthlyReportKey) => Arc<MonthlyReport>, "monthly_report";
    /// A computed patrol ranking ([`super::patrol`]).
    Patrol(PatrolKey) => Arc<PatrolResult>, "patrol";
    /// Incident id -> BAG street of a tenant's address-located incidents ([`super::patrol`]).
    Streets(StreetsKey) => Arc<HashMap<i64, String>>, "streets";
}

/// An `f64` parameter in a key: equal when the bits are equal (parameters are finite, parsed values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct F64Key(u64);

impl From<f64> for F64Key {
    fn from(v: f64) -> F64Key {
        F64Key(v.to_bits())
    }
}

/// The KDE parameters that determine a surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdeKey {
    pub cell_m: F64Key,
    /// `None` = the default rule.
    pub bandwidth_m: Option<F64Key>,
}

/// A raster layer with the parameters that determine its image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RasterLayerKey {
    Kde(KdeKey),
    Hotspots(BinSpec),
    Buurten(Metric),
    BuurtenExact(Metric),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CountsKey {
    pub generation: u64,
    pub level: Level,
    pub filter: FilterKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProtectedTableKey {
    pub generation: u64,
    /// The k applied (0 = exact counts).
    pub k: u32,
    pub filter: FilterKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VectorTileKey {
    pub generation: u64,
    pub layer: String,
    pub tile: TileId,
    pub filter: FilterKey,
    /// A surface layer within the viewer limits.
    pub limited_surface: bool,
    /// Counts protected (viewers, anonymous callers).
    pub protect: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TileGeometryKey {
    pub generation: u64,
    pub level: Level,
    pub tile: TileId,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PngTileKey {
    pub generation: u64,
    /// The layer as drawn (limited parameters, protected or exact counts).
    pub layer: RasterLayerKey,
    pub tile: TileId,
    pub filter: FilterKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlankPngKey {
    pub width: u32,
    pub height: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnalysisBodyKey {
    pub generation: u64,
    /// Counts protected (viewers, anonymous callers).
    pub protect: bool,
    pub request: AnalysisRequest,
}

/// The request behind an analysis body; areas are snapshot area indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnalysisRequest {
    TimeSeries {
        area: u32,
        filter: FilterKey,
        step: Step,
    },
    HourOfWeek {
        area: u32,
        filter: FilterKey,
    },
    Profile {
        area: u32,
        filter: FilterKey,
        confidence: F64Key,
    },
    Compare {
        areas: Vec<u32>,
        filter: FilterKey,
        vs_filter: FilterKey,
        step: Step,
        /// Target area, buffer (m) and control area.
        intervention: Option<(u32, F64Key, u32)>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportBodyKey {
    pub generation: u64,
    pub format: Format,
    pub level: Level,
    pub filter: FilterKey,
    pub protect: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Wgs84RingsKey {
    pub generation: u64,
    pub level: Level,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdeBandwidthKey {
    pub generation: u64,
    pub filter: FilterKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdeSurfaceKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub kde: KdeKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdeContoursKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub kde: KdeKey,
    pub levels: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GiStarKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub bins: BinSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmergingKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub cell_m: u32,
    pub step: Step,
    pub time_window: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProfileDataKey {
    pub generation: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MonthlyReportKey {
    pub generation: u64,
    pub filter: FilterKey,
    /// First day of the month.
    pub month: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PatrolKey {
    pub generation: u64,
    pub filter: FilterKey,
    pub params: PatrolParams,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreetsKey {
    pub generation: u64,
}

/// Keys whose only heap memory is their filter.
macro_rules! filter_heap {
    ($($key:ty),* $(,)?) => {
        $(impl HeapSize for $key {
            fn heap_bytes(&self) -> usize {
                self.filter.heap_bytes()
            }
        })*
    };
}

filter_heap!(
    CountsKey,
    ProtectedTableKey,
    PngTileKey,
    ExportBodyKey,
    KdeBandwidthKey,
    KdeSurfaceKey,
    KdeContoursKey,
    GiStarKey,
    EmergingKey,
    MonthlyReportKey,
    PatrolKey,
);

/// Keys without heap memory.
macro_rules! no_key_heap {
    ($($key:ty),* $(,)?) => {
        $(impl HeapSize for $key {
            fn heap_bytes(&self) -> usize {
                0
            }
        })*
    };
}

no_key_heap!(
    TileGeometryKey,
    BlankPngKey,
    Wgs84RingsKey,
    ProfileDataKey,
    StreetsKey
);

impl HeapSize for VectorTileKey {
    fn heap_bytes(&self) -> usize {
        self.layer.heap_bytes() + self.filter.heap_bytes()
    }
}

impl HeapSize for AnalysisBodyKey {
    fn heap_bytes(&self) -> usize {
        match &self.request {
            AnalysisRequest::TimeSeries { filter, .. }
            | AnalysisRequest::HourOfWeek { filter, .. }
            | AnalysisRequest::Profile { filter, .. } => filter.heap_bytes(),
            AnalysisRequest::Compare {
                areas,
                filter,
                vs_filter,
                ..
            } => areas.heap_bytes() + filter.heap_bytes() + vs_filter.heap_bytes(),
        }
    }
}

impl HeapSize for Bytes {
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}

impl HeapSize for CachedTile {
    fn heap_bytes(&self) -> usize {
        self.gzip.heap_bytes() + self.etag.heap_bytes()
    }
}

impl HeapSize for KdeSurface {
    fn heap_bytes(&self) -> usize {
        self.kde.heap_bytes()
    }
}

impl HeapSize for Contour {
    fn heap_bytes(&self) -> usize {
        self.polygon_rd.heap_bytes() + self.polygon_m.heap_bytes()
    }
}

impl HeapSize for GridIndex {
    fn heap_bytes(&self) -> usize {
        self.slot.heap_bytes()
    }
}

impl HeapSize for MappedPlaces {
    fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes()
            + self.polygons_rd.heap_bytes()
            + self.polygons_m.heap_bytes()
            + self.bbox_m.heap_bytes()
            + self.grid.heap_bytes()
    }
}

impl HeapSize for GiStarCells {
    fn heap_bytes(&self) -> usize {
        self.places.heap_bytes() + self.counts.heap_bytes() + self.result.heap_bytes()
    }
}

impl HeapSize for EmergingCells {
    fn heap_bytes(&self) -> usize {
        self.places.heap_bytes() + self.result.heap_bytes() + self.steps.heap_bytes()
    }
}

impl HeapSize for MonthlyReport {
    fn heap_bytes(&self) -> usize {
        self.months.heap_bytes()
            + self.series.heap_bytes()
            + self.areas.heap_bytes()
            + self.categories.heap_bytes()
    }
}

/// One stored value with its weight (bytes of value, key and bookkeeping).
#[derive(Clone)]
struct Stored {
    value: Arc<dyn Any + Send + Sync>,
    weight: u64,
}

#[derive(Clone)]
struct ByWeight;

impl Weighter<CacheKey, Stored> for ByWeight {
    fn weight(&self, _key: &CacheKey, stored: &Stored) -> u64 {
        stored.weight
    }
}

/// Hits, misses, bytes and entries of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindStats {
    pub hits: u64,
    pub misses: u64,
    pub bytes: u64,
    pub entries: u64,
}

/// Every cache of the server, bounded together by bytes (see the module docs).
pub struct Caches {
    entries: Cache<CacheKey, Stored, ByWeight>,
    budget_bytes: u64,
    hits: Vec<AtomicU64>,
    misses: Vec<AtomicU64>,
}

/// Shards of the cache (lock striping): four per core, as quick_cache chooses by default.
fn shard_count() -> u64 {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    (cores as u64 * 4).next_power_of_two()
}

impl Caches {
    /// Caches holding at most `budget_bytes` (at least 1) of entries.
    pub fn new(budget_bytes: u64) -> Caches {
        let budget_bytes = budget_bytes.max(1);
        // Every shard gets the same whole number of bytes, so the shards together never exceed the budget.
        let largest_power_of_two_within = 1u64 << (63 - budget_bytes.leading_zeros());
        let shards = shard_count().min(largest_power_of_two_within);
        let capacity = budget_bytes / shards * shards;
        // Guess of the number of entries (sizes the tables): one per 16 KiB, within reason.
        let items = usize::try_from(budget_bytes / 16_384)
            .unwrap_or(usize::MAX)
            .clamp(64, 1 << 20);
        let options = OptionsBuilder::new()
            .estimated_items_capacity(items)
            .weight_capacity(capacity)
            .shards(shards as usize)
            .build();
        let entries = match options {
            Ok(o) => Cache::with_options(
                o,
                ByWeight,
                DefaultHashBuilder::default(),
                Default::default(),
            ),
            // Unreachable: both required options are set.
            Err(_) => Cache::with_weighter(items, capacity, ByWeight),
        };
        let counters = || CacheKind::ALL.iter().map(|_| AtomicU64::new(0)).collect();
        Caches {
            entries,
            budget_bytes,
            hits: counters(),
            misses: counters(),
        }
    }

    /// The budget in bytes.
    pub fn budget_bytes(&self) -> u64 {
        self.budget_bytes
    }

    /// The weight of every entry together, bytes (at most the budget).
    pub fn bytes(&self) -> u64 {
        self.entries.weight()
    }

    fn count(&self, kind: CacheKind, hit: bool) {
        let counters = if hit { &self.hits } else { &self.misses };
        if let Some(c) = counters.get(kind as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn stored<K: CacheEntry>(key: &CacheKey, value: &K::Value) -> Stored {
        let weight = size_of::<CacheKey>()
            + key.key_heap_bytes()
            + size_of::<Stored>()
            + 2 * size_of::<usize>()
            + size_of::<K::Value>()
            + value.heap_bytes();
        Stored {
            value: Arc::new(value.clone()),
            weight: weight as u64,
        }
    }

    fn value_of<K: CacheEntry>(stored: &Stored) -> Option<K::Value> {
        stored.value.downcast_ref::<K::Value>().cloned()
    }

    /// The value under `key`, if cached (counted as a hit or a miss).
    pub fn get<K: CacheEntry>(&self, key: &K) -> Option<K::Value> {
        let found = self
            .entries
            .get(&key.clone().into())
            .and_then(|s| Self::value_of::<K>(&s));
        self.count(K::KIND, found.is_some());
        found
    }

    /// Remember `value` under `key` (evicting other entries to stay within the budget; a value heavier than a
    /// shard's share of the budget is not kept).
    pub fn insert<K: CacheEntry>(&self, key: K, value: K::Value) {
        let key: CacheKey = key.into();
        let stored = Self::stored::<K>(&key, &value);
        self.entries.insert(key, stored);
    }

    /// The value under `key`, else `f`'s value, remembered when `f` succeeds. Concurrent callers with the same
    /// key wait for the first one's result instead of computing it again.
    pub fn get_or_insert_with<K: CacheEntry, E>(
        &self,
        key: K,
        f: impl FnOnce() -> Result<K::Value, E>,
    ) -> Result<K::Value, E> {
        let key: CacheKey = key.into();
        match self.entries.get_value_or_guard(&key, None) {
            GuardResult::Value(stored) => {
                if let Some(v) = Self::value_of::<K>(&stored) {
                    self.count(K::KIND, true);
                    return Ok(v);
                }
                self.count(K::KIND, false);
                let v = f()?;
                let stored = Self::stored::<K>(&key, &v);
                self.entries.insert(key, stored);
                Ok(v)
            }
            GuardResult::Guard(guard) => {
                self.count(K::KIND, false);
                let v = f()?;
                let _ = guard.insert(Self::stored::<K>(&key, &v));
                Ok(v)
            }
            GuardResult::Timeout => {
                // Only with a timeout, and none is given: compute without the cache.
                self.count(K::KIND, false);
                f()
            }
        }
    }

    /// Drop every entry (after a reload: keys of old generations are never asked for again).
    pub fn clear(&self) {
        self.entries.clear();
    }

    /// Hits, misses, bytes and entries of every kind, in the order of [`CacheKind::ALL`].
    pub fn stats(&self) -> Vec<(CacheKind, KindStats)> {
        let mut stats: Vec<KindStats> = CacheKind::ALL
            .iter()
            .map(|&k| KindStats {
                hits: self.hits[k as usize].load(Ordering::Relaxed),
                misses: self.misses[k as usize].load(Ordering::Relaxed),
                ..KindStats::default()
            })
            .collect();
        for (key, stored) in self.entries.iter() {
            let s = &mut stats[key.kind() as usize];
            s.bytes += stored.weight;
            s.entries += 1;
        }
        CacheKind::ALL.iter().copied().zip(stats).collect()
    }

    /// The caches' lines of the Prometheus text: `brandpunt_cache_{hits,misses}_total`,
    /// `brandpunt_cache_{bytes,entries}` per kind (label `cache`), `brandpunt_cache_budget_bytes`, and the
    /// vector tile figures under their older names `brandpunt_tile_cache_{hits_total,misses_total,entries}`.
    pub fn render_metrics(&self, out: &mut String) {
        let stats = self.stats();
        let series = [
            (
                "brandpunt_cache_hits_total",
                "counter",
                "Cache hits by kind.",
                (|s: &KindStats| s.hits) as fn(&KindStats) -> u64,
            ),
            (
                "brandpunt_cache_misses_total",
                "counter",
                "Cache misses by kind.",
                |s: &KindStats| s.misses,
            ),
            (
                "brandpunt_cache_bytes",
                "gauge",
                "Approximate bytes held by kind.",
                |s: &KindStats| s.bytes,
            ),
            (
                "brandpunt_cache_entries",
                "gauge",
                "Entries held by kind.",
                |s: &KindStats| s.entries,
            ),
        ];
        for (name, kind, help, value) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (k, s) in &stats {
                let _ = writeln!(out, "{name}{{cache=\"{}\"}} {}", k.label(), value(s));
            }
        }
        let _ = writeln!(
            out,
            "# HELP brandpunt_cache_budget_bytes The byte budget of all caches together ([limits] cache_bytes).\n\
             # TYPE brandpunt_cache_budget_bytes gauge\nbrandpunt_cache_budget_bytes {}",
            self.budget_bytes
        );
        let tiles = stats
            .iter()
            .find(|(k, _)| *k == CacheKind::VectorTile)
            .map(|(_, s)| *s)
            .unwrap_or_default();
        for (name, kind, value) in [
            ("brandpunt_tile_cache_hits_total", "counter", tiles.hits),
            ("brandpunt_tile_cache_misses_total", "counter", tiles.misses),
            ("brandpunt_tile_cache_entries", "gauge", tiles.entries),
        ] {
            let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts_key(generation: u64) -> CountsKey {
        CountsKey {
            generation,
            level: Level::Buurt,
            filter: FilterKey::default(),
        }
    }

    #[test]
    fn values_come_back_typed_and_are_counted() {
        let c = Caches::new(1 << 20);
        assert_eq!(c.get(&counts_key(1)), None);
        c.insert(counts_key(1), Arc::new(vec![1, 2, 3]));
        assert_eq!(c.get(&counts_key(1)).as_deref(), Some(&vec![1, 2, 3]));
        // Another generation is another key.
        assert_eq!(c.get(&counts_key(2)), None);
        let s = c.stats()[CacheKind::Counts as usize].1;
        assert_eq!((s.hits, s.misses, s.entries), (1, 2, 1));
        assert!(s.bytes as usize >= 3 * 4 + size_of::<CacheKey>());
        assert_eq!(c.bytes(), s.bytes);
    }

    #[test]
    fn get_or_insert_computes_once_and_keeps_no_error() {
        let c = Caches::new(1 << 20);
        let key = StreetsKey { generation: 7 };
        let failed: Result<_, &str> = c.get_or_insert_with(key.clone(), || Err("store"));
        assert_eq!(failed, Err("store"));
        let mut calls = 0;
        for _ in 0..3 {
            let v: Result<_, ()> = c.get_or_insert_with(key.clone(), || {
                calls += 1;
                Ok(Arc::new(HashMap::from([(1, "Markt".to_string())])))
            });
            assert_eq!(v.unwrap().get(&1).map(String::as_str), Some("Markt"));
        }
        assert_eq!(calls, 1);
        let s = c.stats()[CacheKind::Streets as usize].1;
        assert_eq!((s.hits, s.misses), (2, 2));
    }

    #[test]
    fn a_tiny_budget_is_never_exceeded() {
        for budget in [1, 5, 1000, 4096, 100_000] {
            let c = Caches::new(budget);
            for g in 0..200 {
                c.insert(counts_key(g), Arc::new(vec![0; (g as usize * 37) % 500]));
                assert!(c.bytes() <= budget, "{} > {budget}", c.bytes());
            }
        }
    }

    #[test]
    fn clear_drops_everything() {
        let c = Caches::new(1 << 20);
        c.insert(counts_key(1), Arc::new(vec![1]));
        c.insert(
            BlankPngKey {
                width: 1,
                height: 1,
            },
            Arc::new(vec![0u8; 10]),
        );
        c.clear();
        assert_eq!(c.bytes(), 0);
        assert!(c.stats().iter().all(|(_, s)| s.entries == 0));
    }

    #[test]
    fn metrics_name_every_kind() {
        let c = Caches::new(1 << 20);
        c.insert(counts_key(1), Arc::new(vec![1]));
        let _ = c.get(&counts_key(1));
        let mut out = String::new();
        c.render_metrics(&mut out);
        assert!(
            out.contains("brandpunt_cache_hits_total{cache=\"counts\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("brandpunt_cache_entries{cache=\"counts\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("brandpunt_cache_budget_bytes 1048576\n"),
            "{out}"
        );
        for k in CacheKind::ALL {
            assert!(
                out.contains(&format!("brandpunt_cache_bytes{{cache=\"{}\"}}", k.label())),
                "{k:?}"
            );
        }
        assert!(out.contains("brandpunt_tile_cache_entries 0\n"), "{out}");
    }
}
