//! The store as registry data ([`Registry`]), for export as BODS 0.4: the whole graph, or one
//! entity's ownership neighbourhood.
//!
//! Record ids are the BODS record an entity or link was imported from, where there is one, and
//! otherwise its id in the store, so that importing an export into the same store changes
//! nothing. Every identifier any source stated is kept; shares are exported as the source
//! stated them; interests declared indirect and owners declared unknown go too.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};

use super::entities::{COLUMNS, EntityRow};
use super::registry::Statement;
use super::{DbError, Tx};
use crate::domain::{Entity, Interest};
use crate::formats::{DeclaredUnknown, Registry, RegistryLink, RegistryParty, ShareBounds};

/// What to export.
#[derive(Clone, Debug)]
pub enum Scope {
    All,
    /// The entity, its owners and its holdings up to `depth` links away (and the owners that
    /// declare an indirect interest in it).
    Around {
        entity: String,
        depth: u32,
    },
}

#[derive(FromRow)]
struct LinkRow {
    id: String,
    source: Option<String>,
    source_record: Option<String>,
    owner_pk: i64,
    owned_pk: i64,
    interest: String,
    share: Option<f64>,
    share_min: Option<f64>,
    share_max: Option<f64>,
    stated_share: Option<Json<ShareBounds>>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    details: Option<String>,
}

