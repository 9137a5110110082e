//! The rules engine against a deliberately naive reference of the contract's semantics.
//!
//! The reference below is written from the contract (sections 3 and 4), not from the engine:
//! it works on the whole graph as plain vectors, grows tainted sets by sweeping every node
//! until nothing changes, sums walks by brute-force matrix powers, and takes the capped
//! attributable share as the least fixpoint (the smallest of all pre-fixpoints). It is slow and
//! obvious on purpose; the property test compares it with the engine on thousands of random
//! small graphs with cycles, ranges, control links, validity periods and listings.
//!
//! Where the contract is silent the reference follows the engine's documented choices: one
//! reason per rule, chosen in the order listed/located, owned, possibly owned, controlled,
//! review band; per source with `aggregate: false`, the most severe finding winning, then the
//! larger share; thresholds (and "more than 50%" for control) compared with a 1e-9 tolerance;
//! f and effective shares capped at 100%.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{NaiveDate, TimeDelta};
use ownergraph::domain::{Basis, Decision, EntityKind, Interest, Jurisdiction, Reason, Rule};
use ownergraph::engine::{
    self, BaseBuilder, EdgeData, ListMeta, Listing, Local, NodeData, Outcome, Party, Snapshot,
    holdings, sweep,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::json;

const EPS: f64 = 1e-9;
const TOLERANCE: f64 = 1e-6;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 15).unwrap()
}

fn day(offset: i64) -> NaiveDate {
    as_of() + TimeDelta::days(offset)
}

// ---------------------------------------------------------------------------------------------
// The world: a graph as plain data, shared by the engine's builder and the reference.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct WList {
    id: &'static str,
    active: bool,
}

#[derive(Clone, Debug)]
struct WListing {
    list: usize,
    listed_on: Option<NaiveDate>,
    delisted_on: Option<NaiveDate>,
}

#[derive(Clone, Debug)]
struct WNode {
    id: String,
    person: bool,
    jurisdiction: Option<&'static str>,
    headquarters: Option<&'static str>,
    listings: Vec<WListing>,
}

