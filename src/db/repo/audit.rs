//! Append-only audit trail. There is deliberately no update or delete function here;
//! retention purging is a separate, explicit operation.

use diesel::prelude::*;

use crate::db::models::{AuditEvent, NewAuditEvent};
use crate::db::schema::audit_events;
use crate::db::{DbConnection, DbError};
use crate::domain::tenant::TenantScope;

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
