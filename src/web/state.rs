//! Application state shared by all workers.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Settings;
use crate::db::Db;
use crate::notify::{Notifier, SecretBox};
use crate::observability::stats::RequestStats;
use crate::web::auth::cache::AuthCache;
use crate::web::auth::login_csrf::LoginCsrf;
use crate::web::auth::rate_limit::RateLimiter;
use crate::web::caches::charts::ChartCache;
use crate::web::caches::facets::FacetCache;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub started_at: Instant,
    /// Coarse flood guard for unauthenticated form posts (login, set-password).
    pub form_limiter: Arc<RateLimiter>,
    pub chart_cache: Arc<ChartCache>,
    /// Session rows and signed-in users for a few seconds (see `web::auth::cache`).
    pub auth_cache: Arc<AuthCache>,
    /// Findings pages' drop-downs and last-run lines per run generation.
    pub facet_cache: Arc<FacetCache>,
    /// Payer scorecard figures per rollup version (`web::caches::scorecards`).
    pub scorecard_cache: Arc<crate::web::caches::scorecards::ScorecardCache>,
    /// The payer list, scorecards and alert pages' data per version (`web::caches::pages`).
    pub page_caches: Arc<crate::web::caches::pages::PageCaches>,
    /// This instance's request statistics (fed by the telemetry middleware, read by the
    /// staff metrics dashboard).
    pub request_stats: Arc<RequestStats>,
    /// Per-token rate limits and uploads in flight of the JSON API (per instance).
    pub api_limits: Arc<crate::web::auth::api_limits::ApiLimits>,
    /// Channel secrets and the delivery worker (shared by pages that queue test messages).
    pub notifier: Arc<Notifier>,
    /// Stateless CSRF tokens of the anonymous forms (sign-in, set-password).
    pub login_csrf: Arc<LoginCsrf>,
}

impl AppState {
    /// What the staff dashboard reads from this instance.
    pub fn dashboard_instance(&self) -> crate::observability::dashboard::Instance<'_> {
        crate::observability::dashboard::Instance {
            request_stats: &self.request_stats,
            started_at: self.started_at,
            db: &self.db,
            chart_cache: self.chart_cache.stats(),
        }
    }

    /// `instance_secret` is the resolved secret key (cookies, channel secrets).
    pub fn new(settings: Settings, db: Db, instance_secret: &[u8]) -> Self {
        let notifier = Arc::new(Notifier::new(
            db.clone(),
            SecretBox::from_instance_secret(instance_secret),
            settings.public_url.clone(),
            settings.allow_private_webhooks,
            crate::notify::worker::DeliveryLimits {
                deadline: settings.delivery_deadline,
                concurrency: settings.delivery_concurrency,
            },
        ));
        let login_csrf = Arc::new(LoginCsrf::new(instance_secret, settings.secure_cookies));
        AppState {
            notifier,
            login_csrf,
            settings: Arc::new(settings),
            db,
            started_at: Instant::now(),
            form_limiter: Arc::new(RateLimiter::new(10.0, 50.0)),
            chart_cache: Arc::new(ChartCache::default()),
            auth_cache: Arc::new(AuthCache::default()),
            facet_cache: Arc::new(FacetCache::default()),
            scorecard_cache: Arc::default(),
            page_caches: Arc::default(),
            request_stats: Arc::new(RequestStats::new()),
            api_limits: Arc::default(),
        }
    }
}
