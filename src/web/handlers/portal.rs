//! The signed-in start page.

use actix_web::HttpResponse;
use askama::Template;

use crate::web::auth::CurrentUser;
use crate::web::errors::AppError;
use crate::web::layout::Layout;
use crate::web::render::render;

#[derive(Template)]
#[template(path = "portal/overview.html")]
struct OverviewPage {
    layout: Layout,
    email: String,
    role: &'static str,
    customer: String,
    is_staff: bool,
}

pub async fn overview(user: CurrentUser) -> Result<HttpResponse, AppError> {
    render(&OverviewPage {
        layout: user.layout("Overview", "/portal"),
        email: user.email.clone(),
        role: user.role.label(),
        customer: user.customer_name.clone(),
        is_staff: user.is_staff,
    })
}
