//! Claim records. Bulk loading lives with the ingest pipeline; this module has the
//! scoped reads and the small multi-row insert used by tests and fixtures.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::claim_records;
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;
use crate::on_backend;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = claim_records)]
pub struct ClaimRecord {
    pub id: i64,
    pub customer_id: i64,
    pub upload_id: i64,
    pub payer_raw: String,
    pub payer: String,
    pub cpt: String,
    pub cpt_group: String,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    pub decision_days: i32,
    pub outcome: String,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<String>,
    pub denial_reason_text: Option<String>,
    /// 835 details (NULL for CSV rows): `docs/x12-835.md`.
    pub payer_id: Option<String>,
    pub modifiers: Option<String>,
    pub remark_codes: Option<String>,
    pub adjustments: Option<String>,
    pub claim_key: Option<i64>,
    pub svc_segment: Option<i64>,
    /// The upload whose 835 reversal voided this claim (`outcome` is then REVERSED).
    pub reversed_by: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = claim_records)]
pub struct NewClaim {
    pub customer_id: i64,
    pub upload_id: i64,
    pub payer_raw: String,
    pub payer: String,
    pub cpt: String,
    pub cpt_group: String,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    pub decision_days: i32,
    pub outcome: String,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<String>,
    pub denial_reason_text: Option<String>,
}

/// Bind parameters per statement stay under SQLite's default 32,766 limit.
const INSERT_CHUNK: usize = 32_766 / 13;

/// Inserts claims for the scope's tenant. Rows naming another tenant are refused.
pub fn insert_many(
    conn: &mut DbConnection,
    scope: &TenantScope,
    claims: &[NewClaim],
) -> Result<usize, DbError> {
    if claims.iter().any(|c| c.customer_id != scope.id()) {
        return Err(DbError::ForeignKey);
    }
    let mut inserted = 0;
    for chunk in claims.chunks(INSERT_CHUNK) {
        inserted += on_backend!(conn, c => diesel::insert_into(claim_records::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(inserted)
}

pub fn count_for_upload(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
) -> Result<i64, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .filter(claim_records::upload_id.eq(upload_id))
        .count()
        .get_result(conn)?)
}

pub fn count(conn: &mut DbConnection, scope: &TenantScope) -> Result<i64, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .count()
        .get_result(conn)?)
}

/// The most recent claims by decision date (small reads for pages and tests).
pub fn list_recent(
    conn: &mut DbConnection,
    scope: &TenantScope,
    limit: i64,
) -> Result<Vec<ClaimRecord>, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .order((claim_records::decided_date.desc(), claim_records::id.desc()))
        .limit(limit)
        .select(ClaimRecord::as_select())
        .load(conn)?)
}
