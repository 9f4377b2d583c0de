//! Request handlers, one module per feature. Routes are registered in `startup.rs`.

pub mod assets;
pub mod health;
pub mod home;
pub mod metrics;
