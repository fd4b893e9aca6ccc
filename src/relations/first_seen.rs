//! Numbering keys in the order they first occur, on all cores: what one sequential pass over the occurrences with
//! a hash map gives (key `k` is the `k`th distinct key met), without the sequential pass.
//!
//! [`FirstSeen::new`] takes `n` occurrences of keys, each given by its position: a hash of its key and an
//! equality of the keys of two positions. The occurrences are split by the top bits of their hashes into
//! [`SHARDS`] shards (a counting sort per part of the positions, so each shard keeps its occurrences in position
//! order); each shard is interned on its own, in parallel, with a hash table small enough for a core's cache, and
//! folds the occurrences of each of its keys in position order. The keys of all shards are then numbered by the
//! position of their first occurrence (a scan of the marked first positions), which is the sequential numbering.
//! The shards' tables, renumbered to those numbers, stay usable as an index of the keys (see
//! [`shard_of`]).

use crate::cancel::{Cancel, Cancelled};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// Bits of a hash that choose its shard.
const SHARD_BITS: u32 = 8;
/// Number of shards.
pub(crate) const SHARDS: usize = 1 << SHARD_BITS;

/// The shard of a key with hash `hash`: bits 32-39. Not the top bits, which hashbrown keeps as a slot's tag (one
/// tag for every key of a shard would make each probe compare every key of a group), nor the low bits, which
/// choose the slot.
pub(crate) fn shard_of(hash: u64) -> usize {
    ((hash >> 32) as usize) & (SHARDS - 1)
}

/// Distinct keys numbered in first-occurrence order.
pub(crate) struct FirstSeen<A> {
    /// The number of the key of each occurrence, by position (empty unless asked for).
    pub of: Vec<u32>,
    /// The position of the first occurrence of each key, by number (ascending).
    pub first: Vec<u32>,
    /// The fold of each key's occurrences (`init` of the first, then `fold` of the others in position order), by
    /// number.
    pub folded: Vec<A>,
    /// [`SHARDS`] tables of key numbers: the keys whose hash is in shard `s` ([`shard_of`]) are in table `s`,
    /// stored under their hash.
    pub shards: Vec<hashbrown::HashTable<u32>>,
}

/// One shard while it is interned.
struct Shard<A> {
    table: hashbrown::HashTable<u32>,
    /// By local number: the position of the first occurrence, the hash, the fold.
    firsts: Vec<u32>,
    hashes: Vec<u64>,
    folded: Vec<A>,
    /// The local number of each of the shard's occurrences, in position order.
    local_of: Vec<u32>,
}

