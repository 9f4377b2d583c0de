//! DriftWatch decision rules: denial rate and decision time per (payer, CPT group), baseline
//! 90 days vs current 14 days, in sound mode (tests + BH + floors + intervals) and compat
//! mode (the old absolute/relative rules, f64 operations in the old order).

use serde::{Deserialize, Serialize};

use super::finding::apply_fdr;
use super::grouping;
use super::impact::{self, ChangeSize};
use super::legacy::{old_rate_change, volume_confidence};
use super::{
    Direction, Evidence, Finding, FindingKind, InsufficientGroup, Mode, Product, RunOutcome,
};
use crate::domain::stats::{
    Alternative, Histogram, RateCounts, SeverityLabel, compare_proportions, hodges_lehmann_shift,
    mann_whitney, newcombe_difference, wilson_interval,
};

/// One (payer, CPT group) of a run. Counts are PAID + DENIED only (OTHER never enters a
/// rate); the histograms are decision days of the same claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftGroupInput {
    pub payer: String,
    pub cpt_group: String,
    pub baseline: RateCounts,
    pub current: RateCounts,
    pub baseline_days: Histogram,
    pub current_days: Histogram,
    /// Allowed amount of the current window's decided claims, in cents (money at stake).
    #[serde(default)]
    pub current_allowed_cents: i64,
}

/// Tenant settings; `Default` is ANALYTICS.md's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftSettings {
    /// Claims needed in each window (both modes).
    pub min_volume: u64,
    /// BH level: significant iff q ≤ this.
    pub fdr_level: f64,
    /// |Δ rate| floor.
    pub rate_floor: f64,
    /// Decision-time floor in days …
    pub shift_floor_days: f64,
    /// … or as a fraction of the baseline median.
    pub shift_floor_fraction: f64,
    /// Length of the current window in days (money per 30 days).
    pub current_days: u32,
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self {
            min_volume: 30,
            fdr_level: 0.05,
            rate_floor: 0.05,
            shift_floor_days: 3.0,
            shift_floor_fraction: 0.2,
            current_days: 14,
        }
    }
}

/// Sound mode: every sufficient group gets a rate test and (when it has decision days) a
/// Mann–Whitney test; all of them are one BH family (the run's). Significant findings get
/// their money and label; a payer whose change shows in ≥ 2 CPT groups becomes one
/// payer-level finding (`grouping`).
pub fn drift_sound(groups: &[DriftGroupInput], settings: &DriftSettings) -> RunOutcome {
    let (sufficient, insufficient) = split_by_volume(groups, settings.min_volume);
    let mut family: Vec<Finding> = sufficient.iter().filter_map(|g| sound_rate(g)).collect();
    family.extend(sufficient.iter().filter_map(|g| sound_time(g)));
    apply_fdr(&mut family, settings.fdr_level, |f| match f.kind {
        FindingKind::DenialRate => f.delta.abs() >= settings.rate_floor,
        _ => {
            let shift = f.delta.abs();
            // A zero baseline median would make the relative floor accept any shift, even 0.
            shift >= settings.shift_floor_days
                || (f.baseline_value > 0.0
                    && shift > 0.0
                    && shift >= settings.shift_floor_fraction * f.baseline_value)
        }
    });
    let allowed: std::collections::HashMap<(&str, &str), i64> = sufficient
        .iter()
        .map(|g| {
            (
                (g.payer.as_str(), g.cpt_group.as_str()),
                g.current_allowed_cents,
            )
        })
        .collect();
    for f in &mut family {
        let cents = allowed
            .get(&(f.payer.as_str(), f.group.as_str()))
            .copied()
            .unwrap_or(0);
        let (money, size) = match f.kind {
            FindingKind::DenialRate => (
                impact::rate_change_per_month(f.delta, cents, settings.current_days),
                ChangeSize::Rate(f.delta),
            ),
            _ => (
                impact::cash_held_up(cents, settings.current_days, f.delta),
                ChangeSize::Days(f.delta),
            ),
        };
        f.dollars_per_month = money;
        f.severity_label = impact::severity(money, size);
        f.score = f.severity_label.representative_score();
    }
    RunOutcome {
        groups_considered: groups.len(),
        insufficient,
        findings: grouping::by_payer(family),
    }
}

/// Compat mode: the old rules, returning only the rules that fired. Of the settings only
/// `min_volume` applies (it also sets the old confidence denominator, `min_volume·4`); the
/// old thresholds are fixed.
pub fn drift_compat(groups: &[DriftGroupInput], settings: &DriftSettings) -> RunOutcome {
    let (sufficient, insufficient) = split_by_volume(groups, settings.min_volume);
    let confidence_base = settings.min_volume.saturating_mul(4);
    let mut findings: Vec<Finding> = sufficient
        .iter()
        .filter_map(|g| compat_rate(g, confidence_base))
        .collect();
    findings.extend(
        sufficient
            .iter()
            .filter_map(|g| compat_time(g, confidence_base)),
    );
    RunOutcome {
        groups_considered: groups.len(),
        insufficient,
        findings,
    }
}

fn split_by_volume(
    groups: &[DriftGroupInput],
    min_volume: u64,
) -> (Vec<&DriftGroupInput>, Vec<InsufficientGroup>) {
    InsufficientGroup::split_by_volume(groups, min_volume, "claims", |g| {
        (&g.payer, &g.cpt_group, g.baseline.n, g.current.n)
    })
}

