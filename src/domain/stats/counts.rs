//! `RateCounts`: trials and successes of one window (claims and denials), the input of every
//! proportion test and interval.

use serde::{Deserialize, Serialize};

/// `n` trials of which `x` are successes. Construction clamps `x ≤ n` so no test ever sees
/// an impossible table (a data error must not become a panic or a NaN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateCounts {
    pub n: u64,
    pub x: u64,
}

impl RateCounts {
    pub fn new(n: u64, x: u64) -> Self {
        Self { n, x: x.min(n) }
    }

    /// `x / n`, or `None` when there are no trials.
    pub fn rate(&self) -> Option<f64> {
        (self.n > 0).then(|| self.x as f64 / self.n as f64)
    }
}
