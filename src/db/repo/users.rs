//! Users. Lookups by e-mail and id are global (authentication happens before a tenant is
//! known); everything that lists or changes members is tenant-scoped.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::users;
use crate::db::{DbConnection, DbError};
use crate::domain::roles::Role;
use crate::domain::tenant::TenantScope;
use crate::on_backend;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub customer_id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub is_staff: bool,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub password_changed_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub customer_id: i64,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub is_staff: bool,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub password_changed_at: NaiveDateTime,
}

/// E-mail addresses are compared trimmed and lower-cased; they are stored that way.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> Result<User, DbError> {
    Ok(users::table
        .filter(users::email.eq(normalize_email(email)))
        .select(User::as_select())
        .first(conn)?)
}

/// Whether the scope's tenant has a member with this (normalised) address. Invitations
/// ask only this, never whether the address is in use elsewhere (issue 16 row 11).
pub fn is_member(
    conn: &mut DbConnection,
    scope: &TenantScope,
    email: &str,
) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::customer_id.eq(scope.id()))
            .filter(users::email.eq(normalize_email(email))),
    ))
    .get_result(conn)?)
}

/// A user by id regardless of tenant: only for restoring an authenticated session.
pub fn find_for_session(conn: &mut DbConnection, id: i64) -> Result<User, DbError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)?)
}

pub fn find(conn: &mut DbConnection, scope: &TenantScope, id: i64) -> Result<User, DbError> {
    Ok(users::table
        .filter(users::customer_id.eq(scope.id()))
        .filter(users::id.eq(id))
        .select(User::as_select())
        .first(conn)?)
}

pub fn list(conn: &mut DbConnection, scope: &TenantScope) -> Result<Vec<User>, DbError> {
    Ok(users::table
        .filter(users::customer_id.eq(scope.id()))
        .order(users::email.asc())
        .select(User::as_select())
        .load(conn)?)
}

pub struct CreateUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub is_staff: bool,
}

pub fn insert(
    conn: &mut DbConnection,
    scope: &TenantScope,
    new: &CreateUser<'_>,
) -> Result<i64, DbError> {
    let now = super::now();
    let email = normalize_email(new.email);
    let row = NewUser {
        customer_id: scope.id(),
        email: &email,
        password_hash: new.password_hash,
        role: new.role.as_str(),
        is_staff: new.is_staff,
        is_active: true,
        created_at: now,
        updated_at: now,
        password_changed_at: now,
    };
    on_backend!(conn, c => diesel::insert_into(users::table)
        .values(&row)
        .returning(users::id)
        .get_result::<i64>(c))
    .map_err(|e| {
        if DbError::is_unique_violation(&e) {
            DbError::Duplicate("e-mail address")
        } else {
            DbError::from(e)
        }
    })
}

/// Replaces the password hash (CLI re-run of create-user, password change, reset).
pub fn set_password_hash(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    password_hash: &str,
) -> Result<(), DbError> {
    let now = super::now();
    update_one!(
        conn,
        scope,
        users.id = id,
        (
            users::password_hash.eq(password_hash),
            users::password_changed_at.eq(now),
            users::updated_at.eq(now),
        )
    )
}

/// Active owners of the tenant (the last one may not be demoted or deactivated).
pub fn count_active_owners(conn: &mut DbConnection, scope: &TenantScope) -> Result<i64, DbError> {
    Ok(users::table
        .filter(users::customer_id.eq(scope.id()))
        .filter(users::role.eq(Role::Owner.as_str()))
        .filter(users::is_active.eq(true))
        .count()
        .get_result(conn)?)
}

pub fn set_role(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    role: Role,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        users.id = id,
        (
            users::role.eq(role.as_str()),
            users::updated_at.eq(super::now()),
        )
    )
}

pub fn set_active(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    active: bool,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        users.id = id,
        (
            users::is_active.eq(active),
            users::updated_at.eq(super::now()),
        )
    )
}

pub fn record_login(conn: &mut DbConnection, id: i64) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(super::now()))
        .execute(conn)?;
    Ok(())
}
