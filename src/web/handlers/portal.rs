//! The signed-in start page.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::domain::analytics::Product;
use crate::web::auth::SignedIn;
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

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
    uploads: Vec<UploadLine>,
    upload_total: i64,
    latest_score: Option<String>,
    quality_warning: bool,
    open_alerts: Vec<AlertLine>,
    open_total: i64,
}

struct UploadLine {
    id: i64,
    file_name: String,
    status: String,
    when: String,
    score: String,
}

struct AlertLine {
    id: i64,
    title: String,
    severity_label: String,
    severity_class: &'static str,
}

struct TopFinding {
    /// The products that saw this change ("DriftWatch + DelayGuard").
    product: String,
    /// Money at stake per month, as `$12,345 a month`.
    money: String,
    href: &'static str,
    /// The lead finding: its claims are the drill-down.
    id: i64,
    payer: String,
    /// What follows the payer's name: its group or groups.
    groups: String,
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
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, AppError> {
    // Staff hold no tenant data; their front page is the service-wide dashboard.
    if user.is_staff {
        return Ok(HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, "/portal/admin/metrics"))
            .finish());
    }
    let crate::services::portal::Overview {
        top: events,
        uploads,
        open_alerts: alerts,
    } = crate::services::portal::overview(&state.db, user.scope(), 5).await?;
    let score = |centi: Option<i64>| centi.map(|c| format!("{:.2}", c as f64 / 100.0));
    let latest = uploads
        .items
        .iter()
        .find(|u| u.quality_score_centi.is_some());
    let top = events
        .iter()
        .map(|change| {
            let e = &change.lead;
            let view = crate::web::handlers::findings::view::view(e, String::new());
            TopFinding {
                product: std::iter::once(&e.product)
                    .chain(&change.also)
                    .map(|p| crate::domain::alerts::source_label(p))
                    .collect::<Vec<_>>()
                    .join(" + "),
                href: product_page(&e.product),
                id: e.id,
                payer: e.payer.clone(),
                groups: match change.groups.as_slice() {
                    [] => String::new(),
                    [one] => format!(" × {one}"),
                    many => format!(" ({})", many.join(", ")),
                },
                // In the card's words ("… a month more denied", "… of payments held up").
                money: if e.dollars_per_month.is_some() {
                    view.money.clone()
                } else {
                    "—".to_string()
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
        latest_score: latest.and_then(|u| score(u.quality_score_centi)),
        quality_warning: latest
            .and_then(|u| u.quality_score_centi)
            .is_some_and(|c| c < 9_000),
        upload_total: uploads.total,
        uploads: uploads
            .items
            .iter()
            .map(|u| UploadLine {
                id: u.id,
                file_name: u.file_name.clone(),
                status: u.status.clone(),
                when: u.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                score: score(u.quality_score_centi).unwrap_or_else(|| "—".to_string()),
            })
            .collect(),
        open_total: alerts.total,
        open_alerts: alerts
            .items
            .iter()
            .map(|a| AlertLine {
                id: a.alert.id,
                title: a.alert.title.clone(),
                severity_label: a.alert.severity_label.clone(),
                severity_class: crate::web::handlers::findings::view::severity_class(
                    &a.alert.severity_label,
                ),
            })
            .collect(),
        idle: human_duration(state.settings.session_idle),
        absolute: human_duration(state.settings.session_absolute),
        layout: user.layout("Overview", "/portal"),
        email: user.email.clone(),
        role: user.role.label(),
        customer: user.customer_name.clone(),
        is_staff: user.is_staff,
    })
}

/// The findings page of a product (its stored name).
pub(crate) fn product_page(product: &str) -> &'static str {
    match product.parse::<Product>() {
        Ok(Product::DenialScope) => "/portal/denials",
        Ok(Product::DelayGuard) => "/portal/delays",
        Ok(Product::DriftWatch) | Err(_) => "/portal/drift",
    }
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
