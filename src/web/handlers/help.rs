//! `/portal/help`: how PayerWatch finds changes, in plain words (issue 17 item 5): the
//! windows, the tests, false-alarm control, severity and money, and the two modes. Linked
//! from every finding card. A static page for every signed-in user.

use actix_web::HttpResponse;
use askama::Template;

use crate::web::auth::CurrentUser;
use crate::web::errors::AppError;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    layout: Layout,
}

pub async fn show(user: CurrentUser) -> Result<HttpResponse, AppError> {
    render(&HelpPage {
        layout: user.layout("Help", "/portal/help"),
    })
}
