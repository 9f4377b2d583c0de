//! Accounts: creating users (and their customer) for the CLI and the demo, and the rules on
//! changing members that hold whoever asks — the last active owner stays an active owner.

use crate::db::repo::{customers, sessions, users};
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::email::is_email;
use crate::domain::password;
use crate::domain::roles::Role;
use crate::domain::tenant::{CustomerId, TenantScope, slugify};

/// Why an account change was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("'{0}' is not an e-mail address")]
    InvalidEmail(String),
    #[error("the customer name must contain letters or digits")]
    InvalidCustomerName,
    #[error("{0}")]
    WeakPassword(String),
    #[error("that e-mail address already belongs to another customer")]
    EmailTaken,
    /// The change would leave the organisation without an active owner.
    #[error("this is the last active owner of the organisation")]
    LastOwner,
    #[error("no randomness available for a password")]
    NoRandomness,
    #[error("hashing the password failed")]
    Hash(#[source] password::HashError),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub struct CreatedUser {
    pub user_id: i64,
    pub customer_id: CustomerId,
    pub customer_slug: String,
    pub email: String,
    pub created_user: bool,
    pub created_customer: bool,
}

/// Creates (or re-passwords) a user in the named customer, creating the customer when
/// needed. The password must satisfy the policy.
pub fn create_user(
    db: &Db,
    customer: &str,
    email: &str,
    role: Role,
    staff: bool,
    password: &str,
) -> Result<CreatedUser, AccountError> {
    password::check_policy(password).map_err(|e| AccountError::WeakPassword(e.to_string()))?;
    let email = users::normalize_email(email);
    if !is_email(&email) {
        return Err(AccountError::InvalidEmail(email));
    }
    let slug = slugify(customer);
    if slug.is_empty() {
        return Err(AccountError::InvalidCustomerName);
    }
    let hash = password::hash(password).map_err(AccountError::Hash)?;
    let name = customer.trim().to_string();
    db.write_blocking(move |conn| {
        let (customer, created_customer) = customers::find_or_create(conn, &slug, &name)?;
        let scope = TenantScope::for_system(CustomerId(customer.id));
        let (user_id, created_user) = match users::find_by_email(conn, &email) {
            Ok(existing) if existing.customer_id == customer.id => {
                users::set_password_hash(conn, &scope, existing.id, &hash)?;
                (existing.id, false)
            }
            Ok(_) => return Err(AccountError::EmailTaken),
            Err(DbError::NotFound) => {
                let new = users::CreateUser {
                    email: &email,
                    password_hash: &hash,
                    role,
                    is_staff: staff,
                };
                (users::insert(conn, &scope, &new)?, true)
            }
            Err(other) => return Err(other.into()),
        };
        Ok(CreatedUser {
            user_id,
            customer_id: CustomerId(customer.id),
            customer_slug: customer.slug,
            email,
            created_user,
            created_customer,
        })
    })
}

/// A random password that satisfies the policy, for demo logins.
pub fn generate_password() -> Result<String, AccountError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut raw = [0u8; 20];
    getrandom::fill(&mut raw).map_err(|_| AccountError::NoRandomness)?;
    Ok(raw
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// A member of the tenant as the rules need it: id, current role, whether active.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub id: i64,
    pub role: Role,
    pub is_active: bool,
}

/// Refuses a change that takes `member` out of the active owners when it is the last one.
fn keep_an_owner(
    conn: &mut DbConnection,
    scope: &TenantScope,
    member: Member,
    stays_active_owner: bool,
) -> Result<(), AccountError> {
    if member.role == Role::Owner
        && member.is_active
        && !stays_active_owner
        && users::count_active_owners(conn, scope)? <= 1
    {
        return Err(AccountError::LastOwner);
    }
    Ok(())
}

/// Gives `member` the role `new_role`, audited as `entry` in the same transaction.
pub async fn change_role(
    db: &Db,
    scope: TenantScope,
    member: Member,
    new_role: Role,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), AccountError> {
    db.write_audited(ctx, entry, move |conn| {
        keep_an_owner(conn, &scope, member, new_role == Role::Owner)?;
        users::set_role(conn, &scope, member.id, new_role)?;
        Ok(())
    })
    .await
}

/// Activates or deactivates `member` (a deactivated member is signed out everywhere),
/// audited as `entry` in the same transaction.
pub async fn set_active(
    db: &Db,
    scope: TenantScope,
    member: Member,
    active: bool,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), AccountError> {
    db.write_audited(ctx, entry, move |conn| {
        keep_an_owner(conn, &scope, member, active)?;
        users::set_active(conn, &scope, member.id, active)?;
        if !active {
            sessions::delete_for_user(conn, member.id)?;
        }
        Ok(())
    })
    .await
}
