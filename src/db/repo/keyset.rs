//! Keyset ("cursor") pages for the JSON API: each list is ordered by id and continues
//! strictly after the last id the client saw, so rows inserted meanwhile never shift a
//! page (no row is skipped or repeated, unlike OFFSET). Newest first except
//! rejections (file order). Each function returns at most `limit` rows; the caller asks
//! for one more to know whether a next page exists.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::repo::alerts::{AlertEvent, AlertFilter, AlertWithStatus};
use crate::db::repo::analytics::{DriftEvent, EventFilter, ReportRun};
use crate::db::repo::uploads::Upload;
use crate::db::schema::{
    alert_events, alert_status_history, drift_events, report_runs, upload_rejections, uploads,
};
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

pub fn uploads(
    conn: &mut DbConnection,
    scope: &TenantScope,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Upload>, DbError> {
    let mut query = uploads::table
        .filter(uploads::customer_id.eq(scope.id()))
        .into_boxed();
    if let Some(before) = before_id {
        query = query.filter(uploads::id.lt(before));
    }
    Ok(query
        .order(uploads::id.desc())
        .limit(limit)
        .select(Upload::as_select())
        .load(conn)?)
}

/// A rejection line: (id, row number, column, reason code).
pub type RejectionRow = (i64, i64, String, String);

/// An upload's rejections in file order (by id, which follows the rows).
pub fn rejections(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload_id: i64,
    after_id: Option<i64>,
    limit: i64,
) -> Result<Vec<RejectionRow>, DbError> {
    super::uploads::find(conn, scope, upload_id)?;
    let mut query = upload_rejections::table
        .filter(upload_rejections::upload_id.eq(upload_id))
        .into_boxed();
    if let Some(after) = after_id {
        query = query.filter(upload_rejections::id.gt(after));
    }
    Ok(query
        .order(upload_rejections::id.asc())
        .limit(limit)
        .select((
            upload_rejections::id,
            upload_rejections::row_number,
            upload_rejections::column_name,
            upload_rejections::reason,
        ))
        .load(conn)?)
}

/// Findings with the feed's filters (sorting is by id here; `newest_first` is ignored).
pub fn events(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: &EventFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<DriftEvent>, DbError> {
    let mut query = super::analytics::filtered(scope, filter);
    if let Some(before) = before_id {
        query = query.filter(drift_events::id.lt(before));
    }
    Ok(query
        .order(drift_events::id.desc())
        .limit(limit)
        .select(DriftEvent::as_select())
        .load(conn)?)
}

/// Current status of each alert (its newest history row); the initial status otherwise.
fn statuses(
    conn: &mut DbConnection,
    alerts: &[AlertEvent],
) -> Result<HashMap<i64, String>, DbError> {
    let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
    let rows: Vec<(i64, i64, String)> = alert_status_history::table
        .filter(alert_status_history::alert_id.eq_any(&ids))
        .select((
            alert_status_history::alert_id,
            alert_status_history::id,
            alert_status_history::status,
        ))
        .load(conn)?;
    let mut latest: HashMap<i64, (i64, String)> = HashMap::new();
    for (alert_id, row_id, status) in rows {
        let entry = latest.entry(alert_id).or_insert((row_id, status.clone()));
        if row_id >= entry.0 {
            *entry = (row_id, status);
        }
    }
    Ok(alerts
        .iter()
        .map(|a| {
            let status = latest
                .remove(&a.id)
                .map_or_else(|| a.initial_status.clone(), |(_, s)| s);
            (a.id, status)
        })
        .collect())
}

/// Alerts with their current status, filtered (the status filter applies to the
/// current status, so candidates are read in batches until the page is full).
pub fn alerts(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: &AlertFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AlertWithStatus>, DbError> {
    const BATCH: i64 = 500;
    let mut out: Vec<AlertWithStatus> = Vec::new();
    let mut cursor = before_id;
    loop {
        let mut query = alert_events::table
            .filter(alert_events::customer_id.eq(scope.id()))
            .into_boxed();
        if let Some(sev) = &filter.severity {
            query = query.filter(alert_events::severity_label.eq(sev));
        }
        if let Some(product) = &filter.product {
            query = query.filter(alert_events::product.eq(product));
        }
        if let Some(payer) = &filter.payer {
            query = query.filter(alert_events::payer.eq(payer));
        }
        if let Some(before) = cursor {
            query = query.filter(alert_events::id.lt(before));
        }
        let batch: Vec<AlertEvent> = query
            .order(alert_events::id.desc())
            .limit(BATCH)
            .select(AlertEvent::as_select())
            .load(conn)?;
        let exhausted = (batch.len() as i64) < BATCH;
        cursor = batch.last().map(|a| a.id);
        let mut status = statuses(conn, &batch)?;
        for alert in batch {
            let current = status.remove(&alert.id).unwrap_or_default();
            if filter.status.as_deref().is_none_or(|s| s == current) {
                out.push(AlertWithStatus {
                    alert,
                    status: current,
                });
                if out.len() as i64 >= limit {
                    return Ok(out);
                }
            }
        }
        if exhausted {
            return Ok(out);
        }
    }
}

pub fn runs(
    conn: &mut DbConnection,
    scope: &TenantScope,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<ReportRun>, DbError> {
    let mut query = report_runs::table
        .filter(report_runs::customer_id.eq(scope.id()))
        .into_boxed();
    if let Some(before) = before_id {
        query = query.filter(report_runs::id.lt(before));
    }
    Ok(query
        .order(report_runs::id.desc())
        .limit(limit)
        .select(ReportRun::as_select())
        .load(conn)?)
}
