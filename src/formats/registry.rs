//! The shared model of company-registry data: what a registry file (GLEIF LEI / relationship /
//! reporting-exception files, the UK PSC snapshot, BODS 0.4) states about parties,
//! the links between them and owners declared unknown.
//!
//! Parsing only: a [`Registry`] is what one file says, in source order, with the source's own
//! ids. Resolving parties across files and sources, and computing indirect holdings, is the
//! importer's job; nothing here merges or derives.
//!
//! Readers stream: they send what they read, record by record, to a [`RegistrySink`], so a
//! file of millions of records never has to be held whole. [`Registry`] is the sink that
//! collects everything (for tests and small files); the importer's sink writes batches to the
//! store.
//!
//! What every reader guarantees its sink:
//! - a party is sent before any link or declared-unknown that names it; a party the file
//!   mentions only by id is sent as a [`RegistryParty::placeholder`];
//! - the same party id may be sent more than once (a placeholder first, or two records naming
//!   one company): the sink folds them with [`RegistryParty::merge`];
//! - link ids and declared-unknown ids are the source's and should be unique within a file;
//!   the sink checks;
//! - notes come last, once the whole file is read.
//!
//! A reader's memory does not grow with its file, but for the small per-id sets it needs
//! (see each reader). A reader that fails stops where it is: what it sent before stands, and
//! the caller discards it.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::FormatError;
use super::text::SeenIds;
use crate::domain::{EntityKind, Interest, Jurisdiction, Name};

/// What a registry file states, in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Registry {
    pub parties: Vec<RegistryParty>,
    pub links: Vec<RegistryLink>,
    pub unknowns: Vec<DeclaredUnknown>,
    /// What was skipped without failing the file, one human-readable line each.
    pub notes: Vec<String>,
}

impl Registry {
    /// The party with `id`, if any (a linear search: for tests and small files).
    pub fn party(&self, id: &str) -> Option<&RegistryParty> {
        self.parties.iter().find(|p| p.id == id)
    }
}

/// A legal entity or natural person as the source states it.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryParty {
    /// The source's own id for this party (an LEI, `GB/08209948` for a UK company, a PSC's
    /// self link, a BODS recordId); unique within the file.
    pub id: String,
    pub kind: EntityKind,
    pub name: Name,
    /// Deduplicated, without the name, in source order.
    pub aliases: Vec<Name>,
    /// Incorporation (entities) or nationality (persons).
    pub jurisdiction: Option<Jurisdiction>,
    /// Headquarters / principal place of business (entities) or residence (persons).
    pub headquarters: Option<Jurisdiction>,
    /// `(scheme, value)` with a scheme from [`super::SCHEMES`]; a `registration_number` is
    /// one of the register of [`RegistryParty::jurisdiction`].
    pub identifiers: Vec<(String, String)>,
    /// The source: `gleif`, `uk-psc`, `bods`.
    pub source: String,
    /// The file names this party only by id (a GLEIF relationship naming an LEI, a PSC line's
    /// company number): `name` is the id, and nothing here may overwrite what a full record
    /// says.
    pub placeholder: bool,
}

impl RegistryParty {
    /// Folds another statement about the same party into this one: a placeholder never
    /// overwrites anything; a full record replaces a placeholder; of two full records the
    /// first keeps its name and places, the second's name and aliases become aliases, and
    /// missing places and identifiers are filled in.
    pub fn merge(&mut self, other: RegistryParty) {
        if other.placeholder {
            return;
        }
        if self.placeholder {
            *self = other;
            return;
        }
        let RegistryParty {
            name,
            aliases,
            jurisdiction,
            headquarters,
            identifiers,
            ..
        } = other;
        for alias in std::iter::once(name).chain(aliases) {
            if alias != self.name && !self.aliases.contains(&alias) {
                self.aliases.push(alias);
            }
        }
        self.aliases.truncate(super::MAX_ALIASES);
        self.jurisdiction = self.jurisdiction.take().or(jurisdiction);
        self.headquarters = self.headquarters.take().or(headquarters);
        for pair in identifiers {
            if !self.identifiers.contains(&pair) {
                self.identifiers.push(pair);
            }
        }
    }
}

