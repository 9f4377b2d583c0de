//! Report runs: aggregate a tenant's claims in SQL (one grouped query per window), apply
//! the product's rules (`domain::analytics`) in the tenant's mode, and store the
//! significant findings as events — all or nothing. The other mode is computed on the
//! same data too, so the run can say how many events each mode would raise.

#[cfg(test)]
mod acceptance;
pub mod charts;
mod inputs;
pub mod overview;
mod rollup_source;
pub mod simulate;
mod source;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::db::repo::analytics::{self as repo, NewDriftEvent, RunResult};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::analytics::windows::{self, Window, WindowPair};
use crate::domain::analytics::{Finding, Mode, Product, RunOutcome};
use crate::domain::stats::SeverityLabel;
use crate::domain::tenant::TenantScope;
use crate::notify::alerting;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("a {0} run is already in progress for this customer; try again when it finishes")]
    AlreadyRunning(&'static str),
    #[error("the data's dates are out of range: {0}")]
    Window(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: i64,
    pub product: &'static str,
    pub mode: &'static str,
    pub as_of: Option<NaiveDate>,
    pub rows_scanned: i64,
    /// Claims the run's windows covered (SPEC §9), from the daily rollups.
    pub claims_covered: i64,
    pub groups_considered: usize,
    pub groups_insufficient: usize,
    pub events_created: usize,
    pub events_found: usize,
    pub sound_events: usize,
    pub compat_events: usize,
}

/// Runs one product for one tenant. `as_of` defaults to the day after the latest
/// decision in the data, so the same data always gives the same result.
pub fn run(
    db: &Db,
    scope: &TenantScope,
    product: Product,
    as_of: Option<NaiveDate>,
    trigger: &str,
) -> Result<RunSummary, ReportError> {
    run_with(
        db,
        scope,
        product,
        as_of,
        &RunOptions {
            trigger,
            job_id: None,
            wait: false,
        },
    )
}

/// How a run is started.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    pub trigger: &'a str,
    /// The analytics job the run belongs to (the upload page lists a job's runs).
    pub job_id: Option<i64>,
    /// When another run of the product is in progress, wait for it to end (or for its
    /// lease to run out) and then run, instead of failing "already in progress": the
    /// request is followed, never dropped (SPEC §9a).
    pub wait: bool,
}

/// How often a waiting run looks whether the one in progress has ended.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// [`run`] with its options. The run holds a lease on its `report_runs` row that a
/// heartbeat renews while it computes; a run whose process died stops counting as "in
/// progress" once its lease runs out.
pub fn run_with(
    db: &Db,
    scope: &TenantScope,
    product: Product,
    as_of: Option<NaiveDate>,
    options: &RunOptions<'_>,
) -> Result<RunSummary, ReportError> {
    let mut conn = db.get()?;
    // An unknown stored mode falls back to the recommended one.
    let mode = repo::analytics_mode(&mut conn, scope)?
        .parse::<Mode>()
        .unwrap_or_default();
    let parameters = serde_json::json!({ "as_of": as_of, "mode": mode.as_str() }).to_string();
    let lease = crate::jobs::lease_duration();
    let run_id = loop {
        let started = db.write_blocking(|c| {
            repo::start_run(
                c,
                scope,
                &repo::NewRun {
                    product: product.as_str(),
                    mode: mode.as_str(),
                    trigger: options.trigger,
                    parameters_json: &parameters,
                    lease_until: crate::db::repo::now() + lease,
                    job_id: options.job_id,
                },
            )
        });
        match started {
            Ok(id) => break id,
            Err(DbError::Duplicate(_)) if options.wait => std::thread::sleep(WAIT_POLL),
            Err(DbError::Duplicate(_)) => {
                return Err(ReportError::AlreadyRunning(product.label()));
            }
            Err(other) => return Err(ReportError::Db(other)),
        }
    };
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let outcome = std::thread::scope(|s| {
        let heartbeat = std::thread::Builder::new()
            .name("run-heartbeat".into())
            .spawn_scoped(s, move || {
                let every = (lease / 3).to_std().unwrap_or(WAIT_POLL);
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    let until = crate::db::repo::now() + lease;
                    if let Err(err) =
                        db.write_blocking(|c| repo::renew_run_lease(c, scope, run_id, until))
                    {
                        tracing::warn!(run_id, error = %crate::telemetry::ErrorChain(&err), "run heartbeat failed");
                    }
                }
            });
        let outcome = compute_and_store(db, &mut conn, scope, product, mode, as_of, run_id);
        drop(stop);
        if let Ok(handle) = heartbeat {
            let _ = handle.join();
        }
        outcome
    });
    match outcome {
        Ok(summary) => Ok(summary),
        Err(err) => {
            let message = err.to_string();
            tracing::warn!(run_id, error = %crate::telemetry::ErrorChain(&err), "report run failed");
            // The run's events were never committed; record why it failed.
            let _ = db.write_blocking(|c| repo::fail_run(c, scope, run_id, &message));
            Err(err)
        }
    }
}

