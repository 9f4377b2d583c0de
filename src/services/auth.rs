//! Signing in and out, changing one's own password and using a one-time set-password
//! link: the throttle, the bounded password check and the audit rows, whoever asks. The web layer keeps what is HTTP's
//! (the form rate limit, the session cookie, the page).

use std::net::IpAddr;

use crate::db::repo::login_failures::{self, Reservation, ThrottleScope};
use crate::db::repo::{self, invitations, password_tokens, sessions, users};
use crate::db::{AuditContext, AuditEntry, Db, DbError};
use crate::domain::tenant::{CustomerId, TenantScope};
use crate::domain::{login_throttle, password};
use crate::services::accounts::{self, Accepted, AccountError, hash_link_token};
use crate::services::password_gate::{self, GateError};

/// Why a sign-in did not start a session.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong address or password, or an inactive account: one answer for all (the
    /// attempt stays counted).
    #[error("the e-mail address or password is not correct")]
    Failed,
    /// A throttle key is at its limit: nothing was verified.
    #[error("too many failed sign-ins; retry in {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    /// The password check could not run (the attempt was given back).
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn event(
    customer_id: Option<i64>,
    actor: Option<i64>,
    action: &'static str,
) -> AuditEntry<'static> {
    AuditEntry {
        customer_id,
        actor_user_id: actor,
        action,
        ..AuditEntry::default()
    }
}

/// Signs `email` in from `ip` with `password`: reserves the attempt against the throttle
/// (counted as a failure until it succeeds) before any password work, verifies within the
/// process-wide Argon2 bound (unknown accounts cost the same hashing time), and audits the
/// outcome (`login.success`, `login.failure`, `login.locked`). Returns the user's id.
pub async fn login(
    db: &Db,
    email: &str,
    password: String,
    ip: IpAddr,
    ctx: AuditContext,
) -> Result<i64, LoginError> {
    let email = users::normalize_email(email);
    let keys = login_throttle::keys(&email, ip);
    let pair = keys[0].1.clone();

    // 1. Reserve the attempt atomically with the limit check.
    let (reservation, user) = {
        let email = email.clone();
        db.write(move |conn| {
            let reservation = login_failures::reserve(conn, &keys, repo::now())?;
            let user = match users::find_by_email(conn, &email) {
                Ok(user) => Some(user),
                Err(DbError::NotFound) => None,
                Err(other) => return Err(other),
            };
            Ok((reservation, user))
        })
        .await?
    };
    let (customer_id, actor) = user
        .as_ref()
        .map_or((None, None), |u| (Some(u.customer_id), Some(u.id)));

    let reserved = match reservation {
        Reservation::Locked { retry_after_secs } => {
            db.write_audit(ctx, event(customer_id, actor, "login.locked"))
                .await?;
            return Err(LoginError::Locked { retry_after_secs });
        }
        Reservation::Reserved { ids } => ids,
    };

    // 2. Verify.
    let stored = user
        .as_ref()
        .map(|u| (u.password_hash.clone(), u.is_active));
    let verified = password_gate::gate()
        .run(move || match stored {
            Some((hash, active)) => password::verify(&password, &hash) && active,
            None => {
                let _ = password::verify(&password, &password::DUMMY_HASH);
                false
            }
        })
        .await;

    // 3. Record the outcome.
    match (verified, actor) {
        (Ok(true), Some(user_id)) => {
            db.write_audited(
                ctx,
                event(customer_id, actor, "login.success"),
                move |conn| {
                    // The owner's own address starts afresh; the account-wide count stays (it
                    // ends with its hour or an admin-issued reset link).
                    login_failures::release(conn, &reserved)?;
                    login_failures::clear(conn, ThrottleScope::Pair, &pair)?;
                    users::record_login(conn, user_id)
                },
            )
            .await?;
            Ok(user_id)
        }
        (Ok(_), _) => {
            // The reservation stays: it is the failure record.
            db.write_audit(ctx, event(customer_id, actor, "login.failure"))
                .await?;
            Err(LoginError::Failed)
        }
        (Err(gate), _) => {
            // Never verified: the attempt is given back.
            db.write(move |conn| login_failures::release(conn, &reserved))
                .await?;
            Err(gate.into())
        }
    }
}

