//! ANALYTICS.md's DriftWatch vectors V1–V12 (both modes) and the 8-group sound run S1–S8.

// p-values 0.3927 and 0.5236 are not approximations of π/8 and π/6.
#![allow(clippy::approx_constant)]

use super::*;
use crate::domain::analytics::grouping;
use crate::domain::stats::TestMethod;
use crate::domain::stats::test_support::{assert_dp, assert_sig};

/// Payer A × EVAL; every claim decided in 5 days unless the vector says otherwise.
fn group(baseline: (u64, u64), current: (u64, u64)) -> DriftGroupInput {
    DriftGroupInput {
        payer: "A".into(),
        cpt_group: "EVAL".into(),
        baseline: RateCounts::new(baseline.0, baseline.1),
        current: RateCounts::new(current.0, current.1),
        baseline_days: Histogram::new([(5, baseline.0)]),
        current_days: Histogram::new([(5, current.0)]),
        current_allowed_cents: 0,
    }
}

fn with_days(
    mut g: DriftGroupInput,
    baseline: &[(i64, u64)],
    current: &[(i64, u64)],
) -> DriftGroupInput {
    g.baseline_days = Histogram::new(baseline.iter().copied());
    g.current_days = Histogram::new(current.iter().copied());
    g
}

fn compat(g: DriftGroupInput) -> RunOutcome {
    drift_compat(&[g], &DriftSettings::default())
}

fn sound(g: DriftGroupInput) -> RunOutcome {
    drift_sound(&[g], &DriftSettings::default())
}

fn only(outcome: &RunOutcome, kind: FindingKind) -> Finding {
    let mut of_kind = outcome.findings.iter().filter(|f| f.kind == kind);
    let first = of_kind.next().cloned().expect("a finding of this kind");
    assert!(of_kind.next().is_none(), "one finding of {kind:?}");
    first
}

fn kinds(outcome: &RunOutcome) -> Vec<FindingKind> {
    outcome.events().map(|f| f.kind).collect()
}

fn assert_ci(f: &Finding, low: f64, high: f64) {
    assert_dp(f.ci_low.expect("interval"), low, 4);
    assert_dp(f.ci_high.expect("interval"), high, 4);
}

fn method(f: &Finding) -> Option<TestMethod> {
    match &f.evidence {
        Evidence::Rate { method, .. } => *method,
        _ => None,
    }
}

#[test]
fn v1_large_increase() {
    let c = compat(group((50, 10), (50, 30)));
    assert_eq!(kinds(&c), vec![FindingKind::DenialRate]);
    let f = only(&c, FindingKind::DenialRate);
    assert_eq!(f.delta, 0.39999999999999997);
    assert_eq!(f.score, 0.7999999999999999);
    assert_eq!(f.confidence, Some(0.8333333333333334));
    assert_eq!(f.direction, Direction::Worse);

    let s = sound(group((50, 10), (50, 30)));
    let f = only(&s, FindingKind::DenialRate);
    assert_eq!(method(&f), Some(TestMethod::ZTest));
    assert_sig(f.p_value.expect("p"), 4.5e-5, 2);
    assert!(f.significant);
    assert_eq!(f.direction, Direction::Worse);
    assert_ci(&f, 0.21, 0.5517);
    assert_eq!(kinds(&s), vec![FindingKind::DenialRate]);
}

#[test]
fn v2_current_below_min_volume_is_insufficient() {
    for outcome in [
        compat(group((50, 10), (29, 20))),
        sound(group((50, 10), (29, 20))),
    ] {
        assert_eq!(outcome.groups_considered, 1);
        assert_eq!(outcome.insufficient.len(), 1);
        assert_eq!(outcome.insufficient[0].current_n, 29);
        assert!(outcome.findings.is_empty());
    }
}

#[test]
fn v3_float_edge_below_both_old_thresholds() {
    assert!(compat(group((100, 10), (40, 6))).findings.is_empty());
    let f = only(&sound(group((100, 10), (40, 6))), FindingKind::DenialRate);
    assert_eq!(method(&f), Some(TestMethod::FisherExact));
    assert_sig(f.p_value.expect("p"), 0.3927, 4);
    assert!(!f.significant);
}

