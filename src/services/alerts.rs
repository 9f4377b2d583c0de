//! Working an alert: judging it (a verdict must be chosen; "noise" resolves the alert in
//! the same audited transaction, so the noise statistics and the status never disagree)
//! and moving it through its statuses — one at a time or ticked in bulk; who works it and
//! by when; what people said about it (comments); the alerts export.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};

use crate::db::repo::alert_comments::{self, CommentRow};
use crate::db::repo::alerts::{
    self as repo, AlertFilter, AlertWithStatus, AlertWork, HistoryRow, JudgmentRow, StatusCounts,
};
use crate::db::repo::analytics::{self as analytics_repo, DriftEvent};
use crate::db::repo::deliveries::{self, DeliveryRow};
use crate::db::repo::page_versions::{self, Versions};
use crate::db::repo::saved_filters::{self as saved_repo, SavedFilter};
use crate::db::repo::{Page, audit, keyset, users};
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::alert_work::{BULK_MAX, BulkAction, COMMENT_MAX_CHARS};
use crate::domain::alerts::{Verdict, next_statuses};
use crate::domain::phi;
use crate::domain::roles::Role;
use crate::domain::tenant::TenantScope;
use crate::services::findings::{self, Charts};
use crate::services::page_cache::PageCache;

/// Longest note kept with a judgment.
pub const NOTE_MAX_CHARS: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// A malformed or missing value; the message names the field and is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The note looks like patient information; nothing was saved (never echoed).
    #[error(
        "The note looks like it contains patient information (PHI), so it was not saved. Describe the issue without identifying anyone."
    )]
    Phi,
    /// The comment looks like patient information; nothing was saved (never echoed).
    #[error(
        "The comment looks like it contains patient information (PHI), so it was not saved. Describe the issue without identifying anyone."
    )]
    PhiComment,
    /// The change does not fit the alert's current status.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A judgment as posted: the verdict is required (the form presets none).
pub fn check_judgment(
    verdict: Option<&str>,
    note: Option<&str>,
) -> Result<(Verdict, Option<String>), AlertsError> {
    let verdict = match verdict.map(str::trim).filter(|v| !v.is_empty()) {
        None => {
            return Err(AlertsError::Invalid(
                "Choose a verdict: real problem, noise or needs follow-up.".into(),
            ));
        }
        Some(v) => Verdict::parse(v).ok_or_else(|| {
            AlertsError::Invalid("verdict must be real, noise or needs_follow_up".into())
        })?,
    };
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = note {
        if n.chars().count() > NOTE_MAX_CHARS {
            return Err(AlertsError::Invalid(
                "The note is too long (at most 2,000 characters).".into(),
            ));
        }
        if phi::contains_phi(n) {
            return Err(AlertsError::Phi);
        }
    }
    Ok((verdict, note.map(str::to_string)))
}

/// What a judgment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    /// The verdict resolved an alert that was not resolved yet.
    pub resolved: bool,
}

