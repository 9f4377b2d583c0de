//! The signed-in user's own account: password change, the daily alert digest.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::services::auth::{self as auth_service, ChangeError, PasswordChange};
use crate::services::digests::{self, DigestStatus};
use crate::web::auth::{self, CurrentUser, SignedIn};
use crate::web::errors::AppError;
use crate::web::handlers::auth::{client_addr, restart_session};
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    error: Option<String>,
    digest: DigestStatus,
}

/// Staff included: their own password is theirs to change (SPEC §1).
pub async fn password_form(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, AppError> {
    password_page(&state, &user, None).await
}

/// The account page, with the reason a password form was refused.
async fn password_page(
    state: &AppState,
    user: &CurrentUser,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    render(&PasswordPage {
        layout: user.layout("Change password", "/portal/account/password"),
        error,
        digest: digests::status(&state.db, user.scope(), user.id.0).await?,
    })
}

#[derive(Debug, Deserialize)]
pub struct DigestForm {
    /// The checkbox: present ("on") when ticked, absent otherwise.
    digest: Option<String>,
}

/// `POST /portal/account/digest`: turns the person's own daily alert digest on or off.
pub async fn digest_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    form: web::Form<DigestForm>,
) -> Result<HttpResponse, AppError> {
    let on = form.into_inner().digest.is_some_and(|v| !v.is_empty());
    let (ctx, entry) = user.audit(&req, &state, "account.digest_changed", &["digest"]);
    digests::set(&state.db, user.scope(), user.id.0, on, ctx, entry).await?;
    auth::set_flash(
        user.session(),
        "success",
        if on {
            "The daily alert digest is on: one e-mail a day with new alerts for you or nobody yet."
        } else {
            "The daily alert digest is off."
        },
    );
    Ok(super::see_other("/portal/account/password#digest"))
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

/// `POST /portal/account/password`: the person's own password (`services::auth`); a refused
/// form comes back with the reason, the passwords not kept.
pub async fn password_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let change = PasswordChange {
        current: form.current_password,
        new: form.new_password,
        confirm: form.new_password_confirm,
    };
    let (ctx, entry) = user.audit(&req, &state, "password.changed", &["password"]);
    let changed = auth_service::change_password(
        &state.db,
        user.scope(),
        user.id.0,
        client_addr(&req, &state),
        change,
        ctx,
        entry,
    )
    .await;
    match changed {
        Ok(()) => {}
        Err(refused @ (ChangeError::WrongPassword | ChangeError::Refused(_))) => {
            return password_page(&state, &user, Some(refused.to_string())).await;
        }
        Err(ChangeError::Locked { retry_after_secs }) => {
            return Err(AppError::TooManyRequests { retry_after_secs });
        }
        Err(ChangeError::Gate(err)) => return Err(err.into()),
        Err(ChangeError::Hash(err)) => return Err(AppError::Internal(anyhow::Error::new(err))),
        Err(ChangeError::Db(err)) => return Err(err.into()),
    }
    state.auth_cache.forget_user(user.id.0);
    restart_session(&user)?;
    auth::set_flash(
        user.session(),
        "success",
        "Your password was changed. Other sessions were signed out.",
    );
    Ok(super::see_other("/portal/account/password"))
}
