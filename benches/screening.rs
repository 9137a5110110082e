//! Screening one entity of a synthetic registry of a million, in memory: `Local::upstream`
//! (copy the entity's ancestors out of the shared snapshot) plus `engine::screen` under the
//! contract's example policy. No database and no HTTP; `benches/http.sh` measures those.
//! Then the same on the bottom of a joint-venture lattice 20 levels deep (`Registry::lattice`).
//!
//! `cargo bench --bench screening`. `OWNERGRAPH_BENCH_ENTITIES` (default 1,000,000) and
//! `OWNERGRAPH_BENCH_SEED` (default 1) choose the registry.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use ownergraph::domain::{Basis, Decision, EntityKind, Interest, Rule};
use ownergraph::engine::{self, Local, NodeIx, Party, Snapshot};
use ownergraph::r#gen::{Config, Entity, MAX_LEVEL, Registry, SAMPLE, SAMPLE_SEED};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The example policy of the contract.
fn policy() -> Vec<Rule> {
    ownergraph::domain::PolicySpec::contract_example().rules
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).expect("a date")
}

fn screen(snap: &Snapshot, rules: &[Rule], target: NodeIx) -> engine::Outcome {
    let local = Local::upstream(snap, &Party::Known(target), &[], as_of());
    engine::screen(&local, rules)
}

/// The shape of the registry, beyond its size: what docs/benchmarks.md reports.
fn describe_dataset(registry: &Registry) {
    let entities = registry.entities();
    let count = |f: &dyn Fn(&Entity) -> bool| entities.iter().filter(|e| f(e)).count();
    let kinds: Vec<String> = EntityKind::ALL
        .iter()
        .map(|&k| format!("{} {}", k.as_str(), count(&|e| e.kind == k)))
        .collect();
    println!("  kinds: {}", kinds.join(", "));

    let mut sizes = vec![0usize; entities.len()];
    for g in entities.iter().filter_map(|e| e.group) {
        sizes[g as usize] += 1;
    }
    sizes.retain(|&s| s > 0);
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let at_least = |n: usize| sizes.iter().filter(|&&s| s >= n).count();
    println!(
        "  groups: {}, {} of them single companies; {} with 2+ companies, {} with 10+, {} with 100+, {} with 1,000+; largest {:?}",
        sizes.len(),
        sizes.len() - at_least(2),
        at_least(2),
        at_least(10),
        at_least(100),
        at_least(1_000),
        &sizes[..sizes.len().min(5)],
    );
    let levels: Vec<String> = (0..=MAX_LEVEL)
        .map(|l| format!("{l}: {}", count(&|e| e.level == l)))
        .collect();
    println!(
        "  entities by links below their top owner: {}",
        levels.join(", ")
    );

    let links = registry.links();
    let of = |i: Interest| links.iter().filter(|l| l.interest == i).count();
    let whole = links
        .iter()
        .filter(|l| l.interest == Interest::Shares && l.min == 10_000)
        .count();
    println!(
        "  links: shares {} ({whole} of them 100%), votes {}, board {}, control {}, consolidation {}; {} share ranges, {} with a start date, {} ended",
        of(Interest::Shares),
        of(Interest::Votes),
        of(Interest::Board),
        of(Interest::Control),
        of(Interest::Consolidation),
        links.iter().filter(|l| l.min != l.max).count(),
        links.iter().filter(|l| l.valid_from.is_some()).count(),
        links.iter().filter(|l| l.valid_to.is_some()).count(),
    );

    let mut g = DiGraph::<(), ()>::with_capacity(entities.len(), links.len());
    for _ in 0..entities.len() {
        g.add_node(());
    }
    for l in links.iter().filter(|l| l.interest == Interest::Shares) {
        g.add_edge(
            NodeIndex::new(l.owner as usize),
            NodeIndex::new(l.owned as usize),
            (),
        );
    }
    let cycles = tarjan_scc(&g).iter().filter(|c| c.len() > 1).count();
    println!(
        "  cross-holdings: {cycles} cycles; {} list entries",
        registry.listings().len()
    );
}

/// Every entity once, one after the other, as a re-screening job after a policy change would.
fn rescreen(registry: &Registry, snap: &Snapshot, rules: &[Rule]) {
    let n = registry.entities().len();
    let started = Instant::now();
    let mut decisions = [0usize; 3];
    for ix in 0..n as NodeIx {
        let i = match screen(snap, rules, ix).decision {
            Decision::Clear => 0,
            Decision::Review => 1,
            Decision::Block => 2,
        };
        decisions[i] += 1;
    }
    let took = started.elapsed();
    let pct = |k: usize| 100.0 * decisions[k] as f64 / n.max(1) as f64;
    println!(
        "rescreen: all {n} entities in {:.2} s, {:.2} µs each: {:.1}% clear, {:.1}% review, {:.1}% block",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n.max(1) as f64,
        pct(0),
        pct(1),
        pct(2),
    );
}

