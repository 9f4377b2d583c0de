//! Members of the tenant: list, invite, change roles, deactivate, issue reset links.
//! Admins manage viewers and analysts; owners manage everyone; the last active owner can
//! never be demoted or deactivated.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::db::DbError;
use crate::db::repo::users::User;
use crate::db::repo::{self, password_tokens, users};
use crate::domain::password;
use crate::domain::roles::Role;
use crate::services::accounts::{self, AccountError, Member};
use crate::web::audit::{self, AuditContext, AuditEntry};
use crate::web::auth::{self, Admin, Authorized, CurrentUser, random_token};
use crate::web::errors::AppError;
use crate::web::handlers::auth::hash_link_token;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

const LINK_HOURS: i64 = 24;

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

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    layout: Layout,
    members: Vec<MemberRow>,
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
    let scope = user.scope();
    let members = state.db.run(move |conn| users::list(conn, &scope)).await?;
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
        assignable,
    })
}

#[derive(Debug, Deserialize)]
pub struct UsersForm {
    action: String,
    user_id: Option<String>,
    email: Option<String>,
    role: Option<String>,
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
        _ => Err(AppError::BadRequest(
            "action must be create, role, deactivate, activate or reset".into(),
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

/// Loads a member of the actor's tenant that the actor may manage.
async fn manageable_target(
    state: &AppState,
    actor: &CurrentUser,
    target_id: i64,
) -> Result<(User, Role), AppError> {
    let scope = actor.scope();
    let target = state
        .db
        .run(move |conn| users::find(conn, &scope, target_id))
        .await?;
    // SPEC §1: staff accounts are managed only from the CLI. A tenant owner who could
    // reset one would take over the service-wide dashboard (review 2026-12, row 12).
    if target.is_staff {
        return Err(AppError::NotFound);
    }
    let role: Role = target
        .role
        .parse()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored role: {e}")))?;
    if !actor.role.may_manage(role) {
        return Err(AppError::Forbidden);
    }
    Ok((target, role))
}

async fn create(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    email: Option<&str>,
    role: Role,
) -> Result<String, AppError> {
    if !actor.role.may_manage(role) {
        return Err(AppError::Forbidden);
    }
    let email = users::normalize_email(email.unwrap_or(""));
    if !crate::domain::email::is_email(&email) {
        return Err(AppError::Conflict("Enter a valid e-mail address.".into()));
    }
    // The account is unusable until the invitee sets a password through the link.
    let placeholder =
        password::hash(&random_token()?).map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let token = random_token()?;
    let token_hash = hash_link_token(&token);
    let scope = actor.scope();
    let actor_id = actor.id.0;
    let ctx = AuditContext::from_request(req, state);
    let expires = repo::now() + chrono::Duration::hours(LINK_HOURS);
    let created = state
        .db
        .write(move |conn| {
            let new = users::CreateUser {
                email: &email,
                password_hash: &placeholder,
                role,
                is_staff: false,
            };
            let id = users::insert(conn, &scope, &new)?;
            password_tokens::issue(
                conn,
                &scope,
                id,
                &token_hash,
                "invite",
                Some(actor_id),
                expires,
            )?;
            member_event(
                conn,
                &ctx,
                &scope,
                actor_id,
                "user.created",
                id,
                &["email", "role"],
            )?;
            member_event(
                conn,
                &ctx,
                &scope,
                actor_id,
                "password_link.issued",
                id,
                &[],
            )?;
            Ok(email)
        })
        .await;
    match created {
        Ok(email) => Ok(format!(
            "Invited {email}. Send them this link to choose a password (valid {LINK_HOURS} hours, shown once): {}",
            link_url(req, state, &token)
        )),
        Err(DbError::Duplicate(_)) => Err(AppError::Conflict(
            "That e-mail address already has an account.".into(),
        )),
        Err(other) => Err(other.into()),
    }
}

async fn change_role(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    target_id: i64,
    new_role: Role,
) -> Result<String, AppError> {
    let (target, current) = manageable_target(state, actor, target_id).await?;
    if !actor.role.may_manage(new_role) {
        return Err(AppError::Forbidden);
    }
    if current == new_role {
        return Ok(format!("{} already is {}.", target.email, new_role.label()));
    }
    let member = Member {
        id: target_id,
        role: current,
        is_active: target.is_active,
    };
    let (ctx, entry) = actor.audit(req, state, "user.role_changed", &["role"]);
    accounts::change_role(
        &state.db,
        actor.scope(),
        member,
        new_role,
        ctx,
        entry.target("user", target_id),
    )
    .await
    .map_err(account_error)?;
    state.auth_cache.forget_user(target_id);
    Ok(format!("{} is now {}.", target.email, new_role.label()))
}

/// Audits a change to a member of the actor's tenant (field names only, never values).
fn member_event(
    conn: &mut crate::db::DbConnection,
    ctx: &AuditContext,
    scope: &crate::domain::tenant::TenantScope,
    actor_id: i64,
    action: &str,
    member_id: i64,
    changed_fields: &[&str],
) -> Result<(), DbError> {
    audit::record(
        conn,
        ctx,
        AuditEntry {
            customer_id: Some(scope.id()),
            actor_user_id: Some(actor_id),
            action,
            target_type: Some("user"),
            target_id: Some(member_id.to_string()),
            changed_fields,
        },
    )
}

fn account_error(err: AccountError) -> AppError {
    match err {
        AccountError::LastOwner => AppError::Conflict(
            "This is the last owner of the organisation: make someone else an owner first.".into(),
        ),
        AccountError::Db(err) => err.into(),
        other => AppError::Internal(anyhow::Error::new(other)),
    }
}

async fn set_active(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    target_id: i64,
    active: bool,
) -> Result<String, AppError> {
    if target_id == actor.id.0 {
        return Err(AppError::Conflict(
            "You cannot deactivate your own account.".into(),
        ));
    }
    let (target, role) = manageable_target(state, actor, target_id).await?;
    let member = Member {
        id: target_id,
        role,
        is_active: target.is_active,
    };
    let action = if active {
        "user.activated"
    } else {
        "user.deactivated"
    };
    let (ctx, entry) = actor.audit(req, state, action, &["is_active"]);
    accounts::set_active(
        &state.db,
        actor.scope(),
        member,
        active,
        ctx,
        entry.target("user", target_id),
    )
    .await
    .map_err(account_error)?;
    state.auth_cache.forget_user(target_id);
    Ok(if active {
        format!("{} can sign in again.", target.email)
    } else {
        format!(
            "{} was deactivated and signed out everywhere.",
            target.email
        )
    })
}

async fn reset_link(
    req: &HttpRequest,
    state: &AppState,
    actor: &CurrentUser,
    target_id: i64,
) -> Result<String, AppError> {
    let (target, _) = manageable_target(state, actor, target_id).await?;
    let token = random_token()?;
    let token_hash = hash_link_token(&token);
    let scope = actor.scope();
    let actor_id = actor.id.0;
    let ctx = AuditContext::from_request(req, state);
    let expires = repo::now() + chrono::Duration::hours(LINK_HOURS);
    state
        .db
        .write(move |conn| {
            password_tokens::issue(
                conn,
                &scope,
                target_id,
                &token_hash,
                "reset",
                Some(actor_id),
                expires,
            )?;
            member_event(
                conn,
                &ctx,
                &scope,
                actor_id,
                "password_link.issued",
                target_id,
                &[],
            )
        })
        .await?;
    Ok(format!(
        "Password reset link for {} (valid {LINK_HOURS} hours, single use, shown once): {}",
        target.email,
        link_url(req, state, &token)
    ))
}
