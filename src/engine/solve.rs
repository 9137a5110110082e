//! Linear fixpoints over ownership graphs with cycles.
//!
//! Both effective ownership ("multiply along paths, sum over paths") and the attributable
//! share f(x) are solutions of `v = b + W v` on a graph whose cycles are cross-holdings. The
//! graph is split into strongly connected components and solved in topological order: an
//! acyclic part costs one pass, and each cycle is solved exactly as a small linear system by
//! Gaussian elimination.
//!
//! Components are those of the links that carry weight (`w > 0`) into a node that is not fixed:
//! a link of another interest, or into a fixed node, passes nothing on, so it must not join two
//! otherwise separate parts into one system (a closed loop with nothing flowing in would then
//! be solved together with an unrelated node that something does flow into). Within such a
//! component every node reaches every other over weighted links, so either nothing flows in
//! (every value is 0) or something reaches every node.
//!
//! Must terminate on every input, including a 100%/100% loop, where `I - W` is singular and the
//! sum over walks diverges: such a component, when anything flows into it, is set to `cap`.
//! With a finite cap the answer is the least solution of `v = min(cap, b + W v)`: a node held at
//! the cap passes on the cap, not the larger uncapped value.

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{EdgeIndex, Graph, NodeIndex};
use petgraph::visit::EdgeRef;

/// Components larger than this are solved by Gauss–Seidel iteration instead of elimination,
/// to bound the cubic cost on adversarial inputs.
const DIRECT_LIMIT: usize = 300;

/// The system to solve. `v(n) = fixed(n)` where given; otherwise
/// `v(n) = min(cap, b(n) + Σ w(e) · v(m))` over the edges `e` joining `n` to `m` in direction
/// `deps` (`Incoming`: `v` depends on owners; `Outgoing`: on holdings).
pub struct System<'a> {
    pub deps: Direction,
    pub b: &'a dyn Fn(NodeIndex) -> f64,
    pub w: &'a dyn Fn(EdgeIndex) -> f64,
    pub fixed: &'a dyn Fn(NodeIndex) -> Option<f64>,
    pub cap: f64,
}

pub fn solve<N, E>(g: &Graph<N, E>, sys: &System) -> Vec<f64> {
    let mut v = vec![0.0; g.node_count()];
    // The dependencies that carry weight; `filter_map` keeps every node, so indices agree.
    let weighted = g.filter_map(
        |_, _| Some(()),
        |e, _| {
            let (owner, owned) = g.edge_endpoints(e)?;
            let dependent = if sys.deps == Direction::Incoming {
                owned
            } else {
                owner
            };
            ((sys.w)(e) > 0.0 && (sys.fixed)(dependent).is_none()).then_some(())
        },
    );
    let mut sccs = tarjan_scc(&weighted);
    // tarjan_scc yields components in reverse topological order: holdings before owners.
    if sys.deps == Direction::Incoming {
        sccs.reverse();
    }
    let mut pos = vec![usize::MAX; g.node_count()];
    for scc in sccs {
        if let [n] = scc[..] {
            v[n.index()] =
                (sys.fixed)(n).unwrap_or_else(|| sys.cap.min(inflow(g, sys, n, &v, |_| true)));
            continue;
        }
        for (i, n) in scc.iter().enumerate() {
            pos[n.index()] = i;
        }
        solve_component(g, sys, &scc, &pos, &mut v);
        for n in &scc {
            pos[n.index()] = usize::MAX;
        }
    }
    v
}

/// `b(n) + Σ w · v(m)` over dependencies `m` accepted by `take`. A link without weight adds
/// nothing, even from a node whose sum diverged (0 × ∞ would be NaN).
fn inflow<N, E>(
    g: &Graph<N, E>,
    sys: &System,
    n: NodeIndex,
    v: &[f64],
    take: impl Fn(NodeIndex) -> bool,
) -> f64 {
    let mut sum = (sys.b)(n);
    for e in g.edges_directed(n, sys.deps) {
        let m = if sys.deps == Direction::Incoming {
            e.source()
        } else {
            e.target()
        };
        let w = (sys.w)(e.id());
        if w != 0.0 && take(m) {
            sum += w * v[m.index()];
        }
    }
    sum
}

