//! Sign-in, sign-out and one-time set-password links.

use std::net::IpAddr;

use actix_session::SessionExt;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::repo::login_failures::{self, Reservation, ThrottleScope};
use crate::db::repo::{self, invitations, password_tokens, sessions, users};
use crate::domain::tenant::{CustomerId, TenantScope};
use crate::domain::{login_throttle, password};
use crate::services::accounts::{self, Accepted, AccountError, hash_link_token};
use crate::web::audit::{self, AuditContext, AuditEntry};
use crate::web::auth::{self, CurrentUser, password_gate, start_session};
use crate::web::errors::AppError;
use crate::web::http::client_ip;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

const GENERIC_FAILURE: &str = "The e-mail address or password is not correct.";

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    signed_out: Option<String>,
}

/// Only same-site paths are followed after login: `/x`, never `//host`, `/\host` or a
/// scheme.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\')
                && n.len() <= 2048 =>
        {
            n.to_string()
        }
        _ => "/portal".to_string(),
    }
}

/// Renders an anonymous form with the stateless CSRF token (no session row is written
/// for it), setting the nonce cookie when the visitor had none.
fn render_anonymous(
    req: &HttpRequest,
    state: &AppState,
    mut layout: Layout,
    page: impl FnOnce(Layout) -> Result<HttpResponse, AppError>,
) -> Result<HttpResponse, AppError> {
    let issued = state.login_csrf.issue(req)?;
    layout.csrf_token = issued.token;
    let mut response = page(layout)?;
    if let Some(cookie) = issued.cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cookie: {e}")))?;
    }
    Ok(response)
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    email: String,
    next: String,
    error: Option<&'static str>,
    notice: Option<(&'static str, &'static str)>,
) -> Result<HttpResponse, AppError> {
    let mut layout = Layout::public("Sign in");
    layout.flashes.extend(auth::take_flash(&req.get_session()));
    if let Some((kind, message)) = notice {
        layout = layout.with_flash(kind, message);
    }
    render_anonymous(req, state, layout, |layout| {
        render(&LoginPage {
            layout,
            email,
            next,
            error,
        })
    })
}

pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let session = req.get_session();
    let next = safe_next(query.next.as_deref());
    if session
        .get::<i64>(crate::web::auth::keys::USER_ID_KEY)
        .ok()
        .flatten()
        .is_some()
    {
        return Ok(redirect(&next));
    }
    let notice = if query.expired.is_some() {
        Some(("warning", "Your session expired. Please sign in again."))
    } else if query.signed_out.is_some() {
        Some(("success", "You have been signed out."))
    } else {
        None
    };
    login_page(&req, &state, String::new(), next, None, notice)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub fn client_addr(req: &HttpRequest, state: &AppState) -> IpAddr {
    client_ip::from_request(req, &state.settings.trusted_proxies)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

enum LoginOutcome {
    Success { user_id: i64, reserved: Vec<i64> },
    Failed,
    Locked { retry_after_secs: u64 },
}

pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let ip = client_addr(&req, &state);
    if let Err(retry_after_secs) = state.form_limiter.check(ip) {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let email = users::normalize_email(&form.email);
    let next = safe_next(form.next.as_deref());
    let keys = login_throttle::keys(&email, ip);
    let ctx = AuditContext::from_request(&req, &state);

    // 1. Reserve the attempt (counted as a failure until it succeeds) atomically with the
    //    limit check, before any password work.
    let (reservation, user) = {
        let email = email.clone();
        state
            .db
            .write(move |conn| {
                let reservation = login_failures::reserve(conn, &keys, repo::now())?;
                let user = match users::find_by_email(conn, &email) {
                    Ok(user) => Some(user),
                    Err(crate::db::DbError::NotFound) => None,
                    Err(other) => return Err(other),
                };
                Ok((reservation, user))
            })
            .await?
    };

    let outcome = match &reservation {
        Reservation::Locked { retry_after_secs } => LoginOutcome::Locked {
            retry_after_secs: *retry_after_secs,
        },
        Reservation::Reserved { ids } => {
            // 2. Verify within the process-wide Argon2 bound; unknown accounts cost the
            //    same hashing time.
            let candidate = form.password;
            let stored = user
                .as_ref()
                .map(|u| (u.password_hash.clone(), u.is_active));
            let verified = password_gate::gate()
                .run(move || match stored {
                    Some((hash, active)) => password::verify(&candidate, &hash) && active,
                    None => {
                        let _ = password::verify(&candidate, &password::DUMMY_HASH);
                        false
                    }
                })
                .await;
            match (verified, &user) {
                (Ok(true), Some(u)) => LoginOutcome::Success {
                    user_id: u.id,
                    reserved: ids.clone(),
                },
                (Ok(_), _) => LoginOutcome::Failed,
                (Err(busy), _) => {
                    // Never verified: the attempt is given back.
                    let ids = ids.clone();
                    state
                        .db
                        .write(move |conn| login_failures::release(conn, &ids))
                        .await?;
                    return Err(busy);
                }
            }
        }
    };

    // 3. Record the outcome.
    let (customer_id, actor) = user
        .as_ref()
        .map_or((None, None), |u| (Some(u.customer_id), Some(u.id)));
    let session = req.get_session();
    match outcome {
        LoginOutcome::Locked { retry_after_secs } => {
            state
                .db
                .write(move |conn| {
                    audit::record(conn, &ctx, entry(customer_id, actor, "login.locked"))
                })
                .await?;
            Err(AppError::TooManyRequests { retry_after_secs })
        }
        LoginOutcome::Failed => {
            // The reservation stays: it is the failure record.
            state
                .db
                .write(move |conn| {
                    audit::record(conn, &ctx, entry(customer_id, actor, "login.failure"))
                })
                .await?;
            login_page(&req, &state, form.email, next, Some(GENERIC_FAILURE), None)
        }
        LoginOutcome::Success { user_id, reserved } => {
            let pair = login_throttle::keys(&email, ip)[0].1.clone();
            state
                .db
                .write(move |conn| {
                    // The owner's own address starts afresh; the account-wide count stays
                    // (it ends with its hour or an admin-issued reset link).
                    login_failures::release(conn, &reserved)?;
                    login_failures::clear(conn, ThrottleScope::Pair, &pair)?;
                    users::record_login(conn, user_id)?;
                    audit::record(conn, &ctx, entry(customer_id, actor, "login.success"))
                })
                .await?;
            start_session(&session, user_id)?;
            Ok(redirect(&next))
        }
    }
}

fn entry(customer_id: Option<i64>, actor: Option<i64>, action: &str) -> AuditEntry<'_> {
    AuditEntry {
        customer_id,
        actor_user_id: actor,
        action,
        target_type: None,
        target_id: None,
        changed_fields: &[],
    }
}

