//! Queries on the relation graph: neighbourhood, shortest paths, the connecting network of several nodes,
//! connected components and repeat subjects. Traversals follow the base edges ([`Graph::adjacency`]); results
//! are [`Subgraph`]s (node and base-edge indices) that [`super::export`] writes out with the derived edges among
//! their nodes.
//!
//! Shortest paths: [`shortest_paths`] lists ALL shortest paths between two nodes (as networkx's
//! `all_shortest_paths` does), sorted by their node indices, rather than the one path networkx's `shortest_path`
//! happens to pick (which depends on its adjacency order): the set is what an analyst needs and what an oracle
//! can compare exactly.

use super::adjacency::Adjacency;
use super::graph::Graph;
use super::node::NodeKind;
use super::{RelationsError, MAX_DEPTH};
use crate::cancel::Cancel;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};

/// Nodes visited between two cancellation checks.
const CHECK_EVERY: usize = 1 << 14;

/// Part of a graph: sorted distinct node indices and sorted distinct base-edge indices between them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subgraph {
    pub nodes: Vec<u32>,
    pub edges: Vec<u32>,
}

impl Subgraph {
    /// The whole of `g` (every node and base edge).
    pub fn whole(g: &Graph) -> Subgraph {
        Subgraph {
            nodes: (0..g.node_count() as u32).collect(),
            edges: (0..g.base_edge_count() as u32).collect(),
        }
    }

    /// The subgraph of `nodes` (any order, repeats allowed) with every base edge between two of them.
    pub fn induced(adj: &Adjacency, mut nodes: Vec<u32>) -> Subgraph {
        nodes.sort_unstable();
        nodes.dedup();
        let mut edges = Vec::new();
        for &v in &nodes {
            for (&t, &e) in adj.neighbours(v).iter().zip(adj.edges_of(v)) {
                if v < t && nodes.binary_search(&t).is_ok() {
                    edges.push(e);
                }
            }
        }
        edges.sort_unstable();
        Subgraph { nodes, edges }
    }

    /// Its own adjacency (nodes renumbered `0..nodes.len()` in the order of `nodes`; edge `k` is
    /// `self.edges[k]`), for computations on the subgraph alone.
    pub fn adjacency(
        &self,
        edge_ends: impl Fn(u32) -> (u32, u32),
        cancel: &Cancel,
    ) -> Result<Adjacency, RelationsError> {
        let local = |v: u32| self.nodes.binary_search(&v).map(|i| i as u32);
        let mut pairs = Vec::with_capacity(self.edges.len());
        for &e in &self.edges {
            let (a, b) = edge_ends(e);
            if let (Ok(a), Ok(b)) = (local(a), local(b)) {
                pairs.push((a, b));
            }
        }
        Ok(Adjacency::from_edges(self.nodes.len(), &pairs, cancel)?)
    }
}

/// Check a depth against [`MAX_DEPTH`].
pub fn check_depth(depth: u32) -> Result<(), RelationsError> {
    if depth > MAX_DEPTH {
        return Err(RelationsError::Depth { depth });
    }
    Ok(())
}

/// The nodes within `depth` (<= [`MAX_DEPTH`]) base edges of `start`, with the base edges between them. More
/// than `max_nodes` nodes is an error naming `max_nodes`.
///
/// ```
/// use brandpunt::cancel::Cancel;
/// use brandpunt::relations::{queries, Adjacency};
/// // A path 0 - 1 - 2 - 3.
/// let adj = Adjacency::from_edges(4, &[(0, 1), (1, 2), (2, 3)], &Cancel::never()).unwrap();
/// let n = queries::neighbourhood(&adj, 1, 1, 100, &Cancel::never())?;
/// assert_eq!(n.nodes, vec![0, 1, 2]);
/// assert_eq!(n.edges, vec![0, 1]);
/// assert!(queries::neighbourhood(&adj, 1, 4, 100, &Cancel::never()).is_err());
/// # Ok::<(), brandpunt::relations::RelationsError>(())
/// ```
pub fn neighbourhood(
    adj: &Adjacency,
    start: u32,
    depth: u32,
    max_nodes: usize,
    cancel: &Cancel,
) -> Result<Subgraph, RelationsError> {
    check_depth(depth)?;
    let mut dist: FxHashMap<u32, u32> = FxHashMap::default();
    dist.insert(start, 0);
    let mut queue = VecDeque::from([start]);
    let mut visited = 0usize;
    while let Some(v) = queue.pop_front() {
        visited += 1;
        if visited % CHECK_EVERY == 0 {
            cancel.check()?;
        }
        let d = dist[&v];
        if d == depth {
            continue;
        }
        for &t in adj.neighbours(v) {
            if let std::collections::hash_map::Entry::Vacant(slot) = dist.entry(t) {
                slot.insert(d + 1);
                if dist.len() > max_nodes {
                    return Err(too_many_nodes(max_nodes));
                }
                queue.push_back(t);
            }
        }
    }
    Ok(Subgraph::induced(adj, dist.into_keys().collect()))
}