#[derive(Clone, Debug)]
struct WLink {
    owner: usize,
    owned: usize,
    interest: Interest,
    min: f64,
    max: f64,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

#[derive(Clone, Debug)]
struct World {
    lists: Vec<WList>,
    nodes: Vec<WNode>,
    links: Vec<WLink>,
}

/// Where a rule's sources come from.
#[derive(Clone, Debug)]
enum SourceSpec {
    /// List ids, or `*`.
    Lists(Vec<&'static str>),
    Places {
        codes: Vec<&'static str>,
        jurisdiction: bool,
        headquarters: bool,
        persons: bool,
    },
}

#[derive(Clone, Debug)]
struct Test {
    threshold: f64,
    inclusive: bool,
    aggregate: bool,
    interests: Vec<Interest>,
    control_blocks: bool,
    review: Option<f64>,
}

#[derive(Clone, Debug)]
struct RRule {
    id: &'static str,
    sources: SourceSpec,
    test: Test,
}

#[derive(Clone, Debug)]
struct Case {
    world: World,
    rules: Vec<RRule>,
    /// Threshold and inclusiveness of the beneficial-ownership rule.
    ubo: (f64, bool),
}

fn interest_name(i: Interest) -> &'static str {
    match i {
        Interest::Shares => "shares",
        Interest::Votes => "votes",
        Interest::Board => "board",
        Interest::Control => "control",
        Interest::Consolidation => "consolidation",
    }
}

impl RRule {
    /// The rule as the contract's JSON, parsed by the crate.
    fn to_rule(&self) -> Rule {
        let t = &self.test;
        let mut v = json!({
            "id": self.id,
            "threshold": t.threshold,
            "inclusive": t.inclusive,
            "aggregate": t.aggregate,
            "interests": t.interests.iter().map(|&i| interest_name(i)).collect::<Vec<_>>(),
            "control": if t.control_blocks { "block" } else { "review" },
            "review_threshold": t.review,
        });
        let o = v.as_object_mut().unwrap();
        match &self.sources {
            SourceSpec::Lists(lists) => {
                o.insert("kind".into(), json!("sanctions"));
                o.insert("lists".into(), json!(lists));
            }
            SourceSpec::Places {
                codes,
                jurisdiction,
                headquarters,
                persons,
            } => {
                let mut fields = Vec::new();
                if *jurisdiction {
                    fields.push("jurisdiction");
                }
                if *headquarters {
                    fields.push("headquarters");
                }
                o.insert("kind".into(), json!("jurisdiction"));
                o.insert("jurisdictions".into(), json!(codes));
                o.insert("fields".into(), json!(fields));
                o.insert("include_persons".into(), json!(persons));
            }
        }
        serde_json::from_value(v).expect("a valid rule")
    }
}

impl Case {
    fn rules(&self) -> Vec<Rule> {
        let mut rules: Vec<Rule> = self.rules.iter().map(RRule::to_rule).collect();
        rules.push(
            serde_json::from_value(json!({"id": "ubo", "kind": "beneficial_ownership",
                "threshold": self.ubo.0, "inclusive": self.ubo.1}))
            .unwrap(),
        );
        rules
    }
}

/// The engine's snapshot of a world.
fn snapshot(w: &World) -> Snapshot {
    let mut b = BaseBuilder::default();
    for (i, l) in w.lists.iter().enumerate() {
        b.add_list(ListMeta {
            key: i as i64 + 1,
            id: l.id.into(),
            name: l.id.to_uppercase().into(),
            active: l.active,
        });
    }
    let place = |p: Option<&str>| p.map(|c| Jurisdiction::parse(c).unwrap());
    let mut entry = 0;
    for n in &w.nodes {
        b.add_node(NodeData {
            key: 0,
            id: n.id.as_str().into(),
            name: n.id.as_str().into(),
            kind: if n.person {
                EntityKind::Person
            } else {
                EntityKind::Company
            },
            jurisdiction: place(n.jurisdiction),
            headquarters: place(n.headquarters),
        });
        for l in &n.listings {
            entry += 1;
            b.add_listing(
                &n.id,
                Listing {
                    list: l.list as i64 + 1,
                    entry_key: entry,
                    entry_id: format!("e{entry}").into(),
                    listed_on: l.listed_on,
                    delisted_on: l.delisted_on,
                },
            )
            .unwrap();
        }
    }
    for (k, l) in w.links.iter().enumerate() {
        b.add_link(
            &w.nodes[l.owner].id,
            &w.nodes[l.owned].id,
            EdgeData {
                key: k as i64 + 1,
                interest: l.interest,
                min: l.min,
                max: l.max,
                valid_from: l.valid_from,
                valid_to: l.valid_to,
            },
        )
        .unwrap();
    }
    b.finish(1)
}

// ---------------------------------------------------------------------------------------------
// The reference.
// ---------------------------------------------------------------------------------------------

type Mat = Vec<Vec<f64>>;

/// Stands for "diverges": larger than any share, small enough never to overflow.
const BIG: f64 = 1e30;

fn mul(a: &Mat, b: &Mat) -> Mat {
    let n = a.len();
    let mut c = vec![vec![0.0; n]; n];
    for i in 0..n {
        for k in 0..n {
            if a[i][k] != 0.0 {
                for j in 0..n {
                    c[i][j] += a[i][k] * b[k][j];
                }
            }
        }
    }
    for row in &mut c {
        for v in row {
            *v = v.min(BIG);
        }
    }
    c
}

/// Σ_{k ≥ 0} m^k, the sum over all walks, by doubling: walks of up to 2^64 steps. A sum that
/// diverges comes out at `BIG` or at least far above 1.
fn walk_sum(m: &Mat) -> Mat {
    let n = m.len();
    let mut s: Mat = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    let mut p = m.clone();
    for _ in 0..64 {
        if p.iter().flatten().all(|&v| v == 0.0) {
            break;
        }
        let ps = mul(&p, &s);
        for i in 0..n {
            for j in 0..n {
                s[i][j] = (s[i][j] + ps[i][j]).min(BIG);
            }
        }
        p = mul(&p, &p);
    }
    s
}

/// The graph at the date: links valid then, without consolidation links.
fn live(w: &World) -> Vec<&WLink> {
    let d = as_of();
    w.links
        .iter()
        .filter(|l| l.interest != Interest::Consolidation)
        .filter(|l| l.valid_from.is_none_or(|f| f <= d))
        .filter(|l| l.valid_to.is_none_or(|t| d < t))
        .collect()
}

/// A code names a place: itself, or, for a country, any of its subdivisions.
fn covers(code: &str, place: &str) -> bool {
    code == place || (!code.contains('-') && place.starts_with(&format!("{code}-")))
}

fn is_source(w: &World, rule: &RRule, n: usize) -> bool {
    let node = &w.nodes[n];
    let d = as_of();
    match &rule.sources {
        SourceSpec::Lists(selected) => node.listings.iter().any(|l| {
            let list = &w.lists[l.list];
            list.active
                && (selected.contains(&"*") || selected.contains(&list.id))
                && l.listed_on.is_none_or(|f| f <= d)
                && l.delisted_on.is_none_or(|t| d < t)
        }),
        SourceSpec::Places {
            codes,
            jurisdiction,
            headquarters,
            persons,
        } => {
            if node.person && !persons {
                return false;
            }
            let hit = |p: Option<&str>| p.is_some_and(|p| codes.iter().any(|c| covers(c, p)));
            (*jurisdiction && hit(node.jurisdiction)) || (*headquarters && hit(node.headquarters))
        }
    }
}

fn crosses(t: &Test, share: f64) -> bool {
    if t.inclusive {
        share >= t.threshold - EPS
    } else {
        share > t.threshold + EPS
    }
}

fn share_of(l: &WLink, max: bool) -> f64 {
    if max { l.max } else { l.min }
}

/// What members of `t` hold in `x` of one interest.
fn held_in(links: &[&WLink], t: &[bool], x: usize, interest: Interest, max: bool) -> f64 {
    links
        .iter()
        .filter(|l| l.owned == x && l.interest == interest && t[l.owner])
        .map(|l| share_of(l, max))
        .sum()
}

/// The largest, over the rule's interests, of what members of `t` hold in `x`.
fn held(links: &[&WLink], test: &Test, t: &[bool], x: usize, max: bool) -> f64 {
    test.interests
        .iter()
        .map(|&i| held_in(links, t, x, i, max))
        .fold(0.0, f64::max)
}

fn control_link(links: &[&WLink], t: &[bool], x: usize) -> bool {
    links.iter().any(|l| {
        l.owned == x && matches!(l.interest, Interest::Board | Interest::Control) && t[l.owner]
    })
}

/// The tainted set: start from the sources and sweep every node until none joins.
fn tainted(n: usize, links: &[&WLink], test: &Test, sources: &[usize], max: bool) -> Vec<bool> {
    let mut t = vec![false; n];
    for &s in sources {
        t[s] = true;
    }
    loop {
        let mut grew = false;
        for x in 0..n {
            if t[x] {
                continue;
            }
            let by_shares = test
                .interests
                .iter()
                .any(|&i| crosses(test, held_in(links, &t, x, i, max)));
            if by_shares || (test.control_blocks && control_link(links, &t, x)) {
                t[x] = true;
                grew = true;
            }
        }
        if !grew {
            return t;
        }
    }
}

/// f for every node, as a fraction, for one interest at range maxima: the least fixpoint of
/// v(y) = min(1, Σ_o share(o, y) · (1 if o ∈ T else v(o))).
///
/// By Knaster–Tarski the least fixpoint is the smallest of all pre-fixpoints. For any set C of
/// nodes pinned at 1, pinning them and summing walks for the rest gives a pre-fixpoint; the
/// least fixpoint is itself of that form for C = its saturated nodes, and those lie among the
/// nodes whose uncapped walk sum reaches 1. So the minimum over those sets is exact.
fn attributable(n: usize, links: &[&WLink], t: &[bool], interest: Interest) -> Vec<f64> {
    let mut w = vec![vec![0.0; n]; n];
    for l in links.iter().filter(|l| l.interest == interest) {
        w[l.owner][l.owned] += l.max / 100.0;
    }
    let pinned_walks = |pinned: &[bool]| -> Vec<f64> {
        let fixed = |i: usize| t[i] || pinned[i];
        let free: Vec<usize> = (0..n).filter(|&i| !fixed(i)).collect();
        let r: Vec<f64> = free
            .iter()
            .map(|&y| (0..n).filter(|&o| fixed(o)).map(|o| w[o][y]).sum())
            .collect();
        let m: Mat = free
            .iter()
            .map(|&y| free.iter().map(|&o| w[o][y]).collect())
            .collect();
        let s = walk_sum(&m);
        let mut v = vec![1.0; n];
        for (a, &y) in free.iter().enumerate() {
            v[y] = (0..free.len())
                .map(|b| s[a][b] * r[b])
                .sum::<f64>()
                .min(BIG);
        }
        v
    };
    let none = vec![false; n];
    let mut best = pinned_walks(&none);
    let candidates: Vec<usize> = (0..n).filter(|&i| !t[i] && best[i] >= 1.0 - EPS).collect();
    for mask in 1u32..(1 << candidates.len()) {
        let mut pinned = none.clone();
        for (b, &c) in candidates.iter().enumerate() {
            pinned[c] = mask & (1 << b) != 0;
        }
        for (b, v) in best.iter_mut().zip(pinned_walks(&pinned)) {
            *b = b.min(v);
        }
    }
    best.into_iter().map(|v| v.min(1.0)).collect()
}

/// What the reference expects of one rule for one target.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Finding {
    basis: Basis,
    decision: Decision,
    share: Option<f64>,
}

