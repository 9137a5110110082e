//! Name screening in the running service: the in-memory name indexes of list entries and of
//! the graph's entities, kept in step with the change log like the graph itself.
//!
//! Every write that changes a name, alias, country or identifier appends [`NameChange`]s to
//! its change-log row; instances apply them in version order, so two instances and a restart
//! all see the same index.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::{Aliases, Entity, EntityKind, Entry, EntryIdentifier, Jurisdiction, Name};
use crate::domain::{
    Basis, Decision, EntityMatch, ListMatch, ListSelector, ListingRef, NameMatchRule, Reason,
    RuleKind,
};
use crate::engine::Snapshot;
use crate::matching::{CountryCheck, Hit, Index, Query, Record};

fn all_names(name: &Name, aliases: &Aliases) -> Vec<String> {
    std::iter::once(name.as_str())
        .chain(aliases.0.iter().map(|a| a.as_str()))
        .map(str::to_owned)
        .collect()
}

/// Records are built here, where the domain types meet the matcher's.
impl Record {
    /// A list entry's record (stored or about to be).
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
        party: Record,
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
        party: Record,
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
            party: Record::of_entry(e),
            entity: e.entity.as_ref().map(|x| x.as_str().into()),
            listed_on: e.listed_on,
            delisted_on: e.delisted_on,
        }
    }
}

/// What a hit on a list entry carries besides the match.
#[derive(Clone, Debug)]
struct EntryMeta {
    list: i64,
    id: Box<str>,
    entity: Option<Box<str>>,
    listed_on: Option<NaiveDate>,
    delisted_on: Option<NaiveDate>,
}

impl EntryMeta {
    fn in_force(&self, on: NaiveDate) -> bool {
        self.listed_on.is_none_or(|f| f <= on) && self.delisted_on.is_none_or(|t| on < t)
    }
}

/// A list entry that matched a name.
#[derive(Clone, Debug)]
struct EntryHit {
    /// The list's key in the store (its id is in the graph snapshot's list table).
    pub list: i64,
    pub entry: Box<str>,
    /// The entity the entry designates, if any.
    pub entity: Option<Box<str>>,
    pub hit: Hit<i64>,
}

/// An entity of the graph that matched a name.
#[derive(Clone, Debug)]
struct EntityHit<'s> {
    pub entity: &'s str,
    pub hit: Hit<i64>,
}

/// The name index over the graph's entities. It is built after start-up, off the request
/// path (see `crate::app`), and swapped into [`Names`] when complete.
#[derive(Default)]
pub struct EntityNames {
    index: Index<i64>,
}

impl EntityNames {
    /// Applies the entity changes among `changes`; the others are for [`Names`].
    pub fn apply(&mut self, changes: Vec<NameChange>) {
        for c in changes {
            match c {
                NameChange::Entity { key, party } => {
                    self.index.upsert(key, party);
                }
                NameChange::RemoveEntity { key } => {
                    self.index.remove(key);
                }
                _ => {}
            }
        }
    }

    pub fn shrink_to_fit(&mut self) {
        self.index.shrink_to_fit();
    }
}

/// The name indexes: one over list entries, one over the graph's entities.
#[derive(Default)]
pub struct Names {
    entries: Index<i64>,
    entry_meta: HashMap<i64, EntryMeta>,
    entities: EntityNames,
}

impl NameChange {
    /// Whether this changes the entity index (else the list-entry index).
    pub fn is_entity(&self) -> bool {
        matches!(self, Self::Entity { .. } | Self::RemoveEntity { .. })
    }
}

