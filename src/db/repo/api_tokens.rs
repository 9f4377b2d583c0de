//! Personal API tokens. Only the SHA-256 of a token is stored. Lookup by hash is global
//! (authentication happens before the tenant is known); listing and revoking are
//! tenant-scoped.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{api_tokens, customers, users};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;
use crate::on_backend;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub customer_id: i64,
    pub user_id: i64,
    pub name: String,
    pub token_hash: String,
    pub prefix: String,
    pub role_cap: String,
    pub expires_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub struct NewToken<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub prefix: &'a str,
    pub role_cap: &'a str,
    pub expires_at: NaiveDateTime,
}

/// Stores a token of a user of the scope's tenant; returns its id.
pub fn insert(
    conn: &mut DbConnection,
    scope: &TenantScope,
    new: &NewToken<'_>,
) -> Result<i64, DbError> {
    // The owner must belong to the tenant the scope names.
    super::users::find(conn, scope, new.user_id)?;
    let now = super::now();
    on_backend!(conn, c => diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::customer_id.eq(scope.id()),
            api_tokens::user_id.eq(new.user_id),
            api_tokens::name.eq(new.name),
            api_tokens::token_hash.eq(new.token_hash),
            api_tokens::prefix.eq(new.prefix),
            api_tokens::role_cap.eq(new.role_cap),
            api_tokens::expires_at.eq(new.expires_at),
            api_tokens::created_at.eq(now),
        ))
        .returning(api_tokens::id)
        .get_result::<i64>(c))
    .map_err(|e| {
        if DbError::is_unique_violation(&e) {
            DbError::Duplicate("token")
        } else {
            DbError::from(e)
        }
    })
}

/// What authenticating a token needs: the token row, its owner and the owner's tenant.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub token: ApiToken,
    pub email: String,
    pub role: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub customer_name: String,
}

/// The token with this hash, with its owner's current role and status (one query).
pub fn find_by_hash(conn: &mut DbConnection, token_hash: &str) -> Result<TokenOwner, DbError> {
    let (token, email, role, is_active, is_staff, customer_name) = api_tokens::table
        .inner_join(users::table)
        .inner_join(customers::table.on(customers::id.eq(api_tokens::customer_id)))
        .filter(api_tokens::token_hash.eq(token_hash))
        // A token never outlives a move of its owner to another tenant.
        .filter(users::customer_id.eq(api_tokens::customer_id))
        .select((
            ApiToken::as_select(),
            users::email,
            users::role,
            users::is_active,
            users::is_staff,
            customers::name,
        ))
        .first::<(ApiToken, String, String, bool, bool, String)>(conn)?;
    Ok(TokenOwner {
        token,
        email,
        role,
        is_active,
        is_staff,
        customer_name,
    })
}

/// A token row with its owner's e-mail (the tokens page).
#[derive(Debug, Clone)]
pub struct Listed {
    pub token: ApiToken,
    pub owner_email: String,
}

/// The tenant's tokens, newest first; only `user_id`'s when given.
pub fn list(
    conn: &mut DbConnection,
    scope: &TenantScope,
    user_id: Option<i64>,
) -> Result<Vec<Listed>, DbError> {
    let mut query = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::customer_id.eq(scope.id()))
        .into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(api_tokens::user_id.eq(user_id));
    }
    let rows: Vec<(ApiToken, String)> = query
        .order(api_tokens::id.desc())
        .limit(1000)
        .select((ApiToken::as_select(), users::email))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(token, owner_email)| Listed { token, owner_email })
        .collect())
}

pub fn find(conn: &mut DbConnection, scope: &TenantScope, id: i64) -> Result<ApiToken, DbError> {
    Ok(api_tokens::table
        .filter(api_tokens::customer_id.eq(scope.id()))
        .filter(api_tokens::id.eq(id))
        .select(ApiToken::as_select())
        .first(conn)?)
}

/// Revokes a token of the tenant (idempotent: an already revoked token stays as it was).
pub fn revoke(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    by: i64,
) -> Result<(), DbError> {
    find(conn, scope, id)?;
    diesel::update(
        api_tokens::table
            .filter(api_tokens::customer_id.eq(scope.id()))
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set((
        api_tokens::revoked_at.eq(Some(super::now())),
        api_tokens::revoked_by.eq(Some(by)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Records use of a token (callers write at most once a minute per token).
pub fn touch(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(api_tokens::table.filter(api_tokens::id.eq(id)))
        .set(api_tokens::last_used_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}
