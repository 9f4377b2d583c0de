//! Streaming upload pipeline shared by the CLI (`payerwatch import`), the web upload and
//! the API: any `Read` → CSV → validated, PHI-checked, mapped claims → batched inserts in
//! ONE transaction together with the upload's final status, its quality report and its
//! rejections (SPEC §2, §3).
//!
//! Flow: [`begin`] records the upload as `processing` (own short transaction, so the
//! upload exists whatever happens next); [`process`] runs the file — a producer thread
//! parses and validates while this thread writes batches — and either commits everything
//! or rolls back and marks the upload `failed` with a message naming the problem (never a
//! row value). [`ingest`] does both.

pub mod anomaly;
pub mod mapper;
pub mod payer_ids;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod shape;
pub mod source;
pub mod spellings;
pub mod x12;

use std::io::Read;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use chrono::NaiveDate;

use crate::config::Settings;
use crate::db::repo::claim_writer::ClaimWriter;
use crate::db::repo::{mappings as mapping_repo, upload_lifecycle as repo, uploads};
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::csv_format::HeaderError;
use crate::domain::phi;
use crate::domain::tenant::TenantScope;
use mapper::Mappings;
use pipeline::{Batch, ProduceArgs, Produced};
use report::QualityReport;
use shape::{ShapeError, ShapeLimits};

/// Earlier reports read for the anomaly checks.
const ANOMALY_BASELINE_LIMIT: i64 = 20;

/// Size, row and record-shape limits (SPEC §2 defaults: 200 MB, 2,000,000 rows, 256
/// columns, 64 KiB records, 8 KiB fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_rows: u64,
    pub shape: ShapeLimits,
    /// PostgreSQL: an upload of at least this many bytes is loaded into a partition of
    /// its own (see `ClaimWriter`); smaller ones go row by row into the tenant's shared
    /// partition.
    pub own_partition_bytes: u64,
}

impl Limits {
    pub fn from_settings(settings: &Settings) -> Limits {
        Limits {
            max_bytes: settings.max_upload_bytes,
            max_rows: settings.max_upload_rows,
            shape: ShapeLimits {
                max_columns: settings.max_upload_columns,
                max_record_bytes: settings.max_upload_record_bytes,
                max_field_bytes: settings.max_upload_field_bytes,
            },
            own_partition_bytes: settings.own_partition_bytes,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 200 * 1024 * 1024,
            max_rows: 2_000_000,
            shape: ShapeLimits::default(),
            own_partition_bytes: crate::config::OWN_PARTITION_BYTES,
        }
    }
}

/// Who uploads what, for which tenant.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub scope: TenantScope,
    /// As given by the user; replaced by `upload-<id>.csv` when it looks like PHI.
    pub file_name: String,
    pub uploaded_by: Option<i64>,
    /// Size announced before reading (file metadata, Content-Length), checked up front.
    pub declared_size: Option<u64>,
    pub limits: Limits,
    /// The ingest day: decisions may be dated at most one day later.
    pub today: NaiveDate,
}

/// How the ingest runs. `fail_after_rows` (a test hook) makes the writer fail with a
/// database-like error once that many claims were inserted, to prove the all-or-nothing
/// rule.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    #[doc(hidden)]
    pub fail_after_rows: Option<u64>,
    /// The upload job this ingest runs for: its transaction commits only while the job
    /// is still this process's, and marks it done (effects commit once).
    pub job: Option<crate::db::repo::jobs::JobFence>,
    /// The instance's keys for 835 claim references: without them 835 claims carry no
    /// `claim_key` and reversals match nothing (reported as unmatched).
    pub claim_keys: Option<crate::domain::claim_key::ClaimKeys>,
    /// Queue no analytics request (a test fixture that runs the analytics itself, so no
    /// background worker races it).
    #[doc(hidden)]
    pub no_analytics_request: bool,
}

