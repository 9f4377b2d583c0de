//! Mann–Whitney U from two day histograms: mid-ranks over merged bins, tie-corrected
//! variance and continuity correction, normal approximation.
//!
//! `U_c = R_c − n_c(n_c+1)/2`, `μ = n_b n_c/2`,
//! `σ² = n_b n_c/12·[(N+1) − Σ(t³−t)/(N(N−1))]`; two-sided
//! `z = (U_c − μ − ½·sgn(U_c − μ))/σ`; one-sided moves the ½ toward the null.

use serde::{Deserialize, Serialize};

use super::special::{normal_p_value, sign};
use super::{Alternative, Histogram};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U of the current sample (number of pairs with current > baseline, ties counting ½).
    pub u_current: f64,
    pub z: f64,
    pub p_value: f64,
}

/// `None` when either sample is empty. When every value is tied (σ = 0) the samples are
/// indistinguishable: z = 0, p = 1.
pub fn mann_whitney(
    baseline: &Histogram,
    current: &Histogram,
    alternative: Alternative,
) -> Option<MannWhitney> {
    let (n_b, n_c) = (baseline.total(), current.total());
    if n_b == 0 || n_c == 0 {
        return None;
    }
    let (rank_sum_current, tie_sum) = rank_sum_and_ties(baseline.bins(), current.bins());
    let (n_b, n_c) = (n_b as f64, n_c as f64);
    let n = n_b + n_c;
    let u_current = rank_sum_current - n_c * (n_c + 1.0) / 2.0;
    let mu = n_b * n_c / 2.0;
    let variance = n_b * n_c / 12.0 * ((n + 1.0) - tie_sum / (n * (n - 1.0)));
    if variance <= 0.0 || !variance.is_finite() {
        return Some(MannWhitney {
            u_current,
            z: 0.0,
            p_value: 1.0,
        });
    }
    let diff = u_current - mu;
    let correction = match alternative {
        Alternative::TwoSided => 0.5 * sign(diff),
        Alternative::Greater => 0.5,
        Alternative::Less => -0.5,
    };
    let z = (diff - correction) / variance.sqrt();
    Some(MannWhitney {
        u_current,
        z,
        p_value: normal_p_value(z, alternative),
    })
}

/// Walks both sorted bin lists together: each distinct value gets the mid-rank of its tie
/// block; returns the current sample's rank sum and Σ(t³ − t) over tie blocks.
fn rank_sum_and_ties(baseline: &[(i64, u64)], current: &[(i64, u64)]) -> (f64, f64) {
    let (mut i, mut j) = (0usize, 0usize);
    let mut ranks_below = 0f64;
    let mut rank_sum_current = 0f64;
    let mut tie_sum = 0f64;
    while i < baseline.len() || j < current.len() {
        let value = match (baseline.get(i), current.get(j)) {
            (Some(&(b, _)), Some(&(c, _))) => b.min(c),
            (Some(&(b, _)), None) => b,
            (None, Some(&(c, _))) => c,
            (None, None) => break,
        };
        let take = |bins: &[(i64, u64)], k: &mut usize| match bins.get(*k) {
            Some(&(d, count)) if d == value => {
                *k += 1;
                count as f64
            }
            _ => 0.0,
        };
        let from_baseline = take(baseline, &mut i);
        let from_current = take(current, &mut j);
        let t = from_baseline + from_current;
        let mid_rank = ranks_below + (t + 1.0) / 2.0;
        rank_sum_current += from_current * mid_rank;
        tie_sum += t * t * t - t;
        ranks_below += t;
    }
    (rank_sum_current, tie_sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::Alternative::*;
    use crate::domain::stats::test_support::{assert_dp, assert_sig};

    fn vector_samples() -> (Histogram, Histogram) {
        (
            Histogram::from_values(&[10, 12, 12, 13, 14, 15, 15, 16, 18, 20]),
            Histogram::from_values(&[14, 16, 17, 17, 19, 21, 22, 24, 25, 30]),
        )
    }

    #[test]
    fn analytics_md_vector() {
        let (b, c) = vector_samples();
        let mw = mann_whitney(&b, &c, TwoSided).expect("defined");
        assert_eq!(mw.u_current, 87.0);
        assert_dp(mw.z, 2.7643, 4);
        assert_sig(mw.p_value, 0.0057, 2);
    }

    #[test]
    fn identical_samples_give_z_zero_p_one() {
        let s = Histogram::from_values(&[3, 5, 8, 9, 12]);
        let mw = mann_whitney(&s, &s, TwoSided).expect("defined");
        assert_eq!((mw.z, mw.p_value), (0.0, 1.0));
    }

    #[test]
    fn all_values_tied_is_p_one_not_nan() {
        let s = Histogram::new(vec![(5, 40)]);
        let mw = mann_whitney(&s, &Histogram::new(vec![(5, 30)]), TwoSided).expect("defined");
        assert_eq!(mw.p_value, 1.0);
    }

    #[test]
    fn empty_sample_is_untestable() {
        let (b, _) = vector_samples();
        assert_eq!(mann_whitney(&b, &Histogram::default(), TwoSided), None);
    }

    #[test]
    fn one_sided_halves_the_two_sided_p_in_the_observed_direction() {
        let (b, c) = vector_samples();
        let two = mann_whitney(&b, &c, TwoSided).expect("defined").p_value;
        let greater = mann_whitney(&b, &c, Greater).expect("defined").p_value;
        let less = mann_whitney(&b, &c, Less).expect("defined").p_value;
        assert!((greater - two / 2.0).abs() < 1e-12);
        assert!(less > 0.99);
    }

    #[test]
    fn property_two_sided_p_symmetric_under_swap() {
        for shift in -6i64..=6 {
            for spread in 1i64..=4 {
                let b = Histogram::new((0..8).map(|k| (10 + k * spread, 1 + k as u64 % 3)));
                let c = Histogram::new((0..6).map(|k| (10 + shift + k * 2, 2)));
                let ab = mann_whitney(&b, &c, TwoSided).expect("defined");
                let ba = mann_whitney(&c, &b, TwoSided).expect("defined");
                assert!((ab.p_value - ba.p_value).abs() < 1e-12, "{shift} {spread}");
                assert!((ab.z + ba.z).abs() < 1e-12);
                let greater = mann_whitney(&b, &c, Greater).expect("defined");
                let less = mann_whitney(&c, &b, Less).expect("defined");
                assert!((greater.p_value - less.p_value).abs() < 1e-12);
            }
        }
    }
}
