//! Personal API tokens: creation (shown once), listing, revocation and authentication of
//! a bearer token. The role a token acts with is min(owner's current role, the token's
//! cap), read from the database on every request, so a demoted or deactivated owner's
//! tokens lose their rights at once, on every instance.

use chrono::{Duration, NaiveDateTime};
use subtle::ConstantTimeEq;

use crate::db::repo::api_tokens::{self as repo, ApiToken, Listed, NewToken};
use crate::db::{AuditContext, AuditEntry, Db, DbError};
use crate::domain::api_token;
use crate::domain::roles::Role;
use crate::domain::tenant::{CustomerId, TenantScope, UserId};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A field of the creation form is not valid; the message names it, never its value.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Revoking someone else's token without being an admin.
    #[error("only admins may revoke other people's tokens")]
    NotYours,
    #[error("no randomness available for a token")]
    NoRandomness,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Why a bearer token was refused (all answer 401; the reason goes to the log only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("not a PayerWatch token")]
    Malformed,
    #[error("unknown token")]
    Unknown,
    #[error("revoked token")]
    Revoked,
    #[error("expired token")]
    Expired,
    #[error("the token's owner is deactivated")]
    OwnerInactive,
    /// Platform staff hold no tenant data (SPEC §1), through pages or the API.
    #[error("the token's owner is platform staff")]
    Staff,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Refused(AuthFailure),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Who a valid token acts for.
#[derive(Debug, Clone)]
pub struct TokenPrincipal {
    pub token_id: i64,
    pub user_id: UserId,
    pub customer_id: CustomerId,
    pub customer_name: String,
    pub email: String,
    /// min(owner's role now, token cap).
    pub role: Role,
    pub expires_at: NaiveDateTime,
}

impl TokenPrincipal {
    pub fn scope(&self) -> TenantScope {
        TenantScope::from_authenticated(self.customer_id)
    }
}

pub struct NewTokenRequest<'a> {
    pub name: &'a str,
    /// Days until expiry; `None` = the default (90).
    pub days: Option<i64>,
    /// The most the token may do; `None` = the owner's role.
    pub role_cap: Option<Role>,
}

/// A created token: the secret exists only in this value (shown once).
pub struct CreatedToken {
    pub id: i64,
    pub secret: String,
    pub expires_at: NaiveDateTime,
}

fn invalid(field: &'static str, message: impl Into<String>) -> TokenError {
    TokenError::Invalid {
        field,
        message: message.into(),
    }
}

/// Creates a token for `owner` (who holds `owner_role`), audited as `api_token.created`.
pub async fn create(
    db: &Db,
    scope: TenantScope,
    owner: UserId,
    owner_role: Role,
    req: NewTokenRequest<'_>,
    ctx: AuditContext,
) -> Result<CreatedToken, TokenError> {
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(
            "name",
            "Give the token a name of 1 to 100 characters.",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "The name may not contain control characters.",
        ));
    }
    let days = req.days.unwrap_or(api_token::DEFAULT_DAYS);
    if !(1..=api_token::MAX_DAYS).contains(&days) {
        return Err(invalid(
            "expires_in_days",
            format!(
                "The lifetime must be 1 to {} days (a year at most).",
                api_token::MAX_DAYS
            ),
        ));
    }
    let cap = req.role_cap.unwrap_or(owner_role);
    if cap > owner_role {
        return Err(invalid(
            "role",
            "A token cannot have a higher role than its owner.",
        ));
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|_| TokenError::NoRandomness)?;
    let secret = api_token::format(&random);
    let hash = api_token::hash(&secret);
    let prefix = api_token::display_prefix(&secret);
    let expires_at = crate::db::repo::now() + Duration::days(days);
    let entry = move |id: &i64| {
        AuditEntry {
            customer_id: Some(scope.id()),
            actor_user_id: Some(owner.0),
            action: "api_token.created",
            target_type: None,
            target_id: None,
            changed_fields: &["name", "role", "expires_at"],
        }
        .target("api_token", id)
    };
    let id = db
        .write_audited(ctx, entry, move |conn| {
            repo::insert(
                conn,
                &scope,
                &NewToken {
                    user_id: owner.0,
                    name: &name,
                    token_hash: &hash,
                    prefix: &prefix,
                    role_cap: cap.as_str(),
                    expires_at,
                },
            )
        })
        .await?;
    Ok(CreatedToken {
        id,
        secret,
        expires_at,
    })
}

