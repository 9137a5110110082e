//! Screening one entity of a synthetic registry of a million, in memory: `Local::upstream`
//! (copy the entity's ancestors out of the shared snapshot) plus `engine::screen` under the
//! contract's example policy. No database and no HTTP; `benches/http.sh` measures those.
//!
//! `cargo bench --bench screening`. `OWNERGRAPH_BENCH_ENTITIES` (default 1,000,000) and
//! `OWNERGRAPH_BENCH_SEED` (default 1) choose the registry.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ownergraph::domain::{Basis, Decision, Rule};
use ownergraph::engine::{self, Local, NodeIx, Party, Snapshot};
use ownergraph::r#gen::{Config, Registry};

/// Targets per sample: enough to average over the shapes of many groups.
const SAMPLE: usize = 1_000;
/// At least this many links between a deep target and the top of its group.
const DEEP: u8 = 10;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The example policy of the contract's section 3.
fn policy() -> Vec<Rule> {
    serde_json::from_value(serde_json::json!([
        {"id": "ofac-50", "kind": "sanctions", "lists": ["*"], "threshold": 50, "inclusive": true,
         "aggregate": true, "interests": ["shares"], "control": "review", "review_threshold": 25},
        {"id": "unsupported-regions", "kind": "jurisdiction",
         "jurisdictions": ["CN", "HK", "MO", "RU", "IR", "KP", "CU", "SY"],
         "fields": ["jurisdiction", "headquarters"], "include_persons": false,
         "threshold": 50, "inclusive": false, "aggregate": true, "interests": ["shares"],
         "control": "review", "review_threshold": 25},
        {"id": "ubo", "kind": "beneficial_ownership", "threshold": 25, "inclusive": true}
    ]))
    .expect("the contract's example policy parses")
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).expect("a date")
}

fn screen(snap: &Snapshot, rules: &[Rule], target: NodeIx) -> engine::Outcome {
    let local = Local::upstream(snap, &Party::Known(target), &[], as_of());
    engine::screen(&local, rules)
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
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let n = registry.entities().len() as NodeIx;
    let random = (0..SAMPLE).map(|_| rng.gen_range(0..n)).collect();

    let mut deep: Vec<NodeIx> = (0..n)
        .filter(|&ix| registry.entities()[ix as usize].level >= DEEP)
        .collect();
    deep.shuffle(&mut rng);
    deep.truncate(SAMPLE);

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
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = screening
}
criterion_main!(benches);
