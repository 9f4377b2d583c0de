//! Writing audit events from requests: who (actor, tenant), from where (anonymised
//! address), which request, and the NAMES of changed fields — never values.

use actix_web::{HttpMessage, HttpRequest};

use crate::db::models::NewAuditEvent;
use crate::db::repo::{self, audit, users};
use crate::db::{DbConnection, DbError};
use crate::web::http::client_ip;
use crate::web::http::middleware::RequestId;
use crate::web::state::AppState;

/// Request facts an audit event needs, captured before moving to a blocking thread.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

impl AuditContext {
    pub fn from_request(req: &HttpRequest, state: &AppState) -> Self {
        AuditContext {
            request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
            client_addr: client_ip::from_request(req, &state.settings.trusted_proxies)
                .map(client_ip::anonymize),
        }
    }
}

/// What happened, to what, and which fields changed.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    pub customer_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub changed_fields: &'a [&'a str],
}

pub fn record(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    entry: AuditEntry<'_>,
) -> Result<(), DbError> {
    audit::insert(
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
