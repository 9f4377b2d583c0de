//! The outermost middleware: request id, timing header, security headers, slow-request
//! logging, host validation, the panic guard and request telemetry (statistics,
//! Prometheus series, the per-request log span) — one pass per request, kept cheap
//! because it also wraps `/healthz` under load-balancer traffic.

use std::cell::OnceCell;
use std::future::{Ready, ready};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{
    ResourceMap, Service, ServiceRequest, ServiceResponse, Transform, forward_ready,
};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use tracing::Instrument;
use tracing::field::Empty;

use super::request_context::{self, RequestContext};
use crate::observability::AuthenticatedUserId;
use crate::observability::stats::{RequestStats, UNMATCHED_ROUTE, method_label};
use crate::web::errors::error_page;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const DURATION_HEADER: &str = "x-request-duration-ms";

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
object-src 'none'";
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The request id of the current request, stored in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Keeps a client-supplied id when it is well formed (8–64 of `[A-Za-z0-9._-]`), so a
/// trace can cross a proxy; otherwise the id is generated.
pub fn accept_request_id(candidate: Option<&str>) -> String {
    match candidate {
        Some(id)
            if (8..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
        {
            id.to_string()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// Paths probed by load balancers: never host-checked or logged.
pub fn is_probe_path(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/healthz" | "/health" | "/ping" | "/readyz" | "/metrics"
    )
}

#[derive(Clone)]
pub struct Telemetry {
    production: bool,
    allowed_hosts: Rc<Vec<String>>,
    stats: Arc<RequestStats>,
}

impl Telemetry {
    /// `stats` receives one record per request (the app's `AppState::request_stats`).
    pub fn new(production: bool, allowed_hosts: Vec<String>, stats: Arc<RequestStats>) -> Self {
        Telemetry {
            production,
            allowed_hosts: Rc::new(allowed_hosts),
            stats,
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Telemetry
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = TelemetryMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(TelemetryMiddleware {
            service: Rc::new(service),
            config: self.clone(),
            routes: Rc::new(OnceCell::new()),
        }))
    }
}

pub struct TelemetryMiddleware<S> {
    service: Rc<S>,
    config: Telemetry,
    /// The app's route table, copied once per worker from the first request: it names
    /// the route of a request whose handler panicked (that request is gone by then).
    routes: Rc<OnceCell<ResourceMap>>,
}

impl<S> TelemetryMiddleware<S> {
    fn host_allowed(&self, req: &ServiceRequest) -> bool {
        if !self.config.production || is_probe_path(req.path()) {
            return true;
        }
        let host = req.connection_info().host().to_ascii_lowercase();
        let name = strip_port(&host);
        self.config.allowed_hosts.iter().any(|h| h == name)
    }
}

/// The path as `NormalizePath::trim` leaves it (no trailing slash except the root).
fn normalized(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .map_or(host, |h| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

impl<S, B> Service<ServiceRequest> for TelemetryMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let request_id = accept_request_id(
            req.headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok()),
        );
        let ctx = RequestContext {
            request_id: request_id.clone(),
            is_api: req.path().starts_with("/api/"),
            signed_in: None,
        };
        let production = self.config.production;
        let stats = Arc::clone(&self.config.stats);
        let probe = is_probe_path(req.path());
        let host_ok = self.host_allowed(&req);
        req.extensions_mut().insert(RequestId(request_id.clone()));
        let method = req.method().clone();
        // Holding a clone of the request would break routing (it needs unique access),
        // so responses made here (panic, host refusal) carry a detached request.
        let path = req.path().to_string();
        let detached = {
            let method = method.clone();
            move |path: &str| {
                actix_web::test::TestRequest::default()
                    .method(method)
                    .uri(path)
                    .to_http_request()
            }
        };
        if self.routes.get().is_none() {
            let _ = self.routes.set(req.resource_map().clone());
        }
        let routes = Rc::clone(&self.routes);
        let service = Rc::clone(&self.service);
        // Probes get no span and no log line (no noise, no cost); everything else gets a
        // span carrying the request id, and the user id once the auth layer knows it.
        // Only the method goes in: never the path or query string.
        let span = if probe {
            tracing::Span::none()
        } else {
            tracing::info_span!(
                "request",
                request_id = %request_id,
                method = method_label(&method),
                user_id = Empty
            )
        };

        Box::pin(async move {
            let inner = request_context::scope(ctx, async move {
                // Route of a response built here (the request itself is gone).
                let route_of = |path: &str| {
                    routes
                        .get()
                        .and_then(|map| map.match_pattern(normalized(path)))
                };
                if !host_ok {
                    let page = error_page(
                        StatusCode::BAD_REQUEST,
                        "Unknown host",
                        "This server does not answer for that host name.",
                        None,
                        "",
                    );
                    let res = ServiceResponse::new(detached(&path), page);
                    return (res.map_into_right_body(), None);
                }
                match AssertUnwindSafe(service.call(req)).catch_unwind().await {
                    Ok(Ok(res)) => {
                        let route = res.request().match_pattern();
                        (res.map_into_left_body(), route)
                    }
                    Ok(Err(err)) => {
                        let res = ServiceResponse::from_err(err, detached(&path));
                        (res.map_into_right_body(), route_of(&path))
                    }
                    Err(_panic) => {
                        tracing::error!("handler panicked");
                        let ctx = request_context::current();
                        let page = error_page(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Something went wrong on our side",
                            "The error has been logged.",
                            Some("Please try again; if it keeps happening, contact support."),
                            &ctx.request_id,
                        );
                        let res = ServiceResponse::new(detached(&path), page);
                        (res.map_into_right_body(), route_of(&path))
                    }
                }
            });
            let (mut res, route) = inner.instrument(span.clone()).await;

            let elapsed = started.elapsed();
            let elapsed_ms = elapsed.as_millis() as u64;
            let status = res.status();
            let user_id = res
                .request()
                .extensions()
                .get::<AuthenticatedUserId>()
                .map(|u| u.0);
            if !probe || elapsed_ms > 2000 {
                log_finished(
                    &span,
                    method_label(&method),
                    route.as_deref().unwrap_or(UNMATCHED_ROUTE),
                    status,
                    elapsed_ms,
                    user_id,
                );
            }
            stats.record(&method, route, status.as_u16(), elapsed, user_id);

            let headers = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
            }
            headers.insert(
                HeaderName::from_static(DURATION_HEADER),
                HeaderValue::from(elapsed_ms),
            );
            set_security_headers(headers, production);
            Ok(res)
        })
    }
}

/// One line per finished request, inside its span (so it carries the request id): debug
/// for successes, info for 4xx, warn for 5xx; slow requests warn (> 2 s) or error (> 5 s)
/// whatever their status. Route patterns only — never the raw path or query string.
fn log_finished(
    span: &tracing::Span,
    method: &'static str,
    route: &str,
    status: StatusCode,
    elapsed_ms: u64,
    user_id: Option<i64>,
) {
    let _entered = span.enter();
    if let Some(id) = user_id {
        span.record("user_id", id);
    }
    let status = status.as_u16();
    if elapsed_ms > 5000 {
        tracing::error!(method, route, status, elapsed_ms, "very slow request");
    } else if elapsed_ms > 2000 {
        tracing::warn!(method, route, status, elapsed_ms, "slow request");
    } else if status >= 500 {
        tracing::warn!(method, route, status, elapsed_ms, "request failed");
    } else if status >= 400 {
        tracing::info!(method, route, status, elapsed_ms, "request refused");
    } else {
        tracing::debug!(method, route, status, elapsed_ms, "request finished");
    }
}

fn set_security_headers(headers: &mut actix_web::http::header::HeaderMap, production: bool) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if production {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_well_formed_request_ids() {
        assert_eq!(accept_request_id(Some("abc-123_x.9")), "abc-123_x.9");
        let generated = accept_request_id(Some("bad id with spaces"));
        assert_eq!(generated.len(), 36);
        assert_ne!(accept_request_id(Some("short")), "short");
        assert_ne!(accept_request_id(Some(&"a".repeat(65))), "a".repeat(65));
        assert_eq!(accept_request_id(None).len(), 36);
    }

    #[test]
    fn strips_ports_from_hosts() {
        assert_eq!(strip_port("example.org:8080"), "example.org");
        assert_eq!(strip_port("example.org"), "example.org");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
    }

    #[test]
    fn probe_paths_include_trailing_slash() {
        assert!(is_probe_path("/healthz/"));
        assert!(is_probe_path("/readyz"));
        assert!(!is_probe_path("/portal"));
    }
}
