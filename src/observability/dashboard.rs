//! The data behind the staff metrics dashboard (`/portal/admin/metrics`): request
//! statistics plus instance facts (version, uptime, database backend and pool, resident
//! memory, in-process cache hit rates), assembled in one call so the page handler only
//! parses its query and renders. No database query: the page must work during an
//! incident.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::stats::{RequestStats, RouteSnapshot, StatsSnapshot};
use crate::db::{Db, PoolState};

/// Everything the dashboard shows. Figures are per instance and reset on restart.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub stats: StatsSnapshot,
    pub version: &'static str,
    pub uptime: Duration,
    /// `postgresql` or `sqlite` — never the URL or database name.
    pub backend: &'static str,
    pub pool: PoolState,
    pub resident_memory_bytes: Option<u64>,
    pub caches: Vec<CacheSnapshot>,
}

impl Dashboard {
    /// Requests per minute over the last five complete-or-current minutes.
    pub fn requests_per_minute(&self) -> f64 {
        let recent: Vec<_> = self.stats.minutes.iter().rev().take(5).collect();
        if recent.is_empty() {
            return 0.0;
        }
        recent.iter().map(|m| m.requests).sum::<u64>() as f64 / recent.len() as f64
    }

    pub fn pool_in_use(&self) -> u32 {
        self.pool.connections.saturating_sub(self.pool.idle)
    }
}

/// What the dashboard reads from the running instance.
pub struct Instance<'a> {
    pub request_stats: &'a RequestStats,
    pub started_at: Instant,
    pub db: &'a Db,
    /// Hits and misses of the rendered-chart cache.
    pub chart_cache: (u64, u64),
}

/// Collects the dashboard for this instance; `sort` orders the route table.
pub fn collect(instance: Instance<'_>, sort: RouteSort) -> Dashboard {
    let mut stats = instance.request_stats.snapshot();
    sort.apply(&mut stats.routes);
    Dashboard {
        stats,
        version: crate::VERSION,
        uptime: instance.started_at.elapsed(),
        backend: instance.db.backend().as_str(),
        pool: instance.db.pool_state(),
        resident_memory_bytes: resident_memory_bytes(),
        caches: caches_of(instance.chart_cache),
    }
}

/// Name of the rendered-chart cache in the dashboard's cache table.
pub const CHART_CACHE_NAME: &str = "finding charts";

/// The registered process-wide caches plus this instance's chart cache (which keeps its
/// own counters because it lives in the application state), by name.
fn caches_of((hits, misses): (u64, u64)) -> Vec<CacheSnapshot> {
    let mut caches = cache_snapshots();
    caches.push(CacheSnapshot {
        name: CHART_CACHE_NAME,
        hits,
        misses,
    });
    caches.sort_by(|a, b| a.name.cmp(b.name));
    caches
}

/// Orders of the per-route table, from the page's `sort` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouteSort {
    #[default]
    Count,
    Errors,
    ErrorRate,
    P50,
    P95,
    Route,
}

