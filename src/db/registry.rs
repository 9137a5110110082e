//! Registry imports (BODS, GLEIF, UK PSC): what a registry file states, applied to the store
//! in batches inside one transaction, with every record resolved to an entity.
//!
//! # Resolution
//!
//! A party (a record of the file) becomes an entity in this order, first hit wins:
//! 1. the entity an earlier import tied the same `(source, record)` to (`entity_sources`);
//! 2. the live entity with the party's LEI;
//! 3. the live entity with its registration number in its jurisdiction;
//! 4. a live entity holding one of its other identifiers (`{"swift": ...}`, ...);
//! 5. else a new entity, with id `{source}:{record}` ([`registry_id`]).
//!
//! When the identifiers name two different entities, the first rule's wins and the pair is
//! kept as a possible match (`identifier_conflict`). A new organisation without an LEI or a
//! registration number is compared by name ([`crate::matching`]) with the entities of its
//! jurisdiction whose names hold its distinctive words (trigram word similarity, so legal
//! forms and spelling variants do not matter); pairs scoring at least [`REVIEW_THRESHOLD`] are
//! kept as possible matches
//! (`name`) for a person to confirm or reject. Nothing is merged on a name alone. Persons are
//! not matched by name: a name and a nationality are not evidence that two people are one.
//!
//! # Sources
//!
//! Every `(source, record)` keeps what it stated about its entity. The entity's own fields
//! are those statements folded ([`fold`]): `store` (what the API, the seed or a list import
//! wrote before any registry named the entity) first, then GLEIF, UK PSC, BODS, then any
//! other source; within a source the oldest record first. The first statement gives the name,
//! kind and places; other names become aliases; identifiers are the union, the first value
//! of each scheme kept. An identifier another entity already holds is not copied (the pair
//! becomes a possible match instead).
//!
//! # Deltas
//!
//! Ownerships, declared indirect interests and declared unknowns are keyed by `(source,
//! record)`: a re-import adds what is new, rewrites what changed and leaves the rest, so the
//! same file twice changes nothing the second time and takes no change-log version. Imports
//! add and update; they end a link only as the source says (an end date, a ceased PSC, a
//! closed BODS record), because registry files are often partial (GLEIF deltas, a snapshot in
//! parts): a record missing from a later file is kept. A record an operator deleted stays
//! deleted (counted as skipped).
//!
//! Must not break: the whole import is one transaction holding the writer lock; a bad record
//! rolls everything back and the error names it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

use super::entities::{COLUMNS, EntityRow, columns_of, node, search_text};
use super::{ChangeRecord, Committed, DbError, Tx, begin_change, commit_change, commit_reload};
use crate::domain::{
    Aliases, Entity, EntityKind, Identifiers, Interest, Invalid, Jurisdiction, Name,
    UNSTATED_SHARE_MIN,
};
use crate::engine::{GraphChange, UnknownOwner};
use crate::formats::{DeclaredUnknown, RegistryLink, RegistryParty, ShareBounds};
use crate::matching::{Query, REVIEW_THRESHOLD, Record, compare};
use crate::names::NameChange;

/// A change with more graph changes than this is logged as a rebuild
/// ([`super::commit_reload`]) rather than carried change by change.
const RELOAD_OVER: usize = 20_000;

/// The import refreshes the planner's statistics of the tables it grows when it has applied
/// this many records, and again each time that count doubles.
const FIRST_ANALYZE: u64 = 20_000;

/// Name candidates fetched from the store per new organisation before scoring.
const NAME_CANDIDATES: i64 = 5;

/// The order in which sources' statements fold into an entity's fields.
const PRECEDENCE: [&str; 4] = ["store", "gleif", "uk-psc", "bods"];

/// What a file stated, in the order read, ready to apply. `at` names each link's and
/// unknown's record for error messages.
#[derive(Default)]
pub struct Batch {
    /// Each with whether it replaces what the file said of the party before (a BODS
    /// `updated` statement) rather than adding to it.
    pub parties: Vec<(RegistryParty, bool)>,
    pub links: Vec<(RegistryLink, String)>,
    pub unknowns: Vec<(DeclaredUnknown, String)>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.parties.len() + self.links.len() + self.unknowns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Added, changed and unchanged rows of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delta {
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
}

/// How the file's parties were tied to entities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Resolution {
    /// By the `(source, record)` of an earlier import.
    pub record: u64,
    pub lei: u64,
    pub registration_number: u64,
    pub identifier: u64,
    /// New entities.
    pub new: u64,
}

/// What a registry import read and did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegistryImportSummary {
    pub format: String,
    /// SHA-256 of the input, over every file in name order.
    pub sha256: String,
    /// The change-log version; null when the import changed nothing.
    pub version: Option<i64>,
    /// Parties, links and declared unknowns read.
    pub records: u64,
    /// Distinct parties applied (a party a file names twice in one batch counts once).
    pub parties: u64,
    pub resolved: Resolution,
    /// Entities whose fields changed (new entities not counted).
    pub entities_updated: u64,
    pub ownerships: Delta,
    /// Ownerships whose stated minimum would take the total held past 100%, kept as "up to"
    /// the stated share.
    pub ownerships_up_to: u64,
    pub declared_indirect: Delta,
    pub declared_unknowns: Delta,
    /// Pairs of entities kept for a person to confirm or reject.
    pub possible_matches: u64,
    /// Records not applied, with why (`"self_link": 2`, `"deleted": 1`, ...).
    pub skipped: BTreeMap<String, u64>,
    /// What the readers skipped without failing the file.
    pub notes: Vec<String>,
    pub elapsed_ms: u64,
    /// The re-screening job `?rescreen=` queued for what the import changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescreen_job: Option<String>,
}

/// What one record states about its entity, as `entity_sources` keeps it. Every field is
/// optional so that a `store` statement may hold only what an operator set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EntityKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub jurisdiction: Option<Jurisdiction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub headquarters: Option<Jurisdiction>,
    /// `[scheme, value]` pairs, as stated (a scheme may repeat).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<(String, String)>,
}

impl Statement {
    fn of_party(p: &RegistryParty) -> Self {
        Self {
            kind: Some(p.kind),
            name: Some(p.name.clone()),
            aliases: p.aliases.clone(),
            jurisdiction: p.jurisdiction,
            headquarters: p.headquarters,
            identifiers: p.identifiers.clone(),
        }
    }

    fn of_entity(e: &Entity) -> Self {
        let f = Fields::of_entity(e);
        Self {
            kind: Some(f.kind),
            name: Some(f.name),
            aliases: f.aliases.0,
            jurisdiction: f.jurisdiction,
            headquarters: f.headquarters,
            identifiers: f.identifiers.into_iter().collect(),
        }
    }
}

/// The fields of an entity row.
#[derive(Clone, Debug, PartialEq)]
struct Fields {
    kind: EntityKind,
    name: Name,
    aliases: Aliases,
    jurisdiction: Option<Jurisdiction>,
    headquarters: Option<Jurisdiction>,
    identifiers: BTreeMap<String, String>,
}

