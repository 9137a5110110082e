//! Alerts and the decisions on them.
//!
//! Flags arrive from stored screenings and from job results, in the same transaction that
//! stores them, so an acknowledged flag always has its alert. Writers of alerts take one
//! advisory lock, so two of them never open the same alert twice.
//!
//! Must not break: one alert per entity and rule; the same evidence never alerts again once
//! decided; different evidence always reaches an analyst, with what changed.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use super::{DbError, Page, page};
use crate::domain::{
    Alert, AlertDecision, AlertDecisionRecord, AlertDecisionRequest, AlertStatus, Decision,
    EvidenceChanges, Reason, fingerprint,
};

/// Serialises the writers of alerts (`pg_advisory_xact_lock`).
const ALERTS_LOCK: i64 = 0x6f67_616c_6572_7473;

/// A reason that flagged an entity, and what it was computed on.
pub struct Flag<'a> {
    pub entity: &'a str,
    pub reason: &'a Reason,
    pub graph_version: i64,
    pub policy_version: i64,
    pub as_of: NaiveDate,
    /// `screening` or `job`.
    pub origin: &'static str,
    pub origin_id: &'a str,
}

/// What a batch of flags did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Raised {
    pub opened: u64,
    /// Changed evidence on an alert that was open.
    pub updated: u64,
    /// Changed evidence on an alert that was closed.
    pub reopened: u64,
    /// The same evidence again.
    pub unchanged: u64,
}

