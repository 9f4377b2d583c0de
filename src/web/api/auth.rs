//! Who is calling the API: a personal token in `Authorization: Bearer …` — never a
//! cookie (so CSRF does not apply here) — checked on every request, rate limited per
//! token, with role guards like the pages' (`ApiAuthorized<Analyst>`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::db::AuditEntry;
use crate::domain::roles::Role;
use crate::services::api_tokens::{self, AuthError, TokenPrincipal};
use crate::web::audit::AuditContext;
pub use crate::web::auth::api_limits::{ApiLimits, BURST, PER_SECOND, RateInfo, UploadSlot};
use crate::web::auth::{Authorized, Principal};
use crate::web::errors::AppError;
use crate::web::state::AppState;

/// The caller of an API request.
#[derive(Clone)]
pub struct ApiUser {
    pub principal: TokenPrincipal,
}

impl std::ops::Deref for ApiUser {
    type Target = TokenPrincipal;

    fn deref(&self) -> &TokenPrincipal {
        &self.principal
    }
}

impl ApiUser {
    /// The audit row of `action` by this token's owner, as [`crate::web::auth::CurrentUser::audit`].
    pub fn audit(
        &self,
        req: &HttpRequest,
        state: &AppState,
        action: &'static str,
        changed_fields: &'static [&'static str],
    ) -> (AuditContext, AuditEntry<'static>) {
        (
            AuditContext::from_request(req, state),
            AuditEntry {
                customer_id: Some(self.customer_id.0),
                actor_user_id: Some(self.user_id.0),
                action,
                target_type: None,
                target_id: None,
                changed_fields,
            },
        )
    }
}

const NO_TOKEN: &str = "Send a personal API token as 'Authorization: Bearer <token>' (create one \
                        at /portal/settings/tokens). Cookies do not authenticate the API.";
const BAD_TOKEN: &str = "The token is not valid: unknown, revoked or expired, or its owner's \
                         account is deactivated.";

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn authenticate(req: &HttpRequest) -> Result<ApiUser, AppError> {
    if let Some(user) = req.extensions().get::<ApiUser>() {
        return Ok(user.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state missing")))?
        .clone();
    let Some(token) = bearer(req) else {
        return Err(AppError::Unauthenticated(NO_TOKEN));
    };
    // Limited per token before any database work (the key is the token's hash, one to
    // one with the token), so a flood with one token costs no lookups.
    let key = crate::domain::api_token::hash(&token);
    match state.api_limits.take(&key) {
        Ok(info) => {
            req.extensions_mut().insert(info);
        }
        Err((info, wait)) => {
            req.extensions_mut().insert(info);
            return Err(AppError::RateLimited {
                retry_after_secs: wait,
            });
        }
    }
    let ctx = AuditContext::from_request(req, &state);
    let principal = match api_tokens::authenticate(&state.db, &token, ctx).await {
        Ok(p) => p,
        Err(AuthError::Refused(why)) => {
            tracing::info!(reason = %why, "API token refused");
            return Err(AppError::Unauthenticated(BAD_TOKEN));
        }
        Err(AuthError::Db(err)) => return Err(err.into()),
    };
    crate::observability::set_authenticated_user(&mut req.extensions_mut(), principal.user_id.0);
    let user = ApiUser { principal };
    req.extensions_mut().insert(user.clone());
    Ok(user)
}

impl FromRequest for ApiUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// A caller whose effective role (owner's role capped by the token) is at least `R`.
pub type ApiAuthorized<R> = Authorized<R, ApiUser>;

impl Principal for ApiUser {
    async fn resolve(req: HttpRequest) -> Result<ApiUser, AppError> {
        authenticate(&req).await
    }

    fn role(&self) -> Role {
        self.principal.role
    }
}
