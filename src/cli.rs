//! Command line: `serve`, `migrate`, `create-user`, `purge`, `demo`.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::config::Settings;
use crate::db::Db;
use crate::db::repo::{customers, users};
use crate::domain::password;
use crate::domain::roles::Role;
use crate::domain::tenant::{CustomerId, TenantScope, slugify};
use crate::startup::{Application, BuildOptions};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "payerwatch",
    version,
    about = "Payer behaviour drift detection for billing teams"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web portal (applies pending migrations first unless --no-migrate).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a user (and its customer when new); the password comes from
    /// PAYERWATCH_PASSWORD or an interactive prompt. Re-running sets a new password.
    CreateUser(CreateUserArgs),
    /// Delete audit events past the retention, expired sessions and old login-throttle
    /// rows; prints the counts per kind and records the purge in the audit trail.
    Purge(PurgeArgs),
    /// Create a fresh SQLite demo database with a demo customer, print the logins, and serve.
    Demo(DemoArgs),
    /// Run the analytics (DriftWatch, DenialScope, DelayGuard) for one or all customers.
    Compute(ComputeArgs),
}

#[derive(Debug, Args)]
pub struct ComputeArgs {
    /// Customer slug; every customer when omitted.
    #[arg(long)]
    pub customer: Option<String>,
    /// Compute as of this date (YYYY-MM-DD); default: the day after the latest decision.
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    /// drift_watch, denial_scope or delay_guard (repeatable); default: all three.
    #[arg(long = "product")]
    pub products: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Audit retention in days (default: 6 years).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36_600))]
    pub older_than: Option<u32>,
    /// Print what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: PAYERWATCH_BIND or 127.0.0.1:8080).
    #[arg(long)]
    pub bind: Option<String>,
    /// Do not apply pending migrations on start.
    #[arg(long)]
    pub no_migrate: bool,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// The user's e-mail address (case-insensitive, unique).
    #[arg(long)]
    pub email: String,
    /// Customer slug or name; created when it does not exist yet.
    #[arg(long)]
    pub customer: String,
    /// owner, admin, analyst or viewer.
    #[arg(long)]
    pub role: Role,
    /// Platform staff: may see the service-wide metrics dashboard.
    #[arg(long)]
    pub staff: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// SQLite file for the demo (replaced on every run).
    #[arg(long, default_value = "payerwatch-demo.db")]
    pub database: String,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => demo(args),
        command => {
            let settings = Settings::from_env()?;
            telemetry::init_tracing(settings.log_format);
            match command {
                Command::Serve(args) => serve(settings, args),
                Command::Migrate => migrate(&settings),
                Command::CreateUser(args) => create_user_command(&settings, args),
                Command::Compute(args) => compute_command(&settings, args),
                Command::Purge(args) => purge_command(&settings, args),
                Command::Demo(_) => unreachable!("handled above"),
            }
        }
    }
}

fn serve(mut settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(bind) = args.bind {
        settings.bind = bind;
    }
    let options = BuildOptions {
        migrate: !args.no_migrate,
        ..BuildOptions::default()
    };
    // Kept alive while serving; dropping it at exit flushes pending error reports.
    let _sentry = crate::observability::sentry::init(&settings);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, options).await?;
        tracing::info!(port = app.port(), "PayerWatch is listening");
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 1)?;
    let applied = db.migrate()?;
    if applied.is_empty() {
        println!("Database is up to date.");
    } else {
        for version in &applied {
            println!("applied {version}");
        }
        println!("{} migration(s) applied.", applied.len());
    }
    Ok(())
}

fn create_user_command(settings: &Settings, args: CreateUserArgs) -> anyhow::Result<()> {
    let password = match std::env::var("PAYERWATCH_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let first = rpassword::prompt_password("Password: ")
                .context("no PAYERWATCH_PASSWORD set and no terminal to ask for one")?;
            let second = rpassword::prompt_password("Repeat password: ")?;
            if first != second {
                bail!("the passwords do not match");
            }
            first
        }
    };
    let db = Db::connect(&settings.database_url, 1)?;
    db.migrate()?;
    let outcome = create_user(
        &db,
        &args.customer,
        &args.email,
        args.role,
        args.staff,
        &password,
    )?;
    println!(
        "{} user {} ({}{}) in customer '{}'{}.",
        if outcome.created_user {
            "Created"
        } else {
            "Updated password of"
        },
        outcome.email,
        args.role,
        if args.staff { ", staff" } else { "" },
        outcome.customer_slug,
        if outcome.created_customer {
            " (new customer)"
        } else {
            ""
        },
    );
    Ok(())
}

