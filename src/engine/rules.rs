//! Section 4 of the contract: sources, the tainted set, the attributable share, and the
//! reason a rule gives for one entity.
//!
//! The tainted set T is the least fixpoint grown from the sources: a node joins when the
//! shares that members of T hold in it, per interest, meet the threshold (or, with
//! `control: block`, when a member holds a board or control link into it). Each link is looked
//! at once, when its owner joins, so the fixpoint costs O(links). Cycles cannot taint
//! themselves, because nothing outside the sources starts in T.
//!
//! Must not break: a tainted owner's whole share counts and an untainted owner's counts zero;
//! nothing is multiplied. (Multiplying is what the attributable share, and only it, does.)

use petgraph::Direction::{Incoming, Outgoing};
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use super::graph::{ListMeta, Listing, NodeData, Snapshot};
use super::local::Local;
use super::paths::{self, PathSpec};
use super::solve::{System, solve};
use super::{path_steps, percent};
use crate::domain::{
    Basis, ControlEffect, Decision, EntityKind, Interest, Jurisdiction, ListSelector, ListingRef,
    LocationField, OwnershipTest, Reason, Rule,
};

/// Sources of a rule: which nodes start the taint, and how to describe them.
pub(super) enum Sources<'r> {
    Sanctions(&'r [ListSelector]),
    Jurisdiction {
        codes: &'r [Jurisdiction],
        fields: &'r [LocationField],
        persons: bool,
    },
}

impl Sources<'_> {
    pub(super) fn of(rule: &Rule) -> Option<Sources<'_>> {
        match rule {
            Rule::Sanctions(r) => Some(Sources::Sanctions(&r.lists)),
            Rule::Jurisdiction(r) => Some(Sources::Jurisdiction {
                codes: &r.jurisdictions,
                fields: &r.fields,
                persons: r.include_persons,
            }),
            // Name matching needs the name index, which the engine does not hold: the service
            // evaluates it (crate::app). Unknown owners are `super::unknowns`.
            Rule::BeneficialOwnership(_) | Rule::NameMatch(_) | Rule::UnknownOwners(_) => None,
        }
    }

    /// The listings that make `n` a source of a sanctions rule, with their lists' names.
    fn listings(&self, local: &Local, n: NodeIndex) -> Vec<(ListingRef, String)> {
        self.selected(local, n)
            .map(|(l, list)| {
                let r = ListingRef {
                    list: list.id.to_string(),
                    entry: l.entry_id.to_string(),
                    listed_on: l.listed_on,
                };
                (r, list.name.to_string())
            })
            .collect()
    }

    /// The listings of `n` on the lists a sanctions rule selects, without allocating: this runs
    /// for every ancestor of every screened entity.
    fn selected<'l>(
        &self,
        local: &'l Local,
        n: NodeIndex,
    ) -> impl Iterator<Item = (&'l Listing, &'l ListMeta)> {
        local.graph[n]
            .listings
            .iter()
            .filter_map(move |l| self.selects(local.snap, l).map(|list| (*l, list)))
    }

    /// The list of a designation, if this is a sanctions rule that selects it. Whether the
    /// designation holds at the question's date is the caller's to check.
    pub(super) fn selects<'s>(&self, snap: &'s Snapshot, l: &Listing) -> Option<&'s ListMeta> {
        let Sources::Sanctions(selectors) = self else {
            return None;
        };
        let list = snap.list(l.list)?;
        ListSelector::any_selects(selectors, &list.id).then_some(list)
    }

    /// The (field, rule code) pairs that place `n` in a restricted jurisdiction.
    fn locations(&self, local: &Local, n: NodeIndex) -> Vec<(LocationField, Jurisdiction)> {
        self.locations_of(&local.graph[n].data).collect()
    }

    /// The (field, rule code) pairs that place an entity in a restricted jurisdiction.
    pub(super) fn locations_of<'a>(
        &'a self,
        node: &'a NodeData,
    ) -> impl Iterator<Item = (LocationField, Jurisdiction)> + 'a {
        let (codes, fields): (&[Jurisdiction], &[LocationField]) = match self {
            Sources::Jurisdiction {
                codes,
                fields,
                persons,
            } if *persons || node.kind != EntityKind::Person => (codes, fields),
            _ => (&[], &[]),
        };
        fields.iter().filter_map(move |&f| {
            let value = match f {
                LocationField::Jurisdiction => node.jurisdiction,
                LocationField::Headquarters => node.headquarters,
            }?;
            codes
                .iter()
                .find(|c| c.covers(value))
                .map(|&code| (f, code))
        })
    }

    fn is_source(&self, local: &Local, n: NodeIndex) -> bool {
        match self {
            Sources::Sanctions(_) => self.selected(local, n).next().is_some(),
            Sources::Jurisdiction { .. } => {
                self.locations_of(&local.graph[n].data).next().is_some()
            }
        }
    }

    /// "listed owners" or "entities located in CN, HK", for messages.
    fn describe(&self, local: &Local, sources: &[NodeIndex]) -> String {
        match self {
            Sources::Sanctions(_) => {
                let mut names: Vec<String> = sources
                    .iter()
                    .flat_map(|&s| self.listings(local, s))
                    .map(|(_, name)| name)
                    .collect();
                names.sort();
                names.dedup();
                format!("owners listed on {}", names.join(", "))
            }
            Sources::Jurisdiction { .. } => {
                let mut codes: Vec<String> = sources
                    .iter()
                    .flat_map(|&s| self.locations(local, s))
                    .map(|(_, c)| c.to_string())
                    .collect();
                codes.sort();
                codes.dedup();
                format!("entities located in {}", codes.join(", "))
            }
        }
    }
}

