//! Builds the application: database, middleware stack and the route table, in one place.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{Condition, NormalizePath, TrailingSlash};
use actix_web::web::{self, ServiceConfig};
use actix_web::{App, HttpServer};

use crate::config::Settings;
use crate::db::Db;
use crate::observability;
use crate::web::auth::csrf::Csrf;
use crate::web::auth::session_cookie_name;
use crate::web::auth::session_store::DbSessionStore;
use crate::web::handlers::admin::metrics as admin_metrics;
use crate::web::handlers::findings::claims as drilldown;
use crate::web::handlers::findings::list as drift;
use crate::web::handlers::settings::{
    analytics as analytics_settings, audit as audit_trail, channels, mappings, rules, tokens, users,
};
use crate::web::handlers::{
    account, alerts, assets, auth, health, home, metrics, payers, portal, uploads,
};
use crate::web::http::middleware::Telemetry;
use crate::web::{AppError, AppState};

/// Extra routes for tests (e.g. a handler that panics), added after the real ones.
pub type ExtraRoutes = Arc<dyn Fn(&mut ServiceConfig) + Send + Sync>;

#[derive(Clone, Default)]
pub struct BuildOptions {
    /// Apply pending migrations before serving (`serve --no-migrate` turns it off).
    pub migrate: bool,
    pub extra_routes: Option<ExtraRoutes>,
    /// Report errors to this Sentry hub instead of the process-wide one (tests use a hub
    /// whose client captures events locally).
    pub sentry_hub: Option<Arc<sentry::Hub>>,
}

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    jobs: Option<crate::jobs::worker::WorkerPool>,
}

/// Starts `n` job workers on `db` (spool directory and lease from the settings).
pub fn start_job_workers(
    settings: &Settings,
    db: &Db,
    n: usize,
) -> anyhow::Result<crate::jobs::worker::WorkerPool> {
    crate::jobs::set_lease(settings.job_lease);
    let ctx = crate::jobs::context::JobContext {
        db: db.clone(),
        spool: crate::jobs::spool::SpoolDir::open(settings.spool_dir())?,
        limits: crate::ingest::Limits::from_settings(settings),
        owner: crate::jobs::owner_id().to_string(),
        claim_keys: crate::domain::claim_key::ClaimKeys::from_instance_secret(
            &settings.resolve_secret_key()?,
        ),
    };
    Ok(crate::jobs::worker::WorkerPool::start(
        ctx,
        n,
        crate::services::run_job,
    ))
}

/// Resolves on SIGTERM or SIGINT.
pub async fn stop_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use actix_web::rt::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        actix_web::rt::signal::ctrl_c().await
    }
}

