//! Uploads: history with the upload form (`/portal/uploads`), the streamed multipart
//! upload, the upload's page (quality report, rejections, progress, analytics runs),
//! `rejections.csv`, and deletion (refused while claims exist).
//!
//! The body is streamed to a temporary file (memory stays flat), the CSRF token is
//! checked from its multipart field, and the pipeline runs in the background so the
//! browser lands on the upload's page at once and watches it progress.

use std::collections::HashMap;
use std::io::Write;

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;

use crate::db::repo::uploads::Upload;
use crate::domain::roles::Role;
use crate::domain::tenant::TenantScope;
use crate::ingest::report::QualityReport;
use crate::ingest::{self, Limits, UploadRequest};
use crate::jobs::spool::{SpoolDir, SpoolGuard};
use crate::web::audit::{AuditContext, AuditEntry};
use crate::web::auth::{self, Admin, Analyst, Authorized, CurrentUser};
use crate::web::errors::AppError;
use crate::web::http::multipart::GuardedForm;
use crate::web::http::query::page_number;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

const PER_PAGE: i64 = 25;
const FIRST_REJECTIONS: i64 = 100;

struct UploadRow {
    id: i64,
    file_name: String,
    when: String,
    status: String,
    total: i64,
    accepted: i64,
    rejected: i64,
    score: String,
}

fn score_text(centi: Option<i64>) -> String {
    centi.map_or_else(
        || "—".to_string(),
        |c| format!("{}.{:02}", c / 100, c % 100),
    )
}

fn row(u: &Upload) -> UploadRow {
    UploadRow {
        id: u.id,
        file_name: u.file_name.clone(),
        when: u.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        status: u.status.clone(),
        total: u.total_rows,
        accepted: u.accepted_rows,
        rejected: u.rejected_rows,
        score: score_text(u.quality_score_centi),
    }
}

#[derive(Template)]
#[template(path = "uploads/list.html")]
struct UploadsPage {
    layout: Layout,
    uploads: Vec<UploadRow>,
    can_upload: bool,
    max_mb: u64,
    page: i64,
    total_pages: i64,
    has_prev: bool,
    has_next: bool,
}

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let page = page_number(query.get("page").map(String::as_str))?;
    let listed = crate::services::uploads::list(&state.db, user.scope(), page, PER_PAGE).await?;
    render(&UploadsPage {
        layout: user.layout("Uploads", "/portal/uploads"),
        uploads: listed.items.iter().map(row).collect(),
        can_upload: user.role.allows(Role::Analyst),
        max_mb: state.settings.max_upload_bytes / (1024 * 1024),
        page: listed.page,
        total_pages: listed.total_pages(),
        has_prev: listed.has_prev(),
        has_next: listed.has_next(),
    })
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
    body: Multipart,
) -> Result<HttpResponse, AppError> {
    let max_bytes = state.settings.max_upload_bytes;
    let spool_dir = SpoolDir::open(state.settings.spool_dir())
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    // Removed on every early return; handed to the job once it is queued.
    let mut spooled: Option<SpoolGuard<'_>> = None;
    let mut form = GuardedForm::new(&req, body, max_bytes)?;
    let mut file_name: Option<String> = None;
    let mut size: u64 = 0;
    while let Some(mut field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "csrf_token" => {
                let token = form.small_value(&mut field).await?;
                form.accept_token(&token)?;
            }
            "file" => {
                // Nothing is spooled for a post that has not shown its token yet.
                form.require_token()?;
                file_name = Some(
                    field
                        .content_disposition()
                        .and_then(|cd| cd.get_filename().map(str::to_string))
                        .unwrap_or_else(|| "upload.csv".to_string()),
                );
                if spooled.is_some() {
                    return Err(AppError::BadRequest(
                        "Send one file per upload (form field 'file').".into(),
                    ));
                }
                let (guard, written) = spool(&spool_dir, &mut field, max_bytes).await?;
                spooled = Some(guard);
                size = written;
            }
            // Other fields are read (bounded) and ignored.
            _ => {
                form.small_value(&mut field).await?;
            }
        }
    }
    form.finish()?;
    let Some(file_name) = file_name else {
        return Err(AppError::BadRequest(
            "Choose a CSV file to upload (form field 'file').".into(),
        ));
    };

    let Some(spooled) = spooled else {
        return Err(AppError::BadRequest(
            "Choose a CSV file to upload (form field 'file').".into(),
        ));
    };

    let upload_id = queue_spooled(
        &state,
        &spool_dir,
        spooled,
        SentFile {
            scope: user.scope(),
            uploaded_by: user.id.0,
            file_name,
            size,
        },
        user.audit(&req, &state, "upload.created", &[]),
    )
    .await?;
    // A worker processes it; the page shows its place in the queue and its progress.
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/portal/uploads/{upload_id}")))
        .finish())
}

