//! Poisson rate test for a count spike, conditional-binomial form: given `total = recent +
//! baseline` events, under "same daily rate" the recent count is Bin(total, d_r/(d_r+d_b)).
//! One-sided (increase), because only spikes are signals.

use serde::{Deserialize, Serialize};

use super::special::ln_choose;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PoissonRateTest {
    /// Recent daily rate ÷ baseline daily rate; `None` when the baseline count is 0.
    pub rate_ratio: Option<f64>,
    /// P(X ≥ recent) for X ~ Bin(total, recent_days/(recent_days+baseline_days)).
    pub p_value: f64,
}

/// `None` when a window has no days (no rate to speak of).
pub fn poisson_rate_test(
    recent_count: u64,
    recent_days: u32,
    baseline_count: u64,
    baseline_days: u32,
) -> Option<PoissonRateTest> {
    if recent_days == 0 || baseline_days == 0 {
        return None;
    }
    let share = f64::from(recent_days) / f64::from(recent_days + baseline_days);
    let total = recent_count + baseline_count;
    let (ln_share, ln_rest) = (share.ln(), (1.0 - share).ln());
    let p_value: f64 = (recent_count..=total)
        .map(|k| (ln_choose(total, k) + k as f64 * ln_share + (total - k) as f64 * ln_rest).exp())
        .sum();
    let rate_ratio = (baseline_count > 0).then(|| {
        (recent_count as f64 / f64::from(recent_days))
            / (baseline_count as f64 / f64::from(baseline_days))
    });
    Some(PoissonRateTest {
        rate_ratio,
        p_value: p_value.clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_events_is_p_one() {
        let t = poisson_rate_test(0, 7, 0, 21).expect("defined");
        assert_eq!(t.p_value, 1.0);
        assert_eq!(t.rate_ratio, None);
    }

    #[test]
    fn small_case_by_hand() {
        // total 2, share 1/4: P(X ≥ 2) = 1/16.
        let t = poisson_rate_test(2, 7, 0, 21).expect("defined");
        assert!((t.p_value - 0.0625).abs() < 1e-12);
    }

    #[test]
    fn equal_daily_rates_are_unremarkable_and_tripled_rates_are_not() {
        let same = poisson_rate_test(10, 7, 30, 21).expect("defined");
        assert_eq!(same.rate_ratio, Some(1.0));
        assert!(same.p_value > 0.4);
        let tripled = poisson_rate_test(30, 7, 30, 21).expect("defined");
        assert_eq!(tripled.rate_ratio, Some(3.0));
        // 30 of 60 where 15 ± 3.35 are expected: about 4.5 σ.
        assert!(tripled.p_value < 1e-4);
    }

    #[test]
    fn window_without_days_is_untestable() {
        assert_eq!(poisson_rate_test(3, 0, 3, 21), None);
    }
}
