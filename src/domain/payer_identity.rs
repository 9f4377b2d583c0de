//! Payer identity (SPEC §2 "Payer identity"): billing exports spell one payer many ways
//! (`UHC`, `United Healthcare`, `UnitedHealthcare`), and each spelling taken as its own payer
//! splits the payer's claims and costs the tests their power. The canonical payer of a raw
//! name is, in order: the tenant's alias (handled by the caller), a built-in table of common
//! US payers matched on a normalised key, else the tenant's spellings sharing that key merged
//! under the most frequent spelling *as written*.
//!
//! The key is for matching only: case, punctuation and corporate suffixes (Inc, Corp,
//! Healthcare, …) are removed, and the remaining words joined without spaces, so
//! `Aetna Inc.`, `AETNA` and `aetna` share the key `aetna`.

use std::collections::HashMap;

/// Why a raw name got its canonical payer (shown on the mappings page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeReason {
    /// The tenant's own alias.
    Alias,
    /// The built-in table of common US payers.
    BuiltIn,
    /// Spellings sharing one key, merged under the most frequent.
    SameKey,
    /// 835 remittances naming the payer differently but with the same payer id
    /// (N1*PR04 or REF*2U).
    SamePayerId,
    /// Nothing to merge with: the name as written.
    AsWritten,
}

impl MergeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alias => "alias",
            Self::BuiltIn => "built_in",
            Self::SameKey => "same_key",
            Self::SamePayerId => "same_payer_id",
            Self::AsWritten => "as_written",
        }
    }

    /// Plain words for the mappings page.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Alias => "your alias",
            Self::BuiltIn => "a common US payer name or abbreviation",
            Self::SameKey => "the same name apart from case, punctuation or a suffix such as Inc",
            Self::SamePayerId => "the same payer id in the 835 remittances (N1*PR04 or REF*2U)",
            Self::AsWritten => "no other spelling",
        }
    }
}

/// Trailing words dropped from the key (repeatedly: `Foo Healthcare Inc` → `foo`).
const SUFFIXES: [&str; 16] = [
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "llc",
    "ltd",
    "plc",
    "lp",
    "healthcare",
    "health care",
    "insurance",
    "ins",
    "group",
    "of america",
];

/// Normalised matching key: lowercase letters and digits of each word, trailing corporate
/// suffixes removed (never the whole name), words joined without spaces. Empty for a name
/// with no letters or digits.
pub fn identity_key(raw: &str) -> String {
    let lowered = raw.to_lowercase().replace('&', " and ");
    let mut words: Vec<String> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    loop {
        let before = words.len();
        for suffix in SUFFIXES {
            let parts: Vec<&str> = suffix.split(' ').collect();
            if words.len() > parts.len()
                && words[words.len() - parts.len()..]
                    .iter()
                    .zip(&parts)
                    .all(|(w, p)| w == p)
            {
                words.truncate(words.len() - parts.len());
            }
        }
        if words.len() == before {
            break;
        }
    }
    words.concat()
}

/// Built-in canonical names of common US payers, by key (`identity_key` of each spelling).
const BUILT_IN: [(&str, &[&str]); 18] = [
    (
        "UnitedHealthcare",
        &[
            "unitedhealthcare",
            "united",
            "uhc",
            "unitedhealth",
            "unitedhealthcarecommunityplan",
            "umr",
        ],
    ),
    ("Aetna", &["aetna", "aetnabetterhealth"]),
    ("Cigna", &["cigna", "cignahealthspring"]),
    ("Humana", &["humana"]),
    (
        "Blue Cross Blue Shield",
        &[
            "bcbs",
            "bluecrossblueshield",
            "bluecrossandblueshield",
            "bluecross",
            "blueshield",
        ],
    ),
    (
        "Medicare",
        &[
            "medicare",
            "medicareparta",
            "medicarepartb",
            "cms",
            "medicarefeeforservice",
        ],
    ),
    ("Medicaid", &["medicaid", "statemedicaid"]),
    (
        "Kaiser Permanente",
        &["kaiserpermanente", "kaiser", "kaiserfoundationhealthplan"],
    ),
    (
        "Anthem",
        &[
            "anthem",
            "anthembc",
            "anthembcbs",
            "anthembluecross",
            "anthembluecrossblueshield",
        ],
    ),
    ("Molina", &["molina"]),
    ("Centene", &["centene"]),
    ("WellCare", &["wellcare"]),
    ("Tricare", &["tricare"]),
    ("Highmark", &["highmark", "highmarkbcbs"]),
    ("Oscar Health", &["oscar", "oscarhealth"]),
    ("Health Net", &["healthnet"]),
    ("Ambetter", &["ambetter"]),
    ("CareFirst", &["carefirst", "carefirstbcbs"]),
];

