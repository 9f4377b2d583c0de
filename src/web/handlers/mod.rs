//! Request handlers, one module per feature. Routes are registered in `startup.rs`.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod assets;
pub mod auth;
pub mod findings;
pub mod health;
pub mod home;
pub mod metrics;
pub mod portal;
pub mod settings;
pub mod uploads;

/// A numeric id from a form field, or a 400 naming the field.
pub fn form_id(value: &Option<String>, name: &str) -> Result<i64, crate::web::errors::AppError> {
    value
        .as_deref()
        .unwrap_or("")
        .trim()
        .parse()
        .map_err(|_| crate::web::errors::AppError::BadRequest(format!("{name} must be a number")))
}
