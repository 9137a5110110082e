//! Effective ownership: owners, subsidiaries and ultimate beneficial owners.
//!
//! Effective shares multiply along paths and add over paths; through cross-holdings they are
//! the sum over all walks (integrated ownership), solved per strongly connected component.
//! Only `shares` links count, at their known minimum. A reported share is capped at 100%:
//! through a loop of cross-holdings the sum over walks can pass 100%, and through a closed
//! 100% loop it diverges, and neither has an economic meaning beyond "all of it".

use std::collections::HashMap;

use petgraph::Direction::{self, Incoming, Outgoing};
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use super::local::Local;
use super::paths::{self, PathSpec};
use super::solve::{System, solve};
use super::{path_steps, round};
use crate::domain::{EntityKind, Holding, Interest, UboItem};

pub(super) fn shares(local: &Local, e: EdgeIndex) -> f64 {
    let edge = &local.graph[e];
    if edge.interest == Interest::Shares {
        edge.min / 100.0
    } else {
        0.0
    }
}

/// Effective share, as a fraction, between the target and every node: of each node in the
/// target when `toward` is `Incoming` (owners), of the target in each node when `Outgoing`.
pub(super) fn effective(local: &Local, toward: Direction) -> Vec<f64> {
    let g = &local.graph;
    let x = local.target;
    // v(n) = Σ over links joining n and x directly + Σ over links to other nodes m of w · v(m).
    let direct = |n: NodeIndex| -> f64 {
        match toward {
            Incoming => g
                .edges_connecting(n, x)
                .map(|e| shares(local, e.id()))
                .sum(),
            Outgoing => g
                .edges_connecting(x, n)
                .map(|e| shares(local, e.id()))
                .sum(),
        }
    };
    let w = |e: EdgeIndex| shares(local, e);
    let deps = if toward == Incoming {
        Outgoing
    } else {
        Incoming
    };
    solve(
        g,
        &System {
            deps,
            b: &direct,
            w: &w,
            fixed: &|_| None,
            cap: f64::INFINITY,
        },
    )
}

/// Nodes joined to the target by a chain of majority holdings (more than 50% of the shares or
/// of the votes at each step), searching in direction `dir` from the target. Like the rules'
/// thresholds, the test allows for float error, so that 14.8 + 17.6 + 17.6 is not a majority.
fn majority_chain(local: &Local, dir: Direction) -> Vec<bool> {
    let g = &local.graph;
    let mut pair: HashMap<(NodeIndex, NodeIndex, Interest), f64> = HashMap::new();
    for e in g.edge_references() {
        let i = e.weight().interest;
        if i.is_quantified() {
            *pair.entry((e.source(), e.target(), i)).or_default() += e.weight().min;
        }
    }
    let mut adj: HashMap<NodeIndex, Vec<NodeIndex>> = HashMap::new();
    for ((o, d, _), s) in pair {
        if s > 50.0 + 1e-9 {
            match dir {
                Incoming => adj.entry(d).or_default().push(o),
                Outgoing => adj.entry(o).or_default().push(d),
            }
        }
    }
    let mut seen = vec![false; g.node_count()];
    let mut stack = vec![local.target];
    while let Some(n) = stack.pop() {
        for &m in adj.get(&n).into_iter().flatten() {
            if !seen[m.index()] {
                seen[m.index()] = true;
                stack.push(m);
            }
        }
    }
    seen
}

fn holdings(local: &Local, dir: Direction) -> Vec<Holding> {
    let g = &local.graph;
    let x = local.target;
    let eff = effective(local, dir);
    let controls = majority_chain(local, dir);
    let mut out: Vec<Holding> = g
        .node_indices()
        .filter(|&n| n != x)
        .map(|n| {
            let direct: Vec<f64> = match dir {
                Incoming => g.edges_connecting(n, x),
                _ => g.edges_connecting(x, n),
            }
            .filter(|e| e.weight().interest == Interest::Shares)
            .map(|e| e.weight().min)
            .collect();
            Holding {
                entity: local.id(n).to_owned(),
                name: g[n].data.name.to_string(),
                direct_share: (!direct.is_empty()).then(|| round(direct.iter().sum())),
                effective_share: capped_percent(eff[n.index()]),
                controls: controls[n.index()],
            }
        })
        .collect();
    out.sort_by(|a, b| by_share(a.effective_share, &a.entity, b.effective_share, &b.entity));
    out
}

/// Largest share first, then by id, so answers are stable.
fn by_share(a: f64, a_id: &str, b: f64, b_id: &str) -> std::cmp::Ordering {
    b.total_cmp(&a).then_with(|| a_id.cmp(b_id))
}

pub(super) fn capped_percent(fraction: f64) -> f64 {
    round((fraction * 100.0).min(100.0))
}

/// Every upstream owner of the target (`local` built upstream).
pub fn owners(local: &Local) -> Vec<Holding> {
    holdings(local, Incoming)
}

/// Every downstream holding of the target (`local` built downstream).
pub fn subsidiaries(local: &Local) -> Vec<Holding> {
    holdings(local, Outgoing)
}

/// The persons, and the top entities with no known owner, whose effective share in the target
/// reaches `threshold` (`local` built upstream).
pub fn ubo(local: &Local, threshold: f64, inclusive: bool, with_paths: bool) -> Vec<UboItem> {
    let g = &local.graph;
    let x = local.target;
    let eff = effective(local, Incoming);
    let mut out: Vec<UboItem> = g
        .node_indices()
        .filter(|&n| n != x)
        .filter(|&n| {
            g[n].data.kind == EntityKind::Person || g.edges_directed(n, Incoming).next().is_none()
        })
        .filter_map(|n| {
            let share = capped_percent(eff[n.index()]);
            let meets = if inclusive {
                share >= threshold - 1e-9
            } else {
                share > threshold + 1e-9
            };
            meets.then(|| {
                let paths = if with_paths {
                    let is_start = |m: NodeIndex| m == n;
                    let weight = |e: EdgeIndex| Some(shares(local, e)).filter(|&w| w > 0.0);
                    let spec = PathSpec {
                        is_start: &is_start,
                        weight: &weight,
                    };
                    paths::strongest(g, x, &spec, paths::MAX_PATHS)
                        .iter()
                        .map(|p| path_steps(local, p))
                        .collect()
                } else {
                    Vec::new()
                };
                UboItem {
                    entity: local.id(n).to_owned(),
                    name: g[n].data.name.to_string(),
                    effective_share: share,
                    paths,
                }
            })
        })
        .collect();
    out.sort_by(|a, b| by_share(a.effective_share, &a.entity, b.effective_share, &b.entity));
    out
}