/// Audits the sign-out of `user_id` (its customer, if the account still exists). Ending
/// the session itself is the caller's.
pub async fn logout(db: &Db, user_id: i64, ctx: AuditContext) -> Result<(), DbError> {
    db.write_audited(
        ctx,
        move |customer_id: &Option<i64>| event(*customer_id, Some(user_id), "logout"),
        move |conn| {
            Ok::<_, DbError>(
                users::find_for_session(conn, user_id)
                    .ok()
                    .map(|u| u.customer_id),
            )
        },
    )
    .await?;
    Ok(())
}

// ------------------------------------------------------------------ own password

/// The account page's password form.
#[derive(Debug)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
    pub confirm: String,
}

/// Why a password change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The current password is wrong (the attempt stays counted, as a failed sign-in).
    #[error("The current password is not correct.")]
    WrongPassword,
    /// The new password is refused: the words say why (the pair differs, it is the current
    /// one, or it breaks the policy).
    #[error("{0}")]
    Refused(String),
    /// A throttle key is at its limit: nothing was verified.
    #[error("too many failed sign-ins; retry in {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("hashing the password failed")]
    Hash(#[source] password::HashError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Changes the signed-in user's own password. Re-authentication is a password guess like
/// a sign-in (review 2026-12, row 6): the attempt is reserved against the same throttle
/// keys (the user's address, `ip`) before the bounded check, and given back unless the
/// password was wrong. Then the new pair and the policy are checked, the new password
/// hashed, and in one audited transaction (`entry`, targeted at the user) the hash stored
/// and every session of the user ended: the caller restarts its own under a new id.
pub async fn change_password(
    db: &Db,
    scope: TenantScope,
    user_id: i64,
    ip: IpAddr,
    change: PasswordChange,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), ChangeError> {
    let (reservation, stored) = db
        .write(move |conn| {
            let user = users::find(conn, &scope, user_id)?;
            let keys = login_throttle::keys(&users::normalize_email(&user.email), ip);
            let reservation = login_failures::reserve(conn, &keys, repo::now())?;
            Ok::<_, DbError>((reservation, user.password_hash))
        })
        .await?;
    let reserved = match reservation {
        Reservation::Locked { retry_after_secs } => {
            return Err(ChangeError::Locked { retry_after_secs });
        }
        Reservation::Reserved { ids } => ids,
    };
    let current = change.current.clone();
    let verified = password_gate::gate()
        .run(move || password::verify(&current, &stored))
        .await;
    if !matches!(verified, Ok(false)) {
        // Right password, or never checked: the attempt is given back.
        db.write(move |conn| login_failures::release(conn, &reserved))
            .await?;
    }
    if !verified? {
        return Err(ChangeError::WrongPassword);
    }
    let problem = if change.new != change.confirm {
        Some("The new passwords do not match.".to_string())
    } else if change.new == change.current {
        Some("The new password must differ from the current one.".to_string())
    } else {
        password::check_policy(&change.new)
            .err()
            .map(|e| e.to_string())
    };
    if let Some(problem) = problem {
        return Err(ChangeError::Refused(problem));
    }
    let new = change.new;
    let new_hash = password_gate::gate()
        .run(move || password::hash(&new))
        .await?
        .map_err(ChangeError::Hash)?;
    db.write_audited(ctx, entry.target("user", user_id), move |conn| {
        users::set_password_hash(conn, &scope, user_id, &new_hash)?;
        sessions::delete_for_user(conn, user_id)?;
        Ok::<_, DbError>(())
    })
    .await?;
    Ok(())
}

// ------------------------------------------------------------------ set-password links

/// What a usable set-password link leads to: a reset (or an invitation issued before
/// invitations had their own table) for an existing user, or an invitation whose account
/// is created when the link is used.
#[derive(Debug, Clone)]
pub enum Link {
    Password(password_tokens::PasswordToken, users::User),
    Invitation(invitations::Invitation),
}

impl Link {
    /// The address the link was issued to.
    pub fn email(&self) -> &str {
        match self {
            Link::Password(_, user) => &user.email,
            Link::Invitation(invitation) => &invitation.email,
        }
    }

    /// `invite` or `reset` (what the page says the link is for).
    pub fn purpose(&self) -> &str {
        match self {
            Link::Password(token, _) => &token.purpose,
            Link::Invitation(_) => "invite",
        }
    }
}

/// Why a set-password link was not used.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Unknown, already used, withdrawn or expired (or used by a concurrent request).
    #[error("this link is invalid, was already used, or has expired")]
    Gone,
    /// The form's passwords are refused (differ, or break the policy): the page again.
    #[error("{problem}")]
    Refused { link: Box<Link>, problem: String },
    /// An invitation to an address that has an account in another tenant (SPEC §1: one
    /// customer per user). Only the holder of the link learns this.
    #[error("that address already has an account in another organisation")]
    EmailTaken { link: Box<Link> },
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("hashing the password failed")]
    Hash(#[source] password::HashError),
    #[error(transparent)]
    Account(AccountError),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for LinkError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => LinkError::Gone,
            other => LinkError::Db(other),
        }
    }
}

