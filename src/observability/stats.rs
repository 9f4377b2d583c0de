//! Per-instance request statistics for the staff dashboard: the last 100 requests,
//! per-route aggregates (count, 4xx, 5xx, latency quantiles), per-minute buckets for the
//! last hour (sparklines), the slowest recent requests and active users.
//!
//! Everything sits behind one mutex taken once per request for a few hundred
//! nanoseconds; the Prometheus handles for each route and status are cached here so the
//! hot path does no registry lookup. Figures are process-local and reset on restart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::http::Method;
use chrono::{DateTime, TimeZone, Utc};
use hdrhistogram::Histogram;

use super::metrics::{self, HttpHandles};

/// How many requests the ring buffer keeps.
pub const RECENT_CAPACITY: usize = 100;
/// Per-minute buckets kept (one hour).
pub const MINUTES_KEPT: usize = 60;
/// A user counts as active when seen within this many seconds.
pub const ACTIVE_WINDOW_SECS: i64 = 300;
/// How many slow requests are kept (from the last hour).
pub const SLOW_KEPT: usize = 10;
/// The route name for requests that matched no route (never the raw path).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latencies are recorded in microseconds, clamped to one hour.
const MAX_MICROS: u64 = 3_600_000_000;
const SIGNIFICANT_FIGURES: u8 = 2;

/// One finished request, as the ring buffer and the slow list keep it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub at: DateTime<Utc>,
    pub method: &'static str,
    pub route: Arc<str>,
    pub status: u16,
    pub duration_us: u64,
}

impl RequestRecord {
    pub fn duration_ms(&self) -> f64 {
        self.duration_us as f64 / 1000.0
    }
}

