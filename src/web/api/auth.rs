//! Who is calling the API: a personal token in `Authorization: Bearer …` — never a
//! cookie (so CSRF does not apply here) — checked on every request, rate limited per
//! token, with role guards like the pages' (`ApiAuthorized<Analyst>`).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::db::AuditEntry;
use crate::services::api_tokens::{self, AuthError, TokenPrincipal};
use crate::web::audit::AuditContext;
use crate::web::auth::MinRole;
use crate::web::errors::AppError;
use crate::web::state::AppState;

/// Requests per second a token may make, and its burst (issue 18: 10/s, bursts of 50).
pub const PER_SECOND: f64 = 10.0;
pub const BURST: f64 = 50.0;
const MAX_TRACKED: usize = 100_000;

/// Per-token token buckets and the uploads in flight, held in memory per instance (a
/// client spread over N instances may get N times the rate; documented in docs/api.md).
#[derive(Default)]
pub struct ApiLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
    uploads: Mutex<HashSet<i64>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// What the `RateLimit-*` headers of a response say.
#[derive(Debug, Clone, Copy)]
pub struct RateInfo {
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

impl ApiLimits {
    /// Takes one request from `key`'s bucket: `Ok` with what is left, or `Err` with the
    /// seconds until one request is allowed again.
    pub fn take(&self, key: &str) -> Result<RateInfo, (RateInfo, u64)> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<RateInfo, (RateInfo, u64)> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > MAX_TRACKED {
            // Full buckets carry no information; dropping them bounds memory.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * PER_SECOND < BURST
            });
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: BURST,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * PER_SECOND).min(BURST);
        bucket.updated = now;
        let info = |tokens: f64| RateInfo {
            remaining: tokens.max(0.0).floor() as u64,
            reset_secs: ((BURST - tokens) / PER_SECOND).ceil().max(0.0) as u64,
        };
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(info(bucket.tokens))
        } else {
            let wait = ((1.0 - bucket.tokens) / PER_SECOND).ceil().max(1.0) as u64;
            Err((info(bucket.tokens), wait))
        }
    }

    /// Marks an upload of `token_id` as in flight; `None` when one already is.
    pub fn start_upload(&self, token_id: i64) -> Option<UploadSlot<'_>> {
        let mut uploads = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        // `then`, not `then_some`: a slot built for a refused caller would be dropped
        // here, under the lock (deadlock), and would free the holder's slot.
        uploads.insert(token_id).then(|| UploadSlot {
            limits: self,
            token_id,
        })
    }
}

/// The one upload a token may have in flight; freed when dropped.
pub struct UploadSlot<'a> {
    limits: &'a ApiLimits,
    token_id: i64,
}

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        self.limits
            .uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.token_id);
    }
}

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
pub struct ApiAuthorized<R: MinRole> {
    pub user: ApiUser,
    _role: PhantomData<R>,
}

impl<R: MinRole> std::ops::Deref for ApiAuthorized<R> {
    type Target = ApiUser;

    fn deref(&self) -> &ApiUser {
        &self.user
    }
}

impl<R: MinRole + 'static> FromRequest for ApiAuthorized<R> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = authenticate(&req).await?;
            if !user.role.allows(R::ROLE) {
                return Err(AppError::Forbidden);
            }
            Ok(ApiAuthorized {
                user,
                _role: PhantomData,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_limits_then_refills() {
        let limits = ApiLimits::default();
        let t0 = Instant::now();
        for i in 0..50 {
            let info = limits.take_at("k", t0).expect("within the burst");
            assert_eq!(info.remaining, 49 - i);
        }
        let (info, wait) = limits.take_at("k", t0).expect_err("limited");
        assert_eq!((info.remaining, wait), (0, 1));
        assert!(limits.take_at("other", t0).is_ok(), "per token");
        assert!(limits.take_at("k", t0 + Duration::from_millis(150)).is_ok());
    }

    #[test]
    fn one_upload_in_flight_per_token() {
        let limits = ApiLimits::default();
        let slot = limits.start_upload(1).expect("first");
        assert!(limits.start_upload(1).is_none());
        assert!(limits.start_upload(2).is_some());
        drop(slot);
        assert!(limits.start_upload(1).is_some());
    }
}
