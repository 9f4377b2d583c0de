//! Uploads of claim files, always within one tenant.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{claim_records, uploads};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;
use crate::on_backend;

use super::Page;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = uploads)]
pub struct Upload {
    pub id: i64,
    pub customer_id: i64,
    pub uploaded_by: Option<i64>,
    pub file_name: String,
    pub sha256: Option<String>,
    pub size_bytes: i64,
    pub status: String,
    pub total_rows: i64,
    pub accepted_rows: i64,
    pub rejected_rows: i64,
    pub warning_rows: i64,
    pub quality_score_centi: Option<i64>,
    pub message: Option<String>,
    pub duplicate_of: Option<i64>,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = uploads)]
pub struct NewUpload<'a> {
    pub customer_id: i64,
    pub uploaded_by: Option<i64>,
    pub file_name: &'a str,
    pub status: &'a str,
    pub created_at: NaiveDateTime,
}

/// Creates an upload in `processing` state and returns its id.
pub fn insert_processing(
    conn: &mut DbConnection,
    scope: &TenantScope,
    file_name: &str,
    uploaded_by: Option<i64>,
) -> Result<i64, DbError> {
    let row = NewUpload {
        customer_id: scope.id(),
        uploaded_by,
        file_name,
        status: "processing",
        created_at: super::now(),
    };
    Ok(on_backend!(conn, c => diesel::insert_into(uploads::table)
        .values(&row)
        .returning(uploads::id)
        .get_result::<i64>(c))?)
}

pub fn find(conn: &mut DbConnection, scope: &TenantScope, id: i64) -> Result<Upload, DbError> {
    Ok(uploads::table
        .filter(uploads::customer_id.eq(scope.id()))
        .filter(uploads::id.eq(id))
        .select(Upload::as_select())
        .first(conn)?)
}

/// Newest first.
pub fn list(
    conn: &mut DbConnection,
    scope: &TenantScope,
    page: i64,
    per_page: i64,
) -> Result<Page<Upload>, DbError> {
    let total = uploads::table
        .filter(uploads::customer_id.eq(scope.id()))
        .count()
        .get_result::<i64>(conn)?;
    let items = uploads::table
        .filter(uploads::customer_id.eq(scope.id()))
        .order((uploads::created_at.desc(), uploads::id.desc()))
        .limit(per_page)
        .offset(super::offset(page, per_page))
        .select(Upload::as_select())
        .load(conn)?;
    Ok(Page {
        items,
        page,
        per_page,
        total,
    })
}

/// Deletes an upload that has no claims (its report and rejections go with it).
///
/// PROTECT: while claims reference the upload the delete is refused with
/// [`DbError::UploadHasClaims`] and nothing changes. The explicit check gives the clear
/// error; the foreign key (RESTRICT / NO ACTION) still guards against a race.
pub fn delete(conn: &mut DbConnection, scope: &TenantScope, id: i64) -> Result<(), DbError> {
    crate::db::transaction(conn, |conn| {
        find(conn, scope, id)?;
        let has_claims = diesel::select(diesel::dsl::exists(
            claim_records::table
                .filter(claim_records::customer_id.eq(scope.id()))
                .filter(claim_records::upload_id.eq(id)),
        ))
        .get_result::<bool>(conn)?;
        if has_claims {
            return Err(DbError::UploadHasClaims { upload_id: id });
        }
        delete_relying_on_foreign_key(conn, scope, id)
    })
}

/// Deletes without the explicit claims check, so tests can prove the database itself
/// enforces PROTECT on both backends.
#[doc(hidden)]
pub fn delete_relying_on_foreign_key(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<(), DbError> {
    diesel::delete(
        uploads::table
            .filter(uploads::customer_id.eq(scope.id()))
            .filter(uploads::id.eq(id)),
    )
    .execute(conn)
    .map_err(|e| match DbError::from(e) {
        DbError::ForeignKey => DbError::UploadHasClaims { upload_id: id },
        other => other,
    })?;
    Ok(())
}

/// One batch of an upload's rejections in row order, after the `(row_number, id)` keyset
/// cursor: `(id, row_number, column_name, reason)`. The rejections export streams these
/// batches, so its memory is one batch whatever the upload's size (issue 16 row 10).
pub fn rejections_after(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<(i64, i64, String, String)>, DbError> {
    use crate::db::schema::upload_rejections as r;
    let mut query = r::table
        .inner_join(uploads::table)
        .filter(uploads::customer_id.eq(scope.id()))
        .filter(r::upload_id.eq(upload_id))
        .into_boxed();
    if let Some((row, id)) = after {
        query = query.filter(
            r::row_number
                .gt(row)
                .or(r::row_number.eq(row).and(r::id.gt(id))),
        );
    }
    Ok(query
        .order((r::row_number.asc(), r::id.asc()))
        .limit(limit)
        .select((r::id, r::row_number, r::column_name, r::reason))
        .load(conn)?)
}