/// One group of sources, evaluated for every node at once.
struct Group {
    definite: Vec<bool>,
    possible: Vec<bool>,
    /// f in percent, with possible T and maxima; the largest over the interests.
    f: Vec<f64>,
}

impl Group {
    fn new(n: usize, links: &[&WLink], test: &Test, sources: &[usize]) -> Self {
        let definite = tainted(n, links, test, sources, false);
        let possible = tainted(n, links, test, sources, true);
        let mut f = vec![0.0f64; n];
        if test.review.is_some() {
            for &i in &test.interests {
                for (fx, v) in f.iter_mut().zip(attributable(n, links, &possible, i)) {
                    *fx = fx.max(v * 100.0);
                }
            }
        }
        Self {
            definite,
            possible,
            f,
        }
    }

    fn finding(&self, links: &[&WLink], test: &Test, x: usize) -> Option<Finding> {
        let found = |basis, decision, share| {
            Some(Finding {
                basis,
                decision,
                share: Some(share),
            })
        };
        let control = if test.control_blocks {
            Decision::Block
        } else {
            Decision::Review
        };
        if self.definite[x] {
            let s = held(links, test, &self.definite, x, false);
            let basis = if crosses(test, s) {
                Basis::Owned
            } else {
                Basis::Controlled
            };
            return found(basis, Decision::Block, s);
        }
        if self.possible[x] {
            let s = held(links, test, &self.possible, x, true);
            let basis = if crosses(test, s) {
                Basis::PossiblyOwned
            } else {
                Basis::Controlled
            };
            return found(basis, Decision::Review, s);
        }
        if control_link(links, &self.definite, x) {
            return found(
                Basis::Controlled,
                control,
                held(links, test, &self.definite, x, false),
            );
        }
        if control_link(links, &self.possible, x) {
            return found(
                Basis::Controlled,
                Decision::Review,
                held(links, test, &self.possible, x, true),
            );
        }
        let f = self.f[x];
        if test.review.is_some_and(|r| f > 0.0 && f >= r - EPS) {
            return found(Basis::ReviewBand, Decision::Review, f);
        }
        None
    }
}

/// A rule evaluated on the whole graph, ready to answer for any target.
struct RuleEval<'a> {
    rule: &'a RRule,
    sources: Vec<bool>,
    groups: Vec<Group>,
}

impl<'a> RuleEval<'a> {
    fn new(w: &World, links: &[&WLink], rule: &'a RRule) -> Self {
        let n = w.nodes.len();
        let sources: Vec<bool> = (0..n).map(|i| is_source(w, rule, i)).collect();
        let all: Vec<usize> = (0..n).filter(|&i| sources[i]).collect();
        let groups = if all.is_empty() {
            Vec::new()
        } else if rule.test.aggregate {
            vec![Group::new(n, links, &rule.test, &all)]
        } else {
            all.iter()
                .map(|&s| Group::new(n, links, &rule.test, &[s]))
                .collect()
        };
        Self {
            rule,
            sources,
            groups,
        }
    }

    /// The findings the rule may report for `x`: all those tied for the most severe decision
    /// and then the largest share (ties between groups may go either way).
    fn expected(&self, links: &[&WLink], x: usize) -> Vec<Finding> {
        if self.sources[x] {
            let basis = match self.rule.sources {
                SourceSpec::Lists(_) => Basis::Listed,
                SourceSpec::Places { .. } => Basis::Located,
            };
            return vec![Finding {
                basis,
                decision: Decision::Block,
                share: None,
            }];
        }
        let all: Vec<Finding> = self
            .groups
            .iter()
            .filter_map(|g| g.finding(links, &self.rule.test, x))
            .collect();
        let Some(worst) = all.iter().map(|f| f.decision).max() else {
            return Vec::new();
        };
        let top = all
            .iter()
            .filter(|f| f.decision == worst)
            .filter_map(|f| f.share)
            .fold(f64::MIN, f64::max);
        all.into_iter()
            .filter(|f| f.decision == worst && f.share.unwrap_or(0.0) >= top - EPS)
            .collect()
    }
}

