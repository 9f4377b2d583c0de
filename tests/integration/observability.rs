//! Observability: request statistics match the traffic, `/metrics` exposes every family
//! with bounded labels and honours its token, logs carry request ids but no secrets or
//! PHI, a handler panic reaches Sentry scrubbed while the user gets the 500 page, and the
//! audit trail is append-only (PostgreSQL trigger), filterable, and purged by retention.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::{Duration, NaiveDateTime};
use diesel::connection::SimpleConnection;
use payerwatch::config::LogFormat;
use payerwatch::db::repo::audit::NewAuditEvent;
use payerwatch::db::repo::audit::{self, AuditFilter};
use payerwatch::db::repo::retention::PURGE_ACTION;
use payerwatch::db::repo::{customers, now};
use payerwatch::db::{Backend, Db};
use payerwatch::domain::tenant::{CustomerId, TenantScope};
use payerwatch::observability;
use payerwatch::observability::stats::UNMATCHED_ROUTE;

use crate::common::{SpawnOptions, extra_routes, spawn_app, spawn_app_with, test_settings};

async fn signed_in_as(req: HttpRequest, path: web::Path<i64>) -> HttpResponse {
    observability::set_authenticated_user(&mut req.extensions_mut(), path.into_inner());
    tracing::info!("handled a signed-in request");
    HttpResponse::Ok().body("hello")
}

async fn panics(_path: web::Path<i64>) -> HttpResponse {
    panic!("could not bill patient Jennifer, MRN 12345678, jane.roe@example.com, 123-45-6789");
}

async fn slow() -> HttpResponse {
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    HttpResponse::Ok().body("slow")
}

fn test_routes() -> SpawnOptions {
    SpawnOptions {
        extra_routes: extra_routes(|cfg| {
            cfg.route("/test/as/{user}", web::get().to(signed_in_as))
                .route("/test/panic/{id}", web::get().to(panics))
                .route("/test/slow", web::get().to(slow));
        }),
        ..SpawnOptions::default()
    }
}

// ---- request statistics ------------------------------------------------------------------

#[actix_web::test]
async fn per_route_counts_match_the_requests_sent() {
    let app = spawn_app_with(test_routes()).await;
    for i in 0..30 {
        let path = if i % 2 == 0 { "/healthz" } else { "/healthz/" };
        assert_eq!(app.get(path).await.status(), 200);
    }
    for _ in 0..7 {
        app.get("/readyz").await;
    }
    for i in 0..5 {
        assert_eq!(app.get(&format!("/no/such/{i}")).await.status(), 404);
    }
    for user in [1, 1, 2, 3, 3, 3] {
        assert_eq!(app.get(&format!("/test/as/{user}")).await.status(), 200);
    }

    let snap = app.request_stats.snapshot();
    let count = |route: &str| {
        snap.routes
            .iter()
            .find(|r| r.method == "GET" && &*r.route == route)
            .map(|r| (r.count, r.client_errors, r.server_errors))
    };
    assert_eq!(count("/healthz"), Some((30, 0, 0)));
    assert_eq!(count("/readyz"), Some((7, 0, 0)));
    assert_eq!(count(UNMATCHED_ROUTE), Some((5, 5, 0)));
    assert_eq!(count("/test/as/{user}"), Some((6, 0, 0)));
    assert_eq!(snap.totals.requests, 48);
    assert_eq!(snap.active_users, 3);
    assert_eq!(snap.recent.len(), 48);
    assert_eq!(&*snap.recent[0].route, "/test/as/{user}");
    assert!(snap.routes.iter().all(|r| !r.route.contains("no/such")));
    let this_minute = snap.minutes.last().expect("minutes");
    // The run may straddle a minute boundary.
    let last_two: u64 = snap.minutes.iter().rev().take(2).map(|m| m.requests).sum();
    assert!(this_minute.requests > 0 && last_two == 48, "{last_two}");
}

// ---- /metrics ----------------------------------------------------------------------------