impl IngestOptions {
    /// Options of a production ingest: the instance's claim keys from its secret.
    pub fn with_instance_secret(secret: &[u8]) -> IngestOptions {
        IngestOptions {
            claim_keys: Some(crate::domain::claim_key::ClaimKeys::from_instance_secret(
                secret,
            )),
            ..IngestOptions::default()
        }
    }
}

/// File-level problems: the upload fails and nothing but the failed upload is stored.
/// Messages name lines and columns, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has a header row but no data rows")]
    NoDataRows,
    #[error("the file is not a text CSV file (its header is not UTF-8 text)")]
    NotText,
    #[error("the file is UTF-16 text; save it as CSV UTF-8")]
    Utf16,
    #[error(
        "the file ends its lines with CR only (old Mac format); save it with LF or CRLF line ends"
    )]
    CrOnly,
    #[error("the file is not UTF-8 text: line {line}, column \"{column}\"")]
    NotUtf8 { line: u64, column: &'static str },
    #[error("the file is not valid CSV: {0}")]
    NotCsv(String),
    #[error("{0}")]
    Header(HeaderError),
    #[error("the file is larger than the limit of {} MB", limit / (1024 * 1024))]
    TooLarge { limit: u64 },
    #[error("the file has more than the limit of {limit} data rows")]
    TooManyRows { limit: u64 },
    #[error("{0}")]
    Shape(ShapeError),
    /// An 835 that cannot be read (grammar, envelope, limits); names segment numbers.
    #[error("the X12 835 file cannot be read: {0}")]
    X12(x12::X12Error),
    #[error("reading the file failed: {0}")]
    Read(String),
    #[error("the upload was cancelled")]
    Cancelled,
}

impl FileError {
    fn from_csv(e: csv::Error) -> FileError {
        match e.kind() {
            csv::ErrorKind::Io(io) => FileError::Read(io.kind().to_string()),
            csv::ErrorKind::Utf8 { pos, .. } => FileError::NotUtf8 {
                line: pos.as_ref().map_or(0, |p| p.line()),
                column: "?",
            },
            // Positions only: csv's messages for these kinds carry no cell values.
            _ => FileError::NotCsv(match e.position() {
                Some(p) => format!("malformed record at line {}", p.line()),
                None => "malformed record".into(),
            }),
        }
    }
}

/// Why an upload failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("this file was already uploaded (upload {earlier})")]
    Duplicate { earlier: i64 },
    #[error("a database error stopped the upload; nothing was stored")]
    Db(#[from] DbError),
    #[error("injected failure after {0} rows; nothing was stored")]
    Injected(u64),
    /// The job's lease ran out and another worker took it over: this run's work is
    /// dropped (the other one's counts).
    #[error("the upload's processing was taken over by another worker")]
    Superseded,
}

impl IngestError {
    /// What the person does about it, as a sentence (stored after the error in the
    /// upload's message: the page and the API show both).
    pub fn how_to_fix(&self) -> &'static str {
        match self {
            IngestError::File(file) => file.how_to_fix(),
            IngestError::Duplicate { .. } => {
                "Its claims are already stored, so nothing was added; upload only files with new decisions."
            }
            IngestError::Db(_) | IngestError::Injected(_) | IngestError::Superseded => {
                "Upload the file again in a few minutes; if it fails again, tell support the upload number."
            }
        }
    }

    /// The upload's stored message: what went wrong, then how to fix the file.
    pub fn message(&self) -> String {
        format!("{self}. {}", self.how_to_fix())
    }
}

