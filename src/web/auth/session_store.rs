//! actix-session store backed by the `sessions` table, so sessions survive restarts and
//! are shared by every instance.
//!
//! Idle expiry slides: a load past the refresh interval pushes `expires_at` forward, at
//! most once per interval (a minute by default), so an ordinary page view is a read. The
//! row also carries the user id, so all of a user's sessions can be ended at once.
//!
//! Loads are served from the in-process [`AuthCache`] for a few seconds while no refresh
//! is due and the stored expiry has not passed; every write and delete forgets the entry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use crate::db::repo;
use crate::db::{Db, DbError};
use crate::services::sessions;
use crate::web::auth::cache::{AuthCache, CachedSession};
use crate::web::auth::keys::{AUTH_STATE_KEYS, USER_ID_KEY};

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    idle: Duration,
    cache: Arc<AuthCache>,
}

impl DbSessionStore {
    pub fn new(db: Db, idle: Duration, cache: Arc<AuthCache>) -> Self {
        DbSessionStore { db, idle, cache }
    }

    /// How stale `refreshed_at` may get before a load extends the expiry.
    fn refresh_interval(&self) -> chrono::Duration {
        let tenth = self.idle / 10;
        chrono::Duration::from_std(tenth.min(Duration::from_secs(60)))
            .unwrap_or_else(|_| chrono::Duration::seconds(60))
    }

    fn expiry_from_now(&self) -> NaiveDateTime {
        let idle =
            chrono::Duration::from_std(self.idle).unwrap_or_else(|_| chrono::Duration::minutes(30));
        repo::now() + idle
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn new_session_key() -> Result<String, getrandom::Error> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw)?;
    Ok(hex::encode(raw))
}

fn user_id_of(state: &HashMap<String, String>) -> Option<i64> {
    state
        .get(USER_ID_KEY)
        .and_then(|v| serde_json::from_str::<i64>(v).ok())
}

impl SessionStore for DbSessionStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        let key_hash = hash_key(session_key.as_ref());
        let refresh_after = self.refresh_interval();
        if let Some(hit) = self.cache.session(&key_hash) {
            let now = repo::now();
            // Expired or due for the sliding refresh: the database decides.
            if hit.expires_at > now && now - hit.refreshed_at < refresh_after {
                return Ok(Some(hit.state));
            }
        }
        let epoch = self.cache.epoch();
        let new_expiry = self.expiry_from_now();
        let row = sessions::load(&self.db, key_hash.clone(), refresh_after, new_expiry)
            .await
            .map_err(|e| LoadError::Other(anyhow::Error::new(e)))?;
        let Some(sessions::Loaded {
            state,
            user_id,
            refreshed_at,
            expires_at,
        }) = row
        else {
            return Ok(None);
        };
        let state: HashMap<String, String> = serde_json::from_str(&state)
            .map_err(|e| LoadError::Deserialization(anyhow::Error::new(e)))?;
        self.cache.put_session(
            epoch,
            key_hash,
            CachedSession {
                state: state.clone(),
                user_id,
                refreshed_at,
                expires_at,
            },
        );
        Ok(Some(state))
    }

    async fn save(
        &self,
        session_state: HashMap<String, String>,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, SaveError> {
        let key = new_session_key().map_err(|e| SaveError::Other(anyhow::anyhow!("{e}")))?;
        let key_hash = hash_key(&key);
        let user_id = user_id_of(&session_state);
        let state = serde_json::to_string(&session_state)
            .map_err(|e| SaveError::Serialization(anyhow::Error::new(e)))?;
        let expires_at = self.expiry_from_now();
        sessions::insert(&self.db, key_hash, user_id, state, expires_at)
            .await
            .map_err(|e| SaveError::Other(anyhow::Error::new(e)))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(anyhow::Error::new(e)))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, UpdateError> {
        let key_hash = hash_key(session_key.as_ref());
        let user_id = user_id_of(&session_state);
        let state = serde_json::to_string(&session_state)
            .map_err(|e| UpdateError::Serialization(anyhow::Error::new(e)))?;
        let expires_at = self.expiry_from_now();
        let state_for_update = state.clone();
        let forget = key_hash.clone();
        let updated =
            sessions::update_state(&self.db, key_hash, user_id, state_for_update, expires_at).await;
        // After the write: a load that read the old row meanwhile cannot put it back.
        self.cache.forget_session(&forget);
        let updated = updated.map_err(|e| UpdateError::Other(anyhow::Error::new(e)))?;
        if updated {
            return Ok(session_key);
        }
        // The row vanished (expired, or ended by a logout or deactivation elsewhere):
        // start a fresh, signed-out session rather than resurrecting the sign-in.
        let mut session_state = session_state;
        for key in AUTH_STATE_KEYS {
            session_state.remove(*key);
        }
        self.save(session_state, ttl).await.map_err(|e| match e {
            SaveError::Serialization(err) => UpdateError::Serialization(err),
            SaveError::Other(err) => UpdateError::Other(err),
        })
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<(), anyhow::Error> {
        let key_hash = hash_key(session_key.as_ref());
        let forget = key_hash.clone();
        let expires_at = self.expiry_from_now();
        let result = sessions::extend(&self.db, key_hash, expires_at).await;
        self.cache.forget_session(&forget);
        result.map_err(anyhow::Error::new)
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let key_hash = hash_key(session_key.as_ref());
        let forget = key_hash.clone();
        let result = sessions::delete(&self.db, key_hash).await;
        // After the delete: a load that read the row meanwhile cannot put it back.
        self.cache.forget_session(&forget);
        result.map_err(|e: DbError| anyhow::Error::new(e))
    }
}
