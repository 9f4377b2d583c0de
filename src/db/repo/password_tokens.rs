//! One-time set-password links (invitations and resets). Only token hashes are stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{password_tokens, users};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = password_tokens)]
pub struct PasswordToken {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: String,
    pub purpose: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

/// Issues a link for a user of the scope's tenant; earlier unused links of that user
/// stop working, so only the newest link is valid.
pub fn issue(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: i64,
    token_hash: &str,
    purpose: &str,
    created_by: Option<i64>,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    let belongs = diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::customer_id.eq(scope.id())),
    ))
    .get_result::<bool>(conn)?;
    if !belongs {
        return Err(DbError::NotFound);
    }
    let now = super::now();
    diesel::update(
        password_tokens::table
            .filter(password_tokens::user_id.eq(user_id))
            .filter(password_tokens::used_at.is_null()),
    )
    .set(password_tokens::expires_at.eq(now))
    .execute(conn)?;
    diesel::insert_into(password_tokens::table)
        .values((
            password_tokens::user_id.eq(user_id),
            password_tokens::token_hash.eq(token_hash),
            password_tokens::purpose.eq(purpose),
            password_tokens::created_by.eq(created_by),
            password_tokens::created_at.eq(now),
            password_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A token that is unused and not expired at `now`.
pub fn find_usable(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<PasswordToken, DbError> {
    Ok(password_tokens::table
        .filter(password_tokens::token_hash.eq(token_hash))
        .filter(password_tokens::used_at.is_null())
        .filter(password_tokens::expires_at.gt(now))
        .select(PasswordToken::as_select())
        .first(conn)?)
}

/// Marks the token used; false when it was already used (a concurrent second use).
pub fn mark_used(conn: &mut DbConnection, id: i64) -> Result<bool, DbError> {
    let changed = diesel::update(
        password_tokens::table
            .filter(password_tokens::id.eq(id))
            .filter(password_tokens::used_at.is_null()),
    )
    .set(password_tokens::used_at.eq(super::now()))
    .execute(conn)?;
    Ok(changed == 1)
}