impl FileError {
    /// How to fix the file, as a sentence.
    pub fn how_to_fix(&self) -> &'static str {
        match self {
            FileError::Empty => {
                "Export the claims again and check the file is not empty before uploading it."
            }
            FileError::NoDataRows => {
                "Add the claim rows under the header row (the CSV template shows the layout)."
            }
            FileError::NotText => {
                "Upload a CSV file or an X12 835 remittance; save a spreadsheet as “CSV UTF-8 (comma delimited)” first."
            }
            FileError::Utf16 | FileError::NotUtf8 { .. } => {
                "In Excel choose File → Save As → “CSV UTF-8 (comma delimited)”, then upload the new file."
            }
            FileError::CrOnly => {
                "Open the file in a text editor, save it with Windows (CRLF) or Unix (LF) line ends and upload it again."
            }
            FileError::NotCsv(_) => {
                "Look at the line it names for a quote that is opened but not closed, fix it and upload the file again."
            }
            FileError::Header(HeaderError::MissingColumns(_)) => {
                "Add the missing columns to the header row, with these names or an alias from the column guide, and upload the file again."
            }
            FileError::Header(HeaderError::DuplicateColumn { .. }) => {
                "Keep one of the two columns (or rename the other) and upload the file again."
            }
            FileError::Header(HeaderError::EmptyHeader { .. }) => {
                "Give that column a name in the header row, or delete it, and upload the file again."
            }
            FileError::Header(HeaderError::NoColumns) => {
                "The first line must name the columns (payer, cpt, submitted_date, decided_date, outcome); the CSV template shows the layout."
            }
            FileError::TooLarge { .. } | FileError::TooManyRows { .. } => {
                "Split the file into smaller ones (for example one per month) and upload each."
            }
            FileError::Shape(ShapeError::TooManyColumns { .. }) => {
                "Remove the columns PayerWatch does not use, or look at that line for stray commas, and upload the file again."
            }
            FileError::Shape(_) => {
                "Look at that line for a quote that is opened but not closed (everything after it reads as one field), fix it and upload the file again."
            }
            FileError::X12(_) => {
                "Ask your clearinghouse to send the 835 again, or check it with an 835 validator; the message names the segment."
            }
            FileError::Read(_) | FileError::Cancelled => "Upload the file again.",
        }
    }
}

/// Final state of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStatus {
    Succeeded,
    Partial,
    Failed,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Succeeded => "succeeded",
            UploadStatus::Partial => "partial",
            UploadStatus::Failed => "failed",
        }
    }
}

/// What happened to one upload.
#[derive(Debug)]
pub struct IngestOutcome {
    pub upload_id: i64,
    pub status: UploadStatus,
    /// The stored file name (possibly `upload-<id>.csv`).
    pub file_name: String,
    /// The report, when the rows were processed (absent on file-level failures).
    pub report: Option<QualityReport>,
    /// The failure message stored on the upload.
    pub message: Option<String>,
    /// The file-level failure, if any (a failed upload whose rows were all rejected has
    /// a report and no `failure`).
    pub failure: Option<IngestError>,
    pub duplicate_of: Option<i64>,
    pub elapsed_ms: u128,
    /// The analytics request the upload made (queued in its transaction), if any.
    pub analytics_job: Option<i64>,
}

/// Records the upload as `processing` and returns its id and stored file name.
pub fn begin(db: &Db, req: &UploadRequest) -> Result<(i64, String), DbError> {
    db.write_blocking(|conn| begin_in(conn, req))
}

