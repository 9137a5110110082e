//! The rules engine: the in-memory graph and everything computed on it.
//!
//! No I/O and no async: every function here takes a [`Snapshot`] (or a [`Local`] copied out of
//! one) and returns values, so the engine is tested on graphs built by hand.
//!
//! - [`graph`]: the shared snapshot, a compact base plus a persistent overlay of changes;
//! - [`local`]: the ancestors (or descendants) of one entity at one date, as a small petgraph;
//! - [`rules`]: the contract's section 4: sources, tainted sets, reasons;
//! - [`holdings`]: effective ownership, owners, subsidiaries and UBOs;
//! - [`solve`]: the linear fixpoint through cycles that both of the above use;
//! - [`paths`]: the strongest paths that explain an answer;
//! - [`unknowns`]: owners a source declares unknown, on the entity or a large owner of it;
//! - [`sweep`]: every entity's decision in one pass over the whole graph, for re-screening.

pub mod graph;
pub mod holdings;
pub mod local;
pub mod paths;
pub mod rules;
pub mod solve;
pub mod sweep;
pub mod unknowns;

pub use graph::{
    BaseBuilder, EdgeData, GraphChange, Link, ListMeta, Listing, NodeData, NodeIx, Snapshot,
    UnknownOwner,
};
pub use local::{Declared, Local, Party};

use petgraph::graph::EdgeIndex;

use crate::domain::{Decision, PathStep, Reason, Rule, Share, ShareRange, UboItem};

/// What a policy says about one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub ubo: Vec<UboItem>,
}

/// Applies every rule of a policy to the target of `local` (built upstream).
pub fn screen(local: &Local, rules: &[Rule]) -> Outcome {
    let reasons: Vec<Reason> = rules
        .iter()
        .filter_map(|r| match r {
            Rule::UnknownOwners(u) => unknowns::evaluate(local, u),
            _ => rules::evaluate(local, r),
        })
        .collect();
    let decision = reasons
        .iter()
        .map(|r| r.decision)
        .max()
        .unwrap_or(Decision::Clear);
    let mut ubo: Vec<UboItem> = Vec::new();
    for rule in rules {
        if let Rule::BeneficialOwnership(r) = rule {
            for item in holdings::ubo(local, r.threshold, r.inclusive, false) {
                if !ubo.iter().any(|u| u.entity == item.entity) {
                    ubo.push(item);
                }
            }
        }
    }
    Outcome {
        decision,
        reasons,
        ubo,
    }
}

/// Rounds a percentage to 1e-9, so that 0.6 × 50 reads 30, not 30.000000000000004.
pub fn round(p: f64) -> f64 {
    (p * 1e9).round() / 1e9
}

/// A percentage for messages: at most two decimals, no trailing zeros.
pub fn percent(p: f64) -> String {
    let s = format!("{:.2}", p);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The steps of a path, for answers.
fn path_steps(local: &Local, edges: &[EdgeIndex]) -> Vec<PathStep> {
    edges
        .iter()
        .filter_map(|&e| {
            let (o, d) = local.graph.edge_endpoints(e)?;
            let edge = &local.graph[e];
            let quantified = edge.interest.is_quantified();
            let range = (quantified && edge.min != edge.max).then(|| {
                Some(ShareRange {
                    min: Share::new(edge.min).ok()?,
                    max: Share::new(edge.max).ok()?,
                })
            });
            Some(PathStep {
                owner: local.id(o).to_owned(),
                owned: local.id(d).to_owned(),
                interest: edge.interest,
                share: (quantified && edge.min == edge.max).then_some(edge.min),
                share_range: range.flatten(),
            })
        })
        .collect()
}
