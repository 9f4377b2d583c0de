//! Aggregates for the analytics products — one grouped query per window, never claims
//! one by one — plus report runs and the events they create.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text};

use crate::db::schema::{claim_records, customers, drift_events, report_runs};
use crate::db::{DbConnection, DbError};
use crate::domain::analytics::windows::LastDays;
use crate::domain::analytics::{Direction, FindingKind, Product};
use crate::domain::tenant::TenantScope;
use crate::on_backend;

/// Which date puts a claim in a window (sound: decided; compat: submitted, as the old
/// system did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketBy {
    Decided,
    Submitted,
}

impl BucketBy {
    /// The window condition on `$2`/`$3`. Every stored claim has `decided_date >=
    /// submitted_date` (ingest rejects the other order: `DateOrder`), so a submitted-date
    /// window implies `decided_date >= $2`; stating it lets both modes use the one
    /// decided-date covering index (a range scan) and spares ingest a second wide index.
    fn window(self) -> &'static str {
        match self {
            BucketBy::Decided => "decided_date >= $2 AND decided_date < $3",
            BucketBy::Submitted => {
                "decided_date >= $2 AND submitted_date >= $2 AND submitted_date < $3"
            }
        }
    }
}

/// The outcome of a claim an 835 reversal (CLP02 = 22) voided: every query here leaves
/// it out (`outcome` is in the covering index, so the filter costs no table reads).
/// RateDays, DenialsByReason and the daily series select PAID/DENIED only already.
pub const REVERSED: &str = "REVERSED";

/// The grouped aggregates the products run, one statement per window. The text is
/// written once here: the repository functions below bind it, and [`Aggregate::literal_sql`]
/// prints it with the values inlined for benchmarks (`payerwatch compute --print-sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// [`rate_days_histogram`]
    RateDays,
    /// [`denials_by_reason`]
    DenialsByReason,
    /// [`payer_totals`]
    PayerTotals,
    /// [`payer_days_histogram`]
    PayerDays,
    /// [`payer_daily_days`]
    PayerDailyDays,
}

impl Aggregate {
    /// The statement in PostgreSQL placeholder form: `$1` tenant, `$2`/`$3` window.
    pub fn sql(self, bucket: BucketBy) -> String {
        let window = bucket.window();
        match self {
            Aggregate::RateDays => format!(
                "SELECT payer, cpt_group, outcome, decision_days, COUNT(*) AS n, \
                 CAST(COALESCE(SUM(allowed_cents), 0) AS BIGINT) AS cents FROM claim_records \
                 WHERE customer_id = $1 AND {window} \
                 AND outcome IN ('PAID', 'DENIED') \
                 GROUP BY payer, cpt_group, outcome, decision_days"
            ),
            Aggregate::DenialsByReason => format!(
                "SELECT payer, denial_reason_code, denial_reason_text, COUNT(*) AS n, \
                 CAST(COALESCE(SUM(allowed_cents), 0) AS BIGINT) AS cents FROM claim_records \
                 WHERE customer_id = $1 AND {window} AND outcome = 'DENIED' \
                 GROUP BY payer, denial_reason_code, denial_reason_text"
            ),
            Aggregate::PayerTotals => format!(
                "SELECT payer, \
                 CAST(SUM(CASE WHEN outcome = 'PAID' THEN 1 ELSE 0 END) AS BIGINT) AS paid, \
                 CAST(SUM(CASE WHEN outcome = 'DENIED' THEN 1 ELSE 0 END) AS BIGINT) AS denied, \
                 CAST(COALESCE(SUM(allowed_cents), 0) AS BIGINT) AS allowed_cents, \
                 COUNT(DISTINCT submitted_date) AS submit_days \
                 FROM claim_records WHERE customer_id = $1 AND {window} \
                 AND outcome <> 'REVERSED' \
                 GROUP BY payer"
            ),
            Aggregate::PayerDays => format!(
                "SELECT payer, decision_days, COUNT(*) AS n FROM claim_records \
                 WHERE customer_id = $1 AND {window} AND outcome <> 'REVERSED' \
                 GROUP BY payer, decision_days"
            ),
            // The trend's series is over decision dates whatever the bucket (a claim's
            // decision days are known on the day it is decided).
            Aggregate::PayerDailyDays => format!(
                "SELECT payer, decided_date, decision_days, COUNT(*) AS n FROM claim_records \
                 WHERE customer_id = $1 AND {window} AND outcome <> 'REVERSED' \
                 GROUP BY payer, decided_date, decision_days"
            ),
        }
    }