fn finding(g: &DriftGroupInput, kind: FindingKind, mode: Mode, evidence: Evidence) -> Finding {
    Finding {
        product: Product::DriftWatch,
        mode,
        kind,
        payer: g.payer.clone(),
        group: g.cpt_group.clone(),
        direction: Direction::Better,
        baseline_value: 0.0,
        current_value: 0.0,
        delta: 0.0,
        ci_low: None,
        ci_high: None,
        p_value: None,
        q_value: None,
        score: 0.0,
        severity_label: SeverityLabel::Low,
        baseline_n: g.baseline.n,
        current_n: g.current.n,
        confidence: None,
        significant: false,
        dollars_per_month: None,
        group_members: Vec::new(),
        evidence,
    }
}

fn sound_rate(g: &DriftGroupInput) -> Option<Finding> {
    let (p_b, p_c) = (g.baseline.rate()?, g.current.rate()?);
    let test = compare_proportions(g.baseline, g.current, Alternative::TwoSided)?;
    let ci = newcombe_difference(g.baseline, g.current);
    let delta = p_c - p_b;
    let evidence = Evidence::Rate {
        method: Some(test.method),
        z: test.z,
        baseline_interval: wilson_interval(g.baseline),
        current_interval: wilson_interval(g.current),
        relative_change: (p_b > 0.0).then(|| delta / p_b),
    };
    Some(Finding {
        direction: Direction::of_delta(delta),
        baseline_value: p_b,
        current_value: p_c,
        delta,
        ci_low: ci.map(|c| c.low),
        ci_high: ci.map(|c| c.high),
        p_value: Some(test.p_value),
        ..finding(g, FindingKind::DenialRate, Mode::Sound, evidence)
    })
}

fn sound_time(g: &DriftGroupInput) -> Option<Finding> {
    let (b, c) = (&g.baseline_days, &g.current_days);
    // Every claim decided in the same number of days: the test cannot reject whatever the
    // data, so it would only dilute the run's family.
    if let ([(day_b, _)], [(day_c, _)]) = (b.bins(), c.bins())
        && day_b == day_c
    {
        return None;
    }
    let test = mann_whitney(b, c, Alternative::TwoSided)?;
    let shift = hodges_lehmann_shift(b, c)?;
    let (med_b, med_c) = (b.median()?, c.median()?);
    let evidence = Evidence::DecisionTime {
        baseline_median: med_b,
        current_median: med_c,
        hodges_lehmann_shift: Some(shift),
        u_statistic: Some(test.u_current),
        z: Some(test.z),
        relative_change: (med_b > 0.0).then(|| shift / med_b),
    };
    Some(Finding {
        direction: Direction::of_delta(shift),
        baseline_value: med_b,
        current_value: med_c,
        delta: shift,
        p_value: Some(test.p_value),
        baseline_n: b.total(),
        current_n: c.total(),
        ..finding(g, FindingKind::DecisionTime, Mode::Sound, evidence)
    })
}

/// Old rule: `abs(Δ) ≥ 0.05` or (`p̂_b > 0` and `abs(Δ/p̂_b) ≥ 0.5`), Δ computed as
/// `(x_c/n_c) − (x_b/n_b)` then `abs` — the order matters for V3/V4's float edges.
fn compat_rate(g: &DriftGroupInput, confidence_base: u64) -> Option<Finding> {
    let change = old_rate_change(g.baseline, g.current)?;
    let (delta, relative) = (change.delta, change.relative);
    let fires = delta.abs() >= 0.05 || relative.is_some_and(|r| r.abs() >= 0.5);
    if !fires {
        return None;
    }
    let score = (delta.abs() * 2.0).min(1.0);
    let evidence = Evidence::Rate {
        method: None,
        z: None,
        baseline_interval: None,
        current_interval: None,
        relative_change: relative,
    };
    Some(Finding {
        direction: Direction::of_delta(delta),
        baseline_value: change.p_b,
        current_value: change.p_c,
        delta,
        score,
        severity_label: SeverityLabel::from_score(score),
        confidence: Some(volume_confidence(
            g.baseline.n + g.current.n,
            confidence_base,
        )),
        significant: true,
        ..finding(g, FindingKind::DenialRate, Mode::Compat, evidence)
    })
}

/// Old rule on medians: `abs(dd) ≥ 3` or (`med_b > 0` and `abs(dd/med_b) ≥ 0.5`).
fn compat_time(g: &DriftGroupInput, confidence_base: u64) -> Option<Finding> {
    let (med_b, med_c) = (g.baseline_days.median()?, g.current_days.median()?);
    let dd = med_c - med_b;
    let relative = (med_b > 0.0).then(|| dd / med_b);
    let fires = dd.abs() >= 3.0 || relative.is_some_and(|r| r.abs() >= 0.5);
    if !fires {
        return None;
    }
    let score = (dd.abs() / 10.0).min(1.0);
    let evidence = Evidence::DecisionTime {
        baseline_median: med_b,
        current_median: med_c,
        hodges_lehmann_shift: None,
        u_statistic: None,
        z: None,
        relative_change: relative,
    };
    Some(Finding {
        direction: Direction::of_delta(dd),
        baseline_value: med_b,
        current_value: med_c,
        delta: dd,
        score,
        severity_label: SeverityLabel::from_score(score),
        // The old system's confidence counts the group's claims, as for the rate rule (V7).
        confidence: Some(volume_confidence(
            g.baseline.n + g.current.n,
            confidence_base,
        )),
        significant: true,
        ..finding(g, FindingKind::DecisionTime, Mode::Compat, evidence)
    })
}

#[cfg(test)]
mod tests;
