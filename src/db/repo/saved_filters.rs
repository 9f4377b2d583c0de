//! A person's saved list filters: a name and the list's query string. Each person sees
//! and deletes only their own (filtered by tenant and user).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::saved_filters;
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = saved_filters)]
pub struct SavedFilter {
    pub id: i64,
    pub customer_id: i64,
    pub user_id: i64,
    pub page: String,
    pub name: String,
    pub query: String,
    pub created_at: NaiveDateTime,
}

pub fn list_saved_filters(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
    page: &str,
) -> Result<Vec<SavedFilter>, DbError> {
    Ok(saved_filters::table
        .filter(saved_filters::customer_id.eq(scope.id()))
        .filter(saved_filters::user_id.eq(user_id))
        .filter(saved_filters::page.eq(page))
        .order(saved_filters::name.asc())
        .select(SavedFilter::as_select())
        .load(conn)?)
}

/// Saves a filter; the same name again replaces its query (saving is "remember this").
pub fn upsert_saved_filter(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
    page: &str,
    name: &str,
    query: &str,
) -> Result<(), DbError> {
    let updated = diesel::update(
        saved_filters::table
            .filter(saved_filters::customer_id.eq(scope.id()))
            .filter(saved_filters::user_id.eq(user_id))
            .filter(saved_filters::page.eq(page))
            .filter(saved_filters::name.eq(name)),
    )
    .set(saved_filters::query.eq(query))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(saved_filters::table)
            .values((
                saved_filters::customer_id.eq(scope.id()),
                saved_filters::user_id.eq(user_id),
                saved_filters::page.eq(page),
                saved_filters::name.eq(name),
                saved_filters::query.eq(query),
                saved_filters::created_at.eq(super::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes one of the user's own filters (someone else's looks absent).
pub fn delete_saved_filter(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
    id: i64,
) -> Result<(), DbError> {
    super::one_row(
        diesel::delete(
            saved_filters::table
                .filter(saved_filters::customer_id.eq(scope.id()))
                .filter(saved_filters::user_id.eq(user_id))
                .filter(saved_filters::id.eq(id)),
        )
        .execute(conn)?,
    )
}
