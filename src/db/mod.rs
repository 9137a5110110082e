//! All the SQL. Postgres is the store of record; the in-memory graph is rebuilt from it.
//!
//! Every write that changes the graph runs in one transaction that first takes the next
//! change-log version (`UPDATE graph_state ... RETURNING`), then changes the rows, then appends
//! the change-log row with the graph changes to apply. The row lock on `graph_state` serialises
//! writers, so versions are gapless and commit in order, and a write is acknowledged only once
//! it has committed.
//!
//! Must not break: a graph change that is not in the change log does not exist.

pub mod alerts;
pub mod audit;
pub mod bulk;
mod copy;
pub mod entities;
pub mod export;
pub mod imports;
pub mod jobs;
pub mod keys;
pub mod lists;
pub mod load;
pub mod matches;
pub mod ownerships;
pub mod policy;
pub mod registry;
pub mod screenings;
pub mod sources;

use base64::Engine as _;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::domain::Invalid;
use crate::engine::GraphChange;
use crate::names::NameChange;

pub type Tx = Transaction<'static, Postgres>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{what} '{id}' not found")]
    NotFound { what: &'static str, id: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

impl DbError {
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

/// Maps a violated named constraint to the error a client should see; anything else stays a
/// database error. The one place where constraint names meet HTTP semantics.
pub fn on_constraint(e: sqlx::Error) -> DbError {
    let constraint = e
        .as_database_error()
        .and_then(|d| d.constraint())
        .map(str::to_owned);
    let conflict = |code, message: &str| DbError::Conflict {
        code,
        message: message.to_owned(),
    };
    match constraint.as_deref() {
        Some("entities_id_key") => conflict("id_taken", "an entity with this id already exists"),
        Some("ownerships_id_key") => {
            conflict("id_taken", "an ownership with this id already exists")
        }
        Some("lists_id_key") => conflict("id_taken", "a list with this id already exists"),
        Some("list_entries_id_key") => conflict(
            "id_taken",
            "an entry with this id already exists on this list",
        ),
        Some("screenings_pkey") => conflict("id_taken", "a screening with this id already exists"),
        Some("api_keys_name_key") => conflict("name_taken", "a key with this name already exists"),
        Some("api_keys_prefix_key") => {
            conflict("key_taken", "this key is already stored under another name")
        }
        Some("entities_lei_key") => {
            conflict("identifier_taken", "another entity already has this LEI")
        }
        Some("entities_registration_key") => conflict(
            "identifier_taken",
            "another entity in this jurisdiction already has this registration number",
        ),
        _ => DbError::Sqlx(e),
    }
}

/// The database a URL names, created if it is missing, migrated.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    if !Postgres::database_exists(url).await? {
        // Two instances may race to create it; the loser's error is harmless.
        if let Err(e) = Postgres::create_database(url).await
            && !Postgres::database_exists(url).await?
        {
            return Err(e);
        }
    }
    let options: PgConnectOptions = url.parse()?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
        // By default every acquire first pings the connection: one more round trip per
        // screening stored and per write, and 13% of the service's CPU under screening load
        // (docs/benchmarks.md). sqlx already pings a connection when it is released and
        // closes it if broken, so only one that dies while idle in the pool goes unnoticed,
        // and it fails the one statement that next uses it.
        .test_before_acquire(false)
        .connect_with(options.application_name("ownergraph"))
        .await
}

/// Runs the migrations that have not run yet. When every one has, nothing is written: the
/// service may connect as a role that cannot create tables (`ownergraph_service`,
/// docs/audit.md), and sqlx's migrator would try to create its bookkeeping table.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let migrator = sqlx::migrate!("./migrations");
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let all_applied = migrator.iter().all(|m| {
        applied
            .iter()
            .any(|(v, c)| *v == m.version && c[..] == m.checksum[..])
    });
    if all_applied && !applied.is_empty() {
        return Ok(());
    }
    migrator.run(pool).await
}

/// A committed graph change: its version and what to apply to the graph.
#[derive(Debug, Clone)]
pub struct Committed {
    pub version: i64,
    pub changes: Vec<GraphChange>,
    pub names: Vec<NameChange>,
    /// The change was too large to carry: an instance rebuilds its graph from the tables.
    pub reload: bool,
}

