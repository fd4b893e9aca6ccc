//! A string interner for the in-memory lookup tables: each distinct string gets a dense `u32` id in first-seen
//! order. Its maps use FxHash ([`FxMap`]): keys are BAG names and normalised query text, not attacker-controlled
//! at a scale where hash flooding matters, and SipHash would cost more than the rest of a structured lookup.

/// `HashMap` with FxHash (the rustc hasher).
pub(crate) type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// String interner: each distinct string gets a dense `u32` id in first-seen order.
#[derive(Default)]
pub(crate) struct Interner {
    map: FxMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    /// Id of `s`, inserting it when new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.map.insert(s.into(), i);
        i
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Split into the lookup map and the id -> string table.
    pub(crate) fn into_parts(self) -> (FxMap<Box<str>, u32>, Vec<Box<str>>) {
        (self.map, self.names)
    }
}
