//! ANALYTICS.md's DenialScope compat vectors D1–D7, and the sound signals on the same keys.

use super::*;
use crate::domain::analytics::DollarRule;

fn window(denied: u64, dollars: i64) -> ReasonWindow {
    // A coded reason: the old bucket held only its own denials.
    ReasonWindow {
        denied,
        denied_cents: dollars * 100,
        payer_decided: 0,
        payer_denied: 0,
        legacy_submitted: denied,
    }
}

fn key(payer: &str, reason: &str, baseline: ReasonWindow, recent: ReasonWindow) -> ReasonInput {
    ReasonInput {
        payer: payer.into(),
        reason: reason.into(),
        baseline,
        recent,
    }
}

fn compat(k: ReasonInput) -> RunOutcome {
    denials_compat(&[k], &DenialSettings::default())
}

fn sound(k: ReasonInput) -> RunOutcome {
    denials_sound(&[k], &DenialSettings::default())
}

fn events(outcome: &RunOutcome) -> Vec<(FindingKind, SeverityLabel, Option<f64>)> {
    outcome
        .events()
        .map(|f| (f.kind, f.severity_label, f.confidence))
        .collect()
}

#[test]
fn reason_is_code_else_text_else_unspecified() {
    assert_eq!(reason_key(Some("CO-197"), Some("auth missing")), "CO-197");
    assert_eq!(
        reason_key(Some("  "), Some(" auth missing ")),
        "auth missing"
    );
    assert_eq!(reason_key(None, None), "UNSPECIFIED");
    assert_eq!(reason_key(Some(""), Some("")), "UNSPECIFIED");
}

#[test]
fn d1_new_reason() {
    let k = || key("A", "CO-197", ReasonWindow::default(), window(12, 0));
    assert_eq!(
        events(&compat(k())),
        [(FindingKind::NewDenialReason, SeverityLabel::High, Some(0.8))]
    );
    // Sound tests a new reason as a share rising from 0 of the payer's denials; with no
    // baseline denials at all there is nothing to compare with.
    assert!(events(&sound(k())).is_empty());
    let with_history = || ReasonInput {
        baseline: ReasonWindow {
            payer_denied: 200,
            ..ReasonWindow::default()
        },
        recent: ReasonWindow {
            payer_denied: 62,
            ..window(12, 3_000)
        },
        ..k()
    };
    let outcome = sound(with_history());
    let f = outcome.events().next().expect("a new reason");
    assert_eq!(f.kind, FindingKind::NewReason);
    assert!(f.p_value.expect("tested") < 1e-4);
    // $3,000 denied in 14 days → $6,428.57 a month: high.
    assert_eq!(f.severity_label, SeverityLabel::High);
}

#[test]
fn d2_old_rate_rule_on_the_uncoded_bucket() {
    // The old uncoded bucket also held paid claims: 100 rows/10 denied → 40 rows/8 denied.
    let bucket = |submitted, denied| ReasonWindow {
        legacy_submitted: submitted,
        ..window(denied, 0)
    };
    let outcome = compat(key("B", "UNSPECIFIED", bucket(100, 10), bucket(40, 8)));
    assert_eq!(
        events(&outcome),
        [(FindingKind::DenialRateSpike, SeverityLabel::Low, Some(1.0))]
    );
    assert_eq!(outcome.findings[0].delta, 0.1);
}

#[test]
fn d3_old_volume_rule_compares_raw_window_sums() {
    let outcome = compat(key("C", "CO-45", window(12, 0), window(18, 0)));
    assert_eq!(
        events(&outcome),
        [(
            FindingKind::DenialVolumeSpike,
            SeverityLabel::Medium,
            Some(0.75)
        )]
    );
    match &outcome.findings[0].evidence {
        Evidence::Volume {
            relative_change, ..
        } => assert_eq!(*relative_change, Some(0.5)),
        other => panic!("unexpected evidence {other:?}"),
    }
    // Per day that is 18/7 vs 12/21 — a 4.5× rate, which sound mode tests properly.
    let s = sound(key("C", "CO-45", window(12, 0), window(18, 0)));
    let volume = s
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::VolumeSpike);
    let volume = volume.expect("volume tested");
    assert!(volume.significant);
    // No amounts in this vector: money unknown, and a volume has no size floor.
    assert_eq!(volume.severity_label, SeverityLabel::Low);
}

