//! Durable work (SPEC §9a): uploads and analytics runs are jobs in the database, run by
//! workers inside `serve` (`PAYERWATCH_JOB_WORKERS`) or `payerwatch worker`. A job is
//! claimed with a lease that a heartbeat renews; a lease that runs out means its process
//! died, and recovery retries the job (at most 3 attempts) or fails it with a message.
//! A job's effects commit in the same transaction that marks it done, and only while its
//! lease is still this process's — so each job's effects commit once, however many
//! instances share the database.

pub mod context;
pub mod heartbeat;
pub mod spool;
pub mod worker;

use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

static LEASE: OnceLock<std::time::Duration> = OnceLock::new();
static OWNER: OnceLock<String> = OnceLock::new();

const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// Sets this process's lease length (from the settings, once at start).
pub fn set_lease(lease: std::time::Duration) {
    let _ = LEASE.set(lease);
}

/// How long a job's or a report run's lease lasts without a heartbeat.
pub fn lease_duration() -> chrono::Duration {
    chrono::Duration::from_std(*LEASE.get().unwrap_or(&DEFAULT_LEASE))
        .unwrap_or(chrono::Duration::seconds(30))
}

/// This process's name on the leases it holds: host, pid and a random part (a restarted
/// process with a recycled pid is someone else).
pub fn owner_id() -> &'static str {
    OWNER.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("{host}:{}:{}", std::process::id(), &random[..8])
    })
}

/// What an upload job needs to process its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadPayload {
    /// The spooled file's name in the spool directory.
    pub spool: String,
    /// The stored (already checked) file name.
    pub file_name: String,
    pub uploaded_by: Option<i64>,
    pub size: u64,
    /// The day of the upload: decisions may be dated one day later.
    pub today: NaiveDate,
}
