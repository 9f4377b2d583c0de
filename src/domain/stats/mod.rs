//! Pure statistics for the analytics products: proportion tests (pooled z, Fisher's exact and
//! the automatic choice between them), Benjamini–Hochberg q-values, Wilson and Newcombe
//! intervals, Mann–Whitney U and the Hodges–Lehmann shift computed from day histograms, Mann–Kendall
//! and Theil–Sen for trends, the
//! conditional-binomial Poisson rate test, and the one severity-label mapping.
//!
//! Nothing here knows about payers, windows or modes (that is `domain::analytics`); nothing
//! here panics on empty input: functions that cannot answer return `None`.

mod bh;
mod counts;
mod fisher;
mod histogram;
mod hodges_lehmann;
mod intervals;
mod mann_kendall;
mod mann_whitney;
mod poisson;
mod proportion;
mod severity;
mod special;
#[cfg(test)]
pub(crate) mod test_support;
mod ztest;

pub use bh::benjamini_hochberg;
pub use counts::RateCounts;
pub use fisher::fisher_exact;
pub use histogram::Histogram;
pub use hodges_lehmann::hodges_lehmann_shift;
pub use intervals::{Interval, newcombe_difference, wilson_interval};
pub use mann_kendall::{MannKendall, mann_kendall, theil_sen_slope};
pub use mann_whitney::{MannWhitney, mann_whitney};
pub use poisson::{PoissonRateTest, poisson_rate_test};
pub use proportion::{ProportionTest, TestMethod, compare_proportions, expected_cells_at_least};
pub use severity::SeverityLabel;
pub use ztest::{ZTest, two_proportion_z};

use serde::{Deserialize, Serialize};

/// Which alternative hypothesis a test answers. "Greater" always means the *current* sample
/// (rate, days, count) is larger than the baseline one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    TwoSided,
    Greater,
    Less,
}
