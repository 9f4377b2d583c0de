//! The upload's life cycle around the ingest pipeline: rejections, the quality report,
//! the upload's final state, duplicate lookups and the earlier reports the anomaly checks
//! compare against. The claims themselves go through [`super::claim_writer`].
//!
//! Everything here runs inside the pipeline's single transaction except [`mark_failed`],
//! which records a failure after that transaction rolled back, and the read-only lookups
//! the upload page uses.

use diesel::prelude::*;

use crate::db::schema::{upload_rejections, upload_reports, uploads};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

/// One rejection line: row, column, reason code — never the value.
#[derive(Debug, Clone, Copy, Insertable)]
#[diesel(table_name = upload_rejections)]
pub struct NewRejection {
    pub upload_id: i64,
    pub row_number: i64,
    pub column_name: &'static str,
    pub reason: &'static str,
}

const REJECTIONS_PER_STATEMENT: usize = 32_766 / 4;

pub fn insert_rejections(
    conn: &mut DbConnection,
    rejections: &[NewRejection],
) -> Result<usize, DbError> {
    let mut inserted = 0;
    for chunk in rejections.chunks(REJECTIONS_PER_STATEMENT) {
        inserted += crate::on_backend!(conn, c => diesel::insert_into(upload_rejections::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(inserted)
}

/// Replaces the stored file name (PHI in the original name → `upload-<id>.csv`).
pub fn rename_upload(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    file_name: &str,
) -> Result<(), DbError> {
    diesel::update(
        uploads::table
            .filter(uploads::customer_id.eq(scope.id()))
            .filter(uploads::id.eq(upload_id)),
    )
    .set(uploads::file_name.eq(file_name))
    .execute(conn)?;
    Ok(())
}

/// The tenant's earlier upload of identical bytes, if any.
pub fn find_by_sha256(
    conn: &mut DbConnection,
    scope: &TenantScope,
    sha256: &str,
) -> Result<Option<i64>, DbError> {
    Ok(uploads::table
        .filter(uploads::customer_id.eq(scope.id()))
        .filter(uploads::sha256.eq(sha256))
        .select(uploads::id)
        .first(conn)
        .optional()?)
}

/// Final state of an upload whose rows were processed.
#[derive(Debug, Clone)]
pub struct UploadResult<'a> {
    pub status: &'a str,
    pub sha256: Option<&'a str>,
    pub size_bytes: i64,
    pub total_rows: i64,
    pub accepted_rows: i64,
    pub rejected_rows: i64,
    pub warning_rows: i64,
    pub quality_score_centi: Option<i64>,
    pub message: Option<&'a str>,
}

/// Marks the upload `processing` (it may have been queued); the ingest transaction's
/// first statement, so on SQLite it holds the write lock before it reads.
pub fn mark_processing(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        uploads.id = upload_id,
        uploads::status.eq("processing")
    )
}

/// Writes the final status and counts and the quality report (same transaction as the
/// claims).
pub fn finish_upload(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    result: &UploadResult<'_>,
    report_json: &str,
) -> Result<(), DbError> {
    let changed = diesel::update(
        uploads::table
            .filter(uploads::customer_id.eq(scope.id()))
            .filter(uploads::id.eq(upload_id)),
    )
    .set((
        uploads::status.eq(result.status),
        uploads::sha256.eq(result.sha256),
        uploads::size_bytes.eq(result.size_bytes),
        uploads::total_rows.eq(result.total_rows),
        uploads::accepted_rows.eq(result.accepted_rows),
        uploads::rejected_rows.eq(result.rejected_rows),
        uploads::warning_rows.eq(result.warning_rows),
        uploads::quality_score_centi.eq(result.quality_score_centi),
        uploads::message.eq(result.message),
        uploads::finished_at.eq(Some(super::now())),
    ))
    .execute(conn)
    .map_err(|e| {
        if DbError::is_unique_violation(&e) {
            DbError::Duplicate("file")
        } else {
            DbError::from(e)
        }
    })?;
    super::one_row(changed)?;
    diesel::insert_into(upload_reports::table)
        .values((
            upload_reports::upload_id.eq(upload_id),
            upload_reports::report_json.eq(report_json),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a file-level failure: status `failed`, the message, and the earlier upload for
/// a duplicate. Runs after the pipeline's transaction rolled back, so no claims exist.
pub fn mark_failed(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    message: &str,
    size_bytes: i64,
    duplicate_of: Option<i64>,
) -> Result<(), DbError> {
    diesel::update(
        uploads::table
            .filter(uploads::customer_id.eq(scope.id()))
            .filter(uploads::id.eq(upload_id)),
    )
    .set((
        uploads::status.eq("failed"),
        uploads::message.eq(Some(message)),
        uploads::size_bytes.eq(size_bytes),
        uploads::duplicate_of.eq(duplicate_of),
        uploads::finished_at.eq(Some(super::now())),
    ))
    .execute(conn)?;
    Ok(())
}

/// The stored report of an upload (JSON text).
pub fn find_report(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
) -> Result<String, DbError> {
    Ok(upload_reports::table
        .inner_join(uploads::table)
        .filter(uploads::customer_id.eq(scope.id()))
        .filter(upload_reports::upload_id.eq(upload_id))
        .select(upload_reports::report_json)
        .first(conn)?)
}

/// Reports of the tenant's latest successful uploads before `before_id`, newest first.
pub fn list_earlier_reports(
    conn: &mut DbConnection,
    scope: &TenantScope,
    before_id: i64,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    Ok(upload_reports::table
        .inner_join(uploads::table)
        .filter(uploads::customer_id.eq(scope.id()))
        .filter(uploads::id.lt(before_id))
        .filter(uploads::status.eq_any(["succeeded", "partial"]))
        .order(uploads::id.desc())
        .limit(limit)
        .select(upload_reports::report_json)
        .load(conn)?)
}

/// Rejections of an upload in row order (at most `limit`).
pub fn list_rejections(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    limit: i64,
) -> Result<Vec<(i64, String, String)>, DbError> {
    Ok(upload_rejections::table
        .inner_join(uploads::table)
        .filter(uploads::customer_id.eq(scope.id()))
        .filter(upload_rejections::upload_id.eq(upload_id))
        .order((
            upload_rejections::row_number.asc(),
            upload_rejections::id.asc(),
        ))
        .limit(limit)
        .select((
            upload_rejections::row_number,
            upload_rejections::column_name,
            upload_rejections::reason,
        ))
        .load(conn)?)
}