fn solve_component<N, E>(
    g: &Graph<N, E>,
    sys: &System,
    scc: &[NodeIndex],
    pos: &[usize],
    v: &mut [f64],
) {
    let k = scc.len();
    let inside = |m: NodeIndex| pos[m.index()] != usize::MAX;
    // Fixed nodes are constants; the rest are unknowns whose right-hand side collects what
    // flows in from outside the component and from fixed members.
    for &n in scc {
        if let Some(x) = (sys.fixed)(n) {
            v[n.index()] = x;
        }
    }
    let is_free = |n: NodeIndex| (sys.fixed)(n).is_none();
    let rhs: Vec<f64> = scc
        .iter()
        .map(|&n| {
            if is_free(n) {
                inflow(g, sys, n, v, |m| !inside(m) || !is_free(m))
            } else {
                0.0
            }
        })
        .collect();
    if rhs.iter().all(|&r| r == 0.0) {
        // The least fixpoint: nothing flows in, so a loop cannot lift itself.
        for &n in scc.iter().filter(|&&n| is_free(n)) {
            v[n.index()] = 0.0;
        }
        return;
    }
    let solution = if k <= DIRECT_LIMIT {
        let mut m = vec![0.0; k * k];
        for (i, &n) in scc.iter().enumerate() {
            m[i * k + i] = 1.0;
            if !is_free(n) {
                continue;
            }
            for e in g.edges_directed(n, sys.deps) {
                let dep = if sys.deps == Direction::Incoming {
                    e.source()
                } else {
                    e.target()
                };
                if inside(dep) && is_free(dep) {
                    m[i * k + pos[dep.index()]] -= (sys.w)(e.id());
                }
            }
        }
        match gaussian(m.clone(), rhs.clone(), k) {
            Some(s) if s.iter().all(|&x| (-1e-12..=sys.cap).contains(&x)) => Some(s),
            // A negative or missing solution means the walks diverge (a closed loop, or share
            // maxima that add up past 100%); in a component whose nodes all reach each other
            // they diverge for every node, so without a cap all of it is saturated.
            _ if sys.cap.is_infinite() => None,
            // Past a finite cap somewhere: the capped system has to be solved as such.
            _ => Some(capped(&m, &rhs, k, sys.cap)),
        }
    } else {
        gauss_seidel(g, sys, scc, &rhs, pos, v)
    };
    for (i, &n) in scc.iter().enumerate() {
        if is_free(n) {
            let x = match &solution {
                Some(s) => s[i].max(0.0).min(sys.cap),
                None => sys.cap,
            };
            v[n.index()] = x;
        }
    }
}

/// The least solution of `x = min(cap, rhs + W x)`, where `m = I - W` (row-major k×k), for a
/// component that something flows into. Policy iteration from above: pin every node at the
/// cap; then, repeatedly, release the pinned nodes whose inflow stays below the cap and solve
/// the released ones exactly with the rest pinned, until none is released. Every step is an
/// upper bound of the answer that only decreases, so a released node never needs pinning
/// again and this takes at most k solves. Because something reaches every node, the capped
/// system has a single solution, and that is where it stops.
fn capped(m: &[f64], rhs: &[f64], k: usize, cap: f64) -> Vec<f64> {
    let mut pinned = vec![true; k];
    let mut x = vec![cap; k];
    loop {
        let mut released = false;
        for i in 0..k {
            if pinned[i] {
                // rhs + W x, with W = I - m and no self-links.
                let inflow = rhs[i]
                    - (0..k)
                        .filter(|&j| j != i)
                        .map(|j| m[i * k + j] * x[j])
                        .sum::<f64>();
                if inflow < cap {
                    pinned[i] = false;
                    released = true;
                }
            }
        }
        if !released {
            return x;
        }
        let free: Vec<usize> = (0..k).filter(|&i| !pinned[i]).collect();
        let f = free.len();
        let mut sub = vec![0.0; f * f];
        let mut r = vec![0.0; f];
        for (a, &i) in free.iter().enumerate() {
            r[a] = rhs[i]
                - (0..k)
                    .filter(|&j| pinned[j])
                    .map(|j| m[i * k + j] * cap)
                    .sum::<f64>();
            for (b, &j) in free.iter().enumerate() {
                sub[a * f + b] = m[i * k + j];
            }
        }
        match gaussian(sub, r, f) {
            Some(s) => {
                for (a, &i) in free.iter().enumerate() {
                    x[i] = s[a].clamp(0.0, cap);
                }
            }
            // Numerically singular: keep the last bound.
            None => return x,
        }
    }
}

