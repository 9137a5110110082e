//! What the benchmarks that compare the engine with SQL on Postgres share: the generated
//! registry in a database, the snapshot read from it as the service reads it, the SQL for the
//! links the rules count, and the description of the run (machine, Postgres settings, memory).
//!
//! Must not break: [`prepare`] reuses a database only when its last change is the bulk load of
//! the registry asked for, so both sides of a comparison always see that registry.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};

use ownergraph::db;
use ownergraph::engine::Snapshot;
use ownergraph::engine::graph::EXCLUSIVE_MARGIN;
use ownergraph::r#gen::{Config, Registry};

/// Where the registry lives unless `OWNERGRAPH_BENCH_DATABASE_URL` says otherwise.
pub const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/ogbench_registry";

/// A number from the environment (`1_000_000` allowed), or `default`.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The date every question is asked at.
pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).expect("a date")
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Connects, migrates, and makes sure the database holds the registry of this size and seed.
pub async fn prepare(url: &str, entities: usize, seed: u64) -> anyhow::Result<PgPool> {
    let pool = db::connect(url, 4)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    db::migrate(&pool).await?;
    // `db::bulk::load` records the generator's size and seed in its change-log row; the registry
    // is the one asked for when that row is the last change.
    let last: Option<(Option<i64>, Option<i64>, bool)> = sqlx::query_as(
        "SELECT (after->'generator'->>'entities')::bigint, (after->'generator'->>'seed')::bigint,
                version = (SELECT version FROM graph_state)
         FROM change_log WHERE action = 'bulk.load' ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(&pool)
    .await?;
    if last == Some((Some(entities as i64), Some(seed as i64), true)) {
        println!(
            "dataset: reusing the registry of {entities} entities (seed {seed}) already loaded"
        );
        return Ok(pool);
    }
    let started = Instant::now();
    let registry = Registry::generate(&Config { entities, seed });
    let generated = started.elapsed();
    let started = Instant::now();
    let loaded = db::bulk::load(&pool, &registry, seed, true).await?;
    println!(
        "dataset: generated {entities} entities (seed {seed}) in {:.0} ms; loaded with COPY in {:.1} s \
         ({} ownerships, {} list entries)",
        ms(generated),
        started.elapsed().as_secs_f64(),
        loaded.ownerships,
        loaded.list_entries
    );
    Ok(pool)
}

/// The graph, read as the service reads it at start-up. The list-entry name changes it also
/// produces are drained and dropped.
pub async fn load_snapshot(pool: &PgPool) -> anyhow::Result<Snapshot> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let snap = db::load::snapshot(pool, tx).await?;
    drain.await?;
    Ok(snap)
}

/// The Postgres version and the settings that matter to these queries (all left at their
/// defaults).
pub async fn settings(conn: &mut PgConnection) -> anyhow::Result<String> {
    let (version, rest): (String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'),
                concat_ws(', ', 'shared_buffers ' || current_setting('shared_buffers'),
                          'work_mem ' || current_setting('work_mem'),
                          'effective_cache_size ' || current_setting('effective_cache_size'),
                          'max_parallel_workers_per_gather ' || current_setting('max_parallel_workers_per_gather'),
                          'jit ' || current_setting('jit'))",
    )
    .fetch_one(conn)
    .await?;
    Ok(format!("{version}, defaults, nothing tuned ({rest})"))
}

/// The ownerships `o` live and valid at the date `d` (an SQL expression): `valid_from`
/// inclusive, `valid_to` exclusive.
pub fn live(d: &str) -> String {
    format!(
        "o.deleted_at IS NULL
         AND (o.valid_from IS NULL OR o.valid_from <= {d})
         AND (o.valid_to IS NULL OR {d} < o.valid_to)"
    )
}

/// The links the rules count at the date `d`: live `shares`.
pub fn link(d: &str) -> String {
    format!("{} AND o.interest = 'shares'", live(d))
}

/// The known minimum of a link's share, as the engine reads it (`EdgeData::stated`): an
/// exclusive lower bound ("more than 25%") counts `EXCLUSIVE_MARGIN` above it.
pub fn min_share() -> String {
    format!(
        "(coalesce(o.share, o.share_min) + CASE WHEN o.share_min_exclusive THEN {EXCLUSIVE_MARGIN:e} ELSE 0 END)"
    )
}

/// CPU model, cores and memory, from /proc.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map_or("?".into(), |m| m.trim().to_owned());
    format!("{model}, {cores} cores, MemTotal {mem}")
}

/// A field of /proc/self/status, e.g. `VmHWM`.
pub fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map_or("?".into(), |v| v.trim().to_owned())
}
