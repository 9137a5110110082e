//! List imports: a whole list file applied as a delta, in one transaction.
//!
//! The file states the list as it is now. Entries that appear are added, entries whose
//! content changed are updated, entries that reappear after a delisting are relisted, and
//! entries missing from the file get `delisted_on` (the import date), so that history and
//! `as_of` screening stay right. Parties and ownerships that a file describes (OpenSanctions
//! FtM) are created or updated in the graph, in the same transaction. Importing the same file
//! twice changes nothing the second time and takes no change-log version.
//!
//! Dates: an entry keeps the listing date its source states. Where the source states none
//! (OFAC's CSV, for one), an entry in the list's first import is taken as listed since an
//! unknown date (`listed_on` null), and an entry that first appears in a later import as
//! listed on that import's date.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::json;
use sqlx::types::Json;
use sqlx::{Acquire, FromRow, PgConnection, PgPool};

use super::entities::{self, EntityRow, Fields};
use super::lists::{LIST_COLUMNS, ListRow};
use super::ownerships::{self, OwnershipRow};
use super::{ChangeRecord, Committed, DbError, Tx, begin_change, commit_change};
use crate::domain::{
    Entity, EntityKind, EntryIdentifier, IdScheme, ImportSummary, Invalid, NewEntity, NewEntry,
    NewList, NewOwnership, Ownership, Share, ShareRange, Text, UNSTATED_SHARE_MIN,
};
use crate::engine::{EdgeData, GraphChange, Listing};
use crate::matching::Record;
use crate::names::NameChange;

/// What one list file states, as validated domain values.
pub struct ImportSet {
    /// Every entry of the list, each with the source's own id.
    pub entries: Vec<NewEntry>,
    /// Parties the file describes, to be kept in the graph (by id).
    pub entities: Vec<NewEntity>,
    /// Ownerships among them, each with the source's own id.
    pub ownerships: Vec<NewOwnership>,
}

/// Where an import comes from, for the change log and the import record.
pub struct ImportSource<'a> {
    pub format: &'a str,
    pub sha256: &'a str,
}

/// Applies `set` as the whole content of `list` (created from `list` if missing).
pub async fn import_list(
    pool: &PgPool,
    actor: &str,
    list: &NewList,
    source: ImportSource<'_>,
    set: ImportSet,
    today: NaiveDate,
) -> Result<(ImportSummary, Option<Committed>), DbError> {
    let list_id = list
        .id
        .clone()
        .ok_or_else(|| Invalid::new("list", "required", "an import needs a list id"))?;
    check_unique(&set)?;
    let (mut tx, version) = begin_change(pool).await?;
    let mut run = Run {
        summary: ImportSummary::new(list_id.clone(), source.format, source.sha256),
        changes: Vec::new(),
        names: Vec::new(),
        touched: HashSet::new(),
        log: Log::default(),
    };
    let list_row = run.list(&mut tx, list).await?;
    let entity_pks = run.entities(&mut tx, &set.entities).await?;
    let ownership_source = format!("list:{list_id}");
    run.ownerships(&mut tx, &ownership_source, &set.ownerships)
        .await?;
    run.entries(&mut tx, &list_row, &set.entries, &entity_pks, today)
        .await?;
    run.summary.records = set.entries.len();
    let Run {
        mut summary,
        changes,
        names,
        touched,
        log,
    } = run;
    let changed = summary.list_created
        || summary.added + summary.changed + summary.relisted + summary.delisted > 0
        || !changes.is_empty();
    if !changed {
        // Nothing to record in the change log: give the version back.
        tx.rollback().await?;
        record_import(&mut *pool.acquire().await?, list_row.pk, actor, &summary).await?;
        return Ok((summary, None));
    }
    summary.graph_version = Some(version);
    record_import(&mut tx, list_row.pk, actor, &summary).await?;
    let rec = ChangeRecord {
        actor,
        action: "list.import",
        entities: touched.into_iter().collect(),
        before: None,
        after: Some(json!({"summary": summary, "entries": log})),
        changes,
        names,
    };
    let committed = commit_change(tx, version, rec).await?;
    Ok((summary, Some(committed)))
}