impl Fields {
    fn of_entity(e: &Entity) -> Self {
        Self {
            kind: e.kind,
            name: e.name.clone(),
            aliases: e.aliases.clone(),
            jurisdiction: e.jurisdiction,
            headquarters: e.headquarters,
            identifiers: e
                .identifiers
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    fn lei(&self) -> Option<&str> {
        self.identifiers.get("lei").map(String::as_str)
    }

    fn registration(&self) -> Option<(String, &str)> {
        Some((
            self.jurisdiction?.to_string(),
            self.identifiers.get("registration_number")?.as_str(),
        ))
    }
}

/// Entities' fields as the columns `$2` to `$8` of an `unnest` write (kind, name, aliases,
/// jurisdiction, headquarters, identifiers, search text), one element per entity.
#[derive(Default)]
struct FieldColumns {
    kinds: Vec<&'static str>,
    names: Vec<String>,
    aliases: Vec<serde_json::Value>,
    jurisdictions: Vec<Option<String>>,
    headquarters: Vec<Option<String>>,
    identifiers: Vec<serde_json::Value>,
    search: Vec<String>,
}

impl FieldColumns {
    fn push(&mut self, f: &Fields) {
        self.kinds.push(f.kind.as_str());
        self.names.push(f.name.as_str().to_owned());
        self.aliases
            .push(serde_json::to_value(&f.aliases.0).unwrap_or_default());
        self.jurisdictions
            .push(f.jurisdiction.map(|j| j.to_string()));
        self.headquarters
            .push(f.headquarters.map(|j| j.to_string()));
        self.identifiers
            .push(serde_json::to_value(&f.identifiers).unwrap_or_default());
        self.search.push(search_text(&f.name, &f.aliases));
    }

    fn bind<'q, O>(
        &'q self,
        q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        q.bind(&self.kinds)
            .bind(&self.names)
            .bind(&self.aliases)
            .bind(&self.jurisdictions)
            .bind(&self.headquarters)
            .bind(&self.identifiers)
            .bind(&self.search)
    }
}

fn rank(source: &str) -> usize {
    PRECEDENCE
        .iter()
        .position(|s| *s == source)
        .unwrap_or(PRECEDENCE.len())
}

/// An entity's fields from its sources' statements, given as `(source, placeholder, pk,
/// statement)`; see the module doc for the order. `None` when no statement names it.
fn fold(mut statements: Vec<(&str, bool, i64, &Statement)>) -> Option<Fields> {
    statements.sort_by_key(|(source, placeholder, pk, _)| (*placeholder, rank(source), *pk));
    let (_, _, _, first) = statements.iter().find(|s| s.3.name.is_some())?;
    let name = first.name.clone()?;
    let mut aliases: Vec<Name> = Vec::new();
    let push = |n: &Name, aliases: &mut Vec<Name>| {
        if *n != name && !aliases.contains(n) && aliases.len() < crate::formats::MAX_ALIASES {
            aliases.push(n.clone());
        }
    };
    let mut kind = None;
    let mut jurisdiction = None;
    let mut headquarters = None;
    let mut identifiers = BTreeMap::new();
    for (_, placeholder, _, s) in &statements {
        if let Some(n) = &s.name
            && !placeholder
        {
            push(n, &mut aliases);
        }
        for a in &s.aliases {
            push(a, &mut aliases);
        }
        kind = kind.or(s.kind);
        jurisdiction = jurisdiction.or(s.jurisdiction);
        headquarters = headquarters.or(s.headquarters);
        for (scheme, value) in &s.identifiers {
            identifiers
                .entry(scheme.clone())
                .or_insert_with(|| value.clone());
        }
    }
    Some(Fields {
        kind: kind.unwrap_or(EntityKind::Company),
        name,
        aliases: Aliases(aliases),
        jurisdiction,
        headquarters,
        identifiers: valid_identifiers(identifiers),
    })
}

/// Keeps the identifiers the entity model accepts (an invalid LEI is dropped, not stored).
fn valid_identifiers(map: BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter()
        .filter(|(k, v)| {
            let one = serde_json::json!({ k: v });
            serde_json::from_value::<Identifiers>(one).is_ok()
        })
        .collect()
}

/// The store id of a registry record: `{source}:{record}`, with `/` written as `:` when the
/// record has no `:` of its own (`uk-psc:GB:08209948`); otherwise, or when that is not a valid
/// id, the record made valid (other characters as `-`, cut short) and a digest of it, so that
/// two records never share an id.
pub fn registry_id(source: &str, record: &str) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    if !record.contains(':') {
        let id = format!("{source}:{}", record.replace('/', ":"));
        if id.len() <= 128 && id.chars().all(valid) {
            return id;
        }
    }
    use sha2::{Digest, Sha256};
    let digest = crate::domain::hex(&Sha256::digest(record.as_bytes())[..8]);
    let cleaned: String = format!("{source}:{record}")
        .chars()
        .map(|c| if valid(c) { c } else { '-' })
        .take(100)
        .collect();
    format!("{cleaned}.{digest}")
}

/// The numbers the rules compute with, from a share as stated: `(share, min, max)` with
/// either an exact share or a range. An unstated minimum is [`UNSTATED_SHARE_MIN`], an
/// unstated maximum 100.
/// `(share, share_min, share_max)` as the ownership columns hold them.
type Stake = (Option<f64>, Option<f64>, Option<f64>);

fn stake(b: &ShareBounds) -> Result<Stake, String> {
    let in_range = |v: f64| v > 0.0 && v <= 100.0;
    if let Some(x) = b.exact {
        if !in_range(x) {
            return Err(format!("share {x} is not in (0, 100]"));
        }
        return Ok((Some(x), None, None));
    }
    let min = b.min.unwrap_or(0.0).max(UNSTATED_SHARE_MIN);
    let max = b.max.unwrap_or(100.0);
    if !in_range(max) || min > max {
        return Err(format!("share range {min}–{max} is not within (0, 100]"));
    }
    Ok((None, Some(min), Some(max)))
}

/// Where a batch's party ended up.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Existing(i64),
    /// Index into the batch's new entities.
    New(usize),
    /// The record's entity was deleted by an operator: skipped.
    Deleted,
}

#[derive(FromRow)]
struct Mapping {
    record: String,
    pk: i64,
    entity_pk: i64,
    statement: Json<Statement>,
    placeholder: bool,
    deleted: bool,
}

#[derive(FromRow)]
struct SourceRow {
    pk: i64,
    entity_pk: i64,
    source: String,
    placeholder: bool,
    statement: Json<Statement>,
}

#[derive(FromRow)]
struct StoredLink {
    pk: i64,
    source_record: String,
    owner_pk: i64,
    owned_pk: i64,
    interest: String,
    share: Option<f64>,
    share_min: Option<f64>,
    share_max: Option<f64>,
    share_min_exclusive: bool,
    share_max_exclusive: bool,
    stated_share: Option<Json<ShareBounds>>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    details: Option<String>,
    deleted: bool,
}

#[derive(FromRow)]
struct StoredInterest {
    source_record: String,
    owner_pk: i64,
    owned_pk: i64,
    interest: String,
    share: Option<Json<ShareBounds>>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    details: Option<String>,
    deleted: bool,
}

/// A link ready to write.
#[derive(Clone, Debug, PartialEq)]
struct LinkRow {
    id: String,
    record: String,
    owner_pk: i64,
    owned_pk: i64,
    owner: String,
    owned: String,
    interest: Interest,
    share: Option<f64>,
    share_min: Option<f64>,
    share_max: Option<f64>,
    min_exclusive: bool,
    max_exclusive: bool,
    stated: Option<ShareBounds>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    details: Option<String>,
}

impl LinkRow {
    fn same_as(&self, s: &StoredLink) -> bool {
        self.owner_pk == s.owner_pk
            && self.owned_pk == s.owned_pk
            && self.interest.as_str() == s.interest
            && self.min_exclusive == s.share_min_exclusive
            && self.max_exclusive == s.share_max_exclusive
            && self.stated == s.stated_share.as_ref().map(|j| j.0)
            && self.valid_from == s.valid_from
            && self.valid_to == s.valid_to
            && self.details == s.details
            && ((self.share, self.share_min, self.share_max) == (s.share, s.share_min, s.share_max)
                || self.demoted() == (s.share, s.share_min, s.share_max))
    }

    fn same_declared(&self, s: &StoredInterest) -> bool {
        (self.owner_pk, self.owned_pk, self.interest.as_str())
            == (s.owner_pk, s.owned_pk, s.interest.as_str())
            && self.stated == s.share.as_ref().map(|j| j.0)
            && (self.valid_from, self.valid_to) == (s.valid_from, s.valid_to)
            && self.details == s.details
    }

    /// The numbers of this link kept as "up to" its stated share.
    fn demoted(&self) -> Stake {
        match self.share {
            Some(s) => (None, Some(UNSTATED_SHARE_MIN.min(s)), Some(s)),
            None => (None, Some(UNSTATED_SHARE_MIN), self.share_max),
        }
    }

    fn edge(&self, key: i64) -> crate::engine::EdgeData {
        let (min, max) = match (self.share, self.share_min, self.share_max) {
            (Some(s), _, _) => (s, s),
            (None, Some(a), Some(b)) => (a, b),
            _ => (0.0, 0.0),
        };
        crate::engine::EdgeData::stated(
            key,
            self.interest,
            (min, self.min_exclusive),
            (max, self.max_exclusive),
            self.valid_from,
            self.valid_to,
        )
    }
}

/// Applies a registry file batch by batch in one transaction.
pub struct Importer<'a> {
    tx: Tx,
    version: i64,
    actor: &'a str,
    /// The source every record of this import comes from: `gleif`, `uk-psc`, `bods`.
    source: &'a str,
    summary: RegistryImportSummary,
    changes: Vec<GraphChange>,
    names: Vec<NameChange>,
    /// More changes than [`RELOAD_OVER`]: the change is logged as a rebuild.
    too_many: bool,
    /// Ids of the entities touched, for the change log (the first thousand).
    touched: Vec<String>,
    /// Records that had a full statement in this import: a second one folds into it rather
    /// than replacing it.
    stated: HashSet<String>,
    /// Anything written (so the import takes a version).
    wrote: bool,
    /// Records applied when the statistics are next refreshed.
    next_analyze: u64,
}

