//! What a job's service function gets and returns: the worker pool is handed one
//! [`RunJob`] (`services::run_job`, by `startup`) and calls it for every job it claims.

use std::time::Duration;

use super::spool::SpoolDir;
use crate::db::Db;
use crate::db::repo::jobs::Job;
use crate::ingest::Limits;

/// What every job needs.
pub struct JobContext {
    pub db: Db,
    pub spool: SpoolDir,
    pub limits: Limits,
    pub owner: String,
    /// Keys of 835 claim references (reversal matching), from the instance secret.
    pub claim_keys: crate::domain::claim_key::ClaimKeys,
}

/// How a job ended, as far as the worker is concerned.
#[derive(Debug)]
pub enum JobOutcome {
    /// Finished inside the job's own transaction (an upload: fenced commit).
    Recorded,
    Succeeded,
    Failed(String),
    /// Not now (another process runs the tenant's analytics): queued again for later.
    Postponed(Duration),
}

/// Runs one claimed job to its outcome (the services' table of job kinds).
pub type RunJob = fn(&JobContext, &Job) -> JobOutcome;