/// [`begin`] with the audit row of who started the upload, committed with it.
pub fn begin_audited(
    db: &Db,
    req: &UploadRequest,
    ctx: &AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(i64, String), DbError> {
    db.write_audited_blocking(
        ctx,
        move |(id, _): &(i64, String)| entry.target("upload", id),
        |conn| begin_in(conn, req),
    )
}

/// [`begin`] inside the caller's transaction (the web upload queues its job with it).
pub fn begin_in(conn: &mut DbConnection, req: &UploadRequest) -> Result<(i64, String), DbError> {
    let scope = req.scope;
    let name = display_name(&req.file_name);
    let looks_phi = phi::contains_phi(&name);
    let placeholder = if looks_phi { "upload.csv" } else { &name };
    let id = uploads::insert_processing(conn, &scope, placeholder, req.uploaded_by)?;
    if looks_phi {
        let safe = format!("upload-{id}.csv");
        repo::rename_upload(conn, &scope, id, &safe)?;
        return Ok((id, safe));
    }
    Ok((id, name))
}

/// The base name, trimmed and capped (paths from browsers and the CLI are not kept).
fn display_name(file_name: &str) -> String {
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .trim();
    let base: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    if base.is_empty() {
        "upload.csv".into()
    } else {
        base
    }
}

/// Creates the upload and processes `input` (see the module doc).
pub fn ingest<R: Read + Send>(
    db: &Db,
    req: &UploadRequest,
    input: R,
    options: &IngestOptions,
) -> Result<IngestOutcome, DbError> {
    let (id, name) = begin(db, req)?;
    process(db, req, id, name, input, options)
}

/// Processes the file of an upload created by [`begin`]. Returns `Err` only when even
/// the failure could not be recorded.
pub fn process<R: Read + Send>(
    db: &Db,
    req: &UploadRequest,
    upload_id: i64,
    file_name: String,
    input: R,
    options: &IngestOptions,
) -> Result<IngestOutcome, DbError> {
    let started = Instant::now();
    let _progress = progress::global().register(upload_id);
    let result = match req.declared_size {
        Some(size) if size > req.limits.max_bytes => Err(IngestError::File(FileError::TooLarge {
            limit: req.limits.max_bytes,
        })),
        // The header is read and judged before the writer lock and the pool connection:
        // a hostile header costs this thread only, never other tenants' writes.
        _ => match source::read_head(input, req.limits.shape) {
            Err(e) => Err(IngestError::File(FileError::Read(e.kind().to_string()))),
            Ok((head, complete, rest)) => {
                match pipeline::check_head(&head, complete, &req.limits) {
                    Err(e) => Err(IngestError::File(e)),
                    Ok(()) => {
                        let is_x12 = x12::looks_like_x12(&head);
                        let input = std::io::Cursor::new(head).chain(rest);
                        // SQLite stages into its scratch database outside the transaction
                        // and without the writer lock; the lock is taken for the commit only
                        // (see `Db::write_blocking_staged`).
                        let own_partition = req
                            .declared_size
                            .filter(|&size| size >= req.limits.own_partition_bytes)
                            .map(|_| upload_id);
                        db.write_blocking_staged(
                            |conn| ClaimWriter::open(conn, &req.scope, own_partition),
                            ClaimWriter::stages_apart,
                            |conn, writer| {
                                stage(
                                    conn, writer, req, upload_id, input, options, &_progress,
                                    is_x12,
                                )
                            },
                            |conn, writer, staged| {
                                commit(conn, writer, req, upload_id, &file_name, staged, options)
                            },
                            ClaimWriter::close,
                        )
                    }
                }
            }
        },
    };
    let elapsed_ms = started.elapsed().as_millis();
    match result {
        Ok((status, report, analytics_job)) => {
            refresh_claim_statistics(db, req, upload_id, report.accepted_rows);
            let message = (status == UploadStatus::Failed).then(|| {
                format!(
                    "every row was rejected ({} rows), so nothing was stored. The reasons below say \
             what to fix; correct the file and upload it again",
                    report.total_rows
                )
            });
            tracing::info!(
                upload_id,
                status = status.as_str(),
                rows = report.total_rows,
                accepted = report.accepted_rows,
                rejected = report.rejected_rows,
                elapsed_ms = elapsed_ms as u64,
                "upload processed"
            );
            Ok(IngestOutcome {
                upload_id,
                status,
                file_name,
                report: Some(report),
                message,
                failure: None,
                duplicate_of: None,
                elapsed_ms,
                analytics_job,
            })
        }
        // Another worker owns the upload now; it records the outcome.
        Err(err @ IngestError::Superseded) => Ok(IngestOutcome {
            upload_id,
            status: UploadStatus::Failed,
            file_name,
            report: None,
            message: Some(err.to_string()),
            failure: Some(err),
            duplicate_of: None,
            elapsed_ms,
            analytics_job: None,
        }),
        Err(err) => {
            let duplicate_of = match &err {
                IngestError::Duplicate { earlier } => Some(*earlier),
                _ => None,
            };
            let message = err.message();
            // The person reads `message`; the log gets the whole cause chain (the
            // backend's message). Values are always bound, so no row data is in it.
            tracing::warn!(upload_id, error = %crate::telemetry::ErrorChain(&err), "upload failed");
            let size = req.declared_size.unwrap_or(0) as i64;
            let scope = req.scope;
            let msg = message.clone();
            db.write_blocking(move |conn| {
                repo::mark_failed(conn, &scope, upload_id, &msg, size, duplicate_of)
            })?;
            Ok(IngestOutcome {
                upload_id,
                status: UploadStatus::Failed,
                file_name,
                report: None,
                message: Some(message),
                failure: Some(err),
                duplicate_of,
                elapsed_ms,
                analytics_job: None,
            })
        }
    }
}

/// After the commit, outside the upload's transaction: the statistics of the partition
/// that received the claims, when they are missing or stale (PostgreSQL; see
/// `claim_writer::refresh_statistics`). Best effort: the upload is stored either way, and
/// a failure here is logged, not reported to the uploader.
fn refresh_claim_statistics(db: &Db, req: &UploadRequest, upload_id: i64, added: u64) {
    if added == 0 || db.backend() != crate::db::Backend::Postgres {
        return;
    }
    let step = Instant::now();
    let refreshed = db.get().and_then(|mut conn| {
        crate::db::repo::claim_writer::refresh_statistics(&mut conn, &req.scope, upload_id, added)
    });
    match refreshed {
        Ok(analysed) => tracing::debug!(
            upload_id,
            analysed,
            ms = step.elapsed().as_millis() as u64,
            "claim statistics"
        ),
        Err(e) => tracing::warn!(
            upload_id,
            error = %crate::telemetry::ErrorChain(&e),
            "claim statistics not refreshed"
        ),
    }
}

/// What staging hands to the commit.
struct Staged {
    produced: Produced,
    spellings: pipeline::SpellingCounts,
    started: Instant,
}

/// Loads the mappings, runs producer and writer: the claims and rejections go to the
/// writer's stage (SQLite: its scratch database, outside any transaction of the main
/// database and without the writer lock; PostgreSQL: `COPY` inside the transaction).
#[allow(clippy::too_many_arguments)]
fn stage<R: Read + Send>(
    conn: &mut DbConnection,
    writer: &mut ClaimWriter,
    req: &UploadRequest,
    upload_id: i64,
    input: R,
    options: &IngestOptions,
    progress: &progress::ProgressHandle<'_>,
    is_x12: bool,
) -> Result<Staged, IngestError> {
    let scope = req.scope;
    let mappings = &Mappings::new(
        &mapping_repo::list_payer_aliases(conn, &scope)?,
        &mapping_repo::list_cpt_groups(conn, &scope)?,
    );
    // 835 only: the tenant's canonical payers by payer id (CSV rows carry none).
    let payer_ids = &payer_ids::PayerIds::from_stored(if is_x12 {
        crate::db::repo::reversals::payers_by_id(conn, &scope)?
    } else {
        Vec::new()
    });
    let claim_keys = options
        .claim_keys
        .as_ref()
        .map(|k| k.for_tenant(scope.id()));
    let args = ProduceArgs {
        mappings,
        claim_keys: claim_keys.as_ref(),
        payer_ids,
        upload_id,
        today: req.today,
        max_bytes: req.limits.max_bytes,
        max_rows: req.limits.max_rows,
        shape: req.limits.shape,
    };
    let started = Instant::now();
    let (produced, spellings): (Produced, pipeline::SpellingCounts) = std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Batch>(2);
        // Named, so profiles and thread dumps tell the parser from the writer.
        let producer = std::thread::Builder::new()
            .name("ingest-parse".into())
            .spawn_scoped(s, move || pipeline::produce(input, &args, &tx))
            .map_err(|e| FileError::Read(format!("could not start the parser: {e}")))?;
        let spellings = write_batches(
            conn, writer, &scope, mappings, upload_id, rx, options, progress,
        );
        // Dropping the receiver (inside write_batches) unblocks a producer mid-send.
        let produced = producer.join().unwrap_or(Err(FileError::Read(
            "the parser stopped unexpectedly".into(),
        )));
        let spellings = spellings?;
        Ok::<_, IngestError>((produced?, spellings))
    })?;
    Ok(Staged {
        produced,
        spellings,
        started,
    })
}

