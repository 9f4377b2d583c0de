//! Alerts: the list (filters status, severity, product, payer), the alert page
//! (evidence, chart, history, judgments, why suppressed), judgments and status changes.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::findings::view::{self as findings, EventView};
use crate::db::repo::alerts::{self as repo, AlertFilter, AlertWithStatus};
use crate::db::repo::analytics;
use crate::db::repo::deliveries;
use crate::domain::alerts::Suppression;
use crate::domain::alerts::{DATA_QUALITY, Verdict, next_statuses};
use crate::domain::analytics::Product;
use crate::domain::roles::Role;
use crate::domain::stats::SeverityLabel;
use crate::services::alerts::{self as service, AlertsError};
use crate::web::auth::{self, CurrentUser};
use crate::web::errors::AppError;
use crate::web::handlers::flash_then_see_other;
use crate::web::http::query::{bad_param as bad, page_number};
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

const PER_PAGE: i64 = 25;
const STATUSES: [&str; 4] = ["open", "acknowledged", "resolved", "suppressed"];

struct AlertRow {
    id: i64,
    title: String,
    product: &'static str,
    severity_label: String,
    severity_class: &'static str,
    status: String,
    created: String,
    /// The newest verdict anyone gave, as people read it ("" when not judged).
    verdict: String,
}

#[derive(Template)]
#[template(path = "alerts/list.html")]
struct AlertsPage {
    layout: Layout,
    alerts: Vec<AlertRow>,
    counts: Vec<(String, i64)>,
    status: String,
    severity: String,
    product: String,
    payer: String,
    query: String,
    page: i64,
    total_pages: i64,
    has_prev: bool,
    has_next: bool,
    can_export: bool,
}

fn pick(
    raw: &HashMap<String, String>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<String>, AppError> {
    match raw.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
        Some(_) => Err(bad(name, &format!("one of {}", allowed.join(", ")))),
    }
}

/// A named value parsed into its domain type and stored by its canonical name.
fn parse_named<T: std::str::FromStr>(
    raw: &HashMap<String, String>,
    name: &str,
    expected: &str,
    as_str: fn(T) -> &'static str,
) -> Result<Option<String>, AppError> {
    match raw.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<T>()
            .map(|t| Some(as_str(t).to_string()))
            .map_err(|_| bad(name, expected)),
    }
}

fn parse_filter(raw: &HashMap<String, String>) -> Result<AlertFilter, AppError> {
    let product = match raw.get("product").map(|v| v.trim()) {
        Some(DATA_QUALITY) => Some(DATA_QUALITY.to_string()),
        _ => parse_named(
            raw,
            "product",
            "one of drift_watch, denial_scope, delay_guard, data_quality",
            Product::as_str,
        )?,
    };
    Ok(AlertFilter {
        status: pick(raw, "status", &STATUSES)?,
        severity: parse_named(
            raw,
            "severity",
            "one of low, medium, high, critical",
            SeverityLabel::as_str,
        )?,
        product,
        payer: raw
            .get("payer")
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
    })
}

/// Columns of `/portal/alerts.csv`.
const CSV_COLUMNS: [&str; 14] = [
    "id",
    "created_at",
    "product",
    "kind",
    "payer",
    "cpt_group",
    "severity",
    "severity_label",
    "status",
    "initial_status",
    "suppressed_because",
    "title",
    "url",
    "dollars_per_month",
];

/// `/portal/alerts.csv` (analysts): every alert matching the list's filters, newest
/// first, formula-injection-safe (SPEC §10).
pub async fn export_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    use crate::web::view::csv_export::{Cell, CsvExport, attachment};
    let filter = parse_filter(&query.into_inner())?;
    let scope = user.scope();
    let (alerts, _) = state
        .db
        .run(move |conn| repo::list_alerts(conn, &scope, &filter, 1, i64::MAX / 2))
        .await?;
    let mut export = CsvExport::new(Vec::new());
    export.header(&CSV_COLUMNS)?;
    for a in &alerts.items {
        let created = a.alert.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let why = a
            .alert
            .suppression_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<Suppression>(j).ok())
            .map(|s| s.explain())
            .unwrap_or_default();
        let url = crate::notify::message::alert_url(&state.settings.public_url, a.alert.id);
        export.row([
            Cell::Int(a.alert.id),
            Cell::Text(&created),
            Cell::Text(&a.alert.product),
            Cell::Text(&a.alert.kind),
            Cell::Text(&a.alert.payer),
            Cell::Text(&a.alert.cpt_group),
            Cell::Float(a.alert.severity),
            Cell::Text(&a.alert.severity_label),
            Cell::Text(&a.status),
            Cell::Text(&a.alert.initial_status),
            Cell::Text(&why),
            Cell::Text(&a.alert.title),
            Cell::Text(&url),
            // From the alert's evidence (alerts raised before money existed have none).
            serde_json::from_str::<serde_json::Value>(&a.alert.payload_json)
                .ok()
                .and_then(|v| {
                    v.get("dollars_per_month")
                        .and_then(serde_json::Value::as_f64)
                })
                .map_or(Cell::Empty, |d| Cell::Float(d.round())),
        ])?;
    }
    let body = export
        .finish()
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let (ctx, entry) = user.audit(&req, &state, "export.alerts_csv", &[]);
    state.db.write_audit(ctx, entry).await?;
    Ok(attachment("alerts.csv").body(body))
}

