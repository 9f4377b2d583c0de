//! The job queue (SPEC §9a): uploads and analytics runs, claimed with a lease that a
//! heartbeat renews (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on
//! SQLite). Workers serve every tenant, so the queue functions work across tenants;
//! what a page reads takes a [`TenantScope`].

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{jobs, uploads};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;
use crate::on_backend;

pub const UPLOAD: &str = "upload";
pub const ANALYTICS: &str = "analytics";
/// Re-mapping a tenant's stored claims to its current mappings (`services::mappings`).
pub const REMAP: &str = "remap";

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// Attempts a job gets before an interruption fails it for good (SPEC §2, §9a).
pub const MAX_ATTEMPTS: i64 = 3;

/// What a person reads on an upload whose processing was interrupted for good.
pub const UPLOAD_INTERRUPTED: &str = "the upload was interrupted: the server processing it \
     stopped 3 times; nothing of it was stored, please upload the file again";

/// The error of an interrupted analytics job whose work a queued request took over
/// (followed by that request's id and "runs instead").
pub const SUPERSEDED_PREFIX: &str = "interrupted; the queued analytics request";

/// A job held by `owner`: the transaction that commits the job's effects ends it with
/// [`finish`] under this fence, so they commit only while the lease is still `owner`'s.
#[derive(Debug, Clone)]
pub struct JobFence {
    pub job_id: i64,
    pub owner: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: i64,
    pub customer_id: i64,
    pub kind: String,
    pub upload_id: Option<i64>,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub run_after: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub error: Option<String>,
    pub follow_up_job_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    /// Rows an upload job had processed at its heartbeat's last renewal.
    pub progress_rows: Option<i64>,
    /// Bytes of its file an upload job had read at its heartbeat's last renewal.
    pub progress_bytes: Option<i64>,
}

/// Queues an upload's processing.
pub fn enqueue_upload(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    payload: &str,
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    Ok(on_backend!(conn, c => diesel::insert_into(jobs::table)
        .values((
            jobs::customer_id.eq(scope.id()),
            jobs::kind.eq(UPLOAD),
            jobs::upload_id.eq(Some(upload_id)),
            jobs::payload.eq(payload),
            jobs::state.eq(QUEUED),
            jobs::run_after.eq(now),
            jobs::created_at.eq(now),
        ))
        .returning(jobs::id)
        .get_result::<i64>(c))?)
}