struct Sample {
    name: &'static str,
    targets: Vec<NodeIx>,
}

/// Prints how many ancestors the targets of a sample have: what a screening walks.
fn describe(snap: &Snapshot, s: &Sample) {
    let sizes: Vec<usize> = s
        .targets
        .iter()
        .map(|&t| {
            Local::upstream(snap, &Party::Known(t), &[], as_of())
                .graph
                .node_count()
        })
        .collect();
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64;
    let max = sizes.iter().max().copied().unwrap_or(0);
    println!(
        "sample {:>7}: {} targets, {mean:.1} entities upstream on average (the target included), at most {max}",
        s.name,
        s.targets.len()
    );
}

fn samples(registry: &Registry, snap: &Snapshot, rules: &[Rule]) -> Vec<Sample> {
    let mut rng = ChaCha8Rng::seed_from_u64(SAMPLE_SEED);
    let n = registry.entities().len() as NodeIx;
    let (random, deep) = registry.samples(&mut rng);

    // The tail: the entities with the most ancestors (joint ventures of joint ventures,
    // cross-holdings), which set the worst case.
    let mut widest: Vec<(usize, NodeIx)> = (0..n)
        .map(|ix| {
            let local = Local::upstream(snap, &Party::Known(ix), &[], as_of());
            (local.graph.node_count(), ix)
        })
        .collect();
    widest.sort_unstable_by(|a, b| b.cmp(a));
    let widest = widest.into_iter().take(SAMPLE).map(|(_, ix)| ix).collect();

    // Entities blocked through their owners, not listed themselves: the answers that need
    // tainted sets and strongest paths. Screened in a random order until enough are found.
    let mut order: Vec<NodeIx> = (0..n).collect();
    order.shuffle(&mut rng);
    let blocked = order
        .into_iter()
        .take(400_000)
        .filter(|&ix| {
            let o = screen(snap, rules, ix);
            o.decision == Decision::Block && o.reasons.iter().any(|r| r.basis == Basis::Owned)
        })
        .take(SAMPLE / 5)
        .collect();

    vec![
        Sample {
            name: "random",
            targets: random,
        },
        Sample {
            name: "deep",
            targets: deep,
        },
        Sample {
            name: "blocked",
            targets: blocked,
        },
        Sample {
            name: "widest",
            targets: widest,
        },
    ]
}

fn screening(c: &mut Criterion) {
    let entities = env("OWNERGRAPH_BENCH_ENTITIES", 1_000_000) as usize;
    let seed = env("OWNERGRAPH_BENCH_SEED", 1);
    let started = Instant::now();
    let registry = Registry::generate(&Config { entities, seed });
    let generated = started.elapsed();
    let started = Instant::now();
    let snap = registry.snapshot();
    let built = started.elapsed();
    println!(
        "dataset: {} entities, {} links, {} listed at {} (seed {seed}); generated in {} ms, graph built in {} ms",
        registry.entities().len(),
        registry.links().len(),
        registry.listed_at(as_of()),
        as_of(),
        generated.as_millis(),
        built.as_millis(),
    );
    let rules = policy();
    describe_dataset(&registry);
    rescreen(&registry, &snap, &rules);
    let samples = samples(&registry, &snap, &rules);
    for s in &samples {
        describe(&snap, s);
    }

    let mut group = c.benchmark_group("screen");
    for s in &samples {
        if s.targets.is_empty() {
            continue;
        }
        group.bench_function(s.name, |b| {
            let mut i = 0;
            b.iter(|| {
                let t = s.targets[i % s.targets.len()];
                i += 1;
                black_box(screen(&snap, &rules, t))
            })
        });
    }
    group.finish();

    // The first half of a screening alone: copying the ancestors out of the snapshot.
    let mut group = c.benchmark_group("upstream");
    for s in samples.iter().filter(|s| !s.targets.is_empty()) {
        group.bench_function(s.name, |b| {
            let mut i = 0;
            b.iter(|| {
                let t = s.targets[i % s.targets.len()];
                i += 1;
                black_box(Local::upstream(&snap, &Party::Known(t), &[], as_of()).target)
            })
        });
    }
    group.finish();

    // The bottom of a joint-venture lattice 2 wide and 20 deep, 2^21 simple paths below its
    // two owners: blocked through the listed one and explained with paths, none of them
    // enumerated. `benches/cte.rs` times the same against Postgres.
    let lattice = Registry::lattice(20);
    let snap = lattice.snapshot();
    let bottom = lattice.entities().len() as NodeIx - 1;
    let mut group = c.benchmark_group("lattice");
    group.bench_function("screen", |b| {
        b.iter(|| black_box(screen(&snap, &rules, bottom)))
    });
    group.bench_function("upstream", |b| {
        b.iter(|| black_box(Local::upstream(&snap, &Party::Known(bottom), &[], as_of()).target))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = screening
}
criterion_main!(benches);
