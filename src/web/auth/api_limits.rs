//! The API's per-instance limits (issue 18): a token bucket per token and one upload in
//! flight per token. Held in [`crate::web::state::AppState`]; used by the API's token
//! extractor and its upload endpoint.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

/// Requests per second a token may make, and its burst (issue 18: 10/s, bursts of 50).
pub const PER_SECOND: f64 = 10.0;
pub const BURST: f64 = 50.0;
const MAX_TRACKED: usize = 100_000;

/// Per-token token buckets and the uploads in flight, held in memory per instance (a
/// client spread over N instances may get N times the rate; documented in docs/api.md).
#[derive(Default)]
pub struct ApiLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
    uploads: Mutex<HashSet<i64>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// What the `RateLimit-*` headers of a response say.
#[derive(Debug, Clone, Copy)]
pub struct RateInfo {
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

impl ApiLimits {
    /// Takes one request from `key`'s bucket: `Ok` with what is left, or `Err` with the
    /// seconds until one request is allowed again.
    pub fn take(&self, key: &str) -> Result<RateInfo, (RateInfo, u64)> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<RateInfo, (RateInfo, u64)> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > MAX_TRACKED {
            // Full buckets carry no information; dropping them bounds memory.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * PER_SECOND < BURST
            });
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: BURST,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * PER_SECOND).min(BURST);
        bucket.updated = now;
        let info = |tokens: f64| RateInfo {
            remaining: tokens.max(0.0).floor() as u64,
            reset_secs: ((BURST - tokens) / PER_SECOND).ceil().max(0.0) as u64,
        };
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(info(bucket.tokens))
        } else {
            let wait = ((1.0 - bucket.tokens) / PER_SECOND).ceil().max(1.0) as u64;
            Err((info(bucket.tokens), wait))
        }
    }

    /// Marks an upload of `token_id` as in flight; `None` when one already is.
    pub fn start_upload(&self, token_id: i64) -> Option<UploadSlot<'_>> {
        let mut uploads = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        // `then`, not `then_some`: a slot built for a refused caller would be dropped
        // here, under the lock (deadlock), and would free the holder's slot.
        uploads.insert(token_id).then(|| UploadSlot {
            limits: self,
            token_id,
        })
    }
}

/// The one upload a token may have in flight; freed when dropped.
pub struct UploadSlot<'a> {
    limits: &'a ApiLimits,
    token_id: i64,
}

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        self.limits
            .uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.token_id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_limits_then_refills() {
        let limits = ApiLimits::default();
        let t0 = Instant::now();
        for i in 0..50 {
            let info = limits.take_at("k", t0).expect("within the burst");
            assert_eq!(info.remaining, 49 - i);
        }
        let (info, wait) = limits.take_at("k", t0).expect_err("limited");
        assert_eq!((info.remaining, wait), (0, 1));
        assert!(limits.take_at("other", t0).is_ok(), "per token");
        assert!(limits.take_at("k", t0 + Duration::from_millis(150)).is_ok());
    }

    #[test]
    fn one_upload_in_flight_per_token() {
        let limits = ApiLimits::default();
        let slot = limits.start_upload(1).expect("first");
        assert!(limits.start_upload(1).is_none());
        assert!(limits.start_upload(2).is_some());
        drop(slot);
        assert!(limits.start_upload(1).is_some());
    }
}
