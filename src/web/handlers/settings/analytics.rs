//! `/portal/settings/analytics`: the tenant's analytics mode (admins switch it) and the
//! report runs, each with how many events the other mode would have raised on the
//! same data.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::analytics::Mode;
use crate::domain::roles::Role;
use crate::services::analytics::{self as service, RunsOverview};
use crate::web::auth::{self, CurrentUser};
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

struct RunRow {
    id: i64,
    product: &'static str,
    status: String,
    started: String,
    as_of: String,
    mode: String,
    claims_covered: String,
    groups: i64,
    insufficient: i64,
    events_created: i64,
    sound: String,
    compat: String,
    error: String,
}

#[derive(Template)]
#[template(path = "settings/analytics.html")]
struct AnalyticsPage {
    layout: Layout,
    mode: String,
    can_change_mode: bool,
    can_run: bool,
    runs: Vec<RunRow>,
    /// The tenant's analytics request in flight (queued or running): the page follows it
    /// (reloading itself every 2 s with the page script; without script, a reload shows
    /// the same) and stops once it is done.
    in_flight: Option<InFlight>,
    /// What the newest finished request found, in words.
    last_result: Option<String>,
}

struct InFlight {
    running: bool,
    /// Products whose run of this request has finished, of [`PRODUCTS`].
    done: usize,
    total: usize,
    done_labels: String,
}

/// The products one analytics request runs.
const PRODUCTS: usize = 3;

fn comparison(json: Option<&str>, key: &str) -> String {
    json.and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .and_then(|v| v.get(key).and_then(serde_json::Value::as_u64))
        .map_or_else(|| "—".to_string(), |n| n.to_string())
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let RunsOverview { mode, runs, open } =
        service::runs_overview(&state.db, user.scope(), 30).await?;
    let in_flight = open
        .iter()
        .find(|j| j.state == "running")
        .or(open.first())
        .map(|job| {
            let finished: Vec<&'static str> = runs
                .iter()
                .filter(|r| r.job_id == Some(job.id) && r.status != "running")
                .map(|r| crate::domain::alerts::source_label(&r.product))
                .collect();
            InFlight {
                running: job.state == "running",
                done: finished.len().min(PRODUCTS),
                total: PRODUCTS,
                done_labels: finished.join(", "),
            }
        });
    // The newest request's runs: how many findings they raised, and whether any failed.
    let last_result = runs.first().filter(|_| in_flight.is_none()).map(|newest| {
        let same: Vec<_> = runs
            .iter()
            .filter(|r| {
                r.job_id == newest.job_id && r.started_at.date() == newest.started_at.date()
            })
            .collect();
        let new_events: i64 = same.iter().map(|r| r.events_created).sum();
        let failed = same.iter().filter(|r| r.status == "failed").count();
        format!(
            "The last run finished {}: {} product{} ran, {new_events} new finding{}{}.",
            newest
                .finished_at
                .unwrap_or(newest.started_at)
                .format("%Y-%m-%d %H:%M UTC"),
            same.len(),
            if same.len() == 1 { "" } else { "s" },
            if new_events == 1 { "" } else { "s" },
            if failed > 0 {
                format!(", {failed} failed (see below)")
            } else {
                String::new()
            }
        )
    });
    let runs = runs
        .iter()
        .map(|r| RunRow {
            id: r.id,
            product: crate::domain::alerts::source_label(&r.product),
            status: r.status.clone(),
            started: r.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            as_of: r.as_of.map_or_else(|| "—".to_string(), |d| d.to_string()),
            mode: r.mode.clone(),
            claims_covered: r.claims_covered.map_or_else(
                || "—".to_string(),
                |n| crate::domain::format::thousands(u64::try_from(n).unwrap_or(0)),
            ),
            groups: r.groups_considered,
            insufficient: r.groups_insufficient,
            events_created: r.events_created,
            sound: comparison(r.comparison_json.as_deref(), "sound"),
            compat: comparison(r.comparison_json.as_deref(), "compat"),
            error: r.error_message.clone().unwrap_or_default(),
        })
        .collect();
    render(&AnalyticsPage {
        layout: user.layout("Analytics", "/portal/settings/analytics"),
        mode,
        can_change_mode: user.role.allows(Role::Admin),
        can_run: user.role.allows(Role::Analyst),
        runs,
        in_flight,
        last_result,
    })
}

#[derive(Debug, Deserialize)]
pub struct AnalyticsForm {
    action: String,
    mode: Option<String>,
}

fn back() -> HttpResponse {
    super::super::see_other("/portal/settings/analytics")
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<AnalyticsForm>,
) -> Result<HttpResponse, AppError> {
    match form.action.as_str() {
        "mode" => {
            if !user.role.allows(Role::Admin) {
                return Err(AppError::Forbidden);
            }
            let mode = form
                .mode
                .as_deref()
                .and_then(|m| m.parse::<Mode>().ok())
                .ok_or_else(|| AppError::BadRequest("mode must be sound or compat".into()))?;
            let (ctx, entry) =
                user.audit(&req, &state, "settings.analytics_mode", &["analytics_mode"]);
            service::set_mode(&state.db, user.scope(), mode, ctx, entry).await?;
            auth::set_flash(
                user.session(),
                "success",
                format!(
                    "Analytics now run in {} mode; the next run uses it.",
                    mode.as_str()
                ),
            );
        }
        "run" => {
            if !user.role.allows(Role::Analyst) {
                return Err(AppError::Forbidden);
            }
            // The same audited request as `POST /api/v1/runs` (docs/decisions.md).
            let (ctx, entry) = user.audit(&req, &state, "analytics.requested", &[]);
            service::request_run(&state.db, user.scope(), ctx, entry).await?;
            auth::set_flash(
                user.session(),
                "info",
                "Analytics requested: they run next. This page follows the run until it finishes.",
            );
        }
        _ => return Err(AppError::BadRequest("action must be mode or run".into())),
    }
    Ok(back())
}
