//! Loading the whole graph at start-up, in one consistent read.

use futures_util::TryStreamExt;
use sqlx::PgPool;

use super::DbError;
use super::entities::parse_jurisdiction;
use super::lists::{ENTRY_SELECT, EntryRow, LIST_COLUMNS, ListRow};
use super::ownerships::{OwnershipRow, SELECT};
use crate::domain::EntityKind;
use crate::engine::{BaseBuilder, NodeData, Snapshot};

#[derive(sqlx::FromRow)]
struct NodeRow {
    id: String,
    name: String,
    kind: String,
    jurisdiction: Option<String>,
    headquarters: Option<String>,
}

/// Reads entities, ownerships, lists and listings in one REPEATABLE READ transaction, so the
/// snapshot matches exactly the change-log version read in the same transaction.
pub async fn snapshot(pool: &PgPool) -> Result<Snapshot, DbError> {
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
    {
        // Only what the graph keeps: aliases and identifiers stay in the store.
        let mut rows = sqlx::query_as::<_, NodeRow>(
            "SELECT id, name, kind, jurisdiction, headquarters FROM entities WHERE deleted_at IS NULL",
        )
        .fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            b.add_node(NodeData {
                kind: EntityKind::parse(&r.kind)
                    .ok_or_else(|| DbError::Corrupt(format!("entity '{}' kind", r.id)))?,
                jurisdiction: parse_jurisdiction(r.jurisdiction.as_deref())?,
                headquarters: parse_jurisdiction(r.headquarters.as_deref())?,
                id: r.id.into(),
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
    tx.commit().await?;
    Ok(b.finish(version))
}
