//! The store as BODS 0.4 statements: the whole graph, or one entity's ownership
//! neighbourhood, streamed from the store as it is written.
//!
//! Record ids are the BODS record an entity or link was imported from, where there is one, and
//! otherwise its id in the store, so that importing an export into the same store changes
//! nothing. Every identifier any source stated is kept; shares are exported as the source
//! stated them; interests declared indirect and owners declared unknown go too.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};

use super::entities::{EntityRow, columns_of};
use super::{DbError, Tx};
use crate::domain::{Entity, EntityKind, Interest};
use crate::formats::{
    BodsWriter, DeclaredUnknown, Publication, RegistryLink, RegistryParty, ShareBounds,
};

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
struct PartyRow {
    #[sqlx(flatten)]
    entity: EntityRow,
    /// The BODS record the entity was first imported from.
    bods_record: Option<String>,
    /// The identifiers each source stated, in the order stated.
    stated: Vec<Json<Vec<(String, String)>>>,
}

#[derive(FromRow)]
struct LinkRow {
    /// The record id it is exported under.
    xid: String,
    indirect: bool,
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
    xid: String,
    entity_pk: i64,
    source_reason: String,
    details: Option<String>,
    interest: Option<String>,
    share: Option<Json<ShareBounds>>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// What an export wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct Written {
    pub parties: u64,
    pub links: u64,
    pub unknowns: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for ExportError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Writes the entities of `scope`, the links among them and their declared unknowns as BODS
/// 0.4 statements, at one consistent read. Rows are streamed from the store as they are
/// written: memory holds the export id of each entity, not the graph.
///
/// Links are grouped into one relationship per `(owner, owned)` pair; pairs come in the order
/// of their smallest record id, and a pair's links in record-id order, so that a BODS
/// relationship whose interests were numbered `{record}/1`, `{record}/2`, ... on import is
/// written back as that one relationship.
pub async fn write(
    pool: &PgPool,
    scope: &Scope,
    publication: &Publication,
    out: &mut impl Write,
) -> Result<Written, ExportError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let pks = entity_keys(&mut tx, scope).await?;
    let mut w = BodsWriter::start(out, publication)?;
    let mut written = Written::default();

