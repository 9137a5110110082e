//! Re-screening jobs and their results.
//!
//! A job's progress and the results behind it commit together, a chunk at a time, so `done`
//! always counts stored results. A job is claimed by one instance with `FOR UPDATE SKIP LOCKED`;
//! the instance touches `heartbeat_at` as it goes, and a job whose heartbeat stops is queued
//! again (its partial results dropped, since the new run takes a new snapshot) or, after
//! [`MAX_ATTEMPTS`], failed with the reason.
//!
//! Must not break: a job that is queued or running always ends as succeeded, failed or
//! cancelled; none is left behind.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Postgres};

use super::alerts::Flag;
use super::{DbError, Page, decode_cursor, page};
use crate::domain::{
    Decision, DecisionCounts, Invalid, Job, JobId, JobResult, JobStatus, RescreenRequest, Scope,
};

/// How often a job is started before it is failed instead.
pub const MAX_ATTEMPTS: i32 = 3;

/// A job the running instance has not touched for this long is taken to have stopped.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

const COLUMNS: &str = "pk, id, kind, scope, since_version, as_of, status, trigger, actor, graph_version, \
     policy_version, total, done, clear, review, block, notes, error, attempts, created_at, \
     started_at, finished_at";

#[derive(sqlx::FromRow)]
struct JobRow {
    pk: i64,
    id: String,
    kind: String,
    scope: String,
    since_version: Option<i64>,
    as_of: Option<NaiveDate>,
    status: String,
    trigger: String,
    actor: String,
    graph_version: Option<i64>,
    policy_version: Option<i64>,
    total: Option<i64>,
    done: i64,
    clear: i64,
    review: i64,
    block: i64,
    notes: Vec<String>,
    error: Option<String>,
    attempts: i32,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// A job and its key in the store.
pub struct Stored {
    pub pk: i64,
    pub job: Job,
}

impl TryFrom<JobRow> for Stored {
    type Error = DbError;

    fn try_from(r: JobRow) -> Result<Self, DbError> {
        let corrupt = |what: &str| DbError::Corrupt(format!("job {}: {what}", r.id));
        let scope = match r.scope.as_str() {
            "all" => Scope::All,
            "affected" => Scope::Affected,
            _ => return Err(corrupt("unknown scope")),
        };
        let status = JobStatus::parse(&r.status).ok_or_else(|| corrupt("unknown status"))?;
        let until = r.finished_at.unwrap_or_else(Utc::now);
        let elapsed = r
            .started_at
            .map(|s| (until - s).num_milliseconds() as f64 / 1000.0)
            .filter(|&s| s > 0.0);
        let rate_per_s = elapsed.map(|s| r.done as f64 / s);
        let eta_s = match (status, rate_per_s, r.total) {
            (JobStatus::Running, Some(rate), Some(total)) if rate > 0.0 => {
                Some((total - r.done).max(0) as f64 / rate)
            }
            _ => None,
        };
        Ok(Stored {
            pk: r.pk,
            job: Job {
                id: r.id,
                kind: r.kind,
                scope,
                since_version: r.since_version,
                as_of: r.as_of,
                status,
                trigger: r.trigger,
                actor: r.actor,
                graph_version: r.graph_version,
                policy_version: r.policy_version,
                total: r.total,
                done: r.done,
                counts: DecisionCounts {
                    clear: r.clear,
                    review: r.review,
                    block: r.block,
                },
                rate_per_s,
                eta_s,
                notes: r.notes,
                error: r.error,
                attempts: r.attempts,
                created_at: r.created_at,
                started_at: r.started_at,
                finished_at: r.finished_at,
            },
        })
    }
}

/// Queues a re-screening job. An `affected` job without `since_version` looks for changes
/// after the graph version of the last job that succeeded.
pub async fn create<'c>(
    conn: impl sqlx::Acquire<'c, Database = Postgres>,
    actor: &str,
    trigger: &str,
    req: &RescreenRequest,
) -> Result<Job, DbError> {
    req.check()?;
    let mut conn = conn.acquire().await?;
    let since = match (req.scope, req.since_version) {
        (Scope::Affected, None) => {
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT graph_version FROM jobs WHERE status = 'succeeded' AND graph_version IS NOT NULL
                 ORDER BY finished_at DESC LIMIT 1",
            )
            .fetch_optional(&mut *conn)
            .await?;
            Some(last.ok_or_else(|| {
                Invalid::new(
                    "since_version",
                    "no_earlier_job",
                    "no job has finished yet to look for changes after; give since_version",
                )
            })?)
        }
        (_, since) => since,
    };
    let row: JobRow = sqlx::query_as(&format!(
        "INSERT INTO jobs (id, kind, scope, since_version, as_of, trigger, actor)
         VALUES ($1, 'rescreen', $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(JobId::generate().as_str())
    .bind(req.scope.as_str())
    .bind(since)
    .bind(req.as_of)
    .bind(trigger)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Stored::try_from(row)?.job)
}

pub async fn get(pool: &PgPool, id: &str) -> Result<Stored, DbError> {
    let row: Option<JobRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| DbError::not_found("job", id))?.try_into()
}

