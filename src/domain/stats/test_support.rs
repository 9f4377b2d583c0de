//! Assertions for the documented vectors: "to N significant digits" and "to N decimals" mean
//! the value rounds to what the document prints (half a unit in the last printed place).

/// `actual` agrees with `expected` to `digits` significant digits.
#[track_caller]
pub(crate) fn assert_sig(actual: f64, expected: f64, digits: i32) {
    let magnitude = expected.abs().log10().floor() as i32;
    let half_unit = 0.5 * 10f64.powi(magnitude - digits + 1);
    assert!(
        (actual - expected).abs() <= half_unit * (1.0 + 1e-9),
        "{actual} ≠ {expected} to {digits} significant digits"
    );
}

/// `actual` agrees with `expected` to `decimals` decimal places.
#[track_caller]
pub(crate) fn assert_dp(actual: f64, expected: f64, decimals: i32) {
    let half_unit = 0.5 * 10f64.powi(-decimals);
    assert!(
        (actual - expected).abs() <= half_unit * (1.0 + 1e-9),
        "{actual} ≠ {expected} to {decimals} decimals"
    );
}