    /// The same statement with the tenant id and dates inlined, for a database's own
    /// command-line client. Dates are `'YYYY-MM-DD'` literals — how diesel binds `Date` on
    /// SQLite (TEXT) and what PostgreSQL coerces to `DATE` — so both run the same query.
    pub fn literal_sql(
        self,
        bucket: BucketBy,
        scope: &TenantScope,
        start: NaiveDate,
        end: NaiveDate,
    ) -> String {
        self.sql(bucket)
            .replace("$1", &scope.id().to_string())
            .replace("$2", &format!("'{start}'"))
            .replace("$3", &format!("'{end}'"))
    }
}

pub fn latest_decided(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Option<NaiveDate>, DbError> {
    Ok(claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .filter(claim_records::outcome.ne(REVERSED))
        .select(max(claim_records::decided_date))
        .first(conn)?)
}

pub fn analytics_mode(conn: &mut DbConnection, scope: &TenantScope) -> Result<String, DbError> {
    Ok(customers::table
        .find(scope.id())
        .select(customers::analytics_mode)
        .first(conn)?)
}

pub fn set_analytics_mode(
    conn: &mut DbConnection,
    scope: &TenantScope,
    mode: &str,
) -> Result<(), DbError> {
    diesel::update(customers::table.find(scope.id()))
        .set(customers::analytics_mode.eq(mode))
        .execute(conn)?;
    Ok(())
}

/// (payer, cpt_group, outcome, decision days) counts of PAID/DENIED claims in a window.
#[derive(Debug, Clone, QueryableByName)]
pub struct RateDaysRow {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Text)]
    pub cpt_group: String,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = Integer)]
    pub decision_days: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    /// Allowed amount of these claims, in cents.
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

pub fn rate_days_histogram(
    conn: &mut DbConnection,
    scope: &TenantScope,
    bucket: BucketBy,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<RateDaysRow>, DbError> {
    let sql = Aggregate::RateDays.sql(bucket);
    Ok(bind_window(conn, &sql, scope, start, end)?)
}

/// Denied claims per (payer, code, text) in a window, with their allowed dollars.
#[derive(Debug, Clone, QueryableByName)]
pub struct DenialRow {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub denial_reason_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub denial_reason_text: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

pub fn denials_by_reason(
    conn: &mut DbConnection,
    scope: &TenantScope,
    bucket: BucketBy,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<DenialRow>, DbError> {
    let sql = Aggregate::DenialsByReason.sql(bucket);
    Ok(bind_window(conn, &sql, scope, start, end)?)
}

/// Per payer: PAID and DENIED counts, allowed dollars and distinct submission days.
#[derive(Debug, Clone, QueryableByName)]
pub struct PayerTotalsRow {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = BigInt)]
    pub paid: i64,
    #[diesel(sql_type = BigInt)]
    pub denied: i64,
    #[diesel(sql_type = BigInt)]
    pub allowed_cents: i64,
    #[diesel(sql_type = BigInt)]
    pub submit_days: i64,
}

pub fn payer_totals(
    conn: &mut DbConnection,
    scope: &TenantScope,
    bucket: BucketBy,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<PayerTotalsRow>, DbError> {
    let sql = Aggregate::PayerTotals.sql(bucket);
    Ok(bind_window(conn, &sql, scope, start, end)?)
}

/// (payer, decision days) counts of all decided claims in a window (DelayGuard).
#[derive(Debug, Clone, QueryableByName)]
pub struct PayerDaysRow {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Integer)]
    pub decision_days: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// (payer, decision date, decision days) counts in a window (DelayGuard's trend).
#[derive(Debug, Clone, QueryableByName)]
pub struct PayerDailyDaysRow {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Date)]
    pub decided_date: NaiveDate,
    #[diesel(sql_type = Integer)]
    pub decision_days: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

