//! HTTP layer: state, middleware, error mapping, page layout and handlers. Handlers are
//! thin: they parse input, call repositories/services, and render templates.

pub mod api;
pub mod audit;
pub mod auth;
pub mod caches;
pub mod errors;
pub mod handlers;
pub mod http;
pub mod state;
pub mod view;

pub use errors::AppError;
pub use state::AppState;
