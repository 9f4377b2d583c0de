//! Test harness: a fresh database per test and the real app on port 0.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use payerwatch::config::Settings;
use payerwatch::db::{Backend, Db};
use payerwatch::domain::roles::Role;
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
        let mut admin = diesel::PgConnection::establish(&format!("{server}/postgres{NO_TLS}"))
            .unwrap_or_else(|e| {
                panic!("PAYERWATCH_TEST_POSTGRES is set but PostgreSQL is unreachable: {e}")
            });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let url = format!("{server}/{name}{NO_TLS}");
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
    if let Ok(mut admin) = diesel::PgConnection::establish(&format!("{server}/postgres{NO_TLS}")) {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// Test connections go over loopback without TLS: libpq's OpenSSL state is torn down at
/// process exit while pool threads may still hold connections, which crashed test
/// processes (SIGSEGV after passing) when the local server offers SSL.
const NO_TLS: &str = "?sslmode=disable";

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
    /// `None` when this app shares another app's database.
    pub database: Option<TestDatabase>,
    pub database_url: String,
    /// The app's request statistics (what the staff dashboard shows).
    #[allow(dead_code)]
    pub request_stats: Arc<RequestStats>,
    /// The app's delivery worker (tests turn the background loop off and call
    /// `run_once` with their own clock).
    #[allow(dead_code)]
    pub notifier: Arc<payerwatch::notify::Notifier>,
}

#[derive(Default)]
pub struct SpawnOptions {
    pub overrides: Vec<(&'static str, String)>,
    pub extra_routes: Option<ExtraRoutes>,
    pub migrate: Option<bool>,
    pub database: Option<TestDatabase>,
    /// Run against an existing database (a second instance, a restart).
    pub shared_database_url: Option<String>,
    pub sentry_hub: Option<Arc<sentry::Hub>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(SpawnOptions::default()).await
}

pub async fn spawn_app_with(options: SpawnOptions) -> TestApp {
    let (database, database_url) = match options.shared_database_url {
        Some(url) => (None, url),
        None => {
            let database = options.database.unwrap_or_else(TestDatabase::create);
            let url = database.url().to_string();
            (Some(database), url)
        }
    };
    let overrides: Vec<(&str, &str)> = options
        .overrides
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let settings = test_settings(&database_url, &overrides);
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
    let notifier = Arc::clone(&app.state().notifier);
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db,
        client: new_client(),
        database,
        database_url,
        request_stats,
        notifier,
    }
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client")
}

