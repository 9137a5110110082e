//! Re-screening jobs: choose the entities, run the whole-graph pass on one snapshot, explain
//! what it flags, and store a result for every entity in committed chunks.
//!
//! The pass ([`engine::sweep`]) decides for the whole graph at once; only the entities it
//! flags (and those below a declaration of unknown owners) are explained one by one, on both
//! cores, with the code a screening runs. Each chunk of results commits with the job's
//! progress, so `done` always counts stored results.
//!
//! Must not break: every result of a job comes from the one snapshot and policy it records.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use rayon::prelude::*;
use sqlx::PgPool;

use crate::db::jobs::Stored;
use crate::db::{self, DbError};
use crate::domain::{Decision, JobResult, Policy, Rule, RuleKind, Scope};
use crate::engine::sweep::{self, Sweep};
use crate::engine::{GraphChange, NodeIx, Snapshot};

/// Results stored per transaction.
pub const CHUNK: usize = 10_000;

/// How a run ended, when it did not fail.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Succeeded,
    /// Someone cancelled the job; what was stored before stays.
    Cancelled,
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("writing the results failed: {0}")]
    Sink(std::io::Error),
    #[error("the whole-graph pass failed: {0}")]
    Pass(String),
}

/// Where a run's results go besides the store, chunk by chunk (the CLI writes a file).
pub type Sink<'a> = &'a mut (dyn FnMut(&[JobResult]) -> std::io::Result<()> + Send);

/// Runs a claimed job on `snap` under `policy` to the end. `progress` hears (done, total)
/// after every chunk.
pub async fn run(
    db: &PgPool,
    snap: Arc<Snapshot>,
    policy: Arc<Policy>,
    stored: &Stored,
    mut progress: impl FnMut(u64, u64),
    mut sink: Option<Sink<'_>>,
) -> Result<Ended, RunError> {
    let job = &stored.job;
    let as_of = job.as_of.unwrap_or_else(crate::domain::today);
    let started = Instant::now();
    let (targets, mut notes) = match (job.scope, job.since_version) {
        (Scope::Affected, Some(since)) => affected(db, &snap, since, as_of).await?,
        _ => (live(&snap), Vec::new()),
    };
    let skipped: Vec<&str> = policy
        .rules
        .iter()
        .filter(|r| r.kind() == RuleKind::NameMatch)
        .map(|r| r.id().as_str())
        .collect();
    if !skipped.is_empty() {
        notes.push(format!(
            "name_match rules ({}) are applied when an entity is screened, not by jobs",
            skipped.join(", ")
        ));
    }
    let total = targets.len() as u64;
    let (snap_, policy_) = (snap.clone(), policy.clone());
    let swept = tokio::task::spawn_blocking(move || sweep::sweep(&snap_, &policy_.rules, as_of))
        .await
        .map_err(|e| RunError::Pass(e.to_string()))?;
    tracing::info!(
        job = %job.id,
        flagged = swept.findings.len(),
        unknown_candidates = swept.unknown_candidates.len(),
        to_screen = total,
        pass_ms = started.elapsed().as_millis() as u64,
        "whole-graph pass done"
    );
    if !db::jobs::begin(
        db,
        stored.pk,
        snap.version(),
        policy.version,
        total as i64,
        &notes,
    )
    .await?
    {
        return Ok(Ended::Cancelled);
    }
    progress(0, total);
    let on = db::jobs::RunOn {
        job: &job.id,
        graph_version: snap.version(),
        policy_version: policy.version,
        as_of,
    };
    let swept = Arc::new(swept);
    let targets = Arc::new(targets);
    let mut done = 0u64;
    for start in (0..targets.len()).step_by(CHUNK) {
        let (snap, policy, swept, targets) =
            (snap.clone(), policy.clone(), swept.clone(), targets.clone());
        let results = tokio::task::spawn_blocking(move || {
            let end = (start + CHUNK).min(targets.len());
            targets[start..end]
                .par_iter()
                .map(|&ix| result(&snap, &policy.rules, as_of, &swept, ix))
                .collect::<Vec<JobResult>>()
        })
        .await
        .map_err(|e| RunError::Pass(e.to_string()))?;
        if !db::jobs::store(db, stored.pk, &on, &results).await? {
            return Ok(Ended::Cancelled);
        }
        if let Some(sink) = sink.as_mut() {
            sink(&results).map_err(RunError::Sink)?;
        }
        done += results.len() as u64;
        progress(done, total);
    }
    db::jobs::finish(db, stored.pk, None).await?;
    tracing::info!(job = %job.id, total, took_ms = started.elapsed().as_millis() as u64, "job done");
    Ok(Ended::Succeeded)
}

