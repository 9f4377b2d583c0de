//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the `ToSchema` types (never written by hand), served at `/api/v1/openapi.json`, and the
//! reference page `/api/docs` rendered from it on the server (no CDN, no script: the CSP
//! stays `self`-only).

use actix_web::HttpResponse;
use askama::Template;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::model;
use crate::web::errors::AppError;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PayerWatch API",
        description = "The portal's second front door: the same tenant, roles and audit as the \
                       pages. Authenticate with a personal token (`Authorization: Bearer pw_…`, \
                       created at /portal/settings/tokens). Lists answer \
                       `{\"items\": [...], \"next\": url|null}` with `limit` (≤ 500) and an opaque \
                       `cursor`; money is integer cents (`*_cents`); dates are ISO 8601 (UTC). \
                       Errors are RFC 9457 `application/problem+json`. Rate limit: 10 requests/s \
                       per token, bursts of 50, one upload in flight per token."
    ),
    paths(
        super::uploads::me,
        super::uploads::list,
        super::uploads::create,
        super::uploads::get,
        super::uploads::delete,
        super::uploads::rejections,
        super::findings::list,
        super::findings::list_alias,
        super::findings::get,
        super::alerts::list,
        super::alerts::get,
        super::alerts::judge,
        super::alerts::set_status,
        super::alerts::list_runs,
        super::alerts::request_run,
        openapi_json,
        docs_page,
    ),
    components(schemas(model::Problem, model::FieldError)),
    modifiers(&Security, &CommonProblems),
    security(("bearer" = [])),
    tags(
        (name = "me", description = "The caller"),
        (name = "uploads", description = "Claims files (CSV or X12 835) and their quality reports"),
        (name = "findings", description = "Drift findings of DriftWatch, DenialScope and DelayGuard"),
        (name = "alerts", description = "Alerts, judgments and status"),
        (name = "runs", description = "Analytics runs"),
        (name = "meta", description = "This document and its reference page"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pw_ personal API token")
                    .build(),
            ),
        );
    }
}

/// The problem answers every authenticated operation may give, added once here rather
/// than on each handler: 400 (bad query parameter), 401, 403, 404, 429, 500, 503.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, doc: &mut Document) {
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let public = !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json";
            for op in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description).into());
                };
                if public {
                    add("500", "Server error (the request id is in `instance`)");
                    continue;
                }
                add(
                    "400",
                    "A malformed query parameter or body; `errors` names each field",
                );
                add(
                    "401",
                    "No token, or not a valid one (`WWW-Authenticate: Bearer`)",
                );
                add("403", "The token's role does not allow this");
                add("404", "No such resource in this tenant");
                add("429", "Rate limited; see `Retry-After`");
                add("500", "Server error (the request id is in `instance`)");
                add("503", "The database is unavailable; retry shortly");
            }
        }
    }
}

/// The document as served.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// This OpenAPI 3.1 document. Public.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", operation_id = "get_openapi",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Result<HttpResponse, AppError> {
    let json = document()
        .to_pretty_json()
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(json))
}

struct Param {
    name: String,
    location: String,
    required: bool,
    description: String,
}

struct Answer {
    status: String,
    description: String,
}

struct Operation {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    public: bool,
    params: Vec<Param>,
    body_types: Vec<String>,
    responses: Vec<Answer>,
}

struct ProblemType {
    status: u16,
    title: &'static str,
    meaning: &'static str,
}

#[derive(Template)]
#[template(path = "api/docs.html")]
struct DocsPage {
    layout: Layout,
    description: String,
    operations: Vec<Operation>,
    problems: Vec<ProblemType>,
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn operations(doc: &serde_json::Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(serde_json::Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let params = op
                .get("parameters")
                .and_then(serde_json::Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| Param {
                            name: text(p, "name"),
                            location: text(p, "in"),
                            required: p
                                .get("required")
                                .and_then(serde_json::Value::as_bool)
                                .unwrap_or(false),
                            description: text(p, "description"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body_types = op
                .pointer("/requestBody/content")
                .and_then(serde_json::Value::as_object)
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default();
            let responses = op
                .get("responses")
                .and_then(serde_json::Value::as_object)
                .map(|rs| {
                    rs.iter()
                        .map(|(status, r)| Answer {
                            status: status.clone(),
                            description: text(r, "description"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let public = op
                .get("security")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|s| {
                    s.iter()
                        .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
                });
            out.push(Operation {
                anchor: text(op, "operationId"),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(op, "summary"),
                description: text(op, "description"),
                public,
                params,
                body_types,
                responses,
            });
        }
    }
    out
}

/// The reference page: every operation of the document with its parameters and answers,
/// and the problem types. Public.
#[utoipa::path(get, path = "/api/docs", tag = "meta", operation_id = "get_api_docs",
    security(()),
    responses((status = 200, description = "The API reference page", content_type = "text/html", body = String)))]
pub async fn docs_page() -> Result<HttpResponse, AppError> {
    let doc =
        serde_json::to_value(document()).map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let description = doc
        .pointer("/info/description")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    let problems = [
        (400, "Bad request", "A query parameter or the body is malformed; `errors` lists each field by name."),
        (401, "Authentication required", "No bearer token, or it is unknown, revoked, expired, or its owner is deactivated."),
        (403, "Forbidden", "The token's role (the owner's role, capped by the token) does not allow this."),
        (404, "Not found", "Nothing at this path in this tenant (other tenants' ids answer 404 too)."),
        (409, "Conflict", "The current state does not allow the change (e.g. an upload with claims, an alert already resolved)."),
        (413, "Payload too large", "The file is over the upload limit."),
        (415, "Unsupported media type", "The body's Content-Type is not accepted by this operation."),
        (422, "Unprocessable", "A field is missing or not acceptable; `errors` names each."),
        (429, "Too many requests", "Rate limited (10/s, bursts of 50, one upload in flight per token); wait `Retry-After` seconds."),
        (500, "Server error", "Logged with the request id given in `instance`."),
        (503, "Unavailable", "The database cannot be reached; retry shortly."),
    ]
    .into_iter()
    .map(|(status, title, meaning)| ProblemType {
        status,
        title,
        meaning,
    })
    .collect();
    render(&DocsPage {
        layout: Layout::public("API reference"),
        description,
        operations: operations(&doc),
        problems,
    })
}