impl<'a> Importer<'a> {
    /// Opens the import's transaction (taking the writer lock).
    pub async fn begin(
        pool: &PgPool,
        actor: &'a str,
        format: &str,
        source: &'a str,
    ) -> Result<Importer<'a>, DbError> {
        let (mut tx, version) = begin_change(pool).await?;
        // Every statement of an import looks up or writes one batch (thousands of rows) in
        // tables of up to millions, which the import itself grows inside this transaction, so
        // that the planner's estimates lag: plan each statement for its own parameters, and
        // probe the indexes rather than hash or sort whole tables.
        for setting in [
            "SET LOCAL plan_cache_mode = force_custom_plan",
            "SET LOCAL enable_hashjoin = off",
            "SET LOCAL enable_mergejoin = off",
        ] {
            sqlx::query(setting).execute(&mut *tx).await?;
        }
        Ok(Self {
            tx,
            version,
            actor,
            source,
            summary: RegistryImportSummary {
                format: format.to_owned(),
                ..Default::default()
            },
            changes: Vec::new(),
            names: Vec::new(),
            too_many: false,
            touched: Vec::new(),
            stated: HashSet::new(),
            wrote: false,
            next_analyze: FIRST_ANALYZE,
        })
    }

    pub fn summary(&self) -> &RegistryImportSummary {
        &self.summary
    }

    /// Applies one batch: parties first, then the links and unknowns that name them.
    pub async fn apply(&mut self, batch: Batch) -> Result<(), DbError> {
        self.summary.records += batch.len() as u64;
        if !batch.parties.is_empty() {
            self.parties(batch.parties).await?;
        }
        if !batch.links.is_empty() {
            self.links(batch.links).await?;
        }
        if !batch.unknowns.is_empty() {
            self.unknowns(batch.unknowns).await?;
        }
        if self.summary.records >= self.next_analyze {
            // A large import can grow the tables many times over inside its transaction; plans
            // made from statistics of the tables as they were (or of empty ones) would scan
            // what they should probe. ANALYZE samples this transaction's own rows too.
            sqlx::query("ANALYZE entities, entity_sources, ownerships")
                .execute(&mut *self.tx)
                .await?;
            self.next_analyze = self.summary.records * 2;
        }
        Ok(())
    }

    fn skip(&mut self, why: &str) {
        *self.summary.skipped.entry(why.to_owned()).or_default() += 1;
    }

    fn change(&mut self, change: GraphChange) {
        if self.too_many {
            return;
        }
        self.changes.push(change);
        if self.changes.len() > RELOAD_OVER {
            self.too_many = true;
            self.changes = Vec::new();
            self.names = Vec::new();
        }
    }

    fn touch(&mut self, id: &str) {
        if self.touched.len() < 1000 {
            self.touched.push(id.to_owned());
        }
    }

    async fn parties(&mut self, parties: Vec<(RegistryParty, bool)>) -> Result<(), DbError> {
        // One statement per record in a batch.
        let mut order: Vec<RegistryParty> = Vec::with_capacity(parties.len());
        let mut replaced: HashSet<String> = HashSet::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (p, replace) in parties {
            if replace && !p.placeholder {
                replaced.insert(p.id.clone());
            }
            match index.get(&p.id) {
                Some(&i) if replace => order[i] = p,
                Some(&i) => order[i].merge(p),
                None => {
                    index.insert(p.id.clone(), order.len());
                    order.push(p);
                }
            }
        }
        self.summary.parties += order.len() as u64;
        let records: Vec<&str> = order.iter().map(|p| p.id.as_str()).collect();
        let mapped: HashMap<String, Mapping> = by_record(
            &mut self.tx,
            "SELECT s.record, s.pk, s.entity_pk, s.statement, s.placeholder,
                    e.deleted_at IS NOT NULL AS deleted
             FROM entity_sources s JOIN entities e ON e.pk = s.entity_pk
             WHERE s.source = $1 AND s.record = ANY($2)",
            self.source,
            &records,
            |m: &Mapping| &m.record,
        )
        .await?;

        let lookups = IdentifierLookups::of(order.iter().filter(|p| !mapped.contains_key(&p.id)));
        let found = lookups.find(&mut self.tx).await?;

        // Decide where each party goes, in file order, so that two records of one batch with
        // one LEI become one entity.
        let mut new_entities: Vec<(String, Statement)> = Vec::new();
        let mut batch_lei: HashMap<String, usize> = HashMap::new();
        let mut batch_reg: HashMap<(String, String), usize> = HashMap::new();
        let mut targets: Vec<(Target, &'static str)> = Vec::with_capacity(order.len());
        let mut conflicts: Vec<(Target, i64)> = Vec::new();
        for p in &order {
            if let Some(m) = mapped.get(&p.id) {
                targets.push(if m.deleted {
                    (Target::Deleted, "record")
                } else {
                    (Target::Existing(m.entity_pk), "record")
                });
                continue;
            }
            let lei = identifier(p, "lei");
            let reg = p
                .jurisdiction
                .zip(identifier(p, "registration_number"))
                .map(|(j, r)| (j.to_string(), r.to_owned()));
            let by_lei = lei.and_then(|l| {
                found
                    .lei
                    .get(l)
                    .map(|&pk| Target::Existing(pk))
                    .or_else(|| batch_lei.get(l).map(|&i| Target::New(i)))
            });
            let by_reg = reg.as_ref().and_then(|r| {
                found
                    .registration
                    .get(r)
                    .map(|&pk| Target::Existing(pk))
                    .or_else(|| batch_reg.get(r).map(|&i| Target::New(i)))
            });
            let by_other = found.other.get(&p.id).map(|&pk| Target::Existing(pk));
            let hits = [
                (by_lei, "lei"),
                (by_reg, "registration_number"),
                (by_other, "identifier"),
            ];
            let mut chosen = hits.iter().find_map(|(t, how)| t.map(|t| (t, *how)));
            if let Some((t, _)) = chosen {
                for (other, _) in &hits {
                    if let Some(Target::Existing(o)) = other
                        && Target::Existing(*o) != t
                    {
                        conflicts.push((t, *o));
                    }
                }
            }
            if chosen.is_none() {
                let i = new_entities.len();
                new_entities.push((registry_id(self.source, &p.id), Statement::of_party(p)));
                if let Some(l) = lei {
                    batch_lei.insert(l.to_owned(), i);
                }
                if let Some(r) = reg {
                    batch_reg.insert(r, i);
                }
                chosen = Some((Target::New(i), "new"));
            }
            targets.extend(chosen);
        }

        let new_pks = self.insert_entities(&new_entities).await?;
        let pk_of = |t: Target| match t {
            Target::Existing(pk) => Some(pk),
            Target::New(i) => Some(new_pks[i]),
            Target::Deleted => None,
        };

        // Entities named by a registry for the first time keep what the store said as the
        // `store` statement.
        let existing: Vec<i64> = order
            .iter()
            .zip(&targets)
            .filter(|(p, (_, how))| *how != "record" && !mapped.contains_key(&p.id))
            .filter_map(|(_, (t, _))| match t {
                Target::Existing(pk) => Some(*pk),
                _ => None,
            })
            .collect();
        self.keep_store_statements(&existing).await?;

        let mut touched: Vec<i64> = Vec::new();
        let mut sources = SourceWrites::default();
        for (p, (t, how)) in order.iter().zip(&targets) {
            let Some(pk) = pk_of(*t) else {
                self.skip("deleted_entity");
                continue;
            };
            match *how {
                "record" => self.summary.resolved.record += 1,
                "lei" => self.summary.resolved.lei += 1,
                "registration_number" => self.summary.resolved.registration_number += 1,
                "identifier" => self.summary.resolved.identifier += 1,
                _ => self.summary.resolved.new += 1,
            }
            touched.push(pk);
            let statement = Statement::of_party(p);
            match mapped.get(&p.id) {
                Some(m) => {
                    // A placeholder never overwrites; the first full statement of this import
                    // replaces the stored one, as does a replacing one; others fold into it.
                    let next = if p.placeholder {
                        None
                    } else if self.stated.insert(p.id.clone()) || replaced.contains(&p.id) {
                        Some(statement)
                    } else {
                        let mut known = m.statement.0.clone();
                        merge_statement(&mut known, statement);
                        Some(known)
                    };
                    if let Some(next) = next
                        && (next != m.statement.0 || m.placeholder)
                    {
                        sources.update.push((m.pk, next));
                    }
                }
                None => {
                    if !p.placeholder {
                        self.stated.insert(p.id.clone());
                    }
                    sources
                        .insert
                        .push((pk, p.id.clone(), p.placeholder, statement, *how));
                }
            }
        }
        sources.write(&mut self.tx, self.source).await?;
        for (chosen, other) in conflicts {
            if let Some(pk) = pk_of(chosen) {
                self.possible_match(
                    pk,
                    other,
                    "identifier_conflict",
                    None,
                    serde_json::json!({
                        "message": "identifiers of one record name two different entities"
                    }),
                )
                .await?;
            }
        }
        touched.sort_unstable();
        touched.dedup();
        self.refold(&touched, &new_pks).await?;
        self.name_matches(&new_entities, &new_pks).await?;
        Ok(())
    }

    /// Inserts new entities with their first statement; returns their keys in order.
    async fn insert_entities(&mut self, new: &[(String, Statement)]) -> Result<Vec<i64>, DbError> {
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::with_capacity(new.len());
        let mut columns = FieldColumns::default();
        for (id, s) in new {
            let f = fold(vec![(self.source, false, 0, s)])
                .ok_or_else(|| DbError::Corrupt(format!("record of entity '{id}' has no name")))?;
            ids.push(id.as_str());
            columns.push(&f);
        }
        let rows = sqlx::query_as::<_, (String, i64)>(
            "INSERT INTO entities (id, kind, name, aliases, jurisdiction, headquarters,
                 identifiers, search)
             SELECT id, kind, name, ARRAY(SELECT jsonb_array_elements_text(aliases)),
                 jurisdiction, headquarters, identifiers, search
             FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[],
                 $6::text[], $7::jsonb[], $8::text[])
                 AS q(id, kind, name, aliases, jurisdiction, headquarters, identifiers, search)
             RETURNING id, pk",
        )
        .bind(&ids);
        let rows = columns
            .bind(rows)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(super::on_constraint)?;
        let by_id: HashMap<String, i64> = rows.into_iter().collect();
        self.wrote = true;
        ids.iter()
            .map(|id| {
                by_id
                    .get(*id)
                    .copied()
                    .ok_or_else(|| DbError::Corrupt(format!("entity '{id}' was not inserted")))
            })
            .collect()
    }

    async fn keep_store_statements(&mut self, pks: &[i64]) -> Result<(), DbError> {
        keep_store_statements(&mut self.tx, pks).await
    }

    /// Recomputes the touched entities' fields from their statements and writes those that
    /// changed, with their graph and name-index changes.
    async fn refold(&mut self, pks: &[i64], new_pks: &[i64]) -> Result<(), DbError> {
        let new: HashSet<i64> = new_pks.iter().copied().collect();
        let out = refold(&mut self.tx, pks, &new).await?;
        for (pk, other) in out.conflicts {
            self.possible_match(
                pk,
                other,
                "identifier_conflict",
                None,
                serde_json::json!({
                    "message": "a source gives this entity an identifier the other entity holds"
                }),
            )
            .await?;
        }
        for (pk, e) in out.updated {
            self.wrote = true;
            if !new.contains(&pk) {
                self.summary.entities_updated += 1;
            }
            self.touch(e.id.as_str());
            self.change(GraphChange::UpsertEntity { node: node(pk, &e) });
            if !self.too_many {
                self.names.push(NameChange::Entity {
                    key: pk,
                    party: Record::of_entity(&e),
                });
            }
        }
        Ok(())
    }

    /// Compares new organisations without an LEI or registration number, by name, with the
    /// live entities of their jurisdiction.
    async fn name_matches(
        &mut self,
        new: &[(String, Statement)],
        new_pks: &[i64],
    ) -> Result<(), DbError> {
        let mut pks = Vec::new();
        let mut names = Vec::new();
        let mut jurisdictions = Vec::new();
        let mut statements = Vec::new();
        for ((_, s), pk) in new.iter().zip(new_pks) {
            let strong = s
                .identifiers
                .iter()
                .any(|(k, _)| k == "lei" || k == "registration_number");
            if let (Some(name), Some(j)) = (&s.name, s.jurisdiction)
                && s.kind != Some(EntityKind::Person)
                && !strong
            {
                pks.push(*pk);
                // Stored search text is the names as written, lower-cased: a name in another
                // script is looked for as written.
                names.push(if name.as_str().is_ascii() {
                    crate::matching::distinctive_words(name.as_str(), s.kind)
                } else {
                    name.as_str().to_lowercase()
                });
                jurisdictions.push(j.to_string());
                statements.push(s);
            }
        }
        if pks.is_empty() {
            return Ok(());
        }
        let candidates: Vec<EntityCandidate> = sqlx::query_as(&format!(
            "SELECT q.i, {} FROM unnest($1::bigint[], $2::text[], $3::text[])
                 WITH ORDINALITY AS q(pk, name, j, i)
             CROSS JOIN LATERAL (
                 SELECT {COLUMNS} FROM entities e
                 WHERE e.deleted_at IS NULL AND e.jurisdiction = q.j AND e.pk <> q.pk
                   AND e.kind <> 'person' AND q.name <% e.search
                 ORDER BY word_similarity(q.name, e.search) DESC,
                     similarity(q.name, e.search) DESC, e.pk
                 LIMIT {NAME_CANDIDATES}) c",
            columns_of("c")
        ))
        .bind(&pks)
        .bind(&names)
        .bind(&jurisdictions)
        .fetch_all(&mut *self.tx)
        .await?;
        for c in candidates {
            let i = (c.i - 1) as usize;
            let s = statements[i];
            let Some(name) = &s.name else { continue };
            let countries: Vec<Jurisdiction> = s.jurisdiction.into_iter().collect();
            let query = Query {
                name: name.as_str(),
                kind: s.kind,
                countries: &countries,
                identifiers: &s.identifiers,
            };
            let candidate_pk = c.row.pk;
            let entity = Entity::try_from(c.row)?;
            if let Some(hit) = compare(&query, &Record::of_entity(&entity))
                && hit.score >= REVIEW_THRESHOLD
            {
                let explanation = serde_json::json!({
                    "name": hit.name,
                    "explanation": hit.explanation,
                });
                self.possible_match(pks[i], candidate_pk, "name", Some(hit.score), explanation)
                    .await?;
            }
        }
        Ok(())
    }

    async fn possible_match(
        &mut self,
        entity_pk: i64,
        candidate_pk: i64,
        basis: &str,
        score: Option<f64>,
        explanation: serde_json::Value,
    ) -> Result<(), DbError> {
        let (a, b) = (entity_pk.max(candidate_pk), entity_pk.min(candidate_pk));
        let added = sqlx::query(
            "INSERT INTO possible_matches (entity_pk, candidate_pk, basis, score, explanation)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (entity_pk, candidate_pk) DO NOTHING",
        )
        .bind(a)
        .bind(b)
        .bind(basis)
        .bind(score)
        .bind(explanation)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if added > 0 {
            self.summary.possible_matches += 1;
            self.wrote = true;
        }
        Ok(())
    }

    /// The entities of the parties a batch of links or unknowns names, by record.
    async fn ends(&mut self, records: Vec<&str>) -> Result<HashMap<String, End>, DbError> {
        by_record(
            &mut self.tx,
            "SELECT s.record, e.pk, e.id, e.deleted_at IS NOT NULL AS deleted
             FROM entity_sources s JOIN entities e ON e.pk = s.entity_pk
             WHERE s.source = $1 AND s.record = ANY($2)",
            self.source,
            &records,
            |r: &End| &r.record,
        )
        .await
    }

    async fn links(&mut self, links: Vec<(RegistryLink, String)>) -> Result<(), DbError> {
        let records: Vec<&str> = links
            .iter()
            .flat_map(|(l, _)| [l.owner.as_str(), l.owned.as_str()])
            .collect();
        let ends = self.ends(records).await?;
        let mut direct = Vec::new();
        let mut indirect = Vec::new();
        for (l, at) in &links {
            let end = |id: &str| {
                ends.get(id).ok_or_else(|| {
                    Invalid::new(
                        "owner",
                        "unknown_party",
                        format!("{at}: names party '{id}', which no earlier record describes"),
                    )
                })
            };
            let (owner, owned) = (end(&l.owner)?, end(&l.owned)?);
            if owner.deleted || owned.deleted {
                self.skip("deleted_entity");
                continue;
            }
            if owner.pk == owned.pk {
                self.skip("self_link");
                continue;
            }
            let (share, share_min, share_max) = if l.interest.is_quantified() {
                stake(&l.share)
                    .map_err(|m| Invalid::new("share", "invalid_share", format!("{at}: {m}")))?
            } else {
                (None, None, None)
            };
            if let (Some(f), Some(t)) = (l.valid_from, l.valid_to)
                && t <= f
            {
                return Err(Invalid::new(
                    "valid_to",
                    "invalid_interval",
                    format!("{at}: ends ({t}) before it starts ({f})"),
                )
                .into());
            }
            let row = LinkRow {
                id: registry_id(self.source, &l.id),
                record: l.id.clone(),
                owner_pk: owner.pk,
                owned_pk: owned.pk,
                owner: owner.id.clone(),
                owned: owned.id.clone(),
                interest: l.interest,
                share,
                share_min,
                share_max,
                min_exclusive: share_min.is_some() && l.share.min_exclusive,
                max_exclusive: share_max.is_some() && l.share.max_exclusive,
                stated: (!l.share.is_unknown()).then_some(l.share),
                valid_from: l.valid_from,
                valid_to: l.valid_to,
                details: l.details.clone(),
            };
            if l.declared_indirect {
                indirect.push(row);
            } else {
                direct.push(row);
            }
        }
        self.ownerships(direct).await?;
        self.declared_interests(indirect).await
    }

    async fn ownerships(&mut self, rows: Vec<LinkRow>) -> Result<(), DbError> {
        if rows.is_empty() {
            return Ok(());
        }
        let records: Vec<&str> = rows.iter().map(|r| r.record.as_str()).collect();
        let stored: HashMap<String, StoredLink> = by_record(
            &mut self.tx,
            "SELECT pk, source_record, owner_pk, owned_pk, interest, share, share_min, share_max,
                    share_min_exclusive, share_max_exclusive, stated_share, valid_from, valid_to,
                    details, deleted_at IS NOT NULL AS deleted
             FROM ownerships WHERE source = $1 AND source_record = ANY($2)",
            self.source,
            &records,
            |s: &StoredLink| &s.source_record,
        )
        .await?;
        let mut writes: Vec<(Option<i64>, LinkRow)> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for row in &rows {
            if !seen.insert(row.record.as_str()) {
                return Err(Invalid::new(
                    "id",
                    "duplicate_record",
                    format!("link '{}' appears twice in one batch", row.record),
                )
                .into());
            }
            match stored.get(&row.record) {
                Some(s) if s.deleted => self.skip("deleted_ownership"),
                Some(s) if row.same_as(s) => self.summary.ownerships.unchanged += 1,
                Some(s) => {
                    self.summary.ownerships.changed += 1;
                    writes.push((Some(s.pk), row.clone()));
                }
                None => {
                    self.summary.ownerships.added += 1;
                    writes.push((None, row.clone()));
                }
            }
        }
        if writes.is_empty() {
            return Ok(());
        }
        // Changed rows leave the graph before their new terms join it.
        for (pk, row) in &writes {
            if let Some(pk) = pk {
                let s = &stored[&row.record];
                let (owner, owned) = (
                    self.entity_id(s.owner_pk, row)?,
                    self.entity_id(s.owned_pk, row)?,
                );
                self.change(GraphChange::RemoveLink {
                    owner: owner.into(),
                    owned: owned.into(),
                    key: *pk,
                });
            }
        }
        let keys = write_ownerships(&mut self.tx, self.source, &writes).await?;
        self.wrote = true;
        let demoted = self.check_totals(&writes, &keys).await?;
        for ((_, row), key) in writes.iter().zip(&keys) {
            let mut row = row.clone();
            if demoted.contains(key) {
                (row.share, row.share_min, row.share_max) = row.demoted();
                row.min_exclusive = false;
            }
            self.touch(&row.owner);
            self.touch(&row.owned);
            self.change(GraphChange::AddLink {
                owner: row.owner.as_str().into(),
                owned: row.owned.as_str().into(),
                data: row.edge(*key),
            });
        }
        Ok(())
    }

    /// The id of an entity a stored link names: one of the row's ends when it did not move,
    /// else read.
    fn entity_id(&self, pk: i64, row: &LinkRow) -> Result<String, DbError> {
        if pk == row.owner_pk {
            Ok(row.owner.clone())
        } else if pk == row.owned_pk {
            Ok(row.owned.clone())
        } else {
            Err(Invalid::new(
                "owner",
                "link_moved",
                format!(
                    "link '{}' now joins other entities than when it was stored; delete it first",
                    row.record
                ),
            )
            .into())
        }
    }

    /// Shares and votes are percentages of one whole: where this batch's stated minimums
    /// would take the total held in an entity past 100% at some date, the batch's links into
    /// it are kept as "up to" their stated share. Returns the keys so demoted.
    async fn check_totals(
        &mut self,
        writes: &[(Option<i64>, LinkRow)],
        keys: &[i64],
    ) -> Result<HashSet<i64>, DbError> {
        let mut owned: Vec<i64> = Vec::new();
        let mut interests: Vec<&str> = Vec::new();
        for (_, r) in writes {
            if r.interest.is_quantified() {
                owned.push(r.owned_pk);
                interests.push(r.interest.as_str());
            }
        }
        if owned.is_empty() {
            return Ok(HashSet::new());
        }
        let over = super::ownerships::over_total(&mut self.tx, &owned, &interests).await?;
        if over.is_empty() {
            return Ok(HashSet::new());
        }
        let over: HashSet<(i64, String)> = over.into_iter().map(|(pair, _)| pair).collect();
        let demote: Vec<i64> = writes
            .iter()
            .zip(keys)
            .filter(|((_, r), _)| over.contains(&(r.owned_pk, r.interest.as_str().to_owned())))
            .map(|(_, k)| *k)
            .collect();
        sqlx::query(
            "UPDATE ownerships SET share_min = CASE WHEN share IS NULL THEN $2
                     ELSE least($2, share) END,
                 share_max = coalesce(share, share_max), share = NULL,
                 share_min_exclusive = false
             WHERE pk = ANY($1)",
        )
        .bind(&demote)
        .bind(UNSTATED_SHARE_MIN)
        .execute(&mut *self.tx)
        .await?;
        self.summary.ownerships_up_to += demote.len() as u64;
        let (owned, interests): (Vec<i64>, Vec<String>) = over.into_iter().unzip();
        let interests: Vec<&str> = interests.iter().map(String::as_str).collect();
        let still = super::ownerships::over_total(&mut self.tx, &owned, &interests).await?;
        if let Some(((pk, interest), _)) = still.into_iter().next() {
            return Err(Invalid::new(
                "share",
                super::ownerships::TOTAL_EXCEEDED,
                format!(
                    "the {interest} held in entity {pk} pass 100% even with this file's stakes \
                     kept as \"up to\""
                ),
            )
            .into());
        }
        Ok(demote.into_iter().collect())
    }

    async fn declared_interests(&mut self, rows: Vec<LinkRow>) -> Result<(), DbError> {
        if rows.is_empty() {
            return Ok(());
        }
        let records: Vec<&str> = rows.iter().map(|r| r.record.as_str()).collect();
        let stored: HashMap<String, StoredInterest> = by_record(
            &mut self.tx,
            "SELECT source_record, owner_pk, owned_pk, interest, share, valid_from,
                    valid_to, details, deleted_at IS NOT NULL AS deleted
             FROM declared_interests WHERE source = $1 AND source_record = ANY($2)",
            self.source,
            &records,
            |s: &StoredInterest| &s.source_record,
        )
        .await?;
        let mut write = Vec::new();
        for r in rows {
            match stored.get(&r.record) {
                Some(s) if s.deleted => self.skip("deleted_declared_interest"),
                Some(s) if r.same_declared(s) => self.summary.declared_indirect.unchanged += 1,
                Some(_) => {
                    self.summary.declared_indirect.changed += 1;
                    write.push(r);
                }
                None => {
                    self.summary.declared_indirect.added += 1;
                    write.push(r);
                }
            }
        }
        if write.is_empty() {
            return Ok(());
        }
        let mut c = Columns::default();
        for r in &write {
            c.records.push(r.record.clone());
            c.subjects.push(r.owned_pk);
            c.owners.push(r.owner_pk);
            c.interests.push(Some(r.interest.as_str().to_owned()));
            c.shares.push(
                r.stated
                    .map(|s| serde_json::to_value(s).unwrap_or_default()),
            );
            c.from.push(r.valid_from);
            c.to.push(r.valid_to);
            c.details.push(r.details.clone());
        }
        sqlx::query(
            "INSERT INTO declared_interests (source, source_record, owned_pk, owner_pk, interest,
                 share, valid_from, valid_to, details)
             SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[],
                 $6::jsonb[], $7::date[], $8::date[], $9::text[])
             ON CONFLICT (source, source_record) DO UPDATE SET owned_pk = excluded.owned_pk,
                 owner_pk = excluded.owner_pk, interest = excluded.interest,
                 share = excluded.share, valid_from = excluded.valid_from,
                 valid_to = excluded.valid_to, details = excluded.details, updated_at = now()",
        )
        .bind(self.source)
        .bind(&c.records)
        .bind(&c.subjects)
        .bind(&c.owners)
        .bind(&c.interests)
        .bind(&c.shares)
        .bind(&c.from)
        .bind(&c.to)
        .bind(&c.details)
        .execute(&mut *self.tx)
        .await?;
        self.wrote = true;
        Ok(())
    }

    async fn unknowns(&mut self, unknowns: Vec<(DeclaredUnknown, String)>) -> Result<(), DbError> {
        let records: Vec<&str> = unknowns.iter().map(|(u, _)| u.subject.as_str()).collect();
        let ends = self.ends(records).await?;
        let ids: Vec<&str> = unknowns.iter().map(|(u, _)| u.id.as_str()).collect();
        type Stored = (
            String,
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<Json<ShareBounds>>,
            Option<NaiveDate>,
            Option<NaiveDate>,
            bool,
        );
        let stored: HashMap<String, Stored> = by_record(
            &mut self.tx,
            "SELECT source_record, entity_pk, reason, source_reason, details, interest, share,
                    valid_from, valid_to, deleted_at IS NOT NULL
             FROM declared_unknowns WHERE source = $1 AND source_record = ANY($2)",
            self.source,
            &ids,
            |s: &Stored| &s.0,
        )
        .await?;
        let mut c = Columns::default();
        let mut reasons = Vec::new();
        let mut source_reasons = Vec::new();
        for (u, at) in &unknowns {
            let Some(subject) = ends.get(&u.subject) else {
                return Err(Invalid::new(
                    "subject",
                    "unknown_party",
                    format!(
                        "{at}: names party '{}', which no earlier record describes",
                        u.subject
                    ),
                )
                .into());
            };
            if subject.deleted {
                self.skip("deleted_entity");
                continue;
            }
            let reason = crate::formats::bods_unspecified_reason(&u.reason).to_owned();
            let share = (!u.share.is_unknown()).then_some(u.share);
            let interest = u.interest.map(|i| i.as_str().to_owned());
            let wanted = (
                subject.pk,
                reason.as_str(),
                u.reason.as_str(),
                u.details.as_deref(),
                interest.as_deref(),
                share,
                u.valid_from,
                u.valid_to,
            );
            match stored.get(&u.id) {
                Some(s) if s.9 => {
                    self.skip("deleted_declared_unknown");
                    continue;
                }
                Some(s)
                    if (
                        s.1,
                        s.2.as_str(),
                        s.3.as_str(),
                        s.4.as_deref(),
                        s.5.as_deref(),
                        s.6.as_ref().map(|j| j.0),
                        s.7,
                        s.8,
                    ) == wanted =>
                {
                    self.summary.declared_unknowns.unchanged += 1;
                    continue;
                }
                Some(_) => self.summary.declared_unknowns.changed += 1,
                None => self.summary.declared_unknowns.added += 1,
            }
            self.touch(&subject.id);
            c.records.push(u.id.clone());
            c.subjects.push(subject.pk);
            c.interests.push(interest);
            c.shares
                .push(share.map(|s| serde_json::to_value(s).unwrap_or_default()));
            c.from.push(u.valid_from);
            c.to.push(u.valid_to);
            c.details.push(u.details.clone());
            reasons.push(reason);
            source_reasons.push(u.reason.clone());
        }
        if c.records.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO declared_unknowns (source, source_record, entity_pk, interest, share,
                 valid_from, valid_to, details, reason, source_reason)
             SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::jsonb[],
                 $6::date[], $7::date[], $8::text[], $9::text[], $10::text[])
             ON CONFLICT (source, source_record) DO UPDATE SET entity_pk = excluded.entity_pk,
                 interest = excluded.interest, share = excluded.share,
                 valid_from = excluded.valid_from, valid_to = excluded.valid_to,
                 details = excluded.details, reason = excluded.reason,
                 source_reason = excluded.source_reason, updated_at = now()",
        )
        .bind(self.source)
        .bind(&c.records)
        .bind(&c.subjects)
        .bind(&c.interests)
        .bind(&c.shares)
        .bind(&c.from)
        .bind(&c.to)
        .bind(&c.details)
        .bind(&reasons)
        .bind(&source_reasons)
        .execute(&mut *self.tx)
        .await?;
        self.wrote = true;
        let mut subjects = c.subjects;
        subjects.sort_unstable();
        subjects.dedup();
        for (entity, unknowns) in unknown_owners(&mut self.tx, Some(&subjects)).await? {
            self.change(GraphChange::SetUnknownOwners {
                entity: entity.into(),
                unknowns,
            });
        }
        Ok(())
    }

    /// Commits what the import changed as one change-log version (or, when it changed
    /// nothing, rolls back and takes none) and records the import.
    pub async fn finish(
        mut self,
        pool: &PgPool,
        sha256: &str,
        notes: Vec<String>,
        elapsed_ms: u64,
    ) -> Result<(RegistryImportSummary, Option<Committed>), DbError> {
        self.summary.sha256 = sha256.to_owned();
        self.summary.notes = notes;
        self.summary.elapsed_ms = elapsed_ms;
        if !self.wrote {
            self.tx.rollback().await?;
            record_import(pool, &self.summary, self.actor).await?;
            return Ok((self.summary, None));
        }
        self.summary.version = Some(self.version);
        record_import(&mut *self.tx, &self.summary, self.actor).await?;
        let rec = ChangeRecord {
            actor: self.actor,
            action: "registry.import",
            entities: self.touched,
            before: None,
            after: Some(serde_json::json!({
                "format": self.summary.format,
                "sha256": self.summary.sha256,
            })),
            changes: self.changes,
            names: self.names,
        };
        let committed = if self.too_many {
            commit_reload(self.tx, self.version, rec).await?
        } else {
            commit_change(self.tx, self.version, rec).await?
        };
        Ok((self.summary, Some(committed)))
    }
}