/// Stores `user_id`'s judgment of alert `id` (one per person, replaced when judged again)
/// and, for "noise", resolves the alert — in one transaction with the audit row.
#[allow(clippy::too_many_arguments)]
pub async fn judge(
    db: &Db,
    scope: TenantScope,
    id: i64,
    user_id: i64,
    verdict: Verdict,
    note: Option<String>,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<Judged, AlertsError> {
    db.write_audited(ctx, entry.target("alert", id), move |conn| {
        repo::upsert_judgment(conn, &scope, id, user_id, verdict.as_str(), note.as_deref())?;
        let mut resolved = false;
        if verdict.resolves() {
            let current = repo::find_alert(conn, &scope, id)?.status;
            if current != "resolved" {
                repo::append_status(conn, &scope, id, "resolved", user_id)?;
                resolved = true;
            }
        }
        Ok(Judged { resolved })
    })
    .await
}

/// Moves alert `id` to `wanted` when its current status allows it.
pub async fn change_status(
    db: &Db,
    scope: TenantScope,
    id: i64,
    user_id: i64,
    wanted: String,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), AlertsError> {
    db.write_audited(ctx, entry.target("alert", id), move |conn| {
        let current = repo::find_alert(conn, &scope, id)?.status;
        if !next_statuses(&current).contains(&wanted.as_str()) {
            return Err(AlertsError::Conflict(format!(
                "An alert that is {current} cannot become '{wanted}'."
            )));
        }
        repo::append_status(conn, &scope, id, &wanted, user_id)?;
        Ok(())
    })
    .await
}

/// A comment as posted: trimmed, not empty, not too long, no patient information.
pub fn check_comment(body: Option<&str>) -> Result<String, AlertsError> {
    let body = body.map(str::trim).unwrap_or_default();
    if body.is_empty() {
        return Err(AlertsError::Invalid("Write a comment first.".into()));
    }
    if body.chars().count() > COMMENT_MAX_CHARS {
        return Err(AlertsError::Invalid(
            "The comment is too long (at most 2,000 characters).".into(),
        ));
    }
    if phi::contains_phi(body) {
        return Err(AlertsError::PhiComment);
    }
    Ok(body.to_string())
}

/// Adds `user_id`'s comment to alert `id` with its audit row.
pub async fn comment(
    db: &Db,
    scope: TenantScope,
    id: i64,
    user_id: i64,
    body: String,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), AlertsError> {
    db.write_audited(ctx, entry.target("alert", id), move |conn| {
        alert_comments::insert_comment(conn, &scope, id, user_id, &body)?;
        Ok(())
    })
    .await
}

/// A due date as posted: empty clears it; otherwise `YYYY-MM-DD` (the date input's value).
pub fn check_due(raw: Option<&str>) -> Result<Option<NaiveDate>, AlertsError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                AlertsError::Invalid("due_on must be a date like 2026-12-31 (or empty).".into())
            }),
    }
}

/// An assignee as posted: empty = nobody; otherwise the id of a member of the tenant.
pub fn check_assignee_id(raw: Option<&str>) -> Result<Option<i64>, AlertsError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AlertsError::Invalid("assignee must be a member of your team.".into())),
    }
}

/// The assignee must be an active member of this tenant who may work alerts (analyst or
/// above): a viewer could not act on it, and another tenant's user id is refused like an
/// unknown one (nothing tells the caller that id exists).
fn check_member(
    conn: &mut crate::db::DbConnection,
    scope: &TenantScope,
    assignee: Option<i64>,
) -> Result<(), AlertsError> {
    let Some(id) = assignee else { return Ok(()) };
    let refused = || {
        AlertsError::Invalid(
            "assignee must be an active member of your team who can work alerts (analyst or above)."
                .into(),
        )
    };
    let user = match users::find(conn, scope, id) {
        Ok(user) => user,
        Err(DbError::NotFound) => return Err(refused()),
        Err(e) => return Err(e.into()),
    };
    let may_work = user
        .role
        .parse::<Role>()
        .is_ok_and(|r| r.allows(Role::Analyst));
    if !user.is_active || !may_work {
        return Err(refused());
    }
    Ok(())
}

/// The members an alert can be assigned to (active, analyst or above), by e-mail.
fn assignable(conn: &mut DbConnection, scope: &TenantScope) -> Result<Vec<(i64, String)>, DbError> {
    Ok(users::list(conn, scope)?
        .into_iter()
        .filter(|u| {
            u.is_active
                && u.role
                    .parse::<Role>()
                    .is_ok_and(|r| r.allows(Role::Analyst))
        })
        .map(|u| (u.id, u.email))
        .collect())
}

/// What the alert list shows of the tenant's alerts (the same for everyone who asks for
/// the same filters and page): a page of alerts with their status counts, each alert's
/// newest verdict and working state, and who may be assigned.
pub struct AlertListPage {
    pub alerts: Page<AlertWithStatus>,
    pub counts: StatusCounts,
    pub verdicts: HashMap<i64, String>,
    pub work: HashMap<i64, AlertWork>,
    pub members: Vec<(i64, String)>,
}