#[actix_web::test]
async fn metrics_expose_every_family_in_prometheus_format() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = res.text().await.expect("body");
    for family in [
        "# TYPE payerwatch_http_requests_total counter",
        "# TYPE payerwatch_http_request_duration_seconds histogram",
        "payerwatch_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
        "payerwatch_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"0.005\"}",
        "payerwatch_uploads_total{status=\"failed\"} 0",
        "payerwatch_rows_accepted_total 0",
        "payerwatch_rows_rejected_total{reason=\"phi_suspected\"} 0",
        "payerwatch_report_runs_total{kind=\"drift\",status=\"failed\"} 0",
        "# TYPE payerwatch_report_run_duration_seconds histogram",
        "payerwatch_alerts_total{severity=\"critical\",status=\"suppressed\"} 0",
        "payerwatch_notification_deliveries_total{outcome=\"failed\",channel=\"email\"} 0",
        "# TYPE payerwatch_notification_delivery_duration_seconds histogram",
        "payerwatch_db_pool_connections{backend=",
        "payerwatch_db_pool_idle_connections{backend=",
        "payerwatch_db_pool_max_connections{backend=",
        "payerwatch_build_info{version=\"",
        "payerwatch_process_start_time_seconds",
    ] {
        assert!(body.contains(family), "missing {family}\n{body}");
    }
    // The pool is described by backend only: no URL, file or database name.
    assert!(!body.contains("pw_test_") && !body.contains("payerwatch.db"));
}

#[actix_web::test]
async fn metrics_series_stay_bounded_under_a_thousand_distinct_paths() {
    let app = spawn_app().await;
    for i in 0..1000 {
        let path = match i % 4 {
            0 => format!("/no/such/{i}"),
            1 => format!("/portal/uploads/{i}"),
            2 => format!("/api/v1/uploads/{}", uuid::Uuid::new_v4()),
            _ => format!("/static/missing-{i}.css?customer={i}"),
        };
        let _ = app.get(&path).await;
    }
    let foo = reqwest::Method::from_bytes(b"FOO").expect("method");
    for i in 0..20 {
        let _ = app
            .client
            .request(foo.clone(), app.url(&format!("/x/{i}")))
            .send()
            .await;
    }
    let body = app.get("/metrics").await.text().await.expect("body");
    let series: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("payerwatch_http_requests_total{"))
        .collect();
    // Routes of the table × methods × statuses seen: a few dozen at most, never ~1000.
    assert!(
        series.len() < 40,
        "{} series:\n{}",
        series.len(),
        series.join("\n")
    );
    for raw in [
        "/no/such",
        "/portal/uploads/1",
        "missing-",
        "customer=",
        "FOO",
    ] {
        assert!(!body.contains(raw), "raw value {raw} leaked into /metrics");
    }
    assert!(
        body.contains("route=\"unmatched\""),
        "unknown paths are counted as unmatched"
    );
}

#[actix_web::test]
async fn metrics_token_is_required_when_configured() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![(
            "PAYERWATCH_METRICS_TOKEN",
            "scrape-token-0123456789".to_string(),
        )],
        ..SpawnOptions::default()
    })
    .await;
    let url = app.url("/metrics");
    let none = app.client.get(&url).send().await.expect("sent");
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("scrape-token-0123456788")
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 401);
    let basic = app
        .client
        .get(&url)
        .basic_auth("scrape-token-0123456789", None::<&str>)
        .send()
        .await
        .expect("sent");
    assert_eq!(basic.status(), 401);
    let right = app
        .client
        .get(&url)
        .bearer_auth("scrape-token-0123456789")
        .send()
        .await
        .expect("sent");
    assert_eq!(right.status(), 200);
    assert!(
        right
            .text()
            .await
            .expect("body")
            .contains("payerwatch_build_info")
    );
}

#[actix_web::test]
async fn metrics_need_no_database() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![(
            "DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/unreachable".to_string(),
        )],
        migrate: Some(false),
        ..SpawnOptions::default()
    })
    .await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(body.contains("payerwatch_db_pool_connections{backend=\"postgresql\"} 0"));
    assert!(!body.contains("unreachable") && !body.contains("nobody"));
}

// ---- logs --------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The process-wide JSON log capture (a global subscriber can be installed only once).
fn captured_logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let installed = payerwatch::telemetry::init_tracing_with_writer(
            LogFormat::Json,
            capture.clone(),
            // The test client's own libraries (reqwest, its cookie jar) are not the server: quiet them.
            Some("debug,actix_server=warn,h2=warn,hyper=warn,reqwest=warn,cookie_store=warn"),
        );
        assert!(
            installed,
            "another test installed a global subscriber first"
        );
        capture
    })
}