#[derive(FromRow)]
struct UnknownRow {
    source: String,
    source_record: String,
    entity_pk: i64,
    source_reason: String,
    details: Option<String>,
    interest: Option<String>,
    share: Option<Json<ShareBounds>>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// The entities of `scope`, with the links among them, at one consistent read.
pub async fn registry(pool: &PgPool, scope: &Scope) -> Result<Registry, DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let pks = entity_keys(&mut tx, scope).await?;
    let rows: Vec<EntityRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM entities WHERE deleted_at IS NULL
           AND ($1::bigint[] IS NULL OR pk = ANY($1)) ORDER BY pk"
    ))
    .bind(pks.as_deref())
    .fetch_all(&mut *tx)
    .await?;
    let statements: Vec<(i64, String, String, Json<Statement>)> = sqlx::query_as(
        "SELECT entity_pk, source, record, statement FROM entity_sources
         WHERE ($1::bigint[] IS NULL OR entity_pk = ANY($1)) ORDER BY pk",
    )
    .bind(pks.as_deref())
    .fetch_all(&mut *tx)
    .await?;
    let mut record: HashMap<i64, String> = HashMap::new();
    let mut stated: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (pk, source, rec, s) in statements {
        if source == "bods" {
            record.entry(pk).or_insert(rec);
        }
        let ids = stated.entry(pk).or_default();
        for pair in s.0.identifiers {
            if !ids.contains(&pair) {
                ids.push(pair);
            }
        }
    }
    let mut out = Registry::default();
    let mut party_id: HashMap<i64, String> = HashMap::new();
    for row in rows {
        let pk = row.pk;
        let e = Entity::try_from(row)?;
        let id = record.remove(&pk).unwrap_or_else(|| e.id.to_string());
        let mut identifiers: Vec<(String, String)> = e
            .identifiers
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for pair in stated.remove(&pk).unwrap_or_default() {
            if !identifiers.contains(&pair) {
                identifiers.push(pair);
            }
        }
        party_id.insert(pk, id.clone());
        out.parties.push(RegistryParty {
            id,
            kind: e.kind,
            name: e.name,
            aliases: e.aliases.0,
            jurisdiction: e.jurisdiction,
            headquarters: e.headquarters,
            identifiers,
            source: "ownergraph".to_owned(),
            placeholder: false,
        });
    }
    let direct: Vec<LinkRow> = sqlx::query_as(
        "SELECT id, source, source_record, owner_pk, owned_pk, interest, share, share_min,
             share_max, stated_share, valid_from, valid_to, details
         FROM ownerships WHERE deleted_at IS NULL
           AND ($1::bigint[] IS NULL OR (owner_pk = ANY($1) AND owned_pk = ANY($1)))
         ORDER BY pk",
    )
    .bind(pks.as_deref())
    .fetch_all(&mut *tx)
    .await?;
    let declared: Vec<LinkRow> = sqlx::query_as(
        "SELECT source || ':' || source_record AS id, source, source_record, owner_pk, owned_pk,
             interest, NULL::float8 AS share, NULL::float8 AS share_min,
             NULL::float8 AS share_max, share AS stated_share, valid_from, valid_to, details
         FROM declared_interests WHERE deleted_at IS NULL
           AND ($1::bigint[] IS NULL OR (owner_pk = ANY($1) AND owned_pk = ANY($1)))
         ORDER BY pk",
    )
    .bind(pks.as_deref())
    .fetch_all(&mut *tx)
    .await?;
    for (rows, indirect) in [(direct, false), (declared, true)] {
        for r in rows {
            let (Some(owner), Some(owned)) = (party_id.get(&r.owner_pk), party_id.get(&r.owned_pk))
            else {
                continue;
            };
            let interest = Interest::parse(&r.interest)
                .ok_or_else(|| DbError::Corrupt(format!("interest '{}'", r.interest)))?;
            let share = match (r.stated_share, r.share, r.share_min, r.share_max) {
                (Some(s), ..) => s.0,
                (None, Some(x), ..) => ShareBounds {
                    exact: Some(x),
                    ..ShareBounds::UNKNOWN
                },
                (None, None, min, max) => ShareBounds {
                    min,
                    max,
                    ..ShareBounds::UNKNOWN
                },
            };
            out.links.push(RegistryLink {
                id: bods_record(r.source.as_deref(), r.source_record, r.id),
                owner: owner.clone(),
                owned: owned.clone(),
                interest,
                share,
                valid_from: r.valid_from,
                valid_to: r.valid_to,
                declared_indirect: indirect,
                details: r.details,
            });
        }
    }
    // A BODS relationship's interests were numbered `{record}/1`, `{record}/2`, ... on import:
    // in id order they are written back as that one relationship.
    out.links.sort_by(|a, b| a.id.cmp(&b.id));
    let unknowns: Vec<UnknownRow> = sqlx::query_as(
        "SELECT source, source_record, entity_pk, source_reason, details, interest, share,
             valid_from, valid_to
         FROM declared_unknowns WHERE deleted_at IS NULL
           AND ($1::bigint[] IS NULL OR entity_pk = ANY($1))
         ORDER BY pk",
    )
    .bind(pks.as_deref())
    .fetch_all(&mut *tx)
    .await?;
    for u in unknowns {
        let Some(subject) = party_id.get(&u.entity_pk) else {
            continue;
        };
        out.unknowns.push(DeclaredUnknown {
            id: bods_record(
                Some(&u.source),
                Some(u.source_record.clone()),
                format!("{}:{}", u.source, u.source_record),
            ),
            subject: subject.clone(),
            reason: u.source_reason,
            details: u.details,
            interest: u.interest.as_deref().and_then(Interest::parse),
            share: u.share.map_or(ShareBounds::UNKNOWN, |s| s.0),
            valid_from: u.valid_from,
            valid_to: u.valid_to,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// A link's record id: the BODS one it was imported from, else `fallback`.
fn bods_record(source: Option<&str>, record: Option<String>, fallback: String) -> String {
    match (source, record) {
        (Some("bods"), Some(r)) => r,
        _ => fallback,
    }
}

/// The keys of the entities in scope; `None` for all.
async fn entity_keys(tx: &mut Tx, scope: &Scope) -> Result<Option<Vec<i64>>, DbError> {
    let Scope::Around { entity, depth } = scope else {
        return Ok(None);
    };
    let pks: Vec<i64> = sqlx::query_scalar(
        "WITH RECURSIVE
         start AS (SELECT pk FROM entities WHERE id = $1 AND deleted_at IS NULL),
         up(pk, d) AS (
             SELECT pk, 0 FROM start
             UNION
             SELECT o.owner_pk, up.d + 1 FROM ownerships o JOIN up ON o.owned_pk = up.pk
             WHERE o.deleted_at IS NULL AND up.d < $2),
         down(pk, d) AS (
             SELECT pk, 0 FROM start
             UNION
             SELECT o.owned_pk, down.d + 1 FROM ownerships o JOIN down ON o.owner_pk = down.pk
             WHERE o.deleted_at IS NULL AND down.d < $2)
         SELECT pk FROM up UNION SELECT pk FROM down
         UNION SELECT d.owner_pk FROM declared_interests d JOIN start ON d.owned_pk = start.pk
             WHERE d.deleted_at IS NULL",
    )
    .bind(entity)
    .bind(*depth as i32)
    .fetch_all(&mut **tx)
    .await?;
    if pks.is_empty() {
        return Err(DbError::not_found("entity", entity));
    }
    let mut pks = pks;
    pks.sort_unstable();
    pks.dedup();
    Ok(Some(pks))
}
