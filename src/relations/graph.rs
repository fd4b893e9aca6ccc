//! Building the relation graph from linked incidents.
//!
//! [`Graph::build`] takes the current incidents of one filter (period, category, source: applied by the store's
//! [`IncidentFilter`](crate::store::IncidentFilter)) and the caller's [`CategoryScope`]; incidents outside the
//! scope are dropped BEFORE anything is built, so no node or edge comes from a registration the caller may not
//! see. Nodes: one per incident, per BAG verblijfsobject an incident is located on, and per pseudonym of a typed
//! personal column. A subject seen with different kinds (`other` in one delivery, `person` in another) takes the
//! first kind other than `other` in the order of [`IdentifierKind::ALL`]. Base edges: incident-address
//! ([`EdgeKind::LocatedAt`]) and incident-subject ([`EdgeKind::Involves`], with the roles: the column names, sorted
//! and joined by `,` when one incident names a subject in several columns). Derived edges
//! ([`EdgeKind::CoOccurs`]): subject-subject and subject-address pairs that share incidents, with the count of
//! shared incidents, their first and last day and sources.
//!
//! Nodes are numbered in the order they first occur (an incident, then its address, then its subjects in the
//! order of [`LinkedIncident::pseudonyms`]), edges in the order they are first made.
//!
//! # How the build is laid out
//! The keys (registration numbers, BAG ids, pseudonyms) are interned per kind first: registrations, addresses
//! and subjects in three independent passes that run in parallel (rayon), each a hash table of numbers into one
//! contiguous key buffer of its kind (no allocation per key). A sequential pass then numbers the nodes in
//! first-occurrence order through plain arrays and makes the edges; the two CSR adjacencies are built in parallel
//! by counting (no sort). A registration number that occurs more than once takes a slower sequential path for
//! the incidents (it needs `<registratienummer>@<source>` ids or drops a repeated registration).

use super::adjacency::Adjacency;
use super::node::{NodeId, NodeKind};
use super::registration::LinkedIncident;
use super::RelationsError;
use crate::access::CategoryScope;
use crate::cancel::{Cancel, Cancelled};
use crate::pseudonym::IdentifierKind;
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;

/// A map keyed by text or by a pair of node numbers. foldhash, not FxHash: FxHash (rustc-hash 1) spreads keys
/// that differ only in a few characters so poorly that lookups in a million keys spend most of their time
/// comparing colliding strings. Fixed seed: deterministic.
type FoldMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// Incidents between two checks of the cancel token.
const STEP: usize = 16_384;

/// What an edge is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// Incident - address (base).
    LocatedAt,
    /// Incident - subject (base), with roles.
    Involves,
    /// Subject - subject or subject - address sharing incidents (derived).
    CoOccurs,
}

impl EdgeKind {
    /// `located_at`, `involves`, `co_occurs`.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::LocatedAt => "located_at",
            EdgeKind::Involves => "involves",
            EdgeKind::CoOccurs => "co_occurs",
        }
    }
}

/// One node. Days are counted from 1 January of year 1 (`NaiveDate::num_days_from_ce`). Its key (registration
/// number, BAG id or pseudonym) is [`Graph::key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    pub kind: NodeKind,
    /// First and last day of its incidents.
    pub first_day: i32,
    pub last_day: i32,
    /// Number of incidents (1 for an incident).
    pub incidents: u32,
    /// Bit `i` set: source `i` of [`Graph::sources`] has one of its incidents.
    pub sources: u64,
    /// Incidents: index into [`Graph::categories`], or `u32::MAX` for none.
    pub category: u32,
    /// Subjects: index into [`Graph::key_ids`] of the key that made the pseudonym; `u32::MAX` otherwise.
    pub key_id: u32,
}

/// One edge (`a < b` for derived edges; base edges are `a` = incident).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphEdge {
    pub a: u32,
    pub b: u32,
    pub kind: EdgeKind,
    /// Shared incidents (1 for base edges).
    pub count: u32,
    pub first_day: i32,
    pub last_day: i32,
    /// Bit mask of [`Graph::sources`].
    pub sources: u64,
    /// [`EdgeKind::Involves`]: index into [`Graph::roles`]; `u32::MAX` otherwise.
    pub roles: u32,
}

/// The relation graph of one filter and scope.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<GraphNode>,
    /// The nodes' keys, by node number.
    keys: Keys,
    /// Base edges `0..base_edges`, then derived edges.
    edges: Vec<GraphEdge>,
    base_edges: usize,
    base: Adjacency,
    /// Over the derived edges; edge index `k` here is `base_edges + k` in `edges`.
    derived: Adjacency,
    sources: Vec<String>,
    categories: Vec<String>,
    roles: Vec<String>,
    key_ids: Vec<String>,
    incident_index: KeyIndex,
    address_index: KeyIndex,
    subject_index: KeyIndex,
}