/// An ownership or control link: `owner` holds `interest` in `owned`.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryLink {
    /// The source's id of the statement or relationship; unique within the file.
    pub id: String,
    /// Party ids.
    pub owner: String,
    pub owned: String,
    pub interest: Interest,
    pub share: ShareBounds,
    /// Inclusive.
    pub valid_from: Option<NaiveDate>,
    /// Exclusive: the first day the link no longer holds.
    pub valid_to: Option<NaiveDate>,
    /// The source says this interest is indirect (BODS `directOrIndirect`, GLEIF ultimate
    /// parents): kept as declared, never mixed with what the graph computes.
    pub declared_indirect: bool,
    /// The source's own wording (PSC nature of control, GLEIF relationship type and
    /// quantifiers).
    pub details: Option<String>,
}

/// A share in percent as sources state it: exact, or bounds that may be exclusive (PSC bands,
/// BODS `exclusiveMinimum`/`exclusiveMaximum`). All `None` when the source gives no size.
/// Stored as stated (JSON, absent parts left out).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShareBounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub min_exclusive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub max_exclusive: bool,
}

impl ShareBounds {
    /// No size stated.
    pub const UNKNOWN: ShareBounds = ShareBounds {
        exact: None,
        min: None,
        min_exclusive: false,
        max: None,
        max_exclusive: false,
    };

    /// No size stated at all.
    pub fn is_unknown(&self) -> bool {
        *self == Self::UNKNOWN
    }

    /// Whether a share of `percent` fits these bounds (an exact share must equal it).
    pub fn contains(&self, percent: f64) -> bool {
        if let Some(exact) = self.exact {
            return percent == exact;
        }
        let above = match self.min {
            Some(m) if self.min_exclusive => percent > m,
            Some(m) => percent >= m,
            None => true,
        };
        let below = match self.max {
            Some(m) if self.max_exclusive => percent < m,
            Some(m) => percent <= m,
            None => true,
        };
        above && below
    }
}

/// The source states that a party's owners are unknown, exempt or withheld: distinct from
/// "no data".
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredUnknown {
    /// The source's id of the statement; unique within the file.
    pub id: String,
    /// The party id whose owners are unknown.
    pub subject: String,
    /// What the unknown owner holds, when the source says (a BODS relationship with an
    /// unspecified interested party, an anonymous person's 75% stake); `None` and
    /// [`ShareBounds::UNKNOWN`] when it only declares the owners unknown.
    pub interest: Option<Interest>,
    pub share: ShareBounds,
    /// The source's code: GLEIF `NATURAL_PERSONS`, `NO_KNOWN_PERSON`, `NON_PUBLIC`,
    /// `NON_CONSOLIDATING`, ...; PSC statement codes such as
    /// `no-individual-or-entity-with-signficant-control` (sic),
    /// `super-secure-person-with-significant-control`, exemption types.
    pub reason: String,
    /// More of the source's wording (the GLEIF exception category, ...).
    pub details: Option<String>,
    /// Inclusive.
    pub valid_from: Option<NaiveDate>,
    /// Exclusive.
    pub valid_to: Option<NaiveDate>,
}

/// Where a reader sends what it reads. An error from the sink stops the reader, which returns
/// it.
pub trait RegistrySink {
    fn party(&mut self, party: RegistryParty) -> Result<(), FormatError>;
    /// `at` names the record for an error message (`file line 12`).
    fn link(&mut self, link: RegistryLink, at: &str) -> Result<(), FormatError>;
    fn unknown(&mut self, unknown: DeclaredUnknown, at: &str) -> Result<(), FormatError>;
    /// What was skipped without failing the file, one human-readable line; sent at the end.
    fn note(&mut self, note: String);
    /// A later full record about a party already sent, which replaces what was sent whole
    /// (a BODS `updated` statement). By default folded like [`RegistrySink::party`].
    fn replace_party(&mut self, party: RegistryParty) -> Result<(), FormatError> {
        self.party(party)
    }
}

