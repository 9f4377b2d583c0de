//! Prometheus metrics: the process-wide recorder (installed once, rendered by the
//! `/metrics` handler — no exporter HTTP server), every metric family the service
//! exposes, and the `record_*` helpers features call.
//!
//! Label values are bounded by construction: methods, statuses, route *patterns* and
//! fixed vocabularies (`&'static str` from known lists, domain enums). No tenant id, user
//! id or raw path is ever a label. Families whose events do not exist yet are registered
//! at zero so dashboards and alert rules can be written against them today.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram, Unit, counter, describe_counter, describe_gauge};
use metrics::{describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::PoolState;
use crate::domain::claim::RejectReason;

pub const HTTP_REQUESTS: &str = "payerwatch_http_requests_total";
pub const HTTP_DURATION: &str = "payerwatch_http_request_duration_seconds";
pub const UPLOADS: &str = "payerwatch_uploads_total";
pub const ROWS_ACCEPTED: &str = "payerwatch_rows_accepted_total";
pub const ROWS_REJECTED: &str = "payerwatch_rows_rejected_total";
pub const REPORT_RUNS: &str = "payerwatch_report_runs_total";
pub const REPORT_RUN_DURATION: &str = "payerwatch_report_run_duration_seconds";
pub const ALERTS: &str = "payerwatch_alerts_total";
pub const DELIVERIES: &str = "payerwatch_notification_deliveries_total";
pub const DELIVERY_DURATION: &str = "payerwatch_notification_delivery_duration_seconds";
pub const DB_POOL_CONNECTIONS: &str = "payerwatch_db_pool_connections";
pub const DB_POOL_IDLE: &str = "payerwatch_db_pool_idle_connections";
pub const DB_POOL_MAX: &str = "payerwatch_db_pool_max_connections";
pub const BUILD_INFO: &str = "payerwatch_build_info";
pub const START_TIME: &str = "payerwatch_process_start_time_seconds";

/// Upload outcomes (`uploads.status` once finished, plus refusals before processing).
pub const UPLOAD_STATUSES: [&str; 5] = ["succeeded", "partial", "failed", "duplicate", "refused"];
/// Report run kinds (one per analytics product).
pub const REPORT_KINDS: [&str; 3] = ["drift", "denials", "delays"];
pub const REPORT_STATUSES: [&str; 2] = ["succeeded", "failed"];
/// Severity labels (ANALYTICS.md: one mapping everywhere), plus `suppressed` alerts.
pub const ALERT_SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
pub const DELIVERY_OUTCOMES: [&str; 3] = ["delivered", "retrying", "failed"];
/// Alert states at creation: sent to channels (`open`) or kept back (`suppressed`).
pub const ALERT_STATUSES: [&str; 2] = ["open", "suppressed"];
/// Channel kinds.
pub const CHANNEL_KINDS: [&str; 3] = ["email", "slack", "webhook"];
/// Delivery attempts take milliseconds to the 10 s timeout.
const DELIVERY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Request latency buckets in seconds: fine below 50 ms where healthy traffic sits,
/// coarse up to the 5 s "very slow" line.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
];
/// Report runs take seconds to minutes.
const REPORT_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once per process (tests build many apps; later calls
/// return the same handle), registers every family, and starts the upkeep thread that
/// drains histogram samples even when nobody scrapes.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_string()), &LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(REPORT_RUN_DURATION.to_string()),
                    &REPORT_BUCKETS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(DELIVERY_DURATION.to_string()),
                    &DELIVERY_BUCKETS,
                )
            }) {
            Ok(b) => b,
            // Only fails on empty bucket lists, which the constants are not.
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        describe_and_register();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

fn describe_and_register() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by method, route pattern and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request duration by method, route pattern and status."
    );
    describe_counter!(UPLOADS, "Claim file uploads by final status.");
    describe_counter!(ROWS_ACCEPTED, "Claim rows accepted.");
    describe_counter!(ROWS_REJECTED, "Claim rows rejected, by reason.");
    describe_counter!(REPORT_RUNS, "Analytics report runs by kind and status.");
    describe_histogram!(
        REPORT_RUN_DURATION,
        Unit::Seconds,
        "Analytics report run duration by kind."
    );
    describe_counter!(
        ALERTS,
        "Alerts created, by severity and status (open = sent to channels, suppressed)."
    );
    describe_counter!(
        DELIVERIES,
        "Notification delivery attempts by outcome (delivered, retrying, failed) and channel kind."
    );
    describe_histogram!(
        DELIVERY_DURATION,
        Unit::Seconds,
        "Notification delivery attempt duration by channel kind."
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Open database connections in the pool."
    );
    describe_gauge!(DB_POOL_IDLE, "Idle database connections in the pool.");
    describe_gauge!(DB_POOL_MAX, "Maximum size of the database pool.");
    describe_gauge!(BUILD_INFO, "Always 1; the version is a label.");
    describe_gauge!(START_TIME, Unit::Seconds, "Process start, Unix time.");

    for status in UPLOAD_STATUSES {
        counter!(UPLOADS, "status" => status).absolute(0);
    }
    counter!(ROWS_ACCEPTED).absolute(0);
    for reason in RejectReason::ALL {
        counter!(ROWS_REJECTED, "reason" => reason.as_str()).absolute(0);
    }
    for kind in REPORT_KINDS {
        for status in REPORT_STATUSES {
            counter!(REPORT_RUNS, "kind" => kind, "status" => status).absolute(0);
        }
        // A histogram appears once it has a sample; registering the handle is enough
        // for the HELP/TYPE lines.
        let _ = histogram!(REPORT_RUN_DURATION, "kind" => kind);
    }
    for severity in ALERT_SEVERITIES {
        for status in ALERT_STATUSES {
            counter!(ALERTS, "severity" => severity, "status" => status).absolute(0);
        }
    }
    for channel in CHANNEL_KINDS {
        for outcome in DELIVERY_OUTCOMES {
            counter!(DELIVERIES, "outcome" => outcome, "channel" => channel).absolute(0);
        }
        let _ = histogram!(DELIVERY_DURATION, "channel" => channel);
    }
    gauge!(BUILD_INFO, "version" => crate::VERSION).set(1.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    gauge!(START_TIME).set(now);
}

