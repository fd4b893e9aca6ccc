//! Property tests of `brandpunt::suppression` on seeded random hierarchies (gemeente > wijken > buurten) and
//! time series (period total > steps).
//!
//! Oracle: the feasible interval of every withheld cell is computed here by exact enumeration over the tree
//! (a dynamic programme over the possible sums of every subtree, with every leaf value enumerated), which is
//! independent of the module's bound propagation.

use brandpunt::suppression::{
    feasible_intervals, protect, Cell, Protected, Relation, Status, SuppressionError, UNBOUNDED,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// A random tree: cell 0 is the root; `children[i]` are the parts of cell `i`.
struct Instance {
    cells: Vec<Cell>,
    children: Vec<Vec<usize>>,
    relations: Vec<Relation>,
    k: u32,
}

/// Cells from (code, count) pairs.
fn cells(list: &[(&str, u64)]) -> Vec<Cell> {
    list.iter()
        .map(|(c, n)| Cell {
            code: c.to_string(),
            count: *n,
        })
        .collect()
}

fn leaf_count(rng: &mut ChaCha8Rng, k: u32) -> u64 {
    let k = u64::from(k);
    match rng.gen_range(0..10) {
        0..=1 => 0,
        2..=5 => rng.gen_range(1..k),
        _ => rng.gen_range(k..=2 * k + 2),
    }
}

/// Depth 2 (time series: total > steps) or depth 3 (gemeente > wijken > buurten).
fn instance(seed: u64) -> Instance {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = rng.gen_range(3..=5);
    let mut children: Vec<Vec<usize>> = vec![vec![]];
    let mut counts: Vec<u64> = vec![0];
    if rng.gen_bool(0.3) {
        for _ in 0..rng.gen_range(1..=6) {
            children[0].push(counts.len());
            counts.push(leaf_count(&mut rng, k));
            children.push(vec![]);
        }
    } else {
        for _ in 0..rng.gen_range(1..=3) {
            let w = counts.len();
            children[0].push(w);
            counts.push(0);
            children.push(vec![]);
            for _ in 0..rng.gen_range(1..=4) {
                children[w].push(counts.len());
                counts.push(leaf_count(&mut rng, k));
                children.push(vec![]);
            }
        }
    }
    // Totals bottom-up (children have larger indices than their parent).
    for i in (0..counts.len()).rev() {
        if !children[i].is_empty() {
            counts[i] = children[i].iter().map(|&c| counts[c]).sum();
        }
    }
    // Codes in an order unrelated to the indices.
    let mut codes: Vec<String> = (0..counts.len()).map(|i| format!("X{i:03}")).collect();
    codes.shuffle(&mut rng);
    let cells = counts
        .iter()
        .zip(codes)
        .map(|(&count, code)| Cell { code, count })
        .collect();
    let relations = children
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_empty())
        .map(|(total, parts)| Relation {
            total,
            parts: parts.clone(),
        })
        .collect();
    Instance {
        cells,
        children,
        relations,
        k,
    }
}

/// For every feasible sum of the subtree of `node`: the (min, max) of every withheld cell in it over the
/// solutions with that sum.
type SumTable = BTreeMap<u64, BTreeMap<usize, (u64, u64)>>;

fn merge(into: &mut BTreeMap<usize, (u64, u64)>, from: &BTreeMap<usize, (u64, u64)>) {
    for (&c, &(lo, hi)) in from {
        let e = into.entry(c).or_insert((lo, hi));
        e.0 = e.0.min(lo);
        e.1 = e.1.max(hi);
    }
}

fn allowed(p: &Protected, i: usize, v: u64, cap: u64) -> bool {
    let k = u64::from(p.k);
    match p.status[i] {
        Status::Published => v == p.counts[i],
        Status::Primary => (1..k).contains(&v),
        Status::Secondary => v >= k && v <= cap,
        Status::Masked => v <= cap,
    }
}

fn subtree(inst: &Instance, p: &Protected, node: usize, cap: u64) -> SumTable {
    let mut acc: SumTable = BTreeMap::new();
    if inst.children[node].is_empty() {
        for v in 0..=cap {
            acc.insert(v, BTreeMap::new());
        }
    } else {
        acc.insert(0, BTreeMap::new());
        for &c in &inst.children[node] {
            let child = subtree(inst, p, c, cap);
            let mut next: SumTable = BTreeMap::new();
            for (a, va) in &acc {
                for (b, vb) in &child {
                    if a + b > cap {
                        continue;
                    }
                    let e = next.entry(a + b).or_default();
                    let mut both = va.clone();
                    for (&cell, &(lo, hi)) in vb {
                        both.insert(cell, (lo, hi));
                    }
                    merge(e, &both);
                }
            }
            acc = next;
        }
    }
    acc.into_iter()
        .filter(|(s, _)| allowed(p, node, *s, cap))
        .map(|(s, mut m)| {
            if p.status[node] != Status::Published {
                m.insert(node, (s, s));
            }
            (s, m)
        })
        .collect()
}

