//! Entities: create, read, patch, soft delete, search, history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

use super::{
    ChangeRecord, Committed, DbError, Page, begin_change, commit_change, decode_cursor, json,
    like_escape, on_constraint, page,
};
use crate::domain::{
    Aliases, Entity, EntityId, EntityKind, EntityPatch, Identifiers, Jurisdiction, Name, NewEntity,
};
use crate::engine::{GraphChange, NodeData};
use crate::matching::Record;
use crate::names::NameChange;

#[derive(FromRow)]
pub(crate) struct EntityRow {
    pub pk: i64,
    pub id: String,
    pub kind: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub jurisdiction: Option<String>,
    pub headquarters: Option<String>,
    pub identifiers: sqlx::types::Json<BTreeMap<String, String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

pub(crate) const COLUMNS: &str = "pk, id, kind, name, aliases, jurisdiction, headquarters, identifiers, created_at, updated_at, deleted_at";

/// [`COLUMNS`] of the table or subquery named `alias` (`e.pk, e.id, ...`).
pub(crate) fn columns_of(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn corrupt(what: &str, v: &str) -> DbError {
    DbError::Corrupt(format!("stored {what} '{v}' does not parse"))
}

/// Aliases as stored; the error is the one that no longer parses.
pub(crate) fn stored_aliases(v: &[String]) -> Result<Aliases, &str> {
    v.iter()
        .map(|a| Name::parse(a).map_err(|_| a.as_str()))
        .collect::<Result<_, _>>()
        .map(Aliases)
}

pub(crate) fn parse_jurisdiction(v: Option<&str>) -> Result<Option<Jurisdiction>, DbError> {
    v.map(|s| Jurisdiction::parse(s).map_err(|_| corrupt("jurisdiction", s)))
        .transpose()
}

impl TryFrom<EntityRow> for Entity {
    type Error = DbError;
    fn try_from(r: EntityRow) -> Result<Entity, DbError> {
        Ok(Entity {
            id: r.id.parse().map_err(|_| corrupt("entity id", &r.id))?,
            kind: EntityKind::parse(&r.kind).ok_or_else(|| corrupt("kind", &r.kind))?,
            name: Name::parse(&r.name).map_err(|_| corrupt("name", &r.name))?,
            aliases: stored_aliases(&r.aliases).map_err(|a| corrupt("alias", a))?,
            jurisdiction: parse_jurisdiction(r.jurisdiction.as_deref())?,
            headquarters: parse_jurisdiction(r.headquarters.as_deref())?,
            identifiers: Identifiers::from_stored(r.identifiers.0),
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
    }
}

/// What the graph keeps of an entity.
pub fn node(key: i64, e: &Entity) -> NodeData {
    NodeData {
        key,
        id: e.id.as_str().into(),
        name: e.name.as_str().into(),
        kind: e.kind,
        jurisdiction: e.jurisdiction,
        headquarters: e.headquarters,
    }
}

pub(crate) fn search_text(name: &Name, aliases: &Aliases) -> String {
    let mut s = name.as_str().to_lowercase();
    for a in &aliases.0 {
        s.push('\n');
        s.push_str(&a.as_str().to_lowercase());
    }
    s
}

fn identifiers_json(i: &Identifiers) -> serde_json::Value {
    serde_json::to_value(i).unwrap_or_default()
}

fn alias_strings(a: &Aliases) -> Vec<String> {
    a.0.iter().map(|n| n.as_str().to_owned()).collect()
}

pub async fn create(
    pool: &PgPool,
    actor: &str,
    new: NewEntity,
) -> Result<(Entity, Committed), DbError> {
    let (tx, version) = begin_change(pool).await?;
    let id = new.id.unwrap_or_else(EntityId::generate);
    let fields = Fields {
        kind: new.kind,
        name: &new.name,
        aliases: &new.aliases,
        jurisdiction: new.jurisdiction,
        headquarters: new.headquarters,
        identifiers: &new.identifiers,
    };
    write(
        tx,
        version,
        actor,
        "entity.create",
        INSERT,
        &id,
        fields,
        None,
    )
    .await
}

/// The stored fields of an entity, as [`write_row`] binds them.
pub(crate) struct Fields<'a> {
    pub kind: EntityKind,
    pub name: &'a Name,
    pub aliases: &'a Aliases,
    pub jurisdiction: Option<Jurisdiction>,
    pub headquarters: Option<Jurisdiction>,
    pub identifiers: &'a Identifiers,
}

/// Runs an INSERT or UPDATE that takes `$1` id, then kind, name, aliases, jurisdiction,
/// headquarters, identifiers and search text, inside a graph-changing transaction.
pub(crate) async fn write_row(
    tx: &mut super::Tx,
    sql: &str,
    id: &EntityId,
    f: Fields<'_>,
) -> Result<(i64, Entity), DbError> {
    let row: EntityRow = sqlx::query_as(&format!("{sql} RETURNING {COLUMNS}"))
        .bind(id.as_str())
        .bind(f.kind.as_str())
        .bind(f.name.as_str())
        .bind(alias_strings(f.aliases))
        .bind(f.jurisdiction.map(String::from))
        .bind(f.headquarters.map(String::from))
        .bind(identifiers_json(f.identifiers))
        .bind(search_text(f.name, f.aliases))
        .fetch_one(&mut **tx)
        .await
        .map_err(on_constraint)?;
    Ok((row.pk, Entity::try_from(row)?))
}

pub(crate) const INSERT: &str = "INSERT INTO entities (id, kind, name, aliases, jurisdiction, headquarters, identifiers, search)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(crate) const UPDATE: &str =
    "UPDATE entities SET kind = $2, name = $3, aliases = $4, jurisdiction = $5, headquarters = $6,
        identifiers = $7, search = $8, updated_at = now()
    WHERE id = $1";

/// [`write_row`], then records the change and commits.
#[allow(clippy::too_many_arguments)]
async fn write(
    mut tx: super::Tx,
    version: i64,
    actor: &str,
    action: &'static str,
    sql: &str,
    id: &EntityId,
    f: Fields<'_>,
    before: Option<&Entity>,
) -> Result<(Entity, Committed), DbError> {
    let (key, entity) = write_row(&mut tx, sql, id, f).await?;
    let rec = ChangeRecord {
        actor,
        action,
        entities: vec![entity.id.to_string()],
        before: before.and_then(json),
        after: json(&entity),
        changes: vec![GraphChange::UpsertEntity {
            node: node(key, &entity),
        }],
        names: vec![NameChange::Entity {
            key,
            party: Record::of_entity(&entity),
        }],
    };
    let committed = commit_change(tx, version, rec).await?;
    Ok((entity, committed))
}

/// An entity by id, deleted or not.
pub async fn get(pool: &PgPool, id: &EntityId) -> Result<Entity, DbError> {
    let row: Option<EntityRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM entities WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?;
    row.ok_or_else(|| DbError::not_found("entity", id))?
        .try_into()
}

/// A live entity by id, locked for the rest of the transaction.
pub(crate) async fn lock_live(
    conn: &mut sqlx::PgConnection,
    id: &EntityId,
) -> Result<EntityRow, DbError> {
    let row: Option<EntityRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM entities WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or_else(|| DbError::not_found("entity", id))
}

pub async fn patch(
    pool: &PgPool,
    actor: &str,
    id: &EntityId,
    p: EntityPatch,
) -> Result<(Entity, Committed), DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let row = lock_live(&mut tx, id).await?;
    let key = row.pk;
    let before = Entity::try_from(row)?;
    let after = before.patched(p);
    // An entity that registries describe is their statements folded: what an operator sets
    // becomes the `store` statement, which comes first, so that no later import undoes it.
    super::registry::state_in_store(&mut tx, key, &after).await?;
    let fields = Fields {
        kind: after.kind,
        name: &after.name,
        aliases: &after.aliases,
        jurisdiction: after.jurisdiction,
        headquarters: after.headquarters,
        identifiers: &after.identifiers,
    };
    write(
        tx,
        version,
        actor,
        "entity.update",
        UPDATE,
        id,
        fields,
        Some(&before),
    )
    .await
}

/// Soft-deletes an entity and every ownership that touches it.
pub async fn delete(pool: &PgPool, actor: &str, id: &EntityId) -> Result<Committed, DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let row = lock_live(&mut tx, id).await?;
    let key = row.pk;
    let before = Entity::try_from(row)?;
    let links: Vec<(i64, String, String)> = sqlx::query_as(
        "UPDATE ownerships o SET deleted_at = now()
         FROM entities a, entities b, entities e
         WHERE e.id = $1 AND (o.owner_pk = e.pk OR o.owned_pk = e.pk) AND o.deleted_at IS NULL
           AND a.pk = o.owner_pk AND b.pk = o.owned_pk
         RETURNING o.pk, a.id, b.id",
    )
    .bind(id.as_str())
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("UPDATE entities SET deleted_at = now(), updated_at = now() WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    let mut changes: Vec<GraphChange> = links
        .iter()
        .map(|(key, owner, owned)| GraphChange::RemoveLink {
            owner: owner.as_str().into(),
            owned: owned.as_str().into(),
            key: *key,
        })
        .collect();
    changes.push(GraphChange::RemoveEntity {
        id: id.as_str().into(),
    });
    let mut entities = vec![id.to_string()];
    entities.extend(
        links
            .iter()
            .flat_map(|(_, a, b)| [a.clone(), b.clone()])
            .filter(|x| x != id.as_str()),
    );
    entities.sort();
    entities.dedup();
    let rec = ChangeRecord {
        actor,
        action: "entity.delete",
        entities,
        before: json(&before),
        after: None,
        changes,
        names: vec![NameChange::RemoveEntity { key }],
    };
    commit_change(tx, version, rec).await
}

pub struct EntityFilter {
    pub q: Option<String>,
    pub jurisdiction: Option<Jurisdiction>,
    pub kind: Option<EntityKind>,
    pub cursor: Option<String>,
    pub limit: usize,
}

pub async fn list(pool: &PgPool, f: EntityFilter) -> Result<Page<Entity>, DbError> {
    let after = f.cursor.as_deref().map(decode_cursor).transpose()?;
    let pattern =
        f.q.as_deref()
            .map(|q| format!("%{}%", like_escape(&q.to_lowercase())));
    // A country filter also finds entities in its subdivisions.
    let (jur_exact, jur_prefix) = match f.jurisdiction {
        Some(j) if j.is_country() => (Some(j.to_string()), Some(format!("{j}-%"))),
        Some(j) => (Some(j.to_string()), None),
        None => (None, None),
    };
    let rows: Vec<EntityRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM entities
         WHERE deleted_at IS NULL
           AND ($1::text IS NULL OR id > $1)
           AND ($2::text IS NULL OR search LIKE $2)
           AND ($3::text IS NULL OR jurisdiction = $3 OR ($4::text IS NOT NULL AND jurisdiction LIKE $4))
           AND ($5::text IS NULL OR kind = $5)
         ORDER BY id LIMIT $6"
    ))
    .bind(after)
    .bind(pattern)
    .bind(jur_exact)
    .bind(jur_prefix)
    .bind(f.kind.map(EntityKind::as_str))
    .bind(f.limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    let entities = rows
        .into_iter()
        .map(Entity::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(entities, f.limit, |e| e.id.to_string()))
}

/// Finds a live entity by LEI, or by registration number within a jurisdiction.
pub async fn resolve(
    pool: &PgPool,
    lei: Option<&str>,
    registration: Option<(&str, Jurisdiction)>,
) -> Result<Option<(EntityId, &'static str)>, DbError> {
    if let Some(lei) = lei {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM entities WHERE identifiers->>'lei' = $1 AND deleted_at IS NULL",
        )
        .bind(lei)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = id {
            return Ok(Some((
                id.parse().map_err(|_| corrupt("entity id", &id))?,
                "lei",
            )));
        }
    }
    if let Some((number, jurisdiction)) = registration {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM entities
             WHERE identifiers->>'registration_number' = $1 AND jurisdiction = $2 AND deleted_at IS NULL",
        )
        .bind(number)
        .bind(jurisdiction.to_string())
        .fetch_optional(pool)
        .await?;
        if let Some(id) = id {
            return Ok(Some((
                id.parse().map_err(|_| corrupt("entity id", &id))?,
                "registration_number",
            )));
        }
    }
    Ok(None)
}

/// One change-log row about an entity.
#[derive(Debug, serde::Serialize, utoipa::ToSchema, FromRow)]
pub struct HistoryItem {
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// The change-log rows that touch an entity, newest first.
pub async fn history(
    pool: &PgPool,
    id: &EntityId,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<HistoryItem>, DbError> {
    let before = super::decode_key_cursor(cursor)?;
    let rows: Vec<HistoryItem> = sqlx::query_as(
        "SELECT version, recorded_at, actor, action, before, after FROM change_log
         WHERE entities @> ARRAY[$1::text] AND ($2::bigint IS NULL OR version < $2)
         ORDER BY version DESC LIMIT $3",
    )
    .bind(id.as_str())
    .bind(before)
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    Ok(page(rows, limit, |h| h.version.to_string()))
}