/// Keeps `value` when it is one of `known`, else `other`: a caller passing an unexpected
/// string cannot create new series.
fn bounded(value: &str, known: &[&'static str]) -> &'static str {
    known
        .iter()
        .find(|k| **k == value)
        .copied()
        .unwrap_or("other")
}

/// The counter and histogram of one (method, route, status) series, cached by the
/// request statistics so the hot path does no registry lookup.
#[derive(Clone)]
pub struct HttpHandles {
    requests: Counter,
    duration: Histogram,
}

impl HttpHandles {
    pub fn observe(&self, elapsed: Duration) {
        self.requests.increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }
}

/// Registers the HTTP series for one method, route pattern and status.
pub fn http_handles(method: &'static str, route: &str, status: u16) -> HttpHandles {
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.to_string()),
    ];
    HttpHandles {
        requests: counter!(HTTP_REQUESTS, &labels),
        duration: histogram!(HTTP_DURATION, &labels),
    }
}

/// An upload finished (or was refused) with `status` (see [`UPLOAD_STATUSES`]).
pub fn record_upload(status: &'static str) {
    counter!(UPLOADS, "status" => bounded(status, &UPLOAD_STATUSES)).increment(1);
}

/// Rows accepted by an upload or import.
pub fn record_rows_accepted(count: u64) {
    counter!(ROWS_ACCEPTED).increment(count);
}

/// Rows rejected for `reason`.
pub fn record_rows_rejected(reason: RejectReason, count: u64) {
    counter!(ROWS_REJECTED, "reason" => reason.as_str()).increment(count);
}

/// A report run of `kind` (see [`REPORT_KINDS`]) ended with `status` after `duration`.
pub fn record_report_run(kind: &'static str, status: &'static str, duration: Duration) {
    let kind = bounded(kind, &REPORT_KINDS);
    counter!(REPORT_RUNS, "kind" => kind, "status" => bounded(status, &REPORT_STATUSES))
        .increment(1);
    histogram!(REPORT_RUN_DURATION, "kind" => kind).record(duration.as_secs_f64());
}

/// An alert was created with `severity` (see [`ALERT_SEVERITIES`]), `open` (sent) or
/// `suppressed`.
pub fn record_alert(severity: &str, status: &str) {
    counter!(
        ALERTS,
        "severity" => bounded(severity, &ALERT_SEVERITIES),
        "status" => bounded(status, &ALERT_STATUSES)
    )
    .increment(1);
}

/// A notification delivery attempt over a `channel` kind ended with `outcome` (see
/// [`DELIVERY_OUTCOMES`]) after `latency`.
pub fn record_delivery(outcome: &str, channel: &str, latency: Duration) {
    let channel = bounded(channel, &CHANNEL_KINDS);
    counter!(
        DELIVERIES,
        "outcome" => bounded(outcome, &DELIVERY_OUTCOMES),
        "channel" => channel
    )
    .increment(1);
    histogram!(DELIVERY_DURATION, "channel" => channel).record(latency.as_secs_f64());
}

/// Renders the Prometheus text exposition, refreshing the pool gauges first.
pub fn render(pool: &PoolState, backend: &'static str) -> String {
    let handle = install();
    gauge!(DB_POOL_CONNECTIONS, "backend" => backend).set(f64::from(pool.connections));
    gauge!(DB_POOL_IDLE, "backend" => backend).set(f64::from(pool.idle));
    gauge!(DB_POOL_MAX, "backend" => backend).set(f64::from(pool.max_size));
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_vocabulary_collapses_to_other() {
        assert_eq!(bounded("failed", &UPLOAD_STATUSES), "failed");
        assert_eq!(bounded("customer-42", &UPLOAD_STATUSES), "other");
    }
}
