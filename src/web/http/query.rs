//! Query-string values every list page reads the same way: the page number, and the one
//! wording of a refused parameter.

use crate::web::errors::AppError;

/// The highest page number accepted: past any real list (the audit trail included), low
/// enough that the offset arithmetic stays far from overflow.
pub const MAX_PAGE: i64 = 1_000_000;

/// A 400 naming the parameter and what it expects.
pub fn bad_param(name: &str, expected: &str) -> AppError {
    AppError::BadRequest(format!(
        "The parameter '{name}' is not valid: expected {expected}."
    ))
}

/// The `page` parameter: absent or blank is page 1; anything but 1..=[`MAX_PAGE`] is a 400.
pub fn page_number(raw: Option<&str>) -> Result<i64, AppError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(1),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=MAX_PAGE).contains(p))
            .ok_or_else(|| bad_param("page", "a page number from 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_from_one_to_the_bound() {
        assert_eq!(page_number(None).ok(), Some(1));
        assert_eq!(page_number(Some("  ")).ok(), Some(1));
        assert_eq!(page_number(Some(" 7 ")).ok(), Some(7));
        assert_eq!(page_number(Some("1000000")).ok(), Some(MAX_PAGE));
        for bad in ["0", "-1", "x", "1000001", "1e3"] {
            assert!(page_number(Some(bad)).is_err(), "{bad}");
        }
    }
}
