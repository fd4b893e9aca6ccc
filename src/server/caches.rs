//! The server's caches: one [`Caches`] value, owned by [`AppState`](super::AppState), holds every result worth
//! keeping between requests (counts per filter, protected tables, tiles, analyses, response bodies) under one
//! budget of bytes (`[limits] cache_bytes`, [`super::Limits::cache_bytes`]).
//!
//! Every kind of result has a key type of its own, defined by the module that caches it (`CountsKey` in
//! [`super`], `VectorTileKey` in [`super::tiles`], ...). The key type names its kind and its value type
//! ([`CacheEntry`]), so every lookup is typed; keys of different types never compare equal. Keys hold the snapshot
//! generation wherever the value derives from the data: a reload gives every tenant a new generation, so an
//! entry of old data is never hit again (and [`Caches::clear`] drops them at once). Filters are keyed by their
//! [`crate::dataset::FilterKey`], parameters by their parsed values.
//!
//! Values report their approximate heap bytes ([`HeapSize`]); an entry weighs its value, its key and a fixed
//! overhead, and the cache evicts (CLOCK-Pro, [`quick_cache`]) to keep the total weight within the budget. The
//! budget is split evenly over the cache's shards: an entry heavier than one shard's share is computed and
//! answered but not kept.
//!
//! `/metrics` shows hits, misses, bytes and entries per kind ([`Caches::render_metrics`]).

use crate::heap_size::HeapSize;
use axum::body::Bytes;
use quick_cache::sync::{Cache, GuardResult};
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};
use std::any::{Any, TypeId};
use std::fmt::Write;
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What is cached (the `cache` label of the metrics): one kind per key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheKind {
    /// Incidents per area of one level for a filter ([`super::AppState::counts`]).
    Counts,
    /// The published count table of every area for a filter and k ([`super::AppState::protected_table`]).
    ProtectedTable,
    /// A gzipped vector tile ([`super::tiles`]).
    VectorTile,
    /// The clipped area geometry of one level in one tile ([`super::tiles`]).
    TileGeometry,
    /// A PNG tile ([`super::raster`]).
    PngTile,
    /// The fully transparent PNG of a size ([`super::raster`]).
    BlankPng,
    /// A JSON body of an area analysis or a comparison ([`super::analysis_api`], [`super::compare`]).
    AnalysisBody,
    /// An export body ([`super::export`]).
    ExportBody,
    /// WGS84 rings of every area of a level ([`super::export`]).
    Wgs84Rings,
    /// The default-rule KDE bandwidth of a filter ([`super::hotspots`]).
    KdeBandwidth,
    /// A KDE surface ([`super::hotspots::kde_surface`]).
    KdeSurface,
    /// KDE contour polygons ([`super::hotspots::kde_contours`]).
    KdeContours,
    /// Gi* on bins ([`super::hotspots::gistar_cells`]).
    GiStar,
    /// Emerging hot spots ([`super::hotspots::emerging_cells`]).
    Emerging,
    /// Addresses and bag ids for the phenomenon profile ([`super::analysis_api`]).
    ProfileData,
    /// A computed monthly report ([`super::report`]).
    MonthlyReport,
    /// A computed patrol ranking ([`super::patrol`]).
    Patrol,
    /// Incident id -> BAG street of a tenant's address-located incidents ([`super::patrol`]).
    Streets,
}

impl CacheKind {
    /// Every kind, in the order of the metrics.
    pub const ALL: [CacheKind; 18] = [
        CacheKind::Counts,
        CacheKind::ProtectedTable,
        CacheKind::VectorTile,
        CacheKind::TileGeometry,
        CacheKind::PngTile,
        CacheKind::BlankPng,
        CacheKind::AnalysisBody,
        CacheKind::ExportBody,
        CacheKind::Wgs84Rings,
        CacheKind::KdeBandwidth,
        CacheKind::KdeSurface,
        CacheKind::KdeContours,
        CacheKind::GiStar,
        CacheKind::Emerging,
        CacheKind::ProfileData,
        CacheKind::MonthlyReport,
        CacheKind::Patrol,
        CacheKind::Streets,
    ];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            CacheKind::Counts => "counts",
            CacheKind::ProtectedTable => "protected_table",
            CacheKind::VectorTile => "vector_tile",
            CacheKind::TileGeometry => "tile_geometry",
            CacheKind::PngTile => "png_tile",
            CacheKind::BlankPng => "blank_png",
            CacheKind::AnalysisBody => "analysis_body",
            CacheKind::ExportBody => "export_body",
            CacheKind::Wgs84Rings => "wgs84_rings",
            CacheKind::KdeBandwidth => "kde_bandwidth",
            CacheKind::KdeSurface => "kde_surface",
            CacheKind::KdeContours => "kde_contours",
            CacheKind::GiStar => "gistar",
            CacheKind::Emerging => "emerging",
            CacheKind::ProfileData => "profile_data",
            CacheKind::MonthlyReport => "monthly_report",
            CacheKind::Patrol => "patrol",
            CacheKind::Streets => "streets",
        }
    }
}

