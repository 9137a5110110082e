//! Loading a generated registry in bulk, with `COPY`.
//!
//! Row-by-row inserts would take hours for a million entities; `COPY ... FROM STDIN` streams
//! them in text format in one statement per table. The load is one graph change like any
//! other write: it takes the next change-log version first and appends one `bulk.load` row.
//! That row carries no graph changes (a million of them would be a log no instance could
//! replay) but is marked `reload`, so a running instance rebuilds its graph from the tables
//! when it reaches it.
//!
//! Into empty tables, rows go faster without the indexes and foreign keys that would check
//! them one at a time: those are read from the catalogue (so the migrations stay the only
//! statement of the schema), dropped inside the load's transaction, and made again over the
//! loaded rows before it commits. Nobody ever sees the tables without them.
//!
//! Must not break: ownership and list-entry rows name entities by primary key, computed from
//! the entity's position in the `COPY`. That holds because the tables are locked and the
//! keys come from one identity sequence in row order; the load checks it before it goes on.

use std::fmt::Write;

use sqlx::{PgConnection, PgPool};

use super::{ChangeRecord, DbError, begin_change, commit_reload};
use crate::r#gen::{LISTS, Registry, entity_id};

/// Bytes of `COPY` data sent per message.
const CHUNK: usize = 1 << 20;

/// What a bulk load stored.
#[derive(Debug)]
pub struct Loaded {
    /// The change-log version of the `bulk.load` row.
    pub version: i64,
    pub entities: u64,
    pub ownerships: u64,
    pub list_entries: u64,
}

/// Stores `registry` generated from `seed`. A database that already holds entities or lists
/// is refused unless `replace`, which first empties the registry tables, the screenings, jobs
/// and alerts (they were about the old graph) and the change log; the policy and the audit
/// trail stay.
pub async fn load(
    pool: &PgPool,
    registry: &Registry,
    seed: u64,
    replace: bool,
) -> Result<Loaded, DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let empty: bool = sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM entities) AND NOT EXISTS (SELECT 1 FROM lists)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !empty && !replace {
        return Err(DbError::Conflict {
            code: "store_not_empty",
            message: "the database already holds entities or lists; --force replaces them".into(),
        });
    }
    if !empty {
        sqlx::query(
            "TRUNCATE entities, ownerships, lists, list_entries, list_imports, entity_sources,
                      declared_interests, declared_unknowns, possible_matches, registry_imports,
                      screenings, jobs, job_results, alerts, alert_decisions, change_log
             RESTART IDENTITY",
        )
        .execute(&mut *tx)
        .await?;
    }
    // No other writer may take identity values between ours (see the module doc).
    sqlx::query("LOCK TABLE entities, ownerships, lists, list_entries IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;

    let mut list_keys = Vec::with_capacity(LISTS.len());
    for spec in &LISTS {
        let pk: i64 = sqlx::query_scalar(
            "INSERT INTO lists (id, name, kind) VALUES ($1, $2, 'sanctions') RETURNING pk",
        )
        .bind(spec.id)
        .bind(spec.name)
        .fetch_one(&mut *tx)
        .await?;
        list_keys.push(pk);
    }

    let restore = set_aside(&mut tx, &["entities", "ownerships", "list_entries"]).await?;
    let entities = copy_entities(&mut tx, registry).await?;
    let first = entity_keys(&mut tx, registry.entities().len()).await?;
    let ownerships = copy_ownerships(&mut tx, registry, first).await?;
    let list_entries = copy_entries(&mut tx, registry, first, &list_keys).await?;
    sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
        .execute(&mut *tx)
        .await?;
    for statement in restore {
        sqlx::query(&statement).execute(&mut *tx).await?;
    }

    let rec = ChangeRecord {
        actor: "gen",
        action: "bulk.load",
        entities: Vec::new(),
        before: None,
        after: Some(serde_json::json!({
            "generator": {"entities": entities, "seed": seed},
            "ownerships": ownerships,
            "list_entries": list_entries,
        })),
        changes: Vec::new(),
        // Instances load the name indexes from the tables once restarted.
        names: Vec::new(),
    };
    commit_reload(tx, version, rec).await?;
    // Fresh statistics, so the planner knows the tables are no longer empty.
    sqlx::query("ANALYZE entities, ownerships, lists, list_entries")
        .execute(pool)
        .await?;
    Ok(Loaded {
        version,
        entities,
        ownerships,
        list_entries,
    })
}

