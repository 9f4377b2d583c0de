//! `/api/v1/alerts`: list (filters `status`, `severity`, `product`, `payer`), one alert
//! with history, judgments and deliveries, and the analyst's actions (judgment, status)
//! through `services::alerts`. `/api/v1/runs`: analytics runs and run requests.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::{ApiAuthorized, ApiUser};
use super::model::{Alert, JudgmentInput, Run, RunRequest, StatusInput};
use super::paging;
use crate::db::repo::alerts::AlertFilter;
use crate::domain::alerts::Verdict;
use crate::domain::alerts::{AlertStatus, alert_source};
use crate::domain::stats::SeverityLabel;
use crate::services::alerts::{self as service, AlertsError};
use crate::web::auth::Analyst;
use crate::web::errors::AppError;
use crate::web::state::AppState;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the query; `parse_filter` reads it.
pub struct AlertParams {
    /// open, acknowledged, resolved or suppressed (the current status).
    status: Option<String>,
    /// low, medium, high or critical.
    severity: Option<String>,
    /// drift_watch, denial_scope, delay_guard or data_quality.
    product: Option<String>,
    /// The payer's display name.
    payer: Option<String>,
    /// Items per page, 1–500 (default 50).
    limit: Option<i64>,
    /// The opaque cursor of a `next` link.
    cursor: Option<String>,
}

fn text(raw: &HashMap<String, String>, name: &str) -> Option<String> {
    raw.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn parse_filter(raw: &HashMap<String, String>) -> Result<AlertFilter, AppError> {
    let status = match text(raw, "status") {
        None => None,
        Some(s) if s.parse::<AlertStatus>().is_ok() => Some(s),
        Some(_) => {
            return Err(AppError::bad_param(
                "status",
                "open, acknowledged, resolved or suppressed",
            ));
        }
    };
    let severity = text(raw, "severity")
        .map(|s| {
            s.parse::<SeverityLabel>()
                .map(|l| l.as_str().to_string())
                .map_err(|_| AppError::bad_param("severity", "low, medium, high or critical"))
        })
        .transpose()?;
    let product = text(raw, "product")
        .map(|p| {
            alert_source(&p).map(str::to_string).map_err(|_| {
                AppError::bad_param(
                    "product",
                    "drift_watch, denial_scope, delay_guard or data_quality",
                )
            })
        })
        .transpose()?;
    Ok(AlertFilter {
        status,
        severity,
        product,
        payer: text(raw, "payer"),
        ..AlertFilter::default()
    })
}

/// Alerts, newest first, with their current status.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", operation_id = "list_alerts",
    params(AlertParams),
    responses((status = 200, description = "A page of alerts", body = super::model::AlertList)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let filter = parse_filter(&query)?;
    let scope = user.scope();
    paging::keyset_page(
        &req,
        "alerts",
        |after, limit| service::list_after(&state.db, scope, filter, after, limit),
        |a| a.alert.id,
        |a| Alert::from_row(&a),
    )
    .await
}

/// One alert with its status history, judgments and notification deliveries.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", operation_id = "get_alert",
    params(("id" = i64, Path, description = "Alert id")),
    responses(
        (status = 200, description = "The alert", body = Alert,
            headers(("ETag" = String, description = "Send it back in If-None-Match"))),
        (status = 304, description = "Not modified (If-None-Match)"),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let view = alert_view(&state, &user, id.into_inner()).await?;
    paging::single_response(&req, &view)
}

/// Reads a JSON body: 415 for another media type, 400 when it is not JSON of the
/// expected shape (a missing required field is reported by the service as 422).
fn json_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !(essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")) {
        return Err(AppError::UnsupportedMediaType(
            "Send the body as application/json.".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        // The parser's position, never the offending text.
        AppError::BadRequest(format!(
            "The body is not a JSON object of the expected shape (line {}, column {}).",
            e.line(),
            e.column()
        ))
    })
}

#[derive(serde::Deserialize)]
struct LooseJudgment {
    verdict: Option<serde_json::Value>,
    note: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct LooseStatus {
    status: Option<serde_json::Value>,
}

/// A string field, or a 422 naming it.
fn string_field(value: Option<serde_json::Value>, name: &str) -> Result<Option<String>, AppError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AppError::invalid_field(name, "must be a string")),
    }
}

/// Records the caller's judgment (`real`, `noise` — which resolves it — or
/// `needs_follow_up`) with an optional note. Analyst and up.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/judgment", tag = "alerts", operation_id = "judge_alert",
    params(("id" = i64, Path, description = "Alert id")),
    request_body(content = JudgmentInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The alert after the judgment", body = Alert),
        (status = 415, description = "Not JSON", body = super::model::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or not acceptable", body = super::model::Problem, content_type = "application/problem+json"),
    ))]
