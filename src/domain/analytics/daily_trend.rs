//! DelayGuard's sound-mode trend: a test, not a pattern. Per payer, the median decision days
//! of each day of the last 28 (by decision date) against the day; one-sided Mann–Kendall
//! (rising), Theil–Sen slope as the estimate, practical floor on the fitted rise over the
//! window. The p-value joins the product run's one BH family (`delays::delays_sound`), so
//! `significant` is left unset here.
//!
//! Why not weekly medians and "two rises in a row": with four weekly medians of a stable
//! payer, two consecutive increases happen by chance in about 5 of 12 orderings, so ten
//! payers raised one almost every run.

use serde::{Deserialize, Serialize};

use super::{Direction, Evidence, Finding, FindingKind, InsufficientGroup, Mode, Product};
use crate::domain::stats::{Alternative, Histogram, SeverityLabel, mann_kendall, theil_sen_slope};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayerDailyInput {
    pub payer: String,
    /// Decision-day histograms of the window's days, oldest first (empty days allowed).
    pub days: Vec<Histogram>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyTrendSettings {
    /// Days of the window that must have at least one decision.
    pub min_days_with_data: usize,
    /// Decisions in the window.
    pub min_claims: u64,
    /// Fitted rise (slope × the window's span) below which a trend is not worth a finding.
    pub rise_floor_days: f64,
}

impl Default for DailyTrendSettings {
    fn default() -> Self {
        Self {
            min_days_with_data: 14,
            min_claims: 40,
            rise_floor_days: 2.0,
        }
    }
}

/// Every payer with enough data gets a tested finding (not yet judged); the rest are
/// listed as insufficient.
pub fn daily_trends(
    payers: &[PayerDailyInput],
    settings: &DailyTrendSettings,
) -> (Vec<Finding>, Vec<InsufficientGroup>) {
    let mut findings = Vec::new();
    let mut insufficient = Vec::new();
    for p in payers {
        match assess(p, settings) {
            Ok(f) => findings.extend(f),
            Err(short) => insufficient.push(short),
        }
    }
    (findings, insufficient)
}

fn assess(
    p: &PayerDailyInput,
    settings: &DailyTrendSettings,
) -> Result<Option<Finding>, InsufficientGroup> {
    let points: Vec<(f64, f64)> = p
        .days
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.median().map(|m| (i as f64, m)))
        .collect();
    let claims: u64 = p.days.iter().map(Histogram::total).sum();
    if points.len() < settings.min_days_with_data.max(3) || claims < settings.min_claims {
        return Err(InsufficientGroup {
            payer: p.payer.clone(),
            group: String::new(),
            baseline_n: points.len() as u64,
            current_n: claims,
            reason: format!(
                "{claims} decisions on {} of {} days; the trend needs at least {} decisions on {} days",
                points.len(),
                p.days.len(),
                settings.min_claims,
                settings.min_days_with_data
            ),
        });
    }
    let (Some(test), Some(slope)) = (
        mann_kendall(&points, Alternative::Greater),
        theil_sen_slope(&points),
    ) else {
        return Ok(None);
    };
    // The fitted line over the whole window, first day to last.
    let span = p.days.len().saturating_sub(1) as f64;
    let rise = slope * span;
    let mut residuals: Vec<f64> = points.iter().map(|&(x, y)| y - slope * x).collect();
    residuals.sort_by(f64::total_cmp);
    let intercept = median_of_sorted(&residuals);
    let label = SeverityLabel::Low;
    Ok(Some(Finding {
        product: Product::DelayGuard,
        mode: Mode::Sound,
        kind: FindingKind::Trend,
        payer: p.payer.clone(),
        group: String::new(),
        direction: Direction::of_delta(rise),
        baseline_value: intercept,
        current_value: intercept + rise,
        delta: rise,
        ci_low: None,
        ci_high: None,
        p_value: Some(test.p_value),
        q_value: None,
        score: label.representative_score(),
        severity_label: label,
        baseline_n: points.len() as u64,
        current_n: claims,
        confidence: None,
        significant: false,
        dollars_per_month: None,
        group_members: Vec::new(),
        evidence: Evidence::TrendTest {
            slope_days_per_day: slope,
            fitted_rise: rise,
            mann_kendall_s: test.s,
            z: test.z,
            days_with_data: points.len() as u64,
            daily_medians: points.iter().map(|&(_, y)| y).collect(),
        },
    }))
}

fn median_of_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payer(medians: &[i64], per_day: u64) -> PayerDailyInput {
        PayerDailyInput {
            payer: "P".into(),
            days: medians
                .iter()
                .map(|&d| Histogram::new([(d, per_day)]))
                .collect(),
        }
    }

    #[test]
    fn steady_rise_is_tested_with_its_fitted_rise() {
        // 20 → 33.5 days over 28 days: slope 0.5, fitted rise 13.5.
        let medians: Vec<i64> = (0..28).map(|i| 20 + i / 2).collect();
        let (findings, short) = daily_trends(&[payer(&medians, 5)], &Default::default());
        assert!(short.is_empty());
        let f = &findings[0];
        assert_eq!(f.kind, FindingKind::Trend);
        assert!(f.p_value.expect("tested") < 1e-6);
        assert!((f.delta - 13.5).abs() < 1e-9, "{}", f.delta);
        assert_eq!(f.direction, Direction::Worse);
    }

    #[test]
    fn flat_series_is_not_a_trend() {
        let (findings, _) = daily_trends(&[payer(&[20; 28], 5)], &Default::default());
        assert_eq!(findings[0].p_value, Some(1.0));
        assert_eq!(findings[0].delta, 0.0);
    }

    #[test]
    fn too_few_days_are_insufficient() {
        let mut days = vec![Histogram::default(); 28];
        for (i, d) in days.iter_mut().enumerate().take(10) {
            *d = Histogram::new([(20 + i as i64, 10)]);
        }
        let input = PayerDailyInput {
            payer: "P".into(),
            days,
        };
        let (findings, short) = daily_trends(&[input], &Default::default());
        assert!(findings.is_empty());
        assert_eq!(short.len(), 1);
    }
}
