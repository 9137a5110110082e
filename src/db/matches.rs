//! Possible matches: pairs of entities that may be one, kept for a person to decide.
//!
//! Rejecting a pair records the decision. Confirming it merges the newer entity into the
//! older (the candidate): its source statements, ownerships, declared interests, declared
//! unknowns and list designations move to the older one, whose fields are folded again from
//! all statements; the newer entity is deleted (its history stays), and ownerships between
//! the two disappear. A merge that would take the shares or votes held in the surviving entity
//! past 100% is refused (409), so that a person decides which stake is right first.

use serde::Deserialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::entities::{COLUMNS, EntityRow, node};
use super::lists::{ENTRY_SELECT, EntryRow};
use super::ownerships::{OwnershipRow, SELECT, over_total};
use super::registry::{keep_store_statements, refold, unknown_owners};
use super::sources::{MATCH_SELECT, PossibleMatch};
use super::{ChangeRecord, Committed, DbError, Page, Tx, begin_change, commit_change, page};
use crate::domain::{Entity, Text};
use crate::engine::GraphChange;
use crate::matching::Record;
use crate::names::NameChange;

/// A person's decision on a possible match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchVerdict {
    /// The two are one: merge them.
    Confirmed,
    /// They are different: keep both.
    Rejected,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchDecision {
    pub decision: MatchVerdict,
    pub note: Option<Text>,
}

/// Possible matches, oldest first; `status` filters (`pending`, `confirmed`, `rejected`).
pub async fn list(
    pool: &PgPool,
    status: Option<&str>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page<PossibleMatch>, DbError> {
    let after = super::decode_key_cursor(cursor)?;
    let rows: Vec<PossibleMatch> = sqlx::query_as(&format!(
        "{MATCH_SELECT} WHERE ($1::text IS NULL OR m.status = $1) AND m.pk > $2
         ORDER BY m.pk LIMIT $3"
    ))
    .bind(status)
    .bind(after.unwrap_or(0))
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    Ok(page(rows, limit, |m| m.id.to_string()))
}

/// Records a decision; a confirmation merges the pair.
pub async fn decide(
    pool: &PgPool,
    actor: &str,
    id: i64,
    d: MatchDecision,
) -> Result<(PossibleMatch, Committed), DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let pair: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT entity_pk, candidate_pk, status FROM possible_matches WHERE pk = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (merged, survivor, status) =
        pair.ok_or_else(|| DbError::not_found("possible match", id))?;
    if status != "pending" {
        return Err(DbError::Conflict {
            code: "already_decided",
            message: format!("this possible match was already {status}"),
        });
    }
    let status = match d.decision {
        MatchVerdict::Confirmed => "confirmed",
        MatchVerdict::Rejected => "rejected",
    };
    sqlx::query(
        "UPDATE possible_matches SET status = $2, decided_by = $3, decided_at = now(), note = $4
         WHERE pk = $1",
    )
    .bind(id)
    .bind(status)
    .bind(actor)
    .bind(d.note.as_ref().map(Text::as_str))
    .execute(&mut *tx)
    .await?;
    let rec = match d.decision {
        MatchVerdict::Rejected => ChangeRecord {
            actor,
            action: "match.reject",
            entities: ids(&mut tx, &[merged, survivor]).await?,
            before: Some(serde_json::json!({"possible_match": id, "status": "pending"})),
            after: Some(serde_json::json!({"possible_match": id, "status": status})),
            changes: Vec::new(),
            names: Vec::new(),
        },
        MatchVerdict::Confirmed => merge(&mut tx, actor, id, merged, survivor).await?,
    };
    let committed = commit_change(tx, version, rec).await?;
    let decided: PossibleMatch = sqlx::query_as(&format!("{MATCH_SELECT} WHERE m.pk = $1"))
        .bind(id)
        .fetch_one(pool)
        .await?;
    Ok((decided, committed))
}