/// The exact feasible (min, max) of every withheld cell, values capped at `cap`.
fn oracle_intervals(inst: &Instance, p: &Protected) -> BTreeMap<usize, (u64, u64)> {
    let cap = inst.cells[0].count + u64::from(inst.k) + 2;
    let root = subtree(inst, p, 0, cap);
    assert!(!root.is_empty(), "the true counts must be feasible");
    let mut out = BTreeMap::new();
    for m in root.values() {
        merge(&mut out, m);
    }
    out
}

#[test]
fn published_values_are_exact_and_never_small() {
    for seed in 0..400 {
        let inst = instance(seed);
        let p = protect(&inst.cells, &inst.relations, inst.k).unwrap();
        let k = u64::from(inst.k);
        for (i, c) in inst.cells.iter().enumerate() {
            let small = (1..k).contains(&c.count);
            match p.published(i) {
                Some(v) => {
                    assert_eq!(v, c.count, "seed {seed}: cell {i} published inexactly");
                    assert!(!small, "seed {seed}: cell {i} = {} published", c.count);
                }
                None => {
                    let label = p.label(i).unwrap();
                    if p.status[i] == Status::Masked {
                        assert_eq!(label, "afgeschermd", "seed {seed}");
                    } else if small {
                        assert_eq!(label, format!("< {k}"), "seed {seed}");
                    } else {
                        assert!(
                            c.count >= k,
                            "seed {seed}: withheld 0 or small as complement"
                        );
                        assert_eq!(label, format!(">= {k}"), "seed {seed}");
                    }
                }
            }
        }
    }
}

#[test]
fn no_withheld_cell_can_be_pinned_down() {
    let mut withheld = 0;
    let mut complements = 0;
    let mut masked = 0;
    for seed in 0..400 {
        let inst = instance(seed);
        let p = protect(&inst.cells, &inst.relations, inst.k).unwrap();
        let oracle = oracle_intervals(&inst, &p);
        for i in 0..inst.cells.len() {
            if !p.is_suppressed(i) {
                continue;
            }
            withheld += 1;
            match p.status[i] {
                Status::Secondary => complements += 1,
                Status::Masked => masked += 1,
                _ => {}
            }
            let (lo, hi) = oracle[&i];
            assert!(
                hi > lo,
                "seed {seed}: cell {i} (count {}) is pinned to {lo}; counts {:?} status {:?}",
                inst.cells[i].count,
                p.counts,
                p.status
            );
            assert!(lo <= inst.cells[i].count && inst.cells[i].count <= hi);
        }
    }
    // The generator must exercise every kind of withholding; masking stays the exception.
    assert!(
        withheld > 200 && complements > 50 && masked > 0 && masked * 5 < withheld,
        "{withheld} withheld, {complements} complements, {masked} masked"
    );
}

#[test]
fn the_modules_intervals_equal_the_enumeration() {
    for seed in 0..200 {
        let inst = instance(seed);
        let p = protect(&inst.cells, &inst.relations, inst.k).unwrap();
        let iv = feasible_intervals(&p.counts, &p.status, &inst.relations, inst.k);
        let oracle = oracle_intervals(&inst, &p);
        for (&i, &(lo, hi)) in &oracle {
            assert_eq!(iv[i].0, lo as i64, "seed {seed}: lower bound of cell {i}");
            if iv[i].1 < UNBOUNDED {
                assert_eq!(iv[i].1, hi as i64, "seed {seed}: upper bound of cell {i}");
            }
        }
    }
}

#[test]
fn the_result_is_deterministic_and_independent_of_cell_order() {
    for seed in 0..200 {
        let inst = instance(seed);
        let a = protect(&inst.cells, &inst.relations, inst.k).unwrap();
        assert_eq!(a, protect(&inst.cells, &inst.relations, inst.k).unwrap());
        // The same table with the cells listed in reverse order.
        let n = inst.cells.len();
        let rev: Vec<Cell> = inst.cells.iter().rev().cloned().collect();
        let relations: Vec<Relation> = inst
            .relations
            .iter()
            .map(|r| Relation {
                total: n - 1 - r.total,
                parts: r.parts.iter().map(|&c| n - 1 - c).collect(),
            })
            .collect();
        let b = protect(&rev, &relations, inst.k).unwrap();
        for i in 0..n {
            assert_eq!(a.status[i], b.status[n - 1 - i], "seed {seed}: cell {i}");
        }
    }
}

