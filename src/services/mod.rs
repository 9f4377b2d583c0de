//! Application services: the one path each use case takes, whoever calls it (web, CLI, API).

pub mod accounts;
pub mod alerts;
pub mod analytics;
pub mod api_tokens;
pub mod audit_trail;
pub mod auth;
pub mod channels;
pub mod digests;
pub mod drilldown;
pub mod findings;
pub mod mappings;
pub mod page_cache;
pub mod password_gate;
pub mod portal;
pub mod retention;
pub mod rollups;
pub mod rules;
pub mod saved_filters;
pub mod scorecard;
pub mod sessions;
pub mod uploads;

use crate::db::repo::jobs::{self as jobs_repo, Job};
use crate::jobs::context::{JobContext, JobOutcome};

/// Runs one queued job with the service of its kind: the function `startup` hands the job
/// workers (`jobs::worker`), which know the queue but no service.
pub fn run_job(ctx: &JobContext, job: &Job) -> JobOutcome {
    match job.kind.as_str() {
        jobs_repo::UPLOAD => uploads::run_job(ctx, job),
        jobs_repo::ANALYTICS => analytics::run_job(ctx, job),
        jobs_repo::REMAP => mappings::run_job(ctx, job),
        other => JobOutcome::Failed(format!("unknown job kind '{other}'")),
    }
}
