//! Name screening in the running service: the in-memory name indexes of list entries and of
//! the graph's entities, kept in step with the change log like the graph itself.
//!
//! Every write that changes a name, alias, country or identifier appends [`NameChange`]s to
//! its change-log row; instances apply them in version order, so two instances and a restart
//! all see the same index.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::{Aliases, Entity, EntityKind, Entry, EntryIdentifier, Jurisdiction, Name};

/// What the name index keeps of a listed party or an entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Party {
    /// The primary name first, then the aliases.
    pub names: Vec<String>,
    pub kind: Option<EntityKind>,
    pub countries: Vec<Jurisdiction>,
    /// `(scheme, value)`: `lei`, `registration_number`, `imo`, ...
    pub identifiers: Vec<(String, String)>,
}

fn all_names(name: &Name, aliases: &Aliases) -> Vec<String> {
    std::iter::once(name.as_str())
        .chain(aliases.0.iter().map(|a| a.as_str()))
        .map(str::to_owned)
        .collect()
}

impl Party {
    /// A list entry's party (stored or about to be).
    pub fn listed(
        name: &Name,
        aliases: &Aliases,
        kind: Option<EntityKind>,
        countries: &[Jurisdiction],
        identifiers: &[EntryIdentifier],
    ) -> Self {
        Self {
            names: all_names(name, aliases),
            kind,
            countries: countries.to_vec(),
            identifiers: identifiers
                .iter()
                .map(|i| (i.scheme.as_str().to_owned(), i.value.as_str().to_owned()))
                .collect(),
        }
    }

    pub fn of_entry(e: &Entry) -> Self {
        Self::listed(&e.name, &e.aliases, e.kind, &e.countries, &e.identifiers)
    }

    pub fn of_entity(e: &Entity) -> Self {
        let mut countries: Vec<Jurisdiction> = e.jurisdiction.into_iter().collect();
        countries.extend(e.headquarters.filter(|h| Some(*h) != e.jurisdiction));
        Self {
            names: all_names(&e.name, &e.aliases),
            kind: Some(e.kind),
            countries,
            identifiers: e
                .identifiers
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

/// One change to the name indexes, as the change log stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NameChange {
    /// A list entry as it now is; replaces what the index held under `key`.
    Entry {
        key: i64,
        list: i64,
        id: Box<str>,
        party: Party,
        /// The entity the entry designates, if any.
        entity: Option<Box<str>>,
        listed_on: Option<NaiveDate>,
        delisted_on: Option<NaiveDate>,
    },
    /// The entry left its list on `on` (exclusive); it stays for screening dates before.
    Delist {
        key: i64,
        on: NaiveDate,
    },
    RemoveEntry {
        key: i64,
    },
    /// An entity as it now is.
    Entity {
        key: i64,
        id: Box<str>,
        party: Party,
    },
    RemoveEntity {
        key: i64,
    },
}

impl NameChange {
    /// The change that makes the index hold a stored entry as it is.
    pub fn entry(key: i64, list: i64, e: &Entry) -> Self {
        Self::Entry {
            key,
            list,
            id: e.id.as_str().into(),
            party: Party::of_entry(e),
            entity: e.entity.as_ref().map(|x| x.as_str().into()),
            listed_on: e.listed_on,
            delisted_on: e.delisted_on,
        }
    }
}
