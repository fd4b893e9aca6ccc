//! A typed cache bounded by bytes: one [`Caches`] value holds results of many kinds (count tables, tiles,
//! analyses, response bodies) under one budget of bytes.
//!
//! Every kind of result has a key type of its own, defined next to the code that caches it. The key type names
//! its kind and its value type ([`CacheEntry`]), so every lookup is typed, and keys of different types never
//! compare equal, even with equal fields. Keys that derive from data should hold the data's generation, so an
//! entry of old data is never hit again ([`Caches::clear`] drops every entry at once).
//!
//! Values report their approximate heap bytes ([`HeapSize`]); an entry weighs its value, its key and a fixed
//! overhead, and the cache evicts (CLOCK-Pro, [`quick_cache`]) to keep the total weight within the budget. The
//! budget is split evenly over the cache's shards: an entry heavier than one shard's share
//! ([`Caches::largest_entry_bytes`]) is computed and answered but not kept. A shard gets at least
//! [`MIN_SHARD_BYTES`] (fewer shards under a small budget), so that one filter's national surface can be kept
//! whenever the budget holds it.
//!
//! Hits, misses, bytes and entries are counted per kind ([`Caches::stats`]) and rendered as Prometheus text
//! ([`Caches::render_metrics`]).
//!
//! ```
//! use brandpunt::cache::{CacheEntry, Caches};
//! use brandpunt::heap_size::HeapSize;
//! use std::sync::Arc;
//!
//! /// Incidents per buurt of one data generation.
//! #[derive(Clone, Debug, PartialEq, Eq, Hash)]
//! struct CountsKey {
//!     generation: u64,
//! }
//!
//! impl HeapSize for CountsKey {
//!     fn heap_bytes(&self) -> usize {
//!         0
//!     }
//! }
//!
//! impl CacheEntry for CountsKey {
//!     type Value = Arc<Vec<u32>>;
//!     const KIND: &'static str = "counts";
//! }
//!
//! let caches = Caches::new(1 << 20, &["counts"]);
//! let counts = caches.get_or_insert_with(CountsKey { generation: 1 }, || {
//!     Ok::<_, std::convert::Infallible>(Arc::new(vec![3, 0, 12]))
//! });
//! assert_eq!(counts.unwrap().as_slice(), &[3, 0, 12]);
//! assert_eq!(caches.get(&CountsKey { generation: 1 }).as_deref(), Some(&vec![3, 0, 12]));
//! assert_eq!(caches.get(&CountsKey { generation: 2 }), None);
//! let stats = caches.kind_stats("counts");
//! assert_eq!((stats.hits, stats.misses, stats.entries), (1, 2, 1));
//! assert!(caches.bytes() <= 1 << 20);
//! ```

use crate::heap_size::HeapSize;
use quick_cache::sync::{Cache, GuardResult};
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};
use std::any::{Any, TypeId};
use std::fmt::Write;
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A key type of one kind of cached value. The code that caches a result defines its key type (the data's
/// generation, the filter, the parsed parameters) and names the value type, so every lookup is typed.
pub trait CacheEntry: Clone + Eq + Hash + HeapSize + Send + Sync + 'static {
    /// What is cached under this key.
    type Value: Clone + Send + Sync + HeapSize + 'static;
    /// The kind: the `cache` label of the metrics (`[a-z0-9_]+`).
    const KIND: &'static str;
}

/// An `f64` parameter in a key: equal when the bits are equal (parameters are finite, parsed values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct F64Key(u64);

impl From<f64> for F64Key {
    fn from(v: f64) -> F64Key {
        F64Key(v.to_bits())
    }
}

/// A key of any kind, behind one pointer: equal when of the same type and equal.
trait AnyKey: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn eq_key(&self, other: &dyn AnyKey) -> bool;
    fn hash_key(&self, state: &mut dyn Hasher);
    fn kind(&self) -> &'static str;
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

    fn kind(&self) -> &'static str {
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

