//! Alerts: the list (filters status, severity, product, payer), the alert page
//! (evidence, chart, history, judgments, why suppressed), judgments and status changes.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::findings::view::{self as findings, EventView, FilterError};
use crate::db::repo::alerts::{self as repo, AlertFilter, AlertWithStatus};
use crate::db::repo::saved_filters::SavedFilter;
use crate::domain::alert_work::{AlertSort, AssigneeFilter, BulkAction, NOT_JUDGED};
use crate::domain::alerts::Suppression;
use crate::domain::alerts::{AlertStatus, Verdict, alert_source, next_statuses};
use crate::domain::roles::Role;
use crate::domain::stats::SeverityLabel;
use crate::services::alerts::{self as service, AlertsError};
use crate::services::saved_filters::{self, SavedFiltersError};
use crate::web::auth::{self, CurrentUser};
use crate::web::errors::AppError;
use crate::web::handlers::flash_then_see_other;
use crate::web::http::query::page_number;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::{render, render_with_status};

const PER_PAGE: i64 = 25;

struct AlertRow {
    id: i64,
    title: String,
    /// The canonical payer ("" for data-quality alerts): links its scorecard.
    payer: String,
    product: &'static str,
    severity_label: String,
    severity_class: &'static str,
    status: String,
    created: String,
    /// The newest verdict anyone gave, as people read it ("" when not judged).
    verdict: String,
    /// Who works it ("" = nobody) and by when ("" = no date).
    assignee: String,
    due: String,
    overdue: bool,
    /// Dollars per month at stake, for people ("" when the alert has no money).
    money: String,
}

/// An alert-list page as kept between requests (`web::caches::pages`): the tenant's
/// alerts for one filter and page; the form, the person's saved filters and what their
/// role may do are per request.
pub struct AlertListData {
    alerts: Vec<AlertRow>,
    counts: Vec<(String, i64)>,
    members: Vec<(i64, String)>,
    page: i64,
    total_pages: i64,
    has_prev: bool,
    has_next: bool,
}

#[derive(Template)]
#[template(path = "alerts/list.html")]
struct AlertsPage {
    layout: Layout,
    /// The template reads the cached fields through `Deref`.
    data: Arc<AlertListData>,
    status: String,
    severity: String,
    product: String,
    payer: String,
    verdict: String,
    assignee: String,
    sort: &'static str,
    sorts: Vec<(&'static str, &'static str)>,
    verdicts: [(&'static str, &'static str); 3],
    saved: Arc<Vec<SavedFilter>>,
    query: String,
    can_export: bool,
    can_act: bool,
    /// A refused filter: which field, and the sentence shown beside it (status 400).
    invalid: Option<FilterError>,
}

impl std::ops::Deref for AlertsPage {
    type Target = AlertListData;
    fn deref(&self) -> &AlertListData {
        &self.data
    }
}

impl AlertsPage {
    /// The message to show beside `field`, if the refused filter is that field.
    fn error_for(&self, field: &str) -> Option<&str> {
        FilterError::beside(self.invalid.as_ref(), field)
    }
}

fn pick(
    raw: &HashMap<String, String>,
    name: &'static str,
    allowed: &[&str],
) -> Result<Option<String>, FilterError> {
    match raw.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
        Some(_) => Err(FilterError::bad(
            name,
            &format!("one of {}", allowed.join(", ")),
        )),
    }
}

/// A named value parsed into its domain type and stored by its canonical name.
fn parse_named<T: std::str::FromStr>(
    raw: &HashMap<String, String>,
    name: &'static str,
    expected: &str,
    as_str: fn(T) -> &'static str,
) -> Result<Option<String>, FilterError> {
    match raw.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<T>()
            .map(|t| Some(as_str(t).to_string()))
            .map_err(|_| FilterError::bad(name, expected)),
    }
}