/// Entities named by a registry for the first time keep what the store said as their `store`
/// statement (an entity that already has statements is left alone).
pub(crate) async fn keep_store_statements(tx: &mut Tx, pks: &[i64]) -> Result<(), DbError> {
    if pks.is_empty() {
        return Ok(());
    }
    let rows: Vec<EntityRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM entities e WHERE pk = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM entity_sources s WHERE s.entity_pk = e.pk)"
    ))
    .bind(pks)
    .fetch_all(&mut **tx)
    .await?;
    let mut w = SourceWrites::default();
    for r in rows {
        let pk = r.pk;
        let e = Entity::try_from(r)?;
        w.insert.push((
            pk,
            e.id.to_string(),
            false,
            Statement::of_entity(&e),
            "record",
        ));
    }
    w.write(tx, "store").await
}

/// Records `entity` as the `store` statement of the entity `key`, when registries describe it
/// (an entity no registry names has no statements and needs none).
pub(crate) async fn state_in_store(tx: &mut Tx, key: i64, entity: &Entity) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO entity_sources (source, entity_pk, record, statement, resolved_by)
         SELECT 'store', $1, $2, $3, 'record'
         WHERE EXISTS (SELECT 1 FROM entity_sources WHERE entity_pk = $1)
         ON CONFLICT (source, record) DO UPDATE SET statement = excluded.statement,
             updated_at = now()",
    )
    .bind(key)
    .bind(entity.id.as_str())
    .bind(Json(Statement::of_entity(entity)))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What [`refold`] wrote.
