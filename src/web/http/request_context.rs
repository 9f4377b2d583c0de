//! Per-request facts that error rendering needs but cannot get from its arguments
//! (`ResponseError::error_response` has no request): the request id and whether the
//! client is the JSON API. Set by the telemetry middleware for the request's task.

use std::cell::RefCell;

#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub is_api: bool,
    /// The signed-in user's page frame, once the request authenticated: an error page of
    /// that request keeps the portal's sidebar and "Sign out" (issue 19 item 6).
    pub signed_in: Option<SignedInFrame>,
}

#[derive(Debug, Clone)]
pub struct SignedInFrame {
    pub user: crate::web::view::layout::LayoutUser,
    pub csrf_token: String,
}

/// Remembers who is signed in for the rest of this request (a no-op outside a request).
pub fn remember_signed_in(frame: SignedInFrame) {
    let _ = CONTEXT.try_with(|c| c.borrow_mut().signed_in = Some(frame));
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
