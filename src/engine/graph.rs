//! The in-memory ownership graph: an immutable snapshot that readers share.
//!
//! A [`Snapshot`] is a compact *base* (a petgraph [`Graph`] built once, in bulk) plus a small
//! persistent *overlay* of the changes applied since (`imbl` maps, whose clones share
//! structure). Applying a change clones the overlay in O(log n) and returns a new snapshot, so
//! a write never copies the graph and a reader never waits: it holds its `Arc<Snapshot>` for as
//! long as it needs. When the overlay grows, [`Snapshot::compact`] folds it into a fresh base;
//! that runs off to the side while readers and writers carry on.
//!
//! Node indices are only meaningful within one snapshot (compaction renumbers them). Changes
//! therefore name entities by id, never by index.
//!
//! Must not break: a snapshot, once published, never changes.

use std::hash::BuildHasher;
use std::sync::Arc;

use chrono::NaiveDate;
use hashbrown::HashTable;
use petgraph::Direction::{Incoming, Outgoing};
use petgraph::graph::{Graph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};

use crate::domain::{EntityKind, Interest, Jurisdiction};

/// Index of a node within one snapshot.
pub type NodeIx = u32;

/// What the graph keeps of an entity: what the rules read, and what answers print.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeData {
    /// The entity's key in the store (0 for a signup candidate), which the name index uses.
    #[serde(default)]
    pub key: i64,
    pub id: Box<str>,
    pub name: Box<str>,
    pub kind: EntityKind,
    pub jurisdiction: Option<Jurisdiction>,
    pub headquarters: Option<Jurisdiction>,
}

/// How far inside an exclusive bound its share counts: well above the tolerance the rules
/// allow sums of shares (1e-9), far below any precision a register states.
pub const EXCLUSIVE_MARGIN: f64 = 1e-6;

/// What the graph keeps of an ownership.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeData {
    /// The ownership's key in the store.
    pub key: i64,
    pub interest: Interest,
    /// Known minimum and possible maximum share in percent; equal for an exact share, both 0
    /// for `board`, `control` and `consolidation`.
    pub min: f64,
    pub max: f64,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

impl EdgeData {
    /// An edge from a share as stored. An exclusive bound ("more than 25%", "less than 75%")
    /// counts as [`EXCLUSIVE_MARGIN`] inside it, so that "more than 50%" passes a "more than
    /// 50%" test that 50 itself fails.
    #[allow(clippy::too_many_arguments)]
    pub fn stated(
        key: i64,
        interest: Interest,
        (min, min_exclusive): (f64, bool),
        (max, max_exclusive): (f64, bool),
        valid_from: Option<NaiveDate>,
        valid_to: Option<NaiveDate>,
    ) -> Self {
        Self {
            key,
            interest,
            min: if min_exclusive {
                min + EXCLUSIVE_MARGIN
            } else {
                min
            },
            max: if max_exclusive {
                max - EXCLUSIVE_MARGIN
            } else {
                max
            },
            valid_from,
            valid_to,
        }
    }

    /// `valid_from` is inclusive and `valid_to` exclusive.
    pub fn valid_at(&self, d: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= d) && self.valid_to.is_none_or(|t| d < t)
    }

    pub fn is_range(&self) -> bool {
        self.min != self.max
    }
}

/// An edge with its endpoints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    pub owner: NodeIx,
    pub owned: NodeIx,
    pub data: EdgeData,
}

/// One designation of an entity by a list entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub list: i64,
    pub entry_key: i64,
    pub entry_id: Box<str>,
    pub listed_on: Option<NaiveDate>,
    /// Exclusive.
    pub delisted_on: Option<NaiveDate>,
}

impl Listing {
    pub fn active_at(&self, d: NaiveDate) -> bool {
        self.listed_on.is_none_or(|f| f <= d) && self.delisted_on.is_none_or(|t| d < t)
    }
}

/// A source's declaration that an entity's owners are unknown, withheld or exempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnknownOwner {
    /// The declaration's key in the store.
    pub key: i64,
    /// BODS `unspecifiedReason` code.
    pub reason: Box<str>,
    pub source_reason: Box<str>,
    pub source: Box<str>,
    pub details: Option<Box<str>>,
    pub valid_from: Option<NaiveDate>,
    /// Exclusive.
    pub valid_to: Option<NaiveDate>,
}