#[actix_web::test]
async fn request_logs_carry_ids_and_never_secrets_query_strings_or_phi() {
    let logs = captured_logs();
    let app = spawn_app_with(test_routes()).await;

    let secrets = [
        "123-45-6789",
        "jane.roe",
        "session-cookie-secret",
        "bearer-token-secret",
        "csrf-secret-value",
        "Jennifer",
        "12345678",
    ];
    let not_found = app
        .client
        .get(app.url(
            "/no/such/123-45-6789?email=jane.roe%40example.com&note=patient+Jennifer+MRN+12345678",
        ))
        .header("Cookie", "id=session-cookie-secret")
        .header("Authorization", "Bearer bearer-token-secret")
        .send()
        .await
        .expect("sent");
    assert_eq!(not_found.status(), 404);
    let not_found_id = request_id(&not_found);

    let signed_in = app
        .client
        .get(app.url("/test/as/77?csrf_token=csrf-secret-value"))
        .header("Cookie", "id=session-cookie-secret")
        .send()
        .await
        .expect("sent");
    assert_eq!(signed_in.status(), 200);
    let signed_in_id = request_id(&signed_in);

    let panicked = app.get("/test/panic/5?ssn=123-45-6789").await;
    assert_eq!(panicked.status(), 500);
    let panicked_id = request_id(&panicked);

    let text = {
        let bytes = logs.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let mine: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .filter(|v: &serde_json::Value| {
            let id = v["span"]["request_id"].as_str().unwrap_or_default();
            id == not_found_id || id == signed_in_id || id == panicked_id
        })
        .collect();
    let line_for = |id: &str, message: &str| {
        mine.iter()
            .find(|v| v["span"]["request_id"] == id && v["message"] == message)
            .cloned()
            .unwrap_or_else(|| panic!("no '{message}' line for {id} in\n{text}"))
    };
    let refused = line_for(&not_found_id, "request refused");
    assert_eq!(refused["route"], UNMATCHED_ROUTE);
    assert_eq!(refused["status"], 404);
    let handled = line_for(&signed_in_id, "handled a signed-in request");
    assert_eq!(handled["span"]["user_id"], 77);
    let finished = line_for(&signed_in_id, "request finished");
    assert_eq!(finished["route"], "/test/as/{user}");
    line_for(&panicked_id, "handler panicked");

    for secret in secrets {
        assert!(
            !text.contains(secret),
            "'{secret}' appears in the logs:\n{text}"
        );
    }
    for raw in ["/no/such", "?", "email=", "csrf_token"] {
        assert!(
            !mine.iter().any(|v| v.to_string().contains(raw)),
            "raw path or query ({raw}) logged:\n{text}"
        );
    }
}

#[actix_web::test]
async fn slow_requests_log_a_warning_with_their_route() {
    let logs = captured_logs();
    let app = spawn_app_with(test_routes()).await;
    let res = app.get("/test/slow?customer=42").await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let text = {
        let bytes = logs.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let line: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["span"]["request_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no line for {id} in\n{text}"));
    assert_eq!(line["message"], "slow request");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["route"], "/test/slow");
    assert!(line["elapsed_ms"].as_u64().is_some_and(|ms| ms >= 2000));
    assert!(!text.contains("customer=42"));
    let snap = app.request_stats.snapshot();
    assert_eq!(&*snap.slowest[0].route, "/test/slow");
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_string()
}

// ---- Sentry ------------------------------------------------------------------------------

/// Keeps envelopes in memory instead of sending them.
#[derive(Clone, Default)]
struct CaptureTransport(Arc<Mutex<Vec<sentry::Envelope>>>);

impl sentry::Transport for CaptureTransport {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(envelope);
    }
}

