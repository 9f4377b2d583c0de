//! Members of the tenant: list, invite, change roles, deactivate, issue reset links.
//! Admins manage viewers and analysts; owners manage everyone; the last active owner can
//! never be demoted or deactivated.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::domain::roles::Role;
use crate::services::accounts::{self, AccountError, Actor, LINK_HOURS};
use crate::web::auth::{self, Admin, Authorized, CurrentUser};
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

struct MemberRow {
    id: i64,
    email: String,
    role: &'static str,
    role_value: &'static str,
    is_staff: bool,
    is_active: bool,
    last_login: String,
    manageable: bool,
    is_self: bool,
}

struct InvitationRow {
    id: i64,
    email: String,
    role: &'static str,
    expires: String,
    manageable: bool,
}

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    layout: Layout,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    assignable: Vec<(&'static str, &'static str)>,
}

fn fmt_time(t: Option<NaiveDateTime>) -> String {
    t.map_or_else(
        || "never".to_string(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

pub async fn list(
    state: web::Data<AppState>,
    user: Authorized<Admin>,
) -> Result<HttpResponse, AppError> {
    let (members, pending) = accounts::members(&state.db, user.scope()).await?;
    let invitations = pending
        .into_iter()
        .map(|i| {
            let role: Role = i.role.parse().unwrap_or(Role::Viewer);
            InvitationRow {
                id: i.id,
                email: i.email,
                role: role.label(),
                expires: fmt_time(Some(i.expires_at)),
                manageable: user.role.may_manage(role),
            }
        })
        .collect();
    let rows = members
        .into_iter()
        .map(|m| {
            let role: Role = m.role.parse().unwrap_or(Role::Viewer);
            MemberRow {
                manageable: user.role.may_manage(role) && m.id != user.id.0 && !m.is_staff,
                is_self: m.id == user.id.0,
                id: m.id,
                email: m.email,
                role: role.label(),
                role_value: role.as_str(),
                is_staff: m.is_staff,
                is_active: m.is_active,
                last_login: fmt_time(m.last_login_at),
            }
        })
        .collect();
    let assignable = Role::ALL
        .iter()
        .filter(|r| user.role.may_manage(**r))
        .map(|r| (r.as_str(), r.label()))
        .collect();
    render(&UsersPage {
        layout: user.layout("Users", "/portal/settings/users"),
        members: rows,
        invitations,
        assignable,
    })
}

#[derive(Debug, Deserialize)]
pub struct UsersForm {
    action: String,
    user_id: Option<String>,
    email: Option<String>,
    role: Option<String>,
    invitation_id: Option<String>,
}

fn back() -> HttpResponse {
    super::super::see_other("/portal/settings/users")
}

fn parse_role(raw: Option<&str>) -> Result<Role, AppError> {
    raw.unwrap_or("")
        .parse()
        .map_err(|_| AppError::BadRequest("role must be owner, admin, analyst or viewer".into()))
}

fn parse_user_id(raw: Option<&str>) -> Result<i64, AppError> {
    raw.unwrap_or("")
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("user_id must be a number".into()))
}

fn link_url(req: &HttpRequest, state: &AppState, token: &str) -> String {
    format!(
        "{}/set-password/{token}",
        crate::web::http::links::base(req, &state.settings)
    )
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Admin>,
    form: web::Form<UsersForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let result = match form.action.as_str() {
        "create" => {
            create(
                &req,
                &state,
                &user,
                form.email.as_deref(),
                parse_role(form.role.as_deref())?,
            )
            .await
        }
        "role" => {
            let target = parse_user_id(form.user_id.as_deref())?;
            change_role(
                &req,
                &state,
                &user,
                target,
                parse_role(form.role.as_deref())?,
            )
            .await
        }
        "deactivate" => {
            set_active(
                &req,
                &state,
                &user,
                parse_user_id(form.user_id.as_deref())?,
                false,
            )
            .await
        }
        "activate" => {
            set_active(
                &req,
                &state,
                &user,
                parse_user_id(form.user_id.as_deref())?,
                true,
            )
            .await
        }
        "reset" => reset_link(&req, &state, &user, parse_user_id(form.user_id.as_deref())?).await,
        "revoke" => {
            let id = super::super::form_id(&form.invitation_id, "invitation_id")?;
            revoke_invitation(&req, &state, &user, id).await
        }
        _ => Err(AppError::BadRequest(
            "action must be create, role, deactivate, activate, reset or revoke".into(),
        )),
    };
    match result {
        Ok(message) => {
            auth::set_flash(user.session(), "success", message);
            Ok(back())
        }
        // Rule violations are shown on the page; everything else keeps its status page.
        Err(AppError::Conflict(message)) => {
            auth::set_flash(user.session(), "error", message);
            Ok(back())
        }
        Err(other) => Err(other),
    }
}

/// The actor as the account rules need it.
fn actor(user: &CurrentUser) -> Actor {
    Actor {
        scope: user.scope(),
        id: user.id.0,
        role: user.role,
    }
}

/// The account rules' refusals in the page's words (shown as an error flash); a member
/// the actor may not see is 404, one they may not manage 403.
fn account_error(err: AccountError) -> AppError {
    match err {
        AccountError::LastOwner => AppError::Conflict(
            "This is the last owner of the organisation: make someone else an owner first.".into(),
        ),
        AccountError::InvalidEmail(_) => AppError::Conflict("Enter a valid e-mail address.".into()),
        AccountError::AlreadyMember => {
            AppError::Conflict("That address already is a member of your organisation.".into())
        }
        AccountError::OwnAccount => {
            AppError::Conflict("You cannot deactivate your own account.".into())
        }
        AccountError::NotPermitted => AppError::Forbidden,
        AccountError::Db(err) => err.into(),
        other => AppError::Internal(anyhow::Error::new(other)),
    }
}

async fn create(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    email: Option<&str>,
    role: Role,
) -> Result<String, AppError> {
    // No account is created here: it is made when the link is used, so this answer is
    // the same whether or not the address is in use in another tenant (issue 16 row 11).
    let (ctx, entry) = actor.audit(req, state, "invitation.created", &["email", "role"]);
    let link = accounts::invite(
        &state.db,
        &self::actor(actor),
        email.unwrap_or(""),
        role,
        ctx,
        entry,
    )
    .await
    .map_err(account_error)?;
    Ok(format!(
        "Invited {}. Send them this link to join (valid {LINK_HOURS} hours, single use, shown once): {}",
        link.email,
        link_url(req, state, &link.token)
    ))
}

async fn revoke_invitation(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    id: i64,
) -> Result<String, AppError> {
    let (ctx, entry) = actor.audit(req, state, "invitation.revoked", &[]);
    accounts::revoke_invitation(&state.db, &self::actor(actor), id, ctx, entry)
        .await
        .map_err(account_error)?;
    Ok("The invitation was withdrawn; its link no longer works.".into())
}

async fn change_role(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    target_id: i64,
    new_role: Role,
) -> Result<String, AppError> {
    let (ctx, entry) = actor.audit(req, state, "user.role_changed", &["role"]);
    let change = accounts::change_role(
        &state.db,
        &self::actor(actor),
        target_id,
        new_role,
        ctx,
        entry,
    )
    .await
    .map_err(account_error)?;
    if !change.changed {
        return Ok(format!("{} already is {}.", change.email, new_role.label()));
    }
    state.auth_cache.forget_user(target_id);
    Ok(format!("{} is now {}.", change.email, new_role.label()))
}

async fn set_active(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    target_id: i64,
    active: bool,
) -> Result<String, AppError> {
    let action = if active {
        "user.activated"
    } else {
        "user.deactivated"
    };
    let (ctx, entry) = actor.audit(req, state, action, &["is_active"]);
    let email = accounts::set_active(
        &state.db,
        &self::actor(actor),
        target_id,
        active,
        ctx,
        entry,
    )
    .await
    .map_err(account_error)?;
    state.auth_cache.forget_user(target_id);
    Ok(if active {
        format!("{email} can sign in again.")
    } else {
        format!("{email} was deactivated and signed out everywhere.")
    })
}

async fn reset_link(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    target_id: i64,
) -> Result<String, AppError> {
    let (ctx, entry) = actor.audit(req, state, "password_link.issued", &[]);
    let link = accounts::issue_reset_link(&state.db, &self::actor(actor), target_id, ctx, entry)
        .await
        .map_err(account_error)?;
    Ok(format!(
        "Password reset link for {} (valid {LINK_HOURS} hours, single use, shown once): {}",
        link.email,
        link_url(req, state, &link.token)
    ))
}
