//! Building the relation graph from linked incidents.
//!
//! [`Graph::build`] takes the current incidents of one filter (period, category, source: applied by the store's
//! [`IncidentFilter`](crate::store::IncidentFilter)) and the caller's [`CategoryScope`]; incidents outside the scope
//! are dropped BEFORE anything is built, so no node or edge comes from a registration the caller may not see. Nodes:
//! one per incident, per BAG verblijfsobject an incident is located on, and per pseudonym of a typed personal column. A
//! subject seen with different kinds (`other` in one delivery, `person` in another) takes the kind of its first
//! occurrence, or when that is `other` the first kind other than `other` it occurs with later. Base edges:
//! incident-address ([`EdgeKind::LocatedAt`]) and incident-subject ([`EdgeKind::Involves`], with the roles: the column
//! names, sorted and joined by `,` when one incident names a subject in several columns). Derived edges
//! ([`EdgeKind::CoOccurs`]): subject-subject and subject-address pairs that share incidents, with the count of shared
//! incidents, their first and last day and sources.
//!
//! Nodes are numbered in the order they first occur (an incident, then its address, then its subjects in the
//! order of [`LinkedIncident::pseudonyms`]), edges in the order they are first made.
//!
//! # How the build is laid out
//! Every step runs on all cores and gives what one sequential pass over the incidents would (node and edge
//! numbers included); `Graph::build_in_parts`'s test compares it with such a pass on random inputs.
//! 1. The incidents are read in parts of `STEP` (16,384) into flat arrays (days, source bits, categories, the
//!    occurrences of BAG ids and pseudonyms); sources, categories and key ids are numbered per part and the
//!    parts' vocabularies then merged in order, which keeps first-occurrence order.
//! 2. Registration numbers, BAG ids and pseudonyms are numbered in first-occurrence order by
//!    `first_seen::FirstSeen`: sharded by hash, each shard interned on its own (a hash table that fits a
//!    core's cache, borrowing the keys from the incidents), folding each address's and subject's days, incidents
//!    and sources as it goes; the shards' tables become the graph's key indexes.
//! 3. Node numbers follow from a prefix sum over the incidents of the nodes each one introduces (itself, its
//!    address and subjects occurring there first); nodes, keys, base edges and the subject and address pairs of
//!    each incident are then written in parallel parts into their places.
//! 4. The co-occurrence pairs are numbered in first-occurrence order by `FirstSeen` too, with their counts,
//!    days and sources folded; the two CSR adjacencies are built at once by counting (no sort).
//!
//! A registration number that occurs more than once (it needs `<registratienummer>@<source>` ids or drops a
//! repeated registration) works out the incident keys sequentially first.

use super::adjacency::Adjacency;
use super::first_seen::{self, FirstSeen};
use super::node::{NodeId, NodeKind};
use super::registration::{LinkedIncident, StoredPseudonym};
use super::RelationsError;
use crate::access::CategoryScope;
use crate::cancel::{Cancel, Cancelled};
use crate::pseudonym::IdentifierKind;
use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
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
    /// Subjects: index into `Graph::key_ids` of the key that made the pseudonym; `u32::MAX` otherwise.
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

/// Texts in one buffer: text `i` is `text[ends[i - 1]..ends[i]]`
/// (`ends[-1]` = 0). No allocation per text.
#[derive(Clone, Debug, Default)]
struct Keys {
    text: String,
    ends: Vec<usize>,
}

impl Keys {
    /// Text `i`.
    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}

/// Numbers by their key: hash tables of numbers into a [`Keys`] (no second copy of a key, no allocation per
/// entry), one per shard of the keys' hashes ([`first_seen::shard_of`]): the tables the build interned the keys
/// in. Hashes with foldhash (fixed seed: deterministic).
#[derive(Clone, Debug, Default)]
struct KeyIndex {
    /// Empty (no keys), or [`first_seen::SHARDS`] tables: a key whose hash is in shard `s` is in table `s`.
    shards: Vec<hashbrown::HashTable<u32>>,
}

impl KeyIndex {
    fn hash(key: &str) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::default().hash_one(key)
    }

    /// The index of the tables of a [`FirstSeen`] whose keys were hashed with [`KeyIndex::hash`].
    fn from_shards(shards: Vec<hashbrown::HashTable<u32>>) -> KeyIndex {
        if shards.iter().all(hashbrown::HashTable::is_empty) {
            return KeyIndex::default();
        }
        KeyIndex { shards }
    }

    /// The number whose key in `keys` is `key`.
    fn get(&self, keys: &Keys, key: &str) -> Option<u32> {
        let hash = Self::hash(key);
        self.shards
            .get(first_seen::shard_of(hash))?
            .find(hash, |&v| keys.get(v) == key)
            .copied()
    }

    /// Adds `v`, whose key in `keys` is `key` and not in the index yet.
    fn insert(&mut self, keys: &Keys, key: &str, v: u32) {
        if self.shards.is_empty() {
            self.shards = (0..first_seen::SHARDS)
                .map(|_| hashbrown::HashTable::new())
                .collect();
        }
        let hash = Self::hash(key);
        self.shards[first_seen::shard_of(hash)]
            .insert_unique(hash, v, |&w| Self::hash(keys.get(w)));
    }

    /// Replaces every number `i` by `to[i]`; the keys the numbers stand for must stay the same.
    fn renumber(&mut self, to: &[u32]) {
        self.shards.par_iter_mut().for_each(|table| {
            for v in table.iter_mut() {
                *v = to[*v as usize];
            }
        });
    }

    /// Bytes of the tables (a number and a control byte per slot).
    fn heap_bytes(&self) -> usize {
        self.shards.capacity() * std::mem::size_of::<hashbrown::HashTable<u32>>()
            + self
                .shards
                .iter()
                .map(|t| t.capacity() * (std::mem::size_of::<u32>() + 1))
                .sum::<usize>()
    }
}

