//! Small-count protection ("< k") of published count tables, safe against differencing.
//!
//! Pure core: plain data in, plain data out.
//!
//! # Model
//! A *table* is a list of cells (a code and a non-negative count) plus linear *relations* that the published
//! outputs make public: `cell[total] = sum(cell[parts])`. brandpunt uses them for the area hierarchy
//! (gemeente = sum of its wijken, wijk = sum of its buurten; "gemeente = sum of its buurten" follows from these
//! two and is not listed again), for a period total = sum of its time-series steps, and for an area total = sum
//! of its category groups, wherever such a breakdown is published next to the total.
//!
//! # Contract
//! [`protect`] with threshold `k` returns a status per cell:
//! - *primary*: the count is in `1..=k-1`; published as `null` with the label `"< k"`;
//! - *secondary* (complementary): a count `>= k` that is withheld so that no primary cell can be derived; it is
//!   published as `null` with the label `">= k"` (true: complements are only chosen among counts `>= k`);
//! - *masked*: withheld without any bound (label `"afgeschermd"`, zeros included), for a whole connected part
//!   of the table in which the bounds alone would pin a withheld cell (see the algorithm);
//! - *published*: every other count, exactly (0 is published: it singles out nobody).
//!
//! **Criterion** (for `k >= 3`). Consider an attacker who knows every published count, every relation, that a
//! primary cell lies in `[1, k-1]`, that a secondary cell lies in `[k, inf)` and a masked one in `[0, inf)`.
//! For every suppressed cell the set of values it can take over all integer solutions of that system (its
//! *feasible interval*) contains at least two values (width > 0). Two suppressed cells whose sum is known are therefore not enough when the
//! bounds pin them (`a + b = 8` with `a, b <= 4` gives `a = b = 4`); such cases get a further complement.
//! For `k <= 2` the label itself discloses the value (`"< 2"` means 1), so only primary suppression is applied.
//!
//! **Algorithm** (deterministic). Primary suppression; then repeat: compute every feasible interval by bound
//! propagation over the relations ([`feasible_intervals`]); take the first suppressed cell (by code) whose
//! interval has width 0; suppress the smallest published count `>= k` (ties by code) in a relation that contains
//! that cell, or else in its connected part of the table; until no interval has width 0. Every round withholds
//! one more cell, so it ends. If a pinned cell has no candidate left (its whole connected part is withheld and
//! the bounds alone pin it: k = 5, a gemeente with 4 incidents in 4 buurten), every cell of that part, zeros
//! included, is withheld without bounds ([`Status::Masked`], label "afgeschermd").
//!
//! **Exactness** requires the relations to form a forest: in the bipartite graph of cells and relations there
//! is no cycle (each area has one parent, each time series or category breakdown hangs from one cell). For such
//! systems of sums, bound propagation yields exactly the feasible intervals (tree-structured constraints are
//! globally consistent once they are bounds consistent). [`protect`] refuses cyclic relation sets and sums that
//! do not add up.
//!
//! # Limits
//! - The guarantee holds within one table: one filter (categories, sources, period). Tables for overlapping
//!   filters (January and January+February, one category and all categories) are further linear relations
//!   between tables that this module does not see; publishing many overlapping filters can still narrow a
//!   suppressed cell. A full multi-dimensional cell-suppression problem (NP-hard in general) is out of scope.
//! - Arbitrary custom areas drawn by analysts overlap buurten in any way; their counts get primary suppression
//!   only, so a custom area drawn around one buurt minus another can difference counts. Only analysts draw
//!   them, and analysts see exact counts anyway; viewers see the analysts' areas with primary suppression.
//! - Rates (per 1,000 inhabitants) and ratios derived from a withheld count must be withheld by the caller
//!   ([`Protected::published`] returns `None` for them).

use std::collections::BTreeMap;

/// Upper bound standing for "unbounded" in the feasible intervals.
pub const UNBOUNDED: i64 = i64::MAX / 4;

/// The default k when the configuration names none.
pub const DEFAULT_MIN_COUNT: u32 = 5;