/// Records an import with its counts and change-log version (none when it changed nothing).
async fn record_import(
    conn: &mut PgConnection,
    list_pk: i64,
    actor: &str,
    summary: &ImportSummary,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO list_imports (list_pk, version, format, sha256, actor, summary)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(list_pk)
    .bind(summary.graph_version)
    .bind(&summary.format)
    .bind(&summary.sha256)
    .bind(actor)
    .bind(Json(summary))
    .execute(conn)
    .await?;
    Ok(())
}

/// A file that names one id twice is ambiguous: reject it rather than pick one.
fn check_unique(set: &ImportSet) -> Result<(), Invalid> {
    fn dup<'a>(what: &str, ids: impl Iterator<Item = &'a str>) -> Result<(), Invalid> {
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id) {
                return Err(Invalid::new(
                    what,
                    "duplicate_id",
                    format!("the file states {what} '{id}' twice"),
                ));
            }
        }
        Ok(())
    }
    dup(
        "entry",
        set.entries
            .iter()
            .filter_map(|e| e.id.as_ref().map(|i| i.as_str())),
    )?;
    dup(
        "entity",
        set.entities
            .iter()
            .filter_map(|e| e.id.as_ref().map(|i| i.as_str())),
    )?;
    dup(
        "ownership",
        set.ownerships
            .iter()
            .filter_map(|o| o.id.as_ref().map(|i| i.as_str())),
    )
}

/// The ids an import touched, for the change log.
#[derive(Default, serde::Serialize)]
struct Log {
    added: Vec<String>,
    changed: Vec<String>,
    relisted: Vec<String>,
    delisted: Vec<String>,
}

struct Run {
    summary: ImportSummary,
    changes: Vec<GraphChange>,
    names: Vec<NameChange>,
    touched: HashSet<String>,
    log: Log,
}

