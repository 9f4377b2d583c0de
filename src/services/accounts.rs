//! Accounts: creating users (and their customer) for the CLI and the demo; managing the
//! members of a tenant (invite, role, (de)activate, password links) with the rules that hold
//! whoever asks — who may manage whom, staff only from the CLI, the last active owner stays
//! an active owner.

use sha2::{Digest, Sha256};

use crate::db::repo::audit;
use crate::db::repo::invitations::{self, Invitation, NewInvitation};
use crate::db::repo::users::User;
use crate::db::repo::{self, customers, password_tokens, sessions, users};
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
    /// An invitation to an address that already is a member of the inviting tenant.
    #[error("that address already is a member of the organisation")]
    AlreadyMember,
    /// The actor's role may not manage the target's role (or the role asked for).
    #[error("your role may not manage that member or role")]
    NotPermitted,
    /// Members cannot deactivate themselves (they would lock themselves out).
    #[error("you cannot deactivate your own account")]
    OwnAccount,
    #[error("stored role: {0}")]
    StoredRole(String),
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

// ------------------------------------------------------------------ members of a tenant

/// How long an invite or reset link stays usable.
pub const LINK_HOURS: i64 = 24;

/// Who asks for a change to a member: their tenant, id and role.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub scope: TenantScope,
    pub id: i64,
    pub role: Role,
}

/// A password link just issued to `email`: `token` goes into the link and is shown once;
/// only its hash is stored.
#[derive(Debug)]
pub struct IssuedLink {
    pub email: String,
    pub token: String,
}

/// The stored form of a password-link token (SHA-256, hex): a leaked table holds no
/// usable links.
pub fn hash_link_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex() -> Result<String, AccountError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|_| AccountError::NoRandomness)?;
    Ok(hex::encode(raw))
}

/// Loads a member of the actor's tenant that the actor may manage, with its role.
async fn manageable(db: &Db, actor: &Actor, target_id: i64) -> Result<(User, Role), AccountError> {
    let scope = actor.scope;
    let target = db
        .run(move |conn| users::find(conn, &scope, target_id))
        .await?;
    // SPEC §1: staff accounts are managed only from the CLI. A tenant owner who could
    // reset one would take over the service-wide dashboard (review 2026-12, row 12).
    if target.is_staff {
        return Err(DbError::NotFound.into());
    }
    let role: Role = target
        .role
        .parse()
        .map_err(|e: crate::domain::roles::UnknownRole| AccountError::StoredRole(e.to_string()))?;
    if !actor.role.may_manage(role) {
        return Err(AccountError::NotPermitted);
    }
    Ok((target, role))
}

/// Invites `email` as `role` into the actor's tenant, audited as `entry` (target: the
/// invitation). Only the tenant's own members are consulted and no account is created
/// here: whether the address has an account in another tenant changes neither the answer
/// nor the work done, so inviting cannot probe for accounts elsewhere (issue 16 row 11).
/// The account is made when the link is used ([`accept_invitation`]).
pub async fn invite(
    db: &Db,
    actor: &Actor,
    email: &str,
    role: Role,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<IssuedLink, AccountError> {
    if !actor.role.may_manage(role) {
        return Err(AccountError::NotPermitted);
    }
    let email = users::normalize_email(email);
    if !is_email(&email) {
        return Err(AccountError::InvalidEmail(email));
    }
    let token = random_hex()?;
    let token_hash = hash_link_token(&token);
    let scope = actor.scope;
    let actor_id = actor.id;
    let expires_at = repo::now() + chrono::Duration::hours(LINK_HOURS);
    let email = db
        .write_audited(
            ctx,
            move |(id, _): &(i64, String)| entry.target("invitation", id),
            move |conn| {
                if users::is_member(conn, &scope, &email)? {
                    return Err(AccountError::AlreadyMember);
                }
                let id = invitations::insert(
                    conn,
                    &scope,
                    &NewInvitation {
                        email: &email,
                        role,
                        token_hash: &token_hash,
                        created_by: actor_id,
                        expires_at,
                    },
                )?;
                Ok((id, email))
            },
        )
        .await?
        .1;
    Ok(IssuedLink { email, token })
}

/// Withdraws a pending invitation of the actor's tenant, audited as `entry`; an actor
/// withdraws only invitations to roles they may manage.
pub async fn revoke_invitation(
    db: &Db,
    actor: &Actor,
    id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), AccountError> {
    let scope = actor.scope;
    let actor_role = actor.role;
    db.write_audited(ctx, entry.target("invitation", id), move |conn| {
        let invited = invitations::find_pending(conn, &scope, id)?;
        let role: Role = invited
            .role
            .parse()
            .map_err(|_| AccountError::StoredRole(invited.role.clone()))?;
        if !actor_role.may_manage(role) {
            return Err(AccountError::NotPermitted);
        }
        invitations::revoke(conn, &scope, id)?;
        Ok(())
    })
    .await
}

/// What using an invitation link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A new account in the inviting tenant, with the invitation's role.
    Created { user_id: i64 },
    /// The address already was a member of the inviting tenant: nothing to create.
    AlreadyMember,
}