impl UnknownOwner {
    pub fn valid_at(&self, d: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= d) && self.valid_to.is_none_or(|t| d < t)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListMeta {
    pub key: i64,
    pub id: Box<str>,
    pub name: Box<str>,
    pub active: bool,
}

/// A change to the graph, as recorded in the change log. Entities are named by id so that a
/// change applies to any snapshot, before or after compaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GraphChange {
    UpsertEntity {
        node: NodeData,
    },
    RemoveEntity {
        id: Box<str>,
    },
    AddLink {
        owner: Box<str>,
        owned: Box<str>,
        data: EdgeData,
    },
    RemoveLink {
        owner: Box<str>,
        owned: Box<str>,
        key: i64,
    },
    UpsertList {
        list: ListMeta,
    },
    AddListing {
        entity: Box<str>,
        listing: Listing,
    },
    RemoveListing {
        entity: Box<str>,
        entry_key: i64,
    },
    /// Every declaration of unknown owners the entity now has (none removes them).
    SetUnknownOwners {
        entity: Box<str>,
        unknowns: Vec<UnknownOwner>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("entity '{0}' is not in the graph")]
    UnknownEntity(Box<str>),
}

/// The bulk-built part of a snapshot.
///
/// Layout for the walks every screening and whole-graph pass makes: the petgraph holds only
/// the structure (8 bytes a node, so many nodes share a cache line) and the entity data sits
/// apart in `nodes`, read only for the nodes a walk reaches. Links are added in order of the
/// entity they point to, so a node's owners lie next to each other in the edge array.
pub struct Base {
    graph: Graph<(), EdgeData, petgraph::Directed, u32>,
    nodes: Vec<NodeData>,
    by_id: HashTable<NodeIx>,
    /// Nodes by their key in the store, for the name index (which holds keys, not ids).
    by_key: HashTable<NodeIx>,
    hasher: hashbrown::DefaultHashBuilder,
    listings: hashbrown::HashMap<NodeIx, Vec<Listing>>,
}

impl Base {
    fn find(&self, id: &str) -> Option<NodeIx> {
        find_id(&self.by_id, &self.hasher, &self.nodes, id)
    }

    fn find_key(&self, key: i64) -> Option<NodeIx> {
        find_key(&self.by_key, &self.hasher, &self.nodes, key)
    }

    fn node_count(&self) -> u32 {
        self.nodes.len() as u32
    }
}

fn find_id(
    table: &HashTable<NodeIx>,
    hasher: &hashbrown::DefaultHashBuilder,
    nodes: &[NodeData],
    id: &str,
) -> Option<NodeIx> {
    table
        .find(hasher.hash_one(id), |&ix| &*nodes[ix as usize].id == id)
        .copied()
}

fn find_key(
    table: &HashTable<NodeIx>,
    hasher: &hashbrown::DefaultHashBuilder,
    nodes: &[NodeData],
    key: i64,
) -> Option<NodeIx> {
    table
        .find(hasher.hash_one(key), |&ix| nodes[ix as usize].key == key)
        .copied()
}

/// Builds a base from rows in bulk, as at start-up.
#[derive(Default)]
pub struct BaseBuilder {
    nodes: Vec<NodeData>,
    links: Vec<Link>,
    by_id: HashTable<NodeIx>,
    by_key: HashTable<NodeIx>,
    hasher: hashbrown::DefaultHashBuilder,
    listings: hashbrown::HashMap<NodeIx, Vec<Listing>>,
    lists: imbl::HashMap<i64, Arc<ListMeta>>,
    unknowns: imbl::HashMap<Arc<str>, Arc<[UnknownOwner]>>,
}