fn too_many_nodes(limit: usize) -> RelationsError {
    RelationsError::TooLarge {
        parameter: "max_nodes",
        limit,
        what: "knooppunten",
    }
}

/// Breadth-first distances from `start` (`u32::MAX` = unreachable), stopping after the level of `stop` when
/// given.
fn distances(
    adj: &Adjacency,
    start: u32,
    stop: Option<u32>,
    cancel: &Cancel,
) -> Result<Vec<u32>, RelationsError> {
    let mut dist = vec![u32::MAX; adj.node_count()];
    dist[start as usize] = 0;
    let mut queue = VecDeque::from([start]);
    let mut visited = 0usize;
    while let Some(v) = queue.pop_front() {
        visited += 1;
        if visited % CHECK_EVERY == 0 {
            cancel.check()?;
        }
        if let Some(s) = stop {
            if dist[s as usize] != u32::MAX && dist[v as usize] >= dist[s as usize] {
                break;
            }
        }
        let d = dist[v as usize];
        for &t in adj.neighbours(v) {
            if dist[t as usize] == u32::MAX {
                dist[t as usize] = d + 1;
                queue.push_back(t);
            }
        }
    }
    Ok(dist)
}

/// Length (in edges) of a shortest path from `from` to `to`, `None` when they are not connected.
///
/// ```
/// use brandpunt::cancel::Cancel;
/// use brandpunt::relations::{queries, Adjacency};
/// let adj = Adjacency::from_edges(4, &[(0, 1), (1, 2)], &Cancel::never()).unwrap();
/// assert_eq!(queries::path_length(&adj, 0, 2, &Cancel::never())?, Some(2));
/// assert_eq!(queries::path_length(&adj, 0, 3, &Cancel::never())?, None);
/// # Ok::<(), brandpunt::relations::RelationsError>(())
/// ```
pub fn path_length(
    adj: &Adjacency,
    from: u32,
    to: u32,
    cancel: &Cancel,
) -> Result<Option<u32>, RelationsError> {
    let d = distances(adj, from, Some(to), cancel)?[to as usize];
    Ok((d != u32::MAX).then_some(d))
}