/// Solves `m x = r` (row-major k×k) by elimination with partial pivoting; `None` if singular.
fn gaussian(mut m: Vec<f64>, mut r: Vec<f64>, k: usize) -> Option<Vec<f64>> {
    for col in 0..k {
        let piv =
            (col..k).max_by(|&a, &b| m[a * k + col].abs().total_cmp(&m[b * k + col].abs()))?;
        if m[piv * k + col].abs() < 1e-12 {
            return None;
        }
        if piv != col {
            for j in 0..k {
                m.swap(piv * k + j, col * k + j);
            }
            r.swap(piv, col);
        }
        let p = m[col * k + col];
        for row in col + 1..k {
            let f = m[row * k + col] / p;
            if f != 0.0 {
                for j in col..k {
                    m[row * k + j] -= f * m[col * k + j];
                }
                r[row] -= f * r[col];
            }
        }
    }
    let mut x = vec![0.0; k];
    for row in (0..k).rev() {
        let s: f64 = (row + 1..k).map(|j| m[row * k + j] * x[j]).sum();
        x[row] = (r[row] - s) / m[row * k + row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Monotone iteration from zero, for components too large to eliminate. Stops when no value
/// moves by more than 1e-12 relative, or after a fixed number of sweeps.
fn gauss_seidel<N, E>(
    g: &Graph<N, E>,
    sys: &System,
    scc: &[NodeIndex],
    rhs: &[f64],
    pos: &[usize],
    v: &mut [f64],
) -> Option<Vec<f64>> {
    let free: Vec<bool> = scc.iter().map(|&n| (sys.fixed)(n).is_none()).collect();
    let mut x = vec![0.0; scc.len()];
    for (i, &n) in scc.iter().enumerate() {
        if free[i] {
            v[n.index()] = 0.0;
        }
    }
    for _ in 0..10_000 {
        let mut moved = 0.0f64;
        for (i, &n) in scc.iter().enumerate() {
            if !free[i] {
                continue;
            }
            let mut s = rhs[i];
            for e in g.edges_directed(n, sys.deps) {
                let dep = if sys.deps == Direction::Incoming {
                    e.source()
                } else {
                    e.target()
                };
                let j = pos[dep.index()];
                if j != usize::MAX && free[j] {
                    s += (sys.w)(e.id()) * x[j];
                }
            }
            let s = s.min(sys.cap);
            moved = moved.max((s - x[i]).abs() / s.abs().max(1.0));
            x[i] = s;
        }
        if moved < 1e-12 {
            return Some(x);
        }
    }
    // Still growing: treat as divergent where it has not settled below the cap.
    Some(
        x.into_iter()
            .map(|xi| if xi >= sys.cap { sys.cap } else { xi })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Effective shares of every node in `t`: v(o) = Σ w(o,z) (δ(z,t) + v(z)).
    fn effective(edges: &[(u32, u32, f64)], n: usize, t: u32) -> Vec<f64> {
        let mut g: Graph<(), f64> = Graph::new();
        for _ in 0..n {
            g.add_node(());
        }
        for &(a, b, w) in edges {
            g.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), w);
        }
        let t = NodeIndex::new(t as usize);
        let b = |o: NodeIndex| g.edges_connecting(o, t).map(|e| *e.weight()).sum();
        let w = |e: EdgeIndex| g[e];
        solve(
            &g,
            &System {
                deps: Direction::Outgoing,
                b: &b,
                w: &w,
                fixed: &|_| None,
                cap: f64::INFINITY,
            },
        )
    }

    #[test]
    fn a_chain_multiplies_and_parallel_paths_add() {
        // 0 -50-> 1 -50-> 2, and 0 -10-> 2 directly: 0.25 + 0.10.
        let v = effective(&[(0, 1, 0.5), (1, 2, 0.5), (0, 2, 0.1)], 3, 2);
        assert!((v[0] - 0.35).abs() < 1e-12);
        assert!((v[1] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_cross_holding_sums_over_all_walks() {
        // 0 holds 50% of 1; 1 and 2 hold 50% of each other; 2 holds 40% of target 3.
        // Walks 1 -> 2 -> 3 ... : 0.5*0.4 * (1 + 0.25 + 0.25^2 + ...) = 0.2 / 0.75.
        let v = effective(&[(0, 1, 0.5), (1, 2, 0.5), (2, 1, 0.5), (2, 3, 0.4)], 4, 3);
        assert!((v[1] - 0.2 / 0.75).abs() < 1e-12, "{v:?}");
        assert!((v[0] - 0.5 * 0.2 / 0.75).abs() < 1e-12);
        assert!((v[2] - 0.4 / 0.75).abs() < 1e-12);
    }

    #[test]
    fn a_link_without_weight_neither_joins_a_loop_nor_multiplies_its_infinity() {
        // 0 and 1 own each other wholly but hold nothing of the target 3; 2 and 0 are tied by
        // links of weight 0 (another interest); 2 holds 30% of the target.
        let v = effective(
            &[
                (0, 1, 1.0),
                (1, 0, 1.0),
                (2, 0, 0.0),
                (0, 2, 0.0),
                (2, 3, 0.3),
            ],
            4,
            3,
        );
        assert_eq!(v, vec![0.0, 0.0, 0.3, 0.0]);
        // Beside a loop that diverges, a weightless link carries nothing (0 × ∞ is not ∞).
        let v = effective(&[(0, 1, 1.0), (1, 0, 1.0), (1, 3, 0.3), (2, 0, 0.0)], 4, 3);
        assert!(v[0].is_infinite() && v[1].is_infinite());
        assert_eq!(v[2], 0.0);
    }

    #[test]
    fn a_finite_cap_is_passed_on_instead_of_the_uncapped_value() {
        // v(n) depends on owners. 0 is fixed at 1 and holds 25% of 1; 2 holds 100% of 1 and 1
        // holds 95% of 2. Uncapped, 1 = 0.25 + 2 and 2 = 0.95 · 1 have no bounded solution;
        // capped, 1 is saturated and 2 gets 95% of it.
        let mut g: Graph<(), f64> = Graph::new();
        for _ in 0..3 {
            g.add_node(());
        }
        for (a, b, w) in [(0, 1, 0.25), (2, 1, 1.0), (1, 2, 0.95)] {
            g.add_edge(NodeIndex::new(a), NodeIndex::new(b), w);
        }
        let w = |e: EdgeIndex| g[e];
        let fixed = |n: NodeIndex| (n.index() == 0).then_some(1.0);
        let v = solve(
            &g,
            &System {
                deps: Direction::Incoming,
                b: &|_| 0.0,
                w: &w,
                fixed: &fixed,
                cap: 1.0,
            },
        );
        assert_eq!(v[1], 1.0);
        assert!((v[2] - 0.95).abs() < 1e-12, "{v:?}");
    }

    #[test]
    fn a_hundred_percent_loop_terminates_and_saturates() {
        // 0 and 1 own each other wholly; 1 holds 30% of the target 2.
        let v = effective(&[(0, 1, 1.0), (1, 0, 1.0), (1, 2, 0.3)], 3, 2);
        assert!(v[0].is_infinite() && v[1].is_infinite());
        // With nothing flowing in, the same loop stays at zero.
        let v = effective(&[(0, 1, 1.0), (1, 0, 1.0)], 3, 2);
        assert_eq!(v, vec![0.0, 0.0, 0.0]);
    }
}