/// Index of an interest among the test's, if the test counts it.
pub(super) fn slot(test: &OwnershipTest, i: Interest) -> Option<usize> {
    test.interests.iter().position(|&k| k == i)
}

/// Membership of the tainted set and what members hold in each node, per counted interest:
/// dense for one screening's small graph, sparse for a whole-graph pass that reaches a small
/// part of a large one ([`super::sweep`]).
pub(super) trait TaintSet<N> {
    /// Adds `n`; false when it was a member already.
    fn insert(&mut self, n: N) -> bool;
    fn contains(&self, n: N) -> bool;
    /// Adds `share` to what members hold in `n` under the test's `k`-th interest; the new sum.
    fn add_held(&mut self, n: N, k: usize, share: f64) -> f64;
}

struct Dense {
    member: Vec<bool>,
    held: Vec<[f64; 2]>,
}

impl TaintSet<NodeIndex> for Dense {
    fn insert(&mut self, n: NodeIndex) -> bool {
        !std::mem::replace(&mut self.member[n.index()], true)
    }

    fn contains(&self, n: NodeIndex) -> bool {
        self.member[n.index()]
    }

    fn add_held(&mut self, n: NodeIndex, k: usize, share: f64) -> f64 {
        let h = &mut self.held[n.index()][k];
        *h += share;
        *h
    }
}

/// The least fixpoint T grown from `seeds` into `set`: a node joins when what members hold in
/// it under one counted interest crosses the threshold, or, with `control: block`, when a
/// member holds a board or control link into it. `holdings(u)` yields the links out of `u` as
/// (held node, interest, share at the range's minimum or maximum).
pub(super) fn grow<N: Copy, S: TaintSet<N>, I: Iterator<Item = (N, Interest, f64)>>(
    test: &OwnershipTest,
    seeds: &[N],
    mut set: S,
    holdings: impl Fn(N) -> I,
) -> S {
    let mut queue: Vec<N> = seeds.iter().copied().filter(|&s| set.insert(s)).collect();
    while let Some(u) = queue.pop() {
        for (y, interest, share) in holdings(u) {
            if set.contains(y) {
                continue;
            }
            let joins = match slot(test, interest) {
                Some(k) => test.crosses(set.add_held(y, k, share)),
                None => interest.is_control() && test.control == ControlEffect::Block,
            };
            if joins {
                set.insert(y);
                queue.push(y);
            }
        }
    }
    set
}

