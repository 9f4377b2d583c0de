//! What a job's service function gets and returns. Kept apart from the worker (which calls
//! `services::*::run_job`) and from `jobs/mod.rs` (which `ingest` uses), so neither the
//! services nor the ingest import a module that imports them.

use std::time::Duration;

use super::spool::SpoolDir;
use crate::db::Db;
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