/// `assignee`: `me` (the signed-in person), `none` (nobody) or a member's id.
fn parse_assignee(
    raw: &HashMap<String, String>,
    me: i64,
) -> Result<Option<AssigneeFilter>, FilterError> {
    match raw
        .get("assignee")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Ok(None),
        Some("me") => Ok(Some(AssigneeFilter::User(me))),
        Some("none") => Ok(Some(AssigneeFilter::Unassigned)),
        Some(v) => v
            .parse::<i64>()
            .map(|id| Some(AssigneeFilter::User(id)))
            .map_err(|_| FilterError::bad("assignee", "me, none or a member")),
    }
}

fn parse_filter(raw: &HashMap<String, String>, me: i64) -> Result<AlertFilter, FilterError> {
    let product = match raw
        .get("product")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(p) => Some(alert_source(p).map(str::to_string).map_err(|_| {
            FilterError::bad(
                "product",
                "one of drift_watch, denial_scope, delay_guard, data_quality",
            )
        })?),
    };
    Ok(AlertFilter {
        status: pick(raw, "status", &AlertStatus::NAMES)?,
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
        verdict: pick(
            raw,
            "verdict",
            &["real", "noise", "needs_follow_up", NOT_JUDGED],
        )?,
        assignee: parse_assignee(raw, me)?,
        sort: match raw.get("sort").map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => AlertSort::default(),
            Some(v) => AlertSort::parse(v).ok_or_else(|| {
                FilterError::bad("sort", "one of newest, oldest, money, severity, due")
            })?,
        },
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

/// Alerts exported per batch of this many rows.
const EXPORT_BATCH: i64 = 1_000;

/// `/portal/alerts.csv` (analysts): every alert matching the list's filters, newest
/// first, formula-injection-safe (SPEC §10). Streamed: each chunk is one keyset batch
/// read from SQL, so the export never holds a tenant's alerts in memory (issue 16 row 10).
pub async fn export_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    use crate::web::view::csv_export::{attachment, stream_keyset};
    let filter = std::sync::Arc::new(parse_filter(&query.into_inner(), user.id.0)?);
    let scope = user.scope();
    let (ctx, entry) = user.audit(&req, &state, "export.alerts_csv", &[]);
    service::start_export(&state.db, ctx, entry).await?;
    let db = state.db.clone();
    // SPEC §6 Links: PAYERWATCH_PUBLIC_URL, else (development) the address the request
    // came to, so the links work from wherever the file was downloaded.
    let public_url = crate::web::http::links::base(&req, &state.settings);
    let body = stream_keyset(
        &CSV_COLUMNS,
        EXPORT_BATCH,
        move |before| {
            let (db, filter) = (db.clone(), filter.clone());
            async move { service::export_batch(&db, scope, filter, before, EXPORT_BATCH).await }
        },
        |a: &AlertWithStatus| (a.alert.created_at, a.alert.id),
        move |export, a| csv_row(export, a, &public_url),
    );
    Ok(attachment("alerts.csv").streaming(body))
}

/// One alert as a row of `alerts.csv` (`CSV_COLUMNS`).
fn csv_row(
    export: &mut crate::web::view::csv_export::CsvExport<Vec<u8>>,
    a: &AlertWithStatus,
    public_url: &str,
) -> csv::Result<()> {
    use crate::web::view::csv_export::Cell;
    let created = a.alert.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let why = a
        .alert
        .suppression_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Suppression>(j).ok())
        .map(|s| s.explain())
        .unwrap_or_default();
    let url = crate::notify::message::alert_url(public_url, a.alert.id);
    export.row([
        Cell::Int(a.alert.id),
        Cell::Text(&created),
        Cell::Text(&a.alert.product),
        Cell::Text(&a.alert.kind),
        Cell::Text(&a.alert.payer),
        Cell::Text(&a.alert.cpt_group),
        Cell::Float(crate::domain::format::round_to(a.alert.severity, 2)),
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
    ])
}

