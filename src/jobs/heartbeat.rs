//! Renews the leases a process holds while it works on them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::db::Db;
use crate::db::repo::jobs as repo;

/// A thread renewing every lease in its set each third of the lease.
pub struct Heartbeat {
    held: Arc<Mutex<HashSet<i64>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub fn start(db: Db, owner: String) -> Heartbeat {
        let held = Arc::new(Mutex::new(HashSet::new()));
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
                    let ids: Vec<i64> = lock(&h).iter().copied().collect();
                    if ids.is_empty() {
                        continue;
                    }
                    let until = crate::db::repo::now() + lease;
                    if let Err(err) =
                        db.write_blocking(|c| repo::renew(c, &owner, &ids, until))
                    {
                        tracing::warn!(error = %crate::telemetry::ErrorChain(&err), "job heartbeat failed");
                    }
                }
            })
            .ok();
        Heartbeat { held, stop, thread }
    }

    pub fn hold(&self, id: i64) {
        lock(&self.held).insert(id);
    }

    pub fn drop_job(&self, id: i64) {
        lock(&self.held).remove(&id);
    }

    /// The jobs still held (a shutdown releases them).
    pub fn held(&self) -> Vec<i64> {
        lock(&self.held).iter().copied().collect()
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

fn lock(set: &Mutex<HashSet<i64>>) -> std::sync::MutexGuard<'_, HashSet<i64>> {
    // A panic while holding this lock cannot leave the set inconsistent.
    set.lock().unwrap_or_else(|e| e.into_inner())
}
