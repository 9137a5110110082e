//! Screening policy: a versioned list of rules.
//!
//! The JSON shape is the contract's; defaults are filled in when a policy is stored, so the
//! stored version always states every parameter a decision depended on.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Decision, Interest, Invalid, Jurisdiction, ListId};

/// A rule id: the same grammar as resource ids.
pub type RuleId = super::ListId;

/// A list selector in a sanctions rule: a list id or `*` for every active list.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ListSelector {
    All,
    One(ListId),
}

impl ListSelector {
    /// Whether any of `selectors` picks the list with this id.
    pub fn any_selects(selectors: &[ListSelector], id: &str) -> bool {
        selectors.iter().any(|s| match s {
            Self::All => true,
            Self::One(l) => l.as_str() == id,
        })
    }
}

impl TryFrom<String> for ListSelector {
    type Error = super::InvalidId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s == "*" {
            Ok(Self::All)
        } else {
            Ok(Self::One(ListId::try_from(s)?))
        }
    }
}

impl utoipa::PartialSchema for ListSelector {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("a list id, or \"*\" for every active list"))
            .into()
    }
}

impl utoipa::ToSchema for ListSelector {}

impl From<ListSelector> for String {
    fn from(l: ListSelector) -> String {
        match l {
            ListSelector::All => "*".into(),
            ListSelector::One(id) => id.into(),
        }
    }
}

/// What a `board` or `control` link from a tainted owner does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControlEffect {
    Block,
    Review,
}

/// Which location fields of an entity a jurisdiction rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocationField {
    Jurisdiction,
    Headquarters,
}

/// The ownership test shared by `sanctions` and `jurisdiction` rules.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnershipTest {
    pub threshold: f64,
    pub inclusive: bool,
    pub aggregate: bool,
    pub interests: Vec<Interest>,
    pub control: ControlEffect,
    pub review_threshold: Option<f64>,
}

impl OwnershipTest {
    /// Whether an aggregate share meets the threshold. A tolerance absorbs float error, so
    /// that 33.3 + 16.7 meets 50 inclusive and does not pass it exclusive.
    pub fn crosses(&self, share: f64) -> bool {
        const EPS: f64 = 1e-9;
        if self.inclusive {
            share >= self.threshold - EPS
        } else {
            share > self.threshold + EPS
        }
    }

