//! The rule of an incident delivery, shared by every backend's [`IncidentSink`]: a new registration is inserted
//! as version 1, one whose stored content hash is the same is unchanged, one with another hash is archived and
//! replaced by the next version. Rows are decided in push order, so a registration repeated within a delivery
//! is compared with its previous row. The backends only say where a stored registration is
//! ([`RegistrationLookup`]) and carry out the [`Decision`].
//!
//! Memory is bounded whatever the size of the delivery: the preloaded registrations (at most [`PRELOAD_MAX`])
//! and a fixed-size filter of the registrations this delivery wrote ([`Written`]).

use super::{DeliveryOutcome, IncidentRecord, StoreError};

/// Registration-keyed maps use FxHash: registration numbers come from the police's and municipalities' own
/// systems, not from an adversary, and SipHash showed up in the import profile.
pub(super) type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// At most this many stored registrations are preloaded into memory by an incident sink; a larger tenant and
/// source looks every row up in the unique index instead, so the sink's memory does not grow with the table
/// (about 190 bytes per preloaded registration).
pub(super) const PRELOAD_MAX: i64 = 1_000_000;

/// Bits of the filter of registrations an incident sink wrote ([`Written`]): 2^26 bits = 8 MiB whatever the
/// size of the delivery.
const WRITTEN_FILTER_BITS: u64 = 1 << 26;

/// Bit positions per registration in [`Written`]. Four, not two: a 1 M-row delivery with two made 297 exact
/// look-ups of false "maybe written" registrations (on PostgreSQL each a round trip that also waits for the
/// batch being merged: 0.4 s of the import); four make about ten.
const WRITTEN_FILTER_PROBES: u64 = 4;

/// A Bloom filter ([`WRITTEN_FILTER_PROBES`] bit positions per registration) of the registrations an incident
/// sink inserted or replaced. "Not written" is certain; "maybe written" (a registration repeated within the
/// delivery, or a false positive: about 0.4 % of rows after 5 M rows, 0.001 % after 1 M) costs one exact look-up
/// in the unique index. Its memory is fixed, so the sink's memory does not grow with the delivery.
pub(super) struct Written {
    bits: Vec<u64>,
}

impl Written {
    pub(super) fn new() -> Written {
        // Zeroed memory: pages are only made resident when a bit in them is set.
        Written {
            bits: vec![0; (WRITTEN_FILTER_BITS / 64) as usize],
        }
    }

    /// The bit positions of `registration`: double hashing of one SipHash-1-3 value (fixed keys), `low + i *
    /// step` with an odd step, so the positions are distinct in the power-of-two filter.
    fn positions(registration: &str) -> impl Iterator<Item = u64> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        registration.hash(&mut h);
        let h = h.finish();
        let step = (h >> 32) | 1;
        (0..WRITTEN_FILTER_PROBES)
            .map(move |i| h.wrapping_add(i.wrapping_mul(step)) % WRITTEN_FILTER_BITS)
    }

    pub(super) fn insert(&mut self, registration: &str) {
        for p in Self::positions(registration) {
            if let Some(word) = self.bits.get_mut((p / 64) as usize) {
                *word |= 1 << (p % 64);
            }
        }
    }

    pub(super) fn maybe_contains(&self, registration: &str) -> bool {
        Self::positions(registration).all(|p| {
            self.bits
                .get((p / 64) as usize)
                .is_some_and(|word| word & (1 << (p % 64)) != 0)
        })
    }
}

/// A registration as stored: its row id, version and whether its content hash is the pushed row's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stored {
    pub id: i64,
    pub version: i64,
    pub same_content: bool,
}

/// What a backend does with a pushed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// A new registration: insert it as version 1 (it may wait in a batch).
    Insert,
    /// The stored row has the same content: nothing is written.
    Unchanged,
    /// Archive the stored row `id` to the history, delete it and insert the pushed row as `next_version`,
    /// after every row pushed before it.
    Replace { id: i64, next_version: i64 },
}

/// Where a backend finds stored registrations.
pub(super) trait RegistrationLookup {
    /// Whether a row of `registration` waits in the backend's batch, not yet written.
    fn pending_contains(&self, registration: &str) -> bool;
    /// Write the waiting rows (in push order).
    fn flush(&mut self) -> Result<(), StoreError>;
    /// The stored row of `incident`'s registration (tenant and source of the delivery), exactly.
    fn find(&self, incident: &IncidentRecord) -> Result<Option<Stored>, StoreError>;
}