impl BaseBuilder {
    pub fn with_capacity(nodes: usize, edges: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(nodes),
            links: Vec::with_capacity(edges),
            by_id: HashTable::with_capacity(nodes),
            by_key: HashTable::with_capacity(nodes),
            ..Self::default()
        }
    }

    fn find(&self, id: &str) -> Option<NodeIx> {
        find_id(&self.by_id, &self.hasher, &self.nodes, id)
    }

    /// The node added with this key in the store.
    pub fn find_key(&self, key: i64) -> Option<NodeIx> {
        find_key(&self.by_key, &self.hasher, &self.nodes, key)
    }

    /// Adds an entity; an id seen before replaces the earlier data.
    pub fn add_node(&mut self, node: NodeData) -> NodeIx {
        let h = self.hasher.hash_one(&*node.id);
        let key = node.key;
        let (nodes, hasher) = (&mut self.nodes, &self.hasher);
        // One probe finds the id or the place for it.
        let (ix, new_key) = match self.by_id.entry(
            h,
            |&ix| nodes[ix as usize].id == node.id,
            |&i| hasher.hash_one(&*nodes[i as usize].id),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => {
                let ix = *e.get();
                let old = std::mem::replace(&mut nodes[ix as usize], node);
                (ix, old.key != key)
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                let ix = nodes.len() as NodeIx;
                e.insert(ix);
                nodes.push(node);
                (ix, true)
            }
        };
        // A key left behind by replaced data no longer matches its node, and is never found.
        if new_key {
            self.by_key.insert_unique(hasher.hash_one(key), ix, |&i| {
                hasher.hash_one(nodes[i as usize].key)
            });
        }
        ix
    }

    pub fn add_link(&mut self, owner: &str, owned: &str, data: EdgeData) -> Result<(), ApplyError> {
        let o = self
            .find(owner)
            .ok_or_else(|| ApplyError::UnknownEntity(owner.into()))?;
        let d = self
            .find(owned)
            .ok_or_else(|| ApplyError::UnknownEntity(owned.into()))?;
        self.add_link_ix(o, d, data);
        Ok(())
    }

    pub fn add_link_ix(&mut self, owner: NodeIx, owned: NodeIx, data: EdgeData) {
        self.links.push(Link { owner, owned, data });
    }

    pub fn add_listing(&mut self, entity: &str, listing: Listing) -> Result<(), ApplyError> {
        let ix = self
            .find(entity)
            .ok_or_else(|| ApplyError::UnknownEntity(entity.into()))?;
        self.listings.entry(ix).or_default().push(listing);
        Ok(())
    }

    pub fn add_list(&mut self, list: ListMeta) {
        self.lists.insert(list.key, Arc::new(list));
    }

    pub fn set_unknown_owners(&mut self, entity: &str, unknowns: Vec<UnknownOwner>) {
        self.unknowns.insert(Arc::from(entity), unknowns.into());
    }

    pub fn finish(mut self, version: i64) -> Snapshot {
        let mut graph = Graph::with_capacity(self.nodes.len(), self.links.len());
        for _ in 0..self.nodes.len() {
            graph.add_node(());
        }
        // petgraph puts each new edge at the head of its nodes' lists: adding a node's owners
        // in reverse order of `(owned, owner)` leaves them in the edge array side by side and
        // walks them in ascending order of owner, whatever order the rows came in.
        self.links
            .sort_unstable_by_key(|l| std::cmp::Reverse((l.owned, l.owner)));
        for l in self.links {
            graph.add_edge(
                NodeIndex::new(l.owner as usize),
                NodeIndex::new(l.owned as usize),
                l.data,
            );
        }
        let base = Base {
            graph,
            nodes: self.nodes,
            by_id: self.by_id,
            by_key: self.by_key,
            hasher: self.hasher,
            listings: self.listings,
        };
        Snapshot {
            version,
            entities: base.nodes.len(),
            links: base.graph.edge_count(),
            overlay: Overlay {
                next: base.node_count(),
                ..Overlay::default()
            },
            base: Arc::new(base),
            lists: self.lists,
            unknowns: self.unknowns,
        }
    }
}

/// Changes applied since the base was built. Every field is a persistent map: cloning the
/// overlay to apply one change costs O(log n), not O(size).
#[derive(Clone, Default)]
struct Overlay {
    /// Changed or added nodes; `None` marks a deleted one.
    nodes: imbl::HashMap<NodeIx, Option<Arc<NodeData>>>,
    /// Ids of nodes added since the base.
    by_id: imbl::HashMap<Arc<str>, NodeIx>,
    /// Keys of nodes added since the base, or given another key.
    by_key: imbl::HashMap<i64, NodeIx>,
    next: NodeIx,
    ins: imbl::HashMap<NodeIx, imbl::Vector<Link>>,
    outs: imbl::HashMap<NodeIx, imbl::Vector<Link>>,
    /// Keys of base edges removed since.
    removed: imbl::HashSet<i64>,
    listings: imbl::HashMap<NodeIx, Arc<[Listing]>>,
    changes: usize,
}