impl Names {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, changes: Vec<NameChange>) {
        let (entities, entries): (Vec<_>, Vec<_>) =
            changes.into_iter().partition(NameChange::is_entity);
        self.entities.apply(entities);
        for c in entries {
            self.apply_entry(c);
        }
    }

    /// Replaces the entity index with one built elsewhere.
    pub fn set_entities(&mut self, built: EntityNames) {
        self.entities = built;
    }

    fn apply_entry(&mut self, c: NameChange) {
        match c {
            NameChange::Entry {
                key,
                list,
                id,
                party,
                entity,
                listed_on,
                delisted_on,
            } => {
                self.entries.upsert(key, party);
                self.entry_meta.insert(
                    key,
                    EntryMeta {
                        list,
                        id,
                        entity,
                        listed_on,
                        delisted_on,
                    },
                );
            }
            NameChange::Delist { key, on } => {
                if let Some(m) = self.entry_meta.get_mut(&key) {
                    m.delisted_on = Some(on);
                }
            }
            NameChange::RemoveEntry { key } => {
                self.entries.remove(key);
                self.entry_meta.remove(&key);
            }
            NameChange::Entity { .. } | NameChange::RemoveEntity { .. } => {}
        }
    }

    /// How many list entries and entities the indexes hold.
    pub fn counts(&self) -> (usize, usize) {
        (self.entries.len(), self.entities.index.len())
    }

    /// The list entries in force on `on`, on the lists `list` accepts, that match `query`.
    fn match_entries(
        &self,
        query: &Query<'_>,
        on: NaiveDate,
        list: impl Fn(i64) -> bool,
        limit: usize,
        threshold: f64,
    ) -> Vec<EntryHit> {
        let accept = |key: i64| {
            self.entry_meta
                .get(&key)
                .is_some_and(|m| m.in_force(on) && list(m.list))
        };
        self.entries
            .search(query, limit, threshold, accept)
            .into_iter()
            .filter_map(|hit| {
                let m = self.entry_meta.get(&hit.key)?;
                Some(EntryHit {
                    list: m.list,
                    entry: m.id.clone(),
                    entity: m.entity.clone(),
                    hit,
                })
            })
            .collect()
    }

    /// The entities of the graph that match `query`.
    /// The index may run a change ahead of `snap`: an entity the snapshot does not hold yet
    /// is left out.
    fn match_entities<'s>(
        &self,
        snap: &'s Snapshot,
        query: &Query<'_>,
        limit: usize,
        threshold: f64,
    ) -> Vec<EntityHit<'s>> {
        self.entities
            .index
            .search(query, limit, threshold, |_| true)
            .into_iter()
            .filter_map(|hit| {
                let node = snap.node(snap.lookup_key(hit.key)?)?;
                Some(EntityHit {
                    entity: &node.id,
                    hit,
                })
            })
            .collect()
    }
}

/// A name-match score at or above which, with agreeing countries and no close second, a
/// signup candidate is screened as the entity its name matched.
pub const STRONG_MATCH: f64 = 0.95;

/// How many of a party's names are matched (the primary name and the first aliases): each
/// is one index search, and this runs on the signup path.
const MAX_QUERY_NAMES: usize = 10;

/// Who is being matched: a party's names and what else the matcher weighs.
pub struct Subject<'a> {
    pub names: Vec<&'a str>,
    pub kind: Option<EntityKind>,
    pub countries: &'a [Jurisdiction],
    pub identifiers: &'a [(String, String)],
}

impl<'a> Subject<'a> {
    pub fn of(p: &'a Record) -> Self {
        Self {
            names: p.names.iter().map(String::as_str).collect(),
            kind: p.kind,
            countries: &p.countries,
            identifiers: &p.identifiers,
        }
    }

    fn queries(&self) -> impl Iterator<Item = Query<'_>> {
        self.names.iter().take(MAX_QUERY_NAMES).map(|name| Query {
            name,
            kind: self.kind,
            countries: self.countries,
            identifiers: self.identifiers,
        })
    }
}

/// Keeps the best hit per key, best first, at most `limit`.
fn best_per<K: Eq + std::hash::Hash, T>(
    hits: impl Iterator<Item = (K, f64, T)>,
    limit: usize,
) -> Vec<T> {
    let mut best: HashMap<K, (f64, T)> = HashMap::new();
    for (k, score, t) in hits {
        match best.get(&k) {
            Some((s, _)) if *s >= score => {}
            _ => {
                best.insert(k, (score, t));
            }
        }
    }
    let mut v: Vec<(f64, T)> = best.into_values().collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    v.truncate(limit);
    v.into_iter().map(|(_, t)| t).collect()
}

impl Names {
    /// An entity's record (by its key in the store) as the index holds it.
    pub fn entity(&self, key: i64) -> Option<Record> {
        self.entities.index.record(key)
    }

