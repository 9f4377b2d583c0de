//! The one upload-and-analyse path, whoever uploads (web, CLI `import`, `demo`, the API):
//! a web upload stores its file and queues a job ([`submit`]); the job processes it
//! ([`run_job`]); the CLI runs both steps in its own process ([`import`]).

use std::io::Read;
use std::sync::Arc;

use crate::db::repo::Page;
use crate::db::repo::analytics::ReportRun;
use crate::db::repo::jobs::{self as jobs_repo, Job, JobFence};
use crate::db::repo::uploads::{self as uploads_repo, Upload};
use crate::db::repo::{keyset, upload_lifecycle};
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::tenant::TenantScope;
use crate::ingest::progress::UploadProgress;
use crate::ingest::report::QualityReport;
use crate::ingest::{self, IngestOptions, IngestOutcome, UploadRequest, UploadStatus};
use crate::jobs::UploadPayload;
use crate::jobs::context::{JobContext, JobOutcome};
use crate::services::analytics::{self, ReportError, RunSummary};

/// Records a spooled upload and queues its processing, in one transaction: the upload
/// exists exactly when its job does. Returns the upload's id.
pub fn submit(db: &Db, req: &UploadRequest, spool_name: &str, size: u64) -> Result<i64, DbError> {
    db.write_blocking(|conn| queue_in(conn, req, spool_name, size))
}

/// [`submit`] with the audit row of who sent the file, committed with it.
pub fn submit_audited(
    db: &Db,
    req: &UploadRequest,
    spool_name: &str,
    size: u64,
    ctx: &AuditContext,
    entry: AuditEntry<'static>,
) -> Result<i64, DbError> {
    db.write_audited_blocking(
        ctx,
        move |id: &i64| entry.target("upload", id),
        |conn| queue_in(conn, req, spool_name, size),
    )
}

fn queue_in(
    conn: &mut crate::db::DbConnection,
    req: &UploadRequest,
    spool_name: &str,
    size: u64,
) -> Result<i64, DbError> {
    {
        let (upload_id, stored_name) = ingest::begin_in(conn, req)?;
        let payload = UploadPayload {
            spool: spool_name.to_string(),
            file_name: stored_name,
            uploaded_by: req.uploaded_by,
            size,
            today: req.today,
        };
        let payload = serde_json::to_string(&payload)
            .map_err(|e| DbError::Staging(format!("job payload: {e}")))?;
        jobs_repo::enqueue_upload(
            conn,
            &req.scope,
            upload_id,
            &payload,
            crate::db::repo::now(),
        )?;
        Ok(upload_id)
    }
}

/// Counts the bytes read from an upload's file into its progress (the page's bar).
struct Counting<R> {
    inner: R,
    progress: Arc<UploadProgress>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.add_bytes(n as u64);
        Ok(n)
    }
}

/// Deletes an upload that has no claims (the page's and the API's delete), audited in the
/// same transaction; `DbError::UploadHasClaims` while claims exist (nothing is removed),
/// `NotFound` for another tenant's.
pub async fn delete(
    db: &Db,
    scope: TenantScope,
    id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), DbError> {
    db.write_audited(ctx, entry.target("upload", id), move |conn| {
        crate::db::repo::uploads::delete(conn, &scope, id)
    })
    .await
}

/// A page of the tenant's uploads, newest first (the uploads page).
pub async fn list(
    db: &Db,
    scope: TenantScope,
    page: i64,
    per_page: i64,
) -> Result<Page<Upload>, DbError> {
    db.run(move |conn| uploads_repo::list(conn, &scope, page, per_page))
        .await
}

