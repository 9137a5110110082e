//! Loading the whole graph at start-up, in one consistent read.

use futures_util::TryStreamExt;
use sqlx::PgPool;

use super::DbError;
use super::entities::parse_jurisdiction;
use super::lists::{ENTRY_SELECT, EntryRow, LIST_COLUMNS, ListRow};
use super::ownerships::{OwnershipRow, SELECT};
use crate::domain::{EntityKind, Entry};
use crate::engine::{BaseBuilder, NodeData, Snapshot};
use crate::names::{NameChange, Party};

#[derive(sqlx::FromRow)]
struct NodeRow {
    pk: i64,
    id: String,
    name: String,
    aliases: Vec<String>,
    kind: String,
    jurisdiction: Option<String>,
    headquarters: Option<String>,
    identifiers: sqlx::types::Json<Vec<(String, String)>>,
}

/// The graph and the name indexes' content at one change-log version.
pub struct Loaded {
    pub snapshot: Snapshot,
    /// Every entry and entity, as name-index changes to apply to an empty index.
    pub names: Vec<NameChange>,
}

/// Reads entities, ownerships, lists, listings and names in one REPEATABLE READ transaction,
/// so that what is loaded matches exactly the change-log version read in the same transaction.
pub async fn snapshot(pool: &PgPool) -> Result<Loaded, DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let version: i64 = sqlx::query_scalar("SELECT version FROM graph_state")
        .fetch_one(&mut *tx)
        .await?;
    let (nodes, edges): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM entities WHERE deleted_at IS NULL),
                (SELECT count(*) FROM ownerships WHERE deleted_at IS NULL)",
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut b = BaseBuilder::with_capacity(nodes as usize, edges as usize);
    let mut names = Vec::with_capacity(nodes as usize);
    {
        // Identifiers as (scheme, value) pairs, the shape the name index takes.
        let mut rows = sqlx::query_as::<_, NodeRow>(
            "SELECT pk, id, name, aliases, kind, jurisdiction, headquarters,
                    (SELECT coalesce(jsonb_agg(jsonb_build_array(k, v)), '[]') FROM jsonb_each_text(identifiers) AS i(k, v)) AS identifiers
             FROM entities WHERE deleted_at IS NULL",
        )
        .fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            let kind = EntityKind::parse(&r.kind)
                .ok_or_else(|| DbError::Corrupt(format!("entity '{}' kind", r.id)))?;
            let jurisdiction = parse_jurisdiction(r.jurisdiction.as_deref())?;
            let headquarters = parse_jurisdiction(r.headquarters.as_deref())?;
            let mut countries: Vec<_> = jurisdiction.into_iter().collect();
            countries.extend(headquarters.filter(|h| Some(*h) != jurisdiction));
            let id: Box<str> = r.id.into();
            let mut all = Vec::with_capacity(1 + r.aliases.len());
            all.push(r.name.clone());
            all.extend(r.aliases);
            names.push(NameChange::Entity {
                key: r.pk,
                id: id.clone(),
                party: Party {
                    names: all,
                    kind: Some(kind),
                    countries,
                    identifiers: r.identifiers.0,
                },
            });
            b.add_node(NodeData {
                key: r.pk,
                kind,
                jurisdiction,
                headquarters,
                id,
                name: r.name.into(),
            });
        }
    }
    {
        let sql = format!("{SELECT} WHERE o.deleted_at IS NULL");
        let mut rows = sqlx::query_as::<_, OwnershipRow>(&sql).fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            b.add_link(&row.owner, &row.owned, row.edge()?)
                .map_err(|e| DbError::Corrupt(e.to_string()))?;
        }
    }
    let lists: Vec<ListRow> = sqlx::query_as(&format!("SELECT {LIST_COLUMNS} FROM lists"))
        .fetch_all(&mut *tx)
        .await?;
    for l in &lists {
        b.add_list(l.meta());
    }
    {
        let sql = format!(
            "{ENTRY_SELECT} WHERE e.deleted_at IS NULL AND e.entity_pk IS NOT NULL AND n.deleted_at IS NULL"
        );
        let mut rows = sqlx::query_as::<_, EntryRow>(&sql).fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let entity = row.entity.clone().unwrap_or_default();
            b.add_listing(&entity, row.listing())
                .map_err(|e| DbError::Corrupt(e.to_string()))?;
        }
    }
    {
        let sql = format!("{ENTRY_SELECT} WHERE e.deleted_at IS NULL");
        let mut rows = sqlx::query_as::<_, EntryRow>(&sql).fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let (key, list) = (row.pk, row.list_pk);
            names.push(NameChange::entry(key, list, &Entry::try_from(row)?));
        }
    }
    tx.commit().await?;
    Ok(Loaded {
        snapshot: b.finish(version),
        names,
    })
}
