//! The JSON API (`/api/v1`, SPEC §6/§10, issue 18): the portal's second front door over
//! the same services and repositories, tenant scope, roles and audit. Personal tokens
//! only (`auth`), RFC 9457 errors (mapped in `web::errors`), cursor pagination and ETags
//! (`paging`), per-token rate limits, and an OpenAPI document generated from the
//! handlers (`openapi`).
//!
//! Every API route is in [`table`], and [`configure`] registers exactly that table: a
//! test compares it with the OpenAPI document both ways.

pub mod alerts;
pub mod auth;
pub mod findings;
pub mod model;
pub mod openapi;
pub mod paging;
pub mod uploads;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::web::{self, ServiceConfig};
use actix_web::{Error, HttpMessage, Route};

use auth::RateInfo;

/// One API route: method, path (as in the OpenAPI document) and its handler.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub route: fn() -> Route,
}

/// All API routes, public ones included.
pub fn table() -> Vec<ApiRoute> {
    let r = |method: Method, path: &'static str, route: fn() -> Route| ApiRoute {
        method,
        path,
        route,
    };
    vec![
        r(Method::GET, "/api/v1/openapi.json", || {
            web::get().to(openapi::openapi_json)
        }),
        r(Method::GET, "/api/docs", || {
            web::get().to(openapi::docs_page)
        }),
        r(Method::GET, "/api/v1/me", || web::get().to(uploads::me)),
        r(Method::GET, "/api/v1/uploads", || {
            web::get().to(uploads::list)
        }),
        r(Method::POST, "/api/v1/uploads", || {
            web::post().to(uploads::create)
        }),
        r(Method::GET, "/api/v1/uploads/{id}", || {
            web::get().to(uploads::get)
        }),
        r(Method::DELETE, "/api/v1/uploads/{id}", || {
            web::delete().to(uploads::delete)
        }),
        r(Method::GET, "/api/v1/uploads/{id}/rejections", || {
            web::get().to(uploads::rejections)
        }),
        r(Method::GET, "/api/v1/findings", || {
            web::get().to(findings::list)
        }),
        r(Method::GET, "/api/v1/drift-events", || {
            web::get().to(findings::list_alias)
        }),
        r(Method::GET, "/api/v1/findings/{id}", || {
            web::get().to(findings::get)
        }),
        r(Method::GET, "/api/v1/alerts", || {
            web::get().to(alerts::list)
        }),
        r(Method::GET, "/api/v1/alerts/{id}", || {
            web::get().to(alerts::get)
        }),
        r(Method::POST, "/api/v1/alerts/{id}/judgment", || {
            web::post().to(alerts::judge)
        }),
        r(Method::POST, "/api/v1/alerts/{id}/status", || {
            web::post().to(alerts::set_status)
        }),
        r(Method::GET, "/api/v1/runs", || {
            web::get().to(alerts::list_runs)
        }),
        r(Method::POST, "/api/v1/runs", || {
            web::post().to(alerts::request_run)
        }),
    ]
}

/// Registers the API: every route of [`table`] (grouped per path so a known path with
/// another method answers 405), the `RateLimit-*` headers, and a problem+json 404 for
/// unknown `/api` paths (no session or CSRF layers: cookies play no part here).
pub fn configure(cfg: &mut ServiceConfig) {
    let mut paths: Vec<&'static str> = Vec::new();
    let routes = table();
    for route in &routes {
        if !paths.contains(&route.path) {
            paths.push(route.path);
        }
    }
    let mut scope = web::scope("/api");
    for path in paths {
        let relative = &path["/api".len()..];
        let mut resource = web::resource(relative);
        for route in routes.iter().filter(|r| r.path == path) {
            resource = resource.route((route.route)());
        }
        scope = scope.service(resource);
    }
    cfg.service(
        scope
            .default_service(web::to(crate::web::handlers::home::not_found))
            .wrap(from_fn(rate_limit_headers)),
    );
}

/// Copies the caller's rate-limit state (left in the request by the token extractor)
/// into `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and
/// `RateLimit-Policy` on every answer, errors included.
async fn rate_limit_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let info = res.request().extensions().get::<RateInfo>().copied();
    if let Some(info) = info {
        let headers = res.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        set("ratelimit-limit", format!("{}", auth::BURST as u64));
        set("ratelimit-remaining", info.remaining.to_string());
        set("ratelimit-reset", info.reset_secs.to_string());
        set(
            "ratelimit-policy",
            format!(
                "{};w={}",
                auth::BURST as u64,
                (auth::BURST / auth::PER_SECOND) as u64
            ),
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every route is in the OpenAPI document and every documented operation is a route.
    #[test]
    fn the_document_describes_exactly_the_routes() {
        let routes: BTreeSet<(String, String)> = table()
            .iter()
            .map(|r| (r.method.as_str().to_lowercase(), r.path.to_string()))
            .collect();
        let doc = serde_json::to_value(openapi::document()).expect("document");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
                if item.get(method).is_some() {
                    documented.insert((method.to_string(), path.clone()));
                }
            }
        }
        let missing: Vec<_> = routes.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routes).collect();
        assert!(
            missing.is_empty(),
            "routes not in the document: {missing:?}"
        );
        assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    }
}
