//! Sign-in, sign-out and one-time set-password links.

use std::net::IpAddr;

use actix_session::SessionExt;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::services::auth::{self as auth_service, Link, LinkError, LoginError, PasswordSet};
use crate::web::audit::AuditContext;
use crate::web::auth::{self, CurrentUser, start_session};
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
        return Ok(super::see_other(&next));
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
    let next = safe_next(form.next.as_deref());
    let ctx = AuditContext::from_request(&req, &state);
    match auth_service::login(&state.db, &form.email, form.password, ip, ctx).await {
        Ok(user_id) => {
            start_session(&req.get_session(), user_id)?;
            Ok(super::see_other(&next))
        }
        Err(LoginError::Failed) => {
            login_page(&req, &state, form.email, next, Some(GENERIC_FAILURE), None)
        }
        Err(LoginError::Locked { retry_after_secs }) => {
            Err(AppError::TooManyRequests { retry_after_secs })
        }
        Err(LoginError::Gate(err)) => Err(err.into()),
        Err(LoginError::Db(err)) => Err(err.into()),
    }
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let session = req.get_session();
    if let Ok(Some(user_id)) = session.get::<i64>(crate::web::auth::keys::USER_ID_KEY) {
        let ctx = AuditContext::from_request(&req, &state);
        auth_service::logout(&state.db, user_id, ctx).await?;
    }
    // Deletes the server-side row and expires the cookie.
    session.purge();
    Ok(super::see_other("/login?signed_out=1"))
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

fn link_error(err: LinkError) -> AppError {
    match err {
        LinkError::Gone => invalid_link(),
        LinkError::Gate(err) => err.into(),
        LinkError::Db(err) => err.into(),
        other => AppError::Internal(anyhow::Error::new(other)),
    }
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
    let link = auth_service::usable_link(&state.db, &token)
        .await
        .map_err(link_error)?;
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
    let form = form.into_inner();
    let ctx = AuditContext::from_request(&req, &state);
    let used = auth_service::set_password(
        &state.db,
        &token,
        form.password,
        &form.password_confirm,
        ctx,
    )
    .await;
    let notice = match used {
        Ok(PasswordSet::Reset { user_id }) => {
            state.auth_cache.forget_user(user_id);
            "Your password is set. Sign in with it now."
        }
        Ok(PasswordSet::Created { .. }) => "Your account is ready. Sign in with your new password.",
        Ok(PasswordSet::AlreadyMember) => {
            "You already have an account in this organisation: sign in with it."
        }
        Err(LinkError::Refused { link, problem }) => {
            return set_password_page(&req, &state, &link, token, Some(problem));
        }
        // Only the holder of the link learns this; the inviter's page shows the
        // invitation as pending until it expires (issue 16 row 11).
        Err(LinkError::EmailTaken { link }) => {
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
        Err(other) => return Err(link_error(other)),
    };
    auth::set_flash(&req.get_session(), "success", notice);
    Ok(super::see_other("/login"))
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
