//! Writes of the ingest pipeline: bulk claim inserts (multi-row INSERT on SQLite, `COPY
//! FROM STDIN` on PostgreSQL), rejections, the quality report, the upload's final state,
//! duplicate lookups and the earlier reports the anomaly checks compare against.
//!
//! Everything here runs inside the pipeline's single transaction except
//! [`mark_failed`], which records a failure after that transaction rolled back.

use std::io::Write;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{claim_records, upload_rejections, upload_reports, uploads};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

/// One accepted claim, borrowing its text from the pipeline's batch arena.
#[derive(Debug, Clone, Copy, Insertable)]
#[diesel(table_name = claim_records)]
pub struct NewClaimRef<'a> {
    pub customer_id: i64,
    pub upload_id: i64,
    pub payer_raw: &'a str,
    pub payer: &'a str,
    pub cpt: &'a str,
    pub cpt_group: &'a str,
    pub submitted_date: NaiveDate,
    pub decided_date: NaiveDate,
    pub decision_days: i32,
    pub outcome: &'a str,
    pub allowed_cents: Option<i64>,
    pub denial_reason_code: Option<&'a str>,
    pub denial_reason_text: Option<&'a str>,
}

/// One rejection line: row, column, reason code — never the value.
#[derive(Debug, Clone, Copy, Insertable)]
#[diesel(table_name = upload_rejections)]
pub struct NewRejection {
    pub upload_id: i64,
    pub row_number: i64,
    pub column_name: &'static str,
    pub reason: &'static str,
}

/// Claim columns per row; SQLite's default limit is 32,766 bind parameters per statement.
const CLAIM_COLUMNS: usize = 13;
pub const SQLITE_CLAIMS_PER_STATEMENT: usize = 32_766 / CLAIM_COLUMNS;
const REJECTIONS_PER_STATEMENT: usize = 32_766 / 4;

/// Inserts accepted claims of one upload. All rows must belong to the scope's tenant.
pub fn insert_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
    claims: &[NewClaimRef<'_>],
    copy_buf: &mut Vec<u8>,
) -> Result<usize, DbError> {
    if claims.iter().any(|c| c.customer_id != scope.id()) {
        return Err(DbError::ForeignKey);
    }
    match conn {
        DbConnection::Sqlite(c) => {
            let mut inserted = 0;
            for chunk in claims.chunks(SQLITE_CLAIMS_PER_STATEMENT) {
                inserted += diesel::insert_into(claim_records::table)
                    .values(chunk)
                    .execute(c)?;
            }
            Ok(inserted)
        }
        DbConnection::Postgresql(c) => {
            copy_buf.clear();
            for claim in claims {
                write_copy_row(copy_buf, claim);
            }
            let data: &[u8] = copy_buf;
            let n = diesel::copy_from(claim_records::table)
                .from_raw_data(
                    (
                        claim_records::customer_id,
                        claim_records::upload_id,
                        claim_records::payer_raw,
                        claim_records::payer,
                        claim_records::cpt,
                        claim_records::cpt_group,
                        claim_records::submitted_date,
                        claim_records::decided_date,
                        claim_records::decision_days,
                        claim_records::outcome,
                        claim_records::allowed_cents,
                        claim_records::denial_reason_code,
                        claim_records::denial_reason_text,
                    ),
                    move |out: &mut dyn Write| -> QueryResult<()> {
                        out.write_all(data)
                            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
                    },
                )
                .execute(c)?;
            Ok(n)
        }
    }
}

/// One row in PostgreSQL's COPY text format (tab separated, `\N` for NULL).
fn write_copy_row(out: &mut Vec<u8>, c: &NewClaimRef<'_>) {
    let _ = write!(out, "{}\t{}\t", c.customer_id, c.upload_id);
    copy_text(out, c.payer_raw);
    out.push(b'\t');
    copy_text(out, c.payer);
    out.push(b'\t');
    copy_text(out, c.cpt);
    out.push(b'\t');
    copy_text(out, c.cpt_group);
    let _ = write!(
        out,
        "\t{}\t{}\t{}\t",
        c.submitted_date.format("%Y-%m-%d"),
        c.decided_date.format("%Y-%m-%d"),
        c.decision_days
    );
    copy_text(out, c.outcome);
    out.push(b'\t');
    match c.allowed_cents {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.extend_from_slice(b"\\N"),
    }
    out.push(b'\t');
    copy_opt(out, c.denial_reason_code);
    out.push(b'\t');
    copy_opt(out, c.denial_reason_text);
    out.push(b'\n');
}

fn copy_opt(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => copy_text(out, s),
        None => out.extend_from_slice(b"\\N"),
    }
}

/// Escapes backslash, tab, newline and carriage return for COPY text format.
fn copy_text(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if !b
        .iter()
        .any(|&c| matches!(c, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.extend_from_slice(b);
        return;
    }
    for &c in b {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

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
    if changed == 0 {
        return Err(DbError::NotFound);
    }
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

/// SQLite page cache of this connection in KiB (no-op on PostgreSQL). The ingest raises it
/// for the duration of a large insert and puts the default back afterwards.
pub fn set_sqlite_cache_kib(conn: &mut DbConnection, kib: i64) -> Result<(), DbError> {
    if let DbConnection::Sqlite(c) = conn {
        use diesel::connection::SimpleConnection;
        c.batch_execute(&format!("PRAGMA cache_size = -{}", kib.max(2000)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_escape_text_and_write_nulls() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 2).expect("date");
        let claim = NewClaimRef {
            customer_id: 1,
            upload_id: 2,
            payer_raw: "Blue\tCross\\",
            payer: "Blue Cross",
            cpt: "99213",
            cpt_group: "EVAL_MGMT",
            submitted_date: d,
            decided_date: d,
            decision_days: 0,
            outcome: "PAID",
            allowed_cents: None,
            denial_reason_code: Some("CO-16"),
            denial_reason_text: Some("line one\r\nline two"),
        };
        let mut out = Vec::new();
        write_copy_row(&mut out, &claim);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "1\t2\tBlue\\tCross\\\\\tBlue Cross\t99213\tEVAL_MGMT\t2026-01-02\t2026-01-02\t0\tPAID\t\\N\tCO-16\tline one\\r\\nline two\n"
        );
    }
}
