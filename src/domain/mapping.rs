//! Mapping rules (SPEC §2, "Mappings"): the normalized lookup key of payer aliases, and the
//! default CPT-group table every tenant starts with. Storage of tenant mappings and their
//! precedence over these defaults live in the repository layer.

/// CPT group names of the default table.
pub const EVAL_MGMT: &str = "EVAL_MGMT";
pub const IMAGING: &str = "IMAGING";
pub const LAB: &str = "LAB";
pub const THERAPY: &str = "THERAPY";
pub const SURGERY: &str = "SURGERY";
pub const OTHER: &str = "OTHER";

/// Every group the default table can produce (for seeding and filter lists).
pub const DEFAULT_CPT_GROUPS: [&str; 6] = [EVAL_MGMT, IMAGING, LAB, THERAPY, SURGERY, OTHER];

/// Lookup key for a payer name: trimmed, internal whitespace runs collapsed to one space,
/// lowercased (Unicode-aware). "  Blue  Cross\tBlue Shield " → "blue cross blue shield".
pub fn payer_key(raw: &str) -> String {
    let mut key = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        key.extend(word.chars().flat_map(char::to_lowercase));
    }
    key
}

/// One inclusive range of five-digit CPT codes of the default table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CptRange {
    pub first: u32,
    pub last: u32,
    pub group: &'static str,
}

/// The default table as ranges, in precedence order: the first range containing a code wins.
/// Narrow ranges come first because they sit inside broader rules' number space: 97xxx is
/// THERAPY although THERAPY, like E&M, lies in the 9xxxx block. Seeding ranges (not ~80,000
/// single codes) keeps a new tenant's table small; exact tenant mappings override them.
pub const DEFAULT_CPT_RANGES: [CptRange; 5] = [
    CptRange {
        first: 99202,
        last: 99215,
        group: EVAL_MGMT,
    },
    CptRange {
        first: 97000,
        last: 97999,
        group: THERAPY,
    },
    CptRange {
        first: 70000,
        last: 79999,
        group: IMAGING,
    },
    CptRange {
        first: 80000,
        last: 89999,
        group: LAB,
    },
    CptRange {
        first: 10000,
        last: 69999,
        group: SURGERY,
    },
];

/// Default CPT group of a code (trimmed, exactly as validated by `claim::CptCode`).
/// Category II/III codes (4 digits + a letter), codes outside every range (00100–09999
/// anesthesia, 90000–96999, 98000–99201, 99216+) and anything malformed → `OTHER`.
pub fn default_cpt_group(code: &str) -> &'static str {
    let b = code.as_bytes();
    if b.len() != 5 || !b.iter().all(u8::is_ascii_digit) {
        return OTHER;
    }
    let n = b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    DEFAULT_CPT_RANGES
        .iter()
        .find(|r| (r.first..=r.last).contains(&n))
        .map_or(OTHER, |r| r.group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payer_keys() {
        assert_eq!(
            payer_key("  Blue  Cross\tBlue Shield "),
            "blue cross blue shield"
        );
        assert_eq!(payer_key("UHC"), "uhc");
        assert_eq!(payer_key("ÄRZTE Kasse"), "ärzte kasse");
        assert_eq!(payer_key("   "), "");
        assert_eq!(payer_key("AETNA"), payer_key("aetna"));
    }

    #[test]
    fn default_groups_and_precedence() {
        for (code, group) in [
            ("99202", EVAL_MGMT),
            ("99213", EVAL_MGMT),
            ("99215", EVAL_MGMT),
            ("99201", OTHER),
            ("99216", OTHER),
            ("99281", OTHER),
            ("97110", THERAPY),
            ("97000", THERAPY),
            ("97999", THERAPY),
            ("96999", OTHER),
            ("98000", OTHER),
            ("70450", IMAGING),
            ("79999", IMAGING),
            ("80053", LAB),
            ("89999", LAB),
            ("10000", SURGERY),
            ("29881", SURGERY),
            ("69999", SURGERY),
            ("09999", OTHER),
            ("00100", OTHER),
            ("90000", OTHER),
            ("0001F", OTHER),
            ("0075T", OTHER),
            ("", OTHER),
            ("9921", OTHER),
            ("992130", OTHER),
        ] {
            assert_eq!(default_cpt_group(code), group, "{code}");
        }
    }

    #[test]
    fn ranges_use_known_groups() {
        for r in DEFAULT_CPT_RANGES {
            assert!(r.first <= r.last);
            assert!(DEFAULT_CPT_GROUPS.contains(&r.group));
        }
    }
}
