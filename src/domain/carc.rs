//! Claim adjustment reason codes (CARC) in the product's own short words, for the codes
//! billing teams meet most. The code itself is always shown beside the words; a code not
//! listed here is shown alone.

/// (number, short description). Group codes (CO, PR, OA, PI, CR) say who owes; the number
/// says why, so the table is keyed by the number.
const REASONS: [(&str, &str); 24] = [
    ("1", "Deductible not yet met"),
    ("2", "Coinsurance share"),
    ("3", "Co-payment share"),
    (
        "4",
        "Procedure code does not fit the modifier, or a modifier is missing",
    ),
    ("11", "Diagnosis does not support the procedure"),
    ("15", "Authorization number missing or invalid"),
    ("16", "Claim is missing information or has a billing error"),
    ("18", "Duplicate claim or service"),
    (
        "22",
        "Another payer may be primary (coordination of benefits)",
    ),
    ("23", "Already adjusted by a prior payer"),
    ("27", "Coverage had ended on the date of service"),
    ("29", "Filed after the payer's time limit"),
    ("45", "Charge above the contracted or allowed amount"),
    ("50", "Payer judged the service not medically necessary"),
    ("96", "Service not covered by the plan"),
    ("97", "Paid as part of another service already paid"),
    ("109", "Claim sent to the wrong payer"),
    ("119", "Benefit maximum reached"),
    (
        "151",
        "Payer says the information does not support this many services",
    ),
    ("167", "Diagnosis not covered"),
    ("197", "Prior authorization or pre-certification missing"),
    (
        "204",
        "Service not covered by the patient's current benefit plan",
    ),
    ("236", "Procedure or modifier combination not allowed"),
    ("252", "Attachment or other documentation required"),
];

/// The short description of a reason code such as `CO-197`, `PR 1` or `197`.
pub fn describe(code: &str) -> Option<&'static str> {
    let number = code
        .trim()
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .trim_start_matches(['-', ' ']);
    REASONS
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, words)| *words)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn group_prefixes_and_bare_numbers_find_the_words() {
        assert_eq!(
            describe("CO-197"),
            Some("Prior authorization or pre-certification missing")
        );
        assert_eq!(describe("PR 1"), Some("Deductible not yet met"));
        assert_eq!(describe("45"), describe("CO-45"));
        assert_eq!(describe("CO-9999"), None);
        assert_eq!(describe(""), None);
    }
}
