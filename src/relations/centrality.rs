//! Degree and betweenness centrality of an undirected graph ([`Adjacency`]).
//!
//! Betweenness is Brandes' exact algorithm (unweighted): for each node `v`, the sum over pairs `{s, t}` (`s != v
//! != t`) of the fraction of shortest `s`-`t` paths through `v`. [`betweenness`] returns it both raw (each
//! unordered pair once, as networkx's `betweenness_centrality(G, normalized=False)`) and normalised by
//! `(n - 1)(n - 2) / 2` (networkx's default, `normalized=True`; 0 for `n <= 2`). Sources are processed in node
//! order and neighbours in index order, so the result is deterministic to the last bit.
//!
//! The values are properties of the network, shown per node in node-id order; they are never used to rank
//! persons.

use super::adjacency::Adjacency;
use super::RelationsError;
use crate::cancel::Cancel;
use std::collections::VecDeque;

/// Betweenness of every node.
#[derive(Clone, Debug, PartialEq)]
pub struct Betweenness {
    /// Each unordered pair counted once.
    pub raw: Vec<f64>,
    /// `raw / ((n - 1)(n - 2) / 2)`; 0 when `n <= 2`.
    pub normalized: Vec<f64>,
}

/// Degree of every node.
///
/// ```
/// use brandpunt::cancel::Cancel;
/// use brandpunt::relations::{centrality, Adjacency};
/// let adj = Adjacency::from_edges(3, &[(0, 1), (0, 2)], &Cancel::never()).unwrap();
/// assert_eq!(centrality::degrees(&adj), vec![2, 1, 1]);
/// ```
pub fn degrees(adj: &Adjacency) -> Vec<usize> {
    (0..adj.node_count() as u32)
        .map(|v| adj.degree(v))
        .collect()
}

/// Exact betweenness of every node of `adj` (see the module docs); more than `max_nodes` nodes is an error naming
/// `max_nodes` (the cost is nodes x edges). Checks `cancel` once per source node.
///
/// ```
/// use brandpunt::cancel::Cancel;
/// use brandpunt::relations::{centrality, Adjacency};
/// // A star: the centre is on every path between two leaves.
/// let adj = Adjacency::from_edges(4, &[(0, 1), (0, 2), (0, 3)], &Cancel::never()).unwrap();
/// let b = centrality::betweenness(&adj, 100, &Cancel::never())?;
/// assert_eq!(b.raw, vec![3.0, 0.0, 0.0, 0.0]);
/// assert_eq!(b.normalized[0], 1.0);
/// # Ok::<(), brandpunt::relations::RelationsError>(())
/// ```
pub fn betweenness(
    adj: &Adjacency,
    max_nodes: usize,
    cancel: &Cancel,
) -> Result<Betweenness, RelationsError> {
    let n = adj.node_count();
    if n > max_nodes {
        return Err(RelationsError::TooLarge {
            parameter: "max_nodes",
            limit: max_nodes,
            what: "knooppunten voor betweenness",
        });
    }
    let mut bc = vec![0.0f64; n];
    let mut sigma = vec![0.0f64; n];
    let mut dist = vec![-1i64; n];
    let mut delta = vec![0.0f64; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut queue: VecDeque<u32> = VecDeque::with_capacity(n);
    for s in 0..n as u32 {
        cancel.check()?;
        for &v in &order {
            sigma[v as usize] = 0.0;
            dist[v as usize] = -1;
            delta[v as usize] = 0.0;
        }
        order.clear();
        sigma[s as usize] = 1.0;
        dist[s as usize] = 0;
        queue.push_back(s);
        while let Some(v) = queue.pop_front() {
            order.push(v);
            let dv = dist[v as usize];
            let sv = sigma[v as usize];
            for &w in adj.neighbours(v) {
                let w = w as usize;
                if dist[w] < 0 {
                    dist[w] = dv + 1;
                    queue.push_back(w as u32);
                }
                if dist[w] == dv + 1 {
                    sigma[w] += sv;
                }
            }
        }
        // Accumulate dependencies in order of non-increasing distance.
        for &w in order.iter().rev() {
            let w = w as usize;
            let coefficient = (1.0 + delta[w]) / sigma[w];
            for &v in adj.neighbours(w as u32) {
                let v = v as usize;
                if dist[v] >= 0 && dist[v] == dist[w] - 1 {
                    delta[v] += sigma[v] * coefficient;
                }
            }
            if w != s as usize {
                bc[w] += delta[w];
            }
        }
    }
    // Every unordered pair was counted from both ends.
    let raw: Vec<f64> = bc.iter().map(|b| b / 2.0).collect();
    let normalized = if n <= 2 {
        vec![0.0; n]
    } else {
        let scale = 2.0 / ((n as f64 - 1.0) * (n as f64 - 2.0));
        raw.iter().map(|b| b * scale).collect()
    };
    Ok(Betweenness { raw, normalized })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed forms: on a path of n nodes node i lies on i (n - 1 - i) pairs; in a bow tie (two triangles sharing
    /// a node) the shared node is on the 4 cross pairs; in a square each node carries half of the opposite pair.
    #[test]
    fn betweenness_matches_closed_forms() {
        let n = 7u32;
        let edges: Vec<(u32, u32)> = (1..n).map(|v| (v - 1, v)).collect();
        let adj = Adjacency::from_edges(n as usize, &edges, &Cancel::never()).unwrap();
        let b = betweenness(&adj, 100, &Cancel::never()).unwrap();
        for i in 0..n as usize {
            assert_eq!(b.raw[i], (i * (n as usize - 1 - i)) as f64);
        }
        // Bow tie: 0-1-2 triangle, 2-3-4 triangle; node 2 is on all 4 cross pairs.
        let adj = Adjacency::from_edges(
            5,
            &[(0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4)],
            &Cancel::never(),
        )
        .unwrap();
        let b = betweenness(&adj, 100, &Cancel::never()).unwrap();
        assert_eq!(b.raw, vec![0.0, 0.0, 4.0, 0.0, 0.0]);
        assert!((b.normalized[2] - 4.0 / 6.0).abs() < 1e-15);
        // Square: each node carries half of the one pair opposite it.
        let adj =
            Adjacency::from_edges(4, &[(0, 1), (1, 2), (2, 3), (3, 0)], &Cancel::never()).unwrap();
        assert_eq!(
            betweenness(&adj, 100, &Cancel::never()).unwrap().raw,
            vec![0.5; 4]
        );
        assert_eq!(degrees(&adj), vec![2; 4]);
    }

    #[test]
    fn limits_and_cancellation() {
        let adj = Adjacency::from_edges(3, &[(0, 1)], &Cancel::never()).unwrap();
        let e = betweenness(&adj, 2, &Cancel::never()).unwrap_err();
        assert!(e.to_string().starts_with("max_nodes:"), "{e}");
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert!(matches!(
            betweenness(&adj, 10, &cancel),
            Err(RelationsError::Cancelled(_))
        ));
        let tiny = Adjacency::from_edges(2, &[(0, 1)], &Cancel::never()).unwrap();
        assert_eq!(
            betweenness(&tiny, 10, &Cancel::never()).unwrap().normalized,
            vec![0.0, 0.0]
        );
    }
}