pub fn payer_daily_days(
    conn: &mut DbConnection,
    scope: &TenantScope,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<PayerDailyDaysRow>, DbError> {
    let sql = Aggregate::PayerDailyDays.sql(BucketBy::Decided);
    Ok(bind_window(conn, &sql, scope, start, end)?)
}

pub fn payer_days_histogram(
    conn: &mut DbConnection,
    scope: &TenantScope,
    bucket: BucketBy,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<PayerDaysRow>, DbError> {
    let sql = Aggregate::PayerDays.sql(bucket);
    Ok(bind_window(conn, &sql, scope, start, end)?)
}

/// Counted claims (every outcome but REVERSED) whose date by `bucket` is in
/// `[start, end)`: the claim-level count of a run's "claims covered" (the rollups' oracle).
pub fn claims_in_window(
    conn: &mut DbConnection,
    scope: &TenantScope,
    bucket: BucketBy,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<i64, DbError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = format!(
        "SELECT COUNT(*) AS n FROM claim_records WHERE customer_id = $1 AND {} \
         AND outcome <> '{REVERSED}'",
        bucket.window()
    );
    let rows: Vec<Count> = bind_window(conn, &sql, scope, start, end)?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// Daily PAID/DENIED counts and decision-day sums for the given payer × group keys over
/// a span (the charts): Rust buckets them into weeks.
#[derive(Debug, Clone, QueryableByName)]
pub struct DailyRow {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Text)]
    pub cpt_group: String,
    #[diesel(sql_type = Date)]
    pub decided_date: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub decided: i64,
    #[diesel(sql_type = BigInt)]
    pub denied: i64,
    #[diesel(sql_type = BigInt)]
    pub days_sum: i64,
}

pub fn daily_series(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payers: &[String],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<DailyRow>, DbError> {
    payer_series(
        conn,
        scope,
        payers,
        (start, end),
        "SELECT payer, cpt_group, decided_date, COUNT(*) AS decided, \
         CAST(SUM(CASE WHEN outcome = 'DENIED' THEN 1 ELSE 0 END) AS BIGINT) AS denied, \
         CAST(SUM(decision_days) AS BIGINT) AS days_sum FROM claim_records \
         WHERE customer_id = $1 AND decided_date >= $2 AND decided_date < $3 \
         AND outcome IN ('PAID', 'DENIED') AND payer IN ({payers}) \
         GROUP BY payer, cpt_group, decided_date",
    )
}

/// Claims per payer × group × decision day × days to decision (the charts' weekly
/// medians of days to decision). Every outcome but voided ones, as DelayGuard counts.
#[derive(Debug, Clone, QueryableByName)]
pub struct DailyDaysRow {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Text)]
    pub cpt_group: String,
    #[diesel(sql_type = Date)]
    pub decided_date: NaiveDate,
    #[diesel(sql_type = Integer)]
    pub decision_days: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

pub fn daily_days_series(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payers: &[String],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<DailyDaysRow>, DbError> {
    payer_series(
        conn,
        scope,
        payers,
        (start, end),
        "SELECT payer, cpt_group, decided_date, decision_days, COUNT(*) AS n \
         FROM claim_records \
         WHERE customer_id = $1 AND decided_date >= $2 AND decided_date < $3 \
         AND outcome <> 'REVERSED' AND payer IN ({payers}) \
         GROUP BY payer, cpt_group, decided_date, decision_days",
    )
}

/// Denied claims and their allowed cents per payer × reason (code and text, as DenialScope
/// keys them) × decision day (the charts of reason findings).
#[derive(Debug, Clone, QueryableByName)]
pub struct DailyReasonRow {
    #[diesel(sql_type = Text)]
    pub payer: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub denial_reason_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub denial_reason_text: Option<String>,
    #[diesel(sql_type = Date)]
    pub decided_date: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

pub fn daily_reason_series(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payers: &[String],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<DailyReasonRow>, DbError> {
    payer_series(
        conn,
        scope,
        payers,
        (start, end),
        "SELECT payer, denial_reason_code, denial_reason_text, decided_date, COUNT(*) AS n, \
         CAST(COALESCE(SUM(allowed_cents), 0) AS BIGINT) AS cents FROM claim_records \
         WHERE customer_id = $1 AND decided_date >= $2 AND decided_date < $3 \
         AND outcome = 'DENIED' AND payer IN ({payers}) \
         GROUP BY payer, denial_reason_code, denial_reason_text, decided_date",
    )
}

/// A grouped series over a decision-date span for some payers: `sql` binds `$1` tenant,
/// `$2`/`$3` span and has `{payers}` where the payer placeholders go. Payers are bound,
/// never interpolated: one placeholder each.
fn payer_series<T>(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payers: &[String],
    (start, end): (NaiveDate, NaiveDate),
    sql: &str,
) -> Result<Vec<T>, DbError>
where
    T: QueryableByName<<DbConnection as diesel::Connection>::Backend> + 'static,
{
    if payers.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..payers.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = sql.replace("{payers}", &placeholders.join(", "));
    let sql = placeholders_for(conn, &sql);
    let mut query = diesel::sql_query(sql)
        .into_boxed::<<DbConnection as diesel::Connection>::Backend>()
        .bind::<BigInt, _>(scope.id())
        .bind::<Date, _>(start)
        .bind::<Date, _>(end);
    for payer in payers {
        query = query.bind::<Text, _>(payer.clone());
    }
    Ok(query.load(conn)?)
}

/// PostgreSQL numbers its placeholders `$1`, SQLite `?1`: queries are written in the
/// PostgreSQL form (binds in order; a number may repeat) and rewritten for SQLite.
pub(super) fn placeholders_for(conn: &DbConnection, sql: &str) -> String {
    match conn {
        DbConnection::Postgresql(_) => sql.to_string(),
        DbConnection::Sqlite(_) => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

fn bind_window<T>(
    conn: &mut DbConnection,
    sql: &str,
    scope: &TenantScope,
    start: NaiveDate,
    end: NaiveDate,
) -> QueryResult<Vec<T>>
where
    T: QueryableByName<<DbConnection as diesel::Connection>::Backend> + 'static,
{
    let sql = placeholders_for(conn, sql);
    diesel::sql_query(sql)
        .bind::<BigInt, _>(scope.id())
        .bind::<Date, _>(start)
        .bind::<Date, _>(end)
        .load(conn)
}

// ----------------------------------------------------------------------------- runs

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = report_runs)]
pub struct ReportRun {
    pub id: i64,
    pub customer_id: i64,
    pub product: String,
    pub mode: String,
    pub status: String,
    pub trigger_source: String,
    pub as_of: Option<NaiveDate>,
    pub parameters_json: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub rows_scanned: i64,
    pub groups_considered: i64,
    pub groups_insufficient: i64,
    pub events_created: i64,
    pub comparison_json: Option<String>,
    pub insufficient_json: Option<String>,
    pub error_message: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub job_id: Option<i64>,
    /// Claims the run's windows covered (SPEC §9); `None` before it was recorded.
    pub claims_covered: Option<i64>,
}

/// What an interrupted run says (its process died: lease ran out).
pub const INTERRUPTED_RUN: &str =
    "interrupted: the process running it stopped before it finished; nothing of it was stored";

/// A run started before leases existed has none; it counts as dead after this long.
const LEGACY_RUN_LIFETIME_HOURS: i64 = 6;

/// Marks the tenant's running runs of `product` whose lease ran out as failed
/// ("interrupted"), so a dead process never holds the one-run-at-a-time rule. Returns
/// how many.
pub fn fail_expired_runs(
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: &str,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let legacy_cutoff = now - chrono::Duration::hours(LEGACY_RUN_LIFETIME_HOURS);
    Ok(diesel::update(
        report_runs::table
            .filter(report_runs::customer_id.eq(scope.id()))
            .filter(report_runs::product.eq(product))
            .filter(report_runs::status.eq("running"))
            .filter(
                report_runs::lease_expires_at
                    .lt(now)
                    .or(report_runs::lease_expires_at
                        .is_null()
                        .and(report_runs::started_at.lt(legacy_cutoff))),
            ),
    )
    .set((
        report_runs::status.eq("failed"),
        report_runs::finished_at.eq(now),
        report_runs::error_message.eq(INTERRUPTED_RUN),
    ))
    .execute(conn)?)
}

/// The tenant's running run of `product`, if any: (id, lease expiry).
pub fn running_run(
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: &str,
) -> Result<Option<(i64, Option<NaiveDateTime>)>, DbError> {
    Ok(report_runs::table
        .filter(report_runs::customer_id.eq(scope.id()))
        .filter(report_runs::product.eq(product))
        .filter(report_runs::status.eq("running"))
        .select((report_runs::id, report_runs::lease_expires_at))
        .first(conn)
        .optional()?)
}

/// Extends a running run's lease (its heartbeat).
pub fn renew_run_lease(
    conn: &mut DbConnection,
    scope: &TenantScope,
    run_id: i64,
    until: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(
        report_runs::table
            .filter(report_runs::customer_id.eq(scope.id()))
            .filter(report_runs::id.eq(run_id))
            .filter(report_runs::status.eq("running")),
    )
    .set(report_runs::lease_expires_at.eq(Some(until)))
    .execute(conn)?;
    Ok(())
}

/// The runs an analytics job made, oldest first.
pub fn runs_of_job(
    conn: &mut DbConnection,
    scope: &TenantScope,
    job_id: i64,
) -> Result<Vec<ReportRun>, DbError> {
    Ok(report_runs::table
        .filter(report_runs::customer_id.eq(scope.id()))
        .filter(report_runs::job_id.eq(job_id))
        .order(report_runs::id.asc())
        .select(ReportRun::as_select())
        .load(conn)?)
}

/// A run to start: who asked, its lease, the job behind it.
pub struct NewRun<'a> {
    pub product: &'a str,
    pub mode: &'a str,
    pub trigger: &'a str,
    pub parameters_json: &'a str,
    pub lease_until: NaiveDateTime,
    pub job_id: Option<i64>,
}

/// Starts a run; [`DbError::Duplicate`] when one of this product is already running for
/// the tenant (a live one: runs whose lease ran out are failed first).
pub fn start_run(
    conn: &mut DbConnection,
    scope: &TenantScope,
    run: &NewRun<'_>,
) -> Result<i64, DbError> {
    let now = super::now();
    fail_expired_runs(conn, scope, run.product, now)?;
    on_backend!(conn, c => diesel::insert_into(report_runs::table)
        .values((
            report_runs::customer_id.eq(scope.id()),
            report_runs::product.eq(run.product),
            report_runs::mode.eq(run.mode),
            report_runs::status.eq("running"),
            report_runs::trigger_source.eq(run.trigger),
            report_runs::parameters_json.eq(run.parameters_json),
            report_runs::started_at.eq(now),
            report_runs::lease_expires_at.eq(Some(run.lease_until)),
            report_runs::job_id.eq(run.job_id),
        ))
        .returning(report_runs::id)
        .get_result::<i64>(c))
    .map_err(|e| {
        if DbError::is_unique_violation(&e) {
            DbError::Duplicate("running report")
        } else {
            DbError::from(e)
        }
    })
}

pub struct RunResult<'a> {
    pub as_of: Option<NaiveDate>,
    pub rows_scanned: i64,
    pub claims_covered: i64,
    pub groups_considered: i64,
    pub groups_insufficient: i64,
    pub events_created: i64,
    pub comparison_json: Option<&'a str>,
    pub insufficient_json: Option<&'a str>,
}

pub fn finish_run(
    conn: &mut DbConnection,
    scope: &TenantScope,
    run_id: i64,
    result: &RunResult<'_>,
) -> Result<(), DbError> {
    diesel::update(
        report_runs::table
            .filter(report_runs::customer_id.eq(scope.id()))
            .filter(report_runs::id.eq(run_id)),
    )
    .set((
        report_runs::status.eq("succeeded"),
        report_runs::finished_at.eq(super::now()),
        report_runs::as_of.eq(result.as_of),
        report_runs::rows_scanned.eq(result.rows_scanned),
        report_runs::claims_covered.eq(Some(result.claims_covered)),
        report_runs::groups_considered.eq(result.groups_considered),
        report_runs::groups_insufficient.eq(result.groups_insufficient),
        report_runs::events_created.eq(result.events_created),
        report_runs::comparison_json.eq(result.comparison_json),
        report_runs::insufficient_json.eq(result.insufficient_json),
    ))
    .execute(conn)?;
    Ok(())
}

pub fn fail_run(
    conn: &mut DbConnection,
    scope: &TenantScope,
    run_id: i64,
    message: &str,
) -> Result<(), DbError> {
    diesel::update(
        report_runs::table
            .filter(report_runs::customer_id.eq(scope.id()))
            .filter(report_runs::id.eq(run_id)),
    )
    .set((
        report_runs::status.eq("failed"),
        report_runs::finished_at.eq(super::now()),
        report_runs::error_message.eq(message),
    ))
    .execute(conn)?;
    Ok(())
}

pub fn find_run(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<ReportRun, DbError> {
    Ok(report_runs::table
        .filter(report_runs::customer_id.eq(scope.id()))
        .filter(report_runs::id.eq(id))
        .select(ReportRun::as_select())
        .first(conn)?)
}

/// Changes whenever one of the tenant's runs starts or finishes — and events are only
/// written when a run finishes — so it keys caches of what the findings pages derive from
/// runs and events: (newest run id, runs no longer running). (0, 0) without runs.
pub fn run_generation(conn: &mut DbConnection, scope: &TenantScope) -> Result<(i64, i64), DbError> {
    let newest: Option<i64> = report_runs::table
        .filter(report_runs::customer_id.eq(scope.id()))
        .select(max(report_runs::id))
        .first(conn)?;
    let finished: i64 = report_runs::table
        .filter(report_runs::customer_id.eq(scope.id()))
        .filter(report_runs::status.ne("running"))
        .count()
        .get_result(conn)?;
    Ok((newest.unwrap_or(0), finished))
}

/// The newest run of one product (a findings page's "last computed" line).
pub fn latest_run_of(
    conn: &mut DbConnection,
    scope: &TenantScope,
    product: &str,
) -> Result<Option<ReportRun>, DbError> {
    Ok(report_runs::table
        .filter(report_runs::customer_id.eq(scope.id()))
        .filter(report_runs::product.eq(product))
        .order((report_runs::started_at.desc(), report_runs::id.desc()))
        .select(ReportRun::as_select())
        .first(conn)
        .optional()?)
}

/// The newest run of each product (for the pages' "last computed" lines).
pub fn latest_runs(
    conn: &mut DbConnection,
    scope: &TenantScope,
    limit: i64,
) -> Result<Vec<ReportRun>, DbError> {
    Ok(report_runs::table
        .filter(report_runs::customer_id.eq(scope.id()))
        .order((report_runs::started_at.desc(), report_runs::id.desc()))
        .limit(limit)
        .select(ReportRun::as_select())
        .load(conn)?)
}

// ---------------------------------------------------------------------------- events

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = drift_events)]
pub struct DriftEvent {
    pub id: i64,
    pub customer_id: i64,
    pub run_id: i64,
    pub product: String,
    pub mode: String,
    pub kind: String,
    pub payer: String,
    pub cpt_group: String,
    pub direction: String,
    pub baseline_value: f64,
    pub current_value: f64,
    pub delta: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub severity: f64,
    pub severity_label: String,
    pub confidence: Option<f64>,
    pub baseline_n: i64,
    pub current_n: i64,
    pub baseline_start: NaiveDate,
    pub baseline_end: NaiveDate,
    pub current_start: NaiveDate,
    pub current_end: NaiveDate,
    pub evidence_json: String,
    pub continuing: bool,
    pub first_event_id: Option<i64>,
    pub created_at: NaiveDateTime,
    /// Sound findings: money at stake per 30 days (negative: dollars saved).
    pub dollars_per_month: Option<f64>,
}

#[cfg(test)]
impl DriftEvent {
    /// A stored finding for unit tests: Cigna × `group`, high, 0.1 -> 0.4 (+0.3), a
    /// baseline from 2026-08-01 and a current window of 2026-11-15 to 2026-11-28.
    pub fn example(product: &str, kind: &str, group: &str) -> DriftEvent {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        DriftEvent {
            id: 1,
            customer_id: 1,
            run_id: 1,
            product: product.into(),
            mode: "sound".into(),
            kind: kind.into(),
            payer: "Cigna".into(),
            cpt_group: group.into(),
            direction: "worse".into(),
            baseline_value: 0.1,
            current_value: 0.4,
            delta: 0.3,
            ci_low: None,
            ci_high: None,
            p_value: None,
            q_value: None,
            severity: 0.9,
            severity_label: "high".into(),
            confidence: None,
            baseline_n: 100,
            current_n: 100,
            baseline_start: date("2026-08-01"),
            baseline_end: date("2026-11-15"),
            current_start: date("2026-11-15"),
            current_end: date("2026-11-29"),
            evidence_json: "{}".into(),
            continuing: false,
            first_event_id: None,
            created_at: date("2026-11-29").and_hms_opt(0, 0, 0).expect("time"),
            dollars_per_month: None,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = drift_events)]
pub struct NewDriftEvent {
    pub customer_id: i64,
    pub run_id: i64,
    pub product: String,
    pub mode: String,
    pub kind: String,
    pub payer: String,
    pub cpt_group: String,
    pub direction: String,
    pub baseline_value: f64,
    pub current_value: f64,
    pub delta: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub severity: f64,
    pub severity_label: String,
    pub confidence: Option<f64>,
    pub baseline_n: i64,
    pub current_n: i64,
    pub baseline_start: NaiveDate,
    pub baseline_end: NaiveDate,
    pub current_start: NaiveDate,
    pub current_end: NaiveDate,
    pub evidence_json: String,
    pub continuing: bool,
    pub first_event_id: Option<i64>,
    pub created_at: NaiveDateTime,
    /// Sound findings: money at stake per 30 days (negative: dollars saved).
    pub dollars_per_month: Option<f64>,
}

/// The tenant's events of `event`'s finding (product, mode, kind, payer, group) in any
/// window: what "the same finding" means both for not storing a re-run twice and for
/// telling that a finding continues.
fn same_finding<'a>(
    scope: &TenantScope,
    event: &'a NewDriftEvent,
) -> drift_events::BoxedQuery<'a, <DbConnection as diesel::Connection>::Backend> {
    drift_events::table
        .filter(drift_events::customer_id.eq(scope.id()))
        .filter(drift_events::product.eq(&event.product))
        .filter(drift_events::mode.eq(&event.mode))
        .filter(drift_events::kind.eq(&event.kind))
        .filter(drift_events::payer.eq(&event.payer))
        .filter(drift_events::cpt_group.eq(&event.cpt_group))
        .into_boxed()
}