/// Every built-in canonical name.
pub const BUILT_IN_NAMES: [&str; 18] = {
    let mut names = [""; 18];
    let mut i = 0;
    while i < BUILT_IN.len() {
        names[i] = BUILT_IN[i].0;
        i += 1;
    }
    names
};

/// The built-in canonical name for a key, if the payer is a common one.
pub fn built_in(key: &str) -> Option<&'static str> {
    BUILT_IN
        .iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(name, _)| *name)
}

/// One raw spelling's canonical payer and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub canonical: String,
    pub reason: MergeReason,
}

/// Canonical payers for a tenant's raw spellings with their claim counts. `alias` answers
/// the tenant's aliases (they win). Spellings without alias or built-in name that share a
/// key go under the most frequent of them as written (ties: the alphabetically first, so
/// the answer does not depend on input order).
pub fn resolve(
    spellings: &[(String, u64)],
    alias: impl Fn(&str) -> Option<String>,
) -> HashMap<String, Resolution> {
    let mut out = HashMap::new();
    let mut by_key: HashMap<String, Vec<(&str, u64)>> = HashMap::new();
    for (raw, n) in spellings {
        if let Some(canonical) = alias(raw) {
            out.insert(
                raw.clone(),
                Resolution {
                    canonical,
                    reason: MergeReason::Alias,
                },
            );
            continue;
        }
        let key = identity_key(raw);
        if let Some(name) = built_in(&key) {
            out.insert(
                raw.clone(),
                Resolution {
                    canonical: name.to_string(),
                    reason: MergeReason::BuiltIn,
                },
            );
            continue;
        }
        by_key.entry(key).or_default().push((raw.as_str(), *n));
    }
    for (key, mut members) in by_key {
        // An empty key (no letters or digits) merges nothing.
        if key.is_empty() || members.len() == 1 {
            for (raw, _) in members {
                out.insert(
                    raw.to_string(),
                    Resolution {
                        canonical: raw.to_string(),
                        reason: MergeReason::AsWritten,
                    },
                );
            }
            continue;
        }
        members.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let winner = members[0].0.to_string();
        for (raw, _) in members {
            out.insert(
                raw.to_string(),
                Resolution {
                    canonical: winner.clone(),
                    reason: if raw == winner {
                        MergeReason::AsWritten
                    } else {
                        MergeReason::SameKey
                    },
                },
            );
        }
    }
    out
}

/// Where each spelling of one upload that no alias or built-in name claimed is stored:
/// `(raw, canonical)` for the spellings that merge under another one (spellings that stay
/// as written are left out). Spellings sharing a key go under the tenant's existing payer
/// with that key when there is one (`existing`: the payers already stored, most claims
/// first), so history and new claims stay together and an upload never renames what is
/// stored; otherwise under the upload's most frequent spelling as written (ties: the
/// alphabetically first).
pub fn merge_targets(
    upload: &[(String, u64)],
    existing: &[(String, u64)],
) -> Vec<(String, String)> {
    let mut stored: HashMap<String, &str> = HashMap::new();
    for (payer, _) in existing {
        let key = identity_key(payer);
        if !key.is_empty() {
            // `existing` is most-claims first: the first payer of a key wins.
            stored.entry(key).or_insert(payer.as_str());
        }
    }
    let mut by_key: HashMap<String, Vec<(&str, u64)>> = HashMap::new();
    for (raw, n) in upload {
        let key = identity_key(raw);
        if !key.is_empty() {
            by_key.entry(key).or_default().push((raw.as_str(), *n));
        }
    }
    let mut out = Vec::new();
    for (key, mut members) in by_key {
        members.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let winner = stored.get(&key).copied().unwrap_or(members[0].0);
        for (raw, _) in members {
            if raw != winner {
                out.push((raw.to_string(), winner.to_string()));
            }
        }
    }
    out.sort();
    out
}

