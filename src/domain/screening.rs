//! Screening requests and their explained answers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::matching::Explanation;

use super::{
    Aliases, EntityId, EntityKind, Identifiers, Interest, Invalid, Jurisdiction, Name, RuleKind,
    Share, ShareRange, Stake, default_interest,
};

/// An applicant not yet known to the graph, as the signup service describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub name: Name,
    #[serde(default = "default_candidate_kind")]
    pub kind: EntityKind,
    #[serde(default)]
    pub aliases: Aliases,
    pub jurisdiction: Option<Jurisdiction>,
    pub headquarters: Option<Jurisdiction>,
    #[serde(default)]
    pub identifiers: Identifiers,
}

fn default_candidate_kind() -> EntityKind {
    EntityKind::Company
}

/// An owner declared at signup: a known entity or another candidate.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredOwner {
    pub entity: Option<EntityId>,
    pub candidate: Option<Candidate>,
    #[serde(default = "default_interest")]
    pub interest: Interest,
    pub share: Option<Share>,
    pub share_range: Option<ShareRange>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningRequest {
    pub entity: Option<EntityId>,
    pub candidate: Option<Candidate>,
    #[serde(default)]
    pub owners: Vec<DeclaredOwner>,
    /// Defaults to today (UTC).
    pub as_of: Option<NaiveDate>,
}

/// Whom a declared owner refers to, once checked.
#[derive(Clone, Debug)]
pub enum OwnerRef {
    Entity(EntityId),
    Candidate(Candidate),
}

impl ScreeningRequest {
    pub const MAX_OWNERS: usize = 100;

    /// Checks the request's shape: exactly one subject, and well-formed declared owners.
    pub fn owners(&self) -> Result<Vec<(OwnerRef, Interest, Stake)>, Invalid> {
        match (&self.entity, &self.candidate) {
            (Some(_), Some(_)) => {
                return Err(Invalid::new(
                    "candidate",
                    "subject_conflict",
                    "give either entity or candidate, not both",
                ));
            }
            (None, None) => {
                return Err(Invalid::new(
                    "entity",
                    "subject_required",
                    "give entity or candidate",
                ));
            }
            _ => {}
        }
        if self.owners.len() > Self::MAX_OWNERS {
            return Err(Invalid::new(
                "owners",
                "too_many",
                format!("at most {} declared owners", Self::MAX_OWNERS),
            ));
        }
        self.owners
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let at = |e: Invalid| e.under(&format!("owners[{i}]"));
                let who = match (&o.entity, &o.candidate) {
                    (Some(e), None) => OwnerRef::Entity(e.clone()),
                    (None, Some(c)) => OwnerRef::Candidate(c.clone()),
                    _ => {
                        return Err(at(Invalid::new(
                            "entity",
                            "owner_required",
                            "a declared owner has exactly one of entity or candidate",
                        )));
                    }
                };
                let stake = Stake::from_parts(o.interest, o.share, o.share_range).map_err(at)?;
                Ok((who, o.interest, stake))
            })
            .collect()
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Clear,
    Review,
    Block,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::Review => "review",
            Self::Block => "block",
        }
    }
}

/// Why a rule flagged the entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The entity itself is on a list.
    Listed,
    /// The entity itself is located in a restricted jurisdiction.
    Located,
    /// Tainted owners hold at least the threshold, with every range at its minimum.
    Owned,
    /// Tainted owners might hold the threshold: only with ranges at their maximum.
    PossiblyOwned,
    /// A tainted owner holds a board or control right over the entity.
    Controlled,
    /// The share attributable to the sources reaches the review threshold.
    ReviewBand,
    /// A name or alias of the entity matches a list entry (see `candidates`).
    NameMatch,
    /// A source declares the owners of the entity, or of an owner of it, unknown, withheld or
    /// exempt (see `unknown_owners`).
    OwnersUnknown,
}

/// One link of an ownership path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PathStep {
    pub owner: String,
    pub owned: String,
    pub interest: Interest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_range: Option<ShareRange>,
}

/// A listing behind a `listed` reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ListingRef {
    pub list: String,
    pub entry: String,
    pub listed_on: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    pub rule: String,
    pub kind: RuleKind,
    pub basis: Basis,
    pub decision: Decision,
    /// The aggregate share that met the test, in percent; null where no share is involved.
    pub share: Option<f64>,
    pub threshold: Option<f64>,
    pub sources: Vec<String>,
    /// Ownership paths from the sources to the entity, strongest first, at most 10.
    pub paths: Vec<Vec<PathStep>>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listings: Vec<ListingRef>,
    /// The list entries whose names matched (`name_match` rules), best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<ListMatch>,
    /// The declarations behind an `owners_unknown` reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_owners: Vec<UnknownOwnersRef>,
}

