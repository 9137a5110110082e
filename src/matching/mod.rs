//! Fuzzy name screening: does a name (with its kind, countries and identifiers) match a list
//! record, how well, and why?
//!
//! Pure and synchronous; the only input besides the arguments is the bundled rigour tables in
//! `data/`.
//!
//! - [`normalize`]: text to classified tokens (transliteration, homoglyphs, punctuation,
//!   titles, particles, numbers, synonyms).
//! - [`legal_forms`]: the legal-form table and how two forms agree.
//! - [`score`]: token similarity, alignment and the name score.
//! - [`index`]: the in-memory candidate index over list names.
//! - [`eval`]: precision and recall on labelled data.
//!
//! A record's score is its best name's score, then: a person against an organisation is
//! halved, a conflicting country takes a tenth, a conflicting identifier of the same scheme
//! takes three tenths, and a matching identifier lifts the score to at least 0.9.

pub mod eval;
mod explain;
mod index;
mod legal_forms;
mod normalize;
mod score;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{EntityKind, Jurisdiction};
pub use explain::{
    CountryCheck, Explanation, IdentifierCheck, KindCheck, LegalFormCheck, MatchKind, NumberCheck,
    TokenMatch,
};
pub use index::Index;
use normalize::Name;

/// The one review threshold, chosen before measuring: a hit needs four fifths of the weighted
/// name content to agree. With unit-weight words that is, for instance, one typo per word,
/// or one of five words unmatched, or a two-word name found inside a four-word one.
pub const REVIEW_THRESHOLD: f64 = 0.8;

/// Factor for a person against an organisation.
const KIND_CONFLICT: f64 = 0.5;
/// Factor when the countries have none in common.
const COUNTRY_CONFLICT: f64 = 0.9;
/// Factor when an identifier of the same scheme differs (and none matches).
const IDENTIFIER_CONFLICT: f64 = 0.7;
/// The least score of a record with a matching identifier.
const IDENTIFIER_MATCH: f64 = 0.9;

/// What is screened.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    pub name: &'a str,
    pub kind: Option<EntityKind>,
    pub countries: &'a [Jurisdiction],
    /// `(scheme, value)`: "lei", "registration_number", "imo", "swift", "tax_id", "passport",
    /// "national_id", "other".
    pub identifiers: &'a [(String, String)],
}

/// A list record (or an entity), as the index keeps it and the change log carries it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Primary name first, then aliases.
    pub names: Vec<String>,
    pub kind: Option<EntityKind>,
    pub countries: Vec<Jurisdiction>,
    pub identifiers: Vec<(String, String)>,
}

/// A scored and explained match.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Hit<K> {
    pub key: K,
    /// The stored name or alias that matched, as given.
    pub name: String,
    /// 0 to 1.
    pub score: f64,
    pub explanation: Explanation,
}

/// The words of a name that tell it apart, normalised and space-separated: legal forms,
/// titles, particles and generic organisation words ("group", "international") left out,
/// unless the name has nothing else. A store-side candidate search looks for these, so that
/// "Acme Co" finds "ACME COMPANY LIMITED" and "Global Trading Limited" does not fetch every
/// limited company.
pub fn distinctive_words(name: &str, kind: Option<crate::domain::EntityKind>) -> String {
    use normalize::Class;
    let name = normalize::normalize(name, kind);
    let pick = |keep: &dyn Fn(Class) -> bool| {
        name.tokens
            .iter()
            .filter(|t| keep(t.class))
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let words = pick(&|c| matches!(c, Class::Word | Class::Number(_) | Class::Initial));
    if !words.is_empty() {
        return words;
    }
    let generic = pick(&|c| c == Class::Generic);
    if !generic.is_empty() {
        return generic;
    }
    pick(&|_| true)
}

/// Scores a record against a query: its best name, explained. `None` when the record has no
/// name.
pub fn compare(query: &Query, record: &Record) -> Option<Hit<()>> {
    let prepared = Prepared::new(query);
    let view = RecordView {
        names: record.names.iter().map(String::as_str),
        kind: record.kind,
        countries: &record.countries,
        identifiers: record
            .identifiers
            .iter()
            .map(|(s, v)| (s.as_str(), v.as_str())),
    };
    prepared.score(view, ())
}

/// A query normalised once for many records.
pub(crate) struct Prepared<'a> {
    query: &'a Query<'a>,
    name: Name,
    /// Normalised identifiers: lower-case scheme, upper-case alphanumeric value.
    identifiers: Vec<(String, String)>,
}

/// A record as the index stores it.
pub(crate) struct RecordView<'r, N, I> {
    pub names: N,
    pub kind: Option<EntityKind>,
    pub countries: &'r [Jurisdiction],
    pub identifiers: I,
}