    /// Whether an attributable share falls in the review band.
    pub fn in_review_band(&self, share: f64) -> bool {
        self.review_threshold
            .is_some_and(|r| share > 0.0 && share >= r - 1e-9)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionsRule {
    pub id: RuleId,
    #[serde(default = "all_lists")]
    pub lists: Vec<ListSelector>,
    #[serde(default = "fifty")]
    pub threshold: f64,
    #[serde(default = "yes")]
    pub inclusive: bool,
    #[serde(default = "yes")]
    pub aggregate: bool,
    #[serde(default = "shares_only")]
    pub interests: Vec<Interest>,
    #[serde(default = "review")]
    pub control: ControlEffect,
    pub review_threshold: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionRule {
    pub id: RuleId,
    pub jurisdictions: Vec<Jurisdiction>,
    #[serde(default = "both_fields")]
    pub fields: Vec<LocationField>,
    #[serde(default)]
    pub include_persons: bool,
    #[serde(default = "fifty")]
    pub threshold: f64,
    #[serde(default)]
    pub inclusive: bool,
    #[serde(default = "yes")]
    pub aggregate: bool,
    #[serde(default = "shares_only")]
    pub interests: Vec<Interest>,
    #[serde(default = "review")]
    pub control: ControlEffect,
    pub review_threshold: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeneficialOwnershipRule {
    pub id: RuleId,
    #[serde(default = "twenty_five")]
    pub threshold: f64,
    #[serde(default = "yes")]
    pub inclusive: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    Sanctions(SanctionsRule),
    Jurisdiction(JurisdictionRule),
    BeneficialOwnership(BeneficialOwnershipRule),
    NameMatch(NameMatchRule),
    UnknownOwners(UnknownOwnersRule),
}

/// Rules are read by hand rather than with serde's internal tagging, which buffers the rule and
/// loses the path of a bad field inside it: the message names it (`jurisdictions[0]: ...`).
impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut fields = serde_json::Map::deserialize(d)?;
        let kind = fields
            .remove("kind")
            .ok_or_else(|| D::Error::missing_field("kind"))?;
        fn body<T: serde::de::DeserializeOwned>(
            fields: serde_json::Map<String, serde_json::Value>,
        ) -> Result<T, String> {
            serde_path_to_error::deserialize(serde_json::Value::Object(fields)).map_err(|e| {
                let path = e.path().to_string();
                if path == "." {
                    e.inner().to_string()
                } else {
                    format!("{path}: {}", e.inner())
                }
            })
        }
        match kind.as_str() {
            Some("sanctions") => body(fields).map(Rule::Sanctions),
            Some("jurisdiction") => body(fields).map(Rule::Jurisdiction),
            Some("beneficial_ownership") => body(fields).map(Rule::BeneficialOwnership),
            Some("name_match") => body(fields).map(Rule::NameMatch),
            Some("unknown_owners") => body(fields).map(Rule::UnknownOwners),
            _ => Err(format!(
                "unknown rule kind {kind}; expected \"sanctions\", \"jurisdiction\", \"beneficial_ownership\", \"name_match\" or \"unknown_owners\""
            )),
        }
        .map_err(D::Error::custom)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Sanctions,
    Jurisdiction,
    BeneficialOwnership,
    NameMatch,
    UnknownOwners,
}

impl Rule {
    pub fn id(&self) -> &RuleId {
        match self {
            Rule::Sanctions(r) => &r.id,
            Rule::Jurisdiction(r) => &r.id,
            Rule::BeneficialOwnership(r) => &r.id,
            Rule::NameMatch(r) => &r.id,
            Rule::UnknownOwners(r) => &r.id,
        }
    }

    pub fn kind(&self) -> RuleKind {
        match self {
            Rule::Sanctions(_) => RuleKind::Sanctions,
            Rule::Jurisdiction(_) => RuleKind::Jurisdiction,
            Rule::BeneficialOwnership(_) => RuleKind::BeneficialOwnership,
            Rule::NameMatch(_) => RuleKind::NameMatch,
            Rule::UnknownOwners(_) => RuleKind::UnknownOwners,
        }
    }

    /// The ownership test of a `sanctions` or `jurisdiction` rule.
    pub fn test(&self) -> Option<OwnershipTest> {
        let t = |threshold, inclusive, aggregate, interests: &Vec<Interest>, control, review| {
            OwnershipTest {
                threshold,
                inclusive,
                aggregate,
                interests: interests.clone(),
                control,
                review_threshold: review,
            }
        };
        match self {
            Rule::Sanctions(r) => Some(t(
                r.threshold,
                r.inclusive,
                r.aggregate,
                &r.interests,
                r.control,
                r.review_threshold,
            )),
            Rule::Jurisdiction(r) => Some(t(
                r.threshold,
                r.inclusive,
                r.aggregate,
                &r.interests,
                r.control,
                r.review_threshold,
            )),
            Rule::BeneficialOwnership(_) | Rule::NameMatch(_) | Rule::UnknownOwners(_) => None,
        }
    }
}

fn all_lists() -> Vec<ListSelector> {
    vec![ListSelector::All]
}
fn fifty() -> f64 {
    50.0
}
fn twenty_five() -> f64 {
    25.0
}
fn yes() -> bool {
    true
}
fn shares_only() -> Vec<Interest> {
    vec![Interest::Shares]
}
fn review() -> ControlEffect {
    ControlEffect::Review
}
fn both_fields() -> Vec<LocationField> {
    vec![LocationField::Jurisdiction, LocationField::Headquarters]
}

/// Matches the screened entity's names (or a candidate's) against list entries: a match at or
/// above `review_threshold` is a `review` reason with `basis: "name_match"`; a match that an
/// identifier confirms is a `block` with `basis: "listed"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameMatchRule {
    pub id: RuleId,
    #[serde(default = "all_lists")]
    pub lists: Vec<ListSelector>,
    /// A match score in (0, 1]; defaults to the matcher's recommended review threshold.
    #[serde(default = "name_review_threshold")]
    pub review_threshold: f64,
}

fn name_review_threshold() -> f64 {
    crate::matching::REVIEW_THRESHOLD
}

/// Owners declared unknown, withheld or exempt (a GLEIF reporting exception, a PSC statement,
/// a BODS unspecified owner) on the screened entity, or on an owner whose effective share in
/// it reaches `threshold`: a reason with `basis: "owners_unknown"` and the rule's `decision`.
/// `reasons` are BODS `unspecifiedReason` codes, or `"*"` for all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnknownOwnersRule {
    pub id: RuleId,
    #[serde(default = "twenty_five")]
    pub threshold: f64,
    #[serde(default = "yes")]
    pub inclusive: bool,
    #[serde(default = "any_reason")]
    pub reasons: Vec<String>,
    /// `review` (default) or `block`.
    #[serde(default = "review_decision")]
    pub decision: Decision,
}

impl UnknownOwnersRule {
    pub fn counts(&self, reason: &str) -> bool {
        self.reasons.iter().any(|r| r == "*" || r == reason)
    }
}

fn any_reason() -> Vec<String> {
    vec!["*".to_owned()]
}
fn review_decision() -> Decision {
    Decision::Review
}

/// A policy as a client sends it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub rules: Vec<Rule>,
}