impl Run {
    async fn list(&mut self, tx: &mut Tx, list: &NewList) -> Result<ListRow, DbError> {
        let id = self.summary.list.as_str().to_owned();
        let row: Option<ListRow> = sqlx::query_as(&format!(
            "SELECT {LIST_COLUMNS} FROM lists WHERE id = $1 FOR UPDATE"
        ))
        .bind(&id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = row {
            return Ok(row);
        }
        let row: ListRow = sqlx::query_as(&format!(
            "INSERT INTO lists (id, name, kind, active) VALUES ($1, $2, $3, $4) RETURNING {LIST_COLUMNS}"
        ))
        .bind(&id)
        .bind(list.name.as_str())
        .bind(list.kind.as_str())
        .bind(list.active)
        .fetch_one(&mut **tx)
        .await?;
        self.summary.list_created = true;
        self.changes
            .push(GraphChange::UpsertList { list: row.meta() });
        Ok(row)
    }

    /// Creates or updates the parties a file describes; returns their keys by id.
    async fn entities(
        &mut self,
        tx: &mut Tx,
        wanted: &[NewEntity],
    ) -> Result<HashMap<String, (i64, String)>, DbError> {
        let mut keys = HashMap::with_capacity(wanted.len());
        for new in wanted {
            let id = new
                .id
                .clone()
                .ok_or_else(|| Invalid::new("entity", "required", "a party needs an id"))?;
            let row: Option<EntityRow> = sqlx::query_as(&format!(
                "SELECT {} FROM entities WHERE id = $1 FOR UPDATE",
                entities::COLUMNS
            ))
            .bind(id.as_str())
            .fetch_optional(&mut **tx)
            .await?;
            let stored = row
                .map(|r| Ok::<_, DbError>((r.pk, Entity::try_from(r)?)))
                .transpose()?;
            let fields = |headquarters| Fields {
                kind: new.kind,
                name: &new.name,
                aliases: &new.aliases,
                jurisdiction: new.jurisdiction,
                headquarters,
                identifiers: &new.identifiers,
            };
            let entity = match stored {
                Some((_, e)) if e.deleted_at.is_some() => {
                    return Err(DbError::Conflict {
                        code: "entity_deleted",
                        message: format!("the file describes entity '{id}', which was deleted"),
                    });
                }
                Some((pk, e))
                    if e.kind == new.kind
                        && e.name == new.name
                        && e.aliases == new.aliases
                        && e.jurisdiction == new.jurisdiction
                        && e.identifiers == new.identifiers =>
                {
                    (pk, e)
                }
                Some((_, e)) => {
                    self.summary.entities_updated += 1;
                    let f = fields(e.headquarters);
                    let after = entities::write_row(tx, entities::UPDATE, &id, f).await?;
                    self.graph_entity(after.0, &after.1);
                    after
                }
                None => {
                    self.summary.entities_created += 1;
                    let f = fields(new.headquarters);
                    let after = entities::write_row(tx, entities::INSERT, &id, f).await?;
                    self.graph_entity(after.0, &after.1);
                    after
                }
            };
            keys.insert(id.to_string(), (entity.0, id.to_string()));
        }
        Ok(keys)
    }

    fn graph_entity(&mut self, key: i64, e: &Entity) {
        self.touched.insert(e.id.to_string());
        self.changes.push(GraphChange::UpsertEntity {
            node: entities::node(key, e),
        });
        self.names.push(NameChange::Entity {
            key,
            party: Record::of_entity(e),
        });
    }

    /// Makes the ownerships this list's imports created match the file.
    async fn ownerships(
        &mut self,
        tx: &mut Tx,
        source: &str,
        wanted: &[NewOwnership],
    ) -> Result<(), DbError> {
        let stored: Vec<OwnershipRow> = sqlx::query_as(&format!(
            "{} WHERE o.source = $1 AND o.deleted_at IS NULL FOR UPDATE OF o",
            ownerships::SELECT
        ))
        .bind(source)
        .fetch_all(&mut **tx)
        .await?;
        let mut stored: HashMap<String, OwnershipRow> =
            stored.into_iter().map(|r| (r.id.clone(), r)).collect();
        // Removals first, so that a share moved from one link to another never counts twice.
        let keep: HashSet<&str> = wanted
            .iter()
            .filter_map(|o| o.id.as_ref().map(|i| i.as_str()))
            .collect();
        let gone: Vec<String> = stored
            .keys()
            .filter(|id| !keep.contains(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            if let Some(row) = stored.remove(&id) {
                self.remove_link(tx, row).await?;
                self.summary.ownerships_removed += 1;
            }
        }
        let source = Text::try_from(source.to_owned()).map_err(|e| {
            Invalid::new("source", "invalid_text", format!("list id as source: {e}"))
        })?;
        // Sources restate holdings over time without closing the old statement, so stated
        // shares can add up past 100%. The most recent statements are taken as stated;
        // an older one that no longer fits is kept as "up to" its share.
        let mut order: Vec<&NewOwnership> = wanted.iter().collect();
        order.sort_by_key(|o| {
            (
                std::cmp::Reverse(o.valid_from),
                o.valid_to.is_some(),
                std::cmp::Reverse(o.valid_to),
            )
        });
        for new in order {
            let mut new = new.clone();
            new.source = Some(source.clone());
            let id = new.id.as_ref().map(|i| i.to_string()).unwrap_or_default();
            let row = stored.remove(&id);
            if let Some(row) = &row {
                let as_stored = Ownership::try_from(row.clone())?;
                if same_ownership(&as_stored, &new) || same_ownership(&as_stored, &demoted(&new)) {
                    continue;
                }
                self.changes.push(GraphChange::RemoveLink {
                    owner: row.owner.as_str().into(),
                    owned: row.owned.as_str().into(),
                    key: row.pk,
                });
                self.touched.extend([row.owner.clone(), row.owned.clone()]);
                self.summary.ownerships_changed += 1;
            } else {
                self.summary.ownerships_added += 1;
            }
            let data = self.write_link(tx, row.map(|r| r.pk), &new).await?;
            self.link_added(&new, data);
        }
        Ok(())
    }

    /// Writes one ownership (a new row, or new terms for a stored one); a stated share that
    /// would take the total held in the owned entity past 100% is kept as "up to" it.
    async fn write_link(
        &mut self,
        tx: &mut Tx,
        stored: Option<i64>,
        new: &NewOwnership,
    ) -> Result<EdgeData, DbError> {
        let mut attempt = tx.begin().await?;
        match ownerships::write(&mut attempt, stored, new).await {
            Ok((_, data)) => {
                attempt.commit().await?;
                Ok(data)
            }
            Err(DbError::Invalid(i))
                if i.code == ownerships::TOTAL_EXCEEDED && new.share.is_some() =>
            {
                attempt.rollback().await?;
                self.summary.ownerships_up_to += 1;
                Ok(ownerships::write(tx, stored, &demoted(new)).await?.1)
            }
            Err(e) => Err(e),
        }
    }

    fn link_added(&mut self, new: &NewOwnership, data: EdgeData) {
        self.touched.insert(new.owner.to_string());
        self.touched.insert(new.owned.to_string());
        self.changes.push(GraphChange::AddLink {
            owner: new.owner.as_str().into(),
            owned: new.owned.as_str().into(),
            data,
        });
    }

    async fn remove_link(&mut self, tx: &mut Tx, row: OwnershipRow) -> Result<(), DbError> {
        sqlx::query("UPDATE ownerships SET deleted_at = now() WHERE pk = $1")
            .bind(row.pk)
            .execute(&mut **tx)
            .await?;
        self.touched.insert(row.owner.clone());
        self.touched.insert(row.owned.clone());
        self.changes.push(GraphChange::RemoveLink {
            owner: row.owner.into(),
            owned: row.owned.into(),
            key: row.pk,
        });
        Ok(())
    }

    async fn entries(
        &mut self,
        tx: &mut Tx,
        list: &ListRow,
        wanted: &[NewEntry],
        parties: &HashMap<String, (i64, String)>,
        today: NaiveDate,
    ) -> Result<(), DbError> {
        let stored: Vec<StoredEntry> = sqlx::query_as(
            "SELECT e.pk, e.id, e.name, e.aliases, e.kind, e.programs, e.countries, e.identifiers,
                    e.entity_pk, n.id AS entity, e.listed_on, e.delisted_on,
                    e.deleted_at IS NOT NULL AS deleted
             FROM list_entries e LEFT JOIN entities n ON n.pk = e.entity_pk
             WHERE e.list_pk = $1 FOR UPDATE OF e",
        )
        .bind(list.pk)
        .fetch_all(&mut **tx)
        .await?;
        let first_import = stored.iter().all(|s| s.deleted);
        let mut stored: HashMap<String, StoredEntry> =
            stored.into_iter().map(|s| (s.id.clone(), s)).collect();
        let resolved = resolve(tx, wanted).await?;
        let mut inserts = Rows::default();
        let mut updates = Rows::default();
        for new in wanted {
            let id = new.id.as_ref().map(|i| i.to_string()).unwrap_or_default();
            let designates = match &new.entity {
                Some(e) => parties.get(e.as_str()).cloned().ok_or_else(|| {
                    Invalid::new(
                        "entity",
                        "unknown_entity",
                        format!("entry '{id}' designates '{e}', which the file does not describe"),
                    )
                })?,
                None => match resolved.get(&id) {
                    Some(k) => k.clone(),
                    None => match stored.get(&id).and_then(StoredEntry::designates) {
                        // A designation made by hand stays until the source states another.
                        Some(k) => k,
                        None => {
                            self.add_or_update(
                                list,
                                new,
                                None,
                                &mut stored,
                                &mut inserts,
                                &mut updates,
                                today,
                                first_import,
                            );
                            continue;
                        }
                    },
                },
            };
            self.add_or_update(
                list,
                new,
                Some(designates),
                &mut stored,
                &mut inserts,
                &mut updates,
                today,
                first_import,
            );
        }
        // What is left was not in the file.
        for s in stored.into_values() {
            if s.deleted || s.delisted_on.is_some_and(|d| d <= today) {
                continue;
            }
            self.summary.delisted += 1;
            self.log.delisted.push(s.id.clone());
            let same_day = s.listed_on.is_some_and(|l| l >= today);
            if let Some(entity) = &s.entity {
                self.touched.insert(entity.clone());
                self.changes.push(GraphChange::RemoveListing {
                    entity: entity.as_str().into(),
                    entry_key: s.pk,
                });
                if !same_day {
                    self.changes.push(GraphChange::AddListing {
                        entity: entity.as_str().into(),
                        listing: Listing {
                            list: list.pk,
                            entry_key: s.pk,
                            entry_id: s.id.as_str().into(),
                            listed_on: s.listed_on,
                            delisted_on: Some(today),
                        },
                    });
                }
            }
            self.names.push(if same_day {
                NameChange::RemoveEntry { key: s.pk }
            } else {
                NameChange::Delist {
                    key: s.pk,
                    on: today,
                }
            });
            // An entry listed and delisted on the same day never designated anyone.
            let sql = if same_day {
                "UPDATE list_entries SET deleted_at = now(), updated_at = now() WHERE pk = $1"
            } else {
                "UPDATE list_entries SET delisted_on = $2, updated_at = now() WHERE pk = $1"
            };
            sqlx::query(sql)
                .bind(s.pk)
                .bind(today)
                .execute(&mut **tx)
                .await?;
        }
        let inserted = inserts.insert(tx, list.pk).await?;
        for (pk, id) in inserted {
            if let Some((entity, listing)) = inserts.listing(&id, pk, list.pk) {
                self.changes
                    .push(GraphChange::AddListing { entity, listing });
            }
            if let Some(change) = inserts.name_change(&id, pk, list.pk) {
                self.names.push(change);
            }
        }
        updates.update(tx).await?;
        Ok(())
    }

    /// Compares one entry of the file with what is stored, and queues the write it needs.
    #[allow(clippy::too_many_arguments)]
    fn add_or_update(
        &mut self,
        list: &ListRow,
        new: &NewEntry,
        designates: Option<(i64, String)>,
        stored: &mut HashMap<String, StoredEntry>,
        inserts: &mut Rows,
        updates: &mut Rows,
        today: NaiveDate,
        first_import: bool,
    ) {
        let id = new.id.as_ref().map(|i| i.to_string()).unwrap_or_default();
        if designates.is_some() {
            self.summary.designating += 1;
        }
        let Some(s) = stored.remove(&id) else {
            self.summary.added += 1;
            self.log.added.push(id.clone());
            let listed_on = new.listed_on.or((!first_import).then_some(today));
            if let Some((_, entity)) = &designates {
                self.touched.insert(entity.clone());
            }
            inserts.push(None, id, new, designates, listed_on, None);
            return;
        };
        // A deleted entry (by hand, or listed and delisted on one day) that the source states
        // again comes back, under its id, like a delisted one.
        let delisted = s.deleted || s.delisted_on.is_some_and(|d| d <= today);
        let listed_on = if delisted {
            new.listed_on.or(Some(today))
        } else {
            new.listed_on.or(s.listed_on)
        };
        let delisted_on = if delisted { None } else { new.delisted_on };
        let same = !s.deleted
            && s.same_content(new, designates.as_ref().map(|d| d.0))
            && s.listed_on == listed_on
            && s.delisted_on == delisted_on;
        if same {
            self.summary.unchanged += 1;
            return;
        }
        if delisted {
            self.summary.relisted += 1;
            self.log.relisted.push(id.clone());
        } else {
            self.summary.changed += 1;
            self.log.changed.push(id.clone());
        }
        if let Some(old) = s.entity.as_ref().filter(|_| !s.deleted) {
            self.touched.insert(old.clone());
            self.changes.push(GraphChange::RemoveListing {
                entity: old.as_str().into(),
                entry_key: s.pk,
            });
        }
        if let Some((_, entity)) = &designates {
            self.touched.insert(entity.clone());
            self.changes.push(GraphChange::AddListing {
                entity: entity.as_str().into(),
                listing: Listing {
                    list: list.pk,
                    entry_key: s.pk,
                    entry_id: id.as_str().into(),
                    listed_on,
                    delisted_on,
                },
            });
        }
        self.names.push(NameChange::Entry {
            key: s.pk,
            list: list.pk,
            id: id.as_str().into(),
            party: party(new),
            entity: designates.as_ref().map(|d| d.1.as_str().into()),
            listed_on,
            delisted_on,
        });
        updates.push(Some(s.pk), id, new, designates, listed_on, delisted_on);
    }
}

fn party(e: &NewEntry) -> Record {
    Record::listed(&e.name, &e.aliases, e.kind, &e.countries, &e.identifiers)
}

/// A stated share kept as "up to" it.
fn demoted(o: &NewOwnership) -> NewOwnership {
    let mut d = o.clone();
    if let Some(s) = d.share.take() {
        d.share_range = Share::new(UNSTATED_SHARE_MIN)
            .ok()
            .filter(|min| min.get() <= s.get())
            .map(|min| ShareRange { min, max: s });
        if d.share_range.is_none() {
            d.share = Some(s);
        }
    }
    d
}

fn same_ownership(o: &Ownership, n: &NewOwnership) -> bool {
    o.owner == n.owner
        && o.owned == n.owned
        && o.interest == n.interest
        && o.share == n.share
        && o.share_range == n.share_range
        && o.valid_from == n.valid_from
        && o.valid_to == n.valid_to
}

#[derive(FromRow)]
struct StoredEntry {
    pk: i64,
    id: String,
    name: String,
    aliases: Vec<String>,
    kind: Option<String>,
    programs: Vec<String>,
    countries: Vec<String>,
    identifiers: Json<Vec<EntryIdentifier>>,
    entity_pk: Option<i64>,
    entity: Option<String>,
    listed_on: Option<NaiveDate>,
    delisted_on: Option<NaiveDate>,
    deleted: bool,
}

impl StoredEntry {
    fn designates(&self) -> Option<(i64, String)> {
        Some((self.entity_pk?, self.entity.clone()?))
    }

    fn same_content(&self, n: &NewEntry, entity_pk: Option<i64>) -> bool {
        self.name == n.name.as_str()
            && self
                .aliases
                .iter()
                .map(String::as_str)
                .eq(n.aliases.0.iter().map(|a| a.as_str()))
            && self.kind.as_deref() == n.kind.map(EntityKind::as_str)
            && self
                .programs
                .iter()
                .map(String::as_str)
                .eq(n.programs.iter().map(Text::as_str))
            && self.countries.iter().map(String::as_str).eq(n
                .countries
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str))
            && self.identifiers.0 == n.identifiers
            && self.entity_pk == entity_pk
    }
}

/// Entries whose identifiers name exactly one live entity designate it: an LEI, or a
/// registration number in one of the entry's countries.
async fn resolve(
    tx: &mut Tx,
    wanted: &[NewEntry],
) -> Result<HashMap<String, (i64, String)>, DbError> {
    let mut entry_ids = Vec::new();
    let mut schemes = Vec::new();
    let mut values = Vec::new();
    let mut countries = Vec::new();
    for e in wanted.iter().filter(|e| e.entity.is_none()) {
        let id = e.id.as_ref().map(|i| i.to_string()).unwrap_or_default();
        for i in &e.identifiers {
            let cs: Vec<Option<String>> = match i.scheme {
                IdScheme::Lei => vec![None],
                IdScheme::RegistrationNumber => {
                    e.countries.iter().map(|c| Some(c.to_string())).collect()
                }
                _ => vec![],
            };
            for c in cs {
                entry_ids.push(id.clone());
                schemes.push(i.scheme.as_str());
                values.push(i.value.as_str().to_owned());
                countries.push(c);
            }
        }
    }
    if entry_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT DISTINCT w.entry, n.pk, n.id
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS w(entry, scheme, value, country)
         JOIN entities n ON n.deleted_at IS NULL AND n.identifiers->>w.scheme = w.value
             AND (w.country IS NULL OR n.jurisdiction = w.country OR n.jurisdiction LIKE w.country || '-%')",
    )
    .bind(&entry_ids)
    .bind(&schemes)
    .bind(&values)
    .bind(&countries)
    .fetch_all(&mut **tx)
    .await?;
    let mut by_entry: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for (entry, pk, id) in rows {
        by_entry.entry(entry).or_default().push((pk, id));
    }
    Ok(by_entry
        .into_iter()
        .filter_map(|(entry, mut found)| {
            found.dedup();
            (found.len() == 1).then(|| (entry, found.remove(0)))
        })
        .collect())
}

