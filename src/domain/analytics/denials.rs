//! DenialScope decision rules per (payer, reason), recent 7 days vs baseline 21 days.
//!
//! Sound: `new_reason`, `reason_share_spike` (one-sided proportion test, BH), `volume_spike`
//! (per-day Poisson rate test, BH), `dollars_spike` (threshold). Compat: the old
//! `new_denial_reason`, `denial_rate_spike`, `denial_volume_spike` (7-day sum vs 21-day sum,
//! as the old rule compared them) and `denial_dollars_spike` — where the old system could
//! store two dollars rows for one key, PayerWatch stores one (events are unique per key).
//! Inputs, settings and the sound rules live here; the old rules in `denials/compat.rs`.

use serde::{Deserialize, Serialize};

use super::finding::apply_fdr;
use super::{
    Direction, DollarRule, Evidence, Finding, FindingKind, InsufficientGroup, Mode, Product,
    RunOutcome,
};
use crate::domain::stats::{
    Alternative, RateCounts, SeverityLabel, compare_proportions, newcombe_difference,
    poisson_rate_test, wilson_interval,
};

/// Reason of a denied claim: its code, else its text, else `UNSPECIFIED` (blank = absent).
pub fn reason_key(code: Option<&str>, text: Option<&str>) -> String {
    [code, text]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("UNSPECIFIED")
        .to_string()
}