impl Application {
    /// Connects, migrates (unless told not to) and binds. `settings.bind` may use port 0.
    pub async fn build(settings: Settings, options: BuildOptions) -> anyhow::Result<Self> {
        observability::metrics::install();
        let db = Db::connect_lazy(&settings.database_url, settings.db_pool_size)
            .limit_request_concurrency(settings.db_request_concurrency);
        if options.migrate {
            let db = db.clone();
            let applied = actix_web::rt::task::spawn_blocking(move || db.migrate()).await??;
            if !applied.is_empty() {
                tracing::info!(count = applied.len(), "applied migrations");
            }
        }
        let secret = settings.resolve_secret_key()?;
        let key = Key::derive_from(&secret);
        let listener = TcpListener::bind(&settings.bind)?;
        let port = listener.local_addr()?.port();
        let workers = settings.workers;
        let worker = settings.delivery_worker.then_some(settings.delivery_poll);
        crate::jobs::set_lease(settings.job_lease);
        let jobs = match settings.job_workers {
            0 => None,
            n => {
                let (settings, db) = (settings.clone(), db.clone());
                let started = actix_web::rt::task::spawn_blocking(move || {
                    start_job_workers(&settings, &db, n)
                })
                .await?;
                match started {
                    Ok(pool) => Some(pool),
                    // The portal still serves (and says it is not ready when the database
                    // is the problem); uploads wait in the queue for a worker.
                    Err(err) => {
                        tracing::error!(error = %format!("{err:#}"), "job workers not started: check PAYERWATCH_DATA_DIR");
                        None
                    }
                }
            }
        };
        let state = AppState::new(settings, db, &secret);
        if let Some(poll) = worker {
            state.notifier.spawn(poll);
        }
        let server = run(
            listener,
            state.clone(),
            key,
            options.extra_routes,
            options.sentry_hub,
            workers,
        )?;
        Ok(Application {
            port,
            server,
            state,
            jobs,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM/SIGINT (actix stops taking requests and finishes the ones in
    /// flight), then stops the job workers: no new claims, running jobs get the grace
    /// period, unfinished ones go back to the queue for another instance.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(jobs) = self.jobs {
            let grace = self.state.settings.shutdown_grace;
            let _ = actix_web::rt::task::spawn_blocking(move || jobs.shutdown(grace)).await;
        }
        served
    }
}

fn run(
    listener: TcpListener,
    state: AppState,
    key: Key,
    extra_routes: Option<ExtraRoutes>,
    sentry_hub: Option<Arc<sentry::Hub>>,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let production = state.settings.is_production();
    let allowed_hosts = state.settings.allowed_hosts.clone();
    let request_stats = Arc::clone(&state.request_stats);
    // The Sentry layer costs a hub and a copy of the request's headers per request, so it
    // is only in the stack when events can be sent (SENTRY_DSN set, or a test hub).
    let sentry_on = sentry_hub.is_some() || observability::sentry::is_enabled();
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        let extra = extra_routes.clone();
        let sessions = Sessions {
            state: data.get_ref().clone(),
            key: key.clone(),
        };
        App::new()
            .app_data(data.clone())
            .app_data(path_config())
            .app_data(query_config())
            .app_data(form_config())
            .configure(|cfg| routes(cfg, &sessions))
            .configure(move |cfg| {
                if let Some(extra) = &extra {
                    extra(cfg);
                }
            })
            .default_service(web::to(home::not_found))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(Condition::new(sentry_on, sentry_layer(sentry_hub.clone())))
            .wrap(Telemetry::new(
                production,
                allowed_hosts.clone(),
                Arc::clone(&request_stats),
            ))
    })
    .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// Builds the session + CSRF layers for the routes that use sessions. Probes, metrics
/// and static assets stay outside, so they never touch the session table.
struct Sessions {
    state: AppState,
    key: Key,
}

impl Sessions {
    fn middleware(&self) -> SessionMiddleware<DbSessionStore> {
        let settings = &self.state.settings;
        let idle = actix_web::cookie::time::Duration::seconds(
            i64::try_from(settings.session_idle.as_secs()).unwrap_or(i64::MAX),
        );
        SessionMiddleware::builder(
            DbSessionStore::new(
                self.state.db.clone(),
                settings.session_idle,
                Arc::clone(&self.state.auth_cache),
            ),
            self.key.clone(),
        )
        .cookie_name(session_cookie_name(settings.secure_cookies).to_string())
        .cookie_secure(settings.secure_cookies)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_string())
        .cookie_content_security(CookieContentSecurity::Private)
        // No Max-Age: the cookie ends with the browser; the server enforces idle expiry.
        .session_lifecycle(
            BrowserSession::default()
                .state_ttl(idle)
                .state_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build()
    }