/// The least fixpoint T of one screening's graph, with every range at its minimum or maximum.
fn taint(local: &Local, test: &OwnershipTest, seeds: &[NodeIndex], max: bool) -> Vec<bool> {
    let g = &local.graph;
    let set = Dense {
        member: vec![false; g.node_count()],
        held: vec![[0.0; 2]; g.node_count()],
    };
    let holdings = |u| {
        g.edges_directed(u, Outgoing)
            .map(move |e| (e.target(), e.weight().interest, e.weight().share(max)))
    };
    grow(test, seeds, set, holdings).member
}

/// What members of T hold in a node, per counted interest, the largest; `owners` yields its
/// links in as (interest, share, whether the owner is in T).
pub(super) fn held_in(
    test: &OwnershipTest,
    owners: impl Iterator<Item = (Interest, f64, bool)>,
) -> f64 {
    let mut sums = [0.0f64; 2];
    for (interest, share, tainted) in owners {
        if let Some(k) = slot(test, interest)
            && tainted
        {
            sums[k] += share;
        }
    }
    sums[0].max(sums[1])
}

/// Whether a member of T holds a board or control link into a node, from its links in as
/// (interest, share, whether the owner is in T).
pub(super) fn control_in(mut owners: impl Iterator<Item = (Interest, f64, bool)>) -> bool {
    owners.any(|(interest, _, tainted)| interest.is_control() && tainted)
}

/// The links into `x` of one screening's graph, as [`held_in`] and [`control_in`] read them.
fn owners_of<'a>(
    local: &'a Local,
    t: &'a [bool],
    x: NodeIndex,
    max: bool,
) -> impl Iterator<Item = (Interest, f64, bool)> + 'a {
    local.graph.edges_directed(x, Incoming).map(move |e| {
        (
            e.weight().interest,
            e.weight().share(max),
            t[e.source().index()],
        )
    })
}

/// What members of `t` hold in `x`, per counted interest; the largest.
fn held_by(local: &Local, test: &OwnershipTest, t: &[bool], x: NodeIndex, max: bool) -> f64 {
    held_in(test, owners_of(local, t, x, max))
}

/// Whether a member of `t` holds a board or control link into `x`.
fn controlled_by(local: &Local, t: &[bool], x: NodeIndex) -> bool {
    control_in(owners_of(local, t, x, false))
}

/// f(x): Σ over owners o of share(o, x) × (1 if o ∈ T else f(o)), per interest, in percent.
fn attributable(local: &Local, test: &OwnershipTest, t: &[bool], max: bool) -> f64 {
    let g = &local.graph;
    let fixed = |n: NodeIndex| t[n.index()].then_some(1.0);
    let b = |_| 0.0;
    let mut best = 0.0f64;
    for &k in &test.interests {
        let w = |e: EdgeIndex| {
            let edge = &g[e];
            if edge.interest == k {
                edge.share(max) / 100.0
            } else {
                0.0
            }
        };
        let v = solve(
            g,
            &System {
                deps: Incoming,
                b: &b,
                w: &w,
                fixed: &fixed,
                cap: 1.0,
            },
        );
        best = best.max(v[local.target.index()] * 100.0);
    }
    best
}

/// A rule's finding for the target, before it is explained.
struct Finding {
    basis: Basis,
    decision: Decision,
    share: f64,
    seeds: Vec<NodeIndex>,
    taint: Vec<bool>,
    max: bool,
}

