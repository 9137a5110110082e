//! Importing sanctions-list files: read the format ([`crate::formats`]), map what it states
//! onto domain values, and apply it to the store as a delta ([`crate::db::imports`]).

use std::collections::BTreeMap;
use std::time::Instant;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::ImportError;
use crate::db::imports::{ImportSet, ImportSource};
use crate::db::{self, Committed};
use crate::domain::{
    Aliases, EntityId, EntryIdentifier, IdScheme, Identifiers, ImportSummary, Interest, Invalid,
    ListId, ListKind, Name, NewEntity, NewEntry, NewList, NewOwnership, OwnershipId, Share,
    ShareRange, Text, UNSTATED_SHARE_MIN,
};
use crate::formats::{self, Files, Format, FormatError, Holding, ListRecord, Parsed, Stake};

/// What to import, and into which list.
pub struct ListImport {
    pub list: ListId,
    /// Name and kind of the list when the import creates it.
    pub name: Option<Name>,
    pub kind: ListKind,
    pub format: Format,
    pub files: Files,
}

/// Parses and applies one list import. Returns what it did and the committed change, if it
/// changed anything, for the caller to publish.
pub async fn import_list(
    pool: &PgPool,
    actor: &str,
    req: ListImport,
) -> Result<(ImportSummary, Option<Committed>), ImportError> {
    let started = Instant::now();
    let sha256 = digest(&req.files);
    let format = req.format;
    let files = req.files;
    let parsed = tokio::task::spawn_blocking(move || formats::parse(format, &files))
        .await
        .map_err(|e| FormatError::new(format.as_str(), format!("the reader failed: {e}")))??;
    let parsed_in = started.elapsed();
    let set = import_set(parsed)?;
    let list = NewList {
        id: Some(req.list.clone()),
        name: match req.name {
            Some(n) => n,
            None => Name::parse(req.list.as_str())
                .map_err(|_| Invalid::new("name", "invalid_name", "the list needs a name"))?,
        },
        kind: req.kind,
        active: true,
    };
    let source = ImportSource {
        format: format.as_str(),
        sha256: &sha256,
    };
    let out =
        db::imports::import_list(pool, actor, &list, source, set, crate::domain::today()).await?;
    tracing::info!(
        list = %req.list,
        format = format.as_str(),
        records = out.0.records,
        added = out.0.added,
        changed = out.0.changed,
        delisted = out.0.delisted,
        parse_ms = parsed_in.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "list imported"
    );
    Ok(out)
}

/// SHA-256 over the files, in name order, each as its name and content.
fn digest(files: &Files) -> String {
    let mut names: Vec<&str> = files.names().collect();
    names.sort_unstable();
    let mut h = Sha256::new();
    for n in names {
        h.update(n.as_bytes());
        h.update([0]);
        if let Some(b) = files.get(n) {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        }
    }
    crate::domain::hex(&h.finalize())
}

/// Maps what a file states onto the domain values the store takes.
fn import_set(parsed: Parsed) -> Result<ImportSet, ImportError> {
    let Parsed { records, graph, .. } = parsed;
    let designated: BTreeMap<String, bool> = graph
        .iter()
        .flat_map(|g| g.parties.iter().map(|p| (p.id.clone(), p.sanctioned)))
        .collect();
    let entries = records
        .into_iter()
        .map(|r| {
            let entity = match designated.get(r.id.as_str()) {
                Some(true) => Some(party_id(r.id.as_str())?),
                _ => None,
            };
            entry(r, entity)
        })
        .collect::<Result<_, ImportError>>()?;
    let (entities, ownerships) = match graph {
        None => (Vec::new(), Vec::new()),
        Some(g) => (
            g.parties
                .into_iter()
                .map(entity)
                .collect::<Result<_, _>>()?,
            g.holdings
                .into_iter()
                .map(ownership)
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(ImportSet {
        entries,
        entities,
        ownerships,
    })
}

fn invalid(at: &str, id: &str, message: impl std::fmt::Display) -> ImportError {
    FormatError::new(format!("{at} '{id}'"), message.to_string()).into()
}

fn party_id(id: &str) -> Result<EntityId, ImportError> {
    id.parse()
        .map_err(|_| invalid("party", id, "the id is not a valid entity id"))
}

fn identifiers(
    pairs: &[(String, String)],
    at: &str,
    id: &str,
) -> Result<Vec<EntryIdentifier>, ImportError> {
    pairs
        .iter()
        .map(|(scheme, value)| {
            Ok(EntryIdentifier {
                scheme: IdScheme::parse(scheme).unwrap_or(IdScheme::Other),
                value: Text::try_from(value.clone())
                    .map_err(|e| invalid(at, id, format!("identifier '{value}': {e}")))?,
            })
        })
        .collect()
}

fn aliases(v: Vec<Name>, at: &str, id: &str) -> Result<Aliases, ImportError> {
    Aliases::try_from(v).map_err(|e| invalid(at, id, e))
}

fn entry(r: ListRecord, entity: Option<EntityId>) -> Result<NewEntry, ImportError> {
    let id = r.id.to_string();
    Ok(NewEntry {
        identifiers: identifiers(&r.identifiers, "record", &id)?,
        aliases: aliases(r.aliases, "record", &id)?,
        id: Some(r.id),
        name: r.name,
        kind: r.kind,
        programs: r.programs,
        countries: r.countries,
        entity,
        listed_on: r.listed_on,
        delisted_on: None,
    })
}

fn entity(p: formats::Party) -> Result<NewEntity, ImportError> {
    // An entity keeps one value per scheme: the first the source states.
    let mut map = serde_json::Map::new();
    for (scheme, value) in &p.identifiers {
        if scheme != "other" && !map.contains_key(scheme) {
            map.insert(scheme.clone(), serde_json::Value::String(value.clone()));
        }
    }
    let identifiers: Identifiers = serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| invalid("party", &p.id, format!("identifiers: {e}")))?;
    Ok(NewEntity {
        id: Some(party_id(&p.id)?),
        kind: p.kind,
        aliases: aliases(p.aliases, "party", &p.id)?,
        name: p.name,
        jurisdiction: p.jurisdiction,
        headquarters: None,
        identifiers,
    })
}

fn ownership(h: Holding) -> Result<NewOwnership, ImportError> {
    let share = |v: f64| Share::new(v).map_err(|e| invalid("ownership", &h.id, e));
    let (exact, range) = match h.stake {
        Stake::Share(v) => (Some(share(v)?), None),
        Stake::Range { min, max } => (
            None,
            Some(ShareRange {
                min: share(min.max(UNSTATED_SHARE_MIN))?,
                max: share(max)?,
            }),
        ),
        Stake::Unknown => (
            None,
            Some(ShareRange {
                min: share(UNSTATED_SHARE_MIN)?,
                max: share(100.0)?,
            }),
        ),
    };
    Ok(NewOwnership {
        id: Some(
            h.id.parse::<OwnershipId>()
                .map_err(|_| invalid("ownership", &h.id, "the id is not a valid ownership id"))?,
        ),
        owner: party_id(&h.owner)?,
        owned: party_id(&h.owned)?,
        interest: Interest::Shares,
        share: exact,
        share_range: range,
        valid_from: h.valid_from,
        valid_to: h.valid_to,
        source: None,
    })
}