#[actix_web::test]
async fn a_handler_panic_is_reported_scrubbed_and_the_user_sees_the_500_page() {
    let transport = CaptureTransport::default();
    let settings = test_settings(
        "sqlite://unused.db",
        &[("SENTRY_DSN", "https://public@sentry.invalid/1")],
    );
    let options = observability::sentry::client_options(
        &settings,
        Some(Arc::new(Arc::new(transport.clone()))),
    )
    .expect("options with a DSN");
    let client = sentry::Client::from(sentry::apply_defaults(options));
    let hub = Arc::new(sentry::Hub::new(
        Some(Arc::new(client)),
        Arc::new(sentry::Scope::default()),
    ));
    let mut spawn = test_routes();
    spawn.sentry_hub = Some(hub);
    let app = spawn_app_with(spawn).await;

    let res = app
        .client
        .get(app.url("/test/panic/4242?ssn=123-45-6789&email=jane.roe%40example.com"))
        .header("Cookie", "id=session-cookie-secret")
        .header("Authorization", "Bearer bearer-token-secret")
        .header("X-Request-Id", "req-sentry-0001")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 500);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("req-sentry-0001"),
        "request id on the 500 page"
    );
    assert!(!body.contains("Jennifer") && !body.contains("panicked at"));
    // The panicked request still counts under its route pattern, as a 5xx.
    let snap = app.request_stats.snapshot();
    let route = snap
        .routes
        .iter()
        .find(|r| &*r.route == "/test/panic/{id}")
        .expect("panicked request recorded under its route");
    assert_eq!((route.count, route.server_errors), (1, 1));

    let envelopes = transport.0.lock().unwrap_or_else(|e| e.into_inner());
    let event = envelopes
        .iter()
        .find_map(|e| e.event().cloned())
        .expect("the panic was reported");
    let json = serde_json::to_string(&event).expect("serializes");
    for secret in [
        "Jennifer",
        "12345678",
        "jane.roe",
        "123-45-6789",
        "session-cookie-secret",
        "bearer-token-secret",
        "4242",
    ] {
        assert!(!json.contains(secret), "'{secret}' reached Sentry: {json}");
    }
    let exception = event.exception.values.first().expect("exception");
    let value = exception.value.as_deref().unwrap_or_default();
    assert!(value.contains("[REDACTED]"), "{value}");
    assert!(value.starts_with("could not bill patient"), "{value}");
    let request = event.request.as_ref().expect("request attached");
    let url = request.url.as_ref().expect("url").to_string();
    assert!(url.ends_with("/test/panic/%7Bid%7D?[FILTERED]"), "{url}");
    assert!(request.cookies.is_none());
    assert!(
        request
            .headers
            .keys()
            .all(|k| !k.eq_ignore_ascii_case("cookie") && !k.eq_ignore_ascii_case("authorization"))
    );
    assert!(
        event
            .release
            .as_deref()
            .is_some_and(|r| r.starts_with("payerwatch@"))
    );
    assert_eq!(event.environment.as_deref(), Some("development"));
}

// ---- audit trail -------------------------------------------------------------------------

fn tenant(db: &Db, slug: &str) -> TenantScope {
    let slug = slug.to_string();
    let customer = db
        .write_blocking(move |conn| customers::find_or_create(conn, &slug, &slug))
        .expect("customer")
        .0;
    TenantScope::for_system(CustomerId(customer.id))
}

fn event(
    scope: &TenantScope,
    at: NaiveDateTime,
    action: &str,
    actor: Option<i64>,
) -> NewAuditEvent {
    NewAuditEvent {
        occurred_at: at,
        customer_id: Some(scope.id()),
        actor_user_id: actor,
        action: action.to_string(),
        target_type: Some("upload".to_string()),
        target_id: Some("1".to_string()),
        changed_fields: None,
        client_addr: Some("203.0.0.0".to_string()),
        request_id: Some("req-1".to_string()),
    }
}

fn insert_events(db: &Db, events: Vec<NewAuditEvent>) {
    db.write_blocking(move |conn| {
        for e in &events {
            audit::insert(conn, e)?;
        }
        Ok::<_, payerwatch::db::DbError>(())
    })
    .expect("insert audit events");
}

fn user(db: &Db, scope: &TenantScope, email: &str) -> i64 {
    let email = email.to_string();
    let scope = *scope;
    db.write_blocking(move |conn| {
        payerwatch::db::repo::users::insert(
            conn,
            &scope,
            &payerwatch::db::repo::users::CreateUser {
                email: &email,
                password_hash: "not-a-real-hash",
                role: payerwatch::domain::roles::Role::Analyst,
                is_staff: false,
            },
        )
    })
    .expect("user")
}