/// Opens, updates or reopens the alerts for `flags` (reasons that decide `review` or
/// `block`; others are ignored), inside the caller's transaction.
pub async fn raise(conn: &mut PgConnection, flags: &[Flag<'_>]) -> Result<Raised, DbError> {
    let flags: Vec<&Flag> = flags
        .iter()
        .filter(|f| f.reason.decision != Decision::Clear)
        .collect();
    let mut raised = Raised::default();
    if flags.is_empty() {
        return Ok(raised);
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ALERTS_LOCK)
        .execute(&mut *conn)
        .await?;
    let entities: Vec<&str> = flags.iter().map(|f| f.entity).collect();
    let rules: Vec<&str> = flags.iter().map(|f| f.reason.rule.as_str()).collect();
    let existing: Vec<(
        i64,
        String,
        String,
        String,
        String,
        sqlx::types::Json<Reason>,
    )> = sqlx::query_as(
        "SELECT a.pk, a.entity, a.rule, a.status, a.fingerprint, a.evidence FROM alerts a
             JOIN unnest($1::text[], $2::text[]) AS f (entity, rule) USING (entity, rule)",
    )
    .bind(&entities)
    .bind(&rules)
    .fetch_all(&mut *conn)
    .await?;
    let known: std::collections::HashMap<(&str, &str), (i64, String, String, Reason)> = existing
        .iter()
        .map(|(pk, e, r, status, fp, ev)| {
            (
                (e.as_str(), r.as_str()),
                (*pk, status.clone(), fp.clone(), ev.0.clone()),
            )
        })
        .collect();
    // Per entity and rule, in arrival order: the last flag is the evidence now, and the flags
    // just before it with the same fingerprint are that evidence seen again.
    let mut subjects: Vec<(&str, &str)> = Vec::new();
    let mut by_subject: std::collections::HashMap<(&str, &str), Vec<(&Flag, String)>> =
        std::collections::HashMap::new();
    for f in flags {
        let key = (f.entity, f.reason.rule.as_str());
        let seen = by_subject.entry(key).or_default();
        if seen.is_empty() {
            subjects.push(key);
        }
        seen.push((f, fingerprint(f.reason)));
    }
    let mut again: Vec<(i64, i64)> = Vec::new();
    let mut new = NewAlerts::default();
    for key in subjects {
        let seen = &by_subject[&key];
        let (f, fp) = &seen[seen.len() - 1];
        let repeats = seen.iter().rev().take_while(|(_, p)| p == fp).count() as i64;
        match known.get(&key) {
            Some((pk, _, old_fp, _)) if old_fp == fp => {
                again.push((*pk, repeats));
                raised.unchanged += repeats as u64;
            }
            Some((pk, status, _, before)) => {
                let changes = EvidenceChanges::between(before, f.reason);
                if status == "closed" {
                    raised.reopened += 1;
                } else {
                    raised.updated += 1;
                }
                // New evidence needs a decision of its own: a first false-positive vote on the
                // old evidence does not count for it, and a closed alert opens again.
                sqlx::query(
                    "UPDATE alerts SET status = CASE WHEN status = 'escalated' THEN 'escalated' ELSE 'open' END,
                            resolution = NULL, closed_at = NULL, previous_evidence = evidence,
                            evidence = $2, fingerprint = $3, changes = $4, severity = $5,
                            graph_version = $6, policy_version = $7, as_of = $8, origin = $9,
                            origin_id = $10, seen = $11, updated_at = now(), last_seen_at = now()
                     WHERE pk = $1",
                )
                .bind(pk)
                .bind(sqlx::types::Json(f.reason))
                .bind(fp)
                .bind(sqlx::types::Json(&changes))
                .bind(f.reason.decision.as_str())
                .bind(f.graph_version)
                .bind(f.policy_version)
                .bind(f.as_of)
                .bind(f.origin)
                .bind(f.origin_id)
                .bind(repeats)
                .execute(&mut *conn)
                .await?;
            }
            None => {
                new.push(f, fp, repeats);
                raised.opened += 1;
            }
        }
    }
    if !again.is_empty() {
        let (pks, counts): (Vec<i64>, Vec<i64>) = again.into_iter().unzip();
        sqlx::query(
            "UPDATE alerts a SET seen = a.seen + s.n, last_seen_at = now()
             FROM unnest($1::int8[], $2::int8[]) AS s (pk, n) WHERE a.pk = s.pk",
        )
        .bind(pks)
        .bind(counts)
        .execute(&mut *conn)
        .await?;
    }
    new.insert(conn).await?;
    Ok(raised)
}

/// Alerts to open, column by column, for one `INSERT ... SELECT FROM unnest`.
#[derive(Default)]
struct NewAlerts<'a> {
    id: Vec<String>,
    entity: Vec<&'a str>,
    rule: Vec<&'a str>,
    severity: Vec<&'static str>,
    fingerprint: Vec<String>,
    evidence: Vec<sqlx::types::Json<&'a Reason>>,
    graph_version: Vec<i64>,
    policy_version: Vec<i64>,
    as_of: Vec<NaiveDate>,
    origin: Vec<&'static str>,
    origin_id: Vec<&'a str>,
    seen: Vec<i64>,
}

impl<'a> NewAlerts<'a> {
    fn push(&mut self, f: &Flag<'a>, fingerprint: &str, seen: i64) {
        self.id.push(uuid::Uuid::now_v7().to_string());
        self.entity.push(f.entity);
        self.rule.push(&f.reason.rule);
        self.severity.push(f.reason.decision.as_str());
        self.fingerprint.push(fingerprint.to_owned());
        self.evidence.push(sqlx::types::Json(f.reason));
        self.graph_version.push(f.graph_version);
        self.policy_version.push(f.policy_version);
        self.as_of.push(f.as_of);
        self.origin.push(f.origin);
        self.origin_id.push(f.origin_id);
        self.seen.push(seen);
    }

    async fn insert(self, conn: &mut PgConnection) -> Result<(), DbError> {
        if self.id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO alerts (id, entity, rule, severity, fingerprint, evidence, graph_version,
                                 policy_version, as_of, origin, origin_id, seen)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::jsonb[], $7::int8[], $8::int8[], $9::date[], $10::text[],
                                  $11::text[], $12::int8[])",
        )
        .bind(self.id)
        .bind(self.entity)
        .bind(self.rule)
        .bind(self.severity)
        .bind(self.fingerprint)
        .bind(self.evidence)
        .bind(self.graph_version)
        .bind(self.policy_version)
        .bind(self.as_of)
        .bind(self.origin)
        .bind(self.origin_id)
        .bind(self.seen)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