fn assess(local: &Local, test: &OwnershipTest, seeds: Vec<NodeIndex>) -> Option<Finding> {
    let x = local.target;
    let found = |basis, decision, share, taint, max| Finding {
        basis,
        decision,
        share,
        seeds: seeds.clone(),
        taint,
        max,
    };
    let definite = taint(local, test, &seeds, false);
    if definite[x.index()] {
        let share = held_by(local, test, &definite, x, false);
        // In T without the shares to cross: it joined through a board or control link.
        let basis = if test.crosses(share) {
            Basis::Owned
        } else {
            Basis::Controlled
        };
        return Some(found(basis, Decision::Block, share, definite, false));
    }
    let possible = taint(local, test, &seeds, true);
    if possible[x.index()] {
        let share = held_by(local, test, &possible, x, true);
        let basis = if test.crosses(share) {
            Basis::PossiblyOwned
        } else {
            Basis::Controlled
        };
        return Some(found(basis, Decision::Review, share, possible, true));
    }
    if controlled_by(local, &definite, x) {
        let decision = match test.control {
            ControlEffect::Block => Decision::Block,
            ControlEffect::Review => Decision::Review,
        };
        let share = held_by(local, test, &definite, x, false);
        return Some(found(Basis::Controlled, decision, share, definite, false));
    }
    if controlled_by(local, &possible, x) {
        let share = held_by(local, test, &possible, x, true);
        return Some(found(
            Basis::Controlled,
            Decision::Review,
            share,
            possible,
            true,
        ));
    }
    if test.review_threshold.is_some() {
        let share = attributable(local, test, &possible, true);
        if test.in_review_band(share) {
            return Some(found(
                Basis::ReviewBand,
                Decision::Review,
                share,
                possible,
                true,
            ));
        }
    }
    None
}

/// The reason `rule` gives for the target, if any.
pub fn evaluate(local: &Local, rule: &Rule) -> Option<Reason> {
    let test = rule.test()?;
    let sources = Sources::of(rule)?;
    let x = local.target;
    if sources.is_source(local, x) {
        return Some(self_reason(local, rule, &sources));
    }
    let seeds: Vec<NodeIndex> = local
        .graph
        .node_indices()
        .filter(|&n| sources.is_source(local, n))
        .collect();
    if seeds.is_empty() {
        return None;
    }
    let groups: Vec<Vec<NodeIndex>> = if test.aggregate {
        vec![seeds]
    } else {
        seeds.into_iter().map(|s| vec![s]).collect()
    };
    let finding = groups
        .into_iter()
        .filter_map(|g| assess(local, &test, g))
        .max_by(|a, b| {
            a.decision
                .cmp(&b.decision)
                .then(a.share.total_cmp(&b.share))
        })?;
    Some(explain(local, rule, &test, &sources, finding))
}

fn self_reason(local: &Local, rule: &Rule, sources: &Sources) -> Reason {
    let x = local.target;
    let (basis, message, listings) = match sources {
        Sources::Sanctions(_) => {
            let (listings, what): (Vec<ListingRef>, Vec<String>) = sources
                .listings(local, x)
                .into_iter()
                .map(|(l, name)| {
                    let what = format!("{name} (entry {})", l.entry);
                    (l, what)
                })
                .unzip();
            (
                Basis::Listed,
                format!("listed on {}", what.join(", ")),
                listings,
            )
        }
        Sources::Jurisdiction { .. } => {
            let what: Vec<String> = sources
                .locations(local, x)
                .iter()
                .map(|(f, c)| match f {
                    LocationField::Jurisdiction => format!("incorporated in {c}"),
                    LocationField::Headquarters => format!("headquartered in {c}"),
                })
                .collect();
            (Basis::Located, what.join(" and "), Vec::new())
        }
    };
    Reason {
        rule: rule.id().to_string(),
        kind: rule.kind(),
        basis,
        decision: Decision::Block,
        share: None,
        threshold: None,
        sources: vec![local.id(x).to_owned()],
        paths: Vec::new(),
        message,
        listings,
        candidates: Vec::new(),
        unknown_owners: Vec::new(),
    }
}

