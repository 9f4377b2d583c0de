//! Request handlers, one module per feature. Routes are registered in `startup.rs`.

pub mod account;
pub mod admin_metrics;
pub mod alerts;
pub mod analytics_settings;
pub mod assets;
pub mod audit_trail;
pub mod auth;
pub mod channels;
pub mod drift;
pub mod findings;
pub mod health;
pub mod home;
pub mod mappings;
pub mod metrics;
pub mod portal;
pub mod rules;
pub mod uploads;
pub mod users;

/// A numeric id from a form field, or a 400 naming the field.
pub fn form_id(value: &Option<String>, name: &str) -> Result<i64, crate::web::errors::AppError> {
    value
        .as_deref()
        .unwrap_or("")
        .trim()
        .parse()
        .map_err(|_| crate::web::errors::AppError::BadRequest(format!("{name} must be a number")))
}