#[test]
fn d4_fewer_recent_denials() {
    assert!(
        compat(key("C", "CO-45", window(30, 0), window(10, 0)))
            .findings
            .is_empty()
    );
    assert_eq!(
        sound(key("C", "CO-45", window(30, 0), window(10, 0)))
            .events()
            .count(),
        0
    );
}

#[test]
fn d5_absolute_dollars_only() {
    let outcome = compat(key("E", "CO-50", window(30, 150_000), window(10, 62_500)));
    assert_eq!(
        events(&outcome),
        [(
            FindingKind::DenialDollarsSpike,
            SeverityLabel::Low,
            Some(0.625)
        )]
    );
    match &outcome.findings[0].evidence {
        Evidence::Dollars {
            threshold_ratio,
            rules,
            relative_change,
            ..
        } => {
            assert_eq!(*threshold_ratio, 1.25);
            assert_eq!(rules, &[DollarRule::AboveThreshold]);
            assert!(relative_change.is_some_and(|r| r < 0.0));
        }
        other => panic!("unexpected evidence {other:?}"),
    }
    // Sound mode has no dollar threshold (a level, not a change): dollars set severity.
    let s = sound(key("E", "CO-50", window(30, 150_000), window(10, 62_500)));
    assert!(events(&s).is_empty());
}

#[test]
fn d6_both_old_dollars_rules_make_one_event() {
    let k = || key("F", "CO-16", window(20, 60_000), window(30, 150_000));
    let outcome = compat(k());
    let dollars: Vec<&Finding> = outcome
        .events()
        .filter(|f| f.kind == FindingKind::DenialDollarsSpike)
        .collect();
    assert_eq!(dollars.len(), 1);
    assert_eq!(dollars[0].severity_label, SeverityLabel::Critical);
    assert_eq!(dollars[0].confidence, Some(1.0));
    match &dollars[0].evidence {
        Evidence::Dollars { rules, .. } => {
            assert_eq!(
                rules,
                &[DollarRule::RelativeIncrease, DollarRule::AboveThreshold]
            );
        }
        other => panic!("unexpected evidence {other:?}"),
    }
    // 30 vs 20 denials is also the old volume rule's +50 % (as in D3).
    assert!(
        outcome
            .events()
            .any(|f| f.kind == FindingKind::DenialVolumeSpike)
    );

    // Sound: the rise is one volume finding whose money is the rise in denied dollars:
    // ($150,000/14 − $60,000/56) × 30 ≈ $289,286 a month — critical.
    let s = sound(k());
    let found: Vec<&Finding> = s.events().collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, FindingKind::VolumeSpike);
    assert_eq!(found[0].severity_label, SeverityLabel::Critical);
    let money = found[0].dollars_per_month.expect("amounts");
    assert!((money - (150_000.0 / 14.0 - 60_000.0 / 56.0) * 30.0).abs() < 1e-6);
}

#[test]
fn d7_just_below_threshold_and_volume() {
    let recent = ReasonWindow {
        denied_cents: 4_999_999,
        ..window(9, 0)
    };
    for outcome in [
        compat(key("G", "CO-4", ReasonWindow::default(), recent)),
        sound(key("G", "CO-4", ReasonWindow::default(), recent)),
    ] {
        assert!(outcome.findings.is_empty());
        assert_eq!(outcome.insufficient.len(), 1);
    }
}