/// What an overlay map holds for `ix`. Most snapshots have an empty or small overlay, and the
/// persistent maps hash with SipHash: skipping the lookup in an empty one keeps reading the
/// base as cheap as reading a plain graph.
fn overlaid<V: Clone>(map: &imbl::HashMap<NodeIx, V>, ix: NodeIx) -> Option<&V> {
    if map.is_empty() { None } else { map.get(&ix) }
}

/// One consistent, immutable view of the graph at a change-log version.
#[derive(Clone)]
pub struct Snapshot {
    version: i64,
    /// Live entities and the links between them, kept as changes apply so that reading the
    /// graph's size costs nothing.
    entities: usize,
    links: usize,
    base: Arc<Base>,
    overlay: Overlay,
    lists: imbl::HashMap<i64, Arc<ListMeta>>,
    /// Declarations of unknown owners, by entity id (few entities have any).
    unknowns: imbl::HashMap<Arc<str>, Arc<[UnknownOwner]>>,
}

impl Snapshot {
    pub fn empty() -> Self {
        BaseBuilder::default().finish(0)
    }

    /// The change-log version this snapshot reflects.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// How many changes sit in the overlay, waiting to be folded into the base.
    pub fn overlay_len(&self) -> usize {
        self.overlay.changes
    }

    /// The index of a live entity.
    pub fn lookup(&self, id: &str) -> Option<NodeIx> {
        let ix = self
            .overlay
            .by_id
            .get(id)
            .copied()
            .or_else(|| self.base.find(id))?;
        self.node(ix).map(|_| ix)
    }

    /// The index of a live entity, by its key in the store.
    pub fn lookup_key(&self, key: i64) -> Option<NodeIx> {
        let ix = self
            .overlay
            .by_key
            .get(&key)
            .copied()
            .or_else(|| self.base.find_key(key))?;
        self.node(ix).filter(|n| n.key == key).map(|_| ix)
    }

    /// A live entity's data.
    pub fn node(&self, ix: NodeIx) -> Option<&NodeData> {
        match overlaid(&self.overlay.nodes, ix) {
            Some(n) => n.as_deref(),
            None => self.base.nodes.get(ix as usize),
        }
    }

