//! One error type for handlers, mapped to responses in one place: an HTML page for
//! browsers, RFC 9457 `application/problem+json` for `/api`. A 500 never shows
//! internals; it shows the request id so support can find the log line.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::http::request_context;
use super::view::layout::Layout;
use crate::db::DbError;

#[derive(thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Malformed input; the message names the parameter and is safe to show.
    #[error("{0}")]
    BadRequest(String),
    #[error("forbidden")]
    Forbidden,
    /// Not signed in (or the session ended): browsers go to the login page and come
    /// back to `next` afterwards; the API answers 401.
    #[error("sign-in required")]
    LoginRequired { next: String, expired: bool },
    /// A state-changing request without a valid CSRF token or from another origin.
    #[error("request refused: missing or invalid security token")]
    CsrfRejected,
    /// The request conflicts with current state; the message is shown to the user.
    #[error("{0}")]
    Conflict(String),
    /// A link or resource that existed but is no longer usable; the message is shown.
    #[error("{0}")]
    Gone(String),
    #[error("too many attempts")]
    TooManyRequests { retry_after_secs: u64 },
    /// A rate-limited action (not a sign-in): 429 with a message saying when to try again.
    #[error("{message}")]
    SlowDown {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("service unavailable")]
    Unavailable,
    /// API: no bearer token, or one that is not (or no longer) valid. Answers 401 with
    /// `WWW-Authenticate: Bearer`; the detail is safe to show.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Input that is well formed but not acceptable: each bad field by name (never its
    /// value) with what was expected. 422 on the API, 400 page elsewhere.
    #[error("{detail}")]
    Invalid {
        detail: String,
        fields: Vec<FieldProblem>,
    },
    /// Malformed query parameters, each by name (never the value): 400.
    #[error("{detail}")]
    InvalidQuery {
        detail: String,
        fields: Vec<FieldProblem>,
    },
    /// A request body of a type this route does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// API rate limit of a token (not the login throttle).
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// Too many password checks queued (the Argon2 bound): retry shortly.
    #[error("busy")]
    Busy,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// One invalid field of a request: its name and what was expected (never the value).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldProblem {
    pub name: String,
    pub reason: String,
}

