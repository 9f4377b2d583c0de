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
    let p_value = binomial_upper_tail(total, recent_count, share);
    let rate_ratio = (baseline_count > 0).then(|| {
        (recent_count as f64 / f64::from(recent_days))
            / (baseline_count as f64 / f64::from(baseline_days))
    });
    Some(PoissonRateTest {
        rate_ratio,
        p_value: p_value.clamp(0.0, 1.0),
    })
}

/// P(X ≥ k) for X ~ Bin(n, p), 0 < p < 1. Sums the tail on the far side of the mode
/// (the upper tail from `k`, or 1 − the lower tail below `k`) from its largest term
/// outwards, each term from the previous by the ratio of neighbouring binomial terms, and
/// stops when the rest cannot change the sum: O(√n) terms, not O(n), so the test costs
/// the same at 50M claims as at 1M (issue 21).
pub(crate) fn binomial_upper_tail(n: u64, k: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    let odds = p / (1.0 - p);
    let ln_term = |j: u64| ln_choose(n, j) + j as f64 * ln_p + (n - j) as f64 * ln_q;
    // The mode is floor((n + 1) p): terms rise up to it and fall after it.
    let mode = ((n + 1) as f64 * p).floor() as u64;
    if k >= mode {
        // Upper tail k, k+1, …: falling terms.
        let (mut sum, mut term, mut j) = (1.0_f64, 1.0_f64, k);
        while j < n {
            term *= (n - j) as f64 / (j + 1) as f64 * odds;
            j += 1;
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
        }
        (ln_term(k) + sum.ln()).exp().clamp(0.0, 1.0)
    } else {
        // 1 − lower tail k−1, k−2, …: falling terms.
        let (mut sum, mut term, mut j) = (1.0_f64, 1.0_f64, k - 1);
        while j > 0 {
            term *= j as f64 / (n - j + 1) as f64 / odds;
            j -= 1;
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
        }
        (1.0 - (ln_term(k - 1) + sum.ln()).exp()).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail as the test computed it before: every term by itself.
    fn term_by_term(n: u64, k: u64, p: f64) -> f64 {
        (k..=n)
            .map(|j| (ln_choose(n, j) + j as f64 * p.ln() + (n - j) as f64 * (1.0 - p).ln()).exp())
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }

    #[test]
    fn the_short_tail_sum_equals_the_full_sum() {
        for (n, p) in [
            (0u64, 0.25),
            (1, 0.25),
            (2, 0.25),
            (60, 0.25),
            (977, 0.2),
            (20_000, 1.0 / 7.0),
        ] {
            for k in (0..=n + 1).step_by((n as usize / 97).max(1)) {
                let (fast, full) = (binomial_upper_tail(n, k, p), term_by_term(n, k, p));
                assert!(
                    (fast - full).abs() <= 1e-9 * full + 1e-14,
                    "n {n} k {k} p {p}: {fast} vs {full}"
                );
            }
        }
    }

    #[test]
    fn a_tail_of_millions_of_claims_is_quick_and_sane() {
        let started = std::time::Instant::now();
        // 3,000,000 denials, 1/5 of the days recent: expected 600,000 ± 693.
        let at_mean = binomial_upper_tail(3_000_000, 600_000, 0.2);
        let far_above = binomial_upper_tail(3_000_000, 605_000, 0.2);
        let far_below = binomial_upper_tail(3_000_000, 595_000, 0.2);
        assert!((at_mean - 0.5).abs() < 0.01, "{at_mean}");
        assert!(far_above < 1e-12, "{far_above}");
        assert!(far_below > 1.0 - 1e-12, "{far_below}");
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
    }

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