/// Collects a whole file: parties folded by id (first appearance keeps its place), link and
/// declared-unknown ids checked for duplicates. The one place that folds and checks.
#[derive(Default)]
pub struct Collector {
    registry: Registry,
    index: HashMap<String, usize>,
    link_ids: SeenIds,
    unknown_ids: SeenIds,
}

impl Collector {
    pub fn finish(self) -> Registry {
        self.registry
    }
}

impl RegistrySink for Collector {
    fn party(&mut self, party: RegistryParty) -> Result<(), FormatError> {
        match self.index.get(&party.id) {
            Some(&i) => self.registry.parties[i].merge(party),
            None => {
                self.index
                    .insert(party.id.clone(), self.registry.parties.len());
                self.registry.parties.push(party);
            }
        }
        Ok(())
    }

    fn link(&mut self, link: RegistryLink, at: &str) -> Result<(), FormatError> {
        self.link_ids.check(&link.id, at)?;
        self.registry.links.push(link);
        Ok(())
    }

    fn unknown(&mut self, unknown: DeclaredUnknown, at: &str) -> Result<(), FormatError> {
        self.unknown_ids.check(&unknown.id, at)?;
        self.registry.unknowns.push(unknown);
        Ok(())
    }

    fn note(&mut self, note: String) {
        self.registry.notes.push(note);
    }

    fn replace_party(&mut self, party: RegistryParty) -> Result<(), FormatError> {
        match self.index.get(&party.id) {
            Some(&i) => self.registry.parties[i] = party,
            None => return self.party(party),
        }
        Ok(())
    }
}

/// The BODS 0.4 `unspecifiedReason` codes.
pub const BODS_UNSPECIFIED_REASONS: [&str; 7] = [
    "noBeneficialOwners",
    "subjectUnableToConfirmOrIdentifyBeneficialOwner",
    "interestedPartyHasNotProvidedInformation",
    "subjectExemptFromDisclosure",
    "interestedPartyExemptFromDisclosure",
    "unknown",
    "informationUnknownToPublisher",
];

/// The table of [`bods_unspecified_reason`]; codes ending in `-` are prefixes.
const UNSPECIFIED_REASONS: [(&str, &str); 20] = [
    ("NATURAL_PERSONS", "informationUnknownToPublisher"),
    ("NO_KNOWN_PERSON", "noBeneficialOwners"),
    ("NON_CONSOLIDATING", "subjectExemptFromDisclosure"),
    ("NON_PUBLIC", "subjectExemptFromDisclosure"),
    ("BINDING_LEGAL_COMMITMENTS", "subjectExemptFromDisclosure"),
    ("LEGAL_OBSTACLES", "subjectExemptFromDisclosure"),
    (
        "DISCLOSURE_DETRIMENTAL",
        "interestedPartyExemptFromDisclosure",
    ),
    (
        "DETRIMENT_NOT_EXCLUDED",
        "interestedPartyExemptFromDisclosure",
    ),
    (
        "CONSENT_NOT_OBTAINED",
        "interestedPartyHasNotProvidedInformation",
    ),
    (
        "no-individual-or-entity-with-signficant-control",
        "noBeneficialOwners",
    ),
    (
        "no-individual-or-entity-with-significant-control",
        "noBeneficialOwners",
    ),
    ("no-registrable-beneficial-owner", "noBeneficialOwners"),
    (
        "steps-to-find-psc-not-yet-completed",
        "subjectUnableToConfirmOrIdentifyBeneficialOwner",
    ),
    (
        "psc-exists-but-not-identified",
        "subjectUnableToConfirmOrIdentifyBeneficialOwner",
    ),
    (
        "psc-details-not-confirmed",
        "subjectUnableToConfirmOrIdentifyBeneficialOwner",
    ),
    (
        "psc-contacted-but-no-response",
        "interestedPartyHasNotProvidedInformation",
    ),
    (
        "psc-has-failed-to-confirm-changed-details",
        "interestedPartyHasNotProvidedInformation",
    ),
    (
        "restrictions-notice-issued-to-psc",
        "interestedPartyHasNotProvidedInformation",
    ),
    ("super-secure-", "interestedPartyExemptFromDisclosure"),
    ("psc-exempt-as-", "subjectExemptFromDisclosure"),
];