    /// Releases spare capacity after a bulk load.
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.entities.shrink_to_fit();
        self.entry_meta.shrink_to_fit();
    }

    /// The entries in force on `on`, on the active lists that `lists` selects, whose names
    /// match any of the subject's, best first.
    pub fn list_matches(
        &self,
        snap: &Snapshot,
        subject: &Subject<'_>,
        on: NaiveDate,
        lists: &[ListSelector],
        limit: usize,
        threshold: f64,
    ) -> Vec<ListMatch> {
        let selected = |list: i64| {
            snap.list(list)
                .is_some_and(|m| m.active && ListSelector::any_selects(lists, &m.id))
        };
        let hits = subject.queries().flat_map(|q| {
            self.match_entries(&q, on, selected, limit, threshold)
                .into_iter()
                .filter_map(|m| {
                    let list = snap.list(m.list)?.id.to_string();
                    let found = ListMatch {
                        entry: m.entry.to_string(),
                        name: m.hit.name,
                        score: m.hit.score,
                        entity: m.entity.map(|e| e.to_string()),
                        explanation: m.hit.explanation,
                        list,
                    };
                    Some((
                        (found.list.clone(), found.entry.clone()),
                        found.score,
                        found,
                    ))
                })
                .collect::<Vec<_>>()
        });
        best_per(hits, limit)
    }

    /// The graph's entities whose names match any of the subject's, best first.
    pub fn entity_matches(
        &self,
        snap: &Snapshot,
        subject: &Subject<'_>,
        limit: usize,
        threshold: f64,
    ) -> Vec<EntityMatch> {
        let hits = subject.queries().flat_map(|q| {
            self.match_entities(snap, &q, limit, threshold)
                .into_iter()
                .map(|m| {
                    let found = EntityMatch {
                        entity: m.entity.to_string(),
                        name: m.hit.name,
                        score: m.hit.score,
                        explanation: m.hit.explanation,
                    };
                    (found.entity.clone(), found.score, found)
                })
                .collect::<Vec<_>>()
        });
        best_per(hits, limit)
    }
}

/// The entity a candidate's name resolves to: the best match when it is strong, its country
/// agrees, and nothing else comes close.
pub fn strong_unique(matches: &[EntityMatch]) -> Option<&EntityMatch> {
    let top = matches.first()?;
    let runner_up = matches.get(1).map_or(0.0, |m| m.score);
    let country_agrees = matches!(top.explanation.country, CountryCheck::Agree { .. });
    (top.score >= STRONG_MATCH && country_agrees && top.score - runner_up >= 0.05).then_some(top)
}

/// What a `name_match` rule says about a subject, given its matches: `block` with basis
/// `listed` when an identifier (or the entry's own designation of the subject) confirms a
/// match, else `review` with basis `name_match`; nothing without a match.
pub fn name_reason(
    rule: &NameMatchRule,
    subject_entity: Option<&str>,
    matches: Vec<ListMatch>,
) -> Option<Reason> {
    let first = matches.first()?;
    let confirmed = |m: &ListMatch| {
        m.explanation.identifiers.iter().any(|i| i.matched)
            || (subject_entity.is_some() && m.entity.as_deref() == subject_entity)
    };
    let (basis, decision) = if matches.iter().any(confirmed) {
        (Basis::Listed, Decision::Block)
    } else {
        (Basis::NameMatch, Decision::Review)
    };
    let mut message = format!(
        "name matches '{}' (list {}, entry {}) with score {:.2}",
        first.name, first.list, first.entry, first.score
    );
    if basis == Basis::Listed {
        message.push_str("; an identifier or the entry's designation confirms it");
    }
    if matches.len() > 1 {
        message.push_str(&format!(" and {} more entries", matches.len() - 1));
    }
    Some(Reason {
        rule: rule.id.to_string(),
        kind: RuleKind::NameMatch,
        basis,
        decision,
        share: None,
        threshold: Some(rule.review_threshold),
        sources: matches.iter().filter_map(|m| m.entity.clone()).collect(),
        paths: Vec::new(),
        message,
        listings: matches
            .iter()
            .filter(|m| confirmed(m))
            .map(|m| ListingRef {
                list: m.list.clone(),
                entry: m.entry.clone(),
                listed_on: None,
            })
            .collect(),
        candidates: matches,
        unknown_owners: Vec::new(),
    })
}
