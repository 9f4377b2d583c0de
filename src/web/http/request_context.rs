//! Per-request facts that error rendering needs but cannot get from its arguments
//! (`ResponseError::error_response` has no request): the request id and whether the
//! client is the JSON API. Set by the telemetry middleware for the request's task.

use std::cell::RefCell;

#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub is_api: bool,
}

tokio::task_local! {
    static CONTEXT: RefCell<RequestContext>;
}

/// Runs `fut` with `ctx` available to [`current`].
pub async fn scope<F: std::future::Future>(ctx: RequestContext, fut: F) -> F::Output {
    CONTEXT.scope(RefCell::new(ctx), fut).await
}

/// The context of the request being handled, or a default outside any request.
pub fn current() -> RequestContext {
    CONTEXT.try_with(|c| c.borrow().clone()).unwrap_or_default()
}
