//! Mann–Kendall trend test and the Theil–Sen slope, for a series observed at distinct times
//! (days, possibly with gaps). DelayGuard's sound trend uses them on daily median decision
//! days: rank-based, so one slow day cannot make a trend, and valid for any distribution of
//! the values (under no trend every ordering is equally likely).

use super::Alternative;
use super::special::{normal_p_value, sign};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// `S = Σ_{i<j} sgn(y_j − y_i)` with the points in time order.
    pub s: f64,
    /// Variance of S under no trend, corrected for ties in the values.
    pub var_s: f64,
    /// `(S − sgn(S)) / √var` (continuity-corrected), 0 when `S = 0`.
    pub z: f64,
    pub p_value: f64,
}

/// Mann–Kendall on `(time, value)` points (any order; times must be distinct for the test to
/// mean "later is higher"). `None` with fewer than 3 points. A series whose values are all
/// tied has no variance: p = 1.
pub fn mann_kendall(points: &[(f64, f64)], alternative: Alternative) -> Option<MannKendall> {
    if points.len() < 3 {
        return None;
    }
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = sorted.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            s += sign(sorted[j].1 - sorted[i].1);
        }
    }
    let nf = n as f64;
    let mut values: Vec<f64> = sorted.iter().map(|p| p.1).collect();
    values.sort_by(f64::total_cmp);
    let mut tie_term = 0.0;
    let mut run = 1usize;
    for k in 1..=values.len() {
        if k < values.len() && values[k] == values[k - 1] {
            run += 1;
            continue;
        }
        let t = run as f64;
        tie_term += t * (t - 1.0) * (2.0 * t + 5.0);
        run = 1;
    }
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_term) / 18.0;
    if var_s <= 0.0 || s == 0.0 {
        return Some(MannKendall {
            s,
            var_s: var_s.max(0.0),
            z: 0.0,
            p_value: if var_s <= 0.0 {
                1.0
            } else {
                normal_p_value(0.0, alternative)
            },
        });
    }
    let z = (s - sign(s)) / var_s.sqrt();
    Some(MannKendall {
        s,
        var_s,
        z,
        p_value: normal_p_value(z, alternative),
    })
}

/// Theil–Sen slope: the median of `(y_j − y_i)/(x_j − x_i)` over all pairs with distinct
/// times. `None` when no such pair exists.
pub fn theil_sen_slope(points: &[(f64, f64)]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            let dx = b.0 - a.0;
            if dx != 0.0 {
                slopes.push((b.1 - a.1) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let m = slopes.len();
    Some(if m % 2 == 1 {
        slopes[m / 2]
    } else {
        (slopes[m / 2 - 1] + slopes[m / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::test_support::assert_sig;

    fn series(values: &[f64]) -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as f64, v))
            .collect()
    }

    // Reference values: pymannkendall 1.4.3 `original_test` (two-sided p; S, var_s, z and
    // Sen's slope) and scipy 1.x `theilslopes` for the irregular-time case.

    #[test]
    fn increasing_series_with_one_tie() {
        let pts = series(&[1.0, 2.0, 2.0, 4.0, 3.0, 5.0, 7.0, 6.0, 8.0, 9.0]);
        let mk = mann_kendall(&pts, Alternative::TwoSided).expect("defined");
        assert_eq!(mk.s, 40.0);
        assert_eq!(mk.var_s, 124.0);
        assert_sig(mk.z, 3.502303389522111, 12);
        assert_sig(mk.p_value, 0.0004612540671704579, 8);
        let one_sided = mann_kendall(&pts, Alternative::Greater).expect("defined");
        assert_sig(one_sided.p_value, 0.0004612540671704579 / 2.0, 8);
        assert_sig(
            theil_sen_slope(&pts).expect("slope"),
            0.8888888888888888,
            12,
        );
    }

    #[test]
    fn decision_days_like_series() {
        let pts = series(&[
            24.0, 24.5, 23.0, 25.0, 26.0, 24.0, 27.0, 26.5, 28.0, 27.0, 29.0, 30.0,
        ]);
        let mk = mann_kendall(&pts, Alternative::TwoSided).expect("defined");
        assert_eq!(mk.s, 50.0);
        assert_sig(mk.var_s, 210.66666666666666, 12);
        assert_sig(mk.z, 3.3759668094834963, 12);
        assert_sig(mk.p_value, 0.0007355679222680322, 8);
        assert_eq!(theil_sen_slope(&pts), Some(0.5));
    }

    #[test]
    fn decreasing_series_is_not_a_rise() {
        let pts = series(&[10.0, 9.0, 8.0, 8.0, 7.0, 6.0, 5.0, 5.0]);
        let mk = mann_kendall(&pts, Alternative::TwoSided).expect("defined");
        assert_eq!(mk.s, -26.0);
        assert_sig(mk.var_s, 63.333333333333336, 12);
        assert_sig(mk.z, -3.141404312187716, 12);
        assert_sig(mk.p_value, 0.0016813974144125332, 8);
        let greater = mann_kendall(&pts, Alternative::Greater).expect("defined");
        assert!(greater.p_value > 0.99);
        assert_eq!(theil_sen_slope(&pts), Some(-0.75));
    }

    #[test]
    fn flat_series_has_p_one() {
        let pts = series(&[5.0; 5]);
        let mk = mann_kendall(&pts, Alternative::Greater).expect("defined");
        assert_eq!((mk.s, mk.var_s, mk.z, mk.p_value), (0.0, 0.0, 0.0, 1.0));
        assert_eq!(theil_sen_slope(&pts), Some(0.0));
    }

    #[test]
    fn irregular_times_use_the_real_gaps() {
        let pts = [
            (0.0, 24.0),
            (1.0, 25.0),
            (3.0, 23.0),
            (4.0, 27.0),
            (7.0, 26.0),
            (9.0, 29.0),
        ];
        assert_sig(
            theil_sen_slope(&pts).expect("slope"),
            0.5555555555555556,
            12,
        );
        // Input order does not matter: the test sorts by time.
        let mut reversed = pts;
        reversed.reverse();
        assert_eq!(
            mann_kendall(&pts, Alternative::Greater),
            mann_kendall(&reversed, Alternative::Greater)
        );
    }

    #[test]
    fn too_short_is_untestable() {
        assert!(mann_kendall(&series(&[1.0, 2.0]), Alternative::Greater).is_none());
        assert!(theil_sen_slope(&[(1.0, 2.0)]).is_none());
    }
}