/// Per-route figures for the dashboard table.
#[derive(Debug, Clone)]
pub struct RouteSnapshot {
    pub method: &'static str,
    pub route: Arc<str>,
    pub count: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl RouteSnapshot {
    /// Share of 5xx answers, in percent.
    pub fn error_rate_percent(&self) -> f64 {
        percent(self.server_errors, self.count)
    }
}

/// One minute of traffic (zeros for minutes without requests).
#[derive(Debug, Clone)]
pub struct MinuteSnapshot {
    pub start: DateTime<Utc>,
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub p95_ms: f64,
}

/// Whole-instance totals since start.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

impl Totals {
    pub fn error_rate_percent(&self) -> f64 {
        percent(self.server_errors, self.requests)
    }
}

/// Everything the dashboard shows, taken under one lock.
#[derive(Debug, Clone)]
pub struct StatsSnapshot {
    pub taken_at: DateTime<Utc>,
    pub totals: Totals,
    pub routes: Vec<RouteSnapshot>,
    /// Newest first.
    pub recent: Vec<RequestRecord>,
    /// Slowest first.
    pub slowest: Vec<RequestRecord>,
    /// Oldest first, exactly [`MINUTES_KEPT`] entries ending with the current minute.
    pub minutes: Vec<MinuteSnapshot>,
    pub active_users: usize,
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn new_histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts; the fallback is never taken.
    Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_FIGURES)
        .or_else(|_| Histogram::new(SIGNIFICANT_FIGURES))
        .unwrap_or_else(|_| Histogram::new(3).expect("3 significant figures are valid"))
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

struct RouteAgg {
    method: &'static str,
    route: Arc<str>,
    count: u64,
    client_errors: u64,
    server_errors: u64,
    latency: Histogram<u64>,
    /// Prometheus handles per status seen on this route (a handful at most).
    handles: Vec<(u16, HttpHandles)>,
}

struct MinuteBucket {
    minute: i64,
    requests: u64,
    client_errors: u64,
    server_errors: u64,
    latency: Histogram<u64>,
}

struct Inner {
    recent: VecDeque<RequestRecord>,
    routes: HashMap<(&'static str, String), RouteAgg>,
    minutes: VecDeque<MinuteBucket>,
    slowest: Vec<RequestRecord>,
    active: HashMap<i64, i64>,
    total_requests: u64,
    total_client_errors: u64,
    total_server_errors: u64,
    total_latency: Histogram<u64>,
}

/// The request statistics of one application instance.
pub struct RequestStats {
    inner: Mutex<Inner>,
}

impl Default for RequestStats {
    fn default() -> Self {
        RequestStats::new()
    }
}

/// Standard methods keep their name; anything else is `OTHER`, so a client inventing
/// methods cannot grow the route table or the metric series.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

impl RequestStats {
    pub fn new() -> Self {
        RequestStats {
            inner: Mutex::new(Inner {
                recent: VecDeque::with_capacity(RECENT_CAPACITY),
                routes: HashMap::new(),
                minutes: VecDeque::with_capacity(MINUTES_KEPT),
                slowest: Vec::with_capacity(SLOW_KEPT + 1),
                active: HashMap::new(),
                total_requests: 0,
                total_client_errors: 0,
                total_server_errors: 0,
                total_latency: new_histogram(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent-enough counters; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one finished request: statistics and Prometheus series. `route` is the
    /// matched route pattern (`None` → [`UNMATCHED_ROUTE`]), never a raw path.
    pub fn record(
        &self,
        method: &Method,
        route: Option<String>,
        status: u16,
        elapsed: Duration,
        user_id: Option<i64>,
    ) {
        self.record_at(Utc::now(), method, route, status, elapsed, user_id);
    }

    /// [`RequestStats::record`] with an explicit clock (tests).
    pub fn record_at(
        &self,
        now: DateTime<Utc>,
        method: &Method,
        route: Option<String>,
        status: u16,
        elapsed: Duration,
        user_id: Option<i64>,
    ) {
        let method = method_label(method);
        let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_string());
        let micros = (elapsed.as_micros() as u64).clamp(1, MAX_MICROS);
        let client_error = (400..500).contains(&status);
        let server_error = status >= 500;
        let unix = now.timestamp();
        let minute = unix.div_euclid(60);

        let mut inner = self.lock();
        let inner = &mut *inner;

        // Per route (and its cached Prometheus handles).
        let agg = inner
            .routes
            .entry((method, route))
            .or_insert_with_key(|(method, route)| RouteAgg {
                method,
                route: Arc::from(route.as_str()),
                count: 0,
                client_errors: 0,
                server_errors: 0,
                latency: new_histogram(),
                handles: Vec::new(),
            });
        agg.count += 1;
        agg.client_errors += u64::from(client_error);
        agg.server_errors += u64::from(server_error);
        agg.latency.saturating_record(micros);
        let handles = match agg.handles.iter().position(|(s, _)| *s == status) {
            Some(i) => &agg.handles[i].1,
            None => {
                agg.handles
                    .push((status, metrics::http_handles(method, &agg.route, status)));
                &agg.handles[agg.handles.len() - 1].1
            }
        };
        handles.observe(elapsed);
        let route = Arc::clone(&agg.route);

        // Whole instance.
        inner.total_requests += 1;
        inner.total_client_errors += u64::from(client_error);
        inner.total_server_errors += u64::from(server_error);
        inner.total_latency.saturating_record(micros);

        // Per minute; a new minute also prunes what aged out.
        if inner.minutes.back().map(|b| b.minute) != Some(minute) {
            inner.roll_minute(minute, unix);
        }
        if let Some(bucket) = inner.minutes.back_mut() {
            bucket.requests += 1;
            bucket.client_errors += u64::from(client_error);
            bucket.server_errors += u64::from(server_error);
            bucket.latency.saturating_record(micros);
        }

        if let Some(id) = user_id {
            inner.active.insert(id, unix);
        }

        let record = RequestRecord {
            at: now,
            method,
            route,
            status,
            duration_us: micros,
        };
        let slow_floor = if inner.slowest.len() < SLOW_KEPT {
            0
        } else {
            inner.slowest.last().map_or(0, |r| r.duration_us)
        };
        if micros > slow_floor {
            let at = inner.slowest.partition_point(|r| r.duration_us >= micros);
            inner.slowest.insert(at, record.clone());
            inner.slowest.truncate(SLOW_KEPT);
        }
        if inner.recent.len() == RECENT_CAPACITY {
            inner.recent.pop_front();
        }
        inner.recent.push_back(record);
    }

    /// Everything the dashboard needs, consistent with itself.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.snapshot_at(Utc::now())
    }

    /// [`RequestStats::snapshot`] with an explicit clock (tests).
    pub fn snapshot_at(&self, now: DateTime<Utc>) -> StatsSnapshot {
        let inner = self.lock();
        let unix = now.timestamp();
        let current_minute = unix.div_euclid(60);

        let mut routes: Vec<RouteSnapshot> = inner
            .routes
            .values()
            .map(|agg| RouteSnapshot {
                method: agg.method,
                route: Arc::clone(&agg.route),
                count: agg.count,
                client_errors: agg.client_errors,
                server_errors: agg.server_errors,
                p50_ms: quantile_ms(&agg.latency, 0.50),
                p95_ms: quantile_ms(&agg.latency, 0.95),
                p99_ms: quantile_ms(&agg.latency, 0.99),
                max_ms: if agg.latency.is_empty() {
                    0.0
                } else {
                    agg.latency.max() as f64 / 1000.0
                },
            })
            .collect();
        routes.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.route.cmp(&b.route))
                .then_with(|| a.method.cmp(b.method))
        });

        let minutes = (0..MINUTES_KEPT as i64)
            .rev()
            .map(|ago| {
                let minute = current_minute - ago;
                let start = Utc.timestamp_opt(minute * 60, 0).single().unwrap_or(now);
                match inner.minutes.iter().find(|b| b.minute == minute) {
                    Some(b) => MinuteSnapshot {
                        start,
                        requests: b.requests,
                        client_errors: b.client_errors,
                        server_errors: b.server_errors,
                        p95_ms: quantile_ms(&b.latency, 0.95),
                    },
                    None => MinuteSnapshot {
                        start,
                        requests: 0,
                        client_errors: 0,
                        server_errors: 0,
                        p95_ms: 0.0,
                    },
                }
            })
            .collect();

        let hour_ago = now - chrono::Duration::hours(1);
        StatsSnapshot {
            taken_at: now,
            totals: Totals {
                requests: inner.total_requests,
                client_errors: inner.total_client_errors,
                server_errors: inner.total_server_errors,
                p50_ms: quantile_ms(&inner.total_latency, 0.50),
                p95_ms: quantile_ms(&inner.total_latency, 0.95),
            },
            routes,
            recent: inner.recent.iter().rev().cloned().collect(),
            slowest: inner
                .slowest
                .iter()
                .filter(|r| r.at >= hour_ago)
                .cloned()
                .collect(),
            minutes,
            active_users: inner
                .active
                .values()
                .filter(|seen| unix - **seen < ACTIVE_WINDOW_SECS)
                .count(),
        }
    }