#[actix_web::test]
async fn audit_trail_filters_and_paginates_within_the_tenant() {
    let app = spawn_app().await;
    let a = tenant(&app.db, "clinic-a");
    let b = tenant(&app.db, "clinic-b");
    let ann = user(&app.db, &a, "ann@a.example");
    let bob = user(&app.db, &a, "bob@a.example");
    let base = now() - Duration::days(10);
    let mut events = Vec::new();
    for i in 0..25 {
        let action = if i % 5 == 0 {
            "upload.deleted"
        } else {
            "login.success"
        };
        let actor = if i % 2 == 0 { ann } else { bob };
        events.push(event(&a, base + Duration::hours(i), action, Some(actor)));
    }
    events.push(event(&b, base, "upload.deleted", None));
    insert_events(&app.db, events);

    let scope = a;
    let (first, second, deleted, by_ann, window, actions, all) = app
        .db
        .run(move |conn| {
            let any = AuditFilter::default();
            let first = audit::list_page(conn, &scope, &any, 1, 10)?;
            let second = audit::list_page(conn, &scope, &any, 3, 10)?;
            let deleted = audit::list_page(
                conn,
                &scope,
                &AuditFilter {
                    action: Some("upload.deleted".into()),
                    ..AuditFilter::default()
                },
                1,
                50,
            )?;
            let by_ann = audit::list_page(
                conn,
                &scope,
                &AuditFilter {
                    actor_user_id: Some(ann),
                    ..AuditFilter::default()
                },
                1,
                50,
            )?;
            let window = audit::list_page(
                conn,
                &scope,
                &AuditFilter {
                    from: Some(base + Duration::hours(5)),
                    until: Some(base + Duration::hours(10)),
                    ..AuditFilter::default()
                },
                1,
                50,
            )?;
            let actions = audit::list_actions(conn, &scope)?;
            let mut all = Vec::new();
            let mut before = None;
            loop {
                let chunk = audit::list_chunk_before(conn, &scope, &any, before, 7)?;
                before = chunk.last().map(|e| e.id);
                let done = chunk.len() < 7;
                all.extend(chunk);
                if done {
                    break;
                }
            }
            Ok((first, second, deleted, by_ann, window, actions, all))
        })
        .await
        .expect("queries");

    assert_eq!(first.total, 25);
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.total_pages(), 3);
    assert!(
        first.items[0].occurred_at > first.items[9].occurred_at,
        "newest first"
    );
    assert_eq!(second.items.len(), 5);
    assert!(!second.has_next() && second.has_prev());
    assert_eq!(deleted.total, 5, "tenant B's event is not included");
    assert!(deleted.items.iter().all(|e| e.action == "upload.deleted"));
    assert_eq!(by_ann.total, 13);
    assert_eq!(window.total, 5, "from inclusive, until exclusive");
    assert_eq!(actions, vec!["login.success", "upload.deleted"]);
    assert_eq!(all.len(), 25);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
}