/// The decision rule of one delivery (see the module doc) and its outcome counts.
pub(super) struct IncidentRule {
    /// Registration -> (row id, version, content hash) of the tenant and source, when preloaded.
    preloaded: Option<FxMap<String, (i64, i64, String)>>,
    /// The registrations this delivery inserted or replaced: one that may be here is looked up exactly.
    written: Written,
    outcome: DeliveryOutcome,
}

impl IncidentRule {
    /// How many stored registrations of the tenant and source a sink expecting `expected_rows` preloads at
    /// most: twice the expected rows (an initial load, a re-delivery), at most [`PRELOAD_MAX`]. When the
    /// tenant and source have more, none are preloaded and every row is looked up.
    pub(super) fn preload_limit(expected_rows: u64) -> i64 {
        i64::try_from(expected_rows)
            .unwrap_or(i64::MAX)
            .saturating_mul(2)
            .min(PRELOAD_MAX)
    }

    /// The rule of delivery `delivery_id`, with the stored registrations of its tenant and source when they
    /// were preloaded (`None`: look each up).
    pub(super) fn new(
        delivery_id: i64,
        preloaded: Option<FxMap<String, (i64, i64, String)>>,
    ) -> IncidentRule {
        IncidentRule {
            preloaded,
            written: Written::new(),
            outcome: DeliveryOutcome {
                delivery_id: Some(delivery_id),
                ..Default::default()
            },
        }
    }

    /// Decide what happens to `incident`, the next pushed row, and count it. A registration this delivery
    /// may have written is looked up exactly (after writing the batch when it waits there); otherwise the
    /// preloaded map answers, or the backend's index.
    pub(super) fn decide(
        &mut self,
        incident: &IncidentRecord,
        lookup: &mut impl RegistrationLookup,
    ) -> Result<Decision, StoreError> {
        let registration = incident.registration.as_str();
        let stored = if self.written.maybe_contains(registration) {
            if lookup.pending_contains(registration) {
                lookup.flush()?;
            }
            lookup.find(incident)?
        } else if let Some(map) = &self.preloaded {
            map.get(registration).map(|(id, version, hash)| Stored {
                id: *id,
                version: *version,
                same_content: *hash == incident.content_hash,
            })
        } else {
            lookup.find(incident)?
        };
        Ok(match stored {
            None => {
                self.written.insert(registration);
                self.outcome.inserted += 1;
                Decision::Insert
            }
            Some(Stored {
                same_content: true, ..
            }) => {
                self.outcome.unchanged += 1;
                Decision::Unchanged
            }
            Some(Stored { id, version, .. }) => {
                self.written.insert(registration);
                self.outcome.replaced += 1;
                Decision::Replace {
                    id,
                    next_version: version + 1,
                }
            }
        })
    }

    /// Count one report row.
    pub(super) fn reported(&mut self) {
        self.outcome.reported += 1;
    }