/// Drops the foreign keys, unique constraints and indexes of `tables` (not their primary keys,
/// nor a unique constraint another table's foreign key relies on) and returns the statements
/// that make them again, unique constraints and indexes before the foreign keys that need
/// them.
async fn set_aside(conn: &mut PgConnection, tables: &[&str]) -> Result<Vec<String>, DbError> {
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    let constraints: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, quote_ident(c.conname), c.contype::text,
                pg_get_constraintdef(c.oid)
         FROM pg_constraint c
         WHERE c.conrelid = ANY($1::regclass[]) AND c.contype IN ('f', 'u')
           AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                           WHERE f.contype = 'f' AND f.conindid = c.conindid AND c.contype = 'u')
         ORDER BY c.contype DESC, c.conname",
    )
    .bind(&tables)
    .fetch_all(&mut *conn)
    .await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
         FROM pg_index i
         WHERE i.indrelid = ANY($1::regclass[])
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
         ORDER BY 1",
    )
    .bind(&tables)
    .fetch_all(&mut *conn)
    .await?;
    // Foreign keys go first (contype 'f' sorts after 'u', hence DESC) and come back last.
    let mut restore = Vec::new();
    let mut later = Vec::new();
    for (table, name, kind, def) in constraints {
        sqlx::query(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}"))
            .execute(&mut *conn)
            .await?;
        let add = format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}");
        if kind == "f" {
            later.push(add)
        } else {
            restore.push(add)
        }
    }
    for (name, def) in indexes {
        sqlx::query(&format!("DROP INDEX {name}"))
            .execute(&mut *conn)
            .await?;
        restore.push(def);
    }
    restore.extend(later);
    Ok(restore)
}

