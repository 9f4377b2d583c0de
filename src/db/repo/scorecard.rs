//! The payer scorecard's aggregates: grouped counts of decided claims, split into "this
//! payer" and "the tenant's other payers", by month or by period — one statement each,
//! never claims one by one. Reversed (835) and OTHER outcomes are left out, as the
//! analytics leave them out of denial rates. The scorecard page reads the daily rollups
//! (`services::scorecard::figures_from_rollups`); these statements over claims are the
//! oracle its equivalence test compares against.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text};

use super::analytics::placeholders_for;
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

/// How the grouped counts are bucketed.
#[derive(Debug, Clone, Copy)]
pub enum Split {
    /// By calendar month of the decision (`YYYY-MM`).
    Months,
    /// `current` from this date on, `prior` before it.
    Periods { current_from: NaiveDate },
}

/// (this payer?, bucket, outcome, decision days) → claims and their allowed cents.
#[derive(Debug, Clone, QueryableByName)]
pub struct HistogramRow {
    /// 1 for the scorecard's payer, 0 for all the tenant's other payers together.
    #[diesel(sql_type = Integer)]
    pub mine: i32,
    /// `YYYY-MM`, or `current` / `prior`.
    #[diesel(sql_type = Text)]
    pub bucket: String,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = Integer)]
    pub decision_days: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

/// Denied claims per (this payer?, period, reason code and text).
#[derive(Debug, Clone, QueryableByName)]
pub struct ReasonRow {
    #[diesel(sql_type = Integer)]
    pub mine: i32,
    #[diesel(sql_type = Text)]
    pub bucket: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub text: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

const PERIOD: &str = "CASE WHEN decided_date >= $5 THEN 'current' ELSE 'prior' END";

fn month(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Postgresql(_) => "to_char(decided_date, 'YYYY-MM')",
        DbConnection::Sqlite(_) => "strftime('%Y-%m', decided_date)",
    }
}

/// Paid and denied claims of the tenant decided in `[start, end)`, grouped by this payer
/// vs the others, the bucket, the outcome and the decision days (the median needs the
/// histogram; its size is bounded by days × buckets, not by claims).
pub fn histogram(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: &str,
    split: Split,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<HistogramRow>, DbError> {
    let (bucket, current_from) = match split {
        Split::Months => (month(conn), None),
        Split::Periods { current_from } => (PERIOD, Some(current_from)),
    };
    let sql = format!(
        "SELECT CASE WHEN payer = $4 THEN 1 ELSE 0 END AS mine, {bucket} AS bucket, \
         outcome, decision_days, COUNT(*) AS n, \
         CAST(COALESCE(SUM(allowed_cents), 0) AS BIGINT) AS cents FROM claim_records \
         WHERE customer_id = $1 AND decided_date >= $2 AND decided_date < $3 \
         AND outcome IN ('PAID', 'DENIED') GROUP BY 1, 2, 3, 4"
    );
    Ok(bind(conn, &sql, scope, payer, start, end, current_from)?)
}

/// Denied claims of the tenant decided in `[start, end)` per this payer vs the others,
/// period (`current` from `current_from`), reason code and reason text (the caller keys
/// them as DenialScope does).
pub fn reasons(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: &str,
    start: NaiveDate,
    current_from: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<ReasonRow>, DbError> {
    let sql = format!(
        "SELECT CASE WHEN payer = $4 THEN 1 ELSE 0 END AS mine, {PERIOD} AS bucket, \
         denial_reason_code AS code, denial_reason_text AS text, COUNT(*) AS n, \
         CAST(COALESCE(SUM(allowed_cents), 0) AS BIGINT) AS cents FROM claim_records \
         WHERE customer_id = $1 AND decided_date >= $2 AND decided_date < $3 \
         AND outcome = 'DENIED' GROUP BY 1, 2, 3, 4"
    );
    Ok(bind(
        conn,
        &sql,
        scope,
        payer,
        start,
        end,
        Some(current_from),
    )?)
}

fn bind<T>(
    conn: &mut DbConnection,
    sql: &str,
    scope: &TenantScope,
    payer: &str,
    start: NaiveDate,
    end: NaiveDate,
    current_from: Option<NaiveDate>,
) -> QueryResult<Vec<T>>
where
    T: QueryableByName<<DbConnection as diesel::Connection>::Backend> + 'static,
{
    let sql = placeholders_for(conn, sql);
    let query = diesel::sql_query(sql)
        .into_boxed::<<DbConnection as diesel::Connection>::Backend>()
        .bind::<BigInt, _>(scope.id())
        .bind::<Date, _>(start)
        .bind::<Date, _>(end)
        .bind::<Text, _>(payer.to_string());
    // `$5` (the first day of the current period) only where the statement has it.
    match current_from {
        Some(date) => query.bind::<Date, _>(date).load(conn),
        None => query.load(conn),
    }
}
