//! The staff metrics dashboard (`/portal/admin/metrics`, staff only): this instance's
//! traffic, latency, errors, active users, caches and runtime facts. No database query,
//! so it keeps working during an incident; figures are per instance.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::observability::dashboard::{self, Dashboard, RouteSort};
use crate::observability::stats::{MINUTES_KEPT, RECENT_CAPACITY, RequestRecord};
use crate::web::auth::StaffUser;
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::charts::{SparklineSpec, sparkline};
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

/// Requests slower than this are shown in red (SPEC §8).
const SLOW_MS: f64 = 2000.0;
/// Rows of the "last requests" table.
const LAST_SHOWN: usize = 20;

struct Card {
    label: &'static str,
    value: String,
    note: String,
}

struct RouteRow {
    method: &'static str,
    route: String,
    count: u64,
    client_errors: u64,
    server_errors: u64,
    error_rate: String,
    error_class: &'static str,
    p50: String,
    p95: String,
}

struct RequestRow {
    time: String,
    method: &'static str,
    route: String,
    status: u16,
    /// `badge-bad` (5xx), `badge-warn` (4xx) or `badge-ok`.
    status_class: &'static str,
    status_text: &'static str,
    ms: String,
    slow: bool,
}

struct CacheRow {
    name: &'static str,
    hits: u64,
    misses: u64,
    hit_rate: String,
}

