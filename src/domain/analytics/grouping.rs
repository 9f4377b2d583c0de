//! One change, one finding: when the same payer moved the same way on the same metric in two
//! or more groups (CPT groups, denial reasons) of one run, that is one payer-level change —
//! one finding with scope `*` that lists its groups, with the per-group findings kept as its
//! evidence (not stored as events of their own, so they raise no alerts of their own).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::impact::{self, ChangeSize};
use super::{Direction, Evidence, Finding, FindingKind};

/// The group key of a payer-level finding.
pub const ALL_GROUPS: &str = "*";

/// One group's numbers inside a payer-level finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberSummary {
    pub group: String,
    pub baseline_value: f64,
    pub current_value: f64,
    pub delta: f64,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub dollars_per_month: Option<f64>,
    pub baseline_n: u64,
    pub current_n: u64,
}

/// Collapses significant findings sharing (kind, payer, direction) across ≥ 2 groups.
/// Everything else passes through unchanged; the order is: payer-level findings first (in
/// key order), then the rest in input order.
pub fn by_payer(findings: Vec<Finding>) -> Vec<Finding> {
    let mut buckets: BTreeMap<(&'static str, String, bool), Vec<usize>> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        if f.significant && f.group != ALL_GROUPS {
            let key = (
                f.kind.as_str(),
                f.payer.clone(),
                f.direction == Direction::Worse,
            );
            buckets.entry(key).or_default().push(i);
        }
    }
    let mut merged = Vec::new();
    let mut absorbed = vec![false; findings.len()];
    for members in buckets.values().filter(|m| m.len() >= 2) {
        let group: Vec<&Finding> = members.iter().map(|&i| &findings[i]).collect();
        merged.push(payer_level(&group));
        for &i in members {
            absorbed[i] = true;
        }
    }
    let mut out = merged;
    for (i, mut f) in findings.into_iter().enumerate() {
        if absorbed[i] {
            // Kept for the run's record, no longer an event of its own.
            f.significant = false;
        }
        out.push(f);
    }
    out
}

fn payer_level(members: &[&Finding]) -> Finding {
    let first = members[0];
    let weight = |f: &Finding| f.current_n.max(1) as f64;
    let total_weight: f64 = members.iter().map(|f| weight(f)).sum();
    let weighted = |value: fn(&Finding) -> f64| {
        members.iter().map(|f| value(f) * weight(f)).sum::<f64>() / total_weight
    };
    let money: Option<f64> = members
        .iter()
        .filter_map(|f| f.dollars_per_month)
        .reduce(|a, b| a + b);
    let delta = weighted(|f| f.delta);
    let size = match first.kind {
        FindingKind::DenialRate => ChangeSize::Rate(delta),
        FindingKind::DecisionTime | FindingKind::Slowdown | FindingKind::Trend => {
            ChangeSize::Days(delta)
        }
        _ => ChangeSize::Other,
    };
    let label = impact::severity(money, size).max(
        members
            .iter()
            .map(|f| f.severity_label)
            .max()
            .unwrap_or(first.severity_label),
    );
    let min_of = |value: fn(&Finding) -> Option<f64>| {
        members.iter().filter_map(|f| value(f)).reduce(f64::min)
    };
    let mut groups: Vec<String> = members.iter().map(|f| f.group.clone()).collect();
    groups.sort();
    let q = min_of(|f| f.q_value);
    Finding {
        group: ALL_GROUPS.to_string(),
        baseline_value: weighted(|f| f.baseline_value),
        current_value: weighted(|f| f.current_value),
        delta,
        ci_low: None,
        ci_high: None,
        p_value: min_of(|f| f.p_value),
        q_value: q,
        confidence: q.map(|q| 1.0 - q),
        score: label.representative_score(),
        severity_label: label,
        baseline_n: members.iter().map(|f| f.baseline_n).sum(),
        current_n: members.iter().map(|f| f.current_n).sum(),
        significant: true,
        dollars_per_month: money,
        group_members: groups,
        evidence: Evidence::PayerLevel {
            members: members
                .iter()
                .map(|f| MemberSummary {
                    group: f.group.clone(),
                    baseline_value: f.baseline_value,
                    current_value: f.current_value,
                    delta: f.delta,
                    p_value: f.p_value,
                    q_value: f.q_value,
                    dollars_per_month: f.dollars_per_month,
                    baseline_n: f.baseline_n,
                    current_n: f.current_n,
                })
                .collect(),
        },
        ..first.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::analytics::{Mode, Product};
    use crate::domain::stats::SeverityLabel;

    fn slower(group: &str, delta: f64, significant: bool) -> Finding {
        Finding {
            product: Product::DriftWatch,
            mode: Mode::Sound,
            kind: FindingKind::DecisionTime,
            payer: "Humana".into(),
            group: group.into(),
            direction: Direction::Worse,
            baseline_value: 24.0,
            current_value: 24.0 + delta,
            delta,
            ci_low: None,
            ci_high: None,
            p_value: Some(1e-9),
            q_value: Some(1e-8),
            score: 0.75,
            severity_label: SeverityLabel::High,
            baseline_n: 300,
            current_n: 100,
            confidence: None,
            significant,
            dollars_per_month: Some(10_000.0),
            group_members: Vec::new(),
            evidence: Evidence::NewReason { recent_denials: 0 },
        }
    }

    #[test]
    fn a_payer_slower_in_every_group_is_one_finding_listing_them() {
        let input = vec![
            slower("EVAL_MGMT", 12.0, true),
            slower("IMAGING", 12.0, true),
            slower("LAB", 11.0, true),
            slower("SURGERY", 2.0, false),
        ];
        let out = by_payer(input);
        let events: Vec<&Finding> = out.iter().filter(|f| f.significant).collect();
        assert_eq!(events.len(), 1);
        let f = events[0];
        assert_eq!(f.group, ALL_GROUPS);
        assert_eq!(f.group_members, ["EVAL_MGMT", "IMAGING", "LAB"]);
        assert_eq!(f.dollars_per_month, Some(30_000.0));
        assert_eq!(f.severity_label, SeverityLabel::Critical);
        assert!((f.delta - 35.0 / 3.0).abs() < 1e-9);
        assert!(matches!(&f.evidence, Evidence::PayerLevel { members } if members.len() == 3));
        // The members stay in the run's record, not as events.
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn one_group_stays_a_group_finding() {
        let out = by_payer(vec![
            slower("IMAGING", 12.0, true),
            slower("LAB", 1.0, false),
        ]);
        let events: Vec<&Finding> = out.iter().filter(|f| f.significant).collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].group, "IMAGING");
    }

    #[test]
    fn opposite_directions_are_different_changes() {
        let mut better = slower("LAB", -6.0, true);
        better.direction = Direction::Better;
        let out = by_payer(vec![slower("IMAGING", 12.0, true), better]);
        assert_eq!(out.iter().filter(|f| f.significant).count(), 2);
        assert!(out.iter().all(|f| f.group != ALL_GROUPS));
    }
}
