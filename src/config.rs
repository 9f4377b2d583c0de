//! Settings from environment variables only. Development needs none; production
//! (`PAYERWATCH_ENV=production`) refuses to start and lists every problem at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://payerwatch.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const MIN_SECRET_KEY_BYTES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// PostgreSQL: uploads from this size (≈ 280,000 CSV rows, ≈ 80,000 X12 835 service
/// lines) get a partition of their own: below it, a bulk build of its indexes saves less
/// than a partition costs every later query of the tenant (docs/decisions.md, "Claim
/// partitions on PostgreSQL").
pub const OWN_PARTITION_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub bind: String,
    pub database_url: String,
    /// Whether `DATABASE_URL` was set (production requires it).
    pub database_url_explicit: bool,
    /// Cookie signing/encryption key material; `None` in development until resolved
    /// from the key file next to the database (see [`Settings::resolve_secret_key`]).
    pub secret_key: Option<Vec<u8>>,
    pub secure_cookies: bool,
    pub allowed_hosts: Vec<String>,
    pub trusted_proxies: Vec<IpAddr>,
    /// Sign-out after this long without a request (default 30 minutes).
    pub session_idle: Duration,
    /// Sign-out this long after login regardless of activity (default 12 hours).
    pub session_absolute: Duration,
    pub max_upload_bytes: u64,
    /// PostgreSQL: uploads of at least this many bytes get a claims partition of their own.
    pub own_partition_bytes: u64,
    pub max_upload_rows: u64,
    /// Record-shape limits checked while reading (SPEC §2; 256 columns, 64 KiB, 8 KiB).
    pub max_upload_columns: usize,
    pub max_upload_record_bytes: usize,
    pub max_upload_field_bytes: usize,
    pub db_pool_size: u32,
    /// How many request handlers may use a PostgreSQL connection at once
    /// (`PAYERWATCH_DB_CONCURRENCY`, default twice the cores, at least 4, at most the
    /// pool); the rest of the pool stays free for uploads and report runs.
    pub db_request_concurrency: u32,
    pub workers: Option<usize>,
    pub metrics_token: Option<String>,
    pub sentry_dsn: Option<String>,
    pub log_format: LogFormat,
    /// The address people reach the portal at, for links in e-mails, Slack messages and
    /// webhooks (`PAYERWATCH_PUBLIC_URL`; defaults to `http://<bind>`).
    pub public_url: String,
    /// True in development without `PAYERWATCH_PUBLIC_URL`: links may use the request's own
    /// `Host` (never `X-Forwarded-Host`), see `web::http::links`.
    pub public_url_from_request: bool,
    /// Webhook and Slack targets on loopback or private networks are refused (SSRF)
    /// unless this is set (`PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS=1`; tests and on-premise
    /// receivers).
    pub allow_private_webhooks: bool,
    /// Run the notification delivery worker in this process (`PAYERWATCH_DELIVERY_WORKER`,
    /// default on; tests turn it off and drive deliveries with their own clock).
    pub delivery_worker: bool,
    /// How often the delivery worker looks for due deliveries.
    pub delivery_poll: Duration,
    /// The most one send may take, all of it (DNS, connect, TLS, the SMTP dialogue or
    /// the HTTP exchange); past it the attempt counts as failed and is retried
    /// (`PAYERWATCH_DELIVERY_DEADLINE_SECONDS`, default 30).
    pub delivery_deadline: Duration,
    /// Sends in flight at once in this process, at most one per tenant
    /// (`PAYERWATCH_DELIVERY_CONCURRENCY`, default 4).
    pub delivery_concurrency: usize,
    /// Job workers (uploads, analytics runs) in this `serve` process
    /// (`PAYERWATCH_JOB_WORKERS`, default 2; 0 = web only).
    pub job_workers: usize,
    /// How long running jobs may finish after SIGTERM before they are released for
    /// another instance (`PAYERWATCH_SHUTDOWN_GRACE_SECONDS`, default 30).
    pub shutdown_grace: Duration,
    /// A job's (and a report run's) lease; the heartbeat renews it every third of it, and
    /// a lease that ran out means the process died (`PAYERWATCH_JOB_LEASE_SECONDS`,
    /// default 30; drills shorten it).
    pub job_lease: Duration,
    /// Spooled upload files go in `<data dir>/spool` (`PAYERWATCH_DATA_DIR`; default
    /// beside the SQLite file, else the temporary directory).
    pub data_dir: PathBuf,
}

