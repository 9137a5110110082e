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
    kind: String,
    jurisdiction: Option<String>,
    headquarters: Option<String>,
}

#[derive(sqlx::FromRow)]
struct NameRow {
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

/// How many name-index changes travel to an index builder at once.
const NAME_BATCH: usize = 4096;

/// Collects name-index changes into batches for a builder on another thread.
struct Batches {
    batch: Vec<NameChange>,
    out: mpsc::Sender<Vec<NameChange>>,
}

impl Batches {
    fn new(out: mpsc::Sender<Vec<NameChange>>) -> Self {
        Self {
            batch: Vec::with_capacity(NAME_BATCH),
            out,
        }
    }

    async fn push(&mut self, c: NameChange) -> Result<(), DbError> {
        self.batch.push(c);
        if self.batch.len() == NAME_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), DbError> {
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(NAME_BATCH));
        self.out
            .send(full)
            .await
            .map_err(|_| DbError::Corrupt("the name index builder stopped".into()))
    }
}

/// Opens a read-only REPEATABLE READ transaction and reads the change-log version it sees.
async fn consistent_read(pool: &PgPool) -> Result<(super::Tx, i64), DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let version = super::latest_version(&mut *tx).await?;
    Ok((tx, version))
}

/// Reads entities, ownerships, lists, listings, declarations of unknown owners and list
/// entries in one REPEATABLE READ
/// transaction, so that what is loaded matches exactly the change-log version read in the
/// same transaction. Every list entry is also sent to `entries`, in batches, as the changes
/// that build the entry name index from empty.
pub async fn snapshot(
    pool: &PgPool,
    entries: mpsc::Sender<Vec<NameChange>>,
) -> Result<Snapshot, DbError> {
    let (mut tx, version) = consistent_read(pool).await?;
    let (nodes, edges): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM entities WHERE deleted_at IS NULL),
                (SELECT count(*) FROM ownerships WHERE deleted_at IS NULL)",
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut b = BaseBuilder::with_capacity(nodes as usize, edges as usize);
    {
        // Only what the graph keeps; the entity name index is read separately.
        let mut rows = sqlx::query_as::<_, NodeRow>(
            "SELECT pk, id, name, kind, jurisdiction, headquarters FROM entities WHERE deleted_at IS NULL",
        )
        .fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            b.add_node(NodeData {
                key: r.pk,
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
    for (entity, unknowns) in super::registry::unknown_owners(&mut tx, None).await? {
        b.set_unknown_owners(&entity, unknowns);
    }
    {
        let mut out = Batches::new(entries);
        let sql = format!("{ENTRY_SELECT} WHERE e.deleted_at IS NULL");
        let mut rows = sqlx::query_as::<_, EntryRow>(&sql).fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let (key, list) = (row.pk, row.list_pk);
            out.push(NameChange::entry(key, list, &Entry::try_from(row)?))
                .await?;
        }
        out.flush().await?;
    }
    tx.commit().await?;
    Ok(b.finish(version))
}

/// Reads every live entity's names, kind, countries and identifiers in one REPEATABLE READ
/// transaction and sends them to `names` as the changes that build the entity name index from
/// empty. Returns the change-log version they reflect.
pub async fn entity_names(
    pool: &PgPool,
    names: mpsc::Sender<Vec<NameChange>>,
) -> Result<i64, DbError> {
    let (mut tx, version) = consistent_read(pool).await?;
    let mut out = Batches::new(names);
    {
        let mut rows = sqlx::query_as::<_, NameRow>(
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
            let identifiers: BTreeMap<String, String> = serde_json::from_str(&r.identifiers)
                .map_err(|_| DbError::Corrupt(format!("entity '{}' identifiers", r.id)))?;
            let mut all = Vec::with_capacity(1 + r.aliases.len());
            all.push(r.name);
            all.extend(r.aliases);
            out.push(NameChange::Entity {
                key: r.pk,
                id: r.id.into(),
                party: Record {
                    names: all,
                    kind: Some(kind),
                    countries,
                    identifiers: identifiers.into_iter().collect(),
                },
            })
            .await?;
        }
    }
    out.flush().await?;
    tx.commit().await?;
    Ok(version)
}
