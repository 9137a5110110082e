//! Loading the whole graph at start-up, in one consistent read.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::DbError;
use super::copy;
use super::entities::parse_jurisdiction;
use super::lists::{ENTRY_SELECT, EntryRow, LIST_COLUMNS, ListRow};
use super::ownerships::edge;
use crate::domain::{EntityKind, Entry, Interest};
use crate::engine::{BaseBuilder, EdgeData, NodeData, Snapshot};
use crate::matching::Record;
use crate::names::NameChange;

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
/// entries in one REPEATABLE READ snapshot, so that what is loaded matches exactly the
/// change-log version read in it. Entities and ownerships, nearly all of the data, stream
/// with binary `COPY`, the ownerships on a second connection that shares the snapshot, so the
/// two are read and decoded at once. Every list entry is also sent to `entries`, in batches,
/// as the changes that build the entry name index from empty.
pub async fn snapshot(
    pool: &PgPool,
    entries: mpsc::Sender<Vec<NameChange>>,
) -> Result<Snapshot, DbError> {
    let (mut tx, version) = consistent_read(pool).await?;
    let (shared, nodes, edges): (String, f32, f32) = sqlx::query_as(
        "SELECT pg_export_snapshot(),
                (SELECT reltuples FROM pg_class WHERE oid = 'entities'::regclass),
                (SELECT reltuples FROM pg_class WHERE oid = 'ownerships'::regclass)",
    )
    .fetch_one(&mut *tx)
    .await?;
    // Planner estimates (-1 before the first analyze): capacities only.
    let (nodes, edges) = (nodes.max(0.0) as usize, edges.max(0.0) as usize);
    let links = tokio::spawn(links(pool.clone(), shared, edges));
    let mut b = BaseBuilder::with_capacity(nodes, edges);
    copy::for_each_row(
        &mut tx,
        "SELECT pk, id, name, kind, jurisdiction, headquarters FROM entities WHERE deleted_at IS NULL",
        |f| {
            let key = f.i64()?;
            let id = f.str()?;
            let name = f.str()?;
            let kind = EntityKind::parse(f.str()?)
                .ok_or_else(|| DbError::Corrupt(format!("entity '{id}' kind")))?;
            b.add_node(NodeData {
                key,
                kind,
                jurisdiction: parse_jurisdiction(f.str_opt()?)?,
                headquarters: parse_jurisdiction(f.str_opt()?)?,
                id: id.into(),
                name: name.into(),
            });
            Ok(())
        },
    )
    .await?;
    let links = links
        .await
        .map_err(|e| DbError::Corrupt(format!("reading ownerships: {e}")))??;
    for (owner, owned, edge) in links {
        let ix = |key| {
            b.find_key(key).ok_or_else(|| {
                DbError::Corrupt(format!("ownership {} links a deleted entity", edge.key))
            })
        };
        let (owner, owned) = (ix(owner)?, ix(owned)?);
        b.add_link_ix(owner, owned, edge);
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

/// Every live ownership as (owner key, owned key, edge), read with binary `COPY` on a
/// connection of its own in the exported snapshot `shared`.
async fn links(
    pool: PgPool,
    shared: String,
    capacity: usize,
) -> Result<Vec<(i64, i64, EdgeData)>, DbError> {
    let mut tx = pool.begin().await?;
    // The id comes from pg_export_snapshot(); SET TRANSACTION takes no parameters.
    if !shared.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(DbError::Corrupt(format!("snapshot id '{shared}'")));
    }
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{shared}'"))
        .execute(&mut *tx)
        .await?;
    let mut out = Vec::with_capacity(capacity);
    copy::for_each_row(
        &mut tx,
        "SELECT pk, owner_pk, owned_pk, interest, share, share_min, share_max,
                share_min_exclusive, share_max_exclusive, valid_from, valid_to
         FROM ownerships WHERE deleted_at IS NULL",
        |f| {
            let (key, owner, owned) = (f.i64()?, f.i64()?, f.i64()?);
            let interest = f.str()?;
            let interest = Interest::parse(interest)
                .ok_or_else(|| DbError::Corrupt(format!("interest '{interest}'")))?;
            let shares = (f.f64_opt()?, f.f64_opt()?, f.f64_opt()?);
            let exclusive = (f.bool()?, f.bool()?);
            let valid = (f.date_opt()?, f.date_opt()?);
            out.push((owner, owned, edge(key, interest, shares, exclusive, valid)));
            Ok(())
        },
    )
    .await?;
    tx.commit().await?;
    Ok(out)
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