fn compute_command(settings: &Settings, args: ComputeArgs) -> anyhow::Result<()> {
    let products = if args.products.is_empty() {
        crate::reports::ALL_PRODUCTS.to_vec()
    } else {
        args.products
            .iter()
            .map(|p| {
                crate::reports::parse_product(p).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown product '{p}': use drift_watch, denial_scope or delay_guard"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let db = Db::connect(&settings.database_url, 2)?;
    db.migrate()?;
    let targets = {
        let mut conn = db.get()?;
        match &args.customer {
            Some(slug) => vec![
                customers::find_by_slug(&mut conn, slug).map_err(|e| match e {
                    crate::db::DbError::NotFound => anyhow::anyhow!("no customer '{slug}'"),
                    other => anyhow::Error::new(other),
                })?,
            ],
            None => customers::list_all(&mut conn)?,
        }
    };
    let mut failures = 0;
    for customer in targets {
        let scope = TenantScope::for_system(CustomerId(customer.id));
        for product in &products {
            match crate::reports::run(&db, &scope, *product, args.as_of, "cli") {
                Ok(s) => println!(
                    "{} {}: run {} ({} mode) as of {} — {} rows, {} groups ({} insufficient), {} events ({} new); sound would raise {}, compat {}",
                    customer.slug,
                    crate::reports::product_label(s.product),
                    s.run_id,
                    s.mode,
                    s.as_of.map_or_else(|| "—".to_string(), |d| d.to_string()),
                    s.rows_scanned,
                    s.groups_considered,
                    s.groups_insufficient,
                    s.events_found,
                    s.events_created,
                    s.sound_events,
                    s.compat_events,
                ),
                Err(err) => {
                    failures += 1;
                    eprintln!(
                        "{} {}: failed: {err}",
                        customer.slug,
                        crate::reports::product_str(*product)
                    );
                }
            }
        }
    }
    if failures > 0 {
        bail!("{failures} run(s) failed");
    }
    Ok(())
}

fn purge_command(settings: &Settings, args: PurgeArgs) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 1)?;
    let now = crate::db::repo::now();
    let report = purge(&db, now, args.older_than, args.dry_run)
        .context("purge failed (is the database migrated? `payerwatch migrate`)")?;
    let cutoff = audit_cutoff(now, args.older_than);
    println!(
        "{} (audit retention: events before {} UTC)",
        if args.dry_run {
            "Dry run — nothing removed. Would remove:"
        } else {
            "Removed:"
        },
        cutoff.format("%Y-%m-%d %H:%M")
    );
    for (kind, count) in report.lines() {
        println!("  {kind:<24} {count:>10}");
    }
    Ok(())
}

/// Default audit retention (SPEC §7).
pub const DEFAULT_AUDIT_RETENTION_YEARS: u32 = 6;

/// The instant before which audit events go: `days` back, or 6 calendar years back.
pub fn audit_cutoff(now: chrono::NaiveDateTime, days: Option<u32>) -> chrono::NaiveDateTime {
    match days {
        Some(days) => now - chrono::Duration::days(i64::from(days)),
        None => now
            .checked_sub_months(chrono::Months::new(DEFAULT_AUDIT_RETENTION_YEARS * 12))
            .unwrap_or(now - chrono::Duration::days(2192)),
    }
}

/// Runs the retention purge (or counts, with `dry_run`) in one transaction.
pub fn purge(
    db: &Db,
    now: chrono::NaiveDateTime,
    older_than_days: Option<u32>,
    dry_run: bool,
) -> anyhow::Result<crate::db::repo::retention::PurgeReport> {
    let plan = crate::db::repo::retention::PurgePlan {
        audit_cutoff: audit_cutoff(now, older_than_days),
        now,
        dry_run,
    };
    Ok(db.write_blocking(move |conn| crate::db::repo::retention::purge(conn, &plan))?)
}

pub struct CreatedUser {
    pub user_id: i64,
    pub customer_id: CustomerId,
    pub customer_slug: String,
    pub email: String,
    pub created_user: bool,
    pub created_customer: bool,
}

/// Creates (or re-passwords) a user in the named customer, creating the customer when
/// needed. The password must satisfy the policy.
pub fn create_user(
    db: &Db,
    customer: &str,
    email: &str,
    role: Role,
    staff: bool,
    password: &str,
) -> anyhow::Result<CreatedUser> {
    password::check_policy(password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let email = users::normalize_email(email);
    if !looks_like_email(&email) {
        bail!("'{email}' is not an e-mail address");
    }
    let slug = slugify(customer);
    if slug.is_empty() {
        bail!("the customer name must contain letters or digits");
    }
    let hash = password::hash(password)?;
    let name = customer.trim().to_string();
    db.write_blocking(move |conn| {
        let (customer, created_customer) = customers::find_or_create(conn, &slug, &name)?;
        let scope = TenantScope::for_system(CustomerId(customer.id));
        let (user_id, created_user) = match users::find_by_email(conn, &email) {
            Ok(existing) if existing.customer_id == customer.id => {
                users::set_password_hash(conn, &scope, existing.id, &hash)?;
                (existing.id, false)
            }
            Ok(_) => return Err(crate::db::DbError::Duplicate("e-mail address")),
            Err(crate::db::DbError::NotFound) => {
                let new = users::CreateUser {
                    email: &email,
                    password_hash: &hash,
                    role,
                    is_staff: staff,
                };
                (users::insert(conn, &scope, &new)?, true)
            }
            Err(other) => return Err(other),
        };
        Ok(CreatedUser {
            user_id,
            customer_id: CustomerId(customer.id),
            customer_slug: customer.slug,
            email,
            created_user,
            created_customer,
        })
    })
    .map_err(|e| match e {
        crate::db::DbError::Duplicate(_) => {
            anyhow::anyhow!("that e-mail address already belongs to another customer")
        }
        other => anyhow::Error::new(other),
    })
}

pub fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// A random password that satisfies the policy, for demo logins.
pub fn generate_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut raw = [0u8; 20];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(raw
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

fn demo(args: DemoArgs) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm", ".secret"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", args.database));
    }
    let url = format!("sqlite://{}", args.database);
    let mut settings = Settings::from_lookup(|key| match key {
        "DATABASE_URL" => Some(url.clone()),
        _ => std::env::var(key).ok(),
    })?;
    settings.bind = args.bind;
    telemetry::init_tracing(settings.log_format);

    let db = Db::connect(&settings.database_url, 2)?;
    db.migrate()?;
    let owner_password = generate_password()?;
    let staff_password = generate_password()?;
    let owner = create_user(
        &db,
        "Demo Clinic",
        "owner@demo.test",
        Role::Owner,
        false,
        &owner_password,
    )?;
    create_user(
        &db,
        "Demo Clinic",
        "staff@demo.test",
        Role::Analyst,
        true,
        &staff_password,
    )?;
    drop(db);

    println!();
    println!(
        "PayerWatch demo — database {} (customer '{}')",
        args.database, owner.customer_slug
    );
    println!("  Open   http://{}/login", settings.bind);
    println!("  owner  owner@demo.test  password: {owner_password}");
    println!("  staff  staff@demo.test  password: {staff_password}");
    println!("  Demo claims arrive with the ingestion feature.");
    println!();

    let options = BuildOptions {
        migrate: false,
        ..BuildOptions::default()
    };
    let _sentry = crate::observability::sentry::init(&settings);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, options).await?;
        app.run_until_stopped().await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shape() {
        assert!(looks_like_email("a@b.org"));
        assert!(!looks_like_email("a@b"));
        assert!(!looks_like_email("ab.org"));
        assert!(!looks_like_email("a b@c.org"));
    }

    #[test]
    fn generated_passwords_pass_the_policy() {
        for _ in 0..20 {
            let p = generate_password().expect("password");
            assert!(password::check_policy(&p).is_ok(), "{p}");
        }
    }

    #[test]
    fn default_retention_is_six_calendar_years() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .expect("valid");
        assert_eq!(audit_cutoff(now, None).to_string(), "2020-11-24 12:00:00");
        assert_eq!(
            audit_cutoff(now, Some(30)).to_string(),
            "2026-10-25 12:00:00"
        );
    }

    #[test]
    fn purge_arguments_parse() {
        let cli = Cli::try_parse_from(["payerwatch", "purge", "--older-than", "30", "--dry-run"])
            .expect("parses");
        match cli.command {
            Command::Purge(args) => {
                assert_eq!(args.older_than, Some(30));
                assert!(args.dry_run);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(Cli::try_parse_from(["payerwatch", "purge", "--older-than", "0"]).is_err());
        assert!(Cli::try_parse_from(["payerwatch", "purge", "--older-than", "x"]).is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