/// Every shortest path from `from` to `to` (node indices, `from` first), sorted; empty when they are not
/// connected. More than `max_paths` paths is an error naming `max_paths`.
///
/// ```
/// use brandpunt::cancel::Cancel;
/// use brandpunt::relations::{queries, Adjacency};
/// // A square 0 - 1 - 3 and 0 - 2 - 3: two shortest paths.
/// let adj = Adjacency::from_edges(4, &[(0, 1), (0, 2), (1, 3), (2, 3)], &Cancel::never()).unwrap();
/// let paths = queries::shortest_paths(&adj, 0, 3, 10, &Cancel::never())?;
/// assert_eq!(paths, vec![vec![0, 1, 3], vec![0, 2, 3]]);
/// assert!(queries::shortest_paths(&adj, 0, 3, 1, &Cancel::never()).is_err());
/// # Ok::<(), brandpunt::relations::RelationsError>(())
/// ```
pub fn shortest_paths(
    adj: &Adjacency,
    from: u32,
    to: u32,
    max_paths: usize,
    cancel: &Cancel,
) -> Result<Vec<Vec<u32>>, RelationsError> {
    let dist = distances(adj, from, Some(to), cancel)?;
    if dist[to as usize] == u32::MAX {
        return Ok(Vec::new());
    }
    // Walk back from `to` over predecessors (one level closer to `from`), depth first.
    let mut paths: Vec<Vec<u32>> = Vec::new();
    let mut stack: Vec<(u32, usize)> = vec![(to, 0)];
    let mut walked = 0usize;
    while let Some(&mut (v, ref mut next)) = stack.last_mut() {
        walked += 1;
        if walked % CHECK_EVERY == 0 {
            cancel.check()?;
        }
        if v == from {
            let mut p: Vec<u32> = stack.iter().map(|(v, _)| *v).collect();
            p.reverse();
            paths.push(p);
            if paths.len() > max_paths {
                return Err(RelationsError::TooLarge {
                    parameter: "max_paths",
                    limit: max_paths,
                    what: "kortste paden",
                });
            }
            stack.pop();
            continue;
        }
        let ns = adj.neighbours(v);
        let want = dist[v as usize] - 1;
        let mut k = *next;
        while k < ns.len() && dist[ns[k] as usize] != want {
            k += 1;
        }
        if k < ns.len() {
            *next = k + 1;
            stack.push((ns[k], 0));
        } else {
            stack.pop();
        }
    }
    paths.sort();
    Ok(paths)
}

/// The connecting network of `nodes`: every node and base edge on a shortest path between two of them (pairs
/// that are not connected add nothing), plus the nodes themselves. More than `max_nodes` nodes is an error
/// naming `max_nodes`.
///
/// ```
/// use brandpunt::cancel::Cancel;
/// use brandpunt::relations::{queries, Adjacency};
/// // 0 - 1 - 2 - 3, and 4 hanging off 1.
/// let adj = Adjacency::from_edges(5, &[(0, 1), (1, 2), (2, 3), (1, 4)], &Cancel::never()).unwrap();
/// let net = queries::network(&adj, &[0, 2], 100, &Cancel::never())?;
/// assert_eq!(net.nodes, vec![0, 1, 2]);
/// assert_eq!(net.edges, vec![0, 1]);
/// # Ok::<(), brandpunt::relations::RelationsError>(())
/// ```
pub fn network(
    adj: &Adjacency,
    nodes: &[u32],
    max_nodes: usize,
    cancel: &Cancel,
) -> Result<Subgraph, RelationsError> {
    let mut ends: Vec<u32> = nodes.to_vec();
    ends.sort_unstable();
    ends.dedup();
    let dists: Vec<Vec<u32>> = ends
        .iter()
        .map(|&v| distances(adj, v, None, cancel))
        .collect::<Result<_, _>>()?;
    let mut on_path = vec![false; adj.node_count()];
    let mut edges = Vec::new();
    for &v in &ends {
        on_path[v as usize] = true;
    }
    for i in 0..ends.len() {
        for j in i + 1..ends.len() {
            cancel.check()?;
            let (da, db) = (&dists[i], &dists[j]);
            let total = da[ends[j] as usize];
            if total == u32::MAX {
                continue;
            }
            for v in 0..adj.node_count() {
                if da[v] == u32::MAX || db[v] == u32::MAX || da[v] + db[v] != total {
                    continue;
                }
                on_path[v] = true;
                for (&t, &e) in adj.neighbours(v as u32).iter().zip(adj.edges_of(v as u32)) {
                    let t = t as usize;
                    if da[t] != u32::MAX && db[t] != u32::MAX && da[v] + 1 + db[t] == total {
                        edges.push(e);
                    }
                }
            }
        }
    }
    let nodes: Vec<u32> = (0..adj.node_count() as u32)
        .filter(|&v| on_path[v as usize])
        .collect();
    if nodes.len() > max_nodes {
        return Err(too_many_nodes(max_nodes));
    }
    edges.sort_unstable();
    edges.dedup();
    Ok(Subgraph { nodes, edges })
}