impl RouteSort {
    /// Parses `sort=`; unknown values are refused so the page can answer 400.
    pub fn parse(value: Option<&str>) -> Result<RouteSort, String> {
        match value.map(str::trim) {
            None | Some("") | Some("count") => Ok(RouteSort::Count),
            Some("errors") => Ok(RouteSort::Errors),
            Some("error_rate") => Ok(RouteSort::ErrorRate),
            Some("p50") => Ok(RouteSort::P50),
            Some("p95") => Ok(RouteSort::P95),
            Some("route") => Ok(RouteSort::Route),
            Some(_) => {
                Err("sort must be one of count, errors, error_rate, p50, p95, route".to_string())
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RouteSort::Count => "count",
            RouteSort::Errors => "errors",
            RouteSort::ErrorRate => "error_rate",
            RouteSort::P50 => "p50",
            RouteSort::P95 => "p95",
            RouteSort::Route => "route",
        }
    }

    /// Sorts descending by the figure (ascending by name for `Route`), ties by route.
    pub fn apply(self, routes: &mut [RouteSnapshot]) {
        let by_name = |a: &RouteSnapshot, b: &RouteSnapshot| {
            a.route.cmp(&b.route).then_with(|| a.method.cmp(b.method))
        };
        match self {
            RouteSort::Count => routes.sort_by(|a, b| b.count.cmp(&a.count).then(by_name(a, b))),
            RouteSort::Errors => routes.sort_by(|a, b| {
                (b.server_errors + b.client_errors)
                    .cmp(&(a.server_errors + a.client_errors))
                    .then(by_name(a, b))
            }),
            RouteSort::ErrorRate => routes.sort_by(|a, b| {
                b.error_rate_percent()
                    .total_cmp(&a.error_rate_percent())
                    .then(by_name(a, b))
            }),
            RouteSort::P50 => {
                routes.sort_by(|a, b| b.p50_ms.total_cmp(&a.p50_ms).then(by_name(a, b)))
            }
            RouteSort::P95 => {
                routes.sort_by(|a, b| b.p95_ms.total_cmp(&a.p95_ms).then(by_name(a, b)))
            }
            RouteSort::Route => routes.sort_by(by_name),
        }
    }
}

/// Resident set size of this process (Linux `/proc/self/statm`), `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Hit/miss counters of one in-process cache (e.g. a session cache). Register once with
/// [`cache_counter`] and call `hit()`/`miss()`; the dashboard lists every registered cache.
#[derive(Debug)]
pub struct CacheCounter {
    name: &'static str,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheCounter {
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CacheSnapshot {
        CacheSnapshot {
            name: self.name,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CacheSnapshot {
    pub name: &'static str,
    pub hits: u64,
    pub misses: u64,
}

impl CacheSnapshot {
    /// Hit rate in percent, `None` before the first lookup.
    pub fn hit_rate_percent(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        (total > 0).then(|| self.hits as f64 * 100.0 / total as f64)
    }
}

fn caches() -> &'static Mutex<Vec<&'static CacheCounter>> {
    static CACHES: OnceLock<Mutex<Vec<&'static CacheCounter>>> = OnceLock::new();
    CACHES.get_or_init(|| Mutex::new(Vec::new()))
}

/// The process-wide counter for the cache called `name` (created on first use; the same
/// name returns the same counter).
pub fn cache_counter(name: &'static str) -> &'static CacheCounter {
    let mut list = caches().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = list.iter().find(|c| c.name == name) {
        return existing;
    }
    let counter: &'static CacheCounter = Box::leak(Box::new(CacheCounter {
        name,
        hits: AtomicU64::new(0),
        misses: AtomicU64::new(0),
    }));
    list.push(counter);
    counter
}

/// Every registered cache, by name.
pub fn cache_snapshots() -> Vec<CacheSnapshot> {
    let list = caches().lock().unwrap_or_else(|e| e.into_inner());
    let mut out: Vec<CacheSnapshot> = list.iter().map(|c| c.snapshot()).collect();
    out.sort_by(|a, b| a.name.cmp(b.name));
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn route(name: &str, count: u64, errors: u64, p95: f64) -> RouteSnapshot {
        RouteSnapshot {
            method: "GET",
            route: Arc::from(name),
            count,
            client_errors: 0,
            server_errors: errors,
            p50_ms: p95 / 2.0,
            p95_ms: p95,
            p99_ms: p95,
            max_ms: p95,
        }
    }

    #[test]
    fn routes_sort_by_the_requested_figure() {
        let mut routes = vec![
            route("/a", 10, 5, 1.0),
            route("/b", 100, 1, 50.0),
            route("/c", 50, 0, 9.0),
        ];
        let names = |r: &[RouteSnapshot]| r.iter().map(|r| r.route.to_string()).collect::<Vec<_>>();
        RouteSort::Count.apply(&mut routes);
        assert_eq!(names(&routes), ["/b", "/c", "/a"]);
        RouteSort::P95.apply(&mut routes);
        assert_eq!(names(&routes), ["/b", "/c", "/a"]);
        RouteSort::ErrorRate.apply(&mut routes);
        assert_eq!(names(&routes), ["/a", "/b", "/c"]);
        RouteSort::Route.apply(&mut routes);
        assert_eq!(names(&routes), ["/a", "/b", "/c"]);
        assert_eq!(RouteSort::parse(Some("p95")), Ok(RouteSort::P95));
        assert_eq!(RouteSort::parse(None), Ok(RouteSort::Count));
        assert!(RouteSort::parse(Some("DROP TABLE")).is_err());
    }

    #[test]
    fn caches_count_hits_and_misses() {
        let c = cache_counter("test-cache");
        c.hit();
        c.hit();
        c.hit();
        c.miss();
        assert!(std::ptr::eq(c, cache_counter("test-cache")));
        let snap = cache_snapshots()
            .into_iter()
            .find(|s| s.name == "test-cache")
            .expect("registered");
        assert_eq!(snap.hit_rate_percent(), Some(75.0));
    }

    #[test]
    fn memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(resident_memory_bytes().is_some_and(|b| b > 1_000_000));
        }
    }
}