impl PolicySpec {
    /// Checks every rule. `list_exists` answers whether a list id is known, so that a typo in
    /// a list name cannot silently disable a sanctions rule.
    pub fn check(&self, list_exists: impl Fn(&ListId) -> bool) -> Result<(), Invalid> {
        if self.rules.len() > 100 {
            return Err(Invalid::new("rules", "too_many", "at most 100 rules"));
        }
        let mut ids = HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |f: &str| format!("rules[{i}].{f}");
            if !ids.insert(rule.id().clone()) {
                return Err(Invalid::new(
                    at("id"),
                    "duplicate_rule",
                    "rule ids must be unique",
                ));
            }
            let percent = |v: f64| v.is_finite() && v > 0.0 && v <= 100.0;
            let check_lists = |lists: &[ListSelector]| {
                if lists.is_empty() {
                    return Err(Invalid::new(
                        at("lists"),
                        "empty",
                        "name at least one list, or \"*\"",
                    ));
                }
                for (j, l) in lists.iter().enumerate() {
                    if let ListSelector::One(id) = l
                        && !list_exists(id)
                    {
                        return Err(Invalid::new(
                            at(&format!("lists[{j}]")),
                            "unknown_list",
                            format!("no list '{id}'"),
                        ));
                    }
                }
                Ok(())
            };
            match rule {
                Rule::Sanctions(r) => check_lists(&r.lists)?,
                Rule::NameMatch(r) => {
                    check_lists(&r.lists)?;
                    if !(r.review_threshold.is_finite()
                        && r.review_threshold > 0.0
                        && r.review_threshold <= 1.0)
                    {
                        return Err(Invalid::new(
                            at("review_threshold"),
                            "invalid_threshold",
                            "a name-match threshold is a score in (0, 1]",
                        ));
                    }
                }
                Rule::Jurisdiction(r) => {
                    if r.jurisdictions.is_empty() {
                        return Err(Invalid::new(
                            at("jurisdictions"),
                            "empty",
                            "name at least one jurisdiction",
                        ));
                    }
                    if r.fields.is_empty() {
                        return Err(Invalid::new(
                            at("fields"),
                            "empty",
                            "name at least one field",
                        ));
                    }
                }
                Rule::UnknownOwners(r) => {
                    if !percent(r.threshold) {
                        return Err(Invalid::new(
                            at("threshold"),
                            "invalid_threshold",
                            "a threshold is a percentage in (0, 100]",
                        ));
                    }
                    if r.decision == Decision::Clear {
                        return Err(Invalid::new(
                            at("decision"),
                            "invalid_decision",
                            "decision is \"review\" or \"block\"",
                        ));
                    }
                    if r.reasons.is_empty() {
                        return Err(Invalid::new(
                            at("reasons"),
                            "empty",
                            "name at least one reason, or \"*\"",
                        ));
                    }
                    for (j, reason) in r.reasons.iter().enumerate() {
                        if reason != "*"
                            && !crate::formats::BODS_UNSPECIFIED_REASONS.contains(&reason.as_str())
                        {
                            return Err(Invalid::new(
                                at(&format!("reasons[{j}]")),
                                "unknown_reason",
                                format!(
                                    "not a BODS unspecifiedReason code; one of {}",
                                    crate::formats::BODS_UNSPECIFIED_REASONS.join(", ")
                                ),
                            ));
                        }
                    }
                }
                Rule::BeneficialOwnership(r) => {
                    if !percent(r.threshold) {
                        return Err(Invalid::new(
                            at("threshold"),
                            "invalid_threshold",
                            "a threshold is a percentage in (0, 100]",
                        ));
                    }
                }
            }
            if let Some(t) = rule.test() {
                if !percent(t.threshold) {
                    return Err(Invalid::new(
                        at("threshold"),
                        "invalid_threshold",
                        "a threshold is a percentage in (0, 100]",
                    ));
                }
                if t.interests.is_empty() || t.interests.iter().any(|k| !k.is_quantified()) {
                    return Err(Invalid::new(
                        at("interests"),
                        "invalid_interests",
                        "interests are one or both of \"shares\" and \"votes\"; board and control links are governed by \"control\"",
                    ));
                }
                if let Some(r) = t.review_threshold
                    && (!percent(r) || r > t.threshold)
                {
                    return Err(Invalid::new(
                        at("review_threshold"),
                        "invalid_threshold",
                        "review_threshold is a percentage in (0, threshold]",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The example policy of the contract (OFAC 50%, unsupported regions, UBO at 25%), for tests,
/// benchmarks and documentation.
pub const CONTRACT_EXAMPLE: &str = r#"{"rules": [
  {"id": "ofac-50", "kind": "sanctions", "lists": ["*"], "threshold": 50, "inclusive": true,
   "aggregate": true, "interests": ["shares"], "control": "review", "review_threshold": 25},
  {"id": "unsupported-regions", "kind": "jurisdiction", "jurisdictions": ["CN", "HK", "MO", "RU", "IR", "KP", "CU", "SY"],
   "fields": ["jurisdiction", "headquarters"], "include_persons": false,
   "threshold": 50, "inclusive": false, "aggregate": true, "interests": ["shares"],
   "control": "review", "review_threshold": 25},
  {"id": "ubo", "kind": "beneficial_ownership", "threshold": 25, "inclusive": true}
]}"#;

impl PolicySpec {
    pub fn contract_example() -> PolicySpec {
        serde_json::from_str(CONTRACT_EXAMPLE)
            .unwrap_or_else(|e| unreachable!("the example parses: {e}"))
    }
}

/// A stored policy version.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Policy {
    pub version: i64,
    pub rules: Vec<Rule>,
    pub created_at: Option<DateTime<Utc>>,
}

impl Policy {
    /// The policy in force before any has been stored: no rules, version 0.
    pub fn empty() -> Self {
        Self {
            version: 0,
            rules: Vec::new(),
            created_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_example_policy_parses_and_checks() {
        let p: PolicySpec = PolicySpec::contract_example();
        p.check(|_| true).unwrap();
        assert_eq!(p.rules.len(), 3);
        assert_eq!(p.rules[1].test().unwrap().threshold, 50.0);
        assert!(!p.rules[1].test().unwrap().inclusive);
    }

    #[test]
    fn unknown_fields_and_bad_parameters_are_rejected() {
        let unknown = r#"{"rules": [{"id": "a", "kind": "sanctions", "treshold": 50}]}"#;
        assert!(serde_json::from_str::<PolicySpec>(unknown).is_err());
        let bad = |json: &str| {
            serde_json::from_str::<PolicySpec>(json)
                .unwrap()
                .check(|_| false)
                .unwrap_err()
                .field
        };
        assert_eq!(
            bad(r#"{"rules": [{"id": "a", "kind": "sanctions", "threshold": 0}]}"#).as_deref(),
            Some("rules[0].threshold")
        );
        assert_eq!(
            bad(r#"{"rules": [{"id": "a", "kind": "sanctions", "lists": ["nope"]}]}"#).as_deref(),
            Some("rules[0].lists[0]")
        );
        assert_eq!(
            bad(r#"{"rules": [{"id": "a", "kind": "sanctions", "interests": ["board"]}]}"#)
                .as_deref(),
            Some("rules[0].interests")
        );
        assert_eq!(
            bad(r#"{"rules": [{"id": "a", "kind": "sanctions", "review_threshold": 60}]}"#)
                .as_deref(),
            Some("rules[0].review_threshold")
        );
        assert_eq!(
            bad(
                r#"{"rules": [{"id": "a", "kind": "sanctions"}, {"id": "a", "kind": "sanctions"}]}"#
            )
            .as_deref(),
            Some("rules[1].id")
        );
    }

    #[test]
    fn inclusive_and_exclusive_thresholds_differ_exactly_at_the_threshold() {
        let mut t = Rule::Sanctions(serde_json::from_str(r#"{"id": "a"}"#).unwrap())
            .test()
            .unwrap();
        assert!(t.crosses(50.0));
        assert!(t.crosses(33.3 + 16.7));
        t.inclusive = false;
        assert!(!t.crosses(50.0));
        assert!(!t.crosses(33.3 + 16.7));
        assert!(t.crosses(50.01));
    }
}