/// The BAG id an incident is located on, if any.
fn bag_of(incident: &LinkedIncident) -> Option<&str> {
    incident.bag_id.as_deref().filter(|b| !b.is_empty())
}

/// Interns strings into a list.
#[derive(Default)]
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

/// Interns texts that may be owned by the caller (role sets joined for one edge): looked up by `&str`, copied
/// only when new.
struct TextSet {
    list: Vec<String>,
    index: FoldMap<String, u32>,
}

impl TextSet {
    fn new() -> Self {
        TextSet {
            list: Vec::new(),
            index: FoldMap::default(),
        }
    }

    fn get(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// The vocabularies of consecutive parts made one, in first-occurrence order (as one pass over all parts would
/// have numbered them): the list and, per part, the number in it of each of the part's own numbers.
fn merge<'b>(lists: impl Iterator<Item = &'b [String]>) -> (Vec<String>, Vec<Vec<u32>>) {
    let mut all = Interner::new();
    let maps = lists
        .map(|list| list.iter().map(|s| all.get(s.as_str())).collect())
        .collect();
    (all.list, maps)
}

/// `out` cut into consecutive pieces of the given lengths (which add up to at most its length).
fn pieces<T>(mut out: &mut [T], lengths: impl Iterator<Item = usize>) -> Vec<&mut [T]> {
    lengths
        .map(|len| {
            let (head, tail) = std::mem::take(&mut out).split_at_mut(len);
            out = tail;
            head
        })
        .collect()
}

/// The incidents as the build reads them, in flat arrays by incident (kept-incident index `i`) and by
/// occurrence of an address (`a`) or a subject (`j`). While one part is read its numbers of sources,
/// categories and key ids, and its occurrence and incident indexes, are the part's own ([`Flat::read`]); then
/// they are made global ([`Flat::globalise`]) and the parts joined ([`Flat::join`]).
#[derive(Default)]
struct Flat<'a> {
    day: Vec<i32>,
    /// The source's number (bit) for a part, then its bit mask.
    source: Vec<u64>,
    /// `u32::MAX`: no category.
    category: Vec<u32>,
    /// The subject occurrences of incident `i` are `subject_start[i]..subject_start[i + 1]`.
    subject_start: Vec<u32>,
    /// The address occurrence of incident `i`, `u32::MAX` when it is not located.
    address: Vec<u32>,
    address_incident: Vec<u32>,
    address_key: Vec<&'a str>,
    subject_incident: Vec<u32>,
    subject: Vec<&'a StoredPseudonym>,
    /// The pseudonym and kind of each subject occurrence (read without going through `subject`).
    subject_key: Vec<&'a str>,
    subject_kind: Vec<IdentifierKind>,
    key_id: Vec<u32>,
    sources: Interner<'a>,
    categories: Interner<'a>,
    key_ids: Interner<'a>,
}

