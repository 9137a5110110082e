//! Lists and their entries. An entry that designates an entity is a listing in the graph.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{FromRow, PgPool};

use super::{
    ChangeRecord, Committed, DbError, Page, begin_change, commit_change, decode_cursor, json,
    on_constraint, page,
};
use crate::domain::{
    EntityKind, Entry, EntryId, EntryIdentifier, Jurisdiction, List, ListId, ListKind, ListPatch,
    Name, NewEntry, NewList, Text,
};
use crate::engine::{GraphChange, ListMeta, Listing};
use crate::names::NameChange;

#[derive(FromRow)]
pub(crate) struct ListRow {
    pub pk: i64,
    pub id: String,
    pub name: String,
    pub kind: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ListRow {
    pub(crate) fn meta(&self) -> ListMeta {
        ListMeta {
            key: self.pk,
            id: self.id.as_str().into(),
            name: self.name.as_str().into(),
            active: self.active,
        }
    }
}

impl TryFrom<ListRow> for List {
    type Error = DbError;
    fn try_from(r: ListRow) -> Result<List, DbError> {
        let bad = |w: &str| DbError::Corrupt(format!("stored list '{}' has a bad {w}", r.id));
        Ok(List {
            id: r.id.parse().map_err(|_| bad("id"))?,
            name: Name::parse(&r.name).map_err(|_| bad("name"))?,
            kind: ListKind::parse(&r.kind).ok_or_else(|| bad("kind"))?,
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct EntryRow {
    pub pk: i64,
    pub list: String,
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: Option<String>,
    pub programs: Vec<String>,
    pub countries: Vec<String>,
    pub identifiers: sqlx::types::Json<Vec<EntryIdentifier>>,
    pub entity: Option<String>,
    pub listed_on: Option<NaiveDate>,
    pub delisted_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub list_pk: i64,
}

pub(crate) const ENTRY_SELECT: &str = "SELECT e.pk, l.id AS list, e.id, e.name, e.aliases, e.kind, e.programs,
        e.countries, e.identifiers, n.id AS entity, e.listed_on, e.delisted_on, e.created_at, e.updated_at, e.list_pk
    FROM list_entries e JOIN lists l ON l.pk = e.list_pk LEFT JOIN entities n ON n.pk = e.entity_pk";

impl EntryRow {
    pub(crate) fn listing(&self) -> Listing {
        Listing {
            list: self.list_pk,
            entry_key: self.pk,
            entry_id: self.id.as_str().into(),
            listed_on: self.listed_on,
            delisted_on: self.delisted_on,
        }
    }
}

impl TryFrom<EntryRow> for Entry {
    type Error = DbError;
    fn try_from(r: EntryRow) -> Result<Entry, DbError> {
        let bad = |w: &str| DbError::Corrupt(format!("stored entry '{}' has a bad {w}", r.id));
        Ok(Entry {
            id: r.id.parse().map_err(|_| bad("id"))?,
            list: r.list.parse().map_err(|_| bad("list"))?,
            name: Name::parse(&r.name).map_err(|_| bad("name"))?,
            aliases: super::entities::stored_aliases(&r.aliases).map_err(|_| bad("alias"))?,
            kind: r
                .kind
                .as_deref()
                .map(|k| EntityKind::parse(k).ok_or_else(|| bad("kind")))
                .transpose()?,
            programs: r
                .programs
                .into_iter()
                .map(Text::try_from)
                .collect::<Result<_, _>>()
                .map_err(|_| bad("program"))?,
            countries: r
                .countries
                .iter()
                .map(|c| Jurisdiction::parse(c))
                .collect::<Result<_, _>>()
                .map_err(|_| bad("country"))?,
            identifiers: r.identifiers.0,
            entity: r
                .entity
                .map(|e| e.parse())
                .transpose()
                .map_err(|_| bad("entity"))?,
            listed_on: r.listed_on,
            delisted_on: r.delisted_on,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub(crate) const LIST_COLUMNS: &str = "pk, id, name, kind, active, created_at, updated_at";

pub async fn create_list(
    pool: &PgPool,
    actor: &str,
    new: NewList,
) -> Result<(List, Committed), DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let id = new.id.unwrap_or_else(ListId::generate);
    let row: ListRow = sqlx::query_as(&format!(
        "INSERT INTO lists (id, name, kind, active) VALUES ($1, $2, $3, $4) RETURNING {LIST_COLUMNS}"
    ))
    .bind(id.as_str())
    .bind(new.name.as_str())
    .bind(new.kind.as_str())
    .bind(new.active)
    .fetch_one(&mut *tx)
    .await
    .map_err(on_constraint)?;
    let changes = vec![GraphChange::UpsertList { list: row.meta() }];
    let list = List::try_from(row)?;
    let rec = ChangeRecord {
        actor,
        action: "list.create",
        entities: vec![],
        before: None,
        after: json(&list),
        changes,
        names: Vec::new(),
    };
    Ok((list, commit_change(tx, version, rec).await?))
}

pub async fn patch_list(
    pool: &PgPool,
    actor: &str,
    id: &ListId,
    p: ListPatch,
) -> Result<(List, Committed), DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let before: Option<ListRow> = sqlx::query_as(&format!(
        "SELECT {LIST_COLUMNS} FROM lists WHERE id = $1 FOR UPDATE"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let before = List::try_from(before.ok_or_else(|| DbError::not_found("list", id))?)?;
    let row: ListRow = sqlx::query_as(&format!(
        "UPDATE lists SET name = coalesce($2, name), active = coalesce($3, active), updated_at = now()
         WHERE id = $1 RETURNING {LIST_COLUMNS}"
    ))
    .bind(id.as_str())
    .bind(p.name.as_ref().map(Name::as_str))
    .bind(p.active)
    .fetch_one(&mut *tx)
    .await?;
    let changes = vec![GraphChange::UpsertList { list: row.meta() }];
    let list = List::try_from(row)?;
    let rec = ChangeRecord {
        actor,
        action: "list.update",
        entities: vec![],
        before: json(&before),
        after: json(&list),
        changes,
        names: Vec::new(),
    };
    Ok((list, commit_change(tx, version, rec).await?))
}

pub async fn get_list(pool: &PgPool, id: &ListId) -> Result<List, DbError> {
    let row: Option<ListRow> =
        sqlx::query_as(&format!("SELECT {LIST_COLUMNS} FROM lists WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?;
    row.ok_or_else(|| DbError::not_found("list", id))?
        .try_into()
}

pub async fn list_lists(
    pool: &PgPool,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<List>, DbError> {
    let after = cursor.map(decode_cursor).transpose()?;
    let rows: Vec<ListRow> = sqlx::query_as(&format!(
        "SELECT {LIST_COLUMNS} FROM lists WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(List::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, limit, |l| l.id.to_string()))
}

/// The ids of every list.
pub async fn existing_lists(pool: &PgPool) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT id FROM lists")
        .fetch_all(pool)
        .await?)
}

pub async fn create_entry(
    pool: &PgPool,
    actor: &str,
    list: &ListId,
    new: NewEntry,
) -> Result<(Entry, Committed), DbError> {
    new.check()?;
    let (mut tx, version) = begin_change(pool).await?;
    let list_pk: Option<i64> = sqlx::query_scalar("SELECT pk FROM lists WHERE id = $1")
        .bind(list.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let list_pk = list_pk.ok_or_else(|| DbError::not_found("list", list))?;
    let entity_pk = match &new.entity {
        Some(e) => Some(super::entities::lock_live(&mut tx, e).await?.pk),
        None => None,
    };
    let id = new.id.clone().unwrap_or_else(EntryId::generate);
    let pk: i64 = sqlx::query_scalar(
        "INSERT INTO list_entries (list_pk, id, name, aliases, kind, programs, entity_pk, listed_on,
             delisted_on, countries, identifiers)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING pk",
    )
    .bind(list_pk)
    .bind(id.as_str())
    .bind(new.name.as_str())
    .bind(new.aliases.0.iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>())
    .bind(new.kind.map(EntityKind::as_str))
    .bind(new.programs.iter().map(|p| p.as_str().to_owned()).collect::<Vec<_>>())
    .bind(entity_pk)
    .bind(new.listed_on)
    .bind(new.delisted_on)
    .bind(new.countries.iter().map(|c| c.to_string()).collect::<Vec<_>>())
    .bind(sqlx::types::Json(&new.identifiers))
    .fetch_one(&mut *tx)
    .await
    .map_err(on_constraint)?;
    let row: EntryRow = sqlx::query_as(&format!("{ENTRY_SELECT} WHERE e.pk = $1"))
        .bind(pk)
        .fetch_one(&mut *tx)
        .await?;
    let changes: Vec<GraphChange> = row
        .entity
        .iter()
        .map(|e| GraphChange::AddListing {
            entity: e.as_str().into(),
            listing: row.listing(),
        })
        .collect();
    let (key, list_pk) = (row.pk, row.list_pk);
    let entry = Entry::try_from(row)?;
    let rec = ChangeRecord {
        actor,
        action: "entry.create",
        entities: entry.entity.iter().map(ToString::to_string).collect(),
        before: None,
        after: json(&entry),
        changes,
        names: vec![NameChange::entry(key, list_pk, &entry)],
    };
    Ok((entry, commit_change(tx, version, rec).await?))
}

pub async fn get_entry(pool: &PgPool, list: &ListId, id: &EntryId) -> Result<Entry, DbError> {
    let row: Option<EntryRow> =
        sqlx::query_as(&format!("{ENTRY_SELECT} WHERE l.id = $1 AND e.id = $2"))
            .bind(list.as_str())
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?;
    row.ok_or_else(|| DbError::not_found("entry", id))?
        .try_into()
}

/// Removes an entry: it no longer designates anyone, at any date. (To end a designation from
/// a date on, while keeping the past, give the entry a `delisted_on`.)
pub async fn delete_entry(
    pool: &PgPool,
    actor: &str,
    list: &ListId,
    id: &EntryId,
) -> Result<Committed, DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let row: Option<EntryRow> = sqlx::query_as(&format!(
        "{ENTRY_SELECT} WHERE l.id = $1 AND e.id = $2 AND e.deleted_at IS NULL FOR UPDATE OF e"
    ))
    .bind(list.as_str())
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| DbError::not_found("entry", id))?;
    sqlx::query("UPDATE list_entries SET deleted_at = now(), updated_at = now() WHERE pk = $1")
        .bind(row.pk)
        .execute(&mut *tx)
        .await?;
    let changes: Vec<GraphChange> = row
        .entity
        .iter()
        .map(|e| GraphChange::RemoveListing {
            entity: e.as_str().into(),
            entry_key: row.pk,
        })
        .collect();
    let entry_key = row.pk;
    let before = Entry::try_from(row)?;
    let rec = ChangeRecord {
        actor,
        action: "entry.delete",
        entities: before.entity.iter().map(ToString::to_string).collect(),
        before: json(&before),
        after: None,
        changes,
        names: vec![NameChange::RemoveEntry { key: entry_key }],
    };
    commit_change(tx, version, rec).await
}

pub async fn list_entries(
    pool: &PgPool,
    list: &ListId,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<Entry>, DbError> {
    get_list(pool, list).await?;
    let after = cursor.map(decode_cursor).transpose()?;
    let rows: Vec<EntryRow> = sqlx::query_as(&format!(
        "{ENTRY_SELECT} WHERE l.id = $1 AND e.deleted_at IS NULL AND ($2::text IS NULL OR e.id > $2)
         ORDER BY e.id LIMIT $3"
    ))
    .bind(list.as_str())
    .bind(after)
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(Entry::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, limit, |e| e.id.to_string()))
}
