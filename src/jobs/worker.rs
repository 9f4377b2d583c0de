//! The worker pool: threads that claim due jobs, run them with the [`RunJob`] they were
//! started with and record the outcome, a heartbeat for their leases, and recovery of
//! jobs whose process died.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::context::{JobContext, JobOutcome, RunJob};
use super::heartbeat::Heartbeat;
use crate::db::repo::jobs::{self as repo, Job};

/// How long an idle worker sleeps before looking for work again.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// A spooled file younger than this is never swept (it may still be arriving).
const SWEEP_MIN_AGE: Duration = Duration::from_secs(15 * 60);

/// Running workers; [`WorkerPool::shutdown`] stops them.
pub struct WorkerPool {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    heartbeat: Arc<Heartbeat>,
    ctx: Arc<JobContext>,
}

impl WorkerPool {
    /// Starts `n` workers running jobs with `run`, after recovering dead jobs and sweeping
    /// the spool directory.
    pub fn start(ctx: JobContext, n: usize, run: RunJob) -> WorkerPool {
        let ctx = Arc::new(ctx);
        let heartbeat = Arc::new(Heartbeat::start(ctx.db.clone(), ctx.owner.clone()));
        recover(&ctx);
        sweep(&ctx);
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .filter_map(|i| {
                let (ctx, stop, hb) = (Arc::clone(&ctx), Arc::clone(&stop), Arc::clone(&heartbeat));
                std::thread::Builder::new()
                    .name(format!("job-worker-{i}"))
                    .spawn(move || work(&ctx, run, &stop, &hb))
                    .ok()
            })
            .collect();
        tracing::info!(workers = n, "job workers started");
        WorkerPool {
            stop,
            threads,
            heartbeat,
            ctx,
        }
    }

    /// Stops claiming, lets running jobs finish for `grace`, then releases the ones still
    /// running to the queue (another instance, or this one restarted, runs them; the
    /// attempt is not counted). Blocking.
    pub fn shutdown(self, grace: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + grace;
        while self.threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let held = self.heartbeat.held();
        if !held.is_empty() {
            let owner = self.ctx.owner.clone();
            let now = crate::db::repo::now();
            match self
                .ctx
                .db
                .write_blocking(|c| repo::release(c, &owner, &held, now))
            {
                Ok(n) => tracing::warn!(
                    released = n,
                    "shutdown: unfinished jobs released to the queue"
                ),
                Err(err) => {
                    tracing::error!(error = %crate::telemetry::ErrorChain(&err), "shutdown: releasing jobs failed; their leases will run out")
                }
            }
        }
        tracing::info!("job workers stopped");
    }
}

fn work(ctx: &JobContext, run: RunJob, stop: &AtomicBool, heartbeat: &Heartbeat) {
    let recover_every = crate::jobs::lease_duration()
        .to_std()
        .unwrap_or(Duration::from_secs(30))
        / 2;
    let mut last_recovery = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if last_recovery.elapsed() >= recover_every {
            recover(ctx);
            last_recovery = Instant::now();
        }
        let now = crate::db::repo::now();
        let lease = crate::jobs::lease_duration();
        // Look before claiming: an idle worker would otherwise take SQLite's write lock
        // five times a second, queueing every page's session write behind it.
        let due = ctx.db.get().and_then(|mut c| repo::has_due(&mut c, now));
        if matches!(due, Ok(false)) {
            std::thread::sleep(IDLE_POLL);
            continue;
        }
        let claimed = ctx
            .db
            .write_blocking(|c| repo::claim(c, &ctx.owner, now, lease));
        match claimed {
            Ok(Some(job)) => {
                heartbeat.hold(job.id, job.upload_id);
                run_one(ctx, run, &job);
                heartbeat.drop_job(job.id);
            }
            Ok(None) => std::thread::sleep(IDLE_POLL),
            Err(err) => {
                tracing::warn!(error = %crate::telemetry::ErrorChain(&err), "claiming a job failed");
                std::thread::sleep(IDLE_POLL * 5);
            }
        }
    }
}

fn run_one(ctx: &JobContext, run: RunJob, job: &Job) {
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(ctx, job)))
        .unwrap_or_else(|_| {
            JobOutcome::Failed("the job stopped unexpectedly (internal error)".into())
        });
    let now = crate::db::repo::now();
    let recorded = match &outcome {
        JobOutcome::Recorded => Ok(true),
        JobOutcome::Succeeded => ctx
            .db
            .write_blocking(|c| repo::finish(c, job.id, &ctx.owner, None, now)),
        JobOutcome::Failed(message) => ctx
            .db
            .write_blocking(|c| repo::finish(c, job.id, &ctx.owner, Some(message), now)),
        JobOutcome::Postponed(after) => {
            let run_after = now + chrono::Duration::from_std(*after).unwrap_or_default();
            ctx.db
                .write_blocking(|c| repo::postpone(c, job.id, &ctx.owner, run_after))
                .map(|()| true)
        }
    };
    match recorded {
        Ok(true) => tracing::info!(
            job_id = job.id,
            kind = job.kind.as_str(),
            outcome = ?outcome,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "job done"
        ),
        Ok(false) => tracing::warn!(
            job_id = job.id,
            "job was taken over by another worker after its lease ran out; its outcome here is dropped"
        ),
        Err(err) => {
            tracing::error!(job_id = job.id, error = %crate::telemetry::ErrorChain(&err), "recording a job's outcome failed")
        }
    }
}

/// Retries or fails jobs whose process died; removes the files of uploads that failed.
fn recover(ctx: &JobContext) {
    let now = crate::db::repo::now();
    match ctx
        .db
        .write_blocking(|c| repo::recover_expired(c, &ctx.owner, now))
    {
        Ok(recovered) => {
            for r in recovered {
                tracing::warn!(
                    job_id = r.job.id,
                    kind = r.job.kind.as_str(),
                    attempts = r.job.attempts,
                    retried = r.retried,
                    "recovered a job whose process stopped"
                );
                if !r.retried
                    && r.job.kind == repo::UPLOAD
                    && let Ok(payload) =
                        serde_json::from_str::<super::UploadPayload>(&r.job.payload)
                {
                    ctx.spool.remove(&payload.spool);
                }
            }
        }
        Err(err) => {
            tracing::warn!(error = %crate::telemetry::ErrorChain(&err), "job recovery failed")
        }
    }
}

/// Removes spooled files no queued or running job needs.
fn sweep(ctx: &JobContext) {
    let live = ctx
        .db
        .get()
        .and_then(|mut c| repo::live_upload_payloads(&mut c));
    let live: HashSet<String> = match live {
        Ok(payloads) => payloads
            .iter()
            .filter_map(|p| serde_json::from_str::<super::UploadPayload>(p).ok())
            .map(|p| p.spool)
            .collect(),
        Err(err) => {
            tracing::warn!(error = %crate::telemetry::ErrorChain(&err), "spool sweep skipped");
            return;
        }
    };
    let removed = ctx.spool.sweep(&live, SWEEP_MIN_AGE);
    if removed > 0 {
        tracing::warn!(removed, "removed spooled upload files no job needs");
    }
}
