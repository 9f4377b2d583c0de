//! Fisher's exact test on the 2×2 table (baseline, current) × (success, failure), summed in
//! log space via ln-gamma so counts in the thousands neither overflow nor underflow.

use super::special::ln_choose;
use super::{Alternative, RateCounts};

/// Relative slack when comparing table probabilities to the observed one: tables that are
/// equally likely in exact arithmetic must count as "as extreme" despite rounding.
const TIE_TOLERANCE: f64 = 1e-7;

/// p-value of Fisher's exact test conditioned on both margins. Two-sided sums every table
/// with probability ≤ P(observed)·(1+1e−7); `Greater` sums tables with at least as many
/// current successes. `None` when either window is empty.
pub fn fisher_exact(
    baseline: RateCounts,
    current: RateCounts,
    alternative: Alternative,
) -> Option<f64> {
    if baseline.n == 0 || current.n == 0 {
        return None;
    }
    let total = baseline.n + current.n;
    let successes = baseline.x + current.x;
    // The current window's success count k ranges over what both margins allow.
    let k_min = successes.saturating_sub(baseline.n);
    let k_max = successes.min(current.n);
    let ln_denominator = ln_choose(total, successes);
    let ln_p =
        |k: u64| ln_choose(current.n, k) + ln_choose(baseline.n, successes - k) - ln_denominator;
    let observed = current.x;
    let p: f64 = match alternative {
        Alternative::Greater => (observed..=k_max).map(|k| ln_p(k).exp()).sum(),
        Alternative::Less => (k_min..=observed).map(|k| ln_p(k).exp()).sum(),
        Alternative::TwoSided => {
            let cutoff = ln_p(observed) + TIE_TOLERANCE.ln_1p();
            (k_min..=k_max)
                .map(ln_p)
                .filter(|&lp| lp <= cutoff)
                .map(f64::exp)
                .sum()
        }
    };
    Some(p.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::Alternative::*;
    use crate::domain::stats::test_support::assert_sig;

    fn two_sided(b: (u64, u64), c: (u64, u64)) -> f64 {
        fisher_exact(
            RateCounts::new(b.0, b.1),
            RateCounts::new(c.0, c.1),
            TwoSided,
        )
        .expect("defined")
    }

    #[test]
    fn textbook_table() {
        // [[3,1],[1,3]] → 0.4857 (rows: baseline 4 trials 3 successes, current 4 with 1).
        assert_sig(two_sided((4, 3), (4, 1)), 0.4857, 4);
    }

    #[test]
    #[allow(clippy::approx_constant)] // 0.3927 is a p-value, not π/8
    fn analytics_vectors() {
        assert_sig(two_sided((100, 10), (40, 6)), 0.3927, 4); // V3, S5
        assert_sig(two_sided((40, 2), (40, 4)), 0.6752, 4); // V4, S8
        assert_sig(two_sided((60, 0), (30, 1)), 0.3333, 4); // V5a
        assert_sig(two_sided((60, 0), (30, 2)), 0.1086, 4); // V5b, S6
        assert_sig(two_sided((100, 4), (64, 4)), 0.7126, 4); // V12
        assert_sig(two_sided((200, 24), (30, 4)), 0.7690, 4); // S1
        assert_sig(two_sided((200, 24), (30, 9)), 0.02084, 4); // S2
        assert_sig(two_sided((193, 23), (30, 12)), 0.0004293, 4); // S3
    }

    #[test]
    fn empty_window_has_no_p_value() {
        assert_eq!(
            fisher_exact(RateCounts::new(0, 0), RateCounts::new(5, 1), TwoSided),
            None
        );
    }

    #[test]
    fn one_sided_tails_cover_the_observed_table_once() {
        let (b, c) = (RateCounts::new(30, 3), RateCounts::new(20, 6));
        let greater = fisher_exact(b, c, Greater).expect("defined");
        let less = fisher_exact(b, c, Less).expect("defined");
        assert!(greater < 0.1 && less > 0.9);
        // Both tails include the observed table, so together they exceed 1 by exactly P(obs).
        assert!(greater + less > 1.0);
    }

    #[test]
    fn property_p_in_unit_interval() {
        for n_b in [1u64, 5, 17, 40] {
            for n_c in [1u64, 3, 12, 30] {
                for x_b in 0..=n_b.min(6) {
                    for x_c in 0..=n_c.min(6) {
                        let (b, c) = (RateCounts::new(n_b, x_b), RateCounts::new(n_c, x_c));
                        for alt in [TwoSided, Greater, Less] {
                            let p = fisher_exact(b, c, alt).expect("defined");
                            assert!(p > 0.0 && p <= 1.0, "{b:?} {c:?} {alt:?}: {p}");
                        }
                    }
                }
            }
        }
    }
}