/// The API's list: up to `limit` uploads after the cursor `after` (an id), newest first.
pub async fn list_after(
    db: &Db,
    scope: TenantScope,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<Upload>, DbError> {
    db.run(move |conn| keyset::uploads(conn, &scope, after, limit))
        .await
}

/// Starts an upload's `rejections.csv`: its audit row, written only when the upload is
/// the tenant's (`NotFound` otherwise, nothing written).
pub async fn start_rejections_export(
    db: &Db,
    scope: TenantScope,
    id: i64,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), DbError> {
    db.write_audited(ctx, entry.target("upload", id), move |conn| {
        uploads_repo::find(conn, &scope, id).map(|_| ())
    })
    .await
}

/// One batch of `rejections.csv`: up to `limit` rejected cells (id, row, column, reason)
/// after `after` (the previous batch's last (row, id)), in file order.
pub async fn rejections_batch(
    db: &Db,
    scope: TenantScope,
    id: i64,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<(i64, i64, String, String)>, DbError> {
    db.run(move |conn| uploads_repo::rejections_after(conn, &scope, id, after, limit))
        .await
}

/// The API's rejections of an upload: up to `limit` rejected cells after the cursor
/// `after` (a rejection id), in file order (`NotFound` for another tenant's upload).
pub async fn rejections_after(
    db: &Db,
    scope: TenantScope,
    id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<keyset::RejectionRow>, DbError> {
    db.run(move |conn| keyset::rejections(conn, &scope, id, after, limit))
        .await
}

/// One upload (`NotFound` for another tenant's).
pub async fn find(db: &Db, scope: TenantScope, id: i64) -> Result<Upload, DbError> {
    db.run(move |conn| uploads_repo::find(conn, &scope, id))
        .await
}

/// An upload and its stored quality report (JSON, absent until it is processed).
fn with_report_in(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<(Upload, Option<String>), DbError> {
    let upload = uploads_repo::find(conn, scope, id)?;
    let report = match upload_lifecycle::find_report(conn, scope, id) {
        Ok(json) => Some(json),
        Err(DbError::NotFound) => None,
        Err(other) => return Err(other),
    };
    Ok((upload, report))
}

/// One upload with its quality report as stored (the API's answer).
pub async fn with_report(
    db: &Db,
    scope: TenantScope,
    id: i64,
) -> Result<(Upload, Option<String>), DbError> {
    db.run(move |conn| with_report_in(conn, &scope, id)).await
}

/// What an upload's page shows.
pub struct UploadDetail {
    pub upload: Upload,
    /// The quality report, once processed (an unreadable one is left out).
    pub report: Option<QualityReport>,
    /// The first rejected cells: row, column, reason code.
    pub rejections: Vec<(i64, String, String)>,
    /// Its upload job, if it was queued.
    pub job: Option<Job>,
    /// Waiting for a worker: its place in the queue (1 = next).
    pub queued_position: Option<i64>,
    /// This upload's own analytics request (its state) and the runs it made — never an
    /// older run's outcome.
    pub analytics: Option<(String, Vec<ReportRun>)>,
}

/// An upload's page: the upload, its report, its first `rejections` rejected cells, its
/// job and place in the queue, and the analytics request it was followed by.
pub async fn detail(
    db: &Db,
    scope: TenantScope,
    id: i64,
    rejections: i64,
) -> Result<UploadDetail, DbError> {
    db.run(move |conn| {
        let (upload, report) = with_report_in(conn, &scope, id)?;
        let report = report.and_then(|json| serde_json::from_str::<QualityReport>(&json).ok());
        let rejections = upload_lifecycle::list_rejections(conn, &scope, id, rejections)?;
        let job = jobs_repo::find_for_upload(conn, &scope, id)?;
        let queued_position = match &job {
            Some(j) if j.state == jobs_repo::QUEUED => Some(jobs_repo::queue_position(conn, j)?),
            _ => None,
        };
        let analytics = match job.as_ref().and_then(|j| j.follow_up_job_id) {
            Some(follow_up) => {
                let request = jobs_repo::find(conn, &scope, follow_up)?;
                let runs = crate::db::repo::analytics::runs_of_job(conn, &scope, follow_up)?;
                Some((request.state, runs))
            }
            None => None,
        };
        Ok(UploadDetail {
            upload,
            report,
            rejections,
            job,
            queued_position,
            analytics,
        })
    })
    .await
}

/// Processes an upload job: its spooled file through the pipeline, in a transaction that
/// also queues the analytics request and marks the job done (only while this process
/// still holds it). The spooled file is removed once the job has an outcome.
pub fn run_job(ctx: &JobContext, job: &Job) -> JobOutcome {
    let Some(upload_id) = job.upload_id else {
        return JobOutcome::Failed("an upload job without its upload".into());
    };
    let payload: UploadPayload = match serde_json::from_str(&job.payload) {
        Ok(p) => p,
        Err(_) => return JobOutcome::Failed("the upload job's description is unreadable".into()),
    };
    let scope = TenantScope::for_system(crate::domain::tenant::CustomerId(job.customer_id));
    let request = UploadRequest {
        scope,
        file_name: payload.file_name.clone(),
        uploaded_by: payload.uploaded_by,
        declared_size: Some(payload.size),
        limits: ctx.limits,
        today: payload.today,
    };
    let Some(path) = ctx.spool.file(&payload.spool) else {
        return JobOutcome::Failed("the upload job names no spooled file".into());
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(err) => {
            tracing::error!(upload_id, error = %err, "spooled upload file missing");
            let message = "the uploaded file is not available to this server (it was lost \
                           before processing); nothing was stored, please upload it again";
            let scope2 = scope;
            if let Err(err) = ctx.db.write_blocking(|c| {
                crate::db::repo::upload_lifecycle::mark_failed(
                    c, &scope2, upload_id, message, 0, None,
                )
            }) {
                tracing::error!(upload_id, error = %crate::telemetry::ErrorChain(&err), "recording the failure failed");
            }
            return JobOutcome::Failed(message.into());
        }
    };
    // Registered before the pipeline (which joins the same entry) so the bytes are
    // counted from the first read; the heartbeat copies it onto the job row.
    let progress = ingest::progress::global().register(upload_id);
    let options = IngestOptions {
        job: Some(JobFence {
            job_id: job.id,
            owner: ctx.owner.clone(),
        }),
        claim_keys: Some(ctx.claim_keys.clone()),
        ..IngestOptions::default()
    };
    let input = std::io::BufReader::new(Counting {
        inner: file,
        progress: progress.counters(),
    });
    let outcome = ingest::process(
        &ctx.db,
        &request,
        upload_id,
        payload.file_name,
        input,
        &options,
    );
    match outcome {
        Ok(o) if o.failure.is_none() => {
            ctx.spool.remove(&payload.spool);
            JobOutcome::Recorded
        }
        Ok(o) if matches!(o.failure, Some(ingest::IngestError::Superseded)) => JobOutcome::Recorded,
        Ok(o) => {
            ctx.spool.remove(&payload.spool);
            JobOutcome::Failed(o.message.unwrap_or_else(|| "the upload failed".into()))
        }
        Err(err) => {
            // Not even the failure could be recorded (database down): the job is failed
            // here if possible; otherwise its lease runs out and it is retried.
            tracing::error!(upload_id, error = %crate::telemetry::ErrorChain(&err), "upload could not be recorded");
            JobOutcome::Failed("a database error stopped the upload; nothing was stored".into())
        }
    }
}

/// What `import` did: the upload and the analytics runs it was followed by.
pub struct Imported {
    pub outcome: IngestOutcome,
    pub runs: Vec<Result<RunSummary, ReportError>>,
}

/// The CLI's upload (`import`, `demo`): the same pipeline in this process, then the
/// tenant's analytics request served here too — unless a worker already took it, in
/// which case this waits for that run (requests are never dropped, one run at a time).
pub fn import<R: Read + Send>(
    db: &Db,
    req: &UploadRequest,
    input: R,
    trigger: &str,
    options: &IngestOptions,
) -> Result<Imported, DbError> {
    let outcome = ingest::ingest(db, req, input, options)?;
    let runs = match (outcome.status, outcome.analytics_job) {
        (UploadStatus::Failed, _) | (_, None) => Vec::new(),
        (_, Some(job_id)) => analytics::serve_request(db, &req.scope, job_id, trigger)?,
    };
    Ok(Imported { outcome, runs })
}