/// What using a link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSet {
    /// An existing user's password was set (their sessions ended).
    Reset { user_id: i64 },
    /// An invitation made the account.
    Created { user_id: i64 },
    /// An invitation to an address that already is a member: nothing to create.
    AlreadyMember,
}

/// The unused, unexpired link for `token`; anything else is [`LinkError::Gone`].
pub async fn usable_link(db: &Db, token: &str) -> Result<Link, LinkError> {
    let hash = hash_link_token(token);
    Ok(db
        .run(move |conn| {
            let now = repo::now();
            match password_tokens::find_usable(conn, &hash, now) {
                Ok(link) => {
                    let user = users::find_for_session(conn, link.user_id)?;
                    Ok(Link::Password(link, user))
                }
                Err(DbError::NotFound) => Ok(Link::Invitation(invitations::find_usable(
                    conn, &hash, now,
                )?)),
                Err(other) => Err(other),
            }
        })
        .await?)
}

/// Uses the link of `token` to set `password` (typed twice, `confirm`): checks the pair
/// and the policy, hashes within the Argon2 bound, then either sets an existing user's
/// password (ending their sessions and the account-wide lockout, SPEC §6) or accepts the
/// invitation, audited in the same transaction. A link is used once.
pub async fn set_password(
    db: &Db,
    token: &str,
    password: String,
    confirm: &str,
    ctx: AuditContext,
) -> Result<PasswordSet, LinkError> {
    let link = usable_link(db, token).await?;
    let problem = if password != confirm {
        Some("The two passwords do not match.".to_string())
    } else {
        password::check_policy(&password)
            .err()
            .map(|e| e.to_string())
    };
    if let Some(problem) = problem {
        return Err(LinkError::Refused {
            link: Box::new(link),
            problem,
        });
    }
    let new_hash = password_gate::gate()
        .run(move || password::hash(&password))
        .await?
        .map_err(LinkError::Hash)?;
    match link {
        Link::Password(link, user) => reset_password(db, link, user, new_hash, ctx).await,
        Link::Invitation(invitation) => {
            match accounts::accept_invitation(db, invitation.clone(), new_hash, ctx).await {
                Ok(Accepted::Created { user_id }) => Ok(PasswordSet::Created { user_id }),
                Ok(Accepted::AlreadyMember) => Ok(PasswordSet::AlreadyMember),
                Err(AccountError::EmailTaken) => Err(LinkError::EmailTaken {
                    link: Box::new(Link::Invitation(invitation)),
                }),
                Err(AccountError::Db(err)) => Err(err.into()),
                Err(other) => Err(LinkError::Account(other)),
            }
        }
    }
}

/// Sets the password of an existing user through a reset (or older invitation) link.
async fn reset_password(
    db: &Db,
    link: password_tokens::PasswordToken,
    user: users::User,
    new_hash: String,
    ctx: AuditContext,
) -> Result<PasswordSet, LinkError> {
    let account_key = login_throttle::account_key(&users::normalize_email(&user.email));
    let scope = TenantScope::for_system(CustomerId(user.customer_id));
    let user_id = user.id;
    let entry = AuditEntry {
        customer_id: Some(scope.id()),
        actor_user_id: Some(user_id),
        action: "password.link_used",
        changed_fields: &["password"],
        ..AuditEntry::default()
    }
    .target("user", user_id);
    db.write_audited(ctx, entry, move |conn| {
        if !password_tokens::mark_used(conn, link.id)? {
            return Err(DbError::NotFound);
        }
        users::set_password_hash(conn, &scope, user_id, &new_hash)?;
        sessions::delete_for_user(conn, user_id)?;
        // SPEC §6: an admin-issued link ends the account-wide lockout.
        login_failures::clear(conn, ThrottleScope::Account, &account_key)
    })
    .await?;
    Ok(PasswordSet::Reset { user_id })
}