/// The BODS 0.4 `unspecifiedReason` nearest to a declared-unknown reason
/// ([`DeclaredUnknown::reason`]) of any source; the one place this correspondence lives.
///
/// GLEIF level-2 reporting exceptions (RR-CDF `ExceptionReason`):
/// - `NATURAL_PERSONS` (the parent is one or more natural persons, who have no LEI and are out
///   of GLEIF's scope): `informationUnknownToPublisher`, the publisher holds nothing on them;
/// - `NO_KNOWN_PERSON` (no known person or entity controls the entity): `noBeneficialOwners`;
/// - `NON_CONSOLIDATING` (the controlling entity is not obliged to consolidate, so there is no
///   accounting parent to report) and `NON_PUBLIC` (the parent relationship is not made
///   public), `BINDING_LEGAL_COMMITMENTS` and `LEGAL_OBSTACLES` (law or a binding commitment
///   prevents the entity from reporting it): `subjectExemptFromDisclosure`, the reporting
///   entity does not disclose it under its rules;
/// - `DISCLOSURE_DETRIMENTAL` and `DETRIMENT_NOT_EXCLUDED` (disclosure would or could harm the
///   parent): `interestedPartyExemptFromDisclosure`;
/// - `CONSENT_NOT_OBTAINED` (the parent did not consent): `interestedPartyHasNotProvidedInformation`.
///
/// UK PSC statements, super-secure kinds and exemptions:
/// - `no-individual-or-entity-with-signficant-control` (sic), and the same for beneficial
///   owners: `noBeneficialOwners`;
/// - `steps-to-find-psc-not-yet-completed`, `psc-exists-but-not-identified`,
///   `psc-details-not-confirmed`: `subjectUnableToConfirmOrIdentifyBeneficialOwner`;
/// - `psc-contacted-but-no-response`, `psc-has-failed-to-confirm-changed-details`,
///   `restrictions-notice-issued-to-psc`: `interestedPartyHasNotProvidedInformation`;
/// - `super-secure-person-with-significant-control`, `super-secure-beneficial-owner`:
///   `interestedPartyExemptFromDisclosure` (the person's details are protected);
/// - the `psc-exempt-as-...` exemptions (shares admitted on a regulated market, ...):
///   `subjectExemptFromDisclosure`.
///
/// A BODS code maps to itself; anything else to `unknown`.
pub fn bods_unspecified_reason(code: &str) -> &'static str {
    if let Some(bods) = BODS_UNSPECIFIED_REASONS.iter().find(|c| **c == code) {
        return bods;
    }
    UNSPECIFIED_REASONS
        .iter()
        .find(|(c, _)| *c == code || (c.ends_with('-') && code.starts_with(c)))
        .map_or("unknown", |(_, bods)| bods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_respect_exclusivity() {
        let band = ShareBounds {
            min: Some(25.0),
            min_exclusive: true,
            max: Some(50.0),
            ..ShareBounds::UNKNOWN
        };
        assert!(!band.contains(25.0));
        assert!(band.contains(25.01));
        assert!(band.contains(50.0));
        let exact = ShareBounds {
            exact: Some(60.0),
            ..ShareBounds::UNKNOWN
        };
        assert!(exact.contains(60.0) && !exact.contains(61.0));
        assert!(ShareBounds::UNKNOWN.contains(0.0));
    }

    #[test]
    fn reasons_map_to_bods_codes() {
        assert_eq!(
            bods_unspecified_reason("NATURAL_PERSONS"),
            "informationUnknownToPublisher"
        );
        assert_eq!(
            bods_unspecified_reason("super-secure-beneficial-owner"),
            "interestedPartyExemptFromDisclosure"
        );
        assert_eq!(
            bods_unspecified_reason("psc-exempt-as-shares-admitted-on-market"),
            "subjectExemptFromDisclosure"
        );
        for code in BODS_UNSPECIFIED_REASONS {
            assert_eq!(bods_unspecified_reason(code), code);
        }
        assert_eq!(bods_unspecified_reason("SOMETHING_ELSE"), "unknown");
    }
}
