//! The strongest ownership paths behind an answer.
//!
//! A joint-venture lattice 2 wide and 20 deep has 2^20 simple paths, so paths are never
//! enumerated. The search runs backwards from the target, best first, and ranks a partial path
//! by its strength so far times the best strength with which any start can reach its head (a
//! max-product Dijkstra from the starts). That bound is exact for the best completion, so
//! complete paths come out strongest first and each costs about one expansion per step.
//! Strengths are kept as negative logarithms: a product of thousands of shares underflows a
//! float to zero, a sum of their logarithms does not.
//!
//! Must not break: bounded work, and at least one path whenever a start reaches the target.
//! The number of paths, their length and the expansions are capped, so a hostile graph yields
//! fewer paths, never a slow answer; when the caps leave none (a chain thousands deep), the
//! strongest path is read off the Dijkstra tree, in time linear in its length.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use petgraph::Direction::{Incoming, Outgoing};
use petgraph::graph::{EdgeIndex, Graph, NodeIndex};
use petgraph::visit::EdgeRef;

/// At most this many paths per answer.
pub const MAX_PATHS: usize = 10;
/// Paths longer than this many links are not reported.
pub const MAX_LEN: usize = 64;
const MAX_EXPANSIONS: usize = 50_000;

/// What the search may use: `weight(e)` is the strength of an edge in `(0, 1]`, or `None`
/// where the edge is not part of the explanation.
pub struct PathSpec<'a> {
    pub is_start: &'a dyn Fn(NodeIndex) -> bool,
    pub weight: &'a dyn Fn(EdgeIndex) -> Option<f64>,
}

#[derive(Clone, Copy)]
struct Item {
    priority: f64,
    depth: usize,
    arena: usize,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    /// Strongest first; among equals the deepest, so that a path completes before its
    /// siblings are opened; then first pushed.
    fn cmp(&self, o: &Self) -> Ordering {
        self.priority
            .total_cmp(&o.priority)
            .then(self.depth.cmp(&o.depth))
            .then(o.arena.cmp(&self.arena))
    }
}

struct Step {
    node: NodeIndex,
    /// The edge from `node` towards the target, and the step it leads to.
    edge: Option<EdgeIndex>,
    next: usize,
    /// −ln of the strength from `node` to the target.
    cost: f64,
}

/// −ln of an edge's strength; `None` for an edge of no strength.
fn cost(w: f64) -> Option<f64> {
    (w > 0.0).then(|| -w.min(1.0).ln())
}

/// The strongest simple paths from any start to `target`, each as its edges from the start.
pub fn strongest<N, E>(
    g: &Graph<N, E>,
    target: NodeIndex,
    spec: &PathSpec,
    k: usize,
) -> Vec<Vec<EdgeIndex>> {
    let (reach, via) = best_from_starts(g, spec);
    let mut out = Vec::new();
    if reach[target.index()].is_infinite() {
        return out;
    }
    let mut arena = vec![Step {
        node: target,
        edge: None,
        next: usize::MAX,
        cost: 0.0,
    }];
    let mut heap = BinaryHeap::new();
    // The heap pops the greatest priority: the least cost.
    heap.push(Item {
        priority: -reach[target.index()],
        depth: 0,
        arena: 0,
    });
    let mut expansions = 0;
    while let Some(item) = heap.pop() {
        let head = arena[item.arena].node;
        if item.depth > 0 && (spec.is_start)(head) {
            out.push(collect(&arena, item.arena));
            if out.len() >= k {
                break;
            }
            continue;
        }
        expansions += 1;
        if expansions > MAX_EXPANSIONS || item.depth >= MAX_LEN {
            if expansions > MAX_EXPANSIONS {
                break;
            }
            continue;
        }
        for e in g.edges_directed(head, Incoming) {
            let Some(c) = (spec.weight)(e.id()).and_then(cost) else {
                continue;
            };
            let from = e.source();
            let r = reach[from.index()];
            if r.is_infinite() || on_path(&arena, item.arena, from) {
                continue;
            }
            let so_far = arena[item.arena].cost + c;
            arena.push(Step {
                node: from,
                edge: Some(e.id()),
                next: item.arena,
                cost: so_far,
            });
            heap.push(Item {
                priority: -(so_far + r),
                depth: item.depth + 1,
                arena: arena.len() - 1,
            });
        }
    }
    if out.is_empty() {
        // The caps left no path: the strongest one, from the tree of best predecessors.
        let mut path = Vec::new();
        let mut at = target;
        while let Some(e) = via[at.index()] {
            path.push(e);
            at = g.edge_endpoints(e).map_or(at, |(from, _)| from);
        }
        path.reverse();
        if !path.is_empty() {
            out.push(path);
        }
    }
    out
}

fn on_path(arena: &[Step], mut at: usize, n: NodeIndex) -> bool {
    while at != usize::MAX {
        if arena[at].node == n {
            return true;
        }
        at = arena[at].next;
    }
    false
}

