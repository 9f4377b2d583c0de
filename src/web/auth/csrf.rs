//! CSRF defence for every state-changing request under a session: the synchronizer token
//! (`csrf_token` form field, compared in constant time with the session's) and, when the
//! browser sends them, `Origin`/`Referer` matching this site.
//!
//! The anonymous forms ([`ANONYMOUS_FORM_ROUTES`]: sign-in, set-password) also accept the
//! stateless token of [`super::login_csrf`], so showing them stores no session row.
//!
//! URL-encoded bodies are read here (bounded) and handed on unchanged. Multipart bodies
//! are streamed by their handler, which checks the token itself — only the routes listed
//! in [`MULTIPART_ROUTES`] accept them; any other multipart post is refused.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_session::SessionExt;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{Method, header};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpMessage, HttpRequest, ResponseError};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use subtle::ConstantTimeEq;

use super::keys::CSRF_KEY;
use super::login_csrf::LoginCsrf;
use crate::web::errors::AppError;

/// Form bodies larger than this are not forms people fill in.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// Routes whose handlers read multipart bodies and verify the token themselves.
pub const MULTIPART_ROUTES: &[&str] = &["/portal/uploads", "/portal/settings/mappings"];

/// Forms shown to visitors without a session; their token is the stateless one.
fn is_anonymous_form(path: &str) -> bool {
    path == "/login" || path.starts_with("/set-password/")
}

/// Constant-time comparison of a submitted token with the session's.
pub fn tokens_match(submitted: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(submitted.as_bytes().ct_eq(expected.as_bytes()))
}

/// Checks a token submitted in a multipart body against the request's session.
pub fn verify_token(req: &HttpRequest, submitted: &str) -> Result<(), AppError> {
    let expected = req
        .get_session()
        .get::<String>(CSRF_KEY)
        .ok()
        .flatten()
        .unwrap_or_default();
    if tokens_match(submitted, &expected) {
        Ok(())
    } else {
        Err(AppError::CsrfRejected)
    }
}

/// `Origin` (or else `Referer`), when present, must name this host.
fn same_origin(req: &ServiceRequest, allowed_hosts: &[String]) -> bool {
    let headers = req.headers();
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else {
        return true;
    };
    let Some(authority) = source
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
    else {
        return false; // "null" origins and other oddities are refused
    };
    let own_host = req.connection_info().host().to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    if authority == own_host {
        return true;
    }
    let name = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(authority.as_str(), |(name, _)| name);
    allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
}

fn form_token(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.into_owned())
}

#[derive(Clone)]
pub struct Csrf {
    allowed_hosts: Rc<Vec<String>>,
    login_csrf: Arc<LoginCsrf>,
}

impl Csrf {
    pub fn new(allowed_hosts: Vec<String>, login_csrf: Arc<LoginCsrf>) -> Self {
        Csrf {
            allowed_hosts: Rc::new(allowed_hosts),
            login_csrf,
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Csrf
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CsrfMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CsrfMiddleware {
            service: Rc::new(service),
            allowed_hosts: Rc::clone(&self.allowed_hosts),
            login_csrf: Arc::clone(&self.login_csrf),
        }))
    }
}

pub struct CsrfMiddleware<S> {
    service: Rc<S>,
    allowed_hosts: Rc<Vec<String>>,
    login_csrf: Arc<LoginCsrf>,
}

fn reject<B>(req: ServiceRequest) -> ServiceResponse<EitherBody<B>> {
    let response = AppError::CsrfRejected.error_response();
    req.into_response(response).map_into_right_body()
}

impl<S, B> Service<ServiceRequest> for CsrfMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let service = Rc::clone(&self.service);
        if safe {
            return Box::pin(async move { Ok(service.call(req).await?.map_into_left_body()) });
        }
        if !same_origin(&req, &self.allowed_hosts) {
            return Box::pin(async move { Ok(reject(req)) });
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let allowed = MULTIPART_ROUTES.contains(&req.path());
            return Box::pin(async move {
                if !allowed {
                    return Ok(reject(req));
                }
                Ok(service.call(req).await?.map_into_left_body())
            });
        }
        let expected = req
            .get_session()
            .get::<String>(CSRF_KEY)
            .ok()
            .flatten()
            .unwrap_or_default();
        // `Some(nonce cookie)` on the anonymous forms only; elsewhere the session decides.
        let anonymous = is_anonymous_form(req.path())
            .then(|| self.login_csrf.nonce(req.request()))
            .map(|nonce| (Arc::clone(&self.login_csrf), nonce));
        let mut payload = req.take_payload();
        Box::pin(async move {
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk?;
                if body.len() + chunk.len() > MAX_FORM_BYTES {
                    let response =
                        AppError::PayloadTooLarge("The form is too large.".into()).error_response();
                    return Ok(req.into_response(response).map_into_right_body());
                }
                body.extend_from_slice(&chunk);
            }
            let body: Bytes = body.freeze();
            let submitted = form_token(&body).unwrap_or_default();
            let stateless_ok = anonymous
                .as_ref()
                .is_some_and(|(key, nonce)| key.verify(nonce.as_deref(), &submitted));
            if !stateless_ok && !tokens_match(&submitted, &expected) {
                return Ok(reject(req));
            }
            req.set_payload(Payload::from(body));
            Ok(service.call(req).await?.map_into_left_body())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(
            !tokens_match("", ""),
            "an empty session token never matches"
        );
        assert!(!tokens_match("ab", "abc"));
    }

    #[test]
    fn finds_the_token_in_a_form() {
        assert_eq!(
            form_token(b"a=1&csrf_token=x%2By&b=2").as_deref(),
            Some("x+y")
        );
        assert_eq!(form_token(b"a=1"), None);
    }
}