    /// Distinct users with a request in the last five minutes.
    pub fn active_users(&self) -> usize {
        let unix = Utc::now().timestamp();
        self.lock()
            .active
            .values()
            .filter(|seen| unix - **seen < ACTIVE_WINDOW_SECS)
            .count()
    }
}

impl Inner {
    /// Starts the bucket for `minute`, recycling the oldest one's histogram, and drops
    /// what is older than the windows (buckets, slow requests, active users).
    fn roll_minute(&mut self, minute: i64, unix: i64) {
        while self
            .minutes
            .front()
            .is_some_and(|b| b.minute <= minute - MINUTES_KEPT as i64)
        {
            self.minutes.pop_front();
        }
        let latency = if self.minutes.len() >= MINUTES_KEPT {
            self.minutes.pop_front().map(|mut b| {
                b.latency.reset();
                b.latency
            })
        } else {
            None
        };
        self.minutes.push_back(MinuteBucket {
            minute,
            requests: 0,
            client_errors: 0,
            server_errors: 0,
            latency: latency.unwrap_or_else(new_histogram),
        });
        self.active
            .retain(|_, seen| unix - *seen < ACTIVE_WINDOW_SECS);
        let hour_ago = unix - 3600;
        self.slowest.retain(|r| r.at.timestamp() >= hour_ago);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0)
            .single()
            .expect("valid time")
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ring_keeps_the_last_hundred_newest_first() {
        let stats = RequestStats::new();
        for i in 0..150u64 {
            stats.record_at(at(0), &Method::GET, Some("/a".into()), 200, ms(i), None);
        }
        let snap = stats.snapshot_at(at(1));
        assert_eq!(snap.recent.len(), RECENT_CAPACITY);
        assert_eq!(snap.recent[0].duration_us, 149_000);
        assert_eq!(snap.recent[99].duration_us, 50_000);
    }