/// The transaction body: check for a duplicate, make the staged claims and rejections
/// visible, then store the report and the final status.
fn commit(
    conn: &mut DbConnection,
    writer: &mut ClaimWriter,
    req: &UploadRequest,
    upload_id: i64,
    file_name: &str,
    staged: Staged,
    options: &IngestOptions,
) -> Result<(UploadStatus, QualityReport, Option<i64>), IngestError> {
    let scope = req.scope;
    let Staged {
        mut produced,
        spellings,
        started,
    } = staged;
    // First a write: on SQLite this takes the database's write lock before the
    // transaction reads anything (see `Db::write_blocking_staged`).
    repo::mark_processing(conn, &scope, upload_id)?;

    if let Some(earlier) = repo::find_by_sha256(conn, &scope, &produced.sha256)? {
        return Err(IngestError::Duplicate { earlier });
    }
    // SQLite: the staged claims go into `claim_records` day by day (see the
    // repo); PostgreSQL copied them there already (moved = 0, moved_ms ≈ 0).
    let written_ms = started.elapsed().as_millis() as u64;
    let step = Instant::now();
    let moved = writer.finish(conn, &scope)?;
    let moved_ms = step.elapsed().as_millis() as u64;
    // SPEC §2 "Payer identity": spellings sharing a key go under one payer (this upload's
    // rows only). It reads the stored payers from the daily rollups, so it must come
    // before the upload's rollup delta is written below.
    let step = Instant::now();
    let renames = spellings::merge(conn, &scope, upload_id, &spellings, &produced.rollup)?;
    let merged_ms = step.elapsed().as_millis() as u64;
    // The daily rollups in the same transaction (issue 21), after the merge (which reads
    // them as they were before this upload), before reversals: those take the claims
    // they reverse out of the rollups again.
    let step = Instant::now();
    let rollup = std::mem::take(&mut produced.rollup);
    writer.write_rollups(conn, &scope, rollup, &renames)?;
    tracing::debug!(
        upload_id,
        moved,
        written_ms,
        moved_ms,
        merged_ms,
        rollups_ms = step.elapsed().as_millis() as u64,
        "claims written"
    );
    let reversed = crate::db::repo::reversals::apply(conn, &scope, upload_id)?;
    let mut report = produced
        .tally
        .into_report(file_name, produced.unknown_columns);
    report.x12 = produced.x12.map(|mut x| {
        x.add_reversals(&reversed, options.claim_keys.is_some());
        x
    });
    let earlier = repo::list_earlier_reports(conn, &scope, upload_id, ANOMALY_BASELINE_LIMIT)?;
    anomaly::check(&mut report, &earlier);

    let status = if report.accepted_rows == 0 {
        UploadStatus::Failed
    } else if report.rejected_rows > 0 {
        UploadStatus::Partial
    } else {
        UploadStatus::Succeeded
    };
    let message = (status == UploadStatus::Failed).then(|| {
        format!(
            "every row was rejected ({} rows), so nothing was stored. The reasons below say \
             what to fix; correct the file and upload it again",
            report.total_rows
        )
    });
    let json = serde_json::to_string(&report)
        .map_err(|_| IngestError::File(FileError::Read("report serialisation".into())))?;
    let result = repo::UploadResult {
        status: status.as_str(),
        // A failed upload keeps no hash: re-sending the same bytes (e.g. after raising a
        // limit or fixing mappings) must not be refused as a duplicate of a failure.
        sha256: (status != UploadStatus::Failed).then_some(produced.sha256.as_str()),
        size_bytes: produced.size_bytes as i64,
        total_rows: report.total_rows as i64,
        accepted_rows: report.accepted_rows as i64,
        rejected_rows: report.rejected_rows as i64,
        warning_rows: report.warning_rows as i64,
        quality_score_centi: report.score_centi(),
        message: message.as_deref(),
    };
    // A concurrent identical upload that committed first surfaces here as a unique
    // violation (a database error: nothing of this upload is stored).
    repo::finish_upload(conn, &scope, upload_id, &result, &json)?;
    // SPEC §3: a score under 90 raises a data-quality alert (same transaction).
    if let Some(score) = report.quality_score {
        crate::notify::alerting::raise_quality_alerts(
            conn,
            &scope,
            &crate::notify::alerting::UploadQuality {
                upload_id,
                file_name,
                quality_score: score,
                total_rows: report.total_rows as i64,
                rejected_rows: report.rejected_rows as i64,
            },
            crate::db::repo::now(),
        )?;
    }
    let now = crate::db::repo::now();
    // The analytics request is queued with the claims: a crash after this commit still
    // leaves it queued (never dropped).
    let analytics_job = match status {
        UploadStatus::Failed => None,
        _ if options.no_analytics_request => None,
        _ => Some(crate::db::repo::jobs::request_analytics(conn, &scope, now)?),
    };
    if let Some(fence) = &options.job {
        if let Some(follow_up) = analytics_job {
            crate::db::repo::jobs::set_follow_up(conn, fence.job_id, follow_up)?;
        }
        if !crate::db::repo::jobs::finish(conn, fence.job_id, &fence.owner, None, now)? {
            return Err(IngestError::Superseded);
        }
    } else {
        // Processed here, not by a worker (CLI `import`, `demo`): the upload page finds
        // its analytics runs through an upload job, as for a web upload.
        crate::db::repo::jobs::record_inline_upload(conn, &scope, upload_id, analytics_job, now)?;
    }
    Ok((status, report, analytics_job))
}

