//! Numbers as a billing person reads them (issue 17 item 5): thousands separators, money
//! as `$`, rates as `%`, never `e-` notation, certainty in words.

/// A message as a sentence: first letter upper-case, a full stop at the end (stored
/// messages are lower-case fragments joined by `;` and `:`).
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whole dollars with separators: `12345.6` → `$12,346`; negatives as `−$12`.
pub fn dollars(amount: f64) -> String {
    if !amount.is_finite() {
        return "$0".into();
    }
    let rounded = amount.abs().round();
    let text = format!("${}", thousands(rounded as u64));
    if amount < 0.0 && rounded > 0.0 {
        format!("−{text}")
    } else {
        text
    }
}

/// A rate (0–1) as a percentage with one decimal: `0.1134` → `11.3 %`.
pub fn percent(rate: f64) -> String {
    if !rate.is_finite() {
        return "–".into();
    }
    format!("{:.1} %", rate * 100.0)
}

/// A change of a rate in percentage points, signed: `+34.0 points`.
pub fn points(delta: f64) -> String {
    if !delta.is_finite() {
        return "–".into();
    }
    let sign = if delta >= 0.0 { "+" } else { "−" };
    format!("{sign}{:.1} points", (delta * 100.0).abs())
}

/// Days with one decimal, signed when asked: `+12.0 days`.
pub fn days(value: f64, signed: bool) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let unit = if (value.abs() - 1.0).abs() < 0.05 {
        "day"
    } else {
        "days"
    };
    match (signed, value < 0.0) {
        (true, true) => format!("−{:.1} {unit}", value.abs()),
        (true, false) => format!("+{value:.1} {unit}"),
        (false, _) => format!("{value:.1} {unit}"),
    }
}

/// How sure, in words, from a (multiplicity-adjusted) p or q value: how often a change this
/// large would appear by chance alone. Never scientific notation.
pub fn certainty(p: f64) -> String {
    if !p.is_finite() || p < 0.0 {
        return "certainty unknown".into();
    }
    let bands: [(f64, &str); 5] = [
        (
            1e-6,
            "would happen by chance less than once in a million such comparisons",
        ),
        (
            1e-4,
            "would happen by chance less than once in 10,000 such comparisons",
        ),
        (
            1e-3,
            "would happen by chance less than once in 1,000 such comparisons",
        ),
        (
            1e-2,
            "would happen by chance less than once in 100 such comparisons",
        ),
        (
            5e-2,
            "would happen by chance less than once in 20 such comparisons",
        ),
    ];
    for (limit, words) in bands {
        if p < limit {
            return words.into();
        }
    }
    let one_in = (1.0 / p.max(1e-9)).round().max(1.0) as u64;
    format!(
        "could happen by chance about once in {} such comparisons",
        thousands(one_in)
    )
}

/// A plain decimal with separators in the integer part and `decimals` digits, never
/// `e-` notation (tiny values read as `0.00`).
pub fn decimal(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int = int
        .parse::<u64>()
        .map_or_else(|_| int.to_string(), thousands);
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "−"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// `value` rounded to `decimals` places, for a number cell of an export (issue 19 item 7:
/// rates to 0.1 point, not 17-digit fractions). Rounded through its decimal text, so the
/// result prints as exactly those digits.
pub fn round_to(value: f64, decimals: usize) -> f64 {
    if !value.is_finite() {
        return value;
    }
    format!("{value:.decimals$}").parse().unwrap_or(value)
}

/// `value` to `digits` significant digits (p-values: `0.000012345…` → `0.000012`).
pub fn significant(value: f64, digits: usize) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let precision = digits.saturating_sub(1);
    format!("{value:.precision$e}").parse().unwrap_or(value)
}

#[cfg(test)]
mod tests {

    #[test]
    fn stored_messages_read_as_sentences() {
        assert_eq!(
            sentence("the file is empty. Export the claims again"),
            "The file is empty. Export the claims again."
        );
        assert_eq!(sentence("Already one."), "Already one.");
        assert_eq!(sentence("  "), "");
    }
    use super::*;

    #[test]
    fn export_numbers_are_rounded_for_people() {
        assert_eq!(
            round_to(0.113_400_000_000_000_02 * 100.0, 1).to_string(),
            "11.3"
        );
        assert_eq!(round_to(-3.06, 1).to_string(), "-3.1");
        assert_eq!(significant(0.000_012_345_678_9, 2).to_string(), "0.000012");
        assert_eq!(significant(0.046_8, 2).to_string(), "0.047");
        assert_eq!(significant(0.0, 2), 0.0);
        assert_eq!(significant(3.1e-137, 2), 3.1e-137);
        assert!(round_to(f64::NAN, 1).is_nan());
    }

    #[test]
    fn numbers_read_like_a_billing_report() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(dollars(12_345.6), "$12,346");
        assert_eq!(dollars(-12.0), "−$12");
        assert_eq!(dollars(f64::NAN), "$0");
        assert_eq!(percent(0.1134), "11.3 %");
        assert_eq!(points(0.34), "+34.0 points");
        assert_eq!(points(-0.031), "−3.1 points");
        assert_eq!(days(12.0, true), "+12.0 days");
        assert_eq!(days(1.0, false), "1.0 day");
        assert_eq!(decimal(1_234.567_8, 2), "1,234.57");
        assert_eq!(decimal(3.1e-137, 2), "0.00");
    }

    #[test]
    fn certainty_is_words_never_exponents() {
        assert_eq!(
            certainty(3.1e-137),
            "would happen by chance less than once in a million such comparisons"
        );
        assert_eq!(
            certainty(5e-5),
            "would happen by chance less than once in 10,000 such comparisons"
        );
        assert_eq!(
            certainty(0.2),
            "could happen by chance about once in 5 such comparisons"
        );
        for p in [1e-300, 1e-12, 0.0004, 0.03, 0.5, 1.0] {
            assert!(!certainty(p).contains("e-"), "{p}");
        }
    }
}