/// The hit and miss counters of one kind.
struct Counters {
    kind: &'static str,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Counters {
    fn new(kind: &'static str) -> Counters {
        Counters {
            kind,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

/// Values of many kinds, bounded together by bytes (see the module docs).
pub struct Caches {
    entries: Cache<Key, Stored, ByWeight>,
    budget_bytes: u64,
    largest_entry_bytes: u64,
    /// The kinds named at creation, then any other kind in the order of its first lookup.
    counters: RwLock<Vec<Arc<Counters>>>,
}

/// Shards of the cache (lock striping): four per core, as quick_cache chooses by default.
fn shard_count() -> u64 {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    (cores as u64 * 4).next_power_of_two()
}

/// The least share of the budget a shard gets (when the budget is at least this): the largest entry the cache
/// keeps. A budget below `shards x` this gets fewer shards rather than shards too small for one filter's
/// surface of a national tenant (tens of MiB).
pub const MIN_SHARD_BYTES: u64 = 64 << 20;

/// The number of shards for `budget_bytes`: [`shard_count`], fewer when a shard would get less than
/// [`MIN_SHARD_BYTES`] (at least 1), and never more than the budget in bytes; a power of two.
fn shards_for(budget_bytes: u64) -> u64 {
    let largest_power_of_two_within = |v: u64| 1u64 << (63 - v.max(1).leading_zeros());
    shard_count()
        .min(largest_power_of_two_within(budget_bytes / MIN_SHARD_BYTES))
        .min(largest_power_of_two_within(budget_bytes))
}

impl Caches {
    /// Caches holding at most `budget_bytes` (at least 1) of entries. `kinds` are listed by [`Caches::stats`] and
    /// [`Caches::render_metrics`] from the start, in this order (a kind not named here is listed after its first
    /// lookup).
    pub fn new(budget_bytes: u64, kinds: &[&'static str]) -> Caches {
        let budget_bytes = budget_bytes.max(1);
        // Every shard gets the same whole number of bytes, so the shards together never exceed the budget.
        let shards = shards_for(budget_bytes);
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
        let mut counters: Vec<Arc<Counters>> = Vec::with_capacity(kinds.len());
        for &kind in kinds {
            if !counters.iter().any(|c| c.kind == kind) {
                counters.push(Arc::new(Counters::new(kind)));
            }
        }
        Caches {
            entries,
            budget_bytes,
            largest_entry_bytes: capacity / shards,
            counters: RwLock::new(counters),
        }
    }

    /// The heaviest entry (bytes, key and overhead included) the cache keeps: one shard's share of the budget.
    pub fn largest_entry_bytes(&self) -> u64 {
        self.largest_entry_bytes
    }

    /// The budget in bytes.
    pub fn budget_bytes(&self) -> u64 {
        self.budget_bytes
    }

    /// The weight of every entry together, bytes (at most the budget).
    pub fn bytes(&self) -> u64 {
        self.entries.weight()
    }

    fn counters(&self, kind: &'static str) -> Arc<Counters> {
        {
            let list = self.counters.read().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = list.iter().find(|c| c.kind == kind) {
                return c.clone();
            }
        }
        let mut list = self.counters.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = list.iter().find(|c| c.kind == kind) {
            return c.clone();
        }
        let c = Arc::new(Counters::new(kind));
        list.push(c.clone());
        c
    }

    fn count(&self, kind: &'static str, hit: bool) {
        let c = self.counters(kind);
        let counter = if hit { &c.hits } else { &c.misses };
        counter.fetch_add(1, Ordering::Relaxed);
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

    /// Drop every entry (the counters stay).
    pub fn clear(&self) {
        self.entries.clear();
    }

    /// Hits, misses, bytes and entries of every kind: the kinds named at creation in their order, then the
    /// others in the order of their first lookup.
    pub fn stats(&self) -> Vec<(&'static str, KindStats)> {
        let list: Vec<Arc<Counters>> = self
            .counters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut stats: Vec<(&'static str, KindStats)> = list
            .iter()
            .map(|c| {
                let s = KindStats {
                    hits: c.hits.load(Ordering::Relaxed),
                    misses: c.misses.load(Ordering::Relaxed),
                    ..KindStats::default()
                };
                (c.kind, s)
            })
            .collect();
        for (key, stored) in self.entries.iter() {
            let kind = key.0.kind();
            let at = match stats.iter().position(|(k, _)| *k == kind) {
                Some(at) => at,
                None => {
                    stats.push((kind, KindStats::default()));
                    stats.len() - 1
                }
            };
            stats[at].1.bytes += stored.weight;
            stats[at].1.entries += 1;
        }
        stats
    }

    /// The figures of one kind (all zero for a kind never seen).
    pub fn kind_stats(&self, kind: &str) -> KindStats {
        self.stats()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s)
            .unwrap_or_default()
    }

    /// The caches' lines of the Prometheus text: `brandpunt_cache_{hits,misses}_total` and
    /// `brandpunt_cache_{bytes,entries}` per kind (label `cache`), and `brandpunt_cache_budget_bytes`.
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
                let _ = writeln!(out, "{name}{{cache=\"{k}\"}} {}", value(s));
            }
        }
        let _ = writeln!(
            out,
            "# HELP brandpunt_cache_budget_bytes The byte budget of all caches together ([limits] cache_bytes).\n\
             # TYPE brandpunt_cache_budget_bytes gauge\nbrandpunt_cache_budget_bytes {}",
            self.budget_bytes
        );
        let _ = writeln!(
            out,
            "# HELP brandpunt_cache_largest_entry_bytes The heaviest entry the caches keep (one shard's share of the budget).\n\
             # TYPE brandpunt_cache_largest_entry_bytes gauge\nbrandpunt_cache_largest_entry_bytes {}",
            self.largest_entry_bytes
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KINDS: &[&str] = &["counts", "streets"];

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
        const KIND: &'static str = "counts";
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
        const KIND: &'static str = "streets";
    }

    /// A kind not named at creation.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct LateOf(u8);

    impl HeapSize for LateOf {
        fn heap_bytes(&self) -> usize {
            0
        }
    }

    impl CacheEntry for LateOf {
        type Value = u8;
        const KIND: &'static str = "late";
    }

    fn counts_key(generation: u64) -> CountsOf {
        CountsOf {
            generation,
            filter: "c=;s=".into(),
        }
    }

    #[test]
    fn values_come_back_typed_and_are_counted() {
        let c = Caches::new(1 << 20, KINDS);
        assert_eq!(c.get(&counts_key(1)), None);
        c.insert(counts_key(1), Arc::new(vec![1, 2, 3]));
        assert_eq!(c.get(&counts_key(1)).as_deref(), Some(&vec![1, 2, 3]));
        // Another generation is another key.
        assert_eq!(c.get(&counts_key(2)), None);
        let s = c.kind_stats("counts");
        assert_eq!((s.hits, s.misses, s.entries), (1, 2, 1));
        assert!(s.bytes as usize >= 3 * 4 + size_of::<CountsOf>());
        assert_eq!(c.bytes(), s.bytes);
    }

    #[test]
    fn keys_of_different_types_never_meet() {
        let c = Caches::new(1 << 20, KINDS);
        c.insert(counts_key(1), Arc::new(vec![1]));
        let streets = StreetsOf {
            generation: 1,
            filter: "c=;s=".into(),
        };
        assert_eq!(c.get(&streets), None);
        c.insert(streets.clone(), Arc::new(HashMap::new()));
        assert_eq!(c.get(&counts_key(1)).as_deref(), Some(&vec![1]));
        assert!(c.get(&streets).is_some_and(|m| m.is_empty()));
        assert_eq!(c.kind_stats("streets").entries, 1);
    }

    #[test]
    fn get_or_insert_computes_once_and_keeps_no_error() {
        let c = Caches::new(1 << 20, KINDS);
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
        let s = c.kind_stats("streets");
        assert_eq!((s.hits, s.misses), (2, 2));
    }

    #[test]
    fn a_tiny_budget_is_never_exceeded() {
        for budget in [1, 5, 1000, 4096, 100_000] {
            let c = Caches::new(budget, KINDS);
            for g in 0..200 {
                c.insert(counts_key(g), Arc::new(vec![0; (g as usize * 37) % 500]));
                assert!(c.bytes() <= budget, "{} > {budget}", c.bytes());
            }
        }
    }

    /// A value that claims `.0` heap bytes without holding them.
    #[derive(Clone, Debug, PartialEq)]
    struct Claimed(usize);

    impl HeapSize for Claimed {
        fn heap_bytes(&self) -> usize {
            self.0
        }
    }

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct ClaimedOf(u8);

    impl HeapSize for ClaimedOf {
        fn heap_bytes(&self) -> usize {
            0
        }
    }

    impl CacheEntry for ClaimedOf {
        type Value = Claimed;
        const KIND: &'static str = "claimed";
    }

    #[test]
    fn a_small_budget_has_fewer_shards_and_keeps_one_large_entry() {
        let mib = 1u64 << 20;
        for budget in [64 * mib, 128 * mib, 300 * mib, 4096 * mib] {
            let c = Caches::new(budget, KINDS);
            let largest = c.largest_entry_bytes();
            assert!(
                largest >= MIN_SHARD_BYTES && largest <= budget,
                "{budget}: {largest}"
            );
            // An entry of 60 MiB is kept under every budget of at least 64 MiB.
            c.insert(ClaimedOf(1), Claimed(60 << 20));
            assert_eq!(c.get(&ClaimedOf(1)), Some(Claimed(60 << 20)), "{budget}");
            // One heavier than a shard is answered but not kept.
            c.insert(ClaimedOf(2), Claimed(largest as usize));
            assert_eq!(c.get(&ClaimedOf(2)), None, "{budget}");
            assert!(c.bytes() <= budget);
        }
        // Below the least shard: one shard of the whole budget.
        let c = Caches::new(10 * mib, KINDS);
        assert_eq!(c.largest_entry_bytes(), 10 * mib);
        assert_eq!(Caches::new(1, KINDS).largest_entry_bytes(), 1);
    }

    #[test]
    fn clear_drops_everything() {
        let c = Caches::new(1 << 20, KINDS);
        c.insert(counts_key(1), Arc::new(vec![1]));
        c.clear();
        assert_eq!(c.bytes(), 0);
        assert!(c.stats().iter().all(|(_, s)| s.entries == 0));
    }

    #[test]
    fn kinds_are_listed_in_order_and_late_kinds_after_them() {
        let c = Caches::new(1 << 20, &["streets", "counts", "streets"]);
        let kinds = |c: &Caches| c.stats().iter().map(|(k, _)| *k).collect::<Vec<_>>();
        assert_eq!(kinds(&c), ["streets", "counts"]);
        c.insert(LateOf(1), 9);
        assert_eq!(kinds(&c), ["streets", "counts", "late"]);
        assert_eq!(c.get(&LateOf(1)), Some(9));
        assert_eq!(kinds(&c), ["streets", "counts", "late"]);
        assert_eq!(c.kind_stats("late").hits, 1);
        assert_eq!(c.kind_stats("never"), KindStats::default());
    }

    #[test]
    fn metrics_name_every_kind() {
        let c = Caches::new(1 << 20, KINDS);
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
        // 1 MiB is below the least shard: one shard keeps an entry of up to the whole budget.
        assert!(
            out.contains("brandpunt_cache_largest_entry_bytes 1048576\n"),
            "{out}"
        );
        for k in KINDS {
            assert!(
                out.contains(&format!("brandpunt_cache_bytes{{cache=\"{k}\"}}")),
                "{k}"
            );
        }
    }
}
