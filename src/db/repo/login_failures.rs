//! Failed-login records for throttling, keyed by a hash of the account e-mail or of the
//! client address. Stored in the database so limits hold across instances and restarts.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::{DbConnection, DbError};
use crate::on_backend;

use crate::domain::login_throttle::Rule;
pub use crate::domain::login_throttle::ThrottleScope;

/// The result of [`reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// A key is at its limit: refuse without verifying anything.
    Locked { retry_after_secs: u64 },
    /// The attempt is counted as a failure up front (ids of the records, released on a
    /// successful login).
    Reserved { ids: Vec<i64> },
}

/// Reserves one attempt against every key, atomically with the limit check, so parallel
/// guesses cannot exceed a limit (the check-then-act version let 29 of 30 through).
/// SQLite: the caller's write transaction holds the one writer lock. PostgreSQL: a
/// transaction-scoped advisory lock per key, taken in key order.
pub fn reserve(
    conn: &mut DbConnection,
    keys: &[(Rule, String)],
    now: NaiveDateTime,
) -> Result<Reservation, DbError> {
    if let DbConnection::Postgresql(pg) = conn {
        let mut ordered: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
        ordered.sort_unstable();
        for key in ordered {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 16))")
                .bind::<diesel::sql_types::Text, _>(key)
                .execute(pg)?;
        }
    }
    let mut retry: Option<i64> = None;
    for (rule, key) in keys {
        let since = now - chrono::Duration::seconds(rule.window_secs);
        let (count, oldest) = recent(conn, rule.scope, key, since)?;
        if count >= rule.max
            && let Some(oldest) = oldest
        {
            let frees = (oldest + chrono::Duration::seconds(rule.window_secs) - now)
                .num_seconds()
                .max(1);
            retry = Some(retry.map_or(frees, |r| r.max(frees)));
        }
    }
    if let Some(secs) = retry {
        return Ok(Reservation::Locked {
            retry_after_secs: secs as u64,
        });
    }
    let mut ids = Vec::with_capacity(keys.len());
    for (rule, key) in keys {
        ids.push(
            on_backend!(conn, c => diesel::insert_into(login_failures::table)
            .values((
                login_failures::scope.eq(rule.scope.as_str()),
                login_failures::key_hash.eq(key),
                login_failures::failed_at.eq(now),
            ))
            .returning(login_failures::id)
            .get_result::<i64>(c))?,
        );
    }
    Ok(Reservation::Reserved { ids })
}

/// Gives back reserved attempts (the login succeeded, or was never verified).
pub fn release(conn: &mut DbConnection, ids: &[i64]) -> Result<(), DbError> {
    diesel::delete(login_failures::table.filter(login_failures::id.eq_any(ids))).execute(conn)?;
    Ok(())
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