/// An alert-list page's key: (customer id, filters — `None` for a refused one — page,
/// per page). An `assignee=me` filter holds the person's id, so it is theirs alone.
pub type ListKey = (i64, Option<AlertFilter>, i64, i64);
/// What alert pages are valid for: the tenant's alert version and the day ("overdue").
pub type ListGeneration = (i64, NaiveDate);
/// A person's saved alert filters: (customer id, user id), valid for one alert version
/// (saved-filter writes move it too).
pub type SavedKey = (i64, i64);

/// What the alert list caches (`services::page_cache`), in the web's shapes.
pub struct ListCaches<P> {
    pub pages: Arc<dyn PageCache<ListKey, ListGeneration, P>>,
    pub saved: Arc<dyn PageCache<SavedKey, i64, Vec<SavedFilter>>>,
    /// The page as the web keeps it, for the day given.
    pub present: fn(AlertListPage, NaiveDate) -> P,
}

/// Page `page` of the alerts matching `filter`, for `user_id`, in one read: while the
/// tenant's alert version (one statement, `repo::page_versions::alerts`) and the day
/// have not moved on, the page and the person's saved filters come from the caches.
/// `None` is a refused filter: the page lists no alerts (docs/decisions.md, refused list
/// filters) but still offers the person's saved filters and the members.
pub async fn list_page<P: Send + Sync + 'static>(
    db: &Db,
    scope: TenantScope,
    user_id: i64,
    filter: Option<AlertFilter>,
    page: i64,
    per_page: i64,
    caches: ListCaches<P>,
) -> Result<(Arc<P>, Arc<Vec<SavedFilter>>), DbError> {
    db.run(move |conn| {
        let version = page_versions::alerts(conn, &scope)?;
        let saved_key = (scope.id(), user_id);
        let saved = match caches.saved.get(&saved_key, &version) {
            Some(saved) => saved,
            None => {
                let saved = Arc::new(saved_repo::list_saved_filters(
                    conn,
                    &scope,
                    user_id,
                    crate::services::saved_filters::ALERTS_PAGE,
                )?);
                caches.saved.put(saved_key, version, Arc::clone(&saved));
                saved
            }
        };
        let today = crate::db::repo::now().date();
        let key = (scope.id(), filter, page, per_page);
        let generation = (version, today);
        if let Some(page) = caches.pages.get(&key, &generation) {
            return Ok((page, saved));
        }
        let (alerts, counts) = match &key.1 {
            Some(f) => repo::list_alerts(conn, &scope, f, page, per_page)?,
            None => (
                Page {
                    items: Vec::new(),
                    page,
                    per_page,
                    total: 0,
                },
                Vec::new(),
            ),
        };
        let ids: Vec<i64> = alerts.items.iter().map(|a| a.alert.id).collect();
        let data = AlertListPage {
            verdicts: repo::latest_verdicts(conn, &scope, &ids)?,
            work: repo::work_of(conn, &scope, &ids)?,
            members: assignable(conn, &scope)?,
            alerts,
            counts,
        };
        let page = Arc::new((caches.present)(data, today));
        caches.pages.put(key, generation, Arc::clone(&page));
        Ok((page, saved))
    })
    .await
}

/// One alert as the API shows it: with its status history, judgments and deliveries.
pub struct AlertRecord {
    pub alert: AlertWithStatus,
    pub history: Vec<HistoryRow>,
    pub judgments: Vec<JudgmentRow>,
    pub deliveries: Vec<DeliveryRow>,
}