    fn base_links(&self, ix: NodeIx, dir: petgraph::Direction) -> impl Iterator<Item = Link> + '_ {
        let in_base = ix < self.base.node_count();
        let removed = &self.overlay.removed;
        in_base
            .then(|| {
                self.base
                    .graph
                    .edges_directed(NodeIndex::new(ix as usize), dir)
            })
            .into_iter()
            .flatten()
            .filter(move |e| removed.is_empty() || !removed.contains(&e.weight().key))
            .map(|e| Link {
                owner: e.source().index() as NodeIx,
                owned: e.target().index() as NodeIx,
                data: *e.weight(),
            })
    }

    /// The links into `ix`: its owners.
    pub fn owners(&self, ix: NodeIx) -> impl Iterator<Item = Link> + '_ {
        let added = overlaid(&self.overlay.ins, ix)
            .into_iter()
            .flat_map(|v| v.iter().copied());
        self.base_links(ix, Incoming).chain(added)
    }

    /// The links out of `ix`: what it holds.
    pub fn holdings(&self, ix: NodeIx) -> impl Iterator<Item = Link> + '_ {
        let added = overlaid(&self.overlay.outs, ix)
            .into_iter()
            .flat_map(|v| v.iter().copied());
        self.base_links(ix, Outgoing).chain(added)
    }

    /// Every designation of `ix`, active or not.
    pub fn listings(&self, ix: NodeIx) -> &[Listing] {
        match overlaid(&self.overlay.listings, ix) {
            Some(l) => l,
            None => self.base.listings.get(&ix).map_or(&[], Vec::as_slice),
        }
    }

    /// Entities with designations, active or not.
    pub fn listed(&self) -> impl Iterator<Item = NodeIx> + '_ {
        let overlay = &self.overlay.listings;
        self.base
            .listings
            .keys()
            .copied()
            .filter(move |ix| !overlay.contains_key(ix))
            .chain(overlay.keys().copied())
            .filter(|&ix| self.node(ix).is_some() && !self.listings(ix).is_empty())
    }

    /// Whether a designation holds at `d`: in its dates, on a list that is active.
    pub fn in_force(&self, l: &Listing, d: NaiveDate) -> bool {
        l.active_at(d) && self.list(l.list).is_some_and(|m| m.active)
    }

    pub fn list(&self, key: i64) -> Option<&ListMeta> {
        self.lists.get(&key).map(|l| &**l)
    }

    /// Every declaration of unknown owners of the entity `id`, valid or not.
    pub fn unknown_owners(&self, id: &str) -> &[UnknownOwner] {
        // Every screening asks for each ancestor; most graphs have no declarations to hash for.
        if self.unknowns.is_empty() {
            return &[];
        }
        self.unknowns.get(id).map_or(&[], |u| u)
    }

    /// Every entity with declarations of unknown owners, by id, with them (valid or not).
    pub fn with_unknown_owners(&self) -> impl Iterator<Item = (&str, &[UnknownOwner])> {
        self.unknowns.iter().map(|(id, u)| (&**id, &**u))
    }

    /// Every list, in no particular order.
    pub fn lists(&self) -> impl Iterator<Item = &ListMeta> {
        self.lists.values().map(|l| &**l)
    }

    /// An upper bound of node indices, for sizing per-node tables.
    pub fn node_bound(&self) -> usize {
        self.overlay.next as usize
    }

    /// Live entities.
    pub fn entity_count(&self) -> usize {
        self.entities
    }

    /// Links held: every ownership of the graph, whatever its dates.
    pub fn link_count(&self) -> usize {
        self.links
    }

    /// Applies one change, giving the next snapshot. `self` is untouched.
    pub fn apply(&self, changes: &[GraphChange], version: i64) -> Result<Snapshot, ApplyError> {
        let mut s = self.clone();
        for c in changes {
            s.apply_one(c)?;
        }
        s.version = version;
        Ok(s)
    }

    fn require(&self, id: &str) -> Result<NodeIx, ApplyError> {
        self.lookup(id)
            .ok_or_else(|| ApplyError::UnknownEntity(id.into()))
    }

    fn apply_one(&mut self, change: &GraphChange) -> Result<(), ApplyError> {
        let o = &mut self.overlay;
        o.changes += 1;
        match change {
            GraphChange::UpsertEntity { node } => {
                let ix = match self.lookup(&node.id) {
                    Some(ix) => ix,
                    None => {
                        self.entities += 1;
                        let o = &mut self.overlay;
                        let ix = o.next;
                        o.next += 1;
                        o.by_id.insert(Arc::from(&*node.id), ix);
                        ix
                    }
                };
                if self.node(ix).is_none_or(|n| n.key != node.key) {
                    self.overlay.by_key.insert(node.key, ix);
                }
                self.overlay.nodes.insert(ix, Some(Arc::new(node.clone())));
            }
            GraphChange::RemoveEntity { id } => {
                let ix = self.require(id)?;
                self.overlay.nodes.insert(ix, None);
                self.entities -= 1;
            }
            GraphChange::AddLink { owner, owned, data } => {
                let link = Link {
                    owner: self.require(owner)?,
                    owned: self.require(owned)?,
                    data: *data,
                };
                let o = &mut self.overlay;
                o.ins.entry(link.owned).or_default().push_back(link);
                o.outs.entry(link.owner).or_default().push_back(link);
                self.links += 1;
            }
            GraphChange::RemoveLink { owner, owned, key } => {
                // The endpoints may already be gone when an entity and its links are removed
                // together, so look them up among all nodes, live or not.
                let find = |id: &str| {
                    self.overlay
                        .by_id
                        .get(id)
                        .copied()
                        .or_else(|| self.base.find(id))
                };
                let (Some(owner_ix), Some(owned_ix)) = (find(owner), find(owned)) else {
                    return Err(ApplyError::UnknownEntity(owner.clone()));
                };
                // A base link hangs off the node the base numbered, even where the id has
                // since been given a new node.
                let in_base = self
                    .base
                    .find(owned)
                    .is_some_and(|ix| self.base_links(ix, Incoming).any(|l| l.data.key == *key));
                let o = &mut self.overlay;
                let in_overlay = remove_link(&mut o.ins, owned_ix, *key)
                    | remove_link(&mut o.outs, owner_ix, *key);
                if !in_overlay {
                    o.removed.insert(*key);
                }
                if in_overlay || in_base {
                    self.links -= 1;
                }
            }
            GraphChange::UpsertList { list } => {
                self.lists.insert(list.key, Arc::new(list.clone()));
            }
            GraphChange::AddListing { entity, listing } => {
                let ix = self.require(entity)?;
                let mut all: Vec<Listing> = self
                    .listings(ix)
                    .iter()
                    .filter(|l| l.entry_key != listing.entry_key)
                    .cloned()
                    .collect();
                all.push(listing.clone());
                self.overlay.listings.insert(ix, all.into());
            }
            GraphChange::RemoveListing { entity, entry_key } => {
                // A listing may outlive its entity in the log's order of events; nothing to do.
                let Some(ix) = self
                    .overlay
                    .by_id
                    .get(&**entity)
                    .copied()
                    .or_else(|| self.base.find(entity))
                else {
                    return Ok(());
                };
                let rest: Vec<Listing> = self
                    .listings(ix)
                    .iter()
                    .filter(|l| l.entry_key != *entry_key)
                    .cloned()
                    .collect();
                self.overlay.listings.insert(ix, rest.into());
            }
            GraphChange::SetUnknownOwners { entity, unknowns } => {
                if unknowns.is_empty() {
                    self.unknowns.remove(&**entity);
                } else {
                    self.unknowns
                        .insert(Arc::from(&**entity), unknowns.clone().into());
                }
            }
        }
        Ok(())
    }

    /// Folds the overlay into a fresh base: same content, new numbering, empty overlay.
    /// O(nodes + edges); run it off the request path.
    pub fn compact(&self) -> Snapshot {
        let live: Vec<NodeIx> = (0..self.overlay.next)
            .filter(|&ix| self.node(ix).is_some())
            .collect();
        let edges: usize = live.iter().map(|&ix| self.owners(ix).count()).sum();
        let mut b = BaseBuilder::with_capacity(live.len(), edges);
        let mut renumber = vec![NodeIx::MAX; self.overlay.next as usize];
        for &ix in &live {
            let node = self
                .node(ix)
                .cloned()
                .unwrap_or_else(|| unreachable!("filtered to live nodes"));
            renumber[ix as usize] = b.add_node(node);
            let listings = self.listings(ix);
            if !listings.is_empty() {
                b.listings.insert(renumber[ix as usize], listings.to_vec());
            }
        }
        for &ix in &live {
            for l in self.owners(ix) {
                let owner = renumber[l.owner as usize];
                if owner != NodeIx::MAX {
                    b.add_link_ix(owner, renumber[ix as usize], l.data);
                }
            }
        }
        b.lists = self.lists.clone();
        b.unknowns = self.unknowns.clone();
        b.finish(self.version)
    }

    /// Every live link, for whole-graph passes and exports.
    pub fn links(&self) -> impl Iterator<Item = Link> + '_ {
        (0..self.overlay.next)
            .filter(|&ix| self.node(ix).is_some())
            .flat_map(|ix| self.owners(ix))
    }

    /// Base edge index of a link, for tests of compaction.
    #[cfg(test)]
    fn base_edge_count(&self) -> usize {
        self.base.graph.edge_count()
    }
}