#[actix_web::test]
async fn purge_removes_old_audit_events_and_expired_sessions_and_audits_itself() {
    let app = spawn_app().await;
    let a = tenant(&app.db, "clinic-a");
    let now = now();
    insert_events(
        &app.db,
        vec![
            event(&a, now - Duration::days(7 * 365), "login.success", None),
            event(
                &a,
                now - Duration::days(6 * 365 + 10),
                "login.success",
                None,
            ),
            event(&a, now - Duration::days(100), "login.success", None),
            event(&a, now - Duration::days(1), "login.success", None),
        ],
    );
    app.db
        .write_blocking(move |conn| {
            use diesel::prelude::*;
            use payerwatch::db::schema::sessions::dsl::*;
            for (key, expires) in [
                ("expired-1", now - Duration::minutes(5)),
                ("expired-2", now - Duration::days(3)),
                ("live-1", now + Duration::minutes(25)),
            ] {
                diesel::insert_into(sessions)
                    .values((
                        key_hash.eq(key),
                        user_id.eq(None::<i64>),
                        state.eq("{}"),
                        created_at.eq(now - Duration::hours(1)),
                        refreshed_at.eq(now - Duration::hours(1)),
                        expires_at.eq(expires),
                    ))
                    .execute(conn)?;
            }
            Ok::<_, payerwatch::db::DbError>(())
        })
        .expect("sessions");

    let db = app.db.clone();
    let dry = payerwatch::services::retention::purge(&db, now, None, true).expect("dry run");
    assert_eq!((dry.audit_events, dry.expired_sessions), (2, 2));
    let counts = audit_and_session_counts(&app.db);
    assert_eq!(counts, (4, 3), "a dry run changes nothing");

    let done = payerwatch::services::retention::purge(&db, now, None, false).expect("purge");
    assert_eq!((done.audit_events, done.expired_sessions), (2, 2));
    assert_eq!(
        audit_and_session_counts(&app.db),
        (3, 1),
        "2 old events gone, 1 purge event added"
    );

    let shorter =
        payerwatch::services::retention::purge(&db, now, Some(30), false).expect("purge 30 days");
    assert_eq!(shorter.audit_events, 1);

    let purges = app
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use payerwatch::db::schema::audit_events::dsl::*;
            Ok(audit_events
                .filter(action.eq(PURGE_ACTION))
                .select(changed_fields)
                .load::<Option<String>>(conn)?)
        })
        .await
        .expect("purge events");
    assert_eq!(purges.len(), 2);
    assert_eq!(
        purges[0].as_deref(),
        Some(
            "audit_events,sessions,invitations,password_tokens,login_attempts,notification_deliveries"
        )
    );

    // Login-throttle rows older than a day go; recent ones stay (they still throttle).
    use payerwatch::db::repo::login_failures::{self, ThrottleScope};
    let mut conn = app.db.get().expect("conn");
    login_failures::record(
        &mut conn,
        ThrottleScope::Account,
        "old",
        now - chrono::Duration::days(2),
    )
    .expect("old");
    login_failures::record(
        &mut conn,
        ThrottleScope::Account,
        "new",
        now - chrono::Duration::minutes(5),
    )
    .expect("new");
    drop(conn);
    let throttle = payerwatch::services::retention::purge(&db, now, None, false).expect("purge");
    assert_eq!(throttle.login_attempts, Some(1));
    let mut conn = app.db.get().expect("conn");
    let left = login_failures::count_older_than(&mut conn, now + chrono::Duration::days(1))
        .expect("count");
    assert_eq!(left, 1, "the recent failure still throttles");
}

/// Issue 19: expired invitations and set-password links were never swept. The purge
/// removes every expired link whatever became of it (never followed, accepted, used);
/// links still valid stay and still work.
#[actix_web::test]
async fn purge_removes_expired_invitations_and_password_links_and_keeps_live_ones() {
    use payerwatch::db::repo::{invitations, password_tokens};
    use payerwatch::domain::roles::Role;
    let app = spawn_app().await;
    let a = tenant(&app.db, "clinic-a");
    let (ann, bob, cat) = (
        user(&app.db, &a, "ann@a.example"),
        user(&app.db, &a, "bob@a.example"),
        user(&app.db, &a, "cat@a.example"),
    );
    let now = now();
    app.db
        .write_blocking(move |conn| {
            let invite = |conn: &mut _, email: &str, hash: &str, expires_at| {
                invitations::insert(
                    conn,
                    &a,
                    &invitations::NewInvitation {
                        email,
                        role: Role::Viewer,
                        token_hash: hash,
                        created_by: ann,
                        expires_at,
                    },
                )
            };
            invite(
                conn,
                "never@x.example",
                "inv-never",
                now - Duration::days(1),
            )?;
            let accepted = invite(conn, "took@x.example", "inv-took", now - Duration::days(2))?;
            invitations::mark_accepted(conn, accepted, bob)?;
            invite(conn, "live@x.example", "inv-live", now + Duration::days(7))?;
            let link = |conn: &mut _, user, hash: &str, expires_at| {
                password_tokens::issue(conn, &a, user, hash, "reset", Some(ann), expires_at)
            };
            link(conn, ann, "pw-never", now - Duration::hours(1))?;
            link(conn, bob, "pw-used", now - Duration::days(3))?;
            let used = password_tokens::find_usable(conn, "pw-used", now - Duration::days(4))?;
            password_tokens::mark_used(conn, used.id)?;
            link(conn, cat, "pw-live", now + Duration::days(1))?;
            Ok::<_, payerwatch::db::DbError>(())
        })
        .expect("links");
    let counts = |db: &Db| {
        use diesel::prelude::*;
        use payerwatch::db::schema::{invitations, password_tokens};
        let mut conn = db.get().expect("conn");
        let i: i64 = invitations::table
            .count()
            .get_result(&mut conn)
            .expect("count");
        let p: i64 = password_tokens::table
            .count()
            .get_result(&mut conn)
            .expect("count");
        (i, p)
    };

    let db = app.db.clone();
    let dry = payerwatch::services::retention::purge(&db, now, None, true).expect("dry run");
    assert_eq!(
        (dry.expired_invitations, dry.expired_password_links),
        (2, 2)
    );
    assert_eq!(counts(&app.db), (3, 3), "a dry run changes nothing");
    let lines = dry.lines();
    assert!(lines.contains(&("expired invitations", 2)), "{lines:?}");
    assert!(lines.contains(&("expired password links", 2)), "{lines:?}");

    let done = payerwatch::services::retention::purge(&db, now, None, false).expect("purge");
    assert_eq!(
        (done.expired_invitations, done.expired_password_links),
        (2, 2)
    );
    assert_eq!(counts(&app.db), (1, 1), "only the live links are left");
    let mut conn = app.db.get().expect("conn");
    invitations::find_usable(&mut conn, "inv-live", now).expect("the live invitation works");
    password_tokens::find_usable(&mut conn, "pw-live", now).expect("the live link works");
}

