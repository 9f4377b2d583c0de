//! In-process progress of running uploads: upload id → rows processed and bytes of the
//! file read so far. The ingest pipeline counts rows, the upload job counts bytes (its
//! reader); the job heartbeat copies both onto the job row with each lease renewal, so
//! the upload page of any instance shows them (`jobs.progress_rows/progress_bytes`). The
//! page prefers these live figures when the upload runs in its own process (fresher than
//! the last renewal).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// The counters of one running upload.
#[derive(Debug, Default)]
pub struct UploadProgress {
    rows: AtomicU64,
    bytes: AtomicU64,
}

impl UploadProgress {
    /// Rows processed so far.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Bytes of the file read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Counts bytes read from the file (the upload job's reader).
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }
}

/// An entry and the number of handles that keep it (the job and the pipeline both
/// register the same upload).
type Entry = (Arc<UploadProgress>, usize);

/// Progress per running upload.
#[derive(Debug, Default)]
pub struct ProgressRegistry {
    running: Mutex<HashMap<i64, Entry>>,
}

static GLOBAL: LazyLock<ProgressRegistry> = LazyLock::new(ProgressRegistry::default);

/// The registry of this process.
pub fn global() -> &'static ProgressRegistry {
    &GLOBAL
}

impl ProgressRegistry {
    /// Starts (or joins) tracking an upload; the entry disappears when its last handle
    /// is dropped.
    pub fn register(&self, upload_id: i64) -> ProgressHandle<'_> {
        let mut running = self.lock();
        let entry = running
            .entry(upload_id)
            .or_insert_with(|| (Arc::new(UploadProgress::default()), 0));
        entry.1 += 1;
        ProgressHandle {
            registry: self,
            upload_id,
            progress: Arc::clone(&entry.0),
        }
    }

    /// (rows processed, bytes read) so far, or `None` when the upload is not running here.
    pub fn snapshot(&self, upload_id: i64) -> Option<(u64, u64)> {
        self.lock()
            .get(&upload_id)
            .map(|(p, _)| (p.rows(), p.bytes()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Entry>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Updates one upload's counters; unregisters it when the last handle drops.
#[derive(Debug)]
pub struct ProgressHandle<'r> {
    registry: &'r ProgressRegistry,
    upload_id: i64,
    progress: Arc<UploadProgress>,
}

impl ProgressHandle<'_> {
    pub fn set(&self, rows: u64) {
        self.progress.rows.store(rows, Ordering::Relaxed);
    }

    /// The shared counters (a reader counts its bytes into them).
    pub fn counters(&self) -> Arc<UploadProgress> {
        Arc::clone(&self.progress)
    }
}

impl Drop for ProgressHandle<'_> {
    fn drop(&mut self) {
        let mut running = self.registry.lock();
        if let Some(entry) = running.get_mut(&self.upload_id) {
            entry.1 = entry.1.saturating_sub(1);
            if entry.1 == 0 {
                running.remove(&self.upload_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_as_long_as_the_last_handle() {
        let registry = ProgressRegistry::default();
        let job = registry.register(7);
        job.counters().add_bytes(4096);
        assert_eq!(registry.snapshot(7), Some((0, 4096)));
        let pipeline = registry.register(7);
        pipeline.set(1234);
        assert_eq!(
            registry.snapshot(7),
            Some((1234, 4096)),
            "one entry, shared"
        );
        drop(pipeline);
        assert_eq!(
            registry.snapshot(7),
            Some((1234, 4096)),
            "the job still holds it"
        );
        drop(job);
        assert_eq!(registry.snapshot(7), None);
    }
}
