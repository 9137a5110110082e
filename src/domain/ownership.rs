//! Ownership links between entities.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{EntityId, Invalid, OwnershipId, Share, ShareRange, Text};

/// What an ownership link gives its owner.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Interest {
    Shares,
    Votes,
    /// The right to appoint or remove a majority of the board.
    Board,
    /// Other significant control.
    Control,
    /// Accounting consolidation parent; never counts as ownership.
    Consolidation,
}

impl Interest {
    pub const ALL: [Interest; 5] = [
        Self::Shares,
        Self::Votes,
        Self::Board,
        Self::Control,
        Self::Consolidation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shares => "shares",
            Self::Votes => "votes",
            Self::Board => "board",
            Self::Control => "control",
            Self::Consolidation => "consolidation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }

    /// Interests measured as a percentage (`shares`, `votes`).
    pub fn is_quantified(self) -> bool {
        matches!(self, Self::Shares | Self::Votes)
    }

    /// Interests that give control without a percentage (`board`, `control`).
    pub fn is_control(self) -> bool {
        matches!(self, Self::Board | Self::Control)
    }
}

/// How much of the owned entity a link carries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stake {
    Exact(Share),
    Range(ShareRange),
    /// `board`, `control` and `consolidation` links carry no percentage.
    Unquantified,
}

impl Stake {
    /// The known minimum, in percent (0 for an unquantified link).
    pub fn min(self) -> f64 {
        match self {
            Self::Exact(s) => s.get(),
            Self::Range(r) => r.min.get(),
            Self::Unquantified => 0.0,
        }
    }

    /// The possible maximum, in percent (0 for an unquantified link).
    pub fn max(self) -> f64 {
        match self {
            Self::Exact(s) => s.get(),
            Self::Range(r) => r.max.get(),
            Self::Unquantified => 0.0,
        }
    }

    pub fn share(self) -> Option<Share> {
        match self {
            Self::Exact(s) => Some(s),
            _ => None,
        }
    }

    pub fn range(self) -> Option<ShareRange> {
        match self {
            Self::Range(r) => Some(r),
            _ => None,
        }
    }

    /// Checks that `share`/`share_range` fit the interest: exactly one of them for `shares`
    /// and `votes`, neither for the others.
    pub fn from_parts(
        interest: Interest,
        share: Option<Share>,
        range: Option<ShareRange>,
    ) -> Result<Self, Invalid> {
        match (interest.is_quantified(), share, range) {
            (true, Some(s), None) => Ok(Self::Exact(s)),
            (true, None, Some(r)) => Ok(Self::Range(r)),
            (true, Some(_), Some(_)) => Err(Invalid::new(
                "share",
                "share_conflict",
                "give either share or share_range, not both",
            )),
            (true, None, None) => Err(Invalid::new(
                "share",
                "share_required",
                format!(
                    "a '{}' ownership needs share or share_range",
                    interest.as_str()
                ),
            )),
            (false, None, None) => Ok(Self::Unquantified),
            (false, _, _) => Err(Invalid::new(
                if share.is_some() {
                    "share"
                } else {
                    "share_range"
                },
                "share_not_allowed",
                format!("a '{}' ownership carries no share", interest.as_str()),
            )),
        }
    }
}

/// Checks an optional validity interval: `valid_from` inclusive, `valid_to` exclusive.
pub fn check_validity(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<(), Invalid> {
    match (from, to) {
        (Some(f), Some(t)) if t <= f => Err(Invalid::new(
            "valid_to",
            "invalid_interval",
            "valid_to (exclusive) must be after valid_from",
        )),
        _ => Ok(()),
    }
}

/// A new ownership, as a client sends it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOwnership {
    pub id: Option<OwnershipId>,
    pub owner: EntityId,
    pub owned: EntityId,
    #[serde(default = "default_interest")]
    pub interest: Interest,
    pub share: Option<Share>,
    pub share_range: Option<ShareRange>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub source: Option<Text>,
}

pub fn default_interest() -> Interest {
    Interest::Shares
}

impl NewOwnership {
    /// Cross-field checks that the types alone cannot express.
    pub fn stake(&self) -> Result<Stake, Invalid> {
        if self.owner == self.owned {
            return Err(Invalid::new(
                "owned",
                "self_ownership",
                "an entity cannot own itself",
            ));
        }
        check_validity(self.valid_from, self.valid_to)?;
        Stake::from_parts(self.interest, self.share, self.share_range)
    }
}

/// A stored ownership.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Ownership {
    pub id: OwnershipId,
    pub owner: EntityId,
    pub owned: EntityId,
    pub interest: Interest,
    pub share: Option<Share>,
    pub share_range: Option<ShareRange>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub source: Option<Text>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}