/// Jobs, newest first.
pub async fn list(pool: &PgPool, limit: usize, cursor: Option<&str>) -> Result<Page<Job>, DbError> {
    let before = super::decode_key_cursor(cursor)?;
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE $1::int8 IS NULL OR pk < $1 ORDER BY pk DESC LIMIT $2"
    ))
    .bind(before)
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    let stored: Vec<Stored> = rows
        .into_iter()
        .map(Stored::try_from)
        .collect::<Result<_, _>>()?;
    let p = page(stored, limit, |s| s.pk.to_string());
    Ok(Page {
        items: p.items.into_iter().map(|s| s.job).collect(),
        next_cursor: p.next_cursor,
    })
}

/// Takes the oldest queued job (or the job `only`, if queued) for this process, if any.
pub async fn claim(
    conn: impl sqlx::PgExecutor<'_>,
    only: Option<&str>,
) -> Result<Option<Stored>, DbError> {
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, heartbeat_at = now(),
                started_at = coalesce(started_at, now())
         WHERE pk = (SELECT pk FROM jobs WHERE status = 'queued' AND ($1::text IS NULL OR id = $1)
                     ORDER BY pk FOR UPDATE SKIP LOCKED LIMIT 1)
         RETURNING {COLUMNS}"
    ))
    .bind(only)
    .fetch_optional(conn)
    .await?;
    row.map(Stored::try_from).transpose()
}

/// Records the snapshot a run uses and how many entities it will screen, and drops the
/// results of an earlier attempt. False when the job was cancelled meanwhile.
pub async fn begin(
    pool: &PgPool,
    pk: i64,
    graph_version: i64,
    policy_version: i64,
    total: i64,
    notes: &[String],
) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM job_results WHERE job_pk = $1")
        .bind(pk)
        .execute(&mut *tx)
        .await?;
    let updated = sqlx::query(
        "UPDATE jobs SET graph_version = $2, policy_version = $3, total = $4, done = 0, clear = 0,
                review = 0, block = 0, notes = notes || $5, heartbeat_at = now()
         WHERE pk = $1 AND status = 'running'",
    )
    .bind(pk)
    .bind(graph_version)
    .bind(policy_version)
    .bind(total)
    .bind(notes)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(updated == 1)
}

/// The snapshot a run computes on, for the alerts its results open.
pub struct RunOn<'a> {
    pub job: &'a str,
    pub graph_version: i64,
    pub policy_version: i64,
    pub as_of: NaiveDate,
}

/// Stores a chunk of results, the alerts they raise and the progress they make, in one
/// transaction. False (and nothing stored) when the job was cancelled meanwhile.
pub async fn store(
    pool: &PgPool,
    pk: i64,
    on: &RunOn<'_>,
    results: &[JobResult],
) -> Result<bool, DbError> {
    let mut counts = DecisionCounts::default();
    for r in results {
        counts.add(r.decision);
    }
    let mut tx = pool.begin().await?;
    // Lock the job first: a cancellation either lands before (and this stores nothing) or
    // waits for this chunk.
    let running: Option<bool> =
        sqlx::query_scalar("SELECT status = 'running' FROM jobs WHERE pk = $1 FOR UPDATE")
            .bind(pk)
            .fetch_optional(&mut *tx)
            .await?;
    if running != Some(true) {
        return Ok(false);
    }
    let statement = "COPY job_results (job_pk, entity, decision, reasons) FROM STDIN";
    let mut failed = None;
    super::bulk::copy(&mut tx, statement, results, |buf, r| {
        let reasons = serde_json::to_string(&r.reasons).unwrap_or_else(|e| {
            failed = Some(e.to_string());
            "[]".into()
        });
        buf.push_str(&pk.to_string());
        buf.push('\t');
        super::bulk::text(buf, &r.entity);
        buf.push('\t');
        buf.push_str(r.decision.as_str());
        buf.push('\t');
        super::bulk::text(buf, &reasons);
        buf.push('\n');
    })
    .await?;
    if let Some(e) = failed {
        return Err(DbError::Corrupt(format!(
            "a result could not be written: {e}"
        )));
    }
    let flags: Vec<Flag> = results
        .iter()
        .flat_map(|r| {
            r.reasons.iter().map(|reason| Flag {
                entity: &r.entity,
                reason,
                graph_version: on.graph_version,
                policy_version: on.policy_version,
                as_of: on.as_of,
                origin: "job",
                origin_id: on.job,
            })
        })
        .collect();
    super::alerts::raise(&mut tx, &flags).await?;
    sqlx::query(
        "UPDATE jobs SET done = done + $2, clear = clear + $3, review = review + $4,
                block = block + $5, heartbeat_at = now()
         WHERE pk = $1",
    )
    .bind(pk)
    .bind(results.len() as i64)
    .bind(counts.clear)
    .bind(counts.review)
    .bind(counts.block)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The jobs not yet ended, across every instance, and how far the running ones have got.
#[derive(Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenJobs {
    pub queued: i64,
    pub running: i64,
    /// Results stored so far by the running jobs.
    pub done: i64,
    /// Entities the running jobs will screen (as far as they have counted them).
    pub total: i64,
}