    #[test]
    fn routes_count_errors_separately_with_quantiles() {
        let stats = RequestStats::new();
        for i in 1..=100u64 {
            let status = match i {
                1..=5 => 500,
                6..=15 => 404,
                _ => 200,
            };
            stats.record_at(
                at(0),
                &Method::GET,
                Some("/portal/uploads/{id}".into()),
                status,
                ms(i),
                None,
            );
        }
        stats.record_at(at(0), &Method::GET, None, 404, ms(1), None);
        let snap = stats.snapshot_at(at(1));
        let route = &snap.routes[0];
        assert_eq!(&*route.route, "/portal/uploads/{id}");
        assert_eq!(
            (route.count, route.client_errors, route.server_errors),
            (100, 10, 5)
        );
        assert!((route.p50_ms - 50.0).abs() < 1.0, "{}", route.p50_ms);
        assert!((route.p95_ms - 95.0).abs() < 1.0, "{}", route.p95_ms);
        assert!((route.error_rate_percent() - 5.0).abs() < 1e-9);
        assert_eq!(&*snap.routes[1].route, UNMATCHED_ROUTE);
        assert_eq!(snap.totals.requests, 101);
    }

    #[test]
    fn invented_methods_share_one_label() {
        let stats = RequestStats::new();
        for name in ["FOO", "BAR", "BAZ"] {
            let method = Method::from_bytes(name.as_bytes()).expect("token");
            stats.record_at(at(0), &method, None, 404, ms(1), None);
        }
        let snap = stats.snapshot_at(at(0));
        assert_eq!(snap.routes.len(), 1);
        assert_eq!(snap.routes[0].method, "OTHER");
    }

    #[test]
    fn minute_buckets_cover_the_last_hour() {
        let stats = RequestStats::new();
        stats.record_at(at(0), &Method::GET, Some("/a".into()), 200, ms(10), None);
        stats.record_at(at(61), &Method::GET, Some("/a".into()), 500, ms(30), None);
        stats.record_at(at(62), &Method::GET, Some("/a".into()), 200, ms(20), None);
        let snap = stats.snapshot_at(at(70));
        assert_eq!(snap.minutes.len(), MINUTES_KEPT);
        let last = &snap.minutes[MINUTES_KEPT - 1];
        let before = &snap.minutes[MINUTES_KEPT - 2];
        assert_eq!((last.requests, last.server_errors), (2, 1));
        assert_eq!(before.requests, 1);
        assert!(last.start > before.start);
        // Two hours later everything has aged out of the window.
        let later = stats.snapshot_at(at(7200));
        assert!(later.minutes.iter().all(|m| m.requests == 0));
    }

    #[test]
    fn active_users_are_distinct_and_recent() {
        let stats = RequestStats::new();
        stats.record_at(at(0), &Method::GET, Some("/p".into()), 200, ms(1), Some(1));
        stats.record_at(at(10), &Method::GET, Some("/p".into()), 200, ms(1), Some(1));
        stats.record_at(at(20), &Method::GET, Some("/p".into()), 200, ms(1), Some(2));
        stats.record_at(at(30), &Method::GET, Some("/p".into()), 200, ms(1), None);
        assert_eq!(stats.snapshot_at(at(40)).active_users, 2);
        // User 1 last seen at 10 s: gone at 310 s; user 2 (20 s) still counted at 315 s.
        assert_eq!(stats.snapshot_at(at(315)).active_users, 1);
        assert_eq!(stats.snapshot_at(at(400)).active_users, 0);
    }

    #[test]
    fn slowest_keeps_the_top_ten() {
        let stats = RequestStats::new();
        for i in 0..30u64 {
            stats.record_at(at(0), &Method::GET, Some("/s".into()), 200, ms(i), None);
        }
        let snap = stats.snapshot_at(at(1));
        let got: Vec<u64> = snap.slowest.iter().map(|r| r.duration_us / 1000).collect();
        assert_eq!(got, (20..30u64).rev().collect::<Vec<_>>());
    }
}
