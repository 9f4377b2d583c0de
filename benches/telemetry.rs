//! Overhead of request telemetry: `RequestStats::record` (statistics + cached Prometheus
//! handles) per request, single-threaded and with two threads contending; the whole
//! `Telemetry` middleware (request id, headers, span, stats, metrics) measured in process
//! as the difference between a bare app and the same app wrapped, on `/healthz` and on
//! an unmatched path; plus the cost of a snapshot (dashboard) and a `/metrics` render.
//! Run with `cargo bench --bench telemetry`; figures go to docs/performance.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use payerwatch::db::PoolState;
use payerwatch::observability::{metrics, stats::RequestStats};

const ROUTES: [&str; 8] = [
    "/healthz",
    "/portal",
    "/portal/uploads",
    "/portal/uploads/{id}",
    "/portal/drift",
    "/portal/alerts/{id}",
    "/static/{path:.*}",
    "unmatched",
];

fn record_many(stats: &RequestStats, n: u64, seed: u64) {
    for i in 0..n {
        let k = (i.wrapping_mul(2654435761).wrapping_add(seed)) as usize;
        let status = match k % 50 {
            0 => 500,
            1..=3 => 404,
            _ => 200,
        };
        stats.record(
            &Method::GET,
            Some(ROUTES[k % ROUTES.len()].to_string()),
            status,
            Duration::from_micros(200 + (k % 5000) as u64),
            k.is_multiple_of(3).then_some((k % 40) as i64),
        );
    }
}

/// Mean time per request through `actix_web::test::call_service`, in ns (a macro: the
/// service type names a crate this package does not depend on directly).
macro_rules! time_app {
    ($app:expr, $path:expr, $n:expr) => {{
        for _ in 0..1000 {
            let req = actix_web::test::TestRequest::get().uri($path).to_request();
            black_box(actix_web::test::call_service($app, req).await.status());
        }
        let t = Instant::now();
        for _ in 0..$n {
            let req = actix_web::test::TestRequest::get().uri($path).to_request();
            black_box(actix_web::test::call_service($app, req).await.status());
        }
        t.elapsed().as_nanos() as f64 / $n as f64
    }};
}

fn middleware_overhead(n: u64) {
    use actix_web::{App, HttpResponse, middleware, web};
    use payerwatch::web::http::middleware::Telemetry;

    actix_web::rt::System::new().block_on(async move {
        let healthz = || async { HttpResponse::Ok().body("ok") };
        let bare =
            actix_web::test::init_service(App::new().route("/healthz", web::get().to(healthz)))
                .await;
        let stats = Arc::new(RequestStats::new());
        let full = actix_web::test::init_service(
            App::new()
                .route("/healthz", web::get().to(healthz))
                .wrap(middleware::NormalizePath::trim())
                .wrap(Telemetry::new(false, vec!["localhost".into()], stats)),
        )
        .await;
        for path in ["/healthz", "/no/such/42"] {
            let b = time_app!(&bare, path, n);
            let f = time_app!(&full, path, n);
            println!(
                "middleware {path:<12} bare {b:>6.0} ns, full stack {f:>6.0} ns: +{:.2} µs/request",
                (f - b) / 1000.0
            );
        }
    });
}

fn main() {
    metrics::install();
    let n: u64 = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    let stats = RequestStats::new();
    record_many(&stats, 10_000, 0); // warm-up: routes and handles registered
    let t = Instant::now();
    record_many(&stats, n, 1);
    let single = t.elapsed();
    println!(
        "record(), 1 thread:   {n} calls in {:.3} s = {:.0} ns/call",
        single.as_secs_f64(),
        single.as_nanos() as f64 / n as f64
    );

    let shared = Arc::new(RequestStats::new());
    record_many(&shared, 10_000, 0);
    let t = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|seed| {
            let s = Arc::clone(&shared);
            std::thread::spawn(move || record_many(&s, n / 2, seed + 7))
        })
        .collect();
    for th in threads {
        let _ = th.join();
    }
    let contended = t.elapsed();
    println!(
        "record(), 2 threads:  {n} calls in {:.3} s = {:.0} ns/call (wall / calls)",
        contended.as_secs_f64(),
        contended.as_nanos() as f64 / n as f64
    );

    let t = Instant::now();
    for _ in 0..100 {
        black_box(stats.snapshot());
    }
    println!(
        "snapshot():           {:.1} µs/call",
        t.elapsed().as_secs_f64() * 1e6 / 100.0
    );

    middleware_overhead((n / 5).max(10_000));

    let pool = PoolState {
        max_size: 10,
        connections: 2,
        idle: 2,
    };
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..20 {
        bytes = black_box(metrics::render(&pool, "sqlite")).len();
    }
    println!(
        "metrics::render():    {:.2} ms/call ({bytes} bytes)",
        t.elapsed().as_secs_f64() * 1e3 / 20.0
    );
}
