//! Payer identity at ingest (SPEC §2): the upload's spellings that no alias, built-in
//! name or 835 payer id claimed, and that share a key, go under one payer — the tenant's
//! existing payer with that key, else the upload's most frequent spelling as written.
//! Re-mapping stored claims later is `services::mappings`.

use crate::db::repo::mappings;
use crate::db::{DbConnection, DbError};
use crate::domain::payer_identity;
use crate::domain::tenant::TenantScope;
use crate::ingest::pipeline::SpellingCounts;

/// The ingest's same-key merge for one upload (inside its transaction, after its claims
/// are written): `spellings` are the upload's rows per spelling that kept its name.
/// Only this upload's rows change, so an upload never renames stored history. Returns the
/// `(payer_raw, payer)` renames: the ingest applies them to the upload's rollup delta
/// (`ClaimWriter::write_rollups`), which it stores after this.
pub fn merge(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    spellings: &SpellingCounts,
) -> Result<Vec<(String, String)>, DbError> {
    if spellings.is_empty() {
        return Ok(Vec::new());
    }
    let upload: Vec<(String, u64)> = spellings
        .iter()
        .map(|(raw, n)| (raw.to_string(), *n))
        .collect();
    // The stored payers before this upload: its as-written rows are stored under their own
    // spelling, so they are subtracted from the counts (one grouped read, no extra scan).
    let existing: Vec<(String, u64)> = mappings::payer_claim_counts(conn, scope)?
        .into_iter()
        .filter_map(|(payer, n)| {
            let before = n.saturating_sub(spellings.get(payer.as_str()).copied().unwrap_or(0));
            (before > 0).then_some((payer, before))
        })
        .collect();
    let renames = payer_identity::merge_targets(&upload, &existing);
    for (raw, target) in &renames {
        mappings::set_upload_claims_payer(conn, scope, upload_id, raw, target)?;
    }
    Ok(renames)
}
