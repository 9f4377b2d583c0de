//! The rows behind a browser session: the session store's load, save, update and delete
//! (`web::auth::session_store`, actix-session's store) and the signed-in check's user and
//! absolute-limit sign-out (`web::auth`). The middleware and its cache are the web's; what
//! they read and write is here. Sessions are not tenant-scoped: one precedes the tenant.

use chrono::NaiveDateTime;

use crate::db::repo::{self, audit, customers, sessions, users};
use crate::db::{AuditContext, Db, DbError};

/// A stored session as a load returns it.
pub struct Loaded {
    /// The session state, as stored (JSON).
    pub state: String,
    pub user_id: Option<i64>,
    pub refreshed_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// The session of `key_hash`, if it exists and has not expired. An idle-expired row is
/// removed and its sign-out audited once, together; a row last refreshed `refresh_after`
/// or longer ago is extended to `new_expiry` (the sliding idle limit), so most loads are
/// reads.
pub async fn load(
    db: &Db,
    key_hash: String,
    refresh_after: chrono::Duration,
    new_expiry: NaiveDateTime,
) -> Result<Option<Loaded>, DbError> {
    let lookup = key_hash.clone();
    let row = db
        .run(move |conn| {
            let Some(row) = sessions::find(conn, &lookup)? else {
                return Ok(None);
            };
            let now = repo::now();
            if row.expires_at <= now {
                return Ok(Some(Err(row.user_id)));
            }
            let (mut refreshed_at, mut expires_at) = (row.refreshed_at, row.expires_at);
            if now - row.refreshed_at >= refresh_after {
                sessions::extend(conn, &lookup, new_expiry)?;
                // Slightly earlier than what was stored: a cache errs towards asking the
                // database again.
                (refreshed_at, expires_at) = (now, new_expiry);
            }
            Ok(Some(Ok(Loaded {
                state: row.state,
                user_id: row.user_id,
                refreshed_at,
                expires_at,
            })))
        })
        .await?;
    match row {
        None => Ok(None),
        Some(Ok(loaded)) => Ok(Some(loaded)),
        Some(Err(user_id)) => {
            // Idle timeout: the row goes and the sign-out is audited, in one transaction.
            db.write(move |conn| {
                sessions::delete(conn, &key_hash)?;
                if let Some(user_id) = user_id {
                    audit::record_system(conn, user_id, "session.expired", Some("idle"))?;
                }
                Ok::<_, DbError>(())
            })
            .await?;
            Ok(None)
        }
    }
}

/// Stores a new session.
pub async fn insert(
    db: &Db,
    key_hash: String,
    user_id: Option<i64>,
    state: String,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    db.run(move |conn| sessions::insert(conn, &key_hash, user_id, &state, expires_at))
        .await
}

/// Replaces a session's state; false when the row no longer exists.
pub async fn update_state(
    db: &Db,
    key_hash: String,
    user_id: Option<i64>,
    state: String,
    expires_at: NaiveDateTime,
) -> Result<bool, DbError> {
    db.run(move |conn| sessions::update_state(conn, &key_hash, user_id, &state, expires_at))
        .await
}

/// Moves a session's expiry.
pub async fn extend(db: &Db, key_hash: String, expires_at: NaiveDateTime) -> Result<(), DbError> {
    db.run(move |conn| sessions::extend(conn, &key_hash, expires_at))
        .await
}

/// Ends a session.
pub async fn delete(db: &Db, key_hash: String) -> Result<(), DbError> {
    db.run(move |conn| sessions::delete(conn, &key_hash)).await
}

/// Who a session's user is (for the signed-in check and its cache).
pub struct SessionUser {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub email: String,
    pub role: String,
    pub is_staff: bool,
    pub is_active: bool,
}

/// The user a session names, with its tenant's name; `NotFound` once the account is gone.
pub async fn user(db: &Db, user_id: i64) -> Result<SessionUser, DbError> {
    db.run(move |conn| {
        let user = users::find_for_session(conn, user_id)?;
        let customer = customers::find_by_id(conn, user.customer_id)?;
        Ok(SessionUser {
            id: user.id,
            customer_id: user.customer_id,
            customer_name: customer.name,
            email: user.email,
            role: user.role,
            is_staff: user.is_staff,
            is_active: user.is_active,
        })
    })
    .await
}

/// Audits the sign-out of a session past its absolute limit (the session itself is ended
/// by the caller, in the cookie's store).
pub async fn expired_absolute(db: &Db, ctx: AuditContext, user_id: i64) -> Result<(), DbError> {
    db.write(move |conn| {
        audit::record_system_with(conn, &ctx, user_id, "session.expired", "absolute")
    })
    .await
}
