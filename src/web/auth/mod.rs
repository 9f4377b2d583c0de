//! Who is asking: the session's user, checked on every request, and role guards that
//! make a forgotten check a compile error rather than a hole.
//!
//! Session state keys: `user_id`, `login_at` (unix seconds, for the absolute limit),
//! `csrf` (the synchronizer token), `flash` (one-shot message).

pub mod api_limits;
pub mod cache;
pub mod csrf;
pub mod keys;
pub mod login_csrf;
pub mod rate_limit;
pub mod session_store;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::domain::roles::Role;
use crate::domain::tenant::{CustomerId, TenantScope, UserId};
use crate::web::audit::{AuditContext, AuditEntry};
use crate::web::auth::cache::CachedUser;
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::{Flash, Layout, LayoutUser};
pub use keys::{AUTH_STATE_KEYS, CSRF_KEY, FLASH_KEY, LOGIN_AT_KEY, USER_ID_KEY};

/// The signed-in user of this request.
#[derive(Clone)]
pub struct CurrentUser {
    pub id: UserId,
    pub customer_id: CustomerId,
    pub customer_name: String,
    pub email: String,
    pub role: Role,
    pub is_staff: bool,
    pub csrf_token: String,
    session: Session,
}

impl CurrentUser {
    /// The audit row of `action` by this user with the request's facts, for
    /// [`crate::db::Db::write_audited`] (which commits it with the change). Add the
    /// target with [`AuditEntry::target`].
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
                actor_user_id: Some(self.id.0),
                action,
                target_type: None,
                target_id: None,
                changed_fields,
            },
        )
    }

    /// The tenant this user may see; the only way handlers reach tenant data.
    pub fn scope(&self) -> TenantScope {
        TenantScope::from_authenticated(self.customer_id)
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The page frame for this user, with the navigation their role may use.
    pub fn layout(&self, title: impl Into<String>, active: &str) -> Layout {
        let nav = crate::web::view::nav::nav_for(self.role, self.is_staff, active);
        let flashes = take_flash(&self.session).into_iter().collect();
        Layout {
            title: title.into(),
            user: Some(LayoutUser {
                email: self.email.clone(),
                role_label: self.role.label(),
                customer_name: self.customer_name.clone(),
                nav,
            }),
            flashes,
            csrf_token: self.csrf_token.clone(),
            version: crate::VERSION,
        }
    }
}

/// A new random token (hex, 256 bits) for CSRF or one-time links.
pub fn random_token() -> Result<String, AppError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    Ok(hex::encode(raw))
}

/// The session's CSRF token, created when missing (login page for anonymous visitors).
pub fn ensure_csrf_token(session: &Session) -> Result<String, AppError> {
    if let Ok(Some(token)) = session.get::<String>(CSRF_KEY) {
        return Ok(token);
    }
    let token = random_token()?;
    session
        .insert(CSRF_KEY, &token)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
    Ok(token)
}

pub fn set_flash(session: &Session, kind: &'static str, message: impl Into<String>) {
    let _ = session.insert(FLASH_KEY, (kind, message.into()));
}

/// The one-shot message stored in the session, removed as it is read.
pub fn take_flash(session: &Session) -> Option<Flash> {
    if !session.contains_key(FLASH_KEY) {
        return None;
    }
    let value = session.remove_as::<(String, String)>(FLASH_KEY)?.ok()?;
    let kind = match value.0.as_str() {
        "success" => "success",
        "warning" => "warning",
        "error" => "error",
        _ => "info",
    };
    Some(Flash {
        kind,
        message: value.1,
    })
}

/// Signs the user in: new session id (fixation defence), fresh CSRF token, login time.
pub fn start_session(session: &Session, user_id: i64) -> Result<(), AppError> {
    session.clear();
    session.renew();
    put(session, USER_ID_KEY, &user_id)?;
    put(
        session,
        LOGIN_AT_KEY,
        &chrono::Utc::now().timestamp_millis(),
    )?;
    put(session, CSRF_KEY, &random_token()?)?;
    Ok(())
}

fn put<T: serde::Serialize>(session: &Session, key: &str, value: &T) -> Result<(), AppError> {
    session
        .insert(key, value)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))
}

/// Where to send a visitor who must sign in: back here afterwards.
fn login_redirect(req: &HttpRequest, expired: bool) -> AppError {
    let next = match req.uri().path_and_query() {
        Some(pq) if req.method() == actix_web::http::Method::GET => pq.as_str().to_string(),
        _ => "/portal".to_string(),
    };
    AppError::LoginRequired { next, expired }
}

/// The cookie name for this deployment (`__Host-` prefix when cookies are secure).
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-payerwatch_session"
    } else {
        "payerwatch_session"
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { tenant_member(authenticate(&req).await?) })
    }
}

/// Platform staff hold no tenant (SPEC §1: staff "get 404 for any tenant's objects"), so
/// every extractor that hands out a tenant scope — `CurrentUser`, `Authorized<R>` —
/// answers them 404, the answer for another tenant's object. Only [`SignedIn`] (own
/// password page, the front page's redirect) and [`StaffUser`] (dashboard) let them in.
fn tenant_member(user: CurrentUser) -> Result<CurrentUser, AppError> {
    if user.is_staff {
        return Err(AppError::NotFound);
    }
    Ok(user)
}