#[derive(Default)]
pub(crate) struct Refolded {
    /// Entities whose fields changed (or were new), as now stored.
    pub updated: Vec<(i64, Entity)>,
    /// `(entity, other)`: an identifier the entity's sources give it that `other` holds.
    pub conflicts: Vec<(i64, i64)>,
}

/// Recomputes the entities' fields from their statements ([`fold`]) and writes those that
/// changed; returns them, and every one in `new`, as now stored.
pub(crate) async fn refold(
    tx: &mut Tx,
    pks: &[i64],
    new: &HashSet<i64>,
) -> Result<Refolded, DbError> {
    if pks.is_empty() {
        return Ok(Refolded::default());
    }
    let rows: Vec<SourceRow> = sqlx::query_as(
        "SELECT pk, entity_pk, source, placeholder, statement FROM entity_sources
         WHERE entity_pk = ANY($1)",
    )
    .bind(pks)
    .fetch_all(&mut **tx)
    .await?;
    let mut by_entity: HashMap<i64, Vec<&SourceRow>> = HashMap::new();
    for r in &rows {
        by_entity.entry(r.entity_pk).or_default().push(r);
    }
    let current: Vec<EntityRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM entities WHERE pk = ANY($1)"
    ))
    .bind(pks)
    .fetch_all(&mut **tx)
    .await?;
    let mut wanted: Vec<(i64, Fields, Fields)> = Vec::new();
    // New entities were inserted with their first statement: those it still describes need
    // no second write, only reporting.
    let mut as_inserted: Vec<(i64, Entity)> = Vec::new();
    for row in current {
        let pk = row.pk;
        let entity = Entity::try_from(row)?;
        let now = Fields::of_entity(&entity);
        let Some(statements) = by_entity.get(&pk) else {
            continue;
        };
        let folded = fold(
            statements
                .iter()
                .map(|r| (r.source.as_str(), r.placeholder, r.pk, &r.statement.0))
                .collect(),
        );
        match folded {
            Some(f) if f != now => wanted.push((pk, now, f)),
            _ if new.contains(&pk) => as_inserted.push((pk, entity)),
            _ => {}
        }
    }
    let conflicts = drop_taken_identifiers(tx, &mut wanted).await?;
    let updates: Vec<(i64, Fields)> = wanted
        .into_iter()
        .filter(|(_, now, f)| f != now)
        .map(|(pk, _, f)| (pk, f))
        .collect();
    if updates.is_empty() {
        return Ok(Refolded {
            updated: as_inserted,
            conflicts,
        });
    }
    let mut pks = Vec::with_capacity(updates.len());
    let mut columns = FieldColumns::default();
    for (pk, f) in &updates {
        pks.push(*pk);
        columns.push(f);
    }
    let sql = format!(
        "UPDATE entities e SET kind = q.kind, name = q.name,
             aliases = ARRAY(SELECT jsonb_array_elements_text(q.aliases)),
             jurisdiction = q.jurisdiction, headquarters = q.headquarters,
             identifiers = q.identifiers, search = q.search, updated_at = now()
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[], $5::text[],
                     $6::text[], $7::jsonb[], $8::text[])
             AS q(pk, kind, name, aliases, jurisdiction, headquarters, identifiers, search)
         WHERE e.pk = q.pk
         RETURNING {}",
        columns_of("e")
    );
    let rows = sqlx::query_as::<_, EntityRow>(&sql).bind(&pks);
    let rows = columns
        .bind(rows)
        .fetch_all(&mut **tx)
        .await
        .map_err(super::on_constraint)?;
    let mut updated = as_inserted;
    for row in rows {
        updated.push((row.pk, Entity::try_from(row)?));
    }
    Ok(Refolded { updated, conflicts })
}

