//! Claim adjustment reason codes (CARC) and remittance advice remark codes (RARC: `N…`,
//! `M…`, `MA…`) in the product's own short words, for the codes billing teams meet most.
//! The code itself is always shown beside the words; a code not listed here is shown alone.

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

/// Remark codes (RARC), keyed by the whole code. Our own words, not the X12 text.
const REMARKS: [(&str, &str); 32] = [
    ("M15", "Bundled tests paid as one service"),
    ("M20", "HCPCS code missing or invalid"),
    ("M51", "Procedure code missing or invalid"),
    ("M76", "Diagnosis code missing or incomplete"),
    ("M77", "Place of service missing or invalid"),
    (
        "M80",
        "Not paid when billed with another service on the same day",
    ),
    (
        "M86",
        "Service denied because paid in full for an earlier one",
    ),
    ("M119", "Drug code (NDC) missing or invalid"),
    ("M127", "Medical records or report needed to process"),
    (
        "MA04",
        "Secondary payment not possible: primary payment missing or unclear",
    ),
    ("MA18", "Claim forwarded to the supplemental insurer"),
    ("MA63", "Principal diagnosis missing or invalid"),
    (
        "MA130",
        "Claim has incomplete or invalid data: correct and send a new claim",
    ),
    (
        "N4",
        "Prior payer's explanation of benefits missing or incomplete",
    ),
    (
        "N20",
        "Service not paid on its own; paid as part of another",
    ),
    ("N56", "Procedure does not match the diagnosis on file"),
    (
        "N95",
        "Provider type or specialty may not bill this service",
    ),
    ("N115", "Decided under a local coverage policy (LCD)"),
    ("N130", "Check the plan's benefit limits and exclusions"),
    ("N179", "Requested information arrived incomplete"),
    ("N211", "Appeal not possible for this decision"),
    ("N290", "Rendering provider ID missing or invalid"),
    ("N362", "Units billed exceed what the payer allows"),
    ("N386", "Decided under a national coverage policy (NCD)"),
    ("N425", "Statutorily excluded service"),
    ("N432", "Adjusted because of the patient's other coverage"),
    ("N479", "Missing proof of the other payer's decision"),
    ("N522", "Duplicate of a claim already being processed"),
    (
        "N657",
        "Charge must be billed together with the related service",
    ),
    ("N765", "Patient's coverage with this payer not confirmed"),
    ("N781", "Patient's deductible applied to this service"),
    ("N822", "Missing procedure modifier"),
];

/// Whether `code` has the shape of a remark code: `N`, `M` or `MA` then digits.
fn remark(code: &str) -> Option<&'static str> {
    let upper = code.trim().to_ascii_uppercase();
    let digits = upper
        .strip_prefix("MA")
        .or_else(|| upper.strip_prefix('N'))
        .or_else(|| upper.strip_prefix('M'))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    REMARKS
        .iter()
        .find(|(c, _)| *c == upper)
        .map(|(_, words)| *words)
}

/// Whether `code` is shaped like a remark code (even one not in our table), so it is never
/// read as a CARC number (`N4` is not CARC 4).
fn is_remark(code: &str) -> bool {
    let upper = code.trim().to_ascii_uppercase();
    upper
        .strip_prefix("MA")
        .or_else(|| upper.strip_prefix('N'))
        .or_else(|| upper.strip_prefix('M'))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Each remark code of a stored list (`N130 MA130`, spaces or commas) with its words, or an
/// empty string when the code is not in our table.
pub fn describe_remarks(list: &str) -> Vec<(String, &'static str)> {
    list.split([' ', ','])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| (c.to_string(), describe(c).unwrap_or("")))
        .collect()
}

/// The short description of a reason code such as `CO-197`, `PR 1` or `197`, or of a
/// remark code such as `N130` or `MA04`.
pub fn describe(code: &str) -> Option<&'static str> {
    if is_remark(code) {
        return remark(code);
    }
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

    #[test]
    fn remark_codes_have_their_own_words_and_are_never_read_as_carc_numbers() {
        assert_eq!(
            describe("N130"),
            Some("Check the plan's benefit limits and exclusions")
        );
        assert_eq!(describe("ma130"), describe("MA130"));
        assert!(describe("MA130").is_some());
        assert!(describe("M15").is_some());
        // N4 is a remark code, not CARC 4; an unknown remark code has no words.
        assert_ne!(describe("N4"), describe("4"));
        assert_eq!(describe("N9999"), None);
        assert_eq!(describe("M1"), None);
        for (code, words) in super::REMARKS {
            assert_eq!(describe(code), Some(words), "{code}");
        }
        assert_eq!(
            super::describe_remarks("N130 MA130,N9999"),
            vec![
                ("N130".to_string(), describe("N130").unwrap_or("")),
                ("MA130".to_string(), describe("MA130").unwrap_or("")),
                ("N9999".to_string(), ""),
            ]
        );
    }
}