async fn ids(tx: &mut Tx, pks: &[i64]) -> Result<Vec<String>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM entities WHERE pk = ANY($1) ORDER BY id")
            .bind(pks)
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// Merges entity `merged` into `survivor`; returns the change to log.
async fn merge<'a>(
    tx: &mut Tx,
    actor: &'a str,
    id: i64,
    merged: i64,
    survivor: i64,
) -> Result<ChangeRecord<'a>, DbError> {
    let rows: Vec<EntityRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM entities WHERE pk = ANY($1) AND deleted_at IS NULL FOR UPDATE"
    ))
    .bind([merged, survivor])
    .fetch_all(&mut **tx)
    .await?;
    if rows.len() != 2 {
        return Err(DbError::Conflict {
            code: "entity_deleted",
            message: "one of the two entities was deleted since the match was found".into(),
        });
    }
    let mut before: Vec<Entity> = Vec::new();
    let (mut merged_id, mut survivor_id) = (String::new(), String::new());
    for r in rows {
        let pk = r.pk;
        let e = Entity::try_from(r)?;
        if pk == merged {
            merged_id = e.id.to_string();
        } else {
            survivor_id = e.id.to_string();
        }
        before.push(e);
    }
    let mut changes = Vec::new();

    // What each said before the merge stays as its `store` statement.
    keep_store_statements(tx, &[merged, survivor]).await?;
    sqlx::query("UPDATE entity_sources SET entity_pk = $2, resolved_by = 'merged', updated_at = now() WHERE entity_pk = $1")
        .bind(merged)
        .bind(survivor)
        .execute(&mut **tx)
        .await?;

    // Ownerships: those between the two end; the rest move.
    let touching: Vec<OwnershipRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE (o.owner_pk = $1 OR o.owned_pk = $1) AND o.deleted_at IS NULL"
    ))
    .bind(merged)
    .fetch_all(&mut **tx)
    .await?;
    for r in &touching {
        changes.push(GraphChange::RemoveLink {
            owner: r.owner.as_str().into(),
            owned: r.owned.as_str().into(),
            key: r.pk,
        });
    }
    sqlx::query(
        "UPDATE ownerships SET deleted_at = now() WHERE deleted_at IS NULL
           AND ((owner_pk = $1 AND owned_pk = $2) OR (owner_pk = $2 AND owned_pk = $1))",
    )
    .bind(merged)
    .bind(survivor)
    .execute(&mut **tx)
    .await?;
    let moved: Vec<i64> = sqlx::query_scalar(
        "UPDATE ownerships SET
             owner_pk = CASE WHEN owner_pk = $1 THEN $2 ELSE owner_pk END,
             owned_pk = CASE WHEN owned_pk = $1 THEN $2 ELSE owned_pk END
         WHERE deleted_at IS NULL AND (owner_pk = $1 OR owned_pk = $1) RETURNING pk",
    )
    .bind(merged)
    .bind(survivor)
    .fetch_all(&mut **tx)
    .await?;
    let over = over_total(tx, &[survivor, survivor], &["shares", "votes"]).await?;
    if let Some(((_, interest), total)) = over.into_iter().next() {
        return Err(DbError::Conflict {
            code: "merge_exceeds_total",
            message: format!(
                "merged, the known minimum {interest} held in '{survivor_id}' would reach \
                 {}%; correct the stakes first",
                crate::engine::percent(total)
            ),
        });
    }
    let now_rows: Vec<OwnershipRow> = sqlx::query_as(&format!("{SELECT} WHERE o.pk = ANY($1)"))
        .bind(&moved)
        .fetch_all(&mut **tx)
        .await?;

    // Declared interests and unknowns move too.
    sqlx::query(
        "UPDATE declared_interests SET deleted_at = now() WHERE deleted_at IS NULL
           AND ((owner_pk = $1 AND owned_pk = $2) OR (owner_pk = $2 AND owned_pk = $1))",
    )
    .bind(merged)
    .bind(survivor)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE declared_interests SET
             owner_pk = CASE WHEN owner_pk = $1 THEN $2 ELSE owner_pk END,
             owned_pk = CASE WHEN owned_pk = $1 THEN $2 ELSE owned_pk END,
             updated_at = now()
         WHERE owner_pk = $1 OR owned_pk = $1",
    )
    .bind(merged)
    .bind(survivor)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE declared_unknowns SET entity_pk = $2, updated_at = now() WHERE entity_pk = $1",
    )
    .bind(merged)
    .bind(survivor)
    .execute(&mut **tx)
    .await?;

    // Designations follow the entity.
    let entries: Vec<i64> = sqlx::query_scalar(
        "UPDATE list_entries SET entity_pk = $2, updated_at = now() WHERE entity_pk = $1
         RETURNING pk",
    )
    .bind(merged)
    .bind(survivor)
    .fetch_all(&mut **tx)
    .await?;
    let entries: Vec<EntryRow> = sqlx::query_as(&format!(
        "{ENTRY_SELECT} WHERE e.pk = ANY($1) AND e.deleted_at IS NULL"
    ))
    .bind(&entries)
    .fetch_all(&mut **tx)
    .await?;

    // Other pairs naming the merged entity now name the survivor, unless that would repeat a
    // pair or pair the survivor with itself.
    sqlx::query(
        "DELETE FROM possible_matches m WHERE m.pk <> $3 AND m.status = 'pending'
           AND (m.entity_pk = $1 OR m.candidate_pk = $1)
           AND (CASE WHEN m.entity_pk = $1 THEN m.candidate_pk ELSE m.entity_pk END = $2
                OR EXISTS (SELECT 1 FROM possible_matches o
                    WHERE (o.entity_pk, o.candidate_pk) IN (
                        (greatest($2, CASE WHEN m.entity_pk = $1 THEN m.candidate_pk ELSE m.entity_pk END),
                         least($2, CASE WHEN m.entity_pk = $1 THEN m.candidate_pk ELSE m.entity_pk END)))))",
    )
    .bind(merged)
    .bind(survivor)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE possible_matches SET
             entity_pk = greatest($2, CASE WHEN entity_pk = $1 THEN candidate_pk ELSE entity_pk END),
             candidate_pk = least($2, CASE WHEN entity_pk = $1 THEN candidate_pk ELSE entity_pk END)
         WHERE pk <> $3 AND status = 'pending' AND (entity_pk = $1 OR candidate_pk = $1)",
    )
    .bind(merged)
    .bind(survivor)
    .bind(id)
    .execute(&mut **tx)
    .await?;

    sqlx::query("UPDATE entities SET deleted_at = now(), updated_at = now() WHERE pk = $1")
        .bind(merged)
        .execute(&mut **tx)
        .await?;
    changes.push(GraphChange::RemoveEntity {
        id: merged_id.as_str().into(),
    });
    let mut names = vec![NameChange::RemoveEntity { key: merged }];
    let folded = refold(tx, &[survivor], &[survivor].into_iter().collect()).await?;
    let mut after = None;
    for (pk, e) in folded.updated {
        changes.push(GraphChange::UpsertEntity { node: node(pk, &e) });
        names.push(NameChange::Entity {
            key: pk,
            party: Record::of_entity(&e),
        });
        after = serde_json::to_value(&e).ok();
    }
    for r in &now_rows {
        changes.push(GraphChange::AddLink {
            owner: r.owner.as_str().into(),
            owned: r.owned.as_str().into(),
            data: r.edge()?,
        });
    }
    for e in &entries {
        changes.push(GraphChange::AddListing {
            entity: survivor_id.as_str().into(),
            listing: e.listing(),
        });
    }
    changes.push(GraphChange::SetUnknownOwners {
        entity: merged_id.as_str().into(),
        unknowns: Vec::new(),
    });
    for (entity, unknowns) in unknown_owners(tx, Some(&[survivor])).await? {
        changes.push(GraphChange::SetUnknownOwners {
            entity: entity.into(),
            unknowns,
        });
    }
    Ok(ChangeRecord {
        actor,
        action: "entity.merge",
        entities: vec![merged_id, survivor_id],
        before: serde_json::to_value(&before).ok(),
        after,
        changes,
        names,
    })
}