/// Any signed-in user, platform staff included: for pages that show no tenant data.
pub struct SignedIn(pub CurrentUser);

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await.map(SignedIn) })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<CurrentUser, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state missing")))?
        .clone();
    let session = req.get_session();
    let had_cookie = req
        .cookie(session_cookie_name(state.settings.secure_cookies))
        .is_some();
    let user_id = session.get::<i64>(USER_ID_KEY).ok().flatten();
    let Some(user_id) = user_id else {
        return Err(login_redirect(req, had_cookie));
    };

    let login_at = session.get::<i64>(LOGIN_AT_KEY).ok().flatten().unwrap_or(0);
    let age_ms = chrono::Utc::now()
        .timestamp_millis()
        .saturating_sub(login_at);
    let limit_ms = u64::try_from(state.settings.session_absolute.as_millis()).unwrap_or(u64::MAX);
    if age_ms < 0 || age_ms as u64 >= limit_ms {
        session.purge();
        let ctx = AuditContext::from_request(req, &state);
        crate::services::sessions::expired_absolute(&state.db, ctx, user_id).await?;
        return Err(login_redirect(req, true));
    }

    let user = match state.auth_cache.user(user_id) {
        Some(user) => user,
        None => {
            let epoch = state.auth_cache.epoch();
            let loaded = crate::services::sessions::user(&state.db, user_id)
                .await
                .map(|u| CachedUser {
                    id: u.id,
                    customer_id: u.customer_id,
                    customer_name: u.customer_name,
                    email: u.email,
                    role: u.role,
                    is_staff: u.is_staff,
                    is_active: u.is_active,
                });
            match loaded {
                Ok(user) => {
                    state.auth_cache.put_user(epoch, user.clone());
                    user
                }
                Err(crate::db::DbError::NotFound) => {
                    session.purge();
                    return Err(login_redirect(req, false));
                }
                Err(other) => return Err(other.into()),
            }
        }
    };
    if !user.is_active {
        session.purge();
        return Err(login_redirect(req, false));
    }
    let role: Role = user
        .role
        .parse()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored role: {e}")))?;
    let csrf_token = ensure_csrf_token(&session)?;
    crate::observability::set_authenticated_user(&mut req.extensions_mut(), user.id);
    crate::web::http::request_context::remember_signed_in(
        crate::web::http::request_context::SignedInFrame {
            user: LayoutUser {
                email: user.email.clone(),
                role_label: role.label(),
                customer_name: user.customer_name.clone(),
                nav: crate::web::view::nav::nav_for(role, user.is_staff, ""),
            },
            csrf_token: csrf_token.clone(),
        },
    );
    Ok(CurrentUser {
        id: UserId(user.id),
        customer_id: CustomerId(user.customer_id),
        customer_name: user.customer_name,
        email: user.email,
        role,
        is_staff: user.is_staff,
        csrf_token,
        session,
    })
}

/// A minimum role, as a type.
pub trait MinRole {
    const ROLE: Role;
}

pub struct Viewer;
pub struct Analyst;
pub struct Admin;
pub struct Owner;

impl MinRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl MinRole for Analyst {
    const ROLE: Role = Role::Analyst;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}
impl MinRole for Owner {
    const ROLE: Role = Role::Owner;
}

/// Who a request comes from, with the role a guard checks: a signed-in tenant member
/// ([`CurrentUser`], the pages) or an API token's owner (`web::api::auth::ApiUser`).
pub trait Principal: Sized + 'static {
    /// The caller of `req`, or the answer to a request without one (the login page, 401,
    /// or 404 for platform staff on tenant pages).
    fn resolve(req: HttpRequest) -> impl Future<Output = Result<Self, AppError>>;
    fn role(&self) -> Role;
}

impl Principal for CurrentUser {
    async fn resolve(req: HttpRequest) -> Result<CurrentUser, AppError> {
        tenant_member(authenticate(&req).await?)
    }

    fn role(&self) -> Role {
        self.role
    }
}

/// A caller holding at least role `R`; anyone else gets 403. `P` is who calls: a signed-in
/// tenant member by default (the pages), an API token's owner for the API.
pub struct Authorized<R: MinRole, P: Principal = CurrentUser> {
    pub user: P,
    _role: PhantomData<R>,
}

impl<R: MinRole, P: Principal> std::ops::Deref for Authorized<R, P> {
    type Target = P;

    fn deref(&self) -> &P {
        &self.user
    }
}

impl<R: MinRole + 'static, P: Principal> FromRequest for Authorized<R, P> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = P::resolve(req).await?;
            if !user.role().allows(R::ROLE) {
                return Err(AppError::Forbidden);
            }
            Ok(Authorized {
                user,
                _role: PhantomData,
            })
        })
    }
}

/// Platform staff (the service-wide metrics dashboard).
pub struct StaffUser(pub CurrentUser);

impl FromRequest for StaffUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = authenticate(&req).await?;
            if !user.is_staff {
                return Err(AppError::Forbidden);
            }
            Ok(StaffUser(user))
        })
    }
}
