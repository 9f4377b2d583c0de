//! `Histogram`: a sample of integer day values stored as `(days, count)` bins — the shape SQL
//! returns — plus the order statistics the products need (median, mean, rank lookup).
//! Ranks, medians, Mann–Whitney and Hodges–Lehmann all work from bins, never from per-claim
//! vectors, so memory is bounded by distinct day values, not by claims.

use serde::{Deserialize, Serialize};

/// Bins sorted by `days`, one per distinct value, no zero counts (guaranteed by `new`, which
/// is also what deserialization goes through).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "Vec<(i64, u64)>", into = "Vec<(i64, u64)>")]
pub struct Histogram {
    bins: Vec<(i64, u64)>,
}

impl From<Vec<(i64, u64)>> for Histogram {
    fn from(bins: Vec<(i64, u64)>) -> Self {
        Self::new(bins)
    }
}

impl From<Histogram> for Vec<(i64, u64)> {
    fn from(h: Histogram) -> Self {
        h.bins
    }
}

impl Histogram {
    /// Normalizes any bin list: sorts, merges repeated day values, drops empty bins.
    pub fn new(bins: impl IntoIterator<Item = (i64, u64)>) -> Self {
        let mut raw: Vec<(i64, u64)> = bins.into_iter().filter(|&(_, c)| c > 0).collect();
        raw.sort_unstable_by_key(|&(d, _)| d);
        let mut merged: Vec<(i64, u64)> = Vec::with_capacity(raw.len());
        for (days, count) in raw {
            match merged.last_mut() {
                Some((d, c)) if *d == days => *c = c.saturating_add(count),
                _ => merged.push((days, count)),
            }
        }
        Self { bins: merged }
    }

    /// Builds a histogram from individual values (tests and small callers).
    pub fn from_values(values: &[i64]) -> Self {
        Self::new(values.iter().map(|&d| (d, 1)))
    }

    pub fn bins(&self) -> &[(i64, u64)] {
        &self.bins
    }

    pub fn total(&self) -> u64 {
        self.bins.iter().map(|&(_, c)| c).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// The value at 1-based `rank` in sorted order.
    pub fn value_at_rank(&self, rank: u64) -> Option<i64> {
        let mut seen = 0u64;
        for &(days, count) in &self.bins {
            seen += count;
            if rank >= 1 && rank <= seen {
                return Some(days);
            }
        }
        None
    }

    /// Median; an even count averages the two middle values as `(a + b) / 2.0`, the old
    /// system's arithmetic (exact for integer days).
    pub fn median(&self) -> Option<f64> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        if n % 2 == 1 {
            return self.value_at_rank(n / 2 + 1).map(|v| v as f64);
        }
        let a = self.value_at_rank(n / 2)? as f64;
        let b = self.value_at_rank(n / 2 + 1)? as f64;
        Some((a + b) / 2.0)
    }

    /// Arithmetic mean as `Σ days / n` in f64; the integer sum is exact, so this equals a
    /// sequential f64 sum of integer days (what the old system computed) below 2^53.
    pub fn mean(&self) -> Option<f64> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        let sum: i128 = self
            .bins
            .iter()
            .map(|&(d, c)| i128::from(d) * i128::from(c))
            .sum();
        Some(sum as f64 / n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_unsorted_repeated_and_empty_bins() {
        let h = Histogram::new(vec![(5, 2), (3, 0), (1, 1), (5, 3)]);
        assert_eq!(h.bins(), &[(1, 1), (5, 5)]);
        assert_eq!(h.total(), 6);
    }

    #[test]
    fn medians_from_bins() {
        // V8: 20×3 + 20×5 → 4.0; 20×6 + 20×7 → 6.5.
        assert_eq!(Histogram::new(vec![(3, 20), (5, 20)]).median(), Some(4.0));
        assert_eq!(Histogram::new(vec![(6, 20), (7, 20)]).median(), Some(6.5));
        // Mann–Whitney vector medians 14.5 → 20.0.
        let b = Histogram::from_values(&[10, 12, 12, 13, 14, 15, 15, 16, 18, 20]);
        let c = Histogram::from_values(&[14, 16, 17, 17, 19, 21, 22, 24, 25, 30]);
        assert_eq!(b.median(), Some(14.5));
        assert_eq!(c.median(), Some(20.0));
        assert_eq!(Histogram::from_values(&[7, 1, 9]).median(), Some(7.0));
    }

    #[test]
    fn empty_histogram_has_no_statistics() {
        let h = Histogram::default();
        assert_eq!(h.median(), None);
        assert_eq!(h.mean(), None);
        assert_eq!(h.value_at_rank(1), None);
    }

    #[test]
    fn serde_round_trip_normalizes() {
        let h: Histogram = serde_json::from_str("[[5,1],[2,2],[5,1]]").expect("valid json");
        assert_eq!(h.bins(), &[(2, 2), (5, 2)]);
        assert_eq!(
            serde_json::to_string(&h).expect("serializes"),
            "[[2,2],[5,2]]"
        );
    }
}
