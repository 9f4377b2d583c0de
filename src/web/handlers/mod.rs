//! Request handlers, one module per feature. Routes are registered in `startup.rs`.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod assets;
pub mod auth;
pub mod findings;
pub mod health;
pub mod help;
pub mod home;
pub mod metrics;
pub mod payers;
pub mod portal;
pub mod settings;
pub mod uploads;

/// 303 See Other to `location`, the answer to a form post (a reload does not post again).
pub fn see_other(location: impl Into<String>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.into()))
        .finish()
}

/// The tail of a change made from a form (after its audited write): a one-shot message
/// for the next page, then 303 to it.
pub fn flash_then_see_other(
    session: &actix_session::Session,
    kind: &'static str,
    message: impl Into<String>,
    location: impl Into<String>,
) -> actix_web::HttpResponse {
    crate::web::auth::set_flash(session, kind, message);
    see_other(location)
}

/// A numeric id from a form field, or a 400 naming the field.
pub fn form_id(value: &Option<String>, name: &str) -> Result<i64, crate::web::errors::AppError> {
    value
        .as_deref()
        .unwrap_or("")
        .trim()
        .parse()
        .map_err(|_| crate::web::errors::AppError::BadRequest(format!("{name} must be a number")))
}
