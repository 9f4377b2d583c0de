//! The signed-in user's own account: password change.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::DbError;
use crate::db::repo::{sessions, users};
use crate::domain::password;
use crate::web::auth::{self, CurrentUser};
use crate::web::errors::AppError;
use crate::web::handlers::auth::restart_session;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    error: Option<String>,
}

pub async fn password_form(user: CurrentUser) -> Result<HttpResponse, AppError> {
    render(&PasswordPage {
        layout: user.layout("Change password", "/portal/account/password"),
        error: None,
    })
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
    user: CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let scope = user.scope();
    let user_id = user.id.0;
    let stored = state
        .db
        .run(move |conn| Ok(users::find(conn, &scope, user_id)?.password_hash))
        .await?;
    let problem = if form.new_password != form.new_password_confirm {
        Some("The new passwords do not match.".to_string())
    } else if form.new_password == form.current_password {
        Some("The new password must differ from the current one.".to_string())
    } else {
        password::check_policy(&form.new_password)
            .err()
            .map(|e| e.to_string())
    };
    let current = form.current_password;
    let new = form.new_password;
    let result = actix_web::rt::task::spawn_blocking(move || {
        if !password::verify(&current, &stored) {
            return Ok(Err("The current password is not correct.".to_string()));
        }
        if let Some(problem) = problem {
            return Ok(Err(problem));
        }
        password::hash(&new).map(Ok)
    })
    .await
    .map_err(|_| AppError::Internal(anyhow::anyhow!("hashing cancelled")))?
    .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let new_hash = match result {
        Ok(hash) => hash,
        Err(error) => {
            return render(&PasswordPage {
                layout: user.layout("Change password", "/portal/account/password"),
                error: Some(error),
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
