//! ANALYTICS.md's trend vectors T1–T6 (weekly values; claims per week).

use super::*;

fn payer(weekly_days: &[i64], claims_per_week: u64) -> PayerTrendInput {
    PayerTrendInput {
        payer: "P".into(),
        weeks: weekly_days
            .iter()
            .map(|&d| Histogram::new([(d, claims_per_week)]))
            .collect(),
    }
}

/// The one event's label and rise, if any.
type Event = Option<(SeverityLabel, f64)>;

fn label(outcome: &RunOutcome) -> Event {
    let mut events = outcome.events();
    let first = events.next().map(|f| (f.severity_label, f.delta));
    assert!(events.next().is_none());
    first
}

fn compat(p: PayerTrendInput) -> Event {
    label(&trend_compat(&[p], &TrendSettings::default()))
}

#[test]
fn t1_steady_rise_is_medium_in_both_modes() {
    let compat = compat(payer(&[45, 47, 50, 52], 25));
    assert_eq!(compat, Some((SeverityLabel::Medium, 7.0)));
}

#[test]
fn t2_total_rise_rule_without_consecutive_increases() {
    let p = payer(&[40, 44, 43, 48], 10);
    let outcome = trend_compat(std::slice::from_ref(&p), &TrendSettings::default());
    match &outcome.findings[0].evidence {
        Evidence::Trend { rules, .. } => assert_eq!(rules, &[TrendRule::TotalRise]),
        other => panic!("unexpected evidence {other:?}"),
    }
    // ANALYTICS.md's "low" is the old ladder (10 claims a week give confidence 0.23).
    assert_eq!(compat(p), Some((SeverityLabel::Low, 8.0)));
}

#[test]
fn t3_critical_unreachable_in_compat_mode() {
    assert_eq!(
        compat(payer(&[30, 34, 40, 46], 30)),
        Some((SeverityLabel::High, 16.0))
    );
}

#[test]
fn t4_flat_is_nothing() {
    assert_eq!(compat(payer(&[45, 45, 45, 45], 25)), None);
}

#[test]
fn t5_a_thin_week_is_insufficient() {
    let mut p = payer(&[45, 47, 50, 52], 25);
    p.weeks[2] = Histogram::new([(50, 4)]);
    let outcome = trend_compat(std::slice::from_ref(&p), &TrendSettings::default());
    assert!(outcome.findings.is_empty());
    assert_eq!(outcome.insufficient.len(), 1);
    assert_eq!(compat(p), None);
}

#[test]
fn t6_improving_is_nothing() {
    assert_eq!(compat(payer(&[50, 47, 45, 44], 25)), None);
}

#[test]
fn compat_confidence_never_reaches_critical() {
    assert_eq!(compat_confidence(&[1000; 4]), 0.7);
    assert!(compat_confidence(&[25; 4]) < 0.65);
}

#[test]
fn consecutive_increases_that_end_lower_are_not_worsening() {
    assert_eq!(compat(payer(&[50, 40, 41, 42], 25)), None);
}

#[test]
fn missing_weeks_never_panic() {
    let outcome = trend_compat(
        &[payer(&[], 0), payer(&[40, 50], 25)],
        &TrendSettings::default(),
    );
    assert!(outcome.findings.is_empty());
    assert_eq!(outcome.insufficient.len(), 2);
}