fn identifier(scheme: &str, value: &str) -> (String, String) {
    let value = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (scheme.trim().to_ascii_lowercase(), value)
}

impl<'a> Prepared<'a> {
    pub fn new(query: &'a Query<'a>) -> Self {
        Self {
            query,
            name: normalize::normalize(query.name, query.kind),
            identifiers: query
                .identifiers
                .iter()
                .map(|(s, v)| identifier(s, v))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        }
    }

    pub fn name(&self) -> &Name {
        &self.name
    }

    pub fn score<'r, K>(
        &self,
        record: RecordView<
            'r,
            impl Iterator<Item = &'r str>,
            impl Iterator<Item = (&'r str, &'r str)>,
        >,
        key: K,
    ) -> Option<Hit<K>> {
        let mut best: Option<(&str, score::NameMatch, bool)> = None;
        for name in record.names {
            let candidate = normalize::normalize(name, record.kind);
            let m = score::compare_names(&self.name, &candidate);
            if best.as_ref().is_none_or(|(_, b, _)| m.score > b.score) {
                best = Some((name, m, candidate.org_like));
            }
        }
        let (name, m, org_like) = best?;
        let kind = self.kind_check(record.kind, org_like);
        let identifiers = self.identifier_checks(record.identifiers);
        let country = country_check(self.query.countries, record.countries);
        let mut score = m.score;
        if kind == KindCheck::Conflict {
            score *= KIND_CONFLICT;
        }
        if matches!(country, CountryCheck::Conflict { .. }) {
            score *= COUNTRY_CONFLICT;
        }
        let id_match = identifiers.iter().any(|i| i.matched);
        if !id_match && !identifiers.is_empty() {
            score *= IDENTIFIER_CONFLICT;
        }
        if id_match {
            score = score.max(IDENTIFIER_MATCH + (1.0 - IDENTIFIER_MATCH) * m.score);
        }
        let score = score.clamp(0.0, 1.0);
        let mut explanation = Explanation {
            summary: String::new(),
            name_score: m.score,
            tokens: m.tokens,
            legal_form: m.legal_form,
            numbers: m.numbers,
            identifiers,
            country,
            kind,
        };
        explanation.summarise(score);
        Some(Hit {
            key,
            name: name.to_owned(),
            score,
            explanation,
        })
    }

    /// A person against an organisation, by kind or, where a kind is unknown, by a legal form
    /// or generic organisation word in the name.
    fn kind_check(&self, record_kind: Option<EntityKind>, record_org_like: bool) -> KindCheck {
        let person = |k: EntityKind| k == EntityKind::Person;
        match (self.query.kind, record_kind) {
            (Some(a), Some(b)) if person(a) != person(b) => KindCheck::Conflict,
            (Some(_), Some(_)) => KindCheck::Agree,
            (Some(a), None) if person(a) && record_org_like => KindCheck::Conflict,
            (None, Some(b)) if person(b) && self.name.org_like => KindCheck::Conflict,
            _ => KindCheck::Unknown,
        }
    }

    /// Identifiers of a scheme both sides have: matched when a value is shared; schemes the
    /// record lacks, and "other", never conflict.
    fn identifier_checks<'r>(
        &self,
        record: impl Iterator<Item = (&'r str, &'r str)>,
    ) -> Vec<IdentifierCheck> {
        if self.identifiers.is_empty() {
            return Vec::new();
        }
        let record: Vec<(String, String)> = record.map(|(s, v)| identifier(s, v)).collect();
        let mut checks = Vec::new();
        for (scheme, value) in &self.identifiers {
            let mut same_scheme = record.iter().filter(|(s, _)| s == scheme).peekable();
            if same_scheme.peek().is_none() {
                continue;
            }
            let matched = same_scheme.any(|(_, v)| v == value);
            if matched || scheme != "other" {
                checks.push(IdentifierCheck {
                    scheme: scheme.clone(),
                    value: value.clone(),
                    matched,
                });
            }
        }
        checks
    }
}

fn country_check(query: &[Jurisdiction], record: &[Jurisdiction]) -> CountryCheck {
    if query.is_empty() || record.is_empty() {
        return CountryCheck::Unknown;
    }
    let names = |v: &[Jurisdiction]| {
        let mut n: Vec<String> = v.iter().map(|j| j.country().to_string()).collect();
        n.sort();
        n.dedup();
        n
    };
    let common: Vec<String> = names(query)
        .into_iter()
        .filter(|q| names(record).contains(q))
        .collect();
    if common.is_empty() {
        CountryCheck::Conflict {
            query: names(query),
            candidate: names(record),
        }
    } else {
        CountryCheck::Agree { countries: common }
    }
}

#[cfg(test)]
mod tests;
