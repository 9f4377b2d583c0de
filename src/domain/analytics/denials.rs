//! DenialScope decision rules per (payer, reason).
//!
//! Sound (recent 14 days vs the 56 before): `new_reason` (Fisher on the share, baseline 0),
//! `reason_share_spike` (the reason's share of the payer's **denials**, one-sided), and
//! `volume_spike` (per-day Poisson rate test) — one BH family; money sets the label. A
//! volume rise of a key whose share also rose is the same change and attaches to it; the
//! same signal in ≥ 2 reasons of a payer is one payer-level finding. Compat (recent 7 days
//! vs 21): the old
//! `new_denial_reason`, `denial_rate_spike`, `denial_volume_spike` (7-day sum vs 21-day sum,
//! as the old rule compared them) and `denial_dollars_spike` — where the old system could
//! store two dollars rows for one key, PayerWatch stores one (events are unique per key).
//! Inputs, settings and the sound rules live here; the old rules in `denials/compat.rs`.

use serde::{Deserialize, Serialize};

use super::finding::apply_fdr;
use super::grouping;
use super::impact::{self, ChangeSize};
use super::{
    Direction, Evidence, Finding, FindingKind, InsufficientGroup, Mode, Product, RunOutcome,
};
use crate::domain::stats::{
    Alternative, RateCounts, SeverityLabel, compare_proportions, newcombe_difference,
    poisson_rate_test, wilson_interval,
};

/// Reason of a denied claim: its code, else its text, else `UNSPECIFIED` (blank = absent).
pub fn reason_key(code: Option<&str>, text: Option<&str>) -> String {
    reason_key_str(code, text).to_string()
}

/// [`reason_key`] without the allocation (the ingest's rollup upkeep runs it per denied
/// claim).
pub fn reason_key_str<'a>(code: Option<&'a str>, text: Option<&'a str>) -> &'a str {
    [code, text]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("UNSPECIFIED")
}

/// One window of one (payer, reason) key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReasonWindow {
    /// Denied claims with this reason.
    pub denied: u64,
    /// Allowed amount of those denied claims, in cents.
    pub denied_cents: i64,
    /// The payer's decided (PAID + DENIED) claims in the window.
    pub payer_decided: u64,
    /// Sound: the payer's denials in the window, the share's denominator.
    #[serde(default)]
    pub payer_denied: u64,
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
    /// Floor on the share increase (absolute, e.g. +0.05 = five points of the payer's
    /// denials).
    pub share_floor: f64,
    /// Floor on the per-day volume ratio.
    pub volume_ratio_floor: f64,
    /// Recent denied dollars that make a `dollars_spike` (per tenant), in cents.
    pub dollars_threshold_cents: i64,
    /// Sound windows (compat's are fixed at 7 and 21 days by `windows`).
    pub recent_days: u32,
    pub baseline_days: u32,
}

