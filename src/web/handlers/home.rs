//! The start page and the not-found fallback.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, http::header};

use crate::web::errors::error_page;
use crate::web::http::request_context;

/// `/` sends visitors to the portal; the portal sends unauthenticated visitors to login.
pub async fn root() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/portal"))
        .finish()
}

/// Every unknown path: a 404 page (or problem+json under `/api`).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let ctx = request_context::current();
    if req.path().starts_with("/api/") {
        return crate::web::errors::problem_response(
            StatusCode::NOT_FOUND,
            "Not found",
            "No resource at this path.",
            &ctx.request_id,
        );
    }
    // A signed-in visitor keeps the portal frame on the 404 page (nothing is refused here:
    // without a session the page is the public one).
    let _ = <crate::web::auth::SignedIn as actix_web::FromRequest>::extract(&req).await;
    error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address, or it belongs to another account.",
        Some("Check the link, or start again from the overview."),
        &ctx.request_id,
    )
}
