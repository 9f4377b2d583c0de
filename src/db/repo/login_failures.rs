//! Failed-login records for throttling, keyed by a hash of the account e-mail or of the
//! client address. Stored in the database so limits hold across instances and restarts.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    Account,
    Address,
}

impl ThrottleScope {
    fn as_str(self) -> &'static str {
        match self {
            ThrottleScope::Account => "account",
            ThrottleScope::Address => "address",
        }
    }
}

pub fn record(
    conn: &mut DbConnection,
    scope: ThrottleScope,
    key_hash: &str,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::scope.eq(scope.as_str()),
            login_failures::key_hash.eq(key_hash),
            login_failures::failed_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Failures since `since` and the oldest of them (to compute when the window frees up).
pub fn recent(
    conn: &mut DbConnection,
    scope: ThrottleScope,
    key_hash: &str,
    since: NaiveDateTime,
) -> Result<(i64, Option<NaiveDateTime>), DbError> {
    Ok(login_failures::table
        .filter(login_failures::scope.eq(scope.as_str()))
        .filter(login_failures::key_hash.eq(key_hash))
        .filter(login_failures::failed_at.ge(since))
        .select((count_star(), min(login_failures::failed_at)))
        .first(conn)?)
}

/// A successful login clears the account's counter.
pub fn clear(conn: &mut DbConnection, scope: ThrottleScope, key_hash: &str) -> Result<(), DbError> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::scope.eq(scope.as_str()))
            .filter(login_failures::key_hash.eq(key_hash)),
    )
    .execute(conn)?;
    Ok(())
}

/// Removes records older than `before`; returns how many.
pub fn delete_older_than(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize, DbError> {
    Ok(
        diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(before)))
            .execute(conn)?,
    )
}

pub fn count_older_than(conn: &mut DbConnection, before: NaiveDateTime) -> Result<i64, DbError> {
    Ok(login_failures::table
        .filter(login_failures::failed_at.lt(before))
        .count()
        .get_result(conn)?)
}