/// An LEI or a registration number that another live entity holds is not copied onto an
/// entity: it keeps what it had, and the pair is returned, to become a possible match.
async fn drop_taken_identifiers(
    tx: &mut Tx,
    wanted: &mut [(i64, Fields, Fields)],
) -> Result<Vec<(i64, i64)>, DbError> {
    let mut leis: Vec<(i64, String)> = Vec::new();
    let mut regs: Vec<(i64, String, String)> = Vec::new();
    for (pk, now, f) in wanted.iter() {
        if let Some(l) = f.lei()
            && now.lei() != Some(l)
        {
            leis.push((*pk, l.to_owned()));
        }
        if let Some((j, r)) = f.registration()
            && now.registration().as_ref().map(|(a, b)| (a.as_str(), *b)) != Some((j.as_str(), r))
        {
            regs.push((*pk, j, r.to_owned()));
        }
    }
    if leis.is_empty() && regs.is_empty() {
        return Ok(Vec::new());
    }
    let (lei_pks, lei_values): (Vec<i64>, Vec<String>) = leis.into_iter().unzip();
    let taken_lei: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT q.pk, e.pk FROM unnest($1::bigint[], $2::text[]) AS q(pk, lei)
         JOIN entities e ON e.identifiers->>'lei' = q.lei
         WHERE e.deleted_at IS NULL AND e.identifiers ? 'lei' AND e.pk <> q.pk",
    )
    .bind(&lei_pks)
    .bind(&lei_values)
    .fetch_all(&mut **tx)
    .await?;
    let mut reg_pks = Vec::new();
    let mut reg_j = Vec::new();
    let mut reg_n = Vec::new();
    for (pk, j, n) in regs {
        reg_pks.push(pk);
        reg_j.push(j);
        reg_n.push(n);
    }
    let taken_reg: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT q.pk, e.pk FROM unnest($1::bigint[], $2::text[], $3::text[]) AS q(pk, j, n)
         JOIN entities e ON e.jurisdiction = q.j AND e.identifiers->>'registration_number' = q.n
         WHERE e.deleted_at IS NULL AND e.identifiers ? 'registration_number'
           AND e.jurisdiction IS NOT NULL AND e.pk <> q.pk",
    )
    .bind(&reg_pks)
    .bind(&reg_j)
    .bind(&reg_n)
    .fetch_all(&mut **tx)
    .await?;
    let lei_taken: HashSet<i64> = taken_lei.iter().map(|(pk, _)| *pk).collect();
    let reg_taken: HashSet<i64> = taken_reg.iter().map(|(pk, _)| *pk).collect();
    for (pk, now, f) in wanted.iter_mut() {
        if lei_taken.contains(pk) {
            restore(&mut f.identifiers, &now.identifiers, "lei");
        }
        if reg_taken.contains(pk) {
            restore(&mut f.identifiers, &now.identifiers, "registration_number");
            if f.registration().is_some() && f.jurisdiction != now.jurisdiction {
                f.jurisdiction = now.jurisdiction;
            }
        }
    }
    Ok(taken_lei.into_iter().chain(taken_reg).collect())
}