#[test]
fn v4_exactly_on_the_old_threshold() {
    let f = only(&compat(group((40, 2), (40, 4))), FindingKind::DenialRate);
    assert_eq!(f.delta, 0.05);
    assert_eq!(f.score, 0.1);
    assert_eq!(f.confidence, Some(0.6666666666666666));

    let f = only(&sound(group((40, 2), (40, 4))), FindingKind::DenialRate);
    assert_eq!(method(&f), Some(TestMethod::FisherExact));
    assert_sig(f.p_value.expect("p"), 0.6752, 4);
    assert!(!f.significant);
}

#[test]
fn v5_zero_baseline() {
    // V5a: Δ 1/30 < 0.05 and the relative rule needs p̂_b > 0.
    assert!(compat(group((60, 0), (30, 1))).findings.is_empty());
    let f = only(&sound(group((60, 0), (30, 1))), FindingKind::DenialRate);
    assert_sig(f.p_value.expect("p"), 0.3333, 4);
    assert!(!f.significant);

    let f = only(&compat(group((60, 0), (30, 2))), FindingKind::DenialRate);
    assert_eq!(f.delta, 0.06666666666666667);
    assert_eq!(f.score, 0.13333333333333333);
    assert_eq!(f.confidence, Some(0.75));
    let f = only(&sound(group((60, 0), (30, 2))), FindingKind::DenialRate);
    assert_sig(f.p_value.expect("p"), 0.1086, 4);
    assert!(!f.significant);
}

#[test]
fn v6_decrease_is_two_sided_and_better() {
    let f = only(&compat(group((60, 18), (30, 3))), FindingKind::DenialRate);
    assert_eq!(f.delta, -0.19999999999999998);
    assert_eq!(f.score, 0.39999999999999997);
    assert_eq!(f.severity_label, SeverityLabel::Low);
    assert_eq!(f.direction, Direction::Better);

    let f = only(&sound(group((60, 18), (30, 3))), FindingKind::DenialRate);
    assert_eq!(method(&f), Some(TestMethod::ZTest));
    assert_sig(f.p_value.expect("p"), 0.0345, 3);
    assert!(f.significant);
    assert_eq!(f.direction, Direction::Better);
    assert_ci(&f, -0.3412, -0.0140);
}

#[test]
fn v7_decision_time_shift_without_rate_change() {
    let g = || with_days(group((40, 4), (40, 4)), &[(10, 40)], &[(14, 40)]);
    let c = compat(g());
    assert_eq!(kinds(&c), vec![FindingKind::DecisionTime]);
    let f = only(&c, FindingKind::DecisionTime);
    assert_eq!(f.delta, 4.0);
    assert_eq!(f.score, 0.4);
    assert_eq!(f.confidence, Some(0.6666666666666666));

    let s = sound(g());
    assert_eq!(kinds(&s), vec![FindingKind::DecisionTime]);
    let f = only(&s, FindingKind::DecisionTime);
    assert_sig(f.p_value.expect("p"), 6.5e-19, 2);
    assert_eq!(f.delta, 4.0);
    assert!(f.significant);
}

#[test]
fn v8_relative_median_rule_and_relative_shift_floor() {
    let g = || {
        with_days(
            group((40, 4), (40, 4)),
            &[(3, 20), (5, 20)],
            &[(6, 20), (7, 20)],
        )
    };
    let f = only(&compat(g()), FindingKind::DecisionTime);
    assert_eq!((f.baseline_value, f.current_value), (4.0, 6.5));
    assert_eq!(f.score, 0.25);
    match f.evidence {
        Evidence::DecisionTime {
            relative_change, ..
        } => assert_eq!(relative_change, Some(0.625)),
        other => panic!("unexpected evidence {other:?}"),
    }

    let f = only(&sound(g()), FindingKind::DecisionTime);
    assert_eq!(f.delta, 2.5); // < 3 days but ≥ 20 % of 4.0
    assert_sig(f.p_value.expect("p"), 1.9e-15, 2);
    assert!(f.significant);
}

#[test]
fn v9_other_outcomes_do_not_count_toward_volume() {
    // 40 decided + 10 OTHER vs 25 decided + 10 OTHER: aggregation passes PAID + DENIED only.
    let g = || group((40, 4), (25, 20));
    for outcome in [compat(g()), sound(g())] {
        assert_eq!(outcome.insufficient.len(), 1);
        assert!(outcome.findings.is_empty());
    }
}