/// Entry rows to write in one statement, column by column.
#[derive(Default)]
struct Rows {
    pk: Vec<Option<i64>>,
    id: Vec<String>,
    name: Vec<String>,
    aliases: Vec<serde_json::Value>,
    kind: Vec<Option<&'static str>>,
    programs: Vec<serde_json::Value>,
    countries: Vec<serde_json::Value>,
    identifiers: Vec<serde_json::Value>,
    entity_pk: Vec<Option<i64>>,
    entity: HashMap<String, String>,
    /// Row by entry id.
    index: HashMap<String, usize>,
    party: Vec<Record>,
    listed_on: Vec<Option<NaiveDate>>,
    delisted_on: Vec<Option<NaiveDate>>,
}

impl Rows {
    fn push(
        &mut self,
        pk: Option<i64>,
        id: String,
        e: &NewEntry,
        designates: Option<(i64, String)>,
        listed_on: Option<NaiveDate>,
        delisted_on: Option<NaiveDate>,
    ) {
        self.pk.push(pk);
        self.name.push(e.name.as_str().to_owned());
        self.aliases.push(json!(
            e.aliases.0.iter().map(|a| a.as_str()).collect::<Vec<_>>()
        ));
        self.kind.push(e.kind.map(EntityKind::as_str));
        self.programs.push(json!(
            e.programs.iter().map(Text::as_str).collect::<Vec<_>>()
        ));
        self.countries.push(json!(
            e.countries
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
        ));
        self.identifiers.push(json!(e.identifiers));
        self.party.push(party(e));
        self.entity_pk.push(designates.as_ref().map(|d| d.0));
        if let Some((_, entity)) = designates {
            self.entity.insert(id.clone(), entity);
        }
        self.listed_on.push(listed_on);
        self.delisted_on.push(delisted_on);
        self.index.insert(id.clone(), self.id.len());
        self.id.push(id);
    }

