//! A tenant's mappings loaded for one upload (or one remap): payer aliases by normalized
//! key, and CPT-group ranges where the narrowest matching range wins (ties: the older
//! range). Plus the per-upload caches that keep PHI checks and lookups off the hot path —
//! payer names and denial texts repeat thousands of times in a file.

use std::collections::HashMap;

use crate::db::repo::mappings::{CptGroupRange, PayerAlias};
use crate::domain::claim::CptCode;
use crate::domain::mapping::{OTHER, payer_key};
use crate::domain::{payer_identity, phi};

/// Index into [`Mappings::groups`]; 0 is always `OTHER`.
pub type GroupId = u16;

#[derive(Debug, Clone)]
struct CptRangeRule {
    start: [u8; 5],
    end: [u8; 5],
    /// Category II/III range (bounds end in a letter): matches only codes with that letter.
    letter: Option<u8>,
    width: u32,
    group: GroupId,
}

#[derive(Debug, Clone)]
pub struct Mappings {
    aliases: HashMap<String, u32>,
    /// Built-in canonical names, by name, as indexes into `canonicals`.
    built_ins: HashMap<&'static str, u32>,
    canonicals: Vec<String>,
    groups: Vec<String>,
    /// Narrowest first.
    ranges: Vec<CptRangeRule>,
}

impl Mappings {
    pub fn new(aliases: &[PayerAlias], cpt_groups: &[CptGroupRange]) -> Mappings {
        let mut canonicals = Vec::new();
        let mut alias_map = HashMap::new();
        for a in aliases {
            alias_map.insert(a.alias_key.clone(), canonicals.len() as u32);
            canonicals.push(a.canonical.clone());
        }
        let mut built_ins = HashMap::new();
        for name in payer_identity::BUILT_IN_NAMES {
            built_ins.insert(name, canonicals.len() as u32);
            canonicals.push(name.to_string());
        }
        let mut groups = vec![OTHER.to_owned()];
        let mut ranges: Vec<(i64, CptRangeRule)> = Vec::new();
        for g in cpt_groups {
            let (Some(start), Some(end)) = (bounds(&g.code_start), bounds(&g.code_end)) else {
                continue;
            };
            let letter = match (start[4].is_ascii_alphabetic(), end[4].is_ascii_alphabetic()) {
                (false, false) => None,
                (true, true) if start[4] == end[4] => Some(start[4]),
                _ => continue,
            };
            if start > end {
                continue;
            }
            let group = match groups.iter().position(|n| *n == g.group_name) {
                Some(i) => i as GroupId,
                None => {
                    groups.push(g.group_name.clone());
                    (groups.len() - 1) as GroupId
                }
            };
            let width = number(&end).saturating_sub(number(&start));
            ranges.push((
                g.id,
                CptRangeRule {
                    start,
                    end,
                    letter,
                    width,
                    group,
                },
            ));
        }
        ranges.sort_by_key(|(id, r)| (r.width, *id));
        Mappings {
            aliases: alias_map,
            built_ins,
            canonicals,
            groups,
            ranges: ranges.into_iter().map(|(_, r)| r).collect(),
        }
    }

    /// The canonical payer for a trimmed raw name: the tenant's alias, else the built-in
    /// name of a common US payer matched on its identity key (SPEC §2 "Payer identity";
    /// aliases win). `None`: the name stays as written.
    pub fn alias_of(&self, raw: &str) -> Option<u32> {
        if let Some(i) = self.aliases.get(&payer_key(raw)) {
            return Some(*i);
        }
        let name = payer_identity::built_in(&payer_identity::identity_key(raw))?;
        self.built_ins.get(name).copied()
    }

    /// Whether `alias` (from [`Mappings::alias_of`]) is the tenant's own alias rather
    /// than a built-in name (built-ins come after the tenant's aliases).
    pub fn is_tenant_alias(&self, alias: u32) -> bool {
        (alias as usize) < self.canonicals.len() - self.built_ins.len()
    }

    pub fn canonical(&self, alias: u32) -> &str {
        &self.canonicals[alias as usize]
    }

    pub fn group_name(&self, group: GroupId) -> &str {
        &self.groups[usize::from(group)]
    }

    /// CPT group of a validated code: narrowest containing range, else `OTHER`.
    pub fn group_of(&self, code: &CptCode) -> GroupId {
        let b: [u8; 5] = match code.as_str().as_bytes().try_into() {
            Ok(b) => b,
            Err(_) => return 0,
        };
        let letter = b[4].is_ascii_alphabetic().then_some(b[4]);
        self.ranges
            .iter()
            .find(|r| r.letter == letter && r.start <= b && b <= r.end)
            .map_or(0, |r| r.group)
    }
}

fn bounds(code: &str) -> Option<[u8; 5]> {
    CptCode::parse(code.trim()).and_then(|c| c.as_str().as_bytes().try_into().ok())
}

