//! Append-only audit trail. There is deliberately no update or delete function here;
//! retention purging is a separate, explicit operation.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::repo::{self, users};
use crate::db::schema::audit_events;
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub customer_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub changed_fields: Option<String>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent {
    pub occurred_at: NaiveDateTime,
    pub customer_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub changed_fields: Option<String>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

/// Request facts an audit event needs (which request, from where — an anonymised
/// address), captured before the work moves to a blocking thread.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

/// What happened, to what, and the NAMES of the changed fields — never values.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    pub customer_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub changed_fields: &'a [&'a str],
}

impl<'a> AuditEntry<'a> {
    /// The entry about `target_type` number `id`.
    pub fn target(mut self, target_type: &'a str, id: impl ToString) -> Self {
        self.target_type = Some(target_type);
        self.target_id = Some(id.to_string());
        self
    }
}

/// The audit entry of a change, known before it ([`AuditEntry`]) or from its result (a
/// function of it: the id of what it created).
pub trait AuditFor<T> {
    fn entry_for(self, value: &T) -> AuditEntry<'static>;
}

impl<T> AuditFor<T> for AuditEntry<'static> {
    fn entry_for(self, _: &T) -> AuditEntry<'static> {
        self
    }
}

impl<T, F: FnOnce(&T) -> AuditEntry<'static>> AuditFor<T> for F {
    fn entry_for(self, value: &T) -> AuditEntry<'static> {
        self(value)
    }
}

/// Appends the audit row of `entry` (inside the caller's transaction).
pub fn record(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    entry: AuditEntry<'_>,
) -> Result<(), DbError> {
    insert(
        conn,
        &NewAuditEvent {
            occurred_at: repo::now(),
            customer_id: entry.customer_id,
            actor_user_id: entry.actor_user_id,
            action: entry.action.to_string(),
            target_type: entry.target_type.map(str::to_string),
            target_id: entry.target_id,
            changed_fields: (!entry.changed_fields.is_empty())
                .then(|| entry.changed_fields.join(",")),
            client_addr: ctx.client_addr.clone(),
            request_id: ctx.request_id.clone(),
        },
    )
}

/// An event about a user's session raised by the system (an idle session found expired
/// by the store, or the absolute limit reached), with the reason as target id.
pub fn record_system(
    conn: &mut DbConnection,
    user_id: i64,
    action: &str,
    reason: Option<&str>,
) -> Result<(), DbError> {
    record_system_with(
        conn,
        &AuditContext::default(),
        user_id,
        action,
        reason.unwrap_or(""),
    )
}

pub fn record_system_with(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    user_id: i64,
    action: &str,
    reason: &str,
) -> Result<(), DbError> {
    let customer_id = users::find_for_session(conn, user_id)
        .ok()
        .map(|u| u.customer_id);
    record(
        conn,
        ctx,
        AuditEntry {
            customer_id,
            actor_user_id: Some(user_id),
            action,
            target_type: Some("session"),
            target_id: (!reason.is_empty()).then(|| reason.to_string()),
            changed_fields: &[],
        },
    )
}

pub fn insert(conn: &mut DbConnection, event: &NewAuditEvent) -> Result<(), DbError> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)?;
    Ok(())
}

/// Newest first, at most `limit` rows.
pub fn list_recent(
    conn: &mut DbConnection,
    scope: &TenantScope,
    limit: i64,
) -> Result<Vec<AuditEvent>, DbError> {
    Ok(audit_events::table
        .filter(audit_events::customer_id.eq(scope.id()))
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?)
}

// ---- Audit trail page, export and retention (observability work) ----------------------

/// Filters of the audit trail page and its CSV export. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_user_id: Option<i64>,
    /// Inclusive lower bound on `occurred_at`.
    pub from: Option<chrono::NaiveDateTime>,
    /// Exclusive upper bound on `occurred_at` (pass the day after a "to" date).
    pub until: Option<chrono::NaiveDateTime>,
}

/// The tenant's events matching `filter`, as a boxed query (shared by page and export).
fn filtered<'a>(
    scope: &TenantScope,
    filter: &'a AuditFilter,
) -> audit_events::BoxedQuery<'a, crate::db::connection::MultiBackend> {
    let mut query = audit_events::table
        .filter(audit_events::customer_id.eq(scope.id()))
        .into_boxed();
    if let Some(action) = filter.action.as_deref() {
        query = query.filter(audit_events::action.eq(action));
    }
    if let Some(actor) = filter.actor_user_id {
        query = query.filter(audit_events::actor_user_id.eq(actor));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_events::occurred_at.lt(until));
    }
    query
}