fn compute_and_store(
    db: &Db,
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: Product,
    mode: Mode,
    as_of: Option<NaiveDate>,
    run_id: i64,
) -> Result<RunSummary, ReportError> {
    let as_of = match as_of {
        Some(date) => Some(date),
        None => crate::db::repo::rollups::latest_decided(conn, scope)?
            .map(windows::as_of_after)
            .transpose()
            .map_err(|e| ReportError::Window(e.to_string()))?,
    };
    let Some(as_of) = as_of else {
        // No claims yet: a successful, empty run.
        db.write_blocking(|c| {
            repo::finish_run(
                c,
                scope,
                run_id,
                &RunResult {
                    as_of: None,
                    rows_scanned: 0,
                    claims_covered: 0,
                    groups_considered: 0,
                    groups_insufficient: 0,
                    events_created: 0,
                    comparison_json: Some(r#"{"sound":0,"compat":0}"#),
                    insufficient_json: Some("[]"),
                },
            )
        })?;
        return Ok(empty_summary(run_id, product, mode));
    };

    let other = match mode {
        Mode::Sound => Mode::Compat,
        Mode::Compat => Mode::Sound,
    };
    let (chosen, alternative) = evaluate_both(db, conn, scope, product, [mode, other], as_of)?;
    let (sound_events, compat_events) = match mode {
        Mode::Sound => (
            chosen.outcome.events().count(),
            alternative.outcome.events().count(),
        ),
        Mode::Compat => (
            alternative.outcome.events().count(),
            chosen.outcome.events().count(),
        ),
    };
    let comparison =
        serde_json::json!({ "sound": sound_events, "compat": compat_events }).to_string();
    let insufficient =
        serde_json::to_string(&chosen.outcome.insufficient).unwrap_or_else(|_| "[]".into());

    let now = crate::db::repo::now();
    let events: Vec<NewDriftEvent> = chosen
        .outcome
        .events()
        .map(|f| to_event(scope, run_id, f, chosen.windows_for(f), now))
        .collect();
    let found = events.len();
    let created = db.write_blocking(|c| {
        let mut created = 0usize;
        for mut event in events {
            let previous = repo::previous_occurrence(c, scope, &event)?;
            if let Some((first, _)) = &previous {
                event.continuing = true;
                event.first_event_id = Some(*first);
            }
            if let Some(event_id) = repo::insert_event_once(c, scope, &event)? {
                created += 1;
                // Alerts only for new keys, or when a continuing finding got more severe.
                let escalated = previous
                    .as_ref()
                    .is_none_or(|(_, label)| severity(&event.severity_label) > severity(label));
                if escalated {
                    alerting::raise_alerts(c, scope, event_id, &event, now)?;
                }
            }
        }
        repo::finish_run(
            c,
            scope,
            run_id,
            &RunResult {
                as_of: Some(as_of),
                rows_scanned: chosen.rows_scanned,
                claims_covered: chosen.claims_covered,
                groups_considered: chosen.outcome.groups_considered as i64,
                groups_insufficient: chosen.outcome.insufficient.len() as i64,
                events_created: created as i64,
                comparison_json: Some(&comparison),
                insufficient_json: Some(&insufficient),
            },
        )?;
        Ok::<_, DbError>(created)
    })?;
    Ok(RunSummary {
        run_id,
        product: product.as_str(),
        mode: mode.as_str(),
        as_of: Some(as_of),
        rows_scanned: chosen.rows_scanned,
        claims_covered: chosen.claims_covered,
        groups_considered: chosen.outcome.groups_considered,
        groups_insufficient: chosen.outcome.insufficient.len(),
        events_created: created,
        events_found: found,
        sound_events,
        compat_events,
    })
}

/// The aggregate statements a run of `product` issues (both modes: a run computes the
/// other mode too), with the tenant and dates inlined — benchmarks run them through the
/// database's own client to compare with the whole run.
pub fn aggregate_statements(
    db: &Db,
    scope: &TenantScope,
    product: Product,
    as_of: Option<NaiveDate>,
) -> Result<Vec<String>, ReportError> {
    let as_of = match as_of {
        Some(date) => Some(date),
        None => {
            let mut conn = db.get()?;
            repo::latest_decided(&mut conn, scope)?
                .map(windows::as_of_after)
                .transpose()
                .map_err(|e| ReportError::Window(e.to_string()))?
        }
    };
    let Some(as_of) = as_of else {
        return Ok(Vec::new());
    };
    let mut statements = Vec::new();
    for mode in [Mode::Sound, Mode::Compat] {
        for (aggregate, bucket, window) in inputs::plan(product, mode, as_of)? {
            statements.push(aggregate.literal_sql(bucket, scope, window.start, window.end));
        }
    }
    Ok(statements)
}

/// One product and mode evaluated from the daily rollups and from claims: `[rollups,
/// claims]`, each outcome with its rows counted and its claims covered — what the
/// equivalence test compares (issue 21: identical results, every kind, both modes).
pub fn evaluate_rollups_and_claims(
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: Product,
    mode: Mode,
    as_of: NaiveDate,
) -> Result<[(RunOutcome, i64, i64); 2], ReportError> {
    let rollups = inputs::evaluate(conn, scope, product, mode, as_of)?;
    let claims = inputs::evaluate_from_claims(conn, scope, product, mode, as_of)?;
    Ok([
        (
            rollups.outcome,
            rollups.rows_scanned,
            rollups.claims_covered,
        ),
        (claims.outcome, claims.rows_scanned, claims.claims_covered),
    ])
}

/// Evaluates the tenant's mode and the other one (for the comparison). Both read the same
/// day rows, read and decoded once here; when the pool has a second connection free
/// (DenialScope's reason totals are read per mode) they evaluate side by side — on two
/// cores about half the wall time of the rest of a run (docs/performance.md); otherwise
/// one after the other on `conn`.
fn evaluate_both(
    db: &Db,
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: Product,
    [mode, other]: [Mode; 2],
    as_of: NaiveDate,
) -> Result<(Evaluation, Evaluation), ReportError> {
    let from = inputs::earliest_start(product, &[mode, other], as_of)?;
    let rows = Arc::new(rollup_source::DayRows::load(conn, scope, from)?);
    let Ok(mut second) = db.get_timeout(std::time::Duration::from_millis(250)) else {
        return Ok((
            inputs::evaluate_with_rows(conn, scope, Arc::clone(&rows), product, mode, as_of)?,
            inputs::evaluate_with_rows(conn, scope, rows, product, other, as_of)?,
        ));
    };
    let scope = *scope;
    let shared = Arc::clone(&rows);
    std::thread::scope(|s| {
        let alternative = s.spawn(move || {
            inputs::evaluate_with_rows(&mut second, &scope, shared, product, other, as_of)
        });
        let chosen = inputs::evaluate_with_rows(conn, &scope, rows, product, mode, as_of);
        // A panic on the helper thread is re-raised here, as if it had happened inline.
        let alternative = alternative
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok((chosen?, alternative?))
    })
}

fn empty_summary(run_id: i64, product: Product, mode: Mode) -> RunSummary {
    RunSummary {
        run_id,
        product: product.as_str(),
        mode: mode.as_str(),
        as_of: None,
        rows_scanned: 0,
        claims_covered: 0,
        groups_considered: 0,
        groups_insufficient: 0,
        events_created: 0,
        events_found: 0,
        sound_events: 0,
        compat_events: 0,
    }
}

/// One evaluated product: its outcome and the windows each finding was judged on.
pub struct Evaluation {
    pub outcome: RunOutcome,
    pub rows_scanned: i64,
    /// Claims in the run's windows by the mode's date (SPEC §9 "claims covered").
    pub claims_covered: i64,
    pub windows: HashMap<&'static str, WindowPair>,
    pub default_windows: WindowPair,
}

impl Evaluation {
    fn windows_for(&self, finding: &Finding) -> WindowPair {
        self.windows
            .get(finding.kind.as_str())
            .copied()
            .unwrap_or(self.default_windows)
    }
}

fn to_event(
    scope: &TenantScope,
    run_id: i64,
    f: &Finding,
    w: WindowPair,
    now: chrono::NaiveDateTime,
) -> NewDriftEvent {
    let Window {
        start: baseline_start,
        end: baseline_end,
    } = w.baseline;
    let Window {
        start: current_start,
        end: current_end,
    } = w.current;
    NewDriftEvent {
        customer_id: scope.id(),
        run_id,
        product: f.product.as_str().to_string(),
        mode: f.mode.as_str().to_string(),
        kind: f.kind.as_str().to_string(),
        payer: f.payer.clone(),
        cpt_group: f.group.clone(),
        direction: f.direction.as_str().to_string(),
        baseline_value: f.baseline_value,
        current_value: f.current_value,
        delta: f.delta,
        ci_low: f.ci_low,
        ci_high: f.ci_high,
        p_value: f.p_value,
        q_value: f.q_value,
        severity: f.score,
        severity_label: f.severity_label.as_str().to_string(),
        confidence: f.confidence,
        baseline_n: f.baseline_n as i64,
        current_n: f.current_n as i64,
        baseline_start,
        baseline_end,
        current_start,
        current_end,
        evidence_json: serde_json::to_string(&f.evidence).unwrap_or_else(|_| "{}".into()),
        continuing: false,
        first_event_id: None,
        created_at: now,
        dollars_per_month: f.dollars_per_month,
    }
}

/// Runs every product for a tenant; errors are collected per product.
pub fn run_all(
    db: &Db,
    scope: &TenantScope,
    as_of: Option<NaiveDate>,
    trigger: &str,
) -> Vec<Result<RunSummary, ReportError>> {
    Product::ALL
        .iter()
        .map(|p| run(db, scope, *p, as_of, trigger))
        .collect()
}

/// A stored severity label; an unknown one ranks as the lowest.
fn severity(label: &str) -> SeverityLabel {
    label.parse().unwrap_or(SeverityLabel::Low)
}

/// Runs every product for a tenant as a request that is never dropped: a product whose
/// run is in progress gets its run after that one (see [`RunOptions::wait`]).
pub fn run_all_requested(
    db: &Db,
    scope: &TenantScope,
    trigger: &str,
    job_id: Option<i64>,
) -> Vec<Result<RunSummary, ReportError>> {
    let options = RunOptions {
        trigger,
        job_id,
        wait: true,
    };
    Product::ALL
        .iter()
        .map(|p| run_with(db, scope, *p, None, &options))
        .collect()
}

/// Runs an analytics job (a worker): every product for the job's tenant, each after any
/// run of it already in progress.
pub fn run_job(
    ctx: &crate::jobs::context::JobContext,
    job: &crate::db::repo::jobs::Job,
) -> crate::jobs::context::JobOutcome {
    let scope = TenantScope::for_system(crate::domain::tenant::CustomerId(job.customer_id));
    let failures: Vec<String> = run_all_requested(&ctx.db, &scope, "upload", Some(job.id))
        .into_iter()
        .filter_map(Result::err)
        .map(|e| e.to_string())
        .collect();
    if failures.is_empty() {
        crate::jobs::context::JobOutcome::Succeeded
    } else {
        crate::jobs::context::JobOutcome::Failed(failures.join("; "))
    }
}

/// How often a command waiting on an analytics request looks again.
const REQUEST_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Serves the tenant's analytics request `job_id` in this process (a CLI command): claims
/// it when it is queued and no other analytics run of the tenant is in progress, runs it
/// with a heartbeat on its lease, and records the outcome. When a worker has it already,
/// waits until it ends and returns no runs (they are the worker's).
pub fn serve_request(
    db: &Db,
    scope: &TenantScope,
    job_id: i64,
    trigger: &str,
) -> Result<Vec<Result<RunSummary, ReportError>>, DbError> {
    use crate::db::repo::jobs as jobs_repo;
    let owner = crate::jobs::owner_id();
    loop {
        let job = {
            let mut conn = db.get()?;
            jobs_repo::find(&mut conn, scope, job_id)?
        };
        match job.state.as_str() {
            jobs_repo::QUEUED => {
                let now = crate::db::repo::now();
                let lease = crate::jobs::lease_duration();
                let claimed = db.write_blocking(|c| {
                    let busy = jobs_repo::open_analytics(c, scope)?
                        .iter()
                        .any(|j| j.state == jobs_repo::RUNNING);
                    if busy {
                        return Ok(None);
                    }
                    jobs_repo::claim_one(c, job_id, owner, now, lease)
                })?;
                if claimed.is_some() {
                    let heartbeat =
                        crate::jobs::heartbeat::Heartbeat::start(db.clone(), owner.to_string());
                    heartbeat.hold(job_id, None);
                    let runs = run_all_requested(db, scope, trigger, Some(job_id));
                    drop(heartbeat);
                    let failures: Vec<String> = runs
                        .iter()
                        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
                        .collect();
                    let error = (!failures.is_empty()).then(|| failures.join("; "));
                    let now = crate::db::repo::now();
                    db.write_blocking(|c| {
                        jobs_repo::finish(c, job_id, owner, error.as_deref(), now)
                    })?;
                    return Ok(runs);
                }
            }
            jobs_repo::RUNNING => {}
            _ => return Ok(Vec::new()),
        }
        std::thread::sleep(REQUEST_POLL);
    }
}

/// The API's run list: up to `limit` runs, newest first, older than run `before_id`.
pub async fn runs_after(
    db: &Db,
    scope: TenantScope,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<repo::ReportRun>, DbError> {
    db.run(move |conn| crate::db::repo::keyset::runs(conn, &scope, before_id, limit))
        .await
}

/// What the analytics settings page shows: the tenant's mode, its newest runs and its
/// analytics requests in flight (queued or running).
pub struct RunsOverview {
    pub mode: String,
    pub runs: Vec<repo::ReportRun>,
    pub open: Vec<crate::db::repo::jobs::Job>,
}

/// The tenant's analytics mode, its `limit` newest runs and its open requests, read in
/// one transaction so the page's progress line and its runs agree.
pub async fn runs_overview(
    db: &Db,
    scope: TenantScope,
    limit: i64,
) -> Result<RunsOverview, DbError> {
    db.run(move |conn| {
        Ok(RunsOverview {
            mode: repo::analytics_mode(conn, &scope)?,
            runs: repo::latest_runs(conn, &scope, limit)?,
            open: crate::db::repo::jobs::open_analytics(conn, &scope)?,
        })
    })
    .await
}

/// Sets the tenant's analytics mode (the next run uses it), with its audit row.
pub async fn set_mode(
    db: &Db,
    scope: TenantScope,
    mode: Mode,
    ctx: crate::db::AuditContext,
    entry: crate::db::AuditEntry<'static>,
) -> Result<(), DbError> {
    db.write_audited(ctx, entry.target("customer", scope.id()), move |conn| {
        repo::set_analytics_mode(conn, &scope, mode.as_str())
    })
    .await
}

/// A queued analytics request: its job id and state as it stands after the request.
#[derive(Debug, Clone)]
pub struct RunRequested {
    pub job_id: i64,
    pub state: String,
}

/// Asks for an analytics run of every product, for the job workers: it joins a request
/// already waiting (one run follows the one in progress, never dropped). The portal's
/// "Run now" button and `POST /api/v1/runs` are this one use case, audited alike
/// (`analytics.requested`, target the job) in the request's transaction.
pub async fn request_run(
    db: &Db,
    scope: TenantScope,
    ctx: crate::db::AuditContext,
    entry: crate::db::AuditEntry<'static>,
) -> Result<RunRequested, DbError> {
    use crate::db::repo::jobs;
    db.write_audited(
        ctx,
        move |r: &RunRequested| entry.target("job", r.job_id),
        move |conn| {
            let job_id = jobs::request_analytics(conn, &scope, crate::db::repo::now())?;
            let state = jobs::find(conn, &scope, job_id)?.state;
            Ok::<_, DbError>(RunRequested { job_id, state })
        },
    )
    .await
}
