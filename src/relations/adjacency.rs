//! A compact simple undirected graph: nodes `0..n` (u32), each edge `{a, b}` stored once with an index, and the
//! adjacency in compressed sparse rows (CSR): the neighbours of node `v` are `targets[offsets[v]..offsets[v+1]]`,
//! sorted by node index, with the index of the edge that links them in `edges` at the same position. Sorted
//! neighbour lists make every traversal deterministic.

use crate::cancel::{Cancel, Cancelled};

/// CSR adjacency of a simple undirected graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adjacency {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    edges: Vec<u32>,
}

impl Adjacency {
    /// The adjacency of `n` nodes and the undirected `edges` (edge `e` links `edges[e].0` and `edges[e].1`).
    /// Self-loops and repeated pairs are kept as given (callers pass simple graphs); repeated neighbours are
    /// ordered by edge index. Checks `cancel` every million edges.
    ///
    /// Built by counting, without sorting: a first fill lists each node's neighbours in edge order, then a
    /// second fill walks the nodes in index order and appends each one to the lists of its neighbours, which
    /// therefore come out sorted.
    ///
    /// ```
    /// use brandpunt::cancel::Cancel;
    /// use brandpunt::relations::Adjacency;
    /// let a = Adjacency::from_edges(3, &[(0, 1), (2, 1)], &Cancel::never()).unwrap();
    /// assert_eq!(a.neighbours(1), &[0, 2]);
    /// assert_eq!(a.degree(0), 1);
    /// assert_eq!(a.edge_count(), 2);
    /// ```
    pub fn from_edges(
        n: usize,
        edges: &[(u32, u32)],
        cancel: &Cancel,
    ) -> Result<Adjacency, Cancelled> {
        let mut offsets = vec![0u32; n + 1];
        for (k, &(a, b)) in edges.iter().enumerate() {
            if k % (1 << 20) == 0 {
                cancel.check()?;
            }
            offsets[a as usize + 1] += 1;
            offsets[b as usize + 1] += 1;
        }
        for v in 0..n {
            offsets[v + 1] += offsets[v];
        }
        let total = offsets[n] as usize;
        // First fill: in edge order.
        let mut by_edge = vec![(0u32, 0u32); total];
        let mut fill: Vec<u32> = offsets[..n].to_vec();
        for (e, &(a, b)) in edges.iter().enumerate() {
            if e % (1 << 20) == 0 {
                cancel.check()?;
            }
            for (from, to) in [(a, b), (b, a)] {
                let slot = &mut fill[from as usize];
                by_edge[*slot as usize] = (to, e as u32);
                *slot += 1;
            }
        }
        // Second fill: node `t` joins the lists of its neighbours in increasing `t`; for one `t`, in edge order.
        fill.copy_from_slice(&offsets[..n]);
        let mut targets = vec![0u32; total];
        let mut edge_of = vec![0u32; total];
        for t in 0..n {
            if t % (1 << 20) == 0 {
                cancel.check()?;
            }
            for &(s, e) in &by_edge[offsets[t] as usize..offsets[t + 1] as usize] {
                let slot = &mut fill[s as usize];
                targets[*slot as usize] = t as u32;
                edge_of[*slot as usize] = e;
                *slot += 1;
            }
        }
        Ok(Adjacency {
            offsets,
            targets,
            edges: edge_of,
        })
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of undirected edges.
    pub fn edge_count(&self) -> usize {
        self.targets.len() / 2
    }

    /// Neighbours of `v`, sorted by index.
    pub fn neighbours(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.targets[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }

    /// The edge indices to the neighbours of `v`, in the order of [`Adjacency::neighbours`].
    pub fn edges_of(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.edges[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }

    /// Degree of `v` (its number of neighbours).
    pub fn degree(&self, v: u32) -> usize {
        let v = v as usize;
        (self.offsets[v + 1] - self.offsets[v]) as usize
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        4 * (self.offsets.capacity() + self.targets.capacity() + self.edges.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_sorted_with_their_edges() {
        let edges = [(3, 0), (0, 1), (2, 0), (1, 2)];
        let a = Adjacency::from_edges(5, &edges, &Cancel::never()).unwrap();
        assert_eq!(a.node_count(), 5);
        assert_eq!(a.edge_count(), 4);
        assert_eq!(a.neighbours(0), &[1, 2, 3]);
        assert_eq!(a.edges_of(0), &[1, 2, 0]);
        assert_eq!(a.neighbours(4), &[] as &[u32]);
        assert_eq!(a.degree(2), 2);
        for v in 0..5u32 {
            for (&t, &e) in a.neighbours(v).iter().zip(a.edges_of(v)) {
                let (x, y) = edges[e as usize];
                assert!((x, y) == (v, t) || (y, x) == (v, t));
            }
        }
    }

    #[test]
    fn lists_equal_sorting_each_node_s_neighbours_and_edges() {
        // A multigraph with self-loops and repeated pairs, from a fixed pseudo-random sequence.
        let n = 50usize;
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % n as u64) as u32
        };
        let edges: Vec<(u32, u32)> = (0..400).map(|_| (next(), next())).collect();
        let a = Adjacency::from_edges(n, &edges, &Cancel::never()).unwrap();
        for v in 0..n as u32 {
            let mut want: Vec<(u32, u32)> = Vec::new();
            for (e, &(x, y)) in edges.iter().enumerate() {
                if x == v {
                    want.push((y, e as u32));
                }
                if y == v {
                    want.push((x, e as u32));
                }
            }
            want.sort_unstable();
            let got: Vec<(u32, u32)> = a
                .neighbours(v)
                .iter()
                .copied()
                .zip(a.edges_of(v).iter().copied())
                .collect();
            assert_eq!(got, want, "node {v}");
        }
    }

    #[test]
    fn a_cancelled_token_stops_the_build() {
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert_eq!(Adjacency::from_edges(2, &[(0, 1)], &cancel), Err(Cancelled));
    }
}