fn collect(arena: &[Step], mut at: usize) -> Vec<EdgeIndex> {
    let mut edges = Vec::new();
    while let Some(e) = arena[at].edge {
        edges.push(e);
        at = arena[at].next;
    }
    edges
}

/// For every node, −ln of the strongest product of weights from any start to it (0 at a
/// start, infinite where no start reaches), and the last edge of that strongest path. Weights
/// are at most 1, so costs are never negative and a Dijkstra is exact.
fn best_from_starts<N, E>(g: &Graph<N, E>, spec: &PathSpec) -> (Vec<f64>, Vec<Option<EdgeIndex>>) {
    #[derive(PartialEq)]
    struct Best(f64, NodeIndex);
    impl Eq for Best {}
    impl PartialOrd for Best {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Best {
        // The heap pops the least cost first.
        fn cmp(&self, o: &Self) -> Ordering {
            o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
        }
    }
    let mut best = vec![f64::INFINITY; g.node_count()];
    let mut via = vec![None; g.node_count()];
    let mut heap = BinaryHeap::new();
    for n in g.node_indices().filter(|&n| (spec.is_start)(n)) {
        best[n.index()] = 0.0;
        heap.push(Best(0.0, n));
    }
    while let Some(Best(c, n)) = heap.pop() {
        if c > best[n.index()] {
            continue;
        }
        for e in g.edges_directed(n, Outgoing) {
            let Some(w) = (spec.weight)(e.id()).and_then(cost) else {
                continue;
            };
            let t = e.target();
            if c + w < best[t.index()] {
                best[t.index()] = c + w;
                via[t.index()] = Some(e.id());
                heap.push(Best(c + w, t));
            }
        }
    }
    (best, via)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deep_lattice_yields_its_strongest_paths_without_enumerating_them() {
        // Two columns, 20 rows deep; every node holds 50% of both nodes in the next row, except
        // the left column's links, which are 60%. The strongest path runs down the left.
        let mut g: Graph<(), f64> = Graph::new();
        let rows: Vec<[NodeIndex; 2]> = (0..21).map(|_| [g.add_node(()), g.add_node(())]).collect();
        for r in 0..20 {
            for (a, &from) in rows[r].iter().enumerate() {
                for (b, &to) in rows[r + 1].iter().enumerate() {
                    g.add_edge(from, to, if a == 0 && b == 0 { 0.6 } else { 0.5 });
                }
            }
        }
        let bottom = g.add_node(());
        g.add_edge(rows[20][0], bottom, 1.0);
        let start = |n: NodeIndex| n == rows[0][0] || n == rows[0][1];
        let weight = |e: EdgeIndex| Some(g[e]);
        let paths = strongest(
            &g,
            bottom,
            &PathSpec {
                is_start: &start,
                weight: &weight,
            },
            MAX_PATHS,
        );
        assert_eq!(paths.len(), MAX_PATHS);
        let strength = |p: &Vec<EdgeIndex>| p.iter().map(|&e| g[e]).product::<f64>();
        assert!((strength(&paths[0]) - 0.6f64.powi(20)).abs() < 1e-15);
        assert!(paths.windows(2).all(|w| strength(&w[0]) >= strength(&w[1])));
        assert!(
            paths
                .iter()
                .all(|p| p.len() == 21 && start(g.edge_endpoints(p[0]).unwrap().0))
        );
    }

    #[test]
    fn no_path_when_no_start_reaches() {
        let mut g: Graph<(), f64> = Graph::new();
        let a = g.add_node(());
        let b = g.add_node(());
        g.add_edge(b, a, 1.0);
        let paths = strongest(
            &g,
            b,
            &PathSpec {
                is_start: &|n| n == a,
                weight: &|e| Some(g[e]),
            },
            10,
        );
        assert!(paths.is_empty());
    }

    #[test]
    fn a_chain_past_every_cap_still_yields_its_one_path() {
        // 5,000 links of 75%: the product underflows a float, and the chain is far longer
        // than a reported path may be.
        let mut g: Graph<(), f64> = Graph::new();
        let nodes: Vec<NodeIndex> = (0..5_001).map(|_| g.add_node(())).collect();
        for w in nodes.windows(2) {
            g.add_edge(w[0], w[1], 0.75);
        }
        assert_eq!(0.75f64.powi(5_000), 0.0);
        let paths = strongest(
            &g,
            nodes[5_000],
            &PathSpec {
                is_start: &|n| n == nodes[0],
                weight: &|e| Some(g[e]),
            },
            MAX_PATHS,
        );
        assert_eq!(paths.len(), 1);
        assert_eq!(paths[0].len(), 5_000);
        assert_eq!(g.edge_endpoints(paths[0][0]).unwrap().0, nodes[0]);
        assert_eq!(g.edge_endpoints(paths[0][4_999]).unwrap().1, nodes[5_000]);
    }
}
