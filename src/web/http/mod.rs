//! Request plumbing below the handlers: middleware, the client address, the request context.

pub mod client_ip;
pub mod links;
pub mod middleware;
pub mod multipart;
pub mod query;
pub mod request_context;