/// Uses an invitation: creates the invitee's account in the inviting tenant with the
/// chosen password (already hashed), marks the link used and audits both, in one
/// transaction. An address that has an account in **another** tenant cannot join (SPEC §1:
/// a user belongs to exactly one customer): `EmailTaken`, and nothing changes — only the
/// holder of the link is told, never the inviter's page.
pub async fn accept_invitation(
    db: &Db,
    invitation: Invitation,
    password_hash: String,
    ctx: AuditContext,
) -> Result<Accepted, AccountError> {
    let role: Role = invitation
        .role
        .parse()
        .map_err(|_| AccountError::StoredRole(invitation.role.clone()))?;
    db.write(move |conn| {
        let scope = TenantScope::for_system(CustomerId(invitation.customer_id));
        let (user_id, outcome) = match users::find_by_email(conn, &invitation.email) {
            Ok(existing) if existing.customer_id == invitation.customer_id => {
                (existing.id, Accepted::AlreadyMember)
            }
            Ok(_) => return Err(AccountError::EmailTaken),
            Err(DbError::NotFound) => {
                let new = users::CreateUser {
                    email: &invitation.email,
                    password_hash: &password_hash,
                    role,
                    is_staff: false,
                };
                let id = match users::insert(conn, &scope, &new) {
                    Err(DbError::Duplicate(_)) => return Err(AccountError::EmailTaken),
                    other => other?,
                };
                (id, Accepted::Created { user_id: id })
            }
            Err(other) => return Err(other.into()),
        };
        // A second use of the same link (or one withdrawn meanwhile) rolls everything back.
        if !invitations::mark_accepted(conn, invitation.id, user_id)? {
            return Err(DbError::NotFound.into());
        }
        let event = |action, target_type, target_id: i64, fields| AuditEntry {
            customer_id: Some(invitation.customer_id),
            actor_user_id: Some(user_id),
            action,
            target_type: Some(target_type),
            target_id: Some(target_id.to_string()),
            changed_fields: fields,
        };
        if let Accepted::Created { .. } = outcome {
            audit::record(
                conn,
                &ctx,
                event(
                    "user.created",
                    "user",
                    user_id,
                    &["email", "role", "password"],
                ),
            )?;
        }
        audit::record(
            conn,
            &ctx,
            event("invitation.accepted", "invitation", invitation.id, &[]),
        )?;
        Ok(outcome)
    })
    .await
}

/// Issues a single-use password reset link for member `target_id`, audited as `entry`.
pub async fn issue_reset_link(
    db: &Db,
    actor: &Actor,
    target_id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<IssuedLink, AccountError> {
    let (target, _) = manageable(db, actor, target_id).await?;
    let token = random_hex()?;
    let token_hash = hash_link_token(&token);
    let scope = actor.scope;
    let actor_id = actor.id;
    let expires = repo::now() + chrono::Duration::hours(LINK_HOURS);
    db.write_audited(ctx, entry.target("user", target_id), move |conn| {
        password_tokens::issue(
            conn,
            &scope,
            target_id,
            &token_hash,
            "reset",
            Some(actor_id),
            expires,
        )
    })
    .await?;
    Ok(IssuedLink {
        email: target.email,
        token,
    })
}

/// What a role change did, for the page's message.
#[derive(Debug)]
pub struct RoleChange {
    pub email: String,
    pub changed: bool,
}

/// Gives member `target_id` the role `new_role` (the last active owner keeps owning),
/// audited as `entry` in the same transaction; asking for the role it has changes nothing.
pub async fn change_role(
    db: &Db,
    actor: &Actor,
    target_id: i64,
    new_role: Role,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<RoleChange, AccountError> {
    let (target, current) = manageable(db, actor, target_id).await?;
    if !actor.role.may_manage(new_role) {
        return Err(AccountError::NotPermitted);
    }
    if current == new_role {
        return Ok(RoleChange {
            email: target.email,
            changed: false,
        });
    }
    let member = Member {
        id: target_id,
        role: current,
        is_active: target.is_active,
    };
    let scope = actor.scope;
    db.write_audited(ctx, entry.target("user", target_id), move |conn| {
        keep_an_owner(conn, &scope, member, new_role == Role::Owner)?;
        users::set_role(conn, &scope, member.id, new_role)?;
        Ok::<_, AccountError>(())
    })
    .await?;
    Ok(RoleChange {
        email: target.email,
        changed: true,
    })
}

/// Activates or deactivates member `target_id` (a deactivated member is signed out
/// everywhere), audited as `entry` in the same transaction. Returns the member's e-mail.
pub async fn set_active(
    db: &Db,
    actor: &Actor,
    target_id: i64,
    active: bool,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<String, AccountError> {
    if target_id == actor.id {
        return Err(AccountError::OwnAccount);
    }
    let (target, role) = manageable(db, actor, target_id).await?;
    let member = Member {
        id: target_id,
        role,
        is_active: target.is_active,
    };
    let scope = actor.scope;
    db.write_audited(ctx, entry.target("user", target_id), move |conn| {
        keep_an_owner(conn, &scope, member, active)?;
        users::set_active(conn, &scope, member.id, active)?;
        if !active {
            sessions::delete_for_user(conn, member.id)?;
        }
        Ok::<_, AccountError>(())
    })
    .await?;
    Ok(target.email)
}

/// The members page: the tenant's members by e-mail and its pending invitations, in one
/// read.
pub async fn members(db: &Db, scope: TenantScope) -> Result<(Vec<User>, Vec<Invitation>), DbError> {
    db.run(move |conn| {
        Ok((
            users::list(conn, &scope)?,
            invitations::list_pending(conn, &scope)?,
        ))
    })
    .await
}