fn remove_link(map: &mut imbl::HashMap<NodeIx, imbl::Vector<Link>>, ix: NodeIx, key: i64) -> bool {
    let Some(v) = map.get(&ix) else { return false };
    let Some(pos) = v.iter().position(|l| l.data.key == key) else {
        return false;
    };
    let mut v = v.clone();
    v.remove(pos);
    if v.is_empty() {
        map.remove(&ix);
    } else {
        map.insert(ix, v);
    }
    true
}

/// A company named by its id, nowhere in particular: for tests.
#[cfg(test)]
pub(crate) fn node(id: &str) -> NodeData {
    NodeData {
        key: 0,
        id: id.into(),
        name: id.into(),
        kind: EntityKind::Company,
        jurisdiction: None,
        headquarters: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(key: i64, p: f64) -> EdgeData {
        EdgeData {
            key,
            interest: Interest::Shares,
            min: p,
            max: p,
            valid_from: None,
            valid_to: None,
        }
    }

    fn owners_of(s: &Snapshot, id: &str) -> Vec<(String, f64)> {
        let ix = s.lookup(id).unwrap();
        let mut v: Vec<_> = s
            .owners(ix)
            .map(|l| (s.node(l.owner).unwrap().id.to_string(), l.data.min))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn overlay_changes_are_visible_and_leave_older_snapshots_untouched() {
        let mut b = BaseBuilder::default();
        b.add_node(node("a"));
        b.add_node(node("b"));
        b.add_link("a", "b", shares(1, 60.0)).unwrap();
        let s0 = b.finish(1);

        let s1 = s0
            .apply(
                &[
                    GraphChange::UpsertEntity { node: node("c") },
                    GraphChange::AddLink {
                        owner: "c".into(),
                        owned: "b".into(),
                        data: shares(2, 40.0),
                    },
                    GraphChange::RemoveLink {
                        owner: "a".into(),
                        owned: "b".into(),
                        key: 1,
                    },
                ],
                2,
            )
            .unwrap();
        assert_eq!(owners_of(&s0, "b"), vec![("a".into(), 60.0)]);
        assert_eq!(owners_of(&s1, "b"), vec![("c".into(), 40.0)]);
        assert!(s0.lookup("c").is_none());
        assert_eq!(s1.version(), 2);

        let s2 = s1
            .apply(
                &[
                    GraphChange::RemoveEntity { id: "c".into() },
                    GraphChange::RemoveLink {
                        owner: "c".into(),
                        owned: "b".into(),
                        key: 2,
                    },
                ],
                3,
            )
            .unwrap();
        assert!(s2.lookup("c").is_none());
        assert!(owners_of(&s2, "b").is_empty());
        assert!(s1.lookup("c").is_some());
    }

    #[test]
    fn compaction_keeps_content_and_empties_the_overlay() {
        let mut b = BaseBuilder::default();
        for id in ["a", "b", "c"] {
            b.add_node(node(id));
        }
        b.add_link("a", "b", shares(1, 60.0)).unwrap();
        b.add_link("b", "c", shares(2, 100.0)).unwrap();
        let s = b
            .finish(1)
            .apply(
                &[
                    GraphChange::RemoveEntity { id: "a".into() },
                    GraphChange::RemoveLink {
                        owner: "a".into(),
                        owned: "b".into(),
                        key: 1,
                    },
                    GraphChange::UpsertEntity { node: node("d") },
                    GraphChange::AddLink {
                        owner: "d".into(),
                        owned: "c".into(),
                        data: shares(3, 0.5),
                    },
                ],
                2,
            )
            .unwrap();
        let c = s.compact();
        assert_eq!(c.overlay_len(), 0);
        assert_eq!(c.version(), 2);
        assert_eq!(c.entity_count(), 3);
        assert_eq!(c.base_edge_count(), 2);
        assert_eq!(owners_of(&c, "c"), owners_of(&s, "c"));
        assert!(c.lookup("a").is_none());
    }

    #[test]
    fn entities_are_found_by_key_in_the_base_the_overlay_and_after_compaction() {
        let keyed = |id: &str, key: i64| NodeData { key, ..node(id) };
        let mut b = BaseBuilder::default();
        b.add_node(keyed("a", 10));
        b.add_node(keyed("b", 11));
        // The same id again with new data keeps its node.
        b.add_node(NodeData {
            name: "B renamed".into(),
            ..keyed("b", 11)
        });
        let s = b.finish(1);
        let id_of = |s: &Snapshot, key| {
            s.lookup_key(key)
                .map(|ix| s.node(ix).unwrap().id.to_string())
        };
        assert_eq!(id_of(&s, 10).as_deref(), Some("a"));
        assert_eq!(id_of(&s, 11).as_deref(), Some("b"));
        assert_eq!(id_of(&s, 12), None);

        let s = s
            .apply(
                &[
                    GraphChange::UpsertEntity {
                        node: keyed("c", 12),
                    },
                    GraphChange::RemoveEntity { id: "a".into() },
                ],
                2,
            )
            .unwrap();
        assert_eq!(id_of(&s, 12).as_deref(), Some("c"));
        assert_eq!(
            id_of(&s, 10),
            None,
            "a removed entity is not found by its key"
        );
        let s = s
            .apply(
                &[GraphChange::UpsertEntity {
                    node: keyed("a", 13),
                }],
                3,
            )
            .unwrap();
        assert_eq!(id_of(&s, 13).as_deref(), Some("a"));
        assert_eq!(id_of(&s, 10), None);

        let c = s.compact();
        for (key, id) in [
            (11, Some("b")),
            (12, Some("c")),
            (13, Some("a")),
            (10, None),
        ] {
            assert_eq!(id_of(&c, key).as_deref(), id, "key {key} after compaction");
        }
    }

    /// The sizes a snapshot keeps, counted the slow way.
    fn counted(s: &Snapshot) -> (usize, usize) {
        let entities = (0..s.node_bound() as NodeIx)
            .filter(|&ix| s.node(ix).is_some())
            .count();
        (entities, s.links().count())
    }

    #[test]
    fn sizes_kept_as_changes_apply_match_a_count_of_the_graph() {
        let mut b = BaseBuilder::default();
        for id in ["a", "b", "c"] {
            b.add_node(node(id));
        }
        b.add_link("a", "b", shares(1, 60.0)).unwrap();
        b.add_link("b", "c", shares(2, 100.0)).unwrap();
        let s0 = b.finish(1);
        assert_eq!((s0.entity_count(), s0.link_count()), (3, 2));
        assert_eq!(counted(&s0), (3, 2));

        let steps: Vec<Vec<GraphChange>> = vec![
            // An entity and a link added in the overlay; an existing entity upserted.
            vec![
                GraphChange::UpsertEntity { node: node("d") },
                GraphChange::UpsertEntity { node: node("a") },
                GraphChange::AddLink {
                    owner: "d".into(),
                    owned: "c".into(),
                    data: shares(3, 0.5),
                },
            ],
            // A base link and an overlay link removed; one that is not there changes nothing.
            vec![
                GraphChange::RemoveLink {
                    owner: "a".into(),
                    owned: "b".into(),
                    key: 1,
                },
                GraphChange::RemoveLink {
                    owner: "d".into(),
                    owned: "c".into(),
                    key: 3,
                },
                GraphChange::RemoveLink {
                    owner: "b".into(),
                    owned: "c".into(),
                    key: 99,
                },
            ],
            // An entity deleted with its links, as the store deletes one, then its id reused.
            vec![
                GraphChange::RemoveLink {
                    owner: "b".into(),
                    owned: "c".into(),
                    key: 2,
                },
                GraphChange::RemoveEntity { id: "b".into() },
            ],
            vec![
                GraphChange::UpsertEntity { node: node("b") },
                GraphChange::AddLink {
                    owner: "b".into(),
                    owned: "a".into(),
                    data: shares(4, 10.0),
                },
            ],
        ];
        let mut s = s0;
        for (i, changes) in steps.iter().enumerate() {
            s = s.apply(changes, i as i64 + 2).unwrap();
            assert_eq!(
                (s.entity_count(), s.link_count()),
                counted(&s),
                "after step {i}"
            );
            let c = s.compact();
            assert_eq!((c.entity_count(), c.link_count()), counted(&s));
        }
        assert_eq!((s.entity_count(), s.link_count()), (4, 1));
    }

    #[test]
    fn removing_a_link_that_is_not_there_names_the_entity() {
        let s = Snapshot::empty();
        let err = s.apply(
            &[GraphChange::AddLink {
                owner: "x".into(),
                owned: "y".into(),
                data: shares(1, 1.0),
            }],
            1,
        );
        assert!(matches!(err, Err(ApplyError::UnknownEntity(id)) if &*id == "x"));
    }
}
