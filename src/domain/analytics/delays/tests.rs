//! ANALYTICS.md's DelayGuard compat vectors G1–G6, and the sound rule on the same payers.

use super::*;

/// Baseline and current as (claims, days) blocks; the old inputs of G1: 10 daily rows,
/// $10,000 allowed, complete data.
fn payer(baseline: &[(u64, i64)], current: &[(u64, i64)]) -> PayerDelayInput {
    let hist = |blocks: &[(u64, i64)]| Histogram::new(blocks.iter().map(|&(n, d)| (d, n)));
    PayerDelayInput {
        payer: "P".into(),
        baseline_days: hist(baseline),
        current_days: hist(current),
        current_allowed_cents: 1_000_000,
        current_daily_rows: 10,
        completeness: 1.0,
    }
}

fn compat(p: PayerDelayInput) -> RunOutcome {
    delays_compat(&[p], &DelaySettings::default())
}

fn sound(p: PayerDelayInput) -> RunOutcome {
    delays_sound(&[p], &[], &DelaySettings::default())
}

fn only(outcome: &RunOutcome) -> &Finding {
    assert_eq!(outcome.findings.len(), 1, "{outcome:?}");
    &outcome.findings[0]
}

fn slowdown_numbers(f: &Finding) -> (Option<f64>, Option<f64>) {
    match &f.evidence {
        Evidence::Slowdown {
            percent_change,
            dollars_at_risk,
            ..
        } => (*percent_change, *dollars_at_risk),
        other => panic!("unexpected evidence {other:?}"),
    }
}

#[test]
fn g1_high_slowdown() {
    let p = || payer(&[(40, 20)], &[(20, 27)]);
    let c = compat(p());
    let f = only(&c);
    assert_eq!(f.delta, 7.0);
    assert_eq!(f.confidence, Some(1.0));
    assert_eq!(f.severity_label, SeverityLabel::High);
    assert_eq!(slowdown_numbers(f), (Some(35.0), Some(7000.0)));

    let s = sound(p());
    let f = only(&s);
    assert!(f.significant);
    assert_eq!(f.delta, 7.0);
    assert_eq!(f.severity_label, SeverityLabel::High);
    // Sound dollars at risk: $10,000 / 14 days × 7 days.
    assert_eq!(slowdown_numbers(f).1, Some(5000.0));
}

#[test]
fn g2_nine_current_claims_are_insufficient() {
    for outcome in [
        compat(payer(&[(40, 20)], &[(9, 30)])),
        sound(payer(&[(40, 20)], &[(9, 30)])),
    ] {
        assert!(outcome.findings.is_empty());
        assert_eq!(outcome.insufficient.len(), 1);
    }
}

#[test]
fn g3_small_slowdowns() {
    // G3a: Δ 1.5 is low and < 2 → skipped.
    assert!(
        compat(payer(&[(40, 20)], &[(10, 21), (10, 22)]))
            .findings
            .is_empty()
    );
    assert_eq!(
        sound(payer(&[(40, 20)], &[(10, 21), (10, 22)]))
            .events()
            .count(),
        0
    );
    // G3b: Δ 2.5 → low, kept.
    let c = compat(payer(&[(40, 20)], &[(10, 22), (10, 23)]));
    let f = only(&c);
    assert_eq!(f.delta, 2.5);
    assert_eq!(
        (f.severity_label, f.confidence),
        (SeverityLabel::Low, Some(1.0))
    );
}

#[test]
fn g4_confidence_just_below_high() {
    let p = || PayerDelayInput {
        current_allowed_cents: 500_000,
        current_daily_rows: 5,
        ..payer(&[(10, 20)], &[(10, 32)])
    };
    let c = compat(p());
    let f = only(&c);
    assert_eq!(f.confidence, Some(0.6499999999999999));
    assert_eq!(f.severity_label, SeverityLabel::Medium);
    assert_eq!(f.delta, 12.0);
    assert_eq!(slowdown_numbers(f), (Some(60.0), Some(12000.0)));
    // Sound labels by money with a size floor: $5,000 over 14 days × 12 days ≈ $4,286 held
    // up is medium by money, but a shift ≥ 10 days is at least high.
    let s = sound(p());
    let f = only(&s);
    assert_eq!(f.severity_label, SeverityLabel::High);
    let money = f.dollars_per_month.expect("amounts");
    assert!((money - 5_000.0 / 14.0 * 12.0).abs() < 1e-6, "{money}");
}

#[test]
fn g5_faster_is_not_a_slowdown() {
    assert!(compat(payer(&[(40, 20)], &[(20, 15)])).findings.is_empty());
    let s = sound(payer(&[(40, 20)], &[(20, 15)]));
    assert!(!only(&s).significant);
    assert!(only(&s).p_value.is_some_and(|p| p > 0.99));
}

#[test]
fn g6_critical_slowdown() {
    let c = compat(payer(&[(40, 20)], &[(20, 31)]));
    let f = only(&c);
    assert_eq!(f.delta, 11.0);
    assert_eq!(f.severity_label, SeverityLabel::Critical);
    assert_eq!(slowdown_numbers(f).0, Some(55.00000000000001));
}

#[test]
fn sound_bh_runs_across_payers() {
    let payers = vec![
        PayerDelayInput {
            payer: "slow".into(),
            ..payer(&[(40, 20)], &[(20, 31)])
        },
        PayerDelayInput {
            payer: "steady".into(),
            ..payer(&[(20, 20), (20, 21)], &[(10, 20), (10, 21)])
        },
    ];
    let outcome = delays_sound(&payers, &[], &DelaySettings::default());
    let events: Vec<&str> = outcome.events().map(|f| f.payer.as_str()).collect();
    assert_eq!(events, ["slow"]);
    assert!(outcome.findings.iter().all(|f| f.q_value.is_some()));
}

#[test]
fn zero_rows_and_empty_histograms_never_panic() {
    let empty = PayerDelayInput {
        current_daily_rows: 0,
        ..payer(&[], &[])
    };
    let settings = DelaySettings {
        min_claims: 0,
        current_days: 0,
        ..DelaySettings::default()
    };
    for outcome in [
        delays_sound(std::slice::from_ref(&empty), &[], &settings),
        delays_compat(std::slice::from_ref(&empty), &settings),
    ] {
        assert!(outcome.findings.is_empty());
        assert_eq!(outcome.insufficient.len(), 1);
    }
    // No daily rows: the old dollars at risk is undefined, not a division by zero.
    let no_rows = PayerDelayInput {
        current_daily_rows: 0,
        ..payer(&[(40, 20)], &[(20, 27)])
    };
    assert_eq!(slowdown_numbers(only(&compat(no_rows))).1, None);
}