/// Connected components (node indices, sorted), largest first, equal sizes by their smallest node.
///
/// ```
/// use brandpunt::cancel::Cancel;
/// use brandpunt::relations::{queries, Adjacency};
/// let adj = Adjacency::from_edges(5, &[(0, 3), (1, 2), (2, 4)], &Cancel::never()).unwrap();
/// assert_eq!(queries::components(&adj, &Cancel::never())?, vec![vec![1, 2, 4], vec![0, 3]]);
/// # Ok::<(), brandpunt::relations::RelationsError>(())
/// ```
pub fn components(adj: &Adjacency, cancel: &Cancel) -> Result<Vec<Vec<u32>>, RelationsError> {
    let n = adj.node_count();
    let mut seen = vec![false; n];
    let mut out = Vec::new();
    let mut queue = VecDeque::new();
    let mut visited = 0usize;
    for s in 0..n as u32 {
        if seen[s as usize] {
            continue;
        }
        seen[s as usize] = true;
        queue.push_back(s);
        let mut members = Vec::new();
        while let Some(v) = queue.pop_front() {
            visited += 1;
            if visited % CHECK_EVERY == 0 {
                cancel.check()?;
            }
            members.push(v);
            for &t in adj.neighbours(v) {
                if !seen[t as usize] {
                    seen[t as usize] = true;
                    queue.push_back(t);
                }
            }
        }
        members.sort_unstable();
        out.push(members);
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    Ok(out)
}

/// One connected component of a [`Graph`]: its size and the number of nodes of each kind.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ComponentSummary {
    /// Position in the size order (0 = largest).
    pub index: usize,
    pub size: usize,
    /// Kind name -> number of nodes (kinds present only).
    pub kinds: BTreeMap<&'static str, usize>,
    /// The smallest node id (as text) of the component, to open it with.
    pub example: String,
}

/// The components of `g` with their sizes and kinds (see [`components`] for the order).
pub fn component_summaries(
    g: &Graph,
    cancel: &Cancel,
) -> Result<Vec<ComponentSummary>, RelationsError> {
    let comps = components(g.adjacency(), cancel)?;
    let mut out = Vec::with_capacity(comps.len());
    for (index, members) in comps.into_iter().enumerate() {
        if index % CHECK_EVERY == 0 {
            cancel.check()?;
        }
        let mut kinds = BTreeMap::new();
        for &v in &members {
            *kinds.entry(g.node(v).kind.as_str()).or_insert(0) += 1;
        }
        let example = members
            .iter()
            .map(|&v| g.node_id(v))
            .min()
            .unwrap_or_default();
        out.push(ComponentSummary {
            index,
            size: members.len(),
            kinds,
            example,
        });
    }
    Ok(out)
}