    /// The counts so far.
    pub(super) fn outcome(&self) -> &DeliveryOutcome {
        &self.outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocatedBy;

    fn incident(registration: &str, hash: &str) -> IncidentRecord {
        let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        IncidentRecord {
            line: 2,
            registration: registration.into(),
            begin: at,
            end: at,
            time_known: true,
            category_code: None,
            category_label: None,
            street: None,
            huisnummer: None,
            huisletter: None,
            toevoeging: None,
            postcode: None,
            plaats: None,
            bag_id: None,
            x_m: None,
            y_m: None,
            buurtcode: None,
            located_by: LocatedBy::None,
            match_kind: None,
            match_score: None,
            extra: Default::default(),
            content_hash: hash.into(),
        }
    }

    /// A store in memory: registration -> (id, version, hash), with a batch of waiting inserts.
    #[derive(Default)]
    struct Memory {
        rows: FxMap<String, (i64, i64, String)>,
        pending: Vec<IncidentRecord>,
        next_id: i64,
        flushes: usize,
        finds: std::cell::Cell<usize>,
    }

    impl Memory {
        fn apply(&mut self, decision: Decision, inc: IncidentRecord) {
            match decision {
                Decision::Insert => self.pending.push(inc),
                Decision::Unchanged => {}
                Decision::Replace { next_version, .. } => {
                    self.write_pending();
                    self.next_id += 1;
                    self.rows.insert(
                        inc.registration.clone(),
                        (self.next_id, next_version, inc.content_hash),
                    );
                }
            }
        }
    }

    impl Memory {
        fn write_pending(&mut self) {
            for inc in std::mem::take(&mut self.pending) {
                self.next_id += 1;
                self.rows
                    .insert(inc.registration, (self.next_id, 1, inc.content_hash));
            }
        }
    }

    impl RegistrationLookup for Memory {
        fn pending_contains(&self, registration: &str) -> bool {
            self.pending.iter().any(|p| p.registration == registration)
        }
        fn flush(&mut self) -> Result<(), StoreError> {
            // Only the rule's flushes are counted.
            self.flushes += 1;
            self.write_pending();
            Ok(())
        }
        fn find(&self, inc: &IncidentRecord) -> Result<Option<Stored>, StoreError> {
            self.finds.set(self.finds.get() + 1);
            Ok(self.rows.get(&inc.registration).map(|(id, v, h)| Stored {
                id: *id,
                version: *v,
                same_content: *h == inc.content_hash,
            }))
        }
    }

    fn run(rule: &mut IncidentRule, store: &mut Memory, rows: &[(&str, &str)]) -> Vec<Decision> {
        rows.iter()
            .map(|(r, h)| {
                let inc = incident(r, h);
                let d = rule.decide(&inc, store).unwrap();
                store.apply(d, inc);
                d
            })
            .collect()
    }

    #[test]
    fn new_same_and_changed_rows_in_push_order() {
        let mut store = Memory::default();
        let mut rule = IncidentRule::new(1, Some(FxMap::default()));
        let d = run(
            &mut rule,
            &mut store,
            &[("A", "a"), ("B", "b"), ("A", "a"), ("A", "a2"), ("A", "a2")],
        );
        assert_eq!(d[0], Decision::Insert);
        assert_eq!(d[1], Decision::Insert);
        // The repeat of A waits in the batch: the batch is written first, then A is found unchanged.
        assert_eq!(d[2], Decision::Unchanged);
        assert_eq!(store.flushes, 1);
        assert!(matches!(
            d[3],
            Decision::Replace {
                next_version: 2,
                ..
            }
        ));
        assert_eq!(d[4], Decision::Unchanged);
        let o = rule.outcome();
        assert_eq!((o.inserted, o.unchanged, o.replaced), (2, 2, 1));
        assert_eq!(o.delivery_id, Some(1));
    }

    #[test]
    fn preloaded_registrations_answer_without_a_lookup() {
        let mut store = Memory::default();
        store.rows.insert("A".into(), (7, 3, "a".into()));
        let preloaded = store.rows.clone();
        let mut rule = IncidentRule::new(2, Some(preloaded));
        let d = run(&mut rule, &mut store, &[("A", "a"), ("B", "b")]);
        assert_eq!(d, [Decision::Unchanged, Decision::Insert]);
        assert_eq!(store.finds.get(), 0);
        let d = run(&mut rule, &mut store, &[("X", "x")]);
        assert_eq!(d, [Decision::Insert]);
        // Without a preloaded map the index answers: the stored row is replaced by the next version.
        let mut rule = IncidentRule::new(3, None);
        let d = run(&mut rule, &mut store, &[("A", "changed")]);
        assert_eq!(
            d,
            [Decision::Replace {
                id: 7,
                next_version: 4
            }]
        );
        rule.reported();
        assert_eq!(rule.outcome().reported, 1);
    }

    #[test]
    fn the_preload_limit_is_twice_the_expected_rows_at_most_preload_max() {
        assert_eq!(IncidentRule::preload_limit(10), 20);
        assert_eq!(IncidentRule::preload_limit(u64::MAX), PRELOAD_MAX);
    }

    #[test]
    fn written_registrations_are_always_maybe_contained() {
        let mut w = Written::new();
        for k in 0..10_000 {
            w.insert(&format!("R{k}"));
        }
        assert!((0..10_000).all(|k| w.maybe_contains(&format!("R{k}"))));
        let false_positives = (10_000..20_000)
            .filter(|k| w.maybe_contains(&format!("R{k}")))
            .count();
        assert!(false_positives < 10, "{false_positives}");
    }

    /// At 1 M written registrations (a national delivery) about 0.001 % of new ones are "maybe written" (with
    /// two probes about 0.09 %, some 90 of these 100,000, by the usual estimate (1 - e^(-kn/m))^k).
    #[test]
    fn few_false_positives_after_a_million_registrations() {
        let mut w = Written::new();
        for k in 0..1_000_000 {
            w.insert(&format!("PL0100-{k:012}"));
        }
        let false_positives = (1_000_000..1_100_000)
            .filter(|k| w.maybe_contains(&format!("PL0100-{k:012}")))
            .count();
        assert!(false_positives < 20, "{false_positives}");
    }
}