/// Streams one sent file (a form field's or a request body's chunks) into a new spool file,
/// so memory stays flat, refusing it past `max_bytes`. The file goes again when the guard
/// drops, unless it is queued ([`queue_spooled`]). Returns the guard and the file's size.
pub(crate) async fn spool<E: std::fmt::Display>(
    spool_dir: &SpoolDir,
    mut chunks: impl futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    max_bytes: u64,
) -> Result<(SpoolGuard<'_>, u64), AppError> {
    let internal = |e: std::io::Error| AppError::Internal(anyhow::Error::new(e));
    let (name, mut out) = spool_dir.create().map_err(internal)?;
    let guard = SpoolGuard::new(spool_dir, name);
    let mut size = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}.")))?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(AppError::PayloadTooLarge(format!(
                "Files may be at most {} MB.",
                max_bytes / (1024 * 1024)
            )));
        }
        out.write_all(&chunk).map_err(internal)?;
    }
    out.flush().map_err(internal)?;
    Ok((guard, size))
}

/// A file sent over HTTP (the upload form or the API), spooled and ready to queue.
pub(crate) struct SentFile {
    pub scope: TenantScope,
    pub uploaded_by: i64,
    pub file_name: String,
    pub size: u64,
}

/// Queues a spooled file as an upload: the upload, its job and the audit row of who sent
/// it commit together. The file is handed to the job before the wait, so a dropped request
/// cannot delete a file its committed job owns; when the commit fails no job owns it and it
/// goes now. Returns the upload's id.
pub(crate) async fn queue_spooled(
    state: &AppState,
    spool_dir: &SpoolDir,
    spooled: SpoolGuard<'_>,
    file: SentFile,
    (ctx, entry): (AuditContext, AuditEntry<'static>),
) -> Result<i64, AppError> {
    let request = UploadRequest {
        scope: file.scope,
        file_name: file.file_name,
        uploaded_by: Some(file.uploaded_by),
        declared_size: Some(file.size),
        limits: Limits::from_settings(&state.settings),
        today: chrono::Utc::now().date_naive(),
    };
    let db = state.db.clone();
    let spool_name = spooled.keep();
    let queued_name = spool_name.clone();
    let size = file.size;
    let submitted = actix_web::rt::task::spawn_blocking(move || {
        crate::services::uploads::submit_audited(&db, &request, &queued_name, size, &ctx, entry)
    })
    .await
    .map_err(|_| AppError::Internal(anyhow::anyhow!("upload start cancelled")));
    match submitted.and_then(|r| r.map_err(AppError::from)) {
        Ok(id) => Ok(id),
        Err(err) => {
            spool_dir.remove(&spool_name);
            Err(err)
        }
    }
}

struct RejectionRow {
    row: i64,
    column: String,
    /// The reason in words (the code itself is in `rejections.csv`).
    reason: String,
}

/// The report's counts, with thousands separators.
#[derive(Default)]
struct Counts {
    total: String,
    accepted: String,
    rejected: String,
    warnings: String,
    rejection_lines: String,
}

/// One reason rows were rejected for: in words, how to fix it, how many rows.
struct ReasonRow {
    label: String,
    fix: &'static str,
    rows: String,
}

/// One analytics run this upload was followed by, as the outcome card lists it.
struct RunRow {
    product: &'static str,
    href: &'static str,
    outcome: String,
}

/// "3 rows", "1 row".
fn rows_text(n: u64) -> String {
    let noun = if n == 1 { "row" } else { "rows" };
    format!("{} {noun}", crate::domain::format::thousands(n))
}

/// The outcome in one sentence, first thing on the page.
fn summary(report: &QualityReport) -> String {
    let (total, accepted, rejected) = (
        report.total_rows,
        report.accepted_rows,
        report.rejected_rows,
    );
    let warned = match report.warning_rows {
        0 => String::new(),
        n => format!(
            " {} stored with a warning (outcome neither paid nor denied).",
            rows_text(n)
        ),
    };
    if accepted == 0 {
        format!(
            "None of the {} was stored: every row was rejected.",
            rows_text(total)
        )
    } else if rejected == 0 {
        format!("All {} were stored.{warned}", rows_text(total))
    } else {
        format!(
            "{} of {} were stored; {} rejected (the reasons and how to fix them are below).{warned}",
            crate::domain::format::thousands(accepted),
            rows_text(total),
            crate::domain::format::thousands(rejected),
        )
    }
}

/// Rejected rows per reason, in words, most frequent first; reasons with no row are left
/// out.
fn reason_rows(report: &QualityReport) -> Vec<ReasonRow> {
    use crate::domain::claim::RejectReason;
    let mut rows: Vec<(&String, u64)> = report
        .rejected_by_reason
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| (code, *n))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    rows.into_iter()
        .map(|(code, n)| match RejectReason::parse(code) {
            Some(reason) => ReasonRow {
                label: reason.label().to_string(),
                fix: reason.how_to_fix(),
                rows: crate::domain::format::thousands(n),
            },
            None => ReasonRow {
                label: code.clone(),
                fix: "",
                rows: crate::domain::format::thousands(n),
            },
        })
        .collect()
}