/// One cell of a table: a stable code (ties are broken by it) and the exact count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub code: String,
    pub count: u64,
}

/// A published linear relation: `cells[total] = sum of cells[parts]` (indices into the cell list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    pub total: usize,
    pub parts: Vec<usize>,
}

/// What happens to one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Published exactly.
    Published,
    /// Withheld: the count is in `1..=k-1`.
    Primary,
    /// Withheld to protect a primary cell: the count is `>= k`.
    Secondary,
    /// Withheld without any bound ("afgeschermd", any count including 0): every cell of a connected part of
    /// the table in which the bounds alone would pin a withheld cell (e.g. k = 5 and a gemeente with 4
    /// incidents in 4 buurten: 4 x "< 5" summing to a "< 5" total pins every buurt to 1).
    Masked,
}

/// Errors in the input of [`protect`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuppressionError {
    #[error("relation {relation}: cell {cell} does not exist (the table has {cells} cells)")]
    NoSuchCell {
        relation: usize,
        cell: usize,
        cells: usize,
    },
    #[error("relation {relation}: total {total} differs from the sum of its parts {sum}")]
    NotASum {
        relation: usize,
        total: u64,
        sum: u64,
    },
    #[error("relation {relation}: cell {cell} closes a cycle (the relations must form a forest)")]
    Cyclic { relation: usize, cell: usize },
}

/// A protected table: the exact counts, k and the status of every cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protected {
    pub k: u32,
    pub counts: Vec<u64>,
    pub status: Vec<Status>,
}

impl Protected {
    /// The table without protection (what analysts see).
    pub fn exact(counts: Vec<u64>) -> Protected {
        let status = vec![Status::Published; counts.len()];
        Protected {
            k: 1,
            counts,
            status,
        }
    }

    /// Everything withheld without bounds ([`Status::Masked`]; the safe answer when the relations cannot be
    /// protected exactly).
    pub fn fail_closed(counts: Vec<u64>, k: u32) -> Protected {
        let status = vec![Status::Masked; counts.len()];
        Protected { k, counts, status }
    }

    /// Primary suppression only (no relations): 1..k-1 withheld as "< k".
    pub fn primary_only(counts: Vec<u64>, k: u32) -> Protected {
        let status = counts
            .iter()
            .map(|&c| primary_status(c, k).unwrap_or(Status::Published))
            .collect();
        Protected { k, counts, status }
    }

    /// The count of cell `i` if it is published, `None` when withheld (or out of range).
    pub fn published(&self, i: usize) -> Option<u64> {
        match self.status.get(i)? {
            Status::Published => self.counts.get(i).copied(),
            _ => None,
        }
    }

    /// Is cell `i` withheld?
    pub fn is_suppressed(&self, i: usize) -> bool {
        self.status.get(i).is_some_and(|s| *s != Status::Published)
    }

    /// The label of a withheld cell (`"< 5"`, `">= 5"`), `None` for a published one.
    pub fn label(&self, i: usize) -> Option<String> {
        label(self.status.get(i).copied()?, self.k)
    }

    /// Number of withheld cells.
    pub fn suppressed_count(&self) -> usize {
        self.status
            .iter()
            .filter(|s| **s != Status::Published)
            .count()
    }
}

/// The label of a status for threshold `k`: `"< k"` for primary, `">= k"` for secondary, none when published.
pub fn label(status: Status, k: u32) -> Option<String> {
    match status {
        Status::Published => None,
        Status::Primary => Some(format!("< {k}")),
        Status::Secondary => Some(format!(">= {k}")),
        Status::Masked => Some("afgeschermd".to_string()),
    }
}

fn primary_status(count: u64, k: u32) -> Option<Status> {
    (count >= 1 && count < u64::from(k)).then_some(Status::Primary)
}