fn explain(
    local: &Local,
    rule: &Rule,
    test: &OwnershipTest,
    sources: &Sources,
    f: Finding,
) -> Reason {
    let g = &local.graph;
    let x = local.target;
    let counts = |i: Interest| slot(test, i).is_some();
    let control_taints = test.control == ControlEffect::Block;
    // The links that carry the finding: between members of T for the ownership bases, plus the
    // control link itself for `controlled`; any counted link for the review band.
    let weight = |e: EdgeIndex| -> Option<f64> {
        let (o, y) = g.edge_endpoints(e)?;
        let edge = &g[e];
        let w = if counts(edge.interest) {
            edge.share(f.max) / 100.0
        } else if edge.interest.is_control() {
            1.0
        } else {
            return None;
        };
        let ok = match f.basis {
            Basis::ReviewBand => counts(edge.interest),
            _ => {
                f.taint[o.index()]
                    && ((f.taint[y.index()] && (counts(edge.interest) || control_taints))
                        || (y == x && f.basis == Basis::Controlled && edge.interest.is_control()))
            }
        };
        (ok && w > 0.0).then_some(w)
    };
    let is_start = |n: NodeIndex| f.seeds.contains(&n);
    let spec = PathSpec {
        is_start: &is_start,
        weight: &weight,
    };
    let paths: Vec<_> = paths::strongest(g, x, &spec, paths::MAX_PATHS)
        .iter()
        .map(|p| path_steps(local, p))
        .collect();

    let reaching = reaching_seeds(local, &f.seeds, &weight);
    let mut source_ids: Vec<String> = reaching.iter().map(|&s| local.id(s).to_owned()).collect();
    source_ids.sort();
    source_ids.truncate(100);

    let who = sources.describe(local, &reaching);
    let rel = if test.inclusive {
        "at least"
    } else {
        "more than"
    };
    let thr = percent(test.threshold);
    let share = percent(f.share);
    let message = match f.basis {
        Basis::Owned => format!("{share}% held by {who} ({rel} {thr}%)"),
        Basis::PossiblyOwned => format!("up to {share}% may be held by {who} ({rel} {thr}%)"),
        Basis::Controlled => {
            format!("board or control rights held by {who}; they hold {share}% of the shares")
        }
        Basis::ReviewBand => format!(
            "{share}% attributable to {who} (review at {}% or more)",
            percent(test.review_threshold.unwrap_or(0.0))
        ),
        Basis::Listed | Basis::Located | Basis::NameMatch | Basis::OwnersUnknown => {
            unreachable!(
                "self reasons are built by self_reason, name matches by crate::names, unknown \
                 owners by super::unknowns"
            )
        }
    };
    Reason {
        rule: rule.id().to_string(),
        kind: rule.kind(),
        basis: f.basis,
        decision: f.decision,
        share: Some(super::round(f.share)),
        threshold: Some(match f.basis {
            Basis::ReviewBand => test.review_threshold.unwrap_or(test.threshold),
            _ => test.threshold,
        }),
        sources: source_ids,
        paths,
        message,
        listings: Vec::new(),
        candidates: Vec::new(),
        unknown_owners: Vec::new(),
    }
}

/// The seeds that reach the target over the links the explanation may use.
fn reaching_seeds(
    local: &Local,
    seeds: &[NodeIndex],
    weight: &dyn Fn(EdgeIndex) -> Option<f64>,
) -> Vec<NodeIndex> {
    let g = &local.graph;
    let mut seen = vec![false; g.node_count()];
    let mut stack = vec![local.target];
    seen[local.target.index()] = true;
    while let Some(n) = stack.pop() {
        for e in g.edges_directed(n, Incoming) {
            let o = e.source();
            if !seen[o.index()] && weight(e.id()).is_some() {
                seen[o.index()] = true;
                stack.push(o);
            }
        }
    }
    seeds.iter().copied().filter(|s| seen[s.index()]).collect()
}