fn row(a: &AlertWithStatus) -> AlertRow {
    AlertRow {
        id: a.alert.id,
        title: a.alert.title.clone(),
        product: crate::domain::alerts::source_label(&a.alert.product),
        severity_label: a.alert.severity_label.clone(),
        severity_class: findings::severity_class(&a.alert.severity_label),
        status: a.status.clone(),
        created: a.alert.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        verdict: String::new(),
    }
}

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let raw = query.into_inner();
    let filter = parse_filter(&raw)?;
    let page = page_number(raw.get("page").map(String::as_str))?;
    let scope = user.scope();
    let f = filter.clone();
    let (alerts, counts, verdicts) = state
        .db
        .run(move |conn| {
            let (alerts, counts) = repo::list_alerts(conn, &scope, &f, page, PER_PAGE)?;
            let ids: Vec<i64> = alerts.items.iter().map(|a| a.alert.id).collect();
            let verdicts = repo::latest_verdicts(conn, &scope, &ids)?;
            Ok((alerts, counts, verdicts))
        })
        .await?;
    let mut pairs: Vec<String> = Vec::new();
    for (k, v) in [
        ("status", &filter.status),
        ("severity", &filter.severity),
        ("product", &filter.product),
        ("payer", &filter.payer),
    ] {
        if let Some(v) = v {
            pairs.push(format!("{k}={}", crate::web::errors::url_encode(v)));
        }
    }
    render(&AlertsPage {
        layout: user.layout("Alerts", "/portal/alerts"),
        alerts: alerts
            .items
            .iter()
            .map(|a| AlertRow {
                verdict: verdicts
                    .get(&a.alert.id)
                    .map(|v| Verdict::label_of(v))
                    .unwrap_or_default(),
                ..row(a)
            })
            .collect(),
        counts,
        status: filter.status.unwrap_or_default(),
        severity: filter.severity.unwrap_or_default(),
        product: filter.product.unwrap_or_default(),
        payer: filter.payer.unwrap_or_default(),
        query: pairs.join("&"),
        page: alerts.page,
        total_pages: alerts.total_pages(),
        has_prev: alerts.has_prev(),
        has_next: alerts.has_next(),
        can_export: user.role.allows(Role::Analyst),
    })
}

struct HistoryView {
    status: String,
    actor: String,
    when: String,
}

struct JudgmentView {
    email: String,
    verdict: String,
    note: String,
    when: String,
}

#[derive(Template)]
#[template(path = "alerts/detail.html")]
struct AlertPage {
    layout: Layout,
    alert: AlertRow,
    finding: Option<EventView>,
    quality: Option<QualityView>,
    deliveries: Vec<super::settings::channels::DeliveryView>,
    is_admin: bool,
    why_suppressed: Option<String>,
    history: Vec<HistoryView>,
    judgments: Vec<JudgmentView>,
    /// This user's earlier verdict, shown as text: the form itself presets none.
    my_verdict: String,
    verdicts: [(&'static str, &'static str); 3],
    my_note: String,
    can_act: bool,
    next_statuses: Vec<&'static str>,
}

/// The evidence of a data-quality alert: the upload and its score.
struct QualityView {
    upload_id: i64,
    file_name: String,
    score: String,
    total_rows: i64,
    rejected_rows: i64,
}

fn quality_view(a: &AlertWithStatus) -> Option<QualityView> {
    let upload_id = a.alert.upload_id?;
    let v: serde_json::Value = serde_json::from_str(&a.alert.payload_json).ok()?;
    Some(QualityView {
        upload_id,
        file_name: v["file_name"].as_str().unwrap_or_default().to_string(),
        score: v["quality_score"]
            .as_f64()
            .map(|s| format!("{s:.2}"))
            .unwrap_or_default(),
        total_rows: v["total_rows"].as_i64().unwrap_or(0),
        rejected_rows: v["rejected_rows"].as_i64().unwrap_or(0),
    })
}