/// A key type of one kind of cached value. The module that caches a result defines its key type (the snapshot
/// generation, the [`crate::dataset::FilterKey`], the parsed parameters) and names the value type here, so
/// every lookup is typed.
pub trait CacheEntry: Clone + Eq + Hash + HeapSize + Send + Sync + 'static {
    /// What is cached under this key.
    type Value: Clone + Send + Sync + HeapSize + 'static;
    /// The kind, for the metrics.
    const KIND: CacheKind;
}

/// An `f64` parameter in a key: equal when the bits are equal (parameters are finite, parsed values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct F64Key(u64);

impl From<f64> for F64Key {
    fn from(v: f64) -> F64Key {
        F64Key(v.to_bits())
    }
}

impl HeapSize for Bytes {
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}

/// A key of any kind, behind one pointer: equal when of the same type and equal.
trait AnyKey: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn eq_key(&self, other: &dyn AnyKey) -> bool;
    fn hash_key(&self, state: &mut dyn Hasher);
    fn kind(&self) -> CacheKind;
}

impl<K: CacheEntry> AnyKey for K {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn eq_key(&self, other: &dyn AnyKey) -> bool {
        other.as_any().downcast_ref::<K>() == Some(self)
    }

    fn hash_key(&self, mut state: &mut dyn Hasher) {
        TypeId::of::<K>().hash(&mut state);
        self.hash(&mut state);
    }

    fn kind(&self) -> CacheKind {
        K::KIND
    }
}

#[derive(Clone)]
struct Key(Arc<dyn AnyKey>);

impl Key {
    fn of<K: CacheEntry>(key: K) -> Key {
        Key(Arc::new(key))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.0.eq_key(&*other.0)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash_key(state);
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

impl Weighter<Key, Stored> for ByWeight {
    fn weight(&self, _key: &Key, stored: &Stored) -> u64 {
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
    entries: Cache<Key, Stored, ByWeight>,
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

    fn stored<K: CacheEntry>(key: &K, value: &K::Value) -> Stored {
        let weight = size_of::<Key>()
            + 2 * size_of::<usize>()
            + size_of::<K>()
            + key.heap_bytes()
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
            .get(&Key::of(key.clone()))
            .and_then(|s| Self::value_of::<K>(&s));
        self.count(K::KIND, found.is_some());
        found
    }

    /// Remember `value` under `key` (evicting other entries to stay within the budget; a value heavier than a
    /// shard's share of the budget is not kept).
    pub fn insert<K: CacheEntry>(&self, key: K, value: K::Value) {
        let stored = Self::stored::<K>(&key, &value);
        self.entries.insert(Key::of(key), stored);
    }

    /// The value under `key`, else `f`'s value, remembered when `f` succeeds. Concurrent callers with the same
    /// key wait for the first one's result instead of computing it again.
    pub fn get_or_insert_with<K: CacheEntry, E>(
        &self,
        key: K,
        f: impl FnOnce() -> Result<K::Value, E>,
    ) -> Result<K::Value, E> {
        let any = Key::of(key.clone());
        match self.entries.get_value_or_guard(&any, None) {
            GuardResult::Value(stored) => {
                if let Some(v) = Self::value_of::<K>(&stored) {
                    self.count(K::KIND, true);
                    return Ok(v);
                }
                self.count(K::KIND, false);
                let v = f()?;
                self.entries.insert(any, Self::stored::<K>(&key, &v));
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
            let s = &mut stats[key.0.kind() as usize];
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
    use std::collections::HashMap;

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct CountsOf {
        generation: u64,
        filter: String,
    }

    impl HeapSize for CountsOf {
        fn heap_bytes(&self) -> usize {
            self.filter.heap_bytes()
        }
    }

    impl CacheEntry for CountsOf {
        type Value = Arc<Vec<u32>>;
        const KIND: CacheKind = CacheKind::Counts;
    }

    /// A second key type with the same fields: never equal to a [`CountsOf`].
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct StreetsOf {
        generation: u64,
        filter: String,
    }

    impl HeapSize for StreetsOf {
        fn heap_bytes(&self) -> usize {
            self.filter.heap_bytes()
        }
    }

    impl CacheEntry for StreetsOf {
        type Value = Arc<HashMap<i64, String>>;
        const KIND: CacheKind = CacheKind::Streets;
    }

    fn counts_key(generation: u64) -> CountsOf {
        CountsOf {
            generation,
            filter: "c=;s=".into(),
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
        assert!(s.bytes as usize >= 3 * 4 + size_of::<CountsOf>());
        assert_eq!(c.bytes(), s.bytes);
    }

    #[test]
    fn keys_of_different_types_never_meet() {
        let c = Caches::new(1 << 20);
        c.insert(counts_key(1), Arc::new(vec![1]));
        let streets = StreetsOf {
            generation: 1,
            filter: "c=;s=".into(),
        };
        assert_eq!(c.get(&streets), None);
        c.insert(streets.clone(), Arc::new(HashMap::new()));
        assert_eq!(c.get(&counts_key(1)).as_deref(), Some(&vec![1]));
        assert!(c.get(&streets).is_some_and(|m| m.is_empty()));
        assert_eq!(c.stats()[CacheKind::Streets as usize].1.entries, 1);
    }

    #[test]
    fn get_or_insert_computes_once_and_keeps_no_error() {
        let c = Caches::new(1 << 20);
        let key = StreetsOf {
            generation: 7,
            filter: String::new(),
        };
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