/// Numeric value of the four/five leading digits (range width only).
fn number(b: &[u8; 5]) -> u32 {
    b.iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
}

/// What the pipeline knows about one distinct payer string.
#[derive(Debug, Clone, Copy)]
pub struct PayerVerdict {
    pub phi: bool,
    pub alias: Option<u32>,
}

/// Per-upload caches. Bounded: past `CACHE_LIMIT` distinct values the checks simply run
/// uncached, so a file of unique free texts cannot grow memory.
#[derive(Debug, Default)]
pub struct Caches {
    payers: HashMap<Box<str>, PayerVerdict>,
    texts: HashMap<Box<str>, bool>,
    cpts: HashMap<CptCode, GroupId>,
}

const CACHE_LIMIT: usize = 20_000;

impl Caches {
    /// PHI verdict and alias of a trimmed, non-empty payer name.
    pub fn payer(&mut self, mappings: &Mappings, payer: &str) -> PayerVerdict {
        if let Some(v) = self.payers.get(payer) {
            return *v;
        }
        let phi = phi::contains_phi(payer);
        let verdict = PayerVerdict {
            phi,
            alias: if phi { None } else { mappings.alias_of(payer) },
        };
        if self.payers.len() < CACHE_LIMIT {
            self.payers.insert(payer.into(), verdict);
        }
        verdict
    }

    /// Whether a trimmed, non-empty free text looks like PHI.
    pub fn text_has_phi(&mut self, text: &str) -> bool {
        if let Some(v) = self.texts.get(text) {
            return *v;
        }
        let phi = phi::contains_phi(text);
        if self.texts.len() < CACHE_LIMIT {
            self.texts.insert(text.into(), phi);
        }
        phi
    }

    pub fn group(&mut self, mappings: &Mappings, code: CptCode) -> GroupId {
        *self
            .cpts
            .entry(code)
            .or_insert_with(|| mappings.group_of(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mapping::DEFAULT_CPT_RANGES;

    fn defaults() -> Vec<CptGroupRange> {
        DEFAULT_CPT_RANGES
            .iter()
            .enumerate()
            .map(|(i, r)| CptGroupRange {
                id: i as i64 + 1,
                code_start: format!("{:05}", r.first),
                code_end: format!("{:05}", r.last),
                group_name: r.group.to_owned(),
            })
            .collect()
    }

    fn group(m: &Mappings, code: &str) -> String {
        let code = CptCode::parse(code).expect("valid code");
        m.group_name(m.group_of(&code)).to_owned()
    }

    #[test]
    fn seeded_ranges_match_the_domain_defaults() {
        let m = Mappings::new(&[], &defaults());
        for code in [
            "99202", "99213", "99215", "99216", "97110", "70450", "80053", "29881", "00100",
            "0001F", "0075T", "96999",
        ] {
            assert_eq!(
                group(&m, code),
                crate::domain::mapping::default_cpt_group(code),
                "{code}"
            );
        }
    }

    #[test]
    fn narrowest_range_wins_and_exact_codes_override() {
        let mut ranges = defaults();
        ranges.push(CptGroupRange {
            id: 99,
            code_start: "29881".into(),
            code_end: "29881".into(),
            group_name: "ARTHROSCOPY".into(),
        });
        ranges.push(CptGroupRange {
            id: 100,
            code_start: "0001F".into(),
            code_end: "9999F".into(),
            group_name: "QUALITY".into(),
        });
        let m = Mappings::new(&[], &ranges);
        assert_eq!(group(&m, "29881"), "ARTHROSCOPY");
        assert_eq!(group(&m, "29880"), "SURGERY");
        assert_eq!(group(&m, "1234F"), "QUALITY");
        assert_eq!(group(&m, "1234T"), "OTHER");
    }

    #[test]
    fn aliases_are_matched_by_normalized_key() {
        let aliases = [PayerAlias {
            id: 1,
            alias_key: payer_key("UHC"),
            alias: "UHC".into(),
            canonical: "UnitedHealthcare".into(),
        }];
        let m = Mappings::new(&aliases, &[]);
        let mut caches = Caches::default();
        let v = caches.payer(&m, "uhc");
        assert!(!v.phi);
        assert_eq!(v.alias.map(|a| m.canonical(a)), Some("UnitedHealthcare"));
        // No alias: a common payer gets its built-in name, anything else stays as written.
        let aetna = caches.payer(&m, "AETNA Inc.").alias;
        assert_eq!(aetna.map(|a| m.canonical(a)), Some("Aetna"));
        assert!(caches.payer(&m, "Acme Regional Plan").alias.is_none());
        assert!(caches.text_has_phi("Member SSN 123-45-6789 on file"));
        assert!(!caches.text_has_phi("Deductible amount"));
    }
}