/// Asks for an analytics run of the tenant: joins the request already queued, if any
/// (requests coalesce: a run in progress is followed by exactly one more), else queues
/// one. Returns the queued job's id.
pub fn request_analytics(
    conn: &mut DbConnection,
    scope: &TenantScope,
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    // The partial unique index keeps one queued request per tenant, whoever inserts.
    on_backend!(conn, c => diesel::insert_into(jobs::table)
        .values((
            jobs::customer_id.eq(scope.id()),
            jobs::kind.eq(ANALYTICS),
            jobs::payload.eq("{}"),
            jobs::state.eq(QUEUED),
            jobs::run_after.eq(now),
            jobs::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(jobs::table
        .filter(jobs::customer_id.eq(scope.id()))
        .filter(jobs::kind.eq(ANALYTICS))
        .filter(jobs::state.eq(QUEUED))
        .select(jobs::id)
        .first(conn)?)
}

/// Claims the oldest due job for `owner` until `now + lease`. An analytics job waits
/// while another of its tenant runs (one run at a time). Call inside a write
/// transaction.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    lease: Duration,
) -> Result<Option<Job>, DbError> {
    let Some(id) = first_due(conn, now, true)? else {
        return Ok(None);
    };
    claim_one(conn, id, owner, now, lease)
}

/// Whether a job is due now: a read, so an idle SQLite worker looks without taking the
/// write lock.
pub fn has_due(conn: &mut DbConnection, now: NaiveDateTime) -> Result<bool, DbError> {
    Ok(first_due(conn, now, false)?.is_some())
}

/// The oldest due job a worker may run (analytics: not while the tenant's run is in
/// progress). `lock`: on PostgreSQL, lock the row for the claim, skipping rows other
/// instances are claiming.
fn first_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lock: bool,
) -> Result<Option<i64>, DbError> {
    let mut busy = |kind: &str| -> Result<Vec<i64>, DbError> {
        Ok(jobs::table
            .filter(jobs::kind.eq(kind))
            .filter(jobs::state.eq(RUNNING))
            .select(jobs::customer_id)
            .load(conn)?)
    };
    let busy_tenants = busy(ANALYTICS)?;
    // One re-map of a tenant at a time: a second one waits for the first's steps.
    let remapping_tenants = busy(REMAP)?;
    let due = jobs::table
        .filter(jobs::state.eq(QUEUED))
        .filter(jobs::run_after.le(now))
        .filter(
            jobs::kind
                .ne(ANALYTICS)
                .or(diesel::dsl::not(jobs::customer_id.eq_any(busy_tenants))),
        )
        .filter(jobs::kind.ne(REMAP).or(diesel::dsl::not(
            jobs::customer_id.eq_any(remapping_tenants),
        )))
        .order(jobs::id.asc())
        .select(jobs::id);
    Ok(match conn {
        DbConnection::Postgresql(c) if lock => {
            due.for_update().skip_locked().first(c).optional()?
        }
        DbConnection::Postgresql(c) => due.first(c).optional()?,
        DbConnection::Sqlite(c) => due.first(c).optional()?,
    })
}

/// Claims one queued job by id (a CLI import runs its own analytics request).
pub fn claim_one(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    now: NaiveDateTime,
    lease: Duration,
) -> Result<Option<Job>, DbError> {
    let changed = diesel::update(
        jobs::table
            .filter(jobs::id.eq(id))
            .filter(jobs::state.eq(QUEUED)),
    )
    .set((
        jobs::state.eq(RUNNING),
        jobs::lease_owner.eq(Some(owner)),
        jobs::lease_expires_at.eq(Some(now + lease)),
        jobs::attempts.eq(jobs::attempts + 1),
        jobs::started_at.eq(Some(now)),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(None);
    }
    Ok(Some(
        jobs::table.find(id).select(Job::as_select()).first(conn)?,
    ))
}

/// "Running and still held by `owner`": the fence of every write a lease holder makes
/// (renew, finish, release), so a job taken over after its lease ran out is left alone.
fn held_by(
    owner: &str,
) -> diesel::dsl::And<
    diesel::dsl::Eq<jobs::state, &'static str>,
    diesel::dsl::Eq<jobs::lease_owner, &str>,
> {
    jobs::state.eq(RUNNING).and(jobs::lease_owner.eq(owner))
}

/// Renews the leases `owner` holds on `ids` (its heartbeat).
pub fn renew(
    conn: &mut DbConnection,
    owner: &str,
    ids: &[i64],
    until: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        jobs::table
            .filter(jobs::id.eq_any(ids))
            .filter(held_by(owner)),
    )
    .set(jobs::lease_expires_at.eq(Some(until)))
    .execute(conn)?)
}

