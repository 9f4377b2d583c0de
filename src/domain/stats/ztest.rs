//! Pooled two-proportion z-test: `z = (p̂_c − p̂_b)/√(p̄(1−p̄)(1/n_b+1/n_c))`.

use serde::{Deserialize, Serialize};

use super::special::normal_p_value;
use super::{Alternative, RateCounts};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZTest {
    pub z: f64,
    pub p_value: f64,
}

/// `None` when a window is empty or the pooled rate is 0 or 1 (no variance: the z-test has
/// nothing to say; the automatic choice sends such tables to Fisher anyway).
pub fn two_proportion_z(
    baseline: RateCounts,
    current: RateCounts,
    alternative: Alternative,
) -> Option<ZTest> {
    let p_b = baseline.rate()?;
    let p_c = current.rate()?;
    let (n_b, n_c) = (baseline.n as f64, current.n as f64);
    let pooled = (baseline.x + current.x) as f64 / (n_b + n_c);
    let variance = pooled * (1.0 - pooled) * (1.0 / n_b + 1.0 / n_c);
    if variance <= 0.0 || !variance.is_finite() {
        return None;
    }
    let z = (p_c - p_b) / variance.sqrt();
    Some(ZTest {
        z,
        p_value: normal_p_value(z, alternative),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::Alternative::TwoSided;
    use crate::domain::stats::test_support::{assert_dp, assert_sig};

    fn z(b: (u64, u64), c: (u64, u64)) -> ZTest {
        two_proportion_z(
            RateCounts::new(b.0, b.1),
            RateCounts::new(c.0, c.1),
            TwoSided,
        )
        .expect("defined")
    }

    #[test]
    fn reference_values_from_analytics_md() {
        // (baseline n, x), (current n, x), z, p, significant digits printed for p —
        // "the pooled z-test alone gives …" plus S4 and S7 of the 8-group run.
        let cases = [
            ((200, 24), (30, 4), 0.2083, 0.8350, 4),
            ((200, 24), (30, 9), 2.6225, 0.0087, 2),
            ((193, 23), (30, 12), 3.9339, 8.359e-5, 4),
            ((100, 10), (40, 6), 0.8400, 0.4009, 4),
            ((50, 10), (50, 30), 4.0825, 4.456e-5, 4),
            ((600, 72), (100, 22), 2.7153, 0.006621, 4),
        ];
        for (b, c, zz, p, digits) in cases {
            let t = z(b, c);
            assert_dp(t.z, zz, 4);
            assert_sig(t.p_value, p, digits);
        }
    }

    #[test]
    fn degenerate_tables_have_no_z() {
        let none = |b: RateCounts, c: RateCounts| two_proportion_z(b, c, TwoSided).is_none();
        assert!(none(RateCounts::new(0, 0), RateCounts::new(10, 1)));
        assert!(none(RateCounts::new(10, 0), RateCounts::new(10, 0)));
        assert!(none(RateCounts::new(10, 10), RateCounts::new(10, 10)));
    }
}