fn audit_and_session_counts(db: &Db) -> (i64, i64) {
    let mut conn = db.get().expect("conn");
    use diesel::prelude::*;
    let audits: i64 = payerwatch::db::schema::audit_events::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    let sessions: i64 = payerwatch::db::schema::sessions::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    (audits, sessions)
}

#[actix_web::test]
async fn on_postgresql_audit_rows_cannot_be_changed_or_deleted_except_by_the_purge() {
    let app = spawn_app().await;
    if app.own_database().backend() != Backend::Postgres {
        // SQLite has no equivalent of a session-scoped bypass; there the guarantee is that
        // the repository offers no update or delete besides the purge (see decisions.md).
        return;
    }
    let a = tenant(&app.db, "clinic-a");
    let ann = user(&app.db, &a, "ann@a.example");
    insert_events(
        &app.db,
        vec![
            event(&a, now() - Duration::days(3000), "login.success", Some(ann)),
            event(&a, now(), "login.success", Some(ann)),
        ],
    );
    let mut conn = app.db.get().expect("conn");
    for statement in [
        "UPDATE audit_events SET action = 'tampered'",
        "UPDATE audit_events SET actor_user_id = NULL, action = 'tampered'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = conn
            .batch_execute(statement)
            .expect_err("refused by the trigger");
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    // A session setting outside the purge function does not help an UPDATE.
    let err = conn
        .batch_execute(
            "BEGIN; SET LOCAL payerwatch.purge = 'on'; UPDATE audit_events SET action = 'x'; COMMIT;",
        )
        .expect_err("update still refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let _ = conn.batch_execute("ROLLBACK");

    // Deleting a person keeps their events, with the actor cleared by the foreign key.
    conn.batch_execute(&format!("DELETE FROM users WHERE id = {ann}"))
        .expect("user deletion is allowed");
    drop(conn);
    assert_eq!(audit_and_session_counts(&app.db).0, 2);

    let report =
        payerwatch::services::retention::purge(&app.db, now(), None, false).expect("purge works");
    assert_eq!(report.audit_events, 1);
    assert_eq!(
        audit_and_session_counts(&app.db).0,
        2,
        "one left + the purge event"
    );
}

// ---- dashboard data ----------------------------------------------------------------------

#[actix_web::test]
async fn dashboard_data_names_the_backend_but_never_the_database() {
    let app = spawn_app_with(test_routes()).await;
    for user in [7, 8] {
        app.get(&format!("/test/as/{user}")).await;
    }
    app.get("/no/such/page").await;
    let settings = test_settings(app.own_database().url(), &[]);
    let mut state = payerwatch::web::AppState::new(settings, app.db.clone(), b"test-secret");
    state.request_stats = Arc::clone(&app.request_stats);
    let sort = observability::dashboard::RouteSort::parse(Some("route")).expect("valid sort");
    let dashboard = observability::dashboard::collect(state.dashboard_instance(), sort);
    let expected = match app.own_database().backend() {
        Backend::Postgres => "postgresql",
        Backend::Sqlite => "sqlite",
    };
    assert_eq!(dashboard.backend, expected);
    assert_eq!(dashboard.stats.active_users, 2);
    assert_eq!(dashboard.stats.routes.len(), 2);
    assert_eq!(&*dashboard.stats.routes[0].route, "/test/as/{user}");
    assert!(dashboard.pool.max_size >= 1);
    assert!(dashboard.requests_per_minute() > 0.0);
    let debug = format!("{dashboard:?}");
    assert!(!debug.contains("pw_test_") && !debug.contains("payerwatch.db"));
}

/// A whole user journey — sign in, an upload carrying PHI-laden rows, analytics, filtered
/// pages and both exports — and not one log line carries PHI, a password, a cookie, a
/// CSRF token or a query string.
#[actix_web::test]
async fn a_full_journey_logs_no_phi_and_no_secrets() {
    let logs = captured_logs();
    let app = spawn_app().await;
    let password = app.create_user(
        "Journey Clinic",
        "lead@journey.test",
        payerwatch::domain::roles::Role::Owner,
        false,
    );
    let login = app.login("lead@journey.test", &password).await;
    assert_eq!(login.status(), 303);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_string())
        .expect("session cookie");
    let scope = tenant_by_slug(&app.db, "journey-clinic");

    let mut csv = String::from(
        "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n",
    );
    for i in 0..40 {
        csv.push_str(&format!(
            "Aetna,99213,2026-10-{:02},2026-11-01,DENIED,100.00,CO-197,Precertification absent\n",
            1 + i % 28
        ));
    }
    csv.push_str(
        "Aetna,99213,2026-10-01,2026-11-01,DENIED,100.00,CO-16,Member SSN 123-45-6789 on file\n",
    );
    csv.push_str("Aetna,99213,2026-10-01,2026-11-01,DENIED,100.00,CO-16,Called patient Jennifer at (555) 867-5309\n");
    csv.push_str("Mr Garcia Health Plan,99213,2026-10-01,2026-11-01,PAID,100.00,,\n");
    let db = app.db.clone();
    let outcome = actix_web::rt::task::spawn_blocking(move || {
        let request = payerwatch::ingest::UploadRequest {
            scope,
            file_name: "claims for MRN 12345678.csv".into(),
            uploaded_by: None,
            declared_size: None,
            limits: payerwatch::ingest::Limits::default(),
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).expect("date"),
        };
        let outcome = payerwatch::ingest::ingest(
            &db,
            &request,
            std::io::Cursor::new(csv),
            &payerwatch::ingest::IngestOptions::default(),
        );
        payerwatch::services::analytics::run_all(&db, &scope, None, "upload");
        outcome
    })
    .await
    .expect("joined")
    .expect("ingested");
    assert_eq!(
        outcome.status.as_str(),
        "partial",
        "PHI rows rejected, the rest stored"
    );

    for path in [
        "/portal/drift?payer=Aetna&min_severity=medium",
        "/portal/drift.csv?payer=Aetna",
        "/portal/settings/audit?action=login.success",
        "/portal/settings/audit.csv?action=login.success",
        "/portal/alerts?payer=Aetna",
    ] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    let csrf = {
        let page = app.get("/portal").await.text().await.expect("page");
        crate::common::csrf_token(&page).expect("token")
    };

    let text =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|e| e.into_inner())).to_string();
    assert!(
        text.contains("upload processed"),
        "the journey was logged at all"
    );
    for secret in [
        password.as_str(),
        cookie.as_str(),
        csrf.as_str(),
        "123-45-6789",
        "Jennifer",
        "867-5309",
        "Garcia",
        "12345678",
        "payer=Aetna",
        "min_severity",
        "action=login",
    ] {
        if let Some(line) = text.lines().find(|l| l.contains(secret)) {
            panic!("'{secret}' appears in the logs: {line}");
        }
    }
}

fn tenant_by_slug(db: &Db, slug: &str) -> TenantScope {
    let mut conn = db.get().expect("conn");
    TenantScope::for_system(CustomerId(
        customers::find_by_slug(&mut conn, slug)
            .expect("customer")
            .id,
    ))
}