/// Every problem found, so an operator fixes them in one go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration is not valid:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl Settings {
    /// The listen address from `serve --bind` / `demo --bind`. A public URL that was only
    /// derived from the old address (`http://<bind>`: no `PAYERWATCH_PUBLIC_URL`, not
    /// production) follows it, so links sent in the background (e-mail, Slack, webhooks)
    /// point at the port actually served.
    pub fn set_bind(&mut self, bind: String) {
        if self.public_url == format!("http://{}", self.bind) {
            self.public_url = format!("http://{bind}");
        }
        self.bind = bind;
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Settings::from_lookup(|key| vars.get(key).cloned())
    }

    /// Builds settings from any key lookup (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();

        let environment = match get("PAYERWATCH_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                problems.push(format!(
                    "PAYERWATCH_ENV must be 'development' or 'production', not '{other}'"
                ));
                Environment::Development
            }
        };
        let production = environment == Environment::Production;

        let database_url = get("DATABASE_URL");
        let database_url_explicit = database_url.is_some();
        if production && !database_url_explicit {
            problems.push("DATABASE_URL must be set explicitly in production".to_string());
        }

        let secret_key = get("PAYERWATCH_SECRET_KEY").map(String::into_bytes);
        match &secret_key {
            None if production => problems.push(format!(
                "PAYERWATCH_SECRET_KEY is missing (at least {MIN_SECRET_KEY_BYTES} bytes required)"
            )),
            Some(key) if key.len() < MIN_SECRET_KEY_BYTES => problems.push(format!(
                "PAYERWATCH_SECRET_KEY is {} bytes; at least {MIN_SECRET_KEY_BYTES} are required",
                key.len()
            )),
            _ => {}
        }

        let secure_cookies = match get("PAYERWATCH_SECURE_COOKIES") {
            None => production,
            Some(v) => parse_bool(&v).unwrap_or_else(|| {
                problems.push(format!(
                    "PAYERWATCH_SECURE_COOKIES must be true or false, not '{v}'"
                ));
                production
            }),
        };
        if production && !secure_cookies {
            problems.push(
                "PAYERWATCH_SECURE_COOKIES must be true in production (cookies sent only over HTTPS)"
                    .to_string(),
            );
        }

        let allowed_hosts: Vec<String> = match get("PAYERWATCH_ALLOWED_HOSTS") {
            Some(list) => split_list(&list),
            None if production => Vec::new(),
            None => vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "[::1]".to_string(),
            ],
        };
        if production && allowed_hosts.is_empty() {
            problems.push(
                "PAYERWATCH_ALLOWED_HOSTS must list the host names served in production"
                    .to_string(),
            );
        }
        if production && let Some(wild) = allowed_hosts.iter().find(|h| h.contains('*')) {
            problems.push(format!(
                "PAYERWATCH_ALLOWED_HOSTS must not contain wildcards ('{wild}')"
            ));
        }

        let trusted_proxies = get("PAYERWATCH_TRUSTED_PROXIES")
            .map(|list| {
                split_list(&list)
                    .into_iter()
                    .filter_map(|p| match p.parse::<IpAddr>() {
                        Ok(ip) => Some(ip),
                        Err(_) => {
                            problems.push(format!(
                                "PAYERWATCH_TRUSTED_PROXIES: '{p}' is not an IP address"
                            ));
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();

        let mut number = |key: &str, default: u64, min: u64| -> u64 {
            match get(key) {
                None => default,
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n >= min => n,
                    _ => {
                        problems.push(format!("{key} must be a whole number ≥ {min}, not '{v}'"));
                        default
                    }
                },
            }
        };
        // The *_SECONDS variants exist for tests and drills; minutes/hours are the knobs.
        let session_idle = Duration::from_secs(match get("PAYERWATCH_SESSION_IDLE_SECONDS") {
            Some(_) => number("PAYERWATCH_SESSION_IDLE_SECONDS", 1800, 1),
            None => number("PAYERWATCH_SESSION_IDLE_MINUTES", 30, 1).saturating_mul(60),
        });
        let session_absolute =
            Duration::from_secs(match get("PAYERWATCH_SESSION_ABSOLUTE_SECONDS") {
                Some(_) => number("PAYERWATCH_SESSION_ABSOLUTE_SECONDS", 43_200, 1),
                None => number("PAYERWATCH_SESSION_ABSOLUTE_HOURS", 12, 1).saturating_mul(3600),
            });
        let max_upload_bytes = number("PAYERWATCH_MAX_UPLOAD_BYTES", 200 * 1024 * 1024, 1);
        let max_upload_rows = number("PAYERWATCH_MAX_UPLOAD_ROWS", 2_000_000, 1);
        let own_partition_bytes = number("PAYERWATCH_OWN_PARTITION_BYTES", OWN_PARTITION_BYTES, 1);
        let max_upload_columns = number("PAYERWATCH_MAX_UPLOAD_COLUMNS", 256, 8) as usize;
        let max_upload_record_bytes =
            number("PAYERWATCH_MAX_UPLOAD_RECORD_BYTES", 64 * 1024, 1024) as usize;
        let max_upload_field_bytes =
            number("PAYERWATCH_MAX_UPLOAD_FIELD_BYTES", 8 * 1024, 256) as usize;
        let db_pool_size = number("PAYERWATCH_DB_POOL_SIZE", 10, 1) as u32;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u64);
        let db_request_concurrency =
            number("PAYERWATCH_DB_CONCURRENCY", (2 * cores).max(4), 1) as u32;
        let workers =
            get("PAYERWATCH_WORKERS").map(|_| number("PAYERWATCH_WORKERS", 2, 1) as usize);
        let delivery_poll = Duration::from_millis(number("PAYERWATCH_DELIVERY_POLL_MS", 5_000, 50));
        let delivery_deadline =
            Duration::from_secs(number("PAYERWATCH_DELIVERY_DEADLINE_SECONDS", 30, 1));
        let delivery_concurrency = number("PAYERWATCH_DELIVERY_CONCURRENCY", 4, 1) as usize;
        let job_workers = number("PAYERWATCH_JOB_WORKERS", 2, 0) as usize;
        let shutdown_grace =
            Duration::from_secs(number("PAYERWATCH_SHUTDOWN_GRACE_SECONDS", 30, 0));
        let job_lease = Duration::from_secs(number("PAYERWATCH_JOB_LEASE_SECONDS", 30, 1));

        let log_format = match get("PAYERWATCH_LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            None if production => LogFormat::Json,
            None => LogFormat::Text,
            Some(other) => {
                problems.push(format!(
                    "PAYERWATCH_LOG_FORMAT must be 'json' or 'text', not '{other}'"
                ));
                LogFormat::Text
            }
        };

        let mut flag = |key: &str, default: bool| -> bool {
            match get(key).as_deref().map(str::trim) {
                None => default,
                Some("1" | "true" | "yes" | "on") => true,
                Some("0" | "false" | "no" | "off") => false,
                Some(other) => {
                    problems.push(format!(
                        "{key} must be 1/true/on or 0/false/off, not '{other}'"
                    ));
                    default
                }
            }
        };
        let allow_private_webhooks = flag("PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS", false);
        let delivery_worker = flag("PAYERWATCH_DELIVERY_WORKER", true);
        let bind = get("PAYERWATCH_BIND").unwrap_or_else(|| DEFAULT_BIND.to_string());
        let public_url_from_request = !production && get("PAYERWATCH_PUBLIC_URL").is_none();
        let public_url = match get("PAYERWATCH_PUBLIC_URL") {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                u.trim_end_matches('/').to_string()
            }
            Some(u) => {
                problems.push(format!(
                    "PAYERWATCH_PUBLIC_URL must start with http:// or https://, not '{u}'"
                ));
                String::new()
            }
            // Production already insists on explicit host names and TLS cookies.
            None if production && !allowed_hosts.is_empty() => {
                format!("https://{}", allowed_hosts[0])
            }
            None => format!("http://{bind}"),
        };

        let database_url = database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        let data_dir = match get("PAYERWATCH_DATA_DIR") {
            Some(dir) => PathBuf::from(dir.trim()),
            None => default_data_dir(&database_url),
        };

        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Settings {
            environment,
            bind,
            database_url,
            database_url_explicit,
            secret_key,
            secure_cookies,
            allowed_hosts,
            trusted_proxies,
            session_idle,
            session_absolute,
            max_upload_bytes,
            own_partition_bytes,
            max_upload_rows,
            max_upload_columns,
            max_upload_record_bytes,
            max_upload_field_bytes,
            db_pool_size,
            db_request_concurrency,
            workers,
            metrics_token: get("PAYERWATCH_METRICS_TOKEN"),
            sentry_dsn: get("SENTRY_DSN"),
            log_format,
            public_url,
            public_url_from_request,
            allow_private_webhooks,
            delivery_worker,
            delivery_poll,
            delivery_deadline,
            delivery_concurrency,
            job_workers,
            shutdown_grace,
            job_lease,
            data_dir,
        })
    }

    /// Where spooled upload files live (private: 0700).
    pub fn spool_dir(&self) -> PathBuf {
        self.data_dir.join("spool")
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// Where the development cookie key is kept: next to the SQLite file, or in the
    /// working directory for PostgreSQL.
    pub fn secret_key_file(&self) -> PathBuf {
        match crate::db::DbTarget::parse(&self.database_url) {
            crate::db::DbTarget::Sqlite(path) if path != ":memory:" => {
                PathBuf::from(format!("{path}.secret"))
            }
            _ => PathBuf::from(".payerwatch.secret"),
        }
    }

    /// The key material for cookies. In development, when none is configured, a random
    /// key is generated once and kept in [`Settings::secret_key_file`] so restarts keep
    /// sessions valid.
    pub fn resolve_secret_key(&self) -> std::io::Result<Vec<u8>> {
        if let Some(key) = &self.secret_key {
            return Ok(key.clone());
        }
        let path = self.secret_key_file();
        if let Some(existing) = read_private_file(&path)? {
            let existing = existing.trim();
            if existing.len() >= MIN_SECRET_KEY_BYTES {
                return Ok(existing.as_bytes().to_vec());
            }
        }
        let mut raw = [0u8; 64];
        getrandom::fill(&mut raw).map_err(std::io::Error::other)?;
        let key = hex::encode(raw);
        write_private_file(&path, key.as_bytes())?;
        Ok(key.into_bytes())
    }
}