    fn csrf(&self) -> Csrf {
        Csrf::new(
            self.state.settings.allowed_hosts.clone(),
            Arc::clone(&self.state.login_csrf),
        )
    }
}

/// Reports 5xx errors and panics with the request attached (scrubbed in `before_send`).
fn sentry_layer(hub: Option<Arc<sentry::Hub>>) -> sentry_actix::Sentry {
    let builder = sentry_actix::Sentry::builder().capture_server_errors(true);
    match hub {
        Some(hub) => builder.with_hub(hub).finish(),
        None => builder.finish(),
    }
}

/// The URL contract (SPEC §10), in one table.
fn routes(cfg: &mut ServiceConfig, sessions: &Sessions) {
    cfg.route("/", web::get().to(home::root))
        .route("/healthz", web::get().to(health::liveness))
        .route("/health", web::get().to(health::liveness))
        .route("/ping", web::get().to(health::liveness))
        .route("/readyz", web::get().to(health::readiness))
        .route("/metrics", web::get().to(metrics::prometheus))
        .route("/favicon.ico", web::get().to(assets::favicon))
        .route("/static/{path:.*}", web::get().to(assets::asset))
        // The JSON API: bearer tokens only, so outside the session and CSRF layers.
        .configure(crate::web::api::configure)
        .service(
            web::resource("/login")
                .route(web::get().to(auth::login_form))
                .route(web::post().to(auth::login_submit))
                .wrap(sessions.csrf())
                .wrap(sessions.middleware()),
        )
        .service(
            web::resource("/logout")
                .route(web::post().to(auth::logout))
                .wrap(sessions.csrf())
                .wrap(sessions.middleware()),
        )
        .service(
            web::resource("/set-password/{token}")
                .route(web::get().to(auth::set_password_form))
                .route(web::post().to(auth::set_password_submit))
                .wrap(sessions.csrf())
                .wrap(sessions.middleware()),
        )
        .service(
            web::scope("/portal")
                .route("", web::get().to(portal::overview))
                .route("/uploads", web::get().to(uploads::list))
                .route("/uploads", web::post().to(uploads::submit))
                // Before `/uploads/{id}`, which would take these names as an id.
                .route(
                    "/uploads/template.csv",
                    web::get().to(uploads::template_csv),
                )
                .route("/uploads/columns", web::get().to(uploads::column_guide))
                .route("/uploads/{id}", web::get().to(uploads::detail))
                .route(
                    "/uploads/{id}/rejections.csv",
                    web::get().to(uploads::rejections_csv),
                )
                .route("/uploads/{id}/delete", web::post().to(uploads::delete))
                .route("/alerts", web::get().to(alerts::list))
                .route("/alerts/{id}", web::get().to(alerts::detail))
                .route("/alerts/{id}/judgment", web::post().to(alerts::judge))
                .route("/alerts/{id}/claims", web::get().to(drilldown::alert))
                .route(
                    "/alerts/{id}/claims.csv",
                    web::get().to(drilldown::alert_csv),
                )
                .route("/findings/{id}", web::get().to(drilldown::finding))
                .route("/findings/{id}/claims", web::get().to(drilldown::finding))
                .route(
                    "/findings/{id}/claims.csv",
                    web::get().to(drilldown::finding_csv),
                )
                .route("/alerts/{id}/status", web::post().to(alerts::change_status))
                .route("/alerts/{id}/assignment", web::post().to(alerts::assign))
                .route("/alerts/{id}/comments", web::post().to(alerts::comment))
                .route("/alerts/bulk", web::post().to(alerts::bulk))
                .route("/alerts/filters", web::post().to(alerts::save_filter))
                .route(
                    "/alerts/filters/{id}/delete",
                    web::post().to(alerts::delete_filter),
                )
                .route("/payers", web::get().to(payers::list))
                .route("/payers/{payer}", web::get().to(payers::scorecard))
                .route("/drift", web::get().to(drift::drift))
                .route("/drift.csv", web::get().to(drift::export_csv))
                .route("/denials.csv", web::get().to(drift::export_csv))
                .route("/delays.csv", web::get().to(drift::export_csv))
                .route("/denials", web::get().to(drift::denials))
                .route("/delays", web::get().to(drift::delays))
                .route("/help", web::get().to(crate::web::handlers::help::show))
                .route("/account/password", web::get().to(account::password_form))
                .route("/account/digest", web::post().to(account::digest_submit))
                .route(
                    "/account/password",
                    web::post().to(account::password_submit),
                )
                .route(
                    "/settings/analytics",
                    web::get().to(analytics_settings::show),
                )
                .route(
                    "/settings/analytics",
                    web::post().to(analytics_settings::submit),
                )
                .route("/settings/mappings", web::get().to(mappings::show))
                .route(
                    "/settings/mappings",
                    web::post()
                        .guard(actix_web::guard::fn_guard(mappings::is_multipart))
                        .to(mappings::import),
                )
                .route("/settings/mappings", web::post().to(mappings::submit))
                .route("/settings/channels", web::get().to(channels::list))
                .route("/settings/channels", web::post().to(channels::submit))
                .route("/settings/channels/{id}", web::get().to(channels::detail))
                .route("/alerts.csv", web::get().to(alerts::export_csv))
                .route(
                    "/settings/mappings/aliases.csv",
                    web::get().to(mappings::export_aliases),
                )
                .route(
                    "/settings/mappings/cpt-groups.csv",
                    web::get().to(mappings::export_cpt_groups),
                )
                .route("/settings/rules", web::get().to(rules::list))
                .route("/settings/rules", web::post().to(rules::submit))
                .route("/settings/users", web::get().to(users::list))
                .route("/settings/users", web::post().to(users::submit))
                .route("/settings/tokens", web::get().to(tokens::show))
                .route("/settings/tokens", web::post().to(tokens::submit))
                .route("/settings/audit", web::get().to(audit_trail::page))
                .route("/settings/audit.csv", web::get().to(audit_trail::export))
                .route("/admin/metrics", web::get().to(admin_metrics::dashboard))
                .default_service(web::to(home::not_found))
                .wrap(sessions.csrf())
                .wrap(sessions.middleware()),
        );
}

/// A malformed id in a path is "no such page", never a server error.
fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| AppError::NotFound.into())
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        AppError::BadRequest(format!("A query parameter is not valid: {err}.")).into()
    })
}

fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _req| {
            AppError::BadRequest(format!("The form could not be read: {err}.")).into()
        })
}