    fn listing(&self, id: &str, pk: i64, list_pk: i64) -> Option<(Box<str>, Listing)> {
        let entity = self.entity.get(id)?;
        let i = *self.index.get(id)?;
        Some((
            entity.as_str().into(),
            Listing {
                list: list_pk,
                entry_key: pk,
                entry_id: id.into(),
                listed_on: self.listed_on[i],
                delisted_on: self.delisted_on[i],
            },
        ))
    }

    fn name_change(&self, id: &str, pk: i64, list_pk: i64) -> Option<NameChange> {
        let i = *self.index.get(id)?;
        Some(NameChange::Entry {
            key: pk,
            list: list_pk,
            id: id.into(),
            party: self.party[i].clone(),
            entity: self.entity.get(id).map(|e| e.as_str().into()),
            listed_on: self.listed_on[i],
            delisted_on: self.delisted_on[i],
        })
    }

    async fn insert(&self, tx: &mut Tx, list_pk: i64) -> Result<Vec<(i64, String)>, DbError> {
        if self.id.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "INSERT INTO list_entries (list_pk, id, name, aliases, kind, programs, countries,
                 identifiers, entity_pk, listed_on, delisted_on)
             SELECT $1, t.id, t.name, ARRAY(SELECT jsonb_array_elements_text(t.aliases)), t.kind,
                 ARRAY(SELECT jsonb_array_elements_text(t.programs)),
                 ARRAY(SELECT jsonb_array_elements_text(t.countries)),
                 t.identifiers, t.entity_pk, t.listed_on, t.delisted_on
             FROM unnest($2::text[], $3::text[], $4::jsonb[], $5::text[], $6::jsonb[], $7::jsonb[],
                         $8::jsonb[], $9::int8[], $10::date[], $11::date[])
                 AS t(id, name, aliases, kind, programs, countries, identifiers, entity_pk,
                      listed_on, delisted_on)
             RETURNING pk, id",
        )
        .bind(list_pk)
        .bind(&self.id)
        .bind(&self.name)
        .bind(&self.aliases)
        .bind(&self.kind)
        .bind(&self.programs)
        .bind(&self.countries)
        .bind(&self.identifiers)
        .bind(&self.entity_pk)
        .bind(&self.listed_on)
        .bind(&self.delisted_on)
        .fetch_all(&mut **tx)
        .await?)
    }

    async fn update(&self, tx: &mut Tx) -> Result<(), DbError> {
        if self.id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE list_entries e SET name = t.name,
                 aliases = ARRAY(SELECT jsonb_array_elements_text(t.aliases)), kind = t.kind,
                 programs = ARRAY(SELECT jsonb_array_elements_text(t.programs)),
                 countries = ARRAY(SELECT jsonb_array_elements_text(t.countries)),
                 identifiers = t.identifiers, entity_pk = t.entity_pk, listed_on = t.listed_on,
                 delisted_on = t.delisted_on, updated_at = now(), deleted_at = NULL
             FROM unnest($1::int8[], $2::text[], $3::jsonb[], $4::text[], $5::jsonb[], $6::jsonb[],
                         $7::jsonb[], $8::int8[], $9::date[], $10::date[])
                 AS t(pk, name, aliases, kind, programs, countries, identifiers, entity_pk,
                      listed_on, delisted_on)
             WHERE e.pk = t.pk",
        )
        .bind(&self.pk)
        .bind(&self.name)
        .bind(&self.aliases)
        .bind(&self.kind)
        .bind(&self.programs)
        .bind(&self.countries)
        .bind(&self.identifiers)
        .bind(&self.entity_pk)
        .bind(&self.listed_on)
        .bind(&self.delisted_on)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
