//! What the cached pages are keyed by, read in one statement: the tenant's run
//! generation (`analytics::run_generation`: events change only when a run finishes), its
//! rollup version (`rollups::version`: every change to the daily rollups) and its alert
//! version (`alert_versions`, moved by database triggers in the transaction of every
//! write to alerts, their statuses, judgments, assignments and comments, the tenant's
//! members and saved alert filters — migration 2026-12-06-999500). Read before the data:
//! what is cached under a version is then never older than it.

use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use crate::db::schema::{alert_versions, report_runs, rollup_versions};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Versions {
    /// (newest run id, runs no longer running), as `analytics::run_generation`.
    pub runs: (i64, i64),
    pub rollups: i64,
    pub alerts: i64,
}

/// The three versions of the tenant now, in one statement (three indexed look-ups).
pub fn read(conn: &mut DbConnection, scope: &TenantScope) -> Result<Versions, DbError> {
    let id = scope.id();
    let (newest, finished, rollups, alerts): (Option<i64>, Option<i64>, Option<i64>, Option<i64>) =
        diesel::select((
            report_runs::table
                .filter(report_runs::customer_id.eq(id))
                .select(max(report_runs::id))
                .single_value(),
            report_runs::table
                .filter(report_runs::customer_id.eq(id))
                .filter(report_runs::status.ne("running"))
                .select(count_star())
                .single_value(),
            rollup_versions::table
                .filter(rollup_versions::customer_id.eq(id))
                .select(rollup_versions::version)
                .single_value(),
            alert_versions::table
                .filter(alert_versions::customer_id.eq(id))
                .select(alert_versions::version)
                .single_value(),
        ))
        .get_result(conn)?;
    Ok(Versions {
        runs: (newest.unwrap_or(0), finished.unwrap_or(0)),
        rollups: rollups.unwrap_or(0),
        alerts: alerts.unwrap_or(0),
    })
}

/// The tenant's alert version alone (the alert list needs nothing else).
pub fn alerts(conn: &mut DbConnection, scope: &TenantScope) -> Result<i64, DbError> {
    Ok(alert_versions::table
        .filter(alert_versions::customer_id.eq(scope.id()))
        .select(alert_versions::version)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0))
}
