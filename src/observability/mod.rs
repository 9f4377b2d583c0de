//! Observability: what the service knows about its own traffic and how it reports it.
//!
//! * [`stats`] — per-instance request statistics (ring buffer of recent requests,
//!   per-route aggregates with latency quantiles, per-minute buckets for the last hour,
//!   active users) that the staff dashboard renders;
//! * [`dashboard`] — the staff dashboard's data in one call (stats + version, uptime,
//!   backend, pool, memory, in-process cache hit rates) and the route-table sort;
//! * [`metrics`] — the Prometheus recorder, the metric families and the small `record_*`
//!   helpers features call (uploads, rows, report runs, alerts, deliveries);
//! * [`sentry`] — error reporting, enabled only with `SENTRY_DSN`, with the PHI scrubber
//!   every event goes through before it leaves the process.
//!
//! The telemetry middleware (`web::http::middleware::Telemetry`) is the only writer of request
//! figures; it calls [`stats::RequestStats::record`] and [`metrics::record_http`] once per
//! request.

pub mod dashboard;
pub mod metrics;
pub mod sentry;
pub mod stats;

/// The signed-in user's id, for telemetry only.
///
/// The authentication layer (session or API token extractor/middleware, which runs inside
/// the telemetry middleware) inserts it into the request extensions once it knows who is
/// calling, preferably through [`set_authenticated_user`]:
///
/// ```ignore
/// observability::set_authenticated_user(&req.extensions_mut(), user.id);
/// ```
///
/// After the response the telemetry middleware reads it from
/// `res.request().extensions()` to count active users and put `user_id` on the log line.
/// It is never used for authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatedUserId(pub i64);

/// Records who the request belongs to: in the request extensions (read by the telemetry
/// middleware after the response) and on the current request span (so log lines written
/// later in the request carry `user_id`).
pub fn set_authenticated_user(extensions: &mut actix_web::dev::Extensions, user_id: i64) {
    extensions.insert(AuthenticatedUserId(user_id));
    tracing::Span::current().record("user_id", user_id);
}
