//! The `unknown_owners` rule: a source declares that the owners of the screened entity, or of
//! an owner holding a large effective share of it, are unknown, withheld or exempt (a GLEIF
//! reporting exception, a PSC statement or super-secure PSC, a BODS unspecified owner).
//!
//! The screened entity counts at 100%; an owner counts when its effective share (multiplied
//! along paths, summed over them, `shares` links at their known minimum, as for UBOs) reaches
//! the rule's threshold. The reason lists each declaration, and the paths from each such owner.

use petgraph::Direction::Incoming;
use petgraph::graph::{EdgeIndex, NodeIndex};

use super::holdings::{capped_percent, effective, shares};
use super::local::Local;
use super::paths::{self, PathSpec};
use super::{path_steps, percent};
use crate::domain::{Basis, Reason, RuleKind, UnknownOwnersRef, UnknownOwnersRule};

/// The reason `rule` gives for the target of `local` (built upstream), if any.
pub fn evaluate(local: &Local, rule: &UnknownOwnersRule) -> Option<Reason> {
    let g = &local.graph;
    let x = local.target;
    let declared = |n: NodeIndex| {
        g[n].unknowns
            .iter()
            .filter(|u| rule.counts(&u.reason))
            .collect::<Vec<_>>()
    };
    let meets = |share: f64| {
        if rule.inclusive {
            share >= rule.threshold - 1e-9
        } else {
            share > rule.threshold + 1e-9
        }
    };
    let eff = effective(local, Incoming);
    let mut found: Vec<(NodeIndex, f64)> = g
        .node_indices()
        .map(|n| {
            let share = if n == x {
                100.0
            } else {
                capped_percent(eff[n.index()])
            };
            (n, share)
        })
        .filter(|&(n, share)| meets(share) && !declared(n).is_empty())
        .collect();
    if found.is_empty() {
        return None;
    }
    found.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| local.id(a.0).cmp(local.id(b.0)))
    });
    let starts: Vec<NodeIndex> = found.iter().map(|(n, _)| *n).filter(|&n| n != x).collect();
    let is_start = |m: NodeIndex| starts.contains(&m);
    let weight = |e: EdgeIndex| Some(shares(local, e)).filter(|&w| w > 0.0);
    let spec = PathSpec {
        is_start: &is_start,
        weight: &weight,
    };
    let paths = if starts.is_empty() {
        Vec::new()
    } else {
        paths::strongest(g, x, &spec, paths::MAX_PATHS)
            .iter()
            .map(|p| path_steps(local, p))
            .collect()
    };
    let refs: Vec<UnknownOwnersRef> = found
        .iter()
        .flat_map(|&(n, share)| {
            declared(n).into_iter().map(move |u| UnknownOwnersRef {
                entity: local.id(n).to_owned(),
                effective_share: share,
                reason: u.reason.to_string(),
                source_reason: u.source_reason.to_string(),
                source: u.source.to_string(),
                details: u.details.as_deref().map(str::to_owned),
            })
        })
        .collect();
    let first = &refs[0];
    let whose = if first.entity == local.id(x) {
        "its owners".to_owned()
    } else {
        format!(
            "the owners of {} (holding {}% of it)",
            first.entity,
            percent(first.effective_share)
        )
    };
    let mut message = format!(
        "{} declares {whose} unknown: {} ({})",
        first.source, first.reason, first.source_reason
    );
    if refs.len() > 1 {
        message.push_str(&format!(" and {} more declarations", refs.len() - 1));
    }
    Some(Reason {
        rule: rule.id.to_string(),
        kind: RuleKind::UnknownOwners,
        basis: Basis::OwnersUnknown,
        decision: rule.decision,
        share: Some(found[0].1),
        threshold: Some(rule.threshold),
        sources: found.iter().map(|(n, _)| local.id(*n).to_owned()).collect(),
        paths,
        message,
        listings: Vec::new(),
        candidates: Vec::new(),
        unknown_owners: refs,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::{Decision, Interest};
    use crate::engine::graph::node;
    use crate::engine::{BaseBuilder, EdgeData, Party, UnknownOwner};

    fn link(key: i64, share: f64) -> EdgeData {
        EdgeData {
            key,
            interest: Interest::Shares,
            min: share,
            max: share,
            valid_from: None,
            valid_to: None,
        }
    }

    fn unknown(reason: &str, from: Option<NaiveDate>) -> UnknownOwner {
        UnknownOwner {
            key: 1,
            reason: reason.into(),
            source_reason: "NON_PUBLIC".into(),
            source: "gleif".into(),
            details: None,
            valid_from: from,
            valid_to: None,
        }
    }

    fn rule(threshold: f64, reasons: &[&str]) -> UnknownOwnersRule {
        UnknownOwnersRule {
            id: "unknown".parse().unwrap(),
            threshold,
            inclusive: true,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            decision: Decision::Review,
        }
    }

    /// top (owners unknown) → 60% mid → 50% x; side (owners unknown) → 20% x.
    fn graph() -> crate::engine::Snapshot {
        let mut b = BaseBuilder::default();
        for id in ["top", "mid", "side", "x"] {
            b.add_node(node(id));
        }
        b.add_link("top", "mid", link(1, 60.0)).unwrap();
        b.add_link("mid", "x", link(2, 50.0)).unwrap();
        b.add_link("side", "x", link(3, 20.0)).unwrap();
        b.set_unknown_owners("top", vec![unknown("subjectExemptFromDisclosure", None)]);
        b.set_unknown_owners("side", vec![unknown("unknown", None)]);
        b.finish(1)
    }

    fn screen(
        snap: &crate::engine::Snapshot,
        id: &str,
        r: &UnknownOwnersRule,
        d: &str,
    ) -> Option<Reason> {
        let ix = snap.lookup(id).unwrap();
        let local = Local::upstream(snap, &Party::Known(ix), &[], d.parse().unwrap());
        evaluate(&local, r)
    }

    #[test]
    fn an_owner_above_the_threshold_with_unknown_owners_is_a_reason() {
        let snap = graph();
        // top holds 60% × 50% = 30% of x; side 20%.
        let r = screen(&snap, "x", &rule(25.0, &["*"]), "2025-01-01").unwrap();
        assert_eq!(r.basis, Basis::OwnersUnknown);
        assert_eq!(r.decision, Decision::Review);
        assert_eq!(r.sources, ["top"]);
        assert_eq!(r.share, Some(30.0));
        assert_eq!(r.unknown_owners.len(), 1);
        assert_eq!(r.unknown_owners[0].reason, "subjectExemptFromDisclosure");
        assert_eq!(r.paths.len(), 1);
        assert_eq!(r.paths[0].len(), 2, "top → mid → x");
        // A lower threshold takes in the smaller owner too, largest first.
        let r = screen(&snap, "x", &rule(20.0, &["*"]), "2025-01-01").unwrap();
        assert_eq!(r.sources, ["top", "side"]);
        // Not above it, or not a reason the rule counts: nothing.
        assert!(screen(&snap, "x", &rule(31.0, &["*"]), "2025-01-01").is_none());
        assert!(
            screen(
                &snap,
                "x",
                &rule(20.0, &["noBeneficialOwners"]),
                "2025-01-01"
            )
            .is_none()
        );
    }

    #[test]
    fn the_entity_itself_counts_in_full_and_dates_apply() {
        let mut b = BaseBuilder::default();
        b.add_node(node("x"));
        b.set_unknown_owners(
            "x",
            vec![unknown("noBeneficialOwners", "2020-01-01".parse().ok())],
        );
        let snap = b.finish(1);
        let r = screen(&snap, "x", &rule(25.0, &["*"]), "2021-01-01").unwrap();
        assert_eq!(r.share, Some(100.0));
        assert!(r.paths.is_empty());
        assert!(r.message.contains("its owners"), "{}", r.message);
        assert!(screen(&snap, "x", &rule(25.0, &["*"]), "2019-12-31").is_none());
    }
}
