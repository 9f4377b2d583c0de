//! The signed-in start page.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::web::auth::CurrentUser;
use crate::web::errors::AppError;
use crate::web::layout::Layout;
use crate::web::render::render;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "portal/overview.html")]
struct OverviewPage {
    layout: Layout,
    email: String,
    role: &'static str,
    customer: String,
    is_staff: bool,
    idle: String,
    absolute: String,
    top: Vec<TopFinding>,
}

struct TopFinding {
    product: &'static str,
    href: &'static str,
    subject: String,
    kind: String,
    change: String,
    severity_label: String,
    severity_class: &'static str,
}

/// "30 minutes", "12 hours", "90 seconds": the session limits as configured.
fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub async fn overview(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope();
    let events = state
        .db
        .run(move |conn| crate::db::repo::analytics::top_recent_events(conn, &scope, 5))
        .await?;
    let top = events
        .iter()
        .map(|e| {
            let view = crate::web::handlers::findings::view(e, String::new());
            TopFinding {
                product: crate::reports::product_label(&e.product),
                href: match e.product.as_str() {
                    "denial_scope" => "/portal/denials",
                    "delay_guard" => "/portal/delays",
                    _ => "/portal/drift",
                },
                subject: if e.cpt_group.is_empty() {
                    e.payer.clone()
                } else {
                    format!("{} × {}", e.payer, e.cpt_group)
                },
                kind: view.kind_label,
                change: format!("{} → {} ({})", view.baseline, view.current, view.delta),
                severity_label: view.severity_label,
                severity_class: view.severity_class,
            }
        })
        .collect();
    render(&OverviewPage {
        top,
        idle: human_duration(state.settings.session_idle),
        absolute: human_duration(state.settings.session_absolute),
        layout: user.layout("Overview", "/portal"),
        email: user.email.clone(),
        role: user.role.label(),
        customer: user.customer_name.clone(),
        is_staff: user.is_staff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        use std::time::Duration;
        assert_eq!(human_duration(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(human_duration(Duration::from_secs(43_200)), "12 hours");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 seconds");
    }
}