/// Why a stored spelling carries its canonical payer, read back from the claims
/// (`has_alias`: the tenant has an alias for it). For the mappings page.
pub fn reason_of(raw: &str, canonical: &str, has_alias: bool, has_payer_id: bool) -> MergeReason {
    if has_alias {
        MergeReason::Alias
    } else if built_in(&identity_key(raw)) == Some(canonical) {
        MergeReason::BuiltIn
    } else if raw == canonical {
        MergeReason::AsWritten
    } else if has_payer_id && identity_key(raw) != identity_key(canonical) {
        // Names that share no key were joined by the 835 payer id (`ingest::payer_ids`).
        MergeReason::SamePayerId
    } else {
        MergeReason::SameKey
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_punctuation_and_suffixes() {
        assert_eq!(identity_key("Aetna Inc."), "aetna");
        assert_eq!(identity_key("AETNA"), "aetna");
        assert_eq!(identity_key("  CIGNA   Healthcare "), "cigna");
        assert_eq!(identity_key("United Healthcare"), "united");
        assert_eq!(identity_key("UnitedHealthcare"), "unitedhealthcare");
        assert_eq!(identity_key("Foo Healthcare, Inc"), "foo");
        assert_eq!(
            identity_key("Blue Cross & Blue Shield"),
            "bluecrossandblueshield"
        );
        // A suffix alone is a name, not a suffix.
        assert_eq!(identity_key("Healthcare"), "healthcare");
        assert_eq!(identity_key("=Formula Health"), "formulahealth");
        assert_eq!(identity_key("---"), "");
    }

    #[test]
    fn common_spellings_map_to_the_built_in_names() {
        for (raw, name) in [
            ("UHC", "UnitedHealthcare"),
            ("United Healthcare", "UnitedHealthcare"),
            ("UnitedHealthcare", "UnitedHealthcare"),
            ("AETNA", "Aetna"),
            ("Aetna Inc", "Aetna"),
            ("CIGNA Healthcare", "Cigna"),
            ("BCBS", "Blue Cross Blue Shield"),
            ("blue cross", "Blue Cross Blue Shield"),
            ("MEDICARE PART B", "Medicare"),
            ("State Medicaid", "Medicaid"),
            ("Kaiser", "Kaiser Permanente"),
            ("ANTHEM BC", "Anthem"),
            ("Molina Healthcare", "Molina"),
            ("HUMANA", "Humana"),
        ] {
            assert_eq!(built_in(&identity_key(raw)), Some(name), "{raw}");
        }
    }

    #[test]
    fn unknown_spellings_merge_under_the_most_frequent_as_written() {
        let spellings = vec![
            ("=Formula Health".to_string(), 120),
            ("=FORMULA HEALTH".to_string(), 30),
            ("Formula Health, Inc.".to_string(), 10),
            ("Acme".to_string(), 5),
            ("UHC".to_string(), 7),
            ("Local Plan".to_string(), 3),
        ];
        let aliases = |raw: &str| (raw == "Local Plan").then(|| "Regional Plan".to_string());
        let r = resolve(&spellings, aliases);
        assert_eq!(r["=FORMULA HEALTH"].canonical, "=Formula Health");
        assert_eq!(r["=FORMULA HEALTH"].reason, MergeReason::SameKey);
        assert_eq!(r["Formula Health, Inc."].canonical, "=Formula Health");
        assert_eq!(r["=Formula Health"].reason, MergeReason::AsWritten);
        assert_eq!(r["Acme"].canonical, "Acme");
        assert_eq!(r["UHC"].canonical, "UnitedHealthcare");
        assert_eq!(r["UHC"].reason, MergeReason::BuiltIn);
        // Aliases win over everything.
        assert_eq!(r["Local Plan"].canonical, "Regional Plan");
        assert_eq!(r["Local Plan"].reason, MergeReason::Alias);
    }
    #[test]
    fn an_upload_merges_under_the_stored_payer_else_its_most_frequent_spelling() {
        let upload = vec![
            ("=FORMULA HEALTH".to_string(), 50),
            ("=Formula Health".to_string(), 10),
            ("Acme Plan".to_string(), 3),
            ("ACME PLAN".to_string(), 7),
            ("Solo".to_string(), 1),
        ];
        // Nothing stored yet: the upload's most frequent spelling wins.
        let fresh = merge_targets(&upload, &[]);
        assert_eq!(
            fresh,
            vec![
                ("=Formula Health".to_string(), "=FORMULA HEALTH".to_string()),
                ("Acme Plan".to_string(), "ACME PLAN".to_string()),
            ]
        );
        // A payer already stored with the key keeps its name, even if rarer in this file.
        let stored = vec![
            ("=Formula Health".to_string(), 900),
            ("Other".to_string(), 5),
        ];
        let merged = merge_targets(&upload, &stored);
        assert!(merged.contains(&("=FORMULA HEALTH".to_string(), "=Formula Health".to_string())));
        assert!(
            !merged
                .iter()
                .any(|(raw, _)| raw == "=Formula Health" || raw == "Solo")
        );
    }

    #[test]
    fn reasons_read_back_from_stored_claims() {
        assert_eq!(
            reason_of("UHC", "UnitedHealthcare", false, false),
            MergeReason::BuiltIn
        );
        assert_eq!(reason_of("UHC", "Optum", true, false), MergeReason::Alias);
        assert_eq!(
            reason_of("ACME", "Acme", false, false),
            MergeReason::SameKey
        );
        assert_eq!(reason_of("ACME", "Acme", false, true), MergeReason::SameKey);
        assert_eq!(
            reason_of("Acme", "Acme", false, false),
            MergeReason::AsWritten
        );
        assert_eq!(
            reason_of("ACME HLTH PLN OF OHIO", "ACME HEALTH PLAN", false, true),
            MergeReason::SamePayerId
        );
    }
}