#[test]
fn v10_saturated_severity() {
    let f = only(
        &compat(group((200, 20), (100, 80))),
        FindingKind::DenialRate,
    );
    assert_eq!(f.delta, 0.7000000000000001);
    assert_eq!(f.score, 1.0);
    assert_eq!(f.confidence, Some(1.0));

    let f = only(&sound(group((200, 20), (100, 80))), FindingKind::DenialRate);
    assert_eq!(method(&f), Some(TestMethod::ZTest));
    assert!(f.significant);
    assert_ci(&f, 0.5984, 0.775);
}

#[test]
fn v11_no_rows() {
    for outcome in [
        drift_compat(&[], &DriftSettings::default()),
        drift_sound(&[], &DriftSettings::default()),
    ] {
        assert_eq!(outcome, RunOutcome::default());
    }
}

#[test]
fn v12_relative_rule_fires_on_a_small_delta() {
    let f = only(&compat(group((100, 4), (64, 4))), FindingKind::DenialRate);
    assert_eq!(f.delta, 0.0225);
    assert_eq!(f.score, 0.045);
    assert_eq!(f.confidence, Some(1.0));

    let f = only(&sound(group((100, 4), (64, 4))), FindingKind::DenialRate);
    assert_eq!(method(&f), Some(TestMethod::FisherExact));
    assert_sig(f.p_value.expect("p"), 0.7126, 4);
    assert!(!f.significant);
}

/// S1–S8: (baseline n, x), (current n, x), Δ, z (when the z-test is chosen), p, q,
/// Newcombe low/high, significant.
type SRow = (
    (u64, u64),
    (u64, u64),
    f64,
    Option<f64>,
    f64,
    f64,
    (f64, f64),
    bool,
);
const S_RUN: [SRow; 8] = [
    (
        (200, 24),
        (30, 4),
        0.0133,
        None,
        0.7690,
        0.7690,
        (-0.0825, 0.1812),
        false,
    ),
    (
        (200, 24),
        (30, 9),
        0.1800,
        None,
        0.02084,
        0.0417,
        (0.0367, 0.3628),
        true,
    ),
    (
        (193, 23),
        (30, 12),
        0.2808,
        None,
        0.0004293,
        0.0017,
        (0.1178, 0.4618),
        true,
    ),
    (
        (50, 10),
        (50, 30),
        0.4000,
        Some(4.0825),
        4.456e-5,
        0.0004,
        (0.2100, 0.5517),
        true,
    ),
    (
        (100, 10),
        (40, 6),
        0.0500,
        None,
        0.3927,
        0.5236,
        (-0.0588, 0.1977),
        false,
    ),
    (
        (60, 0),
        (30, 2),
        0.0667,
        None,
        0.1086,
        0.1738,
        (-0.0104, 0.2132),
        false,
    ),
    (
        (600, 72),
        (100, 22),
        0.1000,
        Some(2.7153),
        0.006621,
        0.0177,
        (0.0245, 0.1937),
        true,
    ),
    (
        (40, 2),
        (40, 4),
        0.0500,
        None,
        0.6752,
        0.7690,
        (-0.0799, 0.1854),
        false,
    ),
];

fn s_run_groups() -> Vec<DriftGroupInput> {
    S_RUN
        .iter()
        .enumerate()
        .map(|(i, row)| DriftGroupInput {
            cpt_group: format!("S{}", i + 1),
            ..group(row.0, row.1)
        })
        .collect()
}

