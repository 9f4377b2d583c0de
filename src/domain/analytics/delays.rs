//! DelayGuard slowdown rules per canonical payer: decision days of the current 14 days vs
//! the 60 days before. Sound: one-sided Mann–Whitney (slower), BH across payers,
//! Hodges–Lehmann floor, in one BH family with the daily trend test (`daily_trend`).
//! Compat: the old rule on means with its confidence ladder; its weekly trend lives in
//! `trend`.

use serde::{Deserialize, Serialize};

use super::daily_trend::{DailyTrendSettings, PayerDailyInput, daily_trends};
use super::finding::apply_fdr;
use super::impact::{self, ChangeSize};
use super::legacy::delay_severity;
use super::{
    Direction, Evidence, Finding, FindingKind, InsufficientGroup, Mode, Product, RunOutcome,
};
use crate::domain::stats::{
    Alternative, Histogram, SeverityLabel, hodges_lehmann_shift, mann_whitney,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayerDelayInput {
    pub payer: String,
    pub baseline_days: Histogram,
    pub current_days: Histogram,
    /// Allowed amount of the claims decided in the current window, in cents.
    pub current_allowed_cents: i64,
    /// Compat: the old system's daily rows in the current window (distinct submit days);
    /// its dollars-at-risk divided by this.
    pub current_daily_rows: u32,
    /// Compat: the old completeness figure (0–1) that feeds its confidence.
    pub completeness: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelaySettings {
    /// Claims needed in each window (both modes).
    pub min_claims: u64,
    pub fdr_level: f64,
    /// Hodges–Lehmann shift floor in days (sound).
    pub shift_floor_days: f64,
    /// Length of the current window, for dollars at risk per day (sound).
    pub current_days: u32,
    /// The sound trend test (same BH family).
    pub trend: DailyTrendSettings,
}

impl Default for DelaySettings {
    fn default() -> Self {
        Self {
            min_claims: 10,
            fdr_level: 0.05,
            shift_floor_days: 2.0,
            current_days: 14,
            trend: DailyTrendSettings::default(),
        }
    }
}

/// Severity by shift: ≥ 10 d critical, ≥ 7 high, ≥ 4 medium, else low.
fn shift_tier(shift: f64) -> SeverityLabel {
    SeverityLabel::tier(shift, [4.0, 7.0, 10.0])
}

fn split_by_volume(
    payers: &[PayerDelayInput],
    min_claims: u64,
) -> (Vec<&PayerDelayInput>, Vec<InsufficientGroup>) {
    InsufficientGroup::split_by_volume(payers, min_claims, "decisions", |p| {
        (
            &p.payer,
            "",
            p.baseline_days.total(),
            p.current_days.total(),
        )
    })
}

fn finding(p: &PayerDelayInput, mode: Mode, label: SeverityLabel, evidence: Evidence) -> Finding {
    Finding {
        product: Product::DelayGuard,
        mode,
        kind: FindingKind::Slowdown,
        payer: p.payer.clone(),
        group: String::new(),
        direction: Direction::Worse,
        baseline_value: 0.0,
        current_value: 0.0,
        delta: 0.0,
        ci_low: None,
        ci_high: None,
        p_value: None,
        q_value: None,
        score: label.representative_score(),
        severity_label: label,
        baseline_n: p.baseline_days.total(),
        current_n: p.current_days.total(),
        confidence: None,
        significant: true,
        dollars_per_month: None,
        group_members: Vec::new(),
        evidence,
    }
}

/// Sound mode: per payer a one-sided Mann–Whitney slowdown test and the daily trend test
/// (`daily_trend`), all in one BH family. A trend that fires with its payer's slowdown
/// attaches to it (one change, one finding).
pub fn delays_sound(
    payers: &[PayerDelayInput],
    daily: &[PayerDailyInput],
    settings: &DelaySettings,
) -> RunOutcome {
    let (sufficient, mut insufficient) = split_by_volume(payers, settings.min_claims);
    let mut family: Vec<Finding> = sufficient
        .iter()
        .filter_map(|p| sound_slowdown(p, settings))
        .collect();
    let (trends, short) = daily_trends(daily, &settings.trend);
    insufficient.extend(short);
    family.extend(trends);
    apply_fdr(&mut family, settings.fdr_level, |f| match f.kind {
        FindingKind::Trend => f.delta >= settings.trend.rise_floor_days,
        _ => f.delta >= settings.shift_floor_days,
    });
    let allowed: std::collections::HashMap<&str, i64> = payers
        .iter()
        .map(|p| (p.payer.as_str(), p.current_allowed_cents))
        .collect();
    for f in &mut family {
        let cents = allowed.get(f.payer.as_str()).copied().unwrap_or(0);
        let money = impact::cash_held_up(cents, settings.current_days, f.delta);
        f.dollars_per_month = money;
        f.severity_label = impact::severity(money, ChangeSize::Days(f.delta));
        f.score = f.severity_label.representative_score();
    }
    attach_trends(&mut family);
    RunOutcome {
        groups_considered: payers.len(),
        insufficient,
        findings: family,
    }
}

/// A significant trend of a payer whose slowdown is significant becomes the slowdown's
/// evidence.
fn attach_trends(family: &mut [Finding]) {
    let rises: Vec<(String, f64)> = family
        .iter()
        .filter(|f| f.significant && f.kind == FindingKind::Trend)
        .map(|f| (f.payer.clone(), f.delta))
        .collect();
    let mut attached = Vec::new();
    for f in family.iter_mut() {
        if !(f.significant && f.kind == FindingKind::Slowdown) {
            continue;
        }
        if let Some((payer, rise)) = rises.iter().find(|(p, _)| *p == f.payer) {
            if let Evidence::Slowdown {
                trend_rise_days, ..
            } = &mut f.evidence
            {
                *trend_rise_days = Some(*rise);
            }
            attached.push(payer.clone());
        }
    }
    for f in family.iter_mut() {
        if f.kind == FindingKind::Trend && attached.contains(&f.payer) {
            f.significant = false;
        }
    }
}

fn sound_slowdown(p: &PayerDelayInput, settings: &DelaySettings) -> Option<Finding> {
    let (b, c) = (&p.baseline_days, &p.current_days);
    let test = mann_whitney(b, c, Alternative::Greater)?;
    let shift = hodges_lehmann_shift(b, c)?;
    let dollars_at_risk =
        impact::cash_held_up(p.current_allowed_cents, settings.current_days, shift);
    let evidence = Evidence::Slowdown {
        hodges_lehmann_shift: Some(shift),
        u_statistic: Some(test.u_current),
        z: Some(test.z),
        percent_change: None,
        dollars_at_risk,
        completeness: None,
        trend_rise_days: None,
    };
    Some(Finding {
        direction: Direction::of_delta(shift),
        baseline_value: b.median()?,
        current_value: c.median()?,
        delta: shift,
        p_value: Some(test.p_value),
        significant: false,
        ..finding(p, Mode::Sound, shift_tier(shift), evidence)
    })
}

pub fn delays_compat(payers: &[PayerDelayInput], settings: &DelaySettings) -> RunOutcome {
    let (sufficient, insufficient) = split_by_volume(payers, settings.min_claims);
    let confidence_base = settings.min_claims.saturating_mul(4);
    RunOutcome {
        groups_considered: payers.len(),
        insufficient,
        findings: sufficient
            .iter()
            .filter_map(|p| compat_slowdown(p, confidence_base))
            .collect(),
    }
}

/// The old rule: means; only slowdowns; `conf = clamp(0.7·min(1,(n_c+n_b)/40) +
/// 0.3·min(1, completeness/0.8))`; the ladder; skip low with Δ < 2.
fn compat_slowdown(p: &PayerDelayInput, confidence_base: u64) -> Option<Finding> {
    let (mean_b, mean_c) = (p.baseline_days.mean()?, p.current_days.mean()?);
    let delta = mean_c - mean_b;
    if delta <= 0.0 || confidence_base == 0 {
        return None;
    }
    let (n_b, n_c) = (p.baseline_days.total(), p.current_days.total());
    let volume = ((n_c + n_b) as f64 / confidence_base as f64).min(1.0);
    let completeness = (p.completeness / 0.8).min(1.0);
    let confidence = (0.7 * volume + 0.3 * completeness).clamp(0.0, 1.0);
    let label = delay_severity(delta, confidence);
    if label == SeverityLabel::Low && delta < 2.0 {
        return None;
    }
    let dollars_at_risk = (p.current_daily_rows > 0)
        .then(|| p.current_allowed_cents as f64 / 100.0 / f64::from(p.current_daily_rows) * delta);
    let evidence = Evidence::Slowdown {
        hodges_lehmann_shift: None,
        u_statistic: None,
        z: None,
        percent_change: (mean_b > 0.0).then(|| delta / mean_b * 100.0),
        dollars_at_risk,
        completeness: Some(p.completeness),
        trend_rise_days: None,
    };
    Some(Finding {
        baseline_value: mean_b,
        current_value: mean_c,
        delta,
        confidence: Some(confidence),
        ..finding(p, Mode::Compat, label, evidence)
    })
}

#[cfg(test)]
mod tests;
