//! `/api/v1/findings` (alias `/api/v1/drift-events`, SPEC's name) with the drift feed's
//! filters, and one finding with its evidence and the weekly series behind its chart.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::ApiUser;
use super::model::{Finding, SeriesPoint, date};
use super::paging;
use crate::db::repo::analytics::EventFilter;
use crate::domain::analytics::windows::LastDays;
use crate::domain::analytics::{Direction, FindingKind, Product};
use crate::services::findings as service;
use crate::web::errors::AppError;
use crate::web::handlers::findings::view::parse_min_severity;
use crate::web::state::AppState;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the query; `parse_filter` reads it.
pub struct FindingParams {
    /// drift_watch, denial_scope or delay_guard (default: all).
    product: Option<String>,
    /// A finding kind, e.g. denial_rate, decision_time, new_reason, reason_share_spike.
    kind: Option<String>,
    /// The payer's display name.
    payer: Option<String>,
    /// CPT group (DriftWatch) or reason code (DenialScope).
    cpt_group: Option<String>,
    /// worse or better.
    direction: Option<String>,
    /// low, medium, high or critical: that label or a higher one (numbers are refused).
    min_severity: Option<String>,
    /// Findings whose current window's last day is on or after this date (YYYY-MM-DD), as the
    /// portal's feed filter reads it (`current_end` is exclusive: the day after the last day).
    from: Option<String>,
    /// … and on or before this date (the window's last day, inclusive).
    to: Option<String>,
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

fn parse_date(
    raw: &HashMap<String, String>,
    name: &str,
) -> Result<Option<chrono::NaiveDate>, AppError> {
    text(raw, name)
        .map(|v| {
            chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|_| AppError::bad_param(name, "a date as YYYY-MM-DD"))
        })
        .transpose()
}

fn parse_filter(raw: &HashMap<String, String>) -> Result<EventFilter, AppError> {
    let products = match text(raw, "product") {
        None => Vec::new(),
        Some(p) => vec![p.parse::<Product>().map_err(|_| {
            AppError::bad_param("product", "drift_watch, denial_scope or delay_guard")
        })?],
    };
    let kind = text(raw, "kind")
        .map(|k| {
            k.parse::<FindingKind>().map_err(|_| {
                let names: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
                AppError::bad_param("kind", format!("one of {}", names.join(", ")))
            })
        })
        .transpose()?;
    let direction = text(raw, "direction")
        .map(|d| d.parse::<Direction>())
        .transpose()
        .map_err(|_| AppError::bad_param("direction", "worse or better"))?;
    let min_severity = text(raw, "min_severity")
        .map(|v| {
            parse_min_severity(&v)
                .ok_or_else(|| AppError::bad_param("min_severity", "low, medium, high or critical"))
        })
        .transpose()?;
    let last_days = LastDays::new(parse_date(raw, "from")?, parse_date(raw, "to")?)
        .map_err(|_| AppError::bad_param("from", "a date on or before 'to'"))?;
    Ok(EventFilter {
        products,
        payer: text(raw, "payer"),
        cpt_group: text(raw, "cpt_group"),
        kind,
        direction,
        min_severity,
        // The dates name a window's last day, as on the portal's feed.
        last_days,
        newest_first: true,
    })
}

/// Findings, newest first (by id), with the drift feed's filters.
#[utoipa::path(get, path = "/api/v1/findings", tag = "findings", operation_id = "list_findings",
    params(FindingParams),
    responses((status = 200, description = "A page of findings", body = super::model::FindingList)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let filter = parse_filter(&query)?;
    paging::keyset_page(
        &req,
        "findings",
        |after, limit| service::list_after(&state.db, user.scope(), filter, after, limit),
        |e| e.id,
        |e| Finding::from_row(&e),
    )
    .await
}

/// The same list under SPEC's name.
#[utoipa::path(get, path = "/api/v1/drift-events", tag = "findings", operation_id = "list_drift_events",
    params(FindingParams),
    responses((status = 200, description = "A page of findings (alias of /api/v1/findings)", body = super::model::FindingList)))]
pub async fn list_alias(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    list(req, state, user, query).await
}

/// One finding with its evidence and the weekly series behind its chart.
#[utoipa::path(get, path = "/api/v1/findings/{id}", tag = "findings", operation_id = "get_finding",
    params(("id" = i64, Path, description = "Finding id")),
    responses(
        (status = 200, description = "The finding", body = Finding,
            headers(("ETag" = String, description = "Send it back in If-None-Match"))),
        (status = 304, description = "Not modified (If-None-Match)"),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (event, series) = service::one(&state.db, user.scope(), id).await?;
    let mut view = Finding::from_row(&event);
    view.evidence = serde_json::from_str(&event.evidence_json).ok();
    view.series = series.map(|s| {
        s.points
            .iter()
            .map(|p| SeriesPoint {
                week_start: date(p.week_start),
                decided: p.decided,
                denied: p.denied,
                value: p.value,
            })
            .collect()
    });
    paging::single_response(&req, &view)
}
