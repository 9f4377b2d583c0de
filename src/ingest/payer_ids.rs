//! Payer identity by 835 payer id (N1*PR04, else REF*2U; `docs/x12-835.md`): lines that
//! carry the same payer id are one payer whatever their N1*PR names, unless the tenant
//! aliased the name (aliases win). The canonical payer of an id is the one already stored
//! most often for it in the tenant, else the first canonical this file gives it.

use std::collections::HashMap;

/// Per-file bound on payer ids first seen in the file (an 835 names a handful).
const FILE_LIMIT: usize = 10_000;

/// The tenant's stored canonical payer per payer id, plus those first seen in this file.
#[derive(Debug, Default)]
pub struct PayerIds {
    stored: HashMap<String, String>,
}

impl PayerIds {
    /// From `(payer_id, payer, claims)` rows of the tenant's stored claims: per id, the
    /// payer with the most claims (ties: the alphabetically first).
    pub fn from_stored(rows: Vec<(String, String, i64)>) -> PayerIds {
        let mut best: HashMap<String, (String, i64)> = HashMap::new();
        for (id, payer, n) in rows {
            match best.get_mut(&id) {
                Some(b) if b.1 > n || (b.1 == n && b.0 <= payer) => {}
                Some(b) => *b = (payer, n),
                None => {
                    best.insert(id, (payer, n));
                }
            }
        }
        PayerIds {
            stored: best.into_iter().map(|(id, (p, _))| (id, p)).collect(),
        }
    }

    /// A stored canonical payer of `id`.
    pub fn stored(&self, id: &str) -> Option<&str> {
        self.stored.get(id).map(String::as_str)
    }
}

/// The payer ids first seen in one file and the canonical each got.
#[derive(Debug, Default)]
pub struct FilePayerIds {
    seen: HashMap<Box<str>, Box<str>>,
}

impl FilePayerIds {
    /// The canonical payer of a line with payer id `id` whose name alone maps to
    /// `canonical`: the stored one, else the first of this file. `None` when the id
    /// decides nothing (it already maps to `canonical`, or the per-file bound is hit).
    pub fn canonical<'s>(
        &'s mut self,
        known: &'s PayerIds,
        id: &str,
        canonical: &str,
    ) -> Option<&'s str> {
        let chosen: &str = match known.stored(id) {
            Some(p) => p,
            None => {
                if !self.seen.contains_key(id) {
                    if self.seen.len() >= FILE_LIMIT {
                        return None;
                    }
                    self.seen.insert(id.into(), canonical.into());
                }
                self.seen.get(id).map(|p| &**p)?
            }
        };
        (chosen != canonical).then_some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_frequent_stored_payer_wins_then_the_first_of_the_file() {
        let known = PayerIds::from_stored(vec![
            ("87726".into(), "UnitedHealthcare".into(), 900),
            ("87726".into(), "UHC OF TEXAS".into(), 20),
            ("60054".into(), "Aetna".into(), 5),
        ]);
        let mut file = FilePayerIds::default();
        assert_eq!(
            file.canonical(&known, "87726", "UHC OF TEXAS"),
            Some("UnitedHealthcare")
        );
        assert_eq!(file.canonical(&known, "87726", "UnitedHealthcare"), None);
        // A new id: the first canonical of the file is kept for the next spellings.
        assert_eq!(file.canonical(&known, "BCNC1", "BLUE CROSS NC"), None);
        assert_eq!(
            file.canonical(&known, "BCNC1", "Blue Cross Blue Shield of NC"),
            Some("BLUE CROSS NC")
        );
    }
}