/// One page (1-based) of the tenant's events matching `filter`, newest first.
pub fn list_page(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: &AuditFilter,
    page: i64,
    per_page: i64,
) -> Result<crate::db::repo::Page<AuditEvent>, DbError> {
    let per_page = per_page.clamp(1, 500);
    let page = page.max(1);
    let total: i64 = filtered(scope, filter).count().get_result(conn)?;
    let items = filtered(scope, filter)
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(per_page)
        .offset(crate::db::repo::offset(page, per_page))
        .select(AuditEvent::as_select())
        .load(conn)?;
    Ok(crate::db::repo::Page {
        items,
        page,
        per_page,
        total,
    })
}

/// A chunk of the export, newest first: events with `id < before_id` (all when `None`).
/// Call again with the last id of the chunk until it comes back short; memory stays
/// bounded however long the trail is.
pub fn list_chunk_before(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEvent>, DbError> {
    let mut query = filtered(scope, filter);
    if let Some(before) = before_id {
        query = query.filter(audit_events::id.lt(before));
    }
    Ok(query
        .order(audit_events::id.desc())
        .limit(limit.clamp(1, 10_000))
        .select(AuditEvent::as_select())
        .load(conn)?)
}

/// The distinct actions recorded for the tenant (the page's filter choices).
pub fn list_actions(conn: &mut DbConnection, scope: &TenantScope) -> Result<Vec<String>, DbError> {
    Ok(audit_events::table
        .filter(audit_events::customer_id.eq(scope.id()))
        .select(audit_events::action)
        .distinct()
        .order(audit_events::action.asc())
        .load(conn)?)
}

/// How many events (of every tenant and the system) are older than `cutoff`.
pub fn count_older_than(
    conn: &mut DbConnection,
    cutoff: chrono::NaiveDateTime,
) -> Result<i64, DbError> {
    Ok(audit_events::table
        .filter(audit_events::occurred_at.lt(cutoff))
        .count()
        .get_result(conn)?)
}

/// Retention: deletes events older than `cutoff`, returning how many went. The only
/// delete of audit rows in the code base. On PostgreSQL it goes through the
/// `purge_audit_events` function, the one path the append-only trigger lets through.
pub fn purge_older_than(
    conn: &mut DbConnection,
    cutoff: chrono::NaiveDateTime,
) -> Result<i64, DbError> {
    match conn {
        DbConnection::Postgresql(pg) => {
            #[derive(QueryableByName)]
            struct Purged {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                purged: i64,
            }
            let row: Purged = diesel::sql_query("SELECT purge_audit_events($1) AS purged")
                .bind::<diesel::sql_types::Timestamp, _>(cutoff)
                .get_result(pg)?;
            Ok(row.purged)
        }
        DbConnection::Sqlite(lite) => {
            let n =
                diesel::delete(audit_events::table.filter(audit_events::occurred_at.lt(cutoff)))
                    .execute(lite)?;
            Ok(n as i64)
        }
    }
}

impl AuditFilter {
    /// Builds a filter from the page's query values: `from`/`to` as `YYYY-MM-DD` (UTC days,
    /// both inclusive), empty strings meaning "any". The error message names the parameter
    /// and is safe to show (400).
    pub fn from_query(
        action: Option<&str>,
        actor_user_id: Option<i64>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<AuditFilter, String> {
        fn day(name: &str, value: Option<&str>) -> Result<Option<chrono::NaiveDate>, String> {
            match value.map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| format!("'{name}' must be a date like 2026-11-24.")),
            }
        }
        let from = day("from", from)?;
        let to = day("to", to)?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err("'from' must not be after 'to'.".to_string());
        }
        Ok(AuditFilter {
            action: action
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string),
            actor_user_id,
            from: from.and_then(|d| d.and_hms_opt(0, 0, 0)),
            until: to
                .and_then(|d| d.succ_opt())
                .and_then(|d| d.and_hms_opt(0, 0, 0)),
        })
    }
}

#[cfg(test)]
mod filter_tests {
    use super::AuditFilter;

    #[test]
    fn query_dates_become_an_inclusive_day_range() {
        let f = AuditFilter::from_query(
            Some(" login.success "),
            Some(3),
            Some("2026-11-01"),
            Some("2026-11-24"),
        )
        .expect("valid");
        assert_eq!(f.action.as_deref(), Some("login.success"));
        assert_eq!(
            f.from.map(|d| d.to_string()).as_deref(),
            Some("2026-11-01 00:00:00")
        );
        assert_eq!(
            f.until.map(|d| d.to_string()).as_deref(),
            Some("2026-11-25 00:00:00")
        );
        assert_eq!(
            AuditFilter::from_query(Some(""), None, Some(""), None),
            Ok(AuditFilter::default())
        );
        let bad =
            AuditFilter::from_query(None, None, Some("24/11/2026"), None).expect_err("bad date");
        assert!(bad.contains("'from'"), "{bad}");
        assert!(
            AuditFilter::from_query(None, None, Some("2026-11-25"), Some("2026-11-24")).is_err()
        );
    }
}
