//! Invitations to join a tenant (issue 16 row 11). An invitation is the inviting tenant's
//! own row: creating one never looks at accounts outside the tenant, so the inviter's
//! answer cannot reveal whether the address is in use elsewhere. Only the SHA-256 of the
//! link token is stored; a link works once and until it expires.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::invitations;
use crate::db::{DbConnection, DbError};
use crate::domain::roles::Role;
use crate::domain::tenant::TenantScope;

use super::one_row;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: i64,
    pub customer_id: i64,
    pub email: String,
    pub role: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub struct NewInvitation<'a> {
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub created_by: i64,
    pub expires_at: NaiveDateTime,
}

/// Creates an invitation in the scope's tenant. Earlier pending invitations of the same
/// address to this tenant stop working, so only the newest link is valid (as with reset
/// links).
pub fn insert(
    conn: &mut DbConnection,
    scope: &TenantScope,
    new: &NewInvitation<'_>,
) -> Result<i64, DbError> {
    let now = super::now();
    diesel::update(
        invitations::table
            .filter(invitations::customer_id.eq(scope.id()))
            .filter(invitations::email.eq(new.email))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(now))
    .execute(conn)?;
    diesel::insert_into(invitations::table)
        .values((
            invitations::customer_id.eq(scope.id()),
            invitations::email.eq(new.email),
            invitations::role.eq(new.role.as_str()),
            invitations::token_hash.eq(new.token_hash),
            invitations::created_by.eq(Some(new.created_by)),
            invitations::created_at.eq(now),
            invitations::expires_at.eq(new.expires_at),
        ))
        .execute(conn)?;
    Ok(invitations::table
        .filter(invitations::token_hash.eq(new.token_hash))
        .select(invitations::id)
        .first(conn)?)
}

/// Pending invitations of the tenant, newest first (the members page lists them).
pub fn list_pending(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<Invitation>, DbError> {
    Ok(invitations::table
        .filter(invitations::customer_id.eq(scope.id()))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .filter(invitations::expires_at.gt(super::now()))
        .order(invitations::id.desc())
        .select(Invitation::as_select())
        .load(conn)?)
}

/// A pending invitation of the tenant by id; another tenant's id is not found.
pub fn find_pending(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<Invitation, DbError> {
    Ok(invitations::table
        .filter(invitations::customer_id.eq(scope.id()))
        .filter(invitations::id.eq(id))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .select(Invitation::as_select())
        .first(conn)?)
}

/// Withdraws a pending invitation of the tenant; another tenant's id is not found.
pub fn revoke(conn: &mut DbConnection, scope: &TenantScope, id: i64) -> Result<(), DbError> {
    let now = super::now();
    one_row(
        diesel::update(
            invitations::table
                .filter(invitations::customer_id.eq(scope.id()))
                .filter(invitations::id.eq(id))
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null()),
        )
        .set(invitations::revoked_at.eq(now))
        .execute(conn)?,
    )
}

/// The invitation behind a link token, when it is unused, not withdrawn and not expired
/// at `now`. The token itself is the invitee's credential, so this lookup is not scoped.
pub fn find_usable(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<Invitation, DbError> {
    Ok(invitations::table
        .filter(invitations::token_hash.eq(token_hash))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .filter(invitations::expires_at.gt(now))
        .select(Invitation::as_select())
        .first(conn)?)
}

/// Marks the invitation used by `user_id`; false when it was used or withdrawn meanwhile
/// (a concurrent second use), so a link admits one account at most.
pub fn mark_accepted(conn: &mut DbConnection, id: i64, user_id: i64) -> Result<bool, DbError> {
    let changed = diesel::update(
        invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set((
        invitations::accepted_at.eq(super::now()),
        invitations::accepted_user_id.eq(Some(user_id)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
