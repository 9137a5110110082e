//! Whole-graph screening: every entity's decision under a policy, in one pass over a snapshot.
//!
//! A screening answers for one entity from its ancestors; a re-screening job needs the answer
//! for every entity, and asking entity by entity would walk the same chains millions of times.
//! Here each rule's fixpoints are grown once, downwards from all of the rule's sources over the
//! whole graph. Whether a node is tainted depends only on its ancestors, so the global tainted
//! set, read at any entity, is the one that entity's own screening grows; the attributable
//! share is solved once over the part of the graph below the tainted set. The cost is the size
//! of what the sources reach, not the number of entities.
//!
//! The pass decides; it does not explain. The entities it flags are explained one at a time by
//! [`super::screen`], the code a signup screening runs, so a job's evidence is exactly what a
//! screening of that entity shows. Owners declared unknown are handled the same way: the pass
//! marks every entity at or below a declaration an `unknown_owners` rule counts, and the
//! explanation decides.
//!
//! Must not break: for every entity, the pass's decision under the ownership rules equals what
//! [`super::screen`] decides (tests/engine_reference.rs checks both against a naive reference on
//! random graphs).

use hashbrown::{HashMap, HashSet};

use chrono::NaiveDate;
use petgraph::Direction::Incoming;
use petgraph::graph::{EdgeIndex, Graph, NodeIndex};
use rayon::prelude::*;

use super::graph::{Link, NodeIx, Snapshot};
use super::local::{Local, Party, counts};
use super::rules::{Sources, TaintSet, control_in, grow, held_in};
use super::solve::{System, solve};
use super::{Outcome, screen};
use crate::domain::{Basis, ControlEffect, Decision, Interest, OwnershipTest, Rule};

/// What one ownership rule finds for one entity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finding {
    /// The rule's index in the policy.
    pub rule: usize,
    pub basis: Basis,
    pub decision: Decision,
    /// The share that met the test; none for an entity that is itself a source.
    pub share: Option<f64>,
}

/// The result of a whole-graph pass.
#[derive(Debug, Default)]
pub struct Sweep {
    /// What the sanctions and jurisdiction rules find, by entity; an entity absent here is
    /// clear under them.
    pub findings: HashMap<NodeIx, Vec<Finding>>,
    /// Entities at or below a declaration of unknown owners that an `unknown_owners` rule
    /// counts, not already flagged: explaining them decides.
    pub unknown_candidates: Vec<NodeIx>,
}

impl Sweep {
    /// The decision of the sanctions and jurisdiction rules for `ix`.
    pub fn decision(&self, ix: NodeIx) -> Decision {
        self.findings
            .get(&ix)
            .and_then(|f| f.iter().map(|f| f.decision).max())
            .unwrap_or(Decision::Clear)
    }

    /// Every entity whose answer needs an explanation: the flagged and the candidates, in
    /// index order.
    pub fn to_explain(&self) -> Vec<NodeIx> {
        let mut v: Vec<NodeIx> = self.findings.keys().copied().collect();
        v.extend(&self.unknown_candidates);
        v.sort_unstable();
        v
    }
}

/// Runs every rule of a policy over the whole snapshot at `as_of`. Rules run in parallel, and
/// so do the sources of a rule that does not aggregate.
pub fn sweep(snap: &Snapshot, rules: &[Rule], as_of: NaiveDate) -> Sweep {
    let ownership: Vec<(usize, OwnershipTest, Sources)> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.test()?, Sources::of(r)?)))
        .collect();
    let per_rule: Vec<Vec<(NodeIx, Finding)>> = ownership
        .par_iter()
        .map(|(i, test, sources)| rule_findings(snap, as_of, *i, test, sources))
        .collect();
    let mut findings: HashMap<NodeIx, Vec<Finding>> = HashMap::new();
    for (ix, f) in per_rule.into_iter().flatten() {
        findings.entry(ix).or_default().push(f);
    }
    let unknown_candidates = unknown_candidates(snap, rules, as_of)
        .into_iter()
        .filter(|ix| !findings.contains_key(ix))
        .collect();
    Sweep {
        findings,
        unknown_candidates,
    }
}