impl<A: Send> FirstSeen<A> {
    /// Numbers the keys of the `n` occurrences (`n < u32::MAX`). `hash(j)`: the hash of the key of occurrence
    /// `j`; `same(i, j)`: are the keys of occurrences `i` and `j` equal (called only when their hashes are equal);
    /// `init(j)`/`fold(a, j)`: the fold of a key's occurrences. `with_of`: make [`FirstSeen::of`]. `part`:
    /// occurrences per unit of parallel work (and between two checks of `cancel`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        n: usize,
        hash: impl Fn(usize) -> u64 + Sync,
        same: impl Fn(usize, usize) -> bool + Sync,
        init: impl Fn(usize) -> A + Sync,
        fold: impl Fn(&mut A, usize) + Sync,
        with_of: bool,
        part: usize,
        cancel: &Cancel,
    ) -> Result<FirstSeen<A>, Cancelled> {
        let part = part.max(1);
        let mut hashes = vec![0u64; n];
        hashes
            .par_chunks_mut(part)
            .enumerate()
            .try_for_each(|(c, out)| {
                cancel.check()?;
                for (k, h) in out.iter_mut().enumerate() {
                    *h = hash(c * part + k);
                }
                Ok(())
            })?;
        // Per part, its positions sorted by shard (a counting sort: in position order within a shard).
        let parts: Vec<(Vec<u32>, Vec<u32>)> = hashes
            .par_chunks(part)
            .enumerate()
            .map(|(c, hs)| {
                let mut offsets = vec![0u32; SHARDS + 1];
                for &h in hs {
                    offsets[shard_of(h) + 1] += 1;
                }
                for s in 0..SHARDS {
                    offsets[s + 1] += offsets[s];
                }
                let mut fill = offsets[..SHARDS].to_vec();
                let mut items = vec![0u32; hs.len()];
                for (k, &h) in hs.iter().enumerate() {
                    let slot = &mut fill[shard_of(h)];
                    items[*slot as usize] = (c * part + k) as u32;
                    *slot += 1;
                }
                (offsets, items)
            })
            .collect();
        let occurrences = |s: usize| {
            parts
                .iter()
                .flat_map(move |(offsets, items)| {
                    &items[offsets[s] as usize..offsets[s + 1] as usize]
                })
                .map(|&j| j as usize)
        };
        let mut shards: Vec<Shard<A>> = (0..SHARDS)
            .into_par_iter()
            .map(|s| {
                cancel.check()?;
                let count: usize = parts
                    .iter()
                    .map(|(offsets, _)| (offsets[s + 1] - offsets[s]) as usize)
                    .sum();
                let mut shard = Shard {
                    table: hashbrown::HashTable::with_capacity(count),
                    firsts: Vec::new(),
                    hashes: Vec::new(),
                    folded: Vec::new(),
                    local_of: Vec::with_capacity(if with_of { count } else { 0 }),
                };
                for j in occurrences(s) {
                    let h = hashes[j];
                    let (firsts, key_hashes) = (&shard.firsts, &shard.hashes);
                    let found = shard
                        .table
                        .find(h, |&l| {
                            key_hashes[l as usize] == h && same(firsts[l as usize] as usize, j)
                        })
                        .copied();
                    let l = match found {
                        Some(l) => {
                            fold(&mut shard.folded[l as usize], j);
                            l
                        }
                        None => {
                            let l = shard.firsts.len() as u32;
                            shard.firsts.push(j as u32);
                            shard.hashes.push(h);
                            shard.folded.push(init(j));
                            let key_hashes = &shard.hashes;
                            shard.table.insert_unique(h, l, |&m| key_hashes[m as usize]);
                            l
                        }
                    };
                    if with_of {
                        shard.local_of.push(l);
                    }
                }
                Ok(shard)
            })
            .collect::<Result<_, Cancelled>>()?;
        cancel.check()?;
        // Number the keys by their first positions: walk the marked positions in order, each taking the next
        // local key of its shard (a shard's local keys are in the order of their first positions too).
        let mut is_first = vec![false; n];
        for shard in &shards {
            for &p in &shard.firsts {
                is_first[p as usize] = true;
            }
        }
        let first: Vec<u32> = (0..n as u32).filter(|&p| is_first[p as usize]).collect();
        drop(is_first);
        let mut ids: Vec<Vec<u32>> = shards
            .iter()
            .map(|s| Vec::with_capacity(s.firsts.len()))
            .collect();
        let mut folds: Vec<std::vec::IntoIter<A>> = shards
            .iter_mut()
            .map(|s| std::mem::take(&mut s.folded).into_iter())
            .collect();
        let mut folded = Vec::with_capacity(first.len());
        for (k, &p) in first.iter().enumerate() {
            let s = shard_of(hashes[p as usize]);
            ids[s].push(k as u32);
            folded.extend(folds[s].next());
        }
        debug_assert_eq!(folded.len(), first.len());
        let n_of = if with_of { n } else { 0 };
        let of: Vec<AtomicU32> = (0..n_of)
            .into_par_iter()
            .map(|_| AtomicU32::new(0))
            .collect();
        let tables: Vec<hashbrown::HashTable<u32>> = shards
            .into_par_iter()
            .zip(ids)
            .enumerate()
            .map(|(s, (mut shard, ids))| {
                for v in shard.table.iter_mut() {
                    *v = ids[*v as usize];
                }
                for (j, &l) in occurrences(s).zip(&shard.local_of) {
                    of[j].store(ids[l as usize], Ordering::Relaxed);
                }
                shard.table
            })
            .collect();
        let of = of.into_iter().map(AtomicU32::into_inner).collect();
        Ok(FirstSeen {
            of,
            first,
            folded,
            shards: tables,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The sequential numbering with a hash map, for comparison.
    fn sequential(keys: &[u64]) -> (Vec<u32>, Vec<u32>, Vec<(usize, u32)>) {
        let mut at: HashMap<u64, u32> = HashMap::new();
        let (mut of, mut first, mut folded) = (Vec::new(), Vec::new(), Vec::<(usize, u32)>::new());
        for (j, &k) in keys.iter().enumerate() {
            let next = first.len() as u32;
            let id = *at.entry(k).or_insert(next);
            if id == next {
                first.push(j as u32);
                folded.push((j, 1));
            } else {
                folded[id as usize].1 += 1;
            }
            of.push(id);
        }
        (of, first, folded)
    }

    #[test]
    fn numbers_as_one_sequential_pass_does() {
        let mut x = 99u64;
        for (n, distinct, part) in [
            (0usize, 1u64, 4usize),
            (1, 1, 1),
            (1000, 10, 7),
            (5000, 3000, 64),
            (20_000, 20_000, 1000),
        ] {
            let keys: Vec<u64> = (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 33) % distinct
                })
                .collect();
            // A poor hash (many equal hashes of different keys) and a good one.
            for (poor, with_of) in [(true, true), (false, true), (false, false)] {
                let hash = |j: usize| {
                    if poor {
                        (keys[j] % 5) << 61
                    } else {
                        keys[j].wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    }
                };
                let got = FirstSeen::new(
                    n,
                    hash,
                    |i, j| keys[i] == keys[j],
                    |j| (j, 1u32),
                    |a, _| a.1 += 1,
                    with_of,
                    part,
                    &Cancel::never(),
                )
                .unwrap();
                let (of, first, folded) = sequential(&keys);
                if with_of {
                    assert_eq!(got.of, of, "n {n} poor {poor}");
                } else {
                    assert!(got.of.is_empty());
                }
                assert_eq!(got.first, first);
                assert_eq!(got.folded, folded);
                // The tables find every key under its number.
                for (k, &p) in first.iter().enumerate() {
                    let h = hash(p as usize);
                    let found = got.shards[shard_of(h)]
                        .find(h, |&v| keys[first[v as usize] as usize] == keys[p as usize]);
                    assert_eq!(found, Some(&(k as u32)));
                }
            }
        }
    }

    #[test]
    fn a_cancelled_token_stops_it() {
        let (cancel, guard) = Cancel::new();
        drop(guard);
        let r = FirstSeen::new(
            10,
            |j| j as u64,
            |i, j| i == j,
            |_| (),
            |_, _| (),
            true,
            4,
            &cancel,
        );
        assert!(r.is_err());
    }
}
