//! The part of the graph that one question needs, copied out of a snapshot for one date.
//!
//! A screening only depends on the ancestors of the screened entity: taint flows down
//! ownership links, and the set of ancestors is closed upwards, so every owner of every node
//! here is here too. Building this small petgraph once per request lets each rule run its
//! fixpoints, solvers and path searches on dense local indices, and lets a signup screening
//! add its declared owners without touching the shared snapshot.

use std::borrow::Cow;

use chrono::NaiveDate;
use hashbrown::HashMap;
use petgraph::graph::{Graph, NodeIndex};

use super::graph::{Link, Listing, NodeData, NodeIx, Snapshot, UnknownOwner};
use crate::domain::Interest;

/// An entity in a question: one of the graph's, or one described by the caller.
#[derive(Clone, Debug)]
pub enum Party {
    Known(NodeIx),
    New(NodeData),
}

/// An owner declared for one screening only.
#[derive(Clone, Debug)]
pub struct Declared {
    pub owner: Party,
    pub interest: Interest,
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Debug)]
pub struct LocalNode<'s> {
    pub data: Cow<'s, NodeData>,
    /// Designations active at the question's date, on active lists.
    pub listings: Vec<&'s Listing>,
    /// Declarations of unknown owners valid at the question's date.
    pub unknowns: Vec<&'s UnknownOwner>,
}

#[derive(Clone, Copy, Debug)]
pub struct LocalEdge {
    pub interest: Interest,
    pub min: f64,
    pub max: f64,
}

impl LocalEdge {
    /// The share in percent, at the range's minimum or maximum.
    pub fn share(&self, max: bool) -> f64 {
        if max { self.max } else { self.min }
    }
}

pub struct Local<'s> {
    pub graph: Graph<LocalNode<'s>, LocalEdge>,
    pub target: NodeIndex,
    pub as_of: NaiveDate,
    pub snap: &'s Snapshot,
}

struct Builder<'s> {
    snap: &'s Snapshot,
    as_of: NaiveDate,
    graph: Graph<LocalNode<'s>, LocalEdge>,
    seen: HashMap<NodeIx, NodeIndex>,
    queue: Vec<NodeIx>,
}

impl<'s> Builder<'s> {
    fn new(snap: &'s Snapshot, as_of: NaiveDate) -> Self {
        Builder {
            snap,
            as_of,
            graph: Graph::new(),
            seen: HashMap::new(),
            queue: Vec::new(),
        }
    }

    fn node(&mut self, party: &Party) -> NodeIndex {
        match party {
            Party::Known(ix) => {
                if let Some(&n) = self.seen.get(ix) {
                    return n;
                }
                let data = self
                    .snap
                    .node(*ix)
                    .map_or_else(|| Cow::Owned(missing(*ix)), Cow::Borrowed);
                let (snap, as_of) = (self.snap, self.as_of);
                let listings = snap
                    .listings(*ix)
                    .iter()
                    .filter(|l| snap.in_force(l, as_of))
                    .collect();
                let unknowns = snap
                    .unknown_owners(&data.id)
                    .iter()
                    .filter(|u| u.valid_at(as_of))
                    .collect();
                let n = self.graph.add_node(LocalNode {
                    data,
                    listings,
                    unknowns,
                });
                self.seen.insert(*ix, n);
                self.queue.push(*ix);
                n
            }
            Party::New(data) => self.graph.add_node(LocalNode {
                data: Cow::Owned(data.clone()),
                listings: Vec::new(),
                unknowns: Vec::new(),
            }),
        }
    }

    fn edge(&mut self, owner: NodeIndex, owned: NodeIndex, l: &Link) {
        let d = l.data;
        self.graph.add_edge(
            owner,
            owned,
            LocalEdge {
                interest: d.interest,
                min: d.min,
                max: d.max,
            },
        );
    }
}

/// Whether a link holds at `as_of` and counts as ownership or control: the links a local
/// graph copies, and the whole-graph pass follows.
pub(super) fn counts(l: &Link, as_of: NaiveDate) -> bool {
    l.data.interest != Interest::Consolidation && l.data.valid_at(as_of)
}

fn missing(ix: NodeIx) -> NodeData {
    NodeData {
        key: 0,
        id: format!("#{ix}").into(),
        name: "(unknown)".into(),
        kind: crate::domain::EntityKind::Other,
        jurisdiction: None,
        headquarters: None,
    }
}

impl<'s> Local<'s> {
    /// The target and all its owners, direct and indirect, at `as_of`. Declared owners join as
    /// links into the target; a declared known owner replaces any stored link of the same
    /// interest from that owner, since the applicant's declaration is the newer word.
    pub fn upstream(
        snap: &'s Snapshot,
        target: &Party,
        declared: &[Declared],
        as_of: NaiveDate,
    ) -> Self {
        let mut b = Builder::new(snap, as_of);
        let t = b.node(target);
        let mut replaced = Vec::new();
        for d in declared {
            let o = b.node(&d.owner);
            b.graph.add_edge(
                o,
                t,
                LocalEdge {
                    interest: d.interest,
                    min: d.min,
                    max: d.max,
                },
            );
            if let Party::Known(ix) = d.owner {
                replaced.push((ix, d.interest));
            }
        }
        let target_ix = match target {
            Party::Known(ix) => Some(*ix),
            Party::New(_) => None,
        };
        while let Some(ix) = b.queue.pop() {
            let here = b.seen[&ix];
            for l in snap.owners(ix).filter(|l| counts(l, as_of)) {
                if Some(ix) == target_ix && replaced.contains(&(l.owner, l.data.interest)) {
                    continue;
                }
                let o = b.node(&Party::Known(l.owner));
                b.edge(o, here, &l);
            }
        }
        Local {
            graph: b.graph,
            target: t,
            as_of,
            snap,
        }
    }

    /// The target and everything it holds, directly and indirectly, at `as_of`.
    pub fn downstream(snap: &'s Snapshot, target: NodeIx, as_of: NaiveDate) -> Self {
        let mut b = Builder::new(snap, as_of);
        let t = b.node(&Party::Known(target));
        while let Some(ix) = b.queue.pop() {
            let here = b.seen[&ix];
            for l in snap.holdings(ix).filter(|l| counts(l, as_of)) {
                let d = b.node(&Party::Known(l.owned));
                b.edge(here, d, &l);
            }
        }
        Local {
            graph: b.graph,
            target: t,
            as_of,
            snap,
        }
    }

    pub fn id(&self, n: NodeIndex) -> &str {
        &self.graph[n].data.id
    }
}
