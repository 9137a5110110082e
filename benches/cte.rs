//! One screening in the engine against the recursive CTE a team would write in Postgres
//! instead, in one process, on one dataset:
//!
//! - `registry`: the 1,000 random and 1,000 deep targets of `benches/screening.rs`
//!   (`Registry::samples`) in the generated registry. The engine's side is a whole screening,
//!   `Local::upstream` plus `engine::screen` under the contract's example policy; the SQL side
//!   only fetches the same ancestors with their links, by the recursive CTE of section (e) of
//!   docs/benchmarks.md, prepared, on one connection. The ratio flatters SQL.
//! - `lattice`: the bottom company of a joint-venture lattice 2 wide and 20 deep
//!   (`Registry::lattice`), 2^21 simple paths below its two owners, one of them listed. The
//!   engine screens it and explains the block with paths; Postgres computes the effective
//!   shares the obvious way, multiplying shares along every path and adding them up per
//!   ancestor, bounded by a statement timeout, and fetches the ancestor set as above.
//!
//! `cargo bench --bench cte` runs both; `cargo bench --bench cte -- registry` (or `lattice`)
//! one. `OWNERGRAPH_BENCH_ENTITIES`, `OWNERGRAPH_BENCH_SEED` and `OWNERGRAPH_BENCH_DATABASE_URL`
//! choose the registry and its database as for `benches/rescreen.rs`;
//! `OWNERGRAPH_BENCH_LATTICE_DEPTH` (default 20) the lattice, and
//! `OWNERGRAPH_BENCH_LATTICE_DATABASE_URL` (default `.../ogbench_lattice`, whose name must
//! start with `ogbench_`) the database it is loaded into, dropped and created afresh each run.
//!
//! Must not break: both sides fetch the same ancestors. The run fails unless, for every target,
//! the CTE's ancestor set and number of links equal those `Local::upstream` copies, and, on the
//! lattice, unless the effective shares of the path CTE equal the engine's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sqlx::migrate::MigrateDatabase;
use sqlx::{Connection, PgConnection, Postgres};
use tokio::runtime::Runtime;

use ownergraph::db;
use ownergraph::domain::{Basis, Decision, PolicySpec, Rule};
use ownergraph::engine::sweep::explain;
use ownergraph::engine::{Local, NodeIx, Party, Snapshot, holdings, paths};
use ownergraph::r#gen::{Config, Registry, SAMPLE_SEED, entity_id};

mod common;
use common::{
    as_of, env, link, live, load_snapshot, machine, min_share, ms, prepare, settings, status,
};

/// Passes over a sample timed in the engine, and with the CTE.
const ENGINE_ROUNDS: usize = 50;
const SQL_ROUNDS: usize = 5;
/// Screenings of the lattice timed in the engine, and fetches of its ancestors.
const LATTICE_ENGINE_RUNS: usize = 20_000;
const LATTICE_SQL_RUNS: usize = 1_000;
/// Runs of the path-enumerating CTE, each bounded by [`PATHS_TIMEOUT`].
const PATHS_RUNS: usize = 3;
const PATHS_TIMEOUT: &str = "60s";

fn main() -> anyhow::Result<()> {
    // Like criterion, any argument not starting with `-` selects the parts whose name holds it.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |part: &str| only.is_empty() || only.iter().any(|o| part.contains(o.as_str()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // sqlx returns connections to the pool on a task, wherever they are dropped.
    let _rt = rt.enter();
    println!("machine: {}", machine());
    if runs("registry") {
        registry(&rt)?;
    }
    if runs("lattice") {
        lattice(&rt)?;
    }
    println!("\npeak RSS (VmHWM): {}", status("VmHWM"));
    Ok(())
}

/// An entity screened: its index in the snapshot and its primary key in the store.
#[derive(Clone, Copy)]
struct Target {
    ix: NodeIx,
    key: i64,
}

fn target(snap: &Snapshot, id: &str) -> anyhow::Result<Target> {
    let ix = snap
        .lookup(id)
        .with_context(|| format!("{id} is not in the snapshot"))?;
    let key = snap.node(ix).context("a live node")?.key;
    Ok(Target { ix, key })
}

