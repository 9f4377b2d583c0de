//! Arithmetic of the replaced system shared by the compat rules of several products, kept in
//! one place so its exact f64 operation order is written once.

use crate::domain::stats::{RateCounts, SeverityLabel};

/// A rate change as the old system computed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OldRateChange {
    pub p_b: f64,
    pub p_c: f64,
    /// `(x_c/n_c) − (x_b/n_b)`, in that order.
    pub delta: f64,
    /// `Δ / p̂_b` when `p̂_b > 0`.
    pub relative: Option<f64>,
}

/// `None` when a window has no trials (the old system never divided by zero: such groups
/// were below its minimum volume).
pub(crate) fn old_rate_change(baseline: RateCounts, current: RateCounts) -> Option<OldRateChange> {
    if baseline.n == 0 || current.n == 0 {
        return None;
    }
    let p_c = current.x as f64 / current.n as f64;
    let p_b = baseline.x as f64 / baseline.n as f64;
    let delta = p_c - p_b;
    Some(OldRateChange {
        p_b,
        p_c,
        delta,
        relative: (p_b > 0.0).then(|| delta / p_b),
    })
}

/// `min(n / denominator, 1.0)` — the old volume confidence (`(n_b+n_c)/(min_volume·4)`);
/// 0 when the denominator is 0.
pub(crate) fn volume_confidence(n: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        return 0.0;
    }
    (n as f64 / denominator as f64).min(1.0)
}

/// The old DelayGuard ladder: first of (Δ ≥ 10 and conf ≥ 0.75 → critical), (≥ 7, ≥ 0.65 →
/// high), (≥ 4, ≥ 0.55 → medium), else low.
pub(crate) fn delay_severity(delta: f64, confidence: f64) -> SeverityLabel {
    if delta >= 10.0 && confidence >= 0.75 {
        SeverityLabel::Critical
    } else if delta >= 7.0 && confidence >= 0.65 {
        SeverityLabel::High
    } else if delta >= 4.0 && confidence >= 0.55 {
        SeverityLabel::Medium
    } else {
        SeverityLabel::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_edges_of_the_old_rate_rule() {
        let change = |b: (u64, u64), c: (u64, u64)| {
            old_rate_change(RateCounts::new(b.0, b.1), RateCounts::new(c.0, c.1))
                .expect("non-empty")
        };
        // V3: just below both thresholds, so the old rule does not fire.
        let v3 = change((100, 10), (40, 6));
        assert_eq!(v3.delta, 0.04999999999999999);
        assert_eq!(v3.relative, Some(0.4999999999999999));
        // V4: exactly on the threshold, so it fires.
        assert_eq!(change((40, 2), (40, 4)).delta, 0.05);
        assert_eq!(
            old_rate_change(RateCounts::new(0, 0), RateCounts::new(3, 1)),
            None
        );
    }

    #[test]
    fn ladder_needs_both_delta_and_confidence() {
        assert_eq!(
            delay_severity(12.0, 0.6499999999999999),
            SeverityLabel::Medium
        );
        assert_eq!(delay_severity(12.0, 0.75), SeverityLabel::Critical);
        assert_eq!(delay_severity(7.0, 1.0), SeverityLabel::High);
        assert_eq!(delay_severity(3.9, 1.0), SeverityLabel::Low);
    }
}