/// One window of one (payer, reason) key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReasonWindow {
    /// Denied claims with this reason.
    pub denied: u64,
    /// Allowed amount of those denied claims, in cents.
    pub denied_cents: i64,
    /// Sound: the payer's decided (PAID + DENIED) claims in the window, the share's
    /// denominator.
    pub payer_decided: u64,
    /// Compat: the rows the old system put in this key's bucket — a coded reason's own
    /// denials; for the uncoded bucket also every paid claim. The old rate's denominator.
    pub legacy_submitted: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonInput {
    pub payer: String,
    pub reason: String,
    pub baseline: ReasonWindow,
    pub recent: ReasonWindow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenialSettings {
    /// Denials needed (recent for a new reason; both windows together for the tests).
    pub min_volume: u64,
    pub fdr_level: f64,
    /// Floor on the share increase (absolute, e.g. +0.02 = two points of decided claims).
    pub share_floor: f64,
    /// Floor on the per-day volume ratio.
    pub volume_ratio_floor: f64,
    /// Recent denied dollars that make a `dollars_spike` (per tenant), in cents.
    pub dollars_threshold_cents: i64,
    pub recent_days: u32,
    pub baseline_days: u32,
}

impl Default for DenialSettings {
    fn default() -> Self {
        Self {
            min_volume: 10,
            fdr_level: 0.05,
            share_floor: 0.02,
            volume_ratio_floor: 1.5,
            dollars_threshold_cents: 5_000_000,
            recent_days: 7,
            baseline_days: 21,
        }
    }
}

/// Severity of a "how many times" ratio: ≥ 3× critical, ≥ 2× high, ≥ 1.5× medium, else low.
/// ANALYTICS.md gives these tiers for dollars; sound mode uses them for every DenialScope
/// ratio so one scale reads the same across its signals.
fn ratio_tier(ratio: f64) -> SeverityLabel {
    SeverityLabel::tier(ratio, [1.5, 2.0, 3.0])
}

fn cents_to_dollars(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// Too few denials in both windows together for any count-based signal (the dollars
/// threshold still applies: it is its own gate).
fn insufficient(k: &ReasonInput, min_volume: u64) -> Option<InsufficientGroup> {
    let total = k.baseline.denied + k.recent.denied;
    (total < min_volume || total == 0).then(|| InsufficientGroup {
        payer: k.payer.clone(),
        group: k.reason.clone(),
        baseline_n: k.baseline.denied,
        current_n: k.recent.denied,
        reason: format!("{total} denials in both windows; at least {min_volume} needed"),
    })
}

fn finding(
    k: &ReasonInput,
    kind: FindingKind,
    mode: Mode,
    label: SeverityLabel,
    evidence: Evidence,
) -> Finding {
    Finding {
        product: Product::DenialScope,
        mode,
        kind,
        payer: k.payer.clone(),
        group: k.reason.clone(),
        direction: Direction::Worse,
        baseline_value: k.baseline.denied as f64,
        current_value: k.recent.denied as f64,
        delta: k.recent.denied as f64 - k.baseline.denied as f64,
        ci_low: None,
        ci_high: None,
        p_value: None,
        q_value: None,
        score: label.representative_score(),
        severity_label: label,
        baseline_n: k.baseline.denied,
        current_n: k.recent.denied,
        confidence: None,
        significant: true,
        evidence,
    }
}

pub fn denials_sound(keys: &[ReasonInput], settings: &DenialSettings) -> RunOutcome {
    let mut outcome = RunOutcome {
        groups_considered: keys.len(),
        ..RunOutcome::default()
    };
    let mut shares = Vec::new();
    let mut volumes = Vec::new();
    for k in keys {
        match insufficient(k, settings.min_volume) {
            Some(short) => outcome.insufficient.push(short),
            // A reason absent from the baseline is the new-reason signal's territory; testing
            // its share or volume too would report one surge three times.
            None if k.baseline.denied == 0 => {
                outcome.findings.extend(sound_new_reason(k, settings));
            }
            None => {
                shares.extend(sound_share(k, settings));
                volumes.extend(sound_volume(k, settings));
            }
        }
        outcome.findings.extend(dollars_spike(k, settings));
    }
    apply_fdr(&mut shares, settings.fdr_level, |f| {
        f.delta >= settings.share_floor
    });
    apply_fdr(&mut volumes, settings.fdr_level, |f| match f.evidence {
        Evidence::Volume { rate_ratio, .. } => {
            rate_ratio.is_some_and(|r| r >= settings.volume_ratio_floor)
        }
        _ => false,
    });
    outcome.findings.append(&mut shares);
    outcome.findings.append(&mut volumes);
    outcome
}

fn sound_new_reason(k: &ReasonInput, settings: &DenialSettings) -> Option<Finding> {
    (k.baseline.denied == 0 && k.recent.denied >= settings.min_volume.max(1)).then(|| {
        let evidence = Evidence::NewReason {
            recent_denials: k.recent.denied,
        };
        finding(
            k,
            FindingKind::NewReason,
            Mode::Sound,
            SeverityLabel::High,
            evidence,
        )
    })
}

/// Share of the payer's decided claims denied for this reason; one-sided (increases).
fn sound_share(k: &ReasonInput, settings: &DenialSettings) -> Option<Finding> {
    let (b, c) = (&k.baseline, &k.recent);
    if b.payer_decided < settings.min_volume || c.payer_decided < settings.min_volume {
        return None;
    }
    let (base, recent) = (
        RateCounts::new(b.payer_decided, b.denied),
        RateCounts::new(c.payer_decided, c.denied),
    );
    let (s_b, s_c) = (base.rate()?, recent.rate()?);
    let test = compare_proportions(base, recent, Alternative::Greater)?;
    let ci = newcombe_difference(base, recent);
    let delta = s_c - s_b;
    let label = if s_b > 0.0 {
        ratio_tier(s_c / s_b)
    } else {
        SeverityLabel::Critical
    };
    let evidence = Evidence::Rate {
        method: Some(test.method),
        z: test.z,
        baseline_interval: wilson_interval(base),
        current_interval: wilson_interval(recent),
        relative_change: (s_b > 0.0).then(|| delta / s_b),
    };
    Some(Finding {
        direction: Direction::of_delta(delta),
        baseline_value: s_b,
        current_value: s_c,
        delta,
        ci_low: ci.map(|i| i.low),
        ci_high: ci.map(|i| i.high),
        p_value: Some(test.p_value),
        significant: false,
        baseline_n: b.payer_decided,
        current_n: c.payer_decided,
        ..finding(
            k,
            FindingKind::ReasonShareSpike,
            Mode::Sound,
            label,
            evidence,
        )
    })
}

/// Denials per day, recent vs baseline (normalized by window length).
fn sound_volume(k: &ReasonInput, settings: &DenialSettings) -> Option<Finding> {
    let (r, b) = (k.recent.denied, k.baseline.denied);
    let test = poisson_rate_test(r, settings.recent_days, b, settings.baseline_days)?;
    let per_day_b = b as f64 / f64::from(settings.baseline_days);
    let per_day_r = r as f64 / f64::from(settings.recent_days);
    let label = test.rate_ratio.map_or(SeverityLabel::Critical, ratio_tier);
    let evidence = Evidence::Volume {
        baseline_denials: b,
        recent_denials: r,
        rate_ratio: test.rate_ratio,
        relative_change: None,
    };
    Some(Finding {
        direction: Direction::of_delta(per_day_r - per_day_b),
        baseline_value: per_day_b,
        current_value: per_day_r,
        delta: per_day_r - per_day_b,
        p_value: Some(test.p_value),
        significant: false,
        ..finding(k, FindingKind::VolumeSpike, Mode::Sound, label, evidence)
    })
}

/// Sound `dollars_spike`: recent denied dollars ≥ threshold, severity by recent ÷ threshold.
fn dollars_spike(k: &ReasonInput, settings: &DenialSettings) -> Option<Finding> {
    let threshold = settings.dollars_threshold_cents;
    let recent = k.recent.denied_cents;
    // A non-positive threshold means the tenant switched the signal off.
    if threshold <= 0 || recent < threshold {
        return None;
    }
    let ratio = recent as f64 / threshold as f64;
    let evidence = Evidence::Dollars {
        baseline_cents: k.baseline.denied_cents,
        recent_cents: recent,
        threshold_cents: threshold,
        threshold_ratio: ratio,
        relative_change: None,
        rules: vec![DollarRule::AboveThreshold],
    };
    Some(dollars_finding(
        k,
        FindingKind::DollarsSpike,
        Mode::Sound,
        ratio_tier(ratio),
        evidence,
    ))
}

fn dollars_finding(
    k: &ReasonInput,
    kind: FindingKind,
    mode: Mode,
    label: SeverityLabel,
    evidence: Evidence,
) -> Finding {
    let (b, r) = (
        cents_to_dollars(k.baseline.denied_cents),
        cents_to_dollars(k.recent.denied_cents),
    );
    Finding {
        baseline_value: b,
        current_value: r,
        delta: r - b,
        ..finding(k, kind, mode, label, evidence)
    }
}

mod compat;
pub use compat::denials_compat;

#[cfg(test)]
mod tests;
