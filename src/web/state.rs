//! Application state shared by all workers.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Settings;
use crate::db::Db;
use crate::observability::stats::RequestStats;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub started_at: Instant,
    /// This instance's request statistics (fed by the telemetry middleware, read by the
    /// staff metrics dashboard).
    pub request_stats: Arc<RequestStats>,
}

impl AppState {
    pub fn new(settings: Settings, db: Db) -> Self {
        AppState {
            settings: Arc::new(settings),
            db,
            started_at: Instant::now(),
            request_stats: Arc::new(RequestStats::new()),
        }
    }
}
