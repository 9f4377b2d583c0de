//! DenialScope compat mode: the old rules, reconstructed from ANALYTICS.md's D1–D7 (only
//! outcomes are documented there; each rule's doc says what was inferred). Old kind names are
//! kept for side-by-side comparison.

use super::{DenialSettings, ReasonInput, dollars_finding, finding, insufficient, ratio_tier};
use crate::domain::analytics::legacy::{old_rate_change, volume_confidence};
use crate::domain::analytics::{DollarRule, Evidence, Finding, FindingKind, Mode, RunOutcome};
use crate::domain::stats::{RateCounts, SeverityLabel};

/// The old rules over all keys of a run; returns only the rules that fired.
pub fn denials_compat(keys: &[ReasonInput], settings: &DenialSettings) -> RunOutcome {
    let mut outcome = RunOutcome {
        groups_considered: keys.len(),
        ..RunOutcome::default()
    };
    let confidence_base = settings.min_volume.saturating_mul(4);
    for k in keys {
        let before = outcome.findings.len();
        outcome.findings.extend(compat_new_reason(k, settings));
        outcome
            .findings
            .extend(compat_rate(k, settings, confidence_base));
        outcome
            .findings
            .extend(compat_volume(k, settings, confidence_base));
        outcome
            .findings
            .extend(compat_dollars(k, settings, confidence_base));
        // The old rate rule counts bucket rows, not denials, so a key with few denials can
        // still fire; only a key that fired nothing is reported as too small.
        if outcome.findings.len() == before
            && let Some(short) = insufficient(k, settings.min_volume)
        {
            outcome.insufficient.push(short);
        }
    }
    outcome
}

/// Old `new_denial_reason`: no rows in the baseline, ≥ min volume denials recently; the old
/// system always said high with confidence 0.8 (D1).
fn compat_new_reason(k: &ReasonInput, settings: &DenialSettings) -> Option<Finding> {
    let absent = k.baseline.denied == 0 && k.baseline.legacy_submitted == 0;
    // max(1): a zero minimum must not make "no denials at all" a new reason.
    (absent && k.recent.denied >= settings.min_volume.max(1)).then(|| {
        let evidence = Evidence::NewReason {
            recent_denials: k.recent.denied,
        };
        Finding {
            confidence: Some(0.8),
            ..finding(
                k,
                FindingKind::NewDenialReason,
                Mode::Compat,
                SeverityLabel::High,
                evidence,
            )
        }
    })
}

/// Old `denial_rate_spike` on the old buckets (coded reasons always had rate 1.0, so only the
/// uncoded bucket could fire): Δ ≥ 0.05 or Δ/p̂_b ≥ 0.5, increases only.
fn compat_rate(
    k: &ReasonInput,
    settings: &DenialSettings,
    confidence_base: u64,
) -> Option<Finding> {
    let (sub_b, sub_c) = (k.baseline.legacy_submitted, k.recent.legacy_submitted);
    if sub_b < settings.min_volume || sub_c < settings.min_volume {
        return None;
    }
    let change = old_rate_change(
        RateCounts::new(sub_b, k.baseline.denied),
        RateCounts::new(sub_c, k.recent.denied),
    )?;
    let fires = change.delta >= 0.05 || change.relative.is_some_and(|r| r >= 0.5);
    if !fires {
        return None;
    }
    let score = (change.delta * 2.0).min(1.0);
    let evidence = Evidence::Rate {
        method: None,
        z: None,
        baseline_interval: None,
        current_interval: None,
        relative_change: change.relative,
    };
    Some(Finding {
        baseline_value: change.p_b,
        current_value: change.p_c,
        delta: change.delta,
        score,
        severity_label: SeverityLabel::from_score(score),
        baseline_n: sub_b,
        current_n: sub_c,
        confidence: Some(volume_confidence(sub_b + sub_c, confidence_base)),
        ..finding(
            k,
            FindingKind::DenialRateSpike,
            Mode::Compat,
            SeverityLabel::Low,
            evidence,
        )
    })
}

/// `(recent − baseline) / baseline` in f64, as the old rules computed it (unnormalized sums).
fn old_relative_change(recent: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0).then(|| (recent - baseline) / baseline)
}

/// Old `denial_volume_spike`: the 7-day count vs the 21-day count, +50 %.
fn compat_volume(
    k: &ReasonInput,
    settings: &DenialSettings,
    confidence_base: u64,
) -> Option<Finding> {
    let (b, r) = (k.baseline.denied, k.recent.denied);
    if r < settings.min_volume {
        return None;
    }
    let relative = old_relative_change(r as f64, b as f64)?;
    if relative < 0.5 {
        return None;
    }
    let score = relative.min(1.0);
    let evidence = Evidence::Volume {
        baseline_denials: b,
        recent_denials: r,
        rate_ratio: None,
        relative_change: Some(relative),
    };
    Some(Finding {
        score,
        severity_label: SeverityLabel::from_score(score),
        confidence: Some(volume_confidence(b + r, confidence_base)),
        ..finding(
            k,
            FindingKind::DenialVolumeSpike,
            Mode::Compat,
            SeverityLabel::Low,
            evidence,
        )
    })
}

/// Old `denial_dollars_spike`, two rules: relative (+50 % over the 21-day sum, with min volume)
/// scored `min(change, 1)`, and absolute (≥ threshold) labelled by tiers with confidence
/// `min(ratio/2, 1)`. Both may fire for one key; one event is kept — the higher score, its
/// confidence, and both rules listed in the evidence.
fn compat_dollars(
    k: &ReasonInput,
    settings: &DenialSettings,
    confidence_base: u64,
) -> Option<Finding> {
    let (b, r) = (k.baseline.denied_cents, k.recent.denied_cents);
    let threshold = settings.dollars_threshold_cents;
    let relative = old_relative_change(r as f64, b as f64);
    let relative_fired = (k.recent.denied >= settings.min_volume)
        .then_some(relative)
        .flatten()
        .filter(|&change| change >= 0.5)
        .map(|change| {
            let score = change.min(1.0);
            let confidence =
                volume_confidence(k.baseline.denied + k.recent.denied, confidence_base);
            (score, SeverityLabel::from_score(score), confidence)
        });
    let threshold_ratio = if threshold > 0 {
        r as f64 / threshold as f64
    } else {
        0.0
    };
    let absolute_fired = (threshold > 0 && r >= threshold).then(|| {
        let label = ratio_tier(threshold_ratio);
        (
            label.representative_score(),
            label,
            (threshold_ratio / 2.0).min(1.0),
        )
    });
    let mut rules = Vec::new();
    if relative_fired.is_some() {
        rules.push(DollarRule::RelativeIncrease);
    }
    if absolute_fired.is_some() {
        rules.push(DollarRule::AboveThreshold);
    }
    let (score, label, confidence) = match (relative_fired, absolute_fired) {
        (Some(a), Some(b)) => {
            if b.0 > a.0 {
                b
            } else {
                a
            }
        }
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return None,
    };
    let evidence = Evidence::Dollars {
        baseline_cents: b,
        recent_cents: r,
        threshold_cents: threshold,
        threshold_ratio,
        relative_change: relative,
        rules,
    };
    Some(Finding {
        score,
        severity_label: label,
        confidence: Some(confidence),
        ..dollars_finding(
            k,
            FindingKind::DenialDollarsSpike,
            Mode::Compat,
            label,
            evidence,
        )
    })
}