struct SortLink {
    key: &'static str,
    label: &'static str,
    numeric: bool,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin/metrics.html")]
struct MetricsPage {
    layout: Layout,
    taken_at: String,
    cards: Vec<Card>,
    sort_links: Vec<SortLink>,
    routes: Vec<RouteRow>,
    recent: Vec<RequestRow>,
    recent_capacity: usize,
    slowest: Vec<RequestRow>,
    caches: Vec<CacheRow>,
    requests_chart: String,
    latency_chart: String,
    minutes: usize,
}

/// `12.0 %` (one decimal, SPEC style).
fn pct(value: f64) -> String {
    format!("{value:.1} %")
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// `3 d 4 h`, `2 h 05 min`, `4 min 09 s`, `12 s`.
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins:02} min")
    } else if mins > 0 {
        format!("{mins} min {secs:02} s")
    } else {
        format!("{secs} s")
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn request_row(r: &RequestRecord) -> RequestRow {
    let (status_class, status_text) = match r.status {
        500.. => ("badge-bad", "server error"),
        400..=499 => ("badge-warn", "client error"),
        300..=399 => ("badge-info", "redirect"),
        _ => ("badge-ok", "ok"),
    };
    RequestRow {
        time: r.at.format("%H:%M:%S UTC").to_string(),
        method: r.method,
        route: r.route.to_string(),
        status: r.status,
        status_class,
        status_text,
        ms: format!("{:.1}", r.duration_ms()),
        slow: r.duration_ms() > SLOW_MS,
    }
}

fn cards(d: &Dashboard) -> Vec<Card> {
    let totals = &d.stats.totals;
    vec![
        Card {
            label: "Requests / min",
            value: format!("{:.1}", d.requests_per_minute()),
            note: format!(
                "average of the last 5 minutes; {} since start",
                totals.requests
            ),
        },
        Card {
            label: "Error rate",
            value: pct(totals.error_rate_percent()),
            note: format!(
                "share of 5xx since start ({} × 5xx, {} × 4xx)",
                totals.server_errors, totals.client_errors
            ),
        },
        Card {
            label: "Latency p50",
            value: ms(totals.p50_ms),
            note: "all requests since start".to_string(),
        },
        Card {
            label: "Latency p95",
            value: ms(totals.p95_ms),
            note: "all requests since start".to_string(),
        },
        Card {
            label: "Active users",
            value: d.stats.active_users.to_string(),
            note: "distinct users with a request in the last 5 minutes".to_string(),
        },
        Card {
            label: "Uptime",
            value: uptime(d.uptime),
            note: format!("version {}", d.version),
        },
        Card {
            label: "Database",
            value: d.backend.to_string(),
            note: format!(
                "pool: {} in use, {} idle, max {}",
                d.pool_in_use(),
                d.pool.idle,
                d.pool.max_size
            ),
        },
        Card {
            label: "Process memory",
            value: d
                .resident_memory_bytes
                .map_or_else(|| "n/a".to_string(), mebibytes),
            note: "resident set size".to_string(),
        },
    ]
}

fn charts(d: &Dashboard) -> (String, String) {
    let requests: Vec<f64> = d.stats.minutes.iter().map(|m| m.requests as f64).collect();
    let p95: Vec<f64> = d.stats.minutes.iter().map(|m| m.p95_ms).collect();
    let start = format!("{MINUTES_KEPT} min ago");
    let requests_chart = sparkline(&SparklineSpec {
        title: "Requests per minute, last hour",
        y_label: "req/min",
        format: |v| format!("{v:.0}"),
        values: &requests,
        start_label: &start,
        end_label: "now",
    });
    let latency_chart = sparkline(&SparklineSpec {
        title: "p95 latency per minute, last hour",
        y_label: "ms",
        format: |v| format!("{v:.0} ms"),
        values: &p95,
        start_label: &start,
        end_label: "now",
    });
    (requests_chart, latency_chart)
}

pub async fn dashboard(
    state: web::Data<AppState>,
    StaffUser(user): StaffUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let sort = RouteSort::parse(query.get("sort").map(String::as_str)).map_err(|msg| {
        AppError::BadRequest(format!("The parameter 'sort' is not valid: {msg}."))
    })?;
    let d = dashboard::collect(state.dashboard_instance(), sort);
    let (requests_chart, latency_chart) = charts(&d);
    let sort_links = [
        ("route", "Route", false),
        ("count", "Requests", true),
        ("errors", "4xx / 5xx", true),
        ("error_rate", "Error rate", true),
        ("p50", "p50", true),
        ("p95", "p95", true),
    ]
    .into_iter()
    .map(|(key, label, numeric)| SortLink {
        key,
        label,
        numeric,
        active: key == sort.as_str(),
    })
    .collect();
    render(&MetricsPage {
        layout: user.layout("Metrics", "/portal/admin/metrics"),
        taken_at: d.stats.taken_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        cards: cards(&d),
        sort_links,
        routes: d
            .stats
            .routes
            .iter()
            .map(|r| {
                let rate = r.error_rate_percent();
                RouteRow {
                    method: r.method,
                    route: r.route.to_string(),
                    count: r.count,
                    client_errors: r.client_errors,
                    server_errors: r.server_errors,
                    error_rate: pct(rate),
                    error_class: if r.server_errors > 0 { "bad" } else { "" },
                    p50: ms(r.p50_ms),
                    p95: ms(r.p95_ms),
                }
            })
            .collect(),
        recent: d
            .stats
            .recent
            .iter()
            .take(LAST_SHOWN)
            .map(request_row)
            .collect(),
        recent_capacity: RECENT_CAPACITY,
        slowest: d.stats.slowest.iter().map(request_row).collect(),
        caches: d
            .caches
            .iter()
            .map(|c| CacheRow {
                name: c.name,
                hits: c.hits,
                misses: c.misses,
                hit_rate: c
                    .hit_rate_percent()
                    .map_or_else(|| "no lookups yet".to_string(), pct),
            })
            .collect(),
        requests_chart,
        latency_chart,
        minutes: MINUTES_KEPT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_naturally() {
        assert_eq!(uptime(Duration::from_secs(12)), "12 s");
        assert_eq!(uptime(Duration::from_secs(249)), "4 min 09 s");
        assert_eq!(uptime(Duration::from_secs(7_500)), "2 h 05 min");
        assert_eq!(
            uptime(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3 d 4 h"
        );
    }
}
