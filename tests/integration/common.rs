//! Test harness: a fresh database per test and the real app on port 0.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use payerwatch::config::Settings;
use payerwatch::db::{Backend, Db};
use payerwatch::observability::stats::RequestStats;
use payerwatch::startup::{Application, BuildOptions, ExtraRoutes};

pub const TEST_SECRET_KEY: &str =
    "test-secret-key-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A database that disappears with the test.
pub enum TestDatabase {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        server: String,
        name: String,
        url: String,
    },
}

impl TestDatabase {
    /// PostgreSQL when `PAYERWATCH_TEST_POSTGRES` is set (failing loudly if it can't be
    /// reached), SQLite otherwise.
    pub fn create() -> TestDatabase {
        match std::env::var("PAYERWATCH_TEST_POSTGRES") {
            Ok(url) if !url.trim().is_empty() => TestDatabase::create_postgres(url.trim()),
            _ => TestDatabase::create_sqlite(),
        }
    }

    pub fn create_sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("payerwatch.db").display());
        TestDatabase::Sqlite { _dir: dir, url }
    }

    pub fn create_postgres(configured: &str) -> TestDatabase {
        let server = server_url(configured);
        let name = format!("pw_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(&format!("{server}/postgres"))
            .unwrap_or_else(|e| {
                panic!("PAYERWATCH_TEST_POSTGRES is set but PostgreSQL is unreachable: {e}")
            });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let url = format!("{server}/{name}");
        TestDatabase::Postgres { server, name, url }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite { url, .. } | TestDatabase::Postgres { url, .. } => url,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            TestDatabase::Sqlite { .. } => Backend::Sqlite,
            TestDatabase::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Removes the database while the app may still be running (readiness tests).
    pub fn drop_now(&self) {
        if let TestDatabase::Postgres { server, name, .. } = self {
            drop_postgres(server, name);
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { server, name, .. } = self {
            drop_postgres(server, name);
        }
    }
}

fn drop_postgres(server: &str, name: &str) {
    if let Ok(mut admin) = diesel::PgConnection::establish(&format!("{server}/postgres")) {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// `postgres://user@host:port[/db]` → `postgres://user@host:port`.
fn server_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

pub fn test_settings(database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".to_string(), database_url.to_string()),
        ("PAYERWATCH_BIND".to_string(), "127.0.0.1:0".to_string()),
        (
            "PAYERWATCH_SECRET_KEY".to_string(),
            TEST_SECRET_KEY.to_string(),
        ),
        ("PAYERWATCH_WORKERS".to_string(), "1".to_string()),
        ("PAYERWATCH_DB_POOL_SIZE".to_string(), "4".to_string()),
    ]);
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

pub struct TestApp {
    pub address: String,
    #[allow(dead_code)] // used by browser tests
    pub port: u16,
    pub db: Db,
    pub client: reqwest::Client,
    pub database: TestDatabase,
    /// The app's request statistics (what the staff dashboard shows).
    #[allow(dead_code)]
    pub request_stats: Arc<RequestStats>,
}

#[derive(Default)]
pub struct SpawnOptions {
    pub overrides: Vec<(&'static str, String)>,
    pub extra_routes: Option<ExtraRoutes>,
    pub migrate: Option<bool>,
    pub database: Option<TestDatabase>,
    pub sentry_hub: Option<Arc<sentry::Hub>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(SpawnOptions::default()).await
}

pub async fn spawn_app_with(options: SpawnOptions) -> TestApp {
    let database = options.database.unwrap_or_else(TestDatabase::create);
    let overrides: Vec<(&str, &str)> = options
        .overrides
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let settings = test_settings(database.url(), &overrides);
    let build = BuildOptions {
        migrate: options.migrate.unwrap_or(true),
        extra_routes: options.extra_routes,
        sentry_hub: options.sentry_hub,
    };
    let app = Application::build(settings, build)
        .await
        .expect("application builds");
    let port = app.port();
    let db = app.state().db.clone();
    let request_stats = Arc::clone(&app.state().request_stats);
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db,
        client,
        database,
        request_stats,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

/// Shorthand for `Arc`-wrapped extra routes.
pub fn extra_routes(
    f: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Sync + 'static,
) -> Option<ExtraRoutes> {
    Some(Arc::new(f))
}