pub async fn judge(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiAuthorized<Analyst>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input: LooseJudgment = json_body(&req, &body)?;
    let verdict = string_field(input.verdict, "verdict")?;
    let note = string_field(input.note, "note")?;
    let verdict_ok = verdict
        .as_deref()
        .map(str::trim)
        .and_then(Verdict::parse)
        .is_some();
    let (verdict, note) =
        service::check_judgment(verdict.as_deref(), note.as_deref()).map_err(|err| match err {
            // The service's message names the problem; the field is the one that failed.
            AlertsError::Invalid(message) if verdict_ok => AppError::invalid_field("note", message),
            AlertsError::Invalid(message) => AppError::invalid_field("verdict", message),
            AlertsError::Phi => AppError::invalid_field(
                "note",
                "looks like it contains patient information (PHI); nothing was saved",
            ),
            other => alerts_error(other),
        })?;
    let (ctx, entry) = user.audit(&req, &state, "alert.judged", &["verdict", "note"]);
    service::judge(
        &state.db,
        user.scope(),
        id,
        user.user_id.0,
        verdict,
        note,
        ctx,
        entry,
    )
    .await
    .map_err(alerts_error)?;
    alert_after_change(&state, &user, id).await
}

/// Moves the alert to `acknowledged` or `resolved`, or reopens a resolved one (`open`),
/// as the alert page allows. Analyst
/// and up. 409 when the current status does not allow it.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/status", tag = "alerts", operation_id = "set_alert_status",
    params(("id" = i64, Path, description = "Alert id")),
    request_body(content = StatusInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The alert after the change", body = Alert),
        (status = 409, description = "The current status does not allow this change", body = super::model::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = super::model::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or not acceptable", body = super::model::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiAuthorized<Analyst>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input: LooseStatus = json_body(&req, &body)?;
    let status = match string_field(input.status, "status")?.map(|s| s.trim().to_string()) {
        Some(s) if s.parse::<AlertStatus>().is_ok() => s,
        Some(_) => {
            return Err(AppError::invalid_field(
                "status",
                "must be open, acknowledged or resolved",
            ));
        }
        None => return Err(AppError::invalid_field("status", "required")),
    };
    let (ctx, entry) = user.audit(&req, &state, "alert.status_changed", &["status"]);
    service::change_status(
        &state.db,
        user.scope(),
        id,
        user.user_id.0,
        status,
        ctx,
        entry,
    )
    .await
    .map_err(alerts_error)?;
    alert_after_change(&state, &user, id).await
}

/// The service's refusals as API problems.
fn alerts_error(err: AlertsError) -> AppError {
    match err {
        AlertsError::Invalid(message) => AppError::BadRequest(message),
        AlertsError::Phi => AppError::invalid_field(
            "note",
            "looks like it contains patient information (PHI); nothing was saved",
        ),
        AlertsError::PhiComment => AppError::invalid_field(
            "body",
            "looks like it contains patient information (PHI); nothing was saved",
        ),
        AlertsError::Conflict(message) => AppError::Conflict(message),
        AlertsError::Db(e) => e.into(),
    }
}

async fn alert_after_change(
    state: &AppState,
    user: &ApiUser,
    id: i64,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(alert_view(state, user, id).await?))
}

/// Alert `id` with its status history, judgments and notification deliveries.
async fn alert_view(state: &AppState, user: &ApiUser, id: i64) -> Result<Alert, AppError> {
    let record = service::record(&state.db, user.scope(), id).await?;
    Ok(Alert::from_row(&record.alert).with_details(
        record.history,
        record.judgments,
        record.deliveries,
    ))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RunParams {
    /// Items per page, 1–500 (default 50).
    limit: Option<i64>,
    /// The opaque cursor of a `next` link.
    cursor: Option<String>,
}

/// Analytics runs, newest first.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", operation_id = "list_runs",
    params(RunParams),
    responses((status = 200, description = "A page of runs", body = super::model::RunList)))]
pub async fn list_runs(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope();
    paging::keyset_page(
        &req,
        "runs",
        |after, limit| crate::services::analytics::runs_after(&state.db, scope, after, limit),
        |r| r.id,
        |r| Run::from_row(&r),
    )
    .await
}

/// Requests an analytics run of every product. It joins a request already waiting (one
/// run follows the one in progress, never dropped). Analyst and up. No body.
#[utoipa::path(post, path = "/api/v1/runs", tag = "runs", operation_id = "request_run",
    responses((status = 202, description = "Queued (or joined the queued request)", body = RunRequest,
        headers(("Location" = String, description = "Where the runs appear")))))]
pub async fn request_run(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiAuthorized<Analyst>,
) -> Result<HttpResponse, AppError> {
    let (ctx, entry) = user.audit(&req, &state, "analytics.requested", &[]);
    let requested =
        crate::services::analytics::request_run(&state.db, user.scope(), ctx, entry).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, "/api/v1/runs"))
        .json(RunRequest {
            request_id: requested.job_id,
            state: requested.state,
        }))
}