/// Mean, median and 99th percentile of a set of timings.
struct Stats {
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

impl Stats {
    fn of(mut v: Vec<Duration>) -> Stats {
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Stats {
            mean: v.iter().sum::<Duration>() / v.len() as u32,
            p50: at(0.5),
            p99: at(0.99),
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mean {}, p50 {}, p99 {}",
            human(self.mean),
            human(self.p50),
            human(self.p99)
        )
    }
}

/// A duration in the unit that suits it.
fn human(d: Duration) -> String {
    match d.as_secs_f64() {
        s if s < 1e-3 => format!("{:.2} µs", s * 1e6),
        s if s < 1.0 => format!("{:.3} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

/// The ancestors of `$1` at `$2` with what a screening reads of them, as `Local::upstream`
/// copies them: each ancestor (the target included) with its kind and places, once per link
/// into it that holds at the date and is not a consolidation link (and once with no link if it
/// has none). `UNION` keeps cycles finite. The recursive part is the CTE of section (e).
fn ancestors_sql() -> String {
    let counted = format!("{} AND o.interest <> 'consolidation'", live("$2"));
    format!(
        "WITH RECURSIVE up(pk) AS (
             SELECT $1::bigint
           UNION
             SELECT o.owner_pk FROM ownerships o JOIN up ON o.owned_pk = up.pk
             WHERE {counted}
         )
         SELECT e.pk, e.id, e.kind, e.jurisdiction, e.headquarters,
                o.owner_pk, o.interest, coalesce(o.share, o.share_min), coalesce(o.share, o.share_max)
         FROM up
         JOIN entities e ON e.pk = up.pk
         LEFT JOIN ownerships o ON o.owned_pk = up.pk AND {counted}"
    )
}

type AncestorRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<f64>,
    Option<f64>,
);

async fn ancestors(
    conn: &mut PgConnection,
    sql: &str,
    key: i64,
) -> Result<Vec<AncestorRow>, sqlx::Error> {
    sqlx::query_as(sql)
        .bind(key)
        .bind(as_of())
        .fetch_all(conn)
        .await
}

/// Fails unless, for every target, the CTE returns the ancestors `Local::upstream` copies and
/// as many links. Returns how many ancestors each has, the target included.
async fn check(
    conn: &mut PgConnection,
    sql: &str,
    snap: &Snapshot,
    targets: &[Target],
) -> anyhow::Result<Vec<usize>> {
    let mut sizes = Vec::with_capacity(targets.len());
    for t in targets {
        let local = Local::upstream(snap, &Party::Known(t.ix), &[], as_of());
        let engine: BTreeSet<i64> = local.graph.node_weights().map(|n| n.data.key).collect();
        let rows = ancestors(conn, sql, t.key).await?;
        let cte: BTreeSet<i64> = rows.iter().map(|r| r.0).collect();
        let links = rows.iter().filter(|r| r.5.is_some()).count();
        if engine != cte || links != local.graph.edge_count() {
            bail!(
                "entity pk {}: the engine copies {} ancestors and {} links, the CTE returns {} and \
                 {links}; only in the engine's: {:?}; only in the CTE's: {:?}",
                t.key,
                engine.len(),
                local.graph.edge_count(),
                cte.len(),
                engine.difference(&cte).collect::<Vec<_>>(),
                cte.difference(&engine).collect::<Vec<_>>()
            );
        }
        sizes.push(engine.len());
    }
    Ok(sizes)
}

/// One screening of each target, `rounds` times over, each timed alone.
fn time_engine(snap: &Snapshot, rules: &[Rule], targets: &[Target], rounds: usize) -> Stats {
    let mut times = Vec::with_capacity(targets.len() * rounds);
    for _ in 0..rounds {
        for t in targets {
            let started = Instant::now();
            drop(black_box(explain(snap, rules, as_of(), t.ix)));
            times.push(started.elapsed());
        }
    }
    Stats::of(times)
}

/// The CTE for each target, `rounds` times over, each timed alone from Rust (round trip and
/// decoding included).
fn time_cte(
    rt: &Runtime,
    conn: &mut PgConnection,
    sql: &str,
    targets: &[Target],
    rounds: usize,
) -> anyhow::Result<Stats> {
    let mut times = Vec::with_capacity(targets.len() * rounds);
    for _ in 0..rounds {
        for t in targets {
            let started = Instant::now();
            let rows = rt.block_on(ancestors(conn, sql, t.key))?;
            times.push(started.elapsed());
            drop(black_box(rows));
        }
    }
    Ok(Stats::of(times))
}

fn registry(rt: &Runtime) -> anyhow::Result<()> {
    let entities = env("OWNERGRAPH_BENCH_ENTITIES", 1_000_000) as usize;
    let seed = env("OWNERGRAPH_BENCH_SEED", 1);
    let url = std::env::var("OWNERGRAPH_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| common::DATABASE_URL.into());
    println!("\nregistry: one screening against the recursive CTE of its ancestors");
    let pool = rt.block_on(prepare(&url, entities, seed))?;
    // The samples need each entity's depth, which the store does not keep: the same size and
    // seed generate the same registry again.
    let (random, deep) = Registry::generate(&Config { entities, seed })
        .samples(&mut ChaCha8Rng::seed_from_u64(SAMPLE_SEED));
    let started = Instant::now();
    let snap = rt.block_on(load_snapshot(&pool))?;
    println!(
        "snapshot: loaded from Postgres in {:.0} ms ({} entities, {} links)",
        ms(started.elapsed()),
        snap.entity_count(),
        snap.link_count()
    );
    let rules = PolicySpec::contract_example().rules;
    let mut conn = rt.block_on(pool.acquire())?;
    println!("SQL: PostgreSQL {}", rt.block_on(settings(&mut conn))?);
    let sql = ancestors_sql();

    let mut table = Vec::new();
    for (name, sample) in [("random", random), ("deep", deep)] {
        if sample.is_empty() {
            continue;
        }
        let targets = sample
            .iter()
            .map(|&ix| target(&snap, &entity_id(ix)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // Also the warm-up of both sides: every target's ancestors once, and their pages.
        let sizes = rt.block_on(check(&mut conn, &sql, &snap, &targets))?;
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        let max = sizes.iter().max().copied().unwrap_or(0);
        println!(
            "sample {name}: {} targets, {mean:.1} ancestors on average (the target included), at \
             most {max}; the CTE's sets and links agree with the engine's for every target",
            targets.len()
        );
        let engine = time_engine(&snap, &rules, &targets, ENGINE_ROUNDS);
        println!(
            "  engine, Local::upstream + engine::screen, {} screenings: {engine}",
            targets.len() * ENGINE_ROUNDS
        );
        let cte = time_cte(rt, &mut conn, &sql, &targets, SQL_ROUNDS)?;
        println!(
            "  SQL, prepared recursive CTE, {} queries:              {cte}",
            targets.len() * SQL_ROUNDS
        );
        println!(
            "  CTE / engine: {:.0}× on the mean, {:.0}× on the median",
            cte.mean.as_secs_f64() / engine.mean.as_secs_f64(),
            cte.p50.as_secs_f64() / engine.p50.as_secs_f64()
        );
        table.push((name, mean, max, engine, cte));
    }

    println!(
        "\nsummary ({} entities, seed {seed}, at {})",
        snap.entity_count(),
        as_of()
    );
    println!(
        "  | sample | ancestors (mean / max) | engine: mean, p50, p99 | CTE: mean, p50, p99 | CTE / engine (mean, p50) |"
    );
    println!("  |---|---|---|---|---|");
    for (name, mean, max, e, c) in &table {
        println!(
            "  | {name} | {mean:.1} / {max} | {}, {}, {} | {}, {}, {} | {:.0}×, {:.0}× |",
            human(e.mean),
            human(e.p50),
            human(e.p99),
            human(c.mean),
            human(c.p50),
            human(c.p99),
            c.mean.as_secs_f64() / e.mean.as_secs_f64(),
            c.p50.as_secs_f64() / e.p50.as_secs_f64()
        );
    }
    Ok(())
}

/// Effective shares the obvious way: every simple path from the target up (`UNION ALL`, the
/// path so far in an array to stop at cycles), the shares at their known minimum multiplied
/// along it, added up per ancestor. Returns (ancestor pk, effective share in percent, paths).
fn paths_sql() -> String {
    format!(
        "WITH RECURSIVE p(pk, share, path) AS (
             SELECT $1::bigint, 1::float8, ARRAY[$1::bigint]
           UNION ALL
             SELECT o.owner_pk, p.share * {} / 100, p.path || o.owner_pk
             FROM p JOIN ownerships o ON o.owned_pk = p.pk
             WHERE {} AND o.owner_pk <> ALL (p.path)
         )
         SELECT pk, 100 * sum(share), count(*) FROM p WHERE pk <> $1 GROUP BY pk",
        min_share(),
        link("$2")
    )
}

/// What a run of [`paths_sql`] gave: its time, or that it was cancelled at the timeout.
enum PathsRun {
    Done(Duration, Vec<(i64, f64, i64)>),
    TimedOut(Duration),
}

async fn paths_run(conn: &mut PgConnection, key: i64) -> anyhow::Result<PathsRun> {
    let mut tx = conn.begin().await?;
    sqlx::query(&format!("SET LOCAL statement_timeout = '{PATHS_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    let started = Instant::now();
    let result = sqlx::query_as(&paths_sql())
        .bind(key)
        .bind(as_of())
        .fetch_all(&mut *tx)
        .await;
    let took = started.elapsed();
    match result {
        Ok(rows) => {
            tx.rollback().await?;
            Ok(PathsRun::Done(took, rows))
        }
        // 57014: query_canceled, which is how statement_timeout ends a statement.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("57014") => {
            tx.rollback().await?;
            Ok(PathsRun::TimedOut(took))
        }
        Err(e) => Err(e.into()),
    }
}

fn lattice(rt: &Runtime) -> anyhow::Result<()> {
    let depth = u8::try_from(env("OWNERGRAPH_BENCH_LATTICE_DEPTH", 20))
        .ok()
        .filter(|d| (1..=60).contains(d))
        .context("OWNERGRAPH_BENCH_LATTICE_DEPTH: 1 to 60")?;
    let url = std::env::var("OWNERGRAPH_BENCH_LATTICE_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/ogbench_lattice".into());
    let name = url.rsplit('/').next().unwrap_or_default();
    ensure!(
        name.starts_with("ogbench_"),
        "{url}: the lattice database is dropped on every run, so its name must start with ogbench_"
    );
    let lattice = Registry::lattice(depth);
    let simple_paths = 1u64 << (depth + 1);
    println!(
        "\nlattice: 2 wide, {depth} deep: {} entities, {} links, {simple_paths} simple paths from \
         the two top owners to the bottom company",
        lattice.entities().len(),
        lattice.links().len()
    );

    let started = Instant::now();
    rt.block_on(Postgres::drop_database(&url))?;
    let pool = rt.block_on(db::connect(&url, 4))?;
    rt.block_on(db::migrate(&pool))?;
    // The lattice has no seed; its change-log row records 0.
    rt.block_on(db::bulk::load(&pool, &lattice, 0, false))?;
    let snap = rt.block_on(load_snapshot(&pool))?;
    println!(
        "database {name}: created, migrated, loaded with COPY and read back as a snapshot in {:.0} ms",
        ms(started.elapsed())
    );
    let n = lattice.entities().len() as u32;
    let bottom = target(&snap, &entity_id(n - 1))?;
    let tops = [
        target(&snap, &entity_id(0))?.key,
        target(&snap, &entity_id(1))?.key,
    ];
    let listed = entity_id(0);

    // The answer, checked before it is timed.
    let rules = PolicySpec::contract_example().rules;
    let outcome = explain(&snap, &rules, as_of(), bottom.ix);
    let ofac = outcome
        .reasons
        .iter()
        .find(|r| r.rule == "ofac-50")
        .context("an ofac-50 reason")?;
    let effective: Vec<(&str, f64)> = outcome
        .ubo
        .iter()
        .map(|u| (u.entity.as_str(), u.effective_share))
        .collect();
    ensure!(
        outcome.decision == Decision::Block
            && ofac.basis == Basis::Owned
            && ofac.share == Some(100.0)
            && ofac.sources == [listed.clone()],
        "the bottom company should be blocked as owned by {listed}: {ofac:?}"
    );
    ensure!(
        ofac.paths.len() == paths::MAX_PATHS
            && ofac.paths.iter().all(|p| p.len() == usize::from(depth) + 1
                && p[0].owner == listed
                && p.iter().all(|s| s.share == Some(50.0))),
        "the block should be explained by {} paths of {} links of 50% from {listed}: {:?}",
        paths::MAX_PATHS,
        depth + 1,
        ofac.paths
    );
    ensure!(
        effective.contains(&(listed.as_str(), 50.0)),
        "{listed} should hold exactly 50% of the bottom company: {effective:?}"
    );
    println!(
        "engine's answer: {:?}; {}: {:?}, \"{}\", {} paths of {} links of 50% from {listed}; \
         effective shares (UBO): {effective:?}",
        outcome.decision,
        ofac.rule,
        ofac.basis,
        ofac.message,
        ofac.paths.len(),
        ofac.paths[0].len()
    );

    let engine = time_engine(&snap, &rules, &[bottom], LATTICE_ENGINE_RUNS);
    println!(
        "  engine, Local::upstream + engine::screen with its explanation, {LATTICE_ENGINE_RUNS} screenings: {engine}"
    );

    let mut conn = rt.block_on(pool.acquire())?;
    println!("SQL: PostgreSQL {}", rt.block_on(settings(&mut conn))?);
    let sql = ancestors_sql();
    rt.block_on(check(&mut conn, &sql, &snap, &[bottom]))?;
    let set = time_cte(rt, &mut conn, &sql, &[bottom], LATTICE_SQL_RUNS)?;
    println!(
        "  SQL, ancestor set (UNION, no paths), prepared, {LATTICE_SQL_RUNS} queries: {set}; agrees \
         with the engine's"
    );

    // What the engine says each ancestor holds, to check the paths' sums against.
    let local = Local::upstream(&snap, &Party::Known(bottom.ix), &[], as_of());
    let owners: BTreeMap<String, f64> = holdings::owners(&local)
        .into_iter()
        .map(|h| (h.entity, h.effective_share))
        .collect();
    let mut times = Vec::new();
    let mut timed_out = None;
    for run in 1..=PATHS_RUNS {
        match rt.block_on(paths_run(&mut conn, bottom.key))? {
            PathsRun::Done(took, rows) => {
                let enumerated: i64 = rows.iter().map(|r| r.2).sum();
                let from_top: i64 = rows
                    .iter()
                    .filter(|r| tops.contains(&r.0))
                    .map(|r| r.2)
                    .sum();
                ensure!(
                    from_top as u64 == simple_paths,
                    "the path CTE enumerated {from_top} paths from the top owners, not {simple_paths}"
                );
                println!(
                    "  SQL, paths (UNION ALL, shares multiplied along each path, summed per \
                     ancestor), run {run}: {} ({enumerated} paths enumerated, {from_top} of them \
                     from the top owners)",
                    human(took)
                );
                cross_check_paths(&snap, &owners, &rows)?;
                times.push(took);
            }
            PathsRun::TimedOut(took) => {
                println!(
                    "  SQL, paths, run {run}: cancelled by statement_timeout {PATHS_TIMEOUT} after {}",
                    human(took)
                );
                timed_out = Some(took);
                break;
            }
        }
    }

    println!(
        "\nsummary (lattice 2 × {depth}, {simple_paths} simple paths, at {})",
        as_of()
    );
    println!("  | what | time |");
    println!("  |---|---|");
    println!(
        "  | engine: screening and explanation (Local::upstream + engine::screen) | {engine} |"
    );
    println!("  | SQL: ancestor set, recursive CTE with UNION | {set} |");
    let paths = match (timed_out, times.is_empty()) {
        (Some(t), true) => format!("cancelled at the {PATHS_TIMEOUT} timeout ({})", human(t)),
        _ => {
            let runs: Vec<String> = times.iter().map(|&t| human(t)).collect();
            format!("{} ({} runs)", runs.join(", "), times.len())
        }
    };
    println!("  | SQL: effective shares, recursive CTE over every path | {paths} |");
    if let Some(&fastest) = times.iter().min() {
        println!(
            "  fastest run of the paths CTE / the engine's mean: {:.0}×",
            fastest.as_secs_f64() / engine.mean.as_secs_f64()
        );
    }
    Ok(())
}

/// Fails unless the path CTE's effective share of every ancestor equals the engine's.
fn cross_check_paths(
    snap: &Snapshot,
    engine: &BTreeMap<String, f64>,
    rows: &[(i64, f64, i64)],
) -> anyhow::Result<()> {
    let by_key: BTreeMap<i64, &str> = (0..snap.node_bound() as NodeIx)
        .filter_map(|ix| snap.node(ix).map(|n| (n.key, &*n.id)))
        .collect();
    let sql: BTreeMap<String, f64> = rows
        .iter()
        .map(|&(pk, share, _)| (by_key.get(&pk).copied().unwrap_or("?").to_owned(), share))
        .collect();
    let agree = sql.len() == engine.len()
        && sql
            .iter()
            .all(|(id, s)| engine.get(id).is_some_and(|e| (e - s).abs() < 1e-6));
    ensure!(
        agree,
        "the path CTE's effective shares differ from the engine's:\n  SQL {sql:?}\n  engine {engine:?}"
    );
    Ok(())
}
