//! `/portal/settings/tokens`: personal API tokens. Analysts and up create their own
//! (shown once, on the answer to the POST — never stored in the session or a redirect);
//! admins see and revoke every token of their tenant.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::repo::api_tokens::Listed;
use crate::domain::api_token;
use crate::domain::roles::Role;
use crate::services::api_tokens::{self as service, NewTokenRequest};
use crate::web::audit::AuditContext;
use crate::web::auth::{self, Analyst, Authorized};
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render_with_status;

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    owner: String,
    role: String,
    created: String,
    expires: String,
    last_used: String,
    state: &'static str,
}

struct Created {
    name: String,
    secret: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "settings/tokens.html")]
struct TokensPage {
    layout: Layout,
    tokens: Vec<TokenRow>,
    all_tenant: bool,
    roles: Vec<&'static str>,
    max_days: i64,
    default_days: i64,
    created: Option<Created>,
    error: Option<String>,
}

const WHEN: &str = "%Y-%m-%d %H:%M UTC";

fn row(l: &Listed, now: chrono::NaiveDateTime) -> TokenRow {
    let t = &l.token;
    TokenRow {
        id: t.id,
        name: t.name.clone(),
        prefix: t.prefix.clone(),
        owner: l.owner_email.clone(),
        role: t.role_cap.clone(),
        created: t.created_at.format(WHEN).to_string(),
        expires: t.expires_at.format(WHEN).to_string(),
        last_used: t
            .last_used_at
            .map_or_else(|| "never".to_string(), |at| at.format(WHEN).to_string()),
        state: if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at <= now {
            "expired"
        } else {
            "active"
        },
    }
}

async fn page(
    state: &AppState,
    user: &Authorized<Analyst>,
    status: StatusCode,
    created: Option<Created>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let tokens = service::list(&state.db, user.scope(), user.id, user.role).await?;
    let now = crate::db::repo::now();
    let mut response = render_with_status(
        status,
        &TokensPage {
            layout: user.layout("API tokens", "/portal/settings/tokens"),
            tokens: tokens.iter().map(|l| row(l, now)).collect(),
            all_tenant: user.role.allows(Role::Admin),
            roles: Role::ALL
                .iter()
                .filter(|r| **r <= user.role)
                .map(|r| r.as_str())
                .collect(),
            max_days: api_token::MAX_DAYS,
            default_days: api_token::DEFAULT_DAYS,
            created,
            error,
        },
    )?;
    // The one answer that carries a secret is never kept by a cache.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

pub async fn show(
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
) -> Result<HttpResponse, AppError> {
    page(&state, &user, StatusCode::OK, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    action: String,
    name: Option<String>,
    expires_in_days: Option<String>,
    role: Option<String>,
    token_id: Option<String>,
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let ctx = AuditContext::from_request(&req, &state);
    match form.action.as_str() {
        "create" => {
            let days = match form.expires_in_days.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(v) => match v.parse::<i64>() {
                    Ok(d) => Some(d),
                    Err(_) => {
                        return page(
                            &state,
                            &user,
                            StatusCode::BAD_REQUEST,
                            None,
                            Some("The lifetime must be a number of days.".into()),
                        )
                        .await;
                    }
                },
            };
            let role_cap = match form.role.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(v) => Some(v.parse::<Role>().map_err(|_| {
                    AppError::BadRequest("role must be viewer, analyst, admin or owner".into())
                })?),
            };
            let name = form.name.unwrap_or_default();
            let created = service::create(
                &state.db,
                user.scope(),
                user.id,
                user.role,
                NewTokenRequest {
                    name: &name,
                    days,
                    role_cap,
                },
                ctx,
            )
            .await;
            match created {
                Ok(created) => {
                    page(
                        &state,
                        &user,
                        StatusCode::OK,
                        Some(Created {
                            name: name.trim().to_string(),
                            secret: created.secret,
                            expires: created.expires_at.format(WHEN).to_string(),
                        }),
                        None,
                    )
                    .await
                }
                Err(service::TokenError::Invalid { message, .. }) => {
                    page(&state, &user, StatusCode::BAD_REQUEST, None, Some(message)).await
                }
                Err(other) => Err(other.into()),
            }
        }
        "revoke" => {
            let id = form
                .token_id
                .as_deref()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| AppError::BadRequest("token_id must be a token number".into()))?;
            service::revoke(&state.db, user.scope(), user.id, user.role, id, ctx).await?;
            auth::set_flash(user.session(), "success", "The token was revoked.");
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/portal/settings/tokens"))
                .finish())
        }
        _ => Err(AppError::BadRequest(
            "action must be create or revoke".into(),
        )),
    }
}
