//! Lists of designated parties (sanctions lists, export-control lists, watchlists) and their
//! entries.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Aliases, EntityId, EntityKind, EntryId, Invalid, ListId, Name, Text};

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
    pub entity: Option<EntityId>,
    pub listed_on: Option<NaiveDate>,
    pub delisted_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
