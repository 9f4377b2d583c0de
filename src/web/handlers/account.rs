//! The signed-in user's own account: password change, the daily alert digest.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::DbError;
use crate::db::repo::login_failures::{self, Reservation};
use crate::db::repo::{self, sessions, users};
use crate::domain::{login_throttle, password};
use crate::services::digests::{self, DigestStatus};
use crate::services::password_gate;
use crate::web::auth::{self, SignedIn};
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
    render(&PasswordPage {
        layout: user.layout("Change password", "/portal/account/password"),
        error: None,
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
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/portal/account/password#digest"))
        .finish())
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

pub async fn password_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let scope = user.scope();
    let user_id = user.id.0;
    // Re-authentication is a password guess like a login: the same reserved attempts and
    // limits (review 2026-12, row 6), and the same Argon2 bound.
    let keys = login_throttle::keys(
        &users::normalize_email(&user.email),
        client_addr(&req, &state),
    );
    let (reservation, stored) = state
        .db
        .write(move |conn| {
            let reservation = login_failures::reserve(conn, &keys, repo::now())?;
            Ok::<_, DbError>((
                reservation,
                users::find(conn, &scope, user_id)?.password_hash,
            ))
        })
        .await?;
    let reserved = match reservation {
        Reservation::Locked { retry_after_secs } => {
            return Err(AppError::TooManyRequests { retry_after_secs });
        }
        Reservation::Reserved { ids } => ids,
    };
    let current = form.current_password.clone();
    let verified = password_gate::gate()
        .run(move || password::verify(&current, &stored))
        .await;
    if !matches!(verified, Ok(false)) {
        // Right password, or never checked: the attempt is given back.
        state
            .db
            .write(move |conn| login_failures::release(conn, &reserved))
            .await?;
    }
    if !verified? {
        return render(&PasswordPage {
            layout: user.layout("Change password", "/portal/account/password"),
            error: Some("The current password is not correct.".to_string()),
            digest: digests::status(&state.db, user.scope(), user.id.0).await?,
        });
    }
    let problem = if form.new_password != form.new_password_confirm {
        Some("The new passwords do not match.".to_string())
    } else if form.new_password == form.current_password {
        Some("The new password must differ from the current one.".to_string())
    } else {
        password::check_policy(&form.new_password)
            .err()
            .map(|e| e.to_string())
    };
    let new = form.new_password;
    let result = match problem {
        Some(problem) => Err(problem),
        None => Ok(password_gate::gate()
            .run(move || password::hash(&new))
            .await?
            .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?),
    };
    let new_hash = match result {
        Ok(hash) => hash,
        Err(error) => {
            return render(&PasswordPage {
                layout: user.layout("Change password", "/portal/account/password"),
                error: Some(error),
                digest: digests::status(&state.db, user.scope(), user.id.0).await?,
            });
        }
    };
    let (ctx, entry) = user.audit(&req, &state, "password.changed", &["password"]);
    state
        .db
        .write_audited(ctx, entry.target("user", user_id), move |conn| {
            users::set_password_hash(conn, &scope, user_id, &new_hash)?;
            // Every other session of this user ends; this one continues under a new id.
            sessions::delete_for_user(conn, user_id)?;
            Ok::<_, DbError>(())
        })
        .await?;
    state.auth_cache.forget_user(user_id);
    restart_session(&user)?;
    auth::set_flash(
        user.session(),
        "success",
        "Your password was changed. Other sessions were signed out.",
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/portal/account/password"))
        .finish())
}
