//! Approximate heap bytes of a value: what a cached result costs beyond its fixed size, so that caches can be
//! bounded by memory rather than by entry count.
//!
//! [`HeapSize::heap_bytes`] counts the allocations a value owns (vector and string capacities, boxed and
//! shared contents, map tables, recursively), not allocator overhead or padding. Shared data behind an
//! [`Arc`] is counted by every owner: an estimate for budgeting, not an accounting of the process.
//!
//! ```
//! use brandpunt::heap_size::HeapSize;
//!
//! let counts: Vec<u32> = Vec::with_capacity(1000);
//! assert_eq!(counts.heap_bytes(), 4000);
//! let names = vec!["Centrum".to_string()];
//! assert!(names.heap_bytes() >= std::mem::size_of::<String>() + "Centrum".len());
//! assert_eq!(Some(7u64).heap_bytes(), 0);
//! ```

use chrono::NaiveDate;
use geo_types::{Coord, LineString, MultiPolygon, Polygon, Rect};
use std::collections::HashMap;
use std::mem::size_of;
use std::sync::Arc;

/// Heap bytes a value owns (see the module docs).
pub trait HeapSize {
    /// Bytes of the allocations owned by `self`, excluding `size_of_val(self)`.
    fn heap_bytes(&self) -> usize;
}

/// Values that own no heap memory.
macro_rules! no_heap {
    ($($t:ty),* $(,)?) => {
        $(impl HeapSize for $t {
            #[inline]
            fn heap_bytes(&self) -> usize {
                0
            }
        })*
    };
}

no_heap!(
    u8,
    u16,
    u32,
    u64,
    usize,
    i8,
    i16,
    i32,
    i64,
    f32,
    f64,
    bool,
    char,
    NaiveDate,
    Coord<f64>,
    Rect<f64>,
    crate::suppression::Status,
    crate::analysis::grid::BinId,
    crate::analysis::grid::BinSpec,
    crate::analysis::emerging::LocationTrend,
);

impl HeapSize for String {
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * size_of::<T>() + self.iter().map(HeapSize::heap_bytes).sum::<usize>()
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, HeapSize::heap_bytes)
    }
}

impl<T: HeapSize> HeapSize for Arc<T> {
    /// The shared allocation (two reference counts and the value) and what the value owns.
    fn heap_bytes(&self) -> usize {
        2 * size_of::<usize>() + size_of::<T>() + T::heap_bytes(self)
    }
}

impl<A: HeapSize, B: HeapSize> HeapSize for (A, B) {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes()
    }
}

impl<K: HeapSize, V: HeapSize, S> HeapSize for HashMap<K, V, S> {
    /// The table (one control byte per bucket besides the pair) and what keys and values own.
    fn heap_bytes(&self) -> usize {
        self.capacity() * (size_of::<(K, V)>() + 1)
            + self
                .iter()
                .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
                .sum::<usize>()
    }
}

impl HeapSize for LineString<f64> {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

impl HeapSize for Polygon<f64> {
    fn heap_bytes(&self) -> usize {
        self.exterior().heap_bytes()
            + std::mem::size_of_val(self.interiors())
            + self
                .interiors()
                .iter()
                .map(HeapSize::heap_bytes)
                .sum::<usize>()
    }
}

impl HeapSize for MultiPolygon<f64> {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

impl HeapSize for crate::suppression::Protected {
    fn heap_bytes(&self) -> usize {
        self.counts.heap_bytes() + self.status.heap_bytes()
    }
}

impl HeapSize for crate::analysis::gistar::GiStarResult {
    fn heap_bytes(&self) -> usize {
        self.z.heap_bytes()
            + self.p.heap_bytes()
            + self.bin.heap_bytes()
            + self.fdr_significant.heap_bytes()
            + self.pseudo_p.heap_bytes()
    }
}

impl HeapSize for crate::analysis::emerging::EmergingResult {
    fn heap_bytes(&self) -> usize {
        self.locations.heap_bytes() + self.bin_z.heap_bytes() + self.bin_p.heap_bytes()
    }
}

impl HeapSize for crate::analysis::emerging::TimeSteps {
    fn heap_bytes(&self) -> usize {
        self.starts.heap_bytes() + self.ends.heap_bytes()
    }
}

impl<T: HeapSize> HeapSize for crate::analysis::kde::Kde<T> {
    fn heap_bytes(&self) -> usize {
        self.raster.values.heap_bytes()
    }
}

impl HeapSize for crate::analysis::striking::StrikingArea {
    fn heap_bytes(&self) -> usize {
        self.area_id.heap_bytes() + self.category.heap_bytes()
    }
}

impl HeapSize for crate::analysis::profile::AddressAttrs {
    fn heap_bytes(&self) -> usize {
        self.address_id.heap_bytes() + self.gebruiksdoelen.heap_bytes()
    }
}

impl HeapSize for crate::analysis::profile::ProfileData {
    fn heap_bytes(&self) -> usize {
        self.addresses.heap_bytes() + self.bag_ids.heap_bytes()
    }
}

impl HeapSize for crate::analysis::profile::ProfileAddress {
    fn heap_bytes(&self) -> usize {
        self.attrs.heap_bytes() + self.buurtcode.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_count_their_capacity_and_their_elements_heap() {
        let v: Vec<u64> = Vec::with_capacity(10);
        assert_eq!(v.heap_bytes(), 80);
        let s = vec![String::with_capacity(5), String::with_capacity(7)];
        assert_eq!(s.heap_bytes(), s.capacity() * size_of::<String>() + 5 + 7);
    }

    #[test]
    fn shared_values_count_their_allocation() {
        let a = Arc::new(vec![0u32; 4]);
        assert_eq!(
            a.heap_bytes(),
            2 * size_of::<usize>() + size_of::<Vec<u32>>() + 16
        );
        assert_eq!(None::<Arc<Vec<u32>>>.heap_bytes(), 0);
    }

    #[test]
    fn polygons_count_their_rings() {
        let square: MultiPolygon<f64> = Rect::new((0.0, 0.0), (10.0, 10.0)).to_polygon().into();
        // Five coordinates of 16 bytes (closed ring), at least.
        assert!(square.heap_bytes() >= 5 * 16 + size_of::<Polygon<f64>>());
    }

    #[test]
    fn maps_count_their_table_and_contents() {
        let mut m: HashMap<i64, String> = HashMap::new();
        m.insert(1, "Dorpsstraat".to_string());
        assert!(m.heap_bytes() >= m.capacity() * (size_of::<(i64, String)>() + 1) + 11);
    }

    #[test]
    fn protected_tables_count_counts_and_statuses() {
        let p = crate::suppression::Protected::exact(vec![1, 2, 3]);
        assert!(p.heap_bytes() >= 3 * 8 + 3 * size_of::<crate::suppression::Status>());
    }
}
