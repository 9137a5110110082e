//! Lists of designated parties (sanctions lists, export-control lists, watchlists) and their
//! entries.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Aliases, EntityId, EntityKind, EntryId, Invalid, Jurisdiction, ListId, Name, Text};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Sanctions,
    ExportControl,
    Watchlist,
    Other,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sanctions => "sanctions",
            Self::ExportControl => "export_control",
            Self::Watchlist => "watchlist",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Sanctions,
            Self::ExportControl,
            Self::Watchlist,
            Self::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewList {
    pub id: Option<ListId>,
    pub name: Name,
    #[serde(default = "default_list_kind")]
    pub kind: ListKind,
    /// An inactive list designates nobody.
    #[serde(default = "default_true")]
    pub active: bool,
}

fn default_list_kind() -> ListKind {
    ListKind::Sanctions
}

fn default_true() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct List {
    pub id: ListId,
    pub name: Name,
    pub kind: ListKind,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A partial update of a list: rename it, or switch it off and on.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPatch {
    pub name: Option<Name>,
    pub active: Option<bool>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    pub id: Option<EntryId>,
    pub name: Name,
    #[serde(default)]
    pub aliases: Aliases,
    pub kind: Option<EntityKind>,
    #[serde(default)]
    pub programs: Vec<Text>,
    /// Nationality, citizenship, registration and address countries, as the list states them.
    #[serde(default)]
    pub countries: Vec<Jurisdiction>,
    #[serde(default)]
    pub identifiers: Vec<EntryIdentifier>,
    /// The entity this entry designates, if it is known to the graph.
    pub entity: Option<EntityId>,
    pub listed_on: Option<NaiveDate>,
    /// Exclusive: the entry no longer designates anyone from this date.
    pub delisted_on: Option<NaiveDate>,
}

impl NewEntry {
    pub fn check(&self) -> Result<(), Invalid> {
        if let (Some(on), Some(off)) = (self.listed_on, self.delisted_on)
            && off <= on
        {
            return Err(Invalid::new(
                "delisted_on",
                "invalid_interval",
                "delisted_on must be after listed_on",
            ));
        }
        if self.programs.len() > 100 {
            return Err(Invalid::new("programs", "too_many", "at most 100 programs"));
        }
        if self.countries.len() > 100 {
            return Err(Invalid::new(
                "countries",
                "too_many",
                "at most 100 countries",
            ));
        }
        if self.identifiers.len() > 100 {
            return Err(Invalid::new(
                "identifiers",
                "too_many",
                "at most 100 identifiers",
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Entry {
    pub id: EntryId,
    pub list: ListId,
    pub name: Name,
    pub aliases: Aliases,
    pub kind: Option<EntityKind>,
    pub programs: Vec<Text>,
    pub countries: Vec<Jurisdiction>,
    pub identifiers: Vec<EntryIdentifier>,
    pub entity: Option<EntityId>,
    pub listed_on: Option<NaiveDate>,
    pub delisted_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The kinds of identifier that lists publish and that name matching compares.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IdScheme {
    Lei,
    RegistrationNumber,
    Imo,
    Swift,
    TaxId,
    Passport,
    NationalId,
    Other,
}

impl IdScheme {
    pub const ALL: [IdScheme; 8] = [
        Self::Lei,
        Self::RegistrationNumber,
        Self::Imo,
        Self::Swift,
        Self::TaxId,
        Self::Passport,
        Self::NationalId,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lei => "lei",
            Self::RegistrationNumber => "registration_number",
            Self::Imo => "imo",
            Self::Swift => "swift",
            Self::TaxId => "tax_id",
            Self::Passport => "passport",
            Self::NationalId => "national_id",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One identifier of a listed party, such as a vessel's IMO number or a passport number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryIdentifier {
    pub scheme: IdScheme,
    pub value: Text,
}

/// What one list import did.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ImportSummary {
    pub list: ListId,
    pub format: String,
    /// SHA-256 of the imported file(s), hex.
    pub sha256: String,
    pub list_created: bool,
    /// Entries in the file.
    pub records: usize,
    pub added: usize,
    pub changed: usize,
    /// Back on the list after a delisting.
    pub relisted: usize,
    /// On the list before, missing from the file: `delisted_on` is the import date.
    pub delisted: usize,
    pub unchanged: usize,
    /// Entries of the file that designate an entity of the graph.
    pub designating: usize,
    pub entities_created: usize,
    pub entities_updated: usize,
    pub ownerships_added: usize,
    pub ownerships_changed: usize,
    pub ownerships_removed: usize,
    /// Stated shares that contradict the source's other statements (they would take the
    /// total held in an entity past 100%), kept as "up to" the stated share.
    pub ownerships_up_to: usize,
    /// The change-log version of the import; null when the file changed nothing.
    pub graph_version: Option<i64>,
    /// The re-screening job `?rescreen=` queued for what the import changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescreen_job: Option<String>,
}

impl ImportSummary {
    pub fn new(list: ListId, format: &str, sha256: &str) -> Self {
        Self {
            list,
            format: format.to_owned(),
            sha256: sha256.to_owned(),
            list_created: false,
            records: 0,
            added: 0,
            changed: 0,
            relisted: 0,
            delisted: 0,
            unchanged: 0,
            designating: 0,
            entities_created: 0,
            entities_updated: 0,
            ownerships_added: 0,
            ownerships_changed: 0,
            ownerships_removed: 0,
            ownerships_up_to: 0,
            graph_version: None,
            rescreen_job: None,
        }
    }
}
