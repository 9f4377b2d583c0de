//! Command line: `serve`, `migrate`, `create-user`, `import`, `remap`, `generate`,
//! `compute`, `purge`, `demo`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use crate::config::Settings;
use crate::db::repo::customers;
use crate::db::{Backend, Db, DbError};
use crate::devtools::generate::{DateStyle, GenOptions};
use crate::domain::analytics::Product;
use crate::domain::roles::Role;
use crate::domain::tenant::{CustomerId, TenantScope};
use crate::ingest::{self, IngestOptions, Limits, UploadRequest, UploadStatus};
use crate::services::accounts::{create_user, generate_password};
use crate::services::retention::{audit_cutoff, purge};
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
    /// Import a claims CSV or X12 835 file (told apart by content) for a customer through the upload pipeline and print its
    /// quality report. Exits non-zero when the upload fails.
    Import(ImportArgs),
    /// Re-apply the customer's payer aliases and CPT groups to its stored claims.
    Remap(RemapArgs),
    /// Check (--verify) or rebuild (--rebuild) the daily claim rollups the analytics read,
    /// for one customer or all. --verify exits non-zero when any differ from the claims.
    Rollups(RollupsArgs),
    /// Write a deterministic synthetic claims CSV or X12 835 (drift and malformed rows injected).
    Generate(GenerateArgs),
    /// Create a fresh SQLite demo database with a demo customer and generated claims,
    /// print the logins, and serve.
    Demo(DemoArgs),
    /// Run the analytics (DriftWatch, DenialScope, DelayGuard) for one or all customers.
    Compute(ComputeArgs),
    /// Run job workers only (uploads, analytics runs), without the web portal; several
    /// may share one PostgreSQL database. Stops on SIGTERM/SIGINT after letting running
    /// jobs finish (PAYERWATCH_SHUTDOWN_GRACE_SECONDS). PostgreSQL only: on SQLite `serve`
    /// runs the workers.
    Worker,
    /// Delete audit events past the retention, expired sessions and old login-throttle
    /// rows; prints the counts per kind and records the purge in the audit trail.
    Purge(PurgeArgs),
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
    /// Print the grouped aggregate statements each run would issue (values inlined, one
    /// per line, for the database's own client) instead of running (benchmarks).
    #[arg(long, hide = true)]
    pub print_sql: bool,
    /// False-alarm / recall benchmark: evaluate N generated files in memory (no database)
    /// in sound mode and print, per product, the runs that raised any finding, and per
    /// injected change how often it was found as one finding. See scripts/bench-false-alarms.
    #[arg(long, value_name = "N")]
    pub simulate: Option<u32>,
    /// With --simulate: rows per generated file.
    #[arg(long, default_value_t = 60_000)]
    pub rows: u64,
    /// With --simulate: the first file's seed (then seed+1, …).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With --simulate: files with no injected change.
    #[arg(long)]
    pub no_drift: bool,
    /// Evaluate these claims CSV files in memory instead of generated ones (another
    /// generator's files; same report as --simulate).
    #[arg(long = "simulate-file", value_name = "FILE")]
    pub simulate_files: Vec<PathBuf>,
    /// With --simulate / --simulate-file: also print every run's findings as JSON lines.
    #[arg(long)]
    pub verbose: bool,
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
pub struct ImportArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Customer slug.
    #[arg(long)]
    pub customer: String,
    /// Ingest day for the future-date rule (default: today, UTC). For reproducible tests.
    #[arg(long, hide = true)]
    pub today: Option<NaiveDate>,
    /// Do not run the analytics after a successful import (benchmarks time ingest alone).
    #[arg(long)]
    pub no_analytics: bool,
}