#[test]
fn two_small_cells_with_a_known_sum_are_not_left_alone() {
    // Wijk 8 = buurten 4 + 4 + 0 under gemeente 20 = 8 + 12; k = 5. Withholding only the two 4s would give
    // 4 + 4 = 8 with both <= 4: pinned. An independent check: the enumeration must leave both free.
    let cells = cells(&[
        ("GM", 20),
        ("WK1", 8),
        ("WK2", 12),
        ("BU1", 4),
        ("BU2", 4),
        ("BU3", 0),
    ]);
    let inst = Instance {
        children: vec![vec![1, 2], vec![3, 4, 5], vec![], vec![], vec![], vec![]],
        relations: vec![
            Relation {
                total: 0,
                parts: vec![1, 2],
            },
            Relation {
                total: 1,
                parts: vec![3, 4, 5],
            },
        ],
        cells,
        k: 5,
    };
    let p = protect(&inst.cells, &inst.relations, 5).unwrap();
    assert!(p.is_suppressed(3) && p.is_suppressed(4));
    assert_eq!(p.published(5), Some(0));
    let oracle = oracle_intervals(&inst, &p);
    assert!(oracle[&3].1 > oracle[&3].0 && oracle[&4].1 > oracle[&4].0);
}

#[test]
fn bounds_that_pin_a_fully_withheld_part_mask_it() {
    // k = 5: gemeente 4 = wijk 4 = 1 + 1 + 1 + 1. With "< 5" everywhere the wijk is >= 4, so = 4, and every
    // buurt = 1: the whole part must lose its bounds.
    let cells = cells(&[
        ("GM", 4),
        ("WK", 4),
        ("B1", 1),
        ("B2", 1),
        ("B3", 1),
        ("B4", 1),
    ]);
    let inst = Instance {
        children: vec![vec![1], vec![2, 3, 4, 5], vec![], vec![], vec![], vec![]],
        relations: vec![
            Relation {
                total: 0,
                parts: vec![1],
            },
            Relation {
                total: 1,
                parts: vec![2, 3, 4, 5],
            },
        ],
        cells,
        k: 5,
    };
    let p = protect(&inst.cells, &inst.relations, 5).unwrap();
    assert!(
        p.status.iter().all(|s| *s == Status::Masked),
        "{:?}",
        p.status
    );
    let oracle = oracle_intervals(&inst, &p);
    assert!(oracle.values().all(|(lo, hi)| hi > lo));
}

#[test]
fn k_below_three_only_withholds_primary_cells() {
    let inst = instance(7);
    let p = protect(&inst.cells, &inst.relations, 2).unwrap();
    for (i, c) in inst.cells.iter().enumerate() {
        assert_eq!(p.is_suppressed(i), c.count == 1);
    }
}

#[test]
fn cyclic_relations_are_refused() {
    let cells = cells(&[("A", 5), ("B", 2), ("C", 3)]);
    let r = Relation {
        total: 0,
        parts: vec![1, 2],
    };
    assert!(matches!(
        protect(&cells, &[r.clone(), r], 5),
        Err(SuppressionError::Cyclic { .. })
    ));
}

#[test]
fn separate_parts_of_one_table_are_protected_as_on_their_own() {
    for seed in 0..100 {
        let parts: Vec<Instance> = (0..4).map(|j| instance(seed * 4 + j)).collect();
        let k = parts[0].k;
        let mut cells = vec![];
        let mut relations = vec![];
        for (j, inst) in parts.iter().enumerate() {
            let offset = cells.len();
            cells.extend(inst.cells.iter().map(|c| Cell {
                code: format!("{j}-{}", c.code),
                count: c.count,
            }));
            relations.extend(inst.relations.iter().map(|r| Relation {
                total: r.total + offset,
                parts: r.parts.iter().map(|&c| c + offset).collect(),
            }));
        }
        let whole = protect(&cells, &relations, k).unwrap();
        let mut offset = 0;
        for inst in &parts {
            let alone = protect(&inst.cells, &inst.relations, k).unwrap();
            assert_eq!(
                &whole.status[offset..offset + inst.cells.len()],
                alone.status.as_slice(),
                "seed {seed}"
            );
            offset += inst.cells.len();
        }
    }
}