/// One entity's result: explained when the pass flags it or may, else clear.
fn result(
    snap: &Snapshot,
    rules: &[Rule],
    as_of: NaiveDate,
    swept: &Sweep,
    ix: NodeIx,
) -> JobResult {
    let id = snap.node(ix).map_or_else(String::new, |n| n.id.to_string());
    let flagged = swept.findings.contains_key(&ix);
    if !flagged && swept.unknown_candidates.binary_search(&ix).is_err() {
        return JobResult {
            entity: id,
            decision: Decision::Clear,
            reasons: Vec::new(),
        };
    }
    let outcome = sweep::explain(snap, rules, as_of, ix);
    let ownership = outcome
        .reasons
        .iter()
        .filter(|r| matches!(r.kind, RuleKind::Sanctions | RuleKind::Jurisdiction))
        .map(|r| r.decision)
        .max()
        .unwrap_or(Decision::Clear);
    if ownership != swept.decision(ix) {
        // The pass and the screening must agree (tests/engine_reference.rs); the screening's
        // answer, which carries the evidence, is the one stored.
        tracing::error!(entity = %id, pass = ?swept.decision(ix), screening = ?ownership,
            "the whole-graph pass and the screening disagree");
    }
    JobResult {
        entity: id,
        decision: outcome.decision,
        reasons: outcome.reasons,
    }
}

/// Every live entity.
fn live(snap: &Snapshot) -> Vec<NodeIx> {
    (0..snap.node_bound() as NodeIx)
        .filter(|&ix| snap.node(ix).is_some())
        .collect()
}

/// The entities a change after `since` (up to the snapshot) can reach, and notes on how they
/// were chosen. A change too large to carry its graph changes widens the scope to everything.
async fn affected(
    db: &PgPool,
    snap: &Snapshot,
    since: i64,
    as_of: NaiveDate,
) -> Result<(Vec<NodeIx>, Vec<String>), DbError> {
    let mut roots: HashSet<NodeIx> = HashSet::new();
    let mut lists: HashSet<i64> = HashSet::new();
    let mut from = since;
    while from < snap.version() {
        let batch = db::changes_since(db, from, 1_000).await?;
        let Some(last) = batch.last() else { break };
        from = last.version;
        for c in batch.into_iter().filter(|c| c.version <= snap.version()) {
            if c.reload {
                let note = format!(
                    "change {} was too large to carry its graph changes; every entity is screened",
                    c.version
                );
                return Ok((live(snap), vec![note]));
            }
            for change in &c.changes {
                let id: &str = match change {
                    GraphChange::UpsertEntity { node } => &node.id,
                    GraphChange::AddLink { owned, .. } | GraphChange::RemoveLink { owned, .. } => {
                        owned
                    }
                    GraphChange::AddListing { entity, .. }
                    | GraphChange::RemoveListing { entity, .. }
                    | GraphChange::SetUnknownOwners { entity, .. } => entity,
                    GraphChange::UpsertList { list } => {
                        lists.insert(list.key);
                        continue;
                    }
                    // Its links leave with it, each a RemoveLink naming what it held.
                    GraphChange::RemoveEntity { .. } => continue,
                };
                roots.extend(snap.lookup(id));
            }
        }
    }
    if !lists.is_empty() {
        roots.extend(
            snap.listed()
                .filter(|&ix| snap.listings(ix).iter().any(|l| lists.contains(&l.list))),
        );
    }
    let roots: Vec<NodeIx> = roots.into_iter().collect();
    let notes = vec![format!(
        "{} entities changed after graph version {since}; they and what they hold are screened",
        roots.len()
    )];
    Ok((sweep::descendants(snap, &roots, as_of), notes))
}