/// Inserts the event unless the same finding for the same window exists; returns the new
/// id, or `None` when it was already stored (re-runs create no duplicates).
pub fn insert_event_once(
    conn: &mut DbConnection,
    scope: &TenantScope,
    event: &NewDriftEvent,
) -> Result<Option<i64>, DbError> {
    if event.customer_id != scope.id() {
        return Err(DbError::ForeignKey);
    }
    let stored: Option<i64> = same_finding(scope, event)
        .filter(drift_events::current_start.eq(event.current_start))
        .filter(drift_events::current_end.eq(event.current_end))
        .select(drift_events::id)
        .first(conn)
        .optional()?;
    if stored.is_some() {
        return Ok(None);
    }
    let id = on_backend!(conn, c => diesel::insert_into(drift_events::table)
        .values(event)
        .returning(drift_events::id)
        .get_result::<i64>(c))?;
    Ok(Some(id))
}

/// The latest earlier event of the same key whose window overlaps `current_start` —
/// the finding is then "continuing": the id of the key's first occurrence and the
/// previous occurrence's severity label.
pub fn previous_occurrence(
    conn: &mut DbConnection,
    scope: &TenantScope,
    event: &NewDriftEvent,
) -> Result<Option<(i64, String)>, DbError> {
    let previous: Option<(i64, Option<i64>, String)> = same_finding(scope, event)
        .filter(drift_events::current_end.lt(event.current_end))
        .filter(drift_events::current_end.gt(event.current_start))
        .order(drift_events::current_end.desc())
        .select((
            drift_events::id,
            drift_events::first_event_id,
            drift_events::severity_label,
        ))
        .first(conn)
        .optional()?;
    Ok(previous.map(|(id, first, label)| (first.unwrap_or(id), label)))
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub products: Vec<Product>,
    pub payer: Option<String>,
    pub cpt_group: Option<String>,
    pub kind: Option<FindingKind>,
    pub direction: Option<Direction>,
    pub min_severity: Option<f64>,
    /// The findings whose current window ends on these days (its last day, as shown).
    pub last_days: LastDays,
    /// `sort=newest`: by data window first. Default (`sort=money`): by label, then the sum
    /// at stake.
    pub newest_first: bool,
}

