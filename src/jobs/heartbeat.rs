//! Renews the leases a process holds while it works on them, and with each renewal
//! records how far an upload job has got (so any instance's upload page can show it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::db::Db;
use crate::db::repo::jobs as repo;

/// Held jobs: job id → the upload it processes (its progress is recorded), if any.
type Held = HashMap<i64, Option<i64>>;

/// A thread renewing every lease in its set each third of the lease.
pub struct Heartbeat {
    held: Arc<Mutex<Held>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub fn start(db: Db, owner: String) -> Heartbeat {
        let held = Arc::new(Mutex::new(Held::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (Arc::clone(&held), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("job-heartbeat".into())
            .spawn(move || {
                let lease = super::lease_duration();
                let every = (lease / 3)
                    .to_std()
                    .unwrap_or(std::time::Duration::from_secs(1));
                let tick = std::time::Duration::from_millis(100).min(every);
                let mut waited = std::time::Duration::ZERO;
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited < every {
                        continue;
                    }
                    waited = std::time::Duration::ZERO;
                    let held: Vec<(i64, Option<i64>)> =
                        lock(&h).iter().map(|(j, u)| (*j, *u)).collect();
                    if held.is_empty() {
                        continue;
                    }
                    let ids: Vec<i64> = held.iter().map(|(j, _)| *j).collect();
                    // Read before the write: the figures a page shows are at most one
                    // renewal old.
                    let progress: Vec<(i64, (u64, u64))> = held
                        .iter()
                        .filter_map(|(job, upload)| {
                            let upload = (*upload)?;
                            Some((*job, crate::ingest::progress::global().snapshot(upload)?))
                        })
                        .collect();
                    let until = crate::db::repo::now() + lease;
                    let renewed = db.write_blocking(|c| {
                        repo::renew(c, &owner, &ids, until)?;
                        for (job, (rows, bytes)) in &progress {
                            repo::record_progress(c, &owner, *job, *rows, *bytes)?;
                        }
                        Ok::<_, crate::db::DbError>(())
                    });
                    if let Err(err) = renewed {
                        tracing::warn!(error = %crate::telemetry::ErrorChain(&err), "job heartbeat failed");
                    }
                }
            })
            .ok();
        Heartbeat { held, stop, thread }
    }

    /// Keeps a job's lease alive; `upload`: the upload it processes, whose progress
    /// (`ingest::progress`) is recorded on the job row with each renewal.
    pub fn hold(&self, id: i64, upload: Option<i64>) {
        lock(&self.held).insert(id, upload);
    }

    pub fn drop_job(&self, id: i64) {
        lock(&self.held).remove(&id);
    }

    /// The jobs still held (a shutdown releases them).
    pub fn held(&self) -> Vec<i64> {
        lock(&self.held).keys().copied().collect()
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(set: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    // A panic while holding this lock cannot leave the set inconsistent.
    set.lock().unwrap_or_else(|e| e.into_inner())
}
