//! Payer identity at ingest (SPEC §2): the upload's spellings that no alias, built-in
//! name or 835 payer id claimed, and that share a key, go under one payer — the tenant's
//! existing payer with that key, else the upload's most frequent spelling as written.
//! Re-mapping stored claims later is `services::mappings`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use crate::db::repo::mappings;
use crate::db::repo::rollups::{self, UploadRollup};
use crate::db::{DbConnection, DbError};
use crate::domain::payer_identity;
use crate::domain::tenant::TenantScope;
use crate::ingest::pipeline::SpellingCounts;

/// The ingest's same-key merge for one upload (inside its transaction, after its claims
/// are written, before its rollup delta is stored): `spellings` are the upload's rows per
/// spelling that kept its name, `rollup` the upload's rollup delta (its rows per canonical
/// payer). Only this upload's rows change, so an upload never renames stored history.
/// Returns the `(payer_raw, payer)` renames: the ingest applies them to the upload's
/// rollup delta (`ClaimWriter::write_rollups`), which it stores after this.
///
/// The payers already there are read from the daily rollups, not from claims: at this
/// point they hold exactly the tenant's counted claims before this upload (the commit
/// writes the upload's delta after the merge). One read of the day rows' payers; their
/// claim counts only for two or more payers sharing a key of this upload's spellings
/// (the count decides between them), and then only those payers' rows.
pub fn merge(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    spellings: &SpellingCounts,
    rollup: &UploadRollup,
) -> Result<Vec<(String, String)>, DbError> {
    if spellings.is_empty() {
        return Ok(Vec::new());
    }
    let started = Instant::now();
    let upload: Vec<(String, u64)> = spellings
        .iter()
        .map(|(raw, n)| (raw.to_string(), *n))
        .collect();
    let stored = rollups::payers(conn, scope)?;
    // This upload's rows that an alias, built-in name or payer id put under a payer count
    // as that payer's (as when the claims were counted: they are written already); its
    // as-written rows do not (a spelling is not "existing" because of itself).
    let own: HashMap<&str, u64> = rollup
        .payer_claims()
        .into_iter()
        .filter_map(|(payer, n)| {
            let rest = n.saturating_sub(spellings.get(payer).copied().unwrap_or(0));
            (rest > 0).then_some((payer, rest))
        })
        .collect();
    let candidates = contested(
        &upload,
        stored.iter().map(String::as_str).chain(own.keys().copied()),
    );
    // Counts only where two payers share a key: the stored ones' from their day rows.
    let to_count: Vec<String> = candidates
        .values()
        .filter(|payers| payers.len() > 1)
        .flatten()
        .filter(|p| stored.iter().any(|s| s == *p))
        .map(|p| p.to_string())
        .collect();
    let counted = if to_count.is_empty() {
        HashMap::new()
    } else {
        rollups::claims_of_payers(conn, scope, &to_count)?
    };
    let mut existing: Vec<(String, u64)> = candidates
        .into_values()
        .flatten()
        .map(|p| {
            let n = counted.get(p).copied().unwrap_or(0) + own.get(p).copied().unwrap_or(0);
            (p.to_string(), n)
        })
        .collect();
    // Most claims first (`merge_targets`: the first payer of a key wins), then by name.
    existing.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let renames = payer_identity::merge_targets(&upload, &existing);
    for (raw, target) in &renames {
        mappings::set_upload_claims_payer(conn, scope, upload_id, raw, target)?;
    }
    tracing::debug!(
        upload_id,
        spellings = upload.len(),
        stored_payers = stored.len(),
        counted_payers = to_count.len(),
        renames = renames.len(),
        merge_us = started.elapsed().as_micros() as u64,
        "spelling merge"
    );
    Ok(renames)
}

/// The payers among `payers` whose identity key is a key of one of the `upload`'s
/// spellings, by key (each payer once).
fn contested<'a>(
    upload: &[(String, u64)],
    payers: impl Iterator<Item = &'a str>,
) -> BTreeMap<String, BTreeSet<&'a str>> {
    let mut by_key: BTreeMap<String, BTreeSet<&'a str>> = upload
        .iter()
        .map(|(raw, _)| payer_identity::identity_key(raw))
        .filter(|key| !key.is_empty())
        .map(|key| (key, BTreeSet::new()))
        .collect();
    for payer in payers {
        if let Some(members) = by_key.get_mut(&payer_identity::identity_key(payer)) {
            members.insert(payer);
        }
    }
    by_key.retain(|_, members| !members.is_empty());
    by_key
}