/// The tokens `viewer` may see: all of the tenant's for admins, else their own.
pub async fn list(
    db: &Db,
    scope: TenantScope,
    viewer: UserId,
    viewer_role: Role,
) -> Result<Vec<Listed>, DbError> {
    let only = (!viewer_role.allows(Role::Admin)).then_some(viewer.0);
    db.run(move |conn| repo::list(conn, &scope, only)).await
}

/// Revokes a token: its owner, or an admin of the tenant. Audited as `api_token.revoked`.
pub async fn revoke(
    db: &Db,
    scope: TenantScope,
    actor: UserId,
    actor_role: Role,
    token_id: i64,
    ctx: AuditContext,
) -> Result<(), TokenError> {
    let entry = AuditEntry {
        customer_id: Some(scope.id()),
        actor_user_id: Some(actor.0),
        action: "api_token.revoked",
        target_type: None,
        target_id: None,
        changed_fields: &["revoked_at"],
    }
    .target("api_token", token_id);
    db.write_audited(ctx, entry, move |conn| {
        let token: ApiToken = repo::find(conn, &scope, token_id)?;
        if token.user_id != actor.0 && !actor_role.allows(Role::Admin) {
            // Not an admin: someone else's token is simply not there for them.
            return Err(TokenError::Db(DbError::NotFound));
        }
        repo::revoke(conn, &scope, token_id, actor.0)?;
        Ok(())
    })
    .await
}

/// `last_used_at` is written at most this often per token (a read per request, not a
/// write).
const TOUCH_EVERY_SECS: i64 = 60;

/// Checks a bearer token and returns who it acts for with which role. Expired tokens
/// are refused and their use is audited (`api_token.used_after_expiry`).
pub async fn authenticate(
    db: &Db,
    presented: &str,
    ctx: AuditContext,
) -> Result<TokenPrincipal, AuthError> {
    // Shape and checksum first: random strings never reach the database.
    if !api_token::well_formed(presented) {
        return Err(AuthError::Refused(AuthFailure::Malformed));
    }
    let hash = api_token::hash(presented);
    let lookup = hash.clone();
    let found = match db.run(move |conn| repo::find_by_hash(conn, &lookup)).await {
        Ok(found) => found,
        Err(DbError::NotFound) => return Err(AuthError::Refused(AuthFailure::Unknown)),
        Err(other) => return Err(other.into()),
    };
    // The lookup matched on the hash already; compare again in constant time so the
    // decision itself never depends on how many leading characters agree.
    if !bool::from(found.token.token_hash.as_bytes().ct_eq(hash.as_bytes())) {
        return Err(AuthError::Refused(AuthFailure::Unknown));
    }
    let token = &found.token;
    if token.revoked_at.is_some() {
        return Err(AuthError::Refused(AuthFailure::Revoked));
    }
    let now = crate::db::repo::now();
    if token.expires_at <= now {
        let entry = AuditEntry {
            customer_id: Some(token.customer_id),
            actor_user_id: Some(token.user_id),
            action: "api_token.used_after_expiry",
            target_type: None,
            target_id: None,
            changed_fields: &[],
        }
        .target("api_token", token.id);
        db.write_audited(ctx, entry, |_| Ok::<(), DbError>(()))
            .await?;
        return Err(AuthError::Refused(AuthFailure::Expired));
    }
    if !found.is_active {
        return Err(AuthError::Refused(AuthFailure::OwnerInactive));
    }
    if found.is_staff {
        return Err(AuthError::Refused(AuthFailure::Staff));
    }
    let owner_role: Role = found
        .role
        .parse()
        .map_err(|_| AuthError::Refused(AuthFailure::OwnerInactive))?;
    let cap: Role = token.role_cap.parse().unwrap_or(Role::Viewer);
    let due = token
        .last_used_at
        .is_none_or(|at| (now - at).num_seconds() >= TOUCH_EVERY_SECS);
    if due {
        let id = token.id;
        // Best effort: a failed bookkeeping write never refuses the request.
        if let Err(err) = db.write(move |conn| repo::touch(conn, id, now)).await {
            tracing::warn!(error = %err, "recording a token's last use failed");
        }
    }
    Ok(TokenPrincipal {
        token_id: token.id,
        user_id: UserId(token.user_id),
        customer_id: CustomerId(token.customer_id),
        customer_name: found.customer_name,
        email: found.email,
        role: owner_role.min(cap),
        expires_at: token.expires_at,
    })
}