/// The drift feed's filters as one query, shared by the feed's pages and the API's keyset
/// pages so both read the same findings.
pub(super) fn filtered<'a>(
    scope: &TenantScope,
    filter: &'a EventFilter,
) -> drift_events::BoxedQuery<'a, <DbConnection as diesel::Connection>::Backend> {
    let mut query = drift_events::table
        .filter(drift_events::customer_id.eq(scope.id()))
        .into_boxed();
    if !filter.products.is_empty() {
        let products: Vec<&str> = filter.products.iter().map(|p| p.as_str()).collect();
        query = query.filter(drift_events::product.eq_any(products));
    }
    if let Some(payer) = &filter.payer {
        query = query.filter(drift_events::payer.eq(payer));
    }
    if let Some(group) = &filter.cpt_group {
        query = query.filter(drift_events::cpt_group.eq(group));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(drift_events::kind.eq(kind.as_str()));
    }
    if let Some(direction) = filter.direction {
        query = query.filter(drift_events::direction.eq(direction.as_str()));
    }
    if let Some(min) = filter.min_severity {
        query = query.filter(drift_events::severity.ge(min));
    }
    // `current_end` is exclusive: the bounds are the last days plus one.
    let (from, to) = filter.last_days.end_bounds();
    if let Some(from) = from {
        query = query.filter(drift_events::current_end.ge(from));
    }
    if let Some(to) = to {
        query = query.filter(drift_events::current_end.le(to));
    }
    query
}