/// The k for a category filter: `codes` are the expanded category codes of the filter (empty = all categories).
///
/// A code counts under every group of [`crate::category::GROUPS`] that contains it and under a configured key
/// equal to the code itself; codes without a configured k use `default_k`. The filter's k is the largest k of
/// everything it spans; an empty filter spans every category, so it gets the largest configured k overall.
pub fn k_for_categories(
    codes: &[String],
    default_k: u32,
    per_group: &BTreeMap<String, u32>,
) -> u32 {
    if codes.is_empty() {
        return per_group.values().copied().fold(default_k, u32::max);
    }
    let mut k = 0;
    for code in codes {
        let mut own: Option<u32> = per_group.get(code.as_str()).copied();
        for (group, _, members) in crate::category::GROUPS {
            if members.contains(&code.as_str()) {
                if let Some(&gk) = per_group
                    .iter()
                    .find(|(g, _)| g.eq_ignore_ascii_case(group))
                    .map(|(_, v)| v)
                {
                    own = Some(own.map_or(gk, |o| o.max(gk)));
                }
            }
        }
        k = k.max(own.unwrap_or(default_k));
    }
    k.max(1)
}

/// Check the relations: cells exist, sums add up and the cell-relation graph is a forest.
fn check(cells: &[Cell], relations: &[Relation]) -> Result<(), SuppressionError> {
    let n = cells.len();
    // Union-find over cells and relations (relation r is node n + r).
    let mut parent: Vec<usize> = (0..n + relations.len()).collect();
    fn root(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (r, rel) in relations.iter().enumerate() {
        let mut sum: u64 = 0;
        for &c in std::iter::once(&rel.total).chain(&rel.parts) {
            if c >= n {
                return Err(SuppressionError::NoSuchCell {
                    relation: r,
                    cell: c,
                    cells: n,
                });
            }
        }
        for &c in &rel.parts {
            sum = sum.saturating_add(cells[c].count);
        }
        if sum != cells[rel.total].count {
            return Err(SuppressionError::NotASum {
                relation: r,
                total: cells[rel.total].count,
                sum,
            });
        }
        for &c in std::iter::once(&rel.total).chain(&rel.parts) {
            let (a, b) = (root(&mut parent, c), root(&mut parent, n + r));
            if a == b {
                return Err(SuppressionError::Cyclic {
                    relation: r,
                    cell: c,
                });
            }
            parent[a] = b;
        }
    }
    Ok(())
}

/// The a-priori interval of a cell of the given status.
fn prior(count: u64, status: Status, k: u32) -> (i64, i64) {
    match status {
        Status::Published => {
            let c = count.min(UNBOUNDED as u64) as i64;
            (c, c)
        }
        Status::Primary => (1, i64::from(k) - 1),
        Status::Secondary => (i64::from(k), UNBOUNDED),
        Status::Masked => (0, UNBOUNDED),
    }
}

fn add(a: i64, b: i64) -> i64 {
    if a >= UNBOUNDED || b >= UNBOUNDED {
        UNBOUNDED
    } else {
        (a + b).min(UNBOUNDED)
    }
}

/// The feasible interval `[lo, hi]` of every cell (`hi == UNBOUNDED`: no upper bound) for an attacker who knows
/// the published counts, the relations and the bounds of the statuses (primary `[1, k-1]`, secondary
/// `[k, inf)`), by bound propagation to a fixed point. Exact when the relations form a forest (see the module
/// docs); otherwise an outer bound.
pub fn feasible_intervals(
    counts: &[u64],
    status: &[Status],
    relations: &[Relation],
    k: u32,
) -> Vec<(i64, i64)> {
    let mut iv: Vec<(i64, i64)> = counts
        .iter()
        .zip(status)
        .map(|(&c, &s)| prior(c, s, k))
        .collect();
    loop {
        let mut changed = false;
        for rel in relations {
            let mut sum_lo: i64 = 0;
            let mut sum_hi_finite: i64 = 0;
            let mut unbounded_parts = 0usize;
            for &p in &rel.parts {
                sum_lo = add(sum_lo, iv[p].0);
                if iv[p].1 >= UNBOUNDED {
                    unbounded_parts += 1;
                } else {
                    sum_hi_finite = add(sum_hi_finite, iv[p].1);
                }
            }
            let sum_hi = if unbounded_parts > 0 {
                UNBOUNDED
            } else {
                sum_hi_finite
            };
            let t = rel.total;
            let (tlo, thi) = iv[t];
            let new_t = (tlo.max(sum_lo), thi.min(sum_hi));
            if new_t != iv[t] {
                iv[t] = new_t;
                changed = true;
            }
            let (tlo, thi) = iv[t];
            for &p in &rel.parts {
                let (plo, phi) = iv[p];
                // Sum of the other parts' bounds.
                let others_lo = sum_lo - plo;
                let others_hi = if phi >= UNBOUNDED {
                    if unbounded_parts > 1 {
                        UNBOUNDED
                    } else {
                        sum_hi_finite
                    }
                } else if unbounded_parts > 0 {
                    UNBOUNDED
                } else {
                    sum_hi_finite - phi
                };
                let lo = if others_hi >= UNBOUNDED {
                    plo
                } else {
                    plo.max(tlo - others_hi)
                };
                let hi = if thi >= UNBOUNDED {
                    phi
                } else {
                    phi.min(thi - others_lo)
                };
                if (lo, hi) != (plo, phi) {
                    iv[p] = (lo, hi);
                    changed = true;
                }
            }
        }
        if !changed {
            return iv;
        }
    }
}

/// Protect `cells` under `relations` with threshold `k` (see the module docs for the contract).
pub fn protect(
    cells: &[Cell],
    relations: &[Relation],
    k: u32,
) -> Result<Protected, SuppressionError> {
    let counts: Vec<u64> = cells.iter().map(|c| c.count).collect();
    Ok(protect_fixed(cells, relations, k, &[])?
        .unwrap_or_else(|| Protected::fail_closed(counts, k)))
}

/// The cells connected to `start` through the relations (`start` included).
fn component(
    start: usize,
    n: usize,
    relations: &[Relation],
    relations_of: &[Vec<usize>],
) -> Vec<usize> {
    let mut seen_cell = vec![false; n];
    let mut seen_rel = vec![false; relations.len()];
    let mut stack = vec![start];
    seen_cell[start] = true;
    let mut out = vec![];
    while let Some(c) = stack.pop() {
        out.push(c);
        for &r in &relations_of[c] {
            if !std::mem::replace(&mut seen_rel[r], true) {
                let rel = &relations[r];
                for m in std::iter::once(rel.total).chain(rel.parts.iter().copied()) {
                    if !std::mem::replace(&mut seen_cell[m], true) {
                        stack.push(m);
                    }
                }
            }
        }
    }
    out
}

/// [`protect`] for a table attached to cells whose status is already decided elsewhere (a time series under
/// an area total published by the area table): `fixed[i] = Some(status)` keeps that status and never makes the
/// cell a complement (missing entries = not fixed). `Ok(None)` when a withheld cell cannot be protected
/// without changing a fixed cell; the caller must then withhold the whole attached table.
pub fn protect_fixed(
    cells: &[Cell],
    relations: &[Relation],
    k: u32,
    fixed: &[Option<Status>],
) -> Result<Option<Protected>, SuppressionError> {
    check(cells, relations)?;
    // Connected parts of the table are independent: protect each on its own (the same decisions, in far less
    // time for a table of many gemeenten).
    let n = cells.len();
    let mut relations_of: Vec<Vec<usize>> = vec![vec![]; n];
    for (r, rel) in relations.iter().enumerate() {
        for &c in std::iter::once(&rel.total).chain(&rel.parts) {
            relations_of[c].push(r);
        }
    }
    let mut part_of: Vec<Option<usize>> = vec![None; n];
    let mut parts: Vec<Vec<usize>> = vec![];
    for rel in relations {
        if part_of[rel.total].is_none() {
            let part = component(rel.total, n, relations, &relations_of);
            for &c in &part {
                part_of[c] = Some(parts.len());
            }
            parts.push(part);
        }
    }
    if parts.len() <= 1 {
        return protect_connected(cells, relations, k, fixed);
    }
    let mut status: Vec<Status> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            fixed
                .get(i)
                .copied()
                .flatten()
                .unwrap_or_else(|| primary_status(c.count, k).unwrap_or(Status::Published))
        })
        .collect();
    let mut local_index = vec![usize::MAX; n];
    for part in &parts {
        for (j, &c) in part.iter().enumerate() {
            local_index[c] = j;
        }
        let p = part_of[part[0]];
        let local_cells: Vec<Cell> = part.iter().map(|&c| cells[c].clone()).collect();
        let local_fixed: Vec<Option<Status>> = part
            .iter()
            .map(|&c| fixed.get(c).copied().flatten())
            .collect();
        let local_relations: Vec<Relation> = relations
            .iter()
            .filter(|r| part_of[r.total] == p)
            .map(|r| Relation {
                total: local_index[r.total],
                parts: r.parts.iter().map(|&c| local_index[c]).collect(),
            })
            .collect();
        match protect_connected(&local_cells, &local_relations, k, &local_fixed)? {
            Some(local) => {
                for (j, &c) in part.iter().enumerate() {
                    status[c] = local.status[j];
                }
            }
            None => return Ok(None),
        }
    }
    let counts: Vec<u64> = cells.iter().map(|c| c.count).collect();
    Ok(Some(Protected { k, counts, status }))
}

