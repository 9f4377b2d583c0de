//! Application state shared by all workers.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Settings;
use crate::db::Db;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub started_at: Instant,
}

impl AppState {
    pub fn new(settings: Settings, db: Db) -> Self {
        AppState {
            settings: Arc::new(settings),
            db,
            started_at: Instant::now(),
        }
    }
}