/// Records how far a job `owner` holds has got (rows processed, bytes read), with its
/// heartbeat's renewal: the upload page of any instance reads it.
pub fn record_progress(
    conn: &mut DbConnection,
    owner: &str,
    id: i64,
    rows: u64,
    bytes: u64,
) -> Result<(), DbError> {
    diesel::update(jobs::table.filter(jobs::id.eq(id)).filter(held_by(owner)))
        .set((
            jobs::progress_rows.eq(Some(i64::try_from(rows).unwrap_or(i64::MAX))),
            jobs::progress_bytes.eq(Some(i64::try_from(bytes).unwrap_or(i64::MAX))),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends a job `owner` still holds: `succeeded`, or `failed` with `error`. Returns false
/// when the job is no longer this owner's (its lease ran out and it was taken over):
/// inside the transaction that commits the job's effects, that is the fence that makes
/// them commit once.
pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    error: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let changed = diesel::update(jobs::table.filter(jobs::id.eq(id)).filter(held_by(owner)))
        .set((
            jobs::state.eq(if error.is_some() { FAILED } else { SUCCEEDED }),
            jobs::error.eq(error),
            jobs::finished_at.eq(Some(now)),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Queues a re-map of the tenant's stored claims with `payload` (its plan), or gives the
/// re-map already queued (not yet started) this newer plan: requests coalesce as analytics
/// requests do. Returns the queued job's id.
pub fn request_remap(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payload: &str,
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    let queued: Option<i64> = jobs::table
        .filter(jobs::customer_id.eq(scope.id()))
        .filter(jobs::kind.eq(REMAP))
        .filter(jobs::state.eq(QUEUED))
        .select(jobs::id)
        .first(conn)
        .optional()?;
    if let Some(id) = queued {
        diesel::update(jobs::table.filter(jobs::id.eq(id)))
            .set(jobs::payload.eq(payload))
            .execute(conn)?;
        return Ok(id);
    }
    Ok(on_backend!(conn, c => diesel::insert_into(jobs::table)
        .values((
            jobs::customer_id.eq(scope.id()),
            jobs::kind.eq(REMAP),
            jobs::payload.eq(payload),
            jobs::state.eq(QUEUED),
            jobs::run_after.eq(now),
            jobs::created_at.eq(now),
        ))
        .returning(jobs::id)
        .get_result::<i64>(c))?)
}

/// Records a step of a job `owner` holds: its payload (what it has done so far) and rows
/// processed. Returns false when the job is no longer this owner's: inside the step's
/// transaction, that is the fence that keeps a taken-over job's steps from committing.
pub fn record_step(
    conn: &mut DbConnection,
    owner: &str,
    id: i64,
    payload: &str,
    rows: u64,
) -> Result<bool, DbError> {
    let changed = diesel::update(jobs::table.filter(jobs::id.eq(id)).filter(held_by(owner)))
        .set((
            jobs::payload.eq(payload),
            jobs::progress_rows.eq(Some(i64::try_from(rows).unwrap_or(i64::MAX))),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// The tenant's latest job of `kind` (the mappings page's re-map status).
pub fn latest_of_kind(
    conn: &mut DbConnection,
    scope: &TenantScope,
    kind: &str,
) -> Result<Option<Job>, DbError> {
    Ok(jobs::table
        .filter(jobs::customer_id.eq(scope.id()))
        .filter(jobs::kind.eq(kind))
        .order(jobs::id.desc())
        .select(Job::as_select())
        .first(conn)
        .optional()?)
}

/// Records the analytics request an upload job made.
pub fn set_follow_up(conn: &mut DbConnection, id: i64, follow_up: i64) -> Result<(), DbError> {
    diesel::update(jobs::table.filter(jobs::id.eq(id)))
        .set(jobs::follow_up_job_id.eq(Some(follow_up)))
        .execute(conn)?;
    Ok(())
}

/// Puts jobs `owner` holds back in the queue, due at `run_after`, without counting the
/// attempt (a graceful shutdown hands them to another instance). Returns how many.
pub fn release(
    conn: &mut DbConnection,
    owner: &str,
    ids: &[i64],
    run_after: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        jobs::table
            .filter(jobs::id.eq_any(ids))
            .filter(held_by(owner)),
    )
    .set((
        jobs::state.eq(QUEUED),
        jobs::lease_owner.eq(None::<String>),
        jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        jobs::attempts.eq(jobs::attempts - 1),
        jobs::run_after.eq(run_after),
    ))
    .execute(conn)?)
}

/// Re-queues a job `owner` holds for later without counting the attempt.
pub fn postpone(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    run_after: NaiveDateTime,
) -> Result<(), DbError> {
    release(conn, owner, &[id], run_after).map(|_| ())
}

/// What recovery did with one job whose lease ran out.
#[derive(Debug, Clone)]
pub struct Recovered {
    pub job: Job,
    /// `true`: queued again (after a backoff), or its work taken over by the tenant's
    /// queued analytics request; `false`: failed for good.
    pub retried: bool,
}

/// Jobs whose lease ran out (their process died), except `alive_owner`'s (this process:
/// its jobs are running here even when a long SQLite write delayed their heartbeat).
/// Each is queued again after a backoff while attempts remain, else failed with a
/// message a person understands — an upload job's upload too (nothing of it was
/// stored: its transaction died with the process). Call inside a write transaction.
pub fn recover_expired(
    conn: &mut DbConnection,
    alive_owner: &str,
    now: NaiveDateTime,
) -> Result<Vec<Recovered>, DbError> {
    let expired: Vec<Job> = jobs::table
        .filter(jobs::state.eq(RUNNING))
        .filter(jobs::lease_expires_at.lt(now))
        .filter(jobs::lease_owner.ne(alive_owner))
        .order(jobs::id.asc())
        .limit(100)
        .select(Job::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(expired.len());
    for job in expired {
        let retried = job.attempts < MAX_ATTEMPTS;
        let target = jobs::table
            .filter(jobs::id.eq(job.id))
            .filter(jobs::state.eq(RUNNING));
        // A dead analytics job whose tenant already has a request queued (an upload
        // finished while it ran) cannot be queued again: one queued request per tenant
        // (the partial unique index), and the insert's failure would roll back this whole
        // recovery, every time — all expired jobs would stay `running` for good (seen by
        // scripts/chaos on PostgreSQL). The queued request reads every claim when it
        // runs, so the dead one's work is covered: it ends, its uploads follow the
        // queued one.
        let successor: Option<i64> = if retried && job.kind == ANALYTICS {
            jobs::table
                .filter(jobs::customer_id.eq(job.customer_id))
                .filter(jobs::kind.eq(ANALYTICS))
                .filter(jobs::state.eq(QUEUED))
                .select(jobs::id)
                .first(conn)
                .optional()?
        } else {
            None
        };
        if let Some(successor) = successor {
            diesel::update(target)
                .set((
                    jobs::state.eq(FAILED),
                    jobs::lease_owner.eq(None::<String>),
                    jobs::lease_expires_at.eq(None::<NaiveDateTime>),
                    jobs::finished_at.eq(Some(now)),
                    jobs::error.eq(Some(format!(
                        "{SUPERSEDED_PREFIX} {successor} runs instead"
                    ))),
                ))
                .execute(conn)?;
            diesel::update(jobs::table.filter(jobs::follow_up_job_id.eq(Some(job.id))))
                .set(jobs::follow_up_job_id.eq(Some(successor)))
                .execute(conn)?;
        } else if retried {
            // 2 s, 4 s: a crash loop does not spin.
            let backoff = Duration::seconds(2 * job.attempts.max(1));
            diesel::update(target)
                .set((
                    jobs::state.eq(QUEUED),
                    jobs::lease_owner.eq(None::<String>),
                    jobs::lease_expires_at.eq(None::<NaiveDateTime>),
                    jobs::run_after.eq(now + backoff),
                    jobs::error.eq(Some("interrupted; retrying")),
                ))
                .execute(conn)?;
        } else {
            let message = match job.kind.as_str() {
                UPLOAD => UPLOAD_INTERRUPTED,
                _ => "interrupted: the process running it stopped 3 times",
            };
            diesel::update(target)
                .set((
                    jobs::state.eq(FAILED),
                    jobs::lease_owner.eq(None::<String>),
                    jobs::lease_expires_at.eq(None::<NaiveDateTime>),
                    jobs::finished_at.eq(Some(now)),
                    jobs::error.eq(Some(message)),
                ))
                .execute(conn)?;
            if let Some(upload_id) = job.upload_id {
                diesel::update(
                    uploads::table
                        .filter(uploads::id.eq(upload_id))
                        .filter(uploads::customer_id.eq(job.customer_id))
                        .filter(uploads::status.eq("processing")),
                )
                .set((
                    uploads::status.eq("failed"),
                    uploads::message.eq(Some(message)),
                    uploads::finished_at.eq(Some(now)),
                ))
                .execute(conn)?;
            }
        }
        out.push(Recovered { job, retried });
    }
    Ok(out)
}

/// Records an upload processed in its own process (CLI `import`, `demo`) as a finished
/// upload job, so the upload page finds its analytics request (`follow_up`) the same way
/// as for a web upload. Inside the ingest transaction.
pub fn record_inline_upload(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    follow_up: Option<i64>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(jobs::table)
        .values((
            jobs::customer_id.eq(scope.id()),
            jobs::kind.eq(UPLOAD),
            jobs::upload_id.eq(Some(upload_id)),
            jobs::payload.eq("{}"),
            jobs::state.eq(SUCCEEDED),
            jobs::attempts.eq(1_i64),
            jobs::run_after.eq(now),
            jobs::follow_up_job_id.eq(follow_up),
            jobs::created_at.eq(now),
            jobs::started_at.eq(Some(now)),
            jobs::finished_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The upload job of an upload.
pub fn find_for_upload(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
) -> Result<Option<Job>, DbError> {
    Ok(jobs::table
        .filter(jobs::customer_id.eq(scope.id()))
        .filter(jobs::upload_id.eq(Some(upload_id)))
        .filter(jobs::kind.eq(UPLOAD))
        .order(jobs::id.desc())
        .select(Job::as_select())
        .first(conn)
        .optional()?)
}

/// One of the tenant's jobs.
pub fn find(conn: &mut DbConnection, scope: &TenantScope, id: i64) -> Result<Job, DbError> {
    Ok(jobs::table
        .filter(jobs::customer_id.eq(scope.id()))
        .filter(jobs::id.eq(id))
        .select(Job::as_select())
        .first(conn)?)
}

/// A queued job's place in line (1 = next), counting every tenant's due work ahead of
/// it: that is what it waits for.
pub fn queue_position(conn: &mut DbConnection, job: &Job) -> Result<i64, DbError> {
    let ahead: i64 = jobs::table
        .filter(jobs::state.eq(QUEUED))
        .filter(jobs::id.lt(job.id))
        .count()
        .get_result(conn)?;
    Ok(ahead + 1)
}

/// The tenant's analytics job in flight: queued or running (CLI runs wait on it).
pub fn open_analytics(conn: &mut DbConnection, scope: &TenantScope) -> Result<Vec<Job>, DbError> {
    Ok(jobs::table
        .filter(jobs::customer_id.eq(scope.id()))
        .filter(jobs::kind.eq(ANALYTICS))
        .filter(jobs::state.eq_any([QUEUED, RUNNING]))
        .order(jobs::id.asc())
        .select(Job::as_select())
        .load(conn)?)
}

/// Payloads of upload jobs still queued or running: the spooled files still needed.
pub fn live_upload_payloads(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    Ok(jobs::table
        .filter(jobs::kind.eq(UPLOAD))
        .filter(jobs::state.eq_any([QUEUED, RUNNING]))
        .select(jobs::payload)
        .load(conn)?)
}

/// Counts per state (the chaos drill's table, tests).
pub fn count_by_state(conn: &mut DbConnection, state: &str) -> Result<i64, DbError> {
    Ok(jobs::table
        .filter(jobs::state.eq(state))
        .count()
        .get_result(conn)?)
}