impl<'a> Flat<'a> {
    /// One part of the incidents, with its own numbers.
    fn read(part: &[&'a LinkedIncident], cancel: &Cancel) -> Result<Flat<'a>, Cancelled> {
        cancel.check()?;
        let mut f = Flat {
            sources: Interner::new(),
            categories: Interner::new(),
            key_ids: Interner::new(),
            ..Flat::default()
        };
        f.day.reserve_exact(part.len());
        f.source.reserve_exact(part.len());
        f.category.reserve_exact(part.len());
        f.subject_start.reserve_exact(part.len() + 1);
        f.address.reserve_exact(part.len());
        for (i, inc) in part.iter().enumerate() {
            f.day.push(day_of(inc.begin.date()));
            f.source.push(u64::from(f.sources.get(inc.source.as_str())));
            f.category.push(
                inc.category_code
                    .as_deref()
                    .map_or(u32::MAX, |c| f.categories.get(c)),
            );
            f.subject_start.push(f.subject.len() as u32);
            match bag_of(inc) {
                Some(bag) => {
                    f.address.push(f.address_key.len() as u32);
                    f.address_key.push(bag);
                    f.address_incident.push(i as u32);
                }
                None => f.address.push(u32::MAX),
            }
            for p in &inc.pseudonyms {
                f.subject.push(p);
                f.subject_key.push(p.pseudonym.as_str());
                f.subject_kind.push(p.kind);
                f.subject_incident.push(i as u32);
                f.key_id.push(f.key_ids.get(p.key_id.as_str()));
            }
        }
        f.subject_start.push(f.subject.len() as u32);
        Ok(f)
    }

    /// Makes a part's numbers global: its incidents start at `incident`, its address and subject occurrences at
    /// `address` and `subject`; `sources`, `categories`, `key_ids` map its own vocabulary numbers.
    fn globalise(
        &mut self,
        (incident, address, subject): (u32, u32, u32),
        sources: &[u32],
        categories: &[u32],
        key_ids: &[u32],
    ) {
        for s in &mut self.source {
            *s = 1u64 << sources[*s as usize];
        }
        for c in &mut self.category {
            if *c != u32::MAX {
                *c = categories[*c as usize];
            }
        }
        for s in &mut self.subject_start {
            *s += subject;
        }
        for a in &mut self.address {
            if *a != u32::MAX {
                *a += address;
            }
        }
        for i in self
            .address_incident
            .iter_mut()
            .chain(&mut self.subject_incident)
        {
            *i += incident;
        }
        for k in &mut self.key_id {
            *k = key_ids[*k as usize];
        }
    }

    /// The parts, globalised, as one.
    fn join(parts: Vec<Flat<'a>>) -> Flat<'a> {
        let mut all = Flat::default();
        let sum = |f: fn(&Flat) -> usize| parts.iter().map(f).sum::<usize>();
        all.day.reserve_exact(sum(|p| p.day.len()));
        all.source.reserve_exact(sum(|p| p.day.len()));
        all.category.reserve_exact(sum(|p| p.day.len()));
        all.subject_start.reserve_exact(sum(|p| p.day.len()) + 1);
        all.address.reserve_exact(sum(|p| p.day.len()));
        all.address_incident
            .reserve_exact(sum(|p| p.address_key.len()));
        all.address_key.reserve_exact(sum(|p| p.address_key.len()));
        all.subject_incident.reserve_exact(sum(|p| p.subject.len()));
        all.subject.reserve_exact(sum(|p| p.subject.len()));
        all.subject_key.reserve_exact(sum(|p| p.subject.len()));
        all.subject_kind.reserve_exact(sum(|p| p.subject.len()));
        all.key_id.reserve_exact(sum(|p| p.subject.len()));
        let last = parts.len().saturating_sub(1);
        for (k, p) in parts.into_iter().enumerate() {
            all.day.extend(p.day);
            all.source.extend(p.source);
            all.category.extend(p.category);
            // A part's end is the next part's start.
            let starts = p.subject_start.len() - usize::from(k != last);
            all.subject_start.extend(&p.subject_start[..starts]);
            all.address.extend(p.address);
            all.address_incident.extend(p.address_incident);
            all.address_key.extend(p.address_key);
            all.subject_incident.extend(p.subject_incident);
            all.subject.extend(p.subject);
            all.subject_key.extend(p.subject_key);
            all.subject_kind.extend(p.subject_kind);
            all.key_id.extend(p.key_id);
        }
        if all.subject_start.is_empty() {
            all.subject_start.push(0);
        }
        all
    }

    /// The subject occurrences of incident `i`.
    fn subjects(&self, i: usize) -> std::ops::Range<usize> {
        self.subject_start[i] as usize..self.subject_start[i + 1] as usize
    }
}

/// The base edges and co-occurrences of one part of the incidents: per incident its distinct subjects (node
/// number, and the part's own number of their joined roles), sorted by node number.
struct PartEdges {
    /// (subject node, role set) of each involves edge, in edge order.
    involves: Vec<(u32, u32)>,
    /// Per incident of the part, its number of involves edges.
    counts: Vec<u32>,
    roles: TextSet,
    base_edges: usize,
    pairs: usize,
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
        Graph::build_in_parts(incidents, scope, STEP, cancel)
    }

    /// [`Graph::build`] with `part` incidents (or occurrences of keys) per unit of parallel work; the graph does
    /// not depend on `part`.
    fn build_in_parts(
        incidents: &[LinkedIncident],
        scope: &CategoryScope,
        part: usize,
        cancel: &Cancel,
    ) -> Result<Graph, RelationsError> {
        let visible_incidents: Vec<&LinkedIncident> = incidents
            .par_iter()
            .filter(|i| visible(scope, i.category_code.as_deref()))
            .collect();
        let registrations = FirstSeen::new(
            visible_incidents.len(),
            |j| KeyIndex::hash(&visible_incidents[j].registration),
            |i, j| visible_incidents[i].registration == visible_incidents[j].registration,
            |_| (),
            |_, _| (),
            false,
            part,
            cancel,
        )?;
        if registrations.first.len() == visible_incidents.len() {
            // Every registration number once (the rule): the incident keys are the registration numbers, and the
            // registrations' index (registration `i` is incident `i`), renumbered, is the incidents' index.
            let (mut g, incident_node) = Graph::number(&visible_incidents, None, part, cancel)?;
            let mut index = KeyIndex::from_shards(registrations.shards);
            index.renumber(&incident_node);
            g.incident_index = index;
            return Ok(g);
        }
        drop(registrations);
        // Otherwise work out the keys and drop repeats.
        let keys = incident_keys(&visible_incidents, cancel)?;
        let (kept, own): (Vec<&LinkedIncident>, Vec<String>) = visible_incidents
            .iter()
            .zip(keys)
            .filter_map(|(i, k)| Some((*i, k?)))
            .unzip();
        let (mut g, incident_node) = Graph::number(&kept, Some(&own), part, cancel)?;
        let mut index = KeyIndex::default();
        for v in incident_node {
            index.insert(&g.keys, g.keys.get(v), v);
        }
        g.incident_index = index;
        Ok(g)
    }

    /// Numbers the nodes in the order they first occur and makes the edges and adjacencies, from the incidents
    /// kept (`keys`: their id keys; `None`: their registration numbers). Also returns each incident's node. See
    /// the module docs for how the work is laid out.
    fn number(
        seen: &[&LinkedIncident],
        keys: Option<&[String]>,
        part: usize,
        cancel: &Cancel,
    ) -> Result<(Graph, Vec<u32>), RelationsError> {
        let part = part.max(1);
        let n = seen.len();
        // 1. The incidents in flat arrays, read in parallel parts; sources, categories and key ids numbered per
        //    part, then made one.
        let mut parts: Vec<Flat> = seen
            .par_chunks(part)
            .map(|chunk| Flat::read(chunk, cancel))
            .collect::<Result<_, Cancelled>>()?;
        let (sources, source_maps) = merge(parts.iter().map(|p| p.sources.list.as_slice()));
        if sources.len() > 64 {
            return Err(RelationsError::TooManySources { found: 65 });
        }
        let (categories, category_maps) = merge(parts.iter().map(|p| p.categories.list.as_slice()));
        let (key_ids, key_id_maps) = merge(parts.iter().map(|p| p.key_ids.list.as_slice()));
        let mut starts = Vec::with_capacity(parts.len());
        let (mut incident, mut address, mut subject) = (0u32, 0u32, 0u32);
        for p in &parts {
            starts.push((incident, address, subject));
            incident += p.day.len() as u32;
            address += p.address_key.len() as u32;
            subject += p.subject.len() as u32;
        }
        parts.par_iter_mut().enumerate().for_each(|(k, p)| {
            p.globalise(
                starts[k],
                &source_maps[k],
                &category_maps[k],
                &key_id_maps[k],
            )
        });
        let flat = Flat::join(parts);
        cancel.check()?;
        // 2. Addresses and subjects numbered in first-occurrence order, each node's first and last day, incidents
        //    and sources folded over its occurrences (a subject counts an incident once, however many columns
        //    name it; its kind is the first other than `other`).
        let f = &flat;
        let (addresses, subjects) = rayon::join(
            || {
                FirstSeen::new(
                    f.address_key.len(),
                    |a| KeyIndex::hash(f.address_key[a]),
                    |a, b| f.address_key[a] == f.address_key[b],
                    |a| {
                        let i = f.address_incident[a] as usize;
                        GraphNode {
                            kind: NodeKind::Address,
                            first_day: f.day[i],
                            last_day: f.day[i],
                            incidents: 1,
                            sources: f.source[i],
                            category: u32::MAX,
                            key_id: u32::MAX,
                        }
                    },
                    |node, a| {
                        let i = f.address_incident[a] as usize;
                        touch(node, f.day[i], f.source[i]);
                    },
                    true,
                    part,
                    cancel,
                )
            },
            || {
                FirstSeen::new(
                    f.subject.len(),
                    |j| KeyIndex::hash(f.subject_key[j]),
                    |j, k| f.subject_key[j] == f.subject_key[k],
                    |j| {
                        let i = f.subject_incident[j];
                        let node = GraphNode {
                            kind: NodeKind::Subject(f.subject_kind[j]),
                            first_day: f.day[i as usize],
                            last_day: f.day[i as usize],
                            incidents: 1,
                            sources: f.source[i as usize],
                            category: u32::MAX,
                            key_id: f.key_id[j],
                        };
                        (node, i)
                    },
                    |(node, last), j| {
                        let i = f.subject_incident[j];
                        if *last != i {
                            touch(node, f.day[i as usize], f.source[i as usize]);
                            *last = i;
                        }
                        let kind = f.subject_kind[j];
                        if node.kind == NodeKind::Subject(IdentifierKind::Other)
                            && kind != IdentifierKind::Other
                        {
                            node.kind = NodeKind::Subject(kind);
                        }
                    },
                    true,
                    part,
                    cancel,
                )
            },
        );
        let (addresses, subjects) = (addresses?, subjects?);
        cancel.check()?;
        // 3. Node numbers: an incident, then its address if it occurs first there, then its subjects that occur
        //    first there (in the order of its pseudonyms); a prefix sum over the incidents.
        let new_address = |i: usize| {
            let a = flat.address[i];
            a != u32::MAX && addresses.first[addresses.of[a as usize] as usize] == a
        };
        let new_subject = |j: usize| subjects.first[subjects.of[j] as usize] == j as u32;
        let counts: Vec<u32> = (0..n)
            .into_par_iter()
            .map(|i| {
                1 + u32::from(new_address(i))
                    + flat.subjects(i).filter(|&j| new_subject(j)).count() as u32
            })
            .collect();
        let mut incident_node = Vec::with_capacity(n + 1);
        let mut total = 0u32;
        for c in counts {
            incident_node.push(total);
            total += c;
        }
        incident_node.push(total);
        let address_node: Vec<u32> = addresses
            .first
            .par_iter()
            .map(|&a| incident_node[flat.address_incident[a as usize] as usize] + 1)
            .collect();
        let subject_node: Vec<u32> = subjects
            .first
            .par_iter()
            .map(|&j| {
                let i = flat.subject_incident[j as usize] as usize;
                let before = (flat.subject_start[i] as usize..j as usize)
                    .filter(|&k| new_subject(k))
                    .count() as u32;
                incident_node[i] + 1 + u32::from(new_address(i)) + before
            })
            .collect();
        cancel.check()?;
        // 4. The nodes and their keys, in parallel parts.
        let ranges: Vec<std::ops::Range<usize>> = (0..n)
            .step_by(part)
            .map(|lo| lo..(lo + part).min(n))
            .collect();
        let incident_key = |i: usize| keys.map_or(seen[i].registration.as_str(), |k| k[i].as_str());
        let key_bytes: Vec<usize> = ranges
            .par_iter()
            .map(|r| {
                r.clone()
                    .map(|i| {
                        let mut b = incident_key(i).len();
                        if new_address(i) {
                            b += flat.address_key[flat.address[i] as usize].len();
                        }
                        for j in flat.subjects(i).filter(|&j| new_subject(j)) {
                            b += flat.subject_key[j].len();
                        }
                        b
                    })
                    .sum()
            })
            .collect();
        let node_count = total as usize;
        let placeholder = GraphNode {
            kind: NodeKind::Incident,
            first_day: 0,
            last_day: 0,
            incidents: 0,
            sources: 0,
            category: u32::MAX,
            key_id: u32::MAX,
        };
        let mut nodes = Vec::with_capacity(node_count);
        nodes.par_extend(rayon::iter::repeat_n(placeholder, node_count));
        let mut ends = vec![0usize; node_count];
        let mut text = vec![0u8; key_bytes.iter().sum()];
        let node_lengths = || {
            ranges
                .iter()
                .map(|r| (incident_node[r.end] - incident_node[r.start]) as usize)
        };
        let mut byte_start = 0;
        let byte_starts: Vec<usize> = key_bytes
            .iter()
            .map(|b| {
                byte_start += b;
                byte_start - b
            })
            .collect();
        pieces(&mut nodes, node_lengths())
            .into_par_iter()
            .zip(pieces(&mut ends, node_lengths()))
            .zip(pieces(&mut text, key_bytes.iter().copied()))
            .zip(&ranges)
            .zip(&byte_starts)
            .for_each(|((((nodes, ends), text), r), &byte_start)| {
                let (mut v, mut b) = (0usize, 0usize);
                let mut add = |node: GraphNode, key: &str| {
                    nodes[v] = node;
                    text[b..b + key.len()].copy_from_slice(key.as_bytes());
                    b += key.len();
                    ends[v] = byte_start + b;
                    v += 1;
                };
                for i in r.clone() {
                    let day = flat.day[i];
                    add(
                        GraphNode {
                            kind: NodeKind::Incident,
                            first_day: day,
                            last_day: day,
                            incidents: 1,
                            sources: flat.source[i],
                            category: flat.category[i],
                            key_id: u32::MAX,
                        },
                        incident_key(i),
                    );
                    if new_address(i) {
                        let a = flat.address[i] as usize;
                        let node = addresses.folded[addresses.of[a] as usize].clone();
                        add(node, flat.address_key[a]);
                    }
                    for j in flat.subjects(i).filter(|&j| new_subject(j)) {
                        let node = subjects.folded[subjects.of[j] as usize].0.clone();
                        add(node, flat.subject_key[j]);
                    }
                }
            });
        let text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        cancel.check()?;
        // 5. Per incident its distinct subjects (sorted by node) with their role sets, and the counts of base
        //    edges and co-occurrences, in parallel parts; role sets numbered per part, then made one.
        let subject_of = |j: usize| subject_node[subjects.of[j] as usize];
        let located = |i: usize| flat.address[i] != u32::MAX;
        let part_edges: Vec<PartEdges> = ranges
            .par_iter()
            .map(|r| {
                cancel.check()?;
                let mut pe = PartEdges {
                    involves: Vec::new(),
                    counts: Vec::with_capacity(r.len()),
                    roles: TextSet::new(),
                    base_edges: 0,
                    pairs: 0,
                };
                let mut list: Vec<(u32, &str)> = Vec::new();
                let mut role_text = String::new();
                for i in r.clone() {
                    list.clear();
                    list.extend(
                        flat.subjects(i)
                            .map(|j| (subject_of(j), flat.subject[j].role.as_str())),
                    );
                    list.sort_unstable();
                    let before = pe.involves.len();
                    let mut x = 0;
                    while x < list.len() {
                        let v = list[x].0;
                        let mut y = x;
                        role_text.clear();
                        while y < list.len() && list[y].0 == v {
                            if y > x {
                                role_text.push(',');
                            }
                            role_text.push_str(list[y].1);
                            y += 1;
                        }
                        pe.involves.push((v, pe.roles.get(&role_text)));
                        x = y;
                    }
                    let d = pe.involves.len() - before;
                    pe.counts.push(d as u32);
                    let address = usize::from(located(i));
                    pe.base_edges += address + d;
                    pe.pairs += d * d.saturating_sub(1) / 2 + address * d;
                }
                Ok(pe)
            })
            .collect::<Result<_, Cancelled>>()?;
        let (roles, role_maps) = merge(part_edges.iter().map(|p| p.roles.list.as_slice()));
        // 6. The base edges and the co-occurrences (as `a << 32 | b`, with their incident), in parallel parts.
        let base_edges: usize = part_edges.iter().map(|p| p.base_edges).sum();
        let pair_count: usize = part_edges.iter().map(|p| p.pairs).sum();
        let mut edges = Vec::with_capacity(base_edges + pair_count);
        edges.par_extend(rayon::iter::repeat_n(
            GraphEdge {
                a: 0,
                b: 0,
                kind: EdgeKind::LocatedAt,
                count: 0,
                first_day: 0,
                last_day: 0,
                sources: 0,
                roles: u32::MAX,
            },
            base_edges,
        ));
        // Each co-occurrence as (`a << 32 | b`, day, source number): what numbering and folding it reads, together.
        let mut pairs: Vec<(u64, i32, u32)> = Vec::with_capacity(pair_count);
        pairs.par_extend(rayon::iter::repeat_n((0, 0, 0), pair_count));
        pieces(&mut edges, part_edges.iter().map(|p| p.base_edges))
            .into_par_iter()
            .zip(pieces(&mut pairs, part_edges.iter().map(|p| p.pairs)))
            .zip(&ranges)
            .zip(&part_edges)
            .zip(&role_maps)
            .for_each(|((((edges, pairs), r), pe), role_map)| {
                let (mut e, mut p, mut involves) = (0usize, 0usize, 0usize);
                for (i, &d) in r.clone().zip(&pe.counts) {
                    let this = incident_node[i];
                    let (day, bit) = (flat.day[i], flat.source[i]);
                    let source = bit.trailing_zeros();
                    let edge = |b: u32, kind: EdgeKind, roles: u32| GraphEdge {
                        a: this,
                        b,
                        kind,
                        count: 1,
                        first_day: day,
                        last_day: day,
                        sources: bit,
                        roles,
                    };
                    let address = located(i).then(|| {
                        let a = address_node[addresses.of[flat.address[i] as usize] as usize];
                        edges[e] = edge(a, EdgeKind::LocatedAt, u32::MAX);
                        e += 1;
                        a
                    });
                    let mine = &pe.involves[involves..involves + d as usize];
                    involves += d as usize;
                    for &(v, role) in mine {
                        edges[e] = edge(v, EdgeKind::Involves, role_map[role as usize]);
                        e += 1;
                    }
                    for (x, &(s, _)) in mine.iter().enumerate() {
                        for &(t, _) in &mine[x + 1..] {
                            pairs[p] = (u64::from(s) << 32 | u64::from(t), day, source);
                            p += 1;
                        }
                        if let Some(a) = address {
                            let key = u64::from(s.min(a)) << 32 | u64::from(s.max(a));
                            pairs[p] = (key, day, source);
                            p += 1;
                        }
                    }
                }
            });
        drop(part_edges);
        cancel.check()?;
        // 7. The co-occurrence edges, numbered in the order they first occur, their counts, days and sources
        //    folded over the incidents they share.
        let pair_hash = |p: usize| {
            use std::hash::BuildHasher;
            foldhash::fast::FixedState::default().hash_one(pairs[p].0)
        };
        let derived = FirstSeen::new(
            pair_count,
            pair_hash,
            |p, q| pairs[p].0 == pairs[q].0,
            |p| {
                let (key, day, source) = pairs[p];
                GraphEdge {
                    a: (key >> 32) as u32,
                    b: key as u32,
                    kind: EdgeKind::CoOccurs,
                    count: 1,
                    first_day: day,
                    last_day: day,
                    sources: 1u64 << source,
                    roles: u32::MAX,
                }
            },
            |edge, p| {
                let (_, day, source) = pairs[p];
                edge.count += 1;
                edge.first_day = edge.first_day.min(day);
                edge.last_day = edge.last_day.max(day);
                edge.sources |= 1u64 << source;
            },
            false,
            part,
            cancel,
        )?;
        drop(pairs);
        edges.par_extend(derived.folded);
        cancel.check()?;
        // 8. Both CSR adjacencies at once.
        let base_pairs: Vec<(u32, u32)> =
            edges[..base_edges].par_iter().map(|e| (e.a, e.b)).collect();
        let derived_pairs: Vec<(u32, u32)> =
            edges[base_edges..].par_iter().map(|e| (e.a, e.b)).collect();
        let (base, derived_adjacency) = rayon::join(
            || Adjacency::from_edges(node_count, &base_pairs, cancel),
            || Adjacency::from_edges(node_count, &derived_pairs, cancel),
        );
        // The address and subject indexes: the interning tables, renumbered to node numbers.
        let mut address_index = KeyIndex::from_shards(addresses.shards);
        address_index.renumber(&address_node);
        let mut subject_index = KeyIndex::from_shards(subjects.shards);
        subject_index.renumber(&subject_node);
        incident_node.truncate(n);
        let g = Graph {
            nodes,
            keys: Keys { text, ends },
            edges,
            base_edges,
            base: base?,
            derived: derived_adjacency?,
            sources,
            categories,
            roles,
            key_ids,
            incident_index: KeyIndex::default(),
            address_index,
            subject_index,
        };
        Ok((g, incident_node))
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

/// Count one incident of `day` and source `bit` on an address or subject node.
fn touch(node: &mut GraphNode, day: i32, bit: u64) {
    node.first_day = node.first_day.min(day);
    node.last_day = node.last_day.max(day);
    node.incidents += 1;
    node.sources |= bit;
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

    /// What a graph holds, built the straightforward way: one sequential pass over the incidents with hash maps,
    /// numbering nodes and co-occurrence edges as they first occur (the build before it was made parallel).
    struct Reference {
        nodes: Vec<GraphNode>,
        keys: Vec<String>,
        edges: Vec<GraphEdge>,
        base_edges: usize,
        sources: Vec<String>,
        categories: Vec<String>,
        roles: Vec<String>,
        key_ids: Vec<String>,
    }

    fn position(list: &mut Vec<String>, s: &str) -> u32 {
        match list.iter().position(|x| x == s) {
            Some(p) => p as u32,
            None => {
                list.push(s.to_string());
                (list.len() - 1) as u32
            }
        }
    }

    fn reference(incidents: &[LinkedIncident], scope: &CategoryScope) -> Option<Reference> {
        use std::collections::{HashMap, HashSet};
        let seen: Vec<&LinkedIncident> = incidents
            .iter()
            .filter(|i| visible(scope, i.category_code.as_deref()))
            .collect();
        let mut sources_of: HashMap<&str, HashSet<&str>> = HashMap::new();
        for i in &seen {
            sources_of
                .entry(i.registration.as_str())
                .or_default()
                .insert(i.source.as_str());
        }
        let mut made = HashSet::new();
        let keys: Vec<Option<String>> = seen
            .iter()
            .map(|i| {
                let key = if sources_of[i.registration.as_str()].len() > 1 {
                    format!("{}@{}", i.registration, i.source)
                } else {
                    i.registration.clone()
                };
                made.insert(key.clone()).then_some(key)
            })
            .collect();
        let mut r = Reference {
            nodes: Vec::new(),
            keys: Vec::new(),
            edges: Vec::new(),
            base_edges: 0,
            sources: Vec::new(),
            categories: Vec::new(),
            roles: Vec::new(),
            key_ids: Vec::new(),
        };
        let mut node_at: HashMap<(u8, String), u32> = HashMap::new();
        let mut derived: Vec<GraphEdge> = Vec::new();
        let mut derived_at: HashMap<(u32, u32), usize> = HashMap::new();
        let add = |r: &mut Reference, kind: NodeKind, key: &str, key_id: u32| {
            r.nodes.push(GraphNode {
                kind,
                first_day: i32::MAX,
                last_day: i32::MIN,
                incidents: 0,
                sources: 0,
                category: u32::MAX,
                key_id,
            });
            r.keys.push(key.to_string());
            (r.nodes.len() - 1) as u32
        };
        for (inc, key) in seen.iter().zip(keys) {
            let source = position(&mut r.sources, &inc.source);
            if source >= 64 {
                return None;
            }
            let Some(key) = key else { continue };
            let (bit, day) = (1u64 << source, day_of(inc.begin.date()));
            let this = add(&mut r, NodeKind::Incident, &key, u32::MAX);
            let category = inc
                .category_code
                .as_deref()
                .map_or(u32::MAX, |c| position(&mut r.categories, c));
            r.nodes[this as usize] = GraphNode {
                kind: NodeKind::Incident,
                first_day: day,
                last_day: day,
                incidents: 1,
                sources: bit,
                category,
                key_id: u32::MAX,
            };
            let address = bag_of(inc).map(|bag| {
                let v = match node_at.get(&(0, bag.to_string())) {
                    Some(&v) => v,
                    None => {
                        let v = add(&mut r, NodeKind::Address, bag, u32::MAX);
                        node_at.insert((0, bag.to_string()), v);
                        v
                    }
                };
                touch(&mut r.nodes[v as usize], day, bit);
                r.edges.push(GraphEdge {
                    a: this,
                    b: v,
                    kind: EdgeKind::LocatedAt,
                    count: 1,
                    first_day: day,
                    last_day: day,
                    sources: bit,
                    roles: u32::MAX,
                });
                v
            });
            let mut subjects: Vec<(u32, String)> = Vec::new();
            for p in &inc.pseudonyms {
                let key_id = position(&mut r.key_ids, &p.key_id);
                let v = match node_at.get(&(1, p.pseudonym.clone())) {
                    Some(&v) => v,
                    None => {
                        let v = add(&mut r, NodeKind::Subject(p.kind), &p.pseudonym, key_id);
                        node_at.insert((1, p.pseudonym.clone()), v);
                        v
                    }
                };
                let node = &mut r.nodes[v as usize];
                if node.kind == NodeKind::Subject(IdentifierKind::Other)
                    && p.kind != IdentifierKind::Other
                {
                    node.kind = NodeKind::Subject(p.kind);
                }
                subjects.push((v, p.role.clone()));
            }
            subjects.sort();
            let mut distinct: Vec<u32> = Vec::new();
            for (v, role) in &subjects {
                if distinct.last() == Some(v) {
                    continue;
                }
                let roles: Vec<&str> = subjects
                    .iter()
                    .filter(|(w, _)| w == v)
                    .map(|(_, r)| r.as_str())
                    .collect();
                debug_assert_eq!(roles[0], role);
                let role = position(&mut r.roles, &roles.join(","));
                touch(&mut r.nodes[*v as usize], day, bit);
                r.edges.push(GraphEdge {
                    a: this,
                    b: *v,
                    kind: EdgeKind::Involves,
                    count: 1,
                    first_day: day,
                    last_day: day,
                    sources: bit,
                    roles: role,
                });
                distinct.push(*v);
            }
            let mut pairs = Vec::new();
            for (x, &s) in distinct.iter().enumerate() {
                pairs.extend(distinct[x + 1..].iter().map(|&t| (s, t)));
                if let Some(a) = address {
                    pairs.push((s.min(a), s.max(a)));
                }
            }
            for (a, b) in pairs {
                match derived_at.get(&(a, b)) {
                    Some(&e) => {
                        let edge = &mut derived[e];
                        edge.count += 1;
                        edge.first_day = edge.first_day.min(day);
                        edge.last_day = edge.last_day.max(day);
                        edge.sources |= bit;
                    }
                    None => {
                        derived_at.insert((a, b), derived.len());
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
        }
        r.base_edges = r.edges.len();
        r.edges.extend(derived);
        Some(r)
    }

    /// Random incidents over small pools of registration numbers, sources, addresses, pseudonyms, kinds, roles
    /// and key ids, so that every kind of repeat occurs.
    fn random_incidents(
        rng: &mut impl rand::Rng,
        unique_registrations: bool,
    ) -> Vec<LinkedIncident> {
        let n = rng.gen_range(0..80);
        let kinds = IdentifierKind::ALL;
        (0..n)
            .map(|k| {
                let pseudonyms = (0..rng.gen_range(0..5))
                    .map(|_| StoredPseudonym {
                        pseudonym: format!("{:064x}", rng.gen_range(0..12u32)),
                        kind: kinds[rng.gen_range(0..kinds.len())],
                        role: ["BSN verdachte", "BSN aangever", "Kenteken"][rng.gen_range(0..3)]
                            .to_string(),
                        key_id: ["0123456789abcdef", "fedcba9876543210"][rng.gen_range(0..2)]
                            .to_string(),
                    })
                    .collect();
                LinkedIncident {
                    id: k as i64,
                    source: ["politie", "handhaving", "boa"][rng.gen_range(0..3)].to_string(),
                    registration: if unique_registrations {
                        format!("R{k}")
                    } else {
                        format!("R{}", rng.gen_range(0..30))
                    },
                    begin: NaiveDate::from_ymd_opt(2024, 3, rng.gen_range(1..29))
                        .unwrap()
                        .and_hms_opt(10, 0, 0)
                        .unwrap(),
                    category_code: [None, Some("1.1.1"), Some("2.5.1"), Some("3.1.1")]
                        [rng.gen_range(0..4)]
                    .map(str::to_string),
                    bag_id: match rng.gen_range(0..8) {
                        0 => None,
                        1 => Some(String::new()),
                        b => Some(format!("03630100000000{b:02}")),
                    },
                    pseudonyms,
                }
            })
            .collect()
    }

    #[test]
    fn the_parallel_build_equals_a_sequential_reference_build_in_any_parts() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let scopes = [
            CategoryScope::All,
            CategoryScope::Only(vec!["1.1.1".into(), "3.1.1".into()]),
        ];
        for round in 0..300 {
            let incidents = random_incidents(&mut rng, round % 2 == 0);
            for scope in &scopes {
                let want = reference(&incidents, scope).unwrap();
                let base_pairs: Vec<(u32, u32)> = want.edges[..want.base_edges]
                    .iter()
                    .map(|e| (e.a, e.b))
                    .collect();
                let derived_pairs: Vec<(u32, u32)> = want.edges[want.base_edges..]
                    .iter()
                    .map(|e| (e.a, e.b))
                    .collect();
                let n = want.nodes.len();
                let base = Adjacency::from_edges(n, &base_pairs, &Cancel::never()).unwrap();
                let derived = Adjacency::from_edges(n, &derived_pairs, &Cancel::never()).unwrap();
                for part in [1, 2, 3, 7, STEP] {
                    let g =
                        Graph::build_in_parts(&incidents, scope, part, &Cancel::never()).unwrap();
                    let what = format!("round {round}, part {part}, {scope:?}");
                    assert_eq!(g.nodes, want.nodes, "{what}");
                    let keys: Vec<&str> = (0..n as u32).map(|v| g.key(v)).collect();
                    assert_eq!(keys, want.keys, "{what}");
                    assert_eq!(g.base_edges, want.base_edges, "{what}");
                    assert_eq!(g.edges, want.edges, "{what}");
                    assert_eq!(g.base, base, "{what}");
                    assert_eq!(g.derived, derived, "{what}");
                    assert_eq!(g.sources, want.sources, "{what}");
                    assert_eq!(g.categories, want.categories, "{what}");
                    assert_eq!(g.roles, want.roles, "{what}");
                    assert_eq!(g.key_ids, want.key_ids, "{what}");
                    for v in 0..n as u32 {
                        let key = g.key(v).to_string();
                        let id = match g.node(v).kind {
                            NodeKind::Incident => NodeId::Incident(key),
                            NodeKind::Address => NodeId::Address(key),
                            NodeKind::Subject(_) => NodeId::Subject(key),
                        };
                        assert_eq!(g.find(&id), Some(v), "{what}: {id:?}");
                    }
                    assert_eq!(g.find(&NodeId::Incident("R999".into())), None);
                    assert_eq!(g.find(&NodeId::Address("0363010000000099".into())), None);
                    assert_eq!(g.find(&NodeId::Subject(format!("{:064x}", 99))), None);
                }
            }
        }
    }

    #[test]
    fn more_than_64_sources_are_refused() {
        let source = |k: usize| {
            let mut i = incident(&format!("{k}"), "politie", 1, "1.1.1", None, vec![]);
            i.source = format!("bron {k}");
            i
        };
        let many: Vec<LinkedIncident> = (0..64).map(source).collect();
        for part in [1, 5, STEP] {
            let g = Graph::build_in_parts(&many, &CategoryScope::All, part, &Cancel::never());
            assert_eq!(g.unwrap().sources().len(), 64);
            let more: Vec<LinkedIncident> = (0..66).map(source).collect();
            let e = Graph::build_in_parts(&more, &CategoryScope::All, part, &Cancel::never());
            assert!(matches!(
                e,
                Err(RelationsError::TooManySources { found: 65 })
            ));
        }
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