#[derive(FromRow)]
struct UnknownRow {
    entity: String,
    pk: i64,
    reason: String,
    source_reason: String,
    source: String,
    details: Option<String>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// The live declarations of unknown owners of live entities (of the entities `only`, when
/// given), grouped by entity id, as the graph keeps them.
pub(crate) async fn unknown_owners(
    conn: &mut sqlx::PgConnection,
    only: Option<&[i64]>,
) -> Result<Vec<(String, Vec<UnknownOwner>)>, DbError> {
    let rows: Vec<UnknownRow> = sqlx::query_as(
        "SELECT e.id AS entity, u.pk, u.reason, u.source_reason, u.source, u.details,
             u.valid_from, u.valid_to
         FROM declared_unknowns u JOIN entities e ON e.pk = u.entity_pk
         WHERE u.deleted_at IS NULL AND e.deleted_at IS NULL
           AND ($1::bigint[] IS NULL OR u.entity_pk = ANY($1))
         ORDER BY e.id, u.pk",
    )
    .bind(only)
    .fetch_all(conn)
    .await?;
    let mut out: Vec<(String, Vec<UnknownOwner>)> = Vec::new();
    for r in rows {
        let u = UnknownOwner {
            key: r.pk,
            reason: r.reason.into(),
            source_reason: r.source_reason.into(),
            source: r.source.into(),
            details: r.details.map(Into::into),
            valid_from: r.valid_from,
            valid_to: r.valid_to,
        };
        match out.last_mut() {
            Some((id, list)) if *id == r.entity => list.push(u),
            _ => out.push((r.entity, vec![u])),
        }
    }
    Ok(out)
}

/// The stored rows `sql` selects for a source's records (bound as `$1` and `$2`), by record.
async fn by_record<T>(
    tx: &mut Tx,
    sql: &str,
    source: &str,
    records: &[&str],
    record: fn(&T) -> &String,
) -> Result<HashMap<String, T>, DbError>
where
    T: for<'r> FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let rows: Vec<T> = sqlx::query_as(sql)
        .bind(source)
        .bind(records)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(|r| (record(&r).clone(), r)).collect())
}

/// Writes one import record.
async fn record_import<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    summary: &RegistryImportSummary,
    actor: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO registry_imports (version, format, sha256, actor, summary)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(summary.version)
    .bind(&summary.format)
    .bind(&summary.sha256)
    .bind(actor)
    .bind(Json(summary))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct End {
    record: String,
    pk: i64,
    id: String,
    deleted: bool,
}

#[derive(FromRow)]
struct EntityCandidate {
    i: i64,
    #[sqlx(flatten)]
    row: EntityRow,
}

/// Columns of a batch of declared interests or unknowns, for `unnest`.
#[derive(Default)]
struct Columns {
    records: Vec<String>,
    subjects: Vec<i64>,
    owners: Vec<i64>,
    interests: Vec<Option<String>>,
    shares: Vec<Option<serde_json::Value>>,
    from: Vec<Option<NaiveDate>>,
    to: Vec<Option<NaiveDate>>,
    details: Vec<Option<String>>,
}

/// `entity_sources` rows to insert (entity key, record, placeholder, statement, how
/// resolved) and to update (row key, statement).
#[derive(Default)]
struct SourceWrites {
    insert: Vec<(i64, String, bool, Statement, &'static str)>,
    update: Vec<(i64, Statement)>,
}

impl SourceWrites {
    async fn write(self, tx: &mut Tx, source: &str) -> Result<(), DbError> {
        if !self.insert.is_empty() {
            let mut pks = Vec::new();
            let mut records = Vec::new();
            let mut placeholders = Vec::new();
            let mut statements = Vec::new();
            let mut how = Vec::new();
            for (pk, record, placeholder, statement, resolved_by) in self.insert {
                pks.push(pk);
                records.push(record);
                placeholders.push(placeholder);
                statements.push(serde_json::to_value(statement).unwrap_or_default());
                how.push(resolved_by);
            }
            sqlx::query(
                "INSERT INTO entity_sources (source, entity_pk, record, placeholder, statement,
                     resolved_by)
                 SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bool[], $5::jsonb[],
                     $6::text[])",
            )
            .bind(source)
            .bind(&pks)
            .bind(&records)
            .bind(&placeholders)
            .bind(&statements)
            .bind(&how)
            .execute(&mut **tx)
            .await?;
        }
        if !self.update.is_empty() {
            let (pks, statements): (Vec<i64>, Vec<serde_json::Value>) = self
                .update
                .into_iter()
                .map(|(pk, s)| (pk, serde_json::to_value(s).unwrap_or_default()))
                .unzip();
            sqlx::query(
                "UPDATE entity_sources s SET statement = q.statement, placeholder = false,
                     updated_at = now()
                 FROM unnest($1::bigint[], $2::jsonb[]) AS q(pk, statement)
                 WHERE s.pk = q.pk",
            )
            .bind(&pks)
            .bind(&statements)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

/// Folds a later full statement of one record into an earlier one of the same import, like
/// [`RegistryParty::merge`].
fn merge_statement(known: &mut Statement, other: Statement) {
    let Statement {
        name,
        aliases,
        jurisdiction,
        headquarters,
        identifiers,
        ..
    } = other;
    for alias in name.into_iter().chain(aliases) {
        if Some(&alias) != known.name.as_ref()
            && !known.aliases.contains(&alias)
            && known.aliases.len() < crate::formats::MAX_ALIASES
        {
            known.aliases.push(alias);
        }
    }
    known.jurisdiction = known.jurisdiction.or(jurisdiction);
    known.headquarters = known.headquarters.or(headquarters);
    for pair in identifiers {
        if !known.identifiers.contains(&pair) {
            known.identifiers.push(pair);
        }
    }
}

fn identifier<'p>(p: &'p RegistryParty, scheme: &str) -> Option<&'p str> {
    p.identifiers
        .iter()
        .find(|(k, _)| k == scheme)
        .map(|(_, v)| v.as_str())
}

fn restore(into: &mut BTreeMap<String, String>, from: &BTreeMap<String, String>, scheme: &str) {
    match from.get(scheme) {
        Some(v) => into.insert(scheme.to_owned(), v.clone()),
        None => into.remove(scheme),
    };
}

/// The identifier lookups of a batch's unresolved parties.
#[derive(Default)]
struct IdentifierLookups {
    leis: Vec<String>,
    reg_j: Vec<String>,
    reg_n: Vec<String>,
    /// Other identifiers: `(party id, {"scheme": "value"})`.
    other_ids: Vec<String>,
    other: Vec<serde_json::Value>,
}

/// What the lookups found: live entity keys.
#[derive(Default)]
struct Found {
    lei: HashMap<String, i64>,
    registration: HashMap<(String, String), i64>,
    /// By party id.
    other: HashMap<String, i64>,
}