/// The full answer for one entity, with reasons and paths: what a screening of it gives.
pub fn explain(snap: &Snapshot, rules: &[Rule], as_of: NaiveDate, ix: NodeIx) -> Outcome {
    screen(&Local::upstream(snap, &Party::Known(ix), &[], as_of), rules)
}

/// `roots` and every live entity below them over links that hold at `as_of`, in index order:
/// what a change at the roots can reach.
pub fn descendants(snap: &Snapshot, roots: &[NodeIx], as_of: NaiveDate) -> Vec<NodeIx> {
    reach(snap, roots.to_vec(), |l| counts(l, as_of))
}

/// `roots` and every live entity below them over the links `follow` accepts, in index order.
fn reach(snap: &Snapshot, roots: Vec<NodeIx>, follow: impl Fn(&Link) -> bool) -> Vec<NodeIx> {
    let mut seen: HashSet<NodeIx> = roots.iter().copied().collect();
    let mut queue = roots;
    while let Some(u) = queue.pop() {
        for l in snap.holdings(u) {
            if follow(&l) && seen.insert(l.owned) {
                queue.push(l.owned);
            }
        }
    }
    let mut v: Vec<NodeIx> = seen
        .into_iter()
        .filter(|&ix| snap.node(ix).is_some())
        .collect();
    v.sort_unstable();
    v
}

fn share(l: &Link, max: bool) -> f64 {
    if max { l.data.max } else { l.data.min }
}

/// A tainted set of the whole graph. Grown from all of a rule's sources together it may cover
/// much of the graph, and a dense table indexed by node is fastest; grown from one source (a
/// rule that does not aggregate), it reaches a few entities, and only those are stored.
struct Taint {
    /// The members, in the order they joined.
    members: Vec<NodeIx>,
    store: Store,
}

enum Store {
    Dense {
        member: Vec<bool>,
        held: Vec<[f64; 2]>,
    },
    Sparse {
        member: HashSet<NodeIx>,
        held: HashMap<NodeIx, [f64; 2]>,
    },
}

impl Taint {
    fn new(snap: &Snapshot, dense: bool) -> Self {
        let store = if dense {
            Store::Dense {
                member: vec![false; snap.node_bound()],
                held: vec![[0.0; 2]; snap.node_bound()],
            }
        } else {
            Store::Sparse {
                member: HashSet::new(),
                held: HashMap::new(),
            }
        };
        Taint {
            members: Vec::new(),
            store,
        }
    }
}

impl TaintSet<NodeIx> for Taint {
    fn insert(&mut self, n: NodeIx) -> bool {
        let new = match &mut self.store {
            Store::Dense { member, .. } => !std::mem::replace(&mut member[n as usize], true),
            Store::Sparse { member, .. } => member.insert(n),
        };
        if new {
            self.members.push(n);
        }
        new
    }

    fn contains(&self, n: NodeIx) -> bool {
        match &self.store {
            Store::Dense { member, .. } => member[n as usize],
            Store::Sparse { member, .. } => member.contains(&n),
        }
    }

    fn add_held(&mut self, n: NodeIx, k: usize, share: f64) -> f64 {
        let h = match &mut self.store {
            Store::Dense { held, .. } => &mut held[n as usize][k],
            Store::Sparse { held, .. } => &mut held.entry(n).or_default()[k],
        };
        *h += share;
        *h
    }
}

/// The links into `x` at `as_of`, as [`held_in`] and [`control_in`] read them.
fn owners_in<'a>(
    snap: &'a Snapshot,
    as_of: NaiveDate,
    t: &'a Taint,
    x: NodeIx,
    max: bool,
) -> impl Iterator<Item = (Interest, f64, bool)> + 'a {
    snap.owners(x)
        .filter(move |l| counts(l, as_of))
        .map(move |l| (l.data.interest, share(&l, max), t.contains(l.owner)))
}