/// Subjects in at least `min_sources` sources or in at least `min_registrations` registrations (whichever
/// holds), ordered by node id: a list to look at, never a ranking. `min_sources` and `min_registrations` must be
/// at least 1 (errors name them).
///
/// ```
/// use brandpunt::access::CategoryScope;
/// use brandpunt::cancel::Cancel;
/// use brandpunt::relations::{queries, Graph};
/// let g = Graph::build(&[], &CategoryScope::All, &Cancel::never())?;
/// assert!(queries::repeat_subjects(&g, 2, 3)?.is_empty());
/// assert!(queries::repeat_subjects(&g, 0, 3).is_err());
/// # Ok::<(), brandpunt::relations::RelationsError>(())
/// ```
pub fn repeat_subjects(
    g: &Graph,
    min_sources: u32,
    min_registrations: u32,
) -> Result<Vec<u32>, RelationsError> {
    for (parameter, value) in [
        ("min_sources", min_sources),
        ("min_registrations", min_registrations),
    ] {
        if value == 0 {
            return Err(RelationsError::Parameter {
                parameter,
                reason: "moet minstens 1 zijn".to_string(),
            });
        }
    }
    let mut out: Vec<u32> = (0..g.node_count() as u32)
        .filter(|&v| {
            let n = g.node(v);
            matches!(n.kind, NodeKind::Subject(_))
                && (n.sources.count_ones() >= min_sources || n.incidents >= min_registrations)
        })
        .collect();
    out.sort_by_key(|&v| g.key(v));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::graph::tests::sample;
    use super::*;
    use crate::access::CategoryScope;

    fn graph() -> Graph {
        Graph::build(&sample(), &CategoryScope::All, &Cancel::never()).unwrap()
    }

    fn subject(c: char) -> String {
        format!("subject:{}", c.to_string().repeat(64))
    }

    #[test]
    fn neighbourhood_grows_with_depth_and_respects_its_limits() {
        let g = graph();
        let b = g.lookup("node", &subject('b')).unwrap();
        let n1 = neighbourhood(g.adjacency(), b, 1, 100, &Cancel::never()).unwrap();
        let ids: Vec<String> = n1.nodes.iter().map(|&v| g.node_id(v)).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids.contains(&"incident:3".to_string()) && ids.contains(&"incident:4".to_string()));
        let n2 = neighbourhood(g.adjacency(), b, 2, 100, &Cancel::never()).unwrap();
        // + a and address 2.
        assert_eq!(n2.nodes.len(), 5);
        assert_eq!(n2.edges.len(), 4);
        let n3 = neighbourhood(g.adjacency(), b, 3, 100, &Cancel::never()).unwrap();
        assert!(n3.nodes.len() > n2.nodes.len());
        assert!(matches!(
            neighbourhood(g.adjacency(), b, 4, 100, &Cancel::never()),
            Err(RelationsError::Depth { depth: 4 })
        ));
        let e = neighbourhood(g.adjacency(), b, 3, 4, &Cancel::never()).unwrap_err();
        assert!(e.to_string().starts_with("max_nodes:"), "{e}");
        let d = neighbourhood(g.adjacency(), b, 0, 1, &Cancel::never()).unwrap();
        assert_eq!(d.nodes, vec![b]);
    }

    #[test]
    fn paths_network_components_and_repeats_on_the_sample() {
        let g = graph();
        let adj = g.adjacency();
        let b = g.lookup("node", &subject('b')).unwrap();
        let c = g.lookup("node", &subject('c')).unwrap();
        // b - 3 - a - {1, 2} - c: two shortest paths of length 4.
        let paths = shortest_paths(adj, b, c, 10, &Cancel::never()).unwrap();
        assert_eq!(paths.len(), 2);
        assert!(paths.iter().all(|p| p.len() == 5 && p[0] == b && p[4] == c));
        assert_eq!(path_length(adj, b, c, &Cancel::never()).unwrap(), Some(4));
        let net = network(adj, &[b, c], 100, &Cancel::never()).unwrap();
        assert_eq!(net.nodes.len(), 6);
        assert_eq!(net.edges.len(), 6);
        let comps = component_summaries(&g, &Cancel::never()).unwrap();
        assert_eq!(comps.len(), 1);
        assert_eq!(comps[0].size, 9);
        assert_eq!(comps[0].kinds["person"], 2);
        assert_eq!(comps[0].kinds["vehicle"], 1);
        assert_eq!(comps[0].kinds["incident"], 4);
        assert_eq!(comps[0].example, "address:0363010000000001");
        // a: 3 registrations in 2 sources; b: 2 in 1; c: 2 in 2.
        let ids = |v: Vec<u32>| v.into_iter().map(|v| g.node_id(v)).collect::<Vec<_>>();
        assert_eq!(
            ids(repeat_subjects(&g, 2, 99).unwrap()),
            vec![subject('a'), subject('c')]
        );
        assert_eq!(
            ids(repeat_subjects(&g, 9, 2).unwrap()),
            vec![subject('a'), subject('b'), subject('c')]
        );
        let e = repeat_subjects(&g, 2, 0).unwrap_err();
        assert!(e.to_string().starts_with("min_registrations:"));
    }

    #[test]
    fn cancelled_traversals_stop() {
        let n = 100_000u32;
        let edges: Vec<(u32, u32)> = (1..n).map(|v| (v - 1, v)).collect();
        let adj = Adjacency::from_edges(n as usize, &edges, &Cancel::never()).unwrap();
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert!(matches!(
            components(&adj, &cancel),
            Err(RelationsError::Cancelled(_))
        ));
        assert!(matches!(
            shortest_paths(&adj, 0, n - 1, 10, &cancel),
            Err(RelationsError::Cancelled(_))
        ));
    }
}