/// Texts in one buffer, numbered in the order they were added: text `i` is `text[ends[i - 1]..ends[i]]`
/// (`ends[-1]` = 0). No allocation per text.
#[derive(Clone, Debug, Default)]
struct Keys {
    text: String,
    ends: Vec<usize>,
}

impl Keys {
    fn with_capacity(texts: usize, bytes: usize) -> Keys {
        Keys {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(texts),
        }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Text `i`.
    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// Adds the concatenation of `parts` as the next text.
    fn push(&mut self, parts: &[&str]) {
        for p in parts {
            self.text.push_str(p);
        }
        self.ends.push(self.text.len());
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}

/// Numbers by their key: a hash table of numbers into a [`Keys`] (no second copy of a key, no allocation per
/// entry). Hashes with foldhash (fixed seed: deterministic).
#[derive(Clone, Debug, Default)]
struct KeyIndex {
    table: hashbrown::HashTable<u32>,
}

impl KeyIndex {
    fn hash(key: &str) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::default().hash_one(key)
    }

    fn with_capacity(capacity: usize) -> KeyIndex {
        KeyIndex {
            table: hashbrown::HashTable::with_capacity(capacity),
        }
    }

    /// The number whose key in `keys` is `key`.
    fn get(&self, keys: &Keys, key: &str) -> Option<u32> {
        self.table
            .find(Self::hash(key), |&v| keys.get(v) == key)
            .copied()
    }

    /// Adds `v`, whose key in `keys` is `key` and not in the index yet.
    fn insert(&mut self, keys: &Keys, key: &str, v: u32) {
        self.table
            .insert_unique(Self::hash(key), v, |&w| Self::hash(keys.get(w)));
    }

    /// The number of `key`, added to `keys` and the index when new.
    fn intern(&mut self, keys: &mut Keys, key: &str) -> u32 {
        let hash = Self::hash(key);
        if let Some(&v) = self.table.find(hash, |&v| keys.get(v) == key) {
            return v;
        }
        let v = keys.len() as u32;
        keys.push(&[key]);
        self.table
            .insert_unique(hash, v, |&w| Self::hash(keys.get(w)));
        v
    }

    /// Replaces every number `i` by `to[i]`; the keys the numbers stand for must stay the same.
    fn renumber(&mut self, to: &[u32]) {
        for v in self.table.iter_mut() {
            *v = to[*v as usize];
        }
    }

    /// Bytes of the table (a number and a control byte per slot).
    fn heap_bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

/// The distinct keys of one kind in the order they first occur, with the number of each occurrence.
struct Interned {
    keys: Keys,
    index: KeyIndex,
    /// The number of the key of each occurrence, in the order of the occurrences.
    of: Vec<u32>,
}

impl Interned {
    /// Interns `occurrences` (`count` of them, at most `bytes` bytes), checking `cancel` every [`STEP`].
    fn new<'a>(
        occurrences: impl Iterator<Item = &'a str>,
        count: usize,
        bytes: usize,
        cancel: &Cancel,
    ) -> Result<Interned, Cancelled> {
        let mut keys = Keys::with_capacity(count, bytes);
        let mut index = KeyIndex::with_capacity(count);
        let mut of = Vec::with_capacity(count);
        for (k, key) in occurrences.enumerate() {
            if k % STEP == 0 {
                cancel.check()?;
            }
            of.push(index.intern(&mut keys, key));
        }
        Ok(Interned { keys, index, of })
    }

    /// The BAG ids of the located incidents among `incidents`.
    fn addresses(incidents: &[&LinkedIncident], cancel: &Cancel) -> Result<Interned, Cancelled> {
        let (count, bytes) = incidents
            .iter()
            .filter_map(|i| bag_of(i))
            .fold((0, 0), |(n, b), s| (n + 1, b + s.len()));
        Interned::new(
            incidents.iter().filter_map(|i| bag_of(i)),
            count,
            bytes,
            cancel,
        )
    }

    /// The pseudonyms of `incidents`.
    fn subjects(incidents: &[&LinkedIncident], cancel: &Cancel) -> Result<Interned, Cancelled> {
        let (count, bytes) = incidents
            .iter()
            .flat_map(|i| &i.pseudonyms)
            .fold((0, 0), |(n, b), p| (n + 1, b + p.pseudonym.len()));
        let all = incidents
            .iter()
            .flat_map(|i| &i.pseudonyms)
            .map(|p| p.pseudonym.as_str());
        Interned::new(all, count, bytes, cancel)
    }

    /// The registration numbers of `incidents`.
    fn registrations(
        incidents: &[&LinkedIncident],
        cancel: &Cancel,
    ) -> Result<Interned, Cancelled> {
        let bytes = incidents.iter().map(|i| i.registration.len()).sum();
        let all = incidents.iter().map(|i| i.registration.as_str());
        Interned::new(all, incidents.len(), bytes, cancel)
    }
}

/// The BAG id an incident is located on, if any.
fn bag_of(incident: &LinkedIncident) -> Option<&str> {
    incident.bag_id.as_deref().filter(|b| !b.is_empty())
}

/// Interns strings into a list.
struct Interner<'a> {
    list: Vec<String>,
    index: FoldMap<&'a str, u32>,
    /// The last string asked for and its number (runs of one value are common).
    last: Option<(&'a str, u32)>,
}

impl<'a> Interner<'a> {
    fn new() -> Self {
        Interner {
            list: Vec::new(),
            index: FoldMap::default(),
            last: None,
        }
    }
    fn get(&mut self, s: &'a str) -> u32 {
        if let Some((t, i)) = self.last {
            if t == s {
                return i;
            }
        }
        let i = match self.index.get(s) {
            Some(&i) => i,
            None => {
                let i = self.list.len() as u32;
                self.list.push(s.to_string());
                self.index.insert(s, i);
                i
            }
        };
        self.last = Some((s, i));
        i
    }
}

/// Does `scope` let the caller see an incident of `category`?
fn visible(scope: &CategoryScope, category: Option<&str>) -> bool {
    match scope {
        CategoryScope::All => true,
        CategoryScope::Only(codes) => category.is_some_and(|c| codes.iter().any(|k| k == c.trim())),
        CategoryScope::Denied => false,
    }
}

fn day_of(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// How each incident enters the graph when registration numbers repeat: its id key (`None`: a repeat of a
/// registration of the same source, left out).
fn incident_keys(
    seen: &[&LinkedIncident],
    cancel: &Cancel,
) -> Result<Vec<Option<String>>, Cancelled> {
    // Registration numbers delivered by more than one source get the source in their id.
    let mut first_source: FoldMap<&str, &str> = FoldMap::default();
    let mut shared: FoldMap<&str, ()> = FoldMap::default();
    for (k, inc) in seen.iter().enumerate() {
        if k % STEP == 0 {
            cancel.check()?;
        }
        let s = first_source
            .entry(inc.registration.as_str())
            .or_insert(inc.source.as_str());
        if *s != inc.source {
            shared.insert(inc.registration.as_str(), ());
        }
    }
    // A registration repeated within one source cannot happen in the store (unique); keep the first.
    let mut made: FoldMap<String, ()> = FoldMap::default();
    let mut out = Vec::with_capacity(seen.len());
    for (k, inc) in seen.iter().enumerate() {
        if k % STEP == 0 {
            cancel.check()?;
        }
        let key = if shared.contains_key(inc.registration.as_str()) {
            format!("{}@{}", inc.registration, inc.source)
        } else {
            inc.registration.clone()
        };
        out.push(if made.insert(key.clone(), ()).is_none() {
            Some(key)
        } else {
            None
        });
    }
    Ok(out)
}

impl Graph {
    /// The graph of `incidents` as far as `scope` lets the caller see them (see the module docs). Checks
    /// `cancel` every 16,384 incidents.
    ///
    /// ```
    /// use brandpunt::access::CategoryScope;
    /// use brandpunt::cancel::Cancel;
    /// use brandpunt::pseudonym::IdentifierKind;
    /// use brandpunt::relations::{Graph, NodeId};
    /// use brandpunt::store::{LinkedIncident, StoredPseudonym};
    /// let person = |p: &str| StoredPseudonym {
    ///     pseudonym: p.repeat(64),
    ///     kind: IdentifierKind::Person,
    ///     role: "BSN".into(),
    ///     key_id: "0123456789abcdef".into(),
    /// };
    /// let incident = |reg: &str, category: &str, who: &str| LinkedIncident {
    ///     id: 1,
    ///     source: "politie".into(),
    ///     registration: reg.into(),
    ///     begin: chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(10, 0, 0).unwrap(),
    ///     category_code: Some(category.into()),
    ///     bag_id: Some("0363010000000001".into()),
    ///     pseudonyms: vec![person(who)],
    /// };
    /// let incidents = [incident("A", "1.1.1", "a"), incident("B", "2.5.1", "b")];
    /// let all = Graph::build(&incidents, &CategoryScope::All, &Cancel::never())?;
    /// // 2 incidents, 1 address, 2 persons; 4 base edges and 2 derived person-address edges.
    /// assert_eq!((all.node_count(), all.base_edge_count(), all.edge_count()), (5, 4, 6));
    /// // Only 1.1.1 granted: B and its person are not there at all.
    /// let some = Graph::build(&incidents, &CategoryScope::Only(vec!["1.1.1".into()]), &Cancel::never())?;
    /// assert_eq!(some.node_count(), 3);
    /// assert!(some.find(&NodeId::parse("node", &format!("subject:{}", "b".repeat(64)))?).is_none());
    /// # Ok::<(), brandpunt::relations::RelationsError>(())
    /// ```
    pub fn build(
        incidents: &[LinkedIncident],
        scope: &CategoryScope,
        cancel: &Cancel,
    ) -> Result<Graph, RelationsError> {
        let visible_incidents: Vec<&LinkedIncident> = incidents
            .iter()
            .filter(|i| visible(scope, i.category_code.as_deref()))
            .collect();
        // The three kinds of keys, interned in parallel.
        let (registrations, (addresses, subjects)) = rayon::join(
            || Interned::registrations(&visible_incidents, cancel),
            || {
                rayon::join(
                    || Interned::addresses(&visible_incidents, cancel),
                    || Interned::subjects(&visible_incidents, cancel),
                )
            },
        );
        let (registrations, mut addresses, mut subjects) = (registrations?, addresses?, subjects?);
        // Every registration number once (the rule): the incident keys are the registration numbers, and the
        // registrations' index is the incidents' index once renumbered. Otherwise work out the keys and drop
        // repeats; the addresses and subjects of the incidents left are interned again when some were dropped.
        let unique = registrations.keys.len() == visible_incidents.len();
        let keys = if unique {
            Vec::new()
        } else {
            incident_keys(&visible_incidents, cancel)?
        };
        if keys.iter().any(Option::is_none) {
            let kept: Vec<&LinkedIncident> = visible_incidents
                .iter()
                .zip(&keys)
                .filter(|(_, k)| k.is_some())
                .map(|(i, _)| *i)
                .collect();
            addresses = Interned::addresses(&kept, cancel)?;
            subjects = Interned::subjects(&kept, cancel)?;
        }
        let mut g = Graph::number(&visible_incidents, &keys, addresses, subjects, cancel)?;
        g.incident_index = if unique {
            // Incidents were numbered in registration order, so incident `i` is the `i`th incident node.
            let incident_nodes: Vec<u32> = (0..g.nodes.len() as u32)
                .filter(|&v| g.nodes[v as usize].kind == NodeKind::Incident)
                .collect();
            let mut index = registrations.index;
            index.renumber(&incident_nodes);
            index
        } else {
            let mut index = KeyIndex::with_capacity(visible_incidents.len());
            for v in 0..g.nodes.len() as u32 {
                if g.nodes[v as usize].kind == NodeKind::Incident {
                    index.insert(&g.keys, g.keys.get(v), v);
                }
            }
            index
        };
        Ok(g)
    }

    /// Numbers the nodes in the order they first occur and makes the edges and adjacencies, from the interned
    /// addresses and subjects of the incidents kept. `keys`: empty when every registration number occurs once,
    /// else per incident its id key (`None`: left out).
    fn number(
        seen: &[&LinkedIncident],
        keys: &[Option<String>],
        addresses: Interned,
        subjects_of: Interned,
        cancel: &Cancel,
    ) -> Result<Graph, RelationsError> {
        let mut sources = Interner::new();
        let mut categories = Interner::new();
        let mut roles = Interner::new();
        let mut key_ids = Interner::new();
        let mut g = Graph::default();
        let node_estimate = seen.len() + addresses.keys.len() + subjects_of.keys.len();
        let key_bytes = seen.iter().map(|i| i.registration.len()).sum::<usize>()
            + addresses.keys.text.len()
            + subjects_of.keys.text.len();
        g.nodes.reserve_exact(node_estimate);
        g.keys = Keys::with_capacity(node_estimate, key_bytes);
        let base_estimate = addresses.of.len() + subjects_of.of.len();
        g.edges.reserve_exact(base_estimate);
        let mut base_pairs: Vec<(u32, u32)> = Vec::with_capacity(base_estimate);
        // At most one derived edge per pair of subjects and per subject of a located incident.
        let pair_estimate: usize = seen
            .iter()
            .map(|i| {
                let k = i.pseudonyms.len();
                k * k.saturating_sub(1) / 2 + if bag_of(i).is_some() { k } else { 0 }
            })
            .sum();
        let mut derived_at: FoldMap<u64, u32> = FoldMap::default();
        derived_at.reserve(pair_estimate);
        let mut derived: Vec<GraphEdge> = Vec::with_capacity(pair_estimate);
        let mut address_node = vec![u32::MAX; addresses.keys.len()];
        let mut subject_node = vec![u32::MAX; subjects_of.keys.len()];
        let (mut next_address, mut next_subject) = (0usize, 0usize);
        let mut subjects: Vec<(u32, &str)> = Vec::new();
        let mut role_text = String::new();
        for (k, inc) in seen.iter().enumerate() {
            if k % STEP == 0 {
                cancel.check()?;
            }
            let source = sources.get(inc.source.as_str());
            if source >= 64 {
                return Err(RelationsError::TooManySources {
                    found: source as usize + 1,
                });
            }
            let bit = 1u64 << source;
            let day = day_of(inc.begin.date());
            let this = g.nodes.len() as u32;
            match keys.get(k) {
                None => g.keys.push(&[&inc.registration]),
                Some(Some(key)) => g.keys.push(&[key]),
                Some(None) => continue,
            }
            g.nodes.push(GraphNode {
                kind: NodeKind::Incident,
                first_day: day,
                last_day: day,
                incidents: 1,
                sources: bit,
                category: inc
                    .category_code
                    .as_deref()
                    .map_or(u32::MAX, |c| categories.get(c)),
                key_id: u32::MAX,
            });
            let address = match bag_of(inc) {
                Some(bag) => {
                    let local = addresses.of[next_address] as usize;
                    next_address += 1;
                    if address_node[local] == u32::MAX {
                        address_node[local] = g.add_node(bag, NodeKind::Address, u32::MAX);
                    }
                    let v = address_node[local];
                    touch(&mut g.nodes[v as usize], day, bit);
                    base_pairs.push((this, v));
                    g.edges.push(GraphEdge {
                        a: this,
                        b: v,
                        kind: EdgeKind::LocatedAt,
                        count: 1,
                        first_day: day,
                        last_day: day,
                        sources: bit,
                        roles: u32::MAX,
                    });
                    Some(v)
                }
                None => None,
            };
            // The incident's subjects: one node per pseudonym, its roles joined.
            subjects.clear();
            for p in &inc.pseudonyms {
                let key_id = key_ids.get(p.key_id.as_str());
                let local = subjects_of.of[next_subject] as usize;
                next_subject += 1;
                if subject_node[local] == u32::MAX {
                    subject_node[local] =
                        g.add_node(&p.pseudonym, NodeKind::Subject(p.kind), key_id);
                }
                let v = subject_node[local];
                let node = &mut g.nodes[v as usize];
                if node.kind == NodeKind::Subject(IdentifierKind::Other)
                    && p.kind != IdentifierKind::Other
                {
                    node.kind = NodeKind::Subject(p.kind);
                }
                subjects.push((v, p.role.as_str()));
            }
            subjects.sort_unstable();
            let mut i = 0;
            while i < subjects.len() {
                let v = subjects[i].0;
                let mut j = i;
                role_text.clear();
                while j < subjects.len() && subjects[j].0 == v {
                    if j > i {
                        role_text.push(',');
                    }
                    role_text.push_str(subjects[j].1);
                    j += 1;
                }
                let role = if j - i == 1 {
                    roles.get(subjects[i].1)
                } else {
                    // Joined role sets are rare: intern an owned copy.
                    match roles.list.iter().position(|r| *r == role_text) {
                        Some(r) => r as u32,
                        None => {
                            roles.list.push(role_text.clone());
                            (roles.list.len() - 1) as u32
                        }
                    }
                };
                touch(&mut g.nodes[v as usize], day, bit);
                base_pairs.push((this, v));
                g.edges.push(GraphEdge {
                    a: this,
                    b: v,
                    kind: EdgeKind::Involves,
                    count: 1,
                    first_day: day,
                    last_day: day,
                    sources: bit,
                    roles: role,
                });
                i = j;
            }
            subjects.dedup_by_key(|s| s.0);
            // Derived co-occurrence: every pair of its subjects, and each subject with its address.
            for x in 0..subjects.len() {
                let s = subjects[x].0;
                for &(t, _) in &subjects[x + 1..] {
                    co_occur(&mut derived_at, &mut derived, s, t, day, bit);
                }
                if let Some(a) = address {
                    co_occur(&mut derived_at, &mut derived, s.min(a), s.max(a), day, bit);
                }
            }
        }
        drop(derived_at);
        cancel.check()?;
        let n = g.nodes.len();
        g.base_edges = g.edges.len();
        let derived_pairs: Vec<(u32, u32)> = derived.iter().map(|e| (e.a, e.b)).collect();
        let (base, derived_adjacency) = rayon::join(
            || Adjacency::from_edges(n, &base_pairs, cancel),
            || Adjacency::from_edges(n, &derived_pairs, cancel),
        );
        g.base = base?;
        g.derived = derived_adjacency?;
        g.edges.extend(derived);
        g.sources = sources.list;
        g.categories = categories.list;
        g.roles = roles.list;
        g.key_ids = key_ids.list;
        // The address and subject indexes: the interned ones, renumbered to node numbers.
        g.address_index = addresses.index;
        g.address_index.renumber(&address_node);
        g.subject_index = subjects_of.index;
        g.subject_index.renumber(&subject_node);
        Ok(g)
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of edges, base and derived.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Number of base edges (incident-address, incident-subject): edges `0..base_edge_count()`.
    pub fn base_edge_count(&self) -> usize {
        self.base_edges
    }

    /// Node `v`.
    pub fn node(&self, v: u32) -> &GraphNode {
        &self.nodes[v as usize]
    }

    /// The key of node `v`: its registration number (`<registratienummer>@<source>` when that number occurs in
    /// several sources of the graph), BAG id or pseudonym; its id without the prefix.
    pub fn key(&self, v: u32) -> &str {
        self.keys.get(v)
    }

    /// Edge `e`.
    pub fn edge(&self, e: u32) -> &GraphEdge {
        &self.edges[e as usize]
    }

    /// The adjacency of the base edges (what queries traverse); its edge indices are [`Graph::edge`] indices.
    pub fn adjacency(&self) -> &Adjacency {
        &self.base
    }

    /// The derived edges between nodes of `nodes` (sorted, distinct node indices), sorted by edge index.
    pub fn derived_edges_within(&self, nodes: &[u32]) -> Vec<u32> {
        let mut out = Vec::new();
        for &v in nodes {
            for (&t, &e) in self
                .derived
                .neighbours(v)
                .iter()
                .zip(self.derived.edges_of(v))
            {
                if v < t && nodes.binary_search(&t).is_ok() {
                    out.push(self.base_edges as u32 + e);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// The id of node `v` as text (`incident:...`, `address:...`, `subject:...`).
    pub fn node_id(&self, v: u32) -> String {
        let prefix = match self.node(v).kind {
            NodeKind::Incident => "incident",
            NodeKind::Address => "address",
            NodeKind::Subject(_) => "subject",
        };
        format!("{prefix}:{}", self.key(v))
    }

    /// A short label: the registration number, the BAG id, or the subject's kind and the first 8 characters of
    /// its pseudonym.
    pub fn label(&self, v: u32) -> String {
        let key = self.key(v);
        match self.node(v).kind {
            NodeKind::Incident | NodeKind::Address => key.to_string(),
            NodeKind::Subject(k) => format!("{} {}", k.as_str(), &key[..key.len().min(8)]),
        }
    }

    /// The node of `id`, if it is in the graph.
    pub fn find(&self, id: &NodeId) -> Option<u32> {
        match id {
            NodeId::Incident(r) => self.incident_index.get(&self.keys, r),
            NodeId::Address(b) => self.address_index.get(&self.keys, b),
            NodeId::Subject(p) => self.subject_index.get(&self.keys, p),
        }
    }

    /// Parse `text` and find its node; errors name `parameter`.
    pub fn lookup(&self, parameter: &str, text: &str) -> Result<u32, RelationsError> {
        let id = NodeId::parse(parameter, text)?;
        self.find(&id).ok_or_else(|| RelationsError::UnknownNode {
            parameter: parameter.to_string(),
            value: id.as_text(),
        })
    }

    /// The source names, by bit.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The names of the sources in `mask`, in [`Graph::sources`] order.
    pub fn source_names(&self, mask: u64) -> Vec<&str> {
        self.sources
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1u64 << i) != 0)
            .map(|(_, s)| s.as_str())
            .collect()
    }

    /// Category codes (by [`GraphNode::category`]).
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The category of incident `v`.
    pub fn category(&self, v: u32) -> Option<&str> {
        self.categories
            .get(self.node(v).category as usize)
            .map(String::as_str)
    }

    /// Role sets (by [`GraphEdge::roles`]).
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// The roles of edge `e` (`None` for edges other than [`EdgeKind::Involves`]).
    pub fn edge_roles(&self, e: u32) -> Option<&str> {
        self.roles
            .get(self.edge(e).roles as usize)
            .map(String::as_str)
    }

    /// The key id of subject `v`.
    pub fn key_id(&self, v: u32) -> Option<&str> {
        self.key_ids
            .get(self.node(v).key_id as usize)
            .map(String::as_str)
    }

    /// Bytes held on the heap (an estimate within a few percent: exact for the vectors and strings, the hash
    /// indexes counted by their capacity), for byte-bounded caches.
    ///
    /// ```
    /// use brandpunt::access::CategoryScope;
    /// use brandpunt::cancel::Cancel;
    /// use brandpunt::relations::Graph;
    /// let empty = Graph::build(&[], &CategoryScope::All, &Cancel::never())?;
    /// assert_eq!(empty.node_count(), 0);
    /// assert!(empty.heap_bytes() < 1024);
    /// # Ok::<(), brandpunt::relations::RelationsError>(())
    /// ```
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let strings = |v: &[String]| {
            v.iter()
                .map(|s| s.capacity() + size_of::<String>())
                .sum::<usize>()
        };
        self.nodes.capacity() * size_of::<GraphNode>()
            + self.keys.heap_bytes()
            + self.edges.capacity() * size_of::<GraphEdge>()
            + self.base.heap_bytes()
            + self.derived.heap_bytes()
            + strings(&self.sources)
            + strings(&self.categories)
            + strings(&self.roles)
            + strings(&self.key_ids)
            + self.incident_index.heap_bytes()
            + self.address_index.heap_bytes()
            + self.subject_index.heap_bytes()
    }

    /// The date of a day number of [`GraphNode`]/[`GraphEdge`].
    pub fn date(day: i32) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MIN)
    }
}

impl crate::heap_size::HeapSize for Graph {
    fn heap_bytes(&self) -> usize {
        Graph::heap_bytes(self)
    }
}

impl Graph {
    /// Adds a node of `kind` with key `key` and no incidents yet.
    fn add_node(&mut self, key: &str, kind: NodeKind, key_id: u32) -> u32 {
        let v = self.nodes.len() as u32;
        self.keys.push(&[key]);
        self.nodes.push(GraphNode {
            kind,
            first_day: i32::MAX,
            last_day: i32::MIN,
            incidents: 0,
            sources: 0,
            category: u32::MAX,
            key_id,
        });
        v
    }
}

/// Count one incident of `day` and source `bit` on an address or subject node.
fn touch(node: &mut GraphNode, day: i32, bit: u64) {
    node.first_day = node.first_day.min(day);
    node.last_day = node.last_day.max(day);
    node.incidents += 1;
    node.sources |= bit;
}

/// Count one shared incident on the derived edge `a - b` (`a < b`); `at` holds the edges by `a << 32 | b`.
fn co_occur(
    at: &mut FoldMap<u64, u32>,
    derived: &mut Vec<GraphEdge>,
    a: u32,
    b: u32,
    day: i32,
    bit: u64,
) {
    match at.entry(u64::from(a) << 32 | u64::from(b)) {
        std::collections::hash_map::Entry::Occupied(e) => {
            let edge = &mut derived[*e.get() as usize];
            edge.count += 1;
            edge.first_day = edge.first_day.min(day);
            edge.last_day = edge.last_day.max(day);
            edge.sources |= bit;
        }
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(derived.len() as u32);
            derived.push(GraphEdge {
                a,
                b,
                kind: EdgeKind::CoOccurs,
                count: 1,
                first_day: day,
                last_day: day,
                sources: bit,
                roles: u32::MAX,
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::relations::StoredPseudonym;

    pub(crate) fn subject(p: char, kind: IdentifierKind, role: &str) -> StoredPseudonym {
        StoredPseudonym {
            pseudonym: p.to_string().repeat(64),
            kind,
            role: role.into(),
            key_id: "0123456789abcdef".into(),
        }
    }

    pub(crate) fn incident(
        reg: &str,
        source: &str,
        day: u32,
        category: &str,
        bag: Option<&str>,
        pseudonyms: Vec<StoredPseudonym>,
    ) -> LinkedIncident {
        LinkedIncident {
            id: 0,
            source: source.into(),
            registration: reg.into(),
            begin: NaiveDate::from_ymd_opt(2024, 3, day)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap(),
            category_code: Some(category.into()),
            bag_id: bag.map(|b| format!("036301000000000{b}")),
            pseudonyms,
        }
    }

    /// Four incidents: person a and vehicle v in 1 and 2 (two sources), a and person b in 3, b alone at
    /// address 2 in 4 (category 2.5.1); a in two roles in 1.
    pub(crate) fn sample() -> Vec<LinkedIncident> {
        use IdentifierKind::*;
        vec![
            incident(
                "1",
                "politie",
                1,
                "1.1.1",
                Some("1"),
                vec![
                    subject('a', Person, "BSN verdachte"),
                    subject('a', Person, "BSN aangever"),
                    subject('c', Vehicle, "Kenteken"),
                ],
            ),
            incident(
                "2",
                "handhaving",
                5,
                "1.1.1",
                Some("1"),
                vec![
                    subject('a', Other, "BSN"),
                    subject('c', Vehicle, "Kenteken"),
                ],
            ),
            incident(
                "3",
                "politie",
                9,
                "1.1.1",
                None,
                vec![
                    subject('a', Person, "BSN verdachte"),
                    subject('b', Person, "BSN verdachte"),
                ],
            ),
            incident(
                "4",
                "politie",
                12,
                "2.5.1",
                Some("2"),
                vec![subject('b', Person, "BSN verdachte")],
            ),
        ]
    }

    fn id(g: &Graph, text: &str) -> u32 {
        g.lookup("node", text).unwrap()
    }

    #[test]
    fn builds_nodes_base_and_derived_edges() {
        let g = Graph::build(&sample(), &CategoryScope::All, &Cancel::never()).unwrap();
        // 4 incidents, 2 addresses, 3 subjects.
        assert_eq!(g.node_count(), 9);
        // Base: 3 located_at + (2 + 2 + 2 + 1) involves.
        assert_eq!(g.base_edge_count(), 10);
        let a = id(&g, &format!("subject:{}", "a".repeat(64)));
        let b = id(&g, &format!("subject:{}", "b".repeat(64)));
        let c = id(&g, &format!("subject:{}", "c".repeat(64)));
        let addr1 = id(&g, "address:0363010000000001");
        let i1 = id(&g, "incident:1");
        assert_eq!(g.node(a).kind, NodeKind::Subject(IdentifierKind::Person));
        assert_eq!(g.node(a).incidents, 3);
        assert_eq!(
            g.source_names(g.node(a).sources),
            vec!["politie", "handhaving"]
        );
        assert_eq!(
            Graph::date(g.node(a).first_day),
            NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
        );
        assert_eq!(
            Graph::date(g.node(a).last_day),
            NaiveDate::from_ymd_opt(2024, 3, 9).unwrap()
        );
        assert_eq!(g.key_id(a), Some("0123456789abcdef"));
        assert_eq!(g.category(i1), Some("1.1.1"));
        // a appears in two roles in incident 1: one edge with both roles.
        let e = g
            .adjacency()
            .edges_of(i1)
            .iter()
            .copied()
            .find(|&e| g.edge(e).b == a)
            .unwrap();
        assert_eq!(g.edge_roles(e), Some("BSN aangever,BSN verdachte"));
        // Derived: a-c (2 incidents, both sources), a-b (1), a-addr1 (2), c-addr1 (2), b-addr2 (1).
        let all: Vec<u32> = (0..g.node_count() as u32).collect();
        let derived = g.derived_edges_within(&all);
        assert_eq!(derived.len(), 5);
        let ac = derived
            .iter()
            .map(|&e| g.edge(e))
            .find(|e| (e.a, e.b) == (a.min(c), a.max(c)))
            .unwrap();
        assert_eq!(ac.count, 2);
        assert_eq!(ac.kind, EdgeKind::CoOccurs);
        assert_eq!(g.source_names(ac.sources), vec!["politie", "handhaving"]);
        let a_addr = derived
            .iter()
            .map(|&e| g.edge(e))
            .find(|e| (e.a, e.b) == (a.min(addr1), a.max(addr1)))
            .unwrap();
        assert_eq!((a_addr.count, a_addr.last_day - a_addr.first_day), (2, 4));
        assert!(derived
            .iter()
            .all(|&e| g.edge(e).a != b || g.edge(e).b != c));
        assert_eq!(g.label(c), "vehicle cccccccc");
    }

    #[test]
    fn grants_apply_before_building_so_nothing_links_through_a_hidden_registration() {
        // Without 1.1.1, b is only in incident 4: a is not in the graph at all.
        let scope = CategoryScope::Only(vec!["2.5.1".into()]);
        let g = Graph::build(&sample(), &scope, &Cancel::never()).unwrap();
        assert_eq!(g.node_count(), 3);
        assert!(g.find(&NodeId::Subject("a".repeat(64))).is_none());
        assert!(g.find(&NodeId::Incident("3".into())).is_none());
        let e = g.lookup("van", "incident:3").unwrap_err();
        assert!(
            matches!(e, RelationsError::UnknownNode { .. }) && e.to_string().starts_with("van:")
        );
        let none = Graph::build(&sample(), &CategoryScope::Denied, &Cancel::never()).unwrap();
        assert_eq!(none.node_count(), 0);
    }

    #[test]
    fn a_registration_number_in_two_sources_gets_the_source_in_its_id() {
        let mut incidents = sample();
        incidents.push(incident("1", "handhaving", 2, "1.1.1", None, vec![]));
        let g = Graph::build(&incidents, &CategoryScope::All, &Cancel::never()).unwrap();
        assert!(g.find(&NodeId::Incident("1".into())).is_none());
        let p = id(&g, "incident:1@politie");
        let h = id(&g, "incident:1@handhaving");
        assert_ne!(p, h);
        assert_eq!(g.node_id(h), "incident:1@handhaving");
    }

    #[test]
    fn heap_bytes_count_at_least_the_nodes_edges_and_keys() {
        let g = Graph::build(&sample(), &CategoryScope::All, &Cancel::never()).unwrap();
        let keys: usize = (0..g.node_count() as u32).map(|v| g.key(v).len()).sum();
        let floor = g.node_count() * std::mem::size_of::<GraphNode>()
            + g.edge_count() * std::mem::size_of::<GraphEdge>()
            + 2 * keys;
        assert!(g.heap_bytes() >= floor, "{} < {floor}", g.heap_bytes());
        // A graph of fewer incidents weighs less.
        let half = Graph::build(&sample()[..2], &CategoryScope::All, &Cancel::never()).unwrap();
        assert!(half.heap_bytes() < g.heap_bytes());
    }

    #[test]
    fn a_cancelled_build_stops() {
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert!(matches!(
            Graph::build(&sample(), &CategoryScope::All, &cancel),
            Err(RelationsError::Cancelled(_))
        ));
    }
}
