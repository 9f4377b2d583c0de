//! 835 reversals (CLP02 = 22) and payer ids: the reversal claims of an upload are stored
//! with their keyed claim reference (`domain::claim_key`, never CLP01/CLP07 themselves)
//! and, inside the upload's transaction after its claims are written, matched against
//! the tenant's claims: a claim with the same key from an earlier upload, or from the
//! same file before the reversal, is marked reversed (`outcome = 'REVERSED'`,
//! `reversed_by` = the upload), which every analytics query leaves out.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::analytics::REVERSED;
use crate::db::schema::{claim_records, claim_reversals};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

/// One reversal claim of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewReversal {
    pub upload_id: i64,
    /// Its CLP segment number.
    pub segment: i64,
    pub claim_key: Option<i64>,
    /// Its service lines (not stored as claims).
    pub lines: i64,
}

#[derive(Insertable)]
#[diesel(table_name = claim_reversals)]
struct ReversalRow {
    customer_id: i64,
    upload_id: i64,
    segment: i64,
    claim_key: Option<i64>,
    lines: i64,
}

/// Bind parameters per statement stay under SQLite's default limit.
const REVERSALS_PER_STATEMENT: usize = 32_766 / 5;

pub fn insert(
    conn: &mut DbConnection,
    scope: &TenantScope,
    reversals: &[NewReversal],
) -> Result<usize, DbError> {
    let rows: Vec<ReversalRow> = reversals
        .iter()
        .map(|r| ReversalRow {
            customer_id: scope.id(),
            upload_id: r.upload_id,
            segment: r.segment,
            claim_key: r.claim_key,
            lines: r.lines,
        })
        .collect();
    let mut inserted = 0;
    for chunk in rows.chunks(REVERSALS_PER_STATEMENT) {
        inserted += crate::on_backend!(conn, c => diesel::insert_into(claim_reversals::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(inserted)
}

/// What an upload's reversals did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Reversal claims of the upload.
    pub reversals: i64,
    /// Reversal claims that found no claim to reverse (no key, or no claim with it).
    pub unmatched: i64,
    /// Stored claim lines (service lines) marked reversed from earlier uploads.
    pub lines_from_earlier_uploads: i64,
    /// … and from the same file, before the reversal.
    pub lines_from_this_file: i64,
}

/// `?` placeholders as the backend wants them (`$1`, `$2`, … on PostgreSQL).
fn placeholders(conn: &DbConnection, sql: &str) -> String {
    match conn {
        DbConnection::Sqlite(_) => sql.to_string(),
        DbConnection::Postgresql(_) => {
            let mut out = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// Marks the claims the upload's reversals reverse (inside the upload's transaction,
/// after its claims are written) and counts what happened. Without reversals: no
/// statement touches `claim_records`.
///
/// Matching scans the tenant's claims (no index on `claim_key`: one would cost every
/// 835 ingest a random-order index insert per line; reversals are rare).
pub fn apply(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
) -> Result<Applied, DbError> {
    let reversals: i64 = claim_reversals::table
        .filter(claim_reversals::customer_id.eq(scope.id()))
        .filter(claim_reversals::upload_id.eq(upload_id))
        .count()
        .get_result(conn)?;
    if reversals == 0 {
        return Ok(Applied::default());
    }
    // Earlier uploads: any unreversed claim with a reversed key.
    let keys = claim_reversals::table
        .filter(claim_reversals::customer_id.eq(scope.id()))
        .filter(claim_reversals::upload_id.eq(upload_id))
        .filter(claim_reversals::claim_key.is_not_null())
        .select(claim_reversals::claim_key);
    // First marked (`reversed_by`) only, so their rollup rows can be found by their
    // outcome before it becomes REVERSED (below).
    let lines_from_earlier_uploads = diesel::update(
        claim_records::table
            .filter(claim_records::customer_id.eq(scope.id()))
            .filter(claim_records::upload_id.ne(upload_id))
            .filter(claim_records::reversed_by.is_null())
            .filter(claim_records::claim_key.eq_any(keys)),
    )
    .set(claim_records::reversed_by.eq(upload_id))
    .execute(conn)? as i64;
    // This file: claims before a reversal of their key (a correction after it stays).
    let same_file = placeholders(
        conn,
        "UPDATE claim_records SET reversed_by = ? \
         WHERE customer_id = ? AND upload_id = ? AND claim_key IS NOT NULL \
         AND reversed_by IS NULL AND EXISTS (SELECT 1 FROM claim_reversals r \
         WHERE r.customer_id = ? AND r.upload_id = ? AND r.claim_key = claim_records.claim_key \
         AND r.segment > claim_records.svc_segment)",
    );
    let lines_from_this_file = diesel::sql_query(same_file)
        .bind::<BigInt, _>(upload_id)
        .bind::<BigInt, _>(scope.id())
        .bind::<BigInt, _>(upload_id)
        .bind::<BigInt, _>(scope.id())
        .bind::<BigInt, _>(upload_id)
        .execute(conn)? as i64;
    // Out of the rollups (same transaction), then REVERSED, which every analytics query
    // and the rollups leave out.
    super::rollups::move_claims(
        conn,
        scope,
        super::rollups::ClaimFilter::MarkedBy { upload_id },
        |g| g.outcome = REVERSED.to_string(),
    )?;
    diesel::update(
        claim_records::table
            .filter(claim_records::customer_id.eq(scope.id()))
            .filter(claim_records::reversed_by.eq(upload_id))
            .filter(claim_records::outcome.ne(REVERSED)),
    )
    .set(claim_records::outcome.eq(REVERSED))
    .execute(conn)?;
    let unmatched_sql = placeholders(
        conn,
        "SELECT COUNT(*) AS n FROM claim_reversals r WHERE r.customer_id = ? \
         AND r.upload_id = ? AND (r.claim_key IS NULL OR NOT EXISTS (SELECT 1 \
         FROM claim_records c WHERE c.reversed_by = ? AND c.customer_id = ? \
         AND c.claim_key = r.claim_key))",
    );
    let unmatched = diesel::sql_query(unmatched_sql)
        .bind::<BigInt, _>(scope.id())
        .bind::<BigInt, _>(upload_id)
        .bind::<BigInt, _>(upload_id)
        .bind::<BigInt, _>(scope.id())
        .get_result::<Count>(conn)?
        .n;
    Ok(Applied {
        reversals,
        unmatched,
        lines_from_earlier_uploads,
        lines_from_this_file,
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The tenant's stored `(payer_id, payer, claims)`: canonical payers by 835 payer id.
/// Reads only claims that carry a payer id (835 lines).
pub fn payers_by_id(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<(String, String, i64)>, DbError> {
    let rows: Vec<(Option<String>, String, i64)> = claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .filter(claim_records::payer_id.is_not_null())
        .filter(claim_records::outcome.ne(REVERSED))
        .group_by((claim_records::payer_id, claim_records::payer))
        .select((
            claim_records::payer_id,
            claim_records::payer,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, payer, n)| Some((id?, payer, n)))
        .collect())
}
