//! Server-side session rows. Keys are stored as SHA-256 hashes, so a database dump does
//! not reveal live cookies. Not tenant-scoped: a session precedes knowing the tenant.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::sessions;
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub key_hash: String,
    pub user_id: Option<i64>,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub refreshed_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, key_hash: &str) -> Result<Option<SessionRow>, DbError> {
    Ok(sessions::table
        .find(key_hash)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(
    conn: &mut DbConnection,
    key_hash: &str,
    user_id: Option<i64>,
    state: &str,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    let now = super::now();
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(key_hash),
            sessions::user_id.eq(user_id),
            sessions::state.eq(state),
            sessions::created_at.eq(now),
            sessions::refreshed_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces the state; returns false when the row no longer exists.
pub fn update_state(
    conn: &mut DbConnection,
    key_hash: &str,
    user_id: Option<i64>,
    state: &str,
    expires_at: NaiveDateTime,
) -> Result<bool, DbError> {
    let changed = diesel::update(sessions::table.find(key_hash))
        .set((
            sessions::user_id.eq(user_id),
            sessions::state.eq(state),
            sessions::refreshed_at.eq(super::now()),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

pub fn extend(
    conn: &mut DbConnection,
    key_hash: &str,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(sessions::table.find(key_hash))
        .set((
            sessions::refreshed_at.eq(super::now()),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, key_hash: &str) -> Result<(), DbError> {
    diesel::delete(sessions::table.find(key_hash)).execute(conn)?;
    Ok(())
}

/// Ends every session of a user (deactivation, password change).
pub fn delete_for_user(conn: &mut DbConnection, user_id: i64) -> Result<usize, DbError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

pub fn count_for_user(conn: &mut DbConnection, user_id: i64) -> Result<i64, DbError> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .count()
        .get_result(conn)?)
}

/// Removes sessions that expired before `now`; returns how many.
pub fn delete_expired(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, DbError> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.lt(now))).execute(conn)?)
}