/// A run's outcome in words: "3 new findings", "no new findings", "failed: …".
fn run_row(run: &crate::db::repo::analytics::ReportRun) -> RunRow {
    let outcome = match run.status.as_str() {
        "succeeded" => match run.events_created {
            0 => "no new findings".to_string(),
            1 => "1 new finding".to_string(),
            n => format!("{n} new findings"),
        },
        "running" => "running…".to_string(),
        "failed" => format!(
            "failed ({})",
            run.error_message.as_deref().unwrap_or("no reason recorded")
        ),
        other => other.to_string(),
    };
    RunRow {
        product: crate::domain::alerts::source_label(&run.product),
        href: crate::web::handlers::portal::product_page(&run.product),
        outcome,
    }
}

#[derive(Template)]
#[template(path = "uploads/detail.html")]
struct UploadPage {
    layout: Layout,
    upload: UploadRow,
    message: String,
    duplicate_of: Option<i64>,
    /// Waiting for a worker: its place in the queue (1 = next).
    queued_position: Option<i64>,
    processing: bool,
    rows_processed: String,
    /// Bytes read ÷ file size, while processing (here or on another instance).
    progress_percent: Option<u64>,
    /// The state of this upload's own analytics request, when it made one.
    analytics_state: Option<String>,
    refresh: bool,
    report: Option<QualityReport>,
    /// The outcome in one sentence.
    summary: String,
    counts: Counts,
    reasons: Vec<ReasonRow>,
    rejections: Vec<RejectionRow>,
    can_export: bool,
    can_delete: bool,
    runs: Vec<RunRow>,
}

pub async fn detail(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let crate::services::uploads::UploadDetail {
        upload,
        report,
        rejections,
        job,
        queued_position,
        analytics,
    } = crate::services::uploads::detail(&state.db, user.scope(), id, FIRST_REJECTIONS).await?;
    let processing = upload.status == "processing" && queued_position.is_none();
    let size = job
        .as_ref()
        .and_then(|j| serde_json::from_str::<crate::jobs::UploadPayload>(&j.payload).ok())
        .map_or(0, |p| p.size);
    // Live figures when this process runs the upload; else what the worker's heartbeat
    // last recorded on the job (another instance, or a `worker` process).
    let (rows_processed, bytes_read) = if processing {
        ingest::progress::global().snapshot(id).unwrap_or_else(|| {
            job.as_ref().map_or((0, 0), |j| {
                (
                    j.progress_rows.map_or(0, |r| r.max(0) as u64),
                    j.progress_bytes.map_or(0, |b| b.max(0) as u64),
                )
            })
        })
    } else {
        (0, 0)
    };
    let progress_percent = (processing && size > 0 && bytes_read > 0)
        .then(|| (bytes_read.saturating_mul(100) / size).min(100));
    let (analytics_state, runs) = match analytics {
        Some((state, runs)) => (Some(state), runs),
        None => (None, Vec::new()),
    };
    let refresh = queued_position.is_some()
        || processing
        || analytics_state
            .as_deref()
            .is_some_and(|s| s == "queued" || s == "running");
    let reasons = report.as_ref().map(reason_rows).unwrap_or_default();
    let counts = report.as_ref().map_or_else(Counts::default, |r| {
        use crate::domain::format::thousands;
        Counts {
            total: thousands(r.total_rows),
            accepted: thousands(r.accepted_rows),
            rejected: thousands(r.rejected_rows),
            warnings: thousands(r.warning_rows),
            rejection_lines: thousands(r.rejection_lines),
        }
    });
    render(&UploadPage {
        layout: user.layout(upload.file_name.clone(), "/portal/uploads"),
        message: upload
            .message
            .as_deref()
            .map(crate::domain::format::sentence)
            .unwrap_or_default(),
        summary: report.as_ref().map(summary).unwrap_or_default(),
        counts,
        duplicate_of: upload.duplicate_of,
        queued_position,
        progress_percent,
        analytics_state,
        refresh,
        processing,
        rows_processed: crate::domain::format::thousands(rows_processed),
        upload: row(&upload),
        report,
        reasons,
        rejections: rejections
            .into_iter()
            .map(|(row, column, reason)| RejectionRow {
                row,
                column,
                reason: crate::domain::claim::RejectReason::parse(&reason)
                    .map_or(reason, |r| r.label().to_string()),
            })
            .collect(),
        can_export: user.role.allows(Role::Analyst),
        can_delete: user.role.allows(Role::Admin),
        runs: runs.iter().map(run_row).collect(),
    })
}