/// Writes batches as they arrive. On error the receiver is dropped, which stops the
/// producer at its next send.
#[allow(clippy::too_many_arguments)]
fn write_batches(
    conn: &mut DbConnection,
    writer: &mut ClaimWriter,
    scope: &TenantScope,
    mappings: &Mappings,
    upload_id: i64,
    rx: std::sync::mpsc::Receiver<Batch>,
    options: &IngestOptions,
    progress: &progress::ProgressHandle<'_>,
) -> Result<pipeline::SpellingCounts, IngestError> {
    let mut written = 0u64;
    let mut seen = 0u64;
    let mut spellings = pipeline::SpellingCounts::new();
    for batch in rx {
        if batch.accepted() > 0 {
            batch.count_unmapped(&mut spellings);
            let claims = batch.claims(mappings, scope.id(), upload_id);
            writer.write(conn, scope, &claims)?;
            written += claims.len() as u64;
        }
        if !batch.rejections.is_empty() {
            writer.reject(conn, &batch.rejections)?;
        }
        if !batch.reversals.is_empty() {
            crate::db::repo::reversals::insert(conn, scope, &batch.reversals)?;
        }
        seen += batch.rows_seen;
        progress.set(seen);
        if let Some(limit) = options.fail_after_rows
            && written >= limit
        {
            return Err(IngestError::Injected(written));
        }
    }
    Ok(spellings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_drop_paths_and_control_characters() {
        assert_eq!(display_name("/home/x/claims.csv"), "claims.csv");
        assert_eq!(display_name("C:\\exports\\Nov.csv"), "Nov.csv");
        assert_eq!(display_name("  "), "upload.csv");
        assert_eq!(display_name("a\u{7}b.csv"), "ab.csv");
    }

    #[test]
    fn file_errors_name_the_problem() {
        assert_eq!(
            FileError::TooLarge {
                limit: 200 * 1024 * 1024
            }
            .to_string(),
            "the file is larger than the limit of 200 MB"
        );
        assert_eq!(
            FileError::Header(HeaderError::MissingColumns(vec!["cpt"])).to_string(),
            "required column is missing: cpt"
        );
    }
}