/// Key files are never followed through a symlink (someone who can plant one could point
/// the key at a file of their choosing, or read it) and are kept `0600` even when an older
/// version left them readable (review 2026-12, row 20).
fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(path)?;
    restrict(&file)?;
    file.write_all(contents)
}

/// The key file's text, `None` when there is none; a symlink is an error.
fn read_private_file(path: &std::path::Path) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    restrict(&file)?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(Some(text))
}

fn restrict(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let _ = file;
    Ok(())
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Beside the SQLite file (the data stays together), else the temporary directory.
fn default_data_dir(database_url: &str) -> PathBuf {
    match crate::db::DbTarget::parse(database_url) {
        crate::db::DbTarget::Sqlite(path) if path != ":memory:" => {
            let file = PathBuf::from(&path);
            let parent = file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from);
            let stem = file
                .file_name()
                .map_or_else(|| "payerwatch".into(), |n| n.to_string_lossy().into_owned());
            parent.join(format!("{stem}.data"))
        }
        _ => std::env::temp_dir().join("payerwatch-data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bind_flag_moves_only_a_public_url_derived_from_the_bind() {
        let mut derived = settings(&[]).expect("dev");
        derived.set_bind("127.0.0.1:9000".into());
        assert_eq!(derived.public_url, "http://127.0.0.1:9000");
        let mut fixed =
            settings(&[("PAYERWATCH_PUBLIC_URL", "https://pw.example.org")]).expect("dev");
        fixed.set_bind("127.0.0.1:9000".into());
        assert_eq!(fixed.public_url, "https://pw.example.org");
        assert_eq!(fixed.bind, "127.0.0.1:9000");
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    fn long_key() -> String {
        "k".repeat(64)
    }

    fn production_ok() -> Vec<(&'static str, String)> {
        vec![
            ("PAYERWATCH_ENV", "production".to_string()),
            ("PAYERWATCH_SECRET_KEY", long_key()),
            ("DATABASE_URL", "postgres://db/payerwatch".to_string()),
            (
                "PAYERWATCH_ALLOWED_HOSTS",
                "payerwatch.example.org".to_string(),
            ),
        ]
    }

    fn production_without(key: &str, replace: Option<&str>) -> Result<Settings, ConfigError> {
        let pairs: Vec<(&str, String)> = production_ok()
            .into_iter()
            .filter(|(k, _)| *k != key)
            .chain(replace.map(|v| (key, v.to_string())))
            .collect();
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        settings(&borrowed)
    }

    fn problems(result: Result<Settings, ConfigError>) -> Vec<String> {
        result.expect_err("should refuse").problems
    }

    #[test]
    fn development_needs_no_settings() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.bind, DEFAULT_BIND);
        assert!(!s.secure_cookies);
        assert_eq!(s.session_idle, Duration::from_secs(30 * 60));
        assert_eq!(s.session_absolute, Duration::from_secs(12 * 3600));
        assert_eq!(s.max_upload_bytes, 200 * 1024 * 1024);
        assert_eq!(s.max_upload_rows, 2_000_000);
        assert_eq!(
            (
                s.max_upload_columns,
                s.max_upload_record_bytes,
                s.max_upload_field_bytes
            ),
            (256, 65_536, 8_192)
        );
        assert_eq!(s.log_format, LogFormat::Text);
    }

    #[test]
    fn production_with_everything_starts() {
        let pairs = production_ok();
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let s = settings(&borrowed).expect("valid production config");
        assert!(s.secure_cookies, "production defaults to secure cookies");
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn production_refuses_missing_secret_key() {
        let p = problems(production_without("PAYERWATCH_SECRET_KEY", None));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("PAYERWATCH_SECRET_KEY is missing"));
    }

    #[test]
    fn production_refuses_short_secret_key() {
        let p = problems(production_without(
            "PAYERWATCH_SECRET_KEY",
            Some(&"k".repeat(63)),
        ));
        assert!(p[0].contains("63 bytes"), "{p:?}");
    }

    #[test]
    fn production_refuses_implicit_database_url() {
        let p = problems(production_without("DATABASE_URL", None));
        assert!(p[0].contains("DATABASE_URL"), "{p:?}");
    }

    #[test]
    fn production_refuses_insecure_cookies() {
        let p = problems(production_without(
            "PAYERWATCH_SECURE_COOKIES",
            Some("false"),
        ));
        assert!(p[0].contains("PAYERWATCH_SECURE_COOKIES"), "{p:?}");
    }

    #[test]
    fn production_refuses_missing_allowed_hosts() {
        let p = problems(production_without("PAYERWATCH_ALLOWED_HOSTS", None));
        assert!(p[0].contains("PAYERWATCH_ALLOWED_HOSTS"), "{p:?}");
    }

    #[test]
    fn production_refuses_wildcard_hosts() {
        let p = problems(production_without(
            "PAYERWATCH_ALLOWED_HOSTS",
            Some("app.example.org,*.example.org"),
        ));
        assert!(p[0].contains("wildcards"), "{p:?}");
    }

    #[test]
    fn production_lists_every_problem_at_once() {
        let p = problems(settings(&[
            ("PAYERWATCH_ENV", "production"),
            ("PAYERWATCH_SECURE_COOKIES", "false"),
            ("PAYERWATCH_ALLOWED_HOSTS", "*"),
        ]));
        assert_eq!(p.len(), 4, "{p:?}");
        let message = ConfigError { problems: p }.to_string();
        for needle in ["SECRET_KEY", "DATABASE_URL", "SECURE_COOKIES", "wildcards"] {
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn session_timeouts_can_be_set_in_seconds_for_drills() {
        let s = settings(&[
            ("PAYERWATCH_SESSION_IDLE_MINUTES", "15"),
            ("PAYERWATCH_SESSION_ABSOLUTE_SECONDS", "90"),
        ])
        .expect("ok");
        assert_eq!(s.session_idle, Duration::from_secs(900));
        assert_eq!(s.session_absolute, Duration::from_secs(90));
    }

    #[test]
    fn malformed_numbers_are_reported() {
        let p = problems(settings(&[("PAYERWATCH_SESSION_IDLE_MINUTES", "soon")]));
        assert!(p[0].contains("PAYERWATCH_SESSION_IDLE_MINUTES"), "{p:?}");
    }

    #[test]
    fn dev_key_file_sits_next_to_sqlite_database() {
        let s = settings(&[("DATABASE_URL", "sqlite:///tmp/x/pw.db")]).expect("ok");
        assert_eq!(s.secret_key_file(), PathBuf::from("/tmp/x/pw.db.secret"));
    }

    #[test]
    fn dev_key_is_generated_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("pw-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let db = dir.join("pw.db");
        let url = format!("sqlite://{}", db.display());
        let s = settings(&[("DATABASE_URL", url.as_str())]).expect("ok");
        let first = s.resolve_secret_key().expect("generated");
        let second = s.resolve_secret_key().expect("reused");
        assert!(first.len() >= MIN_SECRET_KEY_BYTES);
        assert_eq!(first, second);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn dev_key_file_is_made_private_and_never_followed_through_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pw-key-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let db = dir.join("pw.db");
        let url = format!("sqlite://{}", db.display());
        let s = settings(&[("DATABASE_URL", url.as_str())]).expect("ok");
        let key_file = s.secret_key_file();
        std::fs::write(&key_file, "k".repeat(128)).expect("old key");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(
            s.resolve_secret_key().expect("reused"),
            "k".repeat(128).into_bytes()
        );
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        std::fs::remove_file(&key_file).expect("rm");
        let target = dir.join("elsewhere");
        std::fs::write(&target, "x".repeat(128)).expect("target");
        std::os::unix::fs::symlink(&target, &key_file).expect("symlink");
        assert!(
            s.resolve_secret_key().is_err(),
            "a symlinked key file is refused"
        );
        assert_eq!(
            std::fs::read_to_string(&target).expect("target"),
            "x".repeat(128)
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
