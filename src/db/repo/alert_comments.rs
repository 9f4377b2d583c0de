//! Comments on alerts: append-only (no update or delete function), each with its author
//! and time; the alert must be the tenant's.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{alert_comments, users};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: i64,
    pub author_email: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_comment(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
    user_id: i64,
    body: &str,
) -> Result<(), DbError> {
    // Another tenant's alert looks absent.
    super::alerts::find_alert(conn, scope, alert_id)?;
    diesel::insert_into(alert_comments::table)
        .values((
            alert_comments::alert_id.eq(alert_id),
            alert_comments::customer_id.eq(scope.id()),
            alert_comments::user_id.eq(user_id),
            alert_comments::body.eq(body),
            alert_comments::created_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// An alert's comments, oldest first (a conversation reads top to bottom).
pub fn list_comments(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
) -> Result<Vec<CommentRow>, DbError> {
    let rows: Vec<(i64, String, String, NaiveDateTime)> = alert_comments::table
        .inner_join(users::table)
        .filter(alert_comments::customer_id.eq(scope.id()))
        .filter(alert_comments::alert_id.eq(alert_id))
        .order(alert_comments::id.asc())
        .select((
            alert_comments::id,
            users::email,
            alert_comments::body,
            alert_comments::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, author_email, body, created_at)| CommentRow {
            id,
            author_email,
            body,
            created_at,
        })
        .collect())
}