impl Default for DenialSettings {
    fn default() -> Self {
        Self {
            min_volume: 10,
            fdr_level: 0.05,
            share_floor: 0.05,
            volume_ratio_floor: 1.5,
            dollars_threshold_cents: 5_000_000,
            recent_days: 14,
            baseline_days: 56,
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
        dollars_per_month: None,
        group_members: Vec::new(),
        evidence,
    }
}

pub fn denials_sound(keys: &[ReasonInput], settings: &DenialSettings) -> RunOutcome {
    let mut outcome = RunOutcome {
        groups_considered: keys.len(),
        ..RunOutcome::default()
    };
    let mut family = Vec::new();
    let spill_over = payers_whose_denial_rate_rose(keys);
    for k in keys {
        match insufficient(k, settings.min_volume) {
            Some(short) => outcome.insufficient.push(short),
            // A reason absent from the baseline is the new-reason signal's territory; testing
            // its share or volume too would report one surge three times.
            None if k.baseline.denied == 0 => family.extend(sound_new_reason(k, settings)),
            None => {
                family.extend(sound_share(k, settings));
                // Not tested at all (rather than dropped after the FDR step): a batch of
                // tiny p-values from one payer-wide change would loosen the BH threshold
                // for every other test of the run.
                if !spill_over.contains(k.payer.as_str()) {
                    family.extend(sound_volume(k, settings));
                }
            }
        }
    }
    apply_fdr(&mut family, settings.fdr_level, |f| match &f.evidence {
        Evidence::Volume { rate_ratio, .. } => {
            rate_ratio.is_some_and(|r| r >= settings.volume_ratio_floor)
        }
        Evidence::NewReason { recent_denials } => *recent_denials >= settings.min_volume,
        _ => f.delta >= settings.share_floor,
    });
    let by_key: std::collections::HashMap<(&str, &str), &ReasonInput> = keys
        .iter()
        .map(|k| ((k.payer.as_str(), k.reason.as_str()), k))
        .collect();
    for f in &mut family {
        let Some(k) = by_key.get(&(f.payer.as_str(), f.group.as_str())) else {
            continue;
        };
        let money = impact::surge_per_month(
            k.recent.denied_cents,
            settings.recent_days,
            k.baseline.denied_cents,
            settings.baseline_days,
        );
        f.dollars_per_month = money;
        f.severity_label = impact::severity(money, ChangeSize::Other);
        f.score = f.severity_label.representative_score();
    }
    attach_volume_to_share(&mut family);
    outcome.findings = grouping::by_payer(family);
    outcome
}

/// A key whose share rose and whose volume rose is one change: the share finding carries it.
fn attach_volume_to_share(family: &mut [Finding]) {
    let shares: std::collections::HashSet<(String, String)> = family
        .iter()
        .filter(|f| f.significant && f.kind != FindingKind::VolumeSpike)
        .map(|f| (f.payer.clone(), f.group.clone()))
        .collect();
    for f in family.iter_mut() {
        if f.kind == FindingKind::VolumeSpike
            && shares.contains(&(f.payer.clone(), f.group.clone()))
        {
            f.significant = false;
        }
    }
}

/// One change, one finding (issue 17 item 3): when a payer's denial **rate** rose, every
/// reason's denial count rises with it, and the per-day volume test flags reasons whose
/// share of the payer's denials did not move. Such a volume rise is the payer's rate
/// change — DriftWatch's denial-rate finding for that payer — not a reason's. So when the
/// payer's denial rate rose (one-sided test, p < 0.01) its reasons' volumes are not
/// tested: what is reason-specific in such a rise is the reason's share of the payer's
/// denials, which the share test judges. (A first version kept volumes rising more than
/// `volume_ratio_floor` × the payer's own denial-volume ratio; on gen_claims.py drift
/// files chance plus the rate rise still crossed that.) Share and new-reason tests are
/// untouched, as are volume rises of a payer whose rate did not rise (more claims).
fn payers_whose_denial_rate_rose(keys: &[ReasonInput]) -> std::collections::HashSet<&str> {
    let mut seen = std::collections::HashSet::new();
    let mut rose = std::collections::HashSet::new();
    // The payer-level counts are the same on every key of the payer.
    for k in keys.iter().filter(|k| seen.insert(k.payer.as_str())) {
        let (b, r) = (&k.baseline, &k.recent);
        if b.payer_decided == 0 || r.payer_decided == 0 {
            continue;
        }
        let test = compare_proportions(
            RateCounts::new(b.payer_decided, b.payer_denied.min(b.payer_decided)),
            RateCounts::new(r.payer_decided, r.payer_denied.min(r.payer_decided)),
            Alternative::Greater,
        );
        if test.is_some_and(|t| t.p_value < 0.01) {
            rose.insert(k.payer.as_str());
        }
    }
    rose
}

/// A reason absent from the baseline: its share of the payer's denials rose from 0 —
/// Fisher's exact test on the counts (tested, not raised on volume alone).
fn sound_new_reason(k: &ReasonInput, settings: &DenialSettings) -> Option<Finding> {
    if k.recent.denied < settings.min_volume.max(1) {
        return None;
    }
    let (b, c) = (&k.baseline, &k.recent);
    let base = RateCounts::new(b.payer_denied, 0);
    let recent = RateCounts::new(c.payer_denied.max(c.denied), c.denied);
    let test = compare_proportions(base, recent, Alternative::Greater)?;
    let share = recent.rate()?;
    let evidence = Evidence::NewReason {
        recent_denials: k.recent.denied,
    };
    Some(Finding {
        baseline_value: 0.0,
        current_value: share,
        delta: share,
        p_value: Some(test.p_value),
        significant: false,
        baseline_n: b.payer_denied,
        current_n: recent.n,
        ..finding(
            k,
            FindingKind::NewReason,
            Mode::Sound,
            SeverityLabel::Low,
            evidence,
        )
    })
}

/// The reason's share of the payer's denials; one-sided (increases). Among denials, not
/// among all claims: a payer denying more of everything leaves every share where it was.
fn sound_share(k: &ReasonInput, settings: &DenialSettings) -> Option<Finding> {
    let (b, c) = (&k.baseline, &k.recent);
    if b.payer_denied < settings.min_volume || c.payer_denied < settings.min_volume {
        return None;
    }
    let (base, recent) = (
        RateCounts::new(b.payer_denied, b.denied),
        RateCounts::new(c.payer_denied, c.denied),
    );
    let (s_b, s_c) = (base.rate()?, recent.rate()?);
    let test = compare_proportions(base, recent, Alternative::Greater)?;
    let ci = newcombe_difference(base, recent);
    let delta = s_c - s_b;
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
        baseline_n: b.payer_denied,
        current_n: c.payer_denied,
        ..finding(
            k,
            FindingKind::ReasonShareSpike,
            Mode::Sound,
            SeverityLabel::Low,
            evidence,
        )
    })
}

/// Denials per day, recent vs baseline (normalized by window length); one-sided.
fn sound_volume(k: &ReasonInput, settings: &DenialSettings) -> Option<Finding> {
    let (r, b) = (k.recent.denied, k.baseline.denied);
    let test = poisson_rate_test(r, settings.recent_days, b, settings.baseline_days)?;
    let per_day_b = b as f64 / f64::from(settings.baseline_days);
    let per_day_r = r as f64 / f64::from(settings.recent_days);
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
        ..finding(
            k,
            FindingKind::VolumeSpike,
            Mode::Sound,
            SeverityLabel::Low,
            evidence,
        )
    })
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
