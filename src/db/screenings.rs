//! Stored screenings. Every answer is kept, with the policy and graph versions it used.

use sqlx::PgPool;

use super::DbError;
use super::alerts::Flag;
use crate::domain::Screening;

/// One screening to store, with who asked and what they sent.
pub struct Record {
    pub screening: Screening,
    pub actor: std::sync::Arc<str>,
    pub request: serde_json::Value,
}

/// Stores many screenings in one statement, so that concurrent requests share a commit.
pub async fn insert_batch(pool: &PgPool, batch: &[Record]) -> Result<(), DbError> {
    let mut ids = Vec::with_capacity(batch.len());
    let mut entity = Vec::with_capacity(batch.len());
    let mut resolved = Vec::with_capacity(batch.len());
    let mut decision = Vec::with_capacity(batch.len());
    let mut as_of = Vec::with_capacity(batch.len());
    let mut policy = Vec::with_capacity(batch.len());
    let mut graph = Vec::with_capacity(batch.len());
    let mut at = Vec::with_capacity(batch.len());
    let mut actor = Vec::with_capacity(batch.len());
    let mut request = Vec::with_capacity(batch.len());
    let mut response = Vec::with_capacity(batch.len());
    for r in batch {
        let s = &r.screening;
        ids.push(s.id.clone());
        entity.push(s.entity.clone());
        resolved.push(s.resolved_entity.clone());
        decision.push(s.decision.as_str());
        as_of.push(s.as_of);
        policy.push(s.policy_version);
        graph.push(s.graph_version);
        at.push(s.screened_at);
        actor.push(&*r.actor);
        request.push(r.request.clone());
        response.push(serde_json::to_value(s).map_err(|e| DbError::Corrupt(e.to_string()))?);
    }
    // An applicant no identifier tied to a known entity is its own subject.
    let subjects: Vec<String> = batch
        .iter()
        .map(|r| {
            let s = &r.screening;
            s.resolved_entity
                .clone()
                .unwrap_or_else(|| format!("screening:{}", s.id))
        })
        .collect();
    let flags: Vec<Flag> = batch
        .iter()
        .zip(&subjects)
        .flat_map(|(r, subject)| {
            let s = &r.screening;
            s.reasons.iter().map(move |reason| Flag {
                entity: subject,
                reason,
                graph_version: s.graph_version,
                policy_version: s.policy_version,
                as_of: s.as_of,
                origin: "screening",
                origin_id: &s.id,
            })
        })
        .collect();
    let mut tx = pool.begin().await?;
    super::alerts::raise(&mut tx, &flags).await?;
    // Last in the transaction: its audit trigger takes the audit head's lock when it runs
    // (migrations/0008_screening_batches.sql), and that lock must be the last one taken.
    sqlx::query(
        "INSERT INTO screenings (id, entity, resolved_entity, decision, as_of, policy_version, graph_version,
                                 screened_at, actor, request, response)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::int8[], $7::int8[],
                              $8::timestamptz[], $9::text[], $10::jsonb[], $11::jsonb[])",
    )
    .bind(ids)
    .bind(entity)
    .bind(resolved)
    .bind(decision)
    .bind(as_of)
    .bind(policy)
    .bind(graph)
    .bind(at)
    .bind(actor)
    .bind(request)
    .bind(response)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(pool: &PgPool, id: &str) -> Result<Screening, DbError> {
    let row: Option<sqlx::types::Json<Screening>> =
        sqlx::query_scalar("SELECT response FROM screenings WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.ok_or_else(|| DbError::not_found("screening", id))?.0)
}