#[test]
fn sound_share_spike_is_one_sided_with_bh_across_keys() {
    let share = |denied_b, decided_b, denied_r, decided_r| ReasonInput {
        baseline: ReasonWindow {
            payer_denied: decided_b,
            ..window(denied_b, 0)
        },
        recent: ReasonWindow {
            payer_denied: decided_r,
            ..window(denied_r, 0)
        },
        ..key("H", "", ReasonWindow::default(), ReasonWindow::default())
    };
    let keys = vec![
        // 2 % → 8 % of the payer's denials: a real increase.
        ReasonInput {
            reason: "CO-97".into(),
            ..share(30, 1500, 40, 500)
        },
        // 4 % → 2 %: a decrease is never a spike.
        ReasonInput {
            reason: "CO-18".into(),
            ..share(60, 1500, 10, 500)
        },
        // Same share: nothing.
        ReasonInput {
            reason: "CO-29".into(),
            ..share(45, 1500, 15, 500)
        },
    ];
    let outcome = denials_sound(&keys, &DenialSettings::default());
    let shares: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ReasonShareSpike)
        .collect();
    assert_eq!(shares.len(), 3);
    assert!(shares.iter().all(|f| f.q_value.is_some()));
    let significant: Vec<&str> = shares
        .iter()
        .filter(|f| f.significant)
        .map(|f| f.group.as_str())
        .collect();
    assert_eq!(significant, ["CO-97"]);
    // No amounts: money unknown, and a share change has no size floor.
    assert_eq!(shares[0].severity_label, SeverityLabel::Low);
    assert_eq!(shares[0].dollars_per_month, None);
    assert!(shares[1].p_value.is_some_and(|p| p > 0.9));
}

#[test]
fn sound_volume_needs_the_ratio_floor() {
    // 10 recent vs 21 baseline: per day 1.43 vs 1.0 — below the 1.5 floor whatever p says.
    let outcome = sound(key("I", "CO-11", window(21, 0), window(10, 0)));
    let volume = outcome
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::VolumeSpike);
    assert!(!volume.expect("tested").significant);
}

#[test]
fn zero_counts_never_panic() {
    let empty = key(
        "Z",
        "UNSPECIFIED",
        ReasonWindow::default(),
        ReasonWindow::default(),
    );
    let settings = DenialSettings {
        min_volume: 0,
        dollars_threshold_cents: 0,
        ..DenialSettings::default()
    };
    for outcome in [
        denials_sound(std::slice::from_ref(&empty), &settings),
        denials_compat(std::slice::from_ref(&empty), &settings),
    ] {
        assert!(outcome.findings.is_empty());
        assert_eq!(outcome.insufficient.len(), 1);
    }
}

/// Issue 17 item 3: a payer whose denial rate rose (11 % → 30 % of its decided claims) has
/// every reason's denials rise with it; no reason's share moved, so DenialScope raises
/// nothing — the change is DriftWatch's denial-rate finding. The same reason counts with
/// the payer's rate unchanged (more claims) still raise the volume finding.
#[test]
fn a_payer_wide_denial_rate_rise_is_not_a_reason_finding() {
    let payer_window = |decided: u64, denied: u64, reason: u64| ReasonWindow {
        denied: reason,
        denied_cents: reason as i64 * 20_000,
        payer_decided: decided,
        payer_denied: denied,
        legacy_submitted: reason,
    };
    // Four reasons with a quarter of the payer's denials each, in both windows.
    let keys = |recent_decided: u64, recent_denied: u64| -> Vec<ReasonInput> {
        ["CO-16", "CO-45", "CO-97", "CO-197"]
            .iter()
            .map(|r| {
                key(
                    "Cigna",
                    r,
                    payer_window(2_000, 220, 55),
                    payer_window(recent_decided, recent_denied, recent_denied / 4),
                )
            })
            .collect()
    };
    let rate_rise = denials_sound(&keys(500, 152), &DenialSettings::default());
    assert_eq!(rate_rise.events().count(), 0, "{:?}", events(&rate_rise));
    // Same reason counts, but the payer sent three times the claims at its old rate: the
    // reasons' volume rose on their own terms (one payer-level volume finding).
    let busier = denials_sound(&keys(1_380, 152), &DenialSettings::default());
    let found: Vec<&Finding> = busier.events().collect();
    assert_eq!(found.len(), 1, "{:?}", events(&busier));
    assert_eq!(found[0].kind, FindingKind::VolumeSpike);
}