    // Export ids of the entities written; persons are never a relationship's subject.
    let mut party_id: HashMap<i64, String> = HashMap::new();
    let mut persons: HashSet<i64> = HashSet::new();
    let sql = format!(
        "SELECT {}, (SELECT s.record FROM entity_sources s
                     WHERE s.entity_pk = e.pk AND s.source = 'bods' ORDER BY s.pk LIMIT 1)
                 AS bods_record,
             ARRAY(SELECT coalesce(s.statement->'identifiers', '[]') FROM entity_sources s
                   WHERE s.entity_pk = e.pk ORDER BY s.pk) AS stated
         FROM entities e WHERE e.deleted_at IS NULL
           AND ($1::bigint[] IS NULL OR e.pk = ANY($1)) ORDER BY e.pk",
        columns_of("e")
    );
    let mut rows = sqlx::query_as::<_, PartyRow>(&sql)
        .bind(pks.as_deref())
        .fetch(&mut *tx);
    while let Some(row) = rows.try_next().await? {
        let pk = row.entity.pk;
        let e = Entity::try_from(row.entity)?;
        let id = row.bods_record.unwrap_or_else(|| e.id.to_string());
        let mut identifiers: Vec<(String, String)> = e
            .identifiers
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for pair in row.stated.into_iter().flat_map(|s| s.0) {
            if !identifiers.contains(&pair) {
                identifiers.push(pair);
            }
        }
        if e.kind == EntityKind::Person {
            persons.insert(pk);
        }
        w.party(&RegistryParty {
            id: id.clone(),
            kind: e.kind,
            name: e.name,
            aliases: e.aliases.0,
            jurisdiction: e.jurisdiction,
            headquarters: e.headquarters,
            identifiers,
            source: "ownergraph".to_owned(),
            placeholder: false,
        })?;
        party_id.insert(pk, id);
        written.parties += 1;
    }
    drop(rows);

    let mut rows = sqlx::query_as::<_, LinkRow>(
        r#"WITH l AS (
             SELECT CASE WHEN source = 'bods' AND source_record IS NOT NULL
                         THEN source_record ELSE id END AS xid,
                 false AS indirect, pk, owner_pk, owned_pk, interest, share, share_min,
                 share_max, stated_share, valid_from, valid_to, details
             FROM ownerships WHERE deleted_at IS NULL
               AND ($1::bigint[] IS NULL OR (owner_pk = ANY($1) AND owned_pk = ANY($1)))
             UNION ALL
             SELECT CASE WHEN source = 'bods' THEN source_record
                         ELSE source || ':' || source_record END,
                 true, pk, owner_pk, owned_pk, interest, NULL, NULL, NULL, share, valid_from,
                 valid_to, details
             FROM declared_interests WHERE deleted_at IS NULL
               AND ($1::bigint[] IS NULL OR (owner_pk = ANY($1) AND owned_pk = ANY($1)))
         )
         SELECT * FROM l
         ORDER BY min(xid COLLATE "C") OVER (PARTITION BY owner_pk, owned_pk), owner_pk,
             owned_pk, xid COLLATE "C", indirect, pk"#,
    )
    .bind(pks.as_deref())
    .fetch(&mut *tx);
    let mut group: Vec<RegistryLink> = Vec::new();
    let mut pair = (0, 0);
    while let Some(r) = rows.try_next().await? {
        if (r.owner_pk, r.owned_pk) != pair {
            written.links += relationship(&mut w, &mut group)?;
            pair = (r.owner_pk, r.owned_pk);
        }
        let (Some(owner), Some(owned)) = (party_id.get(&r.owner_pk), party_id.get(&r.owned_pk))
        else {
            continue;
        };
        if persons.contains(&r.owned_pk) {
            continue;
        }
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
        group.push(RegistryLink {
            id: r.xid,
            owner: owner.clone(),
            owned: owned.clone(),
            interest,
            share,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            declared_indirect: r.indirect,
            details: r.details,
        });
    }
    written.links += relationship(&mut w, &mut group)?;
    drop(rows);

    let mut rows = sqlx::query_as::<_, UnknownRow>(
        "SELECT CASE WHEN source = 'bods' THEN source_record
                     ELSE source || ':' || source_record END AS xid,
             entity_pk, source_reason, details, interest, share, valid_from, valid_to
         FROM declared_unknowns WHERE deleted_at IS NULL
           AND ($1::bigint[] IS NULL OR entity_pk = ANY($1))
         ORDER BY pk",
    )
    .bind(pks.as_deref())
    .fetch(&mut *tx);
    while let Some(u) = rows.try_next().await? {
        let Some(subject) = party_id.get(&u.entity_pk) else {
            continue;
        };
        if persons.contains(&u.entity_pk) {
            continue;
        }
        w.unknown(&DeclaredUnknown {
            id: u.xid,
            subject: subject.clone(),
            reason: u.source_reason,
            details: u.details,
            interest: u.interest.as_deref().and_then(Interest::parse),
            share: u.share.map_or(ShareBounds::UNKNOWN, |s| s.0),
            valid_from: u.valid_from,
            valid_to: u.valid_to,
        })?;
        written.unknowns += 1;
    }
    drop(rows);
    tx.commit().await?;
    w.finish()?;
    Ok(written)
}

/// Writes a pair's links as one relationship, if any; returns how many.
fn relationship(
    w: &mut BodsWriter<'_, impl Write>,
    group: &mut Vec<RegistryLink>,
) -> std::io::Result<u64> {
    if group.is_empty() {
        return Ok(0);
    }
    w.relationship(&group.iter().collect::<Vec<_>>())?;
    let n = group.len() as u64;
    group.clear();
    Ok(n)
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