/// The primary key of the first entity, after checking that the rest follow in order (by
/// primary key: the other indexes are set aside while loading).
async fn entity_keys(conn: &mut PgConnection, n: usize) -> Result<i64, DbError> {
    if n == 0 {
        return Ok(0);
    }
    let (first, last, count): (Option<i64>, Option<i64>, i64) =
        sqlx::query_as("SELECT min(pk), max(pk), count(*) FROM entities")
            .fetch_one(&mut *conn)
            .await?;
    let ids: Vec<(i64, String)> =
        sqlx::query_as("SELECT pk, id FROM entities WHERE pk = ANY($1) ORDER BY pk")
            .bind([first, last].into_iter().flatten().collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await?;
    let mut expected = vec![entity_id(0)];
    if n > 1 {
        expected.push(entity_id(n as u32 - 1));
    }
    match (first, last) {
        (Some(f), Some(l))
            if l - f + 1 == n as i64
                && count == n as i64
                && ids
                    .iter()
                    .map(|(_, id)| id.as_str())
                    .eq(expected.iter().map(String::as_str)) =>
        {
            Ok(f)
        }
        _ => Err(DbError::Corrupt(format!(
            "entity keys are not consecutive after COPY: {first:?}..{last:?} for {n} rows"
        ))),
    }
}

async fn copy_entities(conn: &mut PgConnection, r: &Registry) -> Result<u64, DbError> {
    let rows = (0u32..).zip(r.entities());
    copy(
        conn,
        "COPY entities (id, kind, name, jurisdiction, headquarters, identifiers, search) FROM STDIN",
        rows,
        |buf, (ix, e)| {
            let name = r.name(ix);
            let _ = write!(buf, "{}\t{}\t", entity_id(ix), e.kind.as_str());
            text(buf, name);
            buf.push('\t');
            optional(buf, e.jurisdiction);
            buf.push('\t');
            optional(buf, e.headquarters);
            match r.registration_number(ix) {
                Some(number) => {
                    let _ = write!(buf, "\t{{\"registration_number\": \"{number}\"}}\t");
                }
                None => buf.push_str("\t{}\t"),
            }
            // The same lower-cased text as `entities::create` stores for ?q= search.
            text(buf, &name.to_lowercase());
            buf.push('\n');
        },
    )
    .await
}

async fn copy_ownerships(
    conn: &mut PgConnection,
    r: &Registry,
    first: i64,
) -> Result<u64, DbError> {
    copy(
        conn,
        "COPY ownerships (id, owner_pk, owned_pk, interest, share, share_min, share_max,
             valid_from, valid_to, source) FROM STDIN",
        (0u64..).zip(r.links()),
        |buf, (k, l)| {
            let (owner, owned) = (first + i64::from(l.owner), first + i64::from(l.owned));
            let _ = write!(buf, "o{k:07}\t{owner}\t{owned}\t{}\t", l.interest.as_str());
            if !l.interest.is_quantified() {
                buf.push_str("\\N\t\\N\t\\N");
            } else if l.min == l.max {
                let _ = write!(buf, "{}\t\\N\t\\N", l.min_percent());
            } else {
                let _ = write!(buf, "\\N\t{}\t{}", l.min_percent(), l.max_percent());
            }
            buf.push('\t');
            optional(buf, l.valid_from);
            buf.push('\t');
            optional(buf, l.valid_to);
            buf.push('\t');
            match r.entities()[l.owned as usize].jurisdiction {
                Some(j) => {
                    let _ = write!(buf, "registry:{}", j.country());
                }
                None => buf.push_str("\\N"),
            }
            buf.push('\n');
        },
    )
    .await
}

async fn copy_entries(
    conn: &mut PgConnection,
    r: &Registry,
    first: i64,
    list_keys: &[i64],
) -> Result<u64, DbError> {
    copy(
        conn,
        "COPY list_entries (list_pk, id, name, kind, programs, entity_pk, listed_on, delisted_on)
         FROM STDIN",
        r.listings(),
        |buf, l| {
            let _ = write!(buf, "{}\t", list_keys[l.list]);
            text(buf, &l.entry_id());
            buf.push('\t');
            text(buf, r.name(l.entity));
            let kind = r.entities()[l.entity as usize].kind.as_str();
            let entity = first + i64::from(l.entity);
            let _ = write!(
                buf,
                "\t{kind}\t{{\"{}\"}}\t{entity}\t{}\t",
                l.program, l.listed_on
            );
            optional(buf, l.delisted_on);
            buf.push('\n');
        },
    )
    .await
}

/// Streams `rows` into a `COPY ... FROM STDIN` (text format) in chunks, so memory stays
/// flat whatever the size.
pub(super) async fn copy<T>(
    conn: &mut PgConnection,
    statement: &str,
    rows: impl IntoIterator<Item = T>,
    mut row: impl FnMut(&mut String, T),
) -> Result<u64, DbError> {
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut buf = String::with_capacity(CHUNK + 4096);
    for r in rows {
        row(&mut buf, r);
        if buf.len() >= CHUNK {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    Ok(copy.finish().await?)
}

/// A text-format field: backslash, tab and line breaks escaped.
pub(super) fn text(buf: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '\t' => buf.push_str("\\t"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            c => buf.push(c),
        }
    }
}

/// A value whose printed form needs no escaping (a code, a date), or `\N` for none.
fn optional(buf: &mut String, v: Option<impl std::fmt::Display>) {
    match v {
        Some(v) => {
            let _ = write!(buf, "{v}");
        }
        None => buf.push_str("\\N"),
    }
}