/// The CSV template linked from the upload form: every column and three example rows
/// (they upload as is).
pub async fn template_csv(_user: CurrentUser) -> HttpResponse {
    crate::web::view::csv_export::attachment("payerwatch-claims-template.csv")
        .body(crate::domain::csv_format::TEMPLATE_CSV)
}

struct GuideRow {
    name: &'static str,
    required: bool,
    rule: &'static str,
    example: &'static str,
    aliases: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "uploads/columns.html")]
struct ColumnGuidePage {
    layout: Layout,
    columns: Vec<GuideRow>,
    /// Each rejection reason in words and how to fix it.
    reasons: Vec<(&'static str, &'static str)>,
}

/// The column guide linked from the upload form: each column's rule in words, an example,
/// its aliases (from the parser's own table), and the rejection reasons.
pub async fn column_guide(user: CurrentUser) -> Result<HttpResponse, AppError> {
    use crate::domain::claim::RejectReason;
    use crate::domain::csv_format::{HEADER_NAMES, column_rule};
    render(&ColumnGuidePage {
        layout: user.layout("Column guide", "/portal/uploads"),
        columns: HEADER_NAMES
            .iter()
            .map(|(column, names)| {
                let (rule, example) = column_rule(*column);
                GuideRow {
                    name: column.as_str(),
                    required: column.is_required(),
                    rule,
                    example,
                    aliases: names.iter().skip(1).copied().collect(),
                }
            })
            .collect(),
        reasons: RejectReason::ALL
            .iter()
            .map(|r| (r.label(), r.how_to_fix()))
            .collect(),
    })
}

/// Rejections exported per batch of this many rows.
const REJECTIONS_BATCH: i64 = 2_000;

/// `rejections.csv`, streamed: each chunk is one keyset batch read from SQL, so the
/// export never holds an upload's rejections in memory (issue 16 row 10).
pub async fn rejections_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Analyst>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    use crate::web::view::csv_export::{Cell, attachment, stream_keyset};
    let id = id.into_inner();
    let scope = user.scope();
    let (ctx, entry) = user.audit(&req, &state, "export.rejections_csv", &[]);
    crate::services::uploads::start_rejections_export(&state.db, scope, id, ctx, entry).await?;

    let db = state.db.clone();
    let body = stream_keyset(
        &["row", "column", "reason"],
        REJECTIONS_BATCH,
        move |after| {
            let db = db.clone();
            async move {
                crate::services::uploads::rejections_batch(&db, scope, id, after, REJECTIONS_BATCH)
                    .await
            }
        },
        |last: &(i64, i64, String, String)| (last.1, last.0),
        |export, (_, row, column, reason)| {
            export.row([Cell::Int(*row), Cell::Text(column), Cell::Text(reason)])
        },
    );
    Ok(attachment(&format!("upload-{id}-rejections.csv")).streaming(body))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Admin>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (ctx, entry) = user.audit(&req, &state, "upload.deleted", &[]);
    // An upload with claims: 409 with the page that explains it; nothing was removed.
    crate::services::uploads::delete(&state.db, user.scope(), id, ctx, entry).await?;
    auth::set_flash(
        user.session(),
        "success",
        format!("Upload {id} was deleted."),
    );
    Ok(super::see_other("/portal/uploads"))
}
