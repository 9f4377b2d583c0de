//! HTTP layer: state, middleware, error mapping, page layout and handlers. Handlers are
//! thin: they parse input, call repositories/services, and render templates.

pub mod csv_export;
pub mod errors;
pub mod handlers;
pub mod layout;
pub mod middleware;
pub mod request_context;
pub mod state;

pub use errors::AppError;
pub use state::AppState;
