//! The process-wide bound on concurrent password hashing (SPEC §6). Each Argon2 check
//! takes 19 MiB and a core for a while: 80 parallel logins took the process from 851 MB to
//! 2.1 GB (review 2026-12, row 6). Login, set-password and the password page's
//! re-authentication all go through here: at most one check per core runs, a short queue
//! waits, anything beyond answers 503 at once.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

/// Why a check did not run: the bound is full (a 503 for the caller), or the blocking
/// task was lost.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("too many password checks at once")]
    Busy,
    #[error("password check cancelled")]
    Cancelled,
}

/// How long a queued check waits for a slot before giving up with 503.
const MAX_WAIT: Duration = Duration::from_secs(5);

pub struct PasswordGate {
    running: Semaphore,
    /// Checks admitted (running or queued).
    admitted: AtomicUsize,
    max_admitted: usize,
}

impl PasswordGate {
    pub fn new(slots: usize, queue: usize) -> PasswordGate {
        PasswordGate {
            running: Semaphore::new(slots.max(1)),
            admitted: AtomicUsize::new(0),
            max_admitted: slots.max(1) + queue,
        }
    }

    /// Runs `check` on the blocking pool within the bound; `Busy` when the queue is full
    /// or the wait is too long.
    pub async fn run<T, F>(&self, check: F) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= self.max_admitted {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(GateError::Busy);
        }
        let _admitted = Admitted(&self.admitted);
        let _slot = tokio::time::timeout(MAX_WAIT, self.running.acquire())
            .await
            .map_err(|_| GateError::Busy)?
            .map_err(|_| GateError::Busy)?;
        actix_web::rt::task::spawn_blocking(check)
            .await
            .map_err(|_| GateError::Cancelled)
    }
}

/// Gives the admission back however the check ends (including a dropped request).
struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One slot per core, a queue of four per core.
pub fn gate() -> &'static PasswordGate {
    static GATE: LazyLock<PasswordGate> = LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordGate::new(cores, 4 * cores)
    });
    &GATE
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[actix_web::test]
    async fn beyond_the_queue_answers_busy_and_slots_come_back() {
        let gate = Arc::new(PasswordGate::new(1, 1));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let running = {
            let (gate, rx) = (Arc::clone(&gate), Arc::clone(&rx));
            actix_web::rt::spawn(async move {
                gate.run(move || rx.lock().map(|r| r.recv().is_ok()).unwrap_or(false))
                    .await
            })
        };
        let queued = {
            let gate = Arc::clone(&gate);
            actix_web::rt::spawn(async move { gate.run(|| true).await })
        };
        // Let both be admitted, then a third finds the queue full.
        while gate.admitted.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(matches!(gate.run(|| true).await, Err(GateError::Busy)));
        tx.send(()).expect("release");
        assert!(running.await.expect("join").expect("ran"));
        assert!(queued.await.expect("join").expect("ran"));
        assert_eq!(gate.admitted.load(Ordering::SeqCst), 0);
        assert!(gate.run(|| true).await.expect("free again"));
    }
}
