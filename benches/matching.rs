//! Latency of name screening: `Index::search` over 10k, 100k and 1M synthetic list names
//! (companies, persons, funds, trusts and state agencies of the registry generator), against a
//! naive scan that scores every name with Jaro-Winkler on the whole normalised string.
//!
//! `cargo bench --bench matching`. `OWNERGRAPH_BENCH_SEED` (default 1) chooses the registry;
//! `OWNERGRAPH_BENCH_SIZES` (default `10000,100000,1000000`) the index sizes.
//!
//! Queries are names drawn from the index, a quarter as given and the rest with one typo (a
//! letter dropped, doubled, replaced or two swapped).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ownergraph::domain::EntityKind;
use ownergraph::r#gen::{Config, Registry};
use ownergraph::matching::{Index, Query, REVIEW_THRESHOLD, Record};

const QUERIES: usize = 2_000;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {cpu}")
}

/// Resident set size in bytes, from /proc/self/statm.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn typo(rng: &mut ChaCha8Rng, name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.len() < 4 || rng.gen_bool(0.25) {
        return name.to_owned();
    }
    let at = letters[rng.gen_range(1..letters.len())];
    match rng.gen_range(0..4) {
        0 => {
            chars.remove(at);
        }
        1 => chars.insert(at, chars[at]),
        2 => chars[at] = char::from(b'a' + rng.gen_range(0..26u8)),
        _ => chars.swap(at - 1, at),
    }
    chars.into_iter().collect()
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort_unstable();
    let at = |p: usize| {
        v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    (at(50), at(99))
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn query<'a>(name: &'a str, kind: EntityKind) -> Query<'a> {
    Query {
        name: black_box(name),
        kind: Some(kind),
        countries: &[],
        identifiers: &[],
    }
}

fn normalised(name: &str) -> String {
    any_ascii::any_ascii(name).to_lowercase()
}

fn run(size: usize, seed: u64) {
    let registry = Registry::generate(&Config {
        entities: size,
        seed,
    });
    let entities = registry.entities();
    let persons = entities
        .iter()
        .filter(|e| e.kind == EntityKind::Person)
        .count();
    println!(
        "\n{size} list names: {persons} persons, {} organisations (synthetic registry, seed {seed})",
        size - persons
    );

    let before = rss();
    let start = Instant::now();
    let mut index: Index<i64> = Index::new();
    for (ix, e) in (0u32..).zip(entities) {
        let record = Record {
            names: vec![registry.name(ix).to_owned()],
            kind: Some(e.kind),
            countries: e.jurisdiction.into_iter().collect(),
            identifiers: Vec::new(),
        };
        index.upsert(i64::from(ix), record);
    }
    index.shrink_to_fit();
    let build = start.elapsed();
    let after = rss();
    println!(
        "  index build {:.2} s ({:.1} µs a name); memory: RSS +{:.0} MB, heap estimate {:.0} MB ({:.0} bytes a name)",
        build.as_secs_f64(),
        build.as_secs_f64() * 1e6 / size as f64,
        mb(after.saturating_sub(before)),
        mb(index.heap_bytes()),
        index.heap_bytes() as f64 / size as f64,
    );

    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let queries: Vec<(u32, String)> = (0..QUERIES)
        .map(|_| {
            let ix = rng.gen_range(0..size as u32);
            (ix, typo(&mut rng, registry.name(ix)))
        })
        .collect();

    let mut candidate_times = Vec::with_capacity(QUERIES);
    let mut candidates = 0;
    for (ix, name) in &queries {
        let t = Instant::now();
        candidates += index.candidate_count(&query(name, entities[*ix as usize].kind));
        candidate_times.push(t.elapsed());
    }
    let mut search_times = Vec::with_capacity(QUERIES);
    let (mut with_hit, mut found) = (0, 0);
    for (ix, name) in &queries {
        let t = Instant::now();
        let hits = index.search(
            &query(name, entities[*ix as usize].kind),
            10,
            REVIEW_THRESHOLD,
            |_| true,
        );
        search_times.push(t.elapsed());
        with_hit += usize::from(!hits.is_empty());
        // The drawn record, or one with the same name (the generator repeats names).
        let own = registry.name(*ix);
        found += usize::from(
            hits.iter()
                .any(|h| h.key == i64::from(*ix) || h.name == own),
        );
    }
    let (c50, c99) = percentiles(candidate_times);
    let (s50, s99) = percentiles(search_times);
    println!(
        "  candidate stage: p50 {} p99 {} ({:.0} names scored a query on average)",
        us(c50),
        us(c99),
        candidates as f64 / QUERIES as f64
    );
    println!(
        "  Index::search (limit 10, threshold {REVIEW_THRESHOLD}): p50 {} p99 {} over {QUERIES} queries; {:.1}% with a hit, {:.1}% find their name",
        us(s50),
        us(s99),
        100.0 * with_hit as f64 / QUERIES as f64,
        100.0 * found as f64 / QUERIES as f64,
    );

    let normal: Vec<String> = (0..size as u32)
        .map(|ix| normalised(registry.name(ix)))
        .collect();
    let scans = (2_000_000 / size).clamp(10, 500);
    let mut scan_times = Vec::with_capacity(scans);
    for (_, name) in queries.iter().take(scans) {
        let q = normalised(name);
        let t = Instant::now();
        let best = normal
            .iter()
            .map(|n| strsim::jaro_winkler(&q, n))
            .filter(|&s| s >= REVIEW_THRESHOLD)
            .count();
        black_box(best);
        scan_times.push(t.elapsed());
    }
    let (n50, n99) = percentiles(scan_times);
    println!(
        "  naive scan (Jaro-Winkler on every whole name): p50 {} p99 {} over {scans} queries",
        us(n50),
        us(n99)
    );
}

fn main() {
    let seed: u64 = env("OWNERGRAPH_BENCH_SEED", "1").parse().unwrap_or(1);
    println!("machine: {}", machine());
    for size in env("OWNERGRAPH_BENCH_SIZES", "10000,100000,1000000")
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse::<usize>().ok())
    {
        run(size, seed);
    }
}