fn row(a: &AlertWithStatus) -> AlertRow {
    AlertRow {
        id: a.alert.id,
        title: a.alert.title.clone(),
        payer: a.alert.payer.clone(),
        product: crate::domain::alerts::source_label(&a.alert.product),
        severity_label: a.alert.severity_label.clone(),
        severity_class: findings::severity_class(&a.alert.severity_label),
        status: a.status.clone(),
        created: a.alert.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        verdict: String::new(),
        assignee: String::new(),
        due: String::new(),
        overdue: false,
        money: serde_json::from_str::<serde_json::Value>(&a.alert.payload_json)
            .ok()
            .and_then(|v| {
                v.get("dollars_per_month")
                    .and_then(serde_json::Value::as_f64)
            })
            .map(|d| format!("{}/mo", crate::domain::format::dollars(d)))
            .unwrap_or_default(),
    }
}

/// Fills a row's assignee and due date from the alert's working state.
fn with_work(
    mut row: AlertRow,
    work: Option<&repo::AlertWork>,
    members: &[(i64, String)],
    today: chrono::NaiveDate,
) -> AlertRow {
    if let Some(work) = work {
        row.assignee = work
            .assignee_user_id
            .map(|id| {
                members
                    .iter()
                    .find(|(m, _)| *m == id)
                    .map_or_else(|| format!("member #{id}"), |(_, e)| e.clone())
            })
            .unwrap_or_default();
        if let Some(due) = work.due_on {
            row.due = due.format("%Y-%m-%d").to_string();
            row.overdue = due < today && !matches!(row.status.as_str(), "resolved" | "suppressed");
        }
    }
    row
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let raw = query.into_inner();
    // SPEC §10 (as the drift feed): a refused filter answers 400 on the list itself, the
    // form keeping every other filter as typed and the message beside the field; no
    // alerts are listed until it is fixed.
    let parsed = parse_filter(&raw, user.id.0).and_then(|f| {
        page_number(raw.get("page").map(String::as_str))
            .map(|page| (f, page))
            .map_err(|_| FilterError::bad("page", "a page number from 1"))
    });
    let (filter, page, invalid) = match parsed {
        Ok((filter, page)) => (filter, page, None),
        Err(e) => (kept_filter(&raw), 1, Some(e)),
    };
    let (data, saved) = service::list_page(
        &state.db,
        user.scope(),
        user.id.0,
        invalid.is_none().then(|| filter.clone()),
        page,
        PER_PAGE,
        service::ListCaches {
            pages: state.page_caches.alert_lists.clone(),
            saved: state.page_caches.saved_filters.clone(),
            present: present_list,
        },
    )
    .await?;
    let status = if invalid.is_some() {
        actix_web::http::StatusCode::BAD_REQUEST
    } else {
        actix_web::http::StatusCode::OK
    };
    render_with_status(
        status,
        &AlertsPage {
            layout: user.layout("Alerts", "/portal/alerts"),
            data,
            status: filter.status.unwrap_or_default(),
            severity: filter.severity.unwrap_or_default(),
            product: filter.product.unwrap_or_default(),
            payer: filter.payer.unwrap_or_default(),
            verdict: filter.verdict.unwrap_or_default(),
            assignee: raw
                .get("assignee")
                .map(|v| v.trim().to_string())
                .unwrap_or_default(),
            sort: filter.sort.as_str(),
            sorts: AlertSort::ALL
                .iter()
                .map(|s| (s.as_str(), s.label()))
                .collect(),
            verdicts: Verdict::ALL.map(|v| (v.as_str(), v.label())),
            saved,
            // A refused query is neither saved, exported nor paged.
            query: if invalid.is_some() {
                String::new()
            } else {
                saved_filters::alert_query(req.query_string())
            },
            can_export: user.role.allows(Role::Analyst),
            can_act: user.role.allows(Role::Analyst),
            invalid,
        },
    )
}

/// A page of the list as it shows it on `today` (formatted once per alert version and
/// day, then cached).
pub fn present_list(list: service::AlertListPage, today: chrono::NaiveDate) -> AlertListData {
    let service::AlertListPage {
        alerts,
        counts,
        verdicts,
        work,
        members,
    } = list;
    AlertListData {
        alerts: alerts
            .items
            .iter()
            .map(|a| {
                let r = AlertRow {
                    verdict: verdicts
                        .get(&a.alert.id)
                        .map(|v| Verdict::label_of(v))
                        .unwrap_or_default(),
                    ..row(a)
                };
                with_work(r, work.get(&a.alert.id), &members, today)
            })
            .collect(),
        counts,
        page: alerts.page,
        total_pages: alerts.total_pages(),
        has_prev: alerts.has_prev(),
        has_next: alerts.has_next(),
        members,
    }
}