fn redirect(location: &str) -> HttpResponse {
    super::see_other(location)
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let session = req.get_session();
    if let Ok(Some(user_id)) = session.get::<i64>(crate::web::auth::keys::USER_ID_KEY) {
        let ctx = AuditContext::from_request(&req, &state);
        state
            .db
            .write(move |conn| {
                let customer_id = users::find_for_session(conn, user_id)
                    .ok()
                    .map(|u| u.customer_id);
                audit::record(conn, &ctx, entry(customer_id, Some(user_id), "logout"))
            })
            .await?;
    }
    // Deletes the server-side row and expires the cookie.
    session.purge();
    Ok(redirect("/login?signed_out=1"))
}

// ------------------------------------------------------------------ set-password links

#[derive(Template)]
#[template(path = "auth/set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    email: String,
    purpose: String,
    token: String,
    error: Option<String>,
}

fn invalid_link() -> AppError {
    AppError::Gone(
        "This link is invalid, was already used, or has expired. Ask an administrator for a new one."
            .into(),
    )
}

/// What a usable set-password link leads to: a reset (or an invitation issued before
/// invitations had their own table) for an existing user, or an invitation whose account
/// is created when the link is used.
enum Link {
    Password(password_tokens::PasswordToken, crate::db::repo::users::User),
    Invitation(invitations::Invitation),
}

impl Link {
    fn email(&self) -> &str {
        match self {
            Link::Password(_, user) => &user.email,
            Link::Invitation(invitation) => &invitation.email,
        }
    }

    fn purpose(&self) -> &str {
        match self {
            Link::Password(token, _) => &token.purpose,
            Link::Invitation(_) => "invite",
        }
    }
}

/// The unused, unexpired link for `token`; anything else is "gone".
async fn usable_link(state: &AppState, token: &str) -> Result<Link, AppError> {
    let hash = hash_link_token(token);
    state
        .db
        .run(move |conn| {
            let now = repo::now();
            match password_tokens::find_usable(conn, &hash, now) {
                Ok(link) => {
                    let user = users::find_for_session(conn, link.user_id)?;
                    Ok(Link::Password(link, user))
                }
                Err(crate::db::DbError::NotFound) => Ok(Link::Invitation(
                    invitations::find_usable(conn, &hash, now)?,
                )),
                Err(other) => Err(other),
            }
        })
        .await
        .map_err(|e| match e {
            crate::db::DbError::NotFound => invalid_link(),
            other => other.into(),
        })
}

fn set_password_page(
    req: &HttpRequest,
    state: &AppState,
    link: &Link,
    token: String,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let layout = Layout::public("Choose a password");
    render_anonymous(req, state, layout, |layout| {
        render(&SetPasswordPage {
            layout,
            email: link.email().to_string(),
            purpose: link.purpose().to_string(),
            token,
            error,
        })
    })
}