fn read_record(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<AlertRecord, DbError> {
    Ok(AlertRecord {
        alert: repo::find_alert(conn, scope, id)?,
        history: repo::history(conn, scope, id)?,
        judgments: repo::judgments(conn, scope, id)?,
        deliveries: deliveries::for_alert(conn, scope, id)?,
    })
}

/// Alert `id` with its history, judgments and deliveries, in one read (`NotFound` for
/// another tenant's).
pub async fn record(db: &Db, scope: TenantScope, id: i64) -> Result<AlertRecord, DbError> {
    db.run(move |conn| read_record(conn, &scope, id)).await
}

/// The alert page: the alert's record, the finding behind it with its chart, who works it,
/// the comments and who may be assigned.
pub struct AlertDetail {
    pub record: AlertRecord,
    /// The finding a product alert was raised from, with its chart (SVG); none for a
    /// data-quality alert.
    pub finding: Option<(DriftEvent, String)>,
    pub work: AlertWork,
    pub comments: Vec<CommentRow>,
    pub members: Vec<(i64, String)>,
}

/// An alert page's key: (customer id, alert id).
pub type DetailKey = (i64, i64);
/// What an alert page is valid for: the tenant's versions (alerts; runs and rollups for
/// the finding's chart) and the day ("overdue").
pub type DetailGeneration = (Versions, NaiveDate);

/// Alert `id`'s page in one read, and its deliveries (read every time: the delivery
/// worker changes them). While the tenant's versions (one statement,
/// `repo::page_versions`) and the day have not moved on, the rest comes from `pages`;
/// otherwise it is read — the finding's chart from `charts` (the feed's chart cache) or
/// drawn in the same read — `present`ed by the web and kept.
pub async fn detail<P: Send + Sync + 'static>(
    db: &Db,
    scope: TenantScope,
    id: i64,
    charts: Arc<dyn Charts>,
    pages: Arc<dyn PageCache<DetailKey, DetailGeneration, P>>,
    present: fn(AlertDetail, NaiveDate) -> P,
) -> Result<(Arc<P>, Vec<DeliveryRow>), DbError> {
    db.run(move |conn| {
        let versions = page_versions::read(conn, &scope)?;
        let today = crate::db::repo::now().date();
        let key = (scope.id(), id);
        let generation = (versions, today);
        let page = match pages.get(&key, &generation) {
            Some(page) => page,
            None => {
                let detail = read_detail(conn, &scope, id, charts.as_ref(), versions)?;
                let page = Arc::new(present(detail, today));
                pages.put(key, generation, Arc::clone(&page));
                page
            }
        };
        // A hit was the tenant's alert at this version: it still is (alerts are never
        // deleted), so the deliveries need no other check.
        Ok((page, deliveries::for_alert(conn, &scope, id)?))
    })
    .await
}

fn read_detail(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    charts: &dyn Charts,
    versions: Versions,
) -> Result<AlertDetail, DbError> {
    let alert = repo::find_alert(conn, scope, id)?;
    let finding = match alert.alert.drift_event_id {
        Some(event_id) => {
            let event = analytics_repo::find_event(conn, scope, event_id)?;
            let svg = findings::cached_charts(
                conn,
                scope,
                charts,
                (versions.runs.0, versions.rollups),
                std::slice::from_ref(&event),
            )?
            .remove(&event.id)
            .unwrap_or_default();
            Some((event, svg))
        }
        None => None,
    };
    Ok(AlertDetail {
        finding,
        work: repo::find_work(conn, scope, id)?,
        comments: alert_comments::list_comments(conn, scope, id)?,
        members: assignable(conn, scope)?,
        record: AlertRecord {
            history: repo::history(conn, scope, id)?,
            judgments: repo::judgments(conn, scope, id)?,
            // Read per request beside the cached page (`detail`).
            deliveries: Vec::new(),
            alert,
        },
    })
}

/// Sets who works alert `id` and by when, with its audit row.
pub async fn assign(
    db: &Db,
    scope: TenantScope,
    id: i64,
    assignee: Option<i64>,
    due_on: Option<NaiveDate>,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), AlertsError> {
    db.write_audited(ctx, entry.target("alert", id), move |conn| {
        check_member(conn, &scope, assignee)?;
        repo::set_assignee(conn, &scope, id, assignee)?;
        repo::set_due(conn, &scope, id, due_on)?;
        Ok(())
    })
    .await
}