/// The rule's sources at `as_of`.
fn seeds(snap: &Snapshot, as_of: NaiveDate, sources: &Sources) -> Vec<NodeIx> {
    let mut seeds: Vec<NodeIx> = match sources {
        Sources::Sanctions(_) => snap
            .listed()
            .filter(|&ix| {
                snap.listings(ix)
                    .iter()
                    .any(|l| snap.in_force(l, as_of) && sources.selects(snap, l).is_some())
            })
            .collect(),
        Sources::Jurisdiction { .. } => (0..snap.node_bound() as NodeIx)
            .into_par_iter()
            .filter(|&ix| {
                snap.node(ix)
                    .is_some_and(|n| sources.locations_of(n).next().is_some())
            })
            .collect(),
    };
    seeds.sort_unstable();
    seeds
}

/// What one sanctions or jurisdiction rule finds for every entity it flags.
fn rule_findings(
    snap: &Snapshot,
    as_of: NaiveDate,
    rule: usize,
    test: &OwnershipTest,
    sources: &Sources,
) -> Vec<(NodeIx, Finding)> {
    let seeds = seeds(snap, as_of, sources);
    let found: HashMap<NodeIx, Found> = if test.aggregate {
        assess(snap, as_of, test, &seeds)
    } else {
        // Each source on its own (the UK's reading): the most severe finding wins, then the
        // larger share, as in a screening.
        seeds
            .par_iter()
            .map(|&s| assess(snap, as_of, test, &[s]))
            .reduce(HashMap::new, |mut a, b| {
                for (x, f) in b {
                    a.entry(x)
                        .and_modify(|g| {
                            if (f.decision, f.share) > (g.decision, g.share) {
                                *g = f;
                            }
                        })
                        .or_insert(f);
                }
                a
            })
    };
    let basis = match sources {
        Sources::Sanctions(_) => Basis::Listed,
        Sources::Jurisdiction { .. } => Basis::Located,
    };
    let is_seed = |x: &NodeIx| seeds.binary_search(x).is_ok();
    let mut out: Vec<(NodeIx, Finding)> = seeds
        .iter()
        .map(|&s| {
            let f = Finding {
                rule,
                basis,
                decision: Decision::Block,
                share: None,
            };
            (s, f)
        })
        .collect();
    out.extend(
        found
            .into_iter()
            .filter(|(x, _)| !is_seed(x) && snap.node(*x).is_some())
            .map(|(x, f)| {
                let f = Finding {
                    rule,
                    basis: f.basis,
                    decision: f.decision,
                    share: Some(f.share),
                };
                (x, f)
            }),
    );
    out
}

/// A finding before it is tied to its rule.
#[derive(Clone, Copy)]
struct Found {
    basis: Basis,
    decision: Decision,
    share: f64,
}

/// What one group of sources does to every entity below it, in the order of a screening:
/// definitely tainted, possibly tainted, controlled by the definite set, by the possible set,
/// then the review band.
fn assess(
    snap: &Snapshot,
    as_of: NaiveDate,
    test: &OwnershipTest,
    seeds: &[NodeIx],
) -> HashMap<NodeIx, Found> {
    // The links out of a node that the rules read, as `grow` takes them.
    let holdings = |max: bool| {
        move |u: NodeIx| {
            snap.holdings(u)
                .filter(move |l| counts(l, as_of))
                .map(move |l| (l.owned, l.data.interest, share(&l, max)))
        }
    };
    let dense = seeds.len() > 1;
    let definite = grow(test, seeds, Taint::new(snap, dense), holdings(false));
    let possible = grow(test, seeds, Taint::new(snap, dense), holdings(true));
    let mut out: HashMap<NodeIx, Found> = HashMap::new();
    for &x in &possible.members {
        let (t, max) = if definite.contains(x) {
            (&definite, false)
        } else {
            (&possible, true)
        };
        let share = held_in(test, owners_in(snap, as_of, t, x, max));
        let basis = match (test.crosses(share), max) {
            (false, _) => Basis::Controlled,
            (true, false) => Basis::Owned,
            (true, true) => Basis::PossiblyOwned,
        };
        let decision = if max {
            Decision::Review
        } else {
            Decision::Block
        };
        out.insert(
            x,
            Found {
                basis,
                decision,
                share,
            },
        );
    }
    let control_decision = match test.control {
        ControlEffect::Block => Decision::Block,
        ControlEffect::Review => Decision::Review,
    };
    for (t, max, decision) in [
        (&definite, false, control_decision),
        (&possible, true, Decision::Review),
    ] {
        for &u in &t.members {
            for l in snap.holdings(u) {
                let y = l.owned;
                if !counts(&l, as_of) || !l.data.interest.is_control() || out.contains_key(&y) {
                    continue;
                }
                debug_assert!(control_in(owners_in(snap, as_of, t, y, max)));
                let share = held_in(test, owners_in(snap, as_of, t, y, max));
                out.insert(
                    y,
                    Found {
                        basis: Basis::Controlled,
                        decision,
                        share,
                    },
                );
            }
        }
    }
    if test.review_threshold.is_some() {
        for (x, share) in attributable(snap, as_of, test, &possible) {
            if !out.contains_key(&x) && test.in_review_band(share) {
                let f = Found {
                    basis: Basis::ReviewBand,
                    decision: Decision::Review,
                    share,
                };
                out.insert(x, f);
            }
        }
    }
    out
}

