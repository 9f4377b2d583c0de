//! Wilson 95 % score interval for one rate and Newcombe's hybrid score interval (method 10)
//! for the difference of two independent rates, `p̂_c − p̂_b`.

use serde::{Deserialize, Serialize};

use super::RateCounts;

/// Two-sided 95 % standard-normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// The bound nearest zero, 0 when the interval spans zero (the drift score's `d`).
    pub fn distance_from_zero(&self) -> f64 {
        if self.low > 0.0 {
            self.low
        } else if self.high < 0.0 {
            -self.high
        } else {
            0.0
        }
    }
}

/// Wilson 95 % interval for `x/n`; `None` when `n = 0`.
pub fn wilson_interval(counts: RateCounts) -> Option<Interval> {
    let p = counts.rate()?;
    let n = counts.n as f64;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // Clamp: at x = 0 or x = n the bound is 0 or 1 up to rounding.
    Some(Interval {
        low: (centre - half).clamp(0.0, 1.0),
        high: (centre + half).clamp(0.0, 1.0),
    })
}

/// Newcombe hybrid score interval (method 10) for `p̂_c − p̂_b`, built from the two Wilson
/// intervals; `None` when either window is empty.
pub fn newcombe_difference(baseline: RateCounts, current: RateCounts) -> Option<Interval> {
    let (p_b, p_c) = (baseline.rate()?, current.rate()?);
    let (w_b, w_c) = (wilson_interval(baseline)?, wilson_interval(current)?);
    let delta = p_c - p_b;
    let low = delta - ((p_c - w_c.low).powi(2) + (w_b.high - p_b).powi(2)).sqrt();
    let high = delta + ((w_c.high - p_c).powi(2) + (p_b - w_b.low).powi(2)).sqrt();
    Some(Interval { low, high })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::test_support::assert_dp;

    fn assert_interval(actual: Interval, low: f64, high: f64) {
        assert_dp(actual.low, low, 4);
        assert_dp(actual.high, high, 4);
    }

    #[test]
    fn wilson_reference_values() {
        let w = |n, x| wilson_interval(RateCounts::new(n, x)).expect("defined");
        assert_interval(w(50, 10), 0.1124, 0.3304);
        assert_interval(w(200, 24), 0.0820, 0.1723);
        assert_interval(w(60, 0), 0.0, 0.0602);
        assert_interval(w(100, 22), 0.1500, 0.3107);
        assert_eq!(w(60, 0).low, 0.0);
    }

    #[test]
    fn newcombe_reference_value() {
        // "56/70 vs 48/80 → [0.0524, 0.3339]": the difference of the first minus the second,
        // i.e. current 56/70, baseline 48/80.
        let ci = newcombe_difference(RateCounts::new(80, 48), RateCounts::new(70, 56));
        assert_interval(ci.expect("defined"), 0.0524, 0.3339);
    }

    #[test]
    fn empty_windows_have_no_interval() {
        assert_eq!(wilson_interval(RateCounts::new(0, 0)), None);
        assert_eq!(
            newcombe_difference(RateCounts::new(0, 0), RateCounts::new(10, 2)),
            None
        );
    }

    #[test]
    fn distance_from_zero() {
        let d = |low, high| Interval { low, high }.distance_from_zero();
        assert_eq!(d(0.21, 0.55), 0.21);
        assert_eq!(d(-0.34, -0.014), 0.014);
        assert_eq!(d(-0.08, 0.18), 0.0);
    }
}
