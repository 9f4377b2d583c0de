//! Automatic choice of the two-proportion test: the pooled z-test only when every expected
//! cell is ≥ 5 (where its normal approximation holds), Fisher's exact test otherwise.

use serde::{Deserialize, Serialize};

use super::{Alternative, RateCounts, fisher_exact, two_proportion_z};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestMethod {
    ZTest,
    FisherExact,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProportionTest {
    pub method: TestMethod,
    /// The z statistic when the z-test was used.
    pub z: Option<f64>,
    pub p_value: f64,
}

/// True when `n·p̄` and `n·(1−p̄)` are ≥ `minimum` for both windows.
pub fn expected_cells_at_least(baseline: RateCounts, current: RateCounts, minimum: f64) -> bool {
    let total = baseline.n + current.n;
    if total == 0 {
        return false;
    }
    let pooled = (baseline.x + current.x) as f64 / total as f64;
    [baseline.n, current.n].iter().all(|&n| {
        let n = n as f64;
        n * pooled >= minimum && n * (1.0 - pooled) >= minimum
    })
}

/// Tests `current` against `baseline`; `None` when either window is empty.
pub fn compare_proportions(
    baseline: RateCounts,
    current: RateCounts,
    alternative: Alternative,
) -> Option<ProportionTest> {
    if expected_cells_at_least(baseline, current, 5.0)
        && let Some(t) = two_proportion_z(baseline, current, alternative)
    {
        return Some(ProportionTest {
            method: TestMethod::ZTest,
            z: Some(t.z),
            p_value: t.p_value,
        });
    }
    fisher_exact(baseline, current, alternative).map(|p_value| ProportionTest {
        method: TestMethod::FisherExact,
        z: None,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::Alternative::TwoSided;

    fn method(b: (u64, u64), c: (u64, u64)) -> TestMethod {
        compare_proportions(
            RateCounts::new(b.0, b.1),
            RateCounts::new(c.0, c.1),
            TwoSided,
        )
        .expect("defined")
        .method
    }

    #[test]
    fn choice_follows_expected_cells() {
        // S4 and S7 have all expected cells ≥ 5; S1 (current 30 × 12 % = 3.7) does not.
        assert_eq!(method((50, 10), (50, 30)), TestMethod::ZTest);
        assert_eq!(method((600, 72), (100, 22)), TestMethod::ZTest);
        assert_eq!(method((200, 24), (30, 4)), TestMethod::FisherExact);
        assert_eq!(method((60, 0), (30, 2)), TestMethod::FisherExact);
    }

    #[test]
    fn empty_windows_are_untestable() {
        let empty = RateCounts::new(0, 0);
        assert_eq!(compare_proportions(empty, empty, TwoSided), None);
        assert!(!expected_cells_at_least(empty, empty, 5.0));
    }
}
