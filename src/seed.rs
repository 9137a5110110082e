//! The demonstration data set in `seed-data/`: one JSON file per topic, loaded in file-name
//! order. Loading is idempotent: what already exists (by id) is left as it is.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sqlx::PgPool;

use crate::db::{self, DbError};
use crate::domain::{ListId, NewEntity, NewEntry, NewList, NewOwnership, PolicySpec};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    lists: Vec<NewList>,
    #[serde(default)]
    entities: Vec<NewEntity>,
    #[serde(default)]
    ownerships: Vec<NewOwnership>,
    #[serde(default)]
    entries: Vec<SeedEntry>,
    policy: Option<PolicySpec>,
}

/// An entry and the list it goes on.
#[derive(Deserialize)]
struct SeedEntry {
    list: ListId,
    #[serde(flatten)]
    entry: NewEntry,
}

#[derive(Debug, Default)]
pub struct SeedReport {
    pub created: usize,
    pub existing: usize,
    pub policy_version: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("reading {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, serde_json::Error),
    #[error("{0}: {1}")]
    Store(PathBuf, DbError),
}

/// The seed folder: `seed-data/` in the working directory, else the one the binary was built
/// from.
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from("seed-data");
    if here.is_dir() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("seed-data")
    }
}

/// Whether the store holds nothing yet (no entities, lists or policy).
pub async fn store_is_empty(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM entities) AND NOT EXISTS (SELECT 1 FROM lists)
            AND NOT EXISTS (SELECT 1 FROM policy_versions)",
    )
    .fetch_one(pool)
    .await
}

fn tally<T>(r: Result<T, DbError>, report: &mut SeedReport) -> Result<(), DbError> {
    match r {
        Ok(_) => report.created += 1,
        Err(DbError::Conflict {
            code: "id_taken", ..
        }) => report.existing += 1,
        Err(e) => return Err(e),
    }
    Ok(())
}

pub async fn load(pool: &PgPool, dir: &Path) -> Result<SeedReport, SeedError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| SeedError::Io(dir.to_owned(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut report = SeedReport::default();
    let actor = "seed";
    for path in files {
        let text = std::fs::read(&path).map_err(|e| SeedError::Io(path.clone(), e))?;
        let file: SeedFile =
            serde_json::from_slice(&text).map_err(|e| SeedError::Parse(path.clone(), e))?;
        let store = |e| SeedError::Store(path.clone(), e);
        for l in file.lists {
            tally(db::lists::create_list(pool, actor, l).await, &mut report).map_err(store)?;
        }
        for e in file.entities {
            tally(db::entities::create(pool, actor, e).await, &mut report).map_err(store)?;
        }
        for o in file.ownerships {
            tally(db::ownerships::create(pool, actor, o).await, &mut report).map_err(store)?;
        }
        for e in file.entries {
            tally(
                db::lists::create_entry(pool, actor, &e.list, e.entry).await,
                &mut report,
            )
            .map_err(store)?;
        }
        if let Some(p) = file.policy {
            let current = db::policy::current(pool).await.map_err(store)?;
            if current.rules != p.rules {
                report.policy_version = Some(
                    db::policy::put(pool, actor, p)
                        .await
                        .map_err(store)?
                        .version,
                );
            }
        }
    }
    Ok(report)
}