/// Counts the queued and running jobs (from the partial index of open jobs).
pub async fn open(pool: &PgPool) -> Result<OpenJobs, DbError> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
                count(*) FILTER (WHERE status = 'running') AS running,
                coalesce(sum(done) FILTER (WHERE status = 'running'), 0)::int8 AS done,
                coalesce(sum(total) FILTER (WHERE status = 'running'), 0)::int8 AS total
         FROM jobs WHERE status IN ('queued', 'running')",
    )
    .fetch_one(pool)
    .await?)
}

/// Tells other instances the job is still running.
pub async fn heartbeat(pool: &PgPool, pk: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE jobs SET heartbeat_at = now() WHERE pk = $1 AND status = 'running'")
        .bind(pk)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends a running job: succeeded, or failed with the reason.
pub async fn finish(pool: &PgPool, pk: i64, error: Option<&str>) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE jobs SET status = CASE WHEN $2::text IS NULL THEN 'succeeded' ELSE 'failed' END,
                error = $2, finished_at = now()
         WHERE pk = $1 AND status = 'running'",
    )
    .bind(pk)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Cancels a queued or running job; a running one stops before its next chunk.
pub async fn cancel(pool: &PgPool, actor: &str, id: &str) -> Result<Job, DbError> {
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "UPDATE jobs SET status = 'cancelled', finished_at = now(), cancelled_by = $2
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(actor)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => Ok(Stored::try_from(r)?.job),
        None => {
            let job = get(pool, id).await?.job;
            Err(DbError::Conflict {
                code: "job_finished",
                message: format!("job '{id}' has already {}", job.status.as_str()),
            })
        }
    }
}

/// Queues again the running jobs whose instance stopped (no heartbeat for [`STALE_AFTER`]),
/// or fails those already tried [`MAX_ATTEMPTS`] times. Returns how many of each. Each
/// statement checks the attempts itself: a job that goes stale between the two is failed by
/// the next call, never queued once too often.
pub async fn recover(pool: &PgPool) -> Result<(u64, u64), DbError> {
    let stale = format!("{} seconds", STALE_AFTER.as_secs());
    let failed = sqlx::query(
        "UPDATE jobs SET status = 'failed', finished_at = now(),
                error = format('the service running it stopped %s times; last at %s of %s entities',
                                attempts, done, coalesce(total::text, 'unknown'))
         WHERE status = 'running' AND heartbeat_at < now() - $1::interval AND attempts >= $2",
    )
    .bind(&stale)
    .bind(MAX_ATTEMPTS)
    .execute(pool)
    .await?
    .rows_affected();
    let queued = sqlx::query(
        "UPDATE jobs SET status = 'queued',
                notes = notes || format('started again: the service running attempt %s stopped at %s of %s entities (%s)',
                                        attempts, done, coalesce(total::text, 'unknown'), heartbeat_at)
         WHERE status = 'running' AND heartbeat_at < now() - $1::interval AND attempts < $2",
    )
    .bind(&stale)
    .bind(MAX_ATTEMPTS)
    .execute(pool)
    .await?
    .rows_affected();
    Ok((queued, failed))
}

/// A page of a job's results, by entity id, optionally of one decision.
pub async fn results(
    pool: &PgPool,
    pk: i64,
    decision: Option<Decision>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page<JobResult>, DbError> {
    let after = cursor.map(decode_cursor).transpose()?;
    // Spelled out, so that the planner reads flagged results from their partial index.
    let flagged = match decision {
        Some(Decision::Review | Decision::Block) => "AND decision <> 'clear'",
        _ => "",
    };
    let rows: Vec<(
        String,
        String,
        sqlx::types::Json<Vec<crate::domain::Reason>>,
    )> = sqlx::query_as(&format!(
        "SELECT entity, decision, reasons FROM job_results
             WHERE job_pk = $1 AND ($2::text IS NULL OR decision = $2) {flagged}
               AND ($3::text IS NULL OR entity > $3)
             ORDER BY entity LIMIT $4"
    ))
    .bind(pk)
    .bind(decision.map(Decision::as_str))
    .bind(after)
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|(entity, decision, reasons)| {
            let decision = match decision.as_str() {
                "clear" => Decision::Clear,
                "review" => Decision::Review,
                "block" => Decision::Block,
                _ => return Err(DbError::Corrupt(format!("result {entity}: decision"))),
            };
            Ok(JobResult {
                entity,
                decision,
                reasons: reasons.0,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(page(items, limit, |r| r.entity.clone()))
}