const COLUMNS: &str = "pk, id, entity, rule, status, resolution, severity, fingerprint, evidence, \
     previous_evidence, changes, graph_version, policy_version, as_of, origin, origin_id, seen, \
     opened_at, updated_at, last_seen_at, closed_at";

#[derive(sqlx::FromRow)]
struct AlertRow {
    pk: i64,
    id: String,
    entity: String,
    rule: String,
    status: String,
    resolution: Option<String>,
    severity: String,
    fingerprint: String,
    evidence: sqlx::types::Json<Reason>,
    previous_evidence: Option<sqlx::types::Json<Reason>>,
    changes: Option<sqlx::types::Json<EvidenceChanges>>,
    graph_version: i64,
    policy_version: i64,
    as_of: NaiveDate,
    origin: String,
    origin_id: String,
    seen: i64,
    opened_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

impl AlertRow {
    fn into_alert(self) -> Result<(i64, Alert), DbError> {
        let corrupt = |what: &str| DbError::Corrupt(format!("alert {}: {what}", self.id));
        let status = AlertStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?;
        let resolution = match &self.resolution {
            Some(r) => Some(AlertDecision::parse(r).ok_or_else(|| corrupt("resolution"))?),
            None => None,
        };
        let severity = match self.severity.as_str() {
            "review" => Decision::Review,
            "block" => Decision::Block,
            _ => return Err(corrupt("severity")),
        };
        Ok((
            self.pk,
            Alert {
                id: self.id,
                entity: self.entity,
                rule: self.rule,
                status,
                resolution,
                severity,
                fingerprint: self.fingerprint,
                evidence: self.evidence.0,
                previous_evidence: self.previous_evidence.map(|e| e.0),
                changes: self.changes.map(|c| c.0),
                graph_version: self.graph_version,
                policy_version: self.policy_version,
                as_of: self.as_of,
                origin: self.origin,
                origin_id: self.origin_id,
                seen: self.seen,
                opened_at: self.opened_at,
                updated_at: self.updated_at,
                last_seen_at: self.last_seen_at,
                closed_at: self.closed_at,
                decisions: Vec::new(),
            },
        ))
    }
}

/// Filters of `GET /v1/alerts`.
#[derive(Default)]
pub struct Filter {
    pub status: Option<AlertStatus>,
    pub rule: Option<String>,
    /// The severity (`review`, `block`).
    pub severity: Option<Decision>,
    /// The decision that closed it.
    pub resolution: Option<AlertDecision>,
    pub entity: Option<String>,
}

/// Alerts, newest first.
pub async fn list(
    pool: &PgPool,
    filter: &Filter,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page<Alert>, DbError> {
    let before = super::decode_key_cursor(cursor)?;
    let rows: Vec<AlertRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM alerts
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR rule = $2)
           AND ($3::text IS NULL OR severity = $3) AND ($4::text IS NULL OR resolution = $4)
           AND ($5::text IS NULL OR entity = $5) AND ($6::int8 IS NULL OR pk < $6)
         ORDER BY pk DESC LIMIT $7"
    ))
    .bind(filter.status.map(AlertStatus::as_str))
    .bind(filter.rule.as_deref())
    .bind(filter.severity.map(Decision::as_str))
    .bind(filter.resolution.map(AlertDecision::as_str))
    .bind(filter.entity.as_deref())
    .bind(before)
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    let alerts = rows
        .into_iter()
        .map(AlertRow::into_alert)
        .collect::<Result<Vec<_>, _>>()?;
    let p = page(alerts, limit, |(pk, _)| pk.to_string());
    Ok(Page {
        items: p.items.into_iter().map(|(_, a)| a).collect(),
        next_cursor: p.next_cursor,
    })
}