/// Effective shares, upstream ancestry, control chains, for the whole graph.
struct Ownership {
    /// `eff[o][x]`: Σ over walks from o to x of the product of known-minimum shares.
    eff: Mat,
    /// `ancestor[o][x]`: o reaches x over live links of any interest.
    ancestor: Vec<Vec<bool>>,
    /// `controls[o][x]`: a chain of majority holdings runs from o to x.
    controls: Vec<Vec<bool>>,
    /// Whether any live link points into the node.
    owned: Vec<bool>,
}

fn reach(adj: &[Vec<bool>]) -> Vec<Vec<bool>> {
    let n = adj.len();
    let mut r = adj.to_vec();
    for k in 0..n {
        for i in 0..n {
            for j in 0..n {
                if r[i][k] && r[k][j] {
                    r[i][j] = true;
                }
            }
        }
    }
    r
}

impl Ownership {
    fn new(n: usize, links: &[&WLink]) -> Self {
        let mut a = vec![vec![0.0; n]; n];
        let mut any = vec![vec![false; n]; n];
        let mut shares = vec![vec![0.0; n]; n];
        let mut votes = vec![vec![0.0; n]; n];
        let mut owned = vec![false; n];
        for l in links {
            any[l.owner][l.owned] = true;
            owned[l.owned] = true;
            match l.interest {
                Interest::Shares => {
                    a[l.owner][l.owned] += l.min / 100.0;
                    shares[l.owner][l.owned] += l.min;
                }
                Interest::Votes => votes[l.owner][l.owned] += l.min,
                _ => {}
            }
        }
        let majority: Vec<Vec<bool>> = (0..n)
            .map(|o| {
                (0..n)
                    .map(|y| shares[o][y] > 50.0 + EPS || votes[o][y] > 50.0 + EPS)
                    .collect()
            })
            .collect();
        Self {
            eff: walk_sum(&a),
            ancestor: reach(&any),
            controls: reach(&majority),
            owned,
        }
    }