impl IdentifierLookups {
    fn of<'p>(parties: impl Iterator<Item = &'p RegistryParty>) -> Self {
        let mut l = Self::default();
        for p in parties {
            for (scheme, value) in &p.identifiers {
                match scheme.as_str() {
                    "lei" => l.leis.push(value.clone()),
                    "registration_number" => {
                        if let Some(j) = p.jurisdiction {
                            l.reg_j.push(j.to_string());
                            l.reg_n.push(value.clone());
                        }
                    }
                    _ => {
                        l.other_ids.push(p.id.clone());
                        l.other.push(serde_json::json!({ scheme: value }));
                    }
                }
            }
        }
        l
    }

    async fn find(&self, tx: &mut Tx) -> Result<Found, DbError> {
        let mut found = Found::default();
        if !self.leis.is_empty() {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT identifiers->>'lei', pk FROM entities
                 WHERE deleted_at IS NULL AND identifiers ? 'lei'
                   AND identifiers->>'lei' = ANY($1)",
            )
            .bind(&self.leis)
            .fetch_all(&mut **tx)
            .await?;
            found.lei = rows.into_iter().collect();
        }
        if !self.reg_n.is_empty() {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT e.jurisdiction, e.identifiers->>'registration_number', e.pk
                 FROM unnest($1::text[], $2::text[]) AS q(j, n)
                 JOIN entities e ON e.jurisdiction = q.j
                     AND e.identifiers->>'registration_number' = q.n
                 WHERE e.deleted_at IS NULL AND e.identifiers ? 'registration_number'
                   AND e.jurisdiction IS NOT NULL",
            )
            .bind(&self.reg_j)
            .bind(&self.reg_n)
            .fetch_all(&mut **tx)
            .await?;
            found.registration = rows.into_iter().map(|(j, n, pk)| ((j, n), pk)).collect();
        }
        if !self.other.is_empty() {
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT q.i, min(e.pk) FROM unnest($1::jsonb[]) WITH ORDINALITY AS q(j, i)
                 JOIN entities e ON e.identifiers @> q.j AND e.deleted_at IS NULL
                 GROUP BY q.i HAVING count(*) = 1",
            )
            .bind(&self.other)
            .fetch_all(&mut **tx)
            .await?;
            for (i, pk) in rows {
                if let Some(id) = self.other_ids.get((i - 1) as usize) {
                    found.other.entry(id.clone()).or_insert(pk);
                }
            }
        }
        Ok(found)
    }
}

/// Inserts or rewrites a batch of ownerships; returns their keys in order.
async fn write_ownerships(
    tx: &mut Tx,
    source: &str,
    writes: &[(Option<i64>, LinkRow)],
) -> Result<Vec<i64>, DbError> {
    let mut pks = Vec::new();
    let mut ids = Vec::new();
    let mut records = Vec::new();
    let mut owners = Vec::new();
    let mut owned = Vec::new();
    let mut interests = Vec::new();
    let mut shares = Vec::new();
    let mut mins = Vec::new();
    let mut maxs = Vec::new();
    let mut min_ex = Vec::new();
    let mut max_ex = Vec::new();
    let mut stated = Vec::new();
    let mut from = Vec::new();
    let mut to = Vec::new();
    let mut details = Vec::new();
    for (pk, r) in writes {
        pks.push(*pk);
        ids.push(r.id.as_str());
        records.push(r.record.as_str());
        owners.push(r.owner_pk);
        owned.push(r.owned_pk);
        interests.push(r.interest.as_str());
        shares.push(r.share);
        mins.push(r.share_min);
        maxs.push(r.share_max);
        min_ex.push(r.min_exclusive);
        max_ex.push(r.max_exclusive);
        stated.push(
            r.stated
                .map(|s| serde_json::to_value(s).unwrap_or_default()),
        );
        from.push(r.valid_from);
        to.push(r.valid_to);
        details.push(r.details.as_deref());
    }
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "WITH q AS (
             SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[],
                 $6::bigint[], $7::text[], $8::float8[], $9::float8[], $10::float8[], $11::bool[],
                 $12::bool[], $13::jsonb[], $14::date[], $15::date[], $16::text[])
                 WITH ORDINALITY AS q(pk, id, record, owner_pk, owned_pk, interest, share,
                     share_min, share_max, min_ex, max_ex, stated, valid_from, valid_to,
                     details, i)
         ), updated AS (
             UPDATE ownerships o SET owner_pk = q.owner_pk, owned_pk = q.owned_pk,
                 interest = q.interest, share = q.share, share_min = q.share_min,
                 share_max = q.share_max, share_min_exclusive = q.min_ex,
                 share_max_exclusive = q.max_ex, stated_share = q.stated,
                 valid_from = q.valid_from, valid_to = q.valid_to, details = q.details
             FROM q WHERE q.pk IS NOT NULL AND o.pk = q.pk
             RETURNING o.source_record, o.pk
         ), inserted AS (
             INSERT INTO ownerships (id, source, source_record, owner_pk, owned_pk, interest,
                 share, share_min, share_max, share_min_exclusive, share_max_exclusive,
                 stated_share, valid_from, valid_to, details)
             SELECT q.id, $1, q.record, q.owner_pk, q.owned_pk, q.interest, q.share,
                 q.share_min, q.share_max, q.min_ex, q.max_ex, q.stated, q.valid_from,
                 q.valid_to, q.details
             FROM q WHERE q.pk IS NULL ORDER BY q.i
             RETURNING source_record, pk
         )
         SELECT * FROM updated UNION ALL SELECT * FROM inserted",
    )
    .bind(source)
    .bind(&pks)
    .bind(&ids)
    .bind(&records)
    .bind(&owners)
    .bind(&owned)
    .bind(&interests)
    .bind(&shares)
    .bind(&mins)
    .bind(&maxs)
    .bind(&min_ex)
    .bind(&max_ex)
    .bind(&stated)
    .bind(&from)
    .bind(&to)
    .bind(&details)
    .fetch_all(&mut **tx)
    .await
    .map_err(super::on_constraint)?;
    // A batch names each record once (checked before), so its record finds its key.
    let keys: HashMap<String, i64> = rows.into_iter().collect();
    writes
        .iter()
        .map(|(_, r)| {
            keys.get(&r.record).copied().ok_or_else(|| {
                DbError::Corrupt(format!("ownership '{}' was not written", r.record))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_valid_and_distinct() {
        assert_eq!(
            registry_id("gleif", "5493001KJTIIGC8Y1R12"),
            "gleif:5493001KJTIIGC8Y1R12"
        );
        assert_eq!(registry_id("uk-psc", "GB/08209948"), "uk-psc:GB:08209948");
        // A record with a colon of its own cannot collide with a rewritten slash.
        let a = registry_id("bods", "GB:08209948");
        assert_ne!(a, registry_id("bods", "GB/08209948"));
        assert!(a.starts_with("bods:GB:08209948."), "{a}");
        let b = registry_id("bods", "a b");
        assert_ne!(b, registry_id("bods", "a-b"));
        let long = registry_id("bods", &"x/".repeat(200));
        assert!(
            long.len() <= 128 && long.parse::<crate::domain::EntityId>().is_ok(),
            "{long}"
        );
    }

    #[test]
    fn stated_shares_become_numbers() {
        let band = ShareBounds {
            min: Some(25.0),
            min_exclusive: true,
            max: Some(50.0),
            ..ShareBounds::UNKNOWN
        };
        assert_eq!(stake(&band), Ok((None, Some(25.0), Some(50.0))));
        assert_eq!(
            stake(&ShareBounds::UNKNOWN),
            Ok((None, Some(UNSTATED_SHARE_MIN), Some(100.0)))
        );
        let exact = ShareBounds {
            exact: Some(60.0),
            ..ShareBounds::UNKNOWN
        };
        assert_eq!(stake(&exact), Ok((Some(60.0), None, None)));
        let zero = ShareBounds {
            exact: Some(0.0),
            ..ShareBounds::UNKNOWN
        };
        assert!(stake(&zero).is_err());
        let upside_down = ShareBounds {
            min: Some(60.0),
            max: Some(40.0),
            ..ShareBounds::UNKNOWN
        };
        assert!(stake(&upside_down).is_err());
    }

    fn statement(name: &str, j: Option<&str>, ids: &[(&str, &str)]) -> Statement {
        Statement {
            kind: Some(EntityKind::Company),
            name: Some(Name::parse(name).unwrap()),
            aliases: vec![],
            jurisdiction: j.map(|j| Jurisdiction::parse(j).unwrap()),
            headquarters: None,
            identifiers: ids
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn sources_fold_in_precedence_order() {
        let psc = statement(
            "ACME LIMITED",
            Some("GB"),
            &[("registration_number", "01234567")],
        );
        let gleif = statement(
            "Acme Limited",
            None,
            &[
                ("lei", "5493001KJTIIGC8Y1R12"),
                ("registration_number", "99999999"),
            ],
        );
        let placeholder = statement("5493001KJTIIGC8Y1R12", None, &[]);
        let f = fold(vec![
            ("uk-psc", false, 1, &psc),
            ("gleif", true, 2, &placeholder),
            ("gleif", false, 3, &gleif),
        ])
        .unwrap();
        assert_eq!(f.name.as_str(), "Acme Limited");
        assert_eq!(f.aliases.0, vec![Name::parse("ACME LIMITED").unwrap()]);
        assert_eq!(f.jurisdiction, Jurisdiction::parse("GB").ok());
        assert_eq!(f.identifiers["registration_number"], "99999999");
        assert_eq!(f.identifiers["lei"], "5493001KJTIIGC8Y1R12");
        // The placeholder's name (an LEI) is never an alias.
        assert!(
            !f.aliases
                .0
                .iter()
                .any(|a| a.as_str() == "5493001KJTIIGC8Y1R12")
        );
        // What the store said comes first.
        let store = statement("Acme Ltd (as onboarded)", Some("GB"), &[]);
        let f = fold(vec![
            ("gleif", false, 3, &gleif),
            ("store", false, 9, &store),
        ])
        .unwrap();
        assert_eq!(f.name.as_str(), "Acme Ltd (as onboarded)");
        // An invalid LEI is not stored.
        let bad = statement("Bad", None, &[("lei", "NOTALEI")]);
        assert!(
            fold(vec![("bods", false, 1, &bad)])
                .unwrap()
                .identifiers
                .is_empty()
        );
    }
}