/// One alert with every decision on it.
pub async fn get(conn: &mut PgConnection, id: &str) -> Result<(i64, Alert), DbError> {
    let row: Option<AlertRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM alerts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let (pk, mut alert) = row
        .ok_or_else(|| DbError::not_found("alert", id))?
        .into_alert()?;
    #[derive(sqlx::FromRow)]
    struct Row {
        decision: String,
        note: Option<String>,
        actor: String,
        fingerprint: String,
        decided_at: DateTime<Utc>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT decision, note, actor, fingerprint, decided_at FROM alert_decisions
         WHERE alert_pk = $1 ORDER BY pk",
    )
    .bind(pk)
    .fetch_all(&mut *conn)
    .await?;
    alert.decisions = rows
        .into_iter()
        .map(|r| {
            Ok(AlertDecisionRecord {
                decision: AlertDecision::parse(&r.decision)
                    .ok_or_else(|| DbError::Corrupt(format!("alert {id}: decision")))?,
                note: r.note,
                actor: r.actor,
                fingerprint: r.fingerprint,
                decided_at: r.decided_at,
            })
        })
        .collect::<Result<_, DbError>>()?;
    Ok((pk, alert))
}

/// Records a decision. A `block` alert closes as a false positive only once two different
/// reviewers have said so about the same evidence; the first makes it wait for the second.
pub async fn decide(
    pool: &PgPool,
    id: &str,
    actor: &str,
    req: &AlertDecisionRequest,
) -> Result<Alert, DbError> {
    req.check()?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ALERTS_LOCK)
        .execute(&mut *tx)
        .await?;
    let (pk, alert) = get(&mut tx, id).await?;
    if alert.status == AlertStatus::Closed {
        return Err(DbError::Conflict {
            code: "alert_closed",
            message: format!("alert '{id}' is closed; it opens again when its evidence changes"),
        });
    }
    let next = match req.decision {
        AlertDecision::Confirmed => AlertStatus::Closed,
        AlertDecision::Escalated => AlertStatus::Escalated,
        AlertDecision::FalsePositive if alert.severity != Decision::Block => AlertStatus::Closed,
        AlertDecision::FalsePositive => {
            // The first reviewers' false-positive votes on this same evidence.
            let voters: Vec<&str> = alert
                .decisions
                .iter()
                .filter(|d| {
                    d.decision == AlertDecision::FalsePositive
                        && d.fingerprint == alert.fingerprint
                        && d.decided_at >= alert.updated_at
                })
                .map(|d| d.actor.as_str())
                .collect();
            if voters.contains(&actor) {
                return Err(DbError::Conflict {
                    code: "four_eyes",
                    message: format!(
                        "'{actor}' already called this block a false positive; a second, different reviewer must agree"
                    ),
                });
            }
            if voters.is_empty() {
                AlertStatus::AwaitingSecondReview
            } else {
                AlertStatus::Closed
            }
        }
    };
    sqlx::query(
        "INSERT INTO alert_decisions (alert_pk, decision, note, actor, fingerprint)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(pk)
    .bind(req.decision.as_str())
    .bind(req.note.as_deref().map(str::trim))
    .bind(actor)
    .bind(&alert.fingerprint)
    .execute(&mut *tx)
    .await?;
    let resolution = (next == AlertStatus::Closed).then(|| req.decision.as_str());
    sqlx::query(
        "UPDATE alerts SET status = $2, resolution = $3,
                closed_at = CASE WHEN $2 = 'closed' THEN now() END
         WHERE pk = $1",
    )
    .bind(pk)
    .bind(next.as_str())
    .bind(resolution)
    .execute(&mut *tx)
    .await?;
    let (_, alert) = get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(alert)
}