    /// Effective share of o in x, in percent, as reported: capped at 100.
    fn effective(&self, o: usize, x: usize) -> f64 {
        (self.eff[o][x] * 100.0).min(100.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing.
// ---------------------------------------------------------------------------------------------

static BASES: [AtomicUsize; 6] = [const { AtomicUsize::new(0) }; 6];
static CLEAR: AtomicUsize = AtomicUsize::new(0);
static SATURATED: AtomicUsize = AtomicUsize::new(0);
static TARGETS: AtomicUsize = AtomicUsize::new(0);

fn basis_slot(b: Basis) -> usize {
    match b {
        Basis::Listed => 0,
        Basis::Located => 1,
        Basis::Owned => 2,
        Basis::PossiblyOwned => 3,
        Basis::Controlled => 4,
        Basis::ReviewBand => 5,
        Basis::NameMatch | Basis::OwnersUnknown => {
            unreachable!("the reference covers the ownership rules only")
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOLERANCE
}

/// A rule's answer as the comparison reads it: basis, decision and share.
type Answer = (Basis, Decision, Option<f64>);

fn check_reason(expected: &[Finding], got: Option<Answer>) -> Result<(), String> {
    match (expected, got) {
        ([], None) => Ok(()),
        ([], Some(r)) => Err(format!("expected no reason, engine gave {r:?}")),
        (e, None) => Err(format!("expected {e:?}, engine gave no reason")),
        (e, Some((basis, decision, share))) => {
            let ok = e.iter().any(|f| {
                f.basis == basis
                    && f.decision == decision
                    && match (f.share, share) {
                        (None, None) => true,
                        (Some(a), Some(b)) => close(a, b),
                        _ => false,
                    }
            });
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "expected one of {e:?}, engine gave basis {basis:?}, decision {decision:?}, share {share:?}"
                ))
            }
        }
    }
}

fn check_case(case: &Case) -> Result<(), String> {
    let w = &case.world;
    let n = w.nodes.len();
    let snap = snapshot(w);
    let rules = case.rules();
    let links = live(w);
    let evals: Vec<RuleEval> = case
        .rules
        .iter()
        .map(|r| RuleEval::new(w, &links, r))
        .collect();
    let own = Ownership::new(n, &links);
    // The whole-graph pass, which must decide every target as its own screening does.
    let swept = sweep::sweep(&snap, &rules, as_of());
    for x in 0..n {
        let id = &w.nodes[x].id;
        let ix = snap.lookup(id).unwrap();
        let local = Local::upstream(&snap, &Party::Known(ix), &[], as_of());
        let outcome: Outcome = engine::screen(&local, &rules);
        TARGETS.fetch_add(1, Ordering::Relaxed);
        let at = |what: &str, e: String| format!("target {id}, {what}: {e}");

        // Rules.
        let mut worst = Decision::Clear;
        for ev in &evals {
            let expected = ev.expected(&links, x);
            if let Some(f) = expected.first() {
                worst = worst.max(f.decision);
            }
            let got: Vec<&Reason> = outcome
                .reasons
                .iter()
                .filter(|r| r.rule == ev.rule.id)
                .collect();
            if got.len() > 1 {
                return Err(at(ev.rule.id, format!("{} reasons", got.len())));
            }
            let answer = got.first().map(|r| (r.basis, r.decision, r.share));
            check_reason(&expected, answer).map_err(|e| at(ev.rule.id, e))?;
            let position = rules.iter().position(|r| r.id().as_str() == ev.rule.id);
            let in_sweep = swept
                .findings
                .get(&ix)
                .and_then(|found| found.iter().find(|f| Some(f.rule) == position))
                .map(|f| (f.basis, f.decision, f.share));
            check_reason(&expected, in_sweep).map_err(|e| at(ev.rule.id, format!("sweep: {e}")))?;
            if let Some(r) = got.first() {
                BASES[basis_slot(r.basis)].fetch_add(1, Ordering::Relaxed);
            }
        }
        if swept.decision(ix) != worst {
            return Err(at(
                "decision",
                format!(
                    "expected {worst:?}, the sweep gave {:?}",
                    swept.decision(ix)
                ),
            ));
        }
        if outcome.decision != worst {
            return Err(at(
                "decision",
                format!("expected {worst:?}, engine gave {:?}", outcome.decision),
            ));
        }
        if worst == Decision::Clear {
            CLEAR.fetch_add(1, Ordering::Relaxed);
        }

        // Owners: every upstream entity, with its effective share and control.
        let mut expected: BTreeMap<&str, (f64, bool)> = BTreeMap::new();
        for o in (0..n).filter(|&o| o != x && own.ancestor[o][x]) {
            if own.eff[o][x] >= 1.0 {
                SATURATED.fetch_add(1, Ordering::Relaxed);
            }
            expected.insert(&w.nodes[o].id, (own.effective(o, x), own.controls[o][x]));
        }
        let owners = holdings::owners(&local);
        let got: BTreeMap<&str, (f64, bool)> = owners
            .iter()
            .map(|h| (h.entity.as_str(), (h.effective_share, h.controls)))
            .collect();
        let same_keys = expected.keys().eq(got.keys());
        let same_values = same_keys
            && expected
                .values()
                .zip(got.values())
                .all(|(a, b)| close(a.0, b.0) && a.1 == b.1);
        if !same_values {
            return Err(at(
                "owners",
                format!("expected {expected:?}, engine gave {got:?}"),
            ));
        }

        // UBO: persons and top entities (no live owner) reaching the threshold.
        let (threshold, inclusive) = case.ubo;
        let expected: BTreeMap<&str, f64> = (0..n)
            .filter(|&o| o != x && own.ancestor[o][x])
            .filter(|&o| w.nodes[o].person || !own.owned[o])
            .map(|o| (w.nodes[o].id.as_str(), own.effective(o, x)))
            .filter(|&(_, s)| {
                if inclusive {
                    s >= threshold - EPS
                } else {
                    s > threshold + EPS
                }
            })
            .collect();
        let got: BTreeMap<&str, f64> = outcome
            .ubo
            .iter()
            .map(|u| (u.entity.as_str(), u.effective_share))
            .collect();
        let same = expected.keys().eq(got.keys())
            && expected
                .values()
                .zip(got.values())
                .all(|(a, b)| close(*a, *b));
        if !same {
            return Err(at(
                "ubo",
                format!("expected {expected:?}, engine gave {got:?}"),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Generating.
// ---------------------------------------------------------------------------------------------

/// Shares drawn from these: round numbers that meet thresholds exactly, and decimals such as
/// 14.8 + 17.6 + 17.6, whose float sum passes 50 by an ulp.
const SHARES: [f64; 18] = [
    100.0, 100.0, 90.0, 75.0, 60.0, 50.0, 50.0, 40.0, 33.3, 30.0, 25.0, 20.0, 17.6, 16.7, 14.8,
    10.0, 5.0, 0.5,
];
const PLACES: [&str; 7] = ["SG", "GB", "CN", "CN-BJ", "RU-MOW", "US-DE", "US-NY"];
const CODES: [&str; 5] = ["CN", "RU", "US", "US-DE", "CN-BJ"];
const LISTS: [&str; 2] = ["ofac", "eu"];

fn date_near() -> impl Strategy<Value = Option<NaiveDate>> {
    prop::option::weighted(0.4, (-1i64..=1).prop_map(day))
}

fn listing() -> impl Strategy<Value = WListing> {
    (0..LISTS.len(), date_near(), date_near()).prop_map(|(list, listed_on, delisted_on)| WListing {
        list,
        listed_on,
        delisted_on,
    })
}

/// Person or not, jurisdiction and headquarters (indices into `PLACES`), a listing.
type RawNode = (bool, Option<usize>, Option<usize>, Option<WListing>);

fn node() -> impl Strategy<Value = RawNode> {
    (
        prop::bool::weighted(0.3),
        prop::option::weighted(0.7, 0..PLACES.len()),
        prop::option::weighted(0.4, 0..PLACES.len()),
        prop::option::weighted(0.2, listing()),
    )
}

/// Owner, owned, interest selector, share (index), range end (index), valid from, valid to.
type RawLink = (
    usize,
    usize,
    u8,
    usize,
    Option<usize>,
    Option<NaiveDate>,
    Option<i64>,
);

fn link(n: usize) -> impl Strategy<Value = RawLink> {
    (
        0..n,
        0..n,
        0u8..10,
        0..SHARES.len(),
        prop::option::weighted(0.4, 0..SHARES.len()),
        date_near(),
        prop::option::weighted(0.25, 0i64..=2),
    )
}

/// A world from raw draws: no self links, valid periods, and the known minimum `shares` (and
/// `votes`) into any entity at most 100, as the store enforces.
fn world(lists_active: (bool, bool), nodes: Vec<RawNode>, raw: Vec<RawLink>) -> World {
    let nodes: Vec<WNode> = nodes
        .into_iter()
        .enumerate()
        .map(|(i, (person, j, h, l))| WNode {
            id: format!("{}{i}", if person { "p" } else { "c" }),
            person,
            jurisdiction: j.map(|j| PLACES[j]),
            headquarters: h.map(|h| PLACES[h]),
            listings: l.into_iter().collect(),
        })
        .collect();
    let mut known = vec![[0.0f64; 2]; nodes.len()];
    let mut links = Vec::new();
    for (owner, owned, kind, a, b, valid_from, to) in raw {
        if owner == owned {
            continue;
        }
        let interest = match kind {
            0..=4 => Interest::Shares,
            5 | 6 => Interest::Votes,
            7 => Interest::Board,
            8 => Interest::Control,
            _ => Interest::Consolidation,
        };
        let (min, max) = match (interest, b) {
            (Interest::Shares | Interest::Votes, None) => (SHARES[a], SHARES[a]),
            (Interest::Shares | Interest::Votes, Some(b)) => {
                (SHARES[a].min(SHARES[b]), SHARES[a].max(SHARES[b]))
            }
            _ => (0.0, 0.0),
        };
        if interest.is_quantified() {
            let k = usize::from(interest == Interest::Votes);
            if known[owned][k] + min > 100.0 + EPS {
                continue;
            }
            known[owned][k] += min;
        }
        let valid_to = to.map(day).filter(|&t| valid_from.is_none_or(|f| f < t));
        links.push(WLink {
            owner,
            owned,
            interest,
            min,
            max,
            valid_from,
            valid_to,
        });
    }
    World {
        lists: vec![
            WList {
                id: LISTS[0],
                active: lists_active.0,
            },
            WList {
                id: LISTS[1],
                active: lists_active.1,
            },
        ],
        nodes,
        links,
    }
}

fn test_params() -> impl Strategy<Value = Test> {
    (
        prop::sample::select(vec![50.0, 50.0, 25.0, 10.0, 100.0, 33.3, 60.0]),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec![
            vec![Interest::Shares],
            vec![Interest::Shares],
            vec![Interest::Votes],
            vec![Interest::Shares, Interest::Votes],
            vec![Interest::Votes, Interest::Shares],
        ]),
        any::<bool>(),
        prop::option::weighted(0.6, prop::sample::select(vec![1.0, 0.5, 0.2, 0.01])),
    )
        .prop_map(
            |(threshold, inclusive, aggregate, interests, control_blocks, review)| Test {
                threshold,
                inclusive,
                aggregate,
                interests,
                control_blocks,
                review: review.map(|f| threshold * f),
            },
        )
}

fn sanctions_rule() -> impl Strategy<Value = RRule> {
    (
        prop::sample::select(vec![
            vec!["*"],
            vec!["*"],
            vec!["ofac"],
            vec!["eu"],
            vec!["ofac", "eu"],
        ]),
        test_params(),
    )
        .prop_map(|(lists, test)| RRule {
            id: "sanctions",
            sources: SourceSpec::Lists(lists),
            test,
        })
}

fn jurisdiction_rule() -> impl Strategy<Value = RRule> {
    (
        prop::sample::subsequence(CODES.to_vec(), 1..=3),
        1u8..4,
        any::<bool>(),
        test_params(),
    )
        .prop_map(|(codes, fields, persons, test)| RRule {
            id: "regions",
            sources: SourceSpec::Places {
                codes,
                jurisdiction: fields & 1 != 0,
                headquarters: fields & 2 != 0,
                persons,
            },
            test,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=8)
        .prop_flat_map(|n| {
            (
                (prop::bool::weighted(0.9), prop::bool::weighted(0.7)),
                prop::collection::vec(node(), n),
                prop::collection::vec(link(n), 0..=3 * n + 2),
                sanctions_rule(),
                jurisdiction_rule(),
                (prop::sample::select(vec![25.0, 10.0, 50.0]), any::<bool>()),
            )
        })
        .prop_map(|(lists, nodes, raw, sanctions, regions, ubo)| Case {
            world: world(lists, nodes, raw),
            rules: vec![sanctions, regions],
            ubo,
        })
}

/// Random graphs per run; `PROPTEST_CASES` overrides it for a longer hunt.
const CASES: u32 = 16_000;

/// On 16,000 random graphs, every target's reasons, decision, owners and UBOs match the reference.
#[test]
fn engine_agrees_with_the_reference_on_random_graphs() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |c| {
        check_case(&c).map_err(TestCaseError::fail)?;
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => {
            panic!("engine and reference disagree: {reason}\nminimal case: {case:#?}")
        }
        Err(e) => panic!("{e}"),
    }
    let bases: Vec<usize> = BASES.iter().map(|b| b.load(Ordering::Relaxed)).collect();
    eprintln!(
        "{cases} cases, {} targets; reasons by basis (listed, located, owned, possibly owned, \
         controlled, review band): {bases:?}; clear: {}; saturated owners: {}",
        TARGETS.load(Ordering::Relaxed),
        CLEAR.load(Ordering::Relaxed),
        SATURATED.load(Ordering::Relaxed),
    );
    // The generator must reach every kind of answer, or the comparison proves little.
    assert!(bases.iter().all(|&b| b > 0), "some basis never came up");
    assert!(CLEAR.load(Ordering::Relaxed) > 0);
    assert!(SATURATED.load(Ordering::Relaxed) > 0);
}

// ---------------------------------------------------------------------------------------------
// Worked examples.
// ---------------------------------------------------------------------------------------------

/// The example policy of the contract.
fn contract_policy() -> Vec<Rule> {
    ownergraph::domain::PolicySpec::contract_example().rules
}

/// A small graph built by hand: companies, some listed on `sdn`, some located somewhere.
struct Fixture {
    b: BaseBuilder,
    keys: i64,
}

impl Fixture {
    fn new() -> Self {
        let mut b = BaseBuilder::default();
        b.add_list(ListMeta {
            key: 1,
            id: "sdn".into(),
            name: "OFAC SDN".into(),
            active: true,
        });
        Self { b, keys: 0 }
    }

    fn company(mut self, id: &str, place: Option<&str>) -> Self {
        self.b.add_node(NodeData {
            key: 0,
            id: id.into(),
            name: id.into(),
            kind: EntityKind::Company,
            jurisdiction: place.map(|p| Jurisdiction::parse(p).unwrap()),
            headquarters: None,
        });
        self
    }

    fn listed(mut self, id: &str) -> Self {
        self = self.company(id, None);
        self.keys += 1;
        self.b
            .add_listing(
                id,
                Listing {
                    list: 1,
                    entry_key: self.keys,
                    entry_id: format!("{}", self.keys).into(),
                    listed_on: None,
                    delisted_on: None,
                },
            )
            .unwrap();
        self
    }

    fn link(mut self, owner: &str, owned: &str, interest: Interest, share: f64) -> Self {
        self.keys += 1;
        let data = EdgeData {
            key: self.keys,
            interest,
            min: share,
            max: share,
            valid_from: None,
            valid_to: None,
        };
        self.b.add_link(owner, owned, data).unwrap();
        self
    }

    fn shares(self, owner: &str, owned: &str, share: f64) -> Self {
        self.link(owner, owned, Interest::Shares, share)
    }

    fn range(mut self, owner: &str, owned: &str, min: f64, max: f64) -> Self {
        self.keys += 1;
        let data = EdgeData {
            key: self.keys,
            interest: Interest::Shares,
            min,
            max,
            valid_from: None,
            valid_to: None,
        };
        self.b.add_link(owner, owned, data).unwrap();
        self
    }

    fn finish(self) -> Snapshot {
        self.b.finish(1)
    }
}

fn screen(snap: &Snapshot, id: &str) -> Outcome {
    let local = Local::upstream(snap, &Party::Known(snap.lookup(id).unwrap()), &[], as_of());
    engine::screen(&local, &contract_policy())
}

/// The single reason of `outcome`, with its basis, decision and share.
fn only_reason(outcome: &Outcome) -> (&str, Basis, Decision, Option<f64>) {
    assert_eq!(outcome.reasons.len(), 1, "{:#?}", outcome.reasons);
    let r = &outcome.reasons[0];
    (r.rule.as_str(), r.basis, r.decision, r.share)
}

/// X* → A 50, A → B 50: A and B are both blocked, B at 50% rather than a multiplied 25%.
#[test]
fn worked_example_a_chain_of_halves_blocks_without_multiplying() {
    let s = Fixture::new()
        .listed("x")
        .company("a", None)
        .company("b", None)
        .shares("x", "a", 50.0)
        .shares("a", "b", 50.0)
        .finish();
    for id in ["a", "b"] {
        let o = screen(&s, id);
        assert_eq!(o.decision, Decision::Block);
        assert_eq!(
            only_reason(&o),
            ("ofac-50", Basis::Owned, Decision::Block, Some(50.0))
        );
    }
}

/// X* → A 25, Y* → A 25: two listed owners' shares add up and block A.
#[test]
fn worked_example_listed_owners_aggregate() {
    let s = Fixture::new()
        .listed("x")
        .listed("y")
        .company("a", None)
        .shares("x", "a", 25.0)
        .shares("y", "a", 25.0)
        .finish();
    let o = screen(&s, "a");
    assert_eq!(o.decision, Decision::Block);
    assert_eq!(
        only_reason(&o),
        ("ofac-50", Basis::Owned, Decision::Block, Some(50.0))
    );
}

/// X* → A 50, X* → B 10, A → B 40: A is blocked, and so is B by 10 + 40.
#[test]
fn worked_example_direct_and_indirect_holdings_add() {
    let s = Fixture::new()
        .listed("x")
        .company("a", None)
        .company("b", None)
        .shares("x", "a", 50.0)
        .shares("x", "b", 10.0)
        .shares("a", "b", 40.0)
        .finish();
    for id in ["a", "b"] {
        let o = screen(&s, id);
        assert_eq!(o.decision, Decision::Block);
        assert_eq!(
            only_reason(&o),
            ("ofac-50", Basis::Owned, Decision::Block, Some(50.0))
        );
    }
}

/// X* → A 30 plus a board link X → A: control alone gives review, never block, under OFAC.
#[test]
fn worked_example_control_without_majority_is_reviewed() {
    let s = Fixture::new()
        .listed("x")
        .company("a", None)
        .shares("x", "a", 30.0)
        .link("x", "a", Interest::Board, 0.0)
        .finish();
    let o = screen(&s, "a");
    assert_eq!(o.decision, Decision::Review);
    assert_eq!(
        only_reason(&o),
        ("ofac-50", Basis::Controlled, Decision::Review, Some(30.0))
    );
}

/// Two companies owning each other wholly: everything terminates, divergent walks report 100%.
#[test]
fn a_hundred_percent_loop_terminates() {
    let s = Fixture::new()
        .company("a", Some("CN"))
        .company("b", None)
        .company("c", None)
        .shares("a", "b", 100.0)
        .shares("b", "a", 100.0)
        .shares("b", "c", 30.0)
        .finish();
    assert_eq!(
        only_reason(&screen(&s, "a")),
        ("unsupported-regions", Basis::Located, Decision::Block, None)
    );
    assert_eq!(
        only_reason(&screen(&s, "b")),
        (
            "unsupported-regions",
            Basis::Owned,
            Decision::Block,
            Some(100.0)
        )
    );
    let o = screen(&s, "c");
    assert_eq!(
        only_reason(&o),
        (
            "unsupported-regions",
            Basis::ReviewBand,
            Decision::Review,
            Some(30.0)
        )
    );
    assert!(o.ubo.is_empty(), "{:?}", o.ubo);
    let local = Local::upstream(&s, &Party::Known(s.lookup("c").unwrap()), &[], as_of());
    let owners: Vec<(String, f64, bool)> = holdings::owners(&local)
        .into_iter()
        .map(|h| (h.entity, h.effective_share, h.controls))
        .collect();
    assert_eq!(
        owners,
        vec![("a".into(), 100.0, false), ("b".into(), 100.0, false)]
    );
    let local = Local::upstream(&s, &Party::Known(s.lookup("a").unwrap()), &[], as_of());
    let owners = holdings::owners(&local);
    assert_eq!(owners.len(), 1);
    assert_eq!(
        (
            owners[0].entity.as_str(),
            owners[0].effective_share,
            owners[0].controls
        ),
        ("b", 100.0, true)
    );
}

/// The contract's restricted-region screening: Ant Group (CN) holding all of Ant SG blocks it.
#[test]
fn restricted_region_owner_blocks_its_subsidiary() {
    let mut b = BaseBuilder::default();
    for (id, place) in [("ant-group", "CN"), ("ant-sg", "SG")] {
        b.add_node(NodeData {
            key: 0,
            id: id.into(),
            name: id.into(),
            kind: EntityKind::Company,
            jurisdiction: Some(Jurisdiction::parse(place).unwrap()),
            headquarters: Some(Jurisdiction::parse(place).unwrap()),
        });
    }
    b.add_link(
        "ant-group",
        "ant-sg",
        EdgeData {
            key: 1,
            interest: Interest::Shares,
            min: 100.0,
            max: 100.0,
            valid_from: NaiveDate::from_ymd_opt(2020, 1, 1),
            valid_to: None,
        },
    )
    .unwrap();
    let snap = b.finish(1);
    let local = Local::upstream(
        &snap,
        &Party::Known(snap.lookup("ant-sg").unwrap()),
        &[],
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
    );
    let o = engine::screen(&local, &contract_policy());
    assert_eq!(o.decision, Decision::Block);
    assert_eq!(o.reasons.len(), 1, "{:#?}", o.reasons);
    let r = &o.reasons[0];
    assert_eq!(r.rule, "unsupported-regions");
    assert_eq!(r.basis, Basis::Owned);
    assert_eq!(r.decision, Decision::Block);
    assert_eq!(r.share, Some(100.0));
    assert_eq!(r.threshold, Some(50.0));
    assert_eq!(r.sources, vec!["ant-group".to_owned()]);
    assert_eq!(
        serde_json::to_value(&r.paths).unwrap(),
        json!([[{"owner": "ant-group", "owned": "ant-sg", "interest": "shares", "share": 100.0}]])
    );
    assert_eq!(
        r.message,
        "100% held by entities located in CN (more than 50%)"
    );
    assert_eq!(o.ubo.len(), 1);
    assert_eq!(
        (o.ubo[0].entity.as_str(), o.ubo[0].effective_share),
        ("ant-group", 100.0)
    );
    // Before the ownership began, nothing flags Ant SG.
    let before = Local::upstream(
        &snap,
        &Party::Known(snap.lookup("ant-sg").unwrap()),
        &[],
        NaiveDate::from_ymd_opt(2019, 12, 31).unwrap(),
    );
    assert_eq!(
        engine::screen(&before, &contract_policy()).decision,
        Decision::Clear
    );
}

/// Effective shares, control and UBOs of every owner of `id`, as the engine answers them.
fn owners_of(snap: &Snapshot, id: &str) -> Vec<(String, f64, bool)> {
    let local = Local::upstream(snap, &Party::Known(snap.lookup(id).unwrap()), &[], as_of());
    holdings::owners(&local)
        .into_iter()
        .map(|h| (h.entity, h.effective_share, h.controls))
        .collect()
}

// Regressions: minimal cases where the engine and the reference once disagreed.

/// A cross-holding capped at 100% passes on 100%, so f(c0), held 95% by c1, is 95%, not 100%.
#[test]
fn a_capped_cross_holding_passes_on_the_cap() {
    let s = Fixture::new()
        .company("c0", None)
        .company("c1", None)
        .company("c2", Some("RU"))
        .range("c0", "c1", 75.0, 100.0)
        .shares("c2", "c1", 25.0)
        .shares("c1", "c0", 75.0)
        .shares("c1", "c0", 20.0)
        .finish();
    let o = screen(&s, "c0");
    assert_eq!(
        only_reason(&o),
        (
            "unsupported-regions",
            Basis::ReviewBand,
            Decision::Review,
            Some(95.0)
        )
    );
}

/// A closed loop tied to a tainted company only by votes links gets nothing attributed to it.
#[test]
fn a_loop_joined_by_other_interests_attributes_nothing() {
    let s = Fixture::new()
        .listed("s")
        .company("a", None)
        .company("b", None)
        .company("c", None)
        .company("x", None)
        .shares("a", "b", 100.0)
        .shares("b", "a", 100.0)
        .link("c", "a", Interest::Votes, 10.0)
        .link("a", "c", Interest::Votes, 10.0)
        .shares("s", "c", 40.0)
        .shares("c", "x", 30.0)
        .finish();
    let o = screen(&s, "a");
    assert_eq!(o.decision, Decision::Clear, "{:#?}", o.reasons);
    assert_eq!(
        owners_of(&s, "x"),
        vec![
            ("c".into(), 30.0, false),
            ("s".into(), 12.0, false),
            ("a".into(), 0.0, false),
            ("b".into(), 0.0, false),
        ]
    );
}

/// A votes-only owner of a divergent 100% loop has no effective share (0 × ∞ is not 100%).
#[test]
fn votes_into_a_divergent_loop_carry_no_effective_share() {
    let s = Fixture::new()
        .company("c0", None)
        .company("c1", None)
        .company("c2", None)
        .shares("c2", "c1", 100.0)
        .shares("c1", "c2", 100.0)
        .link("c0", "c1", Interest::Votes, 100.0)
        .finish();
    assert_eq!(
        owners_of(&s, "c1"),
        vec![("c2".into(), 100.0, true), ("c0".into(), 0.0, true)]
    );
}

/// Holdings that add up to 50% but for an ulp of float error are not a majority.
#[test]
fn an_ulp_past_half_is_not_a_majority() {
    let s = Fixture::new()
        .company("c0", None)
        .company("c1", None)
        .shares("c0", "c1", 17.6)
        .shares("c0", "c1", 14.8)
        .shares("c0", "c1", 17.6)
        .finish();
    let owners = owners_of(&s, "c1");
    assert_eq!(owners.len(), 1);
    assert!(!owners[0].2, "{owners:?}");
}
