//! Where an entity's facts came from: each source record's statement, the ownerships with
//! their sources, interests declared indirect, owners declared unknown and possible matches.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

use super::DbError;
use super::registry::Statement;

/// What one source record stated about an entity.
#[derive(Clone, Debug, Serialize, FromRow, ToSchema)]
pub struct SourceStatement {
    pub source: String,
    pub record: String,
    /// The record only named the entity by id.
    pub placeholder: bool,
    /// How the record was tied to the entity: `record`, `lei`, `registration_number`,
    /// `identifier`, `new`.
    pub resolved_by: String,
    #[sqlx(json)]
    pub statement: Statement,
    pub first_seen: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A fact about the entity's ownership, with where it came from.
#[derive(Clone, Debug, Serialize, FromRow, ToSchema)]
pub struct SourcedLink {
    /// The ownership id (absent for a declared interest, which is not an ownership).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub owner: String,
    pub owned: String,
    pub interest: String,
    /// The share as the source stated it.
    #[schema(value_type = Option<Object>)]
    pub share: Option<serde_json::Value>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// Null for a link written through the API.
    pub source: Option<String>,
    pub source_record: Option<String>,
    pub details: Option<String>,
}

/// A source's statement that the entity's owners are unknown.
#[derive(Clone, Debug, Serialize, FromRow, ToSchema)]
pub struct UnknownOwners {
    /// BODS `unspecifiedReason` code.
    pub reason: String,
    /// The source's own code.
    pub source_reason: String,
    pub details: Option<String>,
    pub interest: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub share: Option<serde_json::Value>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub source: String,
    pub source_record: String,
}

/// Two entities that may be one.
#[derive(Clone, Debug, Serialize, FromRow, ToSchema)]
pub struct PossibleMatch {
    pub id: i64,
    pub entity: String,
    pub candidate: String,
    /// `name` or `identifier_conflict`.
    pub basis: String,
    pub score: Option<f64>,
    #[schema(value_type = Object)]
    pub explanation: serde_json::Value,
    /// `pending`, `confirmed` or `rejected`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// Which source said what about an entity.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EntitySources {
    pub entity: String,
    pub statements: Vec<SourceStatement>,
    /// Ownerships in and out of the entity (live ones), each with its source.
    pub ownerships: Vec<SourcedLink>,
    /// Interests a source declares as held indirectly, kept as declared; the rules never
    /// compute on them.
    pub declared_indirect: Vec<SourcedLink>,
    pub unknown_owners: Vec<UnknownOwners>,
    pub possible_matches: Vec<PossibleMatch>,
}

pub(crate) const MATCH_SELECT: &str =
    "SELECT m.pk AS id, a.id AS entity, b.id AS candidate, m.basis, m.score,
        m.explanation, m.status, m.decided_by, m.decided_at, m.note
    FROM possible_matches m JOIN entities a ON a.pk = m.entity_pk
    JOIN entities b ON b.pk = m.candidate_pk";

/// Which source said what about the entity `id` (deleted or not).
pub async fn sources(pool: &PgPool, id: &str) -> Result<EntitySources, DbError> {
    let pk: i64 = sqlx::query_scalar("SELECT pk FROM entities WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| DbError::not_found("entity", id))?;
    let statements: Vec<SourceStatement> = sqlx::query_as(
        "SELECT source, record, placeholder, resolved_by, statement, created_at AS first_seen,
             updated_at
         FROM entity_sources WHERE entity_pk = $1 ORDER BY pk",
    )
    .bind(pk)
    .fetch_all(pool)
    .await?;
    let ownerships: Vec<SourcedLink> = sqlx::query_as(
        "SELECT o.id, a.id AS owner, b.id AS owned, o.interest,
             coalesce(o.stated_share,
                 CASE WHEN o.share IS NOT NULL THEN jsonb_build_object('exact', o.share)
                      WHEN o.share_min IS NOT NULL
                          THEN jsonb_build_object('min', o.share_min, 'max', o.share_max)
                 END) AS share,
             o.valid_from, o.valid_to, o.source, o.source_record, o.details
         FROM ownerships o JOIN entities a ON a.pk = o.owner_pk
         JOIN entities b ON b.pk = o.owned_pk
         WHERE (o.owner_pk = $1 OR o.owned_pk = $1) AND o.deleted_at IS NULL ORDER BY o.pk",
    )
    .bind(pk)
    .fetch_all(pool)
    .await?;
    let declared_indirect: Vec<SourcedLink> = sqlx::query_as(
        "SELECT NULL::text AS id, a.id AS owner, b.id AS owned, d.interest, d.share,
             d.valid_from, d.valid_to, d.source, d.source_record, d.details
         FROM declared_interests d JOIN entities a ON a.pk = d.owner_pk
         JOIN entities b ON b.pk = d.owned_pk
         WHERE (d.owner_pk = $1 OR d.owned_pk = $1) AND d.deleted_at IS NULL ORDER BY d.pk",
    )
    .bind(pk)
    .fetch_all(pool)
    .await?;
    let unknown_owners: Vec<UnknownOwners> = sqlx::query_as(
        "SELECT reason, source_reason, details, interest, share, valid_from, valid_to, source,
             source_record
         FROM declared_unknowns WHERE entity_pk = $1 AND deleted_at IS NULL ORDER BY pk",
    )
    .bind(pk)
    .fetch_all(pool)
    .await?;
    let possible_matches: Vec<PossibleMatch> = sqlx::query_as(&format!(
        "{MATCH_SELECT} WHERE m.entity_pk = $1 OR m.candidate_pk = $1 ORDER BY m.pk"
    ))
    .bind(pk)
    .fetch_all(pool)
    .await?;
    Ok(EntitySources {
        entity: id.to_owned(),
        statements,
        ownerships,
        declared_indirect,
        unknown_owners,
        possible_matches,
    })
}
