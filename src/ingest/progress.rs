//! In-process progress of running uploads: upload id → rows processed so far. The ingest
//! pipeline registers an upload while it runs; the upload page (later) reads it and falls
//! back to the stored status once the entry is gone. Per process by design: the instance
//! that runs an import is the one that knows how far it got.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// Rows processed per running upload.
#[derive(Debug, Default)]
pub struct ProgressRegistry {
    running: Mutex<HashMap<i64, Arc<AtomicU64>>>,
}

static GLOBAL: LazyLock<ProgressRegistry> = LazyLock::new(ProgressRegistry::default);

/// The registry of this process.
pub fn global() -> &'static ProgressRegistry {
    &GLOBAL
}

impl ProgressRegistry {
    /// Starts tracking an upload; the entry disappears when the handle is dropped.
    pub fn register(&self, upload_id: i64) -> ProgressHandle<'_> {
        let counter = Arc::new(AtomicU64::new(0));
        self.lock().insert(upload_id, Arc::clone(&counter));
        ProgressHandle {
            registry: self,
            upload_id,
            counter,
        }
    }

    /// Rows processed so far, or `None` when the upload is not running here.
    pub fn rows_processed(&self, upload_id: i64) -> Option<u64> {
        self.lock()
            .get(&upload_id)
            .map(|c| c.load(Ordering::Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<AtomicU64>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Updates one upload's count; unregisters it on drop.
#[derive(Debug)]
pub struct ProgressHandle<'r> {
    registry: &'r ProgressRegistry,
    upload_id: i64,
    counter: Arc<AtomicU64>,
}

impl ProgressHandle<'_> {
    pub fn set(&self, rows: u64) {
        self.counter.store(rows, Ordering::Relaxed);
    }
}

impl Drop for ProgressHandle<'_> {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.upload_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_as_long_as_the_handle() {
        let registry = ProgressRegistry::default();
        let handle = registry.register(7);
        assert_eq!(registry.rows_processed(7), Some(0));
        handle.set(1234);
        assert_eq!(registry.rows_processed(7), Some(1234));
        drop(handle);
        assert_eq!(registry.rows_processed(7), None);
    }
}
