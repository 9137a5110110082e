//! Alerts: what a screening or a job flagged, for an analyst to decide, with the evidence and
//! its fingerprint.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{Basis, Decision, Invalid, Reason};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Escalated,
    /// One reviewer called a `block` alert a false positive; a second, different one must
    /// agree before it closes (four eyes).
    AwaitingSecondReview,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Escalated => "escalated",
            Self::AwaitingSecondReview => "awaiting_second_review",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "escalated" => Self::Escalated,
            "awaiting_second_review" => Self::AwaitingSecondReview,
            "closed" => Self::Closed,
            _ => return None,
        })
    }
}

/// An analyst's decision on an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertDecision {
    /// The finding is right: the entity is what the evidence says.
    Confirmed,
    /// The finding is wrong (a wrong link, a stale share, a different party).
    FalsePositive,
    /// Needs someone with more authority; the alert stays open.
    Escalated,
}

impl AlertDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::FalsePositive => "false_positive",
            Self::Escalated => "escalated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "confirmed" => Self::Confirmed,
            "false_positive" => Self::FalsePositive,
            "escalated" => Self::Escalated,
            _ => return None,
        })
    }
}

/// `POST /v1/alerts/{id}/decisions`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertDecisionRequest {
    pub decision: AlertDecision,
    /// Why; up to 4,000 characters. Required to call a finding a false positive.
    pub note: Option<String>,
}

impl AlertDecisionRequest {
    pub const MAX_NOTE: usize = 4000;

    pub fn check(&self) -> Result<(), Invalid> {
        let note = self.note.as_deref().map(str::trim).unwrap_or("");
        if note.chars().count() > Self::MAX_NOTE {
            return Err(Invalid::new(
                "note",
                "too_long",
                "a note is at most 4,000 characters",
            ));
        }
        if note.is_empty() && self.decision == AlertDecision::FalsePositive {
            return Err(Invalid::new(
                "note",
                "note_required",
                "say why the finding is a false positive",
            ));
        }
        Ok(())
    }
}

/// One decision on an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertDecisionRecord {
    pub decision: AlertDecision,
    pub note: Option<String>,
    pub actor: String,
    /// The fingerprint of the evidence decided on.
    pub fingerprint: String,
    pub decided_at: DateTime<Utc>,
}

/// What changed between the evidence decided on (or seen) before and the evidence now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<[Decision; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<[Basis; 2]>,
    /// The share before and now (null where none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<[Option<f64>; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources_added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources_removed: Vec<String>,
    /// The ownership paths differ (links, or shares along them).
    #[serde(default)]
    pub paths_changed: bool,
}

impl EvidenceChanges {
    pub fn between(before: &Reason, now: &Reason) -> Self {
        let sources = |a: &Reason, b: &Reason| -> Vec<String> {
            a.sources
                .iter()
                .filter(|s| !b.sources.contains(s))
                .cloned()
                .collect()
        };
        Self {
            decision: (before.decision != now.decision).then_some([before.decision, now.decision]),
            basis: (before.basis != now.basis).then_some([before.basis, now.basis]),
            share: (before.share != now.share).then_some([before.share, now.share]),
            sources_added: sources(now, before),
            sources_removed: sources(before, now),
            paths_changed: before.paths != now.paths,
        }
    }
}

/// An alert, as `GET /v1/alerts/{id}` reports it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    pub id: String,
    pub entity: String,
    pub rule: String,
    pub status: AlertStatus,
    /// How a closed alert was decided.
    pub resolution: Option<AlertDecision>,
    /// What the evidence decides: review or block.
    pub severity: Decision,
    /// A digest of the evidence: sources, paths, shares, basis and decision.
    pub fingerprint: String,
    /// The reason, with its sources, ownership paths and shares.
    pub evidence: Reason,
    /// The evidence before it last changed, and what changed.
    pub previous_evidence: Option<Reason>,
    pub changes: Option<EvidenceChanges>,
    /// The graph and policy versions, and the date, the evidence was computed on.
    pub graph_version: i64,
    pub policy_version: i64,
    pub as_of: NaiveDate,
    /// `screening` or `job`, and its id.
    pub origin: String,
    pub origin_id: String,
    /// How often the same evidence was found.
    pub seen: i64,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Every decision, oldest first (present on a single alert, empty in lists).
    #[serde(default)]
    pub decisions: Vec<AlertDecisionRecord>,
}

/// The digest that tells one piece of evidence from another: the rule, basis, decision and
/// share, the sources, the paths with their shares, the listings, the matched entries and the
/// declarations of unknown owners; not the message, which is prose about the same facts.
pub fn fingerprint(r: &Reason) -> String {
    let mut sources = r.sources.clone();
    sources.sort();
    let rounded = |p: Option<f64>| p.map(|p| (p * 1e6).round() / 1e6);
    let paths: Vec<Vec<serde_json::Value>> = r
        .paths
        .iter()
        .map(|p| {
            p.iter()
                .map(|s| {
                    serde_json::json!([
                        s.owner,
                        s.owned,
                        s.interest,
                        rounded(s.share),
                        s.share_range.as_ref().map(|x| [x.min.get(), x.max.get()])
                    ])
                })
                .collect()
        })
        .collect();
    let listings: Vec<(&str, &str)> = r
        .listings
        .iter()
        .map(|l| (l.list.as_str(), l.entry.as_str()))
        .collect();
    let candidates: Vec<(&str, &str)> = r
        .candidates
        .iter()
        .map(|c| (c.list.as_str(), c.entry.as_str()))
        .collect();
    let unknowns: Vec<(&str, &str, &str)> = r
        .unknown_owners
        .iter()
        .map(|u| (u.entity.as_str(), u.reason.as_str(), u.source.as_str()))
        .collect();
    let canonical = serde_json::json!({
        "rule": r.rule, "basis": r.basis, "decision": r.decision, "share": rounded(r.share),
        "sources": sources, "paths": paths, "listings": listings, "candidates": candidates,
        "unknown_owners": unknowns,
    });
    super::hex(&Sha256::digest(canonical.to_string().as_bytes()))
}
