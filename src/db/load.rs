//! Loading the whole graph at start-up, in one consistent read.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::DbError;
use super::entities::parse_jurisdiction;
use super::lists::{ENTRY_SELECT, EntryRow, LIST_COLUMNS, ListRow};
use super::ownerships::{OwnershipRow, SELECT};
use crate::domain::{EntityKind, Entry};
use crate::engine::{BaseBuilder, NodeData, Snapshot};
use crate::matching::Record;
use crate::names::NameChange;

#[derive(sqlx::FromRow)]
struct NodeRow {
    pk: i64,
    id: String,
    name: String,
    aliases: Vec<String>,
    kind: String,
    jurisdiction: Option<String>,
    headquarters: Option<String>,
    /// The JSON object as text: most entities have none, and parsing `{}` is free.
    identifiers: String,
}

/// How many name-index changes travel to the index builder at once.
const NAME_BATCH: usize = 4096;

/// Reads entities, ownerships, lists, listings and names in one REPEATABLE READ transaction,
/// so that what is loaded matches exactly the change-log version read in the same transaction.
/// Every entity and entry is also sent to `names`, in batches, as the changes that build the
/// name indexes from empty; the caller builds them on another core meanwhile.
pub async fn snapshot(
    pool: &PgPool,
    names: mpsc::Sender<Vec<NameChange>>,
) -> Result<Snapshot, DbError> {
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
    let mut batch = Vec::with_capacity(NAME_BATCH);
    let send = |batch: &mut Vec<NameChange>| {
        let full = std::mem::replace(batch, Vec::with_capacity(NAME_BATCH));
        let names = names.clone();
        async move {
            names
                .send(full)
                .await
                .map_err(|_| DbError::Corrupt("the name index builder stopped".into()))
        }
    };
    {
        // Identifiers as (scheme, value) pairs, the shape the name index takes.
        let mut rows = sqlx::query_as::<_, NodeRow>(
            "SELECT pk, id, name, aliases, kind, jurisdiction, headquarters,
                    identifiers::text AS identifiers
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
            let identifiers: BTreeMap<String, String> = serde_json::from_str(&r.identifiers)
                .map_err(|_| DbError::Corrupt(format!("entity '{id}' identifiers")))?;
            batch.push(NameChange::Entity {
                key: r.pk,
                id: id.clone(),
                party: Record {
                    names: all,
                    kind: Some(kind),
                    countries,
                    identifiers: identifiers.into_iter().collect(),
                },
            });
            if batch.len() == NAME_BATCH {
                send(&mut batch).await?;
            }
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
            batch.push(NameChange::entry(key, list, &Entry::try_from(row)?));
            if batch.len() == NAME_BATCH {
                send(&mut batch).await?;
            }
        }
    }
    send(&mut batch).await?;
    tx.commit().await?;
    Ok(b.finish(version))
}
