//! The two special functions everything else needs, in one place so the choice of library
//! (statrs, default features off: no rand, no nalgebra) is a one-file decision; and the
//! sign function the rank tests share.

use std::f64::consts::SQRT_2;

use super::Alternative;

/// `ln C(n, k)` via ln-gamma; exact enough for hypergeometric and binomial sums in log space.
pub(crate) fn ln_choose(n: u64, k: u64) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    let ln_gamma = statrs::function::gamma::ln_gamma;
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// p-value of a standard-normal statistic `z` for the given alternative. `erfc` keeps the
/// far tail accurate (Mann–Whitney p-values around 1e-19 must not round to 0).
pub(crate) fn normal_p_value(z: f64, alternative: Alternative) -> f64 {
    let erfc = statrs::function::erf::erfc;
    let p = match alternative {
        Alternative::TwoSided => erfc(z.abs() / SQRT_2),
        Alternative::Greater => 0.5 * erfc(z / SQRT_2),
        Alternative::Less => 0.5 * erfc(-z / SQRT_2),
    };
    p.clamp(0.0, 1.0)
}

/// `sgn` with sgn(0) = 0 (f64::signum would give ±1 for ±0); NaN is 0.
pub(crate) fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}