/// What a bulk change did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Alerts changed (each has its own audit row).
    pub changed: usize,
    /// Alerts left as they were: already there, or their status does not allow it.
    pub skipped: usize,
}

/// Alert ids as ticked on the list: at least one, at most [`BULK_MAX`], numbers only;
/// repeats count once.
pub fn check_bulk_ids(raw: &[String]) -> Result<Vec<i64>, AlertsError> {
    let mut ids = Vec::new();
    for v in raw {
        let id = v
            .trim()
            .parse::<i64>()
            .map_err(|_| AlertsError::Invalid("alert_id must be alert numbers.".into()))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(AlertsError::Invalid(
            "Tick at least one alert, then choose what to do with them.".into(),
        ));
    }
    if ids.len() > BULK_MAX {
        return Err(AlertsError::Invalid(format!(
            "At most {BULK_MAX} alerts at once."
        )));
    }
    Ok(ids)
}

/// Acknowledges, resolves or assigns every alert of `ids` in one transaction, one audit
/// row per changed alert (`entry` names the action; its target is set per alert). An
/// alert whose status does not allow the move (resolving a resolved one, acknowledging a
/// resolved one) is skipped and counted; an id that is not this tenant's fails the whole
/// change as not found.
#[allow(clippy::too_many_arguments)]
pub async fn bulk(
    db: &Db,
    scope: TenantScope,
    user_id: i64,
    action: BulkAction,
    ids: Vec<i64>,
    assignee: Option<i64>,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<BulkOutcome, AlertsError> {
    db.write(move |conn| {
        if action == BulkAction::Assign {
            check_member(conn, &scope, assignee)?;
        }
        let mut outcome = BulkOutcome::default();
        for id in ids {
            let changed = match action.status() {
                Some(wanted) => {
                    let current = repo::find_alert(conn, &scope, id)?.status;
                    if next_statuses(&current).contains(&wanted) {
                        repo::append_status(conn, &scope, id, wanted, user_id)?;
                        true
                    } else {
                        false
                    }
                }
                None => {
                    if repo::find_work(conn, &scope, id)?.assignee_user_id == assignee {
                        false
                    } else {
                        repo::set_assignee(conn, &scope, id, assignee)?;
                        true
                    }
                }
            };
            if changed {
                audit::record(conn, &ctx, entry.clone().target("alert", id))?;
                outcome.changed += 1;
            } else {
                outcome.skipped += 1;
            }
        }
        Ok(outcome)
    })
    .await
}

/// The API's alert list: up to `limit` alerts matching `filter`, newest first, older than
/// alert `before_id` (the cursor; `None` for the first page).
pub async fn list_after(
    db: &Db,
    scope: TenantScope,
    filter: AlertFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AlertWithStatus>, DbError> {
    db.run(move |conn| keyset::alerts(conn, &scope, &filter, before_id, limit))
        .await
}

/// Records that `alerts.csv` is being downloaded (`export.alerts_csv`), before its first
/// byte: an export nobody can trace is a leak nobody can trace.
pub async fn start_export(
    db: &Db,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), DbError> {
    db.write_audit(ctx, entry).await
}

/// One batch of the alerts export (`alerts.csv`): up to `limit` alerts matching `filter`,
/// newest first, created before `before` (the last alert of the previous batch; `None` for
/// the first).
pub async fn export_batch(
    db: &Db,
    scope: TenantScope,
    filter: Arc<AlertFilter>,
    before: Option<(NaiveDateTime, i64)>,
    limit: i64,
) -> Result<Vec<AlertWithStatus>, DbError> {
    db.run(move |conn| repo::export_batch(conn, &scope, &filter, before, limit))
        .await
}