/// Newest first (by data window, then creation).
pub fn list_events(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: &EventFilter,
    page: i64,
    per_page: i64,
) -> Result<super::Page<DriftEvent>, DbError> {
    let total: i64 = filtered(scope, filter).select(count_star()).first(conn)?;
    let items = ordered(scope, filter)
        .limit(per_page)
        .offset(super::offset(page, per_page))
        .select(DriftEvent::as_select())
        .load(conn)?;
    Ok(super::Page {
        items,
        page,
        per_page,
        total,
    })
}

/// The first `limit` findings of [`list_events`]'s order, without its count (a short list
/// that links to the feed for the rest: the payer scorecard).
pub fn first_events(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<DriftEvent>, DbError> {
    Ok(ordered(scope, filter)
        .limit(limit.max(0))
        .select(DriftEvent::as_select())
        .load(conn)?)
}

fn ordered<'a>(
    scope: &TenantScope,
    filter: &'a EventFilter,
) -> drift_events::BoxedQuery<'a, <DbConnection as diesel::Connection>::Backend> {
    if filter.newest_first {
        filtered(scope, filter).order((
            drift_events::current_end.desc(),
            drift_events::severity.desc(),
            drift_events::id.desc(),
        ))
    } else {
        filtered(scope, filter).order((
            drift_events::severity.desc(),
            money_desc(),
            drift_events::current_end.desc(),
            drift_events::id.desc(),
        ))
    }
}