/// The list's filters as typed, for re-showing the form beside a refused one: every
/// value kept (a refused select value simply matches no option), the sort when valid.
fn kept_filter(raw: &HashMap<String, String>) -> AlertFilter {
    let text = |name: &str| {
        raw.get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    AlertFilter {
        status: text("status"),
        severity: text("severity"),
        product: text("product"),
        payer: text("payer"),
        verdict: text("verdict"),
        assignee: None,
        sort: text("sort")
            .and_then(|s| AlertSort::parse(&s))
            .unwrap_or_default(),
    }
}

struct HistoryView {
    status: String,
    actor: String,
    when: String,
}

struct JudgmentView {
    user_id: i64,
    email: String,
    verdict: String,
    note: String,
    when: String,
}

/// An alert's page as kept between requests (`web::caches::pages`): everything but its
/// deliveries (read per request) and what depends on who asks (their verdict, their role).
pub struct AlertPageData {
    alert: AlertRow,
    finding: Option<EventView>,
    quality: Option<QualityView>,
    why_suppressed: Option<String>,
    history: Vec<HistoryView>,
    judgments: Vec<JudgmentView>,
    next_statuses: Vec<&'static str>,
    /// The assignee's id as the form's value ("" = nobody) and the due date.
    assignee_id: String,
    due_on: String,
    members: Vec<(i64, String)>,
    comments: Vec<CommentView>,
}

#[derive(Template)]
#[template(path = "alerts/detail.html")]
struct AlertPage {
    layout: Layout,
    /// The template reads the cached fields through `Deref`.
    data: Arc<AlertPageData>,
    deliveries: Vec<super::settings::channels::DeliveryView>,
    is_admin: bool,
    /// This user's earlier verdict, shown as text: the form itself presets none.
    my_verdict: String,
    verdicts: [(&'static str, &'static str); 3],
    my_note: String,
    can_act: bool,
}

impl std::ops::Deref for AlertPage {
    type Target = AlertPageData;
    fn deref(&self) -> &AlertPageData {
        &self.data
    }
}

struct CommentView {
    author: String,
    when: String,
    body: String,
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
    let (data, deliveries) = service::detail(
        &state.db,
        user.scope(),
        id.into_inner(),
        state.chart_cache.clone(),
        state.page_caches.alert_pages.clone(),
        present_detail,
    )
    .await?;
    let mine = data.judgments.iter().find(|j| j.user_id == user.id.0);
    let (my_verdict, my_note) = mine
        .map(|j| (j.verdict.clone(), j.note.clone()))
        .unwrap_or_default();
    render(&AlertPage {
        layout: user.layout(data.alert.title.clone(), "/portal/alerts"),
        deliveries: deliveries
            .iter()
            .map(super::settings::channels::delivery_view)
            .collect(),
        is_admin: user.role.allows(Role::Admin),
        my_verdict,
        verdicts: Verdict::ALL.map(|v| (v.as_str(), v.label())),
        my_note,
        can_act: user.role.allows(Role::Analyst),
        data,
    })
}

/// An alert's page as it shows it on `today` (formatted once per version and day, then
/// cached).
pub fn present_detail(detail: service::AlertDetail, today: chrono::NaiveDate) -> AlertPageData {
    let service::AlertDetail {
        record:
            service::AlertRecord {
                alert,
                history,
                judgments,
                deliveries: _,
            },
        finding,
        work,
        comments,
        members,
    } = detail;
    let finding = finding.map(|(event, svg)| findings::view(&event, svg));
    let why_suppressed = alert
        .alert
        .suppression_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Suppression>(j).ok())
        .map(|s| s.explain());
    AlertPageData {
        finding,
        quality: quality_view(&alert),
        why_suppressed,
        history: history
            .into_iter()
            .map(|h| HistoryView {
                status: h.status,
                actor: h.actor_email.unwrap_or_else(|| "PayerWatch".to_string()),
                when: h.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
        judgments: judgments
            .iter()
            .map(|j| JudgmentView {
                user_id: j.user_id,
                email: j.email.clone(),
                verdict: Verdict::label_of(&j.verdict),
                note: j.note.clone().unwrap_or_default(),
                when: j.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
        next_statuses: next_statuses(&alert.status),
        assignee_id: work
            .assignee_user_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        due_on: work
            .due_on
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        comments: comments
            .into_iter()
            .map(|c| CommentView {
                author: c.author_email,
                when: c.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                body: c.body,
            })
            .collect(),
        alert: with_work(row(&alert), Some(&work), &members, today),
        members,
    }
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
        AlertsError::Phi | AlertsError::PhiComment => Ok(flash_then_see_other(
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

#[derive(Debug, Deserialize)]
pub struct AssignmentForm {
    assignee: Option<String>,
    due_on: Option<String>,
}

/// `POST /portal/alerts/{id}/assignment` (analysts): who works the alert and by when.
pub async fn assign(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    id: web::Path<i64>,
    form: web::Form<AssignmentForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let form = form.into_inner();
    let checked = service::check_assignee_id(form.assignee.as_deref())
        .and_then(|a| Ok((a, service::check_due(form.due_on.as_deref())?)));
    let (assignee, due_on) = match checked {
        Ok(v) => v,
        Err(e) => return alerts_error(e, user.session(), id),
    };
    let (ctx, entry) = user.audit(&req, &state, "alert.assigned", &["assignee", "due_on"]);
    match service::assign(&state.db, user.scope(), id, assignee, due_on, ctx, entry).await {
        Ok(()) => Ok(flash_then_see_other(
            user.session(),
            "success",
            "Assignment saved.",
            back_to(id),
        )),
        Err(e) => alerts_error(e, user.session(), id),
    }
}

#[derive(Debug, Deserialize)]
pub struct CommentForm {
    body: Option<String>,
}

/// `POST /portal/alerts/{id}/comments` (analysts): adds a comment (PHI-checked, audited).
pub async fn comment(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    id: web::Path<i64>,
    form: web::Form<CommentForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let body = match service::check_comment(form.into_inner().body.as_deref()) {
        Ok(body) => body,
        Err(e) => return alerts_error(e, user.session(), id),
    };
    let (ctx, entry) = user.audit(&req, &state, "alert.commented", &["comment"]);
    match service::comment(&state.db, user.scope(), id, user.id.0, body, ctx, entry).await {
        Ok(()) => Ok(flash_then_see_other(
            user.session(),
            "success",
            "Comment added.",
            format!("{}#comments", back_to(id)),
        )),
        Err(e) => alerts_error(e, user.session(), id),
    }
}

/// The list's address with its filters (re-encoded: only the list's own parameters).
fn list_url(query: &str) -> String {
    let query = saved_filters::alert_query(query);
    if query.is_empty() {
        "/portal/alerts".to_string()
    } else {
        format!("/portal/alerts?{query}")
    }
}

/// `POST /portal/alerts/bulk` (analysts): the ticked alerts (`alert_id`, repeated) are
/// acknowledged, resolved or assigned (`action`, `assignee`), one audit row each; back to
/// the list with its filters (`back`).
pub async fn bulk(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (mut ids, mut page_ids, mut tick_all) = (Vec::new(), Vec::new(), false);
    let (mut action, mut assignee, mut back) = (None, None, String::new());
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "alert_id" => ids.push(v.into_owned()),
            // "Tick all" works without script: the page's alerts travel with the form.
            "page_alert_id" => page_ids.push(v.into_owned()),
            "tick_all" => tick_all = v == "page",
            "action" => action = Some(v.into_owned()),
            "assignee" => assignee = Some(v.into_owned()),
            "back" => back = v.into_owned(),
            _ => {}
        }
    }
    if tick_all {
        ids.extend(page_ids);
    }
    let to = list_url(&back);
    let action = action
        .as_deref()
        .and_then(BulkAction::parse)
        .ok_or_else(|| FilterError::bad("action", "acknowledge, resolve or assign"))?;
    let checked = service::check_bulk_ids(&ids).and_then(|ids| {
        Ok((
            ids,
            match action {
                BulkAction::Assign => service::check_assignee_id(assignee.as_deref())?,
                _ => None,
            },
        ))
    });
    let (ids, assignee) = match checked {
        Ok(v) => v,
        // Nothing ticked is a slip, not an attack: say so on the list.
        Err(AlertsError::Invalid(message)) => {
            return Ok(flash_then_see_other(user.session(), "error", message, to));
        }
        Err(e) => return Err(bulk_error(e)),
    };
    let (audit_action, fields): (&'static str, &'static [&'static str]) = match action {
        BulkAction::Assign => ("alert.assigned", &["assignee"]),
        _ => ("alert.status_changed", &["status"]),
    };
    let (ctx, entry) = user.audit(&req, &state, audit_action, fields);
    let outcome = service::bulk(
        &state.db,
        user.scope(),
        user.id.0,
        action,
        ids,
        assignee,
        ctx,
        entry,
    )
    .await
    .map_err(bulk_error)?;
    let verb = match action {
        BulkAction::Acknowledge => "acknowledged",
        BulkAction::Resolve => "resolved",
        BulkAction::Assign => "assigned",
    };
    let mut message = format!(
        "{} alert{} {verb}.",
        outcome.changed,
        if outcome.changed == 1 { "" } else { "s" }
    );
    if outcome.skipped > 0 {
        message.push_str(&format!(
            " {} left as they were (already there, or their status does not allow it).",
            outcome.skipped
        ));
    }
    Ok(flash_then_see_other(user.session(), "success", message, to))
}

fn bulk_error(err: AlertsError) -> AppError {
    match err {
        AlertsError::Invalid(message) => AppError::BadRequest(message),
        AlertsError::Conflict(message) => AppError::Conflict(message),
        AlertsError::Phi | AlertsError::PhiComment => AppError::BadRequest(err.to_string()),
        AlertsError::Db(e) => e.into(),
    }
}

#[derive(Debug, Deserialize)]
pub struct SaveFilterForm {
    name: Option<String>,
    query: Option<String>,
}

/// `POST /portal/alerts/filters`: saves the list's current filters under a name, for
/// the signed-in person only (viewers too: it changes nothing of the tenant's).
pub async fn save_filter(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<SaveFilterForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let to = list_url(form.query.as_deref().unwrap_or_default());
    let (name, query) = match saved_filters::check(form.name.as_deref(), form.query.as_deref()) {
        Ok(v) => v,
        Err(SavedFiltersError::Invalid(message)) => {
            return Ok(flash_then_see_other(user.session(), "error", message, to));
        }
        Err(SavedFiltersError::Db(e)) => return Err(e.into()),
    };
    let (ctx, entry) = user.audit(&req, &state, "saved_filter.saved", &["name", "query"]);
    let message = format!("Saved as \u{201c}{name}\u{201d}.");
    saved_filters::save(&state.db, user.scope(), user.id.0, name, query, ctx, entry)
        .await
        .map_err(|e| match e {
            SavedFiltersError::Invalid(m) => AppError::BadRequest(m),
            SavedFiltersError::Db(e) => e.into(),
        })?;
    Ok(flash_then_see_other(user.session(), "success", message, to))
}

/// `POST /portal/alerts/filters/{id}/delete`: deletes one of the person's own filters
/// (another person's answers 404).
pub async fn delete_filter(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (ctx, entry) = user.audit(&req, &state, "saved_filter.deleted", &[]);
    saved_filters::delete(&state.db, user.scope(), user.id.0, id, ctx, entry)
        .await
        .map_err(|e| match e {
            SavedFiltersError::Invalid(m) => AppError::BadRequest(m),
            SavedFiltersError::Db(e) => e.into(),
        })?;
    Ok(flash_then_see_other(
        user.session(),
        "success",
        "Saved filter deleted.",
        "/portal/alerts",
    ))
}