/// A source's declaration that an entity's owners are unknown, withheld or exempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnknownOwnersRef {
    /// The entity whose owners are unknown.
    pub entity: String,
    /// Its effective share in the screened entity (100 for the entity itself).
    pub effective_share: f64,
    /// BODS `unspecifiedReason` code.
    pub reason: String,
    /// The source's own code (`NON_PUBLIC`, `psc-exempt-as-shares-admitted-on-market`, ...).
    pub source_reason: String,
    /// `gleif`, `uk-psc`, `bods`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// A list entry that matched a name, with how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ListMatch {
    pub list: String,
    /// The entry's id.
    pub entry: String,
    /// The entry's name or alias that matched.
    pub name: String,
    /// 0 to 1.
    pub score: f64,
    /// The entity the entry designates, if the graph knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    pub explanation: Explanation,
}

/// An entity of the graph whose name matched a signup candidate's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntityMatch {
    pub entity: String,
    /// The entity's name or alias that matched.
    pub name: String,
    pub score: f64,
    pub explanation: Explanation,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UboItem {
    pub entity: String,
    pub name: String,
    pub effective_share: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<Vec<PathStep>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Screening {
    pub id: String,
    /// The entity that was asked about, or null for a candidate.
    pub entity: Option<String>,
    /// The known entity the subject was screened as, or null for an unresolved candidate.
    pub resolved_entity: Option<String>,
    /// How a candidate was resolved: `lei`, `registration_number`, or null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<Candidate>,
    pub decision: Decision,
    pub as_of: NaiveDate,
    pub policy_version: i64,
    pub graph_version: i64,
    pub screened_at: DateTime<Utc>,
    pub reasons: Vec<Reason>,
    pub ubo: Vec<UboItem>,
    /// For a candidate no identifier resolved: the known entities whose names match, best
    /// first. A strong, unique one is screened as the candidate (`resolved_by: "name"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub possible_matches: Vec<EntityMatch>,
}

/// One upstream owner (or downstream subsidiary) of an entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Holding {
    pub entity: String,
    pub name: String,
    /// The share held directly (known minimum), or null where nothing is held directly.
    pub direct_share: Option<f64>,
    /// Multiplied along paths and summed over paths; cycles resolved as integrated ownership.
    pub effective_share: f64,
    /// Whether a chain of majority holdings runs between the two.
    pub controls: bool,
}

/// `POST /v1/match`: which list entries does this name match?
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    pub name: Name,
    /// A known kind lets a person's name not match a company's, and the other way round.
    pub kind: Option<EntityKind>,
    /// Counts against entries whose countries all differ.
    pub jurisdiction: Option<Jurisdiction>,
    /// A matching identifier outweighs the name; a conflicting one counts against.
    #[serde(default)]
    pub identifiers: Identifiers,
    /// Which lists to search: ids, or `"*"` (the default) for every active list.
    pub lists: Option<Vec<super::ListSelector>>,
    /// At most this many candidates, 1 to 100 (default 10).
    pub limit: Option<usize>,
    /// Only candidates scoring at least this, 0 to 1 (default: the matcher's review
    /// threshold).
    pub threshold: Option<f64>,
}

impl MatchRequest {
    pub fn limit(&self) -> Result<usize, Invalid> {
        match self.limit {
            None => Ok(10),
            Some(n @ 1..=100) => Ok(n),
            Some(_) => Err(Invalid::new(
                "limit",
                "invalid_limit",
                "limit is between 1 and 100",
            )),
        }
    }

    pub fn threshold(&self) -> Result<f64, Invalid> {
        match self.threshold {
            None => Ok(crate::matching::REVIEW_THRESHOLD),
            Some(t) if t.is_finite() && (0.0..=1.0).contains(&t) => Ok(t),
            Some(_) => Err(Invalid::new(
                "threshold",
                "invalid_threshold",
                "threshold is a score between 0 and 1",
            )),
        }
    }
}

/// The answer of `POST /v1/match`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MatchResponse {
    /// Best first.
    pub candidates: Vec<ListMatch>,
}