pub fn find_event(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<DriftEvent, DbError> {
    Ok(drift_events::table
        .filter(drift_events::customer_id.eq(scope.id()))
        .filter(drift_events::id.eq(id))
        .select(DriftEvent::as_select())
        .first(conn)?)
}

/// Distinct payers and CPT groups with events (filter drop-downs).
pub fn event_facets(
    conn: &mut DbConnection,
    scope: &TenantScope,
    products: &[&str],
) -> Result<(Vec<String>, Vec<String>), DbError> {
    let payers = drift_events::table
        .filter(drift_events::customer_id.eq(scope.id()))
        .filter(drift_events::product.eq_any(products))
        .select(drift_events::payer)
        .distinct()
        .order(drift_events::payer.asc())
        .load(conn)?;
    let groups = drift_events::table
        .filter(drift_events::customer_id.eq(scope.id()))
        .filter(drift_events::product.eq_any(products))
        .select(drift_events::cpt_group)
        .distinct()
        .order(drift_events::cpt_group.asc())
        .load(conn)?;
    Ok((payers, groups))
}

/// Larger sums at stake first, findings without money last — on both backends (their NULL
/// orders differ).
fn money_desc() -> diesel::expression::SqlLiteral<diesel::sql_types::Double> {
    diesel::dsl::sql::<diesel::sql_types::Double>(
        "COALESCE(ABS(drift_events.dollars_per_month), -1) DESC",
    )
}

/// The worse findings of each product's latest data window (overview page), the largest
/// sums at stake first (issue 17: the overview sorts by money), then by severity.
pub fn top_recent_events(
    conn: &mut DbConnection,
    scope: &TenantScope,
    limit: i64,
) -> Result<Vec<DriftEvent>, DbError> {
    let latest: Option<NaiveDate> = drift_events::table
        .filter(drift_events::customer_id.eq(scope.id()))
        .select(max(drift_events::current_end))
        .first(conn)?;
    let Some(latest) = latest else {
        return Ok(Vec::new());
    };
    Ok(drift_events::table
        .filter(drift_events::customer_id.eq(scope.id()))
        .filter(drift_events::current_end.ge(latest - chrono::Duration::days(7)))
        .filter(drift_events::direction.eq(Direction::Worse.as_str()))
        .order((
            money_desc(),
            drift_events::severity.desc(),
            drift_events::id.desc(),
        ))
        .limit(limit)
        .select(DriftEvent::as_select())
        .load(conn)?)
}