/// f(x), in percent, for every entity below the possible tainted set `t`: Σ over owners o of
/// share(o, x) × (1 if o ∈ T else f(o)), per counted interest at the range's maximum, the
/// largest. Solved once over the region the set reaches, by the solver a screening uses.
fn attributable(
    snap: &Snapshot,
    as_of: NaiveDate,
    test: &OwnershipTest,
    t: &Taint,
) -> Vec<(NodeIx, f64)> {
    let counted = |l: &Link| counts(l, as_of) && test.interests.contains(&l.data.interest);
    // The region: T and everything below it over counted links, as a small petgraph.
    let mut g: Graph<NodeIx, (Interest, f64)> = Graph::new();
    let mut local: HashMap<NodeIx, NodeIndex> = HashMap::new();
    let mut queue: Vec<NodeIx> = t.members.clone();
    for &u in &queue {
        local.insert(u, g.add_node(u));
    }
    let mut links = Vec::new();
    while let Some(u) = queue.pop() {
        for l in snap.holdings(u).filter(|l| counted(l)) {
            let y = *local.entry(l.owned).or_insert_with(|| {
                queue.push(l.owned);
                g.add_node(l.owned)
            });
            links.push((local[&u], y, (l.data.interest, l.data.max)));
        }
    }
    g.extend_with_edges(links);
    let fixed = |n: NodeIndex| t.contains(g[n]).then_some(1.0);
    let mut best = vec![0.0f64; g.node_count()];
    for &k in &test.interests {
        let w = |e: EdgeIndex| {
            let (interest, share) = g[e];
            if interest == k { share / 100.0 } else { 0.0 }
        };
        let v = solve(
            &g,
            &System {
                deps: Incoming,
                b: &|_| 0.0,
                w: &w,
                fixed: &fixed,
                cap: 1.0,
            },
        );
        for (b, v) in best.iter_mut().zip(v) {
            *b = b.max(v * 100.0);
        }
    }
    g.node_indices()
        .filter(|&n| !t.contains(g[n]) && snap.node(g[n]).is_some())
        .map(|n| (g[n], best[n.index()]))
        .collect()
}

/// Entities with a declaration of unknown owners that an `unknown_owners` rule counts at
/// `as_of`, and everything they hold shares in, directly or not.
fn unknown_candidates(snap: &Snapshot, rules: &[Rule], as_of: NaiveDate) -> Vec<NodeIx> {
    let counted: Vec<_> = rules
        .iter()
        .filter_map(|r| match r {
            Rule::UnknownOwners(u) => Some(u),
            _ => None,
        })
        .collect();
    if counted.is_empty() {
        return Vec::new();
    }
    let declarers: Vec<NodeIx> = snap
        .with_unknown_owners()
        .filter(|(_, unknowns)| {
            unknowns
                .iter()
                .any(|u| u.valid_at(as_of) && counted.iter().any(|r| r.counts(&u.reason)))
        })
        .filter_map(|(id, _)| snap.lookup(id))
        .collect();
    // What a declarer holds shares in carries its effective share (shares at their minimum).
    reach(snap, declarers, |l| {
        l.data.interest == Interest::Shares && l.data.min > 0.0 && l.data.valid_at(as_of)
    })
}
