//! Benjamini–Hochberg q-values: `q_(i) = min_{j≥i} min(1, p_(j)·m/j)` over the p-values of one
//! family (one metric of one run).

/// q-values in the input order. NaN p-values are treated as 1 (never significant).
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let clean = |p: f64| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p_values[a]).total_cmp(&clean(p_values[b])));
    let mut q = vec![1.0; m];
    let mut running_min = 1.0f64;
    // Walk from the largest p down so each q is the minimum over all j ≥ i.
    for (rank0, &idx) in order.iter().enumerate().rev() {
        let rank = (rank0 + 1) as f64;
        let candidate = (clean(p_values[idx]) * m as f64 / rank).min(1.0);
        running_min = running_min.min(candidate);
        q[idx] = running_min;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_family() {
        assert!(benjamini_hochberg(&[]).is_empty());
    }

    #[test]
    fn single_test_keeps_its_p() {
        assert_eq!(benjamini_hochberg(&[0.0345]), vec![0.0345]);
    }

    #[test]
    fn textbook_example() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2]);
        let expected = [0.04, 0.04 * 4.0 / 3.0, 0.04 * 4.0 / 3.0, 0.2];
        for (a, e) in q.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn property_q_monotone_in_p_and_not_below_p() {
        // A deterministic grid of families: q must order like p, never fall below p, ≤ 1.
        for m in 1..=12usize {
            for seed in 0..10u64 {
                let p: Vec<f64> = (0..m)
                    .map(|i| {
                        let v = ((i as u64 + 1) * 2_654_435_761 + seed * 40_503) % 10_007;
                        (v as f64 / 10_007.0).powi(3)
                    })
                    .collect();
                let q = benjamini_hochberg(&p);
                for i in 0..m {
                    // p·m/m may round one ulp below p.
                    assert!(q[i] >= p[i] * (1.0 - 1e-12) && q[i] <= 1.0);
                    for j in 0..m {
                        if p[i] <= p[j] {
                            assert!(q[i] <= q[j], "p {p:?} q {q:?}");
                        }
                    }
                }
            }
        }
    }
}