/// [`protect_fixed`] on a table whose relations are connected (or absent).
fn protect_connected(
    cells: &[Cell],
    relations: &[Relation],
    k: u32,
    fixed: &[Option<Status>],
) -> Result<Option<Protected>, SuppressionError> {
    let counts: Vec<u64> = cells.iter().map(|c| c.count).collect();
    let is_fixed = |i: usize| fixed.get(i).copied().flatten();
    let mut status: Vec<Status> = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            is_fixed(i).unwrap_or_else(|| primary_status(c, k).unwrap_or(Status::Published))
        })
        .collect();
    if k < 3 || relations.is_empty() {
        return Ok(Some(Protected { k, counts, status }));
    }
    let n = cells.len();
    let mut by_code: Vec<usize> = (0..n).collect();
    by_code.sort_by(|&a, &b| cells[a].code.cmp(&cells[b].code).then(a.cmp(&b)));
    let mut rank = vec![0usize; n];
    for (r, &i) in by_code.iter().enumerate() {
        rank[i] = r;
    }
    let mut relations_of: Vec<Vec<usize>> = vec![vec![]; n];
    for (r, rel) in relations.iter().enumerate() {
        for &c in std::iter::once(&rel.total).chain(&rel.parts) {
            relations_of[c].push(r);
        }
    }
    let members =
        |r: usize| std::iter::once(relations[r].total).chain(relations[r].parts.iter().copied());
    let is_candidate = |status: &[Status], c: usize| {
        status[c] == Status::Published && counts[c] >= u64::from(k) && is_fixed(c).is_none()
    };
    let best = |status: &[Status], cands: &mut dyn Iterator<Item = usize>| -> Option<usize> {
        cands
            .filter(|&c| is_candidate(status, c))
            .min_by_key(|&c| (counts[c], rank[c]))
    };
    loop {
        let iv = feasible_intervals(&counts, &status, relations, k);
        let Some(&pinned) = by_code
            .iter()
            .find(|&&i| status[i] != Status::Published && iv[i].0 >= iv[i].1)
        else {
            return Ok(Some(Protected { k, counts, status }));
        };
        let mut local = relations_of[pinned].iter().flat_map(|&r| members(r));
        let choice = best(&status, &mut local).or_else(|| {
            best(
                &status,
                &mut component(pinned, n, relations, &relations_of).into_iter(),
            )
        });
        match choice {
            Some(c) => status[c] = Status::Secondary,
            None => {
                // No complement left: the bounds themselves pin the cell. Withhold its whole connected part
                // without bounds, unless that would change a fixed cell.
                let part = component(pinned, n, relations, &relations_of);
                if part.iter().any(|&c| is_fixed(c).is_some()) {
                    return Ok(None);
                }
                for c in part {
                    status[c] = Status::Masked;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[u64]) -> Vec<Cell> {
        v.iter()
            .enumerate()
            .map(|(i, &c)| Cell {
                code: format!("c{i:02}"),
                count: c,
            })
            .collect()
    }

    #[test]
    fn primary_only_without_relations() {
        let p = protect(&cells(&[0, 1, 4, 5, 9]), &[], 5).unwrap();
        assert_eq!(p.published(0), Some(0));
        assert_eq!(p.published(1), None);
        assert_eq!(p.label(2).as_deref(), Some("< 5"));
        assert_eq!(p.published(3), Some(5));
        assert_eq!(p.published(4), Some(9));
    }

    #[test]
    fn a_single_small_part_gets_the_smallest_complement() {
        // total 17 = 2 + 6 + 9: 2 is primary; 6 is the smallest complement (not 9, not the total).
        let rel = [Relation {
            total: 0,
            parts: vec![1, 2, 3],
        }];
        let p = protect(&cells(&[17, 2, 6, 9]), &rel, 5).unwrap();
        assert_eq!(
            p.status,
            vec![
                Status::Published,
                Status::Primary,
                Status::Secondary,
                Status::Published
            ]
        );
        assert_eq!(p.label(2).as_deref(), Some(">= 5"));
    }

    #[test]
    fn two_pinned_small_parts_get_a_complement() {
        // 8 = 4 + 4 with both in [1, 4] pins both to 4: a third cell must go.
        let rel = [Relation {
            total: 0,
            parts: vec![1, 2, 3],
        }];
        let p = protect(&cells(&[20, 4, 4, 12]), &rel, 5).unwrap();
        assert_eq!(p.status[3], Status::Secondary);
        // 6 = 3 + 3 leaves each in [2, 4]: no complement needed.
        let p = protect(&cells(&[18, 3, 3, 12]), &rel, 5).unwrap();
        assert_eq!(p.status[3], Status::Published);
    }

    #[test]
    fn a_fixed_total_is_never_a_complement() {
        // Series total 8 (published by the area table) = 4 + 4 + 0: the steps cannot be protected.
        let rel = [Relation {
            total: 0,
            parts: vec![1, 2, 3],
        }];
        let fixed = [Some(Status::Published)];
        assert_eq!(
            protect_fixed(&cells(&[8, 4, 4, 0]), &rel, 5, &fixed).unwrap(),
            None
        );
        // 9 = 3 + 6: the 6 is the complement, the total stays published.
        let p = protect_fixed(
            &cells(&[9, 3, 6]),
            &[Relation {
                total: 0,
                parts: vec![1, 2],
            }],
            5,
            &fixed,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            p.status,
            vec![Status::Published, Status::Primary, Status::Secondary]
        );
    }

    #[test]
    fn bad_relations_are_refused() {
        let c = cells(&[3, 1, 2]);
        let e = protect(
            &c,
            &[Relation {
                total: 0,
                parts: vec![1, 5],
            }],
            5,
        );
        assert!(matches!(
            e,
            Err(SuppressionError::NoSuchCell { cell: 5, .. })
        ));
        let e = protect(
            &c,
            &[Relation {
                total: 0,
                parts: vec![1],
            }],
            5,
        );
        assert!(matches!(e, Err(SuppressionError::NotASum { .. })));
        let cyc = [
            Relation {
                total: 0,
                parts: vec![1, 2],
            },
            Relation {
                total: 0,
                parts: vec![1, 2],
            },
        ];
        assert!(matches!(
            protect(&c, &cyc, 5),
            Err(SuppressionError::Cyclic { .. })
        ));
    }

    #[test]
    fn k_spans_the_filters_groups() {
        let mut per = BTreeMap::new();
        per.insert("inbraak".to_string(), 10);
        per.insert("overlast".to_string(), 3);
        let codes = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(k_for_categories(&codes(&["1.1.1"]), 5, &per), 10);
        assert_eq!(k_for_categories(&codes(&["2.1.1"]), 5, &per), 3);
        assert_eq!(k_for_categories(&codes(&["2.1.1", "1.4.5"]), 5, &per), 5);
        assert_eq!(k_for_categories(&codes(&["2.1.1", "1.1.2"]), 5, &per), 10);
        assert_eq!(k_for_categories(&[], 5, &per), 10);
        assert_eq!(k_for_categories(&[], 5, &BTreeMap::new()), 5);
    }
}