#[test]
fn s1_to_s8_one_sound_run_with_bh_over_eight() {
    let outcome = drift_sound(&s_run_groups(), &DriftSettings::default());
    assert_eq!(outcome.groups_considered, 8);
    let rates: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DenialRate && f.group != grouping::ALL_GROUPS)
        .collect();
    assert_eq!(rates.len(), 8);
    // All eight groups are payer A's: the four significant ones are one payer-level change.
    let payer_level: Vec<&Finding> = outcome.events().collect();
    assert_eq!(payer_level.len(), 1);
    assert_eq!(payer_level[0].group, grouping::ALL_GROUPS);
    assert_eq!(payer_level[0].group_members, ["S2", "S3", "S4", "S7"]);
    let members = &payer_level[0].group_members;
    for (f, row) in rates.iter().zip(S_RUN) {
        let (_, _, delta, z, p, q, (low, high), significant) = row;
        let name = &f.group;
        assert_dp(f.delta, delta, 4);
        let expected_method = if z.is_some() {
            TestMethod::ZTest
        } else {
            TestMethod::FisherExact
        };
        assert_eq!(method(f), Some(expected_method), "{name}");
        if let (
            Some(z),
            Evidence::Rate {
                z: Some(actual), ..
            },
        ) = (z, &f.evidence)
        {
            assert_dp(*actual, z, 4);
        }
        assert_sig(f.p_value.expect("p"), p, 4);
        assert_dp(f.q_value.expect("q"), q, 4);
        assert_ci(f, low, high);
        assert_eq!(members.contains(&f.group), significant, "{name}");
    }
}

#[test]
fn s1_to_s8_old_rules_fire_on_six() {
    let outcome = drift_compat(&s_run_groups(), &DriftSettings::default());
    let fired: Vec<&str> = outcome.events().map(|f| f.group.as_str()).collect();
    assert_eq!(fired, ["S2", "S3", "S4", "S6", "S7", "S8"]);
}

#[test]
fn sound_labels_come_from_money_and_size_confidence_from_q() {
    let mut groups = s_run_groups();
    // S4 (+40 points) with $70,000 decided in its current window: 0.40 × 70,000 × 30/14.
    for g in &mut groups {
        g.current_allowed_cents = 7_000_000;
    }
    let outcome = drift_sound(&groups, &DriftSettings::default());
    for f in outcome
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DenialRate && f.group != grouping::ALL_GROUPS)
    {
        let money = f.dollars_per_month.expect("amounts known");
        assert!((money - f.delta * 70_000.0 * 30.0 / 14.0).abs() < 1e-6);
        assert_eq!(
            f.severity_label,
            crate::domain::analytics::impact::severity(
                Some(money),
                crate::domain::analytics::impact::ChangeSize::Rate(f.delta)
            )
        );
        assert_eq!(f.confidence, f.q_value.map(|q| 1.0 - q));
    }
}

#[test]
fn tests_that_cannot_reject_stay_out_of_the_family() {
    // All decision days 5 in both windows: no time test, so the rate test's q is its p.
    let outcome = sound(group((60, 18), (30, 3)));
    assert_eq!(outcome.findings.len(), 1);
    let f = &outcome.findings[0];
    assert_eq!(f.q_value, f.p_value);
}

#[test]
fn empty_histograms_skip_the_time_test_without_panicking() {
    let mut g = group((50, 10), (50, 30));
    g.baseline_days = Histogram::default();
    g.current_days = Histogram::default();
    for outcome in [compat(g.clone()), sound(g)] {
        assert!(
            outcome
                .findings
                .iter()
                .all(|f| f.kind == FindingKind::DenialRate)
        );
    }
    // Zero-count groups with a zero minimum volume are still insufficient, never a NaN.
    let settings = DriftSettings {
        min_volume: 0,
        ..DriftSettings::default()
    };
    let empty = group((0, 0), (0, 0));
    assert_eq!(
        drift_sound(std::slice::from_ref(&empty), &settings)
            .insufficient
            .len(),
        1
    );
    assert_eq!(drift_compat(&[empty], &settings).insufficient.len(), 1);
}

#[test]
fn findings_serialize_as_json_evidence() {
    let outcome = sound(group((50, 10), (50, 30)));
    let json = serde_json::to_string(&outcome).expect("serializes");
    // Serialization writes the shortest exact f64 (0.39999999999999997 stays itself)…
    assert!(json.contains("\"delta\":0.39999999999999997"));
    assert!(json.contains("\"kind\":\"denial_rate\""));
    // …but serde_json parses it back bit-exactly only with its `float_roundtrip` feature;
    // without it the last bit may differ, so compare what does not depend on that.
    let back: RunOutcome = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back.findings.len(), outcome.findings.len());
    assert_eq!(back.findings[0].kind, outcome.findings[0].kind);
    assert_eq!(
        back.findings[0].significant,
        outcome.findings[0].significant
    );
}
