//! DelayGuard's compat-mode weekly trend per payer over the last four weeks (oldest first):
//! WORSENING when at least two consecutive week-on-week increases or a total rise ≥ 7 days,
//! on weekly means with the old ladder, whose confidence can never reach critical. A pattern,
//! not a test — sound mode tests daily medians instead (`daily_trend`).

use serde::{Deserialize, Serialize};

use super::legacy::delay_severity;
use super::{
    Direction, Evidence, Finding, FindingKind, InsufficientGroup, Mode, Product, RunOutcome,
    TrendRule,
};
use crate::domain::stats::{Histogram, SeverityLabel};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayerTrendInput {
    pub payer: String,
    /// Decision-day histograms of the last weeks, oldest first (see `windows::trend_weeks`).
    pub weeks: Vec<Histogram>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendSettings {
    pub weeks: usize,
    pub min_claims_per_week: u64,
    pub total_rise_days: f64,
}

impl Default for TrendSettings {
    fn default() -> Self {
        Self {
            weeks: 4,
            min_claims_per_week: 5,
            total_rise_days: 7.0,
        }
    }
}

/// Weekly claims at which the old trend confidence saturates. Not in ANALYTICS.md; derived
/// from T1–T3 (see `compat_confidence`).
const OLD_FULL_WEEK: f64 = 30.0;

pub fn trend_compat(payers: &[PayerTrendInput], settings: &TrendSettings) -> RunOutcome {
    let mode = Mode::Compat;
    let mut outcome = RunOutcome {
        groups_considered: payers.len(),
        ..RunOutcome::default()
    };
    for p in payers {
        match usable_weeks(p, settings) {
            Ok(weeks) => outcome.findings.extend(assess(p, weeks, settings, mode)),
            Err(short) => outcome.insufficient.push(short),
        }
    }
    outcome
}

/// The last `settings.weeks` weeks, each with enough claims.
fn usable_weeks<'a>(
    p: &'a PayerTrendInput,
    settings: &TrendSettings,
) -> Result<&'a [Histogram], InsufficientGroup> {
    let start = p.weeks.len().saturating_sub(settings.weeks);
    let weeks = &p.weeks[start..];
    let fewest = weeks.iter().map(Histogram::total).min().unwrap_or(0);
    let enough = weeks.len() == settings.weeks
        && settings.weeks >= 2
        && fewest >= settings.min_claims_per_week.max(1);
    if enough {
        return Ok(weeks);
    }
    Err(InsufficientGroup {
        payer: p.payer.clone(),
        group: String::new(),
        baseline_n: weeks.first().map_or(0, Histogram::total),
        current_n: weeks.last().map_or(0, Histogram::total),
        reason: format!(
            "{} of {} weeks, fewest claims in a week {fewest}; at least {} needed each week",
            weeks.len(),
            settings.weeks,
            settings.min_claims_per_week
        ),
    })
}

fn assess(
    p: &PayerTrendInput,
    weeks: &[Histogram],
    settings: &TrendSettings,
    mode: Mode,
) -> Option<Finding> {
    let values: Vec<f64> = weeks.iter().map(Histogram::mean).collect::<Option<_>>()?;
    let counts: Vec<u64> = weeks.iter().map(Histogram::total).collect();
    let (first, last) = (*values.first()?, *values.last()?);
    let rise = last - first;
    let increases: Vec<bool> = values.windows(2).map(|w| w[1] > w[0]).collect();
    let mut rules = Vec::new();
    if increases.windows(2).any(|w| w[0] && w[1]) {
        rules.push(TrendRule::ConsecutiveIncreases);
    }
    if rise >= settings.total_rise_days {
        rules.push(TrendRule::TotalRise);
    }
    // Two increases that end lower than they started are not a worsening.
    if rules.is_empty() || rise <= 0.0 {
        return None;
    }
    let confidence = compat_confidence(&counts);
    let label = delay_severity(rise, confidence);
    if label == SeverityLabel::Low && rise < 2.0 {
        return None;
    }
    let confidence = Some(confidence);
    Some(Finding {
        product: Product::DelayGuard,
        mode,
        kind: FindingKind::Trend,
        payer: p.payer.clone(),
        group: String::new(),
        direction: Direction::Worse,
        baseline_value: first,
        current_value: last,
        delta: rise,
        ci_low: None,
        ci_high: None,
        p_value: None,
        q_value: None,
        score: label.representative_score(),
        severity_label: label,
        baseline_n: counts.first().copied().unwrap_or(0),
        current_n: counts.last().copied().unwrap_or(0),
        confidence,
        significant: true,
        dollars_per_month: None,
        group_members: Vec::new(),
        evidence: Evidence::Trend {
            weekly_values: values,
            weekly_counts: counts,
            rise,
            rules,
        },
    })
}

/// The old trend confidence: `0.7 · min(1, claims / (weeks · 30))`, with no completeness
/// term — which is why critical (conf ≥ 0.75) is unreachable in compat. ANALYTICS.md gives
/// only outcomes; T1 (25/week, +7 → medium), T2 (10/week, +8 → low) and T3 (30/week, +16 →
/// high) pin the saturation point between 26.9 and 31.8 claims a week; 30 is the old
/// system's round figure (its minimum volume).
fn compat_confidence(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let full = OLD_FULL_WEEK * counts.len() as f64;
    0.7 * (total as f64 / full).min(1.0)
}

#[cfg(test)]
mod tests;