impl TestApp {
    /// The database this app owns (tests that spawn a second app share it by URL).
    pub fn own_database(&self) -> &TestDatabase {
        self.database.as_ref().expect("this app owns its database")
    }

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

    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Posts a form with `client`, adding the CSRF token scraped from `token_page`.
    pub async fn post_form_with(
        &self,
        client: &reqwest::Client,
        token_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let page = self
            .get_with(client, token_page)
            .await
            .text()
            .await
            .expect("page");
        let token = csrf_token(&page).unwrap_or_default();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_form(
        &self,
        token_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post_form_with(&self.client, token_page, path, fields)
            .await
    }

    /// Creates a user (and its customer) directly, returning the password.
    pub fn create_user(&self, customer: &str, email: &str, role: Role, staff: bool) -> String {
        let password = format!("pw-{}-long-enough", uuid::Uuid::new_v4().simple());
        payerwatch::services::accounts::create_user(
            &self.db, customer, email, role, staff, &password,
        )
        .expect("user created");
        password
    }

    /// Signs `client` in through the login form; returns the response to the POST.
    pub async fn login_with(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        self.post_form_with(
            client,
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.login_with(&self.client, email, password).await
    }

    /// The scope of the tenant `slug` (created with its first user by [`Self::create_user`]).
    pub fn scope_of(&self, slug: &str) -> payerwatch::domain::tenant::TenantScope {
        use payerwatch::domain::tenant::{CustomerId, TenantScope};
        let mut conn = self.db.get().expect("conn");
        let customer = payerwatch::db::repo::customers::find_by_slug(&mut conn, slug)
            .unwrap_or_else(|e| panic!("customer {slug}: {e}"));
        TenantScope::for_system(CustomerId(customer.id))
    }

    /// Generated claims loaded into `scope` ([`load_generated_claims`]) and every product
    /// run on them: the tenant then has findings, alerts and payers with data.
    pub async fn analysed(
        &self,
        scope: payerwatch::domain::tenant::TenantScope,
        options: &payerwatch::devtools::generate::GenOptions,
    ) {
        load_generated_claims(&self.db, &scope, options);
        let db = self.db.clone();
        actix_web::rt::task::spawn_blocking(move || {
            payerwatch::services::analytics::run_all(&db, &scope, None, "test")
        })
        .await
        .expect("runs");
    }
}

/// The value of the first `csrf_token` hidden input in a page.
pub fn csrf_token(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default()
}

/// Shorthand for `Arc`-wrapped extra routes.
pub fn extra_routes(
    f: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Sync + 'static,
) -> Option<ExtraRoutes> {
    Some(Arc::new(f))
}

/// Loads generated claims through the ingest pipeline, as one upload of the tenant (no
/// HTTP, no job): the same validation, PHI refusal and mapping as production, so a
/// fixture cannot drift from it. Returns the number of claims stored.
pub fn load_generated_claims(
    db: &Db,
    scope: &payerwatch::domain::tenant::TenantScope,
    options: &payerwatch::devtools::generate::GenOptions,
) -> usize {
    use payerwatch::ingest::{self, IngestOptions, Limits, UploadRequest, UploadStatus};

    let mut csv_bytes = Vec::new();
    payerwatch::devtools::generate::generate(options, &mut csv_bytes).expect("generated");
    // The real pipeline (validation, PHI, payer and CPT mapping, the bulk writer), as an
    // upload would run it, minus the analytics request: the tests run analytics themselves.
    let request = UploadRequest {
        scope: *scope,
        file_name: "generated.csv".to_string(),
        uploaded_by: None,
        declared_size: Some(csv_bytes.len() as u64),
        limits: Limits::default(),
        today: options.end,
    };
    let options = IngestOptions {
        no_analytics_request: true,
        ..IngestOptions::default()
    };
    let outcome =
        ingest::ingest(db, &request, csv_bytes.as_slice(), &options).expect("ingest recorded");
    assert_ne!(
        outcome.status,
        UploadStatus::Failed,
        "generated upload failed: {:?}",
        outcome.message
    );
    outcome.report.expect("report").accepted_rows as usize
}

/// A new, migrated test database (see [`TestDatabase::create`]) and a pool of
/// `connections` on it.
pub fn migrated_db(connections: u32) -> (TestDatabase, Db) {
    let database = TestDatabase::create();
    let db = Db::connect(database.url(), connections).expect("database");
    db.migrate().expect("migrations");
    (database, db)
}

/// A new tenant of `db`, in the system's scope.
pub fn new_tenant(db: &Db, slug: &str) -> payerwatch::domain::tenant::TenantScope {
    use payerwatch::domain::tenant::{CustomerId, TenantScope};
    let slug = slug.to_owned();
    let id = db
        .write_blocking(move |c| payerwatch::db::repo::customers::insert(c, &slug, "Customer"))
        .expect("customer");
    TenantScope::for_system(CustomerId(id))
}

/// Ingests `body` as an upload of `scope` (no analytics request). `own_partition`: the
/// threshold for a claims partition of its own is set at or just above the body's size,
/// so PostgreSQL takes the large-upload path or the tenant's shared partition.
pub fn upload_csv(
    db: &Db,
    scope: payerwatch::domain::tenant::TenantScope,
    name: &str,
    body: &[u8],
    today: chrono::NaiveDate,
    own_partition: bool,
    options: payerwatch::ingest::IngestOptions,
) -> payerwatch::ingest::IngestOutcome {
    use payerwatch::ingest::{self, IngestOptions, Limits, UploadRequest};
    let size = body.len() as u64;
    let req = UploadRequest {
        scope,
        file_name: name.to_owned(),
        uploaded_by: None,
        declared_size: Some(size),
        limits: Limits {
            own_partition_bytes: if own_partition { size } else { size + 1 },
            ..Limits::default()
        },
        today,
    };
    let options = IngestOptions {
        no_analytics_request: true,
        ..options
    };
    ingest::ingest(db, &req, body, &options).expect("upload recorded")
}