/// Who made a change and what it was, for the change log.
pub struct ChangeRecord<'a> {
    pub actor: &'a str,
    pub action: &'static str,
    pub entities: Vec<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub changes: Vec<GraphChange>,
    pub names: Vec<NameChange>,
}

/// Opens a graph-changing transaction: takes the next version, which also makes this writer
/// wait for any other to commit first.
pub async fn begin_change(pool: &PgPool) -> Result<(Tx, i64), DbError> {
    let mut tx = pool.begin().await?;
    let version: i64 =
        sqlx::query_scalar("UPDATE graph_state SET version = version + 1 RETURNING version")
            .fetch_one(&mut *tx)
            .await?;
    Ok((tx, version))
}

/// The latest committed change-log version: what a graph that has caught up reflects.
pub async fn latest_version(conn: impl sqlx::PgExecutor<'_>) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT version FROM graph_state")
        .fetch_one(conn)
        .await?)
}

/// Appends the change-log row and commits.
pub async fn commit_change(
    tx: Tx,
    version: i64,
    rec: ChangeRecord<'_>,
) -> Result<Committed, DbError> {
    commit(tx, version, rec, false).await
}

/// Appends a change-log row that carries no graph changes but tells every instance to rebuild
/// its graph from the tables (a bulk load, a large import), and commits.
pub async fn commit_reload(
    tx: Tx,
    version: i64,
    mut rec: ChangeRecord<'_>,
) -> Result<Committed, DbError> {
    rec.changes.clear();
    rec.names.clear();
    commit(tx, version, rec, true).await
}

async fn commit(
    mut tx: Tx,
    version: i64,
    rec: ChangeRecord<'_>,
    reload: bool,
) -> Result<Committed, DbError> {
    let graph = serde_json::to_value(&rec.changes).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let names = serde_json::to_value(&rec.names).map_err(|e| DbError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO change_log (version, actor, action, entities, before, after, graph, names, reload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(version)
    .bind(rec.actor)
    .bind(rec.action)
    .bind(&rec.entities)
    .bind(&rec.before)
    .bind(&rec.after)
    .bind(&graph)
    .bind(&names)
    .bind(reload)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Committed {
        version,
        changes: rec.changes,
        names: rec.names,
        reload,
    })
}

/// The change-log rows after `version`, in order, for an instance that is catching up.
pub async fn changes_since(
    pool: &PgPool,
    version: i64,
    limit: i64,
) -> Result<Vec<Committed>, DbError> {
    let rows: Vec<(i64, serde_json::Value, serde_json::Value, bool)> = sqlx::query_as(
        "SELECT version, graph, names, reload FROM change_log WHERE version > $1
         ORDER BY version LIMIT $2",
    )
    .bind(version)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(version, graph, names, reload)| {
            let corrupt = |e: serde_json::Error| DbError::Corrupt(format!("change {version}: {e}"));
            Ok(Committed {
                version,
                changes: serde_json::from_value(graph).map_err(corrupt)?,
                names: serde_json::from_value(names).map_err(corrupt)?,
                reload,
            })
        })
        .collect()
}

/// A page of a listing, with the opaque cursor of the next page.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Cursors are the last sort key of a page, base64url-encoded so clients treat them as opaque.
pub fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

pub fn decode_cursor(cursor: &str) -> Result<String, Invalid> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad_cursor)
}

/// The key of a listing paged by a numeric key (`pk`, `seq`), if a cursor is given.
pub fn decode_key_cursor(cursor: Option<&str>) -> Result<Option<i64>, Invalid> {
    cursor
        .map(|c| decode_cursor(c)?.parse().map_err(|_| bad_cursor()))
        .transpose()
}

fn bad_cursor() -> Invalid {
    Invalid::new(
        "cursor",
        "invalid_cursor",
        "the cursor is not one this service gave out",
    )
}

/// Cuts a fetched `limit + 1` rows to a page, making the cursor from the last kept key.
pub fn page<T>(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| encode_cursor(&key(r)))
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn json<T: serde::Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}
