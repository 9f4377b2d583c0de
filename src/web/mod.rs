//! HTTP layer: state, middleware, error mapping, page layout and handlers. Handlers are
//! thin: they parse input, call repositories/services, and render templates.

pub mod audit;
pub mod auth;
pub mod auth_cache;
pub mod chart_cache;
pub mod charts;
pub mod client_ip;
pub mod csrf;
pub mod csv_export;
pub mod errors;
pub mod facet_cache;
pub mod handlers;
pub mod layout;
pub mod middleware;
pub mod rate_limit;
pub mod render;
pub mod request_context;
pub mod session_store;
pub mod state;

pub use errors::AppError;
pub use state::AppState;
