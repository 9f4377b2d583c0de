//! Hodges–Lehmann shift: the median of all pairwise differences `c_j − b_i`, computed exactly
//! from two histograms by weighting each pair of bins with `count_b · count_c` and merging
//! equal differences — never materializing the `n_b · n_c` pairs.

use std::collections::BTreeMap;

use super::Histogram;

/// `None` when either sample is empty. An even number of pairs averages the two middle
/// differences.
pub fn hodges_lehmann_shift(baseline: &Histogram, current: &Histogram) -> Option<f64> {
    let total_pairs = u128::from(baseline.total()) * u128::from(current.total());
    if total_pairs == 0 {
        return None;
    }
    if let Some(shift) = dense_shift(baseline, current, total_pairs) {
        return Some(shift);
    }
    // Integer days ⇒ integer differences; a map keyed by difference stays as small as the
    // range of differences, however many claims there are.
    let mut weights: BTreeMap<i64, u128> = BTreeMap::new();
    for &(b, count_b) in baseline.bins() {
        for &(c, count_c) in current.bins() {
            *weights.entry(c.saturating_sub(b)).or_insert(0) +=
                u128::from(count_b) * u128::from(count_c);
        }
    }
    median_of(weights.iter().map(|(&diff, &w)| (diff, w)), total_pairs)
}

/// Differences spanning at most this many values are weighted in an array indexed by
/// difference instead of a map: decision days span a few hundred values, so a DriftWatch
/// run's ≈ 100 groups × 2 modes × (bins_b × bins_c ≈ 15,000 pairs at 50M claims) map
/// inserts became array adds (the map was 9 % of the run's CPU, docs/performance.md).
const DENSE_DIFFERENCES: i128 = 1 << 16;

/// The shift from an array of weights per difference, when the differences' range is
/// small (and exact in `i64`: no saturation to mimic); `None` otherwise.
fn dense_shift(baseline: &Histogram, current: &Histogram, total_pairs: u128) -> Option<f64> {
    let (b, c) = (baseline.bins(), current.bins());
    let lo = i128::from(c.first()?.0) - i128::from(b.last()?.0);
    let hi = i128::from(c.last()?.0) - i128::from(b.first()?.0);
    if hi - lo >= DENSE_DIFFERENCES || lo < i128::from(i64::MIN) || hi > i128::from(i64::MAX) {
        return None;
    }
    let lo = i64::try_from(lo).ok()?;
    let mut weights = vec![0u128; usize::try_from(hi - i128::from(lo) + 1).ok()?];
    for &(b, count_b) in b {
        for &(c, count_c) in c {
            // c − b lies in [lo, hi] (bins are sorted), so the index is in range.
            weights[(c - b - lo) as usize] += u128::from(count_b) * u128::from(count_c);
        }
    }
    median_of(
        weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0)
            .map(|(k, &w)| (lo + k as i64, w)),
        total_pairs,
    )
}

/// The median difference of weighted differences given in ascending order.
fn median_of(weights: impl Iterator<Item = (i64, u128)> + Clone, total_pairs: u128) -> Option<f64> {
    let value_at = |rank: u128| {
        let mut seen = 0u128;
        weights.clone().find_map(|(diff, w)| {
            seen += w;
            (rank <= seen).then_some(diff as f64)
        })
    };
    if total_pairs % 2 == 1 {
        value_at(total_pairs / 2 + 1)
    } else {
        Some((value_at(total_pairs / 2)? + value_at(total_pairs / 2 + 1)?) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytics_md_vectors() {
        let b = Histogram::from_values(&[10, 12, 12, 13, 14, 15, 15, 16, 18, 20]);
        let c = Histogram::from_values(&[14, 16, 17, 17, 19, 21, 22, 24, 25, 30]);
        assert_eq!(hodges_lehmann_shift(&b, &c), Some(5.5));
        // V7: all 10 d → all 14 d; V8: {3,5} ×20 → {6,7} ×20.
        let v7 = hodges_lehmann_shift(&Histogram::new([(10, 40)]), &Histogram::new([(14, 40)]));
        assert_eq!(v7, Some(4.0));
        let v8 = hodges_lehmann_shift(
            &Histogram::new([(3, 20), (5, 20)]),
            &Histogram::new([(6, 20), (7, 20)]),
        );
        assert_eq!(v8, Some(2.5));
    }

    #[test]
    fn matches_brute_force_on_small_samples() {
        let b_values = [3i64, 3, 4, 8, 9, 9, 9, 15];
        let c_values = [5i64, 7, 7, 12, 20];
        let mut diffs: Vec<i64> = b_values
            .iter()
            .flat_map(|b| c_values.iter().map(move |c| c - b))
            .collect();
        diffs.sort_unstable();
        let m = diffs.len();
        let brute = (diffs[m / 2 - 1] + diffs[m / 2]) as f64 / 2.0;
        let hl = hodges_lehmann_shift(
            &Histogram::from_values(&b_values),
            &Histogram::from_values(&c_values),
        );
        assert_eq!(hl, Some(brute));
    }

    #[test]
    fn empty_sample_has_no_shift() {
        assert_eq!(
            hodges_lehmann_shift(&Histogram::default(), &Histogram::new([(3, 1)])),
            None
        );
    }

    #[test]
    fn property_antisymmetric_under_swap() {
        for offset in -5i64..=5 {
            for width in 1u64..=5 {
                let b = Histogram::new((0..5).map(|k| (k * 2, width + k as u64)));
                let c =
                    Histogram::new((0..4).map(|k| (offset + k * 3, 1 + (k as u64 * width) % 4)));
                let forward = hodges_lehmann_shift(&b, &c).expect("defined");
                let backward = hodges_lehmann_shift(&c, &b).expect("defined");
                assert_eq!(forward, -backward, "offset {offset} width {width}");
            }
        }
    }

    /// Differences over a range too wide for the array go through the map, and both give
    /// the brute-force median.
    #[test]
    fn wide_and_narrow_ranges_agree_with_brute_force() {
        for spread in [1i64, 1_000, 100_000, i64::MAX / 4] {
            let b_values = [0i64, 2, 2, 5, spread, spread];
            let c_values = [1i64, 3, spread / 2, spread / 2, spread];
            let mut diffs: Vec<i64> = b_values
                .iter()
                .flat_map(|b| c_values.iter().map(move |c| c - b))
                .collect();
            diffs.sort_unstable();
            let m = diffs.len();
            let brute = (diffs[m / 2 - 1] as f64 + diffs[m / 2] as f64) / 2.0;
            let hl = hodges_lehmann_shift(
                &Histogram::from_values(&b_values),
                &Histogram::from_values(&c_values),
            );
            assert_eq!(hl, Some(brute), "spread {spread}");
        }
    }
}