pub async fn set_password_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let link = usable_link(&state, &token).await?;
    set_password_page(&req, &state, &link, token, None)
}

#[derive(Debug, Deserialize)]
pub struct SetPasswordForm {
    password: String,
    password_confirm: String,
}

pub async fn set_password_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<SetPasswordForm>,
) -> Result<HttpResponse, AppError> {
    let ip = client_addr(&req, &state);
    if let Err(retry_after_secs) = state.form_limiter.check(ip) {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let token = token.into_inner();
    let link = usable_link(&state, &token).await?;
    let form = form.into_inner();
    let problem = if form.password != form.password_confirm {
        Some("The two passwords do not match.".to_string())
    } else {
        password::check_policy(&form.password)
            .err()
            .map(|e| e.to_string())
    };
    if let Some(error) = problem {
        return set_password_page(&req, &state, &link, token, Some(error));
    }
    let new_hash = password_gate::gate()
        .run(move || password::hash(&form.password))
        .await?
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let ctx = AuditContext::from_request(&req, &state);
    let notice = match link {
        Link::Password(link, user) => {
            reset_password(&state, link, user, new_hash, ctx).await?;
            "Your password is set. Sign in with it now."
        }
        Link::Invitation(invitation) => {
            let accepted =
                accounts::accept_invitation(&state.db, invitation.clone(), new_hash, ctx).await;
            match accepted {
                Ok(Accepted::Created { .. }) => {
                    "Your account is ready. Sign in with your new password."
                }
                Ok(Accepted::AlreadyMember) => {
                    "You already have an account in this organisation: sign in with it."
                }
                // Only the holder of the link learns this; the inviter's page shows the
                // invitation as pending until it expires (issue 16 row 11).
                Err(AccountError::EmailTaken) => {
                    let link = Link::Invitation(invitation);
                    let mut response = set_password_page(
                        &req,
                        &state,
                        &link,
                        token,
                        Some(
                            "This address already has a PayerWatch account, which belongs to another \
                             organisation. An account belongs to one organisation only: sign in with \
                             your account, or ask whoever invited you to invite a different address."
                                .into(),
                        ),
                    )?;
                    *response.status_mut() = actix_web::http::StatusCode::CONFLICT;
                    return Ok(response);
                }
                Err(AccountError::Db(crate::db::DbError::NotFound)) => return Err(invalid_link()),
                Err(AccountError::Db(other)) => return Err(other.into()),
                Err(other) => return Err(AppError::Internal(anyhow::Error::new(other))),
            }
        }
    };
    let session = req.get_session();
    auth::set_flash(&session, "success", notice);
    Ok(redirect("/login"))
}

/// Sets the password of an existing user through a reset (or older invitation) link.
async fn reset_password(
    state: &AppState,
    link: password_tokens::PasswordToken,
    user: crate::db::repo::users::User,
    new_hash: String,
    ctx: AuditContext,
) -> Result<(), AppError> {
    let account_key = login_throttle::account_key(&users::normalize_email(&user.email));
    let scope = TenantScope::for_system(CustomerId(user.customer_id));
    let user_id = user.id;
    state
        .db
        .write(move |conn| {
            if !password_tokens::mark_used(conn, link.id)? {
                return Err(crate::db::DbError::NotFound);
            }
            users::set_password_hash(conn, &scope, user_id, &new_hash)?;
            sessions::delete_for_user(conn, user_id)?;
            // SPEC §6: an admin-issued link ends the account-wide lockout.
            login_failures::clear(conn, ThrottleScope::Account, &account_key)?;
            audit::record(
                conn,
                &ctx,
                AuditEntry {
                    customer_id: Some(scope.id()),
                    actor_user_id: Some(user_id),
                    action: "password.link_used",
                    target_type: Some("user"),
                    target_id: Some(user_id.to_string()),
                    changed_fields: &["password"],
                },
            )
        })
        .await
        .map_err(|e| match e {
            crate::db::DbError::NotFound => invalid_link(),
            other => other.into(),
        })?;
    state.auth_cache.forget_user(user_id);
    Ok(())
}

/// Used by the account page: the signed-in user's own session stays, others end.
pub fn restart_session(user: &CurrentUser) -> Result<(), AppError> {
    start_session(user.session(), user.id.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_only_follows_local_paths() {
        assert_eq!(
            safe_next(Some("/portal/uploads?page=2")),
            "/portal/uploads?page=2"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "evil",
            "/ok\r\nSet-Cookie: x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/portal", "{bad}");
        }
        assert_eq!(safe_next(None), "/portal");
    }
}