pub async fn detail(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let scope = user.scope();
    let (alert, finding, history, judgments, deliveries) = state
        .db
        .run(move |conn| {
            let alert = repo::find_alert(conn, &scope, id)?;
            let finding = match alert.alert.drift_event_id {
                Some(event_id) => {
                    let event = analytics::find_event(conn, &scope, event_id)?;
                    let daily = analytics::daily_series(
                        conn,
                        &scope,
                        std::slice::from_ref(&event.payer),
                        event.current_end - chrono::Duration::weeks(findings::CHART_WEEKS),
                        event.current_end,
                    )?;
                    Some(findings::view(&event, findings::chart_for(&event, &daily)))
                }
                None => None,
            };
            let history = repo::history(conn, &scope, id)?;
            let judgments = repo::judgments(conn, &scope, id)?;
            let deliveries = deliveries::for_alert(conn, &scope, id)?;
            Ok((alert, finding, history, judgments, deliveries))
        })
        .await?;
    let why_suppressed = alert
        .alert
        .suppression_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Suppression>(j).ok())
        .map(|s| s.explain());
    let mine = judgments.iter().find(|j| j.user_id == user.id.0);
    render(&AlertPage {
        layout: user.layout(alert.alert.title.clone(), "/portal/alerts"),
        finding,
        quality: quality_view(&alert),
        deliveries: deliveries
            .iter()
            .map(super::settings::channels::delivery_view)
            .collect(),
        is_admin: user.role.allows(Role::Admin),
        why_suppressed,
        history: history
            .into_iter()
            .map(|h| HistoryView {
                status: h.status,
                actor: h.actor_email.unwrap_or_else(|| "PayerWatch".to_string()),
                when: h.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
        my_verdict: mine
            .map(|j| Verdict::label_of(&j.verdict))
            .unwrap_or_default(),
        verdicts: Verdict::ALL.map(|v| (v.as_str(), v.label())),
        my_note: mine.and_then(|j| j.note.clone()).unwrap_or_default(),
        judgments: judgments
            .iter()
            .map(|j| JudgmentView {
                email: j.email.clone(),
                verdict: Verdict::label_of(&j.verdict),
                note: j.note.clone().unwrap_or_default(),
                when: j.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
        can_act: user.role.allows(Role::Analyst),
        next_statuses: next_statuses(&alert.status),
        alert: row(&alert),
    })
}

#[derive(Debug, Deserialize)]
pub struct JudgmentForm {
    /// Required; optional here so a missing one gets our message, not the extractor's.
    verdict: Option<String>,
    note: Option<String>,
}

fn back_to(id: i64) -> String {
    format!("/portal/alerts/{id}")
}

/// Service errors as responses; a PHI refusal goes back to the page with the message
/// (never echoing the note).
fn alerts_error(
    err: AlertsError,
    session: &actix_session::Session,
    id: i64,
) -> Result<HttpResponse, AppError> {
    match err {
        AlertsError::Phi => Ok(flash_then_see_other(
            session,
            "error",
            err.to_string(),
            back_to(id),
        )),
        AlertsError::Invalid(message) => Err(AppError::BadRequest(message)),
        AlertsError::Conflict(message) => Err(AppError::Conflict(message)),
        AlertsError::Db(e) => Err(e.into()),
    }
}

pub async fn judge(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    id: web::Path<i64>,
    form: web::Form<JudgmentForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let form = form.into_inner();
    let (verdict, note) =
        match service::check_judgment(form.verdict.as_deref(), form.note.as_deref()) {
            Ok(checked) => checked,
            Err(e) => return alerts_error(e, user.session(), id),
        };
    let (ctx, entry) = user.audit(&req, &state, "alert.judged", &["verdict", "note"]);
    match service::judge(
        &state.db,
        user.scope(),
        id,
        user.id.0,
        verdict,
        note,
        ctx,
        entry,
    )
    .await
    {
        Ok(judged) => Ok(flash_then_see_other(
            user.session(),
            "success",
            if judged.resolved {
                "Your judgment was saved. Judged noise, so the alert is now resolved (reopen it if that was wrong)."
            } else {
                "Your judgment was saved."
            },
            back_to(id),
        )),
        Err(e) => alerts_error(e, user.session(), id),
    }
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    status: String,
}

pub async fn change_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    id: web::Path<i64>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let wanted = form.into_inner().status;
    let (ctx, entry) = user.audit(&req, &state, "alert.status_changed", &["status"]);
    let message = format!("The alert is now {wanted}.");
    match service::change_status(&state.db, user.scope(), id, user.id.0, wanted, ctx, entry).await {
        Ok(()) => Ok(flash_then_see_other(
            user.session(),
            "success",
            message,
            back_to(id),
        )),
        Err(e) => alerts_error(e, user.session(), id),
    }
}