#[derive(Debug, Args)]
pub struct RemapArgs {
    /// Customer slug.
    #[arg(long)]
    pub customer: String,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RollupsAction {
    /// Recompute the rollups from claims and print every difference.
    #[arg(long)]
    pub verify: bool,
    /// Replace the rollups with ones recomputed from claims.
    #[arg(long)]
    pub rebuild: bool,
}

#[derive(Debug, Args)]
pub struct RollupsArgs {
    /// Customer slug (default: every customer).
    #[arg(long)]
    pub customer: Option<String>,
    #[command(flatten)]
    pub action: RollupsAction,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Data rows to write.
    #[arg(long, default_value_t = 10_000)]
    pub rows: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Last decision date (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-22")]
    pub end: NaiveDate,
    /// Span of decision dates before --end.
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Window (ending at --end) holding the injected changes.
    #[arg(long, default_value_t = 14)]
    pub recent_days: u32,
    /// Fraction of malformed rows.
    #[arg(long, default_value_t = 0.01)]
    pub bad_rate: f64,
    /// Inject no behaviour change.
    #[arg(long)]
    pub no_drift: bool,
    /// iso, us or mixed.
    #[arg(long, default_value = "iso")]
    pub date_style: DateStyle,
    /// Output path ('-' for stdout).
    #[arg(long)]
    pub out: PathBuf,
    /// csv, or x12-835 (the same claims and injected changes as an 835 remittance).
    #[arg(long, default_value = "csv", value_parser = ["csv", "x12-835"])]
    pub format: String,
    /// Write what was injected and the expected counts as JSON here.
    #[arg(long)]
    pub truth: Option<PathBuf>,
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
    /// SQLite file for the demo (replaced on every run), or the URL of an empty
    /// PostgreSQL database (`postgres://…`; the demo refuses one that holds data).
    #[arg(long, default_value = "payerwatch-demo.db")]
    pub database: String,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => demo(args),
        Command::Generate(args) => generate_command(args),
        Command::Compute(args) if args.simulate.is_some() || !args.simulate_files.is_empty() => {
            simulate_command(&args)
        }
        command => {
            let settings = Settings::from_env()?;
            telemetry::init_tracing(settings.log_format);
            match command {
                Command::Serve(args) => serve(settings, args),
                Command::Migrate => migrate(&settings),
                Command::CreateUser(args) => create_user_command(&settings, args),
                Command::Import(args) => import_command(&settings, args),
                Command::Remap(args) => remap_command(&settings, args),
                Command::Rollups(args) => rollups_command(&settings, args),
                Command::Compute(args) => compute_command(&settings, args),
                Command::Purge(args) => purge_command(&settings, args),
                Command::Worker => worker_command(&settings),
                Command::Demo(_) | Command::Generate(_) => unreachable!("handled above"),
            }
        }
    }
}

fn serve(mut settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(bind) = args.bind {
        settings.set_bind(bind);
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

fn worker_command(settings: &Settings) -> anyhow::Result<()> {
    if crate::db::DbTarget::parse(&settings.database_url).backend() == Backend::Sqlite {
        bail!(
            "`payerwatch worker` needs PostgreSQL: SQLite has one writer, so on SQLite \
             `payerwatch serve` runs the job workers in its own process \
             (PAYERWATCH_JOB_WORKERS)"
        );
    }
    let workers = settings.job_workers.max(1);
    let db = Db::connect(&settings.database_url, (workers as u32) * 3 + 2)?;
    let pool = crate::startup::start_job_workers(settings, &db, workers)?;
    actix_web::rt::System::new().block_on(crate::startup::stop_signal())?;
    tracing::info!("stop requested: finishing running jobs");
    pool.shutdown(settings.shutdown_grace);
    Ok(())
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
        Product::ALL.to_vec()
    } else {
        args.products
            .iter()
            .map(|p| {
                p.parse::<Product>().map_err(|_| {
                    anyhow::anyhow!(
                        "unknown product '{p}': use drift_watch, denial_scope or delay_guard"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    crate::jobs::set_lease(settings.job_lease);
    // One connection reads, a second computes the other mode, a third takes the run's
    // heartbeat and writes.
    let db = Db::connect(&settings.database_url, 3)?;
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
    if args.print_sql {
        for customer in &targets {
            let scope = TenantScope::for_system(CustomerId(customer.id));
            for product in &products {
                for statement in crate::services::analytics::aggregate_statements(
                    &db, &scope, *product, args.as_of,
                )? {
                    println!(
                        "{};",
                        statement.split_whitespace().collect::<Vec<_>>().join(" ")
                    );
                }
            }
        }
        return Ok(());
    }
    let mut failures = 0;
    for customer in targets {
        let scope = TenantScope::for_system(CustomerId(customer.id));
        for product in &products {
            // A run of the product in progress is waited for, then this one follows it
            // (the request is never dropped); a dead run's lease runs out.
            let options = crate::services::analytics::RunOptions {
                trigger: "cli",
                job_id: None,
                wait: true,
            };
            match crate::services::analytics::run_with(&db, &scope, *product, args.as_of, &options)
            {
                Ok(s) => println!(
                    "{} {}: run {} ({} mode) as of {} — {} claims covered, {} rows, {} groups ({} insufficient), {} events ({} new); sound would raise {}, compat {}",
                    customer.slug,
                    crate::domain::alerts::source_label(s.product),
                    s.run_id,
                    s.mode,
                    s.as_of.map_or_else(|| "—".to_string(), |d| d.to_string()),
                    s.claims_covered,
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
                    eprintln!("{} {}: failed: {err}", customer.slug, product.as_str());
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

fn customer_scope(db: &Db, slug: &str) -> anyhow::Result<TenantScope> {
    let slug = slug.trim().to_owned();
    let lookup = slug.clone();
    match db.write_blocking(move |conn| customers::find_by_slug(conn, &lookup)) {
        Ok(c) => Ok(TenantScope::for_system(CustomerId(c.id))),
        Err(crate::db::DbError::NotFound) => bail!("no customer with slug '{slug}'"),
        Err(other) => Err(other.into()),
    }
}

fn import_command(settings: &Settings, args: ImportArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).ok();
    let db = Db::connect(&settings.database_url, 3)?;
    db.migrate()?;
    let scope = customer_scope(&db, &args.customer)?;
    let request = UploadRequest {
        scope,
        file_name: args.file.to_string_lossy().into_owned(),
        uploaded_by: None,
        declared_size: size,
        limits: Limits::from_settings(settings),
        today: args
            .today
            .unwrap_or_else(|| chrono::Utc::now().date_naive()),
    };
    crate::jobs::set_lease(settings.job_lease);
    let options = IngestOptions::with_instance_secret(&settings.resolve_secret_key()?);
    if args.no_analytics {
        // The analytics request stays queued: a server's workers (or the next import) run it.
        let outcome = ingest::ingest(&db, &request, file, &options)?;
        print_outcome(&outcome);
        return fail_unless_stored(&outcome);
    }
    let imported = crate::services::uploads::import(&db, &request, file, "upload", &options)?;
    print_outcome(&imported.outcome);
    fail_unless_stored(&imported.outcome)?;
    if imported.runs.is_empty()
        && let Some(job) = imported.outcome.analytics_job
    {
        println!("analytics: request {job} was run by a server's worker");
    }
    for run in imported.runs {
        match run {
            Ok(r) => println!(
                "{}: run {} — {} finding(s), {} new",
                crate::domain::alerts::source_label(r.product),
                r.run_id,
                r.events_found,
                r.events_created
            ),
            Err(err) => eprintln!("analytics failed: {err}"),
        }
    }
    Ok(())
}

fn fail_unless_stored(outcome: &ingest::IngestOutcome) -> anyhow::Result<()> {
    if outcome.status == UploadStatus::Failed {
        bail!(
            "upload {} failed: {}",
            outcome.upload_id,
            outcome.message.as_deref().unwrap_or("see the report")
        );
    }
    Ok(())
}

fn print_outcome(outcome: &ingest::IngestOutcome) {
    println!(
        "Upload {} ({}): {} in {:.2} s",
        outcome.upload_id,
        outcome.file_name,
        outcome.status.as_str(),
        outcome.elapsed_ms as f64 / 1000.0
    );
    if let Some(message) = &outcome.message {
        println!("  {message}");
    }
    if let Some(report) = &outcome.report {
        print!("{}", report.to_text());
    }
}

fn remap_command(settings: &Settings, args: RemapArgs) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 2)?;
    db.migrate()?;
    let scope = customer_scope(&db, &args.customer)?;
    let out = crate::services::mappings::remap(&db, &scope)?;
    println!(
        "Remapped customer '{}': {} rows changed ({} payer, {} CPT group).",
        args.customer.trim(),
        out.rows(),
        out.payer_rows,
        out.cpt_group_rows
    );
    if out.analytics_job.is_some() {
        println!("An analytics run was requested (the workers of `serve` or `worker` run it).");
    }
    Ok(())
}

fn rollups_command(settings: &Settings, args: RollupsArgs) -> anyhow::Result<()> {
    use crate::services::rollups;
    let db = Db::connect(&settings.database_url, 2)?;
    db.migrate()?;
    let tenants: Vec<(String, TenantScope)> = match &args.customer {
        Some(slug) => vec![(slug.trim().to_owned(), customer_scope(&db, slug)?)],
        None => db
            .write_blocking(customers::list_all)?
            .into_iter()
            .map(|c| (c.slug, TenantScope::for_system(CustomerId(c.id))))
            .collect(),
    };
    let mut differing = 0usize;
    for (slug, scope) in tenants {
        if args.action.rebuild {
            let counts = rollups::rebuild(&db, &scope)?;
            println!(
                "Rebuilt rollups of customer '{slug}': {} day rows, {} reason rows.",
                counts.day_rows, counts.reason_rows
            );
        } else {
            let differences = rollups::verify(&db, &scope)?;
            for line in &differences {
                println!("customer '{slug}': {line}");
            }
            println!(
                "Customer '{slug}': {} rollup difference(s) from claims.",
                differences.len()
            );
            differing += differences.len();
        }
    }
    if differing > 0 {
        bail!("{differing} rollup difference(s): run `payerwatch rollups --rebuild`");
    }
    Ok(())
}

fn simulate_command(args: &ComputeArgs) -> anyhow::Result<()> {
    use crate::domain::analytics::Mode;
    use crate::services::analytics::simulate::{INJECTED, Tally, claims_from_csv, evaluate_claims};
    let mut tally = Tally::default();
    let mut run = |label: String, bytes: Vec<u8>, today: NaiveDate| -> anyhow::Result<()> {
        let claims = claims_from_csv(&bytes, today);
        let found = evaluate_claims(&claims, Mode::Sound)?;
        if args.verbose {
            println!(
                "{}",
                serde_json::json!({ "dataset": label, "claims": claims.len(), "findings": found })
            );
        }
        tally.add(&found);
        Ok(())
    };
    if args.simulate_files.is_empty() {
        for i in 0..args.simulate.unwrap_or(0) {
            let options = GenOptions {
                rows: args.rows,
                seed: args.seed + u64::from(i),
                drift: !args.no_drift,
                ..GenOptions::default()
            };
            let mut bytes = Vec::new();
            crate::devtools::generate::generate(&options, &mut bytes)?;
            run(format!("seed {}", options.seed), bytes, options.end)?;
        }
    } else {
        let today = chrono::Utc::now().date_naive();
        for path in &args.simulate_files {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            run(path.display().to_string(), bytes, today)?;
        }
    }
    let runs = tally.runs.max(1);
    let pct = |n: u32| 100.0 * f64::from(n) / f64::from(runs);
    println!("runs: {}", tally.runs);
    for product in crate::domain::analytics::Product::ALL.map(|p| p.as_str()) {
        let n = tally.runs_with_findings.get(product).copied().unwrap_or(0);
        println!("{product}: {n} runs with any finding ({:.1} %)", pct(n));
    }
    for (i, (_, name)) in INJECTED.iter().enumerate() {
        println!(
            "{name}: found as one finding in {} runs ({:.1} %), at all in {} ({:.1} %)",
            tally.found_once[i],
            pct(tally.found_once[i]),
            tally.found_at_all[i],
            pct(tally.found_at_all[i])
        );
    }
    println!("findings about nothing injected: {}", tally.other_findings);
    println!("summary-json {}", serde_json::to_string(&tally)?);
    Ok(())
}

fn generate_command(args: GenerateArgs) -> anyhow::Result<()> {
    let opts = GenOptions {
        rows: args.rows,
        seed: args.seed,
        end: args.end,
        days: args.days,
        recent_days: args.recent_days,
        bad_rate: args.bad_rate,
        drift: !args.no_drift,
        date_style: args.date_style,
    };
    let write = |out: &mut dyn Write| -> std::io::Result<_> {
        if args.format == "x12-835" {
            crate::devtools::x12_835::generate_835(&opts, out)
        } else {
            crate::devtools::generate::generate(&opts, out)
        }
    };
    let truth = if args.out.as_os_str() == "-" {
        write(&mut std::io::stdout().lock())?
    } else {
        let mut file = BufWriter::new(
            std::fs::File::create(&args.out)
                .with_context(|| format!("cannot create {}", args.out.display()))?,
        );
        write(&mut file)?
    };
    if let Some(path) = args.truth {
        let mut out = BufWriter::new(
            std::fs::File::create(&path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        serde_json::to_writer_pretty(&mut out, &truth)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(())
}

fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let on_postgres =
        crate::db::connection::DbTarget::parse(&args.database).backend() == Backend::Postgres;
    let (url, database_label) = if on_postgres {
        // The URL may carry a password: it is not printed.
        (args.database.clone(), "PostgreSQL (--database)".to_string())
    } else {
        for suffix in ["", "-wal", "-shm", ".secret"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", args.database));
        }
        (format!("sqlite://{}", args.database), args.database.clone())
    };
    let mut settings = Settings::from_lookup(|key| match key {
        "DATABASE_URL" => Some(url.clone()),
        _ => std::env::var(key).ok(),
    })?;
    settings.set_bind(args.bind);
    telemetry::init_tracing(settings.log_format);

    let db = Db::connect(&settings.database_url, 2)?;
    // A SQLite demo file is replaced; a server database is never changed unless empty:
    // checked before migrating, so a wrong URL leaves the database as it was.
    if on_postgres && !crate::db::migrations::is_empty(&mut *db.get()?)? {
        bail!("the demo needs an empty PostgreSQL database: this one already has tables");
    }
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
    let demo_rows = 50_000;
    let scope = TenantScope::for_system(owner.customer_id);
    // The payer spellings in the generated files, mapped as a customer would map them.
    db.write_blocking(|conn| {
        for (alias, canonical) in crate::devtools::generate::payer_aliases() {
            crate::db::repo::mappings::upsert_payer_alias(conn, &scope, alias, canonical)?;
        }
        Ok::<_, DbError>(())
    })?;
    let imported = load_demo_claims(&db, owner.customer_id, demo_rows)?;
    let (loaded, runs) = (imported.outcome, imported.runs);
    drop(db);

    println!();
    println!(
        "PayerWatch demo — database {database_label} (customer '{}')",
        owner.customer_slug
    );
    println!("  Open   http://{}/login", settings.bind);
    println!("  owner  owner@demo.test  password: {owner_password}");
    println!("  staff  staff@demo.test  password: {staff_password}");
    println!(
        "  claims: upload {} — {} of {demo_rows} generated rows accepted ({})",
        loaded.upload_id,
        loaded.report.as_ref().map_or(0, |r| r.accepted_rows),
        loaded.status.as_str()
    );
    for run in runs {
        match run {
            Ok(r) => println!(
                "  {}: {} finding(s)",
                crate::domain::alerts::source_label(r.product),
                r.events_found
            ),
            Err(err) => println!("  analytics failed: {err}"),
        }
    }
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

/// Generates claims with known drift ending today and loads them through the pipeline.
fn load_demo_claims(
    db: &Db,
    customer: CustomerId,
    rows: u64,
) -> anyhow::Result<crate::services::uploads::Imported> {
    let today = chrono::Utc::now().date_naive();
    let opts = GenOptions {
        rows,
        end: today,
        ..GenOptions::default()
    };
    let mut csv = Vec::new();
    crate::devtools::generate::generate(&opts, &mut csv)?;
    let request = UploadRequest {
        scope: TenantScope::for_system(customer),
        file_name: "demo-claims.csv".into(),
        uploaded_by: None,
        declared_size: Some(csv.len() as u64),
        limits: Limits::default(),
        today,
    };
    Ok(crate::services::uploads::import(
        db,
        &request,
        std::io::Cursor::new(csv),
        "demo",
        // A CSV: no 835 claim references to key.
        &IngestOptions::default(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_pass_the_policy() {
        for _ in 0..20 {
            let p = generate_password().expect("password");
            assert!(crate::domain::password::check_policy(&p).is_ok(), "{p}");
        }
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
