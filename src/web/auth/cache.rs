//! In-process cache of session rows and signed-in users, so an ordinary page view reaches
//! its handler without a trip to the database (SPEC §9: the session and user lookups were
//! two of the three blocking-pool hops of every page).
//!
//! Entries live a few seconds. The database stays the authority: a session that is due
//! for its sliding-expiry refresh, or whose stored expiry has passed, is always read from
//! the database (so idle expiry, its deletion and its audit event work as before). This
//! process forgets entries at once on logout, deactivation, role and password change;
//! another instance may serve such a change's old state for at most the TTL.
//!
//! Invalidation races: a lookup that started before an invalidation must not put what it
//! read back into the cache. Every invalidation bumps an epoch; a fill carries the epoch
//! it started under and is dropped when the epoch moved.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

/// How long an entry may be served without asking the database.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);
/// Entries beyond this are dropped wholesale (a cache of a few seconds refills quickly).
const MAX_ENTRIES: usize = 20_000;

/// A session row as the store last read or wrote it.
#[derive(Debug, Clone)]
pub struct CachedSession {
    pub state: HashMap<String, String>,
    pub user_id: Option<i64>,
    pub refreshed_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// What `CurrentUser` needs of the user and its customer.
#[derive(Debug, Clone)]
pub struct CachedUser {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub email: String,
    pub role: String,
    pub is_staff: bool,
    pub is_active: bool,
}

struct Entry<T> {
    value: T,
    stored: Instant,
}

#[derive(Default)]
struct Maps {
    sessions: HashMap<String, Entry<CachedSession>>,
    users: HashMap<i64, Entry<CachedUser>>,
}

pub struct AuthCache {
    ttl: Duration,
    maps: Mutex<Maps>,
    epoch: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache::new(DEFAULT_TTL)
    }
}

/// The epoch a lookup started under; hand it back to `put_*`.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

impl AuthCache {
    /// A zero TTL turns the cache off.
    pub fn new(ttl: Duration) -> Self {
        AuthCache {
            ttl,
            maps: Mutex::new(Maps::default()),
            epoch: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh<T>(&self, entry: &Entry<T>) -> bool {
        entry.stored.elapsed() < self.ttl
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Call before reading from the database.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Acquire))
    }

    pub fn session(&self, key_hash: &str) -> Option<CachedSession> {
        let found = self
            .maps()
            .sessions
            .get(key_hash)
            .filter(|e| self.fresh(e))
            .map(|e| e.value.clone());
        self.count(found.is_some());
        found
    }

    pub fn user(&self, id: i64) -> Option<CachedUser> {
        let found = self
            .maps()
            .users
            .get(&id)
            .filter(|e| self.fresh(e))
            .map(|e| e.value.clone());
        self.count(found.is_some());
        found
    }

    pub fn put_session(&self, since: Epoch, key_hash: String, session: CachedSession) {
        if self.ttl.is_zero() {
            return;
        }
        let mut maps = self.maps();
        // Checked under the lock: invalidations bump the epoch while holding it.
        if self.epoch.load(Ordering::Acquire) != since.0 {
            return;
        }
        if maps.sessions.len() >= MAX_ENTRIES {
            maps.sessions.clear();
        }
        maps.sessions.insert(
            key_hash,
            Entry {
                value: session,
                stored: Instant::now(),
            },
        );
    }

    pub fn put_user(&self, since: Epoch, user: CachedUser) {
        if self.ttl.is_zero() {
            return;
        }
        let mut maps = self.maps();
        if self.epoch.load(Ordering::Acquire) != since.0 {
            return;
        }
        if maps.users.len() >= MAX_ENTRIES {
            maps.users.clear();
        }
        maps.users.insert(
            user.id,
            Entry {
                value: user,
                stored: Instant::now(),
            },
        );
    }

    /// A session was written, renewed or deleted.
    pub fn forget_session(&self, key_hash: &str) {
        let mut maps = self.maps();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        maps.sessions.remove(key_hash);
    }

    /// A user's role, status or password changed: drop the user and all their sessions.
    pub fn forget_user(&self, user_id: i64) {
        let mut maps = self.maps();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        maps.users.remove(&user_id);
        maps.sessions
            .retain(|_, e| e.value.user_id != Some(user_id));
    }

    /// (hits, misses) since start, sessions and users together.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user_id: i64) -> CachedSession {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .expect("valid timestamp")
            .naive_utc();
        CachedSession {
            state: HashMap::from([("user_id".to_string(), user_id.to_string())]),
            user_id: Some(user_id),
            refreshed_at: at,
            expires_at: at,
        }
    }

    fn user(id: i64) -> CachedUser {
        CachedUser {
            id,
            customer_id: 1,
            customer_name: "Clinic".into(),
            email: "a@example.org".into(),
            role: "owner".into(),
            is_staff: false,
            is_active: true,
        }
    }

    #[test]
    fn serves_what_was_put_and_forgets_a_user_with_their_sessions() {
        let cache = AuthCache::default();
        let epoch = cache.epoch();
        cache.put_session(epoch, "k1".into(), session(7));
        cache.put_session(epoch, "k2".into(), session(8));
        cache.put_user(epoch, user(7));
        assert!(cache.session("k1").is_some());
        assert!(cache.user(7).is_some());
        cache.forget_user(7);
        assert!(cache.session("k1").is_none());
        assert!(cache.user(7).is_none());
        assert!(cache.session("k2").is_some(), "other users stay");
        cache.forget_session("k2");
        assert!(cache.session("k2").is_none());
    }

    #[test]
    fn a_fill_that_started_before_an_invalidation_is_dropped() {
        let cache = AuthCache::default();
        let before = cache.epoch();
        cache.forget_session("k1"); // e.g. a logout while the row was being read
        cache.put_session(before, "k1".into(), session(7));
        cache.put_user(before, user(7));
        assert!(cache.session("k1").is_none());
        assert!(cache.user(7).is_none());
        let now = cache.epoch();
        cache.put_session(now, "k1".into(), session(7));
        assert!(cache.session("k1").is_some());
    }

    #[test]
    fn entries_expire_after_the_ttl_and_a_zero_ttl_disables() {
        let cache = AuthCache::new(Duration::from_millis(20));
        cache.put_user(cache.epoch(), user(7));
        assert!(cache.user(7).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.user(7).is_none());

        let off = AuthCache::new(Duration::ZERO);
        off.put_user(off.epoch(), user(7));
        assert!(off.user(7).is_none());
    }
}
