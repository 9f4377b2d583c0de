//! Report runs: aggregate a tenant's claims in SQL (one grouped query per window), apply
//! the product's rules (`domain::analytics`) in the tenant's mode, and store the
//! significant findings as events — all or nothing. The other mode is computed on the
//! same data too, so the run can say how many events each mode would raise.

#[cfg(test)]
mod acceptance;
pub mod alerting;
mod inputs;

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::db::repo::analytics::{self as repo, NewDriftEvent, RunResult};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::analytics::windows::{self, Window, WindowPair};
use crate::domain::analytics::{Finding, Mode, Product, RunOutcome};
use crate::domain::stats::SeverityLabel;
use crate::domain::tenant::TenantScope;

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
    let mut conn = db.get()?;
    // An unknown stored mode falls back to the recommended one.
    let mode = repo::analytics_mode(&mut conn, scope)?
        .parse::<Mode>()
        .unwrap_or_default();
    let parameters = serde_json::json!({ "as_of": as_of, "mode": mode.as_str() }).to_string();
    let run_id = db
        .write_blocking(|c| {
            repo::start_run(
                c,
                scope,
                product.as_str(),
                mode.as_str(),
                trigger,
                &parameters,
            )
        })
        .map_err(|e| match e {
            DbError::Duplicate(_) => ReportError::AlreadyRunning(product.label()),
            other => ReportError::Db(other),
        })?;
    match compute_and_store(db, &mut conn, scope, product, mode, as_of, run_id) {
        Ok(summary) => Ok(summary),
        Err(err) => {
            let message = err.to_string();
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
        None => repo::latest_decided(conn, scope)?
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

/// Evaluates the tenant's mode and the other one (for the comparison). They read the same
/// claims independently, so when the pool has a second connection free they run side by
/// side — on two cores about half the wall time of a run (docs/performance.md); otherwise
/// one after the other on `conn`.
fn evaluate_both(
    db: &Db,
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: Product,
    [mode, other]: [Mode; 2],
    as_of: NaiveDate,
) -> Result<(Evaluation, Evaluation), ReportError> {
    let Ok(mut second) = db.get_timeout(std::time::Duration::from_millis(250)) else {
        return Ok((
            inputs::evaluate(conn, scope, product, mode, as_of)?,
            inputs::evaluate(conn, scope, product, other, as_of)?,
        ));
    };
    let scope = *scope;
    std::thread::scope(|s| {
        let alternative =
            s.spawn(move || inputs::evaluate(&mut second, &scope, product, other, as_of));
        let chosen = inputs::evaluate(conn, &scope, product, mode, as_of);
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