impl FieldProblem {
    pub fn new(name: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldProblem {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

impl AppError {
    /// A 400 naming one query parameter and what it expects.
    pub fn bad_param(name: &str, expected: impl Into<String>) -> AppError {
        let reason = format!("expected {}", expected.into());
        AppError::InvalidQuery {
            detail: format!("The parameter '{name}' is not valid: {reason}."),
            fields: vec![FieldProblem::new(name, reason)],
        }
    }

    /// A 422 naming one field.
    pub fn invalid_field(name: &str, reason: impl Into<String>) -> AppError {
        let reason = reason.into();
        AppError::Invalid {
            detail: format!("The field '{name}' is not valid: {reason}."),
            fields: vec![FieldProblem::new(name, reason)],
        }
    }
}

impl From<crate::services::api_tokens::TokenError> for AppError {
    fn from(err: crate::services::api_tokens::TokenError) -> Self {
        use crate::services::api_tokens::TokenError;
        match err {
            TokenError::Invalid { field, message } => AppError::Invalid {
                detail: message.clone(),
                fields: vec![FieldProblem::new(field, message)],
            },
            TokenError::NotYours => AppError::Forbidden,
            TokenError::NoRandomness => AppError::Internal(anyhow::anyhow!("no randomness")),
            TokenError::Db(db) => db.into(),
        }
    }
}

impl From<crate::services::mappings::RemapError> for AppError {
    fn from(err: crate::services::mappings::RemapError) -> Self {
        use crate::services::mappings::RemapError;
        match err {
            RemapError::Db(db) => db.into(),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<crate::services::password_gate::GateError> for AppError {
    fn from(err: crate::services::password_gate::GateError) -> Self {
        use crate::services::password_gate::GateError;
        match err {
            GateError::Busy => AppError::Busy,
            GateError::Cancelled => AppError::Internal(anyhow::Error::new(err)),
        }
    }
}

impl fmt::Debug for AppError {
    /// Walks the `source()` chain so a log line shows the whole cause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => AppError::NotFound,
            DbError::UploadHasClaims { .. } => AppError::Conflict(
                "This upload still has claims, so it cannot be deleted. Its claims feed the \
                 analytics and alerts; nothing was removed."
                    .to_string(),
            ),
            DbError::Duplicate(what) => {
                AppError::Conflict(format!("A record with the same {what} already exists."))
            }
            DbError::Pool(_) | DbError::Connection(_) | DbError::Busy => AppError::Unavailable,
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// Writing a CSV export into memory failed: a bug, never the user's input.
impl From<csv::Error> for AppError {
    fn from(err: csv::Error) -> Self {
        AppError::Internal(anyhow::Error::new(err))
    }
}

struct ErrorCopy {
    heading: &'static str,
    message: String,
    hint: Option<&'static str>,
}

impl AppError {
    fn copy(&self) -> ErrorCopy {
        match self {
            AppError::NotFound => ErrorCopy {
                heading: "Page not found",
                message: "There is nothing at this address, or it belongs to another account."
                    .into(),
                hint: Some("Check the link, or start again from the overview."),
            },
            AppError::BadRequest(msg) => ErrorCopy {
                heading: "The request could not be understood",
                message: msg.clone(),
                hint: Some("Correct the value and try again."),
            },
            AppError::Forbidden => ErrorCopy {
                heading: "You don't have access to this",
                message: "Your role does not allow this action.".into(),
                hint: Some("Ask an administrator of your organisation if you need it."),
            },
            AppError::CsrfRejected => ErrorCopy {
                heading: "This form has expired",
                message:
                    "The request did not carry a valid security token, so nothing was changed."
                        .into(),
                hint: Some("Go back, reload the page and submit the form again."),
            },
            AppError::LoginRequired { .. } => ErrorCopy {
                heading: "Sign-in required",
                message: "Sign in to continue.".into(),
                hint: None,
            },
            AppError::Conflict(msg) => ErrorCopy {
                heading: "That can't be done right now",
                message: msg.clone(),
                hint: None,
            },
            AppError::Gone(msg) => ErrorCopy {
                heading: "This link no longer works",
                message: msg.clone(),
                hint: None,
            },
            AppError::TooManyRequests { retry_after_secs } => ErrorCopy {
                heading: "Too many attempts",
                message: format!(
                    "For your account's safety, further attempts are paused. Try again in {} minute(s).",
                    retry_after_secs.div_ceil(60).max(1)
                ),
                hint: None,
            },
            AppError::SlowDown { message, .. } => ErrorCopy {
                heading: "Please wait a moment",
                message: message.clone(),
                hint: None,
            },
            AppError::PayloadTooLarge(msg) => ErrorCopy {
                heading: "The file is too large",
                message: msg.clone(),
                hint: Some("Split the file into smaller parts and upload them one by one."),
            },
            AppError::Unavailable => ErrorCopy {
                heading: "Temporarily unavailable",
                message: "The service cannot reach its database right now.".into(),
                hint: Some("Please try again in a minute."),
            },
            AppError::Unauthenticated(detail) => ErrorCopy {
                heading: "Authentication required",
                message: (*detail).to_string(),
                hint: None,
            },
            AppError::InvalidQuery { detail, .. } => ErrorCopy {
                heading: "The request could not be understood",
                message: detail.clone(),
                hint: Some("Correct the value and try again."),
            },
            AppError::Invalid { detail, .. } => ErrorCopy {
                heading: "The request could not be processed",
                message: detail.clone(),
                hint: Some("Correct the value and try again."),
            },
            AppError::UnsupportedMediaType(msg) => ErrorCopy {
                heading: "Unsupported media type",
                message: msg.clone(),
                hint: None,
            },
            AppError::RateLimited { retry_after_secs } => ErrorCopy {
                heading: "Too many requests",
                message: format!(
                    "This token sent more requests than its rate limit allows; retry in {retry_after_secs} s."
                ),
                hint: None,
            },
            AppError::Busy => ErrorCopy {
                heading: "Temporarily busy",
                message: "Too many sign-ins are being checked right now.".into(),
                hint: Some("Please try again in a few seconds."),
            },
            AppError::Internal(_) => ErrorCopy {
                heading: "Something went wrong on our side",
                message: "The error has been logged.".into(),
                hint: Some("Please try again; if it keeps happening, contact support."),
            },
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::LoginRequired { .. } | AppError::Unauthenticated(_) => {
                StatusCode::UNAUTHORIZED
            }
            AppError::Invalid { .. } if request_context::current().is_api => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Invalid { .. } | AppError::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::TooManyRequests { .. } | AppError::SlowDown { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?self, status = status.as_u16(), "request failed");
        }
        let ctx = request_context::current();
        if let AppError::LoginRequired { next, expired } = self
            && !ctx.is_api
        {
            return login_redirect_response(next, *expired);
        }
        let copy = self.copy();
        let mut response = if ctx.is_api {
            let fields = match self {
                AppError::Invalid { fields, .. } | AppError::InvalidQuery { fields, .. } => {
                    fields.as_slice()
                }
                _ => &[],
            };
            problem_with_fields(status, copy.heading, &copy.message, &ctx.request_id, fields)
        } else {
            error_page(
                status,
                copy.heading,
                &copy.message,
                copy.hint,
                &ctx.request_id,
            )
        };
        if let AppError::TooManyRequests { retry_after_secs }
        | AppError::SlowDown {
            retry_after_secs, ..
        }
        | AppError::RateLimited { retry_after_secs } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// 303 to the login page, remembering where to come back to.
pub fn login_redirect_response(next: &str, expired: bool) -> HttpResponse {
    let mut location = format!("/login?next={}", url_encode(next));
    if expired {
        location.push_str("&expired=1");
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status_code: u16,
    heading: &'a str,
    message: &'a str,
    hint: Option<&'a str>,
    request_id: Option<&'a str>,
}

/// Renders the HTML error page. The request id is shown for server errors only.
pub fn error_page(
    status: StatusCode,
    heading: &str,
    message: &str,
    hint: Option<&str>,
    request_id: &str,
) -> HttpResponse {
    // A signed-in user keeps the portal frame (sidebar, "Sign out") on an error page.
    let layout = match request_context::current().signed_in {
        Some(frame) => Layout {
            user: Some(frame.user),
            csrf_token: frame.csrf_token,
            ..Layout::public(heading)
        },
        None => Layout::public(heading),
    };
    let page = ErrorPage {
        layout,
        status_code: status.as_u16(),
        heading,
        message,
        hint,
        request_id: (status.is_server_error() && !request_id.is_empty()).then_some(request_id),
    };
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(_) => HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(format!("{} {heading}", status.as_u16())),
    }
}

/// RFC 9457 problem details.
pub fn problem_response(
    status: StatusCode,
    title: &str,
    detail: &str,
    request_id: &str,
) -> HttpResponse {
    problem_with_fields(status, title, detail, request_id, &[])
}

/// The problem type of a status: an anchor of the API reference page, which explains
/// each (`/api/docs#problem-404`).
pub fn problem_type(status: StatusCode) -> String {
    format!("/api/docs#problem-{}", status.as_u16())
}

/// RFC 9457 problem details; `instance` is the request id (also in `X-Request-Id`), and
/// a validation problem lists each bad field by name in `errors`. A 401 carries
/// `WWW-Authenticate: Bearer`.
pub fn problem_with_fields(
    status: StatusCode,
    title: &str,
    detail: &str,
    request_id: &str,
    fields: &[FieldProblem],
) -> HttpResponse {
    let mut body = serde_json::json!({
        "type": problem_type(status),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": format!("urn:request:{request_id}"),
        "request_id": request_id,
    });
    if !fields.is_empty()
        && let Some(map) = body.as_object_mut()
    {
        map.insert("errors".into(), serde_json::json!(fields));
    }
    let mut builder = HttpResponse::build(status);
    builder.content_type("application/problem+json");
    if status == StatusCode::UNAUTHORIZED {
        builder.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"payerwatch\""));
    }
    builder.body(body.to_string())
}
